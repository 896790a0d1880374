/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IOMMU group membership. A device read alone lists the directory of the group its iommu_group
 * link names. An enumeration reads every device's link once, before the first device, into a group
 * map, from which each of its devices takes its members: one readlink per device instead of a
 * directory listing per device.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pci.h"
#include "core/core.h"

struct group_entry {
	int group;
	struct hostdev_pci_address addr;
};

struct pci_group_map {
	int refcount;
	size_t count;
	struct group_entry entries[]; /* devices with a group, sorted by group, then address */
};

static uint64_t address_key(const struct hostdev_pci_address *a)
{
	return (uint64_t)a->domain << 16 | (uint64_t)(a->bus & 0xff) << 8 |
	       (uint64_t)(a->slot & 0x1f) << 3 | (a->function & 7);
}

static int compare_entries(const void *a, const void *b)
{
	const struct group_entry *x = a, *y = b;
	uint64_t kx, ky;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	kx = address_key(&x->addr);
	ky = address_key(&y->addr);
	return (kx > ky) - (kx < ky);
}

struct pci_group_map *pci_group_map_new(const struct hostdev_pci_address *addrs, const int *groups,
					size_t count)
{
	struct pci_group_map *map;
	size_t n = 0;

	map = malloc(sizeof(*map) + (count ? count : 1) * sizeof(map->entries[0]));
	if (!map)
		return NULL;
	map->refcount = 1;
	for (size_t i = 0; i < count; i++)
		if (groups[i] >= 0)
			map->entries[n++] = (struct group_entry){groups[i], addrs[i]};
	map->count = n;
	if (n > 1)
		qsort(map->entries, n, sizeof(map->entries[0]), compare_entries);
	return map;
}

struct pci_group_map *pci_group_map_ref(struct pci_group_map *map)
{
	if (map)
		__atomic_add_fetch(&map->refcount, 1, __ATOMIC_RELAXED);
	return map;
}

void pci_group_map_unref(struct pci_group_map *map)
{
	if (map && __atomic_sub_fetch(&map->refcount, 1, __ATOMIC_ACQ_REL) <= 0)
		free(map);
}

/* The members of @group in @map (a binary search for its first entry), into @out. */
static int members_from_map(const struct pci_group_map *map, int group, struct strv *out)
{
	size_t lo = 0, hi = map->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (map->entries[mid].group < group)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < map->count && map->entries[lo].group == group; lo++) {
		char address[HOSTDEV_PCI_ADDRESS_MAX];
		int r;

		if (hostdev_pci_address_format(&map->entries[lo].addr, address, sizeof(address)) <
		    0)
			continue;
		if ((r = strv_push(out, address)) < 0)
			return r;
	}
	/* The order of a directory listing (by name), which a numeric order may not be when domains
	 * have more than four digits. */
	strv_sort(out);
	return 0;
}

/* Group directories also list non-PCI devices on some platforms; keep PCI addresses only. */
static bool is_pci_address(const char *name)
{
	struct hostdev_pci_address addr;

	return hostdev_pci_address_parse(name, &addr) == 0;
}

void pci_device_load_group(hostdev_pci_device *dev)
{
	char path[PATH_MAX];
	int r;

	if (dev->loaded & PCI_PART_GROUP)
		return;
	dev->loaded |= PCI_PART_GROUP;
	if (dev->iommu_group < 0)
		return;
	if (dev->groups) {
		if (members_from_map(dev->groups, dev->iommu_group, &dev->group_members) < 0)
			strv_clear(&dev->group_members);
		return;
	}
	r = snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", ctx_sysfs(dev->ctx),
		     dev->iommu_group);
	if (r < 0 || (size_t)r >= sizeof(path))
		return;
	r = sysfs_list_dir(AT_FDCWD, path, is_pci_address, &dev->group_members);
	if (r == -ENOENT || r == -ENOTDIR)
		log_warn(dev->ctx, "%s: IOMMU group %d has no directory %s", dev->address,
			 dev->iommu_group, path);
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_iommu_group_member_count,
			      pci_device_load_group, group_members.count, 0)

HOSTDEV_EXPORT const char *hostdev_pci_device_get_iommu_group_member(hostdev_pci_device *dev,
								     size_t index)
{
	if (!dev)
		return NULL;
	pci_device_load_group(dev);
	return index < dev->group_members.count ? dev->group_members.items[index] : NULL;
}
