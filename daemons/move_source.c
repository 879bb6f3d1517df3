/*
 * move_source.c - sending a dumped process to the daemon that restores it,
 * and what both sides of a move share.  See move_source.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "movable.h"
#include "move_source.h"
#include "move_wake.h"
#include "util.h"

#define CHUNK_SIZE (1u << 20)

int move_find_pipes(pid_t pid, unsigned int fd_mask, struct move_pipe *pipes)
{
	int n = 0;

	for (int fd = 0; fd <= 2; fd++) {
		char path[64], target[64];
		ssize_t len;

		if (!(fd_mask & (1u << fd)))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, "pipe:[", 6) != 0)
			continue;
		pipes[n].fd = fd;
		snprintf(pipes[n].key, sizeof(pipes[n].key), "%s", target);
		n++;
	}
	return n;
}

static int send_file(struct conn *conn, uint64_t move_id, const char *dir, const char *name)
{
	char path[PATH_MAX + 256];
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = malloc(CHUNK_SIZE);
	bool sent_any = false;

	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		Bproc__ImageChunk chunk = BPROC__IMAGE_CHUNK__INIT;
		Msg msg = BPROC__MSG__INIT;
		ssize_t n = read(fd, buf, CHUNK_SIZE);
		int r;

		if (n < 0)
			return -errno;
		if (n == 0 && sent_any)
			return 0;
		chunk.move_id = move_id;
		chunk.name = (char *)name;
		chunk.data.data = buf;
		chunk.data.len = (size_t)n;
		msg.body_case = BPROC__MSG__BODY_IMAGE_CHUNK;
		msg.image_chunk = &chunk;
		r = conn_send(conn, &msg);
		if (r < 0)
			return r;
		sent_any = true;
		if (n == 0)
			return 0;
	}
}

int move_send_image_files(struct conn *conn, uint64_t move_id, const char *dir, char *err,
			  size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned long long total = 0;
	int r = 0;

	if (!d) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	while ((e = readdir(d))) {
		struct stat st;
		char path[PATH_MAX + 256];

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			total += (unsigned long long)st.st_size;
	}
	if (total > MOVE_MAX_IMAGE_BYTES) {
		closedir(d);
		snprintf(err, errlen, "the image is %llu MiB; a move between nodes above %u MiB needs "
			 "the page stream, which this master did not offer", total >> 20,
			 MOVE_MAX_IMAGE_BYTES >> 20);
		return -EFBIG;
	}
	rewinddir(d);
	while (r == 0 && (e = readdir(d))) {
		if (e->d_type != DT_REG || strcmp(e->d_name, "dump.log") == 0)
			continue;
		r = send_file(conn, move_id, dir, e->d_name);
	}
	closedir(d);
	if (r < 0)
		snprintf(err, errlen, "sending the image: %s", strerror(-r));
	return r;
}

void move_restore_fill(struct move_restore_wire *w, uint64_t move_id, pid_t pid,
		       const struct move_pipe *pipes, int npipes, int tty_fd, const pid_t *tree,
		       int ntree, int wake_fd, bool lazy)
{
	Bproc__RestoreRequest *req = &w->req;

	bproc__restore_request__init(req);
	for (int i = 0; i < npipes && i < 3; i++) {
		bproc__stdio_pipe__init(&w->pipes[i]);
		w->pipes[i].fd = pipes[i].fd;
		w->pipes[i].key = (char *)pipes[i].key;
		w->ptrs[i] = &w->pipes[i];
	}
	req->n_pipes = (size_t)(npipes < 3 ? npipes : 3);
	req->pipes = w->ptrs;
	req->move_id = move_id;
	req->pid = pid;
	/* pid_t is the wire's int32 */
	req->n_tree = ntree > 0 ? (size_t)ntree : 0;
	req->tree = (int32_t *)tree;
	if (tty_fd != MOVE_NO_TTY) {
		req->has_tty_fd = true;
		req->tty_fd = tty_fd;
	}
	if (wake_fd >= 0) {
		req->has_wake_fd = true;
		req->wake_fd = wake_fd;
	}
	req->has_lazy = lazy;
	req->lazy = lazy;
}

int move_send_images(struct conn *conn, uint64_t move_id, const char *dir, pid_t pid,
		     const struct move_pipe *pipes, int npipes, int tty_fd, const pid_t *tree,
		     int ntree, int wake_fd, bool lazy, char *err, size_t errlen)
{
	struct move_restore_wire w;
	Msg msg = BPROC__MSG__INIT;
	int r = move_send_image_files(conn, move_id, dir, err, errlen);

	if (r < 0)
		return r;
	move_restore_fill(&w, move_id, pid, pipes, npipes, tty_fd, tree, ntree, wake_fd, lazy);
	msg.body_case = BPROC__MSG__BODY_RESTORE_REQUEST;
	msg.restore_request = &w.req;
	r = conn_send(conn, &msg);
	if (r < 0)
		snprintf(err, errlen, "sending the restore request: %s", strerror(-r));
	return r;
}

int move_ask_paths(struct conn *conn, uint64_t move_id, const struct movable *movable)
{
	Bproc__PathCheckRequest req = BPROC__PATH_CHECK_REQUEST__INIT;
	Msg msg = BPROC__MSG__INIT;
	_cleanup_free_ char **paths = calloc(movable->nfiles + 1, sizeof(*paths));

	if (!paths)
		return -ENOMEM;
	for (size_t i = 0; i < movable->nfiles; i++)
		paths[i] = movable->files[i].path;
	req.move_id = move_id;
	req.n_paths = movable->nfiles;
	req.paths = paths;
	req.has_memory = true;
	req.memory = movable->memory;
	msg.body_case = BPROC__MSG__BODY_PATH_CHECK_REQUEST;
	msg.path_check_request = &req;
	return conn_send(conn, &msg);
}

int move_paths_checked(const struct movable *movable, const Bproc__PathCheckReply *rep, int node,
		       pid_t pid, char *err, size_t errlen)
{
	_cleanup_free_ struct movable_seen *seen = calloc(rep->n_seen + 1, sizeof(*seen));
	char reason[512] = "";
	int r;

	if (!seen) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < rep->n_seen; i++) {
		seen[i].mode = rep->seen[i]->mode;
		seen[i].size = rep->seen[i]->has_size ? rep->seen[i]->size : 0;
	}
	r = movable_compare(movable, seen, rep->n_seen, node, reason, sizeof(reason));
	if (r < 0) {
		snprintf(err, errlen, "process %d cannot move: %s", (int)pid, reason);
		return r;
	}
	/* The target's room for its memory: it must fit before anything is
	 * frozen (a restore that runs out would fail only after the dump). */
	if (rep->has_memory_room) {
		r = movable_fits_memory(movable, rep->memory_room,
					rep->has_memory_by_cgroup && rep->memory_by_cgroup, node, pid,
					err, errlen);
		if (r < 0)
			pr_warn("%s", err);
	}
	return r;
}

void move_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX + 256];

		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			move_remove_dir(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int move_wake(pid_t pid, int wake_fd, int status, const char *message)
{
	struct bproc_move_wake w;
	char path[64];
	int fd, r = 0;

	if (wake_fd < 0)
		return 0;
	memset(&w, 0, sizeof(w));
	w.status = status;
	if (message)
		snprintf(w.message, sizeof(w.message), "%s", message);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, wake_fd);
	/* Opening a pipe through /proc gives a new end of that same pipe. */
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		pr_warn("cannot wake process %d (fd %d): %s", (int)pid, wake_fd, strerror(-r));
		return r;
	}
	if (write(fd, &w, sizeof(w)) != (ssize_t)sizeof(w)) {
		r = errno ? -errno : -EIO;
		pr_warn("cannot wake process %d: %s", (int)pid, strerror(-r));
	}
	close(fd);
	return r;
}
