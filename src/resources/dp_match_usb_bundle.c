/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USB bundles (selectors.bundle): several devices handed to one VM together under one device id,
 * KubeVirt's permittedHostDevices.usb[].selectors. KubeVirt's own plugin takes, for every
 * selector, the first unused device with that vendor:product, and forms sets while every selector
 * finds one; which device is "first" is the order of a sysfs walk. Here the candidates are
 * ordered by port identity (controller, USB generation, then the port numbers numerically), and
 * the devices on one hub form sets among themselves first, the rest then in port order: the same
 * devices in the same ports always form the same sets, whatever the bus numbers and enumeration
 * order, and a set on a hub of its own is not touched by what is plugged elsewhere. A set's id
 * is the stable identity of its first member.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_match.h"

/* strcmp() with runs of digits compared by value: "usb2-1.9" before "usb2-1.10". */
static int natural_compare(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			size_t la, lb;

			while (*a == '0' && a[1] >= '0' && a[1] <= '9')
				a++;
			while (*b == '0' && b[1] >= '0' && b[1] <= '9')
				b++;
			la = strspn(a, "0123456789");
			lb = strspn(b, "0123456789");
			if (la != lb)
				return la < lb ? -1 : 1;
			if (memcmp(a, b, la) != 0)
				return memcmp(a, b, la);
			a += la;
			b += la;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* The port identity, "" when it cannot be made (out of memory): such a device sorts first and
 * forms no set of its own (dp_usb_add_member() then fails with -ENOMEM). */
static const char *port_of(hostdev_usb_device *dev)
{
	const char *port = hostdev_usb_device_get_port_id(dev);

	return port ? port : "";
}

static int compare_ports(const void *x, const void *y)
{
	hostdev_usb_device *const *a = x, *const *b = y;

	return natural_compare(port_of(*a), port_of(*b));
}

/* Index of the member of @sel whose vendor:product @dev has, or -1. */
static long member_of(const struct dp_selectors *sel, hostdev_usb_device *dev)
{
	for (size_t k = 0; k < sel->n_bundle; k++)
		if ((int)hostdev_usb_device_get_vendor_id(dev) == sel->bundle[k].first &&
		    (int)hostdev_usb_device_get_product_id(dev) == sel->bundle[k].second)
			return (long)k;
	return -1;
}

/* The set of @by_member[k][set] for every member k: one dp_match, the id of its first member. */
static int add_set(const struct dp_spec *spec, hostdev_usb_device **devs, size_t n,
		   size_t **by_member, size_t set, struct dp_matches *out)
{
	const struct dp_selectors *sel = &spec->sel;
	size_t first = by_member[0][set];
	const char *why = "no identity can be made";
	const char *id = dp_usb_identity(spec, devs, n, first, &why);
	struct dp_match *m;
	char msg[320];
	int r = 0;

	if (!id) {
		snprintf(msg, sizeof(msg),
			 "a bundle of USB device %s (%04x:%04x) and %zu more left out: its first "
			 "device gives the set's id, and %s",
			 hostdev_usb_device_get_name(devs[first]),
			 (unsigned int)sel->bundle[0].first, (unsigned int)sel->bundle[0].second,
			 sel->n_bundle - 1, why);
		return dp_matches_skip(out, msg);
	}
	if (!(m = dp_matches_add(out)))
		return -ENOMEM;
	m->name = strdup(spec->resource_name);
	m->key = strdup(hostdev_usb_device_get_name(devs[first]));
	m->id = strdup(id);
	m->vendor = hostdev_usb_device_get_vendor_id(devs[first]);
	m->device = hostdev_usb_device_get_product_id(devs[first]);
	if (!m->name || !m->key || !m->id || !dp_match_extra(m))
		return -ENOMEM;
	m->extra->busnum = hostdev_usb_device_get_busnum(devs[first]);
	m->extra->devnum = hostdev_usb_device_get_devnum(devs[first]);
	for (size_t k = 0; k < sel->n_bundle && r == 0; k++) {
		size_t d = by_member[k][set];

		why = "no identity can be made";
		id = dp_usb_identity(spec, devs, n, d, &why);
		/* A member without an identity of its own is still known by its port. */
		id = id ? id : hostdev_usb_device_get_port_id(devs[d]);
		r = id ? dp_usb_add_member(m, devs[d], id) : -ENOMEM;
	}
	return r;
}

/* What forming the sets works on: the candidates in port identity order, which are used, and
 * the hub each hangs off. */
struct pool {
	const struct dp_spec *spec;
	hostdev_usb_device **devs;
	size_t n;
	bool *used;
	size_t *hub;	    /* index of the device's hub among the hubs, in first-seen order */
	size_t **by_member; /* per member, room for n candidates */
	size_t *counts;
};

/* Form every complete set of the unused candidates on hub @hub ((size_t)-1: anywhere): the k-th
 * candidate of every member in port order makes set k. */
static int form_sets(struct pool *pool, size_t hub, struct dp_matches *out)
{
	const struct dp_selectors *sel = &pool->spec->sel;
	size_t sets = (size_t)-1;
	int r = 0;

	memset(pool->counts, 0, sel->n_bundle * sizeof(*pool->counts));
	for (size_t i = 0; i < pool->n; i++) {
		long k;

		if (pool->used[i] || (hub != (size_t)-1 && pool->hub[i] != hub))
			continue;
		if ((k = member_of(sel, pool->devs[i])) >= 0)
			pool->by_member[k][pool->counts[k]++] = i;
	}
	for (size_t k = 0; k < sel->n_bundle; k++)
		if (pool->counts[k] < sets)
			sets = pool->counts[k];
	for (size_t set = 0; set < sets && r == 0; set++) {
		for (size_t k = 0; k < sel->n_bundle; k++)
			pool->used[pool->by_member[k][set]] = true;
		r = add_set(pool->spec, pool->devs, pool->n, pool->by_member, set, out);
	}
	return r;
}

/* Number the hubs the candidates hang off (the port identity without its last port number),
 * in port order. Returns how many, or -ENOMEM. */
static long number_hubs(struct pool *pool)
{
	struct dp_strmap seen;
	char **parents = calloc(pool->n ? pool->n : 1, sizeof(*parents));
	size_t n_hubs = 0, existing;
	int r = parents ? 0 : -ENOMEM;

	dp_strmap_init(&seen);
	for (size_t i = 0; i < pool->n && r == 0; i++) {
		const char *port = port_of(pool->devs[i]);
		const char *cut = strrchr(port, '.');

		if (!cut)
			cut = strrchr(port, '-');
		if (!(parents[i] = strndup(port, cut ? (size_t)(cut - port) : strlen(port)))) {
			r = -ENOMEM;
			break;
		}
		r = dp_strmap_add(&seen, parents[i], n_hubs, &existing);
		if (r == -EEXIST) {
			pool->hub[i] = existing;
			r = 0;
		} else if (r == 0) {
			pool->hub[i] = n_hubs++;
		}
	}
	dp_strmap_clear(&seen);
	for (size_t i = 0; parents && i < pool->n; i++)
		free(parents[i]);
	free(parents);
	return r < 0 ? r : (long)n_hubs;
}

int dp_match_usb_bundle(hostdev_ctx *ctx, const struct dp_spec *spec, const struct dp_strmap *taken,
			struct dp_matches *out)
{
	const struct dp_selectors *sel = &spec->sel;
	struct pool pool = {.spec = spec};
	size_t kept = 0;
	long n_hubs = 0;
	int r;

	if ((r = dp_usb_enumerate(ctx, spec, &pool.devs, &pool.n)) < 0)
		return r;
	/* A device an earlier entry serves is no candidate (it would take its set with it). */
	for (size_t i = 0; i < pool.n; i++) {
		if (dp_strmap_find(taken, hostdev_usb_device_get_name(pool.devs[i])) >= 0)
			hostdev_usb_device_unref(pool.devs[i]);
		else
			pool.devs[kept++] = pool.devs[i];
	}
	pool.n = kept;
	if (pool.n > 1)
		qsort(pool.devs, pool.n, sizeof(*pool.devs), compare_ports);
	pool.used = calloc(pool.n ? pool.n : 1, sizeof(*pool.used));
	pool.hub = calloc(pool.n ? pool.n : 1, sizeof(*pool.hub));
	pool.counts = calloc(sel->n_bundle, sizeof(*pool.counts));
	pool.by_member = calloc(sel->n_bundle, sizeof(*pool.by_member));
	if (!pool.used || !pool.hub || !pool.counts || !pool.by_member)
		r = -ENOMEM;
	for (size_t k = 0; k < sel->n_bundle && r == 0; k++)
		if (!(pool.by_member[k] = calloc(pool.n ? pool.n : 1, sizeof(**pool.by_member))))
			r = -ENOMEM;
	if (r == 0 && (n_hubs = number_hubs(&pool)) < 0)
		r = (int)n_hubs;
	/* The devices of one hub first (a desk's keyboard, mouse and reader on its own hub stay
	 * one set whatever is plugged elsewhere), then the rest in port order. */
	for (long hub = 0; hub < n_hubs && r == 0; hub++)
		r = form_sets(&pool, (size_t)hub, out);
	if (r == 0)
		r = form_sets(&pool, (size_t)-1, out);
	dp_usb_devices_free(pool.devs, pool.n);
	for (size_t k = 0; pool.by_member && k < sel->n_bundle; k++)
		free(pool.by_member[k]);
	free(pool.by_member);
	free(pool.counts);
	free(pool.hub);
	free(pool.used);
	if (r < 0)
		dp_matches_clear(out);
	return r;
}
