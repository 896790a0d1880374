/* SPDX-License-Identifier: Apache-2.0 */
/*
 * REST paths and the verbs on top of kube_request_start(): get, create, replace (PUT with the
 * object's resourceVersion), JSON merge patch, delete with preconditions, and read-modify-write
 * with conflict retries (kube_update).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kube.h"

const char *kube_meta_string(const cJSON *obj, const char *field)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, field);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *copy = e ? strdup(e) : NULL;

	curl_free(e);
	return copy;
}

char *kube_resource_path(const struct kube_resource *res, const char *ns, const char *name,
			 const char *subresource)
{
	char *name_e = name ? escape(name) : NULL, *out = NULL;
	char prefix[256], nspart[320] = "";

	if (name && !name_e)
		return NULL;
	if (res->group && res->group[0])
		snprintf(prefix, sizeof(prefix), "/apis/%s/%s", res->group, res->version);
	else
		snprintf(prefix, sizeof(prefix), "/api/%s", res->version);
	if (res->namespaced && ns)
		snprintf(nspart, sizeof(nspart), "/namespaces/%s", ns);
	if (asprintf(&out, "%s%s/%s%s%s%s%s", prefix, nspart, res->plural, name ? "/" : "",
		     name ? name_e : "", subresource ? "/" : "",
		     subresource ? subresource : "") < 0)
		out = NULL;
	free(name_e);
	return out;
}

static int add_param(char **query, const char *key, const char *value)
{
	char *e = escape(value), *q = NULL;

	if (!e)
		return -ENOMEM;
	if (asprintf(&q, "%s%s%s=%s", *query ? *query : "", *query ? "&" : "", key, e) < 0)
		q = NULL;
	free(e);
	free(*query);
	*query = q;
	return q ? 0 : -ENOMEM;
}

char *kube_list_path(const struct kube_resource *res, const char *ns,
		     const struct kube_list_options *opts, bool watch, unsigned int timeout_s)
{
	char *base = kube_resource_path(res, ns, NULL, NULL), *query = NULL, *out = NULL;
	char num[32];
	int r = 0;

	if (!base)
		return NULL;
	if (watch) {
		r |= add_param(&query, "watch", "1");
		if (opts && opts->bookmarks)
			r |= add_param(&query, "allowWatchBookmarks", "true");
		if (timeout_s) {
			snprintf(num, sizeof(num), "%u", timeout_s);
			r |= add_param(&query, "timeoutSeconds", num);
		}
	}
	if (opts && opts->label_selector && opts->label_selector[0])
		r |= add_param(&query, "labelSelector", opts->label_selector);
	if (opts && opts->field_selector && opts->field_selector[0])
		r |= add_param(&query, "fieldSelector", opts->field_selector);
	if (opts && opts->limit && !watch) {
		snprintf(num, sizeof(num), "%u", opts->limit);
		r |= add_param(&query, "limit", num);
	}
	if (opts && opts->continue_token && opts->continue_token[0] && !watch)
		r |= add_param(&query, "continue", opts->continue_token);
	if (opts && opts->resource_version && opts->resource_version[0])
		r |= add_param(&query, "resourceVersion", opts->resource_version);
	if (r == 0 && asprintf(&out, "%s%s%s", base, query ? "?" : "", query ? query : "") < 0)
		out = NULL;
	free(base);
	free(query);
	return out;
}

static struct kube_request *start(struct kube_client *c, const char *verb, const char *method,
				  char *path, const cJSON *body, const char *content_type,
				  kube_done_fn done, void *userdata)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	struct kube_request *req = NULL;

	if (path && (!body || text))
		req = kube_request_start(c, verb, method, path, text, content_type, done, userdata);
	free(path);
	cJSON_free(text);
	return req;
}

struct kube_request *kube_get(struct kube_client *c, const struct kube_resource *res,
			      const char *ns, const char *name, kube_done_fn done, void *userdata)
{
	return start(c, "get", "GET", kube_resource_path(res, ns, name, NULL), NULL, NULL, done,
		     userdata);
}

struct kube_request *kube_create(struct kube_client *c, const struct kube_resource *res,
				 const char *ns, const cJSON *obj, kube_done_fn done,
				 void *userdata)
{
	return start(c, "create", "POST", kube_resource_path(res, ns, NULL, NULL), obj, NULL, done,
		     userdata);
}

struct kube_request *kube_replace(struct kube_client *c, const struct kube_resource *res,
				  const char *ns, const cJSON *obj, const char *subresource,
				  kube_done_fn done, void *userdata)
{
	const char *name = kube_meta_string(obj, "name");

	if (!name)
		return NULL;
	return start(c, "update", "PUT", kube_resource_path(res, ns, name, subresource), obj, NULL,
		     done, userdata);
}

struct kube_request *kube_merge_patch(struct kube_client *c, const struct kube_resource *res,
				      const char *ns, const char *name, const char *subresource,
				      const cJSON *patch, kube_done_fn done, void *userdata)
{
	return start(c, "patch", "PATCH", kube_resource_path(res, ns, name, subresource), patch,
		     "application/merge-patch+json", done, userdata);
}

struct kube_request *kube_delete(struct kube_client *c, const struct kube_resource *res,
				 const char *ns, const char *name, const char *uid,
				 const char *resource_version, kube_done_fn done, void *userdata)
{
	cJSON *opts = NULL, *pre;
	struct kube_request *req;

	if (uid || resource_version) {
		opts = cJSON_CreateObject();
		cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
		cJSON_AddStringToObject(opts, "apiVersion", "v1");
		pre = cJSON_AddObjectToObject(opts, "preconditions");
		if (uid)
			cJSON_AddStringToObject(pre, "uid", uid);
		if (resource_version)
			cJSON_AddStringToObject(pre, "resourceVersion", resource_version);
	}
	req = start(c, "delete", "DELETE", kube_resource_path(res, ns, name, NULL), opts, NULL,
		    done, userdata);
	cJSON_Delete(opts);
	return req;
}

/* ---- read-modify-write ------------------------------------------------------------------- */

struct update {
	const struct kube_resource *res;
	char *ns, *name;
	unsigned int attempts_left;
	kube_mutate_fn mutate;
	kube_done_fn done;
	void *userdata;
};

static void update_free(struct update *u)
{
	free(u->ns);
	free(u->name);
	free(u);
}

static void on_update_get(struct kube_client *c, const struct kube_response *resp, void *ud);

static void on_update_put(struct kube_client *c, const struct kube_response *resp, void *ud)
{
	struct update *u = ud;

	if (resp->code == 409 && u->attempts_left > 0 &&
	    kube_get(c, u->res, u->ns, u->name, on_update_get, u))
		return; /* someone else wrote in between: read again, apply again */
	u->done(c, resp, u->userdata);
	update_free(u);
}

static void on_update_get(struct kube_client *c, const struct kube_response *resp, void *ud)
{
	struct update *u = ud;
	cJSON *obj = NULL;
	int r;

	if (resp->code != 200 || !(obj = cJSON_ParseWithLength(resp->body, resp->len))) {
		u->done(c, resp, u->userdata);
		update_free(u);
		return;
	}
	u->attempts_left--;
	r = u->mutate(obj, u->userdata);
	if (r == 0 && kube_replace(c, u->res, u->ns, obj, NULL, on_update_put, u)) {
		cJSON_Delete(obj);
		return;
	}
	cJSON_Delete(obj);
	u->done(c, resp, u->userdata);
	update_free(u);
}

int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, unsigned int attempts, kube_mutate_fn mutate, kube_done_fn done,
		void *userdata)
{
	struct update *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->res = res;
	u->ns = ns ? strdup(ns) : NULL;
	u->name = strdup(name);
	u->attempts_left = attempts ? attempts : 1;
	u->mutate = mutate;
	u->done = done;
	u->userdata = userdata;
	if (!u->name || (ns && !u->ns) || !kube_get(c, res, ns, name, on_update_get, u)) {
		update_free(u);
		return -ENOMEM;
	}
	return 0;
}
