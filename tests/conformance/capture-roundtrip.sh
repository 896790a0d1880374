#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# capture-roundtrip.sh HOSTDEV [LSPCI]: check tests/tools/capture-sysfs.sh on a synthetic server tree.
#   1. generate a tree with bench/gen-sysfs.py (SR-IOV PFs and VFs, switches, groups, netdevs, an mdev);
#   2. capture it with sh, and with busybox sh when busybox is installed: both captures are identical;
#   3. the capture has no dangling link, and re-capturing the capture gives the same tree (idempotent);
#   4. `hostdev list --json` prints the same document on the generated tree and on its capture
#      (the capture keeps everything libhostdev reads);
#   5. the capture passes the lspci conformance check.
# Everything happens in a temp dir; nothing outside it is written.
set -eu

hostdev=$1
lspci=${2:-lspci}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cap=$top/tests/tools/capture-sysfs.sh
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-capture.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() {
	echo "capture-roundtrip: FAIL: $*" >&2
	exit 1
}

# 40 functions (seed 2: PFs with VFs, bridges, netdevs, an mdev, slots) cover every kind of entry the
# capture copies; the script forks per attribute, so a bigger tree only makes it slow on a busy machine.
"$py" "$top/bench/gen-sysfs.py" --devices 40 --vfs 4 --seed 2 "$tmp/gen"

sh "$cap" "$tmp/cap-sh" "$tmp/gen/sys"
if busybox sh -c : 2>/dev/null; then
	busybox sh "$cap" -q "$tmp/cap-busybox" "$tmp/gen/sys"
	diff -r --no-dereference "$tmp/cap-sh" "$tmp/cap-busybox" >"$tmp/d1" 2>&1 ||
		{ head -40 "$tmp/d1" >&2; fail "busybox sh and sh captures differ"; }
	echo "capture-roundtrip: sh and busybox sh captures are identical"
else
	echo "capture-roundtrip: busybox not installed: busybox sh capture not checked"
fi

dangling=$(find "$tmp/cap-sh" -type l ! -exec test -e {} \; -print | head -20)
[ -z "$dangling" ] || fail "dangling links in the capture:
$dangling"

sh "$cap" -q "$tmp/recap" "$tmp/cap-sh/sys"
diff -r --no-dereference "$tmp/cap-sh" "$tmp/recap" >"$tmp/d2" 2>&1 ||
	{ head -40 "$tmp/d2" >&2; fail "re-capturing the capture changes it"; }
echo "capture-roundtrip: re-capture is identical"

"$hostdev" list --json --root "$tmp/gen" >"$tmp/gen.json"
"$hostdev" list --json --root "$tmp/cap-sh" >"$tmp/cap.json"
n=$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$tmp/gen.json")
[ "$n" -eq 40 ] || fail "hostdev lists $n functions on the generated tree, expected 40"
diff -u "$tmp/gen.json" "$tmp/cap.json" >"$tmp/d3" 2>&1 ||
	{ head -60 "$tmp/d3" >&2; fail "hostdev list --json differs between the tree and its capture"; }
echo "capture-roundtrip: hostdev list --json is identical on the tree and its capture ($n functions)"

"$py" "$here/conformance.py" --hostdev "$hostdev" --lspci "$lspci" --tree "capture of generated 40=$tmp/cap-sh"
