/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC framing shared by the server and the client: the 5-byte length prefix and the reassembly
 * of a message across DATA frames, grpc-message percent-encoding, grpc-timeout values, the HTTP
 * status mapping and Unix socket addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_internal.h"

int grpc_buf_append(struct grpc_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *data;

		/* Reclaim consumed space before growing. */
		if (b->off > 0) {
			memmove(b->data, b->data + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		while (cap < b->len + n) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		if (cap > b->cap) {
			data = realloc(b->data, cap);
			if (!data)
				return -ENOMEM;
			b->data = data;
			b->cap = cap;
		}
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void grpc_buf_consume(struct grpc_buf *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

/*
 * The capacity an empty buffer keeps: enough for unary replies, pings and window updates without
 * a malloc each. A bigger one (a device list of thousands of devices, the connection's write
 * batch) is freed once written: an idle server would otherwise keep the largest message of each
 * of its streams twice, about 500 KiB each at 10,000 devices (issue 15).
 */
#define GRPC_BUF_KEEP (16 * 1024)

void grpc_buf_trim(struct grpc_buf *b)
{
	if (b->off == b->len && b->cap > GRPC_BUF_KEEP)
		grpc_buf_clear(b);
}

void grpc_buf_clear(struct grpc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void grpc_put_prefix(uint8_t out[GRPC_PREFIX_LEN], size_t length)
{
	out[0] = 0; /* uncompressed */
	out[1] = (uint8_t)(length >> 24);
	out[2] = (uint8_t)(length >> 16);
	out[3] = (uint8_t)(length >> 8);
	out[4] = (uint8_t)length;
}

void grpc_reader_init(struct grpc_reader *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void grpc_reader_clear(struct grpc_reader *r)
{
	grpc_buf_clear(&r->message);
	r->prefix_len = 0;
}

bool grpc_reader_partial(const struct grpc_reader *r)
{
	return r->prefix_len > 0;
}

int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t length, char *err,
		     size_t err_size)
{
	while (length > 0) {
		size_t n;

		if (r->prefix_len < GRPC_PREFIX_LEN) {
			n = GRPC_PREFIX_LEN - r->prefix_len;
			if (n > length)
				n = length;
			memcpy(r->prefix + r->prefix_len, data, n);
			r->prefix_len += n;
			data += n;
			length -= n;
			if (r->prefix_len < GRPC_PREFIX_LEN)
				return 0;
			r->length = (uint32_t)r->prefix[1] << 24 | (uint32_t)r->prefix[2] << 16 |
				    (uint32_t)r->prefix[3] << 8 | r->prefix[4];
			if (r->prefix[0] == 1) {
				snprintf(err, err_size,
					 "compressed messages are not supported (only identity "
					 "encoding)");
				return GRPC_STATUS_UNIMPLEMENTED;
			}
			if (r->prefix[0] != 0) {
				snprintf(err, err_size,
					 "invalid compressed flag %u in message prefix",
					 r->prefix[0]);
				return GRPC_STATUS_INTERNAL;
			}
			if (r->length > r->max) {
				snprintf(err, err_size,
					 "received message larger than max (%u vs. %u bytes)",
					 r->length, r->max);
				return GRPC_STATUS_RESOURCE_EXHAUSTED;
			}
			if (r->complete > 0) {
				snprintf(err, err_size,
					 "more than one message in a unary request or response");
				return GRPC_STATUS_INTERNAL;
			}
		}
		n = r->length - r->message.len;
		if (n > length)
			n = length;
		if (grpc_buf_append(&r->message, data, n) < 0) {
			snprintf(err, err_size, "out of memory for a %u byte message", r->length);
			return GRPC_STATUS_RESOURCE_EXHAUSTED;
		}
		data += n;
		length -= n;
		if (r->message.len == r->length) {
			r->complete++;
			r->prefix_len = 0;
		}
	}
	return 0;
}

char *grpc_percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%') {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *grpc_percent_decode(const uint8_t *s, size_t length)
{
	char *out = malloc(length + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < length; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < length && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = (char)s[i];
		}
	}
	*o = '\0';
	return out;
}

void grpc_timeout_format(int timeout_ms, char out[16])
{
	if (timeout_ms < 0)
		timeout_ms = 0;
	/* The value has at most 8 digits. */
	if (timeout_ms <= 99999999)
		snprintf(out, 16, "%dm", timeout_ms);
	else
		snprintf(out, 16, "%dS", timeout_ms / 1000);
}

int grpc_status_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return GRPC_STATUS_INTERNAL;
	case 401:
		return 16; /* UNAUTHENTICATED */
	case 403:
		return 7; /* PERMISSION_DENIED */
	case 404:
		return GRPC_STATUS_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_STATUS_UNAVAILABLE;
	default:
		return GRPC_STATUS_UNKNOWN;
	}
}

const char *grpc_status_name(int status)
{
	static const char *const names[] = {
	    "OK",
	    "CANCELLED",
	    "UNKNOWN",
	    "INVALID_ARGUMENT",
	    "DEADLINE_EXCEEDED",
	    "NOT_FOUND",
	    "ALREADY_EXISTS",
	    "PERMISSION_DENIED",
	    "RESOURCE_EXHAUSTED",
	    "FAILED_PRECONDITION",
	    "ABORTED",
	    "OUT_OF_RANGE",
	    "UNIMPLEMENTED",
	    "INTERNAL",
	    "UNAVAILABLE",
	    "DATA_LOSS",
	    "UNAUTHENTICATED",
	};

	if (status < 0 || (size_t)status >= ARRAY_SIZE(names))
		return "UNKNOWN";
	return names[status];
}

int grpc_sockaddr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}
