/*
 * image_pid.c - turn the CRIU images of one process dumped as pid OLD into
 * images that restore it as pid NEW (one dump, many restored copies).  See
 * image_pid.h.
 *
 * The file format, from CRIU's criu/image.c and criu/protobuf.c: an image
 * starts with IMG_COMMON_MAGIC and the magic of its kind, then entries,
 * each a u32 length and that many bytes of protobuf.  CRIU writes the u32s
 * in host byte order (little-endian on x86-64 and aarch64); so do we.
 *
 * Where the pid is: CRIU names the per-process images after it (core-,
 * ids-, mm-, pagemap-, fs-, sigacts-PID.img in criu/image-desc.c), and
 * pstree.img holds it in pid, pgid, sid and threads.  Only those names
 * are renamed: the other numbered ones (pages-N, fdinfo-N, netns-N...)
 * carry ids of CRIU's own, counted from 1, which a small pid could equal.
 *
 * Not rewritten (the callers move no such process): a terminal's session
 * and group in tty-info.img, an F_SETOWN owner, peers' credentials,
 * senders of pending signals, /proc/PID paths of open files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image.pb-c.h"
#include "image_pid.h"
#include "log.h"
#include "util.h"

#define IMG_COMMON_MAGIC 0x54564319u
#define PSTREE_MAGIC 0x50273030u
/* A pstree entry is a few dozen bytes: anything this big is damage. */
#define ENTRY_MAX (1u << 20)

typedef Bproc__CriuPstreeEntry PstreeEntry;

/* pstree.img as read: its magics, its first entry, how many entries. */
struct pstree {
	uint32_t magic[2];
	PstreeEntry *first;
	unsigned int n;
};

static void pstree_done(struct pstree *pt)
{
	if (pt->first)
		bproc__criu_pstree_entry__free_unpacked(pt->first, NULL);
	pt->first = NULL;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int fail(char *err, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pr_err("%s", buf);
	if (err && errlen)
		snprintf(err, errlen, "%s", buf);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Check every entry's framing, decode the first. */
static int pstree_load(int dfd, const char *dir, struct pstree *pt, char *err, size_t errlen)
{
	_cleanup_close_ int fd = openat(dfd, "pstree.img", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return fail(err, errlen, -errno, "%s/pstree.img: %s", dir, strerror(errno));
	n = read_upto(fd, pt->magic, sizeof(pt->magic));
	if (n < 0)
		return fail(err, errlen, (int)n, "%s/pstree.img: %s", dir, strerror((int)-n));
	if (n != sizeof(pt->magic))
		return fail(err, errlen, -EINVAL, "%s/pstree.img: truncated in its header", dir);
	if (pt->magic[0] != IMG_COMMON_MAGIC || pt->magic[1] != PSTREE_MAGIC)
		return fail(err, errlen, -EINVAL, "%s/pstree.img: not a CRIU pstree image (magic %#x %#x)",
			    dir, pt->magic[0], pt->magic[1]);

	for (;;) {
		_cleanup_free_ uint8_t *buf = NULL;
		uint32_t len;

		n = read_upto(fd, &len, sizeof(len));
		if (n == 0)
			break;
		if (n < 0)
			return fail(err, errlen, (int)n, "%s/pstree.img: %s", dir, strerror((int)-n));
		if (n != sizeof(len))
			return fail(err, errlen, -EINVAL, "%s/pstree.img: entry %u truncated in its length",
				    dir, pt->n + 1);
		if (len > ENTRY_MAX)
			return fail(err, errlen, -EINVAL, "%s/pstree.img: entry %u claims %u bytes (at most %u)",
				    dir, pt->n + 1, len, ENTRY_MAX);
		buf = malloc(len ? len : 1);
		if (!buf)
			return fail(err, errlen, -ENOMEM, "%s/pstree.img: out of memory", dir);
		n = read_upto(fd, buf, len);
		if (n < 0)
			return fail(err, errlen, (int)n, "%s/pstree.img: %s", dir, strerror((int)-n));
		if ((size_t)n != len)
			return fail(err, errlen, -EINVAL, "%s/pstree.img: entry %u truncated (%zd of %u bytes)",
				    dir, pt->n + 1, n, len);
		if (pt->n++ == 0) {
			pt->first = bproc__criu_pstree_entry__unpack(NULL, len, buf);
			if (!pt->first)
				return fail(err, errlen, -EINVAL, "%s/pstree.img: entry 1 is not a pstree entry", dir);
			/* Fields of a newer CRIU are kept and written back; a
			 * field numbered 0 is no field at all (protobuf-c keeps
			 * it, and would write what no reader takes: found by
			 * fuzz-image). */
			for (size_t i = 0; i < pt->first->base.n_unknown_fields; i++)
				if (pt->first->base.unknown_fields[i].tag == 0)
					return fail(err, errlen, -EINVAL, "%s/pstree.img: entry 1 has a field numbered 0", dir);
		}
	}
	if (pt->n == 0)
		return fail(err, errlen, -EINVAL, "%s/pstree.img: no process in it", dir);
	return 0;
}

/* Write pt (its first entry) as to_dir/pstree.img, magics as they were. */
static int pstree_write(int dfd, const char *dir, const struct pstree *pt, char *err, size_t errlen)
{
	size_t len = bproc__criu_pstree_entry__get_packed_size(pt->first);
	size_t total = sizeof(pt->magic) + sizeof(uint32_t) + len;
	_cleanup_free_ uint8_t *buf = malloc(total);
	_cleanup_close_ int fd = -1;
	uint32_t len32 = (uint32_t)len;
	int r;

	if (!buf)
		return fail(err, errlen, -ENOMEM, "%s/pstree.img: out of memory", dir);
	memcpy(buf, pt->magic, sizeof(pt->magic));
	memcpy(buf + sizeof(pt->magic), &len32, sizeof(len32));
	bproc__criu_pstree_entry__pack(pt->first, buf + sizeof(pt->magic) + sizeof(len32));

	/* 0600 as CRIU makes its images. */
	fd = openat(dfd, "pstree.img", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s/pstree.img: %s", dir, strerror(errno));
	r = write_full(fd, buf, total);
	if (r < 0) {
		unlinkat(dfd, "pstree.img", 0);
		return fail(err, errlen, r, "%s/pstree.img: %s", dir, strerror(-r));
	}
	return 0;
}

/* The slow way, for from_dir and to_dir on different filesystems. */
static int copy_file(int from, const char *name, int to, const char *to_name, mode_t mode)
{
	_cleanup_close_ int in = openat(from, name, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;

	if (in < 0)
		return -errno;
	out = openat(to, to_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (out < 0)
		return -errno;
	for (;;) {
		ssize_t n = sendfile(out, in, NULL, 1 << 30);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			unlinkat(to, to_name, 0);
			return r;
		}
		if (n == 0)
			return 0;
	}
}

/* One of CRIU's per-process images of pid, by its name. */
static bool per_pid_image(const char *name, pid_t pid)
{
	static const char *const kinds[] = {
		"core", "ids", "mm", "pagemap", "fs",
		/* Older CRIUs' */
		"sigacts", "itimers", "posix-timers", "creds", "rlimit", "signal-s", "signal-p", "vmas",
	};
	char want[64];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(want, sizeof(want), "%s-%d.img", kinds[i], (int)pid);
		if (strcmp(name, want) == 0)
			return true;
	}
	return false;
}

static uint32_t swap(uint32_t v, pid_t old_pid, pid_t new_pid)
{
	return v == (uint32_t)old_pid ? (uint32_t)new_pid : v;
}

int image_copy_for_pid(const char *from_dir, pid_t old_pid, const char *to_dir, pid_t new_pid,
		       char *err, size_t errlen)
{
	_cleanup_close_ int from = -1, to = -1;
	__attribute__((cleanup(closedirp))) DIR *d = NULL;
	__attribute__((cleanup(pstree_done))) struct pstree pt = { 0 };
	char old_suffix[32], new_suffix[32];
	struct dirent *de;
	int r;

	if (old_pid <= 0 || new_pid <= 0)
		return fail(err, errlen, -EINVAL, "bad pid %d or %d", (int)old_pid, (int)new_pid);
	from = open(from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (from < 0)
		return fail(err, errlen, -errno, "%s: %s", from_dir, strerror(errno));
	to = open(to_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (to < 0)
		return fail(err, errlen, -errno, "%s: %s", to_dir, strerror(errno));

	/* pstree.img first: an image we cannot rewrite leaves to_dir empty. */
	r = pstree_load(from, from_dir, &pt, err, errlen);
	if (r < 0)
		return r;
	if (pt.n > 1)
		return fail(err, errlen, -EINVAL, "%s: a tree of %u processes; only one can be given a new pid",
			    from_dir, pt.n);
	if (pt.first->n_threads > 1)
		return fail(err, errlen, -EINVAL, "%s: process %u has %zu threads; only a single thread can be given a new pid",
			    from_dir, pt.first->pid, pt.first->n_threads);
	if (pt.first->pid != (uint32_t)old_pid)
		return fail(err, errlen, -EINVAL, "%s: the image is of pid %u, not %d",
			    from_dir, pt.first->pid, (int)old_pid);
	pt.first->pid = swap(pt.first->pid, old_pid, new_pid);
	pt.first->ppid = swap(pt.first->ppid, old_pid, new_pid);
	pt.first->pgid = swap(pt.first->pgid, old_pid, new_pid);
	pt.first->sid = swap(pt.first->sid, old_pid, new_pid);
	for (size_t i = 0; i < pt.first->n_threads; i++)
		pt.first->threads[i] = swap(pt.first->threads[i], old_pid, new_pid);
	r = pstree_write(to, to_dir, &pt, err, errlen);
	if (r < 0)
		return r;

	snprintf(old_suffix, sizeof(old_suffix), "-%d.img", (int)old_pid);
	snprintf(new_suffix, sizeof(new_suffix), "-%d.img", (int)new_pid);
	r = fcntl(from, F_DUPFD_CLOEXEC, 3);
	if (r < 0)
		return fail(err, errlen, -errno, "%s: %s", from_dir, strerror(errno));
	d = fdopendir(r);
	if (!d) {
		int e = errno;

		close(r);
		return fail(err, errlen, -e, "%s: %s", from_dir, strerror(e));
	}
	while ((errno = 0, de = readdir(d))) {
		const char *name = de->d_name;
		char to_name[NAME_MAX + 1];
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(err, errlen, -errno, "%s/%s: %s", from_dir, name, strerror(errno));
		/* CRIU's logs are of the dump, not of what will be restored. */
		if (!S_ISREG(st.st_mode) || ends_with(name, ".log") || strcmp(name, "pstree.img") == 0)
			continue;
		if (per_pid_image(name, old_pid))
			r = snprintf(to_name, sizeof(to_name), "%.*s%s",
				     (int)(strlen(name) - strlen(old_suffix)), name, new_suffix);
		else
			r = snprintf(to_name, sizeof(to_name), "%s", name);
		if (r < 0 || (size_t)r >= sizeof(to_name))
			return fail(err, errlen, -ENAMETOOLONG, "%s/%s: new name too long", to_dir, name);

		if (linkat(from, name, to, to_name, 0) == 0)
			continue;
		if (errno != EXDEV)
			return fail(err, errlen, -errno, "link %s/%s to %s/%s: %s",
				    from_dir, name, to_dir, to_name, strerror(errno));
		r = copy_file(from, name, to, to_name, st.st_mode);
		if (r < 0)
			return fail(err, errlen, r, "copy %s/%s to %s/%s: %s",
				    from_dir, name, to_dir, to_name, strerror(-r));
	}
	if (errno)
		return fail(err, errlen, -errno, "%s: %s", from_dir, strerror(errno));
	return 0;
}

int image_pstree_read(const char *dir, pid_t *pid, pid_t *pgid, pid_t *sid)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	__attribute__((cleanup(pstree_done))) struct pstree pt = { 0 };
	int r;

	if (dfd < 0)
		return fail(NULL, 0, -errno, "%s: %s", dir, strerror(errno));
	r = pstree_load(dfd, dir, &pt, NULL, 0);
	if (r < 0)
		return r;
	if (pid)
		*pid = (pid_t)pt.first->pid;
	if (pgid)
		*pgid = (pid_t)pt.first->pgid;
	if (sid)
		*sid = (pid_t)pt.first->sid;
	return 0;
}
