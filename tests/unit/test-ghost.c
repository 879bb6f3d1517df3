/*
 * test-ghost.c - a real process becomes a ghost (ghost/ghost.c) while its
 * parent watches: identity kept, memory dropped, signals caught by the
 * tracer, and the exit status the tracer orders is what the parent sees.
 *
 * Three processes, as in bproc: the test is the PARENT; it forks the
 * PROCESS that will become a ghost, and a TRACER that plays bpmaster
 * (freeze, seize, exec the ghost, handle its signals).  Needs root and
 * cgroup v2; skipped without.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "freezer.h"
#include "ghost.h"
#include "util.h"

#define BIG (64 << 20)

/*
 * A subject: a child named name that runs setup(fd) (which says what it
 * has to say on fd, once ready) and then waits for ever.  Returns its
 * pid; *ready_fd is the read end, where the caller reads what it said.
 */
static pid_t start_subject(const char *name, void (*setup)(int fd), int *ready_fd)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, name);
		setpgid(0, 0);
		close(p[0]);
		setup(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

static void say_ready(int fd)
{
	if (write(fd, "r", 1) != 1)
		_exit(99);
}

/* The process: touch 64 MiB, say so, then wait for ever. */
static void touch_big(int fd)
{
	char *mem = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memset(mem, 7, BIG);
	say_ready(fd);
}

static pid_t start_process(int *ready_fd)
{
	pid_t pid = start_subject("ghost-subject", touch_big, ready_fd);
	char c;

	cr_assert_eq(read(*ready_fd, &c, 1), 1);
	return pid;
}

static bool have_cgroup2(void)
{
	char root[256];

	return geteuid() == 0 && freezer_cgroup2_root(root, sizeof(root)) == 0;
}

/* The tracer's reports to the test. */
enum { R_GHOSTED = 1, R_FAILED, R_SAW_SIGNAL, R_GONE };
struct report {
	int what;
	int value;
};

static void send_report(int fd, int what, int value)
{
	struct report r = { what, value };

	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(98);
}

static struct report get_report(int fd)
{
	struct report r = { 0, 0 };

	cr_assert_eq(read(fd, &r, sizeof(r)), (ssize_t)sizeof(r), "the tracer said nothing");
	return r;
}

/*
 * The tracer: ghost pid with ghost_path; forward (report) every foreign
 * signal; on the first foreign SIGUSR2, order the exit `order`.
 */
static void tracer_main(pid_t pid, const char *ghost_path, int order, int out)
{
	char *argv[] = { "ghost-subject", "--was", "here", NULL };
	struct freezer f;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "test-ghost-%d", (int)pid);
	if (freezer_create(&f, name) < 0 || freezer_add(&f, pid) < 0 ||
	    freezer_freeze(&f) < 0) {
		send_report(out, R_FAILED, -1);
		_exit(1);
	}
	r = ghost_seize(pid);
	if (r == 0) {
		freezer_remove(&f, pid); /* thaws it: it traps at once */
		r = ghost_exec(pid, ghost_path, argv, "ghost-subject", NULL);
	}
	freezer_release(&f);
	if (r < 0) {
		ghost_release(pid);
		send_report(out, R_FAILED, r);
		_exit(0);
	}
	send_report(out, R_GHOSTED, 0);
	for (;;) {
		struct ghost_event ev;
		int status;

		if (waitpid(pid, &status, __WALL) < 0)
			_exit(2);
		ghost_decode(pid, status, getpid(), &ev);
		switch (ev.kind) {
		case GHOST_GONE:
			send_report(out, R_GONE, ev.status);
			_exit(0);
		case GHOST_SIGNAL:
			if (ev.ours) {
				ghost_resume(pid, ev.sig); /* our order: let it act */
				break;
			}
			send_report(out, R_SAW_SIGNAL, ev.sig);
			ghost_resume(pid, 0); /* forwarded, not delivered here */
			/* Stand-ins for what the real process does on its node. */
			if (ev.sig == SIGUSR2)
				ghost_order_exit(pid, order);
			if (ev.sig == SIGWINCH)
				ghost_order_stop(pid, W_STOPCODE(SIGTSTP));
			break;
		case GHOST_STOPPED:
			ghost_listen(pid);
			break;
		case GHOST_OTHER:
			ghost_resume(pid, 0);
			break;
		}
	}
}

/* Fork a tracer with a pipe for its reports: in the child (0 returned)
 * p[1] is its end, in the parent p[0]. */
static pid_t fork_reporter(int p[2])
{
	pid_t tracer;

	cr_assert_eq(pipe(p), 0);
	tracer = fork();
	cr_assert_geq(tracer, 0);
	close(p[tracer == 0 ? 0 : 1]);
	return tracer;
}

static pid_t start_tracer(pid_t pid, const char *ghost_path, int order, int *reports)
{
	int p[2];
	pid_t tracer = fork_reporter(p);

	if (tracer == 0)
		tracer_main(pid, ghost_path, order, p[1]);
	*reports = p[0];
	return tracer;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* The parent must never see a stop or a continue that did not happen. */
static void expect_nothing_seen(pid_t pid)
{
	int status;

	cr_expect_eq(waitpid(pid, &status, WNOHANG | WUNTRACED | WCONTINUED), 0,
		     "the parent saw something (status 0x%x)", status);
}

/* Its name, as ps shows it. */
static void expect_comm(pid_t pid, const char *want)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	read_small(path, buf, sizeof(buf));
	cr_expect_str_eq(buf, want, "process %d", (int)pid);
}

/* The tracer said it could not make the ghost (the program is missing),
 * ended, and pid's parent saw nothing. */
static void expect_ghosting_failed(int reports, pid_t tracer, pid_t pid)
{
	struct report r = get_report(reports);

	cr_assert_eq(r.what, R_FAILED);
	cr_expect_eq(r.value, -ENOENT, "got %d", r.value);
	waitpid(tracer, NULL, 0);
	expect_nothing_seen(pid);
}

Test(ghost, stops_with_the_real_stop_signal_where_the_kernel_would)
{
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGSTOP), false), SIGSTOP);
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGSTOP), true), SIGSTOP);
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGTSTP), false), SIGTSTP);
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGTTIN), false), SIGTTIN);
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGTTOU), false), SIGTTOU);
	/* The kernel drops those in an orphaned group. */
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGTSTP), true), SIGSTOP);
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGTTOU), true), SIGSTOP);
	/* Not a stop signal (a traced stop's trap): a plain stop. */
	cr_expect_eq(ghost_stop_signal(W_STOPCODE(SIGTRAP), false), SIGSTOP);
	cr_expect_eq(ghost_stop_signal(W_EXITCODE(0, 0), false), SIGSTOP);
}

Test(ghost, keeps_identity_drops_memory_and_reports_exit_code)
{
	pid_t pid, tracer, pgid;
	int ready, reports, status;
	struct report r;
	char buf[512], path[64];
	long before;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	pid = start_process(&ready);
	pgid = getpgid(pid);
	before = rss_kb(pid);
	cr_assert_gt(before, BIG / 1024 / 2);

	tracer = start_tracer(pid, GHOST_PATH, W_EXITCODE(42, 0), &reports);
	r = get_report(reports);
	cr_assert_eq(r.what, R_GHOSTED, "ghosting failed: %d", r.value);
	expect_nothing_seen(pid);

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	cr_assert_gt(readlink(path, buf, sizeof(buf) - 1), 0);
	cr_expect(strstr(buf, "bproc-ghost") != NULL, "exe is %s", buf);
	expect_comm(pid, "ghost-subject\n");
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	read_small(path, buf, sizeof(buf));
	cr_expect_str_eq(buf, "ghost-subject", "argv[0] shown by ps");
	cr_expect_eq(getpgid(pid), pgid, "process group kept");
	cr_expect_eq(getsid(pid), getsid(0), "session kept");
	cr_expect_lt(rss_kb(pid), 8192, "the ghost holds %ld kB (the original %ld kB)", rss_kb(pid),
		     before);

	/* A signal to the ghost goes to the tracer, not to the ghost. */
	kill(pid, SIGUSR1);
	r = get_report(reports);
	cr_expect_eq(r.what, R_SAW_SIGNAL);
	cr_expect_eq(r.value, SIGUSR1);
	expect_nothing_seen(pid);

	/* SIGUSR2 makes our tracer order the exit. */
	kill(pid, SIGUSR2);
	r = get_report(reports);
	cr_expect_eq(r.value, SIGUSR2);
	r = get_report(reports);
	cr_expect_eq(r.what, R_GONE);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status), "status 0x%x", status);
	cr_expect_eq(WEXITSTATUS(status), 42);
	waitpid(tracer, NULL, 0);
	close(ready);
	close(reports);
}

Test(ghost, death_by_signal_reaches_the_parent)
{
	pid_t pid, tracer;
	int ready, reports, status;
	struct report r;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	pid = start_process(&ready);
	tracer = start_tracer(pid, GHOST_PATH, SIGTERM, &reports);
	r = get_report(reports);
	cr_assert_eq(r.what, R_GHOSTED, "ghosting failed: %d", r.value);
	/* SIGTERM from anyone else is only forwarded: the ghost lives. */
	kill(pid, SIGTERM);
	r = get_report(reports);
	cr_expect_eq(r.value, SIGTERM);
	expect_nothing_seen(pid);
	kill(pid, SIGUSR2);
	get_report(reports);
	r = get_report(reports);
	cr_expect_eq(r.what, R_GONE);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFSIGNALED(status), "status 0x%x", status);
	cr_expect_eq(WTERMSIG(status), SIGTERM);
	waitpid(tracer, NULL, 0);
	close(ready);
	close(reports);
}

Test(ghost, failed_exec_leaves_the_process_as_it_was)
{
	pid_t pid, tracer;
	int ready, reports, status;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	pid = start_process(&ready);
	tracer = start_tracer(pid, "/nonexistent/bproc-ghost", 0, &reports);
	expect_ghosting_failed(reports, tracer, pid);
	/* Still the original program, running, memory and all. */
	expect_comm(pid, "ghost-subject\n");
	cr_expect_gt(rss_kb(pid), BIG / 1024 / 2);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(ready);
	close(reports);
}

Test(ghost, stops_and_continues_show_to_the_parent)
{
	pid_t pid, tracer;
	int ready, reports, status;
	struct report r;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	pid = start_process(&ready);
	tracer = start_tracer(pid, GHOST_PATH, W_EXITCODE(0, 0), &reports);
	r = get_report(reports);
	cr_assert_eq(r.what, R_GHOSTED, "ghosting failed: %d", r.value);

	/* A SIGSTOP from outside is forwarded, not obeyed: the real process
	 * decides, and until it stops the parent must see nothing. */
	kill(pid, SIGSTOP);
	r = get_report(reports);
	cr_expect_eq(r.value, SIGSTOP);
	usleep(50000);
	expect_nothing_seen(pid);

	/* "The real process stopped with SIGTSTP": the ghost stops, and the
	 * parent sees that signal (the ghost's group, its own, has its
	 * parent, this test, in the same session: not orphaned). */
	kill(pid, SIGWINCH);
	get_report(reports);
	cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
	cr_expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP, "status 0x%x", status);

	/* A SIGCONT resumes the ghost as it is sent (the kernel does that
	 * before anyone sees the signal), and is forwarded to the real
	 * process; the parent is told it continued.  Other signals wait,
	 * pending, while the ghost is stopped, as they would on the node. */
	kill(pid, SIGCONT);
	r = get_report(reports);
	cr_expect_eq(r.value, SIGCONT);
	cr_assert_eq(waitpid(pid, &status, WCONTINUED), pid);
	cr_expect(WIFCONTINUED(status), "status 0x%x", status);

	kill(pid, SIGUSR2);
	get_report(reports);
	r = get_report(reports);
	cr_expect_eq(r.what, R_GONE);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	waitpid(tracer, NULL, 0);
	close(ready);
	close(reports);
}

/* A process with threads: all of them are held, then replaced. */
static void *spin(void *arg)
{
	volatile unsigned long *counter = arg;

	for (;;)
		(*counter)++;
	return NULL;
}

Test(ghost, multithreaded_process)
{
	pid_t pid, tracer;
	int p[2], reports, status, threads = 0;
	struct report r;
	char path[64];
	DIR *d;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		static unsigned long counters[3];
		pthread_t t;

		for (int i = 0; i < 3; i++)
			pthread_create(&t, NULL, spin, &counters[i]);
		if (write(p[1], "r", 1) != 1)
			_exit(99);
		for (;;)
			pause();
	}
	{
		char c;
		cr_assert_eq(read(p[0], &c, 1), 1);
	}
	tracer = start_tracer(pid, GHOST_PATH, W_EXITCODE(3, 0), &reports);
	r = get_report(reports);
	cr_assert_eq(r.what, R_GHOSTED, "ghosting failed: %d", r.value);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));)
		threads += e->d_name[0] != '.';
	closedir(d);
	cr_expect_eq(threads, 1, "the ghost has %d threads", threads);
	kill(pid, SIGUSR2);
	get_report(reports);
	get_report(reports);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status 0x%x", status);
	waitpid(tracer, NULL, 0);
	close(p[0]);
	close(p[1]);
	close(reports);
}

/*
 * A tree (ghost_tree.c): A and its child B, frozen together, become their
 * ghosts, B still A's child.  The tracer may die (a fault point, as a
 * master's crash) with both armed (master-die-exec: both run the execve
 * themselves, both ghosts) or with only the root armed
 * (master-die-tree-root: A a ghost, B its original).
 */
static void fork_child(int fd)
{
	pid_t child = fork();

	if (child < 0)
		_exit(99);
	if (child == 0) {
		prctl(PR_SET_NAME, "tree-child");
		for (;;)
			pause();
	}
	if (write(fd, &child, sizeof(child)) != sizeof(child))
		_exit(99);
}

static void start_tree(pid_t *a, pid_t *b)
{
	int fd;

	*a = start_subject("tree-subject", fork_child, &fd);
	cr_assert_eq(read(fd, b, sizeof(*b)), (ssize_t)sizeof(*b));
	close(fd);
}

static void thaw_member(pid_t pid, void *data)
{
	freezer_remove(data, pid);
}

/* The tracer of a tree: ghost A and B with ghost_path (fault: the fault
 * point it dies at, or NULL); reports the result. */
static void tree_tracer_main(pid_t a, pid_t b, const char *ghost_path, const char *fault, int out)
{
	char *argv_a[] = { "tree-subject", NULL }, *argv_b[] = { "tree-child", NULL };
	struct ghost_member members[2] = {
		{ .pid = a, .argv = argv_a, .comm = "tree-subject" },
		{ .pid = b, .argv = argv_b, .comm = "tree-child" },
	};
	struct freezer f;
	char name[64];
	int r;

	if (fault)
		setenv("BPROC_FAULT", fault, 1);
	snprintf(name, sizeof(name), "test-ghost-tree-%d", (int)a);
	if (freezer_create(&f, name) < 0 || freezer_add(&f, a) < 0 || freezer_add(&f, b) < 0 ||
	    freezer_freeze(&f) < 0) {
		send_report(out, R_FAILED, -1);
		_exit(1);
	}
	r = ghost_make_tree(members, 2, ghost_path, thaw_member, &f);
	freezer_release(&f);
	send_report(out, r < 0 ? R_FAILED : R_GHOSTED, r < 0 ? r : members[1].made);
	_exit(0);
}

static pid_t start_tree_tracer(pid_t a, pid_t b, const char *ghost_path, const char *fault,
			       int *reports)
{
	int p[2];
	pid_t tracer = fork_reporter(p);

	if (tracer == 0)
		tree_tracer_main(a, b, ghost_path, fault, p[1]);
	*reports = p[0];
	return tracer;
}

static bool runs_ghost(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "bproc-ghost") != NULL;
}

static bool becomes_ghost(pid_t pid)
{
	for (int i = 0; i < 400; i++) {
		if (runs_ghost(pid))
			return true;
		usleep(5000);
	}
	return false;
}

static void end_tree(pid_t a, pid_t b)
{
	int status;

	kill(b, SIGKILL);
	kill(a, SIGKILL);
	cr_assert_eq(waitpid(a, &status, 0), a);
}

Test(ghost, tree_members_become_ghosts_keeping_their_parent)
{
	pid_t a, b, tracer;
	int reports;
	struct report r;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	start_tree(&a, &b);
	tracer = start_tree_tracer(a, b, GHOST_PATH, NULL, &reports);
	r = get_report(reports);
	cr_assert_eq(r.what, R_GHOSTED, "ghosting failed: %d", r.value);
	cr_expect_eq(r.value, 1, "the child made too");
	waitpid(tracer, NULL, 0);
	expect_nothing_seen(a);
	cr_expect(runs_ghost(a) && runs_ghost(b));
	cr_expect_eq(proc_parent(b), a, "B is still A's child");
	end_tree(a, b);
	close(reports);
}

Test(ghost, tree_that_cannot_be_ghosted_runs_on_as_it_was)
{
	pid_t a, b, tracer;
	int reports;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	start_tree(&a, &b);
	tracer = start_tree_tracer(a, b, "/nonexistent/bproc-ghost", NULL, &reports);
	expect_ghosting_failed(reports, tracer, a);
	expect_comm(b, "tree-child\n");
	cr_expect(!runs_ghost(a) && !runs_ghost(b));
	cr_expect_neq(proc_state(b), 't', "B is not held");
	end_tree(a, b);
	close(reports);
}

Test(ghost, tracer_dead_once_all_are_armed_leaves_all_ghosts)
{
	pid_t a, b, tracer;
	int reports, status;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	start_tree(&a, &b);
	tracer = start_tree_tracer(a, b, GHOST_PATH, "master-die-exec", &reports);
	cr_assert_eq(waitpid(tracer, &status, 0), tracer);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the tracer died there");
	cr_expect(becomes_ghost(a), "A ran the execve itself");
	cr_expect(becomes_ghost(b), "and so did B: no original is left");
	cr_expect_eq(proc_parent(b), a);
	end_tree(a, b);
	close(reports);
}

Test(ghost, tracer_dead_with_only_the_root_armed_leaves_the_child_its_original)
{
	pid_t a, b, tracer;
	int reports, status;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	start_tree(&a, &b);
	tracer = start_tree_tracer(a, b, GHOST_PATH, "master-die-tree-root", &reports);
	cr_assert_eq(waitpid(tracer, &status, 0), tracer);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the tracer died there");
	cr_expect(becomes_ghost(a), "A ran the execve itself");
	usleep(100000);
	cr_expect(!runs_ghost(b), "B was not armed");
	expect_comm(b, "tree-child\n");
	end_tree(a, b);
	close(reports);
}

/*
 * A task without a vDSO (it unmapped it): no `syscall` instruction to
 * borrow, so the injection writes one at its instruction pointer (the old
 * way, ghost.c's head) and must still make the ghost, and put the code
 * back when the execve fails.
 */
static void unmap_vdso(void)
{
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "r");
	unsigned long start = 0, end = 0;

	while (maps && fgets(line, sizeof(line), maps))
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2)
			break;
	if (maps)
		fclose(maps);
	if (!start || munmap((void *)start, end - start) < 0)
		_exit(97);
}

static void unmap_vdso_and_say(int fd)
{
	unmap_vdso();
	say_ready(fd);
}

static pid_t start_process_without_vdso(void)
{
	int fd;
	pid_t pid = start_subject("ghost-subject", unmap_vdso_and_say, &fd);
	char c;

	cr_assert_eq(read(fd, &c, 1), 1, "the process could not unmap its vDSO");
	close(fd);
	return pid;
}

static bool has_vdso(pid_t pid)
{
	char path[64], line[512];
	FILE *maps;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	while (maps && !found && fgets(line, sizeof(line), maps))
		found = strstr(line, "[vdso]") != NULL;
	if (maps)
		fclose(maps);
	return found;
}

Test(ghost, task_without_a_vdso_becomes_its_ghost)
{
	pid_t pid, tracer;
	int reports, status;
	struct report r;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	pid = start_process_without_vdso();
	cr_assert(!has_vdso(pid));
	tracer = start_tracer(pid, GHOST_PATH, W_EXITCODE(9, 0), &reports);
	r = get_report(reports);
	cr_assert_eq(r.what, R_GHOSTED, "ghosting failed: %d", r.value);
	expect_nothing_seen(pid);
	cr_expect(runs_ghost(pid));
	kill(pid, SIGUSR2); /* the tracer orders exit 9 */
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 9, "status 0x%x", status);
	waitpid(tracer, NULL, 0);
	close(reports);
}

Test(ghost, task_without_a_vdso_whose_exec_fails_runs_on_unharmed)
{
	pid_t pid, tracer;
	int reports, status;

	if (!have_cgroup2())
		cr_skip_test("needs root and cgroup v2");
	pid = start_process_without_vdso();
	tracer = start_tracer(pid, "/nonexistent/bproc-ghost", 0, &reports);
	expect_ghosting_failed(reports, tracer, pid);
	/* Its code was put back: still in its pause() loop, not dead of
	 * SIGSEGV or SIGILL; a SIGTERM ends it as it would have. */
	usleep(100000);
	cr_expect_eq(waitpid(pid, &status, WNOHANG), 0, "it died: 0x%x", status);
	cr_expect(!runs_ghost(pid));
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x", status);
	close(reports);
}
