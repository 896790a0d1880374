#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generate a synthetic server-like sysfs tree (the PCI part) for benchmarks and conformance tests.

    gen-sysfs.py [--devices N] [--seed S] [--no-iommu] [--vfs N] [--pci-ids FILE] OUTDIR

writes OUTDIR/sys/... (and OUTDIR/dev/vfio/) in the kernel's layout and formats: host bridges
sys/devices/pciDDDD:BB, root ports and PCIe switches as parents of their devices, multi-function devices,
SR-IOV PFs with 64 VFs each (sriov_* attributes, virtfnN/physfn links, ARI routing ids), NICs with net/
interfaces, GPUs with audio/USB functions sharing an IOMMU group, an mdev parent with types and one mdev,
NVMe/SAS controllers, a boot VGA behind a PCIe-to-PCI bridge, physical slots, NUMA nodes, drivers and
IOMMU groups. Exactly N PCI functions are made. The output depends only on N, the seed and the options.
All ids are real pci.ids entries (checked against the database) so names resolve, except for one
deliberately unknown device per tree that exercises the "Device xxxx" fallbacks.

Only the Python standard library is used. It never writes outside OUTDIR and refuses an OUTDIR inside
/sys, /proc or /dev.
"""

import argparse
import json
import os
import random
import struct
import sys

# ---------------------------------------------------------------------------------------------------
# Catalog: (vendor, device, class, revision, driver). Subsystem ids are chosen from the pci.ids entries
# of the device when it has some (so subsystem names resolve too), else they copy vendor/device.

CAT = {
    "host": (0x8086, 0x2020, 0x060000, 0x04, None),
    "rp": [(0x8086, 0x2030, 0x060400, 0x04, "pcieport"), (0x8086, 0x2031, 0x060400, 0x04, "pcieport"),
           (0x8086, 0x2032, 0x060400, 0x04, "pcieport"), (0x8086, 0x2033, 0x060400, 0x04, "pcieport")],
    "cbdma": (0x8086, 0x2021, 0x088000, 0x04, "ioatdma"),
    "ubox": (0x8086, 0x2014, 0x088000, 0x04, None),
    "lpc": (0x8086, 0xa1c1, 0x060100, 0x09, None),
    "pmc": (0x8086, 0xa1a1, 0x058000, 0x09, None),
    "smbus": (0x8086, 0xa1a3, 0x0c0500, 0x09, "i801_smbus"),
    "spi": (0x8086, 0xa1a4, 0x0c8000, 0x09, None),
    "sata": (0x8086, 0xa182, 0x010601, 0x09, "ahci"),
    "mei1": (0x8086, 0xa1ba, 0x078000, 0x00, "mei_me"),
    "mei2": (0x8086, 0xa1bb, 0x078000, 0x00, None),
    "xhci": (0x8086, 0xa1af, 0x0c0330, 0x09, "xhci_hcd"),
    "astbr": (0x1a03, 0x1150, 0x060400, 0x04, None),
    "astvga": (0x1a03, 0x2000, 0x030000, 0x41, "ast"),
    "x710": (0x8086, 0x1572, 0x020000, 0x02, "i40e"),
    "x710vf": (0x8086, 0x154c, 0x020000, 0x02, "iavf"),
    "cx5": (0x15b3, 0x1017, 0x020000, 0x00, "mlx5_core"),
    "cx5vf": (0x15b3, 0x1018, 0x020000, 0x00, "mlx5_core"),
    "bnxt": (0x14e4, 0x16d7, 0x020000, 0x01, "bnxt_en"),
    "bnxtvf": (0x14e4, 0x16dc, 0x020000, 0x00, "bnxt_en"),
    "t4": (0x10de, 0x1eb8, 0x030200, 0xa1, "nvidia"),
    "tu102": (0x10de, 0x1e04, 0x030000, 0xa1, "vfio-pci"),
    "tu102audio": (0x10de, 0x10f7, 0x040300, 0xa1, "vfio-pci"),
    "tu102usb": (0x10de, 0x1ad6, 0x0c0330, 0xa1, "vfio-pci"),
    "tu102ucsi": (0x10de, 0x1ad7, 0x0c8000, 0xa1, "vfio-pci"),
    "a100": (0x10de, 0x20b0, 0x030200, 0xa1, "nvidia"),
    "plx": (0x10b5, 0x8747, 0x060400, 0xca, "pcieport"),
    "nvme": (0x144d, 0xa808, 0x010802, 0x00, "nvme"),
    "sas": (0x1000, 0x0097, 0x010700, 0x02, "mpt3sas"),
    # Deliberately unknown to pci.ids (known vendor, unknown device): checked below.
    "unknown": (0x8086, 0x0d57, 0x088000, 0x00, None),
}

# SR-IOV NIC models: PF key, VF key, VF driver choices (None = unbound).
SRIOV_MODELS = [("x710", "x710vf"), ("cx5", "cx5vf"), ("bnxt", "bnxtvf")]
NUM_VFS = 64  # VFs per PF by default (--vfs)
# Kernel module of a driver (sys/module/<name>); built-in drivers have none in this model.
MODULE_OF = {"pcieport": None, "ioatdma": "ioatdma", "i801_smbus": "i2c_i801", "ahci": "ahci",
             "mei_me": "mei_me", "xhci_hcd": "xhci_pci", "ast": "ast", "i40e": "i40e", "iavf": "iavf",
             "mlx5_core": "mlx5_core", "bnxt_en": "bnxt_en", "nvidia": "nvidia", "vfio-pci": "vfio_pci",
             "nvme": "nvme", "mpt3sas": "mpt3sas", "snd_hda_intel": "snd_hda_intel",
             "nvidia-gpu": "i2c_nvidia_gpu", "vfio_mdev": "vfio_mdev"}

T4_MDEV_TYPES = [("nvidia-222", "GRID T4-1B", 16), ("nvidia-223", "GRID T4-2B", 8),
                 ("nvidia-230", "GRID T4-1Q", 16), ("nvidia-231", "GRID T4-2Q", 8),
                 ("nvidia-232", "GRID T4-4Q", 4), ("nvidia-233", "GRID T4-8Q", 2)]


def parse_pci_ids(path):
    """vendor -> (name, {device -> (name, {(subv, subd) -> name})})."""
    ids = {}
    vend = dev = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("C "):
                break
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("\t\t"):
                if vend is None or dev is None:
                    continue
                parts = line.split(None, 2)
                ids[vend][1][dev][1][(int(parts[0], 16), int(parts[1], 16))] = parts[2].strip() if len(parts) > 2 else ""
            elif line.startswith("\t"):
                if vend is None:
                    continue
                dev = int(line[1:5], 16)
                ids[vend][1][dev] = (line[7:].strip(), {})
            else:
                vend = int(line[:4], 16)
                dev = None
                ids[vend] = (line[6:].strip(), {})
    return ids


class Func:
    """One PCI function."""

    __slots__ = ("domain", "bus", "slot", "fn", "key", "vendor", "device", "cls", "rev", "driver", "subv",
                 "subd", "parent", "path", "bridge", "secondary", "subordinate", "multifn", "group", "numa",
                 "pf", "vfs", "vf_index", "netdevs", "slotname", "boot_vga", "pcie_type", "sriov",
                 "mdev_parent", "override", "ari", "pci_legacy")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, None)
        self.vfs = []
        self.netdevs = []
        self.multifn = False
        self.bridge = False
        for k, v in kw.items():
            setattr(self, k, v)

    @property
    def addr(self):
        return "%04x:%02x:%02x.%d" % (self.domain, self.bus, self.slot, self.fn)

    @property
    def devfn(self):
        return (self.slot << 3) | self.fn


class Gen:
    def __init__(self, args, ids):
        self.args = args
        self.ids = ids
        self.rng = random.Random(args.seed)
        self.funcs = []
        self.groups = []  # list of lists of Func/mdev path
        self.ifindex = 2
        self.slots = []
        self.mdevs = []  # (uuid, parent, type, group)
        self.boot_vga_done = False
        self.unknown_done = False
        self.slot_no = 0
        self.mac = 0

    # -- ids -------------------------------------------------------------------------------------------
    def check_known(self, key):
        v, d = CAT[key][0], CAT[key][1]
        known = v in self.ids and d in self.ids[v][1]
        if key == "unknown":
            if known:
                sys.exit("gen-sysfs: %04x:%04x is in pci.ids; pick another unknown id" % (v, d))
        elif not known:
            sys.exit("gen-sysfs: %04x:%04x (%s) is not in %s" % (v, d, key, self.args.pci_ids))

    def subsys(self, key, prefer=None):
        v, d = CAT[key][0], CAT[key][1]
        subs = sorted(self.ids.get(v, ("", {}))[1].get(d, ("", {}))[1].keys())
        if prefer and prefer in subs:
            return prefer
        if subs and key not in ("x710vf", "cx5vf", "bnxtvf"):
            return subs[self.rng.randrange(len(subs))]
        return (v, d)

    # -- construction ------------------------------------------------------------------------------------
    def add(self, key, domain, bus, slot, fn, parent, numa, subsys=None, driver=Ellipsis, **kw):
        self.check_known(key)
        v, d, cls, rev, drv = CAT[key]
        if driver is not Ellipsis:
            drv = driver
        sv, sd = subsys if subsys else self.subsys(key)
        f = Func(domain=domain, bus=bus, slot=slot, fn=fn, key=key, vendor=v, device=d, cls=cls, rev=rev,
                 driver=drv, subv=sv, subd=sd, parent=parent, numa=numa, **kw)
        f.bridge = (cls >> 8) == 0x0604
        f.path = (parent.path if parent else "devices/pci%04x:%02x" % (domain, self.rc_bus)) + "/" + f.addr
        self.funcs.append(f)
        return f

    def group(self, *funcs):
        if self.args.no_iommu:
            return
        g = len(self.groups)
        self.groups.append(list(funcs))
        for f in funcs:
            f.group = g

    def new_slot(self, f):
        self.slot_no += 1
        f.slotname = str(self.slot_no)
        self.slots.append((str(self.slot_no), "%04x:%02x:%02x" % (f.domain, f.secondary, 0)))

    def netdev(self, f, name):
        self.mac += 1
        self.ifindex += 1
        f.netdevs.append((name, self.ifindex, "%s:%02x:%02x:%02x" % (
            "3c:fd:fe" if f.vendor == 0x8086 else ("b8:ce:f6" if f.vendor == 0x15b3 else "00:0a:f7"),
            (self.mac >> 16) & 0xff, (self.mac >> 8) & 0xff, self.mac & 0xff)))

    def build(self):
        n = self.args.devices
        self.remaining = n
        domain = 0
        rc_index = 0
        while self.remaining > 0:
            self.start_rc(domain, rc_index)
            self.fill_rc()
            rc_index += 1
            if rc_index == 4:
                rc_index = 0
                domain += 1
        assert len(self.funcs) == n, (len(self.funcs), n)

    def start_rc(self, domain, rc_index):
        self.domain = domain
        self.rc_bus = rc_index * 0x40
        self.next_bus = self.rc_bus + 1
        self.bus_limit = self.rc_bus + 0x3f
        self.numa = -1 if domain > 0 else (0 if rc_index < 2 else 1)
        self.rp_slots = [s for s in range(1, 0x14) if s != 4]
        self.rp_pos = []  # (slot, fn)
        for s in self.rp_slots:
            for fn in range(4):
                self.rp_pos.append((s, fn))
        sup = (0x15d9, 0x095d)
        if self.remaining <= 0:
            return
        host = self.add("host", domain, self.rc_bus, 0, 0, None, self.numa, subsys=sup if rc_index == 0 else None)
        self.group(host)
        self.remaining -= 1
        if domain == 0 and rc_index == 0:
            # CBDMA: one 8-function device, each function its own group (ACS).
            for fn in range(8):
                if self.remaining <= 0:
                    return
                f = self.add("cbdma", domain, self.rc_bus, 4, fn, None, self.numa, multifn=True)
                self.group(f)
                self.remaining -= 1
            # Chipset functions.
            chip = [("xhci", 0x14, 0), ("mei1", 0x16, 0), ("mei2", 0x16, 1), ("sata", 0x17, 0),
                    ("lpc", 0x1f, 0), ("pmc", 0x1f, 2), ("smbus", 0x1f, 4), ("spi", 0x1f, 5)]
            made = {}
            for key, s, fn in chip:
                if self.remaining <= 0:
                    break
                multi = s in (0x16, 0x1f)
                f = self.add(key, domain, self.rc_bus, s, fn, None, self.numa, subsys=sup, multifn=multi)
                f.pci_legacy = True
                made.setdefault(s, []).append(f)
                self.remaining -= 1
            for s in sorted(made):
                self.group(*made[s])
            # Boot VGA behind an ASPEED PCIe-to-PCI bridge on root port 1c.0.
            if self.remaining >= 3:
                rp = self.root_port(slot=0x1c, fn=0)
                br = self.add("astbr", domain, rp.secondary, 0, 0, rp, self.numa)
                br.pcie_type = 7
                self.set_bridge(br)
                vga = self.add("astvga", domain, br.secondary, 0, 0, br, self.numa)
                vga.boot_vga = True
                vga.pci_legacy = True
                self.group(br, vga)
                self.remaining -= 2

    def alloc_bus(self, count=1):
        if self.next_bus + count - 1 > self.bus_limit:
            return None
        b = self.next_bus
        self.next_bus += count
        return b

    def set_bridge(self, f, count=1):
        f.secondary = self.alloc_bus(count)
        f.subordinate = f.secondary + count - 1

    def root_port(self, slot=None, fn=None):
        if slot is None:
            slot, fn = self.rp_pos.pop(0)
        key = "rp"
        v, d, cls, rev, drv = CAT["rp"][fn % 4]
        CAT["_rp"] = (v, d, cls, rev, drv)
        rp = self.add("_rp", self.domain, self.rc_bus, slot, fn, None, self.numa, subsys=(v, d),
                      multifn=fn is not None and slot != 0x1c)
        rp.key = key
        rp.pcie_type = 4
        rp.secondary = rp.subordinate = None
        self.set_bridge(rp)
        self.group(rp)
        self.remaining -= 1
        return rp

    def fill_rc(self):
        # Blocks: (name, functions, buses).
        blocks = {"sriov": (1 + 2 + 2 * self.args.vfs, 1), "gpu4": (5, 1), "t4": (2, 1), "switch": (10, 6),
                  "nvme": (2, 1), "sas": (2, 1), "unknown": (2, 1)}
        weights = [("sriov", 4), ("gpu4", 1), ("t4", 1), ("switch", 1), ("nvme", 3), ("sas", 1)]
        while self.remaining > 0:
            if not self.rp_pos or self.next_bus > self.bus_limit:
                return
            if not self.unknown_done and self.remaining >= 2:
                choice = "unknown"
            else:
                fit = [(b, w) for b, w in weights if blocks[b][0] <= self.remaining
                       and self.next_bus + blocks[b][1] - 1 <= self.bus_limit]
                if not fit:
                    if self.remaining == 1:
                        self.rcie()
                        continue
                    return
                total = sum(w for _, w in fit)
                r = self.rng.uniform(0, total)
                for choice, w in fit:
                    r -= w
                    if r <= 0:
                        break
            getattr(self, "blk_" + choice)()

    def rcie(self):
        # A root-complex integrated endpoint on the root bus (fills an odd remainder).
        used = {(f.domain, f.bus, f.slot, f.fn) for f in self.funcs}
        for s in range(0x08, 0x20):
            if (self.domain, self.rc_bus, s, 0) not in used and s not in self.rp_slots:
                f = self.add("ubox", self.domain, self.rc_bus, s, 0, None, self.numa)
                self.group(f)
                self.remaining -= 1
                return
        for s in range(0x14, 0x20):
            if (self.domain, self.rc_bus, s, 0) not in used:
                f = self.add("ubox", self.domain, self.rc_bus, s, 0, None, self.numa)
                self.group(f)
                self.remaining -= 1
                return
        raise RuntimeError("no room for an RCiEP")

    def blk_unknown(self):
        self.unknown_done = True
        rp = self.root_port()
        f = self.add("unknown", self.domain, rp.secondary, 0, 0, rp, self.numa, subsys=(0, 0))
        f.pcie_type = 0
        self.group(f)
        self.remaining -= 1

    def blk_nvme(self):
        rp = self.root_port()
        self.new_slot(rp)
        f = self.add("nvme", self.domain, rp.secondary, 0, 0, rp, self.numa)
        f.pcie_type = 0
        f.slotname = rp.slotname
        self.group(f)
        self.remaining -= 1

    def blk_sas(self):
        rp = self.root_port()
        f = self.add("sas", self.domain, rp.secondary, 0, 0, rp, self.numa)
        f.pcie_type = 0
        self.group(f)
        self.remaining -= 1

    def blk_t4(self):
        rp = self.root_port()
        self.new_slot(rp)
        f = self.add("t4", self.domain, rp.secondary, 0, 0, rp, self.numa)
        f.pcie_type = 0
        f.slotname = rp.slotname
        f.mdev_parent = True
        self.group(f)
        self.remaining -= 1
        if not self.mdevs and not self.args.no_iommu:
            uuid = "%08x-%04x-4%03x-%04x-%012x" % (self.rng.getrandbits(32), self.rng.getrandbits(16),
                                                    self.rng.getrandbits(12),
                                                    0x8000 | self.rng.getrandbits(14), self.rng.getrandbits(48))
            g = len(self.groups)
            self.groups.append([("mdev", f, uuid)])
            self.mdevs.append((uuid, f, T4_MDEV_TYPES[2][0], g))

    def blk_gpu4(self):
        rp = self.root_port()
        self.new_slot(rp)
        fs = []
        for fn, key in enumerate(["tu102", "tu102audio", "tu102usb", "tu102ucsi"]):
            f = self.add(key, self.domain, rp.secondary, 0, fn, rp, self.numa, multifn=True,
                         subsys=(0x10de, 0x12fa))
            f.pcie_type = 0
            f.slotname = rp.slotname
            f.override = "vfio-pci"
            fs.append(f)
            self.remaining -= 1
        # No ACS inside the GPU: the four functions share one group.
        self.group(*fs)

    def blk_switch(self):
        rp = self.root_port()
        # Upstream port + 4 downstream ports + 4 A100, buses: rp.secondary (upstream link),
        # +1 (switch internal bus), +2..+5 (one per downstream port). Re-size the root port window.
        base = rp.secondary
        extra = self.alloc_bus(5)
        assert extra == base + 1
        rp.subordinate = base + 5
        up = self.add("plx", self.domain, base, 0, 0, rp, self.numa)
        up.pcie_type = 5
        up.secondary, up.subordinate = base + 1, base + 5
        self.group(up)
        self.remaining -= 1
        for i in range(4):
            dp = self.add("plx", self.domain, base + 1, 8 + i, 0, up, self.numa)
            dp.pcie_type = 6
            dp.secondary = dp.subordinate = base + 2 + i
            self.group(dp)
            self.new_slot(dp)
            self.remaining -= 1
            g = self.add("a100", self.domain, dp.secondary, 0, 0, dp, self.numa,
                         driver="vfio-pci" if i % 2 else "nvidia")
            g.pcie_type = 0
            g.slotname = dp.slotname
            self.group(g)
            self.remaining -= 1

    def blk_sriov(self):
        pfk, vfk = SRIOV_MODELS[self.rng.randrange(len(SRIOV_MODELS))]
        vf_driver = [CAT[vfk][4], "vfio-pci", None][self.rng.randrange(3)]
        rp = self.root_port()
        rp.ari = True
        self.new_slot(rp)
        bus = rp.secondary
        sub = self.subsys(pfk)
        pfs = []
        for fn in range(2):
            pf = self.add(pfk, self.domain, bus, 0, fn, rp, self.numa, multifn=True, subsys=sub)
            pf.pcie_type = 0
            pf.slotname = rp.slotname
            pf.ari = True
            pfs.append(pf)
            self.group(pf)
            self.remaining -= 1
            port = len(self.slots)
            self.netdev(pf, "ens%df%d" % (port, fn) if pfk != "cx5" else "ens%df%dnp%d" % (port, fn, fn))
        nvf = self.args.vfs
        first = len(pfs)
        for k, pf in enumerate(pfs):
            offset = first + k * nvf - k
            stride = 1
            pf.sriov = (nvf, nvf, offset, stride, CAT[vfk][1])
            for i in range(nvf):
                rid = (bus << 8 | pf.devfn) + offset + i * stride
                vb, vdevfn = rid >> 8, rid & 0xff
                vf = self.add(vfk, self.domain, vb, vdevfn >> 3, vdevfn & 7, rp, self.numa,
                              subsys=(pf.subv, pf.subd) if pfk != "cx5" else (CAT[vfk][0], CAT[vfk][1]),
                              driver=vf_driver)
                vf.pcie_type = 0
                vf.pf = pf
                vf.vf_index = i
                pf.vfs.append(vf)
                if vf_driver is not None and vf_driver != "vfio-pci":
                    self.netdev(vf, "%sv%d" % (pf.netdevs[0][0], i))
                self.group(vf)
                self.remaining -= 1


# ---------------------------------------------------------------------------------------------------
# Writing.

def cpulist(numa):
    return {0: "0-27,56-83", 1: "28-55,84-111"}.get(numa, "0-111")


def cpumask(numa):
    cpus = set()
    for part in cpulist(numa).split(","):
        a, b = part.split("-")
        cpus.update(range(int(a), int(b) + 1))
    mask = sum(1 << c for c in cpus)
    # The kernel's "%*pb" over nr_cpu_ids (112) bits: 32-bit chunks, the first one only as wide as needed.
    nbits = 112
    words = []
    for i in range((nbits + 31) // 32 - 1, -1, -1):
        width = min(32, nbits - 32 * i)
        words.append("%0*x" % ((width + 3) // 4, (mask >> (32 * i)) & ((1 << width) - 1)))
    return ",".join(words)


def config_space(f, size):
    c = bytearray(size)
    vf = f.pf is not None
    struct.pack_into("<HH", c, 0, 0xffff if vf else f.vendor, 0xffff if vf else f.device)
    struct.pack_into("<HH", c, 4, 0x0406 if f.driver else 0x0000, 0x0010)
    c[8] = f.rev
    c[9] = f.cls & 0xff
    c[10] = (f.cls >> 8) & 0xff
    c[11] = (f.cls >> 16) & 0xff
    c[12] = 0x10 if not vf else 0
    htype = 1 if f.bridge else 0
    c[14] = htype | (0x80 if f.multifn else 0)
    if f.bridge:
        c[0x18], c[0x19], c[0x1a] = f.bus, f.secondary, f.subordinate
        c[0x1c], c[0x1d] = 0xf0, 0x00
        struct.pack_into("<HHHH", c, 0x20, 0xfff0, 0x0000, 0xfff1, 0x0001)
    elif not vf:
        bar = bar_address(f)
        struct.pack_into("<II", c, 0x10, (bar & 0xfffffff0) | 0x4, bar >> 32)
        struct.pack_into("<HH", c, 0x2c, f.subv, f.subd)
    else:
        struct.pack_into("<HH", c, 0x2c, f.subv, f.subd)
    c[0x34] = 0x40
    c[0x3c] = 0xff
    c[0x3d] = 0 if vf else 1
    # 0x40 PM, 0x50 SSVID (bridges) / MSI-X, 0x60 PCIe.
    c[0x40], c[0x41] = 0x01, 0x50
    struct.pack_into("<H", c, 0x42, 0x0003)
    if f.bridge:
        c[0x50], c[0x51] = 0x0d, 0x60
        struct.pack_into("<HH", c, 0x54, f.subv, f.subd)
    else:
        c[0x50], c[0x51] = 0x11, 0x60
        struct.pack_into("<H", c, 0x52, 0x003f)
    if f.pcie_type is not None:
        c[0x60], c[0x61] = 0x10, 0x00
        struct.pack_into("<H", c, 0x62, 0x0002 | (f.pcie_type << 4) | (0x100 if f.pcie_type in (4, 6) else 0))
    else:
        c[0x51] = 0x00
    if f.sriov and size > 0x140:
        total, num, offset, stride, vfdev = f.sriov
        struct.pack_into("<I", c, 0x100, 0x0010 | (1 << 16))
        struct.pack_into("<I", c, 0x104, 0x2 if f.ari else 0)
        struct.pack_into("<HH", c, 0x108, 0x0019 if num else 0, 0)
        struct.pack_into("<HHH", c, 0x10c, total, total, num)
        struct.pack_into("<HH", c, 0x114, offset, stride)
        struct.pack_into("<H", c, 0x11a, vfdev)
        struct.pack_into("<II", c, 0x11c, 0x553, 0x1)
    return bytes(c)


def bar_address(f):
    return 0x38000000000 + (((f.domain << 16) | (f.bus << 8) | f.devfn) << 20)


def resource_lines(f):
    n = 17 if f.bridge else 13
    lines = []
    for i in range(n):
        if i == 0 and not f.bridge:
            a = bar_address(f) if f.pf is None else 0x39000000000 + (((f.domain << 16) | (f.bus << 8) | f.devfn) << 16)
            size = 0x100000 if f.pf is None else 0x10000
            lines.append("0x%016x 0x%016x 0x%016x\n" % (a, a + size - 1, 0x140204))
        else:
            lines.append("0x%016x 0x%016x 0x%016x\n" % (0, 0, 0))
    return "".join(lines)


def modalias(f):
    return "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X" % (f.vendor, f.device, f.subv, f.subd, f.cls >> 16,
                                                          (f.cls >> 8) & 0xff, f.cls & 0xff)


class Writer:
    def __init__(self, root):
        self.root = root
        self.sys = os.path.join(root, "sys")
        self.dirs = set()

    def mkdir(self, rel):
        if rel in self.dirs:
            return
        os.makedirs(os.path.join(self.sys, rel), exist_ok=True)
        self.dirs.add(rel)

    def write(self, rel, data):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(self.sys, rel), mode) as fh:
            fh.write(data)

    def link(self, rel, target):
        """rel -> target, both relative to sys/, written relative like the kernel's links."""
        d = os.path.dirname(rel)
        a = d.split("/") if d else []
        b = target.split("/")
        i = 0
        while i < len(a) and i < len(b) - 1 and a[i] == b[i]:
            i += 1
        path = "/".join([".."] * (len(a) - i) + b[i:])
        os.symlink(path, os.path.join(self.sys, rel))


def write_tree(g, out):
    w = Writer(out)
    for top in ("devices", "bus/pci/devices", "bus/pci/drivers", "bus/pci/slots", "kernel/iommu_groups",
                "class/net", "module"):
        w.mkdir(top)
    w.write("bus/pci/drivers_autoprobe", "1\n")
    w.write("bus/pci/resource_alignment", "\n")
    for name in ("drivers_probe", "rescan", "uevent"):
        w.write("bus/pci/" + name, "")
    drivers = {}
    for f in g.funcs:
        if f.driver:
            drivers.setdefault(f.driver, []).append(f)
    for m in g.mdevs:
        drivers.setdefault("vfio_mdev", [])
    for name in sorted(drivers):
        bus = "mdev" if name == "vfio_mdev" else "pci"
        d = "bus/%s/drivers/%s" % (bus, name)
        w.mkdir(d)
        for wo in ("bind", "unbind", "new_id", "remove_id", "uevent"):
            if bus == "pci" or wo in ("bind", "unbind", "uevent"):
                w.write(d + "/" + wo, "")
        mod = MODULE_OF.get(name)
        if mod:
            w.mkdir("module/" + mod + "/drivers")
            w.link(d + "/module", "module/" + mod)
            w.link("module/%s/drivers/%s:%s" % (mod, bus, name), d)
        for f in drivers[name]:
            w.link(d + "/" + f.addr, f.path)
    hosts = sorted({f.path.split("/")[1] for f in g.funcs})
    for h in hosts:
        w.mkdir("devices/" + h)
        w.write("devices/%s/uevent" % h, "")
    for f in g.funcs:
        p = f.path
        w.mkdir(p)
        cfg = config_space(f, 256 if f.pci_legacy else 4096)
        attrs = {
            "vendor": "0x%04x\n" % f.vendor,
            "device": "0x%04x\n" % f.device,
            "subsystem_vendor": "0x%04x\n" % f.subv,
            "subsystem_device": "0x%04x\n" % f.subd,
            "class": "0x%06x\n" % f.cls,
            "revision": "0x%02x\n" % f.rev,
            "modalias": modalias(f) + "\n",
            "uevent": ("DRIVER=%s\n" % f.driver if f.driver else "") +
                      "PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\nMODALIAS=%s\n" % (
                          f.cls, f.vendor, f.device, f.subv, f.subd, f.addr, modalias(f)),
            "numa_node": "%d\n" % f.numa,
            "local_cpulist": cpulist(f.numa) + "\n",
            "local_cpus": cpumask(f.numa) + "\n",
            "driver_override": (f.override or "(null)") + "\n",
            "enable": "1\n" if f.driver else "0\n",
            "irq": "%d\n" % (0 if f.pf else 16 + (f.devfn % 8)),
            "resource": resource_lines(f),
            "ari_enabled": "1\n" if f.ari and f.bridge else "0\n",
            "broken_parity_status": "0\n",
            "consistent_dma_mask_bits": "64\n" if f.driver else "32\n",
            "dma_mask_bits": "64\n" if f.driver else "32\n",
            "d3cold_allowed": "1\n",
            "msi_bus": "1\n",
            "power_state": "D0\n",
        }
        if f.pcie_type is not None:
            attrs.update({"current_link_speed": "8.0 GT/s PCIe\n", "current_link_width": "8\n",
                          "max_link_speed": "8.0 GT/s PCIe\n", "max_link_width": "16\n"})
        if f.bridge:
            attrs["secondary_bus_number"] = "%d\n" % f.secondary
            attrs["subordinate_bus_number"] = "%d\n" % f.subordinate
        if (f.cls >> 8) == 0x0300:
            attrs["boot_vga"] = "1\n" if f.boot_vga else "0\n"
        if f.sriov:
            total, num, offset, stride, vfdev = f.sriov
            attrs.update({"sriov_totalvfs": "%u\n" % total, "sriov_numvfs": "%u\n" % num,
                          "sriov_offset": "%u\n" % offset, "sriov_stride": "%u\n" % stride,
                          "sriov_vf_device": "%x\n" % vfdev, "sriov_drivers_autoprobe": "1\n"})
        for k, v in attrs.items():
            w.write(p + "/" + k, v)
        w.write(p + "/config", cfg)
        w.link(p + "/subsystem", "bus/pci")
        w.link("bus/pci/devices/" + f.addr, p)
        if f.driver:
            w.link(p + "/driver", "bus/pci/drivers/" + f.driver)
        if f.group is not None:
            w.link(p + "/iommu_group", "kernel/iommu_groups/%d" % f.group)
        if f.pf is not None:
            w.link(p + "/physfn", f.pf.path)
        for i, vf in enumerate(f.vfs):
            w.link(p + "/virtfn%d" % i, vf.path)
        for name, ifindex, mac in f.netdevs:
            n = p + "/net/" + name
            w.mkdir(n)
            for k, v in (("address", mac), ("addr_len", "6"), ("broadcast", "ff:ff:ff:ff:ff:ff"),
                         ("operstate", "up" if f.pf is None else "down"), ("carrier", "1"),
                         ("ifindex", str(ifindex)), ("iflink", str(ifindex)), ("mtu", "1500"), ("type", "1"),
                         ("dev_id", "0x0"), ("dev_port", "0"),
                         ("uevent", "INTERFACE=%s\nIFINDEX=%d" % (name, ifindex))):
                w.write(n + "/" + k, v + "\n")
            w.link(n + "/device", p)
            w.link(n + "/subsystem", "class/net")
            w.link("class/net/" + name, n)
        if f.mdev_parent:
            for tid, tname, inst in T4_MDEV_TYPES:
                t = p + "/mdev_supported_types/" + tid
                w.mkdir(t + "/devices")
                used = sum(1 for m in g.mdevs if m[1] is f and m[2] == tid)
                w.write(t + "/name", tname + "\n")
                w.write(t + "/available_instances", "%d\n" % (inst - used))
                w.write(t + "/device_api", "vfio-pci\n")
                w.write(t + "/description", "num_heads=4, frl_config=60, framebuffer=%dM, max_resolution=5120x2880, "
                        "max_instance=%d\n" % (16384 // inst, inst))
                w.write(t + "/create", "")
    for uuid, parent, tid, grp in g.mdevs:
        m = parent.path + "/" + uuid
        w.mkdir(m)
        w.write(m + "/uevent", "DRIVER=vfio_mdev\nMDEV_TYPE=%s\n" % tid)
        w.write(m + "/remove", "")
        w.link(m + "/mdev_type", parent.path + "/mdev_supported_types/" + tid)
        w.link(parent.path + "/mdev_supported_types/%s/devices/%s" % (tid, uuid), m)
        w.link(m + "/iommu_group", "kernel/iommu_groups/%d" % grp)
        w.link(m + "/driver", "bus/mdev/drivers/vfio_mdev")
        w.link(m + "/subsystem", "bus/mdev")
        w.mkdir("bus/mdev/devices")
        w.link("bus/mdev/devices/" + uuid, m)
        w.link("bus/mdev/drivers/vfio_mdev/" + uuid, m)
    for name, address in g.slots:
        s = "bus/pci/slots/" + name
        w.mkdir(s)
        w.write(s + "/address", address + "\n")
        w.write(s + "/max_bus_speed", "8.0 GT/s PCIe\n")
        w.write(s + "/cur_bus_speed", "8.0 GT/s PCIe\n")
    vfio_groups = []
    for i, members in enumerate(g.groups):
        gd = "kernel/iommu_groups/%d" % i
        w.mkdir(gd + "/devices")
        w.write(gd + "/type", "DMA\n")
        w.write(gd + "/reserved_regions", "0x00000000fee00000 0x00000000feefffff msi\n")
        for m in members:
            if isinstance(m, tuple):
                w.link(gd + "/devices/" + m[2], m[1].path + "/" + m[2])
            else:
                w.link(gd + "/devices/" + m.addr, m.path)
        if all(not isinstance(m, tuple) and (m.driver == "vfio-pci" or m.bridge) for m in members) or \
                any(isinstance(m, tuple) for m in members):
            vfio_groups.append(i)
    dev = os.path.join(out, "dev", "vfio")
    os.makedirs(dev, exist_ok=True)
    open(os.path.join(dev, "vfio"), "w").close()
    for i in vfio_groups:
        open(os.path.join(dev, str(i)), "w").close()


# Kernel modules for --modules: module -> modalias patterns, as the real modules declare them (device
# ids, or class patterns like xhci_pci's and snd_hda_intel's). Some devices match two modules.
MODULE_ALIASES = {
    "i40e": ["pci:v00008086d00001572sv*sd*bc*sc*i*"],
    "iavf": ["pci:v00008086d0000154Csv*sd*bc*sc*i*", "pci:v00008086d00001889sv*sd*bc*sc*i*"],
    "mlx5_core": ["pci:v000015B3d00001017sv*sd*bc*sc*i*", "pci:v000015B3d00001018sv*sd*bc*sc*i*"],
    "bnxt_en": ["pci:v000014E4d000016D7sv*sd*bc*sc*i*", "pci:v000014E4d000016DCsv*sd*bc*sc*i*"],
    "nvme": ["pci:v*d*sv*sd*bc01sc08i02*"],
    "mpt3sas": ["pci:v00001000d00000097sv*sd*bc*sc*i*"],
    "nouveau": ["pci:v000010DEd*sv*sd*bc03sc*i*"],
    "nvidia": ["pci:v000010DEd*sv*sd*bc03sc00i00*", "pci:v000010DEd*sv*sd*bc03sc02i00*"],
    "snd_hda_intel": ["pci:v000010DEd*sv*sd*bc04sc03i00*"],
    "xhci_pci": ["pci:v*d*sv*sd*bc0Csc03i30*"],
    "i2c_nvidia_gpu": ["pci:v000010DEd00001AD7sv*sd*bc*sc*i*"],
    "ahci": ["pci:v*d*sv*sd*bc01sc06i01*"],
    "i2c_i801": ["pci:v00008086d0000A1A3sv*sd*bc*sc*i*"],
    "mei_me": ["pci:v00008086d0000A1BAsv*sd*bc*sc*i*"],
    "ioatdma": ["pci:v00008086d00002021sv*sd*bc*sc*i*"],
    "ast": ["pci:v00001A03d00002000sv*sd*bc03sc*i*"],
    "vfio_pci": [],
}


def write_modules(out):
    """OUTDIR/lib/modules/<running kernel>/: one tiny ELF object per module whose .modinfo section
    carries its aliases, indexed by the real depmod, so libkmod (and lspci -k) resolve modaliases."""
    import shutil
    import subprocess
    release = os.uname().release
    moddir = os.path.join(out, "lib", "modules", release)
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    depmod = shutil.which("depmod") or next((p for p in ("/usr/sbin/depmod", "/sbin/depmod")
                                             if os.path.exists(p)), None)
    if not cc or not depmod:
        sys.exit("gen-sysfs: --modules needs a C compiler and depmod (kmod)")
    for name, aliases in sorted(MODULE_ALIASES.items()):
        info = "".join("alias=%s\\0" % a for a in aliases) + "license=GPL\\0name=%s" % name
        ko = os.path.join(moddir, "kernel", "drivers", name + ".ko")
        os.makedirs(os.path.dirname(ko), exist_ok=True)
        src = ko[:-3] + ".c"
        with open(src, "w") as fh:
            fh.write('__attribute__((section(".modinfo"), used, aligned(1)))\n'
                     'static const char modinfo[] = "%s";\n' % info)
        subprocess.run([cc, "-c", src, "-o", ko], check=True)
        os.unlink(src)
    for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        open(os.path.join(moddir, f), "w").close()
    subprocess.run([depmod, "-b", out, release], check=True, stderr=subprocess.DEVNULL)
    return moddir


def manifest(g):
    """Ground truth for what lspci does not show, in the shapes of docs/json-schema.md: address ->
    expected values (driver, groups, NUMA, slot, SR-IOV, netdevs, mdev types, ...)."""
    slots = {address: name for name, address in g.slots}
    members = {}
    for i, grp in enumerate(g.groups):
        members[i] = sorted(m.addr for m in grp if not isinstance(m, tuple))
    out = {}
    for f in g.funcs:
        types = []
        if f.mdev_parent:
            for tid, tname, inst in sorted(T4_MDEV_TYPES):
                used = sum(1 for m in g.mdevs if m[1] is f and m[2] == tid)
                types.append({"id": tid, "name": tname, "available_instances": inst - used, "device_api": "vfio-pci",
                              "description": "num_heads=4, frl_config=60, framebuffer=%dM, max_resolution=5120x2880, "
                                             "max_instance=%d" % (16384 // inst, inst)})
        out[f.addr] = {
            "driver": f.driver,
            "driver_override": f.override,
            "modalias": modalias(f),
            "iommu_group": f.group,
            "iommu_group_members": members.get(f.group, []),
            "numa_node": f.numa,
            "physical_slot": slots.get("%04x:%02x:%02x" % (f.domain, f.bus, f.slot)),
            "boot_vga": bool(f.boot_vga),
            "is_bridge": f.bridge,
            "sriov": {
                "is_pf": bool(f.sriov),
                "total_vfs": f.sriov[0] if f.sriov else 0,
                "num_vfs": f.sriov[1] if f.sriov else 0,
                "vf_device_id": "%04x" % f.sriov[4] if f.sriov else None,
                "vfs": [{"number": i, "address": vf.addr} for i, vf in enumerate(f.vfs)],
            },
            "is_vf": f.pf is not None,
            "pf_address": f.pf.addr if f.pf is not None else None,
            "vf_index": f.vf_index if f.pf is not None else None,
            "netdevs": sorted(n[0] for n in f.netdevs),
            "mdev_types": types,
        }
    return {"generator": "bench/gen-sysfs.py", "devices": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--devices", "-n", type=int, default=1000, help="number of PCI functions (default 1000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--no-iommu", action="store_true", help="no IOMMU: no groups, no iommu_group links")
    ap.add_argument("--vfs", type=int, default=NUM_VFS, help="VFs per SR-IOV PF (default %d)" % NUM_VFS)
    ap.add_argument("--pci-ids", default="/usr/share/misc/pci.ids", help="pci.ids used to check the ids")
    ap.add_argument("--manifest", metavar="FILE",
                    help="write the expected per-device values (driver, groups, SR-IOV, netdevs, mdev types, ...) as JSON")
    ap.add_argument("--modules", action="store_true",
                    help="also write OUTDIR/lib/modules/$(uname -r) (tiny modules indexed by depmod; needs cc)")
    args = ap.parse_args()
    if args.devices < 1:
        ap.error("--devices must be at least 1")
    if not 1 <= args.vfs <= 64:
        ap.error("--vfs must be 1..64")
    out = os.path.realpath(args.outdir)
    for bad in ("/sys", "/proc", "/dev"):
        if out == bad or out.startswith(bad + "/"):
            sys.exit("gen-sysfs: refusing to write inside %s" % bad)
    if os.path.exists(os.path.join(out, "sys")):
        sys.exit("gen-sysfs: %s/sys already exists" % out)
    ids = parse_pci_ids(args.pci_ids)
    g = Gen(args, ids)
    g.build()
    write_tree(g, out)
    if args.modules:
        print("gen-sysfs: kernel modules in %s" % write_modules(out))
    if args.manifest:
        with open(args.manifest, "w") as fh:
            json.dump(manifest(g), fh, indent=1, sort_keys=True)
    nvf = sum(1 for f in g.funcs if f.pf is not None)
    print("gen-sysfs: %d PCI functions (%d VFs, %d bridges), %d IOMMU groups, %d netdevs, %d mdevs, "
          "%d slots -> %s/sys" % (len(g.funcs), nvf, sum(1 for f in g.funcs if f.bridge), len(g.groups),
                                  sum(len(f.netdevs) for f in g.funcs), len(g.mdevs), len(g.slots), out))


if __name__ == "__main__":
    main()
