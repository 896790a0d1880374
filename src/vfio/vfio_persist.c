/* SPDX-License-Identifier: Apache-2.0 */
/*
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
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hostdev/mdev.h>
#include <hostdev/sriov.h>
#include <hostdev/vgpu.h>

#include "core/core.h"
#include "pci/pci.h"
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

/* The words of the file for enum hostdev_sriov_autoprobe. */
static const char *const autoprobe_words[] = {
    [HOSTDEV_SRIOV_AUTOPROBE_KEEP] = "keep",
    [HOSTDEV_SRIOV_AUTOPROBE_OFF] = "off",
    [HOSTDEV_SRIOV_AUTOPROBE_ON] = "on",
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

/* The "vfs" array of a version 2 file (absent = none). */
static int load_vfs(hostdev_ctx *ctx, hostdev_vfio_persist *list, const cJSON *vfs)
{
	const cJSON *v;
	size_t n = 0;

	if (!vfs)
		return 0;
	if (!cJSON_IsArray(vfs))
		return hostdev_error(ctx, -EBADMSG,
				     "%s: \"vfs\" is not an array: fix it or move the file aside",
				     list->path);
	list->vfs = calloc((size_t)cJSON_GetArraySize(vfs) + 1, sizeof(*list->vfs));
	if (!list->vfs)
		return -ENOMEM;
	cJSON_ArrayForEach(v, vfs)
	{
		struct vfs_entry *e = &list->vfs[n];
		const cJSON *pf = cJSON_GetObjectItemCaseSensitive(v, "pf");
		const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "num_vfs");
		const cJSON *autoprobe = cJSON_GetObjectItemCaseSensitive(v, "autoprobe");
		struct hostdev_pci_address a;
		bool known_autoprobe = false;

		for (size_t i = 0; cJSON_IsString(autoprobe) && i < ARRAY_SIZE(autoprobe_words);
		     i++)
			if (strcmp(autoprobe->valuestring, autoprobe_words[i]) == 0) {
				e->autoprobe = (unsigned int)i;
				known_autoprobe = true;
			}
		if (!cJSON_IsString(pf) || hostdev_pci_address_parse(pf->valuestring, &a) < 0 ||
		    parse_hex_id(cJSON_GetObjectItemCaseSensitive(v, "vendor_id"), &e->vendor_id) <
			0 ||
		    parse_hex_id(cJSON_GetObjectItemCaseSensitive(v, "device_id"), &e->device_id) <
			0 ||
		    !cJSON_IsNumber(num) || num->valuedouble < 1 || num->valuedouble > 65535 ||
		    num->valuedouble != (double)(unsigned int)num->valuedouble || !known_autoprobe)
			return hostdev_error(
			    ctx, -EBADMSG,
			    "%s: vfs entry %zu is invalid (pf, vendor_id, device_id, "
			    "num_vfs 1-65535, autoprobe keep/off/on): fix it or "
			    "remove it",
			    list->path, n);
		hostdev_pci_address_format(&a, e->pf, sizeof(e->pf));
		e->num_vfs = (unsigned int)num->valuedouble;
		n++;
	}
	list->vfs_count = n;
	return 0;
}

/* A UUID in canonical (lower-case) form into @out; false when @text is not one. */
static bool canonical_uuid(const char *text, char out[HOSTDEV_MDEV_UUID_MAX])
{
	if (!text || strlen(text) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
			return false;
		out[i] = (char)tolower((unsigned char)text[i]);
	}
	out[36] = '\0';
	return true;
}

/* A parent as the mdev API names it: a PCI address in canonical form, else the name unchanged. */
static char *canonical_parent(const char *parent)
{
	struct hostdev_pci_address a;
	char address[HOSTDEV_PCI_ADDRESS_MAX];

	if (hostdev_pci_address_parse(parent, &a) == 0 &&
	    hostdev_pci_address_format(&a, address, sizeof(address)) > 0)
		return strdup(address);
	return strdup(parent);
}

/* The "mdevs" array of a version 2 file (absent = none). */
static int load_mdevs(hostdev_ctx *ctx, hostdev_vfio_persist *list, const cJSON *mdevs)
{
	const cJSON *m;

	if (!mdevs)
		return 0;
	if (!cJSON_IsArray(mdevs))
		return hostdev_error(ctx, -EBADMSG,
				     "%s: \"mdevs\" is not an array: fix it or move the file aside",
				     list->path);
	list->mdevs = calloc((size_t)cJSON_GetArraySize(mdevs) + 1, sizeof(*list->mdevs));
	if (!list->mdevs)
		return -ENOMEM;
	cJSON_ArrayForEach(m, mdevs)
	{
		struct mdev_entry *e = &list->mdevs[list->mdev_count];
		const cJSON *parent = cJSON_GetObjectItemCaseSensitive(m, "parent");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
		const cJSON *uuid = cJSON_GetObjectItemCaseSensitive(m, "uuid");

		if (!cJSON_IsString(parent) || !parent->valuestring[0] ||
		    strchr(parent->valuestring, '/') || !cJSON_IsString(type) ||
		    !type->valuestring[0] || strchr(type->valuestring, '/') ||
		    !cJSON_IsString(uuid) || !canonical_uuid(uuid->valuestring, e->uuid))
			return hostdev_error(ctx, -EBADMSG,
					     "%s: mdevs entry %zu is invalid (parent, type, uuid): "
					     "fix it or remove it",
					     list->path, list->mdev_count);
		e->parent = canonical_parent(parent->valuestring);
		e->type = strdup(type->valuestring);
		list->mdev_count++;
		if (!e->parent || !e->type)
			return -ENOMEM;
	}
	return 0;
}

static int compare_vgpus(const void *a, const void *b)
{
	return strcmp(((const struct vgpu_entry *)a)->vf, ((const struct vgpu_entry *)b)->vf);
}

/* The "vgpus" array of a version 3 file (absent = none). */
static int load_vgpus(hostdev_ctx *ctx, hostdev_vfio_persist *list, const cJSON *vgpus)
{
	const cJSON *v;

	if (!vgpus)
		return 0;
	if (!cJSON_IsArray(vgpus))
		return hostdev_error(ctx, -EBADMSG,
				     "%s: \"vgpus\" is not an array: fix it or move the file aside",
				     list->path);
	list->vgpus = calloc((size_t)cJSON_GetArraySize(vgpus) + 1, sizeof(*list->vgpus));
	if (!list->vgpus)
		return -ENOMEM;
	cJSON_ArrayForEach(v, vgpus)
	{
		struct vgpu_entry *e = &list->vgpus[list->vgpu_count];
		const cJSON *vf = cJSON_GetObjectItemCaseSensitive(v, "vf");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
		struct hostdev_pci_address a;

		if (!cJSON_IsString(vf) || hostdev_pci_address_parse(vf->valuestring, &a) < 0 ||
		    parse_hex_id(cJSON_GetObjectItemCaseSensitive(v, "vendor_id"), &e->vendor_id) <
			0 ||
		    parse_hex_id(cJSON_GetObjectItemCaseSensitive(v, "device_id"), &e->device_id) <
			0 ||
		    !cJSON_IsNumber(type) || type->valuedouble < 1 ||
		    type->valuedouble > 4294967295.0 ||
		    type->valuedouble != (double)(unsigned int)type->valuedouble ||
		    (name && !cJSON_IsNull(name) && !cJSON_IsString(name)))
			return hostdev_error(ctx, -EBADMSG,
					     "%s: vgpus entry %zu is invalid (vf, vendor_id, "
					     "device_id, type > 0, name): fix it or remove it",
					     list->path, list->vgpu_count);
		hostdev_pci_address_format(&a, e->vf, sizeof(e->vf));
		e->type = (unsigned int)type->valuedouble;
		list->vgpu_count++;
		if (cJSON_IsString(name) && !(e->name = strdup(name->valuestring)))
			return -ENOMEM;
	}
	qsort(list->vgpus, list->vgpu_count, sizeof(*list->vgpus), compare_vgpus);
	return 0;
}

/* Load the list from the open configuration directory @config; a missing file is empty. */
static int load(hostdev_ctx *ctx, const struct vfio_dir *config, hostdev_vfio_persist *list)
{
	const cJSON *devices, *item, *d, *version;
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
	version = cJSON_GetObjectItemCaseSensitive(doc, "version");
	if (!doc || !cJSON_IsString(item) || strcmp(item->valuestring, PERSIST_FORMAT) != 0 ||
	    !cJSON_IsNumber(version) || !cJSON_IsArray(devices)) {
		cJSON_Delete(doc);
		return hostdev_error(ctx, -EBADMSG,
				     "%s is not a valid libhostdev device list (format/version/"
				     "devices): fix it or move it aside; nothing was changed",
				     list->path);
	}
	if (version->valuedouble != PERSIST_VERSION_BINDINGS &&
	    version->valuedouble != PERSIST_VERSION_EXTRAS &&
	    version->valuedouble != PERSIST_VERSION) {
		double found = version->valuedouble; /* version goes with doc */

		cJSON_Delete(doc);
		return hostdev_error(
		    ctx, -EBADMSG,
		    "%s has version %g; this libhostdev reads versions %d to %d: "
		    "it was written by a newer libhostdev, update this one; nothing "
		    "was changed",
		    list->path, found, PERSIST_VERSION_BINDINGS, PERSIST_VERSION);
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
	list->count = n;
	qsort(list->entries, list->count, sizeof(*list->entries), compare_entries);
	r = 0;
	if (version->valuedouble >= PERSIST_VERSION_EXTRAS)
		r = load_vfs(ctx, list, cJSON_GetObjectItemCaseSensitive(doc, "vfs"));
	if (r == 0 && version->valuedouble >= PERSIST_VERSION_EXTRAS)
		r = load_mdevs(ctx, list, cJSON_GetObjectItemCaseSensitive(doc, "mdevs"));
	if (r == 0 && version->valuedouble == PERSIST_VERSION)
		r = load_vgpus(ctx, list, cJSON_GetObjectItemCaseSensitive(doc, "vgpus"));
	cJSON_Delete(doc);
	return r;
}

/* The "vgpus" array of version 3. False when out of memory. */
static bool store_vgpus(cJSON *doc, const hostdev_vfio_persist *list)
{
	cJSON *vgpus = cJSON_AddArrayToObject(doc, "vgpus");

	if (!vgpus)
		return false;
	for (size_t i = 0; i < list->vgpu_count; i++) {
		const struct vgpu_entry *e = &list->vgpus[i];
		cJSON *o = cJSON_CreateObject();
		char vid[8], did[8];

		if (!o)
			return false;
		cJSON_AddItemToArray(vgpus, o);
		snprintf(vid, sizeof(vid), "%04x", e->vendor_id);
		snprintf(did, sizeof(did), "%04x", e->device_id);
		if (!cJSON_AddStringToObject(o, "vf", e->vf) ||
		    !cJSON_AddStringToObject(o, "vendor_id", vid) ||
		    !cJSON_AddStringToObject(o, "device_id", did) ||
		    !cJSON_AddNumberToObject(o, "type", e->type) ||
		    !(e->name ? cJSON_AddStringToObject(o, "name", e->name)
			      : cJSON_AddNullToObject(o, "name")))
			return false;
	}
	return true;
}

/* The "vfs" and "mdevs" arrays of version 2. False when out of memory. */
static bool store_extras(cJSON *doc, const hostdev_vfio_persist *list)
{
	cJSON *vfs = cJSON_AddArrayToObject(doc, "vfs"),
	      *mdevs = cJSON_AddArrayToObject(doc, "mdevs");

	if (!vfs || !mdevs)
		return false;
	for (size_t i = 0; i < list->vfs_count; i++) {
		const struct vfs_entry *e = &list->vfs[i];
		cJSON *o = cJSON_CreateObject();
		char vid[8], did[8];

		if (!o)
			return false;
		cJSON_AddItemToArray(vfs, o);
		snprintf(vid, sizeof(vid), "%04x", e->vendor_id);
		snprintf(did, sizeof(did), "%04x", e->device_id);
		if (!cJSON_AddStringToObject(o, "pf", e->pf) ||
		    !cJSON_AddStringToObject(o, "vendor_id", vid) ||
		    !cJSON_AddStringToObject(o, "device_id", did) ||
		    !cJSON_AddNumberToObject(o, "num_vfs", e->num_vfs) ||
		    !cJSON_AddStringToObject(o, "autoprobe", autoprobe_words[e->autoprobe]))
			return false;
	}
	for (size_t i = 0; i < list->mdev_count; i++) {
		const struct mdev_entry *e = &list->mdevs[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return false;
		cJSON_AddItemToArray(mdevs, o);
		if (!cJSON_AddStringToObject(o, "parent", e->parent) ||
		    !cJSON_AddStringToObject(o, "type", e->type) ||
		    !cJSON_AddStringToObject(o, "uuid", e->uuid))
			return false;
	}
	return true;
}

static int store(hostdev_ctx *ctx, const struct vfio_dir *config, const hostdev_vfio_persist *list)
{
	cJSON *doc = cJSON_CreateObject(), *devices;
	char *text = NULL, *with_nl;
	bool extras = list->vfs_count || list->mdev_count || list->vgpu_count;
	int version = list->vgpu_count ? PERSIST_VERSION
		      : extras	       ? PERSIST_VERSION_EXTRAS
				       : PERSIST_VERSION_BINDINGS;
	int r = -ENOMEM;

	if (!doc || !cJSON_AddStringToObject(doc, "format", PERSIST_FORMAT) ||
	    !cJSON_AddNumberToObject(doc, "version", version) ||
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
	if (extras && !store_extras(doc, list))
		goto out;
	if (list->vgpu_count && !store_vgpus(doc, list))
		goto out;
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

/* ---------------------------------------------------------------------------------------------- */
/* VF counts and mdevs (version 2) */

/* Load the list under the vfio lock, let @change edit it, store it when @change succeeded. */
static int edit(hostdev_ctx *ctx, int (*change)(hostdev_ctx *, hostdev_vfio_persist *, void *),
		void *data)
{
	struct vfio_state state;
	struct vfio_dir config = {.fd = -1};
	hostdev_vfio_persist *list = NULL;
	int r, w;

	r = vfio_state_lock(ctx, HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS, &state);
	if (r < 0)
		return r;
	r = open_config(ctx, VFIO_DIR_WRITE, &config);
	if (r == 0) {
		list = list_new(ctx);
		r = list ? load(ctx, &config, list) : -ENOMEM;
	}
	if (r == 0)
		r = change(ctx, list, data);
	if (r >= 0 && (w = store(ctx, &config, list)) < 0)
		r = w;
	vfio_dir_close(&config);
	vfio_state_unlock(&state);
	hostdev_vfio_persist_unref(list);
	return r;
}

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
	if (autoprobe >= ARRAY_SIZE(autoprobe_words))
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
	return edit(ctx, change_vfs, &c);
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
	return edit(ctx, change_vfs, &c);
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
	if (!canonical_uuid(uuid, c.entry.uuid))
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
	c.entry.parent = canonical_parent(parent);
	c.entry.type = strdup(type);
	r = c.entry.parent && c.entry.type ? edit(ctx, change_mdev, &c) : -ENOMEM;
	mdev_entry_clear(&c.entry);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_persist_remove_mdev(hostdev_ctx *ctx, const char *uuid)
{
	struct mdev_change c = {.remove = true};

	if (!ctx)
		return -EINVAL;
	if (!canonical_uuid(uuid, c.entry.uuid))
		return invalid_uuid(ctx, uuid);
	return edit(ctx, change_mdev, &c);
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
	qsort(list->vgpus, list->vgpu_count, sizeof(*list->vgpus), compare_vgpus);
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
		r = edit(ctx, change_vgpu, &c);
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
	return edit(ctx, change_vgpu, &c);
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
