#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# capture-sysfs.sh: record the PCI part of a live sysfs into a fixture tree.
#
#   capture-sysfs.sh [-a] [-q] OUTDIR [SYSFS_ROOT]
#
# Writes OUTDIR/sys/... with the same layout as the kernel's: the real device directories under
# sys/devices/pciDDDD:BB/... (bridges kept as parents), sys/bus/pci/devices/<addr> links, the bound
# drivers under sys/bus/pci/drivers/, sys/bus/pci/slots, sys/kernel/iommu_groups, sys/class/net links
# for the PCI network interfaces and sys/bus/mdev/devices for mediated devices. Every symlink is
# rewritten as a relative link inside the fixture. See docs/fixtures.md.
#
#   -a  anonymise: replace MAC addresses by locally administered ones (02:00:00:00:HH:LL) and keep
#       only the first 256 bytes of each config space (drops the PCIe extended capabilities, where
#       the Device Serial Number lives).
#   -q  quiet: do not print the summary line.
#   SYSFS_ROOT defaults to /sys. It is only ever read.
#   CAPTURE_SYSFS_TIMEOUT: seconds allowed to read one attribute (default 5), when timeout(1) exists.
#
# POSIX sh; also runs under busybox sh (the QEMU guest of tests/vm). Never writes outside OUTDIR.
set -eu

usage() {
	echo "usage: $0 [-a] [-q] OUTDIR [SYSFS_ROOT=/sys]" >&2
	exit 2
}

anon=0
quiet=0
while [ $# -gt 0 ]; do
	case $1 in
	-a) anon=1; shift ;;
	-q) quiet=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) echo "capture-sysfs: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1
src=${2:-/sys}

die() {
	echo "capture-sysfs: $*" >&2
	exit 1
}
warn() {
	echo "capture-sysfs: warning: $*" >&2
}

[ -d "$src/bus/pci/devices" ] || die "$src/bus/pci/devices: not a directory (is SYSFS_ROOT a sysfs?)"
srcp=$(cd -P "$src" && pwd -P)

# Canonical OUTDIR before anything is created: the nearest existing ancestor resolved, plus the rest.
case $out in /*) outp=$out ;; *) outp=$(pwd -P)/$out ;; esac
outp=${outp%/}
rest=
while [ ! -d "$outp" ]; do
	rest=/${outp##*/}$rest
	outp=${outp%/*}
done
outp=$(cd -P "${outp:-/}" && pwd -P)$rest
outp=${outp#/}
outp=/$outp
# Safety: the output must be neither inside the source tree nor inside the real /sys.
case "$outp/" in
"$srcp"/*) die "OUTDIR $outp lies inside SYSFS_ROOT $srcp; refusing" ;;
/sys/* | /proc/* | /dev/*) die "OUTDIR $outp lies inside /sys, /proc or /dev; refusing" ;;
esac
case "$srcp/" in
"$outp"/*) die "SYSFS_ROOT $srcp lies inside OUTDIR $outp; refusing" ;;
esac
[ -e "$outp/sys" ] && die "$outp/sys already exists; remove it or choose another OUTDIR"
mkdir -p "$outp"
dst=$outp/sys
mkdir -p "$dst/devices" "$dst/bus/pci/devices" "$dst/bus/pci/drivers" "$dst/bus/pci/slots" \
	"$dst/kernel/iommu_groups"

# Read an attribute with a time limit when the system has timeout(1) (GNU or busybox syntax).
# CAPTURE_SYSFS_TIMEOUT: seconds allowed per attribute (default 5); a directory's lot gets 12 times that.
t1=${CAPTURE_SYSFS_TIMEOUT:-5}
t2=$((t1 * 12))
tmo=
if timeout "$t1" true >/dev/null 2>&1; then
	tmo="timeout $t1"
fi

# copy_file SRC DST: copy one readable attribute; attributes whose read fails are left out.
copy_file() {
	if $tmo cat "$1" >"$2" 2>/dev/null; then
		return 0
	fi
	rm -f "$2"
	return 1
}

# copy_batch SRCDIR DSTDIR NAME...: copy several attributes of one directory under a single time limit
# (one process for the lot instead of two per attribute). When the lot does not finish (an attribute
# blocks), each attribute is read again under its own limit, so only the blocking one is lost.
copy_batch() {
	_s=$1
	_o=$2
	shift 2
	[ $# -gt 0 ] || return 0
	if [ -z "$tmo" ]; then
		for _n in "$@"; do
			cat "$_s/$_n" >"$_o/$_n" 2>/dev/null || rm -f "$_o/$_n"
		done
		return 0
	fi
	_rc=0
	timeout "$t2" sh -c 'd=$1; o=$2; shift 2
		for n in "$@"; do cat "$d/$n" >"$o/$n" 2>/dev/null || rm -f "$o/$n"; done' sh "$_s" "$_o" "$@" || _rc=$?
	[ "$_rc" -ne 0 ] || return 0
	warn "reading the attributes of $_s did not finish in $t2 s; reading them one by one"
	for _n in "$@"; do
		copy_file "$_s/$_n" "$_o/$_n" || :
	done
}

# rel FROM_DIR TO: set REL to the relative path from directory FROM_DIR to TO (both relative to the
# sysfs root, no leading or trailing slash), stripping the common leading components the way the
# kernel does (kernfs_get_target_path: the link always ends with the target's own name).
rel() {
	_f=$1
	_t=$2
	while [ -n "$_f" ]; do
		case $_t in */*) ;; *) break ;; esac
		[ "${_f%%/*}" = "${_t%%/*}" ] || break
		case $_f in */*) _f=${_f#*/} ;; *) _f= ;; esac
		case $_t in */*) _t=${_t#*/} ;; *) _t= ;; esac
	done
	REL=
	while [ -n "$_f" ]; do
		REL="../$REL"
		case $_f in */*) _f=${_f#*/} ;; *) _f= ;; esac
	done
	REL=$REL$_t
	REL=${REL%/}
	[ -n "$REL" ] || REL=.
}

# resolve PATH: set RES to the target of the directory link PATH relative to the source root; returns
# 1 when it does not resolve to a directory inside the source tree (such links are never followed).
resolve() {
	RES=$(cd -P "$1" 2>/dev/null && pwd -P) || return 1
	case $RES in
	"$srcp"/*) RES=${RES#"$srcp"/} ;;
	*) return 1 ;;
	esac
}

# mklink LINK_REL TARGET_REL: create fixture link sys/LINK_REL -> relative path to sys/TARGET_REL.
mklink() {
	_dir=${1%/*}
	[ "$_dir" != "$1" ] || _dir=
	rel "$_dir" "$2"
	mkdir -p "$dst/$_dir"
	rm -f "$dst/$1"
	ln -s "$REL" "$dst/$1"
}

# copy_link SRC_LINK LINK_REL: rewrite one source link into the fixture; the target directory is created
# (empty) when nothing else fills it. Sets RES to the target (relative to the root).
copy_link() {
	if ! resolve "$1"; then
		warn "$1 points outside $srcp; left out"
		return 1
	fi
	mkdir -p "$dst/$RES"
	# A driver directory (of any bus): keep its write-only files as empty placeholders.
	for _w in bind unbind new_id remove_id; do
		if [ -e "$srcp/$RES/$_w" ] && [ ! -e "$dst/$RES/$_w" ]; then : >"$dst/$RES/$_w"; fi
	done
	mklink "$2" "$RES"
}

mac_n=0
# anon_mac FILE: replace a MAC address in FILE (when -a).
anon_mac() {
	[ "$anon" = 1 ] || return 0
	[ -f "$1" ] || return 0
	mac_n=$((mac_n + 1))
	printf '02:00:00:00:%02x:%02x\n' $((mac_n / 256 % 256)) $((mac_n % 256)) >"$1"
}

# Attributes of a PCI function that are never read: BAR mappings (huge, and reading them touches
# the device), the option ROM, VPD (can block for seconds; holds serial numbers), and the
# write-only actions.
skip_attr() {
	case $1 in
	resource[0-9]* | rom | vpd | remove | rescan | reset | dev_rescan | bind | unbind | new_id | remove_id) return 0 ;;
	esac
	return 1
}

# capture_netdev SRC_NETDIR REL_NETDIR: net/<ifname> with the attributes an operator needs.
capture_netdev() {
	for _n in "$1"/*; do
		[ -d "$_n" ] && [ ! -L "$_n" ] || continue
		_if=${_n##*/}
		_r=$2/$_if
		mkdir -p "$dst/$_r"
		for _a in address addr_len broadcast operstate carrier ifindex iflink mtu type dev_id dev_port \
			phys_port_name phys_switch_id speed duplex uevent; do
			[ -f "$_n/$_a" ] && copy_file "$_n/$_a" "$dst/$_r/$_a" || :
		done
		anon_mac "$dst/$_r/address"
		if [ "$anon" = 1 ] && [ -f "$dst/$_r/phys_switch_id" ]; then
			echo 0000000000000000 >"$dst/$_r/phys_switch_id"
		fi
		# net/<if>/device -> the owning device directory; subsystem -> class/net.
		mklink "$_r/device" "${2%/net}"
		mkdir -p "$dst/class/net"
		mklink "$_r/subsystem" "class/net"
		mkdir -p "$dst/class/net"
		mklink "class/net/$_if" "$_r"
		netdevs=$((netdevs + 1))
	done
}

# capture_mdev_types SRC_DIR REL_DIR: mdev_supported_types/<type>/...
capture_mdev_types() {
	for _t in "$1"/*; do
		[ -d "$_t" ] && [ ! -L "$_t" ] || continue
		_r=$2/${_t##*/}
		mkdir -p "$dst/$_r/devices"
		for _a in name available_instances device_api description; do
			[ -f "$_t/$_a" ] && copy_file "$_t/$_a" "$dst/$_r/$_a" || :
		done
		# create is write-only: keep an empty placeholder so the tree has the same shape.
		if [ -e "$_t/create" ]; then : >"$dst/$_r/create"; fi
		for _l in "$_t"/devices/*; do
			[ -L "$_l" ] || continue
			copy_link "$_l" "$_r/devices/${_l##*/}" || :
		done
		mdev_types=$((mdev_types + 1))
	done
}

# capture_child SRC_DIR REL_DIR: a non-PCI child device of a PCI function (virtioN, an mdev): its
# identity attributes, its driver/subsystem/mdev_type/iommu_group links and its net/ interfaces.
capture_child() {
	mkdir -p "$dst/$2"
	for _a in uevent vendor device modalias features status; do
		[ -f "$1/$_a" ] && [ ! -L "$1/$_a" ] && copy_file "$1/$_a" "$dst/$2/$_a" || :
	done
	for _a in driver subsystem mdev_type iommu_group; do
		[ -L "$1/$_a" ] && copy_link "$1/$_a" "$2/$_a" || :
	done
	if [ -e "$1/remove" ] && [ -L "$1/mdev_type" ]; then : >"$dst/$2/remove"; fi
	if [ -d "$1/net" ] && [ ! -L "$1/net" ]; then
		capture_netdev "$1/net" "$2/net"
	fi
	if [ -L "$1/mdev_type" ]; then
		mkdir -p "$dst/bus/mdev/devices"
		mklink "bus/mdev/devices/${1##*/}" "$2"
		mdevs=$((mdevs + 1))
	fi
}

ndev=0
netdevs=0
mdev_types=0
mdevs=0
for d in "$src"/bus/pci/devices/*; do
	[ -e "$d" ] || continue
	addr=${d##*/}
	if ! resolve "$d"; then
		warn "$d does not resolve inside $srcp; left out"
		continue
	fi
	r=$RES
	case $r in
	devices/*) ;;
	*) warn "$d resolves to $r, outside devices/; left out"; continue ;;
	esac
	mkdir -p "$dst/$r"
	mklink "bus/pci/devices/$addr" "$r"
	attrs=
	for f in "$d"/* "$d"/.[!.]*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		name=${f##*/}
		if [ -L "$f" ]; then
			case $name in
			driver | iommu_group | physfn | virtfn[0-9]* | subsystem)
				copy_link "$f" "$r/$name" || :
				;;
			esac
		elif [ -f "$f" ]; then
			skip_attr "$name" && continue
			if [ "$name" = config ] && [ "$anon" = 1 ]; then
				$tmo dd if="$f" of="$dst/$r/config" bs=256 count=1 2>/dev/null || rm -f "$dst/$r/config"
			else
				attrs="$attrs $name" # sysfs attribute names hold no blank and no glob character
			fi
		elif [ -d "$f" ]; then
			case $name in
			net) capture_netdev "$f" "$r/net" ;;
			mdev_supported_types) capture_mdev_types "$f" "$r/mdev_supported_types" ;;
			virtio[0-9]*) capture_child "$f" "$r/$name" ;;
			*)
				if [ -L "$f/mdev_type" ]; then capture_child "$f" "$r/$name"; fi
				;;
			esac
		fi
	done
	set -f
	# shellcheck disable=SC2086
	copy_batch "$d" "$dst/$r" $attrs
	set +f
	ndev=$((ndev + 1))
done

# Drivers: every PCI driver directory, its links to the bound devices that were captured, and empty
# placeholders for the write-only files so the tree has the kernel's shape.
for drv in "$src"/bus/pci/drivers/*; do
	[ -d "$drv" ] || continue
	n=${drv##*/}
	mkdir -p "$dst/bus/pci/drivers/$n"
	for f in bind unbind new_id remove_id; do
		if [ -e "$drv/$f" ]; then : >"$dst/bus/pci/drivers/$n/$f"; fi
	done
	# module -> sys/module/<name> (absent for built-in drivers): tells "module loaded" apart.
	if [ -L "$drv/module" ]; then
		copy_link "$drv/module" "bus/pci/drivers/$n/module" || :
	fi
	for l in "$drv"/*; do
		[ -L "$l" ] || continue
		case ${l##*/} in
		????:??:??.? | ????????:??:??.?)
			resolve "$l" || continue
			if [ -d "$dst/$RES" ]; then mklink "bus/pci/drivers/$n/${l##*/}" "$RES"; fi
			;;
		esac
	done
done
for f in drivers_autoprobe resource_alignment; do
	[ -f "$src/bus/pci/$f" ] && copy_file "$src/bus/pci/$f" "$dst/bus/pci/$f" || :
done
for f in drivers_probe rescan; do
	if [ -e "$src/bus/pci/$f" ]; then : >"$dst/bus/pci/$f"; fi
done

# Physical slots.
nslots=0
for s in "$src"/bus/pci/slots/*; do
	[ -d "$s" ] || continue
	mkdir -p "$dst/bus/pci/slots/${s##*/}"
	for f in "$s"/*; do
		[ -f "$f" ] && [ ! -L "$f" ] && copy_file "$f" "$dst/bus/pci/slots/${s##*/}/${f##*/}" || :
	done
	nslots=$((nslots + 1))
done

# IOMMU groups: only the members that are captured PCI functions (or mdevs) are linked.
ngroups=0
for g in "$src"/kernel/iommu_groups/*; do
	[ -d "$g" ] || continue
	n=${g##*/}
	mkdir -p "$dst/kernel/iommu_groups/$n/devices"
	for f in type reserved_regions; do
		[ -f "$g/$f" ] && copy_file "$g/$f" "$dst/kernel/iommu_groups/$n/$f" || :
	done
	for l in "$g"/devices/*; do
		[ -L "$l" ] || continue
		resolve "$l" || continue
		if [ -d "$dst/$RES" ]; then mklink "kernel/iommu_groups/$n/devices/${l##*/}" "$RES"; fi
	done
	ngroups=$((ngroups + 1))
done

if [ "$quiet" = 0 ]; then
	echo "capture-sysfs: $ndev PCI functions, $ngroups IOMMU groups, $nslots slots, $netdevs netdevs," \
		"$mdev_types mdev types, $mdevs mdevs -> $dst"
fi
