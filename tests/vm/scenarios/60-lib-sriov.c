// SPDX-License-Identifier: Apache-2.0
/*
 * vm-machine: iommu
 * vm-timeout: 90
 * vm-description: C scenario: libhostdev reads IOMMU groups and SR-IOV PF/VF links of the real
 * kernel
 *
 * A C scenario is built by tests/vm/CMakeLists.txt (linked with libhostdev) and run as
 * /hostdev/scenarios/<name> in the guest; exit 0 = pass, 77 = skip, anything else = fail.
 */
#include <errno.h>
#include <hostdev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

static int write_attr(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	int rc = fputs(value, f) < 0 ? -EIO : 0;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* The IOMMU group number the kernel reports for @addr, or -1. */
static int kernel_group(const char *addr)
{
	char link[PATH_MAX], target[PATH_MAX];
	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", addr);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	return atoi(base ? base + 1 : target);
}

static hostdev_pci_device *device(hostdev_ctx *ctx, const char *addr)
{
	hostdev_pci_device *dev = NULL;
	int rc = hostdev_pci_device_new(ctx, addr, &dev);
	char what[128];
	snprintf(what, sizeof(what), "hostdev_pci_device_new(%s)", addr);
	check(rc == 0, what, rc ? strerror(-rc) : NULL);
	return rc == 0 ? dev : NULL;
}

int main(void)
{
	hostdev_ctx *ctx = NULL;
	if (hostdev_ctx_new(&ctx) != 0) {
		printf("not ok - hostdev_ctx_new\n");
		return 1;
	}

	/* The ICH9 functions share one group with three members. */
	hostdev_pci_device *lpc = device(ctx, "0000:00:1f.0");
	if (lpc) {
		check(hostdev_pci_device_get_iommu_group(lpc) == kernel_group("0000:00:1f.0"),
		      "LPC IOMMU group matches the kernel", NULL);
		check(hostdev_pci_device_get_iommu_group_member_count(lpc) == 3,
		      "LPC group has 3 members", NULL);
		hostdev_pci_device_unref(lpc);
	}

	/* NVMe PF: enable 2 VFs (driverless), then read PF and VF through the library. */
	const char *pf_addr = "0000:01:00.0";
	write_attr("/sys/bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe", "0");
	int rc = write_attr("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "2");
	check(rc == 0, "kernel accepts sriov_numvfs=2", rc ? strerror(-rc) : NULL);
	for (int i = 0; i < 600 && access("/sys/bus/pci/devices/0000:01:00.0/virtfn1", F_OK); i++)
		usleep(100000);
	hostdev_pci_device *pf = device(ctx, pf_addr);
	if (pf) {
		check(hostdev_pci_device_is_sriov_pf(pf) == 1, "NVMe is an SR-IOV PF", NULL);
		check(hostdev_pci_device_get_vf_count(pf) == 2, "PF lists 2 VFs", NULL);
		const char *vf0 = hostdev_pci_device_get_vf_count(pf) > 0
				      ? hostdev_pci_device_get_vf_address(pf, 0)
				      : NULL;
		hostdev_pci_device *vf = vf0 ? device(ctx, vf0) : NULL;
		if (vf) {
			check(hostdev_pci_device_is_sriov_vf(vf) == 1, "VF 0 is a VF", NULL);
			const char *back = hostdev_pci_device_get_pf_address(vf);
			check(back && strcmp(back, pf_addr) == 0, "VF 0 points back to its PF",
			      back);
			check(hostdev_pci_device_get_driver(vf) == NULL, "VF 0 is driverless",
			      NULL);
			check(hostdev_pci_device_get_iommu_group(vf) == kernel_group(vf0) &&
				  hostdev_pci_device_get_iommu_group(vf) !=
				      hostdev_pci_device_get_iommu_group(pf),
			      "VF 0 has its own IOMMU group, as the kernel says", NULL);
			hostdev_pci_device_unref(vf);
		}
		hostdev_pci_device_unref(pf);
	}
	rc = write_attr("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "0");
	check(rc == 0, "kernel accepts sriov_numvfs=0", rc ? strerror(-rc) : NULL);
	hostdev_ctx_unref(ctx);
	return scenario_finish();
}
