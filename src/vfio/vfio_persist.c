/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Persistence across host reboots: a declarative list of devices that must be on vfio-pci
 * (<config>/vfio-devices.json), applied at boot by `hostdev apply` (a systemd unit ordered before
 * the kubelet, examples/systemd/), and the OpenShift-style modprobe.d alternative.
 *
 * Each entry records the device's vendor:device ids when it was added, so that apply refuses to
 * bind a different card that now sits at the same address (a NIC moved to another slot must not
 * take the host's new NIC with it). Edits run under the vfio lock and replace the file atomically.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "pci/pci.h"
#include "vfio.h"

#define PERSIST_FORMAT "libhostdev-vfio-devices"
#define PERSIST_VERSION 1

struct entry {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	unsigned int flags;
	unsigned int vendor_id, device_id;
};

struct hostdev_vfio_persist {
	int refcount;
	char *path;
	struct entry *entries;
	size_t count;
};

static int persist_path(hostdev_ctx *ctx, char *buf, size_t size)
{
	if (path_join(buf, size, ctx->paths[HOSTDEV_PATH_CONFIG], VFIO_PERSIST_FILE) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "config path %s is too long",
				     ctx->paths[HOSTDEV_PATH_CONFIG]);
	return 0;
}

static int parse_hex_id(const cJSON *item, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!cJSON_IsString(item) || !item->valuestring[0])
		return -EBADMSG;
	v = strtoul(item->valuestring, &end, 16);
	if (*end || v > 0xffff)
		return -EBADMSG;
	*out = (unsigned int)v;
	return 0;
}

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->address, ((const struct entry *)b)->address);
}

/* Load the list from the open configuration directory @config; a missing file is empty. */
static int load(hostdev_ctx *ctx, const struct vfio_dir *config, hostdev_vfio_persist *list)
{
	const cJSON *devices, *item, *d;
	cJSON *doc;
	char *text, where[128];
	size_t len, n = 0;
	int r;

	r = vfio_file_read(ctx, config, VFIO_PERSIST_FILE, "persistent device list", &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	doc = cJSON_ParseWithLength(text, len);
	/* cJSON would cut a string at an escaped NUL ("0000:01:00.0\u0000x" read back as a valid
	 * address): refuse the document, naming where. */
	if (doc && json_find_nul_escape(text, len, where, sizeof(where))) {
		free(text);
		cJSON_Delete(doc);
		return hostdev_error(ctx, -EBADMSG,
				     "%s has \\u0000 (a NUL character) in %s: fix it or move it "
				     "aside; nothing was changed",
				     list->path, where);
	}
	free(text);
	item = cJSON_GetObjectItemCaseSensitive(doc, "format");
	devices = cJSON_GetObjectItemCaseSensitive(doc, "devices");
	if (!doc || !cJSON_IsString(item) || strcmp(item->valuestring, PERSIST_FORMAT) != 0 ||
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "version")) ||
	    cJSON_GetObjectItemCaseSensitive(doc, "version")->valuedouble != PERSIST_VERSION ||
	    !cJSON_IsArray(devices)) {
		cJSON_Delete(doc);
		return hostdev_error(ctx, -EBADMSG,
				     "%s is not a valid libhostdev device list (format/version/"
				     "devices): fix it or move it aside; nothing was changed",
				     list->path);
	}
	list->entries = calloc((size_t)cJSON_GetArraySize(devices) + 1, sizeof(*list->entries));
	if (!list->entries) {
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(d, devices)
	{
		struct entry *e = &list->entries[n];
		const cJSON *addr = cJSON_GetObjectItemCaseSensitive(d, "address");
		const cJSON *group = cJSON_GetObjectItemCaseSensitive(d, "group");
		const cJSON *force = cJSON_GetObjectItemCaseSensitive(d, "force");
		struct hostdev_pci_address a;

		if (!cJSON_IsString(addr) || hostdev_pci_address_parse(addr->valuestring, &a) < 0 ||
		    parse_hex_id(cJSON_GetObjectItemCaseSensitive(d, "vendor_id"), &e->vendor_id) <
			0 ||
		    parse_hex_id(cJSON_GetObjectItemCaseSensitive(d, "device_id"), &e->device_id) <
			0 ||
		    (group && !cJSON_IsBool(group)) || (force && !cJSON_IsBool(force))) {
			cJSON_Delete(doc);
			return hostdev_error(ctx, -EBADMSG,
					     "%s: entry %zu is invalid (address, vendor_id, "
					     "device_id, group, force): fix it or remove it",
					     list->path, n);
		}
		hostdev_pci_address_format(&a, e->address, sizeof(e->address));
		e->flags = (cJSON_IsTrue(group) ? HOSTDEV_BIND_GROUP : 0) |
			   (cJSON_IsTrue(force) ? HOSTDEV_BIND_FORCE : 0);
		n++;
	}
	cJSON_Delete(doc);
	list->count = n;
	qsort(list->entries, list->count, sizeof(*list->entries), compare_entries);
	return 0;
}

static int store(hostdev_ctx *ctx, const struct vfio_dir *config, const hostdev_vfio_persist *list)
{
	cJSON *doc = cJSON_CreateObject(), *devices;
	char *text = NULL, *with_nl;
	int r = -ENOMEM;

	if (!doc || !cJSON_AddStringToObject(doc, "format", PERSIST_FORMAT) ||
	    !cJSON_AddNumberToObject(doc, "version", PERSIST_VERSION) ||
	    !(devices = cJSON_AddArrayToObject(doc, "devices")))
		goto out;
	for (size_t i = 0; i < list->count; i++) {
		const struct entry *e = &list->entries[i];
		cJSON *o = cJSON_CreateObject();
		char vid[8], did[8];

		if (!o)
			goto out;
		cJSON_AddItemToArray(devices, o);
		snprintf(vid, sizeof(vid), "%04x", e->vendor_id);
		snprintf(did, sizeof(did), "%04x", e->device_id);
		if (!cJSON_AddStringToObject(o, "address", e->address) ||
		    !cJSON_AddStringToObject(o, "vendor_id", vid) ||
		    !cJSON_AddStringToObject(o, "device_id", did) ||
		    !cJSON_AddBoolToObject(o, "group", (e->flags & HOSTDEV_BIND_GROUP) != 0) ||
		    !cJSON_AddBoolToObject(o, "force", (e->flags & HOSTDEV_BIND_FORCE) != 0))
			goto out;
	}
	text = cJSON_Print(doc);
	if (!text || asprintf(&with_nl, "%s\n", text) < 0)
		goto out;
	r = vfio_file_replace(ctx, config, VFIO_PERSIST_FILE, with_nl, strlen(with_nl), 0644);
	free(with_nl);
out:
	free(text);
	cJSON_Delete(doc);
	return r;
}

static hostdev_vfio_persist *list_new(hostdev_ctx *ctx)
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

static int open_config(hostdev_ctx *ctx, enum vfio_dir_mode mode, struct vfio_dir *config)
{
	return vfio_dir_open(ctx, ctx->paths[HOSTDEV_PATH_CONFIG], "configuration directory", mode,
			     config);
}

/* Load @list without the lock: the file is only ever replaced by rename(2). */
static int read_list(hostdev_ctx *ctx, hostdev_vfio_persist *list)
{
	struct vfio_dir config;
	int r = open_config(ctx, VFIO_DIR_READ, &config);

	if (r < 0)
		return r;
	r = load(ctx, &config, list);
	vfio_dir_close(&config);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_read(hostdev_ctx *ctx, hostdev_vfio_persist **out)
{
	hostdev_vfio_persist *list;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	list = list_new(ctx);
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
	r = open_config(ctx, VFIO_DIR_WRITE, &config);
	if (r < 0)
		goto out;
	list = list_new(ctx);
	r = list ? load(ctx, &config, list) : -ENOMEM;
	if (r < 0)
		goto out;
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
	qsort(list->entries, list->count, sizeof(*list->entries), compare_entries);
	r = store(ctx, &config, list);
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
	r = open_config(ctx, VFIO_DIR_WRITE, &config);
	if (r == 0) {
		list = list_new(ctx);
		r = list ? load(ctx, &config, list) : -ENOMEM;
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
		r = store(ctx, &config, list);
	vfio_dir_close(&config);
	vfio_state_unlock(&state);
	hostdev_vfio_persist_unref(list);
	return r;
}

/* What _unref() does when the last reference goes. */
static void vfio_persist_destroy(hostdev_vfio_persist *list)
{
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
	char failures[HOSTDEV_ERROR_MAX] = "";
	struct vfio_state state;
	int r, first_error = 0, bound = 0, nfailed = 0;

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
	if (list->count == 0) {
		hostdev_vfio_persist_unref(list);
		return 0;
	}
	r = vfio_state_lock(ctx, o.lock_timeout_ms, &state);
	if (r < 0) {
		hostdev_vfio_persist_unref(list);
		return r;
	}
	for (size_t i = 0; i < list->count; i++) {
		r = apply_entry(ctx, &state, &list->entries[i], &o);
		if (r >= 0) {
			bound += r;
			continue;
		}
		if (!first_error)
			first_error = r;
		nfailed++;
		snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures), "%s%s",
			 nfailed > 1 ? " | " : "", hostdev_ctx_get_error(ctx));
	}
	vfio_state_unlock(&state);
	hostdev_vfio_persist_unref(list);
	if (first_error) {
		char copy[HOSTDEV_ERROR_MAX];

		snprintf(copy, sizeof(copy), "%s", failures);
		return hostdev_error(ctx, first_error, "%d of the listed devices failed: %s",
				     nfailed, copy);
	}
	return bound;
}
