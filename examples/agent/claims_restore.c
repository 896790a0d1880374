/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Giving devices back through the journal: the records of a deleted claim (then its finalizer
 * goes), and records none of whose claims exists any more. The restores run on the worker
 * thread (claims_work.c); restore_finished() is their end.
 */
#include <stdio.h>

#include "claims_internal.h"

/* Queue the restore of @addresses (journal records) for the claim @name (NULL: records of
 * deleted claims). */
static void submit_restore(struct pass *p, const char *name, const char *const *addresses,
			   size_t count, const char *why)
{
	struct claim_job *job = claim_job_new(p->c, JOB_RESTORE, name, addresses, count);

	if (job)
		snprintf(job->why, sizeof(job->why), "%s", why);
	if (!job || claim_job_submit(p->c, job) < 0) {
		log_warning("%s: cannot start the restore: out of memory; retrying", why);
		p->transient = true;
	}
}

void release_claim(struct pass *p, const cJSON *claim)
{
	const char *name = kube_meta_string(claim, "name");
	const char *addresses[64];
	size_t n = records_of(p->journal, kube_meta_string(claim, "uid"), addresses, 64);
	char why[300];

	if (n == 0) {
		/* Nothing left to give back. */
		write_finalizer(p->c, name, false);
		return;
	}
	snprintf(why, sizeof(why), "PCIDeviceClaim %s deleted", name);
	submit_restore(p, name, addresses, n, why);
}

/* A failed restore is retried by the caller's retry timer. */
void restore_finished(struct claims *c, struct claim_job *job)
{
	if (job->name) {
		if (job->r < 0) {
			log_warning("PCIDeviceClaim %s: cannot give the device back yet: %s; the "
				    "finalizer stays and the restore is retried",
				    job->name, job->error);
			return;
		}
		write_finalizer(c, job->name, false);
		return;
	}
	if (job->r < 0) {
		log_warning("restoring devices of deleted claims: %s; retrying", job->error);
	}
}

struct live_uid {
	const struct claims *c;
	const char *owner;
	bool found;
};

static void match_owner(const char *name, const cJSON *obj, void *userdata)
{
	struct live_uid *l = userdata;

	if (on_this_node(l->c, obj) && owner_has_uid(l->owner, kube_meta_string(obj, "uid")))
		l->found = true;
}

/* Records of this agent whose claims are all gone: give the devices back. */
void restore_orphans(struct pass *p)
{
	struct claims *c = p->c;
	const hostdev_vfio_journal *j = p->journal;
	const char *addresses[256];
	size_t n = 0;

	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j) && n < 256; i++) {
		struct live_uid l = {c, hostdev_vfio_journal_get_owner(j, i), false};

		if (!owner_is_ours(l.owner))
			continue;
		kube_informer_foreach(c->inf, match_owner, &l);
		if (!l.found)
			addresses[n++] = hostdev_vfio_journal_get_address(j, i);
	}
	if (n == 0)
		return;
	log_info("%zu journal record%s of deleted PCIDeviceClaims: giving the device%s back", n,
		 n == 1 ? "" : "s", n == 1 ? "" : "s");
	submit_restore(p, NULL, addresses, n, "no PCIDeviceClaim any more");
}
