/*
 * freezer.h - stop a process tree without anyone noticing: the cgroup v2
 * freezer.
 *
 * A process about to migrate must stand still while CRIU dumps it, and its
 * original must not run again once the copy runs elsewhere.  SIGSTOP (what
 * `criu dump --leave-stopped` uses) would be seen by the parent as a stop
 * (SIGCHLD, waitpid WUNTRACED) that never happened to the real process.  A
 * cgroup v2 freezer stops tasks silently; CRIU dumps a tree frozen this
 * way (`--freeze-cgroup`) and, given `--leave-running`, leaves it frozen
 * as it found it (measured with CRIU 4.2.1).  The v1 freezer does not do
 * this: CRIU hangs on a v1-frozen task.
 *
 * Each move gets its own cgroup under BPROC/…; the tasks go back to the
 * cgroups they came from when it is released.
 */
#ifndef BPROC_FREEZER_H
#define BPROC_FREEZER_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define FREEZER_MAX_PIDS 256

struct freezer {
	char path[PATH_MAX];  /* our cgroup, "" until freezer_create() */
	int npids;
	pid_t pids[FREEZER_MAX_PIDS];
	char *origin[FREEZER_MAX_PIDS]; /* each pid's cgroup before, absolute path */
};

/* One cgroup (v1 or v2) mount of a mountinfo file, its fields as there. */
struct cgroup_mount {
	char fstype[32];       /* "cgroup" (v1) or "cgroup2" */
	char root[1024];       /* the part of the hierarchy mounted, "/" for all */
	char mountpoint[1024];
	char super[1024];      /* superblock options: v1's controllers, v2's flags */
};

/* The next cgroup mount in an open /proc/.../mountinfo: 1, 0 at its end, or
 * -errno.  Every reader of cgroup mounts goes through this one parser. */
int cgroup_mount_next(FILE *mountinfo, struct cgroup_mount *m);
/* Where the cgroup v2 hierarchy is mounted; -ENOENT if nowhere. */
int freezer_cgroup2_root(char *buf, size_t len);

/* Make a fresh cgroup named name under the bproc subtree. */
int freezer_create(struct freezer *f, const char *name);
/* Move a process (all its threads) in. */
int freezer_add(struct freezer *f, pid_t pid);
/*
 * Move a whole process tree in and freeze it: the root first, then the
 * cgroup is frozen (the root can no longer fork), then its descendants,
 * again and again until a pass finds none that is not in: a process that
 * forks while we add it either forks before the move (its child is found
 * by the next pass) or after (the child is born in the frozen cgroup).
 * Fills f->pids with the tree, parents before their children; a child
 * that ended and was reaped before its parent froze is left out.
 */
int freezer_add_tree(struct freezer *f, pid_t root);
/* The children of pid (of all its threads); how many, at most max. */
int freezer_children(pid_t pid, pid_t *out, int max);
/* Freeze or thaw the cgroup and wait until the kernel says it is done. */
int freezer_freeze(struct freezer *f);
int freezer_thaw(struct freezer *f);
/* Move one process back to where it came from (thawed). */
int freezer_remove(struct freezer *f, pid_t pid);
/* Thaw, move every process back, remove the cgroup.  Safe on a freezer
 * that was never created. */
void freezer_release(struct freezer *f);

/*
 * What a daemon that died mid-move left behind.  The cgroup says where
 * each process came from (written by freezer_add) and whether the move
 * was committed (its copy was let run elsewhere: freezer_mark_committed,
 * before the commit is sent).
 */
int freezer_mark_committed(struct freezer *f);
/* Other notes for a daemon after us, as extended attributes of the cgroup
 * (trusted.bproc.NAME): 0 or -errno; the length read, or -errno. */
int freezer_note(struct freezer *f, const char *name, const char *value);
int freezer_read_note(const char *path, const char *name, char *buf, size_t len);
/* Every process freezer_add() put into the cgroup at path, those moved out
 * since included (their notes stay): how many pids (at most max), or
 * -errno. */
int freezer_noted_pids(const char *path, pid_t *pids, int max);
/* The cgroups of the bproc subtree whose names begin with prefix: at most
 * max paths into paths; how many, or -errno. */
int freezer_leftovers(const char *prefix, char (*paths)[PATH_MAX], int max);
/* Take over such a cgroup: f as if freezer_add() had put its processes
 * in, so that freezer_release() sends them back; *committed as marked. */
int freezer_adopt(struct freezer *f, const char *path, bool *committed);

#endif
