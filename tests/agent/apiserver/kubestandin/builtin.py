# SPDX-License-Identifier: Apache-2.0
"""The built-in kinds the stand-in serves, in one table: core/v1 Namespace, Node, ConfigMap,
Event; coordination.k8s.io/v1 Lease; apiextensions.k8s.io/v1 CustomResourceDefinition;
resource.k8s.io/v1 ResourceSlice, ResourceClaim, ResourceClaimTemplate, DeviceClass.

Their schemas are structural schemas written for the stand-in from the upstream Go types: the
fields a client of this project writes are typed (so a wrong type is a 422 and an unknown field
is dropped, as for the real built-in types), the rest of an upstream type is kept as an opaque
object. Type-specific validation that the real server does in Go (ResourceSlice's node
selection, device and attribute limits, immutable fields) is in the validators below.
To add a kind: append a ResourceType to builtin_types()."""
import re

from . import table as tablemod
from .errors import FieldError
from .meta import label_name_errors, subdomain_errors
from .types import ResourceType

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
OPAQUE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
OPAQUE_LIST = {"type": "array", "items": OPAQUE}
STRINGS = {"type": "array", "items": S}
STRING_MAP = {"type": "object", "additionalProperties": S}
QUANTITY = {"x-kubernetes-int-or-string": True}


def obj(props, required=(), **extra):
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    s.update(extra)
    return s


def arr(items, **extra):
    s = {"type": "array", "items": items}
    s.update(extra)
    return s


def root(**props):
    return obj(dict(apiVersion=S, kind=S, metadata={"type": "object"}, **props))


CONDITION = obj({"type": S, "status": S, "observedGeneration": I, "lastTransitionTime": S, "reason": S,
                 "message": S, "lastHeartbeatTime": S, "lastProbeTime": S})

# -- core/v1 ----------------------------------------------------------------------------------

NAMESPACE_SCHEMA = root(spec=obj({"finalizers": STRINGS}),
                        status=obj({"phase": S, "conditions": arr(CONDITION)}))

NODE_INFO_FIELDS = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                    "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture")
# Defaults stand for the Go types' fields without omitempty: the real server always sends them
# (a bare Node has status.nodeInfo with ten empty strings), and clients such as python3-kubernetes
# refuse a Node without them.
NODE_SCHEMA = root(
    spec=obj({"podCIDR": S, "podCIDRs": STRINGS, "providerID": S, "unschedulable": B,
              "taints": arr(obj({"key": S, "value": S, "effect": S, "timeAdded": S}, required=["key", "effect"])),
              "configSource": OPAQUE, "externalID": S}, default={}),
    status=obj({"capacity": {"type": "object", "additionalProperties": QUANTITY},
                "allocatable": {"type": "object", "additionalProperties": QUANTITY},
                "phase": S, "conditions": arr(CONDITION),
                "addresses": arr(obj({"type": S, "address": S}, required=["type", "address"])),
                "daemonEndpoints": obj({"kubeletEndpoint": obj({"Port": dict(I, default=0)}, default={})},
                                       default={}),
                "nodeInfo": obj({k: dict(S, default="") for k in NODE_INFO_FIELDS},
                                default={}, **{"x-kubernetes-preserve-unknown-fields": True}),
                "images": OPAQUE_LIST, "volumesInUse": STRINGS, "volumesAttached": OPAQUE_LIST,
                "config": OPAQUE, "runtimeHandlers": OPAQUE_LIST, "features": OPAQUE, "declaredFeatures": STRINGS},
               default={}))

CONFIGMAP_SCHEMA = root(data=STRING_MAP, binaryData=STRING_MAP, immutable=B)

EVENT_SCHEMA = root(involvedObject=OPAQUE, reason=S, message=S, source=OPAQUE, firstTimestamp=S,
                    lastTimestamp=S, count=I, type=S, eventTime={"type": "string", "nullable": True},
                    series=OPAQUE, action=S, related=OPAQUE, reportingComponent=S, reportingInstance=S)

# -- coordination.k8s.io/v1 -------------------------------------------------------------------

LEASE_SCHEMA = root(spec=obj({"holderIdentity": S, "leaseDurationSeconds": I, "acquireTime": S,
                              "renewTime": S, "leaseTransitions": I, "strategy": S, "preferredHolder": S}))

# -- apiextensions.k8s.io/v1 (validated in detail by crd.py) ------------------------------------

CRD_SCHEMA = root(spec=OPAQUE, status=OPAQUE)

# -- resource.k8s.io/v1 -------------------------------------------------------------------------

DEVICE_ATTRIBUTE = obj({"int": I, "bool": B, "string": S, "version": S, "list": OPAQUE})
DEVICE_CAPACITY = obj({"value": QUANTITY, "requestPolicy": OPAQUE}, required=["value"])
DEVICE = obj({"name": S,
              "attributes": {"type": "object", "additionalProperties": DEVICE_ATTRIBUTE},
              "capacity": {"type": "object", "additionalProperties": DEVICE_CAPACITY},
              "consumesCounters": OPAQUE_LIST, "nodeName": S, "nodeSelector": OPAQUE, "allNodes": B,
              "taints": OPAQUE_LIST, "bindsToNode": B, "bindingConditions": STRINGS,
              "bindingFailureConditions": STRINGS, "allowMultipleAllocations": B}, required=["name"])
RESOURCE_SLICE_SCHEMA = root(spec=obj({
    "driver": S,
    "pool": obj({"name": S, "generation": dict(I, default=0), "resourceSliceCount": dict(I, default=0)},
                required=["name"]),
    "nodeName": S, "nodeSelector": OPAQUE, "allNodes": B, "perDeviceNodeSelection": B,
    "devices": arr(DEVICE), "sharedCounters": OPAQUE_LIST, "partitionTypeAttribute": S,
    "skipNodeOperations": STRINGS}, required=["driver", "pool"], default={}))

DEVICE_REQUEST_RESULT = obj({"request": S, "driver": S, "pool": S, "device": S, "adminAccess": B,
                             "tolerations": OPAQUE_LIST, "bindingConditions": STRINGS,
                             "bindingFailureConditions": STRINGS, "shareID": S,
                             "consumedCapacity": OPAQUE}, required=["request", "driver", "pool", "device"])
CLAIM_SPEC = obj({"devices": obj({"requests": OPAQUE_LIST, "constraints": OPAQUE_LIST, "config": OPAQUE_LIST})})
RESOURCE_CLAIM_SCHEMA = root(spec=CLAIM_SPEC, status=obj({
    "allocation": obj({"devices": obj({"results": arr(DEVICE_REQUEST_RESULT), "config": OPAQUE_LIST}),
                       "nodeSelector": OPAQUE, "allocationTimestamp": S}),
    "reservedFor": arr(obj({"apiGroup": S, "resource": S, "name": S, "uid": S},
                           required=["resource", "name", "uid"])),
    "devices": arr(obj({"driver": S, "pool": S, "device": S, "shareID": S, "conditions": arr(CONDITION),
                        "data": OPAQUE, "networkData": OPAQUE}, required=["driver", "pool", "device"]))}))
RESOURCE_CLAIM_TEMPLATE_SCHEMA = root(spec=obj({"metadata": OPAQUE, "spec": CLAIM_SPEC}, required=["spec"]))
DEVICE_CLASS_SCHEMA = root(spec=obj({"selectors": arr(obj({"cel": obj({"expression": S}, required=["expression"])})),
                                     "config": OPAQUE_LIST, "extendedResourceName": S}))


# -- validators (what the real server checks in Go) ---------------------------------------------

C_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
          r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")


def _qualified_attribute_errors(name, path):
    """Attribute and capacity names: a C identifier of at most 32 characters, optionally with a
    DNS subdomain prefix and '/'."""
    errs = []
    if "/" in name:
        domain, ident = name.split("/", 1)
        errs += [FieldError("Invalid", path, name, e.detail) for e in subdomain_errors(domain, path)]
        if len(domain) > 63:
            errs.append(FieldError("TooLong", path, name, "may not be more than 63 bytes"))
    else:
        ident = name
    if not re.fullmatch(C_IDENTIFIER, ident):
        errs.append(FieldError("Invalid", path, name, "a valid C identifier must start with alphabetic character "
                               "or '_', followed by a string of alphanumeric characters or '_' (e.g. "
                               "'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is "
                               "'[A-Za-z_][A-Za-z0-9_]*')"))
    elif len(ident) > 32:
        errs.append(FieldError("TooLong", path, name, "may not be more than 32 bytes"))
    return errs


def validate_resource_slice(new, old):
    errs = []
    spec = new.get("spec") or {}
    driver = spec.get("driver", "")
    if isinstance(driver, str) and driver:
        errs += _driver_name_errors(driver, "spec.driver")
    pool = spec.get("pool") or {}
    pname = pool.get("name", "")
    if isinstance(pname, str):
        if not pname:
            errs.append(FieldError("Required", "spec.pool.name"))
        else:
            errs += _pool_name_errors(pname, "spec.pool.name")
    if isinstance(pool.get("resourceSliceCount"), int) and pool["resourceSliceCount"] <= 0:
        errs.append(FieldError("Invalid", "spec.pool.resourceSliceCount", pool["resourceSliceCount"],
                               "must be greater than zero"))
    if isinstance(pool.get("generation"), int) and pool["generation"] < 0:
        errs.append(FieldError("Invalid", "spec.pool.generation", pool["generation"],
                               "must be greater than or equal to zero"))
    selection = [f for f in ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection")
                 if spec.get(f) not in (None, "", False)]
    if not selection:
        errs.append(FieldError("Required", "spec", detail="exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
                               "`perDeviceNodeSelection` is required"))
    elif len(selection) > 1:
        errs.append(FieldError("Invalid", "spec", "{" + ", ".join(f"`{f}`" for f in selection) + "}",
                               "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` "
                               "is required, but multiple fields are set"))
    if isinstance(spec.get("nodeName"), str) and spec["nodeName"]:
        errs += subdomain_errors(spec["nodeName"], "spec.nodeName")
    devices = spec.get("devices") or []
    if isinstance(devices, list):
        if len(devices) > 128:
            errs.append(FieldError("TooMany", "spec.devices", len(devices), "must have at most 128 items"))
        names = set()
        for i, d in enumerate(devices):
            if not isinstance(d, dict):
                continue
            p = f"spec.devices[{i}]"
            n = d.get("name", "")
            if isinstance(n, str):
                if not n:
                    errs.append(FieldError("Required", p + ".name"))
                else:
                    errs += label_name_errors(n, p + ".name")
                    if n in names:
                        errs.append(FieldError("Duplicate", p + ".name", n))
                    names.add(n)
            attrs = d.get("attributes") or {}
            caps = d.get("capacity") or {}
            if isinstance(attrs, dict) and isinstance(caps, dict):
                if len(attrs) + len(caps) > 32:
                    errs.append(FieldError("Invalid", p, len(attrs) + len(caps),
                                           "the total number of attributes and capacities must not exceed 32"))
                for k, v in attrs.items():
                    ap = f"{p}.attributes[{k}]"
                    errs += _qualified_attribute_errors(k, ap)
                    if isinstance(v, dict):
                        set_fields = [f for f in ("int", "bool", "string", "version", "list") if f in v]
                        if not set_fields:
                            errs.append(FieldError("Required", ap, detail="exactly one value must be specified"))
                        elif len(set_fields) > 1:
                            errs.append(FieldError("Invalid", ap, v, "exactly one value must be specified"))
                        if isinstance(v.get("string"), str) and len(v["string"]) > 64:
                            errs.append(FieldError("TooLong", ap + ".string", v["string"],
                                                   "may not be more than 64 bytes"))
                        if isinstance(v.get("version"), str):
                            if not re.fullmatch(SEMVER, v["version"]):
                                errs.append(FieldError("Invalid", ap + ".version", v["version"],
                                                       "must be a string compatible with semver.org spec 2.0.0"))
                for k in caps:
                    errs += _qualified_attribute_errors(k, f"{p}.capacity[{k}]")
    if old is not None:
        ospec = old.get("spec") or {}
        for f in ("driver", "nodeName"):
            if ospec.get(f) != spec.get(f):
                errs.append(FieldError("Invalid", "spec." + f, spec.get(f), "field is immutable"))
        if (ospec.get("pool") or {}).get("name") != pname:
            errs.append(FieldError("Invalid", "spec.pool.name", pname, "field is immutable"))
    return errs


MAX_REQUESTS = 32            # resource.DeviceRequestsMaxSize
MAX_RESULTS = 32             # resource.AllocationResultsMaxSize
MAX_RESERVED_FOR = 256       # resource.ResourceClaimReservedForMaxSize
MAX_SELECTORS = 32           # resource.DeviceSelectorsMaxSize
CEL_MAX_LENGTH = 10 * 1024   # resource.CELSelectorExpressionMaxLength
ALLOCATION_MODES = ("All", "ExactCount")


def _pool_name_errors(pname, path):
    errs = []
    if len(pname) > 253:
        errs.append(FieldError("TooLong", path, pname, "may not be more than 253 bytes"))
    for part in pname.split("/"):
        errs += [FieldError("Invalid", path, pname, e.detail) for e in subdomain_errors(part, path)]
    return errs


def _driver_name_errors(driver, path):
    errs = subdomain_errors(driver, path)
    if len(driver) > 63:
        errs.append(FieldError("TooLong", path, driver, "may not be more than 63 bytes"))
    return errs


def _selector_errors(selectors, path):
    errs = []
    if not isinstance(selectors, list):
        return errs
    if len(selectors) > MAX_SELECTORS:
        errs.append(FieldError("TooMany", path, len(selectors), f"must have at most {MAX_SELECTORS} items"))
    for i, sel in enumerate(selectors):
        p = f"{path}[{i}]"
        cel = sel.get("cel") if isinstance(sel, dict) else None
        if cel is None:
            errs.append(FieldError("Required", p + ".cel", detail="exactly one must be specified"))
            continue
        expr = cel.get("expression", "") if isinstance(cel, dict) else ""
        if isinstance(expr, str):
            if not expr.strip():
                errs.append(FieldError("Required", p + ".cel.expression"))
            elif len(expr) > CEL_MAX_LENGTH:
                errs.append(FieldError("TooLong", p + ".cel.expression", "<value omitted>",
                                       f"may not be more than {CEL_MAX_LENGTH} bytes"))
    return errs


def _claim_spec_errors(spec, path):
    """ResourceClaimSpec: the device requests (names, one of exactly/firstAvailable, the class,
    the allocation mode and count)."""
    errs = []
    devices = (spec or {}).get("devices") or {}
    requests = devices.get("requests") or []
    if not isinstance(requests, list):
        return errs
    rp = path + ".devices.requests"
    if len(requests) > MAX_REQUESTS:
        errs.append(FieldError("TooMany", rp, len(requests), f"must have at most {MAX_REQUESTS} items"))
    names = set()
    for i, req in enumerate(requests):
        p = f"{rp}[{i}]"
        if not isinstance(req, dict):
            errs.append(FieldError("Invalid", p, req, "must be an object"))
            continue
        n = req.get("name", "")
        if not n:
            errs.append(FieldError("Required", p + ".name"))
        elif isinstance(n, str):
            errs += label_name_errors(n, p + ".name")
            if n in names:
                errs.append(FieldError("Duplicate", p + ".name", n))
            names.add(n)
        has = [f for f in ("exactly", "firstAvailable") if req.get(f) is not None]
        if not has:
            errs.append(FieldError("Required", p, detail="exactly one of `exactly` or `firstAvailable` is required"))
        elif len(has) > 1:
            errs.append(FieldError("Invalid", p, "{`exactly`, `firstAvailable`}",
                                   "exactly one of `exactly` or `firstAvailable` is required, but multiple fields "
                                   "are set"))
        subs = [(p + ".exactly", req["exactly"])] if isinstance(req.get("exactly"), dict) else []
        if isinstance(req.get("firstAvailable"), list):
            subs += [(f"{p}.firstAvailable[{j}]", sub) for j, sub in enumerate(req["firstAvailable"])
                     if isinstance(sub, dict)]
        for sp, sub in subs:
            cls = sub.get("deviceClassName", "")
            if not cls:
                errs.append(FieldError("Required", sp + ".deviceClassName"))
            elif isinstance(cls, str):
                errs += subdomain_errors(cls, sp + ".deviceClassName")
            mode = sub.get("allocationMode", "ExactCount") or "ExactCount"
            if mode not in ALLOCATION_MODES:
                errs.append(FieldError("NotSupported", sp + ".allocationMode", mode,
                                       'supported values: "All", "ExactCount"'))
            count = sub.get("count")
            if mode == "ExactCount" and isinstance(count, int) and count <= 0:
                errs.append(FieldError("Invalid", sp + ".count", count, "must be greater than zero"))
            if mode == "All" and count not in (None, 0):
                errs.append(FieldError("Invalid", sp + ".count", count, "must not be specified when allocationMode "
                                       "is 'All'"))
            errs += _selector_errors(sub.get("selectors"), sp + ".selectors")
    return errs, names


def _claim_status_errors(status, request_names):
    errs = []
    alloc = status.get("allocation")
    results = ((alloc or {}).get("devices") or {}).get("results") or []
    if isinstance(results, list):
        rp = "status.allocation.devices.results"
        if len(results) > MAX_RESULTS:
            errs.append(FieldError("TooMany", rp, len(results), f"must have at most {MAX_RESULTS} items"))
        for i, r in enumerate(results):
            if not isinstance(r, dict):
                continue
            p = f"{rp}[{i}]"
            req = r.get("request", "")
            if isinstance(req, str) and req.split("/")[0] not in request_names:
                errs.append(FieldError("Invalid", p + ".request", req, "must be the name of a request in the claim "
                                       "or the name of a request and a subrequest separated by '/'"))
            if isinstance(r.get("driver"), str):
                errs += _driver_name_errors(r["driver"], p + ".driver")
            if isinstance(r.get("pool"), str):
                errs += _pool_name_errors(r["pool"], p + ".pool")
            if isinstance(r.get("device"), str):
                errs += label_name_errors(r["device"], p + ".device")
    reserved = status.get("reservedFor") or []
    if isinstance(reserved, list):
        if len(reserved) > MAX_RESERVED_FOR:
            errs.append(FieldError("TooMany", "status.reservedFor", len(reserved),
                                   f"must have at most {MAX_RESERVED_FOR} items"))
        uids = set()
        for i, ref in enumerate(reserved):
            if isinstance(ref, dict) and ref.get("uid") in uids:
                errs.append(FieldError("Duplicate", f"status.reservedFor[{i}].uid", ref["uid"]))
            if isinstance(ref, dict):
                uids.add(ref.get("uid"))
        if reserved and not alloc:
            errs.append(FieldError("Forbidden", "status.reservedFor",
                                   detail="may not be specified when `allocated` is not set"))
    return errs


def validate_resource_claim(new, old):
    errs, names = _claim_spec_errors(new.get("spec"), "spec")
    errs += _claim_status_errors(new.get("status") or {}, names)
    if old is not None:
        if old.get("spec") != new.get("spec"):
            errs.append(FieldError("Invalid", "spec", "", "field is immutable"))
        oalloc = (old.get("status") or {}).get("allocation")
        nalloc = (new.get("status") or {}).get("allocation")
        if oalloc and nalloc and oalloc != nalloc:
            errs.append(FieldError("Invalid", "status.allocation", "", "field is immutable"))
    return errs


def validate_resource_claim_template(new, old):
    errs, _ = _claim_spec_errors((new.get("spec") or {}).get("spec"), "spec.spec")
    if old is not None and old.get("spec") != new.get("spec"):
        errs.append(FieldError("Invalid", "spec", "", "field is immutable"))
    return errs


def validate_device_class(new, old):
    return _selector_errors((new.get("spec") or {}).get("selectors"), "spec.selectors")


# -- printers -----------------------------------------------------------------------------------


def _col(name, typ="string", priority=0, fmt="", description=""):
    return {"name": name, "type": typ, "format": fmt, "priority": priority, "description": description}


def _age(o):
    return tablemod.age(o["metadata"].get("creationTimestamp"))


def node_printer():
    cols = [tablemod.NAME_COLUMN, _col("Status", description="The status of the node"),
            _col("Roles", description="The roles of the node"), tablemod.AGE_COLUMN,
            _col("Version", description="Kubelet Version reported by the node."),
            _col("Internal-IP", priority=1), _col("External-IP", priority=1), _col("OS-Image", priority=1),
            _col("Kernel-Version", priority=1), _col("Container-Runtime", priority=1)]

    def cells(o):
        st = o.get("status") or {}
        ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
        status = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
        if (o.get("spec") or {}).get("unschedulable"):
            status += ",SchedulingDisabled"
        roles = sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                       if k.startswith("node-role.kubernetes.io/") and "/" in k)
        info = st.get("nodeInfo") or {}
        addr = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
        return [o["metadata"]["name"], status, ",".join(roles) or "<none>", _age(o), info.get("kubeletVersion", ""),
                addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
                info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]
    return cols, cells


def namespace_printer():
    cols = [tablemod.NAME_COLUMN, _col("Status", description="The status of the namespace"), tablemod.AGE_COLUMN]
    return cols, lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), _age(o)]


def resource_slice_printer():
    cols = [tablemod.NAME_COLUMN, _col("Node"), _col("Driver"), _col("Pool"), tablemod.AGE_COLUMN]

    def cells(o):
        spec = o.get("spec") or {}
        return [o["metadata"]["name"], spec.get("nodeName") or "<none>", spec.get("driver", ""),
                (spec.get("pool") or {}).get("name", ""), _age(o)]
    return cols, cells


def resource_claim_printer():
    cols = [tablemod.NAME_COLUMN, _col("State"), tablemod.AGE_COLUMN]

    def cells(o):
        st = o.get("status") or {}
        states = []
        if st.get("allocation"):
            states.append("allocated")
        if st.get("reservedFor"):
            states.append("reserved")
        if o["metadata"].get("deletionTimestamp"):
            states.append("deleted")
        return [o["metadata"]["name"], ",".join(states) or "pending", _age(o)]
    return cols, cells


def default_printer():
    return [tablemod.NAME_COLUMN, tablemod.AGE_COLUMN], lambda o: [o["metadata"]["name"], _age(o)]


def namespace_prepare_create(o):
    o.setdefault("spec", {})["finalizers"] = ["kubernetes"]
    o["status"] = {"phase": "Active"}


def builtin_types():
    """A fresh list of the built-in ResourceTypes."""
    core = dict(generation=False, allow_unconditional_update=True, printer=default_printer)
    return [
        ResourceType("", "Namespace", "namespaces", ["v1"], False, short_names=["ns"], status_subresource=True,
                     schemas={"v1": NAMESPACE_SCHEMA}, name_rule="label",
                     field_getters={"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
                     prepare_create=namespace_prepare_create,
                     **dict(core, printer=namespace_printer)),
        ResourceType("", "Node", "nodes", ["v1"], False, short_names=["no"], status_subresource=True,
                     create_drops_status=False, schemas={"v1": NODE_SCHEMA},
                     field_getters={"spec.unschedulable": lambda o: "true" if (o.get("spec") or {}).get(
                         "unschedulable") else "false"},
                     merge_keys={"status.conditions": "type", "status.addresses": "type",
                                 "metadata.ownerReferences": "uid", "metadata.finalizers": "",
                                 "spec.podCIDRs": ""},
                     **dict(core, printer=node_printer)),
        ResourceType("", "ConfigMap", "configmaps", ["v1"], True, short_names=["cm"],
                     schemas={"v1": CONFIGMAP_SCHEMA}, merge_keys={"metadata.ownerReferences": "uid"}, **core),
        ResourceType("", "Event", "events", ["v1"], True, short_names=["ev"], schemas={"v1": EVENT_SCHEMA},
                     field_getters={f: (lambda o, f=f: str(_dig(o, f.split(".")) or "")) for f in (
                         "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")},
                     **core),
        ResourceType("coordination.k8s.io", "Lease", "leases", ["v1"], True, schemas={"v1": LEASE_SCHEMA},
                     allow_create_on_update=True, **core),
        ResourceType("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", ["v1"],
                     False, short_names=["crd", "crds"], categories=["api-extensions"], status_subresource=True,
                     schemas={"v1": CRD_SCHEMA}, printer=default_printer),
        ResourceType("resource.k8s.io", "ResourceSlice", "resourceslices", ["v1"], False,
                     schemas={"v1": RESOURCE_SLICE_SCHEMA}, validator=validate_resource_slice,
                     allow_unconditional_update=True, printer=resource_slice_printer,
                     field_getters={"spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName") or "",
                                    "spec.driver": lambda o: (o.get("spec") or {}).get("driver") or "",
                                    "spec.pool.name": lambda o: ((o.get("spec") or {}).get("pool") or {}).get(
                                        "name") or ""}),
        ResourceType("resource.k8s.io", "ResourceClaim", "resourceclaims", ["v1"], True, status_subresource=True,
                     schemas={"v1": RESOURCE_CLAIM_SCHEMA}, validator=validate_resource_claim,
                     allow_unconditional_update=True, printer=resource_claim_printer),
        ResourceType("resource.k8s.io", "ResourceClaimTemplate", "resourceclaimtemplates", ["v1"], True,
                     schemas={"v1": RESOURCE_CLAIM_TEMPLATE_SCHEMA}, allow_unconditional_update=True,
                     validator=validate_resource_claim_template,
                     printer=default_printer),
        ResourceType("resource.k8s.io", "DeviceClass", "deviceclasses", ["v1"], False,
                     schemas={"v1": DEVICE_CLASS_SCHEMA}, validator=validate_device_class,
                     allow_unconditional_update=True, printer=default_printer),
    ]


def _dig(o, parts):
    for p in parts:
        if not isinstance(o, dict):
            return None
        o = o.get(p)
    return o
