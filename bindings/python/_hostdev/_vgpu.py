# SPDX-License-Identifier: Apache-2.0
"""NVIDIA vGPU without mdev: the vGPU types of a GPU's VFs (hostdev/vgpu.h, docs/vgpu.md).

Plain Python values: the C snapshot (hostdev_vgpu_list) is read once and released.
"""

import collections

from . import capi as _c

VgpuType = collections.namedtuple("VgpuType", "id name")
VgpuType.__doc__ = ("A vGPU type a VF can take now (a line of nvidia/creatable_vgpu_types): its id "
                    "(what set_vgpu_type() takes) and name ('NVIDIA A2-4Q').")

Vgpu = collections.namedtuple(
    "Vgpu", "address pf driver iommu_group current_type current_name journaled creatable")
Vgpu.__doc__ = (
    "A VF with NVIDIA's vGPU attributes (Context.vgpus()): its address, its GPU's address (None "
    "without physfn), driver ('nvidia'; None: none), IOMMU group (None: none), the type it holds "
    "(0: none) and its name (None: none or unknown), whether the vGPU journal records it (bool) "
    "and the types it can take now (a list of VgpuType, in the driver's order).")

#: Default watchdog of set_vgpu_type(), clear_vgpu_type() and restore_vgpu() in milliseconds.
VGPU_DEFAULT_TIMEOUT_MS = _c.HOSTDEV_VGPU_DEFAULT_TIMEOUT_MS


def read_list(lst):
    """[Vgpu] from a hostdev_vgpu_list (under the context's lock)."""
    out = []
    for i in range(_c.hostdev_vgpu_list_get_count(lst)):
        group = _c.hostdev_vgpu_list_get_iommu_group(lst, i)
        types = [VgpuType(_c.hostdev_vgpu_list_get_type_id(lst, i, k),
                          _c.hostdev_vgpu_list_get_type_name(lst, i, k))
                 for k in range(_c.hostdev_vgpu_list_get_type_count(lst, i))]
        out.append(Vgpu(_c.hostdev_vgpu_list_get_address(lst, i),
                        _c.hostdev_vgpu_list_get_pf(lst, i),
                        _c.hostdev_vgpu_list_get_driver(lst, i),
                        group if group >= 0 else None,
                        _c.hostdev_vgpu_list_get_current_type(lst, i),
                        _c.hostdev_vgpu_list_get_current_name(lst, i),
                        bool(_c.hostdev_vgpu_list_is_journaled(lst, i)),
                        types))
    return out
