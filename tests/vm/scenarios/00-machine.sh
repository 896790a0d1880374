# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 90
# vm-description: harness self-test: the guest sees the machine's devices, drivers and IOMMU groups
. /hostdev/lib/vm.sh

vm_check_eq "every module of modules.txt loaded" "" "$(cat /run/hostdev-vm-modules-failed)"
vm_check_eq "no unknown symbols" "" "$(dmesg | grep -i 'unknown symbol' || true)"
vm_check_eq "usb-storage got its parameter" 0 "$(cat /sys/module/usb_storage/parameters/delay_use)"
e1000e=$(vm_pci_find 8086 10d3)
vm_check "e1000e present" test -n "$e1000e"
vm_check_eq "e1000e bound to e1000e" e1000e "$(vm_pci_driver "$e1000e")"
vnet=$(vm_pci_find 1af4 1000)
[ -n "$vnet" ] || vnet=$(vm_pci_find 1af4 1041)
vm_check_eq "virtio-net bound to virtio-pci" virtio-pci "$(vm_pci_driver "$vnet")"
nvme=$(vm_pci_find 1b36 0010)
vm_check "NVMe PF present" test -n "$nvme"
vm_check_eq "NVMe bound to nvme" nvme "$(vm_pci_driver "$nvme")"
vm_check_eq "NVMe PF offers 2 VFs" 2 "$(cat "/sys/bus/pci/devices/$nvme/sriov_totalvfs")"
xhci=$(vm_pci_find 1b36 000d)
vm_check_eq "xHCI bound to xhci_hcd" xhci_hcd "$(vm_pci_driver "$xhci")"
vm_check "IOMMU groups exist" test -n "$(ls /sys/kernel/iommu_groups)"
lpc_group=$(basename "$(readlink /sys/bus/pci/devices/0000:00:1f.0/iommu_group)")
vm_check_eq "ICH9 LPC, SATA, SMBus share one IOMMU group" "0000:00:1f.0 0000:00:1f.2 0000:00:1f.3" \
	"$(ls "/sys/kernel/iommu_groups/$lpc_group/devices" | tr '\n' ' ' | sed 's/ $//')"
vm_check "interrupt remapping enabled" sh -c 'dmesg | grep -q "Enabled IRQ remapping"'
vm_check "USB keyboard/tablet (0627:0001) enumerated twice" \
	test "$(cat /sys/bus/usb/devices/*/idVendor /dev/null | grep -c 0627)" -eq 2
vm_check "USB storage (46f4:0001) enumerated" grep -qx 46f4 /sys/bus/usb/devices/*/idVendor
vm_check "USB storage has a block device" sh -c 'ls /sys/bus/usb/devices/*/*/host*/target*/*/block/ | grep -q sd'
vm_check "empty root port rp2 offers a hot-plug slot (bus 02)" sh -c 'grep -qx 0000:02:00 /sys/bus/pci/slots/*/address'
vm_check "lspci runs" lspci -nn
vm_check "lsusb runs" lsusb
vm_check "mtty.ko loads" modprobe mtty
vm_check "mtty is an mdev parent" test -d /sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-2
vm_check "systemd-udevd starts" sh -c '/lib/systemd/systemd-udevd --daemon && udevadm control --ping'
vm_check "nvme-cli runs" sh -c 'nvme list'
vm_finish
