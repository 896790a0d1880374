/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubeconfig files (libyaml): the current context (or the one asked for), its cluster (server,
 * CA file or inline data, insecure-skip-tls-verify) and its user (token, tokenFile, client
 * certificate and key as files or inline data). Exec and auth-provider plugins are refused with a
 * message: a node agent runs with a service account, and a plugin would run programs.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kube.h"

struct doc {
	yaml_document_t yaml;
	const char *path;
	char *err;
	size_t errlen;
};

static int fail(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct doc *d, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(d->err, d->errlen, "kubeconfig %s: ", d->path);

	if (n < 0 || (size_t)n >= d->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static yaml_node_t *node(struct doc *d, int id)
{
	return id ? yaml_document_get_node(&d->yaml, id) : NULL;
}

/* The value of @key in the mapping @map, or NULL. */
static yaml_node_t *get(struct doc *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return node(d, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static const char *get_string(struct doc *d, yaml_node_t *map, const char *key)
{
	const char *s = scalar(get(d, map, key));

	return s && s[0] ? s : NULL;
}

/* The entry named @name of the list @list_key ("clusters"), returning its @item_key mapping. */
static yaml_node_t *named_entry(struct doc *d, yaml_node_t *root, const char *list_key,
				const char *item_key, const char *name)
{
	yaml_node_t *list = get(d, root, list_key);

	if (!list || list->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	     i < list->data.sequence.items.top; i++) {
		yaml_node_t *entry = node(d, *i);
		const char *n = get_string(d, entry, "name");

		if (n && strcmp(n, name) == 0) {
			yaml_node_t *item = get(d, entry, item_key);

			return item ? item : entry; /* an empty "user: {}" */
		}
	}
	return NULL;
}

static bool is_true(const char *s)
{
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0);
}

/* @file relative to the kubeconfig's directory, as kubectl resolves it. */
static char *resolve(struct doc *d, const char *file)
{
	char *copy, *dir, *out = NULL;

	if (file[0] == '/')
		return strdup(file);
	copy = strdup(d->path);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	if (asprintf(&out, "%s/%s", dir, file) < 0)
		out = NULL;
	free(copy);
	return out;
}

static int take_file(struct doc *d, yaml_node_t *map, const char *key, char **out)
{
	const char *v = get_string(d, map, key);
	FILE *f;

	if (!v)
		return 0;
	*out = resolve(d, v);
	if (!*out)
		return fail(d, "out of memory");
	f = fopen(*out, "re");
	if (!f)
		return fail(d, "%s %s: %s", key, *out, strerror(errno));
	fclose(f);
	return 0;
}

static int take_data(struct doc *d, yaml_node_t *map, const char *key, char **out, size_t *len)
{
	const char *v = get_string(d, map, key);

	if (!v)
		return 0;
	*out = kube_base64_decode(v, len);
	if (!*out || *len == 0)
		return fail(d, "%s is not valid base64", key);
	return 0;
}

static int load(struct doc *d, struct kube_config *cfg, const char *want_context,
		bool allow_insecure)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->yaml), *ctx, *cluster, *user;
	const char *context_name, *cluster_name, *user_name, *v;

	if (!root || root->type != YAML_MAPPING_NODE)
		return fail(d, "not a kubeconfig (the document is not a mapping)");
	context_name = want_context ? want_context : get_string(d, root, "current-context");
	if (!context_name)
		return fail(d,
			    "no current-context is set: set one (kubectl config use-context NAME) "
			    "or pass --context NAME");
	ctx = named_entry(d, root, "contexts", "context", context_name);
	if (!ctx)
		return fail(d, "context \"%s\" is not in its contexts list", context_name);
	cluster_name = get_string(d, ctx, "cluster");
	user_name = get_string(d, ctx, "user");
	if (!cluster_name)
		return fail(d, "context \"%s\" names no cluster", context_name);
	cluster = named_entry(d, root, "clusters", "cluster", cluster_name);
	if (!cluster)
		return fail(d, "cluster \"%s\" (of context \"%s\") is not in its clusters list",
			    cluster_name, context_name);
	v = get_string(d, cluster, "server");
	if (!v)
		return fail(d, "cluster \"%s\" has no server", cluster_name);
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return fail(d, "cluster \"%s\": server \"%s\" is not an http(s) URL", cluster_name,
			    v);
	cfg->server = strdup(v);
	if (!cfg->server)
		return fail(d, "out of memory");
	while (cfg->server[0] && cfg->server[strlen(cfg->server) - 1] == '/')
		cfg->server[strlen(cfg->server) - 1] = '\0';
	if (take_file(d, cluster, "certificate-authority", &cfg->ca_file) < 0 ||
	    take_data(d, cluster, "certificate-authority-data", &cfg->ca_data, &cfg->ca_data_len) <
		0)
		return -1;
	if (is_true(get_string(d, cluster, "insecure-skip-tls-verify"))) {
		if (!allow_insecure)
			return fail(d,
				    "cluster \"%s\" sets insecure-skip-tls-verify: the agent does "
				    "not talk to an API server it cannot verify; give the cluster "
				    "CA (certificate-authority) or pass --allow-insecure",
				    cluster_name);
		cfg->insecure_skip_tls_verify = true;
	}
	if (user_name) {
		user = named_entry(d, root, "users", "user", user_name);
		if (!user)
			return fail(d, "user \"%s\" (of context \"%s\") is not in its users list",
				    user_name, context_name);
		if (get(d, user, "exec") || get(d, user, "auth-provider"))
			return fail(d,
				    "user \"%s\" uses an exec or auth-provider plugin, which the "
				    "agent does not run: use a token, tokenFile or client "
				    "certificate",
				    user_name);
		v = get_string(d, user, "token");
		if (v && !(cfg->token = strdup(v)))
			return fail(d, "out of memory");
		if (take_file(d, user, "tokenFile", &cfg->token_file) < 0 ||
		    take_file(d, user, "client-certificate", &cfg->cert_file) < 0 ||
		    take_file(d, user, "client-key", &cfg->key_file) < 0 ||
		    take_data(d, user, "client-certificate-data", &cfg->cert_data,
			      &cfg->cert_data_len) < 0 ||
		    take_data(d, user, "client-key-data", &cfg->key_data, &cfg->key_data_len) < 0)
			return -1;
		if ((cfg->cert_file || cfg->cert_data) != (cfg->key_file || cfg->key_data))
			return fail(d,
				    "user \"%s\" has a client certificate without its key (or a "
				    "key without its certificate)",
				    user_name);
	}
	v = get_string(d, ctx, "namespace");
	if (v && !(cfg->namespace = strdup(v)))
		return fail(d, "out of memory");
	if (asprintf(&cfg->source, "kubeconfig %s, context %s", d->path, context_name) < 0) {
		cfg->source = NULL;
		return fail(d, "out of memory");
	}
	return 0;
}

int kube_config_load_kubeconfig(struct kube_config *cfg, const char *path, const char *context,
				bool allow_insecure, char *err, size_t errlen)
{
	struct doc d = {.path = path, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	FILE *f;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "re");
	if (!f)
		return fail(&d, "cannot open: %s", strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return fail(&d, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &d.yaml)) {
		r = fail(&d, "not valid YAML: %s at line %zu column %zu",
			 parser.problem ? parser.problem : "parse error",
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1);
		yaml_parser_delete(&parser);
		fclose(f);
		return r;
	}
	r = load(&d, cfg, context, allow_insecure);
	yaml_document_delete(&d.yaml);
	yaml_parser_delete(&parser);
	fclose(f);
	if (r < 0)
		kube_config_clear(cfg);
	return r;
}
