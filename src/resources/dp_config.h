/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resource selection config of the device plugins (docs/device-plugin.md, "Resource selection
 * config") as parsed data. Parsing (dp_config_parse.c, dp_config_values.c) uses only cJSON, libc
 * and the public API, and reports errors into a caller's buffer, so that the tests can build the
 * same specs the library does. Never installed.
 */
#ifndef HOSTDEV_DP_CONFIG_H
#define HOSTDEV_DP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <hostdev.h>

/* How the resources of one config entry are named. */
enum dp_naming {
	DP_NAMING_EXPLICIT = 0,	  /* "resourceName": every match in one resource of that name */
	DP_NAMING_HARVESTER = 1,  /* "naming": "harvester": one resource per Harvester name */
	DP_NAMING_PER_DEVICE = 2, /* "naming": "per-device": one resource per device */
};

/* Which stable identity a USB device gets as its device id (docs/usb.md). */
enum dp_usb_identity {
	DP_USB_ID_AUTO = 0,   /* the serial identity when the serial is unique, else the port */
	DP_USB_ID_PORT = 1,   /* always the port identity */
	DP_USB_ID_SERIAL = 2, /* only devices with a unique serial; the others are left out */
};

/* An inclusive range of VF indexes. */
struct dp_vf_range {
	unsigned int first, last;
};

/* "pf": the VFs of one physical function, by interface name or PCI address. */
struct dp_pf_selector {
	char *name;    /* network interface of the PF, or NULL */
	char *address; /* normalised PCI address of the PF, or NULL */
	struct dp_vf_range *ranges;
	size_t n_ranges; /* 0: every VF */
};

/* A USB or PCI id pair; -1 for "any" (only the second member may be -1). */
struct dp_id_pair {
	int first, second;
};

/*
 * Selectors of one entry. Each list is empty when the key is absent; kinds of selectors AND
 * together, the items of one list OR.
 */
struct dp_selectors {
	/* pci: vendorDevice; usb: vendorProduct */
	struct dp_id_pair *ids;
	size_t n_ids;
	/* pci */
	char **classes; /* "02", "0200", "020000" (lower case) */
	size_t n_classes;
	char **drivers; /* driver names, "none" for unbound */
	size_t n_drivers;
	char **addresses; /* normalised "dddd:bb:ss.f" */
	size_t n_addresses;
	struct dp_pf_selector *pfs;
	size_t n_pfs;
	/* usb */
	/* "bundle": exact vendor:product ids, each naming one member of a set of devices handed
	 * out together under one device id (KubeVirt's permittedHostDevices.usb[].selectors).
	 * Distinct (one device cannot be two members); excludes vendorProduct. */
	struct dp_id_pair *bundle;
	size_t n_bundle;
	char **serials;
	size_t n_serials;
	char **ports; /* "2-1.4", or "2-1.*" for every device below port 2-1 */
	size_t n_ports;
	/* mdev */
	char **types; /* type id, type name, or KubeVirt selector form */
	size_t n_types;
	char **parents; /* parent device: PCI address (normalised) or name ("mtty") */
	size_t n_parents;
};

/* One entry of "resources". */
struct dp_spec {
	size_t index; /* position in the config */
	enum hostdev_dp_kind kind;
	enum dp_naming naming;
	char *resource_name; /* DP_NAMING_EXPLICIT only */
	/*
	 * pci: emit PCIDEVICE_<PREFIX>_<NAME> and _INFO like the SR-IOV network device plugin.
	 * NULL: no; "" (sriovEnv true): the resource's own domain; else the given prefix.
	 */
	char *sriov_prefix;
	enum dp_usb_identity usb_identity;
	struct dp_selectors sel;
};

struct hostdev_dp_config {
	/* The caller's reference, one per resources object made from it and one per built-in
	 * plugin; changed atomically (dp_config_ref()). */
	int refcount;
	struct dp_spec *specs;
	size_t n_specs;
};

/* Largest config text accepted (hostdev_dp_config_load() and _parse()). */
#define DP_CONFIG_MAX_SIZE (4u * 1024 * 1024)

/*
 * Parse @json into a new config with one reference. On failure returns -EINVAL (with a message
 * in @err naming the resource, the key, what is wrong and what to do) or -ENOMEM.
 */
int dp_config_parse_text(const char *json, struct hostdev_dp_config **out, char *err,
			 size_t err_size);
/* Drop one reference; the last frees the config. NULL-safe. */
void dp_config_unref(struct hostdev_dp_config *config);
struct hostdev_dp_config *dp_config_ref(struct hostdev_dp_config *config);

/* dp_config_values.c: the syntax of selector values. Each returns 0 or -EINVAL. */
/* "8086:10d3", "8086:*": 4 hex digits each, the second may be "*". */
int dp_parse_id_pair(const char *text, struct dp_id_pair *out);
/* @pair as an enumerator id filter: "8086:10d3", or "8086:" when any second id matches. */
void dp_format_id_filter(const struct dp_id_pair *pair, char *buf, size_t size);
/* "02", "0200", "020000" (hex); *out is the lower-case copy. */
int dp_parse_class(const char *text, char **out);
/* A full or short PCI address; *out is the normalised "dddd:bb:ss.f". */
int dp_parse_pci_address(const char *text, char **out);
/* "#0,2-7" or "0,2-7": VF indexes 0..65535, ranges ascending. */
int dp_parse_vf_ranges(const char *text, struct dp_vf_range **out, size_t *n_out);
/* A USB port path "2-1.4" or "2-1.*". */
int dp_check_usb_port(const char *text);
/* A driver name: 1-63 characters of [A-Za-z0-9_.-] (sysfs directory names of drivers). */
int dp_check_driver(const char *text);
/* A network interface name: 1-15 bytes, no '/', ':' or whitespace. */
int dp_check_ifname(const char *text);
/* A domain usable as an extended resource prefix ("intel.com"). */
int dp_check_domain(const char *text);
/* True when VF @index is inside @ranges (or @n_ranges is 0). */
bool dp_vf_in_ranges(const struct dp_vf_range *ranges, size_t n_ranges, unsigned int index);

#endif /* HOSTDEV_DP_CONFIG_H */
