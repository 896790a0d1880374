# SPDX-License-Identifier: Apache-2.0
"""Real kubectl against the STAND-IN API server (kubestandin; no real kube-apiserver can run here):
both builds this project can get - the kubectl on PATH (v1.32 on the development machines, from
google-cloud-sdk) and Debian's kubernetes-client (v1.20), which tests/agent/tools/fetch-kubectl.sh
unpacks (never installs: the packages conflict) into the build tree. They must show the agent's
objects with Harvester's printer columns, read them as JSON and YAML, select by label, create,
apply (client-side), patch, delete and watch them, and report the server's errors.

kubectl 1.20 validates on the client with /openapi/v2, which the stand-in does not serve, so its
create/apply run with --validate=false; kubectl 1.32 leaves validation to the server (through
/openapi/v3) and sends fieldValidation=Strict.

Run: HOSTDEV_KUBECTL_CACHE=/tmp/kc /usr/bin/python3 -m pytest tests/agent/apiserver/test_kubectl.py"""
import json
import os
import selectors
import shutil
import subprocess
import time

import pytest
import yaml

from conftest import GROUP, dev_path, pci_status, pcidevice, unique

HERE = os.path.dirname(os.path.abspath(__file__))
FETCH = os.environ.get("HOSTDEV_FETCH_KUBECTL", os.path.join(HERE, "..", "tools", "fetch-kubectl.sh"))
CACHE = os.environ.get("HOSTDEV_KUBECTL_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "hostdev-kubectl"))


def _version(path):
    out = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
    v = json.loads(out.stdout)["clientVersion"]
    return int(v["major"]), int(v["minor"].rstrip("+"))


def _builds():
    found = []
    system = shutil.which("kubectl")
    if system:
        found.append(("path", os.path.realpath(system)))
    r = subprocess.run([FETCH, CACHE], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"could not unpack Debian's kubernetes-client with {FETCH}: {r.stderr}")
    found.append(("debian", r.stdout.strip()))
    return [(label, path, _version(path)) for label, path in found]


BUILDS = None


def builds():
    global BUILDS
    if BUILDS is None:
        BUILDS = _builds()
    return BUILDS


@pytest.fixture(scope="module", params=["path", "debian"])
def kubectl(request):
    """(path, (major, minor)) of one kubectl build; the one on PATH may be absent on CI machines."""
    match = [b for b in builds() if b[0] == request.param]
    if not match:
        pytest.skip("no kubectl on PATH on this machine (Debian's build is still tested)")
    _, path, version = match[0]
    return path, version


@pytest.fixture(scope="module")
def cluster(api, tmp_path_factory):
    """A node with three PCIDevices (status written as the agent writes it) and a USBDevice."""
    node = api.create_node("kc-node1")
    for fn in range(3):
        name = f"kc-node1-00000800{fn}"
        o = api.create(dev_path("pcidevices"), pcidevice(name, labels={"nodename": "kc-node1"}, owner=node))
        o["status"] = pci_status(address=f"0000:08:00.{fn}", node="kc-node1", numaNode=fn % 2,
                                 iommuGroupMembers=[f"0000:08:00.{fn}"])
        api.update(dev_path("pcidevices", name, "status"), o)
    u = api.create(dev_path("usbdevices"), {"apiVersion": f"{GROUP}/v1beta1", "kind": "USBDevice",
                                            "metadata": {"name": "kc-node1-usb-2-1", "labels": {"nodename": "kc-node1"}}})
    u["status"] = {"vendorID": "46f4", "productID": "0001", "nodeName": "kc-node1", "resourceName": "kubevirt.io/kc-node1-usb-2-1",
                   "devicePath": "/dev/bus/usb/002/002", "description": "QEMU USB HARDDRIVE", "pciAddress": "0000:00:1d.0",
                   "enabled": False, "portPath": "2-1"}
    api.update(dev_path("usbdevices", "kc-node1-usb-2-1", "status"), u)
    return api


class Kubectl:
    def __init__(self, path, version, api, home, kubeconfig=None):
        self.path, self.version, self.api = path, version, api
        self.home = home
        os.makedirs(home, exist_ok=True)
        self.kubeconfig = kubeconfig or api.kubeconfig(os.path.join(home, "config"), user="tester")

    def env(self):
        return dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)

    def validate(self):
        return ["--validate=false"] if self.version < (1, 27) else []

    def __call__(self, *args, check=True, stdin=None):
        r = subprocess.run([self.path, *args], env=self.env(), capture_output=True, text=True, timeout=120,
                           input=stdin)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r


@pytest.fixture
def kc(kubectl, cluster, tmp_path):
    return Kubectl(kubectl[0], kubectl[1], cluster, str(tmp_path / "home"))


def table(text):
    lines = [l for l in text.splitlines() if l.strip()]
    header = lines[0]
    # columns are separated by at least two spaces (single spaces occur inside headers and cells)
    import re
    starts = [0] + [m.end() for m in re.finditer(r"\s{2,}", header)]
    cols = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    rows = []
    for l in lines[1:]:
        rows.append([l[a:b].strip() if a < len(l) else "" for a, b in zip(starts, starts[1:] + [None])])
    return cols, rows


def test_get_shows_harvester_printer_columns(kc):
    r = kc("get", "pcidevices", "-l", "nodename=kc-node1")
    cols, rows = table(r.stdout)
    assert cols == ["NAME", "ADDRESS", "VENDOR ID", "DEVICE ID", "NODE NAME", "DESCRIPTION", "KERNEL DRIVER IN USE"]
    assert rows[0] == ["kc-node1-000008000", "0000:08:00.0", "8086", "10d3", "kc-node1",
                       "Ethernet controller: Intel Corporation 82574L Gigabit Network Connection", "e1000e"]
    assert len(rows) == 3
    cols, rows = table(kc("get", "usbdevices", "-l", "nodename=kc-node1").stdout)
    assert cols == ["NAME", "VENDOR ID", "PRODUCT ID", "NODE NAME", "DESCRIPTION", "RESOURCE NAME", "PCI ADDRESS",
                    "ENABLED"]
    assert rows[0][1:3] == ["46f4", "0001"] and rows[0][-1] == "false"


def test_get_wide_shows_our_columns(kc):
    cols, rows = table(kc("get", "pcidevices", "-l", "nodename=kc-node1", "-o", "wide").stdout)
    assert cols[-3:] == ["IOMMU GROUP", "NUMA NODE", "RESOURCE NAME"]
    assert [r[cols.index("NUMA NODE")] for r in rows] == ["0", "1", "0"]


def test_get_json_and_yaml(kc):
    o = json.loads(kc("get", "pcidevice", "kc-node1-000008001", "-o", "json").stdout)
    want = kc.api.get(dev_path("pcidevices", "kc-node1-000008001"))
    assert o["status"] == want["status"] and o["metadata"]["uid"] == want["metadata"]["uid"]
    lst = yaml.safe_load(kc("get", "pcidevices", "-l", "nodename=kc-node1", "-o", "yaml").stdout)
    assert lst["kind"] == "List" and [i["metadata"]["name"] for i in lst["items"]] == \
        [f"kc-node1-00000800{i}" for i in range(3)]
    assert all(i["kind"] == "PCIDevice" for i in lst["items"])
    names = kc("get", "pcidevices", "-l", "nodename=kc-node1,nodename!=other", "-o", "name").stdout.split()
    assert names == [f"pcidevice.{GROUP}/kc-node1-00000800{i}" for i in range(3)]
    assert kc("get", "pcidevices", "-l", "nodename=nobody", "-o", "name").stdout.strip() == ""


def test_nodes_and_paging(kc):
    cols, rows = table(kc("get", "nodes").stdout)
    assert cols == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert ["kc-node1", "Ready", "<none>"] == next(r for r in rows if r[0] == "kc-node1")[:3]
    mark = kc.api.mark()
    out = kc("get", "pcidevices", "-l", "nodename=kc-node1", "--chunk-size=1", "-o", "name").stdout.split()
    assert len(out) == 3
    reqs = kc.api.requests(mark, verb="list", resource="pcidevices")
    assert len(reqs) == 3 and all("limit=1" in r["query"] for r in reqs) and "continue=" in reqs[1]["query"]


CLAIM = """apiVersion: devices.harvesterhci.io/v1beta1
kind: PCIDeviceClaim
metadata:
  name: {name}
spec:
  address: "0000:08:00.0"
  nodeName: kc-node1
  userName: {user}
"""


def test_create_apply_patch_delete(kc, tmp_path):
    name = unique("kcclaim")
    f = tmp_path / "claim.yaml"
    f.write_text(CLAIM.format(name=name, user="alice"))
    assert "created" in kc("create", *kc.validate(), "-f", str(f)).stdout
    r = kc("create", *kc.validate(), "-f", str(f), check=False)
    assert r.returncode != 0 and "AlreadyExists" in r.stderr and "already exists" in r.stderr
    f.write_text(CLAIM.format(name=name, user="bob"))
    kc("apply", "--server-side=false", *kc.validate(), "-f", str(f))
    got = kc.api.get(dev_path("pcideviceclaims", name))
    assert got["spec"]["userName"] == "bob"
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]
    kc("patch", "pcideviceclaim", name, "--type=merge", "-p", '{"spec":{"userName":"carol"}}')
    assert kc.api.get(dev_path("pcideviceclaims", name))["spec"]["userName"] == "carol"
    r = kc("patch", "pcideviceclaim", name, "-p", '{"spec":{"userName":"dave"}}', check=False)
    # 415 for a strategic merge patch of a custom resource, as the real server answers
    assert r.returncode != 0 and ("accepted media types include: application/json-patch+json, "
                                  "application/merge-patch+json") in r.stderr
    cols, rows = table(kc("get", "pcideviceclaim", name).stdout)
    assert cols == ["NAME", "ADDRESS", "NODE NAME", "USER NAME", "KERNEL DRIVER TO UNBIND", "PASSTHROUGH ENABLED"]
    assert rows[0][:4] == [name, "0000:08:00.0", "kc-node1", "carol"]
    kc("label", "pcideviceclaim", name, "hostdev.io/test=yes")
    assert kc.api.get(dev_path("pcideviceclaims", name))["metadata"]["labels"] == {"hostdev.io/test": "yes"}
    assert "deleted" in kc("delete", "pcideviceclaim", name).stdout
    r = kc("get", "pcideviceclaim", name, check=False)
    assert r.returncode != 0 and f'pcideviceclaims.{GROUP} "{name}" not found' in r.stderr


def test_unknown_fields(kc, tmp_path):
    name = unique("kcbad")
    f = tmp_path / "bad.yaml"
    f.write_text(CLAIM.format(name=name, user="x") + "  bogus: 1\n")
    r = kc("create", *kc.validate(), "-f", str(f), check=False)
    if kc.version >= (1, 27):
        # server-side strict validation, as against a real server
        assert r.returncode != 0 and 'strict decoding error: unknown field "spec.bogus"' in r.stderr
        assert not kc.api.exists(dev_path("pcideviceclaims", name))
    else:
        # validation off: the server prunes the field and warns
        assert r.returncode == 0 and 'unknown field "spec.bogus"' in r.stderr
        assert "bogus" not in kc.api.get(dev_path("pcideviceclaims", name))["spec"]
    r = kc("create", *kc.validate(), "-f", "-", check=False,
           stdin=CLAIM.format(name=unique("kcinv"), user="x").replace("0000:08:00.0", "not-an-address"))
    assert r.returncode != 0 and "is invalid" in r.stderr and "spec.address" in r.stderr


def test_watch_shows_an_event(kc):
    name = "kc-node1-000008002"
    mark = kc.api.mark()
    p = subprocess.Popen([kc.path, "get", "pcidevices", "-l", "nodename=kc-node1", "-w", "--request-timeout=0"],
                         env=kc.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        kc.api.wait_requests(since=mark, verb="watch", resource="pcidevices", userAgent="kubectl", timeout=60)
        o = kc.api.get(dev_path("pcidevices", name))
        o["status"]["kernelDriverInUse"] = "vfio-pci"
        kc.api.update(dev_path("pcidevices", name, "status"), o)
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        buf = b""
        while b"vfio-pci" not in buf:
            left = deadline - time.monotonic()
            assert left > 0 and sel.select(left), f"no watch line from kubectl: {buf!r}"
            chunk = os.read(p.stdout.fileno(), 65536)
            assert chunk, f"kubectl ended: {p.stderr.read()!r}"
            buf += chunk
        line = next(l for l in buf.decode().splitlines() if "vfio-pci" in l)
        assert line.split()[0] == name and line.split()[1] == "0000:08:00.2"
    finally:
        p.kill()
        p.wait()
        o = kc.api.get(dev_path("pcidevices", name))
        o["status"]["kernelDriverInUse"] = "e1000e"
        kc.api.update(dev_path("pcidevices", name, "status"), o)


def test_errors_reach_the_user(kc, tmp_path):
    user = unique("user")
    kc.api.add_token(user + "-token", user)
    kc.api.forbid("list", "pcidevices", GROUP, user=user)
    limited = Kubectl(kc.path, kc.version, kc.api, str(tmp_path / "limited"),
                      kc.api.kubeconfig(str(tmp_path / "limited.kubeconfig"), user=user, token=user + "-token"))
    r = limited("get", "pcidevices", check=False)
    assert r.returncode != 0
    assert (f'Error from server (Forbidden): pcidevices.{GROUP} is forbidden: User "{user}" cannot list resource '
            f'"pcidevices" in API group "{GROUP}" at the cluster scope') in r.stderr
    kc.api.remove_token(user + "-token")
    r = limited("get", "nodes", check=False)
    assert r.returncode != 0 and "Unauthorized" in r.stderr
    certified = Kubectl(kc.path, kc.version, kc.api, str(tmp_path / "cert"),
                        kc.api.kubeconfig(str(tmp_path / "cert.kubeconfig"), user="cert-user", embed=True,
                                          client_cert=kc.api.client_cert("cert-user", ["hostdev"])))
    assert "kc-node1" in certified("get", "nodes", "-o", "name").stdout
    assert any(e["user"] == "cert-user" for e in kc.api.requests(verb="list", resource="nodes"))


# -- resource.k8s.io/v1 (DRA): kubectl finds the kinds through discovery, whatever its own age ----

DRA_OBJECTS = """apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata:
  name: {name}-class
spec:
  selectors:
  - cel:
      expression: device.driver == "vfio.hostdev.io"
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: {name}-slice
spec:
  driver: vfio.hostdev.io
  nodeName: kc-node1
  pool:
    name: kc-node1
    generation: 1
    resourceSliceCount: 1
  devices:
  - name: pci-0000-08-00-0
    attributes:
      resource.kubernetes.io/pciBusID:
        string: "0000:08:00.0"
      numaNode:
        int: 0
"""


def test_dra_kinds_create_get_and_errors(kc, tmp_path):
    name = unique("kcdra")
    f = tmp_path / "dra.yaml"
    f.write_text(DRA_OBJECTS.format(name=name))
    out = kc("create", *kc.validate(), "-f", str(f)).stdout
    assert f"deviceclass.resource.k8s.io/{name}-class created" in out
    assert f"resourceslice.resource.k8s.io/{name}-slice created" in out
    cols, rows = table(kc("get", "resourceslices", "--field-selector", "spec.nodeName=kc-node1").stdout)
    assert cols == ["NAME", "NODE", "DRIVER", "POOL", "AGE"]
    assert [r[:4] for r in rows] == [[f"{name}-slice", "kc-node1", "vfio.hostdev.io", "kc-node1"]]
    got = json.loads(kc("get", "resourceslice", f"{name}-slice", "-o", "json").stdout)
    assert got["spec"]["devices"][0]["attributes"]["numaNode"] == {"int": 0}
    # the server's validation reaches the user, as from a real server
    bad = DRA_OBJECTS.format(name=name + "-bad").split("---\n")[1].replace("pci-0000-08-00-0", "PCI_0")
    r = kc("create", *kc.validate(), "-f", "-", stdin=bad, check=False)
    assert r.returncode != 0 and "is invalid" in r.stderr and "spec.devices[0].name" in r.stderr
    assert "deleted" in kc("delete", "resourceslice", f"{name}-slice").stdout
    kc("delete", "deviceclass", f"{name}-class")
