#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Python package built the ways a user outside CMake builds it, offline, against the libhostdev
# that pkg-config finds (ctest points PKG_CONFIG_PATH at the build tree):
#   - bindings/python copied alone fails at once and says why (the SWIG interface is in bindings/)
#   - `python3 setup.py sdist` in a copy of the sources makes an sdist that carries the interface
#   - that sdist, unpacked on its own, `pip install`s into a fresh venv that sees Debian's setuptools
# Then the installed package is imported from outside both trees.
#   check-pip-install.sh PYTHON BINDINGS_PYTHON_DIR WORK_DIR
set -eu
python=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work/src" "$work/alone" "$work/sdist"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# Copies, so the builds leave nothing in the source tree.
cp -r "$src" "$work/alone/python"
rm -rf "$work/alone/python/build" "$work/alone/python/"*.egg-info "$work/alone/python/swig"
mkdir -p "$work/src/bindings"
cp "$src/../hostdev.i" "$work/src/bindings/"
cp -r "$work/alone/python" "$work/src/bindings/python"

if (cd "$work/alone/python" && "$python" setup.py --name) > "$work/alone.log" 2>&1; then
	echo "FAIL: bindings/python alone did not stop for the missing interface"; exit 1
fi
grep -q "the SWIG interface hostdev.i is neither in .* bindings/python is not a source tree on its own" \
	"$work/alone.log" || { echo "FAIL: bindings/python alone, unclear error:"; cat "$work/alone.log"; exit 1; }
echo "ok: bindings/python alone says: $(tail -1 "$work/alone.log" | cut -c1-100)..."

(cd "$work/src/bindings/python" && "$python" setup.py -q sdist -d "$work/sdist") > "$work/sdist.log" 2>&1 ||
	{ cat "$work/sdist.log"; exit 1; }
tar -C "$work/sdist" -xzf "$work"/sdist/hostdev-*.tar.gz
unpacked=$(echo "$work"/sdist/hostdev-*/)
for f in swig/hostdev.i swig/python/hostdev_python.i swig/python/hostdev_python_dp.i \
	swig/python/hostdev_python_dra.i setup.py hostdev/__init__.py hostdev/py.typed \
	_hostdev/__init__.py _hostdev/py.typed; do
	[ -f "$unpacked/$f" ] || { echo "FAIL: the sdist lacks $f"; exit 1; }
done
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install -q "$unpacked"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import os
import hostdev
from hostdev import naming
from _hostdev import capi
assert os.path.realpath(hostdev.__file__).startswith(os.path.realpath("venv")), hostdev.__file__
assert os.path.exists(os.path.join(os.path.dirname(hostdev.__file__), "py.typed")), "no py.typed"
with hostdev.Context("/nonexistent-root") as ctx:
    try:
        ctx.pci_device("0000:00:00.0")
    except hostdev.Error as e:
        assert e.errno > 0 and "0000:00:00.0" in e.message, e
    else:
        raise AssertionError("no error")
assert naming.kubevirt_env("PCI_RESOURCE", "realtek.com/8168") == "PCI_RESOURCE_REALTEK_COM_8168"
with hostdev.Context("/nonexistent-root") as ctx:
    try:
        hostdev.DevicePluginConfig.parse(ctx, {"resources": []})
    except hostdev.InvalidArgument as e:
        assert "resources" in e.message, e
    else:
        raise AssertionError("an empty resource list was accepted")
    with hostdev.DevicePluginLoop(ctx) as loop:
        assert loop.fileno() >= 0 and loop.dispatch(0) == 0
print("ok: hostdev", hostdev.version, "pip-installed from the sdist alone into", os.path.dirname(hostdev.__file__))
PY
