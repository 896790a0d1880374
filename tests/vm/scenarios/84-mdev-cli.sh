# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 150
# vm-description: hostdev mdev types/list/create/remove with the mtty parent (real kernel), and the kernel's own EINVAL/EEXIST/ENOSPC answers that the kernel model reproduces
. /hostdev/lib/vm.sh

has() { echo "$out" | grep -q -- "$1"; }
hasE() { echo "$out" | grep -Eq -- "$1"; }
modprobe mtty || vm_die "modprobe mtty"
types=/sys/devices/virtual/mtty/mtty/mdev_supported_types

out=$(hostdev mdev types)
vm_check "types: mtty-1 row" hasE "^mtty +mtty-1 +[0-9]+ +vfio-pci +Single port serial \(Single_port_serial\)"
vm_check "types: mtty-2 row" hasE "^mtty +mtty-2 +[0-9]+ +vfio-pci +Dual port serial \(Dual_port_serial\)"
out=$(hostdev mdev types mtty --json)
vm_check "types --json: pci_parent false" has '"pci_parent": false'
vm_check "types --json: selector" has '"selector": "Dual_port_serial"'
out=$(hostdev mdev list)
vm_check "list: none yet" has "no mediated devices"

u1=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
st=0; out=$(hostdev mdev create mtty mtty-2 --uuid "$u1" 2>&1) || st=$?
vm_check_eq "create --uuid exits 0" 0 "$st"
vm_check_eq "create prints the UUID alone" "$u1" "$out"
vm_check "the kernel has it" test -L "/sys/bus/mdev/devices/$u1/mdev_type"
g1=$(basename "$(readlink /sys/bus/mdev/devices/$u1/iommu_group)")
out=$(hostdev mdev list)
vm_check "list: row with parent, type, group" hasE "^$u1 mtty +mtty-2 +$g1 "
vm_check "list: type name" has "Dual port serial"
st=0; u2=$(hostdev mdev create mtty mtty-1 2>&1) || st=$?
vm_check_eq "create (generated UUID) exits 0" 0 "$st"
vm_check "generated UUID is a v4 UUID" sh -c "echo '$u2' | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'"
out=$(hostdev mdev list --json)
vm_check "list --json has both" sh -c "echo '$out' | grep -q '\"uuid\": \"$u1\"' && echo '$out' | grep -q '\"uuid\": \"$u2\"'"

# refusals before writing
st=0; out=$(hostdev mdev create mtty mtty-2 --uuid "$u1" 2>&1) || st=$?
vm_check_eq "same UUID again exits 1" 1 "$st"
vm_check "EEXIST refused: exists already" has "mdev $u1 exists already"
st=0; out=$(hostdev mdev create mtty mtty-9 2>&1) || st=$?
vm_check "unknown type: the message lists the types" has "has no mdev type 'mtty-9'; its types are: mtty-1, mtty-2"

# the kernel's own answers (the kernel model's rules)
st=0; err=$(sh -c "echo not-a-uuid >$types/mtty-1/create" 2>&1) || st=$?
vm_check "kernel: malformed UUID -> EINVAL" sh -c "[ $st -ne 0 ] && echo '$err' | grep -qi 'invalid argument'"
st=0; err=$(sh -c "echo $u1 >$types/mtty-1/create" 2>&1) || st=$?
vm_check "kernel: UUID in use -> EEXIST" sh -c "[ $st -ne 0 ] && echo '$err' | grep -qi 'exists'"
st=0; err=$(sh -c "echo x >/sys/bus/mdev/devices/$u1/remove" 2>&1) || st=$?
vm_check "kernel: remove 'x' -> EINVAL" sh -c "[ $st -ne 0 ] && echo '$err' | grep -qi 'invalid argument'"
# exhaust mtty-2 (its ports are shared with mtty-1), then the kernel answers ENOSPC
n=0
while [ "$(cat $types/mtty-2/available_instances)" -gt 0 ] && [ $n -lt 30 ]; do
	hostdev mdev create mtty mtty-2 >/dev/null || break
	n=$((n + 1))
done
vm_log "created $n more mtty-2 mdevs; mtty-1 has $(cat $types/mtty-1/available_instances) left"
vm_check_eq "mtty-2 exhausted" 0 "$(cat $types/mtty-2/available_instances)"
st=0; out=$(hostdev mdev create mtty mtty-2 2>&1) || st=$?
vm_check_eq "create on an exhausted type exits 1" 1 "$st"
vm_check "refused: no instances left" has "no instances of mdev type mtty-2 are left"
# mtty-2 needs two free ports: with fewer, mtty's create fails in the kernel with ENOSPC
st=0; err=$(sh -c "echo 11111111-2222-4333-8444-555555555555 >$types/mtty-2/create" 2>&1) || st=$?
vm_check "kernel: no capacity -> ENOSPC" sh -c "[ $st -ne 0 ] && echo '$err' | grep -qi 'no space'"

# remove everything through hostdev
for u in $(ls /sys/bus/mdev/devices); do
	hostdev mdev remove "$u" >/dev/null || vm_not_ok "remove $u"
done
out=$(hostdev mdev list)
vm_check "all removed" has "no mediated devices"
st=0; out=$(hostdev mdev remove "$u1" 2>&1) || st=$?
vm_check_eq "remove a missing mdev exits 1" 1 "$st"
vm_check "ENODEV message" has "no such mediated device"
vm_check "available_instances back" sh -c "[ $(cat $types/mtty-2/available_instances) -gt 0 ]"
vm_finish
