# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu-sriov8
# vm-timeout: 150
# vm-description: hostdev sriov on an NVMe PF with 8 VFs: the 8th VF lands at 01:01.0 through ARI, one IOMMU group each, N to M through 0
. /hostdev/lib/vm.sh

has() { echo "$out" | grep -q -- "$1"; }
hasE() { echo "$out" | grep -Eq -- "$1"; }
pf=$(vm_pci_find 1b36 0010 | head -n 1)
[ -n "$pf" ] || vm_die "no NVMe PF"
d=/sys/bus/pci/devices/$pf
vm_check_eq "sriov_totalvfs is 8" 8 "$(cat $d/sriov_totalvfs)"
vm_log "root port $(basename "$(readlink -f $d/..)") ari_enabled $(cat "$(readlink -f $d/..)/ari_enabled" 2>/dev/null)"

st=0; out=$(hostdev sriov "$pf" --vfs 8 --no-autoprobe --timeout 60 2>&1) || st=$?
vm_check_eq "--vfs 8 exits 0" 0 "$st"
vm_check "8 VFs enabled" has "^8 VFs enabled"
vm_check_eq "sriov_numvfs is 8" 8 "$(cat $d/sriov_numvfs)"
last=$(basename "$(readlink $d/virtfn7)")
vm_check_eq "VF 7 crosses into slot 1 (ARI)" "0000:01:01.0" "$last"
vm_check "VF 7 row shown" hasE "^  7    0000:01:01.0  none +[0-9]+ "
groups=""
for i in 0 1 2 3 4 5 6 7; do
	vf=$(basename "$(readlink $d/virtfn$i)")
	groups="$groups $(basename "$(readlink /sys/bus/pci/devices/$vf/iommu_group)")"
done
n=$(echo $groups | tr ' ' '\n' | sort -u | wc -l)
vm_check_eq "8 distinct IOMMU groups" 8 "$n"
out=$(hostdev sriov "$pf" --json)
vm_check "json lists VF 7 at 01:01.0" has '"address": "0000:01:01.0"'
out=$(hostdev list)
vm_check "list: 01:01.0 listed (ARI VF 7)" has "^0000:01:01.0 "

st=0; out=$(hostdev sriov "$pf" --vfs 3 2>&1) || st=$?
vm_check_eq "8 -> 3 exits 0" 0 "$st"
vm_check_eq "sriov_numvfs is 3" 3 "$(cat $d/sriov_numvfs)"
vm_check "VF 7 gone" test ! -e /sys/bus/pci/devices/0000:01:01.0
vm_check "virtfn3 gone" test ! -e "$d/virtfn3"
vm_check "8 -> 0" hostdev sriov "$pf" --vfs 0
vm_check_eq "sriov_numvfs is 0" 0 "$(cat $d/sriov_numvfs)"
vm_check "no virtfn link left" sh -c "! ls $d | grep -q virtfn"
vm_finish
