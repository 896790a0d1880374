/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The binds and restores of the claims, run on the worker thread (worker.h) so that a slow
 * driver, a held vfio lock or the verification never stalls the agent's loop: the watches, the
 * writes, the device-plugin server and the reconciler of the published objects go on meanwhile.
 *
 * A job carries copies of everything it needs and works on the claims' own library context
 * (c->work_ctx, the same paths): the loop's context stays the loop's. One job runs at a time
 * (c->job); the pass does not start while it runs, and its end (on the loop's thread again)
 * refreshes the objects, says the verdict and schedules the next pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims_internal.h"

static char **copy_strings(const char *const *list, size_t count)
{
	char **out = calloc(count ? count : 1, sizeof(*out));

	for (size_t i = 0; out && i < count; i++) {
		if (!(out[i] = strdup(list[i]))) {
			for (size_t k = 0; k < i; k++)
				free(out[k]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static void free_strings(char **list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		free(list[i]);
	free(list);
}

struct claim_job *claim_job_new(struct claims *c, enum claim_job_kind kind, const char *name,
				const char *const *addresses, size_t count)
{
	struct claim_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->kind = kind;
	job->c = c;
	job->timeout_ms = c->o.bind_timeout_ms;
	job->count = count;
	if ((name && !(job->name = strdup(name))) ||
	    !(job->addresses = copy_strings(addresses, count))) {
		claim_job_free(job);
		return NULL;
	}
	return job;
}

void claim_job_free(struct claim_job *job)
{
	if (!job)
		return;
	free(job->name);
	free_strings(job->addresses, job->count);
	free_strings(job->touched, job->touched_count);
	free(job);
}

/* ---- on the worker thread: job and c->work_ctx only ------------------------------------------ */

static void run_bind(struct claim_job *job, hostdev_ctx *ctx)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_journal *after = NULL;

	opts.owner = job->owner[0] ? job->owner : NULL;
	opts.lock_timeout_ms = CLAIM_LOCK_TIMEOUT_MS;
	opts.timeout_ms = job->timeout_ms;
	job->r = hostdev_vfio_bind_set(ctx, (const char *const *)job->addresses, job->count, &opts,
				       job->flags);
	if (job->r < 0) {
		snprintf(job->error, sizeof(job->error), "%s", hostdev_ctx_get_error(ctx));
		return;
	}
	if (hostdev_vfio_journal_read(ctx, &after) == 0) {
		long rec = journal_find(after, job->addresses[0]);
		const char *drv =
		    rec >= 0 ? hostdev_vfio_journal_get_driver(after, (size_t)rec) : NULL;

		snprintf(job->original_driver, sizeof(job->original_driver), "%s", drv ? drv : "");
		job->group_bind =
		    rec >= 0 ? hostdev_vfio_journal_is_group_bind(after, (size_t)rec) : false;
		if (job->finishing)
			job->group_bind = job->flags & HOSTDEV_BIND_GROUP;
	}
	hostdev_vfio_journal_unref(after);
}

static void run_restore(struct claim_job *job, hostdev_ctx *ctx)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_result *res = NULL;
	size_t n;

	opts.lock_timeout_ms = CLAIM_LOCK_TIMEOUT_MS;
	opts.timeout_ms = job->timeout_ms;
	job->r = hostdev_vfio_restore_with_result(ctx, (const char *const *)job->addresses,
						  job->count, &opts, 0, &res);
	if (job->r < 0)
		snprintf(job->error, sizeof(job->error), "%s", hostdev_ctx_get_error(ctx));
	n = res ? hostdev_vfio_result_get_count(res) : 0;
	job->touched = calloc(n ? n : 1, sizeof(*job->touched));
	for (size_t i = 0; i < n; i++) {
		const char *a = hostdev_vfio_result_get_address(res, i);
		const char *outcome =
		    hostdev_vfio_outcome_name(hostdev_vfio_result_get_outcome(res, i));

		log_info("%s: %s %s: %s", job->why, a, outcome ? outcome : "unknown",
			 hostdev_vfio_result_get_message(res, i));
		if (job->touched && (job->touched[job->touched_count] = strdup(a)))
			job->touched_count++;
	}
	hostdev_vfio_result_unref(res);
}

static void run_job(void *userdata)
{
	struct claim_job *job = userdata;
	hostdev_ctx *ctx = job->c->work_ctx; /* the worker's alone while the job runs */

	if (job->kind == JOB_BIND)
		run_bind(job, ctx);
	else
		run_restore(job, ctx);
}

/* ---- back on the loop's thread --------------------------------------------------------------- */

static void job_done(void *userdata, bool cancelled)
{
	struct claim_job *job = userdata;
	struct claims *c = job->c;
	struct verdict v;
	bool again;

	if (c->job == job)
		c->job = NULL;
	if (cancelled) {
		claim_job_free(job);
		return;
	}
	metrics_claim_operation(job->kind == JOB_BIND ? "bind" : "restore", job->r >= 0,
				loop_now_s() - job->started);
	if (job->kind == JOB_BIND) {
		bind_finished(c, job, &v);
		if (job->r >= 0)
			c->epoch++;
		/* A refused or failed bind leaves nothing behind (the library rolls back), but
		 * the device's object shows what it is on now either way. */
		refresh_group_objects(c, job->addresses[0]);
		conclude_claim(c, job->name, job->uid, &v, job->epoch, job->generation);
		again = !v.transient;
	} else {
		for (size_t i = 0; i < job->touched_count; i++)
			refresh_pci_object(c, job->touched[i]);
		c->epoch++;
		restore_finished(c, job);
		again = job->r >= 0;
	}
	claim_job_free(job);
	serve_now(c);
	/* The next claims now; after a failure the retry timer's backoff first (a pass at once
	 * would only try the same job again). */
	if (again)
		schedule_pass(c);
	else
		retry_later(c);
}

int claim_job_submit(struct claims *c, struct claim_job *job)
{
	int r;

	job->started = loop_now_s();
	r = worker_submit(c->worker, run_job, job_done, job);

	if (r < 0) {
		claim_job_free(job);
		return r;
	}
	c->job = job;
	return 0;
}

int claims_work_context(hostdev_ctx *ctx, hostdev_ctx **out)
{
	static const enum hostdev_path paths[] = {
	    HOSTDEV_PATH_SYSFS,	  HOSTDEV_PATH_DEV,	HOSTDEV_PATH_PROC,
	    HOSTDEV_PATH_STATE,	  HOSTDEV_PATH_CONFIG,	HOSTDEV_PATH_KUBELET,
	    HOSTDEV_PATH_PCI_IDS, HOSTDEV_PATH_USB_IDS, HOSTDEV_PATH_MODULES};
	hostdev_ctx *w = NULL;
	int r = hostdev_ctx_new(&w);

	for (size_t i = 0; r == 0 && i < sizeof(paths) / sizeof(paths[0]); i++)
		r = hostdev_ctx_set_path(w, paths[i], hostdev_ctx_get_path(ctx, paths[i]));
	if (r == 0)
		r = hostdev_ctx_set_node_name(w, hostdev_ctx_get_node_name(ctx));
	if (r < 0) {
		hostdev_ctx_unref(w);
		return r;
	}
	hostdev_ctx_set_log_fn(w, log_from_library, NULL);
	hostdev_ctx_set_log_priority(w, hostdev_ctx_get_log_priority(ctx));
	*out = w;
	return 0;
}
