/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names of USB devices: Harvester's USBDevice object name and resource (which embed bus and devnum
 * and so change on every re-plug), and two stable identities, by physical port and by serial
 * number, each turned into a valid Kubernetes device id. The rules and their stability are in
 * docs/usb.md; hostdev_naming_device_id() is the one shortening rule for all of them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usb.h"

#define DEVICE_ID_MAX 63
/* "-" + 10 hex digits (40 bits of the hash): collisions need ~1M ids of the same prefix. */
#define HASH_DIGITS 10

static const char kubevirt_prefix[] = "kubevirt.io/";

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_id_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

static bool is_valid_id(const char *s, size_t len)
{
	if (len == 0 || len > DEVICE_ID_MAX)
		return false;
	if (!is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_id_char((unsigned char)s[i]))
			return false;
	return true;
}

HOSTDEV_EXPORT int hostdev_naming_device_id(const char *text, char *buf, size_t size)
{
	char prefix[DEVICE_ID_MAX + 1];
	size_t len, n = 0, limit = DEVICE_ID_MAX - 1 - HASH_DIGITS;
	bool dash = false;
	int r;

	if (!text || !buf || !text[0])
		return -EINVAL;
	len = strlen(text);
	if (is_valid_id(text, len)) {
		if (len + 1 > size)
			return -ENOSPC;
		memcpy(buf, text, len + 1);
		return (int)len;
	}
	/* Allowed characters kept, every run of others one '-', no leading or trailing non-alnum.
	 */
	for (const unsigned char *p = (const unsigned char *)text; *p && n < limit; p++) {
		if (is_id_char(*p) && *p != '-') {
			if (dash && n > 0 && n + 1 < limit)
				prefix[n++] = '-';
			dash = false;
			if (n == 0 && !is_alnum(*p))
				continue;
			prefix[n++] = (char)*p;
		} else {
			dash = true;
		}
	}
	while (n > 0 && !is_alnum((unsigned char)prefix[n - 1]))
		n--;
	prefix[n] = '\0';
	if (n > 0)
		r = snprintf(buf, size, "%s-%0*llx", prefix, HASH_DIGITS,
			     (unsigned long long)(fnv1a64(text) & 0xffffffffffull));
	else
		r = snprintf(buf, size, "%0*llx", HASH_DIGITS,
			     (unsigned long long)(fnv1a64(text) & 0xffffffffffull));
	if (r < 0 || (size_t)r >= size)
		return -ENOSPC;
	return r;
}

/* "kubevirt.io/" + @id, malloc'ed. */
static char *kubevirt_resource(const char *id)
{
	char *s = NULL;

	if (id && asprintf(&s, "%s%s", kubevirt_prefix, id) < 0)
		s = NULL;
	return s;
}

/* @raw as a device id, malloc'ed; NULL on failure. */
static char *device_id(const char *raw)
{
	char buf[HOSTDEV_NAME_MAX];

	if (!raw || hostdev_naming_device_id(raw, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

/* The controller as it appears in the port identity: a PCI address without ':' and '.'. */
static void controller_part(const char *controller, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *p = controller; *p && n + 1 < size; p++)
		if (*p != ':' && *p != '.')
			buf[n++] = *p;
	buf[n] = '\0';
}

static char *port_identity(hostdev_usb_device *dev)
{
	const char *node = hostdev_ctx_get_node_name(dev->ctx);
	const char *chain = strchr(dev->port_path, '-');
	char controller[256], gen[16] = "";
	char *raw = NULL;

	chain = chain ? chain + 1 : "0";
	if (dev->root_speed_class)
		snprintf(gen, sizeof(gen), "%u", dev->root_speed_class);
	if (dev->controller) {
		controller_part(dev->controller, controller, sizeof(controller));
		if (asprintf(&raw, "%s-%s-usb%s-%s", node, controller, gen, chain) < 0)
			raw = NULL;
	} else if (asprintf(&raw, "%s-bus%u-%s", node, dev->busnum, chain) < 0) {
		raw = NULL;
	}
	return raw;
}

/* A serial that identifies something: present and not only whitespace. */
static bool has_serial(const char *serial)
{
	if (!serial)
		return false;
	for (const char *p = serial; *p; p++)
		if (*p != ' ' && *p != '\t')
			return true;
	return false;
}

void usb_device_load_naming(hostdev_usb_device *dev)
{
	char buf[HOSTDEV_NAME_MAX];
	char *raw;

	if (dev->loaded & USB_PART_NAMING)
		return;
	dev->loaded |= USB_PART_NAMING;
	if (hostdev_naming_usb_object_name(hostdev_ctx_get_node_name(dev->ctx), dev->vendor_id,
					   dev->product_id, dev->busnum, dev->devnum, buf,
					   sizeof(buf)) >= 0) {
		dev->object_name = strdup(buf);
		dev->resource_name = kubevirt_resource(dev->object_name);
	}
	raw = port_identity(dev);
	dev->port_id = device_id(raw);
	free(raw);
	dev->port_resource_name = kubevirt_resource(dev->port_id);
	if (has_serial(dev->serial)) {
		if (asprintf(&raw, "usb-%04x-%04x-%s", dev->vendor_id, dev->product_id,
			     dev->serial) < 0)
			raw = NULL;
		dev->serial_id = device_id(raw);
		free(raw);
		dev->serial_resource_name = kubevirt_resource(dev->serial_id);
	}
}

HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_object_name,
			      usb_device_load_naming, object_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_resource_name,
			      usb_device_load_naming, resource_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_port_id, usb_device_load_naming,
			      port_id, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_port_resource_name,
			      usb_device_load_naming, port_resource_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_serial_id,
			      usb_device_load_naming, serial_id, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_usb_device, get_serial_resource_name,
			      usb_device_load_naming, serial_resource_name, NULL)
