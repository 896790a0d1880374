/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-only smoke test on this machine's real /sys. It asserts invariants only (never a particular
 * device), and it never writes anything: it only enumerates and reads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostdev.h"

/* Read a sysfs attribute of the real device as a hex number; -1 when unreadable. */
static long read_hex(const char *address, const char *attr)
{
	char path[512], buf[64];
	FILE *fp;
	long v = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", address, attr);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	if (fgets(buf, sizeof(buf), fp))
		v = strtol(buf, NULL, 16);
	fclose(fp);
	return v;
}

static void test_real_sysfs_invariants(void **state)
{
	hostdev_ctx *ctx = NULL;
	hostdev_pci_enum *e = NULL;
	hostdev_pci_device *dev;
	struct hostdev_pci_address prev_a = {0};
	int r, n = 0;

	(void)state;
	if (access("/sys/bus/pci/devices", R_OK) != 0) {
		print_message("SKIP: this machine has no /sys/bus/pci\n");
		skip();
	}
	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/sys");
	assert_int_equal(hostdev_pci_enum_new(ctx, &e), 0);
	while ((r = hostdev_pci_enum_next(e, &dev)) == 1) {
		const char *address = hostdev_pci_device_get_address(dev);
		struct hostdev_pci_address a, b = hostdev_pci_device_get_pci_address(dev);
		char formatted[HOSTDEV_PCI_ADDRESS_MAX];

		n++;
		assert_int_equal(hostdev_pci_address_parse(address, &a), 0);
		assert_int_equal(a.domain, b.domain);
		assert_int_equal(a.bus, b.bus);
		assert_int_equal(a.slot, b.slot);
		assert_int_equal(a.function, b.function);
		assert_true(hostdev_pci_address_format(&a, formatted, sizeof(formatted)) > 0);
		assert_string_equal(formatted, address);
		/* strictly increasing addresses, compared as numbers */
		if (n > 1) {
			unsigned long long k_prev = (unsigned long long)prev_a.domain << 16 |
						    prev_a.bus << 8 | prev_a.slot << 3 |
						    prev_a.function;
			unsigned long long k = (unsigned long long)a.domain << 16 | a.bus << 8 |
					       a.slot << 3 | a.function;
			assert_true(k_prev < k);
		}
		prev_a = a;

		assert_int_equal(hostdev_pci_device_get_vendor_id(dev),
				 read_hex(address, "vendor"));
		assert_int_equal(hostdev_pci_device_get_device_id(dev),
				 read_hex(address, "device"));
		assert_int_equal(hostdev_pci_device_get_class(dev), read_hex(address, "class"));
		assert_int_equal(hostdev_pci_device_get_subsystem_vendor_id(dev),
				 read_hex(address, "subsystem_vendor"));
		assert_int_equal(hostdev_pci_device_get_subsystem_device_id(dev),
				 read_hex(address, "subsystem_device"));
		assert_int_equal(hostdev_pci_device_get_revision(dev),
				 read_hex(address, "revision"));
		assert_true(hostdev_pci_device_get_numa_node(dev) >= -1);
		assert_true(hostdev_pci_device_get_iommu_group(dev) >= -1);
		if (hostdev_pci_device_get_iommu_group(dev) >= 0)
			assert_true(hostdev_pci_device_get_iommu_group_member_count(dev) >= 1);
		assert_non_null(hostdev_pci_device_get_description(dev));
		assert_non_null(hostdev_pci_device_get_object_name(dev));
		assert_int_equal(
		    hostdev_naming_check_resource_name(hostdev_pci_device_get_resource_name(dev)),
		    0);
		assert_int_equal(hostdev_naming_check_resource_name(
				     hostdev_pci_device_get_device_resource_name(dev)),
				 0);

		/* The same device opened by address is the same device. */
		hostdev_pci_device *again = NULL;
		assert_int_equal(hostdev_pci_device_new(ctx, address, &again), 0);
		assert_int_equal(hostdev_pci_device_get_device_id(again),
				 hostdev_pci_device_get_device_id(dev));
		hostdev_pci_device_unref(again);
		print_message(
		    "%s %04x:%04x class %06x driver %s -> %s\n", address,
		    hostdev_pci_device_get_vendor_id(dev), hostdev_pci_device_get_device_id(dev),
		    hostdev_pci_device_get_class(dev),
		    hostdev_pci_device_get_driver(dev) ? hostdev_pci_device_get_driver(dev) : "-",
		    hostdev_pci_device_get_resource_name(dev));
		hostdev_pci_device_unref(dev);
	}
	assert_int_equal(r, 0);
	assert_true(n > 0);
	hostdev_pci_enum_unref(e);
	hostdev_ctx_unref(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_sysfs_invariants),
	};

	return cmocka_run_group_tests_name("pci_smoke_real_sysfs", tests, NULL, NULL);
}
