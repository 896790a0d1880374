# SPDX-License-Identifier: Apache-2.0
"""DRA kubelet plugins from Python (docs/dra.md, docs/bindings.md): a plugin served by the binding
on a temporary kubelet root, driven by the grpcio kubelet stand-in of tests/dra (dra_kubelet.py:
no kubelet can run here; the stand-in does what the kubelet's plugin watcher and DRA manager do and
refuses what they refuse) through registration, NodePrepareResources and NodeUnprepareResources
over v1 and v1beta1, with claims the Python callables fail. CDI spec and device-metadata files
written by the binding are checked against the schemas of tests/dra.
"""
import errno
import importlib.util
import json
import os
import shutil
import tempfile
import threading

import pytest

import conftest
import hostdev

DRIVER = "vfio.hostdev.test"
NIC = ("default", "vm-nic", "0b9e6a52-1111-4c1e-9f00-000000000001")
GPU = ("tenant-a", "vm-gpu", "0b9e6a52-2222-4c1e-9f00-000000000002")
GONE = ("default", "vm-gone", "0b9e6a52-4444-4c1e-9f00-000000000004")
BROKEN = ("default", "vm-broken", "0b9e6a52-5555-4c1e-9f00-000000000005")
UNKNOWN = ("default", "vm-other", "0b9e6a52-9999-4c1e-9f00-000000000009")


@pytest.fixture(scope="module")
def dk(tmp_path_factory):
    """tests/dra/dra_kubelet.py with the DRA and registration protos compiled and imported."""
    pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    path = conftest.need_env("HOSTDEV_TEST_DRA_KUBELET")
    spec = importlib.util.spec_from_file_location("dra_kubelet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.load_protos(conftest.need_env("HOSTDEV_DRA_PROTO_DIR"),
                       conftest.need_env("HOSTDEV_PLUGINREG_PROTO_DIR"),
                       str(tmp_path_factory.mktemp("dra-protos")))
    return module


@pytest.fixture(scope="module")
def schemas():
    d = os.path.dirname(conftest.need_env("HOSTDEV_TEST_DRA_KUBELET"))
    with open(os.path.join(d, "cdi-schema.json")) as f:
        cdi = json.load(f)
    with open(os.path.join(d, "device-metadata-schema.json")) as f:
        metadata = json.load(f)
    return cdi, metadata


@pytest.fixture
def kubelet_root():
    """A kubelet root with plugins/ and plugins_registry/ (the kubelet makes them); short, so that
    the socket paths fit a sockaddr_un."""
    d = tempfile.mkdtemp(prefix="hd-dra-")
    os.mkdir(os.path.join(d, "plugins"))
    os.mkdir(os.path.join(d, "plugins_registry"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Driver:
    """A DRA driver written in Python: prepares NIC and GPU from a table, fails GONE (a device
    that is gone) with hostdev.NotFound and BROKEN with an answer that is not a device list, and
    keeps a record of what it prepared."""

    def __init__(self, ctx, cdi_dir):
        self.ctx = ctx
        self.cdi_dir = cdi_dir
        self.calls = []
        self.prepared = set()
        self.registrations = []
        self.registered = threading.Event()
        self.threads = set()

    def prepare(self, claim):
        self.threads.add(threading.get_ident())
        self.calls.append(("prepare", claim))
        if claim.uid == GONE[2]:
            raise hostdev.NotFound(errno.ENODEV, "claim %s/%s: device 0000:3b:00.7 is gone from "
                                   "this node" % (claim.namespace, claim.name))
        if claim.uid == BROKEN[2]:
            return 42
        spec = hostdev.CdiSpec(self.ctx, DRIVER + "/pci")
        group = "12" if claim.uid == NIC[2] else "13"
        name = claim.uid + "-dev0"
        spec.add_vfio_device(name, group)
        spec.write(self.cdi_dir, "%s-%s.json" % (DRIVER, claim.uid))
        self.prepared.add(claim.uid)
        return [hostdev.DraDevice("node-a", "pci-dev-" + group, ["req-0"],
                                  [spec.device_id(name)])]

    def unprepare(self, claim):
        self.calls.append(("unprepare", claim))
        if claim.uid == GONE[2]:
            raise OSError(errno.EBUSY, "claim %s: device still in use by the VM" % claim.name)
        hostdev.CdiSpec.remove(self.ctx, self.cdi_dir, "%s-%s.json" % (DRIVER, claim.uid))
        self.prepared.discard(claim.uid)

    def on_registration(self, registered, error):
        self.registrations.append((registered, error))
        self.registered.set()


@pytest.fixture
def served(dk, kubelet_root, tmp_path):
    """A Context, a loop on its thread serving the Driver's plugin, a stand-in that registered
    it."""
    cdi_dir = str(tmp_path / "cdi")
    os.mkdir(cdi_dir)
    with hostdev.Context() as ctx, hostdev.DevicePluginLoop(ctx) as loop:
        driver = Driver(ctx, cdi_dir)
        plugin = loop.serve_dra(DRIVER, prepare=driver.prepare, unprepare=driver.unprepare,
                                on_registration=driver.on_registration, kubelet_dir=kubelet_root)
        loop.start_thread()
        kubelet = dk.Kubelet(os.path.join(kubelet_root, "plugins_registry"))
        try:
            yield kubelet, plugin, driver
        finally:
            kubelet.close()


def test_register_prepare_unprepare_v1(served, dk, kubelet_root, schemas):
    kubelet, plugin, driver = served
    assert plugin.state == "registering"
    assert plugin.socket_path == os.path.join(kubelet_root, "plugins", DRIVER, "dra.sock")
    assert plugin.registration_path == os.path.join(kubelet_root, "plugins_registry",
                                                    DRIVER + "-reg.sock")
    info = kubelet.register(DRIVER)
    assert info.type == "DRAPlugin" and info.name == DRIVER
    assert info.endpoint == plugin.socket_path
    assert list(info.supported_versions) == ["v1.DRAPlugin", "v1beta1.DRAPlugin"]
    assert kubelet.api == "v1"
    assert driver.registered.wait(conftest.WAIT)
    assert driver.registrations == [(True, "")]
    assert conftest.wait_until(lambda: plugin.state == "registered")
    assert plugin.registrations == 1

    answer = kubelet.prepare([NIC, GPU])
    cdi_nic = "%s/pci=%s-dev0" % (DRIVER, NIC[2])
    cdi_gpu = "%s/pci=%s-dev0" % (DRIVER, GPU[2])
    assert answer == {NIC[2]: ([(["req-0"], "node-a", "pci-dev-12", [cdi_nic])], ""),
                      GPU[2]: ([(["req-0"], "node-a", "pci-dev-13", [cdi_gpu])], "")}
    assert [c for c in driver.calls] == [
        ("prepare", hostdev.DraClaim(*NIC, api_version="v1")),
        ("prepare", hostdev.DraClaim(*GPU, api_version="v1"))]
    # The callables ran on the loop's thread, not this one.
    assert threading.get_ident() not in driver.threads
    # The CDI spec the answer names is on disk, valid against the CDI spec's schema.
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(driver.cdi_dir, "%s-%s.json" % (DRIVER, NIC[2]))) as f:
        spec = json.load(f)
    jsonschema.validate(spec, schemas[0])
    assert spec["kind"] == DRIVER + "/pci"
    assert [n["path"] for n in spec["devices"][0]["containerEdits"]["deviceNodes"]] == [
        "/dev/vfio/vfio", "/dev/vfio/12"]

    # Prepare again (the kubelet after its restart): the same answer.
    assert kubelet.prepare([NIC]) == {NIC[2]: answer[NIC[2]]}

    # Unprepare: prepared, unknown (must succeed) and one the driver refuses.
    assert kubelet.unprepare([NIC, UNKNOWN, GONE]) == {
        NIC[2]: "", UNKNOWN[2]: "", GONE[2]: "claim vm-gone: device still in use by the VM"}
    assert not os.path.exists(os.path.join(driver.cdi_dir, "%s-%s.json" % (DRIVER, NIC[2])))
    assert driver.prepared == {GPU[2]}


def test_errors_answered_per_claim(served):
    kubelet, plugin, driver = served
    kubelet.register(DRIVER)
    # A raised hostdev.Error fails its claim with its message, a wrong answer fails with the
    # TypeError's words; the other claim of the call is prepared.
    answer = kubelet.prepare([GONE, NIC, BROKEN])
    assert answer[GONE[2]] == ([], "claim default/vm-gone: device 0000:3b:00.7 is gone from this "
                                   "node")
    assert answer[NIC[2]][1] == "" and len(answer[NIC[2]][0]) == 1
    devices, error = answer[BROKEN[2]]
    assert devices == []
    assert error.startswith("TypeError: prepare() must return an iterable of hostdev.DraDevice")
    assert driver.prepared == {NIC[2]}


def test_v1beta1(served):
    kubelet, plugin, driver = served
    kubelet.register(DRIVER)
    answer = kubelet.prepare([GPU], api="v1beta1")
    assert answer[GPU[2]][1] == ""
    assert answer[GPU[2]][0][0][2] == "pci-dev-13"
    assert driver.calls[-1] == ("prepare", hostdev.DraClaim(*GPU, api_version="v1beta1"))
    assert kubelet.unprepare([GPU], api="v1beta1") == {GPU[2]: ""}
    assert driver.calls[-1] == ("unprepare", hostdev.DraClaim(*GPU, api_version="v1beta1"))


def test_api_versions_and_refused_registration(dk, kubelet_root):
    registrations = []
    done = threading.Event()

    def on_registration(registered, error):
        registrations.append((registered, error))
        done.set()

    with hostdev.Context() as ctx, hostdev.DevicePluginLoop(ctx) as loop:
        plugin = loop.serve_dra(DRIVER, on_registration=on_registration,
                                kubelet_dir=kubelet_root, api_versions=["v1beta1"])
        loop.start_thread()
        # A kubelet that speaks only v1 refuses a plugin that offers only v1beta1, and says why.
        kubelet = dk.Kubelet(os.path.join(kubelet_root, "plugins_registry"),
                             versions=["v1.DRAPlugin"])
        with pytest.raises(dk.Refused):
            kubelet.register(DRIVER)
        assert done.wait(conftest.WAIT)
        assert registrations[0][0] is False
        assert "none of the versions ['v1beta1.DRAPlugin']" in registrations[0][1]
        assert plugin.state == "registering"

        # No prepare callable: every claim fails, saying so.
        kubelet = dk.Kubelet(os.path.join(kubelet_root, "plugins_registry"))
        assert list(kubelet.register(DRIVER).supported_versions) == ["v1beta1.DRAPlugin"]
        assert kubelet.api == "v1beta1"
        answer = kubelet.prepare([NIC])
        assert answer[NIC[2]][0] == [] and "prepares no claims" in answer[NIC[2]][1]
        # No unprepare callable: every unprepare succeeds.
        assert kubelet.unprepare([NIC]) == {NIC[2]: ""}
        kubelet.close()

        plugin.close()
        assert plugin.closed and loop.dra_plugins == ()
        assert not os.path.exists(plugin.socket_path)
        with pytest.raises(ValueError):
            plugin.state


def test_plugin_argument_errors(kubelet_root):
    with hostdev.Context() as ctx, hostdev.DevicePluginLoop(ctx) as loop:
        with pytest.raises(hostdev.InvalidArgument):
            loop.serve_dra("Not_A_DNS_Name", kubelet_dir=kubelet_root)
        with pytest.raises(ValueError, match="unknown DRA API version 'v2'"):
            loop.serve_dra(DRIVER, kubelet_dir=kubelet_root, api_versions=["v2"])
        with pytest.raises(TypeError):
            loop.serve_dra(DRIVER, kubelet_dir=kubelet_root, prepare="not callable")
        plugin = loop.serve_dra(DRIVER, kubelet_dir=kubelet_root, registration=False)
        assert plugin.state == "serving" and plugin.registration_path is None
        # A second plugin on the same sockets: another server has them.
        with pytest.raises(hostdev.Error) as e:
            loop.serve_dra(DRIVER, kubelet_dir=kubelet_root, registration=False)
        assert e.value.errno == errno.EADDRINUSE
    # The loop's close() stopped the plugin and removed its socket.
    assert plugin.closed and not os.path.exists(plugin.socket_path)


def test_cdi_spec_and_metadata_files(tmp_path, schemas):
    jsonschema = pytest.importorskip("jsonschema")
    cdi_dir = tmp_path / "cdi"
    data_dir = tmp_path / "plugins" / DRIVER
    cdi_dir.mkdir()
    data_dir.mkdir(parents=True)
    with hostdev.Context() as ctx:
        spec = hostdev.CdiSpec(ctx, DRIVER + "/pci")
        spec.add_vfio_device("claim-a-dev0", 7, vfio_cdev=3).add_device("claim-a-extra")
        spec.add_device_node("claim-a-extra", "/dev/vfio/8")
        assert spec.device_id("claim-a-dev0") == DRIVER + "/pci=claim-a-dev0"
        spec.write(cdi_dir, "a.json")
        on_disk = json.loads((cdi_dir / "a.json").read_text())
        assert on_disk == json.loads(spec.to_json())
        jsonschema.validate(on_disk, schemas[0])
        assert [n["path"] for n in on_disk["devices"][0]["containerEdits"]["deviceNodes"]] == [
            "/dev/vfio/vfio", "/dev/vfio/7", "/dev/iommu", "/dev/vfio/devices/vfio3"]
        assert oct((cdi_dir / "a.json").stat().st_mode & 0o777) == "0o644"
        hostdev.CdiSpec.remove(ctx, cdi_dir, "a.json")
        hostdev.CdiSpec.remove(ctx, cdi_dir, "a.json")  # gone: not an error
        assert not (cdi_dir / "a.json").exists()

        # The library's messages for bad input.
        with pytest.raises(hostdev.InvalidArgument, match="kind"):
            hostdev.CdiSpec(ctx, "no-slash")
        with pytest.raises(hostdev.InvalidArgument):
            spec.add_vfio_device("claim-a-dev0", 9)  # a duplicate name
        with pytest.raises(hostdev.NotFound):
            spec.add_device_node("nothing", "/dev/vfio/9")
        with pytest.raises(hostdev.InvalidArgument):
            spec.write(cdi_dir, "a.yaml.txt")
        with pytest.raises(hostdev.NotFound):
            spec.write(tmp_path / "missing", "a.json")

        claim = hostdev.DraClaim(*NIC, api_version="v1")
        md = hostdev.DeviceMetadata.for_claim(ctx, DRIVER, claim, "nic")
        md.add_device("node-a", "pci-dev-12", pci_bus_id="0000:3b:00.1")
        assert md.cdi_id == "%s/metadata=%s_nic" % (DRIVER, NIC[2])
        md.write(data_dir, cdi_dir)
        path = data_dir / "dra-device-metadata" / "default_vm-nic" / "nic" / "metadata.json"
        doc = json.loads(path.read_text())
        jsonschema.validate(doc, schemas[1])
        assert doc == json.loads(md.to_json())
        attrs = doc["requests"][0]["devices"][0]["attributes"]
        assert attrs["resource.kubernetes.io/pciBusID"] == {"string": "0000:3b:00.1"}
        mount_spec = json.loads((cdi_dir / ("%s_metadata_%s_nic.json" % (DRIVER, NIC[2])))
                                .read_text())
        jsonschema.validate(mount_spec, schemas[0])
        # Unprepare: the metadata made from the claim alone removes both files.
        hostdev.DeviceMetadata.for_claim(ctx, DRIVER, claim, "nic").remove(data_dir, cdi_dir)
        assert not path.exists() and list(cdi_dir.iterdir()) == []

        with pytest.raises(ValueError, match="exactly one of pci_bus_id and mdev_uuid"):
            md.add_device("node-a", "x", pci_bus_id="0000:3b:00.1", mdev_uuid="u")
        with pytest.raises(hostdev.InvalidArgument):
            md.add_device("node-a", "x", pci_bus_id="3b:00.1:bad")
