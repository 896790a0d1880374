/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DRAPlugin service (k8s.io.kubelet.pkg.apis.dra.v1 and .v1beta1): NodePrepareResources and
 * NodeUnprepareResources. A call becomes one request per distinct claim, each handed to the
 * driver's callback; the call is answered once every request is complete, a callback answering
 * at once or deferring to another thread. Per-claim failures go into the claim's error field
 * (the kubelet retries that claim); only a message that is not a request at all fails the call.
 *
 * Both versions' requests and responses have the same wire form (v1beta1 lacks Device.share_id,
 * which is never set here), so both are decoded and encoded with v1's generated code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra.h"
#include "dra_v1.pb-c.h"
#include "loop/loop.h"

typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesRequest claims_request;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim claim_msg;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse prepare_response;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourcesResponse__ClaimsEntry
    prepare_entry;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodePrepareResourceResponse prepare_answer;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Device device_msg;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse unprepare_response;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourcesResponse__ClaimsEntry
    unprepare_entry;
typedef K8s__Io__Kubelet__Pkg__Apis__Dra__V1__NodeUnprepareResourceResponse unprepare_answer;

/* ---------------------------------------------------------------------------------------------- */
/* Answers */

static int pack(const ProtobufCMessage *msg, uint8_t **out, size_t *length)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return -ENOMEM;
	*length = protobuf_c_message_pack(msg, buf);
	*out = buf;
	return 0;
}

/* NodePrepareResourcesResponse of @call's requests; the message borrows their strings. */
static int encode_prepare(const struct dra_call *call, uint8_t **out, size_t *length)
{
	prepare_response msg =
	    K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_PREPARE_RESOURCES_RESPONSE__INIT;
	size_t n = call->n_requests, n_devices = 0, k = 0;
	prepare_entry *entries = calloc(n ? n : 1, sizeof(*entries));
	prepare_entry **entryp = calloc(n ? n : 1, sizeof(*entryp));
	prepare_answer *answers = calloc(n ? n : 1, sizeof(*answers));
	device_msg *devices = NULL;
	device_msg **devicep = NULL;
	int r = -ENOMEM;

	for (size_t i = 0; i < n; i++)
		if (!dra_request_error(call->requests[i]))
			n_devices += call->requests[i]->n_devices;
	devices = calloc(n_devices ? n_devices : 1, sizeof(*devices));
	devicep = calloc(n_devices ? n_devices : 1, sizeof(*devicep));
	if (!entries || !entryp || !answers || !devices || !devicep)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const hostdev_dra_request *req = call->requests[i];

		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__claims_entry__init(
		    &entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resource_response__init(
		    &answers[i]);
		entries[i].key = req->uid;
		entries[i].value = &answers[i];
		entryp[i] = &entries[i];
		if (dra_request_error(req)) {
			answers[i].error = (char *)dra_request_error(req);
			continue;
		}
		answers[i].devices = &devicep[k];
		answers[i].n_devices = req->n_devices;
		for (size_t j = 0; j < req->n_devices; j++, k++) {
			const struct dra_device *d = &req->devices[j];

			k8s__io__kubelet__pkg__apis__dra__v1__device__init(&devices[k]);
			devices[k].pool_name = d->pool_name;
			devices[k].device_name = d->device_name;
			devices[k].request_names = d->request_names.items;
			devices[k].n_request_names = d->request_names.count;
			devices[k].cdi_device_ids = d->cdi_ids.items;
			devices[k].n_cdi_device_ids = d->cdi_ids.count;
			devicep[k] = &devices[k];
		}
	}
	msg.claims = entryp;
	msg.n_claims = n;
	r = pack(&msg.base, out, length);
out:
	free(entries);
	free(entryp);
	free(answers);
	free(devices);
	free(devicep);
	return r;
}

static int encode_unprepare(const struct dra_call *call, uint8_t **out, size_t *length)
{
	unprepare_response msg =
	    K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_UNPREPARE_RESOURCES_RESPONSE__INIT;
	size_t n = call->n_requests;
	unprepare_entry *entries = calloc(n ? n : 1, sizeof(*entries));
	unprepare_entry **entryp = calloc(n ? n : 1, sizeof(*entryp));
	unprepare_answer *answers = calloc(n ? n : 1, sizeof(*answers));
	int r = -ENOMEM;

	if (!entries || !entryp || !answers)
		goto out;
	for (size_t i = 0; i < n; i++) {
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__claims_entry__init(
		    &entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resource_response__init(
		    &answers[i]);
		if (dra_request_error(call->requests[i]))
			answers[i].error = (char *)dra_request_error(call->requests[i]);
		entries[i].key = call->requests[i]->uid;
		entries[i].value = &answers[i];
		entryp[i] = &entries[i];
	}
	msg.claims = entryp;
	msg.n_claims = n;
	r = pack(&msg.base, out, length);
out:
	free(entries);
	free(entryp);
	free(answers);
	return r;
}

static void call_free(struct dra_call *call)
{
	for (size_t i = 0; i < call->n_requests; i++)
		dra_request_free(call->requests[i]);
	free(call->requests);
	dra_plugin_release(call->plugin);
	free(call);
}

static void on_call_closed(struct grpc_call *grpc_call, void *userdata)
{
	struct dra_call *call = userdata;

	call->call = NULL;
	if (call->pending == 0 && !call->dispatching)
		call_free(call);
	/* Otherwise the last request to complete frees it (its answer goes nowhere). */
}

void dra_call_settle(struct dra_call *call)
{
	hostdev_dra_plugin *plugin = call->plugin;
	uint8_t *msg = NULL;
	size_t length = 0;
	int r;

	if (call->pending > 0 || call->dispatching)
		return;
	if (!call->call) {
		/* The kubelet is gone (its deadline, or the plugin stopped): nobody to answer. */
		log_info(plugin->ctx,
			 "DRA driver %s: the kubelet gave up on a %s call before its %zu claims "
			 "were complete; it will ask again",
			 plugin->driver,
			 call->prepare ? "NodePrepareResources" : "NodeUnprepareResources",
			 call->n_requests);
		call_free(call);
		return;
	}
	r = call->prepare ? encode_prepare(call, &msg, &length)
			  : encode_unprepare(call, &msg, &length);
	if (r < 0) {
		grpc_call_finish(call->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
				 "out of memory encoding the response");
		return;
	}
	if (grpc_call_send(call->call, msg, length) < 0)
		grpc_call_finish(call->call, GRPC_STATUS_INTERNAL, "cannot queue the response");
	else
		grpc_call_finish(call->call, GRPC_STATUS_OK, NULL);
	free(msg);
	/* on_call_closed() frees the call once the answer is out. */
}

/* ---------------------------------------------------------------------------------------------- */
/* Requests */

/* The request of @call for @uid, if one was made already. */
static hostdev_dra_request *find_request(const struct dra_call *call, const char *uid)
{
	for (size_t i = 0; i < call->n_requests; i++)
		if (strcmp(call->requests[i]->uid, uid) == 0)
			return call->requests[i];
	return NULL;
}

/*
 * A request for each distinct claim of @msg. The kubelet keys its answer by uid, so one uid
 * is one claim: a repeat of it with the same namespace and name is the same claim (one
 * request); with another, the request is refused before the driver sees it, as is a claim
 * missing one of the three names. Returns 0 or -ENOMEM.
 */
static int make_requests(struct dra_call *call, const claims_request *msg)
{
	hostdev_dra_plugin *plugin = call->plugin;

	call->requests = calloc(msg->n_claims ? msg->n_claims : 1, sizeof(*call->requests));
	if (!call->requests)
		return -ENOMEM;
	for (size_t i = 0; i < msg->n_claims; i++) {
		const claim_msg *c = msg->claims[i];
		const char *ns = c->namespace_ ? c->namespace_ : "";
		const char *name = c->name ? c->name : "";
		const char *uid = c->uid ? c->uid : "";
		hostdev_dra_request *req = find_request(call, uid);

		if (req) {
			if (!dra_request_error(req) &&
			    (strcmp(req->namespace_name, ns) != 0 || strcmp(req->name, name) != 0))
				dra_request_fail(req,
						 "DRA driver %s: claim uid '%s' is given for both "
						 "%s/%s and %s/%s; "
						 "one uid names one claim",
						 plugin->driver, uid, req->namespace_name,
						 req->name, ns, name);
			continue;
		}
		req = dra_request_new(call, ns, name, uid);
		if (!req)
			return -ENOMEM;
		call->requests[call->n_requests++] = req;
		if (!*uid || !*ns || !*name)
			dra_request_fail(
			    req,
			    "DRA driver %s: claim #%zu (namespace '%s', name '%s', uid "
			    "'%s') lacks its %s",
			    plugin->driver, i, ns, name, uid,
			    !*uid  ? "uid"
			    : !*ns ? "namespace"
				   : "name");
	}
	return 0;
}

/* Hand every request that is still open to the driver. */
static void dispatch(struct dra_call *call)
{
	hostdev_dra_plugin *plugin = call->plugin;
	const char *what = call->prepare ? "prepare" : "unprepare";
	int (*fn)(void *, hostdev_dra_request *) =
	    call->prepare ? plugin->ops.prepare : plugin->ops.unprepare;

	call->dispatching = true;
	call->pending = call->n_requests;
	for (size_t i = 0; i < call->n_requests; i++) {
		hostdev_dra_request *req = call->requests[i];
		int r;

		if (dra_request_error(req)) {
			log_warn(plugin->ctx, "%s", dra_request_error(req));
			dra_request_done(req);
			continue;
		}
		if (!fn) {
			if (call->prepare)
				dra_request_fail(req,
						 "DRA driver %s prepares no claims: it was created "
						 "without a prepare callback",
						 plugin->driver);
			dra_request_done(req);
			continue;
		}
		log_debug(plugin->ctx, "DRA driver %s: %s claim %s/%s (uid %s) over %s",
			  plugin->driver, what, req->namespace_name, req->name, req->uid,
			  call->api_version);
		r = fn(plugin->userdata, req);
		if (r == HOSTDEV_DRA_DEFERRED)
			continue;
		if (req->done)
			/* Completed inside the callback, which then did not say it deferred. */
			continue;
		if (r < 0 && !dra_request_error(req))
			dra_request_fail(req, "DRA driver %s: cannot %s claim %s/%s (uid %s): %s",
					 plugin->driver, what, req->namespace_name, req->name,
					 req->uid, strerror(-r));
		else if (r > 0)
			dra_request_fail(req,
					 "DRA driver %s: the %s callback returned %d for claim "
					 "%s/%s (uid %s), neither 0, a negative errno nor "
					 "HOSTDEV_DRA_DEFERRED",
					 plugin->driver, what, r, req->namespace_name, req->name,
					 req->uid);
		/* An error set by the callback fails the claim whatever it returned: the answer
		 * then carries the error and no devices. */
		if (dra_request_error(req))
			log_warn(plugin->ctx, "%s", dra_request_error(req));
		dra_request_done(req);
	}
	call->dispatching = false;
	dra_call_settle(call);
}

static void handle(struct grpc_call *grpc_call, const uint8_t *message, size_t length,
		   hostdev_dra_plugin *plugin, bool prepare, const char *api_version)
{
	/* NodeUnprepareResourcesRequest has the same form: repeated Claim claims = 1. */
	claims_request *msg =
	    k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__unpack(
		NULL, length, message);
	struct dra_call *call;
	char text[256];

	if (!msg) {
		snprintf(text, sizeof(text), "DRA driver %s: malformed %s message", plugin->driver,
			 prepare ? "NodePrepareResourcesRequest" : "NodeUnprepareResourcesRequest");
		log_warn(plugin->ctx, "%s", text);
		grpc_call_finish(grpc_call, GRPC_STATUS_INVALID_ARGUMENT, text);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (call) {
		call->plugin = plugin;
		call->prepare = prepare;
		call->api_version = api_version;
	}
	if (!call || make_requests(call, msg) < 0) {
		if (call) {
			for (size_t i = 0; i < call->n_requests; i++)
				dra_request_free(call->requests[i]);
			free(call->requests);
			free(call);
		}
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__free_unpacked(
		    msg, NULL);
		grpc_call_finish(grpc_call, GRPC_STATUS_RESOURCE_EXHAUSTED,
				 "out of memory reading the claims");
		return;
	}
	k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__free_unpacked(msg,
											    NULL);
	plugin->holds++;
	call->call = grpc_call;
	grpc_call_on_close(grpc_call, on_call_closed, call);
	dispatch(call);
}

static void on_prepare_v1(struct grpc_call *call, const uint8_t *message, size_t length,
			  void *userdata)
{
	handle(call, message, length, userdata, true, "v1");
}

static void on_unprepare_v1(struct grpc_call *call, const uint8_t *message, size_t length,
			    void *userdata)
{
	handle(call, message, length, userdata, false, "v1");
}

static void on_prepare_v1beta1(struct grpc_call *call, const uint8_t *message, size_t length,
			       void *userdata)
{
	handle(call, message, length, userdata, true, "v1beta1");
}

static void on_unprepare_v1beta1(struct grpc_call *call, const uint8_t *message, size_t length,
				 void *userdata)
{
	handle(call, message, length, userdata, false, "v1beta1");
}

static const struct {
	unsigned int version;
	struct grpc_method method;
} all_methods[] = {
    {HOSTDEV_DRA_API_V1,
     {"/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources", on_prepare_v1}},
    {HOSTDEV_DRA_API_V1,
     {"/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources", on_unprepare_v1}},
    {HOSTDEV_DRA_API_V1BETA1,
     {"/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/NodePrepareResources", on_prepare_v1beta1}},
    {HOSTDEV_DRA_API_V1BETA1,
     {"/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/NodeUnprepareResources",
      on_unprepare_v1beta1}},
};

int dra_service_methods(hostdev_dra_plugin *plugin)
{
	plugin->methods = calloc(ARRAY_SIZE(all_methods), sizeof(*plugin->methods));
	if (!plugin->methods)
		return -ENOMEM;
	plugin->n_methods = 0;
	for (size_t i = 0; i < ARRAY_SIZE(all_methods); i++)
		if (plugin->api_versions & all_methods[i].version)
			plugin->methods[plugin->n_methods++] = all_methods[i].method;
	return 0;
}
