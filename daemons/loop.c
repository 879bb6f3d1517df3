/*
 * loop.c - see loop.h.
 */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct loop_source {
	int fd;
	bool dead;
	loop_fn fn;
	void *data;
	struct loop_source *next_dead;
};

struct deferred {
	void (*fn)(void *);
	void *ptr;
	struct deferred *next;
};

struct loop {
	int epfd;
	struct loop_source **by_fd; /* indexed by fd */
	int nfds;
	struct loop_source *dead;
	struct deferred *deferred;
};

int loop_new(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int r = -errno;
		free(loop);
		return r;
	}
	*out = loop;
	return 0;
}

static void loop_reap(struct loop *loop)
{
	while (loop->dead) {
		struct loop_source *s = loop->dead;

		loop->dead = s->next_dead;
		free(s);
	}
	while (loop->deferred) {
		struct deferred *d = loop->deferred;

		loop->deferred = d->next;
		d->fn(d->ptr);
		free(d);
	}
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	for (int i = 0; i < loop->nfds; i++)
		free(loop->by_fd[i]);
	loop_reap(loop);
	free(loop->by_fd);
	close(loop->epfd);
	free(loop);
}

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *data)
{
	struct epoll_event ev = { .events = events };
	struct loop_source *s;

	if (fd < 0)
		return -EBADF;
	if (fd >= loop->nfds) {
		int n = fd + 64;
		struct loop_source **t = realloc(loop->by_fd, (size_t)n * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memset(t + loop->nfds, 0, (size_t)(n - loop->nfds) * sizeof(*t));
		loop->by_fd = t;
		loop->nfds = n;
	}
	if (loop->by_fd[fd])
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->fn = fn;
	s->data = data;
	ev.data.ptr = s;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	loop->by_fd[fd] = s;
	return 0;
}

int loop_modify(struct loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	if (fd < 0 || fd >= loop->nfds || !loop->by_fd[fd])
		return -ENOENT;
	ev.data.ptr = loop->by_fd[fd];
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_remove(struct loop *loop, int fd)
{
	struct loop_source *s;

	if (fd < 0 || fd >= loop->nfds || !loop->by_fd[fd])
		return;
	s = loop->by_fd[fd];
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->by_fd[fd] = NULL;
	s->dead = true;
	s->next_dead = loop->dead;
	loop->dead = s;
}

int loop_defer_free(struct loop *loop, void (*fn)(void *), void *ptr)
{
	struct deferred *d = malloc(sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->ptr = ptr;
	d->next = loop->deferred;
	loop->deferred = d;
	return 0;
}

int loop_run_once(struct loop *loop, int timeout_ms)
{
	struct epoll_event events[64];
	int n;

	n = epoll_wait(loop->epfd, events, (int)ARRAY_SIZE(events), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct loop_source *s = events[i].data.ptr;

		if (!s->dead)
			s->fn(loop, s->fd, events[i].events, s->data);
	}
	loop_reap(loop);
	return 0;
}
