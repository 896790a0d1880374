/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI selectors: vendorDevice, class, driver and address become the enumerator's filters (so that
 * devices that do not match are never read in full); pf selects VFs by their PF and VF index.
 * Bridges are never selected: they must stay with the host.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dp_match.h"

/*
 * The PCI address behind a network interface: the device directory <sysfs>/class/net/<name>/device
 * resolves to (the kernel's link text is relative, and its form varies), or NULL.
 */
static char *pf_of_ifname(hostdev_ctx *ctx, const char *ifname)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct hostdev_pci_address addr;
	const char *base;

	if (snprintf(path, sizeof(path), "%s/class/net/%s/device",
		     hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), ifname) >= (int)sizeof(path) ||
	    !realpath(path, real))
		return NULL;
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (hostdev_pci_address_parse(base, &addr) < 0)
		return NULL; /* not a PCI network device */
	return strdup(base);
}

static int add_filters(hostdev_pci_enum *e, const struct dp_selectors *sel)
{
	char spec[32];
	int r = 0;

	for (size_t i = 0; i < sel->n_ids && r == 0; i++) {
		dp_format_id_filter(&sel->ids[i], spec, sizeof(spec));
		r = hostdev_pci_enum_add_id_filter(e, spec);
	}
	for (size_t i = 0; i < sel->n_classes && r == 0; i++)
		r = hostdev_pci_enum_add_class_filter(e, sel->classes[i]);
	for (size_t i = 0; i < sel->n_drivers && r == 0; i++)
		r = hostdev_pci_enum_add_driver_filter(e, sel->drivers[i]);
	for (size_t i = 0; i < sel->n_addresses && r == 0; i++)
		r = hostdev_pci_enum_add_slot_filter(e, sel->addresses[i]);
	return r;
}

/* PF addresses of the pf selectors, NULL where the PF is not on the host now. */
static int resolve_pfs(hostdev_ctx *ctx, const struct dp_selectors *sel, char ***out)
{
	char **pfs = calloc(sel->n_pfs ? sel->n_pfs : 1, sizeof(*pfs));

	if (!pfs)
		return -ENOMEM;
	for (size_t i = 0; i < sel->n_pfs; i++) {
		if (sel->pfs[i].address)
			pfs[i] = strdup(sel->pfs[i].address);
		else
			pfs[i] = pf_of_ifname(ctx, sel->pfs[i].name);
	}
	*out = pfs;
	return 0;
}

/*
 * Without address selectors, narrow the enumeration to the VFs of the selected PFs (their
 * virtfn links) so that a refresh does not read every function of the host. Returns the number
 * of VF addresses added as slot filters (0: no PF has VFs now, nothing can match).
 */
static int narrow_to_vfs(hostdev_ctx *ctx, hostdev_pci_enum *e, const struct dp_selectors *sel,
			 char **pfs)
{
	int added = 0, r;

	for (size_t i = 0; i < sel->n_pfs; i++) {
		hostdev_pci_device *pf = NULL;

		if (!pfs[i] || hostdev_pci_device_new(ctx, pfs[i], &pf) < 0)
			continue; /* not on the host now */
		for (size_t k = 0; k < hostdev_pci_device_get_vf_count(pf); k++) {
			int index = hostdev_pci_device_get_vf_number(pf, k);

			if (index < 0 || !dp_vf_in_ranges(sel->pfs[i].ranges, sel->pfs[i].n_ranges,
							  (unsigned int)index))
				continue;
			r = hostdev_pci_enum_add_slot_filter(
			    e, hostdev_pci_device_get_vf_address(pf, k));
			if (r < 0) {
				hostdev_pci_device_unref(pf);
				return r;
			}
			added++;
		}
		hostdev_pci_device_unref(pf);
	}
	return added;
}

static bool pf_selected(const struct dp_selectors *sel, char **pfs, hostdev_pci_device *dev)
{
	const char *pf = hostdev_pci_device_get_pf_address(dev);
	int index = hostdev_pci_device_get_vf_index(dev);

	if (!hostdev_pci_device_is_sriov_vf(dev) || !pf || index < 0)
		return false;
	for (size_t i = 0; i < sel->n_pfs; i++)
		if (pfs[i] && strcmp(pfs[i], pf) == 0 &&
		    dp_vf_in_ranges(sel->pfs[i].ranges, sel->pfs[i].n_ranges, (unsigned int)index))
			return true;
	return false;
}

/*
 * Harvester's name of an NVIDIA vGPU (docs/vgpu.md): a VF of NVIDIA's that holds a vGPU type is
 * served under the type's name (nvidia.com/NVIDIA_A2-4Q), as Harvester patches it onto the VF's
 * PCIDevice. *@out: that name, or NULL for a device that is no such VF. -ENOENT (with *@type) for
 * a type whose name is known nowhere (no creatable list shows it, no journal record), -ENOMEM.
 */
static int vgpu_name(hostdev_ctx *ctx, hostdev_pci_device *dev, unsigned int *type, char **out)
{
	char buf[HOSTDEV_NAME_MAX];
	hostdev_vgpu_list *l = NULL;
	const char *name;
	int r = 0;

	*out = NULL;
	*type = 0;
	/* Only NVIDIA's VFs can be vGPUs: other devices cost no extra read. */
	if (hostdev_pci_device_get_vendor_id(dev) != 0x10de || !hostdev_pci_device_is_sriov_vf(dev))
		return 0;
	if (hostdev_vgpu_read(ctx, hostdev_pci_device_get_address(dev), &l) < 0) {
		hostdev_clear_error(ctx); /* a VF without vGPU attributes: a plain VF */
		return 0;
	}
	*type = hostdev_vgpu_list_get_current_type(l, 0);
	name = hostdev_vgpu_list_get_current_name(l, 0);
	if (*type && !name)
		r = -ENOENT;
	else if (*type && hostdev_naming_vgpu_resource(name, buf, sizeof(buf)) >= 0 &&
		 !(*out = strdup(buf)))
		r = -ENOMEM;
	hostdev_vgpu_list_unref(l);
	return r;
}

/* The resource name of @dev under @naming (explicit: the entry's name). */
static char *name_of(const struct dp_spec *spec, hostdev_pci_device *dev, const char *vgpu)
{
	char vendor[HOSTDEV_NAME_MAX];
	const char *object;

	switch (spec->naming) {
	case DP_NAMING_EXPLICIT:
		return strdup(spec->resource_name);
	case DP_NAMING_HARVESTER: {
		const char *name = vgpu ? vgpu : hostdev_pci_device_get_resource_name(dev);

		if (!name || hostdev_naming_check_resource_name(name) < 0)
			return NULL;
		return strdup(name);
	}
	case DP_NAMING_PER_DEVICE:
		object = hostdev_pci_device_get_object_name(dev);
		if (!object ||
		    hostdev_naming_resource_vendor(hostdev_pci_device_get_vendor_name(dev), vendor,
						   sizeof(vendor)) < 0)
			return NULL;
		return dp_name_join(vendor, object);
	}
	return NULL;
}

static int add_match(hostdev_ctx *ctx, const struct dp_spec *spec, hostdev_pci_device *dev,
		     struct dp_matches *out)
{
	const char *address = hostdev_pci_device_get_address(dev);
	const char *pf = hostdev_pci_device_get_pf_address(dev);
	const char *driver = hostdev_pci_device_get_driver(dev);
	char *vgpu = NULL, *name;
	unsigned int type;
	struct dp_match *m;
	int r = spec->naming == DP_NAMING_HARVESTER ? vgpu_name(ctx, dev, &type, &vgpu) : 0;

	if (r == -ENOENT) {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "%s: holds NVIDIA vGPU type %u, whose name no creatable_vgpu_types of "
			 "its GPU and no vGPU journal record shows: its resource name cannot be "
			 "made; select it in an entry with an explicit resourceName",
			 address, type);
		return dp_matches_skip(out, msg);
	}
	if (r < 0)
		return r;
	name = name_of(spec, dev, vgpu);
	free(vgpu);
	if (!name) {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "%s: no valid resource name can be made from its pci.ids names "
			 "(\"%s\"); select it in an entry with an explicit resourceName",
			 address,
			 hostdev_pci_device_get_resource_name(dev)
			     ? hostdev_pci_device_get_resource_name(dev)
			     : "?");
		return dp_matches_skip(out, msg);
	}
	m = dp_matches_add(out);
	if (!m) {
		free(name);
		return -ENOMEM;
	}
	m->name = name;
	m->key = m->id = strdup(address); /* the same string (dp_match.h) */
	m->numa = hostdev_pci_device_get_numa_node(dev);
	m->iommu_group = hostdev_pci_device_get_iommu_group(dev);
	m->pf = pf ? strdup(pf) : NULL;
	m->driver = driver ? strdup(driver) : NULL;
	m->vendor = hostdev_pci_device_get_vendor_id(dev);
	m->device = hostdev_pci_device_get_device_id(dev);
	if (!m->key || !m->id || (pf && !m->pf) || (driver && !m->driver))
		return -ENOMEM;
	return 0;
}

int dp_match_pci(hostdev_ctx *ctx, const struct dp_spec *spec, struct dp_matches *out)
{
	const struct dp_selectors *sel = &spec->sel;
	hostdev_pci_enum *e = NULL;
	hostdev_pci_device *dev;
	char **pfs = NULL;
	int r;

	if ((r = hostdev_pci_enum_new(ctx, &e)) < 0 || (r = add_filters(e, sel)) < 0 ||
	    (r = resolve_pfs(ctx, sel, &pfs)) < 0)
		goto out;
	if (sel->n_pfs && !sel->n_addresses && (r = narrow_to_vfs(ctx, e, sel, pfs)) <= 0)
		goto out; /* an error, or no VF to look at */
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		if (!hostdev_pci_device_is_bridge(dev) &&
		    (sel->n_pfs == 0 || pf_selected(sel, pfs, dev)))
			r = add_match(ctx, spec, dev, out);
		hostdev_pci_device_unref(dev);
		if (r < 0)
			break;
	}
out:
	if (pfs)
		for (size_t i = 0; i < sel->n_pfs; i++)
			free(pfs[i]);
	free(pfs);
	hostdev_pci_enum_unref(e);
	if (r < 0)
		dp_matches_clear(out);
	return r < 0 ? r : 0;
}
