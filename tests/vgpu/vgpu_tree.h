/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake host of the vGPU tests, shaped like the vGPU node the issue describes (#14): an NVIDIA
 * A2 at 0000:08:00.0 (10de:25b6, on the nvidia driver) whose 16 VFs (10de:25b6, VF offset 4,
 * stride 1: 0000:08:00.4 ... 0000:08:02.3) are enabled through the library and come up on the
 * nvidia driver with NVIDIA's vGPU attributes. No recording of that node is in the repository, so
 * the tree follows the facts and NVIDIA's documented layout; the kernel model (tests/kmodel,
 * "NVIDIA vGPU without mdev") stands in for the driver, and what it does is modelled from NVIDIA's
 * documentation, not observed (see kmodel.c). The type ids below are illustrative: NVIDIA's
 * drivers number types per release.
 *
 *   address        what                               driver  group
 *   0000:08:00.0   A2 GPU PF 10de:25b6, 16 VFs          nvidia  30
 *   0000:08:00.4+  its VFs 10de:25b6 (new groups)       nvidia  31+
 *   0000:3b:00.0   X710 NIC PF 8086:1572                i40e    12
 *   0000:3b:02.0   its VF 8086:154c                     iavf    13   (a VF without nvidia/)
 * vfio-pci, nvidia and iavf are registered drivers; the IOMMU is on.
 */
#ifndef HOSTDEV_TESTS_VGPU_TREE_H
#define HOSTDEV_TESTS_VGPU_TREE_H

#include <hostdev.h>

#include "fakeroot.h"
#include "kmodel_ctl.h"

#define A2_PF "0000:08:00.0"
#define A2_VF0 "0000:08:00.4"
#define A2_VF1 "0000:08:00.5"
#define A2_VF2 "0000:08:00.6"
#define A2_VF3 "0000:08:00.7"
#define A2_VF4 "0000:08:01.0"
#define A2_VF15 "0000:08:02.3"
#define A2_VFS 16
#define NIC_PF "0000:3b:00.0"
#define NIC_VF "0000:3b:02.0"

/* The A2's types (ids illustrative; most instances = 16 GB / the type's framebuffer). */
#define A2_TYPE_1Q 1301
#define A2_TYPE_2Q 1302
#define A2_TYPE_4Q 1303
#define A2_TYPE_8Q 1304
#define A2_TYPE_16Q 1305
#define A2_TYPE_COUNT 12

/**
 * Build the tree in a new fake root and enable the kernel model on it; with @enable_vfs also
 * enable the A2's 16 VFs with hostdev_sriov_set_num_vfs() (the PF on nvidia). NULL on failure.
 */
struct fakeroot *vgpu_tree_new(bool enable_vfs);

/** A context pointed at @root; logs to stderr when VGPU_TEST_LOG is set. */
hostdev_ctx *vgpu_tree_ctx(struct fakeroot *root);

#endif /* HOSTDEV_TESTS_VGPU_TREE_H */
