/*
 * test-move_latency.c - unit tests for migrate/move_latency.c: the flags a
 * cgroup2 reconfigure gets (its own kept, favordynmods added, nothing
 * when it is on already), the mount really has favordynmods afterwards,
 * and the perf event opens, close-on-exec.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "freezer.h"
#include "move_latency.h"

static int flags_of(const char *super, const char **flags, char *buf, size_t len)
{
	return move_latency_cgroup_flags(super, buf, len, flags, MOVE_LATENCY_MAX_FLAGS);
}

Test(move_latency, keeps_the_mounts_own_flags_and_adds_favordynmods)
{
	const char *flags[MOVE_LATENCY_MAX_FLAGS];
	char buf[256];
	int n = flags_of("rw,nsdelegate,memory_recursiveprot\n", flags, buf, sizeof(buf));

	cr_assert_eq(n, 3);
	cr_expect_str_eq(flags[0], "nsdelegate");
	cr_expect_str_eq(flags[1], "memory_recursiveprot");
	cr_expect_str_eq(flags[2], "favordynmods");

	n = flags_of("rw", flags, buf, sizeof(buf));
	cr_assert_eq(n, 1, "a plain mount gets favordynmods alone");
	cr_expect_str_eq(flags[0], "favordynmods");
}

Test(move_latency, nothing_to_do_when_it_is_on)
{
	const char *flags[MOVE_LATENCY_MAX_FLAGS];
	char buf[256];

	cr_expect_eq(flags_of("rw,favordynmods", flags, buf, sizeof(buf)), 0);
	cr_expect_eq(flags_of("rw,nsdelegate,favordynmods,memory_localevents", flags, buf,
			      sizeof(buf)), 0);
}

Test(move_latency, refuses_what_it_cannot_pass_back)
{
	const char *flags[MOVE_LATENCY_MAX_FLAGS];
	char buf[256], many[512] = "rw";

	cr_expect_eq(flags_of("rw,size=10", flags, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(flags_of("rw,nsdelegate", flags, buf, 4), -ENAMETOOLONG);
	for (int i = 0; i < MOVE_LATENCY_MAX_FLAGS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",flag%d", i);
	cr_expect_eq(flags_of(many, flags, buf, sizeof(buf)), -E2BIG);
}

/* Whether mountinfo shows favordynmods on the cgroup2 mount at path. */
static bool shows_favordynmods(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mountpoint[1024];
	bool on = false;

	while (f && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		if (dash && strncmp(dash + 3, "cgroup2 ", 8) == 0 &&
		    sscanf(line, "%*s %*s %*s %*s %1023s", mountpoint) == 1 &&
		    strcmp(mountpoint, path) == 0)
			on = strstr(dash, "favordynmods") != NULL;
	}
	if (f)
		fclose(f);
	return on;
}

Test(move_latency, the_cgroup2_mount_has_favordynmods_afterwards)
{
	char root[PATH_MAX];
	int r;

	if (geteuid() != 0 || freezer_cgroup2_root(root, sizeof(root)) < 0)
		cr_skip_test("needs root and cgroup v2");
	/* What the daemons do at start (and cannot be undone on Linux 6.17+). */
	r = move_latency_favor_moves(root);
	cr_assert_geq(r, 0, "favor_moves: %s", strerror(-r));
	cr_expect(shows_favordynmods(root), "%s has no favordynmods", root);
	cr_expect_eq(move_latency_favor_moves(root), 0, "turned on twice");
	cr_expect_eq(move_latency_favor_moves("/nonexistent"), -ENOENT);
}

Test(move_latency, the_perf_event_opens_close_on_exec)
{
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root (perf_event_paranoid)");
	fd = move_latency_hold_perf();
	cr_assert_geq(fd, 0, "perf_event_open: %s", strerror(-fd));
	cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}
