# SPDX-License-Identifier: Apache-2.0
"""/openapi/v3 as far as kubectl needs it: the root index of group-versions and, per
group-version, the paths of each kind (with the PATCH operation's `fieldValidation` parameter and
`x-kubernetes-group-version-kind`, which is how kubectl decides to leave validation to the
server) and the kinds' schemas (for `kubectl explain`). /openapi/v2 is not served."""
import copy
import hashlib
import json


PATCH_TYPES_CR = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
PATCH_TYPES_BUILTIN = PATCH_TYPES_CR + ["application/strategic-merge-patch+json"]


def _gv_key(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rtype, version):
    g = ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    return f"{g}.{version}.{rtype.kind}"


def gv_document(registry, group, version):
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths, schemas = {}, {}
    for t in types:
        gvk = {"group": t.group, "version": version, "kind": t.kind}
        name = _schema_name(t, version)
        ref = {"$ref": f"#/components/schemas/{name}"}
        sch = copy.deepcopy(t.schema(version) or {"type": "object"})
        sch.setdefault("properties", {})
        sch["properties"]["apiVersion"] = {"type": "string"}
        sch["properties"]["kind"] = {"type": "string"}
        sch["properties"]["metadata"] = {"type": "object"}
        sch["x-kubernetes-group-version-kind"] = [gvk]
        schemas[name] = sch
        base = f"/{_gv_key(group, version)}/" + ("namespaces/{namespace}/" if t.namespaced else "")
        params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
        if t.namespaced:
            params.append({"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}})
        write_params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                        for n in ("dryRun", "fieldManager", "fieldValidation")]
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}

        def op(action, extra=None, body_types=None):
            o = {"operationId": f"{action}{t.kind}", "responses": ok, "x-kubernetes-action": action,
                 "x-kubernetes-group-version-kind": gvk}
            if extra:
                o["parameters"] = extra
            if body_types:
                o["requestBody"] = {"content": {ct: {"schema": ref if ct != "application/json-patch+json"
                                                     else {"type": "object"}} for ct in body_types}, "required": True}
            return o

        patch_types = PATCH_TYPES_BUILTIN if not t.is_crd else PATCH_TYPES_CR
        paths[base + t.plural + "/{name}"] = {
            "parameters": params,
            "get": op("get"),
            "put": op("put", write_params, ["application/json", "application/yaml"]),
            "patch": op("patch", write_params + [{"name": "force", "in": "query", "schema": {"type": "boolean"}}],
                        patch_types),
            "delete": op("delete", [{"name": "dryRun", "in": "query", "schema": {"type": "string"}}]),
        }
        paths[base + t.plural] = {
            "parameters": params[1:],
            "get": op("list"),
            "post": op("post", write_params, ["application/json", "application/yaml"]),
        }
        if t.status_subresource:
            paths[base + t.plural + "/{name}/status"] = {
                "parameters": params,
                "get": op("get"),
                "put": op("put", write_params, ["application/json", "application/yaml"]),
                "patch": op("patch", write_params, patch_types),
            }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (hostdev stand-in)", "version": "v1.34.0"},
            "paths": paths, "components": {"schemas": schemas}}


def root_document(registry):
    out = {}
    gvs = {("", "v1")}
    for t in registry.types.values():
        for v in t.versions:
            gvs.add((t.group, v))
    for g, v in sorted(gvs):
        doc = gv_document(registry, g, v)
        if doc is None:
            continue
        h = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()[:128]
        out[_gv_key(g, v)] = {"serverRelativeURL": f"/openapi/v3/{_gv_key(g, v)}?hash={h}"}
    return {"paths": out}
