/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes to the claims: the finalizer (an update with resourceVersion) and the status with
 * its "Bound" condition (a merge patch, only when it differs from what the server keeps).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claims_internal.h"

/* ---- writes: finalizer (update with resourceVersion) and status (merge patch) --------------- */

struct claim_write {
	struct claims *c;
	char *name;
	bool add;   /* finalizer: add or remove */
	bool wrote; /* the answer is a write's (not the read of an update that had nothing to do) */
};

static void write_done(struct claim_write *w)
{
	strmap_remove(w->c->busy, w->name);
	schedule_pass(w->c);
	free(w->name);
	free(w);
}

static void on_claim_written(struct kube_client *kc, const struct kube_response *resp,
			     void *userdata)
{
	struct claim_write *w = userdata;
	struct claims *c = w->c;

	if (resp->code >= 200 && resp->code < 300) {
		cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);

		/* Only a write's answer holds back older watch events. The answer to removing the
		 * last finalizer of a deleted claim is the object as it was: the watch brings the
		 * deletion. */
		if (obj && w->wrote && !(is_deleting(obj) && !has_finalizer(obj)))
			kube_informer_store(c->inf, obj);
		cJSON_Delete(obj);
		kube_backoff_reset(&c->backoff);
	} else if (resp->code != 404) {
		log_warning("PCIDeviceClaim %s: %s%s", w->name, resp->error,
			    resp->code == 403 ? "; grant the agent's ClusterRole this permission "
						"(docs/agent.md, \"Permissions\")"
					      : "");
		if (!loop_timer_armed(c->retry_timer))
			loop_timer_arm(c->retry_timer, kube_backoff_next(&c->backoff));
	}
	write_done(w);
}

static struct claim_write *write_new(struct claims *c, const char *name)
{
	struct claim_write *w = calloc(1, sizeof(*w));

	if (!w || !(w->name = strdup(name)) || strmap_set(c->busy, name, (void *)1) < 0) {
		if (w)
			free(w->name);
		free(w);
		return NULL;
	}
	w->c = c;
	return w;
}

static int mutate_finalizer(cJSON *obj, void *userdata)
{
	struct claim_write *w = userdata;
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *list = cJSON_GetObjectItemCaseSensitive(meta, "finalizers");
	int i = 0;
	cJSON *f;

	if (!meta)
		return -EINVAL;
	if (w->add) {
		/* Never add to a claim being deleted (the server refuses it anyway). */
		if (has_finalizer(obj) || is_deleting(obj))
			return 1;
		if (!list) {
			list = cJSON_AddArrayToObject(meta, "finalizers");
			if (!list)
				return -ENOMEM;
		}
		cJSON_AddItemToArray(list, cJSON_CreateString(AGENT_CLAIM_FINALIZER));
		w->wrote = true;
		return 0;
	}
	cJSON_ArrayForEach(f, list)
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, AGENT_CLAIM_FINALIZER) == 0) {
			cJSON_DeleteItemFromArray(list, i);
			w->wrote = true;
			return 0;
		}
		i++;
	}
	return 1;
}

void write_finalizer(struct claims *c, const char *name, bool add)
{
	struct claim_write *w = write_new(c, name);

	if (!w)
		return;
	w->add = add;
	if (kube_update(c->o.client, &agent_claim_resource, NULL, name, 5, mutate_finalizer,
			on_claim_written, w) < 0) {
		strmap_remove(c->busy, name);
		free(w->name);
		free(w);
	}
}

/* The status the claim should have; NULL on no memory. lastTransitionTime is kept from @observed
 * when the condition's status did not change. */
static cJSON *desired_status(const struct verdict *v, const cJSON *observed)
{
	cJSON *st = cJSON_CreateObject();

	if (!st)
		return NULL;
	cJSON_AddStringToObject(st, "kernelDriverToUnbind", v->driver_to_unbind);
	cJSON_AddBoolToObject(st, "passthroughEnabled", v->enabled);
	if (status_set_condition(st, observed, CONDITION_TYPE, v->enabled, v->reason, v->message) <
	    0) {
		cJSON_Delete(st);
		return NULL;
	}
	return st;
}

/* Only the fields the agent writes, as the server would keep them. */
static cJSON *owned_status(const cJSON *status, const cJSON *schema)
{
	static const char *const fields[] = {"kernelDriverToUnbind", "passthroughEnabled",
					     "conditions"};
	cJSON *out = cJSON_CreateObject();

	for (size_t i = 0; out && i < sizeof(fields) / sizeof(fields[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(status, fields[i]);

		if (v && !cJSON_IsNull(v))
			cJSON_AddItemToObject(out, fields[i], cJSON_Duplicate(v, true));
	}
	if (out)
		schema_prune(out, schema);
	return out;
}

void write_status(struct claims *c, const cJSON *claim, const struct verdict *v)
{
	const char *name = kube_meta_string(claim, "name");
	const cJSON *observed = cJSON_GetObjectItemCaseSensitive(claim, "status");
	cJSON *want = desired_status(v, observed);
	cJSON *want_kept = want ? owned_status(want, c->status_schema) : NULL;
	cJSON *have_kept = owned_status(observed, c->status_schema);
	cJSON *patch = NULL;
	struct claim_write *w;

	if (!want_kept || !have_kept || cJSON_Compare(want_kept, have_kept, true))
		goto out;
	log_info("PCIDeviceClaim %s: %s: %s", name, v->reason, v->message);
	patch = cJSON_CreateObject();
	if (!patch || !cJSON_AddItemToObject(patch, "status", want))
		goto out;
	want = NULL;
	w = write_new(c, name);
	if (w)
		w->wrote = true;
	if (w && !kube_merge_patch(c->o.client, &agent_claim_resource, NULL, name, "status", patch,
				   on_claim_written, w)) {
		strmap_remove(c->busy, name);
		free(w->name);
		free(w);
	}
out:
	cJSON_Delete(patch);
	cJSON_Delete(want);
	cJSON_Delete(want_kept);
	cJSON_Delete(have_kept);
}
