# SPDX-License-Identifier: Apache-2.0
"""The library context (hostdev/context.h) and the operations that hang off it."""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import threading
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple,
                    Union)

from . import capi as _c
from ._deviceplugin import DevicePluginConfig, Resources, _call
from ._errors import error_for
from ._mdev import read_list, read_types
from ._monitor import Monitor
from ._pci import PciDevice, PciDevices
from ._sriov import AUTOPROBE, read_pf
from ._usb import UsbDevice, UsbDevices
from ._vfio import (BindOutcome, Journal, PersistEntry, Report, RestoreOutcome, bind_outcomes,
                    persist_entries, restore_outcomes)
from ._vgpu import Vgpu
from ._vgpu import read_list as read_vgpus

if TYPE_CHECKING:
    from ._mdev import Mdev, MdevTypeInfo
    from ._sriov import SriovPf

#: A path argument: a str or an os.PathLike.
StrPath = Union[str, "os.PathLike[str]"]
#: A filter argument: one string or several (any of them matches).
FilterSpec = Union[str, Iterable[str], None]
#: A log callback: fn(priority, message).
LogFn = Callable[[int, str], object]

# Context path names -> enum hostdev_path.
PATHS = {
    "sysfs": _c.HOSTDEV_PATH_SYSFS,
    "dev": _c.HOSTDEV_PATH_DEV,
    "proc": _c.HOSTDEV_PATH_PROC,
    "state": _c.HOSTDEV_PATH_STATE,
    "config": _c.HOSTDEV_PATH_CONFIG,
    "kubelet": _c.HOSTDEV_PATH_KUBELET,
    "pci_ids": _c.HOSTDEV_PATH_PCI_IDS,
    "usb_ids": _c.HOSTDEV_PATH_USB_IDS,
    "modules": _c.HOSTDEV_PATH_MODULES,
}


def _strv(items):
    v = _c.hdb_strv()
    for item in items:
        if not isinstance(item, str):
            raise TypeError("expected an address string, got %r" % (item,))
        if v.append(item) < 0:
            raise MemoryError()
    return v


def _addresses(addresses):
    """bind("a", "b"), bind(["a", "b"]) and bind(device) all work."""
    out = []
    for a in addresses:
        if isinstance(a, (list, tuple, set, frozenset)):
            out.extend(_addresses(a))
        elif isinstance(a, PciDevice):
            out.append(a.address)
        else:
            out.append(a)
    return out


def _name(value, attr, what):
    """A string argument, or the @attr of an object (PciDevice.address, MdevTypeInfo.id...)."""
    if isinstance(value, str):
        return value
    named = getattr(value, attr, None)
    if isinstance(named, str):
        return named
    raise TypeError("expected %s (a string or an object with .%s), got %r" % (what, attr, value))


def _ms(seconds, ms, name):
    """A timeout in seconds (Python's unit; None: @ms, the older millisecond keyword) as the
    library's milliseconds; 0 means the library's default."""
    if seconds is None:
        return int(ms)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError("%s must be a number of seconds >= 0 (0: the default), not %r"
                         % (name, seconds))
    return max(1, round(seconds * 1000)) if seconds else 0


class Context:
    """A libhostdev context: every root path, the node name, the log callback, the last error.

    ``Context()`` reads the real system; ``Context(root="/fake")`` points sysfs, dev, proc, state,
    config and kubelet below a fake root (hostdev_ctx_set_root); keyword arguments set single paths
    (sysfs=, dev=, proc=, state=, config=, kubelet=, pci_ids=, usb_ids=, modules=).
    ``log=callable(priority, message)`` receives the library's messages up to ``log_priority``
    (syslog numbers, default 4 = warning).

    Use it as a context manager, or call close(). Calls on one Context are serialised by a lock, so
    a Context may be shared between threads (the C context may not; the lock takes care of it).
    The GIL is released while the library works.
    """

    def __init__(self, root: Optional[StrPath] = None, *, node_name: Optional[str] = None,
                 log: Optional[LogFn] = None, log_priority: Optional[int] = None,
                 **paths: StrPath) -> None:
        self._lock = threading.RLock()
        self._log = None
        ctx, err = _c.hdb_ctx_new()
        if err < 0:
            raise error_for(err, "cannot create a libhostdev context")
        self._ctx = ctx
        try:
            if root is not None:
                self._check(_c.hostdev_ctx_set_root(ctx, str(root)))
            for name, value in paths.items():
                self.set_path(name, value)
            if node_name is not None:
                self.node_name = node_name
            if log_priority is not None:
                self.log_priority = log_priority
            if log is not None:
                self.set_log(log)
        except BaseException:
            self.close()
            raise

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the context. Devices already handed out stay usable (they hold a reference)."""
        with self._lock:
            ctx, self._ctx = getattr(self, "_ctx", None), None
            if ctx is not None and self._log is not None:
                _c.hdb_ctx_set_log_python(ctx, None)
            self._log = None
            # Dropping the proxy unrefs the C context (the SWIG destructor).
            del ctx

    @property
    def closed(self) -> bool:
        return self._ctx is None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            self.close()

    def __repr__(self):
        if self.closed:
            return "<hostdev.Context closed>"
        return "<hostdev.Context sysfs=%s>" % self.get_path("sysfs")

    # -- helpers for the other modules --------------------------------------------------------

    def _raw(self):
        ctx = self._ctx
        if ctx is None:
            raise ValueError("operation on a closed hostdev.Context")
        return ctx

    def _check(self, r):
        """Raise the exception for a negative result @r, with the context's message."""
        if r < 0:
            raise error_for(r, _c.hdb_ctx_get_error(self._ctx) if self._ctx is not None else None)
        return r

    def _call(self, fn, *args):
        with self._lock:
            return self._check(fn(self._raw(), *args))

    def _call_obj(self, fn, *args):
        with self._lock:
            obj, r = fn(self._raw(), *args)
            self._check(r)
            return obj

    # -- configuration -----------------------------------------------------------------------

    def set_path(self, name: str, value: StrPath) -> None:
        """Set one path by name (see PATHS): 'sysfs', 'dev', 'proc', 'state', 'config', 'kubelet',
        'pci_ids', 'usb_ids', 'modules'."""
        if name not in PATHS:
            raise TypeError("unknown path %r (one of %s)" % (name, ", ".join(sorted(PATHS))))
        self._call(_c.hostdev_ctx_set_path, PATHS[name], str(value))

    def get_path(self, name: str) -> str:
        """The current value of one path."""
        with self._lock:
            return _c.hostdev_ctx_get_path(self._raw(), PATHS[name])

    @property
    def paths(self) -> Dict[str, str]:
        """Every path, as a dict."""
        return {name: self.get_path(name) for name in PATHS}

    def set_root(self, root: StrPath) -> None:
        """Point sysfs, dev, proc, state, config and kubelet below @root."""
        self._call(_c.hostdev_ctx_set_root, str(root))

    @property
    def node_name(self) -> str:
        """The Kubernetes node name used in Harvester object names."""
        with self._lock:
            return _c.hostdev_ctx_get_node_name(self._raw())

    @node_name.setter
    def node_name(self, name: str) -> None:
        self._call(_c.hostdev_ctx_set_node_name, name)

    @property
    def log_priority(self) -> int:
        with self._lock:
            return _c.hostdev_ctx_get_log_priority(self._raw())

    @log_priority.setter
    def log_priority(self, priority: int) -> None:
        with self._lock:
            _c.hostdev_ctx_set_log_priority(self._raw(), int(priority))

    def set_log(self, fn: Optional[LogFn]) -> None:
        """Install fn(priority, message) as log callback (None removes it). It runs in the thread
        that made the call; an exception it raises is reported through sys.unraisablehook."""
        with self._lock:
            ctx = self._raw()
            _c.hdb_ctx_set_log_python(ctx, fn)
            self._log = fn  # keeps it alive: the C side holds a borrowed pointer

    @property
    def error(self) -> str:
        """The message of the last failed call ('' if none)."""
        with self._lock:
            return _c.hdb_ctx_get_error(self._raw())

    # -- PCI ---------------------------------------------------------------------------------

    def pci_devices(self, *, slot: FilterSpec = None, ids: FilterSpec = None,
                    driver: FilterSpec = None, class_: FilterSpec = None) -> PciDevices:
        """Iterate over PCI devices in address order, with pciutils-style filters; each may be a
        string or a list (several of one kind match when any does; different kinds must all
        match): slot='3b:' (lspci -s), ids='8086:' (lspci -d), driver='vfio-pci' or 'none',
        class_='0200' (class prefix in hex)."""
        return PciDevices(self, slot=slot, ids=ids, driver=driver, class_=class_)

    def pci_device(self, address: str) -> PciDevice:
        """The device at @address; hostdev.NotFound when there is none."""
        return PciDevice(self, self._call_obj(_c.hdb_pci_device_new, address))

    # -- USB and hot-plug ----------------------------------------------------------------------

    def usb_devices(self, *, ids: FilterSpec = None, serial: FilterSpec = None,
                    port: FilterSpec = None, hubs: bool = False) -> UsbDevices:
        """Iterate over USB devices by bus and port path; filters (a string or a list each):
        ids='0627:0001' (lsusb -d), serial='ABC', port='2-1.4' or '2-1.*'; hubs=True lists hubs
        and root hubs too."""
        return UsbDevices(self, ids=ids, serial=serial, port=port, hubs=hubs)

    def usb_device(self, name: str) -> UsbDevice:
        """The USB device with kernel name @name ('1-1.4', 'usb1'); hostdev.NotFound if none."""
        return UsbDevice(self, self._call_obj(_c.hdb_usb_device_new, name))

    def monitor(self, *, subsystems: FilterSpec = None, ids: FilterSpec = None,
                classes: FilterSpec = None) -> Monitor:
        """A hot-plug Monitor (not started) with filters: subsystems='usb' or 'pci', ids='vvvv:pppp',
        classes='03' (USB device class or PCI class prefix)."""
        return Monitor(self, subsystems=subsystems, ids=ids, classes=classes)

    # -- vfio --------------------------------------------------------------------------------

    def load_vfio_modules(self) -> bool:
        """Make sure vfio-pci is available. True when a module was loaded, False when present."""
        return self._call(_c.hostdev_vfio_load_modules) == 1

    def bind(self, *addresses: Union[str, PciDevice, Iterable[Union[str, PciDevice]]],
             group: bool = False, force: bool = False, owner: Optional[str] = None,
             timeout: Optional[float] = None, timeout_ms: int = 0,
             protected: Iterable[str] = ()) -> int:
        """Bind devices (addresses or PciDevice objects) to vfio-pci as one operation, with the
        journal, IOMMU-group checks and the guard of docs/vfio.md. group=True binds whole IOMMU
        groups, force=True overrides the guard, protected= lists more addresses to refuse.
        timeout= bounds each sysfs store and the wait for the kernel, in seconds (0: 5 s; the
        older timeout_ms= takes milliseconds; the other calls take the same two).
        Returns the number of devices moved (0 when all were there already)."""
        flags = (_c.HOSTDEV_BIND_GROUP if group else 0) | (_c.HOSTDEV_BIND_FORCE if force else 0)
        addrs = _strv(_addresses(addresses))
        prot = _strv(_addresses([protected]))
        return self._call(_c.hdb_vfio_bind_set, addrs, owner or "",
                          _ms(timeout, timeout_ms, "timeout"), prot, flags)

    def bind_report(self, *addresses: Union[str, PciDevice, Iterable[Union[str, PciDevice]]],
                    group: bool = False, force: bool = False, dry_run: bool = False,
                    owner: Optional[str] = None, timeout: Optional[float] = None,
                    lock_timeout: Optional[float] = None, timeout_ms: int = 0,
                    lock_timeout_ms: int = 0,
                    protected: Iterable[str] = ()) -> Tuple[BindOutcome, ...]:
        """bind(), and say per device what was done: a tuple of BindOutcome, the named devices
        first, then the members of their IOMMU groups that group=True brought along.
        dry_run=True runs every check and reports what a bind would do ('would-bind'), writing
        nothing."""
        flags = ((_c.HOSTDEV_BIND_GROUP if group else 0) | (_c.HOSTDEV_BIND_FORCE if force else 0) |
                 (_c.HOSTDEV_BIND_DRY_RUN if dry_run else 0))
        with self._lock:
            result, r = _c.hdb_vfio_bind_with_result(
                self._raw(), _strv(_addresses(addresses)), owner or "",
                _ms(timeout, timeout_ms, "timeout"), _strv(_addresses([protected])),
                _ms(lock_timeout, lock_timeout_ms, "lock_timeout"), flags)
            self._check(r)
            return bind_outcomes(result)

    def restore(self, *addresses: Union[str, PciDevice, Iterable[Union[str, PciDevice]]],
                unjournaled: bool = False, timeout: Optional[float] = None,
                timeout_ms: int = 0) -> int:
        """Give devices back to the drivers the journal recorded; returns how many were restored.
        unjournaled=True also releases devices on vfio-pci that libhostdev did not bind."""
        flags = _c.HOSTDEV_RESTORE_UNJOURNALED if unjournaled else 0
        return self._call(_c.hdb_vfio_restore_set, _strv(_addresses(addresses)),
                          _ms(timeout, timeout_ms, "timeout"),
                          flags)

    def restore_all(self, owner: Optional[str] = None, timeout: Optional[float] = None,
                    timeout_ms: int = 0) -> int:
        """Restore every journaled device (only @owner's when given), newest first."""
        return self._call(_c.hdb_vfio_restore_all, owner or "",
                          _ms(timeout, timeout_ms, "timeout"), 0)

    def restore_report(self, *addresses: Union[str, PciDevice, Iterable[Union[str, PciDevice]]],
                       all: bool = False, owner: Optional[str] = None,
                       unjournaled: bool = False, forget_gone: bool = False,
                       timeout: Optional[float] = None, lock_timeout: Optional[float] = None,
                       timeout_ms: int = 0,
                       lock_timeout_ms: int = 0) -> Tuple[RestoreOutcome, ...]:
        """Restore like restore()/restore_all() (all=True), and say per device what was done: a
        tuple of RestoreOutcome, newest record first. forget_gone=True drops the records of
        devices that no longer exist (kept otherwise). When a device is refused or fails, the
        error raised carries the outcomes of every device as .outcomes."""
        flags = ((_c.HOSTDEV_RESTORE_UNJOURNALED if unjournaled else 0) |
                 (_c.HOSTDEV_RESTORE_FORGET_GONE if forget_gone else 0) |
                 (_c.HOSTDEV_RESTORE_ALL if all else 0))
        with self._lock:
            result, r = _c.hdb_vfio_restore_with_result(
                self._raw(), _strv(_addresses(addresses)), owner or "",
                _ms(timeout, timeout_ms, "timeout"),
                _ms(lock_timeout, lock_timeout_ms, "lock_timeout"), flags)
            outcomes = restore_outcomes(result) if result is not None else ()
            try:
                self._check(r)
            except Exception as e:
                e.outcomes = outcomes
                raise
            return outcomes

    @contextlib.contextmanager
    def bound(self, *addresses: Union[str, PciDevice, Iterable[Union[str, PciDevice]]],
              **options: Any) -> Iterator[Tuple[PciDevice, ...]]:
        """``with ctx.bound(addr, owner="vm-a") as devices:`` binds on entry and restores on exit
        what this call moved (devices that were already on vfio-pci stay there). ``devices`` is
        the tuple of PciDevice on vfio-pci for the VM: the named ones and, with group=True, the
        rest of their IOMMU groups. Takes the options of bind()."""
        outcomes = self.bind_report(*addresses, **options)
        try:
            yield tuple(self.pci_device(o.address) for o in outcomes)
        finally:
            mine = [o.address for o in outcomes if o.outcome == "bound"]
            if mine:
                self.restore(*mine)

    def journal(self) -> Journal:
        """The vfio journal (hostdev.Journal: a tuple of JournalRecord with .path and .json)."""
        with self._lock:
            j, r = _c.hdb_vfio_journal_read(self._raw())
            self._check(r)
            return Journal(j)

    def check(self, *addresses: Union[str, PciDevice], host_only: bool = False) -> Report:
        """The preflight report (hostdev.Report) for @addresses, or every non-bridge device."""
        flags = _c.HOSTDEV_CHECK_HOST_ONLY if host_only else 0
        addrs = _strv(_addresses(addresses))
        with self._lock:
            rep, r = _c.hdb_vfio_check(self._raw(), addrs, flags)
            self._check(r)
            return Report(rep)

    def persist_add(self, address: str, group: bool = False, force: bool = False) -> bool:
        """Keep @address on vfio-pci across reboots. True when added, False when it was listed."""
        flags = (_c.HOSTDEV_BIND_GROUP if group else 0) | (_c.HOSTDEV_BIND_FORCE if force else 0)
        return self._call(_c.hostdev_vfio_persist_add, address, flags) == 0

    def persist_remove(self, address: str) -> None:
        """Remove @address from the persistent list; hostdev.NotFound when it is not listed."""
        self._call(_c.hostdev_vfio_persist_remove, address)

    def persisted(self) -> List[PersistEntry]:
        """The persistent list: PersistEntry(address, group, force, vendor_id, device_id) items."""
        with self._lock:
            lst, r = _c.hdb_vfio_persist_read(self._raw())
            self._check(r)
            return persist_entries(lst)

    def apply(self, owner: Optional[str] = None, timeout: Optional[float] = None,
              timeout_ms: int = 0, protected: Iterable[str] = ()) -> int:
        """Bind every listed device (boot time); returns the number newly bound."""
        return self._call(_c.hdb_vfio_apply, owner or "", _ms(timeout, timeout_ms, "timeout"),
                          _strv(_addresses([protected])), 0)

    def modprobe_conf(self) -> str:
        """The /etc/modprobe.d/vfio.conf text for the listed devices."""
        return self._call_obj(_c.hdb_vfio_modprobe_conf, 0)

    # -- SR-IOV ------------------------------------------------------------------------------

    def sriov_pf(self, pf: Union[str, PciDevice, SriovPf]) -> SriovPf:
        """The SR-IOV PF at @pf (an address, a PciDevice or a SriovPf) with its VFs: a SriovPf.
        hostdev.NotFound when there is no such device, hostdev.Error with errno EOPNOTSUPP when it
        is not a PF (for a VF the message names its PF)."""
        address = _name(pf, "address", "a PCI address")
        with self._lock:
            raw, r = _c.hdb_sriov_pf_new(self._raw(), address)
            self._check(r)
            return read_pf(raw)

    def sriov_pfs(self) -> List[SriovPf]:
        """Every SR-IOV PF of the host, in address order (a list of SriovPf). PFs that vanish or
        stop being PFs during the scan are skipped."""
        pfs = []
        for dev in self.pci_devices():
            if not dev.is_sriov_pf:
                continue
            with self._lock:
                raw, r = _c.hdb_sriov_pf_new(self._raw(), dev.address)
                if r in (-_errno.ENODEV, -_errno.EOPNOTSUPP):
                    continue
                self._check(r)
                pfs.append(read_pf(raw))
        return pfs

    def set_num_vfs(self, pf: Union[str, PciDevice, SriovPf], num_vfs: int, *,
                    autoprobe: Optional[bool] = None, force: bool = False,
                    timeout: Optional[float] = None, timeout_ms: int = 0) -> int:
        """Set the number of VFs of the PF @pf (address, PciDevice or SriovPf) to @num_vfs with the
        kernel's rules (hostdev_sriov_set_num_vfs, docs/sriov-mdev.md): 0 is written before a
        different non-zero count, each write runs under a watchdog of @timeout seconds (0: 120 s).

        autoprobe=False writes sriov_drivers_autoprobe=0 first so that the new VFs stay
        driverless (ready for vfio-pci), True writes 1, None leaves it. force=True destroys VFs
        even when one is bound to vfio-pci or in the vfio journal (else hostdev.Busy, naming
        them; their journal records are dropped when forced).

        Returns the number of VFs enabled afterwards, which is less than @num_vfs when the PF
        driver enabled fewer (logged as a warning). Errors: hostdev.InvalidArgument, NotFound
        (ENODEV: no such device; ENOENT: the PF has no driver or its driver cannot configure
        SR-IOV), Error with ERANGE (more than total_vfs) or EOPNOTSUPP (not a PF), Busy, TimedOut
        (the kernel may still complete the write: read the PF again), or the PF driver's errno.
        The GIL is released while the call waits.
        """
        address = _name(pf, "address", "a PCI address")
        if isinstance(num_vfs, bool) or not isinstance(num_vfs, int):
            raise TypeError("num_vfs must be an int, got %r" % (num_vfs,))
        if autoprobe not in AUTOPROBE:
            raise TypeError("autoprobe must be None, True or False, got %r" % (autoprobe,))
        if num_vfs < 0:
            raise error_for(-_errno.EINVAL, "%s: cannot enable %d VFs: the count must not be "
                            "negative" % (address, num_vfs))
        flags = _c.HOSTDEV_SRIOV_FORCE if force else 0
        # Counts beyond 65535 are refused by the library (ERANGE); keep them an unsigned int.
        return self._call(_c.hdb_sriov_set_num_vfs, address, min(num_vfs, 0xFFFFFFFF),
                          _ms(timeout, timeout_ms, "timeout"), AUTOPROBE[autoprobe], flags)

    # -- mediated devices ----------------------------------------------------------------------

    def mdev_types(self, parent: Union[str, PciDevice, None] = None) -> List[MdevTypeInfo]:
        """The mdev types of every parent (@parent None) or of one parent: a PCI address, a
        PciDevice or a device name of /sys/class/mdev_bus ('mtty'). A list of MdevTypeInfo sorted
        by parent then type id; empty on a host without parents. hostdev.NotFound for no such
        parent, hostdev.Error with errno EOPNOTSUPP when @parent offers no mdev types."""
        if parent is not None:
            parent = _name(parent, "address", "an mdev parent")
        with self._lock:
            raw, r = _c.hdb_mdev_types_read(self._raw(), parent)
            self._check(r)
            return read_types(raw)

    def mdevs(self) -> List[Mdev]:
        """The mediated devices that exist, sorted by UUID (a list of Mdev); empty without the mdev
        bus."""
        with self._lock:
            raw, r = _c.hdb_mdev_list_read(self._raw())
            self._check(r)
            return read_list(raw)

    def create_mdev(self, parent: Union[str, PciDevice], type: Union[str, MdevTypeInfo],
                    uuid: Optional[str] = None, *, timeout: Optional[float] = None,
                    timeout_ms: int = 0) -> str:
        """Create an mdev of @type (a type id or an MdevTypeInfo/MdevType) on @parent (as in
        mdev_types()) with @uuid, or a generated UUID when None, and wait for it to appear.
        Returns its UUID (lower case). Refuses before writing: an unknown type (NotFound, ENOENT,
        the message lists the parent's types), no available instances (Error, ENOSPC), a UUID in
        use (Error, EEXIST). NotFound (ENODEV) for no such parent, InvalidArgument for a malformed
        UUID, TimedOut when the write or the device took longer than @timeout seconds (0: 30 s)."""
        parent = _name(parent, "address", "an mdev parent")
        type_id = _name(type, "id", "an mdev type id")
        return self._call_obj(_c.hdb_mdev_create, parent, type_id, uuid,
                              _ms(timeout, timeout_ms, "timeout"), 0)

    def remove_mdev(self, uuid: Union[str, Mdev], *, timeout: Optional[float] = None,
                    timeout_ms: int = 0) -> None:
        """Remove the mdev @uuid (a UUID string or an Mdev) and wait until it is gone. NotFound for
        no such mdev, TimedOut when the kernel did not finish within @timeout seconds (0: 30 s): a VM
        probably still holds it open, and the removal completes when it lets go."""
        self._call(_c.hdb_mdev_remove, _name(uuid, "uuid", "an mdev UUID"),
                   _ms(timeout, timeout_ms, "timeout"), 0)

    def generate_mdev_uuid(self) -> str:
        """A new random (version 4) UUID in lower case, as create_mdev() generates them."""
        return self._call_obj(_c.hdb_mdev_uuid_generate)

    # -- NVIDIA vGPU without mdev --------------------------------------------------------------

    def vgpus(self, address: Union[str, PciDevice, None] = None) -> List[Vgpu]:
        """The VFs with NVIDIA's vGPU attributes (docs/vgpu.md): every one (@address None), those
        of the GPU @address, or the VF @address (a PCI address or PciDevice); a list of Vgpu in
        address order. hostdev.NotFound for no such device, hostdev.Error with errno EOPNOTSUPP
        when @address offers no vGPU types (the message says why), Corrupt for a driver text the
        library does not understand."""
        if address is not None:
            address = _name(address, "address", "a PCI address")
        with self._lock:
            raw, r = _c.hdb_vgpu_read(self._raw(), address)
            self._check(r)
            return read_vgpus(raw)

    def set_vgpu_type(self, vf: Union[str, PciDevice, Vgpu], type_id: int, *,
                      timeout: Optional[float] = None, lock_timeout: Optional[float] = None) -> bool:
        """Give the VF @vf the vGPU type @type_id (an id of Vgpu.creatable), journaled first so that
        restore_vgpus() undoes it (hostdev_vgpu_set_type). True when set, False when the VF held it
        already. NotFound (ENOENT: not creatable now, the message lists what is), Busy (another
        type held), Error with EOPNOTSUPP (no vGPU attributes), TimedOut (@timeout seconds, 0:
        30 s; the driver may still complete the store)."""
        if isinstance(type_id, bool) or not isinstance(type_id, int) or type_id <= 0:
            raise TypeError("type_id must be a vGPU type id > 0, got %r" % (type_id,))
        return bool(self._call(_c.hdb_vgpu_set_type, _name(vf, "address", "a PCI address"),
                               min(type_id, 0xFFFFFFFF), _ms(timeout, 0, "timeout"),
                               _ms(lock_timeout, 0, "lock_timeout")))

    def clear_vgpu_type(self, vf: Union[str, PciDevice, Vgpu], *, timeout: Optional[float] = None,
                        lock_timeout: Optional[float] = None) -> bool:
        """Take the VF's vGPU type away and drop its journal record. True when a type was
        cleared, False when it held none. Busy when a VM holds the VF."""
        return bool(self._call(_c.hdb_vgpu_clear_type, _name(vf, "address", "a PCI address"),
                               _ms(timeout, 0, "timeout"), _ms(lock_timeout, 0, "lock_timeout")))

    def restore_vgpus(self, vf: Union[str, PciDevice, Vgpu, None] = None, *,
                      timeout: Optional[float] = None, lock_timeout: Optional[float] = None) -> int:
        """Undo the vGPU journal (every record, or that of @vf): the number of VFs put back."""
        address = _name(vf, "address", "a PCI address") if vf is not None else None
        return self._call(_c.hdb_vgpu_restore, address, _ms(timeout, 0, "timeout"),
                          _ms(lock_timeout, 0, "lock_timeout"))

    # -- device plugins ------------------------------------------------------------------------

    def resolve_resources(self, config: DevicePluginConfig) -> Resources:
        """Apply a resource selection config to this host now: the Resources it gives (a sequence
        of Resource(name, kind, device_ids) sorted by name, also indexable by name), to serve with
        a DevicePluginLoop or to print with permitted_host_devices(). @config: a
        DevicePluginConfig, or JSON text / a dict that is parsed first. InvalidArgument when two
        entries give the same resource name on this host (the message names both)."""
        if not isinstance(config, DevicePluginConfig):
            config = DevicePluginConfig.parse(self, config)
        with self._lock:
            return Resources(_call(_c.hdb_dp_resources_resolve, self._raw(), config._cfg))
