/*
 * memory_room.h - memory, for a move: how much a process tree holds, how
 * much a node can give it, and a restore held to a memory limit.
 *
 * Before anything is frozen, the source counts what the tree holds that
 * CRIU copies (its resident anonymous and shared memory; file pages come
 * from the files on the target) and the target says how much it has room
 * for: the kernel's MemAvailable, or less if its memory cgroup (or one
 * above it) has a limit.  A move that does not fit is refused then
 * (daemons/move_source.c), the process running on untouched.
 *
 * A memory cage is a memory cgroup of its own with a limit, into which a
 * restore's CRIU goes (and so what it restores): the fault point
 * slave-memory-full (common/fault.h) restores under a limit too small for
 * the process, to show that a restore the kernel's OOM killer ends fails
 * cleanly.  The cage is removed once the restore is over, its processes
 * killed (restore failed) or moved back to the slave's memory cgroup.
 * cgroup v1 (memory.limit_in_bytes) or v2 (memory.max), whichever has the
 * memory controller.
 */
#ifndef BPROC_MEMORY_ROOM_H
#define BPROC_MEMORY_ROOM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MEMORY_UNLIMITED UINT64_MAX

/* The text of /proc/meminfo: MemAvailable in bytes.  0 or -ENOENT. */
int memory_parse_meminfo(const char *text, uint64_t *available);
/* A cgroup memory limit file (v2 memory.max: "max" or bytes; v1
 * memory.limit_in_bytes: bytes, "no limit" being near 2^63): bytes, or
 * MEMORY_UNLIMITED.  Also reads a usage file.  0 or -EINVAL. */
int memory_parse_limit(const char *text, uint64_t *bytes);
/* The text of /proc/PID/status: RssAnon + RssShmem in bytes.  0 or
 * -ENOENT if neither is there (a kernel thread, a zombie). */
int memory_parse_process(const char *status, uint64_t *bytes);
/* The text of /proc/PID/cgroup: the path of its memory cgroup (v1 line
 * "N:...memory...:/path", or v2 "0::/path").  0 or -ENOENT. */
int memory_parse_cgroup(const char *text, bool v1, char *path, size_t len);
/* "oom_kill N" in v1 memory.oom_control or v2 memory.events: N, or 0. */
uint64_t memory_parse_oom_kills(const char *text);

/* What the tree pids (as this daemon sees them) holds that CRIU copies,
 * in bytes; a process that ended counts 0. */
uint64_t memory_of_tree(const pid_t *pids, int n);

/*
 * How much memory this machine can give a process now: MemAvailable, or
 * what is left under the limit of our memory cgroup or one above it, if
 * that is less (*by_cgroup then true).  0 or -errno.
 */
int memory_room(uint64_t *bytes, bool *by_cgroup);

/* A restore under a memory limit. */
struct memory_cage {
	char path[PATH_MAX];  /* "" until memory_cage_create() */
	bool v1;
	uint64_t limit;
};

/* Make the cgroup bproc/NAME of the memory hierarchy with this limit. */
int memory_cage_create(struct memory_cage *c, const char *name, uint64_t limit);
/* Its cgroup.procs, for the restore's first process to write "0" into. */
void memory_cage_procs(const struct memory_cage *c, char *buf, size_t len);
/* How many of its processes the OOM killer killed. */
uint64_t memory_cage_oom_kills(const struct memory_cage *c);
/* Remove the empty cages whose names begin with prefix (a killed
 * slave's); how many. */
int memory_cage_remove_leftovers(const char *prefix);
/* Remove it: what is still in it is killed (kill_all) or moved back to
 * our own memory cgroup.  Safe on a cage never created. */
void memory_cage_release(struct memory_cage *c, bool kill_all);

#endif
