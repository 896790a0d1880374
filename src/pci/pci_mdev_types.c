/* SPDX-License-Identifier: Apache-2.0 */
/* Mediated device types offered by an mdev parent: mdev_supported_types/<type>/{name,...}. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "core/core.h"

static void read_type(int types_fd, const char *id, struct pci_mdev_type *t)
{
	int fd = open_dir_at(types_fd, id);
	unsigned long available;
	char *s;

	t->available = -1;
	if (fd < 0)
		return;
	if (sysfs_read_alloc(fd, "name", &s) >= 0)
		t->name = s;
	if (sysfs_read_uint(fd, "available_instances", 10, &available) == 0 &&
	    available <= 0x7fffffff)
		t->available = (int)available;
	if (sysfs_read_alloc(fd, "device_api", &s) >= 0)
		t->device_api = s;
	if (sysfs_read_alloc(fd, "description", &s) >= 0)
		t->description = s;
	close(fd);
}

void pci_device_load_mdev_types(hostdev_pci_device *dev)
{
	struct strv ids = {0};
	char path[PATH_MAX];
	int types_fd;

	if (dev->loaded & PCI_PART_MDEV_TYPES)
		return;
	dev->loaded |= PCI_PART_MDEV_TYPES;
	/* Not an mdev parent when its directory had no mdev_supported_types. */
	if (!(dev->entries & PCI_ENTRY_MDEV_TYPES) ||
	    pci_device_path(dev, "mdev_supported_types", path, sizeof(path)) < 0)
		return;
	types_fd = open_dir_at(AT_FDCWD, path);
	if (types_fd < 0)
		return;
	if (sysfs_list_dir(types_fd, ".", NULL, &ids) == 0 && ids.count > 0) {
		dev->mdev_types = calloc(ids.count, sizeof(*dev->mdev_types));
		if (dev->mdev_types) {
			for (size_t i = 0; i < ids.count; i++) {
				dev->mdev_types[i].id = ids.items[i];
				ids.items[i] = NULL; /* ownership moves to the type */
				read_type(types_fd, dev->mdev_types[i].id, &dev->mdev_types[i]);
			}
			dev->mdev_type_count = ids.count;
		}
	}
	strv_clear(&ids);
	close(types_fd);
}

static struct pci_mdev_type *type_at(hostdev_pci_device *dev, size_t index)
{
	if (!dev)
		return NULL;
	pci_device_load_mdev_types(dev);
	return index < dev->mdev_type_count ? &dev->mdev_types[index] : NULL;
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_mdev_type_count,
			      pci_device_load_mdev_types, mdev_type_count, 0)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_mdev_type_id, type_at, id, NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_mdev_type_name, type_at, name,
			      NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(int, hostdev_pci_device, get_mdev_type_available, type_at, available,
			      -1)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_mdev_type_device_api, type_at,
			      device_api, NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_mdev_type_description, type_at,
			      description, NULL)
