#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The report of bench/run-dp.sh: checks the results of bench/dp_bench.py, prints the table and
writes the "Device-plugin serving" section of docs/performance.md.

    dp_report.py DOC|- RESULT.json...

The section sits between the markers <!-- dp-bench:begin --> and <!-- dp-bench:end -->: replaced
when present, appended otherwise; the rest of DOC (bench/run.sh's part) is kept as it is. Machine
facts come from DP_* environment variables set by run-dp.sh. Results of bench/dp_syscalls.py
("kind": "syscalls") make the table of system calls per Allocate. Fails when a result lacks a
figure or when the servers' Allocate answers for the same device differ (the comparison would not
be like for like). Never asserts a speed.
"""
import json
import math
import os
import sys

BEGIN = "<!-- dp-bench:begin: written by bench/run-dp.sh, do not edit by hand -->"
END = "<!-- dp-bench:end -->"
ORDER = ["serve", "api", "go", "go-poll", "fixed"]
# Servers measured for Allocate only (no health updates): the floor.
ALLOCATE_ONLY = {"fixed"}


def env(name, default="?"):
    return os.environ.get(name, default)


def describe(label):
    r = env("DP_REFRESH")
    return {
        "serve": "`hostdev serve` (defaults: health by events)",
        "api": "libhostdev API + inotify",
        "go": "grpc-go + inotify",
        "go-poll": "grpc-go, poll %s ms" % r,
        "fixed": "floor: libhostdev gRPC, fixed reply",
    }.get(label, label)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (as bench/dp_bench.py)."""
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summary_us(samples_ns):
    s = sorted(samples_ns)
    if not s:
        return {}
    return {"n": len(s), "p50_us": percentile(s, 50) / 1e3, "p90_us": percentile(s, 90) / 1e3,
            "p99_us": percentile(s, 99) / 1e3, "min_us": s[0] / 1e3, "max_us": s[-1] / 1e3,
            "mean_us": sum(s) / len(s) / 1e3}


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2.0


def pool(rounds):
    """One result from the rounds of one server and size: samples pooled, calls/s and CPU per call
    over all rounds, memory at rest and after as medians, the peak as the maximum."""
    first = rounds[0]
    raws = [r["raw"] for r in rounds]
    out = {"label": first["label"], "devices": first["devices"], "rounds": len(rounds),
           "answer": first["answer"]}
    for r in rounds[1:]:
        if r["answer"] != first["answer"]:
            sys.exit("dp_report: %s answered Allocate differently between rounds" % first["label"])
    for key, prefix in (("allocate", "allocate"), ("allocate_concurrent", "concurrent")):
        if all(prefix + "_ns" in x for x in raws):
            samples = [v for x in raws for v in x[prefix + "_ns"]]
            fig = summary_us(samples)
            if fig:
                wall = sum(x[prefix + "_wall_s"] for x in raws)
                fig["calls_per_s"] = len(samples) / wall if wall else 0
                fig["server_cpu_us_per_call"] = sum(x[prefix + "_cpu_s"] for x in raws) / len(samples) * 1e6
                out[key] = fig
    if all("update_unhealthy_ns" in x for x in raws):
        down = [v for x in raws for v in x["update_unhealthy_ns"]]
        up = [v for x in raws for v in x["update_healthy_ns"]]
        out["update_unhealthy"] = summary_us(down)
        out["update_healthy"] = summary_us(up)
        out["update_all"] = summary_us(down + up)
        changes = sum(x["update_changes"] for x in raws)
        out["update_lists_per_change"] = sum(x["update_lists"] for x in raws) / changes if changes else 0
    out["first_list_ms"] = median([r["first_list_ms"] for r in rounds])
    out["rss_start_kib"] = median([r["rss_start_kib"] for r in rounds])
    out["rss_end_kib"] = median([r["rss_end_kib"] for r in rounds])
    out["hwm_kib"] = max(r["hwm_kib"] for r in rounds)
    out["threads_start"] = max(r["threads_start"] for r in rounds)
    out["threads_end"] = max(r["threads_end"] for r in rounds)
    return out


def by_name(counts):
    """"read 2.00, futex 1.50, ..." of the calls made at least once per 100 Allocate calls."""
    shown = sorted(((k, v) for k, v in counts.items() if v >= 0.01), key=lambda kv: (-kv[1], kv[0]))
    rest = sum(v for v in counts.values() if v < 0.01)
    return ", ".join("%s %.2f" % kv for kv in shown) + (", others %.2f" % rest if rest else "")


def check(res, concurrent):
    """Names of the figures @res lacks."""
    need = [("allocate", "p50_us"), ("allocate", "p99_us"), ("allocate", "calls_per_s"),
            (None, "rss_start_kib"), (None, "rss_end_kib"), (None, "hwm_kib"),
            (None, "first_list_ms")]
    if res["label"] not in ALLOCATE_ONLY:
        need += [("update_all", "p50_us"), ("update_all", "p99_us"), ("update_unhealthy", "p50_us"),
                 ("update_healthy", "p50_us"), (None, "update_lists_per_change")]
    if concurrent:
        need += [("allocate_concurrent", "p50_us"), ("allocate_concurrent", "p99_us"),
                 ("allocate_concurrent", "calls_per_s")]
    missing = []
    for group, key in need:
        v = res.get(group, {}).get(key) if group else res.get(key)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            missing.append("%s.%s=%r" % (group, key, v) if group else "%s=%r" % (key, v))
    return missing


def main():
    doc, files = sys.argv[1], sys.argv[2:]
    groups = {}
    syscalls = []
    for f in files:
        r = json.load(open(f))
        if r.get("kind") == "syscalls":
            syscalls.append(r)
            continue
        groups.setdefault((r["label"], r["devices"]), []).append(r)
    if not groups:
        sys.exit("dp_report: no results")
    results = [pool(g) for g in groups.values()]
    concurrent = int(env("DP_CONC", "0")) > 0
    bad = []
    for r in results:
        missing = check(r, concurrent)
        if missing:
            bad.append("%s (%d devices): %s" % (r["label"], r["devices"], ", ".join(missing)))
    counted = {r["label"] for r in syscalls if r.get("syscalls_per_call", 0) > 0}
    for label in ("serve", "api", "go"):
        if label not in counted:
            bad.append("%s: no system calls per Allocate" % label)
    if bad:
        sys.exit("dp_report: figures missing:\n  " + "\n  ".join(bad))
    sizes = sorted({r["devices"] for r in results})
    for n in sizes:
        answers = {r["label"]: r["answer"] for r in results if r["devices"] == n}
        ref = answers.get("serve") or next(iter(answers.values()))
        differ = {k: v for k, v in answers.items() if v != ref}
        if differ:
            sys.exit("dp_report: %d devices: the Allocate answers differ (not like for like):\n%s" %
                     (n, json.dumps(answers, indent=1, sort_keys=True)))

    results.sort(key=lambda r: (r["devices"], ORDER.index(r["label"]) if r["label"] in ORDER else 99))
    mib = lambda kib: "%.1f" % (kib / 1024.0)
    head = ("| devices | server | Allocate p50 µs | Allocate p99 µs | Allocate calls/s | server CPU µs/Allocate "
            "| %s concurrent p50 µs | p99 µs | calls/s | update p50 ms | update p99 ms | lists/change "
            "| first list ms | RSS idle MiB | RSS after MiB | peak RSS MiB | threads |\n"
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" %
            env("DP_CONC"))
    rows = []
    for r in results:
        a, c, u = r["allocate"], r.get("allocate_concurrent", {}), r.get("update_all", {})
        rows.append("| %d | %s | %.0f | %.0f | %.0f | %.1f | %s | %s | %s | %s | %s | %s | %.2f | %s | %s | %s | %s |" % (
            r["devices"], describe(r["label"]), a["p50_us"], a["p99_us"], a["calls_per_s"],
            a["server_cpu_us_per_call"],
            "%.0f" % c["p50_us"] if c else "-", "%.0f" % c["p99_us"] if c else "-",
            "%.0f" % c["calls_per_s"] if c else "-",
            "%.2f" % (u["p50_us"] / 1e3) if u else "-", "%.2f" % (u["p99_us"] / 1e3) if u else "-",
            "%.2f" % r["update_lists_per_change"] if u else "-", r["first_list_ms"],
            mib(r["rss_start_kib"]), mib(r["rss_end_kib"]), mib(r["hwm_kib"]),
            "%d/%d" % (r["threads_start"], r["threads_end"])))
    table = head + "\n" + "\n".join(rows)
    print(table)
    ratios = []
    for n in sizes:
        by = {r["label"]: r for r in results if r["devices"] == n}
        if not all(k in by for k in ("serve", "api", "go", "go-poll")):
            continue
        q = lambda a, b: "%.2f" % (a / b) if b else "-"
        s, api, go, gp = by["serve"], by["api"], by["go"], by["go-poll"]
        ratios.append(
            "- %d device%s: Allocate p50 %s, p99 %s; server CPU per Allocate %s; update p50 %s (API + inotify / "
            "grpc-go + inotify), %s (`hostdev serve` / grpc-go polling); RSS after the runs %s, peak %s." % (
                n, "" if n == 1 else "s", q(s["allocate"]["p50_us"], go["allocate"]["p50_us"]),
                q(s["allocate"]["p99_us"], go["allocate"]["p99_us"]),
                q(s["allocate"]["server_cpu_us_per_call"], go["allocate"]["server_cpu_us_per_call"]),
                q(api["update_all"]["p50_us"], go["update_all"]["p50_us"]),
                q(s["update_all"]["p50_us"], gp["update_all"]["p50_us"]),
                q(s["rss_end_kib"], go["rss_end_kib"]), q(s["hwm_kib"], go["hwm_kib"])))
        if "fixed" in by:
            # The client's own cost and the transport's: no server answers faster than this one.
            f = by["fixed"]
            ratios.append(
                "- %d device%s, the floor (fixed reply / grpc-go): Allocate p50 %s, p99 %s, the lowest "
                "latency ratios any server could reach with this client; `hostdev serve` above the "
                "floor: p50 %+.0f µs, p99 %+.0f µs (grpc-go: %+.0f µs, %+.0f µs); server CPU per "
                "Allocate of the floor %.1f µs." % (
                    n, "" if n == 1 else "s", q(f["allocate"]["p50_us"], go["allocate"]["p50_us"]),
                    q(f["allocate"]["p99_us"], go["allocate"]["p99_us"]),
                    s["allocate"]["p50_us"] - f["allocate"]["p50_us"],
                    s["allocate"]["p99_us"] - f["allocate"]["p99_us"],
                    go["allocate"]["p50_us"] - f["allocate"]["p50_us"],
                    go["allocate"]["p99_us"] - f["allocate"]["p99_us"],
                    f["allocate"]["server_cpu_us_per_call"]))
    syscalls.sort(key=lambda r: ORDER.index(r["label"]) if r["label"] in ORDER else 99)
    sys_labels = {"serve": "`hostdev serve`, refresh -1 (events only)"}
    sys_table = ("| server | system calls/Allocate | socket writes/Allocate | file calls/Allocate "
                 "| opens/Allocate | by name, per Allocate |\n|---|---:|---:|---:|---:|---|\n" +
                 "\n".join("| %s | %.2f | %.2f | %.2f | %.2f | %s |" % (
                     sys_labels.get(r["label"], describe(r["label"])), r["syscalls_per_call"],
                     r["socket_writes_per_call"], r["file_calls_per_call"], r["opens_per_call"],
                     by_name(r["by_name"]))
                     for r in syscalls))
    print(sys_table)
    by_sys = {r["label"]: r for r in syscalls}
    if "serve" in by_sys and "go" in by_sys:
        s, go = by_sys["serve"], by_sys["go"]
        ratios.append("- System calls per Allocate of 2 devices: %.2f (`hostdev serve`), %.2f "
                      "(API), %.2f (grpc-go); ratio `hostdev serve` / grpc-go %.2f (target: 10 or "
                      "fewer, one write per reply)." % (
                          s["syscalls_per_call"], by_sys.get("api", {}).get("syscalls_per_call",
                                                                             float("nan")),
                          go["syscalls_per_call"], s["syscalls_per_call"] / go["syscalls_per_call"]))
    ratios = "\n".join(ratios) if ratios else "- (not every server ran)"
    print("Ratios libhostdev / grpc-go:\n" + ratios)
    first = next(r for r in results if r["devices"] == sizes[0])
    answer = first["answer"]
    if doc == "-":
        return

    refresh = env("DP_REFRESH")
    section = """%(begin)s
## Device-plugin serving: `hostdev serve` against a minimal grpc-go plugin

Generated by `bench/run-dp.sh` on %(date)s (libhostdev commit %(commit)s). Do not edit by hand: run
the command below again. The figures describe one machine; the benchmark never asserts a speed.

### What is measured
Five servers, one at a time, serve one resource `example.com/nic` made of the same N vfio-pci
functions of a fake root (`bench/gen-dp-root.py`: Intel 82574L [8086:10d3], one IOMMU group each,
NUMA node 0/1 alternately, `/dev/vfio/<group>` as regular files), without registration:

- **`hostdev serve` (defaults: health by events)**: the CLI as shipped, at its defaults (`hostdev
  --root ROOT serve --resource example.com/nic --pci-device 8086:10d3 --registration none
  --kubelet-dir DIR`). Its built-in plugin watches `ROOT/dev/vfio` with inotify and re-checks only
  the devices of the groups an event names (a removed group node makes no uevent); a uevent re-reads
  only its device; a full re-read runs every hour (the safety net) and at once after lost events
  (docs/device-plugin.md, "Health by event"). Nothing polls, so its server CPU per Allocate is the
  calls' own.
- **libhostdev API + inotify**: `bench/dp_bench_server.c`, the same built-in vfio PCI plugin through
  the public API (`hostdev_dp_server_new_builtin`, loop on its own thread) in a program that watches
  `ROOT/dev/vfio` with inotify and calls `hostdev_dp_server_refresh()` on each event.
- **grpc-go + inotify**: `bench/dp-goplugin`, a minimal plugin the way a typical Go plugin is written
  (grpc-go server, a goroutine per ListAndWatch stream, health from the group nodes watched with
  inotify like KubeVirt's PCI plugin, Allocate answered from memory), built offline from Debian's
  golang-google-grpc-dev and golang-google-protobuf-dev (messages hand-encoded with protowire, a
  raw-bytes codec: no protoc-gen-go in Debian; that costs no more than generated code would).
- **grpc-go, poll %(refresh)s ms**: the same plugin re-checking the group nodes every %(refresh)s ms
  instead, the baseline of a plugin that polls.
- **floor: libhostdev gRPC, fixed reply**: `bench/dp_bench_server.c --fixed`, the library's server
  with a plugin of its own that answers every Allocate with one fixed reply (the built-in plugin's
  answer for the first device) and never changes health. The client's cost and the transport's
  are the same for every server and bound the latency ratios from below: this server measures
  them (Allocate only; no update figures).

Every server answers Allocate of one device with the same container response (checked):
`%(env)s` and the device nodes %(nodes)s. libhostdev's vfio PCI plugin answers from what its last
list saw (lists follow events: hot-plug uevents, the `/dev/vfio` watch, the refresh interval),
after one readlink per device that proves it is still bound to vfio-pci in the same IOMMU group,
and one `access()` of `/dev/vfio/<group>`; a device that fails the check is read again from sysfs.
The Go plugin answers from its in-memory table.

The client is `bench/dp_bench.py` (Debian's python3-grpcio %(grpcio)s) on the same machine, one
connection for the calls like the kubelet and one for the ListAndWatch stream. Each server runs
%(rounds)s times, a fresh process each time, in turns with the others (so that other load on the
machine spreads over all of them), and the samples of its rounds are pooled. Per round:
- Allocate: %(calls)s sequential calls of one device each (rotating over the devices) after a warm-up,
  then %(calls)s calls from %(conc)s threads sharing the connection. Latency is the client's
  round trip, so it includes grpcio's own cost (the same for every server) and, on a quiet
  machine, the wake-ups of two processes that take turns (a busy machine can show shorter round
  trips); server CPU is the server's utime+stime over the sequential calls divided by their number
  (clock-tick resolution), the figure that separates the servers best. The concurrent run is bound
  by the one Python client process (similar calls/s for every server): it shows that calls do not
  queue behind each other, not a server's throughput.
- ListAndWatch update: %(updates)s times, a random device's group node is removed and then
  re-created; a sample is the time from the unlink()/create to the arrival of the list that shows
  the new health (both directions pooled). Before each change the client waits a random 0 to
  %(refresh)s ms when the server polls, so that every phase of the interval is sampled (expect about
  half the interval at p50). lists/change: lists received per change (1.00 = exactly one push each).
- first list: ListAndWatch opened to the first list. Memory: VmRSS from /proc/PID/status before the
  first call (idle) and after the round, medians of the rounds, and VmHWM (peak, the largest);
  threads idle/after.
- System calls: each server once more, alone, on a root of 4 devices, polling nothing (`hostdev
  serve --refresh -1`: events only) and with no ListAndWatch stream open; `bench/dp_syscalls.py`
  attaches `strace -f -c` to every thread of it, makes %(syscall_calls)s sequential Allocate calls of
  2 devices, detaches, and divides. The totals include the server's wake-ups for the client's
  frames (grpcio may send a PING or WINDOW_UPDATE of its own now and then); socket writes are the
  write/send family; file calls are opens, closes, readlinks, access and stat calls.

### Figures

%(table)s

System calls per Allocate of 2 devices:

%(sys_table)s

Ratios libhostdev / grpc-go (below 1: libhostdev is faster or smaller; `hostdev serve` against
grpc-go + inotify unless said otherwise):
%(ratios)s

### Machine
- CPU: %(cpu)s, %(ncpu)s online CPUs; memory: %(mem)s; kernel %(kernel)s. Load average (1, 5, 15
  min) when the run started: %(load)s; when it ended: %(load_end)s. Other work on the machine
  shows in the tails (p99) more than in the medians.
- %(go)s, golang-google-grpc-dev %(grpcgo)s, golang-google-protobuf-dev %(protobufgo)s;
  python3-grpcio %(grpcio)s; libnghttp2-14 %(nghttp2)s, libprotobuf-c1 %(protobufc)s.
- hostdev: %(hostdev)s.

### Reproduce
```sh
sh tests/install-deps.sh      # golang-go, golang-google-grpc-dev, python3-grpcio, ... (tests/deps/*.txt)
cmake -S . -B build && cmake --build build -j2
DP_BENCH_SIZES="%(sizes)s" DP_BENCH_ROUNDS=%(rounds)s sh bench/run-dp.sh build/examples/cli/hostdev
```
`bench/run-dp.sh --smoke` (ctest `bench-dp-smoke`, label bench) runs a few iterations on a small root
and only checks that every figure is produced and that the libhostdev servers open no file while
answering Allocate.
%(end)s
""" % {
        "begin": BEGIN, "end": END, "date": env("DP_DATE"), "commit": env("DP_COMMIT"), "refresh": refresh,
        "env": ", ".join("%s=%s" % kv for kv in answer["envs"].items()),
        "nodes": ", ".join("`%s` (%s)" % (d[1], d[2]) for d in answer["devices"]),
        "grpcio": env("DP_GRPCIO"), "calls": env("DP_CALLS"), "conc": env("DP_CONC"),
        "updates": env("DP_UPDATES"), "rounds": env("DP_ROUNDS"), "table": table, "sys_table": sys_table, "syscall_calls": env("DP_SYSCALL_CALLS"), "ratios": ratios, "cpu": env("DP_CPU"), "ncpu": env("DP_NCPU"),
        "mem": env("DP_MEM"), "kernel": env("DP_KERNEL"), "load": env("DP_LOAD"), "load_end": env("DP_LOAD_END"), "go": env("DP_GO"),
        "grpcgo": env("DP_GRPC_GO"), "protobufgo": env("DP_PROTOBUF_GO"), "nghttp2": env("DP_NGHTTP2"),
        "protobufc": env("DP_PROTOBUF_C"), "hostdev": env("DP_HOSTDEV"), "sizes": env("DP_SIZES"),
    }
    text = open(doc).read() if os.path.exists(doc) else ""
    b, e = text.find(BEGIN), text.find(END)
    if b >= 0 and e > b:
        text = text[:b] + section.rstrip("\n") + text[e + len(END):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    if not text.endswith("\n"):
        text += "\n"
    with open(doc + ".tmp", "w") as f:
        f.write(text)
    os.replace(doc + ".tmp", doc)
    print("bench: wrote the device-plugin section of %s" % doc)


if __name__ == "__main__":
    main()
