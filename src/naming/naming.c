/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Harvester- and KubeVirt-compatible names. These must match Harvester's pcidevices controller bit
 * for bit (objects and resources created by it and by us have to agree), so each step below mirrors
 * one of its string operations; docs/naming.md lists the rules and the one deliberate deviation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "naming.h"
#include "core/core.h"

/* The kubelet's unix socket path limit that Harvester's resource names are fitted to. */
#define SOCKET_PATH_LIMIT 108
static const char socket_prefix[] = "/var/lib/kubelet/device-plugins/kubevirt-";

/*
 * Bounded string builder; `overflow` remembers that something did not fit, and what fits is kept
 * (as snprintf() would). The text is NUL-terminated by sbuf_terminate() and sbuf_finish() only, not
 * after every character: these names are made for every device of every listing.
 */
struct sbuf {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void sbuf_terminate(struct sbuf *s)
{
	if (s->size)
		s->buf[s->len] = '\0';
}

static void sbuf_putc(struct sbuf *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len++] = c;
	else
		s->overflow = true;
}

static void sbuf_put(struct sbuf *s, const char *str, size_t n)
{
	size_t room = s->size ? s->size - 1 - s->len : 0;

	if (n > room) {
		n = room;
		s->overflow = true;
	}
	memcpy(s->buf + s->len, str, n);
	s->len += n;
}

static void sbuf_puts(struct sbuf *s, const char *str)
{
	sbuf_put(s, str, strlen(str));
}

/* @value as exactly four lower-case hex digits ("%04x" of a 16-bit value). */
static void sbuf_hex4(struct sbuf *s, unsigned int value)
{
	static const char hex[] = "0123456789abcdef";
	char digits[4] = {hex[(value >> 12) & 0xf], hex[(value >> 8) & 0xf],
			  hex[(value >> 4) & 0xf], hex[value & 0xf]};

	sbuf_put(s, digits, sizeof(digits));
}

static int sbuf_finish(struct sbuf *s)
{
	sbuf_terminate(s);
	return s->overflow ? -ENOSPC : (int)s->len;
}

static bool is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * ASCII case mapping, as Go's strings.ToUpper/ToLower do for these bytes whatever the locale (C's
 * toupper() would follow LC_CTYPE: in a Latin-5 locale 'i' became 0xdd and was then dropped). Bytes
 * above 0x7f are left as they are.
 */
static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
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
			sbuf_putc(&s, ascii_lower(base[i]));
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
		char c = ascii_upper(*p);

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
		s->len--;
	sbuf_terminate(s);
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
	struct sbuf p = {product, sizeof(product), 0, false}, out = {buf, size, 0, false};
	int r;

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
		    socket_path_length(vendor, product) > SOCKET_PATH_LIMIT) {
			struct sbuf id = {product, sizeof(product), 0, false};

			sbuf_hex4(&id, device_id);
			sbuf_terminate(&id);
		}
	}
	sbuf_put(&out, vendor, (size_t)r);
	sbuf_putc(&out, '/');
	sbuf_puts(&out, product);
	return sbuf_finish(&out);
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

/* A name as the description uses it: at most HOSTDEV_NAME_MAX - 1 bytes of it. */
static void put_name(struct sbuf *s, const char *name)
{
	sbuf_put(s, name, strnlen(name, HOSTDEV_NAME_MAX - 1));
}

HOSTDEV_EXPORT int hostdev_naming_pci_description(const char *class_name, const char *subclass_name,
						  unsigned int class_code, const char *vendor_name,
						  unsigned int vendor_id, const char *device_name,
						  unsigned int device_id, char *buf, size_t size)
{
	struct sbuf s = {buf, size, 0, false};

	if (!buf || size == 0 || class_code > 0xffffff || vendor_id > 0xffff || device_id > 0xffff)
		return -EINVAL;
	/* "<class>: <vendor> <device>", each part its name or "Class/Vendor/Device %04x". */
	if (subclass_name)
		put_name(&s, subclass_name);
	else if (class_name)
		put_name(&s, class_name);
	else {
		sbuf_put(&s, "Class ", 6);
		sbuf_hex4(&s, class_code >> 8);
	}
	sbuf_put(&s, ": ", 2);
	if (vendor_name)
		put_name(&s, vendor_name);
	else {
		sbuf_put(&s, "Vendor ", 7);
		sbuf_hex4(&s, vendor_id);
	}
	sbuf_putc(&s, ' ');
	if (device_name)
		put_name(&s, device_name);
	else {
		sbuf_put(&s, "Device ", 7);
		sbuf_hex4(&s, device_id);
	}
	return sbuf_finish(&s);
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
		sbuf_putc(&s, ascii_upper(c));
	}
	return sbuf_finish(&s);
}

HOSTDEV_EXPORT int hostdev_naming_check_resource_name(const char *resource_name)
{
	return dp_resource_name_problem(resource_name) ? -EINVAL : 0;
}
