# SPDX-License-Identifier: Apache-2.0
"""Mediated devices: the types their parents offer and the mdevs that exist (hostdev/mdev.h).

Plain Python values: the C snapshots (hostdev_mdev_types, hostdev_mdev_list) are read once and
released.
"""

import collections

from . import capi as _c
from ._base import _none_if_negative

MdevTypeInfo = collections.namedtuple(
    "MdevTypeInfo", "id name available device_api description parent pci_parent selector")
MdevTypeInfo.__doc__ = (
    "An mdev type offered by a parent (Context.mdev_types()): the fields of MdevType (id, name, "
    "available, device_api, description; name, device_api and description None and available -1 "
    "when the driver gives none) plus parent (PCI address or device name such as 'mtty'), "
    "pci_parent (bool) and selector (KubeVirt's mdevNameSelector form of the name).")

Mdev = collections.namedtuple("Mdev", "uuid parent type type_name selector iommu_group driver")
Mdev.__doc__ = ("An existing mediated device (Context.mdevs()): its UUID (lower case), parent, "
                "type id, the type's name (None: none), KubeVirt selector, IOMMU group (None: "
                "none; a VMM opens /dev/vfio/<group>) and bound driver (None: none).")

#: Default watchdog of create_mdev() and remove_mdev() in milliseconds (timeout_ms=0).
MDEV_DEFAULT_TIMEOUT_MS = _c.HOSTDEV_MDEV_DEFAULT_TIMEOUT_MS


def read_types(types):
    """[MdevTypeInfo] from a hostdev_mdev_types (under the context's lock)."""
    t = types
    return [MdevTypeInfo(_c.hostdev_mdev_types_get_type(t, i),
                         _c.hostdev_mdev_types_get_name(t, i),
                         _c.hostdev_mdev_types_get_available(t, i),
                         _c.hostdev_mdev_types_get_device_api(t, i),
                         _c.hostdev_mdev_types_get_description(t, i),
                         _c.hostdev_mdev_types_get_parent(t, i),
                         bool(_c.hostdev_mdev_types_is_pci_parent(t, i)),
                         _c.hostdev_mdev_types_get_selector(t, i))
            for i in range(_c.hostdev_mdev_types_get_count(t))]


def read_list(lst):
    """[Mdev] from a hostdev_mdev_list (under the context's lock)."""
    return [Mdev(_c.hostdev_mdev_list_get_uuid(lst, i),
                 _c.hostdev_mdev_list_get_parent(lst, i),
                 _c.hostdev_mdev_list_get_type(lst, i),
                 _c.hostdev_mdev_list_get_type_name(lst, i),
                 _c.hostdev_mdev_list_get_selector(lst, i),
                 _none_if_negative(_c.hostdev_mdev_list_get_iommu_group(lst, i)),
                 _c.hostdev_mdev_list_get_driver(lst, i))
            for i in range(_c.hostdev_mdev_list_get_count(lst))]
