# SPDX-License-Identifier: Apache-2.0
"""The official Python client (Debian's python3-kubernetes) against the STAND-IN API server
(kubestandin; no real kube-apiserver can run here): CoreV1Api reads Nodes into its typed models,
CustomObjectsApi reads, lists (selectors, pages), writes and patches the agent's objects, its
Watch helper follows them, and the server's 409 and 410 reach it as the real server's would.

Run: /usr/bin/python3 -m pytest tests/agent/apiserver/test_python_client.py"""
import json
import threading

import pytest
from kubernetes import client, config, watch

from conftest import GROUP, dev_path, pci_status, pcidevice, unique

V = "v1beta1"


@pytest.fixture(scope="module")
def clients(api, tmp_path_factory):
    d = tmp_path_factory.mktemp("pyclient")
    api.add_token("py-token", "system:serviceaccount:hostdev:hostdev-agent")
    c = config.new_client_from_config(config_file=api.kubeconfig(str(d / "kubeconfig"), token="py-token"))
    yield client.CoreV1Api(c), client.CustomObjectsApi(c)
    c.close()


def test_nodes_through_core_v1(api, clients):
    core, _ = clients
    name = unique("pynode")
    api.create_node(name, labels={"hostdev.io/role": "test"})
    nodes = core.list_node(label_selector="hostdev.io/role=test")
    assert [n.metadata.name for n in nodes.items] == [name]
    n = core.read_node(name)
    assert n.status.node_info.kubelet_version == "v1.34.0"
    assert [c.type for c in n.status.conditions] == ["Ready"]
    # a bare Node, as a client may create it, still reads as a complete typed object
    bare = unique("bare")
    core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=bare)))
    assert core.read_node(bare).status.node_info.boot_id == ""


def test_custom_objects_read_write_and_status(api, clients):
    _, co = clients
    name = unique("pydev")
    co.create_cluster_custom_object(GROUP, V, "pcidevices", pcidevice(name, labels={"nodename": "py"}))
    o = co.get_cluster_custom_object(GROUP, V, "pcidevices", name)
    o["status"] = pci_status(node="py")
    o = co.replace_cluster_custom_object_status(GROUP, V, "pcidevices", name, o)
    assert o["status"]["nodeName"] == "py"
    o = co.patch_cluster_custom_object(GROUP, V, "pcidevices", name, {"metadata": {"labels": {"extra": "1"}}})
    assert o["metadata"]["labels"] == {"nodename": "py", "extra": "1"}
    o = co.patch_cluster_custom_object_status(GROUP, V, "pcidevices", name, {"status": {"kernelDriverInUse": "vfio-pci"}})
    assert o["status"]["kernelDriverInUse"] == "vfio-pci" and o["status"]["vendorId"] == "8086"
    reqs = api.requests(name=name, verb="patch")
    assert {r["contentType"] for r in reqs} == {"application/merge-patch+json"}
    assert all(r["user"] == "system:serviceaccount:hostdev:hostdev-agent" for r in reqs)


def test_stale_update_is_409(clients):
    _, co = clients
    name = unique("pydev")
    first = co.create_cluster_custom_object(GROUP, V, "pcidevices", pcidevice(name))
    co.patch_cluster_custom_object(GROUP, V, "pcidevices", name, {"metadata": {"labels": {"a": "b"}}})
    first["metadata"]["labels"] = {"lost": "update"}
    with pytest.raises(client.ApiException) as ei:
        co.replace_cluster_custom_object(GROUP, V, "pcidevices", name, first)
    assert ei.value.status == 409
    body = json.loads(ei.value.body)
    assert body["reason"] == "Conflict" and "the object has been modified" in body["message"]


def test_lists_with_selectors_and_pages(clients):
    _, co = clients
    run = unique("pyrun")
    for i in range(5):
        co.create_cluster_custom_object(GROUP, V, "pcidevices", pcidevice(f"{run}-{i}", labels={"run": run}))
    got, cont = [], None
    while True:
        page = co.list_cluster_custom_object(GROUP, V, "pcidevices", label_selector=f"run={run}", limit=2,
                                             _continue=cont)
        got += [o["metadata"]["name"] for o in page["items"]]
        cont = page["metadata"].get("continue")
        if not cont:
            break
    assert got == [f"{run}-{i}" for i in range(5)]
    one = co.list_cluster_custom_object(GROUP, V, "pcidevices", field_selector=f"metadata.name={run}-3")
    assert [o["metadata"]["name"] for o in one["items"]] == [f"{run}-3"]
    with pytest.raises(client.ApiException) as ei:
        co.list_cluster_custom_object(GROUP, V, "pcidevices", field_selector="status.nodeName=py")
    assert ei.value.status == 400 and "field label not supported: status.nodeName" in ei.value.body


def test_watch_helper_follows_changes(api, clients):
    _, co = clients
    name = unique("pywatch")
    created = co.create_cluster_custom_object(GROUP, V, "pcidevices", pcidevice(name))
    rv = created["metadata"]["resourceVersion"]
    mark = api.mark()

    def change():
        api.wait_requests(since=mark, verb="watch", resource="pcidevices", timeout=60)
        api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"step": "1"}}})
        api.delete(dev_path("pcidevices", name))

    t = threading.Thread(target=change)
    t.start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(co.list_cluster_custom_object, GROUP, V, "pcidevices", resource_version=rv,
                       field_selector=f"metadata.name={name}", timeout_seconds=60):
        seen.append((ev["type"], ev["object"]["metadata"].get("labels")))
        if ev["type"] == "DELETED":
            w.stop()
    t.join()
    assert seen == [("MODIFIED", {"step": "1"}), ("DELETED", {"step": "1"})]


def test_watch_helper_gets_410_on_a_compacted_version(fresh, tmp_path):
    c = config.new_client_from_config(config_file=fresh.kubeconfig(str(tmp_path / "kc")))
    co = client.CustomObjectsApi(c)
    a = co.create_cluster_custom_object(GROUP, V, "pcidevices", pcidevice("old"))
    co.patch_cluster_custom_object(GROUP, V, "pcidevices", "old", {"metadata": {"labels": {"x": "y"}}})
    fresh.compact()
    with pytest.raises(client.ApiException) as ei:
        for _ in watch.Watch().stream(co.list_cluster_custom_object, GROUP, V, "pcidevices",
                                      resource_version=a["metadata"]["resourceVersion"], timeout_seconds=30):
            pass
    assert ei.value.status == 410
    c.close()


def test_node_deletion_seen_by_a_watch_of_its_devices(api, clients):
    core, co = clients
    node = api.create_node(unique("pygc"))
    names = [api.create(dev_path("pcidevices"), pcidevice(unique("owned"), labels={"gc": node["metadata"]["name"]},
                                                          owner=node))["metadata"]["name"] for _ in range(2)]
    lst = co.list_cluster_custom_object(GROUP, V, "pcidevices", label_selector=f"gc={node['metadata']['name']}")
    core.delete_node(node["metadata"]["name"])
    deleted = set()
    w = watch.Watch()
    for ev in w.stream(co.list_cluster_custom_object, GROUP, V, "pcidevices", label_selector=f"gc={node['metadata']['name']}",
                       resource_version=lst["metadata"]["resourceVersion"], timeout_seconds=60):
        if ev["type"] == "DELETED":
            deleted.add(ev["object"]["metadata"]["name"])
        if deleted == set(names):
            w.stop()
    assert deleted == set(names)


def test_dra_kinds_through_the_dynamic_client(api, tmp_path):
    """python3-kubernetes 22.6 (Debian bookworm) predates resource.k8s.io/v1: it has no typed
    ResourceV1Api. Its DynamicClient finds the kinds through discovery, as it would on a real
    server, and reads and writes them."""
    from kubernetes import dynamic
    api.add_token("py-dra", "system:serviceaccount:hostdev:hostdev-agent")
    c = config.new_client_from_config(config_file=api.kubeconfig(str(tmp_path / "kubeconfig"), token="py-dra"))
    try:
        dyn = dynamic.DynamicClient(c)
        slices = dyn.resources.get(api_version="resource.k8s.io/v1", kind="ResourceSlice")
        assert slices.namespaced is False
        name = unique("pyslice")
        body = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": name},
                "spec": {"driver": "vfio.hostdev.io", "nodeName": "py-node",
                         "pool": {"name": "py-node", "generation": 1, "resourceSliceCount": 1},
                         "devices": [{"name": "pci-0000-08-00-0", "attributes": {
                             "resource.kubernetes.io/pciBusID": {"string": "0000:08:00.0"}}}]}}
        slices.create(body=body)
        got = slices.get(field_selector="spec.nodeName=py-node")
        assert [o.metadata.name for o in got.items] == [name]
        body["metadata"]["name"] = unique("pyslice")
        body["spec"]["devices"] = [{"name": f"d{i}"} for i in range(129)]
        with pytest.raises(dynamic.exceptions.UnprocessibleEntityError) as ei:
            slices.create(body=body)
        assert "must have at most 128 items" in json.loads(ei.value.body)["message"]
        claims = dyn.resources.get(api_version="resource.k8s.io/v1", kind="ResourceClaim")
        ns = unique("pyns")
        api.create_namespace(ns)
        claims.create(namespace=ns, body={
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "c"},
            "spec": {"devices": {"requests": [{"name": "nic", "exactly": {"deviceClassName": "vfio"}}]}}})
        assert claims.get(namespace=ns, name="c").spec.devices.requests[0].name == "nic"
    finally:
        c.close()
