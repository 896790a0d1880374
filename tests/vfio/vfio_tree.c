/* SPDX-License-Identifier: Apache-2.0 */
/* The fake host of the vfio tests; see vfio_tree.h. */
#include "vfio_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dev {
	const char *address;
	struct fake_pci desc;
};

static const char *const ens3[] = {"ens3", NULL};
static const char *const enp1s0[] = {"enp1s0", NULL};
static const char *const eno1[] = {"eno1", NULL};

static int add(struct fakeroot *root, const char *address, struct fake_pci desc, bool iommu)
{
	if (!iommu)
		desc.iommu_group = NULL;
	return fakeroot_pci_add(root, address, &desc);
}

/* The A2 PF, its 16 VFs and three vGPU mdevs (vfio_tree.h). */
static int add_vgpu(struct fakeroot *root)
{
	static const struct {
		const char *id, *name;
	} types[] = {{"nvidia-742", "NVIDIA A2-1Q"},
		     {"nvidia-743", "NVIDIA A2-2Q"},
		     {"nvidia-744", "NVIDIA A2-4Q"},
		     {"nvidia-745", "NVIDIA A2-8Q"},
		     {"nvidia-746", "NVIDIA A2-16Q"}};
	static const struct {
		const char *vf, *uuid, *type;
		int group;
	} mdevs[] = {{VGPU_VF0, VGPU_MDEV0, "nvidia-744", 100},
		     {VGPU_VF1, VGPU_MDEV1, "nvidia-744", 101},
		     {VGPU_VF2, VGPU_MDEV2, "nvidia-745", 102}};
	char rel[512], target[512], group[16];
	int r = 0;

	r |= fakeroot_pci_add(root, VGPU_RP,
			      &(struct fake_pci){.vendor = 0x1022,
						 .device = 0x1483,
						 .class_code = 0x060400,
						 .driver = "pcieport",
						 .iommu_group = "29"});
	r |= fakeroot_pci_add(root, VGPU_PF,
			      &(struct fake_pci){.vendor = 0x10de,
						 .device = 0x25b6,
						 .subsystem_vendor = 0x10de,
						 .subsystem_device = 0x157e,
						 .class_code = 0x030200,
						 .revision = 0xa1,
						 .driver = "nvidia",
						 .iommu_group = "30",
						 .parent = VGPU_RP,
						 .sriov_totalvfs = 16,
						 .sriov_numvfs = 16,
						 .sriov_vf_device = 0x25b6,
						 .sriov_offset = 4,
						 .sriov_stride = 1});
	for (unsigned int i = 0; i < 16 && r == 0; i++) {
		unsigned int fn = 4 + i;
		char address[32];

		snprintf(address, sizeof(address), "0000:c1:%02x.%u", fn / 8, fn % 8);
		snprintf(group, sizeof(group), "%u", 31 + i);
		r |= fakeroot_pci_add(root, address,
				      &(struct fake_pci){.vendor = 0x10de,
							 .device = 0x25b6,
							 .subsystem_vendor = 0x10de,
							 .subsystem_device = 0x157e,
							 .class_code = 0x030200,
							 .revision = 0xa1,
							 .driver = "nvidia",
							 .iommu_group = group,
							 .parent = VGPU_RP,
							 .physfn = VGPU_PF,
							 .vf_index = i});
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]) && r == 0; t++)
			r |= fakeroot_pci_add_mdev_type(
			    root, address,
			    &(struct fake_mdev_type){.id = types[t].id,
						     .name = types[t].name,
						     .available_instances = i < 3 ? 0 : 1,
						     .device_api = "vfio-pci",
						     .description = "num_heads=4, frl_config=60"});
	}
	/* The mdevs, as the kernel lays them out below their parent VF. */
	for (size_t m = 0; m < sizeof(mdevs) / sizeof(mdevs[0]) && r == 0; m++) {
		const char *dir = fakeroot_pci_dir(root, mdevs[m].vf);

		snprintf(rel, sizeof(rel), "%s/%s", dir, mdevs[m].uuid);
		r |= fakeroot_mkdir(root, rel);
		snprintf(rel, sizeof(rel), "%s/%s/remove", dir, mdevs[m].uuid);
		r |= fakeroot_write(root, rel, "");
		snprintf(target, sizeof(target), "%s/mdev_supported_types/%s", dir, mdevs[m].type);
		snprintf(rel, sizeof(rel), "%s/%s/mdev_type", dir, mdevs[m].uuid);
		r |= fakeroot_symlink(root, target, rel);
		snprintf(target, sizeof(target), "sys/kernel/iommu_groups/%d", mdevs[m].group);
		r |= fakeroot_mkdir(root, target);
		snprintf(rel, sizeof(rel), "%s/%s/iommu_group", dir, mdevs[m].uuid);
		r |= fakeroot_symlink(root, target, rel);
		snprintf(target, sizeof(target), "%s/%s", dir, mdevs[m].uuid);
		snprintf(rel, sizeof(rel), "sys/bus/mdev/devices/%s", mdevs[m].uuid);
		r |= fakeroot_symlink(root, target, rel);
		snprintf(rel, sizeof(rel), "dev/vfio/%d", mdevs[m].group);
		r |= fakeroot_write(root, rel, "");
	}
	/* A QEMU holding the first vGPU open. */
	r |= fakeroot_write(root, "proc/4242/cmdline", "qemu-system-x86_64");
	r |= fakeroot_symlink(root, "dev/null", "proc/4242/fd/0");
	r |= fakeroot_symlink(root, "dev/vfio/vfio", "proc/4242/fd/16");
	r |= fakeroot_symlink(root, "dev/vfio/100", "proc/4242/fd/17");
	r |= fakeroot_write(root, "dev/null", "");
	return r ? -1 : 0;
}

struct fakeroot *vfio_tree_new(unsigned int flags)
{
	struct fakeroot *root = fakeroot_new();
	bool iommu = !(flags & VFIO_TREE_NO_IOMMU);
	char rel[512];
	int r = 0;

	if (!root)
		return NULL;
	r |= add(root, RP1,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x29c0,
				   .class_code = 0x060400,
				   .driver = "pcieport",
				   .iommu_group = "1"},
		 iommu);
	r |= add(root, RP2,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x29c1,
				   .class_code = 0x060400,
				   .driver = "pcieport",
				   .iommu_group = "5"},
		 iommu);
	r |= add(root, VIRTIO,
		 (struct fake_pci){.vendor = 0x1af4,
				   .device = 0x1041,
				   .class_code = 0x020000,
				   .driver = "virtio-pci",
				   .iommu_group = "3",
				   .netdevs = ens3},
		 iommu);
	r |= add(root, LPC,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x2918,
				   .class_code = 0x060100,
				   .driver = "lpc_ich",
				   .iommu_group = "4",
				   .multifunction = true},
		 iommu);
	r |= add(root, SATA,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x2922,
				   .class_code = 0x010601,
				   .driver = "ahci",
				   .iommu_group = "4"},
		 iommu);
	r |= add(root, SMBUS,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x2930,
				   .class_code = 0x0c0500,
				   .driver = "i801_smbus",
				   .iommu_group = "4"},
		 iommu);
	r |= add(root, NIC,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x10d3,
				   .class_code = 0x020000,
				   .driver = "e1000e",
				   .iommu_group = "2",
				   .netdevs = enp1s0,
				   .parent = RP1},
		 iommu);
	r |= add(root, GPU,
		 (struct fake_pci){.vendor = 0x10de,
				   .device = 0x1eb8,
				   .class_code = 0x030000,
				   .driver = "nouveau",
				   .iommu_group = "5",
				   .parent = RP2,
				   .multifunction = true},
		 iommu);
	r |= add(root, AUDIO,
		 (struct fake_pci){.vendor = 0x10de,
				   .device = 0x10fa,
				   .class_code = 0x040300,
				   .driver = "snd_hda_intel",
				   .iommu_group = "5",
				   .parent = RP2},
		 iommu);
	r |= add(root, NVME,
		 (struct fake_pci){.vendor = 0x1b36,
				   .device = 0x0010,
				   .class_code = 0x010802,
				   .driver = "nvme",
				   .iommu_group = "6"},
		 iommu);
	r |= add(root, MGMT,
		 (struct fake_pci){.vendor = 0x8086,
				   .device = 0x1533,
				   .class_code = 0x020000,
				   .driver = "igb",
				   .iommu_group = "7",
				   .netdevs = eno1},
		 iommu);
	r |=
	    add(root, NOGROUP,
		(struct fake_pci){
		    .vendor = 0x8086, .device = 0x10d3, .class_code = 0x020000, .driver = "e1000e"},
		false);
	r |=
	    add(root, SPARE,
		(struct fake_pci){
		    .vendor = 0x1b36, .device = 0x0010, .class_code = 0x010802, .iommu_group = "8"},
		iommu);
	if (r)
		goto fail;

	/* The root filesystem on the NVMe: sys/dev/block/259:2 -> .../0000:03:00.0/nvme/... */
	snprintf(rel, sizeof(rel), "%s/nvme/nvme0/nvme0n1/nvme0n1p2", fakeroot_pci_dir(root, NVME));
	if (fakeroot_mkdir(root, rel) < 0 ||
	    fakeroot_symlink(root, rel, "sys/dev/block/259:2") < 0 ||
	    fakeroot_symlink(root, rel, "sys/class/block/nvme0n1p2") < 0)
		goto fail;
	if (vfio_tree_mountinfo(root, "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 "
				      "rw\n"
				      "25 22 0:21 / /proc rw,nosuid - proc proc rw\n"
				      "26 22 0:22 / /run rw - tmpfs tmpfs rw\n") < 0)
		goto fail;
	/* br0 (virtual) over eno1 carries the default route. */
	snprintf(rel, sizeof(rel), "%s/net/eno1", fakeroot_pci_dir(root, MGMT));
	if (fakeroot_mkdir(root, "sys/devices/virtual/net/br0") < 0 ||
	    fakeroot_symlink(root, rel, "sys/devices/virtual/net/br0/lower_eno1") < 0 ||
	    fakeroot_symlink(root, "sys/devices/virtual/net/br0", "sys/class/net/br0") < 0)
		goto fail;
	if (fakeroot_write(root, "proc/net/route",
			   "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU"
			   "\tWindow\tIRTT\n"
			   "br0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
			   "br0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
			   "ens3\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n") < 0)
		goto fail;
	if (iommu &&
	    (fakeroot_mkdir(root, "sys/class/iommu/dmar0") < 0 ||
	     fakeroot_write(root, "proc/cmdline",
			    "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 intel_iommu=on\n") < 0))
		goto fail;
	if (!iommu &&
	    fakeroot_write(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda\n") < 0)
		goto fail;
	if (!(flags & VFIO_TREE_NO_VFIO) && kmodel_vfio_loaded(root) < 0)
		goto fail;
	if ((flags & VFIO_TREE_VGPU) && add_vgpu(root) < 0)
		goto fail;
	if (kmodel_enable(root) < 0)
		goto fail;
	return root;
fail:
	fprintf(stderr, "vfio_tree: cannot build the fake host\n");
	fakeroot_free(root);
	return NULL;
}

static void log_stderr(int priority, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "[%d] %s\n", priority, message);
}

hostdev_ctx *vfio_tree_ctx(struct fakeroot *root)
{
	hostdev_ctx *ctx = NULL;

	/* No module directory unless a test builds one: never look at the host's modules. */
	if (hostdev_ctx_new(&ctx) < 0 || hostdev_ctx_set_root(ctx, fakeroot_path(root)) < 0 ||
	    hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES,
				 fakeroot_abspath(root, "lib/modules/none")) < 0) {
		hostdev_ctx_unref(ctx);
		return NULL;
	}
	if (getenv("VFIO_TEST_LOG")) {
		hostdev_ctx_set_log_fn(ctx, log_stderr, NULL);
		hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	}
	return ctx;
}

const char *vfio_tree_driver(struct fakeroot *root, const char *address)
{
	static char buf[128];

	kmodel_driver(root, address, buf, sizeof(buf));
	return buf;
}

const char *vfio_tree_override(struct fakeroot *root, const char *address)
{
	static char buf[128];

	kmodel_override(root, address, buf, sizeof(buf));
	return buf;
}

int vfio_tree_mountinfo(struct fakeroot *root, const char *content)
{
	return fakeroot_write(root, "proc/self/mountinfo", content);
}

int vfio_tree_journal_count(hostdev_ctx *ctx)
{
	hostdev_vfio_journal *j = NULL;
	int n;

	if (hostdev_vfio_journal_read(ctx, &j) < 0)
		return -1;
	n = (int)hostdev_vfio_journal_get_count(j);
	hostdev_vfio_journal_unref(j);
	return n;
}
