/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map from strings to indexes and growable arrays (dp_strmap.c). The map uses open addressing
 * over borrowed keys, so that checks
 * of device ids against the advertised list, of the ids of a request against each other and of
 * the keys of a JSON object cost linear time, not the quadratic time of comparing every pair.
 * Peers choose the ids of a request: the hash is seeded per process, so that nobody can prepare
 * ids that all land in one slot. Never installed.
 */
#ifndef HOSTDEV_DP_STRMAP_H
#define HOSTDEV_DP_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct dp_strmap_slot {
	const char *key; /* NULL: free */
	size_t value;
};

struct dp_strmap {
	struct dp_strmap_slot *slots;
	size_t mask; /* capacity - 1 (capacity a power of two), 0 while empty */
	size_t count;
};

/* An empty map (zero-initialising one is the same). */
void dp_strmap_init(struct dp_strmap *m);
/* Free the slots (not the keys: they are borrowed). The map is empty again. */
void dp_strmap_clear(struct dp_strmap *m);
/*
 * Map @key (borrowed: it must stay valid and unchanged while the map holds it) to @value.
 * Returns 0; -EEXIST when @key is there already (its value in *@existing when not NULL; the map is
 * unchanged); -ENOMEM.
 */
int dp_strmap_add(struct dp_strmap *m, const char *key, size_t value, size_t *existing);
/* The value of @key, or -1 when it is not in the map. */
ptrdiff_t dp_strmap_find(const struct dp_strmap *m, const char *key);

/*
 * Room for item @n of a growable array of @size-byte items that holds @n: returns @items or a
 * larger copy, NULL without memory (@items is then unchanged and still owned by the caller). The
 * capacity follows from @n (8, then doubling at every power of two), so that the array needs no
 * capacity field and n appends cost linear time (growing by one item copies it every time).
 */
void *dp_array_grow(void *items, size_t n, size_t size);

#endif /* HOSTDEV_DP_STRMAP_H */
