/*
 * loop.h - the daemons' event loop: one thread, epoll, callbacks per fd.
 *
 * A handler may remove any fd, its own included, while the loop is
 * dispatching: removed sources are only marked dead and freed once the
 * current batch of events is done, so no handler ever sees freed memory.
 * Memory that must outlive the batch in the same way goes to loop_defer_free().
 */
#ifndef BPROC_LOOP_H
#define BPROC_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;
typedef void (*loop_fn)(struct loop *loop, int fd, uint32_t events, void *data);

int loop_new(struct loop **out);
void loop_free(struct loop *loop);

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *data);
int loop_modify(struct loop *loop, int fd, uint32_t events);
void loop_remove(struct loop *loop, int fd);

/* Free ptr with fn after the current batch of events. */
int loop_defer_free(struct loop *loop, void (*fn)(void *), void *ptr);

/* Wait up to timeout_ms (-1: forever) and dispatch; 0 or -errno. */
int loop_run_once(struct loop *loop, int timeout_ms);

#endif
