/*
 * test-movable.c - the check before a move (migrate/movable.c), on real
 * processes: a child opens fds of one kind, waits, and the verdict on it
 * is checked: movable (and which files the node must have) or refused
 * with a message naming the resource.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "movable.h"
#include "util.h"

typedef void (*setup_fn)(void *arg);

static pid_t child;

static void stop_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
}

/* A child that runs setup, says it is ready, and waits to be killed. */
static pid_t start(setup_fn setup, void *arg)
{
	int p[2];
	char c;

	cr_assert_eq(pipe(p), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* Only what setup opens: not the test runner's fds. */
		if (dup2(p[1], 100) < 0)
			_exit(1);
		syscall(SYS_close_range, 3, 99, 0);
		syscall(SYS_close_range, 101, ~0U, 0);
		/* Its own session, so the test holds wherever the runner's
		 * session leader is (outside a CI container's namespace). */
		setsid();
		setup(arg);
		/* Drop the test runner's memory (its arena is a deleted
		 * file), keep the fds.  The pipe closes at the exec: ready. */
		fcntl(100, F_SETFD, FD_CLOEXEC);
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(1);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 0);
	close(p[0]);
	cr_assert_eq(waitpid(child, NULL, WNOHANG), 0, "the child's setup failed");
	return child;
}

static int verdict(struct movable *mv, char *reason, size_t len)
{
	return movable_scan(child, mv, reason, len);
}

static const struct movable_file *find_file(const struct movable *mv, const char *path)
{
	for (size_t i = 0; i < mv->nfiles; i++)
		if (strcmp(mv->files[i].path, path) == 0)
			return &mv->files[i];
	return NULL;
}

static void expect_refused(setup_fn setup, void *arg, const char *words)
{
	struct movable mv;
	char reason[512];
	int r;

	start(setup, arg);
	r = verdict(&mv, reason, sizeof(reason));
	stop_child();
	cr_assert_eq(r, -EOPNOTSUPP, "expected a refusal naming '%s', got %d (%s)", words, r,
		     reason);
	cr_assert(strstr(reason, words), "the reason '%s' should say '%s'", reason, words);
}

TestSuite(movable, .fini = stop_child);

/* --- movable ------------------------------------------------------------- */

static char data_file[] = "/var/tmp/bproc-movable-XXXXXX";

static void plain(void *arg)
{
	int p[2], s[2];

	(void)arg;
	if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
		_exit(2);
	open("/dev/null", O_RDWR);
	open("/dev/urandom", O_RDONLY);
	open(data_file, O_RDONLY);
	open("/proc/self/status", O_RDONLY);
	eventfd(0, 0);
	if (chdir("/var/tmp") < 0)
		_exit(2);
}

Test(movable, ordinary_fds_move_and_files_are_listed)
{
	struct movable mv;
	char reason[512];
	const struct movable_file *f;
	int fd = mkstemp(data_file);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "12345", 5), 5);
	close(fd);
	start(plain, NULL);
	cr_assert_eq(verdict(&mv, reason, sizeof(reason)), 0, "refused: %s", reason);
	stop_child();
	unlink(data_file);

	f = find_file(&mv, data_file);
	cr_assert_not_null(f, "the open file is in the list");
	cr_assert_eq(f->type, S_IFREG);
	cr_assert(f->check_size);
	cr_assert_eq(f->size, 5);
	f = find_file(&mv, "/var/tmp");
	cr_assert_not_null(f, "the working directory is in the list");
	cr_assert_eq(f->type, S_IFDIR);
	cr_assert_null(find_file(&mv, "/proc/self/status"), "/proc is the node's own");
	cr_assert(find_file(&mv, "/usr/bin/sleep") || find_file(&mv, "/bin/sleep"),
		  "its program is in the list");
	cr_assert_null(find_file(&mv, "/dev/null"), "harmless devices are everywhere");
	cr_assert_eq(mv.tty_rdev, 0);
	movable_free(&mv);
}

static void on_pty(void *arg)
{
	int master, slave;

	(void)arg;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
		_exit(2);
	/* The master stays with the parent's copy of the world: close ours. */
	close(master);
	dup2(slave, 0);
	dup2(slave, 1);
	dup2(slave, 2);
	close(slave);
}

Test(movable, a_process_on_a_pseudo_terminal_moves)
{
	struct movable mv;
	char reason[512];

	start(on_pty, NULL);
	cr_assert_eq(verdict(&mv, reason, sizeof(reason)), 0, "refused: %s", reason);
	cr_assert_neq(mv.tty_rdev, 0, "the terminal is named");
	cr_assert_eq(mv.tty_stdio, 7, "fds 0, 1 and 2 are on it");
	movable_free(&mv);
}

/* --- refused --------------------------------------------------------------- */

static int listener(int type, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int s = socket(AF_INET, type, 0);

	cr_assert_geq(s, 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)addr, sizeof(*addr)), 0);
	if (type == SOCK_STREAM)
		cr_assert_eq(listen(s, 4), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)addr, &len), 0);
	return s;
}

static void tcp_client(void *arg)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(s, arg, sizeof(struct sockaddr_in)) < 0)
		_exit(2);
}

Test(movable, a_tcp_connection_is_refused)
{
	struct sockaddr_in addr;
	int l = listener(SOCK_STREAM, &addr);
	char words[64];

	snprintf(words, sizeof(words), "TCP connection 127.0.0.1:");
	expect_refused(tcp_client, &addr, words);
	snprintf(words, sizeof(words), "-> 127.0.0.1:%u", ntohs(addr.sin_port));
	expect_refused(tcp_client, &addr, words);
	close(l);
}

static void tcp_listener(void *arg)
{
	struct sockaddr_in addr;

	(void)arg;
	listener(SOCK_STREAM, &addr);
}

Test(movable, a_listening_socket_is_refused)
{
	expect_refused(tcp_listener, NULL, "listening TCP socket on 127.0.0.1:");
}

static void udp(void *arg)
{
	(void)arg;
	socket(AF_INET6, SOCK_DGRAM, 0);
}

Test(movable, any_inet_socket_is_refused)
{
	expect_refused(udp, NULL, "UDP socket");
}

static void unix_client(void *arg)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (connect(s, arg, sizeof(struct sockaddr_un)) < 0)
		_exit(2);
}

static void unix_listener(void *arg)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (bind(s, arg, sizeof(struct sockaddr_un)) < 0 || listen(s, 1) < 0)
		_exit(2);
}

Test(movable, unix_sockets_to_outside_are_refused)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0);

	/* Abstract names: nothing to clean up. */
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "bproc-movable-%d", getpid());
	cr_assert_eq(bind(l, (struct sockaddr *)&addr, sizeof(addr)), 0);
	cr_assert_eq(listen(l, 4), 0);
	expect_refused(unix_client, &addr, "connected to a process that stays here");
	close(l);

	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "bproc-movable-l-%d", getpid());
	expect_refused(unix_listener, &addr, "listening unix socket @bproc-movable-l-");
}

static void deleted(void *arg)
{
	char path[] = "/var/tmp/bproc-deleted-XXXXXX";

	(void)arg;
	if (mkstemp(path) < 0)
		_exit(2);
	unlink(path);
}

Test(movable, a_deleted_file_is_refused)
{
	expect_refused(deleted, NULL, "deleted file /var/tmp/bproc-deleted-");
}

static void device(void *arg)
{
	(void)arg;
	if (open("/dev/full", O_WRONLY) < 0)
		_exit(2);
}

Test(movable, a_device_is_refused)
{
	expect_refused(device, NULL, "the device /dev/full");
}

static void ptmx(void *arg)
{
	(void)arg;
	if (posix_openpt(O_RDWR) < 0)
		_exit(2);
}

Test(movable, a_terminal_master_is_refused)
{
	expect_refused(ptmx, NULL, "master side of a pseudo-terminal");
}

static void uring(void *arg)
{
	struct io_uring_params p;

	(void)arg;
	memset(&p, 0, sizeof(p));
	int fd = (int)syscall(SYS_io_uring_setup, 4, &p);

	if (fd < 0 || fcntl(fd, F_SETFD, 0) < 0)
		_exit(2);
}

Test(movable, io_uring_is_refused)
{
	struct io_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0)
		cr_skip_test("io_uring is not available here (%s)", strerror(errno));
	close(fd);
	expect_refused(uring, NULL, "an io_uring");
}

static void pidfd(void *arg)
{
	(void)arg;
	int fd = (int)syscall(SYS_pidfd_open, getppid(), 0);

	if (fd < 0 || fcntl(fd, F_SETFD, 0) < 0)
		_exit(2);
}

Test(movable, a_pidfd_is_refused)
{
	expect_refused(pidfd, NULL, "a pidfd");
}

static void locked(void *arg)
{
	int fd = open(arg, O_RDONLY);

	if (fd < 0 || flock(fd, LOCK_SH) < 0)
		_exit(2);
}

Test(movable, a_file_lock_is_refused)
{
	char path[] = "/var/tmp/bproc-lock-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	expect_refused(locked, path, "holds a file lock");
	unlink(path);
}

static void two_ttys(void *arg)
{
	int m1, s1, m2, s2;

	(void)arg;
	if (openpty(&m1, &s1, NULL, NULL, NULL) < 0 || openpty(&m2, &s2, NULL, NULL, NULL) < 0)
		_exit(2);
	close(m1);
	close(m2);
}

Test(movable, two_terminals_are_refused)
{
	expect_refused(two_ttys, NULL, "a second terminal");
}

static void ns(void *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWUTS) < 0)
		_exit(2);
}

Test(movable, a_process_in_a_container_is_refused)
{
	expect_refused(ns, NULL, "UTS namespace of its own");
}

/* A process whose session leader is in a parent pid namespace: what every
 * process of a container started from outside looks like to CRIU. */
Test(movable, a_session_led_from_outside_its_pid_namespace_is_refused)
{
	struct movable mv;
	char reason[512];
	pid_t inner = 0;
	int p[2], r;

	cr_assert_eq(pipe(p), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		pid_t g;

		close(p[0]);
		if (unshare(CLONE_NEWPID) < 0)
			_exit(2);
		g = fork();
		if (g == 0) {
			close(p[1]);
			execl("/bin/sleep", "sleep", "1000", (char *)NULL);
			_exit(1);
		}
		if (write(p[1], &g, sizeof(g)) != sizeof(g))
			_exit(3);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &inner, sizeof(inner)), sizeof(inner));
	close(p[0]);
	usleep(100 * 1000); /* let it exec */
	r = movable_scan(inner, &mv, reason, sizeof(reason));
	kill(inner, SIGKILL);
	stop_child();
	cr_assert_eq(r, -EOPNOTSUPP, "expected a refusal, got %d (%s)", r, reason);
	cr_assert(strstr(reason, "session leader is outside"), "the reason '%s'", reason);
}

Test(movable, pid_that_does_not_exist)
{
	struct movable mv;
	char reason[256];

	cr_assert_eq(movable_scan(0x3ffffff0, &mv, reason, sizeof(reason)), -ESRCH);
}

/* --- what the node has ----------------------------------------------------- */

Test(movable, compare_names_the_missing_or_different_file)
{
	struct movable_file files[2] = {
		{ .path = "/tmp/data", .type = S_IFREG, .check_size = true, .size = 10, .what = "fd 3" },
		{ .path = "/srv", .type = S_IFDIR, .what = "its working directory" },
	};
	struct movable mv = { .files = files, .nfiles = 2 };
	struct movable_seen seen[2] = { { S_IFREG | 0644, 10 }, { S_IFDIR | 0755, 4096 } };
	char reason[256];

	cr_assert_eq(movable_compare(&mv, seen, 2, 1, reason, sizeof(reason)), 0);
	seen[0].mode = 0;
	cr_assert_eq(movable_compare(&mv, seen, 2, 1, reason, sizeof(reason)), -ENOENT);
	cr_assert_str_eq(reason, "fd 3, /tmp/data, is not on node 1");
	seen[0] = (struct movable_seen){ S_IFREG | 0644, 11 };
	cr_assert_eq(movable_compare(&mv, seen, 2, 1, reason, sizeof(reason)), -ENOENT);
	cr_assert_str_eq(reason, "fd 3, /tmp/data, differs on node 1 (11 bytes there, 10 here)");
	seen[0].size = 10;
	seen[1].mode = S_IFREG | 0644;
	cr_assert_eq(movable_compare(&mv, seen, 2, 2, reason, sizeof(reason)), -ENOENT);
	cr_assert_str_eq(reason,
			 "its working directory, /srv, is a file on node 2, a directory here");
	files[0].check_size = false;
	seen[0].size = 99;
	seen[1].mode = S_IFDIR;
	cr_assert_eq(movable_compare(&mv, seen, 2, 2, reason, sizeof(reason)), 0,
		     "a file being written may grow");
	cr_assert_eq(movable_compare(&mv, seen, 1, 2, reason, sizeof(reason)), -EPROTO);
}

Test(movable, add_files_adds_what_is_not_there_yet)
{
	struct movable_file theirs[2] = {
		{ .path = "/usr/bin/prog", .type = S_IFREG, .check_size = true, .size = 7,
		  .what = "its program" },
		{ .path = "/srv", .type = S_IFDIR, .what = "its working directory" },
	};
	struct movable from = { .files = theirs, .nfiles = 2 };
	struct movable to = { 0 };

	to.files = calloc(1, sizeof(*to.files));
	cr_assert_not_null(to.files);
	to.files[0] = (struct movable_file){ .path = strdup("/srv"), .type = S_IFDIR,
					     .what = "its working directory" };
	to.nfiles = 1;
	cr_assert_eq(movable_add_files(&to, &from), 0);
	cr_assert_eq(to.nfiles, 2, "/srv once");
	cr_assert_str_eq(to.files[0].path, "/srv");
	cr_assert_str_eq(to.files[1].path, "/usr/bin/prog");
	cr_assert_neq(to.files[1].path, theirs[0].path, "a copy of the path");
	cr_assert(to.files[1].check_size);
	cr_assert_eq(to.files[1].size, 7);
	cr_assert_str_eq(to.files[1].what, "its program");
	cr_assert_eq(movable_add_files(&to, &from), 0);
	cr_assert_eq(to.nfiles, 2, "nothing twice");
	movable_free(&to);
}

Test(movable, look_sees_type_and_size)
{
	const char *paths[] = { "/", "/nonexistent/bproc", "/proc/self/exe" };
	struct movable_seen seen[3];

	movable_look(paths, 3, seen);
	cr_assert(S_ISDIR(seen[0].mode));
	cr_assert_eq(seen[1].mode, 0);
	cr_assert(S_ISREG(seen[2].mode));
	cr_assert_gt(seen[2].size, 0);
}

/* The child forks a grandchild (which sleeps too); arg says what links
 * them or what the grandchild holds. */
static void with_grandchild(void *arg)
{
	const char *what = arg;
	int sv[2] = { -1, -1 };
	pid_t g;

	if (strcmp(what, "socketpair") == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		_exit(2);
	g = fork();
	if (g < 0)
		_exit(2);
	if (g == 0) {
		if (strcmp(what, "exit") == 0)
			_exit(0);
		if (strcmp(what, "lock") == 0) {
			char path[] = "/var/tmp/bproc-treelock-XXXXXX";
			int fd = mkstemp(path);

			if (fd < 0 || flock(fd, LOCK_EX) < 0)
				_exit(2);
			unlink(path);
		} else {
			close(sv[0]);
		}
		fcntl(100, F_SETFD, FD_CLOEXEC);
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(1);
	}
	if (sv[1] >= 0)
		close(sv[1]);
}

static pid_t only_child_of(pid_t pid)
{
	char path[96];
	FILE *f;
	int kid = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	for (int i = 0; i < 200 && kid == 0; i++) {
		f = fopen(path, "re");
		if (f && fscanf(f, "%d", &kid) != 1)
			kid = 0;
		if (f)
			fclose(f);
		if (!kid)
			usleep(10000);
	}
	return kid;
}

Test(movable, a_socketpair_within_a_tree_moves_with_it)
{
	struct movable mv;
	char reason[512];
	pid_t tree[2];

	tree[0] = start(with_grandchild, "socketpair");
	tree[1] = only_child_of(tree[0]);
	cr_assert_gt(tree[1], 0);
	/* Alone, the child's socket leads out of what moves. */
	cr_assert_eq(movable_scan(tree[0], &mv, reason, sizeof(reason)), -EOPNOTSUPP);
	cr_assert(strstr(reason, "connected to a process that stays here"), "%s", reason);
	cr_assert_eq(movable_scan_tree(tree, 2, &mv, reason, sizeof(reason)), 0, "%s", reason);
	movable_free(&mv);
	kill(tree[1], SIGKILL);
}

Test(movable, what_a_descendant_holds_stops_the_tree)
{
	struct movable mv;
	char reason[512], want[64];
	pid_t tree[2];

	tree[0] = start(with_grandchild, "lock");
	tree[1] = only_child_of(tree[0]);
	cr_assert_gt(tree[1], 0);
	cr_assert_eq(movable_scan(tree[0], &mv, reason, sizeof(reason)), 0, "%s", reason);
	movable_free(&mv);
	cr_assert_eq(movable_scan_tree(tree, 2, &mv, reason, sizeof(reason)), -EOPNOTSUPP);
	snprintf(want, sizeof(want), "its descendant %d: fd ", (int)tree[1]);
	cr_assert(strstr(reason, want) && strstr(reason, "holds a file lock"), "%s", reason);
	kill(tree[1], SIGKILL);
}

Test(movable, a_descendant_that_ended_meanwhile_is_skipped)
{
	struct movable mv;
	char reason[512];
	pid_t tree[3], gone;

	/* Its child ends at once: a zombie, never reaped by sleep(1). */
	tree[0] = start(with_grandchild, "exit");
	tree[1] = only_child_of(tree[0]);
	cr_assert_gt(tree[1], 0);
	for (int i = 0; i < 200 && proc_state(tree[1]) != 'Z'; i++)
		usleep(10000);
	cr_assert_eq(proc_state(tree[1]), 'Z');
	/* And one gone altogether. */
	gone = fork();
	if (gone == 0)
		_exit(0);
	cr_assert_eq(waitpid(gone, NULL, 0), gone);
	tree[2] = gone;
	cr_assert_eq(movable_scan_tree(tree, 3, &mv, reason, sizeof(reason)), 0, "%s", reason);
	cr_assert_str_empty(reason);
	movable_free(&mv);
	/* The root itself gone is still an error. */
	cr_assert_lt(movable_scan_tree(&gone, 1, &mv, reason, sizeof(reason)), 0);
}

/* --- seen from a node's slave ----------------------------------------------- */

static void own_mount_ns(void *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNS) < 0)
		_exit(2);
}

/* A process moved to a node lives in the mount namespace its restore made:
 * that one is the reference there, the others are the node's (here, ours). */
Test(movable, on_a_node_the_mount_namespace_is_the_restores)
{
	struct movable mv;
	char reason[512];
	struct movable_where where = { .ns_ref = getpid() };
	pid_t pid = start(own_mount_ns, NULL);

	cr_assert_eq(movable_scan(pid, &mv, reason, sizeof(reason)), -EOPNOTSUPP);
	cr_assert(strstr(reason, "mount namespace of its own") && strstr(reason, "master's"),
		  "%s", reason);
	where.mnt_ref = pid;
	cr_assert_eq(movable_scan_tree_in(&pid, 1, &where, &mv, reason, sizeof(reason)), 0, "%s",
		     reason);
	movable_free(&mv);
	/* Another mount namespace than the restore's stops it, named as the
	 * node's. */
	where.ns_ref = pid;
	where.mnt_ref = getpid();
	cr_assert_eq(movable_scan_tree_in(&pid, 1, &where, &mv, reason, sizeof(reason)),
		     -EOPNOTSUPP);
	cr_assert(strstr(reason, "mount namespace of its own") && strstr(reason, "the node's"),
		  "%s", reason);
}

Test(movable, on_a_node_a_descendant_is_named_by_its_pid_there)
{
	struct movable mv;
	char reason[512];
	pid_t tree[2], names[2] = { 40, 41 };
	struct movable_where where = { .ns_ref = getpid(), .mnt_ref = getpid(), .names = names };

	tree[0] = start(with_grandchild, "lock");
	tree[1] = only_child_of(tree[0]);
	cr_assert_gt(tree[1], 0);
	cr_assert_eq(movable_scan_tree_in(tree, 2, &where, &mv, reason, sizeof(reason)),
		     -EOPNOTSUPP);
	cr_assert(strstr(reason, "its descendant 41: fd ") && strstr(reason, "holds a file lock"),
		  "%s", reason);
	kill(tree[1], SIGKILL);
}

/* The memory check's verdict and message (movable_fits_memory). */
Test(movable, fits_memory)
{
	struct movable mv = { .memory = (1030ull << 20) - 5 };
	char reason[256] = "";

	cr_assert_eq(movable_fits_memory(&mv, 2048ull << 20, false, 1, 42, reason, sizeof(reason)), 0);
	cr_assert_eq(movable_fits_memory(&mv, mv.memory, false, 1, 42, reason, sizeof(reason)), 0);
	cr_assert_eq(movable_fits_memory(&mv, (512ull << 20) + 100, false, 1, 42, reason,
					 sizeof(reason)), -ENOMEM);
	cr_assert_str_eq(reason, "node 1: not enough memory: process 42 needs 1030 MiB, "
				 "the node has 512 MiB available");
	cr_assert_eq(movable_fits_memory(&mv, 0, true, 3, 7, reason, sizeof(reason)), -ENOMEM);
	cr_assert_str_eq(reason, "node 3: not enough memory: process 7 needs 1030 MiB, the node has "
				 "0 MiB available (under its memory cgroup's limit)");
	cr_assert_eq(movable_fits_memory(&mv, 1ull << 20, false, -1, 7, reason, sizeof(reason)),
		     -ENOMEM);
	cr_assert_str_eq(reason, "the master: not enough memory: process 7 needs 1030 MiB, it has "
				 "1 MiB available");
}

/* A scan counts the tree's memory: a python3 that holds 8 MiB (exec'd:
 * not the test runner's memory and fds). */
Test(movable, scan_counts_memory)
{
	struct movable mv = { 0 };
	char reason[256] = "";
	bool counted = false;
	int r;

	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		syscall(SYS_close_range, 3, ~0U, 0);
		setsid();
		execlp("python3", "python3", "-c",
		       "import time; b = bytearray(8 << 20); time.sleep(1000)", (char *)NULL);
		_exit(1);
	}
	/* Until python3 has made its bytearray. */
	for (int i = 0; i < 500 && !counted; i++) {
		r = movable_scan(child, &mv, reason, sizeof(reason));
		if (r == 0 && mv.memory >= (8u << 20))
			counted = true;
		else if (r == 0)
			movable_free(&mv);
		if (!counted)
			usleep(10000);
	}
	stop_child();
	cr_assert(counted, "never 8 MiB counted: %llu bytes (%s)",
		     (unsigned long long)mv.memory, reason);
	cr_assert_lt(mv.memory, 64u << 20);
	movable_free(&mv);
}

static void nothing(void *arg)
{
	(void)arg;
}

/* A process traced by someone is refused (the ghost needs ptrace), unless
 * the tracer is the one bproc_execmove's helper is: that trace is let be. */
Test(movable, a_traced_process_is_refused_unless_by_the_named_tracer)
{
	struct movable mv;
	char reason[512];
	pid_t p = start(nothing, NULL);
	int r;

	cr_assert_eq(ptrace(PTRACE_SEIZE, p, 0, 0), 0);
	r = movable_scan(p, &mv, reason, sizeof(reason));
	cr_assert_eq(r, -EOPNOTSUPP, "got %d (%s)", r, reason);
	cr_assert(strstr(reason, "traced by process"), "%s", reason);
	r = movable_scan_exec_tree(&p, 1, getpid(), &mv, reason, sizeof(reason));
	cr_assert_eq(r, 0, "got %d (%s)", r, reason);
	movable_free(&mv);
	r = movable_scan_exec_tree(&p, 1, getpid() + 1, &mv, reason, sizeof(reason));
	cr_assert_eq(r, -EOPNOTSUPP, "another tracer named: got %d (%s)", r, reason);
	ptrace(PTRACE_DETACH, p, 0, 0);
	stop_child();
}
