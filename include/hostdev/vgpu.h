/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA vGPU without mdev (docs/vgpu.md): on kernels >= 6.8 with NVIDIA's vendor-specific VFIO
 * driver, a vGPU is an SR-IOV VF of the GPU that carries a vGPU type. Each VF has
 * <vf>/nvidia/creatable_vgpu_types (a header line "ID : vGPU Name", then one line "ID : Name" per
 * type the VF can take now) and <vf>/nvidia/current_vgpu_type (the type it holds, 0 for none);
 * writing a type id there gives the VF that type, writing 0 takes it away. The VF stays on the
 * nvidia driver and is passed through as a PCI device; it is never bound to vfio-pci.
 *
 * What the GPU can still create shrinks as types are set (framebuffer is split among the VFs, and
 * in its default mode a GPU runs vGPUs of one type only), so the lists are snapshots.
 *
 * Setting and clearing run under the vfio lock and a watchdog, like every sysfs store of the
 * library, and a type libhostdev set is recorded durably before the write in the vGPU journal
 * (<state>/vgpu-journal.json), so hostdev_vgpu_restore() can take it away after a crash.
 *
 * All functions follow the conventions of context.h: >= 0 on success, a negative errno on failure
 * with hostdev_ctx_get_error() naming the device, the problem and the remedy.
 */
#ifndef HOSTDEV_VGPU_H
#define HOSTDEV_VGPU_H

#include <stddef.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque snapshot of vGPU-capable VFs (those with an nvidia/ directory), sorted by address. */
typedef struct hostdev_vgpu_list hostdev_vgpu_list;

/**
 * Read the vGPU state of every VF that has <vf>/nvidia/current_vgpu_type (@address NULL), of the
 * VFs of one GPU (@address names the PF), or of one VF. For each: its PF, driver, IOMMU group,
 * the type it holds (with its name, looked up in the creatable lists of the VF and its siblings,
 * else in the vGPU journal) and the types it can take now. On success *@out holds a new
 * reference. Returns 0, -EINVAL (malformed address), -ENODEV (no such device), -EOPNOTSUPP (the
 * device is neither a vGPU-capable VF nor a PF with such VFs; the message says what is missing,
 * e.g. the VF is not on the nvidia driver or the GPU has no VFs enabled), -EBADMSG (a
 * creatable_vgpu_types or current_vgpu_type the driver should not write; the message quotes it),
 * -ENOMEM.
 */
int hostdev_vgpu_read(hostdev_ctx *ctx, const char *address, hostdev_vgpu_list **out);

hostdev_vgpu_list *hostdev_vgpu_list_ref(hostdev_vgpu_list *list);
/** NULL-safe; always returns NULL. */
hostdev_vgpu_list *hostdev_vgpu_list_unref(hostdev_vgpu_list *list);

/** Number of VFs. */
size_t hostdev_vgpu_list_get_count(const hostdev_vgpu_list *list);
/* Fields of VF @i; NULL / -1 / 0 when @i is out of range. */
/** The VF's address "dddd:bb:ss.f". */
const char *hostdev_vgpu_list_get_address(const hostdev_vgpu_list *list, size_t i);
/** The address of the VF's PF (the GPU), NULL when the VF has no physfn link. */
const char *hostdev_vgpu_list_get_pf(const hostdev_vgpu_list *list, size_t i);
/** The VF's driver ("nvidia"), NULL when it has none. */
const char *hostdev_vgpu_list_get_driver(const hostdev_vgpu_list *list, size_t i);
/** The VF's IOMMU group, -1 when it has none. */
int hostdev_vgpu_list_get_iommu_group(const hostdev_vgpu_list *list, size_t i);
/** current_vgpu_type: the id of the type the VF holds, 0 when none (and out of range). */
unsigned int hostdev_vgpu_list_get_current_type(const hostdev_vgpu_list *list, size_t i);
/** The name of the current type ("NVIDIA A2-4Q"), NULL without a type or when it is unknown. */
const char *hostdev_vgpu_list_get_current_name(const hostdev_vgpu_list *list, size_t i);
/** 1 when the vGPU journal holds a record of the VF (libhostdev set its type), else 0. */
int hostdev_vgpu_list_is_journaled(const hostdev_vgpu_list *list, size_t i);
/** Number of types the VF can take now (lines of creatable_vgpu_types after the header). */
size_t hostdev_vgpu_list_get_type_count(const hostdev_vgpu_list *list, size_t i);
/** Id of creatable type @k of VF @i, in the driver's order; 0 out of range. */
unsigned int hostdev_vgpu_list_get_type_id(const hostdev_vgpu_list *list, size_t i, size_t k);
/** Name of creatable type @k of VF @i ("NVIDIA A2-4Q"); NULL out of range. */
const char *hostdev_vgpu_list_get_type_name(const hostdev_vgpu_list *list, size_t i, size_t k);

/**
 * The list as JSON [{"address", "pf", "driver", "iommu_group" (null for none), "current_type"
 * (0 for none), "current_name" (null), "resource_name" (Harvester's name of the current type, null
 * without one), "journaled", "creatable": [{"id", "name", "resource_name"}]}] (docs/vgpu.md).
 * *@out is released with hostdev_free(). @flags: HOSTDEV_JSON_PRETTY (pci.h) or 0. Returns 0,
 * -EINVAL, -ENOMEM.
 */
int hostdev_vgpu_list_to_json(const hostdev_vgpu_list *list, unsigned int flags, char **out);

/** Current version of struct hostdev_vgpu_options. */
#define HOSTDEV_VGPU_OPTIONS_VERSION 1

/** Default of hostdev_vgpu_options.timeout_ms. */
#define HOSTDEV_VGPU_DEFAULT_TIMEOUT_MS 30000

/**
 * Options of hostdev_vgpu_set_type(), hostdev_vgpu_clear_type() and hostdev_vgpu_restore().
 * Initialise with HOSTDEV_VGPU_OPTIONS_INIT or hostdev_vgpu_options_init(); members are only ever
 * added at the end. NULL means all defaults.
 */
struct hostdev_vgpu_options {
	/** HOSTDEV_VGPU_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/** Milliseconds each current_vgpu_type store may take (watchdog); 0: the default. */
	unsigned int timeout_ms;
	/** How long to wait for the vfio lock, in milliseconds; 0: the vfio default. */
	unsigned int lock_timeout_ms;
};

/** Static initialiser with the defaults. */
#define HOSTDEV_VGPU_OPTIONS_INIT                                                                  \
	{                                                                                          \
		HOSTDEV_VGPU_OPTIONS_VERSION, 0, 0                                                 \
	}

/**
 * Fill @opts with the defaults for struct version @version (pass HOSTDEV_VGPU_OPTIONS_VERSION).
 * Returns 0, -EINVAL for a NULL @opts or an unknown @version.
 */
int hostdev_vgpu_options_init(struct hostdev_vgpu_options *opts, unsigned int version);

/**
 * Give the VF at @address the vGPU type @type_id (an id of hostdev_vgpu_list_get_type_id()).
 *
 * Under the vfio lock: the VF must have nvidia/current_vgpu_type (-EOPNOTSUPP otherwise, e.g. on
 * vfio-pci: the message says to give it back to the nvidia driver); a VF that holds @type_id
 * already is left alone (returns 0); one that holds another type is refused (-EBUSY: clear it
 * first); @type_id must be creatable on the VF now (-ENOENT, the message lists what is). Then the
 * vGPU journal records the VF and its previous type (durably, before the store), @type_id is
 * written under the watchdog and read back. A failed store drops the record again.
 *
 * @type_id 0 is -EINVAL (use hostdev_vgpu_clear_type()); @flags must be 0. Returns 1 when the
 * type was set, 0 when the VF held it already, or a negative errno: -EINVAL, -ENODEV,
 * -EOPNOTSUPP, -EBUSY, -ENOENT, -ETIMEDOUT (the store blocked: the driver may still complete it),
 * -EPERM (untrusted state directory), the journal's errors, or the driver's errno.
 */
int hostdev_vgpu_set_type(hostdev_ctx *ctx, const char *address, unsigned int type_id,
			  const struct hostdev_vgpu_options *opts, unsigned int flags);

/**
 * Take the vGPU type away from the VF at @address (write 0 to current_vgpu_type, read back) and
 * drop its journal record. A VF without a type is left alone. The driver refuses while a VM holds
 * the VF open (its errno, usually -EBUSY, with a message saying so). @flags must be 0. Returns 1
 * when a type was cleared, 0 when there was none, or a negative errno as hostdev_vgpu_set_type().
 */
int hostdev_vgpu_clear_type(hostdev_ctx *ctx, const char *address,
			    const struct hostdev_vgpu_options *opts, unsigned int flags);

/**
 * Undo what the vGPU journal records: for each record (only that of @address when it is not
 * NULL), newest first, a VF that still holds the type libhostdev set gets its previous type back
 * (0 in practice: a set refuses a VF that holds a type); a VF that holds no type or another type
 * has been changed by someone else and its record is dropped; a VF that is gone keeps its record.
 * Failing stores are reported together after every record was tried; their records are kept.
 * @flags must be 0. Returns the number of VFs put back, -ENOENT when @address has no record, or
 * the first failure's negative errno.
 */
int hostdev_vgpu_restore(hostdev_ctx *ctx, const char *address,
			 const struct hostdev_vgpu_options *opts, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_VGPU_H */
