/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A server-like PCI tree for tests, built with the fakeroot library. Tests assert exact values
 * against this table, so change it only together with the tests that use it.
 *
 *   address        ids        class   driver        IOMMU  NUMA  notes
 *   0000:00:00.0   8086:2020  060000  -             0      0     host bridge, unbound
 *   0000:00:05.0   8086:2034  088000  -             -      0     VT-d unit: no IOMMU group, unbound
 *   0000:00:1c.0   8086:a190  060400  pcieport      5      0     root port above bus 01
 *   0000:00:1c.4   8086:a194  060400  pcieport      8      0     root port above bus 04
 *   0000:00:1c.5   8086:a195  060400  pcieport      6      0     root port above bus 02
 *   0000:00:1f.0   8086:a1c1  060100  -             9      0     LPC, multi-function, unbound
 *   0000:00:1f.2   8086:a182  010601  ahci          9      0     SATA (AHCI), same group as
 * 1f.0/1f.3 0000:00:1f.3   8086:a1a3  0c0500  i801_smbus    9      0     SMBus 0000:01:00.0
 * 8086:1521  020000  igb           10     0     I350 PF: totalvfs 8, numvfs 2, eth0, slot "1"
 *   0000:01:10.0   8086:1520  020000  igbvf         20     0     VF 0 of 01:00.0, netdev enp1s16
 *   0000:01:10.4   8086:1520  020000  vfio-pci      21     0     VF 1 of 01:00.0, driver_override
 * vfio-pci 0000:02:00.0   102b:0534  030000  mgag200       7      0     boot VGA (Matrox G200eR2)
 *   0000:04:00.0   10ec:8168  020000  r8169         11     -1    Realtek NIC, netdev enp4s0
 *   0000:3a:00.0   8086:2030  060400  pcieport      30     1     root port above bus 3b
 *   0000:3b:00.0   10de:1eb8  030200  nvidia        31     1     Tesla T4, mdev parent
 * (nvidia-222/223), slot "3" 0001:00:00.0   1dea:0001  128000  -             40     -1    ids
 * unknown to pci.ids (second domain)
 *
 * Devices are added in a scrambled order so that nothing depends on creation order.
 */
#ifndef HOSTDEV_TESTS_SERVER_TREE_H
#define HOSTDEV_TESTS_SERVER_TREE_H

#include <stddef.h>

#include "fakeroot.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The addresses of the tree above, in address order. */
extern const char *const server_tree_addresses[];
/** Number of entries in server_tree_addresses. */
extern const size_t server_tree_count;

/** Build the tree into @root. Returns 0 or a negative errno. */
int server_tree_build(struct fakeroot *root);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_TESTS_SERVER_TREE_H */
