#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Serve kubelet device plugins for the devices a config selects, until SIGINT or SIGTERM.

    serve_devices.py [--root DIR] [--kubelet-dir DIR] [--registration MODE] [--refresh MS]
                     (--config FILE | --resource NAME --vendor-device VVVV:DDDD)
    serve_devices.py ... --permitted yaml|json

With --resource, one vfio PCI resource of the devices with that vendor:device id. Each resource is
served by the built-in plugin of its kind; the loop runs on this thread (loop.run()), and the
signal handlers make it return. On stop every resource advertises no devices and its socket is
removed. --permitted prints KubeVirt's permittedHostDevices for the resources instead.
"""
import argparse
import signal
import sys

import hostdev


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", help="fake root instead of the real system")
    p.add_argument("--kubelet-dir", help="kubelet root (default /var/lib/kubelet below the root)")
    p.add_argument("--registration", choices=("classic", "watcher", "none"), default="classic")
    p.add_argument("--refresh", type=int, metavar="MS", help="re-read the devices every MS ms")
    p.add_argument("--config", help="resource selection config (JSON)")
    p.add_argument("--resource", help="resource name, e.g. example.com/nic")
    p.add_argument("--vendor-device", help="vendor:device id of the devices, e.g. 8086:10d3")
    p.add_argument("--permitted", choices=("yaml", "json"),
                   help="print KubeVirt's permittedHostDevices and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = p.parse_args()
    if bool(args.config) == bool(args.resource and args.vendor_device):
        p.error("give --config FILE, or --resource NAME with --vendor-device VVVV:DDDD")

    def log(priority, message):
        print("hostdev[%d]: %s" % (priority, message), file=sys.stderr, flush=True)

    priority = hostdev.LOG_DEBUG if args.verbose else hostdev.LOG_INFO
    with hostdev.Context(args.root, log=log, log_priority=priority) as ctx:
        try:
            if args.config:
                config = hostdev.DevicePluginConfig.load(ctx, args.config)
            else:
                config = hostdev.DevicePluginConfig.parse(ctx, {"resources": [{
                    "kind": "pci", "resourceName": args.resource,
                    "selectors": {"vendorDevice": [args.vendor_device]}}]})
            resources = ctx.resolve_resources(config)
            if args.permitted:
                print(resources.permitted_host_devices(args.permitted), end="")
                return 0
            with hostdev.DevicePluginLoop(ctx) as loop:
                # Python runs signal handlers on this thread between dispatches: quit() makes
                # run() return.
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda *_: loop.quit())
                for server in loop.serve_all(resources, registration=args.registration,
                                             kubelet_dir=args.kubelet_dir, refresh_ms=args.refresh):
                    print("serving %s (%d devices) on %s" % (
                        server.resource_name, len(server.resource.device_ids), server.socket_path),
                        flush=True)
                loop.run()
            # Leaving the with block stopped every server: empty lists sent, sockets removed.
            print("stopped", flush=True)
        except hostdev.Error as e:
            print("serve_devices: %s (errno %d)" % (e.message, e.errno), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
