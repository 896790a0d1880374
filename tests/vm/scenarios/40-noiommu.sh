# SPDX-License-Identifier: Apache-2.0
# vm-machine: noiommu
# vm-timeout: 90
# vm-description: without an IOMMU there are no groups and vfio-pci refuses to bind (EINVAL)
. /hostdev/lib/vm.sh

addr=$(vm_pci_find 8086 10d3)
[ -n "$addr" ] || vm_die "no e1000e in the guest"
dev=/sys/bus/pci/devices/$addr
vm_check_eq "no IOMMU groups" "" "$(ls /sys/kernel/iommu_groups)"
vm_check "no iommu_group link on the e1000e" test ! -e "$dev/iommu_group"
vm_check "vfio-pci driver registered" test -d /sys/bus/pci/drivers/vfio-pci
vm_check_eq "starts on e1000e" e1000e "$(vm_pci_driver "$addr")"

echo vfio-pci >"$dev/driver_override"
echo "$addr" >/sys/bus/pci/drivers/e1000e/unbind
err=$(sh -c "echo '$addr' >/sys/bus/pci/drivers/vfio-pci/bind" 2>&1 || true)
vm_check "binding to vfio-pci fails with EINVAL" sh -c "echo '$err' | grep -q 'Invalid argument'"
vm_check "device left unbound" test ! -e "$dev/driver"
echo "$addr" >/sys/bus/pci/drivers_probe
vm_check "drivers_probe does not bind vfio-pci either" test ! -e "$dev/driver"
vm_check "kernel logged the -22 probe failure" sh -c "dmesg | grep -q 'vfio-pci $addr.*-22\|$addr.*failed with error -22'"
vm_check "no /dev/vfio group nodes" test -z "$(ls /dev/vfio 2>/dev/null | grep -v '^vfio$')"

echo >"$dev/driver_override"
echo "$addr" >/sys/bus/pci/drivers_probe
vm_check_eq "restored to e1000e" e1000e "$(vm_pci_driver "$addr")"
vm_finish
