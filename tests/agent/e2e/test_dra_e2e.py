# SPDX-License-Identifier: Apache-2.0
"""hostdev-agent --dra end to end: this node's ResourceSlices (resource.k8s.io/v1) on the STAND-IN API
server of tests/agent/apiserver (a real kube-apiserver cannot run here; the stand-in validates
ResourceSlices as the real one does: device limits, names, attribute rules), devices from fake roots
(bench/gen-sysfs.py) or, for hot-plug, a umockdev testbed. The agent runs as its own user with the
rules of the DRA ClusterRole (examples/agent/deploy/dra/rbac.yaml) and nothing else. Every wait is
for an event (a log line, an object, a request in the server's log), bounded by a generous deadline."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from agent_harness import AGENT_USER, BED, PCI_IDS, REPO, USB_IDS, make_root, writes

NODE = "node1"
DRIVER = "vfio.hostdev.io"
SLICES = "/apis/resource.k8s.io/v1/resourceslices"
DRA_RBAC = os.path.join(REPO, "examples", "agent", "deploy", "dra", "rbac.yaml")
HOSTDEV_CLI = os.environ.get("HOSTDEV_CLI", os.path.join(REPO, "build", "examples", "cli", "hostdev"))
LEFT_OUT = re.compile(r"DRA: device (\S+) \((\S+)\) is left out of the ResourceSlices: "
                      r"NodePrepareResources would refuse it: (.*)")


def dra_kubeconfig(api, token="dra-token"):
    """The agent's user with exactly the DRA ClusterRole's rules."""
    with open(DRA_RBAC, encoding="utf-8") as f:
        roles = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ClusterRole"]
    assert len(roles) == 1, f"{DRA_RBAC}: want one ClusterRole"
    api.add_token(token, AGENT_USER)
    api.set_rbac(AGENT_USER, roles[0]["rules"])
    return api.kubeconfig(token=token)


def node_slices(api, node=NODE, driver=DRIVER):
    items = api.get(SLICES, params={"fieldSelector": f"spec.nodeName={node},spec.driver={driver}"})["items"]
    return {o["metadata"]["name"]: o for o in items}


def pool_devices(slices):
    """{device name: device} of a pool whose slices all agree on generation and count."""
    gens = {s["spec"]["pool"]["generation"] for s in slices.values()}
    counts = {s["spec"]["pool"]["resourceSliceCount"] for s in slices.values()}
    assert len(gens) == 1 and counts == {len(slices)}, (gens, counts)
    devs = {}
    for s in slices.values():
        for d in s["spec"].get("devices", []):
            assert d["name"] not in devs
            devs[d["name"]] = d
    return devs


def complete(api, want_names):
    """Predicate for wait: the pool holds exactly @want_names, consistently."""
    def check():
        s = node_slices(api)
        try:
            return s if set(pool_devices(s)) == set(want_names) else None
        except AssertionError:
            return None
    return check


def wait_pool(api, want_names, since=0, timeout=120):
    """Wait, request by request in the server's log, until the pool is exactly @want_names."""
    check = complete(api, want_names)
    mark = since
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pool is not {sorted(want_names)} after {timeout}s")
        # The agent's writes only: this loop's own lists must not wake it.
        api.wait_requests(1, since=mark, resource="resourceslices", timeout=timeout,
                          user=AGENT_USER)
        mark = api.mark()


def dra_name(address):
    return "pci-" + address.replace(":", "-").replace(".", "-")


def sysfs_functions(root):
    """{address: sysfs dir} of the functions but bridges (base class 06: host, ISA, PCI bridges,
    which DRA never offers)."""
    out = {}
    for dev in sorted(glob.glob(os.path.join(root, "sys/bus/pci/devices/*"))):
        if not open(os.path.join(dev, "class")).read().startswith("0x06"):
            out[os.path.basename(dev)] = dev
    return out


def pcidevice_functions(root):
    """{address: sysfs dir} of the functions the Harvester PCIDevices list: all but PCI bridges."""
    out = {}
    for dev in sorted(glob.glob(os.path.join(root, "sys/bus/pci/devices/*"))):
        if not open(os.path.join(dev, "class")).read().startswith("0x0604"):
            out[os.path.basename(dev)] = dev
    return out


def group_needs(root, address):
    """The other members of @address's IOMMU group a bind of it needs in the same set, read from
    sysfs apart from the agent: the kernel hands a group to vfio-pci whole, so every endpoint on a
    host driver (not vfio-pci, pci-stub; PCI-to-PCI bridges stay on pcieport) must go too."""
    dev = os.path.join(root, "sys/bus/pci/devices", address)
    group = os.path.join(dev, "iommu_group", "devices")
    out = []
    for member in sorted(os.listdir(group)) if os.path.isdir(group) else []:
        mdev = os.path.join(group, member)
        drv = os.path.join(mdev, "driver")
        drv = os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None
        if member == address or open(os.path.join(mdev, "class")).read().startswith("0x0604"):
            continue
        if drv and drv not in ("vfio-pci", "pci-stub", "pcieport"):
            out.append(member)
    return out


def left_out(agent):
    """{address: the library's reason} of the functions the agent left out of its slices because a
    Prepare would refuse them; its log says so once per function."""
    out = {}
    for line in agent.log().splitlines():
        m = LEFT_OUT.search(line)
        if m:
            assert m.group(2) not in out, f"{m.group(2)} left out twice:\n" + agent.log()
            assert m.group(1) == dra_name(m.group(2))
            out[m.group(2)] = m.group(3)
    return out


def left_out_lines(agent, since=0):
    with agent.cond:
        lines = [x for x in agent.lines[since:] if x is not None]
    return [x for x in lines if LEFT_OUT.search(x)]


def offered(agent, addresses):
    """The device names of @addresses the agent offers: all but those it left out."""
    out = left_out(agent)
    return {dra_name(x) for x in addresses if x not in out}


def library_refusal(root, *addresses):
    """What the library's bind planning says of @addresses (one set) on @root, asked apart from the
    agent: `hostdev bind --dry-run` (the CLI's error text, None when it would bind)."""
    r = subprocess.run([HOSTDEV_CLI, "--root", root, "bind", "--dry-run", *addresses], capture_output=True,
                       text=True, timeout=120)
    return r.stderr if r.returncode else None


def read_hex(dev, attr):
    return open(os.path.join(dev, attr)).read().strip()[2:]


def args(kubeconfig, root, *extra):
    return ["--kubeconfig", kubeconfig, "--node-name", NODE, "--root", root, "--pci-ids", PCI_IDS, *extra]


def test_slices_published_with_attributes(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 300)
    funcs = sysfs_functions(root)
    assert len(funcs) > 2 * 128, "the root must need three slices"
    a = agents(*args(dra_kubeconfig(api), root, "--dra-only"))
    a.ready(timeout=300)
    slices = node_slices(api)
    devs = pool_devices(slices)
    # The functions a Prepare would refuse are left out, each with its reason, which the library
    # says apart from the agent too (a dry run of the function with the members of its IOMMU group
    # a claim must hold with it), or which names the group's chipset bridge or a member that is
    # not offered itself.
    refused = left_out(a)
    assert refused, "the fake root has functions a Prepare refuses"
    for address, reason in refused.items():
        chipset = re.match(r"IOMMU group (\d+) is the chipset's \(ISA/LPC bridge (\S+)\)", reason)
        member = re.match(r"IOMMU group \d+ also holds (\S+) \(.*which a claim must hold", reason)
        if chipset:
            isa = os.path.join(root, "sys/bus/pci/devices", chipset.group(2))
            assert read_hex(isa, "class").startswith("0601"), reason
            assert os.readlink(os.path.join(isa, "iommu_group")).endswith("/" + chipset.group(1))
        elif member:
            assert member.group(1) in refused or member.group(1) not in funcs, reason
        else:
            said = library_refusal(root, address, *group_needs(root, address))
            assert said and reason.split(";")[0] in said, (address, reason, said)
    assert set(devs) == {dra_name(x) for x in funcs if x not in refused}
    # The offered functions of a shared IOMMU group, which a claim gets with a matchAttribute on
    # iommuGroup, the library binds as one set.
    groups = {}
    for name, dev in devs.items():
        at = dev["attributes"]
        if at["iommuGroupSize"]["int"] > 1:
            groups.setdefault(at["iommuGroup"]["int"], []).append(at["resource.kubernetes.io/pciBusID"]["string"])
    assert groups, "the fake root has shared IOMMU groups whose functions are offered"
    for group, addresses in groups.items():
        assert library_refusal(root, *addresses) is None, (group, addresses)
    assert sorted(slices) == [f"{NODE}-{DRIVER}-{i}" for i in range(3)]
    assert all(len(s["spec"]["devices"]) <= 128 for s in slices.values())
    node_uid = api.get(f"/api/v1/nodes/{NODE}")["metadata"]["uid"]
    for s in slices.values():
        assert s["spec"]["pool"]["name"] == NODE and s["spec"]["nodeName"] == NODE
        assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": NODE,
                                                     "uid": node_uid, "controller": True}]
    pfs = vfs = 0
    for addr, dev in funcs.items():
        if addr in refused:
            continue
        at = devs[dra_name(addr)]["attributes"]
        assert at["resource.kubernetes.io/pciBusID"] == {"string": addr}
        assert at["vendor"] == {"string": read_hex(dev, "vendor")}
        assert at["device"] == {"string": read_hex(dev, "device")}
        assert at["class"] == {"string": read_hex(dev, "class")[:4]}
        numa = int(open(os.path.join(dev, "numa_node")).read()) if os.path.exists(os.path.join(dev, "numa_node")) else -1
        assert at["numaNode"] == {"int": numa}
        group = os.path.join(dev, "iommu_group")
        if os.path.islink(group):
            assert at["iommuGroup"] == {"int": int(os.path.basename(os.readlink(group)))}
        drv = os.path.join(dev, "driver")
        if os.path.islink(drv):
            assert at["driver"] == {"string": os.path.basename(os.readlink(drv))}
        else:
            assert "driver" not in at
        is_vf = os.path.islink(os.path.join(dev, "physfn"))
        assert at["sriovVF"] == {"bool": is_vf}
        assert at["sriovPF"] == {"bool": os.path.exists(os.path.join(dev, "sriov_totalvfs"))}
        if is_vf:
            assert at["pfPciBusID"] == {"string": os.path.basename(os.readlink(os.path.join(dev, "physfn")))}
        pfs += at["sriovPF"]["bool"]
        vfs += is_vf
        assert len(at) <= 32
    assert pfs and vfs, "the fake root has SR-IOV functions: their attributes were checked"
    # --dra-only needs no devices.harvesterhci.io CRDs and writes none of their objects
    assert not [r for r in writes(api, 0) if r["resource"] != "resourceslices"]
    assert a.stop() == 0


def test_kubelet_restart_republishes_and_idle_makes_no_writes(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 200)
    kubeconfig = dra_kubeconfig(api)
    a = agents(*args(kubeconfig, root, "--dra-only"))
    a.ready(timeout=300)
    want = offered(a, sysfs_functions(root))
    first = node_slices(api)
    gen = next(iter(first.values()))["spec"]["pool"]["generation"]
    # The kubelet, when it starts, deletes every ResourceSlice of its node.
    mark = api.mark()
    for name in first:
        api.delete(f"{SLICES}/{name}")
    slices = wait_pool(api, want, since=mark)
    assert min(s["spec"]["pool"]["generation"] for s in slices.values()) > gen
    a.wait_log(r"DRA: ResourceSlice .* was deleted")
    # Idle: watches dropped and resumed (reads only), a full resync of the devices: no write.
    idle = api.mark()
    a.wait_log(r"offers \d+ devices", since=0)
    api.drop_watches(resource="resourceslices", group="resource.k8s.io")
    api.wait_requests(1, since=idle, verb="watch", resource="resourceslices", timeout=60)
    assert writes(api, idle) == []
    assert a.stop() == 0
    # A restart with nothing changed: no write either.
    mark = api.mark()
    b = agents(*args(kubeconfig, root, "--dra-only"))
    b.ready(timeout=300)
    assert writes(api, mark) == []
    # Someone else edits a slice: it is put back with the next generation.
    name = sorted(node_slices(api))[0]
    s = api.get(f"{SLICES}/{name}")
    s["spec"]["devices"] = s["spec"]["devices"][1:]
    mark = api.mark()
    api.update(f"{SLICES}/{name}", s)
    wait_pool(api, want, since=mark)
    assert b.stop() == 0


def dra_judgements(agent):
    return agent.metrics().get('hostdev_agent_device_reads_total{why="dra_judgement"}', 0)


def test_resync_judges_the_offer_again_only_when_routes_or_mounts_changed(api, agents, tmp_path):
    """A device's DRA verdict (a dry-run bind: the guard reads routes and mounts) is kept: a resync
    that finds the routes and mounts as they were judges no device again and writes nothing; once
    they changed (a default route appeared), the resync judges every device again."""
    root = make_root(tmp_path / "root", 60)
    a = agents(*args(dra_kubeconfig(api), root, "--dra-only"))
    a.ready(timeout=300)
    first = dra_judgements(a)
    assert first >= len(sysfs_functions(root)), first
    mark = api.mark()
    since = a.mark()
    a.proc.send_signal(signal.SIGHUP)
    a.wait_log(r"resync: done", since=since)
    assert dra_judgements(a) == first
    assert "judging every device again" not in "\n".join(a.log().splitlines()[since:])
    # A default route (the guard's source, below the root's /proc) appears: judged again.
    os.makedirs(os.path.join(root, "proc", "net"), exist_ok=True)
    with open(os.path.join(root, "proc", "net", "route"), "w") as f:
        f.write("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                "nosuchif\t00000000\t0100007F\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    since = a.mark()
    a.proc.send_signal(signal.SIGHUP)
    a.wait_log(r"DRA: the routes or mounts changed: judging every device again", since=since)
    a.wait_log(r"resync: done", since=since)
    assert dra_judgements(a) == 2 * first
    # Neither resync changed the offer (no interface of the root carries that route).
    assert writes(api, mark) == []
    assert a.stop() == 0


def test_selection_config_chooses_the_devices(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 120)
    funcs = sysfs_functions(root)
    want = {a for a, d in funcs.items() if read_hex(d, "class").startswith("0302")}
    assert want and len(want) < len(funcs)
    cfg = tmp_path / "dp.json"
    cfg.write_text(json.dumps({"resources": [{"kind": "pci", "resourceName": "hostdev.io/gpu",
                                              "selectors": {"class": ["0302"]}}]}))
    a = agents(*args(dra_kubeconfig(api), root, "--dra-only", "--dra-config", str(cfg),
                     "--dra-driver-name", "gpu.example.com"))
    a.ready(timeout=300)
    slices = node_slices(api, driver="gpu.example.com")
    devs = pool_devices(slices)
    assert set(devs) == offered(a, want)
    assert set(left_out(a)) <= want  # only the selected functions are judged
    assert {d["attributes"]["resourceName"]["string"] for d in devs.values()} == {"hostdev.io/gpu"}
    assert node_slices(api) == {}  # nothing under the default driver name
    assert a.stop() == 0


def test_dra_alongside_harvester_objects(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 40)
    funcs = sysfs_functions(root)
    # The agent's user: the Harvester ClusterRole and the DRA one together.
    from agent_harness import cluster_role_rules
    with open(DRA_RBAC, encoding="utf-8") as f:
        dra_rules = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ClusterRole"][0]["rules"]
    api.add_token("both", AGENT_USER)
    api.set_rbac(AGENT_USER, cluster_role_rules() + dra_rules)
    a = agents(*args(api.kubeconfig(token="both"), root, "--dra", "--no-claims", "--once"), metrics=False)
    assert a.wait_exit(300) == 0, a.log()
    assert set(pool_devices(node_slices(api))) == offered(a, funcs)
    pcidevices = api.get(api.devices_path("pcidevices"), params={"labelSelector": f"nodename={NODE}"})["items"]
    assert len(pcidevices) == len(pcidevice_functions(root))


def test_readyz_waits_for_the_first_slices(api, agents, tmp_path):
    """--dra next to the Harvester objects: /readyz says ready only once the ResourceSlices are
    published too, also across the heartbeats that re-evaluate it (every 5 s). The slices' creates
    are refused (RBAC without create) until the rule is granted."""
    root = make_root(tmp_path / "root", 10)
    funcs = sysfs_functions(root)
    from agent_harness import cluster_role_rules
    with open(DRA_RBAC, encoding="utf-8") as f:
        dra_rules = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ClusterRole"][0]["rules"]
    no_create = [dict(r, verbs=[v for v in r["verbs"] if v != "create"])
                 if "resourceslices" in r["resources"] else r for r in dra_rules]
    api.add_token("both", AGENT_USER)
    api.set_rbac(AGENT_USER, cluster_role_rules() + no_create)
    a = agents(*args(api.kubeconfig(token="both"), root, "--dra", "--no-claims"))
    # The Harvester objects' first pass is done: readiness now waits for the slices.
    deadline = time.monotonic() + 120
    while True:
        code, body = a.http("/readyz")
        assert code == 503, body
        if "publishing this node's ResourceSlices" in body:
            break
        assert time.monotonic() < deadline, f"/readyz {code} {body!r}:\n" + a.log()
        time.sleep(0.1)
    since = len(a.lines)
    # Six refused rounds from here are five whole backoff delays apart, each at least half of
    # 0.5, 1, 2, 4, 8 s (the slices' backoff): 7.75 s or more, longer than a heartbeat (5 s),
    # which must not call the agent ready meanwhile.
    a.wait_count(r"DRA: writing the ResourceSlices again in", 6, timeout=180, since=since)
    code, body = a.http("/readyz")
    assert code == 503 and "publishing this node's ResourceSlices" in body, (code, body)
    pcidevices = api.get(api.devices_path("pcidevices"), params={"labelSelector": f"nodename={NODE}"})["items"]
    assert len(pcidevices) == len(pcidevice_functions(root))
    assert not node_slices(api)
    api.set_rbac(AGENT_USER, cluster_role_rules() + dra_rules)
    a.ready(timeout=120)
    a.wait_ready_endpoint()
    assert set(pool_devices(node_slices(api))) == offered(a, funcs)
    assert a.stop() == 0


def test_bad_driver_name_and_config_exit_with_what_to_fix(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 10)
    a = agents(*args(dra_kubeconfig(api), root, "--dra-only", "--dra-driver-name", "Not_A_Domain"))
    assert a.wait_exit() == 2
    assert "--dra-driver-name Not_A_Domain: expected a lower-case DNS subdomain" in a.log()
    a = agents(*args(dra_kubeconfig(api), root, "--dra-driver-name", "x.example.com"))
    assert a.wait_exit() == 2 and "need --dra or --dra-only" in a.log()
    bad = tmp_path / "bad.json"
    bad.write_text('{"resources": [{"kind": "pci", "resourceName": "example.com/nic", '
                   '"selectors": {"vendorDevice": ["8086:10dx"]}}]}')
    a = agents(*args(dra_kubeconfig(api), root, "--dra-only", "--dra-config", str(bad)))
    assert a.wait_exit() == 2
    assert f"--dra-config {bad}" in a.log() and "8086:10dx" in a.log()


def test_hotplug_reflected_in_the_slices(api, agents, tmp_path):
    """Hot-plug through the library's monitor on a umockdev testbed: an added function appears in
    the pool (with the next generation), a re-bind changes its driver attribute, a removal drops it.
    A function plugged into its IOMMU group on a host driver is offered with it (the group goes to
    vfio-pci whole); a bridge on a host driver in the group (never offered) keeps both out of the
    pool (the log says why, once) until that driver lets the bridge go."""
    if not (shutil.which("umockdev-wrapper") and os.path.exists(BED)):
        pytest.skip("umockdev (Debian umockdev, libumockdev-dev) is not installed")
    # The testbed's /sys; the kubelet's directories, the CDI directory and the journal under a
    # fake root.
    a = agents("--kubeconfig", dra_kubeconfig(api), "--node-name", NODE, "--pci-ids", PCI_IDS,
               "--usb-ids", USB_IDS, "--uevent-source", "kernel", "--dra-only",
               "--root", str(tmp_path), "--sysfs", "/sys", bed=True)
    a.ready()
    inventory = 'hostdev_agent_device_reads_total{why="inventory"}'
    read_at_start = a.metrics()[inventory]
    base = set(pool_devices(node_slices(api)))
    assert base == {dra_name("0000:00:14.0"), dra_name("0000:00:03.0")}
    gen = next(iter(node_slices(api).values()))["spec"]["pool"]["generation"]
    nic = dra_name("0000:00:05.0")

    def attrs_of(pred):
        def check(o):
            d = next((d for d in o["spec"].get("devices", []) if d["name"] == nic), None)
            return pred(d)
        return check

    mark = api.mark()
    a.bed("pci-add 0000:00:05.0 8086 1521 020000 igb 10")  # alone in IOMMU group 10
    got = api.wait_for(f"{SLICES}/{NODE}-{DRIVER}-0",
                       attrs_of(lambda d: d is not None and d["attributes"].get("driver") == {"string": "igb"}))
    assert got["spec"]["pool"]["generation"] > gen
    attrs = got["spec"]["devices"][[d["name"] for d in got["spec"]["devices"]].index(nic)]["attributes"]
    assert attrs["vendor"] == {"string": "8086"}
    # A second function in its group, on a host driver: the group goes to vfio-pci whole, and
    # both are offered (a claim holds them together).
    since = a.mark()
    group = attrs["iommuGroup"]["int"]
    assert group == 10
    a.bed(f"pci-add 0000:00:05.1 8086 1521 020000 igb {group}")
    second = dra_name("0000:00:05.1")
    api.wait_for(f"{SLICES}/{NODE}-{DRIVER}-0", lambda o: {d["name"]: d["attributes"]["iommuGroupSize"]
                                                           for d in o["spec"].get("devices", [])
                                                           if d["name"] in (nic, second)}
                 == {nic: {"int": 2}, second: {"int": 2}})
    # A bridge on a host driver joins the group: never offered, it keeps the group from vfio-pci.
    a.bed(f"pci-add 0000:00:05.2 8086 15ff 068000 bridgedrv {group}")
    api.wait_for(f"{SLICES}/{NODE}-{DRIVER}-0", attrs_of(lambda d: d is None))
    for address in ("0000:00:05.0", "0000:00:05.1"):
        a.wait_log(rf"DRA: device {dra_name(address)} \({address}\) is left out of the ResourceSlices: "
                   rf".*IOMMU group {group} also holds 0000:00:05.2 \(bridgedrv\), which a claim must hold "
                   r"with it and which is not offered: a bridge", since=since)
    assert second not in pool_devices(node_slices(api))
    assert dra_name("0000:00:05.2") not in pool_devices(node_slices(api))
    # Its driver lets it go (an unbind event): the group is the NICs' to take again.
    a.bed("pci-unbind 0000:00:05.2")
    api.wait_for(f"{SLICES}/{NODE}-{DRIVER}-0", attrs_of(lambda d: d is not None))
    a.wait_log(rf"DRA: device {nic} \(0000:00:05.0\) is offered again", since=since)
    assert len([x for x in left_out_lines(a, since) if "(0000:00:05.0)" in x]) == 1
    a.bed("pci-remove 0000:00:05.2")
    a.bed("pci-remove 0000:00:05.1")
    a.bed("pci-bind 0000:00:05.0 vfio-pci")
    api.wait_for(f"{SLICES}/{NODE}-{DRIVER}-0",
                 attrs_of(lambda d: d is not None and d["attributes"].get("driver") == {"string": "vfio-pci"}))
    a.bed("pci-remove 0000:00:05.0")
    api.wait_for(f"{SLICES}/{NODE}-{DRIVER}-0", attrs_of(lambda d: d is None))
    assert len(writes(api, mark)) >= 3
    # Each event re-read the functions it concerns (the function, its IOMMU group), never the bus.
    m = a.metrics()
    assert m[inventory] == read_at_start
    assert m['hostdev_agent_device_reads_total{why="event"}'] >= 1
    assert a.stop() == 0


def test_node_deleted_stops_the_slices_until_it_is_back(api, agents, tmp_path):
    """Deleting the Node makes the garbage collector delete its slices: the agent must not write
    them again (they would be collected again, over and over) until the Node exists again."""
    root = make_root(tmp_path / "root", 30)
    a = agents(*args(dra_kubeconfig(api), root, "--dra-only"))
    a.ready()
    want = offered(a, sysfs_functions(root))
    since = a.mark()
    api.delete_node(NODE)
    a.wait_log(r"node node1 was deleted", since=since)
    api.gc_wait()
    mark = api.mark()
    # What would make a publishing agent write: its watch restarted (a relist).
    api.drop_watches(resource="resourceslices", group="resource.k8s.io")
    api.wait_requests(1, since=mark, verb="watch", resource="resourceslices", timeout=60)
    api.gc_wait()
    assert node_slices(api) == {}
    assert [w for w in writes(api, mark) if w["resource"] == "resourceslices"] == []
    node = api.create_node(NODE)
    slices = wait_pool(api, want, since=mark)
    assert {s["metadata"]["ownerReferences"][0]["uid"] for s in slices.values()} == {node["metadata"]["uid"]}
    assert a.stop() == 0
