/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in plugins as struct hostdev_dp_plugin_ops: each callback runs the logic of plugin.c
 * and copies its plain answer into the server's objects through the public API.
 */
#include <errno.h>

#include "plugin.h"
#include "plugin_ops.h"

static int op_list_devices(void *userdata, hostdev_dp_devices *out)
{
	struct plugin_list list = {0};
	int r = plugin_list_devices(userdata, &list);

	for (size_t i = 0; i < list.count && r == 0; i++)
		r = hostdev_dp_devices_add(out, list.items[i].id, list.items[i].healthy,
					   list.items[i].numa);
	plugin_list_clear(&list);
	return r;
}

int plugin_answer_apply(const struct plugin_answer *a, hostdev_dp_response *out)
{
	int r = 0;

	for (size_t i = 0; i < a->n_envs && r == 0; i++)
		r = hostdev_dp_response_set_env(out, a->envs[i].name, a->envs[i].value);
	for (size_t i = 0; i < a->n_devices && r == 0; i++)
		r = hostdev_dp_response_add_device(out, a->devices[i].container_path,
						   a->devices[i].host_path,
						   a->devices[i].permissions);
	for (size_t i = 0; i < a->n_ids && r == 0; i++)
		r = hostdev_dp_response_add_id(out, a->ids[i]);
	return r;
}

/* Copy the answer, or on failure its message (the callback's errno picks the gRPC status). */
static int finish(struct plugin_answer *a, int r, hostdev_dp_response *out)
{
	if (r == 0)
		r = plugin_answer_apply(a, out);
	else if (a->error)
		hostdev_dp_response_set_error(out, a->error);
	answer_clear(a);
	return r;
}

static int op_allocate(void *userdata, const char *const *ids, size_t n_ids,
		       hostdev_dp_response *out)
{
	struct plugin_answer a = {0};

	return finish(&a, plugin_allocate(userdata, ids, n_ids, &a), out);
}

static int op_preferred(void *userdata, const char *const *available, size_t n_available,
			const char *const *must_include, size_t n_must_include, size_t size,
			hostdev_dp_response *out)
{
	struct plugin_answer a = {0};

	return finish(&a,
		      plugin_preferred(userdata, available, n_available, must_include,
				       n_must_include, size, &a),
		      out);
}

static void op_destroy(void *userdata)
{
	plugin_free(userdata);
}

void plugin_ops_init(const struct plugin *p, struct hostdev_dp_plugin_ops *ops)
{
	*ops = (struct hostdev_dp_plugin_ops){
	    .version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
	    .list_devices = op_list_devices,
	    .allocate = op_allocate,
	    /* USB devices have no NUMA node, IOMMU group or PF to prefer by. */
	    .get_preferred_allocation = p->dp_kind == HOSTDEV_DP_KIND_USB ? NULL : op_preferred,
	    .destroy = op_destroy,
	    /* Listing reads every device of the resource: not on the loop, where it would hold
	     * up Allocate and every other socket (plugin_list_devices() touches only the list
	     * context and the snapshot, which it swaps under a lock). */
	    .flags = p->list_ctx ? HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP : 0,
	};
}
