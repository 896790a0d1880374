#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Count a device-plugin server's system calls per Allocate with strace. Used by bench/run-dp.sh.

    dp_syscalls.py --socket PATH --pid PID --ids A,B --protos-compiled DIR [options]

After --warmup calls, `strace -f -c` is attached to every thread of PID (the wait is for each
thread's TracerPid, not for a time), --calls sequential Allocate calls of the devices --ids (one
container) are made on one connection like the kubelet's, and strace is detached. The summary
divided by the number of calls is the figure: the server's system calls per Allocate, in total
and by name. Attaching and detaching cost a call or two, spread over all the calls. The server
should do nothing else meanwhile (no polling refresh, no ListAndWatch stream open): every call
counted is then the Allocate path's.

Prints one JSON object (also written to --json). --no-opens: exit 1 when the server opened any
file during the calls (open, openat, openat2): a figure that depends on nothing but the code, so
a test may check it; the totals depend on how the client's frames arrive and are only reported.
Protos as bench/dp_bench.py (`dp_bench.py --compile-protos PROTO_DIR DIR`).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import grpc

OPENS = ("open", "openat", "openat2")
SOCKET_WRITES = ("write", "writev", "send", "sendto", "sendmsg", "sendmmsg")
FILE_CALLS = OPENS + ("close", "readlink", "readlinkat", "access", "faccessat", "faccessat2",
                      "stat", "lstat", "newfstatat", "statx", "fstat", "getdents64")


def traced_tasks(pid):
    """(threads of @pid, how many of them have a tracer)."""
    tasks = os.listdir("/proc/%d/task" % pid)
    traced = 0
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if line.startswith("TracerPid:") and int(line.split()[1]) != 0:
                        traced += 1
        except FileNotFoundError:
            pass  # the thread ended
    return len(tasks), traced


def parse_summary(path):
    """{syscall: calls} of a `strace -c` summary."""
    counts = {}
    with open(path) as f:
        for line in f:
            words = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(words) >= 5 and words[-1] != "total" and words[3].isdigit():
                counts[words[-1]] = int(words[3])
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server process")
    ap.add_argument("--ids", required=True, help="the devices of each Allocate, comma-separated")
    ap.add_argument("--protos-compiled", required=True, metavar="DIR")
    ap.add_argument("--label", default="plugin")
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one event")
    ap.add_argument("--no-opens", action="store_true", help="fail when the server opened a file")
    ap.add_argument("--json")
    args = ap.parse_args()

    sys.path.insert(0, args.protos_compiled)
    import deviceplugin_v1beta1_pb2 as pb
    import deviceplugin_v1beta1_service_pb2_grpc as svc

    ids = args.ids.split(",")
    channel = grpc.insecure_channel("unix:" + args.socket,
                                    options=[("grpc.use_local_subchannel_pool", 1)])
    stub = svc.DevicePluginStub(channel)
    request = pb.AllocateRequest(container_requests=[pb.ContainerAllocateRequest(devices_ids=ids)])
    for _ in range(args.warmup):
        stub.Allocate(request, timeout=args.timeout)

    fd, summary = tempfile.mkstemp(prefix="dp-syscalls.")
    os.close(fd)
    strace = subprocess.Popen(["strace", "-f", "-c", "-o", summary, "-p", str(args.pid)],
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + args.timeout
        while True:
            tasks, traced = traced_tasks(args.pid)
            if traced == tasks:
                break
            if strace.poll() is not None or time.monotonic() > deadline:
                sys.exit("dp_syscalls: strace did not attach to %d (%d of %d threads traced; "
                         "ptrace not allowed?)" % (args.pid, traced, tasks))
            time.sleep(0.01)
        for _ in range(args.calls):
            r = stub.Allocate(request, timeout=args.timeout)
            if len(r.container_responses) != 1:
                sys.exit("dp_syscalls: %s: Allocate gave %d container responses" %
                         (args.label, len(r.container_responses)))
    finally:
        strace.send_signal(signal.SIGINT)
        strace.wait(timeout=args.timeout)
    channel.close()
    counts = parse_summary(summary)
    os.unlink(summary)
    if not counts:
        sys.exit("dp_syscalls: %s: strace counted nothing" % args.label)
    per = lambda n: n / float(args.calls)
    result = {
        "label": args.label, "kind": "syscalls", "calls": args.calls, "devices_per_call": len(ids),
        "syscalls_per_call": per(sum(counts.values())),
        "socket_writes_per_call": per(sum(counts.get(k, 0) for k in SOCKET_WRITES)),
        "opens_per_call": per(sum(counts.get(k, 0) for k in OPENS)),
        "file_calls_per_call": per(sum(counts.get(k, 0) for k in FILE_CALLS)),
        "by_name": {k: per(v) for k, v in sorted(counts.items())},
    }
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    opened = {k: counts[k] for k in OPENS if counts.get(k)}
    if args.no_opens and opened:
        sys.exit("dp_syscalls: %s opened files during %d Allocate calls: %s" %
                 (args.label, args.calls, opened))


if __name__ == "__main__":
    main()
