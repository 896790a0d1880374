/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scanner over JSON text that cJSON already accepted: it follows objects, arrays and strings
 * (escapes included) just far enough to know where each string is, and reports the path of the
 * first string that holds the escape \u0000 (core.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* One open object or array. */
struct frame {
	bool object;
	bool have_key;	 /* object: the current member's key is known */
	const char *key; /* raw key text (between the quotes), object only */
	size_t key_len;
	size_t index; /* array: index of the current item */
};

struct path {
	char *buf;
	size_t size, used;
	bool cut;
};

static void put(struct path *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !p->cut; i++) {
		unsigned char c = (unsigned char)s[i];

		/* Room for "..." and the NUL. */
		if (p->used + 4 >= p->size) {
			p->cut = true;
			if (p->size >= 4) {
				memcpy(p->buf + p->used, "...", 3);
				p->used += 3;
			}
			break;
		}
		p->buf[p->used++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (p->size)
		p->buf[p->used < p->size ? p->used : p->size - 1] = '\0';
}

static void put_str(struct path *p, const char *s)
{
	put(p, s, strlen(s));
}

/* The path of frames [0, @depth): "a.b[2].c". */
static void put_frames(struct path *p, const struct frame *frames, size_t depth)
{
	char index[32];

	for (size_t i = 0; i < depth; i++) {
		if (frames[i].object) {
			if (i > 0)
				put_str(p, ".");
			put(p, frames[i].key, frames[i].key_len);
		} else {
			snprintf(index, sizeof(index), "[%zu]", frames[i].index);
			put_str(p, index);
		}
	}
}

/* Skip the string starting after its opening quote at @s; returns the closing quote (or @end)
 * and whether it holds \u0000. */
static const char *skip_string(const char *s, const char *end, bool *has_nul)
{
	*has_nul = false;
	while (s < end && *s != '"') {
		if (*s == '\\' && s + 1 < end) {
			if (s[1] == 'u' && end - s >= 6 && memcmp(s + 2, "0000", 4) == 0)
				*has_nul = true;
			s += 2;
			continue;
		}
		s++;
	}
	return s;
}

bool json_find_nul_escape(const char *text, size_t length, char *where, size_t size)
{
	const char *s = text, *end = text + length;
	struct frame *frames = NULL;
	size_t depth = 0, capacity = 0;
	struct path path = {where, size, 0, false};
	bool found = false;

	if (size)
		where[0] = '\0';
	while (s < end && !found) {
		struct frame *top = depth ? &frames[depth - 1] : NULL;
		bool has_nul;
		const char *close;

		switch (*s) {
		case '{':
		case '[':
			if (depth == capacity) {
				size_t cap = capacity ? capacity * 2 : 16;
				struct frame *grown = realloc(frames, cap * sizeof(*grown));

				if (!grown) {
					/* Without memory, say where as far as known: nowhere. */
					put_str(&path, "(unknown position)");
					found = memmem(s, (size_t)(end - s), "\\u0000", 6) != NULL;
					goto out;
				}
				frames = grown;
				capacity = cap;
			}
			frames[depth++] = (struct frame){.object = *s == '{'};
			s++;
			break;
		case '}':
		case ']':
			if (depth)
				depth--;
			s++;
			break;
		case ',':
			if (top && top->object)
				top->have_key = false;
			else if (top)
				top->index++;
			s++;
			break;
		case '"':
			close = skip_string(s + 1, end, &has_nul);
			if (top && top->object && !top->have_key) {
				if (has_nul) {
					put_str(&path, "a key of ");
					if (depth == 1)
						put_str(&path, "the top-level object");
					else
						put_frames(&path, frames, depth - 1);
					found = true;
					break;
				}
				top->key = s + 1;
				top->key_len = (size_t)(close - s - 1);
				top->have_key = true;
			} else if (has_nul) {
				if (depth == 0)
					put_str(&path, "the top-level string");
				else
					put_frames(&path, frames, depth);
				found = true;
				break;
			}
			s = close < end ? close + 1 : end;
			break;
		default:
			/* ':', blanks, numbers, true, false, null */
			s++;
			break;
		}
	}
out:
	free(frames);
	return found;
}
