// SPDX-License-Identifier: Apache-2.0
/*
 * vm-machine: iommu
 * vm-timeout: 120
 * vm-description: C scenario: the library binds e1000e, a VFIO userspace open works (container,
 * group, type1 IOMMU, device fd, DMA map/unmap), the library restores it to e1000e
 *
 * This is what a VMM does with a device libhostdev handed over: if it works here, the binding is
 * usable, not only visible in sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <hostdev.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenario.h"

static void vfio_open(const char *addr, int group)
{
	struct vfio_group_status status = {.argsz = sizeof(status)};
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_iommu_type1_dma_map map = {.argsz = sizeof(map)};
	struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof(unmap)};
	char path[64], detail[128];
	int container, gfd, dfd;
	void *mem;

	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	check(container >= 0, "open /dev/vfio/vfio", strerror(errno));
	if (container < 0)
		return;
	check(ioctl(container, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "VFIO API version", NULL);
	check(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1,
	      "type1 IOMMU supported", NULL);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	gfd = open(path, O_RDWR | O_CLOEXEC);
	check(gfd >= 0, "open /dev/vfio/<group>", strerror(errno));
	if (gfd < 0)
		goto out;
	check(ioctl(gfd, VFIO_GROUP_GET_STATUS, &status) == 0 &&
		  (status.flags & VFIO_GROUP_FLAGS_VIABLE),
	      "group is viable", NULL);
	check(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &container) == 0, "group joins the container",
	      strerror(errno));
	check(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) == 0, "container set to type1",
	      strerror(errno));
	dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, addr);
	check(dfd >= 0, "device fd", strerror(errno));
	if (dfd >= 0) {
		check(ioctl(dfd, VFIO_DEVICE_GET_INFO, &info) == 0 &&
			  (info.flags & VFIO_DEVICE_FLAGS_PCI),
		      "device info says PCI", NULL);
		snprintf(detail, sizeof(detail), "%u regions, %u irqs", info.num_regions,
			 info.num_irqs);
		check(info.num_regions > 0, "device has regions", detail);
		close(dfd);
	}
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem != MAP_FAILED) {
		map.vaddr = (unsigned long)mem;
		map.size = 1 << 20;
		map.iova = 0x100000;
		map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
		check(ioctl(container, VFIO_IOMMU_MAP_DMA, &map) == 0, "DMA map", strerror(errno));
		unmap.iova = map.iova;
		unmap.size = map.size;
		check(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) == 0, "DMA unmap",
		      strerror(errno));
		munmap(mem, 1 << 20);
	}
	close(gfd);
out:
	close(container);
}

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
	if (r == 1)
		vfio_open(nic, group);

	r = hostdev_vfio_restore(ctx, nic, NULL, 0);
	check(r == 1, "hostdev_vfio_restore gives it back", hostdev_ctx_get_error(ctx));
	driver_of(nic, drv, sizeof(drv));
	check(strcmp(drv, "e1000e") == 0, "e1000e back on e1000e", drv);
	hostdev_ctx_unref(ctx);
	return scenario_finish();
}
