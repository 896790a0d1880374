#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Behaviour tests of `hostdev bind/restore/journal/check/persist/apply` on fake hosts.

The kernel is played by the kernel model (tests/kmodel, LD_PRELOAD): this machine cannot bind devices,
its own disk and NIC are PCI devices. Each case builds a fresh fake host with vfio-fake-host and runs the
real `hostdev` binary against it with --root. Usage: test_vfio_cli.py --hostdev BIN --fake-host BIN
--kmodel LIB CASE
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

NIC = "0000:01:00.0"
VIRTIO = "0000:00:03.0"
GPU = "0000:02:00.0"
AUDIO = "0000:02:00.1"
MGMT = "0000:04:00.0"
NOGROUP = "0000:05:00.0"
SMBUS = "0000:00:1f.3"


class Host:
    def __init__(self, args, *flags):
        env = dict(os.environ)
        env.pop("HOSTDEV_KMODEL_ROOT", None)
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
        out = subprocess.run([args.fake_host, *flags], env=env, check=True, capture_output=True, text=True)
        self.root = out.stdout.strip()
        self.args = args

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, *argv, expect=0, kill_at=None):
        env = dict(os.environ)
        env["LD_PRELOAD"] = self.args.kmodel
        env["HOSTDEV_KMODEL_ROOT"] = self.root
        env["ASAN_OPTIONS"] = "verify_asan_link_order=0"
        env.pop("HOSTDEV_KMODEL_KILL_AT", None)
        if kill_at is not None:
            env["HOSTDEV_KMODEL_KILL_AT"] = str(kill_at)
        p = subprocess.run([self.args.hostdev, "--root", self.root, *argv], env=env, capture_output=True, text=True)
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"hostdev {' '.join(argv)}: exit {p.returncode}, expected {expect}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def driver(self, address):
        link = os.path.join(self.root, "sys/bus/pci/devices", address, "driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def has(self, rel):
        return os.path.exists(os.path.join(self.root, rel))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def contains(text, needle):
    check(needle in text, f"{needle!r} not in:\n{text}")


def case_bind_restore(args):
    h = Host(args)
    try:
        p = h.run("bind", "--owner", "vm-a", "1:00.0")
        contains(p.stdout, f"{NIC}: on vfio-pci, IOMMU group 2")
        contains(p.stdout, "1 device moved to vfio-pci")
        check(h.driver(NIC) == "vfio-pci", "NIC not on vfio-pci")
        check(h.has("dev/vfio/2"), "no /dev/vfio/2")
        p = h.run("bind", NIC)
        contains(p.stdout, "0 devices moved to vfio-pci (already there)")
        p = h.run("journal")
        contains(p.stdout, NIC)
        contains(p.stdout, "e1000e")
        contains(p.stdout, "vm-a")
        doc = json.loads(h.run("journal", "--json").stdout)
        check(doc["schema_version"] == 1, "schema_version")
        rec = doc["journal"]["records"][0]
        check(rec["address"] == NIC and rec["driver"] == "e1000e" and rec["complete"] is True, str(rec))
        p = h.run("restore", NIC)
        contains(p.stdout, "1 device restored")
        check(h.driver(NIC) == "e1000e", "NIC not back on e1000e")
        check(h.has("sys/class/net/enp1s0"), "netdev not back")
        contains(h.run("journal").stdout, "no devices bound by libhostdev")
        contains(h.run("restore", "--all").stdout, "0 devices restored (nothing to restore)")
    finally:
        h.close()


def case_bind_refusals(args):
    h = Host(args)
    try:
        p = h.run("bind", GPU, expect=1)
        contains(p.stderr, f"{AUDIO} (snd_hda_intel)")
        contains(p.stderr, "--group")
        p = h.run("bind", MGMT, expect=1)
        contains(p.stderr, "default route (br0)")
        contains(p.stderr, "--force")
        p = h.run("bind", NOGROUP, expect=1)
        contains(p.stderr, "no IOMMU group")
        contains(p.stderr, "intel_iommu=on")
        p = h.run("bind", "--protect", NIC, NIC, expect=1)
        contains(p.stderr, "protected")
        for dev in (GPU, AUDIO, MGMT, NOGROUP, NIC):
            check(h.driver(dev) != "vfio-pci", f"{dev} was bound")
        check(not h.has("var/lib/hostdev/vfio-journal.json") or "records" in open(
            os.path.join(h.root, "var/lib/hostdev/vfio-journal.json")).read(), "journal")
        p = h.run("bind", "--force", MGMT)
        check(h.driver(MGMT) == "vfio-pci", "forced bind")
    finally:
        h.close()


def case_bind_group(args):
    h = Host(args)
    try:
        p = h.run("bind", "--group", GPU)
        contains(p.stdout, f"{AUDIO}: on vfio-pci with its IOMMU group 5 (was snd_hda_intel)")
        contains(p.stdout, "2 devices moved to vfio-pci")
        contains(h.run("journal").stdout, "bound+grp")
        p = h.run("restore", AUDIO)
        contains(p.stdout, "2 devices restored")
        check(h.driver(GPU) == "nouveau" and h.driver(AUDIO) == "snd_hda_intel", "group restored")
        p = h.run("bind", "--group", SMBUS)
        contains(p.stdout, "3 devices moved to vfio-pci")
        contains(h.run("restore", "--all").stdout, "3 devices restored")
    finally:
        h.close()


def case_check(args):
    h = Host(args)
    try:
        p = h.run("check")
        contains(p.stdout, "PASS  IOMMU groups present")
        contains(p.stdout, f"FAIL  {MGMT}")
        contains(p.stdout, "host: ready")
        doc = json.loads(h.run("check", "--json").stdout)
        check(doc["report"]["status"] in ("pass", "warn"), doc["report"]["status"])
        ids = [c["id"] for c in doc["report"]["checks"]]
        check(ids == ["iommu-groups", "iommu-hardware", "kernel-cmdline", "interrupt-remapping",
                      "vfio-modules", "vfio-container"], str(ids))
        p = h.run("check", "--host-only")
        check(NIC not in p.stdout, "--host-only shows devices")
        p = h.run("check", NIC)
        contains(p.stdout, f"PASS  {NIC}")
        h.run("check", "--host-only", NIC, expect=2)
        h.run("check", "zz", expect=2)
    finally:
        h.close()
    h = Host(args, "--no-iommu", "--no-vfio")
    try:
        p = h.run("check", expect=1)
        contains(p.stdout, "FAIL  IOMMU groups present")
        contains(p.stdout, "intel_iommu=on")
        contains(p.stdout, "NOT ready for passthrough")
        doc = json.loads(h.run("check", "--json", expect=1).stdout)
        check(doc["report"]["status"] == "fail", "json status")
        p = h.run("bind", NIC, expect=1)
        contains(p.stderr, "no IOMMU group")
        check(h.driver(NIC) == "e1000e", "NIC touched")
    finally:
        h.close()


def case_persist_apply(args):
    h = Host(args)
    try:
        contains(h.run("persist", "list").stdout, "no devices listed")
        contains(h.run("persist", "add", NIC, VIRTIO).stdout, f"{NIC}: added")
        contains(h.run("persist", "add", "--group", GPU).stdout, f"{GPU}: added")
        contains(h.run("persist", "add", NIC).stdout, "already listed")
        p = h.run("persist", "list")
        contains(p.stdout, f"{GPU}  10de:1eb8  --group")
        doc = json.loads(h.run("persist", "list", "--json").stdout)
        check([d["address"] for d in doc["devices"]] == [VIRTIO, NIC, GPU], str(doc))
        p = h.run("persist", "modprobe")
        contains(p.stdout, "options vfio-pci ids=10de:1eb8,1af4:1041,8086:10d3\n")
        contains(p.stdout, f"also claimed: {NOGROUP}")
        p = h.run("apply")
        contains(p.stdout, "4 devices moved to vfio-pci")
        check(h.driver(AUDIO) == "vfio-pci", "group member")
        contains(h.run("apply").stdout, "0 devices moved")
        contains(h.run("persist", "remove", VIRTIO).stdout, "removed")
        p = h.run("persist", "remove", VIRTIO, expect=1)
        contains(p.stderr, "not in the persistent list")
        h.run("persist", expect=2)
        h.run("persist", "frob", expect=2)
        h.run("persist", "add", expect=2)
        h.run("persist", "list", "--group", expect=2)
        h.run("restore", "--all")
    finally:
        h.close()


def case_crash_recovery(args):
    """hostdev bind killed after each write, then hostdev restore --all."""
    kills = 0
    for n in range(1, 100):
        h = Host(args)
        try:
            p = h.run("bind", NIC, VIRTIO, expect=None, kill_at=n)
            if p.returncode == 0:
                break
            check(p.returncode == -9, f"step {n}: exit {p.returncode}: {p.stderr}")
            kills += 1
            h.run("restore", "--all")
            check(h.driver(NIC) == "e1000e" and h.driver(VIRTIO) == "virtio-pci", f"step {n}: not restored")
            contains(h.run("journal").stdout, "no devices bound")
        finally:
            h.close()
    check(kills >= 8, f"only {kills} kill points")


def case_usage(args):
    h = Host(args)
    try:
        h.run("bind", expect=2)
        h.run("bind", "nonsense", expect=2)
        h.run("bind", "--timeout", "x", NIC, expect=2)
        h.run("bind", "--protect", "zz", NIC, expect=2)
        h.run("restore", expect=2)
        h.run("restore", "--all", NIC, expect=2)
        h.run("restore", "--owner", "x", NIC, expect=2)
        h.run("restore", "bad", expect=2)
        h.run("journal", "extra", expect=2)
        h.run("apply", "extra", expect=2)
        for cmd in ("bind", "restore", "journal", "check", "persist", "apply"):
            contains(h.run(cmd, "--help").stdout, "hostdev " + cmd)
        p = h.run("restore", "--timeout", "50", NIC)
        contains(p.stdout, "0 devices restored")
    finally:
        h.close()


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--fake-host", required=True)
    ap.add_argument("--kmodel", required=True)
    ap.add_argument("--check-registered", nargs="*")
    ap.add_argument("case", nargs="?")
    args = ap.parse_args()
    if args.check_registered is not None:
        missing = sorted(set(CASES) - set(args.check_registered))
        if missing:
            print("cases not registered in tests/vfio/CMakeLists.txt:", ", ".join(missing))
            return 1
        return 0
    CASES[args.case](args)
    print(f"ok: {args.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
