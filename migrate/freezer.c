/*
 * freezer.c - the cgroup v2 freezer for processes that migrate.  See
 * freezer.h for why it is v2 and not SIGSTOP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "freezer.h"
#include "util.h"

#define BPROC_SUBTREE "bproc"
/*
 * Written on each cgroup of ours, for a daemon that finds it after the one
 * that made it died mid-move (freezer_adopt): where each process came from,
 * and whether its copy was let run elsewhere.  trusted.*: root only.
 */
#define XATTR_ORIGIN "trusted.bproc.origin."
#define XATTR_COMMITTED "trusted.bproc.committed"

int cgroup_mount_next(FILE *mountinfo, struct cgroup_mount *m)
{
	char line[4096];

	while (fgets(line, sizeof(line), mountinfo)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER */
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(dash + 3, "%31s %*s %1023s", m->fstype, m->super) != 2)
			continue;
		if (strcmp(m->fstype, "cgroup") != 0 && strcmp(m->fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %1023s %1023s", m->root, m->mountpoint) != 2)
			continue;
		return 1;
	}
	return ferror(mountinfo) ? -EIO : 0;
}

int freezer_cgroup2_root(char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	struct cgroup_mount m;
	int r;

	if (!f)
		return -errno;
	while ((r = cgroup_mount_next(f, &m)) > 0) {
		if (strcmp(m.fstype, "cgroup2") != 0 || strcmp(m.root, "/") != 0)
			continue;
		if (strlen(m.mountpoint) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, m.mountpoint);
		return 0;
	}
	return r < 0 ? r : -ENOENT;
}

static int write_text(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The v2 cgroup of pid, as an absolute path under root. */
static int cgroup_of(pid_t pid, const char *root, char **out)
{
	char path[64], line[PATH_MAX];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (asprintf(out, "%s%s", root, strcmp(line + 3, "/") == 0 ? "" : line + 3) < 0)
			return -ENOMEM;
		return 0;
	}
	return -ENOENT;
}

int freezer_create(struct freezer *f, const char *name)
{
	char root[PATH_MAX - 128], sub[PATH_MAX - 128];
	int r;

	memset(f, 0, sizeof(*f));
	if (strlen(name) > 64 || strchr(name, '/'))
		return -EINVAL;
	r = freezer_cgroup2_root(root, sizeof(root));
	if (r < 0)
		return r;
	if (snprintf(sub, sizeof(sub), "%s/" BPROC_SUBTREE, root) >= (int)sizeof(sub))
		return -ENAMETOOLONG;
	if (mkdir(sub, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(f->path, sizeof(f->path), "%s/%s", sub, name);
	/* One left by a daemon that died mid-move is empty: rmdir takes it
	 * (and refuses, EBUSY, one that holds a process).  Names carry pids,
	 * which come round again (pid_max is 32768 here). */
	if (mkdir(f->path, 0755) < 0 &&
	    (errno != EEXIST || rmdir(f->path) < 0 || mkdir(f->path, 0755) < 0)) {
		r = errno == EBUSY ? -EEXIST : -errno;
		f->path[0] = '\0';
		return r;
	}
	return 0;
}

int freezer_add(struct freezer *f, pid_t pid)
{
	char root[PATH_MAX - 128], text[32];
	char *origin = NULL;
	int r;

	if (f->npids == FREEZER_MAX_PIDS)
		return -E2BIG;
	r = freezer_cgroup2_root(root, sizeof(root));
	if (r < 0)
		return r;
	r = cgroup_of(pid, root, &origin);
	if (r < 0)
		return r;
	if (strcmp(origin, f->path) == 0) {
		/* Born in here (forked after its parent came in): it goes
		 * back where the tree came from. */
		free(origin);
		origin = strdup(f->npids > 0 ? f->origin[0] : root);
		if (!origin)
			return -ENOMEM;
	}
	snprintf(text, sizeof(text), "%d", (int)pid);
	r = write_text(f->path, "cgroup.procs", text);
	if (r < 0) {
		free(origin);
		return r == -ESRCH || r == -EINVAL ? -ESRCH : r;
	}
	f->pids[f->npids] = pid;
	f->origin[f->npids] = origin;
	f->npids++;
	/* Best effort: without it, a daemon after us would send the
	 * process to the cgroup root, not back where it was. */
	snprintf(text, sizeof(text), XATTR_ORIGIN "%d", (int)pid);
	setxattr(f->path, text, origin, strlen(origin), 0);
	return 0;
}

int freezer_children(pid_t pid, pid_t *out, int max)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((e = readdir(d)) && n < max) {
		char children[384];
		_cleanup_fclose_ FILE *f = NULL;
		int child;

		if (e->d_name[0] == '.')
			continue;
		snprintf(children, sizeof(children), "/proc/%d/task/%s/children", (int)pid, e->d_name);
		f = fopen(children, "re");
		while (f && n < max && fscanf(f, "%d", &child) == 1)
			out[n++] = child;
	}
	closedir(d);
	return n;
}

static bool has_pid(const struct freezer *f, pid_t pid)
{
	for (int i = 0; i < f->npids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

/*
 * A child added while its parent was not frozen yet may have ended and been
 * reaped by that parent before the freeze took hold: it is no longer part
 * of the tree (a zombie still is, and stays).  Parents keep their order.
 */
static int forget_reaped(struct freezer *f)
{
	if (kill(f->pids[0], 0) < 0 && errno == ESRCH)
		return -ESRCH;
	for (int i = 1; i < f->npids;) {
		if (kill(f->pids[i], 0) == 0 || errno != ESRCH) {
			i++;
			continue;
		}
		free(f->origin[i]);
		memmove(&f->pids[i], &f->pids[i + 1], sizeof(f->pids[0]) * (size_t)(f->npids - i - 1));
		memmove(&f->origin[i], &f->origin[i + 1],
			sizeof(f->origin[0]) * (size_t)(f->npids - i - 1));
		f->npids--;
	}
	return 0;
}

int freezer_add_tree(struct freezer *f, pid_t root)
{
	bool added;
	int r;

	r = freezer_add(f, root);
	if (r == 0)
		r = freezer_freeze(f);
	if (r < 0)
		return r;
	do {
		added = false;
		/* f->pids grows as we go: children of the ones just added
		 * are seen in the same pass. */
		for (int i = 0; i < f->npids; i++) {
			pid_t kids[FREEZER_MAX_PIDS];
			int n = freezer_children(f->pids[i], kids, FREEZER_MAX_PIDS);

			for (int k = 0; k < n; k++) {
				if (has_pid(f, kids[k]))
					continue;
				r = freezer_add(f, kids[k]);
				if (r == -ESRCH)
					continue; /* it ended meanwhile */
				if (r < 0)
					return r;
				added = true;
			}
		}
		/* A frozen cgroup freezes what comes in; wait for it. */
		if (added && (r = freezer_freeze(f)) < 0)
			return r;
	} while (added);
	return forget_reaped(f);
}

/* Wait until cgroup.events says "frozen want". */
static int wait_frozen(struct freezer *f, int want)
{
	char path[PATH_MAX + 32], buf[256];
	long long deadline = now_ms() + 5000;
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/cgroup.events", f->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLPRI };
		struct timespec step = { 0, 100000 };
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		char *p_frozen;

		if (n < 0)
			return -errno;
		buf[n] = '\0';
		p_frozen = strstr(buf, "frozen ");
		if (p_frozen && p_frozen[7] - '0' == want)
			return 0;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		/* The kernel signals a change of cgroup.events with POLLPRI,
		 * but at most once per 10 ms per file (the change to
		 * "populated" just before counts): look every 0.1 ms too.
		 * A task that freezes need only be scheduled once; a 1 ms
		 * sleep here cost each freeze about 1 ms. */
		if (ppoll(&p, 1, &step, NULL) < 0 && errno != EINTR)
			return -errno;
	}
}

int freezer_freeze(struct freezer *f)
{
	int r = write_text(f->path, "cgroup.freeze", "1");

	return r < 0 ? r : wait_frozen(f, 1);
}

int freezer_thaw(struct freezer *f)
{
	int r = write_text(f->path, "cgroup.freeze", "0");

	return r < 0 ? r : wait_frozen(f, 0);
}

int freezer_remove(struct freezer *f, pid_t pid)
{
	char text[32];

	for (int i = 0; i < f->npids; i++) {
		if (f->pids[i] != pid)
			continue;
		snprintf(text, sizeof(text), "%d", (int)pid);
		/* Gone already is fine: nothing to move back. */
		write_text(f->origin[i], "cgroup.procs", text);
		free(f->origin[i]);
		f->npids--;
		f->pids[i] = f->pids[f->npids];
		f->origin[i] = f->origin[f->npids];
		return 0;
	}
	return -ESRCH;
}

/* Processes in the cgroup that we did not put there (born inside):
 * send them to where back is. */
static void move_out_the_rest(struct freezer *f, const char *back)
{
	char path[PATH_MAX + 32];
	_cleanup_fclose_ FILE *procs = NULL;
	int pid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", f->path);
	procs = fopen(path, "re");
	while (procs && fscanf(procs, "%d", &pid) == 1) {
		char text[32];

		snprintf(text, sizeof(text), "%d", pid);
		write_text(back, "cgroup.procs", text);
	}
}

void freezer_release(struct freezer *f)
{
	_cleanup_free_ char *back = NULL;

	if (!f->path[0])
		return;
	/* Out while still frozen, each thawed as it leaves: thawed inside,
	 * a process could fork a child into our cgroup, and stay stuck in it. */
	if (f->npids > 0) {
		back = strdup(f->origin[0]);
	} else {
		/* Nothing of ours said where it came from (freezer_adopt). */
		char root[PATH_MAX];

		if (freezer_cgroup2_root(root, sizeof(root)) == 0)
			back = strdup(root);
	}
	while (f->npids > 0)
		freezer_remove(f, f->pids[0]);
	if (back)
		move_out_the_rest(f, back);
	freezer_thaw(f);
	/* A process killed in here leaves it only once it is fully gone:
	 * wait a little for that, or the empty cgroup stays behind. */
	for (int i = 0; rmdir(f->path) < 0 && errno == EBUSY && i < 50; i++)
		usleep(4000);
	f->path[0] = '\0';
}

int freezer_mark_committed(struct freezer *f)
{
	if (!f->path[0])
		return -EINVAL;
	return setxattr(f->path, XATTR_COMMITTED, "1", 1, 0) < 0 ? -errno : 0;
}

int freezer_note(struct freezer *f, const char *name, const char *value)
{
	char attr[128];

	if (!f->path[0])
		return -EINVAL;
	snprintf(attr, sizeof(attr), "trusted.bproc.%s", name);
	return setxattr(f->path, attr, value, strlen(value), 0) < 0 ? -errno : 0;
}

int freezer_read_note(const char *path, const char *name, char *buf, size_t len)
{
	char attr[128];
	ssize_t n;

	if (len == 0)
		return -EINVAL;
	snprintf(attr, sizeof(attr), "trusted.bproc.%s", name);
	n = getxattr(path, attr, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

int freezer_noted_pids(const char *path, pid_t *pids, int max)
{
	size_t plen = strlen(XATTR_ORIGIN);
	ssize_t len = listxattr(path, NULL, 0);
	_cleanup_free_ char *names = NULL;
	int n = 0;

	if (len <= 0)
		return len < 0 ? -errno : 0;
	names = malloc((size_t)len);
	if (!names)
		return -ENOMEM;
	len = listxattr(path, names, (size_t)len);
	if (len < 0)
		return -errno;
	for (char *a = names; a < names + len && n < max; a += strlen(a) + 1) {
		long pid;

		if (strncmp(a, XATTR_ORIGIN, plen) == 0 &&
		    parse_long(a + plen, 1, 0x7fffffff, &pid) == 0)
			pids[n++] = (pid_t)pid;
	}
	return n;
}

int freezer_leftovers(const char *prefix, char (*paths)[PATH_MAX], int max)
{
	/* Room for a name (255) after sub, within PATH_MAX. */
	char root[PATH_MAX - 512], sub[PATH_MAX - 320];
	struct dirent *e;
	DIR *d;
	int n = 0, r;

	r = freezer_cgroup2_root(root, sizeof(root));
	if (r < 0)
		return r;
	snprintf(sub, sizeof(sub), "%s/" BPROC_SUBTREE, root);
	d = opendir(sub);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && n < max) {
		if (e->d_type != DT_DIR || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(paths[n++], PATH_MAX, "%s/%s", sub, e->d_name);
	}
	closedir(d);
	return n;
}

int freezer_adopt(struct freezer *f, const char *path, bool *committed)
{
	char root[PATH_MAX - 128], file[PATH_MAX + 32], name[64], origin[PATH_MAX];
	_cleanup_fclose_ FILE *procs = NULL;
	int pid, r;

	memset(f, 0, sizeof(*f));
	r = freezer_cgroup2_root(root, sizeof(root));
	if (r < 0)
		return r;
	if (strncmp(path, root, strlen(root)) != 0 || strlen(path) >= sizeof(f->path))
		return -EINVAL;
	snprintf(f->path, sizeof(f->path), "%s", path);
	*committed = getxattr(path, XATTR_COMMITTED, name, sizeof(name)) > 0;
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	procs = fopen(file, "re");
	if (!procs)
		return -errno;
	while (fscanf(procs, "%d", &pid) == 1 && f->npids < FREEZER_MAX_PIDS) {
		ssize_t len;

		snprintf(name, sizeof(name), XATTR_ORIGIN "%d", pid);
		len = getxattr(path, name, origin, sizeof(origin) - 1);
		/* Only a cgroup of this hierarchy, and never ours again. */
		if (len <= 0)
			continue;
		origin[len] = '\0';
		if (strncmp(origin, root, strlen(root)) != 0 || strstr(origin, "/..") ||
		    strcmp(origin, path) == 0)
			continue;
		f->origin[f->npids] = strdup(origin);
		if (!f->origin[f->npids])
			return -ENOMEM;
		f->pids[f->npids++] = pid;
	}
	/* The rest (born inside, or no origin said) go with the first one,
	 * or to the root of the hierarchy (freezer_release). */
	return 0;
}
