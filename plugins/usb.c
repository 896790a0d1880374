/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The USB plugin: ids are stable identities (port or serial, docs/usb.md), because the bus
 * address changes on every re-plug. An id stands for one device, or for one complete set of a
 * bundle (selectors.bundle: several devices handed to one VM together, KubeVirt's contract). An
 * id is healthy while every device it stands for has its node /dev/bus/usb/BBB/DDD as it is now
 * and they are the devices the id was first advertised with (usb_claims.c). Allocate answers the
 * node of each device and USB_RESOURCE_<NAME> = "bus:devnum" in decimal of every device,
 * comma-separated, in order (KubeVirt's format), from the last list unless a device moved or went
 * since (usb_allocate()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

static void node_of(unsigned int busnum, unsigned int devnum, char *rel, size_t size)
{
	snprintf(rel, size, "bus/usb/%03u/%03u", busnum, devnum);
}

/* The first device of id @i without its node, or -1 when every node is there. */
static long missing_node(const struct plugin *p, const hostdev_dp_matches *m, size_t i)
{
	size_t n = hostdev_dp_matches_get_usb_device_count(m, i);
	char rel[32];

	for (size_t j = 0; j < n; j++) {
		unsigned int busnum = 0, devnum = 0;

		hostdev_dp_matches_get_usb_device(m, i, j, &busnum, &devnum, NULL);
		node_of(busnum, devnum, rel, sizeof(rel));
		if (!plugin_dev_exists(p, rel))
			return (long)j;
	}
	return n ? -1 : 0;
}

static bool usb_healthy(const struct plugin *p, const hostdev_dp_matches *m, size_t i)
{
	return missing_node(p, m, i) < 0 && usb_claims_check(p->usb_claims, m, i, false) == 1;
}

static int usb_observe(struct plugin *p, const hostdev_dp_matches *now)
{
	int r = 0;

	for (size_t i = 0; i < hostdev_dp_matches_get_count(now) && r >= 0; i++)
		r = usb_claims_check(p->usb_claims, now, i, true);
	return r < 0 ? r : 0;
}

static int usb_init(struct plugin *p)
{
	return usb_claims_new(&p->usb_claims);
}

static void usb_release(struct plugin *p)
{
	usb_claims_free(p->usb_claims);
	p->usb_claims = NULL;
}

/* Is id @k of @m what it was advertised as, with every device node there? No message. */
static bool usable(const struct plugin *p, const hostdev_dp_matches *m, long k)
{
	return usb_claims_check(p->usb_claims, m, (size_t)k, false) == 1 &&
	       missing_node(p, m, (size_t)k) < 0;
}

/* Why id @k of @now (read now) is not usable(), in @out; 0 when it is. */
static int check(struct plugin *p, const hostdev_dp_matches *now, long k, const char *id,
		 struct plugin_answer *out)
{
	size_t n = hostdev_dp_matches_get_usb_device_count(now, (size_t)k);
	unsigned int busnum = 0, devnum = 0;
	long missing;

	if (usb_claims_check(p->usb_claims, now, (size_t)k, false) != 1)
		return answer_fail(
		    out, -ENODEV,
		    "USB bundle %s of %s is now formed by devices that are not its own (a member "
		    "was unplugged or replaced, and another set's device took its place): plug the "
		    "devices back in as they were, or delete the pod so that it gets another set",
		    id, p->resource_name);
	if ((missing = missing_node(p, now, (size_t)k)) < 0)
		return 0;
	hostdev_dp_matches_get_usb_device(now, (size_t)k, (size_t)missing, &busnum, &devnum, NULL);
	if (n > 1)
		return answer_fail(out, -ENODEV,
				   "USB bundle %s of %s: its device %ld (bus %u, device %u) "
				   "has no device node /dev/bus/usb/%03u/%03u: it is being "
				   "unplugged, or /dev is not the host's",
				   id, p->resource_name, missing + 1, busnum, devnum, busnum,
				   devnum);
	return answer_fail(out, -ENODEV,
			   "USB device %s of %s (bus %u, device %u) has no device node "
			   "/dev/bus/usb/%03u/%03u: it is being unplugged, or /dev is not "
			   "the host's",
			   id, p->resource_name, busnum, devnum, busnum, devnum);
}

/* Why @id is not among the devices read now, in @out. */
static int not_there(struct plugin *p, const char *id, struct plugin_answer *out)
{
	if (usb_claims_count(p->usb_claims, id) > 1)
		return answer_fail(out, -ENODEV,
				   "USB bundle %s of %s is not complete now: not every device "
				   "of its set is plugged in; plug them back in (it is listed "
				   "as unhealthy meanwhile) or delete the pod so that it gets "
				   "another set",
				   id, p->resource_name);
	return answer_fail(out, -ENODEV,
			   "USB device %s of %s is not plugged in now: plug it back in "
			   "(it is listed as unhealthy meanwhile) or delete the pod so "
			   "that it gets another device",
			   id, p->resource_name);
}

/* Append "bus:devnum" of every device of id @k of @m to @value (@len used) and their nodes to
 * @out. */
static int add(const hostdev_dp_matches *m, long k, char **value, size_t *len,
	       struct plugin_answer *out)
{
	size_t n = hostdev_dp_matches_get_usb_device_count(m, (size_t)k);
	char path[48];
	int r = 0;

	for (size_t j = 0; j < n && r == 0; j++) {
		unsigned int busnum = 0, devnum = 0;
		char item[24], *grown;
		int w;

		hostdev_dp_matches_get_usb_device(m, (size_t)k, j, &busnum, &devnum, NULL);
		w = snprintf(item, sizeof(item), "%s%u:%u", *len ? "," : "", busnum, devnum);
		if (!(grown = realloc(*value, *len + (size_t)w + 1)))
			return -ENOMEM;
		*value = grown;
		memcpy(*value + *len, item, (size_t)w + 1);
		*len += (size_t)w;
		snprintf(path, sizeof(path), "/dev/bus/usb/%03u/%03u", busnum, devnum);
		r = answer_add_device(out, path);
	}
	return r;
}

/*
 * Each id is answered from what the last list saw (@seen; lists follow the device-node watch on
 * /dev/bus/usb and the refresh interval) when it is usable() there: its claim (kept in memory)
 * and one access(2) per device node, no sysfs read. An unplug since the last list removes the
 * node: the id is then looked up among the devices as they are now (read once per call), which
 * gives the answer (a device re-plugged with another number) or its refusal. A node of the same
 * number that belongs to another device would take the bus round all its 127 numbers between two
 * lists.
 */
static int usb_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
			struct plugin_answer *out)
{
	hostdev_dp_matches *seen, *now = NULL;
	const char **done = calloc(n_ids ? n_ids : 1, sizeof(*done));
	char *value = NULL;
	size_t n_done = 0, len = 0;
	int r = 0;

	if (!done)
		return -ENOMEM;
	/* The snapshot is immutable: a reference keeps it while a list replaces it. */
	pthread_mutex_lock(&p->lock);
	seen = hostdev_dp_matches_ref(p->seen);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		const hostdev_dp_matches *m = seen;
		long k = seen ? hostdev_dp_matches_find(seen, ids[i]) : -1;
		bool dup = false;

		for (size_t j = 0; j < n_done && !dup; j++)
			dup = strcmp(done[j], ids[i]) == 0;
		if (dup)
			continue;
		if (k < 0 || !usable(p, seen, k)) {
			if (!now && (r = plugin_matches(p, p->ctx, &now)) < 0) {
				r = answer_fail(out, r, "%s: cannot read the USB devices: %s",
						p->resource_name, hostdev_ctx_get_error(p->ctx));
				break;
			}
			m = now;
			if ((k = hostdev_dp_matches_find(now, ids[i])) < 0) {
				r = not_there(p, ids[i], out);
				break;
			}
			if ((r = check(p, now, k, ids[i], out)) < 0)
				break;
		}
		if ((r = add(m, k, &value, &len, out)) == 0)
			done[n_done++] = ids[i];
	}
	if (r == 0 && n_done)
		r = answer_set_env(out, p->env_name, value);
	hostdev_dp_matches_unref(now);
	hostdev_dp_matches_unref(seen);
	free(value);
	free(done);
	return r;
}

const struct plugin_kind plugin_kind_usb = {
    .env_prefix = "USB_RESOURCE",
    .healthy = usb_healthy,
    .allocate = usb_allocate,
    .init = usb_init,
    .release = usb_release,
    .observe = usb_observe,
};
