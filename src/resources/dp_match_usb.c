/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USB selectors (vendorProduct, serial, port) as the enumerator's filters, and the device ids:
 * stable identities (docs/usb.md), the serial identity only while no other selected device
 * reports the same serial (cheap devices share one), else the port identity. Hubs are never
 * selected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_match.h"

int dp_usb_add_filters(hostdev_usb_enum *e, const struct dp_selectors *sel)
{
	char spec[32];
	int r = 0;

	for (size_t i = 0; i < sel->n_ids && r == 0; i++) {
		dp_format_id_filter(&sel->ids[i], spec, sizeof(spec));
		r = hostdev_usb_enum_add_id_filter(e, spec);
	}
	for (size_t i = 0; i < sel->n_bundle && r == 0; i++) {
		dp_format_id_filter(&sel->bundle[i], spec, sizeof(spec));
		r = hostdev_usb_enum_add_id_filter(e, spec);
	}
	for (size_t i = 0; i < sel->n_serials && r == 0; i++)
		r = hostdev_usb_enum_add_serial_filter(e, sel->serials[i]);
	for (size_t i = 0; i < sel->n_ports && r == 0; i++)
		r = hostdev_usb_enum_add_port_filter(e, sel->ports[i]);
	return r;
}

/* True when another device of @devs has the same serial identity as @devs[i]. */
static bool serial_shared(hostdev_usb_device **devs, size_t n, size_t i)
{
	const char *id = hostdev_usb_device_get_serial_id(devs[i]);

	for (size_t j = 0; j < n; j++) {
		const char *other = j == i ? NULL : hostdev_usb_device_get_serial_id(devs[j]);

		if (other && strcmp(other, id) == 0)
			return true;
	}
	return false;
}

const char *dp_usb_identity(const struct dp_spec *spec, hostdev_usb_device **devs, size_t n,
			    size_t i, const char **why)
{
	const char *serial = hostdev_usb_device_get_serial_id(devs[i]);

	if (spec->usb_identity == DP_USB_ID_PORT)
		return hostdev_usb_device_get_port_id(devs[i]);
	if (serial && !serial_shared(devs, n, i))
		return serial;
	if (spec->usb_identity == DP_USB_ID_SERIAL) {
		*why = serial ? "another selected device reports the same serial"
			      : "it reports no serial";
		return NULL;
	}
	return hostdev_usb_device_get_port_id(devs[i]);
}

static char *name_of(const struct dp_spec *spec, hostdev_usb_device *dev, const char *id)
{
	const char *name;
	char buf[HOSTDEV_NAME_MAX + 16];

	switch (spec->naming) {
	case DP_NAMING_EXPLICIT:
		return strdup(spec->resource_name);
	case DP_NAMING_HARVESTER:
		name = hostdev_usb_device_get_resource_name(dev);
		if (!name || hostdev_naming_check_resource_name(name) < 0)
			return NULL;
		return strdup(name);
	case DP_NAMING_PER_DEVICE:
		snprintf(buf, sizeof(buf), "kubevirt.io/%s", id);
		if (hostdev_naming_check_resource_name(buf) < 0)
			return NULL;
		return strdup(buf);
	}
	return NULL;
}

static int add_match(const struct dp_spec *spec, hostdev_usb_device **devs, size_t n, size_t i,
		     struct dp_matches *out)
{
	hostdev_usb_device *dev = devs[i];
	const char *why = "no identity can be made";
	const char *id = dp_usb_identity(spec, devs, n, i, &why);
	char *name = id ? name_of(spec, dev, id) : NULL;
	struct dp_match *m;
	char msg[320];

	if (!id || !name) {
		free(name);
		snprintf(msg, sizeof(msg), "USB device %s (%04x:%04x) left out: %s",
			 hostdev_usb_device_get_name(dev), hostdev_usb_device_get_vendor_id(dev),
			 hostdev_usb_device_get_product_id(dev),
			 id ? "its name is not a valid resource name" : why);
		return dp_matches_skip(out, msg);
	}
	m = dp_matches_add(out);
	if (!m) {
		free(name);
		return -ENOMEM;
	}
	m->name = name;
	m->key = strdup(hostdev_usb_device_get_name(dev));
	m->id = strdup(id);
	m->vendor = hostdev_usb_device_get_vendor_id(dev);
	m->device = hostdev_usb_device_get_product_id(dev);
	if (!m->key || !m->id || !dp_match_extra(m))
		return -ENOMEM;
	m->extra->busnum = hostdev_usb_device_get_busnum(dev);
	m->extra->devnum = hostdev_usb_device_get_devnum(dev);
	return dp_usb_add_member(m, dev, id);
}

int dp_usb_add_member(struct dp_match *m, hostdev_usb_device *dev, const char *identity)
{
	struct dp_match_extra *e = dp_match_extra(m);
	struct dp_usb_member *grown =
	    e ? dp_array_grow(e->members, e->n_members, sizeof(*grown)) : NULL;
	struct dp_usb_member *member;

	if (!grown)
		return -ENOMEM;
	e->members = grown;
	member = &e->members[e->n_members];
	memset(member, 0, sizeof(*member));
	member->busnum = hostdev_usb_device_get_busnum(dev);
	member->devnum = hostdev_usb_device_get_devnum(dev);
	member->key = strdup(hostdev_usb_device_get_name(dev));
	member->identity = strdup(identity);
	e->n_members++;
	return member->key && member->identity ? 0 : -ENOMEM;
}

void dp_usb_devices_free(hostdev_usb_device **devs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hostdev_usb_device_unref(devs[i]);
	free(devs);
}

int dp_usb_enumerate(hostdev_ctx *ctx, const struct dp_spec *spec, hostdev_usb_device ***out,
		     size_t *n_out)
{
	hostdev_usb_device **devs = NULL, *dev;
	hostdev_usb_enum *e = NULL;
	size_t n = 0;
	int r;

	if ((r = hostdev_usb_enum_new(ctx, 0, &e)) < 0 ||
	    (r = dp_usb_add_filters(e, &spec->sel)) < 0)
		goto out;
	while ((r = hostdev_usb_enum_next(e, &dev)) > 0) {
		hostdev_usb_device **grown = realloc(devs, (n + 1) * sizeof(*grown));

		if (!grown) {
			hostdev_usb_device_unref(dev);
			r = -ENOMEM;
			break;
		}
		devs = grown;
		devs[n++] = dev;
	}
out:
	hostdev_usb_enum_unref(e);
	if (r < 0) {
		dp_usb_devices_free(devs, n);
		return r;
	}
	*out = devs;
	*n_out = n;
	return 0;
}

int dp_match_usb(hostdev_ctx *ctx, const struct dp_spec *spec, struct dp_matches *out)
{
	hostdev_usb_device **devs = NULL;
	size_t n = 0;
	int r;

	if ((r = dp_usb_enumerate(ctx, spec, &devs, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_match(spec, devs, n, i, out);
	dp_usb_devices_free(devs, n);
	if (r < 0)
		dp_matches_clear(out);
	return r;
}
