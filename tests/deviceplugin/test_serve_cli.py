# SPDX-License-Identifier: Apache-2.0
"""`hostdev serve` and `hostdev permitted` end to end: the CLI serves a vfio PCI resource of a fake
root (bench/gen-dp-root.py: 82574L functions on vfio-pci, one IOMMU group each, NUMA 0/1) to the
Python grpcio fake kubelet (fake_kubelet.py), which registers it, watches ListAndWatch and calls
Allocate; a removed /dev/vfio/<group> turns its device Unhealthy; SIGTERM sends the empty list
and removes the socket. Hot-plug events come from a umockdev testbed (tests/agent/hotplug_bed.c,
run under umockdev-wrapper): its uevents name devices of the fake root.

Run: HOSTDEV_CLI=build/examples/cli/hostdev HOSTDEV_DP_PROTO_DIR=src/deviceplugin/proto \
     /usr/bin/python3 -m pytest tests/deviceplugin/test_serve_cli.py   (ctest sets both)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
import fake_kubelet as fk  # noqa: E402
from fake_kubelet import FakeKubelet, channel_to  # noqa: E402

HOSTDEV = os.environ.get("HOSTDEV_CLI")
PROTO_DIR = os.environ.get("HOSTDEV_DP_PROTO_DIR", os.path.join(SRC, "src", "proto"))
RESOURCE = "example.com/nic"
# agent-hotplug-bed, built beside the CLI: uevents on command.
BED = os.environ.get("HOSTDEV_HOTPLUG_BED") or (
    os.path.join(os.path.dirname(HOSTDEV), "..", "..", "tests", "agent", "agent-hotplug-bed")
    if HOSTDEV else None)
ENV = "PCI_RESOURCE_EXAMPLE_COM_NIC"


@pytest.fixture(scope="session", autouse=True)
def protos(tmp_path_factory):
    if not HOSTDEV:
        pytest.skip("HOSTDEV_CLI is not set")
    fk.load_protos(PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


@pytest.fixture
def host(tmp_path):
    """A fake root with three vfio-pci functions; returns (root, manifest devices)."""
    root = tmp_path / "root"
    manifest = tmp_path / "manifest.json"
    subprocess.run([sys.executable, os.path.join(SRC, "bench", "gen-dp-root.py"), "--devices",
                    "3", "--manifest", str(manifest), str(root)], check=True)
    return str(root), json.loads(manifest.read_text())["devices"]


def run_cli(root, *args):
    return subprocess.run([HOSTDEV, "--root", root, *args], capture_output=True, text=True,
                          timeout=300)


class Serve:
    """`hostdev serve` in the background against a fake kubelet; with @bed, on a umockdev testbed
    whose uevents the test makes (Serve.bed())."""

    def __init__(self, root, *args, bed=False):
        self.kubelet_dir = tempfile.mkdtemp(prefix="hostdev-serve-")
        self.kubelet = FakeKubelet(self.kubelet_dir).start()
        self.log = open(os.path.join(self.kubelet_dir, "serve.log"), "w+")
        cmd = [HOSTDEV, "--root", root, "serve", "--kubelet-dir", self.kubelet_dir, *args]
        env = None
        if bed:
            cmd = ["umockdev-wrapper", BED, "--"] + cmd
            env = dict(os.environ)
            # The wrapper preloads umockdev before ASan's runtime (ASan builds).
            env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if bed else None,
            stdout=subprocess.PIPE if bed else subprocess.DEVNULL, stderr=self.log, env=env,
            text=True)

    def bed(self, command):
        """One command to agent-hotplug-bed; returns once its uevents went."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", "%s: %r\n%s" % (command, answer, self.stderr())

    def count(self, pattern):
        """How many log lines match the regex @pattern."""
        return len(re.findall(pattern, self.stderr(), re.M))

    def events_handled(self):
        """Hot-plug events the manager has handled (its debug line per monitor wake-up)."""
        return sum(int(n) for n in re.findall(r"debug: (\d+) hot-plug events: ", self.stderr()))

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()
        self.kubelet.stop()
        self.log.close()


@pytest.fixture
def serving(host):
    root, devices = host
    # No periodic refresh: health changes can only come from the device-node watch.
    s = Serve(root, "--resource", RESOURCE, "--pci-device", "8086:10d3", "--refresh", "-1")
    yield root, devices, s
    s.stop()


def test_registers_lists_allocates_and_stops(serving):
    root, devices, s = serving
    assert s.kubelet.wait_registrations(1, timeout=fk.DEADLINE), s.stderr()
    _, request, options = s.kubelet.registrations[0]
    assert request.resource_name == RESOURCE
    assert request.version == "v1beta1"
    socket = os.path.join(s.kubelet.plugin_dir, request.endpoint)
    assert os.path.dirname(socket) == s.kubelet.plugin_dir, "endpoint is a file name"
    assert options.get_preferred_allocation_available

    watch = s.kubelet.last_watch()
    assert watch.wait(lambda w: w.lists and len(w.last()) == 3, timeout=fk.DEADLINE), watch.lists
    assert sorted(watch.last()) == sorted((d["id"], "Healthy", [d["numa"]]) for d in devices)

    # Allocate two devices for one container: KubeVirt's contract, in request order.
    ids = [devices[2]["id"], devices[0]["id"]]
    stub = fk.svc.DevicePluginStub(channel_to(socket))
    response = stub.Allocate(fk.pb.AllocateRequest(container_requests=[
        fk.pb.ContainerAllocateRequest(devices_ids=ids)]), timeout=fk.DEADLINE)
    assert len(response.container_responses) == 1
    answer = response.container_responses[0]
    assert dict(answer.envs) == {ENV: ",".join(ids)}
    specs = [(d.container_path, d.host_path, d.permissions) for d in answer.devices]
    assert specs == [("/dev/vfio/vfio", "/dev/vfio/vfio", "mrw")] + [
        ("/dev/vfio/%d" % devices[i]["group"], "/dev/vfio/%d" % devices[i]["group"], "mrw")
        for i in (2, 0)]

    # An unknown id is refused with a message naming it.
    with pytest.raises(grpc.RpcError) as e:
        stub.Allocate(fk.pb.AllocateRequest(container_requests=[
            fk.pb.ContainerAllocateRequest(devices_ids=["0000:ff:1f.7"])]), timeout=fk.DEADLINE)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "0000:ff:1f.7" in e.value.details()

    # The group node of device 1 goes away: the device turns Unhealthy (inotify on <dev>/vfio:
    # there is no refresh interval), and Healthy again when the node comes back.
    node = os.path.join(root, "dev", "vfio", str(devices[1]["group"]))
    os.unlink(node)
    assert watch.wait(lambda w: (devices[1]["id"], "Unhealthy", [devices[1]["numa"]])
                      in w.last(), timeout=fk.DEADLINE), watch.last()
    open(node, "w").close()
    assert watch.wait(lambda w: (devices[1]["id"], "Healthy", [devices[1]["numa"]])
                      in w.last(), timeout=fk.DEADLINE), watch.last()

    # SIGTERM: an empty list reaches the kubelet, the socket goes, exit status 0.
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=fk.DEADLINE) == 0, s.stderr()
    assert watch.wait(lambda w: w.last() == [], timeout=fk.DEADLINE), "no empty list on stop"
    assert not os.path.exists(socket)
    log = s.stderr()
    assert "serving %s (3 devices) on %s" % (RESOURCE, socket) in log, log
    assert "stopping" in log


def inotify_queue_limit():
    try:
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            return int(f.read())
    except OSError:
        return None


def test_health_by_event(host):
    """Health follows events, each re-reading only what it names: a removed group node turns its
    device Unhealthy with no full re-read of the resource (the debug log counts them), and back;
    a lost batch of events (a real inotify queue overflow: the server stopped while more events
    than the queue holds are made) reads every device again, which finds the change hidden in
    it."""
    root, devices = host
    s = Serve(root, "-v", "--resource", RESOURCE, "--pci-device", "8086:10d3", "--refresh", "-1")
    try:
        assert s.kubelet.wait_registrations(1, timeout=fk.DEADLINE), s.stderr()
        watch = s.kubelet.last_watch()
        assert watch.wait(lambda w: w.lists and len(w.last()) == 3, timeout=fk.DEADLINE), \
            watch.lists
        full = "%s: read every device again" % RESOURCE
        reads = s.stderr().count(full)
        assert reads >= 1, s.stderr()

        def state(i, health):
            return (devices[i]["id"], health, [devices[i]["numa"]])

        node = os.path.join(root, "dev", "vfio", str(devices[1]["group"]))
        os.unlink(node)
        assert watch.wait(lambda w: state(1, "Unhealthy") in w.last(), timeout=fk.DEADLINE), \
            watch.last()
        assert state(0, "Healthy") in watch.last() and state(2, "Healthy") in watch.last()
        fk.wait_until(lambda: "1 group nodes changed: 1 devices checked again" in s.stderr(),
                      "the group re-check in the log")
        open(node, "w").close()
        assert watch.wait(lambda w: state(1, "Healthy") in w.last(), timeout=fk.DEADLINE), \
            watch.last()
        log = s.stderr()
        assert log.count(full) == reads, "a group node event read every device:\n" + log
        assert "resource %s: device %s is Unhealthy" % (RESOURCE, devices[1]["id"]) in log

        limit = inotify_queue_limit()
        if limit is None or limit > 1 << 20:
            pytest.skip("fs.inotify.max_queued_events is %s: no overflow to make" % limit)
        os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            hidden = os.path.join(root, "dev", "vfio", str(devices[2]["group"]))
            os.unlink(hidden)
            junk = os.path.join(root, "dev", "vfio", "junk")
            for _ in range(limit // 2 + 16):
                open(junk, "w").close()
                os.unlink(junk)
        finally:
            os.kill(s.proc.pid, signal.SIGCONT)
        assert watch.wait(lambda w: state(2, "Unhealthy") in w.last(), timeout=fk.DEADLINE), \
            watch.last()
        fk.wait_until(lambda: "inotify queue overflow" in s.stderr(), "the overflow in the log")
        assert s.stderr().count(full) > reads, s.stderr()
    finally:
        s.stop()


def test_reregisters_after_kubelet_restart(serving):
    _, _, s = serving
    assert s.kubelet.wait_registrations(1, timeout=fk.DEADLINE), s.stderr()
    s.kubelet.restart()
    assert s.kubelet.wait_registrations(2, timeout=fk.DEADLINE), s.stderr()
    assert s.kubelet.registrations[1][1].resource_name == RESOURCE


def watch_named(kubelet, resource):
    return fk.wait_until(lambda: next((w for w in kubelet.watches
                                       if w.thread.name == "watch-" + resource), None),
                         "a ListAndWatch stream of " + resource)


def follow_hotplug(root, devices, grace):
    """`hostdev serve` with per-device resources while device 2 is hidden (its sysfs link set
    aside: the enumeration does not see it), then shown: (Serve, link, aside, new name)."""
    hidden = devices[2]["id"]
    link = os.path.join(root, "sys", "bus", "pci", "devices", hidden)
    aside = os.path.join(root, "aside")
    os.rename(link, aside)
    # No uevents come for a fake root: the config is resolved again every 100 ms.
    s = Serve(root, "--naming", "per-device", "--pci-device", "8086:10d3", "--refresh", "100",
              "--resolve-interval", "100", "--grace", str(grace))
    assert s.kubelet.wait_registrations(2, timeout=fk.DEADLINE), s.stderr()
    first = {r.resource_name for _, r, _ in s.kubelet.registrations}
    os.rename(aside, link)
    assert s.kubelet.wait_registrations(3, timeout=fk.DEADLINE), s.stderr()
    new = s.kubelet.registrations[2][1].resource_name
    assert new not in first
    assert new.endswith("-" + hidden.replace(":", "").replace(".", "")), new
    return s, link, aside, new


def test_follows_hotplug_grace(host):
    """A device plugged later whose per-device name is new gets its server, registered without a
    restart; when it leaves, its resource stays, listing it Unhealthy (here the grace never ends),
    and takes it back when it returns."""
    root, devices = host
    s, link, aside, new = follow_hotplug(root, devices, -1)
    try:
        numa = [devices[2]["numa"]]
        watch = watch_named(s.kubelet, new)
        assert watch.wait(lambda w: w.last() == [(devices[2]["id"], "Healthy", numa)]), \
            watch.lists
        os.rename(link, aside)
        assert watch.wait(lambda w: w.last() == [(devices[2]["id"], "Unhealthy", numa)]), \
            watch.lists
        fk.wait_until(lambda: "%s has no device left" % new in s.stderr(), "the log line")
        os.rename(aside, link)
        assert watch.wait(lambda w: w.last() == [(devices[2]["id"], "Healthy", numa)]), \
            watch.lists
        fk.wait_until(lambda: "%s has devices again" % new in s.stderr(), "the log line")
        assert len(s.kubelet.registrations) == 3, "nothing registered again"
        log = s.stderr()
        assert "serving %s (1 devices) on " % new in log and "(new on this host)" in log, log
    finally:
        s.stop()


def test_follows_hotplug_end(host):
    """After the grace period a resource without devices ends: an empty list to the kubelet,
    its socket removed; the other resources serve on."""
    root, devices = host
    s, link, aside, new = follow_hotplug(root, devices, 0)
    try:
        sockets = {r.resource_name: os.path.join(s.kubelet.plugin_dir, r.endpoint)
                   for _, r, _ in s.kubelet.registrations}
        watch = watch_named(s.kubelet, new)
        assert watch.wait(lambda w: w.lists and w.last() != []), watch.lists
        os.rename(link, aside)
        assert watch.wait(lambda w: w.last() == [] and w.ended == "ok"), watch.lists
        fk.wait_until(lambda: not os.path.exists(sockets[new]), "the socket removed")
        for name, path in sockets.items():
            if name != new:
                assert os.path.exists(path), name
        assert "%s ends: no device for 0 ms" % new in s.stderr()
        assert s.proc.poll() is None, s.stderr()
    finally:
        s.stop()


def need_bed():
    if not BED or not os.path.exists(BED) or not shutil.which("umockdev-wrapper"):
        pytest.skip("no umockdev testbed (agent-hotplug-bed, umockdev-wrapper): no uevents to make")


# The manager's debug lines: a resolution started (the one at start is not logged), and a monitor
# wake-up's events that changed nothing the config resolves to.
RESOLVING = r"resolving the config again \(resolution \d+\)"
NO_CHANGE = r"hot-plug events: none changes which resources exist"


def test_events_of_served_devices_do_not_resolve(host):
    """With every resource named explicitly no uevent changes which resources exist: the config is
    not resolved again (no enumeration of every device on any thread), while the device the
    events name is read again on its own."""
    need_bed()
    root, devices = host
    s = Serve(root, "-v", "--resource", RESOURCE, "--pci-device", "8086:10d3", "--refresh", "-1",
              bed=True)
    try:
        assert s.kubelet.wait_registrations(1, timeout=fk.DEADLINE), s.stderr()
        watch = s.kubelet.last_watch()
        assert watch.wait(lambda w: w.lists and len(w.last()) == 3, timeout=fk.DEADLINE), \
            watch.lists
        address = devices[1]["id"]
        reread = r"%s: %s read again after a uevent" % (re.escape(RESOURCE), re.escape(address))
        # add and bind, change, unbind, bind: five events for a served device.
        s.bed("pci-add %s 8086 10d3 020000 vfio-pci" % address)
        s.bed("pci-change %s" % address)
        s.bed("pci-unbind %s" % address)
        s.bed("pci-bind %s vfio-pci" % address)
        fk.wait_until(lambda: s.events_handled() == 5, "the five events handled")
        assert s.count(reread) == 5, s.stderr()
        assert s.count(NO_CHANGE) >= 1, s.stderr()
        assert s.count(RESOLVING) == 0, "an event resolved the config:\n" + s.stderr()
        assert all(h == "Healthy" for _, h, _ in watch.last()), watch.last()
    finally:
        s.stop()


def test_hotplug_events_serve_and_end_resources(host):
    """Per-device resources on events alone (no interval): a device plugged later gets its server
    from its add event (resolved on the worker thread); a change event resolves nothing; after its
    remove event the resource lists it Unhealthy, and ends once the grace period is over."""
    need_bed()
    root, devices = host
    hidden = devices[2]["id"]
    link = os.path.join(root, "sys", "bus", "pci", "devices", hidden)
    aside = os.path.join(root, "aside")
    os.rename(link, aside)
    s = Serve(root, "-v", "--naming", "per-device", "--pci-device", "8086:10d3", "--refresh", "-1",
              "--resolve-interval", "-1", "--grace", "500", bed=True)
    try:
        assert s.kubelet.wait_registrations(2, timeout=fk.DEADLINE), s.stderr()
        first = {r.resource_name for _, r, _ in s.kubelet.registrations}
        os.rename(aside, link)
        s.bed("pci-add %s 8086 10d3 020000 vfio-pci" % hidden)  # add and bind
        assert s.kubelet.wait_registrations(3, timeout=fk.DEADLINE), s.stderr()
        new = s.kubelet.registrations[2][1].resource_name
        assert new not in first and new.endswith("-" + re.sub("[:.]", "", hidden)), new
        assert s.count(RESOLVING + " on the worker thread") >= 1, s.stderr()
        # Both events handled and every resolution they asked for done (at most one more ran
        # after the first: they are coalesced).
        fk.wait_until(lambda: s.events_handled() == 2 and
                      s.count(RESOLVING) == s.count(r"resolution \d+ done: 3 resources"),
                      "the resolutions of the add and bind events")
        resolutions = s.count(RESOLVING)
        assert 1 <= resolutions <= 2, s.stderr()
        s.bed("pci-change %s" % hidden)
        fk.wait_until(lambda: s.events_handled() == 3, "the change event handled")
        assert s.count(RESOLVING) == resolutions, "a change event resolved:\n" + s.stderr()

        sockets = {r.resource_name: os.path.join(s.kubelet.plugin_dir, r.endpoint)
                   for _, r, _ in s.kubelet.registrations}
        watch = watch_named(s.kubelet, new)
        numa = [devices[2]["numa"]]
        os.rename(link, aside)
        s.bed("pci-remove %s" % hidden)
        assert watch.wait(lambda w: w.lists and w.last() == [(hidden, "Unhealthy", numa)]), \
            watch.lists
        fk.wait_until(lambda: "%s has no device left" % new in s.stderr(), "the resource gone")
        # The end of the grace period resolves again, on the worker thread too.
        assert watch.wait(lambda w: w.last() == [] and w.ended == "ok"), watch.lists
        fk.wait_until(lambda: not os.path.exists(sockets[new]), "the socket removed")
        assert "%s ends: no device for 500 ms" % new in s.stderr()
        for name, path in sockets.items():
            if name != new:
                assert os.path.exists(path), name
        assert s.proc.poll() is None, s.stderr()
    finally:
        s.stop()


def test_dry_run_and_permitted(host):
    root, devices = host
    r = run_cli(root, "serve", "--dry-run", "--resource", RESOURCE, "--pci-device", "8086:10d3")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "%s (pci): %s\n" % (RESOURCE, " ".join(d["id"] for d in devices))

    r = run_cli(root, "permitted", "--json", "--resource", RESOURCE, "--pci-device", "8086:10d3")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"permittedHostDevices": {"pciHostDevices": [
        {"pciVendorSelector": "8086:10d3", "resourceName": RESOURCE,
         "externalResourceProvider": True}]}}
    r = run_cli(root, "permitted", "--resource", RESOURCE, "--pci-device", "8086:10d3")
    assert r.returncode == 0, r.stderr
    assert "pciVendorSelector" in r.stdout and "externalResourceProvider: true" in r.stdout


def test_permitted_usb_bundle(host, tmp_path):
    """A USB bundle gives one KubeVirt usb entry with every member as a selector, in the order
    written; an impossible bundle is refused with the library's words."""
    root, _ = host
    config = tmp_path / "bundle.json"
    config.write_text(json.dumps({"resources": [
        {"kind": "usb", "resourceName": "example.com/desk",
         "selectors": {"bundle": ["046d:c31c", "046d:c077", "076b:3021"]}}]}))
    r = run_cli(root, "permitted", "--json", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"permittedHostDevices": {"usb": [
        {"resourceName": "example.com/desk",
         "selectors": [{"vendor": "046d", "product": "c31c"},
                       {"vendor": "046d", "product": "c077"},
                       {"vendor": "076b", "product": "3021"}],
         "externalResourceProvider": True}]}}

    config.write_text(json.dumps({"resources": [
        {"kind": "usb", "resourceName": "example.com/desk",
         "selectors": {"bundle": ["046d:c31c", "046d:*"]}}]}))
    r = run_cli(root, "permitted", "--config", str(config))
    assert r.returncode != 0
    assert ('resources[0] "example.com/desk": selectors.bundle[1] "046d:*" is not a '
            'vendor:product id') in r.stderr


def test_usage_errors(host, tmp_path):
    root, _ = host
    r = run_cli(root, "serve")
    assert r.returncode == 2
    assert "give either --config FILE or one resource" in r.stderr
    r = run_cli(root, "serve", "--resource", RESOURCE, "--pci-device", "8086:10d3",
                "--usb-device", "0627:0001")
    assert r.returncode == 2
    assert "one resource has one kind" in r.stderr
    r = run_cli(root, "serve", "--resource", RESOURCE, "--pci-device", "8086:10d3",
                "--grace", "-2")
    assert r.returncode == 2
    assert "--grace '-2': expected milliseconds (0-86400000), or -1 for never" in r.stderr
    r = run_cli(root, "serve", "--resource", RESOURCE, "--pci-device", "8086:10d3",
                "--resolve-interval", "0")
    assert r.returncode == 2
    assert ("--resolve-interval '0': expected milliseconds (1-3600000), or -1 for never"
            in r.stderr)
    bad = tmp_path / "bad.json"
    bad.write_text('{"resources": [{"kind": "pci", "resourceName": "nic", '
                   '"selectors": {"vendorDevice": ["8086:10d3"]}}]}')
    r = run_cli(root, "serve", "--config", str(bad))
    assert r.returncode == 2
    assert 'resources[0] "nic"' in r.stderr and "resourceName" in r.stderr
    r = run_cli(root, "serve", "--config", str(tmp_path / "missing.json"))
    assert r.returncode == 1
    assert "missing.json" in r.stderr
    r = run_cli(root, "serve", "--resource", RESOURCE, "--pci-device", "8086:10d3",
                "--registration", "sometimes")
    assert r.returncode == 2 and "--registration 'sometimes'" in r.stderr


def test_example_manifests(host, tmp_path):
    """examples/deviceplugin/daemonset.yaml and examples/systemd/hostdev-deviceplugins.service run
    a config `hostdev serve` accepts, mount directories (never socket files), and agree on the
    config path; the DaemonSet's command, run with the NODE_NAME its downward API gives, names
    per-device resources after the node."""
    yaml = pytest.importorskip("yaml")
    root, devices = host
    with open(os.path.join(SRC, "examples", "deviceplugin", "daemonset.yaml")) as f:
        docs = {d["kind"]: d for d in yaml.safe_load_all(f)}
    config = tmp_path / "deviceplugins.json"
    config.write_text(docs["ConfigMap"]["data"]["deviceplugins.json"])
    r = run_cli(root, "serve", "--dry-run", "--config", str(config))
    assert r.returncode == 0, r.stderr
    # The Harvester-pooled vfio resource holds every vfio-pci function of the fake root.
    assert r.stdout.endswith(" ".join(d["id"] for d in devices) + "\n"), r.stdout

    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    command = container["command"]
    assert command[:2] == ["hostdev", "serve"]
    config_path = command[command.index("--config") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert os.path.dirname(config_path) == mounts["config"]
    assert volumes["config"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    for name, path in (("device-plugins", "/var/lib/kubelet/device-plugins"),
                       ("plugins-registry", "/var/lib/kubelet/plugins_registry")):
        assert mounts[name] == path and volumes[name]["hostPath"]["path"] == path
        assert volumes[name]["hostPath"]["type"].startswith("Directory")

    # The node's name comes from the downward API, and hostdev takes it from NODE_NAME: names
    # made from it (per-device resources here) carry the node's name, not the pod's host name.
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    per_device = tmp_path / "per-device.json"
    per_device.write_text('{"resources": [{"kind": "pci", "naming": "per-device", '
                          '"selectors": {"vendorDevice": ["8086:10d3"]}}]}')
    argv = list(command) + ["--dry-run"]
    argv[argv.index("--config") + 1] = str(per_device)
    argv.insert(1, "--root=" + root)
    r = subprocess.run([HOSTDEV] + argv[1:], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, NODE_NAME="worker-7"))
    assert r.returncode == 0, r.stderr
    names = [line.split(" ", 1)[0] for line in r.stdout.splitlines()]
    assert names == ["intel.com/worker-7-%s" % d["id"].replace(":", "").replace(".", "")
                     for d in devices], r.stdout
    # Without it, the host name (a pod's, in a DaemonSet); --node-name still wins over it.
    without = dict(os.environ)
    without.pop("NODE_NAME", None)
    r = subprocess.run([HOSTDEV] + argv[1:], capture_output=True, text=True, timeout=60,
                       env=without)
    assert r.returncode == 0 and "worker-7" not in r.stdout
    assert os.uname().nodename in r.stdout or "localhost" in r.stdout
    r = subprocess.run([HOSTDEV, "--node-name", "node-a"] + argv[1:], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, NODE_NAME="worker-7"))
    assert r.returncode == 0 and "intel.com/node-a-" in r.stdout and "worker-7" not in r.stdout

    unit = open(os.path.join(SRC, "examples", "systemd", "hostdev-deviceplugins.service")).read()
    lines = dict(line.split("=", 1) for line in unit.splitlines()
                 if "=" in line and not line.startswith("#"))
    exec_start = lines["ExecStart"].split()
    assert exec_start[1:3] == ["serve", "--config"]
    assert lines["ConditionPathExists"] == exec_start[3]

    # The full example config parses and resolves here too (most of its devices are absent).
    r = run_cli(root, "permitted", "--config",
                os.path.join(SRC, "examples", "deviceplugin", "config.json"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("permittedHostDevices:")
