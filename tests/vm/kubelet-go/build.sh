#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build vm-kubelet (the grpc-go kubelet peer of the VM guest) as a static program:
#   build.sh OUTPUT WORK_DIR
# Offline, in GOPATH mode over Debian's /usr/share/gocode (golang-google-grpc-dev and
# golang-github-golang-protobuf-1-3-dev), CGO_ENABLED=0 so that it needs no library in the guest.
# The messages, dialer and Registration service come from tests/deviceplugin/go/kubeletapi (shared
# with the fake kubelet of ctest deviceplugin.grpc-go) and the DRA messages from tests/dra/go/draapi
# (shared with drakubelet, ctest dra.grpc-go), found through a GOPATH overlay in WORK_DIR.
# Called by tests/vm/CMakeLists.txt; GO names the go binary (default: go on PATH).
set -eu
out=$1 work=$2
go=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
api=$(cd "$here/../../deviceplugin/go/kubeletapi" && pwd)
draapi=$(cd "$here/../../dra/go/draapi" && pwd)
[ -d /usr/share/gocode/src/google.golang.org/grpc ] || {
	echo "vm-kubelet: grpc-go not installed (golang-google-grpc-dev, tests/deps/deviceplugin.txt)" >&2
	exit 1
}
mkdir -p "$work/gopath/src/hostdev.test"
ln -sfn "$api" "$work/gopath/src/hostdev.test/kubeletapi"
ln -sfn "$draapi" "$work/gopath/src/hostdev.test/draapi"
export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS= GOPROXY=off CGO_ENABLED=0
unset GOROOT
unformatted=$("$(dirname "$(readlink -f "$(command -v "$go")")")/gofmt" -l "$here" "$api" "$draapi")
[ -z "$unformatted" ] || { echo "vm-kubelet: gofmt: not formatted: $unformatted" >&2; exit 1; }
cd "$here"
"$go" vet . hostdev.test/kubeletapi hostdev.test/draapi
"$go" build -trimpath -ldflags "-s -w" -o "$out.tmp" .
mv "$out.tmp" "$out"
