# SPDX-License-Identifier: Apache-2.0
"""Resource types: what the server knows about a kind (group, versions, scope, names,
subresources, schema, printer columns, selectable fields, update rules). Built-in kinds come from
the table in builtin.py, custom kinds from CustomResourceDefinitions (crd.py); the server treats
both alike and asks the type for the rules that differ."""
from . import table as tablemod
from .errors import bad_request
from .table import MISSING, evaluate, parse_jsonpath

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResourceType:
    def __init__(self, group, kind, plural, versions, namespaced, *, storage_version=None, singular=None,
                 short_names=(), categories=(), list_kind=None, status_subresource=False, schemas=None,
                 printer_columns=None, printer=None, selectable_fields=None, field_getters=None,
                 generation=True, create_drops_status=None, allow_unconditional_update=False,
                 allow_create_on_update=False, validator=None, merge_keys=None, is_crd=False,
                 name_rule="subdomain", typed_list_items=None, prepare_create=None, prepare_update=None,
                 verbs=None):
        self.group = group
        self.kind = kind
        self.plural = plural
        self.versions = list(versions)  # served versions, preferred first
        self.storage_version = storage_version or self.versions[0]
        self.namespaced = namespaced
        self.singular = singular or kind.lower()
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.list_kind = list_kind or kind + "List"
        self.status_subresource = status_subresource
        self.schemas = schemas or {}
        self.printer_columns = printer_columns or {}
        self.printer = printer
        self.selectable_fields = selectable_fields or {}
        self.field_getters = field_getters or {}
        self.generation = generation
        self.create_drops_status = status_subresource if create_drops_status is None else create_drops_status
        self.allow_unconditional_update = allow_unconditional_update
        self.allow_create_on_update = allow_create_on_update
        self.validator = validator
        self.merge_keys = merge_keys or {}
        self.is_crd = is_crd
        self.name_rule = name_rule
        # Lists of custom resources carry apiVersion and kind on every item; lists of built-in
        # types do not (the typed encoder drops them), as the real server answers.
        self.typed_list_items = is_crd if typed_list_items is None else typed_list_items
        self.prepare_create = prepare_create
        self.prepare_update = prepare_update
        self.verbs = verbs or ALL_VERBS
        self._compiled_columns = {}
        self._selectable_steps = {v: {f.lstrip("."): parse_jsonpath(f) for f in fs}
                                  for v, fs in self.selectable_fields.items()}

    @property
    def key(self):
        return (self.group, self.plural)

    gr = key

    def api_version(self, version=None):
        v = version or self.storage_version
        return f"{self.group}/{v}" if self.group else v

    def qualified_kind(self):
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def schema(self, version=None):
        return self.schemas.get(version or self.storage_version)

    def serves(self, version):
        return version in self.versions

    # -- field selectors ------------------------------------------------------------------

    def field_value(self, obj, field, version=None):
        meta = obj.get("metadata", {})
        if field == "metadata.name":
            return meta.get("name", "")
        if field == "metadata.namespace":
            return meta.get("namespace", "")
        if field in self.field_getters:
            return self.field_getters[field](obj)
        steps = self._selectable_steps.get(version or self.storage_version, {}).get(field)
        if steps is not None:
            v = evaluate(obj, steps)
            if v is MISSING or v is None:
                return ""
            if isinstance(v, bool):
                return "true" if v else "false"
            return str(v)
        raise bad_request(f"field label not supported: {field}")

    def check_field_selector(self, selector, version=None):
        for f in selector.fields():
            if f in ("metadata.name", "metadata.namespace") or f in self.field_getters:
                continue
            if f in self._selectable_steps.get(version or self.storage_version, {}):
                continue
            raise bad_request(f"field label not supported: {f}")

    def fields_of(self, obj, selector, version=None):
        return {f: self.field_value(obj, f, version) for f in selector.fields()}

    # -- server-side printing -------------------------------------------------------------

    def table_printer(self, version):
        """(column definitions, function obj -> cells) for a version."""
        if self.printer is not None:
            return self.printer()
        cols = self._compiled_columns.get(version)
        if cols is None:
            cols = tablemod.crd_columns(self.printer_columns.get(version))
            self._compiled_columns[version] = cols
        if not cols:
            # Without additionalPrinterColumns a custom resource shows Name and Age.
            return ([tablemod.NAME_COLUMN, tablemod.AGE_COLUMN],
                    lambda o: [o["metadata"].get("name"), tablemod.age(o["metadata"].get("creationTimestamp"))])
        return ([tablemod.NAME_COLUMN] + cols,
                lambda o: [o["metadata"].get("name")] + [tablemod.crd_cell(c, o) for c in cols])

    # -- discovery -------------------------------------------------------------------------

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": self.verbs}]
        if self.short_names:
            out[0]["shortNames"] = self.short_names
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status_subresource:
            out.append({"name": self.plural + "/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return out


class Registry:
    """The types the server serves, by (group, plural); lookups by version, kind and short name."""

    def __init__(self):
        self.types = {}

    def add(self, rtype):
        self.types[rtype.key] = rtype

    def remove(self, key):
        self.types.pop(key, None)

    def get(self, group, plural):
        return self.types.get((group, plural))

    def lookup(self, group, version, plural):
        t = self.types.get((group, plural))
        if t is None or not t.serves(version):
            return None
        return t

    def by_kind(self, group, kind):
        for t in self.types.values():
            if t.group == group and t.kind == kind:
                return t
        return None

    def groups(self):
        """{group: [versions]} with the preferred version first, core group excluded."""
        out = {}
        for t in self.types.values():
            if not t.group:
                continue
            vs = out.setdefault(t.group, [])
            for v in t.versions:
                if v not in vs:
                    vs.append(v)
        for g, vs in out.items():
            vs.sort(key=version_priority)
        return out

    def in_group_version(self, group, version):
        return sorted((t for t in self.types.values() if t.group == group and t.serves(version)),
                      key=lambda t: t.plural)


def version_priority(v):
    """Kubernetes' version ordering: GA > beta > alpha, higher numbers first, others last."""
    import re
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, v)
