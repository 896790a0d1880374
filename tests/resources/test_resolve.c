/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolution of configs on the fake host (dp_tree.h): pooled Harvester names, per-device names,
 * explicit names, PF + VF ranges, USB serial / port identities, mdev types; first entry wins;
 * name conflicts; and KubeVirt's permittedHostDevices as JSON and YAML, compared to the text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !(f->root = dp_tree_new()) || !(f->ctx = dp_tree_ctx(f->root))) {
		if (f)
			fakeroot_free(f->root);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

/* "name[id,id] name[]..." of the resolved resources. */
static char *describe(const hostdev_dp_resources *res)
{
	size_t size = 16384, len = 0;
	char *buf = calloc(1, size);

	assert_non_null(buf);
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		len += (size_t)snprintf(
		    buf + len, size - len, "%s%s%s[", i ? " " : "",
		    hostdev_dp_resources_get_name(res, i),
		    hostdev_dp_resources_get_kind(res, i) == HOSTDEV_DP_KIND_USB    ? "(usb)"
		    : hostdev_dp_resources_get_kind(res, i) == HOSTDEV_DP_KIND_MDEV ? "(mdev)"
										    : "");
		for (size_t j = 0; j < hostdev_dp_resources_get_device_count(res, i); j++)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", j ? "," : "",
						hostdev_dp_resources_get_device_id(res, i, j));
		len += (size_t)snprintf(buf + len, size - len, "]");
	}
	return buf;
}

static hostdev_dp_resources *resolve(struct fixture *f, const char *json)
{
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;

	if (hostdev_dp_config_parse(f->ctx, json, &config) < 0)
		fail_msg("parse: %s", hostdev_ctx_get_error(f->ctx));
	if (hostdev_dp_resources_resolve(f->ctx, config, &res) < 0)
		fail_msg("resolve: %s", hostdev_ctx_get_error(f->ctx));
	/* The resources keep what they need of the config. */
	hostdev_dp_config_unref(config);
	return res;
}

static void expect(struct fixture *f, const char *json, const char *want)
{
	hostdev_dp_resources *res = resolve(f, json);
	char *got = describe(res);

	if (strcmp(got, want) != 0)
		fail_msg("config %s\n got: %s\nwant: %s", json, got, want);
	free(got);
	hostdev_dp_resources_free(res);
}

#define PCI(naming, selectors)                                                                     \
	"{\"resources\": [{\"kind\": \"pci\", " naming ", \"selectors\": {" selectors "}}]}"

static const char example_resources[] =
    "example.com/serial-console(usb)[node1-000000140-usb2-4,node1-000000140-usb2-5] "
    "intel.com/node1-000005000[0000:05:00.0] intel.com/node1-000006000[0000:06:00.0] "
    "intel.com/x710_vf_dpdk[0000:3b:02.0,0000:3b:02.1,0000:3b:02.2,0000:3b:02.3,0000:86:02.0,"
    "0000:86:02.1,0000:86:02.2] kubevirt.io/usb-1050-0407-11111111(usb)[usb-1050-0407-11111111] "
    "kubevirt.io/usb-1050-0407-22222222(usb)[usb-1050-0407-22222222] "
    "nvidia.com/GRID_T4-1Q(mdev)[" MDEV_A "," MDEV_B "] nvidia.com/GRID_T4-2Q(mdev)[" MDEV_C "] "
    "nvidia.com/TU104GL_TESLA_T4[0000:af:00.0,0000:d8:00.0]";

static const char example_json[] =
    "{\n"
    "  \"permittedHostDevices\": {\n"
    "    \"pciHostDevices\": [\n"
    "      {\n"
    "        \"pciVendorSelector\": \"8086:10d3\",\n"
    "        \"resourceName\": \"intel.com/node1-000005000\",\n"
    "        \"externalResourceProvider\": true\n"
    "      },\n"
    "      {\n"
    "        \"pciVendorSelector\": \"8086:10d3\",\n"
    "        \"resourceName\": \"intel.com/node1-000006000\",\n"
    "        \"externalResourceProvider\": true\n"
    "      },\n"
    "      {\n"
    "        \"pciVendorSelector\": \"8086:154c\",\n"
    "        \"resourceName\": \"intel.com/x710_vf_dpdk\",\n"
    "        \"externalResourceProvider\": true\n"
    "      },\n"
    "      {\n"
    "        \"pciVendorSelector\": \"10de:1eb8\",\n"
    "        \"resourceName\": \"nvidia.com/TU104GL_TESLA_T4\",\n"
    "        \"externalResourceProvider\": true\n"
    "      }\n"
    "    ],\n"
    "    \"mediatedDevices\": [\n"
    "      {\n"
    "        \"mdevNameSelector\": \"GRID_T4-1Q\",\n"
    "        \"resourceName\": \"nvidia.com/GRID_T4-1Q\",\n"
    "        \"externalResourceProvider\": true\n"
    "      },\n"
    "      {\n"
    "        \"mdevNameSelector\": \"GRID_T4-2Q\",\n"
    "        \"resourceName\": \"nvidia.com/GRID_T4-2Q\",\n"
    "        \"externalResourceProvider\": true\n"
    "      }\n"
    "    ],\n"
    "    \"usb\": [\n"
    "      {\n"
    "        \"resourceName\": \"example.com/serial-console\",\n"
    "        \"selectors\": [\n"
    "          {\n"
    "            \"vendor\": \"0403\",\n"
    "            \"product\": \"6001\"\n"
    "          }\n"
    "        ],\n"
    "        \"externalResourceProvider\": true\n"
    "      },\n"
    "      {\n"
    "        \"resourceName\": \"kubevirt.io/usb-1050-0407-11111111\",\n"
    "        \"selectors\": [\n"
    "          {\n"
    "            \"vendor\": \"1050\",\n"
    "            \"product\": \"0407\"\n"
    "          }\n"
    "        ],\n"
    "        \"externalResourceProvider\": true\n"
    "      },\n"
    "      {\n"
    "        \"resourceName\": \"kubevirt.io/usb-1050-0407-22222222\",\n"
    "        \"selectors\": [\n"
    "          {\n"
    "            \"vendor\": \"1050\",\n"
    "            \"product\": \"0407\"\n"
    "          }\n"
    "        ],\n"
    "        \"externalResourceProvider\": true\n"
    "      }\n"
    "    ]\n"
    "  }\n"
    "}\n";

static const char example_yaml[] = "permittedHostDevices:\n"
				   "  pciHostDevices:\n"
				   "  - pciVendorSelector: \"8086:10d3\"\n"
				   "    resourceName: \"intel.com/node1-000005000\"\n"
				   "    externalResourceProvider: true\n"
				   "  - pciVendorSelector: \"8086:10d3\"\n"
				   "    resourceName: \"intel.com/node1-000006000\"\n"
				   "    externalResourceProvider: true\n"
				   "  - pciVendorSelector: \"8086:154c\"\n"
				   "    resourceName: \"intel.com/x710_vf_dpdk\"\n"
				   "    externalResourceProvider: true\n"
				   "  - pciVendorSelector: \"10de:1eb8\"\n"
				   "    resourceName: \"nvidia.com/TU104GL_TESLA_T4\"\n"
				   "    externalResourceProvider: true\n"
				   "  mediatedDevices:\n"
				   "  - mdevNameSelector: \"GRID_T4-1Q\"\n"
				   "    resourceName: \"nvidia.com/GRID_T4-1Q\"\n"
				   "    externalResourceProvider: true\n"
				   "  - mdevNameSelector: \"GRID_T4-2Q\"\n"
				   "    resourceName: \"nvidia.com/GRID_T4-2Q\"\n"
				   "    externalResourceProvider: true\n"
				   "  usb:\n"
				   "  - resourceName: \"example.com/serial-console\"\n"
				   "    selectors:\n"
				   "    - vendor: \"0403\"\n"
				   "      product: \"6001\"\n"
				   "    externalResourceProvider: true\n"
				   "  - resourceName: \"kubevirt.io/usb-1050-0407-11111111\"\n"
				   "    selectors:\n"
				   "    - vendor: \"1050\"\n"
				   "      product: \"0407\"\n"
				   "    externalResourceProvider: true\n"
				   "  - resourceName: \"kubevirt.io/usb-1050-0407-22222222\"\n"
				   "    selectors:\n"
				   "    - vendor: \"1050\"\n"
				   "      product: \"0407\"\n"
				   "    externalResourceProvider: true\n";

static void expect_text(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", got, want);
}

/* The shipped example on the fake host, and its permittedHostDevices. */
static void test_example(void **state)
{
	struct fixture *f = *state;
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;
	char *got, *text = NULL;

	assert_int_equal(hostdev_dp_config_load(f->ctx, HOSTDEV_TEST_EXAMPLE_CONFIG, &config), 0);
	assert_int_equal(hostdev_dp_resources_resolve(f->ctx, config, &res), 0);
	hostdev_dp_config_free(config);
	got = describe(res);
	expect_text(got, example_resources);
	free(got);
	assert_int_equal(
	    hostdev_dp_resources_permitted_host_devices(res, HOSTDEV_DP_FORMAT_JSON, &text), 0);
	expect_text(text, example_json);
	hostdev_free(text);
	assert_int_equal(
	    hostdev_dp_resources_permitted_host_devices(res, HOSTDEV_DP_FORMAT_YAML, &text), 0);
	expect_text(text, example_yaml);
	hostdev_free(text);
	hostdev_dp_resources_free(res);
}

static void test_harvester(void **state)
{
	struct fixture *f = *state;

	/* Pooled by Harvester name: one resource per name found. */
	expect(
	    f,
	    PCI("\"naming\": \"harvester\"", "\"class\": [\"0200\"], \"driver\": [\"vfio-pci\"]"),
	    "intel.com/82574L_GIGABIT_NETWORK_CONNECTION[0000:05:00.0,0000:05:00.1,0000:06:00.0] "
	    "intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES[0000:3b:02.0,0000:3b:02.1,0000:3b:02.2,"
	    "0000:3b:02.3,0000:3b:0a.0,0000:3b:0a.1,0000:86:02.0,0000:86:02.1,0000:86:02.2]");
	/* Without the driver selector the PFs and the e1000e NIC are in too (served, unhealthy). */
	expect(f,
	       PCI("\"naming\": \"harvester\"", "\"vendorDevice\": [\"8086:1572\", \"8086:10d3\"]"),
	       "intel.com/82574L_GIGABIT_NETWORK_CONNECTION[0000:05:00.0,0000:05:00.1,0000:06:00.0,"
	       "0000:07:00.0] intel.com/ETHERNET_CONTROLLER_X710_FOR_10GBE_SFP[0000:3b:00.0,"
	       "0000:3b:00.1,0000:86:00.0]");
	/* Nothing found: no resource. */
	expect(f, PCI("\"naming\": \"harvester\"", "\"vendorDevice\": [\"1234:5678\"]"), "");
}

static void test_per_device(void **state)
{
	struct fixture *f = *state;

	/* <vendor>/<PCIDevice object name>, as Harvester names a device it does not pool. */
	expect(f, PCI("\"naming\": \"per-device\"", "\"vendorDevice\": [\"10de:*\"]"),
	       "nvidia.com/node1-0000af000[0000:af:00.0] nvidia.com/node1-0000d8000[0000:d8:00.0] "
	       "nvidia.com/node1-0000e0000[0000:e0:00.0]");
	/* A node name that makes the name too long: shortened with a hash, still valid. */
	assert_int_equal(hostdev_ctx_set_node_name(f->ctx, "a-very-long-node-name-of-a-cluster-"
							   "that-is-named-by-a-cloud-provider"),
			 0);
	expect(f, PCI("\"naming\": \"per-device\"", "\"address\": [\"0000:af:00.0\"]"),
	       "nvidia.com/a-very-long-node-name-of-a-cluster-that-is-named-bya-4491706633"
	       "[0000:af:00.0]");
}

static void test_explicit(void **state)
{
	struct fixture *f = *state;

	expect(f, PCI("\"resourceName\": \"example.com/nic\"", "\"vendorDevice\": [\"8086:10d3\"]"),
	       "example.com/nic[0000:05:00.0,0000:05:00.1,0000:06:00.0,0000:07:00.0]");
	/* An explicit resource exists also when nothing matches now (devices may come later). */
	expect(f,
	       PCI("\"resourceName\": \"example.com/none\"", "\"vendorDevice\": [\"1234:5678\"]"),
	       "example.com/none[]");
	/* Selectors of different kinds AND, items of one list OR. */
	expect(f,
	       PCI("\"resourceName\": \"example.com/x\"",
		   "\"vendorDevice\": [\"8086:10d3\", \"10de:1eb8\"], \"driver\": [\"vfio-pci\"], "
		   "\"address\": [\"0000:05:00.1\", \"0000:af:00.0\", \"0000:07:00.0\"]"),
	       "example.com/x[0000:05:00.1,0000:af:00.0]");
	/* Bridges are never selected. */
	expect(f, PCI("\"resourceName\": \"example.com/bridge\"", "\"class\": [\"06\"]"),
	       "example.com/bridge[]");
	/* "none" selects devices without a driver. */
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:06:00.0", NULL), 0);
	expect(f, PCI("\"resourceName\": \"example.com/free\"", "\"driver\": [\"none\"]"),
	       "example.com/free[0000:06:00.0]");
}

static void test_pf(void **state)
{
	struct fixture *f = *state;

	expect(f,
	       PCI("\"resourceName\": \"example.com/vf\"",
		   "\"pf\": [{\"name\": \"ens1f0\", \"vfs\": \"#0,2-3\"}]"),
	       "example.com/vf[0000:3b:02.0,0000:3b:02.2,0000:3b:02.3]");
	expect(f,
	       PCI("\"resourceName\": \"example.com/vf\"", "\"pf\": [{\"address\": \"3b:00.1\"}]"),
	       "example.com/vf[0000:3b:0a.0,0000:3b:0a.1]");
	expect(
	    f,
	    PCI("\"resourceName\": \"example.com/vf\"",
		"\"pf\": [{\"name\": \"ens2f0\", \"vfs\": \"2\"}, {\"name\": \"ens1f1\", \"vfs\": "
		"\"1-7\"}]"),
	    "example.com/vf[0000:3b:0a.1,0000:86:02.2]");
	/* A PF that is not there, and PF + vendorDevice (the VFs are 154c, not 1572). */
	expect(f, PCI("\"resourceName\": \"example.com/vf\"", "\"pf\": [{\"name\": \"ens9\"}]"),
	       "example.com/vf[]");
	expect(f,
	       PCI("\"resourceName\": \"example.com/vf\"",
		   "\"pf\": [{\"name\": \"ens2f0\"}], \"vendorDevice\": [\"8086:1572\"]"),
	       "example.com/vf[]");
	/* A PF selector never selects the PF itself, nor devices that are not VFs. */
	expect(f,
	       PCI("\"resourceName\": \"example.com/vf\"",
		   "\"pf\": [{\"address\": \"0000:05:00.0\"}]"),
	       "example.com/vf[]");
	/* Pooled: the VFs' Harvester name. */
	expect(f,
	       PCI("\"naming\": \"harvester\"", "\"pf\": [{\"name\": \"ens2f0\", \"vfs\": \"1\"}]"),
	       "intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES[0000:86:02.1]");
}

static void test_first_entry_wins(void **state)
{
	struct fixture *f = *state;

	/* 05:00.0 goes to the first entry only: one device is never in two resources. */
	expect(f,
	       "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/a\", "
	       "\"selectors\": {\"address\": [\"0000:05:00.0\"]}}, {\"kind\": \"pci\", \"naming\": "
	       "\"harvester\", \"selectors\": {\"vendorDevice\": [\"8086:10d3\"], \"driver\": "
	       "[\"vfio-pci\"]}}]}",
	       "example.com/a[0000:05:00.0] "
	       "intel.com/82574L_GIGABIT_NETWORK_CONNECTION[0000:05:00.1,0000:06:00.0]");
	/* Kinds do not compete (an mdev parent is not the mdev). */
	expect(f,
	       "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/t4\", "
	       "\"selectors\": {\"address\": [\"0000:e0:00.0\"]}}, {\"kind\": \"mdev\", "
	       "\"resourceName\": \"example.com/vgpu\", \"selectors\": {\"parent\": "
	       "[\"0000:e0:00.0\"]}}]}",
	       "example.com/t4[0000:e0:00.0] example.com/vgpu(mdev)[" MDEV_A "," MDEV_B "," MDEV_C
	       "]");
}

static void expect_error(struct fixture *f, const char *json, int err, const char *message)
{
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;

	assert_int_equal(hostdev_dp_config_parse(f->ctx, json, &config), 0);
	assert_int_equal(hostdev_dp_resources_resolve(f->ctx, config, &res), err);
	assert_null(res);
	assert_string_equal(hostdev_ctx_get_error(f->ctx), message);
	hostdev_dp_config_free(config);
}

static void test_conflicts(void **state)
{
	struct fixture *f = *state;

	expect_error(
	    f,
	    "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"harvester\", \"selectors\": "
	    "{\"driver\": [\"vfio-pci\"]}}, {\"kind\": \"pci\", \"naming\": \"harvester\", "
	    "\"selectors\": {\"vendorDevice\": [\"8086:10d3\"]}}]}",
	    -EINVAL,
	    "resources[0] and resources[1] both give the resource "
	    "intel.com/82574L_GIGABIT_NETWORK_CONNECTION (from 0000:07:00.0); a resource is "
	    "served by one entry: give one of them an explicit resourceName or make their "
	    "selectors disjoint");
	expect_error(f,
		     "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": "
		     "\"nvidia.com/TU104GL_TESLA_T4\", \"selectors\": {\"address\": "
		     "[\"0000:af:00.0\"]}}, {\"kind\": \"pci\", \"naming\": \"harvester\", "
		     "\"selectors\": {\"vendorDevice\": [\"10de:1eb8\"]}}]}",
		     -EINVAL,
		     "resources[0] and resources[1] both give the resource "
		     "nvidia.com/TU104GL_TESLA_T4 (from 0000:d8:00.0); a resource is served by one "
		     "entry: give one of them an explicit resourceName or make their selectors "
		     "disjoint");
}

#define USB(naming, selectors, extra)                                                              \
	"{\"resources\": [{\"kind\": \"usb\", " naming ", \"selectors\": {" selectors "}" extra    \
	"}]}"

static void test_usb(void **state)
{
	struct fixture *f = *state;

	/* Serial identities, one resource each. */
	expect(f, USB("\"naming\": \"per-device\"", "\"vendorProduct\": [\"1050:0407\"]", ""),
	       "kubevirt.io/usb-1050-0407-11111111(usb)[usb-1050-0407-11111111] "
	       "kubevirt.io/usb-1050-0407-22222222(usb)[usb-1050-0407-22222222]");
	/* No serial: the port identity. */
	expect(f,
	       USB("\"resourceName\": \"example.com/ftdi\"", "\"vendorProduct\": [\"0403:*\"]", ""),
	       "example.com/ftdi(usb)[node1-000000140-usb2-4,node1-000000140-usb2-5]");
	/* A serial two devices share is no identity: auto falls back to the port... */
	expect(
	    f,
	    USB("\"resourceName\": \"example.com/same\"", "\"vendorProduct\": [\"1234:5678\"]", ""),
	    "example.com/same(usb)[node1-000000140-usb2-6,node1-000000140-usb2-7]");
	/* ...serial leaves them out... */
	expect(f,
	       USB("\"resourceName\": \"example.com/same\"",
		   "\"vendorProduct\": [\"1234:5678\", \"0627:0001\"]",
		   ", \"usbIdentity\": \"serial\""),
	       "example.com/same(usb)[usb-0627-0001-42]");
	/* ...and port always uses the port. */
	expect(f,
	       USB("\"resourceName\": \"example.com/kbd\"", "\"serial\": [\"42\"]",
		   ", \"usbIdentity\": \"port\""),
	       "example.com/kbd(usb)[node1-000000140-usb2-1]");
	expect(f, USB("\"resourceName\": \"example.com/p\"", "\"port\": [\"1-3\", \"1-5\"]", ""),
	       "example.com/p(usb)[usb-1050-0407-22222222,node1-000000140-usb2-5]");
	/* Harvester's per-device USB names (they change on re-plug). */
	expect(f, USB("\"naming\": \"harvester\"", "\"vendorProduct\": [\"1050:0407\"]", ""),
	       "kubevirt.io/node1-1050-0407-001003(usb)[usb-1050-0407-11111111] "
	       "kubevirt.io/node1-1050-0407-001004(usb)[usb-1050-0407-22222222]");
	/* Per-device names of port identities. */
	expect(f, USB("\"naming\": \"per-device\"", "\"port\": [\"1-4\"]", ""),
	       "kubevirt.io/node1-000000140-usb2-4(usb)[node1-000000140-usb2-4]");
}

#define MDEV(naming, selectors)                                                                    \
	"{\"resources\": [{\"kind\": \"mdev\", " naming ", \"selectors\": {" selectors "}}]}"

static void test_mdev(void **state)
{
	struct fixture *f = *state;

	expect(f, MDEV("\"resourceName\": \"example.com/q1\"", "\"type\": [\"GRID_T4-1Q\"]"),
	       "example.com/q1(mdev)[" MDEV_A "," MDEV_B "]");
	expect(f, MDEV("\"resourceName\": \"example.com/q2\"", "\"type\": [\"nvidia-223\"]"),
	       "example.com/q2(mdev)[" MDEV_C "]");
	expect(f, MDEV("\"naming\": \"harvester\"", "\"parent\": [\"0000:e0:00.0\"]"),
	       "nvidia.com/GRID_T4-1Q(mdev)[" MDEV_A "," MDEV_B
	       "] nvidia.com/GRID_T4-2Q(mdev)[" MDEV_C "]");
	expect(f, MDEV("\"naming\": \"harvester\"", "\"parent\": [\"mtty\"]"), "");
	expect(f, MDEV("\"naming\": \"per-device\"", "\"type\": [\"GRID T4-2Q\"]"),
	       "nvidia.com/GRID_T4-2Q-" MDEV_C "(mdev)[" MDEV_C "]");
}

static void test_api(void **state)
{
	struct fixture *f = *state;
	hostdev_dp_resources *res = resolve(
	    f, PCI("\"resourceName\": \"example.com/nic\"", "\"address\": [\"0000:06:00.0\"]"));
	hostdev_dp_config *config = NULL;
	char *text = NULL;

	assert_int_equal(hostdev_dp_resources_get_count(res), 1);
	assert_int_equal(hostdev_dp_resources_get_kind(res, 0), HOSTDEV_DP_KIND_PCI);
	assert_null(hostdev_dp_resources_get_name(res, 1));
	assert_int_equal(hostdev_dp_resources_get_kind(res, 1), -1);
	assert_int_equal(hostdev_dp_resources_get_device_count(res, 1), 0);
	assert_null(hostdev_dp_resources_get_device_id(res, 0, 1));
	assert_null(hostdev_dp_resources_get_device_id(res, 1, 0));
	assert_int_equal(hostdev_dp_resources_get_count(NULL), 0);
	assert_null(hostdev_dp_resources_get_name(NULL, 0));
	assert_int_equal(hostdev_dp_resources_permitted_host_devices(res, 2, &text), -EINVAL);
	assert_int_equal(hostdev_dp_resources_permitted_host_devices(NULL, 0, &text), -EINVAL);
	assert_int_equal(hostdev_dp_resources_permitted_host_devices(res, 0, NULL), -EINVAL);
	assert_null(text);
	hostdev_dp_resources_free(res);
	assert_null(hostdev_dp_resources_free(NULL));
	assert_int_equal(hostdev_dp_resources_resolve(NULL, config, &res), -EINVAL);
	assert_int_equal(hostdev_dp_resources_resolve(f->ctx, NULL, &res), -EINVAL);

	/* Each entry's naming (HOSTDEV_1.8), in the order written. */
	assert_int_equal(
	    hostdev_dp_config_parse(
		f->ctx,
		"{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/a\", "
		"\"selectors\": {\"address\": [\"0000:05:00.0\"]}}, {\"kind\": \"pci\", "
		"\"naming\": \"harvester\", \"selectors\": {\"vendorDevice\": [\"8086:10d3\"]}}, "
		"{\"kind\": \"usb\", \"naming\": \"per-device\", \"selectors\": "
		"{\"vendorProduct\": [\"0627:0001\"]}}]}",
		&config),
	    0);
	assert_int_equal(hostdev_dp_config_get_naming(config, 0), HOSTDEV_DP_NAMING_EXPLICIT);
	assert_int_equal(hostdev_dp_config_get_naming(config, 1), HOSTDEV_DP_NAMING_HARVESTER);
	assert_int_equal(hostdev_dp_config_get_naming(config, 2), HOSTDEV_DP_NAMING_PER_DEVICE);
	assert_int_equal(hostdev_dp_config_get_naming(config, 3), -1);
	assert_int_equal(hostdev_dp_config_get_naming(NULL, 0), -1);
	hostdev_dp_config_unref(config);
}

/*
 * One lifetime word: _ref/_unref (HOSTDEV_1.2) on the config and the resources, and the HOSTDEV_1
 * name _free still drops one reference, no more (ASan and valgrind see a use after free or a
 * leak when either is wrong).
 */
static void test_ref_unref_and_free_alias(void **state)
{
	struct fixture *f = *state;
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;

	assert_int_equal(hostdev_dp_config_parse(f->ctx,
						 PCI("\"resourceName\": \"example.com/nic\"",
						     "\"address\": [\"0000:06:00.0\"]"),
						 &config),
			 0);
	assert_ptr_equal(hostdev_dp_config_ref(config), config);
	assert_null(hostdev_dp_config_free(config)); /* the old name drops one of two */
	assert_int_equal(hostdev_dp_resources_resolve(f->ctx, config, &res), 0);
	assert_null(hostdev_dp_config_unref(config)); /* the resources keep theirs */
	assert_ptr_equal(hostdev_dp_resources_ref(res), res);
	assert_null(hostdev_dp_resources_unref(res));
	assert_string_equal(hostdev_dp_resources_get_name(res, 0), "example.com/nic");
	assert_ptr_equal(hostdev_dp_resources_ref(res), res);
	assert_null(hostdev_dp_resources_free(res));
	assert_int_equal(hostdev_dp_resources_get_device_count(res, 0), 1);
	assert_null(hostdev_dp_resources_unref(res)); /* the last one frees */
	assert_null(hostdev_dp_config_ref(NULL));
	assert_null(hostdev_dp_config_unref(NULL));
	assert_null(hostdev_dp_resources_ref(NULL));
	assert_null(hostdev_dp_resources_unref(NULL));
}

static void expect_permitted(struct fixture *f, const char *json, const char *want_json,
			     const char *want_yaml)
{
	hostdev_dp_resources *res = resolve(f, json);
	char *text = NULL;

	assert_int_equal(
	    hostdev_dp_resources_permitted_host_devices(res, HOSTDEV_DP_FORMAT_JSON, &text), 0);
	expect_text(text, want_json);
	hostdev_free(text);
	assert_int_equal(
	    hostdev_dp_resources_permitted_host_devices(res, HOSTDEV_DP_FORMAT_YAML, &text), 0);
	expect_text(text, want_yaml);
	hostdev_free(text);
	hostdev_dp_resources_free(res);
}

static void test_permitted(void **state)
{
	struct fixture *f = *state;

	/* Nothing to permit. */
	expect_permitted(f, PCI("\"naming\": \"harvester\"", "\"vendorDevice\": [\"1234:5678\"]"),
			 "{\n  \"permittedHostDevices\": {}\n}\n", "permittedHostDevices: {}\n");
	/* A resource without devices now is permitted with the exact ids of its selectors
	 * (wildcards give nothing), the ids found are added and sorted. */
	expect_permitted(
	    f,
	    "{\"resources\": [{\"kind\": \"pci\", \"resourceName\": \"example.com/later\", "
	    "\"selectors\": {\"vendorDevice\": [\"abcd:0002\", \"abcd:0001\", \"1234:*\"]}}, "
	    "{\"kind\": \"pci\", \"resourceName\": \"example.com/mix\", \"selectors\": "
	    "{\"address\": [\"0000:af:00.0\", \"0000:3b:02.0\", \"0000:05:00.0\"]}}, "
	    "{\"kind\": \"usb\", \"resourceName\": \"example.com/keys\", \"selectors\": "
	    "{\"vendorProduct\": [\"1050:0407\", \"0627:0001\", \"0403:*\"]}}]}",
	    "{\n"
	    "  \"permittedHostDevices\": {\n"
	    "    \"pciHostDevices\": [\n"
	    "      {\n"
	    "        \"pciVendorSelector\": \"abcd:0001\",\n"
	    "        \"resourceName\": \"example.com/later\",\n"
	    "        \"externalResourceProvider\": true\n"
	    "      },\n"
	    "      {\n"
	    "        \"pciVendorSelector\": \"abcd:0002\",\n"
	    "        \"resourceName\": \"example.com/later\",\n"
	    "        \"externalResourceProvider\": true\n"
	    "      },\n"
	    "      {\n"
	    "        \"pciVendorSelector\": \"10de:1eb8\",\n"
	    "        \"resourceName\": \"example.com/mix\",\n"
	    "        \"externalResourceProvider\": true\n"
	    "      },\n"
	    "      {\n"
	    "        \"pciVendorSelector\": \"8086:10d3\",\n"
	    "        \"resourceName\": \"example.com/mix\",\n"
	    "        \"externalResourceProvider\": true\n"
	    "      },\n"
	    "      {\n"
	    "        \"pciVendorSelector\": \"8086:154c\",\n"
	    "        \"resourceName\": \"example.com/mix\",\n"
	    "        \"externalResourceProvider\": true\n"
	    "      }\n"
	    "    ],\n"
	    "    \"usb\": [\n"
	    "      {\n"
	    "        \"resourceName\": \"example.com/keys\",\n"
	    "        \"selectors\": [\n"
	    "          {\n"
	    "            \"vendor\": \"0403\",\n"
	    "            \"product\": \"6001\"\n"
	    "          },\n"
	    "          {\n"
	    "            \"vendor\": \"0627\",\n"
	    "            \"product\": \"0001\"\n"
	    "          },\n"
	    "          {\n"
	    "            \"vendor\": \"1050\",\n"
	    "            \"product\": \"0407\"\n"
	    "          }\n"
	    "        ],\n"
	    "        \"externalResourceProvider\": true\n"
	    "      }\n"
	    "    ]\n"
	    "  }\n"
	    "}\n",
	    "permittedHostDevices:\n"
	    "  pciHostDevices:\n"
	    "  - pciVendorSelector: \"abcd:0001\"\n"
	    "    resourceName: \"example.com/later\"\n"
	    "    externalResourceProvider: true\n"
	    "  - pciVendorSelector: \"abcd:0002\"\n"
	    "    resourceName: \"example.com/later\"\n"
	    "    externalResourceProvider: true\n"
	    "  - pciVendorSelector: \"10de:1eb8\"\n"
	    "    resourceName: \"example.com/mix\"\n"
	    "    externalResourceProvider: true\n"
	    "  - pciVendorSelector: \"8086:10d3\"\n"
	    "    resourceName: \"example.com/mix\"\n"
	    "    externalResourceProvider: true\n"
	    "  - pciVendorSelector: \"8086:154c\"\n"
	    "    resourceName: \"example.com/mix\"\n"
	    "    externalResourceProvider: true\n"
	    "  usb:\n"
	    "  - resourceName: \"example.com/keys\"\n"
	    "    selectors:\n"
	    "    - vendor: \"0403\"\n"
	    "      product: \"6001\"\n"
	    "    - vendor: \"0627\"\n"
	    "      product: \"0001\"\n"
	    "    - vendor: \"1050\"\n"
	    "      product: \"0407\"\n"
	    "    externalResourceProvider: true\n");
}

/* A USB bundle is one KubeVirt usb entry whose selectors are its members in the order
 * written (not sorted: KubeVirt forms sets in that order), next to a single-device entry as
 * before. On the fake host nothing matches the bundle: the resource exists without devices. */
static void test_permitted_bundle(void **state)
{
	struct fixture *f = *state;
	static const char config[] =
	    "{\"resources\": [{\"kind\": \"usb\", \"resourceName\": \"example.com/desk\", "
	    "\"selectors\": {\"bundle\": [\"076b:3021\", \"046d:c31c\", \"046d:c077\"]}}, "
	    "{\"kind\": \"usb\", \"resourceName\": \"example.com/serial\", \"selectors\": "
	    "{\"vendorProduct\": [\"0403:6001\"]}}]}";

	expect(f, config,
	       "example.com/desk(usb)[] "
	       "example.com/serial(usb)[node1-000000140-usb2-4,node1-000000140-usb2-5]");
	expect_permitted(f, config,
			 "{\n"
			 "  \"permittedHostDevices\": {\n"
			 "    \"usb\": [\n"
			 "      {\n"
			 "        \"resourceName\": \"example.com/desk\",\n"
			 "        \"selectors\": [\n"
			 "          {\n"
			 "            \"vendor\": \"076b\",\n"
			 "            \"product\": \"3021\"\n"
			 "          },\n"
			 "          {\n"
			 "            \"vendor\": \"046d\",\n"
			 "            \"product\": \"c31c\"\n"
			 "          },\n"
			 "          {\n"
			 "            \"vendor\": \"046d\",\n"
			 "            \"product\": \"c077\"\n"
			 "          }\n"
			 "        ],\n"
			 "        \"externalResourceProvider\": true\n"
			 "      },\n"
			 "      {\n"
			 "        \"resourceName\": \"example.com/serial\",\n"
			 "        \"selectors\": [\n"
			 "          {\n"
			 "            \"vendor\": \"0403\",\n"
			 "            \"product\": \"6001\"\n"
			 "          }\n"
			 "        ],\n"
			 "        \"externalResourceProvider\": true\n"
			 "      }\n"
			 "    ]\n"
			 "  }\n"
			 "}\n",
			 "permittedHostDevices:\n"
			 "  usb:\n"
			 "  - resourceName: \"example.com/desk\"\n"
			 "    selectors:\n"
			 "    - vendor: \"076b\"\n"
			 "      product: \"3021\"\n"
			 "    - vendor: \"046d\"\n"
			 "      product: \"c31c\"\n"
			 "    - vendor: \"046d\"\n"
			 "      product: \"c077\"\n"
			 "    externalResourceProvider: true\n"
			 "  - resourceName: \"example.com/serial\"\n"
			 "    selectors:\n"
			 "    - vendor: \"0403\"\n"
			 "      product: \"6001\"\n"
			 "    externalResourceProvider: true\n");
	/* Two complete sets and a keyboard left over: two ids, named after their reader (the
	 * first selector). The root ports' devices pair first, then the hub's keyboard and mouse
	 * with the second reader. The single-device entry keeps its devices. */
	assert_int_equal(dp_tree_add_usb(f->root, "1-8.1", 0x046d, 0xc31c, NULL, 40), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-8.2", 0x046d, 0xc077, NULL, 41), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-10", 0x076b, 0x3021, NULL, 42), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-9", 0x076b, 0x3021, NULL, 43), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-11", 0x046d, 0xc31c, NULL, 44), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-12", 0x046d, 0xc077, NULL, 45), 0);
	assert_int_equal(dp_tree_add_usb(f->root, "1-13", 0x046d, 0xc31c, NULL, 46), 0);
	expect(f, config,
	       "example.com/desk(usb)[node1-000000140-usb2-9,node1-000000140-usb2-10] "
	       "example.com/serial(usb)[node1-000000140-usb2-4,node1-000000140-usb2-5]");
}

/* An mdev type name with characters JSON and YAML must escape. */
static void test_permitted_escapes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    fakeroot_pci_add_mdev_type(
		f->root, "0000:e0:00.0",
		&(struct fake_mdev_type){.id = "odd-1",
					 .name = "Odd \"quoted\"\\\x01\x7f\xc2\x85\xff "
						 "\xc3\xa9"}),
	    0);
	assert_int_equal(dp_tree_add_mdev(f->root, "0000:e0:00.0", "odd-1",
					  "44444444-5555-6666-7777-888888888888", "73"),
			 0);
	expect_permitted(
	    f, MDEV("\"resourceName\": \"example.com/odd\"", "\"type\": [\"odd-1\"]"),
	    "{\n"
	    "  \"permittedHostDevices\": {\n"
	    "    \"mediatedDevices\": [\n"
	    "      {\n"
	    "        \"mdevNameSelector\": \"Odd_\\\"quoted\\\"\\\\\\u0001\\u007f"
	    "\\u0085\\ufffd_\xc3\xa9\",\n"
	    "        \"resourceName\": \"example.com/odd\",\n"
	    "        \"externalResourceProvider\": true\n"
	    "      }\n"
	    "    ]\n"
	    "  }\n"
	    "}\n",
	    "permittedHostDevices:\n"
	    "  mediatedDevices:\n"
	    "  - mdevNameSelector: \"Odd_\\\"quoted\\\"\\\\\\u0001\\u007f\\u0085\\ufffd_"
	    "\xc3\xa9\"\n"
	    "    resourceName: \"example.com/odd\"\n"
	    "    externalResourceProvider: true\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_example, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ref_unref_and_free_alias, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_harvester, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_per_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explicit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_entry_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mdev, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permitted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permitted_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permitted_bundle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
