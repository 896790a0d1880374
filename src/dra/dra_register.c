/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registration with the kubelet's plugin watcher: the socket <driver>-reg.sock in
 * plugins_registry serves pluginregistration.Registration. The kubelet calls GetInfo, checks
 * type "DRAPlugin" and the versions, connects to the endpoint (our dra.sock) and reports with
 * NotifyRegistrationStatus. A kubelet that restarts finds the socket again and repeats both;
 * recent kubelets also repeat GetInfo now and then as a health probe, which changes nothing here.
 */
#include <errno.h>
#include <stdlib.h>

#include "dra.h"
#include "pluginreg/pluginreg.h"

/* The version strings the kubelet's DRA handler expects: short names, not the service paths. */
static const struct {
	unsigned int version;
	const char *name;
} versions[] = {
    {HOSTDEV_DRA_API_V1, "v1.DRAPlugin"},
    {HOSTDEV_DRA_API_V1BETA1, "v1beta1.DRAPlugin"},
};

static void on_get_info(struct grpc_call *call, const uint8_t *request, size_t length,
			void *userdata)
{
	hostdev_dra_plugin *plugin = userdata;
	const char *names[ARRAY_SIZE(versions)];
	size_t n = 0;
	uint8_t *msg;
	size_t msg_length;

	for (size_t i = 0; i < ARRAY_SIZE(versions); i++)
		if (plugin->api_versions & versions[i].version)
			names[n++] = versions[i].name;
	if (pluginreg_info_encode(PLUGINREG_TYPE_DRA_PLUGIN, plugin->driver, plugin->socket_path,
				  names, n, &msg, &msg_length) < 0) {
		grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
				 "out of memory encoding PluginInfo");
		return;
	}
	log_debug(plugin->ctx, "DRA driver %s: the kubelet's plugin watcher called GetInfo on %s",
		  plugin->driver, plugin->registration_path);
	grpc_call_send(call, msg, msg_length);
	free(msg);
	grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void on_notify_registration_status(struct grpc_call *call, const uint8_t *request,
					  size_t length, void *userdata)
{
	hostdev_dra_plugin *plugin = userdata;
	bool registered;
	char *error;
	int r = pluginreg_status_decode(request, length, &registered, &error);

	if (r < 0) {
		grpc_call_finish(call,
				 r == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED
					      : GRPC_STATUS_INVALID_ARGUMENT,
				 r == -ENOMEM ? "out of memory decoding RegistrationStatus"
					      : "malformed RegistrationStatus message");
		return;
	}
	if (registered) {
		plugin->state = HOSTDEV_DRA_REGISTERED;
		plugin->registrations++;
		log_info(plugin->ctx,
			 "DRA driver %s: registered with the kubelet (registration %u, serving %s)",
			 plugin->driver, plugin->registrations, plugin->socket_path);
	} else {
		plugin->state = HOSTDEV_DRA_REGISTERING;
		log_warn(plugin->ctx,
			 "DRA driver %s: the kubelet refused the registration: %s (check the "
			 "driver name and that no other plugin serves it)",
			 plugin->driver, error ? error : "no reason given");
	}
	/* Answer (RegistrationStatusResponse is empty) before the callback, which may take a
	 * while (it republishes ResourceSlices). */
	grpc_call_send(call, (const uint8_t *)"", 0);
	grpc_call_finish(call, GRPC_STATUS_OK, NULL);
	if (plugin->ops.registration_status)
		plugin->ops.registration_status(plugin->userdata, registered, error ? error : "");
	free(error);
}

static const struct grpc_method methods[] = {
    {PLUGINREG_GET_INFO_PATH, on_get_info},
    {PLUGINREG_NOTIFY_PATH, on_notify_registration_status},
};

const struct grpc_method *dra_register_methods(size_t *n_methods)
{
	*n_methods = ARRAY_SIZE(methods);
	return methods;
}
