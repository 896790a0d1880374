# SPDX-License-Identifier: Apache-2.0
"""metadata.managedFields, kept as the real server keeps them for Update operations (server-side
apply is not modelled): one entry per field manager and subresource, listing the fields
(FieldsV1) that manager last set; a manager that changes a field takes it from the others, and
the entry's time moves only when its fields change. Clients must cope with the field being
present and ignore it when they compare what they wrote with what they read back."""
import copy
import json

from .meta import now_rfc3339

OWNED_META = ("labels", "annotations", "finalizers", "ownerReferences")


def _paths(v, prefix, out):
    if isinstance(v, dict) and v:
        for k, x in v.items():
            _paths(x, prefix + ("f:" + k,), out)
    else:
        out[prefix] = v


def field_paths(obj, subresource):
    """{path tuple: value} of the fields an Update of this subresource sets."""
    out = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata":
            for mk in OWNED_META:
                if mk not in v:
                    continue
                if mk == "finalizers":
                    for f in v[mk] or []:
                        out[("f:metadata", "f:finalizers", "v:" + json.dumps(f))] = True
                elif mk == "ownerReferences":
                    for r in v[mk] or []:
                        key = "k:" + json.dumps({"uid": r.get("uid")}, separators=(",", ":"))
                        _paths({kk: vv for kk, vv in r.items()}, ("f:metadata", "f:ownerReferences", key), out)
                else:
                    _paths(v[mk], ("f:metadata", "f:" + mk), out)
            continue
        if (subresource == "status") != (k == "status"):
            continue
        _paths(v, ("f:" + k,), out)
    return out


def _tree(paths):
    root = {}
    for p in sorted(paths):
        node = root
        for el in p:
            node = node.setdefault(el, {})
    return root


def _untree(tree, prefix=()):
    out = set()
    for k, v in tree.items():
        if k == ".":
            continue
        if v:
            out |= _untree(v, prefix + (k,))
        else:
            out.add(prefix + (k,))
    return out


def record(new, old, manager, subresource=None):
    """Updates new's managedFields for a write by manager (old: the stored object or None)."""
    entries = copy.deepcopy((old or {}).get("metadata", {}).get("managedFields") or [])
    new_fields = field_paths(new, subresource)
    old_fields = field_paths(old, subresource) if old is not None else {}
    changed = {p for p, v in new_fields.items() if p not in old_fields or old_fields[p] != v}
    if old is not None and not changed and set(old_fields) == set(new_fields):
        new["metadata"]["managedFields"] = entries
        return
    all_now = set(field_paths(new, None)) | set(field_paths(new, "status"))
    mine = None
    kept = []
    for e in entries:
        paths = _untree(e.get("fieldsV1") or {}) & all_now
        if e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource") == subresource:
            mine = paths
            continue
        if paths - changed != paths:
            paths -= changed
            e["fieldsV1"] = _tree(paths)
        if paths:
            kept.append(e)
    mine = ((mine or set()) | changed) & all_now
    if mine:
        e = {"manager": manager, "operation": "Update", "apiVersion": new.get("apiVersion", ""),
             "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": _tree(mine)}
        if subresource:
            e["subresource"] = subresource
        kept.append(e)
    new["metadata"]["managedFields"] = kept
