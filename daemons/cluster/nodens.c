/*
 * nodens.c - create, enter and remove the namespaces of a local node.
 * See nodens.h.
 *
 * A short-lived child unshares the namespaces and sets them up from the
 * inside (hostname, mounts); the parent pins them with bind mounts and
 * lets the child go.  The mount-namespace file can only be bound onto a
 * mount that is private, or the kernel refuses (a namespace could then
 * hold itself); bpcluster makes its directory such a mount.
 *
 * The kernel also refuses (EINVAL) to bind a mount namespace whose id is
 * lower than that of the binder's own, and since 6.x the ids are handed
 * out in per-CPU batches: a node namespace made on one CPU can get a
 * lower id than ours, made earlier on another.  Host's initial namespace
 * has the lowest id of all, so this only bites inside a container (a CI
 * runner's); a new attempt on the next CPU draws from another batch, and
 * on the CPU that made our namespace the ids are always higher.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodens.h"
#include "util.h"

static const char *const ns_names[] = { "net", "mnt", "uts" };

#define NETNS_DIR "/run/netns"

static int touch(const char *path)
{
	int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Runs in the child, inside the new namespaces. */
static int set_up_inside(int node, const char *keep)
{
	char hostname[32], fdpath[64];
	_cleanup_close_ int keep_fd = -1;

	snprintf(hostname, sizeof(hostname), "n%d", node);
	if (sethostname(hostname, strlen(hostname)) < 0)
		return -errno;
	/* Nothing mounted on the node leaks to the host, nor the reverse. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* Hold on to the bproc build we run from before /tmp or /run is
	 * covered, in case it lives there (a checkout in /tmp). */
	if (keep) {
		keep_fd = open(keep, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (keep_fd < 0)
			return -errno;
	}
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return -errno;
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return -errno;
	if (mkdir("/run/bproc", 0755) < 0 && errno != EEXIST)
		return -errno;
	if (keep) {
		int r = mkdir_parents(keep);

		if (r < 0)
			return r;
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", keep_fd);
		if (mount(fdpath, keep, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
	}
	return 0;
}

static int nodens_create_on(int node, const char *dir, const char *keep, int cpu)
{
	char path[256], src[64], netns[64];
	int ready[2], go[2];
	int status, r = 0;
	char byte = 0;
	pid_t pid;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ns_names[i]);
		r = touch(path);
		if (r < 0)
			return r;
	}
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		close(ready[0]);
		close(ready[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		int result = 0;

		close(ready[0]);
		close(go[1]);
		if (cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS) < 0)
			result = -errno;
		else
			result = set_up_inside(node, keep);
		if (write(ready[1], &result, sizeof(result)) != sizeof(result))
			_exit(1);
		/* Stay until the parent has pinned the namespaces. */
		if (read(go[0], &byte, 1) < 0)
			_exit(1);
		_exit(result < 0 ? 1 : 0);
	}
	close(ready[1]);
	ready[1] = -1;
	close(go[0]);
	go[0] = -1;
	if (read(ready[0], &r, sizeof(r)) != sizeof(r))
		r = -ECHILD;
	if (r == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(ns_names) && r == 0; i++) {
			snprintf(src, sizeof(src), "/proc/%d/ns/%s", (int)pid, ns_names[i]);
			snprintf(path, sizeof(path), "%s/%s", dir, ns_names[i]);
			if (mount(src, path, NULL, MS_BIND, NULL) < 0)
				r = -errno;
		}
		if (r < 0)
			for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++) {
				snprintf(path, sizeof(path), "%s/%s", dir, ns_names[i]);
				umount2(path, MNT_DETACH);
			}
	}
	if (r == 0) {
		if (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST)
			r = -errno;
		snprintf(netns, sizeof(netns), NETNS_DIR "/bproc-n%d", node);
		snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)pid);
		if (r == 0 && (r = touch(netns)) == 0 && mount(src, netns, NULL, MS_BIND, NULL) < 0)
			r = -errno;
	}
	if (write(go[1], &byte, 1) < 0 && r == 0)
		r = -errno;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
out:
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	return r;
}

int nodens_create(int node, const char *dir, const char *keep)
{
	cpu_set_t allowed;
	int r;

	r = nodens_create_on(node, dir, keep, -1);
	if (r != -EINVAL || sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return r;
	for (int cpu = 0; cpu < CPU_SETSIZE && r == -EINVAL; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			r = nodens_create_on(node, dir, keep, cpu);
	return r;
}

int nodens_open(const char *dir, const char *which)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, which);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int nodens_enter(const char *dir)
{
	int fds[ARRAY_SIZE(ns_names)];
	static const int types[] = { CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS };
	int r = 0;

	/* Open all three first: once in the node's mount namespace, the
	 * host's /run (where the files are) is out of sight. */
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
		fds[i] = -1;
	for (size_t i = 0; i < ARRAY_SIZE(ns_names) && r == 0; i++) {
		fds[i] = nodens_open(dir, ns_names[i]);
		if (fds[i] < 0)
			r = fds[i];
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns_names) && r == 0; i++)
		if (setns(fds[i], types[i]) < 0)
			r = -errno;
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r == 0 && chdir("/") < 0)
		r = -errno;
	return r;
}

static int unmount_and_remove(const char *path)
{
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int nodens_destroy(int node, const char *dir)
{
	char path[256];
	int r = 0, k;

	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ns_names[i]);
		k = unmount_and_remove(path);
		if (k < 0 && r == 0)
			r = k;
	}
	snprintf(path, sizeof(path), NETNS_DIR "/bproc-n%d", node);
	k = unmount_and_remove(path);
	if (k < 0 && r == 0)
		r = k;
	return r;
}
