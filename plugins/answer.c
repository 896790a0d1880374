/* SPDX-License-Identifier: Apache-2.0 */
/* What a built-in plugin answers for one container (plugin.h), before plugin_ops.c copies it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/*
 * An answer is a handful of short strings per device, made and freed on every Allocate: the
 * strings of one entry share one allocation (a name and its value; a device's paths and
 * permissions), freed through the first, and the arrays grow to powers of two.
 */

/* Make room for one more of @count elements of @size bytes in @*items. */
static int grow(void **items, size_t count, size_t size)
{
	void *p;

	if (count != 0 && (count & (count - 1)) != 0)
		return 0;
	p = realloc(*items, (count ? count * 2 : 4) * size);
	if (!p)
		return -ENOMEM;
	*items = p;
	return 0;
}

int answer_set_env(struct plugin_answer *a, const char *name, const char *value)
{
	size_t n_len = strlen(name) + 1, v_len = strlen(value) + 1;
	char *block = malloc(n_len + v_len);
	struct plugin_env env;

	if (!block)
		return -ENOMEM;
	memcpy(block, name, n_len);
	memcpy(block + n_len, value, v_len);
	env = (struct plugin_env){block, block + n_len};
	for (size_t i = 0; i < a->n_envs; i++) {
		if (strcmp(a->envs[i].name, name) == 0) {
			free(a->envs[i].name);
			a->envs[i] = env;
			return 0;
		}
	}
	if (grow((void **)&a->envs, a->n_envs, sizeof(*a->envs)) < 0) {
		free(block);
		return -ENOMEM;
	}
	a->envs[a->n_envs++] = env;
	return 0;
}

const char *answer_get_env(const struct plugin_answer *a, const char *name)
{
	for (size_t i = 0; i < a->n_envs; i++)
		if (strcmp(a->envs[i].name, name) == 0)
			return a->envs[i].value;
	return NULL;
}

int answer_add_device(struct plugin_answer *a, const char *path)
{
	static const char permissions[] = "mrw";
	size_t len = strlen(path) + 1;
	char *block;

	for (size_t i = 0; i < a->n_devices; i++)
		if (strcmp(a->devices[i].host_path, path) == 0)
			return 0;
	if (grow((void **)&a->devices, a->n_devices, sizeof(*a->devices)) < 0 ||
	    !(block = malloc(len + sizeof(permissions))))
		return -ENOMEM;
	/* The container sees the host's path: one copy for both. */
	memcpy(block, path, len);
	memcpy(block + len, permissions, sizeof(permissions));
	a->devices[a->n_devices++] = (struct plugin_devspec){block, block, block + len};
	return 0;
}

int answer_add_id(struct plugin_answer *a, const char *id)
{
	for (size_t i = 0; i < a->n_ids; i++)
		if (strcmp(a->ids[i], id) == 0)
			return 0;
	if (grow((void **)&a->ids, a->n_ids, sizeof(*a->ids)) < 0)
		return -ENOMEM;
	if (!(a->ids[a->n_ids] = strdup(id)))
		return -ENOMEM;
	a->n_ids++;
	return 0;
}

int answer_fail(struct plugin_answer *a, int err, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	free(a->error);
	a->error = msg;
	return err;
}

void answer_clear(struct plugin_answer *a)
{
	for (size_t i = 0; i < a->n_envs; i++)
		free(a->envs[i].name); /* and its value */
	free(a->envs);
	for (size_t i = 0; i < a->n_devices; i++)
		free(a->devices[i].container_path); /* and the rest */
	free(a->devices);
	for (size_t i = 0; i < a->n_ids; i++)
		free(a->ids[i]);
	free(a->ids);
	free(a->error);
	memset(a, 0, sizeof(*a));
}
