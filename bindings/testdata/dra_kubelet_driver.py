#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The grpcio DRA kubelet stand-in of tests/dra (dra_kubelet.py) as a child process, for the Go
binding's tests: it plays the kubelet's plugin watcher and DRA manager for plugins that the Go code
serves.

    dra_kubelet_driver.py DRA_KUBELET_PY DRA_PROTO_DIR PLUGINREG_PROTO_DIR REGISTRY_DIR

Compiles the protos, prints {"ready": true}, then answers one JSON command per line on stdin with
one JSON line on stdout ({"ok": false, "error": ...} when it fails):

  {"cmd": "register", "driver": D, "versions": [...]}   the plugin watcher's registration of the
      first socket in REGISTRY_DIR, speaking "versions" (default both):
      {"ok", "info": {"type", "name", "endpoint", "supported_versions"}, "api"} or
      {"ok": false, "refused": reason} when the stand-in refused it (and told the plugin)
  {"cmd": "prepare", "claims": [[ns, name, uid]], "api": "v1" | "v1beta1" | null}:
      {"ok", "claims": {uid: {"devices": [[request_names, pool, device, cdi_ids]], "error"}}}
  {"cmd": "unprepare", "claims": [...], "api": ...}:  {"ok", "claims": {uid: error}}
  {"cmd": "quit"}
"""
import importlib.util
import json
import shutil
import sys
import tempfile


def main():
    dk_path, dra_protos, reg_protos, registry_dir = sys.argv[1:5]
    spec = importlib.util.spec_from_file_location("dra_kubelet", dk_path)
    dk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dk)
    out_dir = tempfile.mkdtemp(prefix="hd-dra-protos-")
    try:
        dk.load_protos(dra_protos, reg_protos, out_dir)
        serve(dk, registry_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def serve(dk, registry_dir):
    kubelet = None

    def out(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    out({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        name = cmd["cmd"]
        try:
            if name == "register":
                if kubelet:
                    kubelet.close()
                kubelet = dk.Kubelet(registry_dir, cmd.get("versions") or dk.KNOWN_VERSIONS)
                try:
                    info = kubelet.register(cmd["driver"])
                except dk.Refused as e:
                    out({"ok": False, "refused": str(e)})
                    continue
                out({"ok": True, "api": kubelet.api, "info": {
                    "type": info.type, "name": info.name, "endpoint": info.endpoint,
                    "supported_versions": list(info.supported_versions)}})
            elif name == "prepare":
                answer = kubelet.prepare([tuple(c) for c in cmd["claims"]], cmd.get("api"))
                out({"ok": True, "claims": {
                    uid: {"devices": [list(d) for d in devices], "error": error}
                    for uid, (devices, error) in answer.items()}})
            elif name == "unprepare":
                out({"ok": True, "claims": kubelet.unprepare([tuple(c) for c in cmd["claims"]],
                                                             cmd.get("api"))})
            elif name == "quit":
                out({"ok": True})
                break
            else:
                out({"ok": False, "error": "unknown command %r" % name})
        except Exception as e:  # the Go test shows it
            out({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    if kubelet:
        kubelet.close()


if __name__ == "__main__":
    main()
