#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Wait until PCI driver bindings and the USB device list stop changing (1 s quiet, at most
# ${1:-60} s): drivers probe asynchronously after modprobe returns, and USB enumerates late.
set -eu
max=${1:-60}
snap() {
	for d in /sys/bus/pci/devices/* /sys/bus/usb/devices/*; do
		[ -e "$d" ] || continue
		if [ -L "$d/driver" ]; then
			echo "$d $(readlink "$d/driver")"
		else
			echo "$d"
		fi
	done
	ls /sys/class/net /sys/class/block /sys/class/input 2>/dev/null || true
}
prev=$(snap)
quiet=0
i=0
while [ "$i" -lt $((max * 4)) ]; do
	sleep 0.25
	cur=$(snap)
	if [ "$cur" = "$prev" ]; then
		quiet=$((quiet + 1))
		[ "$quiet" -ge 4 ] && exit 0
	else
		quiet=0
		prev=$cur
	fi
	i=$((i + 1))
done
echo "settle: devices still changing after ${max} s" >&2
exit 1
