#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# check-layers.sh must fail, with the right message, on each kind of defect it exists to find: each
# case below copies the tree's sources to a temporary directory, adds one defect and runs the check
# on the copy. The unchanged copy must pass first (the copy is the tree, not a toy).
#
#   check-layers-negative.sh <check-layers.sh> <source tree>
set -euo pipefail
check=${1:?usage: check-layers-negative.sh <check-layers.sh> <source tree>}
top=${2:?usage: check-layers-negative.sh <check-layers.sh> <source tree>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# A fresh copy of the sources, headers and .proto files the check reads, in $tmp/tree.
fresh_copy() {
	rm -rf "$tmp/tree"
	mkdir -p "$tmp/tree"
	(cd "$top" && find src plugins include examples bindings \
		\( -name '*.c' -o -name '*.h' -o -name '*.i' -o -name '*.proto' \) -print0 |
		tar -c --null -T - -f -) | tar -x -f - -C "$tmp/tree"
}

# expect_failure <case> <message the check must print>: run the check on $tmp/tree.
expect_failure() {
	local out
	if out=$("$check" "$tmp/tree" 2>&1); then
		echo "FAIL: $1: the check passed"
		status=1
	elif ! grep -qF -- "$2" <<< "$out"; then
		echo "FAIL: $1: the check failed without saying \"$2\":"
		echo "$out"
		status=1
	else
		echo "ok: $1: $(grep -F -- "$2" <<< "$out" | head -1)"
	fi
}

# Add the line @2 after the first #include line of file @1 (relative to the copy).
add_include() {
	sed -i "0,/^#include/s||$2\n&|" "$tmp/tree/$1"
	grep -qF "$2" "$tmp/tree/$1" || { echo "FAIL: could not edit $1"; exit 1; }
}

fresh_copy
if ! out=$("$check" "$tmp/tree" 2>&1); then
	echo "FAIL: the unchanged copy does not pass:"
	echo "$out"
	exit 1
fi
echo "ok: the unchanged copy passes: $out"

fresh_copy
add_include src/core/context.c '#include "pci/pci.h"'
expect_failure "core includes pci (a layer up)" "core may not include pci"

fresh_copy
add_include src/monitor/monitor.c '#include "pci/pci_filter.h"'
expect_failure "monitor includes a private header of pci" "pci/pci_filter.h is private to src/pci/"

fresh_copy
add_include examples/cli/main.c '#include "vfio/vfio.h"'
expect_failure "the CLI includes a library header" "examples/ uses the public headers of include/ only"

fresh_copy
add_include plugins/plugin.c '#include "resources/resources.h"'
expect_failure "a built-in plugin reads the config's internals" \
	"plugins/ uses the public headers of include/ only"

fresh_copy
add_include plugins/node_watch.c '#include "loop/loop.h"'
expect_failure "a built-in plugin includes the loop's internals" \
	"plugins/ uses the public headers of include/ only"

fresh_copy
add_include plugins/plugin.h '#include "../src/core/core.h"'
expect_failure "a built-in plugin reaches into src/ by a relative path" \
	"plugins/ uses the public headers of include/ only"

fresh_copy
add_include bindings/hostdev.i '#include "../src/core/core.h"'
expect_failure "a binding reaches into src/ by a relative path" \
	"bindings/ uses the public headers of include/ only"

fresh_copy
add_include src/vfio/vfio_bind.c '#include "vfio/vfio_privat.h"'
expect_failure "a misspelt header" "no such header"

fresh_copy
touch "$tmp/tree/src/stray.c"
expect_failure "a source file outside the folders" "every source of the library belongs in a folder"

fresh_copy
mkdir "$tmp/tree/src/newpart"
echo '#include "core/core.h"' > "$tmp/tree/src/newpart/newpart.c"
expect_failure "a folder missing from the table" "src/newpart is not in the layer table"

# Cycles: a table that allows core -> pci (pci -> core is there already) is refused by itself, and
# with core including pci the includes have the cycle too.
fresh_copy

sed -n "/^read -r -d '' table <<'EOF'/,/^EOF/p" "$check" | sed '1d;$d' | sed 's/^core:.*/core: pci/' > "$tmp/table"
grep -qx 'core: pci' "$tmp/table" || { echo "FAIL: could not make the cyclic table"; exit 1; }
export HOSTDEV_LAYERS_TABLE=$tmp/table
expect_failure "a table with a cycle" "the layer table has a cycle"
add_include src/core/context.c '#include "pci/pci.h"'
expect_failure "includes with a cycle" "the includes between folders have a cycle"

unset HOSTDEV_LAYERS_TABLE
[ $status -eq 0 ] && echo "ok: every defect was found"
exit $status
