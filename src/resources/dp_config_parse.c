/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parser of the resource selection config (docs/device-plugin.md, "Resource selection config").
 * Strict on purpose: an unknown key, a value of the wrong type or syntax, or a conflict is an
 * error that names the resource (index and name), the key, what is wrong and what to write
 * instead, because a config that silently selects other devices than meant hands the wrong
 * hardware to virtual machines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dp_config.h"
#include "core/core.h"
#include "naming/naming.h"
#include "pci/pci.h"

struct perr {
	char *buf;
	size_t size;
	char label[256]; /* "resources[2] \"example.com/nic\"" */
};

__attribute__((format(printf, 2, 3))) static int fail(struct perr *e, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->buf && e->size) {
		if (e->label[0])
			snprintf(e->buf, e->size, "%s: %s", e->label, msg);
		else
			snprintf(e->buf, e->size, "%s", msg);
	}
	return -EINVAL;
}

/* A string value for a message, shortened and with control bytes shown as '?'. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	for (; s[i] && i + 4 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static const char *kind_name(enum hostdev_dp_kind kind)
{
	switch (kind) {
	case HOSTDEV_DP_KIND_PCI:
		return "pci";
	case HOSTDEV_DP_KIND_USB:
		return "usb";
	case HOSTDEV_DP_KIND_MDEV:
		return "mdev";
	}
	return "?";
}

/* cJSON keeps every member of an object, also repeated keys: refuse those (in linear time: a
 * config with thousands of keys must not take seconds). */
static int check_duplicate_keys(struct perr *e, const cJSON *object, const char *where)
{
	struct dp_strmap seen;
	int r = 0;

	dp_strmap_init(&seen);
	for (const cJSON *a = object->child; a && r == 0; a = a->next) {
		r = dp_strmap_add(&seen, a->string, 0, NULL);
		if (r == -EEXIST)
			r = fail(e, "%skey \"%s\" is given twice; keep one", where, a->string);
	}
	dp_strmap_clear(&seen);
	return r;
}

static bool key_in(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(key, *keys) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* Selectors */

static int push_string(char ***items, size_t *n, char *s)
{
	char **grown = dp_array_grow(*items, *n, sizeof(**items));

	if (!grown) {
		free(s);
		return -ENOMEM;
	}
	*items = grown;
	(*items)[(*n)++] = s;
	return 0;
}

/* Check that @value is a non-empty array; each item is then handled by the caller. */
static int check_list(struct perr *e, const cJSON *value, const char *key, const char *example)
{
	if (!cJSON_IsArray(value))
		return fail(e, "selectors.%s must be a list of strings, e.g. \"%s\": [%s]", key,
			    key, example);
	if (!value->child)
		return fail(e,
			    "selectors.%s is an empty list, which matches nothing; list at least "
			    "one value or remove the key",
			    key);
	return 0;
}

/* The string at @item, or a message naming selectors.<key>[<i>]. */
static int item_string(struct perr *e, const cJSON *item, const char *key, size_t i,
		       const char **out)
{
	if (!cJSON_IsString(item) || !item->valuestring)
		return fail(e, "selectors.%s[%zu] must be a string", key, i);
	if (!item->valuestring[0])
		return fail(e, "selectors.%s[%zu] is an empty string; remove it or give a value",
			    key, i);
	*out = item->valuestring;
	return 0;
}

static int parse_ids(struct perr *e, const cJSON *value, const char *key, bool usb,
		     struct dp_selectors *sel)
{
	const char *example = usb ? "\"0627:0001\"" : "\"8086:10d3\"";
	char sbuf[96];
	size_t i = 0;
	int r;

	if ((r = check_list(e, value, key, example)) < 0)
		return r;
	for (const cJSON *item = value->child; item; item = item->next, i++) {
		struct dp_id_pair pair, *grown;
		const char *s;

		if ((r = item_string(e, item, key, i, &s)) < 0)
			return r;
		if (dp_parse_id_pair(s, &pair) < 0)
			return fail(
			    e,
			    "selectors.%s[%zu] \"%s\" is not a %s id: write two 4-digit hex "
			    "ids separated by ':', e.g. %s (\"%.4s:*\" for every %s of the "
			    "vendor)",
			    key, i, shown(s, sbuf, sizeof(sbuf)),
			    usb ? "vendor:product" : "vendor:device", example, example + 1,
			    usb ? "product" : "device");
		grown = dp_array_grow(sel->ids, sel->n_ids, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		sel->ids = grown;
		sel->ids[sel->n_ids++] = pair;
	}
	return 0;
}

enum value_syntax {
	V_CLASS,
	V_DRIVER,
	V_ADDRESS,
	V_SERIAL,
	V_PORT,
	V_MDEV_TYPE,
	V_MDEV_PARENT,
};

/* One string of a list in @syntax; *@out is the (normalised) malloc'ed copy. */
static int parse_value(struct perr *e, enum value_syntax syntax, const char *key, size_t i,
		       const char *s, char **out)
{
	char sbuf[96];
	int r = 0;

	switch (syntax) {
	case V_CLASS:
		r = dp_parse_class(s, out);
		if (r == -EINVAL)
			return fail(
			    e,
			    "selectors.%s[%zu] \"%s\" is not a PCI class: write 2, 4 or 6 hex "
			    "digits (class, class+subclass, with programming interface), "
			    "e.g. \"02\" or \"0200\"",
			    key, i, shown(s, sbuf, sizeof(sbuf)));
		return r;
	case V_DRIVER:
		if (dp_check_driver(s) < 0)
			return fail(e,
				    "selectors.%s[%zu] \"%s\" is not a driver name: write the name "
				    "of /sys/bus/pci/drivers/<name>, e.g. \"vfio-pci\" (\"none\" "
				    "for devices without a driver)",
				    key, i, shown(s, sbuf, sizeof(sbuf)));
		break;
	case V_ADDRESS:
		r = dp_parse_pci_address(s, out);
		if (r == -EINVAL)
			return fail(e,
				    "selectors.%s[%zu] \"%s\" is not a PCI address: "
				    "expected " PCI_ADDRESS_FORM,
				    key, i, shown(s, sbuf, sizeof(sbuf)));
		return r;
	case V_SERIAL:
	case V_MDEV_TYPE:
		break;
	case V_PORT:
		if (dp_check_usb_port(s) < 0)
			return fail(
			    e,
			    "selectors.%s[%zu] \"%s\" is not a USB port path: write "
			    "BUS-PORT[.PORT...] as in /sys/bus/usb/devices, e.g. \"1-2.1\", "
			    "or \"1-2.*\" for every device below port 1-2",
			    key, i, shown(s, sbuf, sizeof(sbuf)));
		break;
	case V_MDEV_PARENT:
		if (strchr(s, ':'))
			r = dp_parse_pci_address(s, out);
		else if (dp_check_driver(s) < 0)
			r = -EINVAL;
		else
			break;
		if (r == -EINVAL)
			return fail(e,
				    "selectors.%s[%zu] \"%s\" is not an mdev parent: write the "
				    "parent's PCI address (\"0000:af:00.0\") or its device name in "
				    "/sys/class/mdev_bus (\"mtty\")",
				    key, i, shown(s, sbuf, sizeof(sbuf)));
		return r;
	}
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_strings(struct perr *e, const cJSON *value, const char *key,
			 enum value_syntax syntax, const char *example, char ***items, size_t *n)
{
	size_t i = 0;
	int r;

	if ((r = check_list(e, value, key, example)) < 0)
		return r;
	for (const cJSON *item = value->child; item; item = item->next, i++) {
		const char *s;
		char *v = NULL;

		if ((r = item_string(e, item, key, i, &s)) < 0 ||
		    (r = parse_value(e, syntax, key, i, s, &v)) < 0 ||
		    (r = push_string(items, n, v)) < 0)
			return r;
	}
	return 0;
}

static int parse_pf(struct perr *e, const cJSON *object, size_t i, struct dp_pf_selector *pf)
{
	static const char *const keys[] = {"name", "address", "vfs", NULL};
	const cJSON *name = NULL, *address = NULL, *vfs = NULL;
	char sbuf[96], where[48];
	int r;

	snprintf(where, sizeof(where), "selectors.pf[%zu]: ", i);
	if (!cJSON_IsObject(object))
		return fail(e,
			    "selectors.pf[%zu] must be an object such as {\"name\": \"ens1f0\", "
			    "\"vfs\": \"#0-3\"} or {\"address\": \"0000:3b:00.0\"}",
			    i);
	if ((r = check_duplicate_keys(e, object, where)) < 0)
		return r;
	for (const cJSON *m = object->child; m; m = m->next) {
		if (!key_in(m->string, keys))
			return fail(e,
				    "selectors.pf[%zu]: unknown key \"%s\"; a PF selector has "
				    "\"name\" (interface) or \"address\" (PCI address), and "
				    "optionally \"vfs\"",
				    i, shown(m->string, sbuf, sizeof(sbuf)));
		if (strcmp(m->string, "name") == 0)
			name = m;
		else if (strcmp(m->string, "address") == 0)
			address = m;
		else
			vfs = m;
	}
	if (!name == !address)
		return fail(e,
			    "selectors.pf[%zu] needs exactly one of \"name\" (the PF's network "
			    "interface, e.g. \"ens1f0\") and \"address\" (its PCI address)",
			    i);
	if (name) {
		if (!cJSON_IsString(name) || dp_check_ifname(name->valuestring) < 0)
			return fail(e,
				    "selectors.pf[%zu].name must be a network interface name "
				    "(1-15 characters without '/', ':' or blanks), e.g. \"ens1f0\"",
				    i);
		if (!(pf->name = strdup(name->valuestring)))
			return -ENOMEM;
	} else {
		if (!cJSON_IsString(address))
			return fail(e,
				    "selectors.pf[%zu].address must be a string such as "
				    "\"0000:3b:00.0\"",
				    i);
		r = dp_parse_pci_address(address->valuestring, &pf->address);
		if (r == -EINVAL)
			return fail(e,
				    "selectors.pf[%zu].address \"%s\" is not a PCI address: "
				    "expected " PCI_ADDRESS_FORM,
				    i, shown(address->valuestring, sbuf, sizeof(sbuf)));
		if (r < 0)
			return r;
	}
	if (vfs) {
		if (!cJSON_IsString(vfs))
			return fail(e,
				    "selectors.pf[%zu].vfs must be a string of VF indexes and "
				    "ranges, e.g. \"#0,2-7\"",
				    i);
		r = dp_parse_vf_ranges(vfs->valuestring, &pf->ranges, &pf->n_ranges);
		if (r == -EINVAL)
			return fail(
			    e,
			    "selectors.pf[%zu].vfs \"%s\" is not a list of VF indexes: write "
			    "decimal indexes and ascending ranges separated by commas, "
			    "optionally after '#', e.g. \"#0,2-7\" (omit \"vfs\" for every "
			    "VF)",
			    i, shown(vfs->valuestring, sbuf, sizeof(sbuf)));
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_pfs(struct perr *e, const cJSON *value, struct dp_selectors *sel)
{
	size_t i = 0;
	int r;

	if (!cJSON_IsArray(value))
		return fail(e, "selectors.pf must be a list of PF selectors, e.g. \"pf\": "
			       "[{\"name\": \"ens1f0\", \"vfs\": \"#0-3\"}]");
	if (!value->child)
		return fail(e, "selectors.pf is an empty list, which matches nothing; list at "
			       "least one PF or remove the key");
	for (const cJSON *item = value->child; item; item = item->next, i++) {
		struct dp_pf_selector *grown = dp_array_grow(sel->pfs, sel->n_pfs, sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		sel->pfs = grown;
		memset(&sel->pfs[sel->n_pfs], 0, sizeof(*sel->pfs));
		sel->n_pfs++;
		if ((r = parse_pf(e, item, i, &sel->pfs[sel->n_pfs - 1])) < 0)
			return r;
	}
	return 0;
}

/*
 * "bundle": the members of a set of USB devices handed to a VM together, one exact
 * vendor:product each (KubeVirt's selectors have no wildcard), no id twice: each member is a
 * different device, and a device matched by two members would be handed out twice.
 */
static int parse_bundle(struct perr *e, const cJSON *value, struct dp_selectors *sel)
{
	static const char example[] = "\"046d:c31c\", \"046d:c077\"";
	char sbuf[96];
	size_t i = 0;
	int r;

	if ((r = check_list(e, value, "bundle", example)) < 0)
		return r;
	for (const cJSON *item = value->child; item; item = item->next, i++) {
		struct dp_id_pair pair, *grown;
		const char *s;

		if ((r = item_string(e, item, "bundle", i, &s)) < 0)
			return r;
		if (dp_parse_id_pair(s, &pair) < 0 || pair.second < 0)
			return fail(
			    e,
			    "selectors.bundle[%zu] \"%s\" is not a vendor:product id: each "
			    "member of a bundle is one exact device id, two 4-digit hex ids "
			    "separated by ':', e.g. \"046d:c31c\" (no \"*\": KubeVirt's USB "
			    "selectors name one product)",
			    i, shown(s, sbuf, sizeof(sbuf)));
		for (size_t j = 0; j < sel->n_bundle; j++)
			if (sel->bundle[j].first == pair.first &&
			    sel->bundle[j].second == pair.second)
				return fail(
				    e,
				    "selectors.bundle[%zu] \"%s\" is also selectors.bundle[%zu]: "
				    "one device would be matched by two members of the bundle; "
				    "list each vendor:product once",
				    i, shown(s, sbuf, sizeof(sbuf)), j);
		grown = dp_array_grow(sel->bundle, sel->n_bundle, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		sel->bundle = grown;
		sel->bundle[sel->n_bundle++] = pair;
	}
	return 0;
}

static const char *const pci_selector_keys[] = {"vendorDevice", "class", "driver",
						"address",	"pf",	 NULL};
static const char *const usb_selector_keys[] = {"vendorProduct", "bundle", "serial", "port", NULL};
static const char *const mdev_selector_keys[] = {"type", "parent", NULL};

static int parse_selector(struct perr *e, enum hostdev_dp_kind kind, const cJSON *m,
			  struct dp_selectors *sel)
{
	const char *key = m->string;

	switch (kind) {
	case HOSTDEV_DP_KIND_PCI:
		if (strcmp(key, "vendorDevice") == 0)
			return parse_ids(e, m, key, false, sel);
		if (strcmp(key, "class") == 0)
			return parse_strings(e, m, key, V_CLASS, "\"0200\"", &sel->classes,
					     &sel->n_classes);
		if (strcmp(key, "driver") == 0)
			return parse_strings(e, m, key, V_DRIVER, "\"vfio-pci\"", &sel->drivers,
					     &sel->n_drivers);
		if (strcmp(key, "address") == 0)
			return parse_strings(e, m, key, V_ADDRESS, "\"0000:3b:00.0\"",
					     &sel->addresses, &sel->n_addresses);
		return parse_pfs(e, m, sel);
	case HOSTDEV_DP_KIND_USB:
		if (strcmp(key, "vendorProduct") == 0)
			return parse_ids(e, m, key, true, sel);
		if (strcmp(key, "bundle") == 0)
			return parse_bundle(e, m, sel);
		if (strcmp(key, "serial") == 0)
			return parse_strings(e, m, key, V_SERIAL, "\"HOSTDEV0001\"", &sel->serials,
					     &sel->n_serials);
		return parse_strings(e, m, key, V_PORT, "\"1-2.1\"", &sel->ports, &sel->n_ports);
	case HOSTDEV_DP_KIND_MDEV:
		if (strcmp(key, "type") == 0)
			return parse_strings(e, m, key, V_MDEV_TYPE, "\"GRID T4-1Q\"", &sel->types,
					     &sel->n_types);
		return parse_strings(e, m, key, V_MDEV_PARENT, "\"0000:af:00.0\"", &sel->parents,
				     &sel->n_parents);
	}
	return -EINVAL;
}

static int parse_selectors(struct perr *e, enum hostdev_dp_kind kind, const cJSON *value,
			   struct dp_selectors *sel)
{
	const char *const *keys = kind == HOSTDEV_DP_KIND_PCI	? pci_selector_keys
				  : kind == HOSTDEV_DP_KIND_USB ? usb_selector_keys
								: mdev_selector_keys;
	const char *list = kind == HOSTDEV_DP_KIND_PCI ? "vendorDevice, class, driver, address, pf"
			   : kind == HOSTDEV_DP_KIND_USB ? "vendorProduct, bundle, serial, port"
							 : "type, parent";
	char sbuf[96];
	int r;

	if (!value)
		return fail(e,
			    "\"selectors\" is missing: say which %s devices the resource has "
			    "(keys: %s)",
			    kind_name(kind), list);
	if (!cJSON_IsObject(value))
		return fail(e, "\"selectors\" must be an object (keys: %s)", list);
	if (!value->child)
		return fail(e,
			    "\"selectors\" is empty, which would select every %s device of the "
			    "host; give at least one of %s",
			    kind_name(kind), list);
	if ((r = check_duplicate_keys(e, value, "selectors: ")) < 0)
		return r;
	for (const cJSON *m = value->child; m; m = m->next) {
		if (!key_in(m->string, keys))
			return fail(e,
				    "unknown selector \"%s\" for %s %s resource; the %s selectors "
				    "are %s",
				    shown(m->string, sbuf, sizeof(sbuf)),
				    kind == HOSTDEV_DP_KIND_PCI ? "a" : "an", kind_name(kind),
				    kind_name(kind), list);
		if ((r = parse_selector(e, kind, m, sel)) < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Resources */

static const char *const resource_keys[] = {"kind",	"resourceName", "naming", "selectors",
					    "sriovEnv", "usbIdentity",	NULL};

static void set_label(struct perr *e, size_t index, const cJSON *object)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(object, "resourceName");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(object, "kind");
	const cJSON *naming = cJSON_GetObjectItemCaseSensitive(object, "naming");
	char sbuf[96], nbuf[64];

	if (cJSON_IsString(name))
		snprintf(e->label, sizeof(e->label), "resources[%zu] \"%s\"", index,
			 shown(name->valuestring, sbuf, sizeof(sbuf)));
	else if (cJSON_IsString(kind) && cJSON_IsString(naming))
		snprintf(e->label, sizeof(e->label), "resources[%zu] (%s, naming %s)", index,
			 shown(kind->valuestring, sbuf, 24), shown(naming->valuestring, nbuf, 24));
	else if (cJSON_IsString(kind))
		snprintf(e->label, sizeof(e->label), "resources[%zu] (%s)", index,
			 shown(kind->valuestring, sbuf, 24));
	else
		snprintf(e->label, sizeof(e->label), "resources[%zu]", index);
}

static int parse_kind(struct perr *e, const cJSON *value, struct dp_spec *spec)
{
	if (!value)
		return fail(e, "\"kind\" is missing: write \"kind\": \"pci\", \"usb\" or \"mdev\"");
	if (cJSON_IsString(value)) {
		if (strcmp(value->valuestring, "pci") == 0)
			spec->kind = HOSTDEV_DP_KIND_PCI;
		else if (strcmp(value->valuestring, "usb") == 0)
			spec->kind = HOSTDEV_DP_KIND_USB;
		else if (strcmp(value->valuestring, "mdev") == 0)
			spec->kind = HOSTDEV_DP_KIND_MDEV;
		else
			goto bad;
		return 0;
	}
bad:
	return fail(e, "\"kind\" must be \"pci\" (vfio PCI devices), \"usb\" or \"mdev\" "
		       "(mediated devices)");
}

static int parse_naming(struct perr *e, const cJSON *name, const cJSON *naming,
			struct dp_spec *spec)
{
	const char *problem;

	if (name && naming)
		return fail(e, "\"resourceName\" and \"naming\" exclude each other: give a "
			       "resourceName to pool every match under it, or a naming to let "
			       "the host's devices name the resources");
	if (!name && !naming)
		return fail(e, "give either \"resourceName\" (e.g. \"example.com/nic\": every "
			       "matching device in one resource) or \"naming\": \"harvester\" "
			       "(one resource per Harvester name) or \"per-device\"");
	if (name) {
		if (!cJSON_IsString(name))
			return fail(e, "\"resourceName\" must be a string such as "
				       "\"example.com/nic\"");
		problem = dp_resource_name_problem(name->valuestring);
		if (problem)
			return fail(e,
				    "resourceName is not a resource name the kubelet accepts (it "
				    "would refuse every registration): %s",
				    problem);
		spec->naming = DP_NAMING_EXPLICIT;
		spec->resource_name = strdup(name->valuestring);
		return spec->resource_name ? 0 : -ENOMEM;
	}
	if (cJSON_IsString(naming) && strcmp(naming->valuestring, "harvester") == 0)
		spec->naming = DP_NAMING_HARVESTER;
	else if (cJSON_IsString(naming) && strcmp(naming->valuestring, "per-device") == 0)
		spec->naming = DP_NAMING_PER_DEVICE;
	else
		return fail(e, "\"naming\" must be \"harvester\" (one resource per Harvester "
			       "name) or \"per-device\" (one resource per device)");
	return 0;
}

static int parse_sriov_env(struct perr *e, const cJSON *value, struct dp_spec *spec)
{
	char sbuf[96];

	if (!value)
		return 0;
	if (spec->kind != HOSTDEV_DP_KIND_PCI)
		return fail(e, "\"sriovEnv\" is only for pci resources; remove it");
	if (cJSON_IsBool(value)) {
		if (cJSON_IsTrue(value) && !(spec->sriov_prefix = strdup("")))
			return -ENOMEM;
		return 0;
	}
	if (!cJSON_IsString(value) || dp_check_domain(value->valuestring) < 0)
		return fail(e,
			    "\"sriovEnv\" %s%s%smust be true (PCIDEVICE_<RESOURCE> from the "
			    "resource name) or a lower-case DNS domain used as the SR-IOV "
			    "resource prefix, e.g. \"intel.com\"",
			    cJSON_IsString(value) ? "\"" : "",
			    cJSON_IsString(value) ? shown(value->valuestring, sbuf, sizeof(sbuf))
						  : "",
			    cJSON_IsString(value) ? "\" " : "");
	spec->sriov_prefix = strdup(value->valuestring);
	return spec->sriov_prefix ? 0 : -ENOMEM;
}

static int parse_usb_identity(struct perr *e, const cJSON *value, struct dp_spec *spec)
{
	if (!value)
		return 0;
	if (spec->kind != HOSTDEV_DP_KIND_USB)
		return fail(e, "\"usbIdentity\" is only for usb resources; remove it");
	if (cJSON_IsString(value) && strcmp(value->valuestring, "auto") == 0)
		spec->usb_identity = DP_USB_ID_AUTO;
	else if (cJSON_IsString(value) && strcmp(value->valuestring, "port") == 0)
		spec->usb_identity = DP_USB_ID_PORT;
	else if (cJSON_IsString(value) && strcmp(value->valuestring, "serial") == 0)
		spec->usb_identity = DP_USB_ID_SERIAL;
	else
		return fail(e, "\"usbIdentity\" must be \"auto\" (the serial when it is unique, "
			       "else the port), \"port\" or \"serial\"");
	return 0;
}

/* A bundle is one set per device id under one name that KubeVirt permits: with vendorProduct
 * it would be two selections in one entry, with a naming the sets would have no name. */
static int check_bundle(struct perr *e, const struct dp_spec *spec)
{
	if (!spec->sel.n_bundle)
		return 0;
	if (spec->sel.n_ids)
		return fail(e, "selectors.bundle and selectors.vendorProduct exclude each other: a "
			       "bundle names the vendor:product of each of its members; put single "
			       "devices in an entry of their own");
	if (spec->naming != DP_NAMING_EXPLICIT)
		return fail(e, "selectors.bundle needs a \"resourceName\" instead of \"naming\": "
			       "each set of devices is one device id of that resource, e.g. "
			       "\"resourceName\": \"example.com/desk-set\"");
	return 0;
}

static int parse_resource(struct perr *e, const cJSON *object, struct dp_spec *spec)
{
	const cJSON *m;
	char sbuf[96];
	int r;

	set_label(e, spec->index, object);
	if (!cJSON_IsObject(object))
		return fail(e, "each resource must be an object such as {\"kind\": \"pci\", "
			       "\"resourceName\": \"example.com/nic\", \"selectors\": "
			       "{\"vendorDevice\": [\"8086:10d3\"]}}");
	if ((r = check_duplicate_keys(e, object, "")) < 0)
		return r;
	for (m = object->child; m; m = m->next)
		if (!key_in(m->string, resource_keys))
			return fail(
			    e,
			    "unknown key \"%s\"; a resource has kind, resourceName or "
			    "naming, selectors, and optionally sriovEnv (pci) or usbIdentity "
			    "(usb)",
			    shown(m->string, sbuf, sizeof(sbuf)));
#define MEMBER(key) cJSON_GetObjectItemCaseSensitive(object, key)
	if ((r = parse_kind(e, MEMBER("kind"), spec)) < 0 ||
	    (r = parse_naming(e, MEMBER("resourceName"), MEMBER("naming"), spec)) < 0 ||
	    (r = parse_selectors(e, spec->kind, MEMBER("selectors"), &spec->sel)) < 0 ||
	    (r = parse_sriov_env(e, MEMBER("sriovEnv"), spec)) < 0 ||
	    (r = parse_usb_identity(e, MEMBER("usbIdentity"), spec)) < 0)
		return r;
#undef MEMBER
	return check_bundle(e, spec);
}

/* Explicit names are known now; names that come from the host are checked at resolution. */
static int check_unique_names(struct perr *e, const struct hostdev_dp_config *config)
{
	struct dp_strmap names;
	size_t first;
	int r = 0;

	dp_strmap_init(&names);
	for (size_t i = 0; i < config->n_specs && r == 0; i++) {
		const struct dp_spec *spec = &config->specs[i];

		if (spec->naming != DP_NAMING_EXPLICIT)
			continue;
		r = dp_strmap_add(&names, spec->resource_name, i, &first);
		if (r == -EEXIST) {
			snprintf(e->label, sizeof(e->label), "resources[%zu] \"%s\"", i,
				 spec->resource_name);
			r = fail(
			    e,
			    "resourceName is also the name of resources[%zu]; a resource is "
			    "served by one entry: merge the selectors into one entry or rename "
			    "one of them",
			    first);
		}
	}
	dp_strmap_clear(&names);
	return r;
}

/* "line 3, column 14" of the byte at @pos of @text. */
static void position(const char *text, const char *pos, unsigned int *line, unsigned int *column)
{
	*line = 1;
	*column = 1;
	for (const char *p = text; *p && p < pos; p++) {
		if (*p == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

static int parse_top(struct perr *e, const cJSON *root, struct hostdev_dp_config *config)
{
	static const char *const keys[] = {"version", "resources", NULL};
	const cJSON *version, *resources;
	char sbuf[96];
	size_t i = 0;
	int r;

	if (!cJSON_IsObject(root))
		return fail(e, "the config must be a JSON object such as {\"resources\": [...]}");
	if ((r = check_duplicate_keys(e, root, "")) < 0)
		return r;
	for (const cJSON *m = root->child; m; m = m->next)
		if (!key_in(m->string, keys))
			return fail(
			    e,
			    "unknown top-level key \"%s\"; the config has \"resources\" and "
			    "optionally \"version\": 1",
			    shown(m->string, sbuf, sizeof(sbuf)));
	version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (version && !(cJSON_IsNumber(version) && version->valuedouble == 1.0))
		return fail(e, "\"version\" must be 1, the only version of the config format");
	resources = cJSON_GetObjectItemCaseSensitive(root, "resources");
	if (!resources)
		return fail(e, "\"resources\" is missing: list the resources to serve, e.g. "
			       "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"harvester\", "
			       "\"selectors\": {\"driver\": [\"vfio-pci\"]}}]}");
	if (!cJSON_IsArray(resources))
		return fail(e, "\"resources\" must be a list of resources");
	if (!resources->child)
		return fail(e, "\"resources\" is empty: list at least one resource to serve");
	config->n_specs = (size_t)cJSON_GetArraySize(resources);
	config->specs = calloc(config->n_specs, sizeof(*config->specs));
	if (!config->specs) {
		config->n_specs = 0;
		return -ENOMEM;
	}
	for (const cJSON *item = resources->child; item; item = item->next, i++) {
		config->specs[i].index = i;
		if ((r = parse_resource(e, item, &config->specs[i])) < 0)
			return r;
	}
	e->label[0] = '\0';
	return check_unique_names(e, config);
}

int dp_config_parse_text(const char *json, struct hostdev_dp_config **out, char *err,
			 size_t err_size)
{
	struct perr e = {err, err_size, ""};
	struct hostdev_dp_config *config;
	char where[160];
	const char *end = NULL;
	cJSON *root;
	int r;

	if (err && err_size)
		err[0] = '\0';
	if (!json || !out)
		return fail(&e, "no config text given");
	if (strlen(json) > DP_CONFIG_MAX_SIZE)
		return fail(&e, "the config is larger than %u bytes; it cannot be a resource list",
			    DP_CONFIG_MAX_SIZE);
	root = cJSON_ParseWithOpts(json, &end, 1);
	if (!root) {
		unsigned int line, column;
		char near[32], sbuf[40];
		const char *from;
		size_t len;

		if (!end)
			return -ENOMEM;
		position(json, end, &line, &column);
		if (!*end)
			return fail(&e,
				    "the config is not valid JSON: it ends too early (line %u, "
				    "column %u); check for a missing closing bracket or quote",
				    line, column);
		/* Show the text just before the error on its line: cJSON points past it. */
		from = end;
		while (from > json && end - from < 12 && from[-1] != '\n')
			from--;
		len = strcspn(from, "\n");
		if (len > sizeof(near) - 1)
			len = sizeof(near) - 1;
		memcpy(near, from, len);
		near[len] = '\0';
		return fail(&e,
			    "the config is not valid JSON: error at line %u, column %u (near "
			    "\"%s\"); check commas, quotes and brackets there",
			    line, column, shown(near, sbuf, sizeof(sbuf)));
	}
	if (json_find_nul_escape(json, strlen(json), where, sizeof(where))) {
		cJSON_Delete(root);
		return fail(&e,
			    "the config has \\u0000 (a NUL character) in %s: it would cut the "
			    "string short there; remove it",
			    where);
	}
	config = calloc(1, sizeof(*config));
	if (!config) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	config->refcount = 1;
	r = parse_top(&e, root, config);
	cJSON_Delete(root);
	if (r < 0) {
		dp_config_unref(config);
		if (r == -ENOMEM && err && err_size)
			snprintf(err, err_size, "out of memory while parsing the config");
		return r;
	}
	*out = config;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Lifetime */

static void free_strings(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

static void spec_clear(struct dp_spec *spec)
{
	struct dp_selectors *s = &spec->sel;

	free(spec->resource_name);
	free(spec->sriov_prefix);
	free(s->ids);
	free(s->bundle);
	free_strings(s->classes, s->n_classes);
	free_strings(s->drivers, s->n_drivers);
	free_strings(s->addresses, s->n_addresses);
	for (size_t i = 0; i < s->n_pfs; i++) {
		free(s->pfs[i].name);
		free(s->pfs[i].address);
		free(s->pfs[i].ranges);
	}
	free(s->pfs);
	free_strings(s->serials, s->n_serials);
	free_strings(s->ports, s->n_ports);
	free_strings(s->types, s->n_types);
	free_strings(s->parents, s->n_parents);
}

/*
 * Atomic: the resources (freed by the caller's thread) and the built-in plugins (freed on the
 * loop's thread) hold references to one config.
 */
struct hostdev_dp_config *dp_config_ref(struct hostdev_dp_config *config)
{
	if (config)
		__atomic_add_fetch(&config->refcount, 1, __ATOMIC_RELAXED);
	return config;
}

void dp_config_unref(struct hostdev_dp_config *config)
{
	if (!config || __atomic_sub_fetch(&config->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < config->n_specs; i++)
		spec_clear(&config->specs[i]);
	free(config->specs);
	free(config);
}
