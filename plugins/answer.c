/* SPDX-License-Identifier: Apache-2.0 */
/* What a built-in plugin answers for one container (plugin.h), before plugin_ops.c copies it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

int answer_set_env(struct plugin_answer *a, const char *name, const char *value)
{
	struct plugin_env *grown;
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_envs; i++) {
		if (strcmp(a->envs[i].name, name) == 0) {
			free(a->envs[i].value);
			a->envs[i].value = v;
			return 0;
		}
	}
	grown = realloc(a->envs, (a->n_envs + 1) * sizeof(*grown));
	if (!grown) {
		free(v);
		return -ENOMEM;
	}
	a->envs = grown;
	a->envs[a->n_envs].value = v;
	if (!(a->envs[a->n_envs].name = strdup(name))) {
		free(v);
		return -ENOMEM;
	}
	a->n_envs++;
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
	struct plugin_devspec *grown, *d;

	for (size_t i = 0; i < a->n_devices; i++)
		if (strcmp(a->devices[i].host_path, path) == 0)
			return 0;
	grown = realloc(a->devices, (a->n_devices + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	a->devices = grown;
	d = &a->devices[a->n_devices];
	d->container_path = strdup(path);
	d->host_path = strdup(path);
	d->permissions = strdup("mrw");
	if (!d->container_path || !d->host_path || !d->permissions) {
		free(d->container_path);
		free(d->host_path);
		free(d->permissions);
		return -ENOMEM;
	}
	a->n_devices++;
	return 0;
}

int answer_add_id(struct plugin_answer *a, const char *id)
{
	char **grown;

	for (size_t i = 0; i < a->n_ids; i++)
		if (strcmp(a->ids[i], id) == 0)
			return 0;
	grown = realloc(a->ids, (a->n_ids + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	a->ids = grown;
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
	for (size_t i = 0; i < a->n_envs; i++) {
		free(a->envs[i].name);
		free(a->envs[i].value);
	}
	free(a->envs);
	for (size_t i = 0; i < a->n_devices; i++) {
		free(a->devices[i].container_path);
		free(a->devices[i].host_path);
		free(a->devices[i].permissions);
	}
	free(a->devices);
	for (size_t i = 0; i < a->n_ids; i++)
		free(a->ids[i]);
	free(a->ids);
	free(a->error);
	memset(a, 0, sizeof(*a));
}
