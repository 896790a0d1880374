# SPDX-License-Identifier: Apache-2.0
"""PCI enumeration through the binding, checked against the fake tree's own description."""

import json
import os

import pytest

import hostdev


def expected_devices(fake_root_module):
    return {d["addr"]: d for d in fake_root_module.DEVICES}


def test_enumerates_every_device_in_address_order(cli_ctx, fake_root_module):
    addresses = [d.address for d in cli_ctx.pci_devices()]
    expected = sorted(expected_devices(fake_root_module),
                      key=lambda a: tuple(int(x, 16) for x in a.replace(".", ":").split(":")))
    assert addresses == expected


def test_values_match_the_tree(cli_ctx, fake_root_module):
    want = expected_devices(fake_root_module)
    groups = {}
    for d in want.values():
        if d.get("group") is not None:
            groups.setdefault(d["group"], []).append(d["addr"])
    seen = 0
    for dev in cli_ctx.pci_devices():
        d = want[dev.address]
        seen += 1
        assert isinstance(dev, hostdev.PciDevice)
        assert dev.vendor_id == d["vendor"]
        assert dev.device_id == d["device"]
        assert dev.subsystem_vendor_id == (d["sv"] or 0)
        assert dev.subsystem_device_id == (d["sd"] or 0)
        assert dev.class_code == d["cls"]
        assert dev.revision == d["rev"]
        assert dev.driver == d.get("driver")
        assert dev.driver_override == d.get("override")
        assert dev.iommu_group == d.get("group")
        assert dev.iommu_group_members == tuple(sorted(groups.get(d.get("group"), [])))
        assert dev.numa_node == (None if d.get("numa", -1) < 0 else d["numa"])
        assert dev.netdevs == tuple(d.get("net", []))
        assert dev.physical_slot == d.get("slot")
        assert dev.is_bridge == ((d["cls"] >> 8) == 0x0604)
        assert dev.parent_address == d.get("parent")
        # The tree's bridges have a type 1 header whose bus numbers firmware left at 0.
        assert dev.bridge_buses == (hostdev.BridgeBuses(0, 0, 0) if dev.is_bridge else None)
        assert dev.boot_vga == bool(d.get("boot_vga", 0))
        sriov = d.get("sriov")
        assert dev.is_sriov_pf == bool(sriov)
        if sriov:
            assert dev.sriov_total_vfs == sriov["total"]
            assert dev.sriov_num_vfs == sriov["num"]
            assert dev.sriov_vf_device_id == sriov["vf_device"]
            assert dev.vfs == tuple(hostdev.VirtualFunction(i, a) for i, a in enumerate(sriov["vfs"]))
        else:
            assert dev.sriov_total_vfs == 0 and dev.vfs == ()
        assert dev.is_sriov_vf == bool(d.get("physfn"))
        assert dev.pf_address == d.get("physfn")
        if d.get("physfn"):
            assert dev.vf_index == want[d["physfn"]]["sriov"]["vfs"].index(dev.address)
        else:
            assert dev.vf_index is None
        types = d.get("mdev_types", [])
        assert [t.id for t in dev.mdev_types] == sorted(t["id"] for t in types)
        for t in dev.mdev_types:
            src = next(x for x in types if x["id"] == t.id)
            assert t.name == src["name"]
            assert t.available == (-1 if src["available"] is None else src["available"])
            assert t.device_api == src["api"]
            # Bytes that are not UTF-8 come through with surrogateescape, losslessly.
            assert t.description.encode("utf-8", "surrogateescape") == src["description"]
    assert seen == len(want)


def test_names_and_naming(cli_ctx):
    gpu = cli_ctx.pci_device("0000:01:00.0")
    assert gpu.vendor_name == "NVIDIA Corporation"
    assert gpu.class_name == "Display controller"
    assert gpu.object_name == "node1-000001000"
    assert gpu.resource_name.startswith("nvidia.com/")
    assert hostdev.naming.is_valid_resource_name(gpu.resource_name)
    assert gpu.description.startswith("3D controller: NVIDIA Corporation")
    assert gpu.device_resource_name == "nvidia.com/node1-000001000"
    unknown = cli_ctx.pci_device("00:1f.0")
    assert unknown.vendor_name is None and unknown.modalias is None
    assert unknown.iommu_group is None and unknown.driver is None


def test_modules_from_modalias(cli_ctx):
    assert "i40e" in cli_ctx.pci_device("0000:3b:00.0").modules
    assert cli_ctx.pci_device("0000:00:1f.0").modules == ()


def test_json_matches_properties(cli_ctx):
    for dev in cli_ctx.pci_devices():
        doc = dev.as_dict()
        assert doc["address"] == dev.address
        assert int(doc["vendor_id"], 16) == dev.vendor_id
        assert json.loads(dev.to_json(pretty=True)) == doc


def test_pci_address(cli_ctx):
    dev = cli_ctx.pci_device("10000:01:00.0")
    assert dev.pci_address == hostdev.PciAddress(0x10000, 1, 0, 0)
    assert str(dev.pci_address) == "10000:01:00.0"
    assert hostdev.parse_address("3b:02.1") == (0, 0x3b, 2, 1)
    assert str(hostdev.parse_address("0000:3B:02.1")) == "0000:3b:02.1"
    with pytest.raises(hostdev.InvalidArgument) as e:
        hostdev.parse_address("3b:02")
    assert e.value.errno == 22


@pytest.mark.parametrize("filters, expected", [
    (dict(slot="3b:"), ["0000:3b:00.0", "0000:3b:00.1", "0000:3b:02.0", "0000:3b:02.1"]),
    (dict(slot="3b:02"), ["0000:3b:02.0", "0000:3b:02.1"]),
    (dict(slot=".1"), ["0000:01:00.1", "0000:3b:00.1", "0000:3b:02.1"]),
    (dict(ids="10de:"), ["0000:01:00.0", "0000:01:00.1"]),
    (dict(ids="::0403"), ["0000:01:00.1"]),
    (dict(driver="vfio-pci"), ["0000:3b:02.1"]),
    (dict(driver="none"), ["0000:00:00.0", "0000:00:1f.0"]),
    (dict(driver=["iavf", "vfio-pci"]), ["0000:3b:02.0", "0000:3b:02.1"]),
    (dict(class_="0200"), ["0000:3b:00.0", "0000:3b:00.1", "0000:3b:02.0", "0000:3b:02.1"]),
    (dict(class_="0200", slot="3b:00"), ["0000:3b:00.0", "0000:3b:00.1"]),
    (dict(class_=["03", "0108"]), ["0000:00:02.0", "0000:01:00.0", "10000:01:00.0"]),
    (dict(ids="8086:", driver="pcieport"), ["0000:00:01.0", "0000:3a:00.0"]),
])
def test_filters(cli_ctx, filters, expected):
    assert [d.address for d in cli_ctx.pci_devices(**filters)] == expected


@pytest.mark.parametrize("filters, needle", [
    (dict(slot="zz:"), "zz"),
    (dict(ids="xyz"), "xyz"),
    (dict(class_="2"), "2"),
])
def test_bad_filter_raises_at_call_time(cli_ctx, filters, needle):
    with pytest.raises(hostdev.InvalidArgument) as e:
        cli_ctx.pci_devices(**filters)
    assert e.value.errno == 22
    assert needle in e.value.message and e.value.message == cli_ctx.error


def test_iterator_protocol(cli_ctx):
    it = cli_ctx.pci_devices(slot="3b:00")
    assert iter(it) is it
    assert next(it).address == "0000:3b:00.0"
    assert next(it).address == "0000:3b:00.1"
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def test_devices_iterate_again(cli_ctx):
    """A second pass is not silently empty: each for/list() reads the host again."""
    devs = cli_ctx.pci_devices(slot="3b:00")
    first = [d.address for d in devs]
    assert first == ["0000:3b:00.0", "0000:3b:00.1"]
    assert [d.address for d in devs] == first
    assert len(list(devs)) == 2 and sorted(d.address for d in devs) == first
    usb = cli_ctx.usb_devices(hubs=True)
    assert [d.name for d in usb] == [d.name for d in usb]


def test_device_equality_and_repr(cli_ctx):
    a = cli_ctx.pci_device("3b:00.0")
    b = next(cli_ctx.pci_devices(slot="3b:00.0"))
    assert a == b and hash(a) == hash(b) and a is not b
    assert "0000:3b:00.0" in repr(a) and "i40e" in repr(a)


def test_snapshot_semantics(cli_root, cli_ctx):
    """A device object is a snapshot: a new one sees a change of the tree."""
    dev = cli_ctx.pci_device("0000:00:1f.0")
    assert dev.numa_node is None
    path = os.path.join(cli_root, "sys/bus/pci/devices/0000:00:1f.0/numa_node")
    with open(path) as f:
        old = f.read()
    try:
        with open(path, "w") as f:
            f.write("1\n")
        assert dev.numa_node is None
        assert cli_ctx.pci_device("0000:00:1f.0").numa_node == 1
    finally:
        with open(path, "w") as f:
            f.write(old)
