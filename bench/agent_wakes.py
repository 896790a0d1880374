#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What one wake of an idle hostdev-agent costs, in instructions (callgrind): a measure that the load
of the machine does not disturb, unlike CPU time.

    bench/agent_wakes.py [--functions 1000] [--window 300] [--bookmark-interval 60] [AGENT]

One agent on a fake root (bench/gen-sysfs.py, or --root) against the stand-in API server
(tests/agent/apiserver) runs under valgrind --tool=callgrind; once it is ready and has settled, the
counters are zeroed (callgrind_control -z), the window passes, and they are dumped. Prints the wakes
of the loop (its epoll_wait returns, those without a sleep included), what woke it (the sources the loop dispatched), the instructions
of the window and per wake, and the functions that cost most (inclusive, per wake). The agent's own
timers run at their defaults; --watch-timeout (default: the agent's) shortens the watches to see
their re-opens in a short window.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import agent_bench  # noqa: E402

# The loop's callbacks: each dispatched source is one of these (examples/agent/*.c).
SOURCES = {"on_socket": "a libcurl socket (watch data, an answer)", "on_timer": "libcurl's timer",
           "on_retry": "an informer's or a request's retry/alignment timer",
           "on_poke": "a probe (metrics_refresh)", "on_resync": "the resync timer",
           "on_signal_readable": "a signal"}


def parse_callgrind(path, top):
    """(total Ir, [(inclusive Ir, function)] of the @top costliest, {function: calls}) of a
    callgrind output file: the totals from callgrind_annotate, the calls from the file."""
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", path], check=True, capture_output=True,
                         text=True).stdout
    total = 0
    fns = []
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        if m.group(2).startswith("PROGRAM TOTALS"):
            total = ir
        elif len(fns) < top:
            fns.append((ir, m.group(2)))
    names = {}
    calls = collections.Counter()
    cfn = None
    with open(path) as f:
        for line in f:
            if line.startswith("fn=") or line.startswith("cfn="):
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    cfn = names.get(m.group(1)) if m else line[4:].strip()
            elif line.startswith("calls="):
                calls[cfn] += int(line[6:].split()[0])
    return total, fns, calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("agent", nargs="?", default=os.path.join(agent_bench.REPO, "build/examples/agent/hostdev-agent"))
    ap.add_argument("--functions", type=int, default=1000)
    ap.add_argument("--root", help="a fake root to use (only read) instead of generating one")
    ap.add_argument("--window", type=float, default=300)
    ap.add_argument("--settle", type=float, default=20)
    ap.add_argument("--bookmark-interval", type=float, default=60)
    ap.add_argument("--watch-timeout", type=int, default=0)
    ap.add_argument("--pci-ids", default="/usr/share/misc/pci.ids")
    ap.add_argument("--work", help="work directory (default: a new temporary one)")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        print("agent_wakes: valgrind (callgrind) missing; skipped", file=sys.stderr)
        return 77
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="hostdev-agent-wakes."))
    os.makedirs(work, exist_ok=True)
    root = args.root
    if not root:
        root = os.path.join(work, f"root-{args.functions}")
        if not os.path.isdir(os.path.join(root, "sys")):
            subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen-sysfs.py"), "--devices",
                            str(args.functions), root], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(work, "callgrind.out")
    for f in os.listdir(work):
        if f.startswith("callgrind.out"):
            os.unlink(os.path.join(work, f))
    with agent_bench.StandIn(os.path.join(work, "api"), crds=[agent_bench.CRDS],
                             bookmark_interval=args.bookmark_interval) as api:
        node = "wakes"
        api.create_node(node)
        api.add_token("tok-wakes", "agent-wakes")
        api.set_rbac("agent-wakes", agent_bench.cluster_role_rules())
        kc = api.kubeconfig(os.path.join(work, "kc"), token="tok-wakes")
        for d in ("state", "kubelet"):
            os.makedirs(os.path.join(work, d), exist_ok=True)
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", args.agent, "--kubeconfig", kc,
               "--node-name", node, "--root", root, "--pci-ids", args.pci_ids, "--metrics-address",
               "127.0.0.1:0", "--state-dir", os.path.join(work, "state"), "--kubelet-dir",
               os.path.join(work, "kubelet")]
        if args.watch_timeout:
            cmd += ["--watch-timeout", str(args.watch_timeout)]
        logf = open(os.path.join(work, "agent.log"), "w")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logf)
        try:
            deadline = time.time() + 1800
            while time.time() < deadline and proc.poll() is None:
                with open(os.path.join(work, "agent.log")) as f:
                    if re.search(r"published the inventory of node \S+: ready", f.read()):
                        break
                time.sleep(1)
            else:
                raise SystemExit(f"agent_wakes: the agent did not get ready (log: {work}/agent.log)")
            time.sleep(args.settle)
            mark = api.mark()
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, stdout=subprocess.DEVNULL)
            t0 = time.time()
            time.sleep(args.window)
            subprocess.run(["callgrind_control", "-d", "window", str(proc.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            window = time.time() - t0
            reqs = collections.Counter(r["verb"] for r in api.requests(since=mark))
        finally:
            proc.terminate()
            proc.wait()
    dumps = sorted(f for f in os.listdir(work) if f.startswith("callgrind.out") and f != "callgrind.out")
    total, fns, calls = parse_callgrind(os.path.join(work, dumps[0]), args.top)
    wakes = calls.get("epoll_wait", 0)
    print(f"agent_wakes: {args.functions if not args.root else root}: {window:.0f} s window, "
          f"bookmark interval {args.bookmark_interval:g} s; requests: "
          + (", ".join(f"{c} {v}" for v, c in sorted(reqs.items())) or "none"))
    print(f"wakes (epoll_wait returns): {wakes} = {wakes / (window / 60):.1f}/min")
    for fn, what in SOURCES.items():
        n = calls.get(fn, 0)
        if n:
            print(f"  {fn:20s} {n:6d} x  {what}")
    print(f"instructions: {total:,} = {total / (window / 60):,.0f}/min, "
          f"{total / max(wakes, 1):,.0f} per wake")
    print(f"the {args.top} costliest functions, inclusive instructions per wake:")
    for ir, fn in fns:
        print(f"  {ir / max(wakes, 1):10,.0f}  {fn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
