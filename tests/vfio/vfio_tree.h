/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake host the vfio tests bind devices on. The kernel's reactions come from the kernel model
 * (tests/kmodel), which stands in for the kernel because this machine cannot bind devices: its own
 * disk and NIC are PCI devices.
 *
 *   address        class   driver         group  notes
 *   0000:00:03.0   020000  virtio-pci     3      virtio-net, netdev ens3
 *   0000:00:1c.0   060400  pcieport       1      root port above bus 01
 *   0000:00:1d.0   060400  pcieport       5      root port above bus 02, in the GPU's group
 *   0000:00:1f.0   060100  lpc_ich        4      ICH9 LPC      \
 *   0000:00:1f.2   010601  ahci           4      ICH9 SATA      > one multi-member group
 *   0000:00:1f.3   0c0500  i801_smbus     4      ICH9 SMBus    /
 *   0000:01:00.0   020000  e1000e         2      NIC, netdev enp1s0
 *   0000:02:00.0   030000  nouveau        5      GPU
 *   0000:02:00.1   040300  snd_hda_intel  5      GPU audio
 *   0000:03:00.0   010802  nvme           6      NVMe holding / (mountinfo 259:2)
 *   0000:04:00.0   020000  igb            7      NIC eno1 under bridge br0, which has the default
 * route 0000:05:00.0   020000  e1000e         -      no IOMMU group 0000:06:00.0   010802  - 8
 * driverless vfio-pci and vfio_iommu_type1 are loaded unless VFIO_TREE_NO_VFIO is given.
 *
 * With VFIO_TREE_VGPU, a vGPU node's card as well (see VGPU_PF below).
 */
#ifndef HOSTDEV_TESTS_VFIO_TREE_H
#define HOSTDEV_TESTS_VFIO_TREE_H

#include <hostdev.h>

#include "fakeroot.h"
#include "kmodel_ctl.h"

#define VIRTIO "0000:00:03.0"
#define RP1 "0000:00:1c.0"
#define RP2 "0000:00:1d.0"
#define LPC "0000:00:1f.0"
#define SATA "0000:00:1f.2"
#define SMBUS "0000:00:1f.3"
#define NIC "0000:01:00.0"
#define GPU "0000:02:00.0"
#define AUDIO "0000:02:00.1"
#define NVME "0000:03:00.0"
#define MGMT "0000:04:00.0"
#define NOGROUP "0000:05:00.0"
#define SPARE "0000:06:00.0"

/*
 * The vGPU card of VFIO_TREE_VGPU, in the layout of an NVIDIA A2 with SR-IOV vGPU: the report
 * behind these tests came from such a node (16 VFs, 3 active vGPU mdevs); its recording is not in
 * the repository, so the tree is built here in the kernel's layout. Type ids and names follow
 * NVIDIA's scheme and are illustrative.
 *
 *   0000:c0:01.1   root port (pcieport, group 29)
 *   0000:c1:00.0   A2 PF 10de:25b6, nvidia, group 30, 16 VFs (offset 4, stride 1)
 *   0000:c1:00.4 .. 0000:c1:02.3   VF 0..15, nvidia, groups 31..46, each an mdev parent with the
 *                  types nvidia-742..746 ("NVIDIA A2-1Q" .. "A2-16Q"); one vGPU per VF, so a VF
 *                  that hosts one shows 0 available instances of every type
 *   VGPU_MDEV0 on VF 0 (nvidia-744 "NVIDIA A2-4Q", group 100): held open by a QEMU (pid 4242)
 *   VGPU_MDEV1 on VF 1 (nvidia-744, group 101), VGPU_MDEV2 on VF 2 (nvidia-745 "NVIDIA A2-8Q",
 *   group 102): nobody holds them
 */
#define VGPU_RP "0000:c0:01.1"
#define VGPU_PF "0000:c1:00.0"
#define VGPU_VF0 "0000:c1:00.4"
#define VGPU_VF1 "0000:c1:00.5"
#define VGPU_VF2 "0000:c1:00.6"
#define VGPU_VF3 "0000:c1:00.7"
#define VGPU_MDEV0 "8b0c8e8a-4f1e-4a55-9b7e-2f0e4b8a3c01"
#define VGPU_MDEV1 "8b0c8e8a-4f1e-4a55-9b7e-2f0e4b8a3c02"
#define VGPU_MDEV2 "8b0c8e8a-4f1e-4a55-9b7e-2f0e4b8a3c03"

enum vfio_tree_flags {
	VFIO_TREE_NO_VFIO = 1u << 0,  /* vfio modules not loaded */
	VFIO_TREE_NO_IOMMU = 1u << 1, /* no IOMMU groups at all, no DMAR */
	VFIO_TREE_VGPU = 1u << 2,     /* the vGPU card above */
};

/** Build the tree (see above) in a new fake root and enable the kernel model on it. */
struct fakeroot *vfio_tree_new(unsigned int flags);

/** A context pointed at @root, with a log callback printing to stderr when VFIO_TEST_LOG is set. */
hostdev_ctx *vfio_tree_ctx(struct fakeroot *root);

/** Driver of @address ("" when none). Valid until the next call. */
const char *vfio_tree_driver(struct fakeroot *root, const char *address);

/** driver_override of @address. Valid until the next call. */
const char *vfio_tree_override(struct fakeroot *root, const char *address);

/** Replace <root>/proc/self/mountinfo. */
int vfio_tree_mountinfo(struct fakeroot *root, const char *content);

/** Number of journal records (-1 when unreadable). */
int vfio_tree_journal_count(hostdev_ctx *ctx);

#endif /* HOSTDEV_TESTS_VFIO_TREE_H */
