/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers that build the cJSON trees of the stable JSON schemas (pci_json.c, usb_json.c). Every
 * helper records an allocation failure in the builder instead of returning it, so that a serialiser
 * reads as a flat list of fields and checks once at the end.
 */
#ifndef HOSTDEV_JSON_BUILDER_H
#define HOSTDEV_JSON_BUILDER_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct json_builder {
	bool oom;
};

/* A JSON string of @value made valid UTF-8 (bad bytes become U+FFFD), or null for NULL. */
cJSON *json_new_string(struct json_builder *b, const char *value);
/* Attach @item under @key (NULL @item: allocation failure). */
void json_attach(struct json_builder *b, cJSON *object, const char *key, cJSON *item);
/* Append @item to @array (NULL @item: allocation failure). */
void json_append(struct json_builder *b, cJSON *array, cJSON *item);
/* A string, or null when @value is NULL. */
void json_add_string(struct json_builder *b, cJSON *object, const char *key, const char *value);
/* @value as a lower-case hex string of exactly @digits digits ("%04x", "%06x", "%02x"). */
void json_add_hex(struct json_builder *b, cJSON *object, const char *key, unsigned int value,
		  int digits);
void json_add_int(struct json_builder *b, cJSON *object, const char *key, long long value);
/* An integer, or null when @value equals @none. */
void json_add_int_or_null(struct json_builder *b, cJSON *object, const char *key, long long value,
			  long long none);
void json_add_bool(struct json_builder *b, cJSON *object, const char *key, int value);
/* A new empty array or object attached under @key; NULL (and oom set) on failure. */
cJSON *json_add_container(struct json_builder *b, cJSON *object, const char *key, bool array);

/*
 * Print @root (indented when @pretty) into a malloc'ed string for hostdev_free() and delete @root.
 * Returns 0 or -ENOMEM.
 */
int json_print_and_delete(cJSON *root, bool pretty, char **out);

#endif /* HOSTDEV_JSON_BUILDER_H */
