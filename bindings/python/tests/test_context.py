# SPDX-License-Identifier: Apache-2.0
"""The context: paths, node name, logging, errors, lifetime (context manager, close, GC)."""

import errno
import gc
import os
import sys
import threading
import weakref

import pytest

import hostdev


def test_defaults():
    with hostdev.Context() as ctx:
        assert ctx.get_path("sysfs") == "/sys"
        assert ctx.paths["pci_ids"] == "/usr/share/misc/pci.ids"
        assert ctx.log_priority == hostdev.LOG_WARNING
        assert ctx.node_name
        assert ctx.error == ""
    assert hostdev.version == hostdev.__version__ and hostdev.version.count(".") == 2


def test_root_and_paths(tmp_path):
    with hostdev.Context(tmp_path, state=tmp_path / "st", node_name="n1", log_priority=7) as ctx:
        assert ctx.get_path("sysfs") == str(tmp_path / "sys")
        assert ctx.get_path("proc") == str(tmp_path / "proc")
        assert ctx.get_path("state") == str(tmp_path / "st")
        assert ctx.node_name == "n1"
        assert ctx.log_priority == 7
        ctx.set_root("/other")
        assert ctx.get_path("dev") == "/other/dev"
        ctx.node_name = "n2"
        assert ctx.node_name == "n2"


def test_errors_carry_errno_and_message(tmp_path):
    with hostdev.Context() as ctx:
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.set_path("sysfs", "relative/path")
        assert e.value.errno == errno.EINVAL
        assert isinstance(e.value, hostdev.Error) and isinstance(e.value, OSError)
        with pytest.raises(TypeError):
            ctx.set_path("nonsense", "/x")
        with pytest.raises(hostdev.InvalidArgument):
            ctx.node_name = ""

def test_not_found_message(cli_root):
    with hostdev.Context(cli_root) as ctx:
        with pytest.raises(hostdev.NotFound) as e:
            ctx.pci_device("0000:3b:00.7")
        err = e.value
        assert err.errno == errno.ENODEV
        assert "0000:3b:00.7" in err.message and "no such PCI device" in err.message
        assert err.strerror == err.message == ctx.error
        assert str(err) == "[Errno 19] " + err.message
        with pytest.raises(hostdev.InvalidArgument) as e:
            ctx.pci_device("not-an-address")
        assert "not-an-address" in e.value.message


def test_error_classes():
    assert isinstance(hostdev.error_for(-errno.EBUSY, "m"), hostdev.Busy)
    assert isinstance(hostdev.error_for(-errno.EPERM, "m"), PermissionError)
    assert isinstance(hostdev.error_for(-errno.ETIMEDOUT, "m"), TimeoutError)
    assert isinstance(hostdev.error_for(-errno.EBADMSG, "m"), hostdev.Corrupt)
    assert isinstance(hostdev.error_for(-errno.ENOENT, "m"), hostdev.NotFound)
    e = hostdev.error_for(-errno.EIO)
    assert type(e) is hostdev.Error and e.errno == errno.EIO and e.message == os.strerror(errno.EIO)


def test_close_and_context_manager(cli_root):
    with hostdev.Context(cli_root) as ctx:
        dev = ctx.pci_device("0000:3b:00.0")
        it = ctx.pci_devices(slot="3b:")
    assert ctx.closed and "closed" in repr(ctx)
    with pytest.raises(ValueError):
        ctx.pci_device("0000:3b:00.0")
    with pytest.raises(ValueError):
        ctx.pci_devices()
    with pytest.raises(ValueError):
        ctx.bind("0000:3b:00.0")
    # Objects handed out hold their own reference to the C context.
    assert dev.driver == "i40e" and dev.vendor_name is None or isinstance(dev.vendor_name, str)
    assert [d.address for d in it][0] == "0000:3b:00.0"
    ctx.close()  # idempotent


def test_context_is_garbage_collected(cli_root):
    ctx = hostdev.Context(cli_root, log=lambda p, m: None)
    ref = weakref.ref(ctx)
    list(ctx.pci_devices())
    del ctx
    gc.collect()
    assert ref() is None


def test_exception_in_constructor_releases(tmp_path):
    with pytest.raises(hostdev.InvalidArgument):
        hostdev.Context(tmp_path, sysfs="relative")


def test_log_callback(cli_root, tmp_path):
    messages = []
    with hostdev.Context(cli_root, modules=tmp_path / "nomodules", log_priority=hostdev.LOG_DEBUG,
                         log=lambda prio, msg: messages.append((prio, msg))) as ctx:
        assert ctx.pci_device("0000:3b:00.0").modules == ()
        assert any(p == hostdev.LOG_WARNING and "module indexes" in m for p, m in messages), messages
        assert all(isinstance(p, int) and isinstance(m, str) for p, m in messages)
        ctx.set_log(None)
        n = len(messages)
        ctx.set_path("modules", tmp_path / "other")
        assert ctx.pci_device("0000:3b:00.0").modules == ()
        assert len(messages) == n


def test_log_callback_exception_is_unraisable(cli_root, tmp_path):
    seen = []

    def bad(prio, msg):
        raise RuntimeError("boom")

    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:
        with hostdev.Context(cli_root, modules=tmp_path / "nomodules", log=bad) as ctx:
            assert ctx.pci_device("0000:3b:00.0").modules == ()
    finally:
        sys.unraisablehook = hook
    assert seen and isinstance(seen[0], RuntimeError)


def test_shared_between_threads(cli_root):
    """Calls on one Context are serialised by its lock: threads may share it."""
    errors = []
    with hostdev.Context(cli_root) as ctx:
        def work():
            try:
                for _ in range(20):
                    assert len([d.resource_name for d in ctx.pci_devices()]) == 12
                    with pytest.raises(hostdev.NotFound):
                        ctx.pci_device("0000:77:00.0")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors


def test_help_shows_no_internal_alias():
    import pydoc
    text = pydoc.render_doc(hostdev, renderer=pydoc.plaintext)
    assert "\n    _c\n" not in text and not hasattr(hostdev, "_c")
    assert "Context" in text and "bind" in pydoc.render_doc(hostdev.Context,
                                                            renderer=pydoc.plaintext)
