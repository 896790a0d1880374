/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON serialisation of a PCI device in the stable schema of docs/json-schema.md.
 *
 * Only the public getters are used, so the JSON shows exactly what a C caller sees. Key names and
 * types are an interface: fields may be added, never renamed, retyped or removed. The text is
 * written as the fields are read (json_writer.c), without a cJSON tree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* An array of the strings get(dev, 0 .. count-1); a NULL entry becomes null. */
static void add_string_array(struct json_writer *w, const char *key, hostdev_pci_device *dev,
			     size_t count, const char *(*get)(hostdev_pci_device *, size_t))
{
	json_write_array_begin(w, key);
	for (size_t i = 0; i < count && !w->oom; i++)
		json_write_string(w, NULL, get(dev, i));
	json_write_array_end(w);
}

static void add_identity(struct json_writer *w, hostdev_pci_device *dev)
{
	json_write_string(w, "address", hostdev_pci_device_get_address(dev));
	json_write_hex(w, "vendor_id", hostdev_pci_device_get_vendor_id(dev), 4);
	json_write_hex(w, "device_id", hostdev_pci_device_get_device_id(dev), 4);
	json_write_hex(w, "subsystem_vendor_id", hostdev_pci_device_get_subsystem_vendor_id(dev),
		       4);
	json_write_hex(w, "subsystem_device_id", hostdev_pci_device_get_subsystem_device_id(dev),
		       4);
	json_write_hex(w, "class", hostdev_pci_device_get_class(dev), 6);
	json_write_hex(w, "revision", hostdev_pci_device_get_revision(dev), 2);
	json_write_string(w, "vendor_name", hostdev_pci_device_get_vendor_name(dev));
	json_write_string(w, "device_name", hostdev_pci_device_get_device_name(dev));
	json_write_string(w, "subsystem_vendor_name",
			  hostdev_pci_device_get_subsystem_vendor_name(dev));
	json_write_string(w, "subsystem_name", hostdev_pci_device_get_subsystem_name(dev));
	json_write_string(w, "class_name", hostdev_pci_device_get_class_name(dev));
	json_write_string(w, "subclass_name", hostdev_pci_device_get_subclass_name(dev));
	json_write_string(w, "prog_if_name", hostdev_pci_device_get_prog_if_name(dev));
}

static void add_kernel_state(struct json_writer *w, hostdev_pci_device *dev)
{
	json_write_string(w, "driver", hostdev_pci_device_get_driver(dev));
	json_write_string(w, "driver_override", hostdev_pci_device_get_driver_override(dev));
	json_write_string(w, "modalias", hostdev_pci_device_get_modalias(dev));
	add_string_array(w, "modules", dev, hostdev_pci_device_get_module_count(dev),
			 hostdev_pci_device_get_module);
	json_write_int_or_null(w, "iommu_group", hostdev_pci_device_get_iommu_group(dev), -1);
	add_string_array(w, "iommu_group_members", dev,
			 hostdev_pci_device_get_iommu_group_member_count(dev),
			 hostdev_pci_device_get_iommu_group_member);
	json_write_int(w, "numa_node", hostdev_pci_device_get_numa_node(dev));
	json_write_string(w, "physical_slot", hostdev_pci_device_get_physical_slot(dev));
	json_write_bool(w, "boot_vga", hostdev_pci_device_is_boot_vga(dev));
	json_write_bool(w, "is_bridge", hostdev_pci_device_is_bridge(dev));
}

static void add_sriov(struct json_writer *w, hostdev_pci_device *dev)
{
	unsigned int vf_device_id;
	size_t count;

	json_write_object_begin(w, "sriov");
	json_write_bool(w, "is_pf", hostdev_pci_device_is_sriov_pf(dev));
	json_write_int(w, "total_vfs", hostdev_pci_device_get_sriov_total_vfs(dev));
	json_write_int(w, "num_vfs", hostdev_pci_device_get_sriov_num_vfs(dev));
	vf_device_id = hostdev_pci_device_get_sriov_vf_device_id(dev);
	if (vf_device_id)
		json_write_hex(w, "vf_device_id", vf_device_id, 4);
	else
		json_write_null(w, "vf_device_id");
	json_write_array_begin(w, "vfs");
	count = hostdev_pci_device_get_vf_count(dev);
	for (size_t i = 0; i < count && !w->oom; i++) {
		json_write_object_begin(w, NULL);
		json_write_int(w, "number", hostdev_pci_device_get_vf_number(dev, i));
		json_write_string(w, "address", hostdev_pci_device_get_vf_address(dev, i));
		json_write_object_end(w);
	}
	json_write_array_end(w);
	json_write_object_end(w);
	json_write_bool(w, "is_vf", hostdev_pci_device_is_sriov_vf(dev));
	json_write_string(w, "pf_address", hostdev_pci_device_get_pf_address(dev));
	json_write_int_or_null(w, "vf_index", hostdev_pci_device_get_vf_index(dev), -1);
}

static void add_mdev_types(struct json_writer *w, hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_mdev_type_count(dev);

	json_write_array_begin(w, "mdev_types");
	for (size_t i = 0; i < count && !w->oom; i++) {
		json_write_object_begin(w, NULL);
		json_write_string(w, "id", hostdev_pci_device_get_mdev_type_id(dev, i));
		json_write_string(w, "name", hostdev_pci_device_get_mdev_type_name(dev, i));
		json_write_int_or_null(w, "available_instances",
				       hostdev_pci_device_get_mdev_type_available(dev, i), -1);
		json_write_string(w, "device_api",
				  hostdev_pci_device_get_mdev_type_device_api(dev, i));
		json_write_string(w, "description",
				  hostdev_pci_device_get_mdev_type_description(dev, i));
		json_write_object_end(w);
	}
	json_write_array_end(w);
}

/* Active mdevs on this parent: added at the end of the object (schema version 1 only grows). */
static void add_mdevs(struct json_writer *w, hostdev_pci_device *dev)
{
	size_t count = hostdev_pci_device_get_active_mdev_count(dev);

	json_write_array_begin(w, "mdevs");
	for (size_t i = 0; i < count && !w->oom; i++) {
		int in_use = hostdev_pci_device_is_active_mdev_in_use(dev, i);

		json_write_object_begin(w, NULL);
		json_write_string(w, "uuid", hostdev_pci_device_get_active_mdev_uuid(dev, i));
		json_write_string(w, "type", hostdev_pci_device_get_active_mdev_type(dev, i));
		json_write_string(w, "type_name",
				  hostdev_pci_device_get_active_mdev_type_name(dev, i));
		json_write_int_or_null(w, "iommu_group",
				       hostdev_pci_device_get_active_mdev_iommu_group(dev, i), -1);
		if (in_use < 0)
			json_write_null(w, "in_use");
		else
			json_write_bool(w, "in_use", in_use);
		json_write_object_end(w);
	}
	json_write_array_end(w);
}

/* The naming getters return NULL only on allocation failure (pci.h), so NULL is oom here. */
static void add_name(struct json_writer *w, const char *key, const char *value)
{
	if (!value) {
		w->oom = true;
		return;
	}
	json_write_string(w, key, value);
}

static int add_names(struct json_writer *w, hostdev_pci_device *dev)
{
	char env[HOSTDEV_NAME_MAX];
	const char *resource;
	int r;

	json_write_object_begin(w, "names");
	add_name(w, "description", hostdev_pci_device_get_description(dev));
	add_name(w, "object_name", hostdev_pci_device_get_object_name(dev));
	resource = hostdev_pci_device_get_resource_name(dev);
	add_name(w, "resource_name", resource);
	add_name(w, "device_resource_name", hostdev_pci_device_get_device_resource_name(dev));
	if (resource) {
		r = hostdev_naming_kubevirt_env("PCI_RESOURCE", resource, env, sizeof(env));
		if (r < 0)
			return r;
		json_write_string(w, "kubevirt_env", env);
	}
	json_write_object_end(w);
	return 0;
}

/* The deepest a nested device object may sit: far beyond any document, small enough to bound. */
#define NESTED_DEPTH_MAX 64

HOSTDEV_EXPORT int hostdev_pci_device_to_json_nested(hostdev_pci_device *dev, unsigned int flags,
						     unsigned int depth, char **out)
{
	struct json_writer w;
	hostdev_ctx *ctx;
	int r;

	if (!dev || !out)
		return -EINVAL;
	ctx = hostdev_pci_device_get_ctx(dev);
	CHECK_FLAGS(ctx, flags, HOSTDEV_JSON_PRETTY | HOSTDEV_JSON_INDENT, "%s: unknown JSON",
		    hostdev_pci_device_get_address(dev));
	if ((flags & HOSTDEV_JSON_PRETTY) && (flags & HOSTDEV_JSON_INDENT))
		return hostdev_error(
		    ctx, -EINVAL,
		    "%s: HOSTDEV_JSON_PRETTY and HOSTDEV_JSON_INDENT are two layouts; "
		    "pass one of them",
		    hostdev_pci_device_get_address(dev));
	if (depth && !(flags & (HOSTDEV_JSON_PRETTY | HOSTDEV_JSON_INDENT)))
		return hostdev_error(ctx, -EINVAL,
				     "%s: compact JSON has no indentation to nest at depth %u; "
				     "pass HOSTDEV_JSON_INDENT or HOSTDEV_JSON_PRETTY, or depth 0",
				     hostdev_pci_device_get_address(dev), depth);
	if (depth > NESTED_DEPTH_MAX)
		return hostdev_error(ctx, -EINVAL,
				     "%s: JSON nesting depth %u is above the limit of %u",
				     hostdev_pci_device_get_address(dev), depth, NESTED_DEPTH_MAX);

	json_writer_init_nested(&w,
				(flags & HOSTDEV_JSON_INDENT)	? JSON_LAYOUT_SPACES
				: (flags & HOSTDEV_JSON_PRETTY) ? JSON_LAYOUT_CJSON
								: JSON_LAYOUT_COMPACT,
				depth);
	json_write_object_begin(&w, NULL);
	add_identity(&w, dev);
	add_kernel_state(&w, dev);
	add_sriov(&w, dev);
	add_string_array(&w, "netdevs", dev, hostdev_pci_device_get_netdev_count(dev),
			 hostdev_pci_device_get_netdev);
	add_mdev_types(&w, dev);
	r = add_names(&w, dev);
	if (r < 0) {
		json_writer_discard(&w);
		return hostdev_error(ctx, r, "%s: cannot compute the KubeVirt variable name: %s",
				     hostdev_pci_device_get_address(dev), strerror(-r));
	}
	add_mdevs(&w, dev);
	json_write_object_end(&w);
	if (json_writer_finish(&w, out) < 0)
		return hostdev_error(ctx, -ENOMEM, "%s: out of memory while building JSON",
				     hostdev_pci_device_get_address(dev));
	return 0;
}

HOSTDEV_EXPORT int hostdev_pci_device_to_json(hostdev_pci_device *dev, unsigned int flags,
					      char **out)
{
	return hostdev_pci_device_to_json_nested(dev, flags, 0, out);
}
