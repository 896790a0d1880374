/* SPDX-License-Identifier: Apache-2.0 */
/* The fake host of the SR-IOV and mdev tests; see sriov_tree.h. */
#include "sriov_tree.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const virtio_if[] = {"ens3", NULL};
static const char *const pf0_if[] = {"ens4f0", NULL};
static const char *const pf1_if[] = {"ens4f1", NULL};

/* A driver with no device yet: its directory and files, as a loaded module shows it. */
static int register_driver(struct fakeroot *root, const char *driver)
{
	static const char *const files[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};
	char rel[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", driver, files[i]);
		if (fakeroot_write(root, rel, "") < 0)
			return -1;
	}
	return 0;
}

static int add_mtty(struct fakeroot *root)
{
	static const struct {
		const char *id, *name, *available;
	} types[] = {{"mtty-1", "Single port serial\n", "24\n"},
		     {"mtty-2", "Dual port serial\n", "12\n"}};
	const char *dir = "sys/devices/virtual/mtty/mtty";
	char rel[512];

	for (size_t i = 0; i < 2; i++) {
		snprintf(rel, sizeof(rel), "%s/mdev_supported_types/%s/devices", dir, types[i].id);
		if (fakeroot_mkdir(root, rel) < 0)
			return -1;
#define TYPE_FILE(file, content)                                                                   \
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/%s/" file, dir, types[i].id);          \
	if (fakeroot_write(root, rel, content) < 0)                                                \
		return -1;
		TYPE_FILE("name", types[i].name)
		TYPE_FILE("available_instances", types[i].available)
		TYPE_FILE("device_api", "vfio-pci\n")
		TYPE_FILE("create", "")
#undef TYPE_FILE
	}
	snprintf(rel, sizeof(rel), "%s/uevent", dir);
	if (fakeroot_write(root, rel, "") < 0 ||
	    fakeroot_symlink(root, dir, "sys/class/mdev_bus/mtty") < 0)
		return -1;
	return 0;
}

struct fakeroot *sriov_tree_new(void)
{
	struct fakeroot *root = fakeroot_new();
	int r = 0;

	if (!root)
		return NULL;
	r |= fakeroot_pci_add(root, VIRTIO,
			      &(struct fake_pci){.vendor = 0x1af4,
						 .device = 0x1041,
						 .class_code = 0x020000,
						 .driver = "virtio-pci",
						 .iommu_group = "3",
						 .netdevs = virtio_if});
	r |= fakeroot_pci_add(root, NVME_PF,
			      &(struct fake_pci){.vendor = 0x1b36,
						 .device = 0x0010,
						 .class_code = 0x010802,
						 .revision = 0x02,
						 .driver = "nvme",
						 .iommu_group = "6",
						 .sriov_totalvfs = 8,
						 .sriov_vf_device = 0x0010,
						 .sriov_offset = 1,
						 .sriov_stride = 1});
	r |= fakeroot_pci_add(root, NIC_PF,
			      &(struct fake_pci){.vendor = 0x8086,
						 .device = 0x1572,
						 .subsystem_vendor = 0x8086,
						 .subsystem_device = 0x0001,
						 .class_code = 0x020000,
						 .revision = 0x02,
						 .driver = "i40e",
						 .iommu_group = "12",
						 .netdevs = pf0_if,
						 .multifunction = true,
						 .sriov_totalvfs = 8,
						 .sriov_vf_device = 0x154c,
						 .sriov_offset = 16,
						 .sriov_stride = 1});
	r |= fakeroot_pci_add(root, NIC_PF2,
			      &(struct fake_pci){.vendor = 0x8086,
						 .device = 0x1572,
						 .class_code = 0x020000,
						 .revision = 0x02,
						 .driver = "i40e",
						 .iommu_group = "13",
						 .netdevs = pf1_if,
						 .sriov_totalvfs = 4,
						 .sriov_vf_device = 0x154c,
						 .sriov_offset = 23,
						 .sriov_stride = 1});
	r |= fakeroot_pci_add(root, NODRV_PF,
			      &(struct fake_pci){.vendor = 0x15b3,
						 .device = 0x1017,
						 .class_code = 0x020000,
						 .iommu_group = "14",
						 .sriov_totalvfs = 4,
						 .sriov_vf_device = 0x1018,
						 .sriov_offset = 1,
						 .sriov_stride = 1});
	r |= fakeroot_pci_add(root, GPU,
			      &(struct fake_pci){.vendor = 0x10de,
						 .device = 0x1eb8,
						 .class_code = 0x030200,
						 .driver = "nvidia",
						 .iommu_group = "20"});
	if (r)
		goto fail;
	if (fakeroot_pci_add_mdev_type(root, GPU,
				       &(struct fake_mdev_type){.id = "nvidia-222",
								.name = "GRID T4-1Q",
								.available_instances = 2,
								.device_api = "vfio-pci",
								.description =
								    "num_heads=4, frl_config=60, "
								    "framebuffer=1024M"}) < 0 ||
	    fakeroot_pci_add_mdev_type(root, GPU,
				       &(struct fake_mdev_type){.id = "nvidia-223",
								.name = "GRID T4-2Q",
								.available_instances = 0,
								.device_api = "vfio-pci"}) < 0 ||
	    fakeroot_symlink(root, fakeroot_pci_dir(root, GPU), "sys/class/mdev_bus/" GPU) < 0)
		goto fail;
	if (add_mtty(root) < 0 || register_driver(root, "iavf") < 0 ||
	    kmodel_vfio_loaded(root) < 0 || fakeroot_mkdir(root, "sys/class/iommu/dmar0") < 0 ||
	    kmodel_set_vf_driver(root, NIC_PF, "iavf", "ens4f0v") < 0)
		goto fail;
	if (kmodel_enable(root) < 0)
		goto fail;
	return root;
fail:
	fprintf(stderr, "sriov_tree: cannot build the fake host\n");
	fakeroot_free(root);
	return NULL;
}

static void log_stderr(int priority, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "[%d] %s\n", priority, message);
}

hostdev_ctx *sriov_tree_ctx(struct fakeroot *root)
{
	hostdev_ctx *ctx = NULL;

	if (hostdev_ctx_new(&ctx) < 0 || hostdev_ctx_set_root(ctx, fakeroot_path(root)) < 0 ||
	    hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES,
				 fakeroot_abspath(root, "lib/modules/none")) < 0) {
		hostdev_ctx_unref(ctx);
		return NULL;
	}
	if (getenv("SRIOV_TEST_LOG")) {
		hostdev_ctx_set_log_fn(ctx, log_stderr, NULL);
		hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	}
	return ctx;
}
