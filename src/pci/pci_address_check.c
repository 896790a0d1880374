/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's one way to refuse a PCI address a caller gave: parse it, or say what was given,
 * what is wrong with it and which form is expected (the parsing itself is pci_address.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci.h"

/* Digits of a field: all hex, counted; -1 when another character is in it. */
static int hex_digits(const char *s, size_t len, unsigned long *value)
{
	unsigned long v = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + (unsigned long)((c | 0x20) - 'a' + 10);
		else
			return -1;
		if (v > 0xffffffffUL)
			v = 0xffffffffUL + 1; /* saturate: only "too large" matters */
	}
	*value = v;
	return (int)(len > 64 ? 64 : len);
}

/* Which part of @text keeps it from being a PCI address. */
static void address_problem(const char *text, char *buf, size_t size)
{
	static const char *const names[] = {"domain", "bus", "device", "function"};
	static const int max_digits[] = {8, 2, 2, 1};
	static const unsigned long max_value[] = {0xffffffffUL, 0xff, 0x1f, 7};
	const char *fields[4], *dot = strchr(text, '.');
	size_t lens[4], colons = 0, first;

	for (const char *p = text; *p; p++)
		colons += *p == ':';
	if (!text[0]) {
		snprintf(buf, size, "it is empty");
		return;
	}
	if (colons == 0 || colons > 2 || !dot || strchr(dot + 1, '.') || strchr(dot, ':')) {
		snprintf(buf, size, "it does not have the form [DDDD:]BB:DD.F");
		return;
	}
	/* Split into domain (when given), bus, device and function. */
	first = colons == 2 ? 0 : 1;
	fields[0] = "";
	lens[0] = 0;
	fields[first] = text;
	for (size_t f = first; f < 3; f++) {
		const char *end = f == 2 ? dot : strchr(fields[f], ':');

		lens[f] = (size_t)(end - fields[f]);
		fields[f + 1] = end + 1;
	}
	lens[3] = strlen(fields[3]);
	for (size_t f = first; f < 4; f++) {
		unsigned long v;
		int n = hex_digits(fields[f], lens[f], &v);

		if (lens[f] == 0)
			snprintf(buf, size, "the %s is empty", names[f]);
		else if (n < 0)
			snprintf(buf, size, "the %s '%.*s' is not hex", names[f], (int)lens[f],
				 fields[f]);
		else if (n > max_digits[f])
			snprintf(buf, size, "the %s '%.*s' has more than %d hex digit%s", names[f],
				 (int)lens[f], fields[f], max_digits[f],
				 max_digits[f] > 1 ? "s" : "");
		else if (v > max_value[f])
			snprintf(buf, size, "the %s '%.*s' is above %lx", names[f], (int)lens[f],
				 fields[f], max_value[f]);
		else
			continue;
		return;
	}
	snprintf(buf, size, "it does not have the form [DDDD:]BB:DD.F");
}

void pci_address_explain(const char *text, char *buf, size_t size)
{
	char problem[128];

	if (!text) {
		snprintf(buf, size, "no PCI address given (NULL): expected " PCI_ADDRESS_FORM);
		return;
	}
	address_problem(text, problem, sizeof(problem));
	snprintf(buf, size, "'%.64s%s' is not a PCI address (%s): expected " PCI_ADDRESS_FORM, text,
		 strlen(text) > 64 ? "..." : "", problem);
}

int pci_address_parse_or_explain(hostdev_ctx *ctx, const char *what, const char *text,
				 struct hostdev_pci_address *out, char *canonical)
{
	struct hostdev_pci_address addr;
	char message[HOSTDEV_ERROR_MAX / 2];

	if (text && hostdev_pci_address_parse(text, &addr) == 0) {
		if (out)
			*out = addr;
		if (canonical)
			hostdev_pci_address_format(&addr, canonical, HOSTDEV_PCI_ADDRESS_MAX);
		return 0;
	}
	pci_address_explain(text, message, sizeof(message));
	return hostdev_error(ctx, -EINVAL, "%s%s%s", what ? what : "", what ? " " : "", message);
}
