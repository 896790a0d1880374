# SPDX-License-Identifier: Apache-2.0
"""NVIDIA vGPU without mdev through the Python layer, on the A2 host of tests/vgpu/vgpu_tree.h.

The kernel model (preloaded into this pytest process by ctest) plays NVIDIA's driver below the fake
root: the VFs on nvidia carry nvidia/creatable_vgpu_types and nvidia/current_vgpu_type, and its
rules (a type only while creatable, one type per GPU, creatable shrinking as types are set) are
modelled from NVIDIA's documentation, not observed. Nothing is written to this machine's /sys.
"""

import errno

import pytest

import hostdev

PF = "0000:08:00.0"
VF0 = "0000:08:00.4"
VF1 = "0000:08:00.5"
NIC_VF = "0000:3b:02.0"


def test_list(vgpu_host):
    with vgpu_host.context() as ctx:
        vgpus = ctx.vgpus()
        assert len(vgpus) == 16 and all(isinstance(v, hostdev.Vgpu) for v in vgpus)
        v = vgpus[0]
        assert (v.address, v.pf, v.driver, v.current_type, v.current_name, v.journaled) == \
            (VF0, PF, "nvidia", 0, None, False)
        assert isinstance(v.iommu_group, int)
        assert v.creatable[2] == hostdev.VgpuType(1303, "NVIDIA A2-4Q")
        assert len(v.creatable) == 12
        assert [x.address for x in ctx.vgpus(PF)] == [x.address for x in vgpus]
        assert ctx.vgpus("08:00.5") == [vgpus[1]]
        with pytest.raises(hostdev.Error) as e:
            ctx.vgpus(NIC_VF)
        assert e.value.errno == errno.EOPNOTSUPP
        assert "and the VF is on iavf" in str(e.value)
        with pytest.raises(hostdev.NotFound):
            ctx.vgpus("0000:99:00.0")


def test_set_clear_restore(vgpu_host):
    with vgpu_host.context() as ctx:
        assert ctx.set_vgpu_type(VF0, 1303) is True
        assert ctx.set_vgpu_type(VF0, 1303) is False
        v0, v1 = ctx.vgpus(VF0)[0], ctx.vgpus(VF1)[0]
        assert (v0.current_type, v0.current_name, v0.journaled, v0.creatable) == \
            (1303, "NVIDIA A2-4Q", True, [])
        assert v1.creatable == [hostdev.VgpuType(1303, "NVIDIA A2-4Q")]
        with pytest.raises(hostdev.NotFound, match="cannot take vGPU type 1302 now"):
            ctx.set_vgpu_type(v1, 1302)
        with pytest.raises(hostdev.Busy, match="holds vGPU type 1303"):
            ctx.set_vgpu_type(VF0, 1301)
        with pytest.raises(TypeError):
            ctx.set_vgpu_type(VF0, 0)
        assert ctx.set_vgpu_type(v1, 1303) is True
        assert ctx.clear_vgpu_type(VF1) is True
        assert ctx.clear_vgpu_type(VF1) is False
        assert ctx.restore_vgpus() == 1
        assert ctx.vgpus(VF0)[0].current_type == 0
        assert vgpu_host.attr(VF0, "nvidia/current_vgpu_type") == "0"


def test_naming():
    assert hostdev.naming.vgpu_resource("NVIDIA A2-4Q") == "nvidia.com/NVIDIA_A2-4Q"
    assert hostdev.naming.vgpu_resource(" GRID T4-1Q ") == "nvidia.com/GRID_T4-1Q"
    with pytest.raises(hostdev.InvalidArgument):
        hostdev.naming.vgpu_resource("A2 (4Q)")
