/* SPDX-License-Identifier: Apache-2.0 */
/* Growable arrays of owned strings, used for module lists, group members, netdevs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int strv_push_take(struct strv *v, char *s)
{
	if (!s)
		return -ENOMEM;
	/* Keep one spare slot so that items stays NULL-terminated. */
	if (v->count + 1 >= v->capacity) {
		size_t cap = v->capacity ? v->capacity * 2 : 8;
		char **items = realloc(v->items, cap * sizeof(*items));

		if (!items) {
			free(s);
			return -ENOMEM;
		}
		v->items = items;
		v->capacity = cap;
	}
	v->items[v->count++] = s;
	v->items[v->count] = NULL;
	return 0;
}

int strv_push(struct strv *v, const char *s)
{
	return strv_push_take(v, strdup(s));
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(struct strv *v)
{
	if (v->count > 1)
		qsort(v->items, v->count, sizeof(*v->items), compare_strings);
}

void strv_clear(struct strv *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->count = v->capacity = 0;
}

bool strv_contains(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}
