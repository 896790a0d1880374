/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Desired vs observed, for one object, over the fields the agent owns only: its labels (nodename
 * and the hostdev.io/ ones), the ownerReference to the Node, the owned spec fields and the owned
 * status fields. Everything else (Harvester's claim fields, other labels and annotations, the
 * user's spec.numVFs) belongs to someone else and is neither compared nor written. The desired
 * side is first pruned by the CRD's schema, so a field the server drops is never "different".
 */
#include <string.h>

#include "agent.h"

static cJSON *object_at(const cJSON *obj, const char *a, const char *b)
{
	cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, a);

	return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static bool same(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return !a && !b;
	return cJSON_Compare(a, b, true);
}

static bool is_ours(const char *label)
{
	return strcmp(label, AGENT_NODE_LABEL) == 0 ||
	       strncmp(label, AGENT_LABEL_PREFIX, strlen(AGENT_LABEL_PREFIX)) == 0;
}

static bool labels_differ(const cJSON *want, const cJSON *have)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, want)
	{
		if (!same(l, cJSON_GetObjectItemCaseSensitive(have, l->string)))
			return true;
	}
	cJSON_ArrayForEach(l, have)
	{
		if (is_ours(l->string) && !cJSON_GetObjectItemCaseSensitive(want, l->string))
			return true;
	}
	return false;
}

static const char *ref_field(const cJSON *ref, const char *f)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, f));
}

/* The desired Node reference is present (same kind and uid). */
static bool has_owner(const cJSON *want_refs, const cJSON *have_refs)
{
	const cJSON *want = cJSON_GetArrayItem(want_refs, 0), *have;

	if (!want)
		return true;
	cJSON_ArrayForEach(have, have_refs)
	{
		const char *kind = ref_field(have, "kind"), *uid = ref_field(have, "uid");

		if (kind && uid && strcmp(kind, "Node") == 0 &&
		    strcmp(uid, ref_field(want, "uid")) == 0)
			return true;
	}
	return false;
}

/* The desired @section ("spec"/"status") as the server would keep it. */
static cJSON *pruned_section(const cJSON *desired, const char *section, const cJSON *schema)
{
	cJSON *copy = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(desired, section), true);

	if (copy && schema)
		schema_prune(copy, schema_property(schema, section));
	return copy;
}

static bool fields_differ(const char *const *fields, const cJSON *want, const cJSON *have,
			  cJSON *patch)
{
	bool differ = false;

	for (const char *const *f = fields; *f; f++) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, *f);

		if (same(w, cJSON_GetObjectItemCaseSensitive(have, *f)))
			continue;
		differ = true;
		if (patch)
			cJSON_AddItemToObject(patch, *f,
					      w ? cJSON_Duplicate(w, true) : cJSON_CreateNull());
	}
	return differ;
}

/* The initial values of fields others own, for those missing on the server (and kept by the
 * schema: a field the server prunes would be "missing" forever). */
static bool add_initial(const char *initial, const cJSON *schema, const cJSON *have, cJSON *patch)
{
	cJSON *values = cJSON_Parse(initial), *v;
	bool added = false;

	if (values && schema)
		schema_prune(values, schema_property(schema, "status"));
	cJSON_ArrayForEach(v, values)
	{
		/* Already in the patch: an owned value (status_when_set) wins over the initial. */
		if (cJSON_GetObjectItemCaseSensitive(have, v->string) ||
		    cJSON_GetObjectItemCaseSensitive(patch, v->string))
			continue;
		cJSON_AddItemToObject(patch, v->string, cJSON_Duplicate(v, true));
		added = true;
	}
	cJSON_Delete(values);
	return added;
}

enum diff_action diff_object(const struct kind_def *kind, const cJSON *desired,
			     const cJSON *observed, const cJSON *schema, cJSON **patch)
{
	cJSON *want, *status_patch;
	bool differ;

	if (!desired)
		return observed ? DIFF_DELETE : DIFF_NONE;
	if (!observed)
		return DIFF_CREATE;
	if (labels_differ(object_at(desired, "metadata", "labels"),
			  object_at(observed, "metadata", "labels")) ||
	    !has_owner(object_at(desired, "metadata", "ownerReferences"),
		       object_at(observed, "metadata", "ownerReferences")))
		return DIFF_METADATA;
	want = pruned_section(desired, "spec", schema);
	differ = fields_differ(kind->spec_fields, want, object_at(observed, "spec", NULL), NULL);
	cJSON_Delete(want);
	if (differ)
		return DIFF_METADATA;
	want = pruned_section(desired, "status", schema);
	status_patch = cJSON_CreateObject();
	differ = fields_differ(kind->status_fields, want, object_at(observed, "status", NULL),
			       status_patch);
	for (const char *const *f = kind->status_when_set; f && *f; f++) {
		const char *one[] = {*f, NULL};

		if (cJSON_GetObjectItemCaseSensitive(want, *f) &&
		    fields_differ(one, want, object_at(observed, "status", NULL), status_patch))
			differ = true;
	}
	cJSON_Delete(want);
	if (kind->status_initial && add_initial(kind->status_initial, schema,
						object_at(observed, "status", NULL), status_patch))
		differ = true;
	if (!differ) {
		cJSON_Delete(status_patch);
		return DIFF_NONE;
	}
	*patch = cJSON_CreateObject();
	cJSON_AddItemToObject(*patch, "status", status_patch);
	return DIFF_STATUS;
}

static cJSON *ensure_object(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (cJSON_IsObject(o))
		return o;
	cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	return cJSON_AddObjectToObject(parent, key);
}

int diff_apply_metadata(const struct kind_def *kind, cJSON *obj, const cJSON *desired)
{
	cJSON *meta = ensure_object(obj, "metadata"), *labels, *l, *next;
	const cJSON *want_labels = object_at(desired, "metadata", "labels");
	const cJSON *want_refs = object_at(desired, "metadata", "ownerReferences");
	const cJSON *want_spec = object_at(desired, "spec", NULL);
	int changed = 0;

	labels = ensure_object(meta, "labels");
	for (l = labels->child; l; l = next) {
		next = l->next;
		if (is_ours(l->string) &&
		    !cJSON_GetObjectItemCaseSensitive(want_labels, l->string)) {
			cJSON_Delete(cJSON_DetachItemViaPointer(labels, l));
			changed = 1;
		}
	}
	cJSON_ArrayForEach(l, want_labels)
	{
		if (same(l, cJSON_GetObjectItemCaseSensitive(labels, l->string)))
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(labels, l->string);
		cJSON_AddItemToObject(labels, l->string, cJSON_Duplicate(l, true));
		changed = 1;
	}
	if (!has_owner(want_refs, cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences"))) {
		cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences"), *r, *rn;

		if (!cJSON_IsArray(refs)) {
			cJSON_DeleteItemFromObjectCaseSensitive(meta, "ownerReferences");
			refs = cJSON_AddArrayToObject(meta, "ownerReferences");
		}
		/* A reference to an older Node of the same name (re-created) is replaced. */
		for (r = refs->child; r; r = rn) {
			const char *k = ref_field(r, "kind");

			rn = r->next;
			if (k && strcmp(k, "Node") == 0)
				cJSON_Delete(cJSON_DetachItemViaPointer(refs, r));
		}
		cJSON_AddItemToArray(refs, cJSON_Duplicate(cJSON_GetArrayItem(want_refs, 0), true));
		changed = 1;
	}
	if (want_spec && kind->spec_fields[0]) {
		cJSON *spec = ensure_object(obj, "spec");

		for (const char *const *f = kind->spec_fields; *f; f++) {
			const cJSON *w = cJSON_GetObjectItemCaseSensitive(want_spec, *f);

			if (same(w, cJSON_GetObjectItemCaseSensitive(spec, *f)))
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(spec, *f);
			if (w)
				cJSON_AddItemToObject(spec, *f, cJSON_Duplicate(w, true));
			changed = 1;
		}
	}
	return changed;
}
