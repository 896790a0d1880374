/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Judging one claim of this node and binding its device (or its IOMMU group) to vfio-pci
 * through the library's journalled bind; the verdict says why a claim is not enabled, in the
 * library's words plus the next step.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "claims_internal.h"

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

/* The same sentence right after the bind and on every later pass (one status write per bind). */
static void bound_verdict(struct verdict *v, const char *address, int group, bool group_bind)
{
	set_verdict(v, true, false, "Bound",
		    "%s is on vfio-pci (IOMMU group %d%s); the journal keeps its driver %s to give "
		    "it back when the claim is deleted",
		    address, group, group_bind ? ", bound as a whole" : "",
		    v->driver_to_unbind[0] ? v->driver_to_unbind : "(none)");
}

/* Queue the bind of @job (its addresses, owner and flags set) with what its verdict needs. */
static void submit_bind(struct claims *c, const cJSON *claim, struct claim_job *job,
			hostdev_pci_device *dev, struct verdict *v)
{
	const char *driver = hostdev_pci_device_get_driver(dev);

	job->epoch = c->epoch;
	job->generation = generation_of(claim);
	snprintf(job->uid, sizeof(job->uid), "%s",
		 kube_meta_string(claim, "uid") ? kube_meta_string(claim, "uid") : "");
	job->group = hostdev_pci_device_get_iommu_group(dev);
	if (!job->driver[0])
		snprintf(job->driver, sizeof(job->driver), "%s", driver ? driver : "");
	if (claim_job_submit(c, job) < 0) {
		set_verdict(v, false, true, "BindFailed",
			    "cannot start the bind of %s: out of memory; retrying with backoff",
			    kube_meta_string(claim, "name"));
		return;
	}
	v->pending = true;
}

static void bind_claim(struct claims *c, const cJSON *claim, const char *address,
		       hostdev_pci_device *dev, const hostdev_vfio_journal *j, struct verdict *v)
{
	const char *uid = kube_meta_string(claim, "uid");
	const char *driver = hostdev_pci_device_get_driver(dev);
	bool want_group = annotation_true(claim, AGENT_CLAIM_GROUP_ANNOTATION);
	const char *addresses[1] = {address};
	struct claim_job *job;
	size_t nu = 0, nc = 0;

	snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", driver ? driver : "");
	job = claim_job_new(c, JOB_BIND, kube_meta_string(claim, "name"), addresses, 1);
	if (!job) {
		set_verdict(v, false, true, "BindFailed",
			    "cannot start the bind of %s: out of memory; retrying with backoff",
			    address);
		return;
	}
	snprintf(job->owner, sizeof(job->owner), "%s", OWNER_PREFIX);
	owner_add(job->owner, sizeof(job->owner), uid);
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
				owner_add(job->owner, sizeof(job->owner),
					  kube_meta_string(holder, "uid"));
				nc++;
			} else {
				nu += (size_t)snprintf(
				    job->unclaimed + nu,
				    nu < sizeof(job->unclaimed) ? sizeof(job->unclaimed) - nu : 0,
				    "%s%s (%s)", nu ? ", " : "", m, mdrv);
			}
		}
		hostdev_pci_device_unref(md);
	}
	job->unclaimed_count = nu;
	if (nc > 0 || want_group)
		job->flags |= HOSTDEV_BIND_GROUP;
	if (nu > 0 && !want_group)
		job->flags &= ~(unsigned int)HOSTDEV_BIND_GROUP;
	submit_bind(c, claim, job, dev, v);
}

/* The verdict of a bind that ran, in the library's words (job->error) plus the next step. */
void bind_finished(struct claims *c, const struct claim_job *job, struct verdict *v)
{
	const char *address = job->addresses[0];
	const char *error = job->error;

	memset(v, 0, sizeof(*v));
	snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s", job->driver);
	if (job->r >= 0) {
		snprintf(v->driver_to_unbind, sizeof(v->driver_to_unbind), "%s",
			 job->original_driver[0]			 ? job->original_driver
			 : strcmp(job->driver, HOSTDEV_VFIO_DRIVER) != 0 ? job->driver
									 : "");
		bound_verdict(v, address, job->group, job->group_bind);
		if (job->finishing)
			log_info("PCIDeviceClaim %s: finished the bind of %zu device%s (%d moved)",
				 job->name, job->count, job->count == 1 ? "" : "s", job->r);
		else
			log_info("PCIDeviceClaim %s: bound %s to vfio-pci (%d device%s moved)",
				 job->name, address, job->r, job->r == 1 ? "" : "s");
		return;
	}
	if (job->finishing) {
		set_verdict(v, false, true, "BindFailed", "%s; retrying with backoff", error);
		return;
	}
	switch (job->r) {
	case -EBUSY:
		if (job->unclaimed_count > 0)
			set_verdict(
			    v, false, false, "IOMMUGroupShared",
			    "%s. Not claimed: %s. Next: claim every member of the group (the "
			    "agent then binds the group together), or annotate this claim "
			    "%s=true to bind the whole group with it",
			    error, job->unclaimed, AGENT_CLAIM_GROUP_ANNOTATION);
		else
			set_verdict(v, false, false, "DeviceBusy", "%s", error);
		break;
	case -EPERM:
		set_verdict(v, false, false, "HostCritical",
			    "%s. A claim cannot override this guard: claim another device", error);
		break;
	case -EINVAL:
		set_verdict(v, false, false, job->group < 0 ? "NoIOMMU" : "Refused", "%s", error);
		break;
	case -ENOENT:
		set_verdict(v, false, true, "VFIOModulesMissing", "%s; retrying with backoff",
			    error);
		break;
	case -ENODEV:
		set_verdict(v, false, false, "DeviceNotFound", "%s", error);
		break;
	default:
		set_verdict(v, false, true, job->r == -ETIMEDOUT ? "BindTimeout" : "BindFailed",
			    "%s; retrying with backoff", error);
		break;
	}
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
	unsigned int flags = 0;
	struct claim_job *job;
	size_t n = 0;
	long rec;

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
	rec = journal_find(j, address);
	if (n == 0 || strcmp(addresses[0], address) != 0) {
		/* The claim's own address first: the verdict names it. */
		for (size_t i = 0; i < n; i++)
			if (strcmp(addresses[i], address) == 0) {
				addresses[i] = addresses[0];
				addresses[0] = address;
			}
	}
	job = n ? claim_job_new(c, JOB_BIND, kube_meta_string(claim, "name"), addresses, n) : NULL;
	if (!job) {
		set_verdict(v, false, true, "BindFailed",
			    "cannot finish the bind of %s%s; retrying with backoff", address,
			    n ? ": out of memory" : ": its record has no device");
		return;
	}
	snprintf(job->owner, sizeof(job->owner), "%s", owner ? owner : "");
	job->flags = flags;
	job->finishing = true;
	/* The record keeps the driver from before the interrupted bind. */
	if (rec >= 0 && hostdev_vfio_journal_get_driver(j, (size_t)rec))
		snprintf(job->driver, sizeof(job->driver), "%s",
			 hostdev_vfio_journal_get_driver(j, (size_t)rec));
	submit_bind(c, claim, job, dev, v);
}

/* A claim of this node that is not being deleted: what is it, and bind it if it should be. */
void judge_claim(struct pass *p, const cJSON *claim, struct verdict *v)
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
