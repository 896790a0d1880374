/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The preferred allocation policy (dp_prefer.h, prefer_select()): a pure function of the
 * candidates, so that every rule is tested on its own (tests/resources/test_prefer.c).
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
 * Counts per IOMMU group, PF and bucket make each comparison constant time: choosing k devices
 * among n candidates costs O(k * n), plus O(n) to index them (GetPreferredAllocation may carry
 * thousands of ids).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_prefer.h"

/* Keys of a candidate for the counts below: small indexes, -1 for none. */
struct keys {
	int group;  /* its IOMMU group */
	int pf;	    /* its PF (parent), candidates with a bucket only */
	int bucket; /* its PF, or without one its IOMMU group: what bucket_rank() sizes */
};

/*
 * The greedy choice keeps, per group, PF and bucket, how many candidates are chosen and how many
 * are not, so that comparing two candidates costs constant time: a choice among n candidates
 * costs O(n), not O(n * n) (GetPreferredAllocation of thousands of ids).
 */
struct state {
	const struct prefer_candidate *c;
	size_t n;
	bool *chosen;
	int *node_rank; /* per candidate */
	struct keys *keys;
	size_t *group_chosen, *group_unchosen;
	size_t *pf_chosen;
	size_t *bucket_unchosen;
};

/* Number the distinct values of @n strings (NULL: -1). */
static int number_strings(const char *const *strings, size_t n, int *out)
{
	struct dp_strmap seen;
	int next = 0, r = 0;

	dp_strmap_init(&seen);
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t first;

		out[i] = -1;
		if (!strings[i])
			continue;
		r = dp_strmap_add(&seen, strings[i], (size_t)next, &first);
		if (r == -EEXIST) {
			out[i] = (int)first;
			r = 0;
		} else if (r == 0) {
			out[i] = next++;
		}
	}
	dp_strmap_clear(&seen);
	return r;
}

/* The keys of every candidate and the counts with nothing chosen. */
static int index_candidates(struct state *s)
{
	const char **strings = calloc(s->n ? s->n : 1, sizeof(*strings));
	char(*text)[32] = calloc(s->n ? s->n : 1, sizeof(*text));
	int *numbers = calloc(s->n ? s->n : 1, sizeof(*numbers));
	size_t n = s->n ? s->n : 1;
	int r = -ENOMEM;

	s->keys = calloc(n, sizeof(*s->keys));
	s->group_chosen = calloc(n, sizeof(size_t));
	s->group_unchosen = calloc(n, sizeof(size_t));
	s->pf_chosen = calloc(n, sizeof(size_t));
	s->bucket_unchosen = calloc(n, sizeof(size_t));
	if (!strings || !text || !numbers || !s->keys || !s->group_chosen || !s->group_unchosen ||
	    !s->pf_chosen || !s->bucket_unchosen)
		goto out;
	/* Groups. */
	for (size_t i = 0; i < s->n; i++) {
		snprintf(text[i], sizeof(text[i]), "%d", s->c[i].group);
		strings[i] = s->c[i].group >= 0 ? text[i] : NULL;
	}
	if ((r = number_strings(strings, s->n, numbers)) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++)
		s->keys[i].group = numbers[i];
	/* PFs. */
	for (size_t i = 0; i < s->n; i++)
		strings[i] = s->c[i].bucket;
	if ((r = number_strings(strings, s->n, numbers)) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++)
		s->keys[i].pf = numbers[i];
	/* Buckets (same_bucket()): the PF, else the group; a group number and a PF address never
	 * meet, so the group's key gets a prefix no address has. */
	for (size_t i = 0; i < s->n; i++) {
		if (s->c[i].bucket) {
			strings[i] = s->c[i].bucket;
			continue;
		}
		snprintf(text[i], sizeof(text[i]), "group %d", s->c[i].group);
		strings[i] = s->c[i].group >= 0 ? text[i] : NULL;
	}
	if ((r = number_strings(strings, s->n, numbers)) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++) {
		s->keys[i].bucket = numbers[i];
		if (s->keys[i].group >= 0)
			s->group_unchosen[s->keys[i].group]++;
		if (s->keys[i].bucket >= 0)
			s->bucket_unchosen[s->keys[i].bucket]++;
	}
	r = 0;
out:
	free(strings);
	free(text);
	free(numbers);
	return r;
}

static void mark_chosen(struct state *s, size_t i)
{
	const struct keys *k = &s->keys[i];

	if (s->chosen[i])
		return;
	s->chosen[i] = true;
	if (k->group >= 0) {
		s->group_chosen[k->group]++;
		s->group_unchosen[k->group]--;
	}
	if (k->pf >= 0)
		s->pf_chosen[k->pf]++;
	if (k->bucket >= 0)
		s->bucket_unchosen[k->bucket]--;
}

/* Unchosen candidates in the IOMMU group of unchosen @i, itself included. */
static size_t group_left(const struct state *s, size_t i)
{
	return s->keys[i].group >= 0 ? s->group_unchosen[s->keys[i].group] : 1;
}

/* A chosen candidate is in the IOMMU group / on the PF of unchosen @i. */
static bool group_near(const struct state *s, size_t i)
{
	return s->keys[i].group >= 0 && s->group_chosen[s->keys[i].group] > 0;
}

static bool pf_near(const struct state *s, size_t i)
{
	return s->keys[i].pf >= 0 && s->pf_chosen[s->keys[i].pf] > 0;
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
	size_t size = s->keys[i].bucket >= 0 ? s->bucket_unchosen[s->keys[i].bucket] : 1;

	return size >= need ? size : (size_t)INT_MAX + (s->n - size);
}

/* Is @a a better next choice than @b? */
static bool better(const struct state *s, size_t a, size_t b, size_t need)
{
	long ka[5], kb[5];

	ka[0] = !group_near(s, a);
	kb[0] = !group_near(s, b);
	ka[1] = s->node_rank[a];
	kb[1] = s->node_rank[b];
	ka[2] = !pf_near(s, a);
	kb[2] = !pf_near(s, b);
	ka[3] = group_left(s, a) > need;
	kb[3] = group_left(s, b) > need;
	ka[4] = (long)bucket_rank(s, a, need);
	kb[4] = (long)bucket_rank(s, b, need);
	for (int k = 0; k < 5; k++)
		if (ka[k] != kb[k])
			return ka[k] < kb[k];
	return a < b;
}

static void state_free(struct state *s)
{
	free(s->chosen);
	free(s->node_rank);
	free(s->keys);
	free(s->group_chosen);
	free(s->group_unchosen);
	free(s->pf_chosen);
	free(s->bucket_unchosen);
}

long prefer_select(const struct prefer_candidate *c, size_t n, const char *const *must,
		   size_t n_must, size_t size, const char **out)
{
	struct state s = {.c = c, .n = n};
	struct dp_strmap ids, taken;
	size_t *next_same = NULL, *tail = NULL;
	int *must_nodes = NULL;
	size_t n_must_nodes = 0, count = 0;
	long r = -ENOMEM;

	dp_strmap_init(&ids);
	dp_strmap_init(&taken);
	s.chosen = calloc(n ? n : 1, sizeof(*s.chosen));
	s.node_rank = calloc(n ? n : 1, sizeof(*s.node_rank));
	must_nodes = calloc(n_must ? n_must : 1, sizeof(*must_nodes));
	next_same = calloc(n ? n : 1, sizeof(*next_same));
	tail = calloc(n ? n : 1, sizeof(*tail));
	if (!s.chosen || !s.node_rank || !must_nodes || !next_same || !tail ||
	    index_candidates(&s) < 0)
		goto out;
	/* Candidates by id: the first in the map, the others (the kubelet lists each id once, but
	 * repeats are tolerated) chained behind it in order. */
	for (size_t i = 0; i < n; i++) {
		size_t first;
		int e = dp_strmap_add(&ids, c[i].id, i, &first);

		next_same[i] = SIZE_MAX;
		tail[i] = i;
		if (e == -EEXIST) {
			next_same[tail[first]] = i;
			tail[first] = i;
		} else if (e < 0) {
			goto out;
		}
	}
	for (size_t m = 0; m < n_must && count < size; m++) {
		ptrdiff_t i;
		int e = dp_strmap_add(&taken, must[m], 0, NULL);

		if (e == -EEXIST)
			continue;
		if (e < 0)
			goto out;
		out[count++] = must[m];
		for (i = dp_strmap_find(&ids, must[m]); i >= 0;
		     i = next_same[i] == SIZE_MAX ? -1 : (ptrdiff_t)next_same[i]) {
			size_t k;

			if (s.chosen[i])
				continue;
			mark_chosen(&s, (size_t)i);
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
			if (s.chosen[i])
				continue;
			/* The kubelet lists each id once; tolerate repeats anyway. */
			if (dp_strmap_find(&taken, c[i].id) >= 0) {
				mark_chosen(&s, i);
				continue;
			}
			if (best == SIZE_MAX || better(&s, i, best, size - count))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		mark_chosen(&s, best);
		if (dp_strmap_add(&taken, c[best].id, 0, NULL) < 0)
			goto out;
		out[count++] = c[best].id;
	}
	r = (long)count;
out:
	state_free(&s);
	free(must_nodes);
	free(next_same);
	free(tail);
	dp_strmap_clear(&ids);
	dp_strmap_clear(&taken);
	return r;
}
