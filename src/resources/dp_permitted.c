/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KubeVirt's spec.configuration.permittedHostDevices for resolved resources, as JSON or YAML
 * (docs/device-plugin.md, "KubeVirt permittedHostDevices"). Every entry carries
 * externalResourceProvider: true, since our plugins, not KubeVirt's, serve the resources.
 *
 * Ids: PCI and USB entries list the vendor:device (vendor:product) pairs of the devices found,
 * plus the exact pairs named in the entry's selectors (so that a resource whose devices are
 * plugged later is permitted too); mdev entries the KubeVirt selector form of the types found.
 * A USB bundle's entry lists its members' ids in the config's order.
 * Order: resources by name, then ids ascending. Strings are always double-quoted, with JSON
 * escapes, which YAML's double-quoted style reads the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources.h"
#include "core/core.h"

/* A sorted set of (first, second) pairs or of strings for one resource. */
struct idset {
	struct dp_id_pair *pairs;
	size_t n_pairs;
	struct strv strings;
};

static int add_pair(struct idset *s, int first, int second)
{
	struct dp_id_pair *grown;

	for (size_t i = 0; i < s->n_pairs; i++)
		if (s->pairs[i].first == first && s->pairs[i].second == second)
			return 0;
	grown = dp_array_grow(s->pairs, s->n_pairs, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->pairs = grown;
	s->pairs[s->n_pairs].first = first;
	s->pairs[s->n_pairs].second = second;
	s->n_pairs++;
	return 0;
}

static int compare_pairs(const void *a, const void *b)
{
	const struct dp_id_pair *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->second < y->second ? -1 : x->second > y->second;
}

static int collect(const hostdev_dp_resources *res, const struct dp_resource *r, struct idset *s)
{
	const struct dp_spec *spec = &res->config->specs[r->spec_index];
	int err = 0;

	/* A bundle is one KubeVirt entry whose selectors are its members, in the config's order
	 * (the devices found have exactly these ids). */
	if (spec->sel.n_bundle) {
		for (size_t i = 0; i < spec->sel.n_bundle && err == 0; i++)
			err = add_pair(s, spec->sel.bundle[i].first, spec->sel.bundle[i].second);
		return err;
	}
	for (size_t i = 0; i < r->devices.count && err == 0; i++) {
		const struct dp_match *m = &r->devices.items[i];

		/* Every mdev match has its extra fields (dp_match_mdev.c). */
		if (spec->kind == HOSTDEV_DP_KIND_MDEV)
			err = strv_contains(&s->strings, m->extra->mdev_selector)
				  ? 0
				  : strv_push(&s->strings, m->extra->mdev_selector);
		else
			err = add_pair(s, (int)m->vendor, (int)m->device);
	}
	for (size_t i = 0; spec->kind != HOSTDEV_DP_KIND_MDEV && i < spec->sel.n_ids && err == 0;
	     i++)
		if (spec->sel.ids[i].second >= 0)
			err = add_pair(s, spec->sel.ids[i].first, spec->sel.ids[i].second);
	if (s->n_pairs > 1)
		qsort(s->pairs, s->n_pairs, sizeof(*s->pairs), compare_pairs);
	strv_sort(&s->strings);
	return err;
}

static void idset_clear(struct idset *s)
{
	free(s->pairs);
	strv_clear(&s->strings);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------------------------------- */
/* Output */

/* Length of the valid UTF-8 sequence at @p, 0 when it is not one. */
static size_t utf8_length(const unsigned char *p)
{
	size_t len;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * @s double-quoted with JSON escapes. Controls, DEL and the C1 controls are escaped (YAML does
 * not allow them unescaped); bytes that are not UTF-8 become U+FFFD.
 */
static void put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t len = utf8_length(p);

		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
		} else if (len == 0) {
			fputs("\\ufffd", f);
			len = 1;
		} else if (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f) {
			fprintf(f, "\\u%04x", p[1]);
		} else {
			fwrite(p, 1, len, f);
		}
		p += len ? len : 1;
	}
	fputc('"', f);
}

enum section { S_PCI, S_MDEV, S_USB, S_COUNT };

static const char *const section_keys[S_COUNT] = {"pciHostDevices", "mediatedDevices", "usb"};

static enum section section_of(enum hostdev_dp_kind kind)
{
	return kind == HOSTDEV_DP_KIND_PCI ? S_PCI : kind == HOSTDEV_DP_KIND_MDEV ? S_MDEV : S_USB;
}

/* One output entry per (resource, id) for PCI and mdev; one per resource for USB. */
static void json_entry(FILE *f, enum section sec, const char *resource, const struct idset *s,
		       size_t k, bool *first)
{
	char hex[16];

	fputs(*first ? "\n" : ",\n", f);
	*first = false;
	fputs("      {\n", f);
	if (sec == S_PCI) {
		snprintf(hex, sizeof(hex), "%04x:%04x", (unsigned int)s->pairs[k].first,
			 (unsigned int)s->pairs[k].second);
		fputs("        \"pciVendorSelector\": ", f);
		put_string(f, hex);
		fputs(",\n", f);
	} else if (sec == S_MDEV) {
		fputs("        \"mdevNameSelector\": ", f);
		put_string(f, s->strings.items[k]);
		fputs(",\n", f);
	}
	fputs("        \"resourceName\": ", f);
	put_string(f, resource);
	fputs(",\n", f);
	if (sec == S_USB) {
		fputs("        \"selectors\": [", f);
		for (size_t i = 0; i < s->n_pairs; i++) {
			fprintf(f,
				"%s\n          {\n            \"vendor\": \"%04x\",\n"
				"            \"product\": \"%04x\"\n          }",
				i ? "," : "", (unsigned int)s->pairs[i].first,
				(unsigned int)s->pairs[i].second);
		}
		fputs("\n        ],\n", f);
	}
	fputs("        \"externalResourceProvider\": true\n      }", f);
}

static void yaml_entry(FILE *f, enum section sec, const char *resource, const struct idset *s,
		       size_t k)
{
	char hex[16];
	const char *lead = "  - ";

	if (sec == S_PCI) {
		snprintf(hex, sizeof(hex), "%04x:%04x", (unsigned int)s->pairs[k].first,
			 (unsigned int)s->pairs[k].second);
		fprintf(f, "%spciVendorSelector: ", lead);
		put_string(f, hex);
		fputc('\n', f);
		lead = "    ";
	} else if (sec == S_MDEV) {
		fprintf(f, "%smdevNameSelector: ", lead);
		put_string(f, s->strings.items[k]);
		fputc('\n', f);
		lead = "    ";
	}
	fprintf(f, "%sresourceName: ", lead);
	put_string(f, resource);
	fputc('\n', f);
	if (sec == S_USB) {
		fputs("    selectors:\n", f);
		for (size_t i = 0; i < s->n_pairs; i++)
			fprintf(f, "    - vendor: \"%04x\"\n      product: \"%04x\"\n",
				(unsigned int)s->pairs[i].first, (unsigned int)s->pairs[i].second);
	}
	fputs("    externalResourceProvider: true\n", f);
}

static size_t entries_of(const hostdev_dp_resources *res, size_t i, enum section sec,
			 const struct idset *s)
{
	if (section_of(res->config->specs[res->items[i].spec_index].kind) != sec)
		return 0;
	return sec == S_MDEV ? s->strings.count : sec == S_PCI ? s->n_pairs : !!s->n_pairs;
}

static size_t count_section(const hostdev_dp_resources *res, enum section sec,
			    const struct idset *sets)
{
	size_t n = 0;

	for (size_t i = 0; i < res->count; i++)
		n += entries_of(res, i, sec, &sets[i]);
	return n;
}

static void write_section(FILE *f, const hostdev_dp_resources *res, enum section sec,
			  const struct idset *sets, bool json)
{
	bool first = true;

	if (json)
		fprintf(f, "    \"%s\": [", section_keys[sec]);
	else
		fprintf(f, "  %s:\n", section_keys[sec]);
	for (size_t i = 0; i < res->count; i++) {
		size_t n = entries_of(res, i, sec, &sets[i]);

		for (size_t k = 0; k < n; k++) {
			if (json)
				json_entry(f, sec, res->items[i].name, &sets[i], k, &first);
			else
				yaml_entry(f, sec, res->items[i].name, &sets[i], k);
		}
	}
	if (json)
		fputs("\n    ]", f);
}

static void write_document(FILE *f, const hostdev_dp_resources *res, const struct idset *sets,
			   bool json)
{
	size_t sections = 0;

	fputs(json ? "{\n  \"permittedHostDevices\": {" : "permittedHostDevices:", f);
	for (int sec = 0; sec < S_COUNT; sec++) {
		if (!count_section(res, sec, sets))
			continue;
		/* YAML entries end with a newline already. */
		fputs(json ? (sections ? ",\n" : "\n") : (sections ? "" : "\n"), f);
		write_section(f, res, sec, sets, json);
		sections++;
	}
	if (json)
		fputs(sections ? "\n  }\n}\n" : "}\n}\n", f);
	else if (!sections)
		fputs(" {}\n", f);
}

HOSTDEV_EXPORT int
hostdev_dp_resources_permitted_host_devices(const hostdev_dp_resources *resources, int format,
					    char **out)
{
	struct idset *sets;
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int r = 0;

	if (!resources || !out ||
	    (format != HOSTDEV_DP_FORMAT_JSON && format != HOSTDEV_DP_FORMAT_YAML))
		return -EINVAL;
	sets = calloc(resources->count ? resources->count : 1, sizeof(*sets));
	if (!sets)
		return -ENOMEM;
	for (size_t i = 0; i < resources->count && r == 0; i++)
		r = collect(resources, &resources->items[i], &sets[i]);
	if (r == 0) {
		f = open_memstream(&text, &size);
		if (!f) {
			r = -ENOMEM;
		} else {
			write_document(f, resources, sets, format == HOSTDEV_DP_FORMAT_JSON);
			if (ferror(f))
				r = -ENOMEM;
			if (fclose(f) != 0)
				r = -ENOMEM;
		}
	}
	for (size_t i = 0; i < resources->count; i++)
		idset_clear(&sets[i]);
	free(sets);
	if (r < 0) {
		free(text);
		return r;
	}
	*out = text;
	return 0;
}
