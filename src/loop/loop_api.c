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
