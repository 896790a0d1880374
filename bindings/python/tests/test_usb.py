# SPDX-License-Identifier: Apache-2.0
"""USB devices and the hot-plug monitor through the binding, on the fake USB tree of tests/usb.

libudev reads the real /sys, so the code under test runs inside umockdev (umockdev-wrapper +
usb-fake-run, which builds the standard tree of tests/usb/usb_tree.c and, with --hotplug, plugs a
keyboard 0627:0001 in at port 1-5 once the command printed its ready line, and out once the
command printed the keyboard: nothing is timed).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import need_env


def in_testbed(code, *args, hotplug=None, script=None):
    """Run Python @code (or @script) with @args in the fake tree; its output. @hotplug: the line
    (a part of it) after which the command is ready for the keyboard."""
    fake_run = need_env("HOSTDEV_TEST_USB_FAKE_RUN")
    wrapper = shutil.which("umockdev-wrapper")
    if not wrapper:
        pytest.skip("umockdev-wrapper is not installed (Debian umockdev)")
    env = dict(os.environ)
    env.pop("HOSTDEV_KMODEL_ROOT", None)
    cmd = [wrapper, fake_run] + (["--hotplug", "--ready", hotplug] if hotplug else [])
    cmd += ["--", sys.executable] + ([script] if script else ["-c", textwrap.dedent(code)])
    # A bound for a hung run only (usb-fake-run kills its command after 120 s itself).
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout


DUMP = """
import json, sys
import hostdev
out = []
with hostdev.Context(usb_ids=sys.argv[1], node_name="node1") as ctx:
    for d in ctx.usb_devices(**json.loads(sys.argv[2])):
        out.append(dict(name=d.name, port=d.port_path, ids=[d.vendor_id, d.product_id],
                        cls=d.class_code, class_name=d.class_name, vendor=d.vendor_name,
                        manufacturer=d.manufacturer, serial=d.serial, speed=d.speed,
                        bus=d.busnum, dev=d.devnum, ctrl=d.controller_address, hub=d.is_hub,
                        root=d.is_root_hub, port_id=d.port_id, serial_id=d.serial_id,
                        object_name=d.object_name, resource=d.resource_name,
                        interfaces=[list(i) for i in d.interfaces],
                        json_name=d.as_dict()["name"],
                        raw_manufacturer=None if d.manufacturer is None else
                            list(d.manufacturer.encode("utf-8", "surrogateescape"))))
    try:
        ctx.usb_device("9-9")
    except hostdev.NotFound as e:
        out.append(dict(error=e.errno, message=e.message))
print(json.dumps(out))
"""


def usb_devices(**filters):
    return json.loads(in_testbed(DUMP, need_env("HOSTDEV_TEST_USB_IDS"), json.dumps(filters)))


def test_usb_enumeration():
    devices = usb_devices()
    err = devices.pop()
    assert err["error"] == 19 and "9-9" in err["message"]
    assert [d["name"] for d in devices] == ["1-1", "1-2.1", "1-2.2", "1-2.3", "1-2.4", "1-3", "2-1"]
    kbd = devices[0]
    assert kbd["ids"] == [0x0627, 0x0001] and kbd["serial"] == "42" and kbd["speed"] == "12"
    assert kbd["cls"] == 3 and kbd["class_name"] == "Human Interface Device"
    assert kbd["ctrl"] == "0000:00:14.0" and kbd["port_id"] == "node1-000000140-usb2-1"
    assert kbd["interfaces"][0][2:] == [3, 1, 1, "usbhid"]
    assert kbd["object_name"] == "node1-0627-0001-%03d%03d" % (kbd["bus"], kbd["dev"])
    assert kbd["resource"] == "kubevirt.io/" + kbd["object_name"] and kbd["json_name"] == "1-1"
    assert devices[3]["serial"] is None and devices[3]["serial_id"] is None
    # Bytes that are not UTF-8 survive the trip (surrogateescape).
    assert bytes(devices[5]["raw_manufacturer"]) == b"Bad \xff\xfe Vendor \xc3"
    assert len(devices[5]["serial_id"]) <= 63


def test_usb_filters():
    assert [d["name"] for d in usb_devices(ids="1050:")[:-1]] == ["1-2.1", "1-2.2"]
    assert [d["name"] for d in usb_devices(serial="22222222")[:-1]] == ["1-2.2"]
    assert [d["name"] for d in usb_devices(port="1-2.*")[:-1]] == ["1-2.1", "1-2.2", "1-2.3", "1-2.4"]
    with_hubs = [d["name"] for d in usb_devices(hubs=True)[:-1]]
    assert "usb1" in with_hubs and "1-2" in with_hubs


def test_monitor_replay_and_errors():
    out = in_testbed("""
        import hostdev
        with hostdev.Context() as ctx:
            try:
                ctx.monitor(subsystems="floppy")
            except hostdev.InvalidArgument as e:
                print("error", e.errno)
            with ctx.monitor(subsystems="usb", ids="0627:") as mon:
                try:
                    mon.fileno()
                except hostdev.Error as e:
                    print("fileno before start", e.errno)
                for ev in mon.start(enumerate=True, kernel=True):
                    print(ev.action, ev.subsystem, ev.name, ev.replay, ev.device.serial)
                print("pending", mon.process())
    """)
    assert out.splitlines() == ["error 22", "fileno before start 9", "add usb 1-1 True 42",
                                "pending []"]


def test_watch_example_sees_hotplug():
    example = os.path.join(need_env("HOSTDEV_TEST_PYTHON_EXAMPLES"), "watch_usb.py")
    # Plugged once the example printed "watching": after its enumeration, so a live add (one
    # plugged during the enumeration may be a replay, docs/usb.md). --timeout only bounds a hang.
    out = in_testbed(None, "--kernel", "-d", "0627:", "--enumerate", "--count", "3", "--timeout", "100",
                     hotplug="watching (fd ", script=example)
    lines = out.splitlines()
    assert lines[0].startswith("watching (fd ")
    assert lines[1] == "add 1-1 0627:0001 port=1-1 (present)"
    assert lines[2] == "add 1-5 0627:0001 port=1-5"
    assert lines[3] == "remove 1-5 0627:0001 port=1-5"
