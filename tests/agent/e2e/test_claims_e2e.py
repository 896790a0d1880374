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
import shutil
import subprocess
import uuid

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


def start_agent(agents, api, root, node=NODE, token="agent-token", extra_env=None):
    env = dict(os.environ)
    env["LD_PRELOAD"] = KMODEL
    env["HOSTDEV_KMODEL_ROOT"] = root
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
    env.update(extra_env or {})
    a = agents("--kubeconfig", agent_kubeconfig(api, token), "--node-name", node, "--root", root,
               "--pci-ids", PCI_IDS, env=env)
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
