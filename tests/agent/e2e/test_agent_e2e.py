# SPDX-License-Identifier: Apache-2.0
"""hostdev-agent end to end: the binary on fake roots (bench/gen-sysfs.py) against the stand-in API
server of tests/agent/apiserver (a stand-in: a real kube-apiserver cannot run here; it is strict,
see its README), with kubectl and python3-kubernetes reading the result. Every wait is for an event
(a log line, an object, a request in the server's log), bounded by a generous deadline."""
import glob
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse

import pytest

from agent_harness import (AGENT_CRDS, AGENT_USER, BED, HARVESTER_CRDS, PCI_IDS, USB_IDS, StandIn,
                           agent_kubeconfig, device_names, grant_cluster_role, make_root,
                           writes)

NODE = "node1"


def expected_objects(root, node=NODE):
    """What the agent must publish for a fake root, read straight from its sysfs: a PCIDevice per
    function but bridges (class 0604), a SRIOVNetworkDevice per SR-IOV network PF."""
    pci, sriov = {}, {}
    for dev in sorted(glob.glob(os.path.join(root, "sys/bus/pci/devices/*"))):
        addr = os.path.basename(dev)
        cls = open(os.path.join(dev, "class")).read().strip()
        if cls.startswith("0x0604"):
            continue
        pci[f"{node}-{addr.replace(':', '').replace('.', '')}"] = addr
        if cls.startswith("0x02") and os.path.exists(os.path.join(dev, "sriov_totalvfs")):
            nets = sorted(os.listdir(os.path.join(dev, "net"))) if os.path.isdir(os.path.join(dev, "net")) else []
            name = f"{node}-{nets[0]}".lower() if nets else f"{node}-{addr.replace(':', '').replace('.', '')}"
            sriov[name] = addr
    return pci, sriov


def agent_args(kubeconfig, root, *extra):
    return ["--kubeconfig", kubeconfig, "--node-name", NODE, "--root", root, "--pci-ids", PCI_IDS,
            *extra]


def test_publish_1000_devices(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 1000)
    want_pci, want_sriov = expected_objects(root)
    assert len(want_pci) > 800 and want_sriov
    a = agents(*agent_args(agent_kubeconfig(api), root))
    a.ready(timeout=600)
    pci = device_names(api, "pcidevices", NODE)
    sriov = device_names(api, "sriovnetworkdevices", NODE)
    assert set(pci) == set(want_pci)
    assert set(sriov) == set(want_sriov)
    for name, addr in want_pci.items():
        st = pci[name]["status"]
        dev = os.path.join(root, "sys/bus/pci/devices", addr)
        assert st["address"] == addr and st["nodeName"] == NODE
        assert st["vendorId"] == open(os.path.join(dev, "vendor")).read().strip()[2:]
        assert st["deviceId"] == open(os.path.join(dev, "device")).read().strip()[2:]
        assert st["classId"] == open(os.path.join(dev, "class")).read().strip()[2:6]
        drv = os.path.join(dev, "driver")
        assert st.get("kernelDriverInUse") == (os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None)
        owner = pci[name]["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "Node" and owner["name"] == NODE
        assert pci[name]["metadata"]["labels"]["nodename"] == NODE
    for name, addr in want_sriov.items():
        assert sriov[name]["spec"]["address"] == addr
        vfs = sorted(os.path.basename(os.readlink(p)) for p in
                     glob.glob(os.path.join(root, "sys/bus/pci/devices", addr, "virtfn*")))
        assert sorted(sriov[name]["status"].get("vfAddresses", [])) == vfs
    m = a.metrics()
    assert m['hostdev_agent_objects{kind="PCIDevice"}'] == len(want_pci)
    assert m["hostdev_agent_ready"] == 1
    assert a.stop() == 0


def test_restart_with_nothing_changed_makes_no_writes(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 80)
    kubeconfig = agent_kubeconfig(api)
    first = agents(*agent_args(kubeconfig, root))
    first.ready()
    assert writes(api, 0), "the first start must have published"
    assert first.stop() == 0
    assert "stopping (SIGTERM)" in first.log()
    mark = api.mark()
    second = agents(*agent_args(kubeconfig, root))
    second.ready()
    # Idle, with its watches dropped and resumed (reads only): still no write.
    resumed = api.mark()
    api.drop_watches()
    api.wait_requests(3, since=resumed, verb="watch", timeout=60)
    assert writes(api, mark) == []
    assert api.counters(mark)["verbs"].get("list", 0) >= 3


def device_reads(metrics):
    """{why: devices read} of the agent's /metrics."""
    prefix = 'hostdev_agent_device_reads_total{why="'
    return {k[len(prefix):-2]: v for k, v in metrics.items() if k.startswith(prefix)}


def test_idle_reads_no_device_and_a_resync_on_request_writes_nothing(api, agents, tmp_path):
    """Idle, the agent's timers (watch timeouts, bookmarks, the heartbeat) read no device and write
    nothing: devices are followed by their events. The full resync runs at its long interval or on
    request (SIGHUP): it reads every device once and, nothing having changed, writes nothing."""
    root = make_root(tmp_path / "root", 80)
    # Watches time out every second: many re-opens and bookmarks while idle.
    a = agents(*agent_args(agent_kubeconfig(api), root, "--watch-timeout", "1"))
    a.ready()
    ready_mark = a.mark()
    before = device_reads(a.metrics())
    assert before["inventory"] >= 80, before
    mark = api.mark()
    # Every kind's watch re-opened at least twice (nodes, the three published kinds, both claim
    # kinds, the SRIOVNetworkDevices of the VF counts).
    watches = api.wait_requests(14, since=mark, verb="watch", timeout=120)
    # Bookmarks are asked for where they save a relist (docs/agent.md, "The Kubernetes client"):
    # by the watches of this node's objects, chosen by label, not by the watch of the Node by its
    # name nor by those of every claim.
    asked = {(w["resource"], "allowWatchBookmarks" in urllib.parse.parse_qs(w["query"])) for w in watches}
    assert asked == {("nodes", False), ("pcideviceclaims", False), ("usbdeviceclaims", False),
                     ("pcidevices", True), ("usbdevices", True), ("sriovnetworkdevices", True)}, asked
    assert device_reads(a.metrics()) == before
    assert writes(api, mark) == []
    assert "resync (" not in "\n".join(a.log().splitlines()[ready_mark:])
    since = a.mark()
    a.proc.send_signal(signal.SIGHUP)
    a.wait_log(r"resync \(requested by SIGHUP\): reading every device again", since=since)
    a.wait_log(r"resync: done in \S+ s, 0 object writes queued", since=since)
    after = device_reads(a.metrics())
    assert after["inventory"] == 2 * before["inventory"], (before, after)
    assert after.get("event", 0) == before.get("event", 0)
    # Every object found in step from its hashes: none built again for a write.
    assert after.get("write", 0) == before.get("write", 0), (before, after)
    assert writes(api, mark) == []
    assert a.metrics()["hostdev_agent_ready"] == 1
    assert a.stop() == 0


def test_an_owned_field_edited_is_put_back_from_its_device(api, agents, tmp_path):
    """The agent keeps no wanted object, only hashes of it and its device (docs/agent.md, "How it
    keeps them in step"). An owned status field someone edits is put back with a patch of that
    field alone, the object built again from its one device; an edit of what the agent does not
    own (a label of someone else's) is neither read nor written; the other objects stay as they
    are."""
    root = make_root(tmp_path / "root", 20)
    a = agents(*agent_args(agent_kubeconfig(api), root, "--resync-interval", "0"))
    a.ready()
    names = sorted(device_names(api, "pcidevices", NODE))
    path = lambda n: api.devices_path("pcidevices", n)  # noqa: E731
    before = device_reads(a.metrics())
    mark = api.mark()
    # Someone else's label: the watch event is looked at, nothing is built or written.
    since = a.mark()
    api.patch(path(names[1]), {"metadata": {"labels": {"team": "gpu"}}})
    api.wait_for(path(names[1]), lambda o: o["metadata"]["labels"].get("team") == "gpu")
    # An owned field edited: put back.
    good = api.get(path(names[0]))["status"]["description"]
    api.patch(api.devices_path("pcidevices", names[0], "status"), {"status": {"description": "edited"}})
    api.wait_for(path(names[0]), lambda o: o["status"]["description"] == good)
    ours = writes(api, mark)
    assert [(w["verb"], w["name"], w.get("subresource")) for w in ours] == [("patch", names[0], "status")], ours
    after = device_reads(a.metrics())
    assert after.get("write", 0) == before.get("write", 0) + 1, (before, after)
    assert after["inventory"] == before["inventory"]
    assert api.get(path(names[1]))["metadata"]["labels"].get("team") == "gpu"
    assert a.stop() == 0


def test_reopened_watches_reuse_their_connections(api, agents, tmp_path):
    """A watch that ends at its timeout leaves its connection open (kube-apiserver's HTTP/1.1
    server does, and so does the stand-in): the agent re-opens it on a connection it has, with no
    new TCP connection or TLS handshake. Connections that have to be made again (the server closed
    them all) resume the agent's TLS session.

    Not every one can: the agent's libcurl keeps one TLS 1.3 ticket per server, and OpenSSL uses a
    ticket once (RFC 8446 C.4), so a connection begun after another has resumed, and before the
    agent has read the new ticket that one brings, has none to offer and makes a full handshake.
    What must hold: every ticket offered is accepted (as by Go's crypto/tls: stateless and
    reusable), a full handshake is one that offered none, and when the agent holds an unused
    ticket, the first new connection offers it: one that a connection made since the last cut
    brought (the agent keeps the new tickets)."""
    root = make_root(tmp_path / "root", 20)
    a = agents(*agent_args(agent_kubeconfig(api), root, "--watch-timeout", "1"))
    a.ready()
    before = api.connections()
    assert before["tlsHandshakes"] >= 1
    assert before["tlsOffered"] is not None, "this Python's ssl cannot show the ClientHello"
    mark = api.mark()
    # Watches time out every second or two: each of the 7 watches re-opened at least twice.
    api.wait_requests(14, since=mark, verb="watch", timeout=120)
    after = api.connections()
    assert after["accepted"] == before["accepted"], (before, after)
    assert all(r["code"] == 200 for r in api.requests(since=mark, verb="watch"))

    def cut():
        """Every connection cut; the handshakes of the connections the agent made again, whose
        watches have answered."""
        accepted = api.connections()["accepted"]
        assert api.drop_connections() >= 1
        mark = api.mark()
        api.wait_requests(14, since=mark, verb="watch", code=200, timeout=120)
        made = api.handshakes(since=accepted)
        assert made, "no new connection"
        for h in made:
            assert h["resumed"] == bool(h["offered"]), made
        return made

    def settle(since_accepted):
        """Until the agent has read the tickets the connections made since brought (each before
        its first answer): once every connection that carried only watches carried two (each
        watch has a connection of its own, and a watch ends before it is re-opened). A ticket
        the agent holds then is unused. Returns the handshakes of those connections."""
        while True:
            made = api.handshakes(since=since_accepted)
            for h in made:
                if all(r["watch"] for r in api.requests(connection=h["connection"])):
                    api.wait_requests(2, connection=h["connection"], timeout=120)
            if len(api.handshakes(since=since_accepted)) == len(made):
                return made

    # Cut: every ticket the agent offers is accepted. Whether it had an unused one is not known:
    # of the connections from its start (more than its watches, a watch re-opened on any idle
    # one) the server cannot tell that each has had its answer, and its ticket, read.
    cut()
    # Cut again, the agent holding an unused ticket: the first new connection resumes with it,
    # a ticket one of the connections made since the first cut brought.
    made = settle(after["accepted"])
    again = cut()
    first = min(again, key=lambda h: h["hello"])
    assert first["offered"] and first["resumed"], again
    assert first["offered"] in {t for h in made for t in h["issued"]}, (first, made)
    assert a.metrics()["hostdev_agent_ready"] == 1


def watch_rounds(api, user, since):
    """@user's watch requests since @since, grouped by the deadline each asked for (the time the
    stand-in took it + its timeoutSeconds): deadlines less than 1.5 s apart are one round.
    Returns [(deadline, [request, ...]), ...] in time order."""
    reqs = sorted((r["time"] + float(urllib.parse.parse_qs(r["query"])["timeoutSeconds"][0]), r)
                  for r in api.requests(since=since, verb="watch") if r["user"] == user)
    rounds = []
    last = None
    for d, r in reqs:
        # A round's deadlines are within a second (whole timeoutSeconds, the stand-in's latency
        # under load); rounds are at least --watch-timeout apart.
        if rounds and d - last <= 1.5:
            rounds[-1][1].append(r)
        else:
            rounds.append((d, [r]))
        last = d
    return rounds


def test_watches_share_one_deadline_per_agent(api, agents, tmp_path):
    """An idle agent is woken by every watch that ends, is re-opened or gets a bookmark: its 7
    watches share one deadline, so they end, are re-opened and get their bookmarks together, and
    one re-opened off schedule (its stream cut) joins the others' deadline. The deadline is drawn
    at random in [T, 2T] (--watch-timeout T) for each round, per agent: a cluster's nodes do not
    re-open their watches at once."""
    root = make_root(tmp_path / "root", 20)
    api.create_node("node2")
    users = {"node1": AGENT_USER, "node2": "hostdev-agent-2"}
    api.add_token("agent-token-2", users["node2"])
    grant_cluster_role(api, users["node2"])
    started = {}
    kcs = {"node1": agent_kubeconfig(api),
           "node2": api.kubeconfig(str(tmp_path / "kubeconfig-node2"), token="agent-token-2")}
    for node, kc in kcs.items():
        args = agent_args(kc, root, "--watch-timeout", "6", "--state-dir", str(tmp_path / f"state-{node}"),
                          "--kubelet-dir", str(tmp_path / f"kubelet-{node}"))
        args[args.index("--node-name") + 1] = node
        started[node] = agents(*args)
    for a in started.values():
        a.ready()
    mark = api.mark()
    # A round of re-opens of node1's agent, then the node watches cut in the middle of the next
    # round (the moment is chosen, not waited for: any moment but the deadline shows it): each is
    # re-opened at once, off the schedule of the other watches.
    opened = api.wait_requests(7, since=mark, verb="watch", user=users["node1"], timeout=60)
    time.sleep(max(0.0, opened[-1]["time"] + 3.0 - time.time()))
    assert api.drop_watches(resource="nodes") >= 2
    cut = time.time()
    cut_mark = api.mark()
    # Five more rounds of each agent (the cut node watch re-opened, four rounds, the next begun).
    for u in users.values():
        api.wait_requests(5 * 7, since=cut_mark, verb="watch", user=u, timeout=240)
    chosen = set()
    for node, u in users.items():
        rounds = watch_rounds(api, u, mark)
        # The rounds opened after the cut but the last (its re-opens may still be coming).
        full = [reqs for d, reqs in rounds if min(r["time"] for r in reqs) > cut][:-1]
        assert len(full) >= 3, rounds
        # All 7 watches (nodes, the three published kinds, both claim kinds, the
        # SRIOVNetworkDevices of the VF counts) in every round: none on a schedule of its own. A
        # watch that the loaded stand-in answered late may miss one round (it is opened on the
        # deadline's schedule again at the next), not more.
        together = [reqs for reqs in full if len(reqs) == 7 and
                    sum(r["path"].endswith("/nodes") for r in reqs) == 1]
        assert len(together) >= len(full) - 1, (node, [[(r["time"], r["path"], r["query"]) for r in reqs]
                                                        for reqs in full])
        for reqs in together:
            # The round's draw: what the watches re-opened at its start asked for.
            chosen.add(max(int(urllib.parse.parse_qs(r["query"])["timeoutSeconds"][0]) for r in reqs))
    # Drawn per round and per agent from [6, 12]: not one fixed value.
    assert len(chosen) > 1 and all(6 <= t <= 12 for t in chosen), chosen
    for a in started.values():
        assert a.metrics()["hostdev_agent_ready"] == 1


def test_kubectl_and_python_client_read_the_objects(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 40)
    want_pci, _ = expected_objects(root)
    a = agents(*agent_args(agent_kubeconfig(api), root, "--once"), metrics=False)
    assert a.wait_exit(300) == 0, a.log()
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "--kubeconfig", api.kubeconfig(), "get", "pcidevices"],
                             check=True, capture_output=True, text=True).stdout
        header = out.splitlines()[0].split()
        assert header[:2] == ["NAME", "ADDRESS"], out
        assert "DESCRIPTION" in header
        rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
        assert rows == want_pci
    from kubernetes import client, config
    api_client = config.new_client_from_config(config_file=api.kubeconfig())
    objs = client.CustomObjectsApi(api_client).list_cluster_custom_object(
        "devices.harvesterhci.io", "v1beta1", "pcidevices", label_selector=f"nodename={NODE}")
    assert {o["metadata"]["name"] for o in objs["items"]} == set(want_pci)
    assert all(o["status"]["nodeName"] == NODE for o in objs["items"])


def test_harvester_crds_do_not_make_a_rewrite_loop(agents, tmp_path):
    """Harvester's own CRDs prune the agent's extra status fields on every write: the agent must
    compare only what the server keeps, or it would rewrite every object at every resync."""
    with StandIn(tmp_path / "api", crds=[HARVESTER_CRDS]) as api:
        api.create_node(NODE)
        root = make_root(tmp_path / "root", 60)
        a = agents(*agent_args(agent_kubeconfig(api), root, "--resync-interval", "1s"))
        a.ready()
        obj = next(iter(device_names(api, "pcidevices", NODE).values()))
        assert "numaNode" not in obj["status"] and obj["status"]["address"]
        mark = api.mark()
        # Three full resyncs after this point, each diffing every object.
        a.wait_count(r"inventory: \d+ PCI", 3, since=a.mark())
        assert writes(api, mark) == []


def test_watch_faults_and_api_server_restart_converge(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 40)
    # No bookmarks: they would move the agent's resourceVersion past the compaction below.
    api.settings(bookmark_interval=3600)
    a = agents(*agent_args(agent_kubeconfig(api), root, "--watch-timeout", "30"))
    a.ready()
    names = sorted(device_names(api, "pcidevices", NODE))
    path = lambda n: api.devices_path("pcidevices", n)  # noqa: E731

    def delete_and_see_it_back(name):
        uid = api.get(path(name))["metadata"]["uid"]
        api.delete(path(name))
        api.wait_for(path(name), lambda o: o["metadata"]["uid"] != uid and
                     o.get("status", {}).get("nodeName") == NODE, timeout=90)

    # A watch dropped mid-stream is resumed.
    assert api.drop_watches() >= 3
    delete_and_see_it_back(names[0])
    # History compacted past the agent's resourceVersion: the resume gets 410 Gone, it relists.
    since = a.mark()
    api.create_namespace("moves-the-resource-version")
    api.compact()
    api.drop_watches()
    a.wait_log(r"listed \d+ PCIDevice objects", since=since)
    delete_and_see_it_back(names[1])
    # Someone edits a field the agent owns: put back.
    api.patch(api.devices_path("pcidevices", names[2], "status"), {"status": {"description": "edited"}})
    api.wait_for(path(names[2]), lambda o: o["status"]["description"] != "edited")
    # The API server restarts (history lost) and stays down until the agent has failed to
    # reconnect; then the agent's watches come back and it converges again.
    since = a.mark()
    api.restart(down=True)
    a.wait_log(r"cannot reach the API server https://\S+ \((Couldn't connect|Failed to connect)", since=since)
    up = api.mark()
    api.up()
    api.wait_requests(4, since=up, verb="watch", timeout=120)
    delete_and_see_it_back(names[3])
    m = a.metrics()
    assert m['hostdev_agent_watch_gone_total{kind="PCIDevice"}'] >= 1
    # Ready again: /readyz follows the API server's reachability (checked every 5 s).
    a.wait_ready_endpoint()


def test_rotated_token_is_used_by_the_next_requests(api, agents, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("token-one\n")
    api.set_tokens({"token-one": "agent-one"})
    for user in ("agent-one", "agent-two"):
        grant_cluster_role(api, user)
    root = make_root(tmp_path / "root", 30)
    a = agents(*agent_args(api.kubeconfig(token_file=str(token_file)), root))
    a.ready()
    assert {r["user"] for r in api.requests(userAgent="hostdev-agent/")} == {"agent-one"}
    # Rotation as the kubelet does it: the new token is valid first, the file is replaced, the old
    # token expires.
    api.add_token("token-two", "agent-two")
    tmp = tmp_path / "token.new"
    tmp.write_text("token-two\n")
    os.replace(tmp, token_file)
    api.remove_token("token-one")
    mark = api.mark()
    api.drop_watches()
    name = sorted(device_names(api, "pcidevices", NODE))[0]
    api.delete(api.devices_path("pcidevices", name))
    api.wait_for(api.devices_path("pcidevices", name), lambda o: "status" in o)
    after = api.requests(since=mark, userAgent="hostdev-agent/")
    assert after and {r["user"] for r in after} == {"agent-two"}, after
    assert all(r["code"] != 401 for r in after)


def test_object_deleted_by_hand_is_created_from_the_watch_event(api, agents, tmp_path):
    """A PCIDevice deleted by someone else is created again from the watch event that reports the
    deletion. That create starts inside libcurl's data callback of the watch, where libcurl
    refuses to add a transfer (CURLM_RECURSIVE_API_CALL): the client must launch it from the loop.
    It used to take the refusal for an allocation failure ("create PCIDevice ...: out of memory",
    a write error) and leave the object to the reconciler's retry timer."""
    root = make_root(tmp_path / "root", 10)
    a = agents(*agent_args(agent_kubeconfig(api), root, "--resync-interval", "0"))
    a.ready()
    errors = 'hostdev_agent_errors_total{what="write"}'
    assert a.metrics().get(errors, 0) == 0
    since = a.mark()
    for name in sorted(device_names(api, "pcidevices", NODE))[:3]:
        path = api.devices_path("pcidevices", name)
        uid = api.get(path)["metadata"]["uid"]
        api.delete(path)
        a.wait_log(rf"watch: deleted PCIDevice {name}$", since=since)
        api.wait_for(path, lambda o: o["metadata"]["uid"] != uid and
                     o.get("status", {}).get("nodeName") == NODE, timeout=90)
    with a.cond:
        failed = [x for x in a.lines[since:] if x is not None and
                  ("out of memory" in x or x.split()[1:2] == ["error"])]
    assert failed == []
    assert a.metrics().get(errors, 0) == 0
    assert a.stop() == 0


def test_node_deleted_removes_the_objects(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 30)
    a = agents(*agent_args(agent_kubeconfig(api), root))
    a.ready()
    names = sorted(device_names(api, "pcidevices", NODE))
    since = a.mark()
    api.delete_node(NODE)
    for n in names:
        api.wait_for(api.devices_path("pcidevices", n), deleted=True, timeout=90)
    a.wait_log(r"node node1 was deleted", since=since)
    api.gc_wait()
    assert device_names(api, "pcidevices", NODE) == {}
    # The node comes back (new uid): published again, owned by the new Node.
    node = api.create_node(NODE)
    a.wait_log(r"node node1 exists again", since=since)
    obj = api.wait_for(api.devices_path("pcidevices", names[0]), lambda o: "status" in o)
    assert obj["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]


def test_hotplug_pci_and_usb_reflected(api, agents, tmp_path):
    """Hot-plug through the library's monitor: umockdev shows libudev (which reads the real /sys)
    a fake tree and injects uevents; the agent must reflect each add, remove and re-bind."""
    if not (shutil.which("umockdev-wrapper") and os.path.exists(BED)):
        pytest.skip("umockdev (Debian umockdev, libumockdev-dev) is not installed")
    a = agents("--kubeconfig", agent_kubeconfig(api), "--node-name", NODE, "--pci-ids", PCI_IDS,
               "--usb-ids", USB_IDS, "--uevent-source", "kernel",
               "--root", str(tmp_path), "--sysfs", "/sys", bed=True)
    a.ready()
    usb = device_names(api, "usbdevices", NODE)
    # The standard tree (tests/usb/usb_tree.c): 7 devices, hubs left out; names are port identities.
    assert len(usb) == 7, sorted(usb)
    kbd = usb[f"{NODE}-000000140-usb2-1"]["status"]
    assert (kbd["vendorID"], kbd["productID"], kbd["devicePath"], kbd["pciAddress"]) == \
        ("0627", "0001", "/dev/bus/usb/001/002", "0000:00:14.0")
    assert kbd["classType"] == "HID" and kbd["portPath"] == "1-1"
    assert kbd["resourceName"] == f"kubevirt.io/{NODE}-000000140-usb2-1"
    assert set(device_names(api, "pcidevices", NODE)) == {f"{NODE}-000000140", f"{NODE}-000000030"}

    stick = api.devices_path("usbdevices", f"{NODE}-000000140-usb2-5")
    a.bed("usb-add 1-5 1 9 0951 1666 SER1")
    # The kernel sends the device's add before its interfaces exist and a bind once they do: the
    # class comes from the interface, so it appears with the bind.
    obj = api.wait_for(stick, lambda o: o.get("status", {}).get("devicePath") == "/dev/bus/usb/001/009"
                       and o["status"].get("classType") == "Mass Storage")
    assert obj["status"]["serial"] == "SER1"
    a.bed("usb-remove 1-5")
    api.wait_for(stick, deleted=True)
    # Re-plugged: a new device number, the same object name.
    a.bed("usb-add 1-5 1 10 0951 1666 SER1")
    api.wait_for(stick, lambda o: o.get("status", {}).get("devicePath") == "/dev/bus/usb/001/010")

    nic = api.devices_path("pcidevices", f"{NODE}-000000050")
    reads = device_reads(a.metrics())
    a.bed("pci-add 0000:00:05.0 8086 1521 020000 igb")
    obj = api.wait_for(nic, lambda o: o.get("status", {}).get("kernelDriverInUse") == "igb")
    # The event re-read that one function (no IOMMU group peers, no PF here), not the bus.
    m = a.metrics()
    pci_events = sum(v for k, v in m.items() if k.startswith('hostdev_agent_hotplug_events_total{subsystem="pci"'))
    assert pci_events >= 1
    assert device_reads(m)["inventory"] == reads["inventory"]
    assert device_reads(m)["event"] - reads.get("event", 0) == pci_events, (reads, device_reads(m), pci_events)
    assert obj["status"]["resourceName"] == "intel.com/I350_GIGABIT_NETWORK_CONNECTION"
    a.bed("pci-bind 0000:00:05.0 vfio-pci")
    obj = api.wait_for(nic, lambda o: o.get("status", {}).get("kernelDriverInUse") == "vfio-pci"
                       and o["metadata"]["labels"].get("hostdev.io/driver") == "vfio-pci")
    a.bed("pci-remove 0000:00:05.0")
    api.wait_for(nic, deleted=True)
    m = a.metrics()
    assert m['hostdev_agent_hotplug_events_total{subsystem="usb",action="add"}'] >= 2
    assert m['hostdev_agent_hotplug_events_total{subsystem="pci",action="remove"}'] >= 1
    assert a.stop() == 0


# ---- what goes wrong: the message, and exit or retry ------------------------------------------

def test_bad_configuration_exits_with_what_to_fix(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 10)
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text("clusters: [\n")
    a = agents("--kubeconfig", str(bad), "--node-name", NODE, "--root", root)
    assert a.wait_exit() == 2
    assert f"kubeconfig {bad}: not valid YAML" in a.log()
    env = {k: v for k, v in os.environ.items() if k != "NODE_NAME"}
    a = agents("--kubeconfig", agent_kubeconfig(api), "--root", root, env=env)
    assert a.wait_exit() == 2
    assert "set NODE_NAME from the downward API" in a.log()
    insecure = api.kubeconfig(str(tmp_path / "insecure"), insecure=True)
    a = agents(*agent_args(insecure, root))
    assert a.wait_exit() == 2
    assert "insecure-skip-tls-verify" in a.log() and "--allow-insecure" in a.log()
    a = agents(*agent_args(agent_kubeconfig(api), root, "--usb-naming", "bus"))
    assert a.wait_exit() == 2
    assert "--usb-naming bus: expected port or harvester" in a.log()


def test_unreachable_api_server_is_retried(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 10)
    api.down()
    a = agents(*agent_args(agent_kubeconfig(api), root, "--once"), metrics=False)
    assert a.wait_exit(120) == 1
    assert f"cannot reach the API server {api.url}" in a.log()
    a = agents(*agent_args(agent_kubeconfig(api), root))
    a.wait_log(r"cannot reach the API server https://127\.0\.0\.1:\d+ \(")
    a.wait_log(r"retrying in")
    code, body = a.http("/readyz")
    assert code == 503 and "not reachable" in body
    api.up()
    a.ready()


def test_missing_crds_are_named_and_waited_for(agents, tmp_path):
    with StandIn(tmp_path / "api") as api:
        api.create_node(NODE)
        root = make_root(tmp_path / "root", 10)
        a = agents(*agent_args(agent_kubeconfig(api), root, "--once"), metrics=False)
        assert a.wait_exit(120) == 1
        assert ("missing CustomResourceDefinitions: pcidevices.devices.harvesterhci.io, "
                "usbdevices.devices.harvesterhci.io, sriovnetworkdevices.devices.harvesterhci.io; "
                "apply them (kubectl apply -f examples/agent/deploy/crds/") in a.log()
        a = agents(*agent_args(agent_kubeconfig(api), root))
        a.wait_log(r"missing CustomResourceDefinitions")
        a.wait_log(r"retrying in")
        api.apply_crds(AGENT_CRDS)
        a.ready()


def test_forbidden_by_rbac_says_what_to_grant(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 10)
    api.forbid("list", "pcidevices", group="devices.harvesterhci.io")
    a = agents(*agent_args(agent_kubeconfig(api), root))
    m = a.wait_log(r"list/watch of pcidevices: .*HTTP 403 Forbidden: (.*); grant the agent's ClusterRole")
    assert 'cannot list resource "pcidevices" in API group "devices.harvesterhci.io"' in m.group(1)
    code, _ = a.http("/readyz")
    assert code == 503
    api.allow_all()
    a.ready()


def test_endpoints_json_logs_and_sigterm(api, agents, tmp_path):
    root = make_root(tmp_path / "root", 20)
    want_pci, _ = expected_objects(root)
    a = agents(*agent_args(agent_kubeconfig(api), root, "--log-format", "json"))
    a.ready()
    assert a.http("/healthz") == (200, "ok\n")
    assert a.http("/readyz") == (200, "ok\n")
    assert a.http("/nothing")[0] == 404
    m = a.metrics()
    assert m['hostdev_agent_objects{kind="PCIDevice"}'] == len(want_pci)
    assert m['hostdev_agent_writes_total{kind="PCIDevice",op="create"}'] == len(want_pci)
    assert m['hostdev_agent_api_requests_total{verb="create",code="201"}'] >= len(want_pci)
    assert m['hostdev_agent_reconcile_seconds_count'] >= len(want_pci)
    assert m["process_resident_memory_bytes"] > 0
    for line in a.log().splitlines():
        rec = json.loads(line)
        assert set(rec) >= {"ts", "level", "msg"} and rec["ts"].endswith("Z")
    assert a.stop() == 0
    # The last word above debug (the library's event loop may add its statistics at debug).
    said = [json.loads(line) for line in a.log().splitlines()]
    assert [r["msg"] for r in said if r["level"] != "debug"][-1] == "stopping (SIGTERM)"
    # User-Agent of every request.
    assert {r["userAgent"] for r in api.requests(user=AGENT_USER)} == {"hostdev-agent/0.1.0"}


def test_hotplug_pci_rejudges_a_claim_for_a_missing_device(api, agents, tmp_path):
    """A PCIDeviceClaim for a device that is not there says DeviceNotFound; when the device is
    hot-plugged, the monitor's event makes the agent judge the claim again at once (the resync is
    off). The testbed's function has no IOMMU group, so the library refuses it in its plan, before
    any store (NoIOMMU): what matters here is that the condition followed the device. The address
    is one this machine does not have, so nothing real can ever be touched. The claim metrics
    follow the conditions."""
    if not (shutil.which("umockdev-wrapper") and os.path.exists(BED)):
        pytest.skip("umockdev (Debian umockdev, libumockdev-dev) is not installed")
    address = "0000:3d:00.0"
    assert not os.path.exists(f"/sys/bus/pci/devices/{address}")
    name = f"{NODE}-{address.replace(':', '').replace('.', '')}"
    path = api.devices_path("pcideviceclaims", name)
    a = agents("--kubeconfig", agent_kubeconfig(api), "--node-name", NODE, "--pci-ids", PCI_IDS,
               "--usb-ids", USB_IDS, "--uevent-source", "kernel", "--resync-interval", "0",
               "--state-dir", str(tmp_path / "state"), "--root", str(tmp_path), "--sysfs", "/sys",
               bed=True)
    a.ready()

    def reason_is(want):
        def ok(o):
            conds = [c for c in (o.get("status") or {}).get("conditions") or [] if c["type"] == "Bound"]
            return bool(conds) and conds[0]["reason"] == want
        return ok

    api.create(api.devices_path("pcideviceclaims"), {
        "apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "PCIDeviceClaim",
        "metadata": {"name": name},
        "spec": {"address": address, "nodeName": NODE, "userName": "admin"}})
    claim = api.wait_for(path, reason_is("DeviceNotFound"))
    assert claim["status"]["passthroughEnabled"] is False
    assert a.metrics()['hostdev_agent_claims{reason="DeviceNotFound"}'] == 1

    a.bed(f"pci-add {address} 8086 1521 020000 igb")
    claim = api.wait_for(path, reason_is("NoIOMMU"))
    assert address in [c for c in claim["status"]["conditions"] if c["type"] == "Bound"][0]["message"]
    m = a.metrics()
    assert m['hostdev_agent_claims{reason="NoIOMMU"}'] == 1
    assert m['hostdev_agent_claims{reason="DeviceNotFound"}'] == 0

    api.delete(path)
    api.wait_for(path, None, deleted=True)
    deadline = time.monotonic() + 60
    while a.metrics()['hostdev_agent_claims{reason="NoIOMMU"}'] != 0:
        assert time.monotonic() < deadline, "the claim metric did not follow the deletion"
        time.sleep(0.1)
    assert a.stop() == 0
