/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lists of matches (dp_match.h): what the matcher of each kind (dp_match_pci.c, dp_match_usb.c,
 * dp_match_mdev.c) fills and dp_match.c runs over the config. Kept apart from dp_match.c so that
 * the matchers use these helpers without calling back into the file that calls them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_match.h"

void dp_match_clear(struct dp_match *m)
{
	if (m->id != m->key)
		free(m->id);
	free(m->key);
	free(m->name);
	free(m->pf);
	free(m->driver);
	free(m->mdev_selector);
	for (size_t i = 0; i < m->n_members; i++) {
		free(m->members[i].key);
		free(m->members[i].identity);
	}
	free(m->members);
}

void dp_matches_clear(struct dp_matches *m)
{
	for (size_t i = 0; i < m->count; i++)
		dp_match_clear(&m->items[i]);
	free(m->items);
	for (size_t i = 0; i < m->n_skipped; i++)
		free(m->skipped[i]);
	free(m->skipped);
	memset(m, 0, sizeof(*m));
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
