/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registration with the kubelet.
 *
 * Classic: Register(RegisterRequest{version, endpoint = socket file name, resource, options}) on
 * <device-plugins>/kubelet.sock. The call is asynchronous, so the loop keeps serving while it is
 * in flight: kubelets >= 1.25 dial the plugin back and call GetDevicePluginOptions inside
 * Register. Failures are retried after 1, 2, 5, then every 10 s. The kubelet forgets plugins
 * when it restarts (it deletes every socket of the directory and creates kubelet.sock again) and
 * ends the ListAndWatch stream of a plugin it drops: dp_watch.c and the stream's close callback
 * call back here to register again.
 *
 * Plugin watcher: the socket sits in plugins_registry; the kubelet calls GetInfo on it, connects
 * to the endpoint it names (the same socket) and reports with NotifyRegistrationStatus. To be
 * found again after losing the kubelet, the socket file is created anew.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop/loop.h"
#include "deviceplugin.h"

#define DP_REGISTER_PATH "/v1beta1.Registration/Register"
/* How long the kubelet may take to answer Register (it dials us back meanwhile). */
#define DP_REGISTER_TIMEOUT_MS 30000

static const unsigned int backoff_ms[] = {1000, 2000, 5000, 10000};
/* After kubelet.sock appeared or our socket was re-created: a few quick retries first. */
#define DP_QUICK_RETRIES 5
#define DP_QUICK_RETRY_MS 100

static unsigned int next_backoff(hostdev_dp_server *server)
{
	unsigned int i = server->backoff_step;

	if (i >= ARRAY_SIZE(backoff_ms))
		i = ARRAY_SIZE(backoff_ms) - 1;
	else
		server->backoff_step++;
	return backoff_ms[i];
}

static void on_register_timer(struct loop_source *source, void *userdata);

static void schedule(hostdev_dp_server *server, unsigned int delay_ms)
{
	loop_remove(server->register_timer);
	server->register_timer = NULL;
	if (loop_add_timer(server->loop, delay_ms, on_register_timer, server,
			   &server->register_timer) < 0) {
		server->register_timer = NULL;
		log_warn(server->ctx,
			 "resource %s: no timer to retry the registration; it is retried when "
			 "kubelet.sock is created again",
			 server->resource_name);
	}
}

static void on_register_done(int status, const char *message, const uint8_t *response,
			     size_t length, void *userdata)
{
	hostdev_dp_server *server = userdata;
	unsigned int delay;

	server->register_in_flight = false;
	server->register_call = NULL;
	if (status == GRPC_STATUS_OK) {
		server->state = HOSTDEV_DP_REGISTERED;
		server->registrations++;
		server->backoff_step = 0;
		server->quick_retries = 0;
		log_info(
		    server->ctx,
		    "resource %s: registered with the kubelet at %s (endpoint %s, %zu devices)",
		    server->resource_name, server->kubelet_socket, server->socket_name,
		    server->devices->count);
		if (server->stream_lost) {
			server->stream_lost = false;
			dp_register_stream_ended(server);
		}
		return;
	}
	server->state = HOSTDEV_DP_REGISTERING;
	if (status == GRPC_STATUS_UNAVAILABLE && server->quick_retries > 0) {
		server->quick_retries--;
		log_info(server->ctx,
			 "resource %s: %s is not accepting yet (%s); retrying in %u ms",
			 server->resource_name, server->kubelet_socket, message ? message : "",
			 DP_QUICK_RETRY_MS);
		schedule(server, DP_QUICK_RETRY_MS);
		return;
	}
	delay = next_backoff(server);
	log_warn(server->ctx,
		 "resource %s: registration with the kubelet at %s failed (gRPC status %d: %s); "
		 "retrying in %u s (is the kubelet running with its device-plugin directory at "
		 "%s?)",
		 server->resource_name, server->kubelet_socket, status, message ? message : "",
		 delay / 1000, server->plugin_dir);
	schedule(server, delay);
}

static void attempt(hostdev_dp_server *server)
{
	struct grpc_client_call *call = NULL;
	uint8_t *msg;
	size_t length;
	int r;

	r = dp_proto_register_request(server, &msg, &length);
	if (r == 0) {
		/* Streams opened from now on belong to this registration. */
		server->epoch++;
		server->stream_lost = false;
		server->register_in_flight = true;
		r = grpc_client_unary(server->loop, server->kubelet_socket, DP_REGISTER_PATH, msg,
				      length, DP_REGISTER_TIMEOUT_MS, on_register_done, server,
				      &call);
		free(msg);
	}
	if (r < 0) {
		unsigned int delay = next_backoff(server);

		server->register_in_flight = false;
		log_warn(server->ctx,
			 "resource %s: cannot call Register on %s: %s; retrying in %u s",
			 server->resource_name, server->kubelet_socket, strerror(-r), delay / 1000);
		schedule(server, delay);
		return;
	}
	/* The result may already be in (then the call is gone). */
	server->register_call = server->register_in_flight ? call : NULL;
}

static void on_register_timer(struct loop_source *source, void *userdata)
{
	hostdev_dp_server *server = userdata;

	server->register_timer = NULL;
	if (!server->started || server->stopping)
		return;
	if (server->registration == HOSTDEV_DP_REGISTER_CLASSIC) {
		attempt(server);
	} else if (server->registration == HOSTDEV_DP_REGISTER_WATCHER &&
		   server->state != HOSTDEV_DP_REGISTERED) {
		/* No GetInfo since the stream ended: a new socket file makes the plugin watcher
		 * look at us again. */
		server->relisten(server);
	}
}

void dp_register_stop(hostdev_dp_server *server)
{
	if (server->register_in_flight && server->register_call)
		grpc_client_cancel(server->register_call);
	server->register_call = NULL;
	server->register_in_flight = false;
	loop_remove(server->register_timer);
	server->register_timer = NULL;
}

void dp_register_start(hostdev_dp_server *server)
{
	server->backoff_step = 0;
	switch (server->registration) {
	case HOSTDEV_DP_REGISTER_CLASSIC:
		server->state = HOSTDEV_DP_REGISTERING;
		attempt(server);
		break;
	case HOSTDEV_DP_REGISTER_WATCHER:
		server->state = HOSTDEV_DP_REGISTERING;
		log_info(
		    server->ctx,
		    "resource %s: waiting for the kubelet's plugin watcher to call GetInfo on %s",
		    server->resource_name, server->socket_path);
		break;
	default:
		server->state = HOSTDEV_DP_SERVING;
		break;
	}
}

void dp_register_now(hostdev_dp_server *server)
{
	if (!server->started || server->stopping ||
	    server->registration != HOSTDEV_DP_REGISTER_CLASSIC)
		return;
	dp_register_stop(server);
	server->backoff_step = 0;
	server->quick_retries = DP_QUICK_RETRIES;
	server->state = HOSTDEV_DP_REGISTERING;
	attempt(server);
}

void dp_register_stream_ended(hostdev_dp_server *server)
{
	unsigned int delay;

	if (!server->started || server->stopping)
		return;
	switch (server->registration) {
	case HOSTDEV_DP_REGISTER_CLASSIC:
		/* The stream of the registration in flight (the kubelet opened it before its
		 * answer reached us): register again once that answer is in. */
		if (server->register_in_flight) {
			server->stream_lost = true;
			return;
		}
		/* A retry is already on its way. */
		if (server->register_timer)
			return;
		server->state = HOSTDEV_DP_REGISTERING;
		delay = next_backoff(server);
		log_info(server->ctx, "resource %s: registering again in %u s",
			 server->resource_name, delay / 1000);
		schedule(server, delay);
		break;
	case HOSTDEV_DP_REGISTER_WATCHER:
		server->state = HOSTDEV_DP_REGISTERING;
		delay = next_backoff(server);
		log_info(
		    server->ctx,
		    "resource %s: re-creating %s in %u s unless the plugin watcher calls GetInfo "
		    "first",
		    server->resource_name, server->socket_path, delay / 1000);
		schedule(server, delay);
		break;
	default:
		break;
	}
}

void dp_register_watcher_info(hostdev_dp_server *server)
{
	/* A new registration: streams of the previous one may end now. */
	server->epoch++;
	if (server->state == HOSTDEV_DP_REGISTERED)
		server->state = HOSTDEV_DP_REGISTERING;
	log_info(server->ctx, "resource %s: the kubelet's plugin watcher called GetInfo on %s",
		 server->resource_name, server->socket_path);
}

void dp_register_watcher_status(hostdev_dp_server *server, bool registered, const char *error)
{
	if (registered) {
		server->state = HOSTDEV_DP_REGISTERED;
		server->registrations++;
		server->backoff_step = 0;
		loop_remove(server->register_timer);
		server->register_timer = NULL;
		log_info(server->ctx, "resource %s: registered with the kubelet's plugin watcher",
			 server->resource_name);
		return;
	}
	server->state = HOSTDEV_DP_REGISTERING;
	log_warn(server->ctx,
		 "resource %s: the kubelet refused the registration: %s (check the resource name "
		 "and that no other plugin serves it)",
		 server->resource_name, error && *error ? error : "no reason given");
}
