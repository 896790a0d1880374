#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of fuzz-grpc-conn into DIR: valid client conversations with the fuzzer's
methods (SETTINGS, HEADERS, DATA split in various ways, PING, WINDOW_UPDATE, RST_STREAM, trailers),
each prefixed with the fuzzer's control byte (see fuzz_grpc_conn.c). Usage: make_fuzz_corpus.py DIR
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2raw as h  # noqa: E402


def request(stream_id, path, message, split=None, authority="localhost", end=True):
    out = h.frame(h.HEADERS, h.END_HEADERS, stream_id, h.hpack(h.request_headers(path, authority=authority)))
    wire = h.grpc_message(message)
    parts = [wire] if split is None else [wire[i:i + split] for i in range(0, len(wire), split)]
    for i, part in enumerate(parts):
        out += h.frame(h.DATA, h.END_STREAM if end and i == len(parts) - 1 else 0, stream_id, part)
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    settings = h.frame(h.SETTINGS, 0, 0) + h.frame(h.SETTINGS, h.ACK, 0)
    seeds = {
        "unary": request(1, "/f.S/Unary", b"hello"),
        "unary-split": request(1, "/f.S/Unary", b"split into single bytes", split=1),
        "unary-empty": request(1, "/f.S/Unary", b""),
        "fail": request(1, "/f.S/Fail", b"bad request 100%"),
        "stream": request(1, "/f.S/Stream", b"\x0a\x00"),
        "later": request(1, "/f.S/Later", b"x"),
        "unknown": request(1, "/f.S/Nope", b"x"),
        "socket-authority": request(1, "/f.S/Unary", b"a", authority="/var/lib/kubelet/device-plugins/kubelet.sock"),
        "many-streams": b"".join(request(2 * i + 1, p, b"m%d" % i)
                                 for i, p in enumerate(["/f.S/Unary", "/f.S/Stream", "/f.S/Later", "/f.S/Fail"] * 3)),
        "ping-window": h.frame(h.PING, 0, 0, b"12345678") + h.frame(h.WINDOW_UPDATE, 0, 0, b"\x00\x01\x00\x00")
        + request(1, "/f.S/Stream", b"s"),
        "reset": request(1, "/f.S/Stream", b"s") + h.frame(h.RST_STREAM, 0, 1, b"\0\0\0\x08"),
        "no-end-stream": request(1, "/f.S/Unary", b"open", end=False),
        "trailers": request(1, "/f.S/Unary", b"t", end=False)
        + h.frame(h.HEADERS, h.END_HEADERS | h.END_STREAM, 1, h.hpack([("x-trailer", "1")])),
        "compressed": h.frame(h.HEADERS, h.END_HEADERS, 1, h.hpack(h.request_headers("/f.S/Unary")))
        + h.frame(h.DATA, h.END_STREAM, 1, h.grpc_message(b"zz", compressed=1)),
        "oversized-prefix": h.frame(h.HEADERS, h.END_HEADERS, 1, h.hpack(h.request_headers("/f.S/Unary")))
        + h.frame(h.DATA, 0, 1, b"\0\x7f\xff\xff\xff"),
        "get": h.frame(h.HEADERS, h.END_HEADERS | h.END_STREAM, 1,
                       h.hpack(h.request_headers("/f.S/Unary", method="GET"))),
        "goaway": request(1, "/f.S/Unary", b"g") + h.frame(h.GOAWAY, 0, 0, b"\0\0\0\x01\0\0\0\0"),
    }
    for name, body in seeds.items():
        # Control byte 0: preface prepended, fed at once; 7: fed in 7-byte chunks.
        for control in (0, 7):
            with open(os.path.join(out_dir, f"{name}-{control}"), "wb") as f:
                f.write(bytes([control]) + settings + body)
    # One without the automatic preface, carrying it itself.
    with open(os.path.join(out_dir, "explicit-preface"), "wb") as f:
        f.write(bytes([0x80]) + h.PREFACE + settings + seeds["unary"])


if __name__ == "__main__":
    main()
