#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Run libhostdev's real-kernel scenarios in a QEMU guest (see docs/vm-harness.md).

For each scenario: prepare the cache (tests/vm/prepare-cache.sh), build the initramfs
(tests/vm/build-initramfs.sh), boot the scenario's machine variant with the scenario named on the kernel
command line, log the serial console, serve the QMP requests the guest prints, enforce the timeout, and read
the guest's verdict. Ends with "vm: N passed, N failed, N skipped".
Exit status: 0 all ran scenarios passed; 1 a failure; 77 everything was skipped (e.g. no kernel: offline).
"""

import argparse
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time

import hosthooks

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
SKIP = 77
DEFAULT_TIMEOUT = 120

# ---------------------------------------------------------------------------------------------------------------
# Machines. Add a device here (and its driver to modules.txt); scenarios pick a variant with "vm-machine: NAME".


def machine_iommu(work, **opts):
    """q35 + intel-iommu (intremap), e1000e, virtio-net, NVMe PF with SR-IOV behind root port rp1, the ICH9
    LPC/SATA/SMBus group (built into q35), qemu-xhci with keyboard, tablet and storage, and an empty root
    port rp2 for PCI hot-plug."""
    return (
        [
            "-device", "intel-iommu,intremap=on",
        ]
        + common_devices(work, **opts),
        "intel_iommu=on",
    )


def machine_noiommu(work, **opts):
    """The same devices without an IOMMU: no groups, vfio-pci cannot bind (negative tests)."""
    return common_devices(work, **opts), "intel_iommu=off"


def machine_iommu_sriov8(work, **opts):
    """The iommu machine with an NVMe PF offering 8 VFs: VF 8 lands at 01:01.0 through ARI."""
    return (["-device", "intel-iommu,intremap=on"] + common_devices(work, nvme_vfs=8, **opts), "intel_iommu=on")


def common_devices(work, nvme_vfs=2, nic1_netdev="hubport,id=n1,hubid=0"):
    """@nic1_netdev: the backend of nic1 (virtio-net), an unconnected hub port unless a host hook
    (hosthooks.py) gives the guest a restricted network there; the guest's PCI devices stay the same."""
    return [
        "-netdev", "hubport,id=n0,hubid=0",
        "-netdev", nic1_netdev,
        "-device", "e1000e,id=nic0,netdev=n0,mac=52:54:00:12:34:01",
        "-device", "virtio-net-pci,id=nic1,netdev=n1,mac=52:54:00:12:34:02",
        "-device", "pcie-root-port,id=rp1,chassis=1,slot=1",
        "-device", "nvme-subsys,id=subsys0",
        "-device", "nvme,id=nvme0,serial=deadbeef,subsys=subsys0,bus=rp1,"
                   "sriov_max_vfs=%d,sriov_vq_flexible=%d,sriov_vi_flexible=%d" % (nvme_vfs, 2 * nvme_vfs, nvme_vfs),
        "-device", "pcie-root-port,id=rp2,chassis=2,slot=2",
        "-device", "qemu-xhci,id=xhci,p2=8,p3=8",
        "-device", "usb-kbd,id=kbd0,bus=xhci.0",
        "-device", "usb-tablet,id=tablet0,bus=xhci.0",
        "-drive", "if=none,id=stick,format=raw,file=" + os.path.join(work, "usb.img"),
        "-device", "usb-storage,id=stick0,bus=xhci.0,drive=stick,serial=HOSTDEV0001",
    ]


MACHINES = {"iommu": machine_iommu, "noiommu": machine_noiommu, "iommu-sriov8": machine_iommu_sriov8}

# ---------------------------------------------------------------------------------------------------------------


class Scenario:
    def __init__(self, name, path, kind):
        self.name = name
        self.path = path
        self.kind = kind  # "sh" or "c"
        self.machine = "iommu"
        self.timeout = DEFAULT_TIMEOUT
        self.description = ""
        self.host_hook = None  # name in hosthooks.HOOKS: a host-side service for this scenario
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [next(f, "") for _ in range(30)]
        for line in head:
            m = re.search(r"vm-machine:\s*(\S+)", line)
            if m:
                self.machine = m.group(1)
            m = re.search(r"vm-timeout:\s*(\d+)", line)
            if m:
                self.timeout = int(m.group(1))
            m = re.search(r"vm-description:\s*(.*?)\s*(\*/)?$", line)
            if m:
                self.description = m.group(1)
            m = re.search(r"vm-host-hook:\s*(\S+)", line)
            if m:
                self.host_hook = m.group(1)


def discover(scenario_dir):
    found = {}
    for fn in sorted(os.listdir(scenario_dir)):
        path = os.path.join(scenario_dir, fn)
        if fn.endswith(".sh"):
            found[fn[:-3]] = Scenario(fn[:-3], path, "sh")
        elif fn.endswith(".c"):
            found[fn[:-2]] = Scenario(fn[:-2], path, "c")
    return found


def banner(msg):
    line = "*" * (len(msg) + 6)
    print(line + "\n** " + msg + " **\n" + line, flush=True)


class Qmp:
    """A minimal QMP client on the unix socket QEMU serves."""

    def __init__(self, path, log):
        self.path = path
        self.log = log
        self.sock = None
        self.buf = b""
        self.lock = threading.Lock()

    def connect(self, deadline):
        while time.time() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
                self._read_msg()  # greeting
                self.command({"execute": "qmp_capabilities"})
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def _read_msg(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, cmd):
        with self.lock:
            self.sock.settimeout(30)
            self.sock.sendall(json.dumps(cmd).encode() + b"\n")
            while True:
                msg = self._read_msg()
                if "event" in msg:
                    self.log("@@HOST-QMP-EVENT " + json.dumps(msg))
                    continue
                return msg


class Run:
    """One boot of one scenario."""

    def __init__(self, args, scen, env, initrd, outdir):
        self.args = args
        self.scen = scen
        self.env = env
        self.initrd = initrd
        self.out = outdir
        self.result = None  # (status, detail)
        self.logf = None
        self.qmp = None
        self.proc = None
        self.done_at = None
        self.booted_at = None
        self.exports = []
        self.t0 = time.time()
        self.qmp_ready = threading.Event()
        self.hook = None  # the scenario's host hook (hosthooks.py), started before QEMU

    def log(self, line):
        self.logf.write("%8.2f %s\n" % (time.time() - self.t0, line))
        self.logf.flush()
        if not self.args.quiet:
            print("[%s] %s" % (self.scen.name, line), flush=True)

    def qemu_cmd(self):
        machine_opts, hook_args = self.hook.qemu_args() if self.hook else ({}, [])
        devices, kargs = MACHINES[self.scen.machine](self.out, **machine_opts)
        devices = devices + hook_args
        # no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can fail
        # ("timer doesn't work through Interrupt-remapped IO-APIC") and panic the guest at boot.
        cmdline = "console=ttyS0 loglevel=4 panic=-1 mitigations=off no_timer_check %s hostdev.scenario=%s" % (
            kargs, self.scen.name)
        return [
            self.args.qemu, "-machine", "q35", "-accel", "tcg", "-cpu", "max",
            "-smp", str(self.args.smp), "-m", self.args.memory,
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio",
            "-chardev", "file,id=export,path=" + os.path.join(self.out, "export.serial"),
            "-serial", "chardev:export",
            "-qmp", "unix:%s,server=on,wait=off" % os.path.join(self.out, "qmp.sock"),
        ] + devices + [
            "-kernel", self.env["HOSTDEV_VM_KERNEL"], "-initrd", self.initrd, "-append", cmdline,
        ]

    def serve_qmp(self, line):
        m = re.match(r"@@VM-QMP (\S+) (.*)$", line)
        if not m:
            return
        rid, payload = m.group(1), m.group(2)
        self.qmp_ready.wait(15)
        try:
            cmd = json.loads(payload)
            reply = self.qmp.command(cmd) if self.qmp else {"error": {"desc": "QMP not connected"}}
        except (ValueError, OSError) as e:
            reply = {"error": {"desc": "runner: %s" % e}}
        status = "ok" if "return" in reply else "error"
        text = "@@VM-QMP-REPLY %s %s %s" % (rid, status, json.dumps(reply, separators=(",", ":")))
        self.log("@@HOST " + text)
        try:
            self.proc.stdin.write((text + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            pass

    def serve_host(self, line):
        """@@VM-HOST <id> <json>: a request to the scenario's host hook (vm_host in the guest); answered on
        the console as @@VM-HOST-REPLY <id> ok|error <json>, as QMP requests are."""
        m = re.match(r"@@VM-HOST (\S+) (.*)$", line)
        if not m:
            return
        rid, payload = m.group(1), m.group(2)
        self.qmp_ready.wait(15)
        try:
            if not self.hook:
                raise ValueError("this scenario has no vm-host-hook")
            reply, ok = self.hook.request(json.loads(payload)), True
        except Exception as e:  # noqa: BLE001 - the guest gets the error, the scenario fails
            reply, ok = {"error": "runner: %s: %s" % (type(e).__name__, e)}, False
        text = "@@VM-HOST-REPLY %s %s %s" % (rid, "ok" if ok else "error", json.dumps(reply, separators=(",", ":")))
        self.log("@@HOST " + text)
        try:
            self.proc.stdin.write((text + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            pass

    def pump(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.log(line)
            if line.startswith("@@VM-QMP "):
                self.serve_qmp(line)
            elif line.startswith("@@VM-HOST "):
                # On its own thread: a hook request may wait for a while, and the console must keep
                # being read meanwhile (the guest keeps printing).
                threading.Thread(target=self.serve_host, args=(line,), daemon=True).start()
            elif line.startswith("@@VM-BOOTED"):
                self.booted_at = time.time()
            elif line.startswith("@@VM-RESULT "):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] == self.scen.name:
                    self.result = (parts[2], parts[3] if len(parts) > 3 else "")
            elif line.startswith("@@VM-DONE"):
                self.done_at = time.time()

    def run(self):
        os.makedirs(self.out, exist_ok=True)
        for stale in ("qmp.sock", "export.serial"):
            try:
                os.unlink(os.path.join(self.out, stale))
            except FileNotFoundError:
                pass
        with open(os.path.join(self.out, "usb.img"), "wb") as f:
            f.truncate(16 << 20)
        self.logf = open(os.path.join(self.out, "console.log"), "w", encoding="utf-8")
        if self.scen.host_hook:
            try:
                self.hook = hosthooks.HOOKS[self.scen.host_hook](self)
                self.hook.start()
            except Exception as e:  # noqa: BLE001 - reported as the scenario's failure
                self.log("@@HOST runner: host hook %s failed to start: %s" % (self.scen.host_hook, e))
                self.logf.close()
                if self.hook:
                    self.hook.stop()
                return ("FAIL", "host hook %s: %s" % (self.scen.host_hook, e)), 0.0
        try:
            return self.boot()
        finally:
            if self.hook:
                self.hook.stop()

    def boot(self):
        cmd = self.qemu_cmd()
        with open(os.path.join(self.out, "qemu-cmdline.txt"), "w", encoding="utf-8") as f:
            f.write(" ".join(cmd) + "\n")
        start = self.t0 = time.time()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        # Read the console at once (a full pipe would stall the guest); QMP requests wait for the connection.
        reader = threading.Thread(target=self.pump, daemon=True)
        reader.start()
        qmp = Qmp(os.path.join(self.out, "qmp.sock"), self.log)
        if qmp.connect(time.time() + 60):
            self.qmp = qmp
        else:
            self.log("@@HOST runner: could not connect to QMP")
        self.qmp_ready.set()
        # HOSTDEV_TEST_TIMEOUT_SCALE stretches every bound of a loaded or instrumented run.
        timeout = int((self.args.timeout or self.scen.timeout) *
                      float(os.environ.get("HOSTDEV_TEST_TIMEOUT_SCALE", "1")))
        deadline = start + timeout
        timed_out = False
        while self.proc.poll() is None:
            now = time.time()
            if now > deadline:
                timed_out = True
                break
            if self.done_at and now > self.done_at + 15:
                self.log("@@HOST runner: guest did not power off 15 s after @@VM-DONE")
                break
            time.sleep(0.05)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        reader.join(5)
        elapsed = time.time() - start
        if timed_out:
            self.log("@@HOST runner: TIMEOUT after %d s: guest killed" % timeout)
        self.logf.close()
        self.extract_exports()
        if self.result is None:
            why = "timed out after %d s" % timeout if timed_out else (
                "guest ended without a verdict (qemu exit %s; kernel panic or /init crash?)" %
                self.proc.returncode)
            self.result = ("FAIL", why)
        elif self.result[0] not in ("PASS", "FAIL", "SKIP"):
            self.result = ("FAIL", "unknown verdict %r" % (self.result,))
        return self.result, elapsed

    def extract_exports(self):
        path = os.path.join(self.out, "export.serial")
        if not os.path.exists(path):
            return
        name, chunks = None, []
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("@@VM-EXPORT-BEGIN "):
                    name, chunks = line.split(" ", 1)[1], []
                elif line.startswith("@@VM-EXPORT-END ") and name:
                    self.unpack_export(name, "".join(chunks))
                    name = None
                elif name:
                    chunks.append(line)

    def unpack_export(self, name, b64):
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            self.result = ("FAIL", "bad export name %r" % name)
            return
        dest = os.path.join(self.out, "exports", name)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        try:
            data = base64.b64decode(b64, validate=False)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                members = []
                for m in tar.getmembers():
                    if m.name.startswith("/") or ".." in m.name.split("/"):
                        raise tarfile.TarError("unsafe member %s" % m.name)
                    if m.isdev():
                        continue
                    members.append(m)
                tar.extractall(dest, members=members)
            self.exports.append(dest)
            print("[%s] export %s -> %s" % (self.scen.name, name, dest), flush=True)
        except (ValueError, tarfile.TarError, EOFError, OSError) as e:
            self.result = ("FAIL", "export %s is corrupt: %s" % (name, e))


def run_tool(cmd):
    """Run a helper script, streaming its stderr; returns its exit status."""
    return subprocess.call(cmd)


def load_env(cache):
    env = {}
    with open(os.path.join(cache, "env.sh"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^(\w+)='(.*)'$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    return env


def shell(args, env, initrd, scen_names):
    work = os.path.join(args.out, "shell")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "usb.img"), "wb") as f:
        f.truncate(16 << 20)
    devices, kargs = MACHINES[args.machine](work)
    cmdline = "console=ttyS0 loglevel=4 panic=-1 mitigations=off no_timer_check %s hostdev.shell=1" % kargs
    if scen_names:
        cmdline += " hostdev.scenario=" + ",".join(scen_names)
    qmp = os.path.join(work, "qmp.sock")
    cmd = [args.qemu, "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", str(args.smp),
           "-m", args.memory, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-serial", "mon:stdio", "-serial", "file:" + os.path.join(work, "export.serial"),
           "-qmp", "unix:%s,server=on,wait=off" % qmp] + devices + [
        "-kernel", env["HOSTDEV_VM_KERNEL"], "-initrd", initrd, "-append", cmdline]
    print("vm: shell on machine %r; QMP at %s (e.g. tests/vm/runner.py --qmp %s "
          "'{\"execute\":\"query-pci\"}'); Ctrl-A X quits QEMU" % (args.machine, qmp, qmp), flush=True)
    return subprocess.call(cmd)


def qmp_once(sock, payload):
    q = Qmp(sock, lambda line: print(line))
    if not q.connect(time.time() + 5):
        print("vm: cannot connect to %s" % sock, file=sys.stderr)
        return 1
    print(json.dumps(q.command(json.loads(payload)), indent=1))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    ap.add_argument("--build-dir", default=os.path.join(SRC, "build"), help="CMake build directory")
    ap.add_argument("--cache", default=os.environ.get("HOSTDEV_VM_CACHE",
                    os.path.join(os.path.expanduser("~"), ".cache", "libhostdev-vm")))
    ap.add_argument("--out", help="output directory (default BUILD_DIR/tests/vm/out)")
    ap.add_argument("--initrd", help="initramfs path (default BUILD_DIR/tests/vm/initramfs.cpio)")
    ap.add_argument("--scenario-dir", default=os.path.join(HERE, "scenarios"))
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--timeout", type=int, default=0, help="override every scenario's timeout (s)")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="guests booted in parallel")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--quiet", "-q", action="store_true", help="do not echo the console (log files only)")
    ap.add_argument("--shell", action="store_true",
                    help="boot the machine with an interactive shell on this terminal (runs the named "
                         "scenarios first)")
    ap.add_argument("--machine", default="iommu", choices=sorted(MACHINES), help="machine for --shell")
    ap.add_argument("--qmp", nargs=2, metavar=("SOCKET", "JSON"), help="send one QMP command and exit")
    args = ap.parse_args()

    if args.qmp:
        return qmp_once(*args.qmp)

    scens = discover(args.scenario_dir)
    if args.list:
        for s in scens.values():
            print("%-28s machine=%-8s timeout=%-4d %s" % (s.name, s.machine, s.timeout, s.description))
        return 0
    names = args.scenarios or list(scens)
    unknown = [n for n in names if n not in scens]
    if unknown:
        print("vm: unknown scenario(s): %s (have: %s)" % (" ".join(unknown), " ".join(scens)),
              file=sys.stderr)
        return 1
    for n in names:
        if scens[n].machine not in MACHINES:
            print("vm: scenario %s wants unknown machine %r" % (n, scens[n].machine), file=sys.stderr)
            return 1
        if scens[n].host_hook and scens[n].host_hook not in hosthooks.HOOKS:
            print("vm: scenario %s wants unknown host hook %r (have: %s)" % (
                n, scens[n].host_hook, " ".join(hosthooks.HOOKS)), file=sys.stderr)
            return 1

    build = os.path.abspath(args.build_dir)
    out = os.path.abspath(args.out or os.path.join(build, "tests", "vm", "out"))
    args.out = out
    initrd = os.path.abspath(args.initrd or os.path.join(build, "tests", "vm", "initramfs.cpio"))
    os.environ["HOSTDEV_VM_CACHE"] = args.cache

    if not shutil.which(args.qemu):
        banner("vm: FAILED: %s not found: install tests/deps/vm.txt (tests/install-deps.sh)" % args.qemu)
        return 1

    t0 = time.time()
    rc = run_tool([os.path.join(HERE, "prepare-cache.sh")])
    if rc == SKIP:
        banner("vm: SKIPPED: no guest kernel could be had (offline, nothing cached in %s)" % args.cache)
        print("vm: 0 passed, 0 failed, %d skipped" % len(names), flush=True)
        return SKIP
    if rc != 0:
        banner("vm: FAILED: prepare-cache.sh exited %d" % rc)
        return 1
    env = load_env(args.cache)
    rc = run_tool([os.path.join(HERE, "build-initramfs.sh"), build, initrd])
    if rc != 0:
        banner("vm: FAILED: build-initramfs.sh exited %d" % rc)
        return 1
    t_prep = time.time() - t0

    if args.shell:
        return shell(args, env, initrd, args.scenarios)

    results = {}
    lock = threading.Lock()
    queue = list(names)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                n = queue.pop(0)
            run = Run(args, scens[n], env, initrd, os.path.join(out, n))
            (status, detail), secs = run.run()
            with lock:
                results[n] = (status, detail, secs)
                print("vm: %-28s %s (%.1f s)%s" % (n, status, secs, " -- " + detail if detail else ""),
                      flush=True)
                if status == "FAIL" and args.quiet:
                    with open(os.path.join(out, n, "console.log"), encoding="utf-8") as f:
                        tail = f.read().splitlines()[-40:]
                    print("\n".join("  | " + t for t in tail), flush=True)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    npass = sum(1 for r in results.values() if r[0] == "PASS")
    nfail = sum(1 for r in results.values() if r[0] == "FAIL")
    nskip = sum(1 for r in results.values() if r[0] == "SKIP")
    print("vm: kernel %s, logs in %s, prepare %.1f s, total %.1f s" % (
        env.get("HOSTDEV_VM_KVER"), out, t_prep, time.time() - t0))
    for n in names:
        if results[n][0] == "SKIP":
            banner("vm: SKIPPED %s: %s" % (n, results[n][1]))
    print("vm: %d passed, %d failed, %d skipped" % (npass, nfail, nskip), flush=True)
    if nfail:
        return 1
    if npass == 0 and nskip:
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
