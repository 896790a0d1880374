/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which devices the ResourceSlices may offer: those NodePrepareResources would take. A device it
 * would refuse - host-critical (the guard: the NIC of the default route, the controller of a
 * mounted filesystem), without an IOMMU group, an mdev parent with active mediated devices - would
 * be allocated by the scheduler and its pod would fail at Prepare forever. The question is asked
 * of the library's own bind planning: a dry run (HOSTDEV_BIND_DRY_RUN) of the very bind the
 * Prepare makes (dra_bind_set()), so the rules live in one place.
 *
 * IOMMU groups: the kernel passes a group through only whole, so a device whose group holds other
 * endpoints on host drivers (a GPU and its audio function) is judged with them: the dry run binds
 * the device and those members as one set, as the Prepare of a claim holding all of them does.
 * The device is offered when the set would go, and when each of those members is offered too (a
 * claim can hold only what the slices list): a member a resource selection config leaves out, a
 * bridge on a host driver (the chipset's LPC bridge on lpc_ich) or a member left out for a reason
 * of its own keeps the device out as well. A group that holds the chipset's ISA/LPC bridge is the
 * platform's own (SMBus, SATA, power management beside it) and stays out whole, although the
 * library would bind the members a claim names. Users request a whole group with a constraint
 * matchAttribute on the iommuGroup attribute (docs/dra.md).
 *
 * A dry run reads the guard's sources (mounts, routes), the device's group and the journal: the
 * verdict is kept per device and judged again only when a hot-plug event concerns the device or a
 * member of its IOMMU group, or at a resync when the guard's sources (routes, mounts) differ from
 * those of the last judgement of every device: they change without PCI events, and a resync that
 * finds them as they were judges nothing again. Whether the members a device needs are offered is
 * looked at at every filter (it depends on the list itself, no sysfs read). Each device's reason is
 * logged once, and again only when it changes or goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/* A device's last verdict. */
struct verdict {
	char *reason; /* the library's refusal or the group's; NULL: Prepare would take it */
	char *shown;  /* the reason last logged (with the members'), NULL: offered */
	struct dra_member *needs; /* the members of its group a claim must hold with it */
	size_t n_needs;
	int group;	/* its IOMMU group when judged, -1 for none */
	bool stale;	/* judge again at the next filter */
	bool seen;	/* still among the devices of the last filter */
	bool announced; /* its verdict was logged once */
	bool offered;	/* this filter's answer */
};

struct dra_offer {
	hostdev_ctx *ctx;	 /* our own: the dry runs' errors and notices stay here */
	struct strmap *verdicts; /* device name -> struct verdict */
	uint64_t sources;	 /* dra_offer_sources_hash() when every device was judged */
	unsigned long judged;	 /* judgements made (tests count them) */
	bool changed;		 /* dra_offer_filter(): a verdict changed in this round */
};

/* The files of the guard's sources (vfio_guard.c), below the context's procfs. */
static const char *const guard_sources[] = {"net/route", "net/ipv6_route", "self/mountinfo"};

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

uint64_t dra_offer_sources_hash(hostdev_ctx *ctx)
{
	const char *proc = hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PROC);
	uint64_t h = 14695981039346656037ull;
	unsigned char buf[8192];

	for (size_t i = 0; i < sizeof(guard_sources) / sizeof(guard_sources[0]); i++) {
		char path[4096];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", proc ? proc : "/proc", guard_sources[i]);
		/* A missing file is a state too (and differs from an empty one). */
		h = fnv1a(h, (const unsigned char *)path, strlen(path) + 1);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			h = fnv1a(h, (const unsigned char *)"-", 1);
			continue;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			h = fnv1a(h, buf, (size_t)n);
		close(fd);
	}
	return h;
}

int dra_bind_set(hostdev_ctx *ctx, const char *const *addresses, size_t count, const char *owner,
		 unsigned int flags)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;

	opts.owner = owner;
	opts.lock_timeout_ms = DRA_LOCK_TIMEOUT_MS;
	return hostdev_vfio_bind_set(ctx, addresses, count, &opts, flags);
}

static void verdict_free(void *value)
{
	struct verdict *v = value;

	if (v) {
		free(v->reason);
		free(v->shown);
		free(v->needs);
	}
	free(v);
}

/* The dry runs' own notices (a guard source that cannot be read, for each device judged) are the
 * real bind's to log; here they would repeat at every judgement. */
static void log_quietly(int priority, const char *message, void *userdata)
{
	log_from_library(HOSTDEV_LOG_DEBUG, message, userdata);
}

int dra_offer_new(hostdev_ctx *ctx, struct dra_offer **out)
{
	struct dra_offer *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = claims_work_context(ctx, &o->ctx)) < 0) {
		free(o);
		return r;
	}
	hostdev_ctx_set_log_fn(o->ctx, log_quietly, NULL);
	if (!(o->verdicts = strmap_new(verdict_free))) {
		dra_offer_free(o);
		return -ENOMEM;
	}
	/* Read before the first judgement of every device (all new), which it then stands for. */
	o->sources = dra_offer_sources_hash(o->ctx);
	*out = o;
	return 0;
}

void dra_offer_free(struct dra_offer *o)
{
	if (!o)
		return;
	strmap_free(o->verdicts);
	hostdev_ctx_unref(o->ctx);
	free(o);
}

static void mark_stale(const char *name, void *value, void *userdata)
{
	struct verdict *v = value;
	const int *group = userdata;

	if (!group || (*group >= 0 && v->group == *group))
		v->stale = true;
}

bool dra_offer_resync(struct dra_offer *o)
{
	uint64_t now;

	if (!o)
		return false;
	now = dra_offer_sources_hash(o->ctx);
	if (now == o->sources)
		return false;
	log_info("DRA: the routes or mounts changed: judging every device again");
	o->sources = now;
	strmap_foreach(o->verdicts, mark_stale, NULL);
	return true;
}

unsigned long dra_offer_judged(const struct dra_offer *o)
{
	return o ? o->judged : 0;
}

void dra_offer_forget(struct dra_offer *o, const char *address)
{
	hostdev_pci_device *dev = NULL;
	struct verdict *v;
	char name[64];
	int group = -1;

	if (!o || dra_device_name(address, name, sizeof(name)) < 0)
		return;
	/* The group it is in now (an added function, a new driver) or was in (a removed one): its
	 * members' verdicts may depend on this function's driver. */
	if (hostdev_pci_device_new(o->ctx, address, &dev) == 0) {
		group = hostdev_pci_device_get_iommu_group(dev);
		hostdev_pci_device_unref(dev);
	}
	if ((v = strmap_get(o->verdicts, name))) {
		v->stale = true;
		if (v->group >= 0 && v->group != group)
			strmap_foreach(o->verdicts, mark_stale, &v->group);
	}
	if (group >= 0)
		strmap_foreach(o->verdicts, mark_stale, &group);
}

static int entry_int(const cJSON *attrs, const char *name, int fallback)
{
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(attrs, name), "int");

	return cJSON_IsNumber(v) ? v->valueint : fallback;
}

static const char *error_or(hostdev_ctx *ctx, int r)
{
	const char *why = hostdev_ctx_get_error(ctx);

	return why && *why ? why : strerror(-r);
}

/* The library's refusal of a set in @buf; the members the device was judged with said after it,
 * since the refusal may name one of them rather than the device. */
static void explain(char *buf, size_t size, const char *refusal, const struct dra_group *g)
{
	size_t used;

	snprintf(buf, size, "%s", refusal);
	for (size_t i = 0; i < g->count; i++) {
		used = strlen(buf);
		snprintf(buf + used, size - used, "%s%s (%s)",
			 i ? ", "
			   : " (judged with the members of its IOMMU group a claim must hold "
			     "with it: ",
			 g->needs[i].address, g->needs[i].driver);
	}
	if (g->count) {
		used = strlen(buf);
		snprintf(buf + used, size - used, ")");
	}
}

/* The reason the library (or the group) gives against a Prepare of @address and the members
 * of its group it needs, in @v; nothing logged here. 0 or -ENOMEM. */
static int judge(struct dra_offer *o, struct verdict *v, const char *address)
{
	struct dra_group g;
	char why[1024] = "";
	const char **set = NULL;
	int r;

	o->judged++;
	metrics_device_reads("dra_judgement", 1);
	free(v->reason);
	free(v->needs);
	v->reason = NULL;
	v->needs = NULL;
	v->n_needs = 0;
	v->stale = false;
	if ((r = dra_group_read(o->ctx, address, &g)) < 0) {
		if (r == -ENOMEM)
			return r;
		snprintf(why, sizeof(why), "%s", error_or(o->ctx, r));
	} else if (g.chipset[0]) {
		snprintf(why, sizeof(why),
			 "IOMMU group %d is the chipset's (ISA/LPC bridge %s): passing it through "
			 "would take the platform's functions from the host",
			 g.group, g.chipset);
	} else if (!(set = calloc(g.count + 1, sizeof(*set)))) {
		dra_group_clear(&g);
		return -ENOMEM;
	} else {
		set[0] = address;
		for (size_t i = 0; i < g.count; i++)
			set[i + 1] = g.needs[i].address;
		r = dra_bind_set(o->ctx, set, g.count + 1, NULL, HOSTDEV_BIND_DRY_RUN);
		free(set);
		if (r == -ENOMEM) {
			dra_group_clear(&g);
			return r;
		}
		if (r < 0)
			explain(why, sizeof(why), error_or(o->ctx, r), &g);
	}
	if (why[0] && !(v->reason = strdup(why))) {
		dra_group_clear(&g);
		return -ENOMEM;
	}
	/* Kept (ownership moves) for the filter's look at the members. */
	v->needs = g.needs;
	v->n_needs = g.count;
	return 0;
}

static void mark_unseen(const char *name, void *value, void *userdata)
{
	((struct verdict *)value)->seen = false;
}

static void collect_unseen(const char *name, void *value, void *userdata)
{
	if (!((struct verdict *)value)->seen)
		strmap_set(userdata, name, NULL);
}

static void drop(const char *name, void *value, void *userdata)
{
	strmap_remove(userdata, name);
}

static void start_offered(const char *name, void *value, void *userdata)
{
	struct verdict *v = value;

	v->offered = v->seen && !v->reason;
}

/* The first member @v needs that is not offered (not listed, or left out itself); NULL: none. */
static const struct dra_member *missing_member(struct strmap *verdicts, const struct verdict *v)
{
	for (size_t i = 0; i < v->n_needs; i++) {
		const struct verdict *m;
		char name[64];

		if (dra_device_name(v->needs[i].address, name, sizeof(name)) < 0 ||
		    !(m = strmap_get(verdicts, name)) || !m->offered)
			return &v->needs[i];
	}
	return NULL;
}

/* A device whose needed member is not offered is not offered either; until nothing changes (a
 * chain is at most a group long). */
static void settle(const char *name, void *value, void *userdata)
{
	struct verdict *v = value;
	struct dra_offer *o = userdata;

	if (v->offered && missing_member(o->verdicts, v)) {
		v->offered = false;
		o->changed = true;
	}
}

static struct verdict *verdict_of(struct strmap *verdicts, const char *address)
{
	char name[64];

	return dra_device_name(address, name, sizeof(name)) == 0 ? strmap_get(verdicts, name)
								 : NULL;
}

/* The member to name for @v not being offered: one not listed at all, else one left out for a
 * reason of its own, else any not offered (members of one group keep each other out: naming a
 * peer that is out only because of @v would say nothing). */
static const struct dra_member *cause(struct strmap *verdicts, const struct verdict *v)
{
	const struct dra_member *any = NULL, *own = NULL;

	for (size_t i = 0; i < v->n_needs; i++) {
		const struct verdict *m = verdict_of(verdicts, v->needs[i].address);

		if (!m || !m->seen)
			return &v->needs[i];
		if (m->offered)
			continue;
		if (m->reason && !own)
			own = &v->needs[i];
		if (!any)
			any = &v->needs[i];
	}
	return own ? own : any;
}

/* Why @v, not offered, is not: its own reason or its member's. NULL on no memory. */
static char *reason_of(struct dra_offer *o, const struct verdict *v)
{
	const struct dra_member *m;
	const struct verdict *mv;
	char buf[1024];

	if (v->reason)
		return strdup(v->reason);
	if (!(m = cause(o->verdicts, v)))
		return strdup("its IOMMU group cannot be passed through"); /* not reached */
	mv = verdict_of(o->verdicts, m->address);
	snprintf(buf, sizeof(buf),
		 "IOMMU group %d also holds %s (%s), which a claim must hold with it and which is "
		 "not offered: %s; the group can only be passed through whole",
		 v->group, m->address, m->driver,
		 m->bridge	    ? "a bridge, which stays with the host"
		 : !mv || !mv->seen ? "the devices this driver offers leave it out (the resource "
				      "selection config)"
				    : "it is left out itself");
	return strdup(buf);
}

/* Log @v's verdict when it changed. 0 or -ENOMEM. */
static int announce(struct dra_offer *o, struct verdict *v, const char *name, const char *address)
{
	char *reason = NULL;

	if (!v->offered && !(reason = reason_of(o, v)))
		return -ENOMEM;
	if (reason && (!v->shown || strcmp(v->shown, reason) != 0))
		log_info("DRA: device %s (%s) is left out of the ResourceSlices: "
			 "NodePrepareResources would refuse it: %s",
			 name, address, reason);
	else if (!reason && v->shown)
		log_info("DRA: device %s (%s) is offered again: NodePrepareResources would take it "
			 "now",
			 name, address);
	else if (!reason && !v->announced)
		log_debug("DRA: device %s (%s) is offered", name, address);
	free(v->shown);
	v->shown = reason;
	v->announced = true;
	return 0;
}

static const char *entry_address(const cJSON *entry)
{
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(entry, "attributes");

	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(attrs, DRA_ATTR_PCI_BUS_ID), "string"));
}

int dra_offer_filter(struct dra_offer *o, cJSON *devices)
{
	struct strmap *gone;
	int n = cJSON_GetArraySize(devices);

	/* 1. Judge the devices whose verdict is stale or new. */
	strmap_foreach(o->verdicts, mark_unseen, NULL);
	for (int i = 0; i < n; i++) {
		const cJSON *entry = cJSON_GetArrayItem(devices, i);
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(entry, "attributes");
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "name"));
		const char *address = entry_address(entry);
		struct verdict *v;
		int r;

		if (!name || !address)
			continue;
		if (!(v = strmap_get(o->verdicts, name))) {
			if (!(v = calloc(1, sizeof(*v))) || strmap_set(o->verdicts, name, v) < 0) {
				free(v);
				return -ENOMEM;
			}
			v->stale = true;
		}
		v->seen = true;
		v->group = entry_int(attrs, "iommuGroup", -1);
		if (v->stale && (r = judge(o, v, address)) < 0)
			return r;
	}
	/* A device gone from the offer is forgotten: if it comes back, it is judged (and its
	 * reason logged) anew. */
	if ((gone = strmap_new(NULL))) {
		strmap_foreach(o->verdicts, collect_unseen, gone);
		strmap_foreach(gone, drop, o->verdicts);
		strmap_free(gone);
	}
	/* 2. Offered: its own verdict, and every member it needs offered too. */
	strmap_foreach(o->verdicts, start_offered, NULL);
	do {
		o->changed = false;
		strmap_foreach(o->verdicts, settle, o);
	} while (o->changed);
	/* 3. Log what changed; leave out what is not offered. */
	for (int i = n - 1; i >= 0; i--) {
		const cJSON *entry = cJSON_GetArrayItem(devices, i);
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "name"));
		const char *address = entry_address(entry);
		struct verdict *v;
		int r;

		if (!name || !address || !(v = strmap_get(o->verdicts, name)))
			continue;
		if ((r = announce(o, v, name, address)) < 0)
			return r;
		if (!v->offered)
			cJSON_DeleteItemFromArray(devices, i);
	}
	return 0;
}
