/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KubeVirt's spec.configuration.permittedHostDevices kept in step with the resources the agents
 * serve. Every agent writes the same object, so every write is a read-modify-write with the
 * object's resourceVersion, retried on 409 Conflict (re-read, re-apply), which is what Harvester's
 * controller does not do (harvester#10008: duplicate entries).
 *
 * Which entries are the agents': the annotation AGENT_KUBEVIRT_ANNOTATION on the KubeVirt CR holds
 * {"<resource>": {"<node>": ["<vendor>:<device>", ...]}} for every resource an agent added. An
 * agent replaces only its node's part of it and then derives the entries of every resource named
 * there: one pciHostDevices entry per (selector, resource) that some node serves; an entry
 * removed only when no node serves its resource any more. Entries of resources the annotation does
 * not name were written by hand (or by another tool) and are never touched; a resource that already
 * has such an entry is not taken over either: that entry already permits it.
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
	cJSON *want;	/* {"<resource>": ["<selector>", ...]} of this node */
	cJSON *writing; /* the want of the write in flight */
	cJSON *written; /* the want last in the object; NULL: not known yet */
	bool inflight, stopped;
	bool refused; /* the last read-modify-write gave up on the object's contents */
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
static cJSON *read_annotation(const cJSON *obj, const char *ns, const char *name)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"), AGENT_KUBEVIRT_ANNOTATION);
	cJSON *map = cJSON_IsString(ann) ? cJSON_Parse(ann->valuestring) : NULL;

	if (cJSON_IsString(ann) && !cJSON_IsObject(map))
		log_warning("KubeVirt %s/%s: annotation %s is not a JSON object; starting it anew "
			    "(entries it named are left as they are)",
			    ns, name, AGENT_KUBEVIRT_ANNOTATION);
	if (!cJSON_IsObject(map)) {
		cJSON_Delete(map);
		map = cJSON_CreateObject();
	}
	return map;
}

/* Is (@selector, @resource) one of the entries some node of @map serves? */
static bool served_anywhere(const cJSON *map, const char *resource, const char *selector)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(map, resource);
	const cJSON *sels;

	cJSON_ArrayForEach(sels, nodes)
	{
		if (array_has_string(sels, selector))
			return true;
	}
	return false;
}

static int mutate(cJSON *obj, void *userdata)
{
	struct kubevirt *k = userdata;
	cJSON *map = read_annotation(obj, k->ns, k->name);
	cJSON *before = cJSON_Duplicate(map, true);
	cJSON *spec, *conf, *phd, *list, *fresh = NULL, *r, *e;
	const cJSON *want_res;
	int ret = -ENOMEM;

	spec = object_member(obj, "spec");
	conf = spec ? object_member(spec, "configuration") : NULL;
	phd = conf ? object_member(conf, "permittedHostDevices") : NULL;
	if (!map || !before || !phd)
		goto out;
	list = cJSON_GetObjectItemCaseSensitive(phd, "pciHostDevices");
	if (list && !cJSON_IsArray(list)) {
		ret = -EINVAL;
		goto out;
	}
	/* This node's part: what it serves now, nothing else. */
	cJSON_ArrayForEach(r, map)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(r, k->node);
	}
	cJSON_ArrayForEach(want_res, k->want)
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
				    "KubeVirt %s/%s: %s has an entry the agents did not write; "
				    "left to whoever wrote it",
				    k->ns, k->name, want_res->string);
				continue;
			}
			nodes = cJSON_AddObjectToObject(map, want_res->string);
		}
		if (!nodes ||
		    !cJSON_AddItemToObject(nodes, k->node, cJSON_Duplicate(want_res, true)))
			goto out;
	}
	/* The entries: others' kept in place; the agents' kept while served, once each; then
	 * the missing ones, in the order of the annotation. */
	fresh = cJSON_CreateArray();
	if (!fresh)
		goto out;
	cJSON_ArrayForEach(e, list)
	{
		const char *rn = entry_string(e, "resourceName");
		const char *sel = entry_string(e, "pciVendorSelector");
		bool managed =
		    rn && (cJSON_HasObjectItem(before, rn) || cJSON_HasObjectItem(map, rn));
		bool dup = false;
		const cJSON *f;

		if (managed) {
			if (!sel || !served_anywhere(map, rn, sel))
				continue;
			cJSON_ArrayForEach(f, fresh)
			{
				const char *frn = entry_string(f, "resourceName");
				const char *fsel = entry_string(f, "pciVendorSelector");

				dup |=
				    frn && fsel && strcmp(frn, rn) == 0 && strcmp(fsel, sel) == 0;
			}
			if (dup)
				continue;
		}
		cJSON_AddItemToArray(fresh, cJSON_Duplicate(e, true));
	}
	cJSON_ArrayForEach(r, map)
	{
		const cJSON *sels;

		cJSON_ArrayForEach(sels, r)
		{
			const cJSON *sel;

			cJSON_ArrayForEach(sel, sels)
			{
				bool have = false;
				const cJSON *f;
				cJSON *entry;

				cJSON_ArrayForEach(f, fresh)
				{
					const char *frn = entry_string(f, "resourceName");
					const char *fsel = entry_string(f, "pciVendorSelector");

					have |= frn && fsel && strcmp(frn, r->string) == 0 &&
						strcmp(fsel, sel->valuestring) == 0;
				}
				if (have)
					continue;
				entry = cJSON_CreateObject();
				if (!entry)
					goto out;
				cJSON_AddStringToObject(entry, "pciVendorSelector",
							sel->valuestring);
				cJSON_AddStringToObject(entry, "resourceName", r->string);
				cJSON_AddBoolToObject(entry, "externalResourceProvider", true);
				cJSON_AddItemToArray(fresh, entry);
			}
		}
	}
	/* Resources no node serves leave the annotation. */
	for (r = map->child; r;) {
		cJSON *next = r->next;

		if (!r->child)
			cJSON_DeleteItemFromObjectCaseSensitive(map, r->string);
		r = next;
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
		cJSON_DeleteItemFromObjectCaseSensitive(anns, AGENT_KUBEVIRT_ANNOTATION);
		if (map->child)
			cJSON_AddStringToObject(anns, AGENT_KUBEVIRT_ANNOTATION, text);
		free(text);
	}
	if (list)
		cJSON_ReplaceItemInObjectCaseSensitive(phd, "pciHostDevices", fresh);
	else
		cJSON_AddItemToObject(phd, "pciHostDevices", fresh);
	fresh = NULL;
	ret = 0;
out:
	cJSON_Delete(fresh);
	cJSON_Delete(map);
	cJSON_Delete(before);
	return ret;
}

static void on_written(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct kubevirt *k = userdata;

	k->inflight = false;
	if (resp->code >= 200 && resp->code < 300 && k->refused) {
		/* The read succeeded but the object cannot be changed safely. */
		log_warning(
		    "KubeVirt %s/%s: spec.configuration.permittedHostDevices.pciHostDevices "
		    "is not a list; fix it (kubectl edit kubevirt -n %s %s); retrying",
		    k->ns, k->name, k->ns, k->name);
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
	if (resp->code == 404 && k->writing && !k->writing->child) {
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

void kubevirt_set(struct kubevirt *k, cJSON *want)
{
	if (!k) {
		cJSON_Delete(want);
		return;
	}
	if (!want)
		return;
	cJSON_Delete(k->want);
	k->want = want;
	/* The first call always reads the object: the node's part may be stale from before a
	 * restart. */
	if (k->written && cJSON_Compare(k->written, k->want, true))
		return;
	start_write(k);
}
