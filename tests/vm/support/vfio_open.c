/* SPDX-License-Identifier: Apache-2.0 */
/* A VMM's VFIO open of one device (vfio_open.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenario.h"
#include "vfio_open.h"

int vfio_open_device(const char *container_path, const char *group_path, const char *name,
		     struct vfio_handles *h)
{
	struct vfio_group_status status = {.argsz = sizeof(status)};
	char what[PATH_MAX + 64];

	h->container = h->group = h->device = -1;
	h->container = open(container_path, O_RDWR | O_CLOEXEC);
	snprintf(what, sizeof(what), "open %s (the container)", container_path);
	check(h->container >= 0, what, strerror(errno));
	if (h->container < 0)
		return -1;
	check(ioctl(h->container, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "VFIO API version",
	      NULL);
	check(ioctl(h->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1,
	      "type1 IOMMU supported", NULL);
	h->group = open(group_path, O_RDWR | O_CLOEXEC);
	snprintf(what, sizeof(what), "open %s (the group)", group_path);
	check(h->group >= 0, what, strerror(errno));
	if (h->group < 0)
		return -1;
	check(ioctl(h->group, VFIO_GROUP_GET_STATUS, &status) == 0 &&
		  (status.flags & VFIO_GROUP_FLAGS_VIABLE),
	      "group is viable", NULL);
	check(ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container) == 0,
	      "group joins the container", strerror(errno));
	check(ioctl(h->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) == 0, "container set to type1",
	      strerror(errno));
	h->device = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, name);
	snprintf(what, sizeof(what), "VFIO_GROUP_GET_DEVICE_FD %s", name);
	check(h->device >= 0, what, strerror(errno));
	return h->device;
}

void vfio_handles_close(struct vfio_handles *h)
{
	if (h->device >= 0)
		close(h->device);
	if (h->group >= 0)
		close(h->group);
	if (h->container >= 0)
		close(h->container);
	h->container = h->group = h->device = -1;
}

void vfio_open_check(const char *container_path, const char *group_path, const char *addr)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_iommu_type1_dma_map map = {.argsz = sizeof(map)};
	struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof(unmap)};
	struct vfio_handles h;
	char detail[128];
	void *mem;

	if (vfio_open_device(container_path, group_path, addr, &h) >= 0) {
		check(ioctl(h.device, VFIO_DEVICE_GET_INFO, &info) == 0 &&
			  (info.flags & VFIO_DEVICE_FLAGS_PCI),
		      "device info says PCI", NULL);
		snprintf(detail, sizeof(detail), "%u regions, %u irqs", info.num_regions,
			 info.num_irqs);
		check(info.num_regions > 0, "device has regions", detail);
	}
	mem = h.group >= 0
		  ? mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
		  : MAP_FAILED;
	if (mem != MAP_FAILED) {
		map.vaddr = (unsigned long)mem;
		map.size = 1 << 20;
		map.iova = 0x100000;
		map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
		check(ioctl(h.container, VFIO_IOMMU_MAP_DMA, &map) == 0, "DMA map",
		      strerror(errno));
		unmap.iova = map.iova;
		unmap.size = map.size;
		check(ioctl(h.container, VFIO_IOMMU_UNMAP_DMA, &unmap) == 0, "DMA unmap",
		      strerror(errno));
		munmap(mem, 1 << 20);
	}
	vfio_handles_close(&h);
}
