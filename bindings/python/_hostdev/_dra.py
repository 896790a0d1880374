# SPDX-License-Identifier: Apache-2.0
"""Kubelet Dynamic Resource Allocation (DRA) plugins, CDI spec files and KubeVirt's device-metadata
files (hostdev/dra.h, docs/dra.md).

    def prepare(claim):                       # a DraClaim: namespace, name, uid, api_version
        ...                                   # read the claim's allocation, bind its devices
        return [hostdev.DraDevice("node-a", "pci-0000-3b-00-1", requests=["gpu"],
                                  cdi_ids=["vfio.hostdev.io/pci=0000-3b-00-1"])]

    with hostdev.DevicePluginLoop(ctx) as loop:
        loop.serve_dra("vfio.hostdev.io", prepare=prepare, unprepare=unprepare)
        loop.run()

The callables run on the loop's thread with the GIL, one at a time; raising fails the claim with
the exception's message, which the kubelet shows and retries.
"""

from __future__ import annotations

import collections.abc
import errno as _errno
import os
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple, Sequence, Union

from . import capi as _c
from ._errors import error_for

if TYPE_CHECKING:
    from ._context import Context
    from ._deviceplugin import DevicePluginLoop

StrPath = Union[str, "os.PathLike[str]"]

#: API versions of the DRAPlugin service, for serve_dra(api_versions=...).
DRA_API_VERSIONS = {"v1": _c.HOSTDEV_DRA_API_V1, "v1beta1": _c.HOSTDEV_DRA_API_V1BETA1}
DRA_STATES = {_c.HOSTDEV_DRA_STOPPED: "stopped", _c.HOSTDEV_DRA_REGISTERING: "registering",
              _c.HOSTDEV_DRA_REGISTERED: "registered", _c.HOSTDEV_DRA_SERVING: "serving"}


def _call(fn, *args):
    """fn(*args, status): its result, or the exception for the status's errno and message."""
    st = _c.hdb_status()
    result = fn(*args, st)
    code = st.code()
    if code < 0:
        raise error_for(code, st.message())
    return result


class DraClaim(NamedTuple):
    """A claim the kubelet asks to prepare or unprepare: the ResourceClaim's namespace, name and
    uid, and the API version of the kubelet's call ("v1" or "v1beta1")."""

    namespace: str
    name: str
    uid: str
    api_version: str


class DraDevice(NamedTuple):
    """One prepared device of a claim, as prepare() answers it: @pool and @device as in the
    claim's allocation result, @requests the names of the claim's requests it satisfies, @cdi_ids
    the fully qualified CDI device ids the container runtime applies (CdiSpec.device_id(),
    DeviceMetadata.cdi_id)."""

    pool: str
    device: str
    requests: Sequence[str] = ()
    cdi_ids: Sequence[str] = ()


PrepareFn = Callable[[DraClaim], "Iterable[DraDevice] | None"]
UnprepareFn = Callable[[DraClaim], None]
RegistrationFn = Callable[[bool, str], None]


def _claim(req) -> DraClaim:
    return DraClaim(_c.hostdev_dra_request_get_namespace(req), _c.hostdev_dra_request_get_name(req),
                    _c.hostdev_dra_request_get_uid(req),
                    _c.hostdev_dra_request_get_api_version(req))


class _DraBridge:
    """What the C ops of a Python DRA plugin call (bindings/python/hostdev_python_dra.i): each
    method returns 0 or a negative errno and never raises."""

    def __init__(self, driver_name, prepare, unprepare, registration, log):
        self.driver_name = driver_name
        self.prepare = prepare
        self.unprepare = unprepare
        self.registration = registration
        self.log = log

    @staticmethod
    def _fail(req, e):
        """Fail the claim of @req with the words of @e; the errno for the library's log."""
        if isinstance(e, OSError) and e.errno:
            code = e.errno
            message = e.strerror or str(e)
        else:
            code = _errno.EINVAL if isinstance(e, (ValueError, TypeError)) else _errno.EIO
            message = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
        _c.hostdev_dra_request_set_error(req, message)
        return -code

    def _prepare(self, req):
        try:
            answer = self.prepare(_claim(req))
            if answer is None:
                return 0
            if isinstance(answer, (str, bytes, DraDevice)) or \
                    not isinstance(answer, collections.abc.Iterable):
                raise TypeError("prepare() must return an iterable of hostdev.DraDevice or None, "
                                "not %r" % (answer,))
            for d in answer:
                d = d if isinstance(d, DraDevice) else DraDevice(*d)
                i = _c.hostdev_dra_request_add_device(req, str(d.pool), str(d.device))
                if i < 0:
                    raise error_for(i, "prepare(): invalid device %r of pool %r: both need a "
                                       "non-empty name" % (d.device, d.pool))
                for name in d.requests:
                    r = _c.hostdev_dra_request_add_request_name(req, i, str(name))
                    if r < 0:
                        raise error_for(r, "prepare(): invalid request name %r of device %r"
                                           % (name, d.device))
                for cdi_id in d.cdi_ids:
                    r = _c.hostdev_dra_request_add_cdi_id(req, i, str(cdi_id))
                    if r < 0:
                        raise error_for(r, "prepare(): invalid CDI id %r of device %r: it must "
                                           "be <vendor>/<class>=<name>" % (cdi_id, d.device))
            return 0
        except BaseException as e:
            return self._fail(req, e)

    def _unprepare(self, req):
        try:
            self.unprepare(_claim(req))
            return 0
        except BaseException as e:
            return self._fail(req, e)

    def _registration(self, registered, error):
        if self.registration is None:
            return
        try:
            self.registration(bool(registered), error)
        except Exception as e:
            if self.log is not None:
                try:
                    self.log(_c.HOSTDEV_LOG_WARNING, "DRA driver %s: the registration callback "
                             "failed: %s: %s" % (self.driver_name, type(e).__name__, e))
                except Exception:
                    pass


def _api_bits(api_versions: Iterable[str] | None) -> int:
    if api_versions is None:
        return 0
    if isinstance(api_versions, str):
        api_versions = [api_versions]
    bits = 0
    for v in api_versions:
        if v not in DRA_API_VERSIONS:
            raise ValueError("unknown DRA API version %r: use %s"
                             % (v, " or ".join(repr(k) for k in DRA_API_VERSIONS)))
        bits |= DRA_API_VERSIONS[v]
    if not bits:
        raise ValueError("api_versions names no version: use None for all of them")
    return bits


def serve_dra(loop: DevicePluginLoop, driver_name: str, *, prepare: PrepareFn | None = None,
              unprepare: UnprepareFn | None = None,
              on_registration: RegistrationFn | None = None,
              kubelet_dir: StrPath | None = None, plugin_dir: StrPath | None = None,
              registry_dir: StrPath | None = None, api_versions: Iterable[str] | None = None,
              kubelet_uid: int | None = None, registration: bool = True,
              start: bool = True) -> DraPlugin:
    """DevicePluginLoop.serve_dra(): see there."""
    if prepare is not None and not callable(prepare):
        raise TypeError("prepare must be a callable(claim) or None, not %r" % (prepare,))
    if unprepare is not None and not callable(unprepare):
        raise TypeError("unprepare must be a callable(claim) or None, not %r" % (unprepare,))
    if on_registration is not None and not callable(on_registration):
        raise TypeError("on_registration must be a callable(registered, error) or None, not %r"
                        % (on_registration,))
    if kubelet_dir is not None:
        kubelet_dir = os.fspath(kubelet_dir)
        if plugin_dir is None:
            plugin_dir = os.path.join(kubelet_dir, "plugins")
        if registry_dir is None:
            registry_dir = os.path.join(kubelet_dir, "plugins_registry")
    if kubelet_uid is None:
        kubelet_uid = -1
    elif isinstance(kubelet_uid, bool) or not isinstance(kubelet_uid, int) or kubelet_uid < 0:
        raise ValueError("kubelet_uid must be a user id >= 0 or None, not %r" % (kubelet_uid,))
    bridge = _DraBridge(driver_name, prepare, unprepare, on_registration, loop._log)
    raw = _call(_c.hdb_dra_plugin_new_python, loop._ctx, loop._raw(), driver_name, bridge,
                int(prepare is not None), int(unprepare is not None),
                os.fspath(plugin_dir) if plugin_dir else "",
                os.fspath(registry_dir) if registry_dir else "", _api_bits(api_versions),
                kubelet_uid, int(not registration))
    plugin = DraPlugin(loop, raw)
    loop._add_dra(plugin)
    if start:
        try:
            plugin.start()
        except BaseException:
            plugin.close()
            raise
    return plugin


class DraPlugin:
    """The DRA kubelet plugin of one driver (hostdev_dra_plugin), made by
    DevicePluginLoop.serve_dra(). Use it as a context manager (closed, hence stopped, on exit) or
    call close()."""

    def __init__(self, loop: DevicePluginLoop, raw) -> None:
        self._loop = loop
        self._plugin = raw
        self._driver = _c.hostdev_dra_plugin_get_driver_name(raw)
        self._socket = _c.hostdev_dra_plugin_get_socket_path(raw)
        self._registration = _c.hostdev_dra_plugin_get_registration_path(raw)

    def _raw(self):
        plugin = self._plugin
        if plugin is None:
            raise ValueError("operation on a closed hostdev.DraPlugin")
        return plugin

    def start(self) -> None:
        """Listen on the DRA socket, then on the registration socket (stale socket files are
        replaced), and wait for the kubelet's plugin watcher. hostdev.Error with EALREADY
        (started) or EADDRINUSE (another process serves a socket)."""
        _call(_c.hdb_dra_plugin_start, self._loop._ctx, self._raw())

    def stop(self) -> None:
        """Close both sockets and their connections and remove the socket files; calls in flight
        get no answer (the kubelet retries them). A stopped plugin can be started again."""
        _call(_c.hdb_dra_plugin_stop, self._loop._ctx, self._raw())

    @property
    def state(self) -> str:
        """'stopped', 'registering' (serving, waiting for the plugin watcher), 'registered' (the
        kubelet accepted it) or 'serving' (registration=False)."""
        return DRA_STATES[_c.hostdev_dra_plugin_get_state(self._raw())]

    @property
    def registrations(self) -> int:
        """How many times the kubelet accepted a registration (1 after the first)."""
        return _c.hostdev_dra_plugin_get_registrations(self._raw())

    @property
    def driver_name(self) -> str:
        """The driver name (also after close())."""
        return self._driver

    @property
    def socket_path(self) -> str:
        """Absolute path of the DRA socket, <plugin_dir>/<driver>/dra.sock (also after close())."""
        return self._socket

    @property
    def registration_path(self) -> str | None:
        """Absolute path of the registration socket; None with registration=False."""
        return self._registration

    def _release(self) -> None:
        plugin, self._plugin = self._plugin, None
        if plugin is None:
            return
        # Stopped explicitly: a reference left elsewhere would otherwise keep it serving.
        _c.hdb_dra_plugin_stop(self._loop._ctx, plugin, _c.hdb_status())
        del plugin  # normally the last reference: hostdev_dra_plugin_unref() frees it

    def close(self) -> None:
        """Stop the plugin and release it (and its callables). Safe to call twice."""
        if self._plugin is None:
            return
        self._loop._forget_dra(self)
        self._release()

    @property
    def closed(self) -> bool:
        return self._plugin is None

    def __enter__(self) -> DraPlugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<hostdev.DraPlugin %s closed>" % self._driver
        return "<hostdev.DraPlugin %s %s on %s>" % (self._driver, self.state, self._socket)


class CdiSpec:
    """A CDI spec file (the Container Device Interface's JSON form) of one kind
    ("<vendor>/<class>", e.g. "vfio.hostdev.io/pci") and its devices, each with the device nodes
    the runtime creates in the container (docs/dra.md, "CDI spec files"). Errors raise
    hostdev.InvalidArgument naming the part that is wrong."""

    def __init__(self, ctx: Context, kind: str) -> None:
        self._ctx = ctx
        with ctx._lock:
            self._spec = _call(_c.hdb_dra_cdi_spec_new, ctx._raw(), kind)
        #: The kind, "<vendor>/<class>".
        self.kind = kind

    def _do(self, fn, *args):
        with self._ctx._lock:
            return _call(fn, self._ctx._raw(), self._spec, *args)

    def add_device(self, name: str) -> CdiSpec:
        """Add device @name ([A-Za-z0-9] at both ends, [A-Za-z0-9_.-] between, unique) without
        edits; add_device_node() gives it nodes. Returns the spec."""
        self._do(_c.hdb_dra_cdi_spec_add_device, name)
        return self

    def add_vfio_device(self, name: str, iommu_group: int | str,
                        vfio_cdev: int | None = None) -> CdiSpec:
        """Add device @name with the nodes of a vfio-pci device: /dev/vfio/vfio and
        /dev/vfio/<iommu_group>, and with @vfio_cdev (the N of /dev/vfio/devices/vfioN) the
        iommufd nodes /dev/iommu and /dev/vfio/devices/vfio<N>. Returns the spec."""
        cdev = -1 if vfio_cdev is None else int(vfio_cdev)
        if cdev < 0 and vfio_cdev is not None:
            raise ValueError("vfio_cdev must be a number >= 0 or None, not %r" % (vfio_cdev,))
        self._do(_c.hdb_dra_cdi_spec_add_vfio_device, name, str(iommu_group), cdev)
        return self

    def add_device_node(self, name: str, path: str) -> CdiSpec:
        """Add device node @path (absolute, under /dev) to device @name (hostdev.NotFound when
        the spec has no such device). Returns the spec."""
        self._do(_c.hdb_dra_cdi_spec_add_device_node, name, path)
        return self

    def device_id(self, name: str) -> str:
        """The qualified CDI id of device @name, "<kind>=<name>": what prepare() answers."""
        return self._do(_c.hdb_dra_cdi_spec_get_device_id, name)

    def to_json(self) -> str:
        """The spec as JSON text."""
        return self._do(_c.hdb_dra_cdi_spec_to_json)

    def write(self, dir: StrPath, file_name: str) -> None:
        """Write the spec to @dir/@file_name atomically, mode 0644. @dir must exist and is not
        followed when it is a symbolic link; @file_name is a plain name ending in ".json"."""
        self._do(_c.hdb_dra_cdi_spec_write, os.fspath(dir), file_name)

    @staticmethod
    def remove(ctx: Context, dir: StrPath, file_name: str) -> None:
        """Remove @dir/@file_name written by write(); a missing file is not an error."""
        with ctx._lock:
            _call(_c.hdb_dra_cdi_spec_remove, ctx._raw(), os.fspath(dir), file_name)

    def __repr__(self) -> str:
        return "<hostdev.CdiSpec %s>" % self.kind


class DeviceMetadata:
    """The device metadata of one request of a claim, as KubeVirt reads it (KEP-5304): a
    DeviceMetadata file under the driver's plugin data directory and the CDI spec that mounts it
    into the container (docs/dra.md, "KubeVirt's device-metadata files")."""

    def __init__(self, ctx: Context, driver: str, namespace: str, claim_name: str,
                 claim_uid: str, request: str) -> None:
        self._ctx = ctx
        with ctx._lock:
            self._md = _call(_c.hdb_dra_metadata_new, ctx._raw(), driver, namespace, claim_name,
                             claim_uid, request)
        self.driver, self.namespace, self.claim_name = driver, namespace, claim_name
        self.claim_uid, self.request = claim_uid, request

    @classmethod
    def for_claim(cls, ctx: Context, driver: str, claim: DraClaim, request: str
                  ) -> DeviceMetadata:
        """The metadata of @request of @claim (a DraClaim given to prepare() or unprepare())."""
        return cls(ctx, driver, claim.namespace, claim.name, claim.uid, request)

    def _do(self, fn, *args):
        with self._ctx._lock:
            return _call(fn, self._ctx._raw(), self._md, *args)

    def add_device(self, pool: str, device: str, *, pci_bus_id: str | None = None,
                   mdev_uuid: str | None = None) -> DeviceMetadata:
        """Add device @device of pool @pool with exactly one of @pci_bus_id (a PCI address,
        attribute resource.kubernetes.io/pciBusID) and @mdev_uuid (attribute mdevUUID). Returns
        the metadata."""
        if (pci_bus_id is None) == (mdev_uuid is None):
            raise ValueError("device %r of pool %r: give exactly one of pci_bus_id and mdev_uuid"
                             % (device, pool))
        self._do(_c.hdb_dra_metadata_add_device, pool, device, pci_bus_id or "", mdev_uuid or "")
        return self

    @property
    def cdi_id(self) -> str:
        """The qualified CDI id of the metadata's bind mount, "<driver>/metadata=<claim
        uid>_<request>": add it to the CDI ids of the request's devices."""
        return self._do(_c.hdb_dra_metadata_get_cdi_id)

    def to_json(self) -> str:
        """The DeviceMetadata file's JSON text."""
        return self._do(_c.hdb_dra_metadata_to_json)

    def write(self, data_dir: StrPath, cdi_dir: StrPath) -> None:
        """Write the metadata file below @data_dir (the driver's plugin data directory,
        <plugin_dir>/<driver>) and its CDI spec into @cdi_dir, both atomically (docs/dra.md has
        the paths)."""
        self._do(_c.hdb_dra_metadata_write, os.fspath(data_dir), os.fspath(cdi_dir))

    def remove(self, data_dir: StrPath, cdi_dir: StrPath) -> None:
        """Remove both files and the directories left empty; files that are not there are not an
        error. On unprepare, make the metadata from the claim alone (no devices needed)."""
        self._do(_c.hdb_dra_metadata_remove, os.fspath(data_dir), os.fspath(cdi_dir))

    def __repr__(self) -> str:
        return "<hostdev.DeviceMetadata %s/%s request %s>" % (self.namespace, self.claim_name,
                                                              self.request)
