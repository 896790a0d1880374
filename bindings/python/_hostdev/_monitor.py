# SPDX-License-Identifier: Apache-2.0
"""The hot-plug monitor (include/hostdev/monitor.h) for any event loop, or as a blocking iterator."""

import select
import time

from . import capi as _c
from ._base import _as_list
from ._pci import PciDevice
from ._usb import UsbDevice

_ACTIONS = {_c.HOSTDEV_EVENT_ADD: "add", _c.HOSTDEV_EVENT_REMOVE: "remove",
            _c.HOSTDEV_EVENT_CHANGE: "change", _c.HOSTDEV_EVENT_BIND: "bind",
            _c.HOSTDEV_EVENT_UNBIND: "unbind"}


class Event:
    """One hot-plug event: .action ('add', 'remove', 'change', 'bind', 'unbind'), .subsystem
    ('usb' or 'pci'), .name (kernel name), .interface and .driver (bind/unbind), .seqnum, .replay
    (reported by start(enumerate=True)), .partial (the device was gone before it could be read),
    .device (a UsbDevice or PciDevice snapshot; a remove carries the last known one)."""

    __slots__ = ("action", "subsystem", "name", "interface", "driver", "seqnum", "replay",
                 "partial", "device")

    def __init__(self, ctx, ev):
        self.action = _ACTIONS.get(ev.action(), ev.action_name())
        self.subsystem = ev.subsystem()
        self.name = ev.name()
        self.interface = ev.interface_name()
        self.driver = ev.driver()
        self.seqnum = ev.seqnum()
        self.replay = bool(ev.is_replay())
        self.partial = bool(ev.is_partial())
        usb, pci = ev.usb_device(), ev.pci_device()
        self.device = UsbDevice(ctx, usb) if usb is not None else (
            PciDevice(ctx, pci) if pci is not None else None)

    def __repr__(self):
        return "<hostdev.Event %s %s %s%s>" % (self.action, self.subsystem, self.name,
                                               " (replay)" if self.replay else "")


class Monitor:
    """Hot-plug events for USB and PCI devices (libudev).

    In an event loop: start(), then poll fileno() for input and call process(), which returns the
    new events. Without one: iterate (``for event in monitor``) or call events(timeout=...), which
    wait on the fd themselves. Use it as a context manager or call close().
    """

    def __init__(self, ctx, subsystems=None, ids=None, classes=None):
        self._ctx = ctx
        with ctx._lock:
            mon, err = _c.hdb_monitor_new(ctx._raw())
            ctx._check(err)
            for fn, specs in ((mon.add_match_subsystem, subsystems), (mon.add_match_id, ids),
                              (mon.add_match_class, classes)):
                for spec in _as_list(specs):
                    ctx._check(fn(spec))
        self._mon = mon

    def _raw(self):
        if self._mon is None:
            raise ValueError("operation on a closed hostdev.Monitor")
        return self._mon

    def _drain(self):
        out = []
        while True:
            ev = self._mon.next_event()
            if ev is None:
                return out
            out.append(Event(self._ctx, ev))

    def start(self, enumerate=False, kernel=False, udev=False):
        """Start listening. enumerate=True first reports every matching device present as an
        'add' event with .replay set: they are returned. kernel=/udev= pick the uevent source."""
        flags = ((_c.HOSTDEV_MONITOR_ENUMERATE if enumerate else 0) |
                 (_c.HOSTDEV_MONITOR_SOURCE_KERNEL if kernel else 0) |
                 (_c.HOSTDEV_MONITOR_SOURCE_UDEV if udev else 0))
        with self._ctx._lock:
            self._ctx._check(self._raw().start(flags))
            return self._drain()

    def fileno(self):
        """The fd to poll for input (after start())."""
        with self._ctx._lock:
            return self._ctx._check(self._raw().fd())

    def process(self):
        """Read what is pending without blocking; the events it reports (maybe none)."""
        with self._ctx._lock:
            self._ctx._check(self._raw().process())
            return self._drain()

    def events(self, timeout=None):
        """Yield events as they come; stop after @timeout seconds without one (None: never)."""
        fd = self.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                return
            for event in self.process():
                yield event
                if timeout is not None:
                    deadline = time.monotonic() + timeout

    def __iter__(self):
        return self.events()

    def close(self):
        self._mon = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
