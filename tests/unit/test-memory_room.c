/*
 * test-memory_room.c - migrate/memory_room.c: the parsers on texts as the
 * kernel writes them (and broken ones), then on this machine: a child that
 * holds 16 MiB is counted, the room is no more than MemAvailable, and a
 * child put in a cage of 8 MiB that touches 32 MiB is killed by the OOM
 * killer, which the cage reports, and the cage goes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory_room.h"

static const char meminfo[] =
	"MemTotal:       24684000 kB\n"
	"MemFree:        23012000 kB\n"
	"MemAvailable:   24156184 kB\n"
	"Buffers:           12345 kB\n";

Test(memory_room, meminfo)
{
	uint64_t v = 0;

	cr_assert_eq(memory_parse_meminfo(meminfo, &v), 0);
	cr_assert_eq(v, 24156184ULL * 1024);
	/* MemAvailableX is another key; missing and garbage are errors. */
	cr_assert_eq(memory_parse_meminfo("MemAvailableX: 5 kB\n", &v), -ENOENT);
	cr_assert_eq(memory_parse_meminfo("MemTotal: 5 kB\n", &v), -ENOENT);
	cr_assert_eq(memory_parse_meminfo("", &v), -ENOENT);
	cr_assert_eq(memory_parse_meminfo("MemAvailable: lots\n", &v), -EINVAL);
	cr_assert_eq(memory_parse_meminfo("MemAvailable: 99999999999999999999999 kB\n", &v), -EINVAL);
}

Test(memory_room, limits)
{
	uint64_t v = 0;

	cr_assert_eq(memory_parse_limit("max\n", &v), 0);
	cr_assert_eq(v, MEMORY_UNLIMITED);
	cr_assert_eq(memory_parse_limit("536870912\n", &v), 0);
	cr_assert_eq(v, 536870912ULL);
	cr_assert_eq(memory_parse_limit("0", &v), 0);
	cr_assert_eq(v, 0);
	/* v1's "no limit". */
	cr_assert_eq(memory_parse_limit("9223372036854771712\n", &v), 0);
	cr_assert_eq(v, MEMORY_UNLIMITED);
	cr_assert_eq(memory_parse_limit("", &v), -EINVAL);
	cr_assert_eq(memory_parse_limit("maxi\n", &v), -EINVAL);
	cr_assert_eq(memory_parse_limit("-1\n", &v), -EINVAL);
	cr_assert_eq(memory_parse_limit("12abc\n", &v), -EINVAL);
	cr_assert_eq(memory_parse_limit("99999999999999999999999\n", &v), -EINVAL);
}

Test(memory_room, process_status)
{
	uint64_t v = 0;

	cr_assert_eq(memory_parse_process("Name:\tpython3\nVmRSS:\t   30000 kB\n"
					  "RssAnon:\t   25000 kB\nRssFile:\t    4000 kB\n"
					  "RssShmem:\t    1000 kB\n", &v), 0);
	cr_assert_eq(v, 26000ULL * 1024);
	cr_assert_eq(memory_parse_process("RssAnon:\t  12 kB\n", &v), 0);
	cr_assert_eq(v, 12ULL * 1024);
	/* A kernel thread or a zombie has neither. */
	cr_assert_eq(memory_parse_process("Name:\tkthreadd\nState:\tS\n", &v), -ENOENT);
	cr_assert_eq(memory_parse_process("RssAnon:\tx kB\n", &v), -EINVAL);
}

Test(memory_room, proc_cgroup)
{
	static const char v1[] = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/1c85\n"
				 "3:cpu,cpuacct:/a\n0::/\n";
	char path[64];

	cr_assert_eq(memory_parse_cgroup(v1, true, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/process_api/1c85");
	cr_assert_eq(memory_parse_cgroup(v1, false, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/");
	cr_assert_eq(memory_parse_cgroup("4:memory,hugetlb:/x\n", true, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/x");
	/* "memoryx" is not the memory controller. */
	cr_assert_eq(memory_parse_cgroup("4:memoryx:/x\n", true, path, sizeof(path)), -ENOENT);
	cr_assert_eq(memory_parse_cgroup("0::/a/b\n", true, path, sizeof(path)), -ENOENT);
	cr_assert_eq(memory_parse_cgroup("0::/a/b", false, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/a/b");
	cr_assert_eq(memory_parse_cgroup("4:memory:\n", true, path, sizeof(path)), -EINVAL);
	cr_assert_eq(memory_parse_cgroup("4:memory:relative\n", true, path, sizeof(path)), -EINVAL);
	cr_assert_eq(memory_parse_cgroup("garbage", true, path, sizeof(path)), -ENOENT);
	cr_assert_eq(memory_parse_cgroup("4:memory:/a/very/long/path/that/does/not/fit\n", true,
					 path, 8), -EINVAL);
}

Test(memory_room, oom_kills)
{
	cr_assert_eq(memory_parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 3);
	cr_assert_eq(memory_parse_oom_kills("low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n"), 1);
	cr_assert_eq(memory_parse_oom_kills("oom_kill_disable 0\n"), 0);
	cr_assert_eq(memory_parse_oom_kills(""), 0);
}

/* A child that touches bytes of anonymous memory, then waits; its pid. */
static pid_t child_holding(size_t bytes, int ready[2])
{
	pid_t pid;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 1, bytes);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	return pid;
}

Test(memory_room, tree_counted)
{
	int ready[2];
	char c;
	pid_t pid = child_holding(16u << 20, ready);
	uint64_t bytes;

	cr_assert_eq(read(ready[0], &c, 1), 1);
	bytes = memory_of_tree(&pid, 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_geq(bytes, 16u << 20, "16 MiB touched, %llu bytes counted",
		      (unsigned long long)bytes);
	cr_assert_lt(bytes, 64u << 20);
	/* Gone: counts nothing. */
	cr_assert_eq(memory_of_tree(&pid, 1), 0);
}

Test(memory_room, room_at_most_available)
{
	char text[8192] = "";
	FILE *f = fopen("/proc/meminfo", "re");
	uint64_t room = 0, avail = 0;
	bool by_cgroup;

	cr_assert_not_null(f);
	cr_assert_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	cr_assert_eq(memory_parse_meminfo(text, &avail), 0);
	cr_assert_eq(memory_room(&room, &by_cgroup), 0);
	cr_assert_gt(room, 0);
	/* MemAvailable moves a little between the two reads. */
	cr_assert_leq(room, avail + (64u << 20));
}

/* A cage of 8 MiB: a child in it touching 32 MiB is OOM-killed. */
Test(memory_room, cage_oom)
{
	struct memory_cage cage;
	char procs[PATH_MAX + 32], name[32], path[PATH_MAX];
	int status, go[2];
	pid_t pid;
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root for a memory cgroup");
	snprintf(name, sizeof(name), "unit-test-%d", (int)getpid());
	if (memory_cage_create(&cage, name, 8u << 20) == -ENOENT)
		cr_skip_test("no memory controller");
	cr_assert_neq(cage.path[0], '\0');
	snprintf(path, sizeof(path), "%s", cage.path);
	memory_cage_procs(&cage, procs, sizeof(procs));
	cr_assert_eq(pipe(go), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;
		char *p;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		p = mmap(NULL, 32u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 1, 32u << 20);
		_exit(0);
	}
	close(go[0]);
	{
		FILE *f = fopen(procs, "we");
		char text[32];

		cr_assert_not_null(f);
		snprintf(text, sizeof(text), "%d", (int)pid);
		cr_assert_gt(fputs(text, f), 0);
		cr_assert_eq(fclose(f), 0);
	}
	cr_assert_eq(write(go[1], "x", 1), 1);
	close(go[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "the child ended with status 0x%x, not killed", status);
	cr_assert_geq(memory_cage_oom_kills(&cage), 1);
	memory_cage_release(&cage, true);
	cr_assert_eq(cage.path[0], '\0');
	cr_assert_eq(stat(path, &st), -1, "%s is still there", path);
	/* Released twice: nothing happens. */
	memory_cage_release(&cage, true);
}

/* A process left in a cage released without kill_all goes back to ours. */
Test(memory_room, cage_release_moves_back)
{
	struct memory_cage cage;
	char procs[PATH_MAX + 32], name[32], text[32], path[PATH_MAX];
	int ready[2];
	char c;
	pid_t pid;
	FILE *f;
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root for a memory cgroup");
	snprintf(name, sizeof(name), "unit-test-back-%d", (int)getpid());
	if (memory_cage_create(&cage, name, 64u << 20) == -ENOENT)
		cr_skip_test("no memory controller");
	snprintf(path, sizeof(path), "%s", cage.path);
	pid = child_holding(1u << 20, ready);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	memory_cage_procs(&cage, procs, sizeof(procs));
	f = fopen(procs, "we");
	cr_assert_not_null(f);
	snprintf(text, sizeof(text), "%d", (int)pid);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	memory_cage_release(&cage, false);
	cr_assert_eq(stat(path, &st), -1, "%s is still there", path);
	/* It lives on. */
	cr_assert_eq(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* What a killed slave left: empty cages of its prefix go, others stay. */
Test(memory_room, leftovers_removed)
{
	struct memory_cage a, b;
	char prefix[48], name[64];
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root for a memory cgroup");
	snprintf(prefix, sizeof(prefix), "unit-left-%d-", (int)getpid());
	snprintf(name, sizeof(name), "%s1", prefix);
	if (memory_cage_create(&a, name, 64u << 20) == -ENOENT)
		cr_skip_test("no memory controller");
	snprintf(name, sizeof(name), "unit-other-%d", (int)getpid());
	cr_assert_eq(memory_cage_create(&b, name, 64u << 20), 0);
	cr_assert_eq(memory_cage_remove_leftovers(prefix), 1);
	cr_assert_eq(stat(a.path, &st), -1);
	cr_assert_eq(stat(b.path, &st), 0);
	memory_cage_release(&b, true);
	cr_assert_eq(memory_cage_remove_leftovers(prefix), 0);
}
