/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in plugins as the server calls them (plugins/plugin_ops.c): the callbacks fill the
 * server's device list and response objects (src/deviceplugin/dp_response.c is compiled in to
 * make and read responses), errors carry the message for the kubelet, USB offers no preferred
 * allocation; and hostdev_dp_server_new_builtin() on a loop with the public API.
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
#include "dp_tree.h"
#include "plugin_ops.h"
#include "resources/dp_config.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	struct hostdev_dp_config *config;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[1024];

	if (!f || !(f->root = dp_tree_new()) || !(f->ctx = dp_tree_ctx(f->root)) ||
	    dp_config_parse_text("{\"resources\": [{\"kind\": \"pci\", \"resourceName\": "
				 "\"example.com/nic\", \"sriovEnv\": true, \"selectors\": "
				 "{\"vendorDevice\": [\"8086:10d3\"]}}, {\"kind\": \"usb\", "
				 "\"resourceName\": \"example.com/key\", \"selectors\": "
				 "{\"vendorProduct\": [\"1050:0407\"]}}]}",
				 &f->config, err, sizeof(err)) < 0) {
		if (f) {
			hostdev_ctx_unref(f->ctx);
			fakeroot_free(f->root);
		}
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dp_config_unref(f->config);
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

static struct plugin *make(struct fixture *f, size_t index, const char *name,
			   struct hostdev_dp_plugin_ops *ops)
{
	struct plugin *p = NULL;

	assert_int_equal(plugin_new(f->ctx, f->config, index, name, NULL, 0, &p), 0);
	plugin_ops_init(p, ops);
	assert_int_equal(ops->version, HOSTDEV_DP_PLUGIN_OPS_VERSION);
	assert_non_null(ops->list_devices);
	assert_non_null(ops->allocate);
	assert_null(ops->pre_start_container);
	assert_non_null(ops->destroy);
	return p;
}

static void test_pci_ops(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_plugin_ops ops;
	struct plugin *p = make(f, 0, "example.com/nic", &ops);
	const char *ids[] = {"0000:06:00.0", "0000:05:00.1"};
	const char *available[] = {"0000:06:00.0", "0000:05:00.0", "0000:05:00.1"};
	hostdev_dp_devices *devices = NULL;
	hostdev_dp_response *resp;

	assert_non_null(ops.get_preferred_allocation);
	assert_int_equal(hostdev_dp_devices_new(&devices), 0);
	assert_int_equal(ops.list_devices(p, devices), 0);
	assert_int_equal(hostdev_dp_devices_get_count(devices), 4);
	assert_string_equal(hostdev_dp_devices_get_id(devices, 0), "0000:05:00.0");
	assert_true(hostdev_dp_devices_is_healthy(devices, 0));
	assert_int_equal(hostdev_dp_devices_get_numa_node(devices, 0), 0);
	assert_string_equal(hostdev_dp_devices_get_id(devices, 3), "0000:07:00.0");
	assert_false(hostdev_dp_devices_is_healthy(devices, 3));
	hostdev_dp_devices_free(devices);

	resp = dp_response_new();
	assert_non_null(resp);
	assert_int_equal(ops.allocate(p, ids, 2, resp), 0);
	assert_null(resp->error);
	assert_int_equal(resp->n_envs, 3);
	assert_string_equal(resp->envs[0].key, "PCI_RESOURCE_EXAMPLE_COM_NIC");
	assert_string_equal(resp->envs[0].value, "0000:06:00.0,0000:05:00.1");
	assert_string_equal(resp->envs[1].key, "PCIDEVICE_EXAMPLE_COM_NIC");
	assert_string_equal(resp->envs[1].value, "0000:06:00.0,0000:05:00.1");
	assert_string_equal(resp->envs[2].key, "PCIDEVICE_EXAMPLE_COM_NIC_INFO");
	assert_int_equal(resp->n_devices, 3);
	assert_string_equal(resp->devices[0].host_path, "/dev/vfio/vfio");
	assert_string_equal(resp->devices[0].container_path, "/dev/vfio/vfio");
	assert_string_equal(resp->devices[0].permissions, "mrw");
	assert_string_equal(resp->devices[1].host_path, "/dev/vfio/8");
	assert_string_equal(resp->devices[2].host_path, "/dev/vfio/7");
	assert_int_equal(resp->n_mounts, 0);
	assert_int_equal(resp->ids.count, 0);
	dp_response_free(resp);

	/* A failure: the errno picks the gRPC status, the message goes to the kubelet. */
	resp = dp_response_new();
	ids[1] = "0000:07:00.0";
	assert_int_equal(ops.allocate(p, ids, 2, resp), -EBUSY);
	assert_string_equal(resp->error,
			    "0000:07:00.0 of example.com/nic is bound to e1000e, not to vfio-pci, "
			    "so no virtual machine can use it: bind it to vfio-pci and retry");
	dp_response_free(resp);

	resp = dp_response_new();
	assert_int_equal(ops.get_preferred_allocation(p, available, 3, NULL, 0, 2, resp), 0);
	assert_int_equal(resp->ids.count, 2);
	assert_string_equal(resp->ids.items[0], "0000:05:00.0");
	assert_string_equal(resp->ids.items[1], "0000:05:00.1");
	assert_int_equal(resp->n_envs, 0);
	dp_response_free(resp);
	ops.destroy(p);
}

static void test_usb_ops(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_plugin_ops ops;
	struct plugin *p = make(f, 1, "example.com/key", &ops);
	const char *ids[] = {"usb-1050-0407-22222222"};
	hostdev_dp_response *resp = dp_response_new();

	/* Nothing to prefer USB devices by: the server does not offer it. */
	assert_null(ops.get_preferred_allocation);
	assert_int_equal(ops.allocate(p, ids, 1, resp), 0);
	assert_int_equal(resp->n_envs, 1);
	assert_string_equal(resp->envs[0].key, "USB_RESOURCE_EXAMPLE_COM_KEY");
	assert_string_equal(resp->envs[0].value, "1:4");
	assert_int_equal(resp->n_devices, 1);
	assert_string_equal(resp->devices[0].host_path, "/dev/bus/usb/001/004");
	dp_response_free(resp);
	ops.destroy(p);
}

static void test_builtin(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_server_options opts;
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;
	hostdev_dp_server *server = NULL;
	hostdev_loop *loop = NULL;
	char dir[1024];

	assert_int_equal(hostdev_dp_config_load(f->ctx, HOSTDEV_TEST_EXAMPLE_CONFIG, &config), 0);
	assert_int_equal(hostdev_dp_resources_resolve(f->ctx, config, &res), 0);
	hostdev_dp_config_free(config);
	assert_int_equal(hostdev_loop_new(f->ctx, &loop), 0);
	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	opts.refresh_interval_ms = -1;
	snprintf(dir, sizeof(dir), "%s/var/lib/kubelet/device-plugins", fakeroot_path(f->root));
	opts.device_plugin_dir = dir;

	assert_int_equal(hostdev_dp_server_new_builtin(loop, res, 99, &opts, &server), -ERANGE);
	assert_string_equal(hostdev_ctx_get_error(f->ctx),
			    "there is no resource 99: the config gives 9 resources on this host");
	assert_null(server);
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		assert_int_equal(hostdev_dp_server_new_builtin(loop, res, i, &opts, &server), 0);
		assert_string_equal(hostdev_dp_server_get_resource_name(server),
				    hostdev_dp_resources_get_name(res, i));
		assert_int_equal(hostdev_dp_server_start(server), 0);
		assert_int_equal(hostdev_dp_server_get_state(server), HOSTDEV_DP_SERVING);
		assert_int_equal(hostdev_dp_server_refresh(server), 0);
		assert_int_equal(hostdev_dp_server_stop(server), 0);
		server = hostdev_dp_server_unref(server);
	}
	/* The servers keep their plugins' config: the resources can go first. */
	assert_int_equal(hostdev_dp_server_new_builtin(loop, res, 0, &opts, &server), 0);
	hostdev_dp_resources_free(res);
	assert_int_equal(hostdev_dp_server_start(server), 0);
	assert_int_equal(hostdev_dp_server_refresh(server), 0);
	hostdev_dp_server_unref(server);
	hostdev_loop_unref(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pci_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_builtin, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
