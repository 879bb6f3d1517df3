/*
 * test-proc_events.c - the process-events connector sees a real fork and
 * the exit status of the child.  Needs root in the initial namespaces, as
 * bpslave does; skipped elsewhere.  The pidfd fallback (what the slave
 * polls with where the connector is deaf) is tested everywhere.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/netlink.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_events.h"

struct seen {
	pid_t child;
	int forks;
	int exits;
	int exit_status;
};

static void on_event(const struct proc_event_info *ev, void *data)
{
	struct seen *s = data;

	if (ev->pid != s->child)
		return;
	if (ev->kind == PROC_EVENT_KIND_FORK) {
		cr_expect_eq(ev->parent, getpid());
		s->forks++;
	} else {
		s->exits++;
		s->exit_status = ev->exit_status;
	}
}

/* Outside the initial pid namespace the kernel ignores the subscription. */
#define SKIP_IF_DEAF()                                                                          \
	do {                                                                                    \
		if (!proc_events_usable())                                                      \
			cr_skip_test("not in the initial pid and user namespaces: the connector is deaf"); \
	} while (0)

Test(proc_events, fork_and_exit_of_a_child)
{
	struct proc_events *pe;
	struct seen s = { 0 };
	int r;

	SKIP_IF_DEAF();
	r = proc_events_open(&pe);

	if (r == -EPERM || r == -EPROTONOSUPPORT)
		cr_skip_test("no access to the process-events connector (%d)", r);
	cr_assert_eq(r, 0);

	s.child = fork();
	cr_assert_geq(s.child, 0);
	if (s.child == 0)
		_exit(7);
	waitpid(s.child, NULL, 0);

	for (int i = 0; i < 50 && s.exits == 0; i++) {
		struct pollfd p = { .fd = proc_events_fd(pe), .events = POLLIN };

		poll(&p, 1, 100);
		cr_assert_eq(proc_events_dispatch(pe, on_event, &s), 0);
	}
	cr_assert_eq(s.forks, 1);
	cr_assert_eq(s.exits, 1);
	cr_assert(WIFEXITED(s.exit_status));
	cr_assert_eq(WEXITSTATUS(s.exit_status), 7);
	proc_events_close(pe);
}

Test(proc_events, the_kernels_that_filter_events)
{
	cr_assert(proc_events_filter_supported("6.18.44-fc-v1045"));
	cr_assert(proc_events_filter_supported("6.6.0"));
	cr_assert(proc_events_filter_supported("7.0.1"));
	cr_assert_not(proc_events_filter_supported("6.5.13-1-amd64"));
	cr_assert_not(proc_events_filter_supported("6.1.0-28-amd64"));
	cr_assert_not(proc_events_filter_supported("5.15.0"));
	cr_assert_not(proc_events_filter_supported("garbage"));
	cr_assert_not(proc_events_filter_supported(NULL));
}

/* On such a kernel only forks and exits come: a child's setsid() and
 * exec are not read by every listener for nothing. */
Test(proc_events, only_forks_and_exits_come_where_the_kernel_filters)
{
	struct proc_events *pe;
	struct utsname u;
	unsigned char buf[8192];
	int forks = 0, exits = 0, others = 0, r;
	pid_t child;

	SKIP_IF_DEAF();
	cr_assert_eq(uname(&u), 0);
	if (!proc_events_filter_supported(u.release))
		cr_skip_test("kernel %s takes no event list", u.release);
	r = proc_events_open(&pe);
	if (r == -EPERM || r == -EPROTONOSUPPORT)
		cr_skip_test("no access to the process-events connector (%d)", r);
	cr_assert_eq(r, 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		setsid();
		execl("/bin/true", "true", (char *)NULL);
		_exit(1);
	}
	waitpid(child, NULL, 0);
	/* Raw: the events as the kernel sends them (nlmsghdr, cn_msg,
	 * proc_event: what, cpu, timestamp, then the pids). */
	for (int i = 0; i < 50 && exits == 0; i++) {
		struct pollfd p = { .fd = proc_events_fd(pe), .events = POLLIN };
		ssize_t n;

		poll(&p, 1, 100);
		while ((n = recv(proc_events_fd(pe), buf, sizeof(buf), MSG_DONTWAIT)) >= 68) {
			uint32_t what, pid, child_pid;

			memcpy(&what, buf + 36, 4);
			memcpy(&pid, buf + 52, 4);
			memcpy(&child_pid, buf + 60, 4);
			if (what == 0x00000001u && child_pid == (uint32_t)child)
				forks++;
			else if (what == 0x80000000u && pid == (uint32_t)child)
				exits++;
			else if (what != 0 && pid == (uint32_t)child)
				others++;
		}
	}
	cr_assert_eq(forks, 1);
	cr_assert_eq(exits, 1);
	cr_assert_eq(others, 0, "%d other events of the child (exec, sid) came", others);
	proc_events_close(pe);
}

static void *thread_main(void *arg)
{
	*(pid_t *)arg = gettid();
	return NULL;
}

struct any_event {
	pid_t thread;
	int seen_thread;
	int seen_marker;
	pid_t marker;
};

static void on_any(const struct proc_event_info *ev, void *data)
{
	struct any_event *a = data;

	if (ev->pid == a->thread)
		a->seen_thread++;
	if (ev->pid == a->marker && ev->kind == PROC_EVENT_KIND_EXIT)
		a->seen_marker++;
}

Test(proc_events, threads_are_not_processes)
{
	struct proc_events *pe;
	struct any_event a = { 0 };
	pthread_t t;
	int r;

	SKIP_IF_DEAF();
	r = proc_events_open(&pe);

	if (r < 0)
		cr_skip_test("no access to the process-events connector (%d)", r);
	cr_assert_eq(proc_events_dispatch(pe, on_any, &a), 0);

	cr_assert_eq(pthread_create(&t, NULL, thread_main, &a.thread), 0);
	pthread_join(t, NULL);
	/* A child process after the thread: once its exit is seen, every
	 * event about the thread would have been seen too. */
	a.marker = fork();
	if (a.marker == 0)
		_exit(0);
	waitpid(a.marker, NULL, 0);
	for (int i = 0; i < 50 && a.seen_marker == 0; i++) {
		struct pollfd p = { .fd = proc_events_fd(pe), .events = POLLIN };

		poll(&p, 1, 100);
		cr_assert_eq(proc_events_dispatch(pe, on_any, &a), 0);
	}
	cr_assert_eq(a.seen_marker, 1);
	cr_assert_eq(a.seen_thread, 0);
	proc_events_close(pe);
}

/*
 * A slave of a local cluster runs in its node's network namespace, where
 * the connector does not answer; a socket made in the initial namespace
 * keeps working there (bpcluster passes one down).
 */
Test(proc_events, a_socket_from_the_initial_namespace_works_in_another)
{
	struct proc_events *pe;
	struct seen s = { 0 };
	int fd, r;

	SKIP_IF_DEAF();
	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_CONNECTOR);
	r = proc_events_open(&pe);

	if (r < 0 || fd < 0)
		cr_skip_test("no access to the process-events connector (%d)", r);
	proc_events_close(pe);
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("cannot make a network namespace: %s", strerror(errno));

	cr_assert_neq(proc_events_open(&pe), 0, "the connector answers outside the initial namespace");
	cr_assert_eq(proc_events_open_fd(fd, &pe), 0);
	s.child = fork();
	cr_assert_geq(s.child, 0);
	if (s.child == 0)
		_exit(5);
	waitpid(s.child, NULL, 0);
	for (int i = 0; i < 50 && s.exits == 0; i++) {
		struct pollfd p = { .fd = proc_events_fd(pe), .events = POLLIN };

		poll(&p, 1, 100);
		cr_assert_eq(proc_events_dispatch(pe, on_event, &s), 0);
	}
	cr_assert_eq(s.forks, 1);
	cr_assert_eq(s.exits, 1);
	cr_assert_eq(WEXITSTATUS(s.exit_status), 5);
	proc_events_close(pe);
}

/* --- the pidfd fallback ------------------------------------------------ */

Test(proc_events, a_pidfd_tells_a_running_process_from_an_ended_one)
{
	pid_t child = fork();
	int pidfd, status = -1;

	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	pidfd = proc_pidfd_open(child);
	cr_assert_geq(pidfd, 0);
	cr_assert_eq(proc_exit_status(pidfd, &status), 0, "it still runs");
	kill(child, SIGTERM);
	/* A zombie: not reaped yet, the status is already known. */
	for (int i = 0; i < 100 && proc_exit_status(pidfd, &status) == 0; i++)
		usleep(10 * 1000);
	cr_assert_eq(proc_exit_status(pidfd, &status), 1);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x", status);
	waitpid(child, NULL, 0);
	status = -1;
	/* Reaped: the pidfd still knows. */
	cr_assert_eq(proc_exit_status(pidfd, &status), 1);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x", status);
	close(pidfd);
}

Test(proc_events, a_pidfd_gives_the_exit_code_after_the_reap)
{
	pid_t child = fork();
	int pidfd, status = -1;

	cr_assert_geq(child, 0);
	if (child == 0) {
		usleep(100 * 1000);
		_exit(7);
	}
	pidfd = proc_pidfd_open(child);
	cr_assert_geq(pidfd, 0);
	waitpid(child, NULL, 0);
	cr_assert_eq(proc_exit_status(pidfd, &status), 1);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status 0x%x", status);
	close(pidfd);
}

Test(proc_events, poll_can_be_forced)
{
	setenv("BPROC_PROC_EVENTS", "poll", 1);
	cr_assert_not(proc_events_usable());
	unsetenv("BPROC_PROC_EVENTS");
}
