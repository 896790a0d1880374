/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The servers of `hostdev serve`, following hot-plug (issue 14): the config is resolved again on
 * every hot-plug event and refresh tick. A resource name that was not served before (a device
 * plugged later whose Harvester or per-device name is new) gets its server, started and
 * registered at once. A resource that is no longer in the resolution (its last device left)
 * keeps its server for a grace period, during which the built-in plugin lists its devices
 * Unhealthy (pods that hold them are told, and the kubelet hands them out no more); a device
 * that comes back within it keeps the server; after it the server stops (an empty list to the
 * kubelet, the socket removed). Resources of an explicit resourceName are always resolved and so
 * never end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const struct serve_set *s, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct serve_set *s, int priority, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->log(priority, line, NULL);
}

static long find(const struct serve_set *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->items[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Serve resource @i of @res. Returns 0 or a negative errno (message in the context). */
static int add(struct serve_set *s, const hostdev_dp_resources *res, size_t i, const char *why)
{
	const char *name = hostdev_dp_resources_get_name(res, i);
	struct serve_entry *grown = realloc(s->items, (s->count + 1) * sizeof(*grown));
	struct serve_entry *e;
	int r;

	if (!grown)
		return -ENOMEM;
	s->items = grown;
	e = &s->items[s->count];
	memset(e, 0, sizeof(*e));
	e->gone_since_ms = -1;
	if (!(e->name = strdup(name)))
		return -ENOMEM;
	r = hostdev_dp_server_new_builtin(s->loop, res, i, s->opts, &e->server);
	if (r == 0 && (r = hostdev_dp_server_start(e->server)) < 0)
		e->server = hostdev_dp_server_unref(e->server);
	if (r < 0) {
		free(e->name);
		return r;
	}
	s->count++;
	say(s, HOSTDEV_LOG_INFO, "serving %s (%zu devices) on %s%s", name,
	    hostdev_dp_resources_get_device_count(res, i),
	    hostdev_dp_server_get_socket_path(e->server), why);
	return 0;
}

static void end(struct serve_set *s, size_t i)
{
	hostdev_dp_server_stop(s->items[i].server);
	hostdev_dp_server_unref(s->items[i].server);
	free(s->items[i].name);
	memmove(&s->items[i], &s->items[i + 1], (s->count - i - 1) * sizeof(*s->items));
	s->count--;
}

int serve_set_start(struct serve_set *s, const hostdev_dp_resources *res, size_t *failed)
{
	int r;

	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		if ((r = add(s, res, i, "")) < 0) {
			*failed = i;
			return r;
		}
	}
	return 0;
}

void serve_set_sync(struct serve_set *s)
{
	size_t before = s->count;
	hostdev_dp_resources *res = NULL;
	long long now = now_ms();
	bool *resolved;
	int r, priority;

	/* The devices an entry leaves out were logged at the start; not again every interval. */
	priority = hostdev_ctx_get_log_priority(s->ctx);
	hostdev_ctx_set_log_priority(s->ctx, HOSTDEV_LOG_ERR);
	r = hostdev_dp_resources_resolve(s->ctx, s->config, &res);
	hostdev_ctx_set_log_priority(s->ctx, priority);
	if (r < 0) {
		say(s, HOSTDEV_LOG_WARNING,
		    "cannot resolve the config again (%s); serving what was resolved before",
		    hostdev_ctx_get_error(s->ctx));
		return;
	}
	resolved = calloc(before ? before : 1, sizeof(*resolved));
	if (!resolved) {
		hostdev_dp_resources_unref(res);
		return;
	}
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		const char *name = hostdev_dp_resources_get_name(res, i);
		long k = find(s, name);

		if (k >= 0) {
			resolved[k] = true;
			if (s->items[k].gone_since_ms >= 0)
				say(s, HOSTDEV_LOG_INFO, "%s has devices again: it stays", name);
			s->items[k].gone_since_ms = -1;
		} else if (add(s, res, i, " (new on this host)") < 0) {
			say(s, HOSTDEV_LOG_WARNING, "cannot serve %s: %s", name,
			    hostdev_ctx_get_error(s->ctx));
		}
	}
	/* Backwards: end() moves the entries after the one it removes. */
	for (size_t i = before; i-- > 0;) {
		struct serve_entry *e = &s->items[i];

		if (resolved[i])
			continue;
		if (e->gone_since_ms < 0) {
			e->gone_since_ms = now;
			say(s, HOSTDEV_LOG_INFO,
			    "%s has no device left: its devices are listed Unhealthy%s", e->name,
			    s->grace_ms < 0 ? "" : ", and it ends after the grace period");
		}
		if (s->grace_ms >= 0 && now - e->gone_since_ms >= s->grace_ms) {
			say(s, HOSTDEV_LOG_INFO,
			    "%s ends: no device for %d ms (advertising no devices, removing its "
			    "socket)",
			    e->name, s->grace_ms);
			end(s, i);
		}
	}
	free(resolved);
	hostdev_dp_resources_unref(res);
}

int serve_set_timeout(const struct serve_set *s)
{
	long long now = now_ms(), soonest = -1;

	if (s->grace_ms < 0)
		return -1;
	for (size_t i = 0; i < s->count; i++) {
		long long left;

		if (s->items[i].gone_since_ms < 0)
			continue;
		left = s->items[i].gone_since_ms + s->grace_ms - now;
		if (left < 0)
			left = 0;
		if (soonest < 0 || left < soonest)
			soonest = left;
	}
	return soonest > 0x7fffffff ? 0x7fffffff : (int)soonest;
}

void serve_set_refresh(struct serve_set *s)
{
	for (size_t i = 0; i < s->count; i++)
		hostdev_dp_server_refresh(s->items[i].server);
}

void serve_set_stop(struct serve_set *s)
{
	while (s->count)
		end(s, s->count - 1);
	free(s->items);
	s->items = NULL;
}
