/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the logic of every kind reads through its plugin: the devices of the resource now, device
 * nodes, and how a failed read is answered. Apart from plugin.c, which dispatches to the kinds,
 * so that the kinds never call back into it.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
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

size_t plugin_join(char *buf, size_t size, ...)
{
	const char *part;
	size_t used = 0;
	va_list ap;

	va_start(ap, size);
	while ((part = va_arg(ap, const char *))) {
		size_t n = strlen(part);

		if (n >= size - used) {
			memcpy(buf + used, part, size - used - 1);
			buf[size - 1] = '\0';
			va_end(ap);
			return size;
		}
		memcpy(buf + used, part, n);
		used += n;
	}
	va_end(ap);
	buf[used] = '\0';
	return used;
}

char *plugin_itoa(int n, char *buf)
{
	char digits[12];
	unsigned int u = n < 0 ? 0u - (unsigned int)n : (unsigned int)n;
	size_t k = 0, i = 0;

	do
		digits[k++] = (char)('0' + u % 10);
	while ((u /= 10));
	if (n < 0)
		buf[i++] = '-';
	while (k)
		buf[i++] = digits[--k];
	buf[i] = '\0';
	return buf;
}

bool plugin_group_link_is(const char *path, int group)
{
	char target[PATH_MAX], *end;
	const char *number;
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	long now;

	if (n <= 0)
		return false;
	target[n] = '\0';
	number = strrchr(target, '/');
	number = number ? number + 1 : target;
	errno = 0;
	now = strtol(number, &end, 10);
	return errno == 0 && end != number && *end == '\0' && now == group;
}

int plugin_dev_exists(const struct plugin *p, const char *rel)
{
	char path[PATH_MAX];

	if (plugin_join(path, sizeof(path), hostdev_ctx_get_path(p->ctx, HOSTDEV_PATH_DEV), "/",
			rel, NULL) >= sizeof(path))
		return 0;
	return access(path, F_OK) == 0;
}

int plugin_matches(struct plugin *p, hostdev_ctx *ctx, hostdev_dp_matches **out)
{
	/* Only the devices named like this resource (a pooled or per-device entry gives several).
	 */
	return hostdev_dp_config_match(ctx, p->config, p->entry, p->resource_name, out);
}
