/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's devices as the objects the agent wants on the API server: PCIDevice for every PCI
 * function but bridges, USBDevice for every USB device (hubs left out), SRIOVNetworkDevice for
 * every SR-IOV capable network PF. Harvester's fields first, with its exact formats, then the
 * agent's extras (NUMA node, IOMMU group members, PF/VF links, the USB port identity).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define PCI_CLASS_NETWORK 0x02
#define HARVESTER_DRIVER_ANNOTATION "harvesterhci.io/pcideviceDriver"
#define HARVESTER_SRIOV_IFNAME_ANNOTATION "sriov.devices.harvesterhi.io/interface-name"

int inventory_wants_pci(hostdev_pci_device *dev)
{
	return !hostdev_pci_device_is_bridge(dev);
}

int inventory_wants_sriov(hostdev_pci_device *dev)
{
	return hostdev_pci_device_is_sriov_pf(dev) &&
	       (hostdev_pci_device_get_class(dev) >> 16) == PCI_CLASS_NETWORK;
}

static void add_hex(cJSON *obj, const char *key, unsigned int value, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", digits, value);
	cJSON_AddStringToObject(obj, key, buf);
}

static void add_label(cJSON *labels, const char *key, const char *value)
{
	char buf[64];
	const char *v = naming_label_value(value, buf, sizeof(buf));

	if (v)
		cJSON_AddStringToObject(labels, key, v);
}

static void add_hex_label(cJSON *labels, const char *key, unsigned int value, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", digits, value);
	cJSON_AddStringToObject(labels, key, buf);
}

/* apiVersion, kind, metadata {name, labels {nodename}, ownerReferences}; returns the object and
 * its labels. */
static cJSON *skeleton(const struct agent_ids *ids, const char *kind, const char *name,
		       cJSON **labels)
{
	cJSON *obj = cJSON_CreateObject(), *meta;

	cJSON_AddStringToObject(obj, "apiVersion", AGENT_API_VERSION);
	cJSON_AddStringToObject(obj, "kind", kind);
	meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", name);
	*labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON_AddStringToObject(*labels, AGENT_NODE_LABEL, ids->node);
	if (ids->node_uid) {
		cJSON *refs = cJSON_AddArrayToObject(meta, "ownerReferences");
		cJSON *ref = cJSON_CreateObject();

		cJSON_AddStringToObject(ref, "apiVersion", "v1");
		cJSON_AddStringToObject(ref, "kind", "Node");
		cJSON_AddStringToObject(ref, "name", ids->node);
		cJSON_AddStringToObject(ref, "uid", ids->node_uid);
		cJSON_AddItemToArray(refs, ref);
	}
	return obj;
}

static void add_annotation(cJSON *obj, const char *key, const char *value)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");

	if (!value)
		return;
	if (!ann)
		ann = cJSON_AddObjectToObject(meta, "annotations");
	cJSON_AddStringToObject(ann, key, value);
}

cJSON *inventory_pci_object(const struct agent_ids *ids, hostdev_pci_device *dev)
{
	const char *name = hostdev_pci_device_get_object_name(dev);
	const char *driver = hostdev_pci_device_get_driver(dev);
	unsigned int class_code = hostdev_pci_device_get_class(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	cJSON *obj, *labels, *status;
	char buf[32];

	if (!name || !hostdev_pci_device_get_resource_name(dev) ||
	    !hostdev_pci_device_get_description(dev))
		return NULL;
	obj = skeleton(ids, "PCIDevice", name, &labels);
	add_hex_label(labels, AGENT_LABEL_PREFIX "vendor", hostdev_pci_device_get_vendor_id(dev),
		      4);
	add_hex_label(labels, AGENT_LABEL_PREFIX "device", hostdev_pci_device_get_device_id(dev),
		      4);
	add_hex_label(labels, AGENT_LABEL_PREFIX "class", class_code >> 8, 4);
	add_label(labels, AGENT_LABEL_PREFIX "driver", driver);
	/* Harvester records the driver found at first discovery; written at creation only. */
	add_annotation(obj, HARVESTER_DRIVER_ANNOTATION, driver ? driver : "");
	cJSON_AddObjectToObject(obj, "spec");
	status = cJSON_AddObjectToObject(obj, "status");
	cJSON_AddStringToObject(status, "address", hostdev_pci_device_get_address(dev));
	add_hex(status, "vendorId", hostdev_pci_device_get_vendor_id(dev), 4);
	add_hex(status, "deviceId", hostdev_pci_device_get_device_id(dev), 4);
	add_hex(status, "classId", class_code >> 8, 4);
	if (group >= 0)
		snprintf(buf, sizeof(buf), "%d", group);
	else
		buf[0] = '\0';
	cJSON_AddStringToObject(status, "iommuGroup", buf);
	cJSON_AddStringToObject(status, "nodeName", ids->node);
	{
		const char *own =
		    ids->resource_names
			? strmap_get(ids->resource_names, hostdev_pci_device_get_address(dev))
			: NULL;

		cJSON_AddStringToObject(status, "resourceName",
					own ? own : hostdev_pci_device_get_resource_name(dev));
	}
	cJSON_AddStringToObject(status, "description", hostdev_pci_device_get_description(dev));
	if (driver)
		cJSON_AddStringToObject(status, "kernelDriverInUse", driver);
	/* Extras. */
	cJSON_AddNumberToObject(status, "numaNode", hostdev_pci_device_get_numa_node(dev));
	if (hostdev_pci_device_get_iommu_group_member_count(dev) > 0) {
		cJSON *members = cJSON_AddArrayToObject(status, "iommuGroupMembers");

		for (size_t i = 0; i < hostdev_pci_device_get_iommu_group_member_count(dev); i++)
			cJSON_AddItemToArray(
			    members,
			    cJSON_CreateString(hostdev_pci_device_get_iommu_group_member(dev, i)));
	}
	if (hostdev_pci_device_get_pf_address(dev))
		cJSON_AddStringToObject(status, "pfAddress",
					hostdev_pci_device_get_pf_address(dev));
	if (hostdev_pci_device_get_vf_count(dev) > 0) {
		cJSON *vfs = cJSON_AddArrayToObject(status, "vfAddresses");

		for (size_t i = 0; i < hostdev_pci_device_get_vf_count(dev); i++)
			cJSON_AddItemToArray(
			    vfs, cJSON_CreateString(hostdev_pci_device_get_vf_address(dev, i)));
	}
	if (hostdev_pci_device_is_sriov_pf(dev))
		cJSON_AddNumberToObject(status, "totalVFs",
					hostdev_pci_device_get_sriov_total_vfs(dev));
	return obj;
}

cJSON *inventory_usb_object(const struct agent_ids *ids, hostdev_usb_device *dev)
{
	char *name = naming_usb_object(dev, ids->usb_naming);
	char *description = naming_usb_description(dev);
	const char *controller = hostdev_usb_device_get_controller_address(dev);
	const char *class_type, *serial = hostdev_usb_device_get_serial(dev);
	char buf[64], resource[320];
	cJSON *obj = NULL, *labels, *status;

	if (!name || !description)
		goto out;
	obj = skeleton(ids, "USBDevice", name, &labels);
	add_hex_label(labels, AGENT_LABEL_PREFIX "vendor", hostdev_usb_device_get_vendor_id(dev),
		      4);
	add_hex_label(labels, AGENT_LABEL_PREFIX "device", hostdev_usb_device_get_product_id(dev),
		      4);
	add_hex_label(labels, AGENT_LABEL_PREFIX "class", hostdev_usb_device_get_class(dev), 2);
	if (hostdev_usb_device_get_interface_count(dev) > 0)
		add_label(labels, AGENT_LABEL_PREFIX "driver",
			  hostdev_usb_device_get_interface_driver(dev, 0));
	status = cJSON_AddObjectToObject(obj, "status");
	add_hex(status, "vendorID", hostdev_usb_device_get_vendor_id(dev), 4);
	add_hex(status, "productID", hostdev_usb_device_get_product_id(dev), 4);
	cJSON_AddStringToObject(status, "nodeName", ids->node);
	/* Harvester: "kubevirt.io/" + the object name, whichever naming is in force. */
	snprintf(resource, sizeof(resource), "kubevirt.io/%s", name);
	cJSON_AddStringToObject(status, "resourceName", resource);
	/* The node's path (the library's devnode carries the context's /dev root). */
	snprintf(buf, sizeof(buf), "/dev/bus/usb/%03u/%03u", hostdev_usb_device_get_busnum(dev),
		 hostdev_usb_device_get_devnum(dev));
	cJSON_AddStringToObject(status, "devicePath", buf);
	cJSON_AddStringToObject(status, "description", description);
	cJSON_AddStringToObject(status, "pciAddress", controller ? controller : "");
	class_type = naming_usb_class_type(hostdev_usb_device_get_class(dev), buf, sizeof(buf));
	if (class_type)
		cJSON_AddStringToObject(status, "classType", class_type);
	/* Extras. */
	if (hostdev_usb_device_get_port_id(dev))
		cJSON_AddStringToObject(status, "portID", hostdev_usb_device_get_port_id(dev));
	cJSON_AddStringToObject(status, "portPath", hostdev_usb_device_get_port_path(dev));
	/* Raw bytes from the device: published only when they are text. */
	if (serial && serial[0] && naming_is_utf8(serial))
		cJSON_AddStringToObject(status, "serial", serial);
	/* Enabled while a USBDeviceClaim holds this port for this device (vendor:product and
	 * serial, as usbclaims.c records it). */
	if (ids->usb_claimed) {
		const char *claimed =
		    strmap_get(ids->usb_claimed, hostdev_usb_device_get_port_path(dev));
		char key[320];

		snprintf(key, sizeof(key), "%04x:%04x\n%s", hostdev_usb_device_get_vendor_id(dev),
			 hostdev_usb_device_get_product_id(dev),
			 serial && naming_is_utf8(serial) ? serial : "");
		cJSON_AddBoolToObject(status, "enabled", claimed && strcmp(claimed, key) == 0);
	}
out:
	free(name);
	free(description);
	return obj;
}

cJSON *inventory_sriov_object(const struct agent_ids *ids, hostdev_pci_device *pf)
{
	char *name = naming_sriov_object(pf, ids->node);
	const char *ifname = hostdev_pci_device_get_netdev_count(pf) > 0
				 ? hostdev_pci_device_get_netdev(pf, 0)
				 : NULL;
	const char *driver = hostdev_pci_device_get_driver(pf);
	size_t n_vfs = hostdev_pci_device_get_vf_count(pf);
	cJSON *obj, *labels, *spec, *status;

	if (!name)
		return NULL;
	obj = skeleton(ids, "SRIOVNetworkDevice", name, &labels);
	free(name);
	add_hex_label(labels, AGENT_LABEL_PREFIX "vendor", hostdev_pci_device_get_vendor_id(pf), 4);
	add_hex_label(labels, AGENT_LABEL_PREFIX "device", hostdev_pci_device_get_device_id(pf), 4);
	add_label(labels, AGENT_LABEL_PREFIX "driver", driver);
	add_annotation(obj, HARVESTER_SRIOV_IFNAME_ANNOTATION, ifname);
	spec = cJSON_AddObjectToObject(obj, "spec");
	cJSON_AddStringToObject(spec, "address", hostdev_pci_device_get_address(pf));
	cJSON_AddStringToObject(spec, "nodeName", ids->node);
	cJSON_AddNumberToObject(spec, "numVFs", 0);
	status = cJSON_AddObjectToObject(obj, "status");
	if (n_vfs > 0) {
		cJSON *addrs = cJSON_AddArrayToObject(status, "vfAddresses");
		cJSON *names = cJSON_AddArrayToObject(status, "vfPCIDevices");

		for (size_t i = 0; i < n_vfs; i++) {
			const char *vf = hostdev_pci_device_get_vf_address(pf, i);
			char vf_name[HOSTDEV_NAME_MAX];

			cJSON_AddItemToArray(addrs, cJSON_CreateString(vf));
			if (hostdev_naming_pci_object_name(ids->node, vf, vf_name,
							   sizeof(vf_name)) > 0)
				cJSON_AddItemToArray(names, cJSON_CreateString(vf_name));
		}
	}
	cJSON_AddStringToObject(status, "status",
				n_vfs > 0 ? "sriovNetworkDeviceEnabled"
					  : "sriovNetworkDeviceDisabled");
	cJSON_AddNumberToObject(status, "totalVFs", hostdev_pci_device_get_sriov_total_vfs(pf));
	return obj;
}

int inventory_full(hostdev_ctx *ctx, const struct agent_ids *ids, inventory_sink_fn sink,
		   void *userdata)
{
	hostdev_pci_enum *pe = NULL;
	hostdev_usb_enum *ue = NULL;
	hostdev_pci_device *pci;
	hostdev_usb_device *usb;
	unsigned long reads = 0;
	int r, s = 0;

	r = hostdev_pci_enum_new(ctx, &pe);
	while (r >= 0 && s == 0 && (r = hostdev_pci_enum_next(pe, &pci)) > 0) {
		reads++;
		if (inventory_wants_pci(pci)) {
			cJSON *obj = inventory_pci_object(ids, pci);

			s = obj ? sink(KIND_PCI, obj, userdata) : -ENOMEM;
		}
		if (s == 0 && inventory_wants_sriov(pci)) {
			cJSON *obj = inventory_sriov_object(ids, pci);

			s = obj ? sink(KIND_SRIOV, obj, userdata) : -ENOMEM;
		}
		hostdev_pci_device_unref(pci);
	}
	hostdev_pci_enum_unref(pe);
	if (r < 0) {
		log_error("cannot list the PCI devices: %s", hostdev_ctx_get_error(ctx));
		return r;
	}
	r = s == 0 ? hostdev_usb_enum_new(ctx, 0, &ue) : 0;
	while (r >= 0 && s == 0 && (r = hostdev_usb_enum_next(ue, &usb)) > 0) {
		cJSON *obj = inventory_usb_object(ids, usb);

		reads++;
		s = obj ? sink(KIND_USB, obj, userdata) : -ENOMEM;
		hostdev_usb_device_unref(usb);
	}
	hostdev_usb_enum_unref(ue);
	metrics_device_reads("inventory", reads);
	if (r < 0) {
		log_error("cannot list the USB devices: %s", hostdev_ctx_get_error(ctx));
		return r;
	}
	if (s < 0)
		log_error("inventory: %s",
			  s == -ENOMEM ? "out of memory" : "an object was refused");
	return s;
}

cJSON *inventory_build(hostdev_ctx *ctx, const struct agent_ids *ids, enum agent_kind kind,
		       const char *source)
{
	cJSON *obj = NULL;

	if (kind == KIND_USB) {
		hostdev_usb_enum *e = NULL;
		hostdev_usb_device *dev = NULL;

		if (hostdev_usb_enum_new(ctx, 0, &e) == 0 &&
		    hostdev_usb_enum_add_port_filter(e, source) == 0 &&
		    hostdev_usb_enum_next(e, &dev) > 0) {
			obj = inventory_usb_object(ids, dev);
			hostdev_usb_device_unref(dev);
		}
		hostdev_usb_enum_unref(e);
	} else {
		hostdev_pci_device *dev = NULL;

		if (hostdev_pci_device_new(ctx, source, &dev) == 0) {
			if (kind == KIND_PCI && inventory_wants_pci(dev))
				obj = inventory_pci_object(ids, dev);
			else if (kind == KIND_SRIOV && inventory_wants_sriov(dev))
				obj = inventory_sriov_object(ids, dev);
			hostdev_pci_device_unref(dev);
		}
	}
	metrics_device_reads("write", 1);
	return obj;
}
