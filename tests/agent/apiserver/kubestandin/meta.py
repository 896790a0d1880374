# SPDX-License-Identifier: Apache-2.0
"""ObjectMeta rules of kube-apiserver (k8s.io/apimachinery/pkg/api/validation and
pkg/util/validation): object names, label keys and values, annotations, owner references and
finalizers, with the real messages."""
import datetime
import random
import re
import uuid

from .errors import FieldError

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(" + QUALIFIED_NAME + r")?"

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                 "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '" + DNS1123_SUBDOMAIN + "')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '" + DNS1123_LABEL + "')")
QUALIFIED_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                      "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                      "used for validation is '" + QUALIFIED_NAME + "')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is '" + LABEL_VALUE + "')")

ANNOTATIONS_MAX_BYTES = 256 * 1024


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid():
    return str(uuid.uuid4())


def fullmatch(rx, s):
    return isinstance(s, str) and re.fullmatch(rx, s) is not None


def subdomain_errors(value, path):
    errs = []
    if len(value) > 253:
        errs.append(FieldError("Invalid", path, value, "must be no more than 253 characters"))
    if not fullmatch(DNS1123_SUBDOMAIN, value):
        errs.append(FieldError("Invalid", path, value, SUBDOMAIN_MSG))
    return errs


def label_name_errors(value, path):
    errs = []
    if len(value) > 63:
        errs.append(FieldError("Invalid", path, value, "must be no more than 63 characters"))
    if not fullmatch(DNS1123_LABEL, value):
        errs.append(FieldError("Invalid", path, value, LABEL_MSG))
    return errs


def qualified_name_errors(value, path):
    """A label key, annotation key or finalizer: [prefix/]name."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append(FieldError("Invalid", path, value, "prefix part must be non-empty"))
        else:
            for e in subdomain_errors(prefix, path):
                e.detail = "prefix part " + e.detail
                e.value = value
                errs.append(e)
    else:
        return [FieldError("Invalid", path, value, "a qualified name must consist of alphanumeric characters, "
                           "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                           "'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" +
                           QUALIFIED_NAME + "') with an optional DNS subdomain prefix and '/' (e.g. "
                           "'example.com/MyName')")]
    if not name:
        errs.append(FieldError("Invalid", path, value, "name part must be non-empty"))
    elif len(name) > 63:
        errs.append(FieldError("Invalid", path, value, "name part must be no more than 63 characters"))
    elif not fullmatch(QUALIFIED_NAME, name):
        errs.append(FieldError("Invalid", path, value, QUALIFIED_NAME_MSG))
    return errs


def label_value_errors(value, path):
    errs = []
    if len(value) > 63:
        errs.append(FieldError("Invalid", path, value, "must be no more than 63 characters"))
    if not fullmatch(LABEL_VALUE, value):
        errs.append(FieldError("Invalid", path, value, LABEL_VALUE_MSG))
    return errs


def _string_map_errors(m, path):
    if m is None:
        return []
    if not isinstance(m, dict):
        return [FieldError("Invalid", path, m, "must be a map of strings")]
    return [FieldError("Invalid", f"{path}[{k}]", v, "must be a string")
            for k, v in m.items() if not isinstance(v, str)]


def validate_object_meta(meta, namespaced, name_rule="subdomain", is_create=True):
    """Field errors of metadata (after the server filled its fields)."""
    errs = []
    if not isinstance(meta, dict):
        return [FieldError("Invalid", "metadata", meta, "must be an object")]
    name = meta.get("name")
    if not name:
        if meta.get("generateName"):
            pass
        else:
            errs.append(FieldError("Required", "metadata.name", detail="name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(FieldError("Invalid", "metadata.name", name, "must be a string"))
    else:
        errs += (label_name_errors if name_rule == "label" else subdomain_errors)(name, "metadata.name")
    if namespaced and not meta.get("namespace"):
        errs.append(FieldError("Required", "metadata.namespace"))
    labels = meta.get("labels")
    errs += _string_map_errors(labels, "metadata.labels")
    if isinstance(labels, dict):
        for k, v in labels.items():
            errs += qualified_name_errors(k, "metadata.labels")
            if isinstance(v, str):
                errs += label_value_errors(v, "metadata.labels")
    ann = meta.get("annotations")
    errs += _string_map_errors(ann, "metadata.annotations")
    if isinstance(ann, dict):
        total = 0
        for k, v in ann.items():
            errs += [FieldError("Invalid", "metadata.annotations", k, e.detail)
                     for e in qualified_name_errors(k.lower(), "metadata.annotations")]
            total += len(k) + len(v if isinstance(v, str) else "")
        if total > ANNOTATIONS_MAX_BYTES:
            errs.append(FieldError("TooLong", "metadata.annotations", detail=
                                   f"must have at most {ANNOTATIONS_MAX_BYTES} bytes"))
    errs += owner_reference_errors(meta.get("ownerReferences"))
    fins = meta.get("finalizers")
    if fins is not None:
        if not isinstance(fins, list) or not all(isinstance(f, str) for f in fins):
            errs.append(FieldError("Invalid", "metadata.finalizers", fins, "must be a list of strings"))
        else:
            for i, f in enumerate(fins):
                errs += qualified_name_errors(f, f"metadata.finalizers[{i}]")
    return errs


def owner_reference_errors(refs):
    errs = []
    if refs is None:
        return errs
    if not isinstance(refs, list):
        return [FieldError("Invalid", "metadata.ownerReferences", refs, "must be a list")]
    controllers = []
    for i, r in enumerate(refs):
        p = "metadata.ownerReferences"
        if not isinstance(r, dict):
            errs.append(FieldError("Invalid", f"{p}[{i}]", r, "must be an object"))
            continue
        api_version = r.get("apiVersion") or ""
        if not api_version or api_version.endswith("/"):
            errs.append(FieldError("Invalid", p + ".apiVersion", api_version, "version must not be empty"))
        if not r.get("kind"):
            errs.append(FieldError("Invalid", p + ".kind", r.get("kind") or "", "kind must not be empty"))
        if not r.get("name"):
            errs.append(FieldError("Invalid", p + ".name", r.get("name") or "", "name must not be empty"))
        if not r.get("uid"):
            errs.append(FieldError("Invalid", p + ".uid", r.get("uid") or "", "uid must not be empty"))
        if r.get("controller") is True:
            controllers.append(f'{r.get("kind")}/{r.get("name")}')
    if len(controllers) > 1:
        errs.append(FieldError("Invalid", "metadata.ownerReferences", refs,
                               "Only one reference can have Controller set to true. Found \"true\" in "
                               "references for " + " and ".join(controllers)))
    return errs


_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def generate_name(prefix):
    """The name the server makes from generateName: the prefix (cut to 58) and 5 random chars."""
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(random.choice(_GENERATE_CHARS) for _ in range(5))
