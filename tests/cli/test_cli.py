#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Behaviour and golden-output tests of the `hostdev` CLI.

Usage: test_cli.py --hostdev PATH [--update] CASE...
       test_cli.py --hostdev PATH --list

Every case builds a fresh fake root (make_fake_root.py) in a temporary directory, runs the CLI on
it with the test pci.ids and node name "node1", and checks exit codes, stderr lines, exact text
output (golden/*.txt) and JSON (golden/*.json, compared as parsed values, plus a type check of every
field against the documented schema). --update rewrites the golden files from the current output:
review the diff before committing it. Exit status 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).
"""
import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
PCI_IDS = os.path.join(HERE, "pci.ids")
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77
KERNEL_VERSION = "6.1.0-hostdev-test"  # make_fake_root.py's module directory

# Every address of the fake root, in the order `hostdev list` prints them.
ADDRESSES = [
    "0000:00:00.0", "0000:00:01.0", "0000:00:02.0", "0000:00:1f.0", "0000:01:00.0",
    "0000:01:00.1", "0000:3a:00.0", "0000:3b:00.0", "0000:3b:00.1", "0000:3b:02.0",
    "0000:3b:02.1", "10000:01:00.0",
]
# `hostdev list` (text) prints the VFs of a listed PF right after it (not indented).
TEXT_ORDER = [
    "0000:00:00.0", "0000:00:01.0", "0000:00:02.0", "0000:00:1f.0", "0000:01:00.0",
    "0000:01:00.1", "0000:3a:00.0", "0000:3b:00.0", "0000:3b:02.0", "0000:3b:02.1",
    "0000:3b:00.1", "10000:01:00.0",
]
VF_LINES = ("0000:3b:02.0", "0000:3b:02.1")

# The device object of docs/json-schema.md: key -> allowed Python types (None = JSON null).
STR, INT, BOOL, LIST, DICT, NULL = str, int, bool, list, dict, type(None)
DEVICE_SCHEMA = {
    "address": (STR,), "vendor_id": (STR,), "device_id": (STR,),
    "subsystem_vendor_id": (STR,), "subsystem_device_id": (STR,), "class": (STR,),
    "revision": (STR,), "vendor_name": (STR, NULL), "device_name": (STR, NULL),
    "subsystem_vendor_name": (STR, NULL), "subsystem_name": (STR, NULL),
    "class_name": (STR, NULL), "subclass_name": (STR, NULL), "prog_if_name": (STR, NULL),
    "driver": (STR, NULL), "driver_override": (STR, NULL), "modalias": (STR, NULL),
    "modules": (LIST,), "iommu_group": (INT, NULL), "iommu_group_members": (LIST,),
    "numa_node": (INT,), "physical_slot": (STR, NULL), "boot_vga": (BOOL,),
    "is_bridge": (BOOL,), "sriov": (DICT,), "is_vf": (BOOL,), "pf_address": (STR, NULL),
    "vf_index": (INT, NULL), "netdevs": (LIST,), "mdev_types": (LIST,), "names": (DICT,),
    "mdevs": (LIST,),
}
SRIOV_SCHEMA = {"is_pf": (BOOL,), "total_vfs": (INT,), "num_vfs": (INT,),
                "vf_device_id": (STR, NULL), "vfs": (LIST,)}
VF_SCHEMA = {"number": (INT,), "address": (STR,)}
MDEV_SCHEMA = {"id": (STR,), "name": (STR, NULL), "available_instances": (INT, NULL),
               "device_api": (STR, NULL), "description": (STR, NULL)}
ACTIVE_MDEV_SCHEMA = {"uuid": (STR,), "type": (STR, NULL), "type_name": (STR, NULL),
                      "iommu_group": (INT, NULL), "in_use": (BOOL, NULL)}
NAMES_SCHEMA = {"description": (STR,), "object_name": (STR,), "resource_name": (STR,),
                "device_resource_name": (STR,), "kubevirt_env": (STR,)}
HEX_WIDTH = {"vendor_id": 4, "device_id": 4, "subsystem_vendor_id": 4,
             "subsystem_device_id": 4, "class": 6, "revision": 2}


class Failure(Exception):
    pass


class Env:
    """One test's fake root and a way to run the CLI on it."""

    def __init__(self, hostdev, update):
        self.hostdev = hostdev
        self.update = update
        self.tmp = tempfile.mkdtemp(prefix="hostdev-cli-test.")
        self.root = os.path.join(self.tmp, "root")
        subprocess.run([sys.executable, os.path.join(HERE, "make_fake_root.py"), self.root],
                       check=True)
        self.modules = os.path.join(self.root, "lib/modules", KERNEL_VERSION)
        self.failures = []

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, *args, fake=True, stdout=subprocess.PIPE):
        """Run hostdev ARGS (with --root/--pci-ids/--node-name first when @fake)."""
        cmd = [self.hostdev]
        if fake:
            cmd += ["--root", self.root, "--pci-ids", PCI_IDS, "--node-name", "node1",
                    "--modules-dir", self.modules]
        cmd += list(args)
        env = dict(os.environ, LC_ALL="C")
        p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env)
        out = p.stdout.decode("utf-8") if p.stdout is not None else ""
        return p.returncode, out, p.stderr.decode("utf-8", "replace"), cmd

    def check(self, cond, message):
        if not cond:
            self.failures.append(message)
        return cond

    def expect(self, args, code, stdout=None, stderr=None, fake=True):
        """Run and check the exit code and, when given, the exact stdout/stderr text."""
        rc, out, err, cmd = self.run(*args, fake=fake)
        shown = " ".join(cmd[9:] if fake else cmd[1:])
        self.check(rc == code, "`hostdev %s`: exit %d, expected %d (stderr: %r)"
                   % (shown, rc, code, err))
        if stdout is not None:
            self.check(out == stdout, "`hostdev %s`: stdout %r, expected %r" % (shown, out, stdout))
        if stderr is not None:
            self.check(err == stderr, "`hostdev %s`: stderr %r, expected %r" % (shown, err, stderr))
        return out, err

    def golden_text(self, name, text):
        path = os.path.join(GOLDEN, name)
        if self.update:
            with open(path, "w") as f:
                f.write(text)
            return
        with open(path) as f:
            want = f.read()
        if text != want:
            diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                                "golden/" + name, "actual"))
            self.failures.append("output differs from golden/%s:\n%s" % (name, diff))

    def golden_json(self, name, value):
        path = os.path.join(GOLDEN, name)
        if self.update:
            with open(path, "w") as f:
                json.dump(value, f, indent=2, ensure_ascii=False)
                f.write("\n")
            return
        with open(path) as f:
            want = json.load(f)
        if value != want:
            a = json.dumps(want, indent=2, ensure_ascii=False).splitlines(True)
            b = json.dumps(value, indent=2, ensure_ascii=False).splitlines(True)
            diff = "".join(difflib.unified_diff(a, b, "golden/" + name, "actual"))
            self.failures.append("JSON differs from golden/%s:\n%s" % (name, diff))

    def json_of(self, *args, fake=True):
        rc, out, err, cmd = self.run(*args, fake=fake)
        if rc != 0:
            raise Failure("`%s` exited %d: %s" % (" ".join(cmd), rc, err))
        try:
            return json.loads(out)
        except ValueError as e:
            raise Failure("`%s` printed invalid JSON (%s):\n%s" % (" ".join(cmd), e, out))


def check_object(env, where, obj, schema):
    if not env.check(isinstance(obj, dict), "%s: not an object" % where):
        return
    env.check(list(obj) == list(schema),
              "%s: keys %s, documented %s" % (where, list(obj), list(schema)))
    for key, types in schema.items():
        if key in obj:
            v = obj[key]
            # bool is an int in Python: keep integers and booleans apart.
            ok = any(type(v) is t for t in types)
            env.check(ok, "%s.%s: %r is not of type %s" % (where, key, v, types))


def check_device_schema(env, dev):
    where = dev.get("address", "device") if isinstance(dev, dict) else "device"
    check_object(env, where, dev, DEVICE_SCHEMA)
    for key, width in HEX_WIDTH.items():
        v = dev.get(key)
        env.check(isinstance(v, str) and re.fullmatch("[0-9a-f]{%d}" % width, v) is not None,
                  "%s.%s: %r is not %d lower-case hex digits" % (where, key, v, width))
    check_object(env, where + ".sriov", dev.get("sriov"), SRIOV_SCHEMA)
    vfid = dev.get("sriov", {}).get("vf_device_id")
    env.check(vfid is None or re.fullmatch("[0-9a-f]{4}", vfid) is not None,
              "%s.sriov.vf_device_id: %r" % (where, vfid))
    for i, vf in enumerate(dev.get("sriov", {}).get("vfs", [])):
        check_object(env, "%s.sriov.vfs[%d]" % (where, i), vf, VF_SCHEMA)
    for i, t in enumerate(dev.get("mdev_types", [])):
        check_object(env, "%s.mdev_types[%d]" % (where, i), t, MDEV_SCHEMA)
    for i, m in enumerate(dev.get("mdevs", [])):
        check_object(env, "%s.mdevs[%d]" % (where, i), m, ACTIVE_MDEV_SCHEMA)
    check_object(env, where + ".names", dev.get("names"), NAMES_SCHEMA)
    for key in ("modules", "iommu_group_members", "netdevs"):
        env.check(all(isinstance(x, str) for x in dev.get(key, [])),
                  "%s.%s: not a list of strings" % (where, key))


def list_text_lines(out):
    return out.splitlines()


# ---- cases -------------------------------------------------------------------------------------

def case_list_text(env):
    out, err = env.expect(["list"], 0, stderr="")
    env.golden_text("list.txt", out)
    env.check([l.split()[0] for l in out.splitlines()] == TEXT_ORDER,
              "list: addresses or order differ: %s" % out)
    # Every line starts with its address, VF lines too: grep '^0000:3b:02' and cut work.
    env.check(all(l.startswith(l.split()[0]) for l in out.splitlines()) and
              [l[:12] for l in out.splitlines() if l.startswith("0000:3b:02")] == list(VF_LINES),
              "list: a line does not start with its address: %s" % out)


def case_list_matches_lspci(env):
    """The lspci part of every line is what `lspci -nn -D` prints for the same tree."""
    lspci = shutil.which("lspci") or ("/usr/bin/lspci" if os.path.exists("/usr/bin/lspci")
                                      else None)
    if not lspci:
        print("lspci not installed: skipped")
        return SKIP
    p = subprocess.run([lspci, "-A", "linux-sysfs", "-O",
                        "sysfs.path=%s/sys/bus/pci" % env.root, "-i", PCI_IDS, "-nn", "-D"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True,
                       env=dict(os.environ, LC_ALL="C"))
    want = p.stdout.decode().splitlines()
    out, _ = env.expect(["list"], 0)
    # Same lines; hostdev's order differs only in the VFs, which follow their PF.
    got = sorted(re.sub(r" driver=\S+ iommu_group=\S+ numa_node=\S+ resource=\S+$", "", l).strip()
                 for l in out.splitlines())
    want = sorted(want)
    env.check(got == want, "list vs lspci -nn -D:\n%s" % "".join(
        difflib.unified_diff([l + "\n" for l in want], [l + "\n" for l in got], "lspci",
                             "hostdev")))


def case_list_lspci_options(env):
    """lspci's output options give lspci's output for the same tree (real lspci 3.x compared)."""
    lspci = shutil.which("lspci") or ("/usr/bin/lspci" if os.path.exists("/usr/bin/lspci")
                                      else None)
    if not lspci:
        print("lspci not installed: skipped")
        return SKIP
    # lspci cannot be pointed at the fake module directory (libkmod uses the running kernel's),
    # so the module lines are compared separately below.
    def strip_modules(text):
        return [l for l in text.splitlines()
                if not l.startswith(("\tKernel modules:", "Module:"))]
    for opts in (["-n"], ["-nn"], ["-k"], ["-nnk"], ["-nk"], ["-D"], ["-Dk"], ["-vmm"],
                 ["-vmmnn"], ["-vmmn"], ["-vmmk"], ["-s", "3b:", "-nnk"], ["-d", "8086:", "-n"]):
        p = subprocess.run([lspci, "-A", "linux-sysfs", "-O",
                            "sysfs.path=%s/sys/bus/pci" % env.root, "-i", PCI_IDS] + opts,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
                           env=dict(os.environ, LC_ALL="C"))
        want = strip_modules(p.stdout.decode())
        out, _ = env.expect(["list"] + opts, 0, stderr="")
        got = strip_modules(out)
        env.check(got == want, "list %s vs lspci %s:\n%s" % (" ".join(opts), " ".join(opts), "".join(
            difflib.unified_diff([l + "\n" for l in want], [l + "\n" for l in got], "lspci",
                                 "hostdev"))))
    out, _ = env.expect(["list", "-nnk", "-s", "01:00.0"], 0, stderr="")
    env.check(out.startswith(
        "0000:01:00.0 3D controller [0302]: NVIDIA Corporation TU104GL [Tesla T4] [10de:1eb8] "
        "(rev a1)\n\tSubsystem: NVIDIA Corporation TU104GL [Tesla T4] [10de:12a2]\n"
        "\tKernel driver in use: nvidia\n\tKernel modules: nouveau, nvidia\n"), out)
    # -v: the sysfs facts of lspci -v (no configuration space), a blank line after each device.
    out, _ = env.expect(["list", "-v", "-s", "3b:00.0"], 0, stderr="")
    env.check(out == "0000:3b:00.0 Ethernet controller: Intel Corporation Ethernet Controller "
              "X710 for 10GbE SFP+ (rev 02)\n"
              "\tSubsystem: Intel Corporation Ethernet Converged Network Adapter X710-2\n"
              "\tPhysical Slot: 4\n\tNUMA node: 0\n\tIOMMU group: 12\n"
              "\tKernel driver in use: i40e\n\tKernel modules: i40e\n\n", "list -v: %r" % out)
    env.expect(["list", "-vv", "-s", "3b:00.0"], 0, stdout=out, stderr="")
    see = " (see 'hostdev list --help')\n"
    env.expect(["list", "--json", "-n"], 2, stdout="",
               stderr="hostdev: list: --json prints every field already: it takes none of -n, "
                      "-k, -D, -v, -m, -t" + see)
    env.expect(["list", "-m"], 2, stdout="",
               stderr="hostdev: list: -m: only lspci's -vmm form is supported (tag: value "
                      "records); use --json for a machine-readable list" + see)


# `lspci -t` of the test tree: two root buses of domain 0 and the VMD domain 10000 (pciutils 3.9).
TREE_T = """\
-+-[0000:00]-+-00.0
 |           +-01.0--+-00.0
 |           |       \\-00.1
 |           +-02.0
 |           \\-1f.0
 +-[0000:3a]---00.0--+-00.0
 |                   +-00.1
 |                   +-02.0
 |                   \\-02.1
 \\-[10000:01]---00.0
"""


def case_list_tree(env):
    """-t is lspci's bus tree: VFs beside their PF behind the same bridge, the VMD domain its own root."""
    out, _ = env.expect(["list", "-t"], 0, stderr="")
    env.check(out == TREE_T, "list -t:\n%s" % out)
    out, _ = env.expect(["list", "-tvnn"], 0, stderr="")
    env.check(" |                   +-02.0  Intel Corporation Ethernet Virtual Function 700 Series "
              "[8086:154c]\n" in out and out.endswith(
                  " \\-[10000:01]---00.0  Samsung Electronics Co Ltd NVMe SSD Controller "
                  "SM981/PM981/PM983 [144d:a808]\n"), "list -tvnn:\n%s" % out)
    lspci = shutil.which("lspci") or ("/usr/bin/lspci" if os.path.exists("/usr/bin/lspci")
                                      else None)
    if lspci:
        for opts in (["-t"], ["-tv"], ["-tvnn"], ["-tvn"], ["-tk"], ["-tD"]):
            p = subprocess.run([lspci, "-A", "linux-sysfs", "-O",
                                "sysfs.path=%s/sys/bus/pci" % env.root, "-i", PCI_IDS] + opts,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
                               env=dict(os.environ, LC_ALL="C"))
            env.expect(["list"] + opts, 0, stdout=p.stdout.decode(), stderr="")
    see = " (see 'hostdev list --help')\n"
    for args in (["-t", "-s", "00:"], ["-t", "-d", "8086:"], ["-t", "--driver", "nvme"],
                 ["-t", "--class", "02"]):
        env.expect(["list"] + args, 2, stdout="",
                   stderr="hostdev: list: -t draws the whole tree: it takes no filter (-s, -d, "
                          "--driver, --class); use them without -t" + see)
    env.expect(["list", "-t", "--json"], 2, stdout="",
               stderr="hostdev: list: --json prints every field already: it takes none of -n, "
                      "-k, -D, -v, -m, -t" + see)


def case_list_json(env):
    rc, out, err, _ = env.run("list", "--json")
    env.check(rc == 0 and err == "", "list --json: exit %d, stderr %r" % (rc, err))
    # The documented validator of the README/docs accepts it too.
    p = subprocess.run([sys.executable, "-m", "json.tool"], input=out.encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    env.check(p.returncode == 0, "python3 -m json.tool rejects the output: %s" % p.stderr)
    doc = json.loads(out)
    env.check(list(doc) == ["schema_version", "devices"], "top-level keys %s" % list(doc))
    env.check(doc.get("schema_version") == 1, "schema_version %r" % doc.get("schema_version"))
    env.check([d["address"] for d in doc["devices"]] == ADDRESSES, "device order")
    for dev in doc["devices"]:
        check_device_schema(env, dev)
    env.golden_json("list.json", doc)
    # Pretty output: two-space indentation, "key": value.
    env.check(out.startswith('{\n  "schema_version": 1,\n  "devices": [\n    {\n'),
              "layout of --json output: %r" % out[:80])


def case_list_json_fields(env):
    """Spot checks of values that matter to operators, independent of the golden file."""
    devs = {d["address"]: d for d in env.json_of("list", "--json")["devices"]}
    pf, vf0, vf1 = devs["0000:3b:00.0"], devs["0000:3b:02.0"], devs["0000:3b:02.1"]
    gpu, unknown = devs["0000:01:00.0"], devs["0000:00:1f.0"]
    env.check(pf["sriov"] == {"is_pf": True, "total_vfs": 64, "num_vfs": 2,
                              "vf_device_id": "154c",
                              "vfs": [{"number": 0, "address": "0000:3b:02.0"},
                                      {"number": 1, "address": "0000:3b:02.1"}]},
              "PF sriov: %r" % pf["sriov"])
    env.check((vf1["is_vf"], vf1["pf_address"], vf1["vf_index"]) == (True, "0000:3b:00.0", 1),
              "VF 1: %r" % [vf1["is_vf"], vf1["pf_address"], vf1["vf_index"]])
    env.check(vf1["driver"] == "vfio-pci" and vf1["driver_override"] == "vfio-pci",
              "VF 1 driver/override")
    env.check(vf0["netdevs"] == ["ens4f0v0"] and vf0["driver_override"] is None, "VF 0 netdevs")
    env.check(pf["physical_slot"] == "4" and pf["numa_node"] == 0, "PF slot/NUMA")
    env.check(gpu["iommu_group"] == 1 and gpu["iommu_group_members"] ==
              ["0000:00:01.0", "0000:01:00.0", "0000:01:00.1"], "GPU group")
    env.check(devs["0000:00:02.0"]["boot_vga"] is True and gpu["boot_vga"] is False, "boot_vga")
    env.check(devs["0000:00:01.0"]["is_bridge"] is True and gpu["is_bridge"] is False,
              "is_bridge")
    env.check(unknown["iommu_group"] is None and unknown["iommu_group_members"] == [] and
              unknown["vendor_name"] is None and unknown["modalias"] is None and
              unknown["driver"] is None and unknown["numa_node"] == -1 and
              unknown["vf_index"] is None and unknown["sriov"]["vf_device_id"] is None,
              "unknown device nulls: %r" % unknown)
    env.check(unknown["names"] == {
        "description": "Class ff00: Vendor 1234 Device 5678",
        "object_name": "node1-0000001f0",
        "resource_name": "unknown.com/5678",
        "device_resource_name": "unknown.com/node1-0000001f0",
        "kubevirt_env": "PCI_RESOURCE_UNKNOWN_COM_5678"}, "unknown names %r" % unknown["names"])
    env.check(pf["names"]["kubevirt_env"] ==
              "PCI_RESOURCE_INTEL_COM_ETHERNET_CONTROLLER_X710_FOR_10GBE_SFP", "PF env name")
    odd = gpu["mdev_types"][2]
    env.check(odd == {"id": "test-odd", "name": None, "available_instances": None,
                      "device_api": "vfio-pci",
                      "description": 'say "hi"\\path\tTAB\nline two \ufffd end'},
              "escaped mdev description: %r" % odd)
    env.check(sorted(gpu["modules"]) == ["nouveau", "nvidia"] and pf["modules"] == ["i40e"] and
              devs["0000:00:00.0"]["modules"] == [], "modules from the fake depmod tree")
    nvme = devs["10000:01:00.0"]
    env.check(nvme["subsystem_name"] == 'PM963 2.5" NVMe PCIe SSD' and
              nvme["prog_if_name"] == "NVM Express", "NVMe names %r" % nvme)


def case_list_filters(env):
    def addrs(*args):
        out, err = env.expect(["list"] + list(args), 0, stderr="")
        return [l.split()[0] for l in out.splitlines()]

    cases = [
        (["-s", "3b:"], ["0000:3b:00.0", "0000:3b:02.0", "0000:3b:02.1", "0000:3b:00.1"]),
        (["-s", "3b:02.1"], ["0000:3b:02.1"]),
        (["-s", ".1"], ["0000:01:00.1", "0000:3b:00.1", "0000:3b:02.1"]),
        (["-s", "10000:01:00.0"], ["10000:01:00.0"]),
        (["--slot", "0000:00:1f"], ["0000:00:1f.0"]),
        (["-d", "8086:154c"], ["0000:3b:02.0", "0000:3b:02.1"]),
        (["-d", ":1572"], ["0000:3b:00.0", "0000:3b:00.1"]),
        (["-d", "10de:"], ["0000:01:00.0", "0000:01:00.1"]),
        (["-d", "::0604"], ["0000:00:01.0", "0000:3a:00.0"]),
        (["--device", "144d:a808:0108:02"], ["10000:01:00.0"]),
        (["--driver", "i40e"], ["0000:3b:00.0", "0000:3b:00.1"]),
        (["--driver", "none"], ["0000:00:00.0", "0000:00:1f.0"]),
        (["--class", "03"], ["0000:00:02.0", "0000:01:00.0"]),
        (["--class", "0604"], ["0000:00:01.0", "0000:3a:00.0"]),
        (["--class", "010802"], ["10000:01:00.0"]),
        # Different kinds: all must match. Same kind twice: any.
        (["-s", "3b:", "-d", "8086:154c", "--driver", "vfio-pci"], ["0000:3b:02.1"]),
        (["-s", "00:01.0", "-s", "3b:00.0"], ["0000:00:01.0", "0000:3b:00.0"]),
        (["--driver", "nvme", "--driver", "iavf"], ["0000:3b:02.0", "10000:01:00.0"]),
        (["-d", "dead:beef"], []),
    ]
    for args, want in cases:
        got = addrs(*args)
        env.check(got == want, "list %s: %s, expected %s" % (" ".join(args), got, want))
    doc = env.json_of("list", "--json", "-d", "dead:")
    env.check(doc == {"schema_version": 1, "devices": []}, "empty JSON list: %r" % doc)
    doc = env.json_of("list", "-s", "3b:02.0", "--json")
    env.check([d["address"] for d in doc["devices"]] == ["0000:3b:02.0"], "JSON + filter")


def case_list_filter_errors(env):
    see = " (see 'hostdev list --help')\n"
    cases = [
        (["-s", "zz"], "hostdev: list: -s: invalid slot 'zz' in filter 'zz': expected hex "
                       "00-1f or '*'"),
        (["-s", "3b:00.9"], "hostdev: list: -s: invalid function '9' in filter '3b:00.9': "
                            "expected 0-7 or '*'"),
        (["-s", "1ff:00.0"], "hostdev: list: -s: invalid bus '1ff' in filter '1ff:00.0': "
                             "expected hex 00-ff or '*'"),
        (["-d", "8086"], "hostdev: list: -d: invalid ID filter '8086': expected "
                         "vendor:device[:class[:prog_if]] such as 8086:1521 or 10de:"),
        (["-d", "8086:xyz"], "hostdev: list: -d: invalid device ID 'xyz' in filter "
                             "'8086:xyz': expected hex 0000-ffff or '*'"),
        (["-d", "12345:1"], "hostdev: list: -d: invalid vendor ID '12345' in filter "
                            "'12345:1': expected hex 0000-ffff or '*'"),
        (["--class", "2"], "hostdev: list: --class: invalid class filter '2': expected 2, 4 "
                           "or 6 hex digits (class, class+subclass, or with prog-if), such as "
                           "02 or 0200"),
    ]
    for args, line in cases:
        env.expect(["list"] + args, 2, stdout="", stderr=line + see)
        # The same with --json: still nothing on stdout.
        env.expect(["list", "--json"] + args, 2, stdout="", stderr=line + see)


def case_list_usage_errors(env):
    see = " (see 'hostdev list --help')\n"
    env.expect(["list", "--frob"], 2, stdout="",
               stderr="hostdev: list: unknown option '--frob'" + see)
    env.expect(["list", "-x"], 2, stdout="", stderr="hostdev: list: unknown option '-x'" + see)
    env.expect(["list", "-s"], 2, stdout="",
               stderr="hostdev: list: option '-s' needs an argument" + see)
    env.expect(["list", "--driver"], 2, stdout="",
               stderr="hostdev: list: option '--driver' needs an argument" + see)
    env.expect(["list", "--json=yes"], 2, stdout="",
               stderr="hostdev: list: option '--json' takes no argument" + see)
    env.expect(["list", "0000:00:00.0"], 2, stdout="",
               stderr="hostdev: list: unexpected argument '0000:00:00.0'" + see)


def case_show_text(env):
    for addr, name in [("0000:3b:00.0", "show-pf.txt"), ("3b:02.1", "show-vf.txt"),
                       ("01:00.0", "show-gpu.txt"), ("00:1f.0", "show-unknown.txt"),
                       ("10000:01:00.0", "show-nvme.txt")]:
        out, err = env.expect(["show", addr], 0, stderr="")
        env.golden_text(name, out)


def case_show_json(env):
    devs = {d["address"]: d for d in env.json_of("list", "--json")["devices"]}
    for addr in ADDRESSES:
        doc = env.json_of("show", addr, "--json")
        env.check(list(doc) == ["schema_version", "device", "iommu_group_devices",
                                "vf_devices", "pf_device"], "show keys %s" % list(doc))
        env.check(doc["schema_version"] == 1, "schema_version")
        check_device_schema(env, doc["device"])
        env.check(doc["device"] == devs[addr], "%s: show --json device != list --json entry"
                  % addr)
        env.check([m["address"] for m in doc["iommu_group_devices"]] ==
                  doc["device"]["iommu_group_members"], "%s: group devices" % addr)
        for m in doc["iommu_group_devices"]:
            check_object(env, addr + " group member", m,
                         {"address": (STR,), "driver": (STR, NULL),
                          "description": (STR, NULL), "is_bridge": (BOOL, NULL)})
        env.check([(v["address"], v["number"]) for v in doc["vf_devices"]] ==
                  [(v["address"], v["number"]) for v in doc["device"]["sriov"]["vfs"]],
                  "%s: vf devices" % addr)
        env.check((doc["pf_device"] is None) == (not doc["device"]["is_vf"]),
                  "%s: pf_device" % addr)
    env.golden_json("show-gpu.json", env.json_of("show", "--json", "01:00.0"))
    env.golden_json("show-pf.json", env.json_of("show", "--json", "3b:00.0"))
    env.golden_json("show-vf.json", env.json_of("show", "--json", "3b:02.1"))


def case_show_errors(env):
    see = " (see 'hostdev show --help')\n"
    env.expect(["show", "3b:1f.0"], 1, stdout="",
               stderr="hostdev: 0000:3b:1f.0: no such PCI device under %s/sys/bus/pci/devices "
                      "(check the address with `hostdev list`)\n" % env.root)
    env.expect(["show", "--json", "0000:3b:1f.0"], 1, stdout="")
    env.expect(["show", "zz"], 2, stdout="",
               stderr="hostdev: show: 'zz' is not a PCI address (it does not have the form "
                      "[DDDD:]BB:DD.F): expected DDDD:BB:DD.F in hex (domain, bus, device 00-1f, "
                      "function 0-7), such as 0000:3b:00.0; the domain may be left out (3b:00.0 "
                      "is 0000:3b:00.0)" + see)
    env.expect(["show", "3b:00.8"], 2, stdout="")
    env.expect(["show"], 2, stdout="", stderr="hostdev: show: missing ADDRESS" + see)
    env.expect(["show", "--json"], 2, stdout="", stderr="hostdev: show: missing ADDRESS" + see)
    env.expect(["show", "3b:00.0", "3b:00.1"], 2, stdout="",
               stderr="hostdev: show: unexpected argument '3b:00.1'" + see)
    env.expect(["show", "-s", "3b:00.0"], 2, stdout="",
               stderr="hostdev: show: unknown option '-s'" + see)


def case_show_no_module_index(env):
    """Without a module index, show says so instead of "none" (no module can drive it)."""
    empty = os.path.join(env.tmp, "no-modules")
    os.mkdir(empty)
    out, err = env.expect(["show", "--modules-dir", empty, "01:00.0"], 0)
    env.check("cannot load the module indexes of %s" % empty in err, "warning %r" % err)
    line = [l for l in out.splitlines() if l.startswith("  Kernel modules:")]
    env.check(line == ["  Kernel modules:       unknown: no module index in %s "
                       "(modules.alias.bin); install the kernel's modules or point "
                       "--modules-dir at them" % empty], "module line %r" % line)
    # With the index, a device no module matches still reads "none".
    out, _ = env.expect(["show", "00:1f.0"], 0, stderr="")
    env.check("  Kernel modules:       none\n" in out, "00:1f.0: %r" % out)


def case_groups(env):
    """The IOMMU-group view: groups in number order, members as lspci -nn lines, ungrouped last."""
    out, _ = env.expect(["groups"], 0, stderr="")
    env.golden_text("groups.txt", out)
    doc = env.json_of("groups", "--json")
    env.check(doc["iommu_groups"][1] == {"group": 1, "devices": ["0000:00:01.0", "0000:01:00.0",
                                                                  "0000:01:00.1"]},
              "group 1: %r" % doc["iommu_groups"][1])
    env.check([g["group"] for g in doc["iommu_groups"]] == [0, 1, 2, 11, 12, 13, 40, 41],
              "groups %r" % doc["iommu_groups"])
    env.check(doc["ungrouped"] == ["0000:00:1f.0", "10000:01:00.0"], "ungrouped")
    env.expect(["groups", "x"], 2, stdout="",
               stderr="hostdev: groups: unexpected argument 'x' (see 'hostdev groups --help')\n")


def case_help(env):
    out, _ = env.expect(["--help"], 0, stderr="", fake=False)
    env.check(out.startswith("Usage: hostdev [GLOBAL OPTIONS] COMMAND"), "hostdev --help")
    for word in ("list", "show", "--root", "--sysfs", "--pci-ids", "--node-name", "--verbose",
                 "--modules-dir",
                 "--version", "Exit status"):
        env.check(word in out, "hostdev --help lacks %s" % word)
    env.expect(["-h"], 0, stdout=out, stderr="", fake=False)
    sub_options = {
        "list": ["--json", "--slot", "--device", "--driver", "--class", "--root"],
        "show": ["--json", "ADDRESS", "--root"],
    }
    for sub, words in sub_options.items():
        out, _ = env.expect([sub, "--help"], 0, stderr="", fake=False)
        env.check(out.startswith("Usage: hostdev %s " % sub), "%s --help: %r" % (sub, out[:60]))
        for word in words:
            env.check(word in out, "hostdev %s --help lacks %s" % (sub, word))
        env.expect([sub, "-h"], 0, stdout=out, stderr="", fake=False)
        env.expect(["--help", sub], 0, stdout=out, stderr="", fake=False)
        # --help wins over bad arguments and is not affected by the root.
        env.expect([sub, "--help", "extra", "args"], 0, stdout=out, stderr="", fake=False)
    env.expect([], 2, stdout="",
               stderr="hostdev: missing command (see 'hostdev --help')\n", fake=False)
    env.expect(["frob"], 2, stdout="",
               stderr="hostdev: unknown command 'frob' (see 'hostdev --help')\n", fake=False)
    env.expect(["--frob", "list"], 2, stdout="",
               stderr="hostdev: unknown option '--frob' (see 'hostdev --help')\n", fake=False)


def man_synopsis_options(path):
    """{command: long options} of the SYNOPSIS of the man page (troff source; blocks are split by .PP,
    a command's blocks merged: `hostdev list` and `hostdev list --usb` are one command)."""
    with open(path) as f:
        text = f.read()
    synopsis = text.split("\n.SH SYNOPSIS", 1)[1].split("\n.SH ", 1)[0]
    found = {}
    for block in synopsis.split("\n.PP"):
        m = re.search(r"^\.B hostdev ([a-z](?:[a-z]|\\-)*)", block, re.M)
        if m:
            found.setdefault(m.group(1).replace("\\", ""), set()).update(
                o.replace("\\", "") for o in re.findall(r"\\-\\-[a-z](?:[a-z]|\\-)*", block))
    return found


def case_man_synopsis(env):
    """The man page's SYNOPSIS names every command and exactly the options of its --help usage lines."""
    man = man_synopsis_options(os.path.join(HERE, "..", "..", "docs", "hostdev.1"))
    out, _ = env.expect(["--help"], 0, fake=False)
    commands = re.findall(r"^  ([a-z][a-z-]*) ", out.split("Commands:\n", 1)[1].split("\n\n", 1)[0], re.M)
    env.check(len(commands) >= 16, "hostdev --help lists %d commands: %s" % (len(commands), commands))
    for cmd in commands:
        usage, _ = env.expect([cmd, "--help"], 0, fake=False)
        usage = usage.split("\n\n", 1)[0]
        options = set(re.findall(r"--[a-z][a-z-]*", usage))
        if not env.check(cmd in man, "docs/hostdev.1: no `hostdev %s` in the SYNOPSIS" % cmd):
            continue
        env.check(options == man[cmd],
                  "docs/hostdev.1 SYNOPSIS of `hostdev %s` drifted from its --help usage: only in "
                  "--help %s, only in the man page %s" % (cmd, sorted(options - man[cmd]),
                                                          sorted(man[cmd] - options)))


def case_version(env):
    out, _ = env.expect(["--version"], 0, stderr="", fake=False)
    env.check(re.fullmatch(r"hostdev \d+\.\d+\.\d+\n", out) is not None, "--version: %r" % out)
    with open(os.path.join(SOURCE_ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(libhostdev VERSION (\S+)", f.read())
    env.check(m is not None and out == "hostdev %s\n" % m.group(1),
              "--version %r does not match the project version" % out)
    env.expect(["list", "--version"], 0, stdout=out, stderr="", fake=False)


def case_global_options(env):
    base, _ = env.expect(["list"], 0)
    # Global options after the subcommand, in any order, and --option=value.
    rc, out, err, _ = env.run("list", "--node-name=node1", "--pci-ids=" + PCI_IDS,
                              "--root=" + env.root, fake=False)
    env.check((rc, out, err) == (0, base, ""), "global options after the subcommand")
    # --sysfs overrides --root whatever the order.
    other = os.path.join(env.tmp, "other")
    subprocess.run([sys.executable, os.path.join(HERE, "make_fake_root.py"), other], check=True)
    os.unlink(os.path.join(other, "sys/bus/pci/devices/0000:00:1f.0"))
    for order in (["--sysfs", other + "/sys", "--root", env.root],
                  ["--root", env.root, "--sysfs", other + "/sys"]):
        rc, out, err, _ = env.run(*(order + ["--pci-ids", PCI_IDS, "list"]), fake=False)
        env.check(rc == 0 and "0000:00:1f.0" not in out and "0000:00:00.0" in out,
                  "--sysfs must override --root (%s): %s %s" % (order, out, err))
    # A relative --root works (the CLI makes it absolute).
    p = subprocess.run([env.hostdev, "--root", "root", "--pci-ids", PCI_IDS,
                        "--node-name", "node1", "list"], cwd=env.tmp, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    env.check((p.returncode, p.stdout.decode()) == (0, base), "relative --root: exit %d %r"
              % (p.returncode, p.stderr))
    # --node-name reaches the names.
    out, _ = env.expect(["--node-name", "worker-7", "show", "3b:00.0"], 0)
    env.check("Object name:          worker-7-00003b000\n" in out, "--node-name: %s" % out)
    # Bad global options are usage errors naming the option.
    env.expect(["list", "--root", env.tmp + "/nonexistent"], 2, stdout="",
               stderr="hostdev: list: --root '%s/nonexistent': No such file or directory "
                      "(see 'hostdev list --help')\n" % env.tmp, fake=False)
    env.expect(["--pci-ids", env.tmp, "list"], 2, stdout="",
               stderr="hostdev: --pci-ids '%s': is a directory, expected a file "
                      "(see 'hostdev --help')\n" % env.tmp, fake=False)
    env.expect(["--root", PCI_IDS, "list"], 2, stdout="",
               stderr="hostdev: --root '%s': not a directory (see 'hostdev --help')\n" % PCI_IDS,
               fake=False)
    env.expect(["list", "--node-name="], 2, stdout="",
               stderr="hostdev: list: --node-name: empty name (see 'hostdev list --help')\n")
    # A root without sysfs is a runtime failure: exit 1, one line naming the path.
    out, err = env.expect(["--root", env.tmp, "list"], 1, stdout="", fake=False)
    env.check(err.count("\n") == 1 and err.startswith("hostdev: ") and
              env.tmp + "/sys/bus/pci/devices" in err, "root without sysfs: %r" % err)


def case_verbose(env):
    rc, out, err, _ = env.run("-vv", "show", "3b:1f.0")
    env.check(rc == 1, "-vv show unknown: exit %d" % rc)
    env.check(re.search(r"^hostdev: debug: .*0000:3b:1f.0", err, re.M) is not None,
              "-vv shows no library debug message: %r" % err)
    rc, out, err, _ = env.run("show", "3b:1f.0")
    env.check("debug" not in err, "library messages without -v: %r" % err)
    # --debug and --log-level are the logging options (list takes -v as lspci does).
    for argv in (["--debug", "show", "3b:1f.0"], ["show", "--log-level", "debug", "3b:1f.0"]):
        rc, out, err, _ = env.run(*argv)
        env.check(rc == 1 and re.search(r"^hostdev: debug: .*0000:3b:1f.0", err, re.M)
                  is not None, "%s shows no library debug message: %r" % (argv, err))
    rc, out, err, _ = env.run("show", "--log-level", "err", "3b:1f.0")
    env.check("debug" not in err and "notice" not in err, "--log-level err: %r" % err)
    env.expect(["show", "--log-level", "loud", "3b:1f.0"], 2, stdout="",
               stderr="hostdev: show: --log-level: 'loud' is not one of err, warning, notice, "
                      "info, debug (see 'hostdev show --help')\n")
    out, err = env.expect(["list", "-v", "-s", "3b:1f.0"], 0, stdout="")
    env.check("debug" not in err, "list -v logs: %r" % err)


def case_escaping_text(env):
    out, _ = env.expect(["show", "01:00.0"], 0, stderr="")
    env.check("      say \"hi\"\\path\tTAB\n      line two \\xff end\n" in out,
              "text mdev description: %r" % out)
    # A terminal escape sequence from a driver is shown, not sent to the terminal.
    desc = os.path.join(os.path.realpath(env.root + "/sys/bus/pci/devices/0000:01:00.0"),
                        "mdev_supported_types/nvidia-223/description")
    with open(desc, "wb") as f:
        f.write(b"x\x1b[31my\n")
    out, _ = env.expect(["show", "01:00.0"], 0, stderr="")
    env.check("      x\\x1b[31my\n" in out and "\x1b" not in out, "escape in text: %r" % out)
    doc = env.json_of("show", "01:00.0", "--json")
    env.check(doc["device"]["mdev_types"][1]["description"] == "x\x1b[31my",
              "JSON keeps the bytes (escaped by JSON): %r" % doc["device"]["mdev_types"][1])


def case_vanished_device(env):
    """A device whose directory disappeared (hot-unplug during the scan) is skipped, not fatal."""
    target = os.path.realpath(env.root + "/sys/bus/pci/devices/0000:3b:02.0")
    shutil.rmtree(target)
    out, _ = env.expect(["list"], 0, stderr="")
    env.check([l.split()[0] for l in out.splitlines()] ==
              [a for a in TEXT_ORDER if a != "0000:3b:02.0"], "list after unplug: %s" % out)
    doc = env.json_of("list", "--json")
    env.check(len(doc["devices"]) == len(ADDRESSES) - 1, "JSON list after unplug")
    env.expect(["show", "3b:02.0"], 1, stdout="")
    # The PF still names the VF it links to; the VF's driver is unknown.
    out, _ = env.expect(["show", "3b:00.0"], 0, stderr="")
    env.check("    VF 0   0000:3b:02.0  (unreadable)\n" in out, "PF view of a vanished VF: %s" % out)
    doc = env.json_of("show", "--json", "3b:00.0")
    env.check(doc["vf_devices"][0] == {"address": "0000:3b:02.0", "driver": None, "number": 0},
              "JSON PF view of a vanished VF: %r" % doc["vf_devices"])


def case_write_error(env):
    if not os.path.exists("/dev/full"):
        return SKIP
    for args in (["list"], ["list", "--json"], ["show", "3b:00.0"]):
        with open("/dev/full", "w") as full:
            rc, out, err, _ = env.run(*args, stdout=full)
        env.check(rc == 1, "%s > /dev/full: exit %d, expected 1" % (args, rc))
        env.check(err.startswith("hostdev: error writing standard output: No space left"),
                  "%s > /dev/full: stderr %r" % (args, err))


def case_list_json_stream_failure(env):
    """`list --json` streams: a write failure part-way leaves the blocks already written, which
    are a prefix of the whole document and not JSON, and exits 1 saying why. The failure is the
    kernel's own: a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes write(2) fail with EFBIG
    once the file is full."""
    import resource
    import signal

    ids = "/usr/share/misc/pci.ids"
    if not os.path.exists(ids):
        return SKIP
    # Enough functions for several 64 KiB blocks (about 1.6 KiB of JSON each).
    tree = os.path.join(env.tmp, "tree")
    subprocess.run([sys.executable, os.path.join(SOURCE_ROOT, "bench", "gen-sysfs.py"),
                    "--devices", "120", "--seed", "1", tree], check=True,
                   stdout=subprocess.DEVNULL)
    cmd = [env.hostdev, "--root", tree, "--pci-ids", ids, "--node-name", "node1",
           "--modules-dir", env.modules, "list", "--json"]
    whole = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    json.loads(whole)
    limit = 100000
    env.check(len(whole) > limit, "the tree's JSON is only %d bytes" % len(whole))

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    path = os.path.join(env.tmp, "out.json")
    with open(path, "wb") as out:
        p = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, preexec_fn=limit_file_size)
    with open(path, "rb") as f:
        partial = f.read()
    err = p.stderr.decode("utf-8", "replace")
    env.check(p.returncode == 1, "list --json past the file-size limit: exit %d, expected 1"
              % p.returncode)
    env.check("hostdev: error writing standard output: File too large\n" in err,
              "list --json past the file-size limit: stderr %r" % err)
    # The first 64 KiB block went out before the failure: the output is streamed.
    env.check(65536 <= len(partial) <= limit and whole.startswith(partial),
              "list --json past the file-size limit: wrote %d bytes, not a prefix of the %d "
              "of the whole document of at least 64 KiB" % (len(partial), len(whole)))
    try:
        json.loads(partial)
        env.check(False, "list --json past the file-size limit: the partial output parses")
    except ValueError:
        pass


def case_schema_doc(env):
    """docs/json-schema.md documents exactly the keys the CLI prints, in order."""
    path = os.path.join(SOURCE_ROOT, "docs", "json-schema.md")
    with open(path) as f:
        text = f.read()
    sections = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^#+ .*\(`(\w+)`\)\s*$", line)
        if m:
            current = m.group(1)
            sections[current] = []
            continue
        m = re.match(r"^\| `(\w+)` \|", line)
        if m and current:
            sections[current].append(m.group(1))
    doc = env.json_of("show", "--json", "3b:00.0")
    gpu = env.json_of("show", "--json", "01:00.0")
    dev = doc["device"]
    expected = {
        "list": ["schema_version", "devices"],
        "show": list(doc),
        "device": list(dev),
        "sriov": list(dev["sriov"]),
        "vf": list(dev["sriov"]["vfs"][0]),
        "mdev_type": list(gpu["device"]["mdev_types"][0]),
        "mdev": list(gpu["device"]["mdevs"][0]),
        "names": list(dev["names"]),
        "group_member": list(doc["iommu_group_devices"][0]),
        "vf_device": list(doc["vf_devices"][0]),
        "pf_device": list(env.json_of("show", "--json", "3b:02.0")["pf_device"]),
    }
    for name, keys in expected.items():
        env.check(sections.get(name) == keys, "docs/json-schema.md table (`%s`): %s, output "
                  "has %s" % (name, sections.get(name), keys))
    for name, keys in (("device", DEVICE_SCHEMA), ("sriov", SRIOV_SCHEMA),
                       ("mdev_type", MDEV_SCHEMA), ("mdev", ACTIVE_MDEV_SCHEMA),
                       ("names", NAMES_SCHEMA)):
        env.check(sections.get(name) == list(keys), "test schema %s out of date" % name)


def case_host(env):
    """This machine's real /sys, read-only: text and JSON agree with the sysfs listing."""
    if not os.path.isdir("/sys/bus/pci/devices"):
        return SKIP
    present = sorted(os.listdir("/sys/bus/pci/devices"))
    rc, out, err, _ = env.run("list", fake=False)
    env.check(rc == 0, "host list: exit %d %s" % (rc, err))
    doc = env.json_of("list", "--json", fake=False)
    env.check(len(out.splitlines()) == len(doc["devices"]) == len(present),
              "host: %d lines, %d JSON devices, %d in sysfs" % (
                  len(out.splitlines()), len(doc["devices"]), len(present)))
    for dev in doc["devices"]:
        check_device_schema(env, dev)
    if doc["devices"]:
        first = doc["devices"][0]["address"]
        shown = env.json_of("show", first, "--json", fake=False)
        env.check(shown["device"]["address"] == first, "host show")


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check-registered", action="store_true",
                    help="fail unless the given cases are exactly the cases of this file")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if args.check_registered:
        missing = sorted(set(CASES) - set(args.cases))
        unknown = sorted(set(args.cases) - set(CASES))
        if missing or unknown:
            print("tests/cli/CMakeLists.txt: not registered %s, unknown %s" % (missing, unknown))
            return 1
        return 0
    status = 0
    for name in args.cases or list(CASES):
        if name not in CASES:
            print("unknown case %s" % name)
            return 1
        env = Env(os.path.abspath(args.hostdev), args.update)
        try:
            r = CASES[name](env)
        except Failure as e:
            env.failures.append(str(e))
            r = None
        except Exception:
            env.failures.append(traceback.format_exc())
            r = None
        finally:
            env.close()
        if env.failures:
            print("FAIL %s" % name)
            for f in env.failures:
                print("  " + f.replace("\n", "\n  "))
            status = 1
        elif r == SKIP:
            print("SKIP %s" % name)
            if status == 0 and len(args.cases) == 1:
                status = SKIP
        else:
            print("PASS %s" % name)
    return status


if __name__ == "__main__":
    sys.exit(main())
