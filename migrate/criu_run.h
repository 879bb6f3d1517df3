/*
 * criu_run.h - running CRIU to dump and to restore a process tree.
 *
 * The daemons call these; everything about CRIU's command line is here,
 * and why each option is there is said next to it (criu_run.c).  CRIU
 * writes its log into the image directory (dump.log, restore.log), and on
 * failure the last error line of it is handed back for the user.
 */
#ifndef BPROC_CRIU_RUN_H
#define BPROC_CRIU_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Dump the tree rooted at pid into dir.  The tree must be frozen in the
 * cgroup v2 freezer at freezer_path (migrate/freezer.h); it stays frozen
 * and untouched afterwards, so the caller decides whether it runs on (the
 * move failed) or becomes a ghost.  0 or -errno; err gets CRIU's reason.
 */
int criu_dump_tree(const char *criu, pid_t pid, const char *freezer_path, const char *dir,
		   char *err, size_t errlen);
/* The same for a tree in the pid namespace pidns_fd (a node's), pid being
 * its number there, and in the mount namespace mntns_fd (the tree's own,
 * which must have that pid namespace's /proc, as a restore leaves it):
 * CRIU runs inside both. */
int criu_dump_tree_in(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
		      const char *freezer_path, const char *dir, char *err, size_t errlen);
/* CRIU sees an fd we hand it as fd 100, 101, ... (CRIU_FD0_TEXT, ...). */
#define CRIU_FD0_TEXT "100"
#define CRIU_FD1_TEXT "101"

/* The same, with ps_fd (when not -1) a connected socket to the target's
 * page server (migrate/page_server.h): the memory pages go there as CRIU
 * reads them, and dir only gets the small images. */
int criu_dump_tree_stream(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
			  const char *freezer_path, const char *dir, int ps_fd, char *err,
			  size_t errlen);

/*
 * The same without waiting: a daemon's loop must go on (heartbeats) while
 * a big process is dumped.  *child is the CRIU to reap; its wait() status
 * goes to criu_dump_finished(), which says 0, or -ECANCELED with why in
 * err (from CRIU's log in dir).  in_node: it was started in a node's
 * namespaces (its statuses 124-126 say it could not enter them).
 */
int criu_dump_stream_start(const char *criu, pid_t pid, const char *freezer_path,
			   const char *dir, int ps_fd, pid_t *child);
int criu_dump_finished(int status, bool in_node, const char *dir, char *err, size_t errlen);

/*
 * Post-copy dump: the anonymous memory stays in CRIU, which serves it on
 * ps_fd (to the target's `criu lazy-pages`) after writing the other images.
 * Returns once the images in dir are complete, with *child the CRIU that
 * still runs: it ends when every page has been pulled (exit 0) or the
 * stream broke (non-zero), and until then holds the tree (seized, frozen).
 * The caller reaps it.  It raises fs.pipe-max-size to 4 MiB if lower
 * (see criu_run.c).
 */
int criu_dump_lazy_start(const char *criu, pid_t pid, const char *freezer_path, const char *dir,
			 int ps_fd, pid_t *child, char *err, size_t errlen);
/* The same inside a node's pid namespace and the process's mount namespace
 * (as criu_dump_tree_stream()); *child is then the CRIU's parent, which
 * ends with it. */
int criu_dump_lazy_start_in(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
			    const char *freezer_path, const char *dir, int ps_fd, pid_t *child,
			    char *err, size_t errlen);

/*
 * Stop a lazy dump started above: its page stream ps_fd (if >= 0) is shut,
 * which ends the serving; wait for *child up to 10 s, then kill it; reap
 * it; *child becomes 0.  Its tree stays as CRIU leaves it (frozen).
 */
void criu_dump_lazy_stop(pid_t *child, int ps_fd);

/*
 * Start CRIU with argv (argv[0] the binary), its stdin/out/err on
 * /dev/null, with fds[i] as its fd 100 + i.  For the CRIUs that run beside
 * us (page server, lazy pages); the caller reaps it.
 */
int criu_spawn(char *const argv[], const int *fds, int nfds, pid_t *child);

/* Wait until a CRIU started with --status-fd says it is ready (a byte on
 * ready_fd).  0, -ETIMEDOUT, or -ECANCELED if it ended without a word. */
int criu_wait_ready(int ready_fd, int timeout_ms);

/* The first error line of a CRIU log in dir, for the user. */
void criu_log_reason(const char *dir, const char *log, char *err, size_t errlen);


/*
 * Restore the tree in dir inside the pid namespace pidns_fd, with its
 * original pids, stopped (it runs when the caller sends SIGCONT, once
 * the move is committed).  CRIU runs in a mount namespace of its own whose
 * /proc belongs to that pid namespace, which the restored tree keeps.  On
 * success *pid is the root's pid in that namespace: the original pid.
 */
/* A resource of the dumped tree that the restore takes from us instead:
 * CRIU's --inherit-fd, e.g. a pipe of ours for "pipe:[1234]". */
struct criu_inherit {
	int fd;           /* ours */
	const char *key;  /* CRIU's name of the resource in the image */
};
#define CRIU_MAX_INHERIT 8

/*
 * Two keys that are not CRIU resources:
 *   CRIU_INHERIT_TTY: fd is the slave side of a pseudo-terminal that
 *     replaces the terminal the process had (its fds on it, whatever their
 *     number).  CRIU's --shell-job restores a terminal whose other side is
 *     not dumped from CRIU's own stdin, made its controlling terminal in a
 *     session of its own inside the node's pid namespace, so the process
 *     gets that pseudo-terminal as its controlling terminal too.
 *   CRIU_INHERIT_REPORT: fd is a SOCK_SEQPACKET socket.  CRIU runs in a
 *     session of its own whose leader (the "keeper", see
 *     restore_with_keeper() in criu_run.c for why) stays, as the process's
 *     parent, and sends on it a struct criu_child_report for each end,
 *     stop and continue of the process or of another of its children; it
 *     exits when they are all gone.  With or without a terminal.
 */
struct criu_child_report {
	int pid;     /* in the node's pid namespace */
	int status;  /* a wait status; 0xffff: continued */
};
#define CRIU_INHERIT_TTY "bproc:tty"
#define CRIU_INHERIT_REPORT "bproc:report"
/*
 * And CRIU_INHERIT_CGROUP: fd is the cgroup.procs file of a cgroup, open
 * for writing (a memory cage, migrate/memory_room.h): CRIU, and so the
 * tree it restores, start in that cgroup.  Not passed on to CRIU.
 */
#define CRIU_INHERIT_CGROUP "bproc:cgroup"

/* lazy: the memory is not in dir; `criu lazy-pages` (migrate/page_server.h)
 * runs beside and fills it in on demand (userfaultfd). */
int criu_restore_tree(const char *criu, const char *dir, int pidns_fd,
		      const struct criu_inherit *inherit, int ninherit, bool lazy, pid_t *pid,
		      char *err, size_t errlen);

#endif
