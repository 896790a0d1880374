#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Behaviour tests of `hostdev vgpu` (and of bind and serve for vGPU VFs) on the A2 host.

The kernel and NVIDIA's driver are played by the kernel model (tests/kmodel, LD_PRELOAD): this
machine has no such GPU and must never rebind its own devices. The model's vGPU rules are modelled
from NVIDIA's documentation, not observed (tests/kmodel/kmodel.c, "NVIDIA vGPU without mdev").
Each case builds a fresh host with vgpu-fake-host (tests/vgpu/vgpu_tree.h: an A2 at 0000:08:00.0
with 16 VFs on nvidia, a NIC VF on iavf) and runs the real `hostdev` binary against it with --root.
Usage: test_vgpu_cli.py --hostdev BIN --fake-host BIN --kmodel LIB CASE
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

PF = "0000:08:00.0"
VF0 = "0000:08:00.4"
VF1 = "0000:08:00.5"
NIC_VF = "0000:3b:02.0"
T_4Q = 1303
T_8Q = 1304


class Host:
    def __init__(self, args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTDEV_KMODEL_")}
        env["LD_PRELOAD"] = args.kmodel  # the model creates the VFs
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
        out = subprocess.run([args.fake_host], env=env, check=True, capture_output=True, text=True)
        self.root = out.stdout.strip()
        self.args = args

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, *argv, expect=0, env_extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTDEV_KMODEL_")}
        env["LD_PRELOAD"] = self.args.kmodel
        env["HOSTDEV_KMODEL_ROOT"] = self.root
        env["ASAN_OPTIONS"] = "verify_asan_link_order=0"
        env.update(env_extra or {})
        p = subprocess.run([self.args.hostdev, "--root", self.root, *argv], env=env,
                           capture_output=True, text=True)
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"hostdev {' '.join(argv)}: exit {p.returncode}, expected {expect}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def current(self, vf):
        with open(os.path.join(self.root, "sys/bus/pci/devices", vf, "nvidia/current_vgpu_type")) as f:
            return int(f.read())

    def driver(self, address):
        link = os.path.join(self.root, "sys/bus/pci/devices", address, "driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def journal(self):
        path = os.path.join(self.root, "var/lib/hostdev/vgpu-journal.json")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return json.load(f)["records"]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def contains(text, needle):
    check(needle in text, f"{needle!r} not in:\n{text}")


def case_list(args):
    h = Host(args)
    try:
        out = h.run("vgpu", "list").stdout.splitlines()
        check(out[0].split() == ["VF", "GPU", "DRIVER", "GROUP", "TYPE", "CREATABLE"], out[0])
        check(len(out) == 17, "16 VFs: %d lines" % len(out))
        row = out[1].split(None, 5)
        check(row[:5] == [VF0, PF, "nvidia", row[3], "none"] and row[3].isdigit(), out[1])
        contains(row[5], "1301 (NVIDIA A2-1Q), 1302 (NVIDIA A2-2Q), 1303 (NVIDIA A2-4Q)")
        doc = json.loads(h.run("vgpu", "list", "--json", "08:00.0").stdout)
        check(doc["schema_version"] == 1 and len(doc["vgpus"]) == 16, json.dumps(doc)[:300])
        v = doc["vgpus"][1]
        check(set(v) == {"address", "pf", "driver", "iommu_group", "current_type", "current_name",
                         "resource_name", "journaled", "creatable"}, str(v))
        check(v["address"] == VF1 and v["pf"] == PF and v["current_type"] == 0 and
              v["current_name"] is None and v["resource_name"] is None and not v["journaled"], str(v))
        check(v["creatable"][2] == {"id": T_4Q, "name": "NVIDIA A2-4Q",
                                    "resource_name": "nvidia.com/NVIDIA_A2-4Q"}, str(v["creatable"][2]))
        one = json.loads(h.run("vgpu", "list", "--json", VF1).stdout)["vgpus"]
        check(len(one) == 1 and one[0]["address"] == VF1, str(one))
        p = h.run("vgpu", "list", NIC_VF, expect=1)
        contains(p.stderr, "0000:3b:02.0 (a VF of 0000:3b:00.0) has no nvidia/current_vgpu_type, "
                           "and the VF is on iavf")
        p = h.run("vgpu", "list", "99:00.0", expect=1)
        contains(p.stderr, "no PCI device 0000:99:00.0")
    finally:
        h.close()


def case_set_clear_restore(args):
    h = Host(args)
    try:
        p = h.run("vgpu", "set", VF0, str(T_4Q))
        check(p.stdout == f"{VF0}: now holds vGPU type {T_4Q}\n", p.stdout)
        check(h.current(VF0) == T_4Q, "current_vgpu_type")
        check([r["address"] for r in h.journal()] == [VF0], str(h.journal()))
        check(h.journal()[0]["type"] == T_4Q and h.journal()[0]["name"] == "NVIDIA A2-4Q",
              str(h.journal()))
        p = h.run("vgpu", "set", VF0, str(T_4Q))
        check(p.stdout == f"{VF0}: already holds vGPU type {T_4Q}\n", p.stdout)
        # Creatable shrank: the siblings offer 4Q only, the VF itself nothing.
        v = json.loads(h.run("vgpu", "list", "--json").stdout)["vgpus"]
        check(v[0]["current_name"] == "NVIDIA A2-4Q" and v[0]["journaled"] and v[0]["creatable"] == [],
              str(v[0]))
        check([t["id"] for t in v[1]["creatable"]] == [T_4Q], str(v[1]))
        h.run("vgpu", "set", VF1, str(T_4Q))
        p = h.run("vgpu", "clear", VF1)
        check(p.stdout == f"{VF1}: vGPU type cleared\n", p.stdout)
        p = h.run("vgpu", "clear", VF1)
        check(p.stdout == f"{VF1}: held no vGPU type\n", p.stdout)
        check(h.current(VF1) == 0 and [r["address"] for r in h.journal()] == [VF0], str(h.journal()))
        # The journal undoes it (the process that set it is long gone).
        p = h.run("vgpu", "restore")
        check(p.stdout == "1 VF put back\n", p.stdout)
        check(h.current(VF0) == 0 and h.journal() == [], str(h.journal()))
        p = h.run("vgpu", "restore", VF0, expect=1)
        contains(p.stderr, "0000:08:00.4 has no record in the vGPU journal")
        contains(p.stderr, "hostdev vgpu clear VF")
    finally:
        h.close()


def case_errors(args):
    h = Host(args)
    try:
        p = h.run("vgpu", "set", VF0, "9999", expect=1)
        contains(p.stderr, "hostdev: 0000:08:00.4 cannot take vGPU type 9999 now: it is not in the "
                           "VF's nvidia/creatable_vgpu_types. Creatable now: 1301 (NVIDIA A2-1Q)")
        h.run("vgpu", "set", VF0, str(T_8Q))
        p = h.run("vgpu", "set", VF0, str(T_4Q), expect=1)
        contains(p.stderr, "0000:08:00.4 holds vGPU type 1304 (NVIDIA A2-8Q); a VF holds one type at a "
                           "time: clear it first (hostdev vgpu clear VF), then set 1303")
        p = h.run("vgpu", "set", NIC_VF, "1301", expect=1)
        contains(p.stderr, "has no nvidia/current_vgpu_type")
        p = h.run("vgpu", "clear", VF0, env_extra={"HOSTDEV_KMODEL_FAIL": f"vgpu:{VF0}:EBUSY"},
                  expect=1)
        contains(p.stderr, "a virtual machine probably holds it open")
        check(h.current(VF0) == T_8Q and len(h.journal()) == 1, "kept after a refused clear")
        p = h.run("vgpu", "set", VF1, "1305", env_extra={"HOSTDEV_KMODEL_FAIL": f"vgpu:{VF1}:EIO"},
                  expect=1)
        check(h.current(VF1) == 0 and [r["address"] for r in h.journal()] == [VF0],
              "a failed store leaves no record: %s" % h.journal())
    finally:
        h.close()


def case_bind_refused(args):
    h = Host(args)
    try:
        h.run("vgpu", "set", VF0, str(T_8Q))
        for target in (VF0, PF):
            p = h.run("bind", target, "--force", expect=1)
            contains(p.stderr, "hold")
            contains(p.stderr, "vGPU type")
            contains(p.stderr, "hostdev vgpu clear VF")
        contains(h.run("bind", VF0, expect=1).stderr,
                 "0000:08:00.4: it is an NVIDIA vGPU: it holds vGPU type 1304")
        check(h.driver(VF0) == "nvidia" and h.driver(PF) == "nvidia", "nothing was unbound")
        p = h.run("check", VF0, expect=None)
        contains(p.stdout, "not assignable to vfio-pci: it is an NVIDIA vGPU")
        # On vfio-pci a VF has no vGPU attributes, and set says how to get them back.
        h.run("bind", VF1)
        p = h.run("vgpu", "set", VF1, str(T_8Q), expect=1)
        contains(p.stderr, "the VF is on vfio-pci")
        contains(p.stderr, "hostdev restore ADDRESS")
        h.run("restore", VF1)
        h.run("vgpu", "set", VF1, str(T_8Q))
    finally:
        h.close()


def case_enable_vfs(args):
    """The A2's VFs go and come back through `hostdev sriov` with nvidia bound to the PF."""
    h = Host(args)
    try:
        h.run("sriov", PF, "--vfs", "0")
        p = h.run("vgpu", "list", PF, expect=1)
        contains(p.stderr, "is an SR-IOV PF without VFs that offer vGPU types")
        contains(p.stderr, "hostdev sriov --vfs")
        p = h.run("sriov", PF, "--vfs", "16")
        contains(p.stdout, "16 VFs enabled")
        check(h.driver(PF) == "nvidia" and h.driver(VF0) == "nvidia", "drivers")
        check(len(json.loads(h.run("vgpu", "list", "--json").stdout)["vgpus"]) == 16, "16 vGPU VFs")
    finally:
        h.close()


def case_serve(args):
    h = Host(args)
    try:
        h.run("vgpu", "set", VF0, str(T_8Q))
        h.run("vgpu", "set", VF1, str(T_8Q))
        config = os.path.join(h.root, "dp.json")
        with open(config, "w") as f:
            json.dump({"version": 1, "resources": [
                {"kind": "pci", "naming": "harvester", "selectors": {"pf": [{"address": PF}]}}]}, f)
        out = h.run("serve", "--dry-run", "--config", config).stdout
        contains(out, f"nvidia.com/NVIDIA_A2-8Q (pci): {VF0} {VF1}\n")
        out = h.run("permitted", "--config", config).stdout
        contains(out, '  - pciVendorSelector: "10de:25b6"\n    resourceName: "nvidia.com/NVIDIA_A2-8Q"\n'
                      '    externalResourceProvider: true\n')
    finally:
        h.close()


def case_usage(args):
    h = Host(args)
    try:
        for argv, msg in ((["vgpu"], "missing action: list, set, clear or restore"),
                          (["vgpu", "frob"], "unknown action 'frob'"),
                          (["vgpu", "set", VF0], "set needs VF and TYPE"),
                          (["vgpu", "set", VF0, "0"], "TYPE '0' is not a vGPU type id"),
                          (["vgpu", "set", VF0, "4Q"], "TYPE '4Q' is not a vGPU type id"),
                          (["vgpu", "set", "08:00", "1301"], "08:00"),
                          (["vgpu", "clear"], "clear needs one VF"),
                          (["vgpu", "clear", VF0, "--json"], "--json is for list"),
                          (["vgpu", "list", "--timeout", "3"], "--timeout and --lock-timeout are for"),
                          (["vgpu", "set", VF0, "1301", "--timeout", "0"], "--timeout: '0'")):
            p = h.run(*argv, expect=2)
            contains(p.stderr, msg)
        # Changing anything on a bare --sysfs would use this host's own state directory.
        p = subprocess.run([args.hostdev, "--sysfs", os.path.join(h.root, "sys"), "vgpu", "clear", VF0],
                           capture_output=True, text=True)
        check(p.returncode == 2, p.stderr)
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
            print("cases not registered in tests/vgpu/CMakeLists.txt: %s" % missing)
            return 1
        return 0
    CASES[args.case](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
