# SPDX-License-Identifier: Apache-2.0
"""Run hostdev-agent as a child process for the end-to-end tests: its log is read line by line on a
thread, and tests wait for the log line, HTTP answer or exit they need (never a fixed sleep)."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "agent", "apiserver"))

from kubestandin.harness import (AGENT_CRDS, HARVESTER_CRDS, StandIn,  # noqa: E402,F401
                                 StandInError)

AGENT = os.environ.get("HOSTDEV_AGENT", os.path.join(REPO, "build", "examples", "agent", "hostdev-agent"))
GEN_SYSFS = os.path.join(REPO, "bench", "gen-sysfs.py")
# agent-hotplug-bed (tests/agent/hotplug_bed.c): the agent on a umockdev testbed, hot-plug on command.
BED = os.environ.get("HOSTDEV_AGENT_BED", os.path.join(REPO, "build", "tests", "agent", "agent-hotplug-bed"))
USB_IDS = os.path.join(REPO, "tests", "usb", "usb.ids")
PCI_IDS = "/usr/share/misc/pci.ids"
WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"]
RBAC_YAML = os.path.join(REPO, "examples", "agent", "deploy", "rbac.yaml")


def cluster_role_rules():
    """The rules of the agent's ClusterRole as deployed (examples/agent/deploy/rbac.yaml)."""
    import yaml
    with open(RBAC_YAML, encoding="utf-8") as f:
        roles = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ClusterRole"]
    assert len(roles) == 1, f"{RBAC_YAML}: want one ClusterRole, found {len(roles)}"
    return roles[0]["rules"]


def grant_cluster_role(api, user):
    """@user gets exactly the agent's ClusterRole from the stand-in's authorizer: every test that
    runs the agent thereby checks that the role grants what the agent does."""
    api.set_rbac(user, cluster_role_rules())


def make_root(path, devices, *extra):
    """A fake root of @devices PCI functions (bench/gen-sysfs.py: the kernel's layout)."""
    subprocess.run(["/usr/bin/python3", GEN_SYSFS, "--devices", str(devices), *extra, str(path)],
                   check=True, stdout=subprocess.DEVNULL)
    return str(path)


class Agent:
    def __init__(self, *args, env=None, wrapper=(), metrics=True, bed=False):
        # Safety: the agent's default paths are the host's (/sys, /var/lib/kubelet, /var/run/cdi,
        # /var/lib/hostdev): a test always gives a fake root. On a umockdev testbed, --sysfs /sys
        # is the testbed's tree (umockdev redirects it, and /dev with --dev /dev) and everything
        # else stays under --root.
        if "--root" not in args:
            raise AssertionError("a test must run hostdev-agent with --root (a fake root): "
                                 + " ".join(args))
        sysfs = args[args.index("--sysfs") + 1] if "--sysfs" in args[:-1] else None
        if bed and sysfs != "/sys":
            raise AssertionError("on a umockdev testbed, pass --sysfs /sys with --root")
        if bed:
            wrapper = ("umockdev-wrapper", BED, "--")
            env = dict(env or os.environ)
            # The wrapper preloads umockdev before ASan's runtime (ASan builds).
            env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
        cmd = list(wrapper) + [AGENT, "--log-level", "debug"]
        if metrics:
            cmd += ["--metrics-address", "127.0.0.1:0"]
        cmd += list(args)
        self.cmd = cmd
        self.lines = []
        self.cond = threading.Condition()
        pipe = subprocess.PIPE if bed else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdin=pipe, stdout=pipe, stderr=subprocess.PIPE, env=env,
                                     text=True, errors="replace")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._port = None

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of the log
            self.cond.notify_all()

    def bed(self, command):
        """One command to agent-hotplug-bed; returns once the testbed changed and the uevent went."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", f"{command}: {answer!r}\n" + self.log()

    def log(self):
        with self.cond:
            return "\n".join(line for line in self.lines if line is not None)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_log(self, pattern, timeout=90, since=0):
        """The first log line from @since on matching @pattern (a regex); fails if the agent exits
        first or nothing matches within @timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    i += 1
                    if line is None:
                        raise AssertionError(f"the agent exited ({self.proc.wait()}) before /{pattern}/:\n"
                                             + self.log())
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line /{pattern}/ within {timeout} s:\n" + self.log())
                self.cond.wait(left)

    def wait_count(self, pattern, count, timeout=90, since=0):
        """Wait until @count log lines from @since on match @pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                lines = self.lines[since:]
                if sum(1 for x in lines if x is not None and rx.search(x)) >= count:
                    return
                if None in lines:
                    raise AssertionError(f"the agent exited before {count} x /{pattern}/:\n" + self.log())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fewer than {count} x /{pattern}/ in {timeout} s:\n" + self.log())
                self.cond.wait(left)

    def ready(self, timeout=120, since=0):
        return self.wait_log(r"published the inventory of node \S+: ready", timeout, since)

    @property
    def port(self):
        if self._port is None:
            self._port = int(self.wait_log(r"serving /healthz, /readyz and /metrics on \S+ \(port (\d+)\)")
                             .group(1))
        return self._port

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready_endpoint(self, timeout=90):
        """Until /readyz answers 200 (the agent re-evaluates it every few seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            code, body = self.http("/readyz")
            if code == 200:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"/readyz still {code} {body!r} after {timeout} s:\n" + self.log())
            time.sleep(0.2)

    def metrics(self):
        """{'name{labels}': value} of /metrics."""
        code, body = self.http("/metrics")
        assert code == 200, body
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def wait_exit(self, timeout=60):
        """The exit status, once the process ended and its whole log was read."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the agent did not exit within {timeout} s:\n" + self.log())
        self.reader.join(timeout)
        return code

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.wait_exit(timeout)
        self.reader.join(timeout)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


AGENT_USER = "system:serviceaccount:kube-system:hostdev-agent"


def agent_kubeconfig(api, token="agent-token"):
    """A kubeconfig for the agent's own user (not the stand-in's admin, which RBAC never stops),
    who has the rules of the agent's ClusterRole and no others."""
    api.add_token(token, AGENT_USER)
    grant_cluster_role(api, AGENT_USER)
    return api.kubeconfig(token=token)


def writes(api, since):
    """The agent's writes in the stand-in's request log since @since."""
    return [r for r in api.requests(since=since, userAgent="hostdev-agent/")
            if r["verb"] in WRITE_VERBS]


def device_names(api, plural, node):
    items = api.get(api.devices_path(plural), params={"labelSelector": f"nodename={node}"})["items"]
    return {o["metadata"]["name"]: o for o in items}
