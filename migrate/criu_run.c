/*
 * criu_run.c - CRIU's command lines for dump and restore, and running them.
 * See criu_run.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "criu_kdat.h"
#include "criu_run.h"
#include "page_server.h"
#include "log.h"
#include "util.h"

#define CRIU_TIMEOUT_MS 120000
/* The exit status of a restore that could not enter its cgroup
 * (CRIU_INHERIT_CGROUP); 122-126 are the keeper's and the namespaces'. */
#define CRIU_CGROUP_FAILED 121

/* The first "Error" line of a CRIU log, for the user. */
void criu_log_reason(const char *dir, const char *log, char *err, size_t errlen)
{
	char path[512], line[1024];
	_cleanup_fclose_ FILE *f = NULL;

	if (!err || !errlen)
		return;
	snprintf(err, errlen, "criu failed (see %s/%s)", dir, log);
	snprintf(path, sizeof(path), "%s/%s", dir, log);
	f = fopen(path, "re");
	if (!f)
		return;
	/* The first error is the cause; the last only says it failed. */
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "Error (") && !strstr(line, "RLIMIT_NOFILE")) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(err, errlen, "criu: %s", line);
			break;
		}
}

/* Wait for a child, killing it after the timeout.  ps_fd (or -1): the
 * page stream of the CRIU it is, uncorked on the way (ps_uncork). */
static int wait_child_streaming(pid_t pid, int *status, int ps_fd)
{
	long long deadline = now_ms() + CRIU_TIMEOUT_MS;
	bool corked = ps_fd >= 0;
	/* Readable the moment the child ends: no sleeping past its end
	 * (a 2 ms sleep cost every restore 1 ms on average). */
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		long long left = deadline - now_ms();

		if (r == pid)
			return 0;
		if (corked && ps_uncork(ps_fd) != 0)
			corked = false;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (left < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };

			/* Corked: look for the cork again every 2 ms. */
			poll(&p, 1, corked ? 2 : (int)(left < 1000 ? left + 1 : 1000));
		} else {
			usleep(2000);
		}
	}
}

static int wait_child(pid_t pid, int *status)
{
	return wait_child_streaming(pid, status, -1);
}

/* stdin from in_fd (-1: /dev/null), stdout and stderr to /dev/null. */
static void exec_with_stdin(char *const argv[], int in_fd)
{
	int devnull = open("/dev/null", O_RDWR);

	dup2(in_fd >= 0 ? in_fd : devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	criu_exec(argv);
	_exit(127);
}

static void exec_quietly(char *const argv[])
{
	int devnull = open("/dev/null", O_RDWR);

	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	criu_exec(argv);
	_exit(127);
}

/*
 * CRIU reads the rlimits of the process it dumps (prlimit), which the
 * kernel lets a caller do to another user's process only with
 * CAP_SYS_RESOURCE, or if the caller's real uid and gid are that
 * process's.  Root lacks the first in some containers (these machines'
 * bounding set): so CRIU takes the second way, its real ids the process's
 * and its effective ids root's (it keeps its capabilities).  Only for a
 * process whose real, effective and saved ids agree, as prlimit asks; in
 * a node's namespaces, once its /proc is the node's.  And only where CRIU
 * finds its kernel-feature cache (criu_kdat.h): without it, it probes the
 * kernel, and some probes (nft) fail for a CRIU whose real uid is not root.
 */
static void take_real_ids_of(pid_t pid)
{
	struct proc_creds c;

	if (pid <= 0 || access(CRIU_KDAT_FILE, F_OK) < 0 || proc_creds(pid, &c) < 0)
		return;
	if (c.uid[1] != c.uid[0] || c.uid[2] != c.uid[0] || c.gid[1] != c.gid[0] ||
	    c.gid[2] != c.gid[0] || (c.uid[0] == 0 && c.gid[0] == 0))
		return;
	/* Failing, CRIU runs as root, and says why if it cannot dump. */
	if (setresgid(c.gid[0], (gid_t)-1, (gid_t)-1) == 0)
		setresuid(c.uid[0], (uid_t)-1, (uid_t)-1);
}

/* Inside the node's pid namespace: a /proc of it, then CRIU. */
static void exec_criu_in_node(char *const argv[], int in_fd)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		_exit(125);
	exec_with_stdin(argv, in_fd);
}

/*
 * In the keeper, once CRIU restored the process: make its process group
 * the terminal's foreground one, as a shell does for a job (CRIU gives
 * the terminal to its own group; a read from a background group would
 * stop the process with SIGTTIN).
 */
static void give_foreground(char *const argv[], int tty_fd)
{
	const char *pidfile = NULL;
	char text[32] = "";
	long pid;
	pid_t pgid;
	int fd;
	ssize_t n;

	for (int i = 0; argv[i] && argv[i + 1]; i++)
		if (strcmp(argv[i], "--pidfile") == 0)
			pidfile = argv[i + 1];
	fd = pidfile ? open(pidfile, O_RDONLY | O_CLOEXEC) : -1;
	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0 || parse_long(strtok(text, "\n"), 1, 0x7fffffff, &pid) < 0)
		return;
	pgid = getpgid((pid_t)pid);
	signal(SIGTTOU, SIG_IGN);
	if (pgid > 0)
		tcsetpgrp(tty_fd, pgid);
}

/* A wait status, from what waitid() says. */
static int wait_status_of(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_KILLED:
		return si->si_status & 0x7f;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	case CLD_CONTINUED:
		return 0xffff;
	default: /* stopped, trapped */
		return ((si->si_status & 0xff) << 8) | 0x7f;
	}
}

/*
 * The keeper, once the process is restored: its parent for good, it
 * reports each end, stop and continue of its children on report_fd (as
 * the node's init does for the others) and ends when they are all gone.
 */
static void __attribute__((noreturn)) keep_and_report(int report_fd)
{
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		siginfo_t si;
		struct criu_child_report rep;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WCONTINUED) < 0) {
			if (errno == EINTR)
				continue;
			_exit(0); /* ECHILD: nobody left to keep */
		}
		rep.pid = si.si_pid;
		rep.status = wait_status_of(&si);
		/* Blocking: a report must not be lost (an end lost is a ghost
		 * that never ends), and the socket takes only
		 * net.unix.max_dgram_qlen (10 here) unread ones: a busy slave
		 * makes us wait.  bpslave gone: the node is going down, and we
		 * with it. */
		while (send(report_fd, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
			if (errno != EINTR)
				_exit(0);
	}
}

/*
 * Every restore, in the child that has entered the node's pid namespace
 * (its children are in it).  A first child, the keeper, leads a new
 * session (whose controlling terminal is tty_fd, if the process was on a
 * terminal), and runs CRIU in it: CRIU (--shell-job) restores the process
 * in the keeper's session.  The keeper passes CRIU's exit status up
 * through a pipe, so this child can end with it, gives the terminal's
 * foreground to the process's group, and stays, as the process's parent
 * (a child subreaper), reporting on report_fd, until the process and its
 * children are gone.
 *
 * Why it stays: were the process's parent outside its session (the node's
 * init), its group (a job of a shell, a group of its own) would be
 * orphaned when CRIU exits, and the kernel sends a group that becomes
 * orphaned SIGHUP and SIGCONT if a member is stopped, as the process is
 * then (held until the commit), or when it reads its terminal from the
 * background; and were the session leader to exit, the kernel would hang
 * the terminal up on the foreground group (SIGHUP).  Measured: each killed
 * the copy (shell jobs with `set -m`: 6 of 7 moves lost it).
 */
static void restore_with_keeper(char *const argv[], int tty_fd, int report_fd)
{
	int status_pipe[2], cstatus;
	unsigned char code = 122;
	pid_t keeper, criu_pid;

	if (pipe(status_pipe) < 0)
		_exit(126);
	/* Forked twice, so the keeper's parent is of the node's namespace:
	 * orphaned, it goes to the node's init, which reaps it.  Had its
	 * parent been us (of the host's namespace), it would go to a reaper
	 * there, and the node's init, when the node goes down, would wait
	 * for that one to reap it (seen: pid 1 of the host takes seconds). */
	keeper = fork();
	if (keeper < 0)
		_exit(126);
	if (keeper == 0 && fork() != 0)
		_exit(0);
	if (keeper == 0) {
		close(status_pipe[0]);
		if (setsid() < 0 || (tty_fd >= 0 && ioctl(tty_fd, TIOCSCTTY, 0) < 0) ||
		    prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
			_exit(126);
		prctl(PR_SET_NAME, "bproc-keeper");
		criu_pid = fork();
		if (criu_pid < 0)
			_exit(126);
		if (criu_pid == 0) {
			close(status_pipe[1]);
			close(report_fd);
			exec_criu_in_node(argv, tty_fd);
		}
		while (waitpid(criu_pid, &cstatus, 0) < 0)
			if (errno != EINTR)
				_exit(124);
		code = WIFEXITED(cstatus) ? (unsigned char)WEXITSTATUS(cstatus) : 123;
		if (code == 0 && tty_fd >= 0)
			give_foreground(argv, tty_fd);
		if (write(status_pipe[1], &code, 1) != 1)
			_exit(124);
		/* Nothing of the process's (its pipes' ends: their readers must
		 * see them close when it ends, the terminal) but report_fd. */
		if (dup2(report_fd, 3) < 0)
			_exit(124);
		syscall(SYS_close_range, 4, ~0U, 0);
		if (code != 0)
			_exit(0);
		keep_and_report(3);
	}
	/* The first one, of the node's namespace too: reaped here, not left
	 * to a reaper of the host's. */
	while (waitpid(keeper, NULL, 0) < 0 && errno == EINTR)
		;
	close(status_pipe[1]);
	close(report_fd);
	if (tty_fd >= 0)
		close(tty_fd);
	if (read(status_pipe[0], &code, 1) != 1)
		_exit(124);
	_exit(code);
}

/*
 * Start CRIU with argv.  With a pid namespace (pidns_fd >= 0), CRIU runs
 * inside it, in a mount namespace of its own whose /proc is that
 * namespace's: the pids CRIU reads and writes are then the namespace's,
 * which is what a node's processes have.  inherit[i].fd becomes CRIU's fd
 * 100 + i.  dumped: the process a dump is of (0: not a dump).  Returns the
 * child to wait for; its exit status 124-126 means it could not enter the
 * namespaces.
 */
static pid_t spawn_criu(char *const argv[], int pidns_fd, int mntns_fd,
			const struct criu_inherit *inherit, int ninherit, pid_t dumped)
{
	int tty_fd = -1, report_fd = -1, inherit_copy[CRIU_MAX_INHERIT];
	pid_t child;

	if (ninherit > CRIU_MAX_INHERIT)
		return -E2BIG;
	child = fork();

	if (child != 0)
		return child < 0 ? -errno : child;
	/* First a copy of each fd we use above the slots 100 .. 100 +
	 * ninherit - 1, then the inherited ones into their slots: a daemon
	 * with many fds open has some of them in those slots already, and a
	 * dup2 straight into a slot would close another (seen: the 42nd
	 * process with its output forwarded moved to a node, its restore
	 * lost the node's pid namespace fd). */
	if (pidns_fd >= 0 && (pidns_fd = fcntl(pidns_fd, F_DUPFD_CLOEXEC, 100 + ninherit)) < 0)
		_exit(126);
	if (mntns_fd >= 0 && (mntns_fd = fcntl(mntns_fd, F_DUPFD_CLOEXEC, 100 + ninherit)) < 0)
		_exit(126);
	for (int i = 0; i < ninherit; i++)
		if ((inherit_copy[i] = fcntl(inherit[i].fd, F_DUPFD, 100 + ninherit)) < 0)
			_exit(126);
	for (int i = 0; i < ninherit; i++) {
		if (dup2(inherit_copy[i], 100 + i) < 0)
			_exit(126);
		close(inherit_copy[i]);
		if (strcmp(inherit[i].key, CRIU_INHERIT_TTY) == 0)
			tty_fd = 100 + i;
		if (strcmp(inherit[i].key, CRIU_INHERIT_REPORT) == 0)
			report_fd = 100 + i;
		/* Into the cgroup before anything is restored; CRIU_CGROUP_FAILED
		 * if not (the caller says so, not CRIU). */
		if (strcmp(inherit[i].key, CRIU_INHERIT_CGROUP) == 0) {
			if (write(100 + i, "0", 1) != 1)
				_exit(CRIU_CGROUP_FAILED);
			close(100 + i);
		}
	}
	if (pidns_fd >= 0) {
		pid_t criu_pid;
		int cstatus;

		if (setns(pidns_fd, CLONE_NEWPID) < 0)
			_exit(126);
		if (report_fd >= 0 && mntns_fd < 0)
			restore_with_keeper(argv, tty_fd, report_fd); /* does not return */
		/* setns(CLONE_NEWPID) applies to children: fork into it. */
		criu_pid = fork();
		if (criu_pid < 0)
			_exit(126);
		if (criu_pid > 0) {
			while (waitpid(criu_pid, &cstatus, 0) < 0)
				if (errno != EINTR)
					_exit(124);
			_exit(WIFEXITED(cstatus) ? WEXITSTATUS(cstatus) : 123);
		}
		/*
		 * A session of our own, inside the namespace: a restored
		 * tree takes CRIU's session and group (--shell-job), and
		 * CRIU refuses to dump one whose session leader is outside
		 * its pid namespace, as the slave's is.  Without this, a
		 * process restored on a node could never leave it.
		 */
		setsid();
		/* The dumped process's own mount namespace: CRIU must see the
		 * mounts its files are on, and that one has the node's /proc. */
		if (mntns_fd >= 0) {
			if (setns(mntns_fd, CLONE_NEWNS) < 0 || chdir("/") < 0)
				_exit(125);
			take_real_ids_of(dumped);
			exec_quietly(argv);
		}
		/* Now inside the node's pid namespace: a /proc of it. */
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			_exit(125);
	}
	take_real_ids_of(dumped);
	exec_quietly(argv);
	return 0; /* not reached */
}

int criu_spawn(char *const argv[], const int *fds, int nfds, pid_t *child)
{
	struct criu_inherit inherit[CRIU_MAX_INHERIT];
	pid_t pid;

	if (nfds > CRIU_MAX_INHERIT)
		return -E2BIG;
	for (int i = 0; i < nfds; i++) {
		inherit[i].fd = fds[i];
		inherit[i].key = "";  /* not a CRIU resource: just an fd for it */
	}
	pid = spawn_criu(argv, -1, -1, inherit, nfds, 0);
	if (pid < 0)
		return pid;
	*child = pid;
	return 0;
}

int criu_wait_ready(int ready_fd, int timeout_ms)
{
	struct pollfd p = { .fd = ready_fd, .events = POLLIN };
	long long deadline = now_ms() + timeout_ms;
	char c;

	for (;;) {
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		r = (int)read(ready_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		return r == 1 ? 0 : -ECANCELED;
	}
}

/* The options of every dump; returns how many. */
static int dump_argv(char **argv, const char *criu, char *pidtext, const char *dir,
		     const char *freezer_path)
{
	int argc = 0;

	argv[argc++] = (char *)criu;
	argv[argc++] = "dump";
	argv[argc++] = "--tree";
	argv[argc++] = pidtext;
	argv[argc++] = "--images-dir";
	argv[argc++] = (char *)dir;
	argv[argc++] = "--log-file";
	argv[argc++] = "dump.log";
	argv[argc++] = "-v4";
	/* We froze the tree, silently; CRIU leaves it as it found it. */
	argv[argc++] = "--freeze-cgroup";
	argv[argc++] = (char *)freezer_path;
	argv[argc++] = "--leave-running";
	/* Its cgroups stay behind, as the restore ignores them: without
	 * this CRIU mounts every cgroup hierarchy to read the process's
	 * (8-40 ms of many dumps here, docs/criu.md). */
	argv[argc++] = "--manage-cgroups=ignore";
	/* The session and process group leaders (a shell) stay behind. */
	argv[argc++] = "--shell-job";
	return argc;
}

/* The dump's argv in argv (24 slots), pidtext its buffer for the pid. */
static void stream_argv(char **argv, char *pidtext, size_t len, const char *criu, pid_t pid,
			const char *freezer_path, const char *dir, int ps_fd)
{
	int argc;

	snprintf(pidtext, len, "%d", (int)pid);
	argc = dump_argv(argv, criu, pidtext, dir, freezer_path);
	if (ps_fd >= 0) {
		/* Pages straight into the target's images, as they are read. */
		argv[argc++] = "--page-server";
		argv[argc++] = "--ps-socket";
		argv[argc++] = CRIU_FD0_TEXT;
	}
	argv[argc] = NULL;
}

int criu_dump_finished(int status, bool in_node, const char *dir, char *err, size_t errlen)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (in_node && WIFEXITED(status) && WEXITSTATUS(status) >= 124)
		snprintf(err, errlen, "cannot enter the node's namespaces to dump");
	else
		criu_log_reason(dir, "dump.log", err, errlen);
	return -ECANCELED;
}

int criu_dump_tree_stream(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
			  const char *freezer_path, const char *dir, int ps_fd, char *err,
			  size_t errlen)
{
	char pidtext[32], *argv[24];
	struct criu_inherit ps = { .fd = ps_fd, .key = "" };
	int status, r;
	pid_t child;

	stream_argv(argv, pidtext, sizeof(pidtext), criu, pid, freezer_path, dir, ps_fd);
	child = spawn_criu(argv, pidns_fd, mntns_fd, &ps, ps_fd >= 0 ? 1 : 0, pid);
	if (child < 0)
		return child;
	r = wait_child_streaming(child, &status, ps_fd);
	if (r < 0) {
		snprintf(err, errlen, "criu dump: %s", strerror(-r));
		return r;
	}
	return criu_dump_finished(status, pidns_fd >= 0, dir, err, errlen);
}

int criu_dump_stream_start(const char *criu, pid_t pid, const char *freezer_path,
			   const char *dir, int ps_fd, pid_t *child)
{
	char pidtext[32], *argv[24];
	struct criu_inherit ps = { .fd = ps_fd, .key = "" };

	stream_argv(argv, pidtext, sizeof(pidtext), criu, pid, freezer_path, dir, ps_fd);
	*child = spawn_criu(argv, -1, -1, &ps, ps_fd >= 0 ? 1 : 0, pid);
	if (*child < 0) {
		int r = *child;

		*child = 0;
		return r;
	}
	return 0;
}

int criu_dump_tree_in(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
		      const char *freezer_path, const char *dir, char *err, size_t errlen)
{
	return criu_dump_tree_stream(criu, pidns_fd, mntns_fd, pid, freezer_path, dir, -1, err,
				     errlen);
}

/*
 * CRIU's lazy page server copies pages out of its pipes through a pipe it
 * sizes to 819 pages (tee(2)); without CAP_SYS_RESOURCE (root lacks it on
 * these machines) that needs fs.pipe-max-size of at least 4 MiB, or every
 * page past the first 64 KiB of a pipe fails to go out.  Raise it.
 */
#define LAZY_PIPE_MAX_SIZE (4u << 20)

static int ensure_pipe_max_size(char *err, size_t errlen)
{
	const char *path = "/proc/sys/fs/pipe-max-size";
	char text[32] = "";
	long value;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

	if (n > 0 && parse_long(strtok(text, "\n"), 0, 0x7fffffff, &value) == 0 &&
	    value >= (long)LAZY_PIPE_MAX_SIZE) {
		close(fd);
		return 0;
	}
	snprintf(text, sizeof(text), "%u", LAZY_PIPE_MAX_SIZE);
	if (fd < 0 || pwrite(fd, text, strlen(text), 0) < 0) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "lazy moves need %s >= %u (CRIU's lazy page server): %s", path,
			 LAZY_PIPE_MAX_SIZE, strerror(-r));
		return r;
	}
	close(fd);
	pr_info("raised %s to %u for CRIU's lazy page server", path, LAZY_PIPE_MAX_SIZE);
	return 0;
}

int criu_dump_lazy_start(const char *criu, pid_t pid, const char *freezer_path, const char *dir,
			 int ps_fd, pid_t *child, char *err, size_t errlen)
{
	return criu_dump_lazy_start_in(criu, -1, -1, pid, freezer_path, dir, ps_fd, child, err,
				       errlen);
}

int criu_dump_lazy_start_in(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
			    const char *freezer_path, const char *dir, int ps_fd, pid_t *child,
			    char *err, size_t errlen)
{
	char pidtext[32], *argv[24];
	struct criu_inherit fds[2] = { { .key = "" }, { .key = "" } };
	int ready[2], argc, r;

	*child = 0;
	r = ensure_pipe_max_size(err, errlen);
	if (r < 0)
		return r;
	snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
	argc = dump_argv(argv, criu, pidtext, dir, freezer_path);
	/* Anonymous memory stays behind, served on the socket on demand. */
	argv[argc++] = "--lazy-pages";
	argv[argc++] = "--ps-socket";
	argv[argc++] = CRIU_FD0_TEXT;
	/* Written when the images are complete and the serving starts. */
	argv[argc++] = "--status-fd";
	argv[argc++] = CRIU_FD1_TEXT;
	argv[argc] = NULL;
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	fds[0].fd = ps_fd;
	fds[1].fd = ready[1];
	*child = spawn_criu(argv, pidns_fd, mntns_fd, fds, 2, pid);
	r = *child < 0 ? (int)*child : 0;
	if (*child < 0)
		*child = 0;
	close(ready[1]);
	if (r == 0)
		r = criu_wait_ready(ready[0], CRIU_TIMEOUT_MS);
	close(ready[0]);
	if (r < 0 && *child > 0) {
		kill(*child, SIGKILL);
		waitpid(*child, NULL, 0);
		*child = 0;
		if (r == -ECANCELED)
			criu_log_reason(dir, "dump.log", err, errlen);
		else
			snprintf(err, errlen, "criu dump: %s", strerror(-r));
	}
	return r;
}

/* A lazy dump told to stop (its stream shut) ends within this. */
#define LAZY_STOP_MS 10000

void criu_dump_lazy_stop(pid_t *child, int ps_fd)
{
	long long deadline = now_ms() + LAZY_STOP_MS;
	int status;

	if (ps_fd >= 0)
		shutdown(ps_fd, SHUT_RDWR);
	if (*child <= 0)
		return;
	while (waitpid(*child, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			pr_warn("CRIU %d (a lazy dump) does not end; killing it", (int)*child);
			kill(*child, SIGKILL);
			waitpid(*child, &status, 0);
			break;
		}
		usleep(5000);
	}
	*child = 0;
}

int criu_dump_tree(const char *criu, pid_t pid, const char *freezer_path, const char *dir,
		   char *err, size_t errlen)
{
	return criu_dump_tree_in(criu, -1, -1, pid, freezer_path, dir, err, errlen);
}

int criu_restore_tree(const char *criu, const char *dir, int pidns_fd,
		      const struct criu_inherit *inherit, int ninherit, bool lazy, pid_t *pid,
		      char *err, size_t errlen)
{
	char pidfile[512], specs[CRIU_MAX_INHERIT][256];
	char *argv[24 + 2 * CRIU_MAX_INHERIT] = {
		(char *)criu, "restore",
		"--images-dir", (char *)dir,
		"--log-file", "restore.log", "-v4",
		/* Let the tree go: its parent becomes the node's init. */
		"--restore-detached",
		/* Held until the move is committed, then SIGCONT. */
		"--leave-stopped",
		"--shell-job",
		/* Not back into the freezer cgroup it was dumped from (that is
		 * on another machine, and frozen): stay in the slave's. */
		"--manage-cgroups=ignore",
		"--pidfile", pidfile,
		NULL,
	};
	int status, r, argc = 0;
	pid_t child;
	long value;

	if (ninherit > CRIU_MAX_INHERIT)
		return -E2BIG;
	while (argv[argc])
		argc++;
	/* The inherited fds are handed to CRIU as fd 100, 101, ...; the
	 * terminal is not an --inherit-fd (criu_run.h). */
	for (int i = 0; i < ninherit; i++) {
		if (strcmp(inherit[i].key, CRIU_INHERIT_TTY) == 0 ||
		    strcmp(inherit[i].key, CRIU_INHERIT_REPORT) == 0 ||
		    strcmp(inherit[i].key, CRIU_INHERIT_CGROUP) == 0)
			continue;
		snprintf(specs[i], sizeof(specs[i]), "fd[%d]:%s", 100 + i, inherit[i].key);
		argv[argc++] = "--inherit-fd";
		argv[argc++] = specs[i];
	}
	/* Memory comes from the lazy-pages daemon beside us, on demand. */
	if (lazy)
		argv[argc++] = "--lazy-pages";
	argv[argc] = NULL;
	snprintf(pidfile, sizeof(pidfile), "%s/restored.pid", dir);
	child = spawn_criu(argv, pidns_fd, -1, inherit, ninherit, 0);
	if (child < 0)
		return child;
	r = wait_child(child, &status);
	if (r < 0) {
		snprintf(err, errlen, "criu restore: %s", strerror(-r));
		return r;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) >= 124)
			snprintf(err, errlen, "cannot enter the node's namespaces to restore (step %d)",
				 WEXITSTATUS(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) == CRIU_CGROUP_FAILED)
			snprintf(err, errlen, "cannot enter the restore's cgroup");
		else
			criu_log_reason(dir, "restore.log", err, errlen);
		return -ECANCELED;
	}
	/* The pid file holds the pid in the node's namespace, which is the
	 * original one; find the host's number through NSpid. */
	{
		char text[32] = "";
		int fd = open(pidfile, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

		if (fd >= 0)
			close(fd);
		if (n <= 0 || parse_long(strtok(text, "\n"), 1, 0x7fffffff, &value) < 0) {
			snprintf(err, errlen, "criu restore wrote no pid");
			return -EPROTO;
		}
	}
	*pid = (pid_t)value;
	return 0;
}
