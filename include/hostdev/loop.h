/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's event loop: one epoll loop that serves every socket, timer and kubelet call of
 * the servers built on it (device plugins, deviceplugin.h; DRA drivers, dra.h). It can run on a
 * thread of its own or be embedded in the caller's loop through its file descriptor.
 *
 * Threads: every object made on a loop belongs to it. All calls on a loop and on the objects of
 * that loop are serialised by the loop's lock, so any thread may make them, including while the
 * loop runs on its own thread (hostdev_loop_start_thread()) and from inside the callbacks the loop
 * runs. After a failing call, hostdev_ctx_get_error() on the calling thread gives its message:
 * errors of the loop's own event handling stay on the thread that dispatches. Other uses of the
 * hostdev_ctx given to the loop (enumerating devices on it, changing its paths) must not overlap
 * a dispatch on another thread: give such work a context of its own.
 *
 * All functions follow the conventions of context.h (negative errno, message in
 * hostdev_ctx_get_error()).
 */
#ifndef HOSTDEV_LOOP_H
#define HOSTDEV_LOOP_H

#include <stdint.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * An event loop. The struct keeps the tag of its first name (HOSTDEV_1's hostdev_dp_loop, still
 * declared in deviceplugin.h with its functions): both names are one type, so code written for
 * either compiles and links unchanged.
 */
typedef struct hostdev_dp_loop hostdev_loop;

/** Create a loop. On success *@out holds a new reference. Returns 0, -EINVAL, -ENOMEM, -EMFILE. */
int hostdev_loop_new(hostdev_ctx *ctx, hostdev_loop **out);
/** Take a reference; returns @loop. NULL-safe. */
hostdev_loop *hostdev_loop_ref(hostdev_loop *loop);
/** Drop a reference. NULL-safe; always returns NULL. The last reference stops the loop's thread
 * if it runs. */
hostdev_loop *hostdev_loop_unref(hostdev_loop *loop);

/**
 * The loop's epoll file descriptor, for embedding in another event loop: when it is readable,
 * call hostdev_loop_dispatch(loop, 0). Owned by the loop.
 */
int hostdev_loop_get_fd(hostdev_loop *loop);

/**
 * Wait up to @timeout_ms (0: do not wait, -1: no limit) for events and handle them. Returns the
 * number of events handled (0 on timeout), -EINTR when a signal interrupted the wait, or another
 * negative errno.
 */
int hostdev_loop_dispatch(hostdev_loop *loop, int timeout_ms);

/** Dispatch until hostdev_loop_quit(). Returns 0 or a negative errno. */
int hostdev_loop_run(hostdev_loop *loop);

/**
 * Make hostdev_loop_run() (or the loop's thread) return. Safe from any thread and from a signal
 * handler (it only writes to an eventfd).
 */
int hostdev_loop_quit(hostdev_loop *loop);

/** Run the loop on a new thread of its own. -EALREADY when one runs. */
int hostdev_loop_start_thread(hostdev_loop *loop);
/** Quit the loop's thread and wait for it. 0 when no thread runs. */
int hostdev_loop_stop_thread(hostdev_loop *loop);

/* ---------------------------------------------------------------------------------------------- */
/* For code built on the loop (the built-in device plugins, a program's own plugins); since
 * HOSTDEV_1.4 */

/** A file descriptor a loop watches (hostdev_loop_add_fd()). */
typedef struct hostdev_loop_source hostdev_loop_source;

/**
 * Called on the thread that dispatches the loop, with the loop's lock held, when @fd has
 * @revents (EPOLLIN, EPOLLHUP...). It may remove any source of the loop, @source included.
 */
typedef void (*hostdev_loop_fd_fn)(hostdev_loop_source *source, int fd, uint32_t revents,
				   void *userdata);

/**
 * Watch @fd for @events (EPOLLIN, EPOLLOUT... of <sys/epoll.h>) and call @fn(source, fd, revents,
 * @userdata) on each. The loop does not own @fd: the caller closes it after removing the source.
 * Any thread may call this. On success *@out holds the source, owned by the caller until
 * hostdev_loop_source_remove(). Returns 0, -EINVAL (no loop or @out; a negative @fd or no @fn,
 * with a message), -ENOMEM, or the error of epoll_ctl() (-EPERM for a regular file, -EEXIST for
 * an fd the loop watches already), with a message.
 */
int hostdev_loop_add_fd(hostdev_loop *loop, int fd, uint32_t events, hostdev_loop_fd_fn fn,
			void *userdata, hostdev_loop_source **out);

/**
 * Stop watching @source's fd (the fd stays open) and free @source. NULL-safe. Its callback does
 * not run after this returns. Safe from any thread and from any callback of the loop, the
 * source's own included.
 */
void hostdev_loop_source_remove(hostdev_loop_source *source);

/**
 * Take the loop's lock: the recursive lock that serialises every call on the loop and on its
 * objects, held while callbacks run (not while the loop waits for events). A few calls made
 * under it are not interleaved with the loop's event handling. NULL-safe.
 */
void hostdev_loop_lock(hostdev_loop *loop);
/** Release the loop's lock, once for each hostdev_loop_lock(). NULL-safe. */
void hostdev_loop_unlock(hostdev_loop *loop);

/**
 * The context the loop was made with: borrowed, valid while the loop lives. NULL for a NULL
 * @loop.
 */
hostdev_ctx *hostdev_loop_get_ctx(hostdev_loop *loop);

/**
 * The context of the loop's worker thread, for list_devices callbacks that run there
 * (HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP, deviceplugin.h), which must not use the loop's own: a copy of
 * the loop's context (paths, node name, log callback and priority) made on first use. Borrowed
 * and valid while the loop lives (take a reference with hostdev_ctx_ref() to keep it longer).
 * NULL for a NULL @loop or without memory.
 */
hostdev_ctx *hostdev_loop_get_worker_ctx(hostdev_loop *loop);

/* ---------------------------------------------------------------------------------------------- */
/* Work off the loop (since HOSTDEV_1.8) */

/** A piece of work queued on the loop's worker thread (hostdev_loop_queue_work()). */
typedef struct hostdev_loop_work hostdev_loop_work;

/**
 * Runs on the loop's worker thread, without the loop's lock, with @ctx the worker's context
 * (hostdev_loop_get_worker_ctx()): for reading the host (enumerating thousands of devices) without
 * holding up the loop. It must not call functions of the loop or of its objects, nor use the
 * loop's own context.
 */
typedef void (*hostdev_loop_work_fn)(hostdev_ctx *ctx, void *userdata);
/** Runs on the loop's thread with the loop's lock held, like any callback of the loop, after the
 * work function returned. */
typedef void (*hostdev_loop_work_done_fn)(void *userdata);

/**
 * Run @work(worker context, @userdata) on the loop's worker thread (started on first use), then
 * @done(@userdata) on the loop. The worker runs one piece of work at a time, in the order queued,
 * with the lists of HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP plugins: a long one delays them. Any thread
 * may call this. On success *@out holds the work, valid until @done starts or
 * hostdev_loop_work_cancel() returns (the done function is where the caller forgets it). When the
 * loop's last reference goes first, queued work still runs, but not @done. Returns
 * 0, -EINVAL (NULL loop, @work, @done or @out), -ENOMEM, or the error of starting the thread (with
 * a message).
 */
int hostdev_loop_queue_work(hostdev_loop *loop, hostdev_loop_work_fn work,
			    hostdev_loop_work_done_fn done, void *userdata,
			    hostdev_loop_work **out);

/**
 * Forget @work: if queued, it never runs; if running, this waits until it returns; @done does not
 * run. The userdata is the caller's again when this returns. NULL-safe. Only for work whose done
 * function has not started: call it from the loop's callbacks or with the loop's lock held (then
 * the done function cannot be running), never from inside the work function.
 */
void hostdev_loop_work_cancel(hostdev_loop_work *work);

#ifdef __cplusplus
}
#endif

#endif
