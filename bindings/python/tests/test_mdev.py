# SPDX-License-Identifier: Apache-2.0
"""Mediated devices through the Python layer, on the SR-IOV/mdev test host with the kernel model.

The kernel model (preloaded into this pytest process by ctest) plays the mdev core's `create` and
`remove` stores below the fake root: the mdev directory, its bus/type/driver links, a new IOMMU
group with /dev/vfio/<group>, and available_instances. Nothing is written to this machine's /sys.

Parents (tests/sriov/sriov_tree.h): the T4 GPU 0000:af:00.0 with nvidia-222 "GRID T4-1Q" (2 left,
with a description) and nvidia-223 "GRID T4-2Q" (0 left); the non-PCI parent mtty with mtty-1
"Single port serial" (24 left) and mtty-2 "Dual port serial" (12 left).
"""

import errno
import os
import re
import threading

import pytest

import conftest
import hostdev

GPU = "0000:af:00.0"
NIC_PF = "0000:3b:00.0"
UUID1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MTTY_TYPES = "sys/devices/virtual/mtty/mtty/mdev_supported_types"


def available(ctx, parent, type_id):
    return next(t.available for t in ctx.mdev_types(parent) if t.id == type_id)


def test_types(sriov_host):
    with sriov_host.context() as ctx:
        types = ctx.mdev_types()
        assert all(isinstance(t, hostdev.MdevTypeInfo) for t in types)
        assert [(t.parent, t.id) for t in types] == [
            (GPU, "nvidia-222"), (GPU, "nvidia-223"), ("mtty", "mtty-1"), ("mtty", "mtty-2")]
        t = types[0]
        assert t == hostdev.MdevTypeInfo(
            id="nvidia-222", name="GRID T4-1Q", available=2, device_api="vfio-pci",
            description="num_heads=4, frl_config=60, framebuffer=1024M", parent=GPU,
            pci_parent=True, selector="GRID_T4-1Q")
        assert types[1].available == 0
        mtty2 = types[3]
        assert (mtty2.name, mtty2.selector, mtty2.pci_parent, mtty2.device_api, mtty2.description) \
            == ("Dual port serial", "Dual_port_serial", False, "vfio-pci", None)
        # Values are the tree's attributes.
        for t in types[2:]:
            base = os.path.join(MTTY_TYPES, t.id)
            assert t.name == sriov_host.read(base + "/name")
            assert t.available == int(sriov_host.read(base + "/available_instances"))
        # One parent, by address, short address, PciDevice or name.
        assert ctx.mdev_types("af:00.0") == types[:2] == ctx.mdev_types(ctx.pci_device(GPU))
        assert ctx.mdev_types("mtty") == types[2:]
        # The leading fields are those of PciDevice.mdev_types (MdevType).
        gpu_types = ctx.pci_device(GPU).mdev_types
        assert [tuple(t[:5]) for t in types[:2]] == [tuple(m) for m in gpu_types]


def test_type_errors(sriov_host):
    with sriov_host.context() as ctx:
        with pytest.raises(hostdev.NotSupported) as e:
            ctx.mdev_types(NIC_PF)
        assert e.value.errno == errno.EOPNOTSUPP
        assert "offers no mediated device types" in e.value.message
        with pytest.raises(hostdev.NotFound) as e:
            ctx.mdev_types("nosuchparent")
        assert e.value.errno == errno.ENODEV


def test_create_list_remove(sriov_host):
    with sriov_host.context() as ctx:
        assert ctx.mdevs() == []
        assert ctx.create_mdev("mtty", "mtty-2", UUID1.upper()) == UUID1
        assert sriov_host.has("sys/bus/mdev/devices/" + UUID1)
        assert available(ctx, "mtty", "mtty-2") == 11
        gen = ctx.create_mdev("af:00.0", "nvidia-222")
        assert UUID_V4.match(gen), gen
        mdevs = ctx.mdevs()
        assert [m.uuid for m in mdevs] == sorted([UUID1, gen])
        m = next(x for x in mdevs if x.uuid == UUID1)
        assert isinstance(m, hostdev.Mdev)
        assert (m.parent, m.type, m.type_name, m.selector, m.driver) == \
            ("mtty", "mtty-2", "Dual port serial", "Dual_port_serial", "vfio_mdev")
        assert isinstance(m.iommu_group, int) and sriov_host.has("dev/vfio/%d" % m.iommu_group)
        g = next(x for x in mdevs if x.uuid == gen)
        assert (g.parent, g.type, g.selector) == (GPU, "nvidia-222", "GRID_T4-1Q")
        assert g.iommu_group != m.iommu_group
        assert available(ctx, GPU, "nvidia-222") == 1

        ctx.remove_mdev(UUID1)
        assert not sriov_host.has("sys/bus/mdev/devices/" + UUID1)
        assert not sriov_host.has("dev/vfio/%d" % m.iommu_group)
        assert available(ctx, "mtty", "mtty-2") == 12
        ctx.remove_mdev(g)  # an Mdev works as well
        assert ctx.mdevs() == []

        # A type object and a parent object work as arguments.
        t = ctx.mdev_types("mtty")[0]
        u = ctx.create_mdev(t.parent, t)
        assert [(x.uuid, x.type) for x in ctx.mdevs()] == [(u, "mtty-1")]
        ctx.remove_mdev(u)


def test_create_remove_errors(sriov_host, monkeypatch):
    with sriov_host.context() as ctx:
        with pytest.raises(hostdev.NotFound) as e:
            ctx.create_mdev("mtty", "mtty-9")
        assert e.value.errno == errno.ENOENT
        assert "has no mdev type 'mtty-9'; its types are: mtty-1, mtty-2" in e.value.message
        with pytest.raises(hostdev.NoSpace) as e:
            ctx.create_mdev(GPU, "nvidia-223")
        assert e.value.errno == errno.ENOSPC
        assert "no instances of mdev type nvidia-223 are left" in e.value.message
        with pytest.raises(hostdev.NotFound) as e:
            ctx.create_mdev("nosuchparent", "mtty-1")
        assert e.value.errno == errno.ENODEV
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.create_mdev("mtty", "mtty-1", "not-a-uuid")
        assert e.value.errno == errno.EINVAL
        ctx.create_mdev("mtty", "mtty-1", UUID1)
        with pytest.raises(hostdev.AlreadyExists) as e:
            ctx.create_mdev("mtty", "mtty-2", UUID1)
        assert e.value.errno == errno.EEXIST and isinstance(e.value, FileExistsError)
        assert UUID1 in e.value.message
        ctx.remove_mdev(UUID1)
        with pytest.raises(hostdev.NotFound) as e:
            ctx.remove_mdev(UUID1)
        assert e.value.errno == errno.ENODEV and "no such mediated device" in e.value.message
        with pytest.raises(hostdev.InvalidArgument):
            ctx.remove_mdev("garbage")
        with pytest.raises(TypeError):
            ctx.remove_mdev(None)

        monkeypatch.setenv("HOSTDEV_KMODEL_FAIL", "mdev_create:mtty-1:EIO")
        with pytest.raises(hostdev.Error) as e:
            ctx.create_mdev("mtty", "mtty-1")
        assert type(e.value) is hostdev.Error and e.value.errno == errno.EIO
        assert ctx.mdevs() == []


def test_remove_timeout_releases_the_gil(sriov_host, monkeypatch):
    """The kernel holds the remove write (a VM has the device open: HOSTDEV_KMODEL_HOLD) until
    the test lets it go. A call waiting for it does not hold the GIL: this thread runs and sees
    the driver called while the call is in progress. With a 300 ms watchdog remove_mdev returns
    TimedOut while the kernel still holds the write, and the removal completes afterwards."""
    monkeypatch.setenv("HOSTDEV_KMODEL_HOLD", "mdev_remove:%s" % UUID1)
    with sriov_host.context() as ctx:
        ctx.create_mdev("mtty", "mtty-1", UUID1)
        result = {}

        def work():
            try:
                result["removed"] = ctx.remove_mdev(UUID1, timeout_ms=int(conftest.WAIT * 1000))
            except hostdev.Error as e:
                result["error"] = e

        t = threading.Thread(target=work)
        t.start()
        # Python runs here meanwhile; with the GIL held by the call it could not until the
        # call's own watchdog gave up, and the call would be over.
        assert conftest.wait_until(sriov_host.held), "the remove was never written"
        assert t.is_alive() and not result, result
        sriov_host.release()
        t.join()
        assert "error" not in result, result
        assert ctx.mdevs() == []

        ctx.create_mdev("mtty", "mtty-1", UUID1)
        sriov_host.rearm()
        with pytest.raises(hostdev.TimedOut) as e:
            ctx.remove_mdev(UUID1, timeout_ms=300)
        assert e.value.errno == errno.ETIMEDOUT
        assert "still holds it open" in e.value.message, e.value.message
        assert conftest.wait_until(sriov_host.held), "the remove was never written"
        assert len(ctx.mdevs()) == 1
        sriov_host.release()
        assert conftest.wait_until(lambda: ctx.mdevs() == [])


def test_generate_uuid(sriov_host):
    with sriov_host.context() as ctx:
        a, b = ctx.generate_mdev_uuid(), ctx.generate_mdev_uuid()
        assert UUID_V4.match(a) and UUID_V4.match(b) and a != b
