# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the stand-in's own tests. The server under test is kubestandin, a STAND-IN for
kube-apiserver (no real one can run here); these tests check that it is as strict as the real one,
on both sides of every rule (accepted and refused)."""
import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubestandin.harness import AGENT_CRDS, KUBEVIRT_CRD, StandIn, StandInError  # noqa: E402

GROUP = "devices.harvesterhci.io"
GV = GROUP + "/v1beta1"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One stand-in for a module's tests that do not change server-wide state."""
    with StandIn(tmp_path_factory.mktemp("standin"), crds=[AGENT_CRDS, KUBEVIRT_CRD]) as s:
        yield s


@pytest.fixture
def fresh(tmp_path):
    """A stand-in of its own, for tests that restart, compact or change authentication."""
    with StandIn(tmp_path / "standin", crds=[AGENT_CRDS, KUBEVIRT_CRD]) as s:
        yield s


def unique(prefix="dev"):
    return f"{prefix}-{os.getpid()}-{next(_names)}"


def pcidevice(name, labels=None, owner=None, **meta):
    m = {"name": name}
    if labels:
        m["labels"] = dict(labels)
    if owner:
        m["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": owner["metadata"]["name"],
                                 "uid": owner["metadata"]["uid"]}]
    m.update(meta)
    return {"apiVersion": GV, "kind": "PCIDevice", "metadata": m, "spec": {}}


def pci_status(address="0000:08:00.0", node="node1", **extra):
    s = {"address": address, "vendorId": "8086", "deviceId": "10d3", "classId": "0200", "iommuGroup": "3",
         "nodeName": node, "resourceName": "intel.com/82574L_GIGABIT_NETWORK_CONNECTION",
         "description": "Ethernet controller: Intel Corporation 82574L Gigabit Network Connection",
         "kernelDriverInUse": "e1000e"}
    s.update(extra)
    return s


def claim(name, **spec):
    s = {"address": "0000:08:00.0", "nodeName": "node1", "userName": "admin"}
    s.update(spec)
    return {"apiVersion": GV, "kind": "PCIDeviceClaim", "metadata": {"name": name}, "spec": s}


def dev_path(plural, name=None, sub=None):
    return StandIn.devices_path(plural, name, sub)


def expect_status(fn, code, reason=None, contains=None):
    """Calls fn, which must fail with a metav1.Status of that code (and reason, message part)."""
    with pytest.raises(StandInError) as ei:
        fn()
    e = ei.value
    assert e.code == code, f"expected {code}, got {e.code}: {e.body}"
    body = e.body
    assert isinstance(body, dict) and body.get("kind") == "Status" and body.get("apiVersion") == "v1", body
    assert body["status"] == "Failure" and body["code"] == code, body
    if reason:
        assert body["reason"] == reason, body
    if contains:
        for c in ([contains] if isinstance(contains, str) else contains):
            assert c in body["message"], f"{c!r} not in {body['message']!r}"
    return body
