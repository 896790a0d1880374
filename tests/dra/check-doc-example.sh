#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The C example of docs/dra.md ("## Example") compiles and links against the library, warnings as
# errors (ctest dra.docs-example):
#   check-doc-example.sh DOC INCLUDE_DIR LIBRARY WORK_DIR
set -eu
doc=$1 include=$2 library=$3 work=$4
mkdir -p "$work"
awk '/^## Example/ { in_section = 1 } in_section && /^```c$/ { code = 1; next }
     code && /^```$/ { exit } code { print }' "$doc" > "$work/example.c"
[ -s "$work/example.c" ] || { echo "FAIL: no C block under '## Example' in $doc"; exit 1; }
${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$include" "$work/example.c" "$library" -o "$work/example"
echo "ok: the example of $doc ($(wc -l < "$work/example.c") lines) compiles and links"
