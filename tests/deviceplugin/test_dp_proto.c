/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AllocateResponse that src/deviceplugin/dp_proto.c writes by hand: protobuf-c reads it back
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allocate_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
