/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Declarations shared by the files of the persistent device list (never installed):
 *   vfio_persist.c         the list object, its bindings, reading and editing under the lock
 *   vfio_persist_file.c    the file format: parse and write every version
 *   vfio_persist_extras.c  VF counts, mediated devices and vGPU types (versions 2 and 3)
 *   vfio_persist_apply.c   applying the list at boot
 *
 * Persistence across host reboots: a declarative list of devices that must be on vfio-pci
 * (<config>/vfio-devices.json), applied at boot by `hostdev apply` (a systemd unit ordered before
 * the kubelet, examples/systemd/), and the OpenShift-style modprobe.d alternative.
 *
 * Each entry records the device's vendor:device ids when it was added, so that apply refuses to
 * bind a different card that now sits at the same address (a NIC moved to another slot must not
 * take the host's new NIC with it). Edits run under the vfio lock and replace the file atomically.
 *
 * Version 2 of the file adds what a reboot loses besides bindings: the VF count of SR-IOV PFs
 * ("vfs") and mediated devices ("mdevs", with their UUIDs, which VM definitions name). Apply
 * recreates them in dependency order: VFs first (a listed device may be a VF), then the bindings,
 * then the mdevs (a parent may be a VF, and its driver must be bound). A list without VFs or
 * mdevs is still written as version 1, so that an older libhostdev keeps reading it; a version 2
 * file is refused by those, rather than rewritten without its VFs and mdevs.
 *
 * Version 3 adds the NVIDIA vGPU types of VFs ("vgpus", docs/vgpu.md), which a reboot loses with
 * the VFs. Apply sets them right after the VF counts (the VFs must exist) and before the bindings
 * (so that no binding, of a whole IOMMU group say, takes such a VF off nvidia first). The version
 * is only raised when a type is listed, for the reason above.
 */
#ifndef HOSTDEV_VFIO_PERSIST_H
#define HOSTDEV_VFIO_PERSIST_H

#include <stdbool.h>
#include <stddef.h>

#include <hostdev/mdev.h>
#include <hostdev/vfio.h>

#include "core/core.h"
#include "vfio.h"

#define PERSIST_FORMAT "libhostdev-vfio-devices"
#define PERSIST_VERSION_BINDINGS 1 /* devices only */
#define PERSIST_VERSION_EXTRAS 2   /* + vfs, mdevs */
#define PERSIST_VERSION 3	   /* + vgpus */

struct entry {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	unsigned int flags;
	unsigned int vendor_id, device_id;
};

/* A PF whose VF count apply restores. */
struct vfs_entry {
	char pf[HOSTDEV_PCI_ADDRESS_MAX];
	unsigned int vendor_id, device_id; /* of the PF, checked like a device entry's */
	unsigned int num_vfs;
	unsigned int autoprobe; /* enum hostdev_sriov_autoprobe */
};

/* A mediated device apply recreates. */
struct mdev_entry {
	char *parent; /* canonical PCI address or a non-PCI parent's name ("mtty") */
	char *type;
	char uuid[HOSTDEV_MDEV_UUID_MAX];
};

/* A VF whose vGPU type apply sets. */
struct vgpu_entry {
	char vf[HOSTDEV_PCI_ADDRESS_MAX];
	unsigned int vendor_id, device_id; /* of the VF, checked like a device entry's */
	unsigned int type;
	char *name; /* the type's name when it was added, NULL when unknown */
};

/* "1303 (NVIDIA A2-4Q)" */
#define VGPU_TYPE_TEXT_MAX 160

struct hostdev_vfio_persist {
	int refcount;
	char *path;
	struct entry *entries;
	size_t count;
	struct vfs_entry *vfs;
	size_t vfs_count;
	struct mdev_entry *mdevs;
	size_t mdev_count;
	struct vgpu_entry *vgpus;
	size_t vgpu_count;
};

/* vfio_persist.c */
hostdev_vfio_persist *persist_list_new(hostdev_ctx *ctx);
int persist_open_config(hostdev_ctx *ctx, enum vfio_dir_mode mode, struct vfio_dir *config);
/* Load the list under the vfio lock, let @change edit it, store it when @change succeeded. */
int persist_edit(hostdev_ctx *ctx, int (*change)(hostdev_ctx *, hostdev_vfio_persist *, void *),
		 void *data);
int persist_compare_entries(const void *a, const void *b);

/* vfio_persist_file.c */
/* Load the list from the open configuration directory @config; a missing file is empty. */
int persist_load(hostdev_ctx *ctx, const struct vfio_dir *config, hostdev_vfio_persist *list);
/* Replace the file with @list, in the lowest version that holds it. */
int persist_store(hostdev_ctx *ctx, const struct vfio_dir *config,
		  const hostdev_vfio_persist *list);
/* A UUID in canonical (lower-case) form into @out; false when @text is not one. */
bool persist_canonical_uuid(const char *text, char out[HOSTDEV_MDEV_UUID_MAX]);
/* A parent as the mdev API names it: a PCI address in canonical form, else the name unchanged. */
char *persist_canonical_parent(const char *parent);
/* Whether @autoprobe is an enum hostdev_sriov_autoprobe the file has a word for. */
bool persist_autoprobe_known(unsigned int autoprobe);
int persist_compare_vgpus(const void *a, const void *b);

#endif
