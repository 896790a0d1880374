# SPDX-License-Identifier: Apache-2.0
"""Device-plugin serving from Python: configs, resolved resources, permittedHostDevices, and servers
with the built-in vfio PCI plugin on a fake root (bench/gen-dp-root.py: 82574L functions on
vfio-pci, one IOMMU group each, NUMA 0/1) registered with a fake kubelet written with Python grpcio
(tests/deviceplugin/fake_kubelet.py, an independent gRPC implementation) that runs in this process.

The fixtures (fk, dp_root, kubelet_dir, kubelet) are in conftest.py.
"""
import errno
import json
import os
import selectors
import signal
import threading
import time

import pytest

import conftest
import hostdev

RESOURCE = "example.com/nic"
ENV = "PCI_RESOURCE_EXAMPLE_COM_NIC"
CONFIG = {"resources": [{"kind": "pci", "resourceName": RESOURCE,
                         "selectors": {"vendorDevice": ["8086:10d3"]}}]}


@pytest.fixture
def dp_ctx(dp_root):
    with hostdev.Context(dp_root.root) as ctx:
        yield ctx


def allocate(fk, socket, *id_lists):
    stub = fk.svc.DevicePluginStub(fk.channel_to(socket))
    return stub.Allocate(fk.pb.AllocateRequest(container_requests=[
        fk.pb.ContainerAllocateRequest(devices_ids=list(ids)) for ids in id_lists]),
        timeout=conftest.WAIT)


wait_until = conftest.wait_until


# -- config, resources, permittedHostDevices ------------------------------------------------------


def test_config_parse_load_and_errors(dp_ctx, tmp_path):
    cfg = hostdev.DevicePluginConfig.parse(dp_ctx, CONFIG)
    assert cfg.source == "<text>"
    hostdev.DevicePluginConfig.parse(dp_ctx, json.dumps(CONFIG))
    hostdev.DevicePluginConfig.parse(dp_ctx, json.dumps(CONFIG).encode())
    path = tmp_path / "dp.json"
    path.write_text(json.dumps(CONFIG))
    assert hostdev.DevicePluginConfig.load(dp_ctx, path).source == str(path)

    # The library's messages: entry, key, what to write.
    with pytest.raises(hostdev.InvalidArgument) as e:
        hostdev.DevicePluginConfig.parse(dp_ctx, {"resources": [{
            "kind": "pci", "resourceName": "nic", "selectors": {"vendorDevice": ["8086:10d3"]}}]})
    assert e.value.errno == errno.EINVAL
    assert 'resources[0] "nic"' in e.value.message and "resourceName" in e.value.message
    with pytest.raises(hostdev.InvalidArgument) as e:
        hostdev.DevicePluginConfig.parse(dp_ctx, {"resources": [{
            "kind": "pci", "resourceName": RESOURCE,
            "selectors": {"vendorDevice": ["8086:10d3", "8086:10dx"]}}]})
    assert e.value.message.startswith(
        'resources[0] "example.com/nic": selectors.vendorDevice[1] "8086:10dx" is not a '
        "vendor:device id"), e.value.message
    with pytest.raises(hostdev.InvalidArgument) as e:
        hostdev.DevicePluginConfig.parse(dp_ctx, {"resources": [CONFIG["resources"][0]] * 2})
    assert "resourceName is also the name of resources[0]" in e.value.message
    with pytest.raises(hostdev.InvalidArgument) as e:
        hostdev.DevicePluginConfig.parse(dp_ctx, '{"resources": [\n{"kind": "pci",}]}')
    assert "not valid JSON" in e.value.message and "line 2" in e.value.message
    with pytest.raises(hostdev.NotFound) as e:
        hostdev.DevicePluginConfig.load(dp_ctx, tmp_path / "missing.json")
    assert e.value.errno == errno.ENOENT and "missing.json" in e.value.message
    # A failure leaves the context usable and its message readable.
    assert "missing.json" in dp_ctx.error


def test_resolve_resources(dp_ctx, dp_root):
    res = dp_ctx.resolve_resources(hostdev.DevicePluginConfig.parse(dp_ctx, CONFIG))
    assert len(res) == 1 and res.names() == [RESOURCE]
    assert res[0] == hostdev.Resource(RESOURCE, "pci", tuple(dp_root.ids))
    assert res[RESOURCE] is res[0] and RESOURCE in res and res[0] in res
    assert res.index(RESOURCE) == 0 and res.index(res[0]) == 0 and res.index(-1) == 0
    with pytest.raises(KeyError) as e:
        res["example.com/none"]
    assert RESOURCE in str(e.value)
    with pytest.raises(IndexError):
        res.index(1)
    # JSON text and dicts are parsed on the fly.
    assert list(dp_ctx.resolve_resources(json.dumps(CONFIG))) == list(res)
    # An explicit name exists with no device; per-device names come from the host.
    res = dp_ctx.resolve_resources({"resources": [
        {"kind": "pci", "resourceName": "example.com/none",
         "selectors": {"vendorDevice": ["10de:1eb8"]}},
        {"kind": "pci", "naming": "per-device", "selectors": {"address": [dp_root.ids[1]]}},
        {"kind": "pci", "resourceName": RESOURCE, "selectors": {"vendorDevice": ["8086:10d3"]}},
    ]})
    assert [(r.name, r.device_ids) for r in res] == [
        (RESOURCE, (dp_root.ids[0], dp_root.ids[2])),
        ("example.com/none", ()),
        ("intel.com/%s-000002000" % dp_ctx.node_name, (dp_root.ids[1],)),
    ]


def test_permitted_host_devices(dp_ctx):
    res = dp_ctx.resolve_resources(CONFIG)
    assert json.loads(res.permitted_host_devices("json")) == {"permittedHostDevices": {
        "pciHostDevices": [{"pciVendorSelector": "8086:10d3", "resourceName": RESOURCE,
                            "externalResourceProvider": True}]}}
    assert res.permitted_host_devices() == res.permitted_host_devices("yaml")
    assert res.permitted_host_devices("yaml") == (
        "permittedHostDevices:\n"
        "  pciHostDevices:\n"
        '  - pciVendorSelector: "8086:10d3"\n'
        '    resourceName: "example.com/nic"\n'
        "    externalResourceProvider: true\n")
    with pytest.raises(ValueError):
        res.permitted_host_devices("toml")


# -- serving --------------------------------------------------------------------------------------


def test_serve_classic_on_thread(fk, dp_ctx, dp_root, kubelet):
    logs = []
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx, log=lambda p, m: logs.append((p, m)),
                                  log_priority=hostdev.LOG_INFO) as loop:
        loop.start_thread()
        assert loop.thread_running
        server = loop.serve(res, RESOURCE, kubelet_dir=kubelet.root, refresh_ms=-1)
        assert loop.servers == (server,)
        assert server.resource_name == RESOURCE and server.resource == res[0]
        assert server.socket_path == os.path.join(kubelet.plugin_dir, "example.com_nic.sock")

        # Registration: the request, the options the kubelet read back inside Register.
        assert kubelet.wait_registrations(1, timeout=conftest.WAIT), logs
        _, request, options = kubelet.registrations[0]
        assert (request.version, request.endpoint, request.resource_name) == (
            "v1beta1", "example.com_nic.sock", RESOURCE)
        assert options.get_preferred_allocation_available and not options.pre_start_required
        assert wait_until(lambda: server.state == "registered"), server.state
        assert server.registrations == 1

        # ListAndWatch: every device, healthy, with its NUMA node.
        watch = kubelet.last_watch()
        assert watch.wait(lambda w: w.last() and len(w.last()) == 3), watch.lists
        assert watch.last() == [(d["id"], "Healthy", [d["numa"]]) for d in dp_root.devices]

        # Allocate: KubeVirt's variable with the ids in the kubelet's order, the group nodes.
        ids = [dp_root.ids[2], dp_root.ids[0]]
        answer = allocate(fk, server.socket_path, ids, [dp_root.ids[1]])
        assert len(answer.container_responses) == 2
        first = answer.container_responses[0]
        assert dict(first.envs) == {ENV: ",".join(ids)}
        assert [(d.container_path, d.host_path, d.permissions) for d in first.devices] == [
            ("/dev/vfio/vfio", "/dev/vfio/vfio", "mrw")] + [
            ("/dev/vfio/%d" % dp_root.devices[i]["group"],) * 2 + ("mrw",) for i in (2, 0)]
        assert dict(answer.container_responses[1].envs) == {ENV: dp_root.ids[1]}

        # An unknown id: INVALID_ARGUMENT naming it.
        import grpc
        with pytest.raises(grpc.RpcError) as e:
            allocate(fk, server.socket_path, ["0000:ff:1f.7"])
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "0000:ff:1f.7" in e.value.details()

        # A group node goes away; refresh() (what a hot-plug handler calls) sends the change.
        os.unlink(dp_root.group_node(1))
        server.refresh()
        assert watch.wait(lambda w: (dp_root.ids[1], "Unhealthy", [dp_root.devices[1]["numa"]])
                          in w.last()), watch.last()

        # The context stays usable by this thread while the loop's thread works with its copy.
        assert [d.address for d in dp_ctx.pci_devices(ids="8086:10d3")] == dp_root.ids

        # Stop: an empty list, the stream ends, the socket goes.
        server.stop()
        assert watch.wait(lambda w: w.last() == [] and w.ended == "ok"), watch.lists
        assert server.state == "stopped" and not os.path.exists(server.socket_path)

        # Started again: registered a second time.
        server.start()
        assert kubelet.wait_registrations(2, timeout=conftest.WAIT)
        assert wait_until(lambda: server.registrations == 2)
        server.close()
        assert server.closed and loop.servers == ()
        assert not os.path.exists(os.path.join(kubelet.plugin_dir, "example.com_nic.sock"))
        with pytest.raises(ValueError):
            server.state
    assert loop.closed and not loop.thread_running
    # The loop's messages reached the log callback (from the loop's thread, too).
    text = "\n".join(m for _, m in logs)
    assert "registered with the kubelet" in text and "stopped" in text, text


def test_reregisters_after_kubelet_restart(dp_ctx, kubelet):
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.start_thread()
        with loop.serve(res, 0, kubelet_dir=kubelet.root) as server:
            assert kubelet.wait_registrations(1, timeout=conftest.WAIT)
            # The kubelet records a registration before its answer is sent: restarting before
            # the answer arrived would lose it (and its count) on the server's side.
            assert wait_until(lambda: server.registrations == 1)
            kubelet.restart()
            assert kubelet.wait_registrations(2, timeout=conftest.WAIT)
            assert wait_until(lambda: server.registrations == 2)
        assert server.closed and loop.servers == ()


def test_embedded_in_selectors(fk, dp_ctx, dp_root, kubelet_dir):
    """Registration 'none', the loop driven by this thread's selector; the gRPC client on another
    thread (which only gets the GIL because dispatch() releases it)."""
    res = dp_ctx.resolve_resources(CONFIG)
    done = threading.Event()
    result = {}

    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        server = loop.serve(res, RESOURCE, registration="none", kubelet_dir=kubelet_dir)
        assert server.state == "serving"
        assert os.path.dirname(server.socket_path) == os.path.join(kubelet_dir, "device-plugins")

        def client():
            try:
                watch = fk.Watch(fk.channel_to(server.socket_path))
                result["list"] = watch.wait(lambda w: w.last() and len(w.last()) == 3)
                result["allocate"] = allocate(fk, server.socket_path, [dp_root.ids[0]])
                watch.cancel()
            except Exception as e:  # reported by the assertions below
                result["error"] = e
            finally:
                done.set()

        sel = selectors.DefaultSelector()
        sel.register(loop, selectors.EVENT_READ)
        t = threading.Thread(target=client)
        t.start()
        deadline = time.monotonic() + conftest.WAIT
        while not done.is_set() and time.monotonic() < deadline:
            for _key, _ in sel.select(0.05):
                loop.dispatch(0)
        t.join(conftest.WAIT)
        sel.close()
        assert "error" not in result, result
        assert result["list"] and result["allocate"].container_responses[0].envs[ENV] == \
            dp_root.ids[0]
        server.stop()
        assert not os.path.exists(server.socket_path)


def test_run_and_quit(fk, dp_ctx, dp_root, kubelet):
    """run() on this thread until quit() from another thread; the kubelet side works meanwhile."""
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        server = loop.serve(res, RESOURCE, kubelet_dir=kubelet.root)
        seen = {}

        def kubelet_side():
            seen["registered"] = kubelet.wait_registrations(1, timeout=conftest.WAIT)
            watch = kubelet.last_watch()
            seen["list"] = watch and watch.wait(lambda w: w.last() and len(w.last()) == 3)
            # The kubelet records a Register (and opens the stream) before its answer reaches
            # the plugin: the server is registered once that answer is in.
            seen["state"] = conftest.wait_until(lambda: server.state == "registered")
            loop.quit()

        t = threading.Thread(target=kubelet_side)
        t.start()
        loop.run()
        t.join(conftest.WAIT)
        assert seen == {"registered": True, "list": True, "state": True}
        assert server.state == "registered"
        # quit() before run(): run() returns at once, and the thread is not stopped by it.
        loop.quit()
        loop.run()
        loop.start_thread()
        answer = allocate(fk, server.socket_path, [dp_root.ids[0]])
        assert answer.container_responses[0].envs[ENV] == dp_root.ids[0]
        loop.stop_thread()


def test_run_returns_on_signal(dp_ctx, kubelet_dir):
    """A signal handler that calls quit() ends run() (the loop's wait is interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled on the main thread")
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.serve(res, RESOURCE, registration="none", kubelet_dir=kubelet_dir)
        old = signal.signal(signal.SIGUSR1, lambda *_: loop.quit())
        # Without the signal's quit, run() would never return: a last resort that ends it and
        # says so, instead of a hung test.
        rescued = threading.Event()

        def rescue():
            rescued.set()
            loop.quit()

        last_resort = threading.Timer(conftest.WAIT, rescue)
        try:
            timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
            timer.start()
            last_resort.start()
            loop.run()
            assert not rescued.is_set(), "run() did not return on the signal"
        finally:
            last_resort.cancel()
            signal.signal(signal.SIGUSR1, old)


def test_set_devices(fk, dp_ctx, kubelet_dir):
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.start_thread()
        server = loop.serve(res, RESOURCE, registration="none", kubelet_dir=kubelet_dir,
                            refresh_ms=-1)
        watch = fk.Watch(fk.channel_to(server.socket_path))
        assert watch.wait(lambda w: w.last() and len(w.last()) == 3)
        server.set_devices(["dev-a", ("dev-b", False, 1),
                            hostdev.AdvertisedDevice("dev-c", True, 0)])
        assert watch.wait(lambda w: w.last() == [("dev-a", "Healthy", None),
                                                 ("dev-b", "Unhealthy", [1]),
                                                 ("dev-c", "Healthy", [0])]), watch.last()
        with pytest.raises(hostdev.InvalidArgument) as e:
            server.set_devices(["-bad-"])
        assert "-bad-" in e.value.message
        with pytest.raises(hostdev.AlreadyExists):
            server.set_devices(["dev-a", "dev-a"])
        # refresh() reads the host again.
        server.refresh()
        assert watch.wait(lambda w: len(w.last()) == 3 and w.last()[0][0] != "dev-a")
        watch.cancel()


def test_watcher_registration_socket(dp_ctx, kubelet_dir):
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.start_thread()
        with loop.serve(res, RESOURCE, registration="watcher", kubelet_dir=kubelet_dir,
                        socket_name="nic.sock") as server:
            assert server.socket_path == os.path.join(kubelet_dir, "plugins_registry", "nic.sock")
            assert server.state == "registering"
            assert os.path.exists(server.socket_path)
        assert not os.path.exists(server.socket_path)


def test_serve_errors(dp_ctx, kubelet_dir):
    res = dp_ctx.resolve_resources(CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        with pytest.raises(KeyError):
            loop.serve(res, "example.com/other", registration="none")
        with pytest.raises(ValueError):
            loop.serve(res, 0, registration="sometimes")
        with pytest.raises(ValueError):
            loop.serve(res, 0, refresh_ms=0)
        with pytest.raises(TypeError):
            loop.serve(list(res), 0)
        # A directory too long for a socket path: the library's message with the limit.
        with pytest.raises(hostdev.InvalidArgument) as e:
            loop.serve(res, 0, registration="none", device_plugin_dir="/tmp/" + "d" * 120)
        assert "d" * 100 in e.value.message
        server = loop.serve(res, 0, registration="none", kubelet_dir=kubelet_dir)
        with pytest.raises(hostdev.Error) as e:
            server.start()
        assert e.value.errno == errno.EALREADY and RESOURCE in e.value.message
        # A second server on the same socket while the first one serves it.
        loop.start_thread()
        with hostdev.DevicePluginLoop(dp_ctx) as other:
            with pytest.raises(hostdev.Error) as e:
                other.serve(res, 0, registration="none", kubelet_dir=kubelet_dir)
            assert e.value.errno == errno.EADDRINUSE, e.value
            assert "another process serves" in e.value.message
            assert other.servers == ()
        with pytest.raises(hostdev.Error) as e:
            loop.start_thread()
        assert e.value.errno == errno.EALREADY
        with pytest.raises(hostdev.Busy):
            loop.dispatch(0)
        loop.stop_thread()
        assert loop.dispatch(0) >= 0
    with pytest.raises(ValueError):
        loop.fileno()
    with pytest.raises(ValueError):
        server.refresh()


def test_loop_close_stops_servers(fk, dp_ctx, dp_root, kubelet):
    """close() without a thread: the servers stop, the empty lists reach the kubelet."""
    res = dp_ctx.resolve_resources({"resources": [
        {"kind": "pci", "resourceName": RESOURCE, "selectors": {"address": dp_root.ids[:2]}},
        {"kind": "pci", "resourceName": "example.com/other",
         "selectors": {"address": dp_root.ids[2:]}}]})
    loop = hostdev.DevicePluginLoop(dp_ctx)
    servers = loop.serve_all(res, kubelet_dir=kubelet.root)
    assert [s.resource_name for s in servers] == [RESOURCE, "example.com/other"]
    paths = [s.socket_path for s in servers]
    loop.start_thread()
    assert kubelet.wait_registrations(2, timeout=conftest.WAIT)
    watches = list(kubelet.watches)
    assert all(w.wait(lambda w: w.last()) for w in watches)
    loop.stop_thread()
    loop.close()
    assert all(s.closed for s in servers) and loop.servers == ()
    assert not any(os.path.exists(p) for p in paths)
    for w in watches:
        assert w.wait(lambda w: w.last() == [] and w.ended is not None), w.lists
    loop.close()  # twice is fine


def watch_of(kubelet, resource):
    """The fake kubelet's ListAndWatch stream of @resource, once it has one."""
    found = []

    def opened():
        found[:] = [w for w in kubelet.watches if w.thread.name == "watch-" + resource]
        return bool(found)

    assert conftest.wait_until(opened), "no ListAndWatch stream of " + resource
    return found[0]


def test_serve_config_follows_hotplug(fk, dp_ctx, dp_root, kubelet):
    """serve_config(): a server per resource of the config, following the host. No uevents come
    for a fake root: resolve() does what a hot-plug event does. A device plugged later whose
    per-device name is new gets its server, registered at once; when it leaves, its devices are
    listed Unhealthy for the grace period, then the server ends (an empty list, the socket
    removed) while the others serve on."""
    hidden = dp_root.ids[2]
    link = os.path.join(dp_root.root, "sys", "bus", "pci", "devices", hidden)
    aside = os.path.join(dp_root.root, "aside")
    os.rename(link, aside)
    config = hostdev.DevicePluginConfig.parse(dp_ctx, {"resources": [
        {"kind": "pci", "naming": "per-device", "selectors": {"vendorDevice": ["8086:10d3"]}}]})
    logs = []
    with hostdev.DevicePluginLoop(dp_ctx, log=lambda p, m: logs.append(m),
                                  log_priority=hostdev.LOG_INFO) as loop:
        manager = loop.serve_config(config, kubelet_dir=kubelet.root, refresh_ms=-1,
                                    hotplug=False, resolve_interval_ms=-1, grace_ms=-1)
        assert loop.managers == (manager,) and manager.config is config
        loop.start_thread()
        first = manager.resources
        assert len(first) == 2 and all(r.socket_path.startswith(kubelet.plugin_dir) for r in first)
        assert kubelet.wait_registrations(2, timeout=conftest.WAIT), logs

        os.rename(aside, link)
        manager.resolve()
        assert kubelet.wait_registrations(3, timeout=conftest.WAIT), logs
        new = kubelet.registrations[2][1].resource_name
        assert new not in {r.resource_name for r in first}
        assert new.endswith("-" + hidden.replace(":", "").replace(".", "")), new
        assert [r.resource_name for r in manager.resources][2] == new
        watch = watch_of(kubelet, new)
        numa = [dp_root.devices[2]["numa"]]
        assert watch.wait(lambda w: w.last() == [(hidden, "Healthy", numa)]), watch.lists

        # Gone: listed Unhealthy (grace_ms=-1: the server stays), back: Healthy again.
        os.rename(link, aside)
        manager.refresh()
        manager.resolve()
        assert watch.wait(lambda w: w.last() == [(hidden, "Unhealthy", numa)]), watch.lists
        assert len(manager.resources) == 3
        assert any("%s has no device left" % new in m for m in logs), logs
        os.rename(aside, link)
        manager.refresh()
        manager.resolve()
        assert watch.wait(lambda w: w.last() == [(hidden, "Healthy", numa)]), watch.lists
        assert any("%s has devices again" % new in m for m in logs), logs
        assert len(kubelet.registrations) == 3, "nothing registered again"

        served = manager.resources
        manager.close()
        assert manager.closed and loop.managers == ()
        assert not any(os.path.exists(r.socket_path) for r in served)
        with pytest.raises(ValueError):
            manager.resolve()


def test_serve_config_grace_ends_server(fk, dp_ctx, dp_root, kubelet):
    """grace_ms=0: a resource whose last device left ends at the next resolution."""
    config = hostdev.DevicePluginConfig.parse(dp_ctx, {"resources": [
        {"kind": "pci", "naming": "per-device", "selectors": {"vendorDevice": ["8086:10d3"]}}]})
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.start_thread()
        with loop.serve_config(config, kubelet_dir=kubelet.root, refresh_ms=-1, hotplug=False,
                               resolve_interval_ms=-1, grace_ms=0) as manager:
            assert kubelet.wait_registrations(3, timeout=conftest.WAIT)
            gone = dp_root.ids[1]
            served = {r.resource_name: r.socket_path for r in manager.resources}
            name = next(n for n in served if n.endswith(gone.replace(":", "").replace(".", "")))
            watch = watch_of(kubelet, name)
            assert watch.wait(lambda w: w.last()), watch.lists
            os.rename(os.path.join(dp_root.root, "sys", "bus", "pci", "devices", gone),
                      os.path.join(dp_root.root, "aside"))
            manager.resolve()
            assert watch.wait(lambda w: w.last() == [] and w.ended == "ok"), watch.lists
            assert not os.path.exists(served[name])
            assert sorted(r.resource_name for r in manager.resources) == sorted(
                n for n in served if n != name)
            assert all(os.path.exists(p) for n, p in served.items() if n != name)


def test_serve_config_errors(dp_ctx, kubelet_dir):
    config = hostdev.DevicePluginConfig.parse(dp_ctx, CONFIG)
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        with pytest.raises(TypeError):
            loop.serve_config(CONFIG)
        with pytest.raises(ValueError):
            loop.serve_config(config, grace_ms=-2)
        with pytest.raises(ValueError):
            loop.serve_config(config, resolve_interval_ms=1.5)
        with pytest.raises(ValueError):
            loop.serve_config(config, registration="sometimes")
        manager = loop.serve_config(config, registration="none", kubelet_dir=kubelet_dir,
                                    hotplug=False)
        with pytest.raises(hostdev.Error) as e:
            manager.start()
        assert e.value.errno == errno.EALREADY and "serving already" in e.value.message
        # Another manager for the same resource: the socket is served already, and the
        # message names the resource.
        loop.start_thread()
        with hostdev.DevicePluginLoop(dp_ctx) as other:
            with pytest.raises(hostdev.Error) as e:
                other.serve_config(config, registration="none", kubelet_dir=kubelet_dir,
                                   hotplug=False)
            assert e.value.errno == errno.EADDRINUSE, e.value
            assert e.value.message.startswith(RESOURCE + ": "), e.value.message
            assert other.managers == ()
        manager.stop()
        assert manager.resources == ()
        with pytest.raises(hostdev.Error) as e:
            manager.resolve()
        assert e.value.errno == errno.EINVAL and "start it first" in e.value.message


def test_loop_without_close_is_released(dp_ctx, kubelet_dir):
    """A loop dropped while its thread runs is closed by the garbage collector."""
    import gc
    res = dp_ctx.resolve_resources(CONFIG)
    loop = hostdev.DevicePluginLoop(dp_ctx)
    loop.start_thread()
    path = loop.serve(res, 0, registration="none", kubelet_dir=kubelet_dir).socket_path
    assert os.path.exists(path)
    del loop
    gc.collect()
    assert wait_until(lambda: not os.path.exists(path))


# -- plugins written in Python --------------------------------------------------------------------


class NicPlugin:
    """A plugin with every method: devices from self.devices, answers and failures by id."""

    def __init__(self):
        self.devices = [("dev-a", True, 0), ("dev-b", True, 1), "dev-c"]
        self.threads = set()
        self.preferred_calls = []

    def list_devices(self):
        self.threads.add(threading.get_ident())
        if self.devices == "boom":
            raise RuntimeError("cannot read the devices")
        return self.devices

    def allocate(self, ids):
        if "dev-c" in ids:
            raise hostdev.Busy(errno.EBUSY, "dev-c is in use by another VM: stop it first")
        if "dev-b" in ids and len(ids) > 1:
            raise ValueError("dev-b goes alone")
        if ids == ["dev-b"]:
            raise RuntimeError("boom")
        return hostdev.Allocation(
            envs={"MY_DEVICES": ",".join(ids)},
            devices=["/dev/null", ("/dev/c", "/dev/zero", "r")],
            mounts=[("/data", "/srv/data", True)], annotations={"example.com/a": "b"},
            cdi_devices=["example.com/dev=a"])

    def get_preferred_allocation(self, available, must_include, size):
        self.preferred_calls.append((available, must_include, size))
        return ["dev-b", "not-available"]


def test_python_plugin(fk, dp_ctx, kubelet):
    import grpc
    logs = []
    plugin = NicPlugin()
    with hostdev.DevicePluginLoop(dp_ctx, log=lambda p, m: logs.append(m)) as loop:
        loop.start_thread()
        server = loop.serve_plugin("example.com/py", plugin, kubelet_dir=kubelet.root,
                                   refresh_ms=-1)
        assert server.resource is None and server.resource_name == "example.com/py"
        assert kubelet.wait_registrations(1, timeout=conftest.WAIT)
        _, request, options = kubelet.registrations[0]
        assert request.resource_name == "example.com/py"
        assert options.get_preferred_allocation_available and not options.pre_start_required
        watch = kubelet.last_watch()
        assert watch.wait(lambda w: w.last() == [("dev-a", "Healthy", [0]),
                                                 ("dev-b", "Healthy", [1]),
                                                 ("dev-c", "Healthy", None)]), watch.lists
        # The ops ran on the loop's thread (start() ran list_devices on this one).
        assert len(plugin.threads) >= 1

        answer = allocate(fk, server.socket_path, ["dev-a"]).container_responses[0]
        assert dict(answer.envs) == {"MY_DEVICES": "dev-a"}
        assert [(d.container_path, d.host_path, d.permissions) for d in answer.devices] == [
            ("/dev/null", "/dev/null", "mrw"), ("/dev/c", "/dev/zero", "r")]
        assert [(m.container_path, m.host_path, m.read_only) for m in answer.mounts] == [
            ("/data", "/srv/data", True)]
        assert dict(answer.annotations) == {"example.com/a": "b"}
        assert [c.name for c in answer.cdi_devices] == ["example.com/dev=a"]

        # Exceptions become gRPC statuses with their message.
        for ids, code, words in ((["dev-c"], grpc.StatusCode.FAILED_PRECONDITION,
                                  "dev-c is in use by another VM: stop it first"),
                                 (["dev-a", "dev-b"], grpc.StatusCode.INVALID_ARGUMENT,
                                  "ValueError: dev-b goes alone"),
                                 (["dev-b"], grpc.StatusCode.INTERNAL, "RuntimeError: boom")):
            with pytest.raises(grpc.RpcError) as e:
                allocate(fk, server.socket_path, ids)
            assert e.value.code() == code and words in e.value.details(), e.value.details()
            assert "example.com/py" in e.value.details()

        # GetPreferredAllocation: the plugin's choice, made to follow the contract.
        stub = fk.svc.DevicePluginStub(fk.channel_to(server.socket_path))
        pref = stub.GetPreferredAllocation(fk.pb.PreferredAllocationRequest(container_requests=[
            fk.pb.ContainerPreferredAllocationRequest(
                available_deviceIDs=["dev-a", "dev-b", "dev-c"],
                must_include_deviceIDs=["dev-c"], allocation_size=2)]), timeout=conftest.WAIT)
        assert list(pref.container_responses[0].deviceIDs) == ["dev-c", "dev-b"]
        assert plugin.preferred_calls == [(["dev-a", "dev-b", "dev-c"], ["dev-c"], 2)]

        # refresh() asks the plugin again; a failing list_devices keeps the list and is logged.
        plugin.devices = [("dev-a", False, 0)]
        server.refresh()
        assert watch.wait(lambda w: w.last() == [("dev-a", "Unhealthy", [0])]), watch.last()
        plugin.devices = "boom"
        with pytest.raises(hostdev.Error) as e:
            server.refresh()
        assert e.value.errno == errno.EIO
        assert any("list_devices of the Python plugin failed: RuntimeError: cannot read the "
                   "devices" in m for m in logs), logs
        plugin.devices = [("bad id!", True, 0)]
        with pytest.raises(hostdev.InvalidArgument):
            server.refresh()
        assert watch.last() == [("dev-a", "Unhealthy", [0])]

        # The server holds the plugin until it is closed. (A saved exception keeps the
        # arguments of the failed call, the server among them, alive.)
        import gc
        import weakref
        del e
        ref = weakref.ref(plugin)
        del plugin
        gc.collect()
        assert ref() is not None
        server.close()
        gc.collect()
        assert ref() is None


def test_python_plugin_minimal(fk, dp_ctx, kubelet_dir):
    """Only pre_start_container: the list comes from set_devices(), Allocate answers empty."""
    started = []

    class PreStart:
        def pre_start_container(self, ids):
            started.append(ids)

    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.start_thread()
        with loop.serve_plugin("example.com/min", PreStart(), registration="none",
                               kubelet_dir=kubelet_dir) as server:
            stub = fk.svc.DevicePluginStub(fk.channel_to(server.socket_path))
            options = stub.GetDevicePluginOptions(fk.pb.Empty(), timeout=conftest.WAIT)
            assert options.pre_start_required and not options.get_preferred_allocation_available
            server.set_devices(["x-1", "x-2"])
            server.refresh()  # no list_devices: the list stays
            watch = fk.Watch(fk.channel_to(server.socket_path))
            assert watch.wait(lambda w: w.last() == [("x-1", "Healthy", None),
                                                     ("x-2", "Healthy", None)]), watch.lists
            answer = allocate(fk, server.socket_path, ["x-2"]).container_responses[0]
            assert not answer.envs and not answer.devices
            stub.PreStartContainer(fk.pb.PreStartContainerRequest(devices_ids=["x-1"]),
                                   timeout=conftest.WAIT)
            assert started == [["x-1"]]
            watch.cancel()
        with pytest.raises(ValueError):
            loop.serve_plugin("example.com/min", PreStart(), registration="sometimes")
        with pytest.raises(hostdev.InvalidArgument) as e:
            loop.serve_plugin("no-domain", PreStart(), registration="none",
                              kubelet_dir=kubelet_dir)
        assert "no-domain" in e.value.message


def test_python_plugin_concurrent(fk, dp_ctx, kubelet_dir):
    """Allocate calls from many client threads while this thread refreshes: the GIL and the loop's
    lock taken in both orders without a deadlock."""
    from concurrent import futures
    plugin = NicPlugin()
    with hostdev.DevicePluginLoop(dp_ctx) as loop:
        loop.start_thread()
        server = loop.serve_plugin("example.com/py", plugin, registration="none",
                                   kubelet_dir=kubelet_dir)
        stop = threading.Event()

        def refresher():
            n = 0
            while not stop.is_set():
                server.refresh()
                n += 1
            return n

        with futures.ThreadPoolExecutor(9) as pool:
            refreshes = pool.submit(refresher)
            calls = [pool.submit(allocate, fk, server.socket_path, ["dev-a"]) for _ in range(200)]
            answers = [c.result(timeout=conftest.WAIT) for c in calls]
            stop.set()
            assert refreshes.result(timeout=conftest.WAIT) > 0
        assert all(a.container_responses[0].envs["MY_DEVICES"] == "dev-a" for a in answers)
