#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `cmake --install` of the build into a temporary prefix, then `import hostdev` from there with
# nothing but PYTHONPATH: the extension finds the installed libhostdev through its relative rpath.
#   check-cmake-install.sh PYTHON BUILD_DIR SITEDIR (relative to the prefix)
set -eu
python=$1 build=$2 sitedir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
unset LD_LIBRARY_PATH
cd "$tmp"
PYTHONPATH="$tmp/prefix/$sitedir" "$python" - "$tmp/prefix" <<'PY'
import os, sys
import hostdev
prefix = sys.argv[1]
assert hostdev.__file__.startswith(prefix), hostdev.__file__
import os
assert os.path.exists(os.path.join(os.path.dirname(hostdev.__file__), "py.typed")), "no py.typed"
maps = open("/proc/self/maps").read()
lib = [l.split()[-1] for l in maps.splitlines() if "libhostdev.so" in l]
assert lib and lib[0].startswith(prefix), lib
print("installed hostdev", hostdev.version, "uses", lib[0])
PY
