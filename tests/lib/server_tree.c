/* SPDX-License-Identifier: Apache-2.0 */
/* The server-like PCI tree documented in server_tree.h. */
#include "server_tree.h"

#include <stdio.h>

const char *const server_tree_addresses[] = {
    "0000:00:00.0", "0000:00:05.0", "0000:00:1c.0", "0000:00:1c.4", "0000:00:1c.5", "0000:00:1f.0",
    "0000:00:1f.2", "0000:00:1f.3", "0000:01:00.0", "0000:01:10.0", "0000:01:10.4", "0000:02:00.0",
    "0000:04:00.0", "0000:3a:00.0", "0000:3b:00.0", "0001:00:00.0",
};
const size_t server_tree_count = sizeof(server_tree_addresses) / sizeof(server_tree_addresses[0]);

#define SMC 0x15d9 /* Super Micro Computer Inc */

int server_tree_build(struct fakeroot *root)
{
	static const char *const eth0[] = {"eth0", NULL};
	static const char *const vf0_net[] = {"enp1s16", NULL};
	static const char *const rtl_net[] = {"enp4s0", NULL};
	int r = 0;

#define ADD(addr, ...)                                                                             \
	do {                                                                                       \
		if (r == 0)                                                                        \
			r = fakeroot_pci_add(root, addr, &(const struct fake_pci){__VA_ARGS__});   \
	} while (0)

	/* Second domain first, then the rest out of address order. */
	ADD("0001:00:00.0", .vendor = 0x1dea, .device = 0x0001, .subsystem_vendor = 0x1dea,
	    .subsystem_device = 0x0001, .class_code = 0x128000, .revision = 0x02,
	    .numa_node = FAKE_NUMA_NONE, .iommu_group = "40");
	ADD("0000:3a:00.0", .vendor = 0x8086, .device = 0x2030, .class_code = 0x060400,
	    .revision = 0x04, .numa_node = 1, .driver = "pcieport", .iommu_group = "30");
	ADD("0000:3b:00.0", .vendor = 0x10de, .device = 0x1eb8, .subsystem_vendor = 0x10de,
	    .subsystem_device = 0x12a2, .class_code = 0x030200, .revision = 0xa1, .numa_node = 1,
	    .parent = "0000:3a:00.0", .driver = "nvidia", .iommu_group = "31", .slot = "3");
	ADD("0000:00:1f.2", .vendor = 0x8086, .device = 0xa182, .subsystem_vendor = SMC,
	    .subsystem_device = 0x095d, .class_code = 0x010601, .revision = 0x09,
	    .multifunction = true, .driver = "ahci", .iommu_group = "9");
	ADD("0000:00:1c.0", .vendor = 0x8086, .device = 0xa190, .class_code = 0x060400,
	    .revision = 0xf9, .driver = "pcieport", .iommu_group = "5");
	ADD("0000:01:00.0", .vendor = 0x8086, .device = 0x1521, .subsystem_vendor = 0x8086,
	    .subsystem_device = 0x0001, .class_code = 0x020000, .revision = 0x01,
	    .parent = "0000:00:1c.0", .driver = "igb", .iommu_group = "10", .slot = "1",
	    .netdevs = eth0, .sriov_totalvfs = 8, .sriov_numvfs = 2, .sriov_vf_device = 0x1520,
	    .sriov_offset = 128, .sriov_stride = 4);
	ADD("0000:01:10.4", .vendor = 0x8086, .device = 0x1520, .subsystem_vendor = 0x8086,
	    .subsystem_device = 0x0001, .class_code = 0x020000, .revision = 0x01,
	    .parent = "0000:00:1c.0", .driver = "vfio-pci", .driver_override = "vfio-pci",
	    .iommu_group = "21", .physfn = "0000:01:00.0", .vf_index = 1);
	ADD("0000:01:10.0", .vendor = 0x8086, .device = 0x1520, .subsystem_vendor = 0x8086,
	    .subsystem_device = 0x0001, .class_code = 0x020000, .revision = 0x01,
	    .parent = "0000:00:1c.0", .driver = "igbvf", .iommu_group = "20", .netdevs = vf0_net,
	    .physfn = "0000:01:00.0", .vf_index = 0);
	ADD("0000:00:00.0", .vendor = 0x8086, .device = 0x2020, .subsystem_vendor = SMC,
	    .subsystem_device = 0x095d, .class_code = 0x060000, .revision = 0x04,
	    .iommu_group = "0");
	ADD("0000:00:05.0", .vendor = 0x8086, .device = 0x2034, .class_code = 0x088000,
	    .revision = 0x04);
	ADD("0000:00:1f.3", .vendor = 0x8086, .device = 0xa1a3, .subsystem_vendor = SMC,
	    .subsystem_device = 0x095d, .class_code = 0x0c0500, .revision = 0x09,
	    .multifunction = true, .driver = "i801_smbus", .iommu_group = "9");
	ADD("0000:00:1f.0", .vendor = 0x8086, .device = 0xa1c1, .subsystem_vendor = SMC,
	    .subsystem_device = 0x095d, .class_code = 0x060100, .revision = 0x09,
	    .multifunction = true, .iommu_group = "9");
	ADD("0000:00:1c.5", .vendor = 0x8086, .device = 0xa195, .class_code = 0x060400,
	    .revision = 0xf9, .driver = "pcieport", .iommu_group = "6");
	ADD("0000:02:00.0", .vendor = 0x102b, .device = 0x0534, .subsystem_vendor = SMC,
	    .subsystem_device = 0x095d, .class_code = 0x030000, .revision = 0x01,
	    .parent = "0000:00:1c.5", .driver = "mgag200", .iommu_group = "7", .boot_vga = true);
	ADD("0000:00:1c.4", .vendor = 0x8086, .device = 0xa194, .class_code = 0x060400,
	    .revision = 0xf9, .driver = "pcieport", .iommu_group = "8");
	ADD("0000:04:00.0", .vendor = 0x10ec, .device = 0x8168, .subsystem_vendor = 0x10ec,
	    .subsystem_device = 0x8168, .class_code = 0x020000, .revision = 0x15,
	    .numa_node = FAKE_NUMA_NONE, .parent = "0000:00:1c.4", .driver = "r8169",
	    .iommu_group = "11", .netdevs = rtl_net);
#undef ADD
	if (r == 0)
		r = fakeroot_pci_add_mdev_type(
		    root, "0000:3b:00.0",
		    &(const struct fake_mdev_type){
			.id = "nvidia-223",
			.name = "GRID T4-2B",
			.available_instances = 8,
			.device_api = "vfio-pci",
			.description = "num_heads=4, frl_config=45, framebuffer=2048M, "
				       "max_resolution=5120x2880, max_instance=8"});
	if (r == 0)
		r = fakeroot_pci_add_mdev_type(
		    root, "0000:3b:00.0",
		    &(const struct fake_mdev_type){
			.id = "nvidia-222",
			.name = "GRID T4-1B",
			.available_instances = 16,
			.device_api = "vfio-pci",
			.description = "num_heads=4, frl_config=45, framebuffer=1024M, "
				       "max_resolution=5120x2880, max_instance=16"});
	if (r < 0)
		fprintf(stderr, "server_tree_build: %d\n", r);
	return r;
}
