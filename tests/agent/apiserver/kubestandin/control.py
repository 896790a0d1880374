# SPDX-License-Identifier: Apache-2.0
"""The tests' control channel: plain HTTP with JSON on its own loopback port (never the API port,
so API clients cannot reach it, and it stays up while the API listeners restart).
Endpoints are listed in ../README.md; each answers JSON, errors as {"error": message}."""
import http.server
import json
import socket
import socketserver
import threading
import urllib.parse

from . import tls


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _reply(self, code, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._dispatch()

    do_POST = do_DELETE = do_GET

    def _dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}") if n else {}
        route = url.path.rstrip("/")
        fn = getattr(self.server.control, "op_" + route.strip("/").replace("/", "_").replace("-", "_"), None)
        if not route.startswith("/__standin/") or fn is None:
            return self._reply(404, {"error": f"no control endpoint {url.path}"})
        try:
            self._reply(200, fn(self.command, q, body))
        except (KeyError, ValueError, TypeError) as e:
            self._reply(400, {"error": f"{type(e).__name__}: {e}"})


class ControlServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, control):
        self.control = control
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, ControlHandler)


def _filters(q, body):
    flt = {}
    for k in ("verb", "resource", "group", "subresource", "name", "namespace", "user", "method", "path", "userAgent"):
        v = body.get(k, q.get(k))
        if v is not None:
            flt[k] = v
    for k in ("code", "connection"):
        v = body.get(k, q.get(k))
        if v is not None:
            flt[k] = int(v)
    if "watch" in body or "watch" in q:
        flt["watch"] = body.get("watch", q.get("watch") in ("1", "true"))
    return flt


class Control:
    def __init__(self, app, state_dir, info):
        self.app = app
        self.state_dir = state_dir
        self.info = info
        self.lock = threading.Lock()

    def state(self):
        a = self.app
        st = a.api.store
        with st.lock:
            return dict(self.info, httpsPort=a.https_port, httpPort=a.http_port, up=a.up,
                        resourceVersion=st.rv, historyStart=st.history_start, watchers=len(st.watchers),
                        bookmarkInterval=a.bookmark_interval, watchTimeout=a.watch_timeout,
                        idleTimeout=a.idle_timeout, historyLimit=st.history_limit,
                        connections=a.connection_stats())

    # -- endpoints (op_<path with _>) ----------------------------------------------------------

    def op___standin_state(self, m, q, b):
        return self.state()

    def op___standin_tokens(self, m, q, b):
        self.app.auth.set_tokens(b["tokens"])
        return {"tokens": len(b["tokens"])}

    def op___standin_tokens_add(self, m, q, b):
        self.app.auth.add_token(b["token"], b["user"], b.get("groups", ()))
        return {"added": True}

    def op___standin_tokens_remove(self, m, q, b):
        return {"removed": self.app.auth.remove_token(b["token"])}

    def op___standin_faults(self, m, q, b):
        if m == "POST":
            return self.app.faults.add(b)
        if m == "DELETE":
            self.app.faults.clear()
            return {"cleared": True}
        return {"faults": self.app.faults.list()}

    def op___standin_faults_clear(self, m, q, b):
        self.app.faults.clear()
        return {"cleared": True}

    def op___standin_watches_drop(self, m, q, b):
        key = None
        if b.get("resource"):
            key = (b.get("group", ""), b["resource"])
        return {"dropped": self.app.api.store.drop_watchers(key, reason="dropped by test")}

    def op___standin_compact(self, m, q, b):
        return {"historyStart": self.app.api.store.compact()}

    def op___standin_history_limit(self, m, q, b):
        st = self.app.api.store
        with st.lock:
            st.history_limit = b.get("limit")
            if st.history_limit is not None and len(st.history) > st.history_limit:
                drop = len(st.history) - st.history_limit
                st.history_start = st.history[drop - 1].rv
                del st.history[:drop]
        return {"historyLimit": st.history_limit}

    def op___standin_restart(self, m, q, b):
        with self.lock:
            a = self.app
            if a.up:
                a.stop()
            if not b.get("keepState", True):
                a.api.reset(keep_rv=not b.get("resetResourceVersion", False))
            elif not b.get("keepHistory", False):
                a.api.store.compact()
            if not b.get("down", False):
                a.start()
            return self.state()

    def op___standin_down(self, m, q, b):
        with self.lock:
            if self.app.up:
                self.app.stop()
            return self.state()

    def op___standin_up(self, m, q, b):
        with self.lock:
            if not self.app.up:
                self.app.start()
            return self.state()

    def op___standin_connections_drop(self, m, q, b):
        return {"dropped": self.app.drop_connections()}

    def op___standin_connections(self, m, q, b):
        return self.app.connection_stats()

    def op___standin_handshakes(self, m, q, b):
        return {"handshakes": self.app.tls_handshakes(int(b.get("since", q.get("since", 0))))}

    def op___standin_rbac(self, m, q, b):
        self.app.auth.set_rules(b["user"], b.get("rules"))
        return {"user": b["user"]}

    def op___standin_deny(self, m, q, b):
        self.app.auth.add_deny(b)
        return {"denied": b}

    def op___standin_authz_clear(self, m, q, b):
        self.app.auth.clear()
        return {"cleared": True}

    def op___standin_requests(self, m, q, b):
        since = int(b.get("since", q.get("since", 0)))
        return {"requests": self.app.log.query(since, **_filters(q, b)), "seq": self.app.log.seq}

    def op___standin_requests_wait(self, m, q, b):
        since = int(b.get("since", 0))
        found = self.app.log.wait(since, int(b.get("count", 1)), float(b.get("timeout", 60)), **_filters(q, b))
        return {"requests": found, "seq": self.app.log.seq}

    def op___standin_requests_clear(self, m, q, b):
        return {"seq": self.app.log.clear()}

    def op___standin_requests_mark(self, m, q, b):
        return {"seq": self.app.log.seq}

    def op___standin_counters(self, m, q, b):
        return self.app.log.counters(int(b.get("since", q.get("since", 0))))

    def op___standin_gc_wait(self, m, q, b):
        return {"idle": self.app.api.gc_wait_idle(float(b.get("timeout", 60)))}

    def op___standin_settings(self, m, q, b):
        if "bookmarkInterval" in b:
            self.app.bookmark_interval = float(b["bookmarkInterval"])
        if "watchTimeout" in b:
            self.app.watch_timeout = float(b["watchTimeout"])
        if "idleTimeout" in b:
            self.app.idle_timeout = float(b["idleTimeout"])
        return self.state()

    def op___standin_client_cert(self, m, q, b):
        crt, key = tls.make_client_cert(self.state_dir, b["user"], b.get("groups", ()))
        return {"cert": crt, "key": key}
