/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mediated devices (mdev): the parents that offer them (PCI devices such as vGPU cards, and
 * non-PCI parents such as the mtty sample under /sys/class/mdev_bus), their types, the mdevs that
 * exist, creating one of a type and removing one (docs/sriov-mdev.md).
 *
 * Kernel interface: <parent>/mdev_supported_types/<type>/{name,available_instances,device_api,
 * description,create}; writing a UUID to `create` makes /sys/bus/mdev/devices/<uuid>, writing 1 to
 * its `remove` destroys it. Both writes run under a watchdog like the SR-IOV writes (a vendor
 * driver can block them; removing an mdev a VM holds open waits for the VM to let go).
 *
 * All functions follow the conventions of context.h.
 */
#ifndef HOSTDEV_MDEV_H
#define HOSTDEV_MDEV_H

#include <stddef.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Length of a UUID string "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus its NUL. */
#define HOSTDEV_MDEV_UUID_MAX 37

/* ---------------------------------------------------------------------------------------------- */
/* Types offered by the parents */

/** Opaque snapshot of mdev types, one entry per (parent, type), sorted by parent then type id. */
typedef struct hostdev_mdev_types hostdev_mdev_types;

/**
 * Read the mdev types of every parent (@parent NULL) or of one parent: a PCI address
 * ("DDDD:BB:SS.F" or "BB:SS.F") or a device name of /sys/class/mdev_bus ("mtty"). Parents are the
 * entries of <sysfs>/class/mdev_bus plus PCI devices with mdev_supported_types. A host without
 * parents gives an empty snapshot. On success *@out holds a new reference. Returns 0, -ENODEV (no
 * such parent), -EOPNOTSUPP (@parent exists but offers no mdev types), -ENOMEM.
 */
int hostdev_mdev_types_read(hostdev_ctx *ctx, const char *parent, hostdev_mdev_types **out);

hostdev_mdev_types *hostdev_mdev_types_ref(hostdev_mdev_types *types);
/** NULL-safe; always returns NULL. */
hostdev_mdev_types *hostdev_mdev_types_unref(hostdev_mdev_types *types);

/** Number of entries. */
size_t hostdev_mdev_types_get_count(const hostdev_mdev_types *types);
/* Fields of entry @i; NULL / -1 when @i is out of range or the kernel gives no value. */
/** Parent device name: the PCI address for PCI parents, else the device name ("mtty"). */
const char *hostdev_mdev_types_get_parent(const hostdev_mdev_types *types, size_t i);
/** 1 when the parent is a PCI device, 0 otherwise (and out of range). */
int hostdev_mdev_types_is_pci_parent(const hostdev_mdev_types *types, size_t i);
/** Type id, the directory name ("nvidia-222", "mtty-2"): what hostdev_mdev_create() takes. */
const char *hostdev_mdev_types_get_type(const hostdev_mdev_types *types, size_t i);
/** Human name (the `name` attribute, "GRID T4-1Q"), NULL when the driver gives none. */
const char *hostdev_mdev_types_get_name(const hostdev_mdev_types *types, size_t i);
/**
 * KubeVirt's mdevNameSelector form of the type: its name with every space replaced by '_' and
 * surrounding whitespace trimmed, or the type id when there is no name ("GRID_T4-1Q").
 */
const char *hostdev_mdev_types_get_selector(const hostdev_mdev_types *types, size_t i);
/** available_instances: how many more mdevs of the type can be created; -1 when unknown. */
int hostdev_mdev_types_get_available(const hostdev_mdev_types *types, size_t i);
/** device_api ("vfio-pci"), NULL when unknown. */
const char *hostdev_mdev_types_get_device_api(const hostdev_mdev_types *types, size_t i);
/** description, NULL when unknown; may span lines. */
const char *hostdev_mdev_types_get_description(const hostdev_mdev_types *types, size_t i);

/* ---------------------------------------------------------------------------------------------- */
/* Existing mediated devices */

/** Opaque snapshot of the mdevs that exist (/sys/bus/mdev/devices), sorted by UUID. */
typedef struct hostdev_mdev_list hostdev_mdev_list;

/**
 * Read the mdevs. No mdev bus (module not loaded) is an empty list, and an mdev removed while it
 * is read is left out. Returns 0, -ENOMEM, or the negative errno of a directory that could not be
 * read (-EMFILE, -EACCES, ...; the message names it): never an empty list for a failure.
 */
int hostdev_mdev_list_read(hostdev_ctx *ctx, hostdev_mdev_list **out);

hostdev_mdev_list *hostdev_mdev_list_ref(hostdev_mdev_list *list);
/** NULL-safe; always returns NULL. */
hostdev_mdev_list *hostdev_mdev_list_unref(hostdev_mdev_list *list);

/** Number of mdevs. */
size_t hostdev_mdev_list_get_count(const hostdev_mdev_list *list);
/* Fields of mdev @i; NULL / -1 when @i is out of range or the kernel gives no value. */
/** The UUID (lower case), which is also the device name. */
const char *hostdev_mdev_list_get_uuid(const hostdev_mdev_list *list, size_t i);
/** Parent device name (PCI address or e.g. "mtty"). */
const char *hostdev_mdev_list_get_parent(const hostdev_mdev_list *list, size_t i);
/** Type id (basename of the mdev_type link). */
const char *hostdev_mdev_list_get_type(const hostdev_mdev_list *list, size_t i);
/** The type's human name, NULL when it has none. */
const char *hostdev_mdev_list_get_type_name(const hostdev_mdev_list *list, size_t i);
/** KubeVirt mdevNameSelector form of the type (see hostdev_mdev_types_get_selector()). */
const char *hostdev_mdev_list_get_selector(const hostdev_mdev_list *list, size_t i);
/** IOMMU group of the mdev (a VM opens /dev/vfio/<group>), -1 when none. */
int hostdev_mdev_list_get_iommu_group(const hostdev_mdev_list *list, size_t i);
/** Bound mdev driver ("vfio_mdev", "nvidia-vgpu-vfio", "mtty"), NULL when none. */
const char *hostdev_mdev_list_get_driver(const hostdev_mdev_list *list, size_t i);

/* ---------------------------------------------------------------------------------------------- */
/* Create and remove */

/** Current version of struct hostdev_mdev_options. */
#define HOSTDEV_MDEV_OPTIONS_VERSION 1

/** Default of hostdev_mdev_options.timeout_ms. */
#define HOSTDEV_MDEV_DEFAULT_TIMEOUT_MS 30000

/**
 * Options of hostdev_mdev_create() and hostdev_mdev_remove(). Initialise with
 * HOSTDEV_MDEV_OPTIONS_INIT or hostdev_mdev_options_init(); members are only ever added at the end.
 * NULL means all defaults.
 */
struct hostdev_mdev_options {
	/** HOSTDEV_MDEV_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * Milliseconds the create/remove write may take (watchdog), and then how long to wait for
	 * the device to appear or go. 0 means HOSTDEV_MDEV_DEFAULT_TIMEOUT_MS.
	 */
	unsigned int timeout_ms;
};

/** Static initialiser with the defaults. */
#define HOSTDEV_MDEV_OPTIONS_INIT                                                                  \
	{                                                                                          \
		HOSTDEV_MDEV_OPTIONS_VERSION, 0                                                    \
	}

/**
 * Fill @opts with the defaults for struct version @version (pass HOSTDEV_MDEV_OPTIONS_VERSION).
 * Returns 0, -EINVAL for a NULL @opts or an unknown @version.
 */
int hostdev_mdev_options_init(struct hostdev_mdev_options *opts, unsigned int version);

/**
 * A new random (version 4) UUID in lower case into @buf (at least HOSTDEV_MDEV_UUID_MAX bytes),
 * from getrandom(2), or from <dev>/urandom of the context when getrandom is unavailable.
 * Returns 36, -EINVAL (NULL argument), -ENOSPC (@buf too small), -EIO (no randomness).
 */
int hostdev_mdev_uuid_generate(hostdev_ctx *ctx, char *buf, size_t size);

/**
 * Create an mdev of type @type (an id of hostdev_mdev_types_get_type()) on @parent (as in
 * hostdev_mdev_types_read()) with @uuid, or a generated UUID when @uuid is NULL. Refuses a type
 * without available instances (-ENOSPC) and a UUID already in use (-EEXIST) before writing; waits
 * for /sys/bus/mdev/devices/<uuid>. @flags must be 0. On success, when @uuid_out is not NULL,
 * *@uuid_out is the UUID (lower case), released with hostdev_free(). Returns 0, -EINVAL (malformed
 * UUID, flags, options), -ENODEV (no such parent), -ENOENT (no such type; the message lists the
 * parent's types), -ENOSPC, -EEXIST, -ETIMEDOUT (the write or the device took too long: the kernel
 * may still complete it), or the driver's errno with a message.
 */
int hostdev_mdev_create(hostdev_ctx *ctx, const char *parent, const char *type, const char *uuid,
			const struct hostdev_mdev_options *opts, unsigned int flags,
			char **uuid_out);

/**
 * Remove the mdev @uuid (write 1 to its `remove`) and wait until it is gone. @flags must be 0.
 * Returns 0, -EINVAL (malformed UUID), -ENODEV (no such mdev), -ETIMEDOUT (the kernel did not
 * finish in time: a VM probably still holds the device open; the removal completes when it lets
 * go), or the driver's errno.
 */
int hostdev_mdev_remove(hostdev_ctx *ctx, const char *uuid, const struct hostdev_mdev_options *opts,
			unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_MDEV_H */
