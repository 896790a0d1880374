/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binding to vfio-pci, the safe sequence of docs/vfio.md:
 *
 *   plan (addresses, IOMMU groups, guard, mediated devices) -> modules -> journal (before any
 *   sysfs write) -> per device: driver_override=vfio-pci, unbind, drivers_probe, wait for the
 *   link -> per group: wait for /dev/vfio/<group> -> journal records marked complete.
 *
 * A failure during a bind rolls back every device this call touched, in reverse order, and drops
 * their records; a device whose rollback fails keeps its record so that restore can retry.
 * The whole operation runs under the vfio lock (vfio_state.c). Restore is vfio_restore.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "pci/pci.h"
#include "vfio.h"

#define PCI_CLASS_BRIDGE_PCI 0x0604

enum bind_step {
	STEP_NONE = 0,
	STEP_OVERRIDE, /* driver_override written */
	STEP_UNBOUND,  /* unbound from the original driver */
	STEP_PROBED,   /* drivers_probe written (maybe bound) */
};

struct bind_dev {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	char *syspath;
	char *driver; /* current driver when planned */
	char *driver_override;
	int group;
	unsigned int class_code;
	bool requested; /* named by the caller; false for members added by HOSTDEV_BIND_GROUP */
	bool skip;	/* already on vfio-pci */
	/* What the journal says (or will say) the original state was. */
	char *orig_driver;
	char *orig_override;
	bool record_added; /* this call added the record */
	enum bind_step step;
};

struct bind_plan {
	struct bind_dev *devs;
	size_t count, capacity;
};

bool vfio_class_is_bridge(unsigned int class_code)
{
	return (class_code >> 8) == PCI_CLASS_BRIDGE_PCI;
}

bool vfio_driver_group_safe(const char *driver)
{
	return !driver || strcmp(driver, HOSTDEV_VFIO_DRIVER) == 0 ||
	       strcmp(driver, "pci-stub") == 0 || strcmp(driver, "pcieport") == 0;
}

HOSTDEV_EXPORT int hostdev_vfio_options_init(struct hostdev_vfio_options *opts,
					     unsigned int version)
{
	if (!opts || !VERSION_KNOWN(version, HOSTDEV_VFIO_OPTIONS_VERSION))
		return -EINVAL;
	/* A caller built against version 1 has a shorter struct: clear only what it has. */
	memset(opts, 0,
	       version == 1 ? offsetof(struct hostdev_vfio_options, lock_timeout_ms)
			    : sizeof(*opts));
	opts->version = version;
	return 0;
}

int vfio_options_get(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
		     struct hostdev_vfio_options *out)
{
	memset(out, 0, sizeof(*out));
	out->version = HOSTDEV_VFIO_OPTIONS_VERSION;
	out->timeout_ms = HOSTDEV_VFIO_DEFAULT_TIMEOUT_MS;
	out->lock_timeout_ms = HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS;
	if (!opts)
		return 0;
	CHECK_VERSION(
	    ctx, opts->version, HOSTDEV_VFIO_OPTIONS_VERSION,
	    "initialise them with HOSTDEV_VFIO_OPTIONS_INIT or hostdev_vfio_options_init()",
	    "vfio options");
	if (opts->owner && strlen(opts->owner) > HOSTDEV_VFIO_OWNER_MAX)
		return hostdev_error(ctx, -EINVAL,
				     "the owner text is %zu bytes long; at most %d bytes are "
				     "recorded (HOSTDEV_VFIO_OWNER_MAX)",
				     strlen(opts->owner), HOSTDEV_VFIO_OWNER_MAX);
	if (opts->protected_count && !opts->protected_addresses)
		return hostdev_error(ctx, -EINVAL,
				     "protected_count is %zu but protected_addresses is NULL",
				     opts->protected_count);
	for (size_t i = 0; i < opts->protected_count; i++) {
		struct hostdev_pci_address addr;

		int r = pci_address_parse_or_explain(ctx, "protected address",
						     opts->protected_addresses[i], &addr, NULL);

		if (r < 0)
			return r;
	}
	out->owner = opts->owner;
	if (opts->timeout_ms)
		out->timeout_ms = opts->timeout_ms;
	out->protected_addresses = opts->protected_addresses;
	out->protected_count = opts->protected_count;
	/* Members of later versions are read only from callers that have them. */
	if (opts->version >= 2 && opts->lock_timeout_ms)
		out->lock_timeout_ms = opts->lock_timeout_ms;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Waiting for the kernel */

/* /dev/vfio/<group>, or with iommufd-only kernels a <dev>/vfio-dev/vfioN entry. */
static bool vfio_node_present(hostdev_ctx *ctx, const struct bind_dev *d)
{
	char path[PATH_MAX];
	struct stat st;
	struct strv entries = {0};
	bool found;

	if (snprintf(path, sizeof(path), "%s/vfio/%d", ctx->paths[HOSTDEV_PATH_DEV], d->group) <
		(int)sizeof(path) &&
	    stat(path, &st) == 0)
		return true;
	if (snprintf(path, sizeof(path), "%s/vfio-dev", d->syspath) >= (int)sizeof(path))
		return false;
	found = sysfs_list_dir(AT_FDCWD, path, NULL, &entries) == 0 && entries.count > 0;
	strv_clear(&entries);
	return found;
}

static int wait_vfio_node(hostdev_ctx *ctx, const struct bind_dev *d, unsigned int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		if (vfio_node_present(ctx, d))
			return 0;
		if (monotonic_ms() >= deadline)
			break;
		poll_pause();
	}
	return hostdev_error(ctx, -ETIMEDOUT,
			     "%s: bound to vfio-pci but %s/vfio/%d did not appear within %u ms: "
			     "IOMMU group %d is not viable (another device of the group is on a "
			     "host driver) or devtmpfs is not mounted on %s",
			     d->address, ctx->paths[HOSTDEV_PATH_DEV], d->group, timeout_ms,
			     d->group, ctx->paths[HOSTDEV_PATH_DEV]);
}

/* ---------------------------------------------------------------------------------------------- */
/* Bind */

static void plan_clear(struct bind_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		struct bind_dev *d = &plan->devs[i];

		free(d->syspath);
		free(d->driver);
		free(d->driver_override);
		free(d->orig_driver);
		free(d->orig_override);
	}
	free(plan->devs);
	memset(plan, 0, sizeof(*plan));
}

static struct bind_dev *plan_find(struct bind_plan *plan, const char *address)
{
	for (size_t i = 0; i < plan->count; i++)
		if (strcmp(plan->devs[i].address, address) == 0)
			return &plan->devs[i];
	return NULL;
}

static int plan_add(struct bind_plan *plan, hostdev_pci_device *dev, bool requested)
{
	char path[PATH_MAX];
	struct bind_dev *d;

	if (plan->count == plan->capacity) {
		size_t cap = plan->capacity ? plan->capacity * 2 : 8;
		struct bind_dev *devs = realloc(plan->devs, cap * sizeof(*devs));

		if (!devs)
			return -ENOMEM;
		plan->devs = devs;
		plan->capacity = cap;
	}
	d = &plan->devs[plan->count];
	memset(d, 0, sizeof(*d));
	snprintf(d->address, sizeof(d->address), "%s", hostdev_pci_device_get_address(dev));
	d->group = hostdev_pci_device_get_iommu_group(dev);
	d->class_code = hostdev_pci_device_get_class(dev);
	d->requested = requested;
	if (sysfs_pci_device_path(hostdev_pci_device_get_ctx(dev), path, sizeof(path), d->address,
				  NULL) == 0)
		d->syspath = strdup(path);
	d->driver = strdup_or_null(hostdev_pci_device_get_driver(dev));
	d->driver_override = strdup_or_null(hostdev_pci_device_get_driver_override(dev));
	if (!d->syspath || (hostdev_pci_device_get_driver(dev) && !d->driver) ||
	    (hostdev_pci_device_get_driver_override(dev) && !d->driver_override)) {
		free(d->syspath);
		free(d->driver);
		free(d->driver_override);
		return -ENOMEM;
	}
	d->skip = vfio_is_vfio_driver(d->driver);
	plan->count++;
	return 0;
}

static const char *iommu_remedy =
    "vfio-pci cannot take it without one. The IOMMU is off (in the firmware setup, or on Intel "
    "without intel_iommu=on; in a virtual machine: no virtual IOMMU), or it does not cover this "
    "device; hostdev_vfio_check() tells which and what to change";

/* Read the requested devices and refuse what can never be bound. */
static int plan_requested(hostdev_ctx *ctx, const char *const *addresses, size_t count,
			  struct bind_plan *plan)
{
	for (size_t i = 0; i < count; i++) {
		hostdev_pci_device *dev;
		struct hostdev_pci_address addr;
		char canonical[HOSTDEV_PCI_ADDRESS_MAX];
		int r;

		r = pci_address_parse_or_explain(ctx, NULL, addresses[i], &addr, canonical);
		if (r < 0)
			return r;
		if (plan_find(plan, canonical))
			continue;
		r = hostdev_pci_device_new(ctx, canonical, &dev);
		if (r < 0)
			return r;
		if (hostdev_pci_device_is_bridge(dev)) {
			hostdev_pci_device_unref(dev);
			return hostdev_error(
			    ctx, -EINVAL,
			    "%s: is a PCI bridge; bridges stay with the host (bind the "
			    "devices behind it instead)",
			    canonical);
		}
		if (hostdev_pci_device_get_iommu_group(dev) < 0) {
			hostdev_pci_device_unref(dev);
			return hostdev_error(ctx, -EINVAL, "%s: has no IOMMU group: %s", canonical,
					     iommu_remedy);
		}
		r = plan_add(plan, dev, true);
		hostdev_pci_device_unref(dev);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * IOMMU groups: every other non-bridge member must be on vfio-pci (or a group-safe driver, or
 * none), be in the set, or, with HOSTDEV_BIND_GROUP, join the set.
 */
static int plan_groups(hostdev_ctx *ctx, struct bind_plan *plan, unsigned int flags)
{
	size_t requested = plan->count;

	for (size_t i = 0; i < requested; i++) {
		hostdev_pci_device *dev;
		char conflicts[HOSTDEV_ERROR_MAX / 2] = "";
		size_t n, nconf = 0;
		int r;

		/*
		 * A device on vfio-pci already needs no viable group of its own doing; but with
		 * HOSTDEV_BIND_GROUP its members still join: a group bind interrupted after the
		 * named device can have left a member without a driver.
		 */
		if (plan->devs[i].skip && !(flags & HOSTDEV_BIND_GROUP))
			continue;
		r = hostdev_pci_device_new(ctx, plan->devs[i].address, &dev);
		if (r < 0)
			return r;
		n = hostdev_pci_device_get_iommu_group_member_count(dev);
		for (size_t m = 0; m < n; m++) {
			const char *member = hostdev_pci_device_get_iommu_group_member(dev, m);
			hostdev_pci_device *mdev;
			const char *mdrv;

			if (plan_find(plan, member))
				continue;
			if (hostdev_pci_device_new(ctx, member, &mdev) < 0) {
				hostdev_clear_error(ctx);
				continue; /* vanished: it cannot hold the group */
			}
			mdrv = hostdev_pci_device_get_driver(mdev);
			/* With the flag, members on vfio-pci join as already bound (reported). */
			if (hostdev_pci_device_is_bridge(mdev) ||
			    (!(flags & HOSTDEV_BIND_GROUP) && vfio_driver_group_safe(mdrv))) {
				hostdev_pci_device_unref(mdev);
				continue;
			}
			if (flags & HOSTDEV_BIND_GROUP) {
				r = plan_add(plan, mdev, false);
				hostdev_pci_device_unref(mdev);
				if (r < 0) {
					hostdev_pci_device_unref(dev);
					return r;
				}
				continue;
			}
			nconf++;
			snprintf(conflicts + strlen(conflicts),
				 sizeof(conflicts) - strlen(conflicts), "%s%s (%s)",
				 nconf > 1 ? ", " : "", member, mdrv);
			hostdev_pci_device_unref(mdev);
		}
		hostdev_pci_device_unref(dev);
		if (nconf)
			return hostdev_error(ctx, -EBUSY,
					     "%s: IOMMU group %d also holds %s, on host driver%s; "
					     "a group can only be passed through whole: bind the "
					     "whole group with HOSTDEV_BIND_GROUP or name those "
					     "devices too",
					     plan->devs[i].address, plan->devs[i].group, conflicts,
					     nconf > 1 ? "s" : "");
	}
	return 0;
}

static int plan_guard(hostdev_ctx *ctx, struct bind_plan *plan,
		      const struct hostdev_vfio_options *opts, unsigned int flags)
{
	struct vfio_guard guard;
	int r;

	if (flags & HOSTDEV_BIND_FORCE)
		return 0;
	r = vfio_guard_collect(ctx, opts->protected_addresses, opts->protected_count, &guard);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plan->count && r == 0; i++) {
		const struct bind_dev *d = &plan->devs[i];
		const char *why = d->skip ? NULL : vfio_guard_lookup(&guard, d->address);

		if (!why)
			continue;
		if (d->requested)
			r = hostdev_error(
			    ctx, -EPERM,
			    "%s: refusing to hand it to vfio-pci: %s. Unbinding it would "
			    "take it from the host; pass HOSTDEV_BIND_FORCE only if that is "
			    "really meant",
			    d->address, why);
		else
			r = hostdev_error(
			    ctx, -EPERM,
			    "%s (in IOMMU group %d with the requested device): refusing "
			    "to hand it to vfio-pci: %s. The group cannot be passed "
			    "through without it; pass HOSTDEV_BIND_FORCE only if that is really "
			    "meant",
			    d->address, d->group, why);
	}
	vfio_guard_clear(&guard);
	return r;
}

/* What a device of the plan holds that its unbinding would destroy: how many, and why in @why. */
typedef size_t (*plan_conflict_fn)(hostdev_ctx *ctx, hostdev_pci_device *dev, char *why,
				   size_t len);

/* The first device of @plan (not skipped) that @fn finds something on: its index in *@at, the
 * count @fn gave returned (reason in @why); 0 when none; a negative errno. */
static long plan_first_conflict(hostdev_ctx *ctx, const struct bind_plan *plan, plan_conflict_fn fn,
				char *why, size_t len, size_t *at)
{
	for (size_t i = 0; i < plan->count; i++) {
		hostdev_pci_device *dev;
		size_t n;
		int r;

		if (plan->devs[i].skip)
			continue;
		r = hostdev_pci_device_new(ctx, plan->devs[i].address, &dev);
		if (r < 0)
			return r;
		n = fn(ctx, dev, why, len);
		hostdev_pci_device_unref(dev);
		if (n) {
			*at = i;
			return (long)n;
		}
	}
	return 0;
}

/*
 * Mediated devices: unbinding a parent's driver destroys its mdevs (and blocks while a VM holds
 * one open); a PF's driver takes its VFs, and their mdevs, with it. Refused unless forced.
 */
static int plan_mdevs(hostdev_ctx *ctx, struct bind_plan *plan, unsigned int flags)
{
	char why[HOSTDEV_ERROR_MAX / 2];
	size_t at = 0;
	long n;

	if (flags & HOSTDEV_BIND_FORCE)
		return 0;
	n = plan_first_conflict(ctx, plan, vfio_mdev_conflicts, why, sizeof(why), &at);
	if (n <= 0)
		return (int)n;
	return hostdev_error(
	    ctx, -EBUSY,
	    "%s: %s. Unbinding its driver would destroy %s (and blocks while a "
	    "virtual machine holds %s open): remove %s first "
	    "(hostdev_mdev_remove()), or pass HOSTDEV_BIND_FORCE if that is really "
	    "meant",
	    plan->devs[at].address, why, n == 1 ? "it" : "them", n == 1 ? "it" : "one",
	    n == 1 ? "it" : "them");
}

/*
 * NVIDIA vGPUs (docs/vgpu.md): a VF that holds a vGPU type is passed through on the nvidia driver;
 * on vfio-pci it would lose the type (the attribute belongs to NVIDIA's driver), and unbinding the
 * GPU's driver destroys its VFs. Refused whatever the flags: clearing the type is the way.
 */
static int plan_vgpus(hostdev_ctx *ctx, struct bind_plan *plan)
{
	char why[HOSTDEV_ERROR_MAX / 2];
	size_t at = 0;
	long n = plan_first_conflict(ctx, plan, vfio_vgpu_conflicts, why, sizeof(why), &at);

	if (n <= 0)
		return (int)n;
	return hostdev_error(
	    ctx, -EBUSY,
	    "%s: %s. It is not bound to vfio-pci: serve it on the nvidia driver as "
	    "it is, or clear the vGPU type%s first (hostdev_vgpu_clear_type())",
	    plan->devs[at].address, why, n == 1 ? "" : "s");
}

/* Set each device's original state, from its journal record when an earlier bind left one. */
static int plan_journal(hostdev_ctx *ctx, struct bind_plan *plan, struct vfio_journal_data *journal,
			const struct hostdev_vfio_options *opts, unsigned int flags, bool *changed)
{
	int64_t t = (int64_t)time(NULL);

	for (size_t i = 0; i < plan->count; i++) {
		struct bind_dev *d = &plan->devs[i];
		ssize_t idx = vfio_journal_data_find(journal, d->address);
		struct vfio_record rec;

		if (idx >= 0) {
			struct vfio_record *old = &journal->records[idx];

			/* The record predates this call: it holds the true original driver. */
			if (!(d->orig_driver = strdup_or_null(old->driver)) && old->driver)
				return -ENOMEM;
			if (!(d->orig_override = strdup_or_null(old->driver_override)) &&
			    old->driver_override)
				return -ENOMEM;
			if ((flags & HOSTDEV_BIND_GROUP) && !old->group_bind) {
				old->group_bind = true;
				*changed = true;
			}
			if (d->skip && !old->complete) {
				old->complete = true;
				*changed = true;
			}
			continue;
		}
		if (d->skip)
			continue; /* on vfio-pci without us: not ours to record */
		/*
		 * An override that already says vfio-pci (set by hand, never probed) is not worth
		 * giving back: restore never writes vfio-pci, and it would keep the original
		 * driver from binding (the kernel matches only the override's driver).
		 */
		if (vfio_is_vfio_driver(d->driver_override)) {
			free(d->driver_override);
			d->driver_override = NULL;
		}
		if (d->driver && !vfio_driver_name_valid(d->driver))
			return hostdev_error(ctx, -EINVAL, "%s: driver name '%s' is not usable",
					     d->address, d->driver);
		if (d->driver_override && !vfio_driver_name_valid(d->driver_override))
			return hostdev_error(ctx, -EINVAL, "%s: driver_override '%s' is not usable",
					     d->address, d->driver_override);
		if (!(d->orig_driver = strdup_or_null(d->driver)) && d->driver)
			return -ENOMEM;
		if (!(d->orig_override = strdup_or_null(d->driver_override)) && d->driver_override)
			return -ENOMEM;
		memset(&rec, 0, sizeof(rec));
		snprintf(rec.address, sizeof(rec.address), "%s", d->address);
		rec.driver = d->driver;
		rec.driver_override = d->driver_override;
		rec.iommu_group = d->group;
		rec.time = t;
		rec.owner = (char *)opts->owner;
		rec.group_bind = (flags & HOSTDEV_BIND_GROUP) != 0;
		rec.complete = false;
		if (vfio_journal_data_add(journal, &rec) < 0)
			return -ENOMEM;
		d->record_added = true;
		*changed = true;
	}
	return 0;
}

static int bind_one(hostdev_ctx *ctx, struct bind_dev *d, unsigned int timeout_ms)
{
	char cur[VFIO_DRIVER_NAME_MAX];
	int r;

	/*
	 * Each step counts as done once its store succeeded, or timed out (the kernel may still
	 * complete a store the watchdog gave up on), so that a rollback undoes it.
	 */
	r = vfio_device_store(ctx, d->address, "driver_override", HOSTDEV_VFIO_DRIVER,
			      "setting driver_override", timeout_ms);
	if (r == 0 || r == -ETIMEDOUT)
		d->step = STEP_OVERRIDE;
	if (r < 0)
		return r;
	r = vfio_current_driver(ctx, d->address, cur, sizeof(cur));
	if (r < 0)
		return hostdev_error(ctx, r, "%s: device disappeared during the bind", d->address);
	if (cur[0] && !vfio_is_vfio_driver(cur)) {
		r = vfio_driver_store(ctx, d->address, cur, "unbind", "unbinding from its driver",
				      timeout_ms);
		if (r == -ETIMEDOUT)
			d->step = STEP_UNBOUND;
		if (r < 0)
			return r;
	}
	d->step = STEP_UNBOUND;
	if (!vfio_is_vfio_driver(cur)) {
		r = vfio_sysfs_store(ctx, d->address, "bus/pci/drivers_probe", d->address,
				     "probing vfio-pci", timeout_ms);
		/* The step counts as done even on failure: the kernel may have bound it. */
		d->step = STEP_PROBED;
		if (r < 0)
			return r;
	}
	return vfio_wait_driver(ctx, d->address, HOSTDEV_VFIO_DRIVER, timeout_ms);
}

/* Undo the devices this call touched, newest first; drop the records of those put back. */
static void rollback(hostdev_ctx *ctx, const struct vfio_state *state, struct bind_plan *plan,
		     struct vfio_journal_data *journal, unsigned int timeout_ms, int err)
{
	char original[HOSTDEV_ERROR_MAX], failed[HOSTDEV_ERROR_MAX / 2] = "";
	size_t nfailed = 0;
	int r;

	snprintf(original, sizeof(original), "%s", hostdev_ctx_get_error(ctx));
	for (size_t i = plan->count; i-- > 0;) {
		struct bind_dev *d = &plan->devs[i];
		struct vfio_put_back t = {d->address, d->orig_driver, d->orig_override, false};
		ssize_t idx;

		if (d->skip || d->step == STEP_NONE) {
			if (d->record_added &&
			    (idx = vfio_journal_data_find(journal, d->address)) >= 0)
				vfio_journal_data_remove(journal, (size_t)idx);
			continue;
		}
		r = vfio_put_back(ctx, &t, timeout_ms);
		if (r < 0 && r != -ENODEV) {
			log_warn(ctx, "rollback: %s", hostdev_ctx_get_error(ctx));
			nfailed++;
			snprintf(failed + strlen(failed), sizeof(failed) - strlen(failed), "%s%s",
				 nfailed > 1 ? ", " : "", d->address);
			continue;
		}
		d->step = STEP_NONE;
		/* Put back: a record that predates this call is stale now, ours is done with. */
		if ((idx = vfio_journal_data_find(journal, d->address)) >= 0)
			vfio_journal_data_remove(journal, (size_t)idx);
	}
	r = vfio_journal_store(ctx, state, journal);
	if (nfailed)
		hostdev_error(ctx, err,
			      "%s. Rolling back failed for %s (journal record%s kept): restore "
			      "them with hostdev_vfio_restore_all()",
			      original, failed, nfailed > 1 ? "s" : "");
	else if (r < 0)
		hostdev_error(ctx, err,
			      "%s. The devices were put back, but the journal could not be updated "
			      "(%s)",
			      original, strerror(-r));
	else
		hostdev_error(ctx, err, "%s. Rolled back: every device is on its original driver",
			      original);
}

/* One result entry per planned device, in plan order. 0 or -ENOMEM. */
static int report_plan(hostdev_vfio_result *result, const struct bind_plan *plan,
		       const struct vfio_journal_data *journal, bool dry_run)
{
	for (size_t i = 0; i < plan->count; i++) {
		const struct bind_dev *d = &plan->devs[i];
		bool recorded = vfio_journal_data_find(journal, d->address) >= 0;
		const char *was = d->driver ? d->driver : "no driver";
		char along[64] = "";
		int r;

		if (!d->requested)
			snprintf(along, sizeof(along), "; it shares IOMMU group %d", d->group);
		if (d->skip && recorded)
			r = vfio_result_add(
			    result, d->address, HOSTDEV_VFIO_OUTCOME_ALREADY, HOSTDEV_VFIO_DRIVER,
			    true, "already on vfio-pci; restore gives it back to %s%s",
			    d->orig_driver ? d->orig_driver : "the kernel (no driver)", along);
		else if (d->skip)
			r = vfio_result_add(
			    result, d->address, HOSTDEV_VFIO_OUTCOME_ALREADY, HOSTDEV_VFIO_DRIVER,
			    false,
			    "already on vfio-pci, not bound by libhostdev (no journal "
			    "record, so restore does not know its original driver)%s",
			    along);
		else if (dry_run)
			r = vfio_result_add(result, d->address, HOSTDEV_VFIO_OUTCOME_WOULD_BIND,
					    d->driver, recorded,
					    "would be bound to vfio-pci: driver_override set to "
					    "vfio-pci, %s%s, drivers_probe%s",
					    d->driver ? "unbound from " : "",
					    d->driver ? d->driver : "no driver to unbind", along);
		else
			r = vfio_result_add(result, d->address, HOSTDEV_VFIO_OUTCOME_BOUND,
					    HOSTDEV_VFIO_DRIVER, recorded,
					    "bound to vfio-pci (was %s)%s", was, along);
		if (r == 0)
			r = vfio_result_set_bind_details(
			    result, hostdev_vfio_result_get_count(result) - 1, d->group, d->driver,
			    recorded ? d->orig_driver : NULL, d->requested);
		if (r < 0)
			return r;
	}
	return 0;
}

int vfio_bind_locked_result(hostdev_ctx *ctx, const struct vfio_state *state,
			    const char *const *addresses, size_t count,
			    const struct hostdev_vfio_options *opts, unsigned int flags,
			    hostdev_vfio_result *result)
{
	struct bind_plan plan = {0};
	struct vfio_journal_data journal = {0};
	bool changed = false, dry_run = flags & HOSTDEV_BIND_DRY_RUN;
	size_t todo = 0;
	int r;

	r = plan_requested(ctx, addresses, count, &plan);
	if (r == 0)
		r = plan_groups(ctx, &plan, flags);
	if (r == 0)
		r = plan_guard(ctx, &plan, opts, flags);
	if (r == 0)
		r = plan_mdevs(ctx, &plan, flags);
	if (r == 0)
		r = plan_vgpus(ctx, &plan);
	if (r == 0)
		r = vfio_journal_load(ctx, state, &journal);
	if (r == 0)
		r = plan_journal(ctx, &plan, &journal, opts, flags, &changed);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < plan.count; i++)
		todo += !plan.devs[i].skip;
	if (dry_run) {
		r = result ? report_plan(result, &plan, &journal, true) : 0;
		if (r == 0)
			r = (int)todo;
		goto out;
	}
	if (todo == 0) {
		if (changed)
			r = vfio_journal_store(ctx, state, &journal);
		if (r == 0 && result)
			r = report_plan(result, &plan, &journal, false);
		goto out;
	}
	r = hostdev_vfio_load_modules(ctx);
	if (r < 0)
		goto out;
	/* The durable record comes before the first sysfs write. */
	r = vfio_journal_store(ctx, state, &journal);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < plan.count && r >= 0; i++) {
		if (!plan.devs[i].skip)
			r = bind_one(ctx, &plan.devs[i], opts->timeout_ms);
	}
	for (size_t i = 0; i < plan.count && r >= 0; i++) {
		if (!plan.devs[i].skip)
			r = wait_vfio_node(ctx, &plan.devs[i], opts->timeout_ms);
	}
	if (r < 0) {
		rollback(ctx, state, &plan, &journal, opts->timeout_ms, r);
		goto out;
	}
	for (size_t i = 0; i < plan.count; i++) {
		ssize_t idx = vfio_journal_data_find(&journal, plan.devs[i].address);

		if (idx >= 0)
			journal.records[idx].complete = true;
	}
	r = vfio_journal_store(ctx, state, &journal);
	if (r < 0) {
		/* Bound and recorded (as incomplete): restore still works. */
		log_warn(ctx,
			 "devices bound, but marking their journal records complete failed: %s",
			 hostdev_ctx_get_error(ctx));
		hostdev_clear_error(ctx);
	}
	for (size_t i = 0; i < plan.count; i++)
		if (!plan.devs[i].skip)
			log_info(ctx, "%s: bound to vfio-pci (was %s)", plan.devs[i].address,
				 plan.devs[i].orig_driver ? plan.devs[i].orig_driver : "unbound");
	/* The devices are bound: a result that cannot be built is the caller's -ENOMEM only. */
	r = result ? report_plan(result, &plan, &journal, false) : 0;
	if (r == 0)
		r = (int)todo;
out:
	vfio_journal_data_clear(&journal);
	plan_clear(&plan);
	return r;
}

int vfio_bind_locked(hostdev_ctx *ctx, const struct vfio_state *state, const char *const *addresses,
		     size_t count, const struct hostdev_vfio_options *opts, unsigned int flags)
{
	return vfio_bind_locked_result(ctx, state, addresses, count, opts, flags, NULL);
}

#define BIND_FLAGS_KNOWN (HOSTDEV_BIND_GROUP | HOSTDEV_BIND_FORCE | HOSTDEV_BIND_DRY_RUN)

HOSTDEV_EXPORT int hostdev_vfio_bind_with_result(hostdev_ctx *ctx, const char *const *addresses,
						 size_t count,
						 const struct hostdev_vfio_options *opts,
						 unsigned int flags, hostdev_vfio_result **out)
{
	struct hostdev_vfio_options o;
	struct vfio_state state = {.lock_fd = -1};
	hostdev_vfio_result *result = NULL;
	int r;

	if (out)
		*out = NULL;
	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, BIND_FLAGS_KNOWN, "unknown bind");
	if (count && !addresses)
		return hostdev_error(ctx, -EINVAL, "no addresses given");
	r = vfio_options_get(ctx, opts, &o);
	if (r < 0)
		return r;
	if (out && !(result = vfio_result_new()))
		return -ENOMEM;
	if (count == 0)
		goto done;
	/* A dry run reads the journal like hostdev_vfio_journal_read(): no lock, nothing created.
	 */
	if (flags & HOSTDEV_BIND_DRY_RUN)
		r = vfio_dir_open(ctx, ctx->paths[HOSTDEV_PATH_STATE], "state directory",
				  VFIO_DIR_READ, &state.dir);
	else
		r = vfio_state_lock(ctx, o.lock_timeout_ms, &state);
	if (r < 0) {
		hostdev_vfio_result_unref(result);
		return r;
	}
	r = vfio_bind_locked_result(ctx, &state, addresses, count, &o, flags, result);
	if (flags & HOSTDEV_BIND_DRY_RUN)
		vfio_dir_close(&state.dir);
	else
		vfio_state_unlock(&state);
	if (r < 0) {
		hostdev_vfio_result_unref(result);
		return r;
	}
done:
	if (out)
		*out = result;
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_bind_set(hostdev_ctx *ctx, const char *const *addresses,
					 size_t count, const struct hostdev_vfio_options *opts,
					 unsigned int flags)
{
	return hostdev_vfio_bind_with_result(ctx, addresses, count, opts, flags, NULL);
}

HOSTDEV_EXPORT int hostdev_vfio_bind(hostdev_ctx *ctx, const char *address,
				     const struct hostdev_vfio_options *opts, unsigned int flags)
{
	return hostdev_vfio_bind_set(ctx, &address, 1, opts, flags);
}
