#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The grpcio fake kubelet of tests/deviceplugin (fake_kubelet.py) as a child process, for the Go
binding's tests: it plays the kubelet for servers that the Go code starts.

    fake_kubelet_driver.py FAKE_KUBELET_PY PROTO_DIR KUBELET_DIR

Starts the fake kubelet on KUBELET_DIR (Registration on device-plugins/kubelet.sock, dial-back and
ListAndWatch inside Register), prints {"ready": true}, then answers one JSON command per line on
stdin with one JSON line on stdout ({"ok": false, "error": ...} when it fails):

  {"cmd": "registrations", "n": N, "timeout": S}  wait for N registrations:
      {"ok", "registrations": [{"resource_name", "version", "endpoint",
                                "preferred_allocation", "pre_start"}]}
  {"cmd": "watch", "socket": PATH}                open a ListAndWatch stream on a socket directly
                                                  (registration none); it becomes the current one
  {"cmd": "list", "count": N, "timeout": S}       wait until the current stream's last list has N
      devices (the kubelet's stream of the latest registration unless "watch" opened one):
      {"ok", "list": [[id, health, [numa] or null]], "ended": null | "ok" | status name}
  {"cmd": "list_where", "id": ID, "health": H}    wait until device ID has health H in the last list
  {"cmd": "ended", "timeout": S}                  wait until the current stream got an empty list
                                                  and ended: {"ok", "list", "ended"}
  {"cmd": "allocate", "socket": PATH, "containers": [[ids]]}:
      {"ok", "responses": [{"envs": {}, "devices": [[container, host, permissions]]}]} or
      {"ok": false, "code": "INVALID_ARGUMENT", "details": ...}
  {"cmd": "restart"}                              what a kubelet restart does to the directory
  {"cmd": "quit"}
"""
import importlib.util
import json
import shutil
import sys
import tempfile


def main():
    fk_path, proto_dir, kubelet_dir = sys.argv[1:4]
    spec = importlib.util.spec_from_file_location("fake_kubelet", fk_path)
    fk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fk)
    protos = tempfile.mkdtemp(prefix="hd-protos-")
    try:
        fk.load_protos(proto_dir, protos)
        serve(fk, kubelet_dir)
    finally:
        shutil.rmtree(protos, ignore_errors=True)


def serve(fk, kubelet_dir):
    import grpc

    kubelet = fk.FakeKubelet(kubelet_dir).start()
    current = {"watch": None}

    def watch():
        return current["watch"] or kubelet.last_watch()

    def out(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def ended_name(w):
        if w.ended is None or w.ended == "ok":
            return w.ended
        return w.ended.name

    def reply(w, ok):
        return {"ok": bool(ok), "list": w.last(), "ended": ended_name(w)}

    out({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        name, timeout = cmd["cmd"], cmd.get("timeout", fk.DEADLINE)
        try:
            if name == "registrations":
                ok = kubelet.wait_registrations(cmd.get("n", 1), timeout)
                out({"ok": ok, "registrations": [
                    {"resource_name": r.resource_name, "version": r.version,
                     "endpoint": r.endpoint,
                     "preferred_allocation": bool(o and o.get_preferred_allocation_available),
                     "pre_start": bool(o and o.pre_start_required)}
                    for _, r, o in kubelet.registrations]})
            elif name == "watch":
                current["watch"] = fk.Watch(fk.channel_to(cmd["socket"]))
                out({"ok": True})
            elif name in ("list", "list_where", "ended"):
                w = watch()
                if w is None:
                    out({"ok": False, "error": "no ListAndWatch stream"})
                    continue
                if name == "list":
                    ok = w.wait(lambda w: w.last() is not None and len(w.last()) == cmd["count"],
                                timeout)
                elif name == "list_where":
                    ok = w.wait(lambda w: any(d[0] == cmd["id"] and d[1] == cmd["health"]
                                              for d in w.last() or []), timeout)
                else:
                    ok = w.wait(lambda w: w.last() == [] and w.ended is not None, timeout)
                out(reply(w, ok))
            elif name == "allocate":
                stub = fk.svc.DevicePluginStub(fk.channel_to(cmd["socket"]))
                try:
                    answer = stub.Allocate(fk.pb.AllocateRequest(container_requests=[
                        fk.pb.ContainerAllocateRequest(devices_ids=ids)
                        for ids in cmd["containers"]]), timeout=timeout)
                except grpc.RpcError as e:
                    out({"ok": False, "code": e.code().name, "details": e.details()})
                    continue
                out({"ok": True, "responses": [
                    {"envs": dict(r.envs),
                     "devices": [[d.container_path, d.host_path, d.permissions]
                                 for d in r.devices]}
                    for r in answer.container_responses]})
            elif name == "restart":
                current["watch"] = None
                kubelet.restart()
                out({"ok": True})
            elif name == "quit":
                out({"ok": True})
                break
            else:
                out({"ok": False, "error": "unknown command %r" % name})
        except Exception as e:  # the Go test shows it
            out({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    kubelet.stop()


if __name__ == "__main__":
    main()
