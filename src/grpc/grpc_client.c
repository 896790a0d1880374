/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unary gRPC client calls (Register to kubelet.sock, the plugin watcher's replies): one fresh
 * non-blocking AF_UNIX connection per call, an nghttp2 client session on it, one stream. The
 * deadline is a loop timer; everything else is readiness on the socket, so the loop serves its
 * other sockets while a call is in flight (kubelets >= 1.25 dial the plugin back inside
 * Register). The client never sends PINGs: the kubelet's grpc-go server answers frequent pings
 * with GOAWAY too_many_pings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc_internal.h"

#define READ_CHUNK (16u * 1024)
/* A connect() that found the listener's backlog full is retried after this long. */
#define CONNECT_RETRY_MS 10

struct grpc_client_call {
	hostdev_loop *loop;
	hostdev_ctx *ctx;
	char *socket_path;
	char *method_path;
	int timeout_ms;
	grpc_client_done_fn done;
	void *userdata;

	int fd;
	bool connected;
	struct sockaddr_un sa;
	socklen_t salen;
	struct loop_source *source;
	uint32_t events;
	struct loop_source *deadline;
	struct loop_source *later; /* connect retry, or completion outside grpc_client_unary() */

	nghttp2_session *session;
	int32_t stream_id;
	struct grpc_buf request; /* prefix + message, read by the data provider */
	struct grpc_buf out;	 /* produced by nghttp2, not yet taken by the socket */

	/* Response */
	int http_status;
	bool have_status;
	int status;
	char *message;
	struct grpc_reader reader;

	/* Result, once known */
	bool complete;
	int result_status;
	char *result_message;
};

static void call_destroy(struct grpc_client_call *call)
{
	loop_remove(call->source);
	loop_remove(call->deadline);
	loop_remove(call->later);
	if (call->fd >= 0)
		close(call->fd);
	nghttp2_session_del(call->session);
	grpc_buf_clear(&call->request);
	grpc_buf_clear(&call->out);
	grpc_reader_clear(&call->reader);
	free(call->message);
	free(call->result_message);
	free(call->socket_path);
	free(call->method_path);
	hostdev_loop_unref(call->loop);
	free(call);
}

/* Record the result (the first one wins). */
static void call_result(struct grpc_client_call *call, int status, const char *fmt, ...)
    HOSTDEV_PRINTF(3, 4);
static void call_result(struct grpc_client_call *call, int status, const char *fmt, ...)
{
	va_list ap;

	if (call->complete)
		return;
	call->complete = true;
	call->result_status = status;
	va_start(ap, fmt);
	if (vasprintf(&call->result_message, fmt, ap) < 0)
		call->result_message = NULL;
	va_end(ap);
}

/* Run done once and free the call. Only from a loop callback of this call. */
static void call_finish(struct grpc_client_call *call)
{
	const uint8_t *response = NULL;
	size_t length = 0;

	if (call->result_status == GRPC_STATUS_OK && call->reader.complete == 1) {
		response = call->reader.message.data;
		length = call->reader.message.len;
	}
	log_debug(call->ctx, "grpc: %s %s: %s%s%s", call->socket_path, call->method_path,
		  grpc_status_name(call->result_status), call->result_message ? ": " : "",
		  call->result_message ? call->result_message : "");
	/* Stop watching before done: it may start other calls or run for a while. */
	loop_remove(call->source);
	loop_remove(call->deadline);
	loop_remove(call->later);
	call->source = call->deadline = call->later = NULL;
	call->done(call->result_status, call->result_message ? call->result_message : "", response,
		   length, call->userdata);
	call_destroy(call);
}

/* ---------------------------------------------------------------------------------------------- */
/* nghttp2 */

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			    void *user_data)
{
	struct grpc_client_call *call = user_data;
	size_t n = grpc_buf_pending(&call->request);

	if (n > length)
		n = length;
	memcpy(buf, call->request.data + call->request.off, n);
	grpc_buf_consume(&call->request, n);
	if (grpc_buf_pending(&call->request) == 0)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct grpc_client_call *call = user_data;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != call->stream_id)
		return 0;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":status") && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
		call->http_status = 0;
		for (size_t i = 0; i < valuelen && i < 4; i++)
			if (value[i] >= '0' && value[i] <= '9')
				call->http_status = call->http_status * 10 + (value[i] - '0');
	} else if (IS("grpc-status")) {
		int status = 0;

		for (size_t i = 0; i < valuelen && i < 4; i++)
			status =
			    status * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
		call->status = status;
		call->have_status = true;
	} else if (IS("grpc-message")) {
		free(call->message);
		call->message = grpc_percent_decode(value, valuelen);
	}
#undef IS
	return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			      const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_client_call *call = user_data;
	char err[160];
	int status;

	if (stream_id != call->stream_id || call->complete)
		return 0;
	status = grpc_reader_feed(&call->reader, data, len, err, sizeof(err));
	if (status != 0) {
		call_result(call, status, "%s %s: %s", call->socket_path, call->method_path, err);
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct grpc_client_call *call = user_data;

	if (stream_id != call->stream_id || call->complete)
		return 0;
	if (call->have_status) {
		if (call->status == GRPC_STATUS_OK && call->reader.complete != 1)
			call_result(call, GRPC_STATUS_INTERNAL, "%s %s: %s", call->socket_path,
				    call->method_path,
				    grpc_reader_partial(&call->reader)
					? "truncated response message"
					: "OK without a response message");
		else
			call_result(call, call->status, "%s", call->message ? call->message : "");
	} else if (error_code != NGHTTP2_NO_ERROR) {
		int status = error_code == NGHTTP2_REFUSED_STREAM ? GRPC_STATUS_UNAVAILABLE
			     : error_code == NGHTTP2_CANCEL	  ? GRPC_STATUS_CANCELLED
								  : GRPC_STATUS_INTERNAL;

		call_result(call, status, "%s %s: stream reset by the server (%s)",
			    call->socket_path, call->method_path,
			    nghttp2_http2_strerror(error_code));
	} else if (call->http_status != 200) {
		call_result(call, grpc_status_from_http(call->http_status),
			    "%s %s: HTTP status %d without grpc-status", call->socket_path,
			    call->method_path, call->http_status);
	} else {
		call_result(call, GRPC_STATUS_INTERNAL, "%s %s: response without grpc-status",
			    call->socket_path, call->method_path);
	}
	return 0;
}

static void set_callbacks(nghttp2_session_callbacks *cbs)
{
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}

static int session_start(struct grpc_client_call *call)
{
	nghttp2_settings_entry settings[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_LIST},
	};
	nghttp2_data_provider prd = {.read_callback = read_request};
	char timeout[16];
	nghttp2_nv nva[8];
	size_t nvlen = 0;
	int r;

	r = grpc_session_new(false, set_callbacks, call, settings, ARRAY_SIZE(settings),
			     &call->session);
	if (r < 0)
		return r;
	nva[nvlen++] = grpc_nv(":method", "POST");
	nva[nvlen++] = grpc_nv(":scheme", "http");
	nva[nvlen++] = grpc_nv(":path", call->method_path);
	nva[nvlen++] = grpc_nv(":authority", "localhost");
	nva[nvlen++] = grpc_nv("content-type", "application/grpc");
	nva[nvlen++] = grpc_nv("te", "trailers");
	if (call->timeout_ms > 0) {
		grpc_timeout_format(call->timeout_ms, timeout);
		nva[nvlen++] = grpc_nv("grpc-timeout", timeout);
	}
	nva[nvlen++] = grpc_nv("user-agent", "libhostdev-grpc");
	call->stream_id = nghttp2_submit_request(call->session, NULL, nva, nvlen, &prd, call);
	if (call->stream_id < 0)
		return -ENOMEM;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* I/O */

static void call_output(struct grpc_client_call *call)
{
	uint32_t events;

	if (!call->connected)
		goto wait; /* connect() in progress: EPOLLOUT tells when it is done */
	while (!call->complete) {
		const uint8_t *data;
		ssize_t n;

		while (grpc_buf_pending(&call->out)) {
			n = send(call->fd, call->out.data + call->out.off,
				 grpc_buf_pending(&call->out), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				goto wait;
			if (n < 0) {
				call_result(call, GRPC_STATUS_UNAVAILABLE, "%s: write failed: %s",
					    call->socket_path, strerror(errno));
				return;
			}
			grpc_buf_consume(&call->out, (size_t)n);
		}
		n = nghttp2_session_mem_send(call->session, &data);
		if (n < 0) {
			call_result(call, GRPC_STATUS_INTERNAL, "%s: HTTP/2: %s", call->socket_path,
				    nghttp2_strerror((int)n));
			return;
		}
		if (n == 0)
			break;
		if (grpc_buf_append(&call->out, data, (size_t)n) < 0) {
			call_result(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
	}
wait:
	events = EPOLLIN | (grpc_buf_pending(&call->out) ? EPOLLOUT : 0);
	if (call->source && events != call->events && loop_modify_fd(call->source, events) == 0)
		call->events = events;
}

static void call_io(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct grpc_client_call *call = userdata;
	uint8_t buf[READ_CHUNK];

	if (!call->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		/* A connect() in progress finished. */
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			call_result(call, GRPC_STATUS_UNAVAILABLE, "cannot connect to %s: %s",
				    call->socket_path, strerror(err));
			goto out;
		}
		call->connected = true;
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (int i = 0; i < 16 && !call->complete; i++) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n <= 0) {
				call_result(call, GRPC_STATUS_UNAVAILABLE,
					    "%s %s: connection closed before the response (%s)",
					    call->socket_path, call->method_path,
					    n == 0 ? "end of file" : strerror(errno));
				break;
			}
			n = nghttp2_session_mem_recv(call->session, buf, (size_t)n);
			if (n < 0) {
				call_result(call, GRPC_STATUS_INTERNAL,
					    "%s %s: bad HTTP/2 input: %s", call->socket_path,
					    call->method_path, nghttp2_strerror((int)n));
				break;
			}
		}
	}
	if (!call->complete)
		call_output(call);
	if (!call->complete && !nghttp2_session_want_read(call->session) &&
	    !nghttp2_session_want_write(call->session))
		call_result(call, GRPC_STATUS_UNAVAILABLE, "%s %s: the server ended the connection",
			    call->socket_path, call->method_path);
out:
	if (call->complete)
		call_finish(call);
}

static void on_deadline(struct loop_source *source, void *userdata)
{
	struct grpc_client_call *call = userdata;

	call->deadline = NULL;
	call_result(call, GRPC_STATUS_DEADLINE_EXCEEDED, "%s %s: no answer within %d ms",
		    call->socket_path, call->method_path, call->timeout_ms);
	call_finish(call);
}

static void try_connect(struct grpc_client_call *call);

static void on_later(struct loop_source *source, void *userdata)
{
	struct grpc_client_call *call = userdata;

	call->later = NULL;
	if (call->complete) {
		call_finish(call);
		return;
	}
	try_connect(call);
	if (call->complete)
		call_finish(call);
}

/* Connect (again); on a failure that is final, the result is recorded. */
static void try_connect(struct grpc_client_call *call)
{
	int r;

	r = connect(call->fd, (struct sockaddr *)&call->sa, call->salen);
	if (r < 0 && errno == EAGAIN) {
		/* The listener's backlog is full: try again shortly (the deadline still runs). */
		if (loop_add_timer(call->loop, CONNECT_RETRY_MS, on_later, call, &call->later) < 0)
			call_result(call, GRPC_STATUS_UNAVAILABLE, "%s: out of memory",
				    call->socket_path);
		return;
	}
	if (r < 0 && errno != EINPROGRESS) {
		call_result(call, GRPC_STATUS_UNAVAILABLE, "cannot connect to %s: %s",
			    call->socket_path, strerror(errno));
		return;
	}
	call->connected = r == 0;
	r = session_start(call);
	if (r < 0) {
		call_result(call, GRPC_STATUS_INTERNAL, "%s: cannot start an HTTP/2 session: %s",
			    call->socket_path, strerror(-r));
		return;
	}
	call->events = EPOLLIN | EPOLLOUT;
	r = loop_add_fd(call->loop, call->fd, call->events, call_io, call, &call->source);
	if (r < 0)
		call_result(call, GRPC_STATUS_INTERNAL, "%s: %s", call->socket_path, strerror(-r));
}

int grpc_client_unary(hostdev_loop *loop, const char *socket_path, const char *method_path,
		      const uint8_t *request, size_t length, int timeout_ms,
		      grpc_client_done_fn done, void *userdata, struct grpc_client_call **out)
{
	struct grpc_client_call *call;
	hostdev_ctx *ctx;
	uint8_t prefix[GRPC_PREFIX_LEN];
	int r;

	if (!loop || !socket_path || !method_path || method_path[0] != '/' || !done ||
	    (!request && length) || length > UINT32_MAX)
		return -EINVAL;
	ctx = loop_ctx(loop);
	call = calloc(1, sizeof(*call));
	if (!call)
		return hostdev_error(ctx, -ENOMEM, "grpc: out of memory");
	call->fd = -1;
	call->loop = hostdev_loop_ref(loop);
	call->ctx = ctx;
	call->timeout_ms = timeout_ms;
	call->done = done;
	call->userdata = userdata;
	grpc_reader_init(&call->reader, GRPC_MAX_RECEIVE_MESSAGE);
	call->socket_path = strdup(socket_path);
	call->method_path = strdup(method_path);
	grpc_put_prefix(prefix, length);
	if (!call->socket_path || !call->method_path ||
	    grpc_buf_append(&call->request, prefix, sizeof(prefix)) < 0 ||
	    grpc_buf_append(&call->request, request, length) < 0) {
		r = hostdev_error(ctx, -ENOMEM, "grpc: out of memory");
		goto fail;
	}
	r = grpc_sockaddr(socket_path, &call->sa, &call->salen);
	if (r < 0) {
		r = hostdev_error(ctx, r, "grpc: socket path %s is %s", socket_path,
				  r == -EINVAL ? "empty" : "too long for a Unix socket");
		goto fail;
	}
	call->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (call->fd < 0) {
		r = hostdev_error(ctx, -errno, "grpc: socket: %s", strerror(errno));
		goto fail;
	}
	if (timeout_ms > 0) {
		r = loop_add_timer(loop, (uint64_t)timeout_ms, on_deadline, call, &call->deadline);
		if (r < 0)
			goto fail;
	}
	try_connect(call);
	/* done never runs inside this function: a failure is reported from the loop. */
	if (call->complete || call->later) {
		if (!call->later) {
			r = loop_add_timer(loop, 0, on_later, call, &call->later);
			if (r < 0)
				goto fail;
		}
	} else {
		call_output(call);
		if (call->complete) {
			r = loop_add_timer(loop, 0, on_later, call, &call->later);
			if (r < 0)
				goto fail;
		}
	}
	log_debug(ctx, "grpc: calling %s on %s", method_path, socket_path);
	if (out)
		*out = call;
	return 0;

fail:
	call_destroy(call);
	return r;
}

void grpc_client_cancel(struct grpc_client_call *call)
{
	if (!call)
		return;
	log_debug(call->ctx, "grpc: %s %s: cancelled", call->socket_path, call->method_path);
	call_destroy(call);
}
