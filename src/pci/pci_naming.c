/* SPDX-License-Identifier: Apache-2.0 */
/* Harvester/KubeVirt names of a PCI device, computed once from its ids, names and the node name. */
#include <string.h>

#include "pci.h"

static void load_naming(hostdev_pci_device *dev)
{
	char buf[HOSTDEV_NAME_MAX];
	const char *node = hostdev_ctx_get_node_name(dev->ctx);

	if (dev->loaded & PCI_PART_NAMING)
		return;
	dev->loaded |= PCI_PART_NAMING;
	pci_device_load_names(dev);
	if (hostdev_naming_pci_description(dev->class_name, dev->subclass_name, dev->class_code,
					   dev->vendor_name, dev->vendor_id, dev->device_name,
					   dev->device_id, buf, sizeof(buf)) >= 0)
		dev->description = strdup(buf);
	if (hostdev_naming_pci_object_name(node, dev->address, buf, sizeof(buf)) >= 0)
		dev->object_name = strdup(buf);
	if (hostdev_naming_pci_resource(dev->vendor_name, dev->device_name, dev->device_id, buf,
					sizeof(buf)) >= 0)
		dev->resource_name = strdup(buf);
	if (dev->object_name &&
	    hostdev_naming_resource_vendor(dev->vendor_name, buf, sizeof(buf)) >= 0) {
		size_t lv = strlen(buf);

		if (lv + 1 + strlen(dev->object_name) < sizeof(buf)) {
			buf[lv] = '/';
			strcpy(buf + lv + 1, dev->object_name);
			dev->device_resource_name = strdup(buf);
		}
	}
}

HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_description, load_naming,
			      description, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_object_name, load_naming,
			      object_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_resource_name, load_naming,
			      resource_name, NULL)
HOSTDEV_DEFINE_LOADING_GETTER(const char *, hostdev_pci_device, get_device_resource_name,
			      load_naming, device_resource_name, NULL)
