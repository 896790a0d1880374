/* SPDX-License-Identifier: Apache-2.0 */
/* The PCI device object, shared by the files that fill its lazily loaded parts. */
#ifndef HOSTDEV_PCI_DEVICE_H
#define HOSTDEV_PCI_DEVICE_H

#include <libkmod.h>
#include <stdbool.h>

#include "core/core.h"

/* Parts of a device read on first use (see pci.h). */
enum pci_part {
	PCI_PART_NAMES = 1u << 0,
	PCI_PART_MODULES = 1u << 1,
	PCI_PART_GROUP = 1u << 2,
	PCI_PART_NETDEVS = 1u << 3,
	PCI_PART_SLOT = 1u << 4,
	PCI_PART_VFS = 1u << 5,
	PCI_PART_VF_INDEX = 1u << 6,
	PCI_PART_MDEV_TYPES = 1u << 7,
	PCI_PART_NAMING = 1u << 8,
	PCI_PART_MDEVS = 1u << 9,
	PCI_PART_MDEV_USE = 1u << 10,
};

/*
 * Optional entries of a device's directory, seen in the one listing made when the device is read:
 * an attribute or part that is absent costs no system call later (enum pci_entry bits).
 */
enum pci_entry {
	PCI_ENTRY_REVISION = 1u << 0,
	PCI_ENTRY_MODALIAS = 1u << 1,
	PCI_ENTRY_DRIVER = 1u << 2,
	PCI_ENTRY_DRIVER_OVERRIDE = 1u << 3,
	PCI_ENTRY_IOMMU_GROUP = 1u << 4,
	PCI_ENTRY_NUMA_NODE = 1u << 5,
	PCI_ENTRY_BOOT_VGA = 1u << 6,
	PCI_ENTRY_SRIOV_TOTALVFS = 1u << 7,
	PCI_ENTRY_SRIOV_NUMVFS = 1u << 8,
	PCI_ENTRY_SRIOV_VF_DEVICE = 1u << 9,
	PCI_ENTRY_PHYSFN = 1u << 10,
	PCI_ENTRY_NET = 1u << 11,
	PCI_ENTRY_MDEV_TYPES = 1u << 12,
	PCI_ENTRY_SUBSYSTEM_VENDOR = 1u << 13,
	PCI_ENTRY_SUBSYSTEM_DEVICE = 1u << 14,
};

/*
 * The IOMMU groups of every device an enumeration saw, read once for all (pci_iommu.c): a device's
 * group members come from it instead of a listing of its group's directory. Immutable once made;
 * shared by the enumeration and its devices, and freed with the last of them.
 */
struct pci_group_map;

/* What an enumeration already knows of a device it is about to read (pci_device_new_at()). */
struct pci_device_hint {
	/* The address the enumeration parsed from the device's name (NULL: parse the name). */
	const struct hostdev_pci_address *addr;
	/* The enumeration's group map (NULL: none) and the device's group in it (-1: none). */
	struct pci_group_map *groups;
	int iommu_group;
	/* A VF seen in its PF's virtfn links: the PF and the link's number. */
	bool vf_known;
	struct hostdev_pci_address pf;
	int vf_index;
};

struct pci_mdev_type {
	char *id;
	char *name;
	int available;
	char *device_api;
	char *description;
};

/* An mdev that exists on this parent. */
struct pci_mdev {
	char *uuid;
	char *type;	 /* type id, NULL unknown */
	char *type_name; /* NULL unknown */
	int iommu_group; /* -1 none */
	int in_use;	 /* 1, 0, -1 unknown (PCI_PART_MDEV_USE) */
};

struct pci_vf {
	int number;
	char *address;
};

struct hostdev_pci_device {
	int refcount;
	hostdev_ctx *ctx;
	unsigned int loaded; /* enum pci_part bits already read */

	/* Read at creation. */
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	struct hostdev_pci_address addr;
	char *syspath; /* <sysfs>/bus/pci/devices/<address> */
	unsigned int vendor_id, device_id, subsystem_vendor_id, subsystem_device_id;
	unsigned int class_code, revision;
	char *driver;
	char *driver_override;
	char *modalias;
	int iommu_group;
	int numa_node;
	bool boot_vga;
	bool is_pf;
	unsigned int sriov_total_vfs, sriov_num_vfs, sriov_vf_device_id;
	char *pf_address;
	/* Which optional entries the directory had (enum pci_entry); all bits when it could not be
	 * listed, so that each part is then looked for as it is read. */
	unsigned int entries;
	bool listed;
	/* When listed: the N of each virtfn<N> link (sorted), and the subdirectories that can be
	 * mdevs (UUID names) or virtio devices (virtio<N>, for virtio-net's interfaces). */
	int *virtfns;
	size_t virtfn_count;
	struct strv children;
	/* The enumeration's IOMMU groups (NULL: read the group's directory). */
	struct pci_group_map *groups;

	/* PCI_PART_NAMES */
	char *vendor_name, *device_name, *subsystem_vendor_name, *subsystem_name;
	char *class_name, *subclass_name, *prog_if_name;
	/* PCI_PART_MODULES */
	struct strv modules;
	/* PCI_PART_GROUP */
	struct strv group_members;
	/* PCI_PART_NETDEVS */
	struct strv netdevs;
	/* PCI_PART_SLOT */
	char *physical_slot;
	/* PCI_PART_VFS */
	struct pci_vf *vfs;
	size_t vf_count;
	/* PCI_PART_VF_INDEX */
	int vf_index;
	/* PCI_PART_MDEV_TYPES */
	struct pci_mdev_type *mdev_types;
	size_t mdev_type_count;
	/* PCI_PART_MDEVS (+ PCI_PART_MDEV_USE for in_use) */
	struct pci_mdev *mdevs;
	size_t mdev_count;
	/* PCI_PART_NAMING */
	char *description, *object_name, *resource_name, *device_resource_name;
};

/*
 * <syspath>/@rel into @buf, for reading a lazily loaded part without opening the device's directory
 * again. Returns 0, or -ENAMETOOLONG.
 */
int pci_device_path(const hostdev_pci_device *dev, const char *rel, char *buf, size_t size);

/* Loaders, each fills one part once and marks it loaded even on failure (logged, part stays empty).
 */
void pci_device_load_names(hostdev_pci_device *dev);
void pci_device_load_modules(hostdev_pci_device *dev);
void pci_device_load_group(hostdev_pci_device *dev);
void pci_device_load_vfs(hostdev_pci_device *dev);
void pci_device_load_vf_index(hostdev_pci_device *dev);
void pci_device_load_mdev_types(hostdev_pci_device *dev);
void pci_device_load_mdevs(hostdev_pci_device *dev);

/*
 * Caches of the context (core.h, ctx_cache_get()), made on first use: libpci's access object for
 * names (pci_names.c; NULL when libpci cannot start), the libkmod context (pci_modules.c; NULL
 * without one) and the physical slot of @addr's domain, bus and slot (pci_slots.c; NULL for none),
 * whose table pci_slots_refresh() drops so that the next use reads it again.
 */
struct pci_access *ctx_pci_access(hostdev_ctx *ctx);
struct kmod_ctx *ctx_kmod(hostdev_ctx *ctx);

/*
 * pci_kmod.c: libkmod's functions, from the library loaded with dlopen on first use (it is no
 * DT_NEEDED entry: a process that never looks a module up does not map it, nor the decompressors
 * and libcrypto it pulls). Every use of libkmod (here and in vfio/) goes through this table.
 */
struct pci_kmod {
	__typeof__(kmod_new) *new_ctx;
	__typeof__(kmod_unref) *unref;
	__typeof__(kmod_set_log_fn) *set_log_fn;
	__typeof__(kmod_load_resources) *load_resources;
	__typeof__(kmod_get_dirname) *get_dirname;
	__typeof__(kmod_list_next) *list_next;
	__typeof__(kmod_module_new_from_lookup) *module_new_from_lookup;
	__typeof__(kmod_module_get_module) *module_get_module;
	__typeof__(kmod_module_get_initstate) *module_get_initstate;
	__typeof__(kmod_module_get_name) *module_get_name;
	__typeof__(kmod_module_get_path) *module_get_path;
	__typeof__(kmod_module_apply_filter) *module_apply_filter;
	__typeof__(kmod_module_probe_insert_module) *module_probe_insert_module;
	__typeof__(kmod_module_unref) *module_unref;
	__typeof__(kmod_module_unref_list) *module_unref_list;
};

/*
 * The table, loading libkmod the first time (thread-safe; once per process, never unloaded).
 * NULL when the library cannot be loaded or lacks a function: *@error (when @error is not NULL)
 * is then a sentence naming the library and what to install, the same for every call.
 */
const struct pci_kmod *pci_kmod(const char **error);
const char *ctx_slot_for(hostdev_ctx *ctx, const struct hostdev_pci_address *addr);
void pci_slots_refresh(hostdev_ctx *ctx);

/*
 * pci_address_check.c: the one way the library rejects a malformed PCI address. The form, for
 * messages that explain it themselves (the config parser):
 */
#define PCI_ADDRESS_FORM                                                                           \
	"DDDD:BB:DD.F in hex (domain, bus, device 00-1f, function 0-7), such as 0000:3b:00.0; "    \
	"the "                                                                                     \
	"domain may be left out (3b:00.0 is 0000:3b:00.0)"
/* "'TEXT' is not a PCI address (what is wrong): expected <PCI_ADDRESS_FORM>" into @buf. */
void pci_address_explain(const char *text, char *buf, size_t size);
/*
 * Parse @text (NULL allowed) into @out and, when @canonical is not NULL, its canonical form
 * (HOSTDEV_PCI_ADDRESS_MAX bytes). On failure sets the context error to pci_address_explain()'s
 * message, after @what when not NULL ("protected address"), and returns -EINVAL.
 */
int pci_address_parse_or_explain(hostdev_ctx *ctx, const char *what, const char *text,
				 struct hostdev_pci_address *out, char *canonical);

/* pci_sriov.c: true for "virtfn<N>", the links from a PF to its VFs. */
bool is_virtfn_link(const char *name);
/* pci_mdevs.c: true for a UUID ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"), the name of an mdev. */
bool pci_is_uuid(const char *s);
/* pci_device.c: the number of the IOMMU group link @name below @dirfd, -1 for none. */
int pci_read_group_link(int dirfd, const char *name);

/* pci_device.c: read the device @name below the open <sysfs>/bus/pci/devices, with what an
 * enumeration already knows of it (@hint, NULL for none). */
int pci_device_new_at(hostdev_ctx *ctx, int devices_dirfd, const char *name,
		      const struct pci_device_hint *hint, hostdev_pci_device **out);

/*
 * pci_iommu.c: the group map of the @count devices @addrs, whose groups are @groups (-1: none).
 * NULL without memory. _ref() and _unref() are thread-safe (devices are released anywhere).
 */
struct pci_group_map *pci_group_map_new(const struct hostdev_pci_address *addrs, const int *groups,
					size_t count);
struct pci_group_map *pci_group_map_ref(struct pci_group_map *map);
void pci_group_map_unref(struct pci_group_map *map);

/* Release helpers for the parts filled by other files (pci_device.c: the device frees them). */
void pci_vf_array_free(struct pci_vf *vfs, size_t count);
void pci_device_free_vfs(hostdev_pci_device *dev);
/* Frees the mdev types and (pci_device_free_mdevs()) the active mdevs. */
void pci_device_free_mdev_types(hostdev_pci_device *dev);
void pci_device_free_mdevs(hostdev_pci_device *dev);

#endif /* HOSTDEV_PCI_DEVICE_H */
