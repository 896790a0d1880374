#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prints the path of Debian's kubectl (package kubernetes-client, v1.20), unpacked - not installed -
# into a cache directory: the package conflicts with the kubectl some machine images ship
# (google-cloud-sdk), and the tests want both builds as independent clients.
#
#   tests/agent/tools/fetch-kubectl.sh CACHE_DIR     -> CACHE_DIR/kubernetes-client/usr/bin/kubectl
#
# Uses `apt-get download` (the Debian mirror) and `dpkg-deb -x`; safe to run concurrently (flock).
# Exits non-zero with a message naming what failed.
set -eu
cache=${1:?usage: fetch-kubectl.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
root="$cache/kubernetes-client"
bin="$root/usr/bin/kubectl"
exec 9>"$cache/.fetch-kubectl.lock"
flock 9
if [ ! -x "$bin" ]; then
	work=$(mktemp -d "$cache/download.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	if ! (cd "$work" && apt-get download kubernetes-client >"$work/apt.log" 2>&1); then
		# The package lists may be missing or stale on a fresh machine: refresh them once.
		if ! { apt-get update -qq >>"$work/apt.log" 2>&1 && (cd "$work" && apt-get download kubernetes-client >>"$work/apt.log" 2>&1); }; then
			echo "fetch-kubectl: 'apt-get download kubernetes-client' failed (is the Debian mirror reachable?):" >&2
			cat "$work/apt.log" >&2
			exit 1
		fi
	fi
	deb=$(ls "$work"/kubernetes-client_*.deb)
	rm -rf "$root.new"
	dpkg-deb -x "$deb" "$root.new"
	[ -x "$root.new/usr/bin/kubectl" ] || { echo "fetch-kubectl: $deb has no usr/bin/kubectl" >&2; exit 1; }
	rm -rf "$root"
	mv "$root.new" "$root"
fi
echo "$bin"
