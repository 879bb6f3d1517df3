/*
 * test-image_state.c - migrate/image_state.c: whether a process was dumped
 * stopped, and by which signal, read from real CRIU dumps of a sleep
 * (running, stopped by SIGSTOP, stopped by SIGTSTP), and what it says of a
 * missing or damaged image.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "image_state.h"

#define CRIU CRIU_PRIVATE_PREFIX "/criu"

static char dir[64];
static pid_t leader;

static void cleanup(void)
{
	DIR *d;
	struct dirent *de;

	if (leader > 0) {
		kill(-leader, SIGKILL);
		waitpid(leader, NULL, 0);
		leader = 0;
	}
	if (!dir[0] || !(d = opendir(dir)))
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
	dir[0] = '\0';
}

TestSuite(image_state, .fini = cleanup);

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 0;
}

/*
 * A sleep in a group of its own under a session leader of ours (so that
 * the kernel lets SIGTSTP stop it: its group is not orphaned), stopped by
 * stop (0: left running), dumped by CRIU into dir (which kills it): its
 * pid.
 */
static pid_t dump_sleep(int stop)
{
	char pidstr[16];
	int p[2], status;
	pid_t pid, crit;

	if (geteuid() != 0 || access(CRIU, X_OK) != 0)
		cr_skip_test("needs root and " CRIU);
	snprintf(dir, sizeof(dir), "/tmp/bproc-test-state-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(pipe2(p, 0), 0);
	leader = fork();
	cr_assert_geq(leader, 0);
	if (leader == 0) {
		int null = open("/dev/null", O_RDWR);
		pid_t kid;

		setsid();
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(1);
		kid = fork();
		if (kid == 0) {
			setpgid(0, 0);
			syscall(SYS_close_range, 3, ~0U, 0);
			execl("/bin/sleep", "sleep", "1000", (char *)NULL);
			_exit(1);
		}
		if (write(p[1], &kid, sizeof(kid)) != sizeof(kid))
			_exit(1);
		close(p[1]);
		waitpid(kid, NULL, 0);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
	close(p[0]);
	/* Until it is sleep (its exec done). */
	for (int i = 0; i < 200; i++) {
		char exe[64], target[64] = "";

		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
		if (readlink(exe, target, sizeof(target) - 1) > 0 && strstr(target, "sleep"))
			break;
		usleep(10000);
	}
	if (stop) {
		cr_assert_eq(kill(pid, stop), 0);
		for (int i = 0; i < 200 && state_of(pid) != 'T'; i++)
			usleep(10000);
		cr_assert_eq(state_of(pid), 'T', "the sleep did not stop");
	}
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	crit = fork();
	cr_assert_geq(crit, 0);
	if (crit == 0) {
		execl(CRIU, "criu", "dump", "-t", pidstr, "-D", dir, "--shell-job", "-v1", "-o",
		      "dump.log", (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(crit, &status, 0), crit);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "criu dump failed (see %s/dump.log)",
		  dir);
	return pid;
}

Test(image_state, running)
{
	pid_t pid = dump_sleep(0);

	cr_expect_eq(image_stop_signal(dir, pid), 0);
}

Test(image_state, stopped_by_sigstop)
{
	pid_t pid = dump_sleep(SIGSTOP);

	cr_expect_eq(image_stop_signal(dir, pid), SIGSTOP);
}

Test(image_state, stopped_by_sigtstp)
{
	pid_t pid = dump_sleep(SIGTSTP);

	cr_expect_eq(image_stop_signal(dir, pid), SIGTSTP);
}

Test(image_state, missing_or_damaged)
{
	char path[128];
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/bproc-test-state-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_expect_eq(image_stop_signal(dir, 4242), -ENOENT);
	snprintf(path, sizeof(path), "%s/core-4242.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "not a core image", 16), 16);
	close(fd);
	cr_expect_eq(image_stop_signal(dir, 4242), -EINVAL);
}
