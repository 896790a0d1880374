/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a device sits in the PCI hierarchy: the bus numbers a bridge forwards (its configuration
 * header) and the device upstream of it (the kernel's device tree in sysfs). Together they draw the
 * tree `lspci -t` draws; nothing here is cached, since bus numbers change on a rescan.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"

/* Standard configuration header offsets (PCI Local Bus 3.0, 6.1 and 3.2.5.3). */
enum {
	CONFIG_HEADER_TYPE = 0x0e,
	CONFIG_PRIMARY_BUS = 0x18, /* same offsets in the CardBus header */
	CONFIG_SECONDARY_BUS = 0x19,
	CONFIG_SUBORDINATE_BUS = 0x1a,
	CONFIG_HEADER_READ = 0x1b,
	HEADER_TYPE_BRIDGE = 1,
	HEADER_TYPE_CARDBUS = 2,
	CLASS_BASE_BRIDGE = 0x06,
};

HOSTDEV_EXPORT int hostdev_pci_device_get_bridge_buses(hostdev_pci_device *dev,
						       unsigned int *primary,
						       unsigned int *secondary,
						       unsigned int *subordinate)
{
	unsigned char header[CONFIG_HEADER_READ];
	char path[PATH_MAX];
	ssize_t n;
	int fd, type;

	if (!dev)
		return -EINVAL;
	if ((dev->class_code >> 16) != CLASS_BASE_BRIDGE)
		return 0;
	if (snprintf(path, sizeof(path), "%s/config", dev->syspath) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The first 64 bytes are readable without privileges. */
	n = pread(fd, header, sizeof(header), 0);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	if (n < (ssize_t)sizeof(header))
		return -EIO;
	type = header[CONFIG_HEADER_TYPE] & 0x7f;
	if (type != HEADER_TYPE_BRIDGE && type != HEADER_TYPE_CARDBUS)
		return 0;
	if (primary)
		*primary = header[CONFIG_PRIMARY_BUS];
	if (secondary)
		*secondary = header[CONFIG_SECONDARY_BUS];
	if (subordinate)
		*subordinate = header[CONFIG_SUBORDINATE_BUS];
	return 1;
}

HOSTDEV_EXPORT int hostdev_pci_device_get_parent_address(hostdev_pci_device *dev, char *buf,
							 size_t size)
{
	struct hostdev_pci_address parent;
	char *real, *slash;
	int r = 0;

	if (!dev || !buf || !size)
		return -EINVAL;
	/* bus/pci/devices/<address> links to devices/pci<dom>:<bus>/<upstream>/.../<address>. */
	real = realpath(dev->syspath, NULL);
	if (!real)
		return errno == ENOENT ? -ENODEV : -errno;
	slash = strrchr(real, '/');
	if (slash) {
		*slash = '\0';
		slash = strrchr(real, '/');
	}
	if (slash && hostdev_pci_address_parse(slash + 1, &parent) == 0) {
		r = hostdev_pci_address_format(&parent, buf, size);
		r = r < 0 ? r : 1;
	}
	free(real);
	return r;
}
