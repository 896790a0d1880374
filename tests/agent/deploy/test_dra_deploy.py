# SPDX-License-Identifier: Apache-2.0
"""The DRA deployment and examples (examples/agent/deploy/dra, docs/agent.md "Dynamic Resource
Allocation"): the kustomization rendered by both kubectl builds; the DeviceClasses and the
ResourceClaimTemplate created through kubectl on the STAND-IN API server of tests/agent/apiserver
(a stand-in: no real kube-apiserver can run here; it validates the resource.k8s.io/v1 kinds as the
real one does, but does not compile CEL, so the expressions are checked here against what the agent
really publishes); the DaemonSet against the agent's flags; the KubeVirt VMI against the rules of
KubeVirt's DRA admitter (no KubeVirt can run here either)."""
import os
import re
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "agent", "e2e"))
sys.path.insert(0, HERE)

from agent_harness import AGENT, PCI_IDS, Agent, StandIn, make_root  # noqa: E402
from test_deploy import kubectls  # noqa: E402

DRA = os.path.join(REPO, "examples", "agent", "deploy", "dra")
DRIVER = "vfio.hostdev.io"
SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def load(name):
    with open(os.path.join(DRA, name), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


@pytest.fixture(scope="module")
def rendered():
    out = {}
    for k in kubectls():
        r = subprocess.run([k, "kustomize", DRA], capture_output=True, text=True)
        assert r.returncode == 0, f"{k} kustomize {DRA} failed:\n{r.stderr}"
        out[k] = [d for d in yaml.safe_load_all(r.stdout) if d]
    return out


def test_dra_kustomization_renders_the_same_with_each_kubectl(rendered):
    renders = list(rendered.values())
    assert len(renders) >= 1
    for r in renders[1:]:
        assert sorted(map(repr, r)) == sorted(map(repr, renders[0]))
    objs = renders[0]
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"] +
                           ["DeviceClass"] * len(load("deviceclasses.yaml")))
    for o in objs:
        if o["kind"] in ("DeviceClass", "ClusterRole", "ClusterRoleBinding", "Namespace"):
            assert "namespace" not in o["metadata"], f"cluster-scoped {o['kind']} got a namespace"
    # the identity is the main deployment's, object for object
    main = {(d["kind"], d["metadata"]["name"]): d for f in ("namespace.yaml", "serviceaccount.yaml")
            for d in yaml.safe_load_all(open(os.path.join(DRA, "..", f))) if d}
    for d in load("identity.yaml"):
        assert main[(d["kind"], d["metadata"]["name"])] == d


def test_dra_daemonset_uses_flags_the_agent_has_and_the_kubelets_directories():
    ds = next(d for d in load("daemonset.yaml") if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    help_text = subprocess.run([AGENT, "--help"], capture_output=True, text=True, check=True).stdout
    for arg in c["args"]:
        flag = arg.split("=", 1)[0]
        assert re.search(rf"^\s+{re.escape(flag)}\b", help_text, re.M), f"{flag} is not a flag of hostdev-agent"
    assert "--dra-only" in c["args"] or "--dra" in c["args"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    for path in ("/var/lib/kubelet/plugins", "/var/lib/kubelet/plugins_registry", "/var/run/cdi",
                 "/var/lib/hostdev", "/sys", "/dev"):
        assert path in mounts, f"{path} is not mounted"
        host = vols[mounts[path]["name"]]["hostPath"]
        assert host["path"] == path and host["type"] in ("Directory", "DirectoryOrCreate")
    assert not mounts["/sys"].get("readOnly"), "binding vfio-pci writes sysfs"
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    binding = next(d for d in load("rbac.yaml") if d["kind"] == "ClusterRoleBinding")
    sa = next(d for d in load("identity.yaml") if d["kind"] == "ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    assert ds["metadata"]["namespace"] == sa["metadata"]["namespace"]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with StandIn(tmp_path_factory.mktemp("standin")) as s:
        s.create_node("node1")
        s.create_namespace("default") if not s.exists("/api/v1/namespaces/default") else None
        yield s


def test_dra_examples_are_accepted_through_kubectl(api, tmp_path):
    kubeconfig = api.kubeconfig(str(tmp_path / "kubeconfig"))
    for i, k in enumerate(kubectls()):
        env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=str(tmp_path / f"home{i}"))
        ver = subprocess.run([k, "version", "--client"], capture_output=True, text=True).stdout
        validate = ["--validate=false"] if "v1.20" in ver or "Minor:\"20\"" in ver else []
        for f in ("deviceclasses.yaml", "resourceclaimtemplate.yaml"):
            r = subprocess.run([k, "apply", "--server-side=false", *validate, "-f", os.path.join(DRA, f)],
                               env=env, capture_output=True, text=True)
            assert r.returncode == 0, f"{k} apply {f}: {r.stderr}"
            assert "unknown field" not in r.stderr, r.stderr
    for d in load("deviceclasses.yaml"):
        got = api.get(f"/apis/resource.k8s.io/v1/deviceclasses/{d['metadata']['name']}")
        assert got["spec"]["selectors"] == d["spec"]["selectors"]
    t = load("resourceclaimtemplate.yaml")[0]
    got = api.get(f"/apis/resource.k8s.io/v1/namespaces/default/resourceclaimtemplates/{t['metadata']['name']}")
    assert got["spec"] == t["spec"]
    # A claim as the control plane makes it from the template, allocated as the scheduler would.
    claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
             "metadata": {"name": "vmi-with-nic-nic-x7k2p"}, "spec": t["spec"]["spec"]}
    c = api.create("/apis/resource.k8s.io/v1/namespaces/default/resourceclaims", claim)
    c["status"] = {"allocation": {"devices": {"results": [{"request": "nic", "driver": DRIVER, "pool": "node1",
                                                           "device": "pci-0000-08-00-0"}]}}}
    api.update("/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/vmi-with-nic-nic-x7k2p/status", c)


ATTR = re.compile(r'device\.attributes\["' + re.escape(DRIVER) + r'"\]\.(\w+)(\s*==\s*("[^"]*"|\d+)|\.startsWith\(|)')


def cel_uses():
    """{attribute: 'string' | 'int' | 'bool'} as the examples' CEL expressions use them."""
    uses = {}
    docs = load("deviceclasses.yaml") + load("resourceclaimtemplate.yaml")
    text = yaml.safe_dump_all(docs)
    for m in ATTR.finditer(text):
        name, cmp_, lit = m.group(1), m.group(2), m.group(3)
        typ = "string" if (lit and lit.startswith('"')) or "startsWith" in cmp_ else "int" if lit else "bool"
        uses.setdefault(name, set()).add(typ)
    return uses


def test_dra_selectors_name_attributes_the_agent_publishes(api, tmp_path):
    uses = cel_uses()
    assert {"vendor", "device", "class", "sriovVF", "sriovPF", "numaNode", "iommuGroupSize"} <= set(uses)
    root = make_root(tmp_path / "root", 300)
    api.add_token("dra-check", "dra-check")
    a = Agent("--kubeconfig", api.kubeconfig(str(tmp_path / "agent.kubeconfig"), token="dra-check"),
              "--node-name", "node1", "--root", root, "--pci-ids", PCI_IDS, "--dra-only", "--once", metrics=False)
    try:
        assert a.wait_exit(300) == 0, a.log()
    finally:
        a.kill()
    published = {}
    for s in api.get(SLICES, params={"fieldSelector": "spec.nodeName=node1"})["items"]:
        for d in s["spec"]["devices"]:
            for k, v in d["attributes"].items():
                published.setdefault(k, set()).update(v)
    for name, typs in uses.items():
        assert name in published, f"the examples select on {name!r}, which the agent does not publish"
        assert typs <= published[name], f"{name}: used as {typs}, published as {published[name]}"
    # A constraint names an attribute by its qualified name: <driver>/<attribute>.
    matched = [c["matchAttribute"] for t in load("resourceclaimtemplate.yaml")
               for c in t["spec"]["spec"]["devices"].get("constraints", [])]
    assert f"{DRIVER}/iommuGroup" in matched
    for qualified in matched:
        domain, _, name = qualified.rpartition("/")
        assert domain == DRIVER and name in published, qualified


def test_kubevirt_vmi_follows_kubevirts_dra_rules():
    vmi = load("kubevirt-vmi.yaml")[0]
    tpl = load("resourceclaimtemplate.yaml")[0]
    claims = {c["name"]: c for c in vmi["spec"]["resourceClaims"]}
    assert len(claims) == len(vmi["spec"]["resourceClaims"])  # unique names
    requests = {r["name"] for r in tpl["spec"]["spec"]["devices"]["requests"]}
    pairs = set()
    for hd in vmi["spec"]["domain"]["devices"]["hostDevices"]:
        assert "deviceName" not in hd  # DRA, not a device plugin
        assert hd["claimName"] in claims and hd["requestName"]
        rc = claims[hd["claimName"]]
        assert (rc.get("resourceClaimTemplateName") == tpl["metadata"]["name"]) != bool(rc.get("resourceClaimName"))
        assert hd["requestName"] in requests
        assert (hd["claimName"], hd["requestName"]) not in pairs
        pairs.add((hd["claimName"], hd["requestName"]))
    assert vmi["metadata"]["namespace"] == tpl["metadata"]["namespace"]
