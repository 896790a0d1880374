/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which devices of the host an entry of the resource selection config selects, with what the
 * resources, the built-in plugins and permittedHostDevices need to know of each. Uses only the
 * public API (so the tests can run it too). Never installed.
 */
#ifndef HOSTDEV_DP_MATCH_H
#define HOSTDEV_DP_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "dp_config.h"

/* One USB device of a match: the device itself, or a member of a bundle's set. */
struct dp_usb_member {
	char *key;	/* kernel name now, "1-1.4" */
	char *identity; /* its own stable identity under the entry's usbIdentity rule */
	unsigned int busnum, devnum;
};

/* What USB and mdev matches hold beyond a PCI one: in an allocation of its own, so that the
 * matches of 10,000 PCI functions do not carry it (24 bytes each, issue 15). */
struct dp_match_extra {
	char *mdev_selector;	     /* mdev: KubeVirt mdevNameSelector form of the type */
	unsigned int busnum, devnum; /* USB (a bundle: of its first member) */
	/* USB: the devices the id stands for, in the order of the bundle's selectors (one for a
	 * single device). */
	struct dp_usb_member *members;
	size_t n_members;
};

/* One selected device (for a USB bundle: one complete set of devices). */
struct dp_match {
	char *key; /* what the device is now: PCI address, USB kernel name, mdev UUID */
	/* Kubernetes device id: PCI address, USB stable identity, mdev UUID. For PCI and mdev it
	 * is @key itself, one allocation for both (10,000 fewer at 10,000 devices, issue 15):
	 * dp_match_clear() frees it only when it is another string. */
	char *id;
	char *name;		      /* the resource it belongs to under the entry's naming */
	int numa;		      /* NUMA node, -1 for none */
	int iommu_group;	      /* PCI and mdev; -1 for none */
	char *pf;		      /* PCI VF: its PF's address; mdev: its parent; else NULL */
	unsigned int vendor;	      /* PCI vendor / USB idVendor */
	unsigned int device;	      /* PCI device / USB idProduct */
	char *driver;		      /* PCI: bound driver, NULL for none */
	struct dp_match_extra *extra; /* USB and mdev (dp_match_extra()); NULL for PCI */
};

struct dp_matches {
	struct dp_match *items;
	size_t count;
	/* Devices left out, one sentence each (a name that is not a valid resource name, a USB
	 * device without a usable identity). */
	char **skipped;
	size_t n_skipped;
	/* After dp_matches_pack(): one block that holds the strings of every match (the members of
	 * USB matches excepted), each distinct string once. NULL: each string is its own malloc. */
	char *strings;
};

/* Free what @m holds (not @m itself); not for the matches of a packed list. */
void dp_match_clear(struct dp_match *m);
void dp_matches_clear(struct dp_matches *m);
/* Index of the match with device id @id, or -1. */
long dp_matches_find_id(const struct dp_matches *m, const char *id);

/*
 * Run the entries 0..@upto of @config and fill @per_spec[0..@upto] with what each selects now.
 * A device is served by the first entry that selects it: later entries leave it out. With
 * @only_kind >= 0, entries of other kinds are not run (their lists stay empty). Returns 0 or the
 * negative errno of an enumeration (message in the context).
 */
int dp_match_run(hostdev_ctx *ctx, const struct hostdev_dp_config *config, size_t upto,
		 int only_kind, struct dp_matches *per_spec);

/* Per kind (dp_match_pci.c, dp_match_usb.c, dp_match_mdev.c): every device the selectors of
 * @spec match, named under its naming. */
int dp_match_pci(hostdev_ctx *ctx, const struct dp_spec *spec, struct dp_matches *out);
int dp_match_usb(hostdev_ctx *ctx, const struct dp_spec *spec, struct dp_matches *out);
int dp_match_mdev(hostdev_ctx *ctx, const struct dp_spec *spec, struct dp_matches *out);
/* dp_match_usb_bundle.c: the complete sets of an entry with selectors.bundle, from the devices
 * not in @taken (keys earlier entries serve): per member, the candidates in port identity order;
 * set k takes the k-th candidate of every member, as many sets as every member has candidates
 * (KubeVirt's greedy rule, made deterministic). */
struct dp_strmap;
int dp_match_usb_bundle(hostdev_ctx *ctx, const struct dp_spec *spec, const struct dp_strmap *taken,
			struct dp_matches *out);

/* dp_match_usb.c, shared with the bundles: the enumerator's filters of @sel (the bundle's ids
 * included), and the stable identity of @devs[i] under @spec's rule (NULL: none, *why says why). */
int dp_usb_add_filters(hostdev_usb_enum *e, const struct dp_selectors *sel);
const char *dp_usb_identity(const struct dp_spec *spec, hostdev_usb_device **devs, size_t n,
			    size_t i, const char **why);
/* Every device @spec's filters select now (hubs left out), in the enumerator's order. */
int dp_usb_enumerate(hostdev_ctx *ctx, const struct dp_spec *spec, hostdev_usb_device ***out,
		     size_t *n_out);
void dp_usb_devices_free(hostdev_usb_device **devs, size_t n);
/* Append a member for @dev with @identity to @m. Returns 0 or -ENOMEM. */
int dp_usb_add_member(struct dp_match *m, hostdev_usb_device *dev, const char *identity);

/* Shared helpers (dp_matches.c). */
/* @m's extra fields, allocated (zeroed) on first use; NULL on allocation failure. */
struct dp_match_extra *dp_match_extra(struct dp_match *m);
/* Append a zeroed match; NULL on allocation failure. */
struct dp_match *dp_matches_add(struct dp_matches *m);
/* Move the strings of the matches of @m into one block (m->strings), each distinct one once: a
 * list that lives long (a plugin keeps its last) then costs one allocation for its strings, not
 * four per device, and the resource name, driver and PF shared by thousands of devices are
 * stored once (issue 15). The list must not be added to or cleared item by item after. Returns 0,
 * or -ENOMEM with @m unchanged. */
int dp_matches_pack(struct dp_matches *m);
/* Record a skipped device (the message is copied). Returns 0 or -ENOMEM. */
int dp_matches_skip(struct dp_matches *m, const char *message);
/* "<vendor part>/<device id of @text>", checked as a resource name; NULL when impossible. */
char *dp_name_join(const char *vendor, const char *text);

#endif /* HOSTDEV_DP_MATCH_H */
