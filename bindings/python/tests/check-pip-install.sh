#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `pip install` of the local bindings/python directory, offline, into a fresh venv that sees
# Debian's setuptools, against the libhostdev that pkg-config finds (ctest points PKG_CONFIG_PATH at
# the build tree). Then the installed package is imported from outside the source tree.
#   check-pip-install.sh PYTHON BINDINGS_PYTHON_DIR WORK_DIR
set -eu
python=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work/src"
# A copy, so the build leaves nothing in the source tree; setup.py finds ../hostdev.i.
cp "$src/../hostdev.i" "$work/src/"
cp -r "$src" "$work/src/python"
rm -rf "$work/src/python/build" "$work/src/python/"*.egg-info
"$python" -m venv --system-site-packages "$work/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
	"$work/venv/bin/python" -m pip install -q "$work/src/python"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import os
import hostdev
from hostdev import capi, naming
assert os.path.realpath(hostdev.__file__).startswith(os.path.realpath("venv")), hostdev.__file__
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
print("pip-installed hostdev", hostdev.version, "from", os.path.dirname(hostdev.__file__))
PY
