# SPDX-License-Identifier: Apache-2.0
"""CRD and schema rules of the STAND-IN API server (kubestandin; no real kube-apiserver can run
here): CRD validation, structural schemas, pruning of unknown fields, nulls, defaults, validation
errors with field paths, served versions, scope, selectable fields, CRD deletion; the agent's CRDs
and the Harvester and KubeVirt fixtures; the built-in resource.k8s.io/v1 kinds.

Run: /usr/bin/python3 -m pytest tests/agent/apiserver/test_crds.py"""
import copy
import os

import pytest
import yaml

from conftest import GROUP, claim, dev_path, expect_status, pci_status, pcidevice, unique
from kubestandin.harness import AGENT_CRDS, HARVESTER_CRDS, StandIn

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def widget_crd(group="example.hostdev.io", plural="widgets", scope="Namespaced", schema=None, **version):
    v = {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
         "schema": {"openAPIV3Schema": schema or {
             "type": "object",
             "properties": {
                 "spec": {"type": "object", "required": ["size"], "properties": {
                     "size": {"type": "integer", "minimum": 1, "maximum": 10},
                     "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                     "code": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
                     "port": {"x-kubernetes-int-or-string": True},
                     "note": {"type": "string", "nullable": True},
                     "plain": {"type": "string"},
                     "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3,
                              "x-kubernetes-list-type": "set"},
                     "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                     "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                 }},
                 "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}},
         "selectableFields": [{"jsonPath": ".spec.color"}]}
    v.update(version)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope, "versions": [v],
                     "names": {"plural": plural, "singular": plural[:-1], "kind": plural[:-1].capitalize()}}}


@pytest.fixture(scope="module")
def widgets(api):
    crd = api.create(CRDS, widget_crd())
    api.create_namespace("widgets")
    return crd


def widget(name, **spec):
    return {"apiVersion": "example.hostdev.io/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


WPATH = "/apis/example.hostdev.io/v1/namespaces/widgets/widgets"


def test_crd_is_established_and_discoverable(api, widgets):
    conds = {c["type"]: c["status"] for c in widgets["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    assert widgets["status"]["acceptedNames"]["listKind"] == "WidgetList"
    rl = api.get("/apis/example.hostdev.io/v1")
    assert {r["name"] for r in rl["resources"]} == {"widgets", "widgets/status"}
    assert api.get("/apis/example.hostdev.io")["preferredVersion"]["version"] == "v1"


def test_defaults_pruning_and_nulls(api, widgets):
    out = api.create(WPATH, widget("w1", size=3, bogus=True, note=None, plain=None, extra={"anything": {"x": 1}}))
    spec = out["spec"]
    assert spec["color"] == "red"                        # default applied
    assert "bogus" not in spec                           # unknown field pruned
    assert spec["note"] is None                          # nullable null kept
    assert "plain" not in spec                           # non-nullable null without default dropped
    assert spec["extra"] == {"anything": {"x": 1}}       # preserve-unknown-fields keeps everything
    assert out["metadata"]["namespace"] == "widgets"


@pytest.mark.parametrize("spec,field,words", [
    ({}, "spec.size", "Required value"),
    ({"size": "3"}, "spec.size", 'Invalid value: "string": spec.size in body must be of type integer: "string"'),
    ({"size": 11}, "spec.size", "spec.size in body should be less than or equal to 10"),
    ({"size": 0}, "spec.size", "spec.size in body should be greater than or equal to 1"),
    ({"size": 1, "color": "green"}, "spec.color", 'Unsupported value: "green": supported values: "red", "blue"'),
    ({"size": 1, "code": "ABC"}, "spec.code", "spec.code in body should match '^[a-z]+$'"),
    ({"size": 1, "code": "abcd"}, "spec.code", "Too long: may not be more than 3 bytes"),
    ({"size": 1, "port": True}, "spec.port", "must be of type integer,string"),
    ({"size": 1, "tags": ["a", "a"]}, "spec.tags[1]", 'Duplicate value: "a"'),
    ({"size": 1, "tags": ["a", "b", "c", "d"]}, "spec.tags", "Too many: 4: must have at most 3 items"),
    ({"size": 1, "labels": {"k": 5}}, "spec.labels.k", "must be of type string"),
    ({"size": 1.5}, "spec.size", "must be of type integer"),
])
def test_schema_validation_errors(api, widgets, spec, field, words):
    b = expect_status(lambda: api.create(WPATH, widget(unique("w"), **spec)), 422, "Invalid",
                      [f"{field}: ", words, 'Widget.example.hostdev.io "'])
    assert [c["field"] for c in b["details"]["causes"]] == [field]


def test_schema_accepts_valid_values(api, widgets):
    for spec in ({"size": 1, "port": 8080}, {"size": 10, "port": "http", "code": "abc", "color": "blue",
                                            "tags": ["a", "b"], "labels": {"k": "v"}}, {"size": 2.0}):
        api.create(WPATH, widget(unique("w"), **spec))


def test_several_errors_are_listed(api, widgets):
    expect_status(lambda: api.create(WPATH, widget(unique("w"), size="x", color="green")), 422, "Invalid",
                  ["is invalid: [", "spec.size", "spec.color"])


def test_selectable_fields_of_a_crd(api, widgets):
    api.create(WPATH, widget("blue-one", size=1, color="blue"))
    api.create(WPATH, widget("red-one", size=1, color="red"))
    lst = api.get(WPATH, params={"fieldSelector": "spec.color=blue"})
    got = [o["metadata"]["name"] for o in lst["items"]]
    assert "blue-one" in got and "red-one" not in got and all(o["spec"]["color"] == "blue" for o in lst["items"])
    expect_status(lambda: api.get(WPATH, params={"fieldSelector": "spec.size=1"}), 400, "BadRequest",
                  "field label not supported: spec.size")


def test_status_validated_through_the_subresource(api, widgets):
    w = api.create(WPATH, widget(unique("w"), size=1))
    w["status"] = {"ready": "yes"}
    expect_status(lambda: api.update(WPATH + "/" + w["metadata"]["name"] + "/status", w), 422, "Invalid",
                  "status.ready")
    w["status"] = {"ready": True}
    assert api.update(WPATH + "/" + w["metadata"]["name"] + "/status", w)["status"]["ready"] is True


@pytest.mark.parametrize("mutate,words", [
    (lambda c: c["metadata"].update(name="wrong.example.hostdev.io"), 'must be spec.names.plural+"."+spec.group'),
    (lambda c: c["spec"].update(scope="Galaxy"), 'spec.scope: Unsupported value: "Galaxy"'),
    (lambda c: c["spec"].update(group="nodots"), "should be a domain with at least one dot"),
    (lambda c: c["spec"]["versions"][0].update(storage=False), "must have exactly one version marked as storage"),
    (lambda c: c["spec"]["versions"][0].pop("schema"), "schemas are required"),
    (lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"].pop("type"),
     "properties[spec].properties[size].type: Required value: must not be empty for specified object fields"),
    (lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tags"].pop("items"),
     "items: Required value"),
    (lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].update(
        metadata={"type": "object", "properties": {"labels": {"type": "object"}}}),
     "must not specify anything other than name and generateName"),
    (lambda c: c["spec"]["versions"][0].update(additionalPrinterColumns=[{"name": "X", "type": "color",
                                                                          "jsonPath": ".spec.size"}]),
     'additionalPrinterColumns[0].type: Unsupported value: "color"'),
])
def test_crd_validation(api, mutate, words):
    crd = widget_crd(group="bad.hostdev.io", plural=unique("things").replace("-", ""))
    mutate(crd)
    expect_status(lambda: api.create(CRDS, crd), 422, "Invalid",
                  ['CustomResourceDefinition.apiextensions.k8s.io "', words])


def test_served_versions_and_scope(api):
    crd = widget_crd(group="multi.hostdev.io", plural="gadgets", scope="Cluster")
    v1 = crd["spec"]["versions"][0]
    v2 = copy.deepcopy(v1)
    v2.update(name="v2", storage=False)
    v3 = copy.deepcopy(v1)
    v3.update(name="v3alpha1", served=False, storage=False)
    crd["spec"]["versions"] = [v1, v2, v3]
    api.create(CRDS, crd)
    g = api.create("/apis/multi.hostdev.io/v1/gadgets", {"apiVersion": "multi.hostdev.io/v1", "kind": "Gadget",
                                                        "metadata": {"name": "g"}, "spec": {"size": 1}})
    g2 = api.get("/apis/multi.hostdev.io/v2/gadgets/g")
    assert g2["apiVersion"] == "multi.hostdev.io/v2"
    # stored once, in the storage version: an unchanged write through v2 is a no-op
    assert api.update("/apis/multi.hostdev.io/v2/gadgets/g", g2)["metadata"]["resourceVersion"] == \
        g["metadata"]["resourceVersion"]
    expect_status(lambda: api.get("/apis/multi.hostdev.io/v3alpha1/gadgets/g"), 404, "NotFound")
    expect_status(lambda: api.get("/apis/multi.hostdev.io/v1/namespaces/default/gadgets/g"), 404)
    assert g["metadata"].get("namespace") is None


def test_crd_deletion_removes_its_objects_and_type(fresh):
    fresh.create(CRDS, widget_crd(group="gone.hostdev.io", plural="bits", scope="Cluster"))
    p = "/apis/gone.hostdev.io/v1/bits"
    for i in range(3):
        fresh.create(p, {"apiVersion": "gone.hostdev.io/v1", "kind": "Bit", "metadata": {"name": f"b{i}"},
                         "spec": {"size": 1}})
    fresh.delete(CRDS + "/bits.gone.hostdev.io")
    fresh.wait_for(CRDS + "/bits.gone.hostdev.io", deleted=True, timeout=60)
    expect_status(lambda: fresh.get(p), 404, "NotFound", "the server could not find the requested resource")
    assert "gone.hostdev.io" not in [g["name"] for g in fresh.get("/apis")["groups"]]


def test_agent_crds_match_harvester_names_and_columns():
    """Our CRDs keep Harvester's group, version, kinds, scope, status subresource, field names and
    printer columns; our fields are only added."""
    def load(d):
        out = {}
        for f in os.listdir(d):
            if f.endswith(".yaml"):
                for doc in yaml.safe_load_all(open(os.path.join(d, f))):
                    if doc and doc.get("kind") == "CustomResourceDefinition":
                        out[doc["metadata"]["name"]] = doc
        return out
    ours, theirs = load(AGENT_CRDS), load(HARVESTER_CRDS)
    assert set(ours) == set(theirs) == {f"{p}.{GROUP}" for p in ("pcidevices", "usbdevices", "sriovnetworkdevices",
                                                                 "pcideviceclaims", "usbdeviceclaims")}
    for name, h in theirs.items():
        o = ours[name]
        assert o["spec"]["scope"] == h["spec"]["scope"] == "Cluster"
        assert o["spec"]["names"]["kind"] == h["spec"]["names"]["kind"]
        ov, hv = o["spec"]["versions"][0], h["spec"]["versions"][0]
        assert ov["name"] == hv["name"] == "v1beta1" and "status" in ov["subresources"]
        hcols = [(c["name"], c["jsonPath"]) for c in hv["additionalPrinterColumns"]]
        ocols = [(c["name"], c["jsonPath"]) for c in ov["additionalPrinterColumns"] if not c.get("priority")]
        assert [p for _, p in ocols] == [p for _, p in hcols]
        assert [n.replace("\u03a4\u03bf", "To") for n, _ in hcols] == [n for n, _ in ocols]
        for part in ("spec", "status"):
            hp = hv["schema"]["openAPIV3Schema"]["properties"].get(part, {}).get("properties", {})
            op = ov["schema"]["openAPIV3Schema"]["properties"].get(part, {}).get("properties", {})
            assert set(hp) <= set(op), (name, part, set(hp) - set(op))


def test_harvester_crds_prune_our_extra_fields(tmp_path):
    with StandIn(tmp_path / "h", crds=[HARVESTER_CRDS]) as h:
        o = h.create(dev_path("pcidevices"), pcidevice("n1-000008000"))
        o["status"] = pci_status(numaNode=0, iommuGroupMembers=["0000:08:00.0"], address=None)
        code, out, headers = h.raw("PUT", dev_path("pcidevices", "n1-000008000", "status"), o)
        assert code == 200
        assert "numaNode" not in out["status"] and "iommuGroupMembers" not in out["status"]
        assert out["status"]["address"] is None          # nullable there
        assert 'unknown field \\"status.numaNode\\"' in headers["warning"]
        # and they accept what our CRDs would refuse (no patterns, no required fields)
        o = h.get(dev_path("pcidevices", "n1-000008000"))
        o["status"] = {"vendorId": "8086"}
        assert h.update(dev_path("pcidevices", "n1-000008000", "status"), o)["status"] == {"vendorId": "8086"}


def test_agent_crds_are_strict_about_our_fields(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    for bad, field in (({"address": "08:00.0"}, "status.address"), ({"vendorId": "8086x"}, "status.vendorId"),
                       ({"numaNode": "0"}, "status.numaNode"), ({"numaNode": -2}, "status.numaNode")):
        o2 = dict(o, status=pci_status(**bad))
        expect_status(lambda: api.update(dev_path("pcidevices", name, "status"), o2), 422, "Invalid", field)
    o2 = dict(o, status={"address": "0000:08:00.0"})
    expect_status(lambda: api.update(dev_path("pcidevices", name, "status"), o2), 422, "Invalid",
                  "status.vendorId: Required value")
    ok = dict(o, status=pci_status(numaNode=-1, iommuGroupMembers=["0000:08:00.0", "0000:08:00.1"],
                                   vfAddresses=["0000:08:10.0"], totalVFs=7))
    assert api.update(dev_path("pcidevices", name, "status"), ok)["status"]["totalVFs"] == 7
    expect_status(lambda: api.create(dev_path("pcideviceclaims"), claim(unique(), address="bogus")), 422, "Invalid",
                  "spec.address")


def test_kubevirt_cr_is_namespaced_and_typed(api):
    ns = unique("kv")
    api.create_namespace(ns)
    kv = {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": {"name": "kubevirt"},
          "spec": {"certificateRotateStrategy": {}, "configuration": {
              "developerConfiguration": {"featureGates": ["HostDevices"]},
              "permittedHostDevices": {
                  "pciHostDevices": [{"pciVendorSelector": "8086:10D3", "resourceName": "intel.com/82574L",
                                      "externalResourceProvider": True}],
                  "mediatedDevices": [{"mdevNameSelector": "GRID T4-1Q", "resourceName": "nvidia.com/GRID_T4-1Q"}],
                  "usb": [{"resourceName": "kubevirt.io/storage", "externalResourceProvider": True,
                           "selectors": [{"vendor": "46f4", "product": "0001"}]}]}}}}
    out = api.create(f"/apis/kubevirt.io/v1/namespaces/{ns}/kubevirts", kv)
    phd = out["spec"]["configuration"]["permittedHostDevices"]
    assert phd["usb"][0]["selectors"] == [{"vendor": "46f4", "product": "0001"}]
    assert out["spec"]["configuration"]["developerConfiguration"]["featureGates"] == ["HostDevices"]
    bad = copy.deepcopy(kv)
    bad["metadata"]["name"] = "bad"
    bad["spec"]["configuration"]["permittedHostDevices"]["pciHostDevices"][0].pop("resourceName")
    expect_status(lambda: api.create(f"/apis/kubevirt.io/v1/namespaces/{ns}/kubevirts", bad), 422, "Invalid",
                  "spec.configuration.permittedHostDevices.pciHostDevices[0].resourceName: Required value")
    assert api.get(f"/apis/kubevirt.io/v1alpha3/namespaces/{ns}/kubevirts/kubevirt")["apiVersion"] == "kubevirt.io/v1alpha3"


# -- resource.k8s.io/v1 built-ins -----------------------------------------------------------------

SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def slice_body(name, **spec):
    s = {"driver": "vfio.hostdev.io", "pool": {"name": "node1", "generation": 1, "resourceSliceCount": 1},
         "nodeName": "node1",
         "devices": [{"name": "pci-0000-08-00-0", "attributes": {
             "resource.kubernetes.io/pciBusID": {"string": "0000:08:00.0"}, "numaNode": {"int": 0},
             "driverVersion": {"version": "1.2.3"}, "sriovPF": {"bool": False}}}]}
    s.update(spec)
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": name}, "spec": s}


def test_resource_slice_accepted_and_selected_by_node(api):
    name = unique("slice")
    out = api.create(SLICES, slice_body(name, nodeName="node-rs"))
    assert out["metadata"]["generation"] == 1
    lst = api.get(SLICES, params={"fieldSelector": "spec.nodeName=node-rs,spec.driver=vfio.hostdev.io"})
    assert [o["metadata"]["name"] for o in lst["items"]] == [name]


@pytest.mark.parametrize("spec,words", [
    ({"nodeName": None}, "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"),
    ({"allNodes": True}, "but multiple fields are set"),
    ({"devices": [{"name": f"d{i}"} for i in range(129)]}, "spec.devices: Too many: 129: must have at most 128 items"),
    ({"devices": [{"name": "Bad_Name"}]}, "spec.devices[0].name"),
    ({"devices": [{"name": "a"}, {"name": "a"}]}, 'spec.devices[1].name: Duplicate value: "a"'),
    ({"devices": [{"name": "a", "attributes": {f"a{i}": {"int": i} for i in range(33)}}]},
     "the total number of attributes and capacities must not exceed 32"),
    ({"devices": [{"name": "a", "attributes": {"x": {"int": 1, "string": "y"}}}]}, "exactly one value must be specified"),
    ({"devices": [{"name": "a", "attributes": {"x": {}}}]}, "spec.devices[0].attributes[x]: Required value"),
    ({"devices": [{"name": "a", "attributes": {"x": {"version": "v1"}}}]}, "semver"),
    ({"devices": [{"name": "a", "attributes": {"x": {"int": "1"}}}]}, "must be of type integer"),
    ({"pool": {"name": "p", "generation": 1, "resourceSliceCount": 0}}, "spec.pool.resourceSliceCount"),
    ({"driver": "Not_A_Domain"}, "spec.driver"),
])
def test_resource_slice_validation(api, spec, words):
    body = slice_body(unique("slice"), **spec)
    if spec.get("nodeName", "") is None:
        del body["spec"]["nodeName"]
    expect_status(lambda: api.create(SLICES, body), 422, "Invalid", words)


def test_resource_slice_immutable_fields_and_claims(api):
    name = unique("slice")
    s = api.create(SLICES, slice_body(name))
    s["spec"]["driver"] = "other.hostdev.io"
    expect_status(lambda: api.update(f"{SLICES}/{name}", s), 422, "Invalid", "spec.driver")
    ns = unique("dra")
    api.create_namespace(ns)
    rc = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "c"},
          "spec": {"devices": {"requests": [{"name": "nic", "exactly": {"deviceClassName": "vfio"}}]}},
          "status": {"reservedFor": [{"resource": "pods", "name": "p", "uid": "u"}]}}
    out = api.create(f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims", rc)
    assert "status" not in out  # dropped on create (status subresource)
    out["status"] = {"allocation": {"devices": {"results": [{"request": "nic", "driver": "vfio.hostdev.io",
                                                             "pool": "node1", "device": "pci-0000-08-00-0"}]}}}
    out = api.update(f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims/c/status", out)
    assert out["status"]["allocation"]["devices"]["results"][0]["device"] == "pci-0000-08-00-0"
    out["spec"]["devices"]["requests"][0]["name"] = "changed"
    expect_status(lambda: api.update(f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims/c", out), 422,
                  "Invalid", "spec: Invalid value")
    dc = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": unique("vfio")},
          "spec": {"selectors": [{"cel": {"expression": 'device.driver == "vfio.hostdev.io"'}}]}}
    assert api.create("/apis/resource.k8s.io/v1/deviceclasses", dc)["spec"]["selectors"]


CLAIMS = "/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims"


def claim_body(name, *requests):
    reqs = list(requests) or [{"name": "nic", "exactly": {"deviceClassName": "vfio-nic"}}]
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": name},
            "spec": {"devices": {"requests": reqs}}}


@pytest.fixture(scope="module")
def dra_ns(api):
    ns = unique("dra-ns")
    api.create_namespace(ns)
    return ns


def test_resource_claim_requests_accepted(api, dra_ns):
    out = api.create(CLAIMS.format(ns=dra_ns), claim_body(
        unique("claim"), {"name": "nic", "exactly": {"deviceClassName": "vfio-nic", "count": 2}},
        {"name": "gpu", "exactly": {"deviceClassName": "vfio-gpu", "allocationMode": "All",
                                    "selectors": [{"cel": {"expression": "device.attributes['vfio.hostdev.io']"
                                                                         ".numaNode == 0"}}]}},
        {"name": "any", "firstAvailable": [{"name": "a", "deviceClassName": "vfio-nic"}]}))
    assert [r["name"] for r in out["spec"]["devices"]["requests"]] == ["nic", "gpu", "any"]


@pytest.mark.parametrize("request_,words", [
    ({"exactly": {"deviceClassName": "c"}}, "spec.devices.requests[0].name: Required value"),
    ({"name": "Bad_Name", "exactly": {"deviceClassName": "c"}}, "spec.devices.requests[0].name: Invalid value"),
    ({"name": "nic"}, "exactly one of `exactly` or `firstAvailable` is required"),
    ({"name": "nic", "exactly": {"deviceClassName": "c"}, "firstAvailable": [{"name": "a", "deviceClassName": "c"}]},
     "but multiple fields are set"),
    ({"name": "nic", "exactly": {}}, "spec.devices.requests[0].exactly.deviceClassName: Required value"),
    ({"name": "nic", "exactly": {"deviceClassName": "Not_A_Class"}},
     "spec.devices.requests[0].exactly.deviceClassName: Invalid value"),
    ({"name": "nic", "exactly": {"deviceClassName": "c", "allocationMode": "Some"}},
     'spec.devices.requests[0].exactly.allocationMode: Unsupported value: "Some"'),
    ({"name": "nic", "exactly": {"deviceClassName": "c", "count": 0}},
     "spec.devices.requests[0].exactly.count: Invalid value: 0: must be greater than zero"),
    ({"name": "nic", "exactly": {"deviceClassName": "c", "selectors": [{"cel": {"expression": ""}}]}},
     "spec.devices.requests[0].exactly.selectors[0].cel.expression: Required value"),
])
def test_resource_claim_request_validation(api, dra_ns, request_, words):
    expect_status(lambda: api.create(CLAIMS.format(ns=dra_ns), claim_body(unique("claim"), request_)), 422,
                  "Invalid", words)


def test_resource_claim_request_limits_and_duplicates(api, dra_ns):
    many = [{"name": f"r{i}", "exactly": {"deviceClassName": "c"}} for i in range(33)]
    expect_status(lambda: api.create(CLAIMS.format(ns=dra_ns), claim_body(unique("claim"), *many)), 422, "Invalid",
                  "spec.devices.requests: Too many: 33: must have at most 32 items")
    two = [{"name": "r", "exactly": {"deviceClassName": "c"}}] * 2
    expect_status(lambda: api.create(CLAIMS.format(ns=dra_ns), claim_body(unique("claim"), *two)), 422, "Invalid",
                  'spec.devices.requests[1].name: Duplicate value: "r"')


def test_resource_claim_status_rules(api, dra_ns):
    name = unique("claim")
    base = CLAIMS.format(ns=dra_ns) + "/" + name
    c = api.create(CLAIMS.format(ns=dra_ns), claim_body(name))
    result = {"request": "nic", "driver": "vfio.hostdev.io", "pool": "node1", "device": "pci-0000-08-00-0"}
    # reservedFor without an allocation is refused
    c["status"] = {"reservedFor": [{"resource": "pods", "name": "p", "uid": "u1"}]}
    expect_status(lambda: api.update(base + "/status", c), 422, "Invalid",
                  "status.reservedFor: Forbidden: may not be specified when `allocated` is not set")
    for bad, words in ((dict(result, request="gpu"), "results[0].request: Invalid value: \"gpu\""),
                       (dict(result, device="PCI_0"), "results[0].device: Invalid value"),
                       (dict(result, driver="Bad_Driver"), "results[0].driver: Invalid value"),
                       (dict(result, pool="a//b"), "results[0].pool: Invalid value")):
        c["status"] = {"allocation": {"devices": {"results": [bad]}}}
        expect_status(lambda: api.update(base + "/status", c), 422, "Invalid", words)
    c["status"] = {"allocation": {"devices": {"results": [result]}},
                   "reservedFor": [{"resource": "pods", "name": "p", "uid": "u1"}]}
    c = api.update(base + "/status", c)
    assert c["status"]["allocation"]["devices"]["results"] == [result]
    # an allocation, once made, does not change
    c["status"]["allocation"]["devices"]["results"][0]["device"] = "pci-0000-08-00-1"
    expect_status(lambda: api.update(base + "/status", c), 422, "Invalid", "status.allocation: Invalid value")
    c = api.get(base)
    c["status"]["reservedFor"].append({"resource": "pods", "name": "p2", "uid": "u1"})
    expect_status(lambda: api.update(base + "/status", c), 422, "Invalid",
                  'status.reservedFor[1].uid: Duplicate value: "u1"')
    # taking the reservation and then the allocation away is allowed (the scheduler deallocates)
    c["status"] = {}
    assert "status" not in api.update(base + "/status", c) or not api.get(base).get("status")


def test_device_class_and_template_validation(api, dra_ns):
    dc = "/apis/resource.k8s.io/v1/deviceclasses"
    ok = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": unique("vfio-class")},
          "spec": {"selectors": [{"cel": {"expression": 'device.driver == "vfio.hostdev.io"'}}]}}
    assert api.create(dc, ok)["spec"]["selectors"]
    bad = dict(ok, metadata={"name": unique("vfio-class")}, spec={"selectors": [{}]})
    expect_status(lambda: api.create(dc, bad), 422, "Invalid", "spec.selectors[0].cel: Required value")
    bad["spec"] = {"selectors": [{"cel": {"expression": "x" * (10 * 1024 + 1)}}]}
    expect_status(lambda: api.create(dc, bad), 422, "Invalid", "may not be more than 10240 bytes")
    bad["spec"] = {"selectors": [{"cel": {"expression": "true"}}] * 33}
    expect_status(lambda: api.create(dc, bad), 422, "Invalid", "spec.selectors: Too many: 33")
    tpl = f"/apis/resource.k8s.io/v1/namespaces/{dra_ns}/resourceclaimtemplates"
    t = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate", "metadata": {"name": unique("tpl")},
         "spec": {"spec": {"devices": {"requests": [{"name": "nic", "exactly": {"deviceClassName": "vfio-nic"}}]}}}}
    assert api.create(tpl, t)["spec"]["spec"]["devices"]["requests"][0]["name"] == "nic"
    t["metadata"]["name"] = unique("tpl")
    t["spec"]["spec"]["devices"]["requests"][0]["name"] = "NIC"
    expect_status(lambda: api.create(tpl, t), 422, "Invalid", "spec.spec.devices.requests[0].name: Invalid value")


def test_crd_without_status_subresource_treats_status_as_a_field(api):
    crd = widget_crd(group="plain.hostdev.io", plural="plains", scope="Cluster")
    del crd["spec"]["versions"][0]["subresources"]
    api.create(CRDS, crd)
    p = "/apis/plain.hostdev.io/v1/plains"
    o = api.create(p, {"apiVersion": "plain.hostdev.io/v1", "kind": "Plain", "metadata": {"name": "p"},
                       "spec": {"size": 1}, "status": {"ready": True}})
    assert o["status"] == {"ready": True}            # kept on create
    o["status"]["ready"] = False
    o = api.update(p + "/p", o)
    assert o["status"] == {"ready": False} and o["metadata"]["generation"] == 2  # status counts for generation
    expect_status(lambda: api.update(p + "/p/status", o), 404, "NotFound")
    assert "plains/status" not in [r["name"] for r in api.get("/apis/plain.hostdev.io/v1")["resources"]]

