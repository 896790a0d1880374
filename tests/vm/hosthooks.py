# SPDX-License-Identifier: Apache-2.0
"""Host-side services of VM scenarios (docs/vm-harness.md, "Host hooks"). A scenario names one with a
`vm-host-hook: NAME` line; the runner then, for that boot only:

  1. creates HOOKS[NAME](run) and calls start() before QEMU starts (a failure fails the scenario);
  2. asks qemu_args() for ({machine option: value}, [extra QEMU arguments]): the machine options go to
     the machine function (runner.common_devices: `nic1_netdev`), so the guest's PCI devices stay the
     same as every other scenario's;
  3. passes each `vm_host JSON` request of the guest (a `@@VM-HOST <id> <json>` console line) to
     request(dict) and answers with its result (a dict) or its exception's message;
  4. calls stop() when the boot is over, whatever happened.

A hook gets the Run (its `out` directory, `log()`, `qmp` client). Hooks must not touch the host
beyond loopback sockets, their own child processes and files under `run.out`.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


class KubeStandin:
    """The stand-in Kubernetes API server (tests/agent/apiserver, kubestandin: a real kube-apiserver
    cannot run here) on a host loopback port, reached by the guest only through QEMU's user network
    restricted to one guestfwd: the guest's nic1 (virtio-net) gets 10.0.2.15/24 and every TCP
    connection it opens to 10.0.2.100:6443 is handed by QEMU to a new `guestfwd-connect.py`, which
    connects it to the stand-in's 127.0.0.1 port. `restrict=on`: the guest reaches nothing else (no
    DHCP, DNS, gateway or host port). TLS is end to end: the guest's kubeconfig (op "kubeconfig",
    over the console) names https://kubernetes.default.svc:6443, a name the stand-in's certificate
    carries, embeds the stand-in's CA and a token for the agent's service account, whose
    ClusterRole (examples/agent/deploy/rbac.yaml) is all the stand-in grants it.

    Requests (vm_host '{"op": ...}'):
      kubeconfig                    {"base64": the guest's kubeconfig (compact JSON), base64; "hostPort":
                                    the stand-in's port on the host's loopback}: one console line,
                                    well under the tty's 4095-byte line limit
      summary                       this node's objects as sorted strings: "pci" address=driver,
                                    "usb" portPath=vendor:product=devicePath, "usbnames"
                                    portPath=name, "sriov" names
      objects                       this node's PCIDevices, USBDevices, SRIOVNetworkDevices as
                                    {plural: [{name, status, labels}]}
      unplug   device, name, timeout   QMP device_del of @device, then waits for the USBDevice @name to
                                    be deleted; {"seconds": host time from the QMP command to the
                                    DELETED watch event}
      wait     plural, name, timeout   waits until the object exists (after a re-plug); {"seconds",
                                    "object"}
      writes                        the agent's write requests so far, by verb
      claim    address              creates the PCIDeviceClaim of @address for this node (as a user
                                    would: kubectl create); {"name"}
      wait_claim name, timeout      waits until the claim is enabled (passthroughEnabled and its Bound
                                    condition True); {"seconds", "reason", "driver": status
                                    .kernelDriverToUnbind, "resource": the device's PCIDevice
                                    status.resourceName}
      unclaim  name, timeout        deletes the claim and waits until it is gone (the agent removes
                                    its finalizer after the restore); {"seconds"}

    USBDeviceClaims (97-agent-usb-claim; the methods under "USB claims" below):
      usb_kubevirt                  creates KubeVirt's CRD (tests/agent/fixtures/kubevirt) and the CR
                                    kubevirt/kubevirt with one hand-written usb entry; {"byHand"}
      usb_claim      name           creates the USBDeviceClaim @name (a USBDevice's name) as a user
                                    would; {"name"}
      usb_claim_wait name, reason, timeout   waits until the claim's Bound condition has @reason;
                                    {"seconds", "status", "message", "finalizer": ours is on it,
                                    "port", "vendorProduct": its identity record}
      usb_device_wait name, enabled, timeout   waits until the USBDevice @name exists with
                                    status.enabled == @enabled; {"seconds", "devicePath", "portPath"}
      usb_replug     device, port   QMP device_add of @device with the arguments of its -device
                                    option in this boot's QEMU command line, into @port
      usb_kubevirt_wait resource, present, timeout   waits until the CR's usb list has (or has
                                    not) an entry for @resource; {"seconds", "entries": every entry's
                                    resourceName=vendor:product+... sorted, "byHandKept"}
      usb_unclaim    name, timeout  deletes the claim and waits until it is gone (the agent drops its
                                    finalizer once the resource stopped); {"seconds"}
    Dynamic Resource Allocation (96-agent-dra; resource.k8s.io/v1 ResourceSlice, ResourceClaim and
    DeviceClass are the stand-in's built-in kinds, validated as the real API server does):
      dra_kubeconfig                like kubeconfig, for the user of the DRA agent
                                    (hostdev-agent --dra-only), whose rules are exactly the
                                    ClusterRole of examples/agent/deploy/dra/rbac.yaml; also makes
                                    the namespace of the claims and the DeviceClasses of
                                    examples/agent/deploy/dra/deviceclasses.yaml (as an admin would)
      dra_device address, timeout   waits until one of this node's ResourceSlices of the driver lists
                                    the device whose resource.kubernetes.io/pciBusID is @address;
                                    {"name": the device's, "pool", "sliceDriver", "seconds",
                                    "attributes": its attributes by name without domain}
      dra_claim  name, device, deviceClass
                                    creates ResourceClaim @name (namespace "vms", request "dev" of
                                    @deviceClass, default vfio-intel-82574l) and allocates it to
                                    this node's @device of the driver as the scheduler does
                                    (status.allocation.devices.results with driver, pool, device,
                                    request, through the status subresource); {"namespace",
                                    "name", "uid"}
      dra_unclaim name              deletes ResourceClaim @name (the kubelet has unprepared it)
      dra_writes                    the DRA agent's write requests by verb and resource, and how
                                    many of its requests were refused ({"writes", "forbidden"})
    """
    NODE = "hostdev-vm"
    GUEST_PORT = 6443
    GUEST_ADDR = "10.0.2.100"
    TOKEN = "hostdev-vm-agent-token"
    USER = "system:serviceaccount:hostdev-system:hostdev-agent"
    # The DRA agent: a user of its own, so that the stand-in grants it the DRA ClusterRole only.
    DRA_TOKEN = "hostdev-vm-dra-token"
    DRA_USER = "system:serviceaccount:hostdev-system:hostdev-agent-dra"
    DRA_DRIVER = "vfio.hostdev.io"  # hostdev-agent's default --dra-driver-name
    DRA_NAMESPACE = "vms"
    SLICES = "/apis/resource.k8s.io/v1/resourceslices"

    def __init__(self, run):
        self.run = run
        self.api = None
        self.node = None
        self.kubeconfig = os.path.join(run.out, "kubeconfig")
        self.dra_kubeconfig = os.path.join(run.out, "kubeconfig-dra")
        self.dra_ready = False  # the DRA user, namespace and DeviceClasses made on this stand-in

    def start(self):
        sys.path.insert(0, os.path.join(SRC, "tests", "agent", "apiserver"))
        import yaml
        from kubestandin.harness import AGENT_CRDS, StandIn
        state = os.path.join(self.run.out, "standin")
        if os.path.isdir(state):
            for f in os.listdir(state):
                os.unlink(os.path.join(state, f))
        self.api = StandIn(state, crds=[AGENT_CRDS]).start()
        self.node = self.api.create_node(self.NODE)
        self.api.add_token(self.TOKEN, self.USER)
        with open(os.path.join(SRC, "examples", "agent", "deploy", "rbac.yaml"), encoding="utf-8") as f:
            role = next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "ClusterRole")
        self.api.set_rbac(self.USER, role["rules"])
        self.api.kubeconfig(self.kubeconfig, token=self.TOKEN, embed=True,
                            server="https://kubernetes.default.svc:%d" % self.GUEST_PORT)
        self.run.log("@@HOST hook kube-standin: stand-in API server on 127.0.0.1:%d, node %s, guest sees "
                     "https://kubernetes.default.svc:%d (%s)" % (self.api.port, self.NODE, self.GUEST_PORT,
                                                                  self.GUEST_ADDR))

    def qemu_args(self):
        bridge = "cmd:%s %s 127.0.0.1 %d" % (sys.executable, os.path.join(HERE, "support", "guestfwd-connect.py"),
                                            self.api.port)
        netdev = ("user,id=n1,restrict=on,ipv6=off,net=10.0.2.0/24,host=10.0.2.2,"
                  "guestfwd=tcp:%s:%d-%s" % (self.GUEST_ADDR, self.GUEST_PORT, bridge))
        return {"nic1_netdev": netdev}, []

    def _path(self, plural, name=None):
        return self.api.devices_path(plural, name)

    def _items(self, plural):
        return self.api.get(self._path(plural), params={"labelSelector": "nodename=" + self.NODE})["items"]

    # ---- USB claims (97-agent-usb-claim) -------------------------------------------------------------
    KUBEVIRT = "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt"
    # An administrator's entry: the agent must leave it as it is.
    BY_HAND_USB = {"resourceName": "example.com/yubikey", "externalResourceProvider": True,
                   "selectors": [{"vendor": "1050", "product": "0407"}]}

    def _usb_claim_ops(self):
        return {"usb_kubevirt": self._usb_kubevirt, "usb_claim": self._usb_claim,
                "usb_claim_wait": self._usb_claim_wait, "usb_device_wait": self._usb_device_wait,
                "usb_replug": self._usb_replug, "usb_kubevirt_wait": self._usb_kubevirt_wait,
                "usb_unclaim": self._usb_unclaim}

    def _usb_kubevirt(self, req):
        self.api.apply_crds(os.path.join(SRC, "tests", "agent", "fixtures", "kubevirt"))
        self.api.create_namespace("kubevirt")
        self.api.create(self.KUBEVIRT.rsplit("/", 1)[0], {
            "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
            "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
            "spec": {"configuration": {"permittedHostDevices": {"usb": [self.BY_HAND_USB]}}}})
        return {"byHand": self.BY_HAND_USB["resourceName"]}

    def _usb_claim(self, req):
        self.api.create(self._path("usbdeviceclaims"), {
            "apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "USBDeviceClaim",
            "metadata": {"name": req["name"]}, "spec": {"userName": "vm-test"}})
        return {"name": req["name"]}

    @staticmethod
    def _bound(claim):
        conds = [c for c in (claim.get("status") or {}).get("conditions") or [] if c.get("type") == "Bound"]
        return conds[0] if conds else {}

    def _usb_claim_wait(self, req):
        t0 = time.monotonic()
        path = self._path("usbdeviceclaims", req["name"])
        try:
            claim = self.api.wait_for(path, lambda o: self._bound(o).get("reason") == req["reason"],
                                      timeout=req.get("timeout", 60))
        except TimeoutError:
            raise RuntimeError("USBDeviceClaim %s: no condition Bound with reason %s: %s" % (
                req["name"], req["reason"], json.dumps(self.api.get(path).get("status"))))
        cond = self._bound(claim)
        record = json.loads((claim["metadata"].get("annotations") or {}).get("hostdev.io/usb-device", "{}"))
        return {"seconds": round(time.monotonic() - t0, 3), "status": cond.get("status"),
                "message": cond.get("message", ""),
                "finalizer": "hostdev.io/usb-release" in (claim["metadata"].get("finalizers") or []),
                "port": record.get("port", ""), "vendorProduct": record.get("vendorProduct", "")}

    def _usb_device_wait(self, req):
        t0 = time.monotonic()
        path = self._path("usbdevices", req["name"])
        try:
            obj = self.api.wait_for(path, lambda o: (o.get("status") or {}).get("enabled") is req["enabled"],
                                    timeout=req.get("timeout", 60))
        except TimeoutError:
            raise RuntimeError("USBDevice %s: status.enabled never became %s" % (req["name"], req["enabled"]))
        return {"seconds": round(time.monotonic() - t0, 3), "devicePath": obj["status"].get("devicePath", ""),
                "portPath": obj["status"].get("portPath", "")}

    def _usb_replug(self, req):
        """device_add of @device exactly as the machine definition (runner.py) plugged it at boot,
        read from this boot's own QEMU command line, into @port (QEMU picked it at boot)."""
        cmd = self.run.qemu_cmd()
        for flag, value in zip(cmd, cmd[1:]):
            if flag != "-device":
                continue
            driver, *props = value.split(",")
            args = dict(p.split("=", 1) for p in props)
            if args.get("id") == req["device"]:
                args.update(driver=driver, port=str(req["port"]))
                answer = self.run.qmp.command({"execute": "device_add", "arguments": args})
                if "return" not in answer:
                    raise RuntimeError("device_add %s: %s" % (json.dumps(args), answer))
                return {"arguments": args}
        raise ValueError("no -device with id=%s in this machine" % req["device"])

    def _usb_entries(self):
        kv = self.api.get(self.KUBEVIRT)
        return ((kv.get("spec") or {}).get("configuration") or {}).get("permittedHostDevices", {}).get("usb") or []

    def _usb_kubevirt_wait(self, req):
        t0 = time.monotonic()

        def done(kv):
            usb = ((kv.get("spec") or {}).get("configuration") or {}).get("permittedHostDevices", {}).get("usb") or []
            return any(e.get("resourceName") == req["resource"] for e in usb) is req["present"]
        try:
            self.api.wait_for(self.KUBEVIRT, done, timeout=req.get("timeout", 60))
        except TimeoutError:
            raise RuntimeError("KubeVirt CR: the usb entry of %s never became %s: %s" % (
                req["resource"], "present" if req["present"] else "absent", json.dumps(self._usb_entries())))
        usb = self._usb_entries()
        entries = sorted("%s=%s" % (e.get("resourceName"), "+".join(
            "%s:%s" % (s.get("vendor"), s.get("product")) for s in e.get("selectors") or [])) for e in usb)
        return {"seconds": round(time.monotonic() - t0, 3), "entries": " ".join(entries),
                "byHandKept": self.BY_HAND_USB in usb}

    def _usb_unclaim(self, req):
        t0 = time.monotonic()
        path = self._path("usbdeviceclaims", req["name"])
        self.api.delete(path)
        self.api.wait_for(path, None, deleted=True, timeout=req.get("timeout", 60))
        return {"seconds": round(time.monotonic() - t0, 3)}

    def request(self, req):
        op = req.get("op")
        if op.startswith("dra_"):
            return self._dra_request(op, req)
        if op in self._usb_claim_ops():
            return self._usb_claim_ops()[op](req)
        if op == "kubeconfig":
            import base64
            with open(self.kubeconfig, encoding="utf-8") as f:
                text = json.dumps(json.load(f), separators=(",", ":"))
            return {"base64": base64.b64encode(text.encode()).decode(), "hostPort": self.api.port}
        if op == "objects":
            return {p: [{"name": o["metadata"]["name"], "status": o.get("status", {}),
                         "labels": o["metadata"].get("labels", {})} for o in self._items(p)]
                    for p in ("pcidevices", "usbdevices", "sriovnetworkdevices")}
        if op == "summary":
            # Flat, sorted strings a busybox shell compares without a JSON parser.
            pci = sorted("%s=%s" % (o["status"].get("address", "?"), o["status"].get("kernelDriverInUse", ""))
                         for o in self._items("pcidevices"))
            usb = self._items("usbdevices")
            return {"pci": " ".join(pci),
                    "usb": " ".join(sorted("%s=%s:%s=%s" % (o["status"].get("portPath", "?"), o["status"].get("vendorID"),
                                                            o["status"].get("productID"), o["status"].get("devicePath"))
                                           for o in usb)),
                    "usbnames": " ".join(sorted("%s=%s" % (o["status"].get("portPath", "?"), o["metadata"]["name"])
                                                for o in usb)),
                    "sriov": " ".join(sorted(o["metadata"]["name"] for o in self._items("sriovnetworkdevices")))}
        if op == "unplug":
            # Watched from the object's resourceVersion, so its DELETED event cannot be missed
            # whenever the watch connects.
            rv = self.api.get(self._path("usbdevices", req["name"]))["metadata"]["resourceVersion"]
            timeout = req.get("timeout", 60)
            t0 = time.monotonic()
            answer = self.run.qmp.command({"execute": "device_del", "arguments": {"id": req["device"]}})
            if "return" not in answer:
                raise RuntimeError("device_del %s: %s" % (req["device"], answer))
            for typ, _ in self.api.watch(self._path("usbdevices"), resource_version=rv, timeout=timeout,
                                         fieldSelector="metadata.name=" + req["name"]):
                if typ == "DELETED":
                    secs = time.monotonic() - t0
                    self.run.log("@@HOST hook kube-standin: USBDevice %s deleted %.2f s after QMP device_del %s"
                                 % (req["name"], secs, req["device"]))
                    return {"seconds": round(secs, 3)}
            raise RuntimeError("USBDevice %s still there %d s after the unplug" % (req["name"], timeout))
        if op == "wait":
            t0 = time.monotonic()
            obj = self.api.wait_for(self._path(req["plural"], req["name"]),
                                    lambda o: o.get("status", {}).get("nodeName") == self.NODE,
                                    timeout=req.get("timeout", 60))
            return {"seconds": round(time.monotonic() - t0, 3), "object": {"status": obj.get("status", {}),
                                                                           "labels": obj["metadata"].get("labels", {})}}
        if op == "claim":
            address = req["address"]
            name = "%s-%s" % (self.NODE, address.replace(":", "").replace(".", ""))
            self.api.create(self._path("pcideviceclaims"), {
                "apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "PCIDeviceClaim",
                "metadata": {"name": name},
                "spec": {"address": address, "nodeName": self.NODE, "userName": "vm-test"}})
            return {"name": name}
        if op == "wait_claim":
            t0 = time.monotonic()

            def bound(o):
                st = o.get("status") or {}
                conds = [c for c in st.get("conditions") or [] if c.get("type") == "Bound"]
                return st.get("passthroughEnabled") is True and conds and conds[0]["status"] == "True"
            try:
                obj = self.api.wait_for(self._path("pcideviceclaims", req["name"]), bound,
                                        timeout=req.get("timeout", 60))
            except TimeoutError:
                raise RuntimeError("claim %s not enabled: %s" % (req["name"], json.dumps(
                    self.api.get(self._path("pcideviceclaims", req["name"])).get("status"))))
            cond = [c for c in obj["status"]["conditions"] if c["type"] == "Bound"][0]
            dev = self.api.get(self._path("pcidevices", req["name"]))
            return {"seconds": round(time.monotonic() - t0, 3), "reason": cond["reason"],
                    "driver": obj["status"].get("kernelDriverToUnbind", ""),
                    "resource": dev.get("status", {}).get("resourceName", "")}
        if op == "unclaim":
            t0 = time.monotonic()
            self.api.delete(self._path("pcideviceclaims", req["name"]))
            self.api.wait_for(self._path("pcideviceclaims", req["name"]), None, deleted=True,
                              timeout=req.get("timeout", 60))
            return {"seconds": round(time.monotonic() - t0, 3)}
        if op == "writes":
            out = {}
            for r in self.api.requests(user=self.USER):
                if r["verb"] in ("create", "update", "patch", "delete"):
                    out[r["verb"]] = out.get(r["verb"], 0) + 1
            return {"writes": out, "forbidden": len(self.api.requests(user=self.USER, code=403))}
        raise ValueError("unknown op %r" % op)

    @staticmethod
    def _base64_json(path):
        import base64
        with open(path, encoding="utf-8") as f:
            text = json.dumps(json.load(f), separators=(",", ":"))
        return base64.b64encode(text.encode()).decode()

    def _dra_request(self, op, req):
        """The ops of the DRA scenario (the class docstring, "Dynamic Resource Allocation")."""
        if op == "dra_kubeconfig":
            import yaml
            if not self.dra_ready:
                with open(os.path.join(SRC, "examples", "agent", "deploy", "dra", "rbac.yaml"),
                          encoding="utf-8") as f:
                    role = next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "ClusterRole")
                self.api.add_token(self.DRA_TOKEN, self.DRA_USER)
                self.api.set_rbac(self.DRA_USER, role["rules"])
                self.api.create_namespace(self.DRA_NAMESPACE)
                with open(os.path.join(SRC, "examples", "agent", "deploy", "dra", "deviceclasses.yaml"),
                          encoding="utf-8") as f:
                    for d in yaml.safe_load_all(f):
                        if d and d.get("kind") == "DeviceClass":
                            self.api.create("/apis/resource.k8s.io/v1/deviceclasses", d)
                self.api.kubeconfig(self.dra_kubeconfig, token=self.DRA_TOKEN, embed=True,
                                    server="https://kubernetes.default.svc:%d" % self.GUEST_PORT)
                self.dra_ready = True
            return {"base64": self._base64_json(self.dra_kubeconfig), "hostPort": self.api.port}
        if op == "dra_device":
            address = req["address"]
            t0 = time.monotonic()

            def device_of(sl):
                for d in sl["spec"].get("devices") or []:
                    if (d.get("attributes") or {}).get("resource.kubernetes.io/pciBusID") == {"string": address}:
                        return d
                return None
            try:
                sl = self.api.wait_for(self.SLICES, lambda o: device_of(o) is not None,
                                       timeout=req.get("timeout", 60),
                                       fieldSelector="spec.nodeName=%s,spec.driver=%s" % (self.NODE, self.DRA_DRIVER))
            except TimeoutError:
                raise RuntimeError("no ResourceSlice of node %s and driver %s lists %s" % (
                    self.NODE, self.DRA_DRIVER, address))
            dev = device_of(sl)
            attrs = {k.rsplit("/", 1)[-1]: next(iter(v.values())) for k, v in dev.get("attributes", {}).items()}
            return {"name": dev["name"], "pool": sl["spec"]["pool"]["name"], "sliceDriver": sl["spec"]["driver"],
                    "seconds": round(time.monotonic() - t0, 3), "attributes": attrs}
        if op == "dra_claim":
            obj = self.api.create_allocated_claim(
                self.DRA_NAMESPACE, req["name"],
                [{"request": "dev", "driver": self.DRA_DRIVER, "pool": self.NODE, "device": req["device"]}],
                req.get("deviceClass", "vfio-intel-82574l"))
            return {"namespace": self.DRA_NAMESPACE, "name": req["name"], "uid": obj["metadata"]["uid"]}
        if op == "dra_unclaim":
            self.api.delete("/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s"
                            % (self.DRA_NAMESPACE, req["name"]))
            return {"name": req["name"]}
        if op == "dra_writes":
            out = {}
            for r in self.api.requests(user=self.DRA_USER):
                if r["verb"] in ("create", "update", "patch", "delete"):
                    key = "%s %s" % (r["verb"], r.get("resource", "?"))
                    out[key] = out.get(key, 0) + 1
            return {"writes": out, "forbidden": len(self.api.requests(user=self.DRA_USER, code=403))}
        raise ValueError("unknown op %r" % op)

    def stop(self):
        if self.api:
            try:
                with open(os.path.join(self.run.out, "standin-requests.json"), "w", encoding="utf-8") as f:
                    json.dump(self.api.requests(), f, indent=1)
            except Exception:  # noqa: BLE001 - best effort: the stand-in may be gone
                pass
            self.api.stop()
            self.api = None


HOOKS = {"kube-standin": KubeStandin}
