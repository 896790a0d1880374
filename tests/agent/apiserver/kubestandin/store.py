# SPDX-License-Identifier: Apache-2.0
"""Objects, the global resourceVersion counter, the event history and the watchers.

resourceVersion is one counter for every kind (as etcd's revision); each write takes the next
value. The history keeps every event since `history_start`: a watch or a paged/exact list at a
resourceVersion older than that is answered 410 Gone, as after an etcd compaction (compact(),
history_limit, restart). Watchers get their events queued under the store lock at commit time,
so a watch started from resourceVersion N sees exactly the events after N, none twice."""
import base64
import copy
import json
import queue
import threading

from .errors import bad_request, expired, too_large_resource_version

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class Event:
    __slots__ = ("rv", "key", "type", "obj", "prev")

    def __init__(self, rv, key, etype, obj, prev):
        self.rv, self.key, self.type, self.obj, self.prev = rv, key, etype, obj, prev


def obj_key(obj):
    m = obj["metadata"]
    return (m.get("namespace") or "", m["name"])


class Watcher:
    """One watch stream's queue and filter. The HTTP side takes events with next_event()."""

    def __init__(self, store, rtype, namespace, predicate, queue_limit):
        self.store = store
        self.rtype = rtype
        self.key = rtype.key
        self.namespace = namespace
        self.predicate = predicate
        self.queue = queue.Queue()
        self.queue_limit = queue_limit
        self.closed = threading.Event()
        self.close_reason = None
        self.last_rv = 0

    def _matches(self, obj):
        if obj is None:
            return False
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.predicate(obj)

    def offer(self, ev):
        """Called under the store lock: queue what this watcher sees of ev."""
        if ev.key != self.key or self.closed.is_set():
            return
        cur = self._matches(ev.obj) if ev.type != DELETED else False
        old = self._matches(ev.prev) if ev.type != ADDED else False
        if ev.type == DELETED:
            old = self._matches(ev.prev if ev.prev is not None else ev.obj)
        if cur and old:
            t = MODIFIED
        elif cur:
            t = ADDED
        elif old:
            t = DELETED
        else:
            return
        if self.queue.qsize() >= self.queue_limit:
            # A watcher that cannot keep up is terminated, as the watch cache does.
            self.close("slow watcher")
            return
        self.queue.put((t, ev.obj, ev.rv))

    def close(self, reason):
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()
            self.queue.put(None)


class Store:
    def __init__(self, history_limit=None, watcher_queue_limit=100000):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 1
        self.objects = {}
        self.history = []
        self.history_start = 1
        self.history_limit = history_limit
        self.watchers = set()
        self.watcher_queue_limit = watcher_queue_limit
        self.uids = {}
        self.owned = {}  # owner uid -> {(key, ns, name)}: the garbage collector's graph

    # -- reads ---------------------------------------------------------------------------

    def current_rv(self):
        with self.lock:
            return self.rv

    def get(self, key, ns, name):
        with self.lock:
            o = self.objects.get(key, {}).get((ns or "", name))
            return copy.deepcopy(o) if o is not None else None

    def peek(self, key, ns, name):
        """The stored object itself (no copy): read-only, under the lock."""
        return self.objects.get(key, {}).get((ns or "", name))

    def by_uid(self, uid):
        with self.lock:
            ref = self.uids.get(uid)
            if ref is None:
                return None
            key, ns, name = ref
            return key, self.objects.get(key, {}).get((ns, name))

    def dependents(self, uid):
        """(key, ns, name) of the objects with an owner reference to uid."""
        with self.lock:
            return sorted(self.owned.get(uid, ()))

    def all_of(self, key):
        with self.lock:
            return [copy.deepcopy(o) for _, o in sorted(self.objects.get(key, {}).items())]

    def keys(self):
        with self.lock:
            return list(self.objects)

    # -- writes --------------------------------------------------------------------------

    def commit(self, key, etype, obj, prev):
        """Stores a write and tells the watchers; sets and returns the new resourceVersion.
        obj is the new state (for DELETED: the object as deleted)."""
        with self.lock:
            self.rv += 1
            rv = self.rv
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(rv)
            bucket = self.objects.setdefault(key, {})
            k = obj_key(obj)
            uid = obj["metadata"].get("uid")
            ref = (key, k[0], k[1])
            old = bucket.get(k)
            for r in (old or {}).get("metadata", {}).get("ownerReferences") or []:
                self.owned.get(r.get("uid"), set()).discard(ref)
            if etype == DELETED:
                bucket.pop(k, None)
                self.uids.pop(uid, None)
            else:
                bucket[k] = obj
                if uid:
                    self.uids[uid] = ref
                for r in obj["metadata"].get("ownerReferences") or []:
                    self.owned.setdefault(r.get("uid"), set()).add(ref)
            ev = Event(rv, key, etype, obj, prev)
            self.history.append(ev)
            if self.history_limit is not None and len(self.history) > self.history_limit:
                drop = len(self.history) - self.history_limit
                self.history_start = self.history[drop - 1].rv
                del self.history[:drop]
            for w in list(self.watchers):
                w.offer(ev)
            self.changed.notify_all()
            return copy.deepcopy(obj)

    def compact(self):
        """Forgets the history: every resourceVersion before now is too old to watch or page."""
        with self.lock:
            self.history.clear()
            self.history_start = self.rv
            return self.rv

    def reset(self, keep_rv=True):
        with self.lock:
            self.objects.clear()
            self.uids.clear()
            self.owned.clear()
            self.history.clear()
            if not keep_rv:
                self.rv = 1
            self.history_start = self.rv

    # -- lists ---------------------------------------------------------------------------

    def snapshot(self, key, at_rv=None):
        """{(ns, name): obj} of a kind now or at an older resourceVersion still in the history."""
        with self.lock:
            cur = dict(self.objects.get(key, {}))
            if at_rv is None or at_rv >= self.rv:
                return cur
            if at_rv < self.history_start:
                return None
            for ev in reversed(self.history):
                if ev.rv <= at_rv:
                    break
                if ev.key != key:
                    continue
                k = obj_key(ev.obj)
                if ev.type == ADDED:
                    cur.pop(k, None)
                else:
                    cur[k] = ev.prev
            return cur

    # -- watches -------------------------------------------------------------------------

    def watch(self, rtype, namespace, predicate, from_rv=None, initial=False):
        """A registered Watcher. from_rv: resume after that resourceVersion (410 Gone if it is
        older than the history); initial: first synthetic ADDED events of the current state."""
        with self.lock:
            if from_rv is not None and from_rv > self.rv:
                raise too_large_resource_version(from_rv, self.rv)
            if from_rv is not None and from_rv < self.history_start:
                raise expired(f"too old resource version: {from_rv} ({self.history_start})")
            w = Watcher(self, rtype, namespace, predicate, self.watcher_queue_limit)
            if initial:
                for _, o in sorted(self.objects.get(rtype.key, {}).items()):
                    if w._matches(o):
                        w.queue.put((ADDED, o, int(o["metadata"]["resourceVersion"])))
            elif from_rv is not None:
                for ev in self.history:
                    if ev.rv > from_rv:
                        w.offer(ev)
            w.last_rv = self.rv if from_rv is None else from_rv
            self.watchers.add(w)
            return w

    def unwatch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def bookmark_rv(self, w):
        """The resourceVersion a bookmark may carry now, or None while events are pending."""
        with self.lock:
            if not w.queue.empty():
                return None
            return self.rv

    def drop_watchers(self, key=None, reason="dropped"):
        with self.lock:
            ws = [w for w in self.watchers if key is None or w.key == key]
            for w in ws:
                w.close(reason)
                self.watchers.discard(w)
            return len(ws)


# -- continue tokens ------------------------------------------------------------------------


def encode_continue(rv, last_key):
    ns, name = last_key
    start = (f"{ns}/{name}" if ns else name) + "\x00"
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token, namespaced):
    try:
        pad = "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(token + pad))
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("rv"), int):
            raise ValueError("version")
        start = data["start"]
        if not isinstance(start, str) or not start.endswith("\x00"):
            raise ValueError("start")
        start = start[:-1]
        if "/" in start:
            ns, name = start.split("/", 1)
        else:
            ns, name = "", start
        return data["rv"], (ns, name)
    except Exception:
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version "
                          "meta.k8s.io/v1)")
