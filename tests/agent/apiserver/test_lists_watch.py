# SPDX-License-Identifier: Apache-2.0
"""List and watch rules of the STAND-IN API server (kubestandin; no real kube-apiserver can run
here): label and field selectors (custom resources: only metadata.name/namespace), limit/continue
pages and their expiry, resourceVersion semantics of lists and watches, bookmarks, timeouts,
410 Gone on a too old resourceVersion, selector transitions, sendInitialEvents, Table output.

Run: /usr/bin/python3 -m pytest tests/agent/apiserver/test_lists_watch.py"""
import http.client
import json
import ssl
import threading
import time
import urllib.parse

import pytest

from conftest import GROUP, dev_path, expect_status, pci_status, pcidevice, unique


def names(lst):
    return [o["metadata"]["name"] for o in lst["items"]]


@pytest.fixture(scope="module")
def labelled(api):
    """Five devices of one test run, labelled for selector tests."""
    run = unique("run")
    objs = []
    for i, (node, drv) in enumerate([("n1", "e1000e"), ("n1", "vfio-pci"), ("n2", "e1000e"), ("n2", "nvme"),
                                     ("n3", None)]):
        labels = {"run": run, "nodename": node, "idx": str(i)}
        if drv:
            labels["driver"] = drv
        objs.append(api.create(dev_path("pcidevices"), pcidevice(f"{run}-{i}", labels=labels)))
    return run, objs


@pytest.mark.parametrize("sel,expect", [
    ("nodename=n1", [0, 1]),
    ("nodename==n1", [0, 1]),
    ("nodename!=n1", [2, 3, 4]),
    ("nodename in (n1,n3)", [0, 1, 4]),
    ("nodename notin (n1, n3)", [2, 3]),
    ("driver", [0, 1, 2, 3]),
    ("!driver", [4]),
    ("driver!=e1000e", [1, 3, 4]),
    ("nodename=n2,driver=nvme", [3]),
    ("idx>2", [3, 4]),
    ("idx<1", [0]),
])
def test_label_selector(api, labelled, sel, expect):
    run, _ = labelled
    lst = api.get(dev_path("pcidevices"), params={"labelSelector": f"run={run}," + sel})
    assert names(lst) == [f"{run}-{i}" for i in expect]


@pytest.mark.parametrize("sel", ["nodename=", "in (a)", "a b", "nodename in ()", "Bad Key=1", "x=bad value",
                                 "a,", "idx>x"])
def test_bad_label_selector_is_400(api, sel):
    if sel == "nodename=":  # an empty value is valid: it matches an empty label
        assert api.get(dev_path("pcidevices"), params={"labelSelector": sel})["items"] == []
        return
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"labelSelector": sel}), 400, "BadRequest")


def test_field_selector_on_custom_resources(api, labelled):
    run, objs = labelled
    lst = api.get(dev_path("pcidevices"), params={"fieldSelector": f"metadata.name={run}-2"})
    assert names(lst) == [f"{run}-2"]
    lst = api.get(dev_path("pcidevices"), params={"fieldSelector": f"metadata.name!={run}-2",
                                                  "labelSelector": f"run={run}"})
    assert len(lst["items"]) == 4
    assert api.get(dev_path("pcidevices"), params={"fieldSelector": "metadata.namespace="})["items"]
    for bad in ("status.nodeName=n1", "spec.address=x", "metadata.labels=x"):
        expect_status(lambda: api.get(dev_path("pcidevices"), params={"fieldSelector": bad}), 400, "BadRequest",
                      f"field label not supported: {bad.split('=')[0]}")
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"fieldSelector": "metadata.name"}), 400,
                  "BadRequest", "invalid selector")


def test_field_selectors_of_builtin_kinds(api):
    n = api.create_node(unique("node"))["metadata"]["name"]
    api.patch(f"/api/v1/nodes/{n}", {"spec": {"unschedulable": True}})
    lst = api.get("/api/v1/nodes", params={"fieldSelector": "spec.unschedulable=true"})
    assert n in names(lst)
    expect_status(lambda: api.get("/api/v1/nodes", params={"fieldSelector": "status.phase=x"}), 400, "BadRequest",
                  "field label not supported: status.phase")
    lst = api.get("/apis/resource.k8s.io/v1/resourceslices", params={"fieldSelector": "spec.nodeName=x"})
    assert lst["items"] == []


def test_pages_are_a_consistent_snapshot(api, labelled):
    run, objs = labelled
    page1 = api.get(dev_path("pcidevices"), params={"labelSelector": f"run={run}", "limit": "2"})
    assert names(page1) == [f"{run}-0", f"{run}-1"] and page1["metadata"]["continue"]
    assert "remainingItemCount" not in page1["metadata"]  # not given with a selector
    # a change after the first page is not seen by the following pages
    api.patch(dev_path("pcidevices", f"{run}-3"), {"metadata": {"labels": {"changed": "yes"}}})
    api.create(dev_path("pcidevices"), pcidevice(f"{run}-9", labels={"run": run}))
    page2 = api.get(dev_path("pcidevices"), params={"labelSelector": f"run={run}", "limit": "2",
                                                    "continue": page1["metadata"]["continue"]})
    assert names(page2) == [f"{run}-2", f"{run}-3"]
    assert "changed" not in page2["items"][1]["metadata"]["labels"]
    assert page2["metadata"]["resourceVersion"] == page1["metadata"]["resourceVersion"]
    page3 = api.get(dev_path("pcidevices"), params={"labelSelector": f"run={run}", "limit": "2",
                                                    "continue": page2["metadata"]["continue"]})
    assert names(page3) == [f"{run}-4"] and "continue" not in page3["metadata"]
    api.delete(dev_path("pcidevices", f"{run}-9"))
    api.patch(dev_path("pcidevices", f"{run}-3"), {"metadata": {"labels": {"changed": None}}})
    # without selectors the server says how many remain
    full = api.get(dev_path("pcidevices"), params={"limit": "1"})
    assert full["metadata"]["remainingItemCount"] >= 4


def test_list_option_rules(api):
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"continue": "garbage"}), 400, "BadRequest",
                  "continue key is not valid")
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"resourceVersionMatch": "Exact"}), 422, "Invalid",
                  "resourceVersionMatch is forbidden unless resourceVersion is provided")
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"resourceVersion": "0",
                                                                  "resourceVersionMatch": "Exact"}), 422, "Invalid")
    page = api.get(dev_path("pcidevices"), params={"limit": "1"})
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"continue": page["metadata"]["continue"],
                                                                  "resourceVersion": "1"}), 400, "BadRequest",
                  "specifying resource version is not allowed when using continue")
    rv = int(page["metadata"]["resourceVersion"])
    body = expect_status(lambda: api.get(dev_path("pcidevices"), params={"resourceVersion": str(rv + 1000)}), 504,
                         "Timeout", "Too large resource version")
    assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_resource_version_zero_ignores_limit(api, labelled):
    run, _ = labelled
    lst = api.get(dev_path("pcidevices"), params={"labelSelector": f"run={run}", "limit": "2",
                                                  "resourceVersion": "0"})
    assert len(lst["items"]) == 5 and "continue" not in lst["metadata"]


def test_exact_list_at_an_older_resource_version(api):
    name = unique()
    a = api.create(dev_path("pcidevices"), pcidevice(name, labels={"v": "1"}))
    api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"v": "2"}}})
    old = api.get(dev_path("pcidevices"), params={"resourceVersion": a["metadata"]["resourceVersion"],
                                                  "resourceVersionMatch": "Exact",
                                                  "fieldSelector": f"metadata.name={name}"})
    assert old["items"][0]["metadata"]["labels"] == {"v": "1"}
    assert old["metadata"]["resourceVersion"] == a["metadata"]["resourceVersion"]


def test_continue_and_exact_expire_on_compaction(fresh):
    for i in range(3):
        fresh.create(dev_path("pcidevices"), pcidevice(f"c-{i}"))
    page = fresh.get(dev_path("pcidevices"), params={"limit": "1"})
    fresh.create(dev_path("pcidevices"), pcidevice("c-new"))
    fresh.compact()
    body = expect_status(lambda: fresh.get(dev_path("pcidevices"), params={"limit": "1",
                                                                           "continue": page["metadata"]["continue"]}),
                         410, "Expired", "The provided continue parameter is too old to display a consistent list")
    # the Status carries a token to continue inconsistently
    nxt = fresh.get(dev_path("pcidevices"), params={"limit": "10", "continue": body["metadata"]["continue"]})
    assert names(nxt) == ["c-1", "c-2", "c-new"]
    expect_status(lambda: fresh.get(dev_path("pcidevices"), params={"resourceVersion": page["metadata"]["resourceVersion"],
                                                                    "resourceVersionMatch": "Exact"}),
                  410, "Expired", "The resourceVersion for the provided list is too old")


def test_list_items_carry_kind_only_for_custom_resources(api):
    api.create_node(unique("node"))
    nodes = api.get("/api/v1/nodes")
    assert nodes["kind"] == "NodeList" and "kind" not in nodes["items"][0]
    devs = api.get(dev_path("pcidevices"))
    assert devs["kind"] == "PCIDeviceList" and devs["items"][0]["kind"] == "PCIDevice"


# -- watch ----------------------------------------------------------------------------------------


class Stream:
    """A raw watch stream, read line by line, so the tests see exactly what the server sends."""

    def __init__(self, api, path, **params):
        q = urllib.parse.urlencode(dict({"watch": "1"}, **params))
        self.conn = http.client.HTTPSConnection("127.0.0.1", api.port, timeout=60,
                                                context=ssl.create_default_context(cafile=api.ca_path))
        self.conn.request("GET", f"{path}?{q}", headers={"Authorization": "Bearer " + api.admin_token})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.read()
        assert self.resp.getheader("Transfer-Encoding") == "chunked"

    def next(self):
        line = self.resp.readline()
        if not line:
            return None
        assert line.endswith(b"\n")
        return json.loads(line)

    def until(self, pred, limit=1000):
        for _ in range(limit):
            ev = self.next()
            if ev is None or pred(ev):
                return ev
        raise AssertionError("event not seen")

    def close(self):
        self.conn.close()


def test_watch_from_resource_version_sees_exactly_the_later_events(api):
    name = unique()
    a = api.create(dev_path("pcidevices"), pcidevice(name))
    s = Stream(api, dev_path("pcidevices"), resourceVersion=a["metadata"]["resourceVersion"],
               fieldSelector=f"metadata.name={name}")
    try:
        b = api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"x": "1"}}})
        o = api.get(dev_path("pcidevices", name))
        o["status"] = pci_status()
        c = api.update(dev_path("pcidevices", name, "status"), o)
        api.delete(dev_path("pcidevices", name))
        evs = [s.next() for _ in range(3)]
        assert [e["type"] for e in evs] == ["MODIFIED", "MODIFIED", "DELETED"]
        assert evs[0]["object"]["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]
        assert evs[1]["object"]["metadata"]["resourceVersion"] == c["metadata"]["resourceVersion"]
        assert evs[1]["object"]["status"]["address"] == "0000:08:00.0"
        assert int(evs[2]["object"]["metadata"]["resourceVersion"]) > int(c["metadata"]["resourceVersion"])
        assert all(e["object"]["kind"] == "PCIDevice" for e in evs)
    finally:
        s.close()


@pytest.mark.parametrize("rv", [None, "0"])
def test_watch_without_resource_version_starts_with_the_state(api, labelled, rv):
    run, objs = labelled
    params = {"labelSelector": f"run={run}"}
    if rv is not None:
        params["resourceVersion"] = rv
    s = Stream(api, dev_path("pcidevices"), **params)
    try:
        evs = [s.next() for _ in range(5)]
        assert {e["type"] for e in evs} == {"ADDED"}
        assert sorted(e["object"]["metadata"]["name"] for e in evs) == [f"{run}-{i}" for i in range(5)]
    finally:
        s.close()


def test_watch_too_old_resource_version_is_an_error_event(fresh):
    a = fresh.create(dev_path("pcidevices"), pcidevice("w"))
    fresh.patch(dev_path("pcidevices", "w"), {"metadata": {"labels": {"x": "1"}}})
    start = fresh.compact()
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=a["metadata"]["resourceVersion"])
    try:
        ev = s.next()
        assert ev["type"] == "ERROR"
        assert ev["object"] == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": f"too old resource version: {a['metadata']['resourceVersion']} ({start})",
                                "reason": "Expired", "code": 410}
        assert s.next() is None  # the stream ends
    finally:
        s.close()
    # from the compaction point on, resuming works again
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=str(start))
    try:
        fresh.patch(dev_path("pcidevices", "w"), {"metadata": {"labels": {"x": "2"}}})
        assert s.next()["type"] == "MODIFIED"
    finally:
        s.close()


def test_history_limit_makes_old_versions_gone(fresh):
    a = fresh.create(dev_path("pcidevices"), pcidevice("h"))
    fresh.set_history_limit(2)
    for i in range(4):
        fresh.patch(dev_path("pcidevices", "h"), {"metadata": {"labels": {"i": str(i)}}})
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=a["metadata"]["resourceVersion"])
    try:
        ev = s.next()
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 410
    finally:
        s.close()


def test_bookmarks_and_timeout(fresh):
    fresh.settings(bookmark_interval=0.2)
    a = fresh.create(dev_path("pcidevices"), pcidevice("b"))
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=a["metadata"]["resourceVersion"],
               allowWatchBookmarks="true", timeoutSeconds="8")
    try:
        other = fresh.create_node("bm-node")  # another kind moves the resourceVersion on
        ev = s.until(lambda e: e["type"] == "BOOKMARK" and
                     int(e["object"]["metadata"]["resourceVersion"]) >= int(other["metadata"]["resourceVersion"]))
        assert ev["object"]["kind"] == "PCIDevice" and ev["object"]["apiVersion"] == f"{GROUP}/v1beta1"
        assert set(ev["object"]["metadata"]) == {"resourceVersion", "creationTimestamp"}
        t0 = time.monotonic()
        while s.next() is not None:  # the server ends the stream at timeoutSeconds (a clean end)
            assert time.monotonic() - t0 < 60
    finally:
        s.close()
    # without allowWatchBookmarks no bookmark is sent
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=a["metadata"]["resourceVersion"], timeoutSeconds="2")
    try:
        fresh.patch(dev_path("pcidevices", "b"), {"metadata": {"labels": {"a": "b"}}})
        evs = []
        while (ev := s.next()) is not None:
            evs.append(ev["type"])
        assert evs == ["MODIFIED"]
    finally:
        s.close()


def test_last_bookmark_comes_two_seconds_before_the_timeout(fresh):
    """kube-apiserver's watch cache sends a watch's bookmarks every minute and a last one 2 s
    before its deadline (so the client resumes from a recent resourceVersion), none at the end;
    a watch shorter than that gets no pre-timeout bookmark."""
    fresh.settings(bookmark_interval=3600)
    a = fresh.create(dev_path("pcidevices"), pcidevice(unique()))
    rv = a["metadata"]["resourceVersion"]
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds="4")
    try:
        evs = []
        while (ev := s.next()) is not None:
            evs.append(ev["type"])
        assert evs == ["BOOKMARK"]
    finally:
        s.close()
    s = Stream(fresh, dev_path("pcidevices"), resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds="1")
    try:
        assert s.next() is None
    finally:
        s.close()


def test_bookmarks_of_one_resource_come_at_its_watch_cache_ticks(fresh):
    """kube-apiserver's watch cache files each watch under the whole second its next bookmark is
    due and sends the due ones at the ticks of the resource's dispatcher, about one a second: two
    watches of one resource opened half a second apart get their bookmarks at the same instants
    (not each a bookmark interval after its own opening)."""
    fresh.settings(bookmark_interval=1.0)
    a = fresh.create(dev_path("pcidevices"), pcidevice(unique()))
    rv = a["metadata"]["resourceVersion"]
    arrivals = [[], []]

    def read(i, s):
        while len(arrivals[i]) < 5:
            ev = s.next()
            if ev is None:
                return
            if ev["type"] == "BOOKMARK":
                arrivals[i].append(time.monotonic())
    streams = []
    threads = []
    try:
        for i in range(2):
            if i:
                time.sleep(0.5)  # the offset between the two watches' openings (not a wait)
            streams.append(Stream(fresh, dev_path("pcidevices"), resourceVersion=rv, allowWatchBookmarks="true",
                                  timeoutSeconds="30"))
            threads.append(threading.Thread(target=read, args=(i, streams[i])))
            threads[i].start()
        for t in threads:
            t.join(60)
    finally:
        for s in streams:
            s.close()
    assert len(arrivals[0]) == 5 and len(arrivals[1]) == 5, arrivals
    # The second watch's bookmarks each come with one of the first's (each a second apart): the
    # typical distance to the nearest is the two threads' scheduling, not the half second.
    gaps = sorted(min(abs(t - u) for u in arrivals[0]) for t in arrivals[1][1:])
    assert gaps[len(gaps) // 2] < 0.2, (gaps, arrivals)


def test_selector_transitions_are_added_and_deleted(api):
    name = unique()
    a = api.create(dev_path("pcidevices"), pcidevice(name, labels={"phase": "out"}))
    s = Stream(api, dev_path("pcidevices"), resourceVersion=a["metadata"]["resourceVersion"],
               labelSelector="phase=in")
    try:
        api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"phase": "in"}}})
        api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"phase": "in", "more": "x"}}})
        api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"phase": "out"}}})
        evs = [s.next() for _ in range(3)]
        assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
        assert evs[2]["object"]["metadata"]["labels"]["phase"] == "out"  # DELETED carries the new state
    finally:
        s.close()


def test_send_initial_events(api, labelled):
    run, _ = labelled
    s = Stream(api, dev_path("pcidevices"), labelSelector=f"run={run}", sendInitialEvents="true",
               resourceVersionMatch="NotOlderThan", allowWatchBookmarks="true")
    try:
        evs = [s.next() for _ in range(6)]
        assert [e["type"] for e in evs] == ["ADDED"] * 5 + ["BOOKMARK"]
        assert evs[5]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    finally:
        s.close()
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"watch": "1", "sendInitialEvents": "true"}), 422,
                  "Invalid", "resourceVersionMatch")


def test_watch_of_a_named_object_and_old_watch_path(api):
    name = unique()
    a = api.create(dev_path("pcidevices"), pcidevice(name))
    other = unique()
    s = Stream(api, f"/apis/{GROUP}/v1beta1/watch/pcidevices/{name}", resourceVersion=a["metadata"]["resourceVersion"])
    try:
        api.create(dev_path("pcidevices"), pcidevice(other))
        api.patch(dev_path("pcidevices", name), {"metadata": {"labels": {"seen": "yes"}}})
        ev = s.next()
        assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == name
    finally:
        s.close()


def test_watch_as_table(api):
    name = unique()
    a = api.create(dev_path("pcidevices"), pcidevice(name))
    q = urllib.parse.urlencode({"watch": "1", "resourceVersion": a["metadata"]["resourceVersion"]})
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, timeout=60,
                                       context=ssl.create_default_context(cafile=api.ca_path))
    try:
        conn.request("GET", dev_path("pcidevices") + "?" + q,
                     headers={"Authorization": "Bearer " + api.admin_token,
                              "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        r = conn.getresponse()
        o = api.get(dev_path("pcidevices", name))
        o["status"] = pci_status(address="0000:09:00.0")
        api.update(dev_path("pcidevices", name, "status"), o)
        ev = json.loads(r.readline())
        t = ev["object"]
        assert ev["type"] == "MODIFIED" and t["kind"] == "Table"
        assert t["rows"][0]["cells"][:2] == [name, "0000:09:00.0"]
    finally:
        conn.close()


def test_table_output_uses_printer_columns(api):
    name = unique()
    o = api.create(dev_path("pcidevices"), pcidevice(name))
    o["status"] = pci_status(numaNode=1)
    api.update(dev_path("pcidevices", name, "status"), o)
    t = api.get(dev_path("pcidevices", name), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    cols = [(c["name"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols[:7] == [("Name", 0), ("Address", 0), ("Vendor Id", 0), ("Device Id", 0), ("Node Name", 0),
                        ("Description", 0), ("Kernel Driver In Use", 0)]
    assert ("NUMA Node", 1) in cols
    row = t["rows"][0]
    assert row["cells"][:7] == [name, "0000:08:00.0", "8086", "10d3", "node1",
                                "Ethernet controller: Intel Corporation 82574L Gigabit Network Connection", "e1000e"]
    assert row["cells"][cols.index(("NUMA Node", 1))] == 1
    assert row["object"]["kind"] == "PartialObjectMetadata"
    t = api.get(dev_path("pcidevices"), params={"includeObject": "Object", "fieldSelector": f"metadata.name={name}"},
                headers={"Accept": "application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json"})
    assert t["apiVersion"] == "meta.k8s.io/v1beta1" and t["rows"][0]["object"]["kind"] == "PCIDevice"
    # a missing value is null (kubectl prints <none>), an array value is JSON
    api.create(dev_path("sriovnetworkdevices"), {"apiVersion": f"{GROUP}/v1beta1", "kind": "SRIOVNetworkDevice",
                                                 "metadata": {"name": name}, "spec": {"address": "0000:3b:00.0",
                                                                                      "nodeName": "n1", "numVFs": 2}})
    s = api.get(dev_path("sriovnetworkdevices", name))
    s["status"] = {"status": "sriovNetworkDeviceEnabled", "vfAddresses": ["0000:3b:02.0", "0000:3b:02.1"]}
    api.update(dev_path("sriovnetworkdevices", name, "status"), s)
    t = api.get(dev_path("sriovnetworkdevices", name), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert t["rows"][0]["cells"][1:5] == ["0000:3b:00.0", "n1", "2", '["0000:3b:02.0","0000:3b:02.1"]']
    expect_status(lambda: api.get(dev_path("pcidevices"), headers={"Accept": "application/vnd.kubernetes.protobuf"}),
                  406, "NotAcceptable")
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"includeObject": "All"},
                                  headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}), 400)


def test_partial_object_metadata_and_yaml(api):
    lst = api.get(dev_path("pcidevices"), params={"limit": "2"},
                  headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"})
    assert lst["kind"] == "PartialObjectMetadataList" and lst["items"][0]["kind"] == "PartialObjectMetadata"
    code, text, headers = api.raw("GET", "/api/v1/nodes", headers={"Accept": "application/yaml"})
    assert code == 200 and headers["content-type"] == "application/yaml" and "kind: NodeList" in text


def test_watch_from_a_future_resource_version_is_an_error_event(api):
    rv = int(api.get(dev_path("pcidevices"), params={"limit": "1"})["metadata"]["resourceVersion"])
    s = Stream(api, dev_path("pcidevices"), resourceVersion=str(rv + 1000))
    try:
        ev = s.next()
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 504
        assert "Too large resource version" in ev["object"]["message"]
    finally:
        s.close()
    expect_status(lambda: api.get(dev_path("pcidevices"), params={"watch": "1", "resourceVersion": "abc"}), 400,
                  "BadRequest")
