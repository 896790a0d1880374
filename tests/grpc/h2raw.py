# SPDX-License-Identifier: Apache-2.0
"""Just enough HTTP/2 by hand for the transport tests to look at frames themselves.

Frames are built and split exactly as a test wants (a gRPC message over many DATA frames, two
messages in one frame...), which no real client library lets you do. Header blocks are encoded with
HPACK literals only (never indexed, no Huffman), which every decoder must accept. Header blocks
received are not decoded: the tests look at frame types, flags, stream ids and DATA payloads.
"""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


def _hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, new names, raw strings."""
    out = b""
    for name, value in headers:
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        out += b"\x00" + _hpack_int(len(name), 7) + name + _hpack_int(len(value), 7) + value
    return out


def grpc_message(payload, compressed=0):
    return bytes([compressed]) + struct.pack(">I", len(payload)) + payload


def request_headers(path, authority="localhost", content_type="application/grpc", method="POST", extra=()):
    return [(":method", method), (":scheme", "http"), (":path", path), (":authority", authority),
            ("content-type", content_type), ("te", "trailers"), *extra]


class Conn:
    """A raw HTTP/2 connection over a Unix socket (client side, or an accepted server side)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    @classmethod
    def connect(cls, path, timeout=30.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return cls(s)

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self, timeout=30.0):
        """(type, flags, stream_id, payload), or None at end of file or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                length = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) >= 9 + length:
                    ftype, flags = self.buf[3], self.buf[4]
                    stream_id = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                    payload = self.buf[9:9 + length]
                    self.buf = self.buf[9 + length:]
                    return ftype, flags, stream_id, payload
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def read_preface(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while len(self.buf) < len(PREFACE) and time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        ok = self.buf.startswith(PREFACE)
        self.buf = self.buf[len(PREFACE):]
        return ok

    def close(self):
        self.sock.close()


def grpc_messages(data):
    """Split concatenated DATA payloads into gRPC messages."""
    out = []
    while len(data) >= 5:
        length = struct.unpack(">I", data[1:5])[0]
        out.append(data[5:5 + length])
        data = data[5 + length:]
    return out
