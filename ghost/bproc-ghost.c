/*
 * bproc-ghost - what a process that moved away leaves in the master's
 * process table.
 *
 * The daemon makes the original task execve() this program (ghost/ghost.c),
 * so the task keeps its pid, parent, process group, session, controlling
 * terminal and fds 0-2, and loses its memory.  The daemon stays attached
 * with ptrace and handles every signal sent here; this program only has to
 * sit still, look like the process it stands for, and end when told:
 *
 *   - a GHOST_EXIT_SIGNAL queued by the daemon carries the exit code;
 *   - a signal the daemon lets through kills it by the default action, so
 *     the parent sees the same death as on the node.
 *
 * The ghosts of its children, when a tree moved, are reaped here as they
 * end (SIGCHLD ignored): their real parent reaps the real ones on the node.
 *
 * It is built without sanitizers: it must stay small, and it runs as the
 * user of the process it stands for.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ghost.h"

static pid_t daemon_pid;

/* Who traces us now: the daemon that made us, or one that took us back
 * after it (a restarted master).  Async-signal-safe. */
static pid_t tracer(void)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "TracerPid:");
	return p ? (pid_t)strtol(p + 10, NULL, 10) : 0;
}

static void on_exit_order(int sig, siginfo_t *si, void *context)
{
	(void)context;
	if (si->si_code == SI_QUEUE && (si->si_pid == daemon_pid || si->si_pid == tracer()))
		_exit(si->si_value.sival_int);
	/* Not an order: die of it, as the real process did. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	const char *comm = getenv(GHOST_ENV_COMM);
	const char *daemon = getenv(GHOST_ENV_DAEMON);
	struct sigaction sa;
	sigset_t none;

	(void)argc;
	(void)argv;
	if (comm)
		prctl(PR_SET_NAME, comm);
	daemon_pid = daemon ? (pid_t)atoi(daemon) : 0;

	/* Ignored signals stay ignored across execve: undo that, so a death
	 * by signal can be reproduced.  (SIGKILL and SIGSTOP just fail.) */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_exit_order;
	sa.sa_flags = SA_SIGINFO;
	sigaction(GHOST_EXIT_SIGNAL, &sa, NULL);
	/* The ghosts of its children (a tree that moved) end when their real
	 * processes end; the real parent reaps those on the node.  Here
	 * nobody would: let the kernel reap them, and reap those that ended
	 * before we got here. */
	signal(SIGCHLD, SIG_IGN);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* Whatever else the original held now belongs to its copy. */
	syscall(SYS_close_range, 3, ~0U, 0);
	/* Ready: tell the tracer (ghost.c, wait_until_ready). */
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), GHOST_READY_SIGNAL);
	for (;;)
		pause();
}
