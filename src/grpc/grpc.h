/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC over HTTP/2 (cleartext, prior knowledge) on Unix sockets, built on nghttp2: a server with
 * unary and server-streaming methods (grpc_server.c) and a unary client (grpc_client.c), both
 * driven by the library's event loop (loop/loop.h). Messages are opaque bytes here; protobuf-c
 * encoding is the caller's business. Wire facts: docs/device-plugin.md and REFERENCE.md 5.
 * Never installed.
 */
#ifndef HOSTDEV_GRPC_H
#define HOSTDEV_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "loop/loop.h"

/* gRPC status codes used here. */
enum grpc_status {
	GRPC_STATUS_OK = 0,
	GRPC_STATUS_CANCELLED = 1,
	GRPC_STATUS_UNKNOWN = 2,
	GRPC_STATUS_INVALID_ARGUMENT = 3,
	GRPC_STATUS_DEADLINE_EXCEEDED = 4,
	GRPC_STATUS_NOT_FOUND = 5,
	GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
	GRPC_STATUS_FAILED_PRECONDITION = 9,
	GRPC_STATUS_UNIMPLEMENTED = 12,
	GRPC_STATUS_INTERNAL = 13,
	GRPC_STATUS_UNAVAILABLE = 14,
};

/* Largest message accepted (received); larger ones end the call with RESOURCE_EXHAUSTED. */
#define GRPC_MAX_RECEIVE_MESSAGE (4u * 1024 * 1024)

/* ---------------------------------------------------------------------------------------------- */
/* Server */

struct grpc_server;
/* One server-side call (HTTP/2 stream). */
struct grpc_call;

/*
 * Called once the call's single request message has arrived (every method here has a unary
 * request). A unary handler answers before returning or later: grpc_call_send() once, then
 * grpc_call_finish(). A streaming handler may keep @call and send many messages; it must stop
 * using it once its close callback ran.
 */
typedef void (*grpc_method_fn)(struct grpc_call *call, const uint8_t *message, size_t length,
			       void *userdata);

struct grpc_method {
	const char *path; /* "/v1beta1.DevicePlugin/Allocate" */
	grpc_method_fn handler;
};

/* A server with @n_methods methods (the array must outlive the server); @userdata goes to every
 * handler. Unknown paths get UNIMPLEMENTED. */
int grpc_server_new(hostdev_loop *loop, const struct grpc_method *methods, size_t n_methods,
		    void *userdata, struct grpc_server **out);
/*
 * Listen on @socket_path (an existing socket file nobody accepts on is replaced; -EADDRINUSE when
 * a live server has it; -EEXIST when another kind of file is there). The socket file is created
 * with mode 0600 whatever the umask (owned by the peer user of grpc_server_set_peer_uid(), if
 * any). Connections are accepted and served by the loop; a connection whose peer (SO_PEERCRED) is
 * neither root, nor this process's user, nor the peer user is closed at once.
 */
int grpc_server_listen(struct grpc_server *server, const char *socket_path);
/* Also serve (and give the socket file to) user @uid; -1: nobody else (the default). Takes
 * effect at the next listen. */
void grpc_server_set_peer_uid(struct grpc_server *server, int uid);
/*
 * Close a connection once it has had no call being served (a handler running or a stream open)
 * and received nothing for @ms milliseconds; <= 0: never (the default). Applies to connections
 * accepted afterwards. When accept() runs out of file descriptors, the quietest such connection
 * of the loop is closed at once to make room, whatever this timeout.
 */
void grpc_server_set_idle_timeout(struct grpc_server *server, int ms);
/* Stop listening and close every connection (each open call's close callback runs). The socket
 * file is unlinked only when @unlink_socket is true and it is still ours (same inode). */
void grpc_server_shutdown(struct grpc_server *server, bool unlink_socket);
/* The same, after every peer has read what was queued for it: write what is queued, send
 * GOAWAY, shut down our side of each connection and wait (blocking, at most @linger_ms) until
 * each peer closed its side. A plain close can reset a connection whose peer still writes, and
 * gRPC clients then drop the messages they had not parsed yet. Call it while the loop does not
 * dispatch (loop lock held). */
void grpc_server_shutdown_gracefully(struct grpc_server *server, bool unlink_socket, int linger_ms);
/* Shut down and free. NULL-safe. */
void grpc_server_free(struct grpc_server *server);
/* The inode of the listening socket file, 0 when not listening (to tell whether the kubelet
 * deleted or replaced it). */
unsigned long grpc_server_socket_inode(const struct grpc_server *server);
/* True while @server listens and its socket file is still the one it made (the kubelet deletes
 * the sockets of its plugin directories when it restarts; another process may replace one). */
bool grpc_server_owns_socket(const struct grpc_server *server);

/*
 * Queue one response message (a copy is made). Sends the response HEADERS first if needed.
 * Neither this nor grpc_call_finish() writes to the socket or runs a close callback before it
 * returns: the loop writes on its next round (flow control permitting; a peer that does not read
 * makes sends fail with -ENOBUFS once 16 MiB wait). -EPIPE once the call is closed, -EINVAL
 * after finish.
 */
int grpc_call_send(struct grpc_call *call, const uint8_t *message, size_t length);
/*
 * Queue @message as the call's latest state (a copy is made), for streams where only the newest
 * message matters (ListAndWatch): a message queued with this function that has not started to
 * go out is replaced by the next one, so a peer that reads slowly gets the newest state and
 * never a stale one, and one call holds at most the message being sent plus one. Otherwise as
 * grpc_call_send(); a message sent with grpc_call_send() afterwards follows it.
 */
int grpc_call_send_latest(struct grpc_call *call, const uint8_t *message, size_t length);
/* The bytes a message buffer of grpc_call_send_latest_owned() leaves before the message. */
#define GRPC_MESSAGE_HEADROOM 5
/*
 * grpc_call_send_latest() without the copy: @buf (malloc'ed) holds GRPC_MESSAGE_HEADROOM bytes of
 * room, then the @length bytes of the message, and the call takes it, also when it fails. A list
 * of 10,000 devices is 300 KiB: a copy of it, in fresh pages, was a good part of what a change
 * held the loop for (issue 15).
 */
int grpc_call_send_latest_owned(struct grpc_call *call, uint8_t *buf, size_t length);
/*
 * The budget of bytes all server connections of @loop may hold (output queued for peers, parts of
 * requests), default GRPC_MAX_LOOP_BUFFERED: over it, the connection that holds the most is
 * closed on the next loop round. Returns 0, -EINVAL, -ENOMEM.
 */
int grpc_set_memory_limit(hostdev_loop *loop, size_t bytes);
/* End the call with @status and @message (NULL or percent-encoded by this function) in the
 * trailers; a call that sent nothing ends Trailers-Only. The call stays valid until its close
 * callback. */
int grpc_call_finish(struct grpc_call *call, int status, const char *message);
/* Run @fn when the stream closes (peer reset, connection closed, server shutdown, or after
 * finish has been flushed). After @fn the call is freed. */
void grpc_call_on_close(struct grpc_call *call, void (*fn)(struct grpc_call *call, void *userdata),
			void *userdata);
/* The request's :path and :authority. */
const char *grpc_call_path(const struct grpc_call *call);
const char *grpc_call_authority(const struct grpc_call *call);

/* ---------------------------------------------------------------------------------------------- */
/* Client */

struct grpc_client_call;

/* ---------------------------------------------------------------------------------------------- */
/* The directory of a server's socket, watched (grpc_dir_watch.c) */

enum grpc_dir_change_what {
	GRPC_DIR_CREATED = 1, /* an entry was created or moved in */
	GRPC_DIR_REMOVED = 2, /* an entry was deleted or moved out */
	GRPC_DIR_LOST = 3,    /* events were lost (queue overflow): check everything; name "" */
	GRPC_DIR_GONE = 4,    /* the directory itself was removed or moved; name "" */
};

struct grpc_dir_change {
	const char *name;  /* the entry's name, valid during the callback only */
	unsigned int what; /* enum grpc_dir_change_what */
};

/* The changes of one read, in order; the callback may stop the watch. */
typedef void (*grpc_dir_watch_fn)(const struct grpc_dir_change *changes, size_t n, void *userdata);

struct grpc_dir_watch;

/* Watch directory @dir with inotify on @loop. Returns 0, or a negative errno (no inotify
 * instance left, no such directory, ...) with no message: the caller says what it loses. */
int grpc_dir_watch_start(hostdev_loop *loop, const char *dir, grpc_dir_watch_fn fn, void *userdata,
			 struct grpc_dir_watch **out);
/* Stop and free; NULL-safe. */
void grpc_dir_watch_stop(struct grpc_dir_watch *w);

/* Result of a unary call: @status (GRPC_STATUS_*, or UNAVAILABLE when the connection failed),
 * @message the grpc-message or a description of the local failure, and the response message
 * (NULL when none). Runs exactly once, on the loop. The call is freed after it returns. */
typedef void (*grpc_client_done_fn)(int status, const char *message, const uint8_t *response,
				    size_t length, void *userdata);

/*
 * Start a unary call to @method_path on the server at @socket_path, with a grpc-timeout of
 * @timeout_ms (also enforced locally). No pings are sent. The loop keeps serving while the call
 * is in flight. *@out (may be NULL) can be used to cancel the call before it completes.
 */
int grpc_client_unary(hostdev_loop *loop, const char *socket_path, const char *method_path,
		      const uint8_t *request, size_t length, int timeout_ms,
		      grpc_client_done_fn done, void *userdata, struct grpc_client_call **out);
/* Cancel: @done is NOT called. Only valid before @done ran. */
void grpc_client_cancel(struct grpc_client_call *call);

/* ---------------------------------------------------------------------------------------------- */
/* Connection core, for the fuzzer: feed bytes to a server connection without a socket. */

struct grpc_conn;
/* A connection of @server whose output goes nowhere. */
int grpc_conn_new_detached(struct grpc_server *server, struct grpc_conn **out);
/* Feed received bytes; returns 0, or a negative errno once the connection is to be closed. */
int grpc_conn_feed(struct grpc_conn *conn, const uint8_t *data, size_t length);
void grpc_conn_free(struct grpc_conn *conn);

#endif
