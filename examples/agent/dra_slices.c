/* SPDX-License-Identifier: Apache-2.0 */
/*
 * This node's ResourceSlices (resource.k8s.io/v1) for the DRA driver: one pool per node, named
 * after the node, split into slices of at most 128 devices (the API server's limit), each slice
 * "<node>-<driver>-<index>" owned by the Node. The slices of the pool are watched (field selector
 * spec.nodeName and spec.driver): whatever differs from the devices the agent offers - a device
 * plugged or removed, a slice someone changed, the slices the kubelet deletes when it starts - is
 * written again, all slices with the next pool generation (the scheduler only trusts a pool whose
 * slices agree on it). When nothing differs nothing is written: at idle the agent makes no writes.
 * Devices NodePrepareResources would refuse (host-critical, IOMMU group unsafe to take) are not
 * offered: the scheduler would allocate them and the pod would fail at Prepare (dra_offer.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* resource.ResourceSliceMaxDevices */
#define DRA_SLICE_MAX_DEVICES 128

const struct kube_resource dra_slice_resource = {"resource.k8s.io", "v1", "resourceslices",
						 "ResourceSlice", false};

struct dra_slices {
	struct dra_slices_options o;
	char *driver;
	hostdev_dp_config *config;
	struct dra_offer *offer; /* which devices Prepare would take, per device */
	struct kube_informer *inf;
	struct loop_source *timer;
	struct kube_backoff backoff;
	cJSON *devices;	      /* what is offered, sorted by name; NULL before the first inventory */
	cJSON *all;	      /* every device read, offered or not (without a selection config) */
	long long generation; /* the highest pool generation written or seen */
	/* Names of devices whose removal was reported but which sysfs may still show. */
	struct strmap *removed;
	unsigned int inflight;
	bool again;  /* a change arrived while writes were in flight */
	bool failed; /* a write of this round failed */
	bool stopped, announced;
	bool paused; /* the Node is gone: what would be written would be collected again */
};

static void schedule(struct dra_slices *s, unsigned int delay_ms)
{
	if (!s->stopped)
		loop_timer_arm(s->timer, delay_ms);
}

static char *slice_name(const struct dra_slices *s, int index)
{
	char *name = NULL;

	if (asprintf(&name, "%s-%s-%d", s->o.ids->node, s->driver, index) < 0)
		return NULL;
	return name;
}

static long long pool_generation(const cJSON *slice)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(slice, "spec");
	const cJSON *pool = cJSON_GetObjectItemCaseSensitive(spec, "pool");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(pool, "generation");

	return cJSON_IsNumber(g) ? (long long)g->valuedouble : 0;
}

/* The desired slice @index of @count holding @devices (borrowed items are copied). */
static cJSON *desired_slice(const struct dra_slices *s, int index, int count, const cJSON *devices,
			    int first, int n, long long generation)
{
	cJSON *obj = cJSON_CreateObject(), *meta, *spec, *pool, *list;
	char *name = slice_name(s, index);

	if (!obj || !name) {
		cJSON_Delete(obj);
		free(name);
		return NULL;
	}
	cJSON_AddStringToObject(obj, "apiVersion", "resource.k8s.io/v1");
	cJSON_AddStringToObject(obj, "kind", "ResourceSlice");
	meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", name);
	free(name);
	if (s->o.ids->node_uid) {
		cJSON *ref = cJSON_CreateObject();

		cJSON_AddStringToObject(ref, "apiVersion", "v1");
		cJSON_AddStringToObject(ref, "kind", "Node");
		cJSON_AddStringToObject(ref, "name", s->o.ids->node);
		cJSON_AddStringToObject(ref, "uid", s->o.ids->node_uid);
		cJSON_AddBoolToObject(ref, "controller", true);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(meta, "ownerReferences"), ref);
	}
	spec = cJSON_AddObjectToObject(obj, "spec");
	cJSON_AddStringToObject(spec, "driver", s->driver);
	pool = cJSON_AddObjectToObject(spec, "pool");
	cJSON_AddStringToObject(pool, "name", s->o.ids->node);
	cJSON_AddNumberToObject(pool, "generation", (double)generation);
	cJSON_AddNumberToObject(pool, "resourceSliceCount", count);
	cJSON_AddStringToObject(spec, "nodeName", s->o.ids->node);
	list = cJSON_AddArrayToObject(spec, "devices");
	for (int i = first; i < first + n; i++)
		cJSON_AddItemToArray(list, cJSON_Duplicate(cJSON_GetArrayItem(devices, i), 1));
	return obj;
}

/* 1 when the server's @have says what @want says, generation aside. */
static bool slice_matches(const cJSON *have, const cJSON *want)
{
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(have, "spec");
	const cJSON *ws = cJSON_GetObjectItemCaseSensitive(want, "spec");
	const cJSON *hp = cJSON_GetObjectItemCaseSensitive(hs, "pool");
	const cJSON *wp = cJSON_GetObjectItemCaseSensitive(ws, "pool");
	const cJSON *hm = cJSON_GetObjectItemCaseSensitive(have, "metadata");
	const cJSON *wm = cJSON_GetObjectItemCaseSensitive(want, "metadata");
	const cJSON *wrefs = cJSON_GetObjectItemCaseSensitive(wm, "ownerReferences");
	const cJSON *hdev = cJSON_GetObjectItemCaseSensitive(hs, "devices");
	const cJSON *wdev = cJSON_GetObjectItemCaseSensitive(ws, "devices");

	/* The server drops an empty list: none and [] are the same. */
	if (cJSON_GetArraySize(hdev) != cJSON_GetArraySize(wdev) ||
	    (cJSON_GetArraySize(wdev) > 0 && !cJSON_Compare(hdev, wdev, true)))
		return false;
	if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(hp, "resourceSliceCount"),
			   cJSON_GetObjectItemCaseSensitive(wp, "resourceSliceCount"), true) ||
	    !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(hs, "nodeName"),
			   cJSON_GetObjectItemCaseSensitive(ws, "nodeName"), true))
		return false;
	return !wrefs ||
	       cJSON_Compare(cJSON_GetObjectItemCaseSensitive(hm, "ownerReferences"), wrefs, true);
}

struct scan {
	struct dra_slices *s;
	long long max_generation;
	long long generation; /* the one all slices share, -1 when they differ */
	int count;
};

static void scan_one(const char *name, const cJSON *obj, void *userdata)
{
	struct scan *sc = userdata;
	long long g = pool_generation(obj);

	if (sc->count == 0)
		sc->generation = g;
	else if (sc->generation != g)
		sc->generation = -1;
	if (g > sc->max_generation)
		sc->max_generation = g;
	sc->count++;
}

struct extra {
	struct dra_slices *s;
	int wanted;
	char **names;
	int n;
};

static void find_extra(const char *name, const cJSON *obj, void *userdata)
{
	struct extra *e = userdata;

	for (int i = 0; i < e->wanted; i++) {
		char *mine = slice_name(e->s, i);
		bool same = mine && strcmp(mine, name) == 0;

		free(mine);
		if (same)
			return;
	}
	if ((e->names[e->n] = strdup(name)))
		e->n++;
}

static void write_done(struct dra_slices *s, const struct kube_response *resp, const char *what)
{
	if (resp->code < 200 || resp->code >= 300) {
		log_warning("DRA: %s: %s", what, resp->error);
		s->failed = true;
	}
	if (--s->inflight > 0)
		return;
	if (s->failed) {
		unsigned int delay = kube_backoff_next(&s->backoff);

		s->failed = false;
		log_info("DRA: writing the ResourceSlices again in %.1f s", delay / 1000.0);
		schedule(s, delay);
	} else if (s->again) {
		schedule(s, 0);
	} else {
		kube_backoff_reset(&s->backoff);
		/* The informer has our writes' answers: one more look confirms or finds more. */
		schedule(s, 0);
	}
}

/* The slice a replace or delete is about. */
struct slice_write {
	struct dra_slices *s;
	char name[256];
};

static void on_written(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct dra_slices *s = userdata;
	cJSON *obj = resp->code >= 200 && resp->code < 300
			 ? cJSON_ParseWithLength(resp->body, resp->len)
			 : NULL;

	if (obj) {
		kube_informer_store(s->inf, obj);
		log_info("DRA: wrote ResourceSlice %s (pool %s generation %lld)",
			 kube_meta_string(obj, "name"), s->o.ids->node, pool_generation(obj));
		cJSON_Delete(obj);
	}
	write_done(s, resp, "writing a ResourceSlice");
}

static void on_deleted(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct slice_write *d = userdata;
	struct dra_slices *s = d->s;

	if ((resp->code >= 200 && resp->code < 300) || resp->code == 404) {
		/* 404: gone already (the kubelet deleted it too), which is what was wanted. */
		kube_informer_forget(s->inf, d->name);
		log_info("DRA: deleted ResourceSlice %s", d->name);
		free(d);
		write_done(s, &(struct kube_response){.code = 200}, "");
		return;
	}
	free(d);
	write_done(s, resp, "deleting a ResourceSlice");
}

/*
 * A replace answered 404: the slice went while our cache still held it (the garbage collector
 * took it with the Node, and the watch that would have said so was cut). Forget it, so that the
 * retry creates it instead of replacing a slice that is not there, forever.
 */
static void on_replaced(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct slice_write *d = userdata;
	struct dra_slices *s = d->s;

	if (resp->code == 404) {
		kube_informer_forget(s->inf, d->name);
		log_info("DRA: ResourceSlice %s is gone; it is created again", d->name);
	}
	free(d);
	on_written(c, resp, s);
}

/* Compare the pool with what is offered; write what differs. */
static void sync_pool(struct dra_slices *s)
{
	int total = cJSON_GetArraySize(s->devices);
	int count = (total + DRA_SLICE_MAX_DEVICES - 1) / DRA_SLICE_MAX_DEVICES;
	struct scan sc = {s, 0, 0, 0};
	cJSON *want[count > 0 ? count : 1];
	char *extra_names[kube_informer_count(s->inf) + 1];
	struct extra ex = {s, count, extra_names, 0};
	bool same;
	long long generation;

	kube_informer_foreach(s->inf, scan_one, &sc);
	if (sc.max_generation > s->generation)
		s->generation = sc.max_generation;
	kube_informer_foreach(s->inf, find_extra, &ex);
	same = ex.n == 0 && sc.count == count && sc.generation >= 0;
	for (int i = 0; i < count; i++) {
		int first = i * DRA_SLICE_MAX_DEVICES;
		int n =
		    total - first < DRA_SLICE_MAX_DEVICES ? total - first : DRA_SLICE_MAX_DEVICES;

		want[i] = desired_slice(s, i, count, s->devices, first, n, 0);
		if (want[i] && same) {
			const char *name = kube_meta_string(want[i], "name");
			const cJSON *have = kube_informer_get(s->inf, name);

			same = have && slice_matches(have, want[i]);
		}
	}
	if (same) {
		for (int i = 0; i < count; i++)
			cJSON_Delete(want[i]);
		if (!s->announced) {
			s->announced = true;
			log_info("DRA: node %s offers %d device%s in %d ResourceSlice%s of driver "
				 "%s (pool generation %lld)",
				 s->o.ids->node, total, total == 1 ? "" : "s", count,
				 count == 1 ? "" : "s", s->driver, s->generation);
			if (s->o.published)
				s->o.published(s->o.userdata);
		}
		return;
	}
	generation = ++s->generation;
	s->announced = false;
	s->again = false;
	for (int i = 0; i < count; i++) {
		const char *name;
		const cJSON *have;
		cJSON *pool;

		if (!want[i]) {
			s->failed = true;
			continue;
		}
		name = kube_meta_string(want[i], "name");
		have = kube_informer_get(s->inf, name);
		pool = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(want[i], "spec"), "pool");
		cJSON_ReplaceItemInObjectCaseSensitive(pool, "generation",
						       cJSON_CreateNumber((double)generation));
		if (have) {
			const char *rv = kube_meta_string(have, "resourceVersion");
			cJSON *meta = cJSON_GetObjectItemCaseSensitive(want[i], "metadata");

			struct slice_write *d = calloc(1, sizeof(*d));

			if (rv)
				cJSON_AddStringToObject(meta, "resourceVersion", rv);
			if (d) {
				d->s = s;
				snprintf(d->name, sizeof(d->name), "%s", name);
			}
			if (d && kube_replace(s->o.client, &dra_slice_resource, NULL, want[i], NULL,
					      on_replaced, d))
				s->inflight++;
			else {
				free(d);
				s->failed = true;
			}
		} else if (kube_create(s->o.client, &dra_slice_resource, NULL, want[i], on_written,
				       s)) {
			s->inflight++;
		} else {
			s->failed = true;
		}
		cJSON_Delete(want[i]);
	}
	for (int i = 0; i < ex.n; i++) {
		struct slice_write *d = calloc(1, sizeof(*d));
		const cJSON *have = kube_informer_get(s->inf, extra_names[i]);

		if (d) {
			d->s = s;
			snprintf(d->name, sizeof(d->name), "%s", extra_names[i]);
		}
		if (d && kube_delete(s->o.client, &dra_slice_resource, NULL, extra_names[i],
				     kube_meta_string(have, "uid"), NULL, on_deleted, d))
			s->inflight++;
		else {
			free(d);
			s->failed = true;
		}
		free(extra_names[i]);
	}
	if (s->inflight == 0 && s->failed) {
		s->inflight = 1;
		write_done(s, &(struct kube_response){.code = 500, .error = "out of memory"},
			   "writing the ResourceSlices");
	}
}

static void on_timer(struct loop_source *src, void *userdata)
{
	struct dra_slices *s = userdata;

	if (s->stopped || s->paused || !s->devices || !kube_informer_synced(s->inf))
		return;
	if (s->inflight > 0) {
		s->again = true;
		return;
	}
	sync_pool(s);
}

static void on_synced(struct kube_informer *inf, void *userdata)
{
	schedule(userdata, 0);
}

static void on_event(struct kube_informer *inf, enum kube_event_type type, const char *name,
		     const cJSON *obj, void *userdata)
{
	struct dra_slices *s = userdata;

	if (type == KUBE_DELETED)
		log_info("DRA: ResourceSlice %s was deleted (a kubelet start deletes its node's "
			 "slices): publishing again",
			 name);
	if (s->inflight > 0)
		s->again = true;
	else
		schedule(s, 0);
}

static void on_error(struct kube_informer *inf, const struct kube_response *resp, void *userdata)
{
	log_warning(
	    "DRA: watch of this node's ResourceSlices: %s%s; retrying with backoff", resp->error,
	    resp->code == 403 ? ": grant the agent's ClusterRole list and watch of "
				"resourceslices.resource.k8s.io (examples/agent/deploy/dra/)"
			      : "");
}

int dra_slices_new(const struct dra_slices_options *opts, struct dra_slices **out)
{
	static const struct kube_informer_callbacks cb = {on_synced, on_event, on_error};
	struct dra_slices *s = calloc(1, sizeof(*s));
	char selector[600];
	struct kube_informer_options io = {.field_selector = selector,
					   .watch_timeout_s = opts->watch_timeout_s};
	int r;

	if (!s)
		return -ENOMEM;
	s->o = *opts;
	s->driver = strdup(opts->driver);
	s->config = hostdev_dp_config_ref(opts->config);
	s->removed = strmap_new(free);
	kube_backoff_init(&s->backoff, 500, 30000);
	snprintf(selector, sizeof(selector), "spec.nodeName=%s,spec.driver=%s", opts->ids->node,
		 opts->driver);
	s->timer = loop_add_timer(opts->loop, on_timer, s);
	if ((r = dra_offer_new(opts->ctx, &s->offer)) < 0) {
		dra_slices_free(s);
		return r;
	}
	if (!s->driver || !s->timer || !s->removed) {
		dra_slices_free(s);
		return -ENOMEM;
	}
	r = kube_informer_new(opts->client, &dra_slice_resource, NULL, &io, &cb, s, &s->inf);
	if (r < 0) {
		dra_slices_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int dra_slices_start(struct dra_slices *s)
{
	int r = dra_slices_refresh(s);

	return r < 0 ? r : kube_informer_start(s->inf);
}

static void mark_unseen(const char *key, void *value, void *userdata)
{
	*(bool *)value = false;
}

static void collect_unseen(const char *key, void *value, void *userdata)
{
	if (!*(bool *)value)
		strmap_set(userdata, key, NULL);
}

static void drop_key(const char *key, void *value, void *userdata)
{
	strmap_remove(userdata, key);
}

/* Leave out of @devices what was reported removed; forget a removal once sysfs agrees. */
static void forget_removed(struct dra_slices *s, cJSON *devices)
{
	struct strmap *gone = strmap_new(NULL);

	strmap_foreach(s->removed, mark_unseen, NULL);
	for (int i = cJSON_GetArraySize(devices) - 1; i >= 0; i--) {
		const cJSON *name =
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(devices, i), "name");
		bool *seen = strmap_get(s->removed, name->valuestring);

		if (seen) {
			*seen = true;
			cJSON_DeleteItemFromArray(devices, i);
		}
	}
	if (gone) {
		strmap_foreach(s->removed, collect_unseen, gone);
		strmap_foreach(gone, drop_key, s->removed);
		strmap_free(gone);
	}
}

/* The index of the entry of @all named @name, -1 for none. */
static int find_entry(const cJSON *all, const char *name)
{
	int i = 0;
	const cJSON *e;

	cJSON_ArrayForEach(e, all)
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, name) == 0)
			return i;
		i++;
	}
	return -1;
}

static const char *entry_string(const cJSON *entry, const char *attr)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(entry, "attributes"),
					     attr),
	    "string"));
}

static int entry_group(const cJSON *entry)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(entry, "attributes"),
					     "iommuGroup"),
	    "int");

	return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* Add @address to @set (a strmap used as a set). */
static void add_address(struct strmap *set, const char *address)
{
	if (address && !strmap_get(set, address))
		strmap_set(set, address, (void *)1);
}

/* The functions of @all in IOMMU group @group into @set. */
static void add_group(struct strmap *set, const cJSON *all, int group)
{
	const cJSON *e;

	if (group < 0)
		return;
	cJSON_ArrayForEach(e, all)
	{
		if (entry_group(e) == group)
			add_address(set, entry_string(e, DRA_ATTR_PCI_BUS_ID));
	}
}

/* Read @address again into @s->all (removed: left out without a read). */
static void reread_entry(const char *address, void *value, void *userdata)
{
	struct dra_slices *s = userdata;
	hostdev_pci_device *dev = NULL;
	cJSON *entry = NULL;
	char name[64];
	int at;

	if (dra_device_name(address, name, sizeof(name)) < 0)
		return;
	/* A removal reported, still in sysfs: left out until an event says it is back. */
	if (value != (void *)2 && !strmap_get(s->removed, name)) {
		metrics_device_reads("event", 1);
		if (hostdev_pci_device_new(s->o.ctx, address, &dev) == 0 && dra_wants_pci(dev))
			entry = dra_device_entry(dev, NULL);
		hostdev_pci_device_unref(dev);
	}
	/* Kept in any order: the offer is sorted when it is made. */
	at = find_entry(s->all, name);
	if (at >= 0 && entry)
		cJSON_ReplaceItemInArray(s->all, at, entry);
	else if (at >= 0)
		cJSON_DeleteItemFromArray(s->all, at);
	else if (entry)
		cJSON_AddItemToArray(s->all, entry);
}

/*
 * Without a selection config an event changes the entries of the function it names, its IOMMU
 * group's members (iommuGroupSize, the verdicts) as they were and are, and its PF: only those are
 * read again. With a config, which functions a resource selects is the library's resolution of
 * the whole config: everything is read again. -1: not done here (read everything).
 */
static int refresh_around(struct dra_slices *s, const char *address, bool removed)
{
	struct strmap *set;
	hostdev_pci_device *dev = NULL;
	char name[64];
	cJSON *offer;
	int at, r;

	if (s->config || !s->all || dra_device_name(address, name, sizeof(name)) < 0 ||
	    !(set = strmap_new(NULL)))
		return -1;
	at = find_entry(s->all, name);
	if (at >= 0) {
		const cJSON *old = cJSON_GetArrayItem(s->all, at);

		add_group(set, s->all, entry_group(old));
		add_address(set, entry_string(old, "pfPciBusID"));
	}
	if (!removed && hostdev_pci_device_new(s->o.ctx, address, &dev) == 0) {
		add_group(set, s->all, hostdev_pci_device_get_iommu_group(dev));
		for (size_t i = 0; i < hostdev_pci_device_get_iommu_group_member_count(dev); i++)
			add_address(set, hostdev_pci_device_get_iommu_group_member(dev, i));
		add_address(set, hostdev_pci_device_get_pf_address(dev));
		hostdev_pci_device_unref(dev);
	}
	/* The function itself: removed ones are left out without a read (sysfs may still show
	 * it: the kernel announces a removal first). */
	strmap_set(set, address, removed ? (void *)2 : (void *)1);
	strmap_foreach(set, reread_entry, s);
	strmap_free(set);
	/* The removals reported stay recorded: a full read forgets them once sysfs agrees. */
	if (!(offer = cJSON_Duplicate(s->all, true)) || !(offer = dra_devices_sorted(offer)))
		return -ENOMEM;
	if ((r = dra_offer_filter(s->offer, offer)) < 0) {
		cJSON_Delete(offer);
		return r;
	}
	cJSON_Delete(s->devices);
	s->devices = offer;
	if (s->inflight > 0)
		s->again = true;
	else
		schedule(s, 0);
	return 0;
}

int dra_slices_pci_event(struct dra_slices *s, const char *address, bool removed)
{
	char name[64];
	int r;

	if (!s)
		return 0;
	dra_offer_forget(s->offer, address);
	if (dra_device_name(address, name, sizeof(name)) == 0) {
		if (!removed) {
			strmap_remove(s->removed, name);
		} else {
			bool *seen = calloc(1, sizeof(*seen));

			if (!seen || strmap_set(s->removed, name, seen) < 0) {
				free(seen);
				return -ENOMEM;
			}
		}
	}
	if (s->stopped)
		return 0;
	r = refresh_around(s, address, removed);
	return r == -1 ? dra_slices_refresh(s) : r;
}

int dra_slices_refresh(struct dra_slices *s)
{
	cJSON *devices = NULL;
	int r;

	if (!s || s->stopped)
		return 0;
	r = dra_devices(s->o.ctx, s->config, &devices);
	if (r < 0)
		return r;
	metrics_device_reads("inventory", (unsigned long)cJSON_GetArraySize(devices));
	/* Without a config, every function is kept as read: the next event updates it in place. */
	cJSON_Delete(s->all);
	s->all = NULL;
	if (!s->config && !(s->all = cJSON_Duplicate(devices, true))) {
		cJSON_Delete(devices);
		return -ENOMEM;
	}
	if (strmap_count(s->removed) > 0)
		forget_removed(s, devices);
	if ((r = dra_offer_filter(s->offer, devices)) < 0) {
		cJSON_Delete(devices);
		return r;
	}
	/* Looked at again even when the offer is the same (a resync, the Node's new uid): only
	 * what differs on the server is written. */
	cJSON_Delete(s->devices);
	s->devices = devices;
	if (s->inflight > 0)
		s->again = true;
	else
		schedule(s, 0);
	return 0;
}

int dra_slices_resync(struct dra_slices *s)
{
	if (!s)
		return 0;
	dra_offer_resync(s->offer);
	return dra_slices_refresh(s);
}

void dra_slices_pause(struct dra_slices *s, bool paused)
{
	if (!s || s->paused == paused)
		return;
	s->paused = paused;
	if (!paused)
		schedule(s, 0);
}

void dra_slices_stop(struct dra_slices *s)
{
	if (!s)
		return;
	s->stopped = true;
	loop_timer_disarm(s->timer);
}

void dra_slices_free(struct dra_slices *s)
{
	if (!s)
		return;
	kube_informer_free(s->inf);
	loop_source_remove(s->timer);
	hostdev_dp_config_unref(s->config);
	dra_offer_free(s->offer);
	cJSON_Delete(s->devices);
	cJSON_Delete(s->all);
	strmap_free(s->removed);
	free(s->driver);
	free(s);
}
