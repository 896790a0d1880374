/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev_dp_matches: what one entry of a config selects now, as an immutable ref-counted object
 * with an index by device id, and the preferred allocation policy over it. The public face of
 * dp_match.c, for plugins built on a config (the built-in ones in plugins/ included).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_match.h"
#include "dp_prefer.h"

struct hostdev_dp_matches {
	int refcount; /* atomic: the object is immutable and may be shared between threads */
	struct dp_matches list;
	struct dp_index by_id; /* id -> index of its first device */
};

static const char *id_of(const void *list, size_t i)
{
	return ((const struct dp_matches *)list)->items[i].id;
}

/* Keep the devices of @m named @name. */
static void keep_resource(struct dp_matches *m, const char *name)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->count; i++) {
		if (strcmp(m->items[i].name, name) == 0)
			m->items[kept++] = m->items[i];
		else
			dp_match_clear(&m->items[i]);
	}
	m->count = kept;
}

HOSTDEV_EXPORT int hostdev_dp_config_match(hostdev_ctx *ctx, const hostdev_dp_config *config,
					   size_t entry, const char *resource_name,
					   hostdev_dp_matches **out)
{
	struct hostdev_dp_matches *matches;
	struct dp_matches *per_spec;
	int r;

	if (!ctx)
		return -EINVAL;
	if (!config || !out)
		return hostdev_error(ctx, -EINVAL, "hostdev_dp_config_match: no config given");
	if (entry >= config->n_specs)
		return hostdev_error(ctx, -EINVAL,
				     "the device-plugin config has no entry %zu: it has %zu", entry,
				     config->n_specs);
	matches = calloc(1, sizeof(*matches));
	per_spec = calloc(entry + 1, sizeof(*per_spec));
	if (!matches || !per_spec) {
		free(matches);
		free(per_spec);
		return -ENOMEM;
	}
	/* The entries before @entry run too: a device they select is not @entry's. */
	r = dp_match_run(ctx, config, entry, (int)config->specs[entry].kind, per_spec);
	if (r < 0) {
		free(per_spec);
		free(matches);
		return r;
	}
	for (size_t i = 0; i < entry; i++)
		dp_matches_clear(&per_spec[i]);
	matches->refcount = 1;
	matches->list = per_spec[entry];
	free(per_spec);
	if (resource_name)
		keep_resource(&matches->list, resource_name);
	/* The list is final (never added to: dp_array_grow()'s capacity is gone) and may live long
	 * (a plugin keeps its last for Allocate): without the doubling's slack, up to half of it,
	 * 0.5 MiB at 10,000 devices (issue 15). */
	if (matches->list.count) {
		struct dp_match *fit =
		    realloc(matches->list.items, matches->list.count * sizeof(*fit));

		if (fit)
			matches->list.items = fit;
	}
	/* Nothing to lose but memory when it fails: the strings then stay where they are. */
	(void)dp_matches_pack(&matches->list);
	for (size_t i = 0; i < matches->list.count && r == 0; i++) {
		r = dp_index_add(&matches->by_id, id_of, &matches->list, i, NULL);
		if (r == -EEXIST)
			r = 0; /* listed twice: the first one counts */
	}
	if (r < 0) {
		hostdev_dp_matches_unref(matches);
		return r;
	}
	*out = matches;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void dp_matches_destroy(hostdev_dp_matches *matches)
{
	dp_index_clear(&matches->by_id);
	dp_matches_clear(&matches->list);
	free(matches);
}

HOSTDEV_DEFINE_ATOMIC_REF_UNREF(hostdev_dp_matches, dp_matches_destroy)

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_dp_matches, get_count, list.count, 0)

HOSTDEV_EXPORT long hostdev_dp_matches_find(const hostdev_dp_matches *matches, const char *id)
{
	return matches && id ? (long)dp_index_find(&matches->by_id, id_of, &matches->list, id) : -1;
}

static const struct dp_match *item(const hostdev_dp_matches *matches, size_t i)
{
	return matches && i < matches->list.count ? &matches->list.items[i] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_dp_matches, get_id, item, id, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_dp_matches, get_resource_name, item, name,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_dp_matches, get_numa_node, item, numa, -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_dp_matches, get_iommu_group, item, iommu_group, -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_dp_matches, get_parent, item, pf, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_dp_matches, get_driver, item, driver,
				    NULL)

HOSTDEV_EXPORT unsigned int hostdev_dp_matches_get_usb_busnum(const hostdev_dp_matches *matches,
							      size_t i)
{
	const struct dp_match *m = item(matches, i);

	return m && m->extra ? m->extra->busnum : 0;
}

HOSTDEV_EXPORT unsigned int hostdev_dp_matches_get_usb_devnum(const hostdev_dp_matches *matches,
							      size_t i)
{
	const struct dp_match *m = item(matches, i);

	return m && m->extra ? m->extra->devnum : 0;
}

HOSTDEV_EXPORT size_t hostdev_dp_matches_get_usb_device_count(const hostdev_dp_matches *matches,
							      size_t i)
{
	const struct dp_match *m = item(matches, i);

	return m && m->extra ? m->extra->n_members : 0;
}

HOSTDEV_EXPORT int hostdev_dp_matches_get_usb_device(const hostdev_dp_matches *matches, size_t i,
						     size_t j, unsigned int *busnum,
						     unsigned int *devnum, const char **identity)
{
	const struct dp_match *m = item(matches, i);

	if (!m || !m->extra || j >= m->extra->n_members)
		return -EINVAL;
	if (busnum)
		*busnum = m->extra->members[j].busnum;
	if (devnum)
		*devnum = m->extra->members[j].devnum;
	if (identity)
		*identity = m->extra->members[j].identity;
	return 0;
}

HOSTDEV_EXPORT long hostdev_dp_matches_prefer(const hostdev_dp_matches *seen,
					      const char *const *available, size_t n_available,
					      const char *const *must_include,
					      size_t n_must_include, size_t size, const char **out)
{
	struct prefer_candidate *c = calloc(n_available ? n_available : 1, sizeof(*c));
	long n;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n_available; i++) {
		const struct dp_match *m =
		    item(seen, (size_t)hostdev_dp_matches_find(seen, available[i]));

		c[i].id = available[i];
		c[i].numa = m ? m->numa : -1;
		c[i].group = m ? m->iommu_group : -1;
		c[i].bucket = m ? m->pf : NULL;
	}
	n = prefer_select(c, n_available, must_include, n_must_include, size, out);
	free(c);
	return n;
}
