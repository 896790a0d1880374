# SPDX-License-Identifier: Apache-2.0
"""A gRPC client on python3-h2 (hyper-h2, an independent HTTP/2 implementation) whose reading and
flow control the test drives: it reads the socket only in pump(), and acknowledges received data
(opening the windows again) only when auto_ack is set or open_window() is called. That makes the
peers real servers must survive: a kubelet that stops reading, a stream that never opens its
window. Used by tests/grpc and tests/deviceplugin.
"""
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def grpc_frame(message):
    return b"\0" + struct.pack(">I", len(message)) + message


def grpc_split(data):
    """Complete gRPC messages of @data (the rest, an incomplete one, is left out)."""
    out = []
    while len(data) >= 5:
        length = struct.unpack(">I", data[1:5])[0]
        if len(data) < 5 + length:
            break
        out.append(data[5:5 + length])
        data = data[5 + length:]
    return out


class H2Peer:
    def __init__(self, path, window=65535, auto_ack=False, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.auto_ack = auto_ack
        self.data = {}      # stream id -> bytes received
        self.headers = {}   # stream id -> response headers
        self.trailers = {}  # stream id -> trailers
        self.ended = set()  # streams the server ended
        self.reset = set()  # streams the server reset
        self.closed = False  # end of file or GOAWAY
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out and not self.closed:
            try:
                self.sock.sendall(out)
            except OSError:
                self.closed = True

    def call(self, path, message=b""):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                     (":authority", "localhost"),
                                     ("content-type", "application/grpc"), ("te", "trailers")])
        self.conn.send_data(sid, grpc_frame(message), end_stream=True)
        self.data[sid] = b""
        self.flush()
        return sid

    def pump(self, timeout=0.2):
        """Read what arrives within @timeout; False once the connection is gone."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(chunk)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return False
        for e in events:
            if isinstance(e, h2.events.ResponseReceived):
                self.headers[e.stream_id] = dict(e.headers)
            elif isinstance(e, h2.events.TrailersReceived):
                self.trailers[e.stream_id] = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                self.data[e.stream_id] = self.data.get(e.stream_id, b"") + e.data
                if self.auto_ack:
                    self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                self.ended.add(e.stream_id)
            elif isinstance(e, h2.events.StreamReset):
                self.reset.add(e.stream_id)
            elif isinstance(e, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()
        return not self.closed

    def wait(self, predicate, timeout=30.0):
        """Pump until predicate() is true; returns its last value."""
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline and self.pump(0.2):
            pass
        return predicate()

    def open_window(self, sid, n):
        """Let the server send @n more bytes on stream @sid (and on the connection)."""
        self.conn.increment_flow_control_window(n, stream_id=sid)
        self.conn.increment_flow_control_window(n)
        self.flush()

    def messages(self, sid):
        return grpc_split(self.data.get(sid, b""))

    def close(self):
        self.sock.close()
