/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test peer for the gRPC transport, built from the library's objects (internal API).
 *
 *   grpc_echo_server serve SOCKET [MEMORY_LIMIT]
 *	Serve the test.Echo methods below on SOCKET until SIGTERM/SIGINT; prints "READY" once
 *	listening. MEMORY_LIMIT: the loop's budget of connection memory in bytes
 *	(grpc_set_memory_limit()), and warnings logged to stderr.
 *   grpc_echo_server call SOCKET METHOD REQUEST TIMEOUT_MS [SERVE_SOCKET]
 *	One grpc_client_unary() call; prints {"status": N, "message": "...", "response": "hex"}.
 *	With SERVE_SOCKET it serves test.Echo there while the call is in flight (the peer may dial
 *	back, like the kubelet inside Register).
 *
 * Methods (requests and responses are raw bytes):
 *   /test.Echo/Unary	   the request back
 *   /test.Echo/Stream	   "N": N messages "message <i>" then OK; "0": one message every 10 ms
 *			   until the client goes away
 *   /test.Echo/Fail	   "CODE:MESSAGE": that status without a message (Trailers-Only)
 *   /test.Echo/FailAfter  "CODE:MESSAGE": one message, then that status in the trailers
 *   /test.Echo/Delay	   "MS": "delayed" after MS milliseconds
 *   /test.Echo/Gather	   "N": held until N Gather calls are held at once, then all of them get
 *			   "gathered" (only a server that serves N calls concurrently answers)
 *   /test.Echo/Size	   "N": N bytes of 'x'
 *   /test.Echo/Authority  the request's :authority
 *   /test.Echo/Stats	   "open=<streams open> closed=<streams closed> calls=<calls>"
 *   /test.Echo/Flood	   "SIZE": a message of SIZE bytes every millisecond until the client goes
 *			   away (a send the per-call limit refuses is tried again later)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"

#define MAX_GATHERED 1024

struct gathered {
	struct state *state;
	struct grpc_call *call;
};

struct state {
	hostdev_loop *loop;
	unsigned int streams_open, streams_closed, calls;
	struct gathered *gathered[MAX_GATHERED];
	size_t n_gathered;
};

struct stream {
	struct state *state;
	struct grpc_call *call;
	struct loop_source *timer;
	unsigned long sent;
};

static void finish_ok(struct grpc_call *call, const void *data, size_t len)
{
	grpc_call_send(call, data, len);
	grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static char *text(const uint8_t *msg, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memcpy(s, msg, len);
	s[len] = '\0';
	return s;
}

static void m_unary(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	((struct state *)userdata)->calls++;
	finish_ok(call, msg, len);
}

static void stream_tick(struct loop_source *source, void *userdata);

static void stream_closed(struct grpc_call *call, void *userdata)
{
	struct stream *st = userdata;

	loop_remove(st->timer);
	st->state->streams_open--;
	st->state->streams_closed++;
	free(st);
}

static void stream_tick(struct loop_source *source, void *userdata)
{
	struct stream *st = userdata;
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "message %lu", st->sent++);

	st->timer = NULL;
	if (grpc_call_send(st->call, (const uint8_t *)buf, (size_t)n) < 0)
		return;
	loop_add_timer(st->state->loop, 10, stream_tick, st, &st->timer);
}

static void m_stream(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct state *state = userdata;
	char *req = text(msg, len);
	long n = strtol(req, NULL, 10);
	struct stream *st;

	free(req);
	state->calls++;
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	st->state = state;
	st->call = call;
	state->streams_open++;
	grpc_call_on_close(call, stream_closed, st);
	if (n == 0) {
		stream_tick(NULL, st);
		return;
	}
	for (long i = 0; i < n; i++) {
		char buf[64];
		int k = snprintf(buf, sizeof(buf), "message %ld", i);

		grpc_call_send(call, (const uint8_t *)buf, (size_t)k);
	}
	grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

struct flood {
	struct state *state;
	struct grpc_call *call;
	struct loop_source *timer;
	uint8_t *message;
	size_t size;
};

static void flood_closed(struct grpc_call *call, void *userdata)
{
	struct flood *fl = userdata;

	loop_remove(fl->timer);
	fl->state->streams_open--;
	fl->state->streams_closed++;
	free(fl->message);
	free(fl);
}

static void flood_tick(struct loop_source *source, void *userdata)
{
	struct flood *fl = userdata;

	fl->timer = NULL;
	if (grpc_call_send(fl->call, fl->message, fl->size) == -EPIPE)
		return;
	loop_add_timer(fl->state->loop, 1, flood_tick, fl, &fl->timer);
}

static void m_flood(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct state *state = userdata;
	char *req = text(msg, len);
	struct flood *fl = calloc(1, sizeof(*fl));

	if (!fl)
		abort();
	fl->size = (size_t)strtoul(req, NULL, 10);
	free(req);
	fl->message = malloc(fl->size ? fl->size : 1);
	if (!fl->message)
		abort();
	memset(fl->message, 'f', fl->size);
	fl->state = state;
	fl->call = call;
	state->calls++;
	state->streams_open++;
	grpc_call_on_close(call, flood_closed, fl);
	flood_tick(NULL, fl);
}

static void fail(struct grpc_call *call, const uint8_t *msg, size_t len, bool after)
{
	char *req = text(msg, len);
	char *colon = strchr(req, ':');
	int code = atoi(req);

	if (after)
		grpc_call_send(call, (const uint8_t *)"partial", 7);
	grpc_call_finish(call, code, colon ? colon + 1 : NULL);
	free(req);
}

static void m_fail(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	((struct state *)userdata)->calls++;
	fail(call, msg, len, false);
}

static void m_fail_after(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	((struct state *)userdata)->calls++;
	fail(call, msg, len, true);
}

struct delayed {
	struct grpc_call *call;
	struct loop_source *timer;
};

static void delay_fire(struct loop_source *source, void *userdata)
{
	struct delayed *d = userdata;

	d->timer = NULL;
	finish_ok(d->call, "delayed", 7);
}

static void delay_closed(struct grpc_call *call, void *userdata)
{
	struct delayed *d = userdata;

	loop_remove(d->timer);
	free(d);
}

static void m_delay(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct state *state = userdata;
	char *req = text(msg, len);
	struct delayed *d = calloc(1, sizeof(*d));

	if (!d)
		abort();
	state->calls++;
	d->call = call;
	grpc_call_on_close(call, delay_closed, d);
	loop_add_timer(state->loop, (uint64_t)strtoul(req, NULL, 10), delay_fire, d, &d->timer);
	free(req);
}

static void gather_closed(struct grpc_call *call, void *userdata)
{
	struct gathered *g = userdata;
	struct state *state = g->state;

	for (size_t i = 0; i < state->n_gathered; i++)
		if (state->gathered[i] == g) {
			state->gathered[i] = state->gathered[--state->n_gathered];
			break;
		}
	free(g);
}

static void m_gather(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct state *state = userdata;
	char *req = text(msg, len);
	size_t want = strtoul(req, NULL, 10);
	struct gathered *g = calloc(1, sizeof(*g));

	free(req);
	if (!g)
		abort();
	state->calls++;
	if (state->n_gathered == MAX_GATHERED) {
		free(g);
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "too many gathered calls");
		return;
	}
	g->state = state;
	g->call = call;
	grpc_call_on_close(call, gather_closed, g);
	state->gathered[state->n_gathered++] = g;
	if (state->n_gathered < want)
		return;
	/* Answered and out of the list; each is freed by its close callback (finish only queues).
	 */
	for (size_t i = 0; i < state->n_gathered; i++)
		finish_ok(state->gathered[i]->call, "gathered", 8);
	state->n_gathered = 0;
}

static void m_size(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	char *req = text(msg, len);
	size_t n = strtoul(req, NULL, 10);
	uint8_t *buf = malloc(n + 1);

	((struct state *)userdata)->calls++;
	if (!buf)
		abort();
	memset(buf, 'x', n);
	finish_ok(call, buf, n);
	free(buf);
	free(req);
}

static void m_authority(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	const char *a = grpc_call_authority(call);

	((struct state *)userdata)->calls++;
	a = a ? a : "";
	finish_ok(call, a, strlen(a));
}

static void m_stats(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct state *state = userdata;
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "open=%u closed=%u calls=%u", state->streams_open,
			 state->streams_closed, state->calls);

	finish_ok(call, buf, (size_t)n);
}

static const struct grpc_method methods[] = {
    {"/test.Echo/Unary", m_unary}, {"/test.Echo/Stream", m_stream},
    {"/test.Echo/Fail", m_fail},   {"/test.Echo/FailAfter", m_fail_after},
    {"/test.Echo/Delay", m_delay}, {"/test.Echo/Gather", m_gather},
    {"/test.Echo/Size", m_size},   {"/test.Echo/Authority", m_authority},
    {"/test.Echo/Stats", m_stats}, {"/test.Echo/Flood", m_flood},
};

static hostdev_loop *signal_loop;

static void on_signal(int sig)
{
	hostdev_loop_quit(signal_loop);
}

static void log_stderr(int priority, const char *message, void *userdata)
{
	fprintf(stderr, "libhostdev: %s\n", message);
}

static int start_server(hostdev_loop *loop, struct state *state, const char *socket_path,
			struct grpc_server **out)
{
	int r = grpc_server_new(loop, methods, sizeof(methods) / sizeof(methods[0]), state, out);

	if (r == 0)
		r = grpc_server_listen(*out, socket_path);
	if (r < 0)
		fprintf(stderr, "grpc_echo_server: %s\n", hostdev_ctx_get_error(loop_ctx(loop)));
	return r;
}

struct call_result {
	bool done;
	int status;
	char *message;
	uint8_t *response;
	size_t length;
};

static void call_done(int status, const char *message, const uint8_t *response, size_t length,
		      void *userdata)
{
	struct call_result *res = userdata;

	res->done = true;
	res->status = status;
	res->message = strdup(message ? message : "");
	if (response) {
		res->response = malloc(length + 1);
		memcpy(res->response, response, length);
	}
	res->length = length;
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	struct state state = {0};
	struct grpc_server *server = NULL;
	hostdev_ctx *ctx;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: grpc_echo_server serve SOCKET [MEMORY_LIMIT] | call SOCKET "
				"METHOD REQUEST TIMEOUT_MS [SERVE_SOCKET]\n");
		return 2;
	}
	if (hostdev_ctx_new(&ctx) < 0)
		return 1;
	if (getenv("GRPC_TEST_DEBUG")) {
		hostdev_ctx_set_log_fn(ctx, log_stderr, NULL);
		hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	}
	if (hostdev_loop_new(ctx, &state.loop) < 0)
		return 1;
	signal_loop = state.loop;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	if (strcmp(argv[1], "serve") == 0) {
		if (argc >= 4) {
			if (!getenv("GRPC_TEST_DEBUG"))
				hostdev_ctx_set_log_fn(ctx, log_stderr, NULL);
			if (grpc_set_memory_limit(state.loop, strtoul(argv[3], NULL, 10)) < 0)
				goto fail;
		}
		if (start_server(state.loop, &state, argv[2], &server) < 0)
			goto fail;
		printf("READY\n");
		fflush(stdout);
		r = hostdev_loop_run(state.loop);
	} else if (strcmp(argv[1], "call") == 0 && argc >= 6) {
		struct call_result res = {0};

		if (argc >= 7 && start_server(state.loop, &state, argv[6], &server) < 0)
			goto fail;
		r = grpc_client_unary(state.loop, argv[2], argv[3], (const uint8_t *)argv[4],
				      strlen(argv[4]), atoi(argv[5]), call_done, &res, NULL);
		if (r < 0) {
			fprintf(stderr, "grpc_echo_server: %s\n", hostdev_ctx_get_error(ctx));
			goto fail;
		}
		while (!res.done && (r = hostdev_loop_dispatch(state.loop, -1)) >= 0)
			;
		printf("{\"status\": %d, \"message\": ", res.status);
		print_json_string(res.message);
		printf(", \"response\": \"");
		for (size_t i = 0; i < res.length; i++)
			printf("%02x", res.response[i]);
		printf("\", \"served\": %u}\n", state.calls);
		free(res.message);
		free(res.response);
		r = 0;
	} else {
		fprintf(stderr, "grpc_echo_server: bad arguments\n");
		r = -EINVAL;
	}
	grpc_server_shutdown(server, true);
out:
	grpc_server_free(server);
	hostdev_loop_unref(state.loop);
	hostdev_ctx_unref(ctx);
	return r < 0 ? 1 : 0;

fail:
	r = -1;
	goto out;
}
