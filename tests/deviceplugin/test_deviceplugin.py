# SPDX-License-Identifier: Apache-2.0
"""Device-plugin serving against a fake kubelet written with Python grpcio (fake_kubelet.py).

Run: HOSTDEV_DP_TEST_PLUGIN=build/tests/deviceplugin/dp_test_plugin \
     HOSTDEV_DP_PROTO_DIR=src/deviceplugin/proto /usr/bin/python3 -m pytest tests/deviceplugin
(ctest -L deviceplugin sets both). Every kubelet directory is a temporary directory.
"""
import concurrent.futures
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_kubelet as fk  # noqa: E402
from fake_kubelet import FakeKubelet, Plugin, Watch, channel_to  # noqa: E402

PLUGIN = os.environ.get("HOSTDEV_DP_TEST_PLUGIN")
PROTO_DIR = os.environ.get("HOSTDEV_DP_PROTO_DIR",
                           os.path.join(os.path.dirname(__file__), "..", "..", "src", "proto"))
RESOURCE = "example.com/dev"

STOPPED, REGISTERING, REGISTERED, SERVING = 0, 1, 2, 3


@pytest.fixture(scope="session", autouse=True)
def protos(tmp_path_factory):
    if not PLUGIN:
        pytest.skip("HOSTDEV_DP_TEST_PLUGIN is not set")
    fk.load_protos(PROTO_DIR, str(tmp_path_factory.mktemp("protos")))


@pytest.fixture
def root():
    """A kubelet root with device-plugins/ (holding a checkpoint that must stay untouched) and
    plugins_registry/."""
    d = tempfile.mkdtemp(prefix="hostdev-dp-")
    os.makedirs(os.path.join(d, "device-plugins"))
    os.makedirs(os.path.join(d, "plugins_registry"))
    checkpoint = os.path.join(d, "device-plugins", fk.CHECKPOINT)
    content = b'{"Data":{"PodDeviceEntries":null,"RegisteredDevices":{}},"Checksum":1}'
    with open(checkpoint, "wb") as f:
        f.write(content)
    before = os.stat(checkpoint)
    yield d
    reap_plugins()
    after = os.stat(checkpoint)
    with open(checkpoint, "rb") as f:
        assert f.read() == content, "kubelet_internal_checkpoint was changed"
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == \
        (before.st_ino, before.st_mtime_ns, before.st_size), "checkpoint touched"
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def kubelet(root):
    k = FakeKubelet(root).start()
    yield k
    k.stop()


plugins = []


def start_plugin(root, **kw):
    p = Plugin(PLUGIN, root, **kw)
    if not p.socket:
        p.kill()
        raise AssertionError("plugin did not start:\n" + p.read_log())
    plugins.append(p)
    return p


def reap_plugins():
    """Every plugin of the test must exit 0 when asked to quit (ASan builds: no leak)."""
    failures = []
    while plugins:
        p = plugins.pop()
        code = p.quit()
        if code != 0:
            failures.append("plugin exited with %s:\n%s" % (code, p.read_log()[-4000:]))
    assert not failures, "\n".join(failures)


def stub(path, authority=None):
    return fk.svc.DevicePluginStub(channel_to(path, authority))


def allocate_request(*containers):
    return fk.pb.AllocateRequest(container_requests=[
        fk.pb.ContainerAllocateRequest(devices_ids=list(ids)) for ids in containers])


def preferred_request(*containers):
    return fk.pb.PreferredAllocationRequest(container_requests=[
        fk.pb.ContainerPreferredAllocationRequest(
            available_deviceIDs=list(a), must_include_deviceIDs=list(m), allocation_size=n)
        for a, m, n in containers])


def wait_state(plugin, state, registrations=None, timeout=fk.DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        st = plugin.status()
        if st[0] == state and (registrations is None or st[1] >= registrations):
            return st
        if time.monotonic() > deadline:
            raise AssertionError("state %s, wanted %s (registrations %s); log:\n%s" %
                                 (st, state, registrations, plugin.read_log()[-4000:]))
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------
# Registration


def test_registration(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1), p.read_log()
    _, req, options = kubelet.registrations[0]
    assert req.version == "v1beta1"
    assert req.resource_name == RESOURCE
    # The endpoint is the socket's file name, relative to the device-plugin directory.
    assert req.endpoint == os.path.basename(p.socket) == "example.com_dev.sock"
    assert os.path.dirname(p.socket) == kubelet.plugin_dir
    assert req.options.pre_start_required and req.options.get_preferred_allocation_available
    # The kubelet dialled back inside Register and got the same options.
    assert options == req.options
    assert not kubelet.errors
    assert wait_state(p, REGISTERED, 1)[1] == 1


def test_options_follow_the_plugin(root, kubelet):
    p = start_plugin(root, args=["--no-preferred", "--no-prestart"])
    assert kubelet.wait_registrations(1)
    _, req, options = kubelet.registrations[0]
    assert not req.options.pre_start_required
    assert not req.options.get_preferred_allocation_available
    assert not options.pre_start_required and not options.get_preferred_allocation_available
    assert not stub(p.socket).GetDevicePluginOptions(fk.pb.Empty()).pre_start_required


def log_count(p, text):
    return p.read_log().count(text)


def wait_log(p, text, n=1):
    """Wait until the plugin's log has @text @n times."""
    fk.wait_until(lambda: log_count(p, text) >= n, "%r in the plugin's log" % text)


def test_kubelet_started_after_the_plugin(root):
    p = start_plugin(root)
    wait_log(p, "registration with the kubelet")
    assert p.status()[0] == REGISTERING
    k = FakeKubelet(root).start()
    try:
        # kubelet.sock appearing triggers a registration (inotify), without waiting for the
        # next retry; that it is the cause shows in the log (a retry may come first on a
        # loaded machine: that registration counts as well).
        assert k.wait_registrations(1), p.read_log()
        wait_log(p, "kubelet.sock appeared; registering again")
        wait_state(p, REGISTERED, 1)
    finally:
        k.stop()


def test_refused_registration_is_retried_with_backoff(root):
    k = FakeKubelet(root, refuse="resource name already taken").start()
    try:
        p = start_plugin(root)

        def attempts():
            return [line for line in p.read_log().splitlines()
                    if "registration with the kubelet" in line and "failed" in line]

        fk.wait_until(lambda: len(attempts()) >= 3, "three refused registrations")
        attempts = attempts()
        assert "resource name already taken" in attempts[0]
        assert "retrying in 1 s" in attempts[0] and "retrying in 2 s" in attempts[1]
        assert p.status()[0] == REGISTERING
        k.refuse = None
        assert k.wait_registrations(1)
        wait_state(p, REGISTERED, 1)
    finally:
        k.stop()


def test_kubelet_restart(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    wait_state(p, REGISTERED, 1)
    before = os.stat(p.socket)
    seen = log_count(p, "kubelet.sock appeared; registering again")
    kubelet.restart()
    # The new kubelet.sock triggers the registration (inotify), not a retry timer.
    assert kubelet.wait_registrations(2), p.read_log()
    wait_log(p, "kubelet.sock appeared; registering again", seen + 1)
    # The plugin listens on a new socket file, and the new kubelet got the list.
    after = os.stat(p.socket)
    assert (after.st_ino, after.st_ctime_ns) != (before.st_ino, before.st_ctime_ns)
    w2 = kubelet.last_watch()
    assert w2 is not w and w2.wait_lists(1)
    assert [d[0] for d in w2.last()] == ["dev-a", "dev-b", "dev-c", "dev-d"]
    st = wait_state(p, REGISTERED, 2)
    assert st[1] == 2


def test_kubelet_restart_with_a_pause(root, kubelet):
    p = start_plugin(root)
    wait_state(p, REGISTERED, 1)
    # The kubelet is away for 1.5 s (a scenario, not a wait): the plugin registers when its
    # kubelet.sock comes back (inotify), not after its retry backoff.
    seen = log_count(p, "kubelet.sock appeared; registering again")
    kubelet.restart(delay=1.5)
    assert kubelet.wait_registrations(2), p.read_log()
    wait_log(p, "kubelet.sock appeared; registering again", seen + 1)
    wait_state(p, REGISTERED, 2)


def test_list_and_watch_ended_by_the_kubelet(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    w.cancel()
    assert kubelet.wait_registrations(2), p.read_log()
    w2 = kubelet.last_watch()
    assert w2 is not w and w2.wait_lists(1)
    wait_state(p, REGISTERED, 2)
    # The end of the replaced stream of an older registration causes nothing more: a stream end
    # that counted would turn the state back to REGISTERING at once. A change pushed through
    # the new stream shows the plugin has handled everything that came before it.
    p.command("health dev-a 0")
    assert w2.wait_lists(2)
    assert p.status()[:2] == (REGISTERED, 2)
    assert len(kubelet.registrations) == 2


def test_another_process_serves_the_socket(root, kubelet):
    start_plugin(root)
    assert kubelet.wait_registrations(1)
    second = Plugin(PLUGIN, root)
    assert second.socket is None
    assert second.proc.wait(10) == 1
    assert "another process serves" in second.read_log()


def test_stale_socket_is_replaced(root, kubelet):
    import socket as pysocket
    path = os.path.join(kubelet.plugin_dir, "example.com_dev.sock")
    s = pysocket.socket(pysocket.AF_UNIX)
    s.bind(path)
    s.close()  # a socket file nobody accepts on
    p = start_plugin(root)
    assert p.socket == path
    assert kubelet.wait_registrations(1)


def test_long_directory_gives_a_short_socket_name():
    deep = tempfile.mkdtemp(prefix="hostdev-dp-" + "x" * 35 + "-")
    try:
        os.makedirs(os.path.join(deep, "device-plugins"))
        k = FakeKubelet(deep).start()
        resource = "example.com/" + "N" * 60
        p = start_plugin(deep, resource=resource)
        assert len(p.socket) <= 107 and os.path.exists(p.socket)
        assert os.path.basename(p.socket).startswith("example.com_NNN")
        assert k.wait_registrations(1)
        assert k.registrations[0][1].endpoint == os.path.basename(p.socket)
        assert p.quit() == 0
        plugins.remove(p)
        # The same name again after a restart: the kubelet's checkpoint stays valid.
        p2 = start_plugin(deep, resource=resource)
        assert p2.socket == p.socket
        k.stop()
    finally:
        reap_plugins()
        subprocess.run(["rm", "-rf", deep])


# --------------------------------------------------------------------------------------------
# ListAndWatch and health


def test_initial_list_and_topology(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    assert w.last() == [("dev-a", "Healthy", [0]), ("dev-b", "Healthy", [1]),
                        ("dev-c", "Healthy", None), ("dev-d", "Unhealthy", [0])]
    assert p


def health(lists):
    return dict((d[0], d[1]) for d in lists)


def test_health_change_reaches_every_watcher(root, kubelet):
    # How fast it arrives is measured by bench/run-dp.sh, not asserted here.
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    other = Watch(channel_to(p.socket))
    assert other.wait_lists(1)
    for value, expect in (("0", "Unhealthy"), ("1", "Healthy")):
        n = len(w.lists)
        p.command("health dev-b " + value)
        assert w.wait_lists(n + 1)
        assert health(w.last())["dev-b"] == expect
    assert other.wait(lambda x: len(x.lists) == 3)
    assert other.last() == w.last()
    # No change, no message: the next message is the one of the next change.
    n = len(w.lists)
    p.command("health dev-b 1")
    p.command("health dev-c 0")
    assert w.wait_lists(n + 1)
    assert other.wait(lambda x: len(x.lists) == n + 1)
    assert len(w.lists) == n + 1 and health(w.last())["dev-c"] == "Unhealthy"


def commands_at_once(plugin, lines):
    """Write @lines in one write: the plugin runs them back to back, the loop serving meanwhile."""
    plugin._write("\n".join(lines))
    for line in lines:
        assert plugin.expect("OK " + line), "no answer to %r; log:\n%s" % (line, plugin.read_log())


@pytest.mark.parametrize("args", [[], ["--list-off-loop"]], ids=["on-loop", "off-loop"])
def test_changes_in_quick_succession_end_with_the_newest_list(root, kubelet, args):
    # set_devices() sends at once, a refresh when its list is read (on the worker thread with
    # --list-off-loop): however the lists go out, the newest state arrives last, and no older
    # one after it (a marker device added once it arrived bounds what the stream received).
    p = start_plugin(root, args=args)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    for k in range(20):
        lines = ["set a:1:-1,b:1:0", "health a 0", "set a:1:-1,c:1:1,d:1:-1", "health c 0",
                 "health d 0", "set e%d:1:-1,c:0:1" % k, "health e%d 0" % k]
        final = [("e%d" % k, "Unhealthy", None), ("c", "Unhealthy", [1])]
        marker = ("marker%d" % k, "Healthy", [1])
        n = len(w.lists)
        commands_at_once(p, lines)
        assert w.wait(lambda x: x.last() == final), w.lists[n:]
        p.command("add marker%d 1" % k)
        assert w.wait(lambda x: x.last() and x.last()[-1] == marker)
        with w.cond:
            received = [devices for _, devices in w.lists[n:]]
        assert received[-1] == final + [marker], received
        first = received.index(final)
        assert all(d == final for d in received[first:-1]), received


def test_stream_closed_while_its_list_is_queued(root, kubelet):
    # The kubelet cancels a stream as a change is pushed: whether the cancel arrives before the
    # list is queued or after, the closed stream is never written (ASan builds: no use after
    # free), the plugin warns of no failed send, and the open stream gets the newest list.
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    for k in range(20):
        other = Watch(channel_to(p.socket))
        assert other.wait_lists(1)
        other.cancel()
        commands_at_once(p, ["health dev-a %d" % (k % 2), "health dev-b %d" % (k % 2),
                             "set dev-a:%d:0,dev-b:1:1,x%d:1:-1" % (k % 2, k)])
        assert other.wait(lambda x: x.ended is not None)
        assert w.wait(lambda x: x.last() and x.last()[-1][0] == "x%d" % k)
        assert w.last() == [("dev-a", ["Unhealthy", "Healthy"][k % 2], [0]),
                            ("dev-b", "Healthy", [1]), ("x%d" % k, "Healthy", None)]
    p.command("health dev-b 0")
    assert w.wait(lambda x: health(x.last())["dev-b"] == "Unhealthy")
    assert p.proc.poll() is None
    assert "could not queue the device list" not in p.read_log()


def test_devices_added_removed_and_set(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    p.command("add 0000:3b:02.1 0")
    assert w.wait_lists(2)
    assert w.last()[-1] == ("0000:3b:02.1", "Healthy", [0])
    p.command("remove dev-a")
    assert w.wait_lists(3)
    assert "dev-a" not in [d[0] for d in w.last()]
    p.command("set x:1:-1,y:0:3")
    assert w.wait_lists(4)
    assert w.last() == [("x", "Healthy", None), ("y", "Unhealthy", [3])]


def test_refresh_timer_picks_up_changes(root, kubelet):
    p = start_plugin(root, args=["--refresh-ms", "200"])
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    p.command("set z:1:0")  # set_devices pushes at once
    assert w.wait_lists(2)
    assert w.last() == [("z", "Healthy", [0])]
    # The plugin's table changes without a refresh call: the periodic refresh finds it, and
    # the refreshes before it (the same table) sent nothing.
    p.command("health-quiet z 0")
    assert w.wait_lists(3)
    assert len(w.lists) == 3 and w.last() == [("z", "Unhealthy", [0])]


def test_stop_sends_an_empty_list_and_removes_the_socket(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    wait_state(p, REGISTERED, 1)
    p.command("stop")
    assert w.wait(lambda x: x.ended is not None)
    assert w.lists[-1][1] == []
    assert w.ended == "ok"
    assert not os.path.exists(p.socket)
    assert p.status()[0] == STOPPED
    # And it starts again, with a new registration.
    p.command("start")
    assert kubelet.wait_registrations(2)
    wait_state(p, REGISTERED, 2)


def test_sigterm_stops_cleanly(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(fk.DEADLINE) == 0
    assert w.wait(lambda x: x.ended is not None)
    assert w.lists[-1][1] == [] and w.ended == "ok"
    assert not os.path.exists(p.socket)


@pytest.mark.parametrize("how", ["sigterm", "stop"])
def test_stop_while_the_kubelet_calls(root, kubelet, how):
    """The kubelet keeps calling on the connection of its ListAndWatch stream while the plugin
    stops: the server must not close that connection under the kubelet's feet (grpcio then fails
    the stream and drops the empty list it had not parsed yet, seen under load as a last list
    that still held the devices). A race: five rounds (without the fix, about one in five
    failed)."""
    p = None
    for round in range(5):
        if p is None:
            p = start_plugin(root)
        else:
            p.command("start")
        assert kubelet.wait_registrations(round + 1), p.read_log()
        w = kubelet.last_watch()
        assert w.wait_lists(1)
        calls = [0] * 4

        def call(i):
            options = fk.svc.DevicePluginStub(w.channel).GetDevicePluginOptions
            while w.ended is None:
                try:
                    options(fk.pb.Empty(), timeout=fk.DEADLINE)
                    calls[i] += 1
                except grpc.RpcError:
                    pass

        with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
            for i in range(len(calls)):
                pool.submit(call, i)
            fk.wait_until(lambda: min(calls) >= 3, "every caller got answers")
            if how == "sigterm":
                p.proc.send_signal(signal.SIGTERM)
                assert p.proc.wait(fk.DEADLINE) == 0
            else:
                p.command("stop")
            assert w.wait(lambda x: x.ended is not None), p.read_log()
        assert (w.lists[-1][1], w.ended) == ([], "ok"), (round, p.read_log()[-4000:])
        assert not os.path.exists(p.socket)
        if how == "sigterm":
            p = None


def test_own_socket_deleted(root, kubelet):
    p = start_plugin(root)
    wait_state(p, REGISTERED, 1)
    os.unlink(p.socket)
    assert kubelet.wait_registrations(2), p.read_log()
    # Noticed by inotify (the periodic check says "deleted or replaced").
    wait_log(p, "was deleted (kubelet restart?); listening again")
    assert os.path.exists(p.socket)
    wait_state(p, REGISTERED, 2)


# --------------------------------------------------------------------------------------------
# Allocate, PreStartContainer


def test_allocate_in_request_order(root, kubelet):
    p = start_plugin(root)
    resp = stub(p.socket).Allocate(allocate_request(["dev-b", "dev-a"], ["dev-c"]))
    assert len(resp.container_responses) == 2
    first, second = resp.container_responses
    assert dict(first.envs) == {"TEST_IDS": "dev-b,dev-a"}
    assert [(d.container_path, d.host_path, d.permissions) for d in first.devices] == [
        ("/dev/test/dev-b", "/dev/test/dev-b", "mrw"), ("/dev/test/dev-a", "/dev/test/dev-a", "mrw")]
    assert [(m.container_path, m.host_path, m.read_only) for m in first.mounts] == [
        ("/var/test", "/tmp", True)]
    assert dict(first.annotations) == {"test/count": "2"}
    assert [c.name for c in first.cdi_devices] == ["test.example.com/dev=dev-b"]
    assert dict(second.envs) == {"TEST_IDS": "dev-c"}


@pytest.mark.parametrize("ids,what", [(["dev-a", "nope"], "unknown device id 'nope'"),
                                      (["dev-a", "dev-a"], "device id 'dev-a' more than once"),
                                      (["dev-a", "dev-b"], "device id 'dev-b' for container "
                                       "requests 0 and 1: a device goes to one container only")])
def test_allocate_bad_ids(root, kubelet, ids, what):
    p = start_plugin(root)
    with pytest.raises(grpc.RpcError) as e:
        stub(p.socket).Allocate(allocate_request(["dev-b"], ids))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert what in e.value.details() and RESOURCE in e.value.details()


@pytest.mark.parametrize("errno_,code", [(16, grpc.StatusCode.FAILED_PRECONDITION),
                                         (19, grpc.StatusCode.NOT_FOUND),
                                         (22, grpc.StatusCode.INVALID_ARGUMENT),
                                         (5, grpc.StatusCode.INTERNAL)])
def test_allocate_plugin_errors(root, kubelet, errno_, code):
    p = start_plugin(root)
    p.command("fail-allocate %d device is held by vm-42 (ünïcode %%)" % errno_)
    with pytest.raises(grpc.RpcError) as e:
        stub(p.socket).Allocate(allocate_request(["dev-a"]))
    assert e.value.code() == code
    assert "device is held by vm-42 (ünïcode %)" in e.value.details()
    assert "dev-a" in e.value.details() and RESOURCE in e.value.details()
    # Only that call failed.
    assert stub(p.socket).Allocate(allocate_request(["dev-a"])).container_responses


def test_allocate_error_without_message(root, kubelet):
    p = start_plugin(root)
    p.command("fail-allocate 12")
    with pytest.raises(grpc.RpcError) as e:
        stub(p.socket).Allocate(allocate_request(["dev-a"]))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "Cannot allocate memory" in e.value.details()


def test_pre_start_container(root, kubelet):
    p = start_plugin(root)
    s = stub(p.socket)
    s.PreStartContainer(fk.pb.PreStartContainerRequest(devices_ids=["dev-b", "dev-a"]))
    assert p.expect("PRESTART dev-b,dev-a")
    p.command("fail-prestart 16")
    with pytest.raises(grpc.RpcError) as e:
        s.PreStartContainer(fk.pb.PreStartContainerRequest(devices_ids=["dev-a"]))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as e:
        s.PreStartContainer(fk.pb.PreStartContainerRequest(devices_ids=["zz"]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# --------------------------------------------------------------------------------------------
# GetPreferredAllocation


def preferred(p, *containers):
    resp = stub(p.socket).GetPreferredAllocation(preferred_request(*containers))
    return [list(c.deviceIDs) for c in resp.container_responses]


def test_preferred_allocation_contract(root, kubelet):
    p = start_plugin(root)
    avail = ["dev-a", "dev-b", "dev-c", "dev-d"]
    # The test plugin prefers the available ids from the end: must-include first, then its
    # choices, allocation_size of them. dev-d is Unhealthy: never offered to the plugin, never
    # chosen (the kubelet's list may lag a health change).
    assert preferred(p, (avail, ["dev-b"], 2)) == [["dev-b", "dev-c"]]
    assert preferred(p, (avail, [], 3)) == [["dev-c", "dev-b", "dev-a"]]
    assert preferred(p, (avail, ["dev-a", "dev-c"], 2)) == [["dev-a", "dev-c"]]
    assert preferred(p, (avail, [], 0)) == [[]]
    # Fewer healthy devices than asked for: fewer ids, the kubelet fills the rest itself.
    assert preferred(p, (avail, [], 4)) == [["dev-c", "dev-b", "dev-a"]]
    # Several containers, answered in order.
    assert preferred(p, (avail, [], 1), (["dev-a", "dev-b"], ["dev-a"], 2)) == [
        ["dev-c"], ["dev-a", "dev-b"]]


def test_preferred_allocation_fixes_a_bad_plugin(root, kubelet):
    p = start_plugin(root)
    avail = ["dev-a", "dev-b", "dev-c"]
    # Unavailable, duplicate and unknown ids are dropped; the rest comes from the available
    # ids in order.
    p.command("preferred nope,dev-c,dev-c,dev-zz")
    assert preferred(p, (avail, [], 3)) == [["dev-c", "dev-a", "dev-b"]]
    # Too many ids: cut to allocation_size, must-include kept.
    p.command("preferred dev-a,dev-b,dev-c")
    assert preferred(p, (avail, ["dev-c"], 2)) == [["dev-c", "dev-a"]]
    # No ids at all: the available ids in order.
    p.command("preferred -")
    assert preferred(p, (avail, [], 2)) == [["dev-a", "dev-b"]]


@pytest.mark.parametrize("request_,what", [
    ((["dev-a", "dev-b"], [], 3), "only 2 distinct devices are available"),
    ((["dev-a", "dev-a", "dev-b"], [], 3), "only 2 distinct devices are available"),
    ((["dev-a", "dev-b", "dev-c"], ["dev-a", "dev-b"], 1), "must include 2 devices"),
    ((["dev-a"], [], -1), "GetPreferredAllocation of -1"),
    ((["dev-a", "nope"], [], 1), "GetPreferredAllocation of unknown device id 'nope'"),
    ((["dev-a"], ["nope"], 1), "GetPreferredAllocation of unknown device id 'nope'"),
])
def test_preferred_allocation_impossible(root, kubelet, request_, what):
    p = start_plugin(root)
    with pytest.raises(grpc.RpcError) as e:
        preferred(p, request_)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert what in e.value.details() and RESOURCE in e.value.details()


# --------------------------------------------------------------------------------------------
# Transport behaviour with a real client


@pytest.mark.parametrize("authority", [None, "socket"])
def test_authority_forms(root, authority):
    # None: grpcio sends "localhost" (like kubelet >= 1.26); "socket": the socket path, like
    # older kubelets.
    p = start_plugin(root, mode="none")
    a = p.socket if authority else None
    s = stub(p.socket, a)
    assert s.GetDevicePluginOptions(fk.pb.Empty()).get_preferred_allocation_available
    assert s.Allocate(allocate_request(["dev-a"])).container_responses
    w = Watch(channel_to(p.socket, a))
    assert w.wait_lists(1)
    assert p.status()[0] == SERVING


def test_unknown_method(root):
    p = start_plugin(root, mode="none")
    ch = channel_to(p.socket)
    call = ch.unary_unary("/v1beta1.DevicePlugin/Deallocate")
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=fk.DEADLINE)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # GetInfo is the plugin watcher's, not served in classic mode.
    call = ch.unary_unary("/pluginregistration.Registration/GetInfo")
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=fk.DEADLINE)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_malformed_message(root):
    p = start_plugin(root, mode="none")
    call = channel_to(p.socket).unary_unary("/v1beta1.DevicePlugin/Allocate")
    with pytest.raises(grpc.RpcError) as e:
        call(b"\x0a\xff\xff", timeout=fk.DEADLINE)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed AllocateRequest" in e.value.details()


def test_oversized_message(root):
    p = start_plugin(root, mode="none")
    s = stub(p.socket)
    big = allocate_request(["x" * 1000] * 5000)  # ~5 MB
    with pytest.raises(grpc.RpcError) as e:
        s.Allocate(big, timeout=fk.DEADLINE)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert s.Allocate(allocate_request(["dev-a"])).container_responses


CLIENT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import grpc, deviceplugin_v1beta1_pb2 as pb, deviceplugin_v1beta1_service_pb2_grpc as svc
    stream = svc.DevicePluginStub(grpc.insecure_channel("unix:" + sys.argv[2])).ListAndWatch(pb.Empty())
    next(stream)
    print("got", flush=True)
    time.sleep(60)
""")


def test_client_killed_mid_stream(root, kubelet):
    p = start_plugin(root)
    assert kubelet.wait_registrations(1)
    proto_out = os.path.dirname(fk.pb.__file__)
    client = subprocess.Popen([sys.executable, "-c", CLIENT, proto_out, p.socket],
                              stdout=subprocess.PIPE, text=True)
    assert client.stdout.readline().strip() == "got"
    client.kill()
    client.wait()
    # The plugin lives on, pushes to its other watchers and answers.
    w = kubelet.last_watch()
    p.command("health dev-a 0")
    assert w.wait(lambda x: x.last() and x.last()[0][1] == "Unhealthy")
    assert stub(p.socket).Allocate(allocate_request(["dev-a"])).container_responses
    assert p.proc.poll() is None


def test_100_concurrent_allocate_calls(root, kubelet):
    p = start_plugin(root)
    ids = ["dev-a", "dev-b", "dev-c", "dev-d"]
    w = kubelet  # keep a ListAndWatch open meanwhile
    assert w.wait_registrations(1)
    channels = [channel_to(p.socket) for _ in range(4)]
    calls = []
    for i in range(100):
        order = ids[i % 4:] + ids[:i % 4]
        s = fk.svc.DevicePluginStub(channels[i % 4])
        calls.append((order, s.Allocate.future(allocate_request(order), timeout=fk.DEADLINE)))
    for order, f in calls:
        resp = f.result()
        assert dict(resp.container_responses[0].envs)["TEST_IDS"] == ",".join(order)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(
            lambda i: stub(p.socket).Allocate(allocate_request([ids[i % 4]])), range(100)))
    assert all(len(r.container_responses) == 1 for r in results)


def test_embedded_loop(root, kubelet):
    # The same scenario with the loop embedded in the program's own poll().
    p = start_plugin(root, args=["--embed"])
    assert kubelet.wait_registrations(1)
    w = kubelet.last_watch()
    assert w.wait_lists(1)
    p.command("health dev-a 0")
    assert w.wait_lists(2)
    assert stub(p.socket).Allocate(allocate_request(["dev-a"])).container_responses
    kubelet.restart()
    assert kubelet.wait_registrations(2)


# --------------------------------------------------------------------------------------------
# Plugin watcher


def test_watcher_mode(root):
    k = FakeKubelet(root)
    p = start_plugin(root, mode="watcher")
    path = k.find_registry_socket()
    assert path == p.socket
    assert os.path.dirname(path) == k.registry_dir
    ch = channel_to(path)
    reg = fk.reg_svc.RegistrationStub(ch)
    # The kubelet gives GetInfo 1 s; that the plugin answers in time under load is the
    # benchmark's business, here only that it answers.
    info = reg.GetInfo(fk.reg_pb.InfoRequest(), timeout=fk.DEADLINE)
    assert info.type == "DevicePlugin"
    assert info.name == RESOURCE
    assert info.endpoint == path
    assert list(info.supported_versions) == ["v1beta1"]
    assert p.status()[:2] == (REGISTERING, 0)
    reg.NotifyRegistrationStatus(fk.reg_pb.RegistrationStatus(plugin_registered=True))
    assert p.status()[:2] == (REGISTERED, 1)
    # The kubelet connects to the endpoint for the device-plugin API.
    dp_channel = channel_to(info.endpoint)
    opts = fk.svc.DevicePluginStub(dp_channel).GetDevicePluginOptions(fk.pb.Empty())
    assert opts.get_preferred_allocation_available
    w = Watch(dp_channel)
    assert w.wait_lists(1)
    assert [d[0] for d in w.last()] == ["dev-a", "dev-b", "dev-c", "dev-d"]
    assert fk.svc.DevicePluginStub(dp_channel).Allocate(
        allocate_request(["dev-c"])).container_responses
    # Nothing in the device-plugin directory, no classic registration.
    assert sorted(os.listdir(k.plugin_dir)) == [fk.CHECKPOINT]
    # A refusal is logged and the plugin waits for the next GetInfo.
    reg.NotifyRegistrationStatus(fk.reg_pb.RegistrationStatus(plugin_registered=False,
                                                              error="bad version"))
    assert p.status()[0] == REGISTERING
    assert "bad version" in p.read_log()


def test_watcher_mode_stream_end_recreates_the_socket(root):
    k = FakeKubelet(root)
    p = start_plugin(root, mode="watcher")
    path = k.find_registry_socket()
    reg = fk.reg_svc.RegistrationStub(channel_to(path))
    reg.GetInfo(fk.reg_pb.InfoRequest(), timeout=fk.DEADLINE)
    reg.NotifyRegistrationStatus(fk.reg_pb.RegistrationStatus(plugin_registered=True))
    w = Watch(channel_to(path))
    assert w.wait_lists(1)
    def identity():
        st = os.stat(path)
        return st.st_ino, st.st_ctime_ns

    before = identity()
    w.cancel()
    # No GetInfo follows: the socket is created anew so that the plugin watcher sees it.
    fk.wait_until(lambda: os.path.exists(path) and identity() != before,
                  "a new socket file; log:\n" + p.read_log())
    reg = fk.reg_svc.RegistrationStub(channel_to(path))
    assert reg.GetInfo(fk.reg_pb.InfoRequest(), timeout=fk.DEADLINE).name == RESOURCE
