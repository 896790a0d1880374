/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCIDeviceClaims: the agent of spec.nodeName hands the claimed PCI function to vfio-pci through
 * libhostdev's journalled bind, and gives it back through the journal when the claim is deleted.
 *
 * The journal is the truth about what is bound, the claims are the truth about what should be:
 * every pass reads the journal and compares. A record this agent made carries the owner text
 * "hostdev-agent/pcideviceclaim:<uid>[,<uid>...]" (the uids of the claims it was bound for; a
 * group bind names every claim of the group). Hence, on every pass and in particular at start:
 *  - a claim whose device has its record is kept as it is (no second bind);
 *  - a record none of whose claims exists any more is restored (the claim was deleted while the
 *    agent was down, or its finalizer was removed by hand);
 *  - a claim without a binding is bound.
 * A finalizer on each claim makes its deletion wait for the restore. Records that other tools
 * made (`hostdev bind`, other owners) are never touched.
 *
 * Why a claim is not enabled is said by one condition, type "Bound", whose message is the
 * library's sentence plus the next step. Permanent refusals are evaluated again when the claim
 * changes or at the resync; transient failures are retried with backoff.
 *
 * The library's bind and restore are synchronous (a bind waits at most the verification timeout,
 * the vfio lock at most CLAIM_LOCK_TIMEOUT_MS): they run on a worker thread, one at a time, and
 * no pass starts while one runs (claims_work.c).
 *
 * This file watches the claims and runs the passes; claims_internal.h lists the files of the
 * other concerns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "claims_internal.h"

const struct kube_resource agent_claim_resource = {AGENT_GROUP, AGENT_VERSION_NAME,
						   "pcideviceclaims", "PCIDeviceClaim", false};

static void collect_name(const char *name, const cJSON *obj, void *userdata)
{
	struct strmap *names = userdata;

	strmap_set(names, name, (void *)1);
}

static void judge_one(const char *name, void *value, void *userdata)
{
	struct pass *p = userdata;
	struct claims *c = p->c;
	const cJSON *claim = kube_informer_get(c->inf, name);
	struct refusal *refusal;
	struct verdict v;

	/* One job at a time: a claim after the one that queued it waits for the next pass. */
	if (c->job || !claim || !on_this_node(c, claim) || strmap_get(c->busy, name) || !p->journal)
		return;
	if (is_deleting(claim)) {
		if (has_finalizer(claim))
			release_claim(p, claim);
		return;
	}
	if (!has_finalizer(claim)) {
		/* First the finalizer, so that a deletion always waits for the restore. */
		write_finalizer(c, name, true);
		return;
	}
	refusal = strmap_get(c->refused, name);
	if (refusal && refusal->epoch == c->epoch && refusal->generation == generation_of(claim)) {
		write_status(c, claim, &refusal->v);
		return;
	}
	judge_claim(p, claim, &v);
	if (v.pending)
		return; /* the job's end concludes */
	if (v.transient)
		p->transient = true;
	conclude_claim(c, name, NULL, &v, c->epoch, generation_of(claim));
}

void conclude_claim(struct claims *c, const char *name, const char *uid, const struct verdict *v,
		    unsigned long epoch, double generation)
{
	const cJSON *claim = kube_informer_get(c->inf, name);
	struct refusal *refusal;

	/* Deleted and made again while its bind ran: the verdict was about the old one. */
	if (claim && uid &&
	    strcmp(uid, kube_meta_string(claim, "uid") ? kube_meta_string(claim, "uid") : "") != 0)
		claim = NULL;

	/* A refusal holds until the claim or the epoch moves; one judged before a change that
	 * came in meanwhile (while its bind ran) is not kept: the next pass judges again. */
	if (!v->enabled && !v->transient && epoch == c->epoch && claim &&
	    generation == generation_of(claim) && (refusal = calloc(1, sizeof(*refusal)))) {
		refusal->generation = generation;
		refusal->epoch = epoch;
		refusal->v = *v;
		if (strmap_set(c->refused, name, refusal) < 0)
			free(refusal);
	} else {
		strmap_remove(c->refused, name);
	}
	if (claim && !c->stopped)
		write_status(c, claim, v);
	if (claim && v->reason) {
		char *reason = strdup(v->reason);

		if (reason && strmap_set(c->reasons, name, reason) < 0)
			free(reason);
		metrics_claims(c->reasons);
	}
}

static void run_pass(struct claims *c)
{
	struct pass p = {c, NULL, false, NULL, NULL};
	struct strmap *names = strmap_new(NULL);

	/* A bind or restore runs: its end schedules the next pass. */
	if (c->job || !names) {
		strmap_free(names);
		return;
	}
	reread_journal(&p);
	if (p.journal) {
		restore_orphans(&p);
		reread_journal(&p);
	}
	/* Names first: binding refreshes objects and writes go out, the cache must not change
	 * under the iteration. */
	kube_informer_foreach(c->inf, collect_name, names);
	strmap_foreach(names, judge_one, &p);
	strmap_free(names);
	/* A job queued in this pass may change what is served: its end serves (claims_work.c).
	 * Until then the kubelet keeps what it was told, and after a reboot hears of a device
	 * only once it is back on vfio-pci. */
	if (!c->job)
		serve_claims(&p);
	hostdev_vfio_journal_unref(p.journal);
	if (p.transient)
		retry_later(c);
	else if (strmap_count(c->busy) == 0 && !c->job)
		kube_backoff_reset(&c->backoff);
}

void serve_now(struct claims *c)
{
	struct pass p = {c, NULL, false, NULL, NULL};

	if (c->stopped)
		return;
	reread_journal(&p);
	serve_claims(&p);
	hostdev_vfio_journal_unref(p.journal);
}

void retry_later(struct claims *c)
{
	if (!loop_timer_armed(c->retry_timer))
		loop_timer_arm(c->retry_timer, kube_backoff_next(&c->backoff));
}

static void on_pass_timer(struct loop_source *src, void *userdata)
{
	struct claims *c = userdata;

	if (c->synced && !c->stopped)
		run_pass(c);
}

void schedule_pass(struct claims *c)
{
	if (!loop_timer_armed(c->pass_timer))
		loop_timer_arm(c->pass_timer, 0);
}

static void on_retry_timer(struct loop_source *src, void *userdata)
{
	schedule_pass(userdata);
}

static void on_synced(struct kube_informer *inf, void *userdata)
{
	struct claims *c = userdata;

	if (!c->synced)
		log_info("listed %zu PCIDeviceClaims: reconciling this node's claims with the vfio "
			 "journal",
			 kube_informer_count(inf));
	c->synced = true;
	schedule_pass(c);
}

static void on_event(struct kube_informer *inf, enum kube_event_type type, const char *name,
		     const cJSON *obj, void *userdata)
{
	struct claims *c = userdata;
	double generation = generation_of(obj);
	double *seen = strmap_get(c->generations, name);

	/* Claims added or deleted, specs changed, deletions begun: refusals may no longer hold.
	 * Status writes and finalizer updates leave the generation alone. */
	if (type != KUBE_MODIFIED || !seen || *seen != generation || is_deleting(obj))
		c->epoch++;
	if (type == KUBE_DELETED) {
		strmap_remove(c->generations, name);
		strmap_remove(c->refused, name);
		if (strmap_get(c->reasons, name)) {
			strmap_remove(c->reasons, name);
			metrics_claims(c->reasons);
		}
	} else if ((seen = malloc(sizeof(*seen)))) {
		*seen = generation;
		if (strmap_set(c->generations, name, seen) < 0)
			free(seen);
	}
	log_debug("watch: PCIDeviceClaim %s %s", name,
		  type == KUBE_ADDED	 ? "added"
		  : type == KUBE_DELETED ? "deleted"
					 : "modified");
	schedule_pass(c);
}

static void on_error(struct kube_informer *inf, const struct kube_response *resp, void *userdata)
{
	log_warning("list/watch of pcideviceclaims: %s%s; retrying with backoff", resp->error,
		    resp->code == 403 ? "; grant the agent's ClusterRole list and watch on "
					"pcideviceclaims (docs/agent.md, \"Permissions\")"
				      : "");
}

/* ---- public -------------------------------------------------------------------------------- */

int claims_new(const struct claims_options *opts, struct claims **out)
{
	static const struct kube_informer_callbacks cb = {on_synced, on_event, on_error};
	struct kube_informer_options io = {.watch_timeout_s = opts->watch_timeout_s};
	struct claims *c = calloc(1, sizeof(*c));
	const cJSON *schema;

	if (!c)
		return -ENOMEM;
	c->o = *opts;
	kube_backoff_init(&c->backoff, 1000, 30000);
	schema = schema_property(schema_of_crd(opts->crd, AGENT_VERSION_NAME), "status");
	if (schema && !(c->status_schema = cJSON_Duplicate(schema, true)))
		goto fail;
	if (!(c->busy = strmap_new(NULL)) || !(c->refused = strmap_new(free)) ||
	    !(c->generations = strmap_new(free)) || !(c->reasons = strmap_new(free)) ||
	    !(c->pass_timer = loop_add_timer(opts->loop, on_pass_timer, c)) ||
	    !(c->retry_timer = loop_add_timer(opts->loop, on_retry_timer, c)) ||
	    claims_work_context(opts->ctx, &c->work_ctx) < 0 ||
	    worker_new(opts->loop, &c->worker) < 0)
		goto fail;
	/* Claims carry no node label (Harvester's do not) and custom resources have no field
	 * selector on spec: every claim is watched, those of other nodes are ignored. */
	if (kube_informer_new(opts->client, &agent_claim_resource, NULL, &io, &cb, c, &c->inf) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	claims_free(c);
	return -ENOMEM;
}

int claims_start(struct claims *c)
{
	return kube_informer_start(c->inf);
}

void claims_resync(struct claims *c)
{
	if (c) {
		c->epoch++;
		schedule_pass(c);
	}
}

void claims_devices_changed(struct claims *c)
{
	/* Every refusal was judged against the devices as they were: none holds any more. */
	claims_resync(c);
}

void claims_stop(struct claims *c)
{
	if (c) {
		c->stopped = true;
		loop_timer_disarm(c->pass_timer);
		loop_timer_disarm(c->retry_timer);
	}
}

void claims_free(struct claims *c)
{
	if (!c)
		return;
	/* First the worker: it waits for the job running now, whose end needs the rest. */
	worker_free(c->worker);
	hostdev_ctx_unref(c->work_ctx);
	kube_informer_free(c->inf);
	loop_source_remove(c->pass_timer);
	loop_source_remove(c->retry_timer);
	strmap_free(c->busy);
	strmap_free(c->refused);
	strmap_free(c->generations);
	strmap_free(c->reasons);
	cJSON_Delete(c->status_schema);
	free(c);
}
