#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The layers of the library (docs/design.md, "Layers"): which folder of src/ may include which.
#
#   check-layers.sh <source tree>
#
# Fails, naming the file and the line, on
#  - an include of another folder that the table below does not allow;
#  - an include of another folder's private header: a folder's interface to the others is its one
#    header <folder>/<folder>.h;
#  - an include of src/ from plugins/, examples/ or bindings/, which use the public headers of
#    include/ (and their own headers) only;
#  - a quoted include that names no file (a typo would hide an edge);
#  - an include cycle between folders, in the table or in the sources.
# HOSTDEV_LAYERS_TABLE=<file> replaces the table (tests/abi/CMakeLists.txt proves with it that a
# cycle is found).
set -euo pipefail
top=${1:?usage: check-layers.sh <source tree>}
cd "$top"

# <folder>: <folders it may include>, bottom up. A folder may always include its own headers and
# the public headers (include/). The folders are those of src/; plugins/ (the built-in device
# plugins, part of the library but a top-level folder) is built on the public API like a program's
# own plugins, and is checked with examples/ and bindings/ below.
read -r -d '' table <<'EOF' || true
core:
naming: core
pci: core
usb: core
monitor: core pci usb
vfio: core pci
vgpu: core pci vfio
sriov: core pci vfio
mdev: core
loop: core
grpc: core loop
pluginreg: core
deviceplugin: core naming loop grpc pluginreg
dra: core loop grpc pluginreg
resources: core naming pci vgpu
EOF
if [ -n "${HOSTDEV_LAYERS_TABLE:-}" ]; then
	table=$(cat "$HOSTDEV_LAYERS_TABLE")
fi
# Library folders at the top of the tree instead of under src/ that the table names (none today:
# plugins/ is public-API-only).
top_level_folders=""
# Folders of code that use the public API only: the built-in plugins, the programs, the bindings.
public_only="plugins examples bindings"

declare -A allowed
folders=()
while read -r line; do
	[ -n "$line" ] || continue
	folder=${line%%:*}
	folders+=("$folder")
	allowed[$folder]=" ${line#*:} "
done <<< "$table"

status=0
fail() {
	echo "FAIL: $*"
	status=1
}

# Where folder @1 is.
path_of() {
	case " $top_level_folders " in
	*" $1 "*) echo "$1" ;;
	*) echo "src/$1" ;;
	esac
}

for file in src/*.c src/*.h; do
	[ -e "$file" ] && fail "$file: every source of the library belongs in a folder of src/"
done
# Every folder of src/ is in the table and the table names only folders of the library.
for dir in src/*/; do
	dir=${dir%/}
	dir=${dir#src/}
	[ -v "allowed[$dir]" ] || fail "src/$dir is not in the layer table of $0 (add it, with the folders it may include)"
done
for folder in "${folders[@]}"; do
	[ -d "$(path_of "$folder")" ] || fail "the layer table names $folder, which is not a folder of the library"
done

# The quoted includes of the files named (NUL-separated) on stdin, as "file<TAB>line<TAB>name"
# lines: one awk for all files (a fork per file would make the check slow).
includes() {
	xargs -0 -r awk '/^[ \t]*[#%][ \t]*include[ \t]*"/ {
		s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); print FILENAME "\t" FNR "\t" s }'
}

edges=""
while IFS=$'\t' read -r file line name; do
	rel=${file#src/}
	folder=${rel%%/*}
	dir=${file%/*}
	[ -v "allowed[$folder]" ] || continue # reported above
	where="$file:$line: #include \"$name\""
	if [ -f "$dir/$name" ]; then
		# A header of the file's own folder (or a subfolder of it).
		continue
	fi
	if [ -f "include/$name" ]; then
		continue
	fi
	case "$name" in
	*.pb-c.h)
		# protobuf-c output, generated into the build tree of the folder whose proto/ holds
		# the .proto file: another folder's messages are its private headers.
		[ -f "src/$folder/proto/${name%.pb-c.h}.proto" ] ||
			fail "$where: generated messages of a .proto that is not in src/$folder/proto"
		continue
		;;
	esac
	target=${name%%/*}
	if [ "$target" = "$name" ] || [ ! -f "src/$name" ]; then
		fail "$where: no such header in $(path_of "$folder")/, src/ or include/"
		continue
	fi
	if [ "$target" = "$folder" ]; then
		# Own folder, written with the folder: allowed.
		continue
	fi
	if [ "$name" != "$target/$target.h" ]; then
		fail "$where: $name is private to src/$target/; other folders use $target/$target.h"
	fi
	case "${allowed[$folder]-}" in
	*" $target "*) ;;
	*)
		may=${allowed[$folder]-}
		may=${may//  / }
		[ "$may" != " " ] || may=" nothing but itself"
		fail "$where: $folder may not include $target (the layer table lets $folder include$may)"
		;;
	esac
	edges+="$folder $target"$'\n'
done < <({
	find src -mindepth 2 \( -name '*.c' -o -name '*.h' \) -print0
	for folder in $top_level_folders; do
		find "$folder" \( -name '*.c' -o -name '*.h' \) -print0
	done
} | sort -z | includes)

src_real=$(realpath src)
for top_dir in $public_only; do
	[ -d "$top_dir" ] || continue
	while IFS=$'\t' read -r file line name; do
		dir=${file%/*}
		where="$file:$line: #include \"$name\""
		if [ -f "$dir/$name" ]; then
			case "$name" in
			*..*)
				case "$(realpath "$dir/$name")" in
				"$src_real"/*) fail "$where: $top_dir/ uses the public headers of include/ only, not src/" ;;
				esac
				;;
			esac
			continue
		fi
		if [ -f "include/$name" ]; then
			continue
		fi
		if [ -f "src/$name" ]; then
			fail "$where: $top_dir/ uses the public headers of include/ only, not src/"
		else
			fail "$where: no such header next to the file or in include/"
		fi
	done < <(find "$top_dir" \( -name '*.c' -o -name '*.h' -o -name '*.i' \) -print0 | sort -z | includes)
done

# Cycles: tsort(1) reports a loop in a graph. The table first (an allowed cycle is a defect of the
# table), then the includes themselves.
table_edges=""
for folder in "${folders[@]}"; do
	for target in ${allowed[$folder]}; do
		table_edges+="$folder $target"$'\n'
	done
	table_edges+="$folder $folder"$'\n'
done
# tsort prints a loop it finds as "tsort: -: input contains a loop:" and one "tsort: <node>" line
# per folder on it.
loop_of() {
	grep -v 'input contains a loop' <<< "$1" | sed 's/^tsort: //' | paste -sd' ' | sed 's/ / -> /g'
}
if ! out=$(printf '%s' "$table_edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
	fail "the layer table has a cycle: $(loop_of "$out")"
fi
if ! out=$(printf '%s' "$edges" | sort -u | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
	fail "the includes between folders have a cycle: $(loop_of "$out")"
fi

n_edges=$(printf '%s' "$edges" | sort -u | grep -c . || true)
if [ $status -eq 0 ]; then
	echo "ok: ${#folders[@]} folders, $n_edges include edges between them, all in the layer table, no cycle; $public_only use include/ only"
fi
exit $status
