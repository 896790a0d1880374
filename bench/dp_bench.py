#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Measure one kubelet device plugin from a Python grpcio client (Debian's python3-grpcio): Allocate
latency, ListAndWatch update latency and the server's memory. Used by bench/run-dp.sh.

    dp_bench.py --socket PATH --root FAKEROOT --manifest FILE --pid PID [options]

The plugin serves the devices of FAKEROOT (bench/gen-dp-root.py: a device is healthy while
FAKEROOT/dev/vfio/<group> exists) on PATH; PID is the server process (memory from /proc/PID/status,
CPU time from /proc/PID/stat). Steps, one client process, one connection for the calls like the
kubelet (plus one for the stream):

1. memory at rest (VmRSS before any call);
2. ListAndWatch is opened: time to the first list, which must list every device Healthy;
3. Allocate, sequential: --allocate calls of one device each (rotating over the devices) after
   --warmup calls; the answer of the first one is kept (env, device nodes) for comparison;
4. Allocate, concurrent: --concurrency threads sharing the connection, --allocate calls in all;
5. ListAndWatch updates: --updates times, a device's group node is removed, then re-created; the
   time from the unlink()/create to the arrival of the list that shows the device Unhealthy (then
   Healthy again) is one sample. Each change waits a random 0..--jitter-ms first, so that a server
   that polls is sampled at every phase of its interval;
6. memory after the runs (VmRSS, and the peak VmHWM).

Prints one JSON object of figures (written to --json with the raw samples too). Protos are compiled from --proto-dir
(src/deviceplugin/proto) with grpc_tools.protoc (python3-grpc-tools) into a temporary directory, or once with
`dp_bench.py --compile-protos PROTO_DIR OUTDIR` and then given as --protos-compiled OUTDIR.
Exits non-zero when the plugin misbehaves (wrong list, failed call, no update within --timeout).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
pb = svc = None


def compile_protos(proto_dir, out):
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir, "--python_out", out,
                    "--grpc_python_out", out, "deviceplugin_v1beta1.proto",
                    "deviceplugin_v1beta1_service.proto"], check=True)


def load_protos(proto_dir, compiled=None):
    """Import the modules from @compiled (made by --compile-protos), else compile them first."""
    global pb, svc
    out = compiled or tempfile.mkdtemp(prefix="dp-bench-protos.")
    try:
        if not compiled:
            compile_protos(proto_dir, out)
        sys.path.insert(0, out)
        import deviceplugin_v1beta1_pb2
        import deviceplugin_v1beta1_service_pb2_grpc
    finally:
        if not compiled:
            shutil.rmtree(out, ignore_errors=True)
    pb, svc = deviceplugin_v1beta1_pb2, deviceplugin_v1beta1_service_pb2_grpc


def proc_status(pid):
    """VmRSS and VmHWM of @pid in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def proc_threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def proc_cpu_seconds(pid):
    """utime + stime of @pid (all threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def channel_to(path):
    # A connection of its own per channel (grpcio shares subchannels of one target by default).
    return grpc.insecure_channel("unix:" + path, options=[("grpc.use_local_subchannel_pool", 1)])


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summary_us(samples_ns):
    s = sorted(samples_ns)
    return {"n": len(s), "p50_us": percentile(s, 50) / 1e3, "p90_us": percentile(s, 90) / 1e3,
            "p99_us": percentile(s, 99) / 1e3, "min_us": s[0] / 1e3, "max_us": s[-1] / 1e3,
            "mean_us": sum(s) / len(s) / 1e3}


class Watch:
    """One ListAndWatch stream read on a thread: every list with its arrival time."""

    def __init__(self, path):
        self.channel = channel_to(path)
        self.lists = []  # (perf_counter_ns, {id: health})
        self.cond = threading.Condition()
        self.error = None
        self.opened = time.perf_counter_ns()
        self.call = svc.DevicePluginStub(self.channel).ListAndWatch(pb.Empty())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for response in self.call:
                now = time.perf_counter_ns()
                state = {d.ID: d.health for d in response.devices}
                with self.cond:
                    self.lists.append((now, state))
                    self.cond.notify_all()
        except grpc.RpcError as e:
            with self.cond:
                self.error = e
                self.cond.notify_all()

    def wait(self, pred, start_index, timeout):
        """The first list from index @start_index on for which pred(state) holds: (index, time)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start_index
            while True:
                while i < len(self.lists):
                    if pred(self.lists[i][1]):
                        return i, self.lists[i][0]
                    i += 1
                if self.error is not None:
                    raise RuntimeError("ListAndWatch ended: %s" % self.error)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, None
                self.cond.wait(left)

    def count(self):
        with self.cond:
            return len(self.lists)

    def close(self):
        self.call.cancel()
        self.channel.close()


def allocate_request(ids):
    return pb.AllocateRequest(container_requests=[pb.ContainerAllocateRequest(devices_ids=list(ids))])


def answer_of(response):
    c = response.container_responses[0]
    return {"envs": dict(sorted(c.envs.items())),
            "devices": [[d.container_path, d.host_path, d.permissions] for d in c.devices],
            "mounts": len(c.mounts), "annotations": len(c.annotations)}


def wait_socket(path, pid, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if not os.path.exists("/proc/%d" % pid):
            sys.exit("dp_bench: server %d exited before serving %s" % (pid, path))
        if time.monotonic() > deadline:
            sys.exit("dp_bench: %s did not appear within %.0f s" % (path, timeout))
        time.sleep(0.01)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--compile-protos":
        compile_protos(sys.argv[2], sys.argv[3])  # PROTO_DIR OUTDIR, for --protos-compiled
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--root", required=True, help="fake root whose dev/vfio/<group> nodes give the health")
    ap.add_argument("--manifest", required=True, help="bench/gen-dp-root.py --manifest output")
    ap.add_argument("--pid", type=int, required=True, help="the server process")
    ap.add_argument("--label", default="plugin")
    ap.add_argument("--proto-dir", default=os.path.join(HERE, "..", "src", "proto"))
    ap.add_argument("--protos-compiled", metavar="DIR",
                    help="modules made by `dp_bench.py --compile-protos PROTO_DIR DIR` (saves a protoc run)")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--allocate", type=int, default=2000, help="Allocate calls per run (default 2000)")
    ap.add_argument("--concurrency", type=int, default=16, help="threads of the concurrent run (0: none)")
    ap.add_argument("--updates", type=int, default=50, help="health flips (each: unhealthy, then healthy)")
    ap.add_argument("--jitter-ms", type=float, default=0.0,
                    help="random wait 0..MS before each change (set it to a polling interval)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for one update")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()

    load_protos(os.path.abspath(args.proto_dir), args.protos_compiled)
    rng = random.Random(args.seed)
    with open(args.manifest) as f:
        devices = json.load(f)["devices"]
    ids = [d["id"] for d in devices]
    result = {"label": args.label, "devices": len(ids)}

    wait_socket(args.socket, args.pid, args.timeout)
    time.sleep(0.2)  # let the server settle after creating the socket
    result["rss_start_kib"] = proc_status(args.pid)["VmRSS"]
    result["threads_start"] = proc_threads(args.pid)

    # ListAndWatch: the first list.
    watch = Watch(args.socket)
    idx, t = watch.wait(lambda s: True, 0, args.timeout)
    if idx is None:
        sys.exit("dp_bench: %s: no first ListAndWatch list within %.0f s" % (args.label, args.timeout))
    first = watch.lists[0][1]
    if sorted(first) != sorted(ids) or set(first.values()) != {"Healthy"}:
        sys.exit("dp_bench: %s: first list %s, expected %d Healthy devices %s" %
                 (args.label, first, len(ids), ids[:4]))
    result["first_list_ms"] = (t - watch.opened) / 1e6

    # Allocate, sequential, on one connection.
    channel = channel_to(args.socket)
    stub = svc.DevicePluginStub(channel)
    reqs = [allocate_request([i]) for i in ids]
    result["answer"] = answer_of(stub.Allocate(reqs[0], timeout=args.timeout))
    for k in range(args.warmup):
        stub.Allocate(reqs[k % len(reqs)], timeout=args.timeout)
    samples = []
    cpu0, wall0 = proc_cpu_seconds(args.pid), time.perf_counter_ns()
    for k in range(args.allocate):
        t0 = time.perf_counter_ns()
        r = stub.Allocate(reqs[k % len(reqs)], timeout=args.timeout)
        samples.append(time.perf_counter_ns() - t0)
        if len(r.container_responses) != 1:
            sys.exit("dp_bench: %s: Allocate gave %d container responses" % (args.label, len(r.container_responses)))
    wall = (time.perf_counter_ns() - wall0) / 1e9
    cpu = proc_cpu_seconds(args.pid) - cpu0
    seq = summary_us(samples)
    seq["calls_per_s"] = args.allocate / wall
    seq["server_cpu_us_per_call"] = cpu / args.allocate * 1e6
    result["allocate"] = seq
    raw = {"allocate_ns": samples, "allocate_wall_s": wall, "allocate_cpu_s": cpu}

    # Allocate, concurrent: the threads share the connection (HTTP/2 streams).
    if args.concurrency > 0:
        per = max(1, args.allocate // args.concurrency)
        barrier = threading.Barrier(args.concurrency)

        def worker(w):
            out = []
            barrier.wait()
            for k in range(per):
                t0 = time.perf_counter_ns()
                stub.Allocate(reqs[(w + k) % len(reqs)], timeout=args.timeout)
                out.append(time.perf_counter_ns() - t0)
            return out

        cpu0, wall0 = proc_cpu_seconds(args.pid), time.perf_counter_ns()
        with futures.ThreadPoolExecutor(args.concurrency) as ex:
            parts = list(ex.map(worker, range(args.concurrency)))
        wall = (time.perf_counter_ns() - wall0) / 1e9
        cpu = proc_cpu_seconds(args.pid) - cpu0
        conc = summary_us([x for p in parts for x in p])
        raw.update({"concurrent_ns": [x for p in parts for x in p], "concurrent_wall_s": wall,
                    "concurrent_cpu_s": cpu})
        conc["concurrency"] = args.concurrency
        conc["calls_per_s"] = conc["n"] / wall
        conc["server_cpu_us_per_call"] = cpu / conc["n"] * 1e6
        result["allocate_concurrent"] = conc
    channel.close()

    # ListAndWatch updates: flip the health of one device at a time through its group node.
    byid = {d["id"]: d for d in devices}
    lat_down, lat_up, extra = [], [], 0
    for k in range(args.updates):
        dev = ids[rng.randrange(len(ids))]
        node = os.path.join(args.root, "dev", "vfio", str(byid[dev]["group"]))
        for healthy in (False, True):
            if args.jitter_ms > 0:
                time.sleep(rng.uniform(0, args.jitter_ms) / 1e3)
            start = watch.count()
            t0 = time.perf_counter_ns()
            if healthy:
                open(node, "w").close()
            else:
                os.unlink(node)
            want = "Healthy" if healthy else "Unhealthy"
            idx, t = watch.wait(lambda s: s.get(dev) == want, start, args.timeout)
            if idx is None:
                if not healthy:
                    open(node, "w").close()
                sys.exit("dp_bench: %s: no list with %s %s within %.0f s of the change" %
                         (args.label, dev, want, args.timeout))
            (lat_up if healthy else lat_down).append(t - t0)
            extra += idx - start  # lists before the one that showed the change
            state = watch.lists[idx][1]
            others = [i for i in ids if i != dev and state.get(i) != "Healthy"]
            if len(state) != len(ids) or others:
                sys.exit("dp_bench: %s: the update also changed %s" % (args.label, others[:4]))
    time.sleep(0.05)  # a late extra list would be counted below
    if args.updates:
        result["update_unhealthy"] = summary_us(lat_down)
        result["update_healthy"] = summary_us(lat_up)
        result["update_all"] = summary_us(lat_down + lat_up)
        result["update_lists_per_change"] = (watch.count() - 1) / (2.0 * args.updates)
        result["update_stale_lists"] = extra
        result["update_jitter_ms"] = args.jitter_ms
        raw.update({"update_unhealthy_ns": lat_down, "update_healthy_ns": lat_up,
                    "update_changes": 2 * args.updates, "update_lists": watch.count() - 1})
    watch.close()

    st = proc_status(args.pid)
    result["rss_end_kib"] = st["VmRSS"]
    result["hwm_kib"] = st["VmHWM"]
    result["threads_end"] = proc_threads(args.pid)
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.json:
        # With the raw samples, so that bench/dp_report.py can pool several rounds.
        with open(args.json, "w") as f:
            json.dump(dict(result, raw=raw), f, sort_keys=True)
            f.write("\n")
    print(text)


if __name__ == "__main__":
    main()
