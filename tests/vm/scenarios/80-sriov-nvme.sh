# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 150
# vm-description: hostdev sriov on the real kernel (NVMe PF, 2 VFs): show, enable with autoprobe off, N to M through 0, ERANGE over the total, ENOENT without a PF driver, the kernel's own EBUSY/EINVAL/ERANGE, list groups VFs under the PF
. /hostdev/lib/vm.sh

has() { echo "$out" | grep -q -- "$1"; }
hasE() { echo "$out" | grep -Eq -- "$1"; }
pf=$(vm_pci_find 1b36 0010 | head -n 1)
[ -n "$pf" ] || vm_die "no NVMe PF"
d=/sys/bus/pci/devices/$pf
vm_log "NVMe PF $pf, sriov_totalvfs $(cat $d/sriov_totalvfs)"

out=$(hostdev sriov "$pf")
vm_check "show: 0 of 2 enabled" has "VFs:                  0 of 2 enabled"
vm_check "show: VF device id 0010" has "VF device id:         0010"
vm_check "show: PF driver nvme" has "Driver:               nvme"
vm_check "show: routing offset/stride from the kernel" has "offset $(cat $d/sriov_offset), stride $(cat $d/sriov_stride)"

# The kernel's rules themselves, written directly (what the model in tests/kmodel claims).
vm_check "kernel: 'abc' -> EINVAL" sh -c "! echo abc >$d/sriov_numvfs 2>/dev/null"
st=0; err=$(sh -c "echo 3 >$d/sriov_numvfs" 2>&1) || st=$?
vm_check "kernel: 3 > total -> ERANGE" sh -c "[ $st -ne 0 ] && echo '$err' | grep -qi 'out of range'"

# enable 2 VFs, driverless (the nvme driver must not probe the offline emulated VFs)
st=0; out=$(hostdev sriov "$pf" --vfs 2 --no-autoprobe 2>&1) || st=$?
vm_check_eq "--vfs 2 --no-autoprobe exits 0" 0 "$st"
vm_check "reports 2 VFs enabled" has "^2 VFs enabled"
vm_check "autoprobe off" has "Driver autoprobe:     off"
vm_check_eq "sriov_drivers_autoprobe is 0" 0 "$(cat $d/sriov_drivers_autoprobe)"
vm_check_eq "sriov_numvfs is 2" 2 "$(cat $d/sriov_numvfs)"
vf0=$(basename "$(readlink $d/virtfn0)")
vf1=$(basename "$(readlink $d/virtfn1)")
vm_log "VFs $vf0 $vf1"
vm_check "VF 0 row: driverless, own group" hasE "^  0    $vf0  none +[0-9]+ "
vm_check "VF 1 row" hasE "^  1    $vf1  none"
vm_check_eq "VF 0 has no driver" "" "$(vm_pci_driver "$vf0")"
vm_check_eq "physfn of VF 1 is the PF" "$pf" "$(basename "$(readlink /sys/bus/pci/devices/$vf1/physfn)")"

# hostdev list: the VFs follow their PF, in lspci's columns (not indented; docs/cli.md)
out=$(hostdev list | grep -A2 "^$pf ")
vm_check_eq "list: VF 0 right after the PF" "$vf0" "$(echo "$out" | sed -n 2p | cut -d' ' -f1)"
vm_check_eq "list: VF 1 after VF 0" "$vf1" "$(echo "$out" | sed -n 3p | cut -d' ' -f1)"
out=$(hostdev list --json)
vm_check "list --json still lists every VF" has "\"address\": \"$vf1\""
out=$(hostdev sriov "$pf" --json)
vm_check "json: num_vfs 2" has '"num_vfs": 2'
vm_check "json: autoprobe false" has '"autoprobe": false'

# the kernel refuses a new non-zero count while VFs exist; hostdev goes through 0
st=0; err=$(sh -c "echo 1 >$d/sriov_numvfs" 2>&1) || st=$?
vm_check "kernel: 2 -> 1 directly -> EBUSY" sh -c "[ $st -ne 0 ] && echo '$err' | grep -qi 'busy'"
st=0; out=$(hostdev sriov "$pf" --vfs 1 2>&1) || st=$?
vm_check_eq "hostdev: 2 -> 1 exits 0" 0 "$st"
vm_check_eq "sriov_numvfs is 1" 1 "$(cat $d/sriov_numvfs)"
vm_check "virtfn1 gone" test ! -e "$d/virtfn1"
vm_check "VF 1 device gone" test ! -e "/sys/bus/pci/devices/$vf1"
st=0; out=$(hostdev sriov "$pf" --vfs 2 2>&1) || st=$?
vm_check_eq "hostdev: 1 -> 2 exits 0" 0 "$st"
vm_check "both links back" sh -c "test -L $d/virtfn0 && test -L $d/virtfn1"

# over the total: refused before any write, with the numbers
st=0; out=$(hostdev sriov "$pf" --vfs 3 2>&1) || st=$?
vm_check_eq "--vfs 3 exits 1" 1 "$st"
vm_check "ERANGE message names the total" has "cannot enable 3 VFs: the PF offers at most 2"
vm_check_eq "count untouched" 2 "$(cat $d/sriov_numvfs)"

# no PF driver: the kernel says ENOENT, hostdev says what to do
vm_check "disable VFs" hostdev sriov "$pf" --vfs 0
echo "$pf" >/sys/bus/pci/drivers/nvme/unbind
vm_check_eq "PF unbound" "" "$(vm_pci_driver "$pf")"
st=0; out=$(hostdev sriov "$pf" --vfs 1 2>&1) || st=$?
vm_check_eq "--vfs 1 on an unbound PF exits 1" 1 "$st"
vm_check "ENOENT mapped: no driver, bind it first" has "the PF has no driver.*bind its driver first"
echo "$pf" >/sys/bus/pci/drivers/nvme/bind
vm_check "PF back on nvme" vm_wait_for 60 sh -c "[ \"\$(basename \$(readlink $d/driver))\" = nvme ]"
vm_check "after rebinding: --vfs 1 works" hostdev sriov "$pf" --vfs 1 --no-autoprobe
vm_check "and --vfs 0" hostdev sriov "$pf" --vfs 0
vm_check_eq "sriov_numvfs back to 0" 0 "$(cat $d/sriov_numvfs)"
vm_finish
