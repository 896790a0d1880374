# SPDX-License-Identifier: Apache-2.0
"""The deployment of hostdev-agent (examples/agent/deploy): the kustomization rendered by kubectl,
the objects checked against Kubernetes' schema as python3-kubernetes models it (every field known,
types, required fields) and against the API server's validation rules that matter here, the
DaemonSet's command line against the agent's flags, and the agent run as the DaemonSet runs it
(in-cluster credentials of its ServiceAccount, only its ClusterRole's rules) against the stand-in
API server of tests/agent/apiserver (a stand-in: a real kube-apiserver cannot run here; it has no
DaemonSet, ServiceAccount or RBAC kinds, so those objects are checked here, not applied).

The ClusterRole is checked against the stand-in's request log: every verb on every resource the
agent used is granted, and every verb granted was used (no more rights than it needs).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "agent", "e2e"))

from agent_harness import AGENT, PCI_IDS, Agent, StandIn, make_root  # noqa: E402

DEPLOY = os.path.join(REPO, "examples", "agent", "deploy")
CRD_DIR = os.path.join(DEPLOY, "crds")
FIXTURE_USB_ROOT = os.path.join(REPO, "tests", "fixtures", "vm", "q35-iommu")
KUBEVIRT_CRD_DIR = os.path.join(REPO, "tests", "agent", "fixtures", "kubevirt")
GROUP = "devices.harvesterhci.io"


# --- rendering ------------------------------------------------------------------------------------

def kubectls():
    """The kubectl builds to render with: the one on PATH (if any) and Debian's kubernetes-client
    1.20 (kustomize v2), unpacked by tests/agent/tools/fetch-kubectl.sh."""
    found = []
    on_path = shutil.which("kubectl")
    if on_path:
        found.append(on_path)
    fetch = os.environ.get("HOSTDEV_FETCH_KUBECTL", os.path.join(REPO, "tests", "agent", "tools",
                                                                 "fetch-kubectl.sh"))
    cache = os.environ.get("HOSTDEV_KUBECTL_CACHE", os.path.join(REPO, "build", "kubectl-cache"))
    debian = subprocess.run(["sh", fetch, cache], check=True, capture_output=True, text=True).stdout.strip()
    found.append(debian)
    return found


def kubectl_version(kubectl):
    out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout
    m = re.search(r"v(\d+\.\d+\.\d+)", out)
    return m.group(1) if m else out.strip()


@pytest.fixture(scope="module")
def rendered():
    """{kubectl: [objects]} of `kubectl kustomize examples/agent/deploy`."""
    out = {}
    for k in kubectls():
        r = subprocess.run([k, "kustomize", DEPLOY], capture_output=True, text=True)
        assert r.returncode == 0, f"{k} kustomize {DEPLOY} failed:\n{r.stderr}"
        out[k] = [d for d in yaml.safe_load_all(r.stdout) if d]
    return out


@pytest.fixture(scope="module")
def objects(rendered):
    return next(iter(rendered.values()))


def one(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"want one {kind}, found {len(found)}"
    return found[0]


def container(objects):
    ds = one(objects, "DaemonSet")
    containers = ds["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_kustomize_renders_every_object_the_same_with_each_kubectl(rendered):
    outputs = list(rendered.items())
    for k, objs in outputs[1:]:
        assert objs == outputs[0][1], f"{k} ({kubectl_version(k)}) renders differently from {outputs[0][0]}"
    objs = outputs[0][1]
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objs)
    crd_files = sorted(glob.glob(os.path.join(CRD_DIR, "*.yaml")))
    crd_names = sorted(yaml.safe_load(open(f))["metadata"]["name"] for f in crd_files
                       if not f.endswith("kustomization.yaml"))
    assert kinds == sorted([("Namespace", "hostdev-system"), ("ServiceAccount", "hostdev-agent"),
                            ("ClusterRole", "hostdev-agent"), ("ClusterRoleBinding", "hostdev-agent"),
                            ("DaemonSet", "hostdev-agent")]
                           + [("CustomResourceDefinition", n) for n in crd_names]), kinds
    # The top-level list names every CRD of crds/ (and the crds/ kustomization the same ones).
    crds_kustomization = yaml.safe_load(open(os.path.join(CRD_DIR, "kustomization.yaml")))
    assert sorted(os.path.join(CRD_DIR, r) for r in crds_kustomization["resources"]) == \
        [f for f in crd_files if not f.endswith("kustomization.yaml")]
    ns = one(objs, "Namespace")["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    for o in objs:
        namespaced = o["kind"] in ("ServiceAccount", "DaemonSet")
        assert ("namespace" in o["metadata"]) == namespaced, o["metadata"]
        if namespaced:
            assert o["metadata"]["namespace"] == ns["name"]


# --- Kubernetes' schema, as python3-kubernetes models it --------------------------------------------

def schema_errors(value, type_name, path, errors):
    """Walk @value as the OpenAPI type @type_name of python3-kubernetes' models: unknown fields and
    wrong types go to @errors."""
    import kubernetes.client as kc
    m = re.fullmatch(r"list\[(.*)\]", type_name)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: want a list, got {value!r}")
            return
        for i, v in enumerate(value):
            schema_errors(v, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\(str, (.*)\)", type_name)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: want a map, got {value!r}")
            return
        for k, v in value.items():
            schema_errors(v, m.group(1), f"{path}.{k}", errors)
        return
    simple = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if type_name in simple:
        if not isinstance(value, simple[type_name]) or (type_name == "int" and isinstance(value, bool)):
            errors.append(f"{path}: want {type_name}, got {value!r}")
        return
    if type_name in ("object", "datetime", "date"):
        return
    cls = getattr(kc, type_name)
    if not isinstance(value, dict):
        errors.append(f"{path}: want a {type_name} object, got {value!r}")
        return
    json_to_attr = {v: k for k, v in cls.attribute_map.items()}
    for key, v in value.items():
        attr = json_to_attr.get(key)
        if attr is None:
            errors.append(f"{path}.{key}: unknown field of {type_name}")
            continue
        schema_errors(v, cls.openapi_types[attr], f"{path}.{key}", errors)


MODELS = {"Namespace": "V1Namespace", "ServiceAccount": "V1ServiceAccount", "ClusterRole": "V1ClusterRole",
          "ClusterRoleBinding": "V1ClusterRoleBinding", "DaemonSet": "V1DaemonSet",
          "CustomResourceDefinition": "V1CustomResourceDefinition"}


def test_objects_match_the_kubernetes_schema(objects):
    import kubernetes.client as kc
    api_client = kc.ApiClient()
    for o in objects:
        model = MODELS[o["kind"]]
        errors = []
        schema_errors(o, model, o["kind"], errors)
        assert not errors, "\n".join(errors)
        # The models' own construction checks required fields (client-side validation).
        api_client._ApiClient__deserialize(o, model)
    # The schema check itself refuses what it must.
    bad = []
    schema_errors({"spec": {"template": {"spec": {"hostNetwrok": True}}}}, "V1DaemonSet", "DaemonSet", bad)
    schema_errors({"spec": {"selector": {"matchLabels": {"a": 1}}}}, "V1DaemonSet", "DaemonSet", bad)
    assert bad == ["DaemonSet.spec.template.spec.hostNetwrok: unknown field of V1PodSpec",
                   "DaemonSet.spec.selector.matchLabels.a: want str, got 1"], bad
    with pytest.raises(ValueError):
        api_client._ApiClient__deserialize({"rules": [{"verbs": None}]}, "V1ClusterRole")


def quantity(q):
    """A Kubernetes quantity as a number (cores or bytes)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?", str(q))
    assert m, f"bad quantity {q!r}"
    scale = {None: 1, "m": 1e-3, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "k": 1e3, "M": 1e6, "G": 1e9}
    return float(m.group(1)) * scale[m.group(2)]


def test_daemonset_follows_the_api_servers_rules_and_ours(objects):
    """What kube-apiserver's validation would refuse, and what docs/agent.md promises."""
    ds = one(objects, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = container(objects)
    labels = ds["spec"]["template"]["metadata"]["labels"]
    for k, v in ds["spec"]["selector"]["matchLabels"].items():
        assert labels.get(k) == v, "the selector must match the template's labels"
    dns1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
    assert dns1123.fullmatch(c["name"]) and len(c["name"]) <= 63
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert len(volumes) == len(pod["volumes"]), "volume names must be unique"
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    for m in c["volumeMounts"]:
        assert m["name"] in volumes, f"mount {m['mountPath']}: no volume {m['name']}"
    # hostPath volumes: directories only (a socket file mounted as such breaks when its owner
    # re-creates it), absolute paths, each mounted at the same path.
    host_paths = {}
    for v in volumes.values():
        hp = v["hostPath"]
        assert hp["path"].startswith("/") and hp["type"] in ("Directory", "DirectoryOrCreate"), v
        assert not hp["path"].endswith((".sock", "/control")), v
        host_paths[hp["path"]] = v["name"]
        assert any(m["name"] == v["name"] and m["mountPath"] == hp["path"] for m in c["volumeMounts"]), v
    assert set(host_paths) == {"/sys", "/dev", "/run/udev", "/var/lib/hostdev",
                               "/var/lib/kubelet/device-plugins", "/var/lib/kubelet/plugins_registry"}
    assert mounts["/run/udev"].get("readOnly") is True, "/run/udev is only read"
    # Claims bind and restore devices and set VF counts in sysfs (daemonset.yaml says why).
    for rw in ("/sys", "/dev"):
        assert not mounts[rw].get("readOnly"), f"{rw} is written by claims"
    # The uevent socket needs the host's network namespace (docs/usb.md).
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    for p in c.get("ports", []):
        assert p.get("hostPort", p["containerPort"]) == p["containerPort"], "hostNetwork: hostPort == containerPort"
    # NODE_NAME from the downward API, never the hostname.
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    # The probes reach the address the agent listens on.
    args = dict(a.split("=", 1) for a in c["args"] if "=" in a)
    host, port = args["--metrics-address"].rsplit(":", 1)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert (get["path"], str(get["port"])) == (path, port), c[probe]
        assert get.get("host", "") == host, "with hostNetwork the probe must go where the agent listens"
    ports = {str(p["containerPort"]) for p in c.get("ports", [])}
    assert port in ports
    # Privileged for the claims' sysfs writes (daemonset.yaml says why); the API server refuses
    # allowPrivilegeEscalation: false next to privileged: true.
    sc = c["securityContext"]
    assert sc["privileged"] is True and sc.get("allowPrivilegeEscalation") is not False
    assert sc["readOnlyRootFilesystem"] is True
    # Requests and limits, each a figure (measured: docs/performance.md).
    res = c["resources"]
    for what in ("cpu", "memory"):
        assert quantity(res["requests"][what]) <= quantity(res["limits"][what]), res
    # The service account exists, and the binding gives it the ClusterRole.
    sa = one(objects, "ServiceAccount")
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    crb = one(objects, "ClusterRoleBinding")
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": one(objects, "ClusterRole")["metadata"]["name"]}
    assert {"kind": "ServiceAccount", "name": sa["metadata"]["name"],
            "namespace": sa["metadata"]["namespace"]} in crb["subjects"]


# --- the DaemonSet's command line and the agent ------------------------------------------------------

def agent_flags():
    """Every long option `hostdev-agent --help` documents, with whether it takes a value."""
    out = subprocess.run([AGENT, "--help"], check=True, capture_output=True, text=True).stdout
    flags = {}
    for m in re.finditer(r"(--[a-z][a-z-]*)( [A-Z]+)?", out):
        flags.setdefault(m.group(1), bool(m.group(2)))
    assert {"--node-name", "--metrics-address", "--log-format", "--once"} <= set(flags), out
    return flags


def test_daemonset_uses_only_flags_the_agent_has(objects):
    c = container(objects)
    assert c["command"] == ["/usr/bin/hostdev-agent"]
    flags = agent_flags()
    for a in c["args"]:
        name, eq, value = a.partition("=")
        assert name in flags, f"the DaemonSet passes {a}, which hostdev-agent --help does not list"
        assert bool(eq) == flags[name], f"{a}: {name} {'takes' if flags[name] else 'takes no'} value"
    # The agent accepts them all (exit 2 is a bad flag): --help after them stops before running.
    r = subprocess.run([AGENT, *c["args"], "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def run_like_the_daemonset(objects, api, tmp_path, root, node, extra=()):
    """The agent with the DaemonSet's args and env, in-cluster credentials of its ServiceAccount,
    and only its ClusterRole's rules; differences: the device root (a fake one), the id database
    and port 0 instead of 9450 (other tests run on this machine)."""
    sa = one(objects, "ServiceAccount")["metadata"]
    role = one(objects, "ClusterRole")
    sa_dir = tmp_path / f"serviceaccount-{node}"
    env = dict(os.environ)
    env.update(api.service_account(str(sa_dir), f"token-{node}", namespace=sa["namespace"], name=sa["name"]))
    api.set_rbac(f"system:serviceaccount:{sa['namespace']}:{sa['name']}", role["rules"])
    c = container(objects)
    env["NODE_NAME"] = node
    args = [a if not a.startswith("--metrics-address=") else "--metrics-address=127.0.0.1:0" for a in c["args"]]
    return Agent(*args, "--serviceaccount-dir", str(sa_dir), "--root", root, "--pci-ids", PCI_IDS,
                 *extra, env=env, metrics=False)


def granted(rules):
    """{(group, resource[/sub], verb)} a ClusterRole grants, and the resourceNames limits."""
    out, names = set(), {}
    for r in rules:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for v in r["verbs"]:
                    assert "*" not in (g, res, v), f"wildcards grant more than the agent uses: {r}"
                    out.add((g, res, v))
                    if r.get("resourceNames"):
                        names[(g, res, v)] = set(r["resourceNames"])
    return out, names


def stale_and_foreign(api, node, kind, plural, name, status):
    """An object of @node the agent must delete (nothing on the node has its name), and one that
    has the name of a device of the node but not the node's label (the agent's create gets 409
    AlreadyExists, reads it and takes it over: get, update)."""
    meta = {"name": f"{node}-stale-{plural}", "labels": {"nodename": node}}
    api.create(api.devices_path(plural), {"apiVersion": f"{GROUP}/v1beta1", "kind": kind, "metadata": meta,
                                          **({"spec": status} if kind == "SRIOVNetworkDevice" else {})})
    api.create(api.devices_path(plural), {"apiVersion": f"{GROUP}/v1beta1", "kind": kind,
                                          "metadata": {"name": name},
                                          **({"spec": status} if kind == "SRIOVNetworkDevice" else {})})


def published(api, root, tmp_path, plurals):
    """One object of each of @plurals that the agent publishes for @root (run once, as node
    "probe", with the admin's credentials; the objects go with the Node)."""
    api.create_node("probe")
    a = Agent("--kubeconfig", api.kubeconfig(), "--node-name", "probe", "--root", root,
              "--pci-ids", PCI_IDS, "--once", metrics=False)
    assert a.wait_exit(300) == 0, a.log()
    out = []
    for plural in plurals:
        items = api.get(api.devices_path(plural), params={"labelSelector": "nodename=probe"})["items"]
        assert items, f"no {plural} for {root}"
        out.append(sorted(items, key=lambda o: o["metadata"]["name"])[0])
    api.delete_node("probe")
    for plural in plurals:
        for o in api.get(api.devices_path(plural), params={"labelSelector": "nodename=probe"})["items"]:
            api.wait_for(api.devices_path(plural, o["metadata"]["name"]), None, deleted=True)
    return out


def test_cluster_role_grants_exactly_what_the_agent_uses(objects, tmp_path):
    """Two nodes (a generated server tree with SR-IOV network PFs; the recorded QEMU tree with USB
    devices), each with a stale object per kind and a same-named object it must take over, then
    someone edits a label, then a claim for node1 comes and goes, and node1's stale entry in
    KubeVirt's CR is taken out: every verb on every resource the ClusterRole grants must have been
    used by the agent, and nothing it used may be missing from the role (the stand-in enforces
    the rules: a missing one is a 403 and the agent would not converge)."""
    role = one(objects, "ClusterRole")
    want, names = granted(role["rules"])
    server_root = make_root(tmp_path / "root", 200)  # 200: the first with SR-IOV network PFs
    with StandIn(tmp_path / "api", crds=[CRD_DIR]) as api:
        for node in ("node1", "node2"):
            api.create_node(node)
        pci, sriov = published(api, server_root, tmp_path, ("pcidevices", "sriovnetworkdevices"))
        usb, = published(api, FIXTURE_USB_ROOT, tmp_path, ("usbdevices",))
        pci_name = "node1-" + pci["metadata"]["name"].split("-", 1)[1]
        sriov_name = "node1-" + sriov["metadata"]["name"].split("-", 1)[1]
        usb_name = "node2-" + usb["metadata"]["name"].split("-", 1)[1]
        stale_and_foreign(api, "node1", "PCIDevice", "pcidevices", pci_name, None)
        stale_and_foreign(api, "node1", "SRIOVNetworkDevice", "sriovnetworkdevices", sriov_name,
                          {"address": sriov["spec"]["address"], "nodeName": "node1", "numVFs": 0})
        stale_and_foreign(api, "node2", "USBDevice", "usbdevices", usb_name, None)
        # KubeVirt's CR, whose annotation says node1 served a resource before a restart: the
        # agent takes node1's part out and the entry with it (get, update).
        api.apply_crds(KUBEVIRT_CRD_DIR)
        api.create_namespace("kubevirt")
        api.create("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts", {
            "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
            "metadata": {"name": "kubevirt", "namespace": "kubevirt", "annotations": {
                "hostdev.io/permitted-host-devices": json.dumps({"example.com/GONE": {"node1": ["abcd:1234"]}})}},
            "spec": {"configuration": {"permittedHostDevices": {"pciHostDevices": [
                {"pciVendorSelector": "abcd:1234", "resourceName": "example.com/GONE",
                 "externalResourceProvider": True}]}}}})
        mark = api.mark()
        # node2's kubelet directory: a short one of its own (a Unix socket path has at most 107
        # characters), not under the recorded machine of the repository.
        kubelet_dir = tempfile.mkdtemp(prefix="hd-kubelet-", dir="/tmp")
        os.makedirs(os.path.join(kubelet_dir, "device-plugins"))
        agents = [run_like_the_daemonset(objects, api, tmp_path, server_root, "node1"),
                  run_like_the_daemonset(objects, api, tmp_path, FIXTURE_USB_ROOT, "node2",
                                         extra=("--kubelet-dir", kubelet_dir))]
        try:
            for a in agents:
                a.ready(timeout=300)
            for plural, name in (("pcidevices", pci_name), ("sriovnetworkdevices", sriov_name),
                                 ("usbdevices", usb_name)):
                api.wait_for(api.devices_path(plural, f"{name.split('-')[0]}-stale-{plural}"), None,
                             deleted=True, timeout=120)
                obj = api.wait_for(api.devices_path(plural, name),
                                   lambda o: o["metadata"].get("labels", {}).get("nodename"), timeout=120)
            # Someone removes one of the agent's labels: the agent puts it back (get, update).
            edit = api.mark()
            obj = api.get(api.devices_path("usbdevices", usb_name))
            del obj["metadata"]["labels"]["nodename"]
            api.update(api.devices_path("usbdevices", usb_name), obj)
            api.wait_for(api.devices_path("usbdevices", usb_name),
                         lambda o: o["metadata"].get("labels", {}).get("nodename") == "node2", timeout=120)
            api.wait_requests(1, since=edit, verb="update", userAgent="hostdev-agent/", timeout=120)
            # A PCIDeviceClaim for node1 naming no device of it: the agent adds its finalizer
            # (get, update), says why in the status (patch status), and on deletion drops the
            # finalizer (get, update). Nothing is bound: no kernel model here.
            claim = api.devices_path("pcideviceclaims", "node1-claim-probe")
            api.create(api.devices_path("pcideviceclaims"), {
                "apiVersion": f"{GROUP}/v1beta1", "kind": "PCIDeviceClaim",
                "metadata": {"name": "node1-claim-probe"},
                "spec": {"address": "0000:fe:1f.7", "nodeName": "node1", "userName": "admin"}})
            got = api.wait_for(claim, lambda o: any(c.get("reason") == "DeviceNotFound" for c in
                                                    (o.get("status") or {}).get("conditions") or []),
                               timeout=120)
            assert "hostdev.io/vfio-restore" in got["metadata"]["finalizers"]
            api.delete(claim)
            api.wait_for(claim, None, deleted=True, timeout=120)
            # A USBDeviceClaim of node2's device: its record and finalizer (get, update), its
            # status (patch status), its usb entry in KubeVirt's CR; on deletion the finalizer
            # goes (get, update) and the entry with it.
            usb_claim = api.devices_path("usbdeviceclaims", usb_name)
            api.create(api.devices_path("usbdeviceclaims"), {
                "apiVersion": f"{GROUP}/v1beta1", "kind": "USBDeviceClaim",
                "metadata": {"name": usb_name}, "spec": {"userName": "admin"}})
            got = api.wait_for(usb_claim, lambda o: any(c.get("reason") == "Served" for c in
                                                        (o.get("status") or {}).get("conditions") or []),
                               timeout=120)
            assert "hostdev.io/usb-release" in got["metadata"]["finalizers"]
            api.wait_for("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt",
                         lambda o: o["spec"]["configuration"]["permittedHostDevices"].get("usb"), timeout=120)
            api.delete(usb_claim)
            api.wait_for(usb_claim, None, deleted=True, timeout=120)
            kv = api.wait_for("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt",
                              lambda o: not o["spec"]["configuration"]["permittedHostDevices"]["pciHostDevices"]
                              and not o["spec"]["configuration"]["permittedHostDevices"].get("usb"),
                              timeout=120)
            assert "hostdev.io/permitted-host-devices" not in (kv["metadata"].get("annotations") or {})
        finally:
            logs = []
            for a in agents:
                a.kill()
                logs.append(a.log())
            shutil.rmtree(kubelet_dir, ignore_errors=True)
        reqs = api.requests(since=mark, userAgent="hostdev-agent/")
        forbidden = [r for r in reqs if r["code"] == 403]
        assert not forbidden, forbidden
        used = {(r["group"], r["resource"] + ("/" + r["subresource"] if r["subresource"] else ""), r["verb"])
                for r in reqs}
        assert used <= want, f"used but not granted: {sorted(used - want)}"
        assert want <= used, f"granted but never used: {sorted(want - used)}\n" + "\n".join(logs)
        for key, allowed in names.items():
            got = {r["name"] for r in reqs
                   if (r["group"], r["resource"], r["verb"]) == key}
            assert got == allowed, f"{key}: names used {got}, granted {allowed}"


def test_agent_runs_as_the_daemonset_runs_it(objects, tmp_path):
    """The DaemonSet's args and env, in-cluster credentials, the role's rules: it publishes, and
    the probes' paths answer 200 once ready."""
    c = container(objects)
    root = make_root(tmp_path / "root", 30)
    with StandIn(tmp_path / "api", crds=[CRD_DIR]) as api:
        api.create_node("node1")
        a = run_like_the_daemonset(objects, api, tmp_path, root, "node1")
        try:
            a.ready(timeout=300)
            # The log format the DaemonSet asks for.
            assert all(json.loads(line)["level"] for line in a.log().splitlines())
            for probe in ("livenessProbe", "readinessProbe"):
                code, body = a.http(c[probe]["httpGet"]["path"])
                assert code == 200, (probe, code, body)
            assert api.get(api.devices_path("pcidevices"), params={"labelSelector": "nodename=node1"})["items"]
        finally:
            a.kill()
