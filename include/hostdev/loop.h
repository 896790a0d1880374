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

#ifdef __cplusplus
}
#endif

#endif
