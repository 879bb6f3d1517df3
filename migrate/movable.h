/*
 * movable.h - can this process move?  Asked before anything is frozen.
 *
 * CRIU refuses some resources outright (an established TCP connection
 * without --tcp-established, a unix socket to a process it does not dump,
 * io_uring, perf or bpf fds), restores others wrongly on another machine
 * (a listening socket, a device), and can only restore a file by path when
 * the target has that path.  movable_scan() looks at /proc/PID (fds,
 * mappings, cwd, program, namespaces, tracer, file locks) and either
 * refuses with a message naming the resource, or lists the files the
 * target must have, which the caller asks the target about
 * (movable_compare() judges the answer).
 */
#ifndef BPROC_MOVABLE_H
#define BPROC_MOVABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A file the process uses by path: the target must have it too. */
struct movable_file {
	char *path;
	mode_t type;      /* S_IFREG, S_IFDIR, ... */
	bool check_size;  /* false for files it may be writing */
	uint64_t size;
	char what[24];    /* for the message: "fd 3", "cwd", "a mapping" */
};

struct movable {
	struct movable_file *files;
	size_t nfiles;
	/* The terminal the process uses (a pseudo-terminal's slave side),
	 * 0 if none, and which of fds 0-2 are on it (bit n for fd n). */
	dev_t tty_rdev;
	unsigned int tty_stdio;
	/* What the tree holds in memory that CRIU copies, bytes
	 * (memory_of_tree(), migrate/memory_room.h). */
	uint64_t memory;
};

/* What the target sees at a path: mode 0 if nothing is there. */
struct movable_seen {
	mode_t mode;
	uint64_t size;
};

/*
 * 0 if, as far as can be told without freezing it, pid can move; then
 * *mv lists what the target must have (movable_free() it).  -EOPNOTSUPP
 * if it cannot, with why in reason ("fd 3: a TCP connection 127.0.0.1:
 * 40000 -> 127.0.0.1:8080"); another -errno if pid cannot be examined.
 */
int movable_scan(pid_t pid, struct movable *mv, char *reason, size_t len);
/* The same for a tree that moves together, pids[0] its root: what any of
 * them holds counts (the reason names a descendant: "its descendant 42:
 * ..."), and a unix socket connected within the tree moves. */
int movable_scan_tree(const pid_t *pids, int n, struct movable *mv, char *reason, size_t len);
/* Where the processes live, for movable_scan_tree_in(): on a node, seen
 * from its slave (the host's pids).  Their namespaces must be those of
 * ns_ref (the node's init), but the mount namespace, which must be
 * mnt_ref's (the one their restore made); messages name them by their pids
 * in the node, names[i] for pids[i]. */
struct movable_where {
	pid_t ns_ref;
	pid_t mnt_ref;
	const pid_t *names;
};
/* movable_scan_tree() of processes that live there (NULL: here). */
int movable_scan_tree_in(const pid_t *pids, int n, const struct movable_where *where,
			 struct movable *mv, char *reason, size_t len);
/* movable_scan_tree() of a tree whose root sits at its exec under the
 * trace of tracer (bproc_execmove's helper, which lets go before the
 * dump): that trace alone is not refused. */
int movable_scan_exec_tree(const pid_t *pids, int n, pid_t tracer, struct movable *mv,
			   char *reason, size_t len);
/* The files "from" needs on the target added to those "to" needs (a
 * launch's copy may be restored as the exec'd template, or as itself).
 * 0 or -ENOMEM ("to" as it was). */
int movable_add_files(struct movable *to, const struct movable *from);
void movable_free(struct movable *mv);

/*
 * seen[i] is what node sees at mv->files[i].path.  0 if every file is
 * there with the same type (and size, where it is checked); else
 * -ENOENT with a message naming the first file that is not.
 */
int movable_compare(const struct movable *mv, const struct movable_seen *seen, size_t nseen,
		    int node, char *reason, size_t len);

/*
 * Whether the tree fits in the room the target said it has (bytes;
 * by_cgroup: a memory cgroup's limit bounds it): 0, or -ENOMEM with
 * "node 1: not enough memory: process 42 needs 30 MiB, the node has
 * 12 MiB available" in reason.
 */
int movable_fits_memory(const struct movable *mv, uint64_t room, bool by_cgroup, int node,
			pid_t pid, char *reason, size_t len);

/* Fill seen[] for paths, as this machine sees them. */
void movable_look(const char *const *paths, size_t n, struct movable_seen *seen);

#endif
