#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Make a fake root with N PCI functions bound to vfio-pci, for the device-plugin benchmark.

    gen-dp-root.py --devices N [--manifest FILE] OUTDIR

OUTDIR/sys is written by bench/gen-sysfs.py's writer, so it has the kernel's layout and formats
(attributes, driver/iommu_group/subsystem links, bus and driver back links): N Intel 82574L
functions [8086:10d3] (class 0200), one per bus behind host bridge pci0000:00 (0000:01:00.0,
0000:02:00.0, ...; buses wrap into further domains past 255), each bound to vfio-pci and alone in
its own IOMMU group N-1, NUMA node 0 or 1 alternately. OUTDIR/dev/vfio holds "vfio" and one
regular file per group: a device is healthy while its group node exists, so a benchmark flips the
health of a device by removing and re-creating OUTDIR/dev/vfio/<group>.

--manifest writes JSON {"devices": [{"id": ADDR, "group": G, "numa": 0|1}, ...]}, which the
grpc-go baseline plugin (bench/dp-goplugin) reads to serve the same devices.

Only the Python standard library. Never writes outside OUTDIR; refuses an OUTDIR in /sys, /proc
or /dev.
"""
import argparse
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR, DEVICE, CLASS, REV = 0x8086, 0x10D3, 0x020000, 0x00


def load_gen_sysfs():
    spec = importlib.util.spec_from_file_location("gen_sysfs", os.path.join(HERE, "gen-sysfs.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Tree:
    """The shape write_tree() of gen-sysfs.py reads."""

    def __init__(self):
        self.funcs = []
        self.groups = []
        self.mdevs = []
        self.slots = []


def build(gs, n):
    t = Tree()
    for i in range(n):
        domain, bus = divmod(i, 255)
        bus += 1
        f = gs.Func(domain=domain, bus=bus, slot=0, fn=0, key="nic", vendor=VENDOR, device=DEVICE,
                    cls=CLASS, rev=REV, driver="vfio-pci", subv=VENDOR, subd=0xA01F, parent=None,
                    numa=i % 2)
        f.path = "devices/pci%04x:00/%s" % (domain, f.addr)
        f.pcie_type = 0
        f.group = len(t.groups)
        t.groups.append([f])
        t.funcs.append(f)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--devices", "-n", type=int, default=1, help="number of vfio-pci functions (default 1)")
    ap.add_argument("--manifest", metavar="FILE", help="write the devices (id, group, numa) as JSON")
    args = ap.parse_args()
    if not 1 <= args.devices <= 255 * 256:
        ap.error("--devices must be 1..%d" % (255 * 256))
    out = os.path.realpath(args.outdir)
    for bad in ("/sys", "/proc", "/dev"):
        if out == bad or out.startswith(bad + "/"):
            sys.exit("gen-dp-root: refusing to write inside %s" % bad)
    if os.path.exists(os.path.join(out, "sys")):
        sys.exit("gen-dp-root: %s/sys already exists" % out)
    gs = load_gen_sysfs()
    t = build(gs, args.devices)
    gs.write_tree(t, out)
    devices = [{"id": f.addr, "group": f.group, "numa": f.numa} for f in t.funcs]
    for d in devices:
        if not os.path.exists(os.path.join(out, "dev", "vfio", str(d["group"]))):
            sys.exit("gen-dp-root: no dev/vfio/%d for %s" % (d["group"], d["id"]))
    if args.manifest:
        with open(args.manifest, "w") as fh:
            json.dump({"devices": devices}, fh, indent=1)
    print("gen-dp-root: %d vfio-pci functions [%04x:%04x], %d IOMMU groups -> %s" %
          (len(devices), VENDOR, DEVICE, len(t.groups), out))


if __name__ == "__main__":
    main()
