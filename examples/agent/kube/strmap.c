/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A string-keyed hash map (open addressing, linear probing, tombstones) for the object caches and
 * the desired inventory: thousands of names, looked up on every event. The slots are most of a
 * large map's own memory (16 bytes each): filled up to three quarters before they double, and
 * halved when a map that grew in a burst (the work queue of a first publication) is nearly empty
 * again, so that an idle agent does not keep the burst's slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

struct slot {
	char *key; /* NULL: empty; TOMBSTONE: deleted */
	void *value;
};

static char tombstone_marker;
#define TOMBSTONE (&tombstone_marker)
#define MIN_CAP 64

struct strmap {
	struct slot *slots;
	size_t cap, count, used; /* used = count + tombstones */
	void (*free_value)(void *);
};

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct strmap *strmap_new(void (*free_value)(void *))
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = MIN_CAP;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->free_value = free_value;
	return m;
}

void strmap_free(struct strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE) {
			free(m->slots[i].key);
			if (m->free_value)
				m->free_value(m->slots[i].value);
		}
	free(m->slots);
	free(m);
}

static struct slot *find(const struct strmap *m, const char *key)
{
	size_t i = hash(key) & (m->cap - 1);

	for (size_t n = 0; n < m->cap; n++, i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != TOMBSTONE && strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

/* Rehash into @cap slots (a power of two above the count), which drops the tombstones. */
static int resize(struct strmap *m, size_t cap)
{
	struct slot *old = m->slots, *slots = calloc(cap, sizeof(*slots));
	size_t old_cap = m->cap;

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].key || old[i].key == TOMBSTONE)
			continue;
		j = hash(old[i].key) & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

/* Room for one more: doubled when more than half the slots would hold entries, else only rehashed
 * (the tombstones filled it). */
static int grow(struct strmap *m)
{
	return resize(m, (m->count + 1) * 2 > m->cap ? m->cap * 2 : m->cap);
}

int strmap_set(struct strmap *m, const char *key, void *value)
{
	struct slot *s = find(m, key);
	size_t i;

	if (s) {
		if (m->free_value && s->value != value)
			m->free_value(s->value);
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -ENOMEM;
	i = hash(key) & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = strdup(key);
	if (!m->slots[i].key)
		return -ENOMEM;
	m->slots[i].value = value;
	m->count++;
	return 0;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct slot *s = find(m, key);

	return s ? s->value : NULL;
}

bool strmap_remove(struct strmap *m, const char *key)
{
	struct slot *s = find(m, key);

	if (!s)
		return false;
	free(s->key);
	if (m->free_value)
		m->free_value(s->value);
	s->key = TOMBSTONE;
	s->value = NULL;
	m->count--;
	if (m->cap > MIN_CAP && m->count * 8 < m->cap) {
		size_t cap = MIN_CAP;

		while (cap < m->count * 2)
			cap *= 2;
		resize(m, cap); /* without memory for it, the map stays as large */
	}
	return true;
}

size_t strmap_count(const struct strmap *m)
{
	return m->count;
}

void strmap_foreach(const struct strmap *m, void (*fn)(const char *key, void *value, void *ud),
		    void *ud)
{
	/* Keys are copied first: @fn may remove entries (which frees their keys and may shrink the
	 * slots); each is looked up again. */
	char **keys = malloc((m->count + 1) * sizeof(*keys));
	size_t n = 0;

	if (!keys)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
			keys[n++] = strdup(m->slots[i].key);
	for (size_t i = 0; i < n; i++) {
		struct slot *s = keys[i] ? find(m, keys[i]) : NULL;

		if (s)
			fn(s->key, s->value, ud);
		free(keys[i]);
	}
	free(keys);
}
