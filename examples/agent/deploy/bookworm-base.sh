#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prints the path of a Debian bookworm root file system tarball (debootstrap --variant=minbase from
# this machine's Debian mirror), made once and cached: the base of the hostdev-agent image
# (build-image.sh) and of the runtime-stage chroot test (tests/agent/deploy/test-runtime-chroot.sh).
# No registry is needed: only the Debian mirror apt already uses.
#
#   examples/agent/deploy/bookworm-base.sh      -> $CACHE/bookworm-amd64-minbase-<mirror sum>.tar
#
# Its apt sources are the machine's bookworm, bookworm-updates and bookworm-security mirrors, so
# the stages install the same package versions the machine has. Environment:
#   HOSTDEV_IMAGE_MIRROR   the Debian mirror (default: the one of this machine's apt sources)
#   HOSTDEV_IMAGE_CACHE    cache directory (default ${XDG_CACHE_HOME:-~/.cache}/libhostdev/agent-image)
# Needs root (debootstrap). Concurrent runs wait for each other (flock).
set -eu
suite=bookworm
arch=$(dpkg --print-architecture)
fail() {
	echo "bookworm-base: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap needs it)"
command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
# apt's view of the machine's sources: "URI RELEASE" per index.
# shellcheck disable=SC2016 # apt's own $(FIELD) syntax, not the shell's
sources=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u)
mirror=${HOSTDEV_IMAGE_MIRROR:-$(echo "$sources" | awk -v s="$suite" '$2 == s { print $1; exit }')}
[ -n "$mirror" ] || fail "no apt source for $suite on this machine: set HOSTDEV_IMAGE_MIRROR"
security=$(echo "$sources" | awk -v s="$suite-security" '$2 == s { print $1; exit }')
cache=${HOSTDEV_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libhostdev/agent-image}
mkdir -p "$cache"
tarball="$cache/$suite-$arch-minbase-$(echo "$mirror $security" | cksum | cut -d' ' -f1).tar"
exec 9>"$cache/.base.lock"
flock 9
if [ ! -s "$tarball" ]; then
	root="$cache/rootfs.tmp"
	rm -rf "$root"
	echo "bookworm-base: debootstrap $suite ($arch) from $mirror (a few minutes, once)" >&2
	debootstrap --variant=minbase --arch="$arch" "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{
			tail -30 "$cache/debootstrap.log" >&2
			fail "debootstrap failed (log: $cache/debootstrap.log)"
		}
	{
		echo "deb $mirror $suite main"
		echo "deb $mirror $suite-updates main"
		[ -z "$security" ] || echo "deb $security $suite-security main"
	} >"$root/etc/apt/sources.list"
	# Small images: no recommends, no documentation (the Containerfile installs with apt-get).
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90hostdev-norecommends"
	printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
		>"$root/etc/dpkg/dpkg.cfg.d/90hostdev-nodoc"
	rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
	: >"$root/etc/resolv.conf"
	tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	rm -rf "$root"
fi
echo "$tarball"
