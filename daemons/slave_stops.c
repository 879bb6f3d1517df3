/*
 * slave_stops.c - when the slave looks for stops and continues of the
 * processes below the root of a moved tree, so that their ghosts on the
 * master stop and continue with them.
 *
 * The kernel tells a stop only to the real parent (a process of the tree)
 * and the process-events connector has no stop event, so the slave reads
 * their state from /proc (stop_mirror.c): every STOP_POLL_MS while such a
 * process runs here, longer when there are many (a look costs about 18 us
 * here: STOP_MS_EACH per process keeps the looks under 1% of a core), and
 * STOP_SOON_MS after passing a signal on to one, when a stop or continue
 * is most likely (slave_moves.c also looks at once after a stop signal,
 * and tells a SIGCONT's continue as it passes it on).  A stop and continue
 * both within one period are not seen: the ghost's parent misses a stop,
 * but never sees one that did not happen.  No processes to watch, no
 * timer.
 */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "slave.h"

#define STOP_POLL_MS 50
#define STOP_MS_EACH 2
#define STOP_SOON_MS 2

static int timer_fd = -1;
static bool armed;
static long period_ms = STOP_POLL_MS;

static void arm(long first_ms, long every_ms)
{
	struct itimerspec when = {
		.it_interval = { every_ms / 1000, (every_ms % 1000) * 1000000L },
		.it_value = { first_ms / 1000, (first_ms % 1000) * 1000000L },
	};

	if (timer_fd >= 0 && timerfd_settime(timer_fd, 0, &when, NULL) == 0)
		armed = first_ms > 0;
}

static void on_tick(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct slave *s = data;
	uint64_t ticks;

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	long n = slave_moves_check_stops(s), want = n * STOP_MS_EACH;

	if (want < STOP_POLL_MS)
		want = STOP_POLL_MS;
	if (n == 0)
		arm(0, 0);
	else if (want != period_ms) {
		period_ms = want;
		arm(period_ms, period_ms);
	}
}

void slave_stops_watch(bool soon)
{
	if (soon)
		arm(STOP_SOON_MS, period_ms);
	else if (!armed)
		arm(period_ms, period_ms);
}

int slave_stops_init(struct slave *s)
{
	int r;

	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0) {
		r = -errno;
		pr_warn("no timer for stops in moved trees (%s): their ghosts will not show them",
			strerror(-r));
		return r;
	}
	r = loop_add(s->loop, timer_fd, EPOLLIN, on_tick, s);
	if (r < 0) {
		close(timer_fd);
		timer_fd = -1;
	}
	return r;
}

void slave_stops_shutdown(struct slave *s)
{
	if (timer_fd < 0)
		return;
	loop_remove(s->loop, timer_fd);
	close(timer_fd);
	timer_fd = -1;
	armed = false;
}
