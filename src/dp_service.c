/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RPC handlers of a device-plugin server: v1beta1.DevicePlugin (GetDevicePluginOptions,
 * ListAndWatch, Allocate, GetPreferredAllocation, PreStartContainer) and, in plugin-watcher mode,
 * pluginregistration.Registration (GetInfo, NotifyRegistrationStatus) on the same socket. They
 * run on the loop with its lock held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin_v1beta1.pb-c.h"
#include "dp_loop.h"
#include "dp_server.h"
#include "pluginregistration_v1.pb-c.h"

/* Longest id list quoted in a message. */
#define DP_MESSAGE_MAX 512

int dp_status_from_errno(int err)
{
	switch (err) {
	case -EINVAL:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case -ENOENT:
	case -ENODEV:
		return GRPC_STATUS_NOT_FOUND;
	case -EBUSY:
	case -EPERM:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case -ENOMEM:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

/* "a, b, c" into @buf, cut with "..." when it does not fit. */
static const char *join_ids(char *buf, size_t size, char *const *ids, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", ids[i]);

		if (w < 0 || (size_t)w >= size - used) {
			snprintf(buf + (size > 4 ? size - 4 : 0), size > 4 ? 4 : size, "...");
			break;
		}
		used += (size_t)w;
	}
	return buf;
}

/* Send @msg (taken) and end the call OK; INTERNAL when encoding failed with @r. */
static void reply(struct grpc_call *call, int r, uint8_t *msg, size_t length)
{
	if (r < 0) {
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
				 "out of memory encoding the response");
		return;
	}
	grpc_call_send(call, msg, length);
	free(msg);
	grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void reply_empty(struct grpc_call *call)
{
	uint8_t *msg = NULL;
	size_t length = 0;
	int r = dp_proto_empty(&msg, &length);

	reply(call, r, msg, length);
}

/* End @call with @status and a message about @server's resource. */
static void fail(struct grpc_call *call, hostdev_dp_server *server, int status, const char *what)
{
	log_warn(server->ctx, "%s", what);
	grpc_call_finish(call, status, what);
}

static void malformed(struct grpc_call *call, hostdev_dp_server *server, const char *type)
{
	char message[DP_MESSAGE_MAX];

	snprintf(message, sizeof(message), "resource %s: malformed %s message",
		 server->resource_name, type);
	fail(call, server, GRPC_STATUS_INVALID_ARGUMENT, message);
}

/*
 * Every id of a request must be one the server advertises, and appear once: an unknown id would
 * hand the container a device the plugin never offered, a duplicate would put the same device
 * twice into KubeVirt's environment variable. Returns true when @ids are fine, otherwise writes
 * the message.
 */
static bool check_ids(hostdev_dp_server *server, const char *method, char *const *ids, size_t n,
		      char *message, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		if (dp_devices_find(server->devices, ids[i]) < 0) {
			snprintf(
			    message, size,
			    "resource %s: %s of unknown device id '%s' (not advertised by this "
			    "plugin)",
			    server->resource_name, method, ids[i]);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(ids[i], ids[j]) == 0) {
				snprintf(message, size,
					 "resource %s: %s of device id '%s' more than once in "
					 "one container request",
					 server->resource_name, method, ids[i]);
				return false;
			}
		}
	}
	return true;
}

/* The message for a plugin's failure @r, with the plugin's own words when it gave some. */
static void plugin_failure(hostdev_dp_server *server, const char *method, char *const *ids,
			   size_t n, int r, const char *plugin_message, char *message, size_t size)
{
	char list[DP_MESSAGE_MAX / 2];

	join_ids(list, sizeof(list), ids, n);
	if (plugin_message)
		snprintf(message, size, "resource %s: %s of %s failed: %s", server->resource_name,
			 method, list, plugin_message);
	else
		snprintf(message, size, "resource %s: %s of %s failed: %s", server->resource_name,
			 method, list, strerror(r < 0 ? -r : EIO));
}

/* ---------------------------------------------------------------------------------------------- */
/* v1beta1.DevicePlugin */

static void on_get_options(struct grpc_call *call, const uint8_t *request, size_t length,
			   void *userdata)
{
	hostdev_dp_server *server = userdata;
	uint8_t *msg = NULL;
	size_t n = 0;
	int r = dp_proto_options(&server->ops, &msg, &n);

	reply(call, r, msg, n);
}

static void watcher_closed(struct grpc_call *call, void *userdata)
{
	struct dp_watcher *w = userdata;
	hostdev_dp_server *server = w->server;
	bool current;

	if (!server) {
		free(w);
		return;
	}
	current = !w->finished && w->epoch == server->epoch;

	for (struct dp_watcher **p = &server->watchers; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	free(w);
	if (current && server->started && !server->stopping) {
		log_info(server->ctx,
			 "resource %s: the kubelet ended the ListAndWatch stream (kubelet restart "
			 "or plugin replaced)",
			 server->resource_name);
		dp_register_stream_ended(server);
	}
}

static void on_list_and_watch(struct grpc_call *call, const uint8_t *request, size_t length,
			      void *userdata)
{
	hostdev_dp_server *server = userdata;
	struct dp_watcher *w;
	uint8_t *msg;
	size_t n;

	if (!server->started || server->stopping) {
		grpc_call_finish(call, GRPC_STATUS_UNAVAILABLE, "the device plugin is stopping");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w || dp_proto_list_and_watch(server->devices, &msg, &n) < 0) {
		free(w);
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->server = server;
	w->call = call;
	w->epoch = server->epoch;
	w->next = server->watchers;
	server->watchers = w;
	grpc_call_on_close(call, watcher_closed, w);
	/* The full list at once; then a full list on every change, and never an end of our own
	 * making while the server runs. */
	grpc_call_send(call, msg, n);
	free(msg);
	log_info(server->ctx, "resource %s: ListAndWatch opened; sent %zu devices",
		 server->resource_name, server->devices->count);
}

void dp_service_finish_watchers(hostdev_dp_server *server)
{
	uint8_t *msg = NULL;
	size_t n = 0;
	int r = dp_proto_list_and_watch(NULL, &msg, &n);

	for (struct dp_watcher *w = server->watchers; w; w = w->next) {
		if (w->finished)
			continue;
		w->finished = true;
		if (r == 0)
			grpc_call_send(w->call, msg, n);
		grpc_call_finish(w->call, GRPC_STATUS_OK, NULL);
	}
	free(msg);
}

static void on_allocate(struct grpc_call *call, const uint8_t *request, size_t length,
			void *userdata)
{
	hostdev_dp_server *server = userdata;
	V1beta1__AllocateRequest *req = v1beta1__allocate_request__unpack(NULL, length, request);
	hostdev_dp_response **answers = NULL;
	char message[DP_MESSAGE_MAX], list[DP_MESSAGE_MAX / 2];
	size_t n, done = 0;
	uint8_t *msg = NULL;
	size_t msg_length = 0;
	int r = 0;

	if (!req) {
		malformed(call, server, "AllocateRequest");
		return;
	}
	n = req->n_container_requests;
	answers = calloc(n ? n : 1, sizeof(*answers));
	if (!answers) {
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (; done < n; done++) {
		V1beta1__ContainerAllocateRequest *c = req->container_requests[done];

		if (!check_ids(server, "Allocate", c->devices_ids, c->n_devices_ids, message,
			       sizeof(message))) {
			fail(call, server, GRPC_STATUS_INVALID_ARGUMENT, message);
			goto out;
		}
		answers[done] = dp_response_new();
		if (!answers[done]) {
			grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
		if (!server->ops.allocate)
			continue;
		r = server->ops.allocate(server->userdata, (const char *const *)c->devices_ids,
					 c->n_devices_ids, answers[done]);
		if (r < 0) {
			plugin_failure(server, "Allocate", c->devices_ids, c->n_devices_ids, r,
				       answers[done]->error, message, sizeof(message));
			fail(call, server, dp_status_from_errno(r), message);
			done++;
			goto out;
		}
		log_info(server->ctx, "resource %s: allocated %s", server->resource_name,
			 join_ids(list, sizeof(list), c->devices_ids, c->n_devices_ids));
	}
	r = dp_proto_allocate_response(answers, n, &msg, &msg_length);
	reply(call, r, msg, msg_length);
out:
	for (size_t i = 0; answers && i < done; i++)
		dp_response_free(answers[i]);
	free(answers);
	v1beta1__allocate_request__free_unpacked(req, NULL);
}

/* Append @id to @v unless it is there already. */
static int push_unique(struct strv *v, const char *id)
{
	return strv_contains(v, id) ? 0 : strv_push(v, id);
}

/*
 * One container of GetPreferredAllocation, per the contract of deviceplugin.h: every must-include
 * id first, then the plugin's choices that are available, then the other available ids in
 * order, exactly allocation_size distinct ids. Impossible requests are INVALID_ARGUMENT.
 */
static int preferred_one(hostdev_dp_server *server, V1beta1__ContainerPreferredAllocationRequest *c,
			 struct strv *result, char *message, size_t size)
{
	struct strv available = {0}, must = {0}, pool = {0};
	hostdev_dp_response *resp = NULL;
	size_t want;
	int r = -ENOMEM;

	for (size_t i = 0; i < c->n_available_deviceids; i++)
		if (push_unique(&available, c->available_deviceids[i]) < 0)
			goto out;
	for (size_t i = 0; i < c->n_must_include_deviceids; i++)
		if (push_unique(&must, c->must_include_deviceids[i]) < 0 ||
		    push_unique(&pool, c->must_include_deviceids[i]) < 0)
			goto out;
	for (size_t i = 0; i < available.count; i++)
		if (push_unique(&pool, available.items[i]) < 0)
			goto out;
	r = -EINVAL;
	if (c->allocation_size < 0) {
		snprintf(message, size, "resource %s: GetPreferredAllocation of %d devices",
			 server->resource_name, (int)c->allocation_size);
		goto out;
	}
	want = (size_t)c->allocation_size;
	if (must.count > want) {
		snprintf(message, size,
			 "resource %s: GetPreferredAllocation must include %zu devices but "
			 "allocation_size is %zu",
			 server->resource_name, must.count, want);
		goto out;
	}
	if (pool.count < want) {
		snprintf(message, size,
			 "resource %s: GetPreferredAllocation of %zu devices but only %zu distinct "
			 "devices are available",
			 server->resource_name, want, pool.count);
		goto out;
	}
	r = -ENOMEM;
	resp = dp_response_new();
	if (!resp)
		goto out;
	if (server->ops.get_preferred_allocation) {
		r = server->ops.get_preferred_allocation(
		    server->userdata, (const char *const *)available.items, available.count,
		    (const char *const *)must.items, must.count, want, resp);
		if (r < 0) {
			plugin_failure(server, "GetPreferredAllocation", available.items,
				       available.count, r, resp->error, message, size);
			goto out;
		}
	}
	r = -ENOMEM;
	for (size_t i = 0; i < must.count; i++)
		if (push_unique(result, must.items[i]) < 0)
			goto out;
	/* The plugin's choices, as far as they are available and needed. */
	for (size_t i = 0; i < resp->ids.count && result->count < want; i++)
		if (strv_contains(&available, resp->ids.items[i]) &&
		    push_unique(result, resp->ids.items[i]) < 0)
			goto out;
	for (size_t i = 0; i < available.count && result->count < want; i++)
		if (push_unique(result, available.items[i]) < 0)
			goto out;
	r = 0;
out:
	if (r == -ENOMEM)
		snprintf(message, size, "resource %s: out of memory", server->resource_name);
	dp_response_free(resp);
	strv_clear(&available);
	strv_clear(&must);
	strv_clear(&pool);
	return r;
}

static void on_get_preferred_allocation(struct grpc_call *call, const uint8_t *request,
					size_t length, void *userdata)
{
	hostdev_dp_server *server = userdata;
	V1beta1__PreferredAllocationRequest *req =
	    v1beta1__preferred_allocation_request__unpack(NULL, length, request);
	char message[DP_MESSAGE_MAX];
	struct strv *results;
	uint8_t *msg = NULL;
	size_t n, msg_length = 0;
	int r = 0;

	if (!req) {
		malformed(call, server, "PreferredAllocationRequest");
		return;
	}
	n = req->n_container_requests;
	results = calloc(n ? n : 1, sizeof(*results));
	if (!results) {
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = preferred_one(server, req->container_requests[i], &results[i], message,
				  sizeof(message));
		if (r < 0) {
			fail(call, server, dp_status_from_errno(r), message);
			goto out;
		}
	}
	r = dp_proto_preferred_response(results, n, &msg, &msg_length);
	reply(call, r, msg, msg_length);
out:
	for (size_t i = 0; results && i < n; i++)
		strv_clear(&results[i]);
	free(results);
	v1beta1__preferred_allocation_request__free_unpacked(req, NULL);
}

static void on_pre_start_container(struct grpc_call *call, const uint8_t *request, size_t length,
				   void *userdata)
{
	hostdev_dp_server *server = userdata;
	V1beta1__PreStartContainerRequest *req =
	    v1beta1__pre_start_container_request__unpack(NULL, length, request);
	char message[DP_MESSAGE_MAX];
	int r;

	if (!req) {
		malformed(call, server, "PreStartContainerRequest");
		return;
	}
	if (!check_ids(server, "PreStartContainer", req->devices_ids, req->n_devices_ids, message,
		       sizeof(message))) {
		fail(call, server, GRPC_STATUS_INVALID_ARGUMENT, message);
		goto out;
	}
	if (server->ops.pre_start_container) {
		r = server->ops.pre_start_container(
		    server->userdata, (const char *const *)req->devices_ids, req->n_devices_ids);
		if (r < 0) {
			plugin_failure(server, "PreStartContainer", req->devices_ids,
				       req->n_devices_ids, r, NULL, message, sizeof(message));
			fail(call, server, dp_status_from_errno(r), message);
			goto out;
		}
	}
	reply_empty(call);
out:
	v1beta1__pre_start_container_request__free_unpacked(req, NULL);
}

/* ---------------------------------------------------------------------------------------------- */
/* pluginregistration.Registration (plugin-watcher mode) */

static void on_get_info(struct grpc_call *call, const uint8_t *request, size_t length,
			void *userdata)
{
	hostdev_dp_server *server = userdata;
	uint8_t *msg = NULL;
	size_t n = 0;
	int r = dp_proto_plugin_info(server, &msg, &n);

	dp_register_watcher_info(server);
	reply(call, r, msg, n);
}

static void on_notify_registration_status(struct grpc_call *call, const uint8_t *request,
					  size_t length, void *userdata)
{
	hostdev_dp_server *server = userdata;
	Pluginregistration__RegistrationStatus *status =
	    pluginregistration__registration_status__unpack(NULL, length, request);

	if (!status) {
		malformed(call, server, "RegistrationStatus");
		return;
	}
	dp_register_watcher_status(server, status->plugin_registered, status->error);
	pluginregistration__registration_status__free_unpacked(status, NULL);
	reply_empty(call);
}

/* ---------------------------------------------------------------------------------------------- */

static const struct grpc_method methods[] = {
    {"/v1beta1.DevicePlugin/GetDevicePluginOptions", on_get_options},
    {"/v1beta1.DevicePlugin/ListAndWatch", on_list_and_watch},
    {"/v1beta1.DevicePlugin/Allocate", on_allocate},
    {"/v1beta1.DevicePlugin/GetPreferredAllocation", on_get_preferred_allocation},
    {"/v1beta1.DevicePlugin/PreStartContainer", on_pre_start_container},
    /* Plugin-watcher mode only: */
    {"/pluginregistration.Registration/GetInfo", on_get_info},
    {"/pluginregistration.Registration/NotifyRegistrationStatus", on_notify_registration_status},
};

const struct grpc_method *dp_service_methods(int registration, size_t *n_methods)
{
	*n_methods = registration == HOSTDEV_DP_REGISTER_WATCHER ? ARRAY_SIZE(methods) : 5;
	return methods;
}
