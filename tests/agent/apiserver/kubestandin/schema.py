# SPDX-License-Identifier: Apache-2.0
"""Structural OpenAPI v3 schemas as apiextensions-apiserver applies them to custom resources:
the structural check a CRD's schema must pass, pruning of unknown fields, pruning of nulls that
are neither nullable nor defaulted, defaulting, and validation with field paths worded as the
real server words them.

Modelled: type (object, array, string, integer, number, boolean), properties,
additionalProperties, items, required, enum, pattern, nullable, default, minimum/maximum (and
exclusive), minLength/maxLength, minItems/maxItems, minProperties/maxProperties,
x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string, x-kubernetes-list-type
(set, map with x-kubernetes-list-map-keys). Not modelled: CEL (x-kubernetes-validations),
string formats, allOf/anyOf/oneOf/not (accepted in a CRD, not evaluated), embedded resources.
"""
import copy
import re

from .errors import FieldError

# ObjectMeta's fields: anything else under metadata is pruned, as for every resource.
OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
}

TYPES = ("object", "array", "string", "integer", "number", "boolean")


def join(path, key):
    return key if not path else f"{path}.{key}"


def index(path, i):
    return f"{path}[{i}]"


def json_type_of(v):
    """The JSON type name of a value, as go-openapi reports it."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _preserves(s):
    return bool(s and s.get("x-kubernetes-preserve-unknown-fields"))


def _int_or_string(s):
    return bool(s and s.get("x-kubernetes-int-or-string"))


# ---------------------------------------------------------------------------------------------
# The structural check of a CRD's schema (the subset of apiextensions' rules that matters here)


def structural_errors(schema, path):
    """Errors that make a schema non-structural; path is the schema's field path in the CRD."""
    errs = []
    if not isinstance(schema, dict):
        return [FieldError("Invalid", path, schema, "must be an object")]
    if schema.get("type") != "object":
        errs.append(FieldError("Invalid", join(path, "type"), schema.get("type", ""),
                               "must be object at the root"))
    _structural_node(schema, path, errs, root=True)
    meta = (schema.get("properties") or {}).get("metadata")
    if meta is not None:
        extra = set(meta) - {"type", "properties"}
        extra |= set((meta.get("properties") or {})) - {"name", "generateName"}
        if extra:
            errs.append(FieldError("Forbidden", path + ".properties[metadata]", detail=
                                   "must not specify anything other than name and generateName, "
                                   "but metadata is implicitly specified"))
    return errs


def _structural_node(s, path, errs, root=False):
    if not isinstance(s, dict):
        errs.append(FieldError("Invalid", path, s, "must be a schema object"))
        return
    for forbidden in ("$ref", "patternProperties", "additionalItems", "dependencies", "definitions"):
        if forbidden in s:
            errs.append(FieldError("Forbidden", join(path, forbidden), detail="must not be used"))
    t = s.get("type")
    if t is not None and t not in TYPES:
        errs.append(FieldError("NotSupported", join(path, "type"), t,
                               "supported values: " + ", ".join(f'"{x}"' for x in TYPES)))
    if not t and not root and not _int_or_string(s) and not _preserves(s):
        errs.append(FieldError("Required", join(path, "type"), detail="must not be empty for specified "
                               + ("array items" if path.endswith(".items") else "object fields")))
    if _int_or_string(s) and t:
        errs.append(FieldError("Forbidden", join(path, "type"), detail=
                               "must be empty when x-kubernetes-int-or-string is true"))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(FieldError("Invalid", join(path, "x-kubernetes-preserve-unknown-fields"), False,
                               "must be true or undefined"))
    props = s.get("properties")
    addl = s.get("additionalProperties")
    if props is not None and addl is not None and addl is not False:
        errs.append(FieldError("Forbidden", join(path, "additionalProperties"), detail=
                               "additionalProperties and properties are mutual exclusive"))
    if props is not None:
        if t and t != "object":
            errs.append(FieldError("Forbidden", join(path, "properties"), detail=
                                   "must not be specified for type " + str(t)))
        for k, sub in props.items():
            _structural_node(sub, f"{path}.properties[{k}]", errs)
    if isinstance(addl, dict):
        _structural_node(addl, join(path, "additionalProperties"), errs)
    if t == "array":
        if "items" not in s:
            errs.append(FieldError("Required", join(path, "items"), detail="must be specified"))
        else:
            _structural_node(s["items"], join(path, "items"), errs)
    if "pattern" in s:
        try:
            re.compile(s["pattern"])
        except re.error as e:
            errs.append(FieldError("Invalid", join(path, "pattern"), s["pattern"], str(e)))
    lt = s.get("x-kubernetes-list-type")
    if lt is not None:
        if lt not in ("atomic", "set", "map"):
            errs.append(FieldError("NotSupported", join(path, "x-kubernetes-list-type"), lt,
                                   'supported values: "atomic", "map", "set"'))
        if lt == "map" and not s.get("x-kubernetes-list-map-keys"):
            errs.append(FieldError("Required", join(path, "x-kubernetes-list-map-keys"), detail=
                                   "must not be empty if x-kubernetes-list-type is map"))
    for junctor in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(junctor) or []):
            if isinstance(sub, dict) and "type" in sub:
                errs.append(FieldError("Forbidden", f"{path}.{junctor}[{i}].type", detail=
                                       "must be empty to be structural"))


# ---------------------------------------------------------------------------------------------
# Pruning, null pruning, defaulting


def prune(obj, schema):
    """Drops every field the schema does not specify (in place); returns the dropped paths.
    apiVersion, kind and metadata survive at the root; metadata keeps only ObjectMeta's fields."""
    pruned = []
    if not isinstance(obj, dict):
        return pruned
    props = (schema or {}).get("properties") or {}
    preserve = _preserves(schema)
    for k in list(obj):
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata":
            if isinstance(obj[k], dict):
                for mk in list(obj[k]):
                    if mk not in OBJECT_META_FIELDS:
                        del obj[k][mk]
                        pruned.append("metadata." + mk)
            continue
        if k in props:
            _prune_node(obj[k], props[k], k, pruned)
        elif not preserve:
            del obj[k]
            pruned.append(k)
    return pruned


def _prune_node(v, s, path, pruned):
    if s is None:
        return
    if isinstance(v, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        preserve = _preserves(s)
        for k in list(v):
            if props is not None and k in props:
                _prune_node(v[k], props[k], join(path, k), pruned)
            elif isinstance(addl, dict):
                _prune_node(v[k], addl, join(path, k), pruned)
            elif addl is True or preserve:
                continue
            else:
                del v[k]
                pruned.append(join(path, k))
    elif isinstance(v, list):
        items = s.get("items")
        for i, x in enumerate(v):
            _prune_node(x, items, index(path, i), pruned)


def _field_schema(s, key):
    if not s:
        return None
    props = s.get("properties") or {}
    if key in props:
        return props[key]
    addl = s.get("additionalProperties")
    return addl if isinstance(addl, dict) else None


def prune_nulls(obj, schema):
    """Removes null values of fields that are neither nullable nor defaulted (in place)."""
    if isinstance(obj, dict):
        for k in list(obj):
            sub = _field_schema(schema, k)
            if obj[k] is None and sub is not None and not sub.get("nullable") and "default" not in sub:
                del obj[k]
            else:
                prune_nulls(obj[k], sub)
    elif isinstance(obj, list):
        items = schema.get("items") if schema else None
        for x in obj:
            prune_nulls(x, items)


def apply_defaults(obj, schema):
    """Sets the schema's defaults on missing (or non-nullable null) fields, in place."""
    if not schema:
        return
    if isinstance(obj, dict):
        for k, sub in (schema.get("properties") or {}).items():
            if "default" in sub and (k not in obj or (obj[k] is None and not sub.get("nullable"))):
                obj[k] = copy.deepcopy(sub["default"])
        for k, v in obj.items():
            apply_defaults(v, _field_schema(schema, k))
    elif isinstance(obj, list):
        for x in obj:
            apply_defaults(x, schema.get("items"))


# ---------------------------------------------------------------------------------------------
# Validation


def validate(obj, schema, path=""):
    """Field errors of obj against the schema (root: the whole object, metadata not included)."""
    errs = []
    if schema is None:
        return errs
    if path == "" and isinstance(obj, dict):
        # The root: apiVersion, kind and metadata are checked elsewhere.
        root = dict(obj)
        for k in ("apiVersion", "kind", "metadata"):
            root.pop(k, None)
        s = dict(schema)
        s["required"] = [r for r in schema.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
        props = dict(schema.get("properties") or {})
        for k in ("apiVersion", "kind", "metadata"):
            props.pop(k, None)
        s["properties"] = props
        _validate_node(root, s, "", errs)
    else:
        _validate_node(obj, schema, path, errs)
    return errs


def _type_ok(v, t):
    jt = json_type_of(v)
    if t == "number":
        return jt in ("number", "integer")
    return jt == t


def _validate_node(v, s, path, errs):
    if v is None:
        if s.get("nullable") or (_preserves(s) and not s.get("type")):
            return
        t = s.get("type") or ("string" if _int_or_string(s) else "")
        if t:
            errs.append(FieldError("TypeInvalid", path, "null", f'{path} in body must be of type {t}: "null"'))
        return
    if _int_or_string(s):
        if json_type_of(v) not in ("integer", "string"):
            errs.append(FieldError("TypeInvalid", path, json_type_of(v),
                                   f'{path} in body must be of type integer,string: "{json_type_of(v)}"'))
            return
    t = s.get("type")
    if t and not _type_ok(v, t):
        errs.append(FieldError("TypeInvalid", path, json_type_of(v),
                               f'{path} in body must be of type {t}: "{json_type_of(v)}"'))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append(FieldError("NotSupported", path, v, "supported values: " +
                               ", ".join(_enum_str(e) for e in s["enum"])))
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(FieldError("TooLong", path, v, f"may not be more than {s['maxLength']} bytes"))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(FieldError("Invalid", path, v, f"{path} in body should be at least {s['minLength']} chars long"))
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(FieldError("Invalid", path, v, f"{path} in body should match '{s['pattern']}'"))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "maximum" in s:
            if s.get("exclusiveMaximum") and v >= s["maximum"]:
                errs.append(FieldError("Invalid", path, v, f"{path} in body should be less than {s['maximum']}"))
            elif v > s["maximum"]:
                errs.append(FieldError("Invalid", path, v,
                                       f"{path} in body should be less than or equal to {s['maximum']}"))
        if "minimum" in s:
            if s.get("exclusiveMinimum") and v <= s["minimum"]:
                errs.append(FieldError("Invalid", path, v, f"{path} in body should be greater than {s['minimum']}"))
            elif v < s["minimum"]:
                errs.append(FieldError("Invalid", path, v,
                                       f"{path} in body should be greater than or equal to {s['minimum']}"))
    if isinstance(v, dict):
        for r in s.get("required", []):
            if r not in v:
                errs.append(FieldError("Required", join(path, r)))
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errs.append(FieldError("TooMany", path, len(v), f"must have at most {s['maxProperties']} items"))
        if "minProperties" in s and len(v) < s["minProperties"]:
            errs.append(FieldError("Invalid", path, len(v),
                                   f"{path} in body should have at least {s['minProperties']} properties"))
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, x in v.items():
            if k in props:
                _validate_node(x, props[k], join(path, k), errs)
            elif isinstance(addl, dict):
                _validate_node(x, addl, join(path, k), errs)
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(FieldError("TooMany", path, len(v), f"must have at most {s['maxItems']} items"))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(FieldError("Invalid", path, len(v), f"{path} in body should have at least {s['minItems']} items"))
        items = s.get("items")
        if isinstance(items, dict):
            for i, x in enumerate(v):
                _validate_node(x, items, index(path, i), errs)
        lt = s.get("x-kubernetes-list-type")
        if lt == "set" or s.get("uniqueItems"):
            seen = []
            for i, x in enumerate(v):
                if x in seen:
                    errs.append(FieldError("Duplicate", index(path, i), x))
                seen.append(x)
        elif lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen = []
            for i, x in enumerate(v):
                if not isinstance(x, dict):
                    continue
                kv = tuple(x.get(k) for k in keys)
                if kv in seen:
                    errs.append(FieldError("Duplicate", index(path, i), {k: x.get(k) for k in keys}))
                seen.append(kv)


def _enum_str(e):
    from .errors import go_value
    return go_value(e)
