/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The preferred allocation policy (dp_prefer.c), a pure function: behind
 * hostdev_dp_matches_prefer() and the built-in plugins' GetPreferredAllocation. Never installed.
 */
#ifndef HOSTDEV_DP_PREFER_H
#define HOSTDEV_DP_PREFER_H

#include <stddef.h>

struct prefer_candidate {
	const char *id;
	int numa;	    /* -1: none (a node of its own) */
	int group;	    /* IOMMU group, -1: none */
	const char *bucket; /* PF address of a VF / parent of an mdev; NULL: none */
};

/*
 * Choose up to @size ids: first @must (in order, each once), then candidates: the IOMMU-group
 * siblings of what is chosen, on one NUMA node (the node of the must-include devices when it can
 * supply the rest, else the node with the most candidates among those that can, else the node
 * with the most), VFs of the same PF (or mdevs of the same parent) as what is chosen, whole IOMMU
 * groups, the smallest PF that can supply the rest (the largest when none can), then the
 * kubelet's order. Writes the chosen ids (borrowed from @must and @c) to @out (room for @size)
 * and returns how many, or -ENOMEM.
 */
long prefer_select(const struct prefer_candidate *c, size_t n, const char *const *must,
		   size_t n_must, size_t size, const char **out);

#endif /* HOSTDEV_DP_PREFER_H */
