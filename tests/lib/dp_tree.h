/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake host of the device-plugin config and built-in plugin tests (dp_tree.c), built in a
 * fresh fake root (tests/lib), with its own pci.ids so that the Harvester names are known:
 *
 *   address       ids        driver    group numa  what
 *   0000:00:1c.0  8086:a110  pcieport  1     -1    PCIe bridge (class 0604): never selected
 *   0000:00:14.0  8086:a36d  xhci_hcd  2     -1    USB controller (0c0330), the USB tree below
 *   0000:05:00.0  8086:10d3  vfio-pci  7     0     82574L, IOMMU group 7 shared with 05:00.1
 *   0000:05:00.1  8086:10d3  vfio-pci  7     0
 *   0000:06:00.0  8086:10d3  vfio-pci  8     0
 *   0000:07:00.0  8086:10d3  e1000e    9     0     not on vfio-pci: unhealthy
 *   0000:3b:00.0  8086:1572  i40e      12    0     X710 PF ens1f0; VFs 0-3 3b:02.0-3 (groups 40-43)
 *   0000:3b:00.1  8086:1572  i40e      13    0     X710 PF ens1f1; VFs 0-1 3b:0a.0-1 (groups 50-51)
 *   0000:86:00.0  8086:1572  i40e      14    1     X710 PF ens2f0; VFs 0-2 86:02.0-2 (groups 60-62)
 *   0000:af:00.0  10de:1eb8  vfio-pci  20    1     Tesla T4
 *   0000:d8:00.0  10de:1eb8  vfio-pci  30    1     Tesla T4
 *   0000:e0:00.0  10de:1eb8  nvidia    35    1     Tesla T4, mdev parent: nvidia-222 "GRID T4-1Q"
 *                                                  (mdevs MDEV_A group 70, MDEV_B group 71),
 *                                                  nvidia-223 "GRID T4-2Q" (MDEV_C group 72)
 *   VFs (8086:154c) are on vfio-pci, with the PF's NUMA node.
 *
 *   USB (controller 00:14.0, usb1 480 Mbit/s, bus 1):
 *   1-1  0627:0001 keyboard, serial "42", devnum 2
 *   1-2  1050:0407 YubiKey, serial 11111111, devnum 3
 *   1-3  1050:0407 YubiKey, serial 22222222, devnum 4
 *   1-4  0403:6001 FTDI, no serial, devnum 5
 *   1-5  0403:6001 FTDI, no serial, devnum 6
 *   1-6  1234:5678 serial "SAME", devnum 7
 *   1-7  1234:5678 serial "SAME", devnum 8
 *
 *   /dev/vfio/<group> exists for every group of a vfio-pci device and mdev (not 9, 12-14, 35);
 *   /dev/bus/usb/001/NNN for every USB device. No iommufd until dp_tree_iommufd().
 */
#ifndef HOSTDEV_TESTS_DP_TREE_H
#define HOSTDEV_TESTS_DP_TREE_H

#include <hostdev.h>

#include "fakeroot.h"

#define MDEV_A "11111111-2222-3333-4444-555555555555"
#define MDEV_B "22222222-3333-4444-5555-666666666666"
#define MDEV_C "33333333-4444-5555-6666-777777777777"

/* Build the tree in a new fake root; NULL on failure. */
struct fakeroot *dp_tree_new(void);
/* A context on @root: node name "node1", the tree's pci.ids. NULL on failure. */
hostdev_ctx *dp_tree_ctx(struct fakeroot *root);

/* USB: add a device @name ("1-8") below usb1 of bus 1 with its node /dev/bus/usb/001/DDD. */
int dp_tree_add_usb(struct fakeroot *root, const char *name, unsigned int vendor,
		    unsigned int product, const char *serial, unsigned int devnum);
/* USB: remove device @name and its node. */
int dp_tree_remove_usb(struct fakeroot *root, const char *name, unsigned int devnum);
/* mdev: create @uuid of @type under the parent @parent in IOMMU group @group. */
int dp_tree_add_mdev(struct fakeroot *root, const char *parent, const char *type, const char *uuid,
		     const char *group);
/* iommufd: <dev>/iommu, and vfio-dev/vfio<N> under the sysfs directory @sysfs_rel
 * ("sys/bus/pci/devices/0000:af:00.0") with <dev>/vfio/devices/vfio<N>. */
int dp_tree_iommufd(struct fakeroot *root, const char *sysfs_rel, unsigned int n);

#endif /* HOSTDEV_TESTS_DP_TREE_H */
