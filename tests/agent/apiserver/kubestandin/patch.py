# SPDX-License-Identifier: Apache-2.0
"""The patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and, for built-in types
only, a strategic merge patch subset (maps merge, lists with a declared merge key merge by key,
`$patch: delete|replace|merge`, `$deleteFromPrimitiveList/<field>`; `$setElementOrder` and
`$retainKeys` are accepted and not applied)."""
import copy

from .errors import ApiError, bad_request


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f'json patch: invalid path "{path}": must start with /')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts, path):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _unprocessable(f'json patch: path "{path}" does not exist')
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise _unprocessable(f'json patch: path "{path}" does not exist')
        else:
            raise _unprocessable(f'json patch: path "{path}" does not exist')
    return cur


def _unprocessable(msg):
    return ApiError(422, "Invalid", msg)


def _add(doc, parts, value, path):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise _unprocessable(f'json patch: invalid index in "{path}"')
            if i < 0 or i > len(parent):
                raise _unprocessable(f'json patch: index out of range in "{path}"')
            parent.insert(i, value)
    else:
        raise _unprocessable(f'json patch: path "{path}" does not exist')
    return doc


def _remove(doc, parts, path):
    if not parts:
        raise _unprocessable("json patch: cannot remove the root")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise _unprocessable(f'json patch: path "{path}" does not exist')


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch: the patch must be a JSON array of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"json patch: invalid operation {op!r}")
        kind = op["op"]
        path = op["path"]
        parts = _pointer(path)
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), path)
        elif kind == "remove":
            _remove(doc, parts, path)
        elif kind == "replace":
            _walk(doc, parts, path)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, parts, path)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")), path)
        elif kind in ("move", "copy"):
            src = op.get("from", "")
            value = copy.deepcopy(_walk(doc, _pointer(src), src))
            if kind == "move":
                _remove(doc, _pointer(src), src)
            doc = _add(doc, parts, value, path)
        elif kind == "test":
            if _walk(doc, parts, path) != op.get("value"):
                raise _unprocessable(f'json patch: testing value "{path}" failed: test failed')
        else:
            raise bad_request(f'json patch: unknown operation "{kind}"')
    return doc


def strategic_merge_patch(target, patch, merge_keys, path=""):
    """merge_keys: field path (dotted, list items as the list's path) -> merge key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        p = {k: v for k, v in patch.items() if k != "$patch"}
        return copy.deepcopy(p)
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in (v or [])]
            continue
        sub = f"{path}.{k}" if path else k
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list) and sub in merge_keys:
            result[k] = _merge_list(result.get(k) or [], v, merge_keys[sub], merge_keys, sub)
        else:
            merged = strategic_merge_patch(result.get(k), v, merge_keys, sub)
            if merged is None and isinstance(v, dict) and v.get("$patch") == "delete":
                result.pop(k, None)
            else:
                result[k] = merged
    return result


def _merge_list(current, patch, key, merge_keys, path):
    out = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            if isinstance(item, dict) and item.get("$patch") == "replace":
                return [x for x in patch if not (isinstance(x, dict) and "$patch" in x)]
            raise bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[idx] = strategic_merge_patch(out[idx], item, merge_keys, path)
    return out
