/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resources the agent reads and writes. Field names are Harvester's
 * (harvester/pcidevices pkg/apis/devices.harvesterhci.io/v1beta1) plus the agent's extras, which
 * examples/agent/deploy/crds declares and Harvester's own CRDs prune.
 */
#include "agent.h"

static const char *const pci_status[] = {
    /* Harvester's */
    "address", "vendorId", "deviceId", "classId", "iommuGroup", "nodeName", "resourceName",
    "description", "kernelDriverInUse",
    /* ours */
    "numaNode", "iommuGroupMembers", "pfAddress", "vfAddresses", "totalVFs", NULL};

static const char *const usb_status[] = {
    /* Harvester's, except enabled/status/message: the claim controller writes those */
    "vendorID", "productID", "nodeName", "resourceName", "devicePath", "description", "pciAddress",
    "classType",
    /* ours */
    "portID", "portPath", "serial", NULL};

/* While the agent acts on USBDeviceClaims (the inventory then sets it). */
static const char *const usb_status_claimed[] = {"enabled", NULL};

static const char *const sriov_status[] = {"vfAddresses", "vfPCIDevices", "status",
					   /* ours */
					   "totalVFs", NULL};

/* numVFs is the user's request: set to 0 at creation only. */
static const char *const sriov_spec[] = {"address", "nodeName", NULL};
static const char *const no_fields[] = {NULL};

const struct kind_def agent_kinds[KIND_COUNT] = {
    [KIND_PCI] = {"PCIDevice",
		  "pcidevices",
		  "pcidevices." AGENT_GROUP,
		  {AGENT_GROUP, AGENT_VERSION_NAME, "pcidevices", "PCIDevice", false},
		  pci_status,
		  no_fields},
    [KIND_USB] = {"USBDevice",
		  "usbdevices",
		  "usbdevices." AGENT_GROUP,
		  {AGENT_GROUP, AGENT_VERSION_NAME, "usbdevices", "USBDevice", false},
		  usb_status,
		  no_fields,
		  "{\"enabled\":false}",
		  usb_status_claimed},
    [KIND_SRIOV] = {"SRIOVNetworkDevice",
		    "sriovnetworkdevices",
		    "sriovnetworkdevices." AGENT_GROUP,
		    {AGENT_GROUP, AGENT_VERSION_NAME, "sriovnetworkdevices", "SRIOVNetworkDevice",
		     false},
		    sriov_status,
		    sriov_spec},
};

const struct kube_resource agent_node_resource = {"", "v1", "nodes", "Node", false};
const struct kube_resource agent_crd_resource = {
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
