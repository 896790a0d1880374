#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A public header must compile on its own, as C11 and C99 and as C++, with every warning an error.
set -eu
cc=$1 header=$2 include=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "%s"\n#include "%s"\nint main(void) { return 0; }\n' "$header" "$header" > "$tmp/t.c"
for std in c11 c99; do
	"$cc" -std=$std -Wall -Wextra -pedantic -Werror -Wstrict-prototypes -I"$include" -c "$tmp/t.c" -o "$tmp/t.o"
done
if command -v c++ >/dev/null 2>&1; then
	cp "$tmp/t.c" "$tmp/t.cc"
	c++ -std=c++11 -Wall -Wextra -pedantic -Werror -I"$include" -c "$tmp/t.cc" -o "$tmp/t.o"
fi
echo "ok: $header compiles alone (c11, c99, c++11)"
