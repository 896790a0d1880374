#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Prepare the cache the VM harness boots from (see docs/vm-harness.md):
#   - the Debian kernel that linux-image-amd64 currently depends on (downloaded and unpacked, not installed),
#     its uncompressed vmlinux (PVH entry: boots twice as fast under TCG), depmod'ed;
#   - the subset of modules listed in tests/vm/modules.txt plus their dependency closure, and mtty.ko;
#   - mtty.ko built from Debian's linux-source (samples/vfio-mdev/mtty.c) against the matching linux-headers;
#   - guest userland from .debs: systemd-udevd (udev), nvme-cli, and their private libraries.
# Nothing is installed on the host. The cache lives outside the source tree and is reused: a second run with
# everything present takes well under a second and does no network access.
#
# Usage: prepare-cache.sh [--refresh] [--print-env]
#   --refresh    re-resolve linux-image-amd64 even when a kernel is cached (may download a newer one)
#   --print-env  only print the cache's env file (after preparing)
# Environment: HOSTDEV_VM_CACHE (default $HOME/.cache/libhostdev-vm).
# Exit status: 0 ready; 77 kernel cannot be had (offline and nothing cached): callers report SKIPPED; 1 error.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${HOSTDEV_VM_CACHE:-${HOME:-/root}/.cache/libhostdev-vm}
refresh=0
print_env=0
for a in "$@"; do
	case "$a" in
	--refresh) refresh=1 ;;
	--print-env) print_env=1 ;;
	-h | --help)
		sed -n '3,20p' "$0"
		exit 0
		;;
	*)
		echo "prepare-cache: unknown argument: $a" >&2
		exit 1
		;;
	esac
done

log() { echo "prepare-cache: $*" >&2; }
skip() {
	echo "prepare-cache: SKIPPED: $*" >&2
	echo "prepare-cache: ******************************************************************" >&2
	echo "prepare-cache: ** the VM suite cannot run: no kernel in $cache and none downloadable **" >&2
	echo "prepare-cache: ******************************************************************" >&2
	exit 77
}

for tool in dpkg-deb depmod modprobe apt-get apt-cache; do
	command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin"
	command -v "$tool" >/dev/null 2>&1 || {
		log "missing host tool: $tool (run tests/install-deps.sh)"
		exit 1
	}
done

mkdir -p "$cache/debs"
# One preparer at a time (ctest -j runs several runners).
exec 9>"$cache/.lock"
flock 9

# --- 1. Which kernel? ---------------------------------------------------------------------------------------
current_kver() {
	[ -f "$cache/current" ] && cat "$cache/current" || true
}
resolve_kver() {
	# apt-cache depends linux-image-amd64 -> "Depends: linux-image-6.1.0-56-amd64"
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^[[:space:]]*Depends:[[:space:]]*linux-image-\([0-9][^[:space:]]*\)$/\1/p' | head -n1
}

kver=$(current_kver)
if [ -z "$kver" ] || [ "$refresh" = 1 ] || [ ! -f "$cache/$kver/ready" ]; then
	new=$(resolve_kver)
	if [ -z "$new" ]; then
		log "apt-cache knows no linux-image-amd64; trying apt-get update"
		{ apt-get update -qq >/dev/null 2>&1 || true; }
		new=$(resolve_kver)
	fi
	if [ -n "$new" ]; then
		kver=$new
	elif [ -z "$kver" ] || [ ! -f "$cache/$kver/ready" ]; then
		skip "cannot resolve the kernel linux-image-amd64 depends on (apt-cache depends linux-image-amd64 is empty)"
	fi
fi
kdir="$cache/$kver"
root="$kdir/root"

# Download .debs into $cache/debs (apt-get download writes to the current directory).
download() { # download PKG[=VERSION]...
	(cd "$cache/debs" && apt-get download "$@" >/dev/null 2>"$cache/debs/.apt-err") || {
		cat "$cache/debs/.apt-err" >&2
		return 1
	}
}
deb_of() { # deb_of PKG VERSION -> path of the downloaded .deb (version epoch dropped, ':' escaped)
	local v=${2#*:}
	ls "$cache/debs/$1_"*"$v"_*.deb 2>/dev/null | head -n1
}
pkg_version() { # candidate version of a package
	apt-cache policy "$1" 2>/dev/null | sed -n 's/^[[:space:]]*Candidate:[[:space:]]*//p' | head -n1
}

modules_hash() { md5sum "$here/modules.txt" | cut -d' ' -f1; }

if [ -f "$kdir/ready" ] && [ "$(cat "$kdir/ready")" = "$(modules_hash)" ] && [ -f "$cache/userland/ready" ]; then
	[ "$(current_kver)" = "$kver" ] || echo "$kver" >"$cache/current"
	[ "$print_env" = 1 ] && cat "$cache/env.sh"
	exit 0
fi

log "preparing kernel $kver in $cache"
kpkg="linux-image-$kver"
kpkgver=$(pkg_version "$kpkg")
[ -n "$kpkgver" ] && [ "$kpkgver" != "(none)" ] || {
	if [ -f "$kdir/ready" ]; then
		kpkgver=$(cat "$kdir/pkgversion")
	else
		skip "apt-cache has no candidate for $kpkg"
	fi
}

# --- 2. kernel image, headers, kbuild, source ----------------------------------------------------------------
if [ ! -f "$kdir/unpacked" ]; then
	log "downloading $kpkg $kpkgver and the matching headers/kbuild/source"
	kbase=${kver%-*} # 6.1.0-56
	series=$(echo "$kver" | cut -d. -f1-2) # 6.1
	pkgs="$kpkg=$kpkgver linux-headers-$kver=$kpkgver linux-headers-$kbase-common=$kpkgver"
	pkgs="$pkgs linux-kbuild-$series=$kpkgver linux-source-$series=$kpkgver"
	# shellcheck disable=SC2086
	download $pkgs || skip "apt-get download of the kernel packages failed (offline?)"
	rm -rf "$root"
	mkdir -p "$root"
	for p in "$kpkg" "linux-headers-$kver" "linux-headers-$kbase-common" "linux-kbuild-$series"; do
		deb=$(deb_of "$p" "$kpkgver")
		[ -n "$deb" ] || {
			log "downloaded .deb for $p not found"
			exit 1
		}
		dpkg-deb -x "$deb" "$root"
	done
	# The headers' Makefile includes the -common tree by absolute path: point it into the cache.
	sed -i "s|^include /usr/src/|include $root/usr/src/|" "$root/usr/src/linux-headers-$kver/Makefile"
	# mtty.c from the source tarball (the only file we need from it).
	src=$(deb_of "linux-source-$series" "$kpkgver")
	mkdir -p "$kdir/mtty"
	dpkg-deb --fsys-tarfile "$src" | tar -xO "./usr/src/linux-source-$series.tar.xz" | xz -dc |
		tar -xO "linux-source-$series/samples/vfio-mdev/mtty.c" >"$kdir/mtty/mtty.c"
	[ -s "$kdir/mtty/mtty.c" ] || {
		log "samples/vfio-mdev/mtty.c not found in linux-source-$series"
		exit 1
	}
	# the .debs are unpacked: drop them (the largest is 140 MB)
	for p in "$kpkg" "linux-headers-$kver" "linux-headers-$kbase-common" "linux-kbuild-$series" \
		"linux-source-$series"; do
		rm -f "$(deb_of "$p" "$kpkgver")"
	done
	echo "$kpkgver" >"$kdir/pkgversion"
	touch "$kdir/unpacked"
fi

# --- 3. uncompressed vmlinux (PVH ELF): saves ~2.5 s of in-guest decompression per boot under TCG ----------------
if [ ! -f "$kdir/kernel" ]; then
	/usr/bin/python3 - "$root/boot/vmlinuz-$kver" "$kdir/vmlinux" <<'EOF' || true
import lzma, sys
data = open(sys.argv[1], "rb").read()
magics = [(b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor()),
          (b"\x5d\x00\x00", lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE))]
for magic, mk in magics:
    off = data.find(magic)
    while off >= 0:
        try:
            out = mk().decompress(data[off:])
            if out[:4] == b"\x7fELF":
                open(sys.argv[2], "wb").write(out)
                sys.exit(0)
        except lzma.LZMAError:
            pass
        off = data.find(magic, off + 1)
sys.exit(1)
EOF
	if [ -s "$kdir/vmlinux" ] && readelf -n "$kdir/vmlinux" 2>/dev/null | grep -q 'Xen.*0x00000012\|Unknown note type: (0x00000012)'; then
		echo "$kdir/vmlinux" >"$kdir/kernel"
	else
		log "no PVH vmlinux could be extracted; booting the compressed vmlinuz (slower)"
		rm -f "$kdir/vmlinux"
		echo "$root/boot/vmlinuz-$kver" >"$kdir/kernel"
	fi
fi

# --- 4. depmod, mtty.ko, module subset ------------------------------------------------------------------------
[ -f "$root/lib/modules/$kver/modules.dep" ] || depmod -b "$root" "$kver"
if [ ! -f "$kdir/mtty/mtty.ko" ]; then
	log "building mtty.ko against linux-headers-$kver"
	echo 'obj-m := mtty.o' >"$kdir/mtty/Kbuild"
	make -s -C "$root/usr/src/linux-headers-$kver" M="$kdir/mtty" modules >"$kdir/mtty/build.log" 2>&1 || {
		cat "$kdir/mtty/build.log" >&2
		log "building mtty.ko failed"
		exit 1
	}
fi

mods="$kdir/modules"
rm -rf "$mods"
mkdir -p "$mods/lib/modules/$kver/extra"
names=$(sed 's/#.*//' "$here/modules.txt" | awk 'NF { print $1 }')
for m in $names; do
	deps=$(modprobe -d "$root" -S "$kver" --show-depends "$m" 2>&1) || {
		log "module $m: $deps"
		exit 1
	}
	echo "$deps" | sed -n 's/^insmod \([^ ]*\).*/\1/p' | while read -r ko; do
		rel=${ko#"$root"/}
		mkdir -p "$mods/$(dirname "$rel")"
		cp -p "$ko" "$mods/$rel"
	done
done
cp "$kdir/mtty/mtty.ko" "$mods/lib/modules/$kver/extra/"
cp "$root/lib/modules/$kver/modules.builtin" "$root/lib/modules/$kver/modules.builtin.modinfo" \
	"$root/lib/modules/$kver/modules.order" "$mods/lib/modules/$kver/"
depmod -b "$mods" "$kver"
# mtty needs mdev and vfio: make sure the closure has them.
grep -q '^extra/mtty.ko:.*mdev.ko' "$mods/lib/modules/$kver/modules.dep" || {
	log "mtty.ko dependencies look wrong in modules.dep"
	exit 1
}

# --- 5. guest userland from .debs (udev, nvme-cli) -------------------------------------------------------------
ul="$cache/userland"
if [ ! -f "$ul/ready" ]; then
	log "downloading udev, nvme-cli and their private libraries"
	download udev libsystemd-shared nvme-cli libnvme1 || skip "apt-get download of udev/nvme-cli failed (offline?)"
	rm -rf "$ul"
	mkdir -p "$ul/root"
	for p in udev libsystemd-shared nvme-cli libnvme1; do
		v=$(pkg_version "$p")
		deb=$(deb_of "$p" "$v")
		[ -n "$deb" ] || {
			log "downloaded .deb for $p not found"
			exit 1
		}
		dpkg-deb -x "$deb" "$ul/root"
	done
	touch "$ul/ready"
fi

# --- 6. env file consumed by build-initramfs.sh and the runner -------------------------------------------------
cat >"$cache/env.sh" <<EOF
# generated by tests/vm/prepare-cache.sh
HOSTDEV_VM_KVER='$kver'
HOSTDEV_VM_KERNEL='$(cat "$kdir/kernel")'
HOSTDEV_VM_MODULES='$mods'
HOSTDEV_VM_USERLAND='$ul/root'
HOSTDEV_VM_KPKGVERSION='$(cat "$kdir/pkgversion")'
EOF
echo "$kver" >"$cache/current"
modules_hash >"$kdir/ready"
# Older kernels (a security update changed the ABI name) are not used any more: free their ~600 MB.
for old in "$cache"/*/pkgversion; do
	[ -e "$old" ] || continue
	old=$(dirname "$old")
	[ "$old" = "$kdir" ] || {
		log "removing the previous kernel $(basename "$old")"
		rm -rf "$old"
	}
done
log "ready: kernel $kver ($(cat "$kdir/kernel"))"
[ "$print_env" = 1 ] && cat "$cache/env.sh"
exit 0
