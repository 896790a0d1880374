/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lists of matches (dp_match.h): what the matcher of each kind (dp_match_pci.c, dp_match_usb.c,
 * dp_match_mdev.c) fills and dp_match.c runs over the config. Kept apart from dp_match.c so that
 * the matchers use these helpers without calling back into the file that calls them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_match.h"

/* What dp_match_clear() frees besides the strings dp_matches_pack() moves (@packed: the mdev
 * selector is one of them). */
static void clear_extra(struct dp_match *m, bool packed)
{
	struct dp_match_extra *e = m->extra;

	if (!e)
		return;
	for (size_t i = 0; i < e->n_members; i++) {
		free(e->members[i].key);
		free(e->members[i].identity);
	}
	free(e->members);
	if (!packed)
		free(e->mdev_selector);
	free(e);
	m->extra = NULL;
}

struct dp_match_extra *dp_match_extra(struct dp_match *m)
{
	if (!m->extra)
		m->extra = calloc(1, sizeof(*m->extra));
	return m->extra;
}

void dp_match_clear(struct dp_match *m)
{
	if (m->id != m->key)
		free(m->id);
	free(m->key);
	free(m->name);
	free(m->pf);
	free(m->driver);
	clear_extra(m, false);
}

void dp_matches_clear(struct dp_matches *m)
{
	for (size_t i = 0; i < m->count; i++) {
		if (m->strings)
			clear_extra(&m->items[i], true);
		else
			dp_match_clear(&m->items[i]);
	}
	free(m->strings);
	free(m->items);
	for (size_t i = 0; i < m->n_skipped; i++)
		free(m->skipped[i]);
	free(m->skipped);
	memset(m, 0, sizeof(*m));
}

/* The string fields dp_matches_pack() moves, the mdev selector last. */
static const size_t packed_fields[] = {
    offsetof(struct dp_match, key),    offsetof(struct dp_match, id),
    offsetof(struct dp_match, name),   offsetof(struct dp_match, pf),
    offsetof(struct dp_match, driver),
};

#define N_PACKED (sizeof(packed_fields) / sizeof(packed_fields[0]) + 1)

/* Field @f of @m; NULL for the mdev selector of a match without extra fields. */
static char **field(struct dp_match *m, size_t f)
{
	if (f == N_PACKED - 1)
		return m->extra ? &m->extra->mdev_selector : NULL;
	return (char **)((char *)m + packed_fields[f]);
}

int dp_matches_pack(struct dp_matches *m)
{
	struct dp_strmap seen = {0};
	size_t size = 0, used = 0;
	char *block;
	int r = 0;

	if (m->strings || m->count == 0)
		return 0;
	/* The size of the distinct strings, so that the block is allocated once at its size (the
	 * strings' addresses are kept: it can never move). */
	for (size_t i = 0; i < m->count && r == 0; i++) {
		for (size_t f = 0; f < N_PACKED && r == 0; f++) {
			char **p = field(&m->items[i], f);
			const char *s = p ? *p : NULL;

			if (!s)
				continue;
			r = dp_strmap_add(&seen, s, 0, NULL);
			if (r == 0)
				size += strlen(s) + 1;
			else if (r == -EEXIST)
				r = 0;
		}
	}
	dp_strmap_clear(&seen);
	block = r == 0 ? malloc(size ? size : 1) : NULL;
	if (!block)
		return -ENOMEM;
	/* The copies, each distinct string once; the map now borrows them from the block. */
	for (size_t i = 0; i < m->count && r == 0; i++) {
		for (size_t f = 0; f < N_PACKED && r == 0; f++) {
			char **p = field(&m->items[i], f);
			const char *s = p ? *p : NULL;
			size_t len;

			if (!s || dp_strmap_find(&seen, s) >= 0)
				continue;
			len = strlen(s) + 1;
			memcpy(block + used, s, len);
			r = dp_strmap_add(&seen, block + used, used, NULL);
			used += len;
		}
	}
	if (r < 0) {
		dp_strmap_clear(&seen);
		free(block);
		return r;
	}
	/* Nothing is allocated from here on: the list is changed only now that nothing can fail. */
	for (size_t i = 0; i < m->count; i++) {
		struct dp_match *x = &m->items[i];
		bool id_is_key = x->id == x->key; /* one string, freed once */

		for (size_t f = 0; f < N_PACKED; f++) {
			char **s = field(x, f);
			char *old = s ? *s : NULL;

			if (!old || (id_is_key && s == &x->id))
				continue;
			*s = block + dp_strmap_find(&seen, old);
			free(old);
		}
		if (id_is_key)
			x->id = x->key;
	}
	dp_strmap_clear(&seen);
	m->strings = block;
	return 0;
}

long dp_matches_find_id(const struct dp_matches *m, const char *id)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->items[i].id, id) == 0)
			return (long)i;
	return -1;
}

struct dp_match *dp_matches_add(struct dp_matches *m)
{
	struct dp_match *grown = dp_array_grow(m->items, m->count, sizeof(*grown));

	if (!grown)
		return NULL;
	m->items = grown;
	memset(&m->items[m->count], 0, sizeof(*m->items));
	m->items[m->count].numa = -1;
	m->items[m->count].iommu_group = -1;
	return &m->items[m->count++];
}

int dp_matches_skip(struct dp_matches *m, const char *message)
{
	char **grown = dp_array_grow(m->skipped, m->n_skipped, sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	m->skipped = grown;
	if (!(m->skipped[m->n_skipped] = strdup(message)))
		return -ENOMEM;
	m->n_skipped++;
	return 0;
}

char *dp_name_join(const char *vendor, const char *text)
{
	char id[HOSTDEV_NAME_MAX], name[HOSTDEV_NAME_MAX * 2];

	if (!vendor || !text || hostdev_naming_device_id(text, id, sizeof(id)) < 0)
		return NULL;
	snprintf(name, sizeof(name), "%s/%s", vendor, id);
	if (hostdev_naming_check_resource_name(name) < 0)
		return NULL;
	return strdup(name);
}
