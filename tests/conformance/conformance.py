#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Conformance: `hostdev list --json` against lspci (Debian's pciutils) on the same sysfs tree.

    conformance.py --hostdev PATH [--lspci PATH] [--fixtures DIR] [--live] [--tree NAME=ROOT]...
                   [--generate N] [--generator PATH] [--seed S]

For every tree, runs
    hostdev list --json --root ROOT                          (no --root for the live system)
    lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci -nn -k -D -vmm
and compares per device: the set of addresses, vendor/device ids and names, subsystem ids and names,
class code and class name (lspci prints the subclass name, else the class name), prog-if, revision,
driver, and when present on both sides the NUMA node, IOMMU group, physical slot and kernel modules.
Fails loudly with a unified diff when they disagree, and fails when a tree yields no device at all
(no vacuous pass). Trees:
    --fixtures DIR   every DIR/**/ROOT that holds ROOT/sys/bus/pci (tests/fixtures)
    --live           this machine's real /sys (read only)
    --tree NAME=ROOT one given root (holding sys/)
    --generate N     a synthetic N-function server tree made by bench/gen-sysfs.py in a temp dir
Generated trees are also checked against the generator's ground truth (gen-sysfs --manifest) on what
lspci does not show: driver_override, modalias, IOMMU group members, NUMA node, physical slot, boot_vga,
is_bridge, SR-IOV PF/VF relations and counts, netdevs and mdev types.
Every tree also checks `hostdev list -t` (-tv, -tvnn, -tvn) against `lspci` with the same options,
byte for byte (the bus tree).
With --filters, each tree also checks `hostdev list -s/-d SPEC` against `lspci -s/-d SPEC` (lspci is the
reference parser of that syntax; both must refuse the same invalid specs) and `--driver`/`--class`
against lspci's Driver/Class lines.

Exit 0 when every tree agrees, 1 on a disagreement, 2 on a usage or environment error, 77 when a check
that was asked for cannot run here (--modules without root).
Run it with /usr/bin/python3 (only the standard library is used).
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

KMOD_MSG = re.compile(r"^lspci: Unable to load libkmod resources")
NN = re.compile(r"^(.*) \[([0-9a-fA-F]+)\]$")

# Candidate JSON keys for each field (the first present wins); docs/json-schema.md is the reference.
KEYS = {
    "address": ["address"],
    "vendor_id": ["vendor_id"],
    "device_id": ["device_id"],
    "subsystem_vendor_id": ["subsystem_vendor_id"],
    "subsystem_device_id": ["subsystem_device_id"],
    "class": ["class", "class_code"],
    "revision": ["revision"],
    "vendor_name": ["vendor_name"],
    "device_name": ["device_name"],
    "subsystem_vendor_name": ["subsystem_vendor_name"],
    "subsystem_name": ["subsystem_name", "subsystem_device_name"],
    "class_name": ["class_name"],
    "subclass_name": ["subclass_name"],
    "driver": ["driver"],
    "modules": ["modules", "kernel_modules"],
    "numa_node": ["numa_node"],
    "iommu_group": ["iommu_group"],
    "physical_slot": ["physical_slot", "slot"],
}
REQUIRED = ["address", "vendor_id", "device_id", "subsystem_vendor_id", "subsystem_device_id", "class",
            "revision", "vendor_name", "device_name", "subsystem_vendor_name", "subsystem_name",
            "class_name", "subclass_name", "driver"]
MISSING = object()


def fail_env(msg):
    print("conformance: error: " + msg, file=sys.stderr)
    sys.exit(2)


def get(dev, field):
    for k in KEYS[field]:
        if k in dev:
            return dev[k]
    # Also accept one level of nesting ({"iommu": {"group": 3}} style is not assumed; a dotted key is).
    return MISSING


def as_int(v):
    """JSON number, "0x8086", "8086" (hex) -> int; None/MISSING stay."""
    if v is None or v is MISSING:
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, dict):
        # {"class": 2, "subclass": 0, "prog_if": 0} style.
        if {"class", "subclass"} <= set(v):
            return (as_int(v["class"]) << 16) | (as_int(v["subclass"]) << 8) | as_int(v.get("prog_if", 0) or 0)
        raise ValueError("cannot read %r as a number" % (v,))
    s = str(v).strip().lower()
    return int(s[2:] if s.startswith("0x") else s, 16)


def run(cmd, env=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600)
    except FileNotFoundError:
        fail_env("cannot run %s" % cmd[0])
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class Skip(Exception):
    """The environment cannot run a requested check (exit 77, a skip for ctest)."""


def modules_dir(root):
    """ROOT/lib/modules/$(uname -r) when the tree ships kernel modules (gen-sysfs --modules), else None."""
    if root == "/":
        return None
    d = os.path.join(root, "lib", "modules", os.uname().release)
    return d if os.path.isfile(os.path.join(d, "modules.alias.bin")) else None


def with_modules(cmd, root):
    """Run @cmd where /lib/modules/$(uname -r) is the tree's module directory: a private mount namespace
    (unshare -m) overlays ROOT/lib on the real /lib. Nothing outside the namespace changes."""
    libdir = os.path.realpath("/lib")
    work = os.path.join(root, ".overlay-work")
    os.makedirs(work, exist_ok=True)
    script = ('mount --make-rprivate / && '
              'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$1" && shift 3 && exec "$@"')
    return ["unshare", "-m", "sh", "-c", script, "sh", libdir, os.path.join(root, "lib"), work] + cmd


def hostdev_devices(hostdev, root):
    cmd = [hostdev, "list", "--json"]
    if root != "/":
        cmd += ["--root", root]
    if modules_dir(root):
        cmd += ["--modules-dir", modules_dir(root)]
    rc, out, err = run(cmd)
    if rc != 0:
        return None, "%s exited %d\nstderr:\n%s" % (" ".join(cmd), rc, err)
    try:
        doc = json.loads(out)
    except ValueError as e:
        return None, "%s printed invalid JSON (%s):\n%s" % (" ".join(cmd), e, out[:2000])
    if isinstance(doc, dict):
        if doc.get("schema_version") != 1:
            return None, "%s: schema_version is %r, expected 1" % (" ".join(cmd), doc.get("schema_version"))
        devs = doc.get("devices")
    else:
        devs = doc
    if not isinstance(devs, list):
        return None, "%s: no \"devices\" array in the output" % " ".join(cmd)
    return devs, err


def lspci_devices(lspci, root):
    sysfs = "/sys/bus/pci" if root == "/" else os.path.join(root, "sys/bus/pci")
    cmd = [lspci, "-A", "linux-sysfs", "-O", "sysfs.path=" + sysfs, "-nn", "-k", "-D", "-vmm"]
    env = dict(os.environ, LC_ALL="C")
    if modules_dir(root):
        cmd = with_modules(cmd, root)
        rc, out, err = run(cmd, env)
        if rc != 0 and not out:
            raise Skip("cannot show lspci the tree's kernel modules (private mount namespace with an "
                       "overlay on /lib; needs root): %s" % err.strip())
    else:
        rc, out, err = run(cmd, env)
    kmod_ok = True
    other = []
    for line in err.splitlines():
        if KMOD_MSG.match(line):
            kmod_ok = False  # no /lib/modules/$(uname -r): lspci prints no Module lines
        elif line.strip():
            other.append(line)
    if rc != 0:
        fail_env("%s exited %d:\n%s" % (" ".join(cmd), rc, err))
    devs = []
    for block in out.strip().split("\n\n"):
        if not block.strip():
            continue
        rec = {}
        for line in block.splitlines():
            k, _, v = line.partition(":\t")
            if k == "Module":
                rec.setdefault("Module", []).append(v)
            else:
                rec[k] = v
        devs.append(rec)
    return devs, kmod_ok, other, cmd


# lspci formats each "name [id]" into a 128-byte buffer: longer text is cut to 127 characters, the last
# three replaced by "..." (pciutils format_name()). Our side is rendered through the same cut.
LSPCI_NAME_MAX = 127


def lspci_cut(s):
    return s if len(s) <= LSPCI_NAME_MAX else s[:LSPCI_NAME_MAX - 3] + "..."


def nn(v, what):
    """Check one lspci -nn value ("name [id]", or a cut one ending in "...") and return it."""
    if v is None or not (NN.match(v) or (len(v) == LSPCI_NAME_MAX and v.endswith("..."))):
        raise ValueError("lspci %s %r is not \"name [id]\"" % (what, v))
    return v


def lspci_view(rec, kmod_ok):
    """Normalised record from one lspci -vmm -nn block."""
    v = {}
    v["address"] = rec["Slot"]
    v["vendor"] = nn(rec.get("Vendor"), "Vendor")
    v["device"] = nn(rec.get("Device"), "Device")
    if "SVendor" in rec:
        v["subsystem_vendor"] = nn(rec["SVendor"], "SVendor")
        v["subsystem_device"] = nn(rec.get("SDevice"), "SDevice")
    else:
        v["subsystem_vendor"] = v["subsystem_device"] = "(none)"
    v["class"] = nn(rec.get("Class"), "Class")
    v["prog_if"] = rec.get("ProgIf", "00").lower()
    v["revision"] = rec.get("Rev", "00").lower()
    v["driver"] = rec.get("Driver", "(none)")
    if kmod_ok:
        v["modules"] = " ".join(sorted(rec.get("Module", []))) or "(none)"
    v["numa_node"] = rec.get("NUMANode", "(none)")
    v["iommu_group"] = rec.get("IOMMUGroup", "(none)")
    v["physical_slot"] = rec.get("PhySlot", "(none)")
    return v


def hostdev_view(dev, kmod_ok, missing):
    """The same record rendered from our JSON the way lspci would print it."""
    def g(field):
        x = get(dev, field)
        if x is MISSING:
            missing.add(field)
            return None
        return x

    v = {}
    v["address"] = g("address")
    vid, did = as_int(g("vendor_id")), as_int(g("device_id"))
    svid, sdid = as_int(g("subsystem_vendor_id")), as_int(g("subsystem_device_id"))
    cls = as_int(g("class"))
    # Unknown ids: lspci's fallback words ("Vendor [f000]", "Unknown vendor [f000]", "Device [0d57]").
    v["vendor"] = lspci_cut("%s [%04x]" % (g("vendor_name") or "Vendor", vid or 0))
    v["device"] = lspci_cut("%s [%04x]" % (g("device_name") or "Device", did or 0))
    if svid in (None, 0, 0xffff):
        v["subsystem_vendor"] = v["subsystem_device"] = "(none)"
    else:
        v["subsystem_vendor"] = lspci_cut("%s [%04x]" % (g("subsystem_vendor_name") or "Unknown vendor", svid))
        v["subsystem_device"] = lspci_cut("%s [%04x]" % (g("subsystem_name") or "Device", sdid or 0))
    cls = cls or 0
    # lspci's Class is the subclass name, else the class name, else "Class".
    v["class"] = lspci_cut("%s [%04x]" % (g("subclass_name") or g("class_name") or "Class", cls >> 8))
    v["prog_if"] = "%02x" % (cls & 0xff)
    v["revision"] = "%02x" % (as_int(g("revision")) or 0)
    v["driver"] = g("driver") or "(none)"
    if kmod_ok:
        mods = get(dev, "modules")
        if mods is not MISSING:
            v["modules"] = " ".join(sorted(mods or [])) or "(none)"
    for field in ("numa_node", "iommu_group", "physical_slot"):
        x = get(dev, field)
        if x is MISSING:
            continue
        if x is None or (isinstance(x, int) and not isinstance(x, bool) and x < 0):
            v[field] = "(none)"
        else:
            v[field] = str(x)
    return v


def render(v, keys):
    return ["%s: %s" % (k, v.get(k, "(absent)")) for k in keys]


def compare_truth(name, manifest, hdevs):
    """Fields lspci does not show, against the generator's ground truth (gen-sysfs --manifest)."""
    with open(manifest) as fh:
        truth = json.load(fh)["devices"]
    got = {d["address"]: d for d in hdevs}
    diffs = []
    fields = set()
    for addr in sorted(truth):
        if addr not in got:
            diffs.append("%s: not listed by hostdev" % addr)
            continue
        for k, want in sorted(truth[addr].items()):
            fields.add(k)
            have = got[addr].get(k, "(absent)")
            if have != want:
                diffs.append("%s %s:\n    expected %s\n    hostdev  %s" % (
                    addr, k, json.dumps(want, sort_keys=True)[:400], json.dumps(have, sort_keys=True)[:400]))
    ok = not diffs
    head = "%s ground truth: %s, %d devices on %s" % (name, "agree" if ok else "DISAGREE", len(truth),
                                                     ", ".join(sorted(fields)))
    if len(diffs) > 40:
        diffs = diffs[:40] + ["... %d more" % (len(diffs) - 40)]
    return ok, head + ("\n  " + "\n  ".join(diffs) if diffs else "")


def compare_tree(name, root, hostdev, lspci, filters=False, manifest=None):
    """Returns (ok, compared_count, report_text)."""
    if manifest:
        ok, n, text = compare_tree(name, root, hostdev, lspci, filters)
        hdevs, herr = hostdev_devices(hostdev, root)
        if hdevs is None:
            return False, n, text + "\n" + herr
        tok, ttext = compare_truth(name, manifest, hdevs)
        return ok and tok, n, text + "\n" + ("ok   " if tok else "FAIL ") + ttext
    report = []
    ldevs, kmod_ok, lerr, lcmd = lspci_devices(lspci, root)
    if filters:
        fok, ftext = compare_filters(name, root, hostdev, lspci, ldevs)
        ok, n, text = compare_tree(name, root, hostdev, lspci)
        return ok and fok, n, text + "\n" + ("ok   " if fok else "FAIL ") + ftext
    hdevs, herr = hostdev_devices(hostdev, root)
    if hdevs is None:
        return False, 0, herr
    if lerr:
        report.append("lspci stderr:\n  " + "\n  ".join(lerr))
    lmap = {}
    for rec in ldevs:
        try:
            v = lspci_view(rec, kmod_ok)
        except (KeyError, ValueError) as e:
            return False, 0, "cannot parse lspci output (%s): %r" % (e, rec)
        lmap[v["address"]] = v
    hmap = {}
    missing = set()
    for dev in hdevs:
        try:
            v = hostdev_view(dev, kmod_ok, missing)
        except (TypeError, ValueError) as e:
            return False, 0, "cannot read hostdev JSON device (%s): %s" % (e, json.dumps(dev)[:500])
        hmap[v["address"]] = v
    ok = True
    req_missing = sorted(f for f in missing if f in REQUIRED)
    if req_missing:
        ok = False
        report.append("hostdev JSON lacks required field(s): %s (keys tried: %s)" % (
            ", ".join(req_missing), "; ".join("%s=%s" % (f, "/".join(KEYS[f])) for f in req_missing)))
    only_l = sorted(set(lmap) - set(hmap))
    only_h = sorted(set(hmap) - set(lmap))
    if only_l:
        ok = False
        report.append("devices only lspci lists: " + " ".join(only_l))
    if only_h:
        ok = False
        report.append("devices only hostdev lists: " + " ".join(only_h))
    both = sorted(set(lmap) & set(hmap))
    fields_seen = set()
    diffs = []
    for addr in both:
        lv, hv = lmap[addr], hmap[addr]
        # Compare the fields present on our side (optional ones only when our JSON has them).
        keys = [k for k in lv if k in hv]
        fields_seen.update(keys)
        a, b = render(lv, keys), render(hv, keys)
        if a != b:
            diffs.extend(difflib.unified_diff(a, b, "lspci " + addr, "hostdev " + addr, lineterm="", n=20))
    if diffs:
        ok = False
        report.append("per-device differences (- lspci, + hostdev):\n" + "\n".join(diffs))
    if not both:
        ok = False
        report.append("no device compared: lspci listed %d, hostdev %d (vacuous tree?)" % (len(lmap), len(hmap)))
    head = "%s: %s, %d devices compared on %s%s" % (
        name, "agree" if ok else "DISAGREE", len(both), ", ".join(sorted(fields_seen)) or "nothing",
        "" if kmod_ok else " (lspci has no kernel modules here: modules not compared)")
    return ok, len(both), head + ("\n" + "\n".join(report) if report else "")


# Filters in pciutils syntax: lspci is the reference implementation of -s and -d. Invalid specs must be
# refused by both (lspci exits 2, hostdev exits 2 with a usage error).
SLOT_SPECS = ["00:", "0000:00:", "0001:00:", "1:00:", "01:00.1", ".1", ".0", "00:01", "00:01.", "*:*.3",
              "0:", "40:", "80:", "02", "1f.4", "00:1f.*", "*:03:00", "::", "0000:00:00.0", "01:00.0",
              "00:1g", "00:20", ".8", "1:2:3:4", "x"]
ID_SPECS = ["8086:", ":154c", "10de::0403", "::0604", "15b3:1018:0200", "::0c03:30", "8086:1572::",
            "1af4:", "::02", "::0200", ":", "*:*", "10de:*:0302", "xyz:", "8086:1572:0200:00:1", "12345:"]
DRIVER_SPECS = ["vfio-pci", "none", "pcieport", "iavf", "nvme", "no-such-driver"]
CLASS_SPECS = ["02", "0604", "0c0330", "03", "0302", "ff"]


def lspci_filtered(lspci, root, opt, spec):
    sysfs = "/sys/bus/pci" if root == "/" else os.path.join(root, "sys/bus/pci")
    cmd = [lspci, "-A", "linux-sysfs", "-O", "sysfs.path=" + sysfs, "-D", "-mm", "-n", opt, spec]
    rc, out, err = run(cmd, dict(os.environ, LC_ALL="C"))
    if rc != 0:
        return None, cmd
    return {line.split()[0] for line in out.splitlines() if line.strip()}, cmd


def hostdev_filtered(hostdev, root, opt, spec):
    cmd = [hostdev, "list", "--json", opt, spec] + ([] if root == "/" else ["--root", root])
    rc, out, err = run(cmd)
    if rc != 0:
        return None, rc, err.strip(), cmd
    return {d["address"] for d in json.loads(out)["devices"]}, rc, err.strip(), cmd


def compare_filters(name, root, hostdev, lspci, lrecs):
    """-s/-d against lspci's own filters; --driver/--class against lspci's full listing."""
    problems = []
    checked = 0
    for opt, specs in (("-s", SLOT_SPECS), ("-d", ID_SPECS)):
        for spec in specs:
            want, lcmd = lspci_filtered(lspci, root, opt, spec)
            got, rc, err, hcmd = hostdev_filtered(hostdev, root, opt, spec)
            checked += 1
            if want is None and got is None:
                if rc != 2:
                    problems.append("%s %s: lspci refuses it; hostdev exits %d (usage errors exit 2): %s" % (
                        opt, spec, rc, err))
                continue
            if want is None or got is None:
                problems.append("%s %r: %s" % (opt, spec, "lspci refuses it, hostdev accepts it (%d devices)" % len(got)
                                if want is None else "hostdev refuses it (exit %d: %s), lspci lists %d devices" % (
                                    rc, err, len(want))))
                continue
            if want != got:
                problems.append("%s %r: lspci %d devices, hostdev %d; only lspci: %s; only hostdev: %s" % (
                    opt, spec, len(want), len(got), " ".join(sorted(want - got)[:8]) or "-",
                    " ".join(sorted(got - want)[:8]) or "-"))
    for spec in DRIVER_SPECS:
        want = {r["Slot"] for r in lrecs if r.get("Driver", "none") == spec}
        got, rc, err, _ = hostdev_filtered(hostdev, root, "--driver", spec)
        checked += 1
        if got != want:
            problems.append("--driver %s: lspci's Driver lines give %d devices, hostdev %s" % (
                spec, len(want), "exit %d: %s" % (rc, err) if got is None else "%d (only lspci: %s; only hostdev: %s)" % (
                    len(got), " ".join(sorted(want - got)[:8]) or "-", " ".join(sorted(got - want)[:8]) or "-")))
    for spec in CLASS_SPECS:
        want = set()
        for r in lrecs:
            code = NN.match(r["Class"]).group(2).lower() + r.get("ProgIf", "00").lower()
            if code.startswith(spec):
                want.add(r["Slot"])
        got, rc, err, _ = hostdev_filtered(hostdev, root, "--class", spec)
        checked += 1
        if got != want:
            problems.append("--class %s: lspci's Class/ProgIf give %d devices, hostdev %s" % (
                spec, len(want), "exit %d: %s" % (rc, err) if got is None else "%d" % len(got)))
    ok = not problems
    head = "%s filters: %s, %d filter specs compared (-s/-d with lspci's own parser; --driver/--class with its listing)" % (
        name, "agree" if ok else "DISAGREE", checked)
    return ok, head + ("\n  " + "\n  ".join(problems) if problems else "")


# lspci -t: the bus tree, compared byte for byte (no names, names, names and numbers, numbers).
TREE_OPTIONS = [["-t"], ["-tv"], ["-tvnn"], ["-tvn"]]


def compare_bus_tree(name, root, hostdev, lspci):
    """`hostdev list -t...` against `lspci -t...` on the same tree. Returns (ok, report_text)."""
    sysfs = "/sys/bus/pci" if root == "/" else os.path.join(root, "sys/bus/pci")
    problems = []
    lines = 0
    for opts in TREE_OPTIONS:
        lcmd = [lspci, "-A", "linux-sysfs", "-O", "sysfs.path=" + sysfs] + opts
        hcmd = [hostdev, "list"] + opts + ([] if root == "/" else ["--root", root])
        lrc, want, lerr = run(lcmd, dict(os.environ, LC_ALL="C"))
        hrc, got, herr = run(hcmd)
        if lrc != 0:
            fail_env("%s exited %d:\n%s" % (" ".join(lcmd), lrc, lerr))
        if hrc != 0:
            problems.append("%s exited %d: %s" % (" ".join(hcmd), hrc, herr.strip()))
        elif got != want:
            problems.append("\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), " ".join(lcmd),
                                                           " ".join(hcmd), lineterm="", n=3)))
        elif not want.strip():
            problems.append("%s printed nothing (vacuous tree?)" % " ".join(lcmd))
        lines += len(want.splitlines())
    ok = not problems
    head = "%s bus tree: %s, %s compared (%d lines)" % (
        name, "agree" if ok else "DISAGREE", ", ".join(" ".join(o) for o in TREE_OPTIONS), lines)
    return ok, head + ("\n  " + "\n  ".join(problems) if problems else "")


def find_fixtures(top):
    roots = []
    for dirpath, dirnames, _ in os.walk(top):
        if os.path.isdir(os.path.join(dirpath, "sys", "bus", "pci")):
            roots.append(dirpath)
            dirnames[:] = []  # do not descend into the fixture itself
        else:
            dirnames[:] = sorted(d for d in dirnames if d != "sys")
    return sorted(roots)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hostdev", required=True, help="the hostdev CLI")
    ap.add_argument("--lspci", default="lspci")
    ap.add_argument("--fixtures", action="append", default=[], metavar="DIR")
    ap.add_argument("--live", action="store_true", help="also compare on this machine's /sys")
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=ROOT")
    ap.add_argument("--generate", type=int, action="append", default=[], metavar="N")
    ap.add_argument("--no-iommu", action="store_true", help="generated trees without IOMMU groups")
    ap.add_argument("--vfs", type=int, default=None, help="VFs per PF in generated trees (gen-sysfs --vfs)")
    ap.add_argument("--modules", action="store_true",
                    help="generated trees ship kernel modules (gen-sysfs --modules): compare lspci's Module lines "
                         "(lspci runs in a private mount namespace; root only, else exit 77 = skipped)")
    ap.add_argument("--filters", action="store_true",
                    help="also compare -s/-d/--driver/--class filtering with lspci on every tree")
    ap.add_argument("--generator", default=os.path.join(here, "..", "..", "bench", "gen-sysfs.py"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    trees = []
    for top in args.fixtures:
        found = find_fixtures(top)
        if not found:
            fail_env("no fixture with sys/bus/pci under %s" % top)
        trees += [(os.path.relpath(r, top), os.path.abspath(r), None) for r in found]
    for t in args.tree:
        name, _, root = t.partition("=")
        if not root:
            fail_env("--tree wants NAME=ROOT, got %r" % t)
        trees.append((name, os.path.abspath(root), None))
    if args.live:
        trees.append(("live /sys", "/", None))
    tmp = None
    if args.generate:
        tmp = tempfile.TemporaryDirectory(prefix="hostdev-conformance-")
        for n in args.generate:
            root = os.path.join(tmp.name, "gen-%d" % n)
            manifest = root + ".truth.json"
            cmd = [sys.executable, args.generator, "--devices", str(n), "--seed", str(args.seed),
                   "--manifest", manifest, root]
            if args.no_iommu:
                cmd.insert(2, "--no-iommu")
            if args.vfs:
                cmd[2:2] = ["--vfs", str(args.vfs)]
            if args.modules:
                cmd.insert(2, "--modules")
            rc, out, err = run(cmd)
            if rc != 0:
                fail_env("%s failed:\n%s%s" % (" ".join(cmd), out, err))
            trees.append(("generated %d (seed %d%s%s%s)" % (n, args.seed, ", no IOMMU" if args.no_iommu else "",
                                                            ", %d VFs per PF" % args.vfs if args.vfs else "",
                                                            ", with kernel modules" if args.modules else ""), root,
                          manifest))
    if not trees:
        fail_env("no tree to compare (give --fixtures, --tree, --live or --generate)")

    passed = failed = 0
    for name, root, manifest in trees:
        try:
            ok, n, text = compare_tree(name, root, args.hostdev, args.lspci, args.filters, manifest)
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
            if tmp:
                tmp.cleanup()
            return 77
        tok, ttext = compare_bus_tree(name, root, args.hostdev, args.lspci)
        ok = ok and tok
        text += "\n" + ("ok   " if tok else "FAIL ") + ttext
        if args.modules and modules_dir(root) and "modules" not in text.split(" on ", 1)[-1].split("\n")[0]:
            ok = False
            text += "\nmodules were not compared although the tree ships them (lspci could not load them?)"
        # Each part (lspci, filters, ground truth) carries its own ok/FAIL; the first one is marked here.
        first_ok = ok or ": agree," in text.split("\n", 1)[0]
        print(("ok   " if first_ok else "FAIL ") + text, flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
    print("conformance: %d passed, %d failed" % (passed, failed))
    if tmp:
        tmp.cleanup()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
