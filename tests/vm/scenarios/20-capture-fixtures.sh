# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 150
# vm-description: capture real sysfs fixtures (NICs, NVMe PF with 2 VFs, ICH9 group, USB, mtty mdev parent)
# The tree is exported to the host as <out>/20-capture-fixtures/exports/q35-iommu; tests/vm/update-fixtures.sh
# copies it to tests/fixtures/vm/q35-iommu (committed, used by the unit and conformance tests).
. /hostdev/lib/vm.sh

cap=/hostdev/tools/capture-sysfs.sh
[ -f "$cap" ] || vm_skip "tests/tools/capture-sysfs.sh is not in the initramfs"

nvme=$(vm_pci_find 1b36 0010)
pf=/sys/bus/pci/devices/$nvme
# VFs driverless (the nvme driver cannot use QEMU's offline VFs anyway): the state before a vfio bind.
echo 0 >"$pf/sriov_drivers_autoprobe"
echo 2 >"$pf/sriov_numvfs"
vm_check "NVMe PF has 2 VFs" vm_wait_for 60 test -L "$pf/virtfn1"
vf0=$(basename "$(readlink "$pf/virtfn0")")
vm_check_eq "VF 0 is 1b36:0010" 0x0010 "$(cat "/sys/bus/pci/devices/$vf0/device")"
vm_check "VF 0 has its own IOMMU group" test -L "/sys/bus/pci/devices/$vf0/iommu_group"

modprobe mtty
types=/sys/devices/virtual/mtty/mtty/mdev_supported_types
uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
echo "$uuid" >"$types/mtty-2/create"
vm_check "mdev $uuid created" test -L "/sys/bus/mdev/devices/$uuid/mdev_type"

rm -rf /tmp/cap
mkdir -p /tmp/cap/q35-iommu
sh "$cap" /tmp/cap/q35-iommu
sh /hostdev/lib/capture-extra.sh /tmp/cap/q35-iommu
s=/tmp/cap/q35-iommu/sys
vm_check "fixture: e1000e bound" test -L "$s/bus/pci/devices/0000:00:01.0/driver"
vm_check "fixture: config space kept" test -s "$s/bus/pci/devices/0000:00:01.0/config"
vm_check "fixture: PF virtfn links" test -L "$s/bus/pci/devices/$nvme/virtfn1"
vm_check "fixture: VF physfn link" test -L "$s/bus/pci/devices/$vf0/physfn"
vm_check "fixture: ICH9 group has 3 members" \
	test "$(ls "$s/kernel/iommu_groups/$(basename "$(readlink /sys/bus/pci/devices/0000:00:1f.0/iommu_group)")/devices" | wc -l)" -eq 3
vm_check "fixture: netdevs" test -e "$s/class/net/eth0"
vm_check "fixture: USB keyboard" sh -c "grep -l 'QEMU USB Keyboard' $s/bus/usb/devices/*/product"
vm_check "fixture: USB storage serial" sh -c "grep -q HOSTDEV0001 $s/bus/usb/devices/*/serial"
vm_check "fixture: mtty types" test -f "$s/class/mdev_bus/mtty/mdev_supported_types/mtty-2/available_instances"
vm_check "fixture: mdev linked to its type" test -L "$s/bus/mdev/devices/$uuid/mdev_type"
vm_check "fixture: no dangling link" sh -c "! find $s -type l ! -exec test -e {} \; -print | grep ."
vm_log "fixture size: $(du -sk /tmp/cap/q35-iommu | cut -f1) KiB, $(find /tmp/cap/q35-iommu | wc -l) entries"
vm_export q35-iommu /tmp/cap/q35-iommu
vm_ok "exported q35-iommu"
vm_finish
