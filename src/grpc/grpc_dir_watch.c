/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inotify on the directory of a server's socket, shared by the device-plugin servers and the DRA
 * plugins: a kubelet that restarts deletes the sockets of its plugin directories, and the servers
 * must listen again (and register again) the moment it does, without polling for it. The changes
 * of one read are handed over together, so that a burst (the kubelet deleting every socket, then
 * creating kubelet.sock) is acted on once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "grpc.h"

#define DIR_WATCH_EVENTS                                                                           \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ONLYDIR)
/* The changes handed over per callback; a longer read is handed over in several. */
#define DIR_WATCH_BATCH 64

struct grpc_dir_watch {
	int fd;
	struct loop_source *source;
	grpc_dir_watch_fn fn;
	void *userdata;
};

static unsigned int what_of(uint32_t mask)
{
	if (mask & IN_Q_OVERFLOW)
		return GRPC_DIR_LOST;
	if (mask & (IN_DELETE_SELF | IN_MOVE_SELF))
		return GRPC_DIR_GONE;
	if (mask & (IN_CREATE | IN_MOVED_TO))
		return GRPC_DIR_CREATED;
	if (mask & (IN_DELETE | IN_MOVED_FROM))
		return GRPC_DIR_REMOVED;
	return 0; /* IN_IGNORED after the directory went: GRPC_DIR_GONE said it */
}

static void on_inotify(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct grpc_dir_watch *w = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct grpc_dir_change changes[DIR_WATCH_BATCH];
	size_t n_changes;
	ssize_t n;

	(void)source;
	(void)revents;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		n_changes = 0;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			unsigned int what = what_of(ev->mask);

			p += sizeof(*ev) + ev->len;
			if (!what)
				continue;
			if (n_changes == DIR_WATCH_BATCH) {
				w->fn(changes, n_changes, w->userdata);
				n_changes = 0;
			}
			changes[n_changes].name = ev->len ? ev->name : "";
			changes[n_changes].what = what;
			n_changes++;
		}
		/* The callback may stop the watch: nothing of @w is used after it. */
		if (n_changes) {
			w->fn(changes, n_changes, w->userdata);
			return;
		}
	}
}

int grpc_dir_watch_start(hostdev_loop *loop, const char *dir, grpc_dir_watch_fn fn, void *userdata,
			 struct grpc_dir_watch **out)
{
	struct grpc_dir_watch *w;
	int r;

	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->fn = fn;
	w->userdata = userdata;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	if (inotify_add_watch(w->fd, dir, DIR_WATCH_EVENTS) < 0)
		r = -errno;
	else
		r = loop_add_fd(loop, w->fd, EPOLLIN, on_inotify, w, &w->source);
	if (r < 0) {
		close(w->fd);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void grpc_dir_watch_stop(struct grpc_dir_watch *w)
{
	if (!w)
		return;
	loop_remove(w->source);
	close(w->fd);
	free(w);
}
