/*
 * output_queue.c - see output_queue.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output_queue.h"

void output_queue_init(struct output_queue *q, struct loop *loop, int fd,
		       void (*drained)(void *data), void *data)
{
	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->loop = loop;
	q->drained = drained;
	q->data = data;
}

bool output_queue_pending(const struct output_queue *q)
{
	return q->len > 0;
}

static void on_writable(struct loop *loop, int fd, uint32_t events, void *data);

static void drop_all(struct output_queue *q)
{
	if (q->watching) {
		loop_remove(q->loop, q->fd);
		q->watching = false;
	}
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	q->off = q->len = 0;
}

/* The buffer is given back once it is empty, so that the daemon's memory
 * follows what it holds now: a stream whose reader keeps up holds none
 * between two writes.  (Kept, a 64 KiB buffer a stream was 32 MiB of the
 * master for 500 remote processes that print a line now and then.) */
#define OUTPUT_QUEUE_FIRST 4096u

static void emptied(struct output_queue *q)
{
	q->off = 0;
	free(q->buf);
	q->buf = NULL;
	q->cap = 0;
}

/* Write while the fd has room; 0, or -EPIPE when it is gone. */
static int flush(struct output_queue *q)
{
	size_t before = q->len;

	while (q->len > 0) {
		struct pollfd p = { .fd = q->fd, .events = POLLOUT };
		size_t n = q->len < PIPE_BUF ? q->len : PIPE_BUF;
		ssize_t w;

		if (poll(&p, 1, 0) < 0 && errno != EINTR)
			return -errno;
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			goto gone;
		if (!(p.revents & POLLOUT)) {
			if (!q->watching && loop_add(q->loop, q->fd, EPOLLOUT, on_writable, q) == 0)
				q->watching = true;
			if (q->len < before && q->wrote)
				q->wrote(q->data);
			return 0;
		}
		w = write(q->fd, q->buf + q->off, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			goto gone;
		}
		q->off += (size_t)w;
		q->len -= (size_t)w;
	}
	emptied(q);
	if (q->watching) {
		loop_remove(q->loop, q->fd);
		q->watching = false;
	}
	if (before > 0 && q->wrote)
		q->wrote(q->data);
	if (q->drained)
		q->drained(q->data);
	return 0;

gone:
	/* Nobody will read it: whoever waits for it to empty (a flow
	 * paused, an end deferred) must not wait for ever. */
	drop_all(q);
	emptied(q);
	q->gone = true;
	if (q->wrote)
		q->wrote(q->data);
	if (q->drained)
		q->drained(q->data);
	return -EPIPE;
}

static void on_writable(struct loop *loop, int fd, uint32_t events, void *data)
{
	(void)loop;
	(void)fd;
	(void)events;
	flush(data);
}

int output_queue_push(struct output_queue *q, const void *data, size_t len)
{
	if (q->fd < 0)
		return -EPIPE;
	if (q->len + len > OUTPUT_QUEUE_MAX)
		return -ENOBUFS;
	if (q->off > 0 && q->off + q->len + len > q->cap) {
		memmove(q->buf, q->buf + q->off, q->len);
		q->off = 0;
	}
	if (q->off + q->len + len > q->cap) {
		size_t cap = q->cap ? q->cap : OUTPUT_QUEUE_FIRST;
		uint8_t *buf;

		while (cap < q->off + q->len + len)
			cap *= 2;
		buf = realloc(q->buf, cap);
		if (!buf)
			return -ENOMEM;
		q->buf = buf;
		q->cap = cap;
	}
	memcpy(q->buf + q->off + q->len, data, len);
	q->len += len;
	return flush(q);
}

int output_queue_take(struct output_queue *q, uint8_t **buf, size_t *len)
{
	uint8_t *b;

	if (q->len == 0)
		return 0;
	b = realloc(*buf, *len + q->len);
	if (!b)
		return -ENOMEM;
	memcpy(b + *len, q->buf + q->off, q->len);
	*buf = b;
	*len += q->len;
	q->off = q->len = 0;
	if (q->watching) {
		loop_remove(q->loop, q->fd);
		q->watching = false;
	}
	return 0;
}

void output_queue_close(struct output_queue *q)
{
	drop_all(q);
	free(q->buf);
	q->buf = NULL;
	q->cap = 0;
}
