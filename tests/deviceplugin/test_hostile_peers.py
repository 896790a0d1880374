# SPDX-License-Identifier: Apache-2.0
"""The device-plugin server against peers that misbehave: other users, clients that never read,
connections that never say anything, huge requests, and a kubelet that asks while the plugin is
busy. Same harness as test_deviceplugin.py (dp_test_plugin driven through its FIFO, Python grpcio
peers); run by ctest as deviceplugin.hostile.
"""
import os
import socket
import stat
import subprocess
import sys
import time

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "grpc"))
import fake_kubelet as fk  # noqa: E402
from h2peer import H2Peer  # noqa: E402
from test_deviceplugin import protos, root, start_plugin, stub  # noqa: E402,F401

NOBODY = 65534

# A client in a process of its own, as user NOBODY: connect, read what the server sends first
# (its SETTINGS, right after accept), print how many bytes came (0: the server closed) or the
# error of connect().
CONNECT_AS = r"""
import os, socket, sys
os.setgroups([])
os.setgid(%d)
os.setuid(%d)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror)
    sys.exit(0)
s.settimeout(30)
print(len(s.recv(100)))
""" % (NOBODY, NOBODY)


def connect_as_nobody(path):
    r = subprocess.run([sys.executable, "-c", CONNECT_AS, path], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("connecting as another user needs root")


# --------------------------------------------------------------------------------------------
# Who may connect


def test_socket_is_private_whatever_the_umask(root):
    old = os.umask(0)
    try:
        p = start_plugin(root, mode="none")
    finally:
        os.umask(old)
    st = os.stat(p.socket)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()


def test_other_users_are_refused(root):
    needs_root()
    os.chmod(root, 0o755)
    p = start_plugin(root, mode="none")
    # The file's mode keeps them out...
    assert connect_as_nobody(p.socket) == "connect: Permission denied"
    # ...and when it is widened by hand, the peer's credentials still do.
    os.chmod(p.socket, 0o666)
    assert connect_as_nobody(p.socket) == "0"
    assert "from pid" in p.read_log()
    assert ("refused: user %d may not use this socket (root may)" % NOBODY) in p.read_log()
    # Root is served: SETTINGS arrive, and a call works.
    s = socket.socket(socket.AF_UNIX)
    s.connect(p.socket)
    s.settimeout(30)
    assert len(s.recv(100)) > 0
    s.close()
    assert stub(p.socket).GetDevicePluginOptions(fk.pb.Empty(), timeout=30) is not None


def test_kubelet_uid_is_served(root):
    needs_root()
    os.chmod(root, 0o755)
    p = start_plugin(root, mode="none", args=["--kubelet-uid", str(NOBODY)])
    st = os.stat(p.socket)
    assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o600
    assert int(connect_as_nobody(p.socket)) > 0
    assert "refused" not in p.read_log()


# --------------------------------------------------------------------------------------------
# Requests with many ids


def test_thirty_thousand_ids(root):
    """GetPreferredAllocation and Allocate of 30 000 ids are answered, and right. (They used to
    cost quadratic time and hold every other connection for seconds: bench/dp_scale.py measures
    that; here only the answers count.)"""
    n = 30000
    p = start_plugin(root, mode="none", devices=None, args=["--generate", str(n)])
    ids = ["dev-%d" % i for i in range(n)]
    s = stub(p.socket)
    req = fk.pb.PreferredAllocationRequest(container_requests=[
        fk.pb.ContainerPreferredAllocationRequest(available_deviceIDs=ids + ids[:100],
                                                  must_include_deviceIDs=["dev-7"],
                                                  allocation_size=n)])
    got = s.GetPreferredAllocation(req, timeout=120).container_responses[0].deviceIDs
    # Must-include first, then the test plugin's choice (the available ids from the end).
    assert got[0] == "dev-7" and len(got) == n and len(set(got)) == n
    assert got[1:4] == ["dev-29999", "dev-29998", "dev-29997"]
    # An id nobody advertised is refused, also among 30 000.
    req.container_requests[0].available_deviceIDs.append("dev-%d" % n)
    with pytest.raises(grpc.RpcError) as e:
        s.GetPreferredAllocation(req, timeout=120)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown device id 'dev-%d'" % n in e.value.details()
    # Allocate: 30 000 ids in one container; then the last one repeated in a second container.
    a = s.Allocate(fk.pb.AllocateRequest(container_requests=[
        fk.pb.ContainerAllocateRequest(devices_ids=ids)]), timeout=120)
    assert len(a.container_responses[0].devices) == n
    with pytest.raises(grpc.RpcError) as e:
        s.Allocate(fk.pb.AllocateRequest(container_requests=[
            fk.pb.ContainerAllocateRequest(devices_ids=ids),
            fk.pb.ContainerAllocateRequest(devices_ids=["dev-29999"])]), timeout=120)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("device id 'dev-29999' for container requests 0 and 1: a device goes to one "
            "container only") in e.value.details()


# --------------------------------------------------------------------------------------------
# ListAndWatch readers that do not keep up


LIST_AND_WATCH = "/v1beta1.DevicePlugin/ListAndWatch"


def lists_of(peer, sid):
    """The ListAndWatch lists received on @sid, each as {id: health}."""
    out = []
    for m in peer.messages(sid):
        r = fk.pb.ListAndWatchResponse()
        r.ParseFromString(m)
        out.append({d.ID: d.health for d in r.devices})
    return out


def unhealthy(devices):
    return sorted(i for i, h in devices.items() if h != "Healthy")


def test_closed_window_gets_only_the_latest_list(root):
    """A stream whose flow-control window stays closed: every list the server could not send is
    replaced by the newer one, so once the window opens the reader gets the current state, once,
    not 51 stale lists (nor a stale one last)."""
    p = start_plugin(root, mode="none", devices=None, args=["--generate", "1000"])
    peer = H2Peer(p.socket, window=0)
    sid = peer.call(LIST_AND_WATCH)
    assert peer.wait(lambda: sid in peer.headers), "no response headers"
    for i in range(50):
        p.command("health dev-%d 0" % i)
    p.command("health dev-7 1")
    peer.open_window(sid, 1 << 24)
    assert peer.wait(lambda: len(lists_of(peer, sid)) >= 1)
    peer.wait(lambda: False, timeout=0.5)  # anything else that would come
    lists = lists_of(peer, sid)
    assert len(lists) == 1
    assert len(lists[0]) == 1000
    assert unhealthy(lists[0]) == sorted("dev-%d" % i for i in range(50) if i != 7)
    peer.close()


def test_reader_that_stops_reading_catches_up_with_the_latest_list(root):
    """A reader that stops reading the socket: the lists that did not fit into the socket are
    replaced by the newest, so it reads at most what the socket held, then the current list."""
    p = start_plugin(root, mode="none", devices=None, args=["--generate", "1000"])
    peer = H2Peer(p.socket, window=1 << 24, auto_ack=True)
    sid = peer.call(LIST_AND_WATCH)
    assert peer.wait(lambda: len(lists_of(peer, sid)) == 1)
    flips = 300
    for i in range(flips):
        p.command("health dev-0 %d" % (i % 2))  # Unhealthy, Healthy, ... Healthy last
    p.command("health dev-500 0")
    assert peer.wait(lambda: lists_of(peer, sid) and unhealthy(lists_of(peer, sid)[-1]) ==
                     ["dev-500"]), "the latest list never arrived"
    lists = lists_of(peer, sid)
    # Without replacing, all 302 lists (7.5 MB) would wait in the server for this reader.
    assert len(lists) < flips, len(lists)
    peer.close()


# --------------------------------------------------------------------------------------------
# Connections that say nothing


def read_until_closed(sock, timeout=30.0):
    """True when the server closed @sock (end of file) within @timeout."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return False
    except ConnectionResetError:
        pass
    return True


def test_silent_connections_are_closed_open_streams_are_not(root):
    p = start_plugin(root, mode="none", args=["--idle-timeout-ms", "300"])
    watch = fk.Watch(fk.channel_to(p.socket))
    assert watch.wait_lists(1)
    # Connected, never a byte.
    silent = []
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX)
        s.connect(p.socket)
        silent.append(s)
    # Half a request: the client stopped after the headers of a call.
    half = H2Peer(p.socket)
    sid = half.conn.get_next_available_stream_id()
    half.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                 (":path", "/v1beta1.DevicePlugin/Allocate"),
                                 (":authority", "localhost"), ("content-type", "application/grpc")])
    half.flush()
    for s in silent:
        assert read_until_closed(s), "a silent connection was not closed"
        s.close()
    assert half.wait(lambda: half.closed), "a connection stuck in its request was not closed"
    assert "closing the connection: no call and nothing received for" in p.read_log()
    # The ListAndWatch stream, quiet for as long, is served: it still gets changes.
    p.command("health dev-a 0")
    assert watch.wait(lambda w: len(w.lists) >= 2 and w.ended is None)
    assert dict((d[0], d[1]) for d in watch.last())["dev-a"] == "Unhealthy"


def test_an_open_stream_does_not_wake_the_server_for_idleness(root):
    """The connection of a ListAndWatch stream is served, so its idle timer is not kept: an idle
    server that serves the kubelet's stream is not woken a timeout after the kubelet connected
    (issue 15)."""
    p = start_plugin(root, mode="none", args=["--idle-timeout-ms", "300"])
    watch = fk.Watch(fk.channel_to(p.socket))
    assert watch.wait_lists(1)
    # A silent connection made after the stream's: once the server closed it for idleness, the
    # stream's connection is older than the idle timeout too.
    s = socket.socket(socket.AF_UNIX)
    s.connect(p.socket)
    assert read_until_closed(s), "a silent connection was not closed"
    s.close()
    # One more round trip, so that every timer due with the silent one has run and logged.
    p.command("health dev-a 0")
    assert watch.wait(lambda w: len(w.lists) >= 2 and w.ended is None)
    log = p.read_log()
    assert "closing the connection: no call and nothing received for" in log
    assert "idle timer: 1 calls being served" not in log


def lowest_free_fd(pid):
    used = {int(fd) for fd in os.listdir("/proc/%d/fd" % pid)}
    return next(n for n in range(len(used) + 1) if n not in used)


def test_silent_connections_do_not_lock_the_kubelet_out(root):
    """With the descriptors used up by clients that say nothing, a new client is still served:
    the quietest connection without a call is closed to make room (long before the idle
    timeout, left at its default here)."""
    import resource
    p = start_plugin(root, mode="none")
    pid = p.proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free_fd(pid) + 4, old[1]))
    silent = []
    try:
        for _ in range(12):
            s = socket.socket(socket.AF_UNIX)
            s.connect(p.socket)  # into the listen backlog when not accepted
            silent.append(s)
        options = stub(p.socket).GetDevicePluginOptions(fk.pb.Empty(), timeout=30)
        assert options.pre_start_required
        assert "closing the connection to make room: out of file descriptors" in p.read_log()
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        for s in silent:
            s.close()


# --------------------------------------------------------------------------------------------
# Long work off the loop


def test_allocate_is_answered_while_a_list_is_read(root):
    """A plugin whose list_devices runs off the loop (HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP, as the
    built-in plugins): while a refresh is stuck in it, Allocate, GetPreferredAllocation and new
    ListAndWatch streams are answered; the list arrives once it is read."""
    p = start_plugin(root, mode="none", args=["--list-off-loop"])
    watch = fk.Watch(fk.channel_to(p.socket))
    assert watch.wait_lists(1)
    p.command("block-list")
    p.command("health dev-a 0")  # queues the refresh and returns: the loop is not held
    deadline = time.monotonic() + 30
    while "LIST-BLOCKED" not in p.events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "LIST-BLOCKED" in p.events, p.read_log()
    s = stub(p.socket)
    got = s.Allocate(fk.pb.AllocateRequest(container_requests=[
        fk.pb.ContainerAllocateRequest(devices_ids=["dev-b"])]), timeout=30)
    assert dict(got.container_responses[0].envs) == {"TEST_IDS": "dev-b"}
    pref = s.GetPreferredAllocation(fk.pb.PreferredAllocationRequest(container_requests=[
        fk.pb.ContainerPreferredAllocationRequest(available_deviceIDs=["dev-a", "dev-b"],
                                                  allocation_size=1)]), timeout=30)
    assert len(pref.container_responses[0].deviceIDs) == 1
    other = fk.Watch(fk.channel_to(p.socket))
    assert other.wait_lists(1)
    assert dict((d[0], d[1]) for d in other.last())["dev-a"] == "Healthy"  # not read yet
    # A refresh asked for meanwhile waits for the one running, and is done once, after it.
    p.command("health dev-b 0")
    p.command("unblock-list")
    assert watch.wait(lambda w: dict((d[0], d[1]) for d in w.last()).get("dev-b") == "Unhealthy")
    assert dict((d[0], d[1]) for d in watch.last())["dev-a"] == "Unhealthy"


def test_start_and_stop_with_a_list_off_the_loop(root):
    """The first list is read on the worker too (start waits for it); stop waits for a list that
    runs, and no list comes after."""
    p = start_plugin(root, mode="none", args=["--list-off-loop"])
    watch = fk.Watch(fk.channel_to(p.socket))
    assert watch.wait_lists(1)
    assert [d[0] for d in watch.last()] == ["dev-a", "dev-b", "dev-c", "dev-d"]
    p.command("stop")
    assert watch.wait(lambda w: w.ended is not None)
    assert watch.lists[-1][1] == [] and watch.ended == "ok"
    p.command("start")
    watch = fk.Watch(fk.channel_to(p.socket))
    assert watch.wait_lists(1)
    assert len(watch.last()) == 4
