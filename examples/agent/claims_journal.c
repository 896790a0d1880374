/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vfio journal as the claims see it: the owner text of a record this agent made
 * ("hostdev-agent/pcideviceclaim:<uid>[,<uid>...]"), the records of one claim, and which live claim
 * holds an address.
 */
#include <stdio.h>
#include <string.h>

#include "claims_internal.h"

/* 1 when the journal owner text @owner was written by this agent for the claim @uid. */
bool owner_has_uid(const char *owner, const char *uid)
{
	size_t n = strlen(uid);
	const char *p;

	if (!owner || !uid || !*uid || strncmp(owner, OWNER_PREFIX, strlen(OWNER_PREFIX)) != 0)
		return false;
	p = owner + strlen(OWNER_PREFIX);
	while (*p) {
		if (strncmp(p, uid, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return false;
}

bool owner_is_ours(const char *owner)
{
	return owner && strncmp(owner, OWNER_PREFIX, strlen(OWNER_PREFIX)) == 0;
}

/* Index of the journal record of @address, or -1. */
long journal_find(const hostdev_vfio_journal *j, const char *address)
{
	size_t n = j ? hostdev_vfio_journal_get_count(j) : 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(hostdev_vfio_journal_get_address(j, i), address) == 0)
			return (long)i;
	return -1;
}

/* The claim that holds @address among the live claims of this node: the one whose uid is in the
 * address's journal record, else the oldest (creationTimestamp, then name). */

struct holder_search {
	const struct claims *c;
	const char *address;
	const char *record_owner; /* owner of the address's journal record, or NULL */
	const cJSON *bound_holder, *oldest;
};

static void find_holder(const char *name, const cJSON *obj, void *userdata)
{
	struct holder_search *h = userdata;
	char addr[32];
	const char *uid = kube_meta_string(obj, "uid");

	if (!on_this_node(h->c, obj) || is_deleting(obj) ||
	    canonical_address(spec_string(obj, "address"), addr, sizeof(addr)) < 0 ||
	    strcmp(addr, h->address) != 0)
		return;
	if (h->record_owner && owner_has_uid(h->record_owner, uid))
		h->bound_holder = obj;
	if (!h->oldest || claim_precedes(obj, h->oldest))
		h->oldest = obj;
}

const cJSON *holder_of(const struct claims *c, const char *address, const hostdev_vfio_journal *j)
{
	long rec = journal_find(j, address);
	struct holder_search h = {c, address,
				  rec >= 0 ? hostdev_vfio_journal_get_owner(j, (size_t)rec) : NULL,
				  NULL, NULL};

	kube_informer_foreach(c->inf, find_holder, &h);
	return h.bound_holder ? h.bound_holder : h.oldest;
}

/* Append "<uid>" to the owner text. */
void owner_add(char *owner, size_t size, const char *uid)
{
	size_t n = strlen(owner);

	if (!uid || owner_has_uid(owner, uid))
		return;
	snprintf(owner + n, size - n, "%s%s", n > strlen(OWNER_PREFIX) ? "," : "", uid);
}

/* Addresses of the journal records owned by claim @uid. */
size_t records_of(const hostdev_vfio_journal *j, const char *uid, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j) && n < max; i++)
		if (owner_has_uid(hostdev_vfio_journal_get_owner(j, i), uid))
			out[n++] = hostdev_vfio_journal_get_address(j, i);
	return n;
}

void reread_journal(struct pass *p)
{
	hostdev_vfio_journal *j = NULL;
	int r = hostdev_vfio_journal_read(p->c->o.ctx, &j);

	hostdev_vfio_journal_unref(p->journal);
	p->journal = NULL;
	if (r < 0) {
		log_error("cannot read the vfio journal: %s", hostdev_ctx_get_error(p->c->o.ctx));
		p->transient = true;
		return;
	}
	p->journal = j;
}
