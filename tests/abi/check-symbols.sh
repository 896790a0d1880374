#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The library must export exactly the symbols of the version script, and the version script must list
# exactly the functions the public headers declare: nothing leaks, nothing is forgotten.
set -eu
lib=$1 script=$2 include=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" || $2 == "R" { sub(/@.*/, "", $3); print $3 }' | sort -u > "$tmp/exported"
grep -Eo '^[[:space:]]+hostdev_[a-z0-9_]+;' "$script" | tr -d ' \t;' | sort -u > "$tmp/script"
# Function declarations in the headers: an identifier followed by '(' at the start of a declaration.
cat "$include"/hostdev.h "$include"/hostdev/*.h | tr '\n' ' ' | sed 's/;/;\n/g' |
	grep -Eo '(^|[ *])hostdev_[a-z0-9_]+\(' | grep -Eo 'hostdev_[a-z0-9_]+' | sort -u > "$tmp/declared"
status=0
if ! diff -u "$tmp/script" "$tmp/exported" > "$tmp/d1"; then
	echo "FAIL: exported symbols differ from $script (- script only, + exported only):"; cat "$tmp/d1"; status=1
fi
if ! diff -u "$tmp/declared" "$tmp/script" > "$tmp/d2"; then
	echo "FAIL: version script differs from the header declarations (- declared only, + script only):"; cat "$tmp/d2"; status=1
fi
n=$(wc -l < "$tmp/exported")
[ "$n" -gt 50 ] || { echo "FAIL: only $n symbols exported"; status=1; }
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
case "$soname" in
libhostdev.so.[0-9]*) ;;
*) echo "FAIL: SONAME '$soname' carries no major version"; status=1 ;;
esac
grep -q '^HOSTDEV_1 {' "$script" || { echo "FAIL: no HOSTDEV_1 node"; status=1; }
nm -D --defined-only "$lib" | grep -q ' hostdev_ctx_new@@HOSTDEV_1$' || { echo "FAIL: symbols not versioned HOSTDEV_1"; status=1; }
[ $status -eq 0 ] && echo "ok: $n symbols, exports == version script == headers, SONAME $soname"
exit $status
