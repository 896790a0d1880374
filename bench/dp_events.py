#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""How long uevents hold `hostdev serve`'s loop (issue #15: no single piece of work may hold it
for more than 5 ms at 10,000 devices). On the fake roots of bench/dp_idle.py (bench/gen-dp-root.py:
N vfio-pci functions of one vendor:device), `hostdev serve -v` runs on a umockdev testbed
(tests/agent/hotplug_bed.c under umockdev-wrapper) whose uevents name a device of the root:

    dp_events.py --hostdev BIN --bed BIN [--sizes "1000 10000"] [--configs "explicit harvester"]
                 [--cache DIR] [--json FILE]

Per size and config, a fresh process: start it, open a ListAndWatch stream, wait for the first
list (every device Healthy), let start-up settle, then five uevents for the device in the middle
of the root, as the kernel sends them: add and bind (pci-add), change, unbind, bind. Once the
server has read that device again for each of them and its CPU time no longer grows, SIGTERM.
Reported from its debug log: the longest loop round after the events began (the loop logs each
round of 1 ms or more: wall and CPU time of the loop's thread; "< 1" when none), the longest round of the whole
run (start-up and the first list included), how many times the config was resolved again, and
the process's CPU time (all threads, schedstat) for the events.

Configs: explicit is `--resource example.com/nic --pci-device 8086:10d3` (bench/dp_idle.py's:
no event can change which resources exist); harvester is `--naming harvester --pci-device
8086:10d3` (one resource per Harvester name: add, bind and unbind may change the names, so they
resolve the config again; change does not).

A binary without the per-round log line (before it was added) reports only the whole run's
longest round. Needs /usr/bin/python3 with python3-grpcio and python3-grpc-tools, umockdev.
Never asserts a speed; exits non-zero when a server misbehaves.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dp_bench  # noqa: E402
from dp_idle import make_root, schedstat_ns  # noqa: E402

CONFIGS = {
    "explicit": ["--resource", "example.com/nic", "--pci-device", "8086:10d3"],
    "harvester": ["--naming", "harvester", "--pci-device", "8086:10d3"],
}
ROUND = re.compile(r"event loop: a round took (\d+) us \((\d+) us of CPU\)")
TOTAL = re.compile(r"event loop: (\d+) rounds handled events, the longest took (\d+) us "
                   r"\(the most CPU time in one: (\d+) us\)")


def wait_for(pred, what, timeout, proc):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if proc.poll() is not None:
            raise RuntimeError("the server exited (%d) while waiting for %s" % (proc.returncode, what))
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for %s" % what)
        time.sleep(0.05)


def run_one(args, config, n, root, devices, work):
    kubelet = tempfile.mkdtemp(prefix="dp-events-kubelet.", dir=work)
    plugin_dir = os.path.join(kubelet, "device-plugins")
    os.makedirs(plugin_dir)
    log_path = os.path.join(kubelet, "server.log")
    log = open(log_path, "w")
    cmd = ["umockdev-wrapper", args.bed, "--", args.hostdev, "--root", root, "-v", "serve",
           *CONFIGS[config], "--registration", "none", "--kubelet-dir", kubelet]
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            text=True, env=env)

    def text():
        with open(log_path) as f:
            return f.read()

    def bed(command):
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError("%s: %r" % (command, answer))

    try:
        sock = wait_for(lambda: next((os.path.join(plugin_dir, s) for s in os.listdir(plugin_dir)
                                      if s.endswith(".sock")), None), "the socket", 300, proc)
        watch = dp_bench.Watch(sock)
        i, _ = watch.wait(lambda s: len(s) == n and all(h == "Healthy" for h in s.values()), 0, 300)
        if i is None:
            raise RuntimeError("%s: no first list with every device Healthy" % config)
        time.sleep(args.settle)
        # The bed's child: every log line names it.
        pid = int(wait_for(lambda: re.search(r" hostdev\[(\d+)\]: ", text()), "a log line", 60,
                           proc).group(1))
        mark = len(text())
        dev = devices[len(devices) // 2]["id"]
        reread = "%s read again after a uevent" % dev
        ns0 = schedstat_ns(pid)
        for command in ("pci-add %s 8086 10d3 020000 vfio-pci" % dev, "pci-change %s" % dev,
                        "pci-unbind %s" % dev, "pci-bind %s vfio-pci" % dev):
            bed(command)
        wait_for(lambda: text()[mark:].count(reread) >= 5, "the device read again 5 times", 300, proc)
        # The resolutions the events asked for (on the loop before, on the worker after): done
        # when the CPU time stops growing.
        last, still = schedstat_ns(pid), 0
        while still < 5:
            time.sleep(0.2)
            now = schedstat_ns(pid)
            still = still + 1 if now - last < 2_000_000 else 0
            last = now
        events_cpu_ms = (last - ns0) / 1e6
        others_ok = all(h == "Healthy" for h in watch.lists[-1][1].values())
        watch.close()
        proc.send_signal(signal.SIGTERM)
        proc.stdin.close()
        proc.wait(timeout=120)
        log.close()
        whole = text()
        after = whole[mark:]
        rounds = [(int(w), int(c)) for w, c in ROUND.findall(after)]
        total = TOTAL.search(whole)
        # The binaries that log long rounds also log how the manager follows events; in an
        # older one only the whole run's longest round is known.
        logs_rounds = "the config is resolved again on" in whole
        return {
            "config": config, "devices": n,
            # 0: no round of 1 ms or more after the events began.
            "events_longest_ms": max((w for w, _ in rounds), default=0) / 1000.0
            if logs_rounds else None,
            "events_longest_cpu_ms": max((c for _, c in rounds), default=0) / 1000.0
            if logs_rounds else None,
            "run_longest_ms": int(total.group(2)) / 1000.0 if total else None,
            "run_longest_cpu_ms": int(total.group(3)) / 1000.0 if total else None,
            # A binary before the manager logged its resolutions: unknown.
            "resolutions": len(re.findall(r"resolving the config again \(resolution", after))
            if "the config is resolved again on" in whole else None,
            "events_cpu_ms": events_cpu_ms, "all_healthy": others_ok,
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(kubelet, ignore_errors=True)


def fmt(v, spec="%.2f"):
    return "n/a" if v is None else spec % v


def fmt_round(v):
    return "n/a" if v is None else "< 1" if v == 0 else "%.2f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--bed", required=True, help="tests/agent/agent-hotplug-bed of a build")
    ap.add_argument("--sizes", default="1000 10000")
    ap.add_argument("--configs", default="explicit harvester")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds after the first list")
    ap.add_argument("--cache", default=os.path.join(HERE, "out", "dp-idle"),
                    help="the roots (shared with bench/dp_idle.py)")
    ap.add_argument("--proto-dir", default=os.path.join(TOP, "src", "deviceplugin", "proto"))
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    if not shutil.which("umockdev-wrapper"):
        sys.exit("dp_events: umockdev-wrapper not found (Debian's umockdev)")
    dp_bench.load_protos(args.proto_dir)
    os.makedirs(args.cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="dp-events.")
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    results = []
    try:
        for n in [int(x) for x in args.sizes.split()]:
            root, _, devices = make_root(args.cache, n)
            for config in args.configs.split():
                print("dp_events: %d devices, %s" % (n, config), file=sys.stderr)
                results.append(run_one(args, config, n, root, devices, work))
                print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load1 = " ".join(open("/proc/loadavg").read().split()[:3])
    print("Load average %s at the start, %s at the end." % (load0, load1))
    print("")
    print("| devices | config | longest round after the uevents, ms wall / CPU | longest round of "
          "the run, ms wall / CPU | resolutions after start | CPU for the 5 uevents, ms |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in results:
        print("| %d | %s | %s / %s | %s / %s | %s | %.1f |" % (
            r["devices"], r["config"], fmt_round(r["events_longest_ms"]),
            fmt_round(r["events_longest_cpu_ms"]),
            fmt(r["run_longest_ms"]), fmt(r["run_longest_cpu_ms"]), fmt(r["resolutions"], "%d"),
            r["events_cpu_ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "load": [load0, load1]}, f, indent=1)


if __name__ == "__main__":
    main()
