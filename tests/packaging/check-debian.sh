#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Debian packages end to end (docs/packaging.md). As root:
#  1. dpkg-source -b and `dpkg-buildpackage -us -uc -b` in a copy of the tree (the package build runs
#     the upstream unit tests; dpkg-gensymbols -c4 holds the library to debian/libhostdev1.symbols)
#  2. lintian on the source and the binary packages: any error fails, warnings are listed, and every
#     override in debian/**lintian-overrides must have a comment (its reason) above it
#  3. a clean chroot of this machine's Debian release (debootstrap --variant=minbase from the
#     configured mirror; the base is cached as a tarball, see CACHE below), the built packages
#     installed with apt, which takes their dependencies from the mirror: tests/packaging/
#     chroot-checks.sh, run in a private mount namespace (nothing here mounts anything on the host)
#
#   tests/packaging/check-debian.sh [--ctest] [WORK_DIR]
#     --ctest    as the ctest test packaging-deb: skip (77) unless HOSTDEV_PACKAGING=1, because it is
#                slow (about 20 minutes here, a few more the first time; docs/packaging.md)
#     WORK_DIR   where the copy, the packages and the chroot go (default: a temporary directory);
#                emptied first
# Environment: HOSTDEV_JOBS (build jobs, default 2), HOSTDEV_PACKAGING_MIRROR (default: the mirror of
# this machine's apt sources), XDG_CACHE_HOME.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [ "${1:-}" = --ctest ]; then
	shift
	if [ "${HOSTDEV_PACKAGING:-0}" != 1 ]; then
		echo "SKIPPED: the Debian packaging test is slow (about 20 minutes); HOSTDEV_PACKAGING=1 runs it"
		exit 77
	fi
fi
fail() { echo "FAIL: $*"; exit 1; }
step_start=$(date +%s)
step() {
	now=$(date +%s)
	printf '\n---- %s (previous step: %d s)\n' "$*" $((now - step_start))
	step_start=$now
}
started=$(date +%s)

[ "$(id -u)" = 0 ] || fail "run as root: debootstrap, chroot and the mount namespace need it"
for tool in dpkg-buildpackage dpkg-source dh lintian debootstrap unshare chroot; do
	command -v "$tool" > /dev/null || fail "$tool is missing: tests/install-deps.sh installs tests/deps/packaging.txt"
done

if [ -n "${1:-}" ]; then
	work=$1
	mkdir -p "$work"
	work=$(cd "$work" && pwd)
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
# Nothing is ever mounted below $work outside the mount namespace of step 3, so emptying it is safe;
# the check makes sure (a leftover bind of /sys would make rm delete the host's files).
if grep -q " $work/" /proc/self/mountinfo; then
	fail "something is mounted below $work: $(grep " $work/" /proc/self/mountinfo)"
fi
rm -rf "$work/build" "$work/chroot"
mkdir -p "$work/build"
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
srcdir="$work/build/libhostdev-$version"

step "copy of the tree into $srcdir"
mkdir -p "$srcdir"
if git -C "$top" rev-parse --git-dir > /dev/null 2>&1; then
	# Tracked and new files as they are in the work tree (uncommitted changes included), nothing ignored.
	git -C "$top" ls-files -z -co --exclude-standard | (cd "$top" && tar --null -T - -cf -) | tar -C "$srcdir" -xf -
else
	tar -C "$top" --exclude='./build*' --exclude=./obj-\* -cf - . | tar -C "$srcdir" -xf -
fi

step "dpkg-source -b (source package, for lintian)"
(cd "$work/build" && dpkg-source -b "libhostdev-$version") > "$work/build/source.log" 2>&1 ||
	{ cat "$work/build/source.log"; fail "dpkg-source -b"; }

step "dpkg-buildpackage -us -uc -b (log: $work/build/build.log)"
(cd "$srcdir" && dpkg-buildpackage -us -uc -b -j"${HOSTDEV_JOBS:-2}") > "$work/build/build.log" 2>&1 ||
	{ tail -60 "$work/build/build.log"; fail "dpkg-buildpackage (whole log: $work/build/build.log)"; }
grep -E '^(100% tests passed|[0-9]+% tests passed)' "$work/build/build.log" ||
	fail "the package build ran no upstream test (see $work/build/build.log)"
changes=$(ls "$work"/build/*.changes)
debs=$(ls "$work"/build/*.deb)
echo "built: $(echo "$debs" | xargs -n1 basename | tr '\n' ' ')"

step "lintian"
# Every override needs its reason: a comment line right above it.
find "$srcdir/debian" -name '*lintian-overrides' | while read -r overrides; do
	awk -v file="$overrides" '
		/^[[:space:]]*#/ { commented = 1; next }
		/^[[:space:]]*$/ { commented = 0; next }
		!commented { printf "FAIL: %s: override without a comment giving its reason: %s\n", file, $0; bad = 1 }
		{ commented = 0 }
		END { exit bad }' "$overrides" || exit 1
done
lintian_status=0
lintian --fail-on error --show-overrides --display-level '>=warning' \
	"$work/build/libhostdev_$version.dsc" "$changes" > "$work/build/lintian.log" 2>&1 || lintian_status=$?
grep -v '^running with root privileges' "$work/build/lintian.log" || true
[ $lintian_status = 0 ] || fail "lintian reported errors (exit $lintian_status)"
echo "ok: lintian: $(grep -c '^E:' "$work/build/lintian.log") errors, $(grep -c '^W:' "$work/build/lintian.log") warnings"

step "clean chroot"
arch=$(dpkg --print-architecture)
. /etc/os-release
suite=${VERSION_CODENAME:?/etc/os-release names no release codename}
mirror=${HOSTDEV_PACKAGING_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' |
		awk -v suite="$suite" '$2 == suite && $3 == "deb" { print $1; exit }')
fi
[ -n "$mirror" ] || fail "no apt source for $suite on this machine (set HOSTDEV_PACKAGING_MIRROR)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/libhostdev/packaging"
base="$cache/$suite-$arch-minbase-$(echo "$mirror" | cksum | cut -d' ' -f1).tar.gz"
mkdir -p "$cache"
# A base older than 30 days is made again, so the installs do not grow with every point release.
if [ -f "$base" ] && [ -n "$(find "$base" -mtime +30)" ]; then
	rm -f "$base"
fi
if [ ! -f "$base" ]; then
	echo "debootstrap $suite ($arch) from $mirror into the cache (a few minutes, once)"
	rm -rf "$cache/debootstrap"
	debootstrap --variant=minbase --arch="$arch" "$suite" "$cache/debootstrap" "$mirror" \
		> "$cache/debootstrap.log" 2>&1 || { tail -30 "$cache/debootstrap.log"; fail "debootstrap"; }
	tar -C "$cache/debootstrap" -czf "$base.tmp" . && mv "$base.tmp" "$base"
	rm -rf "$cache/debootstrap"
fi
root="$work/chroot"
mkdir -p "$root"
tar -C "$root" -xzf "$base"
# The machine's apt sources (release, updates, security) for the chroot's apt, its DNS, no daemons.
apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT) $(TARGET_OF)' |
	awk '$4 == "deb" { print "deb " $1 " " $2 " " $3 }' | sort -u > "$root/etc/apt/sources.list"
[ -s "$root/etc/apt/sources.list" ] || echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/debs" "$root/checks"
cp $debs "$root/debs/"
rm -f "$root"/debs/*-dbgsym_*.deb
cp -a "$top/tests/fixtures/host-virtio" "$root/checks/fixture"
cp -a "$top/tests/abi/consumer" "$root/checks/consumer"
cp -a "$top/tests/abi/consumer-go" "$root/checks/consumer-go"
for doc in "$top"/docs/*.md; do basename "$doc"; done > "$root/checks/docs.txt"
echo "chroot: $root ($suite, from $base)"

step "checks in the chroot (tests/packaging/chroot-checks.sh)"
unshare --mount --propagation private "$here/chroot-checks.sh" "$root" "$cache" "$version"

step "done"
rm -rf "$root"
echo "ok: Debian packages built, lintian clean of errors, installed and used in a clean $suite chroot" \
	"($(($(date +%s) - started)) s)"
