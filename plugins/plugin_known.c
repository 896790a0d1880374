/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The devices a plugin has advertised (plugin.h, struct plugin_known_set): records of 16 bytes in
 * first-seen order, their ids one after the other in one buffer, and an index by id in 4-byte
 * slots. At 10,000 devices this is about 0.4 MiB, where a record and a tsearch(3) node per device
 * (two mallocs each) took 0.9 MiB (issue 15). Records are never removed: an index stays valid for
 * the plugin's life, while the arrays may move when they grow.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "plugin.h"

#define MIN_SLOTS 16

/*
 * A seeded multiplicative hash: USB ids are made of what devices report about themselves, so a
 * device could be made whose ids all land in one slot were the hash fixed.
 */
static uint64_t hash(uint64_t seed, const char *key)
{
	uint64_t h = seed;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

const char *known_id(const struct plugin_known_set *s, size_t i)
{
	return s->ids + s->items[i].id;
}

static uint32_t *probe(const struct plugin_known_set *s, uint32_t *slots, size_t mask,
		       const char *id)
{
	size_t i = (size_t)hash(s->seed, id) & mask;

	while (slots[i] && strcmp(known_id(s, slots[i] - 1), id) != 0)
		i = (i + 1) & mask;
	return &slots[i];
}

long known_find(const struct plugin_known_set *s, const char *id)
{
	const uint32_t *slot;

	if (!s->slots || !id)
		return -1;
	slot = probe(s, s->slots, s->mask, id);
	return *slot ? (long)*slot - 1 : -1;
}

static int grow_slots(struct plugin_known_set *s)
{
	size_t capacity = s->slots ? (s->mask + 1) * 2 : MIN_SLOTS;
	uint32_t *slots;

	if (!s->seed && getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) != sizeof(s->seed))
		s->seed = (uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ull; /* no entropy yet */
	s->seed |= 1;
	slots = calloc(capacity, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; s->slots && i <= s->mask; i++)
		if (s->slots[i])
			*probe(s, slots, capacity - 1, known_id(s, s->slots[i] - 1)) = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->mask = capacity - 1;
	return 0;
}

int known_remember(struct plugin_known_set *s, const char *id, int numa, size_t *out)
{
	size_t len = strlen(id) + 1;
	long found = known_find(s, id);
	uint32_t *slot;

	if (found >= 0) {
		s->items[found].numa = numa;
		if (out)
			*out = (size_t)found;
		return 0;
	}
	if (s->count >= UINT32_MAX - 1 || s->ids_len + len > UINT32_MAX)
		return -ENOMEM;
	/* Three quarters full at most: probe runs stay a few slots. */
	if ((!s->slots || (s->count + 1) * 4 > (s->mask + 1) * 3) && grow_slots(s) < 0)
		return -ENOMEM;
	if (s->count == s->capacity) {
		size_t capacity = s->capacity ? 2 * s->capacity : 8;
		struct plugin_known *items = realloc(s->items, capacity * sizeof(*items));

		if (!items)
			return -ENOMEM;
		s->items = items;
		s->capacity = capacity;
	}
	if (s->ids_len + len > s->ids_capacity) {
		size_t capacity = s->ids_capacity ? 2 * s->ids_capacity : 256;
		char *ids;

		while (capacity < s->ids_len + len)
			capacity *= 2;
		if (!(ids = realloc(s->ids, capacity)))
			return -ENOMEM;
		s->ids = ids;
		s->ids_capacity = capacity;
	}
	memcpy(s->ids + s->ids_len, id, len);
	s->items[s->count] = (struct plugin_known){
	    .id = (uint32_t)s->ids_len, .numa = numa, .group = -1, .ready = false};
	s->ids_len += len;
	slot = probe(s, s->slots, s->mask, id);
	*slot = (uint32_t)s->count + 1;
	if (out)
		*out = s->count;
	s->count++;
	return 0;
}

void known_trim(struct plugin_known_set *s)
{
	/* The doubling's slack, up to half of each array, is given back once a list is in: the
	 * set rarely grows after (only when devices appear). A failed shrink keeps the old arrays. */
	if (s->count && s->count < s->capacity) {
		struct plugin_known *items = realloc(s->items, s->count * sizeof(*items));

		if (items) {
			s->items = items;
			s->capacity = s->count;
		}
	}
	if (s->ids_len && s->ids_len < s->ids_capacity) {
		char *ids = realloc(s->ids, s->ids_len);

		if (ids) {
			s->ids = ids;
			s->ids_capacity = s->ids_len;
		}
	}
}

void known_clear(struct plugin_known_set *s)
{
	free(s->items);
	free(s->ids);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}
