# SPDX-License-Identifier: Apache-2.0
"""hostdev-agent and PCIDeviceClaims end to end: the agent binary on the vfio test host (tests/vfio
vfio-fake-host) with the kernel model (tests/kmodel, LD_PRELOAD) standing in for the kernel (this
machine cannot bind devices: its own disk and NIC are PCI devices), against the stand-in API server
(tests/agent/apiserver: a real kube-apiserver cannot run here). The agent runs with exactly its
ClusterRole. Every wait is for an event (an object state, a log line), bounded by a generous
deadline.

The fake host (tests/vfio/vfio_tree.h): NIC 0000:01:00.0 e1000e alone in group 2, VIRTIO
0000:00:03.0 virtio-pci alone in group 3, GPU 0000:02:00.0 nouveau + AUDIO 0000:02:00.1
snd_hda_intel in group 5 (with the root port 0000:00:1d.0), SMBUS 0000:00:1f.3 sharing group 4 with
LPC (lpc_ich) and SATA (ahci), MGMT 0000:04:00.0 igb carrying the default route (guarded), NOGROUP
0000:05:00.0 without an IOMMU group, SPARE 0000:06:00.0 driverless in group 8, RP1 0000:00:1c.0 a
root port (bridge)."""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

import pytest

from agent_harness import PCI_IDS, agent_kubeconfig

NODE = "node1"
GROUP = "devices.harvesterhci.io"
FINALIZER = "hostdev.io/vfio-restore"
GROUP_ANNOTATION = "hostdev.io/bind-iommu-group"
JOURNAL = "var/lib/hostdev/vfio-journal.json"
OWNER_PREFIX = "hostdev-agent/pcideviceclaim:"

NIC = "0000:01:00.0"
VIRTIO = "0000:00:03.0"
GPU = "0000:02:00.0"
AUDIO = "0000:02:00.1"
LPC = "0000:00:1f.0"
SATA = "0000:00:1f.2"
SMBUS = "0000:00:1f.3"
MGMT = "0000:04:00.0"
NOGROUP = "0000:05:00.0"
SPARE = "0000:06:00.0"
RP1 = "0000:00:1c.0"

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "deviceplugin"))
import fake_kubelet as fk  # noqa: E402  (tests/deviceplugin: a kubelet on Python grpcio)

PROTO_DIR = os.environ.get("HOSTDEV_DP_PROTO_DIR", os.path.join(REPO, "src", "proto"))
FAKE_HOST = os.environ.get("HOSTDEV_VFIO_FAKE_HOST", "")
KMODEL = os.environ.get("HOSTDEV_KMODEL", "")
WAIT = 120


@pytest.fixture
def host():
    """A fresh vfio test host; removed at the end."""
    if not (FAKE_HOST and KMODEL):
        pytest.fail("HOSTDEV_VFIO_FAKE_HOST and HOSTDEV_KMODEL must name vfio-fake-host and the kernel "
                    "model (ctest sets them)")
    roots = []

    def make(*flags):
        env = dict(os.environ)
        env.pop("HOSTDEV_KMODEL_ROOT", None)
        env.pop("LD_PRELOAD", None)
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
        out = subprocess.run([FAKE_HOST, *flags], env=env, check=True, capture_output=True, text=True)
        roots.append(out.stdout.strip())
        return roots[-1]
    yield make
    for r in roots:
        shutil.rmtree(r, ignore_errors=True)


def start_agent(agents, api, root, node=NODE, token="agent-token", extra_env=None, args=()):
    env = dict(os.environ)
    env["LD_PRELOAD"] = KMODEL
    env["HOSTDEV_KMODEL_ROOT"] = root
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
    env.update(extra_env or {})
    a = agents("--kubeconfig", agent_kubeconfig(api, token), "--node-name", node, "--root", root,
               "--pci-ids", PCI_IDS, *args, env=env)
    a.ready()
    return a


def driver(root, address):
    link = os.path.join(root, "sys/bus/pci/devices", address, "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def journal(root):
    path = os.path.join(root, JOURNAL)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return {r["address"]: r for r in json.load(f)["records"]}


def kmodel_writes(root, address):
    """The kernel model's log lines of stores that touched @address."""
    path = os.path.join(root, ".kmodel", "log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line for line in f if address in line]


def claim_path(name=None, sub=None):
    p = f"/apis/{GROUP}/v1beta1/pcideviceclaims"
    if name:
        p += "/" + name
    if sub:
        p += "/" + sub
    return p


def pci_name(address, node=NODE):
    return f"{node}-{address.replace(':', '').replace('.', '')}"


def create_claim(api, address, node=NODE, name=None, pooling=True, annotations=None):
    obj = {"apiVersion": f"{GROUP}/v1beta1", "kind": "PCIDeviceClaim",
           "metadata": {"name": name or pci_name(address, node)},
           "spec": {"address": address, "nodeName": node, "userName": "admin"}}
    if not pooling:
        obj["spec"]["disableResourcePooling"] = True
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return api.create(claim_path(), obj)


def condition(claim):
    for c in (claim.get("status") or {}).get("conditions") or []:
        if c["type"] == "Bound":
            return c
    return None


def wait_condition(api, name, reason, status=None, timeout=WAIT):
    """The claim once its Bound condition has @reason."""
    def ok(o):
        c = condition(o)
        return c is not None and c["reason"] == reason and (status is None or c["status"] == status)
    try:
        return api.wait_for(claim_path(name), ok, timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"claim {name}: no condition {reason} in {timeout} s; it is "
                             f"{json.dumps(api.get(claim_path(name)).get('status'))}")


def wait_enabled(api, name, timeout=WAIT):
    return api.wait_for(claim_path(name), lambda o: (o.get("status") or {}).get("passthroughEnabled") is True
                        and condition(o) and condition(o)["status"] == "True", timeout=timeout)


def delete_claim(api, name, timeout=WAIT):
    api.delete(claim_path(name))
    api.wait_for(claim_path(name), None, deleted=True, timeout=timeout)


def wait_pci_driver(api, address, want, timeout=WAIT):
    """The PCIDevice of @address once it shows kernelDriverInUse @want (None: no driver)."""
    return api.wait_for(api.devices_path("pcidevices", pci_name(address)),
                        lambda o: (o.get("status") or {}).get("kernelDriverInUse") == want, timeout=timeout)


def test_claim_binds_and_deletion_restores(api, agents, host):
    root = host()
    a = start_agent(agents, api, root)
    create_claim(api, NIC)
    claim = wait_enabled(api, pci_name(NIC))
    assert FINALIZER in claim["metadata"]["finalizers"]
    assert claim["status"]["kernelDriverToUnbind"] == "e1000e"
    cond = condition(claim)
    assert cond["reason"] == "Bound" and NIC in cond["message"] and "e1000e" in cond["message"]
    assert cond["lastTransitionTime"]
    assert driver(root, NIC) == "vfio-pci"
    rec = journal(root)[NIC]
    assert rec["owner"] == OWNER_PREFIX + claim["metadata"]["uid"]
    assert rec["driver"] == "e1000e"
    assert os.path.exists(os.path.join(root, "dev/vfio/2"))
    wait_pci_driver(api, NIC, "vfio-pci")
    # Nothing else moved.
    for other in (VIRTIO, GPU, AUDIO, MGMT, SMBUS):
        assert driver(root, other) != "vfio-pci", other

    mark = a.mark()
    delete_claim(api, pci_name(NIC))
    assert driver(root, NIC) == "e1000e"
    assert NIC not in journal(root)
    wait_pci_driver(api, NIC, "e1000e")
    a.wait_log(rf"PCIDeviceClaim {pci_name(NIC)} deleted: {NIC} restored", since=mark)
    assert a.stop() == 0


def test_refusals_say_why_and_bind_nothing(api, agents, host):
    """Each refusal is a Bound=False condition with the library's sentence and a next step, and no
    store reaches the device."""
    root = host()
    a = start_agent(agents, api, root)
    cases = {
        MGMT: ("HostCritical", ["default route", "claim another device"]),
        NOGROUP: ("NoIOMMU", ["IOMMU"]),
        SMBUS: ("IOMMUGroupShared", [f"{LPC} (lpc_ich)", f"{SATA} (ahci)", GROUP_ANNOTATION]),
        RP1: ("Bridge", ["bridge"]),
        "0000:0a:00.0": ("DeviceNotFound", ["0000:0a:00.0", f"nodename={NODE}"]),
    }
    for address in cases:
        create_claim(api, address)
    # A claim for another node: this agent leaves it alone (no finalizer, no status).
    create_claim(api, NIC, node="node2", name="node2-nic")
    for address, (reason, words) in cases.items():
        claim = wait_condition(api, pci_name(address), reason, "False")
        assert claim["status"]["passthroughEnabled"] is False
        msg = condition(claim)["message"]
        for w in words:
            assert w in msg, f"{address}: {w!r} not in {msg!r}"
        assert FINALIZER in claim["metadata"]["finalizers"]
    assert wait_condition(api, pci_name(MGMT), "HostCritical")["status"]["kernelDriverToUnbind"] == "igb"
    for address in (MGMT, NOGROUP, SMBUS, LPC, SATA, NIC):
        assert driver(root, address) != "vfio-pci"
        assert not [w for w in kmodel_writes(root, address) if "driver_override" in w or "unbind" in w], address
    assert journal(root) == {}
    other = api.get(claim_path("node2-nic"))
    assert "finalizers" not in other["metadata"] and "status" not in other or not other["status"]
    # Refused claims are deleted at once: nothing to give back.
    for address in cases:
        delete_claim(api, pci_name(address))
    assert journal(root) == {}
    assert a.stop() == 0


def test_iommu_group_claimed_together_or_refused(api, agents, host):
    root = host()
    start_agent(agents, api, root)
    create_claim(api, GPU)
    msg = condition(wait_condition(api, pci_name(GPU), "IOMMUGroupShared", "False"))["message"]
    assert f"{AUDIO} (snd_hda_intel)" in msg
    assert driver(root, GPU) == "nouveau" and driver(root, AUDIO) == "snd_hda_intel"
    # Every member claimed: the group is bound together, each claim enabled.
    create_claim(api, AUDIO)
    gpu = wait_enabled(api, pci_name(GPU))
    audio = wait_enabled(api, pci_name(AUDIO))
    assert driver(root, GPU) == "vfio-pci" and driver(root, AUDIO) == "vfio-pci"
    assert driver(root, "0000:00:1d.0") == "pcieport"  # the bridge of the group stays
    recs = journal(root)
    assert recs[GPU]["driver"] == "nouveau" and recs[AUDIO]["driver"] == "snd_hda_intel"
    for r in (recs[GPU], recs[AUDIO]):
        assert gpu["metadata"]["uid"] in r["owner"] and audio["metadata"]["uid"] in r["owner"]
    assert gpu["status"]["kernelDriverToUnbind"] == "nouveau"
    assert audio["status"]["kernelDriverToUnbind"] == "snd_hda_intel"
    # Deleting one claim gives the group back as the unit it was bound as; the other claim is
    # refused again, naming what is now unclaimed.
    delete_claim(api, pci_name(GPU))
    assert driver(root, GPU) == "nouveau" and driver(root, AUDIO) == "snd_hda_intel"
    msg = condition(wait_condition(api, pci_name(AUDIO), "IOMMUGroupShared", "False"))["message"]
    assert f"{GPU} (nouveau)" in msg
    delete_claim(api, pci_name(AUDIO))
    assert journal(root) == {}
    # A claim that asks for its group binds the whole group with it.
    create_claim(api, GPU, annotations={GROUP_ANNOTATION: "true"})
    wait_enabled(api, pci_name(GPU))
    assert driver(root, GPU) == "vfio-pci" and driver(root, AUDIO) == "vfio-pci"
    delete_claim(api, pci_name(GPU))
    assert driver(root, GPU) == "nouveau" and driver(root, AUDIO) == "snd_hda_intel"
    assert journal(root) == {}


def test_two_claims_for_one_device(api, agents, host):
    root = host()
    start_agent(agents, api, root)
    create_claim(api, NIC)
    first = wait_enabled(api, pci_name(NIC))
    create_claim(api, NIC, name="second-nic-claim")
    second = wait_condition(api, "second-nic-claim", "AlreadyClaimed", "False")
    assert pci_name(NIC) in condition(second)["message"]
    assert second["status"]["passthroughEnabled"] is False
    assert journal(root)[NIC]["owner"] == OWNER_PREFIX + first["metadata"]["uid"]
    # Deleting the second claim gives nothing back: the device is the first claim's.
    delete_claim(api, "second-nic-claim")
    assert driver(root, NIC) == "vfio-pci"
    assert api.get(claim_path(pci_name(NIC)))["status"]["passthroughEnabled"] is True
    delete_claim(api, pci_name(NIC))
    assert driver(root, NIC) == "e1000e" and journal(root) == {}


def test_claim_edited_after_it_was_enabled(api, agents, host):
    root = host()
    start_agent(agents, api, root)
    create_claim(api, NIC)
    wait_enabled(api, pci_name(NIC))
    api.patch(claim_path(pci_name(NIC)), {"spec": {"address": SPARE}})
    claim = wait_condition(api, pci_name(NIC), "SpecChanged", "True")
    msg = condition(claim)["message"]
    assert SPARE in msg and NIC in msg and "create a new claim" in msg
    assert driver(root, NIC) == "vfio-pci" and driver(root, SPARE) is None
    assert not kmodel_writes(root, SPARE)
    # Deleting it gives back what was bound, not what the spec names now.
    delete_claim(api, pci_name(NIC))
    assert driver(root, NIC) == "e1000e" and journal(root) == {}
    assert not kmodel_writes(root, SPARE)


def test_start_reconciles_claims_with_the_journal(api, agents, host):
    """At start: a claim whose device is bound is kept (no store), a record whose claim went away
    while the agent was down is restored, a claim made meanwhile is bound."""
    root = host()
    a = start_agent(agents, api, root)
    create_claim(api, NIC)
    create_claim(api, VIRTIO)
    wait_enabled(api, pci_name(NIC))
    wait_enabled(api, pci_name(VIRTIO))
    assert a.stop() == 0
    # While the agent is down: VIRTIO's claim goes (its finalizer removed by hand), SPARE's comes.
    api.patch(claim_path(pci_name(VIRTIO)), {"metadata": {"finalizers": None}})
    delete_claim(api, pci_name(VIRTIO))
    create_claim(api, SPARE)
    nic_writes = len(kmodel_writes(root, NIC))
    b = start_agent(agents, api, root, token="agent-token-2")
    wait_enabled(api, pci_name(SPARE))
    b.wait_log(rf"no PCIDeviceClaim any more: {VIRTIO} restored")
    assert driver(root, VIRTIO) == "virtio-pci"
    assert driver(root, SPARE) == "vfio-pci" and driver(root, NIC) == "vfio-pci"
    assert len(kmodel_writes(root, NIC)) == nic_writes, "the bound claim's device was touched again"
    assert set(journal(root)) == {NIC, SPARE}
    assert journal(root)[SPARE]["driver"] is None
    assert api.get(claim_path(pci_name(SPARE)))["status"]["kernelDriverToUnbind"] == ""
    delete_claim(api, pci_name(NIC))
    delete_claim(api, pci_name(SPARE))
    assert journal(root) == {} and driver(root, NIC) == "e1000e" and driver(root, SPARE) is None
    assert b.stop() == 0


def load_vfio_modules(root):
    """What `modprobe vfio-pci` leaves in sysfs and /dev (kmodel_vfio_loaded() of tests/kmodel): the
    administrator loads the modules while a claim waits for them."""
    for f in ("bind", "unbind", "new_id", "remove_id", "uevent"):
        path = os.path.join(root, "sys/bus/pci/drivers/vfio-pci", f)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()
    for m in ("vfio_pci", "vfio_iommu_type1"):
        os.makedirs(os.path.join(root, "sys/module", m), exist_ok=True)
        with open(os.path.join(root, "sys/module", m, "initstate"), "w") as f:
            f.write("live\n")
    os.makedirs(os.path.join(root, "dev/vfio"), exist_ok=True)
    open(os.path.join(root, "dev/vfio/vfio"), "w").close()


def test_vfio_modules_missing_is_retried(api, agents, host):
    """Without vfio modules the claim says so and is retried with backoff: once the modules are
    there, the retry binds it without any change to the claim."""
    root = host("--no-vfio")
    start_agent(agents, api, root)
    create_claim(api, NIC)
    claim = wait_condition(api, pci_name(NIC), "VFIOModulesMissing", "False")
    msg = condition(claim)["message"]
    assert "vfio" in msg and "retrying" in msg
    assert driver(root, NIC) == "e1000e" and journal(root) == {}
    generation = claim["metadata"]["generation"]
    load_vfio_modules(root)
    claim = wait_enabled(api, pci_name(NIC))
    assert claim["metadata"]["generation"] == generation
    assert driver(root, NIC) == "vfio-pci"
    delete_claim(api, pci_name(NIC))
    assert driver(root, NIC) == "e1000e"


@pytest.fixture(scope="module")
def protos(tmp_path_factory):
    fk.load_protos(PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


def registration(kubelet, resource, timeout=WAIT):
    """The kubelet's last Register request for @resource, waited for."""
    def find():
        with kubelet.cond:
            found = [r for _, r, _ in kubelet.registrations if r.resource_name == resource]
        return found[-1] if found else None
    return fk.wait_until(find, f"a registration of {resource}", timeout)


def registrations_of(kubelet, resource):
    with kubelet.cond:
        return sum(1 for _, r, _ in kubelet.registrations if r.resource_name == resource)


def watch_of(kubelet, resource, since=0):
    """The kubelet's ListAndWatch stream of @resource opened after its @since-th registration."""
    def find():
        with kubelet.cond:
            ws = [w for w in kubelet.watches if w.thread.name == f"watch-{resource}"]
        return ws[since] if len(ws) > since else None
    return fk.wait_until(find, f"a ListAndWatch of {resource}", WAIT)


def allocate(kubelet, reg, *ids):
    stub = fk.svc.DevicePluginStub(fk.channel_to(os.path.join(kubelet.plugin_dir, reg.endpoint)))
    req = fk.pb.AllocateRequest(container_requests=[fk.pb.ContainerAllocateRequest(devices_ids=list(ids))])
    return stub.Allocate(req, timeout=WAIT).container_responses[0]


def test_claimed_devices_are_served_to_the_kubelet(api, agents, host, protos):
    """claim -> bound -> resource registered -> Allocate gives KubeVirt's env and the device nodes;
    a second claim with disableResourcePooling gets a resource of its own; a kubelet restart is
    followed by a new registration; the last claim of a resource stops it (empty list, stream
    ended)."""
    root = host()
    kubelet = fk.FakeKubelet(os.path.join(root, "var/lib/kubelet")).start()
    try:
        start_agent(agents, api, root)
        assert not kubelet.registrations  # nothing claimed: nothing served
        nic_resource = wait_pci_driver(api, NIC, "e1000e")["status"]["resourceName"]
        create_claim(api, NIC)
        wait_enabled(api, pci_name(NIC))
        reg = registration(kubelet, nic_resource)
        assert reg.version == "v1beta1"
        watch = watch_of(kubelet, nic_resource)
        assert watch.wait(lambda w: w.last() and [d[:2] for d in w.last()] == [(NIC, "Healthy")])
        resp = allocate(kubelet, reg, NIC)
        env = "PCI_RESOURCE_" + nic_resource.replace("/", "_").replace(".", "_").upper()
        assert dict(resp.envs) == {env: NIC}
        nodes = {d.container_path: d for d in resp.devices}
        assert set(nodes) == {"/dev/vfio/vfio", "/dev/vfio/2"}
        for path, d in nodes.items():
            assert d.host_path == os.path.join(root, path[1:]) and d.permissions == "mrw"
            assert os.path.exists(d.host_path), d.host_path

        # disableResourcePooling: the device's own resource, <domain>/<PCIDevice name>.
        virtio_pooled = wait_pci_driver(api, VIRTIO, "virtio-pci")["status"]["resourceName"]
        own = virtio_pooled.split("/")[0] + "/" + pci_name(VIRTIO)
        create_claim(api, VIRTIO, pooling=False)
        wait_enabled(api, pci_name(VIRTIO))
        reg_own = registration(kubelet, own)
        # Its PCIDevice says so, as Harvester's does.
        api.wait_for(api.devices_path("pcidevices", pci_name(VIRTIO)),
                     lambda o: o["status"]["resourceName"] == own, timeout=WAIT)
        resp = allocate(kubelet, reg_own, VIRTIO)
        assert dict(resp.envs) == {"PCI_RESOURCE_" + own.replace("/", "_").replace(".", "_").upper(): VIRTIO}
        assert {d.container_path for d in resp.devices} == {"/dev/vfio/vfio", "/dev/vfio/3"}
        assert registrations_of(kubelet, virtio_pooled) == 0 or virtio_pooled == nic_resource

        # The kubelet restarts: both resources register again.
        before = registrations_of(kubelet, nic_resource)
        kubelet.restart()
        fk.wait_until(lambda: registrations_of(kubelet, nic_resource) > before, "re-registration", WAIT)
        fk.wait_until(lambda: registrations_of(kubelet, own) >= 2, "re-registration", WAIT)

        # The NIC's claim goes: its resource stops (an empty list, then the stream ends) and its
        # socket is removed; the other resource is untouched.
        watch = watch_of(kubelet, nic_resource, since=registrations_of(kubelet, nic_resource) - 1)
        delete_claim(api, pci_name(NIC))
        assert watch.wait(lambda w: w.ended is not None), "the stream did not end"
        assert watch.last() == []
        fk.wait_until(lambda: not os.path.exists(os.path.join(kubelet.plugin_dir, reg.endpoint)),
                      "the socket removed", WAIT)
        assert os.path.exists(os.path.join(kubelet.plugin_dir, reg_own.endpoint))
        delete_claim(api, pci_name(VIRTIO))
        fk.wait_until(lambda: not os.path.exists(os.path.join(kubelet.plugin_dir, reg_own.endpoint)),
                      "the socket removed", WAIT)
        api.wait_for(api.devices_path("pcidevices", pci_name(VIRTIO)),
                     lambda o: o["status"]["resourceName"] == virtio_pooled, timeout=WAIT)
    finally:
        kubelet.stop()


KUBEVIRT_CRD = os.path.join(REPO, "tests", "agent", "fixtures", "kubevirt")
KUBEVIRT = "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt"
KV_ANNOTATION = "hostdev.io/permitted-host-devices"
# An entry an administrator wrote: never touched by the agents.
BY_HAND = {"pciVendorSelector": "10de:1eb8", "resourceName": "nvidia.com/TU104GL_TESLA_T4",
           "externalResourceProvider": True}
# The vGPU card's virtual functions (tests/vfio/vfio_tree.h), VF 3 on: no mediated devices.
VFS = [f"0000:c1:{(4 + i) // 8:02x}.{(4 + i) % 8}" for i in range(3, 16)]


def make_kubevirt(api):
    """KubeVirt's CRD (a fixture typed from KubeVirt's API) and the CR kubevirt/kubevirt with one
    hand-written entry."""
    api.apply_crds(KUBEVIRT_CRD)
    api.create_namespace("kubevirt")
    api.create("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts", {
        "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
        "spec": {"configuration": {"permittedHostDevices": {"pciHostDevices": [BY_HAND]}}}})


def permitted(kv):
    return ((kv.get("spec") or {}).get("configuration") or {}).get("permittedHostDevices", {}).get("pciHostDevices") or []


def expected_entries(api, claims):
    """[(selector, resource)] the claims must give: the claimed devices' ids and resource names, from
    their PCIDevices, per-device names for disableResourcePooling (Harvester's rule)."""
    out = set()
    for node, address, pooled in claims:
        st = api.get(api.devices_path("pcidevices", pci_name(address, node)))["status"]
        resource = st["resourceName"] if pooled else st["resourceName"].split("/")[0] + "/" + pci_name(address, node)
        out.add((f"{st['vendorId']}:{st['deviceId']}", resource))
    return out


def wait_kubevirt(api, want, timeout=WAIT):
    """The KubeVirt CR once its entries are exactly the hand-written one and @want, each once."""
    def ok(kv):
        entries = permitted(kv)
        ours = [(e["pciVendorSelector"], e["resourceName"]) for e in entries if e != BY_HAND]
        return (entries.count(BY_HAND) == 1 and len(ours) == len(set(ours)) and set(ours) == want
                and all(e.get("externalResourceProvider") is True for e in entries))
    try:
        return api.wait_for(KUBEVIRT, ok, timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"KubeVirt entries {permitted(api.get(KUBEVIRT))}, want {sorted(want)} + {BY_HAND}")


def test_kubevirt_permitted_host_devices_follow_the_claims(api, agents, host):
    root = host()
    make_kubevirt(api)
    start_agent(agents, api, root)
    create_claim(api, NIC)
    create_claim(api, VIRTIO, pooling=False)
    wait_enabled(api, pci_name(NIC))
    wait_enabled(api, pci_name(VIRTIO))
    want = expected_entries(api, [(NODE, NIC, True), (NODE, VIRTIO, False)])
    kv = wait_kubevirt(api, want)
    assert json.loads(kv["metadata"]["annotations"][KV_ANNOTATION]) == {
        r: {NODE: [s]} for s, r in want}
    delete_claim(api, pci_name(NIC))
    wait_kubevirt(api, want - expected_entries(api, [(NODE, NIC, True)]))
    delete_claim(api, pci_name(VIRTIO))
    kv = wait_kubevirt(api, set())
    assert KV_ANNOTATION not in (kv["metadata"].get("annotations") or {})


def test_three_agents_twenty_claims_with_conflicts(api, agents, host):
    """3 agents on 3 fake nodes, 20 claims created at once, the stand-in answering updates of the
    KubeVirt CR with 409 Conflict now and then: the CR ends with exactly the right entries (no
    duplicate, none of another node lost), and an entry goes only when no node serves its resource."""
    import threading
    make_kubevirt(api)
    nodes = ["node1", "node2", "node3"]
    for n in nodes[1:]:
        api.create_node(n)
    roots = {n: host("--vgpu") for n in nodes}
    for i, n in enumerate(nodes):
        start_agent(agents, api, roots[n], node=n, token=f"agent-token-{i}")
    claims = ([("node1", vf, True) for vf in VFS[:7]] +
              [("node2", vf, True) for vf in VFS[:6]] + [("node2", VFS[6], False)] +
              [("node3", a, True) for a in (NIC, VIRTIO, SPARE)] + [("node3", vf, True) for vf in VFS[:3]])
    assert len(claims) == 20
    mark = api.mark()
    api.inject(code=409, count=8, verb="update", resource="kubevirts",
               message="the object has been modified; please apply your changes to the latest version and try again")
    errors = []

    def create(c):
        try:
            create_claim(api, c[1], node=c[0], pooling=c[2])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=create, args=(c,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for node, address, _ in claims:
        wait_enabled(api, pci_name(address, node))
        assert driver(roots[node], address) == "vfio-pci"
    want = expected_entries(api, claims)
    assert len(want) == 5  # the VFs' pooled resource, node2's own VF, NIC, virtio, spare
    kv = wait_kubevirt(api, want)
    conflicts = [r for r in api.requests(since=mark, resource="kubevirts") if r["code"] == 409]
    assert len(conflicts) >= 8, "the stand-in's conflicts were not met"
    ann = json.loads(kv["metadata"]["annotations"][KV_ANNOTATION])
    vf_resource = api.get(api.devices_path("pcidevices", pci_name(VFS[0], "node1")))["status"]["resourceName"]
    assert set(ann[vf_resource]) == set(nodes)

    # node1's claims go: the VFs' resource is still served by node2 and node3.
    for node, address, _ in [c for c in claims if c[0] == "node1"]:
        delete_claim(api, pci_name(address, node))
    wait_kubevirt(api, want)
    kv = api.wait_for(KUBEVIRT, lambda o: set(json.loads(o["metadata"]["annotations"][KV_ANNOTATION])[vf_resource])
                      == {"node2", "node3"})
    # node3's go: NIC, virtio and spare entries go, the VFs' stays for node2.
    for node, address, _ in [c for c in claims if c[0] == "node3"]:
        delete_claim(api, pci_name(address, node))
    rest = [c for c in claims if c[0] == "node2"]
    wait_kubevirt(api, expected_entries(api, rest))
    for node, address, _ in rest:
        delete_claim(api, pci_name(address, node))
    kv = wait_kubevirt(api, set())
    assert KV_ANNOTATION not in (kv["metadata"].get("annotations") or {})


ORIGINAL = {NIC: "e1000e", VIRTIO: "virtio-pci", SPARE: None, GPU: "nouveau", AUDIO: "snd_hda_intel"}


def wait_either(agent, done, what, timeout=WAIT):
    """Until the agent process has ended or done() holds (whichever first); returns True when the
    agent ended. Both are states without a notification that reaches the test, so they are
    looked at in turn, with a generous deadline."""
    deadline = time.monotonic() + timeout
    while True:
        if agent.proc.poll() is not None:
            return True
        if done():
            return False
        if time.monotonic() > deadline:
            raise AssertionError(f"neither the agent's end nor {what} within {timeout} s:\n" + agent.log())
        time.sleep(0.05)


def claim_state(api, name):
    try:
        return api.get(claim_path(name))
    except Exception:  # noqa: BLE001 - StandInError 404: gone
        return None


def test_sigkill_rounds_converge(api, agents, host):
    """20 rounds: an agent that the kernel model kills at its Nth store (N random: inside a bind, a
    restore or a journal write) or that the test kills once the claim or unclaim went through; a
    claim created or deleted each round. The next agent carries on from whatever was left; at the
    end every device is where the claims say, the journal holds exactly the claimed devices, and no
    claim is stuck."""
    seed = int(os.environ.get("HOSTDEV_TEST_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"seed {seed} (HOSTDEV_TEST_SEED to repeat)")
    root = host()
    pool = {NIC: None, VIRTIO: None, SPARE: None, GPU: {GROUP_ANNOTATION: "true"}}
    claimed = set()
    kills = 0
    for rnd in range(20):
        kill_at = rng.randint(1, 14)
        a = agents("--kubeconfig", agent_kubeconfig(api, f"agent-token-{rnd}"), "--node-name", NODE,
                   "--root", root, "--pci-ids", PCI_IDS,
                   env=dict(os.environ, LD_PRELOAD=KMODEL, HOSTDEV_KMODEL_ROOT=root,
                            HOSTDEV_KMODEL_KILL_AT=str(kill_at),
                            ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")))
        # A claim whose deletion is still waiting for its finalizer cannot be created again.
        free = [x for x in sorted(pool) if x in claimed or claim_state(api, pci_name(x)) is None]
        address = rng.choice(free) if free else None
        name = pci_name(address) if address else None
        if not address:
            # Every unclaimed device's claim is still being deleted: this round's agent only
            # carries on with those deletions.
            done = lambda: all(claim_state(api, pci_name(x)) is None for x in pool)  # noqa: E731
        elif address in claimed:
            api.delete(claim_path(name))
            claimed.discard(address)
            done = lambda: claim_state(api, name) is None  # noqa: E731
        else:
            create_claim(api, address, annotations=pool[address])
            claimed.add(address)
            done = lambda: (lambda o: o is not None and (o.get("status") or {}).get("passthroughEnabled"))(  # noqa: E731
                claim_state(api, name))
        if not wait_either(a, done, f"round {rnd}: {name}"):
            a.kill()
        else:
            kills += 1
        assert a.proc.wait() == -9, f"round {rnd}: the agent ended otherwise:\n" + a.log()
    # A last agent, left alone: everything converges.
    final = start_agent(agents, api, root, token="agent-token-final")
    for address in pool:
        name = pci_name(address)
        if address in claimed:
            wait_enabled(api, name)
        else:
            api.wait_for(claim_path(name), None, deleted=True, timeout=WAIT)
    bound = set(claimed) | ({AUDIO} if GPU in claimed else set())
    for address, drv in ORIGINAL.items():
        assert driver(root, address) == ("vfio-pci" if address in bound else drv), (address, final.log())
    recs = journal(root)
    assert set(recs) == bound, (recs, claimed)
    for address in claimed:
        uid = api.get(claim_path(pci_name(address)))["metadata"]["uid"]
        assert uid in recs[address]["owner"]
    assert kills > 0, "the kernel model killed no agent: the rounds tested nothing of a crash"
    print(f"{kills} of 20 agents killed inside a store")


HOSTDEV_CLI = os.environ.get("HOSTDEV_CLI", os.path.join(REPO, "build", "examples", "cli", "hostdev"))


def under_kmodel(root, *argv):
    """A program run with the kernel model on @root (its stores reach the fake sysfs as the
    kernel's would)."""
    env = dict(os.environ, LD_PRELOAD=KMODEL, HOSTDEV_KMODEL_ROOT=root,
               ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=0")
    return subprocess.run(list(argv), env=env, check=True, capture_output=True, text=True)


def reboot(root, address, host_driver):
    """What a reboot does to a device bound through driver_override: it comes up on its host
    driver, no override; the journal on the state directory (a hostPath) survives."""
    sysfs = os.path.join(root, "sys/bus/pci")
    under_kmodel(root, "sh", "-c",
                 f"printf '\\n' > {sysfs}/devices/{address}/driver_override && "
                 f"printf {address} > {sysfs}/drivers/vfio-pci/unbind && "
                 f"printf {address} > {sysfs}/drivers/{host_driver}/bind")


def test_after_a_reboot_claims_are_bound_before_they_are_served(api, agents, host, protos):
    """The node reboots: its claimed device is back on its host driver. The agent binds it again
    (the journal's record is reused: the original driver stays known) before it registers the
    resource, so the kubelet never lists a device that is not on vfio-pci. A device bound at boot
    by `hostdev apply` (the persistent list) is served as it is and left on vfio-pci when its claim
    goes."""
    root = host()
    a = start_agent(agents, api, root)
    create_claim(api, NIC)
    wait_enabled(api, pci_name(NIC))
    assert a.stop() == 0
    reboot(root, NIC, "e1000e")
    assert driver(root, NIC) == "e1000e" and NIC in journal(root)
    # hostdev-apply.service at boot: VIRTIO is on the persistent list.
    under_kmodel(root, HOSTDEV_CLI, "--root", root, "persist", "add", VIRTIO)
    under_kmodel(root, HOSTDEV_CLI, "--root", root, "apply")
    assert driver(root, VIRTIO) == "vfio-pci"
    kubelet = fk.FakeKubelet(os.path.join(root, "var/lib/kubelet")).start()
    try:
        b = start_agent(agents, api, root, token="agent-token-2")
        nic_resource = wait_pci_driver(api, NIC, "vfio-pci")["status"]["resourceName"]
        registration(kubelet, nic_resource)
        watch = watch_of(kubelet, nic_resource)
        assert watch.wait(lambda w: w.lists)
        assert [d[:2] for d in watch.lists[0][1]] == [(NIC, "Healthy")], watch.lists
        rebind = b.wait_log(rf"PCIDeviceClaim {pci_name(NIC)}: {NIC} left vfio-pci")
        serve = b.wait_log(rf"resource {re.escape(nic_resource)}: serving")
        lines = b.log().splitlines()
        assert lines.index(rebind.string) < lines.index(serve.string)
        assert journal(root)[NIC]["driver"] == "e1000e"
        assert api.get(claim_path(pci_name(NIC)))["status"]["kernelDriverToUnbind"] == "e1000e"

        create_claim(api, VIRTIO)
        claim = wait_condition(api, pci_name(VIRTIO), "BoundByHost", "True")
        assert claim["status"]["passthroughEnabled"] is True
        virtio_resource = wait_pci_driver(api, VIRTIO, "vfio-pci")["status"]["resourceName"]
        reg = registration(kubelet, virtio_resource)
        assert dict(allocate(kubelet, reg, VIRTIO).envs) == {
            "PCI_RESOURCE_" + virtio_resource.replace("/", "_").replace(".", "_").upper(): VIRTIO}
        delete_claim(api, pci_name(VIRTIO))
        assert driver(root, VIRTIO) == "vfio-pci" and VIRTIO in journal(root)
        delete_claim(api, pci_name(NIC))
        assert driver(root, NIC) == "e1000e" and NIC not in journal(root)
    finally:
        kubelet.stop()


def test_harvester_crds_no_status_rewrite_loop(agents, host, tmp_path):
    """With Harvester's own CRDs, which have no status.conditions (the server prunes them), a claim's
    status is written once: the agent compares only what the server keeps."""
    from agent_harness import HARVESTER_CRDS, StandIn
    root = host()
    with StandIn(tmp_path / "api", crds=[HARVESTER_CRDS]) as api:
        api.create_node(NODE)
        start_agent(agents, api, root)
        mark = api.mark()
        create_claim(api, NIC)
        claim = api.wait_for(claim_path(pci_name(NIC)),
                             lambda o: (o.get("status") or {}).get("passthroughEnabled") is True, timeout=WAIT)
        assert "conditions" not in claim["status"]
        assert claim["status"]["kernelDriverToUnbind"] == "e1000e"
        # More passes: a label on the claim, another claim bound.
        claim["metadata"].setdefault("labels", {})["team"] = "a"
        api.update(claim_path(pci_name(NIC)), claim)
        create_claim(api, VIRTIO)
        api.wait_for(claim_path(pci_name(VIRTIO)),
                     lambda o: (o.get("status") or {}).get("passthroughEnabled") is True, timeout=WAIT)
        patches = [r for r in api.requests(since=mark, userAgent="hostdev-agent/")
                   if r["resource"] == "pcideviceclaims" and r["subresource"] == "status"
                   and r["name"] == pci_name(NIC)]
        assert len(patches) == 1, patches
        delete_claim(api, pci_name(NIC))
        delete_claim(api, pci_name(VIRTIO))
        assert driver(root, NIC) == "e1000e" and driver(root, VIRTIO) == "virtio-pci"


def wait_file(path, present=True, timeout=WAIT):
    """Until @path exists (or, @present false, is gone)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(path) != present:
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} {'never appeared' if present else 'stayed'} in {timeout} s")
        time.sleep(0.05)


def test_a_hung_bind_does_not_stall_the_agent(api, agents, host):
    """A claim's bind whose driver hangs (the kernel model holds the driver_override store until the
    test lets it go; --bind-timeout is long enough that the library's watchdog does not give up
    first) runs on the agent's worker thread: meanwhile the loop goes on, a PCIDevice deleted by hand
    comes back through the watch and the reconciler, /healthz and /metrics answer, and a claim made
    meanwhile is taken up once the bind ended. Nothing binds early, nothing is lost."""
    root = host()
    held = os.path.join(root, ".kmodel", "held")
    a = start_agent(agents, api, root, extra_env={"HOSTDEV_KMODEL_HOLD": f"override:{NIC}"},
                    args=("--bind-timeout", "600"))
    create_claim(api, NIC)
    wait_file(held)
    # The bind is in flight (held in the model's store): the loop answers.
    virtio_path = api.devices_path("pcidevices", pci_name(VIRTIO))
    old_uid = api.get(virtio_path)["metadata"]["uid"]
    api.delete(virtio_path)
    api.wait_for(virtio_path, lambda o: o["metadata"]["uid"] != old_uid
                 and (o.get("status") or {}).get("address") == VIRTIO)
    assert a.http("/healthz") == (200, "ok\n")
    assert a.metrics()
    create_claim(api, VIRTIO)
    # Still held: nothing was bound meanwhile and the claim is not said to be enabled.
    assert os.path.exists(held)
    assert driver(root, NIC) == "e1000e" and driver(root, VIRTIO) == "virtio-pci"
    assert (api.get(claim_path(pci_name(NIC))).get("status") or {}).get("passthroughEnabled") is not True

    open(os.path.join(root, ".kmodel", "release"), "w").close()
    wait_file(held, present=False)
    nic = wait_enabled(api, pci_name(NIC))
    assert nic["status"]["kernelDriverToUnbind"] == "e1000e"
    wait_enabled(api, pci_name(VIRTIO))
    assert driver(root, NIC) == "vfio-pci" and driver(root, VIRTIO) == "vfio-pci"
    assert set(journal(root)) == {NIC, VIRTIO}
    delete_claim(api, pci_name(NIC))
    delete_claim(api, pci_name(VIRTIO))
    assert driver(root, NIC) == "e1000e" and driver(root, VIRTIO) == "virtio-pci"
    assert journal(root) == {}
    assert a.stop() == 0


def test_api_server_unreachable_mid_claim_converges(api, agents, host):
    """The API server goes away while a claim's bind runs (held in the kernel model's store), and
    again while the deletion's restore runs: the device work finishes without the server, and once
    it is back the claim's status catches up (enabled, the original driver named) and the
    finalizer goes. Nothing is bound twice, nothing is lost."""
    root = host()
    held = os.path.join(root, ".kmodel", "held")
    release = os.path.join(root, ".kmodel", "release")
    name = pci_name(NIC)
    a = start_agent(agents, api, root, extra_env={"HOSTDEV_KMODEL_HOLD": f"override:{NIC}"},
                    args=("--bind-timeout", "600"))
    create_claim(api, NIC)
    wait_file(held)
    mark = a.mark()
    api.down()
    open(release, "w").close()
    a.wait_log(rf"PCIDeviceClaim {name}: bound {NIC} to vfio-pci", since=mark)
    assert driver(root, NIC) == "vfio-pci"
    assert api.requests(since=0, resource="pcideviceclaims", name=name, subresource="status") == []
    api.up()
    claim = wait_enabled(api, name)
    assert claim["status"]["kernelDriverToUnbind"] == "e1000e"
    assert journal(root)[NIC]["owner"] == OWNER_PREFIX + claim["metadata"]["uid"]
    assert a.log().count(f"bound {NIC} to vfio-pci") == 1

    # The restore, held again, and the server gone meanwhile.
    os.unlink(release)
    api.delete(claim_path(name))
    wait_file(held)
    mark = a.mark()
    api.down()
    open(release, "w").close()
    a.wait_log(rf"PCIDeviceClaim {name} deleted: {NIC} restored", since=mark)
    assert driver(root, NIC) == "e1000e" and NIC not in journal(root)
    api.up()
    api.wait_for(claim_path(name), None, deleted=True, timeout=WAIT)
    wait_pci_driver(api, NIC, "e1000e")
    assert driver(root, NIC) == "e1000e" and journal(root) == {}
    assert a.stop() == 0
