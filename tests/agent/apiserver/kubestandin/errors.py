# SPDX-License-Identifier: Apache-2.0
"""metav1.Status bodies and the API errors that carry them, worded as kube-apiserver words them
(k8s.io/apimachinery/pkg/api/errors), so that clients which match on reason, code or message see
what they would see from the real server."""


def status_failure(code, reason, message, details=None, metadata=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def status_success(details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        body["details"] = details
    return body


def quote(s):
    """Go's %q for the strings that occur in API messages."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


class ApiError(Exception):
    """An error answer: HTTP code, Status reason, message, optional details and extra headers."""

    def __init__(self, code, reason, message, details=None, headers=None, metadata=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.metadata = metadata

    def status(self):
        return status_failure(self.code, self.reason, self.message, self.details, self.metadata)


def _gr_details(gr, name=None):
    """details {name, group, kind} as the real server fills them: kind is the resource (plural)."""
    group, resource = gr
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = resource
    return d


def gr_string(gr):
    group, resource = gr
    return resource + "." + group if group else resource


def not_found(gr, name):
    return ApiError(404, "NotFound", f"{gr_string(gr)} {quote(name)} not found", _gr_details(gr, name))


def already_exists(gr, name):
    return ApiError(409, "AlreadyExists", f"{gr_string(gr)} {quote(name)} already exists",
                    _gr_details(gr, name))


CONFLICT_MODIFIED = ("the object has been modified; please apply your changes to the latest version "
                     "and try again")


def conflict(gr, name, why=CONFLICT_MODIFIED):
    return ApiError(409, "Conflict", f"Operation cannot be fulfilled on {gr_string(gr)} {quote(name)}: {why}",
                    _gr_details(gr, name))


def invalid(kind, group, name, field_errors):
    """422 Invalid: `Kind.group "name" is invalid: <errors>` with one cause per field error."""
    qualified = kind + "." + group if group else kind
    msgs = [str(e) for e in field_errors]
    joined = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    details = {"name": name or "", "kind": kind,
               "causes": [{"reason": e.cause_reason(), "message": e.cause_message(), "field": e.field}
                          for e in field_errors]}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", f"{qualified} {quote(name or '')} is invalid: {joined}", details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user, verb, gr, name=None, namespace=None, subresource=None, why=""):
    group, resource = gr
    res = resource + ("/" + subresource if subresource else "")
    scope = f'in the namespace {quote(namespace)}' if namespace else "at the cluster scope"
    what = gr_string(gr) + (" " + quote(name) if name else "")
    msg = (f'{what} is forbidden: User {quote(user)} cannot {verb} resource {quote(res)} '
           f'in API group {quote(group)} {scope}')
    if why:
        msg += ": " + why
    return ApiError(403, "Forbidden", msg, _gr_details(gr, name))


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def unsupported_media_type(content_type, accepted):
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{', '.join(accepted)}", {"causes": [{"reason": "UnexpectedServerResponse",
                                                          "message": content_type or ""}]})


def not_acceptable(accepted):
    return ApiError(406, "NotAcceptable",
                    f"only the following media types are accepted: {', '.join(accepted)}")


def expired(message, metadata=None):
    return ApiError(410, "Expired", message, metadata=metadata)


def too_many_requests(retry_after, message="Too many requests, please try again later."):
    return ApiError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after},
                    headers={"Retry-After": str(retry_after)})


def internal(message):
    return ApiError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def service_unavailable(message="the server is currently unable to handle the request"):
    return ApiError(503, "ServiceUnavailable", message)


def too_large_resource_version(requested, current):
    return ApiError(504, "Timeout", f"Too large resource version: {requested}, current: {current}",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1}, headers={"Retry-After": "1"})


class FieldError:
    """One field error, printed as k8s.io/apimachinery/pkg/util/validation/field prints it."""

    KINDS = {
        "Invalid": ("FieldValueInvalid", "Invalid value"),
        "Required": ("FieldValueRequired", "Required value"),
        "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
        "Forbidden": ("FieldValueForbidden", "Forbidden"),
        "TooLong": ("FieldValueTooLong", "Too long"),
        "TooMany": ("FieldValueTooMany", "Too many"),
        "Duplicate": ("FieldValueDuplicate", "Duplicate value"),
        "TypeInvalid": ("FieldValueTypeInvalid", "Invalid value"),
    }
    _NO_VALUE = object()

    def __init__(self, kind, field, value=_NO_VALUE, detail=""):
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail

    def cause_reason(self):
        return self.KINDS[self.kind][0]

    def _value_str(self):
        return go_value(self.value)

    def cause_message(self):
        label = self.KINDS[self.kind][1]
        if self.kind in ("Required", "Forbidden", "TooLong"):
            s = label
        elif self.kind == "TooMany":
            s = label + ": " + self._value_str() if self.value is not self._NO_VALUE else label
        else:
            s = label + ": " + self._value_str() if self.value is not self._NO_VALUE else label
        if self.detail:
            s += ": " + self.detail
        return s

    def __str__(self):
        return f"{self.field}: {self.cause_message()}"

    def __repr__(self):
        return f"FieldError({self})"


class Raw(str):
    """A value printed as is (the real server prints some values with Go's %#v, e.g. 0x0)."""


def go_value(v):
    """A value as field errors print it: strings quoted, scalars plain, others in JSON."""
    import json
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, str):
        return quote(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, separators=(",", ":"), sort_keys=True)
