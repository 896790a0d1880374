# SPDX-License-Identifier: Apache-2.0
"""The HTTP side: listeners (HTTPS with the stand-in's certificates, optional plain HTTP), request
parsing as kube-apiserver's RequestInfo does it, authentication, fault injection, authorization,
content negotiation (JSON, YAML, Table, PartialObjectMetadata), discovery, health and version
endpoints, and watch streams (chunked, newline-delimited JSON events, bookmarks, timeouts)."""
import copy
import datetime
import http.server
import json
import math
import random
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from . import table as tablemod
from . import tlsobserve
from .api import Context
from .errors import (ApiError, bad_request, internal, method_not_allowed, not_acceptable, not_found_path,
                     unauthorized, unsupported_media_type)

VERSION_INFO = {"major": "1", "minor": "34", "gitVersion": "v1.34.0-hostdev-standin", "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24 (stand-in)",
                "compiler": "gc", "platform": "linux/amd64"}
BODY_TYPES = ["application/json", "application/yaml"]
NAMESPACE_SUBRESOURCES = ("status", "finalize")


def _truthy(v):
    return v is not None and v.lower() in ("1", "true")


class Media:
    """A negotiated answer type."""

    def __init__(self, fmt, as_kind=None, version=None):
        self.fmt = fmt          # "json" | "yaml"
        self.as_kind = as_kind  # None | "Table" | "PartialObjectMetadata" | "PartialObjectMetadataList"
        self.version = version


def negotiate(accept):
    """The first media type of the Accept header the stand-in can produce; raises 406 if none."""
    if not accept:
        return Media("json")
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        params = {}
        for f in fields[1:]:
            if "=" in f:
                k, v = f.split("=", 1)
                params[k.strip().lower()] = v.strip()
        if mt in ("*/*", "application/*"):
            return Media("json")
        if mt not in ("application/json", "application/yaml"):
            continue
        fmt = "json" if mt == "application/json" else "yaml"
        as_kind = params.get("as")
        if as_kind is None:
            return Media(fmt)
        if params.get("g") == "meta.k8s.io" and as_kind == "Table" and params.get("v") in ("v1", "v1beta1"):
            return Media(fmt, "Table", params["v"])
        if params.get("g") == "meta.k8s.io" and as_kind in ("PartialObjectMetadata", "PartialObjectMetadataList") \
                and params.get("v") in ("v1", "v1beta1"):
            return Media(fmt, as_kind, params["v"])
    raise not_acceptable(["application/json", "application/yaml",
                          "application/json;as=Table;v=v1;g=meta.k8s.io"])


class RequestInfo:
    """What a path asks for, as k8s.io/apiserver/pkg/endpoints/request.RequestInfo parses it."""

    def __init__(self, method, path, query):
        self.path = path
        self.is_resource = False
        self.verb = method.lower()
        self.group = self.version = self.resource = self.subresource = self.name = None
        self.namespace = ""
        parts = [p for p in path.strip("/").split("/") if p]
        if not parts or parts[0] not in ("api", "apis"):
            return
        if parts[0] == "api":
            if len(parts) < 2:
                return
            self.group, self.version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) < 3:
                return
            self.group, self.version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            return
        self.is_resource = True
        watch_prefix = False
        if rest[0] == "watch":
            watch_prefix = True
            rest = rest[1:]
        if rest and rest[0] == "namespaces" and len(rest) > 1:
            self.namespace = rest[1]
            if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
        if not rest:
            self.is_resource = False
            return
        self.resource = rest[0]
        if len(rest) > 1:
            self.name = rest[1]
        if len(rest) > 2:
            self.subresource = rest[2]
        if len(rest) > 3:
            self.bad = True
        if self.resource == "namespaces" and self.namespace and rest[0] == "namespaces":
            # /api/v1/namespaces/{name}[/status]: the namespace object itself
            self.name = self.namespace
            self.subresource = rest[2] if len(rest) > 2 else None
            self.namespace = ""
        m = method.upper()
        watch = watch_prefix or _truthy((query.get("watch") or [None])[0])
        if m == "GET":
            self.verb = "watch" if watch else ("get" if self.name else "list")
        elif m == "POST":
            self.verb = "create"
        elif m == "PUT":
            self.verb = "update"
        elif m == "PATCH":
            self.verb = "patch"
        elif m == "DELETE":
            self.verb = "delete" if self.name else "deletecollection"

    def as_dict(self):
        return {"verb": self.verb if self.is_resource else None, "group": self.group, "version": self.version,
                "resource": self.resource, "subresource": self.subresource, "namespace": self.namespace or None,
                "name": self.name}


class ConnectionClosed(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostdev-standin"
    sys_version = ""

    def log_message(self, fmt, *args):
        app = self.server.app
        if app.verbose:
            sys.stderr.write("standin: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.server.app.handle(self)

    def handle_one_request(self):
        # Between requests a keep-alive connection waits at most the idle timeout, then the server
        # closes it, as kube-apiserver's http.Server (IdleTimeout 90 s) does.
        idle = self.server.app.idle_timeout
        try:
            self.connection.settimeout(idle if idle else None)
        except OSError:
            pass
        super().handle_one_request()

    def parse_request(self):
        # The request line arrived: the idle timeout no longer applies (watches last long).
        try:
            self.connection.settimeout(None)
        except OSError:
            pass
        return super().parse_request()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def finish(self):
        try:
            super().finish()
        except (OSError, ssl.SSLError):
            pass


class Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, addr, app, tls_ctx):
        self.app = app
        self.tls_ctx = tls_ctx
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, Handler)

    def process_request_thread(self, request, client_address):
        try:
            if self.tls_ctx is not None:
                request.settimeout(30)
                request = self.tls_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
        except (OSError, ssl.SSLError):
            try:
                request.close()
            except OSError:
                pass
            return
        self.app.track(request, tls=self.tls_ctx is not None)
        try:
            self.finish_request(request, client_address)
        except Exception:
            pass
        finally:
            self.app.untrack(request)
            self.shutdown_request(request)

    def handle_error(self, request, client_address):
        pass


class App:
    """The stand-in server: an Api behind HTTP listeners, with the tests' controls."""

    def __init__(self, api, auth, faults, log, *, bind="127.0.0.1", https_port=0, http_port=None, tls_ctx=None,
                 bookmark_interval=2.0, watch_timeout=1800, idle_timeout=90, verbose=False):
        self.api = api
        self.auth = auth
        self.faults = faults
        self.log = log
        self.bind = bind
        self.https_port = https_port
        self.http_port = http_port
        self.tls_ctx = tls_ctx
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.idle_timeout = idle_timeout
        self.verbose = verbose
        self.conn_lock = threading.Lock()
        self.bookmark_phases = {}  # (group, plural) -> s, _bookmark_phase
        self.conns = {}  # socket -> connection number (1, 2, ...: in the order they were accepted)
        # Connections accepted (TLS: handshakes completed), the TLS handshakes whose client offered
        # a session ticket and those that resumed a session, since start: what a client pays in
        # handshakes shows here. tlsOffered is None when the handshakes cannot be observed.
        self.conn_stats = {"accepted": 0, "tlsHandshakes": 0, "tlsOffered": 0 if tlsobserve.available() else None,
                           "tlsResumed": 0}
        self.handshakes = []  # one entry per completed TLS handshake, in accept order
        self.listeners = []
        self.up = False

    # -- listeners ----------------------------------------------------------------------

    def start(self):
        specs = []
        if self.https_port is not None:
            specs.append(("https", self.https_port, self.tls_ctx))
        if self.http_port is not None:
            specs.append(("http", self.http_port, None))
        for kind, port, ctx in specs:
            srv = Listener((self.bind, port), self, ctx)
            if kind == "https":
                self.https_port = srv.server_address[1]
            else:
                self.http_port = srv.server_address[1]
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                                 name=f"standin-{kind}", daemon=True)
            t.start()
            self.listeners.append((srv, t))
        self.up = True

    def stop(self):
        """Closes the listeners and every open connection (mid-stream for watches)."""
        self.up = False
        for srv, t in self.listeners:
            srv.shutdown()
            srv.server_close()
        self.listeners = []
        self.api.store.drop_watchers(reason="server stopped")
        self.drop_connections()

    def track(self, sock, tls=False):
        with self.conn_lock:
            st = self.conn_stats
            st["accepted"] += 1
            self.conns[sock] = st["accepted"]
            if tls:
                resumed = bool(getattr(sock, "session_reused", False))
                rec = tlsobserve.record(sock) or {}
                st["tlsHandshakes"] += 1
                st["tlsResumed"] += resumed
                if st["tlsOffered"] is not None and rec.get("offered"):
                    st["tlsOffered"] += 1
                self.handshakes.append({"connection": st["accepted"], "hello": rec.get("hello"),
                                        "offered": rec.get("offered"), "resumed": resumed,
                                        "issued": list(rec.get("issued", ()))})

    def untrack(self, sock):
        with self.conn_lock:
            self.conns.pop(sock, None)

    def connection_stats(self):
        with self.conn_lock:
            return dict(self.conn_stats, open=len(self.conns))

    def tls_handshakes(self, since=0):
        """The completed TLS handshakes of connections numbered above @since (tlsobserve)."""
        with self.conn_lock:
            return [dict(h) for h in self.handshakes if h["connection"] > since]

    def connection_id(self, sock):
        with self.conn_lock:
            return self.conns.get(sock)

    def drop_connections(self):
        with self.conn_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(conns)

    # -- request handling -----------------------------------------------------------------

    def handle(self, h):
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        params = {k: v[-1] for k, v in query.items()}
        info = RequestInfo(h.command, url.path, query)
        entry = {"time": time.time(), "method": h.command, "path": url.path, "query": url.query,
                 "userAgent": h.headers.get("User-Agent", ""), "contentType": h.headers.get("Content-Type"),
                 "watch": info.verb == "watch", "connection": self.connection_id(h.connection),
                 **info.as_dict()}
        state = {"logged": False}

        def log(code, user=None):
            if not state["logged"]:
                state["logged"] = True
                entry["code"] = code
                entry["user"] = user.name if user else None
                entry["durationMs"] = round((time.monotonic() - t0) * 1000, 3)
                self.log.append(entry)

        user = None
        try:
            body = self._read_body(h)
            if url.path in ("/healthz", "/livez", "/readyz") or url.path.startswith(("/healthz/", "/livez/", "/readyz/")):
                log(200)
                return self._send_text(h, 200, "ok")
            if url.path == "/version":
                log(200)
                return self._send_json(h, 200, VERSION_INFO)
            user = self.auth.authenticate(h.headers.get("Authorization"), self._peer_cert(h))
            if user is None:
                raise unauthorized()
            fault = self.faults.take(dict(entry, user=user.name))
            if fault is not None:
                if fault.action == "reset":
                    log(0, user)
                    self._reset(h)
                    return
                if fault.action == "delay":
                    time.sleep(fault.delay)
                else:
                    raise fault.error()
            if info.is_resource:
                return self._resource(h, info, params, body, user, log)
            return self._nonresource(h, url.path, user, log)
        except ApiError as e:
            log(e.code, user)
            self._send_error(h, e)
        except ConnectionClosed:
            log(0, user)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            log(0, user)
            h.close_connection = True
        except Exception as e:  # a stand-in bug: answer a Status, as the real server's panic handler does
            import traceback
            traceback.print_exc()
            answered = state["logged"]  # logged means the answer's headers went out
            log(500, user)
            if not answered:
                self._send_error(h, internal(f"stand-in error: {type(e).__name__}: {e}"))
            h.close_connection = True

    def _peer_cert(self, h):
        conn = h.connection
        if isinstance(conn, ssl.SSLSocket):
            try:
                return conn.getpeercert()
            except (ValueError, ssl.SSLError):
                return None
        return None

    def _reset(self, h):
        h.close_connection = True
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self, h):
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = h.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += h.rfile.read(size)
                h.rfile.readline()
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    # -- answers ------------------------------------------------------------------------------

    def _headers(self, h, code, ctype, length, extra=None):
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(length))
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Audit-Id", str(uuid.uuid4()))
        h.send_header("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT"))
        for k, v in (extra or {}).items():
            if isinstance(v, list):
                for x in v:
                    h.send_header(k, x)
            else:
                h.send_header(k, v)
        h.end_headers()

    def _send_text(self, h, code, text):
        data = text.encode()
        self._headers(h, code, "text/plain; charset=utf-8", len(data))
        if h.command != "HEAD":
            h.wfile.write(data)

    def _send_json(self, h, code, obj, media=None, extra=None, pretty=False):
        if media is not None and media.fmt == "yaml":
            import yaml
            data = yaml.safe_dump(obj, sort_keys=False).encode()
            ctype = "application/yaml"
        else:
            data = (json.dumps(obj, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
                    + "\n").encode()
            ctype = "application/json"
        self._headers(h, code, ctype, len(data), extra)
        if h.command != "HEAD":
            h.wfile.write(data)

    def _send_error(self, h, e):
        try:
            self._send_json(h, e.code, e.status(), extra=e.headers)
        except (OSError, ssl.SSLError):
            h.close_connection = True

    # -- non-resource endpoints: discovery ---------------------------------------------------

    def _nonresource(self, h, path, user, log):
        if h.command not in ("GET", "HEAD"):
            raise method_not_allowed()
        reg = self.api.registry
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            return self._openapi(h, path, user, log)
        media = negotiate(h.headers.get("Accept"))
        if media.as_kind:
            raise not_acceptable(["application/json", "application/yaml"])
        parts = [p for p in path.strip("/").split("/") if p]
        with self.api.store.lock:
            if parts == ["api"]:
                port = h.server.server_address[1]
                body = {"kind": "APIVersions", "versions": ["v1"],
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                        "serverAddress": f"{self.bind}:{port}"}]}
            elif parts == ["api", "v1"]:
                body = self._resource_list("", "v1")
            elif parts == ["apis"]:
                body = {"kind": "APIGroupList", "apiVersion": "v1",
                        "groups": [self._group(g, vs) for g, vs in sorted(reg.groups().items())]}
            elif len(parts) == 2 and parts[0] == "apis" and parts[1] in reg.groups():
                body = dict(self._group(parts[1], reg.groups()[parts[1]]), kind="APIGroup", apiVersion="v1")
            elif len(parts) == 3 and parts[0] == "apis" and parts[2] in reg.groups().get(parts[1], []):
                body = self._resource_list(parts[1], parts[2])
            else:
                raise not_found_path()
        log(200, user)
        self._send_json(h, 200, body, media)

    def _openapi(self, h, path, user, log):
        from . import openapi
        accept = (h.headers.get("Accept") or "*/*").lower()
        if "json" not in accept and "*/*" not in accept:
            raise not_acceptable(["application/json"])
        with self.api.store.lock:
            if path.rstrip("/") == "/openapi/v3":
                body = openapi.root_document(self.api.registry)
            else:
                rest = path[len("/openapi/v3/"):].strip("/").split("/")
                doc = None
                if len(rest) == 2 and rest[0] == "api":
                    doc = openapi.gv_document(self.api.registry, "", rest[1])
                elif len(rest) == 3 and rest[0] == "apis":
                    doc = openapi.gv_document(self.api.registry, rest[1], rest[2])
                if doc is None:
                    raise not_found_path()
                body = doc
        log(200, user)
        self._send_json(h, 200, body)

    def _group(self, g, versions):
        vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
        return {"name": g, "versions": vs, "preferredVersion": vs[0]}

    def _resource_list(self, group, version):
        res = []
        for t in self.api.registry.in_group_version(group, version):
            res += t.discovery()
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": res}

    # -- resources -----------------------------------------------------------------------------

    def _resource(self, h, info, params, body, user, log):
        api = self.api
        if getattr(info, "bad", False):
            raise not_found_path()
        rtype = api.registry.lookup(info.group, info.version, info.resource)
        if rtype is None:
            raise not_found_path()
        if info.subresource is not None and not (info.subresource == "status" and rtype.status_subresource):
            raise not_found_path()
        if not rtype.namespaced and info.namespace:
            raise not_found_path()
        verb = info.verb
        if info.subresource == "status" and verb not in ("get", "update", "patch"):
            raise method_not_allowed()
        if verb == "create" and info.name:
            raise method_not_allowed()
        self.auth.authorize(user, verb, rtype.group, rtype.plural, info.subresource, info.name,
                            info.namespace or None)
        media = negotiate(h.headers.get("Accept"))
        ctx = self._context(h, params, user)
        ns = info.namespace
        version = info.version
        pretty = _truthy(params.get("pretty"))
        if verb == "watch":
            if info.name:
                params = dict(params, fieldSelector=",".join(
                    x for x in (params.get("fieldSelector"), f"metadata.name={info.name}") if x))
            return self._watch(h, rtype, version, ns, params, media, user, log)
        if verb in ("create", "update", "patch"):
            obj = self._parse_body(h, body, verb)
        code, extra = 200, {}
        if verb == "get":
            out = api.get(rtype, version, ns, info.name)
        elif verb == "list":
            out = api.list(rtype, version, ns, params)
        elif verb == "create":
            out = api.create(rtype, version, ns, obj, ctx)
            code = 201
        elif verb == "update":
            out, created = api.update(rtype, version, ns, info.name, obj, ctx, info.subresource)
            code = 201 if created else 200
        elif verb == "patch":
            out = api.patch(rtype, version, ns, info.name, obj, h.headers.get("Content-Type"), ctx, info.subresource)
        elif verb == "delete":
            out, code = api.delete(rtype, version, ns, info.name, self._delete_options(body, params), ctx)
        elif verb == "deletecollection":
            out = api.delete_collection(rtype, version, ns, params, self._delete_options(body, params), ctx)
        else:
            raise method_not_allowed()
        if ctx.warnings:
            extra["Warning"] = ['299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in ctx.warnings]
        out = self._transform(rtype, version, out, media, params, single=verb not in ("list",))
        log(code, user)
        self._send_json(h, code, out, media, extra, pretty)

    def _context(self, h, params, user):
        dry = params.get("dryRun")
        if dry not in (None, "", "All"):
            raise bad_request(f'dryRun: Unsupported value: "{dry}": supported values: "All"')
        fv = params.get("fieldValidation") or "Warn"
        if fv not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f'fieldValidation: Unsupported value: "{fv}": supported values: "Ignore", "Strict", "Warn"')
        manager = params.get("fieldManager")
        if manager is not None and (len(manager) > 128 or not manager):
            raise bad_request("fieldManager: Invalid value: must be between 1 and 128 characters")
        if manager is None:
            ua = h.headers.get("User-Agent") or "unknown"
            manager = ua.split("/")[0][:128] or "unknown"
        return Context(user=user.name, manager=manager, dry_run=dry == "All", field_validation=fv)

    def _parse_body(self, h, body, verb):
        ct = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if verb == "patch":
            return body
        if ct not in BODY_TYPES:
            raise unsupported_media_type(ct, BODY_TYPES)
        try:
            if ct == "application/yaml":
                import yaml
                return yaml.safe_load(body.decode())
            return json.loads(body.decode() or "null")
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_request(f"error decoding the request body: {e}")
        except Exception as e:  # yaml errors
            raise bad_request(f"error decoding YAML: {e}")

    def _delete_options(self, body, params):
        opts = {}
        if body:
            try:
                opts = json.loads(body.decode())
            except ValueError as e:
                raise bad_request(f"error decoding DeleteOptions: {e}")
            if not isinstance(opts, dict):
                raise bad_request("DeleteOptions must be a JSON object")
        if params.get("propagationPolicy"):
            opts["propagationPolicy"] = params["propagationPolicy"]
        if params.get("orphanDependents"):
            opts["orphanDependents"] = _truthy(params["orphanDependents"])
        return opts

    def _transform(self, rtype, version, out, media, params, single):
        if media.as_kind is None or out.get("kind") == "Status":
            return out
        if media.as_kind == "Table":
            include = tablemod.check_include_object(params.get("includeObject"))
            if single:
                objs, meta = [out], {"resourceVersion": out["metadata"].get("resourceVersion", "")}
            else:
                objs, meta = out["items"], out["metadata"]
                objs = [dict(o, apiVersion=rtype.api_version(version), kind=rtype.kind) for o in objs]
            return tablemod.make_table(rtype, version, objs, meta, include, media.version)
        av = "meta.k8s.io/" + media.version
        if single:
            return {"kind": "PartialObjectMetadata", "apiVersion": av, "metadata": out["metadata"]}
        return {"kind": "PartialObjectMetadataList", "apiVersion": av, "metadata": out["metadata"],
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": av, "metadata": o["metadata"]}
                          for o in out["items"]]}

    # -- watches ------------------------------------------------------------------------------

    def _watch(self, h, rtype, version, ns, params, media, user, log):
        api = self.api
        pred = api.predicate(rtype, version, params)
        rv = params.get("resourceVersion") or ""
        bookmarks = _truthy(params.get("allowWatchBookmarks"))
        sie = params.get("sendInitialEvents")
        timeout = params.get("timeoutSeconds")
        if sie is not None:
            if params.get("resourceVersionMatch") != "NotOlderThan":
                raise bad_request_invalid_list("resourceVersionMatch", "sendInitialEvents requires setting "
                                               "resourceVersionMatch to NotOlderThan")
            if _truthy(sie) and not bookmarks:
                raise bad_request_invalid_list("allowWatchBookmarks", "sendInitialEvents requires "
                                               "allowWatchBookmarks=true")
        elif params.get("resourceVersionMatch"):
            raise bad_request_invalid_list("resourceVersionMatch", "resourceVersionMatch is forbidden for watch "
                                           "unless sendInitialEvents is provided")
        try:
            timeout = float(timeout) if timeout not in (None, "") else None
        except ValueError:
            raise bad_request(f"timeoutSeconds: invalid value {timeout!r}")
        if timeout is None:
            timeout = self.watch_timeout * (1 + random.random())
        initial_end = False
        error = None
        w = None
        try:
            if sie is not None:
                if _truthy(sie):
                    w = api.store.watch(rtype, ns, pred, initial=True)
                    initial_end = True
                else:
                    w = api.store.watch(rtype, ns, pred, from_rv=int(rv) if rv not in ("", "0") else None)
            elif rv in ("", "0"):
                w = api.store.watch(rtype, ns, pred, initial=True)
            else:
                try:
                    n = int(rv)
                except ValueError:
                    raise bad_request(f"invalid resource version: {rv}")
                w = api.store.watch(rtype, ns, pred, from_rv=n)
        except ApiError as e:
            if e.code in (410, 504):
                error = e
            else:
                raise
        # A watch that ends cleanly (timeoutSeconds, or an ERROR event) leaves the connection open
        # for the next request, as Go's net/http does after a chunked answer: only a watch that
        # is cut (dropped, server stopped, write failure) closes it.
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Audit-Id", str(uuid.uuid4()))
        h.end_headers()
        log(200, user)

        def send(etype, obj):
            o = self._watch_object(rtype, version, obj, media, params)
            line = json.dumps({"type": etype, "object": o}, separators=(",", ":")) + "\n"
            data = line.encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()

        def bookmark(rv_value, annotations=None):
            md = {"resourceVersion": str(rv_value), "creationTimestamp": None}
            if annotations:
                md["annotations"] = annotations
            o = {"kind": rtype.kind, "apiVersion": rtype.api_version(version), "metadata": md}
            line = json.dumps({"type": "BOOKMARK", "object": o}, separators=(",", ":")) + "\n"
            data = line.encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()

        try:
            if error is not None:
                line = (json.dumps({"type": "ERROR", "object": error.status()}, separators=(",", ":")) + "\n").encode()
                h.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(line), line))
                h.wfile.flush()
                return
            deadline = time.monotonic() + timeout
            # Bookmarks when kube-apiserver's watch cache sends them (cacheWatcher.nextBookmarkTime):
            # every bookmark_interval (there one minute), and a last one 2 s before the deadline so
            # that the client resumes from a recent resourceVersion; none after that one.
            pretimeout = deadline - 2.0
            phase = self._bookmark_phase(rtype)

            last_due = [None]

            def next_after(t):
                n = min(t + self.bookmark_interval, pretimeout)
                # (A tick early in the pre-timeout bookmark's second sends it before its time: the
                # watch cache may send it again at the next tick; the stand-in does not.)
                if n <= t or (last_due[0] is not None and n <= last_due[0]):
                    return None
                last_due[0] = n
                # The watch cache files a watcher under the whole second of its next bookmark
                # time (watcherBookmarkTimeBuckets) and sends the due ones at the ticks of its
                # resource's dispatcher, about one a second: the watches of one resource whose
                # times fall in one second get theirs at the same instant, and those of another
                # resource at another (the ticks of each resource's cacher have their own phase).
                tick = math.floor(n) + phase
                if tick <= t:
                    tick = math.floor(t - phase) + 1 + phase
                return tick

            initial_count = w.queue.qsize() if initial_end else 0
            sent = 0
            next_bookmark = next_after(time.monotonic())
            if initial_end and initial_count == 0:
                bookmark(api.store.current_rv(), {"k8s.io/initial-events-end": "true"})
                initial_end = False
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = deadline - now
                if bookmarks and next_bookmark is not None:
                    wait = min(wait, max(0.0, next_bookmark - now))
                try:
                    item = w.queue.get(timeout=wait)
                except Exception:
                    item = False
                if item is None:
                    # dropped: end the stream abruptly, without a final chunk
                    raise ConnectionClosed()
                if item is False:
                    if bookmarks and next_bookmark is not None and time.monotonic() >= next_bookmark:
                        b = api.store.bookmark_rv(w)
                        if b is not None:
                            bookmark(b)
                        next_bookmark = next_after(time.monotonic())
                    continue
                etype, obj, _ = item
                send(etype, obj)
                sent += 1
                if initial_end and sent >= initial_count:
                    bookmark(api.store.current_rv(), {"k8s.io/initial-events-end": "true"})
                    initial_end = False
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except ConnectionClosed:
            self._abort(h)
            raise
        except (OSError, ssl.SSLError):
            h.close_connection = True
        finally:
            if w is not None:
                api.store.unwatch(w)

    def _bookmark_phase(self, rtype):
        """The phase (s) of the bookmark ticks of @rtype's watch cache: random per resource, fixed
        while the server runs."""
        key = (rtype.group, rtype.plural)
        with self.conn_lock:
            if key not in self.bookmark_phases:
                self.bookmark_phases[key] = random.random()
            return self.bookmark_phases[key]

    def _abort(self, h):
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _watch_object(self, rtype, version, obj, media, params):
        """An event's object as asked: the object, a one-row Table (column definitions in every
        event; kubectl prints headers only when they change) or PartialObjectMetadata."""
        o = copy.deepcopy(obj)
        o["apiVersion"] = rtype.api_version(version)
        o["kind"] = rtype.kind
        if media.as_kind == "Table":
            include = tablemod.check_include_object(params.get("includeObject"))
            t = tablemod.make_table(rtype, version, [o], {"resourceVersion": o["metadata"].get("resourceVersion", "")},
                                    include, media.version)
            return t
        if media.as_kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + media.version,
                    "metadata": o["metadata"]}
        return o


def bad_request_invalid_list(field, detail):
    from .errors import FieldError, invalid
    return invalid("ListOptions", "meta.k8s.io", "", [FieldError("Forbidden", field, detail=detail)])
