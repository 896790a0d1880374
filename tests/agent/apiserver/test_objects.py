# SPDX-License-Identifier: Apache-2.0
"""Write rules of the STAND-IN API server (kubestandin; no real kube-apiserver can run here), each
checked on the side the real server accepts and on the side it refuses: resourceVersion,
AlreadyExists, generateName, server-set metadata, generation, status subresource, patch types,
delete preconditions, finalizers, garbage collection by owner uid, namespaces, dry run, field
validation, metadata validation, managedFields.

Run: /usr/bin/python3 -m pytest tests/agent/apiserver/test_objects.py"""
import copy

import pytest

from conftest import (GROUP, claim, dev_path, expect_status, pci_status, pcidevice, unique)


def test_resource_version_is_an_opaque_string_from_one_counter(api):
    a = api.create(dev_path("pcidevices"), pcidevice(unique()))
    node = api.create_node(unique("node"))
    b = api.create(dev_path("pcidevices"), pcidevice(unique()))
    rvs = [a["metadata"]["resourceVersion"], node["metadata"]["resourceVersion"], b["metadata"]["resourceVersion"]]
    assert all(isinstance(r, str) for r in rvs)
    assert int(rvs[0]) < int(rvs[1]) < int(rvs[2])  # one counter across kinds, as etcd's revision


def test_create_existing_name_is_already_exists(api):
    name = unique()
    api.create(dev_path("pcidevices"), pcidevice(name))
    body = expect_status(lambda: api.create(dev_path("pcidevices"), pcidevice(name)), 409, "AlreadyExists",
                         f'pcidevices.{GROUP} "{name}" already exists')
    assert body["details"] == {"name": name, "group": GROUP, "kind": "pcidevices"}


def test_create_with_resource_version_is_refused(api):
    obj = pcidevice(unique(), resourceVersion="5")
    expect_status(lambda: api.create(dev_path("pcidevices"), obj), 400, "BadRequest",
                  "resourceVersion should not be set on objects to be created")


def test_server_sets_uid_creation_timestamp_generation_and_ignores_client_values(api):
    obj = pcidevice(unique(), uid="not-mine", creationTimestamp="2001-01-01T00:00:00Z", generation=7)
    out = api.create(dev_path("pcidevices"), obj)
    m = out["metadata"]
    assert m["uid"] != "not-mine" and len(m["uid"]) == 36
    assert m["creationTimestamp"] != "2001-01-01T00:00:00Z" and m["creationTimestamp"].endswith("Z")
    assert m["generation"] == 1
    assert out["apiVersion"] == "devices.harvesterhci.io/v1beta1" and out["kind"] == "PCIDevice"


def test_generate_name(api):
    obj = pcidevice(None)
    del obj["metadata"]["name"]
    obj["metadata"]["generateName"] = "gen-"
    a = api.create(dev_path("pcidevices"), obj)
    b = api.create(dev_path("pcidevices"), obj)
    assert a["metadata"]["name"].startswith("gen-") and len(a["metadata"]["name"]) == len("gen-") + 5
    assert a["metadata"]["name"] != b["metadata"]["name"]
    del obj["metadata"]["generateName"]
    expect_status(lambda: api.create(dev_path("pcidevices"), obj), 422, "Invalid",
                  "metadata.name: Required value: name or generateName is required")


def test_update_with_stale_resource_version_is_conflict(api):
    name = unique()
    v1 = api.create(dev_path("pcidevices"), pcidevice(name))
    v2 = copy.deepcopy(v1)
    v2["metadata"]["labels"] = {"a": "1"}
    v2 = api.update(dev_path("pcidevices", name), v2)
    assert int(v2["metadata"]["resourceVersion"]) > int(v1["metadata"]["resourceVersion"])
    stale = copy.deepcopy(v1)
    stale["metadata"]["labels"] = {"a": "2"}
    body = expect_status(lambda: api.update(dev_path("pcidevices", name), stale), 409, "Conflict",
                         f'Operation cannot be fulfilled on pcidevices.{GROUP} "{name}": the object has been '
                         "modified; please apply your changes to the latest version and try again")
    assert body["details"]["name"] == name
    assert api.get(dev_path("pcidevices", name))["metadata"]["labels"] == {"a": "1"}


def test_update_of_custom_resource_needs_resource_version(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    del o["metadata"]["resourceVersion"]
    expect_status(lambda: api.update(dev_path("pcidevices", name), o), 422, "Invalid",
                  "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update")
    # Built-in kinds that allow unconditional updates (Node) take it without one.
    node = api.create_node(unique("node"))
    del node["metadata"]["resourceVersion"]
    node["metadata"]["labels"]["x"] = "y"
    assert api.update(f"/api/v1/nodes/{node['metadata']['name']}", node)["metadata"]["labels"]["x"] == "y"


def test_update_name_mismatch_and_missing_object(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    expect_status(lambda: api.update(dev_path("pcidevices", "other"), o), 400, "BadRequest",
                  f"the name of the object ({name}) does not match the name on the URL (other)")
    gone = copy.deepcopy(o)
    gone["metadata"]["name"] = unique()
    expect_status(lambda: api.update(dev_path("pcidevices", gone["metadata"]["name"]), gone), 404, "NotFound")


def test_uid_in_body_is_a_precondition(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    o["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000"
    expect_status(lambda: api.update(dev_path("pcidevices", name), o), 409, "Conflict",
                  "Precondition failed: UID in precondition")


def test_no_op_update_keeps_resource_version(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name, labels={"a": "b"}))
    mark = api.mark()
    same = api.update(dev_path("pcidevices", name), o)
    assert same["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"]
    again = api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"a": "b"}}})
    assert again["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"]
    assert len(api.requests(mark, verb=["update", "patch"], code=200)) == 2


def test_generation_follows_spec_not_status_or_metadata(api):
    name = unique()
    c = api.create(dev_path("pcideviceclaims"), claim(name))
    assert c["metadata"]["generation"] == 1
    c["metadata"]["labels"] = {"x": "y"}
    c = api.update(dev_path("pcideviceclaims", name), c)
    assert c["metadata"]["generation"] == 1
    c["status"] = {"kernelDriverToUnbind": "e1000e", "passthroughEnabled": True}
    c = api.update(dev_path("pcideviceclaims", name, "status"), c)
    assert c["metadata"]["generation"] == 1 and c["status"]["passthroughEnabled"] is True
    c["spec"]["userName"] = "bob"
    c = api.update(dev_path("pcideviceclaims", name), c)
    assert c["metadata"]["generation"] == 2


def test_status_is_dropped_on_create_and_ignored_on_main_resource(api):
    name = unique()
    obj = pcidevice(name)
    obj["status"] = pci_status()
    out = api.create(dev_path("pcidevices"), obj)
    assert "status" not in out  # a create of a kind with a status subresource drops status
    out["status"] = pci_status()
    out = api.update(dev_path("pcidevices", name), out)
    assert "status" not in out
    out = api.patch(dev_path("pcidevices", name), {"status": pci_status()})
    assert "status" not in out
    out["status"] = pci_status()
    out = api.update(dev_path("pcidevices", name, "status"), out)
    assert out["status"]["address"] == "0000:08:00.0"


def test_status_subresource_ignores_everything_but_status(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name, labels={"keep": "me"}))
    o["metadata"]["labels"] = {"changed": "through-status"}
    o["spec"] = {"ignored": True}
    o["status"] = pci_status()
    out = api.update(dev_path("pcidevices", name, "status"), o)
    assert out["metadata"]["labels"] == {"keep": "me"}
    assert out["status"]["vendorId"] == "8086"
    patched = api.patch(dev_path("pcidevices", name, "status"),
                        {"metadata": {"labels": {"no": "way"}}, "status": {"kernelDriverInUse": "vfio-pci"}})
    assert patched["metadata"]["labels"] == {"keep": "me"}
    assert patched["status"]["kernelDriverInUse"] == "vfio-pci" and patched["status"]["vendorId"] == "8086"
    # A kind without a status subresource has no /status
    expect_status(lambda: api.get("/api/v1/namespaces/default/configmaps/x/status"), 404, "NotFound")


def test_status_subresource_checks_resource_version_too(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    o["status"] = pci_status()
    api.update(dev_path("pcidevices", name, "status"), o)
    expect_status(lambda: api.update(dev_path("pcidevices", name, "status"), o), 409, "Conflict")


def test_merge_patch_and_json_patch_are_accepted(api):
    name = unique()
    api.create(dev_path("pcidevices"), pcidevice(name, labels={"a": "1", "b": "2"}))
    out = api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    out = api.patch(dev_path("pcidevices", name), [{"op": "add", "path": "/metadata/labels/d", "value": "4"},
                                                   {"op": "remove", "path": "/metadata/labels/b"}],
                    content_type="application/json-patch+json")
    assert out["metadata"]["labels"] == {"c": "3", "d": "4"}
    expect_status(lambda: api.patch(dev_path("pcidevices", name),
                                     [{"op": "test", "path": "/metadata/labels/c", "value": "x"}],
                                     content_type="application/json-patch+json"), 422)


def test_strategic_merge_patch_is_415_for_custom_resources_only(api):
    name = unique()
    api.create(dev_path("pcidevices"), pcidevice(name))
    expect_status(lambda: api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"a": "b"}}},
                                    content_type="application/strategic-merge-patch+json"), 415,
                  "UnsupportedMediaType", "accepted media types include: application/json-patch+json, "
                  "application/merge-patch+json")
    for ct in ("application/json", "application/apply-patch+yaml", "text/plain"):
        expect_status(lambda: api.patch(dev_path("pcidevices", name), {"metadata": {}}, content_type=ct), 415,
                      "UnsupportedMediaType")
    node = api.create_node(unique("node"))
    n = node["metadata"]["name"]
    out = api.patch(f"/api/v1/nodes/{n}", {"metadata": {"labels": {"smp": "ok"}}},
                    content_type="application/strategic-merge-patch+json")
    assert out["metadata"]["labels"]["smp"] == "ok"
    out = api.patch(f"/api/v1/nodes/{n}/status",
                    {"status": {"conditions": [{"type": "MemoryPressure", "status": "False"}]}},
                    content_type="application/strategic-merge-patch+json")
    types = [c["type"] for c in out["status"]["conditions"]]
    assert types == ["Ready", "MemoryPressure"]  # merged by the key "type", Ready kept


def test_patch_resource_version_is_a_precondition(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"a": "1"}}})
    expect_status(lambda: api.patch(dev_path("pcidevices", name),
                                    {"metadata": {"resourceVersion": o["metadata"]["resourceVersion"],
                                                  "labels": {"a": "2"}}}), 409, "Conflict")
    cur = api.get(dev_path("pcidevices", name))
    ok = api.patch(dev_path("pcidevices", name),
                   {"metadata": {"resourceVersion": cur["metadata"]["resourceVersion"], "labels": {"a": "3"}}})
    assert ok["metadata"]["labels"] == {"a": "3"}
    expect_status(lambda: api.patch(dev_path("pcidevices", unique()), {"metadata": {}}), 404, "NotFound")


def test_delete_preconditions(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    expect_status(lambda: api.delete(dev_path("pcidevices", name), {"preconditions": {"uid": "wrong"}}), 409,
                  "Conflict", f"Precondition failed: UID in precondition: wrong, UID in object meta: {o['metadata']['uid']}")
    expect_status(lambda: api.delete(dev_path("pcidevices", name), {"preconditions": {"resourceVersion": "1"}}), 409,
                  "Conflict", "Precondition failed: ResourceVersion in precondition: 1")
    out = api.delete(dev_path("pcidevices", name), {"preconditions": {"uid": o["metadata"]["uid"],
                                                                       "resourceVersion": o["metadata"]["resourceVersion"]}})
    assert out["kind"] == "PCIDevice" and out["metadata"]["name"] == name  # CRs answer the deleted object
    expect_status(lambda: api.get(dev_path("pcidevices", name)), 404, "NotFound",
                  f'pcidevices.{GROUP} "{name}" not found')
    expect_status(lambda: api.delete(dev_path("pcidevices", name)), 404, "NotFound")


def test_builtin_delete_answers_status_success(api):
    n = api.create_node(unique("node"))["metadata"]["name"]
    out = api.delete(f"/api/v1/nodes/{n}")
    assert out["kind"] == "Status" and out["status"] == "Success" and out["details"]["name"] == n


def test_finalizers_keep_the_object_until_removed(api):
    name = unique()
    api.create(dev_path("pcideviceclaims"), dict(claim(name), metadata={"name": name,
                                                                       "finalizers": ["hostdev.io/restore"]}))
    out = api.delete(dev_path("pcideviceclaims", name))
    assert out["metadata"]["deletionTimestamp"] and out["metadata"]["generation"] == 2
    kept = api.get(dev_path("pcideviceclaims", name))
    assert kept["metadata"]["deletionTimestamp"]
    # deleting again changes nothing; no new finalizer may be added now
    assert api.delete(dev_path("pcideviceclaims", name))["metadata"]["resourceVersion"] == \
        kept["metadata"]["resourceVersion"]
    expect_status(lambda: api.patch(dev_path("pcideviceclaims", name),
                                    {"metadata": {"finalizers": ["hostdev.io/restore", "other.io/x"]}}), 422,
                  "Invalid", "no new finalizers can be added if the object is being deleted")
    # the spec can still change while it is being deleted, the object stays
    api.patch(dev_path("pcideviceclaims", name), {"spec": {"userName": "still-here"}})
    assert api.exists(dev_path("pcideviceclaims", name))
    api.patch(dev_path("pcideviceclaims", name), {"metadata": {"finalizers": None}})
    assert not api.exists(dev_path("pcideviceclaims", name))


def test_garbage_collection_by_owner_uid(api):
    node = api.create_node(unique("node"))
    other = api.create_node(unique("node"))
    owned = [api.create(dev_path("pcidevices"), pcidevice(unique(), owner=node))["metadata"]["name"] for _ in range(3)]
    kept = api.create(dev_path("pcidevices"), pcidevice(unique(), owner=other))["metadata"]["name"]
    api.delete_node(node["metadata"]["name"])
    for name in owned:
        api.wait_for(dev_path("pcidevices", name), deleted=True, timeout=60)
    api.gc_wait()
    assert api.exists(dev_path("pcidevices", kept))


def test_owner_reference_to_a_wrong_uid_is_collected(api):
    """An owner reference names its owner by uid: a Node of that name with another uid is not the owner."""
    node = api.create_node(unique("node"))
    wrong = copy.deepcopy(node)
    wrong["metadata"]["uid"] = "11111111-2222-3333-4444-555555555555"
    name = api.create(dev_path("pcidevices"), pcidevice(unique(), owner=wrong))["metadata"]["name"]
    api.wait_for(dev_path("pcidevices", name), deleted=True, timeout=60)
    good = api.create(dev_path("pcidevices"), pcidevice(unique(), owner=node))["metadata"]["name"]
    api.gc_wait()
    assert api.exists(dev_path("pcidevices", good))


def test_garbage_collection_waits_for_dependents_finalizers(api):
    node = api.create_node(unique("node"))
    name = unique()
    body = pcidevice(name, owner=node)
    body["metadata"]["finalizers"] = ["hostdev.io/test"]
    api.create(dev_path("pcidevices"), body)
    api.delete_node(node["metadata"]["name"])
    dep = api.wait_for(dev_path("pcidevices", name), lambda o: o["metadata"].get("deletionTimestamp"), timeout=60)
    assert dep["metadata"]["finalizers"] == ["hostdev.io/test"]
    api.patch(dev_path("pcidevices", name), {"metadata": {"finalizers": []}})
    assert not api.exists(dev_path("pcidevices", name))


def test_orphan_and_foreground_propagation(api):
    node = api.create_node(unique("node"))
    a = api.create(dev_path("pcidevices"), pcidevice(unique(), owner=node))["metadata"]["name"]
    api.delete(f"/api/v1/nodes/{node['metadata']['name']}", {"propagationPolicy": "Orphan"})
    api.wait_for(f"/api/v1/nodes/{node['metadata']['name']}", deleted=True, timeout=60)
    api.gc_wait()
    assert "ownerReferences" not in api.get(dev_path("pcidevices", a))["metadata"]
    node2 = api.create_node(unique("node"))
    body = pcidevice(unique(), owner=node2)
    body["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    b = api.create(dev_path("pcidevices"), body)["metadata"]["name"]
    api.delete(f"/api/v1/nodes/{node2['metadata']['name']}", {"propagationPolicy": "Foreground"})
    api.wait_for(dev_path("pcidevices", b), deleted=True, timeout=60)
    api.wait_for(f"/api/v1/nodes/{node2['metadata']['name']}", deleted=True, timeout=60)
    expect_status(lambda: api.delete(dev_path("pcidevices", a), {"propagationPolicy": "Sideways"}), 422, "Invalid")


def test_namespaced_objects_need_their_namespace(api):
    kv = {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": {"name": "kubevirt"}, "spec": {}}
    ns = unique("ns")
    expect_status(lambda: api.create(f"/apis/kubevirt.io/v1/namespaces/{ns}/kubevirts", kv), 404, "NotFound",
                  f'namespaces "{ns}" not found')
    api.create_namespace(ns)
    out = api.create(f"/apis/kubevirt.io/v1/namespaces/{ns}/kubevirts", kv)
    assert out["metadata"]["namespace"] == ns
    wrong = dict(kv, metadata={"name": "kv2", "namespace": "elsewhere"})
    expect_status(lambda: api.create(f"/apis/kubevirt.io/v1/namespaces/{ns}/kubevirts", wrong), 400, "BadRequest",
                  "the namespace of the provided object does not match the namespace sent on the request")
    # a cluster-scoped kind has no namespaced path
    expect_status(lambda: api.get(f"/apis/{GROUP}/v1beta1/namespaces/{ns}/pcidevices"), 404, "NotFound")
    # deleting the namespace deletes its contents, then the namespace
    api.delete(f"/api/v1/namespaces/{ns}")
    api.wait_for(f"/api/v1/namespaces/{ns}", deleted=True, timeout=60)
    assert not api.exists(f"/apis/kubevirt.io/v1/namespaces/{ns}/kubevirts/kubevirt")


def test_dry_run_persists_nothing(api):
    name = unique()
    out = api.create(dev_path("pcidevices"), pcidevice(name), params={"dryRun": "All"})
    assert out["metadata"]["name"] == name
    assert not api.exists(dev_path("pcidevices", name))
    expect_status(lambda: api.create(dev_path("pcidevices"), pcidevice(name), params={"dryRun": "Some"}), 400,
                  "BadRequest")


def test_field_validation_modes(api):
    body = pcidevice(unique())
    body["spec"] = {"bogus": 1}
    body["metadata"]["bogusMeta"] = "x"
    code, out, headers = api.raw("POST", dev_path("pcidevices"), body)
    assert code == 201 and out["spec"] == {} and "bogusMeta" not in out["metadata"]
    assert 'unknown field \\"spec.bogus\\"' in headers.get("warning", "")
    body["metadata"]["name"] = unique()
    expect_status(lambda: api.create(dev_path("pcidevices"), body, params={"fieldValidation": "Strict"}), 400,
                  "BadRequest", ['PCIDevice in version "v1beta1" cannot be handled as a PCIDevice: strict decoding '
                                 'error:', 'unknown field "spec.bogus"', 'unknown field "metadata.bogusMeta"'])
    body["metadata"]["name"] = unique()
    code, out, headers = api.raw("POST", dev_path("pcidevices"), body, params={"fieldValidation": "Ignore"})
    assert code == 201 and "warning" not in headers
    expect_status(lambda: api.create(dev_path("pcidevices"), body, params={"fieldValidation": "Loose"}), 400)


@pytest.mark.parametrize("meta,field,words", [
    ({"name": "Upper"}, "metadata.name", "a lowercase RFC 1123 subdomain"),
    ({"name": "ok", "labels": {"bad key": "v"}}, "metadata.labels", "name part must consist of alphanumeric"),
    ({"name": "ok", "labels": {"k": "bad value!"}}, "metadata.labels", "a valid label must be an empty string"),
    ({"name": "ok", "labels": {"k": "x" * 64}}, "metadata.labels", "must be no more than 63 characters"),
    ({"name": "ok", "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n"}]},
     "metadata.ownerReferences.uid", "uid must not be empty"),
    ({"name": "ok", "finalizers": ["bad finalizer"]}, "metadata.finalizers[0]", "name part must consist"),
])
def test_metadata_validation(api, meta, field, words):
    body = {"apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "PCIDevice", "metadata": meta}
    b = expect_status(lambda: api.create(dev_path("pcidevices"), body), 422, "Invalid", [f"{field}: ", words])
    assert any(c["field"] == field for c in b["details"]["causes"]), b
    assert b["details"]["kind"] == "PCIDevice" and b["details"]["group"] == GROUP


def test_valid_metadata_is_accepted(api):
    name = unique()
    body = pcidevice(name, labels={"nodename": "node1", "hostdev.io/driver": "vfio-pci", "empty": ""},
                     annotations={"harvesterhci.io/pcideviceDriver": "e1000e"})
    out = api.create(dev_path("pcidevices"), body)
    assert out["metadata"]["labels"]["hostdev.io/driver"] == "vfio-pci"


def test_kind_and_api_version_must_match(api):
    body = pcidevice(unique())
    body["kind"] = "USBDevice"
    expect_status(lambda: api.create(dev_path("pcidevices"), body), 400, "BadRequest")
    body = pcidevice(unique())
    body["apiVersion"] = "devices.harvesterhci.io/v1"
    expect_status(lambda: api.create(dev_path("pcidevices"), body), 400, "BadRequest",
                  "does not match the expected API version")
    body = pcidevice(unique())
    del body["kind"]
    expect_status(lambda: api.create(dev_path("pcidevices"), body), 400, "BadRequest", "Object 'Kind' is missing")


def test_managed_fields_follow_the_writers(api):
    name = unique()
    api.create(dev_path("pcidevices"), pcidevice(name, labels={"a": "1"}),
               headers={"User-Agent": "hostdev-agent/0.1"})
    o = api.get(dev_path("pcidevices", name))
    o["status"] = pci_status()
    o = api.update(dev_path("pcidevices", name, "status"), o, params={"fieldManager": "tester"})
    mf = {(e["manager"], e.get("subresource")): e for e in o["metadata"]["managedFields"]}
    assert set(mf) == {("hostdev-agent", None), ("tester", "status")}
    assert "f:labels" in mf[("hostdev-agent", None)]["fieldsV1"]["f:metadata"]
    assert "f:address" in mf[("tester", "status")]["fieldsV1"]["f:status"]
    # a client cannot set them: its copy is ignored
    o["metadata"]["managedFields"] = [{"manager": "forged", "operation": "Update"}]
    o["metadata"]["labels"]["b"] = "2"
    o = api.update(dev_path("pcidevices", name), o, params={"fieldManager": "tester"})
    assert "forged" not in [e["manager"] for e in o["metadata"]["managedFields"]]


def test_body_content_types(api):
    yaml_body = f"apiVersion: {GROUP}/v1beta1\nkind: PCIDevice\nmetadata:\n  name: {unique()}\n"
    code, out, _ = api.raw("POST", dev_path("pcidevices"), yaml_body, content_type="application/yaml")
    assert code == 201, out
    expect_status(lambda: api.create(dev_path("pcidevices"), "x", content_type="application/vnd.kubernetes.protobuf"),
                  415, "UnsupportedMediaType")
    expect_status(lambda: api.create(dev_path("pcidevices"), "{not json", content_type="application/json"), 400,
                  "BadRequest")
