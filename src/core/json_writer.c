/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A streaming JSON writer for the serialisers of the stable schemas (core.h). It appends text to
 * one growing buffer as the fields come, where a cJSON tree cost an allocation per value, a print
 * pass and a delete pass (about two thirds of `hostdev list --json`). Its output is byte for byte
 * what cJSON_PrintUnformatted() and cJSON_Print() made of the same tree, so documents do not change.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void json_writer_init(struct json_writer *w, enum json_layout layout)
{
	memset(w, 0, sizeof(*w));
	w->layout = layout;
}

void json_writer_discard(struct json_writer *w)
{
	free(w->text);
	w->text = NULL;
	w->length = w->capacity = 0;
}

/* Room for @more bytes and the final NUL; false (and oom recorded) without memory. */
static bool reserve(struct json_writer *w, size_t more)
{
	size_t need, capacity;
	char *grown;

	if (w->oom)
		return false;
	need = w->length + more + 1;
	if (need <= w->capacity)
		return true;
	capacity = w->capacity ? w->capacity : 1024;
	while (capacity < need)
		capacity *= 2;
	grown = realloc(w->text, capacity);
	if (!grown) {
		w->oom = true;
		return false;
	}
	w->text = grown;
	w->capacity = capacity;
	return true;
}

static void put(struct json_writer *w, const char *bytes, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->text + w->length, bytes, n);
	w->length += n;
}

static void put_char(struct json_writer *w, char c)
{
	if (!reserve(w, 1))
		return;
	w->text[w->length++] = c;
}

/* A line break and the indentation of @depth in JSON_LAYOUT_SPACES. */
static void put_newline_spaces(struct json_writer *w, unsigned int depth)
{
	if (!reserve(w, 1 + 2 * (size_t)depth))
		return;
	w->text[w->length++] = '\n';
	memset(w->text + w->length, ' ', 2 * (size_t)depth);
	w->length += 2 * (size_t)depth;
}

static void put_tabs(struct json_writer *w, unsigned int n)
{
	if (!reserve(w, n))
		return;
	memset(w->text + w->length, '\t', n);
	w->length += n;
}

/*
 * The bytes a JSON string holds as they are: printable ASCII (and DEL) but the quote and the
 * backslash. A table: the four comparisons per byte were most of the writer's time.
 */
static const unsigned char plain_ascii[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * A string as cJSON prints it (quotes, backslash and \b \f \n \r \t escaped by name, other control
 * characters as \u00xx, everything else as it is), after making it valid UTF-8: sysfs attributes
 * and USB strings are bytes, and each byte that starts no valid sequence becomes U+FFFD.
 */
static void put_string(struct json_writer *w, const char *value)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)value;
	size_t run, n;

	put_char(w, '"');
	while (*p) {
		/* Copy the longest run of bytes that need no escape and are ASCII at once. */
		for (run = 0; plain_ascii[p[run]]; run++)
			;
		if (run) {
			put(w, (const char *)p, run);
			p += run;
			continue;
		}
		if (*p >= 0x80) {
			n = json_utf8_sequence_length(p);
			if (n == 0) {
				put(w, "\xef\xbf\xbd", 3);
				n = 1;
			} else {
				put(w, (const char *)p, n);
			}
			p += n;
			continue;
		}
		switch (*p) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\b':
			put(w, "\\b", 2);
			break;
		case '\f':
			put(w, "\\f", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		default: {
			char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 0xf]};

			put(w, esc, sizeof(esc));
		}
		}
		p++;
	}
	put_char(w, '"');
}

/*
 * Everything that comes before a value: the separator from the previous member and, inside an
 * object, the indentation and the key. @key is NULL for array elements and the top-level value.
 */
static void begin_value(struct json_writer *w, const char *key)
{
	bool first, pretty = w->layout == JSON_LAYOUT_CJSON;

	if (w->depth == 0)
		return;
	first = w->first[w->depth - 1];
	w->first[w->depth - 1] = false;
	if (w->layout == JSON_LAYOUT_SPACES) {
		if (!first)
			put_char(w, ',');
		put_newline_spaces(w, w->depth);
		if (key) {
			put_string(w, key);
			put(w, ": ", 2);
		}
		return;
	}
	if (!key) {
		if (!first)
			put(w, pretty ? ", " : ",", pretty ? 2 : 1);
		return;
	}
	if (!first)
		put(w, pretty ? ",\n" : ",", pretty ? 2 : 1);
	if (pretty)
		put_tabs(w, w->depth);
	put_string(w, key);
	put(w, pretty ? ":\t" : ":", pretty ? 2 : 1);
}

static void open_container(struct json_writer *w, const char *key, char bracket)
{
	begin_value(w, key);
	put_char(w, bracket);
	if (bracket == '{' && w->layout == JSON_LAYOUT_CJSON)
		put_char(w, '\n');
	if (w->depth >= JSON_WRITER_MAX_DEPTH) {
		w->oom = true; /* deeper than any schema of ours: a programming error */
		return;
	}
	w->first[w->depth++] = true;
}

void json_write_object_begin(struct json_writer *w, const char *key)
{
	open_container(w, key, '{');
}

void json_write_object_end(struct json_writer *w)
{
	if (w->depth == 0)
		return;
	w->depth--;
	if (w->layout == JSON_LAYOUT_CJSON) {
		if (!w->first[w->depth])
			put_char(w, '\n');
		put_tabs(w, w->depth);
	} else if (w->layout == JSON_LAYOUT_SPACES && !w->first[w->depth]) {
		put_newline_spaces(w, w->depth);
	}
	put_char(w, '}');
}

void json_write_array_begin(struct json_writer *w, const char *key)
{
	open_container(w, key, '[');
}

void json_write_array_end(struct json_writer *w)
{
	if (w->depth == 0)
		return;
	w->depth--;
	if (w->layout == JSON_LAYOUT_SPACES && !w->first[w->depth])
		put_newline_spaces(w, w->depth);
	put_char(w, ']');
}

void json_write_string(struct json_writer *w, const char *key, const char *value)
{
	begin_value(w, key);
	if (value)
		put_string(w, value);
	else
		put(w, "null", 4);
}

void json_write_hex(struct json_writer *w, const char *key, unsigned int value, int digits)
{
	static const char hex[] = "0123456789abcdef";
	char text[10];

	if (digits > 8)
		digits = 8;
	begin_value(w, key);
	text[0] = '"';
	for (int i = 0; i < digits; i++)
		text[digits - i] = hex[(value >> (4 * i)) & 0xf];
	text[digits + 1] = '"';
	put(w, text, (size_t)digits + 2);
}

void json_write_int(struct json_writer *w, const char *key, long long value)
{
	char text[32], *p = text + sizeof(text);
	unsigned long long magnitude;
	int n;

	begin_value(w, key);
	if (value < INT_MIN || value > INT_MAX) {
		/* cJSON keeps numbers as doubles and prints those outside int with "%1.15g", or
		 * "%1.17g" when 15 digits do not give the same double back. */
		n = snprintf(text, sizeof(text), "%1.15g", (double)value);
		if (strtod(text, NULL) != (double)value)
			n = snprintf(text, sizeof(text), "%1.17g", (double)value);
		put(w, text, (size_t)n);
		return;
	}
	magnitude = value < 0 ? 0ull - (unsigned long long)value : (unsigned long long)value;
	do {
		*--p = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude);
	if (value < 0)
		*--p = '-';
	put(w, p, (size_t)(text + sizeof(text) - p));
}

void json_write_int_or_null(struct json_writer *w, const char *key, long long value, long long none)
{
	if (value == none)
		json_write_null(w, key);
	else
		json_write_int(w, key, value);
}

void json_write_bool(struct json_writer *w, const char *key, int value)
{
	begin_value(w, key);
	if (value)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void json_write_null(struct json_writer *w, const char *key)
{
	begin_value(w, key);
	put(w, "null", 4);
}

int json_writer_finish(struct json_writer *w, char **out)
{
	if (!reserve(w, 0)) {
		json_writer_discard(w);
		return -ENOMEM;
	}
	w->text[w->length] = '\0';
	*out = w->text;
	w->text = NULL;
	w->length = w->capacity = 0;
	return 0;
}
