/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IOMMU group members a device cannot go to vfio-pci without. The kernel hands a group to a
 * VM only whole: the library's bind (hostdev_vfio_bind_set()) refuses a device whose group holds
 * another endpoint on a host driver unless that endpoint is in the same set. A GPU and its audio
 * function share a group on most hosts, so a claim must hold both, and the offer must judge them
 * together. The library decides; this file only names the members its rule asks for, so that
 * Prepare can say which ones a claim lacks and the offer can ask the dry run of the whole set.
 *
 * The rule mirrored (vfio_bind.c plan_groups()): PCI-to-PCI bridges (root ports) stay on
 * pcieport and do not count; a member without a driver, on vfio-pci or on pci-stub does not hold
 * the group. Were the library stricter, its bind refuses what this file let through (the offer
 * then leaves the device out with the library's reason); were it more lenient, a member is asked
 * for that was not needed: neither binds anything the library would refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* Base class 06: host, ISA, PCI and other bridges. */
#define PCI_BASE_CLASS_BRIDGE 0x06
#define PCI_CLASS_BRIDGE_ISA 0x0601

bool dra_class_is_bridge(unsigned int class_code)
{
	return (class_code >> 16) == PCI_BASE_CLASS_BRIDGE;
}

/* Whether a member on @driver holds the group from vfio-pci: every driver but vfio-pci itself,
 * pci-stub and pcieport (bridges only); a member without a driver does not. */
static bool holds_group(const char *driver)
{
	return driver && strcmp(driver, "vfio-pci") != 0 && strcmp(driver, "pci-stub") != 0 &&
	       strcmp(driver, "pcieport") != 0;
}

int dra_group_read(hostdev_ctx *ctx, const char *address, struct dra_group *out)
{
	hostdev_pci_device *dev = NULL;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	out->group = -1;
	if ((r = hostdev_pci_device_new(ctx, address, &dev)) < 0)
		return r;
	out->group = hostdev_pci_device_get_iommu_group(dev);
	n = out->group >= 0 ? hostdev_pci_device_get_iommu_group_member_count(dev) : 0;
	if (n && !(out->needs = calloc(n, sizeof(*out->needs)))) {
		hostdev_pci_device_unref(dev);
		return -ENOMEM;
	}
	for (size_t m = 0; m < n; m++) {
		const char *member = hostdev_pci_device_get_iommu_group_member(dev, m);
		hostdev_pci_device *md = NULL;
		unsigned int class_code;
		const char *drv;

		if (!member || strcmp(member, hostdev_pci_device_get_address(dev)) == 0)
			continue;
		if (hostdev_pci_device_new(ctx, member, &md) < 0)
			continue; /* gone meanwhile: it cannot hold the group (its event follows) */
		class_code = hostdev_pci_device_get_class(md);
		drv = hostdev_pci_device_get_driver(md);
		/* The chipset's LPC/ISA bridge with the SMBus, SATA, ... beside it: the group
		 * holds the platform's own functions (hostdev_vfio_check() says so too). */
		if ((class_code >> 8) == PCI_CLASS_BRIDGE_ISA && !out->chipset[0])
			snprintf(out->chipset, sizeof(out->chipset), "%s", member);
		if (!hostdev_pci_device_is_bridge(md) && holds_group(drv)) {
			struct dra_member *nm = &out->needs[out->count++];

			snprintf(nm->address, sizeof(nm->address), "%s", member);
			snprintf(nm->driver, sizeof(nm->driver), "%s", drv);
			nm->bridge = dra_class_is_bridge(class_code);
		}
		hostdev_pci_device_unref(md);
	}
	hostdev_pci_device_unref(dev);
	return 0;
}

void dra_group_clear(struct dra_group *g)
{
	if (!g)
		return;
	free(g->needs);
	g->needs = NULL;
	g->count = 0;
}
