# SPDX-License-Identifier: Apache-2.0
"""Harvester- and KubeVirt-compatible names as pure functions (hostdev/naming.h, docs/naming.md).

Each function raises hostdev.InvalidArgument for an input the C function rejects, TypeError or
OverflowError for an id that is not an unsigned int.
"""

from _hostdev import capi as _c
from _hostdev._errors import error_for

#: A buffer of this size holds any name the library produces.
NAME_MAX = _c.HOSTDEV_NAME_MAX


def _name(result, what):
    text, err = result
    if err < 0:
        raise error_for(err, "%s: %s" % (what, _c.hdb_strerror(err)))
    return text


def resource_vendor(vendor_name):
    """Vendor part of a pooled resource name: 'Intel Corporation' -> 'intel.com'."""
    return _name(_c.hdb_naming_resource_vendor(vendor_name), "resource_vendor")


def pci_resource(vendor_name, device_name, device_id):
    """Pooled resource name '<vendor>.com/<PRODUCT>' with Harvester's rules (socket-length rule
    included); the names are pci.ids names or None."""
    return _name(_c.hdb_naming_pci_resource(vendor_name, device_name, device_id), "pci_resource")


def pci_object_name(node, address):
    """Harvester PCIDevice object name '<node>-<address without : and .>'."""
    return _name(_c.hdb_naming_pci_object_name(node, address), "pci_object_name")


def pci_description(class_name, subclass_name, class_code, vendor_name, vendor_id, device_name,
                    device_id):
    """Harvester description '<subclass or class>: <vendor> <device>', with 'Class CCSS',
    'Vendor VVVV', 'Device DDDD' for unknown names."""
    return _name(_c.hdb_naming_pci_description(class_name, subclass_name, class_code,
                                               vendor_name, vendor_id, device_name,
                                               device_id), "pci_description")


def usb_object_name(node, vendor_id, product_id, busnum, devnum):
    """Harvester USBDevice object name '<node>-<vvvv>-<pppp>-<BBBDDD>'."""
    return _name(_c.hdb_naming_usb_object_name(node, vendor_id, product_id, busnum,
                                               devnum), "usb_object_name")


def kubevirt_env(prefix, resource_name):
    """KubeVirt environment variable: kubevirt_env('PCI_RESOURCE', 'nvidia.com/TU104GL_TESLA_T4')
    -> 'PCI_RESOURCE_NVIDIA_COM_TU104GL_TESLA_T4'."""
    return _name(_c.hdb_naming_kubevirt_env(prefix, resource_name), "kubevirt_env")


def device_id(text):
    """A valid Kubernetes device id for @text: @text itself when valid, else its allowed
    characters plus a hash (deterministic)."""
    return _name(_c.hdb_naming_device_id(text), "device_id")


def is_valid_resource_name(resource_name):
    """True when @resource_name is a valid Kubernetes extended resource name."""
    return _c.hostdev_naming_check_resource_name(resource_name) == 0


def vgpu_resource(type_name):
    """Harvester's resource name of an NVIDIA vGPU type: 'NVIDIA A2-4Q' ->
    'nvidia.com/NVIDIA_A2-4Q' (docs/vgpu.md)."""
    return _name(_c.hdb_naming_vgpu_resource(type_name), "vgpu_resource")
