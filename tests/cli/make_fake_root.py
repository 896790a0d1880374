#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Build the fake root the CLI tests read: a small server-like sysfs in the kernel's layout.

Usage: make_fake_root.py DIR   (DIR must not exist or be empty; it is filled with DIR/sys/...)

The tree: a host bridge (known vendor, unknown device), a root port with a GPU (mdev parent with
three types, one with awkward bytes in its description, and one active mdev that no process holds)
and its audio function sharing one IOMMU group, an integrated boot VGA device, a device of an unknown vendor without IOMMU group, driver,
subsystem or modalias, a second root port with a two-port X710 (port 0 is a PF with two VFs, one VF
on iavf with a netdev, one on vfio-pci with driver_override), and an NVMe controller in PCI domain
10000 (VMD style). Attributes are written byte for byte as the kernel formats them and links are
relative, so lspci (pciutils) reads the same tree.

DIR/lib/modules/KERNEL_VERSION holds one tiny ELF object per kernel module (a .modinfo section with
its PCI aliases, compiled with cc) indexed by the real depmod, so that libkmod resolves the
modaliases as on a real system (hostdev --modules-dir DIR/lib/modules/KERNEL_VERSION).
"""
import os
import shutil
import struct
import subprocess
import sys

DEVICES = [
    # address, parent address (None: root bus), ids, class, revision, extra attributes
    dict(addr="0000:00:00.0", vendor=0x8086, device=0x3e0f, sv=0x8086, sd=0x3e0f,
         cls=0x060000, rev=0x0a, group=0),
    dict(addr="0000:00:01.0", vendor=0x8086, device=0x1901, sv=0x8086, sd=0x1901,
         cls=0x060400, rev=0x0a, driver="pcieport", group=1),
    dict(addr="0000:01:00.0", parent="0000:00:01.0", vendor=0x10de, device=0x1eb8, sv=0x10de,
         sd=0x12a2, cls=0x030200, rev=0xa1, driver="nvidia", group=1, numa=1,
         mdev_types=[
             dict(id="nvidia-222", name="GRID T4-1B", available=16, api="vfio-pci",
                  description=b"num_heads=4, frl_config=45, framebuffer=1024M, "
                              b"max_resolution=5120x2880, max_instance=16"),
             dict(id="nvidia-223", name="GRID T4-2B", available=0, api="vfio-pci",
                  description=b"num_heads=4, frl_config=45, framebuffer=2048M"),
             # Bytes a driver may hand out: quotes, backslash, tab, a second line, and 0xff
             # (not UTF-8). No name and no available_instances file.
             dict(id="test-odd", name=None, available=None, api="vfio-pci",
                  description=b'say "hi"\\path\tTAB\nline two \xff end'),
         ],
         mdevs=[dict(uuid="4b20d080-1b54-4048-85b3-a6a62d165c01", type="nvidia-222", group=50)]),
    dict(addr="0000:01:00.1", parent="0000:00:01.0", vendor=0x10de, device=0x10f8, sv=0x10de,
         sd=0x12a2, cls=0x040300, rev=0xa1, driver="snd_hda_intel", group=1, numa=1),
    dict(addr="0000:00:02.0", vendor=0x8086, device=0x3e92, sv=0x1028, sd=0x0869,
         cls=0x030000, rev=0x02, driver="i915", group=2, boot_vga=1),
    dict(addr="0000:00:1f.0", vendor=0x1234, device=0x5678, sv=None, sd=None, cls=0xff0000,
         rev=0x00, modalias=False),
    dict(addr="0000:3a:00.0", vendor=0x8086, device=0x2030, sv=0x8086, sd=0x0000,
         cls=0x060400, rev=0x04, driver="pcieport", group=11, numa=0),
    dict(addr="0000:3b:00.0", parent="0000:3a:00.0", vendor=0x8086, device=0x1572, sv=0x8086,
         sd=0x0007, cls=0x020000, rev=0x02, driver="i40e", group=12, numa=0, net=["ens4f0"],
         slot="4", sriov=dict(total=64, num=2, vf_device=0x154c,
                              vfs=["0000:3b:02.0", "0000:3b:02.1"])),
    dict(addr="0000:3b:00.1", parent="0000:3a:00.0", vendor=0x8086, device=0x1572, sv=0x8086,
         sd=0x0007, cls=0x020000, rev=0x02, driver="i40e", group=13, numa=0, net=["ens4f1"],
         slot="4", sriov=dict(total=64, num=0, vf_device=0x154c, vfs=[])),
    dict(addr="0000:3b:02.0", parent="0000:3a:00.0", vendor=0x8086, device=0x154c, sv=0x8086,
         sd=0x0000, cls=0x020000, rev=0x02, driver="iavf", group=40, numa=0,
         net=["ens4f0v0"], physfn="0000:3b:00.0"),
    dict(addr="0000:3b:02.1", parent="0000:3a:00.0", vendor=0x8086, device=0x154c, sv=0x8086,
         sd=0x0000, cls=0x020000, rev=0x02, driver="vfio-pci", override="vfio-pci", group=41,
         numa=0, physfn="0000:3b:00.0"),
    dict(addr="10000:01:00.0", vendor=0x144d, device=0xa808, sv=0x144d, sd=0xa801,
         cls=0x010802, rev=0x00, driver="nvme"),
]


KERNEL_VERSION = "6.1.0-hostdev-test"

# Module name -> aliases, in the form the kernel's MODULE_DEVICE_TABLE produces them.
MODULES = {
    "i40e": ["pci:v00008086d00001572sv*sd*bc*sc*i*"],
    "iavf": ["pci:v00008086d0000154Csv*sd*bc*sc*i*"],
    "i915": ["pci:v00008086d00003E92sv*sd*bc03sc*i*"],
    "nouveau": ["pci:v000010DEd*sv*sd*bc03sc*i*"],
    "nvidia": ["pci:v000010DEd*sv*sd*bc03sc02i00"],
    "snd_hda_intel": ["pci:v000010DEd*sv*sd*bc04sc03i00"],
    "nvme": ["pci:v*d*sv*sd*bc01sc08i02"],
}


def find_tool(names, extra_dirs=()):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
        for d in extra_dirs:
            if os.access(os.path.join(d, name), os.X_OK):
                return os.path.join(d, name)
    sys.exit("make_fake_root.py: none of %s is installed" % ", ".join(names))


def build_modules(root):
    moddir = os.path.join(root, "lib/modules", KERNEL_VERSION)
    cc = find_tool([os.environ.get("CC", "cc"), "cc", "gcc", "clang"])
    depmod = find_tool(["depmod"], ["/usr/sbin", "/sbin"])
    for name, aliases in MODULES.items():
        info = "".join("alias=%s\\0" % a for a in aliases) + "license=GPL\\0name=%s" % name
        src = os.path.join(root, "tmp-%s.c" % name)
        write(src, '__attribute__((section(".modinfo"), used, aligned(1)))\n'
                   'static const char modinfo[] = "%s";\n' % info)
        ko = os.path.join(moddir, "kernel/drivers", name + ".ko")
        os.makedirs(os.path.dirname(ko), exist_ok=True)
        subprocess.run([cc, "-c", src, "-o", ko], check=True)
        os.unlink(src)
    # Files depmod reads next to the modules; libkmod needs the indexes it makes from them.
    for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        write(os.path.join(moddir, f), "")
    subprocess.run([depmod, "-b", root, KERNEL_VERSION], check=True,
                   stderr=subprocess.DEVNULL)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def link(path, target):
    """A relative symlink at @path to the absolute @target, as the kernel makes them."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(os.path.relpath(target, os.path.dirname(path)), path)


def config_space(d):
    """The 64-byte standard header lspci reads before printing a device."""
    cfg = bytearray(256)
    struct.pack_into("<HH", cfg, 0, d["vendor"], d["device"])
    cfg[8] = d["rev"]
    cfg[9] = d["cls"] & 0xff
    cfg[10] = (d["cls"] >> 8) & 0xff
    cfg[11] = (d["cls"] >> 16) & 0xff
    is_bridge = (d["cls"] >> 8) == 0x0604
    cfg[14] = 0x01 if is_bridge else 0x00
    if not is_bridge and d.get("sv") is not None:
        struct.pack_into("<HH", cfg, 0x2c, d["sv"], d["sd"])
    return bytes(cfg)


def build(root):
    sysfs = os.path.join(root, "sys")
    dev_dirs = {}
    for d in DEVICES:
        domain, bus = d["addr"].split(":")[:2]
        if d.get("parent"):
            base = dev_dirs[d["parent"]]
        else:
            base = os.path.join(sysfs, "devices", "pci%s:%s" % (domain, bus))
        dev_dirs[d["addr"]] = os.path.join(base, d["addr"])

    for d in DEVICES:
        a, p = d["addr"], dev_dirs[d["addr"]]
        os.makedirs(p)
        write(p + "/vendor", "0x%04x\n" % d["vendor"])
        write(p + "/device", "0x%04x\n" % d["device"])
        if d.get("sv") is not None:
            write(p + "/subsystem_vendor", "0x%04x\n" % d["sv"])
            write(p + "/subsystem_device", "0x%04x\n" % d["sd"])
        write(p + "/class", "0x%06x\n" % d["cls"])
        write(p + "/revision", "0x%02x\n" % d["rev"])
        write(p + "/numa_node", "%d\n" % d.get("numa", -1))
        write(p + "/driver_override", "%s\n" % d.get("override", "(null)"))
        write(p + "/enable", "1\n")
        write(p + "/config", config_space(d))
        sv, sd = d.get("sv") or 0, d.get("sd") or 0
        if d.get("modalias", True):
            write(p + "/modalias", "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n" % (
                d["vendor"], d["device"], sv, sd, d["cls"] >> 16, (d["cls"] >> 8) & 0xff,
                d["cls"] & 0xff))
        uevent = "PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n" % (
            d["cls"], d["vendor"], d["device"], sv, sd, a)
        if d.get("driver"):
            uevent = "DRIVER=%s\n" % d["driver"] + uevent
        write(p + "/uevent", uevent)
        if (d["cls"] >> 8) == 0x0300:
            write(p + "/boot_vga", "%d\n" % d.get("boot_vga", 0))
        link(os.path.join(sysfs, "bus/pci/devices", a), p)
        link(p + "/subsystem", os.path.join(sysfs, "bus/pci"))
        if d.get("driver"):
            drv = os.path.join(sysfs, "bus/pci/drivers", d["driver"])
            os.makedirs(drv, exist_ok=True)
            link(p + "/driver", drv)
            link(os.path.join(drv, a), p)
        if d.get("group") is not None:
            grp = os.path.join(sysfs, "kernel/iommu_groups", str(d["group"]))
            os.makedirs(grp + "/devices", exist_ok=True)
            link(p + "/iommu_group", grp)
            link(os.path.join(grp, "devices", a), p)
        for ifname in d.get("net", []):
            write(p + "/net/%s/address" % ifname, "3c:fd:fe:00:00:%02x\n" % len(ifname))
            link(os.path.join(sysfs, "class/net", ifname), p + "/net/" + ifname)
        if d.get("slot"):
            domain, bus, rest = a.split(":")
            write(os.path.join(sysfs, "bus/pci/slots", d["slot"], "address"),
                  "%s:%s:%s\n" % (domain, bus, rest.split(".")[0]))
        sriov = d.get("sriov")
        if sriov:
            write(p + "/sriov_totalvfs", "%d\n" % sriov["total"])
            write(p + "/sriov_numvfs", "%d\n" % sriov["num"])
            write(p + "/sriov_vf_device", "%x\n" % sriov["vf_device"])
            write(p + "/sriov_drivers_autoprobe", "1\n")
            for i, vf in enumerate(sriov["vfs"]):
                link(p + "/virtfn%d" % i, dev_dirs[vf])
        if d.get("physfn"):
            link(p + "/physfn", dev_dirs[d["physfn"]])
        for t in d.get("mdev_types", []):
            tp = p + "/mdev_supported_types/" + t["id"]
            os.makedirs(tp + "/devices")
            if t["name"] is not None:
                write(tp + "/name", t["name"] + "\n")
            if t["available"] is not None:
                write(tp + "/available_instances", "%d\n" % t["available"])
            write(tp + "/device_api", t["api"] + "\n")
            write(tp + "/description", t["description"] + b"\n")
            write(tp + "/create", "")
        for m in d.get("mdevs", []):
            # The kernel's layout: <parent>/<uuid> with mdev_type and iommu_group links.
            mp = p + "/" + m["uuid"]
            grp = os.path.join(sysfs, "kernel/iommu_groups", str(m["group"]))
            os.makedirs(mp)
            os.makedirs(grp + "/devices", exist_ok=True)
            link(mp + "/mdev_type", p + "/mdev_supported_types/" + m["type"])
            link(mp + "/iommu_group", grp)
            link(grp + "/devices/" + m["uuid"], mp)
            link(p + "/mdev_supported_types/" + m["type"] + "/devices/" + m["uuid"], mp)
            link(os.path.join(sysfs, "bus/mdev/devices", m["uuid"]), mp)
            write(mp + "/remove", "")
    # Global files lspci and the library look at.
    write(os.path.join(sysfs, "bus/pci/drivers_probe"), "")
    write(os.path.join(sysfs, "bus/pci/rescan"), "")
    for sub in ("dev", "proc"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    build_modules(root)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fake_root.py DIR")
    root = os.path.abspath(sys.argv[1])
    os.makedirs(root, exist_ok=True)
    if os.listdir(root):
        sys.exit("make_fake_root.py: %s is not empty" % root)
    build(root)


if __name__ == "__main__":
    main()
