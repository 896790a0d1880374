/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The messages that src/deviceplugin/dp_proto.c writes by hand.
 *
 * ListAndWatchResponse: the very bytes protobuf-c packs for a message tree built from the same
 * list (devices with and without NUMA node, node 0, which proto3 leaves out of the NUMANode, nodes
 * whose varint takes one to five bytes, both healths, ids of 1 and 63 characters, an empty list,
 * no list at all, and a list of 10,000 devices).
 *
 * AllocateResponse: protobuf-c reads it back
 * field for field, and packs what it read into the very same bytes (the canonical encoding, which
 * is what the kubelet's Go decoder takes as well): every field of a container response, empty
 * responses, strings whose lengths take one, two and three varint bytes, more containers than the
 * encoder keeps on its stack.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deviceplugin/deviceplugin.h"
#include "deviceplugin_v1beta1.pb-c.h"

/* A string of @n characters of @c (freed by the caller). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Response @k of the test: each field present or not by @k, strings of growing length. */
static hostdev_dp_response *make_response(size_t k, char *long_value)
{
	hostdev_dp_response *r = dp_response_new();
	char name[64], path[64];

	assert_non_null(r);
	if (k % 5 == 4)
		return r; /* empty */
	snprintf(name, sizeof(name), "PCI_RESOURCE_%zu", k);
	assert_int_equal(hostdev_dp_response_set_env(r, name, k % 2 ? long_value : "0000:05:00.0"),
			 0);
	assert_int_equal(hostdev_dp_response_set_env(r, "SECOND", "x"), 0);
	for (size_t i = 0; i < k % 4 + 1; i++) {
		snprintf(path, sizeof(path), "/dev/vfio/%zu", 10 * k + i);
		assert_int_equal(
		    hostdev_dp_response_add_device(r, path, path, i % 2 ? "rw" : "mrw"), 0);
	}
	if (k % 3 == 0) {
		assert_int_equal(hostdev_dp_response_add_mount(r, "/ro", "/host/ro", 1), 0);
		assert_int_equal(hostdev_dp_response_add_mount(r, "/rw", long_value, 0), 0);
	}
	if (k % 3 == 1) {
		assert_int_equal(hostdev_dp_response_set_annotation(r, "example.com/a", "1"), 0);
		assert_int_equal(
		    hostdev_dp_response_set_annotation(r, "example.com/long", long_value), 0);
	}
	if (k % 2 == 0)
		assert_int_equal(hostdev_dp_response_add_cdi_device(r, "vendor.com/gpu=gpu0"), 0);
	return r;
}

static void expect_kv(const struct dp_kv *want, size_t n,
		      V1beta1__ContainerAllocateResponse__EnvsEntry *const *got, size_t n_got)
{
	assert_int_equal(n_got, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(got[i]->key, want[i].key);
		assert_string_equal(got[i]->value, want[i].value);
	}
}

/* Encode @n responses, read them back with protobuf-c and pack them again. */
static void check(size_t n, size_t long_length)
{
	hostdev_dp_response **answers = calloc(n ? n : 1, sizeof(*answers));
	char *long_value = repeat('v', long_length);
	V1beta1__AllocateResponse *msg;
	uint8_t *buf = NULL, *again;
	size_t length = 0;

	assert_non_null(answers);
	for (size_t i = 0; i < n; i++)
		answers[i] = make_response(i, long_value);
	assert_int_equal(dp_proto_allocate_response(answers, n, &buf, &length), 0);
	assert_non_null(buf);
	msg = v1beta1__allocate_response__unpack(NULL, length, buf);
	assert_non_null(msg);
	assert_int_equal(msg->n_container_responses, n);
	for (size_t i = 0; i < n; i++) {
		const hostdev_dp_response *w = answers[i];
		V1beta1__ContainerAllocateResponse *c = msg->container_responses[i];

		expect_kv(w->envs, w->n_envs, c->envs, c->n_envs);
		expect_kv(w->annotations, w->n_annotations,
			  (V1beta1__ContainerAllocateResponse__EnvsEntry *const *)c->annotations,
			  c->n_annotations);
		assert_int_equal(c->n_devices, w->n_devices);
		for (size_t j = 0; j < w->n_devices; j++) {
			assert_string_equal(c->devices[j]->container_path,
					    w->devices[j].container_path);
			assert_string_equal(c->devices[j]->host_path, w->devices[j].host_path);
			assert_string_equal(c->devices[j]->permissions, w->devices[j].permissions);
		}
		assert_int_equal(c->n_mounts, w->n_mounts);
		for (size_t j = 0; j < w->n_mounts; j++) {
			assert_string_equal(c->mounts[j]->container_path,
					    w->mounts[j].container_path);
			assert_string_equal(c->mounts[j]->host_path, w->mounts[j].host_path);
			assert_int_equal(c->mounts[j]->read_only, w->mounts[j].read_only);
		}
		assert_int_equal(c->n_cdi_devices, w->cdi_devices.count);
		for (size_t j = 0; j < w->cdi_devices.count; j++)
			assert_string_equal(c->cdi_devices[j]->name, w->cdi_devices.items[j]);
	}
	assert_int_equal(protobuf_c_message_get_packed_size(&msg->base), length);
	again = malloc(length ? length : 1);
	assert_non_null(again);
	assert_int_equal(protobuf_c_message_pack(&msg->base, again), length);
	assert_memory_equal(again, buf, length);
	free(again);
	v1beta1__allocate_response__free_unpacked(msg, NULL);
	free(buf);
	for (size_t i = 0; i < n; i++)
		dp_response_free(answers[i]);
	free(answers);
	free(long_value);
}

static void test_allocate_response(void **state)
{
	(void)state;
	check(0, 1);
	check(1, 1);
	check(3, 200);	 /* two-byte lengths */
	check(9, 20000); /* three-byte lengths, more containers than the stack holds */
	check(40, 127);	 /* the last one-byte length */
	check(5, 128);	 /* the first two-byte one */
}

/* What protobuf-c packs for @devices (the encoder the library used before). */
static uint8_t *pack_list(const hostdev_dp_devices *devices, size_t *length)
{
	size_t n = hostdev_dp_devices_get_count(devices);
	V1beta1__ListAndWatchResponse msg = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	V1beta1__Device *dev = calloc(n + 1, sizeof(*dev));
	V1beta1__Device **devp = calloc(n + 1, sizeof(*devp));
	V1beta1__TopologyInfo *topo = calloc(n + 1, sizeof(*topo));
	V1beta1__NUMANode *node = calloc(n + 1, sizeof(*node));
	V1beta1__NUMANode **nodep = calloc(n + 1, sizeof(*nodep));
	uint8_t *buf;

	assert_true(dev && devp && topo && node && nodep);
	for (size_t i = 0; i < n; i++) {
		v1beta1__device__init(&dev[i]);
		dev[i].id = (char *)hostdev_dp_devices_get_id(devices, i);
		dev[i].health = hostdev_dp_devices_is_healthy(devices, i) ? "Healthy" : "Unhealthy";
		if (hostdev_dp_devices_get_numa_node(devices, i) >= 0) {
			v1beta1__numanode__init(&node[i]);
			node[i].id = hostdev_dp_devices_get_numa_node(devices, i);
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
	*length = protobuf_c_message_get_packed_size(&msg.base);
	buf = malloc(*length + 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(&msg.base, buf), *length);
	free(dev);
	free(devp);
	free(topo);
	free(node);
	free(nodep);
	return buf;
}

static void check_list(const hostdev_dp_devices *devices)
{
	uint8_t *buf = NULL, *want;
	size_t length = 0, want_length;
	V1beta1__ListAndWatchResponse *msg;

	/* With room before the message, as the server asks for (the gRPC prefix). */
	assert_int_equal(dp_proto_list_and_watch(devices, 5, &buf, &length), 0);
	assert_non_null(buf);
	want = pack_list(devices, &want_length);
	assert_int_equal(length, want_length);
	assert_memory_equal(buf + 5, want, length);
	/* And it reads back as the list. */
	msg = v1beta1__list_and_watch_response__unpack(NULL, length, buf + 5);
	assert_non_null(msg);
	assert_int_equal(msg->n_devices, hostdev_dp_devices_get_count(devices));
	for (size_t i = 0; i < msg->n_devices; i++) {
		int node = hostdev_dp_devices_get_numa_node(devices, i);

		assert_string_equal(msg->devices[i]->id, hostdev_dp_devices_get_id(devices, i));
		assert_string_equal(msg->devices[i]->health,
				    hostdev_dp_devices_is_healthy(devices, i) ? "Healthy"
									      : "Unhealthy");
		if (node < 0) {
			assert_null(msg->devices[i]->topology);
		} else {
			assert_non_null(msg->devices[i]->topology);
			assert_int_equal(msg->devices[i]->topology->n_nodes, 1);
			assert_int_equal(msg->devices[i]->topology->nodes[0]->id, node);
		}
	}
	v1beta1__list_and_watch_response__free_unpacked(msg, NULL);
	free(want);
	free(buf);
}

static void test_list_and_watch(void **state)
{
	static const int nodes[] = {-1, 0, 1, 127, 128, 16383, 16384, 2097152, 2147483647};
	hostdev_dp_devices *devices;
	char *longest = repeat('a', 63);
	char id[64];
	uint8_t *buf = NULL;
	size_t length = 1;

	(void)state;
	/* No list at all: the empty message. */
	assert_int_equal(dp_proto_list_and_watch(NULL, 0, &buf, &length), 0);
	assert_non_null(buf);
	assert_int_equal(length, 0);
	free(buf);

	assert_int_equal(hostdev_dp_devices_new(&devices), 0);
	check_list(devices);
	assert_int_equal(hostdev_dp_devices_add(devices, "x", 1, -1), 0);
	assert_int_equal(hostdev_dp_devices_add(devices, longest, 0, 3), 0);
	for (size_t i = 0; i < ARRAY_SIZE(nodes) * 2; i++) {
		snprintf(id, sizeof(id), "0000:3b:%02zx.%zu", i / 2, i % 2);
		assert_int_equal(
		    hostdev_dp_devices_add(devices, id, (int)(i % 2), nodes[i % ARRAY_SIZE(nodes)]),
		    0);
	}
	check_list(devices);
	hostdev_dp_devices_unref(devices);

	assert_int_equal(hostdev_dp_devices_new(&devices), 0);
	for (size_t i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "0000:%02zx:%02zx.%zu", i / 256, i / 8 % 32, i % 8);
		assert_int_equal(hostdev_dp_devices_add(devices, id, i % 7 != 0, (int)(i % 3) - 1),
				 0);
	}
	check_list(devices);
	hostdev_dp_devices_unref(devices);
	free(longest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_and_watch),
	    cmocka_unit_test(test_allocate_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
