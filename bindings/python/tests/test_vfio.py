# SPDX-License-Identifier: Apache-2.0
"""vfio binding through the Python layer, on the vfio test host with the kernel model.

The host (tests/vfio/vfio_tree.h): NIC 01:00.0 (e1000e, group 2), GPU 02:00.0 + audio 02:00.1
(group 5), MGMT 04:00.0 (igb under br0 with the default route), NOGROUP 05:00.0 (no IOMMU group).
"""

import errno
import os
import shutil
import threading
import time

import pytest
from conftest import make_fake_host

import conftest
import hostdev

NIC = "0000:01:00.0"
GPU = "0000:02:00.0"
AUDIO = "0000:02:00.1"
MGMT = "0000:04:00.0"
NOGROUP = "0000:05:00.0"


def test_bind_restore_roundtrip(fake_host):
    with fake_host.context() as ctx:
        assert ctx.bind("1:00.0", owner="vm-a") == 1
        assert fake_host.driver(NIC) == "vfio-pci"
        assert fake_host.override(NIC) == "vfio-pci"
        assert fake_host.has("dev/vfio/2")
        assert ctx.pci_device(NIC).driver == hostdev.VFIO_DRIVER
        assert ctx.bind(NIC) == 0  # idempotent
        journal = ctx.journal()
        assert journal.path == fake_host.path("var/lib/hostdev/vfio-journal.json")
        assert journal.addresses() == [NIC]
        rec = journal[0]
        assert (rec.address, rec.driver, rec.driver_override, rec.iommu_group, rec.owner) == \
            (NIC, "e1000e", None, 2, "vm-a")
        assert rec.complete and not rec.group_bind and abs(rec.time - time.time()) < 600
        assert '"e1000e"' in journal.json
        assert ctx.restore(NIC) == 1
        assert fake_host.driver(NIC) == "e1000e"
        assert fake_host.has("sys/class/net/enp1s0")
        assert len(ctx.journal()) == 0
        assert ctx.restore_all() == 0


def test_bind_accepts_devices_and_lists(fake_host):
    with fake_host.context() as ctx:
        nic = ctx.pci_device(NIC)
        assert ctx.bind([nic], owner="x") == 1
        assert ctx.restore_all(owner="someone-else") == 0
        assert ctx.restore_all(owner="x") == 1
        assert fake_host.driver(NIC) == "e1000e"


def test_refusals(fake_host):
    with fake_host.context() as ctx:
        with pytest.raises(hostdev.Busy) as e:
            ctx.bind(GPU)
        assert e.value.errno == errno.EBUSY
        assert "%s (snd_hda_intel)" % AUDIO in e.value.message
        with pytest.raises(hostdev.PermissionDenied) as e:
            ctx.bind(MGMT)
        assert e.value.errno == errno.EPERM and "default route (br0)" in e.value.message
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.bind(NOGROUP)
        assert "intel_iommu=on" in e.value.message
        with pytest.raises(hostdev.PermissionDenied) as e:
            ctx.bind(NIC, protected=[NIC])
        assert "protected" in e.value.message
        with pytest.raises(hostdev.NotFound):
            ctx.bind("0000:0f:00.0")
        with pytest.raises(hostdev.InvalidArgument):
            ctx.bind("garbage")
        for dev in (GPU, AUDIO, MGMT, NOGROUP, NIC):
            assert fake_host.driver(dev) != "vfio-pci", dev
        assert len(ctx.journal()) == 0
        assert ctx.bind(MGMT, force=True) == 1
        assert fake_host.driver(MGMT) == "vfio-pci"


def test_group_bind_and_restore(fake_host):
    with fake_host.context() as ctx:
        assert ctx.bind(GPU, group=True, owner="vm-gpu") == 2
        assert fake_host.driver(GPU) == fake_host.driver(AUDIO) == "vfio-pci"
        assert all(r.group_bind for r in ctx.journal())
        assert ctx.restore(AUDIO) == 2  # the group comes back as one
        assert (fake_host.driver(GPU), fake_host.driver(AUDIO)) == ("nouveau", "snd_hda_intel")


def test_bind_report_and_dry_run(fake_host):
    with fake_host.context() as ctx:
        dry = ctx.bind_report(GPU, group=True, dry_run=True)
        assert [(o.address, o.outcome, o.requested) for o in dry] == [
            (GPU, "would-bind", True), (AUDIO, "would-bind", False)]
        assert fake_host.driver(GPU) == "nouveau" and len(ctx.journal()) == 0
        done = ctx.bind_report(GPU, group=True, owner="vm-gpu")
        assert [(o.address, o.outcome, o.previous_driver, o.original_driver, o.iommu_group)
                for o in done] == [(GPU, "bound", "nouveau", "nouveau", 5),
                                   (AUDIO, "bound", "snd_hda_intel", "snd_hda_intel", 5)]
        again = ctx.bind_report(GPU, group=True)
        assert [o.outcome for o in again] == ["already", "already"]
        # A dry run refuses what a bind refuses.
        with pytest.raises(hostdev.PermissionDenied):
            ctx.bind_report(MGMT, dry_run=True)
        assert ctx.restore_all() == 2


def test_timeouts_in_seconds(fake_host):
    with fake_host.context() as ctx:
        assert ctx.bind(NIC, timeout=10) == 1
        assert ctx.bind_report(NIC, timeout=0.5, lock_timeout=30)[0].outcome == "already"
        assert ctx.restore(NIC, timeout=2.5) == 1
        for bad in (-1, "5", True):
            with pytest.raises(ValueError) as e:
                ctx.bind(NIC, timeout=bad)
            assert "timeout must be a number of seconds" in str(e.value)
        assert fake_host.driver(NIC) == "e1000e"


def test_bound_yields_the_bound_devices(fake_host):
    with fake_host.context() as ctx:
        with ctx.bound(GPU, group=True) as devices:
            assert [d.address for d in devices] == [GPU, AUDIO]
            assert all(d.driver == "vfio-pci" for d in devices)
        assert (fake_host.driver(GPU), fake_host.driver(AUDIO)) == ("nouveau", "snd_hda_intel")
        assert len(ctx.journal()) == 0


def test_bound_context_manager_restores_on_error(fake_host):
    with fake_host.context() as ctx:
        with pytest.raises(RuntimeError):
            with ctx.bound(NIC, owner="vm-b"):
                assert fake_host.driver(NIC) == "vfio-pci"
                raise RuntimeError("the VM failed")
        assert fake_host.driver(NIC) == "e1000e"
        assert len(ctx.journal()) == 0


def test_failed_write_rolls_back(fake_host, monkeypatch):
    monkeypatch.setenv("HOSTDEV_KMODEL_FAIL", "unbind:%s:EIO" % NIC)
    with fake_host.context() as ctx:
        with pytest.raises(hostdev.Error) as e:
            ctx.bind(NIC)
        assert e.value.errno == errno.EIO and "Rolled back" in e.value.message
        assert fake_host.driver(NIC) == "e1000e"
        assert len(ctx.journal()) == 0


def test_gil_released_while_binding(fake_host, monkeypatch):
    """The kernel hangs in the vfio-pci probe (HOSTDEV_KMODEL_HOLD) until the test lets it go:
    meanwhile this thread runs and sees the probe called while bind is still in progress, which
    it could not if bind held the GIL. A probe that never finishes (STALL) ends in TimedOut."""
    monkeypatch.setenv("HOSTDEV_KMODEL_HOLD", "probe:" + NIC)
    result = {}
    with fake_host.context() as ctx:
        def bind():
            try:
                result["bound"] = ctx.bind(NIC, timeout_ms=int(conftest.WAIT * 1000))
            except hostdev.Error as e:
                result["error"] = e

        t = threading.Thread(target=bind)
        t.start()
        assert conftest.wait_until(fake_host.held), "the probe was never written"
        assert t.is_alive() and not result, result
        fake_host.release()
        t.join()
        assert "error" not in result, result
        assert fake_host.driver(NIC) == hostdev.VFIO_DRIVER
        ctx.restore(NIC)

        monkeypatch.delenv("HOSTDEV_KMODEL_HOLD")
        monkeypatch.setenv("HOSTDEV_KMODEL_STALL", NIC)
        with pytest.raises(hostdev.TimedOut) as e:
            ctx.bind(NIC, timeout_ms=300)
        assert e.value.errno == errno.ETIMEDOUT
        assert fake_host.driver(NIC) == "e1000e"


def test_corrupt_journal(fake_host):
    with fake_host.context() as ctx:
        os.makedirs(fake_host.path("var/lib/hostdev"), exist_ok=True)
        with open(fake_host.path("var/lib/hostdev/vfio-journal.json"), "w") as f:
            f.write("{not json")
        with pytest.raises(hostdev.Corrupt) as e:
            ctx.journal()
        assert e.value.errno == errno.EBADMSG and "vfio-journal.json" in e.value.message
        with pytest.raises(hostdev.Corrupt):
            ctx.bind(NIC)
        assert fake_host.driver(NIC) == "e1000e"


def test_check_report(fake_host):
    with fake_host.context() as ctx:
        report = ctx.check()
        assert report.status in ("pass", "warn") and report.ok
        assert report.check("iommu-groups").status == "pass"
        assert report.check("nonexistent") is None
        assert report.device(NIC).status == "pass"
        assert report.device(GPU).status == "warn"
        assert report.device(MGMT).status == "fail" and report.device(MGMT).remedy
        assert '"checks"' in report.json
        one = ctx.check(NIC)
        assert [d.address for d in one.devices] == [NIC]
        assert ctx.check(host_only=True).devices == ()
        with pytest.raises(hostdev.NotFound):
            ctx.check("0000:0f:00.0")


def test_no_iommu_host(fake_host_no_iommu):
    with fake_host_no_iommu.context() as ctx:
        report = ctx.check(host_only=True)
        assert report.status == "fail" and not report.ok
        failed = report.check("iommu-groups")
        assert failed.status == "fail" and failed.remedy
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.bind(NIC)
        assert "IOMMU" in e.value.message


def test_persist_apply_modprobe(fake_host):
    with fake_host.context() as ctx:
        assert ctx.persisted() == []
        with pytest.raises(hostdev.NotFound):
            ctx.modprobe_conf()
        assert ctx.persist_add(NIC) is True
        assert ctx.persist_add(NIC) is False
        assert ctx.persist_add(GPU, group=True) is True
        entries = ctx.persisted()
        assert entries == [hostdev.PersistEntry(NIC, False, False, 0x8086, 0x10d3),
                           hostdev.PersistEntry(GPU, True, False, 0x10de, 0x1eb8)]
        assert "ids=" in ctx.modprobe_conf() and "8086:10d3" in ctx.modprobe_conf()
        assert ctx.apply() == 3
        assert fake_host.driver(NIC) == fake_host.driver(AUDIO) == "vfio-pci"
        assert ctx.apply() == 0
        ctx.persist_remove(NIC)
        with pytest.raises(hostdev.NotFound):
            ctx.persist_remove(NIC)
        assert ctx.restore_all() == 3


def test_load_modules_already_present(fake_host):
    with fake_host.context() as ctx:
        assert ctx.load_vfio_modules() is False


SPARE = "0000:06:00.0"
VGPU_VF0 = "0000:c1:00.4"
VGPU_VF3 = "0000:c1:00.7"


def test_restore_report(fake_host):
    with fake_host.context() as ctx:
        assert ctx.bind(NIC, SPARE) == 2
        spare = os.path.realpath(fake_host.path("sys/bus/pci/devices/" + SPARE))
        shutil.rmtree(spare)
        os.unlink(fake_host.path("sys/bus/pci/devices/" + SPARE))
        outcomes = ctx.restore_report(all=True)
        assert [(o.address, o.outcome, o.driver, o.record_kept) for o in outcomes] == [
            (SPARE, "gone", None, True), (NIC, "restored", "e1000e", False)]
        assert "record kept" in outcomes[0].message
        assert ctx.journal().addresses() == [SPARE]
        assert ctx.restore_report(SPARE, forget_gone=True)[0].record_kept is False
        assert len(ctx.journal()) == 0
        # A record naming vfio-pci is refused: the error carries every outcome.
        with open(fake_host.path("var/lib/hostdev/vfio-journal.json"), "w") as f:
            f.write('{"format":"libhostdev-vfio-journal","version":1,"records":[{"address":"%s",'
                    '"driver":"igb","driver_override":"vfio-pci","iommu_group":7,"time":1,'
                    '"owner":null,"group_bind":false,"complete":true}]}' % MGMT)
        with pytest.raises(hostdev.PermissionDenied) as e:
            ctx.restore_report(all=True)
        assert [o.outcome for o in e.value.outcomes] == ["refused"]
        assert fake_host.override(MGMT) == "(null)"


@pytest.fixture
def fake_host_vgpu(monkeypatch):
    host = make_fake_host(monkeypatch, "--vgpu")
    yield host
    shutil.rmtree(host.root, ignore_errors=True)


def test_active_mdevs(fake_host_vgpu):
    with fake_host_vgpu.context() as ctx:
        vf0 = ctx.pci_device(VGPU_VF0)
        assert vf0.active_mdevs == (hostdev.ActiveMdev(
            "8b0c8e8a-4f1e-4a55-9b7e-2f0e4b8a3c01", "nvidia-744", "NVIDIA A2-4Q", 100, True),)
        assert ctx.pci_device(VGPU_VF3).active_mdevs == ()
        with pytest.raises(hostdev.Busy) as e:
            ctx.bind(VGPU_VF0)
        assert "active mediated device" in e.value.message
        assert ctx.check(VGPU_VF0).device(VGPU_VF0).status == "fail"
