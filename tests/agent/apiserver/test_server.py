# SPDX-License-Identifier: Apache-2.0
"""Transport, authentication, authorization, discovery and the test controls of the STAND-IN API
server (kubestandin; no real kube-apiserver can run here): TLS with its own CA, bearer tokens and
rotation, client certificates, 401/403 Status bodies, fault injection (429 with Retry-After, 500,
connection resets), dropped watch streams, restarts with and without state, the request log.

Run: /usr/bin/python3 -m pytest tests/agent/apiserver/test_server.py"""
import http.client
import json
import socket
import ssl
import subprocess
import time

import pytest

from conftest import GROUP, dev_path, expect_status, pcidevice, unique
from kubestandin.harness import StandIn, StandInError


def https(api, method, path, headers=None, cert=None, body=None):
    ctx = ssl.create_default_context(cafile=api.ca_path)
    if cert:
        ctx.load_cert_chain(*cert)
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data[:1] in (b"{", b"[") else data.decode()), r
    finally:
        conn.close()


def test_tls_is_verified_against_the_standin_ca(api):
    code, _, _ = https(api, "GET", "/version")
    assert code == 200
    with pytest.raises(ssl.SSLCertVerificationError):
        conn = http.client.HTTPSConnection("127.0.0.1", api.port, timeout=30, context=ssl.create_default_context())
        try:
            conn.request("GET", "/version")
        finally:
            conn.close()
    out = subprocess.run(["openssl", "x509", "-in", f"{api.state_dir}/server.crt", "-noout", "-ext", "subjectAltName"],
                         capture_output=True, text=True, check=True).stdout
    assert "IP Address:127.0.0.1" in out and "DNS:kubernetes.default.svc" in out


def test_unauthenticated_requests_get_401_status(api):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dXNlcjpwdw=="}):
        code, body, _ = https(api, "GET", dev_path("pcidevices"), headers)
        assert code == 401
        assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    code, body, _ = https(api, "GET", "/apis", {})
    assert code == 401  # discovery needs credentials too
    for path in ("/healthz", "/readyz", "/livez"):
        code, body, _ = https(api, "GET", path)
        assert code == 200 and body == "ok"
    code, body, _ = https(api, "GET", "/version")
    assert body["major"] == "1" and body["gitVersion"].startswith("v1.34")


def test_token_rotation(fresh):
    fresh.add_token("old-token", "system:serviceaccount:hostdev:agent")
    assert fresh.get(dev_path("pcidevices"), token="old-token")["kind"] == "PCIDeviceList"
    fresh.set_tokens({"new-token": ("system:serviceaccount:hostdev:agent", ["system:serviceaccounts"])})
    expect_status(lambda: fresh.get(dev_path("pcidevices"), token="old-token"), 401, "Unauthorized")
    assert fresh.get(dev_path("pcidevices"), token="new-token")["kind"] == "PCIDeviceList"
    assert fresh.remove_token("new-token")
    expect_status(lambda: fresh.get(dev_path("pcidevices"), token="new-token"), 401, "Unauthorized")
    assert fresh.get(dev_path("pcidevices"))  # the admin token is never rotated away
    users = {e["user"] for e in fresh.requests(resource="pcidevices", code=200)}
    assert "system:serviceaccount:hostdev:agent" in users


def test_client_certificate_authentication(api):
    cert = api.client_cert("system:node:node1", ["system:nodes"])
    api.forbid("delete", "pcidevices", GROUP, user="system:node:node1")
    code, body, _ = https(api, "GET", dev_path("pcidevices"), cert=cert)
    assert code == 200 and body["kind"] == "PCIDeviceList"
    name = unique()
    api.create(dev_path("pcidevices"), pcidevice(name))
    code, body, _ = https(api, "DELETE", dev_path("pcidevices", name), cert=cert)
    assert code == 403 and 'User "system:node:node1" cannot delete resource "pcidevices"' in body["message"]
    # a wrong token is 401 even with a valid certificate
    code, _, _ = https(api, "GET", dev_path("pcidevices"), {"Authorization": "Bearer nope"}, cert=cert)
    assert code == 401
    # a certificate from another CA is refused at the handshake
    other = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", f"{api.state_dir}/rogue.key", "-out", f"{api.state_dir}/rogue.crt",
                            "-days", "1", "-subj", "/CN=system:node:node1"], capture_output=True)
    assert other.returncode == 0
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        https(api, "GET", dev_path("pcidevices"), cert=(f"{api.state_dir}/rogue.crt", f"{api.state_dir}/rogue.key"))


def test_forbidden_names_verb_resource_and_user(fresh):
    user = "system:serviceaccount:hostdev:hostdev-agent"
    fresh.add_token("agent", user)
    fresh.forbid("list", "pcidevices", GROUP, user=user)
    body = expect_status(lambda: fresh.get(dev_path("pcidevices"), token="agent"), 403, "Forbidden")
    assert body["message"] == (f'pcidevices.{GROUP} is forbidden: User "{user}" cannot list resource "pcidevices" '
                               f'in API group "{GROUP}" at the cluster scope')
    assert body["details"] == {"group": GROUP, "kind": "pcidevices"}
    fresh.create(dev_path("pcidevices"), pcidevice("p1"))
    assert fresh.get(dev_path("pcidevices", "p1"), token="agent")  # get is still allowed
    # a ClusterRole-like rule set: only what is listed
    fresh.allow_all()
    fresh.set_rbac(user, [{"apiGroups": [GROUP], "resources": ["pcidevices"], "verbs": ["get", "list", "watch"]},
                          {"apiGroups": [GROUP], "resources": ["pcidevices/status"], "verbs": ["update"]}])
    assert fresh.get(dev_path("pcidevices"), token="agent")
    body = expect_status(lambda: fresh.patch(dev_path("pcidevices", "p1", "status"), {"status": {}}, token="agent"),
                         403, "Forbidden", 'cannot patch resource "pcidevices/status"')
    body = expect_status(lambda: fresh.get("/api/v1/namespaces/kube-system/configmaps/x", token="agent"), 403,
                         "Forbidden", ['configmaps "x" is forbidden', 'in API group "" in the namespace "kube-system"'])
    fresh.set_rbac(user, None)
    expect_status(lambda: fresh.get("/api/v1/namespaces/kube-system/configmaps/x", token="agent"), 404)


def test_fault_injection_429_500_and_count(fresh):
    fresh.inject(code=429, count=2, verb="list", resource="pcidevices", retry_after=3)
    for _ in range(2):
        code, body, headers = fresh.raw("GET", dev_path("pcidevices"))
        assert code == 429 and headers["retry-after"] == "3"
        assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 3
    assert fresh.raw("GET", dev_path("pcidevices"))[0] == 200  # count used up
    assert fresh.raw("GET", "/api/v1/nodes")[0] == 200        # other resources were never affected
    fresh.inject(code=500, count=1, verb="create")
    body = expect_status(lambda: fresh.create(dev_path("pcidevices"), pcidevice("x")), 500, "InternalError",
                         "Internal error occurred: injected fault")
    assert fresh.create(dev_path("pcidevices"), pcidevice("x"))
    f = fresh.inject(code=503, count=None, path="^/apis/devices", userAgent="hostdev-agent")
    assert fresh.raw("GET", dev_path("pcidevices"), headers={"User-Agent": "hostdev-agent/1.0"})[0] == 503
    assert fresh.raw("GET", dev_path("pcidevices"))[0] == 200
    assert [x["hits"] for x in fresh.faults() if x["id"] == f["id"]] == [1]
    fresh.clear_faults()
    assert fresh.raw("GET", dev_path("pcidevices"), headers={"User-Agent": "hostdev-agent/1.0"})[0] == 200


def test_fault_injection_reset(fresh):
    fresh.inject(action="reset", count=1, verb="get")
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        fresh.raw("GET", dev_path("pcidevices", "anything"))
    assert fresh.raw("GET", dev_path("pcidevices", "anything"))[0] == 404


class RawWatch:
    """A watch read as raw bytes, so the test sees whether the stream ended with its last chunk
    (a clean end, "0\\r\\n\\r\\n") or was cut (a drop or restart)."""

    def __init__(self, api, path):
        ctx = ssl.create_default_context(cafile=api.ca_path)
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", api.port), timeout=60),
                                    server_hostname="127.0.0.1")
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api.admin_token}\r\n"
                          "\r\n".encode())
        self.data = b""

    def read_until(self, needle):
        while needle not in self.data:
            chunk = self.sock.recv(65536)
            assert chunk, f"stream ended before {needle!r}: {self.data!r}"
            self.data += chunk

    def read_to_end(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionError, ssl.SSLError):
                return self.data
            if not chunk:
                return self.data
            self.data += chunk

    def close(self):
        self.sock.close()

    def ended_cleanly(self):
        """Parses the chunked body: True if the last (zero-size) chunk arrived, False if cut."""
        head, sep, body = self.data.partition(b"\r\n\r\n")
        assert sep and head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head, self.data
        while body:
            size_line, sep, rest = body.partition(b"\r\n")
            if not sep:
                return False
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return rest.startswith(b"\r\n")
            if len(rest) < size + 2:
                return False
            body = rest[size + 2:]
        return False

    def events(self):
        head, _, body = self.data.partition(b"\r\n\r\n")
        return [json.loads(line) for line in body.split(b"\n") if line.startswith(b"{")]


def test_drop_watches_mid_stream(fresh):
    fresh.create(dev_path("pcidevices"), pcidevice("d"))
    w = RawWatch(fresh, dev_path("pcidevices") + "?watch=1&allowWatchBookmarks=true")
    try:
        w.read_until(b'"type":"ADDED"')
        fresh.wait_requests(verb="watch", resource="pcidevices")
        assert fresh.drop_watches("pcidevices", GROUP) == 1
        w.read_to_end()
        assert not w.ended_cleanly()  # cut: no last chunk
        assert "ERROR" not in [e["type"] for e in w.events()]  # and no final event
    finally:
        w.close()
    # a watch that times out ends cleanly, with the last chunk (the connection stays open)
    w = RawWatch(fresh, dev_path("pcidevices") + "?watch=1&timeoutSeconds=1")
    try:
        w.read_until(b"\r\n0\r\n\r\n")
        assert w.ended_cleanly()
    finally:
        w.close()


def test_a_watch_that_ends_cleanly_keeps_its_connection(fresh):
    """Go's net/http (kube-apiserver) ends a chunked answer with its last chunk and keeps the
    HTTP/1.1 connection for the next request: a client re-opens a timed-out watch without a new
    TCP connection or TLS handshake. Only a watch that is cut closes it."""
    a = fresh.create(dev_path("pcidevices"), pcidevice("k"))
    fresh.create(dev_path("pcidevices"), pcidevice("k2"))
    fresh.compact()  # a's resourceVersion is now older than the history
    ctx = ssl.create_default_context(cafile=fresh.ca_path)
    conn = http.client.HTTPSConnection("127.0.0.1", fresh.port, context=ctx, timeout=60)
    auth = {"Authorization": "Bearer " + fresh.admin_token}
    mark = fresh.mark()
    before = fresh.connections()
    try:
        conn.request("GET", dev_path("pcidevices") + "?watch=1&timeoutSeconds=1", headers=auth)
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
        assert b'"type":"ADDED"' in r.read()  # to the last chunk: a clean end
        assert not r.will_close and r.getheader("Connection") is None
        sock = conn.sock
        # an ERROR event (410: the resourceVersion is older than the history) ends cleanly too
        conn.request("GET", dev_path("pcidevices") + "?watch=1&resourceVersion=" +
                     a["metadata"]["resourceVersion"], headers=auth)
        r = conn.getresponse()
        assert r.status == 200 and b'"code":410' in r.read()
        conn.request("GET", "/api/v1/nodes", headers=auth)
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["kind"] == "NodeList"
        assert conn.sock is sock
    finally:
        conn.close()
    reqs = fresh.requests(since=mark)
    assert [r["verb"] for r in reqs] == ["watch", "watch", "list"]
    assert len({r["connection"] for r in reqs}) == 1 and reqs[0]["connection"] is not None
    after = fresh.connections()
    assert after["accepted"] == before["accepted"] + 1
    assert after["tlsHandshakes"] == before["tlsHandshakes"] + 1


def test_idle_keep_alive_connections_are_closed(fresh):
    """kube-apiserver closes a keep-alive connection that waits longer than its IdleTimeout
    (90 s) for the next request; the stand-in's idle timeout is changeable."""
    assert fresh.server_state()["idleTimeout"] == 90
    fresh.settings(idle_timeout=0.5)
    ctx = ssl.create_default_context(cafile=fresh.ca_path)
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", fresh.port), timeout=60),
                           server_hostname="127.0.0.1")
    try:
        sock.sendall(f"GET /api/v1/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                     f"{fresh.admin_token}\r\n\r\n".encode())
        data = b""
        while True:  # the answer, then the server's close (the socket timeout only bounds the wait)
            try:
                chunk = sock.recv(65536)
            except (ConnectionError, ssl.SSLError):
                break
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b"NodeList" in data
    finally:
        sock.close()


def test_connection_counters_see_tls_session_resumption(fresh):
    ctx = ssl.create_default_context(cafile=fresh.ca_path)
    before = fresh.connections()

    def get(session=None):
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", fresh.port), timeout=60),
                               server_hostname="127.0.0.1", session=session)
        try:
            sock.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            while sock.recv(65536):  # TLS 1.3 session tickets arrive after the handshake
                pass
            return sock.session, sock.session_reused
        finally:
            sock.close()
    session, reused = get()
    assert not reused
    _, reused = get(session)
    assert reused
    after = fresh.connections()
    assert after["accepted"] - before["accepted"] == 2
    assert after["tlsHandshakes"] - before["tlsHandshakes"] == 2
    assert after["tlsOffered"] - before["tlsOffered"] == 1
    assert after["tlsResumed"] - before["tlsResumed"] == 1
    # The first handshake offered no ticket and got some; the second offered one of them.
    first, second = fresh.handshakes(since=before["accepted"])
    assert first["offered"] is None and not first["resumed"] and first["issued"], first
    assert second["offered"] in first["issued"] and second["resumed"], (first, second)
    assert second["hello"] > first["hello"]


def test_restart_keeps_or_loses_state(fresh):
    a = fresh.create(dev_path("pcidevices"), pcidevice("r"))
    b = fresh.patch(dev_path("pcidevices", "r"), {"metadata": {"labels": {"v": "2"}}})
    port = fresh.port
    fresh.restart(keep_state=True)
    assert fresh.port == port
    assert fresh.get(dev_path("pcidevices", "r"))["metadata"]["uid"] == a["metadata"]["uid"]
    # history is lost with the restart, as the real server's watch cache: resume gets 410
    events = list(fresh.watch(dev_path("pcidevices"), resource_version=a["metadata"]["resourceVersion"], timeout=5))
    assert events[0][0] == "ERROR" and events[0][1]["code"] == 410
    # the latest resourceVersion is where the new history starts: resuming there works
    fresh.patch(dev_path("pcidevices", "r"), {"metadata": {"labels": {"v": "3"}}})
    events = fresh.watch(dev_path("pcidevices"), resource_version=b["metadata"]["resourceVersion"], timeout=30)
    assert next(events)[0] == "MODIFIED"
    events.close()
    fresh.restart(keep_state=False)
    expect_status(lambda: fresh.get(dev_path("pcidevices", "r")), 404)
    assert fresh.get(dev_path("pcidevices"))["items"] == []  # the CRDs given at start are back
    rv = int(fresh.get(dev_path("pcidevices"))["metadata"]["resourceVersion"])
    assert rv > int(a["metadata"]["resourceVersion"])  # resourceVersions never go back unless asked


def test_down_and_up(fresh):
    fresh.down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", fresh.port), timeout=10).close()
    fresh.up()
    assert fresh.get(dev_path("pcidevices"))["kind"] == "PCIDeviceList"


def test_restart_drops_open_connections(fresh):
    w = RawWatch(fresh, dev_path("pcidevices") + "?watch=1")
    try:
        fresh.wait_requests(verb="watch")
        fresh.restart()
        w.read_to_end()
        assert not w.ended_cleanly()
    finally:
        w.close()


def test_request_log_and_counters(fresh):
    mark = fresh.mark()
    fresh.create(dev_path("pcidevices"), pcidevice("l"), headers={"User-Agent": "hostdev-agent/0.1 (linux)"})
    fresh.raw("GET", dev_path("pcidevices", "missing"))
    fresh.patch(dev_path("pcidevices", "l"), {"metadata": {"labels": {"a": "b"}}},
                params={"fieldManager": "x"})
    log = fresh.requests(mark)
    assert [(e["method"], e["verb"], e["code"]) for e in log] == [("POST", "create", 201), ("GET", "get", 404),
                                                                  ("PATCH", "patch", 200)]
    assert log[0]["userAgent"].startswith("hostdev-agent/") and log[0]["user"] == "standin-admin"
    assert log[2]["query"] == "fieldManager=x" and log[2]["name"] == "l" and log[2]["group"] == GROUP
    assert all(isinstance(e["time"], float) and e["durationMs"] >= 0 for e in log)
    c = fresh.counters(mark)
    assert c["verbs"] == {"create": 1, "get": 1, "patch": 1} and c["verbCodes"]["get 404"] == 1
    assert fresh.requests(mark, userAgent="hostdev-agent", verb="create")[0]["name"] is None
    with pytest.raises(TimeoutError):
        fresh.wait_requests(verb="deletecollection", since=mark, timeout=1)


def test_discovery_documents(api):
    apis = api.get("/apis")
    groups = {g["name"]: g for g in apis["groups"]}
    assert apis["kind"] == "APIGroupList"
    for g in (GROUP, "resource.k8s.io", "apiextensions.k8s.io", "kubevirt.io", "coordination.k8s.io"):
        assert g in groups
    assert groups["kubevirt.io"]["preferredVersion"]["version"] == "v1"
    core = api.get("/api")
    assert core["kind"] == "APIVersions" and core["versions"] == ["v1"]
    v1 = {r["name"]: r for r in api.get("/api/v1")["resources"]}
    assert v1["nodes"]["namespaced"] is False and "nodes/status" in v1 and v1["nodes"]["shortNames"] == ["no"]
    dev = {r["name"]: r for r in api.get(f"/apis/{GROUP}/v1beta1")["resources"]}
    assert dev["pcidevices"]["kind"] == "PCIDevice" and set(dev["pcidevices"]["verbs"]) >= {"get", "list", "watch",
                                                                                           "patch", "update"}
    assert dev["pcidevices/status"]["verbs"] == ["get", "patch", "update"]
    rs = {r["name"]: r for r in api.get("/apis/resource.k8s.io/v1")["resources"]}
    assert rs["resourceslices"]["namespaced"] is False and rs["resourceclaims"]["namespaced"] is True
    assert rs["deviceclasses"]["namespaced"] is False and "resourceclaims/status" in rs
    idx = api.get("/openapi/v3")["paths"]
    assert f"apis/{GROUP}/v1beta1" in idx


def test_error_paths_are_status_bodies(api):
    expect_status(lambda: api.get("/apis/nothing.example.com/v1/things"), 404, "NotFound",
                  "the server could not find the requested resource")
    expect_status(lambda: api.get(f"/apis/{GROUP}/v1/pcidevices"), 404, "NotFound")
    expect_status(lambda: api.get(dev_path("pcidevices", "x", "scale")), 404, "NotFound")
    expect_status(lambda: api.api("POST", dev_path("pcidevices", "x"), pcidevice("x")), 405, "MethodNotAllowed")
    expect_status(lambda: api.api("DELETE", dev_path("pcidevices", "x", "status")), 405, "MethodNotAllowed")
    expect_status(lambda: api.get("/openapi/v2"), 404, "NotFound")


def test_plain_http_and_ipv6(tmp_path):
    with StandIn(tmp_path / "h", http=True, bind="::1") as s:
        assert s.url.startswith("https://[::1]:")
        conn = http.client.HTTPConnection("::1", s.state["httpPort"], timeout=30)
        try:
            conn.request("GET", "/api/v1/nodes", headers={"Authorization": "Bearer " + s.admin_token})
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["kind"] == "NodeList"
        finally:
            conn.close()


def test_only_loopback_binds(tmp_path):
    with pytest.raises(RuntimeError):
        StandIn(tmp_path / "x", bind="0.0.0.0").start(timeout=30)


def test_keep_alive_serves_many_requests_on_one_connection(api):
    ctx = ssl.create_default_context(cafile=api.ca_path)
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx, timeout=60)
    sock_ids = set()
    try:
        for _ in range(5):
            conn.request("GET", "/api/v1/nodes", headers={"Authorization": "Bearer " + api.admin_token})
            r = conn.getresponse()
            assert r.status == 200
            r.read()
            sock_ids.add(id(conn.sock))
    finally:
        conn.close()
    assert len(sock_ids) == 1


def test_harness_wait_for_is_event_driven_and_times_out(api):
    name = unique()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        api.wait_for(dev_path("pcidevices", name), timeout=2)
    assert time.monotonic() - t0 < 30
    api.create(dev_path("pcidevices"), pcidevice(name))
    assert api.wait_for(dev_path("pcidevices", name), timeout=30)["metadata"]["name"] == name
    with pytest.raises(StandInError):
        api.get(dev_path("pcidevices", unique()))


def test_service_account_setup_and_rotation(fresh, tmp_path):
    sa = tmp_path / "sa"
    env = fresh.service_account(str(sa), "first-token")
    assert env == {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(fresh.port)}
    assert (sa / "namespace").read_text() == "hostdev-system" and (sa / "ca.crt").read_bytes()
    token = (sa / "token").read_text()
    code, _, _ = https(fresh, "GET", "/api/v1/nodes", {"Authorization": "Bearer " + token}, )
    assert code == 200
    assert fresh.requests(resource="nodes")[-1]["user"] == "system:serviceaccount:hostdev-system:hostdev-agent"
    fresh.write_token(str(sa), "second-token")
    fresh.set_tokens({"second-token": "system:serviceaccount:hostdev-system:hostdev-agent"})
    assert https(fresh, "GET", "/api/v1/nodes", {"Authorization": "Bearer " + token})[0] == 401
    assert https(fresh, "GET", "/api/v1/nodes", {"Authorization": "Bearer " + (sa / "token").read_text()})[0] == 200
