/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vfio PCI plugin: ids are PCI addresses. A device is healthy while it is bound to vfio-pci
 * and its group node /dev/vfio/<group> exists; an NVIDIA vGPU VF (docs/vgpu.md) instead while it
 * is on the nvidia driver holding a vGPU type, with its group node (NVIDIA's vendor-specific VFIO
 * driver registers the VF with VFIO; the VF is never bound to vfio-pci). Allocate answers from
 * what the last list saw of each device (lists follow hot-plug events, the device-node watch and
 * the refresh interval), after one check that the device is still there on the same driver and
 * group (still_bound()); a device that fails it, or that the list did not see ready, is read
 * again, which gives the answer or its refusal. It answers per KubeVirt's contract:
 * PCI_RESOURCE_<NAME> = exactly the allocated addresses in the kubelet's order, each once (virt-
 * launcher pops them in order; a sibling or a duplicate there attaches the wrong device), and
 * the vfio device nodes; optionally the SR-IOV device plugin's PCIDEVICE_ variables.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

#define VFIO_DRIVER "vfio-pci"
#define NVIDIA_DRIVER "nvidia"

/*
 * The vGPU type the VF at @address holds (nvidia/current_vgpu_type), 0 for none or for a device
 * without NVIDIA's vGPU attributes (the reason why is left in @ctx's error, unused: a device
 * that is no vGPU is judged by its driver).
 */
static unsigned int vgpu_type(hostdev_ctx *ctx, const char *address)
{
	hostdev_vgpu_list *l = NULL;
	unsigned int type = 0;

	if (hostdev_vgpu_read(ctx, address, &l) == 0)
		type = hostdev_vgpu_list_get_current_type(l, 0);
	hostdev_vgpu_list_unref(l);
	return type;
}

/* On vfio-pci, or a vGPU VF on nvidia that holds a type: a device a VM can be given. */
static bool vfio_ready(hostdev_ctx *ctx, const char *address, const char *driver)
{
	if (!driver)
		return false;
	if (strcmp(driver, VFIO_DRIVER) == 0)
		return true;
	return strcmp(driver, NVIDIA_DRIVER) == 0 && vgpu_type(ctx, address) != 0;
}

/* Healthy = this, and its group node exists (plugin.c checks the node). */
static bool vfio_pci_ready(const struct plugin *p, hostdev_ctx *ctx, const hostdev_dp_matches *m,
			   size_t i)
{
	(void)p;
	return hostdev_dp_matches_get_iommu_group(m, i) >= 0 &&
	       vfio_ready(ctx, hostdev_dp_matches_get_id(m, i),
			  hostdev_dp_matches_get_driver(m, i));
}

/* A uevent named @address: its driver and IOMMU group now. */
static int vfio_pci_read_ready(const struct plugin *p, hostdev_ctx *ctx, const char *address,
			       int *group)
{
	hostdev_pci_device *dev = NULL;
	int r = hostdev_pci_device_new(ctx, address, &dev);

	(void)p;
	*group = -1;
	if (r == -ENODEV || r == -ENOENT)
		return 0;
	if (r < 0)
		return plugin_short_of_resources(r) ? r : 0;
	*group = hostdev_pci_device_get_iommu_group(dev);
	r = *group >= 0 && vfio_ready(ctx, address, hostdev_pci_device_get_driver(dev));
	hostdev_pci_device_unref(dev);
	return r;
}

/*
 * Is @address still bound to @driver in IOMMU group @group, as the last list saw it? One
 * readlink(2) of <sysfs>/bus/pci/drivers/<driver>/<address>/iommu_group: the path resolves only
 * while the device exists and is bound to @driver, and the link names its group now. Lists keep
 * the rest, but an unplug or unbind after the last list (its event still queued, or none at all:
 * a program may serve without the hot-plug monitor) must not hand out a device that is gone, nor
 * a re-plugged device's old group node. That is the one liveness check kept on the Allocate path.
 */
static bool still_bound(const struct plugin *p, const char *address, const char *driver, int group)
{
	char path[PATH_MAX];

	if (plugin_join(path, sizeof(path), hostdev_ctx_get_path(p->ctx, HOSTDEV_PATH_SYSFS),
			"/bus/pci/drivers/", driver, "/", address, "/iommu_group",
			NULL) >= sizeof(path))
		return false;
	return plugin_group_link_is(path, group);
}

/* Read one device as it is now and add its nodes. *group_out: its IOMMU group. */
static int allocate_read(struct plugin *p, const char *address, bool iommufd, int *group_out,
			 struct plugin_answer *out)
{
	hostdev_pci_device *dev = NULL;
	char what[128], sysfs_dir[64];
	const char *driver;
	int r = hostdev_pci_device_new(p->ctx, address, &dev);

	/* Only a device that is not there is gone: running out of file descriptors or memory
	 * while reading it says nothing about the device, and the pod must not be told to go. */
	if (r == -ENODEV)
		return answer_fail(
		    out, -ENODEV,
		    "%s of %s is no longer on this host (unplugged, or its VF was "
		    "removed): it is listed as unhealthy now; delete the pod so that "
		    "it gets another device",
		    address, p->resource_name);
	snprintf(what, sizeof(what), "%s of %s", address, p->resource_name);
	if (r < 0)
		return plugin_read_failure(out, r, what, hostdev_ctx_get_error(p->ctx));
	driver = hostdev_pci_device_get_driver(dev);
	if (driver && strcmp(driver, NVIDIA_DRIVER) == 0 && !vgpu_type(p->ctx, address)) {
		r = answer_fail(
		    out, -EBUSY,
		    "%s of %s is on the nvidia driver without a vGPU type, so no virtual "
		    "machine can use it: give it a vGPU type (hostdev_vgpu_set_type()) or bind "
		    "it to vfio-pci, and retry",
		    address, p->resource_name);
		hostdev_pci_device_unref(dev);
		return r;
	}
	if (!driver || (strcmp(driver, VFIO_DRIVER) != 0 && strcmp(driver, NVIDIA_DRIVER) != 0)) {
		if (driver)
			r = answer_fail(out, -EBUSY,
					"%s of %s is bound to %s, not to vfio-pci, so no virtual "
					"machine can use it: bind it to vfio-pci and retry",
					address, p->resource_name, driver);
		else
			r = answer_fail(out, -EBUSY,
					"%s of %s has no driver, so no virtual machine can use it: "
					"bind it to vfio-pci and retry",
					address, p->resource_name);
		hostdev_pci_device_unref(dev);
		return r;
	}
	*group_out = hostdev_pci_device_get_iommu_group(dev);
	hostdev_pci_device_unref(dev);
	snprintf(sysfs_dir, sizeof(sysfs_dir), "bus/pci/devices/%s", address);
	return vfio_add_nodes(p, what, sysfs_dir, *group_out, iommufd, out);
}

/*
 * Add the nodes of one device: from @seen (the last list's view, NULL before the first) when it
 * saw the device on vfio-pci and still_bound() agrees, else read it again (allocate_read()). A
 * vGPU VF on nvidia is always read again: its vGPU type changes without an event.
 */
static int allocate_one(struct plugin *p, const hostdev_dp_matches *seen, const char *address,
			bool iommufd, int *group_out, struct plugin_answer *out)
{
	long k = seen ? hostdev_dp_matches_find(seen, address) : -1;
	const char *driver = k >= 0 ? hostdev_dp_matches_get_driver(seen, (size_t)k) : NULL;
	int group = k >= 0 ? hostdev_dp_matches_get_iommu_group(seen, (size_t)k) : -1;
	char what[128], sysfs_dir[64];

	if (!driver || strcmp(driver, VFIO_DRIVER) != 0 || group < 0 ||
	    !still_bound(p, address, driver, group))
		return allocate_read(p, address, iommufd, group_out, out);
	*group_out = group;
	plugin_join(what, sizeof(what), address, " of ", p->resource_name, NULL);
	plugin_join(sysfs_dir, sizeof(sysfs_dir), "bus/pci/devices/", address, NULL);
	return vfio_add_nodes(p, what, sysfs_dir, group, iommufd, out);
}

static int vfio_pci_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
			     struct plugin_answer *out)
{
	char **addresses = calloc(n_ids ? n_ids : 1, sizeof(*addresses));
	int *groups = calloc(n_ids ? n_ids : 1, sizeof(*groups));
	hostdev_dp_matches *seen;
	size_t n = 0, len = 0;
	char *value = NULL;
	bool iommufd;
	int r = 0;

	/* The snapshot is immutable: a reference keeps it while a list replaces it. */
	pthread_mutex_lock(&p->lock);
	seen = hostdev_dp_matches_ref(p->seen);
	pthread_mutex_unlock(&p->lock);
	iommufd = vfio_iommufd(p);
	if (!addresses || !groups) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		struct hostdev_pci_address a;
		char canon[HOSTDEV_PCI_ADDRESS_MAX];
		bool dup = false;

		if (hostdev_pci_address_parse(ids[i], &a) < 0 ||
		    hostdev_pci_address_format(&a, canon, sizeof(canon)) < 0) {
			r = answer_fail(out, -EINVAL, "\"%s\" is not a device of %s", ids[i],
					p->resource_name);
			break;
		}
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(addresses[k], canon) == 0;
		if (dup)
			continue;
		if ((r = allocate_one(p, seen, canon, iommufd, &groups[n], out)) < 0)
			break;
		if (!(addresses[n] = strdup(canon))) {
			r = -ENOMEM;
			break;
		}
		len += strlen(canon) + 1;
		n++;
	}
	if (r == 0) {
		value = calloc(1, len + 1);
		if (!value)
			r = -ENOMEM;
	}
	for (size_t k = 0; k < n && r == 0; k++) {
		if (k)
			strcat(value, ",");
		strcat(value, addresses[k]);
	}
	/* No env for no devices (the kubelet never asks so; an empty value is not allowed). */
	if (r == 0 && n)
		r = answer_set_env(out, p->env_name, value);
	if (r == 0 && n && p->sriov_env_name)
		r = sriov_env_set(p, addresses, groups, n, out);
out:
	hostdev_dp_matches_unref(seen);
	for (size_t k = 0; addresses && k < n; k++)
		free(addresses[k]);
	free(addresses);
	free(groups);
	free(value);
	return r;
}

const struct plugin_kind plugin_kind_vfio_pci = {
    .env_prefix = "PCI_RESOURCE",
    .ready = vfio_pci_ready,
    .read_ready = vfio_pci_read_ready,
    .allocate = vfio_pci_allocate,
    .observe = vfio_observe,
};
