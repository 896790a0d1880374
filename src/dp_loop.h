/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device-plugin event loop (dp_loop.c): epoll over file descriptors and one-shot timers, an
 * eventfd to wake it, and the recursive lock that serialises every hostdev_dp_* call (public
 * functions take it with loop_lock()/loop_unlock(); callbacks below run with it held).
 * Never installed.
 */
#ifndef HOSTDEV_DP_LOOP_H
#define HOSTDEV_DP_LOOP_H

#include <stdint.h>

#include "internal.h"

/* A registered fd or timer. Removing one from inside any callback is safe: it is freed after
 * the current dispatch round. */
struct loop_source;

typedef void (*loop_fd_fn)(struct loop_source *source, int fd, uint32_t revents, void *userdata);
typedef void (*loop_timer_fn)(struct loop_source *source, void *userdata);

/* Watch @fd for @events (EPOLLIN/EPOLLOUT...). The loop does not own @fd. */
int loop_add_fd(hostdev_dp_loop *loop, int fd, uint32_t events, loop_fd_fn fn, void *userdata,
		struct loop_source **out);
/* Change the events of an fd source. */
int loop_modify_fd(struct loop_source *source, uint32_t events);
/*
 * Fire @fn once after @delay_ms (0: on the next dispatch round; a timer added by a callback never
 * fires in the round that added it). A timer is gone once it fired: its callback must forget the
 * source (calling loop_remove() on it from inside that callback is harmless).
 */
int loop_add_timer(hostdev_dp_loop *loop, uint64_t delay_ms, loop_timer_fn fn, void *userdata,
		   struct loop_source **out);
/* Unregister (fd sources: EPOLL_CTL_DEL; the fd is not closed). NULL-safe. */
void loop_remove(struct loop_source *source);

/* The loop's context, for logging and errors. */
hostdev_ctx *loop_ctx(hostdev_dp_loop *loop);

/*
 * One pointer of state the transport keeps per loop (grpc_conn.c: every server connection of the
 * loop and the memory they hold), NULL until set. @free_fn(@state) runs when the loop is freed,
 * after every object that used the loop let go of it.
 */
void *loop_transport(hostdev_dp_loop *loop);
void loop_set_transport(hostdev_dp_loop *loop, void *state, void (*free_fn)(void *state));

/*
 * The loop lock (recursive). It is not held while the loop waits in epoll_wait(), so another
 * thread holding it may add, change and remove sources meanwhile: epoll and the timerfd see the
 * change at once.
 */
void loop_lock(hostdev_dp_loop *loop);
void loop_unlock(hostdev_dp_loop *loop);

#endif
