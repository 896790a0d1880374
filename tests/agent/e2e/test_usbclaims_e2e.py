# SPDX-License-Identifier: Apache-2.0
"""USBDeviceClaims end to end: the agent on the umockdev testbed of tests/agent/hotplug_bed.c (the
standard fake USB tree, devices plugged and unplugged with the kernel's uevents), against the
stand-in API server (a real kube-apiserver cannot run here; tests/agent/apiserver, strict), with
only the agent's ClusterRole, KubeVirt's CRD from tests/agent/fixtures/kubevirt, and the project's
fake kubelet on Python grpcio (tests/deviceplugin). Every wait is for an event (an object, a
ListAndWatch update, a file), bounded by a generous deadline."""
import json
import os
import shutil
import sys
import tempfile

import pytest

from agent_harness import BED, PCI_IDS, USB_IDS, agent_kubeconfig

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "deviceplugin"))
import fake_kubelet as fk  # noqa: E402

PROTO_DIR = os.environ.get("HOSTDEV_DP_PROTO_DIR", os.path.join(REPO, "src", "proto"))
NODE = "node1"
GROUP = "devices.harvesterhci.io"
FINALIZER = "hostdev.io/usb-release"
IDENTITY = "hostdev.io/usb-device"
KUBEVIRT_CRD = os.path.join(REPO, "tests", "agent", "fixtures", "kubevirt")
KUBEVIRT = "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt"
USB_ANNOTATION = "hostdev.io/permitted-usb"
# Entries an administrator wrote: never touched by the agent.
BY_HAND_USB = {"resourceName": "example.com/yubikey", "externalResourceProvider": True,
               "selectors": [{"vendor": "1050", "product": "0407"}]}
BY_HAND_PCI = {"pciVendorSelector": "10de:1eb8", "resourceName": "nvidia.com/TU104GL_TESLA_T4",
               "externalResourceProvider": True}
WAIT = 120

# The stick the test plugs in below usb1 (tests/agent/hotplug_bed.c usb-add), its object (the port
# identity: docs/agent.md) and its resource.
PORT = "1-5"
STICK = f"{NODE}-000000140-usb2-5"
RESOURCE = f"kubevirt.io/{STICK}"
ENV = "USB_RESOURCE_" + RESOURCE.replace("/", "_").replace(".", "_").upper()


@pytest.fixture(scope="module")
def protos(tmp_path_factory):
    fk.load_protos(PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


@pytest.fixture
def kubelet_dir():
    """A short directory: a Unix socket path has at most 107 characters (pytest's tmp_path is
    longer)."""
    path = tempfile.mkdtemp(prefix="hd-usb-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def bed():
    if not (shutil.which("umockdev-wrapper") and os.path.exists(BED)):
        pytest.fail("umockdev (Debian umockdev, libumockdev-dev) and agent-hotplug-bed are needed")


def make_kubevirt(api):
    api.apply_crds(KUBEVIRT_CRD)
    api.create_namespace("kubevirt")
    api.create("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts", {
        "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
        "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
        "spec": {"configuration": {"permittedHostDevices": {
            "pciHostDevices": [BY_HAND_PCI], "usb": [BY_HAND_USB]}}}})


def usb_entries(kv):
    return (((kv.get("spec") or {}).get("configuration") or {}).get("permittedHostDevices") or {}).get("usb") or []


def claim_path(name=None, sub=None):
    path = f"/apis/{GROUP}/v1beta1/usbdeviceclaims"
    if name:
        path += "/" + name
    if sub:
        path += "/" + sub
    return path


def condition(claim):
    for c in (claim.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Bound":
            return c
    return {}


def wait_reason(api, name, reason):
    return api.wait_for(claim_path(name), lambda o: condition(o).get("reason") == reason, timeout=WAIT)


def registration(kubelet, resource):
    def find():
        with kubelet.cond:
            found = [r for _, r, _ in kubelet.registrations if r.resource_name == resource]
        return found[-1] if found else None
    return fk.wait_until(find, f"a registration of {resource}", WAIT)


def watch_of(kubelet, resource):
    def find():
        with kubelet.cond:
            ws = [w for w in kubelet.watches if w.thread.name == f"watch-{resource}"]
        return ws[-1] if ws else None
    return fk.wait_until(find, f"a ListAndWatch of {resource}", WAIT)


def allocate(kubelet, reg, *ids):
    stub = fk.svc.DevicePluginStub(fk.channel_to(os.path.join(kubelet.plugin_dir, reg.endpoint)))
    req = fk.pb.AllocateRequest(container_requests=[fk.pb.ContainerAllocateRequest(devices_ids=list(ids))])
    return stub.Allocate(req, timeout=WAIT).container_responses[0]


def allocate_refused(kubelet, reg, *ids):
    """The gRPC status code of an Allocate that must fail."""
    try:
        allocate(kubelet, reg, *ids)
    except fk.grpc.RpcError as e:
        return e.code()
    raise AssertionError(f"Allocate of {ids} succeeded")


def start_agent(agents, api, kubelet_dir):
    # The testbed's /sys and /dev (umockdev's), everything else under a fake root.
    os.makedirs(kubelet_dir + "/root", exist_ok=True)
    a = agents("--kubeconfig", agent_kubeconfig(api), "--node-name", NODE, "--pci-ids", PCI_IDS,
               "--usb-ids", USB_IDS, "--uevent-source", "kernel", "--resync-interval", "0",
               "--root", kubelet_dir + "/root", "--sysfs", "/sys", "--dev", "/dev",
               "--kubelet-dir", kubelet_dir, bed=True)
    a.ready()
    return a


def test_usb_claim_served_across_unplug_and_replug(api, agents, bed, protos, kubelet_dir):
    """claim -> record and finalizer, status (node, controller), USBDevice enabled, the resource
    registered by the device's port identity, Allocate with KubeVirt's env and the device node, a
    usb entry in KubeVirt's CR next to the hand-written ones; unplug -> listed Unhealthy, Allocate
    refused, the claim says why and stays; re-plug with a new device number -> listed Healthy,
    Allocate gives the new node, USBDevice enabled again; another device in that port (another
    vendor:product, the same model with another serial) is not served nor enabled; deletion -> the resource stops, the entry goes, the claim goes."""
    make_kubevirt(api)
    kubelet = fk.FakeKubelet(kubelet_dir).start()
    try:
        a = start_agent(agents, api, kubelet_dir)
        a.bed(f"usb-add {PORT} 1 9 0951 1666 SER1")
        api.wait_for(api.devices_path("usbdevices", STICK),
                     lambda o: (o.get("status") or {}).get("devicePath") == "/dev/bus/usb/001/009")
        # A claim for a USBDevice no node has: nobody takes it.
        api.create(claim_path(), {"apiVersion": f"{GROUP}/v1beta1", "kind": "USBDeviceClaim",
                                  "metadata": {"name": "node9-000000140-usb2-1"},
                                  "spec": {"userName": "admin"}})
        api.create(claim_path(), {"apiVersion": f"{GROUP}/v1beta1", "kind": "USBDeviceClaim",
                                  "metadata": {"name": STICK}, "spec": {"userName": "admin"}})
        claim = wait_reason(api, STICK, "Served")
        assert FINALIZER in claim["metadata"]["finalizers"]
        ident = json.loads(claim["metadata"]["annotations"][IDENTITY])
        assert ident == {"node": NODE, "port": PORT, "vendorProduct": "0951:1666", "serial": "SER1",
                         "resourceName": RESOURCE, "pciAddress": "0000:00:14.0"}
        assert claim["status"]["nodeName"] == NODE and claim["status"]["pciAddress"] == "0000:00:14.0"
        assert condition(claim)["status"] == "True"
        api.wait_for(api.devices_path("usbdevices", STICK), lambda o: o["status"].get("enabled") is True,
                     timeout=WAIT)
        other = api.get(api.devices_path("usbdevices", f"{NODE}-000000140-usb2-1"))
        assert other["status"]["enabled"] is False

        reg = registration(kubelet, RESOURCE)
        watch = watch_of(kubelet, RESOURCE)
        assert watch.wait(lambda w: w.last() and [d[:2] for d in w.last()] == [(STICK, "Healthy")])
        resp = allocate(kubelet, reg, STICK)
        assert dict(resp.envs) == {ENV: "1:9"}
        assert [(d.container_path, d.host_path, d.permissions) for d in resp.devices] == \
            [("/dev/bus/usb/001/009", "/dev/bus/usb/001/009", "mrw")]
        kv = api.wait_for(KUBEVIRT, lambda o: len(usb_entries(o)) == 2, timeout=WAIT)
        assert usb_entries(kv) == [BY_HAND_USB, {"resourceName": RESOURCE, "externalResourceProvider": True,
                                                 "selectors": [{"vendor": "0951", "product": "1666"}]}]
        assert kv["spec"]["configuration"]["permittedHostDevices"]["pciHostDevices"] == [BY_HAND_PCI]
        assert json.loads(kv["metadata"]["annotations"][USB_ANNOTATION]) == {RESOURCE: {NODE: ["0951:1666"]}}

        # Unplugged: listed Unhealthy (the stream stays open), Allocate refused; the claim says
        # why and stays; its USBDevice goes.
        a.bed(f"usb-remove {PORT}")
        assert watch.wait(lambda w: w.last() and [d[:2] for d in w.last()] == [(STICK, "Unhealthy")])
        assert watch.ended is None
        assert allocate_refused(kubelet, reg, STICK) == fk.grpc.StatusCode.NOT_FOUND
        claim = wait_reason(api, STICK, "DeviceUnplugged")
        assert condition(claim)["status"] == "False" and PORT in condition(claim)["message"]
        api.wait_for(api.devices_path("usbdevices", STICK), deleted=True)
        assert FINALIZER in api.get(claim_path(STICK))["metadata"]["finalizers"]

        # Plugged in again: a new device number, the same device of the same resource.
        a.bed(f"usb-add {PORT} 1 10 0951 1666 SER1")
        assert watch.wait(lambda w: w.last() and [d[:2] for d in w.last()] == [(STICK, "Healthy")])
        resp = allocate(kubelet, reg, STICK)
        assert dict(resp.envs) == {ENV: "1:10"}
        assert [d.host_path for d in resp.devices] == ["/dev/bus/usb/001/010"]
        wait_reason(api, STICK, "Served")
        api.wait_for(api.devices_path("usbdevices", STICK),
                     lambda o: (o.get("status") or {}).get("enabled") is True
                     and o["status"]["devicePath"] == "/dev/bus/usb/001/010", timeout=WAIT)
        assert registration(kubelet, RESOURCE) is not None

        # Another vendor:product in that port is not the claimed device.
        a.bed(f"usb-remove {PORT}")
        claim = wait_reason(api, STICK, "DeviceUnplugged")
        mark = a.mark()
        a.bed(f"usb-add {PORT} 1 11 0781 5567 OTHER")
        api.wait_for(api.devices_path("usbdevices", STICK),
                     lambda o: (o.get("status") or {}).get("devicePath") == "/dev/bus/usb/001/011")
        a.wait_log(r"hot-plug: bind usb 1-5", since=mark)
        assert [d[:2] for d in watch.last()] == [(STICK, "Unhealthy")]
        assert allocate_refused(kubelet, reg, STICK) == fk.grpc.StatusCode.NOT_FOUND
        assert api.get(api.devices_path("usbdevices", STICK))["status"]["enabled"] is False
        # Nor is the same model with another serial.
        a.bed(f"usb-remove {PORT}")
        mark = a.mark()
        a.bed(f"usb-add {PORT} 1 12 0951 1666 SER2")
        api.wait_for(api.devices_path("usbdevices", STICK),
                     lambda o: (o.get("status") or {}).get("devicePath") == "/dev/bus/usb/001/012")
        a.wait_log(r"hot-plug: bind usb 1-5", since=mark)
        assert [d[:2] for d in watch.last()] == [(STICK, "Unhealthy")]
        assert api.get(api.devices_path("usbdevices", STICK))["status"]["enabled"] is False
        a.bed(f"usb-remove {PORT}")
        a.bed(f"usb-add {PORT} 1 13 0951 1666 SER1")
        wait_reason(api, STICK, "Served")

        # Deleted: the stream ends empty, the socket goes, the entry goes, then the claim.
        api.delete(claim_path(STICK))
        assert watch.wait(lambda w: w.ended is not None), "the stream did not end"
        assert watch.last() == []
        fk.wait_until(lambda: not os.path.exists(os.path.join(kubelet.plugin_dir, reg.endpoint)),
                      "the socket removed", WAIT)
        api.wait_for(claim_path(STICK), deleted=True)
        kv = api.wait_for(KUBEVIRT, lambda o: usb_entries(o) == [BY_HAND_USB], timeout=WAIT)
        assert USB_ANNOTATION not in (kv["metadata"].get("annotations") or {})
        api.wait_for(api.devices_path("usbdevices", STICK), lambda o: o["status"].get("enabled") is False,
                     timeout=WAIT)
        # Nobody took the other node's claim.
        other = api.get(claim_path("node9-000000140-usb2-1"))
        assert not other["metadata"].get("finalizers") and IDENTITY not in (other["metadata"].get("annotations") or {})
        # A clean stop (the ASan build checks for leaks on exit).
        assert a.stop() == 0
    finally:
        kubelet.stop()
