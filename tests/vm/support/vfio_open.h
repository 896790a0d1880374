/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VFIO userspace open of one PCI device, as a VMM makes it, for the in-guest checks: the
 * container, the group (viable), the type1 IOMMU, the device fd, a DMA map and unmap. Shared by
 * scenario 71-vfio-open and the checker vm-cdi-vfio-open (through the nodes a CDI spec names).
 */
#ifndef HOSTDEV_VM_VFIO_OPEN_H
#define HOSTDEV_VM_VFIO_OPEN_H

/* Open PCI device @addr through the container node @container_path (/dev/vfio/vfio) and the group
 * node @group_path (/dev/vfio/<group>), one check() per step; everything opened is closed again.
 */
void vfio_open_check(const char *container_path, const char *group_path, const char *addr);

#endif /* HOSTDEV_VM_VFIO_OPEN_H */
