#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# capture-extra.sh OUTDIR [SYSFS]: add to a fixture tree made by tests/tools/capture-sysfs.sh (which records
# the PCI part) what it leaves out:
#   - USB: every /sys/bus/usb/devices entry (root hubs, devices, interfaces) with its attributes
#     (descriptors included, it is small), its driver/port links, bus/usb/devices and bus/usb/drivers links;
#   - mdev parents that are not PCI functions (e.g. mtty under devices/virtual): class/mdev_bus links,
#     mdev_supported_types, and the mdevs themselves (bus/mdev/devices, mdev_type, iommu_group links).
# Links are rewritten relative inside OUTDIR/sys. Reads SYSFS (default /sys) only; writes only OUTDIR.
set -eu
out=$1
src=${2:-/sys}
dst=$out/sys
[ -d "$dst" ] || {
	echo "capture-extra: $dst missing: run capture-sysfs.sh first" >&2
	exit 1
}
srcp=$(cd -P "$src" && pwd -P)

# relpath LINK_REL TARGET_REL: a relative symlink target from the link's directory to TARGET_REL.
# (Parameter expansion only: every fork costs milliseconds under TCG.)
relpath() {
	_d=${1%/*}
	_up=""
	[ "$_d" = "$1" ] && _d=""
	while [ -n "$_d" ]; do
		_up="../$_up"
		case "$_d" in */*) _d=${_d#*/} ;; *) _d="" ;; esac
	done
	echo "$_up$2"
}

# resolve PATH: echo PATH's real location relative to the sysfs root; fails when outside it.
resolve() {
	_r=$(cd -P "$1" 2>/dev/null && pwd -P) || return 1
	case "$_r" in
	"$srcp"/*) echo "${_r#"$srcp"/}" ;;
	*) return 1 ;;
	esac
}

mklink() { # mklink LINK_REL TARGET_REL
	mkdir -p "$dst/${1%/*}"
	rm -f "$dst/$1"
	ln -s "$(relpath "$1" "$2")" "$dst/$1"
}

# copy_attrs SRC_DIR REL_DIR: the readable regular files of one directory (not recursive), with one cp.
copy_attrs() {
	_src=$1
	_rel=$2
	mkdir -p "$dst/$_rel"
	set --
	for _f in "$_src"/*; do
		[ -f "$_f" ] && [ ! -L "$_f" ] || continue
		case "${_f##*/}" in
		remove | create | bind | unbind | new_id | remove_id | reset) : >"$dst/$_rel/${_f##*/}" ;;
		*) if [ $# -eq 0 ]; then set -- "$_f"; else set -- "$@" "$_f"; fi ;;
		esac
	done
	# unreadable attributes make cp complain and are left out
	[ $# -eq 0 ] || cp "$@" "$dst/$_rel/" 2>/dev/null || true
}

# copy_links SRC_DIR REL_DIR NAMES...: selected links of a device, when they resolve inside sysfs.
copy_links() {
	_s=$1
	_r=$2
	shift 2
	for _l in "$@"; do
		[ -L "$_s/$_l" ] || continue
		_t=$(resolve "$_s/$_l") || continue
		mkdir -p "$dst/$_t"
		mklink "$_r/$_l" "$_t"
	done
}

nusb=0
if [ -d "$src/bus/usb/devices" ]; then
	mkdir -p "$dst/bus/usb/devices" "$dst/bus/usb/drivers"
	for d in "$src"/bus/usb/devices/*; do
		[ -e "$d" ] || continue
		r=$(resolve "$d") || continue
		copy_attrs "$d" "$r"
		copy_links "$d" "$r" driver port subsystem
		mklink "bus/usb/devices/${d##*/}" "$r"
		nusb=$((nusb + 1))
	done
	for drv in "$src"/bus/usb/drivers/*; do
		[ -d "$drv" ] || continue
		n=${drv##*/}
		mkdir -p "$dst/bus/usb/drivers/$n"
		for f in bind unbind new_id remove_id; do
			[ -e "$drv/$f" ] && : >"$dst/bus/usb/drivers/$n/$f"
		done
		for l in "$drv"/*; do
			[ -L "$l" ] || continue
			t=$(resolve "$l") || continue
			[ -d "$dst/$t" ] && mklink "bus/usb/drivers/$n/${l##*/}" "$t"
		done
	done
fi

nparents=0
nmdevs=0
for p in "$src"/class/mdev_bus/*; do
	[ -e "$p" ] || continue
	r=$(resolve "$p") || continue
	case "$r" in devices/pci*) ;; *) copy_attrs "$p" "$r" ;; esac # PCI parents: capture-sysfs.sh did them
	mklink "class/mdev_bus/${p##*/}" "$r"
	for t in "$p"/mdev_supported_types/*; do
		[ -d "$t" ] || continue
		tr=$r/mdev_supported_types/${t##*/}
		copy_attrs "$t" "$tr"
		mkdir -p "$dst/$tr/devices"
	done
	nparents=$((nparents + 1))
done
if [ -d "$src/bus/mdev/devices" ]; then
	mkdir -p "$dst/bus/mdev/devices"
	for m in "$src"/bus/mdev/devices/*; do
		[ -e "$m" ] || continue
		r=$(resolve "$m") || continue
		copy_attrs "$m" "$r"
		copy_links "$m" "$r" mdev_type iommu_group driver subsystem
		mklink "bus/mdev/devices/${m##*/}" "$r"
		if [ -L "$m/mdev_type" ]; then
			t=$(resolve "$m/mdev_type") && mklink "$t/devices/${m##*/}" "$r"
		fi
		if [ -L "$m/iommu_group" ]; then
			g=$(resolve "$m/iommu_group") && {
				copy_attrs "$src/$g" "$g"
				mklink "$g/devices/${m##*/}" "$r"
			}
		fi
		nmdevs=$((nmdevs + 1))
	done
fi
echo "capture-extra: $nusb USB entries, $nparents mdev parents, $nmdevs mdevs -> $dst"
