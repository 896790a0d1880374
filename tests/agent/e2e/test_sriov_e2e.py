# SPDX-License-Identifier: Apache-2.0
"""SRIOVNetworkDevice spec.numVFs end to end: the agent on the SR-IOV test host of tests/sriov
(sriov-fake-host) under the kernel model (tests/kmodel, which stands in for the kernel's
sriov_numvfs: this machine cannot create VFs), against the stand-in API server (a real
kube-apiserver cannot run here; tests/agent/apiserver, strict) with only the agent's ClusterRole.
Every wait is for an event (an object on the server), bounded by a generous deadline."""
import glob
import os
import shutil
import subprocess

import pytest

from agent_harness import PCI_IDS, agent_kubeconfig

NODE = "node1"
GROUP = "devices.harvesterhci.io"
PF = "0000:3b:00.0"  # X710 PF ens4f0: total 8 VFs (tests/sriov/sriov_tree.h)
SRIOV = f"{NODE}-ens4f0"
FORCE = "hostdev.io/sriov-force"
FAKE_HOST = os.environ.get("HOSTDEV_SRIOV_FAKE_HOST", "")
KMODEL = os.environ.get("HOSTDEV_KMODEL", "")
WAIT = 120


@pytest.fixture
def root():
    if not (FAKE_HOST and KMODEL):
        pytest.fail("HOSTDEV_SRIOV_FAKE_HOST and HOSTDEV_KMODEL must name sriov-fake-host and the "
                    "kernel model (ctest sets them)")
    env = dict(os.environ)
    env.pop("HOSTDEV_KMODEL_ROOT", None)
    env.pop("LD_PRELOAD", None)
    env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    path = subprocess.run([FAKE_HOST], env=env, check=True, capture_output=True, text=True).stdout.strip()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sysfs_vfs(root):
    return sorted(os.path.basename(os.readlink(p)) for p in
                  glob.glob(os.path.join(root, "sys/bus/pci/devices", PF, "virtfn*")))


def condition(obj):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "NumVFs":
            return c
    return {}


def set_spec(api, num_vfs, force=None):
    path = api.devices_path("sriovnetworkdevices", SRIOV)
    obj = api.get(path)
    obj["spec"]["numVFs"] = num_vfs
    if force is not None:
        obj["metadata"].setdefault("annotations", {})[FORCE] = force
    return api.update(path, obj)


def wait_vfs(api, root, count):
    """The object once its status lists @count VFs, with their PCIDevices; checked against sysfs."""
    obj = api.wait_for(api.devices_path("sriovnetworkdevices", SRIOV),
                       lambda o: len((o.get("status") or {}).get("vfAddresses") or []) == count
                       and condition(o).get("reason") == "Applied", timeout=WAIT)
    st = obj["status"]
    assert sorted(st.get("vfAddresses") or []) == sysfs_vfs(root)
    names = st.get("vfPCIDevices") or []
    assert len(names) == count
    for address, name in zip(st.get("vfAddresses") or [], names):
        pci = api.wait_for(api.devices_path("pcidevices", name), lambda o: "status" in o, timeout=WAIT)
        assert pci["status"]["address"] == address and pci["status"]["pfAddress"] == PF
    return obj


def test_num_vfs_follows_the_object(api, agents, root):
    """numVFs 4 -> four VFs, listed with their PCIDevices (written with the change, resync off);
    a VF claimed -> a lower count refused with the reason, nothing destroyed; the force
    annotation -> applied, the gone VFs' PCIDevices deleted; 0 -> none."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = KMODEL
    env["HOSTDEV_KMODEL_ROOT"] = root
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:" + env.get("ASAN_OPTIONS", "")
    a = agents("--kubeconfig", agent_kubeconfig(api), "--node-name", NODE, "--root", root,
               "--pci-ids", PCI_IDS, "--resync-interval", "0", env=env)
    a.ready()
    obj = api.get(api.devices_path("sriovnetworkdevices", SRIOV))
    assert obj["spec"]["numVFs"] == 0 and not sysfs_vfs(root)
    # The agent's own numVFs 0 at creation changes nothing.
    assert not condition(obj)

    set_spec(api, 4)
    obj = wait_vfs(api, root, 4)
    assert len(sysfs_vfs(root)) == 4 and condition(obj)["status"] == "True"
    vfs, names = obj["status"]["vfAddresses"], obj["status"]["vfPCIDevices"]

    # VF 0 claimed (bound to vfio-pci through the journal): a lower count is refused.
    api.create(api.devices_path("pcideviceclaims"), {
        "apiVersion": f"{GROUP}/v1beta1", "kind": "PCIDeviceClaim", "metadata": {"name": names[0]},
        "spec": {"address": vfs[0], "nodeName": NODE, "userName": "admin"}})
    api.wait_for(api.devices_path("pcideviceclaims", names[0]),
                 lambda o: (o.get("status") or {}).get("passthroughEnabled") is True, timeout=WAIT)
    set_spec(api, 2)
    obj = api.wait_for(api.devices_path("sriovnetworkdevices", SRIOV),
                       lambda o: condition(o).get("reason") == "VFsInUse", timeout=WAIT)
    assert condition(obj)["status"] == "False"
    assert vfs[0] in condition(obj)["message"] and FORCE in condition(obj)["message"]
    assert len(sysfs_vfs(root)) == 4

    # Forced: applied; the gone VFs' PCIDevices go with them.
    set_spec(api, 2, force="true")
    wait_vfs(api, root, 2)
    for name in names[2:]:
        api.wait_for(api.devices_path("pcidevices", name), deleted=True, timeout=WAIT)

    api.delete(api.devices_path("pcideviceclaims", names[0]))
    api.wait_for(api.devices_path("pcideviceclaims", names[0]), deleted=True, timeout=WAIT)
    set_spec(api, 0)
    obj = api.wait_for(api.devices_path("sriovnetworkdevices", SRIOV),
                       lambda o: not (o.get("status") or {}).get("vfAddresses")
                       and condition(o).get("reason") == "Applied"
                       and o["status"]["status"] == "sriovNetworkDeviceDisabled", timeout=WAIT)
    assert not sysfs_vfs(root)
    for name in names[:2]:
        api.wait_for(api.devices_path("pcidevices", name), deleted=True, timeout=WAIT)
    # A clean stop (the ASan build checks for leaks on exit).
    assert a.stop() == 0
