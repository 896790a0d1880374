/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device-plugin servers (deviceplugin.h): creation, options and socket naming, start and stop,
 * the advertised device list and its refresh. The RPC handlers are in dp_service.c, registration
 * in dp_register.c, the directory watch in dp_watch.c.
 */
#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop/loop.h"
#include "naming/naming.h"
#include "deviceplugin.h"

HOSTDEV_EXPORT void hostdev_dp_server_options_init(struct hostdev_dp_server_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->version = HOSTDEV_DP_SERVER_OPTIONS_VERSION;
	opts->registration = HOSTDEV_DP_REGISTER_CLASSIC;
	opts->kubelet_uid = -1;
}

static char *join_path(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	return path;
}

/*
 * The default socket name: "<vendor>_<name>.sock" ("intel.com/X710_VF" ->
 * "intel.com_X710_VF.sock"). The whole path must fit in a sockaddr_un (107 characters); when it
 * does not, the name is cut and tagged with 10 hex digits of the FNV-1a hash of the resource name,
 * so that it stays unique and the same across restarts (like Harvester's 108-byte rule, which also
 * shortens rather than fails).
 */
static int default_socket_name(hostdev_ctx *ctx, const char *dir, const char *resource, char **out)
{
	size_t dir_len = strlen(dir), base_len = strlen(resource), room;
	char *name;

	if (dir_len + 1 + base_len + strlen(".sock") <= DP_SOCKET_PATH_MAX) {
		if (asprintf(&name, "%s.sock", resource) < 0)
			return -ENOMEM;
	} else {
		/* dir + '/' + cut + '-' + 10 hex + ".sock" */
		if (dir_len + 1 + 1 + 10 + 5 + 8 > DP_SOCKET_PATH_MAX)
			return hostdev_error(
			    ctx, -EINVAL,
			    "resource %s: the socket directory %s is too long for a "
			    "Unix socket path (at most %d characters in all); use a "
			    "shorter directory",
			    resource, dir, DP_SOCKET_PATH_MAX);
		room = DP_SOCKET_PATH_MAX - dir_len - 1 - 1 - 10 - 5;
		if (asprintf(&name, "%.*s-%010" PRIx64 ".sock", (int)room, resource,
			     fnv1a64(resource) >> 24) < 0)
			return -ENOMEM;
	}
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	*out = name;
	return 0;
}

static int check_socket_name(hostdev_ctx *ctx, const char *resource, const char *dir,
			     const char *name)
{
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strcmp(name, DP_KUBELET_SOCKET) == 0)
		return hostdev_error(
		    ctx, -EINVAL,
		    "resource %s: socket name '%s' must be a plain file name other "
		    "than %s",
		    resource, name, DP_KUBELET_SOCKET);
	if (strlen(dir) + 1 + strlen(name) > DP_SOCKET_PATH_MAX)
		return hostdev_error(
		    ctx, -EINVAL,
		    "resource %s: socket path %s/%s is longer than a Unix socket "
		    "address holds (%d characters); use a shorter name or directory",
		    resource, dir, name, DP_SOCKET_PATH_MAX);
	return 0;
}

static int resolve_dir(hostdev_ctx *ctx, const char *resource, const char *given,
		       const char *kubelet_sub, char **out)
{
	const char *kubelet = hostdev_ctx_get_path(ctx, HOSTDEV_PATH_KUBELET);

	if (given) {
		if (given[0] != '/')
			return hostdev_error(ctx, -EINVAL,
					     "resource %s: directory '%s' must be an absolute path",
					     resource, given);
		*out = strdup(given);
	} else {
		*out = join_path(kubelet, kubelet_sub);
	}
	return *out ? 0 : -ENOMEM;
}

static void listing_cancel(hostdev_dp_server *server);
static int server_relisten(hostdev_dp_server *server);

static void server_free(hostdev_dp_server *server)
{
	listing_cancel(server);
	/* Armed by a list read at a start that failed after it (no stop then). */
	loop_remove(server->give_back_timer);
	grpc_server_free(server->grpc);
	hostdev_dp_devices_unref(server->devices);
	if (server->ops.destroy)
		server->ops.destroy(server->userdata);
	free(server->resource_name);
	free(server->plugin_dir);
	free(server->socket_dir);
	free(server->socket_name);
	free(server->socket_path);
	free(server->kubelet_socket);
	free(server);
}

static int check_args(hostdev_ctx *ctx, const char *resource_name,
		      const struct hostdev_dp_plugin_ops *ops,
		      const struct hostdev_dp_server_options *opts)
{
	const char *problem = dp_resource_name_problem(resource_name);

	/* The kubelet would refuse every Register: better an error now than retries forever. */
	if (problem)
		return hostdev_error(ctx, -EINVAL,
				     "'%s' is not a resource name the kubelet accepts: %s",
				     resource_name ? resource_name : "(null)", problem);
	if (ops && ops->version == 0)
		return hostdev_error(ctx, -EINVAL,
				     "resource %s: plugin ops without a version: set .version = "
				     "HOSTDEV_DP_PLUGIN_OPS_VERSION",
				     resource_name);
	if (ops && ops->version >= 2)
		CHECK_FLAGS(ctx, ops->flags, HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP,
			    "resource %s: unknown plugin", resource_name);
	if (opts->version == 0)
		return hostdev_error(ctx, -EINVAL,
				     "resource %s: server options without a version: initialise "
				     "them with hostdev_dp_server_options_init()",
				     resource_name);
	if (opts->registration < HOSTDEV_DP_REGISTER_CLASSIC ||
	    opts->registration > HOSTDEV_DP_REGISTER_NONE)
		return hostdev_error(ctx, -EINVAL, "resource %s: unknown registration mode %d",
				     resource_name, opts->registration);
	if (opts->refresh_interval_ms < -1)
		return hostdev_error(ctx, -EINVAL,
				     "resource %s: refresh interval %d ms: use a positive value, 0 "
				     "for the default or -1 for never",
				     resource_name, opts->refresh_interval_ms);
	if (opts->version >= 2 && opts->kubelet_uid < -1)
		return hostdev_error(ctx, -EINVAL,
				     "resource %s: kubelet uid %d: use a user id, or -1 for root "
				     "only",
				     resource_name, opts->kubelet_uid);
	if (opts->version >= 2 && opts->idle_timeout_ms < -1)
		return hostdev_error(ctx, -EINVAL,
				     "resource %s: idle timeout %d ms: use a positive value, 0 for "
				     "the default or -1 for never",
				     resource_name, opts->idle_timeout_ms);
	return 0;
}

static int server_new_locked(hostdev_loop *loop, const char *resource_name,
			     const struct hostdev_dp_plugin_ops *ops, void *userdata,
			     const struct hostdev_dp_server_options *opts, hostdev_dp_server **out)
{
	hostdev_ctx *ctx = loop_ctx(loop);
	struct hostdev_dp_server_options defaults;
	const struct grpc_method *methods;
	hostdev_dp_server *server = NULL;
	char *registry_dir = NULL;
	size_t n_methods;
	int idle_ms, r;

	if (!opts) {
		hostdev_dp_server_options_init(&defaults);
		opts = &defaults;
	}
	r = check_args(ctx, resource_name, ops, opts);
	if (r == 0 && !(server = calloc(1, sizeof(*server))))
		r = -ENOMEM;
	if (r < 0) {
		/* The server takes @userdata even when it cannot be created. */
		if (ops && ops->destroy)
			ops->destroy(userdata);
		return r;
	}
	server->refcount = 1;
	server->loop = loop;
	server->ctx = ctx;
	/* A version-1 caller's struct ends before flags: never read past its end. */
	if (ops)
		memcpy(&server->ops, ops,
		       ops->version >= 2 ? sizeof(server->ops)
					 : offsetof(struct hostdev_dp_plugin_ops, flags));
	server->ops.version = HOSTDEV_DP_PLUGIN_OPS_VERSION;
	server->userdata = userdata;
	server->relisten = server_relisten;
	server->registration = opts->registration;
	server->refresh_ms = opts->refresh_interval_ms == 0 ? HOSTDEV_DP_DEFAULT_REFRESH_MS
							    : opts->refresh_interval_ms;
	server->state = HOSTDEV_DP_STOPPED;
	r = -ENOMEM;
	server->resource_name = strdup(resource_name);
	if (!server->resource_name)
		goto fail;
	r = resolve_dir(ctx, resource_name, opts->device_plugin_dir, "device-plugins",
			&server->plugin_dir);
	if (r < 0)
		goto fail;
	if (server->registration == HOSTDEV_DP_REGISTER_WATCHER) {
		r = resolve_dir(ctx, resource_name, opts->plugins_registry_dir, "plugins_registry",
				&registry_dir);
		if (r < 0)
			goto fail;
		server->socket_dir = registry_dir;
	} else {
		server->socket_dir = strdup(server->plugin_dir);
	}
	r = -ENOMEM;
	server->kubelet_socket = join_path(server->plugin_dir, DP_KUBELET_SOCKET);
	if (!server->socket_dir || !server->kubelet_socket)
		goto fail;
	if (opts->socket_name) {
		r = check_socket_name(ctx, resource_name, server->socket_dir, opts->socket_name);
		if (r < 0)
			goto fail;
		r = -ENOMEM;
		server->socket_name = strdup(opts->socket_name);
		if (!server->socket_name)
			goto fail;
	} else {
		r = default_socket_name(ctx, server->socket_dir, resource_name,
					&server->socket_name);
		if (r < 0)
			goto fail;
	}
	r = -ENOMEM;
	server->socket_path = join_path(server->socket_dir, server->socket_name);
	if (!server->socket_path || hostdev_dp_devices_new(&server->devices) < 0)
		goto fail;
	methods = dp_service_methods(server->registration, &n_methods);
	r = grpc_server_new(loop, methods, n_methods, server, &server->grpc);
	if (r < 0)
		goto fail;
	/* Members of a newer options version than the caller's are not there to read. */
	idle_ms = HOSTDEV_DP_DEFAULT_IDLE_TIMEOUT_MS;
	if (opts->version >= 2) {
		grpc_server_set_peer_uid(server->grpc, opts->kubelet_uid);
		if (opts->idle_timeout_ms != 0)
			idle_ms = opts->idle_timeout_ms;
	}
	grpc_server_set_idle_timeout(server->grpc, idle_ms);
	hostdev_loop_ref(loop);
	*out = server;
	return 0;
fail:
	server_free(server);
	return r;
}

HOSTDEV_EXPORT int hostdev_dp_server_new(hostdev_loop *loop, const char *resource_name,
					 const struct hostdev_dp_plugin_ops *ops, void *userdata,
					 const struct hostdev_dp_server_options *opts,
					 hostdev_dp_server **out)
{
	int r;

	if (!loop || !out) {
		if (ops && ops->destroy)
			ops->destroy(userdata);
		return -EINVAL;
	}
	loop_lock(loop);
	r = server_new_locked(loop, resource_name, ops, userdata, opts, out);
	loop_unlock(loop);
	return r;
}

HOSTDEV_EXPORT hostdev_dp_server *hostdev_dp_server_ref(hostdev_dp_server *server)
{
	if (!server)
		return NULL;
	loop_lock(server->loop);
	server->refcount++;
	loop_unlock(server->loop);
	return server;
}

static void server_stop_locked(hostdev_dp_server *server);

HOSTDEV_EXPORT hostdev_dp_server *hostdev_dp_server_unref(hostdev_dp_server *server)
{
	hostdev_loop *loop;

	if (!server)
		return NULL;
	loop = server->loop;
	loop_lock(loop);
	if (--server->refcount > 0) {
		loop_unlock(loop);
		return NULL;
	}
	server_stop_locked(server);
	server_free(server);
	loop_unlock(loop);
	hostdev_loop_unref(loop);
	return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Memory given back after a burst */

/*
 * A full list (thousands of device objects and sysfs reads on the worker) and each list sent
 * (the protobuf structures of every device, the message, its framed copy: about 2.5 MiB at 10,000
 * devices) leave freed blocks that glibc keeps for reuse, so an idle server would hold its peak
 * (issue 15). A while after the last of a burst, when the lists are written, the free pages go
 * back to the kernel: one wake-up per burst, none at idle, about a millisecond at 10,000 devices.
 */
#define DP_GIVE_BACK_DELAY_MS 2000

static void on_give_back(struct loop_source *source, void *userdata)
{
	hostdev_dp_server *server = userdata;

	(void)source;
	server->give_back_timer = NULL;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

void dp_server_give_back_memory(hostdev_dp_server *server)
{
	loop_remove(server->give_back_timer);
	if (loop_add_timer(server->loop, DP_GIVE_BACK_DELAY_MS, on_give_back, server,
			   &server->give_back_timer) < 0)
		server->give_back_timer = NULL; /* the memory stays with malloc */
}

/* ---------------------------------------------------------------------------------------------- */
/* The advertised list */

/* Queue the list in @buf (GRPC_MESSAGE_HEADROOM bytes, then @length bytes of message; taken) on
 * every open stream of @server: copied for all but the last, which takes the buffer itself. */
static void send_list(hostdev_dp_server *server, uint8_t *buf, size_t length)
{
	struct dp_watcher *last = NULL;

	for (struct dp_watcher *w = server->watchers; w; w = w->next)
		if (!w->finished)
			last = w;
	/* The newest list replaces one a slow reader has not started to receive: the kubelet
	 * must end up with the current state, not with the oldest lists. */
	for (struct dp_watcher *w = server->watchers; w; w = w->next) {
		int r;

		if (w->finished)
			continue;
		if (w == last)
			r = grpc_call_send_latest_owned(w->call, buf, length);
		else
			r = grpc_call_send_latest(w->call, buf + GRPC_MESSAGE_HEADROOM, length);
		if (r < 0)
			log_warn(server->ctx,
				 "resource %s: could not queue the device list for a ListAndWatch "
				 "stream: %s",
				 server->resource_name, hostdev_ctx_get_error(server->ctx));
	}
	if (!last)
		free(buf);
}

void dp_server_push(hostdev_dp_server *server)
{
	uint8_t *buf;
	size_t length;

	/* This push carries whatever a pending one would have. */
	loop_remove(server->push_timer);
	server->push_timer = NULL;
	if (!server->watchers)
		return;
	if (dp_proto_list_and_watch(server->devices, GRPC_MESSAGE_HEADROOM, &buf, &length) < 0) {
		log_warn(server->ctx, "resource %s: out of memory encoding the device list",
			 server->resource_name);
		return;
	}
	send_list(server, buf, length);
	dp_server_give_back_memory(server);
}

static size_t count_healthy(const hostdev_dp_devices *devices)
{
	size_t n = 0;

	for (size_t i = 0; i < devices->count; i++)
		n += devices->items[i].healthy;
	return n;
}

void dp_server_replace_devices(hostdev_dp_server *server, hostdev_dp_devices *devices)
{
	if (dp_devices_equal(server->devices, devices)) {
		hostdev_dp_devices_unref(devices);
		return;
	}
	/* The list is kept until the next one: without the doubling's slack (up to half of it).
	 * Only when nobody else holds it, who might read it meanwhile. */
	if (__atomic_load_n(&devices->refcount, __ATOMIC_ACQUIRE) == 1)
		dp_devices_trim(devices);
	hostdev_dp_devices_unref(server->devices);
	server->devices = devices;
	if (server->started)
		log_info(server->ctx, "resource %s: %zu devices, %zu healthy; sending the new list",
			 server->resource_name, devices->count, count_healthy(devices));
	dp_server_push(server);
}

/* The health changes of one loop round go out as one list (an inotify batch may flip hundreds of
 * devices of a resource of thousands: one list, not one per device). */
static void on_push(struct loop_source *source, void *userdata)
{
	hostdev_dp_server *server = userdata;

	(void)source;
	server->push_timer = NULL;
	log_info(server->ctx, "resource %s: %zu devices, %zu healthy; sending the new list",
		 server->resource_name, server->devices->count, count_healthy(server->devices));
	dp_server_push(server);
}

/* Remember @id's health set while a list is read on the worker (the latest change wins). */
static int note_health_change(hostdev_dp_server *server, const char *id, bool healthy)
{
	struct dp_health_change *grown;
	char *copy;

	for (size_t i = 0; i < server->n_health_changes; i++) {
		if (strcmp(server->health_changes[i].id, id) == 0) {
			server->health_changes[i].healthy = healthy;
			return 0;
		}
	}
	copy = strdup(id);
	grown =
	    copy ? realloc(server->health_changes, (server->n_health_changes + 1) * sizeof(*grown))
		 : NULL;
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	server->health_changes = grown;
	grown[server->n_health_changes++] = (struct dp_health_change){copy, healthy};
	return 0;
}

static void forget_health_changes(hostdev_dp_server *server)
{
	for (size_t i = 0; i < server->n_health_changes; i++)
		free(server->health_changes[i].id);
	free(server->health_changes);
	server->health_changes = NULL;
	server->n_health_changes = 0;
}

/* The events' changes are newer than what @devices (read meanwhile) saw of those devices. */
static void apply_health_changes(hostdev_dp_server *server, hostdev_dp_devices *devices)
{
	for (size_t i = 0; i < server->n_health_changes; i++) {
		ptrdiff_t k = dp_devices_find(devices, server->health_changes[i].id);

		if (k >= 0)
			devices->items[k].healthy = server->health_changes[i].healthy;
	}
	forget_health_changes(server);
}

HOSTDEV_EXPORT int hostdev_dp_server_set_health(hostdev_dp_server *server, const char *id,
						int healthy)
{
	ptrdiff_t k;
	int r = 0;

	if (!server || !id)
		return -EINVAL;
	loop_lock(server->loop);
	k = dp_devices_find(server->devices, id);
	if (k < 0) {
		r = hostdev_error(server->ctx, -ENOENT,
				  "resource %s: device %s is not in the advertised list; add it "
				  "with hostdev_dp_server_set_devices() or a refresh",
				  server->resource_name, id);
	} else if (server->devices->items[k].healthy != (healthy != 0)) {
		/* The server owns its list (lists are copied or built for it): changed in place. */
		server->devices->items[k].healthy = healthy != 0;
		/* Debug: a batch may flip thousands; the list sent says how many are healthy. */
		log_debug(server->ctx, "resource %s: device %s is %s", server->resource_name, id,
			  healthy ? "Healthy" : "Unhealthy");
		/* A list being read may have seen the device before this change: the change is
		 * applied to it when it arrives, so that it cannot undo the change (without
		 * memory for that, the list is read once more after it). */
		if (server->listing_work && note_health_change(server, id, healthy != 0) < 0)
			server->refresh_again = true;
		if (server->started && !server->push_timer &&
		    loop_add_timer(server->loop, 0, on_push, server, &server->push_timer) < 0) {
			server->push_timer = NULL;
			dp_server_push(server);
		}
	}
	loop_unlock(server->loop);
	return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* Listing on the loop's worker thread (HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP) */

/* One list_devices run on the worker: what it read, or its error. */
struct dp_listing {
	hostdev_dp_server *server;
	hostdev_ctx *worker_ctx;
	hostdev_dp_devices *devices;
	int result;
	char error[HOSTDEV_ERROR_MAX];
};

static bool lists_off_loop(const hostdev_dp_server *server)
{
	return server->ops.list_devices && (server->ops.flags & HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP);
}

static void listing_free(struct dp_listing *l)
{
	if (!l)
		return;
	hostdev_dp_devices_unref(l->devices);
	free(l);
}

/* On the worker thread, without the loop's lock: only the plugin and the worker's context. */
static void listing_work(void *userdata)
{
	struct dp_listing *l = userdata;

	if (l->worker_ctx)
		hostdev_clear_error(l->worker_ctx);
	l->result = hostdev_dp_devices_new(&l->devices);
	if (l->result == 0)
		l->result = l->server->ops.list_devices(l->server->userdata, l->devices);
	if (l->result < 0)
		snprintf(l->error, sizeof(l->error), "%s",
			 l->worker_ctx && *hostdev_ctx_get_error(l->worker_ctx)
			     ? hostdev_ctx_get_error(l->worker_ctx)
			     : strerror(-l->result));
}

static int server_list_devices(hostdev_dp_server *server);

/* On the loop: the list read on the worker replaces the advertised one (a failure keeps it). */
static void listing_done(void *userdata)
{
	struct dp_listing *l = userdata;
	hostdev_dp_server *server = l->server;

	server->listing_work = NULL;
	server->listing = NULL;
	if (l->result < 0) {
		log_warn(server->ctx,
			 "resource %s: the plugin could not list the devices: %s; keeping the "
			 "previous list",
			 server->resource_name, l->error);
	} else {
		apply_health_changes(server, l->devices);
		dp_server_replace_devices(server, l->devices);
		l->devices = NULL;
	}
	forget_health_changes(server);
	listing_free(l);
	dp_server_give_back_memory(server);
	if (server->refresh_again) {
		server->refresh_again = false;
		server_list_devices(server);
	}
}

static struct dp_listing *listing_new(hostdev_dp_server *server)
{
	struct dp_listing *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->server = server;
	l->worker_ctx = loop_worker_ctx(server->loop);
	return l;
}

/* Queue a list on the worker, or note that one more is wanted after the one running. */
static int listing_queue(hostdev_dp_server *server)
{
	struct dp_listing *l;
	int r;

	if (server->listing_work || server->starting) {
		server->refresh_again = true;
		return 0;
	}
	l = listing_new(server);
	if (!l)
		return -ENOMEM;
	r = loop_queue_work(server->loop, listing_work, listing_done, l, &server->listing_work);
	if (r < 0) {
		listing_free(l);
		return hostdev_error(server->ctx, r, "resource %s: cannot queue a device list: %s",
				     server->resource_name, strerror(-r));
	}
	server->listing = l;
	return 0;
}

/* Forget a list in flight (waiting for a running list_devices to return). */
static void listing_cancel(hostdev_dp_server *server)
{
	loop_cancel_work(server->listing_work);
	listing_free(server->listing);
	server->listing_work = NULL;
	server->listing = NULL;
	server->refresh_again = false;
	forget_health_changes(server);
}

/*
 * Start: read the list on the worker and wait for it, without the loop's lock, so that the loop
 * keeps serving the other resources meanwhile. Returns 0 with the list advertised, or the
 * plugin's error.
 */
static int listing_now(hostdev_dp_server *server)
{
	struct dp_listing *l;
	struct loop_work *w;
	int r;

	listing_cancel(server);
	l = listing_new(server);
	if (!l)
		return -ENOMEM;
	r = loop_queue_work(server->loop, listing_work, NULL, l, &w);
	if (r < 0) {
		listing_free(l);
		return r;
	}
	server->starting = true;
	loop_unlock(server->loop);
	loop_wait_work(w);
	loop_lock(server->loop);
	server->starting = false;
	r = l->result;
	if (r < 0) {
		r = hostdev_error(server->ctx, r,
				  "resource %s: the plugin could not list the devices: %s",
				  server->resource_name, l->error);
	} else {
		dp_server_replace_devices(server, l->devices);
		l->devices = NULL;
	}
	listing_free(l);
	dp_server_give_back_memory(server);
	return r;
}

/* ---------------------------------------------------------------------------------------------- */

/* Run list_devices; the list is replaced only when it succeeded. Off the loop: queued. */
static int server_list_devices(hostdev_dp_server *server)
{
	hostdev_dp_devices *devices;
	int r;

	if (!server->ops.list_devices)
		return 0;
	if (lists_off_loop(server))
		return listing_queue(server);
	r = hostdev_dp_devices_new(&devices);
	if (r < 0)
		return r;
	r = server->ops.list_devices(server->userdata, devices);
	if (r < 0) {
		hostdev_dp_devices_unref(devices);
		return hostdev_error(server->ctx, r,
				     "resource %s: the plugin could not list the devices: %s",
				     server->resource_name, strerror(-r));
	}
	dp_server_replace_devices(server, devices);
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_server_refresh(hostdev_dp_server *server)
{
	int r;

	if (!server)
		return -EINVAL;
	loop_lock(server->loop);
	r = server_list_devices(server);
	loop_unlock(server->loop);
	return r;
}

HOSTDEV_EXPORT int hostdev_dp_server_set_devices(hostdev_dp_server *server,
						 const hostdev_dp_devices *devices)
{
	hostdev_dp_devices *copy;

	if (!server)
		return -EINVAL;
	copy = dp_devices_copy(devices);
	if (!copy)
		return -ENOMEM;
	loop_lock(server->loop);
	dp_server_replace_devices(server, copy);
	loop_unlock(server->loop);
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Start, refresh timer, stop */

/* How long a stop waits for the kubelet to read the last messages and close its connections
 * (it does so at once: this bounds the wait for a peer that never closes). */
#define DP_STOP_LINGER_MS 10000

/* The socket check (is our socket file still ours?) is the fallback for a directory watch that
 * could not be set up: this often then. With the watch, which reports deletions and its own queue
 * overflows, it is only the safety net (a directory removed and made again, which ends the watch):
 * every 5 minutes, so that an idle server sleeps (each wake-up costs CPU, issue 15). */
#define DP_SOCKET_CHECK_MS 5000
#define DP_SOCKET_CHECK_WATCHED_MS 300000

static void arm_refresh(hostdev_dp_server *server);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_refresh(struct loop_source *source, void *userdata)
{
	hostdev_dp_server *server = userdata;

	(void)source;
	server->refresh_timer = NULL;
	if (server->refresh_ms > 0 && now_ms() >= server->refresh_due_ms) {
		server->refresh_due_ms = now_ms() + (uint64_t)server->refresh_ms;
		if (server_list_devices(server) < 0)
			log_warn(server->ctx, "%s; keeping the previous list",
				 hostdev_ctx_get_error(server->ctx));
	}
	/* The fallback for a lost inotify event or watch: is the socket still ours? */
	if (!dp_watch_socket_is_ours(server)) {
		log_info(server->ctx,
			 "resource %s: socket %s was deleted or replaced; listening again",
			 server->resource_name, server->socket_path);
		if (server_relisten(server) == 0)
			dp_register_now(server);
	}
	arm_refresh(server);
}

/* One timer for both: the socket check every DP_SOCKET_CHECK_MS, the list when it is due (a long
 * resync interval must not make the socket check rare). */
static void arm_refresh(hostdev_dp_server *server)
{
	uint64_t ms = server->socket_watch ? DP_SOCKET_CHECK_WATCHED_MS : DP_SOCKET_CHECK_MS;
	uint64_t now = now_ms();

	if (server->refresh_ms > 0) {
		uint64_t left = server->refresh_due_ms > now ? server->refresh_due_ms - now : 0;

		if (left < ms)
			ms = left;
	}
	if (loop_add_timer(server->loop, ms, on_refresh, server, &server->refresh_timer) < 0) {
		server->refresh_timer = NULL;
		log_warn(server->ctx,
			 "resource %s: no timer for the periodic refresh; health changes are only "
			 "seen on hostdev_dp_server_refresh()",
			 server->resource_name);
	}
}

static int server_listen(hostdev_dp_server *server)
{
	int r = grpc_server_listen(server->grpc, server->socket_path);

	if (r == -EADDRINUSE)
		return hostdev_error(server->ctx, r,
				     "resource %s: another process serves %s; stop it or choose "
				     "another socket name",
				     server->resource_name, server->socket_path);
	if (r == -EEXIST) {
		char why[HOSTDEV_ERROR_MAX / 2];

		snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(server->ctx));
		return hostdev_error(server->ctx, r,
				     "resource %s: %s: remove it or choose another socket name",
				     server->resource_name, why);
	}
	if (r < 0)
		return hostdev_error(server->ctx, r,
				     "resource %s: cannot listen on %s: %s (does %s exist and may "
				     "this process write to it?)",
				     server->resource_name, server->socket_path, strerror(-r),
				     server->socket_dir);
	return 0;
}

static int server_relisten(hostdev_dp_server *server)
{
	int r;

	/* Streams of the old socket belong to an older registration: their end means nothing. */
	server->epoch++;
	grpc_server_shutdown(server->grpc, false);
	r = server_listen(server);
	if (r < 0) {
		log_warn(server->ctx, "%s; trying again later", hostdev_ctx_get_error(server->ctx));
		return r;
	}
	log_info(server->ctx, "resource %s: listening again on %s", server->resource_name,
		 server->socket_path);
	return 0;
}

static int server_start_locked(hostdev_dp_server *server)
{
	int r;

	if (server->started || server->starting)
		return hostdev_error(server->ctx, -EALREADY, "resource %s: already started",
				     server->resource_name);
	r = lists_off_loop(server) ? listing_now(server) : server_list_devices(server);
	if (r < 0)
		return r;
	if (server->refresh_again) {
		/* A refresh asked for while the first list was read: after it. */
		server->refresh_again = false;
		server_list_devices(server);
	}
	r = server_listen(server);
	if (r < 0)
		return r;
	server->started = true;
	server->stopping = false;
	log_info(server->ctx, "resource %s: serving %zu devices (%zu healthy) on %s",
		 server->resource_name, server->devices->count, count_healthy(server->devices),
		 server->socket_path);
	/* Also without registration: a deleted socket is listened on again at once. */
	if (dp_watch_start(server) < 0)
		log_warn(server->ctx, "%s", hostdev_ctx_get_error(server->ctx));
	server->refresh_due_ms =
	    now_ms() + (uint64_t)(server->refresh_ms > 0 ? server->refresh_ms : 0);
	arm_refresh(server);
	dp_register_start(server);
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_server_start(hostdev_dp_server *server)
{
	int r;

	if (!server)
		return -EINVAL;
	loop_lock(server->loop);
	r = server_start_locked(server);
	loop_unlock(server->loop);
	return r;
}

static void server_stop_locked(hostdev_dp_server *server)
{
	listing_cancel(server);
	if (!server->started)
		return;
	server->stopping = true;
	dp_register_stop(server);
	dp_watch_stop(server);
	loop_remove(server->refresh_timer);
	server->refresh_timer = NULL;
	loop_remove(server->push_timer);
	server->push_timer = NULL;
	loop_remove(server->give_back_timer);
	server->give_back_timer = NULL;
	/* The kubelet sees no devices for the resource from now on: the empty list must reach it,
	 * so the connections close once the kubelet has read everything (or after a bound). */
	dp_service_finish_watchers(server);
	grpc_server_shutdown_gracefully(server->grpc, true, DP_STOP_LINGER_MS);
	/* Shutting down ran the close callback of every stream, except on a connection that is
	 * busy (stop called from a plugin callback): such a stream forgets the server and is
	 * freed by its close callback later. */
	while (server->watchers) {
		struct dp_watcher *w = server->watchers;

		server->watchers = w->next;
		w->server = NULL;
	}
	server->started = false;
	server->stopping = false;
	server->state = HOSTDEV_DP_STOPPED;
	log_info(server->ctx, "resource %s: stopped; %s removed", server->resource_name,
		 server->socket_path);
}

HOSTDEV_EXPORT int hostdev_dp_server_stop(hostdev_dp_server *server)
{
	if (!server)
		return -EINVAL;
	loop_lock(server->loop);
	server_stop_locked(server);
	loop_unlock(server->loop);
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Getters */

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dp_server, get_resource_name, resource_name, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dp_server, get_socket_path, socket_path, NULL)

HOSTDEV_EXPORT int hostdev_dp_server_get_state(const hostdev_dp_server *server)
{
	int state;

	if (!server)
		return HOSTDEV_DP_STOPPED;
	loop_lock(server->loop);
	state = server->state;
	loop_unlock(server->loop);
	return state;
}

HOSTDEV_EXPORT unsigned int hostdev_dp_server_get_registrations(const hostdev_dp_server *server)
{
	unsigned int n;

	if (!server)
		return 0;
	loop_lock(server->loop);
	n = server->registrations;
	loop_unlock(server->loop);
	return n;
}
