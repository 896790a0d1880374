/* SPDX-License-Identifier: Apache-2.0 */
/* String -> index map with linear probing, and growable arrays (core.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core.h"

/*
 * The map grows when it would be more than three quarters full. Half full made probe runs shorter,
 * but a map of 10,000 device ids then took 32,768 slots (512 KiB) where 16,384 hold them at 61%,
 * and `hostdev serve` keeps two such maps per resource (issue 15); lookups stay a few probes.
 */
#define MIN_CAPACITY 16

static _Atomic uint64_t process_seed;

/* A random seed, the same for the whole process (tables are rebuilt, never shared). */
static uint64_t seed(void)
{
	uint64_t s = atomic_load_explicit(&process_seed, memory_order_relaxed);
	struct timespec ts;

	if (s)
		return s;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		/* No entropy yet (early boot): the clock still differs per process. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
	}
	s |= 1;
	atomic_store_explicit(&process_seed, s, memory_order_relaxed);
	return s;
}

/*
 * A seeded multiplicative hash (not fnv1a64(), whose values name files and must never change:
 * this one differs per process on purpose), then splitmix64's finaliser so that every byte
 * reaches the low bits that pick the slot.
 */
static uint64_t hash(const char *key)
{
	uint64_t h = seed();

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

void dp_strmap_init(struct dp_strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void dp_strmap_clear(struct dp_strmap *m)
{
	free(m->slots);
	dp_strmap_init(m);
}

static struct dp_strmap_slot *probe(struct dp_strmap_slot *slots, size_t mask, const char *key)
{
	size_t i = (size_t)hash(key) & mask;

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & mask;
	return &slots[i];
}

static int grow(struct dp_strmap *m)
{
	size_t capacity = m->slots ? (m->mask + 1) * 2 : MIN_CAPACITY;
	struct dp_strmap_slot *slots;

	if (capacity > SIZE_MAX / sizeof(*slots))
		return -ENOMEM;
	slots = calloc(capacity, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; m->slots && i <= m->mask; i++)
		if (m->slots[i].key)
			*probe(slots, capacity - 1, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->mask = capacity - 1;
	return 0;
}

int dp_strmap_add(struct dp_strmap *m, const char *key, size_t value, size_t *existing)
{
	struct dp_strmap_slot *slot;

	if (!m->slots || (m->count + 1) * 4 > (m->mask + 1) * 3) {
		int r = grow(m);

		if (r < 0)
			return r;
	}
	slot = probe(m->slots, m->mask, key);
	if (slot->key) {
		if (existing)
			*existing = slot->value;
		return -EEXIST;
	}
	slot->key = key;
	slot->value = value;
	m->count++;
	return 0;
}

ptrdiff_t dp_strmap_find(const struct dp_strmap *m, const char *key)
{
	const struct dp_strmap_slot *slot;

	if (!m->slots || !key)
		return -1;
	slot = probe(m->slots, m->mask, key);
	return slot->key ? (ptrdiff_t)slot->value : -1;
}

void dp_index_clear(struct dp_index *x)
{
	free(x->slots);
	memset(x, 0, sizeof(*x));
}

static uint32_t *index_probe(uint32_t *slots, size_t mask, dp_index_key_fn key_of,
			     const void *owner, const char *key)
{
	size_t i = (size_t)hash(key) & mask;

	while (slots[i] && strcmp(key_of(owner, slots[i] - 1), key) != 0)
		i = (i + 1) & mask;
	return &slots[i];
}

static int index_grow(struct dp_index *x, dp_index_key_fn key_of, const void *owner)
{
	size_t capacity = x->slots ? (x->mask + 1) * 2 : MIN_CAPACITY;
	uint32_t *slots;

	if (capacity > SIZE_MAX / sizeof(*slots))
		return -ENOMEM;
	slots = calloc(capacity, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; x->slots && i <= x->mask; i++)
		if (x->slots[i])
			*index_probe(slots, capacity - 1, key_of, owner,
				     key_of(owner, x->slots[i] - 1)) = x->slots[i];
	free(x->slots);
	x->slots = slots;
	x->mask = capacity - 1;
	return 0;
}

int dp_index_add(struct dp_index *x, dp_index_key_fn key_of, const void *owner, size_t i,
		 size_t *existing)
{
	uint32_t *slot;

	if (i >= UINT32_MAX)
		return -ENOMEM;
	/* Three quarters full at most, as the map (the probe runs stay a few slots). */
	if (!x->slots || (x->count + 1) * 4 > (x->mask + 1) * 3) {
		int r = index_grow(x, key_of, owner);

		if (r < 0)
			return r;
	}
	slot = index_probe(x->slots, x->mask, key_of, owner, key_of(owner, i));
	if (*slot) {
		if (existing)
			*existing = *slot - 1;
		return -EEXIST;
	}
	*slot = (uint32_t)i + 1;
	x->count++;
	return 0;
}

ptrdiff_t dp_index_find(const struct dp_index *x, dp_index_key_fn key_of, const void *owner,
			const char *key)
{
	const uint32_t *slot;

	if (!x->slots || !key)
		return -1;
	slot = index_probe((uint32_t *)x->slots, x->mask, key_of, owner, key);
	return *slot ? (ptrdiff_t)*slot - 1 : -1;
}

void *dp_array_grow(void *items, size_t n, size_t size)
{
	size_t capacity;

	if (items && (n < 8 || (n & (n - 1)) != 0))
		return items;
	capacity = n < 8 ? 8 : n * 2;
	if (capacity > SIZE_MAX / size)
		return NULL;
	return realloc(items, capacity * size);
}
