# SPDX-License-Identifier: Apache-2.0
"""A fake kubelet for the device-plugin interop tests, written with Python grpcio (an independent
gRPC implementation), and a driver for tests/deviceplugin/dp_test_plugin.

The kubelet part behaves like the real one where it matters to a plugin:
- it serves v1beta1.Registration/Register on <dir>/kubelet.sock and, inside Register, dials the
  plugin back and calls GetDevicePluginOptions (kubelet >= 1.25), then opens ListAndWatch;
- a restart deletes every file of the directory but kubelet_internal_checkpoint and creates
  kubelet.sock anew;
- its plugin watcher finds sockets in plugins_registry, calls GetInfo with a 1 s deadline,
  reports with NotifyRegistrationStatus and connects to the endpoint.
"""
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

CHECKPOINT = "kubelet_internal_checkpoint"

# Every wait of the tests is for an event (a message, a registration, a line of the plugin); this
# only bounds it, generously, so that a loaded machine (sanitizers, CPU hogs) is never mistaken
# for a failure. HOSTDEV_TEST_TIMEOUT_SCALE multiplies it (valgrind).
DEADLINE = 30.0 * float(os.environ.get("HOSTDEV_TEST_TIMEOUT_SCALE", "1"))


def wait_until(predicate, what, timeout=DEADLINE, interval=0.01):
    """Poll @predicate (a state with no notification of its own) until it is true; returns its
    value. AssertionError naming @what when it stays false for @timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)

pb = svc = reg_pb = reg_svc = None


# The plugin watcher's messages, shared with the DRA plugins: src/pluginreg/proto.
REGISTRATION_PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src",
                                      "pluginreg", "proto")


def load_protos(proto_dir, out_dir):
    """Compile the .proto files with grpc_tools into @out_dir and import them: the device-plugin
    API from @proto_dir, the registration API from src/pluginreg/proto."""
    global pb, svc, reg_pb, reg_svc
    files = ["deviceplugin_v1beta1.proto", "deviceplugin_v1beta1_service.proto",
             "pluginregistration_v1.proto", "pluginregistration_v1_service.proto"]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
                    "-I", REGISTRATION_PROTO_DIR,
                    "--python_out", out_dir, "--grpc_python_out", out_dir] + files, check=True)
    sys.path.insert(0, out_dir)
    import deviceplugin_v1beta1_pb2
    import deviceplugin_v1beta1_service_pb2_grpc
    import pluginregistration_v1_pb2
    import pluginregistration_v1_service_pb2_grpc
    pb, svc = deviceplugin_v1beta1_pb2, deviceplugin_v1beta1_service_pb2_grpc
    reg_pb, reg_svc = pluginregistration_v1_pb2, pluginregistration_v1_service_pb2_grpc


def devices_of(response):
    """A ListAndWatchResponse as [(id, health, [numa nodes] or None)]."""
    return [(d.ID, d.health,
             [n.ID for n in d.topology.nodes] if d.HasField("topology") else None)
            for d in response.devices]


def channel_to(path, authority=None):
    # A connection of its own per channel, like separate client processes (grpcio shares
    # connections between channels of the same target by default).
    options = [("grpc.use_local_subchannel_pool", 1)]
    if authority:
        options.append(("grpc.default_authority", authority))
    return grpc.insecure_channel("unix:" + path, options=options)


class Watch:
    """One ListAndWatch stream read on a thread: every list with its arrival time, and the end."""

    def __init__(self, channel, name="watch"):
        self.channel = channel
        self.lists = []  # (monotonic time, devices_of(...))
        self.ended = None  # grpc.StatusCode, or "ok" for a normal end
        self.cond = threading.Condition()
        self.call = svc.DevicePluginStub(channel).ListAndWatch(pb.Empty())
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for response in self.call:
                with self.cond:
                    self.lists.append((time.monotonic(), devices_of(response)))
                    self.cond.notify_all()
            end = "ok"
        except grpc.RpcError as e:
            end = e.code()
        with self.cond:
            self.ended = end
            self.cond.notify_all()

    def wait(self, predicate, timeout=DEADLINE):
        """Wait until predicate(self) is true; returns it (the last value on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self)
                left = deadline - time.monotonic()
                if value or left <= 0:
                    return value
                self.cond.wait(left)

    def wait_lists(self, n, timeout=DEADLINE):
        return self.wait(lambda w: len(w.lists) >= n, timeout)

    def last(self):
        """The devices of the newest list; () before the first, so that a predicate waiting for a
        device in it reads "not yet" instead of failing on None, and still never equals a list the
        server sent (an empty list is [])."""
        with self.cond:
            return self.lists[-1][1] if self.lists else ()

    def cancel(self):
        self.call.cancel()


class FakeKubelet:
    """Registration server on <plugin_dir>/kubelet.sock, plus the kubelet's side of each plugin."""

    def __init__(self, root, dial_back=True, authority=None, refuse=None, watch=True):
        self.root = root
        self.plugin_dir = os.path.join(root, "device-plugins")
        self.registry_dir = os.path.join(root, "plugins_registry")
        self.socket = os.path.join(self.plugin_dir, "kubelet.sock")
        self.dial_back = dial_back
        self.authority = authority
        self.refuse = refuse  # None, or a message to refuse Register with
        self.watch = watch
        self.registrations = []  # (monotonic time, RegisterRequest, DevicePluginOptions)
        self.watches = []
        self.errors = []
        self.cond = threading.Condition()
        self.server = None
        self.channels = []

    # -- Registration service --------------------------------------------------------------

    def Register(self, request, context):
        options = None
        if self.refuse:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, self.refuse)
        endpoint = os.path.join(self.plugin_dir, request.endpoint)
        if self.dial_back:
            # kubelet >= 1.25: dial the plugin and ask for its options inside Register.
            channel = channel_to(endpoint, self.authority)
            try:
                options = svc.DevicePluginStub(channel).GetDevicePluginOptions(
                    pb.Empty(), timeout=DEADLINE)
            except grpc.RpcError as e:
                self.errors.append("GetDevicePluginOptions inside Register: %s" % e)
                channel.close()
                context.abort(grpc.StatusCode.UNAVAILABLE, "cannot dial the plugin back")
            with self.cond:
                self.channels.append(channel)
                if self.watch:
                    self.watches.append(Watch(channel, "watch-%s" % request.resource_name))
        with self.cond:
            self.registrations.append((time.monotonic(), request, options))
            self.cond.notify_all()
        return pb.Empty()

    def start(self):
        os.makedirs(self.plugin_dir, exist_ok=True)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handler = svc.RegistrationServicer()
        handler.Register = self.Register
        svc.add_RegistrationServicer_to_server(handler, self.server)
        self.server.add_insecure_port("unix:" + self.socket)
        self.server.start()
        return self

    def stop(self):
        if self.server:
            self.server.stop(0).wait()
            self.server = None
        with self.cond:
            for w in self.watches:
                w.cancel()
            for c in self.channels:
                c.close()
            self.channels = []

    def restart(self, delay=0.0):
        """What a kubelet restart does to the directory: every socket deleted, not the
        checkpoint; then a new kubelet.sock."""
        self.stop()
        for name in os.listdir(self.plugin_dir):
            if name != CHECKPOINT:
                os.unlink(os.path.join(self.plugin_dir, name))
        time.sleep(delay)
        return self.start()

    def wait_registrations(self, n, timeout=DEADLINE):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.registrations) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def last_watch(self):
        with self.cond:
            return self.watches[-1] if self.watches else None

    # -- Plugin watcher --------------------------------------------------------------------

    def find_registry_socket(self, timeout=DEADLINE):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.isdir(self.registry_dir):
                for name in sorted(os.listdir(self.registry_dir)):
                    path = os.path.join(self.registry_dir, name)
                    if not name.startswith(".") and os.path.exists(path):
                        import stat
                        if stat.S_ISSOCK(os.stat(path).st_mode):
                            return path
            time.sleep(0.01)
        return None


class Plugin:
    """dp_test_plugin as a child process, driven through its control FIFO."""

    def __init__(self, binary, root, resource="example.com/dev", mode="classic",
                 devices="dev-a:1:0,dev-b:1:1,dev-c:1:-1,dev-d:0:0", args=()):
        self.root = root
        self.fifo = tempfile.mktemp(prefix="dp-control-", dir=root)
        os.mkfifo(self.fifo)
        self.log_path = os.path.join(root, "plugin-%d.log" % len(os.listdir(root)))
        self.log = open(self.log_path, "w")
        cmd = [binary, "--kubelet-dir", root, "--resource", resource, "--control", self.fifo,
               "--mode", mode] + (["--devices", devices] if devices else []) + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1)
        self.lines = queue.Queue()
        self.events = []  # PRESTART / PREFERRED / LIST-BLOCKED lines
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.expect("READY")
        self.socket = ready.split(" ", 1)[1] if ready else None
        self.started = time.monotonic()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith(("PRESTART", "PREFERRED", "LIST-BLOCKED")):
                self.events.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, prefix, timeout=DEADLINE):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.startswith(prefix):
                return line

    def _write(self, line):
        # Never create a regular file in place of a FIFO that is gone.
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def command(self, line, timeout=DEADLINE):
        self._write(line)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no answer to %r; log:\n%s" % (line, self.read_log()))
            reply = self.lines.get(timeout=left)
            if reply is None:
                raise AssertionError("plugin exited during %r; log:\n%s" % (line, self.read_log()))
            if reply == "OK " + line:
                return True
            if reply.startswith("ERR " + line):
                raise AssertionError(reply)

    def status(self):
        """(state, registrations, socket path)"""
        self._write("status")
        line = self.expect("STATUS")
        self.expect("OK status")
        _, state, regs, path = line.split(" ", 3)
        return int(state), int(regs), path

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def quit(self, timeout=DEADLINE):
        """Ask the plugin to stop and exit; returns its exit code."""
        if self.proc.poll() is None:
            try:
                self.command("quit")
            except (AssertionError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
