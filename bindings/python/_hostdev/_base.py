# SPDX-License-Identifier: Apache-2.0
"""Pieces shared by the device classes and enumerators of the idiomatic layer."""

import json
from typing import Any

from . import capi as _c


def _getter(fn, doc, convert=None) -> Any:
    """A read-only property calling fn(self._dev) under the context's lock. Typed Any: the
    classes annotate each attribute with its type (PciDevice.address: str = _getter(...))."""
    def get(self):
        with self._ctx._lock:
            value = fn(self._dev)
        return convert(value) if convert else value
    return property(get, doc=doc)


def _none_if_negative(value):
    return None if value < 0 else value


def _list(count_fn, item_fn):
    """A getter returning the tuple item_fn(dev, 0 .. count_fn(dev) - 1)."""
    def get(dev):
        return tuple(item_fn(dev, i) for i in range(count_fn(dev)))
    return get


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class _Snapshot:
    """A device snapshot owned by a Context; subclasses name their C serialiser in _TO_JSON."""

    __slots__ = ("_ctx", "_dev")
    _TO_JSON = None

    def __init__(self, ctx, dev):
        self._ctx = ctx
        self._dev = dev

    def to_json(self, pretty: bool = False) -> str:
        """Every field in the stable schema of docs/json-schema.md, as a JSON string."""
        with self._ctx._lock:
            text, err = type(self)._TO_JSON(self._dev, _c.HOSTDEV_JSON_PRETTY if pretty else 0)
            self._ctx._check(err)
        return text

    def as_dict(self) -> dict:
        """to_json() parsed."""
        return json.loads(self.to_json())


class _Enumerator:
    """Devices from a C enumerator, iterable again and again: the first pass reads the enumerator
    made (and checked) by the constructor, each later ``for`` or ``list()`` a new one with the same
    filters, so that the host is read again. next() goes on with the current pass. Subclasses set
    _NEXT (hdb_*_enum_next), _ITEM (class) and self._args (the constructor's keyword arguments)."""

    _NEXT = None
    _ITEM = None
    _started = False

    def __iter__(self):
        if not self._started:
            self._started = True
            return self
        return type(self)(self._ctx, **self._args)

    def __next__(self):
        self._started = True
        if self._enum is None:
            raise StopIteration
        with self._ctx._lock:
            dev, r = type(self)._NEXT(self._enum)
            if r == 0:
                self._enum = None
                raise StopIteration
            self._ctx._check(r)
        return type(self)._ITEM(self._ctx, dev)
