#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Our unary gRPC client (grpc_client_unary(), driven by `grpc_echo_server call`) against servers we
did not write: a Python grpcio server with generic handlers, and hand-made HTTP/2 servers
(h2raw.py) for the wire details grpcio does not let a test choose (split DATA frames, no answer at
all, frames the client sends).

Run with /usr/bin/python3 -m pytest; GRPC_ECHO_SERVER names the test binary.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2raw  # noqa: E402

ECHO = os.environ.get("GRPC_ECHO_SERVER", "grpc-echo-server")

# Bound of every wait for an event (an answer, a frame); generous, a loaded machine is no failure.
WAIT = 30.0 * float(os.environ.get("HOSTDEV_TEST_TIMEOUT_SCALE", "1"))

OK, CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 2, 4, 5
RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 8, 12, 13, 14


def ident(b):
    return b


def call(socket_path, method, request="", timeout_ms=int(WAIT * 1000), serve=None):
    argv = [ECHO, "call", socket_path, method, request, str(timeout_ms)]
    if serve:
        argv.append(serve)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT * 4)
    assert p.returncode == 0, p.stderr
    assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    res = json.loads(p.stdout)
    res["response"] = bytes.fromhex(res["response"])
    return res


class PyServer:
    """grpcio server on a Unix socket with generic handlers for the service test.Py."""

    def __init__(self, path):
        self.path = path
        self.metadata = []
        self.release = threading.Event()  # lets Slow answer
        handlers = {
            "Unary": self.unary,
            "Fail": self.fail,
            "Slow": self.slow,
            "Big": self.big,
            "DialBack": self.dial_back,
        }
        generic = grpc.method_handlers_generic_handler("test.Py", {
            name: grpc.unary_unary_rpc_method_handler(fn, request_deserializer=ident, response_serializer=ident)
            for name, fn in handlers.items()})
        self.server = grpc.server(futures.ThreadPoolExecutor(8))
        self.server.add_generic_rpc_handlers((generic,))
        self.server.add_insecure_port("unix://" + path)
        self.server.start()

    def unary(self, request, context):
        self.metadata.append(dict(context.invocation_metadata()))
        self.remaining = context.time_remaining()
        return b"py:" + request

    def fail(self, request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, request.decode())

    def slow(self, request, context):
        # Answers only once the test let it, after the client gave up.
        self.release.wait(WAIT)
        return b"late"

    def big(self, request, context):
        return b"b" * int(request.decode())

    def dial_back(self, request, context):
        # Like kubelet >= 1.25 inside Register: call the plugin's own socket before answering.
        with grpc.insecure_channel("unix://" + request.decode()) as ch:
            got = ch.unary_unary("/test.Echo/Unary", request_serializer=ident,
                                 response_deserializer=ident)(b"dialed back", timeout=WAIT)
        return b"registered after " + got

    def stop(self):
        self.release.set()
        self.server.stop(0)


@pytest.fixture
def pyserver(tmp_path):
    s = PyServer(str(tmp_path / "kubelet.sock"))
    try:
        yield s
    finally:
        s.stop()


def test_unary_round_trip(pyserver):
    r = call(pyserver.path, "/test.Py/Unary", "hi")
    assert r["status"] == OK and r["response"] == b"py:hi"
    md = pyserver.metadata[-1]
    assert md.get("user-agent", "").find("libhostdev") >= 0
    # grpc-timeout reached the server: it knows the deadline.
    assert 0 < pyserver.remaining <= WAIT
    r = call(pyserver.path, "/test.Py/Unary", "")
    assert r["status"] == OK and r["response"] == b"py:"


def test_large_response(pyserver):
    r = call(pyserver.path, "/test.Py/Big", "3000000")
    assert r["status"] == OK and r["response"] == b"b" * 3000000


def test_error_trailers_only(pyserver):
    r = call(pyserver.path, "/test.Py/Fail", "no device 0000:3b:00.0 (100% sure) é")
    assert r["status"] == NOT_FOUND
    assert r["message"] == "no device 0000:3b:00.0 (100% sure) é"
    assert r["response"] == b""


def test_unknown_method(pyserver):
    r = call(pyserver.path, "/test.Py/Nope")
    assert r["status"] == UNIMPLEMENTED


def test_deadline(pyserver):
    # The server answers only after the call returned: the deadline is the client's own.
    r = call(pyserver.path, "/test.Py/Slow", "", timeout_ms=300)
    pyserver.release.set()
    assert r["status"] == DEADLINE_EXCEEDED


def test_server_not_there(tmp_path):
    r = call(str(tmp_path / "none.sock"), "/test.Py/Unary")
    assert r["status"] == UNAVAILABLE and "none.sock" in r["message"]
    # A socket file nobody listens on.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(tmp_path / "dead.sock"))
    s.close()
    r = call(str(tmp_path / "dead.sock"), "/test.Py/Unary")
    assert r["status"] == UNAVAILABLE and "refused" in r["message"]


def test_loop_serves_while_call_in_flight(pyserver, tmp_path):
    plugin = str(tmp_path / "plugin.sock")
    r = call(pyserver.path, "/test.Py/DialBack", plugin, serve=plugin)
    assert r["status"] == OK and r["response"] == b"registered after dialed back"
    assert r["served"] == 1


class RawServer:
    """A hand-made HTTP/2 server for one connection; @script(conn) plays the server side."""

    def __init__(self, path, script):
        self.path = path
        self.script = script
        self.frames = []
        self.preface_ok = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        s, _ = self.sock.accept()
        c = h2raw.Conn(s)
        try:
            self.preface_ok = c.read_preface()
            c.send(h2raw.frame(h2raw.SETTINGS, 0, 0))
            self.script(self, c)
        finally:
            c.close()

    def collect(self, c, until, timeout=WAIT):
        """Record the client's frames until @until(frame) is true, or until the end of the
        connection or @timeout without a frame (a short @timeout: what the client sends in a
        while, for the checks of what it must not send)."""
        while True:
            f = c.read_frame(timeout=timeout)
            if f is None:
                return None
            self.frames.append(f)
            if f[0] == h2raw.SETTINGS and not f[1] & h2raw.ACK:
                c.send(h2raw.frame(h2raw.SETTINGS, h2raw.ACK, 0))
            if until(f):
                return f

    def close(self):
        self.thread.join(timeout=WAIT)
        self.sock.close()


def end_of_request(f):
    return f[2] == 1 and f[1] & h2raw.END_STREAM


RESPONSE_HEADERS = h2raw.hpack([(":status", "200"), ("content-type", "application/grpc")])
TRAILERS_OK = h2raw.hpack([("grpc-status", "0")])


def test_wire_split_frames_and_no_pings(tmp_path):
    msg = b"response split over many DATA frames"
    wire = h2raw.grpc_message(msg)

    def script(srv, c):
        srv.collect(c, end_of_request)
        # Sit on the request a while: a client with keepalive would ping now.
        time.sleep(1.5)
        srv.collect(c, lambda f: False, timeout=0.2)
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, RESPONSE_HEADERS))
        for i in range(len(wire)):
            c.send(h2raw.frame(h2raw.DATA, 0, 1, wire[i:i + 1]))
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS | h2raw.END_STREAM, 1, TRAILERS_OK))
        srv.collect(c, lambda f: False)  # until the client closes

    srv = RawServer(str(tmp_path / "raw.sock"), script)
    r = call(srv.path, "/test.Raw/Call", "req")
    srv.close()
    assert r["status"] == OK and r["response"] == msg
    assert srv.preface_ok
    types = [f[0] for f in srv.frames]
    assert h2raw.PING not in types, types
    assert types[0] == h2raw.SETTINGS
    # The request: HEADERS on stream 1, then the message with END_STREAM.
    data = b"".join(f[3] for f in srv.frames if f[0] == h2raw.DATA and f[2] == 1)
    assert h2raw.grpc_messages(data) == [b"req"]


def test_wire_trailers_only_and_http_errors(tmp_path):
    def trailers_only(srv, c):
        srv.collect(c, end_of_request)
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS | h2raw.END_STREAM, 1, h2raw.hpack(
            [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "9"),
             ("grpc-message", "not%20now%3A%20busy")])))
        srv.collect(c, lambda f: False)  # until the client closes

    srv = RawServer(str(tmp_path / "a.sock"), trailers_only)
    r = call(srv.path, "/test.Raw/Call")
    srv.close()
    assert r["status"] == 9 and r["message"] == "not now: busy"

    def http_503(srv, c):
        srv.collect(c, end_of_request)
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS | h2raw.END_STREAM, 1,
                           h2raw.hpack([(":status", "503")])))
        srv.collect(c, lambda f: False)  # until the client closes

    srv = RawServer(str(tmp_path / "b.sock"), http_503)
    r = call(srv.path, "/test.Raw/Call")
    srv.close()
    assert r["status"] == UNAVAILABLE

    def ok_without_message(srv, c):
        srv.collect(c, end_of_request)
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, RESPONSE_HEADERS))
        c.send(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS | h2raw.END_STREAM, 1, TRAILERS_OK))
        srv.collect(c, lambda f: False)  # until the client closes

    srv = RawServer(str(tmp_path / "c.sock"), ok_without_message)
    r = call(srv.path, "/test.Raw/Call")
    srv.close()
    assert r["status"] == INTERNAL

    def reset(srv, c):
        srv.collect(c, end_of_request)
        c.send(h2raw.frame(h2raw.RST_STREAM, 0, 1, b"\0\0\0\x07"))  # REFUSED_STREAM
        srv.collect(c, lambda f: False)  # until the client closes

    srv = RawServer(str(tmp_path / "d.sock"), reset)
    r = call(srv.path, "/test.Raw/Call")
    srv.close()
    assert r["status"] == UNAVAILABLE


def test_local_deadline_when_server_is_silent(tmp_path):
    def silent(srv, c):
        srv.collect(c, lambda f: False)  # until the client goes away

    srv = RawServer(str(tmp_path / "silent.sock"), silent)
    r = call(srv.path, "/test.Raw/Call", timeout_ms=300)
    srv.close()
    assert r["status"] == DEADLINE_EXCEEDED and "300 ms" in r["message"]


def test_connection_closed_before_response(tmp_path):
    def hang_up(srv, c):
        srv.collect(c, end_of_request)

    srv = RawServer(str(tmp_path / "hup.sock"), hang_up)
    r = call(srv.path, "/test.Raw/Call")
    srv.close()
    assert r["status"] == UNAVAILABLE
