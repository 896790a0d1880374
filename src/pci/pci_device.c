/* SPDX-License-Identifier: Apache-2.0 */
/* PCI device snapshot: creation from sysfs, identity and kernel-state getters. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "core/core.h"

#define PCI_CLASS_BRIDGE_PCI 0x0604
#define PCI_VENDOR_ID_VIRTIO 0x1af4

static const char pci_devices_dir[] = "bus/pci/devices";

/* Read one hex identity attribute; identity is mandatory, so failures are reported. */
static int read_id(hostdev_pci_device *dev, int dirfd, const char *name, unsigned long max,
		   unsigned int *out)
{
	unsigned long v;
	int r = sysfs_read_uint(dirfd, name, 16, &v);

	if (r == -ENOENT || r == -ENODEV)
		return r; /* vanished: the caller decides */
	if (r < 0 || v > max)
		return hostdev_error(dev->ctx, r < 0 ? r : -EIO,
				     "%s: cannot read '%s' (%s): the sysfs tree looks damaged",
				     dev->address, name, strerror(r < 0 ? -r : EIO));
	*out = (unsigned int)v;
	return 0;
}

/*
 * Hex digits at @s (at least one, at most 8) whose value is at most @max, into *@out. Returns the
 * character after them, or NULL. By hand: sscanf() was a tenth of a device's enumeration.
 */
static const char *parse_hex(const char *s, unsigned int max, unsigned int *out)
{
	unsigned int value = 0;
	int digits = 0;

	for (;; s++, digits++) {
		unsigned int c = (unsigned char)*s, nibble;

		if (c >= '0' && c <= '9')
			nibble = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			nibble = (c | 0x20) - 'a' + 10;
		else
			break;
		if (digits == 8)
			return NULL;
		value = value << 4 | nibble;
	}
	if (digits == 0 || value > max)
		return NULL;
	*out = value;
	return s;
}

/* Whether @s begins with @prefix (a literal: its length is known at compile time). */
#define starts_with(s, prefix) (strncmp(s, prefix, sizeof(prefix) - 1) == 0)

/* "VVVV:DDDD" as the kernel writes PCI_ID and PCI_SUBSYS_ID. */
static bool parse_id_pair(const char *s, unsigned int *first, unsigned int *second)
{
	s = parse_hex(s, 0xffff, first);
	return s && *s == ':' && parse_hex(s + 1, 0xffff, second);
}

/*
 * The kernel's uevent attribute carries vendor, device, subsystem ids, class and modalias in one
 * read (the values of struct pci_dev, quirks and VF ids included), where the separate attributes
 * cost six opens. Returns 0 when every identity field was found.
 */
/*
 * The kernel's uevent attribute carries vendor, device, subsystem ids, class, modalias and the
 * bound driver in one read (the values of struct pci_dev, quirks and VF ids included), where the
 * separate attributes cost seven system calls. Returns 0 when every identity field was found; the
 * driver named by a DRIVER= line goes to *@driver (NULL for none).
 */
static int read_identity_from_uevent(hostdev_pci_device *dev, int dirfd, char **driver)
{
	char buf[1024];
	unsigned int v, d, sv, sd, cls;
	unsigned int found = 0;
	int r = sysfs_read_attr(dirfd, "uevent", buf, sizeof(buf));

	/* A missing or empty uevent means hand-made trees: the caller reads the attributes.
	 * Any other failure (EMFILE...) is the caller's error as it is. */
	if (r < 0 && r != -ENOENT)
		return r;
	if (r <= 0)
		return -ENOENT;
	/* Lines split by hand and told apart by their first letter: strtok_r() and a strncmp()
	 * per key were a tenth of reading a device. */
	for (char *line = buf, *end; line < buf + r; line = end + 1) {
		end = memchr(line, '\n', (size_t)(buf + r - line));
		if (!end)
			end = buf + r;
		*end = '\0';
		if (line[0] == 'P' && starts_with(line, "PCI_ID=") &&
		    parse_id_pair(line + 7, &v, &d))
			found |= 1;
		else if (line[0] == 'P' && starts_with(line, "PCI_SUBSYS_ID=") &&
			 parse_id_pair(line + 14, &sv, &sd))
			found |= 2;
		else if (line[0] == 'P' && starts_with(line, "PCI_CLASS=") &&
			 parse_hex(line + 10, 0xffffff, &cls) != NULL)
			found |= 4;
		else if (line[0] == 'M' && starts_with(line, "MODALIAS=") && !dev->modalias &&
			 !(dev->modalias = strdup(line + 9)))
			return -ENOMEM;
		else if (line[0] == 'D' && starts_with(line, "DRIVER=") && line[7] && !*driver &&
			 !(*driver = strdup(line + 7)))
			return -ENOMEM;
	}
	if ((found & 5) != 5)
		return -ENOENT;
	dev->vendor_id = v;
	dev->device_id = d;
	dev->class_code = cls;
	if (found & 2) {
		dev->subsystem_vendor_id = sv;
		dev->subsystem_device_id = sd;
	} else {
		/* Every kernel writes PCI_SUBSYS_ID; a hand-made uevent may not. */
		if (!(dev->entries & PCI_ENTRY_SUBSYSTEM_VENDOR) ||
		    read_id(dev, dirfd, "subsystem_vendor", 0xffff, &dev->subsystem_vendor_id) < 0)
			dev->subsystem_vendor_id = 0;
		if (!(dev->entries & PCI_ENTRY_SUBSYSTEM_DEVICE) ||
		    read_id(dev, dirfd, "subsystem_device", 0xffff, &dev->subsystem_device_id) < 0)
			dev->subsystem_device_id = 0;
	}
	return 0;
}

static int read_identity(hostdev_pci_device *dev, int dirfd, char **driver)
{
	char buf[256];
	int r;

	r = read_identity_from_uevent(dev, dirfd, driver);
	if (r < 0 && r != -ENOENT && r != -ENOMEM)
		return hostdev_error(dev->ctx, r, "%s: cannot read its uevent attribute: %s",
				     dev->address, strerror(-r));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* No usable uevent (hand-made trees, old kernels): the separate attributes. */
		if ((r = read_id(dev, dirfd, "vendor", 0xffff, &dev->vendor_id)) < 0 ||
		    (r = read_id(dev, dirfd, "device", 0xffff, &dev->device_id)) < 0 ||
		    (r = read_id(dev, dirfd, "class", 0xffffff, &dev->class_code)) < 0)
			return r;
		/* Old kernels and some fixtures lack these; zero means "not reported". */
		if (!(dev->entries & PCI_ENTRY_SUBSYSTEM_VENDOR) ||
		    read_id(dev, dirfd, "subsystem_vendor", 0xffff, &dev->subsystem_vendor_id) < 0)
			dev->subsystem_vendor_id = 0;
		if (!(dev->entries & PCI_ENTRY_SUBSYSTEM_DEVICE) ||
		    read_id(dev, dirfd, "subsystem_device", 0xffff, &dev->subsystem_device_id) < 0)
			dev->subsystem_device_id = 0;
	}
	if (!dev->modalias && (dev->entries & PCI_ENTRY_MODALIAS) &&
	    sysfs_read_attr(dirfd, "modalias", buf, sizeof(buf)) > 0 &&
	    !(dev->modalias = strdup(buf)))
		return -ENOMEM;
	if (!(dev->entries & PCI_ENTRY_REVISION) ||
	    read_id(dev, dirfd, "revision", 0xff, &dev->revision) < 0)
		dev->revision = 0;
	hostdev_clear_error(dev->ctx);
	return 0;
}

/* The number of a link to an IOMMU group ("../../../kernel/iommu_groups/12"), -1 for none. */
int pci_read_group_link(int dirfd, const char *name)
{
	char buf[64], *end;
	long n;

	if (sysfs_read_link_basename(dirfd, name, buf, sizeof(buf)) <= 0)
		return -1;
	n = strtol(buf, &end, 10);
	return *end == '\0' && end != buf && n >= 0 && n <= INT_MAX ? (int)n : -1;
}

/* @uevent_driver: the driver uevent named (taken over), which spares reading the driver link. */
static int read_kernel_state(hostdev_pci_device *dev, int dirfd, const struct pci_device_hint *hint,
			     char *uevent_driver)
{
	char buf[256];
	unsigned long v;
	long n;

	/* uevent and the link show the same dev->driver; a driver without the link is unbound. */
	if (dev->entries & PCI_ENTRY_DRIVER) {
		dev->driver = uevent_driver;
		uevent_driver = NULL;
		if (!dev->driver &&
		    sysfs_read_link_basename(dirfd, "driver", buf, sizeof(buf)) > 0 &&
		    !(dev->driver = strdup(buf)))
			return -ENOMEM;
	}
	free(uevent_driver);
	if ((dev->entries & PCI_ENTRY_DRIVER_OVERRIDE) &&
	    sysfs_read_attr(dirfd, "driver_override", buf, sizeof(buf)) > 0 &&
	    strcmp(buf, "(null)") != 0 && !(dev->driver_override = strdup(buf)))
		return -ENOMEM;
	if (hint && hint->groups) {
		/* Read by the enumeration for its group map: the same link, once. */
		dev->iommu_group = hint->iommu_group;
		dev->groups = pci_group_map_ref(hint->groups);
	} else {
		dev->iommu_group = (dev->entries & PCI_ENTRY_IOMMU_GROUP)
				       ? pci_read_group_link(dirfd, "iommu_group")
				       : -1;
	}
	dev->numa_node = -1;
	if ((dev->entries & PCI_ENTRY_NUMA_NODE) && sysfs_read_int(dirfd, "numa_node", &n) == 0 &&
	    n >= -1 && n <= INT_MAX)
		dev->numa_node = (int)n;
	/* Only display devices (class 03) have boot_vga. */
	dev->boot_vga = (dev->class_code >> 16) == 0x03 && (dev->entries & PCI_ENTRY_BOOT_VGA) &&
			sysfs_read_uint(dirfd, "boot_vga", 10, &v) == 0 && v == 1;

	if ((dev->entries & PCI_ENTRY_SRIOV_TOTALVFS) &&
	    sysfs_read_uint(dirfd, "sriov_totalvfs", 10, &v) == 0) {
		dev->is_pf = true;
		dev->sriov_total_vfs = (unsigned int)v;
		if ((dev->entries & PCI_ENTRY_SRIOV_NUMVFS) &&
		    sysfs_read_uint(dirfd, "sriov_numvfs", 10, &v) == 0)
			dev->sriov_num_vfs = (unsigned int)v;
		if ((dev->entries & PCI_ENTRY_SRIOV_VF_DEVICE) &&
		    sysfs_read_uint(dirfd, "sriov_vf_device", 16, &v) == 0 && v <= 0xffff)
			dev->sriov_vf_device_id = (unsigned int)v;
	}
	if (!(dev->entries & PCI_ENTRY_PHYSFN))
		return 0;
	if (hint && hint->vf_known) {
		/* The PF's virtfn<N> link, read by the enumeration, names this VF. */
		if (hostdev_pci_address_format(&hint->pf, buf, sizeof(buf)) < 0 ||
		    !(dev->pf_address = strdup(buf)))
			return -ENOMEM;
		dev->vf_index = hint->vf_index;
		dev->loaded |= PCI_PART_VF_INDEX;
		return 0;
	}
	if (sysfs_read_link_basename(dirfd, "physfn", buf, sizeof(buf)) > 0 &&
	    !(dev->pf_address = strdup(buf)))
		return -ENOMEM;
	return 0;
}

static bool is_virtio_child(const char *name)
{
	return strncmp(name, "virtio", 6) == 0 && name[6] >= '0' && name[6] <= '9';
}

/* The N of "virtfn<N>", or -1. */
static int virtfn_number(const char *name)
{
	long n;
	char *end;

	if (!is_virtfn_link(name))
		return -1;
	n = strtol(name + 6, &end, 10);
	return *end == '\0' && n >= 0 && n <= INT_MAX ? (int)n : -1;
}

/* The enum pci_entry bit of @name, 0 for an entry that is read at once or never. */
static unsigned int optional_entry(const char *name)
{
	/* By first letters: a device directory has some forty entries, most of them attributes
	 * that are not looked for. */
	switch (name[0]) {
	case 'b':
		return strcmp(name, "boot_vga") == 0 ? PCI_ENTRY_BOOT_VGA : 0;
	case 'd':
		if (!starts_with(name, "driver"))
			return 0;
		return name[6] == '\0'			    ? PCI_ENTRY_DRIVER
		       : strcmp(name + 6, "_override") == 0 ? PCI_ENTRY_DRIVER_OVERRIDE
							    : 0;
	case 'i':
		return strcmp(name, "iommu_group") == 0 ? PCI_ENTRY_IOMMU_GROUP : 0;
	case 'm':
		return strcmp(name, "modalias") == 0		   ? PCI_ENTRY_MODALIAS
		       : strcmp(name, "mdev_supported_types") == 0 ? PCI_ENTRY_MDEV_TYPES
								   : 0;
	case 'n':
		return strcmp(name, "net") == 0		? PCI_ENTRY_NET
		       : strcmp(name, "numa_node") == 0 ? PCI_ENTRY_NUMA_NODE
							: 0;
	case 'p':
		return strcmp(name, "physfn") == 0 ? PCI_ENTRY_PHYSFN : 0;
	case 'r':
		return strcmp(name, "revision") == 0 ? PCI_ENTRY_REVISION : 0;
	case 's':
		if (starts_with(name, "sriov_"))
			return strcmp(name + 6, "totalvfs") == 0    ? PCI_ENTRY_SRIOV_TOTALVFS
			       : strcmp(name + 6, "numvfs") == 0    ? PCI_ENTRY_SRIOV_NUMVFS
			       : strcmp(name + 6, "vf_device") == 0 ? PCI_ENTRY_SRIOV_VF_DEVICE
								    : 0;
		if (starts_with(name, "subsystem_"))
			return strcmp(name + 10, "vendor") == 0	  ? PCI_ENTRY_SUBSYSTEM_VENDOR
			       : strcmp(name + 10, "device") == 0 ? PCI_ENTRY_SUBSYSTEM_DEVICE
								  : 0;
		return 0;
	default:
		return 0;
	}
}

/* Whether @name may be a UUID: eight hex digits and a dash, before the full check. By hand:
 * isxdigit() is a function call per character, on every entry of every device. */
static bool may_be_uuid(const char *name)
{
	for (int i = 0; i < 8; i++) {
		unsigned int c = (unsigned char)name[i];

		if (!(c - '0' < 10 || (c | 0x20) - 'a' < 6))
			return false;
	}
	return name[8] == '-' && pci_is_uuid(name);
}

/* sysfs_dir_for_each() callback: note one entry of the device's directory. */
static int note_entry(void *data, const char *name)
{
	hostdev_pci_device *dev = data;
	unsigned int bit = optional_entry(name);
	int number;

	if (bit) {
		dev->entries |= bit;
		return 0;
	}
	if (name[0] == 'v' && (number = virtfn_number(name)) >= 0) {
		int *grown = dp_array_grow(dev->virtfns, dev->virtfn_count, sizeof(int));

		if (!grown)
			return -ENOMEM;
		dev->virtfns = grown;
		dev->virtfns[dev->virtfn_count++] = number;
		return 0;
	}
	if ((name[0] == 'v' && is_virtio_child(name)) || may_be_uuid(name))
		return strv_push(&dev->children, name);
	return 0;
}

static int compare_ints(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * One listing of the open device directory tells which optional parts exist. When it fails, every
 * part is looked for as it is read, as if each were there.
 */
static int list_entries(hostdev_pci_device *dev, int dirfd)
{
	int r = sysfs_dir_for_each(dirfd, note_entry, dev);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		log_debug(dev->ctx, "%s: cannot list its directory (%s): reading each part",
			  dev->address, strerror(-r));
		dev->entries = ~0u;
		free(dev->virtfns);
		dev->virtfns = NULL;
		dev->virtfn_count = 0;
		strv_clear(&dev->children);
		return 0;
	}
	dev->listed = true;
	if (dev->virtfn_count > 1)
		qsort(dev->virtfns, dev->virtfn_count, sizeof(*dev->virtfns), compare_ints);
	strv_sort(&dev->children);
	return 0;
}

/*
 * Read the device @name below @devices_dirfd (the open <sysfs>/bus/pci/devices). Returns -ENODEV
 * when the device is not (or no longer) there, so that enumeration can skip it.
 */
int pci_device_new_at(hostdev_ctx *ctx, int devices_dirfd, const char *name,
		      const struct pci_device_hint *hint, hostdev_pci_device **out)
{
	hostdev_pci_device *dev;
	char path[PATH_MAX], *uevent_driver = NULL;
	int dirfd, r;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->refcount = 1;
	dev->ctx = hostdev_ctx_ref(ctx);
	dev->vf_index = -1;
	if (hint && hint->addr) {
		dev->addr = *hint->addr;
		r = hostdev_pci_address_format(&dev->addr, dev->address, sizeof(dev->address));
	} else {
		r = pci_address_parse_or_explain(ctx, NULL, name, &dev->addr, dev->address);
	}
	if (r < 0)
		goto fail;

	dirfd = openat(devices_dirfd, dev->address, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT) {
		r = hostdev_error(ctx, -ENODEV,
				  "%s: no such PCI device under %s/%s (check the address with "
				  "hostdev_pci_enum_new())",
				  dev->address, ctx_sysfs(ctx), pci_devices_dir);
		goto fail;
	}
	if (dirfd < 0) {
		r = hostdev_error(ctx, -errno, "%s: cannot open %s/%s/%s: %s", dev->address,
				  ctx_sysfs(ctx), pci_devices_dir, dev->address, strerror(errno));
		goto fail;
	}
	r = list_entries(dev, dirfd);
	if (r == 0)
		r = read_identity(dev, dirfd, &uevent_driver);
	if (r == 0) {
		r = read_kernel_state(dev, dirfd, hint, uevent_driver);
		uevent_driver = NULL;
	}
	free(uevent_driver);
	close(dirfd);
	if (r == -ENOENT)
		r = hostdev_error(ctx, -ENODEV, "%s: device disappeared while being read",
				  dev->address);
	if (r < 0)
		goto fail;
	if (sysfs_pci_device_path(ctx, path, sizeof(path), dev->address, NULL) < 0 ||
	    !(dev->syspath = strdup(path))) {
		r = -ENOMEM;
		goto fail;
	}
	*out = dev;
	return 0;
fail:
	hostdev_pci_device_unref(dev);
	return r;
}

HOSTDEV_EXPORT int hostdev_pci_device_new(hostdev_ctx *ctx, const char *address,
					  hostdev_pci_device **out)
{
	struct hostdev_pci_address addr;
	char canonical[HOSTDEV_PCI_ADDRESS_MAX], path[PATH_MAX];
	int devices_fd, r;

	if (!ctx || !out)
		return -EINVAL;
	r = pci_address_parse_or_explain(ctx, NULL, address, &addr, canonical);
	if (r < 0)
		return r;
	if (path_join(path, sizeof(path), ctx_sysfs(ctx), pci_devices_dir) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "sysfs path '%s' is too long",
				     ctx_sysfs(ctx));
	devices_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Only a missing directory says that there is no such device; out of file descriptors
	 * (EMFILE) or memory is not an unplug, and callers must be able to tell. */
	if (devices_fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return hostdev_error(ctx, -ENODEV,
				     "%s: cannot open %s (%s): is sysfs mounted there?", canonical,
				     path, strerror(errno));
	if (devices_fd < 0)
		return hostdev_error(ctx, -errno, "%s: cannot open %s: %s", canonical, path,
				     strerror(errno));
	r = pci_device_new_at(ctx, devices_fd, canonical, NULL, out);
	close(devices_fd);
	return r;
}

/*
 * The parts read on first use are filled by their own files (pci_sriov.c, pci_mdev_types.c,
 * pci_mdevs.c), which call into this one; freeing them is here, with the rest of the device, so
 * that this file never calls back into theirs.
 */
void pci_vf_array_free(struct pci_vf *vfs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(vfs[i].address);
	free(vfs);
}

void pci_device_free_vfs(hostdev_pci_device *dev)
{
	pci_vf_array_free(dev->vfs, dev->vf_count);
	dev->vfs = NULL;
	dev->vf_count = 0;
}

void pci_device_free_mdevs(hostdev_pci_device *dev)
{
	for (size_t i = 0; i < dev->mdev_count; i++) {
		free(dev->mdevs[i].uuid);
		free(dev->mdevs[i].type);
		free(dev->mdevs[i].type_name);
	}
	free(dev->mdevs);
	dev->mdevs = NULL;
	dev->mdev_count = 0;
}

void pci_device_free_mdev_types(hostdev_pci_device *dev)
{
	for (size_t i = 0; i < dev->mdev_type_count; i++) {
		struct pci_mdev_type *t = &dev->mdev_types[i];

		free(t->id);
		free(t->name);
		free(t->device_api);
		free(t->description);
	}
	free(dev->mdev_types);
	dev->mdev_types = NULL;
	dev->mdev_type_count = 0;
	pci_device_free_mdevs(dev);
}

/* What _unref() does when the last reference goes. */
static void pci_device_destroy(hostdev_pci_device *dev)
{
	free(dev->syspath);
	free(dev->driver);
	free(dev->driver_override);
	free(dev->modalias);
	free(dev->pf_address);
	free(dev->virtfns);
	strv_clear(&dev->children);
	pci_group_map_unref(dev->groups);
	free(dev->vendor_name);
	free(dev->device_name);
	free(dev->subsystem_vendor_name);
	free(dev->subsystem_name);
	free(dev->class_name);
	free(dev->subclass_name);
	free(dev->prog_if_name);
	strv_clear(&dev->modules);
	strv_clear(&dev->group_members);
	strv_clear(&dev->netdevs);
	free(dev->physical_slot);
	pci_device_free_vfs(dev);
	pci_device_free_mdev_types(dev);
	free(dev->description);
	free(dev->object_name);
	free(dev->resource_name);
	free(dev->device_resource_name);
	hostdev_ctx_unref(dev->ctx);
	free(dev);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_pci_device, pci_device_destroy)

int pci_device_path(const hostdev_pci_device *dev, const char *rel, char *buf, size_t size)
{
	return path_join(buf, size, dev->syspath, rel);
}

HOSTDEV_DEFINE_GETTER(hostdev_ctx *, hostdev_pci_device, get_ctx, ctx, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_pci_device, get_address, address, NULL)

HOSTDEV_EXPORT struct hostdev_pci_address
hostdev_pci_device_get_pci_address(hostdev_pci_device *dev)
{
	struct hostdev_pci_address none = {0, 0, 0, 0};

	return dev ? dev->addr : none;
}

/* Getters of fields read at creation. */
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_vendor_id, vendor_id, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_device_id, device_id, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_subsystem_vendor_id,
		      subsystem_vendor_id, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_subsystem_device_id,
		      subsystem_device_id, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_class, class_code, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_revision, revision, 0)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_pci_device, get_driver, driver, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_pci_device, get_driver_override, driver_override, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_pci_device, get_modalias, modalias, NULL)
HOSTDEV_DEFINE_GETTER(int, hostdev_pci_device, get_iommu_group, iommu_group, -1)
HOSTDEV_DEFINE_GETTER(int, hostdev_pci_device, get_numa_node, numa_node, -1)
HOSTDEV_DEFINE_GETTER(int, hostdev_pci_device, is_boot_vga, boot_vga, 0)
HOSTDEV_DEFINE_GETTER(int, hostdev_pci_device, is_sriov_pf, is_pf, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_sriov_total_vfs, sriov_total_vfs, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_sriov_num_vfs, sriov_num_vfs, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_pci_device, get_sriov_vf_device_id, sriov_vf_device_id,
		      0)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_pci_device, get_pf_address, pf_address, NULL)

HOSTDEV_EXPORT int hostdev_pci_device_is_bridge(hostdev_pci_device *dev)
{
	return dev && (dev->class_code >> 8) == PCI_CLASS_BRIDGE_PCI;
}

HOSTDEV_EXPORT int hostdev_pci_device_is_sriov_vf(hostdev_pci_device *dev)
{
	return dev && dev->pf_address != NULL;
}

/* Network interfaces: the entries of net/ (virtio-net: of virtio<N>/net/). */
static void load_netdevs(hostdev_pci_device *dev)
{
	struct strv children = {0};
	const struct strv *virtio = &dev->children;
	char path[PATH_MAX];

	if (dev->loaded & PCI_PART_NETDEVS)
		return;
	dev->loaded |= PCI_PART_NETDEVS;
	/* ENOENT: not a network function. */
	if ((dev->entries & PCI_ENTRY_NET) && pci_device_path(dev, "net", path, sizeof(path)) == 0)
		sysfs_list_dir(AT_FDCWD, path, NULL, &dev->netdevs);
	if (dev->netdevs.count > 0 || dev->vendor_id != PCI_VENDOR_ID_VIRTIO)
		return;
	/* virtio-net hangs its interface below the virtio device: <pci>/virtioN/net/<if>. */
	if (!dev->listed) {
		if (sysfs_list_dir(AT_FDCWD, dev->syspath, is_virtio_child, &children) < 0)
			return;
		virtio = &children;
	}
	for (size_t i = 0; i < virtio->count; i++) {
		char sub[PATH_MAX];

		if (is_virtio_child(virtio->items[i]) &&
		    path_join(sub, sizeof(sub), virtio->items[i], "net") == 0 &&
		    pci_device_path(dev, sub, path, sizeof(path)) == 0)
			sysfs_list_dir(AT_FDCWD, path, NULL, &dev->netdevs);
	}
	strv_clear(&children);
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_netdev_count, load_netdevs,
			      netdevs.count, 0)

HOSTDEV_EXPORT const char *hostdev_pci_device_get_netdev(hostdev_pci_device *dev, size_t index)
{
	if (!dev)
		return NULL;
	load_netdevs(dev);
	return index < dev->netdevs.count ? dev->netdevs.items[index] : NULL;
}

static void load_physical_slot(hostdev_pci_device *dev)
{
	const char *name;

	if (dev->loaded & PCI_PART_SLOT)
		return;
	dev->loaded |= PCI_PART_SLOT;
	name = ctx_slot_for(dev->ctx, &dev->addr);
	if (name)
		dev->physical_slot = strdup(name);
}

HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_physical_slot,
			      load_physical_slot, physical_slot, NULL)
