/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encoding of the device-plugin messages with the protobuf-c code generated from
 * proto/deviceplugin_v1beta1.proto (PluginInfo: pluginreg), except the two messages of the hot
 * paths, ListAndWatchResponse and AllocateResponse, written by hand (below). The messages borrow
 * the strings of our own objects; only the arrays of the message structures are allocated here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * AllocateResponse is written by hand, straight from the responses into one buffer: it is the
 * message of the hot path, and protobuf-c would first need a message tree of a dozen allocations
 * per container. The bytes are what protobuf-c packs (fields in number order, proto3: an empty
 * string and a false bool are left out); tests/plugins/test_ops.c unpacks and re-packs them.
 */
enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

static size_t varint_size(size_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, size_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Field numbers of these messages are below 16: a tag is one byte. */
static uint8_t tag(unsigned int field, unsigned int wire)
{
	return (uint8_t)(field << 3 | wire);
}

/* A length-delimited field of @len bytes, tag included. */
static size_t len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

static size_t string_size(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n ? len_field_size(n) : 0;
}

static uint8_t *put_string(uint8_t *p, unsigned int field, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n)
		return p;
	*p++ = tag(field, WIRE_LEN);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

/*
 * ListAndWatchResponse, by hand too: it is sent whole on every change, and at 10,000 devices
 * protobuf-c's message tree (five structures per device, sized and then packed) held the loop
 * for milliseconds (issue 15: no piece of work over 5 ms). One pass sizes the list, one writes it,
 * after the room the caller asks for (the gRPC prefix: the buffer is sent as it is).
 * ListAndWatchResponse: devices = 1. Device: ID = 1, health = 2, topology = 3. TopologyInfo:
 * nodes = 1. NUMANode: ID = 1 (int64; proto3 leaves out 0, so node 0 is an empty message).
 */
static size_t numa_size(int node)
{
	return node > 0 ? 1 + varint_size((size_t)node) : 0;
}

/* TopologyInfo of one node, without its own tag and length. */
static size_t topology_size(int node)
{
	return len_field_size(numa_size(node));
}

/* The health field's string: its length is known at compile time. */
#define HEALTH_LEN(healthy)                                                                        \
	((healthy) ? sizeof(HOSTDEV_DP_HEALTHY) - 1 : sizeof(HOSTDEV_DP_UNHEALTHY) - 1)

/* A Device without its own tag and length; @id_len: strlen(d->id), measured once. */
static size_t list_device_size(const struct dp_device *d, size_t id_len)
{
	return len_field_size(id_len) + len_field_size(HEALTH_LEN(d->healthy)) +
	       (d->numa_node >= 0 ? len_field_size(topology_size(d->numa_node)) : 0);
}

static uint8_t *put_bytes(uint8_t *p, unsigned int field, const char *s, size_t n)
{
	*p++ = tag(field, WIRE_LEN);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *put_list_device(uint8_t *p, const struct dp_device *d)
{
	size_t id_len = strlen(d->id);

	*p++ = tag(1, WIRE_LEN);
	p = put_varint(p, list_device_size(d, id_len));
	p = put_bytes(p, 1, d->id, id_len);
	p = put_bytes(p, 2, d->healthy ? HOSTDEV_DP_HEALTHY : HOSTDEV_DP_UNHEALTHY,
		      HEALTH_LEN(d->healthy));
	/* No NUMA affinity: no topology at all (a node 0 would be a lie the topology manager
	 * acts on). */
	if (d->numa_node >= 0) {
		*p++ = tag(3, WIRE_LEN);
		p = put_varint(p, topology_size(d->numa_node));
		*p++ = tag(1, WIRE_LEN);
		p = put_varint(p, numa_size(d->numa_node));
		if (d->numa_node > 0) {
			*p++ = tag(1, WIRE_VARINT);
			p = put_varint(p, (size_t)d->numa_node);
		}
	}
	return p;
}

int dp_proto_list_and_watch(const hostdev_dp_devices *devices, size_t headroom, uint8_t **out,
			    size_t *length)
{
	size_t n = devices ? devices->count : 0, total = 0;
	uint8_t *buf, *p;

	for (size_t i = 0; i < n; i++) {
		const struct dp_device *d = &devices->items[i];

		total += len_field_size(list_device_size(d, strlen(d->id)));
	}
	buf = malloc(headroom + total ? headroom + total : 1);
	if (!buf)
		return -ENOMEM;
	p = buf + headroom;
	for (size_t i = 0; i < n; i++)
		p = put_list_device(p, &devices->items[i]);
	*out = buf;
	*length = (size_t)(p - buf) - headroom;
	return 0;
}

/* A map<string, string> entry (key = 1, value = 2), without its own tag and length. */
static size_t kv_size(const struct dp_kv *kv)
{
	return string_size(kv->key) + string_size(kv->value);
}

static size_t mount_size(const struct dp_mount *m)
{
	return string_size(m->container_path) + string_size(m->host_path) + (m->read_only ? 2 : 0);
}

static size_t device_size(const struct dp_device_spec *d)
{
	return string_size(d->container_path) + string_size(d->host_path) +
	       string_size(d->permissions);
}

/* ContainerAllocateResponse: envs = 1, mounts = 2, devices = 3, annotations = 4, cdi = 5. */
static size_t container_size(const hostdev_dp_response *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_envs; i++)
		n += len_field_size(kv_size(&r->envs[i]));
	for (size_t i = 0; i < r->n_mounts; i++)
		n += len_field_size(mount_size(&r->mounts[i]));
	for (size_t i = 0; i < r->n_devices; i++)
		n += len_field_size(device_size(&r->devices[i]));
	for (size_t i = 0; i < r->n_annotations; i++)
		n += len_field_size(kv_size(&r->annotations[i]));
	for (size_t i = 0; i < r->cdi_devices.count; i++)
		n += len_field_size(string_size(r->cdi_devices.items[i]));
	return n;
}

static uint8_t *put_kv(uint8_t *p, unsigned int field, const struct dp_kv *kv)
{
	*p++ = tag(field, WIRE_LEN);
	p = put_varint(p, kv_size(kv));
	p = put_string(p, 1, kv->key);
	return put_string(p, 2, kv->value);
}

static uint8_t *put_container(uint8_t *p, const hostdev_dp_response *r)
{
	for (size_t i = 0; i < r->n_envs; i++)
		p = put_kv(p, 1, &r->envs[i]);
	for (size_t i = 0; i < r->n_mounts; i++) {
		const struct dp_mount *m = &r->mounts[i];

		*p++ = tag(2, WIRE_LEN);
		p = put_varint(p, mount_size(m));
		p = put_string(p, 1, m->container_path);
		p = put_string(p, 2, m->host_path);
		if (m->read_only) {
			*p++ = tag(3, WIRE_VARINT);
			*p++ = 1;
		}
	}
	for (size_t i = 0; i < r->n_devices; i++) {
		const struct dp_device_spec *d = &r->devices[i];

		*p++ = tag(3, WIRE_LEN);
		p = put_varint(p, device_size(d));
		p = put_string(p, 1, d->container_path);
		p = put_string(p, 2, d->host_path);
		p = put_string(p, 3, d->permissions);
	}
	for (size_t i = 0; i < r->n_annotations; i++)
		p = put_kv(p, 4, &r->annotations[i]);
	for (size_t i = 0; i < r->cdi_devices.count; i++) {
		*p++ = tag(5, WIRE_LEN);
		p = put_varint(p, string_size(r->cdi_devices.items[i]));
		p = put_string(p, 1, r->cdi_devices.items[i]);
	}
	return p;
}

int dp_proto_allocate_response(hostdev_dp_response *const *answers, size_t n, uint8_t **out,
			       size_t *length)
{
	size_t total = 0, stack_sizes[8];
	size_t *sizes = n <= ARRAY_SIZE(stack_sizes) ? stack_sizes : calloc(n, sizeof(*sizes));
	uint8_t *buf, *p;

	if (!sizes)
		return -ENOMEM;
	/* AllocateResponse: container_responses = 1, one per container, empty ones too. */
	for (size_t i = 0; i < n; i++) {
		sizes[i] = container_size(answers[i]);
		total += len_field_size(sizes[i]);
	}
	buf = malloc(total ? total : 1);
	if (!buf) {
		if (sizes != stack_sizes)
			free(sizes);
		return -ENOMEM;
	}
	p = buf;
	for (size_t i = 0; i < n; i++) {
		*p++ = tag(1, WIRE_LEN);
		p = put_varint(p, sizes[i]);
		p = put_container(p, answers[i]);
	}
	if (sizes != stack_sizes)
		free(sizes);
	*out = buf;
	*length = (size_t)(p - buf);
	return 0;
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
