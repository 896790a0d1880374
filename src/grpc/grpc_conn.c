/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One server connection: an nghttp2 server session fed from a non-blocking AF_UNIX socket (or,
 * for the fuzzer, from a caller with no socket), and its calls, one per HTTP/2 stream.
 *
 * nghttp2 runs with its HTTP messaging checks off (old kubelets send the socket path as
 * :authority, which they reject), so this file validates what gRPC needs itself: :method POST,
 * content-type application/grpc[+proto|;...], :path naming a known method, identity encoding.
 *
 * Re-entrancy: handlers and close callbacks run inside nghttp2 callbacks and may send on any
 * call, finish calls, or shut the whole server down. A connection counts how deep it is in its
 * own processing (busy); sending while busy only queues (the outermost frame writes), and a
 * connection closed while busy is freed by the outermost frame.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "grpc_internal.h"

/* Read at most this many chunks per readiness event, so that one peer cannot starve the rest. */
#define READS_PER_EVENT 16
#define READ_CHUNK (16u * 1024)

struct grpc_call {
	struct grpc_conn *conn;
	int32_t stream_id;
	char *method; /* :method */
	char *path;
	char *authority;
	char *content_type;
	char *encoding; /* grpc-encoding */
	const struct grpc_method *entry;

	bool remote_closed; /* END_STREAM received */
	bool handled;	    /* the handler ran, or the call was answered with an error */
	bool response_started;
	bool finished;
	bool deferred; /* the data provider returned NGHTTP2_ERR_DEFERRED */
	bool closed;   /* close callback running or ran */
	int status;
	char *status_message; /* percent-encoded */

	struct grpc_reader reader;
	struct grpc_buf out;
	/* grpc_call_send_latest(): a whole message not yet started, replaced by the next one. */
	struct grpc_buf latest;

	void (*close_fn)(struct grpc_call *call, void *userdata);
	void *close_userdata;
	struct grpc_call *prev, *next;
};

struct grpc_conn {
	struct grpc_server *server; /* NULL once closed by the server */
	hostdev_loop *loop;
	hostdev_ctx *ctx;
	int fd; /* -1: detached, output is discarded */
	struct loop_source *source;
	uint32_t events;
	nghttp2_session *session;
	struct grpc_call *calls;
	char peer[96];
	struct grpc_buf out; /* produced by nghttp2, not yet taken by the socket */
	size_t buffered;     /* request bytes held by the readers of all calls */
	size_t queued;	     /* output bytes waiting: every call's out and latest, and out */
	/* The loop's memory budget (NULL: detached connection); this connection's links in its
	 * list. */
	struct grpc_budget *budget;
	struct grpc_conn *budget_prev, *budget_next;
	/* Idleness: calls handed to a handler and not closed yet (a ListAndWatch stream counts,
	 * a request still arriving does not), when the last byte came or the last such call
	 * ended, and the timer that closes the connection after the server's idle timeout. */
	unsigned int serving;
	uint64_t last_activity_ms;
	struct loop_source *idle_timer;
	unsigned int busy;
	bool dead;
	bool destroyed;
	bool write_shut; /* graceful close: our side is shut down, waiting for the peer's */
	struct grpc_conn *prev, *next;
};

static void conn_destroy(struct grpc_conn *conn);

/* ---------------------------------------------------------------------------------------------- */
/* Memory budget */

/*
 * What every server connection of a loop holds (output waiting for peers that do not read,
 * incomplete requests), against one limit: each call is bounded (4 MiB per request message, 16
 * MiB of output), each connection too (64 MiB of requests, 1024 streams), but many calls on many
 * connections are not. Over the limit, the connection that holds the most is closed, on the next
 * loop round (never inside the grpc_call_send() that went over: its caller may be looping over
 * the streams a close would free).
 */
struct grpc_budget {
	hostdev_loop *loop; /* not a reference: the loop owns the budget */
	size_t used, limit;
	struct grpc_conn *conns;
	struct loop_source *check;
};

static void budget_free(void *state)
{
	free(state);
}

/* The budget of @loop, created on first use. NULL without memory (then nothing is counted). */
static struct grpc_budget *budget_of(hostdev_loop *loop)
{
	struct grpc_budget *b = loop_slot(loop, LOOP_SLOT_TRANSPORT);

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->loop = loop;
	b->limit = GRPC_MAX_LOOP_BUFFERED;
	loop_set_slot(loop, LOOP_SLOT_TRANSPORT, b, budget_free);
	return b;
}

int grpc_set_memory_limit(hostdev_loop *loop, size_t bytes)
{
	struct grpc_budget *b;

	if (!loop || bytes == 0)
		return -EINVAL;
	loop_lock(loop);
	b = budget_of(loop);
	if (b)
		b->limit = bytes;
	loop_unlock(loop);
	return b ? 0 : -ENOMEM;
}

static size_t conn_held(const struct grpc_conn *conn)
{
	return conn->queued + conn->buffered;
}

static void budget_check(struct loop_source *source, void *userdata)
{
	struct grpc_budget *b = userdata;

	b->check = NULL;
	while (b->used > b->limit) {
		struct grpc_conn *worst = NULL;

		for (struct grpc_conn *c = b->conns; c; c = c->budget_next)
			if (!worst || conn_held(c) > conn_held(worst))
				worst = c;
		if (!worst || conn_held(worst) == 0)
			break;
		log_warn(
		    worst->ctx,
		    "grpc: %s: closing the connection: it holds %zu bytes (output its peer does "
		    "not read, incomplete requests), the most of all, and the connections of "
		    "this loop hold %zu bytes, over their budget of %zu",
		    worst->peer, conn_held(worst), b->used, b->limit);
		grpc_conn_close(worst);
	}
}

/* @conn's held bytes change by @delta (queued output when @output, else requests). */
static void account(struct grpc_conn *conn, bool output, ptrdiff_t delta)
{
	struct grpc_budget *b = conn->budget;

	if (output)
		conn->queued = (size_t)((ptrdiff_t)conn->queued + delta);
	else
		conn->buffered = (size_t)((ptrdiff_t)conn->buffered + delta);
	if (!b)
		return;
	b->used = (size_t)((ptrdiff_t)b->used + delta);
	if (delta > 0 && b->used > b->limit && !b->check &&
	    loop_add_timer(b->loop, 0, budget_check, b, &b->check) < 0)
		b->check = NULL;
}

static void budget_join(struct grpc_conn *conn)
{
	struct grpc_budget *b = budget_of(conn->loop);

	if (!b)
		return;
	conn->budget = b;
	conn->budget_next = b->conns;
	if (b->conns)
		b->conns->budget_prev = conn;
	b->conns = conn;
}

static void budget_leave(struct grpc_conn *conn)
{
	struct grpc_budget *b = conn->budget;

	if (!b)
		return;
	b->used -= conn_held(conn);
	if (conn->budget_prev)
		conn->budget_prev->budget_next = conn->budget_next;
	else
		b->conns = conn->budget_next;
	if (conn->budget_next)
		conn->budget_next->budget_prev = conn->budget_prev;
	conn->budget = NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Idle connections */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void idle_arm(struct grpc_conn *conn, uint64_t delay_ms);

/*
 * A connection is idle when no call of it is being served and nothing arrived for the server's
 * idle timeout: a client that connects and says nothing holds a file descriptor for nothing, and
 * enough of them lock new clients (the kubelet) out. The kubelet's own connection carries its
 * ListAndWatch stream, which is served for as long as it is open, so it is never idle however long
 * it stays silent; a request that is still arriving (a client that stopped half-way) does not
 * count as served, only its bytes do.
 */
static void idle_check(struct loop_source *source, void *userdata)
{
	struct grpc_conn *conn = userdata;
	uint64_t timeout, quiet;

	conn->idle_timer = NULL;
	if (!conn->server || conn->dead)
		return; /* being closed anyway */
	timeout = (uint64_t)conn->server->idle_timeout_ms;
	/* A connection being served is not idle: the timer is armed again when its last call
	 * ends (call_free()), not every timeout for as long as a ListAndWatch stream stays open,
	 * which would wake an idle server once a minute for nothing. */
	if (conn->serving) {
		log_debug(conn->ctx, "grpc: %s: idle timer: %u calls being served, not idle",
			  conn->peer, conn->serving);
		return;
	}
	quiet = now_ms() - conn->last_activity_ms;
	if (quiet < timeout) {
		idle_arm(conn, timeout - quiet);
		return;
	}
	log_info(conn->ctx,
		 "grpc: %s: closing the connection: no call and nothing received for %llu ms",
		 conn->peer, (unsigned long long)quiet);
	grpc_conn_close(conn);
}

static void idle_arm(struct grpc_conn *conn, uint64_t delay_ms)
{
	if (conn->server && conn->server->idle_timeout_ms > 0 &&
	    loop_add_timer(conn->loop, delay_ms, idle_check, conn, &conn->idle_timer) < 0)
		conn->idle_timer = NULL; /* without a timer the connection just stays */
}

/*
 * A call of @conn is handed to a handler: while it is served the connection is not idle, so its
 * idle timer goes (call_free() arms it again when the last call ends). Left armed, it would wake
 * the loop once, a timeout after the kubelet connected, only to find the ListAndWatch stream
 * still open: the one wake-up of an idle server that serves a stream (issue 15).
 */
static void serving_begin(struct grpc_conn *conn)
{
	if (conn->serving++ == 0 && conn->idle_timer) {
		loop_remove(conn->idle_timer);
		conn->idle_timer = NULL;
	}
}

bool grpc_close_idlest(hostdev_loop *loop)
{
	struct grpc_budget *b = loop_slot(loop, LOOP_SLOT_TRANSPORT);
	struct grpc_conn *idlest = NULL;

	for (struct grpc_conn *c = b ? b->conns : NULL; c; c = c->budget_next)
		if (!c->serving && !c->dead &&
		    (!idlest || c->last_activity_ms < idlest->last_activity_ms))
			idlest = c;
	if (!idlest)
		return false;
	log_warn(idlest->ctx,
		 "grpc: %s: closing the connection to make room: out of file descriptors, and it "
		 "has no call and received nothing for %llu ms, the longest of all",
		 idlest->peer, (unsigned long long)(now_ms() - idlest->last_activity_ms));
	grpc_conn_close(idlest);
	return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Output */

static void conn_update_events(struct grpc_conn *conn)
{
	uint32_t events = EPOLLIN | (grpc_buf_pending(&conn->out) ? EPOLLOUT : 0);

	if (conn->source && events != conn->events && loop_modify_fd(conn->source, events) == 0)
		conn->events = events;
}

/* Write what the socket takes; true when everything pending went out. */
static bool conn_write_pending(struct grpc_conn *conn)
{
	while (grpc_buf_pending(&conn->out)) {
		ssize_t n = send(conn->fd, conn->out.data + conn->out.off,
				 grpc_buf_pending(&conn->out), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n < 0) {
			log_debug(conn->ctx, "grpc: %s: write failed: %s", conn->peer,
				  strerror(errno));
			conn->dead = true;
			account(conn, true, -(ptrdiff_t)grpc_buf_pending(&conn->out));
			grpc_buf_clear(&conn->out);
			return false;
		}
		grpc_buf_consume(&conn->out, (size_t)n);
		account(conn, true, -(ptrdiff_t)n);
	}
	return true;
}

/*
 * Output gathered before a write: nghttp2 hands out a reply as HEADERS, DATA and trailing HEADERS
 * one at a time, and writing each cost three send(2) per unary reply where one does.
 */
#define CONN_WRITE_BATCH (64 * 1024)

/* Let nghttp2 produce frames and write them until it has nothing more or the socket is full. */
static void conn_output(struct grpc_conn *conn)
{
	while (!conn->dead) {
		const uint8_t *data;
		ssize_t n;

		if (conn->fd >= 0 && grpc_buf_pending(&conn->out) >= CONN_WRITE_BATCH &&
		    !conn_write_pending(conn))
			break;
		n = nghttp2_session_mem_send(conn->session, &data);
		if (n < 0) {
			log_debug(conn->ctx, "grpc: %s: %s", conn->peer, nghttp2_strerror((int)n));
			conn->dead = true;
			break;
		}
		if (n == 0) {
			if (conn->fd >= 0)
				conn_write_pending(conn);
			break;
		}
		if (conn->fd >= 0) {
			if (grpc_buf_append(&conn->out, data, (size_t)n) < 0) {
				conn->dead = true;
				break;
			}
			account(conn, true, n);
		}
	}
	if (!conn->dead && !nghttp2_session_want_read(conn->session) &&
	    !nghttp2_session_want_write(conn->session) && !grpc_buf_pending(&conn->out)) {
		log_debug(conn->ctx, "grpc: %s: connection done", conn->peer);
		conn->dead = true;
	}
	grpc_buf_trim(&conn->out); /* all written: a big batch's memory goes */
	if (!conn->dead)
		conn_update_events(conn);
}

static void conn_enter(struct grpc_conn *conn)
{
	conn->busy++;
}

/* Leave a processing frame: the outermost one writes, and frees a closed connection. */
static void conn_leave(struct grpc_conn *conn)
{
	if (conn->busy == 1 && !conn->dead)
		conn_output(conn);
	conn->busy--;
	if (conn->busy == 0 && conn->dead && conn->fd >= 0)
		conn_destroy(conn);
}

/* Write now (accept, detached connections): only where no user callback can be on the stack. */
static void conn_kick(struct grpc_conn *conn)
{
	conn_enter(conn);
	conn_leave(conn);
}

/*
 * Output queued by grpc_call_send()/finish() outside the connection's own processing (timers,
 * other connections, other threads): written on the next loop round through EPOLLOUT, never
 * inside the call, so that close callbacks (a write error, a stream that completes) do not run
 * under the caller's feet. While busy, the outermost frame writes it anyway.
 */
static void conn_schedule_output(struct grpc_conn *conn)
{
	if (conn->busy || !conn->source || (conn->events & EPOLLOUT))
		return;
	if (loop_modify_fd(conn->source, EPOLLIN | EPOLLOUT) == 0)
		conn->events = EPOLLIN | EPOLLOUT;
}

/* ---------------------------------------------------------------------------------------------- */
/* Calls */

static struct grpc_call *stream_call(struct grpc_conn *conn, int32_t stream_id)
{
	return nghttp2_session_get_stream_user_data(conn->session, stream_id);
}

static void call_free(struct grpc_call *call)
{
	struct grpc_conn *conn = call->conn;

	if (call->handled) {
		conn->serving--;
		conn->last_activity_ms = now_ms();
		if (!conn->serving && !conn->idle_timer && !conn->dead && conn->server)
			idle_arm(conn, (uint64_t)conn->server->idle_timeout_ms);
	}

	if (call->prev)
		call->prev->next = call->next;
	else
		conn->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	account(conn, false, -(ptrdiff_t)grpc_reader_buffered(&call->reader));
	account(conn, true,
		-(ptrdiff_t)(grpc_buf_pending(&call->out) + grpc_buf_pending(&call->latest)));
	grpc_reader_clear(&call->reader);
	grpc_buf_clear(&call->out);
	grpc_buf_clear(&call->latest);
	free(call->method);
	free(call->path);
	free(call->authority);
	free(call->content_type);
	free(call->encoding);
	free(call->status_message);
	free(call);
}

/* The stream is gone: run the close callback, then free the call. */
static void call_close(struct grpc_call *call)
{
	if (call->closed)
		return;
	call->closed = true;
	if (call->stream_id > 0 && call->conn->session)
		nghttp2_session_set_stream_user_data(call->conn->session, call->stream_id, NULL);
	if (call->close_fn)
		call->close_fn(call, call->close_userdata);
	call_free(call);
}

static ssize_t call_read_data(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			      size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			      void *user_data)
{
	struct grpc_call *call = source->ptr;
	size_t n;

	/* The latest message starts once everything before it is out (a message is never cut
	 * short); until then a newer one may still replace it. */
	if (grpc_buf_pending(&call->out) == 0 && grpc_buf_pending(&call->latest)) {
		grpc_buf_clear(&call->out);
		call->out = call->latest;
		memset(&call->latest, 0, sizeof(call->latest));
	}
	n = grpc_buf_pending(&call->out);
	if (n > length)
		n = length;
	/* A drained buffer may have been freed (grpc_buf_trim()): no data pointer then. */
	if (n)
		memcpy(buf, call->out.data + call->out.off, n);
	grpc_buf_consume(&call->out, n);
	grpc_buf_trim(&call->out); /* a whole list taken: not kept until the next one */
	account(call->conn, true, -(ptrdiff_t)n);
	if (grpc_buf_pending(&call->out) == 0 && grpc_buf_pending(&call->latest) == 0) {
		if (call->finished) {
			char status[16];
			nghttp2_nv nva[2];
			size_t nvlen = 0;

			/* OK, nearly every call's, without snprintf() on the Allocate path. */
			if (call->status == GRPC_STATUS_OK)
				memcpy(status, "0", 2);
			else
				snprintf(status, sizeof(status), "%d", call->status);
			nva[nvlen++] = grpc_nv("grpc-status", status);
			if (call->status_message && *call->status_message)
				nva[nvlen++] = grpc_nv("grpc-message", call->status_message);
			*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
			if (nghttp2_submit_trailer(session, stream_id, nva, nvlen) != 0)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		} else if (n == 0) {
			call->deferred = true;
			return NGHTTP2_ERR_DEFERRED;
		}
	}
	return (ssize_t)n;
}

static int call_start_response(struct grpc_call *call)
{
	nghttp2_nv nva[] = {grpc_nv(":status", "200"), grpc_nv("content-type", "application/grpc")};
	nghttp2_data_provider prd = {.source.ptr = call, .read_callback = call_read_data};
	int r;

	r = nghttp2_submit_response(call->conn->session, call->stream_id, nva, ARRAY_SIZE(nva),
				    &prd);
	if (r != 0)
		return hostdev_error(call->conn->ctx, -EIO, "grpc: %s: stream %d: %s",
				     call->conn->peer, call->stream_id, nghttp2_strerror(r));
	call->response_started = true;
	return 0;
}

static void call_resume(struct grpc_call *call)
{
	if (call->deferred) {
		call->deferred = false;
		nghttp2_session_resume_data(call->conn->session, call->stream_id);
	}
}

static int call_usable(struct grpc_call *call)
{
	if (!call)
		return -EINVAL;
	if (call->closed || call->conn->dead)
		return hostdev_error(call->conn->ctx, -EPIPE, "grpc: %s: call %s is closed",
				     call->conn->peer, call->path ? call->path : "?");
	if (call->finished)
		return hostdev_error(call->conn->ctx, -EINVAL, "grpc: %s: call %s already finished",
				     call->conn->peer, call->path ? call->path : "?");
	return 0;
}

/* Append @message with its gRPC prefix (uncompressed, big-endian length) to @b. */
static int frame_message(struct grpc_buf *b, const uint8_t *message, size_t length)
{
	uint8_t prefix[GRPC_PREFIX_LEN];

	grpc_put_prefix(prefix, length);
	if (grpc_buf_append(b, prefix, sizeof(prefix)) < 0 ||
	    grpc_buf_append(b, message, length) < 0)
		return -ENOMEM;
	return 0;
}

static int call_queued(struct grpc_call *call);

int grpc_call_send(struct grpc_call *call, const uint8_t *message, size_t length)
{
	int r = call_usable(call);

	if (r < 0)
		return r;
	if (length > UINT32_MAX)
		return -EMSGSIZE;
	if (grpc_buf_pending(&call->out) + grpc_buf_pending(&call->latest) + length >
	    GRPC_MAX_SEND_BUFFER)
		return hostdev_error(call->conn->ctx, -ENOBUFS,
				     "grpc: %s: call %s: %zu bytes wait for the peer to read",
				     call->conn->peer, call->path, grpc_buf_pending(&call->out));
	/* After a latest message: this one follows it, so it goes behind it. */
	if (grpc_buf_pending(&call->latest)) {
		if (grpc_buf_append(&call->out, call->latest.data + call->latest.off,
				    grpc_buf_pending(&call->latest)) < 0)
			return hostdev_error(call->conn->ctx, -ENOMEM, "grpc: out of memory");
		grpc_buf_clear(&call->latest); /* moved: the bytes held do not change */
	}
	r = frame_message(&call->out, message, length);
	if (r < 0)
		return hostdev_error(call->conn->ctx, r, "grpc: out of memory");
	account(call->conn, true, (ptrdiff_t)(GRPC_PREFIX_LEN + length));
	return call_queued(call);
}

int grpc_call_send_latest_owned(struct grpc_call *call, uint8_t *buf, size_t length)
{
	struct grpc_buf framed;
	int r = call_usable(call);

	if (r == 0 && length > UINT32_MAX)
		r = -EMSGSIZE;
	if (r == 0 && grpc_buf_pending(&call->out) + length > GRPC_MAX_SEND_BUFFER)
		r = hostdev_error(call->conn->ctx, -ENOBUFS,
				  "grpc: %s: call %s: %zu bytes wait for the peer to read",
				  call->conn->peer, call->path, grpc_buf_pending(&call->out));
	if (r < 0) {
		free(buf);
		return r;
	}
	_Static_assert(GRPC_MESSAGE_HEADROOM == GRPC_PREFIX_LEN, "the headroom is the prefix");
	grpc_put_prefix(buf, length);
	framed = (struct grpc_buf){
	    .data = buf, .len = GRPC_PREFIX_LEN + length, .cap = GRPC_PREFIX_LEN + length};
	/* An unsent older state is worth nothing once a newer one exists. */
	account(call->conn, true,
		(ptrdiff_t)grpc_buf_pending(&framed) - (ptrdiff_t)grpc_buf_pending(&call->latest));
	grpc_buf_clear(&call->latest);
	call->latest = framed;
	return call_queued(call);
}

int grpc_call_send_latest(struct grpc_call *call, const uint8_t *message, size_t length)
{
	uint8_t *buf;
	int r = call_usable(call);

	if (r < 0)
		return r;
	if (length > UINT32_MAX)
		return -EMSGSIZE;
	/* Exactly the framed size: the buffer is kept until the peer has read it. */
	buf = malloc(GRPC_MESSAGE_HEADROOM + length);
	if (!buf)
		return hostdev_error(call->conn->ctx, -ENOMEM, "grpc: out of memory");
	if (length)
		memcpy(buf + GRPC_MESSAGE_HEADROOM, message, length);
	return grpc_call_send_latest_owned(call, buf, length);
}

/* A message was queued: make sure nghttp2 asks for it. */
static int call_queued(struct grpc_call *call)
{
	int r;

	if (!call->response_started) {
		r = call_start_response(call);
		if (r < 0)
			return r;
	} else {
		call_resume(call);
	}
	conn_schedule_output(call->conn);
	return 0;
}

/* Trailers-Only response (HEADERS with END_STREAM) with HTTP status @http. */
static int call_trailers_only(struct grpc_call *call, const char *http)
{
	char status[16];
	nghttp2_nv nva[4];
	size_t nvlen = 0;
	int r;

	snprintf(status, sizeof(status), "%d", call->status);
	nva[nvlen++] = grpc_nv(":status", http);
	nva[nvlen++] = grpc_nv("content-type", "application/grpc");
	nva[nvlen++] = grpc_nv("grpc-status", status);
	if (call->status_message && *call->status_message)
		nva[nvlen++] = grpc_nv("grpc-message", call->status_message);
	r = nghttp2_submit_response(call->conn->session, call->stream_id, nva, nvlen, NULL);
	if (r != 0)
		return hostdev_error(call->conn->ctx, -EIO, "grpc: %s: stream %d: %s",
				     call->conn->peer, call->stream_id, nghttp2_strerror(r));
	call->response_started = true;
	return 0;
}

static int call_set_status(struct grpc_call *call, int status, const char *message)
{
	call->finished = true;
	call->status = status;
	if (message && *message) {
		call->status_message = grpc_percent_encode(message);
		if (!call->status_message)
			return -ENOMEM;
	}
	return 0;
}

int grpc_call_finish(struct grpc_call *call, int status, const char *message)
{
	int r = call_usable(call);

	if (r < 0)
		return r;
	if (call_set_status(call, status, message) < 0)
		return hostdev_error(call->conn->ctx, -ENOMEM, "grpc: out of memory");
	if (!call->response_started)
		r = call_trailers_only(call, "200");
	else
		call_resume(call);
	conn_schedule_output(call->conn);
	return r;
}

void grpc_call_on_close(struct grpc_call *call, void (*fn)(struct grpc_call *call, void *userdata),
			void *userdata)
{
	if (!call)
		return;
	call->close_fn = fn;
	call->close_userdata = userdata;
}

const char *grpc_call_path(const struct grpc_call *call)
{
	return call ? call->path : NULL;
}

const char *grpc_call_authority(const struct grpc_call *call)
{
	return call ? call->authority : NULL;
}

/* Answer the request with an error before (or instead of) its handler. */
static void call_fail(struct grpc_call *call, const char *http, int status, const char *message)
{
	struct grpc_conn *conn = call->conn;

	log_debug(conn->ctx, "grpc: %s: %s %s: %s", conn->peer,
		  call->path ? call->path : "(no path)", grpc_status_name(status), message);
	if (!call->handled)
		serving_begin(conn);
	call->handled = true;
	account(conn, false, -(ptrdiff_t)grpc_reader_buffered(&call->reader));
	grpc_reader_clear(&call->reader);
	if (call->finished)
		return;
	if (call_set_status(call, status, message) < 0) {
		nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
		return;
	}
	if (!call->response_started) {
		if (call_trailers_only(call, http) < 0)
			nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
						  NGHTTP2_INTERNAL_ERROR);
	} else {
		call_resume(call);
	}
}

static bool content_type_is_grpc(const char *ct)
{
	static const char prefix[] = "application/grpc";

	if (!ct || strncasecmp(ct, prefix, sizeof(prefix) - 1) != 0)
		return false;
	ct += sizeof(prefix) - 1;
	return *ct == '\0' || *ct == '+' || *ct == ';';
}

/* The request headers are complete: decide whether the call goes to a handler. */
static void call_request_headers(struct grpc_call *call)
{
	struct grpc_server *server = call->conn->server;
	char message[256];

	if (!call->method || strcmp(call->method, "POST") != 0) {
		snprintf(message, sizeof(message), "HTTP method %.32s is not POST",
			 call->method ? call->method : "(none)");
		call_fail(call, "405", GRPC_STATUS_INTERNAL, message);
		return;
	}
	if (!content_type_is_grpc(call->content_type)) {
		snprintf(message, sizeof(message), "content-type %.64s is not application/grpc",
			 call->content_type ? call->content_type : "(none)");
		call_fail(call, "415", GRPC_STATUS_INTERNAL, message);
		return;
	}
	if (!call->path || call->path[0] != '/') {
		call_fail(call, "200", GRPC_STATUS_UNIMPLEMENTED, "missing or malformed :path");
		return;
	}
	if (call->encoding && strcmp(call->encoding, "identity") != 0) {
		snprintf(message, sizeof(message),
			 "grpc-encoding %.32s is not supported (only identity)", call->encoding);
		call_fail(call, "200", GRPC_STATUS_UNIMPLEMENTED, message);
		return;
	}
	for (size_t i = 0; server && i < server->n_methods; i++)
		if (strcmp(server->methods[i].path, call->path) == 0) {
			call->entry = &server->methods[i];
			return;
		}
	snprintf(message, sizeof(message), "unknown method %.200s", call->path);
	call_fail(call, "200", GRPC_STATUS_UNIMPLEMENTED, message);
}

/* The client half-closed: hand the request to the handler. */
static void call_end_of_request(struct grpc_call *call)
{
	struct grpc_conn *conn = call->conn;
	struct grpc_server *server = conn->server;

	call->remote_closed = true;
	if (call->handled)
		return;
	if (grpc_reader_partial(&call->reader)) {
		call_fail(call, "200", GRPC_STATUS_INTERNAL,
			  "the request ended inside a message (truncated gRPC message)");
		return;
	}
	if (call->reader.complete != 1) {
		call_fail(call, "200", GRPC_STATUS_INTERNAL,
			  "no request message (a unary request carries exactly one)");
		return;
	}
	if (!server || !call->entry) {
		call_fail(call, "200", GRPC_STATUS_UNAVAILABLE, "the server is shutting down");
		return;
	}
	call->handled = true;
	serving_begin(conn);
	log_debug(conn->ctx, "grpc: %s: %s (%zu bytes)", conn->peer, call->path,
		  call->reader.message.len);
	call->entry->handler(call, call->reader.message.data, call->reader.message.len,
			     server->userdata);
	/* The handler may have closed the connection, but the call is only freed by the
	 * outermost frame. */
	account(conn, false, -(ptrdiff_t)grpc_reader_buffered(&call->reader));
	grpc_reader_clear(&call->reader);
}

/* ---------------------------------------------------------------------------------------------- */
/* nghttp2 callbacks */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call;

	if (conn->dead)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = calloc(1, sizeof(*call));
	if (!call)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	call->conn = conn;
	call->stream_id = frame->hd.stream_id;
	grpc_reader_init(&call->reader, GRPC_MAX_RECEIVE_MESSAGE);
	call->next = conn->calls;
	if (conn->calls)
		conn->calls->prev = call;
	conn->calls = call;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
	return 0;
}

static void set_header(char **field, const uint8_t *value, size_t length)
{
	free(*field);
	*field = strndup((const char *)value, length);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call;

	if (conn->dead)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = stream_call(conn, frame->hd.stream_id);
	if (!call)
		return 0;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":method"))
		set_header(&call->method, value, valuelen);
	else if (IS(":path"))
		set_header(&call->path, value, valuelen);
	else if (IS(":authority"))
		set_header(&call->authority, value, valuelen);
	else if (IS("host") && !call->authority)
		set_header(&call->authority, value, valuelen);
	else if (IS("content-type"))
		set_header(&call->content_type, value, valuelen);
	else if (IS("grpc-encoding"))
		set_header(&call->encoding, value, valuelen);
#undef IS
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call;

	if (conn->dead)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	call = stream_call(conn, frame->hd.stream_id);
	if (!call)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		call_request_headers(call);
	if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !call->remote_closed)
		call_end_of_request(call);
	return conn->dead ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			      const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call;
	size_t before;
	char err[160];
	int status;

	if (conn->dead)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	call = stream_call(conn, stream_id);
	if (!call || call->handled || call->remote_closed)
		return 0;
	if (conn->buffered + len > GRPC_MAX_CONN_BUFFERED) {
		snprintf(err, sizeof(err),
			 "the connection holds more than %u bytes of incomplete requests",
			 GRPC_MAX_CONN_BUFFERED);
		call_fail(call, "200", GRPC_STATUS_RESOURCE_EXHAUSTED, err);
		return 0;
	}
	before = grpc_reader_buffered(&call->reader);
	status = grpc_reader_feed(&call->reader, data, len, err, sizeof(err));
	account(conn, false, (ptrdiff_t)grpc_reader_buffered(&call->reader) - (ptrdiff_t)before);
	if (status != 0)
		call_fail(call, "200", status, err);
	return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call;

	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	call = stream_call(conn, frame->hd.stream_id);
	/* The response is complete but the client still sends: tell it to stop (RFC 9113 8.1). */
	if (call && !call->remote_closed)
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
					  NGHTTP2_NO_ERROR);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call = stream_call(conn, stream_id);

	if (call) {
		if (error_code != NGHTTP2_NO_ERROR || !call->finished)
			log_debug(conn->ctx, "grpc: %s: %s closed by the peer (%s)", conn->peer,
				  call->path ? call->path : "stream",
				  nghttp2_http2_strerror(error_code));
		call_close(call);
	}
	return 0;
}

static void set_callbacks(nghttp2_session_callbacks *cbs)
{
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}

static int conn_session_new(struct grpc_conn *conn)
{
	nghttp2_settings_entry settings[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, GRPC_MAX_CONCURRENT_STREAMS},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_LIST},
	};

	return grpc_session_new(true, set_callbacks, conn, settings, ARRAY_SIZE(settings),
				&conn->session);
}

/* ---------------------------------------------------------------------------------------------- */
/* Connection lifetime */

static void conn_unlink(struct grpc_conn *conn)
{
	struct grpc_server *server = conn->server;

	if (!server)
		return;
	if (conn->prev)
		conn->prev->next = conn->next;
	else if (server->conns == conn)
		server->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	conn->server = NULL;
}

static void conn_destroy(struct grpc_conn *conn)
{
	if (conn->destroyed)
		return;
	conn->destroyed = conn->dead = true;
	/* Close callbacks may call back into the server: keep the connection busy meanwhile (a
	 * close from there only marks it). A call is freed right after its callback. */
	conn->busy++;
	while (conn->calls)
		call_close(conn->calls);
	conn->busy--;
	conn_unlink(conn);
	loop_remove(conn->source);
	loop_remove(conn->idle_timer);
	conn->idle_timer = NULL;
	if (conn->fd >= 0) {
		log_debug(conn->ctx, "grpc: %s: connection closed", conn->peer);
		close(conn->fd);
	}
	nghttp2_session_del(conn->session);
	account(conn, true, -(ptrdiff_t)grpc_buf_pending(&conn->out));
	budget_leave(conn);
	grpc_buf_clear(&conn->out);
	hostdev_loop_unref(conn->loop);
	free(conn);
}

void grpc_conn_close(struct grpc_conn *conn)
{
	if (!conn || conn->destroyed)
		return;
	conn_unlink(conn);
	if (!conn->dead && conn->busy == 0 && conn->fd >= 0) {
		/* Best effort, without blocking: what is queued (a last message, trailers), then
		 * GOAWAY. */
		conn->busy++;
		conn_output(conn);
		if (!conn->dead) {
			nghttp2_submit_goaway(
			    conn->session, NGHTTP2_FLAG_NONE,
			    nghttp2_session_get_last_proc_stream_id(conn->session),
			    NGHTTP2_NO_ERROR, NULL, 0);
			conn_output(conn);
		}
		conn->busy--;
	}
	conn->dead = true;
	if (conn->busy == 0)
		conn_destroy(conn);
}

struct grpc_conn *grpc_conn_next(struct grpc_conn *conn)
{
	return conn->next;
}

static void conn_io(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct grpc_conn *conn = userdata;
	uint8_t buf[READ_CHUNK];

	conn_enter(conn);
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (int i = 0; i < READS_PER_EVENT && !conn->dead; i++) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			ssize_t r;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n <= 0) {
				log_debug(conn->ctx, "grpc: %s: %s", conn->peer,
					  n == 0 ? "peer closed the connection" : strerror(errno));
				conn->dead = true;
				break;
			}
			conn->last_activity_ms = now_ms();
			r = nghttp2_session_mem_recv(conn->session, buf, (size_t)n);
			if (r < 0) {
				if (!conn->dead)
					log_debug(conn->ctx, "grpc: %s: bad HTTP/2 input: %s",
						  conn->peer, nghttp2_strerror((int)r));
				/* nghttp2 may have queued a GOAWAY that says why. */
				if (!conn->dead) {
					conn_output(conn);
					conn->dead = true;
				}
				break;
			}
		}
	}
	conn_leave(conn);
}

static int conn_new(struct grpc_server *server, int fd, struct grpc_conn **out)
{
	struct grpc_conn *conn = calloc(1, sizeof(*conn));
	int r;

	if (!conn)
		return -ENOMEM;
	conn->fd = fd;
	conn->loop = hostdev_loop_ref(server->loop);
	conn->ctx = server->ctx;
	conn->server = server;
	r = conn_session_new(conn);
	if (r < 0) {
		conn->fd = -1;
		conn_destroy(conn);
		return r;
	}
	*out = conn;
	return 0;
}

static bool peer_allowed(const struct grpc_server *server, uid_t uid)
{
	return uid == 0 || uid == geteuid() ||
	       (server->peer_uid != (uid_t)-1 && uid == server->peer_uid);
}

/* Who besides root may connect, for the refusal message: ", user 1000 and user 107". */
static const char *peer_users(const struct grpc_server *server, char *buf, size_t size)
{
	int n = 0;

	buf[0] = '\0';
	if (geteuid() != 0)
		n = snprintf(buf, size, ", user %u", (unsigned int)geteuid());
	if (server->peer_uid != (uid_t)-1 && server->peer_uid != geteuid() && server->peer_uid != 0)
		snprintf(buf + n, size - (size_t)n, " and user %u", (unsigned int)server->peer_uid);
	return buf;
}

int grpc_conn_accept(struct grpc_server *server, int fd)
{
	struct grpc_conn *conn;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char users[64];
	int r;

	server->n_accepted++;
	/*
	 * The socket file's mode keeps other users out, but a process that holds
	 * CAP_DAC_OVERRIDE, a mode widened by hand or a descriptor passed on gets past it: the
	 * peer's credentials decide.
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		r = -errno;
		log_warn(server->ctx, "grpc: %s: connection %lu refused: no peer credentials: %s",
			 server->socket_path, server->n_accepted, strerror(-r));
		close(fd);
		return r;
	}
	if (!peer_allowed(server, cred.uid)) {
		log_warn(server->ctx,
			 "grpc: %s: connection %lu from pid %d refused: user %u may not use this "
			 "socket (root%s may)",
			 server->socket_path, server->n_accepted, (int)cred.pid,
			 (unsigned int)cred.uid, peer_users(server, users, sizeof(users)));
		close(fd);
		return -EACCES;
	}
	r = conn_new(server, fd, &conn);
	if (r < 0) {
		close(fd);
		return hostdev_error(server->ctx, r, "grpc: %s: cannot serve a new connection: %s",
				     server->socket_path, strerror(-r));
	}
	if (cred.pid > 0)
		snprintf(conn->peer, sizeof(conn->peer), "%s: connection %lu (pid %d)",
			 server->socket_path, server->n_accepted, (int)cred.pid);
	else
		snprintf(conn->peer, sizeof(conn->peer), "%s: connection %lu", server->socket_path,
			 server->n_accepted);
	conn->events = EPOLLIN;
	budget_join(conn);
	r = loop_add_fd(server->loop, fd, conn->events, conn_io, conn, &conn->source);
	if (r < 0) {
		conn->server = NULL;
		conn_destroy(conn);
		return r;
	}
	conn->next = server->conns;
	if (server->conns)
		server->conns->prev = conn;
	server->conns = conn;
	log_debug(server->ctx, "grpc: %s: accepted", conn->peer);
	conn->last_activity_ms = now_ms();
	if (server->idle_timeout_ms > 0)
		idle_arm(conn, (uint64_t)server->idle_timeout_ms);
	conn_kick(conn);
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Graceful close (server stop) */

/*
 * Closing a socket that still has unread input, or while the peer still writes (a WINDOW_UPDATE
 * or PING in answer to our last DATA, a new call), resets the connection; gRPC clients then fail
 * the connection's streams and drop what they had not parsed yet, such as the last message and
 * the trailers of a ListAndWatch stream. So a stopping server writes everything, sends GOAWAY,
 * shuts down its sending side and keeps reading (and discarding) until the peer closes its side:
 * the peer has then read all of it.
 */

/* Produce and write what nghttp2 has; true once all of it is out. False when the socket is full
 * (wait for POLLOUT) or the connection failed (conn->dead). Unlike conn_output(), it never
 * decides that the connection is done. */
static bool linger_write(struct grpc_conn *conn)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n;

		if (!conn_write_pending(conn))
			return false;
		n = nghttp2_session_mem_send(conn->session, &data);
		if (n < 0) {
			conn->dead = true;
			return false;
		}
		if (n == 0)
			return true;
		if (grpc_buf_append(&conn->out, data, (size_t)n) < 0) {
			conn->dead = true;
			return false;
		}
	}
}

/* Read and discard what the peer sends; true once it closed its side (or failed). */
static bool linger_drain(struct grpc_conn *conn)
{
	uint8_t buf[READ_CHUNK];

	for (int i = 0; i < READS_PER_EVENT; i++) {
		ssize_t n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		return true;
	}
	return false;
}

/* One step of a graceful close; true when the connection needs no more waiting. */
static bool linger_step(struct grpc_conn *conn)
{
	if (!conn->write_shut) {
		if (!linger_write(conn))
			return conn->dead;
		if (shutdown(conn->fd, SHUT_WR) < 0)
			return true;
		conn->write_shut = true;
	}
	return linger_drain(conn);
}

void grpc_conn_linger_all(struct grpc_server *server, int linger_ms)
{
	uint64_t deadline = (uint64_t)monotonic_ms() + (uint64_t)(linger_ms > 0 ? linger_ms : 0);
	struct grpc_conn **conns;
	struct pollfd *pfds;
	size_t count = 0, n = 0;

	for (struct grpc_conn *c = server->conns; c; c = c->next)
		count++;
	if (count == 0)
		return;
	conns = calloc(count, sizeof(*conns));
	pfds = calloc(count, sizeof(*pfds));
	if (!conns || !pfds)
		goto out; /* the plain close follows */
	for (struct grpc_conn *c = server->conns; c; c = c->next) {
		/* A connection in its own processing (stop from a handler) cannot write now: it
		 * is closed when that processing ends, as before. */
		if (c->dead || c->busy || c->fd < 0)
			continue;
		if (nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
					  nghttp2_session_get_last_proc_stream_id(c->session),
					  NGHTTP2_NO_ERROR, NULL, 0) != 0)
			continue;
		if (!linger_step(c))
			conns[n++] = c;
		else
			c->dead = true;
	}
	while (n > 0) {
		uint64_t now = (uint64_t)monotonic_ms();
		size_t kept = 0;
		int r;

		if (now >= deadline)
			break;
		for (size_t i = 0; i < n; i++) {
			pfds[i].fd = conns[i]->fd;
			pfds[i].events = (short)(POLLIN | (conns[i]->write_shut ? 0 : POLLOUT));
			pfds[i].revents = 0;
		}
		r = poll(pfds, n, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n; i++) {
			if (pfds[i].revents && linger_step(conns[i]))
				conns[i]->dead = true;
			else
				conns[kept++] = conns[i];
		}
		n = kept;
	}
	for (size_t i = 0; i < n; i++)
		log_debug(conns[i]->ctx,
			  "grpc: %s: the peer did not close within %d ms of the shutdown; closing",
			  conns[i]->peer, linger_ms);
out:
	/* Nothing more goes out: the close that follows only frees. */
	for (struct grpc_conn *c = server->conns; c; c = c->next)
		if (c->write_shut)
			c->dead = true;
	free(conns);
	free(pfds);
}

/* ---------------------------------------------------------------------------------------------- */
/* Detached connections (fuzzing) */

int grpc_conn_new_detached(struct grpc_server *server, struct grpc_conn **out)
{
	struct grpc_conn *conn;
	int r;

	if (!server || !out)
		return -EINVAL;
	r = conn_new(server, -1, &conn);
	if (r < 0)
		return r;
	snprintf(conn->peer, sizeof(conn->peer), "detached connection");
	conn_kick(conn);
	*out = conn;
	return 0;
}

int grpc_conn_feed(struct grpc_conn *conn, const uint8_t *data, size_t length)
{
	ssize_t r;

	if (!conn)
		return -EINVAL;
	if (conn->dead)
		return -ECONNRESET;
	conn_enter(conn);
	r = nghttp2_session_mem_recv(conn->session, data, length);
	if (r < 0)
		conn->dead = true;
	conn_leave(conn);
	return conn->dead ? -ECONNRESET : 0;
}

void grpc_conn_free(struct grpc_conn *conn)
{
	if (!conn)
		return;
	conn->server = NULL;
	conn_destroy(conn);
}
