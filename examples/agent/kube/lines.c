/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Newline-delimited framing of watch streams. The API server writes one JSON event per line, but
 * HTTP chunks (and curl's write callbacks) split and join lines anywhere: bytes are buffered
 * until a '\n' completes a line, so an event is parsed only once it is whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

#define DEFAULT_MAX_LINE (64u << 20)

void kube_lines_init(struct kube_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max ? max : DEFAULT_MAX_LINE;
}

void kube_lines_clear(struct kube_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

static int deliver(const char *line, size_t len, kube_line_fn fn, void *userdata)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	return fn(line, len, userdata);
}

static int append(struct kube_lines *l, const char *data, size_t n)
{
	if (l->len + n > l->max)
		return -E2BIG;
	if (l->len + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *p;

		while (cap < l->len + n + 1)
			cap *= 2;
		p = realloc(l->buf, cap);
		if (!p)
			return -ENOMEM;
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, data, n);
	l->len += n;
	l->buf[l->len] = '\0';
	return 0;
}

int kube_lines_feed(struct kube_lines *l, const char *data, size_t n, kube_line_fn fn,
		    void *userdata)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		int r;

		if (!nl)
			return append(l, data, take);
		if (l->len == 0) {
			/* The whole line is in this chunk: no copy. */
			r = deliver(data, take, fn, userdata);
		} else {
			r = append(l, data, take);
			if (r == 0)
				r = deliver(l->buf, l->len, fn, userdata);
			l->len = 0;
		}
		if (r != 0)
			return r;
		data += take + 1;
		n -= take + 1;
	}
	return 0;
}
