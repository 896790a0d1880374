/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolution of a resource selection config on the host: one resource per explicit name (also
 * when nothing matches yet: devices may be plugged later), one per Harvester name or per device
 * found for the other namings. Resources are sorted by name; two entries that give the same name
 * are an error, since one resource is served by one plugin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources.h"
#include "core/core.h"

static void resource_clear(struct dp_resource *r)
{
	free(r->name);
	dp_matches_clear(&r->devices);
}

/*
 * The resource named @name, created for entry @spec_index if there is none yet. @names maps the
 * names of @res to their indexes (a config of thousands of entries resolves in linear time).
 */
static int add_resource(hostdev_ctx *ctx, struct hostdev_dp_resources *res, struct dp_strmap *names,
			const char *name, size_t spec_index, const char *why,
			struct dp_resource **out)
{
	ptrdiff_t found = dp_strmap_find(names, name);
	struct dp_resource *r, *grown;
	int err;

	if (found >= 0) {
		r = &res->items[found];
		if (r->spec_index == spec_index) {
			*out = r;
			return 0;
		}
		return hostdev_error(
		    ctx, -EINVAL,
		    "resources[%zu] and resources[%zu] both give the resource %s%s; "
		    "a resource is served by one entry: give one of them an "
		    "explicit resourceName or make their selectors disjoint",
		    r->spec_index, spec_index, name, why);
	}
	grown = dp_array_grow(res->items, res->count, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	res->items = grown;
	r = &res->items[res->count];
	memset(r, 0, sizeof(*r));
	r->spec_index = spec_index;
	if (!(r->name = strdup(name)))
		return -ENOMEM;
	if ((err = dp_strmap_add(names, r->name, res->count, NULL)) < 0) {
		free(r->name);
		return err;
	}
	res->count++;
	*out = r;
	return 0;
}

/* Move match @m into @r (the source slot no longer owns anything). */
static int take_match(struct dp_resource *r, struct dp_match *m)
{
	struct dp_match *slot = dp_matches_add(&r->devices);

	if (!slot)
		return -ENOMEM;
	*slot = *m;
	memset(m, 0, sizeof(*m));
	return 0;
}

static int add_spec(hostdev_ctx *ctx, struct hostdev_dp_resources *res, struct dp_strmap *names,
		    const struct dp_spec *spec, struct dp_matches *found)
{
	struct dp_resource *r;
	int err;

	for (size_t k = 0; k < found->n_skipped; k++)
		log_warn(ctx, "resources[%zu]: %s", spec->index, found->skipped[k]);
	if (spec->naming == DP_NAMING_EXPLICIT &&
	    (err = add_resource(ctx, res, names, spec->resource_name, spec->index, "", &r)) < 0)
		return err;
	for (size_t k = 0; k < found->count; k++) {
		struct dp_match *m = &found->items[k];
		char why[96];

		snprintf(why, sizeof(why), " (from %s)", m->key);
		if ((err = add_resource(ctx, res, names, m->name, spec->index, why, &r)) < 0 ||
		    (err = take_match(r, m)) < 0)
			return err;
	}
	return 0;
}

static int compare_resources(const void *a, const void *b)
{
	return strcmp(((const struct dp_resource *)a)->name, ((const struct dp_resource *)b)->name);
}

HOSTDEV_EXPORT int hostdev_dp_resources_resolve(hostdev_ctx *ctx, const hostdev_dp_config *config,
						hostdev_dp_resources **out)
{
	struct hostdev_dp_resources *res;
	struct dp_matches *per_spec;
	struct dp_strmap names;
	int r;

	if (!ctx)
		return -EINVAL;
	if (!config || !out)
		return hostdev_error(ctx, -EINVAL, "hostdev_dp_resources_resolve: no config given");
	per_spec = calloc(config->n_specs, sizeof(*per_spec));
	res = calloc(1, sizeof(*res));
	if (!per_spec || !res) {
		free(per_spec);
		free(res);
		return -ENOMEM;
	}
	res->refcount = 1;
	res->config = dp_config_ref((struct hostdev_dp_config *)config);
	r = dp_match_run(ctx, config, config->n_specs - 1, -1, per_spec);
	if (r < 0) {
		free(per_spec);
		hostdev_dp_resources_unref(res);
		return r;
	}
	dp_strmap_init(&names);
	for (size_t i = 0; i < config->n_specs && r == 0; i++)
		r = add_spec(ctx, res, &names, &config->specs[i], &per_spec[i]);
	dp_strmap_clear(&names);
	for (size_t i = 0; i < config->n_specs; i++)
		dp_matches_clear(&per_spec[i]);
	free(per_spec);
	if (r < 0) {
		hostdev_dp_resources_unref(res);
		return r;
	}
	if (res->count > 1)
		qsort(res->items, res->count, sizeof(*res->items), compare_resources);
	*out = res;
	return 0;
}

/* The name of HOSTDEV_1, kept: the ABI is add-only. */
HOSTDEV_EXPORT hostdev_dp_resources *hostdev_dp_resources_free(hostdev_dp_resources *resources)
{
	return hostdev_dp_resources_unref(resources);
}

/* What _unref() does when the last reference goes. */
static void dp_resources_destroy(hostdev_dp_resources *resources)
{
	for (size_t i = 0; i < resources->count; i++)
		resource_clear(&resources->items[i]);
	free(resources->items);
	dp_config_unref(resources->config);
	free(resources);
}

HOSTDEV_DEFINE_ATOMIC_REF_UNREF(hostdev_dp_resources, dp_resources_destroy)

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_dp_resources, get_count, count, 0)

static const struct dp_resource *item(const hostdev_dp_resources *resources, size_t i)
{
	return resources && i < resources->count ? &resources->items[i] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_dp_resources, get_name, item, name, NULL)

HOSTDEV_EXPORT int hostdev_dp_resources_get_kind(const hostdev_dp_resources *resources, size_t i)
{
	const struct dp_resource *r = item(resources, i);

	return r ? (int)resources->config->specs[r->spec_index].kind : -1;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(size_t, hostdev_dp_resources, get_device_count, item,
				    devices.count, 0)

HOSTDEV_EXPORT const char *hostdev_dp_resources_get_device_id(const hostdev_dp_resources *resources,
							      size_t i, size_t j)
{
	const struct dp_resource *r = item(resources, i);

	return r && j < r->devices.count ? r->devices.items[j].id : NULL;
}

HOSTDEV_DEFINE_CONST_GETTER(hostdev_dp_config *, hostdev_dp_resources, get_config, config, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(size_t, hostdev_dp_resources, get_entry, item, spec_index,
				    (size_t)-1)
