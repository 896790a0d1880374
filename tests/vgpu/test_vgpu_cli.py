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


def kmodel_ops(h, start=0):
    """The modelled writes from line @start on, as [op, target, ...] ("PID op target value -> result")."""
    with open(os.path.join(h.root, ".kmodel/log")) as f:
        return [line.split()[1:] for line in f.readlines()[start:] if len(line.split()) >= 3]


def case_persist_apply(args):
    """vGPU types survive a reboot: apply enables the VFs, sets their types, then binds."""
    h = Host(args)
    try:
        conf = os.path.join(h.root, "etc/hostdev/vfio-devices.json")
        h.run("sriov", PF, "--vfs", "16", "--persist")
        p = h.run("vgpu", "set", VF0, str(T_4Q), "--persist")
        check(p.stdout == f"{VF0}: now holds vGPU type {T_4Q}\n", p.stdout)
        contains(p.stderr, f"{VF0}: vGPU type {T_4Q} added to the persistent list (hostdev apply sets it "
                           "at boot)")
        check("note:" not in p.stderr, "the GPU's VF count is kept, yet: " + p.stderr)
        contains(h.run("persist", "add-vgpu", VF1, str(T_4Q)).stdout, f"{VF1}: added")
        h.run("persist", "add", NIC_VF)
        doc = json.load(open(conf))
        check(doc["version"] == 3, json.dumps(doc))
        check(doc["vgpus"] == [{"vf": VF0, "vendor_id": "10de", "device_id": "25b6", "type": T_4Q,
                                "name": "NVIDIA A2-4Q"},
                               {"vf": VF1, "vendor_id": "10de", "device_id": "25b6", "type": T_4Q,
                                "name": "NVIDIA A2-4Q"}], json.dumps(doc["vgpus"]))
        out = h.run("persist", "list").stdout.splitlines()
        check(out[:3] == [f"vfs {PF}  16 VFs  autoprobe=keep", f"vgpu {VF0}  {T_4Q} (NVIDIA A2-4Q)",
                          f"vgpu {VF1}  {T_4Q} (NVIDIA A2-4Q)"], str(out))
        listed = json.loads(h.run("persist", "list", "--json").stdout)
        check(listed["vgpus"][1] == {"vf": VF1, "type": T_4Q, "name": "NVIDIA A2-4Q"}, json.dumps(listed))
        # A listed vGPU VF cannot be listed for vfio-pci too.
        p = h.run("persist", "add", VF1, expect=1)
        contains(p.stderr, f"{VF1}: the persistent list {conf} gives it vGPU type {T_4Q}, and a VF that "
                           "holds a vGPU type stays on the nvidia driver: remove that entry first "
                           "(hostdev persist remove-vgpu VF)")

        # "Reboot": the VFs go with their types (the vGPU journal keeps its record), the list stays.
        h.run("sriov", PF, "--vfs", "0", "--force")
        check(not os.path.exists(os.path.join(h.root, "sys/bus/pci/devices", VF0)), "VF left behind")
        start = len(kmodel_ops(h))
        p = h.run("apply")
        contains(p.stdout, "1 device moved to vfio-pci")
        contains(p.stderr, f"{VF0}: vGPU type {T_4Q} (NVIDIA A2-4Q) set (persistent list)")
        contains(p.stderr, f"{VF1}: vGPU type {T_4Q} (NVIDIA A2-4Q) set (persistent list)")
        check(h.current(VF0) == T_4Q and h.current(VF1) == T_4Q, "types not set again")
        check(h.driver(VF0) == "nvidia" and h.driver(NIC_VF) == "vfio-pci", "drivers")
        check(sorted(r["address"] for r in h.journal()) == [VF0, VF1], str(h.journal()))
        ops = kmodel_ops(h, start)
        idx = {op: [i for i, o in enumerate(ops) if o[0] == op] for op in ("numvfs", "vgpu", "override")}
        check(all(idx.values()) and max(idx["numvfs"]) < min(idx["vgpu"]) and
              max(idx["vgpu"]) < min(idx["override"]),
              "apply out of order:\n" + "\n".join(" ".join(o) for o in ops))
        start = len(kmodel_ops(h))
        h.run("apply")
        check([o for o in kmodel_ops(h, start) if o[0] in ("numvfs", "vgpu")] == [],
              "a second apply wrote again")

        # A type no longer creatable (another VF holds 8Q; the GPU runs one type) is an error
        # naming the VF and the entry; the other entries are applied and the list is unchanged.
        h.run("vgpu", "restore")
        h.run("restore", NIC_VF)
        h.run("vgpu", "set", "0000:08:00.6", str(T_8Q))
        before = open(conf).read()
        p = h.run("apply", expect=1)
        contains(p.stderr, f"hostdev: 2 of the listed entries failed: {VF0}: the listed vGPU type 1303 "
                           f"(NVIDIA A2-4Q) was not set: {VF0} cannot take vGPU type 1303 now")
        contains(p.stderr, "Creatable now: 1304 (NVIDIA A2-8Q). The entry is kept: free room on the "
                           "GPU, or replace it (hostdev persist remove-vgpu/add-vgpu)")
        contains(p.stderr, f" | {VF1}: the listed vGPU type 1303")
        check(h.driver(NIC_VF) == "vfio-pci", "the binding was not applied")
        check(open(conf).read() == before, "a failed apply changed the list")

        # A changed card at the VF's address is refused.
        doc = json.load(open(conf))
        doc["vgpus"][0]["device_id"] = "25b7"
        with open(conf, "w") as f:
            json.dump(doc, f)
        p = h.run("apply", expect=1)
        contains(p.stderr, f"{VF0}: now holds 10de:25b6, but the VF 10de:25b7 was listed")
        doc["vgpus"][0]["type"] = 0
        with open(conf, "w") as f:
            json.dump(doc, f)
        contains(h.run("persist", "list", expect=1).stderr, "vgpus entry 0 is invalid")
        with open(conf, "w") as f:
            f.write(before)

        # Forgetting: clear --persist, remove-vgpu; without types the file is version 2 again.
        h.run("vgpu", "clear", "0000:08:00.6")
        h.run("vgpu", "set", VF0, str(T_4Q))
        p = h.run("vgpu", "clear", VF0, "--persist")
        check(p.stdout == f"{VF0}: vGPU type cleared\n{VF0}: removed from the persistent list\n", p.stdout)
        contains(h.run("persist", "remove-vgpu", VF1).stdout, f"{VF1}: removed")
        p = h.run("persist", "remove-vgpu", VF1, expect=1)
        contains(p.stderr, f"{VF1}: no vGPU type for it in the persistent list")
        check(json.load(open(conf))["version"] == 2, open(conf).read())

        # Without the GPU's VF count, set --persist says the VF will not exist at boot.
        h.run("persist", "remove-vfs", PF)
        p = h.run("vgpu", "set", VF0, str(T_4Q), "--persist")
        contains(p.stderr, f"note: the persistent list does not keep the VF count of its GPU {PF}, so "
                           f"the VF will not exist at boot: keep it with `hostdev sriov {PF} --vfs N "
                           "--persist`")
        h.run("sriov", PF, "--vfs", "0", "--force")
        p = h.run("apply", expect=1)
        contains(p.stderr, f"{VF0}: no such VF, so its listed vGPU type 1303 (NVIDIA A2-4Q) was not set: "
                           "its GPU's VFs are not enabled (keep the GPU's VF count in the persistent list: "
                           "hostdev persist add-vfs PF N)")
        for argv, msg in ((["persist", "add-vgpu", VF0, "4Q"], "add-vgpu: TYPE '4Q' is not a vGPU type id"),
                          (["persist", "add-vgpu", VF0], "add-vgpu needs VF TYPE"),
                          (["vgpu", "list", "--persist"], "--persist is for set and clear"),
                          (["vgpu", "restore", "--persist"], "--persist is for set and clear")):
            contains(h.run(*argv, expect=2).stderr, msg)
    finally:
        h.close()


def case_restore_all(args):
    """`hostdev restore --all` undoes the vGPU types hostdev set too, after the bindings."""
    h = Host(args)
    try:
        h.run("vgpu", "set", VF0, str(T_4Q))
        h.run("vgpu", "set", VF1, str(T_4Q))
        h.run("bind", NIC_VF)
        # --owner restricts restore to journal records of that owner: the vGPU journal has none.
        p = h.run("restore", "--all", "--owner", "someone-else")
        check("vGPU" not in p.stdout and h.current(VF0) == T_4Q, p.stdout)
        p = h.run("restore", "--all")
        check(p.stdout.splitlines()[-2:] == ["1 device restored",
                                             "2 vGPU types taken away (vGPU journal)"], p.stdout)
        check(h.current(VF0) == 0 and h.current(VF1) == 0 and h.journal() == [], str(h.journal()))
        check(h.driver(NIC_VF) == "iavf", "the binding was not restored")
        h.run("vgpu", "set", VF0, str(T_4Q))
        doc = json.loads(h.run("restore", "--all", "--json").stdout)
        check(doc["vgpus_restored"] == 1 and doc["restore"] == [], json.dumps(doc))
        check(h.current(VF0) == 0, "json run did not restore")
        # A VF whose type cannot be taken away keeps its record, and the exit status says so.
        h.run("vgpu", "set", VF0, str(T_4Q))
        p = h.run("restore", "--all", env_extra={"HOSTDEV_KMODEL_FAIL": f"vgpu:{VF0}:EBUSY"}, expect=1)
        contains(p.stderr, "a virtual machine probably holds it open")
        check(h.current(VF0) == T_4Q and [r["address"] for r in h.journal()] == [VF0], str(h.journal()))
    finally:
        h.close()


def case_restore_address(args):
    """`hostdev restore ADDRESS` takes away the vGPU type hostdev set on that VF, and only there."""
    h = Host(args)
    try:
        h.run("vgpu", "set", VF0, str(T_4Q))
        h.run("vgpu", "set", VF1, str(T_4Q))
        h.run("bind", NIC_VF)
        p = h.run("restore", VF0)
        check(p.stdout.splitlines()[-1] == "1 vGPU type taken away (vGPU journal)", p.stdout)
        check(h.current(VF0) == 0 and h.current(VF1) == T_4Q, p.stdout)
        check([r["address"] for r in h.journal()] == [VF1], str(h.journal()))
        # A device with no vGPU record: its binding comes back, and no vGPU line.
        p = h.run("restore", NIC_VF)
        check("vGPU" not in p.stdout and h.driver(NIC_VF) == "iavf", p.stdout)
        doc = json.loads(h.run("restore", VF1, "--json").stdout)
        check(doc["vgpus_restored"] == 1 and h.current(VF1) == 0, json.dumps(doc))
        # The driver refuses: the record is kept and the exit status says so.
        h.run("vgpu", "set", VF0, str(T_4Q))
        p = h.run("restore", VF0, env_extra={"HOSTDEV_KMODEL_FAIL": f"vgpu:{VF0}:EBUSY"}, expect=1)
        contains(p.stderr, "a virtual machine probably holds it open")
        check(h.current(VF0) == T_4Q and [r["address"] for r in h.journal()] == [VF0], str(h.journal()))
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
