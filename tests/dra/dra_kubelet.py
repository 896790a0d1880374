# SPDX-License-Identifier: Apache-2.0
"""A kubelet stand-in for the DRA plugin tests, written with Python grpcio, and a driver for
tests/dra/dra_test_plugin. No kubelet can run here; the stand-in does what the kubelet's plugin
watcher and DRA manager do to a plugin, and refuses what they refuse:
- the plugin watcher finds a socket in plugins_registry, calls GetInfo, checks the type
  ("DRAPlugin"), the name, that the endpoint is a socket and that supported_versions names a
  version it speaks ("v1.DRAPlugin", "v1beta1.DRAPlugin"), and reports with
  NotifyRegistrationStatus (plugin_registered false and the reason when a check fails);
- the DRA manager dials the endpoint and calls NodePrepareResources / NodeUnprepareResources of
  the newest version both sides speak, with the kubelet's 45 s deadline, and checks that every
  claim it asked for has an answer.
"""
import os
import stat
import subprocess
import sys
import threading
import time

import grpc

# Every wait is for an event; this only bounds it, generously (loaded machines, sanitizers).
DEADLINE = 30.0 * float(os.environ.get("HOSTDEV_TEST_TIMEOUT_SCALE", "1"))
# The kubelet's deadline of a DRA call.
CALL_TIMEOUT = 45.0

KNOWN_VERSIONS = ["v1.DRAPlugin", "v1beta1.DRAPlugin"]

pb = {}  # "v1" / "v1beta1" -> (messages module, service module)
reg_pb = reg_svc = None


def load_protos(dra_dir, reg_dir, out_dir):
    """Compile the .proto files with grpc_tools into @out_dir and import them."""
    global reg_pb, reg_svc
    files = ["dra_v1.proto", "dra_v1_service.proto", "dra_v1beta1.proto",
             "dra_v1beta1_service.proto", "pluginregistration_v1.proto",
             "pluginregistration_v1_service.proto"]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", dra_dir, "-I", reg_dir,
                    "--python_out", out_dir, "--grpc_python_out", out_dir] + files, check=True)
    sys.path.insert(0, out_dir)
    import dra_v1_pb2
    import dra_v1_service_pb2_grpc
    import dra_v1beta1_pb2
    import dra_v1beta1_service_pb2_grpc
    import pluginregistration_v1_pb2
    import pluginregistration_v1_service_pb2_grpc
    pb["v1"] = (dra_v1_pb2, dra_v1_service_pb2_grpc)
    pb["v1beta1"] = (dra_v1beta1_pb2, dra_v1beta1_service_pb2_grpc)
    reg_pb, reg_svc = pluginregistration_v1_pb2, pluginregistration_v1_service_pb2_grpc


def channel_to(path):
    return grpc.insecure_channel("unix:" + path, options=[("grpc.use_local_subchannel_pool", 1)])


def wait_until(predicate, what, timeout=DEADLINE, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Refused(Exception):
    """The stand-in refused a registration (it told the plugin why)."""


class Kubelet:
    def __init__(self, registry_dir, versions=KNOWN_VERSIONS):
        self.registry_dir = registry_dir
        self.versions = list(versions)
        self.endpoint = None
        self.api = None
        self.channel = None

    def find_socket(self):
        """The first socket file in plugins_registry (the plugin watcher ignores the rest)."""
        def found():
            for name in sorted(os.listdir(self.registry_dir)):
                path = os.path.join(self.registry_dir, name)
                if not name.startswith(".") and stat.S_ISSOCK(os.lstat(path).st_mode):
                    return path
            return None
        return wait_until(found, "a socket in %s" % self.registry_dir)

    def get_info(self, path):
        with channel_to(path) as ch:
            return reg_svc.RegistrationStub(ch).GetInfo(reg_pb.InfoRequest(), timeout=DEADLINE)

    def notify(self, path, registered, error=""):
        with channel_to(path) as ch:
            reg_svc.RegistrationStub(ch).NotifyRegistrationStatus(
                reg_pb.RegistrationStatus(plugin_registered=registered, error=error),
                timeout=DEADLINE)

    def register(self, driver):
        """The plugin watcher's registration of the plugin of @driver. Returns the PluginInfo."""
        path = self.find_socket()
        info = self.get_info(path)
        problem = None
        if info.type != "DRAPlugin":
            problem = "plugin type %r is not handled" % info.type
        elif info.name != driver:
            problem = "plugin name %r is not the driver %r" % (info.name, driver)
        elif not info.endpoint or not os.path.exists(info.endpoint) or \
                not stat.S_ISSOCK(os.stat(info.endpoint).st_mode):
            problem = "endpoint %r is not a socket" % info.endpoint
        else:
            common = [v for v in self.versions if v in info.supported_versions]
            if not common:
                problem = "none of the versions %s is supported by the kubelet (%s)" % (
                    list(info.supported_versions), self.versions)
        if problem:
            self.notify(path, False, problem)
            raise Refused(problem)
        self.endpoint = info.endpoint
        # The newest version both speak.
        self.api = common[0].split(".")[0]
        self.notify(path, True)
        self.channel = channel_to(self.endpoint)
        return info

    def close(self):
        if self.channel:
            self.channel.close()
            self.channel = None

    def _stub(self, api):
        messages, service = pb[api or self.api]
        return messages, service.DRAPluginStub(self.channel)

    def prepare(self, claims, api=None):
        """NodePrepareResources of @claims [(namespace, name, uid)]: {uid: (devices, error)}
        with devices [(request_names, pool, device, cdi_ids)]."""
        messages, stub = self._stub(api)
        request = messages.NodePrepareResourcesRequest(
            claims=[messages.Claim(namespace=ns, name=name, uid=uid) for ns, name, uid in claims])
        response = stub.NodePrepareResources(request, timeout=CALL_TIMEOUT)
        answer = {uid: ([(list(d.request_names), d.pool_name, d.device_name,
                          list(d.cdi_device_ids)) for d in r.devices], r.error)
                  for uid, r in response.claims.items()}
        # The kubelet takes every claim it asked for from the answer.
        missing = {uid for _, _, uid in claims} - set(answer)
        assert not missing, "claims without an answer: %s" % missing
        return answer

    def unprepare(self, claims, api=None):
        """NodeUnprepareResources of @claims: {uid: error}."""
        messages, stub = self._stub(api)
        request = messages.NodeUnprepareResourcesRequest(
            claims=[messages.Claim(namespace=ns, name=name, uid=uid) for ns, name, uid in claims])
        response = stub.NodeUnprepareResources(request, timeout=CALL_TIMEOUT)
        answer = {uid: r.error for uid, r in response.claims.items()}
        missing = {uid for _, _, uid in claims} - set(answer)
        assert not missing, "claims without an answer: %s" % missing
        return answer


class Driver:
    """dra_test_plugin as a child process: its lines, and commands on its stdin."""

    def __init__(self, program, driver, plugin_dir, registry_dir, cdi_dir, fixture, *extra):
        self.proc = subprocess.Popen(
            [program, "--driver", driver, "--plugin-dir", plugin_dir, "--registry-dir",
             registry_dir, "--cdi-dir", cdi_dir, "--fixture", fixture] + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        ready = self.wait_line("READY ")
        _, self.socket, self.registration = ready.split()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_line(self, prefix, start=0, timeout=DEADLINE):
        """The first line from index @start that starts with @prefix."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if line is None:
                        raise AssertionError("dra_test_plugin exited (%s) before %r" %
                                             (self.proc.wait(), prefix))
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line %r from dra_test_plugin in %.0f s; got %s" %
                                         (prefix, timeout, self.lines))
                self.cond.wait(left)

    def mark(self):
        """The index after every line the plugin printed before this call (synced like since():
        lines of an answered call may still be in the pipe, and must not count as after it)."""
        self.command("status", "STATUS")
        with self.cond:
            return len(self.lines)

    def since(self, start, prefix):
        """The lines from index @start that start with @prefix, everything the plugin printed
        before this call included: a line printed by a callback reaches the pipe before the
        answer of its call, and the answer to a command comes after that in the pipe."""
        self.command("status", "STATUS")
        with self.cond:
            return [l for l in self.lines[start:] if l and l.startswith(prefix)]

    def command(self, text, answer_prefix):
        with self.cond:
            start = len(self.lines)
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.wait_line(answer_prefix, start)

    def quit(self):
        if self.proc.poll() is None:
            self.command("quit", "OK quit")
        assert self.proc.wait(timeout=DEADLINE) == 0
