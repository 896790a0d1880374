/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors and log messages of the plugins through their context: the public
 * hostdev_ctx_set_error() and hostdev_ctx_log() take finished messages (the public API has no
 * varargs), these format them first.
 */
#include <stdarg.h>
#include <stdio.h>

#include "plugin.h"

/* As long as the context keeps an error message. */
#define MESSAGE_MAX 1024

int plugin_error(hostdev_ctx *ctx, int err, const char *fmt, ...)
{
	char message[MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return hostdev_ctx_set_error(ctx, err, message);
}

void plugin_log(hostdev_ctx *ctx, int priority, const char *fmt, ...)
{
	char message[MESSAGE_MAX];
	va_list ap;

	if (!ctx || priority > hostdev_ctx_get_log_priority(ctx))
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	hostdev_ctx_log(ctx, priority, message);
}
