/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KubeVirt's spec.configuration.permittedHostDevices kept in step with the resources the agents
 * serve. Every agent writes the same object, so every write is a read-modify-write with the
 * object's resourceVersion, retried on 409 Conflict (re-read, re-apply), which is what Harvester's
 * controller does not do (harvester#10008: duplicate entries).
 *
 * Three lists are kept: pciHostDevices (PCIDeviceClaims), usb (USBDeviceClaims) and
 * mediatedDevices. Which entries of a list are the agents': an annotation on the KubeVirt CR per
 * list (AGENT_KUBEVIRT_ANNOTATION for pciHostDevices, AGENT_KUBEVIRT_USB_ANNOTATION,
 * AGENT_KUBEVIRT_MDEV_ANNOTATION) holds {"<resource>": {"<node>": ["<selector>", ...]}} for every
 * resource an agent added. An agent replaces only its node's part of it and then derives the
 * entries of every resource named there: one pciHostDevices or mediatedDevices entry per
 * (selector, resource) that some node serves, one usb entry per resource with the selectors of
 * every node; an entry removed only when no node serves its resource any more. Entries of
 * resources the annotation does not name were written by hand (or by another tool) and are never
 * touched; a resource that already has such an entry is not taken over either: that entry
 * already permits it. A list this node never said anything about is not touched at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define KUBEVIRT_ATTEMPTS 20

static const struct kube_resource kubevirt_resource = {"kubevirt.io", "v1", "kubevirts", "KubeVirt",
						       true};

struct kubevirt {
	struct kube_client *client;
	char *ns, *name, *node;
	/* {"<list>": {"<resource>": ["<selector>", ...]}} of this node, per list of
	 * permittedHostDevices ("pciHostDevices", "usb", "mediatedDevices") */
	cJSON *want;
	cJSON *writing; /* the want of the write in flight */
	cJSON *written; /* the want last in the object; NULL: not known yet */
	bool inflight, stopped;
	bool refused;	      /* the last read-modify-write gave up on the object's contents */
	const char *bad_list; /* the list that was not a list */
	struct loop_source *retry_timer;
	struct kube_backoff backoff;
};

static void start_write(struct kubevirt *k);

/* An object member by name, created as an empty object when missing; NULL on no memory or when
 * it is there with another type. */
static cJSON *object_member(cJSON *parent, const char *name)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(parent, name);

	if (!m)
		m = cJSON_AddObjectToObject(parent, name);
	return cJSON_IsObject(m) ? m : NULL;
}

static bool array_has_string(const cJSON *array, const char *s)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, array)
	{
		if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
			return true;
	}
	return false;
}

static const char *entry_string(const cJSON *entry, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, field);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The annotation's map, parsed (an empty object when absent or unreadable). */
static cJSON *read_annotation(const cJSON *obj, const char *key, const char *ns, const char *name)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"), key);
	cJSON *map = cJSON_IsString(ann) ? cJSON_Parse(ann->valuestring) : NULL;

	if (cJSON_IsString(ann) && !cJSON_IsObject(map))
		log_warning("KubeVirt %s/%s: annotation %s is not a JSON object; starting it anew "
			    "(entries it named are left as they are)",
			    ns, name, key);
	if (!cJSON_IsObject(map)) {
		cJSON_Delete(map);
		map = cJSON_CreateObject();
	}
	return map;
}

/* The lists of permittedHostDevices the agents keep, each with the annotation that records which
 * of its entries are theirs: {"<resource>": {"<node>": ["<selector>", ...]}}. A selector is
 * "<vendor>:<device>" (pci), "<vendor>:<product>" (usb) or the mdev type's name (mdev). */
enum list_kind { LIST_PCI, LIST_USB, LIST_MDEV, LIST_COUNT };

static const struct list_def {
	const char *list;	/* the member of permittedHostDevices */
	const char *annotation; /* the agents' record of their entries */
	const char *selector;	/* pci/mdev: the entry's selector field; usb: NULL */
} lists[LIST_COUNT] = {
    [LIST_PCI] = {"pciHostDevices", AGENT_KUBEVIRT_ANNOTATION, "pciVendorSelector"},
    [LIST_USB] = {"usb", AGENT_KUBEVIRT_USB_ANNOTATION, NULL},
    [LIST_MDEV] = {"mediatedDevices", AGENT_KUBEVIRT_MDEV_ANNOTATION, "mdevNameSelector"},
};

static void add_unique_string(cJSON *array, const char *s)
{
	if (!array_has_string(array, s))
		cJSON_AddItemToArray(array, cJSON_CreateString(s));
}

/* The entries the record @map asks for, in its order: pci/mdev one per (resource, selector), usb
 * one per resource with the selectors of every node (each once). NULL on no memory. */
static cJSON *entries_of(const struct list_def *def, const cJSON *map)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *r, *sels, *sel;

	if (!out)
		return NULL;
	cJSON_ArrayForEach(r, map)
	{
		cJSON *union_sels = cJSON_CreateArray(), *entry;

		if (!union_sels)
			goto fail;
		cJSON_ArrayForEach(sels, r)
		{
			cJSON_ArrayForEach(sel, sels)
			{
				if (cJSON_IsString(sel))
					add_unique_string(union_sels, sel->valuestring);
			}
		}
		if (def->selector) {
			cJSON_ArrayForEach(sel, union_sels)
			{
				if (!(entry = cJSON_CreateObject()))
					goto fail_union;
				cJSON_AddItemToArray(out, entry);
				cJSON_AddStringToObject(entry, def->selector, sel->valuestring);
				cJSON_AddStringToObject(entry, "resourceName", r->string);
				cJSON_AddBoolToObject(entry, "externalResourceProvider", true);
			}
		} else if (union_sels->child) {
			cJSON *list;

			if (!(entry = cJSON_CreateObject()))
				goto fail_union;
			cJSON_AddItemToArray(out, entry);
			cJSON_AddStringToObject(entry, "resourceName", r->string);
			list = cJSON_AddArrayToObject(entry, "selectors");
			cJSON_ArrayForEach(sel, union_sels)
			{
				const char *colon = strchr(sel->valuestring, ':');
				cJSON *one;
				char vendor[16];

				if (!colon || !list || !(one = cJSON_CreateObject()))
					continue;
				snprintf(vendor, sizeof(vendor), "%.*s",
					 (int)(colon - sel->valuestring), sel->valuestring);
				cJSON_AddItemToArray(list, one);
				cJSON_AddStringToObject(one, "vendor", vendor);
				cJSON_AddStringToObject(one, "product", colon + 1);
			}
			cJSON_AddBoolToObject(entry, "externalResourceProvider", true);
		}
		cJSON_Delete(union_sels);
		continue;
	fail_union:
		cJSON_Delete(union_sels);
		goto fail;
	}
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

static bool has_entry(const cJSON *array, const cJSON *entry)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, array)
	{
		if (cJSON_Compare(e, entry, true))
			return true;
	}
	return false;
}

/* Make list @def of @phd what this node's @want and the other nodes' records say. Returns 0 when
 * @obj must be written, 1 when nothing changed, a negative errno. */
static int mutate_list(const char *ns, const char *name, const char *node,
		       const struct list_def *def, cJSON *obj, cJSON *phd, const cJSON *want)
{
	cJSON *map = read_annotation(obj, def->annotation, ns, name);
	cJSON *before = cJSON_Duplicate(map, true);
	cJSON *list, *fresh = NULL, *desired = NULL, *r, *e;
	const cJSON *want_res;
	int ret = -ENOMEM;

	if (!map || !before)
		goto out;
	list = cJSON_GetObjectItemCaseSensitive(phd, def->list);
	if (list && !cJSON_IsArray(list)) {
		ret = -EINVAL;
		goto out;
	}
	/* This node's part: what it serves now, nothing else. */
	cJSON_ArrayForEach(r, map)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(r, node);
	}
	cJSON_ArrayForEach(want_res, want)
	{
		cJSON *nodes = cJSON_GetObjectItemCaseSensitive(map, want_res->string);
		bool by_hand = false;

		if (!nodes) {
			cJSON_ArrayForEach(e, list)
			{
				const char *rn = entry_string(e, "resourceName");

				if (rn && strcmp(rn, want_res->string) == 0)
					by_hand = true;
			}
			if (by_hand) {
				log_debug(
				    "KubeVirt %s/%s: %s has a %s entry the agents did not write; "
				    "left to whoever wrote it",
				    ns, name, want_res->string, def->list);
				continue;
			}
			nodes = cJSON_AddObjectToObject(map, want_res->string);
		}
		if (!nodes || !cJSON_AddItemToObject(nodes, node, cJSON_Duplicate(want_res, true)))
			goto out;
	}
	/* Resources no node serves leave the record. */
	for (r = map->child; r;) {
		cJSON *next = r->next;

		if (!r->child)
			cJSON_DeleteItemFromObjectCaseSensitive(map, r->string);
		r = next;
	}
	/* The entries: others' kept in place; the agents' kept while exactly what the record asks
	 * for, once each; then the missing ones, in the order of the record. */
	desired = entries_of(def, map);
	fresh = cJSON_CreateArray();
	if (!desired || !fresh)
		goto out;
	cJSON_ArrayForEach(e, list)
	{
		const char *rn = entry_string(e, "resourceName");
		bool managed =
		    rn && (cJSON_HasObjectItem(before, rn) || cJSON_HasObjectItem(map, rn));

		if (managed && (!has_entry(desired, e) || has_entry(fresh, e)))
			continue;
		cJSON_AddItemToArray(fresh, cJSON_Duplicate(e, true));
	}
	cJSON_ArrayForEach(e, desired)
	{
		if (!has_entry(fresh, e))
			cJSON_AddItemToArray(fresh, cJSON_Duplicate(e, true));
	}
	if (cJSON_Compare(before, map, true) && cJSON_Compare(list ? list : fresh, fresh, true)) {
		ret = 1; /* nothing to write */
		goto out;
	}
	{
		cJSON *meta = object_member(obj, "metadata");
		cJSON *anns = meta ? object_member(meta, "annotations") : NULL;
		char *text = cJSON_PrintUnformatted(map);

		if (!anns || !text) {
			free(text);
			goto out;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(anns, def->annotation);
		if (map->child)
			cJSON_AddStringToObject(anns, def->annotation, text);
		free(text);
	}
	if (list)
		cJSON_ReplaceItemInObjectCaseSensitive(phd, def->list, fresh);
	else
		cJSON_AddItemToObject(phd, def->list, fresh);
	fresh = NULL;
	ret = 0;
out:
	cJSON_Delete(desired);
	cJSON_Delete(fresh);
	cJSON_Delete(map);
	cJSON_Delete(before);
	return ret;
}

int kubevirt_apply(cJSON *obj, const char *node, const cJSON *want, const char **bad_list)
{
	const char *ns = kube_meta_string(obj, "namespace"), *name = kube_meta_string(obj, "name");
	cJSON *spec, *conf, *phd;
	int ret = 1;

	spec = object_member(obj, "spec");
	conf = spec ? object_member(spec, "configuration") : NULL;
	phd = conf ? object_member(conf, "permittedHostDevices") : NULL;
	if (!phd)
		return -ENOMEM;
	for (int i = 0; i < LIST_COUNT; i++) {
		const cJSON *part = cJSON_GetObjectItemCaseSensitive(want, lists[i].list);
		int r;

		/* A list this node has not said anything about yet (its USB claims not listed yet
		 * after a start) is left as it is: its part would be dropped and put back. */
		if (!part)
			continue;
		r = mutate_list(ns ? ns : "", name ? name : "", node, &lists[i], obj, phd, part);
		if (r < 0) {
			if (bad_list)
				*bad_list = lists[i].list;
			return r;
		}
		if (r == 0)
			ret = 0;
	}
	return ret;
}

static int mutate(cJSON *obj, void *userdata)
{
	struct kubevirt *k = userdata;

	return kubevirt_apply(obj, k->node, k->want, &k->bad_list);
}

/* No list of @want names a resource. */
static bool nothing_wanted(const cJSON *want)
{
	const cJSON *part;

	cJSON_ArrayForEach(part, want)
	{
		if (part->child)
			return false;
	}
	return true;
}

static void on_written(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct kubevirt *k = userdata;

	k->inflight = false;
	if (resp->code >= 200 && resp->code < 300 && k->refused) {
		/* The read succeeded but the object cannot be changed safely. */
		log_warning(
		    "KubeVirt %s/%s: spec.configuration.permittedHostDevices.%s is not a list; "
		    "fix it (kubectl edit kubevirt -n %s %s); retrying",
		    k->ns, k->name, k->bad_list ? k->bad_list : "?", k->ns, k->name);
		cJSON_Delete(k->writing);
		k->writing = NULL;
		loop_timer_arm(k->retry_timer, kube_backoff_next(&k->backoff));
		return;
	}
	if (resp->code >= 200 && resp->code < 300) {
		cJSON_Delete(k->written);
		k->written = k->writing;
		k->writing = NULL;
		kube_backoff_reset(&k->backoff);
		log_debug("KubeVirt %s/%s: permittedHostDevices in step", k->ns, k->name);
		if (!cJSON_Compare(k->written, k->want, true))
			start_write(k);
		return;
	}
	if (resp->code == 404 && k->writing && nothing_wanted(k->writing)) {
		/* No KubeVirt CR and nothing to permit: nothing to keep in step (no retries in a
		 * cluster without KubeVirt); the next resource served tries again. */
		cJSON_Delete(k->written);
		k->written = k->writing;
		k->writing = NULL;
		return;
	}
	cJSON_Delete(k->writing);
	k->writing = NULL;
	if (resp->code == 404)
		log_warning(
		    "KubeVirt %s/%s not found: its permittedHostDevices are not kept; create "
		    "it, or name yours with --kubevirt NAMESPACE/NAME (Harvester: "
		    "harvester-system/kubevirt); retrying",
		    k->ns, k->name);
	else
		log_warning("KubeVirt %s/%s: %s%s; retrying with backoff", k->ns, k->name,
			    resp->error,
			    resp->code == 403 ? "; grant the agent's ClusterRole get and update on "
						"kubevirts (docs/agent.md, \"Permissions\")"
					      : "");
	metrics_error("kubevirt");
	loop_timer_arm(k->retry_timer, kube_backoff_next(&k->backoff));
}

static int mutate_snapshot(cJSON *obj, void *userdata)
{
	struct kubevirt *k = userdata;
	int r;

	/* What this attempt writes (a conflict re-applies the newest want). */
	cJSON_Delete(k->writing);
	k->writing = cJSON_Duplicate(k->want, true);
	r = mutate(obj, k);
	k->refused = r < 0;
	return r;
}

static void start_write(struct kubevirt *k)
{
	if (k->stopped || k->inflight || loop_timer_armed(k->retry_timer))
		return;
	k->inflight = true;
	cJSON_Delete(k->writing);
	k->writing = cJSON_Duplicate(k->want, true);
	if (kube_update(k->client, &kubevirt_resource, k->ns, k->name, KUBEVIRT_ATTEMPTS,
			mutate_snapshot, on_written, k) < 0) {
		k->inflight = false;
		loop_timer_arm(k->retry_timer, kube_backoff_next(&k->backoff));
	}
}

static void on_retry(struct loop_source *src, void *userdata)
{
	start_write(userdata);
}

int kubevirt_new(struct kube_client *client, struct loop *loop, const char *ns, const char *name,
		 const char *node, struct kubevirt **out)
{
	struct kubevirt *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->client = client;
	kube_backoff_init(&k->backoff, 500, 300000);
	if (!(k->ns = strdup(ns)) || !(k->name = strdup(name)) || !(k->node = strdup(node)) ||
	    !(k->want = cJSON_CreateObject()) ||
	    !(k->retry_timer = loop_add_timer(loop, on_retry, k))) {
		kubevirt_free(k);
		return -ENOMEM;
	}
	*out = k;
	return 0;
}

void kubevirt_stop(struct kubevirt *k)
{
	if (k) {
		k->stopped = true;
		loop_timer_disarm(k->retry_timer);
	}
}

void kubevirt_free(struct kubevirt *k)
{
	if (!k)
		return;
	loop_source_remove(k->retry_timer);
	cJSON_Delete(k->want);
	cJSON_Delete(k->writing);
	cJSON_Delete(k->written);
	free(k->ns);
	free(k->name);
	free(k->node);
	free(k);
}

void kubevirt_set(struct kubevirt *k, const char *list, cJSON *want)
{
	if (!k) {
		cJSON_Delete(want);
		return;
	}
	if (!want)
		return;
	if (cJSON_HasObjectItem(k->want, list))
		cJSON_ReplaceItemInObjectCaseSensitive(k->want, list, want);
	else
		cJSON_AddItemToObject(k->want, list, want);
	/* The first call always reads the object: the node's part may be stale from before a
	 * restart. */
	if (k->written && cJSON_Compare(k->written, k->want, true))
		return;
	start_write(k);
}
