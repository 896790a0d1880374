# SPDX-License-Identifier: Apache-2.0
"""The built-in plugins through the whole stack, against a fake kubelet written with Python grpcio
(tests/deviceplugin/fake_kubelet.py): dpconfig-serve serves the example config on the fake host
of tests/lib/dp_tree.h, registers every resource, and the kubelet side checks ListAndWatch,
GetDevicePluginOptions, Allocate (exactly per KubeVirt's contract, for each kind, several
containers in one call), its errors as gRPC statuses, GetPreferredAllocation, and a USB unplug
and re-plug seen in ListAndWatch.

Run: HOSTDEV_DPC_SERVE=build/tests/plugins/dpconfig-serve HOSTDEV_DP_PROTO_DIR=src/deviceplugin/proto \
     /usr/bin/python3 -m pytest tests/plugins/test_builtin_grpc.py   (ctest -L dpconfig sets both)
"""
import json
import os
import resource as resource_module
import subprocess
import sys
import tempfile

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "deviceplugin"))
import fake_kubelet as fk  # noqa: E402
from fake_kubelet import FakeKubelet, channel_to  # noqa: E402

SERVE = os.environ.get("HOSTDEV_DPC_SERVE")
PROTO_DIR = os.environ.get("HOSTDEV_DP_PROTO_DIR", os.path.join(HERE, "..", "..", "src", "proto"))

MDEV_A = "11111111-2222-3333-4444-555555555555"
MDEV_B = "22222222-3333-4444-5555-666666666666"
MDEV_C = "33333333-4444-5555-6666-777777777777"
VFS = ["0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:3b:02.3",
       "0000:86:02.0", "0000:86:02.1", "0000:86:02.2"]


@pytest.fixture(scope="session", autouse=True)
def protos(tmp_path_factory):
    if not SERVE:
        pytest.skip("HOSTDEV_DPC_SERVE is not set")
    fk.load_protos(PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


class Served:
    """dpconfig-serve and a fake kubelet that accepted every registration."""

    def __init__(self, config=None):
        self.dir = tempfile.mkdtemp(prefix="hostdev-dpc-")
        self.kubelet = FakeKubelet(self.dir).start()
        args = [SERVE, self.kubelet.plugin_dir]
        if config is not None:
            path = os.path.join(self.dir, "config.json")
            with open(path, "w") as f:
                json.dump(config, f)
            args.append(path)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.sockets = {}
        for line in self.proc.stdout:
            words = line.split()
            if words[0] == "RESOURCE":
                self.sockets[words[1]] = words[2]
            elif words[0] == "READY":
                break
        assert self.kubelet.wait_registrations(len(self.sockets)), \
            "not every resource registered"
        self.channels = {}

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "OK", answer

    def stub(self, resource):
        if resource not in self.channels:
            self.channels[resource] = channel_to(self.sockets[resource])
        return fk.svc.DevicePluginStub(self.channels[resource])

    def watch_of(self, resource):
        for w in self.kubelet.watches:
            if w.call is not None and self.registered_name(w) == resource:
                return w
        raise AssertionError("no ListAndWatch stream for %s" % resource)

    def registered_name(self, watch):
        return watch.thread.name[len("watch-"):]

    def close(self):
        for c in self.channels.values():
            c.close()
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=fk.DEADLINE) == 0
        self.kubelet.stop()
        subprocess.run(["rm", "-rf", self.dir])


@pytest.fixture
def served():
    s = Served()
    yield s
    s.close()


def allocate(served, resource, *containers):
    request = fk.pb.AllocateRequest(container_requests=[
        fk.pb.ContainerAllocateRequest(devices_ids=list(ids)) for ids in containers])
    return served.stub(resource).Allocate(request, timeout=fk.DEADLINE).container_responses


def specs(response):
    return [(d.container_path, d.host_path, d.permissions) for d in response.devices]


def mrw(*paths):
    return [(p, p, "mrw") for p in paths]


def test_registration_and_lists(served):
    names = sorted(r.resource_name for _, r, _ in served.kubelet.registrations)
    assert names == sorted(served.sockets)
    assert names == [
        "example.com/serial-console", "intel.com/node1-000005000", "intel.com/node1-000006000",
        "intel.com/x710_vf_dpdk", "kubevirt.io/usb-1050-0407-11111111",
        "kubevirt.io/usb-1050-0407-22222222", "nvidia.com/GRID_T4-1Q", "nvidia.com/GRID_T4-2Q",
        "nvidia.com/TU104GL_TESLA_T4"]
    for _, request, options in served.kubelet.registrations:
        usb = request.resource_name.startswith(("kubevirt.io/", "example.com/serial"))
        assert options.get_preferred_allocation_available == (not usb)
        assert not options.pre_start_required
    expected = {
        "nvidia.com/TU104GL_TESLA_T4": [("0000:af:00.0", "Healthy", [1]),
                                        ("0000:d8:00.0", "Healthy", [1])],
        "intel.com/x710_vf_dpdk": [(a, "Healthy", [0 if a.startswith("0000:3b") else 1])
                                   for a in VFS],
        "intel.com/node1-000005000": [("0000:05:00.0", "Healthy", [0])],
        "example.com/serial-console": [("node1-000000140-usb2-4", "Healthy", None),
                                       ("node1-000000140-usb2-5", "Healthy", None)],
        "nvidia.com/GRID_T4-1Q": [(MDEV_A, "Healthy", [1]), (MDEV_B, "Healthy", [1])],
    }
    for resource, devices in expected.items():
        watch = served.watch_of(resource)
        assert watch.wait(lambda w: w.lists), resource
        assert watch.last() == devices, resource


def test_allocate_pci(served):
    # Two containers in one call: one answer each, in order.
    first, second = allocate(served, "intel.com/x710_vf_dpdk",
                             ["0000:86:02.1", "0000:3b:02.0"], ["0000:3b:02.3"])
    assert dict(first.envs) == {
        "PCI_RESOURCE_INTEL_COM_X710_VF_DPDK": "0000:86:02.1,0000:3b:02.0",
        "PCIDEVICE_INTEL_COM_X710_VF_DPDK": "0000:86:02.1,0000:3b:02.0",
        "PCIDEVICE_INTEL_COM_X710_VF_DPDK_INFO":
            '{"0000:3b:02.0":{"generic":{"deviceID":"0000:3b:02.0"},"vfio":{"dev-mount":'
            '"/dev/vfio/40","mount":"/dev/vfio/vfio"}},"0000:86:02.1":{"generic":{"deviceID":'
            '"0000:86:02.1"},"vfio":{"dev-mount":"/dev/vfio/61","mount":"/dev/vfio/vfio"}}}',
    }
    info = json.loads(first.envs["PCIDEVICE_INTEL_COM_X710_VF_DPDK_INFO"])
    assert sorted(info) == ["0000:3b:02.0", "0000:86:02.1"]
    assert specs(first) == mrw("/dev/vfio/vfio", "/dev/vfio/61", "/dev/vfio/40")
    assert not first.mounts and not first.annotations and not first.cdi_devices
    assert second.envs["PCI_RESOURCE_INTEL_COM_X710_VF_DPDK"] == "0000:3b:02.3"
    assert specs(second) == mrw("/dev/vfio/vfio", "/dev/vfio/43")

    (gpu,) = allocate(served, "nvidia.com/TU104GL_TESLA_T4", ["0000:d8:00.0", "0000:af:00.0"])
    assert dict(gpu.envs) == {
        "PCI_RESOURCE_NVIDIA_COM_TU104GL_TESLA_T4": "0000:d8:00.0,0000:af:00.0"}
    assert specs(gpu) == mrw("/dev/vfio/vfio", "/dev/vfio/30", "/dev/vfio/20")

    # A device that left vfio-pci: FAILED_PRECONDITION with the remedy.
    served.command("unbind 0000:05:00.0")
    with pytest.raises(grpc.RpcError) as e:
        allocate(served, "intel.com/node1-000005000", ["0000:05:00.0"])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # (the server puts "resource NAME: Allocate of IDS failed: " before the plugin's message)
    assert e.value.details().endswith(
        ": 0000:05:00.0 of intel.com/node1-000005000 has no driver, so no virtual machine can "
        "use it: bind it to vfio-pci and retry")
    watch = served.watch_of("intel.com/node1-000005000")
    assert watch.wait(lambda w: w.last() == [("0000:05:00.0", "Unhealthy", [0])])


# The file-descriptor limit that leaves a process no descriptor to open: its standard streams (0-2)
# stay open, and every descriptor it holds stays usable above the limit. A limit at the lowest free
# number instead would let the process open again as soon as another thread (the loop's worker,
# listing other resources) closes a descriptor below it.
NO_NEW_FD = 3


def assert_standard_streams_open(pid):
    used = {int(fd) for fd in os.listdir("/proc/%d/fd" % pid)}
    assert {0, 1, 2} <= used, used


def test_allocate_out_of_file_descriptors(served):
    """A plugin out of file descriptors must not tell the kubelet that a present device is gone
    (NOT_FOUND, "delete the pod"): UNAVAILABLE with the cause, and the next call works. A device
    as the last list saw it needs no file descriptor (one readlink); one that changed since is
    read again, which does."""
    resource = "intel.com/x710_vf_dpdk"
    allocate(served, resource, ["0000:3b:02.1"])  # the connection is open: no accept needed
    # Unbound (the list sees it), then bound again with no event yet: read again at Allocate.
    served.command("unbind 0000:3b:02.1")
    watch = served.watch_of(resource)
    assert watch.wait(lambda w: ("0000:3b:02.1", "Unhealthy", [0]) in w.last())
    served.command("quiet bind 0000:3b:02.1 vfio-pci")
    pid = served.proc.pid
    assert_standard_streams_open(pid)
    old = resource_module.prlimit(pid, resource_module.RLIMIT_NOFILE)
    resource_module.prlimit(pid, resource_module.RLIMIT_NOFILE, (NO_NEW_FD, old[1]))
    try:
        (served_from_list,) = allocate(served, resource, ["0000:3b:02.2"])
        with pytest.raises(grpc.RpcError) as e:
            allocate(served, resource, ["0000:3b:02.1"])
    finally:
        resource_module.prlimit(pid, resource_module.RLIMIT_NOFILE, old)
    assert served_from_list.envs["PCI_RESOURCE_INTEL_COM_X710_VF_DPDK"] == "0000:3b:02.2"
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
    assert "Too many open files" in e.value.details()
    assert "short of file descriptors, which says nothing about the device" in e.value.details()
    assert "no longer on this host" not in e.value.details()
    (answer,) = allocate(served, resource, ["0000:3b:02.1"])
    assert answer.envs["PCI_RESOURCE_INTEL_COM_X710_VF_DPDK"] == "0000:3b:02.1"


def test_allocate_pci_gone_between_events(served):
    """A device unplugged or unbound after the last list, whose event the server has not seen
    yet, is refused as it is now, never answered from the list."""
    resource = "intel.com/x710_vf_dpdk"
    watch = served.watch_of(resource)
    assert watch.wait(lambda w: ("0000:3b:02.2", "Healthy", [0]) in w.last())
    allocate(served, resource, ["0000:3b:02.2"], ["0000:86:02.0"])
    served.command("quiet remove 0000:3b:02.2")
    with pytest.raises(grpc.RpcError) as e:
        allocate(served, resource, ["0000:3b:02.0"], ["0000:3b:02.2"])
    assert e.value.code() == grpc.StatusCode.NOT_FOUND, e.value.details()
    assert e.value.details().endswith(
        ": 0000:3b:02.2 of intel.com/x710_vf_dpdk is no longer on this host (unplugged, or its "
        "VF was removed): it is listed as unhealthy now; delete the pod so that it gets another "
        "device")
    served.command("quiet unbind 0000:86:02.0")
    with pytest.raises(grpc.RpcError) as e:
        allocate(served, resource, ["0000:86:02.0"])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION, e.value.details()
    assert "0000:86:02.0 of intel.com/x710_vf_dpdk has no driver" in e.value.details()
    # The others are still served; the next list shows both changes.
    (answer,) = allocate(served, resource, ["0000:3b:02.0"])
    assert answer.envs["PCI_RESOURCE_INTEL_COM_X710_VF_DPDK"] == "0000:3b:02.0"
    served.command("refresh")
    assert watch.wait(lambda w: ("0000:3b:02.2", "Unhealthy", [0]) in w.last() and
                      ("0000:86:02.0", "Unhealthy", [1]) in w.last())


def test_allocate_mdev(served):
    (vgpu,) = allocate(served, "nvidia.com/GRID_T4-1Q", [MDEV_B, MDEV_A])
    assert dict(vgpu.envs) == {"MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q": MDEV_B + "," + MDEV_A}
    assert specs(vgpu) == mrw("/dev/vfio/vfio", "/dev/vfio/71", "/dev/vfio/70")
    (vgpu,) = allocate(served, "nvidia.com/GRID_T4-2Q", [MDEV_C])
    assert dict(vgpu.envs) == {"MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-2Q": MDEV_C}


def test_usb_unplug_replug(served):
    resource = "example.com/serial-console"
    (usb,) = allocate(served, resource, ["node1-000000140-usb2-5", "node1-000000140-usb2-4"])
    assert dict(usb.envs) == {"USB_RESOURCE_EXAMPLE_COM_SERIAL-CONSOLE": "1:6,1:5"}
    assert specs(usb) == mrw("/dev/bus/usb/001/006", "/dev/bus/usb/001/005")

    watch = served.watch_of(resource)
    served.command("unplug-usb 1-5 6")
    assert watch.wait(lambda w: w.last() == [("node1-000000140-usb2-4", "Healthy", None),
                                             ("node1-000000140-usb2-5", "Unhealthy", None)])
    with pytest.raises(grpc.RpcError) as e:
        allocate(served, resource, ["node1-000000140-usb2-5"])
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "is not plugged in now" in e.value.details()

    # Plugged back into the same port: a new device address, the same id, healthy again.
    served.command("plug-usb 1-5 0403 6001 - 31")
    assert watch.wait(lambda w: w.last() == [("node1-000000140-usb2-4", "Healthy", None),
                                             ("node1-000000140-usb2-5", "Healthy", None)])
    (usb,) = allocate(served, resource, ["node1-000000140-usb2-5"])
    assert dict(usb.envs) == {"USB_RESOURCE_EXAMPLE_COM_SERIAL-CONSOLE": "1:31"}
    assert specs(usb) == mrw("/dev/bus/usb/001/031")

    # A YubiKey moved to another port keeps its serial identity.
    served.command("unplug-usb 1-2 3")
    served.command("plug-usb 1-9 1050 0407 11111111 40")
    (key,) = allocate(served, "kubevirt.io/usb-1050-0407-11111111", ["usb-1050-0407-11111111"])
    assert dict(key.envs) == {"USB_RESOURCE_KUBEVIRT_IO_USB-1050-0407-11111111": "1:40"}


DESK = "example.com/desk"
DESK_CONFIG = {"resources": [
    {"kind": "usb", "resourceName": "example.com/serial-console",
     "selectors": {"vendorProduct": ["0403:6001"]}},
    {"kind": "usb", "resourceName": DESK,
     "selectors": {"bundle": ["046d:c31c", "046d:c077", "076b:3021"]}}]}
PORT = "node1-000000140-usb2-"


def plug_desk(served, hub, first_devnum):
    """A keyboard, a mouse and a smartcard reader on hub port 1-<hub>, mouse first."""
    served.command("plug-usb 1-%d.2 046d c077 - %d" % (hub, first_devnum + 1))
    served.command("plug-usb 1-%d.3 076b 3021 - %d" % (hub, first_devnum + 2))
    served.command("plug-usb 1-%d.1 046d c31c - %d" % (hub, first_devnum))


def test_usb_bundle():
    """A USB bundle (KubeVirt's usb[].selectors with several selectors): one id per complete
    set, plugged after the start; Allocate hands out every device of the sets in KubeVirt's
    format; a set with a member gone is Unhealthy and refused; single USB resources beside it
    are as before."""
    served = Served(DESK_CONFIG)
    try:
        assert sorted(served.sockets) == [DESK, "example.com/serial-console"]
        for _, request, options in served.kubelet.registrations:
            assert not options.get_preferred_allocation_available
        watch = served.watch_of(DESK)
        assert watch.wait(lambda w: w.lists and w.last() == [])
        plug_desk(served, 9, 43)
        plug_desk(served, 8, 40)
        # Both sets may first show up in one list (refreshes coalesce): any order.
        assert watch.wait(lambda w: sorted(w.last()) == [(PORT + "8.1", "Healthy", None),
                                                         (PORT + "9.1", "Healthy", None)])

        (both,) = allocate(served, DESK, [PORT + "8.1", PORT + "9.1"])
        assert dict(both.envs) == {"USB_RESOURCE_EXAMPLE_COM_DESK": "1:40,1:41,1:42,1:43,1:44,1:45"}
        assert specs(both) == mrw(*["/dev/bus/usb/001/%03d" % d for d in range(40, 46)])
        # Two containers in one call: each gets its own set.
        nine, eight = allocate(served, DESK, [PORT + "9.1"], [PORT + "8.1"])
        assert dict(nine.envs) == {"USB_RESOURCE_EXAMPLE_COM_DESK": "1:43,1:44,1:45"}
        assert specs(nine) == mrw("/dev/bus/usb/001/043", "/dev/bus/usb/001/044",
                                  "/dev/bus/usb/001/045")
        assert dict(eight.envs) == {"USB_RESOURCE_EXAMPLE_COM_DESK": "1:40,1:41,1:42"}

        served.command("unplug-usb 1-8.2 41")
        assert watch.wait(lambda w: sorted(w.last()) == [(PORT + "8.1", "Unhealthy", None),
                                                         (PORT + "9.1", "Healthy", None)])
        with pytest.raises(grpc.RpcError) as e:
            allocate(served, DESK, [PORT + "8.1"])
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        assert "USB bundle %s8.1 of %s is not complete now" % (PORT, DESK) in e.value.details()
        served.command("plug-usb 1-8.2 046d c077 - 50")
        assert watch.wait(lambda w: sorted(w.last()) == [(PORT + "8.1", "Healthy", None),
                                                         (PORT + "9.1", "Healthy", None)])
        (usb,) = allocate(served, DESK, [PORT + "8.1"])
        assert dict(usb.envs) == {"USB_RESOURCE_EXAMPLE_COM_DESK": "1:40,1:50,1:42"}

        (usb,) = allocate(served, "example.com/serial-console", ["node1-000000140-usb2-4"])
        assert dict(usb.envs) == {"USB_RESOURCE_EXAMPLE_COM_SERIAL-CONSOLE": "1:5"}
    finally:
        served.close()


def test_preferred_allocation(served):
    stub = served.stub("intel.com/x710_vf_dpdk")

    def preferred(available, must, size):
        request = fk.pb.PreferredAllocationRequest(container_requests=[
            fk.pb.ContainerPreferredAllocationRequest(
                available_deviceIDs=available, must_include_deviceIDs=must,
                allocation_size=size)])
        (answer,) = stub.GetPreferredAllocation(request, timeout=fk.DEADLINE).container_responses
        return list(answer.deviceIDs)

    # NUMA 0 has the four VFs of ens1f0, NUMA 1 the three of 0000:86:00.0.
    assert preferred(VFS, [], 2) == ["0000:3b:02.0", "0000:3b:02.1"]
    assert preferred(VFS, [], 4) == VFS[:4]
    assert preferred(VFS, ["0000:86:02.2"], 2) == ["0000:86:02.2", "0000:86:02.0"]
    assert preferred(VFS, [], 5) == VFS[:4] + ["0000:86:02.0"]
