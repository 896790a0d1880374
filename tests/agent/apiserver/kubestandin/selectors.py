# SPDX-License-Identifier: Apache-2.0
"""Label selectors (k8s.io/apimachinery/pkg/labels: =, ==, !=, in, notin, exists, !exists, gt, lt)
and field selectors (pkg/fields: =, ==, != joined by commas), parsed as strictly as the real
server parses them; a bad selector is a 400 BadRequest."""
from .errors import bad_request
from .meta import label_value_errors, qualified_name_errors


class LabelRequirement:
    def __init__(self, key, op, values):
        self.key, self.op, self.values = key, op, values

    def matches(self, labels):
        has = self.key in labels
        v = labels.get(self.key)
        if self.op in ("=", "==", "in"):
            return has and v in self.values
        if self.op in ("!=", "notin"):
            return not has or v not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in (">", "<"):
            if not has:
                return False
            try:
                lv = int(v)
            except ValueError:
                return False
            return lv > self.values[0] if self.op == ">" else lv < self.values[0]
        return False


class LabelSelector:
    def __init__(self, requirements):
        self.requirements = requirements

    def matches(self, labels):
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self):
        return not self.requirements


def _tokenize(s):
    toks = []
    i = 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            toks.append(c)
            i += 1
        elif s.startswith("==", i) or s.startswith("!=", i):
            toks.append(s[i:i + 2])
            i += 2
        elif c in "=!<>":
            toks.append(c)
            i += 1
        else:
            j = i
            while j < len(s) and not s[j].isspace() and s[j] not in "(),=!<>":
                j += 1
            toks.append(s[i:j])
            i = j
    return toks


def parse_label_selector(s):
    if s is None or s.strip() == "":
        return LabelSelector([])
    toks = _tokenize(s)
    pos = 0
    reqs = []

    def err(msg):
        return bad_request(f"unable to parse requirement: {msg}")

    def ident(tok):
        return tok is not None and tok not in ("(", ")", ",", "=", "==", "!=", "!", "<", ">")

    while pos < len(toks):
        neg = False
        if toks[pos] == "!":
            neg = True
            pos += 1
        if pos >= len(toks) or not ident(toks[pos]):
            found = toks[pos] if pos < len(toks) else "EOS"
            raise bad_request(f"found '{found}', expected: !, identifier, or 'end of string'")
        key = toks[pos]
        pos += 1
        for e in qualified_name_errors(key, "key"):
            raise err(f"<nil>: Invalid value: \"{key}\": {e.detail}")
        nxt = toks[pos] if pos < len(toks) else None
        if neg:
            if nxt not in (None, ","):
                raise bad_request(f"found '{nxt}', expected: ',' or 'end of string'")
            reqs.append(LabelRequirement(key, "!", []))
        elif nxt in (None, ","):
            reqs.append(LabelRequirement(key, "exists", []))
        elif nxt in ("=", "==", "!="):
            pos += 1
            val = toks[pos] if pos < len(toks) and ident(toks[pos]) else ""
            if val:
                pos += 1
            for e in label_value_errors(val, "values"):
                raise err(f"values[0][{key}]: Invalid value: \"{val}\": {e.detail}")
            reqs.append(LabelRequirement(key, nxt, [val]))
        elif nxt in ("in", "notin"):
            pos += 1
            if pos >= len(toks) or toks[pos] != "(":
                raise bad_request(f"found '{toks[pos] if pos < len(toks) else 'EOS'}', expected: '('")
            pos += 1
            vals = []
            while True:
                if pos >= len(toks):
                    raise bad_request("found 'EOS', expected: ')'")
                if toks[pos] == ")":
                    pos += 1
                    break
                if toks[pos] == ",":
                    pos += 1
                    continue
                vals.append(toks[pos])
                pos += 1
            if not vals:
                raise err("values: Invalid value: \"\": for 'in', 'notin' operators, values set can't be empty")
            for i, v in enumerate(vals):
                for e in label_value_errors(v, "values"):
                    raise err(f"values[{i}][{key}]: Invalid value: \"{v}\": {e.detail}")
            reqs.append(LabelRequirement(key, nxt, vals))
        elif nxt in (">", "<"):
            pos += 1
            val = toks[pos] if pos < len(toks) else ""
            pos += 1
            try:
                n = int(val)
            except ValueError:
                raise err(f"values[0]: Invalid value: \"{val}\": for 'Gt', 'Lt' operators, the value must be an integer")
            reqs.append(LabelRequirement(key, nxt, [n]))
        else:
            raise bad_request(f"found '{nxt}', expected: in, notin, =, ==, !=, gt, lt")
        if pos < len(toks):
            if toks[pos] != ",":
                raise bad_request(f"found '{toks[pos]}', expected: ',' or 'end of string'")
            pos += 1
            if pos >= len(toks):
                raise bad_request("found 'EOS', expected: !, identifier, or 'end of string'")
    return LabelSelector(reqs)


class FieldRequirement:
    def __init__(self, field, op, value):
        self.field, self.op, self.value = field, op, value

    def matches(self, fields):
        v = fields.get(self.field)
        if self.op in ("=", "=="):
            return v == self.value
        return v != self.value


class FieldSelector:
    def __init__(self, requirements):
        self.requirements = requirements

    def matches(self, fields):
        return all(r.matches(fields) for r in self.requirements)

    def empty(self):
        return not self.requirements

    def fields(self):
        return [r.field for r in self.requirements]


def _split_unescaped(s, sep):
    parts, cur, i = [], "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            cur += s[i:i + 2]
            i += 2
            continue
        if s[i] == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += s[i]
        i += 1
    parts.append(cur)
    return parts


def _unescape(s):
    out, i = "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out += s[i + 1]
            i += 2
        else:
            out += s[i]
            i += 1
    return out


def parse_field_selector(s):
    if s is None or s.strip() == "":
        return FieldSelector([])
    reqs = []
    for term in _split_unescaped(s, ","):
        if term == "":
            continue
        for op in ("!=", "==", "="):
            idx = term.find(op)
            if idx > 0:
                reqs.append(FieldRequirement(term[:idx].strip(), op, _unescape(term[idx + len(op):])))
                break
        else:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{term}'")
    return FieldSelector(reqs)
