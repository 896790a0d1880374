/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker thread for the agent's loop (loop.h): slow calls (the library's vfio bind and restore,
 * which wait for drivers, the vfio lock and the verification) run on it, one item at a time in
 * the order submitted, so that the loop keeps serving the watches, the device-plugin server and
 * the writes meanwhile. An item's done function runs back on the loop's thread, woken through an
 * eventfd in the loop's epoll set.
 *
 * The work function must not touch what the loop's thread uses: it gets its own copies (and,
 * for the library, a context of its own: a hostdev_ctx is not shared by two threads).
 */
#ifndef HOSTDEV_AGENT_WORKER_H
#define HOSTDEV_AGENT_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

struct worker;

/* Runs on the worker thread. */
typedef void (*worker_fn)(void *userdata);
/* Runs on the loop's thread after the work function, or with @cancelled when the worker was
 * freed before the item ran or before its done function could run: free @userdata either way. */
typedef void (*worker_done_fn)(void *userdata, bool cancelled);

/* A worker whose completions @loop dispatches; the thread starts with the first item. Returns 0
 * or a negative errno. */
int worker_new(struct loop *loop, struct worker **out);
/* Queue @fn(@userdata), then @done(@userdata, false) on the loop. Returns 0 or a negative errno
 * (then nothing is called). */
int worker_submit(struct worker *w, worker_fn fn, worker_done_fn done, void *userdata);
/* Items submitted whose done function has not run yet. */
size_t worker_pending(const struct worker *w);
/* Wait for the item running now, cancel the others (their done functions run with @cancelled on
 * this thread), stop the thread. NULL-safe. Call on the loop's thread. */
void worker_free(struct worker *w);

#endif
