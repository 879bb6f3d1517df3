/*
 * file_stream.c - see file_stream.h.
 *
 * Sender: sources are walked with the *at() calls from the directory that
 * holds them, so a path is resolved once; a regular file's bytes go out
 * with sendfile().  Receiver: entries are created under the destination as
 * cp would, directories get their final mode and times only after their
 * contents (a read-only directory must still be filled).  Both check what
 * they are sent: a bad entry name or an unexpected message ends the
 * transfer with an error, never a file written outside the destination.
 */
#include "file_stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sodium.h>

#include "seal_relay.h"
#include "util.h"

#define SEND_CHUNK (4u << 20)
#define RECV_BUF (1u << 20)
#define BOOT_ID "/proc/sys/kernel/random/boot_id"

/* ---- results ---- */

void file_result_add(struct file_result *res, const char *fmt, ...)
{
	char **t, *text;
	va_list ap;
	int r;

	if (res->nerrors >= FILE_MAX_ERRORS) {
		res->dropped++;
		return;
	}
	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0) {
		res->dropped++;
		return;
	}
	t = realloc(res->errors, (res->nerrors + 1) * sizeof(*t));
	if (!t) {
		free(text);
		res->dropped++;
		return;
	}
	res->errors = t;
	res->errors[res->nerrors++] = text;
}

void file_result_merge(struct file_result *res, const Bproc__FileResult *from)
{
	for (size_t i = 0; i < from->n_errors; i++)
		file_result_add(res, "%s", from->errors[i]);
	res->dropped += from->has_dropped ? from->dropped : 0;
	res->files += from->files;
	res->bytes += from->bytes;
	res->refused |= from->has_refused && from->refused;
}

void file_result_free(struct file_result *res)
{
	for (size_t i = 0; i < res->nerrors; i++)
		free(res->errors[i]);
	free(res->errors);
	*res = (struct file_result){ 0 };
}

int file_result_send(int fd, const struct file_result *res)
{
	Bproc__FileResult fr = BPROC__FILE_RESULT__INIT;
	Msg msg = BPROC__MSG__INIT;

	fr.n_errors = res->nerrors;
	fr.errors = res->errors;
	fr.has_dropped = res->dropped > 0;
	fr.dropped = res->dropped;
	fr.files = res->files;
	fr.bytes = res->bytes;
	fr.has_refused = res->refused;
	fr.refused = res->refused;
	msg.body_case = BPROC__MSG__BODY_FILE_RESULT;
	msg.file_result = &fr;
	return frame_send(fd, &msg);
}

/* ---- checks ---- */

int file_check_name(const char *path)
{
	size_t len = strlen(path);
	const char *p = path;
	bool first = true;

	if (len == 0 || len >= PATH_MAX || path[0] == '/')
		return -EINVAL;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (n == 1 && p[0] == '.' && !first)
			return -EINVAL;
		if (n > NAME_MAX)
			return -EINVAL;
		first = false;
		p += n;
		if (*p == '/') {
			p++;
			if (!*p)
				return -EINVAL; /* a trailing slash */
		}
	}
	return 0;
}

int file_check_request(const Bproc__FileTransferRequest *req, char *err, size_t errlen)
{
	if (req->role != BPROC__FILE_ROLE__FILE_SEND && req->role != BPROC__FILE_ROLE__FILE_RECEIVE) {
		snprintf(err, errlen, "unknown file transfer role %d", req->role);
		return -EINVAL;
	}
	if (req->n_paths == 0 || req->n_paths > FILE_MAX_PATHS) {
		snprintf(err, errlen, "a transfer takes 1 to %d paths, not %zu", FILE_MAX_PATHS,
			 req->n_paths);
		return -EINVAL;
	}
	if (req->role == BPROC__FILE_ROLE__FILE_RECEIVE && req->n_paths != 1) {
		snprintf(err, errlen, "a receiver takes one destination, not %zu", req->n_paths);
		return -EINVAL;
	}
	for (size_t i = 0; i < req->n_paths; i++) {
		const char *p = req->paths[i];

		if (p[0] != '/' || strlen(p) >= PATH_MAX) {
			snprintf(err, errlen, "'%.64s': paths must be absolute and shorter than %d",
				 p, PATH_MAX);
			return -EINVAL;
		}
	}
	if (req->peer) {
		if (req->role != BPROC__FILE_ROLE__FILE_SEND) {
			snprintf(err, errlen, "only a sender is given a peer");
			return -EINVAL;
		}
		if (req->peer->token.len != FILE_TOKEN_SIZE || req->peer->port == 0 ||
		    (req->peer->has_key && req->peer->key.len != FILE_KEY_SIZE) ||
		    req->peer->port > 65535 || !req->peer->addr || strlen(req->peer->addr) > 15) {
			snprintf(err, errlen, "the peer's endpoint is malformed");
			return -EINVAL;
		}
	}
	if (req->has_umask && req->umask > 0777) {
		snprintf(err, errlen, "umask %o is out of range", req->umask);
		return -EINVAL;
	}
	return 0;
}

/* ---- hello ---- */

int file_seal(int *fd, const uint8_t key[FILE_KEY_SIZE], bool connector)
{
	uint8_t tx[SEAL_KEY_SIZE], rx[SEAL_KEY_SIZE];
	int r;

	seal_keys_from_key(key, connector, tx, rx);
	r = seal_relay_start(fd, tx, rx);
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
	return r;
}

int file_hello_send(int fd, const uint8_t token[FILE_TOKEN_SIZE])
{
	Bproc__FileHello hello = BPROC__FILE_HELLO__INIT;
	Msg msg = BPROC__MSG__INIT;

	hello.token.data = (uint8_t *)token;
	hello.token.len = FILE_TOKEN_SIZE;
	msg.body_case = BPROC__MSG__BODY_FILE_HELLO;
	msg.file_hello = &hello;
	return frame_send(fd, &msg);
}

int file_hello_check(int fd, const uint8_t token[FILE_TOKEN_SIZE])
{
	_cleanup_msg_ Msg *msg = NULL;
	int r = frame_recv(fd, &msg);

	if (r < 0)
		return r;
	if (msg->body_case != BPROC__MSG__BODY_FILE_HELLO ||
	    msg->file_hello->token.len != FILE_TOKEN_SIZE ||
	    memcmp(msg->file_hello->token.data, token, FILE_TOKEN_SIZE) != 0)
		return -EACCES;
	return 0;
}

/* Which kernel this is: entries from the same one can be the same file. */
static bool read_host_id(uint8_t id[37])
{
	int fd = open(BOOT_ID, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = read_full(fd, id, 36) == 0;
	close(fd);
	id[36] = 0;
	return ok;
}

/* ---- sender ---- */

struct sender {
	int fd;
	const struct file_opts *o;
	uint8_t host[37];
	bool have_host;
	uint64_t total;
	bool dest_known; /* the receiver's directory is on this kernel: */
	dev_t dest_dev;
	ino_t dest_ino;
};

static int send_body(struct sender *sd, Msg *msg)
{
	return frame_send(sd->fd, msg);
}

static int send_error(struct sender *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_error(struct sender *sd, const char *fmt, ...)
{
	Bproc__FileError fe = BPROC__FILE_ERROR__INIT;
	Msg msg = BPROC__MSG__INIT;
	char text[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fe.text = text;
	msg.body_case = BPROC__MSG__BODY_FILE_ERROR;
	msg.file_error = &fe;
	return send_body(sd, &msg);
}

static int send_entry(struct sender *sd, Bproc__FileType type, const char *rel,
		      const struct stat *st, const char *link)
{
	Bproc__FileEntry e = BPROC__FILE_ENTRY__INIT;
	Msg msg = BPROC__MSG__INIT;

	e.type = type;
	e.path = (char *)rel;
	e.mode = st->st_mode & 07777;
	e.has_size = type == BPROC__FILE_TYPE__FILE_REGULAR;
	e.size = (uint64_t)st->st_size;
	e.has_atime_sec = e.has_atime_nsec = e.has_mtime_sec = e.has_mtime_nsec = true;
	e.atime_sec = st->st_atim.tv_sec;
	e.atime_nsec = (uint32_t)st->st_atim.tv_nsec;
	e.mtime_sec = st->st_mtim.tv_sec;
	e.mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	e.has_uid = e.has_gid = true;
	e.uid = st->st_uid;
	e.gid = st->st_gid;
	e.link = (char *)link;
	e.has_dev = e.has_ino = true;
	e.dev = st->st_dev;
	e.ino = st->st_ino;
	if (sd->have_host) {
		e.has_host = true;
		e.host.data = sd->host;
		e.host.len = 36;
	}
	msg.body_case = BPROC__MSG__BODY_FILE_ENTRY;
	msg.file_entry = &e;
	return send_body(sd, &msg);
}

static bool stream_broken(int err)
{
	return err == EPIPE || err == ECONNRESET || err == EAGAIN || err == ETIMEDOUT ||
	       err == ENOTCONN;
}

/* Exactly size bytes of fd; zeros for what could not be read. */
static int send_data(struct sender *sd, int fd, const char *shown, const char *rel, uint64_t size)
{
	static const uint8_t zeros[65536];
	uint64_t done = 0;
	int r;

	while (done < size) {
		size_t want = size - done < SEND_CHUNK ? (size_t)(size - done) : SEND_CHUNK;
		ssize_t n = sendfile(sd->fd, fd, NULL, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && stream_broken(errno))
			return -errno;
		if (n <= 0) {
			/* The file shrank or cannot be read: keep the stream in step. */
			r = send_error(sd, "%s%s: %s", sd->o->prefix, shown,
				       n == 0 ? "file shrank while it was copied" : strerror(errno));
			if (r < 0)
				return r;
			while (done < size) {
				size_t z = size - done < sizeof(zeros) ? (size_t)(size - done) : sizeof(zeros);

				r = write_full(sd->fd, zeros, z);
				if (r < 0)
					return r;
				done += z;
			}
			break;
		}
		done += (uint64_t)n;
		sd->total += (uint64_t)n;
		if (sd->o->progress) {
			r = sd->o->progress(sd->o->progress_arg, rel, done, size, sd->total);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int send_path(struct sender *sd, int dirfd, const char *name, const char *rel,
		     const char *shown, bool follow);

/* A directory's contents, in name order, then its end. */
static int send_dir(struct sender *sd, int fd, const char *rel, const char *shown,
		    const struct stat *st)
{
	DIR *d = fdopendir(fd);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = send_error(sd, "%s%s: %s", sd->o->prefix, shown, strerror(errno));
		close(fd);
		return r;
	}
	r = send_entry(sd, BPROC__FILE_TYPE__FILE_DIRECTORY, rel, st, NULL);
	errno = 0;
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **t = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*t));

			if (!t) {
				r = -ENOMEM;
				break;
			}
			names = t;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r == 0 && errno)
		r = send_error(sd, "%s%s: %s", sd->o->prefix, shown, strerror(errno));
	qsort_safe(names, n, sizeof(*names), name_cmp); /* an empty directory: names is NULL */
	for (size_t i = 0; i < n && r == 0; i++) {
		char crel[PATH_MAX], cshown[PATH_MAX];

		if (snprintf(crel, sizeof(crel), "%s/%s", rel, names[i]) >= (int)sizeof(crel) ||
		    snprintf(cshown, sizeof(cshown), "%s/%s", shown, names[i]) >= (int)sizeof(cshown)) {
			r = send_error(sd, "%s%s/%s: %s", sd->o->prefix, shown, names[i],
				       strerror(ENAMETOOLONG));
			continue;
		}
		r = send_path(sd, dirfd(d), names[i], crel, cshown, false);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	if (r == 0)
		r = send_entry(sd, BPROC__FILE_TYPE__FILE_DIRECTORY_END, rel, st, NULL);
	return r;
}

/*
 * One source or one entry of a directory: name in dirfd.  Only the
 * sources given without -r follow a symbolic link, as with cp.
 */
static int send_path(struct sender *sd, int dirfd, const char *name, const char *rel,
		     const char *shown, bool follow)
{
	const char *pre = sd->o->prefix;
	struct stat st;
	int nofollow = follow ? 0 : O_NOFOLLOW;
	int r;

	if (fstatat(dirfd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
		return send_error(sd, "%s%s: %s", pre, shown, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | nofollow);

		if (fd < 0 || fstat(fd, &st) < 0)
			return send_error(sd, "%s%s: %s", pre, shown, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return send_error(sd, "%s%s: changed while it was copied", pre, shown);
		r = send_entry(sd, BPROC__FILE_TYPE__FILE_REGULAR, rel, &st, NULL);
		if (r < 0)
			return r;
		return send_data(sd, fd, shown, rel, (uint64_t)st.st_size);
	}
	if (S_ISDIR(st.st_mode)) {
		int fd;

		if (!sd->o->recursive)
			return send_error(sd, "-r not specified; omitting directory '%s%s'", pre, shown);
		if (sd->dest_known && st.st_dev == sd->dest_dev && st.st_ino == sd->dest_ino)
			return send_error(sd, "cannot copy a directory into itself: '%s%s' is the destination",
					  pre, shown);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow);
		if (fd < 0)
			return send_error(sd, "%s%s: %s", pre, shown, strerror(errno));
		return send_dir(sd, fd, rel, shown, &st);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return send_error(sd, "%s%s: %s", pre, shown, strerror(errno));
		target[n] = '\0';
		return send_entry(sd, BPROC__FILE_TYPE__FILE_SYMLINK, rel, &st, target);
	}
	return send_error(sd, "%s%s: not a regular file, directory or symbolic link; skipped",
			  pre, shown);
}

/* The name a source has at its destination: its last component. */
static const char *source_name(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);
	const char *base;

	while (n > 1 && path[n - 1] == '/')
		n--;
	snprintf(buf, len, "%.*s", (int)n, path);
	base = strrchr(buf, '/');
	base = base && base[1] ? base + 1 : buf;
	/* "/", "." and "..": their contents go into the destination itself. */
	if (strcmp(base, "/") == 0 || strcmp(base, "..") == 0)
		return ".";
	return base;
}

static int read_reply(int fd, Msg **out)
{
	int r = frame_recv(fd, out);

	if (r < 0)
		return r;
	if ((*out)->body_case != BPROC__MSG__BODY_FILE_RESULT &&
	    (*out)->body_case != BPROC__MSG__BODY_FILE_READY) {
		msg_free(*out);
		*out = NULL;
		return -EPROTO;
	}
	return 0;
}

int file_send(int fd, char *const *paths, size_t npaths, const struct file_opts *o,
	      struct file_result *res)
{
	struct sender sd = { .fd = fd, .o = o };
	Bproc__FileEnd end = BPROC__FILE_END__INIT;
	Msg endmsg = BPROC__MSG__INIT;
	Msg *reply = NULL;
	int r;

	sd.have_host = read_host_id(sd.host);
	r = read_reply(fd, &reply);
	if (r < 0)
		return r;
	if (reply->body_case == BPROC__MSG__BODY_FILE_RESULT) {
		/* The receiver cannot take anything. */
		file_result_merge(res, reply->file_result);
		msg_free(reply);
		return 0;
	}
	{
		const Bproc__FileReady *fr = reply->file_ready;

		sd.dest_known = sd.have_host && fr->has_dev && fr->has_ino && fr->has_host &&
				fr->host.len == 36 && memcmp(fr->host.data, sd.host, 36) == 0;
		sd.dest_dev = (dev_t)fr->dev;
		sd.dest_ino = (ino_t)fr->ino;
	}
	msg_free(reply);
	for (size_t i = 0; i < npaths; i++) {
		char buf[PATH_MAX];
		const char *name = source_name(paths[i], buf, sizeof(buf));

		r = send_path(&sd, AT_FDCWD, paths[i], name, paths[i], !o->recursive);
		if (r < 0)
			return r;
	}
	endmsg.body_case = BPROC__MSG__BODY_FILE_END;
	endmsg.file_end = &end;
	r = frame_send(fd, &endmsg);
	if (r < 0)
		return r;
	r = frame_recv(fd, &reply);
	if (r < 0)
		return r;
	if (reply->body_case != BPROC__MSG__BODY_FILE_RESULT) {
		msg_free(reply);
		return -EPROTO;
	}
	file_result_merge(res, reply->file_result);
	msg_free(reply);
	return 0;
}

/* ---- receiver ---- */

struct made_dir {
	dev_t dev;
	ino_t ino;
};

struct open_dir {
	char *rel;
	bool created;
};

struct receiver {
	int fd;
	const struct file_opts *o;
	const char *dest;
	bool dest_is_dir;
	struct stat dest_st;
	mode_t umask;
	bool is_root;
	int top;                /* every entry is created beneath this directory */
	char top_name[PATH_MAX]; /* single source: the name its first component takes */
	/*
	 * A single source (the destination is not a directory) is made in
	 * the destination's parent, top; what comes below it is opened
	 * beneath the destination itself, dir_top, once it is made, so that
	 * nothing can reach the parent's other entries (a link made there).
	 */
	int dir_top;            /* single source, a directory: the destination, or -1 */
	int cur;                /* top or dir_top: what this entry is opened beneath */
	char *single;           /* single source: its name in the stream (first entry) */
	bool single_ended;      /* its one entry, or its directory's end, came */
	uint8_t host[37];
	bool have_host;
	struct file_result *res;
	char *skip;             /* a subtree being skipped, or NULL */
	struct made_dir *made;  /* directories this transfer created */
	size_t nmade;
	struct open_dir *dirs;  /* directories whose end has not come */
	size_t ndirs;
	uint8_t *buf;
	int pipe[2];            /* for splice(), or -1 */
	bool no_splice;         /* a file refused it: plain copies */
	uint64_t total;
};

/* Where an entry goes: under the destination directory, or, for a single
 * source, at the destination itself. */
static int target_path(struct receiver *rc, const char *rel, char *out, size_t len)
{
	int n;

	if (rc->dest_is_dir) {
		n = snprintf(out, len, "%s/%s", rc->dest, rel);
	} else {
		const char *rest = strchr(rel, '/');

		n = snprintf(out, len, "%s%s", rc->dest, rest ? rest : "");
	}
	return n >= (int)len ? -ENAMETOOLONG : 0;
}

static bool in_skipped(struct receiver *rc, const char *rel)
{
	size_t n;

	if (!rc->skip)
		return false;
	n = strlen(rc->skip);
	return strncmp(rel, rc->skip, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

/* What comes below path is dropped (its directory could not be made). */
static int skip_subtree(struct receiver *rc, const char *path)
{
	free(rc->skip);
	rc->skip = strdup(path);
	return rc->skip ? 0 : -ENOMEM;
}

/* Read and drop size bytes: a file that could not be written. */
static int discard(struct receiver *rc, uint64_t size)
{
	while (size > 0) {
		size_t want = size < RECV_BUF ? (size_t)size : RECV_BUF;
		ssize_t n = read(rc->fd, rc->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		size -= (uint64_t)n;
	}
	return 0;
}

/*
 * Up to want bytes from the socket into fd through the pipe, without
 * copying them through user space.  Returns what was taken from the
 * socket (0: the sender has gone), or -errno; *werr is set when fd did not
 * take them (the pipe is emptied all the same).
 */
static ssize_t splice_in(struct receiver *rc, int fd, size_t want, int *werr)
{
	ssize_t n, left;

	do
		n = splice(rc->fd, NULL, rc->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_MORE);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	for (left = n; left > 0;) {
		ssize_t m = splice(rc->pipe[0], NULL, fd, NULL, (size_t)left, SPLICE_F_MOVE);

		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0) {
			/* Through user space then: the file may not take splice(). */
			if (m < 0 && errno == EINVAL)
				rc->no_splice = true;
			else
				*werr = m < 0 ? errno : EIO;
			while (left > 0) {
				m = read(rc->pipe[0], rc->buf, (size_t)left < RECV_BUF ? (size_t)left : RECV_BUF);
				if (m <= 0)
					return -EIO;
				if (!*werr) {
					int w = write_full(fd, rc->buf, (size_t)m);

					*werr = w < 0 ? -w : 0;
				}
				left -= m;
			}
			break;
		}
		left -= m;
	}
	return n;
}

static int copy_in(struct receiver *rc, int fd, const char *target, const char *rel, uint64_t size)
{
	uint64_t done = 0;
	bool failed = false;

	while (done < size) {
		size_t want = size - done < RECV_BUF ? (size_t)(size - done) : RECV_BUF;
		ssize_t n;
		int r = 0, werr = 0;

		if (!failed && rc->pipe[0] >= 0 && !rc->no_splice) {
			n = splice_in(rc, fd, want, &werr);
			if (n < 0 && n != -EINVAL)
				return (int)n;
			if (n == -EINVAL) {
				/* This file or socket cannot splice: plain copies. */
				close(rc->pipe[0]);
				close(rc->pipe[1]);
				rc->pipe[0] = rc->pipe[1] = -1;
				continue;
			}
			if (n == 0)
				return -EPIPE;
			r = -werr;
		} else {
			n = read(rc->fd, rc->buf, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EPIPE;
			if (!failed)
				r = write_full(fd, rc->buf, (size_t)n);
		}
		if (!failed) {
			if (r < 0) {
				/* Keep reading: the stream must stay in step. */
				file_result_add(rc->res, "%s%s: %s", rc->o->prefix, target, strerror(-r));
				failed = true;
			}
		}
		done += (uint64_t)n;
		rc->total += (uint64_t)n;
		if (rc->o->progress) {
			r = rc->o->progress(rc->o->progress_arg, rel, done, size, rc->total);
			if (r < 0)
				return r;
		}
	}
	return failed ? 1 : 0;
}

static void entry_times(const Bproc__FileEntry *e, struct timespec ts[2])
{
	ts[0].tv_sec = e->atime_sec;
	ts[0].tv_nsec = e->atime_nsec < 1000000000 ? e->atime_nsec : 0;
	ts[1].tv_sec = e->mtime_sec;
	ts[1].tv_nsec = e->mtime_nsec < 1000000000 ? e->mtime_nsec : 0;
}

/* An entry's path below rc->top. */
static int below_path(struct receiver *rc, const char *rel, char *out, size_t len)
{
	const char *rest = strchr(rel, '/');
	int n;

	if (rc->dest_is_dir)
		n = snprintf(out, len, "%s", rel);
	else if (rest)
		n = snprintf(out, len, "%s", rest + 1); /* beneath dir_top */
	else
		n = snprintf(out, len, "%s", rc->top_name);
	return n >= (int)len ? -ENAMETOOLONG : 0;
}

/*
 * A single source is one entry (a file, a link), or a directory, what is
 * in it, and its end: any other entry is refused.  Without this a sender
 * could make the destination a link to a name beside it ("d -> zetc") and
 * then send a second top-level entry, written through the link into the
 * destination's parent (found by fuzz-file_stream).
 */
static int check_single(struct receiver *rc, const Bproc__FileEntry *e)
{
	const char *slash = strchr(e->path, '/');
	size_t n = slash ? (size_t)(slash - e->path) : strlen(e->path);

	if (rc->single_ended)
		return -EBADMSG;
	if (!rc->single) {
		if (slash || e->type == BPROC__FILE_TYPE__FILE_DIRECTORY_END)
			return -EBADMSG;
		rc->single = strdup(e->path);
		if (!rc->single)
			return -ENOMEM;
		/* A file or a link is all of it; a directory ends later. */
		rc->single_ended = e->type != BPROC__FILE_TYPE__FILE_DIRECTORY;
		return 0;
	}
	if (strlen(rc->single) != n || strncmp(e->path, rc->single, n) != 0)
		return -EBADMSG;
	if (!slash) {
		/* The source itself again: only its directory's end. */
		if (e->type != BPROC__FILE_TYPE__FILE_DIRECTORY_END)
			return -EBADMSG;
		rc->single_ended = true;
	}
	return 0;
}

/*
 * Open a path below the destination.  The kernel refuses any way out of it
 * (RESOLVE_BENEATH: "..", absolute symbolic links, links that lead out), so
 * a sender that first sends a link "x -> /etc" and then "x/passwd" cannot
 * write outside the destination, whatever the receiver's identity.
 */
static int open_below(struct receiver *rc, const char *below, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH,
	};
	int fd = (int)syscall(SYS_openat2, rc->cur, below, &how, sizeof(how));

	return fd < 0 ? (errno == EXDEV ? -ELOOP : -errno) : fd;
}

/* The directory that holds the last component of below, and that name. */
static int open_parent(struct receiver *rc, const char *below, const char **leaf)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(below, '/');

	if (!slash) {
		*leaf = below;
		return open_below(rc, ".", O_PATH | O_DIRECTORY, 0);
	}
	*leaf = slash + 1;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - below), below);
	return open_below(rc, parent, O_PATH | O_DIRECTORY, 0);
}

static void add_error(struct receiver *rc, const char *target, int err)
{
	if (err == ELOOP)
		file_result_add(rc->res, "%s%s: leads out of the destination; refused",
				rc->o->prefix, target);
	else
		file_result_add(rc->res, "%s%s: %s", rc->o->prefix, target, strerror(err));
}

/*
 * -p: owner (root only; otherwise the group if we may), mode, times; on fd,
 * or on leaf in the directory pfd (not following a link).
 */
static void preserve_attrs(struct receiver *rc, int fd, int pfd, const char *leaf,
			   const char *target, const Bproc__FileEntry *e)
{
	const char *pre = rc->o->prefix;
	int dfd = fd >= 0 ? fd : pfd, flags = fd >= 0 ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW;
	const char *name = fd >= 0 ? "" : leaf;
	struct timespec ts[2];
	mode_t mode = e->mode & 07777;

	if (rc->is_root) {
		if (fchownat(dfd, name, e->uid, e->gid, flags) < 0)
			file_result_add(rc->res, "%s%s: cannot preserve the owner: %s", pre, target,
					strerror(errno));
	} else {
		/* As cp: keep the group if we belong to it, and never set-id bits
		 * on a file whose owner changed. */
		if (fchownat(dfd, name, (uid_t)-1, e->gid, flags) < 0)
			mode &= ~(mode_t)S_ISGID;
		mode &= ~(mode_t)S_ISUID;
	}
	if (e->type != BPROC__FILE_TYPE__FILE_SYMLINK &&
	    (fd >= 0 ? fchmod(fd, mode) : fchmodat(pfd, leaf, mode, AT_SYMLINK_NOFOLLOW)) < 0)
		file_result_add(rc->res, "%s%s: cannot preserve the mode: %s", pre, target,
				strerror(errno));
	entry_times(e, ts);
	if ((fd >= 0 ? futimens(fd, ts) : utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW)) < 0)
		file_result_add(rc->res, "%s%s: cannot preserve the times: %s", pre, target,
				strerror(errno));
}

static bool same_host(struct receiver *rc, const Bproc__FileEntry *e)
{
	return rc->have_host && e->has_host && e->host.len == 36 &&
	       memcmp(e->host.data, rc->host, 36) == 0 && e->has_dev && e->has_ino;
}

static int take_regular(struct receiver *rc, const Bproc__FileEntry *e, const char *below,
			const char *target)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (same_host(rc, e)) {
		_cleanup_close_ int there = open_below(rc, below, O_PATH, 0);

		if (there >= 0 && fstat(there, &st) == 0 && st.st_dev == e->dev &&
		    st.st_ino == e->ino) {
			file_result_add(rc->res, "%s%s: is the file being copied; skipped",
					rc->o->prefix, target);
			return discard(rc, e->size);
		}
	}
	fd = open_below(rc, below, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, e->mode & 0777);
	if (fd < 0) {
		if (fd == -EISDIR)
			file_result_add(rc->res, "cannot overwrite directory '%s%s' with non-directory",
					rc->o->prefix, target);
		else
			add_error(rc, target, -fd);
		return discard(rc, e->size);
	}
	r = copy_in(rc, fd, target, e->path, e->size);
	if (r < 0)
		return r;
	if (r == 0 && rc->o->preserve)
		preserve_attrs(rc, fd, -1, NULL, target, e);
	rc->res->files++;
	rc->res->bytes += e->size;
	return 0;
}

static int take_directory(struct receiver *rc, const Bproc__FileEntry *e, const char *below,
			  const char *target)
{
	const char *pre = rc->o->prefix, *leaf;
	_cleanup_close_ int pfd = -1, dfd = -1;
	struct open_dir *t;
	bool created = true;
	struct stat st;

	if (same_host(rc, e)) {
		for (size_t i = 0; i < rc->nmade; i++)
			if (rc->made[i].dev == e->dev && rc->made[i].ino == e->ino) {
				file_result_add(rc->res, "cannot copy a directory into itself: '%s%s'",
						pre, target);
				goto skip;
			}
	}
	pfd = open_parent(rc, below, &leaf);
	if (pfd < 0) {
		add_error(rc, target, -pfd);
		goto skip;
	}
	if (mkdirat(pfd, leaf, S_IRWXU | (e->mode & 0777)) < 0) {
		if (errno != EEXIST) {
			add_error(rc, target, errno);
			goto skip;
		}
		created = false;
	}
	dfd = open_below(rc, below, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		if (dfd == -ENOTDIR)
			file_result_add(rc->res, "cannot overwrite non-directory '%s%s' with directory",
					pre, target);
		else
			add_error(rc, target, dfd < 0 ? -dfd : errno);
		goto skip;
	}
	if (created) {
		struct made_dir *m = realloc(rc->made, (rc->nmade + 1) * sizeof(*m));

		if (!m)
			return -ENOMEM;
		rc->made = m;
		rc->made[rc->nmade++] = (struct made_dir){ st.st_dev, st.st_ino };
	}
	t = realloc(rc->dirs, (rc->ndirs + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc->dirs = t;
	rc->dirs[rc->ndirs].rel = strdup(e->path);
	if (!rc->dirs[rc->ndirs].rel)
		return -ENOMEM;
	rc->dirs[rc->ndirs++].created = created;
	return 0;
skip:
	return skip_subtree(rc, e->path);
}

static int take_directory_end(struct receiver *rc, const Bproc__FileEntry *e, const char *below,
			      const char *target)
{
	_cleanup_close_ int pfd = -1;
	struct open_dir *d;
	const char *leaf;
	bool created;

	if (rc->ndirs == 0 || strcmp(rc->dirs[rc->ndirs - 1].rel, e->path) != 0)
		return -EPROTO;
	d = &rc->dirs[--rc->ndirs];
	created = d->created;
	free(d->rel);
	pfd = open_parent(rc, below, &leaf);
	if (pfd < 0) {
		add_error(rc, target, -pfd);
		return 0;
	}
	if (rc->o->preserve)
		preserve_attrs(rc, -1, pfd, leaf, target, e);
	else if (created && fchmodat(pfd, leaf, e->mode & 0777 & ~rc->umask, AT_SYMLINK_NOFOLLOW) < 0)
		add_error(rc, target, errno);
	return 0;
}

static int take_symlink(struct receiver *rc, const Bproc__FileEntry *e, const char *below,
			const char *target)
{
	_cleanup_close_ int pfd = -1;
	const char *leaf;
	struct stat st;

	if (!e->link || !e->link[0] || strlen(e->link) >= PATH_MAX)
		return -EPROTO;
	pfd = open_parent(rc, below, &leaf);
	if (pfd < 0) {
		add_error(rc, target, -pfd);
		return 0;
	}
	if (symlinkat(e->link, pfd, leaf) < 0) {
		/* As cp -r over an earlier copy: a file or link there is replaced. */
		if (errno != EEXIST || fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode) || unlinkat(pfd, leaf, 0) < 0 ||
		    symlinkat(e->link, pfd, leaf) < 0) {
			file_result_add(rc->res, "%s%s: cannot create symbolic link: %s",
					rc->o->prefix, target, strerror(errno));
			return 0;
		}
	}
	if (rc->o->preserve)
		preserve_attrs(rc, -1, pfd, leaf, target, e);
	rc->res->files++;
	return 0;
}

static int take_entry(struct receiver *rc, const Bproc__FileEntry *e)
{
	char target[PATH_MAX], below[PATH_MAX];
	bool below_single;
	int r;

	if (file_check_name(e->path) < 0)
		return -EBADMSG;
	if (e->type == BPROC__FILE_TYPE__FILE_REGULAR && !e->has_size)
		return -EBADMSG;
	if (!rc->dest_is_dir && (r = check_single(rc, e)) < 0)
		return r;
	below_single = !rc->dest_is_dir && strchr(e->path, '/');
	if (in_skipped(rc, e->path)) {
		if (e->type == BPROC__FILE_TYPE__FILE_DIRECTORY_END && strcmp(e->path, rc->skip) == 0) {
			free(rc->skip);
			rc->skip = NULL;
		}
		return e->type == BPROC__FILE_TYPE__FILE_REGULAR ? discard(rc, e->size) : 0;
	}
	if (target_path(rc, e->path, target, sizeof(target)) < 0 ||
	    below_path(rc, e->path, below, sizeof(below)) < 0) {
		file_result_add(rc->res, "%s%s/%s: %s", rc->o->prefix, rc->dest, e->path,
				strerror(ENAMETOOLONG));
		if (e->type == BPROC__FILE_TYPE__FILE_DIRECTORY)
			return skip_subtree(rc, e->path);
		return e->type == BPROC__FILE_TYPE__FILE_REGULAR ? discard(rc, e->size) : 0;
	}
	/* Entries below a single source's directory: beneath it, which its
	 * own entry made (had it not, they were skipped above). */
	if (below_single && rc->dir_top < 0)
		return -EPROTO;
	rc->cur = below_single ? rc->dir_top : rc->top;
	switch (e->type) {
	case BPROC__FILE_TYPE__FILE_REGULAR:
		return take_regular(rc, e, below, target);
	case BPROC__FILE_TYPE__FILE_DIRECTORY:
		r = take_directory(rc, e, below, target);
		if (r == 0 && !rc->dest_is_dir && !below_single && !in_skipped(rc, e->path)) {
			/* The destination, made or there: never through a link. */
			rc->dir_top = open_below(rc, below, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
			if (rc->dir_top < 0) {
				add_error(rc, target, -rc->dir_top);
				r = skip_subtree(rc, e->path);
			}
		}
		return r;
	case BPROC__FILE_TYPE__FILE_DIRECTORY_END:
		return take_directory_end(rc, e, below, target);
	case BPROC__FILE_TYPE__FILE_SYMLINK:
		return take_symlink(rc, e, below, target);
	default:
		return -EBADMSG;
	}
}

static int check_destination(struct receiver *rc)
{
	struct stat *st = &rc->dest_st;

	char parent[PATH_MAX], *slash;
	size_t n;

	rc->dest_is_dir = stat(rc->dest, st) == 0 && S_ISDIR(st->st_mode);
	if (rc->o->into_directory && !rc->dest_is_dir) {
		file_result_add(rc->res, "target '%s%s' is not a directory", rc->o->prefix, rc->dest);
		rc->res->refused = true;
		return -ENOTDIR;
	}
	if (rc->dest_is_dir) {
		rc->top = open(rc->dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		/* A single source becomes dest itself: entries go beneath its
		 * directory, the first component renamed. */
		n = strlen(rc->dest);
		while (n > 1 && rc->dest[n - 1] == '/')
			n--;
		snprintf(parent, sizeof(parent), "%.*s", (int)n, rc->dest);
		slash = strrchr(parent, '/');
		if (!slash) {
			snprintf(rc->top_name, sizeof(rc->top_name), "%s", parent);
			rc->top = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		} else {
			snprintf(rc->top_name, sizeof(rc->top_name), "%s", slash + 1);
			slash[slash == parent ? 1 : 0] = '\0';
			rc->top = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
	}
	if (rc->top < 0) {
		int err = errno;

		file_result_add(rc->res, "%s%s: %s", rc->o->prefix, rc->dest, strerror(err));
		rc->res->refused = true;
		return -err;
	}
	return 0;
}

int file_receive(int fd, const char *dest, const struct file_opts *o, struct file_result *res)
{
	Bproc__FileReady ready = BPROC__FILE_READY__INIT;
	Msg readymsg = BPROC__MSG__INIT;
	struct receiver rc = { .fd = fd, .o = o, .dest = dest, .res = res, .pipe = { -1, -1 },
			       .top = -1, .dir_top = -1, .cur = -1 };
	int r;

	rc.umask = umask(0);
	umask(rc.umask);
	rc.is_root = geteuid() == 0;
	rc.have_host = read_host_id(rc.host);
	if (check_destination(&rc) < 0)
		return file_result_send(fd, res);
	rc.buf = malloc(RECV_BUF);
	if (!rc.buf)
		return -ENOMEM;
	if (pipe2(rc.pipe, O_CLOEXEC) == 0)
		fcntl(rc.pipe[1], F_SETPIPE_SZ, RECV_BUF);
	else
		rc.pipe[0] = rc.pipe[1] = -1;
	if (rc.dest_is_dir && rc.have_host) {
		ready.has_dev = ready.has_ino = ready.has_host = true;
		ready.dev = rc.dest_st.st_dev;
		ready.ino = rc.dest_st.st_ino;
		ready.host.data = rc.host;
		ready.host.len = 36;
	}
	readymsg.body_case = BPROC__MSG__BODY_FILE_READY;
	readymsg.file_ready = &ready;
	r = frame_send(fd, &readymsg);
	while (r == 0) {
		Msg *msg = NULL;

		r = frame_recv(fd, &msg);
		if (r < 0)
			break;
		switch (msg->body_case) {
		case BPROC__MSG__BODY_FILE_ENTRY:
			r = take_entry(&rc, msg->file_entry);
			break;
		case BPROC__MSG__BODY_FILE_ERROR:
			file_result_add(res, "%s", msg->file_error->text);
			break;
		case BPROC__MSG__BODY_FILE_END:
			r = rc.ndirs ? -EPROTO : 1;
			break;
		default:
			r = -EPROTO;
			break;
		}
		msg_free(msg);
	}
	free(rc.buf);
	close(rc.top);
	if (rc.dir_top >= 0)
		close(rc.dir_top);
	free(rc.single);
	if (rc.pipe[0] >= 0) {
		close(rc.pipe[0]);
		close(rc.pipe[1]);
	}
	free(rc.skip);
	free(rc.made);
	for (size_t i = 0; i < rc.ndirs; i++)
		free(rc.dirs[i].rel);
	free(rc.dirs);
	if (r < 0)
		return r;
	return file_result_send(fd, res);
}
