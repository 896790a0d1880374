#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Device-plugin serving under large and slow work: what one client sees of the loop while the
server does something long, and how the cost of big requests and configs grows. Prints a table
and writes the "Loop stalls and request sizes" section of docs/performance.md. It never asserts
a speed.

    bench/dp_scale.py [--hostdev BIN] [--test-plugin BIN] [--devices N] [--calls N] [--doc FILE|-]

1. Allocate during refreshes: `hostdev serve` with the vfio PCI plugin on a fake root of N
   devices (bench/gen-dp-root.py), refresh off (-1) and every 50 ms (each refresh re-reads all N
   devices); one grpcio client makes --calls sequential Allocate calls of one device on one
   connection. p50 / p99 / max latency: a refresh on the loop's thread holds every call behind
   it (p99 and max grow with N); off the loop it does not.
2. GetPreferredAllocation of n ids (n = 15000, 30000) on build/tests/deviceplugin/
   dp_test_plugin --generate n (the server's checks and the answer; the test plugin's policy is
   trivial): median of 5 calls. Time ratio 30000/15000: 2 when linear, 4 when quadratic.
3. Config: `hostdev permitted --config` on configs of n = 15000 and 30000 explicit resources (a
   name repeated at the end, found at parse time) and of one object with n = 60000 and 120000
   keys (a repeated key at the end; smaller ones take as long as starting the program): median
   of 3 runs each, ratio.

Needs /usr/bin/python3 with python3-grpcio and python3-grpc-tools (tests/deps/bench.txt).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dp_bench  # noqa: E402  (protos, percentiles)

BEGIN = "<!-- dp-scale:begin: written by bench/dp_scale.py, do not edit by hand -->"
END = "<!-- dp-scale:end -->"


def wait_socket(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("bench: the server did not start (exit %s)" % proc.poll())
        time.sleep(0.01)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def allocate_latencies(hostdev, root, refresh, calls):
    kubelet = os.path.join(root, "kubelet")
    os.makedirs(os.path.join(kubelet, "device-plugins"), exist_ok=True)
    sock = os.path.join(kubelet, "device-plugins", "example.com_nic.sock")
    log = open(os.path.join(root, "serve-%d.log" % refresh), "w")
    proc = subprocess.Popen([hostdev, "--root", root, "serve", "--registration", "none",
                             "--kubelet-dir", kubelet, "--resource", "example.com/nic",
                             "--pci-device", "8086:10d3", "--refresh", str(refresh)],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_socket(sock, proc)
        ch = dp_bench.channel_to(sock)
        stub = dp_bench.svc.DevicePluginStub(ch)
        ids = ["0000:%02x:00.0" % (1 + i % 200) for i in range(calls)]
        for i in range(50):  # warm-up
            stub.Allocate(dp_bench.pb.AllocateRequest(container_requests=[
                dp_bench.pb.ContainerAllocateRequest(devices_ids=[ids[i]])]), timeout=60)
        samples = []
        for i in range(calls):
            req = dp_bench.pb.AllocateRequest(container_requests=[
                dp_bench.pb.ContainerAllocateRequest(devices_ids=[ids[i]])])
            t0 = time.perf_counter_ns()
            stub.Allocate(req, timeout=60)
            samples.append(time.perf_counter_ns() - t0)
        ch.close()
        return dp_bench.summary_us(samples)
    finally:
        stop(proc)
        log.close()


def preferred_time(plugin, n, work):
    root = tempfile.mkdtemp(prefix="dp-scale-", dir=work)
    os.makedirs(os.path.join(root, "device-plugins"))
    fifo = os.path.join(root, "control")
    os.mkfifo(fifo)
    proc = subprocess.Popen([plugin, "--kubelet-dir", root, "--resource", "example.com/dev",
                             "--control", fifo, "--mode", "none", "--generate", str(n)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit("bench: dp_test_plugin did not start")
        ch = dp_bench.channel_to(line.split(" ", 1)[1].strip())
        stub = dp_bench.svc.DevicePluginStub(ch)
        ids = ["dev-%d" % i for i in range(n)]
        req = dp_bench.pb.PreferredAllocationRequest(container_requests=[
            dp_bench.pb.ContainerPreferredAllocationRequest(available_deviceIDs=ids,
                                                            allocation_size=8)])
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            stub.GetPreferredAllocation(req, timeout=600)
            times.append(time.perf_counter() - t0)
        ch.close()
        return sorted(times)[len(times) // 2]
    finally:
        with open(fifo, "w") as f:
            f.write("quit\n")
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def config_time(hostdev, text, work):
    root = tempfile.mkdtemp(prefix="dp-scale-", dir=work)
    for d in ("sys/bus/pci/devices", "sys/bus/usb/devices", "dev"):
        os.makedirs(os.path.join(root, d))
    path = os.path.join(root, "config.json")
    with open(path, "w") as f:
        f.write(text)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([hostdev, "--root", root, "permitted", "--config", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    shutil.rmtree(root, ignore_errors=True)
    return sorted(times)[1]


def resources_config(n):
    items = ['{"kind": "usb", "resourceName": "example.com/r%d", "selectors": {"serial": ["a"]}}'
             % i for i in range(n)]
    items.append(items[-1])
    return '{"resources": [%s]}' % ", ".join(items)


def keys_config(n):
    keys = ['"k%d": 0' % i for i in range(n)] + ['"k%d": 1' % (n - 1)]
    return '{%s}' % ", ".join(keys)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hostdev", default=os.path.join(TOP, "build/examples/cli/hostdev"))
    ap.add_argument("--test-plugin",
                    default=os.path.join(TOP, "build/tests/deviceplugin/dp_test_plugin"))
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--doc", default=os.path.join(TOP, "docs/performance.md"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dp-scale-")
    protos = os.path.join(work, "protos")
    os.makedirs(protos)
    dp_bench.compile_protos(os.path.join(TOP, "src/deviceplugin/proto"), protos)
    dp_bench.load_protos(None, protos)
    fig = {"devices": args.devices, "calls": args.calls}
    try:
        root = os.path.join(work, "root")
        subprocess.run([sys.executable, os.path.join(HERE, "gen-dp-root.py"), "--devices",
                        str(args.devices), root], check=True, stdout=subprocess.DEVNULL)
        fig["allocate_no_refresh"] = allocate_latencies(args.hostdev, root, -1, args.calls)
        fig["allocate_refresh_50ms"] = allocate_latencies(args.hostdev, root, 50, args.calls)
        fig["preferred_s"] = {n: preferred_time(args.test_plugin, n, work)
                              for n in (15000, 30000)}
        fig["config_resources_s"] = {n: config_time(args.hostdev, resources_config(n), work)
                                     for n in (15000, 30000)}
        fig["config_keys_s"] = {n: config_time(args.hostdev, keys_config(n), work)
                                for n in (60000, 120000)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(fig, args.doc)


def report(fig, doc):
    a0, a1 = fig["allocate_no_refresh"], fig["allocate_refresh_50ms"]
    p, cr, ck = fig["preferred_s"], fig["config_resources_s"], fig["config_keys_s"]
    rows = [
        "| Allocate, %d devices, refresh off | %.0f | %.0f | %.0f |" % (
            fig["devices"], a0["p50_us"], a0["p99_us"], a0["max_us"]),
        "| Allocate, %d devices, refresh every 50 ms | %.0f | %.0f | %.0f |" % (
            fig["devices"], a1["p50_us"], a1["p99_us"], a1["max_us"]),
    ]
    table = ("| calls (%d, sequential, one connection) | p50 us | p99 us | max us |\n"
             "|---|---:|---:|---:|\n" % fig["calls"]) + "\n".join(rows)
    sizes = ("| work | n | time, s | 2n | time, s | ratio (2 when linear, 4 when quadratic) |\n"
             "|---|---:|---:|---:|---:|---:|\n"
             "| GetPreferredAllocation of n ids | 15000 | %.3f | 30000 | %.3f | %.2f |\n"
             "| config of n resources | 15000 | %.3f | 30000 | %.3f | %.2f |\n"
             "| config with n keys in one object | 60000 | %.3f | 120000 | %.3f | %.2f |" % (
                 p[15000], p[30000], p[30000] / p[15000],
                 cr[15000], cr[30000], cr[30000] / cr[15000],
                 ck[60000], ck[120000], ck[120000] / ck[60000]))
    print(table)
    print()
    print(sizes)
    print(json.dumps(fig, indent=1, default=str))
    if doc == "-":
        return
    commit = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    section = """%s
## Loop stalls and request sizes

Generated by `bench/dp_scale.py` on %s (libhostdev commit %s, load average at the end %s). Do not
edit by hand.

Allocate latency seen by one client while the server re-reads all %d devices of its resource every
50 ms (`hostdev serve --refresh 50`, the vfio PCI plugin on a fake root of bench/gen-dp-root.py),
against the same server without refreshes. The built-in plugins read the devices on the loop's
worker thread (HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP), so a refresh does not hold the calls behind it;
before that change it ran on the loop's thread (issue 12 measured p99 158 ms, max 429 ms with 1000
devices). On a loaded machine the maximum also shows the scheduler: the loop is one thread among
the machine's.

%s

Cost of large requests and configs; a ratio near 2 for twice the size means linear time (the
server used to compare every id and every key with every other: 17 s for GetPreferredAllocation
of 30 000 ids, 11 s for a config of 30 000 keys). GetPreferredAllocation asks dp_test_plugin
(`--generate n`) for 8 of n available ids; configs go through `hostdev permitted` (parse, and for
resources also the resolution on an empty host), which fails on the repeated name or key at the
end.

%s
%s
""" % (BEGIN, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit,
       " ".join("%.2f" % x for x in os.getloadavg()), fig["devices"], table, sizes, END)
    text = open(doc).read() if os.path.exists(doc) else ""
    b, e = text.find(BEGIN), text.find(END)
    if b >= 0 and e > b:
        text = text[:b] + section.rstrip("\n") + text[e + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    if not text.endswith("\n"):
        text += "\n"
    with open(doc + ".tmp", "w") as f:
        f.write(text)
    os.replace(doc + ".tmp", doc)
    print("bench: wrote the loop stalls section of %s" % doc)


if __name__ == "__main__":
    main()
