# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 120
# vm-description: the ICH9 LPC/SATA/SMBus IOMMU group is refused without --group, bound whole with it and restored together
. /hostdev/lib/vm.sh

# has PATTERN: the last command output ($out) matches
has() { echo "$out" | grep -q -- "$1"; }

lpc=0000:00:1f.0 sata=0000:00:1f.2 smbus=0000:00:1f.3
g=$(basename "$(readlink "/sys/bus/pci/devices/$lpc/iommu_group")")
d_lpc=$(vm_pci_driver $lpc) d_sata=$(vm_pci_driver $sata) d_smbus=$(vm_pci_driver $smbus)
vm_log "group $g: $lpc=$d_lpc $sata=$d_sata $smbus=$d_smbus"
vm_check "SATA has a host driver" test -n "$d_sata"

st=0
out=$(hostdev bind $smbus 2>&1) || st=$?
vm_check_eq "bind of one member exits 1" 1 "$st"
vm_check "the refusal names the SATA controller and its driver" has "$sata ($d_sata)"
vm_check "the refusal points at --group" has '--group'
vm_check_eq "SMBus untouched" "$d_smbus" "$(vm_pci_driver $smbus)"
vm_check_eq "SATA untouched" "$d_sata" "$(vm_pci_driver $sata)"

vm_check "hostdev bind --group" sh -c "hostdev bind --group $smbus | tee /dev/stderr | grep -q '3 devices moved'"
for a in $lpc $sata $smbus; do
	vm_check_eq "$a on vfio-pci" vfio-pci "$(vm_pci_driver $a)"
done
vm_check "/dev/vfio/$g appears" vm_wait_for 60 test -c "/dev/vfio/$g"
vm_check "/dev/vfio/$g opens (group viable)" sh -c "exec 3<>/dev/vfio/$g"

vm_check "restoring one member" sh -c "hostdev restore $lpc | grep -q '3 devices restored'"
vm_check_eq "LPC back" "$d_lpc" "$(vm_pci_driver $lpc)"
vm_check_eq "SATA back" "$d_sata" "$(vm_pci_driver $sata)"
vm_check_eq "SMBus back" "$d_smbus" "$(vm_pci_driver $smbus)"
vm_check "/dev/vfio/$g gone" vm_wait_for 60 test ! -e "/dev/vfio/$g"
vm_finish
