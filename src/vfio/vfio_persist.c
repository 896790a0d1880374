/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The persistent device list (vfio_persist.h): the object, its device bindings, and reading and
 * editing it. Edits run under the vfio lock and replace the file atomically.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci.h"
#include "vfio_persist.h"

static int persist_path(hostdev_ctx *ctx, char *buf, size_t size)
{
	if (path_join(buf, size, ctx->paths[HOSTDEV_PATH_CONFIG], VFIO_PERSIST_FILE) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "config path %s is too long",
				     ctx->paths[HOSTDEV_PATH_CONFIG]);
	return 0;
}

int persist_compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->address, ((const struct entry *)b)->address);
}

hostdev_vfio_persist *persist_list_new(hostdev_ctx *ctx)
{
	hostdev_vfio_persist *list = calloc(1, sizeof(*list));
	char path[PATH_MAX];

	if (!list)
		return NULL;
	list->refcount = 1;
	if (persist_path(ctx, path, sizeof(path)) < 0 || !(list->path = strdup(path))) {
		free(list);
		return NULL;
	}
	return list;
}

int persist_open_config(hostdev_ctx *ctx, enum vfio_dir_mode mode, struct vfio_dir *config)
{
	return vfio_dir_open(ctx, ctx->paths[HOSTDEV_PATH_CONFIG], "configuration directory", mode,
			     config);
}

/* Load @list without the lock: the file is only ever replaced by rename(2). */
static int read_list(hostdev_ctx *ctx, hostdev_vfio_persist *list)
{
	struct vfio_dir config;
	int r = persist_open_config(ctx, VFIO_DIR_READ, &config);

	if (r < 0)
		return r;
	r = persist_load(ctx, &config, list);
	vfio_dir_close(&config);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_read(hostdev_ctx *ctx, hostdev_vfio_persist **out)
{
	hostdev_vfio_persist *list;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	list = persist_list_new(ctx);
	if (!list)
		return -ENOMEM;
	r = read_list(ctx, list);
	if (r < 0) {
		hostdev_vfio_persist_unref(list);
		return r;
	}
	*out = list;
	return 0;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_add(hostdev_ctx *ctx, const char *address,
					    unsigned int flags)
{
	const unsigned int known = HOSTDEV_BIND_GROUP | HOSTDEV_BIND_FORCE;
	struct vfio_state state;
	struct vfio_dir config = {.fd = -1};
	hostdev_vfio_persist *list = NULL;
	hostdev_pci_device *dev;
	struct entry *e = NULL;
	int r, existed = 0;

	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, known, "unknown");
	r = hostdev_pci_device_new(ctx, address, &dev);
	if (r < 0)
		return r;
	if (hostdev_pci_device_is_bridge(dev)) {
		hostdev_pci_device_unref(dev);
		return hostdev_error(ctx, -EINVAL,
				     "%s: is a PCI bridge; bridges stay with the host", address);
	}
	r = vfio_state_lock(ctx, HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS, &state);
	if (r < 0) {
		hostdev_pci_device_unref(dev);
		return r;
	}
	r = persist_open_config(ctx, VFIO_DIR_WRITE, &config);
	if (r < 0)
		goto out;
	list = persist_list_new(ctx);
	r = list ? persist_load(ctx, &config, list) : -ENOMEM;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < list->vgpu_count; i++)
		if (strcmp(list->vgpus[i].vf, hostdev_pci_device_get_address(dev)) == 0) {
			r = hostdev_error(
			    ctx, -EBUSY,
			    "%s: the persistent list %s gives it vGPU type %u, and a VF that holds a "
			    "vGPU type stays on the nvidia driver: remove that entry first "
			    "(hostdev_vfio_persist_remove_vgpu())",
			    list->vgpus[i].vf, list->path, list->vgpus[i].type);
			goto out;
		}
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->entries[i].address, hostdev_pci_device_get_address(dev)) == 0)
			e = &list->entries[i];
	if (e) {
		existed = 1;
	} else {
		struct entry *entries =
		    realloc(list->entries, (list->count + 1) * sizeof(*entries));

		if (!entries) {
			r = -ENOMEM;
			goto out;
		}
		list->entries = entries;
		e = &list->entries[list->count++];
		snprintf(e->address, sizeof(e->address), "%s", hostdev_pci_device_get_address(dev));
	}
	e->flags = flags;
	e->vendor_id = hostdev_pci_device_get_vendor_id(dev);
	e->device_id = hostdev_pci_device_get_device_id(dev);
	qsort(list->entries, list->count, sizeof(*list->entries), persist_compare_entries);
	r = persist_store(ctx, &config, list);
out:
	vfio_dir_close(&config);
	vfio_state_unlock(&state);
	hostdev_vfio_persist_unref(list);
	hostdev_pci_device_unref(dev);
	return r < 0 ? r : existed;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_remove(hostdev_ctx *ctx, const char *address)
{
	struct hostdev_pci_address a;
	char canonical[HOSTDEV_PCI_ADDRESS_MAX];
	struct vfio_state state;
	struct vfio_dir config = {.fd = -1};
	hostdev_vfio_persist *list = NULL;
	bool found = false;
	int r;

	if (!ctx)
		return -EINVAL;
	r = pci_address_parse_or_explain(ctx, NULL, address, &a, canonical);
	if (r < 0)
		return r;
	r = vfio_state_lock(ctx, HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS, &state);
	if (r < 0)
		return r;
	r = persist_open_config(ctx, VFIO_DIR_WRITE, &config);
	if (r == 0) {
		list = persist_list_new(ctx);
		r = list ? persist_load(ctx, &config, list) : -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < list->count; i++) {
		if (strcmp(list->entries[i].address, canonical) == 0) {
			memmove(&list->entries[i], &list->entries[i + 1],
				(list->count - i - 1) * sizeof(*list->entries));
			list->count--;
			found = true;
			break;
		}
	}
	if (r == 0 && !found)
		r = hostdev_error(ctx, -ENOENT, "%s: not in the persistent list %s", canonical,
				  list->path);
	if (r == 0)
		r = persist_store(ctx, &config, list);
	vfio_dir_close(&config);
	vfio_state_unlock(&state);
	hostdev_vfio_persist_unref(list);
	return r;
}

/* What _unref() does when the last reference goes. */
static void vfio_persist_destroy(hostdev_vfio_persist *list)
{
	for (size_t i = 0; i < list->mdev_count; i++) {
		free(list->mdevs[i].parent);
		free(list->mdevs[i].type);
	}
	free(list->mdevs);
	for (size_t i = 0; i < list->vgpu_count; i++)
		free(list->vgpus[i].name);
	free(list->vgpus);
	free(list->vfs);
	free(list->entries);
	free(list->path);
	free(list);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_vfio_persist, vfio_persist_destroy)

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_path(const hostdev_vfio_persist *list)
{
	return list ? list->path : NULL;
}

HOSTDEV_EXPORT size_t hostdev_vfio_persist_get_count(const hostdev_vfio_persist *list)
{
	return list ? list->count : 0;
}

static const struct entry *entry_at(const hostdev_vfio_persist *list, size_t index)
{
	return list && index < list->count ? &list->entries[index] : NULL;
}

HOSTDEV_EXPORT const char *hostdev_vfio_persist_get_address(const hostdev_vfio_persist *list,
							    size_t index)
{
	const struct entry *e = entry_at(list, index);

	return e ? e->address : NULL;
}

HOSTDEV_EXPORT unsigned int hostdev_vfio_persist_get_flags(const hostdev_vfio_persist *list,
							   size_t index)
{
	const struct entry *e = entry_at(list, index);

	return e ? e->flags : 0;
}

HOSTDEV_EXPORT unsigned int hostdev_vfio_persist_get_vendor_id(const hostdev_vfio_persist *list,
							       size_t index)
{
	const struct entry *e = entry_at(list, index);

	return e ? e->vendor_id : 0;
}

HOSTDEV_EXPORT unsigned int hostdev_vfio_persist_get_device_id(const hostdev_vfio_persist *list,
							       size_t index)
{
	const struct entry *e = entry_at(list, index);

	return e ? e->device_id : 0;
}

/* Load the list under the vfio lock, let @change edit it, store it when @change succeeded. */
int persist_edit(hostdev_ctx *ctx, int (*change)(hostdev_ctx *, hostdev_vfio_persist *, void *),
		 void *data)
{
	struct vfio_state state;
	struct vfio_dir config = {.fd = -1};
	hostdev_vfio_persist *list = NULL;
	int r, w;

	r = vfio_state_lock(ctx, HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS, &state);
	if (r < 0)
		return r;
	r = persist_open_config(ctx, VFIO_DIR_WRITE, &config);
	if (r == 0) {
		list = persist_list_new(ctx);
		r = list ? persist_load(ctx, &config, list) : -ENOMEM;
	}
	if (r == 0)
		r = change(ctx, list, data);
	if (r >= 0 && (w = persist_store(ctx, &config, list)) < 0)
		r = w;
	vfio_dir_close(&config);
	vfio_state_unlock(&state);
	hostdev_vfio_persist_unref(list);
	return r;
}
