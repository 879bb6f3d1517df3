/*
 * proc_events.h - the kernel's process-events connector, through libnl3.
 *
 * A slave must know when a process on its node forks or exits, so that the
 * master's process table (and the ghosts) follow.  Polling /proc would miss
 * short-lived children and cost CPU on idle nodes; the connector
 * (NETLINK_CONNECTOR, CN_IDX_PROC) tells us of every fork and exit as it
 * happens.  It reports pids as the initial pid namespace sees them, and
 * only to a socket of the initial network namespace (measured: in another
 * one the subscription fails with ECONNREFUSED).  A slave of a local
 * cluster runs in its node's network namespace, so bpcluster makes the
 * socket for it and passes it down (proc_events_open_fd()).
 *
 * Only threads leaders are reported: thread creation and thread exit are
 * of no interest to the process table.
 */
#ifndef BPROC_PROC_EVENTS_H
#define BPROC_PROC_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum proc_event_kind {
	PROC_EVENT_KIND_FORK,
	PROC_EVENT_KIND_EXIT,
};

struct proc_event_info {
	enum proc_event_kind kind;
	pid_t pid;          /* the child (fork) or the process that exited */
	pid_t parent;       /* fork: the parent process */
	int exit_status;    /* exit: a wait() status (exit code << 8, or signal) */
};

struct proc_events;
typedef void (*proc_event_fn)(const struct proc_event_info *ev, void *data);

/*
 * Whether the connector can tell us anything here.  The kernel ignores a
 * subscription sent from outside the initial pid and user namespaces
 * (events are told in their terms), without an error: inside a container
 * (a CI runner's) nothing would ever come.  Set BPROC_PROC_EVENTS=poll to
 * act as if it could not.
 */
bool proc_events_usable(void);

/* Whether a kernel of this release (uname -r) takes the list of events a
 * listener wants (Linux 6.6): forks and exits only, then. */
bool proc_events_filter_supported(const char *release);

/*
 * Without the connector: a pidfd taken while a process lives says how it
 * ended, even once its parent reaped it (PIDFD_GET_INFO, Linux 6.15), and
 * before that /proc does (a zombie keeps its status).  proc_exit_status()
 * gives 1 and the wait() status once it ended, 0 while it runs, -errno if
 * the kernel cannot tell.
 */
int proc_pidfd_open(pid_t pid);
int proc_exit_status(int pidfd, int *status);

/* Subscribe to the connector.  -errno; -EPERM outside the initial
 * namespaces or without CAP_NET_ADMIN. */
int proc_events_open(struct proc_events **out);
/* The same on a NETLINK_CONNECTOR socket made by someone else (in the
 * initial network namespace: the socket keeps the namespace it was made
 * in).  Takes fd over, also on failure. */
int proc_events_open_fd(int fd, struct proc_events **out);
/* Where a slave finds such a socket: the variable names its fd. */
#define PROC_EVENTS_FD_ENV "BPROC_PROC_EVENTS_FD"
void proc_events_close(struct proc_events *pe);
/* The fd to wait on for input (stays valid until close). */
int proc_events_fd(const struct proc_events *pe);
/* Read what is pending without blocking and call fn for each event.
 * 0, or -errno; -ENOBUFS means events were lost (the socket overflowed)
 * and the caller should rescan what it tracks. */
int proc_events_dispatch(struct proc_events *pe, proc_event_fn fn, void *data);

#endif
