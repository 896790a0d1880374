# SPDX-License-Identifier: Apache-2.0
"""The device-plugin server against peers that misbehave: other users, clients that never read,
connections that never say anything, huge requests, and a kubelet that asks while the plugin is
busy. Same harness as test_deviceplugin.py (dp_test_plugin driven through its FIFO, Python grpcio
peers); run by ctest as deviceplugin.hostile.
"""
import os
import socket
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_kubelet as fk  # noqa: E402
from test_deviceplugin import protos, root, start_plugin, stub  # noqa: E402,F401

NOBODY = 65534

# A client in a process of its own, as user NOBODY: connect, read what the server sends first
# (its SETTINGS, right after accept), print how many bytes came (0: the server closed) or the
# error of connect().
CONNECT_AS = r"""
import os, socket, sys
os.setgroups([])
os.setgid(%d)
os.setuid(%d)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror)
    sys.exit(0)
s.settimeout(30)
print(len(s.recv(100)))
""" % (NOBODY, NOBODY)


def connect_as_nobody(path):
    r = subprocess.run([sys.executable, "-c", CONNECT_AS, path], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("connecting as another user needs root")


# --------------------------------------------------------------------------------------------
# Who may connect


def test_socket_is_private_whatever_the_umask(root):
    old = os.umask(0)
    try:
        p = start_plugin(root, mode="none")
    finally:
        os.umask(old)
    st = os.stat(p.socket)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()


def test_other_users_are_refused(root):
    needs_root()
    os.chmod(root, 0o755)
    p = start_plugin(root, mode="none")
    # The file's mode keeps them out...
    assert connect_as_nobody(p.socket) == "connect: Permission denied"
    # ...and when it is widened by hand, the peer's credentials still do.
    os.chmod(p.socket, 0o666)
    assert connect_as_nobody(p.socket) == "0"
    assert "from pid" in p.read_log()
    assert ("refused: user %d may not use this socket (root may)" % NOBODY) in p.read_log()
    # Root is served: SETTINGS arrive, and a call works.
    s = socket.socket(socket.AF_UNIX)
    s.connect(p.socket)
    s.settimeout(30)
    assert len(s.recv(100)) > 0
    s.close()
    assert stub(p.socket).GetDevicePluginOptions(fk.pb.Empty(), timeout=30) is not None


def test_kubelet_uid_is_served(root):
    needs_root()
    os.chmod(root, 0o755)
    p = start_plugin(root, mode="none", args=["--kubelet-uid", str(NOBODY)])
    st = os.stat(p.socket)
    assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o600
    assert int(connect_as_nobody(p.socket)) > 0
    assert "refused" not in p.read_log()
