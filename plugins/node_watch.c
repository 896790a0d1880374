/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device nodes watched with inotify, so that a built-in plugin's server re-reads its devices the
 * moment a node its health depends on appears or goes: /dev/vfio/<group> (vfio PCI and mdev) or
 * /dev/bus/usb/BBB/DDD (USB). Removing a group node makes no uevent of its own, so without this
 * a health change would wait for the refresh interval (docs/performance.md measured 2.5 s at the
 * default). The directories are those of the context's HOSTDEV_PATH_DEV, so fake roots work too.
 * A directory that does not exist yet (vfio not loaded, no USB bus) is watched for from its parent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "plugin.h"

#define NODE_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB)

struct node_watch {
	hostdev_dp_server *server; /* not a reference: the plugin (and this watch) dies with it */
	hostdev_ctx *ctx;
	int fd;
	hostdev_loop_source *source;
	bool usb;
};

static void add_dir(struct node_watch *w, const char *path)
{
	if (inotify_add_watch(w->fd, path, NODE_EVENTS | IN_ONLYDIR) < 0 && errno != ENOENT)
		plugin_log(w->ctx, HOSTDEV_LOG_DEBUG, "device-node watch: %s: %s", path,
			   strerror(errno));
}

/* Watch the node directories that exist now (adding a watch twice is harmless). */
static void add_dirs(struct node_watch *w)
{
	const char *dev = hostdev_ctx_get_path(w->ctx, HOSTDEV_PATH_DEV);
	char path[PATH_MAX], bus[PATH_MAX];
	struct dirent *de;
	DIR *buses;

	/* The parents catch vfio/ or bus/usb/ appearing later. */
	add_dir(w, dev);
	if (!w->usb) {
		snprintf(path, sizeof(path), "%s/vfio", dev);
		add_dir(w, path);
		return;
	}
	snprintf(path, sizeof(path), "%s/bus", dev);
	add_dir(w, path);
	snprintf(path, sizeof(path), "%s/bus/usb", dev);
	add_dir(w, path);
	/* Every bus directory (001, 002, ...): their nodes are the devices. */
	buses = opendir(path);
	while (buses && (de = readdir(buses)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    snprintf(bus, sizeof(bus), "%s/%s", path, de->d_name) < (int)sizeof(bus))
			add_dir(w, bus);
	if (buses)
		closedir(buses);
}

static void on_events(hostdev_loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct node_watch *w = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t len;

	(void)source;
	(void)revents;
	/* Drain everything queued: one refresh per batch, however many nodes changed. */
	while ((len = read(fd, buf, sizeof(buf))) > 0)
		changed = true;
	if (!changed)
		return;
	/* New directories (a bus, vfio/ itself) get watches of their own. */
	add_dirs(w);
	hostdev_dp_server_refresh(w->server);
}

int node_watch_start(hostdev_loop *loop, hostdev_dp_server *server, bool usb,
		     struct node_watch **out)
{
	struct node_watch *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->server = server;
	w->ctx = hostdev_loop_get_ctx(loop);
	w->usb = usb;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		free(w);
		return plugin_error(hostdev_loop_get_ctx(loop), r,
				    "cannot watch device nodes: inotify: %s (raise "
				    "fs.inotify.max_user_instances)",
				    strerror(-r));
	}
	add_dirs(w);
	r = hostdev_loop_add_fd(loop, w->fd, EPOLLIN, on_events, w, &w->source);
	if (r < 0) {
		close(w->fd);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void node_watch_stop(struct node_watch *w)
{
	if (!w)
		return;
	hostdev_loop_source_remove(w->source);
	close(w->fd);
	free(w);
}
