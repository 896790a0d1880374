# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 150
# vm-description: `hostdev watch --json` sees a QMP hot-plugged usb-kbd arrive and leave (kernel uevents, then udevd)
. /hostdev/lib/vm.sh

# watch_cycle LABEL ID: start a watch, hot-plug keyboard ID, then remove it; both events come.
watch_cycle() {
	label=$1 id=$2
	rm -f watch.json
	hostdev watch --usb --json --enumerate -d 0627: >watch.json 2>watch.err &
	pid=$!
	# the replayed keyboard and tablet show it is listening
	vm_wait_for 60 sh -c 'test $(grep -c "\"replay\":true" watch.json) -ge 2' ||
		{ cat watch.err; vm_not_ok "$label: watch started"; kill $pid; return 0; }
	vm_check "$label: QMP device_add usb-kbd" vm_qmp "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"usb-kbd\",\"id\":\"$id\",\"bus\":\"xhci.0\"}}"
	vm_check "$label: add event" vm_wait_for 60 grep -q '"action":"add","subsystem":"usb".*"replay":false' watch.json
	# the device's own "name" is the first one in the line (interfaces have names too)
	name=$(grep '"action":"add".*"replay":false' watch.json | head -n 1 | sed 's/^{"schema_version":1,"action":"add","subsystem":"usb","name":"\([^"]*\)".*/\1/')
	vm_check "$label: added device is a 0627:0001 at port $name" sh -c "grep '\"action\":\"add\".*\"replay\":false' watch.json | grep -q '\"vendor_id\":\"0627\",\"product_id\":\"0001\"'"
	vm_check "$label: QMP device_del" vm_qmp "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"$id\"}}"
	vm_check "$label: remove event for $name" vm_wait_for 60 grep -q "\"action\":\"remove\",\"subsystem\":\"usb\",\"name\":\"$name\"" watch.json
	vm_check "$label: remove carries the last known attributes" sh -c "grep '\"action\":\"remove\"' watch.json | grep -q '\"partial\":false.*\"manufacturer\":\"QEMU\"'"
	kill -TERM $pid
	status=0
	wait $pid || status=$?
	vm_check_eq "$label: watch exits 0 on SIGTERM" 0 "$status"
	cat watch.json
}

vm_check "no udevd yet: kernel uevents" sh -c '! pidof systemd-udevd'
watch_cycle kernel hk1

if [ -x /lib/systemd/systemd-udevd ]; then
	/lib/systemd/systemd-udevd --daemon
	vm_wait_for 60 test -e /run/udev/control || vm_log "udevd control socket did not appear"
	udevadm trigger --subsystem-match=usb --action=add >/dev/null 2>&1 || true
	udevadm settle -t 60 >/dev/null 2>&1 || true
	watch_cycle udevd hk2
else
	vm_log "systemd-udevd not in the guest: udev source not exercised"
fi
vm_finish
