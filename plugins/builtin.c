/* SPDX-License-Identifier: Apache-2.0 */
/* hostdev_dp_server_new_builtin(): a server for a resolved resource with its kind's plugin. */
#include <errno.h>
#include <stdlib.h>

#include "loop/loop.h"
#include "resources/resources.h"
#include "plugin_ops.h"

/* The server's destroy callback: the watch goes first (it refreshes the server), then the plugin.
 */
static void builtin_destroy(void *userdata)
{
	struct plugin *p = userdata;

	node_watch_stop(p->node_watch);
	plugin_free(p);
}

HOSTDEV_EXPORT int hostdev_dp_server_new_builtin(hostdev_loop *loop,
						 const hostdev_dp_resources *resources, size_t i,
						 const struct hostdev_dp_server_options *opts,
						 hostdev_dp_server **out)
{
	struct hostdev_dp_plugin_ops ops;
	const struct dp_resource *res;
	const char **ids = NULL;
	struct plugin *p = NULL;
	hostdev_ctx *ctx;
	int r;

	if (!loop || !resources || !out)
		return -EINVAL;
	ctx = loop_ctx(loop);
	if (i >= resources->count)
		return hostdev_error(ctx, -ERANGE,
				     "there is no resource %zu: the config gives %zu resources on "
				     "this host",
				     i, resources->count);
	res = &resources->items[i];
	if (res->devices.count && !(ids = calloc(res->devices.count, sizeof(*ids))))
		return -ENOMEM;
	for (size_t k = 0; k < res->devices.count; k++)
		ids[k] = res->devices.items[k].id;
	loop_lock(loop);
	r = plugin_new(ctx, resources->config, res->spec_index, res->name, ids, res->devices.count,
		       &p);
	/* Lists run on the loop's worker thread, with its context. */
	if (r == 0) {
		p->list_ctx = hostdev_ctx_ref(loop_worker_ctx(loop));
		if (!p->list_ctx) {
			plugin_free(p);
			r = -ENOMEM;
		}
	}
	loop_unlock(loop);
	free(ids);
	if (r == -EINVAL)
		return hostdev_error(
		    ctx, r, "%s: no environment variable name can be made for the resource",
		    res->name);
	if (r < 0)
		return r;
	plugin_ops_init(p, &ops);
	ops.destroy = builtin_destroy;
	r = hostdev_dp_server_new(loop, res->name, &ops, p, opts, out);
	if (r < 0)
		return r; /* @p went with the failed server (ops.destroy) */
	/*
	 * Health follows device nodes at once, not only at the refresh interval. Without inotify
	 * the server still works on its refresh timer: a warning, not a failure.
	 */
	loop_lock(loop);
	if (node_watch_start(loop, *out, p->spec->kind == HOSTDEV_DP_KIND_USB, &p->node_watch) < 0)
		log_warn(ctx, "%s: %s; health changes are seen at the refresh interval", res->name,
			 hostdev_ctx_get_error(ctx));
	loop_unlock(loop);
	return 0;
}
