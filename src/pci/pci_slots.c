/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Physical slots (/sys/bus/pci/slots/<name>/address = "dddd:bb:ss"), the "Physical Slot" of lspci
 * -v. The map is read once per context and refreshed at the start of each enumeration.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"

/* "dddd:bb:ss" -> slot name, read once instead of once per device (a server has hundreds of
 * slots and thousands of functions). Both lists grow together. */
struct slot_table {
	struct strv addresses, names;
};

static void slot_table_free(void *data)
{
	struct slot_table *table = data;

	strv_clear(&table->addresses);
	strv_clear(&table->names);
	free(table);
}

static const struct ctx_cache_type slot_cache = {
    .name = "PCI physical slots",
    .release = slot_table_free,
    .paths = CTX_CACHE_PATH(HOSTDEV_PATH_SYSFS),
};

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
	if (sysfs_list_dir(fd, ".", NULL, &names) == 0) {
		for (size_t i = 0; i < names.count; i++) {
			char attr[PATH_MAX], address[64];

			if (path_join(attr, sizeof(attr), names.items[i], "address") < 0 ||
			    sysfs_read_attr(fd, attr, address, sizeof(address)) <= 0)
				continue;
			if (strv_push(&table->addresses, address) < 0 ||
			    strv_push(&table->names, names.items[i]) < 0) {
				slot_table_free(table);
				table = NULL;
				break;
			}
		}
	}
	strv_clear(&names);
	close(fd);
	return table;
}

const char *ctx_slot_for(hostdev_ctx *ctx, const char *bus_slot)
{
	struct slot_table *table;
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
	for (size_t i = 0; i < table->addresses.count && i < table->names.count; i++)
		if (strcmp(table->addresses.items[i], bus_slot) == 0)
			return table->names.items[i];
	return NULL;
}

void pci_slots_refresh(hostdev_ctx *ctx)
{
	ctx_cache_drop(ctx, &slot_cache);
}
