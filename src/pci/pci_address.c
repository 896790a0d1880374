/* SPDX-License-Identifier: Apache-2.0 */
/* PCI address parsing and formatting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

/* Parse exactly @len hex digits (no sign, no 0x) at @s. Returns 0 or -EINVAL. */
static int parse_hex_field(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t max_digits = 0;

	/* No more digits than the field can hold: "0000:00.1" is a typo, not bus 0. */
	for (unsigned long m = max; m; m >>= 4)
		max_digits++;
	if (len == 0 || len > max_digits)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EINVAL;
		v = v * 16 + (unsigned long)d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

HOSTDEV_EXPORT int hostdev_pci_address_parse(const char *text, struct hostdev_pci_address *out)
{
	const char *colon1, *colon2, *dot, *bus_start;
	unsigned long domain = 0, bus, slot, function;

	if (!text || !out)
		return -EINVAL;
	dot = strchr(text, '.');
	colon1 = strchr(text, ':');
	if (!dot || !colon1)
		return -EINVAL;
	colon2 = strchr(colon1 + 1, ':');
	if (colon2) {
		if (parse_hex_field(text, (size_t)(colon1 - text), 0xffffffffUL, &domain) < 0)
			return -EINVAL;
		bus_start = colon1 + 1;
		colon1 = colon2;
	} else {
		bus_start = text;
	}
	if (dot < colon1 ||
	    parse_hex_field(bus_start, (size_t)(colon1 - bus_start), 0xff, &bus) < 0 ||
	    parse_hex_field(colon1 + 1, (size_t)(dot - colon1 - 1), 0x1f, &slot) < 0 ||
	    parse_hex_field(dot + 1, strlen(dot + 1), 7, &function) < 0)
		return -EINVAL;
	out->domain = (uint32_t)domain;
	out->bus = (uint8_t)bus;
	out->slot = (uint8_t)slot;
	out->function = (uint8_t)function;
	return 0;
}

/* @value in lower-case hex, at least @width digits, at @p; returns the end. */
static char *put_hex(char *p, uint32_t value, int width)
{
	static const char hex[] = "0123456789abcdef";
	int digits = 1;

	while (digits < 8 && value >> (4 * digits))
		digits++;
	if (digits < width)
		digits = width;
	for (int i = digits - 1; i >= 0; i--)
		*p++ = hex[(value >> (4 * i)) & 0xf];
	return p;
}

HOSTDEV_EXPORT int hostdev_pci_address_format(const struct hostdev_pci_address *addr, char *buf,
					      size_t size)
{
	char text[HOSTDEV_PCI_ADDRESS_MAX > 20 ? HOSTDEV_PCI_ADDRESS_MAX : 20], *p = text;
	size_t n;

	if (!addr || !buf || addr->slot > 0x1f || addr->function > 7)
		return -EINVAL;
	/* "%04x:%02x:%02x.%x" by hand: snprintf() was most of a device's address handling. */
	p = put_hex(p, addr->domain, 4);
	*p++ = ':';
	p = put_hex(p, addr->bus, 2);
	*p++ = ':';
	p = put_hex(p, addr->slot, 2);
	*p++ = '.';
	*p++ = (char)('0' + addr->function);
	n = (size_t)(p - text);
	if (n >= size) {
		/* What snprintf() left: as much as fits. */
		if (size > 0) {
			memcpy(buf, text, size - 1);
			buf[size - 1] = '\0';
		}
		return -ENOSPC;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	return (int)n;
}
