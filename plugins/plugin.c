/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One built-in plugin: its resource, env variable names, the devices it has advertised, and the
 * dispatch of list / allocate / preferred allocation to the logic of its kind, through the kind's
 * table (plugin_kind_of()).
 */
#include <errno.h>
#include <limits.h>
#include <search.h>
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

static int compare_known(const void *a, const void *b)
{
	return strcmp(((const struct plugin_known *)a)->id, ((const struct plugin_known *)b)->id);
}

/* Record @id (once; its NUMA node is updated): the list of every device ever advertised. */
static int remember(struct plugin *p, const char *id, int numa)
{
	struct plugin_known key = {.id = (char *)id}, *k;
	void *found = tfind(&key, &p->known_tree, compare_known);

	if (found) {
		(*(struct plugin_known **)found)->numa = numa;
		return 0;
	}
	if (p->n_known == p->known_capacity) {
		size_t capacity = p->known_capacity ? 2 * p->known_capacity : 8;
		struct plugin_known **grown = realloc(p->known, capacity * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		p->known = grown;
		p->known_capacity = capacity;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !(k->id = strdup(id))) {
		free(k);
		return -ENOMEM;
	}
	k->numa = numa;
	if (!tsearch(k, &p->known_tree, compare_known)) {
		free(k->id);
		free(k);
		return -ENOMEM;
	}
	p->known[p->n_known++] = k;
	return 0;
}

/* tdestroy(3) wants a function for each node: the records are freed through @known. */
static void keep_node(void *node)
{
	(void)node;
}

int plugin_new(hostdev_ctx *ctx, hostdev_dp_config *config, size_t entry, const char *resource_name,
	       const char *const *initial_ids, size_t n_initial, struct plugin **out)
{
	const struct plugin_kind *kind;
	const char *sriov_prefix;
	struct plugin *p;
	int r = 0;

	if (!ctx || !config || entry >= hostdev_dp_config_get_count(config) || !resource_name)
		return -EINVAL;
	kind = plugin_kind_of(hostdev_dp_config_get_kind(config, entry));
	if (!kind)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ctx = hostdev_ctx_ref(ctx);
	pthread_mutex_init(&p->lock, NULL);
	p->iommufd = -1;
	p->config = hostdev_dp_config_ref(config);
	p->entry = entry;
	p->dp_kind = hostdev_dp_config_get_kind(config, entry);
	p->kind = kind;
	p->resource_name = strdup(resource_name);
	p->env_name = env_name(kind->env_prefix, resource_name);
	sriov_prefix = hostdev_dp_config_get_sriov_env_prefix(config, entry);
	if (sriov_prefix && !(p->sriov_env_name = sriov_env_name(sriov_prefix, resource_name)))
		r = -EINVAL;
	if (!p->resource_name || !p->env_name)
		r = r ? r : -ENOMEM;
	if (r == 0 && kind->init)
		r = kind->init(p);
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
	if (p->kind && p->kind->release)
		p->kind->release(p);
	tdestroy(p->known_tree, keep_node);
	for (size_t i = 0; i < p->n_known; i++) {
		free(p->known[i]->id);
		free(p->known[i]);
	}
	free(p->known);
	hostdev_dp_matches_unref(p->seen);
	pthread_mutex_destroy(&p->lock);
	hostdev_ctx_unref(p->list_ctx);
	free(p->resource_name);
	free(p->env_name);
	free(p->sriov_env_name);
	hostdev_dp_config_unref(p->config);
	hostdev_ctx_unref(p->ctx);
	free(p);
}

int plugin_list_devices(struct plugin *p, struct plugin_list *out)
{
	struct plugin_list list = {0};
	hostdev_dp_matches *now = NULL, *before;
	int r;

	if ((r = plugin_matches(p, p->list_ctx ? p->list_ctx : p->ctx, &now)) < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	before = p->seen;
	p->seen = hostdev_dp_matches_ref(now);
	pthread_mutex_unlock(&p->lock);
	hostdev_dp_matches_unref(before);
	if (p->kind->observe)
		r = p->kind->observe(p, now);
	for (size_t i = 0; i < hostdev_dp_matches_get_count(now) && r == 0; i++)
		r = remember(p, hostdev_dp_matches_get_id(now, i),
			     hostdev_dp_matches_get_numa_node(now, i));
	if (r == 0 && p->n_known) {
		list.items = calloc(p->n_known, sizeof(*list.items));
		if (!list.items)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < p->n_known && r == 0; i++) {
		long k = hostdev_dp_matches_find(now, p->known[i]->id);
		struct plugin_device *d = &list.items[list.count];

		if (!(d->id = strdup(p->known[i]->id))) {
			r = -ENOMEM;
			break;
		}
		list.count++;
		d->numa = p->known[i]->numa;
		d->healthy = k >= 0 && p->kind->healthy(p, now, (size_t)k);
	}
	hostdev_dp_matches_unref(now);
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
	const char **chosen = calloc(size ? size : 1, sizeof(*chosen));
	hostdev_dp_matches *seen;
	long n;
	int r = 0;

	if (!chosen)
		return -ENOMEM;
	/* The snapshot is immutable: a reference keeps it while a list replaces it. */
	pthread_mutex_lock(&p->lock);
	seen = hostdev_dp_matches_ref(p->seen);
	pthread_mutex_unlock(&p->lock);
	n = hostdev_dp_matches_prefer(seen, available, n_available, must_include, n_must_include,
				      size, chosen);
	hostdev_dp_matches_unref(seen);
	if (n < 0)
		r = (int)n;
	for (long i = 0; i < n && r == 0; i++)
		r = answer_add_id(out, chosen[i]);
	free(chosen);
	return r;
}
