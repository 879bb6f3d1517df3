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
#include <sys/mount.h>
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

static void exec_quietly(char *const argv[])
{
	int devnull = open("/dev/null", O_RDWR);

	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	execv(argv[0], argv);
	_exit(127);
}

int criu_dump_tree(const char *criu, pid_t pid, const char *freezer_path, const char *dir,
		   char *err, size_t errlen)
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
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0)
		exec_quietly(argv);
	r = wait_child(child, &status);
	if (r < 0) {
		snprintf(err, errlen, "criu dump: %s", strerror(-r));
		return r;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_reason(dir, "dump.log", err, errlen);
		return -ECANCELED;
	}
	return 0;
}

/* In the child that becomes CRIU: its own /proc for the node's pids. */
static int enter_restore_namespaces(int pidns_fd)
{
	if (setns(pidns_fd, CLONE_NEWPID) < 0)
		return -errno;
	return 0;
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
	/* The inherited fds are handed to CRIU as fd 100, 101, ... */
	for (int i = 0; i < ninherit; i++) {
		snprintf(specs[i], sizeof(specs[i]), "fd[%d]:%s", 100 + i, inherit[i].key);
		argv[argc++] = "--inherit-fd";
		argv[argc++] = specs[i];
	}
	argv[argc] = NULL;
	snprintf(pidfile, sizeof(pidfile), "%s/restored.pid", dir);
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		pid_t criu_pid;
		int cstatus;

		r = enter_restore_namespaces(pidns_fd);
		if (r < 0)
			_exit(126);
		for (int i = 0; i < ninherit; i++)
			if (dup2(inherit[i].fd, 100 + i) < 0)
				_exit(126);
		/* setns(CLONE_NEWPID) applies to children: fork into it. */
		criu_pid = fork();
		if (criu_pid < 0)
			_exit(126);
		if (criu_pid == 0) {
			/* Now inside the node's pid namespace: a /proc of it. */
			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				_exit(125);
			exec_quietly(argv);
		}
		while (waitpid(criu_pid, &cstatus, 0) < 0)
			if (errno != EINTR)
				_exit(124);
		_exit(WIFEXITED(cstatus) ? WEXITSTATUS(cstatus) : 123);
	}
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
