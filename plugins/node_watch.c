/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device nodes watched with inotify, so that a built-in plugin's server sees at once a node its
 * health depends on appear or go: /dev/vfio/<group> (vfio PCI and mdev) or /dev/bus/usb/BBB/DDD
 * (USB). Removing a group node makes no uevent of its own, so without this a health change would
 * wait for the resync. The directories are those of the context's HOSTDEV_PATH_DEV, so fake roots
 * work too. A directory that does not exist yet (vfio not loaded, no USB bus) is watched for from
 * its parent.
 *
 * The vfio kinds re-check only what an event names: the name of a node under vfio/ is its group
 * number, and only the devices of the changed groups are checked again (one access(2) per group,
 * plugin_groups_changed()). Anything else that matters (vfio/ itself or <dev>/iommu coming or
 * going, a USB node) and a queue overflow (IN_Q_OVERFLOW: events were lost) read every device of
 * the resource again (hostdev_dp_server_refresh()). Other entries of <dev> are none of the
 * plugin's business and cost nothing but the wake-up.
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
	struct plugin *plugin;	   /* the server's: it owns this watch */
	hostdev_ctx *ctx;
	int fd;
	hostdev_loop_source *source;
	bool usb;
	int dev_wd, vfio_wd; /* -1 when not watched */
	/* The groups whose node changed in this wake-up (a batch), grown as needed. */
	int *groups;
	size_t n_groups, groups_capacity;
};

static int add_dir(struct node_watch *w, const char *path)
{
	int wd = inotify_add_watch(w->fd, path, NODE_EVENTS | IN_ONLYDIR);

	if (wd < 0 && errno != ENOENT)
		plugin_log(w->ctx, HOSTDEV_LOG_DEBUG, "device-node watch: %s: %s", path,
			   strerror(errno));
	return wd;
}

/* Watch the node directories that exist now (adding a watch twice is harmless). */
static void add_dirs(struct node_watch *w)
{
	const char *dev = hostdev_ctx_get_path(w->ctx, HOSTDEV_PATH_DEV);
	char path[PATH_MAX], bus[PATH_MAX];
	struct dirent *de;
	DIR *buses;

	/* The parents catch vfio/ or bus/usb/ appearing later. */
	w->dev_wd = add_dir(w, dev);
	if (!w->usb) {
		snprintf(path, sizeof(path), "%s/vfio", dev);
		w->vfio_wd = add_dir(w, path);
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

/* A group number (the name of a node under vfio/), or -1 for any other name. */
static int group_of(const char *name)
{
	char *end;
	long group;

	if (*name < '0' || *name > '9')
		return -1;
	errno = 0;
	group = strtol(name, &end, 10);
	return errno || *end || group > INT_MAX ? -1 : (int)group;
}

static void note_group(struct node_watch *w, int group, bool *full)
{
	if (w->n_groups == w->groups_capacity) {
		size_t capacity = w->groups_capacity ? 2 * w->groups_capacity : 16;
		int *grown = realloc(w->groups, capacity * sizeof(*grown));

		if (!grown) {
			*full = true; /* without room to remember it, check everything */
			return;
		}
		w->groups = grown;
		w->groups_capacity = capacity;
	}
	w->groups[w->n_groups++] = group;
}

/*
 * What one event asks for: a group node (noted), everything (*@full), or nothing. <dev> holds
 * much else (terminals, disks, loop devices): only vfio/ and iommu there matter to vfio, bus/ to
 * USB. Under vfio/, "vfio" (the container) and "devices/" (iommufd cdevs) say nothing about a
 * device's health.
 */
static void judge(struct node_watch *w, const struct inotify_event *ev, bool *full)
{
	const char *name = ev->len ? ev->name : "";
	int group;

	if (ev->mask & IN_Q_OVERFLOW) {
		plugin_log(w->ctx, HOSTDEV_LOG_INFO,
			   "device-node events were lost (inotify queue overflow): reading every "
			   "device again");
		*full = true;
		return;
	}
	if (ev->mask & IN_IGNORED) {
		/* A watched directory went (vfio unloaded): its devices are re-read. */
		*full = true;
		return;
	}
	if (w->usb) {
		if (ev->wd != w->dev_wd || strcmp(name, "bus") == 0)
			*full = true;
		return;
	}
	if (ev->wd == w->dev_wd) {
		if (strcmp(name, "vfio") == 0 || strcmp(name, "iommu") == 0)
			*full = true;
		return;
	}
	if (ev->wd == w->vfio_wd && (group = group_of(name)) >= 0) {
		note_group(w, group, full);
		return;
	}
}

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void on_events(hostdev_loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct node_watch *w = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool full = false;
	size_t n = 0;
	ssize_t len;

	(void)source;
	(void)revents;
	w->n_groups = 0;
	/* Drain everything queued: one update per batch, however many nodes changed. */
	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (char *at = buf; at < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)at;

			judge(w, ev, &full);
			at += sizeof(*ev) + ev->len;
		}
	}
	if (full) {
		/* New directories (a bus, vfio/ itself) get watches of their own. */
		add_dirs(w);
		hostdev_dp_server_refresh(w->server);
		return;
	}
	if (!w->n_groups)
		return;
	qsort(w->groups, w->n_groups, sizeof(*w->groups), compare_int);
	for (size_t i = 0; i < w->n_groups; i++)
		if (n == 0 || w->groups[i] != w->groups[n - 1])
			w->groups[n++] = w->groups[i];
	plugin_groups_changed(w->plugin, w->server, w->groups, n);
}

int node_watch_start(hostdev_loop *loop, hostdev_dp_server *server, struct plugin *plugin, bool usb,
		     struct node_watch **out)
{
	struct node_watch *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->server = server;
	w->plugin = plugin;
	w->dev_wd = w->vfio_wd = -1;
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
	free(w->groups);
	free(w);
}
