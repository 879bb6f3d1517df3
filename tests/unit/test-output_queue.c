/*
 * test-output_queue.c - bytes on their way into someone else's pipe
 * (daemons/output_queue.c): written in order as the reader makes room,
 * never blocking, the callbacks that flow control hangs on, the memory
 * given back once empty, and a reader that goes away.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "output_queue.h"

struct counts {
	int wrote, drained;
	size_t len_at_wrote;
	struct output_queue *q;
};

static void on_wrote(void *data)
{
	struct counts *c = data;

	c->wrote++;
	c->len_at_wrote = c->q->len;
}

static void on_drained(void *data)
{
	((struct counts *)data)->drained++;
}

static void setup(struct loop **loop, int p[2], struct output_queue *q, struct counts *c)
{
	cr_assert_eq(loop_new(loop), 0);
	cr_assert_eq(pipe(p), 0);
	memset(c, 0, sizeof(*c));
	c->q = q;
	output_queue_init(q, *loop, p[1], on_drained, c);
	q->wrote = on_wrote;
}

/* Read what the pipe holds now (it is non-blocking for the test). */
static size_t take(int fd, unsigned char *into, size_t max)
{
	size_t got = 0;
	ssize_t n;

	while (got < max && (n = read(fd, into + got, max - got)) > 0)
		got += (size_t)n;
	return got;
}

/* More than the pipe holds: the rest waits, in order, and goes out as the
 * reader reads; wrote is told each time, drained once at the end. */
Test(output_queue, a_slow_reader_gets_everything_in_order)
{
	struct loop *loop;
	struct output_queue q;
	struct counts c;
	int p[2];
	size_t total = 1u << 20, got = 0;
	unsigned char *in = malloc(total), *out = malloc(total);

	setup(&loop, p, &q, &c);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (size_t i = 0; i < total; i++)
		in[i] = (unsigned char)(i * 7 + i / 4093);
	cr_assert_eq(output_queue_push(&q, in, total), 0);
	cr_assert(output_queue_pending(&q), "a 64 KiB pipe cannot take 1 MiB");
	cr_assert_eq(c.drained, 0);
	while (got < total) {
		got += take(p[0], out + got, total - got);
		cr_assert_eq(loop_run_once(loop, 1000), 0);
	}
	cr_assert_eq(memcmp(in, out, total), 0, "every byte, in order");
	cr_assert_not(output_queue_pending(&q));
	cr_assert_eq(c.drained, 1);
	cr_assert_gt(c.wrote, 1, "told as the queue went down, not only at its end");
	cr_assert_eq(c.len_at_wrote, 0);
	cr_assert_null(q.buf, "a buffer grown for a slow reader is given back once empty");
	output_queue_close(&q);
	close(p[0]);
	loop_free(loop);
	free(in);
	free(out);
}

/* The reader went away: everything is dropped, and whoever waited for the
 * queue to empty (a paused flow, an end deferred) is told. */
Test(output_queue, a_reader_gone_empties_it_and_says_so)
{
	struct loop *loop;
	struct output_queue q;
	struct counts c;
	int p[2];
	static unsigned char buf[256 << 10];

	signal(SIGPIPE, SIG_IGN);
	setup(&loop, p, &q, &c);
	cr_assert_eq(output_queue_push(&q, buf, sizeof(buf)), 0);
	cr_assert(output_queue_pending(&q));
	close(p[0]);
	cr_assert_eq(loop_run_once(loop, 1000), 0);
	cr_assert_not(output_queue_pending(&q));
	cr_assert_eq(c.drained, 1);
	cr_assert_eq(output_queue_push(&q, buf, 10), -EPIPE);
	output_queue_close(&q);
	loop_free(loop);
}

/* Past OUTPUT_QUEUE_MAX the bytes are refused, not queued: the last guard
 * behind the flow control. */
Test(output_queue, refuses_past_its_maximum)
{
	struct loop *loop;
	struct output_queue q;
	struct counts c;
	int p[2];
	size_t chunk = 1u << 20;
	unsigned char *buf = calloc(1, chunk);
	int r = 0;

	setup(&loop, p, &q, &c);
	for (size_t sent = 0; sent <= OUTPUT_QUEUE_MAX && r == 0; sent += chunk)
		r = output_queue_push(&q, buf, chunk);
	cr_assert_eq(r, -ENOBUFS);
	cr_assert_leq(q.len, OUTPUT_QUEUE_MAX);
	output_queue_close(&q);
	close(p[0]);
	loop_free(loop);
	free(buf);
}

/* A reader that keeps up: each line goes out at once, and nothing is held
 * between two lines (a remote process that prints now and then costs the
 * master no buffer). */
Test(output_queue, a_reader_that_keeps_up_leaves_no_buffer_held)
{
	struct loop *loop;
	struct output_queue q;
	struct counts c;
	int p[2];
	unsigned char line[200], back[200];

	setup(&loop, p, &q, &c);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	memset(line, 'x', sizeof(line));
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(output_queue_push(&q, line, sizeof(line)), 0);
		cr_assert_not(output_queue_pending(&q));
		cr_assert_null(q.buf, "line %d: a buffer is held while nothing waits", i);
		cr_assert_eq(take(p[0], back, sizeof(back)), sizeof(back));
	}
	cr_assert_eq(c.drained, 100, "drained told after each line");
	output_queue_close(&q);
	close(p[0]);
	loop_free(loop);
}
