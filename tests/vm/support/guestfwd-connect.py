#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One guest TCP connection to a host loopback port: QEMU's user network runs this for every
connection the guest opens to a `guestfwd=tcp:ADDR:PORT-cmd:...` address (hosthooks.py), with the
connection on stdin/stdout. Copies both ways until either side closes.

    guestfwd-connect.py HOST PORT        (HOST: a loopback address)
"""
import ipaddress
import os
import selectors
import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit("guestfwd-connect: %s is not a loopback address" % host)
    sock = socket.create_connection((host, port), timeout=30)
    sock.settimeout(None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "guest")
    sel.register(sock, selectors.EVENT_READ, "host")
    while True:
        for key, _ in sel.select():
            if key.data == "guest":
                data = os.read(0, 65536)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    sel.unregister(0)
                    continue
                sock.sendall(data)
            else:
                data = sock.recv(65536)
                if not data:
                    return 0
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]


if __name__ == "__main__":
    sys.exit(main())
