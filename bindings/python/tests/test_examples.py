# SPDX-License-Identifier: Apache-2.0
"""The examples in bindings/python/examples keep working."""

import json
import os
import re
import signal
import subprocess
import sys

import conftest
from conftest import need_env


def run_example(name, *args, expect=0):
    path = os.path.join(need_env("HOSTDEV_TEST_PYTHON_EXAMPLES"), name)
    p = subprocess.run([sys.executable, path, *args], capture_output=True, text=True)
    assert p.returncode == expect, (p.returncode, p.stdout, p.stderr)
    return p


def test_list_devices(cli_root):
    out = run_example("list_devices.py", "--root", cli_root, "--pci-ids",
                      need_env("HOSTDEV_TEST_PCI_IDS"), "--class", "0200").stdout.splitlines()
    assert len(out) == 4
    assert out[0].startswith("0000:3b:00.0 [8086:1572] class=020000 driver=i40e iommu_group=12 "
                             "numa=0 resource=intel.com/")
    err = run_example("list_devices.py", "--root", cli_root, "-s", "zz:", expect=1).stderr
    assert "invalid bus 'zz'" in err and "errno 22" in err


def test_bind_restore(fake_host):
    modules = fake_host.path("lib/modules/none")
    out = run_example("bind_restore.py", "--root", fake_host.root, "--modules", modules,
                      "--owner", "example", "01:00.0").stdout
    assert "0000:01:00.0: on e1000e" in out
    assert "0000:01:00.0: on vfio-pci, IOMMU group 2" in out
    assert "journal: 0000:01:00.0 was on e1000e, owner example" in out
    assert "0000:01:00.0: back on e1000e" in out
    assert fake_host.driver("0000:01:00.0") == "e1000e"
    err = run_example("bind_restore.py", "--root", fake_host.root, "--modules", modules,
                      "02:00.0", expect=1).stderr
    assert "--group" in err
    out = run_example("bind_restore.py", "--root", fake_host.root, "--modules", modules,
                      "--group", "02:00.0").stdout
    assert "back on nouveau" in out


def test_sriov_vfio(sriov_host):
    modules = sriov_host.path("lib/modules/none")
    base = ["--root", sriov_host.root, "--modules", modules, "--owner", "example"]
    out = run_example("sriov_vfio.py", *base, "3b:00.0", "2").stdout.splitlines()
    assert out[0] == "0000:3b:00.0: 2 of 8 VFs enabled (driver i40e), autoprobe off"
    for i, line in enumerate(out[1:]):
        m = re.match(r"^VF %d (0000:3b:02\.%d) on vfio-pci, IOMMU group (\d+) \(/dev/vfio/\2\)$"
                     % (i, i), line)
        assert m, line
        assert sriov_host.driver(m.group(1)) == "vfio-pci"
        assert sriov_host.has("dev/vfio/" + m.group(2))
    assert len(out) == 3
    err = run_example("sriov_vfio.py", *base, "3b:00.0", "9", expect=1).stderr
    assert "cannot enable 9 VFs: the PF offers at most 8" in err and "errno 34" in err
    out = run_example("sriov_vfio.py", *base, "--release", "3b:00.0").stdout
    assert out == "3b:00.0: 2 VFs given back, 0 VFs enabled\n"
    assert not sriov_host.has("sys/bus/pci/devices/0000:3b:02.0")
    assert sriov_host.attr("0000:3b:00.0", "sriov_numvfs") == "0"


def test_mdev_slice(sriov_host):
    uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
    out = run_example("mdev_slice.py", "--root", sriov_host.root).stdout.splitlines()
    assert out == ["0000:af:00.0 nvidia-222 available=2 selector=GRID_T4-1Q",
                   "0000:af:00.0 nvidia-223 available=0 selector=GRID_T4-2Q",
                   "mtty mtty-1 available=24 selector=Single_port_serial",
                   "mtty mtty-2 available=12 selector=Dual_port_serial"]
    out = run_example("mdev_slice.py", "--root", sriov_host.root, "--uuid", uuid, "mtty",
                      "mtty-1").stdout.splitlines()
    m = re.match(r"^created %s on mtty \(mtty-1, KubeVirt selector Single_port_serial\), driver "
                 r"vfio_mdev, IOMMU group (\d+) \(/dev/vfio/\1\)$" % uuid, out[0])
    assert m and out[1:] == ["removed " + uuid], out
    assert not sriov_host.has("sys/bus/mdev/devices/" + uuid)
    run_example("mdev_slice.py", "--root", sriov_host.root, "--keep", "--uuid", uuid, "mtty",
                "mtty-2")
    assert sriov_host.has("sys/bus/mdev/devices/" + uuid)
    err = run_example("mdev_slice.py", "--root", sriov_host.root, "--uuid", uuid, "mtty", "mtty-1",
                      expect=1).stderr
    assert uuid in err and "errno 17" in err
    err = run_example("mdev_slice.py", "--root", sriov_host.root, "0000:af:00.0", "nvidia-223",
                      expect=1).stderr
    assert "no instances of mdev type nvidia-223 are left" in err and "errno 28" in err


def test_serve_devices(fk, dp_root, kubelet):
    """The example serves the fake root's devices to the grpcio fake kubelet until SIGTERM."""
    path = os.path.join(need_env("HOSTDEV_TEST_PYTHON_EXAMPLES"), "serve_devices.py")
    base = ["--root", dp_root.root, "--resource", "example.com/nic", "--vendor-device", "8086:10d3"]
    p = subprocess.Popen([sys.executable, path, *base, "--kubelet-dir", kubelet.root,
                          "--refresh", "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert kubelet.wait_registrations(1, timeout=conftest.WAIT), p.poll()
        _, request, _ = kubelet.registrations[0]
        assert request.resource_name == "example.com/nic"
        watch = kubelet.last_watch()
        expected = [(d["id"], "Healthy", [d["numa"]]) for d in dp_root.devices]
        assert watch.wait(lambda w: w.last() == expected, timeout=conftest.WAIT), watch.lists
        socket = os.path.join(kubelet.plugin_dir, request.endpoint)
        answer = fk.svc.DevicePluginStub(fk.channel_to(socket)).Allocate(fk.pb.AllocateRequest(
            container_requests=[fk.pb.ContainerAllocateRequest(devices_ids=dp_root.ids[:2])]),
            timeout=conftest.WAIT)
        assert dict(answer.container_responses[0].envs) == {
            "PCI_RESOURCE_EXAMPLE_COM_NIC": ",".join(dp_root.ids[:2])}
        # Removing a group node turns its device unhealthy (at the next refresh).
        os.unlink(dp_root.group_node(2))
        assert watch.wait(lambda w: w.last()[2][1] == "Unhealthy", timeout=conftest.WAIT), watch.last()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=conftest.WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, (out, err)
    assert out == "serving example.com/nic (3 devices) on %s\nstopped\n" % socket, (out, err)
    assert "registered with the kubelet" in err, err
    assert watch.wait(lambda w: w.last() == [], timeout=conftest.WAIT), watch.lists
    assert not os.path.exists(socket)

    out = run_example("serve_devices.py", *base, "--permitted", "json").stdout
    assert json.loads(out)["permittedHostDevices"]["pciHostDevices"] == [
        {"pciVendorSelector": "8086:10d3", "resourceName": "example.com/nic",
         "externalResourceProvider": True}]
    err = run_example("serve_devices.py", "--root", dp_root.root, "--resource", "example.com/nic",
                      "--vendor-device", "8086:10dx", expect=1).stderr
    assert 'selectors.vendorDevice[0] "8086:10dx" is not a vendor:device id' in err
    assert "errno 22" in err
