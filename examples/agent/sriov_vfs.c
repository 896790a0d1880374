/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SRIOVNetworkDevice spec.numVFs: the user's wanted VF count of a network PF, applied with the
 * library's VF lifecycle (hostdev_sriov_set_num_vfs(): 0 before a different non-zero count, the
 * kernel's errors as sentences, a watchdog on each write). A change that would destroy VFs bound
 * to vfio-pci or recorded in the vfio journal (handed to VMs, claimed) is refused unless the
 * object carries the annotation AGENT_SRIOV_FORCE_ANNOTATION "true" (Harvester's API has no such
 * field). Why a count is not applied is said by a condition "NumVFs" in the status.
 *
 * The agent creates each object with numVFs 0 (Harvester's format), which must not tear down VFs
 * an administrator made before the agent ran: a count is applied only once the user set it, that
 * is when numVFs is not 0 or the spec was edited (metadata.generation > 1).
 *
 * The write blocks (a PF driver may take seconds): it runs on a worker thread of its own with a
 * library context of its own, one at a time. When it ends, the PF's objects and those of every VF
 * that came or went are written at once: the new VFs' PCIDevices and the status's vfAddresses and
 * vfPCIDevices follow the change itself, not the next resync (the hot-plug monitor reports the
 * same VFs again on a real kernel; the second write finds nothing to change).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "worker.h"

#define CONDITION_TYPE "NumVFs"

struct sriov_vfs {
	struct sriov_vfs_options o;
	struct kube_informer *inf;
	cJSON *status_schema;
	struct worker *worker;
	hostdev_ctx *work_ctx;
	struct vf_job *job;
	/* object name -> "<generation>/<count>/<force>" of a refusal that only a change of the
	 * object (or a device event) lifts */
	struct strmap *refused;
	struct strmap *busy; /* object name -> (void *)1 while its status write runs */
	struct loop_source *pass_timer, *retry_timer;
	struct kube_backoff backoff;
	bool synced, stopped;
};

struct vf_job {
	struct sriov_vfs *s;
	char *name;
	char address[32];
	unsigned int num_vfs, flags, timeout_ms;
	char key[96];	/* the refusal key of the object when queued */
	cJSON *old_vfs; /* the names of the PF's VFs' PCIDevices when queued */
	/* results (worker thread) */
	int r;
	char error[1024];
};

static void schedule_pass(struct sriov_vfs *s);

/* ---- the status condition -------------------------------------------------------------------- */

static void on_status_written(struct kube_client *kc, const struct kube_response *resp,
			      void *userdata)
{
	struct sriov_vfs *s = ((void **)userdata)[0];
	char *name = ((void **)userdata)[1];

	if (resp->code >= 200 && resp->code < 300) {
		cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);

		if (obj)
			kube_informer_store(s->inf, obj);
		cJSON_Delete(obj);
	} else if (resp->code != 404) {
		log_warning("SRIOVNetworkDevice %s: %s", name, resp->error);
	}
	strmap_remove(s->busy, name);
	free(name);
	free(userdata);
}

/* Patch status.conditions to say @ok/@reason/@message, when what the server keeps differs. */
static void write_condition(struct sriov_vfs *s, const cJSON *obj, bool ok, const char *reason,
			    const char *message)
{
	const char *name = kube_meta_string(obj, "name");
	const cJSON *observed = cJSON_GetObjectItemCaseSensitive(obj, "status"), *old;
	cJSON *st = cJSON_CreateObject(), *have = cJSON_CreateObject(), *want = NULL, *patch = NULL;
	void **ud = NULL;

	if (!st || !have || strmap_get(s->busy, name))
		goto out;
	if (status_set_condition(st, observed, CONDITION_TYPE, ok, reason, message) < 0)
		goto out;
	/* Compared as the server keeps them: Harvester's CRD has no conditions (pruned). */
	if (!(want = cJSON_Duplicate(st, true)))
		goto out;
	old = cJSON_GetObjectItemCaseSensitive(observed, "conditions");
	if (old)
		cJSON_AddItemToObject(have, "conditions", cJSON_Duplicate(old, true));
	schema_prune(want, s->status_schema);
	schema_prune(have, s->status_schema);
	if (cJSON_Compare(want, have, true))
		goto out;
	log_info("SRIOVNetworkDevice %s: %s: %s", name, reason, message);
	patch = cJSON_CreateObject();
	if (!patch || !cJSON_AddItemToObject(patch, "status", st))
		goto out;
	st = NULL;
	ud = calloc(2, sizeof(*ud));
	if (!ud || !(ud[1] = strdup(name)) || strmap_set(s->busy, name, (void *)1) < 0)
		goto fail;
	ud[0] = s;
	if (kube_merge_patch(s->o.client, &agent_kinds[KIND_SRIOV].res, NULL, name, "status", patch,
			     on_status_written, ud))
		goto out;
	strmap_remove(s->busy, name);
fail:
	if (ud)
		free(ud[1]);
	free(ud);
out:
	cJSON_Delete(patch);
	cJSON_Delete(st);
	cJSON_Delete(want);
	cJSON_Delete(have);
}

/* ---- the objects follow the change at once ---------------------------------------------------- */

static void put_object(struct sriov_vfs *s, enum agent_kind kind, cJSON *obj)
{
	const char *name = obj ? kube_meta_string(obj, "name") : NULL;
	char *copy = name ? strdup(name) : NULL;

	if (copy)
		reconciler_put(s->o.reconciler, kind, copy, obj);
	else
		cJSON_Delete(obj);
	free(copy);
}

/* The names of the PCIDevices of @pf's VFs now (an array), or NULL: no memory. */
static cJSON *vf_names(struct sriov_vfs *s, const hostdev_sriov_pf *pf)
{
	cJSON *names = cJSON_CreateArray();

	for (size_t i = 0; names && i < hostdev_sriov_pf_get_vf_count(pf); i++) {
		char name[HOSTDEV_NAME_MAX];

		if (hostdev_naming_pci_object_name(s->o.ids->node,
						   hostdev_sriov_pf_get_vf_address(pf, i), name,
						   sizeof(name)) > 0)
			cJSON_AddItemToArray(names, cJSON_CreateString(name));
	}
	return names;
}

/* The PF's SRIOVNetworkDevice and PCIDevice, every VF's PCIDevice; PCIDevices of VFs that are
 * gone (of @old_names, the VFs before the change) removed. */
static void refresh_objects(struct sriov_vfs *s, const char *address, const cJSON *old_vfs)
{
	cJSON *old_names = cJSON_Duplicate(old_vfs, true);
	hostdev_pci_device *pf = NULL;
	const cJSON *n;

	if (!s->o.reconciler || hostdev_pci_device_new(s->o.ctx, address, &pf) < 0) {
		cJSON_Delete(old_names);
		return;
	}
	put_object(s, KIND_SRIOV, inventory_sriov_object(s->o.ids, pf));
	put_object(s, KIND_PCI, inventory_pci_object(s->o.ids, pf));
	for (size_t i = 0; i < hostdev_pci_device_get_vf_count(pf); i++) {
		hostdev_pci_device *vf = NULL;

		if (hostdev_pci_device_new(s->o.ctx, hostdev_pci_device_get_vf_address(pf, i),
					   &vf) == 0) {
			cJSON *obj = inventory_pci_object(s->o.ids, vf);
			const char *vf_name = obj ? kube_meta_string(obj, "name") : NULL;

			/* Still there: not to be removed below. */
			for (int j = cJSON_GetArraySize(old_names) - 1; vf_name && j >= 0; j--) {
				const cJSON *e = cJSON_GetArrayItem(old_names, j);

				if (cJSON_IsString(e) && strcmp(e->valuestring, vf_name) == 0)
					cJSON_DeleteItemFromArray(old_names, j);
			}
			put_object(s, KIND_PCI, obj);
			hostdev_pci_device_unref(vf);
		}
	}
	cJSON_ArrayForEach(n, old_names)
	{
		if (cJSON_IsString(n))
			reconciler_put(s->o.reconciler, KIND_PCI, n->valuestring, NULL);
	}
	hostdev_pci_device_unref(pf);
	cJSON_Delete(old_names);
}

/* ---- the work ------------------------------------------------------------------------------- */

static void job_work(void *userdata)
{
	struct vf_job *job = userdata;
	struct hostdev_sriov_options opts;
	hostdev_ctx *ctx = job->s->work_ctx;

	hostdev_sriov_options_init(&opts, HOSTDEV_SRIOV_OPTIONS_VERSION);
	opts.timeout_ms = job->timeout_ms;
	job->r = hostdev_sriov_set_num_vfs(ctx, job->address, job->num_vfs, &opts, job->flags);
	snprintf(job->error, sizeof(job->error), "%s",
		 job->r < 0 ? hostdev_ctx_get_error(ctx) : "");
}

static void job_done(void *userdata, bool cancelled)
{
	struct vf_job *job = userdata;
	struct sriov_vfs *s = job->s;
	const cJSON *obj;
	char message[1400];

	if (cancelled)
		goto out;
	s->job = NULL;
	obj = kube_informer_kept(s->inf, job->name);
	refresh_objects(s, job->address, job->old_vfs);
	if (job->r >= 0) {
		log_info("SRIOVNetworkDevice %s: %s has %d VF%s", job->name, job->address, job->r,
			 job->r == 1 ? "" : "s");
		if (s->refused)
			strmap_remove(s->refused, job->name);
		kube_backoff_reset(&s->backoff);
		if (obj) {
			snprintf(message, sizeof(message), "%s has %d VF%s, as spec.numVFs asks",
				 job->address, job->r, job->r == 1 ? "" : "s");
			write_condition(s, obj, (unsigned int)job->r == job->num_vfs,
					(unsigned int)job->r == job->num_vfs ? "Applied"
									     : "PartiallyApplied",
					message);
		}
	} else {
		const char *reason = job->r == -EBUSY	 ? "VFsInUse"
				     : job->r == -ERANGE ? "TooManyVFs"
				     : job->r == -ENOENT ? "NoPFDriver"
							 : "Failed";
		bool permanent = job->r == -EBUSY || job->r == -ERANGE || job->r == -ENOENT ||
				 job->r == -EINVAL || job->r == -EOPNOTSUPP || job->r == -ENODEV;
		char *key = strdup(job->key);

		snprintf(message, sizeof(message), "numVFs %u not applied: %s%s", job->num_vfs,
			 job->error,
			 job->r == -EBUSY ? "; delete the claims of the VFs first, or annotate the "
					    "object " AGENT_SRIOV_FORCE_ANNOTATION "=true to "
					    "destroy them anyway"
					  : "");
		if (obj)
			write_condition(s, obj, false, reason, message);
		else
			log_warning("SRIOVNetworkDevice %s: %s", job->name, message);
		/* A refusal holds until the object or the devices change; others are retried. */
		if (permanent && key && s->refused && strmap_set(s->refused, job->name, key) == 0)
			key = NULL;
		else if (!permanent && !loop_timer_armed(s->retry_timer))
			loop_timer_arm(s->retry_timer, kube_backoff_next(&s->backoff));
		free(key);
	}
	schedule_pass(s);
out:
	cJSON_Delete(job->old_vfs);
	free(job->name);
	free(job);
}

/* ---- the pass ------------------------------------------------------------------------------- */

static void judge_one(const char *name, const cJSON *obj, void *userdata)
{
	struct sriov_vfs *s = userdata;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *num = cJSON_GetObjectItemCaseSensitive(spec, "numVFs");
	const cJSON *addr = cJSON_GetObjectItemCaseSensitive(spec, "address");
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(spec, "nodeName");
	const cJSON *gen = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "generation");
	const cJSON *anns = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "annotations");
	const cJSON *force = cJSON_GetObjectItemCaseSensitive(anns, AGENT_SRIOV_FORCE_ANNOTATION);
	bool forced = cJSON_IsString(force) && strcmp(force->valuestring, "true") == 0;
	double generation = cJSON_IsNumber(gen) ? gen->valuedouble : 0;
	hostdev_sriov_pf *pf = NULL;
	struct vf_job *job;
	const char *refused;
	char key[96];

	if (s->job || !cJSON_IsNumber(num) || !cJSON_IsString(addr) || !cJSON_IsString(node) ||
	    strcmp(node->valuestring, s->o.ids->node) != 0 || num->valuedouble < 0 ||
	    kube_meta_string(obj, "deletionTimestamp"))
		return;
	/* The agent's numVFs 0 at creation is not a request to destroy VFs made before it. */
	if (num->valueint == 0 && generation <= 1)
		return;
	if (hostdev_sriov_pf_new(s->o.ctx, addr->valuestring, &pf) < 0)
		return; /* gone or not a PF: its object goes with the inventory */
	if (hostdev_sriov_pf_get_num_vfs(pf) == (unsigned int)num->valueint) {
		hostdev_sriov_pf_unref(pf);
		if (s->refused)
			strmap_remove(s->refused, name);
		return;
	}
	snprintf(key, sizeof(key), "%.0f/%d/%d", generation, num->valueint, forced);
	refused = s->refused ? strmap_get(s->refused, name) : NULL;
	if ((refused && strcmp(refused, key) == 0) || !(job = calloc(1, sizeof(*job)))) {
		hostdev_sriov_pf_unref(pf);
		return;
	}
	/* The VFs of before the change, whose PCIDevices go if the change removes them. */
	job->old_vfs = vf_names(s, pf);
	hostdev_sriov_pf_unref(pf);
	if (!job->old_vfs || !(job->name = strdup(name))) {
		cJSON_Delete(job->old_vfs);
		free(job);
		return;
	}
	job->s = s;
	snprintf(job->address, sizeof(job->address), "%s", addr->valuestring);
	snprintf(job->key, sizeof(job->key), "%s", key);
	job->num_vfs = (unsigned int)num->valueint;
	job->flags = forced ? HOSTDEV_SRIOV_FORCE : 0;
	job->timeout_ms = s->o.timeout_ms;
	log_info("SRIOVNetworkDevice %s: setting %s to %u VF%s%s", name, job->address, job->num_vfs,
		 job->num_vfs == 1 ? "" : "s", forced ? " (forced)" : "");
	if (worker_submit(s->worker, job_work, job_done, job) < 0) {
		cJSON_Delete(job->old_vfs);
		free(job->name);
		free(job);
		return;
	}
	s->job = job;
}

static void on_pass_timer(struct loop_source *src, void *userdata)
{
	struct sriov_vfs *s = userdata;

	if (s->synced && !s->stopped && !s->job)
		kube_informer_foreach(s->inf, judge_one, s);
}

static void schedule_pass(struct sriov_vfs *s)
{
	if (!s->stopped && !loop_timer_armed(s->pass_timer))
		loop_timer_arm(s->pass_timer, 0);
}

static void on_retry_timer(struct loop_source *src, void *userdata)
{
	schedule_pass(userdata);
}

static void on_synced(struct kube_informer *inf, void *userdata)
{
	struct sriov_vfs *s = userdata;

	s->synced = true;
	schedule_pass(s);
}

static void on_event(struct kube_informer *inf, enum kube_event_type type, const char *name,
		     const cJSON *obj, void *userdata)
{
	schedule_pass(userdata);
}

static void on_error(struct kube_informer *inf, const struct kube_response *resp, void *userdata)
{
	log_warning("list/watch of sriovnetworkdevices (numVFs): %s; retrying with backoff",
		    resp->error);
}

/* ---- what the cache keeps ---------------------------------------------------------------------- */

static void copy_field(cJSON *to, const cJSON *from, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, field);

	if (v)
		cJSON_AddItemToObject(to, field, cJSON_Duplicate(v, true));
}

/*
 * Of an SRIOVNetworkDevice, what the VF counts read: its name, generation, deletion, the force
 * annotation, spec.numVFs/address/nodeName and status.conditions. Not the rest: the VF lists of
 * the status (hundreds of entries on a large PF) made the cache of a 10,000-function node over a
 * megabyte.
 */
static void *keep_counts(const cJSON *obj, void *userdata)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *anns = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	cJSON *kept = cJSON_CreateObject(), *m, *sp, *st;

	if (!kept || !(m = cJSON_AddObjectToObject(kept, "metadata")) ||
	    !(sp = cJSON_AddObjectToObject(kept, "spec")) ||
	    !(st = cJSON_AddObjectToObject(kept, "status"))) {
		cJSON_Delete(kept);
		return NULL;
	}
	copy_field(m, meta, "name");
	copy_field(m, meta, "generation");
	copy_field(m, meta, "deletionTimestamp");
	if (cJSON_GetObjectItemCaseSensitive(anns, AGENT_SRIOV_FORCE_ANNOTATION))
		copy_field(cJSON_AddObjectToObject(m, "annotations"), anns,
			   AGENT_SRIOV_FORCE_ANNOTATION);
	copy_field(sp, spec, "numVFs");
	copy_field(sp, spec, "address");
	copy_field(sp, spec, "nodeName");
	copy_field(st, cJSON_GetObjectItemCaseSensitive(obj, "status"), "conditions");
	return kept;
}

static void drop_counts(void *kept)
{
	cJSON_Delete(kept);
}

/* ---- public -------------------------------------------------------------------------------- */

int sriov_vfs_new(const struct sriov_vfs_options *opts, struct sriov_vfs **out)
{
	static const struct kube_informer_callbacks cb = {on_synced, on_event, on_error};
	static const struct kube_keep keep = {keep_counts, drop_counts, NULL};
	struct kube_informer_options io = {.watch_timeout_s = opts->watch_timeout_s, .keep = &keep};
	struct sriov_vfs *s = calloc(1, sizeof(*s));
	const cJSON *schema;
	char selector[300];

	if (!s)
		return -ENOMEM;
	s->o = *opts;
	kube_backoff_init(&s->backoff, 1000, 60000);
	schema = schema_property(schema_of_crd(opts->crd, AGENT_VERSION_NAME), "status");
	if (schema && !(s->status_schema = cJSON_Duplicate(schema, true)))
		goto fail;
	snprintf(selector, sizeof(selector), AGENT_NODE_LABEL "=%s", opts->ids->node);
	io.label_selector = selector;
	if (!(s->refused = strmap_new(free)) || !(s->busy = strmap_new(NULL)) ||
	    !(s->pass_timer = loop_add_timer(opts->loop, on_pass_timer, s)) ||
	    !(s->retry_timer = loop_add_timer(opts->loop, on_retry_timer, s)) ||
	    claims_work_context(opts->ctx, &s->work_ctx) < 0 ||
	    worker_new(opts->loop, &s->worker) < 0 ||
	    kube_informer_new(opts->client, &agent_kinds[KIND_SRIOV].res, NULL, &io, &cb, s,
			      &s->inf) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sriov_vfs_free(s);
	return -ENOMEM;
}

int sriov_vfs_start(struct sriov_vfs *s)
{
	return kube_informer_start(s->inf);
}

void sriov_vfs_devices_changed(struct sriov_vfs *s)
{
	if (!s || s->stopped)
		return;
	/* A refusal was judged against the devices as they were (a VF's claim may be gone). */
	strmap_free(s->refused);
	s->refused = strmap_new(free);
	schedule_pass(s);
}

void sriov_vfs_stop(struct sriov_vfs *s)
{
	if (s) {
		s->stopped = true;
		loop_timer_disarm(s->pass_timer);
		loop_timer_disarm(s->retry_timer);
	}
}

void sriov_vfs_free(struct sriov_vfs *s)
{
	if (!s)
		return;
	worker_free(s->worker); /* waits for the write running now */
	hostdev_ctx_unref(s->work_ctx);
	kube_informer_free(s->inf);
	loop_source_remove(s->pass_timer);
	loop_source_remove(s->retry_timer);
	strmap_free(s->refused);
	strmap_free(s->busy);
	cJSON_Delete(s->status_schema);
	free(s);
}
