# SPDX-License-Identifier: Apache-2.0
"""hostdev-agent --dra as the kubelet's DRA driver: NodePrepareResources and NodeUnprepareResources
end to end. The kubelet is the grpcio stand-in of tests/dra (dra_kubelet.py: the plugin watcher's
registration and the DRA manager's calls; no kubelet can run here), the ResourceClaims live on the
stand-in API server (tests/agent/apiserver, which validates them as the real one does), and the
devices are the vfio test host's (tests/vfio vfio-fake-host) under the kernel model (tests/kmodel,
LD_PRELOAD), which stands in for the kernel: this machine cannot bind devices. The agent uses
exactly the DRA ClusterRole. Every wait is for an event, bounded by a generous deadline.

Devices (tests/vfio/vfio_tree.h): NIC 0000:01:00.0 e1000e alone in IOMMU group 2; MGMT
0000:04:00.0 igb carries the default route (host-critical); SMBUS 0000:00:1f.3 shares group 4
with LPC (the chipset's ISA bridge, lpc_ich) and SATA on host drivers; GPU 0000:02:00.0 nouveau
and its AUDIO function 0000:02:00.1 snd_hda_intel share group 5 with their root port 0000:00:1d.0
(pcieport)."""
import json
import os
import re
import sys

import pytest

jsonschema = pytest.importorskip("jsonschema")

from agent_harness import PCI_IDS, REPO
from test_claims_e2e import driver, host, journal, kmodel_writes  # noqa: F401  (host is a fixture)
from test_dra_e2e import DRIVER, NODE, dra_kubeconfig, dra_name, wait_pool

sys.path.insert(0, os.path.join(REPO, "tests", "dra"))
import dra_kubelet as dk  # noqa: E402

NIC = "0000:01:00.0"
MGMT = "0000:04:00.0"
SMBUS = "0000:00:1f.3"
SATA = "0000:00:1f.2"
LPC = "0000:00:1f.0"
RP1 = "0000:00:1c.0"
RP2 = "0000:00:1d.0"
GPU = "0000:02:00.0"
AUDIO = "0000:02:00.1"
NVME = "0000:03:00.0"
NOGROUP = "0000:05:00.0"
VIRTIO = "0000:00:03.0"
SPARE = "0000:06:00.0"
NS = "vms"
KMODEL = os.environ.get("HOSTDEV_KMODEL", "")
DRA_PROTO_DIR = os.environ.get("HOSTDEV_DRA_PROTO_DIR", os.path.join(REPO, "src", "dra", "proto"))
REG_PROTO_DIR = os.environ.get("HOSTDEV_PLUGINREG_PROTO_DIR", os.path.join(REPO, "src", "pluginreg", "proto"))


with open(os.path.join(REPO, "tests", "dra", "cdi-schema.json"), encoding="utf-8") as _f:
    _cdi_schema = json.load(_f)
with open(os.path.join(REPO, "tests", "dra", "device-metadata-schema.json"), encoding="utf-8") as _f:
    SCHEMAS = (_cdi_schema, json.load(_f))


@pytest.fixture(scope="module", autouse=True)
def protos(tmp_path_factory):
    dk.load_protos(DRA_PROTO_DIR, REG_PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


def make_claim(api, name, results, pod_claim_name=None):
    """A ResourceClaim with one request "dev" per result, allocated as the scheduler does (status
    written through the status subresource). With @pod_claim_name, as the ResourceClaim controller
    makes it from a ResourceClaimTemplate for a pod that names it so (its annotation). Returns
    (namespace, name, uid)."""
    annotations = {"resource.kubernetes.io/pod-claim-name": pod_claim_name} if pod_claim_name else None
    obj = api.create_allocated_claim(NS, name, results, "vfio-pci", annotations)
    return (NS, name, obj["metadata"]["uid"])


def result(address, request="dev", driver_name=DRIVER, pool=NODE):
    return {"request": request, "driver": driver_name, "pool": pool, "device": dra_name(address)}


def start(agents, api, root, *extra):
    env = dict(os.environ)
    env["LD_PRELOAD"] = KMODEL
    env["HOSTDEV_KMODEL_ROOT"] = root
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
    api.create_namespace(NS)
    # The kubelet's directories, as the kubelet creates them.
    for d in ("plugins", "plugins_registry"):
        os.makedirs(os.path.join(root, "var/lib/kubelet", d), exist_ok=True)
    a = agents("--kubeconfig", dra_kubeconfig(api), "--node-name", NODE, "--root", root,
               "--pci-ids", PCI_IDS, "--dra-only", *extra, env=env)
    a.wait_log("DRA: serving driver")
    kubelet = dk.Kubelet(os.path.join(root, "var/lib/kubelet/plugins_registry"))
    kubelet.register(DRIVER)
    a.wait_log("DRA: the kubelet registered driver")
    return a, kubelet


def cdi_file(root, uid):
    return os.path.join(root, "var/run/cdi", f"{DRIVER}_{uid}.json")


def metadata_file(root, name, request="dev"):
    return os.path.join(root, "var/lib/kubelet/plugins", DRIVER, "dra-device-metadata", f"{NS}_{name}",
                        request, "metadata.json")


def test_dra_prepare_binds_and_unprepare_restores(api, agents, host):
    root = host()
    a, kubelet = start(agents, api, root)
    claim = make_claim(api, "nic", [result(NIC)])
    uid = claim[2]
    answer = kubelet.prepare([claim])
    devices, error = answer[uid]
    assert error == ""
    assert len(devices) == 1
    requests, pool, device, cdi_ids = devices[0]
    assert (requests, pool, device) == (["dev"], NODE, dra_name(NIC))
    assert f"{DRIVER}/pci={uid}-{dra_name(NIC)}" in cdi_ids
    assert f"{DRIVER}/metadata={uid}_dev" in cdi_ids
    # The device is on vfio-pci through the journal, with the claim's uid as owner.
    assert driver(root, NIC) == "vfio-pci"
    assert journal(root)[NIC]["owner"] == f"hostdev-agent dra {uid}"
    with open(cdi_file(root, uid), encoding="utf-8") as f:
        spec = json.load(f)
    nodes = [n["path"] for d in spec["devices"] for n in d["containerEdits"]["deviceNodes"]]
    assert "/dev/vfio/2" in nodes and "/dev/vfio/vfio" in nodes
    with open(metadata_file(root, "nic"), encoding="utf-8") as f:
        assert NIC in f.read()
    # Prepare again (the kubelet repeats it): the same answer, nothing bound again.
    assert kubelet.prepare([claim]) == answer
    assert journal(root)[NIC]["owner"] == f"hostdev-agent dra {uid}"

    errors = kubelet.unprepare([claim])
    assert errors == {uid: ""}
    assert driver(root, NIC) == "e1000e"
    assert NIC not in journal(root)
    assert not os.path.exists(cdi_file(root, uid))
    assert not os.path.exists(metadata_file(root, "nic"))
    # Unknown claims (and this one, unprepared before) succeed: the kubelet retries until they do.
    assert kubelet.unprepare([claim, (NS, "never", "4a1a7b0e-0000-4000-8000-000000000001")]) == {
        uid: "", "4a1a7b0e-0000-4000-8000-000000000001": ""}
    kubelet.close()
    assert a.stop() == 0


def test_dra_prepare_refusals_reach_the_kubelet(api, agents, host):
    root = host()
    a, kubelet = start(agents, api, root)
    other = make_claim(api, "other", [result(NIC, driver_name="gpu.example.com")])
    critical = make_claim(api, "mgmt", [result(MGMT)])
    shared = make_claim(api, "smbus", [result(SMBUS)])
    gone = (NS, "gone", "4a1a7b0e-0000-4000-8000-000000000002")
    answer = kubelet.prepare([other, critical, shared, gone])
    assert answer[other[2]][0] == [] and f"no device allocated by driver {DRIVER}" in answer[other[2]][1]
    assert answer[critical[2]][0] == [] and MGMT in answer[critical[2]][1]
    assert answer[shared[2]][0] == [] and SMBUS in answer[shared[2]][1]
    assert answer[gone[2]][0] == [] and "ResourceClaim vms/gone" in answer[gone[2]][1]
    # Nothing was bound, no file written.
    assert driver(root, NIC) == "e1000e" and driver(root, MGMT) == "igb"
    assert driver(root, SMBUS) != "vfio-pci"
    assert journal(root) == {}
    assert not os.listdir(os.path.join(root, "var/run/cdi"))
    # A claim whose uid is not the one the kubelet names (deleted and created again).
    nic = make_claim(api, "nic", [result(NIC)])
    stale = (NS, "nic", "4a1a7b0e-0000-4000-8000-000000000003")
    assert "not 4a1a7b0e-0000-4000-8000-000000000003" in kubelet.prepare([stale])[stale[2]][1]
    assert driver(root, NIC) == "e1000e"
    assert kubelet.prepare([nic])[nic[2]][1] == ""
    assert driver(root, NIC) == "vfio-pci"
    kubelet.close()
    assert a.stop() == 0


def test_dra_prepare_binds_an_iommu_group_as_one_set(api, agents, host):
    """A claim holding a GPU and its audio function (IOMMU group 5 together; the root port of the
    group stays on pcieport) is bound as one set: both on vfio-pci, both journaled for the claim,
    one CDI device node for the group. Unprepare gives both back to their drivers."""
    root = host()
    a, kubelet = start(agents, api, root)
    claim = make_claim(api, "gpu", [result(GPU, request="gpu"), result(AUDIO, request="audio")])
    uid = claim[2]
    answer = kubelet.prepare([claim])
    devices, error = answer[uid]
    assert error == ""
    assert sorted((d[0], d[2]) for d in devices) == [(["audio"], dra_name(AUDIO)), (["gpu"], dra_name(GPU))]
    assert driver(root, GPU) == "vfio-pci" and driver(root, AUDIO) == "vfio-pci"
    assert driver(root, RP2) == "pcieport"
    records = journal(root)
    assert set(records) == {GPU, AUDIO}
    for address in (GPU, AUDIO):
        assert records[address]["owner"] == f"hostdev-agent dra {uid}"
        assert records[address]["complete"] is True
        assert records[address]["iommu_group"] == 5 and records[address]["group_bind"] is False
    assert records[GPU]["driver"] == "nouveau"
    assert records[AUDIO]["driver"] == "snd_hda_intel"
    with open(cdi_file(root, uid), encoding="utf-8") as f:
        spec = json.load(f)
    nodes = {d["name"]: [n["path"] for n in d["containerEdits"]["deviceNodes"]] for d in spec["devices"]}
    assert set(nodes) == {f"{uid}-{dra_name(GPU)}", f"{uid}-{dra_name(AUDIO)}"}
    assert all("/dev/vfio/5" in n for n in nodes.values()), nodes
    for request in ("gpu", "audio"):
        assert os.path.exists(metadata_file(root, "gpu", request))

    assert kubelet.unprepare([claim]) == {uid: ""}
    assert driver(root, GPU) == "nouveau" and driver(root, AUDIO) == "snd_hda_intel"
    assert journal(root) == {}
    assert not os.listdir(os.path.join(root, "var/run/cdi"))
    kubelet.close()
    assert a.stop() == 0


def test_dra_prepare_refuses_part_of_an_iommu_group(api, agents, host):
    """A claim holding the GPU without its audio function: the group cannot go to vfio-pci while
    AUDIO is on snd_hda_intel. The Prepare says which device, which member the claim lacks (address
    and driver) and how to request the whole group, and binds nothing."""
    root = host()
    a, kubelet = start(agents, api, root)
    claim = make_claim(api, "gpu", [result(GPU)])
    devices, error = kubelet.prepare([claim])[claim[2]]
    assert devices == []
    assert f"device {dra_name(GPU)} ({GPU}) shares IOMMU group 5 with {AUDIO} (snd_hda_intel)" in error, error
    assert "which the claim does not hold" in error, error
    assert f"matchAttribute: {DRIVER}/iommuGroup" in error, error
    # Nothing was bound or written, and the claim is not recorded.
    assert driver(root, GPU) == "nouveau" and driver(root, AUDIO) == "snd_hda_intel"
    assert kmodel_writes(root, GPU) == [] and kmodel_writes(root, AUDIO) == []
    assert journal(root) == {}
    assert not os.listdir(os.path.join(root, "var/run/cdi"))
    with open(checkpoint_path(root), encoding="utf-8") as f:
        assert claim[2] not in json.load(f)["claims"]
    # The same for a chipset function: its group's LPC bridge is never offered, so no claim can
    # hold the whole group and the message does not ask for it.
    smbus = make_claim(api, "smbus", [result(SMBUS)])
    error = kubelet.prepare([smbus])[smbus[2]][1]
    assert f"device {dra_name(SMBUS)} ({SMBUS}) shares IOMMU group 4 with" in error, error
    assert f"{LPC} (lpc_ich)" in error and f"{SATA} (ahci)" in error, error
    assert "A bridge of the group stays with the host" in error, error
    assert driver(root, SMBUS) == "i801_smbus" and journal(root) == {}
    kubelet.close()
    assert a.stop() == 0


def metadata_mount(root, uid, request="dev"):
    """The bind mount of the metadata CDI spec of @request of claim @uid (schema-checked)."""
    with open(os.path.join(root, "var/run/cdi", f"{DRIVER}_metadata_{uid}_{request}.json"),
              encoding="utf-8") as f:
        spec = json.load(f)
    jsonschema.validate(spec, SCHEMAS[0])
    (mount,) = spec["devices"][0]["containerEdits"]["mounts"]
    return mount


def test_dra_template_claim_metadata_under_the_pod_claim_name(api, agents, host):
    """KEP-5304's two layouts, as KubeVirt's launcher reads them: a claim the pod names directly
    is mounted at resourceclaims/<claim>/<request>/; one made from a ResourceClaimTemplate (its
    name generated, the pod's name of it in the annotation resource.kubernetes.io/pod-claim-name)
    at resourceclaimtemplates/<pod claim name>/<request>/, and the file says podClaimName."""
    root = host()
    a, kubelet = start(agents, api, root)
    direct = make_claim(api, "nic", [result(NIC)])
    templated = make_claim(api, "virt-launcher-vm1-nic-x7k2q", [result("0000:00:03.0")],
                           pod_claim_name="hostnic")
    answer = kubelet.prepare([direct, templated])
    assert answer[direct[2]][1] == "" and answer[templated[2]][1] == ""
    base = "/var/run/kubernetes.io/dra-device-attributes"
    mount = metadata_mount(root, direct[2])
    assert mount["containerPath"] == f"{base}/resourceclaims/nic/dev/{DRIVER}-metadata.json"
    assert mount["hostPath"] == metadata_file(root, "nic")
    with open(mount["hostPath"], encoding="utf-8") as f:
        md = json.load(f)
    jsonschema.validate(md, SCHEMAS[1])
    assert "podClaimName" not in md
    mount = metadata_mount(root, templated[2])
    assert mount["containerPath"] == f"{base}/resourceclaimtemplates/hostnic/dev/{DRIVER}-metadata.json"
    assert mount["hostPath"] == metadata_file(root, templated[1])
    with open(mount["hostPath"], encoding="utf-8") as f:
        md = json.load(f)
    jsonschema.validate(md, SCHEMAS[1])
    assert md["podClaimName"] == "hostnic"
    assert md["metadata"]["name"] == templated[1] and md["metadata"]["uid"] == templated[2]
    (dev,) = md["requests"][0]["devices"]
    assert dev["attributes"]["resource.kubernetes.io/pciBusID"] == {"string": "0000:00:03.0"}
    # A repeated Prepare answers the same; Unprepare removes both layouts' files.
    assert kubelet.prepare([direct, templated]) == answer
    assert kubelet.unprepare([direct, templated]) == {direct[2]: "", templated[2]: ""}
    assert not os.path.exists(mount["hostPath"])
    assert not os.listdir(os.path.join(root, "var/run/cdi"))
    assert driver(root, NIC) == "e1000e" and driver(root, "0000:00:03.0") == "virtio-pci"
    kubelet.close()
    assert a.stop() == 0


def test_dra_sockets_made_again_after_a_kubelet_restart(api, agents, host):
    """A kubelet that restarts deletes the sockets of its plugin directories and registers only
    the plugins whose registration socket its watcher finds: the agent makes both sockets again
    (same paths, not a restart of the agent), the new kubelet registers the driver anew, and the
    claims prepared before are still answered from the checkpoint."""
    root = host()
    a, kubelet = start(agents, api, root)
    kept = make_claim(api, "kept", [result(NIC)])
    answer = kubelet.prepare([kept])
    assert answer[kept[2]][1] == ""
    kubelet.close()
    registry = os.path.join(root, "var/lib/kubelet/plugins_registry")
    reg_sock = os.path.join(registry, f"{DRIVER}-reg.sock")
    dra_sock = os.path.join(root, "var/lib/kubelet/plugins", DRIVER, "dra.sock")
    since = len(a.lines)
    os.unlink(reg_sock)
    os.unlink(dra_sock)
    a.wait_log(f"socket {reg_sock} was deleted or replaced", since=since)
    kubelet = dk.Kubelet(registry)
    assert kubelet.register(DRIVER).endpoint == dra_sock  # waits for the socket to be back
    a.wait_log("DRA: the kubelet registered driver", since=since)
    assert kubelet.prepare([kept]) == answer
    other = make_claim(api, "other", [result("0000:00:03.0")])
    assert kubelet.prepare([other])[other[2]][1] == ""
    assert kubelet.unprepare([kept, other]) == {kept[2]: "", other[2]: ""}
    assert driver(root, NIC) == "e1000e" and driver(root, "0000:00:03.0") == "virtio-pci"
    kubelet.close()
    assert a.stop() == 0


def checkpoint_path(root):
    return os.path.join(root, "var/lib/kubelet/plugins", DRIVER, "checkpoint.json")


def test_dra_restart_converges_the_checkpoint(api, agents, host):
    """A prepared claim stays prepared across a SIGKILL; one the agent was killed in the middle of
    preparing (its checkpoint entry still "preparing", the device already bound) is undone at the
    next start, and the kubelet's retried Prepare then prepares it afresh."""
    root = host()
    a, kubelet = start(agents, api, root)
    kept = make_claim(api, "kept", [result(NIC)])
    half = make_claim(api, "half", [result("0000:00:03.0")])  # VIRTIO, alone in group 3
    answer = kubelet.prepare([kept, half])
    assert answer[kept[2]][1] == "" and answer[half[2]][1] == ""
    assert driver(root, "0000:00:03.0") == "vfio-pci"
    a.kill()
    kubelet.close()
    # As if the agent had died between the bind and recording "prepared".
    with open(checkpoint_path(root), encoding="utf-8") as f:
        cp = json.load(f)
    assert cp["claims"][half[2]]["state"] == "prepared"
    cp["claims"][half[2]]["state"] = "preparing"
    with open(checkpoint_path(root), "w", encoding="utf-8") as f:
        json.dump(cp, f)

    env = dict(os.environ, LD_PRELOAD=KMODEL, HOSTDEV_KMODEL_ROOT=root)
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
    b = agents("--kubeconfig", dra_kubeconfig(api), "--node-name", NODE, "--root", root,
               "--pci-ids", PCI_IDS, "--dra-only", env=env)
    b.wait_log(f"DRA: claim {half[2]} was left unfinished; undone")
    b.wait_log("DRA: serving driver")
    assert driver(root, "0000:00:03.0") == "virtio-pci"
    assert not os.path.exists(cdi_file(root, half[2]))
    assert driver(root, NIC) == "vfio-pci"
    with open(checkpoint_path(root), encoding="utf-8") as f:
        assert set(json.load(f)["claims"]) == {kept[2]}
    kubelet = dk.Kubelet(os.path.join(root, "var/lib/kubelet/plugins_registry"))
    kubelet.register(DRIVER)
    b.wait_log("DRA: the kubelet registered driver")
    again = kubelet.prepare([kept, half])
    assert again == answer
    assert driver(root, "0000:00:03.0") == "vfio-pci"
    assert kubelet.unprepare([kept, half]) == {kept[2]: "", half[2]: ""}
    assert driver(root, NIC) == "e1000e" and driver(root, "0000:00:03.0") == "virtio-pci"
    assert journal(root) == {}
    kubelet.close()
    assert b.stop() == 0


def left_out(name, address):
    return (rf"DRA: device {name} \({address}\) is left out of the ResourceSlices: "
            r"NodePrepareResources would refuse it: ")


def test_dra_slices_leave_out_what_prepare_refuses(api, agents, host):
    """The ResourceSlices list only the functions a Prepare would take (the library's dry-run bind
    judges them, with the members of their IOMMU group a claim must hold too): of the vfio test
    host's, VIRTIO, NIC, SPARE, and GPU and AUDIO, whose group 5 can go to vfio-pci as a whole.
    MGMT (the default route's NIC), NVMe (holds /), SMBUS and SATA (group 4 is the chipset's, with
    its LPC bridge) and the one without an IOMMU group are left out, each logged once with its
    reason however often the slices are computed; the bridges (root ports, the LPC bridge) are
    never listed. A resync judges the functions again only when the routes or mounts changed:
    when the default route moves from br0 to ens3, the next resync offers MGMT again and leaves
    VIRTIO out."""
    root = host()
    a, kubelet = start(agents, api, root, "--resync-interval", "1s", "--log-level", "debug")
    slices = wait_pool(api, {dra_name(x) for x in (VIRTIO, NIC, SPARE, GPU, AUDIO)})
    a.wait_log(left_out(dra_name(MGMT), MGMT) + r".*default route")
    for address in (SMBUS, SATA):
        a.wait_log(left_out(dra_name(address), address) +
                   rf"IOMMU group 4 is the chipset's \(ISA/LPC bridge {LPC}\)")
    # The group's members carry its number: a claim asks for the whole group by matching it.
    devs = {d["name"]: d for s in slices.values() for d in s["spec"]["devices"]}
    for address in (GPU, AUDIO):
        assert devs[dra_name(address)]["attributes"]["iommuGroup"] == {"int": 5}
        assert devs[dra_name(address)]["attributes"]["iommuGroupSize"] == {"int": 3}
    # Two whole resyncs at least, nothing changed: no function judged again, no reason logged again.
    since = a.mark()
    a.wait_count(r"resync: done", 2, since=since)
    assert "judging every device again" not in "\n".join(a.log().splitlines()[since:])
    log = a.log()
    for address in (MGMT, SMBUS, SATA, NVME, NOGROUP):
        assert len(re.findall(left_out(dra_name(address), address), log)) == 1, log
    for address in (NIC, GPU, AUDIO, LPC, RP1, RP2):
        assert not re.search(left_out(dra_name(address), address), log), address
    for address in (LPC, RP1, RP2):
        assert dra_name(address) not in log, address

    # The default route moves to ens3 (VIRTIO's): MGMT's reason is gone, VIRTIO has one now.
    route = os.path.join(root, "proc/net/route")
    with open(route, encoding="utf-8") as f:
        table = f.read()
    with open(route + ".new", "w", encoding="utf-8") as f:
        f.write(table.replace("br0\t00000000", "ens3\t00000000"))
    os.replace(route + ".new", route)
    since = a.mark()
    a.wait_log(r"DRA: the routes or mounts changed: judging every device again", since=since)
    wait_pool(api, {dra_name(x) for x in (MGMT, NIC, SPARE, GPU, AUDIO)})
    a.wait_log(rf"DRA: device {dra_name(MGMT)} \({MGMT}\) is offered again", since=since)
    a.wait_log(left_out(dra_name(VIRTIO), VIRTIO) + r".*default route", since=since)
    # A Prepare of MGMT is no longer refused for the route: the slice and the Prepare agree.
    claim = make_claim(api, "mgmt", [result(MGMT)])
    assert kubelet.prepare([claim])[claim[2]][1] == ""
    assert driver(root, MGMT) == "vfio-pci"
    assert kubelet.unprepare([claim]) == {claim[2]: ""}
    kubelet.close()
    assert a.stop() == 0


def test_dra_slices_leave_out_a_group_whose_member_is_not_offered(api, agents, host):
    """A resource selection config that picks the GPU but not its audio function: a claim could
    never hold group 5 whole, so the GPU is left out too, saying which member is missing."""
    root = host()
    cfg = os.path.join(root, "dra.json")
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump({"resources": [{"kind": "pci", "resourceName": "example.com/dev",
                                  "selectors": {"class": ["0300", "0200"]}}]}, f)
    a, kubelet = start(agents, api, root, "--dra-config", cfg)
    wait_pool(api, {dra_name(x) for x in (VIRTIO, NIC)})
    a.wait_log(left_out(dra_name(GPU), GPU) +
               rf"IOMMU group 5 also holds {AUDIO} \(snd_hda_intel\), which a claim must hold with it "
               r"and which is not offered: the devices this driver offers leave it out")
    assert not re.search(left_out(dra_name(AUDIO), AUDIO), a.log())
    kubelet.close()
    assert a.stop() == 0
