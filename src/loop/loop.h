/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's event loop, inside (loop.c): epoll over file descriptors and one-shot timers, an
 * eventfd to wake it, and the recursive lock that serialises every call on the loop's objects
 * (public functions take it with loop_lock()/loop_unlock(); callbacks below run with it held).
 * Never installed.
 */
#ifndef HOSTDEV_LOOP_INTERNAL_H
#define HOSTDEV_LOOP_INTERNAL_H

#include <stdint.h>

#include "core/core.h"

/* A registered fd or timer. Removing one from inside any callback is safe: it is freed after
 * the current dispatch round. */
struct loop_source;

typedef void (*loop_fd_fn)(struct loop_source *source, int fd, uint32_t revents, void *userdata);
typedef void (*loop_timer_fn)(struct loop_source *source, void *userdata);

/* Watch @fd for @events (EPOLLIN/EPOLLOUT...). The loop does not own @fd. */
int loop_add_fd(hostdev_loop *loop, int fd, uint32_t events, loop_fd_fn fn, void *userdata,
		struct loop_source **out);
/* Change the events of an fd source. */
int loop_modify_fd(struct loop_source *source, uint32_t events);
/*
 * Fire @fn once after @delay_ms (0: on the next dispatch round; a timer added by a callback never
 * fires in the round that added it). A timer is gone once it fired: its callback must forget the
 * source (calling loop_remove() on it from inside that callback is harmless).
 */
int loop_add_timer(hostdev_loop *loop, uint64_t delay_ms, loop_timer_fn fn, void *userdata,
		   struct loop_source **out);
/* Unregister (fd sources: EPOLL_CTL_DEL; the fd is not closed). NULL-safe. */
void loop_remove(struct loop_source *source);

/* The loop's context, for logging and errors. */
hostdev_ctx *loop_ctx(hostdev_loop *loop);

/* State other files keep per loop, created on first use. */
enum loop_slot {
	LOOP_SLOT_WORKER,    /* work.c: the worker thread and its context */
	LOOP_SLOT_TRANSPORT, /* grpc_conn.c: every server connection and the memory they hold */
	LOOP_SLOTS,
};
/*
 * The state of @slot, NULL until set. @free_fn(@state) runs when the loop is freed (slots in
 * the order above), after every object that used the loop let go of it.
 */
void *loop_slot(hostdev_loop *loop, enum loop_slot slot);
void loop_set_slot(hostdev_loop *loop, enum loop_slot slot, void *state,
		   void (*free_fn)(void *state));

/*
 * Work off the loop (work.c): one worker thread per loop, started on first use, runs queued
 * work functions one at a time, in order, without the loop's lock; each done function then runs
 * on the loop with the lock held, like any callback. Long work (re-reading a thousand devices)
 * thus never stalls the loop's sockets.
 */
struct loop_work;
typedef void (*loop_work_fn)(void *userdata);
typedef void (*loop_work_done_fn)(void *userdata);
/* Queue @work(@userdata), then @done(@userdata) on the loop; without @done, the item must be
 * waited for with loop_wait_work() (or cancelled). Call with the loop's lock held. Returns 0,
 * -ENOMEM, or the errno of starting the thread. */
int loop_queue_work(hostdev_loop *loop, loop_work_fn work, loop_work_done_fn done, void *userdata,
		    struct loop_work **out);
/* Call @drop(userdata) instead of the done function when the loop is freed before that could run
 * (the work function has run). Call right after loop_queue_work(), with the loop's lock held. */
void loop_work_set_drop(struct loop_work *w, loop_work_done_fn drop);
/* Forget @w (call with the loop's lock held; NULL-safe): a queued work function never runs, a
 * running one is waited for, and the done function does not run. The userdata is the caller's
 * again when this returns. */
void loop_cancel_work(struct loop_work *w);
/* Wait until @w's work function has run, then forget it: its done function does not run. May be
 * called with or without the loop's lock (the worker never takes it). */
void loop_wait_work(struct loop_work *w);
/*
 * The context for work on the worker thread: a copy of the loop's context (paths, node name, log
 * callback and priority) made on first use, used only by work functions, which run one at a time
 * (a context must not be used by two threads at once). Its error message is that of the last
 * failed call of a work function. NULL without memory. Call with the loop's lock held.
 */
hostdev_ctx *loop_worker_ctx(hostdev_loop *loop);

/*
 * The loop lock (recursive). It is not held while the loop waits in epoll_wait(), so another
 * thread holding it may add, change and remove sources meanwhile: epoll and the timerfd see the
 * change at once.
 */
void loop_lock(hostdev_loop *loop);
void loop_unlock(hostdev_loop *loop);

#endif
