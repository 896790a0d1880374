#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The cheap half of the Debian packaging checks, in the default suite (ctest packaging-debian-static;
# the slow half, which builds and installs the packages, is check-debian.sh):
#   - debian/libhostdev1.symbols is what src/libhostdev.sym gives (tests/packaging/gen-symbols.py)
#   - the library package is named after the SONAME major (libhostdev<HOSTDEV_SOVERSION>) and the
#     changelog's upstream version is the project's version
#   - debian/rules honours nocheck: no tests configured or run; without it only the label unit runs
#   - every lintian override has a comment giving its reason right above it
#   check-debian-static.sh SOURCE_DIR
set -eu
top=$1
fail() { echo "FAIL: $*"; exit 1; }
cd "$top"

/usr/bin/python3 tests/packaging/gen-symbols.py --check "$top"

soversion=$(sed -n 's/^set(HOSTDEV_SOVERSION \([0-9]*\)).*/\1/p' CMakeLists.txt)
project=$(sed -n 's/^project(libhostdev VERSION \([0-9.]*\) .*/\1/p' CMakeLists.txt)
[ -n "$soversion" ] && [ -n "$project" ] || fail "cannot read HOSTDEV_SOVERSION and the version from CMakeLists.txt"
packages=$(dh_listpackages 2> /dev/null) || fail "dh_listpackages cannot read debian/control"
echo "$packages" | grep -qx "libhostdev$soversion" ||
	fail "debian/control has no package libhostdev$soversion for the SONAME libhostdev.so.$soversion: $packages"
head -1 debian/libhostdev1.symbols | grep -q "^libhostdev.so.$soversion libhostdev$soversion " ||
	fail "debian/libhostdev1.symbols is not for libhostdev.so.$soversion"
# libkmod is loaded with dlopen (src/pci/pci_kmod.c): no DT_NEEDED entry, so dpkg-shlibdeps cannot
# compute it and the library package must name it itself.
depends=$(awk '/^Package: /{p=$2} p=="libhostdev'"$soversion"'" && /^Depends:/{print; exit}' debian/control)
echo "$depends" | grep -q '[ ,]libkmod2[ ,]' ||
	fail "debian/control: libhostdev$soversion does not depend on libkmod2, which it loads with dlopen: $depends"
echo "ok: libhostdev$soversion depends on libkmod2 (loaded with dlopen)"
version=$(dpkg-parsechangelog -S Version)
[ "${version%%-*}" = "$project" ] || fail "debian/changelog is at $version, the project at $project"
echo "ok: libhostdev$soversion for libhostdev.so.$soversion; changelog $version = project $project"

# debian/rules as make sees it with and without nocheck (make -n runs nothing).
rules() { env -u DEB_BUILD_PROFILES DEB_BUILD_OPTIONS="$1" make -s -n -f debian/rules "$2"; }
rules "" override_dh_auto_configure | grep -q -- '-DBUILD_TESTING=ON' || fail "debian/rules: tests not configured"
rules "" override_dh_auto_test | grep -q 'ctest .* -L unit ' || fail "debian/rules: not ctest -L unit"
rules nocheck override_dh_auto_configure | grep -q -- '-DBUILD_TESTING=OFF' ||
	fail "debian/rules: DEB_BUILD_OPTIONS=nocheck still configures the tests"
nocheck_test=$(rules nocheck override_dh_auto_test)
case "$nocheck_test" in
*ctest* | *"dh "*) fail "debian/rules: with DEB_BUILD_OPTIONS=nocheck, override_dh_auto_test runs: $nocheck_test" ;;
esac
echo "ok: debian/rules runs ctest -L unit, and nothing with DEB_BUILD_OPTIONS=nocheck"

find debian -name '*lintian-overrides' | while read -r overrides; do
	awk -v file="$overrides" '
		/^[[:space:]]*#/ { commented = 1; next }
		/^[[:space:]]*$/ { commented = 0; next }
		!commented { printf "FAIL: %s: override without a comment giving its reason: %s\n", file, $0; bad = 1 }
		{ commented = 0 }
		END { exit bad }' "$overrides" || exit 1
done
echo "ok: every lintian override has its reason ($(find debian -name '*lintian-overrides' | wc -l) files)"
