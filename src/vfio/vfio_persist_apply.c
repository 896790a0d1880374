/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev_vfio_apply(): the persistent list applied at boot, in dependency order (vfio_persist.h):
 * VF counts, vGPU types, bindings, then mediated devices. A failed entry does not stop the others.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hostdev/mdev.h>
#include <hostdev/sriov.h>
#include <hostdev/vgpu.h>

#include "pci/pci.h"
#include "vfio_persist.h"

/* Apply one VF count (before the vfio lock is taken: hostdev_sriov_set_num_vfs() takes it). */
static int apply_vfs(hostdev_ctx *ctx, const struct vfs_entry *e,
		     const struct hostdev_vfio_options *o)
{
	struct hostdev_sriov_options so = HOSTDEV_SRIOV_OPTIONS_INIT;
	hostdev_pci_device *dev;
	unsigned int vid, did, before;
	int r;

	r = hostdev_pci_device_new(ctx, e->pf, &dev);
	if (r < 0)
		return r;
	vid = hostdev_pci_device_get_vendor_id(dev);
	did = hostdev_pci_device_get_device_id(dev);
	before = hostdev_pci_device_get_sriov_num_vfs(dev);
	hostdev_pci_device_unref(dev);
	if (vid != e->vendor_id || did != e->device_id)
		return hostdev_error(
		    ctx, -ENODEV,
		    "%s: now holds %04x:%04x, but the PF %04x:%04x was listed; the hardware "
		    "changed: not creating its VFs (update the list with "
		    "hostdev_vfio_persist_remove_vfs() and hostdev_vfio_persist_add_vfs())",
		    e->pf, vid, did, e->vendor_id, e->device_id);
	so.autoprobe = e->autoprobe;
	so.lock_timeout_ms = o->lock_timeout_ms;
	r = hostdev_sriov_set_num_vfs(ctx, e->pf, e->num_vfs, &so, 0);
	if (r < 0)
		return r;
	if ((unsigned int)r < e->num_vfs)
		return hostdev_error(ctx, -EIO, "%s: its driver enabled %d of the %u listed VFs",
				     e->pf, r, e->num_vfs);
	if (before != e->num_vfs)
		hostdev_log(ctx, HOSTDEV_LOG_NOTICE, "%s: %u VFs enabled (persistent list)", e->pf,
			    e->num_vfs);
	return 0;
}

/*
 * Give one listed VF its vGPU type unless it holds it (before the vfio lock is taken:
 * hostdev_vgpu_set_type() takes it, and journals the type so that restore can take it away).
 */
static int apply_vgpu(hostdev_ctx *ctx, const struct vgpu_entry *e,
		      const struct hostdev_vfio_options *o)
{
	struct hostdev_vgpu_options vo = HOSTDEV_VGPU_OPTIONS_INIT;
	char type[VGPU_TYPE_TEXT_MAX], cause[HOSTDEV_ERROR_MAX];
	hostdev_pci_device *dev;
	unsigned int vid, did;
	int r;

	if (e->name)
		snprintf(type, sizeof(type), "%u (%s)", e->type, e->name);
	else
		snprintf(type, sizeof(type), "%u", e->type);
	r = hostdev_pci_device_new(ctx, e->vf, &dev);
	if (r == -ENODEV)
		return hostdev_error(
		    ctx, r,
		    "%s: no such VF, so its listed vGPU type %s was not set: its GPU's VFs are not "
		    "enabled (keep the GPU's VF count in the persistent list: "
		    "hostdev_vfio_persist_add_vfs()), or the GPU is gone (forget the type: "
		    "hostdev_vfio_persist_remove_vgpu())",
		    e->vf, type);
	if (r < 0)
		return r;
	vid = hostdev_pci_device_get_vendor_id(dev);
	did = hostdev_pci_device_get_device_id(dev);
	hostdev_pci_device_unref(dev);
	if (vid != e->vendor_id || did != e->device_id)
		return hostdev_error(
		    ctx, -ENODEV,
		    "%s: now holds %04x:%04x, but the VF %04x:%04x was listed; the hardware "
		    "changed: not setting its vGPU type %s (update the list with "
		    "hostdev_vfio_persist_remove_vgpu() and hostdev_vfio_persist_add_vgpu())",
		    e->vf, vid, did, e->vendor_id, e->device_id, type);
	vo.lock_timeout_ms = o->lock_timeout_ms;
	r = hostdev_vgpu_set_type(ctx, e->vf, e->type, &vo, 0);
	if (r == 1)
		hostdev_log(ctx, HOSTDEV_LOG_NOTICE, "%s: vGPU type %s set (persistent list)",
			    e->vf, type);
	if (r >= 0)
		return 0;
	/* The set's message says what the VF holds or offers; say which entry it was and what
	 * to do with it. */
	snprintf(cause, sizeof(cause), "%s", hostdev_ctx_get_error(ctx));
	return hostdev_error(
	    ctx, r,
	    "%s: the listed vGPU type %s was not set: %s. The entry is kept: free "
	    "room on the GPU, or replace it (hostdev_vfio_persist_remove_vgpu() and "
	    "hostdev_vfio_persist_add_vgpu())",
	    e->vf, type, cause);
}

/* Create one listed mdev unless it exists; one that exists with another parent or type is an
 * error (the UUID is the identity VMs know it by). */
static int apply_mdev(hostdev_ctx *ctx, const struct mdev_entry *e,
		      const hostdev_mdev_list *existing)
{
	int r;

	for (size_t i = 0; i < hostdev_mdev_list_get_count(existing); i++) {
		const char *parent = hostdev_mdev_list_get_parent(existing, i);
		const char *type = hostdev_mdev_list_get_type(existing, i);

		if (strcmp(hostdev_mdev_list_get_uuid(existing, i), e->uuid) != 0)
			continue;
		if (parent && type && strcmp(parent, e->parent) == 0 && strcmp(type, e->type) == 0)
			return 0;
		return hostdev_error(
		    ctx, -EEXIST,
		    "mdev %s exists as %s on %s, but the persistent list has %s on "
		    "%s: remove one of them (hostdev_mdev_remove() or "
		    "hostdev_vfio_persist_remove_mdev())",
		    e->uuid, type ? type : "an unknown type", parent ? parent : "an unknown parent",
		    e->type, e->parent);
	}
	r = hostdev_mdev_create(ctx, e->parent, e->type, e->uuid, NULL, 0, NULL);
	if (r == 0)
		hostdev_log(ctx, HOSTDEV_LOG_NOTICE,
			    "mdev %s: created as %s on %s (persistent list)", e->uuid, e->type,
			    e->parent);
	return r;
}

/* Record a failed step of apply and go on with the others. */
struct apply_failures {
	char text[HOSTDEV_ERROR_MAX];
	int first_error, count;
};

static void apply_failed(hostdev_ctx *ctx, struct apply_failures *f, int r)
{
	size_t len = strlen(f->text);

	if (!f->first_error)
		f->first_error = r;
	f->count++;
	snprintf(f->text + len, sizeof(f->text) - len, "%s%s", f->count > 1 ? " | " : "",
		 hostdev_ctx_get_error(ctx));
}

/* Apply one entry with the lock held. */
static int apply_entry(hostdev_ctx *ctx, const struct vfio_state *state, const struct entry *e,
		       const struct hostdev_vfio_options *opts)
{
	const char *address = e->address;
	hostdev_pci_device *dev;
	unsigned int vid, did;
	int r;

	r = hostdev_pci_device_new(ctx, address, &dev);
	if (r < 0)
		return r;
	vid = hostdev_pci_device_get_vendor_id(dev);
	did = hostdev_pci_device_get_device_id(dev);
	hostdev_pci_device_unref(dev);
	if (vid != e->vendor_id || did != e->device_id)
		return hostdev_error(
		    ctx, -ENODEV,
		    "%s: now holds %04x:%04x, but %04x:%04x was listed; the hardware "
		    "changed: refusing to bind it (update the list with "
		    "hostdev_vfio_persist_remove() and hostdev_vfio_persist_add())",
		    address, vid, did, e->vendor_id, e->device_id);
	return vfio_bind_locked(ctx, state, &address, 1, opts, e->flags);
}

HOSTDEV_EXPORT int hostdev_vfio_apply(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
				      unsigned int flags)
{
	struct hostdev_vfio_options o;
	hostdev_vfio_persist *list;
	hostdev_mdev_list *existing = NULL;
	struct apply_failures failed = {.first_error = 0};
	struct vfio_state state;
	int r, bound = 0;

	if (!ctx)
		return -EINVAL;
	if (flags)
		return hostdev_error(ctx, -EINVAL, "unknown apply flags 0x%x", flags);
	r = vfio_options_get(ctx, opts, &o);
	if (r < 0)
		return r;
	if (!o.owner)
		o.owner = "hostdev apply";
	r = hostdev_vfio_persist_read(ctx, &list);
	if (r < 0)
		return r;
	/* 1. VFs: a listed device, vGPU or mdev parent may be one of them. */
	for (size_t i = 0; i < list->vfs_count; i++)
		if ((r = apply_vfs(ctx, &list->vfs[i], &o)) < 0)
			apply_failed(ctx, &failed, r);
	/* 1b. vGPU types of the VFs (which stay on nvidia), before the bindings, so that no
	 * binding (of a group, say) takes one of those VFs off nvidia first. */
	for (size_t i = 0; i < list->vgpu_count; i++)
		if ((r = apply_vgpu(ctx, &list->vgpus[i], &o)) < 0)
			apply_failed(ctx, &failed, r);
	/* 2. Bindings. */
	if (list->count) {
		r = vfio_state_lock(ctx, o.lock_timeout_ms, &state);
		if (r < 0) {
			hostdev_vfio_persist_unref(list);
			return r;
		}
		for (size_t i = 0; i < list->count; i++) {
			r = apply_entry(ctx, &state, &list->entries[i], &o);
			if (r >= 0)
				bound += r;
			else
				apply_failed(ctx, &failed, r);
		}
		vfio_state_unlock(&state);
	}
	/* 3. mdevs, once their parents (VFs included) are on their drivers. */
	if (list->mdev_count && (r = hostdev_mdev_list_read(ctx, &existing)) < 0)
		apply_failed(ctx, &failed, r);
	for (size_t i = 0; existing && i < list->mdev_count; i++) {
		r = apply_mdev(ctx, &list->mdevs[i], existing);
		if (r < 0)
			apply_failed(ctx, &failed, r);
	}
	hostdev_mdev_list_unref(existing);
	hostdev_vfio_persist_unref(list);
	if (failed.first_error) {
		char copy[HOSTDEV_ERROR_MAX];

		snprintf(copy, sizeof(copy), "%s", failed.text);
		return hostdev_error(ctx, failed.first_error, "%d of the listed entries failed: %s",
				     failed.count, copy);
	}
	return bound;
}
