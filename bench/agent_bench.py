#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The node agent at scale (bench/run-agent.sh): many hostdev-agent processes, each a node with the
same fake root (bench/gen-sysfs.py), against one stand-in API server (tests/agent/apiserver: a
real kube-apiserver cannot run here). Phases, each measured from the stand-in's request log (split
by node: every agent has its own user) and from /proc of each agent:

  start   all agents start at once: requests per node until ready, time to ready, CPU and peak RSS
  idle    a window with nothing changing: requests and writes per node, extrapolated to an hour
          (count / window * 3600; the window is longer than the watch timeout and the resync
          interval, so every periodic request of the agent falls inside it at least once), agent
          CPU seconds and RSS, the stand-in's CPU
  relist  (no bookmarks) history compacted and every watch dropped: the agents' resumed watches get 410 Gone and
          relist; time until every agent re-listed and watches again, writes meanwhile
  big     one more agent with a 1000-device root, alone: peak RSS and start CPU (the DaemonSet's
          limits must hold the biggest node)
  loop    the agents stopped, their objects kept: a model of Harvester's controller, per node a
          loop that every 30 s lists the node's objects and writes every object's status back (PUT
          /status of the object as listed), run for a few cycles: requests and writes per node per
          cycle, cycle duration and the stand-in's CPU, extrapolated to an hour (x 3600/30)

Writes a JSON result (--json) and, with --doc, the "Node agent at scale" section of
docs/performance.md between its markers (the rest of the document is kept). Never asserts a speed;
fails when a figure is missing or an agent did not converge.
"""
import argparse
import http.client
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "agent", "apiserver"))
from kubestandin.harness import StandIn  # noqa: E402

CRDS = os.path.join(REPO, "examples", "agent", "deploy", "crds")
RBAC = os.path.join(REPO, "examples", "agent", "deploy", "rbac.yaml")
GROUP = "devices.harvesterhci.io"
PLURALS = ["pcidevices", "usbdevices", "sriovnetworkdevices"]
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
BEGIN = "<!-- agent-bench:begin: written by bench/run-agent.sh, do not edit by hand -->"
END = "<!-- agent-bench:end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"bench-agent: {msg}", flush=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cluster_role_rules():
    import yaml
    with open(RBAC) as f:
        return next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "ClusterRole")["rules"]


class AgentProc:
    def __init__(self, agent, node, kubeconfig, root, pci_ids, logdir):
        self.node = node
        self.log_path = os.path.join(logdir, f"{node}.log")
        self.logf = open(self.log_path, "w")
        self.started = time.time()
        self.ready_at = None
        self.proc = subprocess.Popen(
            [agent, "--kubeconfig", kubeconfig, "--node-name", node, "--root", root, "--pci-ids", pci_ids,
             "--metrics-address", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            self.logf.write(line)
            if self.ready_at is None and "published the inventory of node" in line and ": ready" in line:
                self.ready_at = time.time()
            if self.port is None and "serving /healthz" in line:
                self.port = int(line.rsplit("(port ", 1)[1].split(")")[0])
        self.logf.flush()

    def metrics(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
        conn.close()
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(10)
        self.logf.close()


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise SystemExit(f"bench-agent: {what} not within {timeout} s")
        time.sleep(0.2)


def per_node(reqs, users):
    """{node: {"requests": n, "writes": n, "verbs": {verb: n}}} of request-log entries."""
    out = {node: {"requests": 0, "writes": 0, "verbs": {}} for node in users.values()}
    for r in reqs:
        node = users.get(r["user"])
        if node is None:
            continue
        s = out[node]
        s["requests"] += 1
        s["verbs"][r["verb"]] = s["verbs"].get(r["verb"], 0) + 1
        if r["verb"] in WRITES:
            s["writes"] += 1
    return out


def stats(values):
    values = sorted(values)
    return {"min": values[0], "median": statistics.median(values), "max": values[-1],
            "mean": sum(values) / len(values)}


def verb_means(nodes):
    verbs = {}
    for s in nodes.values():
        for v, n in s["verbs"].items():
            verbs[v] = verbs.get(v, 0) + n
    return {v: n / len(nodes) for v, n in sorted(verbs.items())}


class LoopClient:
    """One node's connection for the rewrite-loop model (keep-alive HTTPS, the node's token)."""

    def __init__(self, api, token):
        ctx = ssl.create_default_context(cafile=api.ca_path)
        self.conn = http.client.HTTPSConnection(api.host, api.port, context=ctx, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "User-Agent": "rewrite-loop-model/1"}

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=self.headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
        return json.loads(data)


def rewrite_cycle(api, client, node):
    """Harvester's controller, once: list the node's objects, write every object's status back."""
    for plural in PLURALS:
        base = f"/apis/{GROUP}/v1beta1/{plural}"
        items = client.call("GET", f"{base}?labelSelector=nodename%3D{node}")["items"]
        for o in items:
            client.call("PUT", f"{base}/{o['metadata']['name']}/status", o)


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def report(res, machine):
    """The Markdown section (between BEGIN and END) of a result."""
    st, idle, rl, lp = res["start"], res["idle"], res["relist"], res["loop"]
    big = res.get("big")
    n, d, obj = res["nodes"], res["devices"], res["objects_per_node"]
    # The high-water mark at the end of the idle window (older results: the larger of the start's
    # high-water mark and the idle RSS).
    peak_rss = idle.get("agent_peak_rss_kib", {}).get("max") or max(st["agent_peak_rss_kib"]["max"],
                                                                     idle["agent_rss_kib"]["max"])
    verbs = lambda v: ", ".join(f"{k} {fmt(c, 1 if c % 1 else 0)}" for k, c in v.items()) or "none"  # noqa: E731
    rows = [
        ("requests per node at start (all nodes at once)",
         f"{fmt(st['requests_per_node']['mean'])} ({verbs(st['verbs_per_node'])})",
         f"{fmt(lp['requests_per_node_cycle']['mean'])} per cycle, every 30 s"),
        ("writes per node at start", fmt(st["writes_per_node"]["mean"]),
         f"{fmt(lp['writes_per_node_cycle']['mean'])} per cycle"),
        ("time to ready at start, median / slowest node",
         f"{fmt(st['ready_s']['median'], 1)} s / {fmt(st['ready_s']['max'], 1)} s", "n/a (never done)"),
        ("**requests per node per idle hour**",
         f"**{fmt(idle['requests_per_node_hour']['mean'])}** ({verbs(idle['verbs_per_node'])} in "
         f"{fmt(idle['window_s'])} s)", f"**{fmt(lp['requests_per_node_hour']['mean'])}**"),
        ("**writes per node per idle hour**", f"**{fmt(idle['writes_per_node_hour']['max'])}** (max over nodes)",
         f"**{fmt(lp['writes_per_node_hour']['mean'])}**"),
        ("API server (stand-in) CPU per idle hour, all nodes",
         f"{fmt(idle['standin_cpu_s_per_hour'], 1)} s",
         f"{fmt(lp['standin_cpu_s_per_cycle'] * 3600 / lp['period_s'])} s "
         f"({fmt(lp['standin_cpu_s_per_cycle'], 1)} s per cycle; a cycle of all nodes took "
         f"{fmt(lp['cycle_s']['max'], 1)} s at most)"),
        ("agent CPU per idle hour, per node", f"{fmt(idle['agent_cpu_s_per_hour']['mean'], 2)} s "
         f"(max {fmt(idle['agent_cpu_s_per_hour']['max'], 2)} s)",
         "not modelled (a rescan of every device each cycle; harvester#8653: 100 % CPU on 8-GPU nodes)"),
        ("agent RSS at the end of the idle window / peak since start, largest node",
         f"{mib(idle['agent_rss_kib']['max'])} / {mib(peak_rss)}",
         "not modelled (harvester#7163: out of memory at a 300 Mi limit)"),
        ("agent CPU to start and publish, per node", f"{fmt(st['agent_cpu_s']['mean'], 2)} s", "n/a"),
        ("relist (410 Gone) until every node watches again, median / slowest",
         f"{fmt(rl['converged_s']['median'], 1)} s / {fmt(rl['converged_s']['max'], 1)} s, "
         f"{fmt(rl['writes_per_node']['max'])} writes ({verbs(rl['verbs_per_node'])} per node)", "n/a"),
    ]
    if big:
        rows.append((f"one node of {big['devices']} functions ({fmt(big['objects'])} objects), alone",
                     f"ready in {fmt(big['ready_s'], 1)} s, {fmt(big['cpu_s'], 2)} s CPU, peak RSS "
                     f"{mib(big['peak_rss_kib'])}, then {mib(big['rss_kib'])}", "n/a"))
    table = "| | hostdev-agent | 30 s rescan-and-rewrite (model) |\n|---|---|---|\n" + \
        "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    return f"""{BEGIN}
## Node agent at scale: `hostdev-agent` against a 30 s rescan-and-rewrite loop

Generated by `bench/run-agent.sh` on {machine['date']} (libhostdev commit {machine['commit']}). Do not
edit by hand: run it again. Figures of one machine; the benchmark asserts none.

### What is measured

{n} agents (`hostdev-agent`, one process per node, each with its own user and the agent's
ClusterRole) publish a {d}-function fake root (`bench/gen-sysfs.py`, seed 1: {obj} objects per
node: PCIDevices without bridges, SRIOVNetworkDevices) to one stand-in API server
(`tests/agent/apiserver`; a real kube-apiserver cannot run here, so API server CPU is the stand-in's,
a Python process, and only comparable between the two columns). Requests are counted per node
from the stand-in's request log, CPU and RSS from `/proc` of each process. Phases:

- **start**: all agents start at once against an empty cluster.
- **idle**: {fmt(idle['window_s'])} s with nothing changing (longer than two watch timeouts of 300 s,
  so every periodic request of the agent falls inside it); per hour = count / window x 3600. The
  full resync (every 12 h by default; before 2026-12-07 every 10 min) is a local re-inventory
  diffed against the watch cache: it makes no request unless something differs ("At idle" below
  measures it).
- **relist**: the history compacted past every agent's resourceVersion and every watch dropped (no
  bookmarks in this run, so no agent had moved past it): each resumed watch gets 410 Gone, the
  agent relists and watches again; time from the drop until the last node watches every kind again.
- **30 s rescan-and-rewrite (model)**: Harvester's pcidevices controller rescans every 30 s and
  rewrites every object's status. Modelled against the same stand-in and the same objects (agents
  stopped): per node, a loop that lists its PCIDevices, USBDevices and SRIOVNetworkDevices and PUTs
  each object's status back as listed, {lp['cycles']} cycles of all {n} nodes in parallel; per
  hour = per cycle x 120. The status written is unchanged, so a real API server stores no new
  version, but every PUT is still a full request (authentication, admission, validation, a storage
  read). The controller's own CPU and memory are not modelled (Harvester's issues are cited).

{table}

The DaemonSet's requests and limits (examples/agent/deploy/daemonset.yaml) come from these figures:
a memory request above the RSS of the largest node measured ({big['devices'] if big else d} functions), a limit of
four times that (a relist holds the list and the cache at once); a CPU request above the idle use
(well under a millicore), a limit of half a core for the start.

### Machine

{machine['cpu']}, {machine['ncpu']} CPUs, {machine['mem']}, kernel {machine['kernel']}; load average at start
{machine['load']}, at the end {machine['load_end']} (other work shared the machine). Agent:
`{machine['agent']}`.

### Reproduce

```
cmake --build build -j2 && bench/run-agent.sh            # about 25 minutes; writes this section
bench/run-agent.sh --smoke                                # seconds; prints the table only
```
{END}
"""


def write_doc(doc, section):
    text = open(doc).read() if os.path.exists(doc) else ""
    b, e = text.find(BEGIN), text.find(END)
    # The idle part (--idle-mode) is written by its own runs: kept.
    ib, ie = text.find(IDLE_BEGIN), text.find(IDLE_END)
    if b >= 0 and e > b and b < ib < ie < e and IDLE_BEGIN not in section:
        idle = text[ib:ie + len(IDLE_END)]
        section = section.replace(END, idle + "\n" + END)
    if b >= 0 and e > b:
        text = text[:b] + section.rstrip("\n") + text[e + len(END):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    with open(doc, "w") as f:
        f.write(text)


# --- idle mode (--idle-mode): one agent per size, alone on its node, CPU per idle minute ----------

IDLE_BEGIN = "<!-- agent-idle:begin: written by bench/run-agent.sh --idle, do not edit by hand -->"
IDLE_END = "<!-- agent-idle:end -->"


def task_cpu_ns(pid):
    """CPU time of every live thread of @pid in ns (/proc/PID/task/*/schedstat: the scheduler's
    own accounting, ns resolution; /proc/PID/stat's ticks of 10 ms are too coarse for an idle
    agent). Threads that ended are not counted (the agent's threads live as long as it does)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def task_wakes(pid):
    """Voluntary context switches of @pid's main thread (the agent's loop): each is one sleep in
    epoll_wait, so their count is the loop's wakes, whatever the load of the machine."""
    try:
        with open(f"/proc/{pid}/task/{pid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class IdleAgent(AgentProc):
    """An agent whose log lines are kept with the time they arrived (for the attribution)."""

    def __init__(self, agent, node, kubeconfig, root, pci_ids, logdir, extra):
        self.node = node
        self.log_path = os.path.join(logdir, f"{node}.log")
        self.logf = open(self.log_path, "w")
        self.started = time.time()
        self.ready_at = None
        self.port = None
        self.lines = []  # (time, line)
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [agent, "--kubeconfig", kubeconfig, "--node-name", node, "--root", root, "--pci-ids", pci_ids,
             "--metrics-address", "127.0.0.1:0"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.time()
            self.logf.write(line)
            with self.lock:
                self.lines.append((now, line.rstrip("\n")))
            if self.ready_at is None and "published the inventory of node" in line and ": ready" in line:
                self.ready_at = now
            if self.port is None and "serving /healthz" in line:
                self.port = int(line.rsplit("(port ", 1)[1].split(")")[0])
        self.logf.flush()

    def lines_since(self, t):
        with self.lock:
            return [(ts, ln) for ts, ln in self.lines if ts >= t]


def activity(line):
    """The periodic activity a log line names (the words that say what the agent does)."""
    msg = line.split(None, 2)[2] if len(line.split(None, 2)) == 3 else line
    for key, name in (("resync", "resync"), ("inventory:", "resync"), ("libhostdev:", "resync"),
                      ("watch", "watch re-opened"), ("DRA", "DRA"),
                      ("hot-plug", "hot-plug event"), ("claim", "claims"), ("bookmark", "bookmark"),
                      ("list", "relist")):
        if key in msg:
            return name
    return msg[:40]


def start_wake_floor(work, window):
    """bench/wake_floor.c, built with cc and started for @window s beside the agents: the CPU a
    program that does nothing but wake pays per wake on this machine, under the same load. None
    when there is no C compiler."""
    exe = os.path.join(work, "wake_floor")
    try:
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "wake_floor.c")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"idle: no floor measured: bench/wake_floor.c did not build ({e})")
        return None
    # Six seconds: about as often as an idle agent wakes (its bookmarks and watch re-opens).
    return subprocess.Popen([exe, "6", str(int(window))], stdout=subprocess.PIPE, text=True)


def wake_floor_result(proc):
    """{"wakes", "period_s", "us_per_wake"} from the floor program's line, or None."""
    if proc is None:
        return None
    out, _ = proc.communicate(timeout=120)
    m = re.search(r"(\d+) wakes every ([\d.]+) s: ([\d.]+) us of CPU per wake", out or "")
    if proc.returncode != 0 or not m:
        log(f"idle: no floor measured: wake_floor exited {proc.returncode}: {out!r}")
        return None
    return {"wakes": int(m.group(1)), "period_s": float(m.group(2)), "us_per_wake": float(m.group(3))}


def idle_run(args):
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="hostdev-agent-idle."))
    os.makedirs(work, exist_ok=True)
    logdir = os.path.join(work, "logs")
    os.makedirs(logdir, exist_ok=True)
    given = dict(s.split("=", 1) for s in args.roots.split()) if args.roots else {}
    roots = {}
    for n in args.sizes:
        if str(n) in given:
            roots[n] = given[str(n)]
            continue
        roots[n] = os.path.join(work, f"root-{n}")
        if not os.path.isdir(os.path.join(roots[n], "sys")):
            log(f"generating a {n}-function root ({roots[n]})")
            subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen-sysfs.py"), "--devices", str(n),
                            roots[n]], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", os.path.join(work, "api")], check=True)
    rules = cluster_role_rules()
    res = {"mode": "idle", "window_s": args.idle, "settle_s": args.settle, "sizes": {}, "agent_args": args.agent_args,
           "bookmark_interval_s": args.bookmark_interval}
    # Bookmarks as often as kube-apiserver's watch cache sends them (about once a minute), so their
    # cost is in the window.
    with StandIn(os.path.join(work, "api"), crds=[CRDS], bookmark_interval=args.bookmark_interval) as api:
        agents = {}
        for n in args.sizes:
            node = f"idle{n}"
            api.create_node(node)
            api.add_token(f"tok-{node}", f"agent-{node}")
            api.set_rbac(f"agent-{node}", rules)
            # State and kubelet directories of the work directory: the roots are only read.
            extra = ["--state-dir", os.path.join(work, f"state-{n}"),
                     "--kubelet-dir", os.path.join(work, f"kubelet-{n}")] + args.agent_args.split()
            for d in ("state", "kubelet"):
                os.makedirs(os.path.join(work, f"{d}-{n}"), exist_ok=True)
            log(f"idle: starting the agent of {n} functions ({roots[n]})")
            agents[n] = IdleAgent(args.agent, node, api.kubeconfig(os.path.join(work, f"kc-{node}"),
                                                                   token=f"tok-{node}"),
                                  roots[n], args.pci_ids, logdir, extra)
        try:
            wait_until(lambda: all(a.ready_at or a.proc.poll() is not None for a in agents.values()), 3600,
                       "every agent ready")
            dead = [a.node for a in agents.values() if a.proc.poll() is not None]
            if dead:
                raise SystemExit(f"bench-agent: agents exited: {dead} (logs in {logdir})")
            for n, a in agents.items():
                m = a.metrics()
                res["sizes"][n] = {"ready_s": a.ready_at - a.started, "start_cpu_s": task_cpu_ns(a.proc.pid) / 1e9,
                                   "objects": sum(v for k, v in m.items() if k.startswith("hostdev_agent_objects{"))}
            time.sleep(args.settle)
            log(f"idle: {args.idle:.0f} s window")
            conn0 = api.connections()
            floor = start_wake_floor(work, args.idle)
            t0 = time.time()
            cpu0 = {n: task_cpu_ns(a.proc.pid) for n, a in agents.items()}
            wakes0 = {n: task_wakes(a.proc.pid) for n, a in agents.items()}
            samples = {n: [] for n in agents}
            prev = dict(cpu0)
            prev_t = t0
            while time.time() - t0 < args.idle:
                time.sleep(min(1.0, max(0.0, args.idle - (time.time() - t0))))
                now = time.time()
                for n, a in agents.items():
                    c = task_cpu_ns(a.proc.pid)
                    samples[n].append((prev_t, now, c - prev[n]))
                    prev[n] = c
                prev_t = now
            window = time.time() - t0
            res["wake_floor"] = wake_floor_result(floor)
            conn1 = api.connections()
            # New connections in the window, both agents (a re-opened watch should need none).
            res["window_connections"] = {k: conn1[k] - conn0[k] for k in ("accepted", "tlsHandshakes", "tlsResumed")}
            reqs = api.requests(since=0)
            for n, a in agents.items():
                cpu = (prev[n] - cpu0[n]) / 1e9
                wakes = task_wakes(a.proc.pid) - wakes0[n]
                lines = a.lines_since(t0)
                attributed = {}
                busy_key = None  # the activity of the previous second, while CPU is used in each
                for s0, s1, d in samples[n]:
                    if d <= 0:
                        busy_key = None
                        continue
                    acts = sorted({activity(ln) for ts, ln in lines if s0 - 0.05 <= ts <= s1 + 0.05})
                    # Work longer than a second (a resync at 10k functions) logs at its start and end
                    # only: the seconds between belong to it.
                    key = ", ".join(acts) if acts else (busy_key if busy_key and d > 20e6 else
                                                        "no log line (at info: bookmarks, watch re-opens)")
                    busy_key = key if d > 20e6 else None
                    attributed[key] = attributed.get(key, 0) + d / 1e9
                user = f"agent-idle{n}"
                node_reqs = [r for r in reqs if r["user"] == user and r["time"] >= t0]
                verbs = {}
                for r in node_reqs:
                    verbs[r["verb"]] = verbs.get(r["verb"], 0) + 1
                res["sizes"][n].update({
                    "window_s": window, "cpu_s": cpu, "cpu_ms_per_min": cpu * 1000 / (window / 60),
                    "wakes": wakes, "wakes_per_min": wakes / (window / 60),
                    "rss_kib": rss_kib(a.proc.pid), "peak_rss_kib": rss_kib(a.proc.pid, "VmHWM"),
                    "attribution_s": dict(sorted(attributed.items(), key=lambda kv: -kv[1])),
                    "requests": verbs, "writes": sum(c for v, c in verbs.items() if v in WRITES),
                    "log_lines": len(lines),
                    "samples_ms": [[round(s0 - t0, 1), round(d / 1e6, 3)] for s0, s1, d in samples[n] if d > 0]})
                log(f"idle: {n} functions: {cpu * 1000:.1f} ms CPU in {window:.0f} s = "
                    f"{res['sizes'][n]['cpu_ms_per_min']:.2f} ms/min, {wakes / (window / 60):.1f} wakes/min, "
                    f"RSS {mib(res['sizes'][n]['rss_kib'])}")
            # The full resync on request (SIGHUP), measured alone: its cost per run, and what it adds
            # per minute at the default interval.
            if args.resync_on_request:
                for n, a in agents.items():
                    t = time.time()
                    c0 = task_cpu_ns(a.proc.pid)
                    a.proc.send_signal(signal.SIGHUP)
                    wait_until(lambda: any("resync: done" in ln for ts, ln in a.lines_since(t)), 600,
                               f"the resync of the {n}-function agent")
                    time.sleep(2)
                    done = [ln for ts, ln in a.lines_since(t) if "resync: done" in ln][0]
                    res["sizes"][n]["resync_cpu_s"] = (task_cpu_ns(a.proc.pid) - c0) / 1e9
                    res["sizes"][n]["resync_line"] = done.split(None, 2)[2]
                    res["sizes"][n]["resync_writes"] = sum(
                        1 for r in api.requests(since=0) if r["user"] == f"agent-idle{n}" and r["time"] >= t
                        and r["verb"] in WRITES)
                    log(f"resync on request: {n} functions: {res['sizes'][n]['resync_cpu_s'] * 1000:.0f} ms CPU")
        finally:
            for a in agents.values():
                a.stop()
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    return res


def idle_report(res, machine):
    sizes = sorted(res["sizes"], key=int)
    interval = res.get("resync_interval_s")
    rows = []

    def row(label, fn):
        rows.append(f"| {label} | " + " | ".join(fn(res["sizes"][n]) for n in sizes) + " |")
    row("objects published", lambda s: fmt(s["objects"]))
    row("ready after start / CPU to start", lambda s: f"{fmt(s['ready_s'], 1)} s / {fmt(s['start_cpu_s'], 2)} s")
    row("**agent CPU per idle minute**", lambda s: f"**{s['cpu_ms_per_min']:.2f} ms** "
        f"({fmt(s['cpu_s'] * 1000, 1)} ms in {fmt(s['window_s'])} s)")
    if all("wakes" in res["sizes"][n] for n in sizes):
        row("wakes of the agent's loop per idle minute", lambda s: f"{s['wakes_per_min']:.1f} "
            f"({s['wakes']} in {fmt(s['window_s'])} s)")
        floor = res.get("wake_floor")
        if floor:
            row(f"a program that only wakes, as often (`bench/wake_floor.c`, {floor['us_per_wake']:.0f} µs "
                "per wake in the same window)", lambda s: f"{s['wakes_per_min'] * floor['us_per_wake'] / 1000:.2f} ms")
    if all("resync_cpu_s" in res["sizes"][n] for n in sizes):
        row("one full resync (on request, SIGHUP)", lambda s: f"{fmt(s['resync_cpu_s'] * 1000)} ms CPU, "
            f"{s['resync_writes']} writes")
        if interval:
            row(f"the resync per minute at its default interval ({interval // 3600} h)",
                lambda s: f"{s['resync_cpu_s'] * 1000 / (interval / 60):.2f} ms")
            row("**idle total per minute (window + resync share)**",
                lambda s: f"**{s['cpu_ms_per_min'] + s['resync_cpu_s'] * 1000 / (interval / 60):.2f} ms**")
    row("API requests in the window", lambda s: ", ".join(f"{v} {c}" for v, c in sorted(s["requests"].items()))
        or "none")
    row("writes in the window", lambda s: fmt(s["writes"]))
    row("RSS at the end / peak since start", lambda s: f"{mib(s['rss_kib'])} / {mib(s['peak_rss_kib'])}")
    head = "| | " + " | ".join(f"{fmt(int(n))} functions" for n in sizes) + " |\n|---" * 1 + \
        "|---" * len(sizes) + "|"
    attr = []
    for n in sizes:
        parts = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in res["sizes"][n]["attribution_s"].items()) or "none"
        attr.append(f"- {fmt(int(n))} functions: {parts}")
    wc = res.get("window_connections")
    if wc:
        rows.append(f"\nNew connections to the API server in the window, all agents: {wc['accepted']} "
                    f"({wc['tlsHandshakes']} TLS handshakes, {wc['tlsResumed']} of them resuming a session).")
    return head + "\n" + "\n".join(rows) + "\n\nWhere the window's CPU went (each second of the window with " \
        "CPU use, by the agent's log lines of that second):\n\n" + "\n".join(attr) + "\n"


def idle_section(res, machine, table):
    interval = res.get("resync_interval_s")
    return f"""{IDLE_BEGIN}
### At idle: CPU per minute and RSS at 1,000 and 10,000 functions

Generated by `bench/run-agent.sh --idle` on {machine['date']} (libhostdev commit {machine['commit']}); load
average at start {machine['load']}, at the end {machine['load_end']}.

One agent per size, each alone on its node, all against one stand-in API server (bookmarks every
{fmt(res['bookmark_interval_s'])} s, as kube-apiserver's watch cache sends them), the agent's defaults{(' and `' + res['agent_args'] + '`') if res.get('agent_args') else ''}
and a root of `bench/gen-sysfs.py` (seed 1). After it is ready and {fmt(res.get('settle_s', 15))} s more, a window of
{fmt(res['window_s'])} s with nothing changing: CPU from `/proc/PID/task/*/schedstat` (nanoseconds;
`/proc/PID/stat` counts 10 ms ticks), RSS from `/proc/PID/status` at its end. The window holds every
periodic activity at the agent's defaults (each watch re-opened after its 300 s timeout, twice, on the
connection it had; the bookmarks, every minute and 2 s before each timeout) but the full resync, whose default interval is{(' ' + fmt(interval / 3600) + ' h') if interval else ''}:
that one is made on request (SIGHUP) after the window, measured alone, and its share per minute at the
default interval added. (The 50-node table above comes from its own run of `bench/run-agent.sh`:
its date and commit say which agent it measured.) No probe asks for `/healthz` or `/readyz` here; in a DaemonSet each probe that
finds the last beat older than 5 s wakes the loop once (docs/agent.md, "Endpoints"). The floor: in the
same window `bench/wake_floor.c` sleeps in `epoll_wait` on a timer and does nothing else; its CPU per
wake times the agent's wakes is what any program woken that often pays on this machine.

{table}
{rss_note(res)}
{('Note: ' + res['note']) if res.get('note') else ''}
{IDLE_END}"""


def rss_note(res):
    """What the RSS is made of: the part that grows with the objects, per object."""
    sizes = sorted(res["sizes"], key=int)
    if len(sizes) < 2:
        return ""
    lo, hi = res["sizes"][sizes[0]], res["sizes"][sizes[-1]]
    per = (hi["rss_kib"] - lo["rss_kib"]) / max(1, hi["objects"] - lo["objects"])
    return f"""RSS grows by {per:.1f} KiB per published object ({fmt(lo['objects'])} -> {fmt(hi['objects'])} objects).
Per object the agent keeps hashes, not objects (docs/agent.md, "How it keeps them in step"): a want
of a few dozen bytes (a hash of each field it owns and the device's address or port), a digest of
the server's copy (a hash of each compared field) and the watch cache's entry (name, uid, recent
resourceVersions); the rest of the growth is malloc's overhead and the maps' slots. Most of the RSS
does not grow with the objects: it is shared-library pages, chiefly Debian's libcurl and OpenSSL's
libcrypto, which an agent of a handful of devices maps too (docs/agent.md, "libcurl's TLS backend:
OpenSSL"); 5 MiB at 10,000 functions is below what those libraries alone take."""


def write_idle_doc(doc, idle):
    text = open(doc).read() if os.path.exists(doc) else ""
    ib, ie = text.find(IDLE_BEGIN), text.find(IDLE_END)
    if ib >= 0 and ie > ib:
        text = text[:ib] + idle + text[ie + len(IDLE_END):]
    elif text.find(END) >= 0:
        e = text.find(END)
        text = text[:e] + idle + "\n" + text[e:]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + BEGIN + "\n" + idle + "\n" + END + "\n"
    with open(doc, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent")
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--idle", type=float, default=660, help="idle window, s (default 660: > watch timeout "
                    "300 s x 2)")
    ap.add_argument("--big", type=int, default=1000, help="devices of the lone big agent (0: skip)")
    ap.add_argument("--loop-cycles", type=int, default=2)
    ap.add_argument("--loop-period", type=float, default=30)
    ap.add_argument("--pci-ids", default="/usr/share/misc/pci.ids")
    ap.add_argument("--json")
    ap.add_argument("--work", default=None)
    ap.add_argument("--doc", default="-", help="document to write the section into ('-': print only)")
    ap.add_argument("--report-only", metavar="RESULT.json", help="write the report of an earlier result")
    ap.add_argument("--idle-mode", action="store_true", help="only the idle measurement: one agent per --sizes "
                    "entry, alone on its node, CPU per idle minute and RSS (writes the idle part of the section)")
    ap.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")], default=[1000, 10000],
                    help="idle mode: PCI functions of each agent's root (default 1000,10000)")
    ap.add_argument("--roots", default="", help="idle mode: 'N=DIR ...' roots to use instead of generating them "
                    "(only read)")
    ap.add_argument("--settle", type=float, default=15, help="idle mode: s between ready and the window")
    ap.add_argument("--bookmark-interval", type=float, default=60, help="idle mode: the stand-in's watch "
                    "bookmarks, s (kube-apiserver: about one a minute)")
    ap.add_argument("--agent-args", default="", help="idle mode: extra agent flags (e.g. '--dra')")
    ap.add_argument("--resync-on-request", action="store_true", help="idle mode: after the window, a full "
                    "resync by SIGHUP, measured alone")
    ap.add_argument("--resync-interval", type=int, default=0, help="idle mode: the agent's default resync "
                    "interval in s, for the per-minute share of the resync")
    args = ap.parse_args()
    machine = {k: os.environ.get("AB_" + k.upper(), "?") for k in
               ("date", "commit", "cpu", "ncpu", "mem", "kernel", "load", "load_end", "agent")}
    if args.idle_mode:
        if args.report_only:
            with open(args.report_only) as f:
                res = json.load(f)
        else:
            res = idle_run(args)
        res["resync_interval_s"] = args.resync_interval or res.get("resync_interval_s")
        if not args.report_only:
            res["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        machine["load_end"] = res.get("load_end", "not recorded")
        table = idle_report(res, machine)
        print(table)
        if args.doc != "-":
            write_idle_doc(args.doc, idle_section(res, machine, table))
            log(f"wrote the idle part of the section of {args.doc}")
        return 0
    if args.report_only:
        with open(args.report_only) as f:
            section = report(json.load(f), machine)
        print(section)
        if args.doc != "-":
            write_doc(args.doc, section)
        return 0

    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="hostdev-agent-bench."))
    os.makedirs(work, exist_ok=True)
    root = os.path.join(work, "root")
    for old in (root, os.path.join(work, "root-big"), os.path.join(work, "api")):
        subprocess.run(["rm", "-rf", old], check=True)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen-sysfs.py"), "--devices", str(args.devices), root],
                   check=True, stdout=subprocess.DEVNULL)
    logdir = os.path.join(work, "logs")
    os.makedirs(logdir, exist_ok=True)
    res = {"nodes": args.nodes, "devices": args.devices, "idle_window_s": args.idle}
    rules = cluster_role_rules()
    # No bookmarks: they would carry every agent's resourceVersion past the compaction of the relist
    # phase (they are not requests, so no count changes).
    with StandIn(os.path.join(work, "api"), crds=[CRDS], bookmark_interval=3600) as api:
        spid = api.proc.pid
        users, tokens = {}, {}
        for i in range(args.nodes):
            node = f"node{i:03d}"
            user = f"system:serviceaccount:hostdev-system:agent-{node}"
            api.create_node(node)
            api.add_token(f"tok-{node}", user)
            api.set_rbac(user, rules)
            users[user] = node
            tokens[node] = f"tok-{node}"
        # --- start ---------------------------------------------------------------------------------
        log(f"start: {args.nodes} agents x {args.devices}-function roots")
        mark = api.mark()
        cpu0 = cpu_seconds(spid)
        agents = []
        for node, tok in tokens.items():
            agents.append(AgentProc(args.agent, node, api.kubeconfig(os.path.join(work, f"kc-{node}"), token=tok),
                                    root, args.pci_ids, logdir))
        try:
            wait_until(lambda: all(a.ready_at or a.proc.poll() is not None for a in agents), 3600, "every agent ready")
            dead = [a.node for a in agents if a.proc.poll() is not None]
            if dead:
                raise SystemExit(f"bench-agent: agents exited: {dead} (logs in {logdir})")
            start_reqs = api.requests(since=mark)
            objects = len(api.get(f"/apis/{GROUP}/v1beta1/pcidevices",
                                  params={"labelSelector": "nodename=node000"})["items"]) + \
                len(api.get(f"/apis/{GROUP}/v1beta1/sriovnetworkdevices",
                            params={"labelSelector": "nodename=node000"})["items"])
            nodes = per_node(start_reqs, users)
            res["objects_per_node"] = objects
            res["start"] = {
                "requests_per_node": stats([s["requests"] for s in nodes.values()]),
                "writes_per_node": stats([s["writes"] for s in nodes.values()]),
                "verbs_per_node": verb_means(nodes),
                "ready_s": stats([a.ready_at - a.started for a in agents]),
                "agent_cpu_s": stats([cpu_seconds(a.proc.pid) for a in agents]),
                "agent_peak_rss_kib": stats([rss_kib(a.proc.pid, "VmHWM") for a in agents]),
                "standin_cpu_s": cpu_seconds(spid) - cpu0,
            }
            log(f"start: ready in {res['start']['ready_s']['max']:.1f} s (slowest), "
                f"{res['start']['requests_per_node']['mean']:.0f} requests per node")
            # --- idle ----------------------------------------------------------------------------------
            log(f"idle: {args.idle:.0f} s")
            mark = api.mark()
            cpu_a = {a.node: cpu_seconds(a.proc.pid) for a in agents}
            cpu_s = cpu_seconds(spid)
            t0 = time.time()
            time.sleep(args.idle)
            window = time.time() - t0
            idle_reqs = api.requests(since=mark)
            nodes = per_node(idle_reqs, users)
            per_hour = 3600.0 / window
            res["idle"] = {
                "window_s": window,
                "requests_per_node": stats([s["requests"] for s in nodes.values()]),
                "writes_per_node": stats([s["writes"] for s in nodes.values()]),
                "verbs_per_node": verb_means(nodes),
                "requests_per_node_hour": stats([s["requests"] * per_hour for s in nodes.values()]),
                "writes_per_node_hour": stats([s["writes"] * per_hour for s in nodes.values()]),
                "agent_cpu_s_per_hour": stats([(cpu_seconds(a.proc.pid) - cpu_a[a.node]) * per_hour
                                               for a in agents]),
                "agent_rss_kib": stats([rss_kib(a.proc.pid) for a in agents]),
                "agent_peak_rss_kib": stats([rss_kib(a.proc.pid, "VmHWM") for a in agents]),
                "standin_cpu_s_per_hour": (cpu_seconds(spid) - cpu_s) * per_hour,
                "resyncs": stats([a.metrics().get("hostdev_agent_resyncs_total", 0) for a in agents]),
            }
            log(f"idle: {res['idle']['writes_per_node']['max']} writes per node (max), "
                f"{res['idle']['requests_per_node_hour']['mean']:.0f} requests per node-hour")
            # --- relist ----------------------------------------------------------------------------------
            log("relist: compact the history, drop every watch")
            before = {a.node: sum(v for k, v in a.metrics().items() if k.startswith("hostdev_agent_watch_gone_total"))
                      for a in agents}
            mark = api.mark()
            cpu_s = cpu_seconds(spid)
            # A resourceVersion newer than every agent's, then the history up to it forgotten.
            api.create_namespace("moves-the-resource-version")
            api.compact()
            t0 = time.time()
            api.drop_watches()
            kinds = ["nodes"] + PLURALS

            def converged_at(node_reqs):
                """When the node watches every kind again after a list that followed the drop."""
                done = []
                for kind in kinds:
                    listed = [r["time"] for r in node_reqs if r["resource"] == kind and r["verb"] == "list"]
                    if not listed:
                        return None
                    watched = [r["time"] for r in node_reqs if r["resource"] == kind and r["verb"] == "watch"
                               and r["time"] >= min(listed)]
                    if not watched:
                        return None
                    done.append(min(watched))
                return max(done)

            def all_converged():
                reqs = api.requests(since=mark)
                by = {}
                for r in reqs:
                    if r["user"] in users:
                        by.setdefault(users[r["user"]], []).append(r)
                times = {n: converged_at(by.get(n, [])) for n in tokens}
                return times if all(t is not None for t in times.values()) else None
            times = None
            deadline = time.time() + 1800
            while times is None and time.time() < deadline:
                time.sleep(1)
                times = all_converged()
            if times is None:
                raise SystemExit("bench-agent: the agents did not relist within 30 min")
            nodes = per_node(api.requests(since=mark), users)
            gone = [sum(v for k, v in a.metrics().items() if k.startswith("hostdev_agent_watch_gone_total"))
                    - before[a.node] for a in agents]
            res["relist"] = {
                "converged_s": stats([t - t0 for t in times.values()]),
                "requests_per_node": stats([s["requests"] for s in nodes.values()]),
                "writes_per_node": stats([s["writes"] for s in nodes.values()]),
                "verbs_per_node": verb_means(nodes),
                "gone_per_node": stats(gone),
                "standin_cpu_s": cpu_seconds(spid) - cpu_s,
            }
            log(f"relist: every agent watches again {res['relist']['converged_s']['max']:.1f} s after the drop")
        finally:
            for a in agents:
                a.stop()
        # --- big -------------------------------------------------------------------------------------
        if args.big:
            log(f"big: one agent with {args.big} functions")
            big_root = os.path.join(work, "root-big")
            subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen-sysfs.py"), "--devices", str(args.big),
                            big_root], check=True, stdout=subprocess.DEVNULL)
            api.create_node("big")
            api.add_token("tok-big", "agent-big")
            api.set_rbac("agent-big", rules)
            a = AgentProc(args.agent, "big", api.kubeconfig(os.path.join(work, "kc-big"), token="tok-big"),
                          big_root, args.pci_ids, logdir)
            try:
                wait_until(lambda: a.ready_at or a.proc.poll() is not None, 1800, "the big agent ready")
                if a.proc.poll() is not None:
                    raise SystemExit(f"bench-agent: the big agent exited (log {a.log_path})")
                m = a.metrics()
                res["big"] = {"devices": args.big, "ready_s": a.ready_at - a.started,
                              "objects": sum(v for k, v in m.items() if k.startswith("hostdev_agent_objects{")),
                              "cpu_s": cpu_seconds(a.proc.pid), "peak_rss_kib": rss_kib(a.proc.pid, "VmHWM"),
                              "rss_kib": rss_kib(a.proc.pid)}
            finally:
                a.stop()
        # --- the rewrite loop ------------------------------------------------------------------------
        log(f"loop: Harvester's 30 s rescan-and-rewrite, modelled, {args.loop_cycles} cycles of {args.nodes} nodes")
        for user in users:
            api.set_rbac(user, None)  # Harvester's role grants update on */status; ours does not
        mark = api.mark()
        cpu_s = cpu_seconds(spid)
        durations, errors = [], []
        lock = threading.Lock()

        def node_loop(node):
            client = LoopClient(api, tokens[node])
            for cycle in range(args.loop_cycles):
                t = time.time()
                try:
                    rewrite_cycle(api, client, node)
                except Exception as e:  # noqa: BLE001 - reported, fails the run below
                    with lock:
                        errors.append(f"{node}: {e}")
                    return
                took = time.time() - t
                with lock:
                    durations.append(took)
                if cycle + 1 < args.loop_cycles:
                    time.sleep(max(0.0, args.loop_period - took))
        t0 = time.time()
        threads = [threading.Thread(target=node_loop, args=(n,)) for n in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        if errors:
            raise SystemExit("bench-agent: the rewrite loop failed: " + "; ".join(errors[:5]))
        nodes = per_node(api.requests(since=mark), users)
        cycles_per_hour = 3600.0 / args.loop_period
        res["loop"] = {
            "cycles": args.loop_cycles, "period_s": args.loop_period, "elapsed_s": elapsed,
            "cycle_s": stats(durations),
            "requests_per_node_cycle": stats([s["requests"] / args.loop_cycles for s in nodes.values()]),
            "writes_per_node_cycle": stats([s["writes"] / args.loop_cycles for s in nodes.values()]),
            "requests_per_node_hour": stats([s["requests"] / args.loop_cycles * cycles_per_hour
                                             for s in nodes.values()]),
            "writes_per_node_hour": stats([s["writes"] / args.loop_cycles * cycles_per_hour for s in nodes.values()]),
            "standin_cpu_s_per_cycle": (cpu_seconds(spid) - cpu_s) / args.loop_cycles,
        }
        log(f"loop: {res['loop']['writes_per_node_cycle']['mean']:.0f} writes per node per cycle, "
            f"cycle {res['loop']['cycle_s']['max']:.1f} s (slowest)")
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    machine["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    section = report(res, machine)
    print(section)
    if args.doc != "-":
        write_doc(args.doc, section)
        log(f"wrote the section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
