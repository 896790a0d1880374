/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's Kubernetes API client, on libcurl (multi interface, driven by the agent's epoll
 * loop), cJSON and libyaml. Internal to the agent, never part of libhostdev's ABI; docs/agent.md
 * ("The Kubernetes client") says why it is not kubernetes-client/c and how it behaves.
 *
 * Everything is asynchronous: a request is started and its callback runs later on the loop's
 * thread. Errors carry one human sentence that includes the API server's own Status message.
 */
#ifndef HOSTDEV_AGENT_KUBE_H
#define HOSTDEV_AGENT_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "../loop.h"

/* ---- configuration (config.c, kubeconfig.c) ---------------------------------------------- */

/* Where the in-cluster service-account files are. */
#define KUBE_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
	char *server; /* "https://10.0.0.1:443", no trailing slash */
	/* Trust: a CA file, or PEM bytes (kubeconfig certificate-authority-data). Neither: the
	 * system's CA store. */
	char *ca_file;
	char *ca_data;
	size_t ca_data_len;
	/* Authentication: a bearer token, a token file re-read whenever it changes (projected
	 * service-account tokens rotate), or a client certificate and key (file or PEM bytes). */
	char *token;
	char *token_file;
	char *cert_file, *key_file;
	char *cert_data, *key_data;
	size_t cert_data_len, key_data_len;
	bool insecure_skip_tls_verify;
	char *namespace;
	/* For messages: "in-cluster config" or "kubeconfig /path, context ctx". */
	char *source;
};

void kube_config_clear(struct kube_config *cfg);

/*
 * In-cluster configuration: KUBERNETES_SERVICE_HOST/_PORT, the token file and ca.crt in @sa_dir
 * (KUBE_SERVICEACCOUNT_DIR unless testing). Returns 0, or -1 with a sentence in @err.
 */
int kube_config_in_cluster(struct kube_config *cfg, const char *sa_dir, char *err, size_t errlen);

/*
 * A kubeconfig file: the current context (or @context when not NULL), its cluster and user.
 * Supported: server, certificate-authority(-data), insecure-skip-tls-verify (refused unless
 * @allow_insecure), token, tokenFile, client-certificate(-data), client-key(-data). Relative file
 * names are relative to the kubeconfig's directory, as kubectl does. Returns 0, or -1 with a
 * sentence in @err naming the file, the entry and what to fix.
 */
int kube_config_load_kubeconfig(struct kube_config *cfg, const char *path, const char *context,
				bool allow_insecure, char *err, size_t errlen);

/* Decode standard base64 (whitespace ignored). Returns a NUL-terminated malloc'd buffer and its
 * length in *@len, or NULL for invalid input or no memory. */
char *kube_base64_decode(const char *text, size_t *len);

/* ---- errors (status.c) --------------------------------------------------------------------- */

/*
 * The sentence for a failed request: "<verb> <what>: <HTTP code> <reason>: <Status message>" when
 * the body is a metav1.Status, else the first line of the body. Writes into @out.
 */
void kube_status_describe(long http_code, const char *body, size_t len, char *out, size_t outlen);
/* metav1.Status.reason ("NotFound", "Conflict", "Expired"...) or "" (copied into @out). */
void kube_status_reason(const char *body, size_t len, char *out, size_t outlen);

/* ---- exponential backoff with jitter (backoff.c) ------------------------------------------- */

struct kube_backoff {
	unsigned int base_ms, max_ms;
	unsigned int attempt;
	uint64_t seed;
};

void kube_backoff_init(struct kube_backoff *b, unsigned int base_ms, unsigned int max_ms);
/* The next delay: a random value in [d/2, d] with d = min(max, base * 2^attempt). */
unsigned int kube_backoff_next(struct kube_backoff *b);
void kube_backoff_reset(struct kube_backoff *b);

/* ---- newline-delimited frames (lines.c) ---------------------------------------------------- */

struct kube_lines {
	char *buf;
	size_t len, cap, max;
};

typedef int (*kube_line_fn)(const char *line, size_t len, void *userdata);

/* @max: longest accepted line (a watch event is one object; 0 = 64 MiB). */
void kube_lines_init(struct kube_lines *l, size_t max);
void kube_lines_clear(struct kube_lines *l);
/*
 * Append @n bytes and call @fn for every complete non-empty line (without its '\n' or "\r\n"),
 * wherever the chunk boundaries fall. Returns 0, -E2BIG for a line over the limit, -ENOMEM, or
 * the first non-zero value @fn returned.
 */
int kube_lines_feed(struct kube_lines *l, const char *data, size_t n, kube_line_fn fn,
		    void *userdata);

/* ---- the client (client.c) ----------------------------------------------------------------- */

struct kube_client;

/* Called after every finished request (metrics): verb "get"/"list"/"watch"/..., code 0 for a
 * transport error. */
typedef void (*kube_observe_fn)(const char *verb, long code, double seconds, void *userdata);

struct kube_client_options {
	const char *user_agent;	  /* "hostdev-agent/<version>" */
	unsigned int timeout_s;	  /* per non-watch request; 0 = 30 */
	unsigned int max_retries; /* transport errors, 429, 5xx; 0 = none */
	kube_observe_fn observe;
	void *observe_userdata;
};

/* Takes ownership of *@cfg (cleared on return). Returns 0 or -1 with @err. */
int kube_client_new(struct loop *loop, struct kube_config *cfg,
		    const struct kube_client_options *opts, struct kube_client **out, char *err,
		    size_t errlen);
/* Cancels every request (their callbacks are not called). */
void kube_client_free(struct kube_client *c);
const struct kube_config *kube_client_config(const struct kube_client *c);
struct loop *kube_client_loop(const struct kube_client *c);
/* Requests in flight that are not streams (watches): what a clean stop waits for. */
size_t kube_client_pending(const struct kube_client *c);
/* 1 when the last request reached the API server (any HTTP answer below 500), 0 after a
 * transport error or 5xx, -1 before the first answer. */
int kube_client_reachable(const struct kube_client *c);

/*
 * The timeoutSeconds of a watch: the seconds to the client's one watch deadline, which all its
 * watches share, so that they end, are re-opened and get their bookmarks together (each wake of an
 * idle agent costs). A deadline less than @base_s / 2 away is replaced by a new one drawn from
 * [@base_s, 2 @base_s] from now, at random per client so that a cluster's nodes do not re-open their
 * watches at once. As timeoutSeconds are whole seconds, a watch opened at a time that is not a
 * whole number of seconds before the deadline is to be opened *@delay_ms later (0: now), with the
 * timeout this returns; @delay_ms NULL: now, with the nearest whole seconds.
 */
unsigned int kube_client_watch_timeout(struct kube_client *c, unsigned int base_s,
				       unsigned int *delay_ms);

struct kube_response {
	long code;  /* HTTP status, 0 when the server was not reached */
	char *body; /* NUL-terminated */
	size_t len;
	char error[768]; /* "" on 2xx, else one sentence (Status message, or the curl error) */
	char reason[64]; /* Status reason on errors ("NotFound", "Conflict", "Expired") */
};

struct kube_request;
typedef void (*kube_done_fn)(struct kube_client *c, const struct kube_response *resp,
			     void *userdata);

/*
 * Start a request. @verb names it for metrics and messages; @path is the URL path with its query
 * ("/api/v1/nodes/n1"); @body may be NULL; @content_type defaults to application/json. The
 * callback runs exactly once unless the request is cancelled. Returns the request or NULL
 * (allocation failure: nothing was started).
 */
struct kube_request *kube_request_start(struct kube_client *c, const char *verb, const char *method,
					const char *path, const char *body,
					const char *content_type, kube_done_fn done,
					void *userdata);
/* Stop a request; its callback is not called. NULL-safe. */
void kube_request_cancel(struct kube_request *req);

/* Streaming requests (watch.c): @data receives body bytes as they arrive; @done as above (the
 * response body is then empty unless the server answered with an error status). */
typedef int (*kube_data_fn)(const char *data, size_t n, void *userdata);
struct kube_request *kube_stream_start(struct kube_client *c, const char *verb, const char *path,
				       kube_data_fn data, kube_done_fn done, void *userdata);

/* ---- resource paths and verbs (resource.c) ------------------------------------------------- */

struct kube_resource {
	const char *group;   /* "" for the core group */
	const char *version; /* "v1", "v1beta1" */
	const char *plural;  /* "nodes", "pcidevices" */
	const char *kind;    /* "Node", "PCIDevice" */
	bool namespaced;
};

struct kube_list_options {
	const char *label_selector;
	const char *field_selector;
	unsigned int limit; /* page size, 0 = no limit */
	const char *continue_token;
	const char *resource_version;
	bool bookmarks; /* a watch: allowWatchBookmarks=true */
};

/* "/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>][/<sub>]" (core: "/api/v1/...").
 * Returns a malloc'd string. */
char *kube_resource_path(const struct kube_resource *res, const char *ns, const char *name,
			 const char *subresource);
/* @path + "?" + the options, percent-encoded. Returns a malloc'd string. */
char *kube_list_path(const struct kube_resource *res, const char *ns,
		     const struct kube_list_options *opts, bool watch, unsigned int timeout_s);

struct kube_request *kube_get(struct kube_client *c, const struct kube_resource *res,
			      const char *ns, const char *name, kube_done_fn done, void *userdata);
struct kube_request *kube_create(struct kube_client *c, const struct kube_resource *res,
				 const char *ns, const cJSON *obj, kube_done_fn done,
				 void *userdata);
/* PUT with the object's metadata.resourceVersion (409 Conflict when it is stale). */
struct kube_request *kube_replace(struct kube_client *c, const struct kube_resource *res,
				  const char *ns, const cJSON *obj, const char *subresource,
				  kube_done_fn done, void *userdata);
/* JSON merge patch (application/merge-patch+json) of the object or of @subresource ("status"). */
struct kube_request *kube_merge_patch(struct kube_client *c, const struct kube_resource *res,
				      const char *ns, const char *name, const char *subresource,
				      const cJSON *patch, kube_done_fn done, void *userdata);
/* DELETE with preconditions (uid and/or resourceVersion; NULL = none). */
struct kube_request *kube_delete(struct kube_client *c, const struct kube_resource *res,
				 const char *ns, const char *name, const char *uid,
				 const char *resource_version, kube_done_fn done, void *userdata);

/*
 * Read-modify-write with conflict handling: GET the object, call @mutate on it (return 0 to
 * write, 1 when nothing needs writing, <0 to give up), PUT it with its resourceVersion; on 409
 * Conflict GET again and repeat, at most @attempts times. @done gets the last response (the
 * GET's when @mutate returned 1).
 */
typedef int (*kube_mutate_fn)(cJSON *obj, void *userdata);
int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, unsigned int attempts, kube_mutate_fn mutate, kube_done_fn done,
		void *userdata);

/* ---- list + watch (informer.c) ------------------------------------------------------------- */

struct kube_informer;

enum kube_event_type { KUBE_ADDED, KUBE_MODIFIED, KUBE_DELETED };

struct kube_informer_callbacks {
	/* The initial list (and every relist) is complete; the cache holds the server's objects.
	 * Objects that vanished across a relist are reported as KUBE_DELETED before this. */
	void (*synced)(struct kube_informer *inf, void *userdata);
	/* One object changed; @obj is the new object (the last known one for KUBE_DELETED; with a
	 * keep of the informer's own, the event's object, and NULL for an object found gone by a
	 * relist), owned by the informer, valid during the call. */
	void (*event)(struct kube_informer *inf, enum kube_event_type type, const char *name,
		      const cJSON *obj, void *userdata);
	/* A list or watch failed (already retried with backoff): @message says why. */
	void (*error)(struct kube_informer *inf, const struct kube_response *resp, void *userdata);
};

/* Watch-side counters (metrics). */
struct kube_informer_stats {
	unsigned long lists, watch_restarts, gone, bookmarks, events;
};

struct kube_informer_options {
	const char *label_selector;
	const char *field_selector;
	unsigned int page_size;	      /* list limit, 0 = 500 */
	unsigned int watch_timeout_s; /* kube_client_watch_timeout()'s base, 0 = 300 */
	unsigned int backoff_base_ms; /* 0 = 500 */
	unsigned int backoff_max_ms;  /* 0 = 30000 */
	/* What the cache keeps of each object (copied); NULL: the object (kube_informer_get). */
	const struct kube_keep *keep;
};

int kube_informer_new(struct kube_client *c, const struct kube_resource *res, const char *ns,
		      const struct kube_informer_options *opts,
		      const struct kube_informer_callbacks *cb, void *userdata,
		      struct kube_informer **out);
void kube_informer_free(struct kube_informer *inf);
/* List, then watch from the list's resourceVersion. */
int kube_informer_start(struct kube_informer *inf);
/* The cached object @name (owned by the informer), or NULL. Informers with the default keep
 * only; with a keep of their own, kube_informer_kept(). */
const cJSON *kube_informer_get(const struct kube_informer *inf, const char *name);
/* The kept form of @name (owned by the informer) and its resourceVersion, or NULL. */
const void *kube_informer_kept(const struct kube_informer *inf, const char *name);
const char *kube_informer_rv(const struct kube_informer *inf, const char *name);
/*
 * Replace the cached object with the answer of a successful write. Watch events for that name
 * that are older (they arrive before the event of this very write, whose resourceVersion the
 * answer carries) are then skipped, so the cache never steps back behind the agent's own write.
 * An answer that comes after the object's deletion event is not stored (kube_cache_store).
 * resourceVersions are only compared for equality, as the API conventions require.
 */
void kube_informer_store(struct kube_informer *inf, const cJSON *obj);
/*
 * Put an object the agent read (a GET, e.g. of an object its create found existing and not yet
 * in the cache because it did not match the selector) into the cache. Unlike a write's answer it
 * holds back no watch event: the next event of that name replaces it.
 */
void kube_informer_store_read(struct kube_informer *inf, const cJSON *obj);
/* Forget @name after a successful delete. */
void kube_informer_forget(struct kube_informer *inf, const char *name);
bool kube_informer_synced(const struct kube_informer *inf);
size_t kube_informer_count(const struct kube_informer *inf);
/* Call @fn for every cached object (@obj: its kept form, the object with the default keep). */
void kube_informer_foreach(const struct kube_informer *inf,
			   void (*fn)(const char *name, const cJSON *obj, void *userdata),
			   void *userdata);
const struct kube_resource *kube_informer_resource(const struct kube_informer *inf);
struct kube_informer_stats kube_informer_get_stats(const struct kube_informer *inf);

/* ---- the informer's object cache (cache.c) ------------------------------------------------ */

/*
 * What a cache keeps of each object. @keep returns the kept form of @obj (freed with @drop), NULL
 * when out of memory. The default (a NULL struct kube_keep) keeps a copy of the object without
 * metadata.managedFields; an owner that needs a few fields only keeps just those (the reconciler's
 * digests: an object's tree costs kilobytes, at 10,000 objects most of the agent's memory).
 */
struct kube_keep {
	void *(*keep)(const cJSON *obj, void *userdata);
	void (*drop)(void *kept);
	void *userdata;
};

/*
 * Objects by name, kept in step with the agent's own writes: a write's answer is not stepped back
 * by older watch events still on the way, and a write's answer that the object's deletion
 * overtook does not bring the object back. resourceVersions are compared for equality only.
 */
struct kube_cache;
struct kube_cache *kube_cache_new(void);
/* @keep is copied; NULL: the default. */
struct kube_cache *kube_cache_new_keeping(const struct kube_keep *keep);
void kube_cache_free(struct kube_cache *c);
/* The kept form of @name (a cJSON object with the default keep), owned by the cache, or NULL. */
const void *kube_cache_get(const struct kube_cache *c, const char *name);
/* The resourceVersion of the cached @name (owned by the cache), or NULL. */
const char *kube_cache_rv(const struct kube_cache *c, const char *name);
size_t kube_cache_count(const struct kube_cache *c);
/* @obj is the kept form (a cJSON object with the default keep). */
void kube_cache_foreach(const struct kube_cache *c,
			void (*fn)(const char *name, const cJSON *obj, void *userdata),
			void *userdata);
/* Add a listed object to a cache a list is filling. -EINVAL without a name. */
int kube_cache_put_listed(struct kube_cache *c, const cJSON *obj);
/* Take @listing's objects (a complete list) in place of @c's and free @listing; @c's objects not
 * listed count as deleted. Both keep the same way. */
void kube_cache_replace(struct kube_cache *c, struct kube_cache *listing);
/* Apply a watch event. Returns the object to report (the cached copy with the default keep, else
 * @obj itself; @obj for a deletion), or NULL when the event is older than the agent's own cached
 * write and skipped. */
const cJSON *kube_cache_apply(struct kube_cache *c, enum kube_event_type type, const cJSON *obj);
/* Store an object the agent wrote (@own_write: the answer of its write; while @watching, older
 * events are then skipped until this version's own) or read. */
void kube_cache_store(struct kube_cache *c, const cJSON *obj, bool own_write, bool watching);
/* Drop @name (deleted by the agent, or found gone): a late answer of an earlier write of it is
 * not stored. */
void kube_cache_forget(struct kube_cache *c, const char *name);

/* ---- string map (strmap.c) ----------------------------------------------------------------- */

struct strmap;
struct strmap *strmap_new(void (*free_value)(void *));
void strmap_free(struct strmap *m);
/* Insert or replace (the old value is freed). Returns 0 or -ENOMEM. */
int strmap_set(struct strmap *m, const char *key, void *value);
void *strmap_get(const struct strmap *m, const char *key);
/* Remove and free the value. Returns true if the key was there. */
bool strmap_remove(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);
void strmap_foreach(const struct strmap *m, void (*fn)(const char *key, void *value, void *ud),
		    void *ud);

/* ---- object helpers (object.c) ------------------------------------------------------------- */

/* metadata.<field> as a string, or NULL. */
const char *kube_meta_string(const cJSON *obj, const char *field);

#endif
