/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the persistent list keeps besides bindings (vfio_persist.h): the VF counts of SR-IOV PFs,
 * mediated devices with their UUIDs, and the vGPU types of VFs. Each edit runs under the vfio lock
 * (persist_edit()).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hostdev/sriov.h>
#include <hostdev/vgpu.h>

#include "pci/pci.h"
#include "vfio_persist.h"
/* ---------------------------------------------------------------------------------------------- */
/* VF counts and mdevs (version 2) */

struct vfs_change {
	struct vfs_entry entry;
	bool remove;
};

static int compare_vfs(const void *a, const void *b)
{
	return strcmp(((const struct vfs_entry *)a)->pf, ((const struct vfs_entry *)b)->pf);
}

static int change_vfs(hostdev_ctx *ctx, hostdev_vfio_persist *list, void *data)
{
	struct vfs_change *c = data;
	struct vfs_entry *grown;

	for (size_t i = 0; i < list->vfs_count; i++) {
		if (strcmp(list->vfs[i].pf, c->entry.pf) != 0)
			continue;
		if (c->remove)
			memmove(&list->vfs[i], &list->vfs[i + 1],
				(list->vfs_count-- - i - 1) * sizeof(*list->vfs));
		else
			list->vfs[i] = c->entry;
		return c->remove ? 0 : 1;
	}
	if (c->remove)
		return hostdev_error(ctx, -ENOENT,
				     "%s: no VF count for it in the persistent list %s",
				     c->entry.pf, list->path);
	grown = realloc(list->vfs, (list->vfs_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	list->vfs = grown;
	list->vfs[list->vfs_count++] = c->entry;
	qsort(list->vfs, list->vfs_count, sizeof(*list->vfs), compare_vfs);
	return 0;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_add_vfs(hostdev_ctx *ctx, const char *pf,
						unsigned int num_vfs, unsigned int autoprobe)
{
	struct vfs_change c = {.entry = {.num_vfs = num_vfs, .autoprobe = autoprobe}};
	hostdev_pci_device *dev;
	unsigned int total;
	int r;

	if (!ctx)
		return -EINVAL;
	if (!persist_autoprobe_known(autoprobe))
		return hostdev_error(ctx, -EINVAL,
				     "unknown autoprobe value %u (enum hostdev_sriov_autoprobe)",
				     autoprobe);
	r = hostdev_pci_device_new(ctx, pf, &dev);
	if (r < 0)
		return r;
	snprintf(c.entry.pf, sizeof(c.entry.pf), "%s", hostdev_pci_device_get_address(dev));
	c.entry.vendor_id = hostdev_pci_device_get_vendor_id(dev);
	c.entry.device_id = hostdev_pci_device_get_device_id(dev);
	total = hostdev_pci_device_get_sriov_total_vfs(dev);
	r = hostdev_pci_device_is_sriov_pf(dev);
	hostdev_pci_device_unref(dev);
	if (!r)
		return hostdev_error(
		    ctx, -EOPNOTSUPP,
		    "%s: is not an SR-IOV physical function (no sriov_totalvfs): it "
		    "has no VF count to keep",
		    c.entry.pf);
	if (num_vfs == 0)
		return hostdev_error(
		    ctx, -EINVAL,
		    "%s: 0 VFs is what every boot gives; to stop recreating its VFs, "
		    "remove its entry with hostdev_vfio_persist_remove_vfs()",
		    c.entry.pf);
	if (num_vfs > total)
		return hostdev_error(ctx, -ERANGE, "%s: %u VFs asked, the PF offers at most %u",
				     c.entry.pf, num_vfs, total);
	return persist_edit(ctx, change_vfs, &c);
}

HOSTDEV_EXPORT int hostdev_vfio_persist_remove_vfs(hostdev_ctx *ctx, const char *pf)
{
	struct vfs_change c = {.remove = true};
	struct hostdev_pci_address a;
	int r;

	if (!ctx)
		return -EINVAL;
	r = pci_address_parse_or_explain(ctx, NULL, pf, &a, c.entry.pf);
	if (r < 0)
		return r;
	return persist_edit(ctx, change_vfs, &c);
}

struct mdev_change {
	struct mdev_entry entry; /* owned until added */
	bool remove;
};

static void mdev_entry_clear(struct mdev_entry *e)
{
	free(e->parent);
	free(e->type);
	e->parent = e->type = NULL;
}

static int change_mdev(hostdev_ctx *ctx, hostdev_vfio_persist *list, void *data)
{
	struct mdev_change *c = data;
	struct mdev_entry *grown;

	for (size_t i = 0; i < list->mdev_count; i++) {
		if (strcmp(list->mdevs[i].uuid, c->entry.uuid) != 0)
			continue;
		mdev_entry_clear(&list->mdevs[i]);
		if (c->remove)
			memmove(&list->mdevs[i], &list->mdevs[i + 1],
				(list->mdev_count-- - i - 1) * sizeof(*list->mdevs));
		else
			list->mdevs[i] = c->entry;
		c->entry.parent = c->entry.type = NULL;
		return c->remove ? 0 : 1;
	}
	if (c->remove)
		return hostdev_error(ctx, -ENOENT, "mdev %s: not in the persistent list %s",
				     c->entry.uuid, list->path);
	grown = realloc(list->mdevs, (list->mdev_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	list->mdevs = grown;
	/* Kept in the order they were added: apply creates them in that order. */
	list->mdevs[list->mdev_count++] = c->entry;
	c->entry.parent = c->entry.type = NULL;
	return 0;
}

static int invalid_uuid(hostdev_ctx *ctx, const char *uuid)
{
	return hostdev_error(ctx, -EINVAL,
			     "'%s' is not a UUID: expected 8-4-4-4-12 hexadecimal digits, such as "
			     "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
			     uuid ? uuid : "(null)");
}

HOSTDEV_EXPORT int hostdev_vfio_persist_add_mdev(hostdev_ctx *ctx, const char *parent,
						 const char *type, const char *uuid)
{
	struct mdev_change c = {0};
	hostdev_mdev_types *types = NULL;
	bool offered = false;
	int r;

	if (!ctx || !parent || !type)
		return -EINVAL;
	if (!persist_canonical_uuid(uuid, c.entry.uuid))
		return invalid_uuid(ctx, uuid);
	r = hostdev_mdev_types_read(ctx, parent, &types);
	if (r < 0)
		return r;
	for (size_t i = 0; i < hostdev_mdev_types_get_count(types); i++)
		offered |= strcmp(hostdev_mdev_types_get_type(types, i), type) == 0;
	hostdev_mdev_types_unref(types);
	if (!offered)
		return hostdev_error(ctx, -ENOENT,
				     "%s offers no mdev type '%s' (see hostdev_mdev_types_read())",
				     parent, type);
	c.entry.parent = persist_canonical_parent(parent);
	c.entry.type = strdup(type);
	r = c.entry.parent && c.entry.type ? persist_edit(ctx, change_mdev, &c) : -ENOMEM;
	mdev_entry_clear(&c.entry);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_remove_mdev(hostdev_ctx *ctx, const char *uuid)
{
	struct mdev_change c = {.remove = true};

	if (!ctx)
		return -EINVAL;
	if (!persist_canonical_uuid(uuid, c.entry.uuid))
		return invalid_uuid(ctx, uuid);
	return persist_edit(ctx, change_mdev, &c);
}

HOSTDEV_EXPORT size_t hostdev_vfio_persist_get_vfs_count(const hostdev_vfio_persist *list)
{
	return list ? list->vfs_count : 0;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_vfs_pf(const hostdev_vfio_persist *list,
							   size_t index)
{
	return list && index < list->vfs_count ? list->vfs[index].pf : NULL;
}

HOSTDEV_EXPORT unsigned int hostdev_vfio_persist_get_vfs_num(const hostdev_vfio_persist *list,
							     size_t index)
{
	return list && index < list->vfs_count ? list->vfs[index].num_vfs : 0;
}

HOSTDEV_EXPORT unsigned int hostdev_vfio_persist_get_vfs_autoprobe(const hostdev_vfio_persist *list,
								   size_t index)
{
	return list && index < list->vfs_count ? list->vfs[index].autoprobe
					       : HOSTDEV_SRIOV_AUTOPROBE_KEEP;
}

HOSTDEV_EXPORT size_t hostdev_vfio_persist_get_mdev_count(const hostdev_vfio_persist *list)
{
	return list ? list->mdev_count : 0;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_mdev_parent(const hostdev_vfio_persist *list,
								size_t index)
{
	return list && index < list->mdev_count ? list->mdevs[index].parent : NULL;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_mdev_type(const hostdev_vfio_persist *list,
							      size_t index)
{
	return list && index < list->mdev_count ? list->mdevs[index].type : NULL;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_mdev_uuid(const hostdev_vfio_persist *list,
							      size_t index)
{
	return list && index < list->mdev_count ? list->mdevs[index].uuid : NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* vGPU types of VFs (version 3) */

struct vgpu_change {
	struct vgpu_entry entry; /* name owned until added */
	bool remove;
};

static int change_vgpu(hostdev_ctx *ctx, hostdev_vfio_persist *list, void *data)
{
	struct vgpu_change *c = data;
	struct vgpu_entry *grown;

	/* A VF with a type stays on nvidia: a binding of it could never be applied with it. */
	for (size_t i = 0; !c->remove && i < list->count; i++)
		if (strcmp(list->entries[i].address, c->entry.vf) == 0)
			return hostdev_error(
			    ctx, -EBUSY,
			    "%s: the persistent list %s binds it to vfio-pci, and a VF that holds a "
			    "vGPU type stays on the nvidia driver: remove the device entry first "
			    "(hostdev_vfio_persist_remove())",
			    c->entry.vf, list->path);
	for (size_t i = 0; i < list->vgpu_count; i++) {
		if (strcmp(list->vgpus[i].vf, c->entry.vf) != 0)
			continue;
		free(list->vgpus[i].name);
		if (c->remove)
			memmove(&list->vgpus[i], &list->vgpus[i + 1],
				(list->vgpu_count-- - i - 1) * sizeof(*list->vgpus));
		else
			list->vgpus[i] = c->entry;
		c->entry.name = NULL;
		return c->remove ? 0 : 1;
	}
	if (c->remove)
		return hostdev_error(ctx, -ENOENT,
				     "%s: no vGPU type for it in the persistent list %s",
				     c->entry.vf, list->path);
	grown = realloc(list->vgpus, (list->vgpu_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	list->vgpus = grown;
	list->vgpus[list->vgpu_count++] = c->entry;
	c->entry.name = NULL;
	qsort(list->vgpus, list->vgpu_count, sizeof(*list->vgpus), persist_compare_vgpus);
	return 0;
}

/*
 * Check that @vf is a vGPU-capable VF that holds @type or can take it now, and fill @e with its
 * ids and the type's name.
 */
static int vgpu_entry_from_vf(hostdev_ctx *ctx, const char *vf, unsigned int type,
			      struct vgpu_entry *e)
{
	hostdev_vgpu_list *vgpus = NULL;
	hostdev_pci_device *dev;
	const char *name = NULL;
	bool held;
	int r;

	r = hostdev_pci_device_new(ctx, vf, &dev);
	if (r < 0)
		return r;
	snprintf(e->vf, sizeof(e->vf), "%s", hostdev_pci_device_get_address(dev));
	e->vendor_id = hostdev_pci_device_get_vendor_id(dev);
	e->device_id = hostdev_pci_device_get_device_id(dev);
	hostdev_pci_device_unref(dev);
	r = hostdev_vgpu_read(ctx, e->vf, &vgpus);
	if (r < 0)
		return r;
	if (hostdev_vgpu_list_get_count(vgpus) != 1 ||
	    strcmp(hostdev_vgpu_list_get_address(vgpus, 0), e->vf) != 0) {
		hostdev_vgpu_list_unref(vgpus);
		return hostdev_error(ctx, -EINVAL,
				     "%s: is a GPU (an SR-IOV PF); vGPU types belong to its VFs: "
				     "name the VF (see hostdev_vgpu_read())",
				     e->vf);
	}
	held = hostdev_vgpu_list_get_current_type(vgpus, 0) == type;
	if (held)
		name = hostdev_vgpu_list_get_current_name(vgpus, 0);
	for (size_t k = 0; !held && k < hostdev_vgpu_list_get_type_count(vgpus, 0); k++)
		if (hostdev_vgpu_list_get_type_id(vgpus, 0, k) == type)
			name = hostdev_vgpu_list_get_type_name(vgpus, 0, k);
	if (!held && !name) {
		r = hostdev_error(
		    ctx, -ENOENT,
		    "%s neither holds vGPU type %u nor can take it now (see "
		    "hostdev_vgpu_read() for the types it can take): only a type the VF "
		    "holds or can take is recorded",
		    e->vf, type);
		hostdev_vgpu_list_unref(vgpus);
		return r;
	}
	e->type = type;
	e->name = name ? strdup(name) : NULL;
	hostdev_vgpu_list_unref(vgpus);
	return name && !e->name ? -ENOMEM : 0;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_add_vgpu(hostdev_ctx *ctx, const char *vf,
						 unsigned int type_id)
{
	struct vgpu_change c = {0};
	int r;

	if (!ctx || !vf)
		return -EINVAL;
	if (type_id == 0)
		return hostdev_error(
		    ctx, -EINVAL,
		    "%s: vGPU type 0 means no type: every boot gives that; to stop "
		    "setting a type, remove the entry "
		    "(hostdev_vfio_persist_remove_vgpu())",
		    vf);
	r = vgpu_entry_from_vf(ctx, vf, type_id, &c.entry);
	if (r == 0)
		r = persist_edit(ctx, change_vgpu, &c);
	free(c.entry.name);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_remove_vgpu(hostdev_ctx *ctx, const char *vf)
{
	struct vgpu_change c = {.remove = true};
	struct hostdev_pci_address a;
	int r;

	if (!ctx)
		return -EINVAL;
	r = pci_address_parse_or_explain(ctx, NULL, vf, &a, c.entry.vf);
	if (r < 0)
		return r;
	return persist_edit(ctx, change_vgpu, &c);
}

HOSTDEV_EXPORT size_t hostdev_vfio_persist_get_vgpu_count(const hostdev_vfio_persist *list)
{
	return list ? list->vgpu_count : 0;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_vgpu_vf(const hostdev_vfio_persist *list,
							    size_t index)
{
	return list && index < list->vgpu_count ? list->vgpus[index].vf : NULL;
}

HOSTDEV_EXPORT unsigned int hostdev_vfio_persist_get_vgpu_type(const hostdev_vfio_persist *list,
							       size_t index)
{
	return list && index < list->vgpu_count ? list->vgpus[index].type : 0;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_vgpu_name(const hostdev_vfio_persist *list,
							      size_t index)
{
	return list && index < list->vgpu_count ? list->vgpus[index].name : NULL;
}
