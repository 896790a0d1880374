// SPDX-License-Identifier: Apache-2.0
/*
 * vm-machine: iommu
 * vm-timeout: 120
 * vm-description: C scenario: the library binds e1000e, a VFIO userspace open works (container,
 * group, type1 IOMMU, device fd, DMA map/unmap), the library restores it to e1000e
 *
 * This is what a VMM does with a device libhostdev handed over: if it works here, the binding is
 * usable, not only visible in sysfs. The open itself is support/vfio_open.c (shared with the
 * checker vm-cdi-vfio-open of 96-agent-dra).
 */
#include <hostdev.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"
#include "vfio_open.h"

int main(void)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_ctx *ctx = NULL;
	hostdev_pci_device *dev = NULL;
	char nic[HOSTDEV_PCI_ADDRESS_MAX], drv[64];
	int r, group;

	find_pci(0x8086, 0x10d3, nic, sizeof(nic));
	if (!nic[0]) {
		printf("not ok - no e1000e in the guest\n");
		return 1;
	}
	if (hostdev_ctx_new(&ctx) < 0 || hostdev_pci_device_new(ctx, nic, &dev) < 0) {
		printf("not ok - cannot read %s\n", nic);
		return 1;
	}
	group = hostdev_pci_device_get_iommu_group(dev);
	hostdev_pci_device_unref(dev);

	opts.owner = "vm-71";
	r = hostdev_vfio_bind(ctx, nic, &opts, 0);
	check(r == 1, "hostdev_vfio_bind moves the e1000e", hostdev_ctx_get_error(ctx));
	driver_of(nic, drv, sizeof(drv));
	check(strcmp(drv, "vfio-pci") == 0, "e1000e on vfio-pci", drv);
	if (r == 1) {
		char group_path[64];

		snprintf(group_path, sizeof(group_path), "/dev/vfio/%d", group);
		vfio_open_check("/dev/vfio/vfio", group_path, nic);
	}

	r = hostdev_vfio_restore(ctx, nic, NULL, 0);
	check(r == 1, "hostdev_vfio_restore gives it back", hostdev_ctx_get_error(ctx));
	driver_of(nic, drv, sizeof(drv));
	check(strcmp(drv, "e1000e") == 0, "e1000e back on e1000e", drv);
	hostdev_ctx_unref(ctx);
	return scenario_finish();
}
