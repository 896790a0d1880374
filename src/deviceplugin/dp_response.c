/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a plugin answers for one container (deviceplugin.h): the parts of a
 * ContainerAllocateResponse, the preferred ids of GetPreferredAllocation, an error message.
 * dp_proto.c turns it into protobuf.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin.h"

/* Grow @*items (of @size-byte elements, @count used) by one element. */
static int grow(void **items, size_t count, size_t size)
{
	void *p;

	/* Power-of-two capacities: reallocate when @count reaches one. */
	if (count != 0 && (count & (count - 1)) != 0)
		return 0;
	p = realloc(*items, (count ? count * 2 : 4) * size);
	if (!p)
		return -ENOMEM;
	*items = p;
	return 0;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

/*
 * The strings @a, @b, @c (NULL: none) in one allocation, one after the other, each with its NUL;
 * the copies are stored at @out[0..]. An Allocate answer is a handful of short strings per device:
 * one malloc() and one free() each instead of one per string. Free @out[0] only.
 */
static int pack_strings(const char *a, const char *b, const char *c, char **out)
{
	const char *in[] = {a, b, c};
	size_t len[3] = {0}, total = 0;
	char *p;

	for (size_t i = 0; i < 3 && in[i]; i++)
		total += (len[i] = strlen(in[i]) + 1);
	if (!(p = malloc(total)))
		return -ENOMEM;
	for (size_t i = 0; i < 3 && in[i]; i++) {
		memcpy(p, in[i], len[i]);
		out[i] = p;
		p += len[i];
	}
	return 0;
}

hostdev_dp_response *dp_response_new(void)
{
	return calloc(1, sizeof(struct hostdev_dp_response));
}

/* A key and its value share one allocation (pack_strings()). */
static void kv_clear(struct dp_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(kv[i].key);
	free(kv);
}

void dp_response_free(hostdev_dp_response *resp)
{
	if (!resp)
		return;
	kv_clear(resp->envs, resp->n_envs);
	kv_clear(resp->annotations, resp->n_annotations);
	/* The three strings of a device share one allocation (pack_strings()). */
	for (size_t i = 0; i < resp->n_devices; i++)
		free(resp->devices[i].container_path);
	free(resp->devices);
	for (size_t i = 0; i < resp->n_mounts; i++) {
		free(resp->mounts[i].container_path);
		free(resp->mounts[i].host_path);
	}
	free(resp->mounts);
	strv_clear(&resp->cdi_devices);
	strv_clear(&resp->ids);
	dp_strmap_clear(&resp->id_index);
	free(resp->error);
	free(resp);
}

/* Set @key in a map: replace the value of an existing key, else append. */
static int kv_set(struct dp_kv **kv, size_t *n, const char *key, const char *value)
{
	char *copy[2];

	if (pack_strings(key, value, NULL, copy) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*kv)[i].key, key) == 0) {
			free((*kv)[i].key);
			(*kv)[i] = (struct dp_kv){copy[0], copy[1]};
			return 0;
		}
	}
	if (grow((void **)kv, *n, sizeof(**kv)) < 0) {
		free(copy[0]);
		return -ENOMEM;
	}
	(*kv)[(*n)++] = (struct dp_kv){copy[0], copy[1]};
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_response_set_env(hostdev_dp_response *resp, const char *name,
					       const char *value)
{
	if (!resp || empty(name) || empty(value) || strchr(name, '='))
		return -EINVAL;
	return kv_set(&resp->envs, &resp->n_envs, name, value);
}

HOSTDEV_EXPORT int hostdev_dp_response_set_annotation(hostdev_dp_response *resp, const char *key,
						      const char *value)
{
	if (!resp || empty(key) || empty(value))
		return -EINVAL;
	return kv_set(&resp->annotations, &resp->n_annotations, key, value);
}

HOSTDEV_EXPORT int hostdev_dp_response_add_device(hostdev_dp_response *resp,
						  const char *container_path, const char *host_path,
						  const char *permissions)
{
	char *copy[3];

	if (!resp || empty(container_path) || empty(host_path) || empty(permissions) ||
	    strspn(permissions, "rwm") != strlen(permissions))
		return -EINVAL;
	if (pack_strings(container_path, host_path, permissions, copy) < 0)
		return -ENOMEM;
	if (grow((void **)&resp->devices, resp->n_devices, sizeof(*resp->devices)) < 0) {
		free(copy[0]);
		return -ENOMEM;
	}
	resp->devices[resp->n_devices++] = (struct dp_device_spec){copy[0], copy[1], copy[2]};
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_response_add_mount(hostdev_dp_response *resp,
						 const char *container_path, const char *host_path,
						 int read_only)
{
	struct dp_mount mount;

	if (!resp || empty(container_path) || empty(host_path))
		return -EINVAL;
	mount = (struct dp_mount){strdup(container_path), strdup(host_path), read_only != 0};
	if (!mount.container_path || !mount.host_path ||
	    grow((void **)&resp->mounts, resp->n_mounts, sizeof(*resp->mounts)) < 0) {
		free(mount.container_path);
		free(mount.host_path);
		return -ENOMEM;
	}
	resp->mounts[resp->n_mounts++] = mount;
	return 0;
}

HOSTDEV_EXPORT int hostdev_dp_response_add_cdi_device(hostdev_dp_response *resp, const char *name)
{
	if (!resp || empty(name))
		return -EINVAL;
	return strv_push(&resp->cdi_devices, name);
}

HOSTDEV_EXPORT int hostdev_dp_response_add_id(hostdev_dp_response *resp, const char *id)
{
	int r;

	if (!resp || empty(id))
		return -EINVAL;
	/* A map, not a scan of the list: a plugin may add thousands of ids. */
	if (dp_strmap_find(&resp->id_index, id) >= 0)
		return 0;
	r = strv_push(&resp->ids, id);
	if (r < 0)
		return r;
	r = dp_strmap_add(&resp->id_index, resp->ids.items[resp->ids.count - 1], 0, NULL);
	if (r < 0) {
		free(resp->ids.items[--resp->ids.count]);
		resp->ids.items[resp->ids.count] = NULL;
	}
	return r;
}

HOSTDEV_EXPORT int hostdev_dp_response_set_error(hostdev_dp_response *resp, const char *message)
{
	char *copy;

	if (!resp || empty(message))
		return -EINVAL;
	copy = strdup(message);
	if (!copy)
		return -ENOMEM;
	free(resp->error);
	resp->error = copy;
	return 0;
}
