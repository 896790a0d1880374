# SPDX-License-Identifier: Apache-2.0
"""SR-IOV physical functions, their VFs, and changing the number of VFs (hostdev/sriov.h).

A SriovPf is a plain Python value: the C snapshot (hostdev_sriov_pf) is read once and released.
"""

import collections

from . import capi as _c
from ._base import _none_if_negative

SriovVf = collections.namedtuple("SriovVf", "index address driver iommu_group netdev mac")
SriovVf.__doc__ = ("A VF of an SR-IOV PF: its index N (of virtfnN), address, driver (None: none), "
                   "IOMMU group (None: none), first network interface and that interface's MAC "
                   "(None without an interface, e.g. on vfio-pci or driverless).")

_SriovPfBase = collections.namedtuple(
    "SriovPf", "address driver total_vfs num_vfs vf_device_id offset stride autoprobe vfs")


class SriovPf(_SriovPfBase):
    """A snapshot of an SR-IOV physical function (Context.sriov_pf()).

    ``address``; ``driver`` (None: no driver, then no VF count can be set); ``total_vfs``
    (sriov_totalvfs) and ``num_vfs`` (sriov_numvfs); ``vf_device_id`` (None when unknown);
    ``offset`` and ``stride`` of the VF routing IDs (0 when unknown); ``autoprobe`` (True: the
    kernel probes drivers for new VFs, False: new VFs stay driverless for vfio-pci, None: the kernel
    does not say); ``vfs``, a tuple of SriovVf in VF index order.
    """

    __slots__ = ()

    def vf(self, index):
        """The SriovVf with VF index @index, or None."""
        return next((v for v in self.vfs if v.index == index), None)

    def __repr__(self):
        return "<hostdev.SriovPf %s driver=%s vfs=%d/%d>" % (
            self.address, self.driver, self.num_vfs, self.total_vfs)


def read_pf(pf):
    """SriovPf from a hostdev_sriov_pf (under the context's lock)."""
    vf_id = _c.hostdev_sriov_pf_get_vf_device_id(pf)
    autoprobe = _c.hostdev_sriov_pf_get_autoprobe(pf)
    vfs = tuple(SriovVf(_c.hostdev_sriov_pf_get_vf_index(pf, i),
                        _c.hostdev_sriov_pf_get_vf_address(pf, i),
                        _c.hostdev_sriov_pf_get_vf_driver(pf, i),
                        _none_if_negative(_c.hostdev_sriov_pf_get_vf_iommu_group(pf, i)),
                        _c.hostdev_sriov_pf_get_vf_netdev(pf, i),
                        _c.hostdev_sriov_pf_get_vf_mac(pf, i))
                for i in range(_c.hostdev_sriov_pf_get_vf_count(pf)))
    return SriovPf(_c.hostdev_sriov_pf_get_address(pf),
                   _c.hostdev_sriov_pf_get_driver(pf),
                   _c.hostdev_sriov_pf_get_total_vfs(pf),
                   _c.hostdev_sriov_pf_get_num_vfs(pf),
                   vf_id or None,
                   _c.hostdev_sriov_pf_get_offset(pf),
                   _c.hostdev_sriov_pf_get_stride(pf),
                   None if autoprobe < 0 else bool(autoprobe),
                   vfs)


# autoprobe= of Context.set_num_vfs() -> enum hostdev_sriov_autoprobe.
AUTOPROBE = {
    None: _c.HOSTDEV_SRIOV_AUTOPROBE_KEEP,
    False: _c.HOSTDEV_SRIOV_AUTOPROBE_OFF,
    True: _c.HOSTDEV_SRIOV_AUTOPROBE_ON,
}

#: Default watchdog of set_num_vfs() in milliseconds (timeout_ms=0).
SRIOV_DEFAULT_TIMEOUT_MS = _c.HOSTDEV_SRIOV_DEFAULT_TIMEOUT_MS
