/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in plugins served for real on the fake host (dp_tree.h), for the gRPC tests
 * (test_builtin_grpc.py, a fake kubelet written with Python grpcio):
 *
 *   dpconfig-serve PLUGIN_DIR [CONFIG]
 *
 * resolves CONFIG (default: examples/deviceplugin/config.json) on a new fake host and serves
 * every resource with hostdev_dp_server_new_builtin(), registering on PLUGIN_DIR/kubelet.sock,
 * the loop on its own thread. Prints "ROOT <fake root>", one "RESOURCE <name> <socket>" per
 * resource, then "READY". Commands on stdin, each answered "OK" or "ERR <message>"; each change
 * refreshes every server (the event a host would make), unless prefixed with "quiet " (a change
 * whose event has not been seen yet):
 *
 *   unplug-usb NAME DEVNUM                       unplug USB device NAME ("1-2")
 *   plug-usb NAME VENDOR PRODUCT SERIAL|- DEVNUM plug one in (hex ids)
 *   unbind ADDRESS                               unbind a PCI device from its driver
 *   bind ADDRESS DRIVER                          bind it to DRIVER
 *   remove ADDRESS                               hot-unplug a PCI device
 *   refresh                                      hostdev_dp_server_refresh() on every server
 *   quit                                         stop every server and exit 0
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_tree.h"

#define MAX_SERVERS 64

static hostdev_dp_server *servers[MAX_SERVERS];
static size_t n_servers;

static int refresh_all(void)
{
	for (size_t i = 0; i < n_servers; i++) {
		int r = hostdev_dp_server_refresh(servers[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Make the change of @line; 1 when it is one that refreshes, 0 for "refresh" itself. */
static int change(struct fakeroot *root, const char *line)
{
	char name[64], serial[64], address[32], driver[64];
	unsigned int vendor, product, devnum;

	if (sscanf(line, "unplug-usb %63s %u", name, &devnum) == 2)
		return dp_tree_remove_usb(root, name, devnum) < 0 ? -EIO : 1;
	if (sscanf(line, "plug-usb %63s %x %x %63s %u", name, &vendor, &product, serial, &devnum) ==
	    5)
		return dp_tree_add_usb(root, name, vendor, product,
				       strcmp(serial, "-") == 0 ? NULL : serial, devnum) < 0
			   ? -EIO
			   : 1;
	if (sscanf(line, "unbind %31s", address) == 1)
		return fakeroot_pci_set_driver(root, address, NULL) < 0 ? -EIO : 1;
	if (sscanf(line, "bind %31s %63s", address, driver) == 2)
		return fakeroot_pci_set_driver(root, address, driver) < 0 ? -EIO : 1;
	if (sscanf(line, "remove %31s", address) == 1)
		return fakeroot_pci_remove(root, address, 0) < 0 ? -EIO : 1;
	if (strcmp(line, "refresh") == 0)
		return 0;
	return -EINVAL;
}

static int command(struct fakeroot *root, const char *line)
{
	bool quiet = strncmp(line, "quiet ", 6) == 0;
	int r = change(root, quiet ? line + 6 : line);

	if (r < 0 || (quiet && r == 1))
		return r;
	return refresh_all();
}

int main(int argc, char **argv)
{
	const char *config_path = argc > 2 ? argv[2] : HOSTDEV_TEST_EXAMPLE_CONFIG;
	struct hostdev_dp_server_options opts;
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;
	hostdev_loop *loop = NULL;
	struct fakeroot *root;
	hostdev_ctx *ctx;
	char line[512];
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PLUGIN_DIR [CONFIG]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	root = dp_tree_new();
	ctx = root ? dp_tree_ctx(root) : NULL;
	if (!ctx)
		return 1;
	if ((r = hostdev_dp_config_load(ctx, config_path, &config)) < 0 ||
	    (r = hostdev_dp_resources_resolve(ctx, config, &res)) < 0 ||
	    (r = hostdev_loop_new(ctx, &loop)) < 0) {
		fprintf(stderr, "dpconfig-serve: %s\n", hostdev_ctx_get_error(ctx));
		return 1;
	}
	hostdev_dp_config_unref(config);
	hostdev_dp_server_options_init(&opts);
	opts.device_plugin_dir = argv[1];
	opts.refresh_interval_ms = -1; /* the test says when */
	printf("ROOT %s\n", fakeroot_path(root));
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res) && i < MAX_SERVERS; i++) {
		if ((r = hostdev_dp_server_new_builtin(loop, res, i, &opts, &servers[i])) < 0 ||
		    (r = hostdev_dp_server_start(servers[i])) < 0) {
			fprintf(stderr, "dpconfig-serve: %s: %s\n",
				hostdev_dp_resources_get_name(res, i), hostdev_ctx_get_error(ctx));
			return 1;
		}
		n_servers++;
		printf("RESOURCE %s %s\n", hostdev_dp_resources_get_name(res, i),
		       hostdev_dp_server_get_socket_path(servers[i]));
	}
	hostdev_dp_resources_unref(res);
	if ((r = hostdev_loop_start_thread(loop)) < 0)
		return 1;
	printf("READY\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "quit") == 0)
			break;
		r = command(root, line);
		if (r < 0)
			printf("ERR %s: %s\n", line, strerror(-r));
		else
			printf("OK\n");
	}
	hostdev_loop_stop_thread(loop);
	for (size_t i = 0; i < n_servers; i++) {
		hostdev_dp_server_stop(servers[i]);
		hostdev_dp_server_unref(servers[i]);
	}
	hostdev_loop_unref(loop);
	hostdev_ctx_unref(ctx);
	fakeroot_free(root);
	return 0;
}
