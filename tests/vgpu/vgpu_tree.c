/* SPDX-License-Identifier: Apache-2.0 */
/* The fake host of the vGPU tests; see vgpu_tree.h. */
#include "vgpu_tree.h"

#include <stdio.h>
#include <stdlib.h>

static const struct kmodel_vgpu_type a2_types[A2_TYPE_COUNT] = {
    {A2_TYPE_1Q, 16, "NVIDIA A2-1Q"},  {A2_TYPE_2Q, 8, "NVIDIA A2-2Q"},
    {A2_TYPE_4Q, 4, "NVIDIA A2-4Q"},   {A2_TYPE_8Q, 2, "NVIDIA A2-8Q"},
    {A2_TYPE_16Q, 1, "NVIDIA A2-16Q"}, {1306, 16, "NVIDIA A2-1B"},
    {1307, 8, "NVIDIA A2-2B"},	       {1308, 16, "NVIDIA A2-1A"},
    {1309, 8, "NVIDIA A2-2A"},	       {1310, 4, "NVIDIA A2-4A"},
    {1311, 2, "NVIDIA A2-8A"},	       {1312, 1, "NVIDIA A2-16A"},
};

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

hostdev_ctx *vgpu_tree_ctx(struct fakeroot *root)
{
	hostdev_ctx *ctx = NULL;

	if (hostdev_ctx_new(&ctx) < 0)
		return NULL;
	if (hostdev_ctx_set_root(ctx, fakeroot_path(root)) < 0) {
		hostdev_ctx_unref(ctx);
		return NULL;
	}
	if (getenv("VGPU_TEST_LOG"))
		hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	return ctx;
}

struct fakeroot *vgpu_tree_new(bool enable_vfs)
{
	struct fakeroot *root = fakeroot_new();
	hostdev_ctx *ctx;
	int r = 0;

	if (!root)
		return NULL;
	r |= fakeroot_pci_add(root, A2_PF,
			      &(struct fake_pci){.vendor = 0x10de,
						 .device = 0x25b6,
						 .subsystem_vendor = 0x10de,
						 .subsystem_device = 0x157e,
						 .class_code = 0x030200,
						 .revision = 0xa1,
						 .driver = "nvidia",
						 .iommu_group = "30",
						 .sriov_totalvfs = A2_VFS,
						 .sriov_vf_device = 0x25b6,
						 .sriov_offset = 4,
						 .sriov_stride = 1});
	r |= fakeroot_pci_add(root, NIC_PF,
			      &(struct fake_pci){.vendor = 0x8086,
						 .device = 0x1572,
						 .class_code = 0x020000,
						 .driver = "i40e",
						 .iommu_group = "12",
						 .sriov_totalvfs = 8,
						 .sriov_numvfs = 1,
						 .sriov_vf_device = 0x154c,
						 .sriov_offset = 16,
						 .sriov_stride = 1});
	r |= fakeroot_pci_add(root, NIC_VF,
			      &(struct fake_pci){.vendor = 0x8086,
						 .device = 0x154c,
						 .class_code = 0x020000,
						 .driver = "iavf",
						 .iommu_group = "13",
						 .physfn = NIC_PF,
						 .vf_index = 0});
	if (r || register_driver(root, "nvidia") < 0 || kmodel_vfio_loaded(root) < 0 ||
	    kmodel_set_vf_driver(root, A2_PF, "nvidia", NULL) < 0 ||
	    kmodel_set_vgpu_types(root, A2_PF, a2_types, A2_TYPE_COUNT) < 0 ||
	    kmodel_enable(root) < 0) {
		fakeroot_free(root);
		return NULL;
	}
	if (!enable_vfs)
		return root;
	ctx = vgpu_tree_ctx(root);
	r = ctx ? hostdev_sriov_set_num_vfs(ctx, A2_PF, A2_VFS, NULL, 0) : -1;
	if (r != A2_VFS) {
		fprintf(stderr, "vgpu tree: enabling the A2's VFs gave %d: %s\n", r,
			ctx ? hostdev_ctx_get_error(ctx) : "no context");
		hostdev_ctx_unref(ctx);
		fakeroot_free(root);
		return NULL;
	}
	hostdev_ctx_unref(ctx);
	return root;
}
