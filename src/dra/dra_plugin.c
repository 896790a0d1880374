/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DRA kubelet plugins (hostdev/dra.h): creation, options and socket paths, start and stop,
 * getters. The DRAPlugin handlers are in dra_service.c, the registration handlers in
 * dra_register.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dra.h"
#include "loop/loop.h"

HOSTDEV_EXPORT void hostdev_dra_plugin_options_init(struct hostdev_dra_plugin_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->version = HOSTDEV_DRA_PLUGIN_OPTIONS_VERSION;
	opts->api_versions = DRA_API_ALL;
	opts->kubelet_uid = -1;
}

/*
 * A driver name as the API server takes it in DeviceClasses and ResourceSlices: a DNS subdomain
 * (lower-case labels of [a-z0-9-], alphanumeric at both ends, joined by dots) of at most 63
 * characters. It also names a directory and a socket file, which this keeps plain.
 */
static const char *driver_name_problem(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0)
		return "it is empty";
	if (len > DRA_DRIVER_NAME_MAX)
		return "it is longer than 63 characters";
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return "a dot-separated part is empty or ends with '-'";
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return "only lower-case letters, digits, '-' and '.' are allowed";
		if (c == '-' && label == 0)
			return "a dot-separated part starts with '-'";
		label++;
	}
	if (label == 0 || name[len - 1] == '-')
		return "it must end with a letter or digit";
	return NULL;
}

static int resolve_dir(hostdev_ctx *ctx, const char *driver, const char *given,
		       const char *kubelet_sub, char **out)
{
	if (given) {
		if (given[0] != '/')
			return hostdev_error(
			    ctx, -EINVAL, "DRA driver %s: directory '%s' must be an absolute path",
			    driver, given);
		*out = strdup(given);
	} else if (asprintf(out, "%s/%s", hostdev_ctx_get_path(ctx, HOSTDEV_PATH_KUBELET),
			    kubelet_sub) < 0) {
		*out = NULL;
	}
	return *out ? 0 : -ENOMEM;
}

static int check_socket_path(hostdev_ctx *ctx, const char *driver, const char *path)
{
	if (strlen(path) > DRA_SOCKET_PATH_MAX)
		return hostdev_error(ctx, -EINVAL,
				     "DRA driver %s: socket path %s is longer than a Unix socket "
				     "address holds (%d characters); use a shorter directory",
				     driver, path, DRA_SOCKET_PATH_MAX);
	return 0;
}

static void plugin_free(hostdev_dra_plugin *plugin)
{
	grpc_server_free(plugin->service);
	grpc_server_free(plugin->registration);
	if (plugin->ops.destroy)
		plugin->ops.destroy(plugin->userdata);
	free(plugin->methods);
	free(plugin->driver);
	free(plugin->plugin_dir);
	free(plugin->driver_dir);
	free(plugin->socket_path);
	free(plugin->registry_dir);
	free(plugin->registration_path);
	free(plugin);
}

void dra_plugin_release(hostdev_dra_plugin *plugin)
{
	hostdev_loop *loop = plugin->loop;

	if (--plugin->holds > 0)
		return;
	plugin_free(plugin);
	/* The caller holds the loop's lock, and a reference of the loop if it needs it. */
	hostdev_loop_unref(loop);
}

static int check_options(hostdev_ctx *ctx, const char *driver,
			 const struct hostdev_dra_plugin_ops *ops,
			 const struct hostdev_dra_plugin_options *opts)
{
	if (ops)
		CHECK_VERSION(ctx, ops->version, HOSTDEV_DRA_PLUGIN_OPS_VERSION,
			      "set .version = HOSTDEV_DRA_PLUGIN_OPS_VERSION",
			      "DRA driver %s: callbacks", driver);
	CHECK_VERSION(ctx, opts->version, HOSTDEV_DRA_PLUGIN_OPTIONS_VERSION,
		      "initialise them with hostdev_dra_plugin_options_init()",
		      "DRA driver %s: options", driver);
	if (opts->api_versions & ~DRA_API_ALL)
		return hostdev_error(ctx, -EINVAL,
				     "DRA driver %s: unknown API version bits 0x%x (known: "
				     "HOSTDEV_DRA_API_V1, HOSTDEV_DRA_API_V1BETA1)",
				     driver, opts->api_versions & ~DRA_API_ALL);
	if (opts->kubelet_uid < -1)
		return hostdev_error(ctx, -EINVAL,
				     "DRA driver %s: kubelet uid %d: use a user id, or -1 for "
				     "root and this process's user only",
				     driver, opts->kubelet_uid);
	return 0;
}

static int plugin_new_locked(hostdev_loop *loop, const char *driver,
			     const struct hostdev_dra_plugin_ops *ops, void *userdata,
			     const struct hostdev_dra_plugin_options *opts,
			     hostdev_dra_plugin **out)
{
	hostdev_ctx *ctx = loop_ctx(loop);
	struct hostdev_dra_plugin_options defaults;
	const struct grpc_method *reg_methods;
	hostdev_dra_plugin *plugin;
	const char *problem;
	size_t n_reg_methods;
	int r;

	if (!opts) {
		hostdev_dra_plugin_options_init(&defaults);
		opts = &defaults;
	}
	if (!driver) {
		r = hostdev_error(ctx, -EINVAL, "DRA plugin: no driver name given");
		goto refuse;
	}
	problem = driver_name_problem(driver);
	if (problem) {
		r = hostdev_error(ctx, -EINVAL,
				  "DRA driver name '%s' is not one the kubelet accepts: %s (a DNS "
				  "subdomain such as vfio.hostdev.io)",
				  driver, problem);
		goto refuse;
	}
	r = check_options(ctx, driver, ops, opts);
	if (r < 0)
		goto refuse;
	plugin = calloc(1, sizeof(*plugin));
	if (!plugin) {
		r = -ENOMEM;
		goto refuse;
	}
	plugin->refcount = 1;
	plugin->holds = 1;
	plugin->loop = loop;
	plugin->ctx = ctx;
	if (ops)
		plugin->ops = *ops;
	plugin->userdata = userdata;
	plugin->api_versions = opts->api_versions ? opts->api_versions : DRA_API_ALL;
	plugin->kubelet_uid = opts->kubelet_uid;
	plugin->register_with_watcher = !opts->no_registration;
	plugin->state = HOSTDEV_DRA_STOPPED;
	r = -ENOMEM;
	plugin->driver = strdup(driver);
	if (!plugin->driver)
		goto fail;
	r = resolve_dir(ctx, driver, opts->plugin_dir, "plugins", &plugin->plugin_dir);
	if (r == 0)
		r = resolve_dir(ctx, driver, opts->registry_dir, "plugins_registry",
				&plugin->registry_dir);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	if (asprintf(&plugin->driver_dir, "%s/%s", plugin->plugin_dir, driver) < 0) {
		plugin->driver_dir = NULL;
		goto fail;
	}
	if (asprintf(&plugin->socket_path, "%s/%s", plugin->driver_dir, DRA_SOCKET_NAME) < 0) {
		plugin->socket_path = NULL;
		goto fail;
	}
	r = check_socket_path(ctx, driver, plugin->socket_path);
	if (r < 0)
		goto fail;
	if (plugin->register_with_watcher) {
		r = -ENOMEM;
		if (asprintf(&plugin->registration_path, "%s/%s%s", plugin->registry_dir, driver,
			     DRA_REGISTRATION_SUFFIX) < 0) {
			plugin->registration_path = NULL;
			goto fail;
		}
		r = check_socket_path(ctx, driver, plugin->registration_path);
		if (r < 0)
			goto fail;
	}
	r = dra_service_methods(plugin);
	if (r == 0)
		r = grpc_server_new(loop, plugin->methods, plugin->n_methods, plugin,
				    &plugin->service);
	if (r == 0 && plugin->register_with_watcher) {
		reg_methods = dra_register_methods(&n_reg_methods);
		r = grpc_server_new(loop, reg_methods, n_reg_methods, plugin,
				    &plugin->registration);
	}
	if (r < 0)
		goto fail;
	grpc_server_set_peer_uid(plugin->service, plugin->kubelet_uid);
	if (plugin->registration)
		grpc_server_set_peer_uid(plugin->registration, plugin->kubelet_uid);
	hostdev_loop_ref(loop);
	*out = plugin;
	return 0;
fail:
	/* Releases @userdata through the copied ops. */
	plugin_free(plugin);
	return r;
refuse:
	/* The plugin takes @userdata even when it cannot be created. */
	if (ops && ops->destroy)
		ops->destroy(userdata);
	return r;
}

HOSTDEV_EXPORT int hostdev_dra_plugin_new(hostdev_loop *loop, const char *driver_name,
					  const struct hostdev_dra_plugin_ops *ops, void *userdata,
					  const struct hostdev_dra_plugin_options *opts,
					  hostdev_dra_plugin **out)
{
	int r;

	if (!loop || !out) {
		if (ops && ops->destroy)
			ops->destroy(userdata);
		return -EINVAL;
	}
	loop_lock(loop);
	r = plugin_new_locked(loop, driver_name, ops, userdata, opts, out);
	loop_unlock(loop);
	return r;
}

HOSTDEV_EXPORT hostdev_dra_plugin *hostdev_dra_plugin_ref(hostdev_dra_plugin *plugin)
{
	if (!plugin)
		return NULL;
	loop_lock(plugin->loop);
	plugin->refcount++;
	loop_unlock(plugin->loop);
	return plugin;
}

static void stop_watches(hostdev_dra_plugin *plugin)
{
	grpc_dir_watch_stop(plugin->driver_dir_watch);
	grpc_dir_watch_stop(plugin->registry_dir_watch);
	plugin->driver_dir_watch = plugin->registry_dir_watch = NULL;
}

static void plugin_stop_locked(hostdev_dra_plugin *plugin)
{
	if (!plugin->started)
		return;
	loop_remove(plugin->socket_check);
	plugin->socket_check = NULL;
	stop_watches(plugin);
	/* Registration first: the kubelet stops finding the plugin before it stops serving. */
	if (plugin->registration)
		grpc_server_shutdown(plugin->registration, true);
	grpc_server_shutdown(plugin->service, true);
	plugin->started = false;
	plugin->state = HOSTDEV_DRA_STOPPED;
	log_info(plugin->ctx, "DRA driver %s: stopped; %s removed", plugin->driver,
		 plugin->socket_path);
}

HOSTDEV_EXPORT hostdev_dra_plugin *hostdev_dra_plugin_unref(hostdev_dra_plugin *plugin)
{
	hostdev_loop *loop;

	if (!plugin)
		return NULL;
	/* The loop outlives this call whatever the plugin's release does with it. */
	loop = hostdev_loop_ref(plugin->loop);
	loop_lock(loop);
	if (--plugin->refcount == 0) {
		plugin_stop_locked(plugin);
		dra_plugin_release(plugin);
	}
	loop_unlock(loop);
	hostdev_loop_unref(loop);
	return NULL;
}

/* Create <plugin_dir>/<driver> (0750) unless it is there; a symbolic link is refused. */
static int make_driver_dir(hostdev_dra_plugin *plugin)
{
	struct stat st;

	if (mkdir(plugin->driver_dir, 0750) == 0)
		return 0;
	if (errno == ENOENT)
		return hostdev_error(plugin->ctx, -ENOENT,
				     "DRA driver %s: the kubelet's plugin directory %s does not "
				     "exist (is the kubelet's directory mounted into this "
				     "container?)",
				     plugin->driver, plugin->plugin_dir);
	if (errno != EEXIST)
		return hostdev_error(plugin->ctx, -errno, "DRA driver %s: cannot create %s: %s",
				     plugin->driver, plugin->driver_dir, strerror(errno));
	if (lstat(plugin->driver_dir, &st) < 0)
		return hostdev_error(plugin->ctx, -errno, "DRA driver %s: cannot read %s: %s",
				     plugin->driver, plugin->driver_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hostdev_error(plugin->ctx, -ENOTDIR,
				     "DRA driver %s: %s is not a directory (a symbolic link or "
				     "file is in the way: remove it)",
				     plugin->driver, plugin->driver_dir);
	return 0;
}

/* Listen on @path again when @server's socket file is gone or is not ours any more. Returns
 * true when it listens anew. */
static bool relisten_if_lost(hostdev_dra_plugin *plugin, struct grpc_server *server,
			     const char *path)
{
	int r;

	if (grpc_server_owns_socket(server))
		return false;
	log_info(plugin->ctx,
		 "DRA driver %s: socket %s was deleted or replaced (kubelet restart?); "
		 "listening again",
		 plugin->driver, path);
	grpc_server_shutdown(server, false);
	r = make_driver_dir(plugin);
	if (r == 0)
		r = grpc_server_listen(server, path);
	if (r < 0) {
		log_warn(plugin->ctx, "DRA driver %s: %s; trying again in %d ms", plugin->driver,
			 hostdev_ctx_get_error(plugin->ctx), DRA_SOCKET_CHECK_MS);
		return false;
	}
	return true;
}

/*
 * The kubelet deletes the sockets of plugins_registry (and of plugins/) when it restarts, and
 * its plugin watcher registers only the sockets it finds: a lost socket is made again, which the
 * watcher then finds and registers (GetInfo, NotifyRegistrationStatus) as at the first start.
 * The same check as the device-plugin servers' (grpc_server_owns_socket()).
 */
static void check_sockets(hostdev_dra_plugin *plugin)
{
	/* The service first: the kubelet dials it as soon as it finds the registration. */
	relisten_if_lost(plugin, plugin->service, plugin->socket_path);
	if (plugin->registration &&
	    relisten_if_lost(plugin, plugin->registration, plugin->registration_path))
		plugin->state = HOSTDEV_DRA_REGISTERING;
}

/* A change in either directory: check both sockets (it costs two stat()s). A directory that went
 * away ends both watches; the periodic check then makes it again and watches anew. */
static void on_dir_changes(const struct grpc_dir_change *changes, size_t n, void *userdata)
{
	hostdev_dra_plugin *plugin = userdata;
	bool gone = false;

	for (size_t i = 0; i < n; i++)
		gone |= changes[i].what == GRPC_DIR_GONE;
	if (gone) {
		log_info(plugin->ctx,
			 "DRA driver %s: a directory of its sockets was removed; they are made "
			 "again within %d ms",
			 plugin->driver, DRA_SOCKET_CHECK_MS);
		stop_watches(plugin);
		return;
	}
	if (plugin->started)
		check_sockets(plugin);
}

/* Watch the sockets' directories; without inotify the periodic check alone notices. */
static void start_watches(hostdev_dra_plugin *plugin)
{
	int r = grpc_dir_watch_start(plugin->loop, plugin->driver_dir, on_dir_changes, plugin,
				     &plugin->driver_dir_watch);

	if (r == 0 && plugin->registration)
		r = grpc_dir_watch_start(plugin->loop, plugin->registry_dir, on_dir_changes, plugin,
					 &plugin->registry_dir_watch);
	if (r < 0) {
		stop_watches(plugin);
		log_debug(plugin->ctx,
			  "DRA driver %s: cannot watch its sockets' directories (%s); they are "
			  "checked every %d ms",
			  plugin->driver, strerror(-r), DRA_SOCKET_CHECK_MS);
	}
}

static void arm_socket_check(hostdev_dra_plugin *plugin);

static void on_socket_check(struct loop_source *source, void *userdata)
{
	hostdev_dra_plugin *plugin = userdata;

	(void)source;
	plugin->socket_check = NULL;
	if (!plugin->started)
		return;
	check_sockets(plugin);
	if (!plugin->driver_dir_watch)
		start_watches(plugin);
	arm_socket_check(plugin);
}

static void arm_socket_check(hostdev_dra_plugin *plugin)
{
	int ms = plugin->driver_dir_watch ? DRA_SOCKET_CHECK_WATCHED_MS : DRA_SOCKET_CHECK_MS;

	if (loop_add_timer(plugin->loop, ms, on_socket_check, plugin, &plugin->socket_check) < 0) {
		plugin->socket_check = NULL;
		log_warn(plugin->ctx,
			 "DRA driver %s: no timer for the socket check; a kubelet restart that "
			 "deletes the sockets is not noticed",
			 plugin->driver);
	}
}

static int plugin_start_locked(hostdev_dra_plugin *plugin)
{
	int r;

	if (plugin->started)
		return hostdev_error(plugin->ctx, -EALREADY, "DRA driver %s: already started",
				     plugin->driver);
	r = make_driver_dir(plugin);
	if (r < 0)
		return r;
	/* The service first: the kubelet dials it as soon as it finds the registration. */
	r = grpc_server_listen(plugin->service, plugin->socket_path);
	if (r < 0)
		return hostdev_error(plugin->ctx, r, "DRA driver %s: cannot serve %s: %s%s",
				     plugin->driver, plugin->socket_path, strerror(-r),
				     r == -EADDRINUSE ? " (another process serves this driver)"
						      : "");
	if (plugin->registration) {
		r = grpc_server_listen(plugin->registration, plugin->registration_path);
		if (r < 0) {
			grpc_server_shutdown(plugin->service, true);
			return hostdev_error(
			    plugin->ctx, r,
			    "DRA driver %s: cannot serve the registration socket %s: %s%s",
			    plugin->driver, plugin->registration_path, strerror(-r),
			    r == -EADDRINUSE ? " (another process serves this driver)" : "");
		}
	}
	plugin->started = true;
	plugin->state = plugin->registration ? HOSTDEV_DRA_REGISTERING : HOSTDEV_DRA_SERVING;
	start_watches(plugin);
	arm_socket_check(plugin);
	if (plugin->registration)
		log_info(plugin->ctx,
			 "DRA driver %s: serving %s; waiting for the kubelet's plugin watcher to "
			 "call GetInfo on %s",
			 plugin->driver, plugin->socket_path, plugin->registration_path);
	else
		log_info(plugin->ctx, "DRA driver %s: serving %s (no registration)", plugin->driver,
			 plugin->socket_path);
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_plugin_start(hostdev_dra_plugin *plugin)
{
	int r;

	if (!plugin)
		return -EINVAL;
	loop_lock(plugin->loop);
	r = plugin_start_locked(plugin);
	loop_unlock(plugin->loop);
	return r;
}

HOSTDEV_EXPORT int hostdev_dra_plugin_stop(hostdev_dra_plugin *plugin)
{
	if (!plugin)
		return -EINVAL;
	loop_lock(plugin->loop);
	plugin_stop_locked(plugin);
	loop_unlock(plugin->loop);
	return 0;
}

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dra_plugin, get_driver_name, driver, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dra_plugin, get_socket_path, socket_path, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dra_plugin, get_registration_path,
			    registration_path, NULL)

HOSTDEV_EXPORT int hostdev_dra_plugin_get_state(const hostdev_dra_plugin *plugin)
{
	int state;

	if (!plugin)
		return -EINVAL;
	loop_lock(plugin->loop);
	state = plugin->state;
	loop_unlock(plugin->loop);
	return state;
}

HOSTDEV_EXPORT unsigned int hostdev_dra_plugin_get_registrations(const hostdev_dra_plugin *plugin)
{
	unsigned int n;

	if (!plugin)
		return 0;
	loop_lock(plugin->loop);
	n = plugin->registrations;
	loop_unlock(plugin->loop);
	return n;
}
