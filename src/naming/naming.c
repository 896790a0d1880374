/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Harvester- and KubeVirt-compatible names. These must match Harvester's pcidevices controller bit
 * for bit (objects and resources created by it and by us have to agree), so each step below mirrors
 * one of its string operations; docs/naming.md lists the rules and the one deliberate deviation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "naming.h"
#include "core/core.h"

/* The kubelet's unix socket path limit that Harvester's resource names are fitted to. */
#define SOCKET_PATH_LIMIT 108
static const char socket_prefix[] = "/var/lib/kubelet/device-plugins/kubevirt-";

/* Bounded string builder; `overflow` remembers that something did not fit. */
struct sbuf {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void sbuf_putc(struct sbuf *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len++] = c;
	else
		s->overflow = true;
	if (s->size)
		s->buf[s->len] = '\0';
}

static void sbuf_puts(struct sbuf *s, const char *str)
{
	for (; *str; str++)
		sbuf_putc(s, *str);
}

static int sbuf_finish(struct sbuf *s)
{
	return s->overflow ? -ENOSPC : (int)s->len;
}

static bool is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Go's regexp \s: [\t\n\f\r ]. */
static bool is_go_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/*
 * The first `\[([^\]]+)\]` match (leftmost, like Go's FindStringSubmatch): a '[' followed by at
 * least one character other than ']' and then a ']'. Sets *start and *len of the group; false if
 * none.
 */
static bool first_bracket_group(const char *s, const char **start, size_t *len)
{
	for (const char *open = strchr(s, '['); open; open = strchr(open + 1, '[')) {
		const char *close = strchr(open + 1, ']');

		if (close && close > open + 1) {
			*start = open + 1;
			*len = (size_t)(close - open - 1);
			return true;
		}
	}
	return false;
}

HOSTDEV_EXPORT int hostdev_naming_resource_vendor(const char *vendor_name, char *buf, size_t size)
{
	struct sbuf s = {buf, size, 0, false};
	const char *base = NULL;
	size_t base_len = 0, kept = 0;

	if (!buf || size == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (vendor_name && strchr(vendor_name, '[') &&
	    first_bracket_group(vendor_name, &base, &base_len)) {
		/* Inside the brackets, cut at the first '/': "[AMD/ATI]" -> "AMD". */
		const char *slash = memchr(base, '/', base_len);

		if (slash)
			base_len = (size_t)(slash - base);
	} else if (vendor_name) {
		/* First word, split on a single space exactly like strings.Split(name, " ")[0]. */
		const char *space = strchr(vendor_name, ' ');

		base = vendor_name;
		base_len = space ? (size_t)(space - vendor_name) : strlen(vendor_name);
	}
	for (size_t i = 0; i < base_len; i++) {
		if (is_ascii_alnum(base[i])) {
			sbuf_putc(&s, (char)tolower((unsigned char)base[i]));
			kept++;
		}
	}
	/*
	 * Deviation: Harvester would produce ".com" here (and crash on an unmatched '['). An empty
	 * domain label is not a valid resource name, so use the name Harvester gives unknown
	 * vendors.
	 */
	if (kept == 0)
		sbuf_puts(&s, "unknown");
	sbuf_puts(&s, ".com");
	return sbuf_finish(&s);
}

/* Harvester's product cleaning; writes "" when nothing is left. */
static void clean_product(const char *name, struct sbuf *s)
{
	const char *end = name + strlen(name);
	bool in_space = false;

	/* strings.TrimSpace */
	while (name < end && (is_go_space(*name) || *name == '\v'))
		name++;
	while (end > name && (is_go_space(end[-1]) || end[-1] == '\v'))
		end--;
	for (const char *p = name; p < end; p++) {
		char c = (char)toupper((unsigned char)*p);

		if (c == '/' || c == '.')
			c = '_';
		if (is_go_space(c)) {
			/* Each whitespace run becomes one '_'. */
			if (!in_space)
				sbuf_putc(s, '_');
			in_space = true;
			continue;
		}
		in_space = false;
		/* Keep [A-Za-z0-9_.] only ('.' is already gone). */
		if (is_ascii_alnum(c) || c == '_')
			sbuf_putc(s, c);
	}
	/* Strip trailing '_', '.', '-'. */
	while (s->len > 0 && (s->buf[s->len - 1] == '_' || s->buf[s->len - 1] == '.' ||
			      s->buf[s->len - 1] == '-'))
		s->buf[--s->len] = '\0';
}

static size_t socket_path_length(const char *vendor, const char *product)
{
	/* prefix + "/" + vendor + "-" + product + ".sock" (the extra '/' is Harvester's). */
	return strlen(socket_prefix) + 1 + strlen(vendor) + 1 + strlen(product) + strlen(".sock");
}

/* Replace every "VIRTUAL_FUNCTION" by "VF" in place. */
static void shorten_virtual_function(char *product)
{
	static const char long_form[] = "VIRTUAL_FUNCTION";
	char *p;

	while ((p = strstr(product, long_form))) {
		p[0] = 'V';
		p[1] = 'F';
		memmove(p + 2, p + sizeof(long_form) - 1, strlen(p + sizeof(long_form) - 1) + 1);
	}
}

HOSTDEV_EXPORT int hostdev_naming_pci_resource(const char *vendor_name, const char *device_name,
					       unsigned int device_id, char *buf, size_t size)
{
	char vendor[HOSTDEV_NAME_MAX], product[HOSTDEV_NAME_MAX];
	struct sbuf p = {product, sizeof(product), 0, false};
	int r, n;

	if (!buf || size == 0 || device_id > 0xffff)
		return -EINVAL;
	r = hostdev_naming_resource_vendor(vendor_name, vendor, sizeof(vendor));
	if (r < 0)
		return r;
	product[0] = '\0';
	if (device_name)
		clean_product(device_name, &p);
	if (p.overflow || product[0] == '\0' ||
	    socket_path_length(vendor, product) > SOCKET_PATH_LIMIT) {
		shorten_virtual_function(product);
		if (p.overflow || product[0] == '\0' ||
		    socket_path_length(vendor, product) > SOCKET_PATH_LIMIT)
			snprintf(product, sizeof(product), "%04x", device_id);
	}
	n = snprintf(buf, size, "%s/%s", vendor, product);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

HOSTDEV_EXPORT int hostdev_naming_pci_object_name(const char *node, const char *address, char *buf,
						  size_t size)
{
	struct sbuf s = {buf, size, 0, false};

	if (!node || !*node || !address || !*address || !buf || size == 0)
		return -EINVAL;
	buf[0] = '\0';
	sbuf_puts(&s, node);
	sbuf_putc(&s, '-');
	for (const char *p = address; *p; p++)
		if (*p != ':' && *p != '.')
			sbuf_putc(&s, *p);
	return sbuf_finish(&s);
}

HOSTDEV_EXPORT int hostdev_naming_pci_description(const char *class_name, const char *subclass_name,
						  unsigned int class_code, const char *vendor_name,
						  unsigned int vendor_id, const char *device_name,
						  unsigned int device_id, char *buf, size_t size)
{
	char cls[HOSTDEV_NAME_MAX], vendor[HOSTDEV_NAME_MAX], device[HOSTDEV_NAME_MAX];
	int n;

	if (!buf || size == 0 || class_code > 0xffffff || vendor_id > 0xffff || device_id > 0xffff)
		return -EINVAL;
	if (subclass_name)
		snprintf(cls, sizeof(cls), "%s", subclass_name);
	else if (class_name)
		snprintf(cls, sizeof(cls), "%s", class_name);
	else
		snprintf(cls, sizeof(cls), "Class %04x", class_code >> 8);
	if (vendor_name)
		snprintf(vendor, sizeof(vendor), "%s", vendor_name);
	else
		snprintf(vendor, sizeof(vendor), "Vendor %04x", vendor_id);
	if (device_name)
		snprintf(device, sizeof(device), "%s", device_name);
	else
		snprintf(device, sizeof(device), "Device %04x", device_id);
	n = snprintf(buf, size, "%s: %s %s", cls, vendor, device);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

HOSTDEV_EXPORT int hostdev_naming_usb_object_name(const char *node, unsigned int vendor_id,
						  unsigned int product_id, unsigned int busnum,
						  unsigned int devnum, char *buf, size_t size)
{
	int n;

	if (!node || !*node || !buf || size == 0 || vendor_id > 0xffff || product_id > 0xffff ||
	    busnum > 999 || devnum > 999)
		return -EINVAL;
	n = snprintf(buf, size, "%s-%04x-%04x-%03u%03u", node, vendor_id, product_id, busnum,
		     devnum);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

HOSTDEV_EXPORT int hostdev_naming_kubevirt_env(const char *prefix, const char *resource_name,
					       char *buf, size_t size)
{
	struct sbuf s = {buf, size, 0, false};

	if (!prefix || !*prefix || !resource_name || !*resource_name || !buf || size == 0)
		return -EINVAL;
	buf[0] = '\0';
	sbuf_puts(&s, prefix);
	sbuf_putc(&s, '_');
	for (const char *p = resource_name; *p; p++) {
		char c = *p;

		if (c == '/' || c == '.')
			c = '_';
		sbuf_putc(&s, (char)toupper((unsigned char)c));
	}
	return sbuf_finish(&s);
}

HOSTDEV_EXPORT int hostdev_naming_check_resource_name(const char *resource_name)
{
	return dp_resource_name_problem(resource_name) ? -EINVAL : 0;
}
