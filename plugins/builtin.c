/* SPDX-License-Identifier: Apache-2.0 */
/* hostdev_dp_server_new_builtin(): a server for a resolved resource with its kind's plugin. */
#include <errno.h>
#include <stdlib.h>

#include "plugin_ops.h"

/* The server's destroy callback: the watch goes first (it refreshes the server), then the plugin.
 */
static void builtin_destroy(void *userdata)
{
	struct plugin *p = userdata;

	node_watch_stop(p->node_watch);
	plugin_free(p);
}

int builtin_server_new(hostdev_loop *loop, const hostdev_dp_resources *resources, size_t i,
		       const struct hostdev_dp_server_options *opts, hostdev_dp_server **out,
		       struct plugin **plugin_out)
{
	struct hostdev_dp_plugin_ops ops;
	const char **ids = NULL;
	struct plugin *p = NULL;
	size_t n_ids, count;
	const char *name;
	hostdev_ctx *ctx;
	int r;

	if (!loop || !resources || !out)
		return -EINVAL;
	ctx = hostdev_loop_get_ctx(loop);
	count = hostdev_dp_resources_get_count(resources);
	if (i >= count)
		return plugin_error(ctx, -ERANGE,
				    "there is no resource %zu: the config gives %zu resources on "
				    "this host",
				    i, count);
	name = hostdev_dp_resources_get_name(resources, i);
	n_ids = hostdev_dp_resources_get_device_count(resources, i);
	if (n_ids && !(ids = calloc(n_ids, sizeof(*ids))))
		return -ENOMEM;
	for (size_t k = 0; k < n_ids; k++)
		ids[k] = hostdev_dp_resources_get_device_id(resources, i, k);
	hostdev_loop_lock(loop);
	r = plugin_new(ctx, hostdev_dp_resources_get_config(resources),
		       hostdev_dp_resources_get_entry(resources, i), name, ids, n_ids, &p);
	/* Lists run on the loop's worker thread, with its context. */
	if (r == 0) {
		p->list_ctx = hostdev_ctx_ref(hostdev_loop_get_worker_ctx(loop));
		if (!p->list_ctx) {
			plugin_free(p);
			r = -ENOMEM;
		}
	}
	hostdev_loop_unlock(loop);
	free(ids);
	if (r == -EINVAL)
		return plugin_error(
		    ctx, r, "%s: no environment variable name can be made for the resource", name);
	if (r < 0)
		return r;
	plugin_ops_init(p, &ops);
	ops.destroy = builtin_destroy;
	r = hostdev_dp_server_new(loop, name, &ops, p, opts, out);
	if (r < 0)
		return r; /* @p went with the failed server (ops.destroy) */
	/*
	 * Health follows device nodes at once, not only at the refresh interval. Without inotify
	 * the server still works on its refresh timer: a warning, not a failure.
	 */
	hostdev_loop_lock(loop);
	if (node_watch_start(loop, *out, p, p->dp_kind == HOSTDEV_DP_KIND_USB, &p->node_watch) < 0)
		plugin_log(ctx, HOSTDEV_LOG_WARNING,
			   "%s: %s; health changes are seen at the refresh interval", name,
			   hostdev_ctx_get_error(ctx));
	hostdev_loop_unlock(loop);
	if (plugin_out)
		*plugin_out = p;
	return 0;
}

PLUGIN_EXPORT int hostdev_dp_server_new_builtin(hostdev_loop *loop,
						const hostdev_dp_resources *resources, size_t i,
						const struct hostdev_dp_server_options *opts,
						hostdev_dp_server **out)
{
	return builtin_server_new(loop, resources, i, opts, out, NULL);
}
