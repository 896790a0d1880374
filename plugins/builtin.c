/* SPDX-License-Identifier: Apache-2.0 */
/* hostdev_dp_server_new_builtin(): a server for a resolved resource with its kind's plugin. */
#include <errno.h>
#include <stdlib.h>

#include "dp_loop.h"
#include "dp_resources.h"
#include "plugin_ops.h"

HOSTDEV_EXPORT int hostdev_dp_server_new_builtin(hostdev_dp_loop *loop,
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
	loop_unlock(loop);
	free(ids);
	if (r == -EINVAL)
		return hostdev_error(
		    ctx, r, "%s: no environment variable name can be made for the resource",
		    res->name);
	if (r < 0)
		return r;
	plugin_ops_init(p, &ops);
	return hostdev_dp_server_new(loop, res->name, &ops, p, opts, out);
}
