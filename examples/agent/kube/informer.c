/* SPDX-License-Identifier: Apache-2.0 */
/*
 * List + watch of one resource into a cache, the way client-go's informers work: list in pages
 * (limit/continue), then watch from the list's resourceVersion with a server-side timeout (the one
 * deadline of all the client's watches: kube_client_watch_timeout), and with bookmarks where they
 * save a relist (wants_bookmarks). A watch that ends normally is resumed from the last
 * resourceVersion seen (events or bookmarks); one that fails is resumed after exponential backoff
 * with jitter; 410 Gone (an ERROR event or the HTTP status: the version is older than the server
 * keeps) means relist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

/* A watch that ends "normally" sooner than this is treated as a failure (backoff), so that a
 * server that closes every watch at once cannot make the agent spin. */
#define MIN_HEALTHY_WATCH_S 1.0

struct kube_informer {
	struct kube_client *c;
	const struct kube_resource *res;
	char *ns, *label_selector, *field_selector;
	unsigned int page_size, watch_timeout_s;
	struct kube_informer_callbacks cb;
	void *userdata;
	struct kube_keep keep;
	bool own_keep;

	struct kube_cache *cache;
	struct kube_cache *listing;
	char *continue_token;
	char *rv;
	bool synced, gone, watching;
	bool aligned; /* the retry timer opens the watch at the shared deadline's phase */
	bool failed;  /* the last list or watch failed: the retry opens the watch at once */
	double watch_started;
	struct kube_request *req;
	struct kube_lines lines;
	struct kube_backoff backoff;
	struct loop_source *retry;
	struct kube_informer_stats stats;
};

static void start_list(struct kube_informer *inf);
static void start_watch(struct kube_informer *inf);

static void set_string(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
}

static void on_retry(struct loop_source *src, void *userdata)
{
	struct kube_informer *inf = userdata;

	if (inf->watching && !inf->gone && inf->rv)
		start_watch(inf);
	else
		start_list(inf);
}

static void retry_later(struct kube_informer *inf, bool relist)
{
	inf->watching = !relist;
	inf->failed = true;
	loop_timer_arm(inf->retry, kube_backoff_next(&inf->backoff));
}

/* ---- list ---------------------------------------------------------------------------------- */

static void report_vanished(const char *name, const cJSON *obj, void *userdata)
{
	struct kube_informer *inf = userdata;

	if (kube_cache_get(inf->listing, name))
		return;
	/* A kept form of the informer's own is no object: none to report. */
	inf->cb.event(inf, KUBE_DELETED, name, inf->own_keep ? NULL : obj, inf->userdata);
}

static void finish_list(struct kube_informer *inf)
{
	/* Objects deleted while the agent was not watching are reported before the new state
	 * replaces the cache. */
	if (inf->synced)
		kube_cache_foreach(inf->cache, report_vanished, inf);
	kube_cache_replace(inf->cache, inf->listing);
	inf->listing = NULL;
	inf->synced = true;
	inf->gone = false;
	kube_backoff_reset(&inf->backoff);
	if (inf->cb.synced)
		inf->cb.synced(inf, inf->userdata);
	start_watch(inf);
}

static void on_list(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct kube_informer *inf = userdata;
	cJSON *doc = NULL;
	const cJSON *items, *item, *meta;

	inf->req = NULL;
	if (resp->code == 410 && inf->continue_token) {
		/* The continue token expired between pages: list again from the start. */
		set_string(&inf->continue_token, NULL);
		start_list(inf);
		return;
	}
	if (resp->code != 200 || !(doc = cJSON_ParseWithLength(resp->body, resp->len))) {
		struct kube_response r = *resp;

		if (resp->code == 200)
			snprintf(r.error, sizeof(r.error), "list %s: the answer is not JSON",
				 inf->res->plural);
		if (inf->cb.error)
			inf->cb.error(inf, &r, inf->userdata);
		retry_later(inf, true);
		return;
	}
	items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	cJSON_ArrayForEach(item, items)
	{
		kube_cache_put_listed(inf->listing, item);
	}
	inf->stats.lists++;
	meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	set_string(&inf->continue_token,
		   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "continue")));
	if (inf->continue_token && inf->continue_token[0]) {
		cJSON_Delete(doc);
		start_list(inf);
		return;
	}
	set_string(&inf->continue_token, NULL);
	set_string(&inf->rv,
		   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion")));
	cJSON_Delete(doc);
	finish_list(inf);
}

static void start_list(struct kube_informer *inf)
{
	struct kube_list_options opts = {.label_selector = inf->label_selector,
					 .field_selector = inf->field_selector,
					 .limit = inf->page_size,
					 .continue_token = inf->continue_token};
	char *path;

	inf->watching = false;
	if (!inf->continue_token) {
		kube_cache_free(inf->listing);
		inf->listing = kube_cache_new_keeping(inf->own_keep ? &inf->keep : NULL);
	}
	path = kube_list_path(inf->res, inf->ns, &opts, false, 0);
	inf->req = path && inf->listing
		       ? kube_request_start(inf->c, "list", "GET", path, NULL, NULL, on_list, inf)
		       : NULL;
	free(path);
	if (!inf->req)
		retry_later(inf, true);
}

/* ---- watch --------------------------------------------------------------------------------- */

/*
 * Whether a watch with these selectors asks for bookmarks. kube-apiserver sends each watch that
 * asks one about once a minute, and each wakes the agent; what a bookmark buys is a resourceVersion
 * that the server's history still holds when the watch is re-opened, so no 410 Gone and relist.
 * Only a watch of part of a resource needs that: the events of the objects its selectors leave
 * out fill the server's history (a watch cache per resource) while its own version stands still.
 * A watch of the whole resource sees every event, so the version of the last one stays within the
 * history; a watch of one object by name ("metadata.name=N") that falls behind relists with a read
 * of that one object (kube-apiserver lists a single name by its key).
 */
static bool wants_bookmarks(const char *label_selector, const char *field_selector)
{
	static const char name_prefix[] = "metadata.name=";

	if (label_selector && label_selector[0])
		return true;
	if (!field_selector || !field_selector[0])
		return false;
	return strncmp(field_selector, name_prefix, sizeof(name_prefix) - 1) != 0 ||
	       strchr(field_selector, ',') != NULL;
}

static void apply_event(struct kube_informer *inf, const char *type, cJSON *obj)
{
	const char *name = kube_meta_string(obj, "name");
	const char *rv = kube_meta_string(obj, "resourceVersion");
	enum kube_event_type t = strcmp(type, "ADDED") == 0	? KUBE_ADDED
				 : strcmp(type, "DELETED") == 0 ? KUBE_DELETED
								: KUBE_MODIFIED;
	const cJSON *report;

	if (rv)
		set_string(&inf->rv, rv);
	if (!name)
		return;
	inf->stats.events++;
	/* For a deletion the entry is gone from the cache before the callback, which may look. */
	report = kube_cache_apply(inf->cache, t, obj);
	if (report)
		inf->cb.event(inf, t, name, report, inf->userdata);
}

static int on_line(const char *line, size_t len, void *userdata)
{
	struct kube_informer *inf = userdata;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");

	if (!type || !cJSON_IsObject(obj)) {
		cJSON_Delete(ev);
		return -EBADMSG;
	}
	if (strcmp(type, "BOOKMARK") == 0) {
		const char *rv = kube_meta_string(obj, "resourceVersion");

		inf->stats.bookmarks++;
		if (rv)
			set_string(&inf->rv, rv);
	} else if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		bool gone = cJSON_IsNumber(code) && code->valueint == 410;

		cJSON_Delete(ev);
		if (gone) {
			inf->gone = true;
			return -ESTALE;
		}
		return -EPROTO;
	} else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 ||
		   strcmp(type, "DELETED") == 0) {
		apply_event(inf, type, obj);
	}
	cJSON_Delete(ev);
	return 0;
}

static int on_data(const char *data, size_t n, void *userdata)
{
	struct kube_informer *inf = userdata;

	return kube_lines_feed(&inf->lines, data, n, on_line, inf);
}

static void on_watch_done(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct kube_informer *inf = userdata;
	double lasted = loop_now_s() - inf->watch_started;

	inf->req = NULL;
	kube_lines_clear(&inf->lines);
	if (inf->gone || resp->code == 410) {
		/* Our resourceVersion is older than the server keeps: relist. */
		inf->stats.gone++;
		inf->gone = true;
		start_list(inf);
		return;
	}
	inf->stats.watch_restarts++;
	if (resp->code == 200 && !resp->error[0] && lasted >= MIN_HEALTHY_WATCH_S) {
		kube_backoff_reset(&inf->backoff);
		start_watch(inf);
		return;
	}
	if (resp->error[0] && inf->cb.error)
		inf->cb.error(inf, resp, inf->userdata);
	retry_later(inf, false);
}

static void start_watch(struct kube_informer *inf)
{
	struct kube_list_options opts = {
	    .label_selector = inf->label_selector,
	    .field_selector = inf->field_selector,
	    .resource_version = inf->rv,
	    .bookmarks = wants_bookmarks(inf->label_selector, inf->field_selector)};
	unsigned int delay_ms = 0;
	/* Opened when it ends at the deadline all the client's watches share, after the alignment
	 * delay if need be (once: a late timer does not push it back again). Not after a failure:
	 * the watches of a connection that broke reconnect after their backoff's jitter, so that
	 * most find the TLS session ticket the previous new connection brought (a ticket resumes
	 * one handshake: connections begun at one instant would find it spent, docs/agent.md);
	 * such a watch ends within half a second of the deadline and is aligned at its next
	 * re-open. */
	unsigned int timeout =
	    kube_client_watch_timeout(inf->c, inf->watch_timeout_s,
				      inf->aligned || inf->failed || !inf->rv ? NULL : &delay_ms);
	char *path;

	inf->aligned = false;
	inf->failed = false;
	inf->watching = true;
	if (delay_ms) {
		inf->aligned = true;
		loop_timer_arm(inf->retry, delay_ms);
		return;
	}
	path = kube_list_path(inf->res, inf->ns, &opts, true, timeout);
	kube_lines_init(&inf->lines, 0);
	inf->watch_started = loop_now_s();
	inf->req =
	    path ? kube_stream_start(inf->c, "watch", path, on_data, on_watch_done, inf) : NULL;
	free(path);
	if (!inf->req)
		retry_later(inf, false);
}

/* ---- public -------------------------------------------------------------------------------- */

int kube_informer_new(struct kube_client *c, const struct kube_resource *res, const char *ns,
		      const struct kube_informer_options *opts,
		      const struct kube_informer_callbacks *cb, void *userdata,
		      struct kube_informer **out)
{
	struct kube_informer *inf = calloc(1, sizeof(*inf));

	if (!inf)
		return -ENOMEM;
	inf->c = c;
	inf->res = res;
	inf->cb = *cb;
	inf->userdata = userdata;
	inf->page_size = opts && opts->page_size ? opts->page_size : 500;
	inf->watch_timeout_s = opts && opts->watch_timeout_s ? opts->watch_timeout_s : 300;
	kube_backoff_init(&inf->backoff,
			  opts && opts->backoff_base_ms ? opts->backoff_base_ms : 500,
			  opts && opts->backoff_max_ms ? opts->backoff_max_ms : 30000);
	set_string(&inf->ns, ns);
	set_string(&inf->label_selector, opts ? opts->label_selector : NULL);
	set_string(&inf->field_selector, opts ? opts->field_selector : NULL);
	if (opts && opts->keep) {
		inf->keep = *opts->keep;
		inf->own_keep = true;
	}
	inf->cache = kube_cache_new_keeping(inf->own_keep ? &inf->keep : NULL);
	inf->retry = loop_add_timer(kube_client_loop(c), on_retry, inf);
	if (!inf->cache || !inf->retry) {
		kube_informer_free(inf);
		return -ENOMEM;
	}
	*out = inf;
	return 0;
}

void kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return;
	kube_request_cancel(inf->req);
	loop_source_remove(inf->retry);
	kube_lines_clear(&inf->lines);
	kube_cache_free(inf->cache);
	kube_cache_free(inf->listing);
	free(inf->continue_token);
	free(inf->rv);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf);
}

int kube_informer_start(struct kube_informer *inf)
{
	start_list(inf);
	return 0;
}

const cJSON *kube_informer_get(const struct kube_informer *inf, const char *name)
{
	return inf->own_keep ? NULL : kube_cache_get(inf->cache, name);
}

const void *kube_informer_kept(const struct kube_informer *inf, const char *name)
{
	return kube_cache_get(inf->cache, name);
}

const char *kube_informer_rv(const struct kube_informer *inf, const char *name)
{
	return kube_cache_rv(inf->cache, name);
}

void kube_informer_store(struct kube_informer *inf, const cJSON *obj)
{
	kube_cache_store(inf->cache, obj, true, inf->watching);
}

void kube_informer_store_read(struct kube_informer *inf, const cJSON *obj)
{
	kube_cache_store(inf->cache, obj, false, inf->watching);
}

void kube_informer_forget(struct kube_informer *inf, const char *name)
{
	kube_cache_forget(inf->cache, name);
}

bool kube_informer_synced(const struct kube_informer *inf)
{
	return inf->synced;
}

size_t kube_informer_count(const struct kube_informer *inf)
{
	return kube_cache_count(inf->cache);
}

void kube_informer_foreach(const struct kube_informer *inf,
			   void (*fn)(const char *name, const cJSON *obj, void *userdata),
			   void *userdata)
{
	kube_cache_foreach(inf->cache, fn, userdata);
}

const struct kube_resource *kube_informer_resource(const struct kube_informer *inf)
{
	return inf->res;
}

struct kube_informer_stats kube_informer_get_stats(const struct kube_informer *inf)
{
	return inf->stats;
}
