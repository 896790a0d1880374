#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the build into a temporary prefix and build two consumers against it, one through pkg-config
# and one through find_package(libhostdev), then run them.
set -eu
build=$1 consumer=$2 extra_cflags=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
libdir=$(find "$tmp/prefix" -name 'libhostdev.pc' -exec dirname {} \;)
[ -n "$libdir" ] || { echo "FAIL: libhostdev.pc not installed"; exit 1; }
export PKG_CONFIG_PATH="$libdir"
flags=$(pkg-config --cflags --libs libhostdev)
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $extra_cflags "$consumer/consumer.c" $flags -o "$tmp/via-pkgconfig"
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/via-pkgconfig" > "$tmp/out1"
cmake -S "$consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
	-DCMAKE_C_FLAGS="$extra_cflags" -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags" > "$tmp/cmake.log"
cmake --build "$tmp/cmake-build" > "$tmp/build.log"
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/cmake-build/consumer" > "$tmp/out2"
grep -q '^libhostdev [0-9]' "$tmp/out1" && cmp -s "$tmp/out1" "$tmp/out2" || {
	echo "FAIL: consumers printed:"; cat "$tmp/out1" "$tmp/out2"; exit 1; }
echo "ok: pkg-config and find_package consumers built and ran: $(head -1 "$tmp/out1")"
