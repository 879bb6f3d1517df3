/*
 * move_latency.h - two kernel settings that take a fixed delay off every
 * move (and so off every launch), set by the daemons as they start.
 *
 * Both delays are a full RCU grace period (6-16 ms on these machines),
 * taken where the kernel switches a rarely used path on and off again:
 *
 * - Putting a process into a cgroup (our freezer's cgroup.procs, and out
 *   again when it becomes its ghost) takes the kernel's global
 *   threadgroup lock for writing, which waits for a grace period unless
 *   another move did so just before.  The cgroup2 mount option
 *   "favordynmods" makes moves cheap (0.2 ms) at the cost of a little on
 *   every fork and exit; since Linux 6.17 it cannot be turned off again
 *   until reboot (the kernel says so if asked).
 * - CRIU's dump stops the process at the end of its parasite with a
 *   hardware breakpoint (ptrace), a per-task perf event.  The first such
 *   event after none for a second turns perf's scheduler hooks on and
 *   waits for a grace period.  One idle per-task event held open by the
 *   daemon keeps them on.
 *
 * Both are best effort: without them moves work, only slower.
 */
#ifndef BPROC_MOVE_LATENCY_H
#define BPROC_MOVE_LATENCY_H

#include <stdbool.h>
#include <stddef.h>

#define MOVE_LATENCY_MAX_FLAGS 16

/*
 * The flags for reconfiguring a cgroup2 mount whose superblock options
 * (mountinfo's last field, e.g. "rw,nsdelegate,memory_recursiveprot") are
 * super: its own flags (a reconfigure resets the ones not given) and
 * favordynmods.  They point into buf.  Returns how many, 0 if favordynmods
 * is on already, or -errno.
 */
int move_latency_cgroup_flags(const char *super, char *buf, size_t len, const char **flags,
			      int max);

/* Turn favordynmods on for the cgroup2 mount at path.  1 if it was turned
 * on now, 0 if it was on, or -errno. */
int move_latency_favor_moves(const char *path);

/* An idle per-task perf event on the caller, to keep open for as long as
 * the process runs: the fd, or -errno. */
int move_latency_hold_perf(void);

/* As a daemon starts (logged; failures only slow moves down): the perf
 * event, and favordynmods unless the configuration says no to it
 * (favor_moves false: bproc.conf's "favordynmods no"). */
void move_latency_prepare(bool favor_moves);

#endif
