# SPDX-License-Identifier: Apache-2.0
"""hostdev-agent --serve-mdevs end to end: the agent on a fake root of bench/gen-sysfs.py (a T4 with
one mdev of type nvidia-230 "GRID T4-1Q" in its own IOMMU group, /dev/vfio/<group> there) against
the stand-in API server (a real kube-apiserver cannot run here; tests/agent/apiserver, strict) with
only the agent's ClusterRole and KubeVirt's CRD from tests/agent/fixtures/kubevirt, and the
project's fake kubelet on Python grpcio (tests/deviceplugin). Every wait is for an event (a
registration, a ListAndWatch update, an object), bounded by a generous deadline."""
import glob
import os
import shutil
import sys
import tempfile

import pytest

from agent_harness import PCI_IDS, agent_kubeconfig, make_root

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "deviceplugin"))
import fake_kubelet as fk  # noqa: E402

PROTO_DIR = os.environ.get("HOSTDEV_DP_PROTO_DIR", os.path.join(REPO, "src", "proto"))
NODE = "node1"
KUBEVIRT_CRD = os.path.join(REPO, "tests", "agent", "fixtures", "kubevirt")
KUBEVIRT = "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt"
MDEV_ANNOTATION = "hostdev.io/permitted-mediated-devices"
# An administrator's entry: never touched by the agent.
BY_HAND = {"mdevNameSelector": "GRID A100-4C", "resourceName": "nvidia.com/GRID_A100-4C",
           "externalResourceProvider": True}
# NVIDIA's KubeVirt plugin's name for the type (docs/device-plugin.md, "Resource names").
RESOURCE = "nvidia.com/GRID_T4-1Q"
ENV = "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q"
WAIT = 120


@pytest.fixture(scope="module")
def protos(tmp_path_factory):
    fk.load_protos(PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


@pytest.fixture
def short_dir():
    """A short directory: a Unix socket path has at most 107 characters (pytest's tmp_path is
    longer)."""
    path = tempfile.mkdtemp(prefix="hd-mdev-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def mdev_entries(kv):
    return (((kv.get("spec") or {}).get("configuration") or {}).get("permittedHostDevices") or {}).get(
        "mediatedDevices") or []


def the_mdev(root):
    """The fake root's one mdev: (uuid, its IOMMU group)."""
    (path,) = glob.glob(os.path.join(root, "sys/bus/mdev/devices/*"))
    return os.path.basename(path), os.path.basename(os.readlink(os.path.join(path, "iommu_group")))


def remove_mdev(root, uuid):
    """What the kernel's mdev removal leaves: the device gone from its parent, its type, its
    group, the bus and the driver."""
    link = os.path.join(root, "sys/bus/mdev/devices", uuid)
    dev = os.path.realpath(link)
    mdev_type = os.path.basename(os.readlink(os.path.join(dev, "mdev_type")))
    group = os.path.realpath(os.path.join(dev, "iommu_group"))
    for path in (os.path.join(os.path.dirname(dev), "mdev_supported_types", mdev_type, "devices", uuid),
                 os.path.join(group, "devices", uuid), os.path.join(root, "sys/bus/mdev/drivers/vfio_mdev", uuid),
                 link):
        os.unlink(path)
    shutil.rmtree(dev)
    assert not glob.glob(os.path.join(root, "sys/bus/mdev/devices/*"))


def test_mdevs_served_and_permitted(api, agents, protos, short_dir):
    """--serve-mdevs: the T4's mdev is served as nvidia.com/GRID_T4-1Q (registered, listed
    Healthy by its UUID, Allocate gives KubeVirt's MDEV_PCI_RESOURCE_<NAME>=<uuid> and the group
    nodes), and the KubeVirt CR gets its mediatedDevices entry next to the hand-written one; the
    mdev removed -> the resource stops at the next resync and the entry goes, the hand-written one
    stays. Without the option nothing is served; with --no-claims it is a usage error."""
    root = make_root(os.path.join(short_dir, "root"), 40)
    uuid, group = the_mdev(root)
    api.apply_crds(KUBEVIRT_CRD)
    api.create_namespace("kubevirt")
    api.create(KUBEVIRT.rsplit("/", 1)[0], {
        "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
        "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
        "spec": {"configuration": {"permittedHostDevices": {"mediatedDevices": [BY_HAND]}}}})
    kubelet = fk.FakeKubelet(os.path.join(short_dir, "kubelet")).start()
    try:
        args = ["--kubeconfig", agent_kubeconfig(api), "--node-name", NODE, "--root", root,
                "--pci-ids", PCI_IDS, "--kubelet-dir", os.path.join(short_dir, "kubelet")]
        # Without the claims' device-plugin loop there is nothing to serve from: a usage error.
        bad = agents(*args, "--serve-mdevs", "--no-claims", metrics=False)
        assert bad.wait_exit(60) == 2
        assert "--serve-mdevs serves from the claims' device-plugin loop" in bad.log()
        # Without --serve-mdevs: published, nothing served, the CR's list untouched.
        plain = agents(*args)
        plain.ready()
        assert plain.stop() == 0
        assert not kubelet.registrations
        assert mdev_entries(api.get(KUBEVIRT)) == [BY_HAND]

        # The resync is how the agent sees an mdev go (mdevs make no hot-plug event); 2 s here.
        a = agents(*args, "--serve-mdevs", "--resync-interval", "2s")
        a.ready()

        def registration():
            with kubelet.cond:
                found = [r for _, r, _ in kubelet.registrations if r.resource_name == RESOURCE]
            return found[-1] if found else None
        reg = fk.wait_until(registration, f"a registration of {RESOURCE}", WAIT)
        assert [r.resource_name for _, r, _ in kubelet.registrations] == [RESOURCE]

        def watch_of():
            with kubelet.cond:
                ws = [w for w in kubelet.watches if w.thread.name == f"watch-{RESOURCE}"]
            return ws[-1] if ws else None
        watch = fk.wait_until(watch_of, f"a ListAndWatch of {RESOURCE}", WAIT)
        assert watch.wait(lambda w: w.last() and [d[:2] for d in w.last()] == [(uuid, "Healthy")])
        stub = fk.svc.DevicePluginStub(fk.channel_to(os.path.join(kubelet.plugin_dir, reg.endpoint)))
        resp = stub.Allocate(fk.pb.AllocateRequest(container_requests=[
            fk.pb.ContainerAllocateRequest(devices_ids=[uuid])]), timeout=WAIT).container_responses[0]
        assert dict(resp.envs) == {ENV: uuid}
        nodes = {d.container_path: d for d in resp.devices}
        assert set(nodes) == {"/dev/vfio/vfio", f"/dev/vfio/{group}"}
        # The built-in plugin names the nodes as the host has them; here under the fake root.
        for path, d in nodes.items():
            assert d.host_path == path and d.permissions == "mrw"
            assert os.path.exists(os.path.join(root, path[1:])), path

        # KubeVirt's form of the type name (docs/device-plugin.md, "KubeVirt permittedHostDevices").
        entry = {"mdevNameSelector": "GRID_T4-1Q", "resourceName": RESOURCE, "externalResourceProvider": True}
        kv = api.wait_for(KUBEVIRT, lambda o: len(mdev_entries(o)) == 2, timeout=WAIT)
        assert mdev_entries(kv) == [BY_HAND, entry]
        assert NODE in kv["metadata"]["annotations"][MDEV_ANNOTATION]

        # The mdev removed: the resource stops (empty list, stream ended), the entry goes.
        since = a.mark()
        remove_mdev(root, uuid)
        a.wait_log(rf"resource {RESOURCE}: no mediated device of its type is left; stopped", since=since)
        assert watch.wait(lambda w: w.ended is not None), "the stream did not end"
        assert watch.last() == []
        kv = api.wait_for(KUBEVIRT, lambda o: mdev_entries(o) == [BY_HAND], timeout=WAIT)
        assert a.stop() == 0
    finally:
        kubelet.stop()
