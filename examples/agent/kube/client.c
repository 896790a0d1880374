/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP requests to the API server on libcurl's multi interface, driven by the agent's epoll loop:
 * curl tells which sockets to watch (socket callback) and when to wake it (timer callback); the
 * loop calls curl_multi_socket_action() for exactly that socket or the timeout. So thousands of
 * writes and the long-running watches share one thread with the hot-plug monitor.
 *
 * Transport errors, 429 and 5xx answers of ordinary requests are retried with exponential backoff
 * and jitter (429 honours Retry-After); everything else goes to the caller with one sentence that
 * carries the API server's Status message. The bearer token is taken from the token file again
 * whenever the file changed, before each request.
 *
 * Connections are reused: the multi handle keeps finished transfers' connections for the next
 * request (a watch that ends at its timeout leaves its connection open, as kube-apiserver's
 * HTTP/1.1 server does, so the re-opened watch costs a request, not a TCP and TLS handshake), and
 * the easy handles share one TLS session cache and DNS cache, so a connection that must be made
 * anew (the server closed an idle one) resumes a TLS session instead of a full handshake. The
 * cache holds one TLS 1.3 ticket per server, and OpenSSL's client resumes one handshake with a
 * ticket (RFC 8446 C.4): a connection begun after another resumed, before that one's answer (and
 * the new ticket ahead of it) was read, has none to offer and makes a full handshake.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "kube.h"

#define MAX_BODY (256u << 20)

/* Watches that end within this of the shared deadline end "together" (kube_client_watch_timeout). */
#define WATCH_SLACK_S 0.05

struct kube_client {
	struct loop *loop;
	CURLM *multi;
	CURLSH *share; /* TLS sessions and DNS answers of all requests (one thread: no locks) */
	struct loop_source *timer;
	struct kube_config cfg;
	char *user_agent;
	unsigned int timeout_s, max_retries;
	kube_observe_fn observe;
	void *observe_userdata;
	char *token;
	struct stat token_st;
	int reachable;
	struct kube_request *requests;
	/* The one deadline of all watches (kube_client_watch_timeout), monotonic s; 0: none yet. */
	double watch_deadline;
	struct kube_backoff watch_random; /* draws the deadlines (a backoff that never grows) */
};

struct kube_request {
	struct kube_client *c;
	CURL *easy;
	struct curl_slist *headers;
	char *verb, *method, *path, *body, *content_type;
	kube_done_fn done;
	kube_data_fn data;
	void *userdata;
	char *resp;
	size_t len, cap;
	char errbuf[CURL_ERROR_SIZE];
	unsigned int attempt;
	struct kube_backoff backoff;
	struct loop_source *retry_timer;
	double started;
	int data_error;
	CURLMcode refused; /* why libcurl did not take the transfer at the last launch() */
	struct kube_request *prev, *next;
};

static void check_done(struct kube_client *c);

/* ---- curl <-> loop ------------------------------------------------------------------------ */

static void on_socket(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct kube_client *c = userdata;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct kube_client *c = userp;
	struct loop_source *src = socketp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_source_remove(src);
		curl_multi_assign(c->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (!src) {
		src = loop_add_fd(c->loop, s, events, on_socket, c);
		if (!src)
			return -1;
		curl_multi_assign(c->multi, s, src);
	} else {
		loop_source_set_events(src, events);
	}
	return 0;
}

static void on_timer(struct loop_source *src, void *userdata)
{
	struct kube_client *c = userdata;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct kube_client *c = userp;

	if (timeout_ms < 0)
		loop_timer_disarm(c->timer);
	else
		loop_timer_arm(c->timer, (uint64_t)timeout_ms);
	return 0;
}

/* ---- client ------------------------------------------------------------------------------- */

int kube_client_new(struct loop *loop, struct kube_config *cfg,
		    const struct kube_client_options *opts, struct kube_client **out, char *err,
		    size_t errlen)
{
	static bool curl_ready;
	struct kube_client *c;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "libcurl could not be initialised");
			return -1;
		}
		curl_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->multi = curl_multi_init()) || !(c->share = curl_share_init()) ||
	    !(c->timer = loop_add_timer(loop, on_timer, c)) ||
	    !(c->user_agent = strdup(opts->user_agent ? opts->user_agent : "hostdev-agent"))) {
		snprintf(err, errlen, "cannot create the API client: out of memory");
		if (c) {
			loop_source_remove(c->timer);
			if (c->multi)
				curl_multi_cleanup(c->multi);
			curl_share_cleanup(c->share);
			free(c);
		}
		return -1;
	}
	c->loop = loop;
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	c->timeout_s = opts->timeout_s ? opts->timeout_s : 30;
	c->max_retries = opts->max_retries;
	c->observe = opts->observe;
	c->observe_userdata = opts->observe_userdata;
	c->reachable = -1;
	kube_backoff_init(&c->watch_random, 1, 1);
	if (c->cfg.token && !(c->token = strdup(c->cfg.token))) {
		snprintf(err, errlen, "out of memory");
		kube_client_free(c);
		return -1;
	}
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Watches hold one connection each over HTTP/1.1; writes share the others. */
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	*out = c;
	return 0;
}

static void request_free(struct kube_request *req);

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	while (c->requests)
		request_free(c->requests);
	curl_multi_cleanup(c->multi);
	curl_share_cleanup(c->share); /* after every easy handle that used it */
	loop_source_remove(c->timer);
	kube_config_clear(&c->cfg);
	free(c->token);
	free(c->user_agent);
	free(c);
}

size_t kube_client_pending(const struct kube_client *c)
{
	size_t n = 0;

	for (const struct kube_request *r = c ? c->requests : NULL; r; r = r->next)
		if (!r->data)
			n++;
	return n;
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
	return &c->cfg;
}

struct loop *kube_client_loop(const struct kube_client *c)
{
	return c->loop;
}

int kube_client_reachable(const struct kube_client *c)
{
	return c->reachable;
}

/*
 * Every wake of an idle agent costs (a process that slept a minute runs on cold caches): seven
 * watches on seven schedules wake it for seven bookmarks a minute and seven re-opens. With one
 * deadline the watches end together, are re-opened together, and kube-apiserver's watch cache
 * (which sends each watch a bookmark a minute after it opened, and one 2 s before its deadline)
 * sends their bookmarks together as well.
 */
unsigned int kube_client_watch_timeout(struct kube_client *c, unsigned int base_s,
				       unsigned int *delay_ms)
{
	double now = loop_now_s(), left = c->watch_deadline - now, frac;
	unsigned int whole;

	if (base_s == 0)
		base_s = 1;
	if (left < base_s / 2.0 || left < 1.0 + WATCH_SLACK_S) {
		/* [base, 2 base] as client-go's reflector draws it, in whole seconds. */
		c->watch_random.base_ms = c->watch_random.max_ms = 2 * base_s;
		c->watch_random.attempt = 0;
		left = kube_backoff_next(&c->watch_random);
		c->watch_deadline = now + left;
	}
	whole = (unsigned int)left;
	frac = left - whole;
	if (frac >= 1.0 - WATCH_SLACK_S) {
		/* Opened just after the deadline was drawn (in the same wake): it ends just after. */
		whole++;
		frac = 0;
	}
	/* timeoutSeconds are whole seconds: a watch that would end more than the slack before the
	 * deadline is opened that fraction later, unless the caller cannot wait. */
	if (delay_ms)
		*delay_ms = frac > WATCH_SLACK_S ? (unsigned int)(frac * 1000.0) : 0;
	else if (frac >= 0.5)
		whole++;
	return whole;
}

/* Re-read the token file when it changed since the last read (projected tokens rotate). */
static void refresh_token(struct kube_client *c)
{
	struct stat st;
	FILE *f;
	char *buf;
	size_t n;

	if (!c->cfg.token_file || stat(c->cfg.token_file, &st) < 0)
		return;
	if (c->token && st.st_ino == c->token_st.st_ino && st.st_dev == c->token_st.st_dev &&
	    st.st_size == c->token_st.st_size && st.st_mtim.tv_sec == c->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_st.st_mtim.tv_nsec)
		return;
	f = fopen(c->cfg.token_file, "re");
	if (!f)
		return;
	buf = calloc(1, 16385);
	n = buf ? fread(buf, 1, 16384, f) : 0;
	fclose(f);
	if (!buf)
		return;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	free(c->token);
	c->token = buf;
	c->token_st = st;
}

/* ---- requests ----------------------------------------------------------------------------- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct kube_request *req = userdata;
	size_t n = size * nmemb;
	long code = 0;

	if (req->data) {
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300) {
			/* A watch answers only at its end: its data are the sign of a live server.
			 */
			req->c->reachable = 1;
			req->data_error = req->data(ptr, n, req->userdata);
			return req->data_error ? 0 : n;
		}
	}
	if (req->len + n > MAX_BODY)
		return 0;
	if (req->len + n + 1 > req->cap) {
		size_t cap = req->cap ? req->cap : 8192;
		char *p;

		while (cap < req->len + n + 1)
			cap *= 2;
		p = realloc(req->resp, cap);
		if (!p)
			return 0;
		req->resp = p;
		req->cap = cap;
	}
	memcpy(req->resp + req->len, ptr, n);
	req->len += n;
	req->resp[req->len] = '\0';
	return n;
}

static int setup_easy(struct kube_request *req)
{
	struct kube_client *c = req->c;
	const struct kube_config *cfg = &c->cfg;
	char *url = NULL, *auth = NULL;
	struct curl_slist *h = NULL;
	int r = -ENOMEM;

	req->easy = curl_easy_init();
	if (!req->easy || asprintf(&url, "%s%s", cfg->server, req->path) < 0)
		goto out;
	refresh_token(c);
	h = curl_slist_append(h, "Accept: application/json");
	if (req->body) {
		char ct[160];

		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 req->content_type ? req->content_type : "application/json");
		h = curl_slist_append(h, ct);
	}
	if (c->token && c->token[0]) {
		if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0)
			goto out;
		h = curl_slist_append(h, auth);
	}
	if (!h)
		goto out;
	req->headers = h;
	h = NULL;
	curl_easy_setopt(req->easy, CURLOPT_URL, url);
	curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(req->easy, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(req->easy, CURLOPT_SHARE, c->share);
	curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A watch whose server vanished without closing the connection is noticed through TCP
	 * keepalive, and a bound on the whole transfer (the server ends it before that). */
	curl_easy_setopt(req->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(req->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(req->easy, CURLOPT_TCP_KEEPINTVL, 10L);
	if (!req->data)
		curl_easy_setopt(req->easy, CURLOPT_TIMEOUT, (long)c->timeout_s);
	curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(req->easy, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
	}
	if (cfg->ca_file)
		curl_easy_setopt(req->easy, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->ca_data) {
		struct curl_blob blob = {cfg->ca_data, cfg->ca_data_len, CURL_BLOB_COPY};

		curl_easy_setopt(req->easy, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (cfg->cert_file)
		curl_easy_setopt(req->easy, CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->key_file)
		curl_easy_setopt(req->easy, CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->cert_data) {
		struct curl_blob blob = {cfg->cert_data, cfg->cert_data_len, CURL_BLOB_COPY};

		curl_easy_setopt(req->easy, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(req->easy, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (cfg->key_data) {
		struct curl_blob blob = {cfg->key_data, cfg->key_data_len, CURL_BLOB_COPY};

		curl_easy_setopt(req->easy, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(req->easy, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cfg->insecure_skip_tls_verify) {
		curl_easy_setopt(req->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(req->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	r = 0;
out:
	curl_slist_free_all(h);
	free(url);
	free(auth);
	return r;
}

static void release_easy(struct kube_request *req)
{
	if (req->easy) {
		curl_multi_remove_handle(req->c->multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	curl_slist_free_all(req->headers);
	req->headers = NULL;
}

/*
 * Hand the transfer to libcurl. 0; -ENOMEM; -EAGAIN when called from inside one of libcurl's
 * callbacks, where it refuses new transfers (CURLM_RECURSIVE_API_CALL): a watch's data callback
 * runs the informers' event handlers, and those start writes (a USBDevice deleted by someone
 * else is created again at once); the caller launches it from the loop instead. -EIO: libcurl
 * refused it for another reason, in req->refused.
 */
static int launch(struct kube_request *req)
{
	int r = setup_easy(req);

	req->len = 0;
	req->data_error = 0;
	req->errbuf[0] = '\0';
	req->started = loop_now_s();
	req->refused = CURLM_OK;
	if (r < 0)
		return r;
	req->refused = curl_multi_add_handle(req->c->multi, req->easy);
	if (req->refused == CURLM_OK)
		return 0;
	release_easy(req);
	if (req->refused == CURLM_RECURSIVE_API_CALL)
		return -EAGAIN;
	return req->refused == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

static void on_retry(struct loop_source *src, void *userdata);

/* launch() from the loop after @delay_ms (a retry, or a launch from inside libcurl). */
static int launch_later(struct kube_request *req, unsigned int delay_ms)
{
	loop_source_remove(req->retry_timer);
	req->retry_timer = loop_add_timer(req->c->loop, on_retry, req);
	if (!req->retry_timer || loop_timer_arm(req->retry_timer, delay_ms) < 0)
		return -ENOMEM;
	return 0;
}

static void request_free(struct kube_request *req)
{
	struct kube_client *c = req->c;

	release_easy(req);
	loop_source_remove(req->retry_timer);
	if (req->prev)
		req->prev->next = req->next;
	else
		c->requests = req->next;
	if (req->next)
		req->next->prev = req->prev;
	free(req->verb);
	free(req->method);
	free(req->path);
	free(req->body);
	free(req->content_type);
	free(req->resp);
	free(req);
}

static struct kube_request *request_new(struct kube_client *c, const char *verb, const char *method,
					const char *path, const char *body,
					const char *content_type, kube_done_fn done,
					kube_data_fn data, void *userdata)
{
	struct kube_request *req = calloc(1, sizeof(*req));
	int r;

	if (!req)
		return NULL;
	req->c = c;
	req->verb = strdup(verb);
	req->method = strdup(method);
	req->path = strdup(path);
	req->body = body ? strdup(body) : NULL;
	req->content_type = content_type ? strdup(content_type) : NULL;
	req->done = done;
	req->data = data;
	req->userdata = userdata;
	kube_backoff_init(&req->backoff, 200, 5000);
	req->next = c->requests;
	if (c->requests)
		c->requests->prev = req;
	c->requests = req;
	if (!req->verb || !req->method || !req->path || (body && !req->body) ||
	    (content_type && !req->content_type)) {
		request_free(req);
		return NULL;
	}
	/* Refused now (from inside libcurl, or for another reason): launched again from the loop
	 * at once, and if libcurl refuses it there too, @done gets its reason. So NULL stays what
	 * kube.h says it is: nothing could be allocated. */
	r = launch(req);
	if ((r == -EAGAIN || r == -EIO) && launch_later(req, 0) == 0)
		r = 0;
	if (r < 0) {
		request_free(req);
		return NULL;
	}
	return req;
}

struct kube_request *kube_request_start(struct kube_client *c, const char *verb, const char *method,
					const char *path, const char *body,
					const char *content_type, kube_done_fn done, void *userdata)
{
	return request_new(c, verb, method, path, body, content_type, done, NULL, userdata);
}

struct kube_request *kube_stream_start(struct kube_client *c, const char *verb, const char *path,
				       kube_data_fn data, kube_done_fn done, void *userdata)
{
	return request_new(c, verb, "GET", path, NULL, NULL, done, data, userdata);
}

void kube_request_cancel(struct kube_request *req)
{
	if (req)
		request_free(req);
}

static void on_retry(struct loop_source *src, void *userdata)
{
	struct kube_request *req = userdata;
	struct kube_response resp;
	int r;

	loop_source_remove(req->retry_timer);
	req->retry_timer = NULL;
	if ((r = launch(req)) == 0)
		return;
	memset(&resp, 0, sizeof(resp));
	if (r == -ENOMEM)
		snprintf(resp.error, sizeof(resp.error), "%s %s: out of memory", req->verb,
			 req->path);
	else
		snprintf(resp.error, sizeof(resp.error), "%s %s: libcurl refused the transfer (%s)",
			 req->verb, req->path, curl_multi_strerror(req->refused));
	req->done(req->c, &resp, req->userdata);
	request_free(req);
}

/* Seconds of a Retry-After header, 0 when absent. */
static unsigned int retry_after(struct kube_request *req)
{
	struct curl_header *h;

	if (curl_easy_header(req->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return 0;
	return (unsigned int)strtoul(h->value, NULL, 10);
}

static bool should_retry(const struct kube_request *req, CURLcode result, long code)
{
	if (req->data || req->attempt >= req->c->max_retries)
		return false;
	if (result != CURLE_OK)
		return true;
	return code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
}

static void describe_transport_error(struct kube_request *req, CURLcode result, char *out,
				     size_t outlen)
{
	const char *detail = req->errbuf[0] ? req->errbuf : curl_easy_strerror(result);
	const char *server = req->c->cfg.server;

	switch (result) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(out, outlen,
			 "the API server %s could not be verified (%s): check the cluster CA of "
			 "the %s",
			 server, detail, req->c->cfg.source ? req->c->cfg.source : "configuration");
		break;
	case CURLE_SSL_CERTPROBLEM:
		snprintf(out, outlen, "the client certificate or key of the %s is unusable (%s)",
			 req->c->cfg.source ? req->c->cfg.source : "configuration", detail);
		break;
	default:
		snprintf(out, outlen, "cannot reach the API server %s (%s)", server, detail);
	}
}

static void finish(struct kube_request *req, CURLcode result)
{
	struct kube_client *c = req->c;
	struct kube_response resp;
	long code = 0;
	double took = loop_now_s() - req->started;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
	if (result != CURLE_OK && !(req->data && req->data_error))
		code = 0;
	if (c->observe)
		c->observe(req->verb, code, took, c->observe_userdata);
	if (code == 0 || code >= 500)
		c->reachable = 0;
	else
		c->reachable = 1;
	if (should_retry(req, result, code)) {
		unsigned int delay = kube_backoff_next(&req->backoff);
		unsigned int after = code == 429 ? retry_after(req) : 0;

		if (after > 0)
			delay = (after > 30 ? 30 : after) * 1000u;
		req->attempt++;
		release_easy(req);
		if (launch_later(req, delay) == 0)
			return;
	}
	memset(&resp, 0, sizeof(resp));
	resp.code = code;
	resp.body = req->resp ? req->resp : (char *)"";
	resp.len = req->len;
	if (code == 0) {
		if (req->data && req->data_error)
			snprintf(resp.error, sizeof(resp.error),
				 "%s %s: the stream was abandoned (%s)", req->verb, req->path,
				 strerror(-req->data_error));
		else
			describe_transport_error(req, result, resp.error, sizeof(resp.error));
	} else if (code < 200 || code >= 300) {
		char status[640];

		kube_status_describe(code, resp.body, resp.len, status, sizeof(status));
		snprintf(resp.error, sizeof(resp.error), "%s %s: %s", req->verb, req->path, status);
		kube_status_reason(resp.body, resp.len, resp.reason, sizeof(resp.reason));
	} else if (result != CURLE_OK) {
		/* A stream that broke after a good start (connection reset). */
		describe_transport_error(req, result, resp.error, sizeof(resp.error));
		resp.code = 0;
	}
	req->done(c, &resp, req->userdata);
	request_free(req);
}

static void check_done(struct kube_client *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct kube_request *req = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
		if (req)
			finish(req, msg->data.result);
	}
}
