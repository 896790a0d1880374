/* SPDX-License-Identifier: Apache-2.0 */
/* cJSON tree helpers shared by the JSON serialisers (core.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"

size_t json_utf8_sequence_length(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (s[0] == 0xed && s[1] >= 0xa0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (s[0] == 0xf4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

/*
 * sysfs attributes and USB strings are bytes, not text, and cJSON copies bytes as they are. JSON
 * must be UTF-8, so each byte that does not start a valid sequence becomes U+FFFD (cJSON escapes
 * control characters itself).
 */
cJSON *json_new_string(struct json_builder *b, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t bad = 0, len = 0, n;
	char *copy, *o;
	cJSON *item;

	if (!value)
		return cJSON_CreateNull();
	for (; p[len]; len += n) {
		n = json_utf8_sequence_length(p + len);
		if (n == 0) {
			bad++;
			n = 1;
		}
	}
	if (bad == 0)
		return cJSON_CreateString(value);
	/* Each bad byte grows into the 3-byte U+FFFD. */
	copy = malloc(len + 2 * bad + 1);
	if (!copy) {
		b->oom = true;
		return NULL;
	}
	o = copy;
	for (size_t i = 0; p[i];) {
		n = json_utf8_sequence_length(p + i);
		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, p + i, n);
		o += n;
		i += n;
	}
	*o = '\0';
	item = cJSON_CreateString(copy);
	free(copy);
	return item;
}

void json_attach(struct json_builder *b, cJSON *object, const char *key, cJSON *item)
{
	if (!item || !cJSON_AddItemToObject(object, key, item)) {
		cJSON_Delete(item);
		b->oom = true;
	}
}

void json_append(struct json_builder *b, cJSON *array, cJSON *item)
{
	if (!item || !cJSON_AddItemToArray(array, item)) {
		cJSON_Delete(item);
		b->oom = true;
	}
}

void json_add_string(struct json_builder *b, cJSON *object, const char *key, const char *value)
{
	json_attach(b, object, key, json_new_string(b, value));
}

void json_add_hex(struct json_builder *b, cJSON *object, const char *key, unsigned int value,
		  int digits)
{
	char text[16];
	unsigned int mask = digits >= 8 ? 0xffffffffu : (1u << (4 * digits)) - 1;

	snprintf(text, sizeof(text), "%0*x", digits, value & mask);
	json_add_string(b, object, key, text);
}

void json_add_int(struct json_builder *b, cJSON *object, const char *key, long long value)
{
	json_attach(b, object, key, cJSON_CreateNumber((double)value));
}

void json_add_int_or_null(struct json_builder *b, cJSON *object, const char *key, long long value,
			  long long none)
{
	json_attach(b, object, key,
		    value == none ? cJSON_CreateNull() : cJSON_CreateNumber((double)value));
}

void json_add_bool(struct json_builder *b, cJSON *object, const char *key, int value)
{
	json_attach(b, object, key, cJSON_CreateBool(value != 0));
}

cJSON *json_add_container(struct json_builder *b, cJSON *object, const char *key, bool array)
{
	cJSON *item = array ? cJSON_CreateArray() : cJSON_CreateObject();

	json_attach(b, object, key, item);
	return b->oom ? NULL : item;
}

int json_print_and_delete(cJSON *root, bool pretty, char **out)
{
	char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root), *copy;

	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	/*
	 * cJSON allocates through process-wide hooks that the application may have replaced; the
	 * caller releases our result with hostdev_free() (free()), so hand out a malloc'ed copy.
	 */
	copy = strdup(text);
	cJSON_free(text);
	if (!copy)
		return -ENOMEM;
	*out = copy;
	return 0;
}
