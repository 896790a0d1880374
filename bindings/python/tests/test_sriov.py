# SPDX-License-Identifier: Apache-2.0
"""SR-IOV through the Python layer, on the SR-IOV test host with the kernel model.

The kernel model (tests/kmodel, preloaded into this pytest process by ctest) plays the kernel's
sriov_numvfs and sriov_drivers_autoprobe stores below the fake root: it creates and removes the VF
directories, links, IOMMU groups and netdevs the way drivers/pci/iov.c does. Nothing is written
to this machine's /sys.

The host (tests/sriov/sriov_tree.h): NVMe PF 01:00.0 (nvme, total 8, offset 1, stride 1), X710 PF
3b:00.0 (i40e, total 8, offset 16, stride 1, VFs 8086:154c on iavf with netdevs ens4f0vN), X710 PF
3b:00.1 (total 4, VFs stay driverless), PF 5e:00.0 without a driver (total 4), virtio-net 00:03.0
(not a PF).
"""

import errno
import re
import threading

import pytest

import conftest
import hostdev

NVME_PF = "0000:01:00.0"
NIC_PF = "0000:3b:00.0"
NIC_PF2 = "0000:3b:00.1"
NODRV_PF = "0000:5e:00.0"
VIRTIO = "0000:00:03.0"


wait_for = conftest.wait_until


def test_pf_snapshot(sriov_host):
    with sriov_host.context() as ctx:
        pf = ctx.sriov_pf("3b:00.0")
        assert isinstance(pf, hostdev.SriovPf)
        assert (pf.address, pf.driver, pf.total_vfs, pf.num_vfs) == (NIC_PF, "i40e", 8, 0)
        assert (pf.vf_device_id, pf.offset, pf.stride, pf.autoprobe) == (0x154c, 16, 1, True)
        assert pf.vfs == () and pf.vf(0) is None
        # The values are the tree's attributes.
        assert pf.total_vfs == int(sriov_host.attr(NIC_PF, "sriov_totalvfs"))
        assert pf.vf_device_id == int(sriov_host.attr(NIC_PF, "sriov_vf_device"), 16)
        assert pf.offset == int(sriov_host.attr(NIC_PF, "sriov_offset"))
        nvme = ctx.sriov_pf(ctx.pci_device(NVME_PF))  # a PciDevice works as well
        assert (nvme.address, nvme.driver, nvme.total_vfs, nvme.vf_device_id, nvme.offset) == \
            (NVME_PF, "nvme", 8, 0x0010, 1)
        assert ctx.sriov_pf(nvme) == nvme  # and a SriovPf; snapshots are plain values
        assert ctx.sriov_pf(NODRV_PF).driver is None
        assert "vfs=0/8" in repr(pf)


def test_sriov_pfs(sriov_host):
    with sriov_host.context() as ctx:
        pfs = ctx.sriov_pfs()
        assert [p.address for p in pfs] == [NVME_PF, NIC_PF, NIC_PF2, NODRV_PF]
        assert [p.total_vfs for p in pfs] == [8, 8, 4, 4]
        assert pfs[1] == ctx.sriov_pf(NIC_PF)


def test_pf_errors(sriov_host):
    with sriov_host.context() as ctx:
        with pytest.raises(hostdev.NotSupported) as e:
            ctx.sriov_pf(VIRTIO)
        assert e.value.errno == errno.EOPNOTSUPP
        assert "not an SR-IOV physical function" in e.value.message
        with pytest.raises(hostdev.NotFound) as e:
            ctx.sriov_pf("77:00.0")
        assert e.value.errno == errno.ENODEV and "no such PCI device" in e.value.message
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.sriov_pf("nonsense")
        assert e.value.errno == errno.EINVAL
        with pytest.raises(TypeError):
            ctx.sriov_pf(42)


def test_set_num_vfs(sriov_host):
    with sriov_host.context() as ctx:
        assert ctx.set_num_vfs(NIC_PF, 4) == 4
        assert sriov_host.attr(NIC_PF, "sriov_numvfs") == "4"
        pf = ctx.sriov_pf(NIC_PF)
        assert pf.num_vfs == 4 and len(pf.vfs) == 4
        groups = set()
        for i, vf in enumerate(pf.vfs):
            assert isinstance(vf, hostdev.SriovVf)
            assert (vf.index, vf.address, vf.driver, vf.netdev) == \
                (i, "0000:3b:02.%d" % i, "iavf", "ens4f0v%d" % i)
            assert re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", vf.mac), vf.mac
            assert vf.iommu_group is not None and vf.iommu_group != 12
            assert sriov_host.has("sys/kernel/iommu_groups/%d" % vf.iommu_group)
            groups.add(vf.iommu_group)
        assert len(groups) == 4
        assert pf.vf(1).mac == "02:00:00:72:3b:01"
        vf = ctx.pci_device("3b:02.3")
        assert (vf.is_sriov_vf, vf.pf_address, vf.vf_index, vf.device_id) == \
            (True, NIC_PF, 3, 0x154c)
        # A VF is not a PF: the message names its PF.
        with pytest.raises(hostdev.NotSupported) as e:
            ctx.set_num_vfs("3b:02.1", 0)
        assert "is virtual function 1 of PF %s" % NIC_PF in e.value.message

        # N to M goes through 0; the kernel never sees a busy write.
        assert ctx.set_num_vfs(NIC_PF, 2) == 2
        log = sriov_host.kmodel_log()
        assert re.search(r"numvfs %s 0 -> ok\n.*numvfs %s 2 -> ok" % (NIC_PF, NIC_PF), log,
                         re.S), log
        assert "Device or resource busy" not in log
        assert not sriov_host.has("sys/bus/pci/devices/0000:3b:02.3")
        assert len(ctx.sriov_pf(NIC_PF).vfs) == 2
        # The same count again: no write at all.
        writes = log.count(" numvfs ")
        assert ctx.set_num_vfs(ctx.sriov_pf(NIC_PF), 2) == 2
        assert sriov_host.kmodel_log().count(" numvfs ") == writes
        assert ctx.set_num_vfs(NIC_PF, 0) == 0
        assert not sriov_host.has("sys/bus/pci/devices/0000:3b:02.0")
        assert not sriov_host.has("sys/class/net/ens4f0v0")
        assert ctx.sriov_pf(NIC_PF).vfs == ()


def test_eight_vfs_cross_a_slot(sriov_host):
    with sriov_host.context() as ctx:
        assert ctx.set_num_vfs("01:00.0", 8) == 8
        vfs = ctx.sriov_pf(NVME_PF).vfs
        assert [v.address for v in vfs] == ["0000:01:00.%d" % i for i in range(1, 8)] + \
            ["0000:01:01.0"]
        assert vfs[7].driver is None and vfs[7].netdev is None and vfs[7].mac is None


def test_set_num_vfs_refusals(sriov_host, monkeypatch):
    with sriov_host.context() as ctx:
        with pytest.raises(hostdev.OutOfRange) as e:
            ctx.set_num_vfs(NIC_PF, 9)
        assert e.value.errno == errno.ERANGE
        assert "%s: cannot enable 9 VFs: the PF offers at most 8" % NIC_PF in e.value.message
        with pytest.raises(hostdev.OutOfRange):
            ctx.set_num_vfs(NIC_PF, 70000)
        assert " numvfs " not in sriov_host.kmodel_log()  # refused before any write
        with pytest.raises(hostdev.NotFound) as e:
            ctx.set_num_vfs(NODRV_PF, 2)
        assert e.value.errno == errno.ENOENT
        assert "the PF has no driver" in e.value.message
        assert "bind its driver first" in e.value.message
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.set_num_vfs(NIC_PF, -1)
        assert e.value.errno == errno.EINVAL and "negative" in e.value.message
        with pytest.raises(TypeError):
            ctx.set_num_vfs(NIC_PF, "2")
        with pytest.raises(TypeError):
            ctx.set_num_vfs(NIC_PF, 2, autoprobe="off")

        monkeypatch.setenv("HOSTDEV_KMODEL_FAIL", "numvfs:%s:ENOSPC" % NIC_PF)
        with pytest.raises(hostdev.NoSpace) as e:
            ctx.set_num_vfs(NIC_PF, 2)
        assert e.value.errno == errno.ENOSPC
        assert "writing 2 to sriov_numvfs failed (No space left on device)" in e.value.message
        assert "ask for fewer VFs" in e.value.message
        assert sriov_host.attr(NIC_PF, "sriov_numvfs") == "0"
        monkeypatch.setenv("HOSTDEV_KMODEL_FAIL", "numvfs:%s:EIO" % NIC_PF)
        with pytest.raises(hostdev.Error) as e:
            ctx.set_num_vfs(NIC_PF, 2)
        assert type(e.value) is hostdev.Error and e.value.errno == errno.EIO


def test_partial_enable_is_logged(sriov_host, monkeypatch):
    monkeypatch.setenv("HOSTDEV_KMODEL_SRIOV_LIMIT", "%s:3" % NIC_PF)
    messages = []
    with sriov_host.context(log=lambda prio, msg: messages.append((prio, msg))) as ctx:
        assert ctx.set_num_vfs(NIC_PF, 6) == 3
        assert ctx.sriov_pf(NIC_PF).num_vfs == 3
    assert any(p == hostdev.LOG_WARNING and
               "%s: 6 VFs requested, the PF driver i40e enabled only 3" % NIC_PF in m
               for p, m in messages), messages


def test_autoprobe_off_then_vfio_refusal_and_force(sriov_host):
    vf1 = "0000:3b:02.1"
    with sriov_host.context() as ctx:
        assert ctx.set_num_vfs(NIC_PF, 2, autoprobe=False) == 2
        assert sriov_host.attr(NIC_PF, "sriov_drivers_autoprobe") == "0"
        pf = ctx.sriov_pf(NIC_PF)
        assert pf.autoprobe is False
        assert [(v.driver, v.netdev, v.mac) for v in pf.vfs] == [(None, None, None)] * 2
        assert ctx.bind(vf1, owner="vm-a") == 1
        assert sriov_host.driver(vf1) == hostdev.VFIO_DRIVER
        with pytest.raises(hostdev.Busy) as e:
            ctx.set_num_vfs(NIC_PF, 0)
        assert e.value.errno == errno.EBUSY
        assert "refusing to change the VF count from 2 to 0" in e.value.message
        assert "VF 1 %s (vfio-pci, bound by libhostdev for 'vm-a')" % vf1 in e.value.message
        assert sriov_host.has("sys/bus/pci/devices/%s" % vf1)
        assert ctx.set_num_vfs(NIC_PF, 0, force=True) == 0
        assert not sriov_host.has("sys/bus/pci/devices/%s" % vf1)
        assert len(ctx.journal()) == 0  # the records of the destroyed VFs are dropped
        assert ctx.set_num_vfs(NIC_PF, 1, autoprobe=True) == 1
        assert sriov_host.attr(NIC_PF, "sriov_drivers_autoprobe") == "1"
        assert ctx.sriov_pf(NIC_PF).vfs[0].driver == "iavf"


def test_watchdog_timeout_releases_the_gil(sriov_host, monkeypatch):
    """The PF driver hangs (HOSTDEV_KMODEL_HOLD) until the test lets it go. A call waiting for it
    does not hold the GIL: this thread runs and sees the driver called while the call is still
    in progress. A call with a 300 ms watchdog returns TimedOut while the driver still hangs, and
    the kernel (model) completes the write once it returns, as the library documents."""
    monkeypatch.setenv("HOSTDEV_KMODEL_HOLD", "numvfs:%s" % NIC_PF)
    with sriov_host.context() as ctx:
        result = {}

        def work():
            try:
                result["vfs"] = ctx.set_num_vfs(NIC_PF, 1, timeout_ms=int(conftest.WAIT * 1000))
            except hostdev.Error as e:
                result["error"] = e

        t = threading.Thread(target=work)
        t.start()
        # Python runs here meanwhile; with the GIL held by the call it could not until the
        # call's own watchdog gave up, and the call would be over.
        assert wait_for(sriov_host.held), "the PF driver was never called"
        assert t.is_alive() and not result, result
        sriov_host.release()
        t.join()
        assert result.get("vfs") == 1, result

        sriov_host.rearm()
        with pytest.raises(hostdev.TimedOut) as e:
            ctx.set_num_vfs(NIC_PF, 2, timeout_ms=300)
        assert e.value.errno == errno.ETIMEDOUT
        assert "did not return within 300 ms" in e.value.message
        assert "may still complete the write" in e.value.message
        assert wait_for(sriov_host.held), "the PF driver was never called"
        assert sriov_host.attr(NIC_PF, "sriov_numvfs") == "0"
        sriov_host.release()
        assert wait_for(lambda: sriov_host.attr(NIC_PF, "sriov_numvfs") == "2")
        assert wait_for(lambda: len(ctx.sriov_pf(NIC_PF).vfs) == 2)
