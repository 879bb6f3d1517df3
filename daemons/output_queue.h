/*
 * output_queue.h - bytes on their way into a pipe (or file, or terminal)
 * that belongs to someone else, written without ever blocking the daemon.
 *
 * bpmaster writes what a moved process prints into copies of its ghost's
 * fds.  It cannot make those fds non-blocking (the flag would change the
 * file for every process sharing it), so it writes only when poll() says
 * there is room, at most PIPE_BUF bytes at a time (a pipe with room takes
 * that much without blocking), and keeps the rest here until the loop says
 * the fd is writable again.
 */
#ifndef BPROC_OUTPUT_QUEUE_H
#define BPROC_OUTPUT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define OUTPUT_QUEUE_MAX (64u << 20)

struct output_queue {
	int fd;              /* ours (closed by output_queue_close), or -1 */
	struct loop *loop;
	uint8_t *buf;
	size_t off, len, cap;
	bool watching;
	bool gone;           /* the fd went away (no reader): all is dropped */
	/* Called when everything queued has been written, or dropped
	 * because the fd is gone. */
	void (*drained)(void *data);
	/* If set, called whenever some of the queue was written (its len
	 * went down), before drained: for a low-water mark. */
	void (*wrote)(void *data);
	void *data;
};

void output_queue_init(struct output_queue *q, struct loop *loop, int fd,
		       void (*drained)(void *data), void *data);
/* Queue bytes and write what the fd takes now.  -ENOBUFS when more than
 * OUTPUT_QUEUE_MAX would wait (the bytes are dropped: a last guard, the
 * callers' flow control keeps far below it), -EPIPE when the fd is gone
 * (everything is dropped from then on). */
int output_queue_push(struct output_queue *q, const void *data, size_t len);
bool output_queue_pending(const struct output_queue *q);
/* Take the bytes still waiting (appended to *buf, malloc'd, of *len
 * bytes): the queue is empty after.  0 or -ENOMEM (nothing taken). */
int output_queue_take(struct output_queue *q, uint8_t **buf, size_t *len);
void output_queue_close(struct output_queue *q);

#endif
