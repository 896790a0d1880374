/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which devices the ResourceSlices may offer: those NodePrepareResources would take. A device it
 * would refuse - host-critical (the guard: the NIC of the default route, the controller of a
 * mounted filesystem), in an IOMMU group with other endpoints on host drivers, without an IOMMU
 * group, an mdev parent with active mediated devices - would be allocated by the scheduler and
 * its pod would fail at Prepare forever. The question is asked of the library's own bind planning:
 * a dry run (HOSTDEV_BIND_DRY_RUN) of the very bind the Prepare makes (dra_bind_device()), so the
 * rules live in one place.
 *
 * A dry run reads the guard's sources (mounts, routes), the device's group and the journal: the
 * verdict is kept per device and judged again only when a hot-plug event concerns the device or a
 * member of its IOMMU group, or at a resync when the guard's sources (routes, mounts) differ from
 * those of the last judgement of every device: they change without PCI events, and a resync that
 * finds them as they were judges nothing again. Each device's reason is logged once, and again
 * only when it changes or goes away.
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
	char *reason; /* the library's refusal; NULL: Prepare would take it */
	int group;    /* its IOMMU group when judged, -1 for none */
	bool stale;   /* judge again at the next filter */
	bool seen;    /* still among the devices of the last filter */
};

struct dra_offer {
	hostdev_ctx *ctx;	 /* our own: the dry runs' errors and notices stay here */
	struct strmap *verdicts; /* device name -> struct verdict */
	uint64_t sources;	 /* dra_offer_sources_hash() when every device was judged */
	unsigned long judged;	 /* judgements made (tests count them) */
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

int dra_bind_device(hostdev_ctx *ctx, const char *address, const char *owner, unsigned int flags)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	const char *addresses[1] = {address};

	opts.owner = owner;
	opts.lock_timeout_ms = DRA_LOCK_TIMEOUT_MS;
	return hostdev_vfio_bind_set(ctx, addresses, 1, &opts, flags);
}

static void verdict_free(void *value)
{
	struct verdict *v = value;

	if (v)
		free(v->reason);
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

/* Judge the device @name at @address again; log when its verdict changes. 0 or -ENOMEM. */
static int judge(struct dra_offer *o, struct verdict *v, bool known, const char *name,
		 const char *address)
{
	int r = dra_bind_device(o->ctx, address, NULL, HOSTDEV_BIND_DRY_RUN);
	const char *why = hostdev_ctx_get_error(o->ctx);
	char *reason = NULL;

	o->judged++;
	metrics_device_reads("dra_judgement", 1);
	if (r == -ENOMEM)
		return r;
	if (r < 0 && !(reason = strdup(why && *why ? why : strerror(-r))))
		return -ENOMEM;
	if (reason && (!v->reason || strcmp(v->reason, reason) != 0))
		log_info("DRA: device %s (%s) is left out of the ResourceSlices: "
			 "NodePrepareResources would refuse it: %s",
			 name, address, reason);
	else if (!reason && v->reason)
		log_info("DRA: device %s (%s) is offered again: NodePrepareResources would take it "
			 "now",
			 name, address);
	else if (!reason && !known)
		log_debug("DRA: device %s (%s) is offered", name, address);
	free(v->reason);
	v->reason = reason;
	v->stale = false;
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

int dra_offer_filter(struct dra_offer *o, cJSON *devices)
{
	struct strmap *gone;

	strmap_foreach(o->verdicts, mark_unseen, NULL);
	for (int i = cJSON_GetArraySize(devices) - 1; i >= 0; i--) {
		const cJSON *entry = cJSON_GetArrayItem(devices, i);
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(entry, "attributes");
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "name"));
		const char *address = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(attrs, DRA_ATTR_PCI_BUS_ID), "string"));
		struct verdict *v;
		bool known = true;
		int r;

		if (!name || !address)
			continue;
		if (!(v = strmap_get(o->verdicts, name))) {
			if (!(v = calloc(1, sizeof(*v))) || strmap_set(o->verdicts, name, v) < 0) {
				free(v);
				return -ENOMEM;
			}
			known = false;
			v->stale = true;
		}
		v->seen = true;
		v->group = entry_int(attrs, "iommuGroup", -1);
		if (v->stale && (r = judge(o, v, known, name, address)) < 0)
			return r;
		if (v->reason)
			cJSON_DeleteItemFromArray(devices, i);
	}
	/* A device gone from the offer is forgotten: if it comes back, it is judged (and its
	 * reason logged) anew. */
	if ((gone = strmap_new(NULL))) {
		strmap_foreach(o->verdicts, collect_unseen, gone);
		strmap_foreach(gone, drop, o->verdicts);
		strmap_free(gone);
	}
	return 0;
}
