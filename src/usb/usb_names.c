/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names of USB vendors, products and classes. usb.ids (the context's HOSTDEV_PATH_USB_IDS) is read
 * once per context into sorted tables; when it cannot be read, vendor and product names come from
 * the udev hwdb (which systemd generates from the same usb.ids), and class names from a built-in
 * table of the USB-IF base classes. Names are host-independent whenever usb.ids is readable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "usb.h"

struct usb_id_entry {
	uint32_t key; /* vendor, (vendor << 16 | product), or class */
	char *name;
};

struct usb_id_table {
	struct usb_id_entry *items;
	size_t count, capacity;
};

struct usb_ids {
	struct usb_id_table vendors, products, classes;
	bool from_file;
	/* hwdb fallback answers, kept for the lifetime of the context. */
	struct usb_id_table hwdb_vendors, hwdb_products;
	struct udev *udev;
	struct udev_hwdb *hwdb;
};

/* USB-IF base class codes with usb.ids' names, for hosts without usb.ids. */
static const struct {
	unsigned int code;
	const char *name;
} builtin_classes[] = {
    {0x00, "(Defined at Interface level)"},
    {0x01, "Audio"},
    {0x02, "Communications"},
    {0x03, "Human Interface Device"},
    {0x05, "Physical Interface Device"},
    {0x06, "Imaging"},
    {0x07, "Printer"},
    {0x08, "Mass Storage"},
    {0x09, "Hub"},
    {0x0a, "CDC Data"},
    {0x0b, "Chip/SmartCard"},
    {0x0d, "Content Security"},
    {0x0e, "Video"},
    {0x0f, "Personal Healthcare"},
    {0x10, "Audio/Video"},
    {0x11, "Billboard"},
    {0x12, "Type-C Bridge"},
    {0xdc, "Diagnostic"},
    {0xe0, "Wireless"},
    {0xef, "Miscellaneous Device"},
    {0xfe, "Application Specific Interface"},
    {0xff, "Vendor Specific Class"},
};

static int table_add(struct usb_id_table *t, uint32_t key, const char *name, size_t len)
{
	if (t->count == t->capacity) {
		size_t cap = t->capacity ? t->capacity * 2 : 256;
		struct usb_id_entry *items = realloc(t->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		t->items = items;
		t->capacity = cap;
	}
	t->items[t->count].key = key;
	t->items[t->count].name = strndup(name, len);
	if (!t->items[t->count].name)
		return -ENOMEM;
	t->count++;
	return 0;
}

static void table_clear(struct usb_id_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->items[i].name);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

static int compare_entries(const void *a, const void *b)
{
	const struct usb_id_entry *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* The first entry with @key (usb.ids has no duplicates, but a hand-edited file may). */
static const char *table_find(const struct usb_id_table *t, uint32_t key)
{
	size_t lo = 0, hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->items[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->count && t->items[lo].key == key ? t->items[lo].name : NULL;
}

static int parse_hex(const char *s, int digits, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < digits; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* "<id>  <name>": the name after the two spaces, trailing whitespace cut; NULL if malformed. */
static const char *entry_name(const char *s, int digits, size_t *len)
{
	const char *name = s + digits;

	if (name[0] != ' ' || name[1] != ' ')
		return NULL;
	name += 2;
	*len = strlen(name);
	while (*len > 0 && (name[*len - 1] == '\n' || name[*len - 1] == '\r' ||
			    name[*len - 1] == ' ' || name[*len - 1] == '\t'))
		(*len)--;
	return *len ? name : NULL;
}

static int parse_file(struct usb_ids *ids, FILE *f)
{
	enum { VENDORS, CLASSES, OTHER } section = VENDORS;
	uint32_t vendor = 0, id;
	bool have_vendor = false;
	char line[1024];
	const char *name;
	size_t len;
	int r = 0;

	while (r == 0 && fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n' || line[0] == '\r')
			continue;
		if (line[0] != '\t') {
			have_vendor = false;
			if (strncmp(line, "C ", 2) == 0) {
				section = CLASSES;
				if (parse_hex(line + 2, 2, &id) == 0 &&
				    (name = entry_name(line + 2, 2, &len)))
					r = table_add(&ids->classes, id, name, len);
				continue;
			}
			if (section == VENDORS && parse_hex(line, 4, &id) == 0 &&
			    (name = entry_name(line, 4, &len))) {
				vendor = id;
				have_vendor = true;
				r = table_add(&ids->vendors, id, name, len);
				continue;
			}
			/* Any other keyword line (AT, HID, R, L, ...) opens a section we skip. */
			section = OTHER;
			continue;
		}
		if (line[1] == '\t' || section != VENDORS || !have_vendor)
			continue; /* interfaces, class subclasses/protocols, other sections */
		if (parse_hex(line + 1, 4, &id) == 0 && (name = entry_name(line + 1, 4, &len)))
			r = table_add(&ids->products, vendor << 16 | id, name, len);
	}
	if (r < 0)
		return r;
	qsort(ids->vendors.items, ids->vendors.count, sizeof(struct usb_id_entry), compare_entries);
	qsort(ids->products.items, ids->products.count, sizeof(struct usb_id_entry),
	      compare_entries);
	qsort(ids->classes.items, ids->classes.count, sizeof(struct usb_id_entry), compare_entries);
	return 0;
}

static void usb_ids_free(struct usb_ids *ids)
{
	if (!ids)
		return;
	table_clear(&ids->vendors);
	table_clear(&ids->products);
	table_clear(&ids->classes);
	table_clear(&ids->hwdb_vendors);
	table_clear(&ids->hwdb_products);
	udev_hwdb_unref(ids->hwdb);
	udev_unref(ids->udev);
	free(ids);
}

static void usb_ids_release(void *data)
{
	usb_ids_free(data);
}

static const struct ctx_cache_type usb_ids_cache = {
    .name = "usb.ids tables",
    .release = usb_ids_release,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_USB_IDS),
};

static struct usb_ids *ctx_usb_ids(hostdev_ctx *ctx)
{
	const char *path = hostdev_ctx_get_path(ctx, HOSTDEV_PATH_USB_IDS);
	struct usb_ids *ids;
	void *cached;
	FILE *f;

	if (ctx_cache_get(ctx, &usb_ids_cache, &cached))
		return cached;
	ids = calloc(1, sizeof(*ids));
	if (!ids) {
		ctx_cache_set(ctx, &usb_ids_cache, NULL);
		return NULL;
	}
	f = fopen(path, "re");
	if (f) {
		if (parse_file(ids, f) < 0) {
			log_warn(ctx, "%s: out of memory while reading USB names", path);
			table_clear(&ids->vendors);
			table_clear(&ids->products);
			table_clear(&ids->classes);
		} else {
			ids->from_file = true;
		}
		fclose(f);
	} else {
		log_debug(ctx, "cannot read %s (%s): USB names come from the udev hwdb", path,
			  strerror(errno));
		ids->udev = udev_new();
		ids->hwdb = ids->udev ? udev_hwdb_new(ids->udev) : NULL;
	}
	return ctx_cache_set(ctx, &usb_ids_cache, ids) == 0 ? ids : NULL;
}

/* One property of the hwdb entry for "usb:vVVVVpPPPP", remembered in @cache under @key. */
static const char *hwdb_lookup(struct usb_ids *ids, struct usb_id_table *cache, uint32_t key,
			       const char *modalias, const char *property)
{
	struct udev_list_entry *e;
	const char *name;

	if ((name = table_find(cache, key)))
		return name[0] ? name : NULL;
	if (!ids->hwdb)
		return NULL;
	name = NULL;
	udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(ids->hwdb, modalias, 0))
	{
		if (strcmp(udev_list_entry_get_name(e), property) == 0)
			name = udev_list_entry_get_value(e);
	}
	/* Remember misses as "" so that the hwdb is asked once per id. */
	if (table_add(cache, key, name ? name : "", name ? strlen(name) : 0) < 0)
		return NULL;
	qsort(cache->items, cache->count, sizeof(struct usb_id_entry), compare_entries);
	name = table_find(cache, key);
	return name && name[0] ? name : NULL;
}

const char *usb_ids_vendor(hostdev_ctx *ctx, unsigned int vendor_id)
{
	struct usb_ids *ids = ctx_usb_ids(ctx);
	char modalias[32];

	if (!ids)
		return NULL;
	if (ids->from_file)
		return table_find(&ids->vendors, vendor_id);
	snprintf(modalias, sizeof(modalias), "usb:v%04X*", vendor_id & 0xffff);
	return hwdb_lookup(ids, &ids->hwdb_vendors, vendor_id, modalias, "ID_VENDOR_FROM_DATABASE");
}

const char *usb_ids_product(hostdev_ctx *ctx, unsigned int vendor_id, unsigned int product_id)
{
	struct usb_ids *ids = ctx_usb_ids(ctx);
	uint32_t key = (vendor_id & 0xffff) << 16 | (product_id & 0xffff);
	char modalias[32];

	if (!ids)
		return NULL;
	if (ids->from_file)
		return table_find(&ids->products, key);
	snprintf(modalias, sizeof(modalias), "usb:v%04Xp%04X*", vendor_id & 0xffff,
		 product_id & 0xffff);
	return hwdb_lookup(ids, &ids->hwdb_products, key, modalias, "ID_MODEL_FROM_DATABASE");
}

const char *usb_ids_class(hostdev_ctx *ctx, unsigned int class_code)
{
	struct usb_ids *ids = ctx_usb_ids(ctx);
	const char *name = ids && ids->from_file ? table_find(&ids->classes, class_code) : NULL;

	if (name)
		return name;
	for (size_t i = 0; i < ARRAY_SIZE(builtin_classes); i++)
		if (builtin_classes[i].code == class_code)
			return builtin_classes[i].name;
	return NULL;
}

void usb_device_load_names(hostdev_usb_device *dev)
{
	const char *v, *p;

	if (dev->loaded & USB_PART_NAMES)
		return;
	dev->loaded |= USB_PART_NAMES;
	v = usb_ids_vendor(dev->ctx, dev->vendor_id);
	p = usb_ids_product(dev->ctx, dev->vendor_id, dev->product_id);
	/* An allocation failure leaves a name NULL, which reads as "unknown". */
	dev->vendor_name = strdup_or_null(v);
	dev->product_name = strdup_or_null(p);
}

HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_vendor_name,
			      usb_device_load_names, vendor_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_product_name,
			      usb_device_load_names, product_name, NULL)

HOSTDEV_EXPORT const char *hostdev_usb_device_get_class_name(hostdev_usb_device *dev)
{
	return dev ? usb_ids_class(dev->ctx, hostdev_usb_device_get_class(dev)) : NULL;
}
