/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Desired vs observed, for one object, over the fields the agent owns only: its labels (nodename
 * and the hostdev.io/ ones), the ownerReference to the Node, the owned spec fields and the owned
 * status fields. Everything else (Harvester's claim fields, other labels and annotations, the
 * user's spec.numVFs) belongs to someone else and is neither compared nor written. The desired
 * side is first pruned by the CRD's schema, so a field the server drops is never "different".
 *
 * The observed side is a digest (struct diff_digest): a hash of each field compared, not the
 * object. The reconciler keeps one per published object in place of the object's tree, which at
 * 10,000 objects would be most of the agent's memory; the values a write needs are the desired
 * ones, and a metadata update reads the object afresh.
 */
#include <stdint.h>
#include <stdlib.h>
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

static const char *ref_field(const cJSON *ref, const char *f)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, f));
}

/* ---- digests ------------------------------------------------------------------------------- */

/*
 * A 64-bit hash of a JSON value that is equal for values cJSON_Compare() finds equal: members of
 * an object in any order (their hashes are summed), array elements in order, numbers by value.
 * Never 0, which stands for "absent". Two different values collide with odds of 2^-64: a change
 * made by someone else goes unnoticed with those odds, until the change after it.
 */
static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_string(const char *s, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ mix(seed);

	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return mix(h);
}

static uint64_t hash_value(const cJSON *v)
{
	uint64_t type = (uint64_t)(v->type & 0xFF), h;
	const cJSON *e;

	switch (v->type & 0xFF) {
	case cJSON_Number: {
		double d = v->valuedouble == 0 ? 0 : v->valuedouble; /* -0 == 0 */

		memcpy(&h, &d, sizeof(h));
		h = mix(h ^ (type << 56));
		break;
	}
	case cJSON_String:
	case cJSON_Raw:
		h = hash_string(v->valuestring, type);
		break;
	case cJSON_Array:
		h = mix(type);
		cJSON_ArrayForEach(e, v)
		{
			h = mix(h ^ hash_value(e));
		}
		break;
	case cJSON_Object: {
		uint64_t sum = 0, n = 0;

		cJSON_ArrayForEach(e, v)
		{
			sum += mix(hash_string(e->string, 0) ^ (hash_value(e) * 3));
			n++;
		}
		h = mix(sum ^ mix(type ^ (n << 8)));
		break;
	}
	default: /* true, false, null */
		h = mix(type);
		break;
	}
	return h | 1;
}

static uint64_t hash_of(const cJSON *v)
{
	return v ? hash_value(v) : 0;
}

/* The labels of ours among @labels, as one hash (an order-free sum, like an object's). */
static uint64_t labels_hash(const cJSON *labels)
{
	uint64_t sum = 0;
	const cJSON *l;

	cJSON_ArrayForEach(l, labels)
	{
		if (l->string && is_ours(l->string))
			sum += mix(hash_string(l->string, 0) ^ (hash_value(l) * 3));
	}
	return mix(sum);
}

static size_t count_fields(const char *const *fields)
{
	size_t n = 0;

	while (fields && fields[n])
		n++;
	return n;
}

/* What an observed object's digest holds, in this order in h[]. */
struct layout {
	size_t spec, status, when_set;
};

static struct layout layout_of(const struct kind_def *kind)
{
	return (struct layout){count_fields(kind->spec_fields), count_fields(kind->status_fields),
			       count_fields(kind->status_when_set)};
}

/*
 * An observed object as the reconciler keeps it: what diff_digest_compare() needs to find out
 * whether it differs from the desired object and which owned status fields do, and the uid for
 * the precondition of a delete; never the values (a write sends the desired ones).
 */
struct diff_digest {
	uint64_t labels;  /* labels_hash() of the object's labels */
	uint32_t initial; /* bit i: the i-th status_initial field is present */
	uint32_t owners;  /* ownerReferences to a Node: their uids' hashes end h[] */
	const char *uid;  /* in the same block, after h[] ("" when none) */
	uint64_t h[];	  /* spec fields, status fields, status_when_set fields, owners */
};

struct diff_digest *diff_digest_new(const struct kind_def *kind, const cJSON *observed)
{
	const cJSON *meta = object_at(observed, "metadata", NULL);
	const cJSON *spec = object_at(observed, "spec", NULL);
	const cJSON *status = object_at(observed, "status", NULL);
	const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences"), *r;
	const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "uid"));
	struct layout l = layout_of(kind);
	size_t owners = 0, n, i = 0;
	struct diff_digest *d;

	cJSON_ArrayForEach(r, refs)
	{
		const char *k = ref_field(r, "kind");

		if (k && strcmp(k, "Node") == 0 && ref_field(r, "uid"))
			owners++;
	}
	if (!uid)
		uid = "";
	n = l.spec + l.status + l.when_set + owners;
	d = malloc(sizeof(*d) + n * sizeof(d->h[0]) + strlen(uid) + 1);
	if (!d)
		return NULL;
	d->labels = labels_hash(cJSON_GetObjectItemCaseSensitive(meta, "labels"));
	d->owners = (uint32_t)owners;
	d->uid = strcpy((char *)&d->h[n], uid);
	for (const char *const *f = kind->spec_fields; f && *f; f++)
		d->h[i++] = hash_of(cJSON_GetObjectItemCaseSensitive(spec, *f));
	for (const char *const *f = kind->status_fields; f && *f; f++)
		d->h[i++] = hash_of(cJSON_GetObjectItemCaseSensitive(status, *f));
	for (const char *const *f = kind->status_when_set; f && *f; f++)
		d->h[i++] = hash_of(cJSON_GetObjectItemCaseSensitive(status, *f));
	cJSON_ArrayForEach(r, refs)
	{
		const char *k = ref_field(r, "kind"), *u = ref_field(r, "uid");

		if (k && strcmp(k, "Node") == 0 && u)
			d->h[i++] = hash_string(u, 0);
	}
	d->initial = 0;
	if (kind->status_initial) {
		cJSON *values = cJSON_Parse(kind->status_initial), *v;
		unsigned int bit = 0;

		cJSON_ArrayForEach(v, values)
		{
			if (bit < 32 && cJSON_GetObjectItemCaseSensitive(status, v->string))
				d->initial |= 1u << bit;
			bit++;
		}
		cJSON_Delete(values);
	}
	return d;
}

void diff_digest_free(struct diff_digest *d)
{
	free(d);
}

const char *diff_digest_uid(const struct diff_digest *d)
{
	return d && d->uid[0] ? d->uid : NULL;
}

/* The desired Node reference is present (same kind and uid). */
static bool has_owner(const cJSON *want_refs, const struct diff_digest *have, size_t first_owner)
{
	const cJSON *want = cJSON_GetArrayItem(want_refs, 0);
	uint64_t h;

	if (!want)
		return true;
	h = hash_string(ref_field(want, "uid"), 0);
	for (size_t i = 0; i < have->owners; i++)
		if (have->h[first_owner + i] == h)
			return true;
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

/* Compare @want's @fields with their hashes @have; with a @patch, add the differing ones to it
 * (null for one @want lacks). */
static bool fields_differ(const char *const *fields, const cJSON *want, const uint64_t *have,
			  cJSON *patch)
{
	bool differ = false;

	for (size_t i = 0; fields && fields[i]; i++) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, fields[i]);

		if (hash_of(w) == have[i])
			continue;
		differ = true;
		if (patch)
			cJSON_AddItemToObject(patch, fields[i],
					      w ? cJSON_Duplicate(w, true) : cJSON_CreateNull());
	}
	return differ;
}

/* The initial values of fields others own, for those missing on the server (and kept by the
 * schema: a field the server prunes would be "missing" forever). */
static bool add_initial(const char *initial, const cJSON *schema, uint32_t present, cJSON *patch)
{
	cJSON *values = cJSON_Parse(initial), *kept = cJSON_Duplicate(values, true), *v;
	unsigned int bit = 0;
	bool added = false;

	if (kept && schema)
		schema_prune(kept, schema_property(schema, "status"));
	cJSON_ArrayForEach(v, values)
	{
		bool there = bit < 32 && (present & (1u << bit));

		bit++;
		/* Already in the patch: an owned value (status_when_set) wins over the initial. */
		if (there || !cJSON_GetObjectItemCaseSensitive(kept, v->string) ||
		    cJSON_GetObjectItemCaseSensitive(patch, v->string))
			continue;
		cJSON_AddItemToObject(patch, v->string, cJSON_Duplicate(v, true));
		added = true;
	}
	cJSON_Delete(kept);
	cJSON_Delete(values);
	return added;
}

enum diff_action diff_digest_compare(const struct kind_def *kind, const cJSON *desired,
				     const struct diff_digest *observed, const cJSON *schema,
				     cJSON **patch)
{
	struct layout l = layout_of(kind);
	const uint64_t *spec_h = observed ? observed->h : NULL;
	const uint64_t *status_h = spec_h ? spec_h + l.spec : NULL;
	const uint64_t *when_set_h = status_h ? status_h + l.status : NULL;
	cJSON *want, *status_patch;
	bool differ;

	if (!desired)
		return observed ? DIFF_DELETE : DIFF_NONE;
	if (!observed)
		return DIFF_CREATE;
	/* The desired labels are all ours (inventory.c): equal sets, or a write. */
	if (labels_hash(object_at(desired, "metadata", "labels")) != observed->labels ||
	    !has_owner(object_at(desired, "metadata", "ownerReferences"), observed,
		       l.spec + l.status + l.when_set))
		return DIFF_METADATA;
	want = pruned_section(desired, "spec", schema);
	differ = fields_differ(kind->spec_fields, want, spec_h, NULL);
	cJSON_Delete(want);
	if (differ)
		return DIFF_METADATA;
	want = pruned_section(desired, "status", schema);
	status_patch = cJSON_CreateObject();
	differ = fields_differ(kind->status_fields, want, status_h, status_patch);
	for (size_t i = 0; i < l.when_set; i++) {
		const char *one[] = {kind->status_when_set[i], NULL};

		if (cJSON_GetObjectItemCaseSensitive(want, one[0]) &&
		    fields_differ(one, want, &when_set_h[i], status_patch))
			differ = true;
	}
	cJSON_Delete(want);
	if (kind->status_initial &&
	    add_initial(kind->status_initial, schema, observed->initial, status_patch))
		differ = true;
	if (!differ) {
		cJSON_Delete(status_patch);
		return DIFF_NONE;
	}
	*patch = cJSON_CreateObject();
	cJSON_AddItemToObject(*patch, "status", status_patch);
	return DIFF_STATUS;
}

/* ---- wanted objects ------------------------------------------------------------------------ */

/*
 * A desired object as the reconciler keeps it between writes: one hash per group of what
 * diff_digest_compare() compares, of the object as the server would keep it, and the device it is
 * built from. Per-field hashes are not needed on this side: when anything differs the object is
 * built again and compared field by field against the observed digest.
 */
struct diff_want {
	uint64_t labels;   /* labels_hash() */
	uint64_t owner;	   /* hash of the Node reference's uid, 0: none wanted */
	uint64_t spec;	   /* fields_hash() of the owned spec fields */
	uint64_t status;   /* of the owned status fields and the status_when_set ones it carries */
	uint32_t when_set; /* bit i: the i-th status_when_set field is carried */
	uint32_t initial;  /* bit i: the i-th status_initial field is kept by the schema */
	char source[];
};

/* One hash of @n field hashes (0 for an absent field), in order; @mask selects among them (bit i:
 * include h[i]; all when @mask is ~0). */
static uint64_t fields_hash(const uint64_t *h, size_t n, uint32_t mask)
{
	uint64_t sum = mix(n);

	for (size_t i = 0; i < n; i++)
		if (i >= 32 || (mask & (1u << i)))
			sum = mix(sum ^ (h[i] + i));
	return sum;
}

/* The hashes of @fields of @section, into @h. */
static void hash_fields(const char *const *fields, const cJSON *section, uint64_t *h)
{
	for (size_t i = 0; fields && fields[i]; i++)
		h[i] = hash_of(cJSON_GetObjectItemCaseSensitive(section, fields[i]));
}

struct diff_want *diff_want_new(const struct kind_def *kind, const cJSON *desired,
				const cJSON *schema, const char *source)
{
	struct layout l = layout_of(kind);
	const cJSON *ref = cJSON_GetArrayItem(object_at(desired, "metadata", "ownerReferences"), 0);
	uint64_t h[64];
	cJSON *spec, *status;
	struct diff_want *w;

	if (l.spec > 64 || l.status + l.when_set > 64 ||
	    !(w = calloc(1, sizeof(*w) + strlen(source) + 1)))
		return NULL;
	spec = pruned_section(desired, "spec", schema);
	status = pruned_section(desired, "status", schema);
	w->labels = labels_hash(object_at(desired, "metadata", "labels"));
	/* As has_owner() reads it: the first reference's uid. */
	w->owner = ref ? hash_string(ref_field(ref, "uid"), 0) : 0;
	hash_fields(kind->spec_fields, spec, h);
	w->spec = fields_hash(h, l.spec, ~0u);
	hash_fields(kind->status_fields, status, h);
	hash_fields(kind->status_when_set, status, h + l.status);
	for (size_t i = 0; i < l.when_set && i < 32; i++)
		if (h[l.status + i])
			w->when_set |= 1u << i;
	w->status =
	    fields_hash(h, l.status, ~0u) ^ fields_hash(h + l.status, l.when_set, w->when_set);
	cJSON_Delete(spec);
	cJSON_Delete(status);
	if (kind->status_initial) {
		cJSON *values = cJSON_Parse(kind->status_initial), *v;
		cJSON *kept = cJSON_Duplicate(values, true);
		unsigned int bit = 0;

		if (kept && schema)
			schema_prune(kept, schema_property(schema, "status"));
		cJSON_ArrayForEach(v, values)
		{
			if (bit < 32 && cJSON_GetObjectItemCaseSensitive(kept, v->string))
				w->initial |= 1u << bit;
			bit++;
		}
		cJSON_Delete(kept);
		cJSON_Delete(values);
	}
	strcpy(w->source, source);
	return w;
}

void diff_want_free(struct diff_want *w)
{
	free(w);
}

const char *diff_want_source(const struct diff_want *w)
{
	return w->source;
}

bool diff_want_matches(const struct kind_def *kind, const struct diff_want *want,
		       const struct diff_digest *observed)
{
	struct layout l = layout_of(kind);
	const uint64_t *spec_h = observed->h, *status_h = spec_h + l.spec;
	bool owner = !want->owner;

	for (size_t i = 0; i < observed->owners && !owner; i++)
		owner = observed->h[l.spec + l.status + l.when_set + i] == want->owner;
	/* A field others own that the schema keeps and the server lacks: its initial value is
	 * written. */
	return owner && want->labels == observed->labels &&
	       (want->initial & ~observed->initial) == 0 &&
	       want->spec == fields_hash(spec_h, l.spec, ~0u) &&
	       want->status == (fields_hash(status_h, l.status, ~0u) ^
				fields_hash(status_h + l.status, l.when_set, want->when_set));
}

enum diff_action diff_object(const struct kind_def *kind, const cJSON *desired,
			     const cJSON *observed, const cJSON *schema, cJSON **patch)
{
	struct diff_digest *d = observed ? diff_digest_new(kind, observed) : NULL;
	enum diff_action action;

	if (observed && !d)
		return DIFF_NONE; /* no memory: nothing to decide with */
	action = diff_digest_compare(kind, desired, d, schema, patch);
	diff_digest_free(d);
	return action;
}

/* The desired Node reference is present in the object's (same kind and uid). */
static bool has_owner_ref(const cJSON *want_refs, const cJSON *have_refs)
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
	if (!has_owner_ref(want_refs, cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences"))) {
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
