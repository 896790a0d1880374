/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The streaming JSON writer (src/core/json_writer.c) against the real cJSON printer it must match
 * byte for byte, for escaping at every position of a string (the writer copies eight bytes at a
 * time, so a byte to escape must be found wherever it sits), and for nesting at a given depth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/core.h"

/* The writer's text of the string @value as a lone top-level value. */
static char *write_one(enum json_layout layout, const char *value)
{
	struct json_writer w;
	char *text = NULL;

	json_writer_init(&w, layout);
	json_write_string(&w, NULL, value);
	assert_int_equal(json_writer_finish(&w, &text), 0);
	return text;
}

static void assert_like_cjson(const char *value)
{
	cJSON *item = cJSON_CreateString(value);
	char *expected, *got;

	assert_non_null(item);
	expected = cJSON_PrintUnformatted(item);
	assert_non_null(expected);
	got = write_one(JSON_LAYOUT_COMPACT, value);
	assert_string_equal(got, expected);
	free(got);
	cJSON_free(expected);
	cJSON_Delete(item);
}

/* Every character cJSON escapes, at every offset of strings of 1 to 40 bytes. */
static void test_escapes_at_every_position(void **state)
{
	static const char specials[] = "\"\\\b\f\n\r\t\x01\x1f\x7f";
	char buf[64];

	(void)state;
	for (size_t len = 1; len <= 40; len++)
		for (size_t at = 0; at < len; at++)
			for (const char *s = specials; *s; s++) {
				memset(buf, 'a' + (int)(len % 26), len);
				buf[len] = '\0';
				buf[at] = *s;
				assert_like_cjson(buf);
			}
	assert_like_cjson("");
	assert_like_cjson("plain ASCII text, longer than one word of eight bytes");
	assert_like_cjson("\"quoted\" and back\\slashed\\ at both ends\"");
	/* Valid UTF-8 of 2, 3 and 4 bytes passes as it is, anywhere in a word. */
	assert_like_cjson("caf\xc3\xa9");
	assert_like_cjson("0123456\xe2\x82\xac"
			  "89abcdef\xf0\x9f\x98\x80tail");
}

/* Bytes that start no valid UTF-8 sequence become U+FFFD; the rest is kept. */
static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\xff", "\"\xef\xbf\xbd\""},
	    {"abcdefgh\x80z", "\"abcdefgh\xef\xbf\xbdz\""},
	    {"\xc3(", "\"\xef\xbf\xbd(\""},				  /* truncated sequence */
	    {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},		  /* overlong '/' */
	    {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
	    {"long enough \xfe\"x", "\"long enough \xef\xbf\xbd\\\"x\""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = write_one(JSON_LAYOUT_SPACES, cases[i].in);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

/* One document with every kind of value, nested containers and empty ones. */
static void write_document(struct json_writer *w)
{
	json_write_object_begin(w, NULL);
	json_write_string(w, "name", "tab\there");
	json_write_hex(w, "id", 0x1af4, 4);
	json_write_int(w, "negative", -42);
	json_write_int(w, "large", 1ll << 40);
	json_write_int_or_null(w, "absent", -1, -1);
	json_write_bool(w, "yes", 1);
	json_write_null(w, "nothing");
	json_write_array_begin(w, "empty");
	json_write_array_end(w);
	json_write_object_begin(w, "empty_object");
	json_write_object_end(w);
	json_write_array_begin(w, "list");
	json_write_string(w, NULL, "a");
	json_write_object_begin(w, NULL);
	json_write_int(w, "n", 1);
	json_write_object_end(w);
	json_write_array_end(w);
	json_write_object_end(w);
}

static cJSON *cjson_document(void)
{
	cJSON *doc = cJSON_CreateObject(), *list, *object;

	cJSON_AddStringToObject(doc, "name", "tab\there");
	cJSON_AddStringToObject(doc, "id", "1af4");
	cJSON_AddNumberToObject(doc, "negative", -42);
	cJSON_AddNumberToObject(doc, "large", (double)(1ll << 40));
	cJSON_AddNullToObject(doc, "absent");
	cJSON_AddTrueToObject(doc, "yes");
	cJSON_AddNullToObject(doc, "nothing");
	cJSON_AddArrayToObject(doc, "empty");
	cJSON_AddObjectToObject(doc, "empty_object");
	list = cJSON_AddArrayToObject(doc, "list");
	cJSON_AddItemToArray(list, cJSON_CreateString("a"));
	object = cJSON_CreateObject();
	cJSON_AddNumberToObject(object, "n", 1);
	cJSON_AddItemToArray(list, object);
	return doc;
}

static char *write_nested(enum json_layout layout, unsigned int indent)
{
	struct json_writer w;
	char *text = NULL;

	json_writer_init_nested(&w, layout, indent);
	write_document(&w);
	assert_int_equal(json_writer_finish(&w, &text), 0);
	return text;
}

static void test_layouts_like_cjson(void **state)
{
	cJSON *doc = cjson_document();
	char *expected, *got;

	(void)state;
	expected = cJSON_PrintUnformatted(doc);
	got = write_nested(JSON_LAYOUT_COMPACT, 0);
	assert_string_equal(got, expected);
	free(got);
	cJSON_free(expected);
	expected = cJSON_Print(doc);
	got = write_nested(JSON_LAYOUT_CJSON, 0);
	assert_string_equal(got, expected);
	free(got);
	cJSON_free(expected);
	cJSON_Delete(doc);
}

/* @text with @prefix inserted after every line break. */
static char *shift_lines(const char *text, const char *prefix)
{
	char *out = malloc(strlen(text) * (1 + strlen(prefix)) + 1), *o = out;

	assert_non_null(out);
	for (const char *p = text; *p; p++) {
		*o++ = *p;
		if (*p == '\n') {
			memcpy(o, prefix, strlen(prefix));
			o += strlen(prefix);
		}
	}
	*o = '\0';
	return out;
}

/* Nested at depth N: the same text with every line after the first indented N levels more. */
static void test_nested_depth(void **state)
{
	static const struct {
		enum json_layout layout;
		unsigned int depth;
		const char *prefix;
	} cases[] = {
	    {JSON_LAYOUT_SPACES, 1, "  "},
	    {JSON_LAYOUT_SPACES, 2, "    "},
	    {JSON_LAYOUT_SPACES, 7, "              "},
	    {JSON_LAYOUT_CJSON, 2, "\t\t"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *flat = write_nested(cases[i].layout, 0);
		char *nested = write_nested(cases[i].layout, cases[i].depth);
		char *expected = shift_lines(flat, cases[i].prefix);

		assert_string_equal(nested, expected);
		assert_int_equal(nested[0], '{');
		free(flat);
		free(nested);
		free(expected);
	}
}

/* A long text crosses the writer's growth steps without losing a byte. */
static void test_growth(void **state)
{
	char big[5000];
	char *got;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[4000] = '"';
	assert_like_cjson(big);
	got = write_one(JSON_LAYOUT_SPACES, big);
	assert_int_equal(strlen(got), sizeof(big) - 1 + 3);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escapes_at_every_position),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_layouts_like_cjson),
	    cmocka_unit_test(test_nested_depth),
	    cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
