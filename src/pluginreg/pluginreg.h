/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet plugin watcher's registration API (pluginregistration v1): a plugin puts a socket
 * in the kubelet's plugins_registry directory serving pluginregistration.Registration; the kubelet
 * calls GetInfo, connects to the endpoint named there and reports with NotifyRegistrationStatus
 * (recent kubelets also repeat GetInfo as a health probe). Device-plugin servers in watcher mode
 * serve it next to their own service on one socket, DRA plugins on a socket of its own. Only
 * the messages are here; each user serves the two methods on its gRPC server. Never installed.
 */
#ifndef HOSTDEV_PLUGINREG_H
#define HOSTDEV_PLUGINREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLUGINREG_GET_INFO_PATH "/pluginregistration.Registration/GetInfo"
#define PLUGINREG_NOTIFY_PATH "/pluginregistration.Registration/NotifyRegistrationStatus"

/* PluginInfo.type of the kinds of plugins served here. */
#define PLUGINREG_TYPE_DEVICE_PLUGIN "DevicePlugin"
#define PLUGINREG_TYPE_DRA_PLUGIN "DRAPlugin"

/*
 * Encode PluginInfo{@type, @name, @endpoint (the absolute path the kubelet dials),
 * @versions[@n_versions]} into a malloc'ed *@out (never NULL). Returns 0 or -ENOMEM.
 */
int pluginreg_info_encode(const char *type, const char *name, const char *endpoint,
			  const char *const *versions, size_t n_versions, uint8_t **out,
			  size_t *length);

/*
 * Decode a RegistrationStatus: *@registered, and in *@error the kubelet's reason (malloc'ed, NULL
 * when it gave none). Returns 0, -EINVAL (not a RegistrationStatus), -ENOMEM.
 */
int pluginreg_status_decode(const uint8_t *message, size_t length, bool *registered, char **error);

#endif
