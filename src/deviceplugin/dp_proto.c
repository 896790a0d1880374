/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encoding of the device-plugin messages with the protobuf-c code generated from
 * proto/deviceplugin_v1beta1.proto (PluginInfo: pluginreg). The messages borrow the
 * strings of our own objects; only the arrays of the message structures are allocated here.
 */
#include <errno.h>
#include <stdlib.h>

#include "deviceplugin_v1beta1.pb-c.h"
#include "deviceplugin.h"
#include "pluginreg/pluginreg.h"

/* Pack @msg into a malloc'ed buffer (never NULL, also for an empty message). */
static int pack(const ProtobufCMessage *msg, uint8_t **out, size_t *length)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return -ENOMEM;
	*length = protobuf_c_message_pack(msg, buf);
	*out = buf;
	return 0;
}

int dp_proto_empty(uint8_t **out, size_t *length)
{
	V1beta1__Empty msg = V1BETA1__EMPTY__INIT;

	return pack(&msg.base, out, length);
}

int dp_proto_list_and_watch(const hostdev_dp_devices *devices, uint8_t **out, size_t *length)
{
	V1beta1__ListAndWatchResponse msg = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	size_t n = devices ? devices->count : 0;
	V1beta1__Device *dev = calloc(n ? n : 1, sizeof(*dev));
	V1beta1__Device **devp = calloc(n ? n : 1, sizeof(*devp));
	V1beta1__TopologyInfo *topo = calloc(n ? n : 1, sizeof(*topo));
	V1beta1__NUMANode *node = calloc(n ? n : 1, sizeof(*node));
	V1beta1__NUMANode **nodep = calloc(n ? n : 1, sizeof(*nodep));
	int r = -ENOMEM;

	if (!dev || !devp || !topo || !node || !nodep)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct dp_device *d = &devices->items[i];

		v1beta1__device__init(&dev[i]);
		dev[i].id = d->id;
		dev[i].health = (char *)(d->healthy ? HOSTDEV_DP_HEALTHY : HOSTDEV_DP_UNHEALTHY);
		/* No NUMA affinity: no topology at all (a node 0 would be a lie the topology
		 * manager acts on). */
		if (d->numa_node >= 0) {
			v1beta1__numanode__init(&node[i]);
			node[i].id = d->numa_node;
			nodep[i] = &node[i];
			v1beta1__topology_info__init(&topo[i]);
			topo[i].n_nodes = 1;
			topo[i].nodes = &nodep[i];
			dev[i].topology = &topo[i];
		}
		devp[i] = &dev[i];
	}
	msg.n_devices = n;
	msg.devices = devp;
	r = pack(&msg.base, out, length);
out:
	free(dev);
	free(devp);
	free(topo);
	free(node);
	free(nodep);
	return r;
}

/* The parts of one ContainerAllocateResponse, allocated together. */
struct allocate_parts {
	V1beta1__ContainerAllocateResponse msg;
	V1beta1__ContainerAllocateResponse__EnvsEntry *envs, **envp;
	V1beta1__ContainerAllocateResponse__AnnotationsEntry *annotations, **annotationp;
	V1beta1__DeviceSpec *devices, **devicep;
	V1beta1__Mount *mounts, **mountp;
	V1beta1__CDIDevice *cdi, **cdip;
};

static void allocate_parts_clear(struct allocate_parts *p)
{
	free(p->envs);
	free(p->envp);
	free(p->annotations);
	free(p->annotationp);
	free(p->devices);
	free(p->devicep);
	free(p->mounts);
	free(p->mountp);
	free(p->cdi);
	free(p->cdip);
}

#define ALLOC_N(ptr, n) ((ptr) = calloc((n) ? (n) : 1, sizeof(*(ptr))))

static int allocate_parts_fill(struct allocate_parts *p, const hostdev_dp_response *resp)
{
	size_t n_cdi = resp->cdi_devices.count;

	v1beta1__container_allocate_response__init(&p->msg);
	if (!ALLOC_N(p->envs, resp->n_envs) || !ALLOC_N(p->envp, resp->n_envs) ||
	    !ALLOC_N(p->annotations, resp->n_annotations) ||
	    !ALLOC_N(p->annotationp, resp->n_annotations) ||
	    !ALLOC_N(p->devices, resp->n_devices) || !ALLOC_N(p->devicep, resp->n_devices) ||
	    !ALLOC_N(p->mounts, resp->n_mounts) || !ALLOC_N(p->mountp, resp->n_mounts) ||
	    !ALLOC_N(p->cdi, n_cdi) || !ALLOC_N(p->cdip, n_cdi))
		return -ENOMEM;
	for (size_t i = 0; i < resp->n_envs; i++) {
		v1beta1__container_allocate_response__envs_entry__init(&p->envs[i]);
		p->envs[i].key = resp->envs[i].key;
		p->envs[i].value = resp->envs[i].value;
		p->envp[i] = &p->envs[i];
	}
	for (size_t i = 0; i < resp->n_annotations; i++) {
		v1beta1__container_allocate_response__annotations_entry__init(&p->annotations[i]);
		p->annotations[i].key = resp->annotations[i].key;
		p->annotations[i].value = resp->annotations[i].value;
		p->annotationp[i] = &p->annotations[i];
	}
	for (size_t i = 0; i < resp->n_devices; i++) {
		v1beta1__device_spec__init(&p->devices[i]);
		p->devices[i].container_path = resp->devices[i].container_path;
		p->devices[i].host_path = resp->devices[i].host_path;
		p->devices[i].permissions = resp->devices[i].permissions;
		p->devicep[i] = &p->devices[i];
	}
	for (size_t i = 0; i < resp->n_mounts; i++) {
		v1beta1__mount__init(&p->mounts[i]);
		p->mounts[i].container_path = resp->mounts[i].container_path;
		p->mounts[i].host_path = resp->mounts[i].host_path;
		p->mounts[i].read_only = resp->mounts[i].read_only;
		p->mountp[i] = &p->mounts[i];
	}
	for (size_t i = 0; i < n_cdi; i++) {
		v1beta1__cdidevice__init(&p->cdi[i]);
		p->cdi[i].name = resp->cdi_devices.items[i];
		p->cdip[i] = &p->cdi[i];
	}
	p->msg.n_envs = resp->n_envs;
	p->msg.envs = p->envp;
	p->msg.n_annotations = resp->n_annotations;
	p->msg.annotations = p->annotationp;
	p->msg.n_devices = resp->n_devices;
	p->msg.devices = p->devicep;
	p->msg.n_mounts = resp->n_mounts;
	p->msg.mounts = p->mountp;
	p->msg.n_cdi_devices = n_cdi;
	p->msg.cdi_devices = p->cdip;
	return 0;
}

int dp_proto_allocate_response(hostdev_dp_response *const *answers, size_t n, uint8_t **out,
			       size_t *length)
{
	V1beta1__AllocateResponse msg = V1BETA1__ALLOCATE_RESPONSE__INIT;
	struct allocate_parts *parts = calloc(n ? n : 1, sizeof(*parts));
	V1beta1__ContainerAllocateResponse **partp = calloc(n ? n : 1, sizeof(*partp));
	int r = -ENOMEM;

	if (!parts || !partp)
		goto out;
	for (size_t i = 0; i < n; i++) {
		r = allocate_parts_fill(&parts[i], answers[i]);
		if (r < 0)
			goto out;
		partp[i] = &parts[i].msg;
	}
	msg.n_container_responses = n;
	msg.container_responses = partp;
	r = pack(&msg.base, out, length);
out:
	for (size_t i = 0; parts && i < n; i++)
		allocate_parts_clear(&parts[i]);
	free(parts);
	free(partp);
	return r;
}

int dp_proto_preferred_response(const struct strv *lists, size_t n, uint8_t **out, size_t *length)
{
	V1beta1__PreferredAllocationResponse msg = V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
	V1beta1__ContainerPreferredAllocationResponse *resp = calloc(n ? n : 1, sizeof(*resp));
	V1beta1__ContainerPreferredAllocationResponse **respp = calloc(n ? n : 1, sizeof(*respp));
	int r = -ENOMEM;

	if (!resp || !respp)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v1beta1__container_preferred_allocation_response__init(&resp[i]);
		resp[i].n_deviceids = lists[i].count;
		resp[i].deviceids = lists[i].items;
		respp[i] = &resp[i];
	}
	msg.n_container_responses = n;
	msg.container_responses = respp;
	r = pack(&msg.base, out, length);
out:
	free(resp);
	free(respp);
	return r;
}

int dp_proto_options(const struct hostdev_dp_plugin_ops *ops, uint8_t **out, size_t *length)
{
	V1beta1__DevicePluginOptions msg = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	msg.pre_start_required = ops->pre_start_container != NULL;
	msg.get_preferred_allocation_available = ops->get_preferred_allocation != NULL;
	return pack(&msg.base, out, length);
}

int dp_proto_register_request(const hostdev_dp_server *server, uint8_t **out, size_t *length)
{
	V1beta1__RegisterRequest msg = V1BETA1__REGISTER_REQUEST__INIT;
	V1beta1__DevicePluginOptions options = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	options.pre_start_required = server->ops.pre_start_container != NULL;
	options.get_preferred_allocation_available = server->ops.get_preferred_allocation != NULL;
	msg.version = (char *)DP_API_VERSION;
	/* Relative to the device-plugin directory, as the kubelet joins it with its own. */
	msg.endpoint = server->socket_name;
	msg.resource_name = server->resource_name;
	msg.options = &options;
	return pack(&msg.base, out, length);
}

int dp_proto_plugin_info(const hostdev_dp_server *server, uint8_t **out, size_t *length)
{
	const char *versions[] = {DP_API_VERSION};

	/* The kubelet dials the endpoint as given: the absolute path of this very socket, which
	 * serves the device-plugin API next to the registration service. */
	return pluginreg_info_encode(PLUGINREG_TYPE_DEVICE_PLUGIN, server->resource_name,
				     server->socket_path, versions, ARRAY_SIZE(versions), out,
				     length);
}
