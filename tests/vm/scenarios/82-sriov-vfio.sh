# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 150
# vm-description: VFs made with autoprobe off go to vfio-pci with the library's bind; removing them is refused while bound or journaled, and done with --force (real kernel)
. /hostdev/lib/vm.sh

has() { echo "$out" | grep -q -- "$1"; }
hasE() { echo "$out" | grep -Eq -- "$1"; }
pf=$(vm_pci_find 1b36 0010 | head -n 1)
[ -n "$pf" ] || vm_die "no NVMe PF"
d=/sys/bus/pci/devices/$pf

vm_check "--vfs 2 --no-autoprobe" hostdev sriov "$pf" --vfs 2 --no-autoprobe
vf0=$(basename "$(readlink $d/virtfn0)")
vf1=$(basename "$(readlink $d/virtfn1)")
g0=$(basename "$(readlink /sys/bus/pci/devices/$vf0/iommu_group)")
vm_check_eq "VF 0 driverless" "" "$(vm_pci_driver "$vf0")"

st=0; out=$(hostdev bind --owner vm-82 "$vf0" 2>&1) || st=$?
vm_check_eq "hostdev bind VF 0 exits 0" 0 "$st"
vm_check_eq "VF 0 on vfio-pci" vfio-pci "$(vm_pci_driver "$vf0")"
vm_check "/dev/vfio/$g0 exists" test -c "/dev/vfio/$g0"
vm_check "/dev/vfio/$g0 opens" sh -c "exec 3<>/dev/vfio/$g0"
out=$(hostdev sriov "$pf")
vm_check "show: VF 0 on vfio-pci" hasE "^  0    $vf0  vfio-pci "

# refused while bound (and journaled)
st=0; out=$(hostdev sriov "$pf" --vfs 0 2>&1) || st=$?
vm_check_eq "--vfs 0 while bound exits 1" 1 "$st"
vm_check "refusal names the VF and its owner" has "VF 0 $vf0 (vfio-pci, bound by libhostdev for 'vm-82')"
vm_check "refusal names --force" has "hostdev sriov --force"
vm_check_eq "VFs untouched" 2 "$(cat $d/sriov_numvfs)"
st=0; out=$(hostdev sriov "$pf" --vfs 1 2>&1) || st=$?
vm_check_eq "--vfs 1 while bound exits 1" 1 "$st"
vm_check_eq "VF 0 still on vfio-pci" vfio-pci "$(vm_pci_driver "$vf0")"

# journaled only: give VF 1 to vfio-pci, then take it off behind libhostdev's back
vm_check "bind VF 1" hostdev bind "$vf1"
echo "$vf1" >/sys/bus/pci/drivers/vfio-pci/unbind
vm_check "restore VF 0 (VF 1 stays journaled)" hostdev restore "$vf0"
vm_check_eq "VF 0 driverless again" "" "$(vm_pci_driver "$vf0")"
st=0; out=$(hostdev sriov "$pf" --vfs 0 2>&1) || st=$?
vm_check_eq "--vfs 0 with a journaled VF exits 1" 1 "$st"
vm_check "refusal: VF 1 in the vfio journal" has "VF 1 $vf1 (no driver, in the vfio journal)"

# forced: done, and the journal forgets the destroyed VF
vm_check "bind VF 0 again" hostdev bind "$vf0"
st=0; out=$(hostdev -v sriov "$pf" --vfs 0 --force 2>&1) || st=$?
vm_check_eq "--vfs 0 --force exits 0" 0 "$st"
vm_check_eq "sriov_numvfs is 0" 0 "$(cat $d/sriov_numvfs)"
vm_check "VF 0 removed" test ! -e "/sys/bus/pci/devices/$vf0"
vm_check "/dev/vfio/$g0 gone" vm_wait_for 60 test ! -e "/dev/vfio/$g0"
vm_check "journal records dropped, with a warning" has "dropping its vfio journal record"
vm_check "journal empty" sh -c "hostdev journal | grep -q 'no devices bound'"
vm_finish
