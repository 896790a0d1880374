/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The USB plugin: ids are stable identities (port or serial, docs/usb.md), because the bus
 * address changes on every re-plug. A device is healthy while its node /dev/bus/usb/BBB/DDD
 * exists for the device as it is now. Allocate finds each device where it is now and answers
 * its node and USB_RESOURCE_<NAME> = "bus:devnum" in decimal, comma-separated, in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

static bool usb_healthy(const struct plugin *p, const hostdev_dp_matches *m, size_t i)
{
	char rel[32];

	snprintf(rel, sizeof(rel), "bus/usb/%03u/%03u", hostdev_dp_matches_get_usb_busnum(m, i),
		 hostdev_dp_matches_get_usb_devnum(m, i));
	return plugin_dev_exists(p, rel);
}

static int usb_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
			struct plugin_answer *out)
{
	hostdev_dp_matches *now = NULL;
	char *value = calloc(n_ids ? n_ids : 1, 24);
	const char **done = calloc(n_ids ? n_ids : 1, sizeof(*done));
	size_t n_done = 0;
	int r;

	if (!value || !done) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = plugin_matches(p, p->ctx, &now)) < 0) {
		r = answer_fail(out, r, "%s: cannot read the USB devices: %s", p->resource_name,
				hostdev_ctx_get_error(p->ctx));
		goto out;
	}
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		long k = hostdev_dp_matches_find(now, ids[i]);
		unsigned int busnum, devnum;
		char path[48], item[24];
		bool dup = false;

		for (size_t j = 0; j < n_done && !dup; j++)
			dup = strcmp(done[j], ids[i]) == 0;
		if (dup)
			continue;
		if (k < 0) {
			r = answer_fail(
			    out, -ENODEV,
			    "USB device %s of %s is not plugged in now: plug it back in "
			    "(it is listed as unhealthy meanwhile) or delete the pod so "
			    "that it gets another device",
			    ids[i], p->resource_name);
			break;
		}
		busnum = hostdev_dp_matches_get_usb_busnum(now, (size_t)k);
		devnum = hostdev_dp_matches_get_usb_devnum(now, (size_t)k);
		if (!usb_healthy(p, now, (size_t)k)) {
			r = answer_fail(
			    out, -ENODEV,
			    "USB device %s of %s (bus %u, device %u) has no device node "
			    "/dev/bus/usb/%03u/%03u: it is being unplugged, or /dev is not "
			    "the host's",
			    ids[i], p->resource_name, busnum, devnum, busnum, devnum);
			break;
		}
		snprintf(path, sizeof(path), "/dev/bus/usb/%03u/%03u", busnum, devnum);
		snprintf(item, sizeof(item), "%s%u:%u", n_done ? "," : "", busnum, devnum);
		strcat(value, item);
		done[n_done++] = ids[i];
		r = answer_add_device(out, path);
	}
	if (r == 0 && n_done)
		r = answer_set_env(out, p->env_name, value);
out:
	hostdev_dp_matches_unref(now);
	free(value);
	free(done);
	return r;
}

const struct plugin_kind plugin_kind_usb = {
    .env_prefix = "USB_RESOURCE",
    .healthy = usb_healthy,
    .allocate = usb_allocate,
};
