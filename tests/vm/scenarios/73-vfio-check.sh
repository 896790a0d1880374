# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 90
# vm-description: hostdev check passes on the IOMMU machine: groups, DMAR, intel_iommu=on, interrupt remapping, vfio, per-device verdicts
. /hostdev/lib/vm.sh

st=0
hostdev check >check.txt 2>&1 || st=$?
vm_check_eq "hostdev check exits 0" 0 "$st"
sed 's/^/#   /' check.txt
vm_check "IOMMU groups PASS" grep -q '^PASS  IOMMU groups present' check.txt
vm_check "DMAR unit found" grep -q '^PASS  IOMMU hardware.*Intel VT-d (DMAR)' check.txt
vm_check "intel_iommu=on seen" grep -q '^PASS  Kernel command line *intel_iommu=on' check.txt
vm_check "interrupt remapping active" grep -q '^PASS  Interrupt remapping' check.txt
vm_check "vfio modules PASS" grep -q '^PASS  vfio modules' check.txt
vm_check "/dev/vfio/vfio PASS" grep -q '^PASS  vfio container device' check.txt
nic=$(vm_pci_find 8086 10d3)
vm_check "e1000e assignable" grep -q "^PASS  $nic *assignable" check.txt
# The SMBus shares the chipset's group (LPC bridge, AHCI): not passable, whatever --group would do.
vm_check "ICH9 SMBus in the chipset's group FAILs" grep -q "^FAIL  0000:00:1f.3 *IOMMU group [0-9]* is the chipset's" check.txt
st=0
hostdev check --json >check.json || st=$?
vm_check_eq "hostdev check --json exits 0 (no host check fails)" 0 "$st"
vm_check "JSON report has the checks" grep -q '"id": "interrupt-remapping"' check.json
vm_finish
