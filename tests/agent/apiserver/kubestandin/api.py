# SPDX-License-Identifier: Apache-2.0
"""The API's rules for writes and reads, independent of HTTP: create, update, patch, delete and
deletecollection with the real server's checks (resourceVersion conflicts, preconditions, status
subresource, generation, finalizers, schema pruning/defaulting/validation, field validation
warnings), lists (selectors, limit/continue, resourceVersion semantics) and watches; plus the
garbage collector and the namespace/CRD lifecycles, which run on a worker thread as the
controllers do."""
import copy
import queue
import threading

from . import crd as crdmod
from . import managedfields
from . import meta as metamod
from . import patch as patchmod
from . import schema as schemamod
from .builtin import builtin_types
from .errors import (ApiError, FieldError, Raw, already_exists, bad_request, conflict, expired, invalid,
                     not_found, quote, status_success, too_large_resource_version,
                     unsupported_media_type)
from .selectors import parse_field_selector, parse_label_selector
from .store import ADDED, DELETED, MODIFIED, Store, decode_continue, encode_continue
from .types import Registry

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PATCH_TYPES_CR = ["application/json-patch+json", "application/merge-patch+json"]
PATCH_TYPES_BUILTIN = PATCH_TYPES_CR + ["application/strategic-merge-patch+json"]
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")


class Context:
    """Who asks and how: the user, the field manager, dry run, field validation mode."""

    def __init__(self, user="system:admin", manager="standin", dry_run=False, field_validation="Warn"):
        self.user = user
        self.manager = manager
        self.dry_run = dry_run
        self.field_validation = field_validation
        self.warnings = []


def _strip_for_compare(o):
    o = copy.deepcopy(o)
    m = o.get("metadata", {})
    m.pop("resourceVersion", None)
    m.pop("managedFields", None)
    return o


def _content(o, with_status):
    """What generation tracks: everything but metadata (and status when it has a subresource)."""
    return {k: v for k, v in o.items()
            if k not in ("metadata", "apiVersion", "kind") and (with_status or k != "status")}


class Api:
    def __init__(self, history_limit=None, watcher_queue_limit=100000):
        self.store = Store(history_limit=history_limit, watcher_queue_limit=watcher_queue_limit)
        self.registry = Registry()
        for t in builtin_types():
            self.registry.add(t)
        self.startup_crds = []
        self.gc_queue = queue.Queue()
        self.gc_busy = 0
        self.gc_cond = threading.Condition()
        self.gc_thread = threading.Thread(target=self._gc_loop, name="standin-gc", daemon=True)
        self.gc_thread.start()
        self._bootstrap()

    # -- startup / reset ------------------------------------------------------------------

    def _bootstrap(self):
        ctx = Context(manager="kube-apiserver")
        for ns in SYSTEM_NAMESPACES:
            self.create(self.registry.get(*NS_KEY), "v1", "", {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": ns}}, ctx)
        for c in self.startup_crds:
            self.create(self.registry.get(*CRD_KEY), "v1", "", copy.deepcopy(c), ctx)

    def load_startup_crds(self, docs):
        """CRDs that exist from the start (and again after a restart that loses state)."""
        ctx = Context(manager="kube-apiserver")
        for d in docs:
            self.startup_crds.append(copy.deepcopy(d))
            self.create(self.registry.get(*CRD_KEY), "v1", "", d, ctx)

    def reset(self, keep_rv=True):
        with self.store.lock:
            for key in list(self.registry.types):
                if self.registry.types[key].is_crd:
                    self.registry.remove(key)
            self.store.drop_watchers(reason="restart")
            self.store.reset(keep_rv=keep_rv)
            self._bootstrap()

    # -- helpers --------------------------------------------------------------------------

    def _versioned(self, rtype, obj, version):
        o = copy.deepcopy(obj)
        o["apiVersion"] = rtype.api_version(version)
        o["kind"] = rtype.kind
        return o

    def _check_namespace(self, rtype, ns, for_create=False):
        if not rtype.namespaced:
            return
        if not ns:
            raise bad_request("the server could not find the requested resource: namespace required")
        nso = self.store.peek(NS_KEY, "", ns)
        if nso is None:
            if for_create:
                raise not_found(NS_KEY, ns)
            return
        if for_create and nso["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"{rtype.plural}{'.' + rtype.group if rtype.group else ''} "
                           f"{quote('')} is forbidden: unable to create new content in namespace {ns} because "
                           "it is being terminated", {"kind": rtype.plural, "group": rtype.group,
                                                       "causes": [{"reason": "NamespaceTerminating",
                                                                   "message": f"namespace {ns} is being terminated",
                                                                   "field": "metadata.namespace"}]})

    def _check_crd_served(self, rtype):
        if not rtype.is_crd:
            return
        c = self.store.peek(CRD_KEY, "", f"{rtype.plural}.{rtype.group}")
        if c is not None and c["metadata"].get("deletionTimestamp"):
            raise ApiError(405, "MethodNotAllowed", "create not allowed while custom resource definition is terminating")

    def _decode(self, rtype, version, body, ctx, what):
        """Body checks, pruning of unknown fields and non-nullable nulls, defaults."""
        if not isinstance(body, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {rtype.kind}): "
                              "Object 'Kind' is missing in the body")
        av, kind = body.get("apiVersion"), body.get("kind")
        if rtype.is_crd and (not kind or not av):
            missing = "Kind" if not kind else "apiVersion"
            raise bad_request(f"Object '{missing}' is missing in '{_short_json(body)}'")
        if av and av != rtype.api_version(version):
            raise bad_request(f"the API version in the data ({av}) does not match the expected API version "
                              f"({rtype.api_version(version)})")
        if kind and kind != rtype.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})")
        body = copy.deepcopy(body)
        body["apiVersion"] = rtype.api_version(version)
        body["kind"] = rtype.kind
        if not isinstance(body.get("metadata", {}), dict):
            raise bad_request(f"unable to decode the {what}: metadata must be an object")
        body.setdefault("metadata", {})
        sch = rtype.schema(version)
        if sch is not None:
            pruned = schemamod.prune(body, sch)
            schemamod.prune_nulls(body, sch)
            schemamod.apply_defaults(body, sch)
            if pruned:
                if ctx.field_validation == "Strict":
                    raise bad_request(f'{rtype.kind} in version "{version}" cannot be handled as a {rtype.kind}: '
                                      "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in pruned))
                if ctx.field_validation == "Warn":
                    ctx.warnings += [f'unknown field "{p}"' for p in pruned]
        return body

    def _validate(self, rtype, version, obj, old):
        errs = metamod.validate_object_meta(obj["metadata"], rtype.namespaced, rtype.name_rule)
        errs += schemamod.validate(obj, rtype.schema(version))
        if rtype.validator is not None:
            errs += rtype.validator(obj, old)
        if rtype.key == CRD_KEY:
            errs += crdmod.validate_crd(obj, old)
        if errs:
            raise invalid(rtype.kind, rtype.group, obj["metadata"].get("name") or
                          obj["metadata"].get("generateName", ""), errs)

    # -- create ---------------------------------------------------------------------------

    def create(self, rtype, version, ns, body, ctx):
        self._check_crd_served(rtype)
        obj = self._decode(rtype, version, body, ctx, "create")
        m = obj["metadata"]
        if rtype.namespaced:
            if m.get("namespace") and m["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        if m.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        for f in ("uid", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                  "creationTimestamp", "generation"):
            m.pop(f, None)
        m["uid"] = metamod.new_uid()
        m["creationTimestamp"] = metamod.now_rfc3339()
        if rtype.generation:
            m["generation"] = 1
        if rtype.create_drops_status:
            obj.pop("status", None)
        if rtype.prepare_create:
            rtype.prepare_create(obj)
        with self.store.lock:
            self._check_namespace(rtype, ns, for_create=True)
            if not m.get("name") and m.get("generateName"):
                for _ in range(8):
                    m["name"] = metamod.generate_name(m["generateName"])
                    if self.store.peek(rtype.key, ns, m["name"]) is None:
                        break
            self._validate(rtype, version, obj, None)
            if self.store.peek(rtype.key, ns, m["name"]) is not None:
                raise already_exists(rtype.gr, m["name"])
            if rtype.key == CRD_KEY:
                self._crd_precheck(obj)
                obj["status"] = crdmod.crd_status(obj)
            managedfields.record(obj, None, ctx.manager)
            obj["apiVersion"] = rtype.api_version()  # stored in the storage version (conversion None)
            if ctx.dry_run:
                return self._versioned(rtype, obj, version)
            stored = self.store.commit(rtype.key, ADDED, obj, None)
            if rtype.key == CRD_KEY:
                self._crd_established(stored)
        if m.get("ownerReferences"):
            self._gc_enqueue(("dependent", rtype.key, ns, m["name"]))
        return self._versioned(rtype, stored, version)

    # -- get / update / patch ----------------------------------------------------------------

    def get(self, rtype, version, ns, name):
        o = self.store.get(rtype.key, ns, name)
        if o is None:
            raise not_found(rtype.gr, name)
        return self._versioned(rtype, o, version)

    def update(self, rtype, version, ns, name, body, ctx, subresource=None, _patched=False):
        obj = self._decode(rtype, version, body, ctx, "update")
        m = obj["metadata"]
        if m.get("name") != name:
            raise bad_request(f"the name of the object ({m.get('name', '')}) does not match the name on the URL ({name})")
        if rtype.namespaced:
            if m.get("namespace") and m["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        with self.store.lock:
            old = self.store.get(rtype.key, ns, name)
            if old is None:
                if rtype.allow_create_on_update and subresource is None and not _patched:
                    m.pop("resourceVersion", None)
                    return self.create(rtype, version, ns, obj, ctx), True
                raise not_found(rtype.gr, name)
            rv = m.get("resourceVersion")
            if not rv:
                if not (rtype.allow_unconditional_update or _patched):
                    raise invalid(rtype.kind, rtype.group, name, [FieldError(
                        "Invalid", "metadata.resourceVersion", Raw("0x0"), "must be specified for an update")])
            elif rv != old["metadata"]["resourceVersion"]:
                raise conflict(rtype.gr, name)
            if m.get("uid") and m["uid"] != old["metadata"]["uid"]:
                raise conflict(rtype.gr, name, f"Precondition failed: UID in precondition: {m['uid']}, "
                               f"UID in object meta: {old['metadata']['uid']}")
            new = self._prepare_update(rtype, obj, old, subresource)
            self._validate(rtype, version, new, old)
            if rtype.generation and _content(new, not rtype.status_subresource) != _content(old, not rtype.status_subresource):
                new["metadata"]["generation"] = old["metadata"].get("generation", 0) + 1
            if _strip_for_compare(new) == _strip_for_compare(old):
                return self._versioned(rtype, old, version), False
            managedfields.record(new, old, ctx.manager, subresource)
            if ctx.dry_run:
                return self._versioned(rtype, new, version), False
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                stored = self._remove(rtype, new)
            else:
                stored = self.store.commit(rtype.key, MODIFIED, new, old)
            if rtype.key == CRD_KEY:
                self._crd_established(stored)
        if new["metadata"].get("ownerReferences") != old["metadata"].get("ownerReferences"):
            self._gc_enqueue(("dependent", rtype.key, ns, name))
        return self._versioned(rtype, stored, version), False

    def _prepare_update(self, rtype, obj, old, subresource):
        om = old["metadata"]
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        new = obj
        m = new["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                  "resourceVersion", "managedFields"):
            if f in om:
                m[f] = om[f]
            else:
                m.pop(f, None)
        m.pop("selfLink", None)
        m.pop("generateName", None) if "generateName" not in om else m.__setitem__("generateName", om["generateName"])
        if rtype.status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if om.get("deletionTimestamp"):
            added = [f for f in m.get("finalizers") or [] if f not in (om.get("finalizers") or [])]
            if added:
                raise invalid(rtype.kind, rtype.group, om["name"], [FieldError(
                    "Forbidden", "metadata.finalizers", detail="no new finalizers can be added if the object is "
                    "being deleted, found new finalizers []string{" + ", ".join(quote(f) for f in added) + "}")])
        if rtype.prepare_update:
            rtype.prepare_update(new, old)
        new["apiVersion"] = rtype.api_version()  # stored in the storage version (conversion None)
        return new

    def patch(self, rtype, version, ns, name, raw, content_type, ctx, subresource=None):
        ct = (content_type or "").split(";")[0].strip().lower()
        allowed = PATCH_TYPES_CR if rtype.is_crd else PATCH_TYPES_BUILTIN
        if ct not in allowed:
            raise unsupported_media_type(ct, allowed)
        import json
        try:
            p = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except ValueError as e:
            raise bad_request(f"error decoding patch: {e}")
        cur = self.store.get(rtype.key, ns, name)
        if cur is None:
            raise not_found(rtype.gr, name)
        cur = self._versioned(rtype, cur, version)
        if ct == "application/merge-patch+json":
            if not isinstance(p, dict):
                raise bad_request("error decoding patch: merge patch must be a JSON object")
            new = patchmod.merge_patch(cur, p)
        elif ct == "application/json-patch+json":
            new = patchmod.json_patch(cur, p)
        else:
            if not isinstance(p, dict):
                raise bad_request("error decoding patch: strategic merge patch must be a JSON object")
            new = patchmod.strategic_merge_patch(cur, p, rtype.merge_keys)
        if not isinstance(new, dict):
            raise bad_request("the patched object is not a JSON object")
        meta = new.get("metadata")
        if isinstance(meta, dict):
            # The patch's resourceVersion (if it set one) is a precondition; none means "current".
            patch_rv = None
            if ct == "application/merge-patch+json" or ct.startswith("application/strategic"):
                patch_rv = ((p.get("metadata") or {}) if isinstance(p.get("metadata"), dict) else {}).get("resourceVersion")
            elif ct == "application/json-patch+json":
                patch_rv = meta.get("resourceVersion") if meta.get("resourceVersion") != cur["metadata"].get(
                    "resourceVersion") else None
            if patch_rv is None:
                meta["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self.update(rtype, version, ns, name, new, ctx, subresource, _patched=True)[0]

    # -- delete ---------------------------------------------------------------------------

    def delete(self, rtype, version, ns, name, options, ctx):
        options = options or {}
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise invalid("DeleteOptions", "meta.k8s.io", "", [FieldError(
                "NotSupported", "propagationPolicy", policy, 'supported values: "Foreground", "Background", "Orphan", "nil"')])
        if options.get("orphanDependents") is not None and policy is not None:
            raise invalid("DeleteOptions", "meta.k8s.io", "", [FieldError(
                "Invalid", "propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set")])
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        pre = options.get("preconditions") or {}
        with self.store.lock:
            old = self.store.get(rtype.key, ns, name)
            if old is None:
                raise not_found(rtype.gr, name)
            om = old["metadata"]
            if pre.get("uid") and pre["uid"] != om["uid"]:
                raise conflict(rtype.gr, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                               f"UID in object meta: {om['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != om["resourceVersion"]:
                raise conflict(rtype.gr, name, f"Precondition failed: ResourceVersion in precondition: "
                               f"{pre['resourceVersion']}, ResourceVersion in object meta: {om['resourceVersion']}")
            if om.get("deletionTimestamp"):
                return self._deleted_answer(rtype, version, old), 200
            fins = list(om.get("finalizers") or [])
            if policy == "Orphan" and ORPHAN not in fins:
                fins.append(ORPHAN)
            if policy == "Foreground" and FOREGROUND not in fins:
                fins.append(FOREGROUND)
            ns_finalizing = rtype.key == NS_KEY and (old.get("spec") or {}).get("finalizers")
            crd_finalizing = rtype.key == CRD_KEY
            if fins or ns_finalizing or crd_finalizing:
                new = copy.deepcopy(old)
                nm = new["metadata"]
                nm["deletionTimestamp"] = metamod.now_rfc3339()
                nm["deletionGracePeriodSeconds"] = 0
                if fins:
                    nm["finalizers"] = fins
                if nm.get("generation", 0) > 0:
                    nm["generation"] += 1
                if rtype.key == NS_KEY:
                    new.setdefault("status", {})["phase"] = "Terminating"
                if crd_finalizing:
                    fl = nm.setdefault("finalizers", [])
                    if "customresourcecleanup.apiextensions.k8s.io" not in fl:
                        fl.append("customresourcecleanup.apiextensions.k8s.io")
                    for c in new.get("status", {}).get("conditions", []):
                        if c["type"] == "Terminating":
                            break
                    else:
                        new.setdefault("status", {}).setdefault("conditions", []).append({
                            "type": "Terminating", "status": "True", "lastTransitionTime": metamod.now_rfc3339(),
                            "reason": "InstanceDeletionInProgress", "message": "CustomResource deletion is in progress"})
                if ctx.dry_run:
                    return self._deleted_answer(rtype, version, new), 200
                stored = self.store.commit(rtype.key, MODIFIED, new, old)
                if policy == "Orphan":
                    self._gc_enqueue(("orphan", rtype.key, ns, name))
                elif policy == "Foreground":
                    self._gc_enqueue(("foreground", rtype.key, ns, name))
                if ns_finalizing:
                    self._gc_enqueue(("namespace", name))
                if crd_finalizing:
                    self._gc_enqueue(("crd", name))
                code = 202 if options.get("orphanDependents") is False else 200
                return self._deleted_answer(rtype, version, stored), code
            if ctx.dry_run:
                return self._deleted_answer(rtype, version, old), 200
            stored = self._remove(rtype, old)
        return self._deleted_answer(rtype, version, stored), 200

    def _deleted_answer(self, rtype, version, obj):
        if rtype.is_crd or rtype.key == NS_KEY or obj["metadata"].get("deletionTimestamp") and obj["metadata"].get("finalizers"):
            return self._versioned(rtype, obj, version)
        return status_success({"name": obj["metadata"]["name"], "group": rtype.group, "kind": rtype.plural,
                               "uid": obj["metadata"]["uid"]})

    def _remove(self, rtype, obj):
        """Deletes an object for good (under the store lock) and lets the collector see to its dependents."""
        stored = self.store.commit(rtype.key, DELETED, obj, self.store.peek(rtype.key, obj["metadata"].get("namespace"),
                                                                            obj["metadata"]["name"]))
        self._gc_enqueue(("owner-gone", stored["metadata"]["uid"]))
        for r in obj["metadata"].get("ownerReferences") or []:
            self._gc_enqueue(("owner-check", r.get("uid")))
        ns = obj["metadata"].get("namespace")
        if ns:
            nso = self.store.peek(NS_KEY, "", ns)
            if nso is not None and nso["metadata"].get("deletionTimestamp"):
                self._gc_enqueue(("namespace", ns))
        if rtype.is_crd:
            self._gc_enqueue(("crd", f"{rtype.plural}.{rtype.group}"))
        if rtype.key == CRD_KEY:
            key = (obj["spec"]["group"], obj["spec"]["names"]["plural"])
            self.store.drop_watchers(key, reason="crd deleted")
            self.registry.remove(key)
        return stored

    def delete_collection(self, rtype, version, ns, params, options, ctx):
        items = self.list(rtype, version, ns, params)["items"]
        out = []
        for o in items:
            try:
                r, _ = self.delete(rtype, version, ns, o["metadata"]["name"], options, ctx)
                if r.get("kind") == rtype.kind:
                    out.append(r)
            except ApiError as e:
                if e.code != 404:
                    raise
        return {"apiVersion": rtype.api_version(version), "kind": rtype.list_kind,
                "metadata": {"resourceVersion": str(self.store.current_rv())}, "items": out}

    # -- lists -----------------------------------------------------------------------------

    def list(self, rtype, version, ns, params):
        label_sel = parse_label_selector(params.get("labelSelector"))
        field_sel = parse_field_selector(params.get("fieldSelector"))
        rtype.check_field_selector(field_sel, version)
        limit = params.get("limit")
        try:
            limit = int(limit) if limit not in (None, "") else 0
        except ValueError:
            raise bad_request(f"limit: invalid value {limit!r}")
        if limit < 0:
            limit = 0
        cont = params.get("continue") or ""
        rv = params.get("resourceVersion")
        match = params.get("resourceVersionMatch")
        errs = []
        if match and not rv:
            errs.append(FieldError("Forbidden", "resourceVersionMatch", detail="resourceVersionMatch is forbidden "
                                   "unless resourceVersion is provided"))
        if match and cont:
            errs.append(FieldError("Forbidden", "resourceVersionMatch", detail="resourceVersionMatch is forbidden "
                                   "when continue is provided"))
        if match and match not in ("Exact", "NotOlderThan"):
            errs.append(FieldError("NotSupported", "resourceVersionMatch", match,
                                   'supported values: "Exact", "NotOlderThan", ""'))
        if match == "Exact" and rv == "0":
            errs.append(FieldError("Forbidden", "resourceVersionMatch", detail='resourceVersionMatch "exact" is '
                                   'forbidden for resourceVersion "0"'))
        if errs:
            raise invalid("ListOptions", "meta.k8s.io", "", errs)
        if cont and rv not in (None, ""):
            raise bad_request("specifying resource version is not allowed when using continue")
        with self.store.lock:
            cur_rv = self.store.rv
            if cont:
                list_rv, start = decode_continue(cont, rtype.namespaced)
                snap = self.store.snapshot(rtype.key, list_rv)
                if snap is None:
                    # As the real server: 410 with a token to continue inconsistently from here.
                    raise expired("The provided continue parameter is too old to display a consistent list result. "
                                  "You can start a new list without the continue parameter, or use the continue "
                                  "token in this response to retrieve the remainder of the results. Continuing with "
                                  "the provided token results in an inconsistent list - objects that were created, "
                                  "modified, or deleted between the time the first chunk was returned and now may "
                                  "show up in the list.",
                                  metadata={"continue": encode_continue(cur_rv, start)})
            else:
                start = None
                list_rv = cur_rv
                n = _parse_rv(rv) if rv not in (None, "") else None
                if n is not None and n > cur_rv and rv != "0":
                    raise too_large_resource_version(n, cur_rv)
                if match == "Exact":
                    snap = self.store.snapshot(rtype.key, n)
                    if snap is None:
                        raise expired("The resourceVersion for the provided list is too old.")
                    list_rv = n
                else:
                    snap = self.store.snapshot(rtype.key)
                if rv == "0":
                    limit = 0  # served from the watch cache, which ignores limit
        keys = sorted(snap)
        if start is not None:
            keys = [k for k in keys if k > start]
        if ns:
            keys = [k for k in keys if k[0] == ns]
        items, last, remaining = [], None, 0
        for k in keys:
            o = snap[k]
            if not (label_sel.matches(o["metadata"].get("labels")) and
                    field_sel.matches(rtype.fields_of(o, field_sel, version))):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            items.append(o)
            last = k
        meta = {"resourceVersion": str(list_rv)}
        if remaining:
            meta["continue"] = encode_continue(list_rv, last)
            if label_sel.empty() and field_sel.empty():
                meta["remainingItemCount"] = remaining
        out_items = []
        for o in items:
            o = copy.deepcopy(o)
            if rtype.typed_list_items:
                o["apiVersion"] = rtype.api_version(version)
                o["kind"] = rtype.kind
            else:
                o.pop("apiVersion", None)
                o.pop("kind", None)
            out_items.append(o)
        return {"apiVersion": rtype.api_version(version), "kind": rtype.list_kind, "metadata": meta,
                "items": out_items}

    def predicate(self, rtype, version, params):
        label_sel = parse_label_selector(params.get("labelSelector"))
        field_sel = parse_field_selector(params.get("fieldSelector"))
        rtype.check_field_selector(field_sel, version)
        return lambda o: (label_sel.matches(o["metadata"].get("labels")) and
                          field_sel.matches(rtype.fields_of(o, field_sel, version)))

    # -- CRD lifecycle ----------------------------------------------------------------------

    def _crd_precheck(self, crd):
        spec = crd["spec"]
        existing = self.registry.get(spec["group"], spec["names"]["plural"])
        if existing is not None and not existing.is_crd:
            raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", crd["metadata"]["name"], [FieldError(
                "Invalid", "spec.names.plural", spec["names"]["plural"], "is already in use by a built-in type")])

    def _crd_established(self, crd):
        if crd["metadata"].get("deletionTimestamp"):
            return
        t = crdmod.type_from_crd(crd)
        old = self.registry.get(*t.key)
        self.registry.add(t)
        if old is not None and old.versions != t.versions:
            self.store.drop_watchers(t.key, reason="crd changed")

    # -- garbage collector, namespace and CRD finalizers ----------------------------------------

    def _gc_enqueue(self, job):
        with self.gc_cond:
            self.gc_busy += 1
        self.gc_queue.put(job)

    def gc_wait_idle(self, timeout=60):
        """Blocks until the collector has nothing left to do; False on timeout."""
        with self.gc_cond:
            return self.gc_cond.wait_for(lambda: self.gc_busy == 0, timeout)

    def _gc_loop(self):
        while True:
            job = self.gc_queue.get()
            try:
                self._gc_job(job)
            except ApiError:
                pass
            except Exception:  # the collector must keep running; the job is lost like a failed sync
                import traceback
                traceback.print_exc()
            finally:
                with self.gc_cond:
                    self.gc_busy -= 1
                    self.gc_cond.notify_all()

    def _sys(self):
        return Context(user="system:serviceaccount:kube-system:generic-garbage-collector",
                       manager="kube-controller-manager", field_validation="Ignore")

    def _dependents_of(self, uid):
        out = []
        with self.store.lock:
            for key, ns, name in self.store.dependents(uid):
                o = self.store.peek(key, ns, name)
                for r in (o or {}).get("metadata", {}).get("ownerReferences") or []:
                    if r.get("uid") == uid:
                        out.append((key, ns, name, r))
        return out

    def _gc_job(self, job):
        kind = job[0]
        if kind == "owner-gone":
            for key, ns, name, _ in self._dependents_of(job[1]):
                self._gc_enqueue(("dependent", key, ns, name))
        elif kind == "owner-check":
            found = self.store.by_uid(job[1])
            if found is not None and found[1] is not None:
                m = found[1]["metadata"]
                if m.get("deletionTimestamp") and FOREGROUND in (m.get("finalizers") or []):
                    self._gc_foreground(found[0], m.get("namespace") or "", m["name"])
        elif kind == "dependent":
            self._gc_dependent(*job[1:])
        elif kind == "orphan":
            self._gc_orphan(*job[1:])
        elif kind == "foreground":
            self._gc_foreground(*job[1:])
        elif kind == "namespace":
            self._gc_namespace(job[1])
        elif kind == "crd":
            self._gc_crd(job[1])

    def _owner_state(self, dep_ns, ref):
        group, _, _ = ref.get("apiVersion", "").rpartition("/")
        otype = self.registry.by_kind(group, ref.get("kind"))
        if otype is None:
            return "unknown"
        owner = self.store.peek(otype.key, dep_ns if otype.namespaced else "", ref.get("name"))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return "absent"
        om = owner["metadata"]
        if om.get("deletionTimestamp") and FOREGROUND in (om.get("finalizers") or []) and ref.get("blockOwnerDeletion"):
            return "waiting"
        return "solid"

    def _gc_dependent(self, key, ns, name):
        rtype = self.registry.get(*key)
        if rtype is None:
            return
        with self.store.lock:
            o = self.store.get(key, ns, name)
            if o is None:
                return
            refs = o["metadata"].get("ownerReferences") or []
            states = [(r, self._owner_state(ns, r)) for r in refs]
        if not states or any(s == "unknown" for _, s in states):
            return
        solid = [r for r, s in states if s == "solid"]
        absent = [r for r, s in states if s == "absent"]
        waiting = [r for r, s in states if s == "waiting"]
        if solid:
            if absent:
                keep = [r for r in refs if r not in absent]
                self.patch(rtype, rtype.storage_version, ns, name,
                           _json({"metadata": {"ownerReferences": keep, "uid": o["metadata"]["uid"]}}),
                           "application/merge-patch+json", self._sys())
            return
        if not absent and not waiting:
            return
        policy = "Foreground" if waiting else "Background"
        try:
            self.delete(rtype, rtype.storage_version, ns, name,
                        {"propagationPolicy": policy, "preconditions": {"uid": o["metadata"]["uid"]}}, self._sys())
        except ApiError:
            pass

    def _gc_orphan(self, key, ns, name):
        rtype = self.registry.get(*key)
        o = self.store.get(key, ns, name)
        if o is None or rtype is None:
            return
        uid = o["metadata"]["uid"]
        for dkey, dns, dname, _ in self._dependents_of(uid):
            drt = self.registry.get(*dkey)
            d = self.store.get(dkey, dns, dname)
            if d is None or drt is None:
                continue
            keep = [r for r in d["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            self.patch(drt, drt.storage_version, dns, dname, _json({"metadata": {"ownerReferences": keep or None}}),
                       "application/merge-patch+json", self._sys())
        self._drop_finalizer(rtype, ns, name, ORPHAN)

    def _gc_foreground(self, key, ns, name):
        rtype = self.registry.get(*key)
        o = self.store.get(key, ns, name)
        if o is None or rtype is None:
            return
        deps = self._dependents_of(o["metadata"]["uid"])
        for dkey, dns, dname, _ in deps:
            self._gc_enqueue(("dependent", dkey, dns, dname))
        blocking = [d for d in deps if d[3].get("blockOwnerDeletion")]
        if not blocking:
            self._drop_finalizer(rtype, ns, name, FOREGROUND)

    def _drop_finalizer(self, rtype, ns, name, finalizer):
        o = self.store.get(rtype.key, ns, name)
        if o is None or finalizer not in (o["metadata"].get("finalizers") or []):
            return
        fins = [f for f in o["metadata"]["finalizers"] if f != finalizer]
        self.patch(rtype, rtype.storage_version, ns, name,
                   _json({"metadata": {"finalizers": fins or None, "resourceVersion": o["metadata"]["resourceVersion"]}}),
                   "application/merge-patch+json", self._sys())

    def _gc_namespace(self, ns):
        nsrt = self.registry.get(*NS_KEY)
        o = self.store.get(NS_KEY, "", ns)
        if o is None or not o["metadata"].get("deletionTimestamp"):
            return
        namespaced = [k for k in self.store.keys() if self.registry.get(*k) is not None and self.registry.get(*k).namespaced]
        for key in namespaced:
            rtype = self.registry.get(*key)
            for obj in self.store.all_of(key):
                if obj["metadata"].get("namespace") == ns and not obj["metadata"].get("deletionTimestamp"):
                    try:
                        self.delete(rtype, rtype.storage_version, ns, obj["metadata"]["name"], {}, self._sys())
                    except ApiError:
                        pass
        if any(o2["metadata"].get("namespace") == ns for key in namespaced for o2 in self.store.all_of(key)):
            return  # the removal of the last one brings us back here
        with self.store.lock:
            cur = self.store.get(NS_KEY, "", ns)
            if cur is None:
                return
            cur.setdefault("spec", {})["finalizers"] = []
            if cur["metadata"].get("finalizers"):
                self.store.commit(NS_KEY, MODIFIED, cur, self.store.peek(NS_KEY, "", ns))
            else:
                self._remove(nsrt, cur)

    def _gc_crd(self, crd_name):
        crdrt = self.registry.get(*CRD_KEY)
        c = self.store.get(CRD_KEY, "", crd_name)
        if c is None or not c["metadata"].get("deletionTimestamp"):
            return
        key = (c["spec"]["group"], c["spec"]["names"]["plural"])
        rtype = self.registry.get(*key)
        remaining = self.store.all_of(key)
        for obj in remaining:
            if rtype is not None and not obj["metadata"].get("deletionTimestamp"):
                try:
                    self.delete(rtype, rtype.storage_version, obj["metadata"].get("namespace") or "",
                                obj["metadata"]["name"], {}, self._sys())
                except ApiError:
                    pass
        if self.store.all_of(key):
            return
        with self.store.lock:
            cur = self.store.get(CRD_KEY, "", crd_name)
            if cur is None:
                return
            fins = [f for f in cur["metadata"].get("finalizers") or [] if f != "customresourcecleanup.apiextensions.k8s.io"]
            if fins:
                cur["metadata"]["finalizers"] = fins
                self.store.commit(CRD_KEY, MODIFIED, cur, self.store.peek(CRD_KEY, "", crd_name))
            else:
                cur["metadata"].pop("finalizers", None)
                self._remove(crdrt, cur)


def _parse_rv(rv):
    try:
        n = int(rv)
        if n < 0:
            raise ValueError
        return n
    except (TypeError, ValueError):
        raise bad_request(f"invalid resource version: {rv}") from None


def _json(o):
    import json
    return json.dumps(o)


def _short_json(o):
    import json
    s = json.dumps(o, separators=(",", ":"))
    return s if len(s) < 200 else s[:200] + "..."
