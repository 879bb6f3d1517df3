/*
 * test-criu_run.c - the migration mechanics on one machine, with the real
 * CRIU: a running process, frozen without its parent noticing, is dumped,
 * and restored in another pid namespace (a node's) with its original pid
 * and its memory intact, held stopped until released.  Needs root,
 * cgroup v2 and a working CRIU (scripts/install-deps); skipped without.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "criu_run.h"
#include "freezer.h"
#include "memory_room.h"
#include "util.h"

#define SIZE (16 << 20)

static char criu[4096];

static bool can_run(void)
{
	char root[256], version[32];

	return geteuid() == 0 && freezer_cgroup2_root(root, sizeof(root)) == 0 &&
	       criu_locate(NULL, criu, sizeof(criu)) == 0 &&
	       criu_version(criu, version, sizeof(version)) == 0;
}

static unsigned long checksum(const unsigned char *p, size_t len)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = sum * 31 + p[i];
	return sum;
}

/* A process with 16 MiB of known contents; *addr is where they are. */
static pid_t start_subject(unsigned long *addr, unsigned long *sum)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		unsigned char *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned long info[2];
		int devnull = open("/dev/null", O_RDWR);

		/* No PR_SET_PDEATHSIG here: CRIU would restore it and the copy
		 * would die with CRIU. */
		for (size_t i = 0; i < SIZE; i++)
			mem[i] = (unsigned char)(i * 7 + i / 4096);
		info[0] = (unsigned long)mem;
		info[1] = checksum(mem, SIZE);
		setsid();
		if (write(p[1], info, sizeof(info)) != sizeof(info))
			_exit(99);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		syscall(SYS_close_range, 3, ~0U, 0);
		for (;;)
			pause();
	}
	close(p[1]);
	{
		unsigned long info[2];

		cr_assert_eq(read(p[0], info, sizeof(info)), (ssize_t)sizeof(info));
		*addr = info[0];
		*sum = info[1];
	}
	close(p[0]);
	return pid;
}

static void woken(int sig)
{
	(void)sig;
}

/* A stand-in for a node: pid 1 of a new pid namespace that reaps (also
 * what is orphaned to it after it had no child: SIGCHLD ends its pause). */
static pid_t start_node_init(void)
{
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGCHLD, woken);
		for (;;)
			if (waitpid(-1, NULL, 0) < 0)
				pause();
	}
	return pid;
}

/* The host pid of the child of init whose pid in the namespace is nspid. */
static pid_t find_in_namespace(pid_t init, pid_t nspid)
{
	char path[128], line[256];
	FILE *f;
	pid_t found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!found && fscanf(f, "%d", &found) == 1) {
		FILE *s;
		int host = 0, inner = 0;

		snprintf(path, sizeof(path), "/proc/%d/status", found);
		s = fopen(path, "r");
		while (s && fgets(line, sizeof(line), s))
			if (sscanf(line, "NSpid: %d %d", &host, &inner) == 2)
				break;
		if (s)
			fclose(s);
		if (inner != nspid)
			found = 0;
	}
	fclose(f);
	return found;
}

static char state_of(pid_t pid)
{
	char path[64], line[256], st = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "State: %c", &st) == 1)
			break;
	if (f)
		fclose(f);
	return st;
}

/* A test's end: its freezer, its subject and node init killed and
 * reaped, its image directory removed. */
static void end_test(struct freezer *f, pid_t subject, pid_t init, const char *dir)
{
	char cmd[128];

	freezer_release(f);
	kill(subject, SIGKILL);
	waitpid(subject, NULL, 0);
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(criu_run, dump_frozen_and_restore_in_a_node_namespace_with_the_same_pid)
{
	char dir[] = "/tmp/bproc-test-criu-XXXXXX", err[512] = "", name[64], nspath[64];
	unsigned long addr, sum;
	struct freezer f;
	pid_t subject, init, nspid = 0, restored;
	long long t0, t1, t2;
	unsigned char *copy;
	int status, nsfd, memfd, r;

	if (!can_run())
		cr_skip_test("needs root, cgroup v2 and a working CRIU");
	subject = start_subject(&addr, &sum);
	init = start_node_init();
	cr_assert_not_null(mkdtemp(dir));

	snprintf(name, sizeof(name), "test-criu-%d", (int)subject);
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_add(&f, subject), 0);
	cr_assert_eq(freezer_freeze(&f), 0);
	t0 = now_ms();
	r = criu_dump_tree(criu, subject, f.path, dir, err, sizeof(err));
	t1 = now_ms();
	cr_assert_eq(r, 0, "dump: %s", err);
	cr_expect_eq(waitpid(subject, &status, WNOHANG | WUNTRACED | WCONTINUED), 0,
		     "the parent saw the dump");

	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)init);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(nsfd, 0);
	r = criu_restore_tree(criu, dir, nsfd, NULL, 0, false, &nspid, err, sizeof(err));
	t2 = now_ms();
	close(nsfd);
	cr_assert_eq(r, 0, "restore: %s", err);
	cr_log_info("16 MiB process: dump %lld ms, restore %lld ms", t1 - t0, t2 - t1);
	cr_expect_eq(nspid, subject, "restored as %d in the node, was %d", nspid, subject);

	restored = find_in_namespace(init, subject);
	cr_assert_gt(restored, 0, "no process %d in the node's namespace", subject);
	cr_expect_eq(state_of(restored), 'T', "held stopped until the move commits");

	/* The memory came across. */
	snprintf(nspath, sizeof(nspath), "/proc/%d/mem", (int)restored);
	memfd = open(nspath, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(memfd, 0);
	copy = malloc(SIZE);
	cr_assert_eq(pread(memfd, copy, SIZE, (off_t)addr), SIZE);
	cr_expect_eq(checksum(copy, SIZE), sum, "memory differs after restore");
	free(copy);
	close(memfd);

	kill(restored, SIGCONT);
	usleep(20000);
	cr_expect_neq(state_of(restored), 'T', "runs once released");
	kill(restored, SIGKILL);

	/* The original is still frozen, untouched, in our cgroup. */
	cr_expect_eq(state_of(subject) == 'S' || state_of(subject) == 'D', 1);
	end_test(&f, subject, init, dir);
}

/*
 * A restore under a memory limit it cannot meet (a memory cage of 8 MiB
 * for a python3 that holds 16 MiB, CRIU_INHERIT_CGROUP, as the fault point
 * slave-memory-full does): the OOM killer ends it, the restore fails,
 * the cage says so, and once the cage is released nothing of the copy
 * is left in the node.  The same image then restores without the cage.
 */
Test(criu_run, a_restore_over_its_memory_limit_fails_and_leaves_nothing)
{
	char dir[] = "/tmp/bproc-test-criu-XXXXXX", err[512] = "", name[64], nspath[64];
	char procs[PATH_MAX + 32];
	struct freezer f;
	struct memory_cage cage;
	struct criu_inherit in;
	pid_t subject, init, nspid = 0, restored;
	int nsfd, cage_fd, r;

	if (!can_run())
		cr_skip_test("needs root, cgroup v2 and a working CRIU");
	/* A python3 of its own (not a fork of the test runner, whose arena
	 * is a deleted file that a killed restore would leave behind). */
	subject = fork();
	cr_assert_geq(subject, 0);
	if (subject == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		syscall(SYS_close_range, 3, ~0U, 0);
		setsid();
		execlp("python3", "python3", "-c",
		       "import time; b = bytearray(16 << 20); time.sleep(1000)", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && memory_of_tree(&subject, 1) < (16u << 20); i++)
		usleep(10000);
	cr_assert_geq(memory_of_tree(&subject, 1), 16u << 20, "python3 never held 16 MiB");
	init = start_node_init();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(name, sizeof(name), "test-criu-mem-%d", (int)subject);
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_add(&f, subject), 0);
	cr_assert_eq(freezer_freeze(&f), 0);
	r = criu_dump_tree(criu, subject, f.path, dir, err, sizeof(err));
	cr_assert_eq(r, 0, "dump: %s", err);

	snprintf(name, sizeof(name), "test-criu-cage-%d", (int)subject);
	r = memory_cage_create(&cage, name, 8u << 20);
	if (r == -ENOENT) {
		freezer_release(&f);
		kill(subject, SIGKILL);
		kill(init, SIGKILL);
		cr_skip_test("no memory controller");
	}
	cr_assert_eq(r, 0, "memory cage: %s", strerror(-r));
	memory_cage_procs(&cage, procs, sizeof(procs));
	cage_fd = open(procs, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(cage_fd, 0);
	in.fd = cage_fd;
	in.key = CRIU_INHERIT_CGROUP;
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)init);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(nsfd, 0);
	r = criu_restore_tree(criu, dir, nsfd, &in, 1, false, &nspid, err, sizeof(err));
	close(cage_fd);
	cr_log_info("restore under 8 MiB: %d (%s), %llu OOM kills", r, err,
		    (unsigned long long)memory_cage_oom_kills(&cage));
	cr_expect_lt(r, 0, "the restore under 8 MiB succeeded");
	cr_expect_geq(memory_cage_oom_kills(&cage), 1, "the cage saw no OOM kill");
	memory_cage_release(&cage, true);
	/* Killed; the node's init reaps them. */
	for (int i = 0; i < 200 && find_in_namespace(init, subject) > 0; i++)
		usleep(10000);
	cr_expect_eq(find_in_namespace(init, subject), 0, "a copy is left in the node");

	/* The image was good: without the cage it restores. */
	err[0] = '\0';
	r = criu_restore_tree(criu, dir, nsfd, NULL, 0, false, &nspid, err, sizeof(err));
	close(nsfd);
	cr_expect_eq(r, 0, "restore without the cage: %s", err);
	restored = r == 0 ? find_in_namespace(init, subject) : 0;
	cr_expect_gt(restored, 0);
	if (restored > 0)
		kill(restored, SIGKILL);
	end_test(&f, subject, init, dir);
}

Test(criu_run, dump_of_a_missing_process_fails_clearly)
{
	char dir[] = "/tmp/bproc-test-criu-XXXXXX", err[512] = "";
	char cmd[128];
	struct freezer f;
	int r;

	if (!can_run())
		cr_skip_test("needs root, cgroup v2 and a working CRIU");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "test-criu-missing-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, cmd), 0);
	r = criu_dump_tree(criu, 999999, f.path, dir, err, sizeof(err));
	cr_expect_lt(r, 0);
	cr_expect(strstr(err, "criu") != NULL, "no reason given: '%s'", err);
	freezer_release(&f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Field 7 of /proc/PID/stat: the controlling terminal's device number. */
static unsigned long tty_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long tty = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %*c %*d %*d %*d %lu", &tty);
	if (f)
		fclose(f);
	return tty;
}

/* Read from fd until want shows up or a second passes. */
static bool read_until(int fd, const char *want)
{
	char buf[4096];
	size_t have = 0;
	long long end = now_ms() + 1000;

	while (now_ms() < end && have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n > 0) {
			have += (size_t)n;
			buf[have] = '\0';
			if (strstr(buf, want))
				return true;
		} else {
			usleep(10000);
		}
	}
	return false;
}

/*
 * A shell job on a terminal (its session's leader, the "shell", stays
 * behind) is restored in a node's namespace on another pseudo-terminal,
 * which becomes its controlling terminal, in a session that outlives
 * CRIU, whose leader reports its end (CRIU_INHERIT_TTY, CRIU_INHERIT_REPORT).
 */
Test(criu_run, a_process_on_a_terminal_gets_the_new_terminal)
{
	char dir[] = "/tmp/bproc-test-criu-XXXXXX", err[512] = "", name[64], nspath[64];
	int m1, s1, m2, s2, report[2], p[2], nsfd, r;
	struct criu_inherit inherit[2];
	struct freezer f;
	pid_t shell, subject, init, nspid = 0, restored;
	struct stat st;

	if (!can_run())
		cr_skip_test("needs root, cgroup v2 and a working CRIU");
	m1 = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(m1, 0);
	cr_assert_eq(grantpt(m1) | unlockpt(m1), 0);
	s1 = open(ptsname(m1), O_RDWR | O_NOCTTY);
	cr_assert_geq(s1, 0);
	cr_assert_eq(pipe(p), 0);
	shell = fork();
	cr_assert_geq(shell, 0);
	if (shell == 0) {
		/* The shell: leads the terminal's session, runs one job. */
		pid_t job;

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* the shell is not dumped */
		setsid();
		ioctl(s1, TIOCSCTTY, 0);
		job = fork();
		if (job == 0) {
			int devnull = open("/dev/null", O_RDWR);

			setpgid(0, 0);
			signal(SIGTTOU, SIG_IGN);
			tcsetpgrp(s1, getpgrp());
			dup2(s1, 0);
			dup2(s1, 1);
			dup2(devnull, 2);
			job = getpid();
			if (write(p[1], &job, sizeof(job)) != sizeof(job))
				_exit(1);
			syscall(SYS_close_range, 3, ~0U, 0);
			/* A program of its own: none of the test runner's
			 * memory (shared with the other tests) in the dump. */
			execl("/bin/sh", "sh", "-c", "while read -r l; do echo \"echo:$l\"; done",
			      (char *)NULL);
			_exit(1);
		}
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &subject, sizeof(subject)), (ssize_t)sizeof(subject));
	close(p[0]);
	fcntl(m1, F_SETFL, O_NONBLOCK);
	cr_assert_eq(write(m1, "one\n", 4), 4);
	cr_assert(read_until(m1, "echo:one"), "the job answers on its first terminal");

	init = start_node_init();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(name, sizeof(name), "test-criu-tty-%d", (int)subject);
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_add(&f, subject), 0);
	cr_assert_eq(freezer_freeze(&f), 0);
	r = criu_dump_tree(criu, subject, f.path, dir, err, sizeof(err));
	cr_assert_eq(r, 0, "dump: %s", err);

	m2 = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(m2, 0);
	cr_assert_eq(grantpt(m2) | unlockpt(m2), 0);
	s2 = open(ptsname(m2), O_RDWR | O_NOCTTY);
	cr_assert_geq(s2, 0);
	cr_assert_eq(fstat(s2, &st), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report), 0);
	inherit[0] = (struct criu_inherit){ .fd = s2, .key = CRIU_INHERIT_TTY };
	inherit[1] = (struct criu_inherit){ .fd = report[0], .key = CRIU_INHERIT_REPORT };
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)init);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(nsfd, 0);
	r = criu_restore_tree(criu, dir, nsfd, inherit, 2, false, &nspid, err, sizeof(err));
	close(nsfd);
	close(s2);
	close(report[0]);
	cr_assert_eq(r, 0, "restore: %s", err);
	{
		/* Until the commit, the keeper's child, not init's. */
		char cmd[160];
		FILE *f;

		snprintf(cmd, sizeof(cmd),
			 "grep -l 'NSpid:.*[[:space:]]%d$' /proc/[0-9]*/status | grep -v '^/proc/%d/' | cut -d/ -f3",
			 (int)subject, (int)subject);
		f = popen(cmd, "r");
		restored = 0;
		if (f && fscanf(f, "%d", &restored) != 1)
			restored = 0;
		if (f)
			pclose(f);
	}
	cr_assert_gt(restored, 0, "no process %d in the node's namespace", subject);
	cr_expect_eq(tty_of(restored), (unsigned long)st.st_rdev,
		     "its controlling terminal is the new one");

	usleep(100000); /* no hangup on the way, while it is held stopped */
	cr_expect_eq(state_of(restored), 'T', "held stopped until the move commits");
	kill(restored, SIGCONT);
	usleep(100000);
	fcntl(m2, F_SETFL, O_NONBLOCK);
	cr_assert_eq(write(m2, "two\n", 4), 4);
	cr_expect(read_until(m2, "echo:two"), "the copy reads and writes the new terminal (state %c)",
		  state_of(restored));
	cr_expect_eq(tty_of(restored), (unsigned long)st.st_rdev, "which is still its terminal");

	/* Its end is reported by the keeper, which then goes. */
	kill(restored, SIGKILL);
	{
		struct criu_child_report rep;
		bool ended = false;

		while (!ended && recv(report[1], &rep, sizeof(rep), 0) == (ssize_t)sizeof(rep))
			ended = rep.pid == subject && WIFSIGNALED(rep.status) &&
				WTERMSIG(rep.status) == SIGKILL;
		cr_expect(ended, "the keeper reports the end of %d", subject);
		cr_expect_eq(recv(report[1], &rep, sizeof(rep), 0), 0, "and goes");
	}
	close(report[1]);
	freezer_release(&f);
	kill(subject, SIGKILL);
	kill(shell, SIGKILL);
	waitpid(shell, NULL, 0);
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	close(m1);
	close(s1);
	close(m2);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		cr_expect_eq(system(cmd), 0);
	}
}
