/* SPDX-License-Identifier: Apache-2.0 */
/* The fake host of the device-plugin config and plugin tests; see dp_tree.h. */
#include "dp_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char pci_ids[] = "8086  Intel Corporation\n"
			      "\t10d3  82574L Gigabit Network Connection\n"
			      "\t1572  Ethernet Controller X710 for 10GbE SFP+\n"
			      "\t154c  Ethernet Virtual Function 700 Series\n"
			      "\ta110  100 Series/C230 Series Chipset Family PCI Express Root "
			      "Port #1\n"
			      "\ta36d  Cannon Lake PCH USB 3.1 xHCI Host Controller\n"
			      "10de  NVIDIA Corporation\n"
			      "\t1eb8  TU104GL [Tesla T4]\n"
			      "C 02  Network controller\n"
			      "\t00  Ethernet controller\n";

static const char *const ens1f0[] = {"ens1f0", NULL};
static const char *const ens1f1[] = {"ens1f1", NULL};
static const char *const ens2f0[] = {"ens2f0", NULL};

static int vfio_node(struct fakeroot *root, const char *group)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "dev/vfio/%s", group);
	return fakeroot_write(root, rel, "");
}

static int add(struct fakeroot *root, const char *address, struct fake_pci desc)
{
	if (fakeroot_pci_add(root, address, &desc) < 0)
		return -1;
	if (desc.driver && strcmp(desc.driver, "vfio-pci") == 0 &&
	    vfio_node(root, desc.iommu_group))
		return -1;
	return 0;
}

static int add_vfs(struct fakeroot *root, const char *pf, const char *first_slot, unsigned int n,
		   int first_group, int numa)
{
	for (unsigned int i = 0; i < n; i++) {
		char address[32], group[16];

		snprintf(address, sizeof(address), "%s.%u", first_slot, i);
		snprintf(group, sizeof(group), "%d", first_group + (int)i);
		if (add(root, address,
			(struct fake_pci){.vendor = 0x8086,
					  .device = 0x154c,
					  .class_code = 0x020000,
					  .numa_node = numa,
					  .driver = "vfio-pci",
					  .iommu_group = group,
					  .physfn = pf,
					  .vf_index = i}) < 0)
			return -1;
	}
	return 0;
}

static int add_pf(struct fakeroot *root, const char *address, const char *group, int numa,
		  const char *const *ifname, unsigned int vfs)
{
	return add(root, address,
		   (struct fake_pci){.vendor = 0x8086,
				     .device = 0x1572,
				     .class_code = 0x020000,
				     .numa_node = numa,
				     .driver = "i40e",
				     .iommu_group = group,
				     .netdevs = ifname,
				     .sriov_totalvfs = 8,
				     .sriov_numvfs = vfs,
				     .sriov_vf_device = 0x154c,
				     .sriov_offset = 16,
				     .sriov_stride = 1});
}

static int add_t4(struct fakeroot *root, const char *address, const char *driver, const char *group)
{
	return add(root, address,
		   (struct fake_pci){.vendor = 0x10de,
				     .device = 0x1eb8,
				     .class_code = 0x030200,
				     .numa_node = 1,
				     .driver = driver,
				     .iommu_group = group});
}

static int add_nic(struct fakeroot *root, const char *address, const char *driver,
		   const char *group, bool multifunction)
{
	return add(root, address,
		   (struct fake_pci){.vendor = 0x8086,
				     .device = 0x10d3,
				     .class_code = 0x020000,
				     .numa_node = 0,
				     .driver = driver,
				     .iommu_group = group,
				     .multifunction = multifunction});
}

/* usb1 below the controller: the root hub of bus 1. */
static int add_root_hub(struct fakeroot *root)
{
	char dir[512], rel[600];

	snprintf(dir, sizeof(dir), "%s/usb1", fakeroot_pci_dir(root, "0000:00:14.0"));
#define ATTR(file, content)                                                                        \
	snprintf(rel, sizeof(rel), "%s/" file, dir);                                               \
	if (fakeroot_write(root, rel, content) < 0)                                                \
		return -1;
	ATTR("idVendor", "1d6b\n")
	ATTR("idProduct", "0002\n")
	ATTR("bcdDevice", "0606\n")
	ATTR("bDeviceClass", "09\n")
	ATTR("busnum", "1\n")
	ATTR("devnum", "1\n")
	ATTR("speed", "480\n")
#undef ATTR
	return fakeroot_symlink(root, dir, "sys/bus/usb/devices/usb1");
}

int dp_tree_add_usb(struct fakeroot *root, const char *name, unsigned int vendor,
		    unsigned int product, const char *serial, unsigned int devnum)
{
	char dir[512], rel[600], value[64];

	snprintf(dir, sizeof(dir), "%s/usb1/%s", fakeroot_pci_dir(root, "0000:00:14.0"), name);
#define ATTR(file, ...)                                                                            \
	snprintf(value, sizeof(value), __VA_ARGS__);                                               \
	snprintf(rel, sizeof(rel), "%s/" file, dir);                                               \
	if (fakeroot_write(root, rel, value) < 0)                                                  \
		return -1;
	ATTR("idVendor", "%04x\n", vendor)
	ATTR("idProduct", "%04x\n", product)
	ATTR("bcdDevice", "0100\n")
	ATTR("bDeviceClass", "00\n")
	ATTR("busnum", "1\n")
	ATTR("devnum", "%u\n", devnum)
	ATTR("speed", "12\n")
	if (serial) {
		ATTR("serial", "%s\n", serial)
	}
#undef ATTR
	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s", name);
	if (fakeroot_symlink(root, dir, rel) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "dev/bus/usb/001/%03u", devnum);
	return fakeroot_write(root, rel, "");
}

int dp_tree_remove_usb(struct fakeroot *root, const char *name, unsigned int devnum)
{
	char rel[600];

	snprintf(rel, sizeof(rel), "%s/usb1/%s", fakeroot_pci_dir(root, "0000:00:14.0"), name);
	if (fakeroot_remove(root, rel) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "sys/bus/usb/devices/%s", name);
	if (fakeroot_remove(root, rel) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "dev/bus/usb/001/%03u", devnum);
	return fakeroot_remove(root, rel);
}

int dp_tree_add_mdev(struct fakeroot *root, const char *parent, const char *type, const char *uuid,
		     const char *group)
{
	const char *pdir = fakeroot_pci_dir(root, parent);
	char dir[512], rel[600], target[600];

	if (!pdir)
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", pdir, uuid);
	snprintf(rel, sizeof(rel), "%s/uevent", dir);
	if (fakeroot_write(root, rel, "MDEV_TYPE=x\n") < 0)
		return -1;
	snprintf(rel, sizeof(rel), "%s/mdev_type", dir);
	snprintf(target, sizeof(target), "%s/mdev_supported_types/%s", pdir, type);
	if (fakeroot_symlink(root, target, rel) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "%s/iommu_group", dir);
	snprintf(target, sizeof(target), "sys/kernel/iommu_groups/%s", group);
	if (fakeroot_mkdir(root, target) < 0 || fakeroot_symlink(root, target, rel) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "%s/devices/%s", target, uuid);
	if (fakeroot_symlink(root, dir, rel) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "sys/bus/mdev/devices/%s", uuid);
	if (fakeroot_symlink(root, dir, rel) < 0)
		return -1;
	return vfio_node(root, group);
}

int dp_tree_iommufd(struct fakeroot *root, const char *sysfs_rel, unsigned int n)
{
	char rel[600];

	snprintf(rel, sizeof(rel), "%s/vfio-dev/vfio%u/dev", sysfs_rel, n);
	if (fakeroot_write(root, "dev/iommu", "") < 0 || fakeroot_write(root, rel, "") < 0)
		return -1;
	snprintf(rel, sizeof(rel), "dev/vfio/devices/vfio%u", n);
	return fakeroot_write(root, rel, "");
}

struct fakeroot *dp_tree_new(void)
{
	struct fakeroot *root = fakeroot_new();
	int r = 0;

	if (!root)
		return NULL;
	r |= add(root, "0000:00:1c.0",
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0xa110,
				   .class_code = 0x060400,
				   .numa_node = FAKE_NUMA_NONE,
				   .driver = "pcieport",
				   .iommu_group = "1"});
	r |= add(root, "0000:00:14.0",
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0xa36d,
				   .class_code = 0x0c0330,
				   .numa_node = FAKE_NUMA_NONE,
				   .driver = "xhci_hcd",
				   .iommu_group = "2"});
	r |= add_nic(root, "0000:05:00.0", "vfio-pci", "7", true);
	r |= add_nic(root, "0000:05:00.1", "vfio-pci", "7", true);
	r |= add_nic(root, "0000:06:00.0", "vfio-pci", "8", false);
	r |= add_nic(root, "0000:07:00.0", "e1000e", "9", false);
	r |= add_pf(root, "0000:3b:00.0", "12", 0, ens1f0, 4);
	r |= add_pf(root, "0000:3b:00.1", "13", 0, ens1f1, 2);
	r |= add_pf(root, "0000:86:00.0", "14", 1, ens2f0, 3);
	if (r)
		goto fail;
	r |= add_vfs(root, "0000:3b:00.0", "0000:3b:02", 4, 40, 0);
	r |= add_vfs(root, "0000:3b:00.1", "0000:3b:0a", 2, 50, 0);
	r |= add_vfs(root, "0000:86:00.0", "0000:86:02", 3, 60, 1);
	r |= add_t4(root, "0000:af:00.0", "vfio-pci", "20");
	r |= add_t4(root, "0000:d8:00.0", "vfio-pci", "30");
	r |= add_t4(root, "0000:e0:00.0", "nvidia", "35");
	if (r)
		goto fail;
	if (fakeroot_pci_add_mdev_type(root, "0000:e0:00.0",
				       &(struct fake_mdev_type){.id = "nvidia-222",
								.name = "GRID T4-1Q",
								.available_instances = 14,
								.device_api = "vfio-pci"}) < 0 ||
	    fakeroot_pci_add_mdev_type(root, "0000:e0:00.0",
				       &(struct fake_mdev_type){.id = "nvidia-223",
								.name = "GRID T4-2Q",
								.available_instances = 7,
								.device_api = "vfio-pci"}) < 0 ||
	    dp_tree_add_mdev(root, "0000:e0:00.0", "nvidia-222", MDEV_A, "70") < 0 ||
	    dp_tree_add_mdev(root, "0000:e0:00.0", "nvidia-222", MDEV_B, "71") < 0 ||
	    dp_tree_add_mdev(root, "0000:e0:00.0", "nvidia-223", MDEV_C, "72") < 0)
		goto fail;
	if (add_root_hub(root) < 0 || dp_tree_add_usb(root, "1-1", 0x0627, 0x0001, "42", 2) < 0 ||
	    dp_tree_add_usb(root, "1-2", 0x1050, 0x0407, "11111111", 3) < 0 ||
	    dp_tree_add_usb(root, "1-3", 0x1050, 0x0407, "22222222", 4) < 0 ||
	    dp_tree_add_usb(root, "1-4", 0x0403, 0x6001, NULL, 5) < 0 ||
	    dp_tree_add_usb(root, "1-5", 0x0403, 0x6001, NULL, 6) < 0 ||
	    dp_tree_add_usb(root, "1-6", 0x1234, 0x5678, "SAME", 7) < 0 ||
	    dp_tree_add_usb(root, "1-7", 0x1234, 0x5678, "SAME", 8) < 0)
		goto fail;
	if (fakeroot_write(root, "usr/share/misc/pci.ids", pci_ids) < 0)
		goto fail;
	return root;
fail:
	fprintf(stderr, "dp_tree: cannot build the fake host\n");
	fakeroot_free(root);
	return NULL;
}

static void log_stderr(int priority, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "<%d> %s\n", priority, message);
}

hostdev_ctx *dp_tree_ctx(struct fakeroot *root)
{
	hostdev_ctx *ctx = NULL;
	char path[1024];

	snprintf(path, sizeof(path), "%s/usr/share/misc/pci.ids", fakeroot_path(root));
	if (hostdev_ctx_new(&ctx) < 0 || hostdev_ctx_set_root(ctx, fakeroot_path(root)) < 0 ||
	    hostdev_ctx_set_node_name(ctx, "node1") < 0 ||
	    hostdev_ctx_set_path(ctx, HOSTDEV_PATH_PCI_IDS, path) < 0)
		return hostdev_ctx_unref(ctx);
	snprintf(path, sizeof(path), "%s/usr/share/misc/usb.ids", fakeroot_path(root));
	if (hostdev_ctx_set_path(ctx, HOSTDEV_PATH_USB_IDS, path) < 0)
		return hostdev_ctx_unref(ctx);
	snprintf(path, sizeof(path), "%s/lib/modules/none", fakeroot_path(root));
	if (hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES, path) < 0)
		return hostdev_ctx_unref(ctx);
	if (getenv("DPCONFIG_TEST_LOG")) {
		hostdev_ctx_set_log_fn(ctx, log_stderr, NULL);
		hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	}
	return ctx;
}
