#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The installed Debian packages in a clean chroot, step by step, each step installing only what it
# needs with apt (dependencies from the mirror). Run by check-debian.sh inside a private mount
# namespace (unshare --mount): the mounts below vanish with it and the host's /sys is only ever
# bound read-only.
#   chroot-checks.sh ROOT CACHE_DIR VERSION
# ROOT holds /debs (the packages), /checks/{fixture,consumer,consumer-go,docs.txt}; CACHE_DIR keeps
# apt's package lists and downloaded packages between runs (apt-lists/, apt-archives/).
set -eu
root=$1 cache=$2 version=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }
apt_install() {
	in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
		> "$root/checks/apt.log" 2>&1 || { tail -40 "$root/checks/apt.log"; fail "apt-get install $*"; }
}
# The library's own dependencies' -dev packages: a consumer of libhostdev needs none of them.
not_installed() {
	for p in libpci-dev libkmod-dev libcjson-dev libudev-dev libnghttp2-dev libprotobuf-c-dev; do
		! in_root dpkg-query -W -f '${Status}\n' "$p" 2> /dev/null | grep -q 'ok installed' ||
			fail "$p got installed $1"
	done
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
real_lib=/usr/lib/$multiarch/libhostdev.so.1
# PROGRAM WHAT: the program must load the packaged library (ldd in the chroot).
loads_packaged_lib() {
	lib=$(in_root ldd "$1" | awk '$1 == "libhostdev.so.1" { print $3 }')
	[ -n "$lib" ] && [ "$(in_root readlink -f "$lib")" = "$(in_root readlink -f "$real_lib")" ] ||
		fail "$2 loads '$lib', not $real_lib: $(in_root ldd "$1")"
}

mount -t proc proc "$root/proc"
# The host's /sys for `hostdev list`, read-only (checked before anything reads it).
mount --bind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
awk -v m="$root/sys" '$5 == m { split($6, o, ","); if (o[1] != "ro") exit 1; found = 1 } END { exit !found }' \
	/proc/self/mountinfo || fail "$root/sys is not a read-only mount"
# Package lists and downloaded packages are kept between runs: apt fetches only what changed.
mkdir -p "$cache/apt-lists" "$cache/apt-archives"
mount --bind "$cache/apt-lists" "$root/var/lib/apt/lists"
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
# The chroot's path of the built package NAME (the file name carries the version and architecture).
deb() {
	for f in "$root/debs/$1_${version}_"*.deb; do
		[ -f "$f" ] || fail "no package $1 $version in /debs"
		echo "/debs/${f##*/}"
	done
}
in_root apt-get update -q > "$root/checks/apt.log" 2>&1 || { cat "$root/checks/apt.log"; fail "apt-get update"; }

echo "-- libhostdev-dev alone: pkg-config"
apt_install "$(deb libhostdev1)" "$(deb libhostdev-dev)" pkg-config
not_installed "with libhostdev-dev"
flags=$(in_root pkg-config --cflags --libs libhostdev) || fail "pkg-config --cflags --libs libhostdev"
# shellcheck disable=SC2086
[ "$(echo $flags)" = "-lhostdev" ] || fail "pkg-config --cflags --libs libhostdev: '$flags' (expected -lhostdev)"
[ "$(in_root pkg-config --variable=prefix libhostdev)" = /usr ] || fail "libhostdev.pc: prefix is not /usr"
ok "pkg-config --cflags --libs libhostdev: '$flags', with none of libpci-dev, libkmod-dev, ... installed"

echo "-- hostdev: list, documentation"
apt_install "$(deb hostdev)"
loads_packaged_lib /usr/bin/hostdev "hostdev"
expected=$(ls "$root/checks/fixture/sys/bus/pci/devices")
listed=$(in_root hostdev --root /checks/fixture list | awk '{ print $1 }')
[ "$listed" = "$expected" ] || fail "hostdev --root /checks/fixture list printed: $listed (expected: $expected)"
ok "hostdev --root (a fixture) list: $(echo "$listed" | wc -l) devices, as in the fixture"
expected=$(ls "$root/sys/bus/pci/devices")
listed=$(in_root hostdev list | awk '{ print $1 }' | sort)
[ "$listed" = "$expected" ] || fail "hostdev list on the host's /sys printed: $listed (expected: $expected)"
ok "hostdev list on the host's /sys (read-only): $(echo "$listed" | wc -l) devices, as in /sys/bus/pci/devices"
docdir=$(in_root hostdev --help | sed -n 's/^Documentation: the \*\.md files in \(.*\) and man hostdev\.$/\1/p')
[ "$docdir" = /usr/share/doc/hostdev ] || fail "hostdev --help names '$docdir' for the documentation"
while read -r doc; do
	[ -f "$root$docdir/$doc" ] || fail "$docdir/$doc (named by --help) is not installed (compressed?)"
done < "$root/checks/docs.txt"
man="$root/usr/share/man/man1/hostdev.1.gz"
[ -f "$man" ] || fail "no man page /usr/share/man/man1/hostdev.1.gz"
zcat "$man" | grep -qx ".ds docdir $docdir" || fail "the man page names another docdir: $(zcat "$man" | grep '^\.ds docdir')"
ok "$(wc -l < "$root/checks/docs.txt") documents in $docdir as --help and the man page say"

echo "-- hostdev-agent"
apt_install "$(deb hostdev-agent)"
loads_packaged_lib /usr/bin/hostdev-agent "hostdev-agent"
agent_version=$(in_root hostdev-agent --version) || fail "hostdev-agent --version"
case "$agent_version" in *"$version"*) ;; *) fail "hostdev-agent --version printed: $agent_version" ;; esac
[ -f "$root/usr/share/man/man8/hostdev-agent.8.gz" ] || fail "no man page /usr/share/man/man8/hostdev-agent.8.gz"
ok "hostdev-agent: $agent_version, its libraries from Depends, man page in man8"

echo "-- python3-hostdev"
apt_install "$(deb python3-hostdev)"
in_root python3 - "$version" "$real_lib" <<'PY' || fail "python3: import hostdev"
import os, sys
import hostdev
version, real_lib = sys.argv[1:]
assert hostdev.__file__ == "/usr/lib/python3/dist-packages/hostdev/__init__.py", hostdev.__file__
assert hostdev.version == version, hostdev.version
maps = open("/proc/self/maps").read().splitlines()
libs = {os.path.realpath(l.split()[-1]) for l in maps if "libhostdev.so" in l}
assert libs == {os.path.realpath(real_lib)}, libs
print("ok: python3: import hostdev", hostdev.version, "from", os.path.dirname(hostdev.__file__),
      "with", *libs)
PY

echo "-- C consumers: pkg-config and find_package"
apt_install gcc libc6-dev cmake make
not_installed "with gcc and cmake"
in_root sh -c 'cc -std=c11 -Wall -Werror /checks/consumer/consumer.c $(pkg-config --cflags --libs libhostdev) \
	-o /checks/via-pkgconfig' || fail "the pkg-config consumer does not build"
loads_packaged_lib /checks/via-pkgconfig "the pkg-config consumer"
in_root sh -c 'cmake -S /checks/consumer -B /checks/cmake-build > /checks/cmake.log && cmake --build /checks/cmake-build >> /checks/cmake.log' ||
	{ cat "$root/checks/cmake.log"; fail "the find_package consumer does not build"; }
loads_packaged_lib /checks/cmake-build/consumer "the find_package consumer"
out1=$(in_root /checks/via-pkgconfig) out2=$(in_root /checks/cmake-build/consumer)
[ "$(echo "$out1" | head -1)" = "libhostdev $version" ] && [ "$out1" = "$out2" ] ||
	fail "the consumers printed: $out1 / $out2"
ok "C consumers (pkg-config, find_package) built and ran: $(echo "$out1" | head -1)"

echo "-- Go consumer, offline, against golang-github-libhostdev-libhostdev-bindings-dev"
apt_install golang-go "$(deb golang-github-libhostdev-libhostdev-bindings-dev)"
module=/usr/share/gocode/src/github.com/libhostdev/libhostdev/bindings
mkdir -p "$root/checks/go-gopath" "$root/checks/go-module"
cp "$root/checks/consumer-go/main.go" "$root/checks/go-gopath/"
cp "$root/checks/consumer-go/main.go" "$root/checks/go-module/"
sed "s|@BINDINGS_DIR@|$module|" "$root/checks/consumer-go/go.mod.in" > "$root/checks/go-module/go.mod"
# unshare --net: no network at all while the go command runs.
unshare --net chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root GOCACHE=/checks/gocache \
	GO111MODULE=off GOPATH=/usr/share/gocode sh -c 'cd /checks/go-gopath && go build -o /checks/consumer-gopath .' ||
	fail "the Go consumer does not build in GOPATH mode (GOPATH=/usr/share/gocode)"
unshare --net chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root GOCACHE=/checks/gocache \
	GOPATH=/checks/gopath GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off \
	sh -c 'cd /checks/go-module && go build -o /checks/consumer-module .' ||
	fail "the Go consumer does not build in module mode (replace => $module)"
for program in /checks/consumer-gopath /checks/consumer-module; do
	loads_packaged_lib "$program" "the Go consumer $program"
	[ "$(in_root "$program")" = "libhostdev $version" ] || fail "$program printed: $(in_root "$program")"
done
ok "Go consumer built offline in GOPATH mode and with a replace directive, ran without LD_LIBRARY_PATH"
