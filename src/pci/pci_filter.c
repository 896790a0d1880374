/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filters in the syntax of lspci -s and -d (pciutils lib/filter.c), so that operators can reuse the
 * selectors they already type, plus a class-prefix filter.
 */
#include <errno.h>
#include <string.h>

#include "pci_filter.h"

/*
 * Parse one filter field: empty or "*" means any (-1); otherwise 1..8 hex digits, nothing else
 * (lspci also accepts strtol's "0x" and signs, which only hide typos).
 */
static int parse_field(const char *s, size_t len, unsigned long max, long *out)
{
	unsigned long v = 0;

	if (len == 0 || (len == 1 && s[0] == '*')) {
		*out = -1;
		return 0;
	}
	if (len > 8)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * 16 + d;
	}
	if (v > max)
		return -EINVAL;
	*out = (long)v;
	return 0;
}

static int bad_field(hostdev_ctx *ctx, const char *spec, const char *what, const char *s,
		     size_t len, const char *limit)
{
	return hostdev_error(ctx, -EINVAL, "invalid %s '%.*s' in filter '%s': expected %s", what,
			     (int)len, s, spec, limit);
}

int pci_slot_filter_parse(hostdev_ctx *ctx, const char *spec, struct pci_slot_filter *out)
{
	struct pci_slot_filter f = {-1, -1, -1, -1};
	const char *colon, *first_colon, *mid, *dot, *end;

	if (!spec)
		return hostdev_error(ctx, -EINVAL, "slot filter must not be NULL");
	end = spec + strlen(spec);
	colon = strrchr(spec, ':');
	mid = colon ? colon + 1 : spec;
	dot = strchr(mid, '.');
	if (colon) {
		const char *bus = spec;

		first_colon = strchr(spec, ':');
		if (first_colon != colon) {
			/* domain:bus:slot; a third ':' makes the bus field invalid below. */
			if (parse_field(spec, (size_t)(first_colon - spec), 0x7fffffff, &f.domain) <
			    0)
				return bad_field(ctx, spec, "domain", spec,
						 (size_t)(first_colon - spec),
						 "hex up to 7fffffff or '*'");
			bus = first_colon + 1;
		}
		if (parse_field(bus, (size_t)(colon - bus), 0xff, &f.bus) < 0)
			return bad_field(ctx, spec, "bus", bus, (size_t)(colon - bus),
					 "hex 00-ff or '*'");
	}
	if (parse_field(mid, (size_t)((dot ? dot : end) - mid), 0x1f, &f.slot) < 0)
		return bad_field(ctx, spec, "slot", mid, (size_t)((dot ? dot : end) - mid),
				 "hex 00-1f or '*'");
	if (dot && parse_field(dot + 1, (size_t)(end - dot - 1), 7, &f.function) < 0)
		return bad_field(ctx, spec, "function", dot + 1, (size_t)(end - dot - 1),
				 "0-7 or '*'");
	*out = f;
	return 0;
}

int pci_id_filter_parse(hostdev_ctx *ctx, const char *spec, struct pci_id_filter *out)
{
	struct pci_id_filter f = {-1, -1, -1, -1};
	const char *fields[4] = {NULL}, *p;
	size_t lens[4] = {0}, n = 0;
	static const char *const what[4] = {"vendor ID", "device ID", "class code",
					    "programming interface"};
	static const unsigned long max[4] = {0xffff, 0xffff, 0xffff, 0xff};
	long *dest[4] = {&f.vendor, &f.device, &f.class16, &f.prog_if};

	if (!spec)
		return hostdev_error(ctx, -EINVAL, "ID filter must not be NULL");
	if (!strchr(spec, ':'))
		return hostdev_error(
		    ctx, -EINVAL,
		    "invalid ID filter '%s': expected vendor:device[:class[:prog_if]] "
		    "such as 8086:1521 or 10de:",
		    spec);
	for (p = spec; n < 4; n++) {
		const char *c = strchr(p, ':');

		fields[n] = p;
		lens[n] = c ? (size_t)(c - p) : strlen(p);
		if (!c) {
			n++;
			break;
		}
		p = c + 1;
		if (n == 3)
			return hostdev_error(ctx, -EINVAL,
					     "invalid ID filter '%s': too many ':' fields (at most "
					     "vendor:device:class:prog_if)",
					     spec);
	}
	for (size_t i = 0; i < n; i++)
		if (parse_field(fields[i], lens[i], max[i], dest[i]) < 0)
			return bad_field(ctx, spec, what[i], fields[i], lens[i],
					 i == 3 ? "hex 00-ff or '*'" : "hex 0000-ffff or '*'");
	*out = f;
	return 0;
}

int pci_class_filter_parse(hostdev_ctx *ctx, const char *spec, struct pci_class_filter *out)
{
	long v;
	size_t len;

	if (!spec)
		return hostdev_error(ctx, -EINVAL, "class filter must not be NULL");
	if (spec[0] == '0' && (spec[1] == 'x' || spec[1] == 'X'))
		spec += 2;
	len = strlen(spec);
	if ((len != 2 && len != 4 && len != 6) || parse_field(spec, len, 0xffffff, &v) < 0 || v < 0)
		return hostdev_error(ctx, -EINVAL,
				     "invalid class filter '%s': expected 2, 4 or 6 hex digits "
				     "(class, class+subclass, or with prog-if), such as 02 or 0200",
				     spec);
	out->value = (unsigned int)v;
	out->digits = (unsigned int)len;
	return 0;
}

bool pci_slot_filter_match(const struct pci_slot_filter *f, const struct hostdev_pci_address *a)
{
	return (f->domain < 0 || (unsigned long)f->domain == a->domain) &&
	       (f->bus < 0 || f->bus == a->bus) && (f->slot < 0 || f->slot == a->slot) &&
	       (f->function < 0 || f->function == a->function);
}

bool pci_id_filter_match(const struct pci_id_filter *f, unsigned int vendor, unsigned int device,
			 unsigned int class_code)
{
	return (f->vendor < 0 || (unsigned int)f->vendor == vendor) &&
	       (f->device < 0 || (unsigned int)f->device == device) &&
	       (f->class16 < 0 || (unsigned int)f->class16 == class_code >> 8) &&
	       (f->prog_if < 0 || (unsigned int)f->prog_if == (class_code & 0xff));
}

bool pci_class_filter_match(const struct pci_class_filter *f, unsigned int class_code)
{
	return class_code >> (4 * (6 - f->digits)) == f->value;
}
