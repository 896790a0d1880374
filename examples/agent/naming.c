/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Object names and the few Harvester strings the library does not produce itself. PCIDevice
 * names, descriptions and resource names come bit-exact from libhostdev's naming getters; here
 * are the USBDevice name choice (stable port identity or Harvester's bus/devnum name), the
 * SRIOVNetworkDevice name, the USBDevice description and classType, and label values.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int naming_valid_object_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' ||
		      c == '.'))
			return 0;
	}
	return isalnum((unsigned char)name[0]) && isalnum((unsigned char)name[n - 1]);
}

char *naming_usb_object(hostdev_usb_device *dev, enum usb_naming mode)
{
	const char *port = hostdev_usb_device_get_port_id(dev);
	const char *harvester = hostdev_usb_device_get_object_name(dev);

	/* The port identity is a device id ([A-Za-z0-9._-]); an object name must also be
	 * lower-case without '_'. Node names are lower-case, so this only matters for unusual
	 * controller names: those fall back to Harvester's name rather than a mangled one. */
	if (mode == USB_NAMING_PORT && port && naming_valid_object_name(port))
		return strdup(port);
	return harvester ? strdup(harvester) : NULL;
}

char *naming_sriov_object(hostdev_pci_device *pf, const char *node)
{
	const char *ifname = hostdev_pci_device_get_netdev_count(pf) > 0
				 ? hostdev_pci_device_get_netdev(pf, 0)
				 : NULL;
	char *name = NULL;

	if (!ifname)
		return strdup(hostdev_pci_device_get_object_name(pf));
	if (asprintf(&name, "%s-%s", node, ifname) < 0)
		return NULL;
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return name;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n);

int naming_is_utf8(const char *text)
{
	return valid_utf8((const unsigned char *)text, strlen(text));
}

static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		unsigned int cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

char *naming_usb_description(hostdev_usb_device *dev)
{
	const char *vendor = hostdev_usb_device_get_vendor_name(dev);
	const char *product = hostdev_usb_device_get_product_name(dev);
	const char *string = hostdev_usb_device_get_product(dev);
	char *base = NULL, *out = NULL;
	int r;

	if (vendor && product)
		r = asprintf(&base, "%s (%s)", product, vendor);
	else if (vendor)
		r = asprintf(&base, "Unknown (%s)", vendor);
	else
		r = asprintf(&base, "Unknown %04x:%04x", hostdev_usb_device_get_vendor_id(dev),
			     hostdev_usb_device_get_product_id(dev));
	if (r < 0)
		return NULL;
	if (!string || !string[0])
		return base;
	/* Harvester trims the sysfs string; it is raw bytes, so keep it only when it is valid
	 * UTF-8 (cJSON would emit invalid JSON otherwise). */
	{
		size_t b = strspn(string, " \t\n"), e = strlen(string);

		while (e > b && isspace((unsigned char)string[e - 1]))
			e--;
		if (e == b || !valid_utf8((const unsigned char *)string + b, e - b))
			return base;
		if (asprintf(&out, "%s [%.*s]", base, (int)(e - b), string + b) < 0)
			out = NULL;
	}
	free(base);
	return out;
}

const char *naming_usb_class_type(unsigned int class_code, char *buf, size_t size)
{
	static const struct {
		unsigned int code;
		const char *name;
	} names[] = {
	    {0x01, "Audio"},
	    {0x02, "Communications"},
	    {0x03, "HID"},
	    {0x05, "Physical"},
	    {0x06, "Image"},
	    {0x07, "Printer"},
	    {0x08, "Mass Storage"},
	    {0x09, "Hub"},
	    {0x0a, "CDC-Data"},
	    {0x0b, "Smart Card"},
	    {0x0d, "Content Security"},
	    {0x0e, "Video"},
	    {0x0f, "Personal Healthcare"},
	    {0x10, "Audio/Video"},
	    {0x11, "Billboard"},
	    {0x12, "USB Type-C Bridge"},
	    {0x13, "USB Bulk Display Protocol"},
	    {0x14, "MCTP over USB"},
	    {0x3c, "I3C Device"},
	    {0xdc, "Diagnostic"},
	    {0xe0, "Wireless Controller"},
	    {0xef, "Miscellaneous"},
	    {0xfe, "Application Specific"},
	    {0xff, "Vendor Specific"},
	};

	if (class_code == 0)
		return NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == class_code)
			return names[i].name;
	snprintf(buf, size, "Unknown (0x%02x)", class_code);
	return buf;
}

const char *naming_label_value(const char *text, char *buf, size_t size)
{
	size_t n = 0;

	if (!text)
		return NULL;
	for (const char *p = text; *p && n + 1 < size && n < 63; p++) {
		char c = *p;

		buf[n++] =
		    (isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.') ? c : '_';
	}
	buf[n] = '\0';
	while (n > 0 && !isalnum((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (n == 0 || !isalnum((unsigned char)buf[0]))
		return NULL;
	return buf;
}
