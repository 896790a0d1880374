#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What an installation gives its users (docs/packaging.md), checked on this build installed twice:
#
# 1. `cmake --install --prefix <build>/tests/abi/prefix` (a relocated prefix; a fixed path, because
#    the go command caches the binding's cgo flags, which name it):
#    - the library file is libhostdev.so.<SONAME major>.<minor>.<patch>, with the SONAME and dev links
#    - pkg-config finds libhostdev with only libhostdev.pc visible (PKG_CONFIG_LIBDIR: none of the
#      library's own -dev packages needed), requires nothing, and prints only the prefix's -I, -L,
#      rpath and -lhostdev (no -I/usr/include/cjson)
#    - a consumer built with pkg-config and one built with find_package(libhostdev) run without
#      LD_LIBRARY_PATH and load the prefix's library; so does a Go program using the binding (when
#      GO is set), through the rpath the .pc gives cgo
# 2. `DESTDIR=<tmp>/destdir cmake --install` (the configured prefix, as a distribution stages it):
#    - every docs/*.md is in the docdir that `hostdev --help` names, the man page is in man1 of the
#      prefix, renders without warnings and names that same docdir
#    - the Python package (when PYTHON is set) is in a directory Debian's /usr/bin/python3 searches
#      for this prefix, imports from there and loads the staged libhostdev; the prefix /usr maps to
#      a directory on its sys.path too (/usr/lib/python3/dist-packages)
#
#   check-install.sh BUILD_DIR SOURCE_DIR PREFIX "EXTRA_CFLAGS"
# Environment: PYTHON (Debian's interpreter, when the binding is built), PYTHON_SITEDIR (its
# directory relative to the prefix), GO (the go command, when the Go binding is tested), PRELOAD
# and ASAN_OPTIONS for the interpreter in sanitizer builds.
set -eu
build=$1 src=$2 prefix=$3 extra_cflags=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
work="$build/tests/abi"
fail() { echo "FAIL: $*"; exit 1; }
unset LD_LIBRARY_PATH

# ---- 1. relocated prefix ------------------------------------------------------------------------
rm -rf "$work/prefix"
cmake --install "$build" --prefix "$work/prefix" > "$tmp/install.log"
pcfile=$(find "$work/prefix" -name libhostdev.pc)
[ -n "$pcfile" ] || fail "libhostdev.pc not installed"
pcdir=$(dirname "$pcfile")
libdir=$(dirname "$pcdir")

# The real file follows the SONAME's major; the SONAME and the dev link point at it.
soname=$(objdump -p "$libdir/libhostdev.so" | awk '$1 == "SONAME" { print $2 }')
major=${soname#libhostdev.so.}
real=$(readlink -f "$libdir/libhostdev.so")
case "$(basename "$real")" in
"libhostdev.so.$major".[0-9]*.[0-9]*) ;;
*) fail "library file $(basename "$real") does not follow SONAME $soname (libhostdev.so.$major.X.Y)" ;;
esac
[ "$(readlink -f "$libdir/$soname")" = "$real" ] || fail "$soname does not point at $(basename "$real")"
echo "ok: $(basename "$real"), SONAME $soname, libhostdev.so -> $(readlink "$libdir/libhostdev.so")"

# pkg-config with nothing but libhostdev.pc on its path: the -dev package alone must do.
export PKG_CONFIG_LIBDIR="$pcdir"
unset PKG_CONFIG_PATH
requires=$(pkg-config --print-requires --print-requires-private libhostdev) ||
	fail "pkg-config cannot read libhostdev.pc on its own"
[ -z "$requires" ] || fail "libhostdev.pc requires: $requires (consumers need none of them)"
cflags=$(pkg-config --cflags libhostdev)
libs=$(pkg-config --libs libhostdev)
pkg-config --static --libs libhostdev > /dev/null || fail "pkg-config --static --libs libhostdev failed"
# Only the prefix's include directory, library directory (-L and the rpath for cgo) and -lhostdev.
include=$(readlink -f "$work/prefix/include")
# shellcheck disable=SC2086
set -- $cflags
[ $# = 1 ] && [ "$(readlink -f "${1#-I}")" = "$include" ] ||
	fail "pkg-config --cflags: '$cflags' (expected only -I$include)"
for flag in $libs; do
	case "$flag" in
	-L*) dir=${flag#-L} ;;
	-Wl,-rpath,*) dir=${flag#-Wl,-rpath,} ;;
	-lhostdev) continue ;;
	*) fail "pkg-config --libs: unexpected $flag in '$libs'" ;;
	esac
	[ "$(readlink -f "$dir")" = "$(readlink -f "$libdir")" ] || fail "pkg-config --libs: $flag is not $libdir"
done
echo "ok: pkg-config alone: --cflags '$cflags' --libs '$libs'"

# Consumers, run without LD_LIBRARY_PATH: each must load the prefix's library.
loads_prefix_lib() { # PROGRAM WHAT
	lib=$(ldd "$1" | awk '$1 ~ /^libhostdev\.so/ { print $3 }')
	[ "$(readlink -f "$lib")" = "$real" ] || fail "$2 loads '$lib', not $real:
$(ldd "$1")"
}
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $extra_cflags "$src/tests/abi/consumer/consumer.c" $cflags $libs $extra_cflags \
	-o "$tmp/via-pkgconfig"
loads_prefix_lib "$tmp/via-pkgconfig" "the pkg-config consumer"
"$tmp/via-pkgconfig" > "$tmp/out1"
unset PKG_CONFIG_LIBDIR
cmake -S "$src/tests/abi/consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
	-DCMAKE_C_FLAGS="$extra_cflags" -DCMAKE_EXE_LINKER_FLAGS="$extra_cflags" > "$tmp/cmake.log"
cmake --build "$tmp/cmake-build" > "$tmp/build.log"
loads_prefix_lib "$tmp/cmake-build/consumer" "the find_package consumer"
"$tmp/cmake-build/consumer" > "$tmp/out2"
grep -q '^libhostdev [0-9]' "$tmp/out1" && cmp -s "$tmp/out1" "$tmp/out2" || {
	echo "FAIL: consumers printed:"; cat "$tmp/out1" "$tmp/out2"; exit 1; }
echo "ok: pkg-config and find_package consumers built and ran: $(head -1 "$tmp/out1")"

# The Go binding through the installed .pc: cgo takes the rpath from it. A sanitizer build is left
# out: the installed .pc carries no sanitizer flags (bindings-go covers the binding there).
if [ -n "${GO:-}" ] && [ -z "$extra_cflags" ]; then
	gowork="$work/consumer-go" # kept: its GOCACHE makes the next run fast
	mkdir -p "$gowork/src"
	cp "$src/tests/abi/consumer-go/main.go" "$gowork/src/"
	sed "s|@BINDINGS_DIR@|$src/bindings|" "$src/tests/abi/consumer-go/go.mod.in" > "$gowork/src/go.mod"
	# The go command's cache keys the binding by its .swig and .go files, not by what pkg-config
	# says or the interface and headers SWIG reads: a stamp of those in CGO_CPPFLAGS (part of the
	# key) rebuilds it when any of them changes.
	stamp=$(cat "$pcfile" "$src/bindings/hostdev.i" "$src/include/hostdev.h" "$src"/include/hostdev/*.h |
		cksum | cut -d' ' -f1)
	(cd "$gowork/src" && env GOCACHE="$gowork/cache" GOPATH="$gowork/gopath" GOFLAGS=-mod=mod \
		GOPROXY=off GOSUMDB=off GO111MODULE=on CGO_ENABLED=1 PKG_CONFIG_PATH="$pcdir" \
		CGO_CPPFLAGS="-DHOSTDEV_INSTALL_STAMP=$stamp" \
		"$GO" build -o "$tmp/consumer-go" .) || fail "the Go consumer does not build against $work/prefix"
	loads_prefix_lib "$tmp/consumer-go" "the Go consumer"
	"$tmp/consumer-go" > "$tmp/out3"
	[ "$(cat "$tmp/out3")" = "$(head -1 "$tmp/out1")" ] || fail "the Go consumer printed: $(cat "$tmp/out3")"
	echo "ok: Go consumer built with the installed .pc and ran without LD_LIBRARY_PATH"
fi

# ---- 2. staged install at the configured prefix ---------------------------------------------------
stage="$tmp/destdir"
DESTDIR="$stage" cmake --install "$build" > "$tmp/install2.log"
[ -x "$stage$prefix/bin/hostdev" ] || fail "hostdev not installed into $prefix/bin"

# The docdir is what --help says, and it holds every docs/*.md as in the sources.
docdir=$("$stage$prefix/bin/hostdev" --help | sed -n 's/^Documentation: the \*\.md files in \(.*\) and man hostdev\.$/\1/p')
[ -n "$docdir" ] || fail "hostdev --help names no documentation directory"
case "$docdir" in "$prefix"/*) ;; *) fail "hostdev --help names $docdir, outside the prefix $prefix" ;; esac
n=0
for doc in "$src"/docs/*.md; do
	cmp -s "$doc" "$stage$docdir/$(basename "$doc")" || fail "$docdir/$(basename "$doc") not installed"
	n=$((n + 1))
done
# Each man page: installed in its section, with the docdir, every document it names installed, no
# warning from man.
for page in man1/hostdev.1 man8/hostdev-agent.8; do
	man="$stage$prefix/share/man/$page"
	[ -f "$man" ] || fail "man page not installed as $prefix/share/man/$page"
	grep -qx ".ds docdir $docdir" "$man" || fail "$page names another docdir: $(grep '^\.ds docdir' "$man")"
	for doc in $(grep -o '\\\*\[docdir\]/[a-z\\-]*\.md' "$man" | sed 's/.*\]\///; s/\\-/-/g'); do
		[ -f "$stage$docdir/$doc" ] || fail "$page refers to $docdir/$doc, which is not installed"
	done
	if command -v man > /dev/null; then
		warnings=$(MANWIDTH=80 man --warnings -l "$man" 2>&1 > /dev/null)
		[ -z "$warnings" ] || fail "$page: man page warnings: $warnings"
	fi
done
if command -v manpath > /dev/null && { [ "$prefix" = /usr ] || [ "$prefix" = /usr/local ]; }; then
	manpath -g 2> /dev/null | tr ':' '\n' | grep -qx "$prefix/share/man" ||
		fail "$prefix/share/man is not on man's path ($(manpath -g))"
fi
echo "ok: $n documents in $docdir (named by --help and the man pages), man pages in $prefix/share/man/man1 and man8"

# The Python package where Debian's interpreter looks for this prefix's packages.
if [ -n "${PYTHON:-}" ]; then
	pydir="$prefix/${PYTHON_SITEDIR:?PYTHON_SITEDIR not set}"
	[ -f "$stage$pydir/hostdev/__init__.py" ] || fail "the Python package is not in $pydir"
	"$PYTHON" - "$pydir" "$src/cmake/python_sitedir.py" "$prefix" <<'PY' || exit 1
import subprocess, sys, sysconfig
pydir, rule, prefix = sys.argv[1:]
if "deb_system" not in sysconfig.get_scheme_names():
    print("ok: not Debian's interpreter: its own layout", pydir)
    sys.exit(0)
if prefix in ("/usr", "/usr/local") and pydir not in sys.path:
    sys.exit("FAIL: %s is not on %s's sys.path %s" % (pydir, sys.executable, sys.path))
usr = "/usr/" + subprocess.run([sys.executable, rule, "/usr"], check=True, capture_output=True,
                               text=True).stdout.strip()
if usr not in sys.path:
    sys.exit("FAIL: the prefix /usr would install into %s, not on sys.path %s" % (usr, sys.path))
print("ok: %s and (prefix /usr) %s are on %s's sys.path" % (pydir, usr, sys.executable))
PY
	(cd "$tmp" && env PYTHONPATH="$stage$pydir" PYTHONDONTWRITEBYTECODE=1 \
		LD_PRELOAD="${PRELOAD:-}" "$PYTHON" - "$stage" <<'PY') || fail "import hostdev from the staged install"
import sys
import hostdev
stage = sys.argv[1]
assert hostdev.__file__.startswith(stage), hostdev.__file__
maps = open("/proc/self/maps").read()
libs = {l.split()[-1] for l in maps.splitlines() if "libhostdev.so" in l}
assert libs and all(l.startswith(stage) for l in libs), libs
print("ok: import hostdev", hostdev.version, "from", hostdev.__file__[len(stage):], "loads", *libs)
PY
fi
