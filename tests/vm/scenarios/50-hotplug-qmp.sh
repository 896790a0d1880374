# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 120
# vm-description: harness self-test: QMP hot-plug served by the runner (USB keyboard, e1000e into root port rp2)
. /hostdev/lib/vm.sh

usb_count() { grep -lx 0627 /sys/bus/usb/devices/*/idVendor 2>/dev/null | wc -l; }
before=$(usb_count)
vm_check "QMP device_add usb-kbd" vm_qmp '{"execute":"device_add","arguments":{"driver":"usb-kbd","id":"hotkbd","bus":"xhci.0"}}'
vm_check "hot-plugged keyboard enumerates" vm_wait_for 60 sh -c "test \$(grep -lx 0627 /sys/bus/usb/devices/*/idVendor | wc -l) -eq $((before + 1))"
vm_check "QMP device_del usb-kbd" vm_qmp '{"execute":"device_del","arguments":{"id":"hotkbd"}}'
vm_check "keyboard gone" vm_wait_for 60 sh -c "test \$(grep -lx 0627 /sys/bus/usb/devices/*/idVendor | wc -l) -eq $before"

if out=$(vm_qmp '{"execute":"device_del","arguments":{"id":"no-such-device"}}'); then
	vm_not_ok "QMP error for an unknown device id (got $out)"
else
	vm_check "QMP error comes back to the guest" sh -c "echo '$out' | grep -q DeviceNotFound"
fi

slot=0000:02:00.0
vm_check "root port rp2 empty" test ! -e "/sys/bus/pci/devices/$slot"
vm_check "QMP netdev_add" vm_qmp '{"execute":"netdev_add","arguments":{"type":"hubport","id":"nhot","hubid":0}}'
vm_check "QMP device_add e1000e into rp2" vm_qmp '{"execute":"device_add","arguments":{"driver":"e1000e","id":"hotnic","bus":"rp2","netdev":"nhot"}}'
vm_check "hot-plugged e1000e appears at $slot" vm_wait_for 60 test -e "/sys/bus/pci/devices/$slot"
vm_check "hot-plugged e1000e bound to e1000e" vm_wait_for 60 sh -c "readlink /sys/bus/pci/devices/$slot/driver | grep -q e1000e"
vm_check "hot-plugged e1000e has its own IOMMU group" test -L "/sys/bus/pci/devices/$slot/iommu_group"
vm_check "QMP device_del e1000e" vm_qmp '{"execute":"device_del","arguments":{"id":"hotnic"}}'
vm_check "hot-unplugged e1000e disappears" vm_wait_for 60 test ! -e "/sys/bus/pci/devices/$slot"
vm_finish
