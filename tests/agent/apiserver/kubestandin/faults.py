# SPDX-License-Identifier: Apache-2.0
"""Fault injection and observation for the tests: faults that answer the next N matching requests
with a status (429 with Retry-After, 500, 503, ...), reset the connection or delay the answer;
the request log and counters by verb and code."""
import re
import threading
import time

from .errors import ApiError, internal, service_unavailable, too_many_requests


class Fault:
    FIELDS = ("verb", "resource", "group", "subresource", "name", "namespace", "user", "path", "userAgent")

    def __init__(self, fid, spec):
        self.id = fid
        self.match = {k: spec[k] for k in self.FIELDS if spec.get(k) is not None}
        self.action = spec.get("action", "status")
        self.code = int(spec.get("code", 500))
        self.retry_after = int(spec.get("retryAfter", 1))
        self.message = spec.get("message")
        self.delay = float(spec.get("delay", 0))
        self.remaining = spec.get("count", 1)
        self.hits = 0
        self._path = re.compile(self.match["path"]) if "path" in self.match else None

    def matches(self, info):
        for k, v in self.match.items():
            if k == "path":
                if not self._path.search(info.get("path", "")):
                    return False
            elif k == "userAgent":
                if v not in (info.get("userAgent") or ""):
                    return False
            elif k == "verb":
                verbs = v if isinstance(v, list) else [v]
                if info.get("verb") not in verbs:
                    return False
            elif info.get(k) != v:
                return False
        return True

    def error(self):
        if self.code == 429:
            return too_many_requests(self.retry_after, self.message or "Too many requests, please try again later.")
        if self.code == 500:
            return internal(self.message or "injected fault")
        if self.code == 503:
            return service_unavailable(self.message or "the server is currently unable to handle the request")
        if self.code == 504:
            return ApiError(504, "Timeout", self.message or "Timeout: request did not complete within the allowed duration")
        return ApiError(self.code, "InternalError" if self.code >= 500 else "BadRequest", self.message or "injected fault")

    def as_dict(self):
        return {"id": self.id, "match": self.match, "action": self.action, "code": self.code,
                "remaining": self.remaining, "hits": self.hits}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []
        self.next_id = 1

    def add(self, spec):
        with self.lock:
            f = Fault(self.next_id, spec)
            self.next_id += 1
            self.faults.append(f)
            return f.as_dict()

    def clear(self):
        with self.lock:
            self.faults.clear()

    def take(self, info):
        """The first fault matching a request (its count goes down), or None."""
        with self.lock:
            for f in self.faults:
                if f.remaining is not None and f.remaining <= 0:
                    continue
                if f.matches(info):
                    f.hits += 1
                    if f.remaining is not None:
                        f.remaining -= 1
                    return f
        return None

    def list(self):
        with self.lock:
            return [f.as_dict() for f in self.faults]


class RequestLog:
    """Every request with its answer code; tests read it and wait on it."""

    def __init__(self):
        self.cond = threading.Condition()
        self.entries = []
        self.seq = 0

    def append(self, entry):
        with self.cond:
            self.seq += 1
            entry["seq"] = self.seq
            self.entries.append(entry)
            self.cond.notify_all()
            return self.seq

    def query(self, since=0, **flt):
        with self.cond:
            return [e for e in self.entries if e["seq"] > since and _entry_matches(e, flt)]

    def wait(self, since=0, count=1, timeout=60, **flt):
        """Entries after since matching flt, once there are at least count of them (or the deadline)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.entries if e["seq"] > since and _entry_matches(e, flt)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self.cond.wait(left)

    def clear(self):
        with self.cond:
            self.entries.clear()
            return self.seq

    def counters(self, since=0):
        verbs, codes, both = {}, {}, {}
        with self.cond:
            for e in self.entries:
                if e["seq"] <= since:
                    continue
                v = e.get("verb") or "nonresource"
                verbs[v] = verbs.get(v, 0) + 1
                c = str(e.get("code"))
                codes[c] = codes.get(c, 0) + 1
                k = f"{v} {c}"
                both[k] = both.get(k, 0) + 1
        return {"verbs": verbs, "codes": codes, "verbCodes": both}


def _entry_matches(e, flt):
    for k, v in flt.items():
        if v is None:
            continue
        if k == "userAgent":
            if v not in (e.get("userAgent") or ""):
                return False
        elif k == "verb" and isinstance(v, (list, tuple)):
            if e.get("verb") not in v:
                return False
        elif k == "path":
            if not re.search(v, e.get("path", "")):
                return False
        elif e.get(k) != v:
            return False
    return True
