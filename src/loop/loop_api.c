/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What code built on the public API (the built-in plugins in plugins/, a program's own plugins)
 * may do with a loop besides running it (loop.h, since HOSTDEV_1.4): watch a file descriptor,
 * take the loop's lock, and reach the loop's contexts. A public source wraps an internal one, so
 * that the public callback type stays apart from the internal one (which the library may change).
 */
#include <errno.h>
#include <stdlib.h>

#include "loop.h"

struct hostdev_loop_source {
	hostdev_loop *loop;
	struct loop_source *source;
	hostdev_loop_fd_fn fn;
	void *userdata;
};

static void on_fd(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	hostdev_loop_source *s = userdata;

	(void)source;
	/* @s may be freed by its callback (hostdev_loop_source_remove()): not touched after. */
	s->fn(s, fd, revents, s->userdata);
}

HOSTDEV_EXPORT int hostdev_loop_add_fd(hostdev_loop *loop, int fd, uint32_t events,
				       hostdev_loop_fd_fn fn, void *userdata,
				       hostdev_loop_source **out)
{
	hostdev_loop_source *s;
	int r;

	if (!loop || !out)
		return -EINVAL;
	if (fd < 0 || !fn)
		return hostdev_error(loop_ctx(loop), -EINVAL, "event loop: cannot watch fd %d: %s",
				     fd, fd < 0 ? "not a file descriptor" : "no callback given");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->fn = fn;
	s->userdata = userdata;
	r = loop_add_fd(loop, fd, events, on_fd, s, &s->source);
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

HOSTDEV_EXPORT void hostdev_loop_source_remove(hostdev_loop_source *source)
{
	hostdev_loop *loop;

	if (!source)
		return;
	loop = source->loop;
	/*
	 * Under the lock no other thread runs a callback; a removed internal source gets none
	 * after (the loop looks each event's source up and skips removed ones), so the wrapper
	 * may go at once, even from inside its own callback.
	 */
	loop_lock(loop);
	loop_remove(source->source);
	free(source);
	loop_unlock(loop);
}

HOSTDEV_EXPORT void hostdev_loop_lock(hostdev_loop *loop)
{
	if (loop)
		loop_lock(loop);
}

HOSTDEV_EXPORT void hostdev_loop_unlock(hostdev_loop *loop)
{
	if (loop)
		loop_unlock(loop);
}

HOSTDEV_EXPORT hostdev_ctx *hostdev_loop_get_ctx(hostdev_loop *loop)
{
	return loop ? loop_ctx(loop) : NULL;
}

HOSTDEV_EXPORT hostdev_ctx *hostdev_loop_get_worker_ctx(hostdev_loop *loop)
{
	hostdev_ctx *ctx;

	if (!loop)
		return NULL;
	loop_lock(loop);
	ctx = loop_worker_ctx(loop);
	loop_unlock(loop);
	return ctx;
}

/* Work off the loop (HOSTDEV_1.8): a public work item wraps an internal one, as a source does. */
struct hostdev_loop_work {
	struct loop_work *work;
	hostdev_ctx *ctx; /* the worker's: borrowed from the loop */
	hostdev_loop_work_fn fn;
	hostdev_loop_work_done_fn done;
	void *userdata;
};

static void run_work(void *userdata)
{
	hostdev_loop_work *w = userdata;

	w->fn(w->ctx, w->userdata);
}

/* The loop went before the done function could run: it never will. */
static void drop_wrapper(void *userdata)
{
	free(userdata);
}

static void run_done(void *userdata)
{
	hostdev_loop_work *w = userdata;
	hostdev_loop_work_done_fn done = w->done;
	void *user = w->userdata;

	/* The caller forgets the work in its done function: gone before it runs. */
	free(w);
	done(user);
}

HOSTDEV_EXPORT int hostdev_loop_queue_work(hostdev_loop *loop, hostdev_loop_work_fn work,
					   hostdev_loop_work_done_fn done, void *userdata,
					   hostdev_loop_work **out)
{
	hostdev_loop_work *w;
	int r;

	if (!loop || !work || !done || !out)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = work;
	w->done = done;
	w->userdata = userdata;
	loop_lock(loop);
	w->ctx = loop_worker_ctx(loop);
	r = w->ctx ? loop_queue_work(loop, run_work, run_done, w, &w->work) : -ENOMEM;
	/* Under the lock: the done function, which frees @w, cannot run before the caller has it. */
	if (r == 0) {
		loop_work_set_drop(w->work, drop_wrapper);
		*out = w;
	}
	loop_unlock(loop);
	if (r < 0)
		free(w);
	return r;
}

HOSTDEV_EXPORT void hostdev_loop_work_cancel(hostdev_loop_work *work)
{
	if (!work)
		return;
	/* Takes the worker's lock only: no need of the loop's (the caller holds it anyway). */
	loop_cancel_work(work->work);
	free(work);
}
