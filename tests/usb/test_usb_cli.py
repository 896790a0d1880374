#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`hostdev list --usb` and `hostdev watch` on the fake USB tree of usb_tree.c (run by usb-fake-run under
umockdev-wrapper), and conformance with lsusb / lsusb -t (usbutils, through libusb and sysfs) on the
same tree. One case per ctest test: test_usb_cli.py --hostdev H --fake-run F --usb-ids U CASE."""
import argparse
import json
import re
import subprocess
import sys

ARGS = None
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def run(cmd, hotplug=False, timeout=300, unplug=None):
    """Run cmd (list) inside the fake tree; returns (status, stdout bytes, stderr text). With
    hotplug, usb-fake-run plugs a keyboard at 1-5 once cmd listens to uevents and unplugs it once
    cmd printed it (nothing is timed). timeout only bounds a hung run."""
    wrapper = ["umockdev-wrapper", ARGS.fake_run] + (["--hotplug"] if hotplug else [])
    wrapper += (["--unplug", unplug] if unplug else []) + ["--"]
    p = subprocess.run(wrapper + cmd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def hostdev(*args, **kw):
    return run([ARGS.hostdev, "--node-name", "node1"] + list(args), **kw)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def usb_json(*extra):
    status, out, err = hostdev("list", "--usb", "--json", "--usb-ids", ARGS.usb_ids, *extra)
    check(status == 0, f"list --usb --json exit {status}: {err}")
    doc = json.loads(out.decode("utf-8"))  # strict UTF-8: hostile bytes must have been replaced
    check(doc["schema_version"] == 1, "schema_version")
    return doc["usb_devices"]


@case
def list_text():
    status, out, err = hostdev("list", "--usb", "--usb-ids", ARGS.usb_ids)
    check(status == 0, f"exit {status}: {err}")
    lines = out.decode("ascii").splitlines()  # non-ASCII bytes are escaped as \xNN
    check([l.split()[0] for l in lines] == ["1-1", "1-2.1", "1-2.2", "1-2.3", "1-2.4", "1-3", "2-1"],
          f"devices: {lines}")
    check(lines[0] == "1-1 Bus 001 Device 002: ID 0627:0001 Adomax Technology Co., Ltd QEMU Tablet "
          "class=03 (Human Interface Device) speed=12M drivers=usbhid serial=42 "
          "port_id=node1-000000140-usb2-1", lines[0])
    check("Bad \\xff\\xfe Vendor \\xc3" in lines[5], lines[5][:80])
    check(lines[3].endswith("serial=none port_id=node1-000000140-usb2-2.3"), lines[3])


@case
def list_json():
    devs = {d["name"]: d for d in usb_json("--hubs")}
    check(list(devs) == ["usb1", "1-1", "1-2", "1-2.1", "1-2.2", "1-2.3", "1-2.4", "1-3", "usb2", "2-1"],
          f"order {list(devs)}")
    check(devs["usb1"]["is_root_hub"] and devs["usb1"]["port_path"] == "1-0", "root hub")
    a, b = devs["1-2.1"], devs["1-2.2"]
    check(a["names"]["serial_id"] != b["names"]["serial_id"], "twins with serials")
    c, d = devs["1-2.3"], devs["1-2.4"]
    check(c["names"]["serial_id"] is None and c["serial"] is None, "no serial")
    check(c["names"]["port_id"] != d["names"]["port_id"], "twins told apart by port")
    odd = devs["1-3"]
    check(odd["manufacturer"] == "Bad \ufffd\ufffd Vendor \ufffd", odd["manufacturer"])
    check(len(odd["product"]) == 5000, "long product kept")
    for dev in devs.values():
        for key in ("port_id", "serial_id"):
            v = dev["names"][key]
            check(v is None or re.fullmatch(r"[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?", v), v)
    check(devs["2-1"]["devnode"] == "/dev/bus/usb/002/002", devs["2-1"]["devnode"])
    check(devs["2-1"]["names"]["object_name"] == "node1-0951-1666-002002", "harvester name")
    check(devs["2-1"]["names"]["resource_name"] == "kubevirt.io/node1-0951-1666-002002", "resource")


@case
def list_filters():
    names = lambda *a: [d["name"] for d in usb_json(*a)]
    check(names("-d", "1050:0407") == ["1-2.1", "1-2.2"], "id")
    check(names("--serial", "22222222") == ["1-2.2"], "serial")
    check(names("--port", "1-2.4") == ["1-2.4"], "port")
    check(names("--port", "1-2.*", "-d", "0403:") == ["1-2.3", "1-2.4"], "port below + id")
    check(names("--hubs", "-d", "1d6b:") == ["usb1", "usb2"], "root hubs")
    check(names("--serial", "nope") == [], "no match")
    for bad in (["-d", "xyz"], ["--port", "usb1"], ["--serial", ""], ["-s", "00:01.0"],
                ["--driver", "usbhid"], ["extra"]):
        status, _, err = hostdev("list", "--usb", *bad)
        check(status == 2 and "hostdev: list:" in err, f"{bad}: exit {status} {err}")


def parse_lsusb(text):
    """{(bus, dev): (vid:pid, description)} from plain lsusb."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"Bus (\d{3}) Device (\d{3}): ID ([0-9a-f]{4}:[0-9a-f]{4}) ?(.*)$", line)
        check(m, f"lsusb line {line!r}")
        out[(int(m[1]), int(m[2]))] = (m[3], m[4])
    return out


@case
def lsusb():
    status, out, err = run(["lsusb"])
    check(status == 0, f"lsusb: {err}")
    theirs = parse_lsusb(out.decode("utf-8", "replace"))
    ours = {(d["busnum"], d["devnum"]): d for d in usb_json("--hubs")}
    check(set(theirs) == set(ours), f"bus/dev differ: {sorted(theirs)} vs {sorted(ours)}")
    for key, (ids, desc) in theirs.items():
        d = ours[key]
        check(ids == f"{d['vendor_id']}:{d['product_id']}", f"{key}: {ids}")
        # Without a udev hwdb lsusb prints the device's strings; it cuts long ones.
        strings = " ".join(s for s in (d["manufacturer"], d["product"]) if s)
        check(strings.startswith(desc.strip()[:40]) or desc.strip() == "", f"{key}: {desc!r} vs {strings!r}")


def parse_lsusb_tree(text):
    """[(bus, port chain, dev, interface or None, driver, speed)] from lsusb -t."""
    rows, stack, bus = [], [], None
    for line in text.splitlines():
        m = re.match(r"/:  Bus (\d+)\.Port \d+: Dev (\d+), Class=root_hub, Driver=([^,]*), (\S+)$", line)
        if m:
            bus, stack = int(m[1]), []
            rows.append((bus, "0", int(m[2]), None, None, m[4]))
            continue
        m = re.match(r"( *)\|__ Port (\d+): Dev (\d+), If (\d+), Class=[^,]*, Driver=([^,]*), (\S+)$", line)
        check(m and bus, f"lsusb -t line {line!r}")
        depth = (len(m[1]) - 4) // 4
        stack = stack[:depth] + [m[2]]
        driver = m[5].split("/")[0] or None
        rows.append((bus, ".".join(stack), int(m[3]), int(m[4]), driver, m[6]))
    return rows


@case
def lsusb_tree():
    status, out, err = run(["lsusb", "-t"])
    check(status == 0, f"lsusb -t: {err}")
    theirs = sorted(parse_lsusb_tree(out.decode("utf-8", "replace")), key=repr)
    ours = []
    for d in usb_json("--hubs"):
        speed = d["speed"] + "M"
        chain = d["port_path"].split("-", 1)[1]
        if d["is_root_hub"]:
            ours.append((d["busnum"], "0", d["devnum"], None, None, speed))
            continue
        for i in d["interfaces"]:
            ours.append((d["busnum"], chain, d["devnum"], i["number"], i["driver"], speed))
    ours.sort(key=repr)
    check(theirs == ours, "lsusb -t differs:\n" + "\n".join(map(str, theirs)) + "\nours:\n" +
          "\n".join(map(str, ours)))


def watch_lines(*extra):
    status, out, err = hostdev("watch", "--usb", "--kernel", *extra, hotplug=True)
    check(status == 0, f"watch exit {status}: {err}")
    return out.decode("utf-8").splitlines()


@case
def watch_json():
    lines = watch_lines("--json", "--count", "2")
    check(len(lines) == 2, f"lines {lines}")
    add, remove = (json.loads(l) for l in lines)
    check(add["action"] == "add" and remove["action"] == "remove", f"{add['action']} {remove['action']}")
    for ev in (add, remove):
        check(ev["subsystem"] == "usb" and ev["name"] == "1-5", ev["name"])
        check(ev["device"]["vendor_id"] == "0627" and ev["device"]["devnum"] == 9, "device")
    # remove carries the last known attributes, read when the device was added
    check(remove["device"]["manufacturer"] == "QEMU" and not remove["partial"], "last known")
    ports = [ev["device"]["names"]["port_id"] for ev in (add, remove)]
    check(ports == ["node1-000000140-usb2-5"] * 2, ports)


@case
def watch_text():
    lines = watch_lines("--enumerate", "-d", "0627:", "--count", "3")
    check(len(lines) == 3, f"lines {lines}")
    check(lines[0].startswith("add usb 1-1 Bus 001 Device 002: ID 0627:0001") and lines[0].endswith(" replay"),
          lines[0])
    # The keyboard is plugged once the watch listens, which is before it enumerates: found by the
    # enumeration it is a replay, else a live add; once either way (docs/usb.md, ENUMERATE).
    check(lines[1].startswith("add usb 1-5 Bus 001 Device 009"), lines[1])
    check(lines[2].startswith("remove usb 1-5 ") and not lines[2].endswith(" replay"), lines[2])


@case
def watch_unplug_unseen():
    """A watch without --enumerate first hears of the keyboard 1-1 when it is unplugged (unbind,
    remove, directory gone): every event names the port identity `list` gives it, and an event
    whose device could not be read says it is partial."""
    status, out, err = hostdev("list", "--usb", "--json", "--port", "1-1")
    check(status == 0, err)
    port_id = json.loads(out)["usb_devices"][0]["names"]["port_id"]
    check(port_id == "node1-000000140-usb2-1", port_id)
    status, out, err = hostdev("watch", "--usb", "--kernel", "--json", "--count", "3", unplug="1-1")
    check(status == 0, f"watch exit {status}: {err}")
    events = [json.loads(line) for line in out.decode("utf-8").splitlines()]
    check([(ev["action"], ev["name"]) for ev in events] == [("add", "1-1"), ("unbind", "1-1"), ("remove", "1-1")],
          events)
    for ev in events:
        check(ev["device"]["names"]["port_id"] == port_id, ev)
        # Read before the directory went (complete), or built from the uevent (partial).
        check(ev["partial"] or ev["device"]["manufacturer"] == "QEMU", ev)
    check(events[2]["partial"] == events[0]["partial"], "the remove carries the add's snapshot")


@case
def watch_signal():
    # SIGTERM (and SIGINT) end the watch cleanly with status 0. The signal is sent once the watch
    # has printed its first (replayed) event, so it is known to be listening.
    for sig in ("TERM", "INT"):
        script = ("out=$(mktemp); "
                  f"{ARGS.hostdev} watch --kernel --usb --enumerate >$out & p=$!; "
                  "i=0; until [ -s $out ] || [ $i -gt 1000 ]; do sleep 0.1; i=$((i+1)); done; "
                  f"kill -{sig} $p; wait $p; s=$?; rm -f $out; exit $s")
        status, out, err = run(["sh", "-c", script])
        check(status == 0, f"SIG{sig}: exit {status}: {err}")


@case
def watch_usage():
    for bad in (["--count", "0"], ["--count", "x"], ["-d", "zz"], ["--class", "3"], ["extra"]):
        status, _, err = hostdev("watch", *bad)
        check(status == 2 and "hostdev: watch:" in err, f"{bad}: exit {status} {err}")
    status, out, _ = hostdev("watch", "--help")
    check(status == 0 and b"--enumerate" in out, "help")


@case
def schema_doc():
    """docs/json-schema.md lists exactly the keys the CLI prints for USB, in order."""
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "json-schema.md")
    sections, current = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^#+ .*\(`(\w+)`\)\s*$", line)
        if m:
            current = m.group(1)
            sections[current] = []
            continue
        m = re.match(r"^\| `(\w+)` \|", line)
        if m and current:
            sections[current].append(m.group(1))
    status, out, err = hostdev("list", "--usb", "--json", "--usb-ids", ARGS.usb_ids)
    check(status == 0, err)
    doc = json.loads(out)
    dev = doc["usb_devices"][0]
    lines = watch_lines("--json", "--count", "1")
    expected = {"list_usb": list(doc), "usb_device": list(dev), "usb_interface": list(dev["interfaces"][0]),
                "usb_names": list(dev["names"]), "watch_event": list(json.loads(lines[0]))}
    for name, keys in expected.items():
        check(sections.get(name) == keys, f"json-schema.md `{name}`: {sections.get(name)} vs output {keys}")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--hostdev", required=True)
    p.add_argument("--fake-run", required=True)
    p.add_argument("--usb-ids", required=True)
    p.add_argument("--check-registered", nargs="*")
    p.add_argument("case", nargs="?")
    ARGS = p.parse_args()
    if ARGS.check_registered is not None:
        missing = set(CASES) - set(ARGS.check_registered)
        print("missing:", sorted(missing) if missing else "none")
        return 1 if missing else 0
    try:
        CASES[ARGS.case]()
    except AssertionError as e:
        print(f"FAIL {ARGS.case}: {e}")
        return 1
    print(f"ok {ARGS.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
