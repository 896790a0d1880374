#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Build the VM guest's initramfs (uncompressed newc cpio, padded to 4 KiB) from:
#   - busybox-static (every applet linked), the guest /init and scenario helpers (tests/vm/guest/);
#   - the kernel modules prepared by prepare-cache.sh (+ mtty.ko), systemd-udevd/udevadm and nvme-cli from the
#     cache's userland;
#   - the project's freshly built binaries from BUILD_DIR: hostdev CLI, libhostdev.so*, tests/vm programs
#     (checkers and C scenarios), whatever exists (missing ones are reported, the scenarios that need them fail);
#   - lspci, lsusb (+ pci.ids, usb.ids) for conformance checks; tests/tools/capture-sysfs.sh when present;
#   - every shared library ldd names for the ELF files above, plus the ELF interpreter.
# The image is rebuilt only when an input changed (a manifest of input names, sizes and mtimes is kept).
#
# Usage: build-initramfs.sh BUILD_DIR OUTPUT.cpio
set -eu

[ $# -eq 2 ] || {
	echo "usage: $0 BUILD_DIR OUTPUT.cpio" >&2
	exit 1
}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
out=$2
cache=${HOSTDEV_VM_CACHE:-${HOME:-/root}/.cache/libhostdev-vm}
[ -f "$cache/env.sh" ] || {
	echo "build-initramfs: no $cache/env.sh: run tests/vm/prepare-cache.sh first" >&2
	exit 1
}
# shellcheck disable=SC1091
. "$cache/env.sh"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

# --- inputs -------------------------------------------------------------------------------------------------
busybox=$(command -v busybox || echo /bin/busybox)
# project binaries: "source-path guest-path"
project_files() {
	local f
	[ -x "$build/examples/cli/hostdev" ] && echo "$build/examples/cli/hostdev /hostdev/bin/hostdev"
	for f in "$build"/src/libhostdev.so*; do
		[ -e "$f" ] && echo "$f /usr/local/lib/$(basename "$f")"
	done
	# tests/vm programs built by tests/vm/CMakeLists.txt (checkers: bin/, C scenarios: scenarios/)
	for f in "$build"/tests/vm/bin/*; do
		[ -f "$f" ] && [ -x "$f" ] && echo "$f /hostdev/bin/$(basename "$f")"
	done
	for f in "$build"/tests/vm/scenarios/*; do
		[ -f "$f" ] && [ -x "$f" ] && echo "$f /hostdev/scenarios/$(basename "$f")"
	done
	# extra test programs other issues want in the guest: list them (one build-relative path a line) in
	# BUILD_DIR/tests/vm/guest-programs.txt, e.g. written by their CMakeLists with file(APPEND ...).
	if [ -f "$build/tests/vm/guest-programs.txt" ]; then
		while read -r f; do
			[ -n "$f" ] && [ -x "$build/$f" ] && echo "$build/$f /hostdev/bin/$(basename "$f")"
		done <"$build/tests/vm/guest-programs.txt"
	fi
	return 0
}
host_tools="/usr/bin/lspci /usr/bin/lsusb /usr/bin/setpci"
ids_files="/usr/share/misc/pci.ids /usr/share/misc/usb.ids /var/lib/usbutils/usb.ids"
ul=$HOSTDEV_VM_USERLAND
ul_bins="$ul/bin/udevadm $ul/usr/sbin/nvme"
ul_libpath="$ul/usr/lib/x86_64-linux-gnu/systemd:$ul/usr/lib/x86_64-linux-gnu:$ul/lib/x86_64-linux-gnu"

manifest() {
	{
		project_files
		echo "$HOSTDEV_VM_KVER $HOSTDEV_VM_MODULES"
		find "$here/guest" "$here/scenarios" "$here/modules.txt" "$HOSTDEV_VM_MODULES" "$0" -type f
		echo "$busybox" "$cache/env.sh"
		for f in $host_tools $ids_files $ul_bins; do echo "$f"; done
		ls "$src"/tests/tools/*.sh 2>/dev/null || true
	} | while read -r f _; do
		[ -e "$f" ] && stat -L -c '%n %s %Y' "$f" || echo "$f"
	done | sort | md5sum | cut -d' ' -f1
}

exec 9>"$out.lock"
flock 9
sum=$(manifest)
if [ -f "$out" ] && [ -f "$out.manifest" ] && [ "$(cat "$out.manifest")" = "$sum" ]; then
	exit 0
fi

stage="$out.d"
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/lib,lib,lib64,etc/hostdev-vm,hostdev/bin,hostdev/lib}
mkdir -p "$stage"/{hostdev/scenarios,hostdev/tools,proc,sys,dev,run,tmp,root,var/tmp,mnt}

# --- busybox --------------------------------------------------------------------------------------------------
cp "$busybox" "$stage/bin/busybox"
"$busybox" --list-full | while read -r app; do
	[ -e "$stage/$app" ] || ln -s /bin/busybox "$stage/$app"
done

# --- ELF files with their libraries --------------------------------------------------------------------------
copied_libs="$stage/.libs"
: >"$copied_libs"
copy_libs() { # copy_libs ELF: the libraries ldd names (and the interpreter) at the same absolute paths
	local elf=$1 line p
	LD_LIBRARY_PATH="$build/src:$ul_libpath" ldd "$elf" 2>/dev/null | while read -r line; do
		case "$line" in
		*"not found"*)
			echo "build-initramfs: warning: $elf: $line" >&2
			continue
			;;
		*"=> "/*) p=$(echo "$line" | sed -n 's/.*=>[[:space:]]*\(\/[^[:space:]]*\).*/\1/p') ;;
		/*) p=$(echo "$line" | sed -n 's/^\(\/[^[:space:]]*\).*/\1/p') ;; # the ELF interpreter
		*) continue ;;
		esac
		[ -n "$p" ] || continue
		case "$p" in "$build"/*) continue ;; esac # our own library: shipped in /usr/local/lib
		# libraries from the cache's userland keep their Debian path in the guest
		local dest=${p#"$ul"}
		if ! grep -qxF "$dest" "$copied_libs"; then
			echo "$dest" >>"$copied_libs"
			mkdir -p "$stage$(dirname "$dest")"
			cp -L "$p" "$stage$dest"
		fi
	done
}
install_elf() { # install_elf SOURCE GUEST_PATH
	mkdir -p "$stage$(dirname "$2")"
	cp -L "$1" "$stage$2"
	chmod +x "$stage$2" 2>/dev/null || true
	copy_libs "$1"
}

for t in $host_tools; do
	if [ -x "$t" ]; then install_elf "$t" "$t"; else echo "build-initramfs: warning: $t missing" >&2; fi
done
for f in $ids_files; do
	[ -f "$f" ] && mkdir -p "$stage$(dirname "$f")" && cp -L "$f" "$stage$f"
done
missing_project=""
project_files >"$stage/.project"
while read -r from to; do
	install_elf "$from" "$to"
done <"$stage/.project"
[ -x "$stage/hostdev/bin/hostdev" ] || missing_project="$missing_project hostdev-cli"
ls "$stage"/usr/local/lib/libhostdev.so* >/dev/null 2>&1 || missing_project="$missing_project libhostdev.so"
rm -f "$stage/.project"

# udev (systemd-udevd is udevadm under another name) and nvme-cli from the cache's userland
install_elf "$ul/bin/udevadm" /bin/udevadm
mkdir -p "$stage/lib/systemd"
ln -sf /bin/udevadm "$stage/lib/systemd/systemd-udevd"
if [ -d "$ul/lib/udev" ]; then
	mkdir -p "$stage/lib/udev"
	(cd "$ul/lib/udev" && find . -path ./hwdb.d -prune -o -print | cpio -pdm --quiet "$stage/lib/udev")
	for f in "$stage"/lib/udev/*; do
		[ -f "$f" ] && [ -x "$f" ] && head -c4 "$f" | grep -q ELF && copy_libs "$ul/lib/udev/$(basename "$f")"
	done
fi
install_elf "$ul/usr/sbin/nvme" /usr/sbin/nvme
for b in $ul_bins; do [ -x "$b" ] || echo "build-initramfs: warning: $b missing" >&2; done
rm -f "$copied_libs"

# --- modules --------------------------------------------------------------------------------------------------
(cd "$HOSTDEV_VM_MODULES" && find . | cpio -pdm --quiet "$stage")
sed 's/#.*//' "$here/modules.txt" | awk 'NF' >"$stage/etc/hostdev-vm/modules"

# --- guest scripts, scenarios, tools --------------------------------------------------------------------------
cp "$here/guest/init" "$stage/init"
chmod +x "$stage/init"
cp "$here"/guest/lib/* "$stage/hostdev/lib/"
for f in "$here"/scenarios/*.sh; do
	[ -f "$f" ] && cp "$f" "$stage/hostdev/scenarios/"
done
for f in "$src"/tests/tools/*.sh; do
	[ -f "$f" ] && cp "$f" "$stage/hostdev/tools/" && chmod +x "$stage/hostdev/tools/$(basename "$f")"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\ntty:x:5:\ndisk:x:6:\nkvm:x:104:\ninput:x:105:\n' >"$stage/etc/group"
echo "$HOSTDEV_VM_KVER" >"$stage/etc/hostdev-vm/kernel"
echo "${missing_project# }" >"$stage/etc/hostdev-vm/missing"
[ -z "$missing_project" ] || echo "build-initramfs: warning: not built (scenarios needing them will fail):$missing_project" >&2

# --- cpio (uncompressed: unpacking is faster than gunzip under TCG), padded to 4 KiB ----------------------------
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out.tmp"
size=$(stat -c %s "$out.tmp")
pad=$(((4096 - size % 4096) % 4096))
[ "$pad" -eq 0 ] || head -c "$pad" /dev/zero >>"$out.tmp"
mv "$out.tmp" "$out"
echo "$sum" >"$out.manifest"
rm -rf "$stage"
echo "build-initramfs: $out ($(($(stat -c %s "$out") / 1024)) KiB, kernel $HOSTDEV_VM_KVER)" >&2
