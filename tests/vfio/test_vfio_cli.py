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
import re
import shutil
import signal
import subprocess
import sys
import time

NIC = "0000:01:00.0"
VIRTIO = "0000:00:03.0"
GPU = "0000:02:00.0"
AUDIO = "0000:02:00.1"
MGMT = "0000:04:00.0"
NOGROUP = "0000:05:00.0"
SMBUS = "0000:00:1f.3"
SPARE = "0000:06:00.0"
VGPU_PF = "0000:c1:00.0"
VGPU_VF0 = "0000:c1:00.4"
VGPU_VF3 = "0000:c1:00.7"
VGPU_MDEV0 = "8b0c8e8a-4f1e-4a55-9b7e-2f0e4b8a3c01"
JOURNAL = "var/lib/hostdev/vfio-journal.json"
# Generous: only bounds a wait for an event.
DEADLINE = 60


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

    def env(self, kill_at=None, extra=None):
        env = dict(os.environ)
        env["LD_PRELOAD"] = self.args.kmodel
        env["HOSTDEV_KMODEL_ROOT"] = self.root
        env["ASAN_OPTIONS"] = "verify_asan_link_order=0"
        env.pop("HOSTDEV_KMODEL_KILL_AT", None)
        if kill_at is not None:
            env["HOSTDEV_KMODEL_KILL_AT"] = str(kill_at)
        env.update(extra or {})
        return env

    def run(self, *argv, expect=0, kill_at=None, root_option=True, extra_env=None, user=None,
            wrap=()):
        cmd = [*wrap, self.args.hostdev, *(["--root", self.root] if root_option else []), *argv]
        p = subprocess.run(cmd, env=self.env(kill_at, extra_env), capture_output=True, text=True,
                           user=user)
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"hostdev {' '.join(argv)}: exit {p.returncode}, expected {expect}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def driver(self, address):
        link = os.path.join(self.root, "sys/bus/pci/devices", address, "driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

    def has(self, rel):
        return os.path.exists(os.path.join(self.root, rel))

    def path(self, rel):
        return os.path.join(self.root, rel)

    def log_count(self, needle):
        try:
            with open(self.path(".kmodel/log")) as f:
                return sum(needle in line for line in f)
        except FileNotFoundError:
            return 0

    def write_journal(self, records):
        with open(self.path(JOURNAL), "w") as f:
            json.dump({"format": "libhostdev-vfio-journal", "version": 1, "records": records}, f)
        os.chmod(self.path(JOURNAL), 0o600)


def record(address, driver="e1000e", owner=None):
    return {"address": address, "driver": driver, "driver_override": None, "iommu_group": 9,
            "time": 1700000000, "owner": owner, "group_bind": False, "complete": True}


def stale_records(n):
    """@n records of devices that do not exist."""
    return [record("0000:%02x:%02x.%d" % (0xa0 + i // 256, (i // 8) % 32, i % 8), "ixgbevf")
            for i in range(n)]


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
        # The library names the API flag; the tool adds its own option after it.
        contains(p.stderr, "with HOSTDEV_BIND_GROUP (hostdev bind --group) or name")
        p = h.run("bind", MGMT, expect=1)
        contains(p.stderr, "default route (br0)")
        contains(p.stderr, "pass HOSTDEV_BIND_FORCE (hostdev bind --force) only if")
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


def case_bind_report(args):
    """bind prints each device from the library's result: named, group members, already there."""
    h = Host(args)
    try:
        dev = h.path("dev")
        p = h.run("bind", "--group", GPU)
        check(p.stdout == f"{GPU}: on vfio-pci, IOMMU group 5 ({dev}/vfio/5), was nouveau\n"
              f"{AUDIO}: on vfio-pci with its IOMMU group 5 (was snd_hda_intel)\n"
              "2 devices moved to vfio-pci\n", p.stdout)
        p = h.run("bind", "--group", GPU)
        check(p.stdout == f"{GPU}: on vfio-pci, IOMMU group 5 ({dev}/vfio/5), already there "
              "(restore gives it back to nouveau)\n"
              f"{AUDIO}: on vfio-pci with its IOMMU group 5, already there\n"
              "0 devices moved to vfio-pci (already there)\n", p.stdout)
        doc = json.loads(h.run("bind", "--json", NIC).stdout)
        check(doc["schema_version"] == 1 and doc["dry_run"] is False, str(doc))
        check(doc["bind"] == [{"address": NIC, "outcome": "bound", "driver": "vfio-pci",
                               "record_kept": True, "message": "bound to vfio-pci (was e1000e)",
                               "iommu_group": 2, "previous_driver": "e1000e",
                               "original_driver": "e1000e", "requested": True}], str(doc))
        # Bound by someone else: no record, restore does not know where it came from.
        h.run("restore", "--all")
        os.remove(h.path(JOURNAL))
        h.run("bind", VIRTIO)
        os.remove(h.path(JOURNAL))
        p = h.run("bind", VIRTIO)
        check(p.stdout == f"{VIRTIO}: on vfio-pci, IOMMU group 3 ({dev}/vfio/3), already there "
              "(bound outside hostdev: no journal record)\n"
              "0 devices moved to vfio-pci (already there)\n", p.stdout)
    finally:
        h.close()


def case_bind_dry_run(args):
    """bind --dry-run says what a bind would do and writes nothing: no journal, no lock, no sysfs."""
    h = Host(args)
    try:
        check(os.listdir(h.path("var/lib/hostdev")) == [], "the fake host has vfio state already")
        p = h.run("bind", "--dry-run", "--group", SMBUS)
        check(p.stdout ==
              f"{SMBUS}: IOMMU group 4: would be bound to vfio-pci: driver_override set to "
              "vfio-pci, unbound from i801_smbus, drivers_probe\n"
              "0000:00:1f.0: IOMMU group 4: would be bound to vfio-pci: driver_override set to "
              "vfio-pci, unbound from lpc_ich, drivers_probe; it shares IOMMU group 4\n"
              "0000:00:1f.2: IOMMU group 4: would be bound to vfio-pci: driver_override set to "
              "vfio-pci, unbound from ahci, drivers_probe; it shares IOMMU group 4\n"
              "dry run: 3 devices would move to vfio-pci; nothing was written\n", p.stdout)
        check(os.listdir(h.path("var/lib/hostdev")) == [], "a dry run wrote a journal or lock file")
        check(h.log_count(" override ") + h.log_count(" unbind ") + h.log_count(" probe ") == 0,
              "a dry run wrote to sysfs")
        check(h.driver(SMBUS) == "i801_smbus", "a dry run bound the device")
        # The checks of a real bind run: the group is refused without --group.
        p = h.run("bind", "--dry-run", GPU, expect=1)
        contains(p.stderr, "IOMMU group 5 also holds 0000:02:00.1 (snd_hda_intel)")
        h.run("bind", NIC)
        p = h.run("bind", "--dry-run", NIC, VIRTIO)
        check(p.stdout.splitlines()[0].startswith(f"{NIC}: on vfio-pci, IOMMU group 2 "), p.stdout)
        check(p.stdout.endswith("dry run: 1 device would move to vfio-pci; nothing was written\n"),
              p.stdout)
        doc = json.loads(h.run("bind", "--dry-run", "--json", VIRTIO).stdout)
        check(doc["dry_run"] is True and doc["bind"][0]["outcome"] == "would-bind" and
              doc["bind"][0]["driver"] == "virtio-pci", str(doc))
        h.run("bind", "--dry-run", "--persist", VIRTIO, expect=2)
    finally:
        h.close()


def case_bind_persist(args):
    """bind --persist binds and adds the devices to the persistent list with their flags."""
    h = Host(args)
    try:
        p = h.run("bind", "--persist", "--group", GPU)
        check(p.stdout.endswith("2 devices moved to vfio-pci\n"
                                f"{GPU}: added to the persistent list (hostdev apply binds it at "
                                "boot)\n"), p.stdout)
        check(h.run("persist", "list").stdout == f"{GPU}  10de:1eb8  --group\n",
              h.run("persist", "list").stdout)
        # driverctl's shape
        p = h.run("list-overrides")
        check(p.stdout == f"{GPU} vfio-pci\n", p.stdout)
        h.run("restore", "--all")
        contains(h.run("apply").stdout, "2 devices moved to vfio-pci")
        # A failed bind adds nothing.
        p = h.run("bind", "--persist", MGMT, expect=1)
        check(MGMT not in h.run("persist", "list").stdout, "a refused device was persisted")
    finally:
        h.close()


def case_bind_interrupted_group(args):
    """A group bind SIGKILLed after the named device was bound is finished by binding again."""
    h = Host(args)
    try:
        finished = False
        for n in range(1, 40):
            p = h.run("bind", "--group", GPU, expect=None, kill_at=n)
            if p.returncode == 0:
                finished = True
                break
            if h.driver(GPU) == "vfio-pci" and h.driver(AUDIO) != "vfio-pci":
                p = h.run("bind", "--group", GPU)
                check(p.stdout.endswith("1 device moved to vfio-pci\n"), p.stdout)
                check(h.driver(AUDIO) == "vfio-pci", "the group member stayed off vfio-pci")
                h.run("restore", "--all")
                check(h.driver(GPU) == "nouveau" and h.driver(AUDIO) == "snd_hda_intel",
                      "not restored")
                return
            h.run("restore", "--all")
        raise AssertionError(f"no kill left the GPU bound and its audio function not (finished: {finished})")
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
        p = h.run("check", "0000:00:1f.3")
        contains(p.stdout, "FAIL  0000:00:1f.3   IOMMU group 4 is the chipset's (ISA/LPC bridge "
                 "0000:00:1f.0): it also holds 0000:00:1f.0 (lpc_ich), 0000:00:1f.2 (ahci); "
                 "passing it through would take the platform's functions from the host\n")
        check("--group" not in p.stdout, p.stdout)
        p = h.run("check", NOGROUP)
        contains(p.stdout, f"FAIL  {NOGROUP}   no IOMMU group, although the host has ")
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
        # One finding, one fix: every fix once, none of them amd_iommu=on (no such option).
        fixes = [l for l in p.stdout.splitlines() if l.startswith("      fix: ")]
        check(len(fixes) == len(set(fixes)), p.stdout)
        check("amd_iommu=on" not in p.stdout, p.stdout)
        contains(p.stdout, f"FAIL  {NIC}   no IOMMU group: the IOMMU is off\n")
        # The library names its path enum; the tool names its option.
        contains(p.stdout, "point --modules-dir at the modules")
        check("HOSTDEV_PATH_MODULES" not in p.stdout, p.stdout)
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
        # The GPU's audio function shares its IOMMU group: vfio-pci must claim it too, and
        # load before the audio driver.
        contains(p.stdout, "options vfio-pci ids=10de:10fa,10de:1eb8,1af4:1041,8086:10d3\n")
        contains(p.stdout, f"# {AUDIO} [10de:10fa] shares IOMMU group 5 with {GPU}")
        contains(p.stdout, "softdep snd_hda_intel pre: vfio-pci\n")
        contains(p.stdout, f"also claimed: {NOGROUP}")
        check(f"also claimed: {AUDIO}" not in p.stdout, p.stdout)
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


def case_sysfs_alone(args):
    """--sysfs moves only sysfs: state-changing commands need --root or --state-dir with it."""
    h = Host(args)
    try:
        sysfs = h.path("sys")
        # Even a regression cannot reach this host's journal: /var/lib is a private tmpfs here.
        wrap = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs hostdev-test /var/lib && "$0" "$@"; s=$?; '
                'ls -A /var/lib >&2; exit $s')
        for argv, what in ((["bind", NIC], "bind"), (["restore", "--all"], "restore"),
                           (["apply"], "apply"), (["persist", "add", NIC], "persist add"),
                           (["persist", "remove", NIC], "persist remove"),
                           (["sriov", NIC, "--vfs", "0"], "sriov --vfs")):
            p = h.run("--sysfs", sysfs, *argv, expect=2, root_option=False, wrap=wrap)
            contains(p.stderr, what + " with --sysfs")
            contains(p.stderr, "--state-dir")
            # `ls -A /var/lib` printed nothing after hostdev's own error line.
            check(p.stderr.strip().splitlines()[-1].startswith("hostdev:"),
                  f"something was written below /var/lib: {p.stderr}")
        check(h.driver(NIC) == "e1000e", "NIC touched")
        # With explicit state (and config) directories they run, and write there.
        state, config = h.path("other-state"), h.path("other-config")
        contains(h.run("--sysfs", sysfs, "--state-dir", state, "restore", "--all",
                       root_option=False, wrap=wrap).stdout, "nothing to restore")
        check(os.path.exists(os.path.join(state, "vfio.lock")), "lock not in --state-dir")
        p = h.run("--sysfs", sysfs, "--state-dir", state, "persist", "add", NIC, expect=2,
                  root_option=False, wrap=wrap)
        contains(p.stderr, "--config-dir")
        h.run("--sysfs", sysfs, "--state-dir", state, "--config-dir", config, "persist", "add",
              NIC, root_option=False, wrap=wrap)
        check(os.path.exists(os.path.join(config, "vfio-devices.json")), "list not in --config-dir")
        # Reading is fine with --sysfs alone.
        h.run("--sysfs", sysfs, "show", NIC, root_option=False, wrap=wrap)
        h.run("--sysfs", sysfs, "journal", root_option=False, wrap=wrap)
    finally:
        h.close()


def case_owner_text(args):
    """--owner: at most 1023 bytes (exit 2 naming the option); shown escaped by journal."""
    h = Host(args)
    try:
        p = h.run("bind", "--owner", "x" * 1024, NIC, expect=2)
        contains(p.stderr, "--owner")
        contains(p.stderr, "1024 bytes")
        check(h.driver(NIC) == "e1000e", "bound anyway")
        h.run("restore", "--all", "--owner", "y" * 1024, expect=2)
        h.run("apply", "--owner", "z" * 1024, expect=2)
        h.run("bind", "--owner", "x" * 1023, NIC)
        h.run("restore", NIC)
        owner = "vm-a\n\x1b[31mRED\x1b[0m\\"
        h.run("bind", "--owner", owner, NIC)
        out = h.run("journal").stdout
        check("\x1b" not in out, f"raw escape sequence in: {out!r}")
        line = [l for l in out.splitlines() if l.startswith(NIC)]
        check(len(line) == 1, f"the owner's newline split the line: {out!r}")
        contains(line[0], "vm-a\\x0a\\x1b[31mRED\\x1b[0m\\x5c")
        doc = json.loads(h.run("journal", "--json").stdout)
        check(doc["journal"]["records"][0]["owner"] == owner, "JSON keeps the text")
    finally:
        h.close()


def case_journal_permissions(args):
    """A user who may not read the journal is told which permission is missing."""
    h = Host(args)
    try:
        h.run("bind", NIC)
        # Let uid 65534 reach the fake root; the state directory stays root's and private.
        for d in ("", "var", "var/lib"):
            os.chmod(h.path(d), 0o755)
        os.chmod(h.path("var/lib/hostdev"), 0o700)
        p = h.run("journal", expect=1, user=65534)
        contains(p.stderr, "uid 65534")
        contains(p.stderr, "search (x) permission on " + h.path("var/lib/hostdev"))
        contains(p.stderr, "owned by uid 0 (root) with mode 0700")
        os.chmod(h.path("var/lib/hostdev"), 0o755)
        p = h.run("journal", expect=1, user=65534)
        contains(p.stderr, "read (r) permission")
        contains(p.stderr, "mode 0600")
        os.chmod(h.path("var/lib/hostdev"), 0o700)
        h.run("restore", "--all")
    finally:
        h.close()


def case_restore_report(args):
    """restore says per device what it did; no record goes without a word."""
    h = Host(args)
    try:
        h.run("bind", NIC, VIRTIO, SPARE)
        shutil.rmtree(os.path.realpath(h.path("sys/bus/pci/devices/" + SPARE)))
        os.unlink(h.path("sys/bus/pci/devices/" + SPARE))
        p = h.run("restore", "--all")
        contains(p.stdout, f"{NIC}: restored: restored to e1000e")
        contains(p.stdout, f"{VIRTIO}: restored: restored to virtio-pci")
        contains(p.stdout, f"{SPARE}: gone: no such device")
        contains(p.stdout, "record kept")
        contains(p.stdout, "2 devices restored, 1 gone; 1 journal record kept")
        contains(h.run("journal").stdout, SPARE)
        doc = json.loads(h.run("restore", "--all", "--json").stdout)
        check(doc["restore"] == [{"address": SPARE, "outcome": "gone", "driver": None,
                                  "record_kept": True, "message": doc["restore"][0]["message"],
                                  "iommu_group": None, "previous_driver": None,
                                  "original_driver": None, "requested": True}],
              str(doc))
        p = h.run("restore", "--all", "--forget-gone")
        contains(p.stdout, f"{SPARE}: gone: ")
        contains(p.stdout, "record dropped")
        contains(p.stdout, "0 devices restored, 1 gone\n")
        contains(h.run("journal").stdout, "no devices bound")
        # The report's case: 300 stale records gave "0 devices restored (nothing to
        # restore)" and were all deleted.
        h.write_journal(stale_records(300))
        p = h.run("restore", "--all")
        check(p.stdout.count(": gone: ") == 300, p.stdout[-500:])
        contains(p.stdout, "0 devices restored, 300 gone; 300 journal records kept")
        check(len(json.loads(h.run("journal", "--json").stdout)["journal"]["records"]) == 300,
              "records lost")
        # A refused record fails the command, and keeps its record.
        h.write_journal([record(MGMT, "igb") | {"driver_override": "vfio-pci"}])
        p = h.run("restore", "--all", expect=1)
        contains(p.stdout, f"{MGMT}: refused: ")
        contains(p.stderr, "vfio-pci")
        check(h.log_count(" override " + MGMT) == 0, "wrote to the management NIC")
    finally:
        h.close()


def case_lock_wait(args):
    """A held lock: writers say whom they wait for and give up; journal reads at once."""
    h = Host(args)
    holder = None
    try:
        # This bind holds the lock while it waits for a probe the model never finishes.
        holder = subprocess.Popen([args.hostdev, "--root", h.root, "bind", "--timeout", "120000",
                                   VIRTIO], env=h.env(extra={"HOSTDEV_KMODEL_STALL": VIRTIO}),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + DEADLINE
        while h.log_count(" probe " + VIRTIO) == 0:
            check(holder.poll() is None, "the holder exited")
            check(time.monotonic() < deadline, "the holder never reached its probe")
            time.sleep(0.01)
        p = h.run("journal")
        contains(p.stdout, VIRTIO)
        p = h.run("bind", "--lock-timeout", "1", NIC, expect=1)
        contains(p.stderr, f"waiting for the vfio lock {h.path('var/lib/hostdev/vfio.lock')} "
                           f"held by pid {holder.pid}")
        contains(p.stderr, f"still held by pid {holder.pid}")
        check(h.driver(NIC) == "e1000e", "NIC touched")
        h.run("bind", "--lock-timeout", "0", NIC, expect=2)
        h.run("bind", "--lock-timeout", "x", NIC, expect=2)
        check(holder.poll() is None, "the holder exited")
    finally:
        if holder:
            holder.kill()
            holder.wait()
        h.close()


def case_mdev_vgpu(args):
    """A vGPU node: active mdevs are shown, and their parents are neither bound nor PASS."""
    h = Host(args, "--vgpu")
    try:
        p = h.run("show", VGPU_VF0)
        contains(p.stdout, "Active mdevs:         1")
        contains(p.stdout, f"{VGPU_MDEV0}: nvidia-744 (NVIDIA A2-4Q), IOMMU group 100, in use")
        contains(h.run("show", VGPU_VF3).stdout, "Active mdevs:         none")
        doc = json.loads(h.run("list", "--json").stdout)
        devs = {d["address"]: d for d in doc["devices"]}
        check(devs[VGPU_VF0]["mdevs"] == [{"uuid": VGPU_MDEV0, "type": "nvidia-744",
                                           "type_name": "NVIDIA A2-4Q", "iommu_group": 100,
                                           "in_use": True}], str(devs[VGPU_VF0]["mdevs"]))
        check(sum(len(d["mdevs"]) for d in devs.values()) == 3, "three vGPUs")
        p = h.run("check", VGPU_VF0, VGPU_VF3, VGPU_PF)
        contains(p.stdout, f"FAIL  {VGPU_VF0}")
        contains(p.stdout, "hosts 1 active mediated device")
        contains(p.stdout, f"PASS  {VGPU_VF3}")
        contains(p.stdout, f"FAIL  {VGPU_PF}")
        p = h.run("bind", VGPU_VF0, expect=1)
        contains(p.stderr, VGPU_MDEV0)
        contains(p.stderr, "hostdev mdev remove")
        contains(p.stderr, "--force")
        check(h.driver(VGPU_VF0) == "nvidia", "bound anyway")
        h.run("bind", VGPU_VF3)
        contains(h.run("restore", "--all").stdout, "1 device restored")
    finally:
        h.close()


def instructions(argv, env):
    """Instructions the program executes (valgrind's count): an operation count, not a time."""
    with open(os.devnull, "w") as null:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              *argv], env=env, stdout=null, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected : (\d+)", out.stderr)
    check(m is not None, "no instruction count: " + out.stderr[-400:])
    return int(m.group(1))


def case_journal_scale(args):
    """Listing and restoring a journal cost linear work: 8x the records, about 8x the
    instructions (the quadratic duplicate check made it 16x; a 100k-record journal took 26 s to
    list)."""
    if args.sanitized:
        print("skipped: valgrind cannot run a sanitizer build")
        return
    h = Host(args)
    try:
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        cost = {}
        for n in (1000, 8000):
            h.write_journal(stale_records(n))
            listing = instructions([args.hostdev, "--root", h.root, "journal", "--json"], env)
            restoring = instructions([args.hostdev, "--root", h.root, "restore", "--all",
                                      "--forget-gone", "--json"], env)
            check(not os.path.exists(h.path(JOURNAL)) or "ixgbevf" not in open(h.path(JOURNAL)).read(),
                  "restore --forget-gone left records")
            cost[n] = (listing, restoring)
        for i, what in enumerate(("journal --json", "restore --all --forget-gone")):
            ratio = cost[8000][i] / cost[1000][i]
            print(f"{what}: {cost[1000][i]} -> {cost[8000][i]} instructions, x{ratio:.2f}")
            check(ratio < 11, f"{what}: 8x the records cost x{ratio:.1f} the instructions")
    finally:
        h.close()


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--fake-host", required=True)
    ap.add_argument("--kmodel", required=True)
    ap.add_argument("--check-registered", nargs="*")
    ap.add_argument("--sanitized", action="store_true")
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
