/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the agent's Kubernetes client parts that need no server: watch-stream framing at
 * every possible chunk boundary, Status error sentences, base64, kubeconfig parsing (contexts,
 * inline data, files relative to the kubeconfig, refusals), in-cluster configuration, REST
 * paths and query encoding, backoff bounds, the string map, and the informer's cache against
 * every order in which a write's answer and the watch events of its object can arrive.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/kube.h"

/* ---- framing ------------------------------------------------------------------------------ */

struct collected {
	char lines[8][256];
	int n;
};

static int collect(const char *line, size_t len, void *userdata)
{
	struct collected *c = userdata;

	assert_true(c->n < 8);
	assert_true(len < 256);
	memcpy(c->lines[c->n], line, len);
	c->lines[c->n][len] = '\0';
	c->n++;
	return 0;
}

static void test_lines_every_split(void **state)
{
	static const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
				     "\r\n"
				     "{\"type\":\"BOOKMARK\"}\r\n"
				     "{\"type\":\"DELETED\"}\n"
				     "{\"partial\":";
	size_t n = strlen(stream);

	/* Cut the stream in three pieces at every pair of positions. */
	for (size_t i = 0; i <= n; i++)
		for (size_t j = i; j <= n; j++) {
			struct kube_lines l;
			struct collected c = {.n = 0};

			kube_lines_init(&l, 0);
			assert_int_equal(kube_lines_feed(&l, stream, i, collect, &c), 0);
			assert_int_equal(kube_lines_feed(&l, stream + i, j - i, collect, &c), 0);
			assert_int_equal(kube_lines_feed(&l, stream + j, n - j, collect, &c), 0);
			assert_int_equal(c.n, 3);
			assert_string_equal(c.lines[0],
					    "{\"type\":\"ADDED\",\"object\":{\"a\":1}}");
			assert_string_equal(c.lines[1], "{\"type\":\"BOOKMARK\"}");
			assert_string_equal(c.lines[2], "{\"type\":\"DELETED\"}");
			/* the unterminated tail stays buffered */
			assert_int_equal(l.len, strlen("{\"partial\":"));
			kube_lines_clear(&l);
		}
}

static int stop_at_second(const char *line, size_t len, void *userdata)
{
	int *seen = userdata;

	return ++*seen == 2 ? -EBADMSG : 0;
}

static void test_lines_limits_and_errors(void **state)
{
	struct kube_lines l;
	struct collected c = {.n = 0};
	int seen = 0;

	kube_lines_init(&l, 8);
	assert_int_equal(kube_lines_feed(&l, "12345", 5, collect, &c), 0);
	assert_int_equal(kube_lines_feed(&l, "6789", 4, collect, &c), -E2BIG);
	kube_lines_clear(&l);
	kube_lines_init(&l, 0);
	assert_int_equal(kube_lines_feed(&l, "a\nb\nc\n", 6, stop_at_second, &seen), -EBADMSG);
	assert_int_equal(seen, 2);
	kube_lines_clear(&l);
}

/* ---- Status ------------------------------------------------------------------------------- */

static void test_status_messages(void **state)
{
	static const char forbidden[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
	    "\"pcidevices.devices.harvesterhci.io is forbidden: User \\\"system:serviceaccount:"
	    "kube-system:hostdev-agent\\\" cannot list resource \\\"pcidevices\\\"\",\"reason\":"
	    "\"Forbidden\",\"code\":403}";
	char out[512], reason[64];

	kube_status_describe(403, forbidden, strlen(forbidden), out, sizeof(out));
	assert_string_equal(out, "HTTP 403 Forbidden: pcidevices.devices.harvesterhci.io is "
				 "forbidden: User \"system:serviceaccount:kube-system:hostdev-"
				 "agent\" cannot list resource \"pcidevices\"");
	kube_status_reason(forbidden, strlen(forbidden), reason, sizeof(reason));
	assert_string_equal(reason, "Forbidden");

	kube_status_describe(502, "<html>bad gateway</html>\nmore", 30, out, sizeof(out));
	assert_string_equal(out, "HTTP 502 Bad Gateway: <html>bad gateway</html>");
	kube_status_describe(410, "", 0, out, sizeof(out));
	assert_string_equal(out, "HTTP 410 Gone");
	kube_status_reason("{\"kind\":\"Other\",\"reason\":\"X\"}", 29, reason, sizeof(reason));
	assert_string_equal(reason, "");
}

/* ---- base64 ------------------------------------------------------------------------------- */

static void test_base64(void **state)
{
	size_t len;
	char *s = kube_base64_decode("aGVs\nbG8=", &len);

	assert_non_null(s);
	assert_int_equal(len, 5);
	assert_string_equal(s, "hello");
	free(s);
	s = kube_base64_decode("YQ==", &len);
	assert_string_equal(s, "a");
	free(s);
	assert_null(kube_base64_decode("a$b=", &len));
	assert_null(kube_base64_decode("YQ==YQ", &len));
}

/* ---- kubeconfig --------------------------------------------------------------------------- */

struct tmp {
	char dir[64];
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/agent-kube-unit-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static const char kubeconfig_two_contexts[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: standin\n"
    "clusters:\n"
    "- name: local\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority: pki/ca.crt\n"
    "- name: inline\n"
    "  cluster:\n"
    "    server: https://[::1]:7443\n"
    "    certificate-authority-data: LS0tLS1CRUdJTg==\n"
    "contexts:\n"
    "- name: standin\n"
    "  context: {cluster: local, user: agent, namespace: kube-system}\n"
    "- name: other\n"
    "  context:\n"
    "    cluster: inline\n"
    "    user: certuser\n"
    "users:\n"
    "- name: agent\n"
    "  user:\n"
    "    token: abc.def\n"
    "- name: certuser\n"
    "  user:\n"
    "    client-certificate-data: Y2VydA==\n"
    "    client-key-data: a2V5\n";

static void test_kubeconfig_contexts(void **state)
{
	struct tmp *t = *state;
	struct kube_config cfg;
	char path[128], expect[160], err[512];

	snprintf(path, sizeof(path), "%s/pki", t->dir);
	mkdir(path, 0700);
	write_file(t->dir, "pki/ca.crt", "-----BEGIN CERTIFICATE-----\n");
	write_file(t->dir, "config", kubeconfig_two_contexts);
	snprintf(path, sizeof(path), "%s/config", t->dir);

	assert_int_equal(kube_config_load_kubeconfig(&cfg, path, NULL, false, err, sizeof(err)), 0);
	assert_string_equal(cfg.server, "https://127.0.0.1:6443");
	snprintf(expect, sizeof(expect), "%s/pki/ca.crt", t->dir);
	assert_string_equal(cfg.ca_file, expect); /* relative to the kubeconfig */
	assert_string_equal(cfg.token, "abc.def");
	assert_string_equal(cfg.namespace, "kube-system");
	assert_null(cfg.cert_data);
	kube_config_clear(&cfg);

	assert_int_equal(kube_config_load_kubeconfig(&cfg, path, "other", false, err, sizeof(err)),
			 0);
	assert_string_equal(cfg.server, "https://[::1]:7443");
	assert_int_equal(cfg.ca_data_len, 10);
	assert_memory_equal(cfg.ca_data, "-----BEGIN", 10);
	assert_string_equal(cfg.cert_data, "cert");
	assert_string_equal(cfg.key_data, "key");
	assert_null(cfg.token);
	assert_non_null(strstr(cfg.source, "context other"));
	kube_config_clear(&cfg);
}

static void expect_error(const char *dir, const char *text, const char *context,
			 bool allow_insecure, const char *needle)
{
	struct kube_config cfg;
	char path[128], err[512];

	write_file(dir, "bad", text);
	snprintf(path, sizeof(path), "%s/bad", dir);
	assert_int_equal(
	    kube_config_load_kubeconfig(&cfg, path, context, allow_insecure, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
	assert_non_null(strstr(err, path));
}

static void test_kubeconfig_errors(void **state)
{
	struct tmp *t = *state;
	struct kube_config cfg;
	char err[512];

	assert_int_equal(kube_config_load_kubeconfig(&cfg, "/nonexistent/kubeconfig", NULL, false,
						     err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "cannot open"));
	expect_error(t->dir, "clusters: [\n", NULL, false, "not valid YAML");
	expect_error(t->dir, "- a\n- b\n", NULL, false, "not a mapping");
	expect_error(t->dir, "apiVersion: v1\nclusters: []\n", NULL, false, "no current-context");
	expect_error(t->dir, kubeconfig_two_contexts, "missing", false,
		     "context \"missing\" is not in its contexts list");
	expect_error(t->dir,
		     "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x, user: u}\n"
		     "clusters:\n- name: x\n  cluster: {server: https://h:1, "
		     "insecure-skip-tls-verify: true}\n",
		     NULL, false, "insecure-skip-tls-verify");
	expect_error(t->dir,
		     "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x, user: u}\n"
		     "clusters:\n- name: x\n  cluster: {server: https://h:1}\nusers:\n- name: u\n"
		     "  user:\n    exec: {command: aws}\n",
		     NULL, false, "exec or auth-provider");
	expect_error(t->dir,
		     "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x, user: u}\n"
		     "clusters:\n- name: x\n  cluster: {server: https://h:1}\nusers:\n- name: u\n"
		     "  user: {client-certificate-data: Y2VydA==}\n",
		     NULL, false, "without its key");
	expect_error(t->dir,
		     "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x}\n"
		     "clusters:\n- name: x\n  cluster: {server: https://h:1, "
		     "certificate-authority: nothere.crt}\n",
		     NULL, false, "nothere.crt");
	expect_error(t->dir,
		     "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x}\n"
		     "clusters:\n- name: x\n  cluster: {server: ftp://h:1}\n",
		     NULL, false, "not an http(s) URL");
	expect_error(t->dir,
		     "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x}\n"
		     "clusters:\n- name: x\n  cluster: {server: https://h:1, "
		     "certificate-authority-data: \"!!\"}\n",
		     NULL, false, "not valid base64");
	/* Explicitly allowed: accepted. */
	write_file(t->dir, "ok",
		   "current-context: c\ncontexts:\n- name: c\n  context: {cluster: x}\n"
		   "clusters:\n- name: x\n  cluster: {server: https://h:1, "
		   "insecure-skip-tls-verify: true}\n");
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/ok", t->dir);
		assert_int_equal(
		    kube_config_load_kubeconfig(&cfg, path, NULL, true, err, sizeof(err)), 0);
		assert_true(cfg.insecure_skip_tls_verify);
		kube_config_clear(&cfg);
	}
}

static void test_in_cluster(void **state)
{
	struct tmp *t = *state;
	struct kube_config cfg;
	char err[512], expect[160];

	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_in_cluster(&cfg, t->dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(&cfg, t->dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "service-account token"));
	write_file(t->dir, "token", "tok\n");
	write_file(t->dir, "ca.crt", "ca");
	write_file(t->dir, "namespace", "kube-system\n");
	assert_int_equal(kube_config_in_cluster(&cfg, t->dir, err, sizeof(err)), 0);
	assert_string_equal(cfg.server, "https://[fd00::1]:443");
	snprintf(expect, sizeof(expect), "%s/token", t->dir);
	assert_string_equal(cfg.token_file, expect);
	assert_null(cfg.token); /* read per request, so that rotation is seen */
	assert_string_equal(cfg.namespace, "kube-system");
	kube_config_clear(&cfg);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

/* ---- paths, backoff, map ------------------------------------------------------------------ */

static void test_paths(void **state)
{
	static const struct kube_resource pci = {"devices.harvesterhci.io", "v1beta1", "pcidevices",
						 "PCIDevice", false};
	static const struct kube_resource pods = {"", "v1", "pods", "Pod", true};
	struct kube_list_options o = {.label_selector = "nodename=node 1,a in (x,y)",
				      .field_selector = "metadata.name=n1",
				      .limit = 500,
				      .continue_token = "abc/=+",
				      .resource_version = "42"};
	char *p;

	p = kube_resource_path(&pci, NULL, "node1-000008000", "status");
	assert_string_equal(p, "/apis/devices.harvesterhci.io/v1beta1/pcidevices/node1-000008000/"
			       "status");
	free(p);
	p = kube_resource_path(&pods, "kube-system", NULL, NULL);
	assert_string_equal(p, "/api/v1/namespaces/kube-system/pods");
	free(p);
	p = kube_list_path(&pci, NULL, &o, false, 0);
	assert_string_equal(p, "/apis/devices.harvesterhci.io/v1beta1/pcidevices?labelSelector="
			       "nodename%3Dnode%201%2Ca%20in%20%28x%2Cy%29&fieldSelector=metadata."
			       "name%3Dn1&limit=500&continue=abc%2F%3D%2B&resourceVersion=42");
	free(p);
	o.field_selector = NULL;
	o.bookmarks = true;
	p = kube_list_path(&pci, NULL, &o, true, 300);
	assert_string_equal(p, "/apis/devices.harvesterhci.io/v1beta1/pcidevices?watch=1&"
			       "allowWatchBookmarks=true&timeoutSeconds=300&labelSelector=nodename%"
			       "3Dnode%201%2Ca%20in%20%28x%2Cy%29&resourceVersion=42");
	free(p);
	o.bookmarks = false;
	p = kube_list_path(&pods, "kube-system", &o, true, 0);
	assert_string_equal(p, "/api/v1/namespaces/kube-system/pods?watch=1&labelSelector=nodename%"
			       "3Dnode%201%2Ca%20in%20%28x%2Cy%29&resourceVersion=42");
	free(p);
}

static void test_backoff(void **state)
{
	struct kube_backoff b;
	unsigned int last_max = 0;

	kube_backoff_init(&b, 100, 3000);
	for (int i = 0; i < 20; i++) {
		unsigned int d = kube_backoff_next(&b);
		unsigned int cap = 100u << (i < 5 ? i : 5);

		if (cap > 3000)
			cap = 3000;
		assert_true(d >= cap / 2 && d <= cap);
		last_max = cap;
	}
	assert_int_equal(last_max, 3000);
	kube_backoff_reset(&b);
	assert_true(kube_backoff_next(&b) <= 100);
}

static void test_strmap(void **state)
{
	struct strmap *m = strmap_new(free);
	char key[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "node1-%08d", i);
		assert_int_equal(strmap_set(m, key, strdup(key)), 0);
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "node1-%08d", i);
		assert_true(strmap_remove(m, key));
	}
	assert_int_equal(strmap_count(m), 2500);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "node1-%08d", i);
		if (i % 2)
			assert_string_equal(strmap_get(m, key), key);
		else
			assert_null(strmap_get(m, key));
	}
	assert_int_equal(strmap_set(m, "node1-00000001", strdup("replaced")), 0);
	assert_string_equal(strmap_get(m, "node1-00000001"), "replaced");
	assert_int_equal(strmap_count(m), 2500);
	/* Emptied down to a few (the slots shrink on the way): the rest are still found, the removed
	 * ones not, and it fills again. */
	for (int i = 1; i < 4980; i += 2) {
		snprintf(key, sizeof(key), "node1-%08d", i);
		assert_true(strmap_remove(m, key));
	}
	assert_int_equal(strmap_count(m), 10);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "node1-%08d", i);
		if (i % 2 && i >= 4980)
			assert_string_equal(strmap_get(m, key), key);
		else
			assert_null(strmap_get(m, key));
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "node1-%08d", i);
		assert_int_equal(strmap_set(m, key, strdup(key)), 0);
	}
	assert_int_equal(strmap_count(m), 2510);
	snprintf(key, sizeof(key), "node1-%08d", 4998);
	assert_string_equal(strmap_get(m, key), key);
	strmap_free(m);
}

/* ---- the informer's cache ------------------------------------------------------------------ */

/* An object @name at resourceVersion @rv (the caller frees it). */
static cJSON *object(const char *name, const char *rv)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");

	cJSON_AddStringToObject(meta, "name", name);
	cJSON_AddStringToObject(meta, "resourceVersion", rv);
	return obj;
}

/* Apply one watch event; returns whether the informer would report it. */
static bool event(struct kube_cache *c, enum kube_event_type type, const char *name, const char *rv)
{
	cJSON *obj = object(name, rv);
	bool reported = kube_cache_apply(c, type, obj) != NULL;

	cJSON_Delete(obj);
	return reported;
}

static void store(struct kube_cache *c, const char *name, const char *rv, bool own_write)
{
	cJSON *obj = object(name, rv);

	kube_cache_store(c, obj, own_write, true);
	cJSON_Delete(obj);
}

/* The cached resourceVersion of @name, or NULL if the cache does not hold it. */
static const char *cached_rv(const struct kube_cache *c, const char *name)
{
	const cJSON *obj = kube_cache_get(c, name);

	return obj ? kube_meta_string(obj, "resourceVersion") : NULL;
}

static void test_cache_answer_before_its_event(void **state)
{
	struct kube_cache *c = kube_cache_new();

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	store(c, "a", "5", true);
	/* An event from before the write: skipped, the cache stays at the write. */
	assert_false(event(c, KUBE_MODIFIED, "a", "4"));
	assert_string_equal(cached_rv(c, "a"), "5");
	/* The write's own event: nothing new to report. */
	assert_false(event(c, KUBE_MODIFIED, "a", "5"));
	assert_true(event(c, KUBE_MODIFIED, "a", "6"));
	assert_string_equal(cached_rv(c, "a"), "6");
	kube_cache_free(c);
}

/* The DRA slice race: the agent replaces an object, someone deletes it, and the watch delivers
 * the write's event and the deletion before the write's HTTP answer comes. */
static void test_cache_answer_after_the_deletion(void **state)
{
	struct kube_cache *c = kube_cache_new();

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	assert_true(event(c, KUBE_MODIFIED, "a", "7"));
	assert_true(event(c, KUBE_DELETED, "a", "8"));
	assert_null(cached_rv(c, "a"));
	store(c, "a", "7", true);
	assert_null(cached_rv(c, "a"));
	assert_int_equal(kube_cache_count(c), 0);
	kube_cache_free(c);
}

/* The same, with the answer before the write's event. */
static void test_cache_pending_answer_then_deletion(void **state)
{
	struct kube_cache *c = kube_cache_new();

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	store(c, "a", "7", true);
	assert_false(event(c, KUBE_MODIFIED, "a", "7"));
	assert_true(event(c, KUBE_DELETED, "a", "8"));
	assert_null(cached_rv(c, "a"));
	store(c, "a", "7", true); /* the same answer handed in twice */
	assert_null(cached_rv(c, "a"));
	kube_cache_free(c);
}

static void test_cache_late_answer_after_recreation(void **state)
{
	struct kube_cache *c = kube_cache_new();

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	assert_true(event(c, KUBE_MODIFIED, "a", "7"));
	assert_true(event(c, KUBE_DELETED, "a", "8"));
	assert_true(event(c, KUBE_ADDED, "a", "9"));
	store(c, "a", "7", true);
	assert_string_equal(cached_rv(c, "a"), "9");
	kube_cache_free(c);
}

static void test_cache_new_object_after_deletion(void **state)
{
	struct kube_cache *c = kube_cache_new();

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	assert_true(event(c, KUBE_DELETED, "a", "2"));
	/* The agent's create of the same name, answered before its event. */
	store(c, "a", "3", true);
	assert_string_equal(cached_rv(c, "a"), "3");
	assert_false(event(c, KUBE_ADDED, "a", "3"));
	assert_string_equal(cached_rv(c, "a"), "3");
	kube_cache_free(c);
}

/* An object that left the selector (someone removed a label) is reported deleted but exists, at
 * the version of that event: a read of it is stored. */
static void test_cache_read_after_leaving_the_selector(void **state)
{
	struct kube_cache *c = kube_cache_new();

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	assert_true(event(c, KUBE_DELETED, "a", "2"));
	store(c, "a", "2", false);
	assert_string_equal(cached_rv(c, "a"), "2");
	/* Then the agent's update puts the label back. */
	store(c, "a", "3", true);
	assert_string_equal(cached_rv(c, "a"), "3");
	kube_cache_free(c);
}

static void test_cache_forget_and_relist(void **state)
{
	struct kube_cache *c = kube_cache_new();
	struct kube_cache *listing = kube_cache_new();
	cJSON *obj = object("b", "20");

	assert_true(event(c, KUBE_ADDED, "a", "1"));
	assert_true(event(c, KUBE_ADDED, "b", "2"));
	assert_true(event(c, KUBE_ADDED, "c", "3"));
	kube_cache_forget(c, "a");
	store(c, "a", "1", true);
	assert_null(cached_rv(c, "a"));
	/* A relist that no longer has c. */
	assert_int_equal(kube_cache_put_listed(listing, obj), 0);
	cJSON_Delete(obj);
	obj = cJSON_CreateObject();
	assert_int_equal(kube_cache_put_listed(listing, obj), -EINVAL);
	cJSON_Delete(obj);
	kube_cache_replace(c, listing);
	assert_int_equal(kube_cache_count(c), 1);
	assert_string_equal(cached_rv(c, "b"), "20");
	store(c, "c", "3", true);
	assert_null(cached_rv(c, "c"));
	kube_cache_free(c);
}

/* A cache that keeps a form of its own: what its keep made, the resourceVersions as with the
 * object, the event's own object reported, every kept form dropped. */
static int kept_alive;

static void *keep_name(const cJSON *obj, void *userdata)
{
	char *kept = NULL;

	if (asprintf(&kept, "%s%s", (const char *)userdata, kube_meta_string(obj, "name")) < 0)
		return NULL;
	kept_alive++;
	return kept;
}

static void drop_name(void *kept)
{
	kept_alive--;
	free(kept);
}

static void test_cache_keeping(void **state)
{
	struct kube_keep keep = {keep_name, drop_name, "kept:"};
	struct kube_cache *c = kube_cache_new_keeping(&keep);
	struct kube_cache *listing = kube_cache_new_keeping(&keep);
	cJSON *obj = object("a", "1");

	assert_ptr_equal(kube_cache_apply(c, KUBE_ADDED, obj), obj);
	assert_string_equal(kube_cache_get(c, "a"), "kept:a");
	assert_string_equal(kube_cache_rv(c, "a"), "1");
	cJSON_Delete(obj);
	/* The answer of a write, then an older event: skipped, the write's version stays. */
	store(c, "a", "5", true);
	assert_false(event(c, KUBE_MODIFIED, "a", "4"));
	assert_string_equal(kube_cache_rv(c, "a"), "5");
	assert_false(event(c, KUBE_MODIFIED, "a", "5"));
	assert_true(event(c, KUBE_MODIFIED, "a", "6"));
	assert_string_equal(kube_cache_rv(c, "a"), "6");
	/* Deleted, then the late answer of a write it overtook: not brought back. */
	assert_true(event(c, KUBE_DELETED, "a", "7"));
	store(c, "a", "6", true);
	assert_null(kube_cache_get(c, "a"));
	assert_true(event(c, KUBE_ADDED, "b", "8"));
	obj = object("c", "9");
	assert_int_equal(kube_cache_put_listed(listing, obj), 0);
	cJSON_Delete(obj);
	kube_cache_replace(c, listing);
	assert_null(kube_cache_get(c, "b"));
	assert_string_equal(kube_cache_get(c, "c"), "kept:c");
	assert_int_equal(kept_alive, 1);
	kube_cache_free(c);
	assert_int_equal(kept_alive, 0);
}

/* Tombstones are bounded: after many more deletions the oldest is forgotten (and a stale answer
 * of it would be stored, the behaviour without tombstones), the newest still hold. */
static void test_cache_tombstones_bounded(void **state)
{
	struct kube_cache *c = kube_cache_new();
	char name[32], rv[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		snprintf(rv, sizeof(rv), "%d", 2 * i);
		assert_true(event(c, KUBE_ADDED, name, rv));
		snprintf(rv, sizeof(rv), "%d", 2 * i + 1);
		assert_true(event(c, KUBE_DELETED, name, rv));
	}
	store(c, "o999", "1998", true);
	assert_null(cached_rv(c, "o999"));
	store(c, "o0", "0", true);
	assert_string_equal(cached_rv(c, "o0"), "0");
	kube_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_every_split),
	    cmocka_unit_test(test_lines_limits_and_errors),
	    cmocka_unit_test(test_status_messages),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test_setup_teardown(test_kubeconfig_contexts, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_kubeconfig_errors, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_in_cluster, tmp_setup, tmp_teardown),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_strmap),
	    cmocka_unit_test(test_cache_answer_before_its_event),
	    cmocka_unit_test(test_cache_keeping),
	    cmocka_unit_test(test_cache_answer_after_the_deletion),
	    cmocka_unit_test(test_cache_pending_answer_then_deletion),
	    cmocka_unit_test(test_cache_late_answer_after_recreation),
	    cmocka_unit_test(test_cache_new_object_after_deletion),
	    cmocka_unit_test(test_cache_read_after_leaving_the_selector),
	    cmocka_unit_test(test_cache_forget_and_relist),
	    cmocka_unit_test(test_cache_tombstones_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
