#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A device-plugin server at idle: `hostdev serve` at its defaults against a grpc-go plugin that
watches the group nodes with inotify (bench/dp-goplugin), on fake roots of 1,000 and 10,000
vfio-pci functions (bench/gen-dp-root.py). Writes the "Device-plugin serving at idle" section of
docs/performance.md (between its markers) or prints it.

    dp_idle.py --hostdev BIN --goplugin BIN [--sizes "1000 10000"] [--window 60] [--doc FILE|-]

Per server and size, a fresh process: start it, open a ListAndWatch stream (a second connection,
like the kubelet's), wait for the first list (every device Healthy), let start-up settle
(--settle seconds), then over --window seconds of idle: CPU time (utime+stime of /proc/PID/stat,
clock ticks; and the sum of /proc/PID/task/*/schedstat, nanoseconds, the precise figure), the
lists received (none expected), VmRSS and threads at the end. Then one event: a device's group node
removed and re-created, each time until the list shows it, with the server's CPU time for the
pair. `hostdev serve` runs with -v; on SIGTERM its loop logs how many rounds handled events and
the longest of them ("event loop: ... the longest took N us (the most CPU time in one: M us)"):
the longest time the loop's thread was held, start-up, the stream's first list and the events included.

Needs /usr/bin/python3 with python3-grpcio and python3-grpc-tools (bench/dp_bench.py's helpers).
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

RESOURCE = "example.com/nic"
VENDOR_DEVICE = "8086:10d3"
# HOSTDEV_DP_DEFAULT_RESYNC_MS (include/hostdev/deviceplugin.h), in hours.
RESYNC_HOURS = 12
BEGIN = "<!-- dp-idle:begin: written by bench/dp_idle.py, do not edit by hand -->"
END = "<!-- dp-idle:end -->"


def schedstat_ns(pid):
    """CPU time of every thread of @pid, nanoseconds (schedstat's first field)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def make_root(cache, n):
    root = os.path.join(cache, "root-%d" % n)
    manifest = os.path.join(cache, "manifest-%d.json" % n)
    if not os.path.exists(manifest):
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen-dp-root.py"), "--devices", str(n),
                        "--manifest", manifest, root], check=True, stdout=subprocess.DEVNULL)
    with open(manifest) as f:
        devices = json.load(f)["devices"]
    for d in devices:  # every group node back, whatever an earlier run left
        open(os.path.join(root, "dev", "vfio", str(d["group"])), "a").close()
    return root, manifest, devices


def run_one(args, label, n, root, manifest, devices, work):
    kubelet = tempfile.mkdtemp(prefix="dp-idle-kubelet.", dir=work)
    os.makedirs(os.path.join(kubelet, "device-plugins"))
    log_path = os.path.join(kubelet, "server.log")
    log = open(log_path, "w")
    if label == "hostdev":
        sock = os.path.join(kubelet, "device-plugins", "example.com_nic.sock")
        cmd = [args.hostdev, "--root", root, "-v", "serve", "--resource", RESOURCE, "--pci-device",
               VENDOR_DEVICE, "--registration", "none", "--kubelet-dir", kubelet]
    else:
        sock = os.path.join(kubelet, "device-plugins", "go.sock")
        cmd = [args.goplugin, "-socket", sock, "-resource", RESOURCE, "-manifest", manifest,
               "-root", root]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        dp_bench.wait_socket(sock, proc.pid, 300)
        watch = dp_bench.Watch(sock)
        ids = [d["id"] for d in devices]
        i, _ = watch.wait(lambda s: len(s) == n and all(h == "Healthy" for h in s.values()), 0, 300)
        if i is None:
            raise RuntimeError("%s: no first list with every device Healthy" % label)
        ready_s = time.monotonic() - started
        time.sleep(args.settle)
        lists_before = watch.count()
        ticks0, ns0 = dp_bench.proc_cpu_seconds(proc.pid), schedstat_ns(proc.pid)
        time.sleep(args.window)
        ticks1, ns1 = dp_bench.proc_cpu_seconds(proc.pid), schedstat_ns(proc.pid)
        idle_lists = watch.count() - lists_before
        mem = dp_bench.proc_status(proc.pid)
        threads = dp_bench.proc_threads(proc.pid)
        # One event: a group node removed, then back.
        dev = devices[len(devices) // 2]
        node = os.path.join(root, "dev", "vfio", str(dev["group"]))
        ns_e0 = schedstat_ns(proc.pid)
        at = watch.count()
        t0 = time.perf_counter_ns()
        os.unlink(node)
        k, t1 = watch.wait(lambda s: s.get(dev["id"]) == "Unhealthy", at, 60)
        if k is None:
            raise RuntimeError("%s: removing %s was not seen" % (label, node))
        t2 = time.perf_counter_ns()  # before the node is made: the list can come first
        open(node, "w").close()
        k2, t3 = watch.wait(lambda s: s.get(dev["id"]) == "Healthy", k + 1, 60)
        if k2 is None:
            raise RuntimeError("%s: re-creating %s was not seen" % (label, node))
        time.sleep(0.2)
        event_cpu_ms = (schedstat_ns(proc.pid) - ns_e0) / 1e6
        others_ok = all(h == "Healthy" for d, h in watch.lists[k][1].items() if d != dev["id"])
        watch.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
        with open(log_path) as f:
            text = f.read()
        m = re.search(r"event loop: (\d+) rounds handled events, the longest took (\d+) us \(the most CPU time in one: (\d+) us\)", text)
        full_reads = text.count("read every device again")
        scale = 60.0 / args.window
        return {
            "server": label, "devices": n, "ready_s": ready_s,
            "idle_cpu_ms_per_min": (ns1 - ns0) / 1e6 * scale,
            "idle_cpu_ticks_ms_per_min": (ticks1 - ticks0) * 1000 * scale,
            "idle_lists": idle_lists, "rss_mib": mem["VmRSS"] / 1024.0,
            "hwm_mib": mem["VmHWM"] / 1024.0, "threads": threads,
            "event_unhealthy_ms": (t1 - t0) / 1e6, "event_healthy_ms": (t3 - t2) / 1e6,
            "event_cpu_ms": event_cpu_ms, "event_others_healthy": others_ok,
            "loop_rounds": int(m.group(1)) if m else None,
            "longest_dispatch_ms": int(m.group(2)) / 1000.0 if m else None,
            "longest_dispatch_cpu_ms": int(m.group(3)) / 1000.0 if m else None,
            "full_reads": full_reads if label == "hostdev" else None,
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(kubelet, ignore_errors=True)


def fmt(v, spec="%.2f"):
    return "n/a" if v is None else spec % v


def label_of(r):
    if r["server"] == "hostdev-before":
        return "`hostdev serve` before (%s: a full re-read every 5 s)" % r.get("commit", "?")
    return "`hostdev serve` (defaults)" if r["server"] == "hostdev" else "grpc-go + inotify"


def section(args, results, env):
    rows = []
    for r in results:
        rows.append("| %d | %s | %s | %s | %d | %s | %s | %d | %s / %s | %s | %s / %s |" % (
            r["devices"], label_of(r),
            fmt(r["idle_cpu_ms_per_min"], "%.3f"), fmt(r["idle_cpu_ticks_ms_per_min"], "%.0f"),
            r["idle_lists"], fmt(r["rss_mib"]), fmt(r["hwm_mib"]), r["threads"],
            fmt(r["event_unhealthy_ms"]), fmt(r["event_healthy_ms"]), fmt(r["event_cpu_ms"]),
            fmt(r["longest_dispatch_ms"]), fmt(r["longest_dispatch_cpu_ms"])))
    ratios = []
    for n in sorted({r["devices"] for r in results}):
        h = [r for r in results if r["devices"] == n and r["server"] == "hostdev"]
        g = [r for r in results if r["devices"] == n and r["server"] == "go"]
        b = [r for r in results if r["devices"] == n and r["server"] == "hostdev-before"]
        if h and b:
            ratios.append("- %d devices, against the former default: idle CPU %.3f against %.1f ms per minute, "
                          "RSS %.2f against %.2f MiB." % (n, h[0]["idle_cpu_ms_per_min"],
                                                          b[0]["idle_cpu_ms_per_min"], h[0]["rss_mib"],
                                                          b[0]["rss_mib"]))
        if h and g and g[0]["idle_cpu_ms_per_min"] > 0:
            ratios.append("- %d devices: idle CPU %.3f against %.3f ms per minute (ratio %.2f); RSS %.2f "
                          "against %.2f MiB (ratio %.2f); full re-reads by `hostdev serve` after its "
                          "first list: %d." % (
                              n, h[0]["idle_cpu_ms_per_min"], g[0]["idle_cpu_ms_per_min"],
                              h[0]["idle_cpu_ms_per_min"] / g[0]["idle_cpu_ms_per_min"], h[0]["rss_mib"],
                              g[0]["rss_mib"], h[0]["rss_mib"] / g[0]["rss_mib"],
                              max(0, (h[0]["full_reads"] or 0) - 1)))
    return "\n".join([
        BEGIN,
        "## Device-plugin serving at idle: `hostdev serve` against grpc-go + inotify",
        "",
        "Generated by `bench/dp_idle.py` on %s (libhostdev commit %s; load average %s at the start, "
        "%s at the end). Do not edit by hand. Figures of one machine; the benchmark asserts none." % (
            env["date"], env["commit"], env["load0"], env["load1"]),
        "",
        "Each server alone on a fake root of N vfio-pci functions (`bench/gen-dp-root.py`), one "
        "ListAndWatch stream open, nothing changing: `hostdev serve --resource example.com/nic "
        "--pci-device 8086:10d3 --registration none` at its defaults (health by events: the "
        "`/dev/vfio` watch re-checks only the groups it names, uevents re-read only their device, a "
        "full re-read every %d hours as the safety net and at once after lost events) and the grpc-go "
        "plugin of bench/dp-goplugin (inotify on the group nodes, answers from memory). After the "
        "first list and %d s of settling, CPU over a %d s idle window, scaled to a minute: "
        "schedstat (all threads, ns) and utime+stime (clock ticks of 10 ms: 0 means under one "
        "tick). Then one event: a device's group node removed, then re-created, each until the list "
        "shows it (ms), and the server's CPU for the pair. Longest dispatch: the longest round of "
        "`hostdev serve`'s loop over the whole run (start-up, the first list to the stream, the "
        "event), from its debug log at exit: wall time (a busy machine's preemptions included) and the "
        "most CPU time the loop's thread spent in one round (what the code itself holds the loop for)." % (
            RESYNC_HOURS, args.settle, args.window),
        "",
        "| devices | server | idle CPU ms/min (schedstat) | idle CPU ms/min (ticks) | lists at idle | "
        "RSS MiB | peak RSS MiB | threads | event: unhealthy / healthy ms | event CPU ms | "
        "longest dispatch ms, wall / CPU |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ] + rows + [
        "",
        "Ratios `hostdev serve` / grpc-go (below 1: libhostdev uses less):",
    ] + ratios + [
        "",
        "The safety-net re-read (every %d hours) is not in the window: one full read of every device "
        "costs about %s ms of CPU at 1,000 devices and %s ms at 10,000 (a server re-reading every 5 s, "
        "the former default, measured the same way: %s and %s ms per idle minute), so averaged over "
        "its interval it adds %s and %s ms per minute." % (
            RESYNC_HOURS, env.get("full_1k", "n/a"), env.get("full_10k", "n/a"), env.get("old_1k", "n/a"),
            env.get("old_10k", "n/a"), env.get("hour_1k", "n/a"), env.get("hour_10k", "n/a")),
        "",
        "Reproduce: `bench/dp_idle.py --hostdev build/examples/cli/hostdev --goplugin "
        "bench/out/dp/dp-goplugin` (bench/run-dp.sh builds the Go plugin; the roots are kept in "
        "bench/out/dp-idle, about 1.4 GB for 10,000 functions).",
        END,
    ])


def old_default(args, n, root, work):
    """CPU per minute of `hostdev serve --refresh 5000` (the former default) over the window."""
    kubelet = tempfile.mkdtemp(prefix="dp-idle-kubelet.", dir=work)
    os.makedirs(os.path.join(kubelet, "device-plugins"))
    sock = os.path.join(kubelet, "device-plugins", "example.com_nic.sock")
    proc = subprocess.Popen([args.hostdev, "--root", root, "serve", "--resource", RESOURCE,
                             "--pci-device", VENDOR_DEVICE, "--registration", "none",
                             "--kubelet-dir", kubelet, "--refresh", "5000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        dp_bench.wait_socket(sock, proc.pid, 300)
        watch = dp_bench.Watch(sock)
        i, _ = watch.wait(lambda s: len(s) == n, 0, 300)
        if i is None:
            raise RuntimeError("--refresh 5000: no first list")
        time.sleep(args.settle)
        ns0 = schedstat_ns(proc.pid)
        time.sleep(args.window)
        per_min = (schedstat_ns(proc.pid) - ns0) / 1e6 * 60.0 / args.window
        watch.close()
        return per_min
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(kubelet, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hostdev", required=True)
    ap.add_argument("--goplugin", required=True)
    ap.add_argument("--sizes", default="1000 10000")
    ap.add_argument("--window", type=float, default=60.0, help="idle window, seconds (default 60)")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds after the first list (default 5)")
    ap.add_argument("--cache", default=os.path.join(HERE, "out", "dp-idle"))
    ap.add_argument("--proto-dir", default=os.path.join(TOP, "src", "deviceplugin", "proto"))
    ap.add_argument("--doc", default=os.path.join(TOP, "docs", "performance.md"), help="'-': print only")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--no-old", action="store_true", help="skip the --refresh 5000 runs")
    ap.add_argument("--before-json", help="--json of a run on the former binary: its rows are shown too")
    ap.add_argument("--before-commit", default="?", help="the commit the --before-json binary was built from")
    args = ap.parse_args()
    dp_bench.load_protos(args.proto_dir)
    os.makedirs(args.cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="dp-idle.")
    env = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load0": " ".join(open("/proc/loadavg").read().split()[:3])}
    results = []
    if args.before_json:
        # A run of this script on the former binary (its defaults), kept as the "before" rows.
        with open(args.before_json) as f:
            for r in json.load(f)["results"]:
                if r["server"] == "hostdev":
                    r["server"], r["commit"] = "hostdev-before", args.before_commit
                    results.append(r)
                    n = r["devices"]
                    key = "1k" if n == 1000 else "10k" if n == 10000 else str(n)
                    per_min = r["idle_cpu_ms_per_min"]
                    env["old_" + key] = "%.0f" % per_min
                    env["full_" + key] = "%.0f" % (per_min / 12.0)
                    env["hour_" + key] = "%.2f" % (per_min / 12.0 / 60.0 / RESYNC_HOURS)
    try:
        for n in [int(x) for x in args.sizes.split()]:
            root, manifest, devices = make_root(args.cache, n)
            for label in ("hostdev", "go"):
                print("dp_idle: %d devices, %s" % (n, label), file=sys.stderr)
                results.append(run_one(args, label, n, root, manifest, devices, work))
                print(json.dumps(results[-1]), file=sys.stderr)
            if not args.no_old:
                key = "1k" if n == 1000 else "10k" if n == 10000 else str(n)
                per_min = old_default(args, n, root, work)
                env["old_" + key] = "%.0f" % per_min
                env["full_" + key] = "%.0f" % (per_min / 12.0)
                env["hour_" + key] = "%.2f" % (per_min / 12.0 / 60.0 / RESYNC_HOURS)
                print("dp_idle: %d devices, --refresh 5000: %.1f ms/min" % (n, per_min), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    env["load1"] = " ".join(open("/proc/loadavg").read().split()[:3])
    commit = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--", "src", "plugins", "examples/cli",
                            "include"], capture_output=True, text=True).stdout.strip()
    env["commit"] = commit + (" + uncommitted changes" if dirty else "")
    text = section(args, results, env)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "env": env}, f, indent=1)
    if args.doc == "-":
        print(text)
        return
    with open(args.doc) as f:
        doc = f.read()
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        marker = "<!-- dp-bench:end -->"
        at = doc.index(marker) + len(marker) if marker in doc else len(doc)
        doc = doc[:at] + "\n\n" + text + doc[at:]
    with open(args.doc, "w") as f:
        f.write(doc)
    print("dp_idle: wrote %s" % args.doc, file=sys.stderr)


if __name__ == "__main__":
    main()
