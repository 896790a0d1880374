# SPDX-License-Identifier: Apache-2.0
"""CustomResourceDefinitions (apiextensions.k8s.io/v1): the checks the real server makes on a CRD
(names, scope, versions, structural schemas, printer columns, selectable fields) and the
ResourceType a CRD defines once it is established."""
from . import schema as schemamod
from .errors import FieldError
from .meta import label_name_errors
from .table import parse_jsonpath
from .types import ResourceType

COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


def validate_crd(crd, old=None):
    """Field errors of a CustomResourceDefinition."""
    errs = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("Required", "spec")]
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    plural = names.get("plural") or ""
    kind = names.get("kind") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if not group:
        errs.append(FieldError("Required", "spec.group"))
    elif "." not in group:
        errs.append(FieldError("Invalid", "spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        errs.append(FieldError("Required", "spec.names.plural"))
    else:
        errs += label_name_errors(plural, "spec.names.plural")
    if names.get("singular"):
        errs += label_name_errors(names["singular"], "spec.names.singular")
    if not kind:
        errs.append(FieldError("Required", "spec.names.kind"))
    if plural and group and name != f"{plural}.{group}":
        errs.append(FieldError("Invalid", "metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        errs.append(FieldError("NotSupported", "spec.scope", scope or "",
                               'supported values: "Cluster", "Namespaced"'))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(FieldError("Invalid", "spec.versions", versions, "must have exactly one version marked as storage version"))
        return errs
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        errs.append(FieldError("Invalid", "spec.versions", [v.get("name") for v in versions if isinstance(v, dict)],
                               "must have exactly one version marked as storage version"))
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        errs.append(FieldError("Invalid", "spec.versions", [v.get("name") for v in versions if isinstance(v, dict)],
                               "must have at least one version marked as served"))
    seen = set()
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            errs.append(FieldError("Invalid", p, v, "must be an object"))
            continue
        vname = v.get("name") or ""
        if not vname:
            errs.append(FieldError("Required", p + ".name"))
        else:
            errs += label_name_errors(vname, p + ".name")
            if vname in seen:
                errs.append(FieldError("Duplicate", p + ".name", vname))
            seen.add(vname)
        sch = (v.get("schema") or {}).get("openAPIV3Schema")
        if sch is None:
            errs.append(FieldError("Required", p + ".schema.openAPIV3Schema", detail="schemas are required"))
        else:
            errs += schemamod.structural_errors(sch, p + ".schema.openAPIV3Schema")
        for j, c in enumerate(v.get("additionalPrinterColumns") or []):
            cp = f"{p}.additionalPrinterColumns[{j}]"
            if not c.get("name"):
                errs.append(FieldError("Required", cp + ".name"))
            if c.get("type") not in COLUMN_TYPES:
                errs.append(FieldError("NotSupported", cp + ".type", c.get("type") or "",
                                       "supported values: " + ", ".join(f'"{t}"' for t in COLUMN_TYPES)))
            if not c.get("jsonPath"):
                errs.append(FieldError("Required", cp + ".jsonPath"))
            else:
                try:
                    parse_jsonpath(c["jsonPath"])
                except ValueError as e:
                    errs.append(FieldError("Invalid", cp + ".jsonPath", c["jsonPath"], str(e)))
        for j, f in enumerate(v.get("selectableFields") or []):
            fp = f"{p}.selectableFields[{j}].jsonPath"
            try:
                parse_jsonpath(f.get("jsonPath", ""))
            except ValueError as e:
                errs.append(FieldError("Invalid", fp, f.get("jsonPath", ""), str(e)))
        sub = v.get("subresources") or {}
        for k in sub:
            if k not in ("status", "scale"):
                errs.append(FieldError("NotSupported", f"{p}.subresources.{k}", k, 'supported values: "scale", "status"'))
    if spec.get("preserveUnknownFields") is True:
        errs.append(FieldError("Invalid", "spec.preserveUnknownFields", True,
                               "must be false in order to use defaults in the schema"))
    if old is not None:
        ospec = old.get("spec") or {}
        if ospec.get("group") != group:
            errs.append(FieldError("Invalid", "spec.group", group, "field is immutable"))
        if ospec.get("scope") != scope:
            errs.append(FieldError("Invalid", "spec.scope", scope, "field is immutable"))
    return errs


def crd_status(crd):
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    from .meta import now_rfc3339
    t = now_rfc3339()
    return {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"},
        ],
        "storedVersions": stored,
    }


def type_from_crd(crd):
    spec = crd["spec"]
    names = spec["names"]
    versions = [v for v in spec["versions"] if v.get("served")]
    from .types import version_priority
    served = sorted((v["name"] for v in versions), key=version_priority)
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return ResourceType(
        spec["group"], names["kind"], names["plural"], served, spec["scope"] == "Namespaced",
        storage_version=storage, singular=names.get("singular"), short_names=names.get("shortNames") or (),
        categories=names.get("categories") or (), list_kind=names.get("listKind"),
        status_subresource=any("status" in (v.get("subresources") or {}) for v in versions),
        schemas={v["name"]: v["schema"]["openAPIV3Schema"] for v in spec["versions"]},
        printer_columns={v["name"]: v.get("additionalPrinterColumns") or [] for v in spec["versions"]},
        selectable_fields={v["name"]: [f["jsonPath"] for f in v.get("selectableFields") or []]
                           for v in spec["versions"]},
        generation=True, is_crd=True)
