/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reconciliation: the desired objects (from the inventory and the hot-plug monitor) against the
 * server's objects (informers: list + watch, label nodename=<node>), one object at a time through
 * a de-duplicated work queue. Evaluating an object computes the next single write it needs
 * (create, delete with a uid precondition, metadata update with conflict retries, or a merge
 * patch of the owned status fields); after each write the answer goes into the cache and the
 * object is evaluated again, until nothing differs. Objects that match cost no request at all,
 * so an idle node makes zero writes. At most max_inflight writes run at once; failures are
 * retried with backoff.
 *
 * Memory: per object the reconciler keeps a want of the desired object (desired.c: a few hashes and
 * its device; the object is built again from its device when a write needs it) and a digest of the
 * observed one (diff.c), not the two trees of several kilobytes each that most of an idle agent's
 * memory used to be.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "agent.h"

struct item {
	enum agent_kind kind;
	char *name;
	double since; /* when the object was first found to need a look */
	bool dirty;   /* changed again while a write was in flight */
};

struct reconciler {
	struct reconciler_options o;
	char *node, *node_uid;
	struct desired *desired[KIND_COUNT];
	struct desired *next[KIND_COUNT]; /* the full state being given (reconciler_begin()) */
	cJSON *scratch;			  /* reconciler_desired()'s answer */
	struct kube_informer *inf[KIND_COUNT];
	cJSON *schema[KIND_COUNT];
	bool status_subresource[KIND_COUNT];

	char **fifo;
	size_t head, tail, cap;
	struct strmap *queued;	 /* key -> item */
	struct strmap *inflight; /* key -> item */
	struct strmap *failed;	 /* key -> item */
	struct loop_source *retry_timer;
	struct kube_backoff backoff;

	bool have_inventory, first_pass_done, pass_failed, paused;
};

struct write {
	struct reconciler *r;
	enum agent_kind kind;
	char *key, *name;
	const char *op;
	/* The object built for the write: what a metadata update makes of the object it reads,
	 * the status patched right after a create. */
	cJSON *desired;
};

static void process(struct reconciler *r);

static void item_free(void *p)
{
	struct item *it = p;

	if (it) {
		free(it->name);
		free(it);
	}
}

static char *make_key(enum agent_kind kind, const char *name)
{
	char *key = NULL;

	if (asprintf(&key, "%d/%s", (int)kind, name) < 0)
		return NULL;
	return key;
}

static bool all_synced(const struct reconciler *r)
{
	for (int k = 0; k < KIND_COUNT; k++)
		if (!r->inf[k] || !kube_informer_synced(r->inf[k]))
			return false;
	return true;
}

static void enqueue_since(struct reconciler *r, enum agent_kind kind, const char *name,
			  double since)
{
	char *key = make_key(kind, name);
	struct item *it, *busy;

	if (!key)
		return;
	busy = strmap_get(r->inflight, key);
	if (busy) {
		busy->dirty = true;
		free(key);
		return;
	}
	if (strmap_get(r->queued, key)) {
		free(key);
		return;
	}
	it = calloc(1, sizeof(*it));
	if (!it || !(it->name = strdup(name)) || strmap_set(r->queued, key, it) < 0) {
		item_free(it);
		free(key);
		return;
	}
	it->kind = kind;
	it->since = since;
	if (r->tail == r->cap) {
		if (r->head > 0) {
			memmove(r->fifo, r->fifo + r->head, (r->tail - r->head) * sizeof(char *));
			r->tail -= r->head;
			r->head = 0;
		} else {
			size_t cap = r->cap ? r->cap * 2 : 1024;
			char **f = realloc(r->fifo, cap * sizeof(char *));

			if (!f) {
				strmap_remove(r->queued, key);
				free(key);
				return;
			}
			r->fifo = f;
			r->cap = cap;
		}
	}
	r->fifo[r->tail++] = key;
}

static void enqueue(struct reconciler *r, enum agent_kind kind, const char *name)
{
	enqueue_since(r, kind, name, loop_now_s());
}

static void update_object_metrics(struct reconciler *r, enum agent_kind kind)
{
	struct kube_informer_stats st = kube_informer_get_stats(r->inf[kind]);

	metrics_objects(kind, kube_informer_count(r->inf[kind]));
	metrics_watch(kind, st.watch_restarts, st.gone, st.bookmarks);
}

/* ---- first pass ---------------------------------------------------------------------------- */

static void check_first_pass(struct reconciler *r)
{
	bool idle = r->head == r->tail && strmap_count(r->inflight) == 0;

	if (r->first_pass_done || !r->have_inventory || !all_synced(r) || !idle)
		return;
	if (strmap_count(r->failed) == 0) {
		r->first_pass_done = true;
		r->o.first_pass(true, r->o.userdata);
	} else if (r->o.once) {
		r->first_pass_done = true;
		r->o.first_pass(false, r->o.userdata);
	}
}

/* ---- writes -------------------------------------------------------------------------------- */

static void write_free(struct write *w)
{
	free(w->key);
	free(w->name);
	cJSON_Delete(w->desired);
	free(w);
}

/* The write of @w is over: requeue if asked, run the queue. */
static void write_finished(struct write *w, bool requeue_now)
{
	struct reconciler *r = w->r;
	struct item *it = strmap_get(r->inflight, w->key);
	double since = it ? it->since : loop_now_s();
	bool dirty = it && it->dirty;

	strmap_remove(r->inflight, w->key);
	if (requeue_now || dirty)
		enqueue_since(r, w->kind, w->name, since);
	update_object_metrics(r, w->kind);
	write_free(w);
	process(r);
	check_first_pass(r);
}

static void on_retry(struct loop_source *src, void *userdata);

static void write_failed(struct write *w, const struct kube_response *resp)
{
	struct reconciler *r = w->r;
	struct item *it = calloc(1, sizeof(*it));
	const char *hint = "";

	if (resp->code == 403)
		hint = " (RBAC: the agent's ClusterRole must allow this verb on this resource; see "
		       "docs/agent.md, \"Permissions\")";
	else if (resp->code == 422)
		hint = " (the object does not fit the CRD's schema: apply the CRDs of "
		       "examples/agent/deploy/crds)";
	log_error("%s %s %s: %s%s", w->op, agent_kinds[w->kind].kind, w->name, resp->error, hint);
	metrics_error("write");
	r->pass_failed = true;
	if (it && (it->name = strdup(w->name))) {
		it->kind = w->kind;
		it->since = loop_now_s();
		if (strmap_set(r->failed, w->key, it) == 0)
			it = NULL;
	}
	item_free(it);
	if (!r->o.once && !loop_timer_armed(r->retry_timer))
		loop_timer_arm(r->retry_timer, kube_backoff_next(&r->backoff));
	write_finished(w, false);
}

static void on_fetched(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct write *w = userdata;

	if (resp->code == 200) {
		cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);

		if (obj)
			kube_informer_store_read(w->r->inf[w->kind], obj);
		cJSON_Delete(obj);
		write_finished(w, true);
		return;
	}
	write_failed(w, resp);
}

static void on_written(struct kube_client *c, const struct kube_response *resp, void *userdata);

/*
 * A create's status, which the server ignored (a status subresource), patched at once from the
 * object built for the create: the object is not built a second time from its device. false when
 * there is nothing to patch or the patch could not start (the next look at the object decides).
 */
static bool patch_created(struct write *w)
{
	struct reconciler *r = w->r;
	const struct diff_digest *created = kube_informer_kept(r->inf[w->kind], w->name);
	cJSON *patch = NULL;
	bool started;

	if (!w->desired || !created ||
	    diff_digest_compare(&agent_kinds[w->kind], w->desired, created, r->schema[w->kind],
				&patch) != DIFF_STATUS) {
		cJSON_Delete(patch);
		return false;
	}
	w->op = "patch_status";
	started = kube_merge_patch(r->o.client, &agent_kinds[w->kind].res, NULL, w->name, "status",
				   patch, on_written, w);
	cJSON_Delete(patch);
	return started;
}

static void on_written(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct write *w = userdata;
	struct reconciler *r = w->r;
	struct kube_informer *inf = r->inf[w->kind];

	metrics_write(w->kind, w->op);
	if (resp->code >= 200 && resp->code < 300) {
		if (strcmp(w->op, "delete") == 0) {
			kube_informer_forget(inf, w->name);
			log_info("deleted %s %s", agent_kinds[w->kind].kind, w->name);
		} else {
			cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);

			if (obj)
				kube_informer_store(inf, obj);
			cJSON_Delete(obj);
			log_debug("%s %s %s", w->op, agent_kinds[w->kind].kind, w->name);
		}
		kube_backoff_reset(&r->backoff);
		if (strcmp(w->op, "create") == 0 && r->status_subresource[w->kind] && !r->paused &&
		    patch_created(w))
			return;
		write_finished(w, true);
		return;
	}
	if (resp->code == 404 && strcmp(w->op, "create") != 0) {
		/* Deleted meanwhile: forget it; the next look creates it again if wanted. */
		kube_informer_forget(inf, w->name);
		write_finished(w, true);
		return;
	}
	if (resp->code == 409 && strcmp(w->op, "delete") == 0) {
		/* The uid precondition failed: someone re-created it; the watch brings it. */
		kube_informer_forget(inf, w->name);
		write_finished(w, false);
		return;
	}
	if (resp->code == 409 && strcmp(w->op, "create") == 0 &&
	    kube_get(c, &agent_kinds[w->kind].res, NULL, w->name, on_fetched, w)) {
		/* It exists but was not in the cache (not labelled for this node yet): read it
		 * and take it over. */
		return;
	}
	write_failed(w, resp);
}

static int apply_metadata(cJSON *obj, void *userdata)
{
	struct write *w = userdata;

	return diff_apply_metadata(&agent_kinds[w->kind], obj, w->desired) ? 0 : 1;
}

/* Start the write of @action; @desired (the object built for it) and @patch are taken. */
static void start_write(struct reconciler *r, const char *key, struct item *it,
			enum diff_action action, cJSON *patch, cJSON *desired,
			const struct diff_digest *observed)
{
	const struct kind_def *kind = &agent_kinds[it->kind];
	struct write *w = calloc(1, sizeof(*w));
	bool started = false;

	if (!w || !(w->key = strdup(key)) || !(w->name = strdup(it->name)))
		goto out;
	w->r = r;
	w->kind = it->kind;
	switch (action) {
	case DIFF_CREATE: {
		cJSON *status = NULL;

		w->op = "create";
		/* With a status subresource the server ignores status on create: it is patched
		 * right after (patch_created()). */
		if (r->status_subresource[it->kind])
			status = cJSON_DetachItemFromObjectCaseSensitive(desired, "status");
		started = kube_create(r->o.client, &kind->res, NULL, desired, on_written, w);
		if (status) {
			cJSON_AddItemToObject(desired, "status", status);
			w->desired = desired;
			desired = NULL;
		}
		break;
	}
	case DIFF_DELETE:
		w->op = "delete";
		started = kube_delete(r->o.client, &kind->res, NULL, it->name,
				      diff_digest_uid(observed), NULL, on_written, w);
		break;
	case DIFF_METADATA:
		w->op = "update";
		/* Kept for the update's reads (a conflict reads the object again). */
		w->desired = desired;
		desired = NULL;
		started = kube_update(r->o.client, &kind->res, NULL, it->name, 5, apply_metadata,
				      on_written, w) == 0;
		break;
	case DIFF_STATUS:
		w->op = "patch_status";
		started = kube_merge_patch(r->o.client, &kind->res, NULL, it->name,
					   r->status_subresource[it->kind] ? "status" : NULL, patch,
					   on_written, w);
		break;
	default:
		break;
	}
out:
	cJSON_Delete(patch);
	cJSON_Delete(desired);
	if (!started) {
		struct kube_response resp;

		memset(&resp, 0, sizeof(resp));
		snprintf(resp.error, sizeof(resp.error), "out of memory");
		/* evaluate() made it in flight: write_failed() finishes it and retries later. */
		if (w && w->key && w->name && w->op) {
			write_failed(w, &resp);
		} else {
			if (w)
				write_free(w);
			strmap_remove(r->inflight, key);
		}
	}
}

/* ---- the queue ----------------------------------------------------------------------------- */

static void evaluate(struct reconciler *r, char *key, struct item *it)
{
	const struct diff_digest *observed = kube_informer_kept(r->inf[it->kind], it->name);
	cJSON *desired, *patch;
	enum diff_action action;

	/* Builds the object only when it differs (a desired object that cannot be built now is
	 * no deletion: DIFF_NONE until its device's event or the resync puts it again). */
	action = desired_compare(r->desired[it->kind], it->name, observed, r->schema[it->kind],
				 &desired, &patch);
	if (action == DIFF_NONE) {
		metrics_reconcile_latency(loop_now_s() - it->since);
		item_free(it);
		return;
	}
	if (strmap_set(r->inflight, key, it) < 0) {
		item_free(it);
		cJSON_Delete(patch);
		cJSON_Delete(desired);
		return;
	}
	start_write(r, key, it, action, patch, desired, observed);
}

static void process(struct reconciler *r)
{
	if (!all_synced(r) || !r->have_inventory || r->paused)
		return;
	while (r->head < r->tail && strmap_count(r->inflight) < r->o.max_inflight) {
		char *key = r->fifo[r->head++];
		struct item *it = strmap_get(r->queued, key);

		if (it) {
			/* Detach the item from the queue map without freeing it. */
			struct item *copy = malloc(sizeof(*copy));

			if (copy) {
				*copy = *it;
				copy->name = strdup(it->name);
				strmap_remove(r->queued, key);
				if (copy->name)
					evaluate(r, key, copy);
				else
					free(copy);
			}
		}
		free(key);
	}
	if (r->head == r->tail)
		r->head = r->tail = 0;
}

static void requeue_failed(const char *key, void *value, void *userdata)
{
	struct item *it = value;

	enqueue((struct reconciler *)userdata, it->kind, it->name);
}

static void on_retry(struct loop_source *src, void *userdata)
{
	struct reconciler *r = userdata;
	struct strmap *failed = r->failed;

	r->failed = strmap_new(item_free);
	if (!r->failed) {
		r->failed = failed;
		loop_timer_arm(r->retry_timer, kube_backoff_next(&r->backoff));
		return;
	}
	strmap_foreach(failed, requeue_failed, r);
	strmap_free(failed);
	process(r);
}

/* ---- informer callbacks -------------------------------------------------------------------- */

static enum agent_kind kind_of(struct reconciler *r, struct kube_informer *inf)
{
	for (int k = 0; k < KIND_COUNT; k++)
		if (r->inf[k] == inf)
			return (enum agent_kind)k;
	return KIND_PCI;
}

struct enqueue_ctx {
	struct reconciler *r;
	enum agent_kind kind;
};

static void enqueue_cached(const char *name, const cJSON *obj, void *userdata)
{
	struct enqueue_ctx *e = userdata;

	enqueue(e->r, e->kind, name);
}

static void enqueue_desired(const char *name, const char *source, void *userdata)
{
	struct enqueue_ctx *e = userdata;

	enqueue(e->r, e->kind, name);
}

static void enqueue_all(struct reconciler *r, enum agent_kind kind)
{
	struct enqueue_ctx e = {r, kind};

	if (r->inf[kind] && kube_informer_synced(r->inf[kind]))
		kube_informer_foreach(r->inf[kind], enqueue_cached, &e);
	desired_foreach(r->desired[kind], enqueue_desired, &e);
}

static void on_synced(struct kube_informer *inf, void *userdata)
{
	struct reconciler *r = userdata;
	enum agent_kind kind = kind_of(r, inf);

	log_info("listed %zu %s objects of node %s", kube_informer_count(inf),
		 agent_kinds[kind].kind, r->node);
	update_object_metrics(r, kind);
	if (r->have_inventory)
		enqueue_all(r, kind);
	process(r);
	check_first_pass(r);
#ifdef __GLIBC__
	/* A relist (the watch fell behind: 410 Gone) of a large node leaves the heap full of the
	 * freed pages of its answers, which glibc keeps: give them back, or the idle RSS stays at
	 * the relist's peak. The first list is followed by the agent's own trim once ready. */
	if (r->first_pass_done)
		malloc_trim(0);
#endif
}

static void on_event(struct kube_informer *inf, enum kube_event_type type, const char *name,
		     const cJSON *obj, void *userdata)
{
	struct reconciler *r = userdata;
	enum agent_kind kind = kind_of(r, inf);

	log_debug("watch: %s %s %s",
		  type == KUBE_ADDED	 ? "added"
		  : type == KUBE_DELETED ? "deleted"
					 : "modified",
		  agent_kinds[kind].kind, name);
	if (!r->have_inventory)
		return;
	enqueue(r, kind, name);
	process(r);
}

static void on_informer_error(struct kube_informer *inf, const struct kube_response *resp,
			      void *userdata)
{
	struct reconciler *r = userdata;
	enum agent_kind kind = kind_of(r, inf);
	const char *hint = "";

	if (resp->code == 403)
		hint = "; grant the agent's ClusterRole list and watch on this resource "
		       "(docs/agent.md, "
		       "\"Permissions\")";
	else if (resp->code == 404)
		hint = "; is the CRD installed? (examples/agent/deploy/crds)";
	log_warning("list/watch of %s: %s%s; retrying with backoff", agent_kinds[kind].plural,
		    resp->error, hint);
	metrics_error(kube_informer_synced(inf) ? "watch" : "list");
	if (r->o.once && !kube_informer_synced(inf) && !r->first_pass_done) {
		r->first_pass_done = true;
		r->o.first_pass(false, r->o.userdata);
	}
}

/* ---- public -------------------------------------------------------------------------------- */

int reconciler_new(const struct reconciler_options *opts, struct reconciler **out)
{
	struct reconciler *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->o = *opts;
	if (r->o.max_inflight == 0)
		r->o.max_inflight = 16;
	r->node = strdup(opts->ids.node);
	r->node_uid = opts->ids.node_uid ? strdup(opts->ids.node_uid) : NULL;
	r->o.ids.node = r->node;
	r->o.ids.node_uid = r->node_uid;
	for (int k = 0; k < KIND_COUNT; k++)
		r->desired[k] = desired_new((enum agent_kind)k, opts->build, opts->userdata);
	r->queued = strmap_new(item_free);
	r->inflight = strmap_new(item_free);
	r->failed = strmap_new(item_free);
	r->retry_timer = loop_add_timer(opts->loop, on_retry, r);
	kube_backoff_init(&r->backoff, 1000, 300000);
	if (!r->node || !r->queued || !r->inflight || !r->failed || !r->retry_timer ||
	    !r->desired[0] || !r->desired[1] || !r->desired[2]) {
		reconciler_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void reconciler_free(struct reconciler *r)
{
	if (!r)
		return;
	for (int k = 0; k < KIND_COUNT; k++) {
		kube_informer_free(r->inf[k]);
		desired_free(r->desired[k]);
		desired_free(r->next[k]);
		cJSON_Delete(r->schema[k]);
	}
	cJSON_Delete(r->scratch);
	for (size_t i = r->head; i < r->tail; i++)
		free(r->fifo[i]);
	free(r->fifo);
	strmap_free(r->queued);
	strmap_free(r->inflight);
	strmap_free(r->failed);
	loop_source_remove(r->retry_timer);
	free(r->node);
	free(r->node_uid);
	free(r);
}

void reconciler_set_schema(struct reconciler *r, enum agent_kind kind, const cJSON *crd)
{
	const cJSON *schema = schema_of_crd(crd, AGENT_VERSION_NAME);
	const cJSON *versions = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(crd, "spec"), "versions");
	const cJSON *v;

	cJSON_Delete(r->schema[kind]);
	r->schema[kind] = schema ? cJSON_Duplicate(schema, true) : NULL;
	r->status_subresource[kind] = false;
	cJSON_ArrayForEach(v, versions)
	{
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
		const cJSON *sub = cJSON_GetObjectItemCaseSensitive(v, "subresources");

		if (name && strcmp(name, AGENT_VERSION_NAME) == 0 &&
		    cJSON_GetObjectItemCaseSensitive(sub, "status"))
			r->status_subresource[kind] = true;
	}
}

static void *keep_digest(const cJSON *obj, void *userdata)
{
	return diff_digest_new(userdata, obj);
}

static void drop_digest(void *kept)
{
	diff_digest_free(kept);
}

int reconciler_start(struct reconciler *r)
{
	static const struct kube_informer_callbacks cb = {on_synced, on_event, on_informer_error};
	char selector[320];
	struct kube_keep keep = {keep_digest, drop_digest, NULL};
	struct kube_informer_options opts = {
	    .label_selector = selector, .watch_timeout_s = r->o.watch_timeout_s, .keep = &keep};

	snprintf(selector, sizeof(selector), "%s=%s", AGENT_NODE_LABEL, r->node);
	for (int k = 0; k < KIND_COUNT; k++) {
		int ret;

		/* Digests of this kind's fields; the informer copies @keep. */
		keep.userdata = (void *)&agent_kinds[k];
		ret = kube_informer_new(r->o.client, &agent_kinds[k].res, NULL, &opts, &cb, r,
					&r->inf[k]);

		if (ret < 0)
			return ret;
	}
	for (int k = 0; k < KIND_COUNT; k++)
		kube_informer_start(r->inf[k]);
	return 0;
}

int reconciler_begin(struct reconciler *r)
{
	reconciler_abort(r);
	for (int k = 0; k < KIND_COUNT; k++)
		if (!(r->next[k] = desired_new((enum agent_kind)k, r->o.build, r->o.userdata))) {
			reconciler_abort(r);
			return -ENOMEM;
		}
	return 0;
}

int reconciler_add(struct reconciler *r, enum agent_kind kind, cJSON *obj)
{
	if (!r->next[kind]) {
		cJSON_Delete(obj);
		return -EINVAL;
	}
	return desired_put(r->next[kind], obj, r->schema[kind]);
}

void reconciler_abort(struct reconciler *r)
{
	for (int k = 0; k < KIND_COUNT; k++) {
		desired_free(r->next[k]);
		r->next[k] = NULL;
	}
}

void reconciler_commit(struct reconciler *r)
{
	if (!r->next[0])
		return;
	for (int k = 0; k < KIND_COUNT; k++) {
		/* Names that are no longer desired are in the cache (or were never created). */
		desired_free(r->desired[k]);
		r->desired[k] = r->next[k];
		r->next[k] = NULL;
	}
	r->have_inventory = true;
	for (int k = 0; k < KIND_COUNT; k++)
		enqueue_all(r, (enum agent_kind)k);
	process(r);
	check_first_pass(r);
}

void reconciler_put(struct reconciler *r, enum agent_kind kind, const char *name, cJSON *obj)
{
	if (obj) {
		if (desired_put(r->desired[kind], obj, r->schema[kind]) < 0)
			return;
	} else if (!desired_remove(r->desired[kind], name)) {
		return;
	}
	enqueue(r, kind, name);
	process(r);
}

const cJSON *reconciler_desired(struct reconciler *r, enum agent_kind kind, const char *name)
{
	cJSON_Delete(r->scratch);
	r->scratch = desired_build(r->desired[kind], name, r->schema[kind]);
	return r->scratch;
}

size_t reconciler_desired_count(const struct reconciler *r, enum agent_kind kind)
{
	return desired_count(r->desired[kind]);
}

void reconciler_foreach_desired(const struct reconciler *r, enum agent_kind kind,
				void (*fn)(const char *name, const char *source, void *userdata),
				void *userdata)
{
	desired_foreach(r->desired[kind], fn, userdata);
}

size_t reconciler_pending(const struct reconciler *r)
{
	return (r->tail - r->head) + strmap_count(r->inflight);
}

void reconciler_pause(struct reconciler *r, bool paused)
{
	r->paused = paused;
	if (!paused)
		process(r);
}
