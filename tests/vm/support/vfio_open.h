/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VFIO userspace open of one PCI device, as a VMM makes it, for the in-guest checks: the
 * container, the group (viable), the type1 IOMMU, the device fd, a DMA map and unmap. Shared by
 * scenario 71-vfio-open and the checker vm-cdi-vfio-open (through the nodes a CDI spec names).
 */
#ifndef HOSTDEV_VM_VFIO_OPEN_H
#define HOSTDEV_VM_VFIO_OPEN_H

/* The file descriptors of one VFIO open; -1 where that step failed. */
struct vfio_handles {
	int container, group, device;
};

/*
 * Open device @name (a PCI address, or an mdev's UUID) as a VMM does, one check() per step: the
 * container node @container_path (/dev/vfio/vfio, API version, type1 supported), the group node
 * @group_path (/dev/vfio/<group>, viable), the group joined to the container, the type1 IOMMU,
 * the device fd. What was opened is in @h until vfio_handles_close(). Returns the device fd, or -1.
 */
int vfio_open_device(const char *container_path, const char *group_path, const char *name,
		     struct vfio_handles *h);

/* Close what vfio_open_device() opened, the device first. */
void vfio_handles_close(struct vfio_handles *h);

/* vfio_open_device() of PCI device @addr, its info (PCI, regions), a DMA map and unmap through the
 * container, then everything opened is closed again. */
void vfio_open_check(const char *container_path, const char *group_path, const char *addr);

#endif /* HOSTDEV_VM_VFIO_OPEN_H */
