/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error sentences from the API server's answers. A failed request is answered with a metav1.Status
 * ({"kind":"Status","code":403,"reason":"Forbidden","message":"pcidevices... is forbidden: User
 * ... cannot list ..."}); its message is what a person needs, so it goes into every error.
 */
#include <stdio.h>
#include <string.h>

#include "kube.h"

static const char *http_phrase(long code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

static cJSON *parse_status(const char *body, size_t len)
{
	cJSON *doc;
	const cJSON *kind;

	if (!body || len == 0)
		return NULL;
	doc = cJSON_ParseWithLength(body, len);
	kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "Status") != 0) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

void kube_status_reason(const char *body, size_t len, char *out, size_t outlen)
{
	cJSON *doc = parse_status(body, len);
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(doc, "reason");

	snprintf(out, outlen, "%s", cJSON_IsString(reason) ? reason->valuestring : "");
	cJSON_Delete(doc);
}

void kube_status_describe(long http_code, const char *body, size_t len, char *out, size_t outlen)
{
	cJSON *doc = parse_status(body, len);
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(doc, "message");
	const char *phrase = http_phrase(http_code);

	if (cJSON_IsString(message) && message->valuestring[0]) {
		snprintf(out, outlen, "HTTP %ld%s%s: %s", http_code, phrase[0] ? " " : "", phrase,
			 message->valuestring);
	} else if (body && len > 0 && !doc) {
		/* Not a Status (a proxy's page, plain text): its first line, bounded. */
		size_t n = strcspn(body, "\r\n");

		if (n > 200)
			n = 200;
		snprintf(out, outlen, "HTTP %ld%s%s: %.*s", http_code, phrase[0] ? " " : "", phrase,
			 (int)n, body);
	} else {
		snprintf(out, outlen, "HTTP %ld%s%s", http_code, phrase[0] ? " " : "", phrase);
	}
	cJSON_Delete(doc);
}
