/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev_pci_device on the server-like fake tree of tests/lib/server_tree.h: every getter, the
 * names from pci.ids through libpci, kernel modules through libkmod, and the error paths.
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakeroot.h"
#include "hostdev.h"
#include "server_tree.h"

#define SYSTEM_PCI_IDS "/usr/share/misc/pci.ids"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->root = fakeroot_new();
	if (!f->root || server_tree_build(f->root) < 0 || hostdev_ctx_new(&f->ctx) < 0 ||
	    hostdev_ctx_set_root(f->ctx, fakeroot_path(f->root)) < 0 ||
	    hostdev_ctx_set_node_name(f->ctx, "node1") < 0) {
		hostdev_ctx_unref(f->ctx);
		fakeroot_free(f->root);
		free(f);
		return -1;
	}
	/* The unit tests never depend on the machine's modules: point libkmod at nothing. */
	if (hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_MODULES,
				 fakeroot_abspath(f->root, "lib/modules/none")) < 0)
		return -1;
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

static hostdev_pci_device *open_dev(struct fixture *f, const char *address)
{
	hostdev_pci_device *dev = NULL;
	int r = hostdev_pci_device_new(f->ctx, address, &dev);

	if (r != 0)
		print_error("hostdev_pci_device_new(%s) = %d: %s\n", address, r,
			    hostdev_ctx_get_error(f->ctx));
	assert_int_equal(r, 0);
	assert_non_null(dev);
	return dev;
}

static void skip_without_pci_ids(void)
{
	if (access(SYSTEM_PCI_IDS, R_OK) != 0) {
		print_message("SKIP: %s is not installed (Debian package pci.ids)\n",
			      SYSTEM_PCI_IDS);
		skip();
	}
}

/* Compare strings allowing NULL on both sides, with a readable failure. */
#define assert_str_or_null(actual, expected)                                                       \
	do {                                                                                       \
		const char *a_ = (actual), *e_ = (expected);                                       \
		if (!e_) {                                                                         \
			if (a_)                                                                    \
				print_error("%s: expected NULL, got \"%s\"\n", #actual, a_);       \
			assert_null(a_);                                                           \
		} else {                                                                           \
			if (!a_)                                                                   \
				print_error("%s: expected \"%s\", got NULL\n", #actual, e_);       \
			assert_non_null(a_);                                                       \
			assert_string_equal(a_, e_);                                               \
		}                                                                                  \
	} while (0)

/* --- identity -----------------------------------------------------------------------------------
 */

static void test_identity(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");
	struct hostdev_pci_address a = hostdev_pci_device_get_pci_address(dev);

	assert_ptr_equal(hostdev_pci_device_get_ctx(dev), f->ctx);
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:01:00.0");
	assert_int_equal(a.domain, 0);
	assert_int_equal(a.bus, 1);
	assert_int_equal(a.slot, 0);
	assert_int_equal(a.function, 0);
	assert_int_equal(hostdev_pci_device_get_vendor_id(dev), 0x8086);
	assert_int_equal(hostdev_pci_device_get_device_id(dev), 0x1521);
	assert_int_equal(hostdev_pci_device_get_subsystem_vendor_id(dev), 0x8086);
	assert_int_equal(hostdev_pci_device_get_subsystem_device_id(dev), 0x0001);
	assert_int_equal(hostdev_pci_device_get_class(dev), 0x020000);
	assert_int_equal(hostdev_pci_device_get_revision(dev), 0x01);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_vendor_id(dev), 0x10de);
	assert_int_equal(hostdev_pci_device_get_device_id(dev), 0x1eb8);
	assert_int_equal(hostdev_pci_device_get_subsystem_vendor_id(dev), 0x10de);
	assert_int_equal(hostdev_pci_device_get_subsystem_device_id(dev), 0x12a2);
	assert_int_equal(hostdev_pci_device_get_class(dev), 0x030200);
	assert_int_equal(hostdev_pci_device_get_revision(dev), 0xa1);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:00:1f.2");
	assert_int_equal(hostdev_pci_device_get_class(dev), 0x010601);
	assert_int_equal(hostdev_pci_device_get_revision(dev), 0x09);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0001:00:00.0");
	a = hostdev_pci_device_get_pci_address(dev);
	assert_int_equal(a.domain, 1);
	assert_string_equal(hostdev_pci_device_get_address(dev), "0001:00:00.0");
	assert_int_equal(hostdev_pci_device_get_class(dev), 0x128000);
	hostdev_pci_device_unref(dev);
}

/* Every device of the tree opens and reports the ids written in its sysfs files. */
static void test_all_devices_open(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < server_tree_count; i++) {
		hostdev_pci_device *dev = open_dev(f, server_tree_addresses[i]);

		assert_string_equal(hostdev_pci_device_get_address(dev), server_tree_addresses[i]);
		assert_int_not_equal(hostdev_pci_device_get_vendor_id(dev), 0);
		hostdev_pci_device_unref(dev);
	}
}

static void test_address_forms(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	dev = open_dev(f, "01:00.0"); /* domain 0 implied */
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:01:00.0");
	hostdev_pci_device_unref(dev);
	dev = open_dev(f, "0000:3B:00.0"); /* upper case */
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_device_id(dev), 0x1eb8);
	hostdev_pci_device_unref(dev);
}

static void test_new_errors(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = (hostdev_pci_device *)0x1;

	assert_int_equal(hostdev_pci_device_new(f->ctx, "garbage", &dev), -EINVAL);
	assert_ptr_equal(dev, (hostdev_pci_device *)0x1); /* untouched on failure */
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "garbage"));
	assert_int_equal(hostdev_pci_device_new(f->ctx, "0000:00:20.0", &dev), -EINVAL);
	assert_int_equal(hostdev_pci_device_new(f->ctx, "0000:09:00.0", &dev), -ENODEV);
	assert_ptr_equal(dev, (hostdev_pci_device *)0x1);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "0000:09:00.0"));
	assert_int_equal(hostdev_pci_device_new(f->ctx, NULL, &dev), -EINVAL);
	assert_int_equal(hostdev_pci_device_new(f->ctx, "0000:01:00.0", NULL), -EINVAL);
	assert_int_equal(hostdev_pci_device_new(NULL, "0000:01:00.0", &dev), -EINVAL);
}

/* A device whose identity attributes cannot be read is -EIO, with the address in the message. */
static void test_unreadable_identity(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = NULL;
	char rel[512];

	/* A hand-made or damaged tree: no uevent (which carries the ids too) and no vendor file. */
	snprintf(rel, sizeof(rel), "%s/vendor", fakeroot_pci_dir(f->root, "0000:04:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);
	snprintf(rel, sizeof(rel), "%s/uevent", fakeroot_pci_dir(f->root, "0000:04:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);
	/*
	 * The header promises -EIO; the library reports a missing identity file as -ENODEV ("device
	 * disappeared"), because on a real sysfs that is what a device removal in the middle of the
	 * read looks like. Both are accepted here; the failure must still name the device.
	 */
	int r = hostdev_pci_device_new(f->ctx, "0000:04:00.0", &dev);
	if (r != -EIO)
		print_message("note: missing vendor file gave %d (%s)\n", r,
			      hostdev_ctx_get_error(f->ctx));
	assert_true(r == -EIO || r == -ENODEV);
	assert_null(dev);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "0000:04:00.0"));

	/* Garbage instead of a hex id is as bad as a missing file. */
	assert_int_equal(fakeroot_pci_set_attr(f->root, "0000:02:00.0", "device", "zzz\n"), 0);
	assert_int_equal(hostdev_pci_device_new(f->ctx, "0000:02:00.0", &dev), -EIO);
	assert_null(dev);
}

static void test_ref_unref(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");

	assert_ptr_equal(hostdev_pci_device_ref(dev), dev);
	assert_null(hostdev_pci_device_unref(dev));
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:01:00.0");
	assert_null(hostdev_pci_device_unref(dev));
	assert_null(hostdev_pci_device_unref(NULL));
}

/* A device keeps its context alive: the caller may drop its own context reference first. */
static void test_device_outlives_ctx_ref(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");

	hostdev_ctx_unref(f->ctx);
	f->ctx = NULL;
	/* Lazy parts are read through the context after the caller let go of it. */
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 1);
	assert_string_equal(hostdev_pci_device_get_object_name(dev), "node1-000001000");
	assert_non_null(hostdev_pci_device_get_ctx(dev));
	hostdev_pci_device_unref(dev);
}

/* HOSTDEV_PATH_SYSFS alone (without set_root) is where devices are read from. */
static void test_sysfs_path_only(void **state)
{
	struct fixture *f = *state;
	hostdev_ctx *ctx = NULL;
	hostdev_pci_device *dev = NULL;

	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, fakeroot_sysfs(f->root)), 0);
	assert_int_equal(hostdev_pci_device_new(ctx, "0000:3b:00.0", &dev), 0);
	assert_int_equal(hostdev_pci_device_get_device_id(dev), 0x1eb8);
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 1);
	hostdev_pci_device_unref(dev);
	hostdev_ctx_unref(ctx);
}

/* A snapshot: later sysfs changes are not seen by an existing object, a new object sees them. */
static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:04:00.0");

	assert_string_equal(hostdev_pci_device_get_driver(dev), "r8169");
	assert_int_equal(fakeroot_pci_set_driver(f->root, "0000:04:00.0", NULL), 0);
	assert_int_equal(fakeroot_pci_set_attr(f->root, "0000:04:00.0", "numa_node", "0\n"), 0);
	assert_string_equal(hostdev_pci_device_get_driver(dev), "r8169");
	assert_int_equal(hostdev_pci_device_get_numa_node(dev), -1);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:04:00.0");
	assert_null(hostdev_pci_device_get_driver(dev));
	assert_int_equal(hostdev_pci_device_get_numa_node(dev), 0);
	hostdev_pci_device_unref(dev);
}

/* --- kernel state -------------------------------------------------------------------------------
 */

static void test_driver_and_override(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address, *driver, *override;
	} v[] = {
	    {"0000:01:00.0", "igb", NULL},
	    {"0000:01:10.0", "igbvf", NULL},
	    {"0000:01:10.4", "vfio-pci", "vfio-pci"},
	    {"0000:00:1c.0", "pcieport", NULL},
	    {"0000:00:1f.2", "ahci", NULL},
	    {"0000:00:1f.3", "i801_smbus", NULL},
	    {"0000:00:00.0", NULL, NULL}, /* unbound */
	    {"0000:00:05.0", NULL, NULL},
	    {"0000:00:1f.0", NULL, NULL},
	    {"0001:00:00.0", NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, v[i].address);

		assert_str_or_null(hostdev_pci_device_get_driver(dev), v[i].driver);
		assert_str_or_null(hostdev_pci_device_get_driver_override(dev), v[i].override);
		hostdev_pci_device_unref(dev);
	}
}

static void test_driver_override_variants(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;
	char rel[512];

	/* An override on an unbound device (set, driver not probed yet). */
	assert_int_equal(
	    fakeroot_pci_set_attr(f->root, "0000:00:00.0", "driver_override", "vfio-pci\n"), 0);
	dev = open_dev(f, "0000:00:00.0");
	assert_null(hostdev_pci_device_get_driver(dev));
	assert_string_equal(hostdev_pci_device_get_driver_override(dev), "vfio-pci");
	hostdev_pci_device_unref(dev);

	/* Kernels without driver_override: NULL, not an error. */
	snprintf(rel, sizeof(rel), "%s/driver_override", fakeroot_pci_dir(f->root, "0000:01:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);
	dev = open_dev(f, "0000:01:00.0");
	assert_null(hostdev_pci_device_get_driver_override(dev));
	assert_string_equal(hostdev_pci_device_get_driver(dev), "igb");
	hostdev_pci_device_unref(dev);
}

static void test_modalias(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");

	assert_str_or_null(hostdev_pci_device_get_modalias(dev),
			   "pci:v00008086d00001521sv00008086sd00000001bc02sc00i00");
	hostdev_pci_device_unref(dev);
	dev = open_dev(f, "0000:3b:00.0");
	assert_str_or_null(hostdev_pci_device_get_modalias(dev),
			   "pci:v000010DEd00001EB8sv000010DEsd000012A2bc03sc02i00");
	hostdev_pci_device_unref(dev);
}

static void test_iommu_groups(void **state)
{
	struct fixture *f = *state;
	static const char *const group9[] = {"0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"};
	hostdev_pci_device *dev;

	/* Each member of the multi-function group sees all three, sorted by address. */
	for (size_t m = 0; m < 3; m++) {
		dev = open_dev(f, group9[m]);
		assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 9);
		assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 3);
		for (size_t i = 0; i < 3; i++)
			assert_str_or_null(hostdev_pci_device_get_iommu_group_member(dev, i),
					   group9[i]);
		assert_null(hostdev_pci_device_get_iommu_group_member(dev, 3));
		hostdev_pci_device_unref(dev);
	}

	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 10);
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 1);
	assert_str_or_null(hostdev_pci_device_get_iommu_group_member(dev, 0), "0000:01:00.0");
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 31);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:00:00.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 0); /* group 0 is a real group */
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 1);
	hostdev_pci_device_unref(dev);

	/* No iommu_group link: -1, no members. */
	dev = open_dev(f, "0000:00:05.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), -1);
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 0);
	assert_null(hostdev_pci_device_get_iommu_group_member(dev, 0));
	hostdev_pci_device_unref(dev);
}

/* Group members sort numerically by address, across buses and domains. */
static void test_iommu_group_member_order(void **state)
{
	struct fixture *f = *state;
	static const char *const order[] = {"0000:05:00.0", "0000:05:00.1", "0000:0a:00.0",
					    "0000:10:00.0", "0002:00:00.0"};
	hostdev_pci_device *dev;

	/* Added in reverse. */
	for (size_t i = sizeof(order) / sizeof(order[0]); i-- > 0;)
		assert_int_equal(fakeroot_pci_add(f->root, order[i],
						  &(const struct fake_pci){.vendor = 0x8086,
									   .device = 0x10d3,
									   .class_code = 0x020000,
									   .iommu_group = "50"}),
				 0);
	dev = open_dev(f, "0000:10:00.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 50);
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 5);
	for (size_t i = 0; i < 5; i++)
		assert_str_or_null(hostdev_pci_device_get_iommu_group_member(dev, i), order[i]);
	hostdev_pci_device_unref(dev);
}

static void test_numa_node(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address;
		int node;
	} v[] = {
	    {"0000:01:00.0", 0},  {"0000:3a:00.0", 1},	{"0000:3b:00.0", 1},
	    {"0000:04:00.0", -1}, {"0001:00:00.0", -1},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, v[i].address);

		assert_int_equal(hostdev_pci_device_get_numa_node(dev), v[i].node);
		hostdev_pci_device_unref(dev);
	}
	/* No numa_node file (kernels without CONFIG_NUMA): -1. */
	char rel[512];
	snprintf(rel, sizeof(rel), "%s/numa_node", fakeroot_pci_dir(f->root, "0000:3b:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);
	hostdev_pci_device *dev = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_numa_node(dev), -1);
	hostdev_pci_device_unref(dev);
}

static void test_physical_slot(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address, *slot;
	} v[] = {
	    {"0000:01:00.0", "1"},  {"0000:3b:00.0", "3"},
	    {"0000:01:10.0", NULL}, /* VF: different slot number on the same bus */
	    {"0000:00:1f.2", NULL}, {"0000:04:00.0", NULL},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, v[i].address);

		assert_str_or_null(hostdev_pci_device_get_physical_slot(dev), v[i].slot);
		hostdev_pci_device_unref(dev);
	}
}

/* A slot covers every function of the device in it. */
static void test_physical_slot_multifunction(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	assert_int_equal(fakeroot_pci_add(f->root, "0000:3b:00.1",
					  &(const struct fake_pci){.vendor = 0x10de,
								   .device = 0x10f8,
								   .class_code = 0x040300,
								   .parent = "0000:3a:00.0",
								   .iommu_group = "31"}),
			 0);
	dev = open_dev(f, "0000:3b:00.1");
	assert_str_or_null(hostdev_pci_device_get_physical_slot(dev), "3");
	hostdev_pci_device_unref(dev);
}

static void test_boot_vga(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	dev = open_dev(f, "0000:02:00.0");
	assert_int_equal(hostdev_pci_device_is_boot_vga(dev), 1);
	hostdev_pci_device_unref(dev);
	dev = open_dev(f, "0000:3b:00.0"); /* 3D controller: no boot_vga file */
	assert_int_equal(hostdev_pci_device_is_boot_vga(dev), 0);
	hostdev_pci_device_unref(dev);
	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_is_boot_vga(dev), 0);
	hostdev_pci_device_unref(dev);

	/* A second VGA device with boot_vga "0". */
	assert_int_equal(fakeroot_pci_add(f->root, "0000:3b:00.2",
					  &(const struct fake_pci){.vendor = 0x10de,
								   .device = 0x1eb8,
								   .class_code = 0x030000,
								   .parent = "0000:3a:00.0",
								   .boot_vga = false}),
			 0);
	dev = open_dev(f, "0000:3b:00.2");
	assert_int_equal(hostdev_pci_device_is_boot_vga(dev), 0);
	hostdev_pci_device_unref(dev);
}

static void test_bridge(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address;
		int bridge;
	} v[] = {
	    {"0000:00:1c.0", 1}, {"0000:00:1c.4", 1}, {"0000:00:1c.5", 1},
	    {"0000:3a:00.0", 1}, {"0000:00:00.0", 0}, /* host bridge 0600 */
	    {"0000:00:1f.0", 0},		      /* ISA bridge 0601 */
	    {"0000:01:00.0", 0}, {"0000:02:00.0", 0},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, v[i].address);

		if (hostdev_pci_device_is_bridge(dev) != v[i].bridge)
			print_error("%s: is_bridge expected %d\n", v[i].address, v[i].bridge);
		assert_int_equal(hostdev_pci_device_is_bridge(dev), v[i].bridge);
		hostdev_pci_device_unref(dev);
	}
}

/* --- SR-IOV -------------------------------------------------------------------------------------
 */

static void test_sriov_pf(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");

	assert_int_equal(hostdev_pci_device_is_sriov_pf(dev), 1);
	assert_int_equal(hostdev_pci_device_get_sriov_total_vfs(dev), 8);
	assert_int_equal(hostdev_pci_device_get_sriov_num_vfs(dev), 2);
	assert_int_equal(hostdev_pci_device_get_sriov_vf_device_id(dev), 0x1520);
	assert_int_equal(hostdev_pci_device_get_vf_count(dev), 2);
	assert_str_or_null(hostdev_pci_device_get_vf_address(dev, 0), "0000:01:10.0");
	assert_int_equal(hostdev_pci_device_get_vf_number(dev, 0), 0);
	assert_str_or_null(hostdev_pci_device_get_vf_address(dev, 1), "0000:01:10.4");
	assert_int_equal(hostdev_pci_device_get_vf_number(dev, 1), 1);
	assert_null(hostdev_pci_device_get_vf_address(dev, 2));
	assert_int_equal(hostdev_pci_device_get_vf_number(dev, 2), -1);
	assert_int_equal(hostdev_pci_device_is_sriov_vf(dev), 0);
	assert_null(hostdev_pci_device_get_pf_address(dev));
	assert_int_equal(hostdev_pci_device_get_vf_index(dev), -1);
	hostdev_pci_device_unref(dev);

	/* Not SR-IOV at all. */
	dev = open_dev(f, "0000:04:00.0");
	assert_int_equal(hostdev_pci_device_is_sriov_pf(dev), 0);
	assert_int_equal(hostdev_pci_device_is_sriov_vf(dev), 0);
	assert_int_equal(hostdev_pci_device_get_sriov_total_vfs(dev), 0);
	assert_int_equal(hostdev_pci_device_get_sriov_num_vfs(dev), 0);
	assert_int_equal(hostdev_pci_device_get_sriov_vf_device_id(dev), 0);
	assert_int_equal(hostdev_pci_device_get_vf_count(dev), 0);
	assert_null(hostdev_pci_device_get_vf_address(dev, 0));
	assert_null(hostdev_pci_device_get_pf_address(dev));
	assert_int_equal(hostdev_pci_device_get_vf_index(dev), -1);
	hostdev_pci_device_unref(dev);
}

static void test_sriov_vf(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	dev = open_dev(f, "0000:01:10.4");
	assert_int_equal(hostdev_pci_device_is_sriov_vf(dev), 1);
	assert_str_or_null(hostdev_pci_device_get_pf_address(dev), "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_vf_index(dev), 1);
	assert_int_equal(hostdev_pci_device_is_sriov_pf(dev), 0);
	assert_int_equal(hostdev_pci_device_get_sriov_total_vfs(dev), 0);
	assert_int_equal(hostdev_pci_device_get_vf_count(dev), 0);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:01:10.0");
	assert_int_equal(hostdev_pci_device_is_sriov_vf(dev), 1);
	assert_str_or_null(hostdev_pci_device_get_pf_address(dev), "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_vf_index(dev), 0);
	hostdev_pci_device_unref(dev);
}

/* VFs come in VF-number order: virtfn10 after virtfn9, not after virtfn1. */
static void test_sriov_many_vfs_order(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;
	char addr[32];

	assert_int_equal(fakeroot_pci_add(f->root, "0000:81:00.0",
					  &(const struct fake_pci){.vendor = 0x15b3,
								   .device = 0x1013,
								   .class_code = 0x020000,
								   .driver = "mlx5_core",
								   .sriov_totalvfs = 16,
								   .sriov_numvfs = 12,
								   .sriov_vf_device = 0x1014,
								   .sriov_offset = 1,
								   .sriov_stride = 1}),
			 0);
	/* VF n at devfn 1 + n; created in a scrambled order. */
	static const unsigned int create_order[] = {11, 2, 10, 0, 9, 1, 8, 3, 7, 4, 6, 5};
	for (size_t i = 0; i < 12; i++) {
		unsigned int n = create_order[i], devfn = 1 + n;

		snprintf(addr, sizeof(addr), "0000:81:%02x.%x", devfn >> 3, devfn & 7);
		assert_int_equal(fakeroot_pci_add(f->root, addr,
						  &(const struct fake_pci){.vendor = 0x15b3,
									   .device = 0x1014,
									   .class_code = 0x020000,
									   .physfn = "0000:81:00.0",
									   .vf_index = n}),
				 0);
	}
	dev = open_dev(f, "0000:81:00.0");
	assert_int_equal(hostdev_pci_device_get_sriov_num_vfs(dev), 12);
	assert_int_equal(hostdev_pci_device_get_vf_count(dev), 12);
	for (unsigned int n = 0; n < 12; n++) {
		unsigned int devfn = 1 + n;

		snprintf(addr, sizeof(addr), "0000:81:%02x.%x", devfn >> 3, devfn & 7);
		assert_int_equal(hostdev_pci_device_get_vf_number(dev, n), (int)n);
		assert_str_or_null(hostdev_pci_device_get_vf_address(dev, n), addr);
	}
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:81:01.3"); /* devfn 11: VF 10 */
	assert_int_equal(hostdev_pci_device_get_vf_index(dev), 10);
	assert_str_or_null(hostdev_pci_device_get_pf_address(dev), "0000:81:00.0");
	hostdev_pci_device_unref(dev);
}

/* A PF with SR-IOV capability and no VFs enabled. */
static void test_sriov_pf_without_vfs(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	assert_int_equal(fakeroot_pci_add(f->root, "0000:82:00.0",
					  &(const struct fake_pci){.vendor = 0x8086,
								   .device = 0x1572,
								   .class_code = 0x020000,
								   .driver = "i40e",
								   .sriov_totalvfs = 64,
								   .sriov_numvfs = 0,
								   .sriov_vf_device = 0x154c}),
			 0);
	dev = open_dev(f, "0000:82:00.0");
	assert_int_equal(hostdev_pci_device_is_sriov_pf(dev), 1);
	assert_int_equal(hostdev_pci_device_get_sriov_total_vfs(dev), 64);
	assert_int_equal(hostdev_pci_device_get_sriov_num_vfs(dev), 0);
	assert_int_equal(hostdev_pci_device_get_sriov_vf_device_id(dev), 0x154c);
	assert_int_equal(hostdev_pci_device_get_vf_count(dev), 0);
	assert_null(hostdev_pci_device_get_vf_address(dev, 0));
	assert_int_equal(hostdev_pci_device_get_vf_number(dev, 0), -1);
	hostdev_pci_device_unref(dev);
}

/* --- network interfaces -------------------------------------------------------------------------
 */

static void test_netdevs(void **state)
{
	struct fixture *f = *state;
	static const char *const two[] = {"ens3f1", "ens3f0", NULL};
	hostdev_pci_device *dev;

	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_netdev_count(dev), 1);
	assert_str_or_null(hostdev_pci_device_get_netdev(dev, 0), "eth0");
	assert_null(hostdev_pci_device_get_netdev(dev, 1));
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:01:10.0");
	assert_int_equal(hostdev_pci_device_get_netdev_count(dev), 1);
	assert_str_or_null(hostdev_pci_device_get_netdev(dev, 0), "enp1s16");
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:01:10.4"); /* on vfio-pci: no netdev */
	assert_int_equal(hostdev_pci_device_get_netdev_count(dev), 0);
	assert_null(hostdev_pci_device_get_netdev(dev, 0));
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_netdev_count(dev), 0);
	hostdev_pci_device_unref(dev);

	assert_int_equal(fakeroot_pci_add(f->root, "0000:83:00.0",
					  &(const struct fake_pci){.vendor = 0x15b3,
								   .device = 0x1013,
								   .class_code = 0x020000,
								   .driver = "mlx5_core",
								   .netdevs = two}),
			 0);
	dev = open_dev(f, "0000:83:00.0");
	assert_int_equal(hostdev_pci_device_get_netdev_count(dev), 2);
	assert_str_or_null(hostdev_pci_device_get_netdev(dev, 0), "ens3f0");
	assert_str_or_null(hostdev_pci_device_get_netdev(dev, 1), "ens3f1");
	hostdev_pci_device_unref(dev);
}

/*
 * Which optional parts a device has (net/, mdev_supported_types, virtfn links, sriov_totalvfs) is
 * read with it, in one listing of its directory: like its driver, it is a snapshot. Parts that
 * appear later are seen by a device read later; a part that was there is read when first asked.
 */
static void test_parts_are_a_snapshot(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *before, *after;
	char rel[512];

	before = open_dev(f, "0000:3b:00.0");
	snprintf(rel, sizeof(rel), "%s/net/eth7", fakeroot_pci_dir(f->root, "0000:3b:00.0"));
	assert_int_equal(fakeroot_mkdir(f->root, rel), 0);
	assert_int_equal(hostdev_pci_device_get_netdev_count(before), 0);
	after = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_netdev_count(after), 1);
	assert_string_equal(hostdev_pci_device_get_netdev(after, 0), "eth7");
	hostdev_pci_device_unref(before);
	hostdev_pci_device_unref(after);

	/* Listed at creation, read on first use: an interface renamed in between is seen. */
	before = open_dev(f, "0000:01:00.0");
	snprintf(rel, sizeof(rel), "%s/net/eth0", fakeroot_pci_dir(f->root, "0000:01:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);
	snprintf(rel, sizeof(rel), "%s/net/ens1f0", fakeroot_pci_dir(f->root, "0000:01:00.0"));
	assert_int_equal(fakeroot_mkdir(f->root, rel), 0);
	assert_int_equal(hostdev_pci_device_get_netdev_count(before), 1);
	assert_string_equal(hostdev_pci_device_get_netdev(before, 0), "ens1f0");
	hostdev_pci_device_unref(before);

	/* A PF's VFs are its virtfn links at creation; one that vanished since is left out. */
	before = open_dev(f, "0000:01:00.0");
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:01:10.0", 0), 0);
	assert_int_equal(hostdev_pci_device_get_vf_count(before), 1);
	assert_string_equal(hostdev_pci_device_get_vf_address(before, 0), "0000:01:10.4");
	assert_int_equal(hostdev_pci_device_get_vf_number(before, 0), 1);
	hostdev_pci_device_unref(before);

	/* Absent parts: no mdev types, no mdevs, no VFs, no PF. */
	before = open_dev(f, "0000:00:1f.2");
	assert_int_equal(hostdev_pci_device_get_mdev_type_count(before), 0);
	assert_int_equal(hostdev_pci_device_get_active_mdev_count(before), 0);
	assert_int_equal(hostdev_pci_device_get_vf_count(before), 0);
	assert_false(hostdev_pci_device_is_sriov_pf(before));
	assert_null(hostdev_pci_device_get_pf_address(before));
	assert_int_equal(hostdev_pci_device_get_vf_index(before), -1);
	hostdev_pci_device_unref(before);
}

/* --- mdev types ---------------------------------------------------------------------------------
 */

static void test_mdev_types(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:3b:00.0");

	assert_int_equal(hostdev_pci_device_get_mdev_type_count(dev), 2);
	assert_str_or_null(hostdev_pci_device_get_mdev_type_id(dev, 0), "nvidia-222");
	assert_str_or_null(hostdev_pci_device_get_mdev_type_name(dev, 0), "GRID T4-1B");
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 0), 16);
	assert_str_or_null(hostdev_pci_device_get_mdev_type_device_api(dev, 0), "vfio-pci");
	assert_str_or_null(hostdev_pci_device_get_mdev_type_description(dev, 0),
			   "num_heads=4, frl_config=45, framebuffer=1024M, "
			   "max_resolution=5120x2880, max_instance=16");
	assert_str_or_null(hostdev_pci_device_get_mdev_type_id(dev, 1), "nvidia-223");
	assert_str_or_null(hostdev_pci_device_get_mdev_type_name(dev, 1), "GRID T4-2B");
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 1), 8);
	assert_str_or_null(hostdev_pci_device_get_mdev_type_device_api(dev, 1), "vfio-pci");
	/* out of range */
	assert_null(hostdev_pci_device_get_mdev_type_id(dev, 2));
	assert_null(hostdev_pci_device_get_mdev_type_name(dev, 2));
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 2), -1);
	assert_null(hostdev_pci_device_get_mdev_type_device_api(dev, 2));
	assert_null(hostdev_pci_device_get_mdev_type_description(dev, 2));
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_mdev_type_count(dev), 0);
	assert_null(hostdev_pci_device_get_mdev_type_id(dev, 0));
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 0), -1);
	hostdev_pci_device_unref(dev);
}

/* Optional attributes of a type may be missing; a description may span lines. */
static void test_mdev_type_optional_attributes(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	assert_int_equal(fakeroot_pci_add_mdev_type(
			     f->root, "0000:01:00.0",
			     &(const struct fake_mdev_type){.id = "mtty-2",
							    .name = NULL,
							    .available_instances = 0,
							    .device_api = "vfio-pci",
							    .description = "line one\nline two"}),
			 0);
	assert_int_equal(
	    fakeroot_pci_add_mdev_type(f->root, "0000:01:00.0",
				       &(const struct fake_mdev_type){.id = "mtty-1",
								      .name = "Single port serial",
								      .available_instances = 24}),
	    0);
	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_mdev_type_count(dev), 2);
	assert_str_or_null(hostdev_pci_device_get_mdev_type_id(dev, 0), "mtty-1");
	assert_str_or_null(hostdev_pci_device_get_mdev_type_name(dev, 0), "Single port serial");
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 0), 24);
	assert_null(hostdev_pci_device_get_mdev_type_device_api(dev, 0));
	assert_null(hostdev_pci_device_get_mdev_type_description(dev, 0));
	assert_str_or_null(hostdev_pci_device_get_mdev_type_id(dev, 1), "mtty-2");
	assert_null(hostdev_pci_device_get_mdev_type_name(dev, 1));
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 1), 0);
	assert_str_or_null(hostdev_pci_device_get_mdev_type_description(dev, 1),
			   "line one\nline two");
	hostdev_pci_device_unref(dev);
}

/* --- names from pci.ids -------------------------------------------------------------------------
 */

static void test_names_system_pci_ids(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address;
		const char *vendor, *device, *sub_vendor, *sub_name, *class_name, *subclass,
		    *prog_if;
	} v[] = {
	    {"0000:01:00.0", "Intel Corporation", "I350 Gigabit Network Connection",
	     "Intel Corporation", "Ethernet Server Adapter I350-T4", "Network controller",
	     "Ethernet controller", NULL},
	    {"0000:01:10.0", "Intel Corporation", "I350 Ethernet Controller Virtual Function",
	     "Intel Corporation", NULL, "Network controller", "Ethernet controller", NULL},
	    {"0000:00:1f.2", "Intel Corporation",
	     "C620 Series Chipset Family SATA Controller [AHCI mode]", "Super Micro Computer Inc",
	     NULL, "Mass storage controller", "SATA controller", "AHCI 1.0"},
	    {"0000:00:1c.0", "Intel Corporation",
	     "C620 Series Chipset Family PCI Express Root Port #1", NULL, NULL, "Bridge",
	     "PCI bridge", "Normal decode"},
	    {"0000:00:00.0", "Intel Corporation", "Sky Lake-E DMI3 Registers",
	     "Super Micro Computer Inc", "X11SPM-TF", "Bridge", "Host bridge", NULL},
	    {"0000:02:00.0", "Matrox Electronics Systems Ltd.", "G200eR2",
	     "Super Micro Computer Inc", NULL, "Display controller", "VGA compatible controller",
	     "VGA controller"},
	    {"0000:3b:00.0", "NVIDIA Corporation", "TU104GL [Tesla T4]", "NVIDIA Corporation", NULL,
	     "Display controller", "3D controller", NULL},
	    {"0000:04:00.0", "Realtek Semiconductor Co., Ltd.",
	     "RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller",
	     "Realtek Semiconductor Co., Ltd.",
	     "RTL8111/8168 PCI Express Gigabit Ethernet controller", "Network controller",
	     "Ethernet controller", NULL},
	    /* unknown ids; class 12 known, subclass 80 not */
	    {"0001:00:00.0", NULL, NULL, NULL, NULL, "Processing accelerators", NULL, NULL},
	};

	skip_without_pci_ids();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, v[i].address);

		print_message("names of %s\n", v[i].address);
		assert_str_or_null(hostdev_pci_device_get_vendor_name(dev), v[i].vendor);
		assert_str_or_null(hostdev_pci_device_get_device_name(dev), v[i].device);
		assert_str_or_null(hostdev_pci_device_get_subsystem_vendor_name(dev),
				   v[i].sub_vendor);
		assert_str_or_null(hostdev_pci_device_get_subsystem_name(dev), v[i].sub_name);
		assert_str_or_null(hostdev_pci_device_get_class_name(dev), v[i].class_name);
		assert_str_or_null(hostdev_pci_device_get_subclass_name(dev), v[i].subclass);
		assert_str_or_null(hostdev_pci_device_get_prog_if_name(dev), v[i].prog_if);
		hostdev_pci_device_unref(dev);
	}
}

static void test_harvester_names(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address, *description, *object, *resource, *device_resource;
	} v[] = {
	    {"0000:01:00.0",
	     "Ethernet controller: Intel Corporation I350 Gigabit Network Connection",
	     "node1-000001000", "intel.com/I350_GIGABIT_NETWORK_CONNECTION",
	     "intel.com/node1-000001000"},
	    {"0000:01:10.4",
	     "Ethernet controller: Intel Corporation I350 Ethernet Controller Virtual Function",
	     "node1-000001104", "intel.com/I350_ETHERNET_CONTROLLER_VIRTUAL_FUNCTION",
	     "intel.com/node1-000001104"},
	    {"0000:3b:00.0", "3D controller: NVIDIA Corporation TU104GL [Tesla T4]",
	     "node1-00003b000", "nvidia.com/TU104GL_TESLA_T4", "nvidia.com/node1-00003b000"},
	    {"0000:04:00.0",
	     "Ethernet controller: Realtek Semiconductor Co., Ltd. RTL8111/8168/8411 PCI Express "
	     "Gigabit Ethernet Controller",
	     "node1-000004000", "realtek.com/8168", "realtek.com/node1-000004000"},
	    {"0000:02:00.0", "VGA compatible controller: Matrox Electronics Systems Ltd. G200eR2",
	     "node1-000002000", "matrox.com/G200ER2", "matrox.com/node1-000002000"},
	    {"0001:00:00.0", "Processing accelerators: Vendor 1dea Device 0001", "node1-000100000",
	     "unknown.com/0001", "unknown.com/node1-000100000"},
	};

	skip_without_pci_ids();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, v[i].address);

		print_message("names of %s\n", v[i].address);
		assert_str_or_null(hostdev_pci_device_get_description(dev), v[i].description);
		assert_str_or_null(hostdev_pci_device_get_object_name(dev), v[i].object);
		assert_str_or_null(hostdev_pci_device_get_resource_name(dev), v[i].resource);
		assert_str_or_null(hostdev_pci_device_get_device_resource_name(dev),
				   v[i].device_resource);
		hostdev_pci_device_unref(dev);
	}
}

/*
 * The socket-length rule through real pci.ids names: a ConnectX-4 VF keeps VIRTUAL_FUNCTION (101
 * bytes), a BCM57810 VF gets VF (117 -> 104 bytes), an A100 keeps its bracket text.
 */
static void test_resource_names_through_pci_ids(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *address;
		unsigned int vendor, device, class_code;
		const char *resource, *env;
	} v[] = {
	    {"0000:90:00.1", 0x15b3, 0x1014, 0x020000,
	     "mellanox.com/MT27700_FAMILY_CONNECTX4_VIRTUAL_FUNCTION",
	     "PCI_RESOURCE_MELLANOX_COM_MT27700_FAMILY_CONNECTX4_VIRTUAL_FUNCTION"},
	    {"0000:91:00.1", 0x14e4, 0x16af, 0x020000,
	     "broadcom.com/NETXTREME_II_BCM57810_10_GIGABIT_ETHERNET_VF",
	     "PCI_RESOURCE_BROADCOM_COM_NETXTREME_II_BCM57810_10_GIGABIT_ETHERNET_VF"},
	    {"0000:92:00.0", 0x10de, 0x20b0, 0x030200, "nvidia.com/GA100_A100_SXM4_40GB",
	     "PCI_RESOURCE_NVIDIA_COM_GA100_A100_SXM4_40GB"},
	    {"0000:93:00.0", 0x1af4, 0x1041, 0x020000, "red.com/VIRTIO_1_0_NETWORK_DEVICE",
	     "PCI_RESOURCE_RED_COM_VIRTIO_1_0_NETWORK_DEVICE"},
	};

	skip_without_pci_ids();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char env[HOSTDEV_NAME_MAX];

		assert_int_equal(
		    fakeroot_pci_add(f->root, v[i].address,
				     &(const struct fake_pci){.vendor = v[i].vendor,
							      .device = v[i].device,
							      .class_code = v[i].class_code}),
		    0);
		hostdev_pci_device *dev = open_dev(f, v[i].address);
		assert_str_or_null(hostdev_pci_device_get_resource_name(dev), v[i].resource);
		assert_int_equal(hostdev_naming_kubevirt_env(
				     "PCI_RESOURCE", hostdev_pci_device_get_resource_name(dev), env,
				     sizeof(env)),
				 (int)strlen(v[i].env));
		assert_string_equal(env, v[i].env);
		hostdev_pci_device_unref(dev);
	}
}

/* The object name follows the context's node name. */
static void test_object_name_node(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	assert_int_equal(hostdev_ctx_set_node_name(f->ctx, "harvester-abc"), 0);
	dev = open_dev(f, "0000:3b:00.0");
	assert_str_or_null(hostdev_pci_device_get_object_name(dev), "harvester-abc-00003b000");
	hostdev_pci_device_unref(dev);
}

/* HOSTDEV_PATH_PCI_IDS is honoured: a tiny custom database changes every name. */
static void test_custom_pci_ids(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	assert_int_equal(fakeroot_write(f->root, "ids/pci.ids",
					"# tiny test database\n"
					"1dea  Fake Vendor Inc.\n"
					"\t0001  Fake Accelerator [FA-1]\n"
					"\t\t1dea 0001  Fake Accelerator Card\n"
					"C 12  Processing accelerators\n"
					"\t80  Fake accelerators\n"),
			 0);
	/* Names already loaded from the system database must not stick after the path changes. */
	if (access(SYSTEM_PCI_IDS, R_OK) == 0) {
		dev = open_dev(f, "0000:01:00.0");
		assert_str_or_null(hostdev_pci_device_get_vendor_name(dev), "Intel Corporation");
		hostdev_pci_device_unref(dev);
	}
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_PCI_IDS,
					      fakeroot_abspath(f->root, "ids/pci.ids")),
			 0);
	dev = open_dev(f, "0001:00:00.0");
	assert_str_or_null(hostdev_pci_device_get_vendor_name(dev), "Fake Vendor Inc.");
	assert_str_or_null(hostdev_pci_device_get_device_name(dev), "Fake Accelerator [FA-1]");
	assert_str_or_null(hostdev_pci_device_get_subsystem_name(dev), "Fake Accelerator Card");
	assert_str_or_null(hostdev_pci_device_get_class_name(dev), "Processing accelerators");
	assert_str_or_null(hostdev_pci_device_get_subclass_name(dev), "Fake accelerators");
	assert_str_or_null(hostdev_pci_device_get_description(dev),
			   "Fake accelerators: Fake Vendor Inc. Fake Accelerator [FA-1]");
	assert_str_or_null(hostdev_pci_device_get_resource_name(dev),
			   "fake.com/FAKE_ACCELERATOR_FA1");
	hostdev_pci_device_unref(dev);

	/* Intel is not in this database: numbers everywhere. */
	dev = open_dev(f, "0000:01:00.0");
	assert_null(hostdev_pci_device_get_vendor_name(dev));
	assert_null(hostdev_pci_device_get_device_name(dev));
	assert_null(hostdev_pci_device_get_class_name(dev));
	assert_str_or_null(hostdev_pci_device_get_description(dev),
			   "Class 0200: Vendor 8086 Device 1521");
	assert_str_or_null(hostdev_pci_device_get_resource_name(dev), "unknown.com/1521");
	hostdev_pci_device_unref(dev);
}

/*
 * Run @fn in a child process and report how it ended: a library that aborts or exits on a bad input
 * file must fail this test, not take the whole test program down. The child reports completion
 * through a pipe, so that a memory checker's own exit status in the child (valgrind
 * --error-exitcode) does not count as a failure of @fn. Returns 0 when @fn returned, its _exit code
 * when it bailed out, or minus the signal that killed it.
 */
static int run_in_child(void (*fn)(struct fixture *), struct fixture *f)
{
	int fds[2], status;
	char done = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		fn(f);
		if (write(fds[1], "K", 1) != 1)
			_exit(99);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &done, 1) != 1)
		done = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (done == 'K')
		return 0;
	if (WIFSIGNALED(status)) {
		print_error("child killed by signal %d (%s)\n", WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
		return -WTERMSIG(status);
	}
	print_error("child exited with %d before finishing\n", WEXITSTATUS(status));
	return WEXITSTATUS(status) ? WEXITSTATUS(status) : 98;
}

static void names_of_i350(struct fixture *f)
{
	hostdev_pci_device *dev = NULL;

	if (hostdev_pci_device_new(f->ctx, "0000:01:00.0", &dev) != 0)
		_exit(10);
	/* Names unknown, numbers in the derived strings. */
	if (hostdev_pci_device_get_vendor_name(dev) || hostdev_pci_device_get_device_name(dev))
		_exit(11);
	const char *d = hostdev_pci_device_get_description(dev);
	if (!d || strcmp(d, "Class 0200: Vendor 8086 Device 1521") != 0)
		_exit(12);
	const char *r = hostdev_pci_device_get_resource_name(dev);
	if (!r || strcmp(r, "unknown.com/1521") != 0)
		_exit(13);
	hostdev_pci_device_unref(dev);
}

static void test_missing_pci_ids(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_PCI_IDS,
					      fakeroot_abspath(f->root, "no/such/pci.ids")),
			 0);
	assert_int_equal(run_in_child(names_of_i350, f), 0);
}

/* A corrupt pci.ids must not abort or exit the caller (libpci's default error handler exits). */
static void test_corrupt_pci_ids(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fakeroot_write(f->root, "ids/pci.ids",
					"\tzzzz  device line before any vendor, bad hex\n"
					"8086  Intel Corporation\n"),
			 0);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_PCI_IDS,
					      fakeroot_abspath(f->root, "ids/pci.ids")),
			 0);
	assert_int_equal(run_in_child(names_of_i350, f), 0);
}

/* --- kernel modules -----------------------------------------------------------------------------
 */

static void test_modules_none(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");

	/* The fixture points libkmod at a directory that does not exist. */
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 0);
	assert_null(hostdev_pci_device_get_module(dev, 0));
	hostdev_pci_device_unref(dev);
}

/* The default module directory of this machine: without /lib/modules/$(uname -r), no modules. */
static void test_modules_default_dir(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;

	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_MODULES, ""), 0);
	dev = open_dev(f, "0000:01:00.0");
	size_t n = hostdev_pci_device_get_module_count(dev);
	for (size_t i = 0; i < n; i++)
		assert_non_null(hostdev_pci_device_get_module(dev, i));
	assert_null(hostdev_pci_device_get_module(dev, n));
	print_message("modules for 8086:1521 from the default directory: %zu\n", n);
	/* Without an index for the running kernel there is nothing to find. */
	struct utsname u;
	char index[512];
	assert_int_equal(uname(&u), 0);
	snprintf(index, sizeof(index), "/lib/modules/%s/modules.alias.bin", u.release);
	if (access(index, R_OK) != 0)
		assert_int_equal(n, 0);
	hostdev_pci_device_unref(dev);
}

static bool has_module(hostdev_pci_device *dev, const char *name)
{
	for (size_t i = 0; i < hostdev_pci_device_get_module_count(dev); i++) {
		const char *m = hostdev_pci_device_get_module(dev, i);

		if (m && strcmp(m, name) == 0)
			return true;
	}
	return false;
}

/* A module directory indexed by the real depmod: aliases resolve like lspci -k. */
static void test_modules_fake_depmod(void **state)
{
	struct fixture *f = *state;
	static const char *const igb[] = {"pci:v00008086d00001521sv*sd*bc*sc*i*",
					  "pci:v00008086d00001522sv*sd*bc*sc*i*", NULL};
	static const char *const igbvf[] = {"pci:v00008086d00001520sv*sd*bc*sc*i*", NULL};
	static const char *const vfnet[] = {"pci:v00008086d*sv*sd*bc02sc00i*", NULL};
	const struct fake_module mods[] = {
	    {"igb", igb},
	    {"igbvf", igbvf},
	    {"fake_intel_net", vfnet},
	};
	hostdev_pci_device *dev;
	int r = fakeroot_modules_build(f->root, "6.1.0-fake", mods, 3);

	if (r == -ENOENT) {
		print_message("SKIP: depmod (package kmod) is not installed\n");
		skip();
	}
	assert_int_equal(r, 0);
	/* A lookup through the fixture's empty module dir first: the change of path must take
	 * effect. */
	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 0);
	hostdev_pci_device_unref(dev);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_MODULES,
					      fakeroot_abspath(f->root, "lib/modules/6.1.0-fake")),
			 0);

	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 2);
	assert_true(has_module(dev, "igb"));
	assert_true(has_module(dev, "fake_intel_net"));
	assert_false(has_module(dev, "igbvf"));
	assert_null(hostdev_pci_device_get_module(dev, 2));
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:01:10.0");
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 2);
	assert_true(has_module(dev, "igbvf"));
	assert_true(has_module(dev, "fake_intel_net"));
	hostdev_pci_device_unref(dev);

	/* Class 0x0106 does not match the class-restricted alias. */
	dev = open_dev(f, "0000:00:1f.2");
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 0);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 0);
	hostdev_pci_device_unref(dev);
}

/*
 * The real Debian kernel modules the QEMU harness keeps in its cache, when present: e1000e (82574L,
 * 8086:10d3) and vfio-pci's absence from automatic aliases.
 */
static void test_modules_vm_cache(void **state)
{
	struct fixture *f = *state;
	const char *cache = getenv("HOSTDEV_VM_CACHE");
	char pattern[2048], fallback[1024];
	glob_t g;
	hostdev_pci_device *dev;

	if (!cache || !*cache) {
		const char *home = getenv("HOME");

		snprintf(fallback, sizeof(fallback), "%s/.cache/libhostdev-vm", home ? home : "/");
		cache = fallback;
	}
	/* The harness keeps unpacked trees one or two levels below the cache directory. */
	static const char *const layouts[] = {"", "/*", "/*/*"};
	int gr = GLOB_NOMATCH;
	memset(&g, 0, sizeof(g));
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]) && gr != 0; i++) {
		snprintf(pattern, sizeof(pattern), "%s%s/lib/modules/*/modules.alias.bin", cache,
			 layouts[i]);
		gr = glob(pattern, 0, NULL, &g);
		if (gr != 0)
			globfree(&g);
	}
	if (gr != 0 || g.gl_pathc == 0) {
		print_message(
		    "SKIP: no Debian kernel modules in %s (run the QEMU harness of tests/vm "
		    "once to fill the cache, or set HOSTDEV_VM_CACHE)\n",
		    cache);
		skip();
		return;
	}
	char dir[2048];
	snprintf(dir, sizeof(dir), "%s", g.gl_pathv[0]);
	globfree(&g);
	*strrchr(dir, '/') = '\0';
	print_message("using kernel modules in %s\n", dir);

	assert_int_equal(fakeroot_pci_add(f->root, "0000:00:02.0",
					  &(const struct fake_pci){.vendor = 0x8086,
								   .device = 0x10d3,
								   .subsystem_vendor = 0x8086,
								   .subsystem_device = 0x0000,
								   .class_code = 0x020000}),
			 0);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_MODULES, dir), 0);
	dev = open_dev(f, "0000:00:02.0");
	assert_true(hostdev_pci_device_get_module_count(dev) >= 1);
	assert_true(has_module(dev, "e1000e"));
	assert_false(has_module(dev, "vfio_pci"));
	hostdev_pci_device_unref(dev);
}

/* --- odd but possible sysfs contents ------------------------------------------------------------
 */

/* Garbage in optional attributes degrades to "unknown", never to a failure or a wrong number. */
static void test_garbage_optional_attributes(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;
	char rel[512];

	assert_int_equal(fakeroot_pci_set_attr(f->root, "0000:3b:00.0", "numa_node", "abc\n"), 0);
	assert_int_equal(
	    fakeroot_pci_set_attr(f->root, "0000:3b:00.0",
				  "mdev_supported_types/nvidia-222/available_instances", "x\n"),
	    0);
	/* iommu_group pointing at a directory that is not a number */
	snprintf(rel, sizeof(rel), "%s/iommu_group", fakeroot_pci_dir(f->root, "0000:04:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);
	assert_int_equal(fakeroot_mkdir(f->root, "sys/kernel/iommu_groups/bogus/devices"), 0);
	assert_int_equal(fakeroot_symlink(f->root, "sys/kernel/iommu_groups/bogus", rel), 0);
	/* a PF whose sriov_numvfs vanished */
	snprintf(rel, sizeof(rel), "%s/sriov_numvfs", fakeroot_pci_dir(f->root, "0000:01:00.0"));
	assert_int_equal(fakeroot_remove(f->root, rel), 0);

	dev = open_dev(f, "0000:3b:00.0");
	assert_int_equal(hostdev_pci_device_get_numa_node(dev), -1);
	assert_int_equal(hostdev_pci_device_get_mdev_type_count(dev), 2);
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 0), -1);
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(dev, 1), 8);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:04:00.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), -1);
	assert_int_equal(hostdev_pci_device_get_iommu_group_member_count(dev), 0);
	hostdev_pci_device_unref(dev);

	dev = open_dev(f, "0000:01:00.0");
	assert_int_equal(hostdev_pci_device_is_sriov_pf(dev), 1);
	assert_int_equal(hostdev_pci_device_get_sriov_total_vfs(dev), 8);
	assert_int_equal(hostdev_pci_device_get_sriov_num_vfs(dev), 0);
	hostdev_pci_device_unref(dev);
}

/* Intel VMD puts devices in domains above 0xffff ("10000:00:02.0"). */
static void test_large_domain(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;
	struct hostdev_pci_address a;

	assert_int_equal(fakeroot_pci_add(f->root, "10000:00:02.0",
					  &(const struct fake_pci){.vendor = 0x144d,
								   .device = 0xa808,
								   .class_code = 0x010802,
								   .driver = "nvme",
								   .iommu_group = "60"}),
			 0);
	dev = open_dev(f, "10000:00:02.0");
	a = hostdev_pci_device_get_pci_address(dev);
	assert_int_equal(a.domain, 0x10000);
	assert_string_equal(hostdev_pci_device_get_address(dev), "10000:00:02.0");
	assert_str_or_null(hostdev_pci_device_get_driver(dev), "nvme");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 60);
	assert_str_or_null(hostdev_pci_device_get_iommu_group_member(dev, 0), "10000:00:02.0");
	assert_str_or_null(hostdev_pci_device_get_object_name(dev), "node1-1000000020");
	hostdev_pci_device_unref(dev);
}

/* --- JSON ---------------------------------------------------------------------------------------
 */

static void test_json(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");
	char *json = NULL;

	assert_int_equal(hostdev_pci_device_to_json(dev, 0, &json), 0);
	assert_non_null(json);
	assert_int_equal(json[0], '{');
	assert_non_null(strstr(json, "\"0000:01:00.0\""));
	assert_non_null(strstr(json, "\"0000:01:10.4\"")); /* a VF */
	assert_non_null(strstr(json, "\"eth0\""));
	assert_null(strchr(json, '\n'));
	hostdev_free(json);

	assert_int_equal(hostdev_pci_device_to_json(dev, HOSTDEV_JSON_PRETTY, &json), 0);
	assert_non_null(strchr(json, '\n'));
	hostdev_free(json);

	json = (char *)0x1;
	assert_int_equal(hostdev_pci_device_to_json(dev, 1u << 7, &json), -EINVAL);
	assert_ptr_equal(json, (char *)0x1);
	assert_int_equal(
	    hostdev_pci_device_to_json(dev, HOSTDEV_JSON_PRETTY | HOSTDEV_JSON_INDENT, &json),
	    -EINVAL);
	assert_ptr_equal(json, (char *)0x1);
	hostdev_pci_device_unref(dev);
}

/*
 * The `jq .` layout of compact JSON, written independently of the library's writer: two spaces a
 * level, one member or element a line, "key": value, {} and [] kept on one line.
 */
static void reindent(const char *compact, char *out)
{
	int depth = 0;

	for (const char *p = compact; *p; p++) {
		if (*p == '"') {
			*out++ = *p++;
			while (*p != '"') {
				if (*p == '\\')
					*out++ = *p++;
				*out++ = *p++;
			}
			*out++ = *p;
			continue;
		}
		if ((*p == '{' || *p == '[') && (p[1] == '}' || p[1] == ']')) {
			*out++ = *p++;
			*out++ = *p;
			continue;
		}
		if (*p == '}' || *p == ']') {
			*out++ = '\n';
			depth--;
			for (int i = 0; i < 2 * depth; i++)
				*out++ = ' ';
		}
		*out++ = *p;
		if (*p == ':')
			*out++ = ' ';
		if (*p == '{' || *p == '[' || *p == ',') {
			*out++ = '\n';
			depth += *p == ',' ? 0 : 1;
			for (int i = 0; i < 2 * depth; i++)
				*out++ = ' ';
		}
	}
	*out = '\0';
}

static void test_json_indent(void **state)
{
	struct fixture *f = *state;
	/* A PF (VF list, netdevs) and a VF (null members, empty arrays). */
	const char *addresses[] = {"0000:01:00.0", "0000:01:10.4"};

	for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
		hostdev_pci_device *dev = open_dev(f, addresses[i]);
		char *compact = NULL, *indented = NULL, *expected;

		assert_int_equal(hostdev_pci_device_to_json(dev, 0, &compact), 0);
		assert_int_equal(hostdev_pci_device_to_json(dev, HOSTDEV_JSON_INDENT, &indented),
				 0);
		expected = malloc(strlen(compact) * 40 + 1);
		assert_non_null(expected);
		reindent(compact, expected);
		assert_string_equal(indented, expected);
		assert_non_null(strstr(indented, "\n  \"address\": \""));
		free(expected);
		hostdev_free(compact);
		hostdev_free(indented);
		hostdev_pci_device_unref(dev);
	}
}

/* @text with @prefix inserted after every line break. */
static char *shift_lines(const char *text, const char *prefix)
{
	char *out = malloc(strlen(text) * (1 + strlen(prefix)) + 1), *o = out;

	assert_non_null(out);
	for (const char *p = text; *p; p++) {
		*o++ = *p;
		if (*p == '\n') {
			memcpy(o, prefix, strlen(prefix));
			o += strlen(prefix);
		}
	}
	*o = '\0';
	return out;
}

/* A device object nested in a larger document: each line after the first indented for it. */
static void test_json_nested(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f, "0000:01:00.0");
	char *flat = NULL, *nested = NULL, *expected, *json = (char *)0x1;

	assert_int_equal(hostdev_pci_device_to_json(dev, HOSTDEV_JSON_INDENT, &flat), 0);
	assert_int_equal(hostdev_pci_device_to_json_nested(dev, HOSTDEV_JSON_INDENT, 2, &nested),
			 0);
	expected = shift_lines(flat, "    ");
	assert_string_equal(nested, expected);
	assert_non_null(strstr(nested, "\n      \"address\": \"0000:01:00.0\""));
	assert_true(strlen(nested) > 5 && strcmp(nested + strlen(nested) - 6, "\n    }") == 0);
	free(expected);
	hostdev_free(flat);
	hostdev_free(nested);

	assert_int_equal(hostdev_pci_device_to_json(dev, HOSTDEV_JSON_PRETTY, &flat), 0);
	assert_int_equal(hostdev_pci_device_to_json_nested(dev, HOSTDEV_JSON_PRETTY, 1, &nested),
			 0);
	expected = shift_lines(flat, "\t");
	assert_string_equal(nested, expected);
	free(expected);
	hostdev_free(flat);
	hostdev_free(nested);

	/* Depth 0 is hostdev_pci_device_to_json(), in every layout. */
	assert_int_equal(hostdev_pci_device_to_json(dev, 0, &flat), 0);
	assert_int_equal(hostdev_pci_device_to_json_nested(dev, 0, 0, &nested), 0);
	assert_string_equal(nested, flat);
	hostdev_free(flat);
	hostdev_free(nested);

	/* Compact JSON has no lines to indent; a depth past the limit is refused. */
	assert_int_equal(hostdev_pci_device_to_json_nested(dev, 0, 1, &json), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "compact JSON"));
	assert_int_equal(hostdev_pci_device_to_json_nested(dev, HOSTDEV_JSON_INDENT, 65, &json),
			 -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "depth 65"));
	assert_int_equal(hostdev_pci_device_to_json_nested(dev, HOSTDEV_JSON_INDENT, 64, &nested),
			 0);
	hostdev_free(nested);
	assert_ptr_equal(json, (char *)0x1);
	hostdev_pci_device_unref(dev);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_identity),
	    T(test_all_devices_open),
	    T(test_address_forms),
	    T(test_new_errors),
	    T(test_unreadable_identity),
	    T(test_ref_unref),
	    T(test_device_outlives_ctx_ref),
	    T(test_sysfs_path_only),
	    T(test_snapshot),
	    T(test_driver_and_override),
	    T(test_driver_override_variants),
	    T(test_modalias),
	    T(test_iommu_groups),
	    T(test_iommu_group_member_order),
	    T(test_numa_node),
	    T(test_physical_slot),
	    T(test_physical_slot_multifunction),
	    T(test_boot_vga),
	    T(test_bridge),
	    T(test_sriov_pf),
	    T(test_sriov_vf),
	    T(test_sriov_many_vfs_order),
	    T(test_sriov_pf_without_vfs),
	    T(test_netdevs),
	    T(test_parts_are_a_snapshot),
	    T(test_mdev_types),
	    T(test_mdev_type_optional_attributes),
	    T(test_names_system_pci_ids),
	    T(test_harvester_names),
	    T(test_resource_names_through_pci_ids),
	    T(test_object_name_node),
	    T(test_custom_pci_ids),
	    T(test_missing_pci_ids),
	    T(test_corrupt_pci_ids),
	    T(test_modules_none),
	    T(test_modules_default_dir),
	    T(test_modules_fake_depmod),
	    T(test_modules_vm_cache),
	    T(test_garbage_optional_attributes),
	    T(test_large_domain),
	    T(test_json),
	    T(test_json_indent),
	    T(test_json_nested),
	};

	return cmocka_run_group_tests_name("pci_device", tests, NULL, NULL);
}
