# SPDX-License-Identifier: Apache-2.0
"""The package's type hints, as a type checker sees them: mypy (Debian's, python3-mypy) checks a
program using the public API correctly (no finding) and one with mistakes (each found), against the
package on the test's path, which mypy uses only because it carries py.typed (PEP 561)."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

import hostdev

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "typing")

if importlib.util.find_spec("mypy") is None:
    pytest.skip("mypy is not installed (Debian mypy, tests/deps/bindings.txt)", allow_module_level=True)


def mypy(tmp_path, name):
    # Not the kernel model or libasan: a plain interpreter.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD",)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--show-error-codes", os.path.join(HERE, name)],
        capture_output=True, text=True, env=env, timeout=600)


def test_py_typed_is_in_the_package():
    assert os.path.exists(os.path.join(os.path.dirname(hostdev.__file__), "py.typed"))


def test_correct_program_passes(tmp_path):
    r = mypy(tmp_path, "good_usage.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == ""


def test_mistakes_are_found(tmp_path):
    r = mypy(tmp_path, "bad_usage.py")
    assert r.returncode == 1, r.stdout + r.stderr
    with open(os.path.join(HERE, "bad_usage.py")) as f:
        marked = {i for i, line in enumerate(f, 1) if "# error:" in line}
    found = {int(m.group(1)) for m in re.finditer(r"bad_usage\.py:(\d+): error:", r.stdout)}
    assert found == marked, r.stdout
    # Not "missing library stubs or py.typed marker": the hints were read.
    assert "py.typed" not in r.stdout
