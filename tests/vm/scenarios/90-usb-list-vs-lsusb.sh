# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 120
# vm-description: `hostdev list --usb` agrees with lsusb and lsusb -t on the xHCI devices of a real kernel
. /hostdev/lib/vm.sh

command -v hostdev >/dev/null || vm_die "hostdev CLI is not in the initramfs"
hostdev list --usb --hubs >list.txt 2>list.err || { cat list.err; vm_die "hostdev list --usb failed"; }
hostdev list --usb --hubs --json >list.json 2>list.err || { cat list.err; vm_die "hostdev list --usb --json failed"; }
lsusb >lsusb.txt
lsusb -t >tree.txt
cat list.txt lsusb.txt tree.txt

# Same devices: every "Bus BBB Device DDD: ID vvvv:pppp" of lsusb appears once in hostdev's listing.
vm_check_eq "same number of devices as lsusb" "$(wc -l <lsusb.txt)" "$(wc -l <list.txt)"
while IFS= read -r line; do
	key=$(echo "$line" | cut -c1-32)
	vm_check_eq "hostdev lists '$key'" 1 "$(grep -cF " $key" list.txt)"
done <lsusb.txt

# The machine's devices, with the fields QEMU sets.
vm_check "keyboard and tablet (0627:0001) on bus 1" test "$(grep -c ' Bus 001 .* ID 0627:0001 ' list.txt)" -eq 2
vm_check "storage 46f4:0001 on the SuperSpeed bus with its serial" \
	grep -q '^2-[0-9.]* Bus 002 .* ID 46f4:0001 .*class=08 (Mass Storage) speed=5000M drivers=usb-storage serial=HOSTDEV0001 ' list.txt
vm_check "root hubs are 1-0 and 2-0" sh -c "grep -q '^1-0 Bus 001 Device 001: ID 1d6b:0002' list.txt && grep -q '^2-0 Bus 002 Device 001: ID 1d6b:0003' list.txt"
xhci=$(vm_pci_find 1b36 000d)
vm_check_eq "controller address in JSON is the xHCI function" \
	"$(grep -c "\"controller_address\": \"$xhci\"" list.json)" "$(wc -l <lsusb.txt)"
vm_check "device nodes exist" sh -c 'for n in $(sed -n "s/.*\"devnode\": \"\(.*\)\".*/\1/p" list.json); do test -c $n || exit 1; done'

# lsusb -t: every device (Dev N on bus B) has the same speed, and every interface driver it names is
# among the drivers hostdev lists for that device.
bus=0
while IFS= read -r line; do
	case "$line" in
	*"Bus "*".Port "*)
		bus=$(echo "$line" | sed 's/.*Bus \([0-9]*\)\..*/\1/')
		dev=1
		speed=$(echo "$line" | sed 's/.*, \([0-9.]*M\)$/\1/')
		driver=""
		;;
	*"|__ Port"*)
		dev=$(echo "$line" | sed 's/.*Dev \([0-9]*\),.*/\1/')
		speed=$(echo "$line" | sed 's/.*, \([0-9.]*M\)$/\1/')
		driver=$(echo "$line" | sed 's/.*Driver=\([^,/]*\).*/\1/')
		;;
	*) continue ;;
	esac
	b=$(printf %03d "$bus")
	d=$(printf %03d "$dev")
	entry=$(grep " Bus $b Device $d: " list.txt)
	vm_check "bus $b dev $d speed $speed" sh -c "echo '$entry' | grep -q ' speed=$speed '"
	if [ -n "$driver" ]; then
		vm_check "bus $b dev $d driver $driver" sh -c "echo '$entry' | grep -q -E ' drivers=([^ ]*,)?$driver(,| )'"
	fi
done <tree.txt
vm_finish
