#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Our gRPC server (tests/grpc/grpc_echo_server.c) against clients we did not write: Python grpcio
(Debian's python3-grpcio, generic calls with identity serializers, no protos), plus hand-made
HTTP/2 frames for what grpcio never sends (h2raw.py).

Run with /usr/bin/python3 -m pytest; GRPC_ECHO_SERVER names the test server binary.
"""

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2raw  # noqa: E402

ECHO = os.environ.get("GRPC_ECHO_SERVER", "grpc-echo-server")
KUBELET_SOCK = "/var/lib/kubelet/device-plugins/kubelet.sock"
# Bound of every wait for an event (an answer, a frame); generous, a loaded machine is no failure.
WAIT = 30.0 * float(os.environ.get("HOSTDEV_TEST_TIMEOUT_SCALE", "1"))


def wait_until(predicate, what):
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


def ident(b):
    return b


class Server:
    def __init__(self, path):
        self.path = path
        self.proc = subprocess.Popen([ECHO, "serve", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", f"server did not start: {line!r} {self.proc.stderr.read()}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=WAIT)
        assert self.proc.returncode == 0, f"server exit {self.proc.returncode}\n{err}"
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
        assert not os.path.exists(self.path), "the socket file was left behind"


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory(prefix="hostdev-grpc-") as d:
        s = Server(os.path.join(d, "echo.sock"))
        try:
            yield s
        finally:
            s.stop()


def channel(server, **options):
    return grpc.insecure_channel("unix://" + server.path, options=list(options.items()))


def unary(ch, method):
    return ch.unary_unary("/test.Echo/" + method, request_serializer=ident, response_deserializer=ident)


def stream(ch, method="Stream"):
    return ch.unary_stream("/test.Echo/" + method, request_serializer=ident, response_deserializer=ident)


def stats(server):
    with channel(server) as ch:
        text = unary(ch, "Stats")(b"", timeout=WAIT).decode()
    return dict(kv.split("=") for kv in text.split())


def test_unary_round_trip(server):
    with channel(server) as ch:
        assert unary(ch, "Unary")(b"hello", timeout=WAIT) == b"hello"
        assert unary(ch, "Unary")(b"", timeout=WAIT) == b""
        big = bytes(range(256)) * 4096  # 1 MiB: many DATA frames, flow control both ways
        assert unary(ch, "Unary")(big, timeout=WAIT) == big
        assert len(unary(ch, "Size")(b"3000000", timeout=WAIT)) == 3000000


def test_server_streaming(server):
    with channel(server) as ch:
        got = list(stream(ch)(b"5", timeout=WAIT))
        assert got == [b"message %d" % i for i in range(5)]
        # Many messages, more than the client's window holds at once.
        got = list(stream(ch)(b"20000", timeout=WAIT))
        assert len(got) == 20000 and got[-1] == b"message 19999"


@pytest.mark.parametrize("authority", [None, "localhost", KUBELET_SOCK])
def test_authority(server, authority):
    options = {} if authority is None else {"grpc.default_authority": authority}
    with channel(server, **options) as ch:
        got = unary(ch, "Authority")(b"", timeout=WAIT).decode()
    assert got == (authority or "localhost")


def test_unknown_method(server):
    with channel(server) as ch:
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/v1beta1.DevicePlugin/Nope", request_serializer=ident,
                           response_deserializer=ident)(b"", timeout=WAIT)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "/v1beta1.DevicePlugin/Nope" in e.value.details()
        with pytest.raises(grpc.RpcError) as e:
            list(ch.unary_stream("/test.Nope/Stream", request_serializer=ident,
                                 response_deserializer=ident)(b"", timeout=WAIT))
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_oversized_message(server):
    with channel(server) as ch:
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, "Unary")(b"x" * (4 * 1024 * 1024 + 1), timeout=WAIT)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Exactly the cap is fine, and the connection still serves.
        assert len(unary(ch, "Unary")(b"y" * (4 * 1024 * 1024), timeout=WAIT)) == 4 * 1024 * 1024
        assert unary(ch, "Unary")(b"after", timeout=WAIT) == b"after"


def test_compressed_request(server):
    with channel(server) as ch:
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, "Unary")(b"z" * 1000, timeout=WAIT, compression=grpc.Compression.Gzip)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "gzip" in e.value.details()


def test_error_status(server):
    with channel(server) as ch:
        # Trailers-Only, with a grpc-message that needs percent-encoding.
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, "Fail")("9:device 0000:3b:00.0 busy (100% used) é\n".encode(), timeout=WAIT)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert e.value.details() == "device 0000:3b:00.0 busy (100% used) é\n"
        # Status in the trailers after a message.
        with pytest.raises(grpc.RpcError) as e:
            list(stream(ch, "FailAfter")(b"5:gone", timeout=WAIT))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND and e.value.details() == "gone"


CHILD = textwrap.dedent("""
    import grpc, sys
    ch = grpc.insecure_channel("unix://" + sys.argv[1])
    s = ch.unary_stream("/test.Echo/Stream", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    for m in s(b"0"):
        print(m.decode(), flush=True)
""")


def test_client_killed_mid_stream(server):
    children = []
    for _ in range(3):
        p = subprocess.Popen(["/usr/bin/python3", "-c", CHILD, server.path], stdout=subprocess.PIPE, text=True)
        for _ in range(3):
            assert p.stdout.readline().startswith("message ")
        children.append(p)
    assert stats(server)["open"] == "3"
    for p in children:
        p.send_signal(signal.SIGKILL)
        p.wait()
    wait_until(lambda: stats(server)["open"] == "0", "every stream closed")
    s = stats(server)
    assert s["open"] == "0" and s["closed"] == "3", s  # every close callback ran
    with channel(server) as ch:
        assert unary(ch, "Unary")(b"still here", timeout=WAIT) == b"still here"


def test_cancelled_stream(server):
    with channel(server) as ch:
        call = stream(ch)(b"0", timeout=WAIT)
        assert next(call).startswith(b"message")
        call.cancel()
        wait_until(lambda: stats(server)["open"] == "0", "the cancelled stream closed")


def test_100_concurrent_unary(server):
    # One channel: 100 streams at once on one connection. Gather answers only once all 100 are
    # held in the server at the same time: a server that served them one after the other would
    # never answer.
    with channel(server) as ch:
        gather = unary(ch, "Gather")
        futures = [gather.future(b"100", timeout=WAIT) for _ in range(100)]
        assert all(f.result() == b"gathered" for f in futures)
    # Delay answers from a timer.
    with channel(server) as ch:
        assert unary(ch, "Delay")(b"20", timeout=WAIT) == b"delayed"
    # And 100 connections with one call each, from threads.
    def one(i):
        with grpc.insecure_channel("unix://" + server.path) as ch:
            return unary(ch, "Unary")(b"%d" % i, timeout=WAIT)

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        assert list(pool.map(one, range(100))) == [b"%d" % i for i in range(100)]


def test_settings_sent_on_accept(server):
    # grpc-go waits for the server's SETTINGS before it sends anything: they come unasked.
    c = h2raw.Conn.connect(server.path)
    try:
        f = c.read_frame(timeout=WAIT)
        assert f is not None and f[0] == h2raw.SETTINGS and f[1] == 0
    finally:
        c.close()


def raw_call(server, path, chunks, authority="localhost", extra_frames=()):
    """One request by hand: HEADERS, then each chunk in a DATA frame of its own, END_STREAM on the
    last. Returns (DATA payload received, frame types received)."""
    c = h2raw.Conn.connect(server.path)
    try:
        c.send(h2raw.PREFACE + h2raw.frame(h2raw.SETTINGS, 0, 0))
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                           h2raw.hpack(h2raw.request_headers(path, authority=authority))))
        for f in extra_frames:
            c.send(f)
        for i, chunk in enumerate(chunks):
            c.send(h2raw.frame(h2raw.DATA, h2raw.END_STREAM if i == len(chunks) - 1 else 0, 1, chunk))
        data, types = b"", []
        while True:
            f = c.read_frame(timeout=WAIT)
            assert f is not None, "no end of stream"
            ftype, flags, sid, payload = f
            types.append(ftype)
            if ftype == h2raw.SETTINGS and not flags & h2raw.ACK:
                c.send(h2raw.frame(h2raw.SETTINGS, h2raw.ACK, 0))
            if sid == 1 and ftype == h2raw.DATA:
                data += payload
            if sid == 1 and flags & h2raw.END_STREAM or ftype == h2raw.RST_STREAM:
                return data, types
    finally:
        c.close()


def test_message_split_across_data_frames(server):
    msg = b"split across frames" * 3
    wire = h2raw.grpc_message(msg)
    # One byte per DATA frame, the prefix included, and an empty DATA frame to end the stream.
    data, types = raw_call(server, "/test.Echo/Unary", [wire[i:i + 1] for i in range(len(wire))] + [b""])
    assert h2raw.grpc_messages(data) == [msg]
    # The prefix split 2 + 3 with the message tail.
    data, _ = raw_call(server, "/test.Echo/Unary", [wire[:2], wire[2:7], wire[7:]])
    assert h2raw.grpc_messages(data) == [msg]
    # An empty message is five bytes.
    data, _ = raw_call(server, "/test.Echo/Unary", [b"\0\0\0\0\0"])
    assert data == b"\0\0\0\0\0"


def test_pings_are_answered(server):
    # The kubelet's and grpc-go's keepalive pings are acknowledged.
    ping = h2raw.frame(h2raw.PING, 0, 0, b"12345678")
    data, types = raw_call(server, "/test.Echo/Unary", [h2raw.grpc_message(b"p")], extra_frames=[ping])
    assert h2raw.PING in types
    assert h2raw.grpc_messages(data) == [b"p"]


def test_garbage_connection_does_not_hurt_others(server):
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.connect(server.path)
    bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
    bad.settimeout(WAIT)
    # The server ends that connection (a GOAWAY may come first).
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        try:
            if not bad.recv(65536):
                break
        except (ConnectionResetError, socket.timeout):
            break
    bad.close()
    with channel(server) as ch:
        assert unary(ch, "Unary")(b"fine", timeout=WAIT) == b"fine"


def test_stale_socket_replaced_live_refused(tmp_path):
    path = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)  # bound, never listening: a dead plugin's socket file
    s.close()
    srv = Server(path)
    try:
        p = subprocess.run([ECHO, "serve", path], capture_output=True, text=True, timeout=WAIT)
        assert p.returncode == 1 and "served by another process" in p.stderr
        with grpc.insecure_channel("unix://" + path) as ch:
            assert unary(ch, "Unary")(b"x", timeout=WAIT) == b"x"
    finally:
        srv.stop()


# --------------------------------------------------------------------------------------------
# Memory: peers that never read


def test_memory_budget_closes_the_peer_that_holds_the_most(tmp_path):
    """Each call may queue 16 MiB for a peer that does not read, but many calls on many
    connections would add up; over the loop's budget (here 8 MiB) the connection that holds the
    most is closed, and the others go on. Clients: python3-h2 (h2peer.py), whose windows the test
    drives, and grpcio."""
    from h2peer import H2Peer

    path = str(tmp_path / "echo.sock")
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen([ECHO, "serve", path, str(8 << 20)], stdout=subprocess.PIPE,
                            stderr=log, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        # A reader that keeps up with 1 KB every millisecond...
        reader = H2Peer(path, window=1 << 24, auto_ack=True)
        rsid = reader.call("/test.Echo/Flood", b"1024")
        assert reader.wait(lambda: len(reader.data[rsid]) > 10 * 1024)
        # ...and a stream that never opens its window: 64 KiB every millisecond wait for it.
        hog = H2Peer(path, window=0)
        hog.call("/test.Echo/Flood", b"65536")
        deadline = time.monotonic() + 60
        while not hog.closed and time.monotonic() < deadline:
            hog.pump(0.05)
            reader.pump(0.05)
        assert hog.closed, "the connection over the budget was not closed"
        # The reader goes on, and new calls are served.
        before = len(reader.data[rsid])
        assert reader.wait(lambda: len(reader.data[rsid]) > before + 10 * 1024)
        assert not reader.closed
        with grpc.insecure_channel("unix:" + path) as ch:
            assert ch.unary_unary("/test.Echo/Unary")(b"still here", timeout=30) == b"still here"
        log.seek(0)
        text = log.read()
        assert "closing the connection: it holds" in text
        assert "the most of all, and the connections of this loop hold" in text
        assert "over their budget of %d" % (8 << 20) in text
        reader.close()
        hog.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log.close()
