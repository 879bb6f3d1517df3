/*
 * slave_procs.c - the processes born on this node, for the master's
 * process table: children that moved processes fork here, their children,
 * and so on.  Also the ends of the processes of a moved tree other than
 * its root (their real parent reaps them, so the node's init never sees
 * them).
 *
 * The kernel's process-events connector (proc_events.c) tells of every
 * fork and exit as it happens, with host pids.  It only works on a socket
 * of the initial network namespace, and a slave of a local cluster runs
 * in its node's: bpcluster makes the socket and passes it down (a socket
 * keeps the namespace it was made in).  Joining the initial namespace
 * ourselves (setns to /proc/1/ns/net) is refused here: pid 1 has
 * capabilities that root lacks, so its namespaces cannot be opened.  A fork counts when
 * its parent is a process moved here or one we already count, so only the
 * node's pid namespace is followed, and CRIU's own helpers are not.  Pids
 * go to the master as the node sees them (the last NSpid field).
 *
 * If the socket overflows, events are lost: we rescan what we follow
 * (gone ones, and children not yet known) from /proc.
 *
 * Inside a container (a CI runner's) the connector tells nothing
 * (proc_events_usable()).  Then we poll: every POLL_MS a rescan finds new
 * children, and a pidfd taken on each process we follow says how it ended
 * (proc_exit_status()).  A child that lives less than POLL_MS is missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "freezer.h"
#include "log.h"
#include "proc_events.h"
#include "slave.h"
#include "util.h"

struct node_proc {
	pid_t host;      /* as the slave sees it */
	pid_t pid;       /* in the node */
	pid_t ppid;      /* in the node */
	int pidfd;       /* when polling: tells how it ended; else -1 */
	struct node_proc *next;
};

#define POLL_MS 100

static struct proc_events *events;
static int events_fd_number = -1;  /* the passed-down socket's number, or -1 */
static struct node_proc *procs;
static int tick_fd = -1;           /* polling (no connector): a timerfd */

static struct node_proc *find_proc(pid_t host)
{
	for (struct node_proc *p = procs; p; p = p->next)
		if (p->host == host)
			return p;
	return NULL;
}

static void send_forked(struct slave *s, const struct node_proc *p)
{
	Bproc__ProcessForked f = BPROC__PROCESS_FORKED__INIT;
	Msg msg = BPROC__MSG__INIT;

	f.pid = p->pid;
	f.ppid = p->ppid;
	msg.body_case = BPROC__MSG__BODY_PROCESS_FORKED;
	msg.process_forked = &f;
	slave_send_to_master(s, &msg);
}

static void send_gone(struct slave *s, pid_t pid, bool known, int status)
{
	Bproc__ProcessGone g = BPROC__PROCESS_GONE__INIT;
	Msg msg = BPROC__MSG__INIT;

	g.pid = pid;
	g.has_status = known;
	g.status = status;
	msg.body_case = BPROC__MSG__BODY_PROCESS_GONE;
	msg.process_gone = &g;
	slave_send_to_master(s, &msg);
}

/* Follow host (a child of parent, both host pids) if parent counts. */
static void add_child(struct slave *s, pid_t host, pid_t parent)
{
	struct node_proc *p, *pp = find_proc(parent);
	pid_t pid, ppid;

	if (find_proc(host) || slave_moves_is_ours(s, host) ||
	    (!pp && !slave_moves_is_ours(s, parent)))
		return;
	pid = slave_node_pid(host);
	ppid = pp ? pp->pid : slave_node_pid(parent);
	if (pid <= 0)
		return; /* already gone: its exit is of no interest */
	p = calloc(1, sizeof(*p));
	if (!p) {
		pr_warn("out of memory: process %d of the node not followed", pid);
		return;
	}
	p->host = host;
	p->pid = pid;
	p->ppid = ppid;
	p->pidfd = tick_fd >= 0 ? proc_pidfd_open(host) : -1;
	if (p->pidfd < 0)
		p->pidfd = -1;
	p->next = procs;
	procs = p;
	send_forked(s, p);
}

static void remove_proc(struct slave *s, struct node_proc *p, bool known, int status)
{
	for (struct node_proc **q = &procs; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	send_gone(s, p->pid, known, status);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

void slave_procs_drop(pid_t host)
{
	struct node_proc *p = find_proc(host);

	if (!p)
		return;
	for (struct node_proc **q = &procs; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static void on_event(const struct proc_event_info *ev, void *data)
{
	struct slave *s = data;
	struct node_proc *p;

	switch (ev->kind) {
	case PROC_EVENT_KIND_FORK:
		add_child(s, ev->pid, ev->parent);
		break;
	case PROC_EVENT_KIND_EXIT:
		p = find_proc(ev->pid);
		if (p)
			remove_proc(s, p, true, ev->exit_status);
		else
			slave_moves_member_exited(s, ev->pid, ev->exit_status);
		break;
	}
}

/* Alive, and still the same process (pids are reused)? */
static bool still_there(const struct node_proc *p)
{
	return slave_node_pid(p->host) == p->pid;
}

/* Events were lost: make our list true again from /proc. */
static void rescan(struct slave *s)
{
	bool added;

	for (struct node_proc *p = procs, *next; p; p = next) {
		next = p->next;
		if (!still_there(p))
			remove_proc(s, p, false, 0);
	}
	do {
		added = false;
		for (struct node_proc *p = procs; p; p = p->next) {
			pid_t kids[FREEZER_MAX_PIDS];
			int n = freezer_children(p->host, kids, FREEZER_MAX_PIDS);

			for (int k = 0; k < n; k++)
				if (!find_proc(kids[k])) {
					add_child(s, kids[k], p->host);
					added = true;
				}
		}
	} while (added);
	slave_moves_rescan_children(s, add_child);
}

static void on_readable(struct loop *loop, int fd, uint32_t events_mask, void *data)
{
	struct slave *s = data;
	int r;

	(void)loop;
	(void)fd;
	(void)events_mask;
	r = proc_events_dispatch(events, on_event, s);
	if (r == -ENOBUFS) {
		pr_warn("process events were lost; rescanning the node's processes");
		rescan(s);
	} else if (r < 0) {
		pr_warn("process events: %s", strerror(-r));
	}
}

/* Polling: how did the processes we follow end, and which are new? */
static void on_tick(struct loop *loop, int fd, uint32_t events_mask, void *data)
{
	struct slave *s = data;
	uint64_t ticks;
	int status;

	(void)loop;
	(void)events_mask;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (struct node_proc *p = procs, *next; p; p = next) {
		next = p->next;
		if (p->pidfd >= 0 && proc_exit_status(p->pidfd, &status) == 1)
			remove_proc(s, p, true, status);
	}
	rescan(s);
	slave_moves_poll_members(s);
}

static int start_polling(struct slave *s)
{
	struct itimerspec every = {
		.it_interval = { 0, POLL_MS * 1000000L },
		.it_value = { 0, POLL_MS * 1000000L },
	};
	int r;

	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tick_fd < 0)
		return -errno;
	r = timerfd_settime(tick_fd, 0, &every, NULL) < 0 ? -errno : 0;
	if (r == 0)
		r = loop_add(s->loop, tick_fd, EPOLLIN, on_tick, s);
	if (r < 0) {
		close(tick_fd);
		tick_fd = -1;
		return r;
	}
	pr_info("no process-events connector here (not the initial pid namespace): polling the node's processes every %d ms",
		POLL_MS);
	return 0;
}

bool slave_procs_polling(void)
{
	return tick_fd >= 0;
}

/*
 * The connector: on a socket that bpcluster made in the initial network
 * namespace and passed down, if it did; else our own (a slave of a real
 * node runs in the initial namespace).
 */
/* The socket our starter passed down, or -1; our children (CRIU, the
 * node's init) have no use for it, so the variable goes. */
static int passed_events_fd(void)
{
	const char *text = getenv(PROC_EVENTS_FD_ENV);
	long fd;

	if (!text || parse_long(text, 3, 0x7fffffff, &fd) < 0)
		return -1;
	unsetenv(PROC_EVENTS_FD_ENV);
	return (int)fd;
}

static int open_events(void)
{
	int fd = passed_events_fd();

	if (fd >= 0) {
		events_fd_number = fd;
		return proc_events_open_fd(fd, &events);
	}
	return proc_events_open(&events);
}

int slave_procs_init(struct slave *s)
{
	int r;

	if (!proc_events_usable()) {
		int fd = passed_events_fd();

		/* bpcluster's socket is of no use either. */
		if (fd >= 0)
			close(fd);
		return start_polling(s);
	}
	r = open_events();

	if (r < 0) {
		pr_warn("no process-events connector (%s): children of moved processes will not show on the master, and ends in moved trees will not be seen",
			strerror(-r));
		return r;
	}
	r = loop_add(s->loop, proc_events_fd(events), EPOLLIN, on_readable, s);
	if (r == 0)
		pr_info("following forks and exits on the node (process-events connector%s)",
			events_fd_number >= 0 ? ", socket from our starter" : "");
	if (r < 0) {
		proc_events_close(events);
		events = NULL;
	}
	return r;
}

unsigned int slave_procs_count(void)
{
	unsigned int n = 0;

	for (struct node_proc *p = procs; p; p = p->next)
		n++;
	return n;
}

void slave_procs_resend(struct slave *s)
{
	for (struct node_proc *p = procs, *next; p; p = next) {
		next = p->next;
		if (still_there(p))
			send_forked(s, p);
		else
			remove_proc(s, p, false, 0);
	}
}

int slave_procs_kill_all(struct slave *s)
{
	int n = 0;

	for (struct node_proc *p = procs; p; p = p->next)
		if (still_there(p) && kill(p->host, SIGKILL) == 0)
			n++;
	slave_procs_forget(s);
	return n;
}

/* The followed process whose pid in the node is pid, or NULL. */
static struct node_proc *find_node_pid(pid_t pid)
{
	for (struct node_proc *p = procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

int slave_procs_kill_born_of(const pid_t *roots, int nroots)
{
	int n = 0;

	for (struct node_proc *p = procs; p; p = p->next) {
		pid_t up = p->ppid;
		bool below = false;

		/* Up its followed ancestors (a chain, at most one per
		 * process we follow) to one of the roots, or to none. */
		for (int depth = 0; !below && up > 0 && depth < FREEZER_MAX_PIDS; depth++) {
			const struct node_proc *a;

			for (int i = 0; i < nroots && !below; i++)
				below = roots[i] == up;
			a = below ? NULL : find_node_pid(up);
			up = a ? a->ppid : 0;
		}
		if (below && still_there(p) && kill(p->host, SIGKILL) == 0)
			n++;
	}
	return n;
}

void slave_procs_forget(struct slave *s)
{
	(void)s;
	while (procs) {
		struct node_proc *p = procs;

		procs = p->next;
		if (p->pidfd >= 0)
			close(p->pidfd);
		free(p);
	}
}

void slave_procs_shutdown(struct slave *s)
{
	slave_procs_forget(s);
	if (events && s->action == BPROC__NODE_ACTION__ACTION_REBOOT && events_fd_number >= 0 &&
	    proc_events_fd(events) == events_fd_number) {
		/* We execute ourselves again: the socket must survive it,
		 * since we could not make another. */
		char text[16];

		loop_remove(s->loop, events_fd_number);
		fcntl(events_fd_number, F_SETFD, 0);
		snprintf(text, sizeof(text), "%d", events_fd_number);
		setenv(PROC_EVENTS_FD_ENV, text, 1);
		return;
	}
	if (events) {
		loop_remove(s->loop, proc_events_fd(events));
		proc_events_close(events);
		events = NULL;
	}
	if (tick_fd >= 0) {
		loop_remove(s->loop, tick_fd);
		close(tick_fd);
		tick_fd = -1;
	}
}
