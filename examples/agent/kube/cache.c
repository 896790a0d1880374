/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The informer's cache of objects, kept in step with the agent's own writes. The answer of a
 * write and the watch events of the same object race on separate connections:
 *  - the answer can come before its own event, while older events are still on the way: those
 *    must not step the cache back behind the write (the entry's pending resourceVersion);
 *  - the answer can come after its own event, even after the event of the object's deletion:
 *    it must not bring the deleted object back (the tombstones), or the agent would believe an
 *    object exists that the server no longer has, and never write it again.
 * resourceVersions are only compared for equality, as the API conventions require: a version
 * the cache has seen for an object that was then deleted is stale, whatever its value.
 *
 * What is kept of an object is the owner's choice (struct kube_keep): by default the object less
 * its managedFields; the reconciler keeps a digest of a few hundred bytes instead, since at 10,000
 * objects whole trees cost over 50 MiB that it never reads (docs/agent.md, "Memory").
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

/* resourceVersions of the last events of one object: an answer to the agent's write whose event
 * already arrived must be recognised as not newer than the cache. */
#define RECENT_RVS 8

/* Deleted objects remembered, oldest forgotten first. A write's answer arrives within the
 * client's request timeout; this many deletions inside that time would be a mass deletion, and
 * even then the worst case is the old behaviour (one stale answer stored) for the oldest. */
#define TOMBSTONES 256

struct entry {
	void *kept; /* what the cache's keep made of the object */
	/* How to free it (the map frees entries and knows no cache). */
	void (*drop)(void *kept);
	char *rv;	      /* its metadata.resourceVersion (NULL: none) */
	char *pending_rv;     /* resourceVersion of the agent's own last write, until its event */
	unsigned int dropped; /* events skipped while pending */
	unsigned int next_recent;
	/* RECENT_RVS slots (rv_key()s, 0 = empty), allocated at the first event: most objects
	 * of a large node never change after the list. */
	uint64_t *recent;
};

/* The versions a deleted object was seen at (its last ones and the deletion's). */
struct tombstone {
	char *name;
	uint64_t rvs[RECENT_RVS + 2]; /* rv_key()s, 0 = empty */
};

struct kube_cache {
	struct kube_keep keep;
	struct strmap *objects; /* name -> struct entry */
	/* TOMBSTONES of them, allocated at the first deletion: 22 KiB a cache otherwise, and an
	 * agent has a dozen caches, most of which never see one. */
	struct tombstone *graves;
	unsigned int next_grave;
};

/* What the cache keeps of an object: all of it but metadata.managedFields, the server's record of
 * which client set which field (often as large as the rest of the object). Nothing here reads
 * it, and a write never sends it back: kept, it would double the cache for nothing (client-go's
 * informers drop it the same way, TransformStripManagedFields). */
static void *cache_copy(const cJSON *obj, void *userdata)
{
	cJSON *copy = cJSON_Duplicate(obj, true);

	if (copy)
		cJSON_DeleteItemFromObjectCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(copy, "metadata"), "managedFields");
	return copy;
}

static void cache_copy_free(void *kept)
{
	cJSON_Delete(kept);
}

static const struct kube_keep default_keep = {cache_copy, cache_copy_free, NULL};

static void entry_free(void *p)
{
	struct entry *e = p;

	if (!e)
		return;
	if (e->kept)
		e->drop(e->kept);
	free(e->rv);
	free(e->pending_rv);
	free(e->recent);
	free(e);
}

/* The kept form of @obj in a new entry, or NULL (no memory). */
static struct entry *entry_new(const struct kube_cache *c, const cJSON *obj)
{
	struct entry *e = calloc(1, sizeof(*e));
	const char *rv = kube_meta_string(obj, "resourceVersion");

	if (!e)
		return NULL;
	e->drop = c->keep.drop;
	e->kept = c->keep.keep(obj, c->keep.userdata);
	e->rv = rv ? strdup(rv) : NULL;
	if (!e->kept || (rv && !e->rv)) {
		entry_free(e);
		return NULL;
	}
	return e;
}

/* Put the kept form of @obj in @e in place of the old one. false: no memory (@e unchanged). */
static bool entry_set(const struct kube_cache *c, struct entry *e, const cJSON *obj)
{
	const char *rv = kube_meta_string(obj, "resourceVersion");
	void *kept = c->keep.keep(obj, c->keep.userdata);
	char *rv_copy = rv ? strdup(rv) : NULL;

	if (!kept || (rv && !rv_copy)) {
		if (kept)
			c->keep.drop(kept);
		free(rv_copy);
		return false;
	}
	c->keep.drop(e->kept);
	e->kept = kept;
	free(e->rv);
	e->rv = rv_copy;
	return true;
}

/*
 * A resourceVersion as the cache remembers the past ones: a 64-bit hash, never 0 (0: none). Two
 * versions of one object collide with odds of 2^-64; the cost would be one write's answer not
 * stored, which the object's next event corrects.
 */
static uint64_t rv_key(const char *rv)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!rv)
		return 0;
	for (; *rv; rv++) {
		h ^= (unsigned char)*rv;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static void remember_rv(struct entry *e, const char *rv)
{
	unsigned int i;

	if (!e->recent && !(e->recent = calloc(RECENT_RVS, sizeof(*e->recent))))
		return;
	i = e->next_recent++ % RECENT_RVS;
	e->recent[i] = rv_key(rv);
}

static bool seen_rv(const struct entry *e, const char *rv)
{
	if (e->rv && strcmp(e->rv, rv) == 0)
		return true;
	for (int i = 0; e->recent && i < RECENT_RVS; i++)
		if (e->recent[i] && e->recent[i] == rv_key(rv))
			return true;
	return false;
}

/* ---- tombstones ---------------------------------------------------------------------------- */

static void tombstone_clear(struct tombstone *t)
{
	free(t->name);
	t->name = NULL;
	memset(t->rvs, 0, sizeof(t->rvs));
}

static struct tombstone *tombstone_find(struct kube_cache *c, const char *name)
{
	for (int i = 0; c->graves && i < TOMBSTONES; i++)
		if (c->graves[i].name && strcmp(c->graves[i].name, name) == 0)
			return &c->graves[i];
	return NULL;
}

static void tombstone_add(struct tombstone *t, uint64_t key)
{
	if (!key)
		return;
	for (size_t i = 0; i < sizeof(t->rvs) / sizeof(t->rvs[0]); i++) {
		if (t->rvs[i] == key)
			return;
		if (!t->rvs[i]) {
			t->rvs[i] = key;
			return;
		}
	}
}

/* Remember that @name (last seen as @e, may be NULL) was deleted, at @deletion_rv (may be NULL). */
static void bury(struct kube_cache *c, const char *name, const struct entry *e,
		 const char *deletion_rv)
{
	struct tombstone *t = tombstone_find(c, name);

	if (!t) {
		/* Without memory for them a stale answer may be stored: the behaviour without
		 * tombstones, which the next event of the object corrects. */
		if (!c->graves && !(c->graves = calloc(TOMBSTONES, sizeof(*c->graves))))
			return;
		t = &c->graves[c->next_grave++ % TOMBSTONES];
		tombstone_clear(t);
		if (!(t->name = strdup(name)))
			return;
	} else {
		/* A name deleted again: only this life's versions matter from now on. */
		memset(t->rvs, 0, sizeof(t->rvs));
	}
	if (e) {
		tombstone_add(t, rv_key(e->rv));
		for (int i = 0; e->recent && i < RECENT_RVS; i++)
			tombstone_add(t, e->recent[i]);
	}
	tombstone_add(t, rv_key(deletion_rv));
}

static bool buried(struct kube_cache *c, const char *name, const char *rv)
{
	const struct tombstone *t = tombstone_find(c, name);

	if (!t || !rv)
		return false;
	for (size_t i = 0; i < sizeof(t->rvs) / sizeof(t->rvs[0]); i++)
		if (t->rvs[i] && t->rvs[i] == rv_key(rv))
			return true;
	return false;
}

/* ---- public -------------------------------------------------------------------------------- */

struct kube_cache *kube_cache_new_keeping(const struct kube_keep *keep)
{
	struct kube_cache *c = calloc(1, sizeof(*c));

	if (c && !(c->objects = strmap_new(entry_free))) {
		free(c);
		return NULL;
	}
	if (c)
		c->keep = keep ? *keep : default_keep;
	return c;
}

struct kube_cache *kube_cache_new(void)
{
	return kube_cache_new_keeping(NULL);
}

void kube_cache_free(struct kube_cache *c)
{
	if (!c)
		return;
	strmap_free(c->objects);
	for (int i = 0; c->graves && i < TOMBSTONES; i++)
		tombstone_clear(&c->graves[i]);
	free(c->graves);
	free(c);
}

const void *kube_cache_get(const struct kube_cache *c, const char *name)
{
	const struct entry *e = strmap_get(c->objects, name);

	return e ? e->kept : NULL;
}

const char *kube_cache_rv(const struct kube_cache *c, const char *name)
{
	const struct entry *e = strmap_get(c->objects, name);

	return e ? e->rv : NULL;
}

size_t kube_cache_count(const struct kube_cache *c)
{
	return strmap_count(c->objects);
}

struct foreach_ctx {
	void (*fn)(const char *name, const cJSON *obj, void *userdata);
	void *userdata;
};

static void foreach_entry(const char *key, void *value, void *ud)
{
	struct foreach_ctx *f = ud;

	f->fn(key, ((struct entry *)value)->kept, f->userdata);
}

void kube_cache_foreach(const struct kube_cache *c,
			void (*fn)(const char *name, const cJSON *obj, void *userdata),
			void *userdata)
{
	struct foreach_ctx f = {fn, userdata};

	strmap_foreach(c->objects, foreach_entry, &f);
}

int kube_cache_put_listed(struct kube_cache *c, const cJSON *obj)
{
	const char *name = kube_meta_string(obj, "name");
	struct entry *f;

	if (!name)
		return -EINVAL;
	f = entry_new(c, obj);
	if (!f || strmap_set(c->objects, name, f) < 0) {
		entry_free(f);
		return -ENOMEM;
	}
	return 0;
}

struct replace_ctx {
	struct kube_cache *c;
	const struct kube_cache *listing;
};

static void bury_unlisted(const char *name, void *value, void *ud)
{
	struct replace_ctx *r = ud;

	if (!strmap_get(r->listing->objects, name))
		bury(r->c, name, value, NULL);
}

void kube_cache_replace(struct kube_cache *c, struct kube_cache *listing)
{
	struct replace_ctx r = {c, listing};

	strmap_foreach(c->objects, bury_unlisted, &r);
	strmap_free(c->objects);
	c->objects = listing->objects;
	listing->objects = NULL;
	kube_cache_free(listing);
}

const cJSON *kube_cache_apply(struct kube_cache *c, enum kube_event_type type, const cJSON *obj)
{
	const char *name = kube_meta_string(obj, "name");
	const char *rv = kube_meta_string(obj, "resourceVersion");
	struct entry *e;

	if (!name)
		return NULL;
	e = strmap_get(c->objects, name);
	if (e && e->pending_rv && type != KUBE_DELETED) {
		/* Events before the agent's own write are older than the cached answer. A write
		 * whose event never comes cannot hold the object forever: after a few skipped
		 * events the stream wins. */
		bool ours = rv && strcmp(rv, e->pending_rv) == 0;

		remember_rv(e, rv);
		if (!ours && ++e->dropped < RECENT_RVS)
			return NULL;
		free(e->pending_rv);
		e->pending_rv = NULL;
		e->dropped = 0;
		if (ours)
			return NULL; /* the cache already holds this very object */
	}
	if (type == KUBE_DELETED) {
		bury(c, name, e, rv);
		strmap_remove(c->objects, name);
		return obj;
	}
	if (e) {
		if (!entry_set(c, e, obj))
			return NULL;
	} else {
		struct entry *f = entry_new(c, obj);

		if (!f || strmap_set(c->objects, name, f) < 0) {
			entry_free(f);
			return NULL;
		}
		e = f;
	}
	remember_rv(e, rv);
	/* The cached copy when the cache keeps the object, else the event's own. */
	return c->keep.keep == cache_copy ? e->kept : obj;
}

void kube_cache_store(struct kube_cache *c, const cJSON *obj, bool own_write, bool watching)
{
	const char *name = kube_meta_string(obj, "name");
	const char *rv = kube_meta_string(obj, "resourceVersion");
	struct entry *e;

	if (!name)
		return;
	e = strmap_get(c->objects, name);
	/* Its event came first (or the write changed nothing): the cache is as new or newer. */
	if (e && rv && seen_rv(e, rv))
		return;
	/* The answer of a write the object's deletion overtook. A read is not held back: an object
	 * that left the watch's selector is reported deleted but still exists, at that version. */
	if (own_write && buried(c, name, rv))
		return;
	if (!e) {
		struct entry *f = entry_new(c, obj);

		if (!f || strmap_set(c->objects, name, f) < 0) {
			entry_free(f);
			return;
		}
		e = f;
	} else if (!entry_set(c, e, obj)) {
		return;
	}
	free(e->pending_rv);
	/* A read marks nothing pending: were it marked, the events it skipped would count as seen
	 * and a later write's answer with one of their resourceVersions would not be stored. */
	e->pending_rv = own_write && rv && watching ? strdup(rv) : NULL;
	e->dropped = 0;
}

void kube_cache_forget(struct kube_cache *c, const char *name)
{
	struct entry *e = strmap_get(c->objects, name);

	if (e)
		bury(c, name, e, NULL);
	strmap_remove(c->objects, name);
}
