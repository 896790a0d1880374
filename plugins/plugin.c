/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One built-in plugin: its resource, env variable names, the devices it has advertised, and the
 * dispatch of list / allocate / preferred allocation to the logic of its kind, through the kind's
 * table (plugin_kind_of()).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

void plugin_list_clear(struct plugin_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i].id);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static char *env_name(const char *prefix, const char *resource_name)
{
	char buf[HOSTDEV_NAME_MAX];

	if (hostdev_naming_kubevirt_env(prefix, resource_name, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

/* PCIDEVICE_<PREFIX>_<NAME> as the SR-IOV network device plugin names it: its resource prefix
 * (here the configured one, or the domain of the resource name) and the name part. */
static char *sriov_env_name(const char *prefix, const char *resource_name)
{
	const char *slash = strchr(resource_name, '/');
	char full[HOSTDEV_NAME_MAX];

	if (!slash)
		return NULL;
	if (!*prefix)
		return env_name("PCIDEVICE", resource_name);
	snprintf(full, sizeof(full), "%s/%s", prefix, slash + 1);
	return env_name("PCIDEVICE", full);
}

/* Record @id (once; its NUMA node is updated): the list of every device ever advertised. */
static int remember(struct plugin *p, const char *id, int numa)
{
	ptrdiff_t k = dp_strmap_find(&p->known_index, id);
	char **ids;
	int *numas;
	int r;

	if (k >= 0) {
		p->known_numa[k] = numa;
		return 0;
	}
	ids = dp_array_grow(p->known, p->n_known, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	p->known = ids;
	numas = dp_array_grow(p->known_numa, p->n_known, sizeof(*numas));
	if (!numas)
		return -ENOMEM;
	p->known_numa = numas;
	if (!(p->known[p->n_known] = strdup(id)))
		return -ENOMEM;
	r = dp_strmap_add(&p->known_index, p->known[p->n_known], p->n_known, NULL);
	if (r < 0) {
		free(p->known[p->n_known]);
		return r;
	}
	p->known_numa[p->n_known++] = numa;
	return 0;
}

/* @m's device ids mapped to their indexes. */
static int index_matches(const struct dp_matches *m, struct dp_strmap *out)
{
	dp_strmap_init(out);
	for (size_t i = 0; i < m->count; i++) {
		int r = dp_strmap_add(out, m->items[i].id, i, NULL);

		if (r == -ENOMEM) {
			dp_strmap_clear(out);
			return r;
		}
	}
	return 0;
}

static void snapshot_clear(struct plugin_snapshot *snap)
{
	for (size_t i = 0; i < snap->count; i++) {
		free(snap->items[i].id);
		free(snap->items[i].pf);
	}
	free(snap->items);
	dp_strmap_clear(&snap->index);
	memset(snap, 0, sizeof(*snap));
}

/* What @now shows of each device. */
static int snapshot_build(const struct dp_matches *now, struct plugin_snapshot *out)
{
	struct plugin_snapshot snap = {0};
	int r = 0;

	snap.items = calloc(now->count ? now->count : 1, sizeof(*snap.items));
	if (!snap.items)
		return -ENOMEM;
	for (size_t i = 0; i < now->count && r == 0; i++) {
		const struct dp_match *m = &now->items[i];
		struct plugin_seen *s = &snap.items[snap.count];

		s->numa = m->numa;
		s->group = m->iommu_group;
		if (!(s->id = strdup(m->id)) || (m->pf && !(s->pf = strdup(m->pf)))) {
			free(s->id);
			r = -ENOMEM;
			break;
		}
		snap.count++;
		r = dp_strmap_add(&snap.index, s->id, snap.count - 1, NULL);
		if (r == -EEXIST)
			r = 0;
	}
	if (r < 0) {
		snapshot_clear(&snap);
		return r;
	}
	*out = snap;
	return 0;
}

int plugin_new(hostdev_ctx *ctx, struct hostdev_dp_config *config, size_t spec_index,
	       const char *resource_name, const char *const *initial_ids, size_t n_initial,
	       struct plugin **out)
{
	const struct plugin_kind *kind;
	struct plugin *p;
	int r = 0;

	if (!ctx || !config || spec_index >= config->n_specs || !resource_name)
		return -EINVAL;
	kind = plugin_kind_of((int)config->specs[spec_index].kind);
	if (!kind)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ctx = hostdev_ctx_ref(ctx);
	pthread_mutex_init(&p->lock, NULL);
	p->config = dp_config_ref(config);
	p->spec = &config->specs[spec_index];
	p->kind = kind;
	p->resource_name = strdup(resource_name);
	p->env_name = env_name(kind->env_prefix, resource_name);
	if (p->spec->kind == HOSTDEV_DP_KIND_PCI && p->spec->sriov_prefix &&
	    !(p->sriov_env_name = sriov_env_name(p->spec->sriov_prefix, resource_name)))
		r = -EINVAL;
	if (!p->resource_name || !p->env_name)
		r = r ? r : -ENOMEM;
	for (size_t i = 0; i < n_initial && r == 0; i++)
		r = remember(p, initial_ids[i], -1);
	if (r < 0) {
		plugin_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void plugin_free(struct plugin *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_known; i++)
		free(p->known[i]);
	free(p->known);
	free(p->known_numa);
	dp_strmap_clear(&p->known_index);
	snapshot_clear(&p->seen);
	pthread_mutex_destroy(&p->lock);
	hostdev_ctx_unref(p->list_ctx);
	free(p->resource_name);
	free(p->env_name);
	free(p->sriov_env_name);
	dp_config_unref(p->config);
	hostdev_ctx_unref(p->ctx);
	free(p);
}

static bool healthy(const struct plugin *p, const struct dp_match *m)
{
	return p->kind->healthy(p, m);
}

int plugin_list_devices(struct plugin *p, struct plugin_list *out)
{
	struct plugin_snapshot seen = {0};
	struct dp_matches now = {0};
	struct plugin_list list = {0};
	struct dp_strmap by_id;
	int r;

	if ((r = plugin_matches(p, p->list_ctx ? p->list_ctx : p->ctx, &now)) < 0)
		return r;
	if ((r = index_matches(&now, &by_id)) < 0 || (r = snapshot_build(&now, &seen)) < 0) {
		dp_strmap_clear(&by_id);
		dp_matches_clear(&now);
		return r;
	}
	pthread_mutex_lock(&p->lock);
	snapshot_clear(&p->seen);
	p->seen = seen;
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < now.count && r == 0; i++)
		r = remember(p, now.items[i].id, now.items[i].numa);
	if (r == 0 && p->n_known) {
		list.items = calloc(p->n_known, sizeof(*list.items));
		if (!list.items)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < p->n_known && r == 0; i++) {
		ptrdiff_t k = dp_strmap_find(&by_id, p->known[i]);
		struct plugin_device *d = &list.items[list.count];

		if (!(d->id = strdup(p->known[i]))) {
			r = -ENOMEM;
			break;
		}
		list.count++;
		d->numa = p->known_numa[i];
		d->healthy = k >= 0 && healthy(p, &now.items[k]);
	}
	dp_strmap_clear(&by_id);
	dp_matches_clear(&now);
	if (r < 0) {
		plugin_list_clear(&list);
		return r;
	}
	*out = list;
	return 0;
}

int plugin_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
		    struct plugin_answer *out)
{
	return p->kind->allocate(p, ids, n_ids, out);
}

int plugin_preferred(struct plugin *p, const char *const *available, size_t n_available,
		     const char *const *must_include, size_t n_must_include, size_t size,
		     struct plugin_answer *out)
{
	struct prefer_candidate *c = calloc(n_available ? n_available : 1, sizeof(*c));
	const char **chosen = calloc(size ? size : 1, sizeof(*chosen));
	long n = 0;
	int r = 0;

	if (!c || !chosen) {
		r = -ENOMEM;
		goto out;
	}
	/* The policy reads the PF strings of the snapshot: hold it until the choice is made. */
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < n_available; i++) {
		ptrdiff_t k = dp_strmap_find(&p->seen.index, available[i]);
		const struct plugin_seen *s = k >= 0 ? &p->seen.items[k] : NULL;

		c[i].id = available[i];
		c[i].numa = s ? s->numa : -1;
		c[i].group = s ? s->group : -1;
		c[i].bucket = s ? s->pf : NULL;
	}
	n = prefer_select(c, n_available, must_include, n_must_include, size, chosen);
	pthread_mutex_unlock(&p->lock);
	if (n < 0)
		r = (int)n;
	for (long i = 0; i < n && r == 0; i++)
		r = answer_add_id(out, chosen[i]);
out:
	free(c);
	free(chosen);
	return r;
}
