#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Behaviour tests of `hostdev sriov` and `hostdev mdev` on fake hosts.

The kernel is played by the kernel model (tests/kmodel, LD_PRELOAD): this machine cannot create VFs or
mdevs, its own disk and NIC are PCI devices. Each case builds a fresh fake host with sriov-fake-host
(tests/sriov/sriov_tree.h) and runs the real `hostdev` binary against it with --root.
Usage: test_sriov_cli.py --hostdev BIN --fake-host BIN --kmodel LIB CASE
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

NIC_PF = "0000:3b:00.0"
NIC_PF2 = "0000:3b:00.1"
NODRV_PF = "0000:5e:00.0"
NVME_PF = "0000:01:00.0"
GPU = "0000:af:00.0"
UUID1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"


class Host:
    def __init__(self, args):
        env = dict(os.environ)
        env.pop("HOSTDEV_KMODEL_ROOT", None)
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
        out = subprocess.run([args.fake_host], env=env, check=True, capture_output=True, text=True)
        self.root = out.stdout.strip()
        self.args = args

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, *argv, expect=0, env_extra=None):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("HOSTDEV_KMODEL_"):
                del env[k]
        env["LD_PRELOAD"] = self.args.kmodel
        env["HOSTDEV_KMODEL_ROOT"] = self.root
        env["ASAN_OPTIONS"] = "verify_asan_link_order=0"
        env.update(env_extra or {})
        p = subprocess.run([self.args.hostdev, "--root", self.root, *argv], env=env, capture_output=True,
                           text=True)
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"hostdev {' '.join(argv)}: exit {p.returncode}, expected {expect}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def attr(self, address, name):
        with open(os.path.join(self.root, "sys/bus/pci/devices", address, name)) as f:
            return f.read().strip()

    def driver(self, address):
        link = os.path.join(self.root, "sys/bus/pci/devices", address, "driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def has(self, rel):
        return os.path.lexists(os.path.join(self.root, rel))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def contains(text, needle):
    check(needle in text, f"{needle!r} not in:\n{text}")


def case_show(args):
    h = Host(args)
    try:
        out = h.run("sriov", "3b:00.0").stdout
        contains(out, f"{NIC_PF} Ethernet controller [0200]")
        contains(out, "Driver:               i40e")
        contains(out, "VFs:                  0 of 8 enabled")
        contains(out, "VF device id:         154c")
        contains(out, "VF routing ID:        offset 16, stride 1")
        contains(out, "Driver autoprobe:     on")
        check("ADDRESS" not in out, "no VF table without VFs")
        doc = json.loads(h.run("sriov", "--json", NIC_PF).stdout)
        check(doc == {"schema_version": 1, "sriov": {
            "address": NIC_PF, "driver": "i40e", "total_vfs": 8, "num_vfs": 0, "vf_device_id": "154c",
            "offset": 16, "stride": 1, "autoprobe": True, "vfs": []}}, json.dumps(doc))
        p = h.run("sriov", "00:03.0", expect=1)
        contains(p.stderr, "not an SR-IOV physical function")
        p = h.run("sriov", "77:00.0", expect=1)
        contains(p.stderr, "no such PCI device")
    finally:
        h.close()


def case_set_vfs(args):
    h = Host(args)
    try:
        p = h.run("sriov", NIC_PF, "--vfs", "4")
        contains(p.stdout, "4 VFs enabled\n")
        contains(p.stdout, "VFs:                  4 of 8 enabled")
        rows = [l.split() for l in p.stdout.splitlines() if re.match(r"^  \d+ +0000:", l)]
        check(len(rows) == 4, p.stdout)
        check(rows[2][:3] == ["2", "0000:3b:02.2", "iavf"], str(rows[2]))
        check(rows[2][4] == "ens4f0v2" and re.match(r"^02:00:00:72:3b:02$", rows[2][5]), str(rows[2]))
        doc = json.loads(h.run("sriov", NIC_PF, "--json").stdout)["sriov"]
        check(doc["num_vfs"] == 4 and len(doc["vfs"]) == 4, json.dumps(doc))
        vf = doc["vfs"][3]
        check(set(vf) == {"index", "address", "driver", "iommu_group", "netdev", "mac"}, str(vf))
        check(vf["index"] == 3 and vf["address"] == "0000:3b:02.3" and vf["driver"] == "iavf", str(vf))
        check(isinstance(vf["iommu_group"], int) and vf["netdev"] == "ens4f0v3", str(vf))
        # N to M goes through 0
        p = h.run("sriov", NIC_PF, "--vfs", "2", "--json")
        check(json.loads(p.stdout)["sriov"]["num_vfs"] == 2, p.stdout)
        log = open(os.path.join(h.root, ".kmodel/log")).read()
        check(re.search(r"numvfs 0000:3b:00.0 0 -> ok\n.*numvfs 0000:3b:00.0 2 -> ok", log, re.S), log)
        # same count: no write
        before = log.count(" numvfs ")
        h.run("sriov", NIC_PF, "--vfs", "2")
        check(open(os.path.join(h.root, ".kmodel/log")).read().count(" numvfs ") == before, "no-op wrote")
        # 8 VFs on the NVMe PF: VF 7 crosses into the next slot (ARI)
        out = h.run("sriov", NVME_PF, "--vfs", "8").stdout
        contains(out, "  7    0000:01:01.0  none")
        contains(h.run("sriov", NVME_PF, "--vfs", "0").stdout, "0 VFs enabled\n")
        check(not h.has("sys/bus/pci/devices/0000:01:00.1"), "VF left behind")
    finally:
        h.close()


def case_errors(args):
    h = Host(args)
    try:
        p = h.run("sriov", NIC_PF, "--vfs", "9", expect=1)
        contains(p.stderr, f"hostdev: {NIC_PF}: cannot enable 9 VFs: the PF offers at most 8")
        p = h.run("sriov", NODRV_PF, "--vfs", "2", expect=1)
        contains(p.stderr, "the PF has no driver")
        contains(p.stderr, "bind its driver first")
        p = h.run("sriov", NIC_PF, "--vfs", "2", expect=1,
                  env_extra={"HOSTDEV_KMODEL_FAIL": f"numvfs:{NIC_PF}:ENOSPC"})
        contains(p.stderr, "writing 2 to sriov_numvfs failed (No space left on device)")
        contains(p.stderr, "ask for fewer VFs")
        check(h.attr(NIC_PF, "sriov_numvfs") == "0", "count changed")
        # partial enable: exit 1, the count the driver gave is shown
        p = h.run("sriov", NIC_PF, "--vfs", "6", expect=1,
                  env_extra={"HOSTDEV_KMODEL_SRIOV_LIMIT": f"{NIC_PF}:3"})
        contains(p.stdout, "3 VFs enabled")
        contains(p.stderr, "6 VFs requested, the PF driver enabled only 3")
        # a VF is not a PF
        p = h.run("sriov", "3b:02.0", "--vfs", "0", expect=1)
        contains(p.stderr, f"is virtual function 0 of PF {NIC_PF}")
    finally:
        h.close()


def case_timeout(args):
    h = Host(args)
    try:
        # The PF driver hangs until released (never, here): only the watchdog can end the call.
        p = h.run("sriov", NIC_PF, "--vfs", "2", "--timeout", "1", expect=1,
                  env_extra={"HOSTDEV_KMODEL_HOLD": f"numvfs:{NIC_PF}"})
        contains(p.stderr, f"{NIC_PF}/sriov_numvfs did not return within 1000 ms")
        contains(p.stderr, "may still complete the write")
    finally:
        h.close()


def case_vfio_refusal(args):
    h = Host(args)
    try:
        out = h.run("sriov", NIC_PF, "--vfs", "2", "--no-autoprobe").stdout
        contains(out, "Driver autoprobe:     off")
        check(h.attr(NIC_PF, "sriov_drivers_autoprobe") == "0", "autoprobe not off")
        check(h.driver("0000:3b:02.0") == "" and h.driver("0000:3b:02.1") == "", "VFs got a driver")
        h.run("bind", "--owner", "vm-a", "0000:3b:02.1")
        check(h.driver("0000:3b:02.1") == "vfio-pci", "VF not on vfio-pci")
        p = h.run("sriov", NIC_PF, "--vfs", "0", expect=1)
        contains(p.stderr, "refusing to change the VF count from 2 to 0")
        contains(p.stderr, "VF 1 0000:3b:02.1 (vfio-pci, bound by libhostdev for 'vm-a')")
        contains(p.stderr, "--force")
        check(h.has("sys/bus/pci/devices/0000:3b:02.1"), "VF removed despite the refusal")
        p = h.run("sriov", NIC_PF, "--vfs", "0", "--force")
        contains(p.stdout, "0 VFs enabled")
        check(not h.has("sys/bus/pci/devices/0000:3b:02.1"), "VF still there")
        contains(h.run("journal").stdout, "no devices bound")
    finally:
        h.close()


def case_mdev(args):
    h = Host(args)
    try:
        out = h.run("mdev", "types").stdout.splitlines()
        check(out[0].split() == ["PARENT", "TYPE", "AVAILABLE", "API", "NAME", "(KUBEVIRT", "SELECTOR)"],
              out[0])
        check(out[1].split()[:4] == [GPU, "nvidia-222", "2", "vfio-pci"], out[1])
        contains(out[1], "GRID T4-1Q (GRID_T4-1Q)")
        check(out[4].split()[:3] == ["mtty", "mtty-2", "12"], out[4])
        contains(out[4], "Dual port serial (Dual_port_serial)")
        doc = json.loads(h.run("mdev", "types", "af:00.0", "--json").stdout)
        check(list(doc) == ["schema_version", "mdev_types"] and len(doc["mdev_types"]) == 2, str(doc))
        t = doc["mdev_types"][0]
        check(t == {"parent": GPU, "pci_parent": True, "type": "nvidia-222", "name": "GRID T4-1Q",
                    "selector": "GRID_T4-1Q", "available_instances": 2, "device_api": "vfio-pci",
                    "description": "num_heads=4, frl_config=60, framebuffer=1024M"}, str(t))
        contains(h.run("mdev", "list").stdout, "no mediated devices")
        check(json.loads(h.run("mdev", "list", "--json").stdout) == {"schema_version": 1, "mdevs": []},
              "empty list json")
        p = h.run("mdev", "create", "mtty", "mtty-2", "--uuid", UUID1.upper())
        check(p.stdout == UUID1 + "\n", p.stdout)
        gen = h.run("mdev", "create", "af:00.0", "nvidia-222").stdout.strip()
        check(re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", gen), gen)
        lines = h.run("mdev", "list").stdout.splitlines()
        check(lines[0].split() == ["UUID", "PARENT", "TYPE", "GROUP", "DRIVER", "NAME"], lines[0])
        rows = {l.split()[0]: l for l in lines[1:]}
        check(rows[UUID1].split()[1:3] == ["mtty", "mtty-2"], rows[UUID1])
        contains(rows[UUID1], "vfio_mdev    Dual port serial")
        check(rows[gen].split()[1:3] == [GPU, "nvidia-222"], rows[gen])
        mdevs = json.loads(h.run("mdev", "list", "--json").stdout)["mdevs"]
        m = [x for x in mdevs if x["uuid"] == UUID1][0]
        check(set(m) == {"uuid", "parent", "type", "type_name", "selector", "iommu_group", "driver"}, str(m))
        check(m["selector"] == "Dual_port_serial" and isinstance(m["iommu_group"], int), str(m))
        contains(h.run("mdev", "remove", UUID1).stdout, f"{UUID1}: removed")
        h.run("mdev", "remove", gen)
        contains(h.run("mdev", "list").stdout, "no mediated devices")
        p = h.run("mdev", "create", "mtty", "mtty-9", expect=1)
        contains(p.stderr, "has no mdev type 'mtty-9'; its types are: mtty-1, mtty-2")
        p = h.run("mdev", "create", GPU, "nvidia-223", expect=1)
        contains(p.stderr, "no instances of mdev type nvidia-223 are left")
        p = h.run("mdev", "remove", UUID1, expect=1)
        contains(p.stderr, "no such mediated device")
        p = h.run("mdev", "types", NIC_PF, expect=1)
        contains(p.stderr, "offers no mediated device types")
    finally:
        h.close()

UUID2 = "5a4e1c7d-0b2f-4c7e-9d3a-2f6b8e1c0a02"


def log_ops(h):
    """The modelled writes so far, in order, as [op, target, ...] ("PID op target value -> result")."""
    ops = []
    for line in open(os.path.join(h.root, ".kmodel/log")):
        parts = line.split()
        if len(parts) >= 3:
            ops.append(parts[1:])
    return ops


def case_persist_apply(args):
    """VF counts and mdevs survive a reboot: apply recreates VFs, then binds, then mdevs."""
    h = Host(args)
    try:
        conf = os.path.join(h.root, "etc/hostdev/vfio-devices.json")
        contains(h.run("sriov", NIC_PF, "--vfs", "2", "--no-autoprobe", "--persist").stdout,
                 f"{NIC_PF}: 2 VFs added to the persistent list (hostdev apply creates them at boot)\n")
        h.run("bind", "--persist", "0000:3b:02.1")
        p = h.run("mdev", "create", "mtty", "mtty-2", "--uuid", UUID1.upper(), "--persist")
        check(p.stdout == UUID1 + "\n", "stdout must stay the UUID alone: %r" % p.stdout)
        contains(p.stderr, f"mdev {UUID1}: added to the persistent list")
        h.run("mdev", "create", "af:00.0", "nvidia-222", "--uuid", UUID2, "--persist")
        doc = json.load(open(conf))
        check(doc["version"] == 2, json.dumps(doc))
        check(doc["vfs"] == [{"pf": NIC_PF, "vendor_id": "8086", "device_id": "1572", "num_vfs": 2,
                              "autoprobe": "off"}], json.dumps(doc["vfs"]))
        check(doc["mdevs"] == [{"parent": "mtty", "type": "mtty-2", "uuid": UUID1},
                               {"parent": GPU, "type": "nvidia-222", "uuid": UUID2}], json.dumps(doc["mdevs"]))
        out = h.run("persist", "list").stdout.splitlines()
        check(out[:3] == [f"vfs {NIC_PF}  2 VFs  autoprobe=off", f"mdev {UUID1}  mtty  mtty-2",
                          f"mdev {UUID2}  {GPU}  nvidia-222"], str(out))
        check(out[3].startswith("0000:3b:02.1  "), str(out))
        listed = json.loads(h.run("persist", "list", "--json").stdout)
        check(listed["vfs"] == [{"pf": NIC_PF, "num_vfs": 2, "autoprobe": "off"}] and
              [m["uuid"] for m in listed["mdevs"]] == [UUID1, UUID2], json.dumps(listed))

        # "Reboot": the VFs, the binding and the mdevs are gone; the list stays.
        h.run("restore", "--all")
        h.run("mdev", "remove", UUID1)
        h.run("mdev", "remove", UUID2)
        h.run("sriov", NIC_PF, "--vfs", "0", "--autoprobe")
        check(not h.has("sys/bus/pci/devices/0000:3b:02.1"), "VF left behind")
        start = len(log_ops(h))
        p = h.run("apply")
        contains(p.stdout, "1 device moved to vfio-pci")
        contains(p.stderr, f"{NIC_PF}: 2 VFs enabled (persistent list)")
        contains(p.stderr, f"mdev {UUID1}: created as mtty-2 on mtty (persistent list)")
        check(h.driver("0000:3b:02.1") == "vfio-pci" and h.driver("0000:3b:02.0") == "",
              "VF 1 not on vfio-pci, or VF 0 got a driver (autoprobe off was not restored)")
        mdevs = {m["uuid"]: m for m in json.loads(h.run("mdev", "list", "--json").stdout)["mdevs"]}
        check(set(mdevs) == {UUID1, UUID2} and mdevs[UUID2]["parent"] == GPU, json.dumps(mdevs))
        # Order: the VF count, then the VF's bind, then the mdevs.
        ops = log_ops(h)[start:]
        first = {}
        for i, op in enumerate(ops):
            first.setdefault(op[0], i)
        check(all(k in first for k in ("numvfs", "override", "mdev_create")), str(ops))
        last_numvfs = max(i for i, op in enumerate(ops) if op[0] == "numvfs")
        last_bind = max(i for i, op in enumerate(ops) if op[0] in ("override", "probe", "bind"))
        check(last_numvfs < first["override"] and last_bind < first["mdev_create"],
              "apply out of order:\n" + "\n".join(" ".join(o) for o in ops))

        # Idempotent: nothing is written a second time.
        start = len(log_ops(h))
        p = h.run("apply")
        contains(p.stdout, "0 devices moved to vfio-pci (all listed devices already there)")
        writes = [o for o in log_ops(h)[start:] if o[0] in ("numvfs", "override", "mdev_create")]
        check(writes == [], "second apply wrote: %s" % writes)

        # An mdev that exists under the listed UUID with another type is an error, not skipped.
        h.run("mdev", "remove", UUID1)
        h.run("mdev", "create", "mtty", "mtty-1", "--uuid", UUID1)
        p = h.run("apply", expect=1)
        contains(p.stderr, f"mdev {UUID1} exists as mtty-1 on mtty, but the persistent list has mtty-2 on mtty")

        # Removal, and back to version 1 once nothing but bindings is listed.
        contains(h.run("mdev", "remove", UUID1, "--persist").stdout, f"{UUID1}: removed from the persistent list")
        contains(h.run("persist", "remove-mdev", UUID2).stdout, f"{UUID2}: removed")
        contains(h.run("sriov", NIC_PF, "--vfs", "0", "--force", "--persist").stdout,
                 f"{NIC_PF}: VF count removed from the persistent list")
        check(json.load(open(conf))["version"] == 1, open(conf).read())
        p = h.run("persist", "remove-vfs", NIC_PF, expect=1)
        contains(p.stderr, f"{NIC_PF}: no VF count for it in the persistent list")

        # Errors name the object and the fix.
        p = h.run("persist", "add-vfs", NIC_PF, "9", expect=1)
        contains(p.stderr, f"{NIC_PF}: 9 VFs asked, the PF offers at most 8")
        p = h.run("persist", "add-vfs", "00:03.0", "1", expect=1)
        contains(p.stderr, "is not an SR-IOV physical function")
        p = h.run("persist", "add-vfs", NIC_PF, "0", expect=1)
        contains(p.stderr, "hostdev persist remove-vfs")
        p = h.run("persist", "add-mdev", "mtty", "mtty-9", UUID1, expect=1)
        contains(p.stderr, "mtty offers no mdev type 'mtty-9'")
        p = h.run("persist", "add-mdev", "mtty", "mtty-2", "not-a-uuid", expect=1)
        contains(p.stderr, "'not-a-uuid' is not a UUID")
        p = h.run("persist", "add-vfs", NIC_PF, expect=2)
        contains(p.stderr, "add-vfs needs PF N")
        p = h.run("persist", "add", "--no-autoprobe", "3b:02.0", expect=2)
        contains(p.stderr, "--no-autoprobe and --autoprobe only apply to add-vfs")
        p = h.run("mdev", "list", "--persist", expect=2)
        contains(p.stderr, "--persist is for create and remove")
        p = h.run("sriov", NIC_PF, "--persist", expect=2)
        contains(p.stderr, "need --vfs N")
    finally:
        h.close()


def case_persist_formats(args):
    """A version 1 list (bindings only, as older hostdev wrote it) still loads and applies; an unknown
    version is refused with what to do, and nothing is changed."""
    h = Host(args)
    try:
        confdir = os.path.join(h.root, "etc/hostdev")
        conf = os.path.join(confdir, "vfio-devices.json")
        os.makedirs(confdir, mode=0o700, exist_ok=True)
        h.run("sriov", NIC_PF, "--vfs", "2", "--no-autoprobe")
        v1 = ('{\n\t"format":\t"libhostdev-vfio-devices",\n\t"version":\t1,\n\t"devices":\t[{\n'
              '\t\t\t"address":\t"0000:3b:02.0",\n\t\t\t"vendor_id":\t"8086",\n'
              '\t\t\t"device_id":\t"154c",\n\t\t\t"group":\tfalse,\n\t\t\t"force":\tfalse\n'
              '\t\t}]\n}\n')
        with open(conf, "w") as f:
            f.write(v1)
        check(h.run("persist", "list").stdout == "0000:3b:02.0  8086:154c\n", "v1 list")
        contains(h.run("apply").stdout, "1 device moved to vfio-pci")
        check(h.driver("0000:3b:02.0") == "vfio-pci", "v1 entry not applied")
        check(open(conf).read() == v1, "reading rewrote the file")
        # Adding a VF count upgrades it to version 2, the device entry kept.
        h.run("persist", "add-vfs", "--no-autoprobe", NIC_PF, "2")
        doc = json.load(open(conf))
        check(doc["version"] == 2 and [d["address"] for d in doc["devices"]] == ["0000:3b:02.0"] and
              doc["vfs"][0]["num_vfs"] == 2, json.dumps(doc))
        doc["version"] = 4
        with open(conf, "w") as f:
            json.dump(doc, f)
        before = open(conf).read()
        p = h.run("persist", "list", expect=1)
        contains(p.stderr, "has version 4; this libhostdev reads versions 1 to 3")
        p = h.run("persist", "add-vfs", NIC_PF, "1", expect=1)
        check(open(conf).read() == before, "a refused file was changed")
        doc["version"] = 2
        doc["vfs"][0]["autoprobe"] = "maybe"
        with open(conf, "w") as f:
            json.dump(doc, f)
        p = h.run("apply", expect=1)
        contains(p.stderr, "vfs entry 0 is invalid")
    finally:
        h.close()


def case_usage(args):
    h = Host(args)
    try:
        for argv, msg in [
            (["sriov"], "missing ADDRESS"),
            (["sriov", "xyz"], "is not a PCI address"),
            (["sriov", NIC_PF, "--vfs", "-1"], "--vfs: '-1' is not a number"),
            (["sriov", NIC_PF, "--vfs", "x"], "--vfs: 'x' is not a number"),
            (["sriov", NIC_PF, "--force"], "need --vfs N"),
            (["sriov", NIC_PF, "--vfs", "1", "--timeout", "0"], "--timeout: '0'"),
            (["sriov", NIC_PF, NIC_PF2], "unexpected argument"),
            (["mdev"], "missing action"),
            (["mdev", "frob"], "unknown action 'frob'"),
            (["mdev", "create", "mtty"], "create needs PARENT and TYPE"),
            (["mdev", "remove"], "remove needs one UUID"),
            (["mdev", "list", "--uuid", UUID1], "--uuid is for create"),
            (["mdev", "remove", UUID1, "--json"], "--json is for types and list"),
        ]:
            p = h.run(*argv, expect=2)
            contains(p.stderr, msg)
            contains(p.stderr, f"(see 'hostdev {argv[0]} --help')")
        contains(h.run("sriov", "--help").stdout, "Usage: hostdev sriov ADDRESS [--json]")
        contains(h.run("mdev", "--help").stdout, "Usage: hostdev mdev types [PARENT]")
        contains(h.run("--help").stdout, "  sriov    ")
        contains(h.run("--help").stdout, "  mdev     ")
    finally:
        h.close()


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--fake-host", required=True)
    ap.add_argument("--kmodel", required=True)
    ap.add_argument("--check-registered", action="store_true")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.check_registered:
        missing = sorted(set(CASES) - set(args.cases))
        if missing:
            print("cases not registered in tests/sriov/CMakeLists.txt: " + ", ".join(missing))
            return 1
        return 0
    for name in args.cases:
        if name not in CASES:
            print(f"unknown case {name}")
            return 2
        CASES[name](args)
        print(f"ok - {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
