/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DRA driver's kubelet side: the library's DRA plugin (on a hostdev_loop whose fd the agent's
 * loop watches, as serving.c does for the device plugins) answering NodePrepareResources and
 * NodeUnprepareResources.
 *
 * Prepare reads the ResourceClaim (the kubelet names it only), so its answer is deferred until
 * the GET returns on the agent's loop. Then every step is recorded before it is taken: the
 * checkpoint says "preparing" with the devices, and a job on the driver's worker thread
 * (worker.h) binds the devices to vfio-pci through the journal with the owner text
 * DRA_OWNER_PREFIX<claim uid> and writes the CDI spec and the metadata files; back on the loop
 * the checkpoint says "prepared" and the kubelet gets its answer. A prepared claim is answered
 * from the checkpoint (the kubelet repeats Prepare). Unprepare is the reverse, on the worker too,
 * and needs only the checkpoint (the claim may be gone). At start a claim left "preparing" or
 * "unpreparing" by a killed agent is undone: the kubelet retries the Prepare it never got an
 * answer for.
 *
 * The library's bind and restore wait (drivers, the vfio lock, the verification): on the loop's
 * thread they would stall the slices, the watches and the plugin's own sockets, so they run on the
 * worker with a library context of its own (the loop's stays the loop's). One claim has at most
 * one job at a time; a Prepare repeated while its claim's job runs waits for that job's answer.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "worker.h"

/* The annotation the ResourceClaim controller puts on a claim it made from a template for a pod:
 * the pod's name of the claim (pod.spec.resourceClaims[].name). */
#define DRA_POD_CLAIM_NAME_ANNOTATION "resource.kubernetes.io/pod-claim-name"
/* Tests only (tests/vm scenario 96-agent-dra): with this environment variable set to
 * DRA_TEST_STOP_BOUND, the agent stops itself (SIGSTOP, the whole process) in a Prepare once its
 * devices are bound and before its files and its "prepared" checkpoint are written, so that the
 * test's SIGKILL lands inside that Prepare on a real kernel, not at a moment a poll happened to
 * catch. Read once, at the start. */
#define DRA_TEST_STOP_ENV "HOSTDEV_AGENT_TEST_STOP"
#define DRA_TEST_STOP_BOUND "dra-bound"

struct dra_driver {
	struct dra_driver_options o;
	hostdev_loop *hl;
	struct loop_source *src;
	hostdev_dra_plugin *plugin;
	struct dra_checkpoint *cp;
	char data_dir[PATH_MAX]; /* <plugin dir>/<driver>: metadata files and the checkpoint */
	char kind[128];		 /* the CDI kind "<driver>/pci" */
	bool stopped;
	bool test_stop_bound;		 /* DRA_TEST_STOP_ENV=DRA_TEST_STOP_BOUND */
	struct pending_prepare *pending; /* GETs in flight, each owning its deferred request */
	/* The binds and restores: on the worker, with a library context of its own. */
	struct worker *worker;
	hostdev_ctx *work_ctx;
	struct dra_job *jobs; /* submitted, done function not run yet */
};

/* A Prepare waiting for its ResourceClaim. */
struct pending_prepare {
	struct dra_driver *d;
	hostdev_dra_request *req;
	struct kube_request *get;
	bool unprepared; /* an Unprepare of the claim came meanwhile: do not prepare it */
	struct pending_prepare *next;
};

enum dra_job_kind { DRA_JOB_PREPARE, DRA_JOB_UNPREPARE };

/* The work of one claim on the worker thread: copies of everything it needs, so the worker sees
 * nothing of the loop's. The requests waiting for it are the loop's (the worker never touches
 * them): they are answered in job_done(). */
struct dra_job {
	struct dra_driver *d;
	enum dra_job_kind kind;
	char *uid, *ns, *name;
	char *pod_claim_name; /* prepare of a template's claim, else NULL */
	struct dra_claim_device *devs;
	size_t n;
	bool converging; /* an unfinished claim undone at start: no request waits */
	hostdev_dra_request **reqs;
	size_t n_reqs;
	/* results, written by the worker */
	int r;
	int undo_r; /* a failed prepare's undo */
	char err[1024];
	struct dra_job *next;
};

static void owner_of(const char *uid, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", DRA_OWNER_PREFIX, uid);
}

/* The CDI spec's file name of a claim: one spec per claim. */
static void cdi_file_of(const char *driver, const char *uid, char *buf, size_t size)
{
	snprintf(buf, size, "%s_%s.json", driver, uid);
}

/* The CDI device name of one device of a claim. */
static void cdi_name_of(const char *uid, const char *device, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s", uid, device);
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- jobs --------------------------------------------------------------------------------- */

static void job_free(struct dra_job *job)
{
	if (!job)
		return;
	free(job->uid);
	free(job->ns);
	free(job->name);
	free(job->pod_claim_name);
	dra_claim_devices_free(job->devs, job->n);
	free(job->reqs);
	free(job);
}

static struct dra_job *job_new(struct dra_driver *d, enum dra_job_kind kind, const char *uid,
			       const char *ns, const char *name)
{
	struct dra_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->d = d;
	job->kind = kind;
	job->uid = strdup(uid);
	job->ns = strdup(ns);
	job->name = strdup(name);
	if (!job->uid || !job->ns || !job->name) {
		job_free(job);
		return NULL;
	}
	return job;
}

/* Add @req to those @job answers. Returns 0 or -ENOMEM. */
static int job_add_request(struct dra_job *job, hostdev_dra_request *req)
{
	hostdev_dra_request **grown = realloc(job->reqs, (job->n_reqs + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	job->reqs = grown;
	job->reqs[job->n_reqs++] = req;
	return 0;
}

/* The devices of a checkpoint entry, copied for a job. Returns 0 or -ENOMEM. */
static int job_take_entry_devices(struct dra_job *job, const cJSON *entry)
{
	const cJSON *dev, *list = cJSON_GetObjectItemCaseSensitive(entry, "devices");
	int count = cJSON_GetArraySize(list);

	job->devs = calloc(count > 0 ? (size_t)count : 1, sizeof(*job->devs));
	if (!job->devs)
		return -ENOMEM;
	cJSON_ArrayForEach(dev, list)
	{
		struct dra_claim_device *cd = &job->devs[job->n++];

		cd->request = strdup(str_at(dev, "request"));
		cd->pool = strdup(str_at(dev, "pool"));
		cd->device = strdup(str_at(dev, "device"));
		snprintf(cd->address, sizeof(cd->address), "%s", str_at(dev, "address"));
		if (!cd->request || !cd->pool || !cd->device)
			return -ENOMEM;
	}
	return 0;
}

static struct dra_job *job_of(struct dra_driver *d, const char *uid)
{
	for (struct dra_job *job = d->jobs; job; job = job->next)
		if (strcmp(job->uid, uid) == 0)
			return job;
	return NULL;
}

/* ---- on the worker thread: the job and d->work_ctx only --------------------------------------- */

/* Remove the claim's CDI spec and metadata files (each request's). Returns 0 or an errno. */
static int remove_files(struct dra_job *job, hostdev_ctx *ctx)
{
	const struct dra_driver *d = job->d;
	char file[512];
	int r, ret = 0;

	cdi_file_of(d->o.driver, job->uid, file, sizeof(file));
	if ((r = hostdev_dra_cdi_spec_remove(ctx, d->o.cdi_dir, file)) < 0)
		ret = r;
	for (size_t i = 0; i < job->n; i++) {
		hostdev_dra_metadata *md = NULL;

		if (hostdev_dra_metadata_new(ctx, d->o.driver, job->ns, job->name, job->uid,
					     job->devs[i].request, &md) < 0)
			continue;
		if ((r = hostdev_dra_metadata_remove(md, d->data_dir, d->o.cdi_dir)) < 0)
			ret = r;
		hostdev_dra_metadata_free(md);
	}
	return ret;
}

/* Give the claim's devices back (every journal record of its owner) and remove its files. */
static int undo(struct dra_job *job, hostdev_ctx *ctx, char *err, size_t errlen)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	char owner[HOSTDEV_VFIO_OWNER_MAX + 1];
	int r;

	owner_of(job->uid, owner, sizeof(owner));
	opts.owner = owner;
	opts.lock_timeout_ms = DRA_LOCK_TIMEOUT_MS;
	if ((r = hostdev_vfio_restore_all(ctx, &opts, 0)) < 0) {
		snprintf(err, errlen, "claim %s/%s: giving its devices back failed: %s", job->ns,
			 job->name, hostdev_ctx_get_error(ctx));
		return r;
	}
	if ((r = remove_files(job, ctx)) < 0) {
		snprintf(err, errlen, "claim %s/%s: removing its CDI files failed: %s", job->ns,
			 job->name, hostdev_ctx_get_error(ctx));
		return r;
	}
	return 0;
}

static bool claim_holds(const struct dra_job *job, const char *address)
{
	for (size_t i = 0; i < job->n; i++)
		if (strcmp(job->devs[i].address, address) == 0)
			return true;
	return false;
}

/*
 * A claim that holds part of an IOMMU group whose other members are on host drivers: the kernel
 * passes a group through only whole, and the claim's devices are all this Prepare may bind. Say
 * which device, which members it lacks and how to ask for them, before anything is bound. (The
 * bind would refuse it too, naming the members, but in the library's words, not the claim's.)
 * Returns 0, -EBUSY (in job->err) or a negative errno of reading sysfs.
 */
static int check_groups(struct dra_job *job, hostdev_ctx *ctx)
{
	for (size_t i = 0; i < job->n; i++) {
		const struct dra_claim_device *dev = &job->devs[i];
		char lacks[512] = "";
		size_t nlack = 0, used = 0;
		bool bridge = false;
		struct dra_group g;
		int r;

		if ((r = dra_group_read(ctx, dev->address, &g)) < 0) {
			snprintf(job->err, sizeof(job->err),
				 "claim %s/%s: device %s (%s) cannot be given to vfio-pci: %s",
				 job->ns, job->name, dev->device, dev->address,
				 hostdev_ctx_get_error(ctx));
			return r;
		}
		for (size_t m = 0; m < g.count; m++) {
			int w;

			if (claim_holds(job, g.needs[m].address))
				continue;
			bridge = bridge || g.needs[m].bridge;
			w = snprintf(lacks + used, sizeof(lacks) - used, "%s%s (%s)",
				     nlack ? ", " : "", g.needs[m].address, g.needs[m].driver);
			if (w > 0 && (size_t)w < sizeof(lacks) - used)
				used += (size_t)w;
			nlack++;
		}
		if (nlack) {
			snprintf(
			    job->err, sizeof(job->err),
			    "claim %s/%s: device %s (%s) shares IOMMU group %d with %s, on host "
			    "driver%s, which the claim does not hold: a group goes to vfio-pci only "
			    "whole. %s",
			    job->ns, job->name, dev->device, dev->address, g.group, lacks,
			    nlack > 1 ? "s" : "",
			    bridge ? "A bridge of the group stays with the host: allocate another "
				     "device"
				   : "Request them in the same claim (e.g. a constraint "
				     "matchAttribute: ");
			if (!bridge) {
				size_t len = strlen(job->err);

				snprintf(
				    job->err + len, sizeof(job->err) - len,
				    "%s/iommuGroup over the requests of the group's devices), or "
				    "allocate another device",
				    job->d->o.driver);
			}
			dra_group_clear(&g);
			return -EBUSY;
		}
		dra_group_clear(&g);
	}
	return 0;
}

/* Bind the claim's devices as one set for the claim; a refusal says the library's reason. */
static int bind_devices(struct dra_job *job, hostdev_ctx *ctx, const char *owner)
{
	const char **addresses = calloc(job->n ? job->n : 1, sizeof(*addresses));
	char what[320];
	int r;

	if (!addresses) {
		snprintf(job->err, sizeof(job->err), "claim %s/%s: %s", job->ns, job->name,
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < job->n; i++)
		addresses[i] = job->devs[i].address;
	r = dra_bind_set(ctx, addresses, job->n, owner, 0);
	free(addresses);
	if (r >= 0)
		return 0;
	/* With several devices, the library's message names the one it refused. */
	if (job->n > 1)
		snprintf(what, sizeof(what), "its devices");
	else
		snprintf(what, sizeof(what), "device %s (%s)", job->devs[0].device,
			 job->devs[0].address);
	snprintf(job->err, sizeof(job->err), "claim %s/%s: %s cannot be given to vfio-pci: %s%s",
		 job->ns, job->name, what, hostdev_ctx_get_error(ctx),
		 r == -EPERM ? ". Allocate another device" : "");
	return r;
}

/* The CDI spec and the metadata files of the claim's bound devices. */
static int write_files(struct dra_job *job, hostdev_ctx *ctx)
{
	const struct dra_driver *d = job->d;
	const struct dra_claim_device *devs = job->devs;
	hostdev_dra_cdi_spec *spec = NULL;
	size_t n = job->n;
	char file[512];
	int r;

	if ((r = hostdev_dra_cdi_spec_new(ctx, d->kind, &spec)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		hostdev_pci_device *pd = NULL;
		char cname[256], group[16];

		if ((r = hostdev_pci_device_new(ctx, devs[i].address, &pd)) < 0)
			goto out;
		snprintf(group, sizeof(group), "%d", hostdev_pci_device_get_iommu_group(pd));
		hostdev_pci_device_unref(pd);
		cdi_name_of(job->uid, devs[i].device, cname, sizeof(cname));
		if ((r = hostdev_dra_cdi_spec_add_vfio_device(spec, cname, group, -1)) < 0)
			goto out;
	}
	cdi_file_of(d->o.driver, job->uid, file, sizeof(file));
	if ((r = hostdev_dra_cdi_spec_write(spec, d->o.cdi_dir, file)) < 0)
		goto out;
	/* One metadata file per request, with that request's devices. */
	for (size_t i = 0; i < n; i++) {
		hostdev_dra_metadata *md = NULL;
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen = seen || strcmp(devs[k].request, devs[i].request) == 0;
		if (seen)
			continue;
		r = hostdev_dra_metadata_new(ctx, d->o.driver, job->ns, job->name, job->uid,
					     devs[i].request, &md);
		if (r >= 0)
			r = hostdev_dra_metadata_set_pod_claim_name(md, job->pod_claim_name);
		for (size_t k = i; k < n && r >= 0; k++)
			if (strcmp(devs[k].request, devs[i].request) == 0)
				r = hostdev_dra_metadata_add_device(
				    md, devs[k].pool, devs[k].device, devs[k].address, NULL);
		if (r >= 0)
			r = hostdev_dra_metadata_write(md, d->data_dir, d->o.cdi_dir);
		hostdev_dra_metadata_free(md);
		if (r < 0)
			goto out;
	}
out:
	if (r < 0)
		snprintf(job->err, sizeof(job->err),
			 "claim %s/%s: writing its CDI files failed: %s", job->ns, job->name,
			 hostdev_ctx_get_error(ctx));
	hostdev_dra_cdi_spec_free(spec);
	return r;
}

static void run_prepare(struct dra_job *job, hostdev_ctx *ctx)
{
	char owner[HOSTDEV_VFIO_OWNER_MAX + 1], undo_err[512];

	owner_of(job->uid, owner, sizeof(owner));
	/* Refused before anything is bound: nothing to undo. */
	if ((job->r = check_groups(job, ctx)) < 0)
		return;
	job->r = bind_devices(job, ctx, owner);
	if (job->r >= 0 && job->d->test_stop_bound) {
		log_info("DRA: claim %s: devices bound; stopping (%s=%s)", job->uid,
			 DRA_TEST_STOP_ENV, DRA_TEST_STOP_BOUND);
		/* Sent to this thread, not to the process: the kernel stops this thread on its
		 * way back from the call, before any more of the job runs. A process-directed
		 * SIGSTOP is taken by the loop's thread, which then shows "stopped" while this
		 * thread may go on writing the CDI files until the group stop reaches it. */
		pthread_kill(pthread_self(), SIGSTOP);
	}
	if (job->r >= 0)
		job->r = write_files(job, ctx);
	if (job->r >= 0)
		return;
	/* Nothing half-done stays: what was bound goes back, what was written goes. */
	if ((job->undo_r = undo(job, ctx, undo_err, sizeof(undo_err))) < 0)
		log_error("DRA: %s (undone at the next start)", undo_err);
}

static void run_job(void *userdata)
{
	struct dra_job *job = userdata;
	hostdev_ctx *ctx = job->d->work_ctx; /* the worker's alone while the job runs */

	if (job->kind == DRA_JOB_PREPARE)
		run_prepare(job, ctx);
	else
		job->r = undo(job, ctx, job->err, sizeof(job->err));
}

/* ---- back on the loop's thread --------------------------------------------------------------- */

/* Answer @req with the checkpoint entry of a prepared claim. */
static int answer_prepared(struct dra_driver *d, hostdev_dra_request *req, const char *uid,
			   const cJSON *entry)
{
	const cJSON *dev;
	int r;

	cJSON_ArrayForEach(dev, cJSON_GetObjectItemCaseSensitive(entry, "devices"))
	{
		hostdev_dra_metadata *md = NULL;
		char name[256], id[512], *md_id = NULL;
		int i =
		    hostdev_dra_request_add_device(req, str_at(dev, "pool"), str_at(dev, "device"));

		if (i < 0)
			return i;
		cdi_name_of(uid, str_at(dev, "device"), name, sizeof(name));
		snprintf(id, sizeof(id), "%s=%s", d->kind, name);
		if ((r = hostdev_dra_request_add_request_name(req, i, str_at(dev, "request"))) <
			0 ||
		    (r = hostdev_dra_request_add_cdi_id(req, i, id)) < 0)
			return r;
		r = hostdev_dra_metadata_new(d->o.ctx, d->o.driver, str_at(entry, "namespace"),
					     str_at(entry, "name"), uid, str_at(dev, "request"),
					     &md);
		if (r == 0 && (r = hostdev_dra_metadata_get_cdi_id(md, &md_id)) == 0)
			r = hostdev_dra_request_add_cdi_id(req, i, md_id);
		hostdev_free(md_id);
		hostdev_dra_metadata_free(md);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Complete @req with @msg as its error (NULL: as it is). Not while the plugin's callbacks run. */
static void complete(hostdev_dra_request *req, const char *msg)
{
	if (msg) {
		log_warning("DRA: %s of claim %s/%s: %s",
			    hostdev_dra_request_is_prepare(req) ? "prepare" : "unprepare",
			    hostdev_dra_request_get_namespace(req),
			    hostdev_dra_request_get_name(req), msg);
		hostdev_dra_request_set_error(req, msg);
	}
	hostdev_dra_request_complete(req);
}

static void prepare_done(struct dra_driver *d, struct dra_job *job)
{
	char err[1024] = "";
	const cJSON *entry;

	if (job->r < 0) {
		/* Undone on the worker: forget the claim. An undo that failed leaves the entry
		 * "preparing", which the next start undoes. */
		if (job->undo_r == 0 &&
		    dra_checkpoint_remove(d->cp, job->uid, err, sizeof(err)) < 0)
			log_error("DRA: %s", err);
		for (size_t i = 0; i < job->n_reqs; i++)
			complete(job->reqs[i], job->err);
		return;
	}
	if (dra_checkpoint_set_state(d->cp, job->uid, DRA_CLAIM_PREPARED, err, sizeof(err)) < 0) {
		/* Bound and written but not recorded: the next start (or Unprepare) undoes it by
		 * the "preparing" entry; the kubelet retries. */
		for (size_t i = 0; i < job->n_reqs; i++)
			complete(job->reqs[i], err);
		return;
	}
	log_info("DRA: claim %s/%s (%s) prepared: %zu device%s on vfio-pci", job->ns, job->name,
		 job->uid, job->n, job->n == 1 ? "" : "s");
	entry = dra_checkpoint_get(d->cp, job->uid);
	for (size_t i = 0; i < job->n_reqs; i++) {
		if (answer_prepared(d, job->reqs[i], job->uid, entry) < 0)
			hostdev_dra_request_set_error(job->reqs[i], "out of memory");
		complete(job->reqs[i], NULL);
	}
}

static void unprepare_done(struct dra_driver *d, struct dra_job *job)
{
	char err[1024] = "";

	if (job->r == 0 && dra_checkpoint_remove(d->cp, job->uid, err, sizeof(err)) < 0) {
		job->r = -EIO;
		snprintf(job->err, sizeof(job->err), "%s", err);
	}
	if (job->r < 0) {
		log_error("DRA: %s%s", job->err,
			  job->converging ? " (the next start tries again)" : "");
	} else if (job->converging) {
		log_info("DRA: claim %s was left unfinished; undone (the kubelet retries its "
			 "Prepare)",
			 job->uid);
	} else {
		log_info("DRA: claim %s/%s (%s): its devices given back, its files removed",
			 job->ns, job->name, job->uid);
	}
	for (size_t i = 0; i < job->n_reqs; i++)
		complete(job->reqs[i], job->r < 0 ? job->err : NULL);
}

static void job_done(void *userdata, bool cancelled)
{
	struct dra_job *job = userdata;
	struct dra_driver *d = job->d;

	for (struct dra_job **pp = &d->jobs; *pp; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			break;
		}
	if (cancelled) {
		/* The agent stops: the checkpoint still says "preparing" or "unpreparing", which
		 * the next start undoes; the kubelet retries. */
		for (size_t i = 0; i < job->n_reqs; i++)
			complete(job->reqs[i], "the driver stopped; the kubelet retries");
	} else if (job->kind == DRA_JOB_PREPARE) {
		prepare_done(d, job);
	} else {
		unprepare_done(d, job);
	}
	job_free(job);
}

/* Queue @job (taken) on the worker. Returns 0 or a negative errno (the job is freed). */
static int job_submit(struct dra_driver *d, struct dra_job *job)
{
	int r = worker_submit(d->worker, run_job, job_done, job);

	if (r < 0) {
		job_free(job);
		return r;
	}
	job->next = d->jobs;
	d->jobs = job;
	return 0;
}

/* Start undoing claim @uid on the worker: its entry says "unpreparing" from now on. Returns the
 * job (whose requests the caller may add) or NULL with @err. */
static struct dra_job *start_unprepare(struct dra_driver *d, const char *uid, const cJSON *entry,
				       char *err, size_t errlen)
{
	struct dra_job *job =
	    job_new(d, DRA_JOB_UNPREPARE, uid, str_at(entry, "namespace"), str_at(entry, "name"));

	if (!job || job_take_entry_devices(job, entry) < 0) {
		job_free(job);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dra_checkpoint_set_state(d->cp, uid, DRA_CLAIM_UNPREPARING, err, errlen) < 0) {
		job_free(job);
		return NULL;
	}
	if (job_submit(d, job) < 0) {
		snprintf(err, errlen, "claim %s: the worker thread cannot take the job", uid);
		return NULL;
	}
	return job;
}

static void on_claim(struct kube_client *c, const struct kube_response *resp, void *userdata)
{
	struct pending_prepare *p = userdata;
	struct dra_driver *d = p->d;
	hostdev_dra_request *req = p->req;
	const char *ns = hostdev_dra_request_get_namespace(req);
	const char *name = hostdev_dra_request_get_name(req);
	const char *uid = hostdev_dra_request_get_uid(req);
	bool unprepared = p->unprepared;
	struct dra_claim_device *devs = NULL;
	struct dra_job *job;
	size_t n = 0;
	char err[1024] = "";
	const char *pod_claim_name;
	const cJSON *entry;
	cJSON *claim = NULL;
	int r;

	(void)c;
	for (struct pending_prepare **pp = &d->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
	if (d->stopped) {
		complete(req, "the driver is stopping; the kubelet retries");
		return;
	}
	if (unprepared) {
		complete(req, "the kubelet unprepared the claim while it was being read");
		return;
	}
	/* Another Prepare of the claim may have finished or started meanwhile. */
	entry = dra_checkpoint_get(d->cp, uid);
	if (entry && strcmp(str_at(entry, "state"), DRA_CLAIM_PREPARED) == 0) {
		if (answer_prepared(d, req, uid, entry) < 0)
			hostdev_dra_request_set_error(req, "out of memory");
		complete(req, NULL);
		return;
	}
	if ((job = job_of(d, uid))) {
		if (job->kind == DRA_JOB_PREPARE && job_add_request(job, req) == 0)
			return;
		complete(req, job->kind == DRA_JOB_PREPARE
				  ? "out of memory"
				  : "the claim is being unprepared; the kubelet retries");
		return;
	}
	if (resp->code < 200 || resp->code > 299) {
		snprintf(err, sizeof(err), "reading ResourceClaim %s/%s failed: %s", ns, name,
			 resp->error);
		complete(req, err);
		return;
	}
	if (!(claim = cJSON_Parse(resp->body))) {
		snprintf(err, sizeof(err),
			 "ResourceClaim %s/%s: the API server's answer is not JSON", ns, name);
		complete(req, err);
		return;
	}
	r = dra_claim_devices(claim, uid, d->o.driver, d->o.ids->node, &devs, &n, err, sizeof(err));
	if (r == 0 && n == 0) {
		snprintf(err, sizeof(err),
			 "ResourceClaim %s/%s has no device allocated by driver %s", ns, name,
			 d->o.driver);
		r = -ENOENT;
	}
	if (r < 0) {
		cJSON_Delete(claim);
		dra_claim_devices_free(devs, n);
		complete(req, err);
		return;
	}
	pod_claim_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(claim, "metadata"),
					     "annotations"),
	    DRA_POD_CLAIM_NAME_ANNOTATION));
	job = job_new(d, DRA_JOB_PREPARE, uid, ns, name);
	if (!job || (pod_claim_name && !(job->pod_claim_name = strdup(pod_claim_name))) ||
	    job_add_request(job, req) < 0) {
		cJSON_Delete(claim);
		dra_claim_devices_free(devs, n);
		job_free(job);
		complete(req, "out of memory");
		return;
	}
	cJSON_Delete(claim);
	job->devs = devs;
	job->n = n;
	if (dra_checkpoint_set(d->cp, uid, ns, name, DRA_CLAIM_PREPARING, devs, n, err,
			       sizeof(err)) < 0) {
		job_free(job);
		complete(req, err);
		return;
	}
	if (job_submit(d, job) < 0) {
		if (dra_checkpoint_remove(d->cp, uid, err, sizeof(err)) < 0)
			log_error("DRA: %s", err);
		complete(req, "the worker thread cannot take the bind; the kubelet retries");
	}
}

static int on_prepare(void *userdata, hostdev_dra_request *req)
{
	struct dra_driver *d = userdata;
	const char *uid = hostdev_dra_request_get_uid(req);
	const cJSON *entry = dra_checkpoint_get(d->cp, uid);
	struct dra_job *job = job_of(d, uid);
	struct pending_prepare *p;

	if (job && job->kind == DRA_JOB_PREPARE)
		return job_add_request(job, req) < 0 ? -ENOMEM : HOSTDEV_DRA_DEFERRED;
	if (job) {
		hostdev_dra_request_set_error(req,
					      "the claim is being unprepared; the kubelet retries");
		return -EBUSY;
	}
	if (entry && strcmp(str_at(entry, "state"), DRA_CLAIM_PREPARED) == 0)
		return answer_prepared(d, req, uid, entry);
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->d = d;
	p->req = req;
	if (!(p->get =
		  kube_get(d->o.client, &dra_claim_resource, hostdev_dra_request_get_namespace(req),
			   hostdev_dra_request_get_name(req), on_claim, p))) {
		free(p);
		return -ENOMEM;
	}
	p->next = d->pending;
	d->pending = p;
	return HOSTDEV_DRA_DEFERRED;
}

static int on_unprepare(void *userdata, hostdev_dra_request *req)
{
	struct dra_driver *d = userdata;
	const char *uid = hostdev_dra_request_get_uid(req);
	struct dra_job *job = job_of(d, uid);
	const cJSON *entry;
	char err[1024] = "";

	/* A Prepare still reading the claim must not bind what the kubelet gave up. */
	for (struct pending_prepare *p = d->pending; p; p = p->next)
		if (strcmp(hostdev_dra_request_get_uid(p->req), uid) == 0)
			p->unprepared = true;
	if (job && job->kind == DRA_JOB_UNPREPARE)
		return job_add_request(job, req) < 0 ? -ENOMEM : HOSTDEV_DRA_DEFERRED;
	if (job) {
		hostdev_dra_request_set_error(req,
					      "the claim is being prepared; the kubelet retries");
		return -EBUSY;
	}
	if (!(entry = dra_checkpoint_get(d->cp, uid)))
		return 0; /* not ours (any more): the kubelet's retry succeeds */
	if (!(job = start_unprepare(d, uid, entry, err, sizeof(err))) ||
	    job_add_request(job, req) < 0) {
		log_warning("DRA: unprepare: %s", err[0] ? err : "out of memory");
		if (job) /* the job runs without this request; the kubelet retries */
			snprintf(err, sizeof(err), "out of memory");
		hostdev_dra_request_set_error(req, err);
		return -EIO;
	}
	return HOSTDEV_DRA_DEFERRED;
}

static void on_registration(void *userdata, int registered, const char *error)
{
	struct dra_driver *d = userdata;

	if (registered)
		log_info("DRA: the kubelet registered driver %s", d->o.driver);
	else
		log_warning("DRA: the kubelet refused driver %s: %s", d->o.driver, error);
	if (registered && d->o.registered)
		d->o.registered(d->o.userdata);
}

static void on_readable(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct dra_driver *d = userdata;

	(void)src, (void)fd, (void)events;
	hostdev_loop_dispatch(d->hl, 0);
}

const struct kube_resource dra_claim_resource = {"resource.k8s.io", "v1", "resourceclaims",
						 "ResourceClaim", true};

struct converge {
	char **uids;
	size_t n;
};

static void collect_unfinished(const char *uid, const cJSON *entry, void *userdata)
{
	struct converge *cv = userdata;
	char **grown;

	if (strcmp(str_at(entry, "state"), DRA_CLAIM_PREPARED) == 0)
		return;
	if (!(grown = realloc(cv->uids, (cv->n + 1) * sizeof(*grown))))
		return;
	cv->uids = grown;
	if ((cv->uids[cv->n] = strdup(uid)))
		cv->n++;
}

/* Undo (on the worker, before any Prepare) every claim a killed agent left half-prepared or
 * half-unprepared. */
static void converge(struct dra_driver *d)
{
	struct converge cv = {0};

	dra_checkpoint_foreach(d->cp, collect_unfinished, &cv);
	for (size_t i = 0; i < cv.n; i++) {
		char err[1024] = "";
		struct dra_job *job = start_unprepare(
		    d, cv.uids[i], dra_checkpoint_get(d->cp, cv.uids[i]), err, sizeof(err));

		if (job)
			job->converging = true;
		else
			log_error("DRA: converging claim %s: %s", cv.uids[i], err);
		free(cv.uids[i]);
	}
	free(cv.uids);
}

int dra_driver_new(const struct dra_driver_options *opts, struct dra_driver **out)
{
	struct dra_driver *d = calloc(1, sizeof(*d));
	struct hostdev_dra_plugin_ops ops = {.version = HOSTDEV_DRA_PLUGIN_OPS_VERSION,
					     .prepare = on_prepare,
					     .unprepare = on_unprepare,
					     .registration_status = on_registration};
	const char *sock;
	char path[PATH_MAX + 32], err[1024] = "", *slash;
	int r;

	if (!d)
		return -ENOMEM;
	d->o = *opts;
	d->test_stop_bound = getenv(DRA_TEST_STOP_ENV) &&
			     strcmp(getenv(DRA_TEST_STOP_ENV), DRA_TEST_STOP_BOUND) == 0;
	snprintf(d->kind, sizeof(d->kind), "%s/pci", opts->driver);
	if ((r = hostdev_loop_new(opts->ctx, &d->hl)) < 0) {
		log_error("DRA: %s", hostdev_ctx_get_error(opts->ctx));
		goto fail;
	}
	if ((r = hostdev_dra_plugin_new(d->hl, opts->driver, &ops, d, NULL, &d->plugin)) < 0) {
		log_error("DRA: driver %s: %s", opts->driver, hostdev_ctx_get_error(opts->ctx));
		goto fail;
	}
	sock = hostdev_dra_plugin_get_socket_path(d->plugin);
	snprintf(d->data_dir, sizeof(d->data_dir), "%s", sock);
	if ((slash = strrchr(d->data_dir, '/')))
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/checkpoint.json", d->data_dir);
	if ((r = dra_checkpoint_load(path, &d->cp, err, sizeof(err))) < 0) {
		log_error("DRA: %s", err);
		goto fail;
	}
	if ((r = claims_work_context(opts->ctx, &d->work_ctx)) < 0 ||
	    (r = worker_new(opts->loop, &d->worker)) < 0) {
		log_error("DRA: cannot set up the worker thread: %s", strerror(-r));
		goto fail;
	}
	r = -ENOMEM;
	if (!(d->src =
		  loop_add_fd(opts->loop, hostdev_loop_get_fd(d->hl), EPOLLIN, on_readable, d)))
		goto fail;
	*out = d;
	return 0;
fail:
	dra_driver_free(d);
	return r;
}

int dra_driver_start(struct dra_driver *d)
{
	int r;

	/* The data directory holds the checkpoint: the plugin creates it when it starts, so
	 * start first; no call is answered before the loop runs again. */
	if ((r = hostdev_dra_plugin_start(d->plugin)) < 0) {
		log_error("DRA: serving driver %s: %s", d->o.driver,
			  hostdev_ctx_get_error(d->o.ctx));
		return r;
	}
	/* The runtime's CDI directory may not exist before the first spec (mkdir -p). */
	{
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", d->o.cdi_dir);
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				(void)mkdir(dir, 0755);
				*p = '/';
			}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warning("DRA: creating the CDI directory %s: %s", dir, strerror(errno));
	}
	converge(d);
	log_info("DRA: serving driver %s on %s (%zu claim%s in the checkpoint)", d->o.driver,
		 hostdev_dra_plugin_get_socket_path(d->plugin), dra_checkpoint_count(d->cp),
		 dra_checkpoint_count(d->cp) == 1 ? "" : "s");
	return 0;
}

void dra_driver_stop(struct dra_driver *d)
{
	if (!d)
		return;
	d->stopped = true;
	hostdev_dra_plugin_stop(d->plugin);
	/* Every deferred request is completed exactly once: those still reading their claim
	 * get an error (the kubelet retries them with the next agent). The jobs on the worker
	 * finish (the one running) or are cancelled when the driver is freed. */
	while (d->pending) {
		struct pending_prepare *p = d->pending;

		d->pending = p->next;
		kube_request_cancel(p->get);
		complete(p->req, "the driver stopped; the kubelet retries");
		free(p);
	}
}

void dra_driver_free(struct dra_driver *d)
{
	if (!d)
		return;
	dra_driver_stop(d);
	/* First the worker: it waits for the job running now, whose end needs the rest. */
	worker_free(d->worker);
	hostdev_dra_plugin_unref(d->plugin);
	loop_source_remove(d->src);
	hostdev_loop_unref(d->hl);
	dra_checkpoint_free(d->cp);
	hostdev_ctx_unref(d->work_ctx);
	free(d);
}
