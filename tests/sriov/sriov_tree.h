/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake host of the SR-IOV and mdev tests. The kernel's reactions to sriov_numvfs,
 * sriov_drivers_autoprobe and mdev create/remove writes come from the kernel model (tests/kmodel):
 * this machine cannot create VFs or mdevs (its own disk and NIC are PCI devices).
 *
 *   address        what                          driver  group  SR-IOV
 *   0000:01:00.0   NVMe PF 1b36:0010             nvme    6      total 8, offset 1, stride 1 (VF 7
 *                                                               at 01:01.0: crosses a slot, ARI)
 *   0000:3b:00.0   X710 NIC PF 8086:1572, ens4f0 i40e    12     total 8, offset 16, stride 1, VF
 *                                                               8086:154c on iavf, netdevs ens4f0vN
 *   0000:3b:00.1   X710 NIC PF, ens4f1           i40e    13     total 4, offset 23 -> 3b:03.x,
 *                                                               VFs stay driverless
 *   0000:5e:00.0   PF without a driver           -       14     total 4
 *   0000:00:03.0   virtio-net (not a PF)         virtio-pci 3   -
 *   0000:af:00.0   T4 GPU mdev parent            nvidia  20     nvidia-222 "GRID T4-1Q" (2 left),
 *                                                               nvidia-223 "GRID T4-2Q" (0 left)
 *   mtty           /sys/devices/virtual/mtty/mtty (class/mdev_bus/mtty): mtty-1 "Single port
 *                  serial" (24 left), mtty-2 "Dual port serial" (12 left)
 * vfio-pci and iavf are registered drivers; the IOMMU is on.
 */
#ifndef HOSTDEV_TESTS_SRIOV_TREE_H
#define HOSTDEV_TESTS_SRIOV_TREE_H

#include <hostdev.h>

#include "fakeroot.h"
#include "kmodel_ctl.h"

#define NVME_PF "0000:01:00.0"
#define NIC_PF "0000:3b:00.0"
#define NIC_PF2 "0000:3b:00.1"
#define NODRV_PF "0000:5e:00.0"
#define VIRTIO "0000:00:03.0"
#define GPU "0000:af:00.0"

/** Build the tree in a new fake root and enable the kernel model on it. NULL on failure. */
struct fakeroot *sriov_tree_new(void);

/** A context pointed at @root; logs to stderr when SRIOV_TEST_LOG is set. */
hostdev_ctx *sriov_tree_ctx(struct fakeroot *root);

#endif /* HOSTDEV_TESTS_SRIOV_TREE_H */
