#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build and run the grpc-go fake kubelet against dp_test_plugin (ctest deviceplugin.grpc-go):
#   run-go-test.sh PLUGIN WORK_DIR
# Offline, in GOPATH mode over Debian's /usr/share/gocode (golang-google-grpc-dev and
# golang-github-golang-protobuf-1-3-dev): no module download, no protoc-gen-go needed. The shared
# kubeletapi package (also used by tests/vm/kubelet-go) is found through a GOPATH overlay in
# WORK_DIR.
set -eu
plugin=$1 work=$2
go=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if [ ! -d /usr/share/gocode/src/google.golang.org/grpc ]; then
	echo "grpc-go not installed (golang-google-grpc-dev): skipped"
	exit 77
fi
mkdir -p "$work/gopath/src/hostdev.test"
ln -sfn "$here/kubeletapi" "$work/gopath/src/hostdev.test/kubeletapi"
export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS= GOPROXY=off
unset GOROOT
unformatted=$("$(dirname "$(readlink -f "$(command -v "$go")")")/gofmt" -l "$here/fakekubelet" "$here/kubeletapi")
[ -z "$unformatted" ] || { echo "gofmt: not formatted: $unformatted"; exit 1; }
cd "$here/fakekubelet"
"$go" vet . hostdev.test/kubeletapi
"$go" build -o "$work/fakekubelet" .
exec "$work/fakekubelet" -plugin "$plugin"
