/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RPC handlers of a device-plugin server: v1beta1.DevicePlugin (GetDevicePluginOptions,
 * ListAndWatch, Allocate, GetPreferredAllocation, PreStartContainer) and, in plugin-watcher mode,
 * pluginregistration.Registration (GetInfo, NotifyRegistrationStatus) on the same socket. They
 * run on the loop with its lock held.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deviceplugin_v1beta1.pb-c.h"
#include "loop/loop.h"
#include "deviceplugin.h"
#include "pluginreg/pluginreg.h"

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
	/* The plugin ran short of file descriptors (or the kernel of something) for a moment:
	 * a call that may work again, not a problem of the devices. */
	case -EMFILE:
	case -ENFILE:
	case -ENOBUFS:
	case -EAGAIN:
		return GRPC_STATUS_UNAVAILABLE;
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
 * Every id of a request must be one the server advertises, and appear once in the whole request:
 * an unknown id would hand the container a device the plugin never offered, a duplicate would
 * put the same device twice into KubeVirt's environment variable or into two containers. Returns
 * true when the @n ids of container @container are fine, otherwise writes the message.
 *
 * first_of() gives the container of an earlier copy of an id: by a scan of the ids checked so far
 * for a small request (the kubelet's usual one: a device or a few), else through @seen, which maps
 * them to their container (linear time: a request may hold thousands of ids).
 */
#define DP_SCAN_IDS 16

struct id_check {
	V1beta1__ContainerAllocateRequest *const *containers; /* NULL: no scan, @seen */
	struct dp_strmap seen;
};

/* 0 and *@first for an id seen before, 1 for a new one (recorded), -ENOMEM. */
static int first_of(struct id_check *c, size_t container, size_t index, const char *id,
		    size_t *first)
{
	if (!c->containers) {
		int r = dp_strmap_add(&c->seen, id, container, first);

		return r == -EEXIST ? 0 : r < 0 ? r : 1;
	}
	for (size_t k = 0; k <= container; k++) {
		const V1beta1__ContainerAllocateRequest *earlier = c->containers[k];
		size_t end = k == container ? index : earlier->n_devices_ids;

		for (size_t j = 0; j < end; j++)
			if (strcmp(earlier->devices_ids[j], id) == 0) {
				*first = k;
				return 0;
			}
	}
	return 1;
}

static bool check_ids(hostdev_dp_server *server, const char *method, struct id_check *check,
		      size_t container, char *const *ids, size_t n, char *message, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		size_t first = 0;
		int r;

		if (dp_devices_find(server->devices, ids[i]) < 0) {
			snprintf(
			    message, size,
			    "resource %s: %s of unknown device id '%s' (not advertised by this "
			    "plugin)",
			    server->resource_name, method, ids[i]);
			return false;
		}
		r = first_of(check, container, i, ids[i], &first);
		if (r == 0 && first == container) {
			snprintf(
			    message, size,
			    "resource %s: %s of device id '%s' more than once in one container "
			    "request",
			    server->resource_name, method, ids[i]);
			return false;
		}
		if (r == 0) {
			snprintf(message, size,
				 "resource %s: %s of device id '%s' for container requests %zu and "
				 "%zu: a device goes to one container only",
				 server->resource_name, method, ids[i], first, container);
			return false;
		}
		if (r < 0) {
			snprintf(message, size, "resource %s: out of memory",
				 server->resource_name);
			return false;
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

/*
 * The memory protobuf-c unpacks a request into: a buffer on the caller's stack first, malloc()
 * once it is used up. The kubelet's usual request (a device or a few) then costs no malloc() and
 * free() pair per piece; a request of thousands of ids still fits.
 */
struct arena {
	size_t used;
	_Alignas(max_align_t) unsigned char buf[1024];
};

static void *arena_alloc(void *data, size_t size)
{
	struct arena *a = data;
	size_t need = (size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);

	if (need >= size && need <= sizeof(a->buf) - a->used) {
		void *p = a->buf + a->used;

		a->used += need;
		return p;
	}
	return malloc(size);
}

static void arena_free(void *data, void *pointer)
{
	struct arena *a = data;
	uintptr_t p = (uintptr_t)pointer, start = (uintptr_t)a->buf;

	/* Pieces in the buffer go with it. */
	if (p < start || p >= start + sizeof(a->buf))
		free(pointer);
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
	if (!w || dp_proto_list_and_watch(server->devices, GRPC_MESSAGE_HEADROOM, &msg, &n) < 0) {
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
	grpc_call_send_latest_owned(call, msg, n);
	dp_server_give_back_memory(server);
	log_info(server->ctx, "resource %s: ListAndWatch opened; sent %zu devices",
		 server->resource_name, server->devices->count);
}

void dp_service_finish_watchers(hostdev_dp_server *server)
{
	uint8_t *msg = NULL;
	size_t n = 0;
	int r = dp_proto_list_and_watch(NULL, 0, &msg, &n);

	for (struct dp_watcher *w = server->watchers; w; w = w->next) {
		if (w->finished)
			continue;
		w->finished = true;
		/* Replaces a list the kubelet has not started to read: the stream ends on "no
		 * devices", whatever it still had to catch up on. */
		if (r == 0)
			grpc_call_send_latest(w->call, msg, n);
		grpc_call_finish(w->call, GRPC_STATUS_OK, NULL);
	}
	free(msg);
}

static void on_allocate(struct grpc_call *call, const uint8_t *request, size_t length,
			void *userdata)
{
	hostdev_dp_server *server = userdata;
	struct arena arena = {.used = 0};
	ProtobufCAllocator allocator = {arena_alloc, arena_free, &arena};
	V1beta1__AllocateRequest *req =
	    v1beta1__allocate_request__unpack(&allocator, length, request);
	hostdev_dp_response **answers = NULL;
	char message[DP_MESSAGE_MAX], list[DP_MESSAGE_MAX / 2];
	struct id_check check = {0};
	size_t n, done = 0, n_ids = 0;
	uint8_t *msg = NULL;
	size_t msg_length = 0;
	int r = 0;

	if (!req) {
		malformed(call, server, "AllocateRequest");
		return;
	}
	dp_strmap_init(&check.seen);
	n = req->n_container_requests;
	for (size_t i = 0; i < n && n_ids <= DP_SCAN_IDS; i++)
		n_ids += req->container_requests[i]->n_devices_ids;
	if (n_ids <= DP_SCAN_IDS)
		check.containers = req->container_requests;
	answers = calloc(n ? n : 1, sizeof(*answers));
	if (!answers) {
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	/* The whole request first: the plugin allocates nothing of a request that is refused. */
	for (size_t i = 0; i < n; i++) {
		V1beta1__ContainerAllocateRequest *c = req->container_requests[i];

		if (!check_ids(server, "Allocate", &check, i, c->devices_ids, c->n_devices_ids,
			       message, sizeof(message))) {
			fail(call, server, GRPC_STATUS_INVALID_ARGUMENT, message);
			goto out;
		}
	}
	for (; done < n; done++) {
		V1beta1__ContainerAllocateRequest *c = req->container_requests[done];

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
		/* Debug, not info: a line per call is a write (two system calls in `hostdev
		 * serve`) on a path that needs only the reply's, and the kubelet logs and
		 * checkpoints every allocation itself. */
		if (hostdev_ctx_get_log_priority(server->ctx) >= HOSTDEV_LOG_DEBUG)
			log_debug(server->ctx, "resource %s: allocated %s", server->resource_name,
				  join_ids(list, sizeof(list), c->devices_ids, c->n_devices_ids));
	}
	r = dp_proto_allocate_response(answers, n, &msg, &msg_length);
	reply(call, r, msg, msg_length);
out:
	for (size_t i = 0; answers && i < done; i++)
		dp_response_free(answers[i]);
	free(answers);
	dp_strmap_clear(&check.seen);
	v1beta1__allocate_request__free_unpacked(req, &allocator);
}

/* Append @id to @result unless @chosen has it already. */
static int choose(struct strv *result, struct dp_strmap *chosen, const char *id)
{
	int r;

	if (dp_strmap_find(chosen, id) >= 0)
		return 0;
	r = strv_push(result, id);
	if (r < 0)
		return r;
	/* The key is the copy in @result, which lives as long as @chosen is used. */
	r = dp_strmap_add(chosen, result->items[result->count - 1], 0, NULL);
	return r == -EEXIST ? 0 : r;
}

/*
 * One container of GetPreferredAllocation, per the contract of deviceplugin.h: every must-include
 * id first, then the plugin's choices among the available ids, then the other available ids in
 * the kubelet's order, until allocation_size distinct ids. Every id must be advertised (unknown
 * ones are INVALID_ARGUMENT, as in Allocate); Unhealthy ones are neither offered to the plugin nor
 * chosen, even if the answer then falls short of the size (the kubelet fills the rest from its
 * own list). Impossible requests are INVALID_ARGUMENT. Linear in the number of ids.
 */
static int preferred_one(hostdev_dp_server *server, V1beta1__ContainerPreferredAllocationRequest *c,
			 struct strv *result, char *message, size_t size)
{
	struct dp_strmap must_set, available_set, chosen;
	const char **must = NULL, **available = NULL;
	size_t n_must = 0, n_available = 0, distinct = 0, want;
	hostdev_dp_response *resp = NULL;
	int r = -ENOMEM;

	dp_strmap_init(&must_set);
	dp_strmap_init(&available_set);
	dp_strmap_init(&chosen);
	must = calloc(c->n_must_include_deviceids + 1, sizeof(*must));
	available = calloc(c->n_available_deviceids + 1, sizeof(*available));
	if (!must || !available)
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		bool is_must = pass == 0;
		char *const *ids = is_must ? c->must_include_deviceids : c->available_deviceids;
		size_t n = is_must ? c->n_must_include_deviceids : c->n_available_deviceids;

		for (size_t i = 0; i < n; i++) {
			ptrdiff_t k = dp_devices_find(server->devices, ids[i]);
			bool healthy;

			if (k < 0) {
				snprintf(message, size,
					 "resource %s: GetPreferredAllocation of unknown device id "
					 "'%s' (not advertised by this plugin)",
					 server->resource_name, ids[i]);
				r = -EINVAL;
				goto out;
			}
			healthy = server->devices->items[k].healthy;
			if (is_must) {
				/* Duplicates in the request count once. */
				r = dp_strmap_add(&must_set, ids[i], 0, NULL);
				if (r == 0)
					must[n_must++] = ids[i];
			} else {
				r = dp_strmap_add(&available_set, ids[i], healthy, NULL);
				if (r == 0 && dp_strmap_find(&must_set, ids[i]) < 0)
					distinct++;
				if (r == 0 && healthy)
					available[n_available++] = ids[i];
			}
			if (r == -ENOMEM)
				goto out;
		}
	}
	distinct += n_must;
	r = -EINVAL;
	if (c->allocation_size < 0) {
		snprintf(message, size, "resource %s: GetPreferredAllocation of %d devices",
			 server->resource_name, (int)c->allocation_size);
		goto out;
	}
	want = (size_t)c->allocation_size;
	if (n_must > want) {
		snprintf(message, size,
			 "resource %s: GetPreferredAllocation must include %zu devices but "
			 "allocation_size is %zu",
			 server->resource_name, n_must, want);
		goto out;
	}
	if (distinct < want) {
		snprintf(message, size,
			 "resource %s: GetPreferredAllocation of %zu devices but only %zu distinct "
			 "devices are available",
			 server->resource_name, want, distinct);
		goto out;
	}
	r = -ENOMEM;
	resp = dp_response_new();
	if (!resp)
		goto out;
	if (server->ops.get_preferred_allocation) {
		r = server->ops.get_preferred_allocation(server->userdata, available, n_available,
							 must, n_must, want, resp);
		if (r < 0) {
			plugin_failure(server, "GetPreferredAllocation", (char *const *)available,
				       n_available, r, resp->error, message, size);
			goto out;
		}
	}
	r = 0;
	for (size_t i = 0; i < n_must && r == 0; i++)
		r = choose(result, &chosen, must[i]);
	/* The plugin's choices, as far as they are available, healthy and needed. */
	for (size_t i = 0; i < resp->ids.count && result->count < want && r == 0; i++)
		if (dp_strmap_find(&available_set, resp->ids.items[i]) == 1)
			r = choose(result, &chosen, resp->ids.items[i]);
	for (size_t i = 0; i < n_available && result->count < want && r == 0; i++)
		r = choose(result, &chosen, available[i]);
out:
	if (r == -ENOMEM)
		snprintf(message, size, "resource %s: out of memory", server->resource_name);
	dp_response_free(resp);
	dp_strmap_clear(&must_set);
	dp_strmap_clear(&available_set);
	dp_strmap_clear(&chosen);
	free(must);
	free(available);
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
	struct id_check check = {0};
	bool ok;
	int r;

	if (!req) {
		malformed(call, server, "PreStartContainerRequest");
		return;
	}
	dp_strmap_init(&check.seen);
	ok = check_ids(server, "PreStartContainer", &check, 0, req->devices_ids, req->n_devices_ids,
		       message, sizeof(message));
	dp_strmap_clear(&check.seen);
	if (!ok) {
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
	bool registered;
	char *error;
	int r = pluginreg_status_decode(request, length, &registered, &error);

	if (r == -ENOMEM) {
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
				 "out of memory decoding RegistrationStatus");
		return;
	}
	if (r < 0) {
		malformed(call, server, "RegistrationStatus");
		return;
	}
	dp_register_watcher_status(server, registered, error);
	free(error);
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
    {PLUGINREG_GET_INFO_PATH, on_get_info},
    {PLUGINREG_NOTIFY_PATH, on_notify_registration_status},
};

const struct grpc_method *dp_service_methods(int registration, size_t *n_methods)
{
	*n_methods = registration == HOSTDEV_DP_REGISTER_WATCHER ? ARRAY_SIZE(methods) : 5;
	return methods;
}
