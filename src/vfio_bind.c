/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binding to vfio-pci and restoring, the safe sequence of docs/vfio.md:
 *
 *   bind:    plan (addresses, IOMMU groups, guard) -> modules -> journal (before any sysfs write)
 *            -> per device: driver_override=vfio-pci, unbind, drivers_probe, wait for the link
 *            -> per group: wait for /dev/vfio/<group> -> journal records marked complete.
 *   restore: driver_override back, unbind from vfio-pci, bind the recorded driver (drivers_probe
 *            when there was none), wait for the link, drop the record.
 *
 * A failure during a bind rolls back every device this call touched, in reverse order, and drops
 * their records; a device whose rollback fails keeps its record so that restore can retry.
 * The whole operation runs under the vfio lock (vfio_journal.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sysfs.h"
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

static bool is_vfio(const char *driver)
{
	return driver && strcmp(driver, HOSTDEV_VFIO_DRIVER) == 0;
}

HOSTDEV_EXPORT int hostdev_vfio_options_init(struct hostdev_vfio_options *opts,
					     unsigned int version)
{
	if (!opts || version == 0 || version > HOSTDEV_VFIO_OPTIONS_VERSION)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

int vfio_options_get(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
		     struct hostdev_vfio_options *out)
{
	memset(out, 0, sizeof(*out));
	out->version = HOSTDEV_VFIO_OPTIONS_VERSION;
	out->timeout_ms = HOSTDEV_VFIO_DEFAULT_TIMEOUT_MS;
	if (!opts)
		return 0;
	if (opts->version == 0 || opts->version > HOSTDEV_VFIO_OPTIONS_VERSION)
		return hostdev_error(ctx, -EINVAL,
				     "vfio options version %u is not supported (this libhostdev "
				     "knows version %d): initialise them with "
				     "HOSTDEV_VFIO_OPTIONS_INIT or hostdev_vfio_options_init()",
				     opts->version, HOSTDEV_VFIO_OPTIONS_VERSION);
	if (opts->owner && strlen(opts->owner) >= VFIO_OWNER_MAX)
		return hostdev_error(ctx, -EINVAL, "owner text is longer than %d bytes",
				     VFIO_OWNER_MAX - 1);
	if (opts->protected_count && !opts->protected_addresses)
		return hostdev_error(ctx, -EINVAL,
				     "protected_count is %zu but protected_addresses is NULL",
				     opts->protected_count);
	for (size_t i = 0; i < opts->protected_count; i++) {
		struct hostdev_pci_address addr;

		if (!opts->protected_addresses[i] ||
		    hostdev_pci_address_parse(opts->protected_addresses[i], &addr) < 0)
			return hostdev_error(
			    ctx, -EINVAL,
			    "protected address '%s' is not a PCI address: expected "
			    "DDDD:BB:SS.F",
			    opts->protected_addresses[i] ? opts->protected_addresses[i] : "(null)");
	}
	out->owner = opts->owner;
	if (opts->timeout_ms)
		out->timeout_ms = opts->timeout_ms;
	out->protected_addresses = opts->protected_addresses;
	out->protected_count = opts->protected_count;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* sysfs writes and polling */

static int sysfs_store(hostdev_ctx *ctx, const char *address, const char *rel, const char *value,
		       const char *what)
{
	char path[PATH_MAX];
	int r;

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), rel) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", address);
	log_debug(ctx, "%s: write '%s' to %s", address, strcmp(value, "\n") ? value : "\\n", path);
	r = sysfs_write_path(path, value);
	if (r < 0)
		return hostdev_error(ctx, r, "%s: %s failed: writing '%s' to %s: %s", address, what,
				     strcmp(value, "\n") ? value : "\\n", path, strerror(-r));
	return 0;
}

static char *device_rel(const char *address, const char *attr)
{
	char *rel;

	if (asprintf(&rel, "bus/pci/devices/%s/%s", address, attr) < 0)
		return NULL;
	return rel;
}

static int device_store(hostdev_ctx *ctx, const char *address, const char *attr, const char *value,
			const char *what)
{
	char *rel = device_rel(address, attr);
	int r;

	if (!rel)
		return -ENOMEM;
	r = sysfs_store(ctx, address, rel, value, what);
	free(rel);
	return r;
}

static int driver_store(hostdev_ctx *ctx, const char *address, const char *driver, const char *file,
			const char *what)
{
	char rel[PATH_MAX];

	if (snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/%s", driver, file) >= (int)sizeof(rel))
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: driver name too long", address);
	return sysfs_store(ctx, address, rel, address, what);
}

static bool driver_registered(hostdev_ctx *ctx, const char *driver)
{
	char path[PATH_MAX];
	struct stat st;

	return snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s", ctx_sysfs(ctx), driver) <
		   (int)sizeof(path) &&
	       stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Current driver of @address into @buf ("" for none). -ENODEV when the device is gone. */
static int current_driver(hostdev_ctx *ctx, const char *address, char *buf, size_t size)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", ctx_sysfs(ctx), address) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return -ENODEV;
	if (snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", ctx_sysfs(ctx), address) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	r = sysfs_read_link_basename(AT_FDCWD, path, buf, size);
	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

/*
 * Wait until the driver of @address is @want (NULL: any state is fine once the link is stable,
 * i.e. return at once). Returns 0, -ETIMEDOUT with the message naming what was seen, -ENODEV.
 */
static int wait_driver(hostdev_ctx *ctx, const char *address, const char *want,
		       unsigned int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	char cur[VFIO_DRIVER_NAME_MAX];
	int r;

	for (;;) {
		r = current_driver(ctx, address, cur, sizeof(cur));
		if (r < 0)
			return hostdev_error(ctx, r, "%s: device disappeared while waiting for %s",
					     address, want ? want : "its driver");
		if (!want || strcmp(cur, want) == 0)
			return 0;
		if (monotonic_ms() >= deadline)
			break;
		poll_pause();
	}
	return hostdev_error(ctx, -ETIMEDOUT,
			     "%s: not bound to %s after %u ms (driver: %s); the kernel log (dmesg) "
			     "says why the probe failed",
			     address, want, timeout_ms, cur[0] ? cur : "none");
}

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
/* Restoring one device (restore and rollback share it) */

struct restore_target {
	const char *address;
	const char *driver;	     /* original driver, NULL none */
	const char *driver_override; /* original override, NULL unset */
	bool probe_if_none;	     /* drivers_probe when there was no driver */
};

/*
 * Put @t back: driver_override, unbind from vfio-pci, bind the original driver, verify.
 * Returns 0, -ENODEV when the device does not exist, another negative errno with the message.
 */
static int restore_device(hostdev_ctx *ctx, const struct restore_target *t, unsigned int timeout_ms)
{
	char cur[VFIO_DRIVER_NAME_MAX];
	int r;

	r = current_driver(ctx, t->address, cur, sizeof(cur));
	if (r < 0)
		return hostdev_error(ctx, r == -ENODEV ? -ENODEV : r,
				     "%s: no such device under %s/bus/pci/devices", t->address,
				     ctx_sysfs(ctx));
	r = device_store(ctx, t->address, "driver_override",
			 t->driver_override ? t->driver_override : "\n",
			 "restoring driver_override");
	if (r < 0)
		return r;
	if (is_vfio(cur)) {
		r = driver_store(ctx, t->address, HOSTDEV_VFIO_DRIVER, "unbind",
				 "unbinding from vfio-pci");
		if (r < 0)
			return r;
		cur[0] = '\0';
	}
	if (cur[0]) {
		if (!t->driver || strcmp(cur, t->driver) != 0)
			log_warn(ctx,
				 "%s: is on %s, not on vfio-pci or its recorded driver %s; left "
				 "as it is",
				 t->address, cur, t->driver ? t->driver : "(none)");
		return 0;
	}
	if (t->driver && driver_registered(ctx, t->driver)) {
		r = driver_store(ctx, t->address, t->driver, "bind", "binding the original driver");
		if (r < 0) {
			/* It may have been bound meanwhile (a uevent-triggered probe). */
			if (current_driver(ctx, t->address, cur, sizeof(cur)) == 0 &&
			    strcmp(cur, t->driver) == 0)
				return 0;
			return r;
		}
	} else if (t->driver || t->probe_if_none) {
		if (t->driver)
			log_warn(ctx,
				 "%s: driver %s is not registered (module unloaded?): letting "
				 "the kernel probe",
				 t->address, t->driver);
		r = sysfs_store(ctx, t->address, "bus/pci/drivers_probe", t->address, "reprobing");
		if (r < 0)
			return r;
	}
	if (!t->driver)
		return 0;
	r = wait_driver(ctx, t->address, t->driver, timeout_ms);
	if (r < 0) {
		char why[HOSTDEV_ERROR_MAX];

		snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(ctx));
		return hostdev_error(ctx, r, "%s; could not give it back to %s", why, t->driver);
	}
	return 0;
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
	d->syspath = device_rel(d->address, "");
	if (d->syspath) {
		char *abs;

		if (asprintf(&abs, "%s/%s", ctx_sysfs(hostdev_pci_device_get_ctx(dev)),
			     d->syspath) < 0)
			abs = NULL;
		free(d->syspath);
		d->syspath = abs;
	}
	d->driver = strdup_or_null(hostdev_pci_device_get_driver(dev));
	d->driver_override = strdup_or_null(hostdev_pci_device_get_driver_override(dev));
	if (!d->syspath || (hostdev_pci_device_get_driver(dev) && !d->driver) ||
	    (hostdev_pci_device_get_driver_override(dev) && !d->driver_override)) {
		free(d->syspath);
		free(d->driver);
		free(d->driver_override);
		return -ENOMEM;
	}
	d->skip = is_vfio(d->driver);
	plan->count++;
	return 0;
}

static const char *iommu_remedy =
    "the IOMMU is off, so vfio-pci cannot take it. Enable VT-d (Intel) or AMD-Vi (AMD) in the "
    "firmware and boot with intel_iommu=on or amd_iommu=on; `hostdev check` tells what is missing";

/* Read the requested devices and refuse what can never be bound. */
static int plan_requested(hostdev_ctx *ctx, const char *const *addresses, size_t count,
			  struct bind_plan *plan)
{
	for (size_t i = 0; i < count; i++) {
		hostdev_pci_device *dev;
		struct hostdev_pci_address addr;
		char canonical[HOSTDEV_PCI_ADDRESS_MAX];
		int r;

		if (!addresses[i] || hostdev_pci_address_parse(addresses[i], &addr) < 0)
			return hostdev_error(ctx, -EINVAL,
					     "'%s' is not a PCI address: expected DDDD:BB:SS.F or "
					     "BB:SS.F, such as 0000:3b:00.0",
					     addresses[i] ? addresses[i] : "(null)");
		hostdev_pci_address_format(&addr, canonical, sizeof(canonical));
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

		if (plan->devs[i].skip)
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
			if (hostdev_pci_device_is_bridge(mdev) ||
			    (!(flags & HOSTDEV_BIND_GROUP) && vfio_driver_group_safe(mdrv)) ||
			    ((flags & HOSTDEV_BIND_GROUP) && is_vfio(mdrv))) {
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
					     "a group can only be "
					     "passed through whole: bind the group "
					     "(HOSTDEV_BIND_GROUP, hostdev bind "
					     "--group) or name those devices too",
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
			    "take it from the host; pass HOSTDEV_BIND_FORCE (hostdev "
			    "bind --force) only if that is really meant",
			    d->address, why);
		else
			r = hostdev_error(
			    ctx, -EPERM,
			    "%s (in IOMMU group %d with the requested device): refusing "
			    "to hand it to vfio-pci: %s. The group cannot be passed "
			    "through without it; pass HOSTDEV_BIND_FORCE (hostdev bind "
			    "--force) only if that is really meant",
			    d->address, d->group, why);
	}
	vfio_guard_clear(&guard);
	return r;
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

	r = device_store(ctx, d->address, "driver_override", HOSTDEV_VFIO_DRIVER,
			 "setting driver_override");
	if (r < 0)
		return r;
	d->step = STEP_OVERRIDE;
	r = current_driver(ctx, d->address, cur, sizeof(cur));
	if (r < 0)
		return hostdev_error(ctx, r, "%s: device disappeared during the bind", d->address);
	if (cur[0] && !is_vfio(cur)) {
		r = driver_store(ctx, d->address, cur, "unbind", "unbinding from its driver");
		if (r < 0)
			return r;
	}
	d->step = STEP_UNBOUND;
	if (!is_vfio(cur)) {
		r = sysfs_store(ctx, d->address, "bus/pci/drivers_probe", d->address,
				"probing vfio-pci");
		/* The step counts as done even on failure: the kernel may have bound it. */
		d->step = STEP_PROBED;
		if (r < 0)
			return r;
	}
	return wait_driver(ctx, d->address, HOSTDEV_VFIO_DRIVER, timeout_ms);
}

/* Undo the devices this call touched, newest first; drop the records of those put back. */
static void rollback(hostdev_ctx *ctx, struct bind_plan *plan, struct vfio_journal_data *journal,
		     unsigned int timeout_ms, int err)
{
	char original[HOSTDEV_ERROR_MAX], failed[HOSTDEV_ERROR_MAX / 2] = "";
	size_t nfailed = 0;
	int r;

	snprintf(original, sizeof(original), "%s", hostdev_ctx_get_error(ctx));
	for (size_t i = plan->count; i-- > 0;) {
		struct bind_dev *d = &plan->devs[i];
		struct restore_target t = {d->address, d->orig_driver, d->orig_override, false};
		ssize_t idx;

		if (d->skip || d->step == STEP_NONE) {
			if (d->record_added &&
			    (idx = vfio_journal_data_find(journal, d->address)) >= 0)
				vfio_journal_data_remove(journal, (size_t)idx);
			continue;
		}
		r = restore_device(ctx, &t, timeout_ms);
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
	r = vfio_journal_store(ctx, journal);
	if (nfailed)
		hostdev_error(ctx, err,
			      "%s. Rolling back failed for %s (journal record%s kept): run hostdev "
			      "restore --all",
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

int vfio_bind_locked(hostdev_ctx *ctx, const char *const *addresses, size_t count,
		     const struct hostdev_vfio_options *opts, unsigned int flags)
{
	struct bind_plan plan = {0};
	struct vfio_journal_data journal = {0};
	bool changed = false;
	size_t todo = 0;
	int r;

	r = plan_requested(ctx, addresses, count, &plan);
	if (r == 0)
		r = plan_groups(ctx, &plan, flags);
	if (r == 0)
		r = plan_guard(ctx, &plan, opts, flags);
	if (r == 0)
		r = vfio_journal_load(ctx, &journal);
	if (r == 0)
		r = plan_journal(ctx, &plan, &journal, opts, flags, &changed);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < plan.count; i++)
		todo += !plan.devs[i].skip;
	if (todo == 0) {
		if (changed)
			r = vfio_journal_store(ctx, &journal);
		goto out;
	}
	r = hostdev_vfio_load_modules(ctx);
	if (r < 0)
		goto out;
	/* The durable record comes before the first sysfs write. */
	r = vfio_journal_store(ctx, &journal);
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
		rollback(ctx, &plan, &journal, opts->timeout_ms, r);
		goto out;
	}
	for (size_t i = 0; i < plan.count; i++) {
		ssize_t idx = vfio_journal_data_find(&journal, plan.devs[i].address);

		if (idx >= 0)
			journal.records[idx].complete = true;
	}
	r = vfio_journal_store(ctx, &journal);
	if (r < 0) {
		/* Bound and recorded (as incomplete): restore still works. */
		log_warn(ctx,
			 "devices bound, but marking their journal records complete failed: %s",
			 hostdev_ctx_get_error(ctx));
		hostdev_clear_error(ctx);
	}
	r = (int)todo;
	for (size_t i = 0; i < plan.count; i++)
		if (!plan.devs[i].skip)
			log_info(ctx, "%s: bound to vfio-pci (was %s)", plan.devs[i].address,
				 plan.devs[i].orig_driver ? plan.devs[i].orig_driver : "unbound");
out:
	vfio_journal_data_clear(&journal);
	plan_clear(&plan);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_bind_set(hostdev_ctx *ctx, const char *const *addresses,
					 size_t count, const struct hostdev_vfio_options *opts,
					 unsigned int flags)
{
	struct hostdev_vfio_options o;
	int fd, r;

	if (!ctx)
		return -EINVAL;
	if (flags & ~(unsigned int)(HOSTDEV_BIND_GROUP | HOSTDEV_BIND_FORCE))
		return hostdev_error(ctx, -EINVAL, "unknown bind flags 0x%x",
				     flags &
					 ~(unsigned int)(HOSTDEV_BIND_GROUP | HOSTDEV_BIND_FORCE));
	if (count && !addresses)
		return hostdev_error(ctx, -EINVAL, "no addresses given");
	r = vfio_options_get(ctx, opts, &o);
	if (r < 0)
		return r;
	if (count == 0)
		return 0;
	fd = vfio_lock(ctx);
	if (fd < 0)
		return fd;
	r = vfio_bind_locked(ctx, addresses, count, &o, flags);
	vfio_unlock(fd);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_bind(hostdev_ctx *ctx, const char *address,
				     const struct hostdev_vfio_options *opts, unsigned int flags)
{
	return hostdev_vfio_bind_set(ctx, &address, 1, opts, flags);
}

/* ---------------------------------------------------------------------------------------------- */
/* Restore */

/* Mark @address's record (and its group's when it was a group bind) for restoring. */
static void select_record(struct vfio_journal_data *journal, size_t idx, bool *selected)
{
	const struct vfio_record *rec = &journal->records[idx];

	selected[idx] = true;
	if (!rec->group_bind)
		return;
	for (size_t i = 0; i < journal->count; i++)
		if (journal->records[i].group_bind &&
		    journal->records[i].iommu_group == rec->iommu_group)
			selected[i] = true;
}

/* Devices without a record: nothing to do off vfio-pci; on it, refuse or reprobe. */
static int restore_unjournaled(hostdev_ctx *ctx, const char *address, unsigned int flags,
			       unsigned int timeout_ms, int *restored)
{
	char cur[VFIO_DRIVER_NAME_MAX];
	struct restore_target t = {address, NULL, NULL, true};
	int r;

	r = current_driver(ctx, address, cur, sizeof(cur));
	if (r < 0)
		return hostdev_error(ctx, r == -ENODEV ? -ENODEV : r,
				     "%s: no such device under %s/bus/pci/devices and no journal "
				     "record",
				     address, ctx_sysfs(ctx));
	if (!is_vfio(cur))
		return 0; /* not on vfio-pci: nothing to give back */
	if (!(flags & HOSTDEV_RESTORE_UNJOURNALED))
		return hostdev_error(
		    ctx, -ENOENT,
		    "%s: is on vfio-pci but the journal has no record of it (it was "
		    "not bound by libhostdev), so its original driver is unknown; "
		    "pass HOSTDEV_RESTORE_UNJOURNALED (hostdev restore --reprobe) to "
		    "let the kernel choose a driver",
		    address);
	r = restore_device(ctx, &t, timeout_ms);
	if (r == 0)
		(*restored)++;
	return r;
}

/* Restore the selected records, newest first, storing the journal after each device. */
static int restore_selected(hostdev_ctx *ctx, struct vfio_journal_data *journal, bool *selected,
			    unsigned int timeout_ms, int *restored)
{
	for (size_t i = journal->count; i-- > 0;) {
		struct vfio_record *rec = &journal->records[i];
		struct restore_target t = {rec->address, rec->driver, rec->driver_override, true};
		int r;

		if (!selected[i])
			continue;
		r = restore_device(ctx, &t, timeout_ms);
		if (r == -ENODEV) {
			log_warn(ctx,
				 "%s: no longer exists; dropping its journal record (the kernel "
				 "forgot its driver_override with it)",
				 rec->address);
			hostdev_clear_error(ctx);
		} else if (r < 0) {
			char why[HOSTDEV_ERROR_MAX];

			snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(ctx));
			hostdev_error(
			    ctx, r,
			    "%s. Its journal record is kept: fix the cause and retry with "
			    "hostdev restore %s (%d device%s restored before it)",
			    why, rec->address, *restored, *restored == 1 ? "" : "s");
			return r;
		} else {
			(*restored)++;
			log_info(ctx, "%s: restored to %s", rec->address,
				 rec->driver ? rec->driver : "no driver");
		}
		/* Removing index i shifts only later entries, which are already done. */
		vfio_journal_data_remove(journal, i);
		memmove(&selected[i], &selected[i + 1], (journal->count - i) * sizeof(*selected));
		r = vfio_journal_store(ctx, journal);
		if (r < 0)
			return r;
	}
	return 0;
}

static int restore_locked(hostdev_ctx *ctx, const char *const *addresses, size_t count, bool all,
			  const struct hostdev_vfio_options *opts, unsigned int flags)
{
	struct vfio_journal_data journal = {0};
	bool *selected = NULL;
	int restored = 0, r;

	r = vfio_journal_load(ctx, &journal);
	if (r < 0)
		return r;
	selected = calloc(journal.count + 1, sizeof(*selected));
	if (!selected) {
		r = -ENOMEM;
		goto out;
	}
	if (all) {
		for (size_t i = 0; i < journal.count; i++)
			if (!opts->owner || (journal.records[i].owner &&
					     strcmp(journal.records[i].owner, opts->owner) == 0))
				select_record(&journal, i, selected);
	}
	for (size_t i = 0; i < count; i++) {
		struct hostdev_pci_address addr;
		char canonical[HOSTDEV_PCI_ADDRESS_MAX];
		ssize_t idx;

		if (!addresses[i] || hostdev_pci_address_parse(addresses[i], &addr) < 0) {
			r = hostdev_error(ctx, -EINVAL,
					  "'%s' is not a PCI address: expected DDDD:BB:SS.F or "
					  "BB:SS.F, such as 0000:3b:00.0",
					  addresses[i] ? addresses[i] : "(null)");
			goto out;
		}
		hostdev_pci_address_format(&addr, canonical, sizeof(canonical));
		idx = vfio_journal_data_find(&journal, canonical);
		if (idx >= 0)
			select_record(&journal, (size_t)idx, selected);
	}
	/* Unrecorded devices first: refusing one must happen before anything changes. */
	for (size_t i = 0; i < count; i++) {
		struct hostdev_pci_address addr;
		char canonical[HOSTDEV_PCI_ADDRESS_MAX];

		hostdev_pci_address_parse(addresses[i], &addr);
		hostdev_pci_address_format(&addr, canonical, sizeof(canonical));
		if (vfio_journal_data_find(&journal, canonical) >= 0)
			continue;
		r = restore_unjournaled(ctx, canonical, flags, opts->timeout_ms, &restored);
		if (r < 0)
			goto out;
	}
	r = restore_selected(ctx, &journal, selected, opts->timeout_ms, &restored);
out:
	free(selected);
	vfio_journal_data_clear(&journal);
	return r < 0 ? r : restored;
}

static int restore_common(hostdev_ctx *ctx, const char *const *addresses, size_t count, bool all,
			  const struct hostdev_vfio_options *opts, unsigned int flags)
{
	struct hostdev_vfio_options o;
	int fd, r;

	if (!ctx)
		return -EINVAL;
	if (flags & ~(unsigned int)HOSTDEV_RESTORE_UNJOURNALED)
		return hostdev_error(ctx, -EINVAL, "unknown restore flags 0x%x",
				     flags & ~(unsigned int)HOSTDEV_RESTORE_UNJOURNALED);
	if (count && !addresses)
		return hostdev_error(ctx, -EINVAL, "no addresses given");
	r = vfio_options_get(ctx, opts, &o);
	if (r < 0)
		return r;
	if (!all && count == 0)
		return 0;
	fd = vfio_lock(ctx);
	if (fd < 0)
		return fd;
	r = restore_locked(ctx, addresses, count, all, &o, flags);
	vfio_unlock(fd);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_restore_set(hostdev_ctx *ctx, const char *const *addresses,
					    size_t count, const struct hostdev_vfio_options *opts,
					    unsigned int flags)
{
	return restore_common(ctx, addresses, count, false, opts, flags);
}

HOSTDEV_EXPORT int hostdev_vfio_restore(hostdev_ctx *ctx, const char *address,
					const struct hostdev_vfio_options *opts, unsigned int flags)
{
	return restore_common(ctx, &address, 1, false, opts, flags);
}

HOSTDEV_EXPORT int hostdev_vfio_restore_all(hostdev_ctx *ctx,
					    const struct hostdev_vfio_options *opts,
					    unsigned int flags)
{
	return restore_common(ctx, NULL, 0, true, opts, flags);
}
