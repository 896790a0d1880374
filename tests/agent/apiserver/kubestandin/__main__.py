# SPDX-License-Identifier: Apache-2.0
"""Command line: /usr/bin/python3 -m kubestandin --state-dir DIR [options].

Prints one line `READY <json>` on stdout when it listens (ports, CA path, admin token), writes
the same JSON to DIR/state.json, then nothing more on stdout. Stops on SIGTERM/SIGINT."""
import argparse
import glob
import json
import os
import secrets
import signal
import ssl
import sys
import threading

import yaml

from . import tls, tlsobserve
from .api import Api
from .auth import Auth
from .control import Control, ControlServer
from .errors import ApiError
from .faults import Faults, RequestLog
from .server import App


def load_yaml_docs(paths):
    docs = []
    for p in paths:
        files = sorted(glob.glob(os.path.join(p, "*.yaml")) + glob.glob(os.path.join(p, "*.yml"))
                       + glob.glob(os.path.join(p, "*.json"))) if os.path.isdir(p) else [p]
        for f in files:
            with open(f) as fh:
                for d in yaml.safe_load_all(fh):
                    # Other documents of a directory (kustomization.yaml) are not CRDs: skipped.
                    if d and d.get("kind") == "CustomResourceDefinition":
                        docs.append(d)
    return docs


def main(argv=None):
    ap = argparse.ArgumentParser(prog="kubestandin", description="Stand-in kube-apiserver for hostdev's tests")
    ap.add_argument("--state-dir", required=True, help="certificates, state.json and logs go here")
    ap.add_argument("--bind", default="127.0.0.1", help="loopback address to listen on (127.0.0.1 or ::1)")
    ap.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free one)")
    ap.add_argument("--http-port", type=int, default=None, help="also serve plain HTTP on this port (0: any)")
    ap.add_argument("--control-port", type=int, default=0, help="control channel port (0: any)")
    ap.add_argument("--crd", action="append", default=[], help="CRD file or directory loaded at start")
    ap.add_argument("--token", action="append", default=[], help="TOKEN=USER[:GROUP,...] accepted bearer token")
    ap.add_argument("--admin-token", default=None, help="token of the all-powerful test user (default: random)")
    ap.add_argument("--bookmark-interval", type=float, default=2.0, help="seconds between watch bookmarks")
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="server-side watch timeout when the client gives none (randomized up to 2x)")
    ap.add_argument("--idle-timeout", type=float, default=90.0,
                    help="seconds a keep-alive connection may wait for its next request (0: forever)")
    ap.add_argument("--history-limit", type=int, default=None, help="events kept for watch resume (default: all)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)

    for addr in (a.bind,):
        if addr not in ("127.0.0.1", "::1") and not addr.startswith("127."):
            ap.error("--bind must be a loopback address")
    os.makedirs(a.state_dir, exist_ok=True)
    ca_crt, _ = tls.make_ca(a.state_dir)
    srv_crt, srv_key = tls.make_server_cert(a.state_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(srv_crt, srv_key)
    ctx.load_verify_locations(ca_crt)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    # One stateless TLS 1.3 ticket per handshake, full or resumed, reusable: as Go's crypto/tls
    # under kube-apiserver (OpenSSL would send two after a full handshake).
    ctx.num_tickets = 1
    tlsobserve.install(ctx)

    admin_token = a.admin_token or secrets.token_hex(16)
    auth = Auth(admin_token)
    for spec in a.token:
        tok, _, who = spec.partition("=")
        user, _, groups = who.partition(":")
        auth.add_token(tok, user or "anonymous-token-user", [g for g in groups.split(",") if g])
    api = Api(history_limit=a.history_limit)
    try:
        api.load_startup_crds(load_yaml_docs(a.crd))
    except ApiError as e:
        sys.stderr.write(f"kubestandin: a CRD given with --crd is refused: {e.message}\n")
        return 2
    app = App(api, auth, Faults(), RequestLog(), bind=a.bind, https_port=a.port, http_port=a.http_port,
              tls_ctx=ctx, bookmark_interval=a.bookmark_interval, watch_timeout=a.watch_timeout, idle_timeout=a.idle_timeout,
              verbose=a.verbose)
    app.start()
    info = {"pid": os.getpid(), "bind": a.bind, "ca": ca_crt, "adminToken": admin_token, "stateDir": a.state_dir}
    control = Control(app, a.state_dir, info)
    csrv = ControlServer((a.bind, a.control_port), control)
    info["controlPort"] = csrv.server_address[1]
    threading.Thread(target=csrv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    state = control.state()
    tmp = os.path.join(a.state_dir, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, os.path.join(a.state_dir, "state.json"))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stdout.write("READY " + json.dumps(state) + "\n")
    sys.stdout.flush()
    stop.wait()
    app.stop()
    csrv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
