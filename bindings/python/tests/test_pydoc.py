# SPDX-License-Identifier: Apache-2.0
"""What help(hostdev) shows: the package's public API (its __all__), and none of the modules that
implement it (the private package _hostdev: the hand-written layer and the SWIG-generated capi).
Rendered by pydoc itself, run as a user runs it (python3 -m pydoc hostdev), on the package the
tests import."""
import inspect
import os
import pkgutil
import re
import subprocess
import sys

import pytest

import _hostdev
import hostdev


@pytest.fixture(scope="module")
def page():
    # The interpreter and the package of this test: PYTHONPATH and the environment are the test's.
    env = dict(os.environ, PAGER="cat", MANPAGER="cat", COLUMNS="100")
    r = subprocess.run([sys.executable, "-m", "pydoc", "hostdev"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Help on package hostdev:"), r.stdout[:500]
    return r.stdout


def sections(page):
    """pydoc's sections (NAME, DESCRIPTION, PACKAGE CONTENTS, CLASSES, ...) by title."""
    found, title = {}, None
    for line in page.splitlines():
        if line and not line[0].isspace() and line.isupper():
            title = line.strip()
            found[title] = []
        elif title:
            found[title].append(line)
    return {t: "\n".join(lines) for t, lines in found.items()}


def internal_names():
    """Every module name of the implementation: _hostdev, its modules (_context, _pci, ...,
    capi, _capi) and the alias _c they are imported as."""
    names = {"_hostdev", "_c"}
    names |= {name for _, name, _ in pkgutil.iter_modules(_hostdev.__path__)}
    assert {"capi", "_capi", "_context", "_pci"} <= names, names
    return names


def test_package_contents_is_the_public_submodule_only(page):
    s = sections(page)
    assert s["PACKAGE CONTENTS"].split() == ["naming"], s["PACKAGE CONTENTS"]
    assert "SUBMODULES" not in s, s.get("SUBMODULES")


def test_public_classes_functions_and_data_are_shown(page):
    s = sections(page)
    for name in hostdev.__all__:
        obj = getattr(hostdev, name)
        if inspect.isclass(obj):
            # Under their public name, as hostdev.X: not as _hostdev._pci.X.
            assert re.search(r"^    class %s\(" % name, s["CLASSES"], re.M), name
            assert obj.__module__ == "hostdev", (name, obj.__module__)
        elif inspect.isroutine(obj):
            assert re.search(r"^    %s\(" % name, s["FUNCTIONS"], re.M), name
        elif inspect.ismodule(obj):
            assert name in s["PACKAGE CONTENTS"].split(), name
        else:
            assert re.search(r"^    %s = " % name, s["DATA"], re.M), name


def test_nothing_private_is_shown(page):
    s = sections(page)
    listed = set(re.findall(r"^    (\w+)(?: = |\()", s.get("FUNCTIONS", "") + "\n" + s["DATA"], re.M))
    # pydoc shows special names (__all__ itself); every other name is one of __all__.
    listed = {name for name in listed if not (name.startswith("__") and name.endswith("__"))}
    assert listed and listed <= set(hostdev.__all__), listed - set(hostdev.__all__)
    for name in sorted(internal_names()):
        # The module, or anything reached through it (_hostdev._pci.PciDevice, capi.hostdev_...).
        hits = [line for line in page.splitlines()
                if re.search(r"(?<![\w.])%s(?![\w])" % re.escape(name), line)]
        assert not hits, (name, hits[:5])


def test_the_implementation_still_imports():
    # The package the internals moved to is importable, typed, and what hostdev is built on.
    assert os.path.exists(os.path.join(os.path.dirname(_hostdev.__file__), "py.typed"))
    assert os.path.exists(os.path.join(os.path.dirname(hostdev.__file__), "py.typed"))
    from _hostdev import capi
    assert capi.hostdev_version() == hostdev.version
