#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install every Debian package the project needs (lists in tests/deps/*.txt). Needs root (or sudo).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(cat "$here"/deps/*.txt | sed 's/#.*//' | tr -s ' \t\n' '\n' | grep -v '^$' | sort -u)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi
