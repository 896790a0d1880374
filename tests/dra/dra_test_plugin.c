/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A DRA driver for the interop tests: serves one driver with the public API (hostdev/dra.h) and
 * answers from a fixture, the ResourceClaims' allocations the real driver would read from the
 * API server:
 *
 *   {"claims": {"<uid>": {"devices": [{"pool": P, "device": D, "requests": [R...],
 *                                      "pci": "0000:00:02.0" | "mdev": "<uuid>",
 *                                      "group": "7", "cdev": 3}],
 *                         "defer": true,         completed from a thread of its own
 *                         "error": "text"}}}     prepare fails with this message
 *
 *   dra_test_plugin --driver NAME --plugin-dir DIR --registry-dir DIR --cdi-dir DIR
 *                   --fixture FILE [--api v1|v1beta1|all] [--no-registration]
 *
 * Prepare of a claim in the fixture writes one CDI spec <cdi-dir>/<driver>-<uid>.json (kind
 * <driver>/pci, one vfio device "<uid>-<device>" per device) and the device-metadata files of
 * each request (data directory <plugin-dir>/<driver>), and answers each device with its request
 * names, its CDI id and the metadata CDI id of each of its requests. A claim not in the fixture
 * fails
 * ("no allocation"). Unprepare removes the files; an unknown claim succeeds.
 *
 * Printed on stdout, one line each: "READY <socket> <registration socket>", "PREPARE <uid> <api>",
 * "UNPREPARE <uid> <api> known|unknown", "REGISTERED <n>", "REFUSED <error>", and the answers to
 * commands read from stdin: "status" -> "STATUS <state> <registrations>", "stop", "start",
 * "quit" (stop and exit 0); each answered "OK <command>" or "ERR <command>: <message>".
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hostdev.h>
#include <hostdev/dra.h>

struct driver {
	hostdev_ctx *ctx;
	const char *name;
	const char *cdi_dir;
	char data_dir[4096];
	cJSON *claims; /* fixture "claims" */
	pthread_mutex_t lock;
	cJSON *prepared; /* uid -> true, under lock */
	unsigned int registrations;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* The fixture's device @d as "<uid>-<device>": a CDI device name. */
static void cdi_name(char *buf, size_t size, const char *uid, const cJSON *d)
{
	snprintf(buf, size, "%s-%s", uid, cJSON_GetObjectItem(d, "device")->valuestring);
}

static const char *str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Write the files of claim @req and fill its answer. Runs on the loop (with the loop's lock) or
 * on a thread of its own (deferred): it only uses @req, its own context and the fixture. */
static int prepare_claim(struct driver *drv, hostdev_ctx *ctx, hostdev_dra_request *req,
			 const cJSON *claim)
{
	const char *uid = hostdev_dra_request_get_uid(req);
	const cJSON *devices = cJSON_GetObjectItem(claim, "devices"), *d;
	hostdev_dra_cdi_spec *spec = NULL;
	char kind[256], file[512], name[256], *id = NULL;
	int r;

	snprintf(kind, sizeof(kind), "%s/pci", drv->name);
	r = hostdev_dra_cdi_spec_new(ctx, kind, &spec);
	cJSON_ArrayForEach(d, devices)
	{
		const cJSON *cdev = cJSON_GetObjectItem(d, "cdev");

		if (r < 0)
			break;
		cdi_name(name, sizeof(name), uid, d);
		r = hostdev_dra_cdi_spec_add_vfio_device(
		    spec, name, str(d, "group"), cJSON_IsNumber(cdev) ? cdev->valueint : -1);
	}
	snprintf(file, sizeof(file), "%s-%s.json", drv->name, uid);
	if (r == 0)
		r = hostdev_dra_cdi_spec_write(spec, drv->cdi_dir, file);
	cJSON_ArrayForEach(d, devices)
	{
		const cJSON *request;
		int index;

		if (r < 0)
			break;
		index = hostdev_dra_request_add_device(req, str(d, "pool"), str(d, "device"));
		if (index < 0) {
			r = index;
			break;
		}
		cdi_name(name, sizeof(name), uid, d);
		r = hostdev_dra_cdi_spec_get_device_id(spec, name, &id);
		if (r == 0)
			r = hostdev_dra_request_add_cdi_id(req, index, id);
		hostdev_free(id);
		id = NULL;
		cJSON_ArrayForEach(request, cJSON_GetObjectItem(d, "requests"))
		{
			hostdev_dra_metadata *md = NULL;

			if (r < 0)
				break;
			r = hostdev_dra_request_add_request_name(req, index, request->valuestring);
			if (r == 0)
				r = hostdev_dra_metadata_new(ctx, drv->name,
							     hostdev_dra_request_get_namespace(req),
							     hostdev_dra_request_get_name(req), uid,
							     request->valuestring, &md);
			if (r == 0)
				r = hostdev_dra_metadata_add_device(md, str(d, "pool"),
								    str(d, "device"), str(d, "pci"),
								    str(d, "mdev"));
			if (r == 0)
				r = hostdev_dra_metadata_write(md, drv->data_dir, drv->cdi_dir);
			if (r == 0)
				r = hostdev_dra_metadata_get_cdi_id(md, &id);
			if (r == 0)
				r = hostdev_dra_request_add_cdi_id(req, index, id);
			hostdev_free(id);
			id = NULL;
			hostdev_dra_metadata_free(md);
		}
	}
	hostdev_dra_cdi_spec_free(spec);
	if (r < 0) {
		char message[1024];

		snprintf(message, sizeof(message), "test driver: claim %s: %s", uid,
			 hostdev_ctx_get_error(ctx));
		hostdev_dra_request_set_error(req, message);
		return r;
	}
	pthread_mutex_lock(&drv->lock);
	if (!cJSON_GetObjectItem(drv->prepared, uid))
		cJSON_AddTrueToObject(drv->prepared, uid);
	pthread_mutex_unlock(&drv->lock);
	return 0;
}

struct deferred {
	struct driver *drv;
	hostdev_dra_request *req;
	const cJSON *claim;
};

static void *complete_later(void *arg)
{
	struct deferred *job = arg;
	hostdev_ctx *ctx = NULL;

	/* A context of this thread's own: the loop's must not be used off the loop. */
	if (hostdev_ctx_new(&ctx) < 0)
		hostdev_dra_request_set_error(job->req, "test driver: no context");
	else
		prepare_claim(job->drv, ctx, job->req, job->claim);
	if (hostdev_dra_request_complete(job->req) < 0)
		say("ERR complete");
	hostdev_ctx_unref(ctx);
	free(job);
	return NULL;
}

static int on_prepare(void *userdata, hostdev_dra_request *req)
{
	struct driver *drv = userdata;
	const char *uid = hostdev_dra_request_get_uid(req);
	const cJSON *claim = cJSON_GetObjectItem(drv->claims, uid);
	const char *error;
	pthread_t thread;

	say("PREPARE %s %s", uid, hostdev_dra_request_get_api_version(req));
	if (!claim) {
		char message[512];

		snprintf(message, sizeof(message),
			 "test driver: claim %s/%s (uid %s) has no allocation for this driver",
			 hostdev_dra_request_get_namespace(req), hostdev_dra_request_get_name(req),
			 uid);
		hostdev_dra_request_set_error(req, message);
		return -ENOENT;
	}
	error = str(claim, "error");
	if (error) {
		hostdev_dra_request_set_error(req, error);
		return -EIO;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItem(claim, "defer"))) {
		struct deferred *job = calloc(1, sizeof(*job));

		if (!job)
			return -ENOMEM;
		job->drv = drv;
		job->req = req;
		job->claim = claim;
		if (pthread_create(&thread, NULL, complete_later, job) != 0) {
			free(job);
			return -EAGAIN;
		}
		pthread_detach(thread);
		return HOSTDEV_DRA_DEFERRED;
	}
	return prepare_claim(drv, drv->ctx, req, claim);
}

static int on_unprepare(void *userdata, hostdev_dra_request *req)
{
	struct driver *drv = userdata;
	const char *uid = hostdev_dra_request_get_uid(req);
	const cJSON *claim = cJSON_GetObjectItem(drv->claims, uid), *d, *request;
	char file[512];
	bool known;
	int r = 0;

	pthread_mutex_lock(&drv->lock);
	known = cJSON_GetObjectItem(drv->prepared, uid) != NULL;
	cJSON_DeleteItemFromObject(drv->prepared, uid);
	pthread_mutex_unlock(&drv->lock);
	say("UNPREPARE %s %s %s", uid, hostdev_dra_request_get_api_version(req),
	    known ? "known" : "unknown");
	if (!known)
		return 0;
	snprintf(file, sizeof(file), "%s-%s.json", drv->name, uid);
	r = hostdev_dra_cdi_spec_remove(drv->ctx, drv->cdi_dir, file);
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(claim, "devices"))
	{
		cJSON_ArrayForEach(request, cJSON_GetObjectItem(d, "requests"))
		{
			hostdev_dra_metadata *md = NULL;

			if (r == 0)
				r = hostdev_dra_metadata_new(drv->ctx, drv->name,
							     hostdev_dra_request_get_namespace(req),
							     hostdev_dra_request_get_name(req), uid,
							     request->valuestring, &md);
			if (r == 0)
				r = hostdev_dra_metadata_remove(md, drv->data_dir, drv->cdi_dir);
			hostdev_dra_metadata_free(md);
		}
	}
	if (r < 0)
		hostdev_dra_request_set_error(req, hostdev_ctx_get_error(drv->ctx));
	return r;
}

static void on_registration(void *userdata, int registered, const char *error)
{
	struct driver *drv = userdata;

	if (registered)
		say("REGISTERED %u", ++drv->registrations);
	else
		say("REFUSED %s", error);
}

static cJSON *load_fixture(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long size;
	cJSON *json = NULL;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = calloc(1, (size_t)size + 1))) {
		if (fread(text, 1, (size_t)size, f) == (size_t)size)
			json = cJSON_Parse(text);
		free(text);
	}
	fclose(f);
	return json;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"driver", required_argument, NULL, 'd'},
	    {"plugin-dir", required_argument, NULL, 'p'},
	    {"registry-dir", required_argument, NULL, 'r'},
	    {"cdi-dir", required_argument, NULL, 'c'},
	    {"fixture", required_argument, NULL, 'f'},
	    {"api", required_argument, NULL, 'a'},
	    {"no-registration", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_dra_plugin_ops ops = {
	    .version = HOSTDEV_DRA_PLUGIN_OPS_VERSION,
	    .prepare = on_prepare,
	    .unprepare = on_unprepare,
	    .registration_status = on_registration,
	};
	struct hostdev_dra_plugin_options opts;
	struct driver drv = {.lock = PTHREAD_MUTEX_INITIALIZER};
	const char *fixture = NULL;
	hostdev_dra_plugin *plugin = NULL;
	hostdev_loop *loop = NULL;
	cJSON *root = NULL;
	char line[256];
	int c, r;

	hostdev_dra_plugin_options_init(&opts);
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (c) {
		case 'd':
			drv.name = optarg;
			break;
		case 'p':
			opts.plugin_dir = optarg;
			break;
		case 'r':
			opts.registry_dir = optarg;
			break;
		case 'c':
			drv.cdi_dir = optarg;
			break;
		case 'f':
			fixture = optarg;
			break;
		case 'a':
			opts.api_versions = strcmp(optarg, "v1") == 0 ? HOSTDEV_DRA_API_V1
					    : strcmp(optarg, "v1beta1") == 0
						? HOSTDEV_DRA_API_V1BETA1
						: 0;
			break;
		case 'n':
			opts.no_registration = 1;
			break;
		default:
			return 2;
		}
	}
	if (!drv.name || !opts.plugin_dir || !drv.cdi_dir || !fixture) {
		fprintf(stderr, "usage: see the comment at the top of dra_test_plugin.c\n");
		return 2;
	}
	root = load_fixture(fixture);
	drv.claims = cJSON_GetObjectItem(root, "claims");
	drv.prepared = cJSON_CreateObject();
	if (!drv.claims || !drv.prepared) {
		fprintf(stderr, "cannot read the fixture %s\n", fixture);
		return 2;
	}
	snprintf(drv.data_dir, sizeof(drv.data_dir), "%s/%s", opts.plugin_dir, drv.name);
	r = hostdev_ctx_new(&drv.ctx);
	if (r == 0) {
		hostdev_ctx_set_log_priority(drv.ctx, HOSTDEV_LOG_DEBUG);
		r = hostdev_loop_new(drv.ctx, &loop);
	}
	if (r == 0)
		r = hostdev_dra_plugin_new(loop, drv.name, &ops, &drv, &opts, &plugin);
	if (r == 0)
		r = hostdev_dra_plugin_start(plugin);
	if (r == 0)
		r = hostdev_loop_start_thread(loop);
	if (r < 0) {
		fprintf(stderr, "cannot serve: %s\n",
			drv.ctx ? hostdev_ctx_get_error(drv.ctx) : strerror(-r));
		goto out;
	}
	say("READY %s %s", hostdev_dra_plugin_get_socket_path(plugin),
	    hostdev_dra_plugin_get_registration_path(plugin)
		? hostdev_dra_plugin_get_registration_path(plugin)
		: "-");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "status") == 0) {
			say("STATUS %d %u", hostdev_dra_plugin_get_state(plugin),
			    hostdev_dra_plugin_get_registrations(plugin));
		} else if (strcmp(line, "stop") == 0) {
			hostdev_dra_plugin_stop(plugin);
			say("OK stop");
		} else if (strcmp(line, "start") == 0) {
			if (hostdev_dra_plugin_start(plugin) < 0)
				say("ERR start: %s", hostdev_ctx_get_error(drv.ctx));
			else
				say("OK start");
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			say("ERR %s: unknown command", line);
		}
	}
	hostdev_loop_stop_thread(loop);
	say("OK quit");
out:
	hostdev_dra_plugin_unref(plugin);
	hostdev_loop_unref(loop);
	cJSON_Delete(drv.prepared);
	cJSON_Delete(root);
	hostdev_ctx_unref(drv.ctx);
	return r < 0 ? 1 : 0;
}
