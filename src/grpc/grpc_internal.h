/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the gRPC transport's files share (grpc_frame.c, grpc_conn.c, grpc_server.c,
 * grpc_client.c): byte buffers, the length-prefixed message reader, header encodings, socket
 * helpers and the server object. Never installed.
 */
#ifndef HOSTDEV_GRPC_INTERNAL_H
#define HOSTDEV_GRPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <nghttp2/nghttp2.h>

#include "grpc.h"

/* Length of the gRPC message prefix: compressed flag and 4-byte big-endian length. */
#define GRPC_PREFIX_LEN 5

/* Most bytes a server connection buffers for incomplete requests, over all its calls. */
#define GRPC_MAX_CONN_BUFFERED (64u * 1024 * 1024)

/* Most bytes a call may have queued and not yet sent (a peer that stopped reading). */
#define GRPC_MAX_SEND_BUFFER (16u * 1024 * 1024)

/* Default budget of all server connections of a loop (queued output and incomplete requests);
 * over it the connection that holds the most is closed (grpc_set_memory_limit()). */
#define GRPC_MAX_LOOP_BUFFERED (128u * 1024 * 1024)

/* Concurrent streams a server connection accepts; per-stream and connection receive windows. */
#define GRPC_MAX_CONCURRENT_STREAMS 1024
#define GRPC_STREAM_WINDOW (4u * 1024 * 1024)
#define GRPC_CONN_WINDOW (16u * 1024 * 1024)
/* Largest header list (all request or response headers) accepted. */
#define GRPC_MAX_HEADER_LIST (64u * 1024)

/* ---------------------------------------------------------------------------------------------- */
/* grpc_frame.c */

/* A growable byte queue: data[off, len) is pending. */
struct grpc_buf {
	uint8_t *data;
	size_t len, cap, off;
};

int grpc_buf_append(struct grpc_buf *b, const void *p, size_t n);
/* Drop @n pending bytes from the front. */
void grpc_buf_consume(struct grpc_buf *b, size_t n);
static inline size_t grpc_buf_pending(const struct grpc_buf *b)
{
	return b->len - b->off;
}
void grpc_buf_clear(struct grpc_buf *b);
/* Free an empty buffer's memory when it grew big (kept otherwise, for the next small message). */
void grpc_buf_trim(struct grpc_buf *b);

/*
 * Reassembles the one message of a unary request or response from DATA chunks that do not
 * align with messages. The message buffer grows with the bytes received, never with the
 * declared length.
 */
struct grpc_reader {
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_len;
	uint32_t length; /* declared length of the message being read */
	struct grpc_buf message;
	unsigned int complete; /* messages completed */
	uint32_t max;
};

void grpc_reader_init(struct grpc_reader *r, uint32_t max);
/*
 * Feed received bytes. Returns 0, or a gRPC status (RESOURCE_EXHAUSTED, UNIMPLEMENTED,
 * INTERNAL) with a description in @err once the input cannot be accepted; the reader then
 * ignores everything.
 */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t length, char *err,
		     size_t err_size);
/* True when a message is being read (prefix or body incomplete). */
bool grpc_reader_partial(const struct grpc_reader *r);
/* Bytes held for the message being read. */
static inline size_t grpc_reader_buffered(const struct grpc_reader *r)
{
	return r->prefix_len + r->message.len;
}
void grpc_reader_clear(struct grpc_reader *r);
/* Write the prefix of a message of @length bytes (uncompressed, big-endian length) at @out. */
void grpc_put_prefix(uint8_t out[GRPC_PREFIX_LEN], size_t length);

/* grpc-message: percent-encode every byte outside 0x20..0x7e and '%'. malloc'ed or NULL. */
char *grpc_percent_encode(const char *s);
/* Decode; invalid escapes are kept as they are. malloc'ed or NULL. */
char *grpc_percent_decode(const uint8_t *s, size_t length);
/* grpc-timeout value for @timeout_ms ("100m", "30S"...), at most 8 digits. */
void grpc_timeout_format(int timeout_ms, char out[16]);
/* gRPC status for an HTTP :status when a response has no grpc-status (gRPC's HTTP mapping). */
int grpc_status_from_http(int http_status);
/* "OK", "UNIMPLEMENTED"... for messages. */
const char *grpc_status_name(int status);

/* Fill @sa for @path; -ENAMETOOLONG when it does not fit sun_path. */
int grpc_sockaddr(const char *path, struct sockaddr_un *sa, socklen_t *len);

/*
 * grpc_session.c: a server or client session with the callbacks @set_callbacks installs, HTTP
 * messaging checks off, @settings submitted and the connection window opened. Returns 0 or
 * -ENOMEM (*@out NULL).
 */
int grpc_session_new(bool server, void (*set_callbacks)(nghttp2_session_callbacks *cbs),
		     void *user_data, const nghttp2_settings_entry *settings, size_t n_settings,
		     nghttp2_session **out);

/* Helper to build an nghttp2_nv from two C strings. */
static inline nghttp2_nv grpc_nv(const char *name, const char *value)
{
	nghttp2_nv nv = {(uint8_t *)name, (uint8_t *)value, __builtin_strlen(name),
			 __builtin_strlen(value), NGHTTP2_NV_FLAG_NONE};
	return nv;
}

/* ---------------------------------------------------------------------------------------------- */
/* grpc_server.c / grpc_conn.c */

struct grpc_server {
	hostdev_loop *loop;
	hostdev_ctx *ctx;
	const struct grpc_method *methods;
	size_t n_methods;
	void *userdata;

	char *socket_path;
	int listen_fd;
	struct loop_source *listen_source;
	/* After EMFILE/ENFILE the listener pauses briefly instead of spinning. */
	struct loop_source *accept_pause;
	dev_t socket_dev;
	ino_t socket_ino;

	/* Besides root and this process's own user, the one user whose connections are served
	 * ((uid_t)-1: none); the socket file is handed to it. */
	uid_t peer_uid;
	/* Close a connection with no call being served that received nothing for this long; <= 0:
	 * never. */
	int idle_timeout_ms;

	/* Accepted connections. */
	struct grpc_conn *conns;
	unsigned long n_accepted;
};

/* Serve accepted socket @fd (non-blocking; the connection owns it, also on failure). */
int grpc_conn_accept(struct grpc_server *server, int fd);
/* Close a connection of the server: every open call's close callback runs. */
void grpc_conn_close(struct grpc_conn *conn);
/* Graceful close of every connection of @server (grpc_conn.c): queued output, GOAWAY and end of
 * our side, then wait until each peer closed its side or @linger_ms passed. Blocks; the
 * connections stay in the list, marked for the plain close that must follow. */
void grpc_conn_linger_all(struct grpc_server *server, int linger_ms);
/* The next connection in the server's list. */
struct grpc_conn *grpc_conn_next(struct grpc_conn *conn);
/* Out of file descriptors: close the connection of @loop that has no call being served and has
 * been quiet the longest. False when there is none. */
bool grpc_close_idlest(hostdev_loop *loop);

#endif
