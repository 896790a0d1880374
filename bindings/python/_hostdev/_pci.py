# SPDX-License-Identifier: Apache-2.0
"""PCI devices and their enumeration (include/hostdev/pci.h)."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Iterator, Optional, Tuple

from . import capi as _c
from ._base import _Enumerator, _Snapshot, _as_list, _getter, _list, _none_if_negative

PciAddress = collections.namedtuple("PciAddress", "domain bus slot function")
PciAddress.__doc__ = "A parsed PCI address; str() of it is the canonical 'dddd:bb:ss.f'."
PciAddress.__str__ = lambda a: "%04x:%02x:%02x.%x" % a

VirtualFunction = collections.namedtuple("VirtualFunction", "number address")
VirtualFunction.__doc__ = "A VF of an SR-IOV PF: its N of virtfnN and its address."

MdevType = collections.namedtuple("MdevType", "id name available device_api description")
MdevType.__doc__ = ("A mediated device type offered by an mdev parent; name, device_api and "
                    "description are None and available -1 when the driver gives none.")

BridgeBuses = collections.namedtuple("BridgeBuses", "primary secondary subordinate")
BridgeBuses.__doc__ = ("The bus numbers a bridge forwards, from its configuration header: the bus it "
                       "sits on, the bus behind it (0 when firmware left it unprogrammed) and the "
                       "highest bus behind it.")

ActiveMdev = collections.namedtuple("ActiveMdev", "uuid type type_name iommu_group in_use")
ActiveMdev.__doc__ = ("A mediated device that exists on a parent: its UUID, type id and name (None "
                      "when unknown), IOMMU group (None without one), and in_use: True when a "
                      "process holds it open, False when none does, None when that cannot be told "
                      "(not root). Binding the parent to vfio-pci would destroy it.")


def _in_use(value):
    return None if value < 0 else bool(value)


def parse_address(text: str) -> PciAddress:
    """Parse 'DDDD:BB:SS.F' or 'BB:SS.F' into a PciAddress; hostdev.InvalidArgument if malformed."""
    from ._errors import error_for
    addr, err = _c.hdb_pci_address_parse(text)
    if err < 0:
        raise error_for(err, "%r is not a PCI address: expected DDDD:BB:DD.F in hex (domain, bus, "
                             "device 00-1f, function 0-7), such as 0000:3b:00.0; the domain may "
                             "be left out (3b:00.0 is 0000:3b:00.0)" % (text,))
    return PciAddress(addr.domain, addr.bus, addr.slot, addr.function)


class PciDevice(_Snapshot):
    """A snapshot of one PCI function (hostdev_pci_device).

    Identity, class, driver, NUMA node and SR-IOV counts were read when the object was made; names,
    modules, IOMMU group members, VFs, network interfaces and mdev types are read on first use and
    kept. Make a new object (Context.pci_device()) to see a changed state.
    """

    __slots__ = ()
    _TO_JSON = staticmethod(_c.hdb_pci_device_to_json)

    def __repr__(self):
        return "<hostdev.PciDevice %s [%04x:%04x] driver=%s>" % (
            self.address, self.vendor_id, self.device_id, self.driver)

    def __eq__(self, other):
        return isinstance(other, PciDevice) and other.address == self.address

    def __hash__(self):
        return hash(self.address)

    address: str = _getter(_c.hostdev_pci_device_get_address, "'dddd:bb:ss.f'")

    @property
    def pci_address(self) -> PciAddress:
        """The address as a PciAddress(domain, bus, slot, function)."""
        with self._ctx._lock:
            a = _c.hostdev_pci_device_get_pci_address(self._dev)
        return PciAddress(a.domain, a.bus, a.slot, a.function)

    vendor_id: int = _getter(_c.hostdev_pci_device_get_vendor_id, "vendor id")
    device_id: int = _getter(_c.hostdev_pci_device_get_device_id, "device id")
    subsystem_vendor_id: int = _getter(_c.hostdev_pci_device_get_subsystem_vendor_id, "subsystem vendor id")
    subsystem_device_id: int = _getter(_c.hostdev_pci_device_get_subsystem_device_id, "subsystem device id")
    class_code: int = _getter(_c.hostdev_pci_device_get_class, "24-bit class code 0xCCSSPP")
    revision: int = _getter(_c.hostdev_pci_device_get_revision, "revision")

    vendor_name: Optional[str] = _getter(_c.hostdev_pci_device_get_vendor_name, "pci.ids vendor name or None")
    device_name: Optional[str] = _getter(_c.hostdev_pci_device_get_device_name, "pci.ids device name or None")
    subsystem_vendor_name: Optional[str] = _getter(_c.hostdev_pci_device_get_subsystem_vendor_name,
                                    "pci.ids subsystem vendor name or None")
    subsystem_name: Optional[str] = _getter(_c.hostdev_pci_device_get_subsystem_name, "pci.ids subsystem name or None")
    class_name: Optional[str] = _getter(_c.hostdev_pci_device_get_class_name, "pci.ids class name or None")
    subclass_name: Optional[str] = _getter(_c.hostdev_pci_device_get_subclass_name, "pci.ids subclass name or None")
    prog_if_name: Optional[str] = _getter(_c.hostdev_pci_device_get_prog_if_name, "pci.ids prog-if name or None")

    driver: Optional[str] = _getter(_c.hostdev_pci_device_get_driver, "bound driver, None when unbound")
    driver_override: Optional[str] = _getter(_c.hostdev_pci_device_get_driver_override, "driver_override or None")
    modalias: Optional[str] = _getter(_c.hostdev_pci_device_get_modalias, "modalias or None")
    modules: Tuple[str, ...] = _getter(_list(_c.hostdev_pci_device_get_module_count, _c.hostdev_pci_device_get_module),
                      "kernel modules able to drive the device (tuple)")

    iommu_group: Optional[int] = _getter(_c.hostdev_pci_device_get_iommu_group, "IOMMU group number or None",
                          _none_if_negative)
    iommu_group_members: Tuple[str, ...] = _getter(
        _list(_c.hostdev_pci_device_get_iommu_group_member_count,
              _c.hostdev_pci_device_get_iommu_group_member),
        "addresses of the IOMMU group's devices, this one included (tuple, sorted)")
    numa_node: Optional[int] = _getter(_c.hostdev_pci_device_get_numa_node, "NUMA node or None", _none_if_negative)
    physical_slot: Optional[str] = _getter(_c.hostdev_pci_device_get_physical_slot, "physical slot name or None")
    boot_vga: bool = _getter(_c.hostdev_pci_device_is_boot_vga, "firmware boot VGA device", bool)
    is_bridge: bool = _getter(_c.hostdev_pci_device_is_bridge, "PCI-to-PCI bridge (never passed through)", bool)

    @property
    def parent_address(self) -> Optional[str]:
        """The address of the device upstream of this one in the kernel's tree (the bridge or root
        port it sits behind; a VMD endpoint for a device in a VMD domain); None on a root bus.
        hostdev.NotFound when the device is gone."""
        from ._errors import error_for
        with self._ctx._lock:
            addr, err = _c.hdb_pci_device_get_parent_address(self._dev)
        if err < 0:
            raise error_for(err, "cannot find the device upstream of %s" % self.address)
        return addr

    @property
    def bridge_buses(self) -> Optional[BridgeBuses]:
        """For a PCI-to-PCI or CardBus bridge, the BridgeBuses(primary, secondary, subordinate) it
        forwards (what `hostdev list -t` draws the tree from); None for other devices. An error
        when the configuration header cannot be read."""
        from ._errors import error_for
        with self._ctx._lock:
            packed, err = _c.hdb_pci_device_get_bridge_buses(self._dev)
        if err < 0:
            raise error_for(err, "cannot read the bus numbers of bridge %s" % self.address)
        if err == 0:
            return None
        return BridgeBuses(packed & 0xff, (packed >> 8) & 0xff, (packed >> 16) & 0xff)

    is_sriov_pf: bool = _getter(_c.hostdev_pci_device_is_sriov_pf, "SR-IOV physical function", bool)
    sriov_total_vfs: int = _getter(_c.hostdev_pci_device_get_sriov_total_vfs, "sriov_totalvfs (0 for non-PFs)")
    sriov_num_vfs: int = _getter(_c.hostdev_pci_device_get_sriov_num_vfs, "sriov_numvfs (0 for non-PFs)")
    sriov_vf_device_id: int = _getter(_c.hostdev_pci_device_get_sriov_vf_device_id, "VF device id, 0 unknown")
    vfs: Tuple[VirtualFunction, ...] = _getter(_list(_c.hostdev_pci_device_get_vf_count,
                        lambda d, i: VirtualFunction(_c.hostdev_pci_device_get_vf_number(d, i),
                                                     _c.hostdev_pci_device_get_vf_address(d, i))),
                  "existing VFs (tuple of VirtualFunction)")
    is_sriov_vf: bool = _getter(_c.hostdev_pci_device_is_sriov_vf, "SR-IOV virtual function", bool)
    pf_address: Optional[str] = _getter(_c.hostdev_pci_device_get_pf_address, "address of the PF of a VF, else None")
    vf_index: Optional[int] = _getter(_c.hostdev_pci_device_get_vf_index, "VF number on its PF, None for non-VFs",
                       _none_if_negative)

    netdevs: Tuple[str, ...] = _getter(_list(_c.hostdev_pci_device_get_netdev_count, _c.hostdev_pci_device_get_netdev),
                      "network interfaces (tuple, sorted)")
    mdev_types: Tuple[MdevType, ...] = _getter(
        _list(_c.hostdev_pci_device_get_mdev_type_count,
              lambda d, i: MdevType(_c.hostdev_pci_device_get_mdev_type_id(d, i),
                                    _c.hostdev_pci_device_get_mdev_type_name(d, i),
                                    _c.hostdev_pci_device_get_mdev_type_available(d, i),
                                    _c.hostdev_pci_device_get_mdev_type_device_api(d, i),
                                    _c.hostdev_pci_device_get_mdev_type_description(d, i))),
        "mdev types offered as an mdev parent (tuple of MdevType, sorted by id)")
    active_mdevs: Tuple[ActiveMdev, ...] = _getter(
        _list(_c.hostdev_pci_device_get_active_mdev_count,
              lambda d, i: ActiveMdev(
                  _c.hostdev_pci_device_get_active_mdev_uuid(d, i),
                  _c.hostdev_pci_device_get_active_mdev_type(d, i),
                  _c.hostdev_pci_device_get_active_mdev_type_name(d, i),
                  _none_if_negative(_c.hostdev_pci_device_get_active_mdev_iommu_group(d, i)),
                  _in_use(_c.hostdev_pci_device_is_active_mdev_in_use(d, i)))),
        "mdevs that exist on this parent (tuple of ActiveMdev, sorted by uuid)")

    description: str = _getter(_c.hostdev_pci_device_get_description, "Harvester description")
    object_name: str = _getter(_c.hostdev_pci_device_get_object_name, "Harvester PCIDevice object name")
    resource_name: str = _getter(_c.hostdev_pci_device_get_resource_name, "pooled resource name")
    device_resource_name: str = _getter(_c.hostdev_pci_device_get_device_resource_name,
                                   "per-device resource name")



class PciDevices(_Enumerator):
    """The matching PCI devices in address order (hostdev_pci_enum), iterable more than once
    (each pass reads the host again).

    The filters are checked when it is made (hostdev.InvalidArgument names the bad part); devices
    are read one by one as the iteration goes, devices that vanish meanwhile are skipped.
    """

    _NEXT = staticmethod(_c.hdb_pci_enum_next)
    _ITEM = PciDevice

    if TYPE_CHECKING:
        def __iter__(self) -> Iterator[PciDevice]: ...
        def __next__(self) -> PciDevice: ...

    def __init__(self, ctx, slot=None, ids=None, driver=None, class_=None):
        self._ctx = ctx
        self._args = dict(slot=slot, ids=ids, driver=driver, class_=class_)
        with ctx._lock:
            e, err = _c.hdb_pci_enum_new(ctx._raw())
            ctx._check(err)
            for fn, specs in ((_c.hostdev_pci_enum_add_slot_filter, slot),
                              (_c.hostdev_pci_enum_add_id_filter, ids),
                              (_c.hostdev_pci_enum_add_driver_filter, driver),
                              (_c.hostdev_pci_enum_add_class_filter, class_)):
                for spec in _as_list(specs):
                    ctx._check(fn(e, spec))
        self._enum = e

