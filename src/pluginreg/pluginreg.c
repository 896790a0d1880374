/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin watcher's messages, with the code protoc-c generates from
 * proto/pluginregistration_v1.proto. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pluginreg.h"
#include "pluginregistration_v1.pb-c.h"

int pluginreg_info_encode(const char *type, const char *name, const char *endpoint,
			  const char *const *versions, size_t n_versions, uint8_t **out,
			  size_t *length)
{
	Pluginregistration__PluginInfo msg = PLUGINREGISTRATION__PLUGIN_INFO__INIT;
	size_t size;
	uint8_t *buf;

	/* The message only borrows the strings. */
	msg.type = (char *)type;
	msg.name = (char *)name;
	msg.endpoint = (char *)endpoint;
	msg.n_supported_versions = n_versions;
	msg.supported_versions = (char **)versions;
	size = pluginregistration__plugin_info__get_packed_size(&msg);
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	*length = pluginregistration__plugin_info__pack(&msg, buf);
	*out = buf;
	return 0;
}

int pluginreg_status_decode(const uint8_t *message, size_t length, bool *registered, char **error)
{
	Pluginregistration__RegistrationStatus *status =
	    pluginregistration__registration_status__unpack(NULL, length, message);
	int r = 0;

	if (!status)
		return -EINVAL;
	*registered = status->plugin_registered;
	*error = NULL;
	if (status->error && *status->error) {
		*error = strdup(status->error);
		if (!*error)
			r = -ENOMEM;
	}
	pluginregistration__registration_status__free_unpacked(status, NULL);
	return r;
}
