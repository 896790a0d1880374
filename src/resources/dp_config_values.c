/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The syntax of the values of the resource selection config: ids, classes, addresses, VF index
 * ranges, USB ports, driver and interface names. Pure functions (no context), shared by the
 * parser and the tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_config.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly four hex digits. */
static int parse_hex4(const char *s, size_t len)
{
	int v = 0;

	if (len != 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d = hex_digit(s[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

void dp_format_id_filter(const struct dp_id_pair *pair, char *buf, size_t size)
{
	if (pair->second < 0)
		snprintf(buf, size, "%04x:", (unsigned int)pair->first);
	else
		snprintf(buf, size, "%04x:%04x", (unsigned int)pair->first,
			 (unsigned int)pair->second);
}

int dp_parse_id_pair(const char *text, struct dp_id_pair *out)
{
	const char *colon = text ? strchr(text, ':') : NULL;
	int first, second;

	if (!colon || strchr(colon + 1, ':'))
		return -EINVAL;
	first = parse_hex4(text, (size_t)(colon - text));
	if (first < 0)
		return -EINVAL;
	if (strcmp(colon + 1, "*") == 0)
		second = -1;
	else if ((second = parse_hex4(colon + 1, strlen(colon + 1))) < 0)
		return -EINVAL;
	out->first = first;
	out->second = second;
	return 0;
}

int dp_parse_class(const char *text, char **out)
{
	size_t len = text ? strlen(text) : 0;
	char *copy;

	if (len != 2 && len != 4 && len != 6)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (hex_digit(text[i]) < 0)
			return -EINVAL;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (char *p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	*out = copy;
	return 0;
}

int dp_parse_pci_address(const char *text, char **out)
{
	struct hostdev_pci_address addr;
	char buf[HOSTDEV_PCI_ADDRESS_MAX];
	char *copy;

	if (!text || hostdev_pci_address_parse(text, &addr) < 0 ||
	    hostdev_pci_address_format(&addr, buf, sizeof(buf)) < 0)
		return -EINVAL;
	copy = strdup(buf);
	if (!copy)
		return -ENOMEM;
	*out = copy;
	return 0;
}

/* A decimal VF index 0..65535 of 1-5 digits; advances *p. */
static int parse_index(const char **p, unsigned int *out)
{
	unsigned int v = 0;
	int digits = 0;

	while (**p >= '0' && **p <= '9') {
		if (++digits > 5)
			return -EINVAL;
		v = v * 10 + (unsigned int)(**p - '0');
		(*p)++;
	}
	if (digits == 0 || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

int dp_parse_vf_ranges(const char *text, struct dp_vf_range **out, size_t *n_out)
{
	struct dp_vf_range *ranges;
	size_t n = 0, items = 1;
	const char *p = text;

	if (!p)
		return -EINVAL;
	if (*p == '#')
		p++;
	if (*p == '\0')
		return -EINVAL;
	/* One allocation for every item (a long list must not be copied once per item). */
	for (const char *c = p; *c; c++)
		items += *c == ',';
	ranges = calloc(items, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (;;) {
		struct dp_vf_range r;

		if (parse_index(&p, &r.first) < 0)
			goto bad;
		r.last = r.first;
		if (*p == '-') {
			p++;
			if (parse_index(&p, &r.last) < 0 || r.last < r.first)
				goto bad;
		}
		ranges[n++] = r;
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	*out = ranges;
	*n_out = n;
	return 0;
bad:
	free(ranges);
	return -EINVAL;
}

bool dp_vf_in_ranges(const struct dp_vf_range *ranges, size_t n_ranges, unsigned int index)
{
	if (n_ranges == 0)
		return true;
	for (size_t i = 0; i < n_ranges; i++)
		if (index >= ranges[i].first && index <= ranges[i].last)
			return true;
	return false;
}

/* "<bus>-<port>[.<port>...]" with decimal numbers, the last port optionally "*". */
int dp_check_usb_port(const char *text)
{
	const char *p = text;
	unsigned int v;

	if (!p || parse_index(&p, &v) < 0 || v == 0 || *p != '-')
		return -EINVAL;
	p++;
	for (;;) {
		if (*p == '*' && p[1] == '\0' && p[-1] == '.')
			return 0;
		if (parse_index(&p, &v) < 0 || v == 0 || v > 255)
			return -EINVAL;
		if (*p == '\0')
			return 0;
		if (*p != '.')
			return -EINVAL;
		p++;
	}
}

int dp_check_driver(const char *text)
{
	size_t len = text ? strlen(text) : 0;

	if (len == 0 || len > 63)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return -EINVAL;
	}
	return 0;
}

int dp_check_ifname(const char *text)
{
	size_t len = text ? strlen(text) : 0;

	/* The kernel's dev_valid_name(): < IFNAMSIZ (16), not "." or "..", no '/', ':' or space. */
	if (len == 0 || len > 15 || strcmp(text, ".") == 0 || strcmp(text, "..") == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
			return -EINVAL;
	}
	return 0;
}

int dp_check_domain(const char *text)
{
	char probe[300];

	if (!text || !*text || strchr(text, '/') || strlen(text) > 253)
		return -EINVAL;
	snprintf(probe, sizeof(probe), "%s/x", text);
	return hostdev_naming_check_resource_name(probe) == 0 ? 0 : -EINVAL;
}
