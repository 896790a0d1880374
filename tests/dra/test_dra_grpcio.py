# SPDX-License-Identifier: Apache-2.0
"""DRA kubelet plugins (docs/dra.md) against a kubelet stand-in written with Python grpcio
(dra_kubelet.py: no kubelet can run here). dra_test_plugin serves driver vfio.hostdev.test with the
public API and answers from fixture.json. The CDI files it writes are checked against
cdi-schema.json, the device-metadata files against device-metadata-schema.json and read the way
KubeVirt reads them.

Run: HOSTDEV_DRA_TEST_PLUGIN=build/tests/dra/dra_test_plugin HOSTDEV_DRA_PROTO_DIR=src/dra/proto \
     HOSTDEV_PLUGINREG_PROTO_DIR=src/pluginreg/proto /usr/bin/python3 -m pytest tests/dra
"""
import json
import os
import stat
import sys

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dra_kubelet as dk  # noqa: E402

jsonschema = pytest.importorskip("jsonschema")

PLUGIN = os.environ.get("HOSTDEV_DRA_TEST_PLUGIN")
DRA_PROTO_DIR = os.environ.get("HOSTDEV_DRA_PROTO_DIR", os.path.join(HERE, "..", "..", "src",
                                                                      "dra", "proto"))
REG_PROTO_DIR = os.environ.get("HOSTDEV_PLUGINREG_PROTO_DIR",
                               os.path.join(HERE, "..", "..", "src", "pluginreg", "proto"))
FIXTURE = os.path.join(HERE, "fixture.json")
DRIVER = "vfio.hostdev.test"
NIC = ("default", "vm-nic", "0b9e6a52-1111-4c1e-9f00-000000000001")
GPU = ("tenant-a", "vm-gpu", "0b9e6a52-2222-4c1e-9f00-000000000002")
DEFERRED = ("default", "vm-slow", "0b9e6a52-3333-4c1e-9f00-000000000003")
GONE = ("default", "vm-gone", "0b9e6a52-4444-4c1e-9f00-000000000004")
UNKNOWN = ("default", "vm-other", "0b9e6a52-9999-4c1e-9f00-000000000009")

if not PLUGIN or not os.access(PLUGIN, os.X_OK):
    pytest.skip("HOSTDEV_DRA_TEST_PLUGIN (dra_test_plugin) not set", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def protos(tmp_path_factory):
    dk.load_protos(DRA_PROTO_DIR, REG_PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


@pytest.fixture(scope="module")
def schemas():
    with open(os.path.join(HERE, "cdi-schema.json")) as f:
        cdi = json.load(f)
    with open(os.path.join(HERE, "device-metadata-schema.json")) as f:
        metadata = json.load(f)
    return cdi, metadata


class Root:
    def __init__(self, base):
        self.plugins = os.path.join(base, "plugins")
        self.registry = os.path.join(base, "plugins_registry")
        self.cdi = os.path.join(base, "cdi")
        for d in (self.plugins, self.registry, self.cdi):
            os.makedirs(d)
        self.data = os.path.join(self.plugins, DRIVER)

    def driver(self, *extra):
        return dk.Driver(PLUGIN, DRIVER, self.plugins, self.registry, self.cdi, FIXTURE, *extra)


@pytest.fixture
def root(tmp_path):
    return Root(str(tmp_path))


@pytest.fixture
def served(root):
    """A started driver and a kubelet stand-in that registered it."""
    drv = root.driver()
    kubelet = dk.Kubelet(root.registry)
    kubelet.register(DRIVER)
    drv.wait_line("REGISTERED 1")
    yield root, drv, kubelet
    kubelet.close()
    drv.quit()


def fixture_claim(uid):
    with open(FIXTURE) as f:
        return json.load(f)["claims"][uid]


def check_prepared(root, schemas, claim, answer):
    """The answer for @claim matches the fixture; its CDI and metadata files are valid and say
    what KubeVirt needs."""
    cdi_schema, md_schema = schemas
    ns, name, uid = claim
    devices, error = answer[uid]
    assert error == ""
    want = fixture_claim(uid)["devices"]
    assert [(d[1], d[2]) for d in devices] == [(w["pool"], w["device"]) for w in want]
    with open(os.path.join(root.cdi, "%s-%s.json" % (DRIVER, uid))) as f:
        spec = json.load(f)
    jsonschema.validate(spec, cdi_schema)
    assert spec["kind"] == DRIVER + "/pci"
    for (requests, pool, device, cdi_ids), w in zip(devices, want):
        assert requests == w["requests"]
        cdi_name = "%s-%s" % (uid, device)
        assert cdi_ids[0] == "%s/pci=%s" % (DRIVER, cdi_name)
        (entry,) = [d for d in spec["devices"] if d["name"] == cdi_name]
        nodes = [n["path"] for n in entry["containerEdits"]["deviceNodes"]]
        expected = ["/dev/vfio/vfio", "/dev/vfio/" + w["group"]]
        if "cdev" in w:
            expected += ["/dev/iommu", "/dev/vfio/devices/vfio%d" % w["cdev"]]
        assert nodes == expected
        assert all(n["type"] == "c" and n["permissions"] == "rw"
                   for n in entry["containerEdits"]["deviceNodes"])
        # The metadata of each of the device's requests, mounted by a CDI id of its own.
        assert cdi_ids[1:] == ["%s/metadata=%s_%s" % (DRIVER, uid, r) for r in w["requests"]]
        for request in w["requests"]:
            check_metadata(root, schemas, claim, w, request, pool)


def check_metadata(root, schemas, claim, w, request, pool):
    """The metadata files of @request of @claim for fixture device @w (in pool @pool): valid, and
    saying what KubeVirt reads."""
    cdi_schema, md_schema = schemas
    ns, name, uid = claim
    device = w["device"]
    md_spec_path = os.path.join(root.cdi, "%s_metadata_%s_%s.json" % (DRIVER, uid, request))
    with open(md_spec_path) as f:
        md_spec = json.load(f)
    jsonschema.validate(md_spec, cdi_schema)
    assert md_spec["kind"] == DRIVER + "/metadata"
    (mount,) = md_spec["devices"][0]["containerEdits"]["mounts"]
    assert md_spec["devices"][0]["name"] == "%s_%s" % (uid, request)
    assert mount["hostPath"] == os.path.join(root.data, "dra-device-metadata",
                                             "%s_%s" % (ns, name), request, "metadata.json")
    assert mount["containerPath"] == (
        "/var/run/kubernetes.io/dra-device-attributes/resourceclaims/%s/%s/%s-metadata.json"
        % (name, request, DRIVER))
    assert mount["options"] == ["ro", "bind"]
    with open(mount["hostPath"]) as f:
        md = json.load(f)
    jsonschema.validate(md, md_schema)
    assert stat.S_IMODE(os.stat(mount["hostPath"]).st_mode) == 0o644
    assert md["metadata"] == {"name": name, "namespace": ns, "uid": uid, "generation": 1}
    assert md["requests"][0]["name"] == request
    # KubeVirt: the device of the request by its driver, then its pciBusID or mdevUUID.
    (dev,) = [d for d in md["requests"][0]["devices"] if d["name"] == device]
    assert dev["driver"] == DRIVER and dev["pool"] == pool
    if "pci" in w:
        assert dev["attributes"] == {"resource.kubernetes.io/pciBusID": {"string": w["pci"]}}
    else:
        assert dev["attributes"] == {"mdevUUID": {"string": w["mdev"]}}


def test_registration(root):
    drv = root.driver()
    assert drv.registration == os.path.join(root.registry, DRIVER + "-reg.sock")
    assert drv.socket == os.path.join(root.plugins, DRIVER, "dra.sock")
    kubelet = dk.Kubelet(root.registry)
    assert drv.command("status", "STATUS") == "STATUS 1 0"  # registering
    info = kubelet.register(DRIVER)
    assert info.type == "DRAPlugin"
    assert info.name == DRIVER
    assert info.endpoint == drv.socket
    assert list(info.supported_versions) == ["v1.DRAPlugin", "v1beta1.DRAPlugin"]
    drv.wait_line("REGISTERED 1")
    assert drv.command("status", "STATUS") == "STATUS 2 1"
    assert stat.S_IMODE(os.stat(drv.socket).st_mode) == 0o600
    # Recent kubelets repeat GetInfo as a health probe: answered, nothing else changes.
    for _ in range(3):
        assert kubelet.get_info(drv.registration).name == DRIVER
    assert drv.command("status", "STATUS") == "STATUS 2 1"
    kubelet.close()
    drv.quit()
    # Stopped: both sockets are gone.
    assert not os.path.exists(drv.socket) and not os.path.exists(drv.registration)


def test_prepare_and_unprepare_v1_and_v1beta1(served, schemas):
    root, drv, kubelet = served
    for api in ("v1", "v1beta1"):
        start = drv.mark()
        answer = kubelet.prepare([NIC, GPU], api=api)
        assert set(answer) == {NIC[2], GPU[2]}
        check_prepared(root, schemas, NIC, answer)
        check_prepared(root, schemas, GPU, answer)
        assert sorted(drv.since(start, "PREPARE ")) == sorted(
            ["PREPARE %s %s" % (NIC[2], api), "PREPARE %s %s" % (GPU[2], api)])
        # Repeated Prepare (the kubelet after a restart, or after its deadline): the same.
        assert kubelet.prepare([GPU, NIC], api=api) == answer
        start = drv.mark()
        assert kubelet.unprepare([NIC, GPU], api=api) == {NIC[2]: "", GPU[2]: ""}
        assert sorted(drv.since(start, "UNPREPARE ")) == sorted(
            ["UNPREPARE %s %s known" % (NIC[2], api), "UNPREPARE %s %s known" % (GPU[2], api)])
        # Every file of the claims is gone, and so are the directories made for them.
        assert os.listdir(root.cdi) == []
        assert os.listdir(os.path.join(root.data, "dra-device-metadata")) == []


def test_unprepare_of_unknown_claims_succeeds(served):
    root, drv, kubelet = served
    start = drv.mark()
    assert kubelet.unprepare([UNKNOWN, NIC]) == {UNKNOWN[2]: "", NIC[2]: ""}
    assert sorted(drv.since(start, "UNPREPARE ")) == sorted(
        ["UNPREPARE %s v1 unknown" % UNKNOWN[2], "UNPREPARE %s v1 unknown" % NIC[2]])


def test_deferred_prepare_is_answered_with_the_others(served, schemas):
    root, drv, kubelet = served
    answer = kubelet.prepare([DEFERRED, NIC])
    check_prepared(root, schemas, DEFERRED, answer)
    check_prepared(root, schemas, NIC, answer)
    assert kubelet.unprepare([DEFERRED, NIC]) == {DEFERRED[2]: "", NIC[2]: ""}


def test_failures_are_per_claim(served, schemas):
    root, drv, kubelet = served
    answer = kubelet.prepare([NIC, UNKNOWN, GONE])
    check_prepared(root, schemas, NIC, answer)
    assert answer[UNKNOWN[2]] == (
        [], "test driver: claim default/vm-other (uid %s) has no allocation for this driver"
        % UNKNOWN[2])
    assert answer[GONE[2]] == ([], fixture_claim(GONE[2])["error"])
    # A claim without uid, namespace or name never reaches the driver.
    start = drv.mark()
    answer = kubelet.prepare([("default", "no-uid", ""), ("", "no-ns", "uid-1"),
                              ("default", "", "uid-2")])
    assert answer[""][1] == (
        "DRA driver %s: claim #0 (namespace 'default', name 'no-uid', uid '') lacks its uid"
        % DRIVER)
    assert answer["uid-1"][1].endswith("lacks its namespace")
    assert answer["uid-2"][1].endswith("lacks its name")
    # One uid given for two claims: refused, and only once in the answer.
    answer = kubelet.prepare([("default", "a", "uid-3"), ("default", "b", "uid-3")])
    assert list(answer) == ["uid-3"]
    assert "is given for both default/a and default/b" in answer["uid-3"][1]
    assert drv.since(start, "PREPARE ") == []
    # The same claim twice: prepared once.
    start = drv.mark()
    answer = kubelet.prepare([NIC, NIC])
    check_prepared(root, schemas, NIC, answer)
    assert drv.since(start, "PREPARE ") == ["PREPARE %s v1" % NIC[2]]


def test_malformed_request_fails_the_call(served):
    root, drv, kubelet = served
    call = kubelet.channel.unary_unary(
        "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources")
    with pytest.raises(grpc.RpcError) as e:
        call(b"\x0a\xff\xff\xff", timeout=dk.DEADLINE)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed NodePrepareResourcesRequest" in e.value.details()
    # The plugin serves on.
    assert kubelet.unprepare([UNKNOWN]) == {UNKNOWN[2]: ""}


def test_kubelet_restart_registers_again(served, schemas):
    root, drv, kubelet = served
    answer = kubelet.prepare([NIC])
    check_prepared(root, schemas, NIC, answer)
    kubelet.close()
    # A new kubelet finds the registration socket again and repeats what the first did.
    restarted = dk.Kubelet(root.registry)
    restarted.register(DRIVER)
    drv.wait_line("REGISTERED 2")
    assert drv.command("status", "STATUS") == "STATUS 2 2"
    assert restarted.prepare([NIC]) == answer
    assert restarted.unprepare([NIC]) == {NIC[2]: ""}
    restarted.close()


def test_deleted_sockets_are_made_again(served, schemas):
    """A kubelet that restarts deletes the plugin sockets; the plugin sees it through inotify on
    both directories (its periodic check runs only every minute while they are watched) and
    listens again, and a new kubelet registers it as the first one did."""
    root, drv, kubelet = served
    kubelet.close()
    # A new file, not the old one: ext4 may give it the same inode number, so the change time too.
    def identity(path):
        st = os.stat(path)
        return st.st_ino, st.st_ctime_ns

    before = {p: identity(p) for p in (drv.socket, drv.registration)}
    for p in before:
        os.unlink(p)
    dk.wait_until(lambda: all(os.path.exists(p) and identity(p) != old
                              for p, old in before.items()), "the sockets made again")
    restarted = dk.Kubelet(root.registry)
    restarted.register(DRIVER)
    drv.wait_line("REGISTERED 2")
    answer = restarted.prepare([NIC])
    check_prepared(root, schemas, NIC, answer)
    assert restarted.unprepare([NIC]) == {NIC[2]: ""}
    restarted.close()


def test_refused_registration(root):
    drv = root.driver("--api", "v1beta1")
    # A kubelet that speaks only v1 refuses a plugin that serves only v1beta1, and says why.
    kubelet = dk.Kubelet(root.registry, versions=["v1.DRAPlugin"])
    with pytest.raises(dk.Refused):
        kubelet.register(DRIVER)
    assert drv.wait_line("REFUSED ").startswith("REFUSED none of the versions ['v1beta1.DRAPlugin']")
    assert drv.command("status", "STATUS") == "STATUS 1 0"
    # One that speaks v1beta1 too takes it; the v1 service is not served.
    kubelet = dk.Kubelet(root.registry)
    kubelet.register(DRIVER)
    assert kubelet.api == "v1beta1"
    assert kubelet.unprepare([UNKNOWN]) == {UNKNOWN[2]: ""}
    with pytest.raises(grpc.RpcError) as e:
        kubelet.unprepare([UNKNOWN], api="v1")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    kubelet.close()
    drv.quit()


def test_stop_and_start(served):
    root, drv, kubelet = served
    drv.command("stop", "OK stop")
    assert not os.path.exists(drv.socket) and not os.path.exists(drv.registration)
    assert drv.command("status", "STATUS") == "STATUS 0 1"
    drv.command("start", "OK start")
    kubelet.close()
    again = dk.Kubelet(root.registry)
    again.register(DRIVER)
    drv.wait_line("REGISTERED 2")
    assert again.unprepare([UNKNOWN]) == {UNKNOWN[2]: ""}
    again.close()


def test_second_driver_process_is_refused(root):
    drv = root.driver()
    proc = dk.subprocess.run(
        [PLUGIN, "--driver", DRIVER, "--plugin-dir", root.plugins, "--registry-dir",
         root.registry, "--cdi-dir", root.cdi, "--fixture", FIXTURE],
        input="quit\n", capture_output=True, text=True, timeout=dk.DEADLINE)
    assert proc.returncode == 1
    assert "another process serves this driver" in proc.stderr
    drv.quit()
