#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build and test the Go binding against a libhostdev build tree (ctest bindings-go):
#   run-tests.sh BINDINGS_DIR WORK_DIR PKG_CONFIG_DIR PRELOAD
# Offline: no module downloads (GOPROXY=off, the module has no dependencies). The go command runs
# SWIG on go/internal/capi/capi.swig itself; the wrapper is compiled with warnings as errors.
# The test binary is built first and run on its own, so that only it runs under PRELOAD (the
# kernel model, and libasan in sanitizer builds), not the Go toolchain.
set -eu
src=$1 work=$2 pcdir=$3 preload=$4
go=${GO:-go}
mkdir -p "$work/bin"
export GOCACHE="$work/cache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off \
	GO111MODULE=on CGO_ENABLED=1 PKG_CONFIG_PATH="$pcdir"
unset GOROOT
# The go command caches the SWIG output by the .swig file alone: a stamp of the interface and the
# public headers in the cgo flags makes an edit of either rebuild the wrapper.
here=$(cd "$src/.." && pwd)
stamp=$(cat "$src/hostdev.i" "$src"/python/*.i "$src"/go/*.i "$here"/include/hostdev.h "$here"/include/hostdev/*.h |
	cksum | cut -d' ' -f1)
export CGO_CPPFLAGS="-DHOSTDEV_SWIG_STAMP=$stamp"
# Warnings are errors for the SWIG wrapper and cgo glue too; -Wno-unused-parameter as in the
# project (SWIG's Go runtime has unused parameters).
export CGO_CFLAGS="-g -O2 -Wall -Wextra -Werror -Wno-unused-parameter"
cd "$src"
unformatted=$("$(dirname "$(readlink -f "$(command -v "$go")")")/gofmt" -l go)
[ -z "$unformatted" ] || { echo "gofmt: not formatted: $unformatted"; exit 1; }
"$go" vet ./go/hostdev ./go/examples/...
"$go" test -c -o "$work/bin/hostdev.test" ./go/hostdev
"$go" build -o "$work/bin/" ./go/examples/...
# A program in a module of its own that takes the binding through a replace directive, as a
# project outside this tree does (go/examples/standalone/go.mod), offline.
(cd go/examples/standalone && "$go" vet . && "$go" build -o "$work/bin/standalone" .)
cd "$work"
HOSTDEV_TEST_GO_EXAMPLES="$work/bin" LD_PRELOAD="$preload" exec "$work/bin/hostdev.test" -test.v -test.count=1
