/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks on the raw text of a JSON document that cJSON accepted (json_scan.c). cJSON decodes
 * "\u0000" inside a string into a NUL byte and hands out a C string that ends there, so a
 * config value or a journal field would be silently cut short; the parsers refuse such
 * documents instead, naming where the escape is. Never installed.
 */
#ifndef HOSTDEV_JSON_SCAN_H
#define HOSTDEV_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Find the first string (key or value) of the JSON text @text (@length bytes, already accepted by
 * cJSON) that contains the escape \u0000. Returns false when there is none; otherwise true, with
 * the path of that string in @where: "resources[1].selectors.serial[0]" for a value, or for a key
 * "a key of resources[1]" ("a key of the top-level object"). Key names in the path are shown as
 * written (escapes as they are), control bytes as '?', cut with "..." to fit @size.
 */
bool json_find_nul_escape(const char *text, size_t length, char *where, size_t size);

#endif /* HOSTDEV_JSON_SCAN_H */
