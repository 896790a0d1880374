/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enumeration of USB devices. The list of names comes from libudev when the context reads the
 * system's sysfs (so that udev's view, and umockdev's in tests, is used), else from a listing of
 * <sysfs>/bus/usb/devices; every device is then read from the context's sysfs. Port filters are
 * applied to the names, so filtered-out devices are never opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libudev.h>

#include "core/core.h"
#include "usb.h"

struct usb_id_filter {
	int vendor, product; /* -1 = any */
};

struct usb_port_filter {
	char *path;
	bool below; /* "2-1.*": every device under port 2-1 */
};

struct hostdev_usb_enum {
	int refcount;
	hostdev_ctx *ctx;
	unsigned int flags;
	struct usb_id_filter *ids;
	size_t n_ids;
	struct usb_port_filter *ports;
	size_t n_ports;
	struct strv serials;

	bool started, failed;
	int devices_fd;
	struct strv names; /* matching port filters, sorted */
	size_t pos;
};

HOSTDEV_EXPORT int hostdev_usb_enum_new(hostdev_ctx *ctx, unsigned int flags,
					hostdev_usb_enum **out)
{
	hostdev_usb_enum *e;

	if (!ctx || !out)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, HOSTDEV_USB_ENUM_HUBS, "unknown USB enumerator");
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->refcount = 1;
	e->ctx = hostdev_ctx_ref(ctx);
	e->flags = flags;
	e->devices_fd = -1;
	*out = e;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void usb_enum_destroy(hostdev_usb_enum *e)
{
	free(e->ids);
	for (size_t i = 0; i < e->n_ports; i++)
		free(e->ports[i].path);
	free(e->ports);
	strv_clear(&e->serials);
	strv_clear(&e->names);
	if (e->devices_fd >= 0)
		close(e->devices_fd);
	hostdev_ctx_unref(e->ctx);
	free(e);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_usb_enum, usb_enum_destroy)

static int check_not_started(hostdev_usb_enum *e)
{
	if (e->started)
		return hostdev_error(
		    e->ctx, -EBUSY,
		    "filters must be added before the first hostdev_usb_enum_next()");
	return 0;
}

/* One id of "[vendor]:[product]": 1-4 hex digits, or empty / "*" for any. */
static int parse_id_part(const char *s, size_t len, int *out)
{
	unsigned int v = 0;

	if (len == 0 || (len == 1 && s[0] == '*')) {
		*out = -1;
		return 0;
	}
	if (len > 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int usb_id_spec_parse(const char *spec, int *vendor, int *product)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;

	if (!colon || strchr(colon + 1, ':'))
		return -EINVAL;
	if (parse_id_part(spec, (size_t)(colon - spec), vendor) < 0 ||
	    parse_id_part(colon + 1, strlen(colon + 1), product) < 0)
		return -EINVAL;
	return 0;
}

HOSTDEV_EXPORT int hostdev_usb_enum_add_id_filter(hostdev_usb_enum *e, const char *spec)
{
	struct usb_id_filter f, *grown;
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0)
		return r;
	if (usb_id_spec_parse(spec, &f.vendor, &f.product) < 0)
		return hostdev_error(e->ctx, -EINVAL,
				     "invalid USB id filter '%s': expected VENDOR:PRODUCT in hex "
				     "(lsusb -d syntax), e.g. 0951:1666, 0951: or :1666",
				     spec ? spec : "(null)");
	grown = dp_array_grow(e->ids, e->n_ids, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	e->ids = grown;
	e->ids[e->n_ids++] = f;
	return 0;
}

HOSTDEV_EXPORT int hostdev_usb_enum_add_serial_filter(hostdev_usb_enum *e, const char *serial)
{
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0)
		return r;
	if (!serial || !serial[0])
		return hostdev_error(e->ctx, -EINVAL,
				     "empty USB serial filter: give the serial number as the "
				     "device reports it");
	return strv_push(&e->serials, serial);
}

HOSTDEV_EXPORT int hostdev_usb_enum_add_port_filter(hostdev_usb_enum *e, const char *port_path)
{
	struct usb_port_filter f = {NULL, false}, *grown;
	size_t len;
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0)
		return r;
	len = port_path ? strlen(port_path) : 0;
	f.path = port_path ? strdup(port_path) : NULL;
	if (port_path && !f.path)
		return -ENOMEM;
	if (f.path && len > 2 && strcmp(f.path + len - 2, ".*") == 0) {
		f.below = true;
		f.path[len - 2] = '\0';
	}
	if (!f.path || !usb_is_device_name(f.path) || strncmp(f.path, "usb", 3) == 0) {
		free(f.path);
		return hostdev_error(e->ctx, -EINVAL,
				     "invalid USB port filter '%s': expected BUS-PORT[.PORT...] "
				     "such as 2-1.4 (BUS-0 for a root hub), or 2-1.* for every "
				     "device below port 2-1",
				     port_path ? port_path : "(null)");
	}
	grown = dp_array_grow(e->ports, e->n_ports, sizeof(*grown));
	if (!grown) {
		free(f.path);
		return -ENOMEM;
	}
	e->ports = grown;
	e->ports[e->n_ports++] = f;
	return 0;
}

/* The port path of kernel name @name: "usbN" is "N-0". */
static void name_to_port(const char *name, char *buf, size_t size)
{
	if (strncmp(name, "usb", 3) == 0)
		snprintf(buf, size, "%s-0", name + 3);
	else
		snprintf(buf, size, "%s", name);
}

static bool port_filters_match(hostdev_usb_enum *e, const char *name)
{
	char port[256];

	if (e->n_ports == 0)
		return true;
	name_to_port(name, port, sizeof(port));
	for (size_t i = 0; i < e->n_ports; i++) {
		const struct usb_port_filter *f = &e->ports[i];
		size_t len = strlen(f->path);

		if (!f->below && strcmp(port, f->path) == 0)
			return true;
		if (f->below && strncmp(port, f->path, len) == 0 && port[len] == '.')
			return true;
	}
	return false;
}

static bool device_filters_match(hostdev_usb_enum *e, hostdev_usb_device *dev)
{
	bool ok;

	if (!(e->flags & HOSTDEV_USB_ENUM_HUBS) && hostdev_usb_device_is_hub(dev))
		return false;
	if (e->n_ids) {
		ok = false;
		for (size_t i = 0; i < e->n_ids && !ok; i++)
			ok = (e->ids[i].vendor < 0 ||
			      (unsigned int)e->ids[i].vendor == dev->vendor_id) &&
			     (e->ids[i].product < 0 ||
			      (unsigned int)e->ids[i].product == dev->product_id);
		if (!ok)
			return false;
	}
	if (e->serials.count)
		return dev->serial && strv_contains(&e->serials, dev->serial);
	return true;
}

/* Parse "<bus>-<p>.<p>..." (or "usbN") into numbers for ordering. */
static size_t name_key(const char *name, unsigned long *key, size_t max)
{
	const char *p = name;
	size_t n = 0;
	char *end;

	if (strncmp(name, "usb", 3) == 0) {
		key[n++] = strtoul(name + 3, NULL, 10);
		key[n++] = 0;
		return n;
	}
	while (*p && n < max) {
		key[n++] = strtoul(p, &end, 10);
		if (end == p)
			break;
		p = *end ? end + 1 : end;
	}
	return n;
}

static int compare_names(const void *a, const void *b)
{
	unsigned long ka[16], kb[16];
	size_t na = name_key(*(char *const *)a, ka, 16), nb = name_key(*(char *const *)b, kb, 16);

	for (size_t i = 0; i < na && i < nb; i++)
		if (ka[i] != kb[i])
			return ka[i] < kb[i] ? -1 : 1;
	if (na != nb)
		return na < nb ? -1 : 1;
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool keep_device_name(const char *name)
{
	return usb_is_device_name(name);
}

/* Names of usb_device entries through libudev; -ENOTSUP when libudev is not usable. */
static int list_with_udev(struct strv *out)
{
	struct udev *udev = udev_new();
	struct udev_enumerate *en = udev ? udev_enumerate_new(udev) : NULL;
	struct udev_list_entry *item;
	int r = -ENOTSUP;

	if (!en)
		goto out;
	if (udev_enumerate_add_match_subsystem(en, "usb") < 0 ||
	    udev_enumerate_add_match_property(en, "DEVTYPE", "usb_device") < 0 ||
	    udev_enumerate_scan_devices(en) < 0)
		goto out;
	r = 0;
	udev_list_entry_foreach(item, udev_enumerate_get_list_entry(en))
	{
		const char *syspath = udev_list_entry_get_name(item);
		const char *base = strrchr(syspath, '/');

		base = base ? base + 1 : syspath;
		if (usb_is_device_name(base) && (r = strv_push(out, base)) < 0)
			break;
	}
out:
	udev_enumerate_unref(en);
	udev_unref(udev);
	return r;
}

static int start_scan(hostdev_usb_enum *e)
{
	struct strv names = {0};
	char path[PATH_MAX];
	int r = -ENOTSUP;

	e->started = true;
	if (path_join(path, sizeof(path), ctx_sysfs(e->ctx), "bus/usb/devices") < 0)
		return hostdev_error(e->ctx, -ENAMETOOLONG, "sysfs path '%s' is too long",
				     ctx_sysfs(e->ctx));
	e->devices_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->devices_fd < 0) {
		if (errno == ENOENT) {
			/* No USB core (or no controller yet): nothing to list, not an error. */
			log_debug(e->ctx, "%s does not exist: no USB devices", path);
			return 0;
		}
		return hostdev_error(e->ctx, -errno, "cannot list USB devices in %s (%s)", path,
				     strerror(errno));
	}
	if (strcmp(ctx_sysfs(e->ctx), "/sys") == 0) {
		r = list_with_udev(&names);
		if (r == -ENOMEM) {
			strv_clear(&names);
			return r;
		}
		if (r < 0)
			strv_clear(&names);
	}
	if (r < 0) {
		r = sysfs_list_dir(e->devices_fd, ".", keep_device_name, &names);
		if (r < 0) {
			strv_clear(&names);
			return hostdev_error(e->ctx, r, "cannot read %s: %s", path, strerror(-r));
		}
	}
	for (size_t i = 0; i < names.count; i++) {
		if (!port_filters_match(e, names.items[i]))
			continue;
		if ((r = strv_push(&e->names, names.items[i])) < 0) {
			strv_clear(&names);
			return r;
		}
	}
	strv_clear(&names);
	if (e->names.count > 1)
		qsort(e->names.items, e->names.count, sizeof(char *), compare_names);
	return 0;
}

HOSTDEV_EXPORT int hostdev_usb_enum_next(hostdev_usb_enum *e, hostdev_usb_device **out)
{
	int r;

	if (!e || !out)
		return -EINVAL;
	if (!e->started && (r = start_scan(e)) < 0) {
		e->failed = true;
		return r;
	}
	if (e->failed)
		return -EBADF; /* the first scan failed; its error was reported then */
	if (e->devices_fd < 0)
		return 0; /* no USB bus at all */
	while (e->pos < e->names.count) {
		const char *name = e->names.items[e->pos++];
		hostdev_usb_device *dev;

		r = usb_device_new_at(e->ctx, e->devices_fd, name, &dev);
		if (r == -ENODEV) {
			log_debug(e->ctx, "USB device %s: vanished during enumeration, skipped",
				  name);
			continue;
		}
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			log_warn(e->ctx, "USB device %s: skipped: %s", name,
				 hostdev_ctx_get_error(e->ctx));
			continue;
		}
		if (!device_filters_match(e, dev)) {
			hostdev_usb_device_unref(dev);
			continue;
		}
		hostdev_clear_error(e->ctx);
		*out = dev;
		return 1;
	}
	return 0;
}
