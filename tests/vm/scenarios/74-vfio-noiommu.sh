# SPDX-License-Identifier: Apache-2.0
# vm-machine: noiommu
# vm-timeout: 90
# vm-description: without an IOMMU, hostdev check fails with the remedy and hostdev bind refuses cleanly, touching nothing
. /hostdev/lib/vm.sh

# has PATTERN: the last command output ($out) matches
has() { echo "$out" | grep -q -- "$1"; }

nic=$(vm_pci_find 8086 10d3)
[ -n "$nic" ] || vm_die "no e1000e"
st=0
hostdev check >check.txt 2>&1 || st=$?
vm_check_eq "hostdev check exits 1" 1 "$st"
sed 's/^/#   /' check.txt
vm_check "IOMMU groups FAIL" grep -q '^FAIL  IOMMU groups present' check.txt
vm_check "the remedy names intel_iommu=on" grep -q 'fix: .*intel_iommu=on' check.txt
vm_check "intel_iommu=off on the command line is named" grep -q '^FAIL  Kernel command line *the kernel was booted with intel_iommu=off' check.txt
vm_check "e1000e not assignable" grep -q "^FAIL  $nic *no IOMMU group" check.txt

st=0
out=$(hostdev bind "$nic" 2>&1) || st=$?
vm_check_eq "hostdev bind exits 1" 1 "$st"
echo "# $out"
vm_check "the error says the IOMMU is off and how to fix it" has 'no IOMMU group.*intel_iommu=on'
vm_check_eq "e1000e untouched" e1000e "$(vm_pci_driver "$nic")"
vm_check_eq "driver_override untouched" "(null)" "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
vm_check "journal empty" sh -c "hostdev journal | grep -q 'no devices bound'"
vm_finish
