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

HOSTDEV_EXPORT int hostdev_pci_address_format(const struct hostdev_pci_address *addr, char *buf,
					      size_t size)
{
	int n;

	if (!addr || !buf || addr->slot > 0x1f || addr->function > 7)
		return -EINVAL;
	n = snprintf(buf, size, "%04x:%02x:%02x.%x", (unsigned int)addr->domain,
		     (unsigned int)addr->bus, (unsigned int)addr->slot,
		     (unsigned int)addr->function);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}
