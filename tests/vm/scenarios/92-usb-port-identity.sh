# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 120
# vm-description: a USB device unplugged and plugged back into the same port keeps its port identity while its Harvester name changes; a watch that first hears of it at its removal names that identity
. /hostdev/lib/vm.sh

# field NAME FILE: the value of "NAME": "..." in hostdev's indented JSON
field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }

plug() {
	vm_qmp '{"execute":"device_add","arguments":{"driver":"usb-kbd","id":"pk","bus":"xhci.0","port":"6"}}' >/dev/null &&
		vm_wait_for 60 test -e /sys/bus/usb/devices/1-6/devnum
}

vm_check "plug a keyboard into port 6" plug
hostdev list --usb --port 1-6 --json >first.json
vm_check_eq "one device at port 1-6" 1 "$(grep -c '"port_path": "1-6"' first.json)"
# A watch without --enumerate first hears of the keyboard when it goes: its events name the same port
# identity (they once fell back to <node>-bus1-6, marked complete).
hostdev watch --usb --json --kernel -d 0627:0001 >unseen.json 2>unseen.err &
watch_pid=$!
vm_check "the watch listens to uevents" vm_wait_for 60 vm_listens_uevents $watch_pid
vm_check "QMP device_del" vm_qmp '{"execute":"device_del","arguments":{"id":"pk"}}'
vm_check "keyboard gone" vm_wait_for 60 test ! -e /sys/bus/usb/devices/1-6
removed='"action":"remove","subsystem":"usb","name":"1-6"'
vm_check "the watch reports the removal of 1-6" vm_wait_for 60 grep -q "$removed" unseen.json
kill -TERM $watch_pid
wait $watch_pid || true
cat unseen.json unseen.err
rm_line=$(grep "$removed" unseen.json | head -n 1)
vm_check_eq "the removal names the port identity list gave" "$(field port_id first.json)" \
	"$(echo "$rm_line" | sed -n 's/.*"port_id":"\([^"]*\)".*/\1/p')"
case "$rm_line" in
*'"partial":true'* | *'"manufacturer":"QEMU"'*) vm_ok "the removal is marked partial, or carries the device's attributes" ;;
*) vm_not_ok "the removal is marked partial, or carries the device's attributes" ;;
esac
vm_check "plug it back into port 6" plug
hostdev list --usb --port 1-6 --json >second.json
cat first.json second.json

vm_check_eq "same port identity after re-plug" "$(field port_id first.json)" "$(field port_id second.json)"
vm_check_eq "same port resource after re-plug" "$(field port_resource_name first.json)" "$(field port_resource_name second.json)"
port_id=$(field port_id first.json)
case "$port_id" in
*-usb2-6) vm_ok "port identity $port_id names the USB 2 root hub's port 6" ;;
*) vm_not_ok "port identity $port_id names the USB 2 root hub's port 6" ;;
esac
d1=$(sed -n 's/.*"devnum": \([0-9]*\).*/\1/p' first.json)
d2=$(sed -n 's/.*"devnum": \([0-9]*\).*/\1/p' second.json)
vm_check "the kernel gave it a new devnum ($d1 -> $d2)" test "$d1" != "$d2"
vm_check "Harvester's object name changed with it" test "$(field object_name first.json)" != "$(field object_name second.json)"
vm_check_eq "Harvester name embeds bus and the new devnum" \
	"$(hostdev_node=$(uname -n); echo "$hostdev_node-0627-0001-001$(printf %03d "$d2")")" "$(field object_name second.json)"
vm_finish
