# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 90
# vm-description: the real kernel binds the e1000e to vfio-pci and restores it (driver_override, unbind, drivers_probe)
# Raw sysfs writes on purpose: this proves the kernel contract the library relies on. The vfio issue adds the
# library's own bind/restore scenarios next to this one.
. /hostdev/lib/vm.sh

addr=$(vm_pci_find 8086 10d3)
[ -n "$addr" ] || vm_die "no e1000e in the guest"
dev=/sys/bus/pci/devices/$addr
group=$(basename "$(readlink "$dev/iommu_group")")
vm_log "e1000e at $addr, IOMMU group $group"
vm_check_eq "starts on e1000e" e1000e "$(vm_pci_driver "$addr")"
vm_check "has a netdev" test -n "$(ls "$dev/net" 2>/dev/null)"
vm_check_eq "driver_override unset" "(null)" "$(cat "$dev/driver_override")"
vm_check "vfio container node exists" test -c /dev/vfio/vfio
vm_check "no /dev/vfio/$group before binding" test ! -e "/dev/vfio/$group"

# bind: override, unbind, reprobe
echo vfio-pci >"$dev/driver_override"
echo "$addr" >/sys/bus/pci/drivers/e1000e/unbind
vm_check "unbound after unbind" test ! -e "$dev/driver"
echo "$addr" >/sys/bus/pci/drivers_probe
vm_check_eq "bound to vfio-pci after drivers_probe" vfio-pci "$(vm_pci_driver "$addr")"
vm_check "/dev/vfio/$group appears" vm_wait_for 60 test -c "/dev/vfio/$group"
vm_check "netdev gone while on vfio-pci" test -z "$(ls "$dev/net" 2>/dev/null)"
vm_check "group node opens (group viable)" sh -c "exec 3<>/dev/vfio/$group"
# Idempotence of the kernel side: reprobing a bound device changes nothing.
echo "$addr" >/sys/bus/pci/drivers_probe
vm_check_eq "still on vfio-pci after a second drivers_probe" vfio-pci "$(vm_pci_driver "$addr")"

# restore: clear override, unbind, reprobe
echo >"$dev/driver_override"
vm_check_eq "driver_override cleared" "(null)" "$(cat "$dev/driver_override")"
echo "$addr" >/sys/bus/pci/drivers/vfio-pci/unbind
echo "$addr" >/sys/bus/pci/drivers_probe
vm_check_eq "back on e1000e after restore" e1000e "$(vm_pci_driver "$addr")"
vm_check "netdev back" vm_wait_for 60 sh -c "ls '$dev/net' | grep -q ."
vm_check "/dev/vfio/$group gone after restore" vm_wait_for 60 test ! -e "/dev/vfio/$group"
vm_finish
