/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The preferred allocation policy (plugin.h, prefer_select()): a pure function of the candidates,
 * so that every rule is tested on its own (tests/dpconfig/test_prefer.c).
 *
 * Why these rules: an IOMMU group is the unit vfio isolates, and a group can only be opened by one
 * VM, so splitting a group across pods makes the second one fail; devices on the NUMA node of the
 * VM's memory and CPUs avoid cross-node DMA; VFs of one PF (mdevs of one parent) together keep the
 * other PFs whole for larger requests, and taking the smallest PF that can supply a request leaves
 * the large ones for large requests.
 *
 * The choice is greedy: after the must-include ids, each step takes the best remaining candidate
 * by this order of keys, the first that differs deciding:
 *   1. in the IOMMU group of a chosen device;
 *   2. the rank of its NUMA node (the target node first, then the others by candidate count);
 *   3. on the PF (parent) of a chosen device;
 *   4. its whole IOMMU group fits in what is still needed;
 *   5. its PF (or group) bucket: the smallest that can supply what is still needed, else the
 *      largest;
 *   6. the kubelet's order.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

struct state {
	const struct prefer_candidate *c;
	size_t n;
	bool *chosen;
	int *node_rank; /* per candidate */
};

static bool same_bucket(const struct prefer_candidate *a, const struct prefer_candidate *b)
{
	if (a->bucket || b->bucket)
		return a->bucket && b->bucket && strcmp(a->bucket, b->bucket) == 0;
	return a->group >= 0 && a->group == b->group;
}

static size_t count_unchosen(const struct state *s,
			     bool (*same)(const struct prefer_candidate *,
					  const struct prefer_candidate *),
			     size_t i)
{
	size_t n = 0;

	for (size_t j = 0; j < s->n; j++)
		if (!s->chosen[j] && (j == i || same(&s->c[i], &s->c[j])))
			n++;
	return n;
}

static bool same_group(const struct prefer_candidate *a, const struct prefer_candidate *b)
{
	return a->group >= 0 && a->group == b->group;
}

static bool same_pf(const struct prefer_candidate *a, const struct prefer_candidate *b)
{
	return a->bucket && b->bucket && strcmp(a->bucket, b->bucket) == 0;
}

/* True when a chosen candidate relates to @i through @same. */
static bool near_chosen(const struct state *s,
			bool (*same)(const struct prefer_candidate *,
				     const struct prefer_candidate *),
			size_t i)
{
	for (size_t j = 0; j < s->n; j++)
		if (s->chosen[j] && j != i && same(&s->c[i], &s->c[j]))
			return true;
	return false;
}

/*
 * NUMA node ranks: 0 for the target node, then the other nodes by candidate count (descending),
 * then node number.
 */
static void rank_nodes(struct state *s, const int *must_nodes, size_t n_must_nodes, size_t need)
{
	int *nodes = calloc(s->n ? s->n : 1, sizeof(*nodes));
	size_t *counts = calloc(s->n ? s->n : 1, sizeof(*counts));
	size_t n_nodes = 0, target = SIZE_MAX;

	if (!nodes || !counts) {
		/* Without memory every node ranks the same: the other keys still decide. */
		for (size_t i = 0; i < s->n; i++)
			s->node_rank[i] = 0;
		free(nodes);
		free(counts);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		size_t k;

		if (s->chosen[i])
			continue;
		for (k = 0; k < n_nodes && nodes[k] != s->c[i].numa; k++)
			;
		if (k == n_nodes)
			nodes[n_nodes++] = s->c[i].numa;
		counts[k]++;
	}
	/* The must-include devices' node, when they share one that can supply the rest. */
	if (n_must_nodes == 1) {
		for (size_t k = 0; k < n_nodes; k++)
			if (nodes[k] == must_nodes[0] && counts[k] >= need)
				target = k;
	}
	/* Else the node with the most candidates among those that can supply the rest (any node
	 * when none can); ties go to the lower node number. */
	for (size_t k = 0; target == SIZE_MAX && k < n_nodes; k++) {
		size_t best = SIZE_MAX;

		for (size_t j = 0; j < n_nodes; j++) {
			bool fits = counts[j] >= need;

			if (best == SIZE_MAX) {
				best = j;
				continue;
			}
			bool best_fits = counts[best] >= need;
			if (fits != best_fits) {
				if (fits)
					best = j;
				continue;
			}
			if (counts[j] > counts[best] ||
			    (counts[j] == counts[best] && nodes[j] < nodes[best]))
				best = j;
		}
		target = best;
	}
	for (size_t i = 0; i < s->n; i++) {
		size_t k;
		int rank = 1;

		for (k = 0; k < n_nodes && nodes[k] != s->c[i].numa; k++)
			;
		if (k == n_nodes || k == target) {
			s->node_rank[i] = k == target ? 0 : INT_MAX;
			continue;
		}
		for (size_t j = 0; j < n_nodes; j++)
			if (j != target && j != k &&
			    (counts[j] > counts[k] ||
			     (counts[j] == counts[k] && nodes[j] < nodes[k])))
				rank++;
		s->node_rank[i] = rank;
	}
	free(nodes);
	free(counts);
}

/* Rank of the bucket of @i for @need more devices: the smallest bucket that can supply them,
 * else the largest. */
static size_t bucket_rank(const struct state *s, size_t i, size_t need)
{
	size_t size = count_unchosen(s, same_bucket, i);

	return size >= need ? size : (size_t)INT_MAX + (s->n - size);
}

/* Is @a a better next choice than @b? */
static bool better(const struct state *s, size_t a, size_t b, size_t need)
{
	long ka[5], kb[5];
	size_t ga, gb;

	ka[0] = !near_chosen(s, same_group, a);
	kb[0] = !near_chosen(s, same_group, b);
	ka[1] = s->node_rank[a];
	kb[1] = s->node_rank[b];
	ka[2] = !near_chosen(s, same_pf, a);
	kb[2] = !near_chosen(s, same_pf, b);
	ga = count_unchosen(s, same_group, a);
	gb = count_unchosen(s, same_group, b);
	ka[3] = ga > need;
	kb[3] = gb > need;
	ka[4] = (long)bucket_rank(s, a, need);
	kb[4] = (long)bucket_rank(s, b, need);
	for (int k = 0; k < 5; k++)
		if (ka[k] != kb[k])
			return ka[k] < kb[k];
	return a < b;
}

long prefer_select(const struct prefer_candidate *c, size_t n, const char *const *must,
		   size_t n_must, size_t size, const char **out)
{
	struct state s = {c, n, NULL, NULL};
	int *must_nodes = NULL;
	size_t n_must_nodes = 0, count = 0;
	long r;

	s.chosen = calloc(n ? n : 1, sizeof(*s.chosen));
	s.node_rank = calloc(n ? n : 1, sizeof(*s.node_rank));
	must_nodes = calloc(n_must ? n_must : 1, sizeof(*must_nodes));
	if (!s.chosen || !s.node_rank || !must_nodes) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t m = 0; m < n_must && count < size; m++) {
		bool dup = false;

		for (size_t k = 0; k < count && !dup; k++)
			dup = strcmp(out[k], must[m]) == 0;
		if (dup)
			continue;
		out[count++] = must[m];
		for (size_t i = 0; i < n; i++) {
			size_t k;

			if (s.chosen[i] || strcmp(c[i].id, must[m]) != 0)
				continue;
			s.chosen[i] = true;
			for (k = 0; k < n_must_nodes && must_nodes[k] != c[i].numa; k++)
				;
			if (k == n_must_nodes)
				must_nodes[n_must_nodes++] = c[i].numa;
		}
	}
	if (count < size)
		rank_nodes(&s, must_nodes, n_must_nodes, size - count);
	while (count < size) {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < n; i++) {
			bool dup = false;

			if (s.chosen[i])
				continue;
			/* The kubelet lists each id once; tolerate repeats anyway. */
			for (size_t k = 0; k < count && !dup; k++)
				dup = strcmp(out[k], c[i].id) == 0;
			if (dup) {
				s.chosen[i] = true;
				continue;
			}
			if (best == SIZE_MAX || better(&s, i, best, size - count))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		s.chosen[best] = true;
		out[count++] = c[best].id;
	}
	r = (long)count;
out:
	free(s.chosen);
	free(s.node_rank);
	free(must_nodes);
	return r;
}
