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
 * The library's bind and restore are synchronous; they run on the loop's thread (a bind waits at
 * most the verification timeout, the vfio lock at most CLAIM_LOCK_TIMEOUT_MS).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define OWNER_PREFIX "hostdev-agent/pcideviceclaim:"
#define CLAIM_LOCK_TIMEOUT_MS 10000u
#define CONDITION_TYPE "Bound"

const struct kube_resource agent_claim_resource = {AGENT_GROUP, AGENT_VERSION_NAME,
						   "pcideviceclaims", "PCIDeviceClaim", false};

struct claims {
	struct claims_options o;
	struct kube_informer *inf;
	cJSON *status_schema;
	struct strmap *busy; /* claim name -> (void *)1 while a write for it runs */
	/* Refusals that only a change can lift (name -> struct refusal), so that a pass does not
	 * ask the library again for every refused claim. They hold while the claim's generation
	 * and the epoch stay: the epoch moves with every claim added or deleted, every spec
	 * change, every bind or restore and every resync. */
	struct strmap *refused;
	struct strmap *generations; /* claim name -> last seen metadata.generation (double *) */
	unsigned long epoch;
	struct loop_source *pass_timer, *retry_timer;
	struct kube_backoff backoff;
	bool synced, stopped;
};

/* What one pass found about one claim. */
struct verdict {
	bool enabled;
	bool transient; /* retry with backoff */
	const char *reason;
	char message[1536];
	char driver_to_unbind[128];
};

struct pass {
	struct claims *c;
	hostdev_vfio_journal *journal;
	bool transient;
	cJSON *permitted;	  /* serve_claims(): what KubeVirt must permit for this node */
	struct strmap *own_names; /* serve_claims(): address -> resource of its own (char *) */
};

struct refusal {
	double generation;
	unsigned long epoch;
	struct verdict v;
};

static double generation_of(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(meta, "generation");

	return cJSON_IsNumber(g) ? g->valuedouble : -1;
}

static void schedule_pass(struct claims *c);

/* ---- small helpers ------------------------------------------------------------------------- */

static const char *spec_string(const cJSON *obj, const char *field)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, field);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool has_finalizer(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *f;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(meta, "finalizers"))
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, AGENT_CLAIM_FINALIZER) == 0)
			return true;
	}
	return false;
}

static bool annotation_true(const cJSON *obj, const char *key)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"), key);

	return cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0;
}

static bool is_deleting(const cJSON *obj)
{
	return kube_meta_string(obj, "deletionTimestamp") != NULL;
}

/* The canonical "dddd:bb:ss.f" of @text, or -EINVAL. */
static int canonical_address(const char *text, char *out, size_t size)
{
	struct hostdev_pci_address a;

	if (!text || hostdev_pci_address_parse(text, &a) < 0)
		return -EINVAL;
	return hostdev_pci_address_format(&a, out, size) < 0 ? -EINVAL : 0;
}

/* 1 when the journal owner text @owner was written by this agent for the claim @uid. */
static bool owner_has_uid(const char *owner, const char *uid)
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

static bool owner_is_ours(const char *owner)
{
	return owner && strncmp(owner, OWNER_PREFIX, strlen(OWNER_PREFIX)) == 0;
}

/* Index of the journal record of @address, or -1. */
static long journal_find(const hostdev_vfio_journal *j, const char *address)
{
	size_t n = j ? hostdev_vfio_journal_get_count(j) : 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(hostdev_vfio_journal_get_address(j, i), address) == 0)
			return (long)i;
	return -1;
}

static bool on_this_node(const struct claims *c, const cJSON *obj)
{
	const char *node = spec_string(obj, "nodeName");

	return node && strcmp(node, c->o.ids->node) == 0;
}

/* ---- the PCIDevice objects follow the bind at once (the monitor may not see driver changes as
 * uevents, and fake roots send none) ------------------------------------------------------- */

static void refresh_pci_object(struct claims *c, const char *address)
{
	hostdev_pci_device *dev = NULL;
	cJSON *obj;
	const char *name;

	if (!c->o.reconciler || hostdev_pci_device_new(c->o.ctx, address, &dev) < 0)
		return;
	if (inventory_wants_pci(dev)) {
		obj = inventory_pci_object(c->o.ids, dev);
		name = obj ? kube_meta_string(obj, "name") : NULL;
		if (name) {
			char *copy = strdup(name);

			if (copy)
				reconciler_put(c->o.reconciler, KIND_PCI, copy, obj);
			else
				cJSON_Delete(obj);
			free(copy);
		} else {
			cJSON_Delete(obj);
		}
	}
	hostdev_pci_device_unref(dev);
}

/* The device and every member of its IOMMU group. */
static void refresh_group_objects(struct claims *c, const char *address)
{
	hostdev_pci_device *dev = NULL;

	if (hostdev_pci_device_new(c->o.ctx, address, &dev) < 0)
		return;
	if (hostdev_pci_device_get_iommu_group_member_count(dev) == 0)
		refresh_pci_object(c, address);
	for (size_t i = 0; i < hostdev_pci_device_get_iommu_group_member_count(dev); i++)
		refresh_pci_object(c, hostdev_pci_device_get_iommu_group_member(dev, i));
	hostdev_pci_device_unref(dev);
}

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

static void write_finalizer(struct claims *c, const char *name, bool add)
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

static void now_rfc3339(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The status the claim should have; NULL on no memory. lastTransitionTime is kept from @observed
 * when the condition's status did not change. */
static cJSON *desired_status(const struct verdict *v, const cJSON *observed)
{
	cJSON *st = cJSON_CreateObject(), *conds, *cond;
	const cJSON *old;
	const char *cond_status = v->enabled ? "True" : "False";
	char now[32];

	if (!st)
		return NULL;
	cJSON_AddStringToObject(st, "kernelDriverToUnbind", v->driver_to_unbind);
	cJSON_AddBoolToObject(st, "passthroughEnabled", v->enabled);
	conds = cJSON_AddArrayToObject(st, "conditions");
	cond = cJSON_CreateObject();
	if (!conds || !cond) {
		cJSON_Delete(cond);
		cJSON_Delete(st);
		return NULL;
	}
	cJSON_AddItemToArray(conds, cond);
	cJSON_AddStringToObject(cond, "type", CONDITION_TYPE);
	cJSON_AddStringToObject(cond, "status", cond_status);
	cJSON_AddStringToObject(cond, "reason", v->reason);
	cJSON_AddStringToObject(cond, "message", v->message);
	now_rfc3339(now, sizeof(now));
	cJSON_ArrayForEach(old, cJSON_GetObjectItemCaseSensitive(observed, "conditions"))
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(old, "type");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(old, "status");
		const cJSON *ltt = cJSON_GetObjectItemCaseSensitive(old, "lastTransitionTime");

		if (cJSON_IsString(type) && strcmp(type->valuestring, CONDITION_TYPE) == 0 &&
		    cJSON_IsString(status) && strcmp(status->valuestring, cond_status) == 0 &&
		    cJSON_IsString(ltt))
			snprintf(now, sizeof(now), "%s", ltt->valuestring);
	}
	cJSON_AddStringToObject(cond, "lastTransitionTime", now);
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

static void write_status(struct claims *c, const cJSON *claim, const struct verdict *v)
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

/* ---- judging one claim --------------------------------------------------------------------- */

static void set_verdict(struct verdict *v, bool enabled, bool transient, const char *reason,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_verdict(struct verdict *v, bool enabled, bool transient, const char *reason,
			const char *fmt, ...)
{
	va_list ap;

	v->enabled = enabled;
	v->transient = transient;
	v->reason = reason;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
}

/* The claim that holds @address among the live claims of this node: the one whose uid is in the
 * address's journal record, else the oldest (creationTimestamp, then name). */
static bool claim_precedes(const cJSON *a, const cJSON *b)
{
	const char *ta = kube_meta_string(a, "creationTimestamp");
	const char *tb = kube_meta_string(b, "creationTimestamp");
	int r = strcmp(ta ? ta : "", tb ? tb : "");

	if (r != 0)
		return r < 0;
	return strcmp(kube_meta_string(a, "name"), kube_meta_string(b, "name")) < 0;
}

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

static const cJSON *holder_of(const struct claims *c, const char *address,
			      const hostdev_vfio_journal *j)
{
	long rec = journal_find(j, address);
	struct holder_search h = {c, address,
				  rec >= 0 ? hostdev_vfio_journal_get_owner(j, (size_t)rec) : NULL,
				  NULL, NULL};

	kube_informer_foreach(c->inf, find_holder, &h);
	return h.bound_holder ? h.bound_holder : h.oldest;
}

/* Append "<uid>" to the owner text. */
static void owner_add(char *owner, size_t size, const char *uid)
{
	size_t n = strlen(owner);

	if (!uid || owner_has_uid(owner, uid))
		return;
	snprintf(owner + n, size - n, "%s%s", n > strlen(OWNER_PREFIX) ? "," : "", uid);
}

/* The same sentence right after the bind and on every later pass (one status write per bind). */
static void bound_verdict(struct verdict *v, const char *address, int group, bool group_bind)
{
	set_verdict(v, true, false, "Bound",
		    "%s is on vfio-pci (IOMMU group %d%s); the journal keeps its driver %s to give "
		    "it back when the claim is deleted",
		    address, group, group_bind ? ", bound as a whole" : "",
		    v->driver_to_unbind[0] ? v->driver_to_unbind : "(none)");
}

static void bind_claim(struct claims *c, const cJSON *claim, const char *address,
		       hostdev_pci_device *dev, const hostdev_vfio_journal *j, struct verdict *v)
{
	const char *uid = kube_meta_string(claim, "uid");
	const char *driver = hostdev_pci_device_get_driver(dev);
	bool want_group = annotation_true(claim, AGENT_CLAIM_GROUP_ANNOTATION);
	char owner[HOSTDEV_VFIO_OWNER_MAX + 1] = OWNER_PREFIX;
	char unclaimed[768] = "";
	size_t nu = 0, nc = 0;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	const char *addresses[1] = {address};
	unsigned int flags = 0;
	long rec;
	int r;

	snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", driver ? driver : "");
	owner_add(owner, sizeof(owner), uid);
	/* The other endpoints of the group on host drivers: each claimed (by the claim that
	 * holds it), or the group cannot be bound without taking a device nobody asked for. */
	for (size_t i = 0; i < hostdev_pci_device_get_iommu_group_member_count(dev); i++) {
		const char *m = hostdev_pci_device_get_iommu_group_member(dev, i);
		hostdev_pci_device *md = NULL;
		const char *mdrv;
		const cJSON *holder;

		if (strcmp(m, address) == 0 || hostdev_pci_device_new(c->o.ctx, m, &md) < 0)
			continue;
		mdrv = hostdev_pci_device_get_driver(md);
		if (!hostdev_pci_device_is_bridge(md) && mdrv &&
		    strcmp(mdrv, HOSTDEV_VFIO_DRIVER) != 0) {
			holder = holder_of(c, m, j);
			if (holder) {
				owner_add(owner, sizeof(owner), kube_meta_string(holder, "uid"));
				nc++;
			} else {
				nu += (size_t)snprintf(
				    unclaimed + nu,
				    nu < sizeof(unclaimed) ? sizeof(unclaimed) - nu : 0,
				    "%s%s (%s)", nu ? ", " : "", m, mdrv);
			}
		}
		hostdev_pci_device_unref(md);
	}
	if (nc > 0 || want_group)
		flags |= HOSTDEV_BIND_GROUP;
	if (nu > 0 && !want_group)
		flags &= ~(unsigned int)HOSTDEV_BIND_GROUP;
	opts.owner = owner;
	opts.lock_timeout_ms = CLAIM_LOCK_TIMEOUT_MS;
	r = hostdev_vfio_bind_set(c->o.ctx, addresses, 1, &opts, flags);
	if (r >= 0) {
		hostdev_vfio_journal *after = NULL;
		const char *orig = NULL;

		rec = -1;
		if (hostdev_vfio_journal_read(c->o.ctx, &after) == 0 &&
		    (rec = journal_find(after, address)) >= 0)
			orig = hostdev_vfio_journal_get_driver(after, (size_t)rec);
		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s",
			 orig ? orig
			      : (driver && strcmp(driver, HOSTDEV_VFIO_DRIVER) != 0 ? driver : ""));
		bound_verdict(v, address, hostdev_pci_device_get_iommu_group(dev),
			      rec >= 0 && hostdev_vfio_journal_is_group_bind(after, (size_t)rec));
		hostdev_vfio_journal_unref(after);
		c->epoch++;
		log_info("PCIDeviceClaim %s: bound %s to vfio-pci (%d device%s moved)",
			 kube_meta_string(claim, "name"), address, r, r == 1 ? "" : "s");
		refresh_group_objects(c, address);
		return;
	}
	switch (r) {
	case -EBUSY:
		if (nu > 0)
			set_verdict(
			    v, false, false, "IOMMUGroupShared",
			    "%s. Not claimed: %s. Next: claim every member of the group (the "
			    "agent then binds the group together), or annotate this claim "
			    "%s=true to bind the whole group with it",
			    hostdev_ctx_get_error(c->o.ctx), unclaimed,
			    AGENT_CLAIM_GROUP_ANNOTATION);
		else
			set_verdict(v, false, false, "DeviceBusy", "%s",
				    hostdev_ctx_get_error(c->o.ctx));
		break;
	case -EPERM:
		set_verdict(v, false, false, "HostCritical",
			    "%s. A claim cannot override this guard: claim another device",
			    hostdev_ctx_get_error(c->o.ctx));
		break;
	case -EINVAL:
		set_verdict(v, false, false,
			    hostdev_pci_device_get_iommu_group(dev) < 0 ? "NoIOMMU" : "Refused",
			    "%s", hostdev_ctx_get_error(c->o.ctx));
		break;
	case -ENOENT:
		set_verdict(v, false, true, "VFIOModulesMissing", "%s; retrying with backoff",
			    hostdev_ctx_get_error(c->o.ctx));
		break;
	case -ENODEV:
		set_verdict(v, false, false, "DeviceNotFound", "%s",
			    hostdev_ctx_get_error(c->o.ctx));
		break;
	default:
		set_verdict(v, false, true, r == -ETIMEDOUT ? "BindTimeout" : "BindFailed",
			    "%s; retrying with backoff", hostdev_ctx_get_error(c->o.ctx));
		break;
	}
	/* A refused or failed bind leaves nothing behind (the library rolls back), but the
	 * device's object shows what it is on now either way. */
	refresh_group_objects(c, address);
}

/* Every record of claim @uid complete and its device (when it exists) on vfio-pci. */
static bool records_settled(struct claims *c, const hostdev_vfio_journal *j, const char *uid)
{
	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j); i++) {
		hostdev_pci_device *dev = NULL;
		bool on_vfio;

		if (!owner_has_uid(hostdev_vfio_journal_get_owner(j, i), uid))
			continue;
		if (!hostdev_vfio_journal_is_complete(j, i))
			return false;
		if (hostdev_pci_device_new(c->o.ctx, hostdev_vfio_journal_get_address(j, i), &dev) <
		    0)
			continue; /* gone: its record waits for it */
		on_vfio = hostdev_pci_device_get_driver(dev) &&
			  strcmp(hostdev_pci_device_get_driver(dev), HOSTDEV_VFIO_DRIVER) == 0;
		hostdev_pci_device_unref(dev);
		if (!on_vfio)
			return false;
	}
	return true;
}

/*
 * Bind again every device of the claim's records, named one by one, with the records' own owner
 * text and group flag, so that the library reuses them. Naming the group's members matters: a
 * group bind of a device already on vfio-pci leaves a member that an interrupted bind left
 * without driver as it is (libhostdev counts it as done).
 */
static void finish_interrupted(struct claims *c, const cJSON *claim, const char *address,
			       hostdev_pci_device *dev, const hostdev_vfio_journal *j,
			       struct verdict *v)
{
	const char *uid = kube_meta_string(claim, "uid");
	const char *addresses[64];
	const char *owner = NULL;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	unsigned int flags = 0;
	size_t n = 0;
	int r;

	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j) && n < 64; i++) {
		hostdev_pci_device *m = NULL;

		if (!owner_has_uid(hostdev_vfio_journal_get_owner(j, i), uid) ||
		    hostdev_pci_device_new(c->o.ctx, hostdev_vfio_journal_get_address(j, i), &m) <
			0)
			continue;
		hostdev_pci_device_unref(m);
		addresses[n++] = hostdev_vfio_journal_get_address(j, i);
		owner = hostdev_vfio_journal_get_owner(j, i);
		if (hostdev_vfio_journal_is_group_bind(j, i))
			flags |= HOSTDEV_BIND_GROUP;
	}
	opts.owner = owner;
	opts.lock_timeout_ms = CLAIM_LOCK_TIMEOUT_MS;
	r = n ? hostdev_vfio_bind_set(c->o.ctx, addresses, n, &opts, flags) : 0;
	if (r < 0) {
		set_verdict(v, false, true, "BindFailed", "%s; retrying with backoff",
			    hostdev_ctx_get_error(c->o.ctx));
	} else {
		long rec = journal_find(j, address);
		const char *drv = rec >= 0 ? hostdev_vfio_journal_get_driver(j, (size_t)rec) : NULL;

		c->epoch++;
		log_info("PCIDeviceClaim %s: finished the bind of %zu device%s (%d moved)",
			 kube_meta_string(claim, "name"), n, n == 1 ? "" : "s", r);
		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", drv ? drv : "");
		bound_verdict(v, address, hostdev_pci_device_get_iommu_group(dev),
			      flags & HOSTDEV_BIND_GROUP);
	}
	refresh_group_objects(c, address);
}

/* A claim of this node that is not being deleted: what is it, and bind it if it should be. */
static void judge_claim(struct pass *p, const cJSON *claim, struct verdict *v)
{
	struct claims *c = p->c;
	const char *spec_addr = spec_string(claim, "address");
	const char *uid = kube_meta_string(claim, "uid");
	const char *name = kube_meta_string(claim, "name");
	const hostdev_vfio_journal *j = p->journal;
	hostdev_pci_device *dev = NULL;
	const cJSON *holder;
	char address[32];
	long rec;
	int r;

	memset(v, 0, sizeof(*v));
	/* Bound for this claim already: its address's record names this claim. */
	if (canonical_address(spec_addr, address, sizeof(address)) == 0 &&
	    (rec = journal_find(j, address)) >= 0 &&
	    owner_has_uid(hostdev_vfio_journal_get_owner(j, (size_t)rec), uid)) {
		const char *drv = hostdev_vfio_journal_get_driver(j, (size_t)rec);

		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", drv ? drv : "");
		if (hostdev_pci_device_new(c->o.ctx, address, &dev) < 0) {
			set_verdict(v, false, false, "DeviceGone",
				    "%s is gone from node %s; the journal keeps its record (driver "
				    "%s) and the claim is enabled again when it comes back",
				    address, c->o.ids->node, drv ? drv : "(none)");
			return;
		}
		if (!hostdev_pci_device_get_driver(dev) ||
		    strcmp(hostdev_pci_device_get_driver(dev), HOSTDEV_VFIO_DRIVER) != 0) {
			/* Someone moved it off vfio-pci: bind again (the record is reused). */
			log_warning(
			    "PCIDeviceClaim %s: %s left vfio-pci (now %s); binding it again", name,
			    address,
			    hostdev_pci_device_get_driver(dev) ? hostdev_pci_device_get_driver(dev)
							       : "no driver");
			bind_claim(c, claim, address, dev, j, v);
		} else if (!records_settled(c, j, uid)) {
			/* A bind cut short (a crash, a kill) left a record unfinished or a member
			 * of its group off vfio-pci: bind again, the records are reused. */
			log_warning(
			    "PCIDeviceClaim %s: the bind of %s was interrupted; finishing it", name,
			    address);
			finish_interrupted(c, claim, address, dev, j, v);
		} else {
			bound_verdict(v, address, hostdev_pci_device_get_iommu_group(dev),
				      hostdev_vfio_journal_is_group_bind(j, (size_t)rec));
		}
		hostdev_pci_device_unref(dev);
		return;
	}
	/* Bound for this claim at another address: the spec was edited after the bind. */
	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j); i++) {
		const char *a = hostdev_vfio_journal_get_address(j, i);
		const char *drv = hostdev_vfio_journal_get_driver(j, i);

		if (!owner_has_uid(hostdev_vfio_journal_get_owner(j, i), uid))
			continue;
		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", drv ? drv : "");
		set_verdict(v, true, false, "SpecChanged",
			    "spec.address was changed to %s after %s was bound for this claim; a "
			    "claim is not edited in place: %s stays on vfio-pci until the claim is "
			    "deleted; create a new claim for %s",
			    spec_addr ? spec_addr : "(none)", a, a,
			    spec_addr ? spec_addr : "the other device");
		return;
	}
	if (canonical_address(spec_addr, address, sizeof(address)) < 0) {
		set_verdict(v, false, false, "InvalidAddress",
			    "spec.address \"%s\" is not a PCI address: write it as DDDD:BB:SS.F, "
			    "as in status.address of the node's PCIDevice",
			    spec_addr ? spec_addr : "");
		return;
	}
	if ((r = hostdev_pci_device_new(c->o.ctx, address, &dev)) < 0) {
		set_verdict(v, false, false, "DeviceNotFound",
			    "%s (node %s). Check spec.address against the node's PCIDevices "
			    "(kubectl get pcidevices -l nodename=%s)",
			    hostdev_ctx_get_error(c->o.ctx), c->o.ids->node, c->o.ids->node);
		return;
	}
	snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s",
		 hostdev_pci_device_get_driver(dev) ? hostdev_pci_device_get_driver(dev) : "");
	if (hostdev_pci_device_is_bridge(dev)) {
		set_verdict(v, false, false, "Bridge",
			    "%s is a PCI bridge: bridges cannot be passed through (they have no "
			    "PCIDevice); claim an endpoint behind it",
			    address);
		goto out;
	}
	holder = holder_of(c, address, j);
	if (holder && strcmp(kube_meta_string(holder, "name"), name) != 0) {
		set_verdict(
		    v, false, false, "AlreadyClaimed",
		    "%s is claimed by PCIDeviceClaim %s; one device serves one claim: delete "
		    "this claim, or that one first",
		    address, kube_meta_string(holder, "name"));
		goto out;
	}
	rec = journal_find(j, address);
	if (rec >= 0 && owner_is_ours(hostdev_vfio_journal_get_owner(j, (size_t)rec))) {
		/* Bound with its group for another claim: enabled through that claim's record. */
		const char *drv = hostdev_vfio_journal_get_driver(j, (size_t)rec);

		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", drv ? drv : "");
		set_verdict(
		    v, true, false, "BoundWithGroup",
		    "%s is on vfio-pci, bound with its IOMMU group for another claim; it is "
		    "given back with the group when that claim is deleted",
		    address);
		goto out;
	}
	if (hostdev_pci_device_get_driver(dev) &&
	    strcmp(hostdev_pci_device_get_driver(dev), HOSTDEV_VFIO_DRIVER) == 0) {
		/* On vfio-pci already, not for a claim: `hostdev apply` of the persistent list at
		 * boot, another tool, vfio-pci ids= of modprobe.d. The claim uses it as it is and
		 * its deletion leaves it there: who bound it gives it back. */
		const char *owner =
		    rec >= 0 ? hostdev_vfio_journal_get_owner(j, (size_t)rec) : NULL;
		const char *drv = rec >= 0 ? hostdev_vfio_journal_get_driver(j, (size_t)rec) : NULL;

		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", drv ? drv : "");
		set_verdict(
		    v, true, false, "BoundByHost",
		    "%s was on vfio-pci before this claim (%s%s%s); the claim serves it as it "
		    "is, and deleting the claim leaves it on vfio-pci (`hostdev persist remove` "
		    "and `hostdev restore` give it back)",
		    address,
		    rec < 0 ? "not in the journal: bound outside libhostdev"
		    : owner ? "journal owner "
			    : "in the journal without owner, e.g. by `hostdev apply`",
		    rec >= 0 && owner ? owner : "", "");
		goto out;
	}
	bind_claim(c, claim, address, dev, j, v);
out:
	hostdev_pci_device_unref(dev);
}

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

/* Addresses of the journal records owned by claim @uid. */
static size_t records_of(const hostdev_vfio_journal *j, const char *uid, const char **out,
			 size_t max)
{
	size_t n = 0;

	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j) && n < max; i++)
		if (owner_has_uid(hostdev_vfio_journal_get_owner(j, i), uid))
			out[n++] = hostdev_vfio_journal_get_address(j, i);
	return n;
}

static void release_claim(struct pass *p, const cJSON *claim)
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
static void restore_orphans(struct pass *p)
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

/* ---- the pass ------------------------------------------------------------------------------ */

static void reread_journal(struct pass *p)
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

	if (!claim || !on_this_node(c, claim) || strmap_get(c->busy, name) || !p->journal)
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
	if (v.transient)
		p->transient = true;
	if (!v.enabled && !v.transient && (refusal = calloc(1, sizeof(*refusal)))) {
		refusal->generation = generation_of(claim);
		refusal->epoch = c->epoch;
		refusal->v = v;
		if (strmap_set(c->refused, name, refusal) < 0)
			free(refusal);
	} else {
		strmap_remove(c->refused, name);
	}
	/* A bind changed the journal: the next claims must see it. */
	reread_journal(p);
	write_status(c, claim, &v);
}

/* The resource a claim's device is served under: Harvester's pooled name, or with
 * disableResourcePooling "<the pooled name's domain>/<the PCIDevice name>", as Harvester's
 * ensureIndividualDeviceResourceName. */
static int resource_of(struct claims *c, const cJSON *claim, hostdev_pci_device *dev, char *out,
		       size_t size)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(claim, "spec");
	const char *pooled = hostdev_pci_device_get_resource_name(dev);
	const char *slash = pooled ? strchr(pooled, '/') : NULL;

	if (!pooled)
		return -EINVAL;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "disableResourcePooling")) && slash)
		snprintf(out, size, "%.*s/%s", (int)(slash - pooled), pooled,
			 hostdev_pci_device_get_object_name(dev));
	else
		snprintf(out, size, "%s", pooled);
	return 0;
}

/* The device a live claim of the node has on vfio-pci, or NULL: its address's record when that
 * names the claim (or the record is a group bind and the claim holds the address), else the
 * record it kept after its spec was edited. */
static const char *served_address(struct pass *p, const cJSON *claim, char *buf, size_t size)
{
	const hostdev_vfio_journal *j = p->journal;
	const char *uid = kube_meta_string(claim, "uid");
	hostdev_pci_device *dev = NULL;
	long rec;

	if (canonical_address(spec_string(claim, "address"), buf, size) == 0) {
		const char *owner = (rec = journal_find(j, buf)) >= 0
					? hostdev_vfio_journal_get_owner(j, (size_t)rec)
					: NULL;
		const cJSON *holder;
		bool on_vfio = false;

		if (owner_has_uid(owner, uid))
			return buf;
		if (!owner_is_ours(owner) && hostdev_pci_device_new(p->c->o.ctx, buf, &dev) == 0) {
			const char *drv = hostdev_pci_device_get_driver(dev);

			on_vfio = drv && strcmp(drv, HOSTDEV_VFIO_DRIVER) == 0;
			hostdev_pci_device_unref(dev);
		}
		/* Bound with a group for another claim, or bound before any claim. */
		if (owner_is_ours(owner) || on_vfio) {
			holder = holder_of(p->c, buf, j);
			if (holder && strcmp(kube_meta_string(holder, "uid"), uid) == 0)
				return buf;
		}
	}
	for (size_t i = 0; j && i < hostdev_vfio_journal_get_count(j); i++)
		if (owner_has_uid(hostdev_vfio_journal_get_owner(j, i), uid))
			return hostdev_vfio_journal_get_address(j, i);
	return NULL;
}

/* {"<resource>": ["<vendor>:<device>", ...]}, selectors sorted: KubeVirt's pciVendorSelector in
 * the format of PCIDevice status (Harvester's). */
static void permit(cJSON *permitted, const char *resource, hostdev_pci_device *dev)
{
	cJSON *sels = cJSON_GetObjectItemCaseSensitive(permitted, resource);
	cJSON *e, *item;
	char sel[16];
	int i = 0;

	snprintf(sel, sizeof(sel), "%04x:%04x", hostdev_pci_device_get_vendor_id(dev),
		 hostdev_pci_device_get_device_id(dev));
	if (!sels && !(sels = cJSON_AddArrayToObject(permitted, resource)))
		return;
	cJSON_ArrayForEach(e, sels)
	{
		int cmp = strcmp(e->valuestring, sel);

		if (cmp == 0)
			return;
		if (cmp > 0)
			break;
		i++;
	}
	if ((item = cJSON_CreateString(sel)) && !cJSON_InsertItemInArray(sels, i, item))
		cJSON_Delete(item);
}

static void serve_one(const char *name, const cJSON *claim, void *userdata)
{
	struct pass *p = userdata;
	struct claims *c = p->c;
	hostdev_pci_device *dev = NULL;
	char buf[32], resource[300];
	const char *address;

	if (!on_this_node(c, claim) || is_deleting(claim) ||
	    !(address = served_address(p, claim, buf, sizeof(buf))) ||
	    hostdev_pci_device_new(c->o.ctx, address, &dev) < 0)
		return;
	if (resource_of(c, claim, dev, resource, sizeof(resource)) == 0) {
		if (p->own_names &&
		    strcmp(resource, hostdev_pci_device_get_resource_name(dev)) != 0) {
			char *copy = strdup(resource);

			if (copy && strmap_set(p->own_names, address, copy) < 0)
				free(copy);
		}
		if (c->o.serving)
			serving_want(c->o.serving, resource, address);
		if (p->permitted)
			permit(p->permitted, resource, dev);
	}
	hostdev_pci_device_unref(dev);
}

/* After the claims were judged: the served resources follow the devices bound for them. A
 * device is listed only once its claim's binding is in the journal, so after a reboot the
 * kubelet hears of it only when it is back on vfio-pci. */
struct names_diff {
	struct claims *c;
	const struct strmap *other;
	struct strmap *changed; /* addresses */
};

static void diff_names(const char *address, void *value, void *userdata)
{
	struct names_diff *d = userdata;
	const char *there = strmap_get(d->other, address);

	if (!there || strcmp(there, value) != 0)
		strmap_set(d->changed, address, (void *)1);
}

static void copy_name(const char *address, void *value, void *userdata)
{
	char *copy = strdup(value);

	if (copy && strmap_set(userdata, address, copy) < 0)
		free(copy);
}

static void drop_name(const char *address, void *value, void *userdata)
{
	strmap_remove(userdata, address);
}

static void refresh_changed(const char *address, void *value, void *userdata)
{
	refresh_pci_object(userdata, address);
}

/* The PCIDevices of devices whose resource of their own came or went show it at once. */
static void update_own_names(struct claims *c, const struct strmap *now)
{
	struct strmap *names = c->o.ids->resource_names;
	struct strmap *changed = strmap_new(NULL);
	struct names_diff d = {c, names, changed};

	if (!names || !changed) {
		strmap_free(changed);
		return;
	}
	strmap_foreach(now, diff_names, &d);
	d.other = now;
	strmap_foreach(names, diff_names, &d);
	strmap_foreach(changed, drop_name, names);
	strmap_foreach(now, copy_name, names);
	strmap_foreach(changed, refresh_changed, c);
	strmap_free(changed);
}

static void serve_claims(struct pass *p)
{
	struct claims *c = p->c;

	if ((!c->o.serving && !c->o.kubevirt) || !p->journal)
		return;
	p->permitted = c->o.kubevirt ? cJSON_CreateObject() : NULL;
	p->own_names = strmap_new(free);
	kube_informer_foreach(c->inf, serve_one, p);
	if (p->own_names)
		update_own_names(c, p->own_names);
	strmap_free(p->own_names);
	p->own_names = NULL;
	if (c->o.serving)
		serving_commit(c->o.serving);
	kubevirt_set(c->o.kubevirt, p->permitted);
	p->permitted = NULL;
}

static void run_pass(struct claims *c)
{
	struct pass p = {c, NULL, false, NULL, NULL};
	struct strmap *names = strmap_new(NULL);

	if (!names)
		return;
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
	serve_claims(&p);
	hostdev_vfio_journal_unref(p.journal);
	if (p.transient) {
		if (!loop_timer_armed(c->retry_timer))
			loop_timer_arm(c->retry_timer, kube_backoff_next(&c->backoff));
	} else if (strmap_count(c->busy) == 0) {
		kube_backoff_reset(&c->backoff);
	}
}

static void on_pass_timer(struct loop_source *src, void *userdata)
{
	struct claims *c = userdata;

	if (c->synced && !c->stopped)
		run_pass(c);
}

static void schedule_pass(struct claims *c)
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
	    !(c->generations = strmap_new(free)) ||
	    !(c->pass_timer = loop_add_timer(opts->loop, on_pass_timer, c)) ||
	    !(c->retry_timer = loop_add_timer(opts->loop, on_retry_timer, c)))
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
	kube_informer_free(c->inf);
	loop_source_remove(c->pass_timer);
	loop_source_remove(c->retry_timer);
	strmap_free(c->busy);
	strmap_free(c->refused);
	strmap_free(c->generations);
	cJSON_Delete(c->status_schema);
	free(c);
}
