/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI devices: one snapshot object per function, read from the context's sysfs, and an enumerator
 * with pciutils-style filters.
 *
 * A hostdev_pci_device is a snapshot: identity, class, driver, NUMA node and SR-IOV counts are read
 * when the object is made, and so is which optional parts its directory has (network interfaces,
 * VF links, mdev types, mdevs); names, kernel modules, IOMMU group members, VFs, network interfaces
 * and mdev types are read the first time they are asked for and then kept. The devices of an
 * enumeration take their IOMMU group members (and a VF its PF and index) from what the enumeration
 * read before its first device. Getters therefore take a non-const pointer. Make a new object to
 * see the current state.
 */
#ifndef HOSTDEV_PCI_H
#define HOSTDEV_PCI_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A domain-qualified PCI address (DDDD:BB:SS.F). */
struct hostdev_pci_address {
	uint32_t domain;  /**< 0..0xffff (0..0xffffffff with the large-domain kernels) */
	uint8_t bus;	  /**< 0..0xff */
	uint8_t slot;	  /**< 0..0x1f */
	uint8_t function; /**< 0..7 */
};

/** Longest formatted address including the NUL ("ffffffff:ff:1f.7"). */
#define HOSTDEV_PCI_ADDRESS_MAX 17

/**
 * Parse "DDDD:BB:SS.F" or "BB:SS.F" (domain 0), hex, case-insensitive.
 * Returns 0, or -EINVAL when @text is not a complete valid address.
 */
int hostdev_pci_address_parse(const char *text, struct hostdev_pci_address *out);

/**
 * Format @addr as "dddd:bb:ss.f" (lower-case; 4 domain digits unless the domain needs more).
 * Returns the length, -EINVAL on a field out of range, -ENOSPC when @size is too small.
 */
int hostdev_pci_address_format(const struct hostdev_pci_address *addr, char *buf, size_t size);

/** Opaque PCI device snapshot. */
typedef struct hostdev_pci_device hostdev_pci_device;

/**
 * Read the device at @address ("DDDD:BB:SS.F" or "BB:SS.F").
 * On success *@out holds a new reference. Returns 0, -EINVAL (malformed address), -ENODEV (no such
 * device in the context's sysfs, or it disappeared while being read), -ENOMEM, -EIO (malformed
 * identity attributes).
 */
int hostdev_pci_device_new(hostdev_ctx *ctx, const char *address, hostdev_pci_device **out);

hostdev_pci_device *hostdev_pci_device_ref(hostdev_pci_device *dev);
/** NULL-safe; always returns NULL. */
hostdev_pci_device *hostdev_pci_device_unref(hostdev_pci_device *dev);

/** The context the device was read from (borrowed). */
hostdev_ctx *hostdev_pci_device_get_ctx(hostdev_pci_device *dev);

/** "dddd:bb:ss.f". */
const char *hostdev_pci_device_get_address(hostdev_pci_device *dev);
/** The parsed address. */
struct hostdev_pci_address hostdev_pci_device_get_pci_address(hostdev_pci_device *dev);

/* Identity (read at creation). */
unsigned int hostdev_pci_device_get_vendor_id(hostdev_pci_device *dev);
unsigned int hostdev_pci_device_get_device_id(hostdev_pci_device *dev);
unsigned int hostdev_pci_device_get_subsystem_vendor_id(hostdev_pci_device *dev);
unsigned int hostdev_pci_device_get_subsystem_device_id(hostdev_pci_device *dev);
/** 24-bit class code 0xCCSSPP (class, subclass, programming interface). */
unsigned int hostdev_pci_device_get_class(hostdev_pci_device *dev);
unsigned int hostdev_pci_device_get_revision(hostdev_pci_device *dev);

/*
 * Names from pci.ids (the context's HOSTDEV_PATH_PCI_IDS), exactly as libpci gives them to lspci.
 * NULL when the database does not know the id.
 */
const char *hostdev_pci_device_get_vendor_name(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_device_name(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_subsystem_vendor_name(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_subsystem_name(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_class_name(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_subclass_name(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_prog_if_name(hostdev_pci_device *dev);

/* Kernel state. */
/** Bound driver name, NULL when no driver is bound. */
const char *hostdev_pci_device_get_driver(hostdev_pci_device *dev);
/** driver_override, NULL when unset ("(null)") or not supported. */
const char *hostdev_pci_device_get_driver_override(hostdev_pci_device *dev);
/** The modalias string, NULL if the kernel exposes none. */
const char *hostdev_pci_device_get_modalias(hostdev_pci_device *dev);
/** Number of kernel modules able to drive the device (modalias lookup through libkmod, like lspci
 * -k). */
size_t hostdev_pci_device_get_module_count(hostdev_pci_device *dev);
/** Module @index, NULL when out of range. */
const char *hostdev_pci_device_get_module(hostdev_pci_device *dev, size_t index);

/** IOMMU group number, -1 when the device has none (IOMMU off or not translated). */
int hostdev_pci_device_get_iommu_group(hostdev_pci_device *dev);
/**
 * Number of devices in the IOMMU group (including this one), 0 without a group. Sorted by address.
 * A device from an enumeration (without slot filters) has the members the enumeration found before
 * its first device, even when asked long after; one made with hostdev_pci_device_new() lists the
 * group's directory on first use.
 */
size_t hostdev_pci_device_get_iommu_group_member_count(hostdev_pci_device *dev);
/** Address of group member @index, NULL when out of range. */
const char *hostdev_pci_device_get_iommu_group_member(hostdev_pci_device *dev, size_t index);

/** NUMA node, -1 for none. */
int hostdev_pci_device_get_numa_node(hostdev_pci_device *dev);
/** Physical slot name from /sys/bus/pci/slots, NULL if unknown. */
const char *hostdev_pci_device_get_physical_slot(hostdev_pci_device *dev);
/** 1 when the firmware used this VGA device for boot output, else 0. */
int hostdev_pci_device_is_boot_vga(hostdev_pci_device *dev);
/** 1 for PCI-to-PCI bridges (class 0x0604), which must never be passed through. */
int hostdev_pci_device_is_bridge(hostdev_pci_device *dev);

/* Topology (read from sysfs on each call: bus numbers change on a rescan). Since HOSTDEV_1.4. */
/**
 * The bus numbers a bridge forwards, from its configuration header (the unprivileged first 64
 * bytes): a device of the bridge base class (0x06) with a PCI-to-PCI (type 1) or CardBus (type 2)
 * header. Each out pointer may be NULL.
 * Returns 1 and sets *@primary (the bus it sits on, as programmed), *@secondary (the bus behind it;
 * 0 when firmware left it unprogrammed) and *@subordinate (the highest bus behind it); 0 for any
 * other device (out values untouched); -EINVAL for a NULL @dev; a negative errno when the header
 * cannot be read (-EIO when it is shorter than the standard header).
 */
int hostdev_pci_device_get_bridge_buses(hostdev_pci_device *dev, unsigned int *primary,
					unsigned int *secondary, unsigned int *subordinate);
/**
 * The address of the PCI device upstream of @dev in the kernel's device tree (the bridge or
 * root port it sits behind, or for a device in a VMD domain the VMD endpoint), written to @buf
 * ("dddd:bb:ss.f"; HOSTDEV_PCI_ADDRESS_MAX bytes suffice).
 * Returns 1 when there is one, 0 for a device on a root bus (@buf untouched), -EINVAL for NULL
 * arguments or a zero @size, -ENOSPC when @size is too small, -ENODEV when the device is gone.
 */
int hostdev_pci_device_get_parent_address(hostdev_pci_device *dev, char *buf, size_t size);

/* SR-IOV. */
/** 1 when the device is an SR-IOV physical function (has sriov_totalvfs). */
int hostdev_pci_device_is_sriov_pf(hostdev_pci_device *dev);
/** sriov_totalvfs, 0 for non-PFs. */
unsigned int hostdev_pci_device_get_sriov_total_vfs(hostdev_pci_device *dev);
/** sriov_numvfs, 0 for non-PFs. */
unsigned int hostdev_pci_device_get_sriov_num_vfs(hostdev_pci_device *dev);
/** sriov_vf_device (VF device id), 0 when unknown. */
unsigned int hostdev_pci_device_get_sriov_vf_device_id(hostdev_pci_device *dev);
/** Number of existing VFs (virtfn links), in VF-index order. */
size_t hostdev_pci_device_get_vf_count(hostdev_pci_device *dev);
/** Address of the @index-th VF entry, NULL when out of range. */
const char *hostdev_pci_device_get_vf_address(hostdev_pci_device *dev, size_t index);
/** VF number (the N of virtfnN) of the @index-th entry, -1 when out of range. */
int hostdev_pci_device_get_vf_number(hostdev_pci_device *dev, size_t index);
/** 1 when the device is a VF (has a physfn link). */
int hostdev_pci_device_is_sriov_vf(hostdev_pci_device *dev);
/** Address of the PF of a VF, NULL otherwise. */
const char *hostdev_pci_device_get_pf_address(hostdev_pci_device *dev);
/** The VF number of this VF on its PF, -1 for non-VFs. */
int hostdev_pci_device_get_vf_index(hostdev_pci_device *dev);

/* Network interfaces (net/<ifname>), sorted. */
size_t hostdev_pci_device_get_netdev_count(hostdev_pci_device *dev);
const char *hostdev_pci_device_get_netdev(hostdev_pci_device *dev, size_t index);

/* Mediated device types offered by this device as an mdev parent, sorted by type id. */
size_t hostdev_pci_device_get_mdev_type_count(hostdev_pci_device *dev);
/** Type id, the directory name (e.g. "nvidia-63", "mtty-2"); NULL when out of range. */
const char *hostdev_pci_device_get_mdev_type_id(hostdev_pci_device *dev, size_t index);
/** Human name (the `name` attribute, e.g. "GRID T4-1Q"), NULL if the driver gives none. */
const char *hostdev_pci_device_get_mdev_type_name(hostdev_pci_device *dev, size_t index);
/** available_instances, -1 when unknown or out of range. */
int hostdev_pci_device_get_mdev_type_available(hostdev_pci_device *dev, size_t index);
/** device_api (e.g. "vfio-pci"), NULL if unknown. */
const char *hostdev_pci_device_get_mdev_type_device_api(hostdev_pci_device *dev, size_t index);
/** description, NULL if unknown; may span lines. */
const char *hostdev_pci_device_get_mdev_type_description(hostdev_pci_device *dev, size_t index);

/*
 * Mediated devices that exist on this device as their parent (the <uuid> children of its sysfs
 * directory), sorted by UUID. Unbinding the parent's driver destroys them, which is why the bind
 * calls of vfio.h refuse such a parent. Read on first use, like the mdev types.
 */
/** Number of active mdevs (0 for devices that are no mdev parent). */
size_t hostdev_pci_device_get_active_mdev_count(hostdev_pci_device *dev);
/** UUID (lower case) of active mdev @index; NULL out of range. */
const char *hostdev_pci_device_get_active_mdev_uuid(hostdev_pci_device *dev, size_t index);
/** Its type id (the basename of its mdev_type link, e.g. "nvidia-745"); NULL when unknown. */
const char *hostdev_pci_device_get_active_mdev_type(hostdev_pci_device *dev, size_t index);
/** Its type's human name (e.g. "NVIDIA A2-4Q"), NULL when the driver gives none. */
const char *hostdev_pci_device_get_active_mdev_type_name(hostdev_pci_device *dev, size_t index);
/** Its IOMMU group (a VM opens <dev>/vfio/<group>), -1 when none or out of range. */
int hostdev_pci_device_get_active_mdev_iommu_group(hostdev_pci_device *dev, size_t index);
/**
 * Whether a process holds mdev @index open: 1 when a file descriptor of some process under the
 * context's proc root refers to its <dev>/vfio/<group> node or its vfio device cdev
 * (<dev>/vfio/devices/vfioN), 0 when none does, -1 when that cannot be told (processes whose file
 * descriptors the caller may not read: run as root; or out of range). The first call for a
 * device scans every process's descriptors once (the answer is then kept).
 */
int hostdev_pci_device_is_active_mdev_in_use(hostdev_pci_device *dev, size_t index);

/* Names used by Harvester and KubeVirt (rules in docs/naming.md). NULL only on allocation failure.
 */
/** "<class>: <vendor> <device>" as Harvester's PCIDevice status.description. */
const char *hostdev_pci_device_get_description(hostdev_pci_device *dev);
/** Harvester PCIDevice object name "<node>-<address without ':' and '.'>". */
const char *hostdev_pci_device_get_object_name(hostdev_pci_device *dev);
/** Pooled resource name "<vendor>.com/<PRODUCT>" (Harvester's rule, including the socket-length
 * rule). */
const char *hostdev_pci_device_get_resource_name(hostdev_pci_device *dev);
/** Per-device resource name "<vendor>.com/<object name>". */
const char *hostdev_pci_device_get_device_resource_name(hostdev_pci_device *dev);

/** Flags for hostdev_pci_device_to_json(). */
enum hostdev_json_flags {
	HOSTDEV_JSON_PRETTY = 1u << 0, /**< indent the output (cJSON_Print()'s layout: tabs) */
	/**
	 * Indent with two spaces, one member or array element a line, "key": value, empty objects
	 * and arrays as {} and [] (the layout of `jq .` and Python's json.dumps(indent=2)).
	 * hostdev_pci_device_to_json() only; not together with HOSTDEV_JSON_PRETTY.
	 */
	HOSTDEV_JSON_INDENT = 1u << 1,
};

/**
 * Serialise every field of the device in the stable schema of docs/json-schema.md.
 * *@out is a NUL-terminated string released with hostdev_free(). @flags: 0 (compact),
 * HOSTDEV_JSON_PRETTY or HOSTDEV_JSON_INDENT. Returns 0, -EINVAL (unknown flag, or both layouts),
 * -ENOMEM.
 */
int hostdev_pci_device_to_json(hostdev_pci_device *dev, unsigned int flags, char **out);

/**
 * hostdev_pci_device_to_json() for a device object that sits @depth levels deep in a larger
 * document printed in the same layout (HOSTDEV_JSON_INDENT or HOSTDEV_JSON_PRETTY): every line
 * after the first is indented for that depth (two spaces, or one tab, a level), so the text goes
 * in as it is after the caller's own line break and indentation. The first line, "{", is not
 * indented. With @depth 0 this is hostdev_pci_device_to_json(). *@out is released with
 * hostdev_free(). Returns 0; -EINVAL for an unknown flag, both layouts, a @depth above 64, or a
 * @depth other than 0 with the compact layout (it has no line breaks); -ENOMEM. Since HOSTDEV_1.7.
 */
int hostdev_pci_device_to_json_nested(hostdev_pci_device *dev, unsigned int flags,
				      unsigned int depth, char **out);

/** Opaque enumerator. */
typedef struct hostdev_pci_enum hostdev_pci_enum;

/** Create an enumerator over all PCI devices of the context. Returns 0, -EINVAL, -ENOMEM. */
int hostdev_pci_enum_new(hostdev_ctx *ctx, hostdev_pci_enum **out);
hostdev_pci_enum *hostdev_pci_enum_ref(hostdev_pci_enum *e);
/** NULL-safe; always returns NULL. */
hostdev_pci_enum *hostdev_pci_enum_unref(hostdev_pci_enum *e);

/*
 * Filters. Filters of different kinds must all match; several filters of the same kind match when
 * any of them does. Adding a filter after the first hostdev_pci_enum_next() returns -EBUSY. A
 * malformed filter returns -EINVAL and the context error names the bad part.
 */
/** lspci -s syntax: "[[domain:]bus:][slot][.[func]]", each part hex or "*" / empty for any. */
int hostdev_pci_enum_add_slot_filter(hostdev_pci_enum *e, const char *spec);
/** lspci -d syntax: "[vendor]:[device][:class[:prog_if]]", hex, empty or "*" for any. */
int hostdev_pci_enum_add_id_filter(hostdev_pci_enum *e, const char *spec);
/** Bound driver name; "none" matches devices without a driver. */
int hostdev_pci_enum_add_driver_filter(hostdev_pci_enum *e, const char *driver);
/** Class prefix in hex: "02" (class), "0200" (class+subclass) or "020000" (with prog-if). */
int hostdev_pci_enum_add_class_filter(hostdev_pci_enum *e, const char *spec);

/**
 * Next matching device in address order. Returns 1 and a new reference in *@out, 0 at the end, or a
 * negative errno (the enumeration can go on after a per-device error is skipped: devices that
 * vanish during the scan are skipped silently, devices with unreadable attributes are logged and
 * skipped).
 */
int hostdev_pci_enum_next(hostdev_pci_enum *e, hostdev_pci_device **out);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_PCI_H */
