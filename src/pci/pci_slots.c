/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Physical slots (/sys/bus/pci/slots/<name>/address = "dddd:bb:ss"), the "Physical Slot" of lspci
 * -v. The map is read once per context and refreshed at the start of each enumeration.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static void load_slots(hostdev_ctx *ctx)
{
	struct strv names = {0};
	char path[PATH_MAX];
	int fd;

	ctx->slots_loaded = true;
	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "bus/pci/slots") < 0)
		return;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return; /* no slot drivers: no physical slots known */
	if (sysfs_list_dir(fd, ".", NULL, &names) == 0) {
		for (size_t i = 0; i < names.count; i++) {
			char attr[PATH_MAX], address[64];

			if (path_join(attr, sizeof(attr), names.items[i], "address") < 0 ||
			    sysfs_read_attr(fd, attr, address, sizeof(address)) <= 0)
				continue;
			if (strv_push(&ctx->slot_addresses, address) < 0 ||
			    strv_push(&ctx->slot_names, names.items[i]) < 0) {
				ctx_slots_release(ctx);
				ctx->slots_loaded = true;
				break;
			}
		}
	}
	strv_clear(&names);
	close(fd);
}

const char *ctx_slot_for(hostdev_ctx *ctx, const char *bus_slot)
{
	if (!ctx->slots_loaded)
		load_slots(ctx);
	/* Both lists grow together; a failed push above clears both. */
	for (size_t i = 0; i < ctx->slot_addresses.count && i < ctx->slot_names.count; i++)
		if (strcmp(ctx->slot_addresses.items[i], bus_slot) == 0)
			return ctx->slot_names.items[i];
	return NULL;
}

void ctx_slots_release(hostdev_ctx *ctx)
{
	strv_clear(&ctx->slot_addresses);
	strv_clear(&ctx->slot_names);
	ctx->slots_loaded = false;
}
