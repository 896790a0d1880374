/* SPDX-License-Identifier: Apache-2.0 */
/* Lists of advertised devices (deviceplugin.h): id, health, NUMA node. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * The kubelet does not check device ids, but it writes them to its checkpoint, logs and
 * annotations, and KubeVirt copies them into environment variables. hostdev_naming_device_id()
 * makes ids of [A-Za-z0-9._-]; ':' is also allowed because PCI addresses are the ids of vfio PCI
 * resources (what KubeVirt's own plugin and every SR-IOV plugin advertise).
 */
int dp_device_id_check(const char *id)
{
	size_t len;

	if (!id)
		return -EINVAL;
	len = strlen(id);
	if (len == 0 || len > 63 || !is_alnum(id[0]) || !is_alnum(id[len - 1]))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(id[i]) && !strchr("._:-", id[i]))
			return -EINVAL;
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_devices_new(hostdev_dp_devices **out)
{
	hostdev_dp_devices *devices;

	if (!out)
		return -EINVAL;
	devices = calloc(1, sizeof(*devices));
	if (!devices)
		return -ENOMEM;
	devices->refcount = 1;
	*out = devices;
	return 0;
}

/* The name of HOSTDEV_1, kept: the ABI is add-only. */
HOSTDEV_EXPORT hostdev_dp_devices *hostdev_dp_devices_free(hostdev_dp_devices *devices)
{
	return hostdev_dp_devices_unref(devices);
}

/* What _unref() does when the last reference goes. */
static void dp_devices_destroy(hostdev_dp_devices *devices)
{
	for (size_t i = 0; i < devices->n_id_blocks; i++)
		free(devices->id_blocks[i]);
	free(devices->id_blocks);
	free(devices->items);
	dp_index_clear(&devices->index);
	free(devices);
}

HOSTDEV_DEFINE_ATOMIC_REF_UNREF(hostdev_dp_devices, dp_devices_destroy)

static const char *id_of(const void *devices, size_t i)
{
	return ((const hostdev_dp_devices *)devices)->items[i].id;
}

ptrdiff_t dp_devices_find(const hostdev_dp_devices *devices, const char *id)
{
	if (!devices || !id)
		return -1;
	return dp_index_find(&devices->index, id_of, devices, id);
}

/* Room for an id of @len bytes (NUL included) at the end of the last block, or in a new one.
 * Not yet counted as used. NULL without memory. */
static char *id_room(hostdev_dp_devices *devices, size_t len)
{
	char **blocks, *block;

	if (devices->n_id_blocks && devices->block_used + len <= DP_ID_BLOCK)
		return devices->id_blocks[devices->n_id_blocks - 1] + devices->block_used;
	blocks = realloc(devices->id_blocks, (devices->n_id_blocks + 1) * sizeof(*blocks));
	if (!blocks)
		return NULL;
	devices->id_blocks = blocks;
	block = malloc(DP_ID_BLOCK);
	if (!block)
		return NULL;
	blocks[devices->n_id_blocks++] = block;
	devices->block_used = 0;
	return block;
}

HOSTDEV_EXPORT int hostdev_dp_devices_add(hostdev_dp_devices *devices, const char *id, int healthy,
					  int numa_node)
{
	size_t len;
	char *copy;
	int r;

	if (!devices || dp_device_id_check(id) < 0)
		return -EINVAL;
	if (dp_devices_find(devices, id) >= 0)
		return -EEXIST;
	if (devices->count == devices->capacity) {
		size_t cap = devices->capacity ? devices->capacity * 2 : 16;
		struct dp_device *items = realloc(devices->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		devices->items = items;
		devices->capacity = cap;
	}
	len = strlen(id) + 1; /* at most 64: dp_device_id_check() */
	copy = id_room(devices, len);
	if (!copy)
		return -ENOMEM;
	/* In the arrays before the index reads it there; counted only once indexed (a failure
	 * leaves the list as it was: the room is taken again by the next id). */
	memcpy(copy, id, len);
	devices->items[devices->count] = (struct dp_device){
	    .id = copy,
	    .healthy = healthy != 0,
	    .numa_node = numa_node < 0 ? -1 : numa_node,
	};
	r = dp_index_add(&devices->index, id_of, devices, devices->count, NULL);
	if (r < 0)
		return r;
	devices->block_used += len;
	devices->count++;
	return 0;
}

void dp_devices_trim(hostdev_dp_devices *devices)
{
	/* A failed shrink keeps the larger array: nothing is lost but the memory. The id blocks
	 * stay as they are: they must not move, and the last one's slack is under a block. */
	if (devices->count && devices->count < devices->capacity) {
		struct dp_device *items = realloc(devices->items, devices->count * sizeof(*items));

		if (items) {
			devices->items = items;
			devices->capacity = devices->count;
		}
	}
}

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_dp_devices, get_count, count, 0)

HOSTDEV_EXPORT const char *hostdev_dp_devices_get_id(const hostdev_dp_devices *devices, size_t i)
{
	return devices && i < devices->count ? devices->items[i].id : NULL;
}

HOSTDEV_EXPORT int hostdev_dp_devices_is_healthy(const hostdev_dp_devices *devices, size_t i)
{
	return devices && i < devices->count ? devices->items[i].healthy : -1;
}

HOSTDEV_EXPORT int hostdev_dp_devices_get_numa_node(const hostdev_dp_devices *devices, size_t i)
{
	return devices && i < devices->count ? devices->items[i].numa_node : -1;
}

hostdev_dp_devices *dp_devices_copy(const hostdev_dp_devices *devices)
{
	hostdev_dp_devices *copy;

	if (hostdev_dp_devices_new(&copy) < 0)
		return NULL;
	for (size_t i = 0; devices && i < devices->count; i++) {
		const struct dp_device *d = &devices->items[i];

		if (hostdev_dp_devices_add(copy, d->id, d->healthy, d->numa_node) < 0)
			return hostdev_dp_devices_unref(copy);
	}
	return copy;
}

bool dp_devices_equal(const hostdev_dp_devices *a, const hostdev_dp_devices *b)
{
	size_t na = a ? a->count : 0, nb = b ? b->count : 0;

	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		const struct dp_device *x = &a->items[i], *y = &b->items[i];

		if (strcmp(x->id, y->id) != 0 || x->healthy != y->healthy ||
		    x->numa_node != y->numa_node)
			return false;
	}
	return true;
}
