# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 120
# vm-description: `hostdev list --json` agrees with lspci and sysfs on a real kernel, before and after VF/vfio changes
. /hostdev/lib/vm.sh

command -v hostdev >/dev/null || vm_die "hostdev CLI is not in the initramfs (was examples/cli built?)"
command -v vm-list-check >/dev/null || vm_die "vm-list-check is not in the initramfs (was tests/vm built?)"

# compare LABEL: hostdev list --json vs lspci -vmm -nn -k -D vs /sys, through vm-list-check
compare() {
	if ! hostdev list --json >list.json 2>list.err; then
		cat list.err
		vm_not_ok "$1: hostdev list --json succeeds"
		return 0
	fi
	lspci -vmm -nn -k -D >lspci.txt
	if vm-list-check list.json lspci.txt /sys; then
		vm_ok "$1: hostdev list --json agrees with lspci and sysfs"
	else
		vm_not_ok "$1: hostdev list --json agrees with lspci and sysfs"
	fi
	n=0
	for a in $(sed -n 's/^Slot:\t//p' lspci.txt); do
		hostdev show "$a" >show.txt 2>&1 || {
			cat show.txt
			vm_not_ok "$1: hostdev show $a"
		}
		n=$((n + 1))
	done
	vm_ok "$1: hostdev show ran on $n devices"
}

compare "at boot"

# Change the kernel's state in ways the listing must follow: VFs appear, drivers change.
nvme=$(vm_pci_find 1b36 0010)
pf=/sys/bus/pci/devices/$nvme
echo 0 >"$pf/sriov_drivers_autoprobe"
echo 2 >"$pf/sriov_numvfs"
vm_wait_for 60 test -L "$pf/virtfn1" || vm_die "VFs did not appear"
vf0=$(basename "$(readlink "$pf/virtfn0")")
echo vfio-pci >"/sys/bus/pci/devices/$vf0/driver_override"
echo "$vf0" >/sys/bus/pci/drivers_probe
e1000e=$(vm_pci_find 8086 10d3)
echo vfio-pci >"/sys/bus/pci/devices/$e1000e/driver_override"
echo "$e1000e" >/sys/bus/pci/drivers/e1000e/unbind
echo "$e1000e" >/sys/bus/pci/drivers_probe
vm_check_eq "VF 0 on vfio-pci" vfio-pci "$(vm_pci_driver "$vf0")"
vm_check_eq "e1000e on vfio-pci" vfio-pci "$(vm_pci_driver "$e1000e")"

compare "2 VFs, VF 0 and e1000e on vfio-pci"

# USB: hostdev has no USB listing yet; lsusb must at least see the machine's devices.
vm_check "lsusb sees keyboard, tablet and storage" \
	test "$(lsusb | grep -c -E '0627:0001|46f4:0001')" -eq 3
vm_finish
