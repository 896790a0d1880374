/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Giving devices back through the journal: the records of a deleted claim (then its finalizer
 * goes), and records none of whose claims exists any more.
 */
#include <errno.h>
#include <stdio.h>

#include "claims_internal.h"

/* ---- restoring ----------------------------------------------------------------------------- */

/* Give back every record of @uid (or, @uid NULL, the records listed in @addresses). Returns 0
 * when nothing is left to give back, -EAGAIN to retry; @msg says why. */
static int restore_addresses(struct claims *c, const char *const *addresses, size_t count,
			     const char *why, char *msg, size_t msglen)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_result *res = NULL;
	int r;

	if (count == 0)
		return 0;
	opts.lock_timeout_ms = CLAIM_LOCK_TIMEOUT_MS;
	r = hostdev_vfio_restore_with_result(c->o.ctx, addresses, count, &opts, 0, &res);
	for (size_t i = 0; res && i < hostdev_vfio_result_get_count(res); i++) {
		const char *a = hostdev_vfio_result_get_address(res, i);

		log_info("%s: %s %s: %s", why, a,
			 hostdev_vfio_outcome_name(hostdev_vfio_result_get_outcome(res, i))
			     ? hostdev_vfio_outcome_name(hostdev_vfio_result_get_outcome(res, i))
			     : "unknown",
			 hostdev_vfio_result_get_message(res, i));
		refresh_pci_object(c, a);
	}
	hostdev_vfio_result_unref(res);
	c->epoch++;
	if (r < 0) {
		snprintf(msg, msglen, "%s", hostdev_ctx_get_error(c->o.ctx));
		return -EAGAIN;
	}
	return 0;
}

void release_claim(struct pass *p, const cJSON *claim)
{
	struct claims *c = p->c;
	const char *name = kube_meta_string(claim, "name");
	const char *addresses[64];
	size_t n = records_of(p->journal, kube_meta_string(claim, "uid"), addresses, 64);
	char why[300], msg[1024];

	snprintf(why, sizeof(why), "PCIDeviceClaim %s deleted", name);
	if (restore_addresses(c, addresses, n, why, msg, sizeof(msg)) < 0) {
		log_warning("PCIDeviceClaim %s: cannot give the device back yet: %s; the finalizer "
			    "stays and the restore is retried",
			    name, msg);
		p->transient = true;
		return;
	}
	write_finalizer(c, name, false);
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
	char msg[1024];

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
	if (restore_addresses(c, addresses, n, "no PCIDeviceClaim any more", msg, sizeof(msg)) <
	    0) {
		log_warning("restoring devices of deleted claims: %s; retrying", msg);
		p->transient = true;
	}
}
