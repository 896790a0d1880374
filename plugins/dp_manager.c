/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev_dp_manager: the built-in servers of a whole resource selection config, one per resource,
 * following hot-plug (issue 14). The config is resolved again on the USB/PCI hot-plug events that
 * can change which resources exist (see event_may_change_names(); the events of one wake-up
 * resolve it once) and on an optional interval. A resource name that was not
 * served before (a device plugged later whose Harvester or per-device name is new) gets its server,
 * started and registered at once. A resource that is no longer in the resolution (its last device
 * left) keeps its server for a grace period, during which the built-in plugin lists its devices
 * Unhealthy (the kubelet stops handing them out and tells the pods that hold them); a device that
 * comes back within it keeps the server; after it the server stops (an empty list to the kubelet,
 * the socket removed). Resources of an explicit resourceName always resolve and so never end.
 *
 * Everything runs on the loop: the monitor's socket and a timerfd (the end of the next grace
 * period, the next interval) are fd sources of it, so a program that embeds the loop or runs it on
 * its thread gets the same behaviour with no code of its own. A resolution enumerates every
 * selected device (over half a second at 10,000 functions): it runs on the loop's worker thread
 * (hostdev_loop_queue_work()), one at a time, and its result is applied on the loop; what is asked
 * for meanwhile is done once after it. Only hostdev_dp_manager_start() and
 * hostdev_dp_manager_resolve(), which return the resolution's error, resolve on the caller's
 * thread. Built on the public API only, like the built-in plugins beside it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "plugin_ops.h"

struct manager_entry {
	char *name;
	hostdev_dp_server *server;
	struct plugin *plugin;	 /* the server's (borrowed): it takes the uevents per device */
	long long gone_since_ms; /* CLOCK_MONOTONIC ms since the resource has no device; -1 */
};

struct hostdev_dp_manager {
	int refcount;
	hostdev_loop *loop;
	hostdev_ctx *ctx; /* the loop's */
	hostdev_dp_config *config;
	struct hostdev_dp_server_options server_opts; /* the strings below are owned copies */
	char *device_plugin_dir, *plugins_registry_dir;
	int grace_ms;
	int resolve_interval_opt; /* the caller's: 0 events only, -1 never, or an interval */
	int resolve_interval_ms;  /* in effect: the caller's, or the fallback without events */
	bool hotplug, started;
	struct manager_entry *items;
	size_t count;
	hostdev_monitor *monitor;
	hostdev_loop_source *monitor_source, *timer_source;
	int timer_fd;
	long long next_resolve_ms; /* -1: no interval */
	long long retry_ms;	   /* after a failed resolution, not again before this; -1 */
	/* Which events can change the resource names: those of a kind an entry that does not
	 * name its resource explicitly selects (PCI events also for mdev entries: the parents). */
	bool names_follow_pci, names_follow_usb;
	bool harvester_pci;  /* a PCI entry named by Harvester name (an NVIDIA vGPU's type) */
	unsigned int n_seen; /* hot-plug events of this monitor wake-up */
	bool resolve_needed; /* one of them may change the names */
	/* The resolution on the worker thread, NULL when none runs; another asked for meanwhile. */
	hostdev_loop_work *resolving;
	bool resolve_again;
	/* Written by the worker while it resolves, read by the done function on the loop. */
	hostdev_dp_resources *resolved;
	int resolve_error;
	char resolve_message[512];
	unsigned long resolutions; /* how many ran since start (the debug log counts them) */
	/* The PCI devices the events of this wake-up named ("0000:3b:02.1"), and whether one of
	 * them may bring a device no server lists yet (add, bind): handed to the servers' plugins,
	 * which read only those devices again. */
	struct manager_event {
		char *name;
		bool may_join;
	} * events;
	size_t n_events, events_capacity;
	bool events_incomplete; /* out of memory noting one: every server reads everything */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PLUGIN_EXPORT void hostdev_dp_manager_options_init(struct hostdev_dp_manager_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->version = HOSTDEV_DP_MANAGER_OPTIONS_VERSION;
	opts->grace_ms = HOSTDEV_DP_MANAGER_DEFAULT_GRACE_MS;
	opts->hotplug = 1;
}

static long find(const hostdev_dp_manager *m, const char *name)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->items[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Serve resource @i of @res. Returns 0 or a negative errno (message in the context). */
static int add(hostdev_dp_manager *m, const hostdev_dp_resources *res, size_t i, const char *why)
{
	struct hostdev_dp_server_options opts;
	const char *name = hostdev_dp_resources_get_name(res, i);
	struct manager_entry *grown = realloc(m->items, (m->count + 1) * sizeof(*grown));
	struct manager_entry *e;
	int r;

	if (!grown)
		return -ENOMEM;
	m->items = grown;
	e = &m->items[m->count];
	memset(e, 0, sizeof(*e));
	e->gone_since_ms = -1;
	if (!(e->name = strdup(name)))
		return -ENOMEM;
	/* With uevents, health follows events and the refresh is only the safety net (unless the
	 * caller chose an interval). Without them, driver changes are only seen by refreshes. */
	opts = m->server_opts;
	if (opts.refresh_interval_ms == 0 && m->monitor)
		opts.refresh_interval_ms = HOSTDEV_DP_DEFAULT_RESYNC_MS;
	r = builtin_server_new(m->loop, res, i, &opts, &e->server, &e->plugin);
	if (r == 0 && (r = hostdev_dp_server_start(e->server)) < 0)
		e->server = hostdev_dp_server_unref(e->server);
	if (r < 0) {
		free(e->name);
		return r;
	}
	m->count++;
	plugin_log(m->ctx, HOSTDEV_LOG_INFO, "serving %s (%zu devices) on %s%s", name,
		   hostdev_dp_resources_get_device_count(res, i),
		   hostdev_dp_server_get_socket_path(e->server), why);
	return 0;
}

static void end(hostdev_dp_manager *m, size_t i)
{
	hostdev_dp_server_stop(m->items[i].server);
	hostdev_dp_server_unref(m->items[i].server);
	free(m->items[i].name);
	memmove(&m->items[i], &m->items[i + 1], (m->count - i - 1) * sizeof(*m->items));
	m->count--;
}

/* Resolve the config with @ctx's log quieted: the devices an entry leaves out were logged at the
 * start, not again at every event. */
static int resolve_quietly(hostdev_dp_manager *m, hostdev_ctx *ctx, hostdev_dp_resources **res)
{
	int priority = hostdev_ctx_get_log_priority(ctx), r;

	hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_ERR);
	r = hostdev_dp_resources_resolve(ctx, m->config, res);
	hostdev_ctx_set_log_priority(ctx, priority);
	return r;
}

/* The next moment something is due: the end of a grace period or the next interval, not before
 * the retry of a failed resolution; -1 none. */
static long long next_due_ms(const hostdev_dp_manager *m)
{
	long long due = m->next_resolve_ms;

	if (m->grace_ms >= 0) {
		for (size_t i = 0; i < m->count; i++) {
			long long end_ms;

			if (m->items[i].gone_since_ms < 0)
				continue;
			end_ms = m->items[i].gone_since_ms + m->grace_ms;
			if (due < 0 || end_ms < due)
				due = end_ms;
		}
	}
	if (due >= 0 && due < m->retry_ms)
		due = m->retry_ms;
	return due;
}

static void arm_timer(hostdev_dp_manager *m)
{
	struct itimerspec its = {0};
	long long due, left;

	if (m->timer_fd < 0)
		return;
	due = next_due_ms(m);
	if (due >= 0) {
		left = due - now_ms();
		if (left < 1)
			left = 1; /* 0 would disarm it */
		its.it_value.tv_sec = left / 1000;
		its.it_value.tv_nsec = (left % 1000) * 1000000;
	}
	timerfd_settime(m->timer_fd, 0, &its, NULL);
}

/* A resolution failed (@message says why): the servers stay as they were; the next try waits a
 * second, so that a host that cannot be read does not keep the worker busy. */
static void resolution_failed(hostdev_dp_manager *m, const char *message)
{
	plugin_log(m->ctx, HOSTDEV_LOG_WARNING,
		   "cannot resolve the config again (%s); serving what was resolved before",
		   message);
	m->retry_ms = now_ms() + 1000;
	arm_timer(m);
}

/* Apply resolution @res: start new resources, end those without devices past the grace period. */
static void apply_resolution(hostdev_dp_manager *m, const hostdev_dp_resources *res)
{
	size_t before = m->count;
	long long now = now_ms();
	bool *resolved;

	m->retry_ms = -1;
	if (!(resolved = calloc(before ? before : 1, sizeof(*resolved)))) {
		/* Nothing is known about what left: the next resolution applies it. */
		arm_timer(m);
		return;
	}
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		const char *name = hostdev_dp_resources_get_name(res, i);
		long k = find(m, name);

		if (k >= 0) {
			resolved[k] = true;
			if (m->items[k].gone_since_ms >= 0)
				plugin_log(m->ctx, HOSTDEV_LOG_INFO,
					   "%s has devices again: it stays", name);
			m->items[k].gone_since_ms = -1;
		} else if (add(m, res, i, " (new on this host)") < 0) {
			plugin_log(m->ctx, HOSTDEV_LOG_WARNING, "cannot serve %s: %s", name,
				   hostdev_ctx_get_error(m->ctx));
		}
	}
	/* Backwards: end() moves the entries after the one it removes. */
	for (size_t i = before; i-- > 0;) {
		struct manager_entry *e = &m->items[i];

		if (resolved[i])
			continue;
		if (e->gone_since_ms < 0) {
			e->gone_since_ms = now;
			plugin_log(m->ctx, HOSTDEV_LOG_INFO,
				   "%s has no device left: its devices are listed Unhealthy%s",
				   e->name,
				   m->grace_ms < 0 ? "" : ", and it ends after the grace period");
		}
		if (m->grace_ms >= 0 && now - e->gone_since_ms >= m->grace_ms) {
			plugin_log(m->ctx, HOSTDEV_LOG_INFO,
				   "%s ends: no device for %d ms (advertising no devices, removing "
				   "its socket)",
				   e->name, m->grace_ms);
			end(m, i);
		}
	}
	free(resolved);
	arm_timer(m);
}

/* The interval restarts when a resolution starts, whatever asked for it. */
static void resolution_started(hostdev_dp_manager *m)
{
	m->resolutions++;
	if (m->resolve_interval_ms > 0)
		m->next_resolve_ms = now_ms() + m->resolve_interval_ms;
	plugin_log(m->ctx, HOSTDEV_LOG_DEBUG, "resolving the config again (resolution %lu)%s",
		   m->resolutions, m->resolving ? " on the worker thread" : "");
}

/* Resolve on the caller's thread, with the loop's context, and apply. Returns 0, or the
 * resolution's error (the servers stay as they were). */
static int sync_servers(hostdev_dp_manager *m)
{
	hostdev_dp_resources *res = NULL;
	int r;

	resolution_started(m);
	r = resolve_quietly(m, m->ctx, &res);
	if (r < 0) {
		resolution_failed(m, hostdev_ctx_get_error(m->ctx));
		return r;
	}
	apply_resolution(m, res);
	hostdev_dp_resources_unref(res);
	return 0;
}

/* On the worker thread, with its context: only the resolution's own fields are touched. */
static void resolve_work(hostdev_ctx *ctx, void *userdata)
{
	hostdev_dp_manager *m = userdata;

	m->resolved = NULL;
	m->resolve_error = resolve_quietly(m, ctx, &m->resolved);
	if (m->resolve_error < 0)
		snprintf(m->resolve_message, sizeof(m->resolve_message), "%s",
			 hostdev_ctx_get_error(ctx));
}

static void request_resolve(hostdev_dp_manager *m);

static void drop_work(hostdev_ctx *ctx, void *userdata)
{
	(void)ctx;
	hostdev_dp_resources_unref(userdata);
}

static void drop_done(void *userdata)
{
	(void)userdata;
}

/* Let a resolution go on the worker thread: freeing every device of 10,000 takes milliseconds. */
static void drop_resolution(hostdev_dp_manager *m, hostdev_dp_resources *res)
{
	hostdev_loop_work *w;

	if (res && hostdev_loop_queue_work(m->loop, drop_work, drop_done, res, &w) < 0)
		hostdev_dp_resources_unref(res);
}

/* On the loop: the worker's resolution is there. */
static void resolve_done(void *userdata)
{
	hostdev_dp_manager *m = userdata;

	m->resolving = NULL;
	if (m->resolve_error < 0) {
		resolution_failed(m, m->resolve_message);
	} else {
		plugin_log(m->ctx, HOSTDEV_LOG_DEBUG, "resolution %lu done: %zu resources",
			   m->resolutions, hostdev_dp_resources_get_count(m->resolved));
		apply_resolution(m, m->resolved);
	}
	drop_resolution(m, m->resolved);
	m->resolved = NULL;
	if (m->resolve_again) {
		m->resolve_again = false;
		request_resolve(m);
	}
}

/* Resolve on the worker thread; while one runs, once more after it. */
static void request_resolve(hostdev_dp_manager *m)
{
	int r;

	if (m->resolving) {
		if (!m->resolve_again)
			plugin_log(m->ctx, HOSTDEV_LOG_DEBUG,
				   "resolution %lu runs: once more after it", m->resolutions);
		m->resolve_again = true;
		return;
	}
	r = hostdev_loop_queue_work(m->loop, resolve_work, resolve_done, m, &m->resolving);
	if (r < 0) {
		/* No thread or no memory: resolving on the loop is slow, but right. */
		plugin_log(m->ctx, HOSTDEV_LOG_WARNING,
			   "cannot resolve the config on the worker thread (%s): resolving on the "
			   "loop's",
			   strerror(-r));
		m->resolving = NULL;
		sync_servers(m);
		return;
	}
	resolution_started(m);
}

/* Forget a resolution running or asked for (waiting for the worker to finish one it runs). */
static void cancel_resolve(hostdev_dp_manager *m)
{
	hostdev_loop_work_cancel(m->resolving);
	m->resolving = NULL;
	m->resolve_again = false;
	m->resolved = hostdev_dp_resources_unref(m->resolved);
}

/* The interval in effect: the caller's; with none (0) and no hot-plug events, the servers'
 * refresh interval, so that a device plugged later is still served (unless every resource is
 * named explicitly: then no device brings a new one). */
static void set_resolve_interval(hostdev_dp_manager *m)
{
	int refresh = m->server_opts.refresh_interval_ms;

	m->resolve_interval_ms = m->resolve_interval_opt;
	if (m->resolve_interval_ms == 0 && !m->monitor &&
	    (m->names_follow_pci || m->names_follow_usb))
		m->resolve_interval_ms = refresh > 0	? refresh
					 : refresh == 0 ? HOSTDEV_DP_DEFAULT_REFRESH_MS
							: -1;
	m->next_resolve_ms = m->resolve_interval_ms > 0 ? now_ms() + m->resolve_interval_ms : -1;
}

/*
 * Whether @event can change which resources the config resolves to. Explicit entries always give
 * their resource: only the entries named per device or by Harvester name make resources come and
 * go, and only with the devices of their kind (an entry leaves out what an earlier entry of the
 * same kind selects: of the same kind only). Of those events:
 * - add and remove (and any other action) bring or take a device: yes;
 * - USB bind, unbind and change: no; a USB device is selected and named by its ids, serial and
 *   port, and identified by serials that only add and remove change;
 * - PCI bind and unbind: yes; the driver is a selector, a PF's interface name (a selector) comes
 *   with its driver, an mdev parent's types and an NVIDIA vGPU's name (Harvester naming) too;
 * - PCI change: only where a Harvester name may follow it: an NVIDIA device's vGPU type. The
 *   other PCI selectors (ids, class, address, the VFs of a PF) never change without add, remove,
 *   bind or unbind.
 * The built-in plugins follow the devices of the resources served meanwhile (update_servers()).
 */
static bool event_may_change_names(const hostdev_dp_manager *m, const hostdev_event *event,
				   bool pci)
{
	enum hostdev_event_action action = hostdev_event_get_action(event);
	hostdev_pci_device *dev;

	if (!(pci ? m->names_follow_pci : m->names_follow_usb))
		return false;
	switch (action) {
	case HOSTDEV_EVENT_BIND:
	case HOSTDEV_EVENT_UNBIND:
		return pci;
	case HOSTDEV_EVENT_CHANGE:
		if (!pci || !m->harvester_pci)
			return false;
		dev = hostdev_event_get_pci_device(event);
		return !dev || hostdev_pci_device_get_vendor_id(dev) == 0x10de;
	default:
		return true;
	}
}

static void on_event(hostdev_monitor *monitor, const hostdev_event *event, void *userdata)
{
	hostdev_dp_manager *m = userdata;
	enum hostdev_event_action action = hostdev_event_get_action(event);
	const char *name = hostdev_event_get_name(event);
	bool pci = strcmp(hostdev_event_get_subsystem(event), "pci") == 0;
	struct manager_event *e;

	(void)monitor;
	m->n_seen++;
	if (event_may_change_names(m, event, pci))
		m->resolve_needed = true;
	if (!pci || !name)
		return;
	if (m->n_events == m->events_capacity) {
		size_t capacity = m->events_capacity ? 2 * m->events_capacity : 8;
		struct manager_event *grown = realloc(m->events, capacity * sizeof(*grown));

		if (!grown) {
			m->events_incomplete = true;
			return;
		}
		m->events = grown;
		m->events_capacity = capacity;
	}
	e = &m->events[m->n_events];
	if (!(e->name = strdup(name))) {
		m->events_incomplete = true;
		return;
	}
	e->may_join = action == HOSTDEV_EVENT_ADD || action == HOSTDEV_EVENT_BIND;
	m->n_events++;
}

static void forget_events(hostdev_dp_manager *m)
{
	for (size_t i = 0; i < m->n_events; i++)
		free(m->events[i].name);
	m->n_events = 0;
	m->events_incomplete = false;
}

/*
 * Hand this wake-up's events to the servers. A plugin that follows devices (vfio PCI) reads again
 * only the devices the events name; a device it does not list that was added or bound may join
 * its resource: it reads everything then (a hot-plug, rare). The other kinds, and every server
 * after lost events (@lost), read everything.
 */
static void update_servers(hostdev_dp_manager *m, bool lost)
{
	for (size_t i = 0; i < m->count; i++) {
		struct manager_entry *e = &m->items[i];
		bool full = lost || m->events_incomplete || !plugin_follows_devices(e->plugin);

		for (size_t k = 0; k < m->n_events && !full; k++)
			if (!plugin_device_changed(e->plugin, e->server, m->events[k].name) &&
			    m->events[k].may_join)
				full = true;
		if (full)
			hostdev_dp_server_refresh(e->server);
	}
}

static void stop_monitor(hostdev_dp_manager *m)
{
	hostdev_loop_source_remove(m->monitor_source);
	m->monitor_source = NULL;
	m->monitor = hostdev_monitor_unref(m->monitor);
}

/* The monitor's socket is readable: take every queued event, then refresh and resolve once. */
static void on_monitor(hostdev_loop_source *source, int fd, uint32_t revents, void *userdata)
{
	hostdev_dp_manager *m = userdata;
	unsigned long overflows = hostdev_monitor_get_overflows(m->monitor);
	bool lost;

	(void)source;
	(void)fd;
	(void)revents;
	m->n_seen = 0;
	m->resolve_needed = false;
	if (hostdev_monitor_process(m->monitor) < 0) {
		plugin_log(
		    m->ctx, HOSTDEV_LOG_WARNING,
		    "the hot-plug monitor failed (%s); resources follow hot-plug only at the "
		    "resolve interval, driver changes only at the resync",
		    hostdev_ctx_get_error(m->ctx));
		stop_monitor(m);
		set_resolve_interval(m);
		arm_timer(m);
	}
	/* The kernel dropped uevents (its queue overflowed): nobody knows which devices changed. */
	lost = m->monitor && hostdev_monitor_get_overflows(m->monitor) != overflows;
	if (lost)
		plugin_log(m->ctx, HOSTDEV_LOG_INFO,
			   "uevents were lost: every resource reads its devices again");
	if (m->n_seen || lost)
		update_servers(m, lost);
	if (lost && (m->names_follow_pci || m->names_follow_usb))
		m->resolve_needed = true;
	if (m->n_seen)
		plugin_log(m->ctx, HOSTDEV_LOG_DEBUG, "%u hot-plug events: %s", m->n_seen,
			   m->resolve_needed ? "resolving the config again"
					     : "none changes which resources exist");
	if (m->resolve_needed)
		request_resolve(m);
	forget_events(m);
}

static void on_timer(hostdev_loop_source *source, int fd, uint32_t revents, void *userdata)
{
	hostdev_dp_manager *m = userdata;
	uint64_t expirations;
	long long due;

	(void)source;
	(void)revents;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	due = next_due_ms(m);
	if (due >= 0 && due <= now_ms())
		request_resolve(m); /* its result re-arms the timer */
	else
		arm_timer(m);
}

/* Hot-plug events from the udev netlink socket; without them (a container without the socket)
 * the manager still resolves at the interval: a warning, not a failure. */
static void start_monitor(hostdev_dp_manager *m)
{
	int r;

	if ((r = hostdev_monitor_new(m->ctx, &m->monitor)) < 0 ||
	    (r = hostdev_monitor_add_match_subsystem(m->monitor, "usb")) < 0 ||
	    (r = hostdev_monitor_add_match_subsystem(m->monitor, "pci")) < 0)
		goto fail;
	hostdev_monitor_set_callback(m->monitor, on_event, m);
	if ((r = hostdev_monitor_start(m->monitor, 0)) < 0 ||
	    (r = hostdev_loop_add_fd(m->loop, hostdev_monitor_get_fd(m->monitor), EPOLLIN,
				     on_monitor, m, &m->monitor_source)) < 0)
		goto fail;
	return;
fail:
	plugin_log(m->ctx, HOSTDEV_LOG_WARNING,
		   "no hot-plug events (%s); resources follow hot-plug at the resolve interval",
		   hostdev_ctx_get_error(m->ctx));
	stop_monitor(m);
}

/* Which hot-plug events can change the resource names (event_may_change_names()). */
static void follow_names(hostdev_dp_manager *m)
{
	m->names_follow_pci = m->names_follow_usb = m->harvester_pci = false;
	for (size_t i = 0; i < hostdev_dp_config_get_count(m->config); i++) {
		int naming = hostdev_dp_config_get_naming(m->config, i);

		if (naming == HOSTDEV_DP_NAMING_EXPLICIT)
			continue;
		/* mdev entries follow PCI events: their parents are PCI devices. */
		if (hostdev_dp_config_get_kind(m->config, i) == HOSTDEV_DP_KIND_USB)
			m->names_follow_usb = true;
		else
			m->names_follow_pci = true;
		if (hostdev_dp_config_get_kind(m->config, i) == HOSTDEV_DP_KIND_PCI &&
		    naming == HOSTDEV_DP_NAMING_HARVESTER)
			m->harvester_pci = true;
	}
	plugin_log(m->ctx, HOSTDEV_LOG_DEBUG, "the config is resolved again on %s",
		   m->names_follow_pci && m->names_follow_usb ? "PCI and USB hot-plug events"
		   : m->names_follow_pci		      ? "PCI hot-plug events"
		   : m->names_follow_usb		      ? "USB hot-plug events"
					 : "no hot-plug event (every resource is named "
					   "explicitly)");
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *copy;

	if (!s)
		return NULL;
	if (!(copy = strdup(s)))
		*failed = true;
	return copy;
}

PLUGIN_EXPORT int hostdev_dp_manager_new(hostdev_loop *loop, hostdev_dp_config *config,
					 const struct hostdev_dp_manager_options *opts,
					 hostdev_dp_manager **out)
{
	struct hostdev_dp_manager_options defaults;
	hostdev_dp_manager *m;
	hostdev_ctx *ctx;
	bool failed = false;

	if (!loop || !config || !out)
		return -EINVAL;
	ctx = hostdev_loop_get_ctx(loop);
	if (!opts) {
		hostdev_dp_manager_options_init(&defaults);
		opts = &defaults;
	}
	if (opts->version == 0 || opts->version > HOSTDEV_DP_MANAGER_OPTIONS_VERSION)
		return plugin_error(ctx, -EINVAL,
				    "device-plugin manager options of version %u: this library "
				    "knows versions 1 to %d",
				    opts->version, HOSTDEV_DP_MANAGER_OPTIONS_VERSION);
	if (opts->grace_ms < -1)
		return plugin_error(ctx, -EINVAL,
				    "grace period of %d ms: expected 0 or more, or -1 for never",
				    opts->grace_ms);
	if (opts->resolve_interval_ms < -1)
		return plugin_error(
		    ctx, -EINVAL,
		    "resolve interval of %d ms: expected 0 (events only), a positive interval or "
		    "-1",
		    opts->resolve_interval_ms);
	if (opts->server && opts->server->socket_name)
		return plugin_error(ctx, -EINVAL,
				    "a socket name for every server of a config: each resource's "
				    "socket is named after it; leave the server options' socket "
				    "name unset");
	if (!(m = calloc(1, sizeof(*m))))
		return -ENOMEM;
	m->refcount = 1;
	m->loop = hostdev_loop_ref(loop);
	m->ctx = ctx;
	m->config = hostdev_dp_config_ref(config);
	m->timer_fd = -1;
	m->next_resolve_ms = -1;
	m->retry_ms = -1;
	m->grace_ms = opts->grace_ms;
	m->resolve_interval_opt = opts->resolve_interval_ms;
	m->hotplug = opts->hotplug != 0;
	if (opts->server)
		m->server_opts = *opts->server;
	else
		hostdev_dp_server_options_init(&m->server_opts);
	m->device_plugin_dir = dup_or_null(m->server_opts.device_plugin_dir, &failed);
	m->plugins_registry_dir = dup_or_null(m->server_opts.plugins_registry_dir, &failed);
	m->server_opts.device_plugin_dir = m->device_plugin_dir;
	m->server_opts.plugins_registry_dir = m->plugins_registry_dir;
	if (failed) {
		hostdev_dp_manager_unref(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

PLUGIN_EXPORT int hostdev_dp_manager_start(hostdev_dp_manager *m)
{
	hostdev_dp_resources *res = NULL;
	int r;

	if (!m)
		return -EINVAL;
	hostdev_loop_lock(m->loop);
	if (m->started) {
		r = plugin_error(m->ctx, -EALREADY, "the device-plugin manager is serving already");
		goto out;
	}
	if ((r = hostdev_dp_resources_resolve(m->ctx, m->config, &res)) < 0)
		goto out;
	m->resolutions = 1;
	follow_names(m);
	/* Before the servers: whether uevents come decides their resync interval (add()). */
	if (m->hotplug)
		start_monitor(m);
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		if ((r = add(m, res, i, "")) < 0) {
			/* The message says why; the resource is named in front of it. */
			char why[512];

			snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(m->ctx));
			while (m->count)
				end(m, m->count - 1);
			stop_monitor(m);
			r = plugin_error(m->ctx, r, "%s: %s", hostdev_dp_resources_get_name(res, i),
					 why);
			goto out;
		}
	}
	if (hostdev_dp_resources_get_count(res) == 0)
		plugin_log(m->ctx, HOSTDEV_LOG_WARNING,
			   "no device matches the config: nothing to serve until one is plugged");
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0 ||
	    hostdev_loop_add_fd(m->loop, m->timer_fd, EPOLLIN, on_timer, m, &m->timer_source) < 0) {
		r = plugin_error(m->ctx, m->timer_fd < 0 ? -errno : -ENOMEM,
				 "cannot create the device-plugin manager's timer");
		while (m->count)
			end(m, m->count - 1);
		stop_monitor(m);
		if (m->timer_fd >= 0)
			close(m->timer_fd);
		m->timer_fd = -1;
		goto out;
	}
	set_resolve_interval(m);
	arm_timer(m);
	m->started = true;
	r = 0;
out:
	hostdev_dp_resources_unref(res);
	hostdev_loop_unlock(m->loop);
	return r;
}

PLUGIN_EXPORT int hostdev_dp_manager_resolve(hostdev_dp_manager *m)
{
	int r;

	if (!m)
		return -EINVAL;
	hostdev_loop_lock(m->loop);
	if (!m->started)
		r = plugin_error(m->ctx, -EINVAL,
				 "the device-plugin manager is not serving: start it first");
	else {
		/* One running started before this call: its result would be older. */
		cancel_resolve(m);
		r = sync_servers(m);
	}
	hostdev_loop_unlock(m->loop);
	return r;
}

PLUGIN_EXPORT int hostdev_dp_manager_refresh(hostdev_dp_manager *m)
{
	if (!m)
		return -EINVAL;
	hostdev_loop_lock(m->loop);
	for (size_t i = 0; i < m->count; i++)
		hostdev_dp_server_refresh(m->items[i].server);
	hostdev_loop_unlock(m->loop);
	return 0;
}

PLUGIN_EXPORT int hostdev_dp_manager_stop(hostdev_dp_manager *m)
{
	if (!m)
		return -EINVAL;
	hostdev_loop_lock(m->loop);
	stop_monitor(m);
	cancel_resolve(m);
	hostdev_loop_source_remove(m->timer_source);
	m->timer_source = NULL;
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->timer_fd = -1;
	while (m->count)
		end(m, m->count - 1);
	m->started = false;
	m->next_resolve_ms = -1;
	m->retry_ms = -1;
	hostdev_loop_unlock(m->loop);
	return 0;
}

PLUGIN_EXPORT size_t hostdev_dp_manager_get_count(hostdev_dp_manager *m)
{
	size_t n;

	if (!m)
		return 0;
	hostdev_loop_lock(m->loop);
	n = m->count;
	hostdev_loop_unlock(m->loop);
	return n;
}

PLUGIN_EXPORT hostdev_dp_server *hostdev_dp_manager_get_server(hostdev_dp_manager *m, size_t i)
{
	hostdev_dp_server *server = NULL;

	if (!m)
		return NULL;
	hostdev_loop_lock(m->loop);
	if (i < m->count)
		server = m->items[i].server;
	hostdev_loop_unlock(m->loop);
	return server;
}

PLUGIN_EXPORT hostdev_dp_manager *hostdev_dp_manager_ref(hostdev_dp_manager *m)
{
	if (m)
		__atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED);
	return m;
}

PLUGIN_EXPORT hostdev_dp_manager *hostdev_dp_manager_unref(hostdev_dp_manager *m)
{
	if (!m || __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	hostdev_dp_manager_stop(m);
	forget_events(m);
	free(m->events);
	free(m->items);
	free(m->device_plugin_dir);
	free(m->plugins_registry_dir);
	hostdev_dp_config_unref(m->config);
	hostdev_loop_unref(m->loop);
	free(m);
	return NULL;
}
