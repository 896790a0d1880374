#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Re-capture the real-kernel sysfs fixtures under tests/fixtures/vm/ from the QEMU guest:
#   tests/vm/update-fixtures.sh [BUILD_DIR]
# Runs the capture scenarios (20-capture-fixtures, 21-capture-noiommu) and replaces tests/fixtures/vm/<name>
# with each exported tree. Review the diff (git status tests/fixtures/vm) before committing: a new Debian
# kernel may add or drop attributes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
out=$build/tests/vm/out-fixtures
/usr/bin/python3 "$here/runner.py" --quiet --build-dir "$build" --out "$out" 20-capture-fixtures 21-capture-noiommu
for scen in 20-capture-fixtures 21-capture-noiommu; do
	for d in "$out/$scen"/exports/*; do
		[ -d "$d/sys" ] || {
			echo "update-fixtures: $d has no sys/ tree" >&2
			exit 1
		}
		name=$(basename "$d")
		rm -rf "$src/tests/fixtures/vm/$name"
		mkdir -p "$src/tests/fixtures/vm"
		cp -a "$d" "$src/tests/fixtures/vm/$name"
		echo "update-fixtures: tests/fixtures/vm/$name ($(find "$d" | wc -l) entries)"
	done
done
