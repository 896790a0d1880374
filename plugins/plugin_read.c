/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the logic of every kind reads through its plugin: the devices of the resource now, device
 * nodes, and how a failed read is answered. Apart from plugin.c, which dispatches to the kinds,
 * so that the kinds never call back into it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

int plugin_read_failure(struct plugin_answer *out, int err, const char *what, const char *detail)
{
	if (plugin_short_of_resources(err))
		return answer_fail(
		    out, err,
		    "%s cannot be checked now: %s; the device plugin is short of %s, "
		    "which says nothing about the device: retry",
		    what, detail,
		    err == -ENOMEM || err == -ENOBUFS ? "memory" : "file descriptors");
	return answer_fail(out, err, "%s cannot be read: %s", what, detail);
}

bool plugin_short_of_resources(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOMEM || err == -ENOBUFS ||
	       err == -EAGAIN;
}

int plugin_dev_exists(const struct plugin *p, const char *rel)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", hostdev_ctx_get_path(p->ctx, HOSTDEV_PATH_DEV),
		     rel) >= (int)sizeof(path))
		return 0;
	return access(path, F_OK) == 0;
}

int plugin_matches(struct plugin *p, hostdev_ctx *ctx, hostdev_dp_matches **out)
{
	/* Only the devices named like this resource (a pooled or per-device entry gives several).
	 */
	return hostdev_dp_config_match(ctx, p->config, p->entry, p->resource_name, out);
}
