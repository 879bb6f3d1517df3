/*
 * criu_run.c - CRIU's command lines for dump and restore, and running them.
 * See criu_run.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_run.h"
#include "log.h"
#include "util.h"

#define CRIU_TIMEOUT_MS 120000

/* The last "Error" line of a CRIU log, for the user. */
static void log_reason(const char *dir, const char *log, char *err, size_t errlen)
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

/* Wait for a child, killing it after the timeout. */
static int wait_child(pid_t pid, int *status)
{
	long long deadline = now_ms() + CRIU_TIMEOUT_MS;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
		usleep(2000);
	}
}

/* stdin from in_fd (-1: /dev/null), stdout and stderr to /dev/null. */
static void exec_with_stdin(char *const argv[], int in_fd)
{
	int devnull = open("/dev/null", O_RDWR);

	dup2(in_fd >= 0 ? in_fd : devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	execv(argv[0], argv);
	_exit(127);
}

static void exec_quietly(char *const argv[])
{
	int devnull = open("/dev/null", O_RDWR);

	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	execv(argv[0], argv);
	_exit(127);
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
 * The restore of a process that was on a terminal, in the child that has
 * entered the node's pid namespace (its children are in it).  A first
 * child, the keeper, leads a new session whose controlling terminal is
 * tty_fd, and runs CRIU in it: CRIU (--shell-job) restores the process in
 * the keeper's session, on that terminal.  The keeper passes CRIU's exit
 * status up through a pipe, so this child can end with it.
 *
 * The keeper also adopts the process (a child subreaper) while it is held
 * stopped: when CRIU exits, the process, in a process group of its own
 * (a shell's job) with a stopped member and no parent left in the
 * session, would be an orphaned group, and the kernel sends those SIGHUP
 * and SIGCONT.  Adopted, it has a parent in its session.  When hold_fd's
 * writer closes it (the move committed: the process runs; or aborted),
 * the keeper gives the terminal's foreground to its own group and exits:
 * as a session leader's exit it hangs up only itself, the process goes to
 * the node's init, and keeps the terminal open, but no longer as its
 * controlling terminal.
 */
static void restore_on_terminal(char *const argv[], int tty_fd, int hold_fd)
{
	int status_pipe[2], cstatus;
	unsigned char code = 122;
	pid_t keeper, criu_pid;

	if (pipe(status_pipe) < 0)
		_exit(126);
	keeper = fork();
	if (keeper < 0)
		_exit(126);
	if (keeper == 0) {
		char byte;

		close(status_pipe[0]);
		if (setsid() < 0 || ioctl(tty_fd, TIOCSCTTY, 0) < 0 ||
		    prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
			_exit(126);
		criu_pid = fork();
		if (criu_pid < 0)
			_exit(126);
		if (criu_pid == 0) {
			close(status_pipe[1]);
			close(hold_fd);
			exec_criu_in_node(argv, tty_fd);
		}
		while (waitpid(criu_pid, &cstatus, 0) < 0)
			if (errno != EINTR)
				_exit(124);
		code = WIFEXITED(cstatus) ? (unsigned char)WEXITSTATUS(cstatus) : 123;
		if (write(status_pipe[1], &code, 1) != 1)
			_exit(124);
		/* Keep nothing of the process's (its pipes' ends: their readers
		 * must see them close when it ends) but hold_fd and the
		 * terminal, as fds 3 and 4. */
		if (dup2(hold_fd, 3) < 0 || dup2(tty_fd, 4) < 0)
			_exit(124);
		syscall(SYS_close_range, 5, ~0U, 0);
		for (;;) {
			ssize_t n = read(3, &byte, 1);

			if (n == 0 || (n < 0 && errno != EINTR))
				break;
		}
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(4, getpgrp());
		/* An aborted move's killed copy is our child: reap it. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		_exit(0);
	}
	close(status_pipe[1]);
	close(hold_fd);
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
 * 100 + i.  Returns the child to wait for; its exit status 124-126 means
 * it could not enter the namespaces.
 */
static pid_t spawn_criu(char *const argv[], int pidns_fd, int mntns_fd,
			const struct criu_inherit *inherit, int ninherit)
{
	int tty_fd = -1, hold_fd = -1;
	pid_t child = fork();

	if (child != 0)
		return child < 0 ? -errno : child;
	for (int i = 0; i < ninherit; i++) {
		if (dup2(inherit[i].fd, 100 + i) < 0)
			_exit(126);
		if (strcmp(inherit[i].key, CRIU_INHERIT_TTY) == 0)
			tty_fd = 100 + i;
		if (strcmp(inherit[i].key, CRIU_INHERIT_TTY_HOLD) == 0)
			hold_fd = 100 + i;
	}
	if (pidns_fd >= 0) {
		pid_t criu_pid;
		int cstatus;

		if (setns(pidns_fd, CLONE_NEWPID) < 0)
			_exit(126);
		if (tty_fd >= 0 && hold_fd >= 0 && mntns_fd < 0)
			restore_on_terminal(argv, tty_fd, hold_fd); /* does not return */
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
			exec_quietly(argv);
		}
		/* Now inside the node's pid namespace: a /proc of it. */
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			_exit(125);
	}
	exec_quietly(argv);
	return 0; /* not reached */
}

int criu_dump_tree_in(const char *criu, int pidns_fd, int mntns_fd, pid_t pid,
		      const char *freezer_path, const char *dir, char *err, size_t errlen)
{
	char pidtext[32];
	char *argv[] = {
		(char *)criu, "dump",
		"--tree", pidtext,
		"--images-dir", (char *)dir,
		"--log-file", "dump.log", "-v4",
		/* We froze the tree, silently; CRIU leaves it as it found it. */
		"--freeze-cgroup", (char *)freezer_path,
		"--leave-running",
		/* The session and process group leaders (a shell) stay behind. */
		"--shell-job",
		NULL,
	};
	int status, r;
	pid_t child;

	snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
	child = spawn_criu(argv, pidns_fd, mntns_fd, NULL, 0);
	if (child < 0)
		return child;
	r = wait_child(child, &status);
	if (r < 0) {
		snprintf(err, errlen, "criu dump: %s", strerror(-r));
		return r;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (pidns_fd >= 0 && WIFEXITED(status) && WEXITSTATUS(status) >= 124)
			snprintf(err, errlen, "cannot enter the node's namespaces to dump");
		else
			log_reason(dir, "dump.log", err, errlen);
		return -ECANCELED;
	}
	return 0;
}

int criu_dump_tree(const char *criu, pid_t pid, const char *freezer_path, const char *dir,
		   char *err, size_t errlen)
{
	return criu_dump_tree_in(criu, -1, -1, pid, freezer_path, dir, err, errlen);
}

int criu_restore_tree(const char *criu, const char *dir, int pidns_fd,
		      const struct criu_inherit *inherit, int ninherit, pid_t *pid, char *err,
		      size_t errlen)
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
		    strcmp(inherit[i].key, CRIU_INHERIT_TTY_HOLD) == 0)
			continue;
		snprintf(specs[i], sizeof(specs[i]), "fd[%d]:%s", 100 + i, inherit[i].key);
		argv[argc++] = "--inherit-fd";
		argv[argc++] = specs[i];
	}
	argv[argc] = NULL;
	snprintf(pidfile, sizeof(pidfile), "%s/restored.pid", dir);
	child = spawn_criu(argv, pidns_fd, -1, inherit, ninherit);
	if (child < 0)
		return child;
	r = wait_child(child, &status);
	if (r < 0) {
		snprintf(err, errlen, "criu restore: %s", strerror(-r));
		return r;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) >= 124)
			snprintf(err, errlen, "cannot enter the node's namespaces to restore");
		else
			log_reason(dir, "restore.log", err, errlen);
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
