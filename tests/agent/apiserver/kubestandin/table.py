# SPDX-License-Identifier: Apache-2.0
"""`kubectl get` output: meta.k8s.io Table answers, with the columns of a CRD's
additionalPrinterColumns (a simple JSONPath subset: .a.b, [N], ['key']) or a built-in type's
printer, as the server-side printing of kube-apiserver renders them."""
import datetime
import json
import re

from .errors import bad_request

MISSING = object()

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace. Is required when creating "
               "resources, although some resources may allow a client to request the generation of an "
               "appropriate name automatically. Name is primarily intended for creation idempotence and "
               "configuration definition. Cannot be updated. More info: "
               "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
AGE_COLUMN = {"name": "Age", "type": "date", "format": "", "priority": 0,
              "description": "CreationTimestamp is a timestamp representing the server time when this "
              "object was created."}

_STEP = re.compile(r"\.([A-Za-z0-9_\-$]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def parse_jsonpath(expr):
    """Steps of a simple JSONPath (.a.b[0]['c']); raises ValueError otherwise."""
    s = expr.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    if not s.startswith("."):
        raise ValueError(f"{expr}: must be a simple JSON path starting with '.'")
    steps, pos = [], 0
    while pos < len(s):
        m = _STEP.match(s, pos)
        if not m:
            raise ValueError(f"{expr}: unsupported JSON path syntax at '{s[pos:]}'")
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(int(m.group(2)))
        else:
            steps.append(m.group(3) if m.group(3) is not None else m.group(4))
        pos = m.end()
    return steps


def evaluate(obj, steps):
    cur = obj
    for st in steps:
        if isinstance(st, int):
            if not isinstance(cur, list) or st >= len(cur):
                return MISSING
            cur = cur[st]
        else:
            if not isinstance(cur, dict) or st not in cur:
                return MISSING
            cur = cur[st]
    return cur


def human_duration(seconds):
    """kubectl's short ages (duration.HumanDuration)."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def age(ts):
    if not ts:
        return "<unknown>"
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def _go_print(v):
    """What kubectl's JSONPath printer prints for a value of a string column."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return json.dumps(v, separators=(",", ":"))


def crd_cell(column, obj):
    v = evaluate(obj, column["_steps"])
    if v is MISSING or v is None:
        return None
    t = column["type"]
    if t == "string":
        return _go_print(v)
    if t == "integer":
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if t == "number":
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if t == "boolean":
        return v if isinstance(v, bool) else None
    if t == "date":
        return age(v) if isinstance(v, str) else None
    return None


def crd_columns(printer_columns):
    """Column definitions and compiled paths of a CRD version's additionalPrinterColumns."""
    cols = []
    for c in printer_columns or []:
        cc = {"name": c["name"], "type": c["type"], "format": c.get("format", ""),
              "description": c.get("description", ""), "priority": c.get("priority", 0),
              "_steps": parse_jsonpath(c["jsonPath"])}
        cols.append(cc)
    return cols


def partial_metadata(obj, api_version):
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": obj.get("metadata", {})}


def make_table(rtype, version, objs, list_meta, include_object, table_version):
    """A Table of objs (already in the requested version)."""
    api_version = "meta.k8s.io/" + table_version
    columns, cells_of = rtype.table_printer(version)
    rows = []
    for o in objs:
        row = {"cells": cells_of(o)}
        if include_object == "Object":
            row["object"] = o
        elif include_object == "Metadata":
            row["object"] = partial_metadata(o, api_version)
        rows.append(row)
    return {"kind": "Table", "apiVersion": api_version, "metadata": list_meta,
            "columnDefinitions": [{k: v for k, v in c.items() if not k.startswith("_")} for c in columns],
            "rows": rows}


def check_include_object(value):
    if value in (None, ""):
        return "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise bad_request(f'includeObject: Unsupported value: "{value}": supported values: "Metadata", '
                          '"None", "Object"')
    return value
