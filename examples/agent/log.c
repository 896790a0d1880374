/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logs on stderr (a container's log stream): one line per message with an RFC 3339 UTC timestamp
 * and a level, as text ("2026-05-01T10:00:00.123Z info  published 12 objects") or, with
 * --log-format json, one JSON object per line ({"ts":...,"level":...,"msg":...}) for log
 * collectors. The library's own messages come through its log callback into the same stream.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent.h"

static enum log_format log_format = LOG_TEXT;
static int log_level = HOSTDEV_LOG_INFO;

void log_setup(enum log_format format, int level)
{
	log_format = format;
	log_level = level;
}

static const char *level_name(int priority)
{
	switch (priority) {
	case HOSTDEV_LOG_ERR:
		return "error";
	case HOSTDEV_LOG_WARNING:
		return "warning";
	case HOSTDEV_LOG_NOTICE:
		return "notice";
	case HOSTDEV_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void emit(int priority, const char *source, const char *message)
{
	struct timespec ts;
	struct tm tm;
	char stamp[80];

	if (priority > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000L);
	if (log_format == LOG_JSON) {
		cJSON *o = cJSON_CreateObject();
		char *line;

		cJSON_AddStringToObject(o, "ts", stamp);
		cJSON_AddStringToObject(o, "level", level_name(priority));
		if (source)
			cJSON_AddStringToObject(o, "source", source);
		cJSON_AddStringToObject(o, "msg", message);
		line = cJSON_PrintUnformatted(o);
		if (line)
			fprintf(stderr, "%s\n", line);
		cJSON_free(line);
		cJSON_Delete(o);
	} else {
		fprintf(stderr, "%s %-7s %s%s%s\n", stamp, level_name(priority),
			source ? source : "", source ? ": " : "", message);
	}
	fflush(stderr);
}

void log_msg(int priority, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(priority, NULL, buf);
}

void log_from_library(int priority, const char *message, void *userdata)
{
	emit(priority, "libhostdev", message);
}
