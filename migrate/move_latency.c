/*
 * move_latency.c - the kernel settings that take a fixed delay off every
 * move: cgroup2's favordynmods, and perf's scheduler hooks held on.  See
 * move_latency.h for why each.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "freezer.h"
#include "log.h"
#include "move_latency.h"
#include "util.h"

#define FAVOR_MOVES "favordynmods"

int move_latency_cgroup_flags(const char *super, char *buf, size_t len, const char **flags,
			      int max)
{
	char *save = NULL, *opt;
	int n = 0;

	if (strlen(super) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, super);
	buf[strcspn(buf, "\n")] = '\0';
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (strcmp(opt, FAVOR_MOVES) == 0)
			return 0;
		/* Read-only or not is the mount's, not a cgroup flag. */
		if (strcmp(opt, "rw") == 0 || strcmp(opt, "ro") == 0)
			continue;
		/* A valued option (none on cgroup2 today) cannot be passed
		 * back as a flag. */
		if (strchr(opt, '='))
			return -EINVAL;
		if (n == max - 1)
			return -E2BIG;
		flags[n++] = opt;
	}
	if (n == max)
		return -E2BIG;
	flags[n++] = FAVOR_MOVES;
	return n;
}

/* The superblock options of the cgroup2 mount at path, from mountinfo. */
static int cgroup2_super(const char *path, char *out, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	struct cgroup_mount m;
	int r;

	if (!f)
		return -errno;
	while ((r = cgroup_mount_next(f, &m)) > 0) {
		if (strcmp(m.fstype, "cgroup2") != 0 || strcmp(m.mountpoint, path) != 0)
			continue;
		if (strlen(m.super) >= len)
			return -ENAMETOOLONG;
		strcpy(out, m.super);
		return 0;
	}
	return r < 0 ? r : -ENOENT;
}

int move_latency_favor_moves(const char *path)
{
	const char *flags[MOVE_LATENCY_MAX_FLAGS];
	char super[1024], buf[1024];
	_cleanup_close_ int fd = -1;
	int n, r;

	r = cgroup2_super(path, super, sizeof(super));
	if (r < 0)
		return r;
	n = move_latency_cgroup_flags(super, buf, sizeof(buf), flags, MOVE_LATENCY_MAX_FLAGS);
	if (n <= 0)
		return n;
	/* The superblock only: the mount's own flags (nosuid, ...) stay. */
	fd = fspick(AT_FDCWD, path, FSPICK_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		if (fsconfig(fd, FSCONFIG_SET_FLAG, flags[i], NULL, 0) < 0)
			return -errno;
	if (fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return -errno;
	return 1;
}

int move_latency_hold_perf(void)
{
	struct perf_event_attr attr;
	int fd;

	/* Counts nothing, never enabled, not inherited by children: only
	 * its existence matters (a per-task event, pid 0: ourselves). */
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.size = sizeof(attr);
	attr.config = PERF_COUNT_SW_DUMMY;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void move_latency_prepare(bool favor_moves)
{
	char root[PATH_MAX];
	int r = 0;

	if (!favor_moves)
		pr_info("favordynmods left as it is (the configuration says no)");
	else {
		r = freezer_cgroup2_root(root, sizeof(root));
		if (r == 0)
			r = move_latency_favor_moves(root);
	}
	if (r > 0)
		pr_info("cgroup2 at %s: favordynmods on (processes enter our freezer without waiting for the kernel)",
			root);
	else if (r < 0)
		pr_warn("cannot turn favordynmods on for cgroup2 (%s): every move waits longer to freeze",
			strerror(-r));
	/* Kept open until we exit: the fd is deliberately never closed. */
	r = move_latency_hold_perf();
	if (r < 0)
		pr_warn("cannot open a perf event (%s): CRIU's dumps may wait for the kernel",
			strerror(-r));
}
