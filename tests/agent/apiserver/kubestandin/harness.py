# SPDX-License-Identifier: Apache-2.0
"""The pytest helper for tests that need a Kubernetes API server: starts the STAND-IN
(kubestandin, a Python stand-in for kube-apiserver, since no real one can run here) as a child
process on free loopback ports, waits for its READY line (no sleeping), writes kubeconfigs,
drives the control channel (faults, dropped watches, compaction, restarts, tokens, RBAC, the
request log) and offers a small admin client with an event-driven wait_for().

    from kubestandin.harness import StandIn, AGENT_CRDS
    with StandIn(tmp_path / "api", crds=[AGENT_CRDS]) as api:
        api.add_token("t0k3n", "system:serviceaccount:hostdev:hostdev-agent")
        kubeconfig = api.kubeconfig(token="t0k3n")
        ...

The interface is documented in ../README.md; keep it stable (other tests depend on it)."""
import base64
import http.client
import json
import os
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import uuid

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
APISERVER_DIR = os.path.dirname(HERE)
REPO = os.path.abspath(os.path.join(APISERVER_DIR, "..", "..", ".."))
AGENT_CRDS = os.path.join(REPO, "examples", "agent", "deploy", "crds")
HARVESTER_CRDS = os.path.join(REPO, "tests", "agent", "fixtures", "harvester-crds")
KUBEVIRT_CRD = os.path.join(REPO, "tests", "agent", "fixtures", "kubevirt", "kubevirt-crd.yaml")
DEVICES_GROUP = "devices.harvesterhci.io"
DEVICES_VERSION = "v1beta1"


class StandInError(Exception):
    """A non-2xx answer of the API: code, the Status body (dict) or text, and the headers."""

    def __init__(self, code, body, headers=None):
        msg = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {code}: {msg}")
        self.code = code
        self.body = body
        self.headers = headers or {}

    @property
    def reason(self):
        return self.body.get("reason") if isinstance(self.body, dict) else None


class StandIn:
    """A running stand-in API server. All waits are bounded by `timeout` arguments (seconds)."""

    def __init__(self, state_dir=None, *, crds=(), http=False, tokens=None, bookmark_interval=1.0,
                 watch_timeout=None, history_limit=None, bind="127.0.0.1", admin_token=None, verbose=False,
                 extra_args=(), idle_timeout=None):
        self._own_dir = state_dir is None
        self.state_dir = str(state_dir) if state_dir is not None else tempfile.mkdtemp(prefix="kubestandin-")
        os.makedirs(self.state_dir, exist_ok=True)
        self.crds = [str(c) for c in crds]
        self.http = http
        self.tokens = dict(tokens or {})
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.idle_timeout = idle_timeout
        self.history_limit = history_limit
        self.bind = bind
        self.admin_token_arg = admin_token
        self.verbose = verbose
        self.extra_args = list(extra_args)
        self.proc = None
        self.state = None
        self.log_path = os.path.join(self.state_dir, "standin.log")
        self._ssl = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout=60):
        args = [PYTHON, "-m", "kubestandin", "--state-dir", self.state_dir, "--bind", self.bind,
                "--bookmark-interval", str(self.bookmark_interval)]
        for c in self.crds:
            args += ["--crd", c]
        if self.http:
            args += ["--http-port", "0"]
        for tok, who in self.tokens.items():
            user, groups = (who, ()) if isinstance(who, str) else (who[0], who[1])
            args += ["--token", f"{tok}={user}" + (":" + ",".join(groups) if groups else "")]
        if self.watch_timeout is not None:
            args += ["--watch-timeout", str(self.watch_timeout)]
        if self.idle_timeout is not None:
            args += ["--idle-timeout", str(self.idle_timeout)]
        if self.history_limit is not None:
            args += ["--history-limit", str(self.history_limit)]
        if self.admin_token_arg:
            args += ["--admin-token", self.admin_token_arg]
        if self.verbose:
            args.append("--verbose")
        args += self.extra_args
        env = dict(os.environ)
        env["PYTHONPATH"] = APISERVER_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=APISERVER_DIR)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.stop()
                raise RuntimeError(f"the stand-in API server did not get ready in {timeout}s; log: {self.log_path}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait()
                raise RuntimeError(f"the stand-in API server exited ({self.proc.returncode}) before it was ready:\n"
                                   + self.log_text()[-4000:])
            line += chunk
        sel.close()
        text = line.decode().strip()
        if not text.startswith("READY "):
            self.stop()
            raise RuntimeError(f"unexpected first line from the stand-in: {text!r}")
        self.state = json.loads(text[len("READY "):])
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- addresses and credentials -----------------------------------------------------------

    @property
    def host(self):
        return "[::1]" if self.bind == "::1" else self.bind

    @property
    def port(self):
        return self.state["httpsPort"]

    @property
    def url(self):
        return f"https://{self.host}:{self.state['httpsPort']}"

    @property
    def http_url(self):
        return f"http://{self.host}:{self.state['httpPort']}" if self.state.get("httpPort") else None

    @property
    def control_url(self):
        return f"http://{self.host}:{self.state['controlPort']}"

    @property
    def ca_path(self):
        return self.state["ca"]

    @property
    def admin_token(self):
        return self.state["adminToken"]

    def client_cert(self, user, groups=()):
        """(cert path, key path) of a client certificate for user in groups, signed by the CA."""
        r = self.control("client-cert", {"user": user, "groups": list(groups)})
        return r["cert"], r["key"]

    def kubeconfig(self, path=None, *, user="hostdev-agent", token=None, token_file=None, client_cert=None,
                   embed=False, namespace=None, server=None, ca=None, insecure=False):
        """Writes a kubeconfig (one cluster, user and context, made current) and returns its path.
        Credentials: token, token_file, client_cert=(cert, key) - or the admin token if none."""
        if path is None:
            path = os.path.join(self.state_dir, f"kubeconfig-{user.replace('/', '_').replace(':', '_')}")
        cluster = {"server": server or self.url}
        ca = ca or self.ca_path
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        elif embed:
            cluster["certificate-authority-data"] = _b64file(ca)
        else:
            cluster["certificate-authority"] = ca
        u = {}
        if token_file:
            u["tokenFile"] = str(token_file)
        elif client_cert:
            if embed:
                u["client-certificate-data"] = _b64file(client_cert[0])
                u["client-key-data"] = _b64file(client_cert[1])
            else:
                u["client-certificate"], u["client-key"] = str(client_cert[0]), str(client_cert[1])
        else:
            u["token"] = token or self.admin_token
        ctx = {"cluster": "standin", "user": user}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {},
               "clusters": [{"name": "standin", "cluster": cluster}],
               "users": [{"name": user, "user": u}],
               "contexts": [{"name": "standin", "context": ctx}],
               "current-context": "standin"}
        tmp = str(path) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)  # JSON is YAML: every kubeconfig reader takes it
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return str(path)

    def service_account(self, directory, token, namespace="hostdev-system", name="hostdev-agent"):
        """An in-cluster setup: writes token, ca.crt and namespace into directory (what the kubelet
        projects to /var/run/secrets/kubernetes.io/serviceaccount), accepts the token for
        system:serviceaccount:<namespace>:<name>, and returns the environment a pod gets
        (KUBERNETES_SERVICE_HOST/PORT). Rotate with write_token(directory, new) + set_tokens()."""
        os.makedirs(directory, exist_ok=True)
        self.write_token(directory, token)
        shutil.copyfile(self.ca_path, os.path.join(directory, "ca.crt"))
        with open(os.path.join(directory, "namespace"), "w") as f:
            f.write(namespace)
        self.add_token(token, f"system:serviceaccount:{namespace}:{name}",
                       ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"])
        return {"KUBERNETES_SERVICE_HOST": self.host.strip("[]"), "KUBERNETES_SERVICE_PORT": str(self.port)}

    @staticmethod
    def write_token(directory, token):
        """Replaces directory/token atomically, as the kubelet rotates a projected token."""
        tmp = os.path.join(directory, ".token.tmp")
        with open(tmp, "w") as f:
            f.write(token)
        os.replace(tmp, os.path.join(directory, "token"))

    # -- control channel ------------------------------------------------------------------------

    def control(self, op, body=None, method="POST", timeout=120):
        conn = http.client.HTTPConnection(self.host.strip("[]"), self.state["controlPort"], timeout=timeout)
        try:
            data = json.dumps(body or {}).encode()
            conn.request(method, "/__standin/" + op, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            out = json.loads(r.read() or b"{}")
            if r.status != 200:
                raise RuntimeError(f"control {op}: {out.get('error', r.status)}")
            return out
        finally:
            conn.close()

    def server_state(self):
        return self.control("state", method="GET")

    def set_tokens(self, tokens):
        """Replaces the accepted tokens (the admin token stays): {token: user | (user, groups)}."""
        spec = {}
        for tok, who in tokens.items():
            user, groups = (who, []) if isinstance(who, str) else (who[0], list(who[1]))
            spec[tok] = {"user": user, "groups": groups}
        return self.control("tokens", {"tokens": spec})

    def add_token(self, token, user, groups=()):
        return self.control("tokens/add", {"token": token, "user": user, "groups": list(groups)})

    def remove_token(self, token):
        return self.control("tokens/remove", {"token": token})["removed"]

    def inject(self, *, code=500, count=1, action="status", retry_after=1, message=None, delay=0, **match):
        """Answers the next `count` requests that match with `code` (429 gets Retry-After), or
        resets their connection (action="reset") or delays them (action="delay", delay=s).
        Match keys: verb (str or list), resource, group, subresource, name, namespace, user, path
        (regex), userAgent (substring). count=None: every matching request until clear_faults()."""
        spec = {k: v for k, v in match.items() if v is not None}
        spec.update(code=code, count=count, action=action, retryAfter=retry_after, delay=delay)
        if message:
            spec["message"] = message
        return self.control("faults", spec)

    def faults(self):
        return self.control("faults", method="GET")["faults"]

    def clear_faults(self):
        return self.control("faults/clear")

    def drop_watches(self, resource=None, group=""):
        """Ends watch streams now, mid-stream (no final event); returns how many."""
        return self.control("watches/drop", {"resource": resource, "group": group})["dropped"]

    def drop_connections(self):
        """Shuts every open API connection down (watches included)."""
        return self.control("connections/drop")["dropped"]

    def connections(self):
        """{"accepted", "tlsHandshakes", "tlsOffered", "tlsResumed", "open"}: connections accepted
        since start (over TLS each a handshake), the handshakes whose client offered a session
        ticket (None: not observable with this Python), those that resumed a TLS session, the
        connections open now. Request log entries name their connection (`connection`, numbered
        in accept order)."""
        return self.control("connections", method="GET")

    def handshakes(self, since=0):
        """The completed TLS handshakes of the connections numbered above @since, in accept order:
        {"connection", "hello" (the order the server read the ClientHellos in), "offered" (the id
        of the session ticket the client offered, or None), "resumed", "issued" (the ids of the
        tickets the server sent)}. A ticket's id is the same where it is issued and offered."""
        return self.control("handshakes", {"since": since})["handshakes"]

    def compact(self):
        """Forgets the event history: older resourceVersions get 410 Gone. Returns the new start."""
        return self.control("compact")["historyStart"]

    def set_history_limit(self, limit):
        return self.control("history-limit", {"limit": limit})

    def restart(self, keep_state=True, keep_history=False, down=False, reset_resource_version=False):
        """Closes the listeners and every connection, then listens again on the same ports (unless
        down=True: then up() does). keep_state=False forgets every object (CRDs given at start come
        back); keep_history=False makes all earlier resourceVersions too old, as after a real restart."""
        self.state.update(self.control("restart", {"keepState": keep_state, "keepHistory": keep_history,
                                                   "down": down, "resetResourceVersion": reset_resource_version}))
        return self.state

    def down(self):
        self.state.update(self.control("down"))

    def up(self):
        self.state.update(self.control("up"))

    def forbid(self, verb, resource, group="", user=None, subresource=None, name=None):
        """Answers 403 (as RBAC would) for that verb on that resource (verb/resource may be "*")."""
        rule = {"verbs": [verb] if isinstance(verb, str) else list(verb), "apiGroups": [group],
                "resources": [resource + ("/" + subresource if subresource else "")]}
        if user:
            rule["users"] = [user]
        if name:
            rule["resourceNames"] = [name]
        return self.control("deny", rule)

    def set_rbac(self, user, rules):
        """Gives user only these PolicyRules (ClusterRole form); rules=None lifts the restriction."""
        return self.control("rbac", {"user": user, "rules": rules})

    def allow_all(self):
        return self.control("authz/clear")

    def mark(self):
        """The request log's current sequence number (pass it as `since`)."""
        return self.control("requests/mark")["seq"]

    def requests(self, since=0, **flt):
        """Logged requests after `since` matching flt (verb, resource, group, name, namespace, user,
        method, code, path regex, userAgent substring, subresource, watch)."""
        return self.control("requests", dict(flt, since=since))["requests"]

    def wait_requests(self, count=1, since=0, timeout=60, **flt):
        """Blocks until at least `count` matching requests are logged after `since`; returns them.
        Raises TimeoutError if they do not come."""
        found = self.control("requests/wait", dict(flt, since=since, count=count, timeout=timeout),
                             timeout=timeout + 30)["requests"]
        if len(found) < count:
            raise TimeoutError(f"{len(found)} of {count} requests matching {flt} after {timeout}s")
        return found

    def clear_requests(self):
        return self.control("requests/clear")["seq"]

    def counters(self, since=0):
        """{"verbs": {verb: n}, "codes": {code: n}, "verbCodes": {"verb code": n}}."""
        return self.control("counters", {"since": since})

    def gc_wait(self, timeout=60):
        """Waits until the garbage collector and the namespace/CRD finalizers have nothing queued."""
        if not self.control("gc/wait", {"timeout": timeout}, timeout=timeout + 30)["idle"]:
            raise TimeoutError("garbage collector still busy")

    def settings(self, bookmark_interval=None, watch_timeout=None, idle_timeout=None):
        b = {}
        if idle_timeout is not None:
            b["idleTimeout"] = idle_timeout
        if bookmark_interval is not None:
            b["bookmarkInterval"] = bookmark_interval
        if watch_timeout is not None:
            b["watchTimeout"] = watch_timeout
        return self.control("settings", b)

    # -- admin API client ---------------------------------------------------------------------------

    def _context(self):
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca_path)
        return self._ssl

    def _conn(self, timeout):
        return http.client.HTTPSConnection(self.host.strip("[]"), self.port, context=self._context(), timeout=timeout)

    def raw(self, method, path, body=None, *, content_type="application/json", token=None, params=None,
            headers=None, timeout=60):
        """(code, parsed JSON or text, headers) of one API request, by default as the admin."""
        if params:
            path += "?" + urllib.parse.urlencode(params)
        h = {"Accept": "application/json", "User-Agent": "kubestandin-harness/1"}
        if token is not False:
            h["Authorization"] = "Bearer " + (token or self.admin_token)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        conn = self._conn(timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            hdrs = {}
            for k, v in r.getheaders():  # repeated headers (Warning) are joined as HTTP allows
                hdrs[k.lower()] = hdrs[k.lower()] + ", " + v if k.lower() in hdrs else v
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = data.decode(errors="replace")
            return r.status, parsed, hdrs
        finally:
            conn.close()

    def api(self, method, path, body=None, **kw):
        """The JSON answer of a request; raises StandInError on a non-2xx answer."""
        code, out, hdrs = self.raw(method, path, body, **kw)
        if code >= 300:
            raise StandInError(code, out, hdrs)
        return out

    def get(self, path, **kw):
        return self.api("GET", path, **kw)

    def create(self, path, obj, **kw):
        return self.api("POST", path, obj, **kw)

    def update(self, path, obj, **kw):
        return self.api("PUT", path, obj, **kw)

    def patch(self, path, patch, content_type="application/merge-patch+json", **kw):
        return self.api("PATCH", path, patch, content_type=content_type, **kw)

    def delete(self, path, options=None, **kw):
        return self.api("DELETE", path, options, **kw)

    def exists(self, path):
        code, _, _ = self.raw("GET", path)
        return code == 200

    def apply_crds(self, *paths):
        """Creates the CRDs of these files/directories through the API."""
        import yaml
        out = []
        for p in paths:
            files = sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith((".yaml", ".yml"))) \
                if os.path.isdir(p) else [p]
            for f in files:
                with open(f) as fh:
                    for d in yaml.safe_load_all(fh):
                        if d and d.get("kind") == "CustomResourceDefinition":
                            out.append(self.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", d))
        return out

    def create_node(self, name, labels=None, ready=True):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": dict(labels or {})},
                "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                           "reason": "KubeletReady", "message": "stand-in node"}],
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": name}],
                           "nodeInfo": {"machineID": uuid.uuid4().hex, "systemUUID": str(uuid.uuid4()),
                                        "bootID": str(uuid.uuid4()), "kubeletVersion": "v1.34.0",
                                        "kubeProxyVersion": "", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                        "kernelVersion": os.uname().release, "containerRuntimeVersion": "none",
                                        "operatingSystem": "linux", "architecture": "amd64"}}}
        node["metadata"]["labels"].setdefault("kubernetes.io/hostname", name)
        return self.create("/api/v1/nodes", node)

    def delete_node(self, name):
        """Deletes a Node; the garbage collector then deletes what it owns (by uid)."""
        return self.delete(f"/api/v1/nodes/{name}")

    def create_namespace(self, name):
        return self.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def create_allocated_claim(self, namespace, name, results, device_class, annotations=None):
        """A resource.k8s.io/v1 ResourceClaim with one request (exactly one device of @device_class)
        per request name of @results, allocated as the scheduler does it: @results (each {"request",
        "driver", "pool", "device"}) written as status.allocation.devices.results through the status
        subresource. Returns the claim as stored."""
        path = f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims"
        meta = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = dict(annotations)
        obj = self.create(path, {
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": meta,
            "spec": {"devices": {"requests": [{"name": q, "exactly": {"deviceClassName": device_class}}
                                              for q in sorted({r["request"] for r in results})]}}})
        obj["status"] = {"allocation": {"devices": {"results": list(results)}}}
        return self.update(f"{path}/{name}/status", obj)

    @staticmethod
    def devices_path(plural, name=None, subresource=None):
        p = f"/apis/{DEVICES_GROUP}/{DEVICES_VERSION}/{plural}"
        if name:
            p += "/" + name
        if subresource:
            p += "/" + subresource
        return p

    # -- watches -------------------------------------------------------------------------------

    def watch(self, path, resource_version=None, timeout=60, **params):
        """Yields (type, object) events of a watch on a collection path until `timeout` seconds
        have passed (then it returns). resource_version None: current state as ADDED events first."""
        q = {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": str(int(timeout))}
        if resource_version is not None:
            q["resourceVersion"] = str(resource_version)
        q.update({k: v for k, v in params.items() if v is not None})
        conn = self._conn(timeout + 30)
        try:
            conn.request("GET", path + "?" + urllib.parse.urlencode(q),
                         headers={"Authorization": "Bearer " + self.admin_token, "Accept": "application/json"})
            r = conn.getresponse()
            if r.status != 200:
                raise StandInError(r.status, _json_or_text(r.read()))
            while True:
                line = r.readline()
                if not line:
                    return
                ev = json.loads(line)
                yield ev["type"], ev["object"]
        finally:
            conn.close()

    def wait_for(self, path, predicate=lambda o: True, timeout=60, deleted=False, **params):
        """Event-driven wait: the first object at a collection path (or a `.../name` path) for which
        predicate(obj) holds - or, with deleted=True, until the named object is gone. Raises
        TimeoutError after `timeout` seconds."""
        coll, name = path, None
        parts = path.rstrip("/").split("/")
        # ".../<plural>/<name>" (not ".../namespaces/<ns>") -> watch the collection by name
        if _is_item_path(parts):
            coll, name = "/".join(parts[:-1]), parts[-1]
            params = dict(params, fieldSelector=f"metadata.name={name}")
        deadline = time.monotonic() + timeout
        rv = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {path}")
            if rv is None:
                lst = self.get(coll, params={k: v for k, v in params.items() if k in ("labelSelector", "fieldSelector")})
                rv = lst["metadata"]["resourceVersion"]
                if deleted and not lst["items"]:
                    return None
                for o in lst["items"]:
                    if not deleted and predicate(o):
                        return o
            try:
                for etype, o in self.watch(coll, resource_version=rv, timeout=max(1, int(left)), **params):
                    if etype == "ERROR":
                        rv = None
                        break
                    rv = o["metadata"]["resourceVersion"]
                    if etype == "BOOKMARK":
                        continue
                    if deleted and etype == "DELETED":
                        return None
                    if not deleted and etype != "DELETED" and predicate(o):
                        return o
            except (OSError, http.client.HTTPException):
                rv = None  # dropped by a test: list again


def _is_item_path(parts):
    # /api/v1/<res>/<name> or /api/v1/namespaces/<ns>/<res>/<name> or /apis/<g>/<v>/... likewise
    base = 3 if parts[1] == "api" else 4
    rest = parts[base:]
    if rest and rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    return len(rest) == 2


def _b64file(p):
    with open(p, "rb") as f:
        return base64.b64encode(f.read()).decode()


def _json_or_text(data):
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
