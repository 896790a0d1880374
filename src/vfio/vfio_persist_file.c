/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The persistent device list's file (<config>/vfio-devices.json): parsing every version, with a
 * specific error for each malformed part, and writing the lowest version that holds the list
 * (vfio_persist.h says why).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hostdev/sriov.h>

#include "pci/pci.h"
#include "vfio_persist.h"

/* The words of the file for enum hostdev_sriov_autoprobe. */
static const char *const autoprobe_words[] = {
    [HOSTDEV_SRIOV_AUTOPROBE_KEEP] = "keep",
    [HOSTDEV_SRIOV_AUTOPROBE_OFF] = "off",
    [HOSTDEV_SRIOV_AUTOPROBE_ON] = "on",
};

bool persist_autoprobe_known(unsigned int autoprobe)
{
	return autoprobe < ARRAY_SIZE(autoprobe_words);
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
bool persist_canonical_uuid(const char *text, char out[HOSTDEV_MDEV_UUID_MAX])
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
char *persist_canonical_parent(const char *parent)
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
		    !cJSON_IsString(uuid) || !persist_canonical_uuid(uuid->valuestring, e->uuid))
			return hostdev_error(ctx, -EBADMSG,
					     "%s: mdevs entry %zu is invalid (parent, type, uuid): "
					     "fix it or remove it",
					     list->path, list->mdev_count);
		e->parent = persist_canonical_parent(parent->valuestring);
		e->type = strdup(type->valuestring);
		list->mdev_count++;
		if (!e->parent || !e->type)
			return -ENOMEM;
	}
	return 0;
}

int persist_compare_vgpus(const void *a, const void *b)
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
	qsort(list->vgpus, list->vgpu_count, sizeof(*list->vgpus), persist_compare_vgpus);
	return 0;
}

/* Load the list from the open configuration directory @config; a missing file is empty. */
int persist_load(hostdev_ctx *ctx, const struct vfio_dir *config, hostdev_vfio_persist *list)
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
	qsort(list->entries, list->count, sizeof(*list->entries), persist_compare_entries);
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

int persist_store(hostdev_ctx *ctx, const struct vfio_dir *config, const hostdev_vfio_persist *list)
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
