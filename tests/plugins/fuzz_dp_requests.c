/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the request handlers of the device-plugin server behind Allocate,
 * GetPreferredAllocation and PreStartContainer, through the built-in plugins: the resources of
 * examples/deviceplugin/config.json served on the fake host of dp_tree.h (vfio PCI functions and
 * VFs, USB devices, mdevs), started once. Each input is one request message, carried by a fixed,
 * valid HTTP/2 exchange into a detached connection of one server (the transport has a fuzzer of
 * its own, tests/grpc): the message is decoded, its ids checked against what the server advertises
 * and handed to the plugin, which reads the fake host and answers. Nothing may crash, leak or
 * misbehave, whatever the ids, sizes and repeats.
 *
 * Input: byte 0 picks the method (bits 0-1: Allocate, GetPreferredAllocation, PreStartContainer)
 * and the resource (bits 2-7, modulo their number); the rest is the protobuf message.
 * Built with clang -fsanitize=fuzzer,address,undefined from the library sources directly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deviceplugin/deviceplugin.h"
#include "dp_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SERVERS 64

static struct fakeroot *root;
static hostdev_ctx *ctx;
static hostdev_loop *loop;
static hostdev_dp_server *servers[MAX_SERVERS];
static size_t n_servers;

static void cleanup(void)
{
	for (size_t i = 0; i < n_servers; i++)
		hostdev_dp_server_unref(servers[i]);
	hostdev_loop_unref(loop);
	hostdev_ctx_unref(ctx);
	fakeroot_free(root);
}

static void setup(void)
{
	struct hostdev_dp_server_options opts;
	hostdev_dp_resources *res = NULL;
	hostdev_dp_config *config = NULL;
	char dir[4096];

	root = dp_tree_new();
	if (!root || !(ctx = dp_tree_ctx(root)))
		abort();
	snprintf(dir, sizeof(dir), "%s/kubelet", fakeroot_path(root));
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/kubelet/device-plugins", fakeroot_path(root));
	mkdir(dir, 0755);
	if (hostdev_loop_new(ctx, &loop) < 0 ||
	    hostdev_dp_config_load(ctx, HOSTDEV_TEST_EXAMPLE_CONFIG, &config) < 0 ||
	    hostdev_dp_resources_resolve(ctx, config, &res) < 0)
		abort();
	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	opts.device_plugin_dir = dir;
	opts.refresh_interval_ms = -1;
	opts.idle_timeout_ms = -1;
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res) && i < MAX_SERVERS; i++) {
		if (hostdev_dp_server_new_builtin(loop, res, i, &opts, &servers[n_servers]) < 0 ||
		    hostdev_dp_server_start(servers[n_servers]) < 0)
			abort();
		n_servers++;
	}
	hostdev_dp_resources_unref(res);
	hostdev_dp_config_unref(config);
	if (n_servers == 0)
		abort();
	atexit(cleanup);
}

/* HTTP/2 by hand: frame header, HPACK literals without indexing (every decoder takes them). */
struct out {
	uint8_t *data;
	size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->data = realloc(o->data, o->cap);
		if (!o->data)
			abort();
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
}

static void frame(struct out *o, uint8_t type, uint8_t flags, uint32_t stream, const void *p,
		  size_t n)
{
	uint8_t h[9] = {(uint8_t)(n >> 16),
			(uint8_t)(n >> 8),
			(uint8_t)n,
			type,
			flags,
			(uint8_t)(stream >> 24),
			(uint8_t)(stream >> 16),
			(uint8_t)(stream >> 8),
			(uint8_t)stream};

	put(o, h, sizeof(h));
	put(o, p, n);
}

static void literal(struct out *o, const char *name, const char *value)
{
	uint8_t zero = 0, len;

	put(o, &zero, 1);
	len = (uint8_t)strlen(name); /* short strings: a 7-bit length fits */
	put(o, &len, 1);
	put(o, name, strlen(name));
	len = (uint8_t)strlen(value);
	put(o, &len, 1);
	put(o, value, strlen(value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
	    "/v1beta1.DevicePlugin/Allocate",
	    "/v1beta1.DevicePlugin/GetPreferredAllocation",
	    "/v1beta1.DevicePlugin/PreStartContainer",
	    "/v1beta1.DevicePlugin/Allocate",
	};
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct out headers = {0}, wire = {0}, message = {0};
	hostdev_dp_server *server;
	struct grpc_conn *conn;
	uint8_t prefix[5];
	size_t n;

	if (!loop)
		setup();
	if (size < 1 || size > (1u << 20))
		return 0;
	server = servers[(data[0] >> 2) % n_servers];
	n = size - 1;
	literal(&headers, ":method", "POST");
	literal(&headers, ":scheme", "http");
	literal(&headers, ":path", paths[data[0] & 3]);
	literal(&headers, ":authority", "localhost");
	literal(&headers, "content-type", "application/grpc");
	prefix[0] = 0;
	prefix[1] = (uint8_t)(n >> 24);
	prefix[2] = (uint8_t)(n >> 16);
	prefix[3] = (uint8_t)(n >> 8);
	prefix[4] = (uint8_t)n;
	put(&message, prefix, sizeof(prefix));
	put(&message, data + 1, n);
	put(&wire, preface, sizeof(preface) - 1);
	frame(&wire, 4 /* SETTINGS */, 0, 0, NULL, 0);
	frame(&wire, 1 /* HEADERS */, 4 /* END_HEADERS */, 1, headers.data, headers.len);
	/* DATA frames of at most 16 KiB, the default maximum frame size. */
	for (size_t off = 0; off < message.len; off += 16384) {
		size_t part = message.len - off < 16384 ? message.len - off : 16384;

		frame(&wire, 0 /* DATA */, off + part == message.len ? 1 /* END_STREAM */ : 0, 1,
		      message.data + off, part);
	}
	if (grpc_conn_new_detached(server->grpc, &conn) < 0)
		abort();
	grpc_conn_feed(conn, wire.data, wire.len);
	grpc_conn_free(conn);
	free(headers.data);
	free(wire.data);
	free(message.data);
	return 0;
}
