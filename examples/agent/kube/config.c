/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-cluster configuration and what both kinds of configuration share. In a pod the API server is
 * KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, trusted through the service account's ca.crt,
 * and the token is a projected file that the kubelet rotates: the client keeps the file name, not
 * the token, and re-reads the file when it changes (client.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube.h"

void kube_config_clear(struct kube_config *cfg)
{
	free(cfg->server);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->cert_data);
	free(cfg->key_data);
	free(cfg->namespace);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static char *read_small_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, 65537);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, 65536, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

int kube_config_in_cluster(struct kube_config *cfg, const char *sa_dir, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *token_file = NULL, *ca_file = NULL, *ns_file = NULL;
	int r = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (!sa_dir)
		sa_dir = KUBE_SERVICEACCOUNT_DIR;
	if (!host || !host[0] || !port || !port[0])
		return fail(err, errlen,
			    "not running in a cluster (KUBERNETES_SERVICE_HOST and "
			    "KUBERNETES_SERVICE_PORT are not set): pass --kubeconfig FILE");
	if (asprintf(&token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&ca_file, "%s/ca.crt", sa_dir) < 0 ||
	    asprintf(&ns_file, "%s/namespace", sa_dir) < 0) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	if (access(token_file, R_OK) < 0) {
		fail(err, errlen,
		     "in-cluster config: cannot read the service-account token %s (%s): mount the "
		     "service account (automountServiceAccountToken) or pass --kubeconfig FILE",
		     token_file, strerror(errno));
		goto out;
	}
	if (access(ca_file, R_OK) < 0) {
		fail(err, errlen, "in-cluster config: cannot read the cluster CA %s (%s)", ca_file,
		     strerror(errno));
		goto out;
	}
	/* An IPv6 service address needs brackets in a URL. */
	if (asprintf(&cfg->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port) < 0 ||
	    !(cfg->source = strdup("in-cluster config"))) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	cfg->token_file = token_file;
	cfg->ca_file = ca_file;
	token_file = ca_file = NULL;
	cfg->namespace = read_small_file(ns_file);
	r = 0;
out:
	free(token_file);
	free(ca_file);
	free(ns_file);
	if (r < 0)
		kube_config_clear(cfg);
	return r;
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *kube_base64_decode(const char *text, size_t *len)
{
	size_t cap = strlen(text) / 4 * 3 + 4, n = 0;
	char *out = malloc(cap);
	unsigned int acc = 0;
	int bits = 0, pad = 0;

	if (!out)
		return NULL;
	for (const char *p = text; *p; p++) {
		int v;

		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		v = b64_value((unsigned char)*p);
		if (v < 0 || pad) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*len = n;
	return out;
}
