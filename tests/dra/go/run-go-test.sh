#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build and run the grpc-go kubelet stand-in against dra_test_plugin (ctest dra.grpc-go):
#   run-go-test.sh PLUGIN WORK_DIR FIXTURE
# Offline, in GOPATH mode over Debian's /usr/share/gocode (golang-google-grpc-dev and
# golang-github-golang-protobuf-1-3-dev): no module download, no protoc-gen-go needed. The messages
# come from draapi/ (shared with vm-kubelet's DRA mode), found through a GOPATH overlay in WORK_DIR.
set -eu
plugin=$1 work=$2 fixture=$3
go=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if [ ! -d /usr/share/gocode/src/google.golang.org/grpc ]; then
	echo "grpc-go not installed (golang-google-grpc-dev): skipped"
	exit 77
fi
mkdir -p "$work/gopath/src/hostdev.test"
ln -sfn "$here/draapi" "$work/gopath/src/hostdev.test/draapi"
export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS= GOPROXY=off
unset GOROOT
unformatted=$("$(dirname "$(readlink -f "$(command -v "$go")")")/gofmt" -l "$here/drakubelet" "$here/draapi")
[ -z "$unformatted" ] || { echo "gofmt: not formatted: $unformatted"; exit 1; }
cd "$here/drakubelet"
"$go" vet . hostdev.test/draapi
"$go" build -o "$work/drakubelet" .
exec "$work/drakubelet" -plugin "$plugin" -fixture "$fixture"
