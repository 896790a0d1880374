/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The preferred allocation policy (src/resources/dp_prefer.c) as a pure function: must-include ids
 * first, one NUMA node, IOMMU-group siblings together, VFs of one PF together, the smallest PF that
 * fits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resources/dp_prefer.h"

#define MAXC 32

/* Run the policy and compare the chosen ids, joined by ',', with @want. */
static void expect(const struct prefer_candidate *c, size_t n, const char *const *must,
		   size_t n_must, size_t size, const char *want)
{
	const char *out[MAXC];
	char got[1024] = "";
	long k = prefer_select(c, n, must, n_must, size, out);

	assert_true(k >= 0);
	assert_true((size_t)k <= size);
	for (long i = 0; i < k; i++) {
		if (i)
			strcat(got, ",");
		strcat(got, out[i]);
	}
	if (strcmp(got, want) != 0)
		fail_msg("size %zu: got %s, want %s", size, got, want);
}

#define CAND(id, numa, group, bucket)                                                              \
	{                                                                                          \
		id, numa, group, bucket                                                            \
	}

static void test_must_include(void **state)
{
	static const struct prefer_candidate c[] = {CAND("a", 0, 1, NULL), CAND("b", 0, 2, NULL),
						    CAND("c", 0, 3, NULL)};
	static const char *const must[] = {"c", "x", "c"};

	(void)state;
	/* First, in the kubelet's order, each once, also an id that is not a candidate. */
	expect(c, 3, must, 3, 3, "c,x,a");
	expect(c, 3, must, 3, 2, "c,x");
	expect(c, 3, must, 3, 1, "c");
	expect(c, 3, NULL, 0, 0, "");
	/* Fewer candidates than asked for: all of them. */
	expect(c, 3, NULL, 0, 5, "a,b,c");
	expect(NULL, 0, NULL, 0, 2, "");
}

static void test_numa(void **state)
{
	static const struct prefer_candidate c[] = {
	    CAND("n0a", 0, 10, NULL), CAND("n1a", 1, 11, NULL), CAND("n0b", 0, 12, NULL),
	    CAND("n1b", 1, 13, NULL), CAND("n1c", 1, 14, NULL),
	};
	static const char *const must0[] = {"n0b"};
	static const char *const must_both[] = {"n0a", "n1a"};

	(void)state;
	/* The node with the most devices among those that can supply the request. */
	expect(c, 5, NULL, 0, 1, "n1a");
	expect(c, 5, NULL, 0, 2, "n1a,n1b");
	expect(c, 5, NULL, 0, 3, "n1a,n1b,n1c");
	/* No node can: the biggest first, then the next. */
	expect(c, 5, NULL, 0, 4, "n1a,n1b,n1c,n0a");
	/* The must-include device's node when it can supply the rest... */
	expect(c, 5, must0, 1, 2, "n0b,n0a");
	/* ...else the best node for the rest. */
	expect(c, 5, must0, 1, 3, "n0b,n1a,n1b");
	/* Must-include devices on two nodes: the best node for the rest. */
	expect(c, 5, must_both, 2, 3, "n0a,n1a,n1b");
}

static void test_numa_none_and_ties(void **state)
{
	static const struct prefer_candidate none[] = {CAND("a", -1, -1, NULL),
						       CAND("b", -1, -1, NULL)};
	static const struct prefer_candidate ties[] = {
	    CAND("n1a", 1, -1, NULL), CAND("n0a", 0, -1, NULL), CAND("n1b", 1, -1, NULL),
	    CAND("n0b", 0, -1, NULL), CAND("nx", -1, -1, NULL),
	};

	(void)state;
	/* No NUMA information: the kubelet's order. */
	expect(none, 2, NULL, 0, 2, "a,b");
	/* Equal nodes: the lower node number; "no node" is a node of its own. */
	expect(ties, 5, NULL, 0, 2, "n0a,n0b");
	expect(ties, 5, NULL, 0, 1, "n0a");
	expect(ties, 5, NULL, 0, 4, "n0a,n0b,n1a,n1b");
}

static void test_iommu_groups(void **state)
{
	static const struct prefer_candidate c[] = {
	    CAND("g5a", 0, 5, NULL),
	    CAND("g6", 0, 6, NULL),
	    CAND("g5b", 0, 5, NULL),
	    CAND("g7", 0, 7, NULL),
	};
	static const char *const must[] = {"g5b"};

	(void)state;
	/* Whole groups: two devices from group 5 rather than two groups. */
	expect(c, 4, NULL, 0, 2, "g5a,g5b");
	/* One device: a single-device group, keeping group 5 whole. */
	expect(c, 4, NULL, 0, 1, "g6");
	expect(c, 4, NULL, 0, 3, "g5a,g5b,g6");
	/* The siblings of a must-include device come next. */
	expect(c, 4, must, 1, 2, "g5b,g5a");
	expect(c, 4, must, 1, 3, "g5b,g5a,g6");
}

static void test_same_pf(void **state)
{
	static const struct prefer_candidate c[] = {
	    CAND("a0", 0, 20, "pfA"), CAND("b0", 0, 30, "pfB"), CAND("a1", 0, 21, "pfA"),
	    CAND("b1", 0, 31, "pfB"), CAND("a2", 0, 22, "pfA"),
	};
	static const char *const must_b1[] = {"b1"};
	static const char *const must_a2[] = {"a2"};

	(void)state;
	/* The smallest PF that can supply the request, its VFs together. */
	expect(c, 5, NULL, 0, 1, "b0");
	expect(c, 5, NULL, 0, 2, "b0,b1");
	expect(c, 5, NULL, 0, 3, "a0,a1,a2");
	/* None can: the largest, then the next. */
	expect(c, 5, NULL, 0, 4, "a0,a1,a2,b0");
	/* The must-include VF's PF first. */
	expect(c, 5, must_b1, 1, 2, "b1,b0");
	expect(c, 5, must_a2, 1, 2, "a2,a0");
	expect(c, 5, must_a2, 1, 4, "a2,a0,a1,b0");
}

static void test_numa_before_pf(void **state)
{
	static const struct prefer_candidate c[] = {
	    CAND("a0", 0, 20, "pfA"), CAND("a1", 0, 21, "pfA"), CAND("a2", 0, 22, "pfA"),
	    CAND("s1", 1, 40, NULL),  CAND("b0", 1, 30, "pfB"), CAND("s2", 1, 41, NULL),
	    CAND("b1", 1, 31, "pfB"),
	};

	(void)state;
	/* Node 1 has the most (4): its PF B fits two exactly. */
	expect(c, 7, NULL, 0, 2, "b0,b1");
	/* Three on node 1: PF B, then a device of no PF there (not PF A on node 0). */
	expect(c, 7, NULL, 0, 3, "b0,b1,s1");
}

static void test_groups_beat_pf(void **state)
{
	/* VFs whose IOMMU group holds two of them (no ACS): the group stays whole. */
	static const struct prefer_candidate c[] = {
	    CAND("a0", 0, 50, "pfA"),
	    CAND("a1", 0, 51, "pfA"),
	    CAND("a2", 0, 51, "pfA"),
	};
	static const char *const must[] = {"a1"};

	(void)state;
	expect(c, 3, NULL, 0, 1, "a0");
	expect(c, 3, must, 1, 2, "a1,a2");
}

static void test_duplicates_in_available(void **state)
{
	static const struct prefer_candidate c[] = {CAND("a", 0, 1, NULL), CAND("a", 0, 1, NULL),
						    CAND("b", 0, 2, NULL)};

	(void)state;
	expect(c, 3, NULL, 0, 3, "a,b");
}

static void test_large(void **state)
{
	/* 256 VFs on 8 PFs over 2 nodes: fast enough, and every chosen id distinct. */
	static struct prefer_candidate c[256];
	static char ids[256][16], pfs[8][8];
	const char *out[256];
	long k;

	(void)state;
	for (int i = 0; i < 8; i++)
		snprintf(pfs[i], sizeof(pfs[i]), "pf%d", i);
	for (int i = 0; i < 256; i++) {
		snprintf(ids[i], sizeof(ids[i]), "vf%03d", i);
		c[i] = (struct prefer_candidate){ids[i], i % 2, 1000 + i, pfs[i % 8]};
	}
	k = prefer_select(c, 256, NULL, 0, 256, out);
	assert_int_equal(k, 256);
	for (int i = 0; i < 256; i++)
		for (int j = i + 1; j < 256; j++)
			assert_string_not_equal(out[i], out[j]);
	/* 40: both nodes can (128 each), node 0 by number; no PF has 40, so the largest first
	 * (all 32: the first, pf0), then the smallest that fits the remaining 8 on node 0. */
	k = prefer_select(c, 256, NULL, 0, 40, out);
	assert_int_equal(k, 40);
	for (int i = 0; i < 32; i++)
		assert_string_equal(c[atoi(out[i] + 2)].bucket, "pf0");
	for (int i = 32; i < 40; i++) {
		assert_string_equal(c[atoi(out[i] + 2)].bucket, "pf2");
		assert_int_equal(c[atoi(out[i] + 2)].numa, 0);
	}
}

/*
 * Cost, counted: the policy compares ids with strcmp() (wrapped in this test, CMakeLists.txt).
 * Comparing every candidate with every other at each step made 8 * n * n calls for 8 devices
 * among n (GetPreferredAllocation of 30 000 ids blocked the loop for seconds); hashed keys make a
 * few per candidate.
 */
static unsigned long strcmp_calls;
int __real_strcmp(const char *a, const char *b);
__attribute__((visibility("default"))) int __wrap_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b)
{
	strcmp_calls++;
	return __real_strcmp(a, b);
}

static void test_cost(void **state)
{
	enum { N = 3000, PFS = 100, SIZE = 8 };
	static struct prefer_candidate c[N];
	static char ids[N][16], pfs[PFS][16];
	static const char *out[SIZE];
	static const char *const must[] = {"vf1234"};
	long k;

	(void)state;
	for (int p = 0; p < PFS; p++)
		snprintf(pfs[p], sizeof(pfs[p]), "pf%d", p);
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "vf%d", i);
		c[i] = (struct prefer_candidate)CAND(ids[i], i % 2, 1000 + i, pfs[i % PFS]);
	}
	strcmp_calls = 0;
	k = prefer_select(c, N, must, 1, SIZE, out);
	if (strcmp_calls > 20ul * N)
		fail_msg("%lu strcmp calls for %d candidates: not linear", strcmp_calls, N);
	/* And the answer: the must-include VF, then VFs of its PF (pf34) on its node. */
	assert_int_equal(k, SIZE);
	assert_string_equal(out[0], "vf1234");
	for (int i = 1; i < SIZE; i++) {
		int n = atoi(out[i] + 2);

		assert_int_equal(n % PFS, 34);
		assert_int_equal(n % 2, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_must_include),
	    cmocka_unit_test(test_numa),
	    cmocka_unit_test(test_numa_none_and_ties),
	    cmocka_unit_test(test_iommu_groups),
	    cmocka_unit_test(test_same_pf),
	    cmocka_unit_test(test_numa_before_pf),
	    cmocka_unit_test(test_groups_beat_pf),
	    cmocka_unit_test(test_duplicates_in_available),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
