// SPDX-License-Identifier: Apache-2.0
/*
 * vm-machine: iommu
 * vm-timeout: 150
 * vm-description: C scenario: mtty mdev through the library: types, create (generated UUID), list
 * with its IOMMU group, VFIO open (container, group, device fd, config space read), removal blocked
 * while open times out under the watchdog and completes once the VM-like user lets go
 *
 * This is what a VMM does with an mdev libhostdev created: if it opens and reads here, the mdev is
 * usable, not only visible in sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <hostdev.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"
#include "vfio_open.h"

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Index of @uuid in a fresh mdev list, -1 when absent; fills the group. */
static int find_mdev(hostdev_ctx *ctx, const char *uuid, int *group, char *type, size_t size)
{
	hostdev_mdev_list *l = NULL;
	int found = -1;

	if (hostdev_mdev_list_read(ctx, &l) < 0)
		return -1;
	for (size_t i = 0; i < hostdev_mdev_list_get_count(l); i++) {
		if (strcmp(hostdev_mdev_list_get_uuid(l, i), uuid) != 0)
			continue;
		found = (int)i;
		*group = hostdev_mdev_list_get_iommu_group(l, i);
		snprintf(type, size, "%s", hostdev_mdev_list_get_type(l, i));
	}
	hostdev_mdev_list_unref(l);
	return found;
}

int main(void)
{
	struct hostdev_mdev_options opts = HOSTDEV_MDEV_OPTIONS_INIT;
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_region_info cfg = {.argsz = sizeof(cfg)};
	hostdev_ctx *ctx = NULL;
	hostdev_mdev_types *types = NULL;
	char *uuid = NULL, path[PATH_MAX], type[64] = "", detail[256];
	struct vfio_handles vfio = {-1, -1, -1};
	int r, group = -1, dfd = -1, avail_before = -1;
	uint16_t ids[2] = {0, 0};

	if (system("modprobe mtty") != 0) {
		printf("not ok - modprobe mtty\n");
		return 1;
	}
	if (hostdev_ctx_new(&ctx) < 0)
		return 1;

	r = hostdev_mdev_types_read(ctx, "mtty", &types);
	check(r == 0, "mdev types of parent mtty", hostdev_ctx_get_error(ctx));
	if (r == 0) {
		check(hostdev_mdev_types_get_count(types) == 2, "mtty offers 2 types", NULL);
		check(strcmp(hostdev_mdev_types_get_type(types, 1), "mtty-2") == 0 &&
			  strcmp(hostdev_mdev_types_get_selector(types, 1), "Dual_port_serial") ==
			      0,
		      "mtty-2 with its KubeVirt selector Dual_port_serial",
		      hostdev_mdev_types_get_selector(types, 1));
		check(hostdev_mdev_types_is_pci_parent(types, 1) == 0, "mtty is not a PCI parent",
		      NULL);
		avail_before = hostdev_mdev_types_get_available(types, 1);
		hostdev_mdev_types_unref(types);
	}

	r = hostdev_mdev_create(ctx, "mtty", "mtty-2", NULL, NULL, 0, &uuid);
	check(r == 0, "hostdev_mdev_create mtty-2 (generated UUID)", hostdev_ctx_get_error(ctx));
	if (r < 0)
		goto out;
	printf("# mdev %s\n", uuid);
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", uuid);
	check(exists(path), "the kernel made /sys/bus/mdev/devices/<uuid>", path);
	check(find_mdev(ctx, uuid, &group, type, sizeof(type)) >= 0, "the mdev list has it", NULL);
	check(strcmp(type, "mtty-2") == 0, "listed with type mtty-2", type);
	snprintf(detail, sizeof(detail), "group %d", group);
	check(group >= 0, "the mdev has an IOMMU group", detail);
	r = hostdev_mdev_types_read(ctx, "mtty", &types);
	if (r == 0) {
		check(hostdev_mdev_types_get_available(types, 1) == avail_before - 1,
		      "available_instances went down by one", NULL);
		hostdev_mdev_types_unref(types);
	}

	/* VFIO open, as a VMM does it, by the mdev's UUID; the device fd stays open below. */
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	dfd = vfio_open_device("/dev/vfio/vfio", path, uuid, &vfio);
	if (dfd < 0)
		goto close;
	check(ioctl(dfd, VFIO_DEVICE_GET_INFO, &info) == 0 && (info.flags & VFIO_DEVICE_FLAGS_PCI),
	      "device info says PCI (mtty's vfio-pci device API)", NULL);
	cfg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(dfd, VFIO_DEVICE_GET_REGION_INFO, &cfg) == 0 &&
	    pread(dfd, ids, sizeof(ids), (off_t)cfg.offset) == (ssize_t)sizeof(ids)) {
		snprintf(detail, sizeof(detail), "%04x:%04x", ids[0], ids[1]);
		/* mtty's emulated config space: vendor 0x4348, device 0x3253 (a WCH serial card) */
		check(ids[0] == 0x4348 && ids[1] == 0x3253,
		      "config space reads mtty's ids 4348:3253", detail);
	} else {
		check(0, "config space region readable", strerror(errno));
	}

	/* Removing it now blocks in the kernel until the device fd is closed, which this program
	 * does only afterwards: only the watchdog can end the call (how long it took is shown, not
	 * checked). */
	opts.timeout_ms = 2000;
	{
		struct timespec t0, t1;
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = hostdev_mdev_remove(ctx, uuid, &opts, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		snprintf(detail, sizeof(detail), "r=%d after %ld ms: %s", r, ms,
			 hostdev_ctx_get_error(ctx));
		check(r == -ETIMEDOUT, "remove while a user holds the device: -ETIMEDOUT", detail);
		check(strstr(hostdev_ctx_get_error(ctx), "probably still holds it open") != NULL,
		      "the timeout message says why", hostdev_ctx_get_error(ctx));
	}
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", uuid);
close:
	vfio_handles_close(&vfio);
	/* The blocked removal finishes on its own once the user let go. */
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", uuid);
	for (int i = 0; i < 600 && exists(path); i++)
		usleep(100000);
	if (r == -ETIMEDOUT) {
		check(!exists(path), "after close the pending removal completed", path);
	} else {
		r = hostdev_mdev_remove(ctx, uuid, NULL, 0);
		check(r == 0, "hostdev_mdev_remove", hostdev_ctx_get_error(ctx));
	}
	check(find_mdev(ctx, uuid, &group, type, sizeof(type)) < 0,
	      "the mdev list no longer has it", NULL);
	r = hostdev_mdev_remove(ctx, uuid, NULL, 0);
	check(r == -ENODEV, "removing it again: -ENODEV", hostdev_ctx_get_error(ctx));
out:
	hostdev_free(uuid);
	hostdev_ctx_unref(ctx);
	return scenario_finish();
}
