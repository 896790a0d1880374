/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON serialisation of a PCI device in the stable schema of docs/json-schema.md.
 *
 * Only the public getters are used, so the JSON shows exactly what a C caller sees. Key names and
 * types are an interface: fields may be added, never renamed, retyped or removed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"

/* An array of the strings get(dev, 0 .. count-1); a NULL entry becomes null. */
static void add_string_array(struct json_builder *b, cJSON *object, const char *key,
			     hostdev_pci_device *dev, size_t count,
			     const char *(*get)(hostdev_pci_device *, size_t))
{
	cJSON *array = json_add_container(b, object, key, true);

	for (size_t i = 0; array && i < count && !b->oom; i++)
		json_append(b, array, json_new_string(b, get(dev, i)));
}

static void add_identity(struct json_builder *b, cJSON *root, hostdev_pci_device *dev)
{
	json_add_string(b, root, "address", hostdev_pci_device_get_address(dev));
	json_add_hex(b, root, "vendor_id", hostdev_pci_device_get_vendor_id(dev), 4);
	json_add_hex(b, root, "device_id", hostdev_pci_device_get_device_id(dev), 4);
	json_add_hex(b, root, "subsystem_vendor_id",
		     hostdev_pci_device_get_subsystem_vendor_id(dev), 4);
	json_add_hex(b, root, "subsystem_device_id",
		     hostdev_pci_device_get_subsystem_device_id(dev), 4);
	json_add_hex(b, root, "class", hostdev_pci_device_get_class(dev), 6);
	json_add_hex(b, root, "revision", hostdev_pci_device_get_revision(dev), 2);
	json_add_string(b, root, "vendor_name", hostdev_pci_device_get_vendor_name(dev));
	json_add_string(b, root, "device_name", hostdev_pci_device_get_device_name(dev));
	json_add_string(b, root, "subsystem_vendor_name",
			hostdev_pci_device_get_subsystem_vendor_name(dev));
	json_add_string(b, root, "subsystem_name", hostdev_pci_device_get_subsystem_name(dev));
	json_add_string(b, root, "class_name", hostdev_pci_device_get_class_name(dev));
	json_add_string(b, root, "subclass_name", hostdev_pci_device_get_subclass_name(dev));
	json_add_string(b, root, "prog_if_name", hostdev_pci_device_get_prog_if_name(dev));
}

static void add_kernel_state(struct json_builder *b, cJSON *root, hostdev_pci_device *dev)
{
	json_add_string(b, root, "driver", hostdev_pci_device_get_driver(dev));
	json_add_string(b, root, "driver_override", hostdev_pci_device_get_driver_override(dev));
	json_add_string(b, root, "modalias", hostdev_pci_device_get_modalias(dev));
	add_string_array(b, root, "modules", dev, hostdev_pci_device_get_module_count(dev),
			 hostdev_pci_device_get_module);
	json_add_int_or_null(b, root, "iommu_group", hostdev_pci_device_get_iommu_group(dev), -1);
	add_string_array(b, root, "iommu_group_members", dev,
			 hostdev_pci_device_get_iommu_group_member_count(dev),
			 hostdev_pci_device_get_iommu_group_member);
	json_add_int(b, root, "numa_node", hostdev_pci_device_get_numa_node(dev));
	json_add_string(b, root, "physical_slot", hostdev_pci_device_get_physical_slot(dev));
	json_add_bool(b, root, "boot_vga", hostdev_pci_device_is_boot_vga(dev));
	json_add_bool(b, root, "is_bridge", hostdev_pci_device_is_bridge(dev));
}

static void add_sriov(struct json_builder *b, cJSON *root, hostdev_pci_device *dev)
{
	cJSON *sriov = json_add_container(b, root, "sriov", false);
	unsigned int vf_device_id;
	size_t count;
	cJSON *vfs, *vf;

	if (sriov) {
		json_add_bool(b, sriov, "is_pf", hostdev_pci_device_is_sriov_pf(dev));
		json_add_int(b, sriov, "total_vfs", hostdev_pci_device_get_sriov_total_vfs(dev));
		json_add_int(b, sriov, "num_vfs", hostdev_pci_device_get_sriov_num_vfs(dev));
		vf_device_id = hostdev_pci_device_get_sriov_vf_device_id(dev);
		if (vf_device_id)
			json_add_hex(b, sriov, "vf_device_id", vf_device_id, 4);
		else
			json_add_string(b, sriov, "vf_device_id", NULL);
		vfs = json_add_container(b, sriov, "vfs", true);
		count = hostdev_pci_device_get_vf_count(dev);
		for (size_t i = 0; vfs && i < count && !b->oom; i++) {
			vf = cJSON_CreateObject();
			json_append(b, vfs, vf);
			if (b->oom)
				break;
			json_add_int(b, vf, "number", hostdev_pci_device_get_vf_number(dev, i));
			json_add_string(b, vf, "address",
					hostdev_pci_device_get_vf_address(dev, i));
		}
	}
	json_add_bool(b, root, "is_vf", hostdev_pci_device_is_sriov_vf(dev));
	json_add_string(b, root, "pf_address", hostdev_pci_device_get_pf_address(dev));
	json_add_int_or_null(b, root, "vf_index", hostdev_pci_device_get_vf_index(dev), -1);
}

static void add_mdev_types(struct json_builder *b, cJSON *root, hostdev_pci_device *dev)
{
	cJSON *types = json_add_container(b, root, "mdev_types", true);
	size_t count = hostdev_pci_device_get_mdev_type_count(dev);
	cJSON *type;

	for (size_t i = 0; types && i < count && !b->oom; i++) {
		type = cJSON_CreateObject();
		json_append(b, types, type);
		if (b->oom)
			break;
		json_add_string(b, type, "id", hostdev_pci_device_get_mdev_type_id(dev, i));
		json_add_string(b, type, "name", hostdev_pci_device_get_mdev_type_name(dev, i));
		json_add_int_or_null(b, type, "available_instances",
				     hostdev_pci_device_get_mdev_type_available(dev, i), -1);
		json_add_string(b, type, "device_api",
				hostdev_pci_device_get_mdev_type_device_api(dev, i));
		json_add_string(b, type, "description",
				hostdev_pci_device_get_mdev_type_description(dev, i));
	}
}

/* Active mdevs on this parent: added at the end of the object (schema version 1 only grows). */
static void add_mdevs(struct json_builder *b, cJSON *root, hostdev_pci_device *dev)
{
	cJSON *mdevs = json_add_container(b, root, "mdevs", true);
	size_t count = hostdev_pci_device_get_active_mdev_count(dev);
	cJSON *mdev;

	for (size_t i = 0; mdevs && i < count && !b->oom; i++) {
		int in_use = hostdev_pci_device_is_active_mdev_in_use(dev, i);

		mdev = cJSON_CreateObject();
		json_append(b, mdevs, mdev);
		if (b->oom)
			break;
		json_add_string(b, mdev, "uuid", hostdev_pci_device_get_active_mdev_uuid(dev, i));
		json_add_string(b, mdev, "type", hostdev_pci_device_get_active_mdev_type(dev, i));
		json_add_string(b, mdev, "type_name",
				hostdev_pci_device_get_active_mdev_type_name(dev, i));
		json_add_int_or_null(b, mdev, "iommu_group",
				     hostdev_pci_device_get_active_mdev_iommu_group(dev, i), -1);
		if (in_use < 0)
			json_add_string(b, mdev, "in_use", NULL);
		else
			json_add_bool(b, mdev, "in_use", in_use);
	}
}

/* The naming getters return NULL only on allocation failure (pci.h), so NULL is oom here. */
static void add_name(struct json_builder *b, cJSON *names, const char *key, const char *value)
{
	if (!value) {
		b->oom = true;
		return;
	}
	json_add_string(b, names, key, value);
}

static int add_names(struct json_builder *b, cJSON *root, hostdev_pci_device *dev)
{
	cJSON *names = json_add_container(b, root, "names", false);
	char env[HOSTDEV_NAME_MAX];
	const char *resource;
	int r;

	if (!names)
		return 0;
	add_name(b, names, "description", hostdev_pci_device_get_description(dev));
	add_name(b, names, "object_name", hostdev_pci_device_get_object_name(dev));
	resource = hostdev_pci_device_get_resource_name(dev);
	add_name(b, names, "resource_name", resource);
	add_name(b, names, "device_resource_name",
		 hostdev_pci_device_get_device_resource_name(dev));
	if (!resource)
		return 0;
	r = hostdev_naming_kubevirt_env("PCI_RESOURCE", resource, env, sizeof(env));
	if (r < 0)
		return r;
	json_add_string(b, names, "kubevirt_env", env);
	return 0;
}

HOSTDEV_EXPORT int hostdev_pci_device_to_json(hostdev_pci_device *dev, unsigned int flags,
					      char **out)
{
	struct json_builder b = {.oom = false};
	hostdev_ctx *ctx;
	cJSON *root;
	int r;

	if (!dev || !out)
		return -EINVAL;
	ctx = hostdev_pci_device_get_ctx(dev);
	CHECK_FLAGS(ctx, flags, HOSTDEV_JSON_PRETTY, "%s: unknown JSON",
		    hostdev_pci_device_get_address(dev));

	root = cJSON_CreateObject();
	if (!root)
		goto oom;
	add_identity(&b, root, dev);
	add_kernel_state(&b, root, dev);
	add_sriov(&b, root, dev);
	add_string_array(&b, root, "netdevs", dev, hostdev_pci_device_get_netdev_count(dev),
			 hostdev_pci_device_get_netdev);
	add_mdev_types(&b, root, dev);
	r = add_names(&b, root, dev);
	if (r < 0) {
		cJSON_Delete(root);
		return hostdev_error(ctx, r, "%s: cannot compute the KubeVirt variable name: %s",
				     hostdev_pci_device_get_address(dev), strerror(-r));
	}
	add_mdevs(&b, root, dev);
	if (b.oom) {
		cJSON_Delete(root);
		goto oom;
	}

	if (json_print_and_delete(root, flags & HOSTDEV_JSON_PRETTY, out) < 0)
		goto oom;
	return 0;
oom:
	return hostdev_error(ctx, -ENOMEM, "%s: out of memory while building JSON",
			     hostdev_pci_device_get_address(dev));
}
