/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One built-in plugin: its resource, env variable names, the devices it has advertised, and the
 * dispatch of list / allocate / preferred allocation to the logic of its kind, through the kind's
 * table (plugin_kind_of()).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
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
		r = known_remember(&p->known, initial_ids[i], -1, NULL);
	known_trim(&p->known);
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
	known_clear(&p->known);
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

/* /dev/vfio/<@group> exists. */
static bool group_node_exists(const struct plugin *p, int group)
{
	char rel[32];

	if (group < 0)
		return false;
	snprintf(rel, sizeof(rel), "vfio/%d", group);
	return plugin_dev_exists(p, rel);
}

bool plugin_follows_devices(const struct plugin *p)
{
	return p->kind->ready != NULL;
}

int plugin_list_devices(struct plugin *p, struct plugin_list *out)
{
	hostdev_ctx *ctx = p->list_ctx ? p->list_ctx : p->ctx;
	struct plugin_list list = {0};
	hostdev_dp_matches *now = NULL, *before;
	bool *healthy = NULL, *ready = NULL;
	size_t n;
	int r;

	if ((r = plugin_matches(p, ctx, &now)) < 0)
		return r;
	__atomic_add_fetch(&p->full_reads, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&p->lock);
	before = p->seen;
	p->seen = hostdev_dp_matches_ref(now);
	pthread_mutex_unlock(&p->lock);
	hostdev_dp_matches_unref(before);
	if (p->kind->observe)
		r = p->kind->observe(p, now);
	n = hostdev_dp_matches_get_count(now);
	healthy = calloc(n ? n : 1, sizeof(*healthy));
	ready = calloc(n ? n : 1, sizeof(*ready));
	if (r == 0 && (!healthy || !ready))
		r = -ENOMEM;
	/* The host is read without the lock: events on the loop wait for nothing slow. */
	for (size_t k = 0; k < n && r == 0; k++) {
		if (p->kind->ready) {
			ready[k] = p->kind->ready(p, ctx, now, k);
			healthy[k] = ready[k] && group_node_exists(
						     p, hostdev_dp_matches_get_iommu_group(now, k));
		} else {
			healthy[k] = p->kind->healthy(p, now, k);
		}
	}
	pthread_mutex_lock(&p->lock);
	for (size_t k = 0; k < n && r == 0; k++) {
		size_t i;

		r = known_remember(&p->known, hostdev_dp_matches_get_id(now, k),
				   hostdev_dp_matches_get_numa_node(now, k), &i);
		if (r == 0) {
			p->known.items[i].group = hostdev_dp_matches_get_iommu_group(now, k);
			p->known.items[i].ready = ready[k];
		}
	}
	known_trim(&p->known);
	if (r == 0 && p->known.count) {
		list.items = calloc(p->known.count, sizeof(*list.items));
		if (!list.items)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < p->known.count && r == 0; i++) {
		struct plugin_known *known = &p->known.items[i];
		const char *id = known_id(&p->known, i);
		long k = hostdev_dp_matches_find(now, id);
		struct plugin_device *d = &list.items[list.count];

		if (!(d->id = strdup(id))) {
			r = -ENOMEM;
			break;
		}
		list.count++;
		d->numa = known->numa;
		d->healthy = k >= 0 && healthy[k];
		if (k < 0) {
			/* Gone: no event makes it healthy again, only a list that sees it. */
			known->group = -1;
			known->ready = false;
		}
	}
	pthread_mutex_unlock(&p->lock);
	free(healthy);
	free(ready);
	hostdev_dp_matches_unref(now);
	if (r < 0) {
		plugin_list_clear(&list);
		return r;
	}
	plugin_log(ctx, HOSTDEV_LOG_DEBUG, "%s: read every device again (%zu listed)",
		   p->resource_name, list.count);
	*out = list;
	return 0;
}

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

bool plugin_groups_changed(struct plugin *p, hostdev_dp_server *server, const int *groups,
			   size_t n_groups)
{
	bool *exists = calloc(n_groups ? n_groups : 1, sizeof(*exists));
	bool *listed = calloc(n_groups ? n_groups : 1, sizeof(*listed));
	bool full = false;
	size_t checked = 0;

	if (!exists || !listed) {
		free(exists);
		free(listed);
		hostdev_dp_server_refresh(server);
		return true;
	}
	/* One access(2) per group node, whatever the number of devices in the group. */
	for (size_t g = 0; g < n_groups; g++)
		exists[g] = group_node_exists(p, groups[g]);
	__atomic_add_fetch(&p->group_checks, n_groups, __ATOMIC_RELAXED);
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->known.count; i++) {
		const struct plugin_known *k = &p->known.items[i];
		const int *hit;

		if (k->group < 0)
			continue;
		hit = bsearch(&k->group, groups, n_groups, sizeof(*groups), compare_int);
		if (!hit)
			continue;
		listed[hit - groups] = true;
		hostdev_dp_server_set_health(server, known_id(&p->known, i),
					     k->ready && exists[hit - groups]);
		checked++;
	}
	pthread_mutex_unlock(&p->lock);
	/* A node of a group none of the devices has: a device bound to vfio-pci, or an mdev
	 * created, which may belong to the resource (no uevent reaches a server without the
	 * manager, nor the manager for mdevs): read everything. */
	for (size_t g = 0; g < n_groups && !full; g++)
		full = exists[g] && !listed[g];
	free(exists);
	free(listed);
	plugin_log(p->ctx, HOSTDEV_LOG_DEBUG,
		   "%s: %zu group nodes changed: %zu devices checked again%s", p->resource_name,
		   n_groups, checked, full ? "; a new group: reading every device" : "");
	if (full)
		hostdev_dp_server_refresh(server);
	return full;
}

int plugin_device_changed(struct plugin *p, hostdev_dp_server *server, const char *name)
{
	int group = -1, ready;
	long k;

	if (!p->kind->read_ready || !name)
		return 0;
	pthread_mutex_lock(&p->lock);
	k = known_find(&p->known, name);
	pthread_mutex_unlock(&p->lock);
	if (k < 0)
		return 0;
	ready = p->kind->read_ready(p, p->ctx, name, &group);
	__atomic_add_fetch(&p->device_reads, 1, __ATOMIC_RELAXED);
	if (ready < 0) {
		/* Out of file descriptors or memory: nothing is known about the device. */
		plugin_log(p->ctx, HOSTDEV_LOG_WARNING,
			   "%s: cannot read %s again (%s); reading every device instead",
			   p->resource_name, name, strerror(-ready));
		hostdev_dp_server_refresh(server);
		return 1;
	}
	/* Records are never removed: @k still names it, though a list may have moved the array. */
	pthread_mutex_lock(&p->lock);
	p->known.items[k].group = group; /* -1 when gone */
	p->known.items[k].ready = ready == 1;
	pthread_mutex_unlock(&p->lock);
	hostdev_dp_server_set_health(server, name, ready == 1 && group_node_exists(p, group));
	plugin_log(p->ctx, HOSTDEV_LOG_DEBUG, "%s: %s read again after a uevent (%s)",
		   p->resource_name, name, ready == 1 ? "usable" : "not usable");
	return 1;
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
