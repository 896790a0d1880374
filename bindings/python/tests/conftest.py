# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the Python binding tests: fake roots, the kernel model, contexts on them.

Run by ctest (bindings-python), which sets PYTHONPATH to the built package and:
  HOSTDEV_TEST_MAKE_FAKE_ROOT  tests/cli/make_fake_root.py (enumeration tree, its DEVICES table)
  HOSTDEV_TEST_PCI_IDS         tests/cli/pci.ids
  HOSTDEV_TEST_FAKE_HOST       the vfio-fake-host program (tests/vfio: the host bind tests use)
  HOSTDEV_TEST_SRIOV_FAKE_HOST the sriov-fake-host program (tests/sriov/sriov_tree.h: PFs and mdev
                               parents for the SR-IOV and mdev tests)
  HOSTDEV_TEST_VGPU_FAKE_HOST  the vgpu-fake-host program (tests/vgpu/vgpu_tree.h: an A2 GPU whose
                               16 VFs carry NVIDIA's vGPU attributes)
  HOSTDEV_TEST_KMODEL          the kernel model, also in LD_PRELOAD of this process: it models the
                               kernel's reaction to sysfs writes below $HOSTDEV_KMODEL_ROOT, which
                               the vfio fixtures set (this machine cannot bind real devices)
  HOSTDEV_TEST_DATA            bindings/testdata (naming vectors shared with the Go tests)
  HOSTDEV_TEST_PYTHON_EXAMPLES bindings/python/examples
  HOSTDEV_TEST_FAKE_KUBELET    tests/deviceplugin/fake_kubelet.py (a kubelet written with Python
                               grpcio: Debian's python3-grpcio and python3-grpc-tools)
  HOSTDEV_DP_PROTO_DIR         src/deviceplugin/proto (the device-plugin API, compiled by the fake kubelet)
  HOSTDEV_TEST_GEN_DP_ROOT     bench/gen-dp-root.py (a fake root of vfio-pci functions)
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import hostdev

KERNEL_VERSION_DIR = "lib/modules/6.1.0-hostdev-test"

# Every wait of these tests is for an event (a state, a line, a message); this only bounds it,
# generously, so that a loaded machine (sanitizers, CPU hogs) is not mistaken for a failure.
# HOSTDEV_TEST_TIMEOUT_SCALE multiplies it.
WAIT = 30.0 * float(os.environ.get("HOSTDEV_TEST_TIMEOUT_SCALE", "1"))


def wait_until(predicate, timeout=WAIT):
    """Poll @predicate (a state with no notification of its own) until it is true: True, or False
    once @timeout passed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def need_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip("%s is not set (run the tests through ctest: ctest -L bindings)" % name)
    return value


@pytest.fixture(scope="session")
def fake_root_module():
    """tests/cli/make_fake_root.py as a module: its DEVICES table is the expected enumeration."""
    path = need_env("HOSTDEV_TEST_MAKE_FAKE_ROOT")
    spec = importlib.util.spec_from_file_location("make_fake_root", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def cli_root(tmp_path_factory, fake_root_module):
    """The CLI tests' server-like tree (read-only: shared by the session)."""
    root = tmp_path_factory.mktemp("cli") / "root"
    env = dict(os.environ)
    env.pop("HOSTDEV_KMODEL_ROOT", None)
    subprocess.run([sys.executable, os.environ["HOSTDEV_TEST_MAKE_FAKE_ROOT"], str(root)],
                   check=True, env=env)
    return str(root)


@pytest.fixture
def cli_ctx(cli_root):
    """A context on the CLI tree with its pci.ids and module directory, node name node1."""
    with hostdev.Context(cli_root, pci_ids=need_env("HOSTDEV_TEST_PCI_IDS"),
                         modules=os.path.join(cli_root, KERNEL_VERSION_DIR),
                         node_name="node1") as ctx:
        yield ctx


class FakeHost:
    """A fresh vfio test host (tests/vfio/vfio_tree.h) driven through the kernel model."""

    def __init__(self, root):
        self.root = root

    def path(self, rel):
        return os.path.join(self.root, rel)

    def driver(self, address):
        link = self.path("sys/bus/pci/devices/%s/driver" % address)
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def override(self, address):
        with open(self.path("sys/bus/pci/devices/%s/driver_override" % address)) as f:
            return f.read().strip()

    def has(self, rel):
        return os.path.exists(self.path(rel))

    def context(self, **kwargs):
        # No module directory: never look at this machine's kernel modules.
        return hostdev.Context(self.root, modules=self.path("lib/modules/none"), **kwargs)

    # A hung driver (HOSTDEV_KMODEL_HOLD=op:target): the store waits in the model until released.
    def held(self):
        """True while a store waits in the model."""
        return self.has(".kmodel/held")

    def release(self):
        """Let held stores (and those held later) go on."""
        os.makedirs(self.path(".kmodel"), exist_ok=True)
        open(self.path(".kmodel/release"), "a").close()

    def rearm(self):
        """Stores are held again (after a release)."""
        if self.has(".kmodel/release"):
            os.unlink(self.path(".kmodel/release"))


# The kernel model's variables a test may set (monkeypatch): cleared for every fresh host.
KMODEL_KNOBS = ("HOSTDEV_KMODEL_FAIL", "HOSTDEV_KMODEL_STALL", "HOSTDEV_KMODEL_KILL_AT",
                "HOSTDEV_KMODEL_NO_DEVNODE", "HOSTDEV_KMODEL_DELAY", "HOSTDEV_KMODEL_HOLD",
                "HOSTDEV_KMODEL_SRIOV_LIMIT", "HOSTDEV_KMODEL_SRIOV_NO_PHYSFN")


def make_fake_host(monkeypatch, *flags, program_env="HOSTDEV_TEST_FAKE_HOST", cls=None):
    program = need_env(program_env)
    kmodel = need_env("HOSTDEV_TEST_KMODEL")
    if kmodel not in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("the kernel model is not preloaded (LD_PRELOAD=%s)" % kmodel)
    env = dict(os.environ)
    env.pop("HOSTDEV_KMODEL_ROOT", None)
    env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    out = subprocess.run([program, *flags], env=env, check=True, capture_output=True, text=True)
    root = out.stdout.strip()
    monkeypatch.setenv("HOSTDEV_KMODEL_ROOT", root)
    for name in KMODEL_KNOBS:
        monkeypatch.delenv(name, raising=False)
    return (cls or FakeHost)(root)


@pytest.fixture
def fake_host(monkeypatch):
    host = make_fake_host(monkeypatch)
    yield host
    shutil.rmtree(host.root, ignore_errors=True)


@pytest.fixture
def fake_host_no_iommu(monkeypatch):
    host = make_fake_host(monkeypatch, "--no-iommu")
    yield host
    shutil.rmtree(host.root, ignore_errors=True)


class SriovHost(FakeHost):
    """A fresh SR-IOV/mdev test host (tests/sriov/sriov_tree.h) driven through the kernel model."""

    def attr(self, address, name):
        with open(self.path("sys/bus/pci/devices/%s/%s" % (address, name))) as f:
            return f.read().strip()

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read().strip()

    def kmodel_log(self):
        """What the kernel model did ("op target value -> result" lines)."""
        try:
            with open(self.path(".kmodel/log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def sriov_host(monkeypatch):
    host = make_fake_host(monkeypatch, program_env="HOSTDEV_TEST_SRIOV_FAKE_HOST", cls=SriovHost)
    yield host
    shutil.rmtree(host.root, ignore_errors=True)


@pytest.fixture
def vgpu_host(monkeypatch):
    """The A2 host of tests/vgpu/vgpu_tree.h (16 VFs with NVIDIA's vGPU attributes, whose rules the
    kernel model takes from NVIDIA's documentation, not from observation)."""
    host = make_fake_host(monkeypatch, program_env="HOSTDEV_TEST_VGPU_FAKE_HOST", cls=SriovHost)
    yield host
    shutil.rmtree(host.root, ignore_errors=True)


@pytest.fixture(scope="session")
def naming_vectors():
    with open(os.path.join(need_env("HOSTDEV_TEST_DATA"), "naming_vectors.json")) as f:
        return json.load(f)


# -- device plugins --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fk(tmp_path_factory):
    """tests/deviceplugin/fake_kubelet.py, with the protos compiled and imported."""
    pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    path = need_env("HOSTDEV_TEST_FAKE_KUBELET")
    spec = importlib.util.spec_from_file_location("fake_kubelet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.load_protos(need_env("HOSTDEV_DP_PROTO_DIR"), str(tmp_path_factory.mktemp("protos")))
    return module


class DpRoot:
    """A fake root of vfio-pci functions made by bench/gen-dp-root.py."""

    def __init__(self, root, devices):
        self.root = root
        self.devices = devices  # [{"id", "group", "numa"}]

    @property
    def ids(self):
        return [d["id"] for d in self.devices]

    def group_node(self, i):
        return os.path.join(self.root, "dev", "vfio", str(self.devices[i]["group"]))


def make_dp_root(parent, n=3):
    root = os.path.join(parent, "root")
    manifest = os.path.join(parent, "manifest.json")
    subprocess.run([sys.executable, need_env("HOSTDEV_TEST_GEN_DP_ROOT"), "--devices", str(n),
                    "--manifest", manifest, root], check=True, capture_output=True)
    with open(manifest) as f:
        return DpRoot(root, json.load(f)["devices"])


@pytest.fixture
def dp_root(tmp_path):
    """Three 82574L functions on vfio-pci, IOMMU groups 0-2, NUMA nodes 0, 1, 0."""
    return make_dp_root(str(tmp_path))


@pytest.fixture
def kubelet_dir():
    """A kubelet root with device-plugins/ and plugins_registry/; short, so that the socket paths
    fit a sockaddr_un."""
    d = tempfile.mkdtemp(prefix="hd-kl-")
    # The kubelet makes these; the library does not.
    os.mkdir(os.path.join(d, "device-plugins"))
    os.mkdir(os.path.join(d, "plugins_registry"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kubelet(fk, kubelet_dir):
    """The grpcio fake kubelet on kubelet_dir: Register with dial-back, then ListAndWatch."""
    k = fk.FakeKubelet(kubelet_dir).start()
    yield k
    k.stop()
