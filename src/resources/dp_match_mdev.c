/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mdev selectors: the existing mediated devices whose type (id, name, or KubeVirt selector form)
 * and parent match. The NUMA node is the parent's; the resource vendor is the parent's
 * pci.ids vendor ("unknown.com" for a parent that is not a PCI device).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_match.h"

static bool type_selected(const struct dp_selectors *sel, const hostdev_mdev_list *list, size_t i)
{
	const char *type = hostdev_mdev_list_get_type(list, i);
	const char *name = hostdev_mdev_list_get_type_name(list, i);
	const char *selector = hostdev_mdev_list_get_selector(list, i);

	if (sel->n_types == 0)
		return true;
	for (size_t k = 0; k < sel->n_types; k++) {
		const char *want = sel->types[k];

		if ((type && strcmp(want, type) == 0) || (name && strcmp(want, name) == 0) ||
		    (selector && strcmp(want, selector) == 0))
			return true;
	}
	return false;
}

static bool parent_selected(const struct dp_selectors *sel, const char *parent)
{
	if (sel->n_parents == 0)
		return true;
	for (size_t k = 0; k < sel->n_parents; k++)
		if (parent && strcmp(sel->parents[k], parent) == 0)
			return true;
	return false;
}

/* Vendor part and NUMA node of the parent. */
static void parent_info(hostdev_ctx *ctx, const char *parent, char *vendor, size_t size, int *numa)
{
	hostdev_pci_device *dev = NULL;

	*numa = -1;
	if (parent && hostdev_pci_device_new(ctx, parent, &dev) == 0) {
		*numa = hostdev_pci_device_get_numa_node(dev);
		if (hostdev_naming_resource_vendor(hostdev_pci_device_get_vendor_name(dev), vendor,
						   size) >= 0) {
			hostdev_pci_device_unref(dev);
			return;
		}
		hostdev_pci_device_unref(dev);
	}
	snprintf(vendor, size, "unknown.com");
}

static char *name_of(const struct dp_spec *spec, const char *vendor, const char *selector,
		     const char *uuid)
{
	char text[HOSTDEV_NAME_MAX];

	switch (spec->naming) {
	case DP_NAMING_EXPLICIT:
		return strdup(spec->resource_name);
	case DP_NAMING_HARVESTER:
		return dp_name_join(vendor, selector);
	case DP_NAMING_PER_DEVICE:
		snprintf(text, sizeof(text), "%s-%s", selector, uuid);
		return dp_name_join(vendor, text);
	}
	return NULL;
}

static int add_match(hostdev_ctx *ctx, const struct dp_spec *spec, const hostdev_mdev_list *list,
		     size_t i, struct dp_matches *out)
{
	const char *uuid = hostdev_mdev_list_get_uuid(list, i);
	const char *parent = hostdev_mdev_list_get_parent(list, i);
	const char *type = hostdev_mdev_list_get_type(list, i);
	const char *selector = hostdev_mdev_list_get_selector(list, i);
	char vendor[HOSTDEV_NAME_MAX], msg[256];
	struct dp_match *m;
	char *name;
	int numa;

	if (!selector)
		selector = type ? type : "mdev";
	parent_info(ctx, parent, vendor, sizeof(vendor), &numa);
	name = name_of(spec, vendor, selector, uuid);
	if (!name) {
		snprintf(msg, sizeof(msg),
			 "mdev %s (type %s): no valid resource name can be made from its type; "
			 "select it in an entry with an explicit resourceName",
			 uuid, type ? type : "?");
		return dp_matches_skip(out, msg);
	}
	m = dp_matches_add(out);
	if (!m) {
		free(name);
		return -ENOMEM;
	}
	m->name = name;
	m->key = m->id = strdup(uuid); /* the same string (dp_match.h) */
	m->numa = numa;
	m->iommu_group = hostdev_mdev_list_get_iommu_group(list, i);
	m->pf = parent ? strdup(parent) : NULL;
	if (!m->key || !m->id || (parent && !m->pf) || !dp_match_extra(m) ||
	    !(m->extra->mdev_selector = strdup(selector)))
		return -ENOMEM;
	return 0;
}

int dp_match_mdev(hostdev_ctx *ctx, const struct dp_spec *spec, struct dp_matches *out)
{
	hostdev_mdev_list *list = NULL;
	int r;

	if ((r = hostdev_mdev_list_read(ctx, &list)) < 0)
		return r;
	for (size_t i = 0; i < hostdev_mdev_list_get_count(list) && r == 0; i++)
		if (type_selected(&spec->sel, list, i) &&
		    parent_selected(&spec->sel, hostdev_mdev_list_get_parent(list, i)))
			r = add_match(ctx, spec, list, i, out);
	hostdev_mdev_list_unref(list);
	if (r < 0)
		dp_matches_clear(out);
	return r;
}
