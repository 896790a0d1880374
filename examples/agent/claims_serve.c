/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the cluster sees of the claimed devices: their PCIDevice objects follow a bind or
 * restore at once (the monitor may not see driver changes as uevents, and fake roots send none),
 * the device-plugin server serves them, and KubeVirt's CR permits them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims_internal.h"

/* ---- the PCIDevice objects follow the bind at once (the monitor may not see driver changes as
 * uevents, and fake roots send none) ------------------------------------------------------- */

void refresh_pci_object(struct claims *c, const char *address)
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
void refresh_group_objects(struct claims *c, const char *address)
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

void serve_claims(struct pass *p)
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
	kubevirt_set(c->o.kubevirt, KUBEVIRT_LIST_PCI, p->permitted);
	p->permitted = NULL;
}
