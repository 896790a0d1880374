/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Naming contracts (REFERENCE.md section 3 and 4) as table tests over the pure functions of
 * hostdev/naming.h. The vectors of the reference come first in each table, then edge cases derived
 * from the written rules.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostdev.h"

#define SOCKET_PREFIX "/var/lib/kubelet/device-plugins/kubevirt-"

/* --- vendor part --------------------------------------------------------------------------------
 */

static const struct {
	const char *vendor_name;
	const char *expected;
} vendor_vectors[] = {
    /* REFERENCE.md section 3 */
    {"Advanced Micro Devices, Inc. [AMD/ATI]", "amd.com"},
    {"Hewlett-Packard Company", "hewlettpackard.com"},
    {"Red Hat, Inc.", "red.com"},
    {"Intel Corporation", "intel.com"},
    {"NVIDIA Corporation", "nvidia.com"},
    {"Mellanox Technologies", "mellanox.com"},
    {"Broadcom Inc. and subsidiaries", "broadcom.com"},
    {"Realtek Semiconductor Co., Ltd.", "realtek.com"},
    {NULL, "unknown.com"},
    /* derived */
    {"Advanced Micro Devices, Inc. [AMD]", "amd.com"},
    {"Matrox Electronics Systems Ltd.", "matrox.com"},
    {"", "unknown.com"},
    {"[/ATI]", "unknown.com"},	 /* bracket text cut at '/' leaves nothing */
    {"!!! Corp", "unknown.com"}, /* first word has no alphanumerics */
    {"Foo-Bar [Baz-Qux/Quux] Inc", "bazqux.com"},
    {"ACME", "acme.com"},
};

static void test_resource_vendor(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vendor_vectors) / sizeof(vendor_vectors[0]); i++) {
		char buf[HOSTDEV_NAME_MAX];
		int r;

		memset(buf, 'X', sizeof(buf));
		r = hostdev_naming_resource_vendor(vendor_vectors[i].vendor_name, buf, sizeof(buf));
		if (r < 0 || strcmp(buf, vendor_vectors[i].expected) != 0)
			print_error("vendor \"%s\": expected \"%s\", got r=%d \"%s\"\n",
				    vendor_vectors[i].vendor_name ? vendor_vectors[i].vendor_name
								  : "(NULL)",
				    vendor_vectors[i].expected, r, r >= 0 ? buf : "");
		assert_int_equal(r, (int)strlen(vendor_vectors[i].expected));
		assert_string_equal(buf, vendor_vectors[i].expected);
	}
}

/* --- pooled resource name -----------------------------------------------------------------------
 */

static const struct {
	const char *vendor_name;
	const char *device_name;
	unsigned int device_id;
	const char *expected;
} resource_vectors[] = {
    /* REFERENCE.md section 3 vectors */
    {"Intel Corporation", "Ethernet Connection (11) I219-LM", 0x0d4c,
     "intel.com/ETHERNET_CONNECTION_11_I219LM"},
    {"NVIDIA Corporation", "GA100 [A100 SXM4 40GB]", 0x20b0, "nvidia.com/GA100_A100_SXM4_40GB"},
    {"Advanced Micro Devices, Inc. [AMD/ATI]", "R481 [Radeon X850 XT AGP]", 0x4b4b,
     "amd.com/R481_RADEON_X850_XT_AGP"},
    {"Mellanox Technologies", "MT27700 Family [ConnectX-4 Virtual Function]", 0x1014,
     "mellanox.com/MT27700_FAMILY_CONNECTX4_VIRTUAL_FUNCTION"},
    /* socket path 117 bytes -> VIRTUAL_FUNCTION becomes VF (104 bytes) */
    {"Broadcom Inc. and subsidiaries", "NetXtreme II BCM57810 10 Gigabit Ethernet Virtual Function",
     0x16af, "broadcom.com/NETXTREME_II_BCM57810_10_GIGABIT_ETHERNET_VF"},
    /* socket path 116 bytes, no VIRTUAL_FUNCTION -> device id */
    {"Realtek Semiconductor Co., Ltd.", "RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller",
     0x8168, "realtek.com/8168"},
    /* derived from the rules */
    {"Intel Corporation", "I350 Gigabit Network Connection", 0x1521,
     "intel.com/I350_GIGABIT_NETWORK_CONNECTION"},
    {"Intel Corporation", "I350 Ethernet Controller Virtual Function", 0x1520,
     "intel.com/I350_ETHERNET_CONTROLLER_VIRTUAL_FUNCTION"}, /* 98 bytes: kept */
    {"NVIDIA Corporation", "TU104GL [Tesla T4]", 0x1eb8, "nvidia.com/TU104GL_TESLA_T4"},
    /* still too long after the VF replacement -> device id */
    {"Intel Corporation",
     "Very Long Ethernet Controller Name That Exceeds Everything Virtual Function", 0x1889,
     "intel.com/1889"},
    /* socket path exactly 108 bytes: kept; 109 bytes: device id */
    {"Intel Corporation", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", 0x1234,
     "intel.com/XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"},
    {"Intel Corporation", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", 0x1234,
     "intel.com/1234"},
    /* trailing '_', '.', '-' stripped; '.' and '/' -> '_'; punctuation dropped */
    {"Intel Corporation", "Foo Bar -", 0x0001, "intel.com/FOO_BAR"},
    {"Intel Corporation", "Foo 1.0 (rev. 2)", 0x0001, "intel.com/FOO_1_0_REV__2"},
    {"Intel Corporation", "Widget 3000 [ ]", 0x0001, "intel.com/WIDGET_3000"},
    {"Intel Corporation", "  Padded  Name  ", 0x0001, "intel.com/PADDED_NAME"},
    /* unknown or empty product -> 4-hex device id */
    {"Intel Corporation", NULL, 0x1521, "intel.com/1521"},
    {"Intel Corporation", "()", 0x10fb, "intel.com/10fb"},
    {"Intel Corporation", "   ", 0x0042, "intel.com/0042"},
    {NULL, NULL, 0x1234, "unknown.com/1234"},
    {NULL, "Fake Widget", 0x1234, "unknown.com/FAKE_WIDGET"},
};

static void test_pci_resource(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(resource_vectors) / sizeof(resource_vectors[0]); i++) {
		char buf[HOSTDEV_NAME_MAX];
		int r;

		memset(buf, 'X', sizeof(buf));
		r = hostdev_naming_pci_resource(resource_vectors[i].vendor_name,
						resource_vectors[i].device_name,
						resource_vectors[i].device_id, buf, sizeof(buf));
		if (r < 0 || strcmp(buf, resource_vectors[i].expected) != 0)
			print_error(
			    "resource (\"%s\", \"%s\", %04x): expected \"%s\", got r=%d "
			    "\"%s\"\n",
			    resource_vectors[i].vendor_name ? resource_vectors[i].vendor_name
							    : "(NULL)",
			    resource_vectors[i].device_name ? resource_vectors[i].device_name
							    : "(NULL)",
			    resource_vectors[i].device_id, resource_vectors[i].expected, r,
			    r >= 0 ? buf : "");
		assert_int_equal(r, (int)strlen(resource_vectors[i].expected));
		assert_string_equal(buf, resource_vectors[i].expected);
	}
}

/* Every pooled name the function produces satisfies the socket rule and is a valid resource name.
 */
static void test_pci_resource_invariants(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(resource_vectors) / sizeof(resource_vectors[0]); i++) {
		char buf[HOSTDEV_NAME_MAX], sock[HOSTDEV_NAME_MAX * 2];
		char *slash;

		assert_true(hostdev_naming_pci_resource(
				resource_vectors[i].vendor_name, resource_vectors[i].device_name,
				resource_vectors[i].device_id, buf, sizeof(buf)) > 0);
		slash = strchr(buf, '/');
		assert_non_null(slash);
		snprintf(sock, sizeof(sock), "%s/%.*s-%s.sock", SOCKET_PREFIX, (int)(slash - buf),
			 buf, slash + 1);
		assert_true(strlen(sock) <= 108);
		assert_int_equal(hostdev_naming_check_resource_name(buf), 0);
	}
}

static void test_pci_resource_enospc(void **state)
{
	const char *expected = "nvidia.com/GA100_A100_SXM4_40GB";
	size_t len = strlen(expected);
	char buf[HOSTDEV_NAME_MAX];

	(void)state;
	assert_int_equal(hostdev_naming_pci_resource("NVIDIA Corporation", "GA100 [A100 SXM4 40GB]",
						     0x20b0, buf, len),
			 -ENOSPC);
	/* A zero-size buffer is refused (the header allows -EINVAL or -ENOSPC here). */
	int r0 = hostdev_naming_pci_resource("NVIDIA Corporation", "GA100 [A100 SXM4 40GB]", 0x20b0,
					     buf, 0);
	assert_true(r0 == -ENOSPC || r0 == -EINVAL);
	assert_int_equal(hostdev_naming_pci_resource("NVIDIA Corporation", "GA100 [A100 SXM4 40GB]",
						     0x20b0, buf, len + 1),
			 (int)len);
	assert_string_equal(buf, expected);
	assert_int_equal(hostdev_naming_resource_vendor("Intel Corporation", buf, 9), -ENOSPC);
	assert_int_equal(hostdev_naming_resource_vendor("Intel Corporation", buf, 10), 9);
	assert_string_equal(buf, "intel.com");
}

/* --- object names -------------------------------------------------------------------------------
 */

static void test_pci_object_name(void **state)
{
	static const struct {
		const char *node, *address, *expected;
	} v[] = {
	    {"node1", "0000:08:00.0", "node1-000008000"}, /* REFERENCE.md */
	    {"jacknode", "0000:3b:02.1", "jacknode-00003b021"},
	    {"harvester-abcde", "0001:ff:1f.7", "harvester-abcde-0001ff1f7"},
	};
	char buf[HOSTDEV_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(
		    hostdev_naming_pci_object_name(v[i].node, v[i].address, buf, sizeof(buf)),
		    (int)strlen(v[i].expected));
		assert_string_equal(buf, v[i].expected);
	}
	assert_int_equal(hostdev_naming_pci_object_name("node1", "0000:08:00.0", buf, 15), -ENOSPC);
	assert_int_equal(hostdev_naming_pci_object_name("node1", "0000:08:00.0", buf, 16), 15);
	assert_int_equal(hostdev_naming_pci_object_name(NULL, "0000:08:00.0", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(hostdev_naming_pci_object_name("node1", NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_usb_object_name(void **state)
{
	char buf[HOSTDEV_NAME_MAX];

	(void)state;
	assert_int_equal(
	    hostdev_naming_usb_object_name("jacknode", 0x0951, 0x1666, 2, 4, buf, sizeof(buf)), 25);
	assert_string_equal(buf, "jacknode-0951-1666-002004");
	assert_int_equal(
	    hostdev_naming_usb_object_name("n", 0x1d6b, 0x0003, 1, 127, buf, sizeof(buf)), 18);
	assert_string_equal(buf, "n-1d6b-0003-001127");
	assert_int_equal(hostdev_naming_usb_object_name("jacknode", 0x0951, 0x1666, 2, 4, buf, 25),
			 -ENOSPC);
	assert_int_equal(
	    hostdev_naming_usb_object_name(NULL, 0x0951, 0x1666, 2, 4, buf, sizeof(buf)), -EINVAL);
}

/* --- description --------------------------------------------------------------------------------
 */

static void test_pci_description(void **state)
{
	static const struct {
		const char *class_name, *subclass_name;
		unsigned int class_code;
		const char *vendor_name;
		unsigned int vendor_id;
		const char *device_name;
		unsigned int device_id;
		const char *expected;
	} v[] = {
	    {"Network controller", "Ethernet controller", 0x020000, "Intel Corporation", 0x8086,
	     "I350 Gigabit Network Connection", 0x1521,
	     "Ethernet controller: Intel Corporation I350 Gigabit Network Connection"},
	    /* no subclass name: the class name */
	    {"Network controller", NULL, 0x028000, "Intel Corporation", 0x8086,
	     "I350 Gigabit Network Connection", 0x1521,
	     "Network controller: Intel Corporation I350 Gigabit Network Connection"},
	    /* nothing known */
	    {NULL, NULL, 0x020000, NULL, 0x8086, NULL, 0x1521,
	     "Class 0200: Vendor 8086 Device 1521"},
	    {NULL, NULL, 0x120000, "Intel Corporation", 0x8086, NULL, 0x1234,
	     "Class 1200: Intel Corporation Device 1234"},
	    {"Display controller", "3D controller", 0x030200, NULL, 0x1234, "Fake GPU", 0x5678,
	     "3D controller: Vendor 1234 Fake GPU"},
	    /* hex digits are lower-case, as lspci prints unknown ids */
	    {NULL, NULL, 0x0c0330, NULL, 0x1dea, NULL, 0xabcd,
	     "Class 0c03: Vendor 1dea Device abcd"},
	};
	char buf[HOSTDEV_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int r = hostdev_naming_pci_description(
		    v[i].class_name, v[i].subclass_name, v[i].class_code, v[i].vendor_name,
		    v[i].vendor_id, v[i].device_name, v[i].device_id, buf, sizeof(buf));
		if (r < 0 || strcmp(buf, v[i].expected) != 0)
			print_error("description %zu: expected \"%s\", got r=%d \"%s\"\n", i,
				    v[i].expected, r, r >= 0 ? buf : "");
		assert_int_equal(r, (int)strlen(v[i].expected));
		assert_string_equal(buf, v[i].expected);
	}
	assert_int_equal(hostdev_naming_pci_description(NULL, NULL, 0x020000, NULL, 0x8086, NULL,
							0x1521, buf, 35),
			 -ENOSPC);
	assert_int_equal(hostdev_naming_pci_description(NULL, NULL, 0x020000, NULL, 0x8086, NULL,
							0x1521, buf, 36),
			 35);
}

/* --- KubeVirt env names -------------------------------------------------------------------------
 */

static void test_kubevirt_env(void **state)
{
	static const struct {
		const char *prefix, *resource, *expected;
	} v[] = {
	    {"PCI_RESOURCE", "nvidia.com/GA100_A100_SXM4_40GB",
	     "PCI_RESOURCE_NVIDIA_COM_GA100_A100_SXM4_40GB"},
	    {"MDEV_PCI_RESOURCE", "nvidia.com/GRID_T4-1Q",
	     "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q"},
	    {"USB_RESOURCE", "kubevirt.io/jacknode-0951-1666-002004",
	     "USB_RESOURCE_KUBEVIRT_IO_JACKNODE-0951-1666-002004"},
	    {"PCI_RESOURCE", "intel.com/node1-000008000", "PCI_RESOURCE_INTEL_COM_NODE1-000008000"},
	    {"PCI_RESOURCE", "realtek.com/8168", "PCI_RESOURCE_REALTEK_COM_8168"},
	};
	char buf[HOSTDEV_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(
		    hostdev_naming_kubevirt_env(v[i].prefix, v[i].resource, buf, sizeof(buf)),
		    (int)strlen(v[i].expected));
		assert_string_equal(buf, v[i].expected);
	}
	assert_int_equal(hostdev_naming_kubevirt_env("PCI_RESOURCE", "realtek.com/8168", buf, 29),
			 -ENOSPC);
	assert_int_equal(hostdev_naming_kubevirt_env("PCI_RESOURCE", "realtek.com/8168", buf, 30),
			 29);
	assert_int_equal(hostdev_naming_kubevirt_env(NULL, "realtek.com/8168", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(hostdev_naming_kubevirt_env("PCI_RESOURCE", NULL, buf, sizeof(buf)),
			 -EINVAL);
}

/* --- resource name validation -------------------------------------------------------------------
 */

static void test_check_resource_name(void **state)
{
	static const char *const valid[] = {
	    "intel.com/I350_GIGABIT_NETWORK_CONNECTION",
	    "nvidia.com/GA100_A100_SXM4_40GB",
	    "kubevirt.io/jacknode-0951-1666-002004",
	    "realtek.com/8168",
	    "a.b/c",
	    "example-1.com/x",
	    "devices.kubevirt.io/a.b_c-d",
	    /* 63 characters */
	    "intel.com/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	static const char *const invalid[] = {
	    "",
	    "noslash",
	    "/name",
	    "intel.com/",
	    "intel.com/_x",
	    "intel.com/x_",
	    "intel.com/-x",
	    "intel.com/x.",
	    "intel.com/a b",
	    "intel.com/a/b",
	    "intel.com/a@b",
	    "Intel.com/x",   /* the domain is lower-case */
	    "intel..com/x",  /* empty DNS label */
	    "-intel.com/x",  /* label starts with '-' */
	    "intel_x.com/x", /* '_' is not a DNS character */
	    /* 64 characters */
	    "intel.com/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		int r = hostdev_naming_check_resource_name(valid[i]);

		if (r != 0)
			print_error("\"%s\" should be valid, got %d\n", valid[i], r);
		assert_int_equal(r, 0);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		int r = hostdev_naming_check_resource_name(invalid[i]);

		if (r != -EINVAL)
			print_error("\"%s\" should be invalid, got %d\n", invalid[i], r);
		assert_int_equal(r, -EINVAL);
	}
	assert_int_equal(hostdev_naming_check_resource_name(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resource_vendor),
	    cmocka_unit_test(test_pci_resource),
	    cmocka_unit_test(test_pci_resource_invariants),
	    cmocka_unit_test(test_pci_resource_enospc),
	    cmocka_unit_test(test_pci_object_name),
	    cmocka_unit_test(test_usb_object_name),
	    cmocka_unit_test(test_pci_description),
	    cmocka_unit_test(test_kubevirt_env),
	    cmocka_unit_test(test_check_resource_name),
	};

	return cmocka_run_group_tests_name("naming", tests, NULL, NULL);
}
