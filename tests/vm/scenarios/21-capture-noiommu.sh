# SPDX-License-Identifier: Apache-2.0
# vm-machine: noiommu
# vm-timeout: 120
# vm-description: capture a real sysfs fixture of the same machine without an IOMMU (no groups)
# Exported as <out>/21-capture-noiommu/exports/q35-noiommu; see tests/vm/update-fixtures.sh.
. /hostdev/lib/vm.sh

cap=/hostdev/tools/capture-sysfs.sh
[ -f "$cap" ] || vm_skip "tests/tools/capture-sysfs.sh is not in the initramfs"
rm -rf /tmp/cap
mkdir -p /tmp/cap/q35-noiommu
sh "$cap" /tmp/cap/q35-noiommu
sh /hostdev/lib/capture-extra.sh /tmp/cap/q35-noiommu
s=/tmp/cap/q35-noiommu/sys
vm_check "fixture: PCI devices" test -L "$s/bus/pci/devices/0000:00:01.0"
vm_check "fixture: no IOMMU groups" test -z "$(ls "$s/kernel/iommu_groups")"
vm_check "fixture: no iommu_group links" sh -c "! ls $s/bus/pci/devices/*/iommu_group 2>/dev/null | grep ."
vm_check "fixture: USB devices" test -L "$s/bus/usb/devices/1-1"
vm_check "fixture: no dangling link" sh -c "! find $s -type l ! -exec test -e {} \; -print | grep ."
vm_export q35-noiommu /tmp/cap/q35-noiommu
vm_ok "exported q35-noiommu"
vm_finish
