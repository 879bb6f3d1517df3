/*
 * memory_room.c - a tree's memory, a node's room for it, and a restore
 * held to a memory limit.  See memory_room.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "freezer.h"
#include "log.h"
#include "memory_room.h"
#include "util.h"

#define BPROC_SUBTREE "bproc"
/* cgroup v1 says "no limit" as the largest page-aligned long: anything
 * this large is no limit. */
#define V1_NO_LIMIT (1ULL << 62)
/* How long the killed processes of a cage may take to go. */
#define CAGE_EMPTY_MS 5000

/* The number after "key" at the start of a line of text ("key N"). */
static int find_number(const char *text, const char *key, unsigned long long *out)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *end;

		if (strncmp(p, key, klen) != 0 || (p[klen] != ' ' && p[klen] != '\t'))
			continue;
		errno = 0;
		*out = strtoull(p + klen, &end, 10);
		if (errno || end == p + klen)
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

int memory_parse_meminfo(const char *text, uint64_t *available)
{
	unsigned long long kb;
	int r = find_number(text, "MemAvailable:", &kb);

	if (r < 0)
		return r == -EINVAL ? -EINVAL : -ENOENT;
	if (kb > (UINT64_MAX >> 10))
		return -EINVAL;
	*available = (uint64_t)kb << 10;
	return 0;
}

int memory_parse_limit(const char *text, uint64_t *bytes)
{
	unsigned long long v;
	char *end;

	while (*text == ' ')
		text++;
	if (strncmp(text, "max", 3) == 0 && (text[3] == '\n' || text[3] == '\0')) {
		*bytes = MEMORY_UNLIMITED;
		return 0;
	}
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	*bytes = v >= V1_NO_LIMIT ? MEMORY_UNLIMITED : (uint64_t)v;
	return 0;
}

int memory_parse_process(const char *status, uint64_t *bytes)
{
	unsigned long long anon = 0, shmem = 0;
	int ra = find_number(status, "RssAnon:", &anon);
	int rs = find_number(status, "RssShmem:", &shmem);

	if (ra == -EINVAL || rs == -EINVAL)
		return -EINVAL;
	if (ra < 0 && rs < 0)
		return -ENOENT;
	*bytes = ((uint64_t)anon + (uint64_t)shmem) << 10;
	return 0;
}

/* Is word one of the words of list (up to end), separated by sep? */
static bool has_word(const char *list, const char *end, const char *word, char sep)
{
	size_t wlen = strlen(word);

	for (const char *p = list; p < end;) {
		const char *comma = memchr(p, sep, (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (n == wlen && strncmp(p, word, wlen) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

int memory_parse_cgroup(const char *text, bool v1, char *path, size_t len)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		/* ID:CONTROLLERS:PATH */
		const char *c1 = strchr(p, ':'), *c2, *eol;
		size_t n;

		eol = p + strcspn(p, "\n");
		if (!c1 || c1 > eol || !(c2 = strchr(c1 + 1, ':')) || c2 > eol)
			continue;
		if (v1 ? !has_word(c1 + 1, c2, "memory", ',') : !(c2 == c1 + 1 && strncmp(p, "0:", 2) == 0))
			continue;
		n = (size_t)(eol - (c2 + 1));
		if (n == 0 || c2[1] != '/' || n >= len)
			return -EINVAL;
		memcpy(path, c2 + 1, n);
		path[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

uint64_t memory_parse_oom_kills(const char *text)
{
	unsigned long long n;

	return find_number(text, "oom_kill", &n) == 0 ? (uint64_t)n : 0;
}

static int write_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write(fd, text, strlen(text)) < 0 ? -errno : 0;
}

uint64_t memory_of_tree(const pid_t *pids, int n)
{
	uint64_t total = 0;

	for (int i = 0; i < n; i++) {
		char path[64], text[4096];
		uint64_t bytes;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)pids[i]);
		if (read_text_file(path, text, sizeof(text)) == 0 && memory_parse_process(text, &bytes) == 0)
			total += bytes;
	}
	return total;
}

/* Where the hierarchy with the memory controller is mounted (its root
 * mounted, not a part of it), and whether it is v1. */
static int memory_hierarchy(char *buf, size_t len, bool *v1)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	struct cgroup_mount m;
	int r;

	if (!f)
		return -errno;
	while ((r = cgroup_mount_next(f, &m)) > 0) {
		bool is_v1 = strcmp(m.fstype, "cgroup") == 0;
		char text[256];

		if (strcmp(m.root, "/") != 0)
			continue;
		if (is_v1 && !has_word(m.super, m.super + strlen(m.super), "memory", ','))
			continue;
		if (!is_v1) {
			char path[1100];

			snprintf(path, sizeof(path), "%s/cgroup.controllers", m.mountpoint);
			text[0] = '\0';
			read_text_file(path, text, sizeof(text));
			text[strcspn(text, "\n")] = '\0';
			if (!has_word(text, text + strlen(text), "memory", ' '))
				continue;
		}
		if (strlen(m.mountpoint) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, m.mountpoint);
		*v1 = is_v1;
		return 0;
	}
	return r < 0 ? r : -ENOENT;
}

/* Our own memory cgroup, as a directory. */
static int own_memory_cgroup(char *buf, size_t len, bool *v1)
{
	char root[PATH_MAX / 2], sub[PATH_MAX / 2], text[4096];
	int r = memory_hierarchy(root, sizeof(root), v1);

	if (r == 0)
		r = read_text_file("/proc/self/cgroup", text, sizeof(text));
	if (r == 0)
		r = memory_parse_cgroup(text, *v1, sub, sizeof(sub));
	if (r < 0)
		return r;
	if (snprintf(buf, len, "%s%s", root, strcmp(sub, "/") == 0 ? "" : sub) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* limit - usage of the cgroup dir, MEMORY_UNLIMITED if it has no limit. */
static uint64_t cgroup_room(const char *dir, bool v1)
{
	char path[PATH_MAX + 32], text[64];
	uint64_t limit, usage;

	snprintf(path, sizeof(path), "%s/%s", dir, v1 ? "memory.limit_in_bytes" : "memory.max");
	if (read_text_file(path, text, sizeof(text)) < 0 || memory_parse_limit(text, &limit) < 0 ||
	    limit == MEMORY_UNLIMITED)
		return MEMORY_UNLIMITED;
	snprintf(path, sizeof(path), "%s/%s", dir, v1 ? "memory.usage_in_bytes" : "memory.current");
	if (read_text_file(path, text, sizeof(text)) < 0 || memory_parse_limit(text, &usage) < 0 ||
	    usage == MEMORY_UNLIMITED)
		return MEMORY_UNLIMITED;
	return usage >= limit ? 0 : limit - usage;
}

int memory_room(uint64_t *bytes, bool *by_cgroup)
{
	char text[8192], dir[PATH_MAX], root[PATH_MAX];
	bool v1;
	int r = read_text_file("/proc/meminfo", text, sizeof(text));

	if (r == 0)
		r = memory_parse_meminfo(text, bytes);
	if (r < 0)
		return r;
	*by_cgroup = false;
	/* No memory controller: MemAvailable is all there is to go by. */
	if (own_memory_cgroup(dir, sizeof(dir), &v1) < 0 || memory_hierarchy(root, sizeof(root), &v1) < 0)
		return 0;
	/* Ours and each one above it, up to the hierarchy's root. */
	for (;;) {
		uint64_t room = cgroup_room(dir, v1);
		char *slash;

		if (room < *bytes) {
			*bytes = room;
			*by_cgroup = true;
		}
		if (strlen(dir) <= strlen(root) || !(slash = strrchr(dir, '/')))
			break;
		*slash = '\0';
	}
	return 0;
}

int memory_cage_create(struct memory_cage *c, const char *name, uint64_t limit)
{
	char root[PATH_MAX / 2], sub[PATH_MAX / 2 + 16], path[PATH_MAX + 32], text[32];
	int r;

	memset(c, 0, sizeof(*c));
	if (strlen(name) > 64 || strchr(name, '/'))
		return -EINVAL;
	r = memory_hierarchy(root, sizeof(root), &c->v1);
	if (r < 0)
		return r;
	snprintf(sub, sizeof(sub), "%s/" BPROC_SUBTREE, root);
	if (!c->v1) {
		/* v2: a child gets the controller only if its parent hands it on. */
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
		write_text(path, "+memory");
	}
	if (mkdir(sub, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!c->v1) {
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", sub);
		write_text(path, "+memory");
	}
	snprintf(c->path, sizeof(c->path), "%s/%s", sub, name);
	/* One a slave that died left is empty: rmdir takes it. */
	if (mkdir(c->path, 0755) < 0 &&
	    (errno != EEXIST || rmdir(c->path) < 0 || mkdir(c->path, 0755) < 0)) {
		r = -errno;
		c->path[0] = '\0';
		return r;
	}
	snprintf(path, sizeof(path), "%s/%s", c->path, c->v1 ? "memory.limit_in_bytes" : "memory.max");
	snprintf(text, sizeof(text), "%llu", (unsigned long long)limit);
	r = write_text(path, text);
	if (r < 0) {
		rmdir(c->path);
		c->path[0] = '\0';
		return r;
	}
	c->limit = limit;
	return 0;
}

void memory_cage_procs(const struct memory_cage *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/cgroup.procs", c->path);
}

uint64_t memory_cage_oom_kills(const struct memory_cage *c)
{
	char path[PATH_MAX + 32], text[1024];

	if (!c->path[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%s", c->path, c->v1 ? "memory.oom_control" : "memory.events");
	if (read_text_file(path, text, sizeof(text)) < 0)
		return 0;
	return memory_parse_oom_kills(text);
}

int memory_cage_remove_leftovers(const char *prefix)
{
	char root[PATH_MAX / 2], sub[PATH_MAX / 2 + 16];
	DIR *d;
	struct dirent *e;
	bool v1;
	int removed = 0;

	if (memory_hierarchy(root, sizeof(root), &v1) < 0)
		return 0;
	snprintf(sub, sizeof(sub), "%s/" BPROC_SUBTREE, root);
	d = opendir(sub);
	while (d && (e = readdir(d))) {
		char path[PATH_MAX + 300];

		if (e->d_type != DT_DIR || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
		/* rmdir takes only an empty one. */
		removed += rmdir(path) == 0;
	}
	if (d)
		closedir(d);
	return removed;
}

void memory_cage_release(struct memory_cage *c, bool kill_all)
{
	char procs[PATH_MAX + 32], back[PATH_MAX + 32], own[PATH_MAX];
	long long deadline = now_ms() + CAGE_EMPTY_MS;
	bool v1;

	if (!c->path[0])
		return;
	memory_cage_procs(c, procs, sizeof(procs));
	back[0] = '\0';
	if (!kill_all && own_memory_cgroup(own, sizeof(own), &v1) == 0)
		snprintf(back, sizeof(back), "%s/cgroup.procs", own);
	for (;;) {
		char text[4096], *p, *next;
		bool any = false;

		if (read_text_file(procs, text, sizeof(text)) < 0)
			break;
		for (p = text; *p; p = next) {
			long pid;

			next = p + strcspn(p, "\n");
			if (*next)
				*next++ = '\0';
			if (parse_long(p, 1, 0x7fffffff, &pid) < 0)
				continue;
			any = true;
			/* A process that cannot go back is not left in a
			 * cgroup about to go: it is killed. */
			if (!back[0] || write_text(back, p) < 0)
				kill((pid_t)pid, SIGKILL);
		}
		if (!any && rmdir(c->path) == 0)
			break;
		if (now_ms() > deadline) {
			pr_warn("%s: cannot remove it: %s", c->path,
				any ? "its processes do not go" : strerror(errno));
			break;
		}
		usleep(2000);
	}
	c->path[0] = '\0';
}
