/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Human names from the context's pci.ids, exactly what libpci (and so lspci) gives. They come from
 * pci_ids.c, which reads the file in place and answers as libpci would at a small part of the cost
 * of libpci's parse of the whole file; a file it cannot answer for exactly (compressed, a line
 * libpci rejects, ids out of order, ...) is left to libpci itself, through a pci_access handle
 * owned by the context that honours its sysfs root (the `sysfs.path` parameter) and pci.ids path.
 * Either way the names of each id tuple are kept per context.
 */
#include <errno.h>
#include <limits.h>
#include <pci/pci.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci.h"
#include "pci_ids.h"
#include "core/core.h"

/*
 * libpci reports through printf-like callbacks with no userdata; the library never prints, so
 * warnings and debug messages are dropped.
 */
static void PCI_PRINTF(1, 2) pci_quiet(char *msg, ...)
{
}

/*
 * libpci declares its error callback as not returning, but for what is used here it is safe to
 * return: a parse error in pci.ids leaves the names read so far (lspci exits instead; a library
 * must not), and the only other caller is malloc failure inside libpci.
 */
static void PCI_PRINTF(1, 2) pci_error_continue(char *msg, ...)
{
}

static void pci_access_release(void *data)
{
	pci_cleanup(data);
}

static const struct ctx_cache_type pci_access_cache = {
    .name = "libpci access",
    .release = pci_access_release,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_SYSFS) | CTX_CACHE_PATH(HOSTDEV_PATH_PCI_IDS),
};

struct pci_access *ctx_pci_access(hostdev_ctx *ctx)
{
	char path[PATH_MAX];
	struct pci_access *pacc;
	void *cached;

	if (ctx_cache_get(ctx, &pci_access_cache, &cached))
		return cached;
	pacc = pci_alloc();
	if (!pacc) {
		ctx_cache_set(ctx, &pci_access_cache, NULL);
		return NULL;
	}
	pacc->error = (__typeof__(pacc->error))pci_error_continue;
	pacc->warning = pci_quiet;
	pacc->debug = pci_quiet;
	pacc->method = PCI_ACCESS_SYS_BUS_PCI;
	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "bus/pci") == 0)
		pci_set_param(pacc, "sysfs.path", path);
	pci_set_name_list_path(pacc, ctx->paths[HOSTDEV_PATH_PCI_IDS], 0);
	/*
	 * Names come from the context's pci.ids only: udev's hwdb would make results depend on the
	 * host (and libpci leaks a udev object on every hwdb miss).
	 */
	pci_set_param(pacc, "hwdb.disable", "1");
	/*
	 * Nor from the user's ~/.pciids-cache (names libpci fetched over DNS for `lspci -q`), which
	 * libpci consults on a miss. Builds without DNS support have no such parameter.
	 */
	pci_set_param(pacc, "net.cache_name", "");
	pci_init(pacc);
	/* Without memory for the slot, names are looked up without libpci this time. */
	return ctx_cache_set(ctx, &pci_access_cache, pacc) == 0 ? pacc : NULL;
}

/*
 * libpci truncates a name that does not fit its buffer ("..."): lines of pci.ids are under 1024
 * bytes, and a class name gains a " [ccss]" suffix, so this fits every name whole, as pci_ids.c
 * returns them.
 */
#define LOOKUP_BUFFER_SIZE 2048

/* libpci formats an unknown subclass as "<class name> [ccss]" even with NO_NUMBERS. */
static bool is_class_fallback(const char *name, unsigned int class16)
{
	char suffix[16];
	size_t ln = strlen(name), ls;

	ls = (size_t)snprintf(suffix, sizeof(suffix), " [%04x]", class16);
	return ln > ls && strcmp(name + ln - ls, suffix) == 0;
}

static char *class_name_from_fallback(const char *name)
{
	/* Strip the " [ccss]" suffix (7 characters). */
	return strndup(name, strlen(name) - 7);
}

/*
 * libpci has no lookup for a class alone; an absent subclass makes it fall back to the class name,
 * so probe subclasses from the top (0xff is rarely assigned) until the fallback form comes back.
 */
static char *lookup_class_only(struct pci_access *pacc, unsigned int base)
{
	char buf[LOOKUP_BUFFER_SIZE];

	for (int sub = 0xff; sub >= 0; sub--) {
		unsigned int class16 = (base << 8) | (unsigned int)sub;
		const char *n = pci_lookup_name(pacc, buf, sizeof(buf),
						PCI_LOOKUP_CLASS | PCI_LOOKUP_NO_NUMBERS, class16);

		if (!n)
			return NULL; /* the class itself is unknown */
		if (is_class_fallback(n, class16))
			return class_name_from_fallback(n);
	}
	return NULL;
}

static char *lookup(struct pci_access *pacc, int flags, ...)
{
	char buf[LOOKUP_BUFFER_SIZE];
	const char *n;
	va_list ap;
	unsigned int a[4];

	va_start(ap, flags);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned int);
	va_end(ap);
	n = pci_lookup_name(pacc, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS, a[0], a[1], a[2],
			    a[3]);
	return n ? strdup(n) : NULL;
}

/* The names of one id tuple, in the order of the device's fields. */
enum {
	NAME_VENDOR,
	NAME_DEVICE,
	NAME_SUBSYSTEM_VENDOR,
	NAME_SUBSYSTEM,
	NAME_CLASS,
	NAME_SUBCLASS,
	NAME_PROG_IF,
	NAME_COUNT
};

struct name_entry {
	bool used;
	unsigned int vendor_id, device_id, subsystem_vendor_id, subsystem_device_id, class_code;
	char *names[NAME_COUNT];
};

/*
 * The names of the id tuples seen last, direct-mapped: the functions of a host share few tuples
 * (the VFs of a PF, the ports of a switch), and a device's seven names cost seven lookups
 * (binary searches and copies; through libpci, thousands of instructions each).
 */
#define NAME_CACHE_SIZE 256

struct name_cache {
	struct name_entry entries[NAME_CACHE_SIZE];
};

static void name_entry_clear(struct name_entry *e)
{
	for (int i = 0; i < NAME_COUNT; i++)
		free(e->names[i]);
	memset(e, 0, sizeof(*e));
}

static void name_cache_release(void *data)
{
	struct name_cache *cache = data;

	for (size_t i = 0; i < NAME_CACHE_SIZE; i++)
		name_entry_clear(&cache->entries[i]);
	free(cache);
}

static const struct ctx_cache_type name_cache_type = {
    .name = "PCI names by id",
    .release = name_cache_release,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_SYSFS) | CTX_CACHE_PATH(HOSTDEV_PATH_PCI_IDS),
};

static struct name_cache *ctx_name_cache(hostdev_ctx *ctx)
{
	struct name_cache *cache;
	void *cached;

	if (ctx_cache_get(ctx, &name_cache_type, &cached))
		return cached;
	cache = calloc(1, sizeof(*cache));
	/* Without one, every device looks its names up itself. */
	return ctx_cache_set(ctx, &name_cache_type, cache) == 0 ? cache : NULL;
}

static bool entry_matches(const struct name_entry *e, const hostdev_pci_device *dev)
{
	return e->used && e->vendor_id == dev->vendor_id && e->device_id == dev->device_id &&
	       e->subsystem_vendor_id == dev->subsystem_vendor_id &&
	       e->subsystem_device_id == dev->subsystem_device_id &&
	       e->class_code == dev->class_code;
}

static size_t entry_slot(const hostdev_pci_device *dev)
{
	uint32_t h = dev->vendor_id * 0x9e3779b1u;

	h = (h ^ dev->device_id) * 0x9e3779b1u;
	h = (h ^ dev->subsystem_vendor_id) * 0x9e3779b1u;
	h = (h ^ dev->subsystem_device_id) * 0x9e3779b1u;
	h = (h ^ dev->class_code) * 0x9e3779b1u;
	return (h >> 24) % NAME_CACHE_SIZE;
}

/* Look every name of @dev's ids up in libpci into @names (NULL where there is none). */
static void lookup_names_libpci(struct pci_access *pacc, const hostdev_pci_device *dev,
				char *names[NAME_COUNT])
{
	unsigned int class16 = dev->class_code >> 8, base = dev->class_code >> 16;
	char buf[LOOKUP_BUFFER_SIZE];
	const char *n;

	names[NAME_VENDOR] = lookup(pacc, PCI_LOOKUP_VENDOR, dev->vendor_id, 0u, 0u, 0u);
	names[NAME_DEVICE] =
	    lookup(pacc, PCI_LOOKUP_DEVICE, dev->vendor_id, dev->device_id, 0u, 0u);
	if (dev->subsystem_vendor_id && dev->subsystem_vendor_id != 0xffff) {
		names[NAME_SUBSYSTEM_VENDOR] =
		    lookup(pacc, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR, dev->subsystem_vendor_id,
			   0u, 0u, 0u);
		names[NAME_SUBSYSTEM] =
		    lookup(pacc, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, dev->vendor_id,
			   dev->device_id, dev->subsystem_vendor_id, dev->subsystem_device_id);
	}
	n = pci_lookup_name(pacc, buf, sizeof(buf), PCI_LOOKUP_CLASS | PCI_LOOKUP_NO_NUMBERS,
			    class16);
	if (n && is_class_fallback(n, class16)) {
		names[NAME_CLASS] = class_name_from_fallback(n);
	} else if (n) {
		names[NAME_SUBCLASS] = strdup(n);
		names[NAME_CLASS] = lookup_class_only(pacc, base);
	}
	names[NAME_PROG_IF] =
	    lookup(pacc, PCI_LOOKUP_PROGIF, class16, dev->class_code & 0xff, 0u, 0u);
}

/* The same names from pci_ids.c; the ids go as the ints libpci reads from its arguments. */
static void lookup_names_indexed(const struct pci_ids *ids, const hostdev_pci_device *dev,
				 char *names[NAME_COUNT])
{
	int vendor = (int)dev->vendor_id, device = (int)dev->device_id;
	int class16 = (int)(dev->class_code >> 8);

	names[NAME_VENDOR] = pci_ids_vendor(ids, vendor);
	names[NAME_DEVICE] = pci_ids_device(ids, vendor, device);
	if (dev->subsystem_vendor_id && dev->subsystem_vendor_id != 0xffff) {
		names[NAME_SUBSYSTEM_VENDOR] = pci_ids_vendor(ids, (int)dev->subsystem_vendor_id);
		names[NAME_SUBSYSTEM] =
		    pci_ids_subsystem(ids, vendor, device, (int)dev->subsystem_vendor_id,
				      (int)dev->subsystem_device_id);
	}
	names[NAME_CLASS] = pci_ids_class(ids, (int)(dev->class_code >> 16));
	names[NAME_SUBCLASS] = pci_ids_subclass(ids, class16);
	names[NAME_PROG_IF] = pci_ids_prog_if(ids, class16, (int)(dev->class_code & 0xff));
}

static void pci_ids_release(void *data)
{
	pci_ids_free(data);
}

static const struct ctx_cache_type pci_ids_cache = {
    .name = "pci.ids index",
    .release = pci_ids_release,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_PCI_IDS),
};

/* The context's pci.ids read by pci_ids.c, or NULL: ask libpci. */
static struct pci_ids *ctx_pci_ids(hostdev_ctx *ctx)
{
	const char *path = ctx->paths[HOSTDEV_PATH_PCI_IDS];
	struct pci_ids_refusal why;
	struct pci_ids *ids;
	void *cached;

	if (ctx_cache_get(ctx, &pci_ids_cache, &cached))
		return cached;
	ids = pci_ids_open(path, &why);
	if (!ids && why.line)
		log_debug(ctx, "%s, line %u: %s: names through libpci", path, why.line, why.reason);
	else if (!ids)
		log_debug(ctx, "%s: %s: names through libpci", path, why.reason);
	/* Without memory for the slot, libpci answers this time. */
	return ctx_cache_set(ctx, &pci_ids_cache, ids) == 0 ? ids : NULL;
}

/* Look every name of @dev's ids up into @names (NULL where there is none). */
static void lookup_names(hostdev_ctx *ctx, const hostdev_pci_device *dev, char *names[NAME_COUNT])
{
	struct pci_ids *ids = ctx_pci_ids(ctx);
	struct pci_access *pacc;

	if (ids) {
		lookup_names_indexed(ids, dev, names);
		return;
	}
	pacc = ctx_pci_access(ctx);
	if (pacc)
		lookup_names_libpci(pacc, dev, names);
}

void pci_device_load_names(hostdev_pci_device *dev)
{
	char **fields[NAME_COUNT] = {
	    [NAME_VENDOR] = &dev->vendor_name,
	    [NAME_DEVICE] = &dev->device_name,
	    [NAME_SUBSYSTEM_VENDOR] = &dev->subsystem_vendor_name,
	    [NAME_SUBSYSTEM] = &dev->subsystem_name,
	    [NAME_CLASS] = &dev->class_name,
	    [NAME_SUBCLASS] = &dev->subclass_name,
	    [NAME_PROG_IF] = &dev->prog_if_name,
	};
	struct name_cache *cache;
	struct name_entry *e = NULL;

	if (dev->loaded & PCI_PART_NAMES)
		return;
	dev->loaded |= PCI_PART_NAMES;
	cache = ctx_name_cache(dev->ctx);
	if (cache) {
		e = &cache->entries[entry_slot(dev)];
		if (!entry_matches(e, dev)) {
			name_entry_clear(e);
			lookup_names(dev->ctx, dev, e->names);
			e->used = true;
			e->vendor_id = dev->vendor_id;
			e->device_id = dev->device_id;
			e->subsystem_vendor_id = dev->subsystem_vendor_id;
			e->subsystem_device_id = dev->subsystem_device_id;
			e->class_code = dev->class_code;
		}
		/* A copy that failed for memory leaves that name out, as a failed lookup did. */
		for (int i = 0; i < NAME_COUNT; i++)
			*fields[i] = e->names[i] ? strdup(e->names[i]) : NULL;
	} else {
		char *names[NAME_COUNT] = {0};

		lookup_names(dev->ctx, dev, names);
		for (int i = 0; i < NAME_COUNT; i++)
			*fields[i] = names[i];
	}
	if (!dev->vendor_name)
		log_debug(dev->ctx, "%s: vendor %04x not in %s", dev->address, dev->vendor_id,
			  dev->ctx->paths[HOSTDEV_PATH_PCI_IDS]);
}

HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_vendor_name,
			      pci_device_load_names, vendor_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_device_name,
			      pci_device_load_names, device_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_subsystem_vendor_name,
			      pci_device_load_names, subsystem_vendor_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_subsystem_name,
			      pci_device_load_names, subsystem_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_class_name,
			      pci_device_load_names, class_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_subclass_name,
			      pci_device_load_names, subclass_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_prog_if_name,
			      pci_device_load_names, prog_if_name, NULL)
