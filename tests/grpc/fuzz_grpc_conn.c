/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for a gRPC server connection: arbitrary bytes as what a peer sends on a plugin
 * socket (HTTP/2 frames, HPACK, gRPC framing), fed to a detached connection of a server whose
 * methods answer at once, fail Trailers-Only, stream and keep the call open, or answer from a loop
 * timer. Every call must be closed (its close callback run) once the connection is freed.
 *
 * Input: byte 0 controls the run (bit 7: do not prepend the client connection preface; bits 0-5:
 * feed in chunks of that many bytes, 0 = all at once), the rest goes to the connection.
 * Built with clang -fsanitize=fuzzer,address,undefined from the library sources directly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* context.c releases helpers of pci_names.c, pci_modules.c, pci_slots.c and usb_names.c, which
 * the fuzzer leaves out. */
void ctx_pci_access_release(hostdev_ctx *ctx);
void ctx_kmod_release(hostdev_ctx *ctx);
void ctx_slots_release(hostdev_ctx *ctx);
void ctx_usb_ids_release(hostdev_ctx *ctx);
void ctx_usb_ids_release(hostdev_ctx *ctx)
{
	(void)ctx;
}
void ctx_pci_access_release(hostdev_ctx *ctx)
{
	(void)ctx;
}
void ctx_kmod_release(hostdev_ctx *ctx)
{
	(void)ctx;
}
void ctx_slots_release(hostdev_ctx *ctx)
{
	(void)ctx;
}

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct held {
	struct grpc_call *call;
	struct loop_source *timer;
};

static hostdev_loop *loop;
static struct grpc_server *server;
static unsigned int open_calls;

static void held_closed(struct grpc_call *call, void *userdata)
{
	struct held *h = userdata;

	loop_remove(h->timer);
	free(h);
	open_calls--;
}

static struct held *hold(struct grpc_call *call)
{
	struct held *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->call = call;
	open_calls++;
	grpc_call_on_close(call, held_closed, h);
	return h;
}

static void m_unary(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	hold(call);
	grpc_call_send(call, msg, len);
	grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void m_fail(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	char text[64];

	hold(call);
	memcpy(text, msg, len < sizeof(text) ? len : sizeof(text) - 1);
	text[len < sizeof(text) ? len : sizeof(text) - 1] = '\0';
	grpc_call_finish(call, GRPC_STATUS_INVALID_ARGUMENT, text);
}

static void m_stream(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	hold(call);
	for (int i = 0; i < 3; i++)
		grpc_call_send(call, msg, len);
	/* Stays open, like ListAndWatch. */
}

static void later_fire(struct loop_source *source, void *userdata)
{
	struct held *h = userdata;

	h->timer = NULL;
	grpc_call_send(h->call, (const uint8_t *)"later", 5);
	grpc_call_finish(h->call, GRPC_STATUS_OK, NULL);
}

static void m_later(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct held *h = hold(call);

	loop_add_timer(loop, 0, later_fire, h, &h->timer);
}

static const struct grpc_method methods[] = {
    {"/f.S/Unary", m_unary},
    {"/f.S/Fail", m_fail},
    {"/f.S/Stream", m_stream},
    {"/f.S/Later", m_later},
};

static void setup(void)
{
	hostdev_ctx *ctx;

	if (hostdev_ctx_new(&ctx) < 0 || hostdev_loop_new(ctx, &loop) < 0 ||
	    grpc_server_new(loop, methods, sizeof(methods) / sizeof(methods[0]), NULL, &server) < 0)
		abort();
	/* The loop keeps its reference. */
	hostdev_ctx_unref(ctx);
}

static void feed(struct grpc_conn *conn, const uint8_t *data, size_t size, size_t chunk)
{
	while (size > 0) {
		size_t n = chunk && chunk < size ? chunk : size;

		if (grpc_conn_feed(conn, data, n) < 0)
			return;
		data += n;
		size -= n;
		/* Timers (m_later) run between reads, as in the loop. */
		hostdev_loop_dispatch(loop, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grpc_conn *conn;
	uint8_t control;

	if (!server)
		setup();
	if (size < 1)
		return 0;
	control = data[0];
	data++;
	size--;
	if (grpc_conn_new_detached(server, &conn) < 0)
		abort();
	if (!(control & 0x80))
		feed(conn, preface, sizeof(preface) - 1, 0);
	feed(conn, data, size, control & 0x3f);
	grpc_conn_free(conn);
	hostdev_loop_dispatch(loop, 0);
	/* Every call was closed with the connection. */
	if (open_calls != 0)
		abort();
	return 0;
}
