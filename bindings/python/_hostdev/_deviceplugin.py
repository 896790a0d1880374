# SPDX-License-Identifier: Apache-2.0
"""Kubelet device plugins with the built-in plugins (hostdev/deviceplugin.h, docs/device-plugin.md).

    cfg = hostdev.DevicePluginConfig.load(ctx, "/etc/hostdev/device-plugins.json")
    resources = ctx.resolve_resources(cfg)          # the config applied to the host now
    print(resources.permitted_host_devices("yaml"))  # KubeVirt's permittedHostDevices
    with hostdev.DevicePluginLoop(ctx) as loop:
        loop.serve_all(resources)                    # one started Server per resource
        loop.run()                                   # until loop.quit() (a signal handler)

loop.serve_plugin(name, plugin) serves a resource whose answers come from an object written in
Python (list_devices, allocate, get_preferred_allocation, pre_start_container).

The loop works with a context of its own, a copy of the paths, node name, log priority and log
callback the Context had when the loop was made: the built-in plugins read the host through it on
the loop's thread, so the Context stays usable by other threads meanwhile.
"""

from __future__ import annotations

import atexit
import collections
import collections.abc
import errno as _errno
import json
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Iterable, Optional

from . import capi as _c
from ._errors import error_for

if TYPE_CHECKING:
    from ._dra import DraPlugin, PrepareFn, RegistrationFn, StrPath, UnprepareFn

KINDS = {_c.HOSTDEV_DP_KIND_PCI: "pci", _c.HOSTDEV_DP_KIND_USB: "usb",
         _c.HOSTDEV_DP_KIND_MDEV: "mdev"}
REGISTRATIONS = {"classic": _c.HOSTDEV_DP_REGISTER_CLASSIC,
                 "watcher": _c.HOSTDEV_DP_REGISTER_WATCHER,
                 "none": _c.HOSTDEV_DP_REGISTER_NONE}
STATES = {_c.HOSTDEV_DP_STOPPED: "stopped", _c.HOSTDEV_DP_REGISTERING: "registering",
          _c.HOSTDEV_DP_REGISTERED: "registered", _c.HOSTDEV_DP_SERVING: "serving"}
FORMATS = {"json": _c.HOSTDEV_DP_FORMAT_JSON, "yaml": _c.HOSTDEV_DP_FORMAT_YAML}

#: Default refresh interval of a server in milliseconds (refresh_ms=None).
DEFAULT_REFRESH_MS = _c.HOSTDEV_DP_DEFAULT_REFRESH_MS
#: How long a resource whose last device left is served on (Unhealthy) by default, in ms.
DEFAULT_GRACE_MS = _c.HOSTDEV_DP_MANAGER_DEFAULT_GRACE_MS

# run() wakes up at least this often, so that a signal whose handler was delayed (delivered to
# another thread, or just before the wait began) is handled soon.
_RUN_SLICE_MS = 500

# How long stopping a server without the loop's thread dispatches at most, for the empty lists and
# stream ends to go out (other servers of the loop may keep it busy).
_FLUSH_S = 0.5


def _call(fn, *args):
    """fn(*args, status): its result, or the exception for the status's errno and message."""
    st = _c.hdb_status()
    result = fn(*args, st)
    code = st.code()
    if code < 0:
        raise error_for(code, st.message())
    return result


Resource = collections.namedtuple("Resource", "name kind device_ids")
Resource.__doc__ = ("A resolved resource: its extended resource name, its kind ('pci', 'usb' or "
                    "'mdev') and the ids of the devices it has now (PCI addresses, USB "
                    "identities, mdev UUIDs), a tuple.")

AdvertisedDevice = collections.namedtuple("AdvertisedDevice", "id healthy numa_node")
AdvertisedDevice.__new__.__defaults__ = (True, None)
AdvertisedDevice.__doc__ = ("A device for Server.set_devices(): its id, healthy (bool) and NUMA "
                            "node (None: no topology).")


class DevicePluginConfig:
    """A parsed resource selection config (docs/device-plugin.md, "Resource selection config").

    Make one with DevicePluginConfig.parse(ctx, text_or_dict) or .load(ctx, path); a malformed
    config raises hostdev.InvalidArgument whose message names the entry, the key and the remedy.
    Apply it to the host with ctx.resolve_resources(config).
    """

    __slots__ = ("_cfg", "source")

    def __init__(self, raw, source):
        self._cfg = raw
        #: Where it came from: the path, or "<text>".
        self.source = source

    @classmethod
    def parse(cls, ctx, text):
        """Parse @text: JSON as str or bytes, or a dict / list structure (dumped to JSON)."""
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "surrogateescape")
        elif not isinstance(text, str):
            text = json.dumps(text)
        with ctx._lock:
            return cls(_call(_c.hdb_dp_config_parse, ctx._raw(), text), "<text>")

    @classmethod
    def load(cls, ctx, path):
        """Read and parse the config file @path (hostdev.NotFound when it does not exist)."""
        path = os.fspath(path)
        with ctx._lock:
            return cls(_call(_c.hdb_dp_config_load, ctx._raw(), path), path)

    def __repr__(self):
        return "<hostdev.DevicePluginConfig %s>" % self.source


class Resources(collections.abc.Sequence):
    """The resources a config gives on this host (Context.resolve_resources()), sorted by name: a
    sequence of Resource, also indexable by name (``resources["example.com/nic"]``)."""

    def __init__(self, raw):
        self._res = raw
        items = []
        for i in range(_c.hostdev_dp_resources_get_count(raw)):
            kind = _c.hostdev_dp_resources_get_kind(raw, i)
            items.append(Resource(
                _c.hostdev_dp_resources_get_name(raw, i), KINDS.get(kind, str(kind)),
                tuple(_c.hostdev_dp_resources_get_device_id(raw, i, j)
                      for j in range(_c.hostdev_dp_resources_get_device_count(raw, i)))))
        self._items = tuple(items)
        self._index = {r.name: i for i, r in enumerate(items)}

    def __len__(self):
        return len(self._items)

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return self._items[self._index[key]]
            except KeyError:
                raise KeyError("no resource %r (resources: %s)"
                               % (key, ", ".join(self._index) or "none")) from None
        return self._items[key]

    def __contains__(self, item):
        if isinstance(item, str):
            return item in self._index
        return item in self._items

    def names(self):
        """The resource names, in order."""
        return [r.name for r in self._items]

    def index(self, resource, *args):
        """The position of @resource: an int, a name or a Resource."""
        if isinstance(resource, bool):
            raise TypeError("expected a resource index, name or Resource, got %r" % (resource,))
        if isinstance(resource, int):
            if not -len(self._items) <= resource < len(self._items):
                raise IndexError("resource index %d out of range (%d resources)"
                                 % (resource, len(self._items)))
            return resource % len(self._items)
        if isinstance(resource, Resource):
            resource = resource.name
        if isinstance(resource, str):
            self[resource]  # KeyError with the names
            return self._index[resource]
        raise TypeError("expected a resource index, name or Resource, got %r" % (resource,))

    def permitted_host_devices(self, format="yaml"):
        """KubeVirt's spec.configuration.permittedHostDevices for these resources, as YAML or
        JSON text ('yaml' or 'json'); docs/device-plugin.md says how to merge it."""
        if format not in FORMATS:
            raise ValueError("format must be 'yaml' or 'json', not %r" % (format,))
        return _call(_c.hdb_dp_resources_permitted_host_devices, self._res, FORMATS[format])

    def __repr__(self):
        return "<hostdev.Resources %s>" % (", ".join(self._index) or "none")


def _server_options(registration, kubelet_dir, device_plugin_dir, plugins_registry_dir,
                    socket_name, refresh_ms):
    """The option arguments of the hdb_dp_server_new_* shims."""
    if registration not in REGISTRATIONS:
        raise ValueError("registration must be 'classic', 'watcher' or 'none', not %r"
                         % (registration,))
    if kubelet_dir is not None:
        kubelet_dir = os.fspath(kubelet_dir)
        if device_plugin_dir is None:
            device_plugin_dir = os.path.join(kubelet_dir, "device-plugins")
        if plugins_registry_dir is None:
            plugins_registry_dir = os.path.join(kubelet_dir, "plugins_registry")
    if refresh_ms is None:
        refresh_ms = 0
    elif (isinstance(refresh_ms, bool) or not isinstance(refresh_ms, int) or refresh_ms == 0
          or refresh_ms < -1):
        raise ValueError("refresh_ms must be None, a positive number of milliseconds or -1, "
                         "not %r" % (refresh_ms,))
    return (REGISTRATIONS[registration], socket_name or "",
            os.fspath(device_plugin_dir) if device_plugin_dir else "",
            os.fspath(plugins_registry_dir) if plugins_registry_dir else "", refresh_ms)


def _add_devices(lst, devices):
    """Add @devices (ids, AdvertisedDevice or tuples) to the hostdev_dp_devices @lst."""
    for d in devices:
        d = AdvertisedDevice(d) if isinstance(d, str) else AdvertisedDevice(*d)
        r = _c.hostdev_dp_devices_add(lst, d.id, 1 if d.healthy else 0,
                                      -1 if d.numa_node is None else int(d.numa_node))
        if r == -_errno.EINVAL:
            raise error_for(r, "device id %r is not valid: 1-63 characters of [A-Za-z0-9._:-], "
                               "alphanumeric at both ends" % (d.id,))
        if r == -_errno.EEXIST:
            raise error_for(r, "device id %r is in the list twice" % (d.id,))
        if r < 0:
            raise error_for(r)


class Allocation:
    """What one container gets from allocate() of a Python plugin (serve_plugin()).

    @envs: {name: value}; @devices: device nodes, each a host path (also the container path,
    permissions 'mrw') or a (container_path, host_path[, permissions]) tuple; @mounts:
    (container_path, host_path[, read_only]) tuples; @annotations: {key: value}; @cdi_devices:
    fully qualified CDI device names.
    """

    __slots__ = ("envs", "devices", "mounts", "annotations", "cdi_devices")

    def __init__(self, envs=None, devices=(), mounts=(), annotations=None, cdi_devices=()):
        self.envs = dict(envs or {})
        self.devices = [(d, d, "mrw") if isinstance(d, str) else tuple(d) for d in devices]
        self.mounts = [tuple(m) for m in mounts]
        self.annotations = dict(annotations or {})
        self.cdi_devices = list(cdi_devices)

    def __repr__(self):
        return "<hostdev.Allocation envs=%r devices=%r>" % (self.envs, self.devices)


_PLUGIN_METHODS = ("list_devices", "allocate", "get_preferred_allocation", "pre_start_container")


class _PluginBridge:
    """What the C ops of a Python plugin call (bindings/python/hostdev_python_dp.i): each method
    returns 0 or a negative errno and never raises."""

    def __init__(self, plugin, resource_name, log):
        self.plugin = plugin
        self.resource_name = resource_name
        self.log = log

    def _fail(self, method, e, resp=None):
        if isinstance(e, OSError) and e.errno:
            code = e.errno
            message = e.strerror or str(e)
        else:
            code = _errno.EINVAL if isinstance(e, (ValueError, TypeError)) else _errno.EIO
            message = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
        if resp is not None:
            _c.hostdev_dp_response_set_error(resp, message)
        elif self.log is not None:
            # The library logs the failure with strerror only: the words go to the log here.
            try:
                self.log(_c.HOSTDEV_LOG_WARNING, "resource %s: %s of the Python plugin failed: %s"
                         % (self.resource_name, method, message))
            except Exception:
                pass
        return -code

    def _list(self, devices):
        try:
            _add_devices(devices, self.plugin.list_devices() or ())
            return 0
        except BaseException as e:
            return self._fail("list_devices", e)

    def _allocate(self, ids, resp):
        try:
            answer = self.plugin.allocate(list(ids))
            if answer is None:
                return 0
            if not isinstance(answer, Allocation):
                raise TypeError("allocate() must return a hostdev.Allocation or None, not %r"
                                % (answer,))
            calls = [(_c.hostdev_dp_response_set_env, k, v) for k, v in answer.envs.items()]
            calls += [(_c.hostdev_dp_response_add_device, *(tuple(d) + ("mrw",))[:3])
                      for d in answer.devices]
            calls += [(_c.hostdev_dp_response_add_mount, m[0], m[1],
                       int(bool(m[2])) if len(m) > 2 else 0) for m in answer.mounts]
            calls += [(_c.hostdev_dp_response_set_annotation, k, v)
                      for k, v in answer.annotations.items()]
            calls += [(_c.hostdev_dp_response_add_cdi_device, n) for n in answer.cdi_devices]
            for fn, *args in calls:
                r = fn(resp, *(str(a) if not isinstance(a, int) else a for a in args))
                if r < 0:
                    raise error_for(r, "allocate(): invalid answer %s%r"
                                    % (fn.__name__.replace("hostdev_dp_response_", ""),
                                       tuple(args)))
            return 0
        except BaseException as e:
            return self._fail("allocate", e, resp)

    def _preferred(self, available, must_include, size, resp):
        try:
            for i in self.plugin.get_preferred_allocation(list(available), list(must_include),
                                                          size) or ():
                r = _c.hostdev_dp_response_add_id(resp, str(i))
                if r < 0:
                    raise error_for(r, "get_preferred_allocation(): invalid id %r" % (i,))
            return 0
        except BaseException as e:
            return self._fail("get_preferred_allocation", e, resp)

    def _prestart(self, ids):
        try:
            self.plugin.pre_start_container(list(ids))
            return 0
        except BaseException as e:
            return self._fail("pre_start_container", e)


# Every open loop, closed at interpreter exit: the loop's thread calls the log callback, which
# must not run once the interpreter is finalising.
_open_loops = weakref.WeakSet()


@atexit.register
def _close_open_loops():
    for loop in list(_open_loops):
        loop.close()


class DevicePluginLoop:
    """The event loop that serves device plugins (hostdev_dp_loop): every server socket, kubelet
    call, timer and watch of its servers.

    Drive it in one of three ways:
      - ``loop.start_thread()``: a thread of its own (stop_thread() or close() ends it);
      - ``loop.run()`` on the calling thread until ``loop.quit()`` (from a signal handler, a log
        callback or another thread); KeyboardInterrupt and other signal exceptions end it too;
      - embedded: poll ``loop.fileno()`` for input (selectors, asyncio's add_reader) and call
        ``loop.dispatch(0)`` when it is readable.
    The GIL is released while the loop waits and works.

    @log: a callable(priority, message) for the loop's messages (registration, lists sent,
    failures); default the Context's log callback. It runs on the loop's thread (or on the thread
    that made the call) and must not call methods of this loop or its servers. @log_priority: the
    last priority delivered (default the Context's; hostdev.LOG_INFO shows the life of each
    server).

    Use it as a context manager or call close(): that stops the thread and every server (their
    ListAndWatch streams get an empty list, the sockets are removed).
    """

    _DEFAULT = object()

    def __init__(self, ctx, *, log=_DEFAULT, log_priority=None):
        self._lock = threading.Lock()
        self._servers = []
        self._managers = []
        self._dra_plugins = []
        self._thread = False
        self._quit = False
        self._log = None
        self._ctx = self._loop = None
        with ctx._lock:
            lctx = _call(_c.hdb_ctx_clone, ctx._raw())
            fn = ctx._log if log is DevicePluginLoop._DEFAULT else log
        self._ctx = lctx
        try:
            if log_priority is not None:
                _c.hostdev_ctx_set_log_priority(lctx, int(log_priority))
            if fn is not None:
                _c.hdb_ctx_set_log_python(lctx, fn)
                self._log = fn  # the C side holds a borrowed pointer
            self._loop = _call(_c.hdb_dp_loop_new, lctx)
        except BaseException:
            self.close()
            raise
        _open_loops.add(self)

    def _raw(self):
        loop = self._loop
        if loop is None:
            raise ValueError("operation on a closed hostdev.DevicePluginLoop")
        return loop

    # -- driving the loop ----------------------------------------------------------------------

    def start_thread(self):
        """Run the loop on a thread of its own. hostdev.Error (EALREADY) when one runs."""
        _call(_c.hdb_dp_loop_start_thread, self._ctx, self._raw())
        self._thread = True

    def stop_thread(self):
        """Quit the loop's thread and wait for it (nothing when none runs)."""
        loop = self._loop
        if loop is not None:
            _call(_c.hdb_dp_loop_stop_thread, self._ctx, loop)
        self._thread = False

    @property
    def thread_running(self):
        """True between start_thread() and stop_thread()."""
        return self._thread

    def fileno(self):
        """The loop's epoll fd: when it is readable, call dispatch(0)."""
        return _c.hostdev_dp_loop_get_fd(self._raw())

    def dispatch(self, timeout_ms=0):
        """Wait up to @timeout_ms (0: not at all, None or -1: no limit) for events and handle
        them; returns how many were handled (0 on timeout, or when a signal interrupted the wait:
        its Python handler runs when this returns). hostdev.Busy while the loop's thread runs."""
        timeout_ms = -1 if timeout_ms is None else int(timeout_ms)
        st = _c.hdb_status()
        r = _c.hdb_dp_loop_dispatch(self._ctx, self._raw(), timeout_ms, st)
        if r == -_errno.EINTR:
            return 0
        if r < 0:
            raise error_for(r, st.message())
        return r

    def run(self):
        """Dispatch on this thread until quit(). The GIL is released while it waits."""
        loop = self._raw()
        while not self._quit:
            self.dispatch(_RUN_SLICE_MS)
        self._quit = False
        # quit() set the C loop's quit flag too; hostdev_dp_loop_run() consumes it and returns
        # at once, so that a later start_thread() or run() does not stop right away.
        _call(_c.hdb_dp_loop_run, self._ctx, loop)

    def quit(self):
        """Make run() (or the loop's thread) return. Safe from signal handlers, log callbacks and
        other threads."""
        self._quit = True
        loop = self._loop
        if loop is not None:
            _c.hostdev_dp_loop_quit(loop)

    def _flush(self):
        """Without a thread: dispatch until idle, so that what servers queued (the empty list and
        the end of a stream on stop) reaches the kubelet."""
        loop = self._loop
        if loop is None or self._thread:
            return
        st = _c.hdb_status()
        deadline = time.monotonic() + _FLUSH_S
        while time.monotonic() < deadline:
            if _c.hdb_dp_loop_dispatch(self._ctx, loop, 50, st) <= 0:
                break

    # -- servers -------------------------------------------------------------------------------

    def serve(self, resources, resource, *, registration="classic", kubelet_dir=None,
              device_plugin_dir=None, plugins_registry_dir=None, socket_name=None,
              refresh_ms=None, start=True):
        """A Server for one resource of @resources (a Resources from ctx.resolve_resources())
        with the built-in plugin of its kind, started unless start=False.

        @resource: its index, name or Resource. @registration: 'classic' (Register on
        kubelet.sock, re-register when the kubelet restarts), 'watcher' (a socket in
        plugins_registry) or 'none' (only serve the socket). @kubelet_dir: the kubelet's root
        (default the context's kubelet path): the socket and kubelet.sock are in
        <kubelet_dir>/device-plugins, the watcher's socket in <kubelet_dir>/plugins_registry;
        @device_plugin_dir / @plugins_registry_dir set either directly. @socket_name: the
        socket's file name (default from the resource name). @refresh_ms: how often the devices
        are re-read (None: DEFAULT_REFRESH_MS, -1: never; hot-plug code calls refresh()).

        Errors: KeyError / IndexError for an unknown resource, InvalidArgument (a directory too
        long for a socket path...), hostdev.Error with EADDRINUSE when another process serves the
        socket. The loop keeps the server until server.close() or its own close().
        """
        options = _server_options(registration, kubelet_dir, device_plugin_dir,
                                  plugins_registry_dir, socket_name, refresh_ms)
        if not isinstance(resources, Resources):
            raise TypeError("expected hostdev.Resources (ctx.resolve_resources()), got %r"
                            % (resources,))
        index = resources.index(resource)
        raw = _call(_c.hdb_dp_server_new_builtin, self._ctx, self._raw(), resources._res, index,
                    *options)
        return self._add(Server(self, raw, resources[index]), start)

    def serve_plugin(self, resource_name, plugin, *, registration="classic", kubelet_dir=None,
                     device_plugin_dir=None, plugins_registry_dir=None, socket_name=None,
                     refresh_ms=None, start=True):
        """A Server for @resource_name whose answers come from @plugin, an object written in
        Python with any of these methods (docs/bindings.md):

          list_devices()  -> the devices the resource has now: ids, AdvertisedDevice or
                             (id, healthy[, numa_node]) tuples; called at start, by refresh()
                             and every refresh interval. Without it the list is only what
                             set_devices() gives.
          allocate(ids)   -> an Allocation (or None: an empty one) for one container.
          get_preferred_allocation(available, must_include, size) -> preferred ids; the
                             server makes the answer follow the kubelet's contract. Without
                             it, GetPreferredAllocation is not offered.
          pre_start_container(ids) -> None. Without it, PreStartContainer is not asked for.

        They run on the loop's thread (or the thread calling refresh()) with the GIL, one at a
        time. An exception fails the call: an OSError's errno (hostdev.Error included) picks the
        gRPC status (EINVAL invalid argument, ENOENT/ENODEV not found, EBUSY/EPERM failed
        precondition, others internal), ValueError and TypeError count as EINVAL, anything else
        as EIO; the kubelet gets its message. The options are those of serve()."""
        options = _server_options(registration, kubelet_dir, device_plugin_dir,
                                  plugins_registry_dir, socket_name, refresh_ms)
        bridge = _PluginBridge(plugin, resource_name, self._log)
        raw = _call(_c.hdb_dp_server_new_python, self._ctx, self._raw(), resource_name, bridge,
                    *(int(callable(getattr(plugin, m, None))) for m in _PLUGIN_METHODS),
                    *options)
        return self._add(Server(self, raw, None), start)

    def _add(self, server, start):
        with self._lock:
            self._servers.append(server)
        if start:
            try:
                server.start()
            except BaseException:
                server.close()
                raise
        return server

    def serve_all(self, resources, **options):
        """serve() every resource of @resources with the same options; the started Servers. When
        one fails, the ones already started are closed."""
        servers = []
        try:
            for i in range(len(resources)):
                servers.append(self.serve(resources, i, **options))
        except BaseException:
            for s in servers:
                s.close()
            raise
        return servers

    def serve_config(self, config, *, grace_ms=None, resolve_interval_ms=0, hotplug=True,
                     registration="classic", kubelet_dir=None, device_plugin_dir=None,
                     plugins_registry_dir=None, refresh_ms=None, start=True):
        """A DevicePluginManager that serves every resource of @config (a DevicePluginConfig), one
        built-in server each, following hot-plug (hostdev_dp_manager, docs/device-plugin.md "Resources
        follow hot-plug"): every USB/PCI event resolves the config again on the loop, a new
        resource name gets its server at once, one whose last device left lists its devices
        Unhealthy for @grace_ms (None: DEFAULT_GRACE_MS, 0: it ends at once, -1: never), then
        ends. @resolve_interval_ms: also resolve every that many ms (0: on events only, or at
        the refresh interval when the host delivers none; -1: never). @hotplug=False: no event
        watch (resolve() and the interval only). The server options are serve()'s, without
        socket_name (each resource's socket is named after it). Started unless start=False.

        Errors: TypeError for a config of the wrong type, ValueError for a bad option,
        InvalidArgument, or the error of a server that cannot start, naming the resource (the
        ones started are stopped again). The loop keeps the manager until manager.close() or
        its own close()."""
        if not isinstance(config, DevicePluginConfig):
            raise TypeError("expected hostdev.DevicePluginConfig (DevicePluginConfig.parse() or "
                            ".load()), got %r" % (config,))
        if grace_ms is None:
            grace_ms = DEFAULT_GRACE_MS
        for label, value in (("grace_ms", grace_ms), ("resolve_interval_ms", resolve_interval_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or value < -1:
                raise ValueError("%s must be 0 or more milliseconds, or -1, not %r"
                                 % (label, value))
        registration_, _, dp_dir, reg_dir, refresh = _server_options(
            registration, kubelet_dir, device_plugin_dir, plugins_registry_dir, None, refresh_ms)
        raw = _call(_c.hdb_dp_manager_new, self._ctx, self._raw(), config._cfg, registration_,
                    dp_dir, reg_dir, refresh, grace_ms, resolve_interval_ms, int(bool(hotplug)))
        manager = DevicePluginManager(self, raw, config)
        with self._lock:
            self._managers.append(manager)
        if start:
            try:
                manager.start()
            except BaseException:
                manager.close()
                raise
        return manager

    def _forget_manager(self, manager):
        with self._lock:
            if manager in self._managers:
                self._managers.remove(manager)

    @property
    def managers(self):
        """The managers of this loop (serve_config()) that are not closed."""
        with self._lock:
            return tuple(self._managers)

    def serve_dra(self, driver_name: str, *, prepare: Optional[PrepareFn] = None,
                  unprepare: Optional[UnprepareFn] = None,
                  on_registration: Optional[RegistrationFn] = None,
                  kubelet_dir: Optional[StrPath] = None, plugin_dir: Optional[StrPath] = None,
                  registry_dir: Optional[StrPath] = None,
                  api_versions: Optional[Iterable[str]] = None,
                  kubelet_uid: Optional[int] = None, registration: bool = True,
                  start: bool = True) -> DraPlugin:
        """A hostdev.DraPlugin: the kubelet DRA plugin of driver @driver_name (a DNS subdomain,
        e.g. "vfio.hostdev.io"), started unless start=False (docs/dra.md, docs/bindings.md).

          prepare(claim)   -> the prepared devices of @claim (a hostdev.DraClaim: namespace,
                              name, uid, api_version): hostdev.DraDevice or (pool, device,
                              requests, cdi_ids) tuples, or None for none. Must be idempotent:
                              the kubelet repeats Prepare. None: every claim fails.
          unprepare(claim) -> None. A claim the driver does not know must succeed. None: every
                              unprepare succeeds.
          on_registration(registered, error) -> None: each report of the kubelet's plugin
                              watcher (also after every kubelet restart: republish the node's
                              ResourceSlices there).

        They run on the loop's thread with the GIL, one at a time, and hold up the loop's other
        sockets while they run. Raising fails the claim (not the kubelet's call): the kubelet gets
        the exception's message (an OSError's strerror, hostdev.Error's message) and retries.

        @kubelet_dir: the kubelet's root (default the context's kubelet path): the DRA socket is
        <kubelet_dir>/plugins/<driver>/dra.sock and the registration socket
        <kubelet_dir>/plugins_registry/<driver>-reg.sock; @plugin_dir / @registry_dir set either
        directly. @api_versions: the versions served and advertised, of "v1" and "v1beta1"
        (None: both). @kubelet_uid: a uid let in besides root and this process's user.
        registration=False serves the DRA socket alone. Errors: InvalidArgument (bad driver name,
        a socket path too long), hostdev.Error with EADDRINUSE when another process serves a
        socket. The loop keeps the plugin until plugin.close() or its own close()."""
        from ._dra import serve_dra

        return serve_dra(self, driver_name, prepare=prepare, unprepare=unprepare,
                         on_registration=on_registration, kubelet_dir=kubelet_dir,
                         plugin_dir=plugin_dir, registry_dir=registry_dir,
                         api_versions=api_versions, kubelet_uid=kubelet_uid,
                         registration=registration, start=start)

    def _add_dra(self, plugin):
        with self._lock:
            self._dra_plugins.append(plugin)

    def _forget_dra(self, plugin):
        with self._lock:
            if plugin in self._dra_plugins:
                self._dra_plugins.remove(plugin)

    @property
    def dra_plugins(self):
        """The DRA plugins of this loop that are not closed."""
        with self._lock:
            return tuple(self._dra_plugins)

    @property
    def servers(self):
        """The servers of this loop that are not closed."""
        with self._lock:
            return tuple(self._servers)

    def _forget(self, server):
        with self._lock:
            if server in self._servers:
                self._servers.remove(server)

    # -- lifetime ------------------------------------------------------------------------------

    def close(self):
        """Stop the thread and every server, release the loop. Safe to call twice."""
        with self._lock:
            servers, self._servers = self._servers, []
            managers, self._managers = self._managers, []
            dra_plugins, self._dra_plugins = self._dra_plugins, []
        loop = self._loop
        if loop is not None:
            _c.hdb_dp_loop_stop_thread(self._ctx, loop, _c.hdb_status())
            self._thread = False
        for s in servers:
            s._release()
        for m in managers:
            m._release()
        for p in dra_plugins:
            p._release()
        self._flush()
        self._loop = None
        del loop  # the last reference: hostdev_dp_loop_unref()
        ctx, self._ctx = self._ctx, None
        if ctx is not None and self._log is not None:
            # Only now: no thread uses the loop's context any more.
            _c.hdb_ctx_set_log_python(ctx, None)
        self._log = None
        _open_loops.discard(self)

    @property
    def closed(self):
        return self._loop is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            try:
                self.close()
            except Exception:  # interpreter shutdown
                pass

    def __repr__(self):
        if self.closed:
            return "<hostdev.DevicePluginLoop closed>"
        return "<hostdev.DevicePluginLoop %d servers%s>" % (
            len(self._servers), ", thread" if self._thread else "")


class Server:
    """A device-plugin server for one extended resource (hostdev_dp_server), made by
    DevicePluginLoop.serve(). Use it as a context manager (closed, hence stopped, on exit) or call
    close()."""

    def __init__(self, loop, raw, resource):
        self._loop = loop
        self._srv = raw
        #: The Resource it serves, as resolved (its devices follow the host since); None for a
        #: Python plugin (serve_plugin()).
        self.resource = resource
        self._name = _c.hostdev_dp_server_get_resource_name(raw)
        self._path = _c.hostdev_dp_server_get_socket_path(raw)

    def _raw(self):
        srv = self._srv
        if srv is None:
            raise ValueError("operation on a closed hostdev.Server")
        return srv

    def start(self):
        """Read the devices, listen on the socket (replacing a stale one) and start registering;
        returns once listening. hostdev.Error with EALREADY (started), EADDRINUSE (another
        process serves the socket), or the error of reading the devices."""
        _call(_c.hdb_dp_server_start, self._loop._ctx, self._raw())

    def stop(self):
        """Every ListAndWatch stream gets an empty list and ends, the socket is removed. A stopped
        server can be started again."""
        _call(_c.hdb_dp_server_stop, self._loop._ctx, self._raw())
        self._loop._flush()

    def refresh(self):
        """Re-read the devices now and send the list if it changed (after a hot-plug event)."""
        _call(_c.hdb_dp_server_refresh, self._loop._ctx, self._raw())

    def set_devices(self, devices):
        """Advertise @devices until the next refresh: ids (healthy, no NUMA node),
        AdvertisedDevice or (id, healthy[, numa_node]) tuples."""
        lst = _call(_c.hdb_dp_devices_new)
        _add_devices(lst, devices)
        _call(_c.hdb_dp_server_set_devices, self._loop._ctx, self._raw(), lst)

    @property
    def state(self):
        """'stopped', 'registering' (serving, registration in flight or waiting to retry),
        'registered' (the kubelet accepted it) or 'serving' (registration 'none')."""
        return STATES[_c.hostdev_dp_server_get_state(self._raw())]

    @property
    def registrations(self):
        """How many times the kubelet accepted a registration (1 after the first)."""
        return _c.hostdev_dp_server_get_registrations(self._raw())

    @property
    def socket_path(self):
        """Absolute path of the plugin socket (also after close())."""
        return self._path

    @property
    def resource_name(self):
        """The extended resource name (also after close())."""
        return self._name

    def _release(self):
        srv, self._srv = self._srv, None
        if srv is None:
            return
        # Stopped explicitly: a reference left elsewhere (the traceback of an exception keeps the
        # arguments of _call()) would otherwise keep it serving.
        _c.hdb_dp_server_stop(self._loop._ctx, srv, _c.hdb_status())
        del srv  # normally the last reference: hostdev_dp_server_unref() frees it

    def close(self):
        """Stop the server and release it (and a Python plugin). Safe to call twice."""
        if self._srv is None:
            return
        self._loop._forget(self)
        self._release()
        self._loop._flush()

    @property
    def closed(self):
        return self._srv is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self.closed:
            return "<hostdev.Server %s closed>" % self._name
        return "<hostdev.Server %s %s on %s>" % (self.resource_name, self.state, self.socket_path)


class ServedResource(collections.namedtuple("ServedResource",
                                            "resource_name socket_path state registrations")):
    """What a DevicePluginManager serves for one resource, as of the moment it was read."""
    __slots__ = ()


class DevicePluginManager:
    """The servers of a whole config, following hot-plug (hostdev_dp_manager), made by
    DevicePluginLoop.serve_config(). Use it as a context manager (closed, hence stopped, on exit)
    or call close(). Everything it does happens on the loop: drive the loop and it follows."""

    def __init__(self, loop, raw, config):
        self._loop = loop
        self._mgr = raw
        #: The DevicePluginConfig it serves.
        self.config = config

    def _raw(self):
        mgr = self._mgr
        if mgr is None:
            raise ValueError("operation on a closed hostdev.DevicePluginManager")
        return mgr

    def start(self):
        """Resolve the config, start a server for each resource and follow hot-plug.
        hostdev.Error with EALREADY (started), or the error of a server that cannot start."""
        _call(_c.hdb_dp_manager_start, self._loop._ctx, self._raw())

    def stop(self):
        """Stop following hot-plug and stop every server (empty lists, sockets removed). It can
        be started again."""
        _call(_c.hdb_dp_manager_stop, self._loop._ctx, self._raw())
        self._loop._flush()

    def resolve(self):
        """Resolve the config again now, as a hot-plug event does."""
        _call(_c.hdb_dp_manager_resolve, self._loop._ctx, self._raw())

    def refresh(self):
        """Re-read every server's devices now."""
        _call(_c.hdb_dp_manager_refresh, self._loop._ctx, self._raw())

    @property
    def resources(self):
        """A ServedResource per server now, in the order they started (they come and go with
        hot-plug)."""
        mgr = self._raw()
        out = []
        for i in range(_c.hostdev_dp_manager_get_count(mgr)):
            srv = _c.hdb_dp_manager_get_server(mgr, i)
            if srv is None:  # ended since the count was read
                break
            out.append(ServedResource(_c.hostdev_dp_server_get_resource_name(srv),
                                      _c.hostdev_dp_server_get_socket_path(srv),
                                      STATES[_c.hostdev_dp_server_get_state(srv)],
                                      _c.hostdev_dp_server_get_registrations(srv)))
        return tuple(out)

    def _release(self):
        mgr, self._mgr = self._mgr, None
        if mgr is None:
            return
        _c.hdb_dp_manager_stop(self._loop._ctx, mgr, _c.hdb_status())
        del mgr  # normally the last reference: hostdev_dp_manager_unref() frees it

    def close(self):
        """Stop every server and release the manager. Safe to call twice."""
        if self._mgr is None:
            return
        self._loop._forget_manager(self)
        self._release()
        self._loop._flush()

    @property
    def closed(self):
        return self._mgr is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self.closed:
            return "<hostdev.DevicePluginManager closed>"
        return "<hostdev.DevicePluginManager %s: %d resources>" % (self.config.source,
                                                                  len(self.resources))
