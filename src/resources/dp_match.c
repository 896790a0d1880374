/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running the entries of a resource selection config over the host: one list of matches per
 * entry, each device in the first entry that selects it (so that the kubelet can never hand one
 * device to two pods through two resources).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_match.h"
#include "core/core.h"

static void match_clear(struct dp_match *m)
{
	free(m->key);
	free(m->id);
	free(m->name);
	free(m->pf);
	free(m->driver);
	free(m->mdev_selector);
}

void dp_matches_clear(struct dp_matches *m)
{
	for (size_t i = 0; i < m->count; i++)
		match_clear(&m->items[i]);
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

/* Drop from @m what an earlier entry of the same kind already serves (@taken: the keys of those
 * entries' matches). */
static void drop_taken(const struct dp_strmap *taken, struct dp_matches *m)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->count; i++) {
		if (dp_strmap_find(taken, m->items[i].key) >= 0)
			match_clear(&m->items[i]);
		else
			m->items[kept++] = m->items[i];
	}
	m->count = kept;
}

int dp_match_run(hostdev_ctx *ctx, const struct hostdev_dp_config *config, size_t upto,
		 int only_kind, struct dp_matches *per_spec)
{
	/* Per kind, the keys of the devices earlier entries took (borrowed from per_spec). */
	struct dp_strmap taken[3];
	int r = 0;

	for (size_t k = 0; k < sizeof(taken) / sizeof(taken[0]); k++)
		dp_strmap_init(&taken[k]);
	for (size_t i = 0; i <= upto && i < config->n_specs && r == 0; i++) {
		const struct dp_spec *spec = &config->specs[i];

		memset(&per_spec[i], 0, sizeof(per_spec[i]));
		if (only_kind >= 0 && (int)spec->kind != only_kind)
			continue;
		switch (spec->kind) {
		case HOSTDEV_DP_KIND_PCI:
			r = dp_match_pci(ctx, spec, &per_spec[i]);
			break;
		case HOSTDEV_DP_KIND_USB:
			r = dp_match_usb(ctx, spec, &per_spec[i]);
			break;
		case HOSTDEV_DP_KIND_MDEV:
			r = dp_match_mdev(ctx, spec, &per_spec[i]);
			break;
		}
		if (r < 0) {
			for (size_t j = 0; j <= i; j++)
				dp_matches_clear(&per_spec[j]);
			break;
		}
		drop_taken(&taken[spec->kind], &per_spec[i]);
		for (size_t j = 0; j < per_spec[i].count && r == 0; j++) {
			r = dp_strmap_add(&taken[spec->kind], per_spec[i].items[j].key, 0, NULL);
			if (r == -EEXIST)
				r = 0; /* listed twice by one entry: its own business */
		}
		if (r < 0) {
			for (size_t j = 0; j <= i; j++)
				dp_matches_clear(&per_spec[j]);
		}
	}
	for (size_t k = 0; k < sizeof(taken) / sizeof(taken[0]); k++)
		dp_strmap_clear(&taken[k]);
	return r;
}
