# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 120
# vm-description: hostdev bind/restore (the library) moves e1000e and virtio-net to vfio-pci and back, with /dev/vfio/<group>, the journal and the netdevs; the guard refuses a protected device
. /hostdev/lib/vm.sh

# has PATTERN: the last command output ($out) matches
has() { echo "$out" | grep -q -- "$1"; }

nic=$(vm_pci_find 8086 10d3)
vnet=$(vm_pci_find 1af4 1041)
[ -n "$vnet" ] || vnet=$(vm_pci_find 1af4 1000)
[ -n "$nic" ] && [ -n "$vnet" ] || vm_die "e1000e or virtio-net missing"
gnic=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
gvnet=$(basename "$(readlink "/sys/bus/pci/devices/$vnet/iommu_group")")
netdevs() { ls "/sys/bus/pci/devices/$1/net" "/sys/bus/pci/devices/$1"/virtio*/net 2>/dev/null | grep -v : | grep . ; }
vm_log "e1000e $nic (group $gnic), virtio-net $vnet (group $gvnet)"
vm_check_eq "e1000e starts on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check_eq "virtio-net starts on virtio-pci" virtio-pci "$(vm_pci_driver "$vnet")"
vm_check "e1000e has a netdev" netdevs "$nic"
vm_check "virtio-net has a netdev" netdevs "$vnet"

# the guard: a protected address is refused and left alone
st=0
out=$(hostdev bind --protect "$nic" "$nic" 2>&1) || st=$?
vm_check_eq "bind of a protected device exits 1" 1 "$st"
vm_check "the refusal says why" has 'listed it as protected'
vm_check_eq "protected e1000e untouched" e1000e "$(vm_pci_driver "$nic")"

# bind both with one call
vm_check "hostdev bind e1000e virtio-net" hostdev bind --owner vm-test "$nic" "$vnet"
vm_check_eq "e1000e on vfio-pci" vfio-pci "$(vm_pci_driver "$nic")"
vm_check_eq "virtio-net on vfio-pci" vfio-pci "$(vm_pci_driver "$vnet")"
vm_check_eq "driver_override set" vfio-pci "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
vm_check "/dev/vfio/$gnic is a char device" test -c "/dev/vfio/$gnic"
vm_check "/dev/vfio/$gvnet is a char device" test -c "/dev/vfio/$gvnet"
vm_check "/dev/vfio/$gnic opens (group viable)" sh -c "exec 3<>/dev/vfio/$gnic"
vm_check "e1000e netdev gone" sh -c "! netdevs $nic"
vm_check "journal lists e1000e with its driver" sh -c "hostdev journal | grep '$nic' | grep -q e1000e"
vm_check "journal lists virtio-net with its driver" sh -c "hostdev journal | grep '$vnet' | grep -q virtio-pci"
vm_check "journal file is 0600" sh -c "ls -l /var/lib/hostdev/vfio-journal.json | grep -q '^-rw-------'"
vm_check "bind again is a no-op" sh -c "hostdev bind '$nic' | grep -q '0 devices moved'"
vm_check "check reports it on vfio-pci" sh -c "hostdev check '$nic' | grep -q 'PASS  $nic   on vfio-pci'"

# restore everything
vm_check "hostdev restore --all" sh -c "hostdev restore --all | grep -q '2 devices restored'"
vm_check_eq "e1000e back on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check_eq "virtio-net back on virtio-pci" virtio-pci "$(vm_pci_driver "$vnet")"
vm_check_eq "driver_override cleared" "(null)" "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
vm_check "e1000e netdev back" vm_wait_for 60 netdevs "$nic"
vm_check "virtio-net netdev back" vm_wait_for 60 netdevs "$vnet"
vm_check "/dev/vfio/$gnic gone" vm_wait_for 60 test ! -e "/dev/vfio/$gnic"
vm_check "journal empty" sh -c "hostdev journal | grep -q 'no devices bound'"
vm_finish
