/*
 * slave_pidns.c - the node's pid namespace.
 *
 * Every process that lives on a node, launched or restored, lives in one
 * pid namespace that bpslave creates at boot.  Its pid 1 is a tiny init,
 * forked from bpslave, that only reaps orphans.  The namespace gives pids
 * out by the master's numbering without colliding with the host's, and its
 * life is the node's: the init dies with bpslave (PR_SET_PDEATHSIG), and
 * the kernel then kills everything in the namespace, as a real node that
 * loses power loses its processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "slave.h"
#include "util.h"

/* What bproc-init tells bpslave of each process it reaps. */
struct node_exit {
	int pid;     /* in the node's namespace */
	int status;  /* a wait status */
};

static int wait_status(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	case CLD_STOPPED:
	case CLD_TRAPPED:
		return ((si->si_status & 0xff) << 8) | 0x7f;
	case CLD_CONTINUED:
		return 0xffff;
	default:
		return si->si_status & 0x7f;
	}
}

/*
 * pid 1 of the node.  Every process of the node that loses its parent
 * (a restored process, as soon as CRIU leaves) becomes its child, so it
 * knows how each ended (or stopped, or continued) and tells bpslave
 * through exits_fd; that works in
 * any network namespace, where the process-events connector does not.
 */
static void __attribute__((noreturn)) node_init_main(int slave_pidfd, int exits_fd)
{
	struct pollfd pfd = { .fd = slave_pidfd, .events = POLLIN };
	sigset_t all;

	/* Die with bpslave.  Our parent lives outside this namespace, so
	 * getppid() says 0; a pidfd tells whether it died before the prctl. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (poll(&pfd, 1, 0) != 0)
		_exit(0);
	prctl(PR_SET_NAME, "bproc-init");
	if (dup2(exits_fd, 3) < 0)
		_exit(1);
	syscall(SYS_close_range, 4, ~0U, 0);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		/* Stops and continues too: the ghost on the master shows them. */
		if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WCONTINUED) == 0) {
			struct node_exit e = { si.si_pid, wait_status(&si) };

			/* Non-blocking: if bpslave lags, the record is lost
			 * and it finds the process gone by itself. */
			if (write(3, &e, sizeof(e)) < 0 && errno != EAGAIN)
				_exit(0); /* bpslave is gone: so is the node */
		} else if (errno == ECHILD) {
			sigset_t chld;

			sigemptyset(&chld);
			sigaddset(&chld, SIGCHLD);
			sigwaitinfo(&chld, &si);
		}
	}
}

static void on_exits_readable(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	struct node_exit e;

	(void)loop;
	(void)events;
	while (read(fd, &e, sizeof(e)) == sizeof(e))
		slave_moves_exited(s, e.pid, e.status);
}

int slave_pidns_create(struct slave *s)
{
	_cleanup_close_ int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	int exits[2];
	long pid;

	if (self < 0)
		return -errno;
	if (pipe2(exits, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	s->pidns_created_ms = now_ms();

	/* clone() rather than unshare(): bpslave's own later children must not
	 * land in the namespace by accident, and the namespace must not die
	 * with a helper process. */
	pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		int r = -errno;
		pr_err("cannot create the node's pid namespace: %s", strerror(errno));
		close(exits[0]);
		close(exits[1]);
		return r;
	}
	if (pid == 0)
		node_init_main(self, exits[1]);
	close(exits[1]);
	if (s->exits_fd >= 0) {
		loop_remove(s->loop, s->exits_fd);
		close(s->exits_fd);
	}
	s->exits_fd = exits[0];
	loop_add(s->loop, s->exits_fd, EPOLLIN, on_exits_readable, s);
	s->init_pid = (pid_t)pid;
	pr_info("node pid namespace created, init is pid %ld", pid);
	return 0;
}

void slave_pidns_kill(struct slave *s)
{
	if (s->init_pid <= 0)
		return;
	kill(s->init_pid, SIGKILL);
	waitpid(s->init_pid, NULL, 0);
	s->init_pid = 0;
}

void slave_reap_children(struct slave *s)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		if (pid == s->init_pid && !s->stopping) {
			/* The main loop makes a new one, at most once a second. */
			pr_err("the node's init (pid %d) died (status 0x%x): every process of the node is gone",
			       pid, status);
			s->init_pid = 0;
		}
		if (!slave_move_out_child_exited(s, pid, status))
			slave_moves_child_exited(s, pid, status);
	}
}
