/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostdev_dra_request_*: one claim of a kubelet call and the answer a driver builds for it. A
 * request belongs to its call (struct dra_call), which answers the kubelet once every request
 * is complete; "freed" for the caller means complete, the memory goes with the call.
 *
 * The accessors and builders take no lock: a request has one owner at a time (the callback,
 * then whoever it handed the request to), and the call reads it only once it is complete.
 * Completing takes the loop's lock, which also orders the owner's writes before the reading.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra.h"
#include "loop/loop.h"

hostdev_dra_request *dra_request_new(struct dra_call *owner, const char *namespace_name,
				     const char *name, const char *uid)
{
	hostdev_dra_request *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->owner = owner;
	req->namespace_name = strdup(namespace_name);
	req->name = strdup(name);
	req->uid = strdup(uid);
	if (!req->namespace_name || !req->name || !req->uid) {
		dra_request_free(req);
		return NULL;
	}
	return req;
}

static void drop_devices(hostdev_dra_request *req)
{
	for (size_t i = 0; i < req->n_devices; i++) {
		free(req->devices[i].pool_name);
		free(req->devices[i].device_name);
		strv_clear(&req->devices[i].request_names);
		strv_clear(&req->devices[i].cdi_ids);
	}
	free(req->devices);
	req->devices = NULL;
	req->n_devices = 0;
}

void dra_request_free(hostdev_dra_request *req)
{
	if (!req)
		return;
	drop_devices(req);
	free(req->namespace_name);
	free(req->name);
	free(req->uid);
	free(req->error);
	free(req);
}

void dra_request_fail(hostdev_dra_request *req, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	free(req->error);
	/* Without memory for the text the claim fails all the same (dra_request_error()). */
	req->error = n < 0 ? NULL : text;
	req->failed = true;
	drop_devices(req);
}

const char *dra_request_error(const hostdev_dra_request *req)
{
	if (!req->failed && !req->error)
		return NULL;
	return req->error ? req->error : "out of memory for the error message";
}

void dra_request_done(hostdev_dra_request *req)
{
	struct dra_call *call = req->owner;

	if (req->done)
		return;
	req->done = true;
	call->pending--;
	dra_call_settle(call);
}

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dra_request, get_namespace, namespace_name, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dra_request, get_name, name, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_dra_request, get_uid, uid, NULL)

HOSTDEV_EXPORT const char *hostdev_dra_request_get_api_version(const hostdev_dra_request *req)
{
	return req ? req->owner->api_version : NULL;
}

HOSTDEV_EXPORT int hostdev_dra_request_is_prepare(const hostdev_dra_request *req)
{
	return req ? req->owner->prepare : 0;
}

/* The request's device @index, NULL when out of range. */
static struct dra_device *device_at(hostdev_dra_request *req, int index)
{
	if (!req || index < 0 || (size_t)index >= req->n_devices)
		return NULL;
	return &req->devices[index];
}

HOSTDEV_EXPORT int hostdev_dra_request_add_device(hostdev_dra_request *req, const char *pool_name,
						  const char *device_name)
{
	struct dra_device *devices, *d;

	if (!req || !req->owner->prepare || !pool_name || !*pool_name || !device_name ||
	    !*device_name || req->n_devices >= INT32_MAX)
		return -EINVAL;
	devices = realloc(req->devices, (req->n_devices + 1) * sizeof(*devices));
	if (!devices)
		return -ENOMEM;
	req->devices = devices;
	d = &devices[req->n_devices];
	memset(d, 0, sizeof(*d));
	d->pool_name = strdup(pool_name);
	d->device_name = strdup(device_name);
	if (!d->pool_name || !d->device_name) {
		free(d->pool_name);
		free(d->device_name);
		return -ENOMEM;
	}
	return (int)req->n_devices++;
}

HOSTDEV_EXPORT int hostdev_dra_request_add_request_name(hostdev_dra_request *req, int index,
							const char *request_name)
{
	struct dra_device *d = device_at(req, index);

	if (!d || !request_name || !*request_name)
		return -EINVAL;
	return strv_push(&d->request_names, request_name);
}

HOSTDEV_EXPORT int hostdev_dra_request_add_cdi_id(hostdev_dra_request *req, int index,
						  const char *cdi_id)
{
	struct dra_device *d = device_at(req, index);

	if (!d || !cdi_id || dra_cdi_check_id(cdi_id) < 0)
		return -EINVAL;
	return strv_push(&d->cdi_ids, cdi_id);
}

HOSTDEV_EXPORT int hostdev_dra_request_set_error(hostdev_dra_request *req, const char *message)
{
	char *copy;

	if (!req || !message || !*message)
		return -EINVAL;
	copy = strdup(message);
	if (!copy)
		return -ENOMEM;
	free(req->error);
	req->error = copy;
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_request_complete(hostdev_dra_request *req)
{
	hostdev_loop *loop;

	if (!req)
		return -EINVAL;
	/* The call, and with it the plugin and its loop, lives until this request is done. */
	loop = hostdev_loop_ref(req->owner->plugin->loop);
	loop_lock(loop);
	if (req->done) {
		loop_unlock(loop);
		hostdev_loop_unref(loop);
		return -EINVAL;
	}
	/* Completed from inside its own callback before that returned HOSTDEV_DRA_DEFERRED: the
	 * dispatch sees it done. */
	dra_request_done(req);
	loop_unlock(loop);
	hostdev_loop_unref(loop);
	return 0;
}
