#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Print USB hot-plug events as they come, like `hostdev watch --usb`.

    watch_usb.py [--enumerate] [--kernel] [-d VENDOR:PRODUCT] [--count N] [--timeout SECONDS]

--enumerate first reports the devices already present; --kernel listens to the kernel's uevents
(needed where no udevd runs, as in containers and the tests); --timeout stops after that many
seconds without an event.
"""
import argparse
import sys

import hostdev


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--enumerate", action="store_true")
    p.add_argument("--kernel", action="store_true")
    p.add_argument("-d", dest="ids", action="append")
    p.add_argument("--count", type=int, default=0, help="stop after N events")
    p.add_argument("--timeout", type=float, default=None)
    p.add_argument("--node-name", default=None)
    args = p.parse_args()
    seen = 0
    try:
        with hostdev.Context(node_name=args.node_name) as ctx, \
                ctx.monitor(subsystems="usb", ids=args.ids) as monitor:
            events = monitor.start(enumerate=args.enumerate, kernel=args.kernel)
            print("watching (fd %d)" % monitor.fileno(), flush=True)
            stream = monitor.events(timeout=args.timeout)
            for event in events + [None]:
                if event is None:
                    break
                seen += 1
                show(event)
                if args.count and seen >= args.count:
                    return 0
            for event in stream:
                seen += 1
                show(event)
                if args.count and seen >= args.count:
                    return 0
    except hostdev.Error as e:
        print("watch_usb: %s (errno %d)" % (e.message, e.errno), file=sys.stderr)
        return 1
    return 0


def show(event):
    dev = event.device
    ids = "%04x:%04x" % (dev.vendor_id, dev.product_id) if dev is not None else "????:????"
    print("%s %s %s port=%s%s" % (event.action, event.name, ids,
                                  dev.port_path if dev is not None else "?",
                                  " (present)" if event.replay else ""), flush=True)


if __name__ == "__main__":
    sys.exit(main())
