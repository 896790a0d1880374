#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of fuzz-dp-requests into DIR: Allocate, GetPreferredAllocation and
PreStartContainer requests for resources of examples/deviceplugin/config.json on the fake host of
dp_tree.h (known, unknown, repeated and cross-container ids), each after the fuzzer's control byte
(fuzz_dp_requests.c: bits 0-1 the method, bits 2-7 the resource). The protobuf encoding is written
by hand (varints and length-delimited fields): no protoc needed. Usage: make_fuzz_corpus.py DIR
"""
import os
import sys

ALLOCATE, PREFERRED, PRESTART = 0, 1, 2


def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def strings(number, items):
    return b"".join(field(number, s.encode()) for s in items)


def allocate(*containers):
    return b"".join(field(1, strings(1, ids)) for ids in containers)


def preferred(*containers):
    out = b""
    for available, must, size in containers:
        body = strings(1, available) + strings(2, must) + varint(3 << 3 | 0) + varint(size)
        out += field(1, body)
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    vfs = ["0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:86:02.0"]
    mdevs = ["11111111-2222-3333-4444-555555555555", "22222222-3333-4444-5555-666666666666"]
    usb = ["usb-1050-0407-11111111", "usb-1050-0407-22222222"]
    seeds = {}
    for r in range(9):  # the example gives nine resources on the fake host
        seeds["allocate-vf-%d" % r] = (ALLOCATE, r, allocate(vfs[:2], vfs[2:]))
        seeds["allocate-mdev-%d" % r] = (ALLOCATE, r, allocate(mdevs))
        seeds["allocate-usb-%d" % r] = (ALLOCATE, r, allocate(usb[:1], usb[1:]))
        seeds["preferred-%d" % r] = (PREFERRED, r, preferred((vfs + mdevs, vfs[:1], 2)))
    seeds["allocate-repeat"] = (ALLOCATE, 3, allocate(vfs[:1], vfs[:1]))
    seeds["allocate-unknown"] = (ALLOCATE, 3, allocate(["0000:00:00.0", "nope"]))
    seeds["allocate-gpu"] = (ALLOCATE, 8, allocate(["0000:af:00.0", "0000:d8:00.0"]))
    seeds["preferred-impossible"] = (PREFERRED, 3, preferred((vfs, vfs, 1), (vfs, [], -1)))
    seeds["prestart"] = (PRESTART, 3, strings(1, vfs))
    for name, (method, resource, message) in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(bytes([resource << 2 | method]) + message)


if __name__ == "__main__":
    main()
