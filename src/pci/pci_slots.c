/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Physical slots (/sys/bus/pci/slots/<name>/address = "dddd:bb:ss"), the "Physical Slot" of lspci
 * -v. The map is read once per context and refreshed at the start of each enumeration.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"

/*
 * "dddd:bb:ss" -> slot name, read once per enumeration instead of once per device (a server has
 * hundreds of slots and thousands of functions), and sorted by address so that a lookup is a
 * binary search, not a scan of every slot for every device.
 */
struct slot_entry {
	uint64_t key; /* domain << 16 | bus << 8 | slot */
	size_t order; /* position in the directory: the first of two slots at one address wins */
	char *name;
};

struct slot_table {
	struct slot_entry *entries;
	size_t count;
};

static uint64_t slot_key(uint32_t domain, unsigned int bus, unsigned int slot)
{
	return (uint64_t)domain << 16 | (bus & 0xff) << 8 | (slot & 0x1f);
}

static void slot_table_free(void *data)
{
	struct slot_table *table = data;

	for (size_t i = 0; i < table->count; i++)
		free(table->entries[i].name);
	free(table->entries);
	free(table);
}

static const struct ctx_cache_type slot_cache = {
    .name = "PCI physical slots",
    .release = slot_table_free,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_SYSFS),
};

/*
 * "dddd:bb:ss" (what the kernel writes for a slot with a device number; more domain digits with
 * large domains) into a key.
 */
static bool parse_slot_address(const char *text, uint64_t *key)
{
	unsigned long domain, bus, slot;
	const char *start;
	char *end;

	domain = strtoul(text, &end, 16);
	if (end - text < 4 || *end != ':' || domain > 0xffffffffUL)
		return false;
	start = end + 1;
	bus = strtoul(start, &end, 16);
	if (end != start + 2 || *end != ':' || bus > 0xff)
		return false;
	start = end + 1;
	slot = strtoul(start, &end, 16);
	if (end != start + 2 || *end != '\0' || slot > 0x1f)
		return false;
	*key = slot_key((uint32_t)domain, (unsigned int)bus, (unsigned int)slot);
	return true;
}

static int compare_entries(const void *a, const void *b)
{
	const struct slot_entry *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* The slots of @ctx's sysfs: an empty table when none are known, NULL without memory. */
static struct slot_table *load_slots(hostdev_ctx *ctx)
{
	struct slot_table *table = calloc(1, sizeof(*table));
	struct strv names = {0};
	char path[PATH_MAX];
	int fd;

	if (!table)
		return NULL;
	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "bus/pci/slots") < 0)
		return table;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return table; /* no slot drivers: no physical slots known */
	if (sysfs_list_dir(fd, ".", NULL, &names) == 0 && names.count &&
	    !(table->entries = calloc(names.count, sizeof(*table->entries)))) {
		slot_table_free(table);
		table = NULL;
	}
	for (size_t i = 0; table && i < names.count; i++) {
		char attr[PATH_MAX], address[64];
		struct slot_entry *entry = &table->entries[table->count];

		/* A slot without a device number ("dddd:bb") holds no function of its own. */
		if (path_join(attr, sizeof(attr), names.items[i], "address") < 0 ||
		    sysfs_read_attr(fd, attr, address, sizeof(address)) <= 0 ||
		    !parse_slot_address(address, &entry->key))
			continue;
		entry->order = i;
		if (!(entry->name = strdup(names.items[i]))) {
			slot_table_free(table);
			table = NULL;
			break;
		}
		table->count++;
	}
	strv_clear(&names);
	close(fd);
	/* qsort() must not be given NULL, which an empty table's entries are. */
	if (table && table->count > 1)
		qsort(table->entries, table->count, sizeof(*table->entries), compare_entries);
	return table;
}

const char *ctx_slot_for(hostdev_ctx *ctx, const struct hostdev_pci_address *addr)
{
	struct slot_table *table;
	uint64_t key;
	size_t lo = 0, hi;
	void *cached;

	if (ctx_cache_get(ctx, &slot_cache, &cached)) {
		table = cached;
	} else {
		/* Without memory, no slots are known until the next refresh. */
		table = load_slots(ctx);
		if (ctx_cache_set(ctx, &slot_cache, table) < 0)
			return NULL;
	}
	if (!table)
		return NULL;
	/* The first entry whose key is not below the device's. */
	key = slot_key(addr->domain, addr->bus, addr->slot);
	hi = table->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (table->entries[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < table->count && table->entries[lo].key == key ? table->entries[lo].name : NULL;
}

void pci_slots_refresh(hostdev_ctx *ctx)
{
	ctx_cache_drop(ctx, &slot_cache);
}
