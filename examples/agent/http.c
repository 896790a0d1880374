/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /healthz, /readyz and /metrics on libmicrohttpd's own thread (a probe must be answered even
 * while the loop is busy with a burst of writes). /healthz fails when the loop has not run for
 * a while (a stuck agent), /readyz until the first reconcile converged and while the API server
 * is unreachable; both say why in the body.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "agent.h"

/* The loop beats every few seconds; this much silence means it is stuck. */
#define HEALTHZ_MAX_SILENCE_S 60.0

struct http_server {
	struct MHD_Daemon *daemon;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     char *body, bool owned)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	char text[320];

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", false);
	if (strcmp(url, "/healthz") == 0) {
		double age;

		metrics_refresh();
		age = metrics_heartbeat_age();

		if (age > HEALTHZ_MAX_SILENCE_S) {
			snprintf(text, sizeof(text), "the event loop has not run for %.0f s\n",
				 age);
			return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", text, false);
		}
		return reply(conn, MHD_HTTP_OK, "text/plain", "ok\n", false);
	}
	if (strcmp(url, "/readyz") == 0) {
		char why[256];
		bool ready;

		metrics_refresh();
		ready = metrics_ready(why, sizeof(why));

		snprintf(text, sizeof(text), "%s\n", ready ? "ok" : why);
		return reply(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     text, false);
	}
	if (strcmp(url, "/metrics") == 0) {
		char *body = metrics_render();

		if (!body)
			return MHD_NO;
		return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
			     true);
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "/healthz, /readyz or /metrics\n",
		     false);
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_address(const char *text, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[128];
	const char *colon;
	char *end;
	unsigned long port;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - text - 1);
		colon = close + 1;
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, text + 1, hlen);
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, text, hlen);
	}
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535)
		goto bad;
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (host[0] == '\0')
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "--metrics-address %s: expected HOST:PORT with a numeric address "
		 "(127.0.0.1:8080, [::1]:8080, :8080 for every address)",
		 text);
	return -1;
}

struct http_server *http_start(const char *address, unsigned int *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct http_server *s;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

	if (parse_address(address, &ss, err, errlen) < 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 32u,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(err, errlen,
			 "cannot serve /healthz, /readyz and /metrics on %s (%s): choose another "
			 "--metrics-address",
			 address, errno ? strerror(errno) : "libmicrohttpd refused");
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	return s;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
