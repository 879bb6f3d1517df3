/*
 * test-freezer.c - the cgroup v2 freezer (migrate/freezer.c) on a real
 * process tree that keeps forking: freezer_add_tree() must end with every
 * descendant in, frozen, and none running; release puts them all back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "freezer.h"

static pid_t root;

static void stop_root(void)
{
	if (root > 0) {
		/* Its whole process group: the shell and what it forked.  And
		 * itself: a child not yet in its own group (setpgid not run)
		 * would be missed, and waited for forever. */
		kill(-root, SIGKILL);
		kill(root, SIGKILL);
		waitpid(root, NULL, 0);
		root = 0;
	}
}

TestSuite(freezer, .fini = stop_root);

static bool can_run(void)
{
	char dir[256];

	return geteuid() == 0 && freezer_cgroup2_root(dir, sizeof(dir)) == 0;
}

/* All descendants of pid, recursively; how many. */
static int descendants(pid_t pid, pid_t *out, int max)
{
	int n = freezer_children(pid, out, max);

	for (int i = 0; i < n && n < max; i++) {
		int k = freezer_children(out[i], out + n, max - n);

		if (k > 0)
			n += k;
	}
	return n < 0 ? 0 : n;
}

static bool in_freezer(const struct freezer *f, pid_t pid)
{
	for (int i = 0; i < f->npids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

static bool is_zombie(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true; /* gone: reaped meanwhile */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static bool in_cgroup(pid_t pid, const char *name)
{
	char path[64], line[512];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, name) != NULL;
	if (f)
		fclose(f);
	return found;
}

Test(freezer, a_forking_tree_is_frozen_whole_and_released_whole)
{
	struct freezer f;
	pid_t kids[FREEZER_MAX_PIDS];
	char name[64], cgroup[PATH_MAX];
	int n;

	if (!can_run())
		cr_skip_test("needs root and a cgroup v2 hierarchy");
	root = fork();
	cr_assert_geq(root, 0);
	if (root == 0) {
		setpgid(0, 0);
		syscall(SYS_close_range, 3, ~0U, 0);
		/* Two workers that fork short-lived children all the time. */
		execl("/bin/sh", "sh", "-c",
		      "for w in 1 2; do (while :; do sleep 0.01 & wait; done) & done; wait", (char *)NULL);
		_exit(127);
	}
	setpgid(root, root);
	usleep(200000);

	snprintf(name, sizeof(name), "test-tree-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_add_tree(&f, root), 0);
	cr_assert_eq(f.pids[0], root);
	usleep(100000);
	n = descendants(root, kids, FREEZER_MAX_PIDS);
	cr_assert_geq(n, 2, "the workers are there");
	/* A zombie (a sleep that ended, its parent frozen before reaping
	 * it) has no cgroup to be in; CRIU dumps it as a zombie. */
	for (int i = 0; i < n; i++)
		cr_assert(is_zombie(kids[i]) || (in_freezer(&f, kids[i]) && in_cgroup(kids[i], name)),
			  "descendant %d is in the freezer", kids[i]);
	/* Frozen: no new process appears. */
	usleep(100000);
	cr_assert_eq(descendants(root, kids, FREEZER_MAX_PIDS), n);

	snprintf(cgroup, sizeof(cgroup), "%s", f.path);
	freezer_release(&f);
	for (int i = 0; i < n; i++)
		cr_assert(!in_cgroup(kids[i], name), "descendant %d went back", kids[i]);
	cr_assert(access(cgroup, F_OK) == -1 && errno == ENOENT, "the cgroup %s is gone", cgroup);
}

/* root: a child that waits in pause(), in a process group of its own. */
static void start_idle_root(void)
{
	root = fork();
	cr_assert_geq(root, 0);
	if (root == 0) {
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(root, root);
}

/* A daemon that died mid-move leaves its cgroup, empty, under a name with
 * a pid in it; pids come round again, and the next move of that pid must
 * not fail on it.  One that holds a process is not taken. */
Test(freezer, a_stale_empty_cgroup_of_the_same_name_is_taken_over)
{
	struct freezer f, again;
	char name[64];

	if (!can_run())
		cr_skip_test("needs root and a cgroup v2 hierarchy");
	snprintf(name, sizeof(name), "test-stale-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, name), 0);
	/* Forgotten, as by a daemon killed now. */
	cr_assert_eq(freezer_create(&again, name), 0, "an empty leftover is taken over");
	start_idle_root();
	cr_assert_eq(freezer_add(&again, root), 0);
	cr_assert_eq(freezer_create(&f, name), -EEXIST, "one in use is not");
	freezer_release(&again);
	stop_root();
}

/* The cgroup's state, as cgroup.events says it ("frozen 0/1"). */
static int frozen_state(const char *path)
{
	char file[PATH_MAX + 32], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(file, sizeof(file), "%s/cgroup.events", path);
	f = fopen(file, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "frozen ");
	return p ? p[7] - '0' : -1;
}

/* A daemon killed mid-move forgets its freezer; the next one finds the
 * cgroup (freezer_leftovers), takes it over with what it says of each
 * process (freezer_adopt: where it came from, committed or not), and
 * releasing it thaws the process back into its own cgroup. */
Test(freezer, a_cgroup_left_frozen_is_found_adopted_and_released)
{
	struct freezer f, found;
	char name[64], prefix[48], cgroup[PATH_MAX], (*paths)[PATH_MAX];
	bool committed = true;
	int n, hits = 0;

	if (!can_run())
		cr_skip_test("needs root and a cgroup v2 hierarchy");
	start_idle_root();
	snprintf(prefix, sizeof(prefix), "test-left-%d-", (int)getpid());
	snprintf(name, sizeof(name), "%sa", prefix);
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_add_tree(&f, root), 0);
	cr_assert_eq(frozen_state(f.path), 1);
	snprintf(cgroup, sizeof(cgroup), "%s", f.path);
	/* Forgotten, as by a daemon killed now (its memory only). */
	free(f.origin[0]);

	paths = calloc(16, PATH_MAX);
	cr_assert_not_null(paths);
	n = freezer_leftovers(prefix, paths, 16);
	cr_assert_geq(n, 1);
	for (int i = 0; i < n; i++)
		hits += strcmp(paths[i], cgroup) == 0;
	cr_assert_eq(hits, 1, "the leftover %s is found", cgroup);
	cr_assert_eq(freezer_leftovers("no-such-prefix-", paths, 16), 0);
	free(paths);

	cr_assert_eq(freezer_adopt(&found, cgroup, &committed), 0);
	cr_assert(!committed, "not marked committed");
	cr_assert_eq(found.npids, 1);
	cr_assert_eq(found.pids[0], root);
	cr_assert_not(strstr(found.origin[0], name), "it goes back where it came from");
	cr_assert_eq(freezer_mark_committed(&found), 0);
	freezer_release(&found);
	cr_assert_not(in_cgroup(root, name), "released, it is back in its own cgroup");
	cr_assert(access(cgroup, F_OK) == -1 && errno == ENOENT, "the cgroup is gone");
	cr_assert_eq(freezer_adopt(&found, "/etc", &committed), -EINVAL,
		     "only a cgroup of the hierarchy");
	stop_root();
}

/* The mark survives the daemon: a second daemon reads it. */
Test(freezer, a_committed_mark_is_read_back)
{
	struct freezer f, found;
	char name[64], cgroup[PATH_MAX];
	bool committed = false;

	if (!can_run())
		cr_skip_test("needs root and a cgroup v2 hierarchy");
	snprintf(name, sizeof(name), "test-mark-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_mark_committed(&f), 0);
	snprintf(cgroup, sizeof(cgroup), "%s", f.path);
	cr_assert_eq(freezer_adopt(&found, cgroup, &committed), 0);
	cr_assert(committed);
	cr_assert_eq(found.npids, 0, "an empty cgroup holds nobody");
	freezer_release(&found);
	cr_assert(access(cgroup, F_OK) == -1 && errno == ENOENT);
}

/* The notes a daemon after us reads: every process the move put in, those
 * taken out since (to make their ghosts) too, and the notes themselves. */
Test(freezer, its_notes_name_every_process_it_took_even_those_gone_out)
{
	struct freezer f;
	char name[64], cgroup[PATH_MAX], note[64];
	pid_t pids[8];

	if (!can_run())
		cr_skip_test("needs root and a cgroup v2 hierarchy");
	start_idle_root();
	snprintf(name, sizeof(name), "test-notes-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, name), 0);
	snprintf(cgroup, sizeof(cgroup), "%s", f.path);
	cr_assert_eq(freezer_noted_pids(cgroup, pids, 8), 0, "nobody yet");
	cr_assert_eq(freezer_add_tree(&f, root), 0);
	cr_assert_eq(freezer_note(&f, "wake.1234", "7 pipe:[42]"), 0);
	cr_assert_eq(freezer_remove(&f, root), 0);
	cr_assert_not(in_cgroup(root, name), "out, to be made a ghost");
	cr_assert_eq(freezer_noted_pids(cgroup, pids, 8), 1, "still named");
	cr_assert_eq(pids[0], root);
	cr_assert_eq(freezer_read_note(cgroup, "wake.1234", note, sizeof(note)), 11);
	cr_assert_str_eq(note, "7 pipe:[42]");
	cr_assert_eq(freezer_read_note(cgroup, "wake.1", note, sizeof(note)), -ENODATA);
	freezer_release(&f);
	cr_assert_lt(freezer_noted_pids(cgroup, pids, 8), 0, "gone with the cgroup");
	stop_root();
}

/* The one mountinfo parser: v1 and v2 cgroup mounts, their root, mount
 * point and superblock options; other mounts and broken lines skipped. */
Test(freezer, cgroup_mounts_are_read_from_mountinfo)
{
	static const char text[] =
		"22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
		"30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate,favordynmods\n"
		"garbage without a separator\n"
		"31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		"32 25 0:28 /sub /mnt/part rw - cgroup2 cgroup2 rw\n"
		"33 25 0:29 / /mnt/short rw - cgroup2\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct cgroup_mount m;

	cr_assert_not_null(f);
	cr_assert_eq(cgroup_mount_next(f, &m), 1);
	cr_expect_str_eq(m.fstype, "cgroup2");
	cr_expect_str_eq(m.root, "/");
	cr_expect_str_eq(m.mountpoint, "/sys/fs/cgroup");
	cr_expect_str_eq(m.super, "rw,nsdelegate,favordynmods");
	cr_assert_eq(cgroup_mount_next(f, &m), 1);
	cr_expect_str_eq(m.fstype, "cgroup");
	cr_expect_str_eq(m.mountpoint, "/sys/fs/cgroup/memory");
	cr_expect_str_eq(m.super, "rw,memory");
	cr_assert_eq(cgroup_mount_next(f, &m), 1);
	cr_expect_str_eq(m.root, "/sub");
	cr_expect_str_eq(m.mountpoint, "/mnt/part");
	cr_expect_eq(cgroup_mount_next(f, &m), 0, "a line without its superblock is skipped");
	fclose(f);
}

/*
 * bproc_execmove's freeze (docs/migration.md, "Launching on a node"): a
 * program stopped at its exec under ptrace counts as frozen at once, and
 * once its tracer lets go it stays frozen, having run nothing; released,
 * it runs.
 */
Test(freezer, a_program_held_at_its_exec_freezes_and_stays_frozen_untraced)
{
	struct freezer f;
	char name[64], buf[16];
	int go[2], out[2], st;
	ssize_t n;

	if (!can_run())
		cr_skip_test("needs root and a cgroup v2 hierarchy");
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe2(out, O_NONBLOCK), 0);
	root = fork();
	cr_assert_geq(root, 0);
	if (root == 0) {
		char c;

		setpgid(0, 0);
		dup2(out[1], 1);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		execl("/bin/sh", "sh", "-c", "echo ran", (char *)NULL);
		_exit(127);
	}
	setpgid(root, root);
	close(go[0]);
	close(out[1]);
	cr_assert_eq(ptrace(PTRACE_SEIZE, root, 0, PTRACE_O_TRACEEXEC), 0);
	cr_assert_eq(write(go[1], "x", 1), 1);
	cr_assert_eq(waitpid(root, &st, __WALL), root);
	cr_assert_eq(st >> 8, SIGTRAP | (PTRACE_EVENT_EXEC << 8), "stopped at its exec");
	snprintf(name, sizeof(name), "test-exec-%d", (int)getpid());
	cr_assert_eq(freezer_create(&f, name), 0);
	cr_assert_eq(freezer_add(&f, root), 0);
	cr_assert_eq(freezer_freeze(&f), 0, "a traced stop counts as frozen");
	cr_assert_eq(frozen_state(f.path), 1);
	cr_assert_eq(ptrace(PTRACE_DETACH, root, 0, 0), 0);
	cr_assert_eq(freezer_freeze(&f), 0, "frozen again, untraced");
	usleep(50000);
	cr_assert_eq(frozen_state(f.path), 1);
	cr_assert_eq(read(out[0], buf, sizeof(buf)), -1, "it ran nothing");
	freezer_release(&f);
	for (int i = 0; i < 200 && (n = read(out[0], buf, sizeof(buf) - 1)) < 0; i++)
		usleep(10000);
	cr_assert_eq(n, 4, "released, it runs");
	cr_assert_eq(waitpid(root, &st, 0), root);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	root = 0;
	close(out[0]);
	close(go[1]);
}
