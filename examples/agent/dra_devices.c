/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's devices as DRA sees them: one ResourceSlice device entry per PCI function the agent
 * offers, with the attributes DeviceClass CEL selectors pick devices by. Which functions: those a
 * resource selection config (docs/device-plugin.md) matches, or every function without one; never
 * a bridge (base class 06: the host bridge, the chipset's ISA/LPC bridge, root ports), which
 * stays with the host whatever the library's bind would make of it. Attribute names without a domain are the driver's own (the API server reads
 * "numaNode" of driver vfio.hostdev.io as "vfio.hostdev.io/numaNode"); the PCI address is the
 * standard "resource.kubernetes.io/pciBusID", which KubeVirt and other drivers read too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* The API server's limit on a string attribute (resource.DeviceAttributeMaxValueLength). */
#define DRA_STRING_MAX 64

int dra_device_name(const char *address, char *buf, size_t size)
{
	size_t n = 0;

	/* "0000:08:00.0" -> "pci-0000-08-00-0": a DNS label, stable for the device. */
	if (snprintf(buf, size, "pci-%s", address) >= (int)size)
		return -ENAMETOOLONG;
	for (n = 0; buf[n]; n++)
		if (buf[n] == ':' || buf[n] == '.')
			buf[n] = '-';
		else if (buf[n] >= 'A' && buf[n] <= 'F')
			buf[n] = (char)(buf[n] - 'A' + 'a');
	return 0;
}

static void add_string(cJSON *attrs, const char *name, const char *value)
{
	cJSON *v;

	/* Longer strings would make the API server refuse the whole slice: leave the attribute
	 * out (a selector on it does not match) rather than publish nothing. */
	if (!value || strlen(value) > DRA_STRING_MAX || !naming_is_utf8(value))
		return;
	v = cJSON_AddObjectToObject(attrs, name);
	cJSON_AddStringToObject(v, "string", value);
}

static void add_hex(cJSON *attrs, const char *name, unsigned int value, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", digits, value);
	add_string(attrs, name, buf);
}

static void add_int(cJSON *attrs, const char *name, long long value)
{
	cJSON *v = cJSON_AddObjectToObject(attrs, name);

	cJSON_AddNumberToObject(v, "int", (double)value);
}

static void add_bool(cJSON *attrs, const char *name, bool value)
{
	cJSON *v = cJSON_AddObjectToObject(attrs, name);

	cJSON_AddBoolToObject(v, "bool", value);
}

cJSON *dra_device_entry(hostdev_pci_device *dev, const char *resource_name)
{
	const char *address = hostdev_pci_device_get_address(dev);
	unsigned int class_code = hostdev_pci_device_get_class(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	cJSON *entry, *attrs;
	char name[64];

	if (!address || dra_device_name(address, name, sizeof(name)) < 0)
		return NULL;
	entry = cJSON_CreateObject();
	cJSON_AddStringToObject(entry, "name", name);
	attrs = cJSON_AddObjectToObject(entry, "attributes");
	add_string(attrs, DRA_ATTR_PCI_BUS_ID, address);
	add_hex(attrs, "vendor", hostdev_pci_device_get_vendor_id(dev), 4);
	add_hex(attrs, "device", hostdev_pci_device_get_device_id(dev), 4);
	add_hex(attrs, "subsystemVendor", hostdev_pci_device_get_subsystem_vendor_id(dev), 4);
	add_hex(attrs, "subsystemDevice", hostdev_pci_device_get_subsystem_device_id(dev), 4);
	/* Base class and subclass as Harvester's classId ("0200"), the programming interface
	 * apart: selectors compare "class" the way users know it. */
	add_hex(attrs, "class", class_code >> 8, 4);
	add_int(attrs, "numaNode", hostdev_pci_device_get_numa_node(dev));
	if (group >= 0)
		add_int(attrs, "iommuGroup", group);
	add_int(attrs, "iommuGroupSize",
		(long long)hostdev_pci_device_get_iommu_group_member_count(dev));
	add_string(attrs, "driver", hostdev_pci_device_get_driver(dev));
	add_bool(attrs, "sriovPF", hostdev_pci_device_is_sriov_pf(dev) > 0);
	add_bool(attrs, "sriovVF", hostdev_pci_device_is_sriov_vf(dev) > 0);
	add_string(attrs, "pfPciBusID", hostdev_pci_device_get_pf_address(dev));
	add_string(attrs, "resourceName",
		   resource_name ? resource_name : hostdev_pci_device_get_resource_name(dev));
	return entry;
}

static int by_name(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring,
		      cJSON_GetObjectItemCaseSensitive(y, "name")->valuestring);
}

/* Sort the entries by name: the slices' contents then do not depend on enumeration order. */
cJSON *dra_devices_sorted(cJSON *list)
{
	int n = cJSON_GetArraySize(list);
	cJSON **items = n ? calloc((size_t)n, sizeof(*items)) : NULL;
	cJSON *out = cJSON_CreateArray();

	if ((n && !items) || !out) {
		free(items);
		cJSON_Delete(out);
		return list;
	}
	for (int i = n - 1; i >= 0; i--)
		items[i] = cJSON_DetachItemFromArray(list, i);
	qsort(items, (size_t)n, sizeof(*items), by_name);
	for (int i = 0; i < n; i++) {
		/* A device two resources of the config select is offered once (a slice may not
		 * name a device twice). */
		if (i > 0 && by_name(&items[i - 1], &items[i]) == 0) {
			cJSON_Delete(items[i]);
			items[i] = items[i - 1];
			continue;
		}
		cJSON_AddItemToArray(out, items[i]);
	}
	free(items);
	cJSON_Delete(list);
	return out;
}

bool dra_wants_pci(hostdev_pci_device *dev)
{
	/* The library refuses only PCI-to-PCI bridges; a host bridge or an ISA bridge without a
	 * driver it would bind, and a VM has no use for either. */
	return inventory_wants_pci(dev) && !dra_class_is_bridge(hostdev_pci_device_get_class(dev));
}

static int add_device(hostdev_ctx *ctx, cJSON *list, hostdev_pci_device *dev,
		      const char *resource_name)
{
	cJSON *entry;

	if (!dra_wants_pci(dev)) {
		log_debug("DRA: %s is a bridge: not offered", hostdev_pci_device_get_address(dev));
		return 0;
	}
	if (!(entry = dra_device_entry(dev, resource_name)))
		return -ENOMEM;
	cJSON_AddItemToArray(list, entry);
	return 0;
}

static int from_config(hostdev_ctx *ctx, const hostdev_dp_config *config, cJSON *list)
{
	hostdev_dp_resources *res = NULL;
	int r = hostdev_dp_resources_resolve(ctx, config, &res);

	if (r < 0) {
		log_error("DRA: cannot apply the device selection: %s", hostdev_ctx_get_error(ctx));
		return r;
	}
	for (size_t i = 0; r >= 0 && i < hostdev_dp_resources_get_count(res); i++) {
		if (hostdev_dp_resources_get_kind(res, i) != HOSTDEV_DP_KIND_PCI)
			continue; /* USB and mdevs are not offered through DRA (KubeVirt: PCI only)
				   */
		for (size_t j = 0; r >= 0 && j < hostdev_dp_resources_get_device_count(res, i);
		     j++) {
			hostdev_pci_device *dev = NULL;
			const char *address = hostdev_dp_resources_get_device_id(res, i, j);

			if (hostdev_pci_device_new(ctx, address, &dev) < 0) {
				log_warning("DRA: device %s of resource %s: %s", address,
					    hostdev_dp_resources_get_name(res, i),
					    hostdev_ctx_get_error(ctx));
				continue; /* gone meanwhile: the next event or resync sees it */
			}
			r = add_device(ctx, list, dev, hostdev_dp_resources_get_name(res, i));
			hostdev_pci_device_unref(dev);
		}
	}
	hostdev_dp_resources_unref(res);
	return r;
}

static int every_function(hostdev_ctx *ctx, cJSON *list)
{
	hostdev_pci_enum *pe = NULL;
	hostdev_pci_device *dev;
	int r = hostdev_pci_enum_new(ctx, &pe);

	while (r >= 0 && (r = hostdev_pci_enum_next(pe, &dev)) > 0) {
		if (inventory_wants_pci(dev) && add_device(ctx, list, dev, NULL) < 0)
			r = -ENOMEM;
		hostdev_pci_device_unref(dev);
	}
	hostdev_pci_enum_unref(pe);
	if (r < 0)
		log_error("DRA: cannot list the PCI devices: %s", hostdev_ctx_get_error(ctx));
	return r < 0 ? r : 0;
}

int dra_devices(hostdev_ctx *ctx, const hostdev_dp_config *config, cJSON **out)
{
	cJSON *list = cJSON_CreateArray();
	int r;

	if (!list)
		return -ENOMEM;
	r = config ? from_config(ctx, config, list) : every_function(ctx, list);
	if (r < 0) {
		cJSON_Delete(list);
		return r;
	}
	*out = dra_devices_sorted(list);
	return 0;
}
