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
	struct dp_match *grown = realloc(m->items, (m->count + 1) * sizeof(*grown));

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
	char **grown = realloc(m->skipped, (m->n_skipped + 1) * sizeof(*grown));

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

static bool key_taken(const struct dp_matches *earlier, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < earlier[i].count; j++)
			if (strcmp(earlier[i].items[j].key, key) == 0)
				return true;
	return false;
}

/* Drop from @m what an earlier entry of the same kind already serves. */
static void drop_taken(const struct hostdev_dp_config *config, const struct dp_matches *per_spec,
		       size_t index, struct dp_matches *m)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->count; i++) {
		bool taken = false;

		for (size_t j = 0; j < index && !taken; j++)
			taken = config->specs[j].kind == config->specs[index].kind &&
				key_taken(&per_spec[j], 1, m->items[i].key);
		if (taken)
			match_clear(&m->items[i]);
		else
			m->items[kept++] = m->items[i];
	}
	m->count = kept;
}

int dp_match_run(hostdev_ctx *ctx, const struct hostdev_dp_config *config, size_t upto,
		 int only_kind, struct dp_matches *per_spec)
{
	int r = 0;

	for (size_t i = 0; i <= upto && i < config->n_specs; i++) {
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
			return r;
		}
		drop_taken(config, per_spec, i, &per_spec[i]);
	}
	return 0;
}
