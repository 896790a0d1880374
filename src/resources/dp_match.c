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

/* Drop from @m what an earlier entry of the same kind already serves (@taken: the keys of those
 * entries' matches). */
static void drop_taken(const struct dp_strmap *taken, struct dp_matches *m)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->count; i++) {
		if (dp_strmap_find(taken, m->items[i].key) >= 0)
			dp_match_clear(&m->items[i]);
		else
			m->items[kept++] = m->items[i];
	}
	m->count = kept;
}

/* Record the devices of @m (every member of a USB bundle's set) as served. */
static int take(struct dp_strmap *taken, const struct dp_match *m)
{
	int r = dp_strmap_add(taken, m->key, 0, NULL);

	for (size_t k = 0; m->extra && k < m->extra->n_members && (r == 0 || r == -EEXIST); k++)
		r = dp_strmap_add(taken, m->extra->members[k].key, 0, NULL);
	return r == -EEXIST ? 0 : r; /* listed twice by one entry: its own business */
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
			r = spec->sel.n_bundle
				? dp_match_usb_bundle(ctx, spec, &taken[spec->kind], &per_spec[i])
				: dp_match_usb(ctx, spec, &per_spec[i]);
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
		for (size_t j = 0; j < per_spec[i].count && r == 0; j++)
			r = take(&taken[spec->kind], &per_spec[i].items[j]);
		if (r < 0) {
			for (size_t j = 0; j <= i; j++)
				dp_matches_clear(&per_spec[j]);
		}
	}
	for (size_t k = 0; k < sizeof(taken) / sizeof(taken[0]); k++)
		dp_strmap_clear(&taken[k]);
	return r;
}
