/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A streaming JSON writer for the serialisers of the stable schemas (core.h). It appends text to
 * one growing buffer as the fields come, where a cJSON tree cost an allocation per value, a print
 * pass and a delete pass (about two thirds of `hostdev list --json`). Its output is byte for byte
 * what cJSON_PrintUnformatted() and cJSON_Print() made of the same tree, so documents do not change.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void json_writer_init(struct json_writer *w, enum json_layout layout)
{
	json_writer_init_nested(w, layout, 0);
}

void json_writer_init_nested(struct json_writer *w, enum json_layout layout, unsigned int indent)
{
	memset(w, 0, sizeof(*w));
	w->layout = layout;
	w->indent = indent;
}

void json_writer_discard(struct json_writer *w)
{
	free(w->text);
	w->text = NULL;
	w->length = w->capacity = 0;
}

/*
 * Grow the text for @more bytes and the final NUL. An allocation failure sets oom and the capacity
 * to 0, so that room()'s quick test fails for every later call.
 */
static bool grow(struct json_writer *w, size_t more)
{
	size_t need = w->length + more + 1, capacity;
	char *grown;

	if (w->oom)
		return false;
	capacity = w->capacity ? w->capacity : 4096; /* a device object: 1.6-2.5 KiB */
	while (capacity < need)
		capacity *= 2;
	grown = realloc(w->text, capacity);
	if (!grown) {
		w->oom = true;
		w->capacity = 0;
		return false;
	}
	w->text = grown;
	w->capacity = capacity;
	return true;
}

/*
 * Where the next @n bytes go (the caller then moves length past what it wrote, at most @n), or
 * NULL without memory. Each value reserves its worst case once and is then written without checks.
 */
static inline char *room(struct json_writer *w, size_t n)
{
	if (w->length + n < w->capacity || grow(w, n))
		return w->text + w->length;
	return NULL;
}

static inline void advance(struct json_writer *w, const char *end)
{
	w->length = (size_t)(end - w->text);
}

static void put(struct json_writer *w, const char *bytes, size_t n)
{
	char *o = room(w, n);

	if (!o)
		return;
	memcpy(o, bytes, n);
	advance(w, o + n);
}

static void put_char(struct json_writer *w, char c)
{
	char *o = room(w, 1);

	if (!o)
		return;
	*o = c;
	advance(w, o + 1);
}

/* The indentation of @level in JSON_LAYOUT_SPACES after a line break (two spaces a level). */
static inline char *spaces(char *o, unsigned int level)
{
	memset(o, ' ', 2 * (size_t)level);
	return o + 2 * (size_t)level;
}

static inline char *tabs(char *o, unsigned int level)
{
	memset(o, '\t', level);
	return o + level;
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
 * Whether none of the 8 bytes in @x needs a look: no control character (below 0x20), no quote, no
 * backslash, no byte of a multi-byte UTF-8 sequence (0x80 and up). The borrow tricks of "has a
 * zero byte" and "has a byte below n" (n <= 128) answer exactly whether any byte matches, which is
 * all that is asked: the byte loop after it finds which one.
 */
static inline bool word_is_plain(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
	uint64_t hits = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) |
			((backslash - ones) & ~backslash) | x;

	return (hits & highs) == 0;
}

/* The most bytes a string of @len bytes takes quoted: each byte may become \u00xx. */
static inline size_t quoted_size(size_t len)
{
	return 6 * len + 2;
}

/*
 * @value (@len bytes) as cJSON prints a string (quotes, backslash and \b \f \n \r \t escaped by
 * name, other control characters as \u00xx, everything else as it is), after making it valid
 * UTF-8: sysfs attributes and USB strings are bytes, and each byte that starts no valid sequence
 * becomes U+FFFD. Bytes that need nothing are copied eight at a time. Writes at most
 * quoted_size(@len) bytes at @o and returns the end.
 */
static char *quote_string(char *o, const char *value, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)value, *end = p + len;
	size_t n;

	*o++ = '"';
	while (p < end) {
		uint64_t x;

		/* Eight plain bytes at once (one unaligned load and store each). */
		if (end - p >= 8) {
			memcpy(&x, p, sizeof(x));
			if (word_is_plain(x)) {
				memcpy(o, &x, sizeof(x));
				o += 8;
				p += 8;
				continue;
			}
		} else if (len >= 8) {
			/*
			 * Fewer than 8 left: the word that ends the string. If it is plain, so are
			 * the bytes before @p in it, which were copied as they are: it can be
			 * stored over them.
			 */
			memcpy(&x, end - 8, sizeof(x));
			if (word_is_plain(x)) {
				memcpy(o - (p - (end - 8)), &x, sizeof(x));
				o += end - p;
				break;
			}
		}
		if (plain_ascii[*p]) {
			*o++ = (char)*p++;
			continue;
		}
		if (*p >= 0x80) {
			n = json_utf8_sequence_length(p);
			if (n == 0) {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				n = 1;
			} else {
				memcpy(o, p, n);
				o += n;
			}
			p += n;
			continue;
		}
		*o++ = '\\';
		switch (*p) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[*p >> 4];
			o[4] = hex[*p & 0xf];
			o += 5;
		}
		p++;
	}
	*o++ = '"';
	return o;
}

static void put_string(struct json_writer *w, const char *value)
{
	size_t len = strlen(value);
	char *o = room(w, quoted_size(len));

	if (o)
		advance(w, quote_string(o, value, len));
}

/* A member's name in quotes, as it is: the keys are the schemas' literals, with nothing to escape. */
static inline char *put_key(char *o, const char *key, size_t len)
{
	*o++ = '"';
	memcpy(o, key, len);
	o += len;
	*o++ = '"';
	return o;
}

/*
 * Everything that comes before a value: the separator from the previous member and, inside an
 * object, the line break, the indentation and the key, reserved once and written directly. @key is
 * NULL for array elements and the top-level value.
 */
static void begin_value(struct json_writer *w, const char *key)
{
	unsigned int level = w->depth + w->indent;
	size_t key_len = key ? strlen(key) : 0;
	bool first;
	char *o;

	if (w->depth == 0)
		return;
	first = w->first[w->depth - 1];
	w->first[w->depth - 1] = false;
	/* Separator, line break, indentation, quoted key, ": " (or ":\t"). */
	o = room(w, 2 + 2 * (size_t)level + (key ? key_len + 4 : 0));
	if (!o)
		return;
	switch (w->layout) {
	case JSON_LAYOUT_SPACES:
		if (!first)
			*o++ = ',';
		*o++ = '\n';
		o = spaces(o, level);
		if (key) {
			o = put_key(o, key, key_len);
			*o++ = ':';
			*o++ = ' ';
		}
		break;
	case JSON_LAYOUT_CJSON:
		/* cJSON_Print(): members on their own tab-indented lines, array elements after ", ". */
		if (!key) {
			if (!first) {
				*o++ = ',';
				*o++ = ' ';
			}
			break;
		}
		if (!first) {
			*o++ = ',';
			*o++ = '\n';
		}
		o = tabs(o, level);
		o = put_key(o, key, key_len);
		*o++ = ':';
		*o++ = '\t';
		break;
	case JSON_LAYOUT_COMPACT:
		if (!first)
			*o++ = ',';
		if (key) {
			o = put_key(o, key, key_len);
			*o++ = ':';
		}
		break;
	}
	advance(w, o);
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

/* The line break and indentation before the closing bracket of a non-empty container. */
static void close_container(struct json_writer *w, char bracket)
{
	unsigned int level;
	char *o;

	if (w->depth == 0)
		return;
	w->depth--;
	level = w->depth + w->indent;
	o = room(w, 2 + 2 * (size_t)level);
	if (!o)
		return;
	if (w->layout == JSON_LAYOUT_CJSON && bracket == '}') {
		if (!w->first[w->depth])
			*o++ = '\n';
		o = tabs(o, level);
	} else if (w->layout == JSON_LAYOUT_SPACES && !w->first[w->depth]) {
		*o++ = '\n';
		o = spaces(o, level);
	}
	*o++ = bracket;
	advance(w, o);
}

void json_write_object_end(struct json_writer *w)
{
	close_container(w, '}');
}

void json_write_array_begin(struct json_writer *w, const char *key)
{
	open_container(w, key, '[');
}

void json_write_array_end(struct json_writer *w)
{
	close_container(w, ']');
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
	if (w->oom || !room(w, 0)) {
		json_writer_discard(w);
		return -ENOMEM;
	}
	w->text[w->length] = '\0';
	*out = w->text;
	w->text = NULL;
	w->length = w->capacity = 0;
	return 0;
}
