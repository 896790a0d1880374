/* SPDX-License-Identifier: Apache-2.0 */
/* IOMMU group membership: the devices listed under the group the device's iommu_group link names.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "pci.h"
#include "core/core.h"

/* Group directories also list non-PCI devices on some platforms; keep PCI addresses only. */
static bool is_pci_address(const char *name)
{
	struct hostdev_pci_address addr;

	return hostdev_pci_address_parse(name, &addr) == 0;
}

void pci_device_load_group(hostdev_pci_device *dev)
{
	char path[PATH_MAX];
	int fd, r;

	if (dev->loaded & PCI_PART_GROUP)
		return;
	dev->loaded |= PCI_PART_GROUP;
	if (dev->iommu_group < 0)
		return;
	r = snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d", ctx_sysfs(dev->ctx),
		     dev->iommu_group);
	if (r < 0 || (size_t)r >= sizeof(path))
		return;
	fd = open_dir_at(AT_FDCWD, path);
	if (fd < 0) {
		log_warn(dev->ctx, "%s: IOMMU group %d has no directory %s", dev->address,
			 dev->iommu_group, path);
		return;
	}
	sysfs_list_dir(fd, "devices", is_pci_address, &dev->group_members);
	close(fd);
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_iommu_group_member_count,
			      pci_device_load_group, group_members.count, 0)

HOSTDEV_EXPORT const char *hostdev_pci_device_get_iommu_group_member(hostdev_pci_device *dev,
								     size_t index)
{
	if (!dev)
		return NULL;
	pci_device_load_group(dev);
	return index < dev->group_members.count ? dev->group_members.items[index] : NULL;
}
