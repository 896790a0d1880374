# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-host-hook: kube-standin
# vm-timeout: 300
# vm-description: hostdev-agent in the guest publishes the guest's real PCI and USB devices over TLS to the stand-in API server on the host (QEMU guestfwd, nothing else reachable); a QMP unplug removes the USBDevice (latency reported), a re-plug brings back the same name
. /hostdev/lib/vm.sh

# The stand-in API server runs on the host (tests/vm/hosthooks.py, KubeStandin: a stand-in, a real
# kube-apiserver cannot run there). The guest reaches it only at 10.0.2.100:6443 through QEMU's user
# network (restrict=on: nothing else), as kubernetes.default.svc, over TLS with the stand-in's CA.
command -v hostdev-agent >/dev/null ||
	vm_die "hostdev-agent not in the guest: build it (cmake --build build --target hostdev-agent) and re-run cmake"
node=hostdev-vm
# The kubeconfig (server, the stand-in's CA, a token) from the host hook, over the console.
vm_kube_standin kubeconfig
host_port=$(echo "$VM_HOST_ANSWER" | sed -n 's/.*"hostPort":\([0-9]*\).*/\1/p')
[ -n "$host_port" ] || vm_die "the host hook sent no kubeconfig: $VM_HOST_ANSWER"
# Nothing but the forwarded address answers: not the stand-in's own port through QEMU's host address,
# not the guestfwd address on another port (each attempt bounded by nc's 3 s).
reaches() { nc -w 3 "$1" "$2" </dev/null >/dev/null 2>&1; }
unreachable() { ! reaches "$@"; }
vm_check "10.0.2.100:6443 answers (nc works)" reaches 10.0.2.100 6443
vm_check "the stand-in's host port $host_port is not reachable through 10.0.2.2" unreachable 10.0.2.2 "$host_port"
vm_check "10.0.2.100 forwards nothing but 6443" unreachable 10.0.2.100 22

# summary FIELD: one field of the host's flat view of this node's objects
summary() { vm_host '{"op":"summary"}' | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
# What the objects must say, read from the guest's sysfs: PCI functions but bridges (class 0604) with
# their drivers; USB devices but hubs with their ids and device nodes.
guest_pci() {
	for d in /sys/bus/pci/devices/*; do
		case "$(cat "$d/class")" in 0x0604*) continue ;; esac
		drv=""
		[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
		echo "$(basename "$d")=$drv"
	done | sort | tr '\n' ' ' | sed 's/ $//'
}
guest_usb() {
	for d in /sys/bus/usb/devices/*; do
		n=$(basename "$d")
		case "$n" in usb* | *:*) continue ;; esac
		[ "$(cat "$d/bDeviceClass")" = 09 ] && continue
		printf '%s=%s:%s=/dev/bus/usb/%03d/%03d\n' "$n" "$(cat "$d/idVendor")" "$(cat "$d/idProduct")" \
			"$(cat "$d/busnum")" "$(cat "$d/devnum")"
	done | sort | tr '\n' ' ' | sed 's/ $//'
}
ready() { grep -q "published the inventory of node $node: ready" agent.log; }

hostdev-agent --kubeconfig "$PWD/kubeconfig" --node-name "$node" --metrics-address 127.0.0.1:0 \
	--log-level debug 2>agent.log </dev/null &
agent=$!
if ! vm_check "the agent published the inventory (TLS to the host's stand-in)" vm_wait_for 150 ready; then
	tail -n 30 agent.log
	vm_die "the agent did not get ready"
fi
vm_check_eq "a PCIDevice per function (bridges excluded), with its driver" "$(guest_pci)" "$(summary pci)"
vm_check_eq "a USBDevice per device (hubs excluded): port, ids, device node" "$(guest_usb)" "$(summary usb)"
vm_check_eq "no SRIOVNetworkDevice (no SR-IOV network PF in this machine)" "" "$(summary sriov)"

# Unplug the keyboard (kbd0, port 1-1): its USBDevice goes; the host measures from QMP device_del
# to the DELETED watch event.
name=$(summary usbnames | tr ' ' '\n' | sed -n 's/^1-1=//p')
vm_log "keyboard's USBDevice: $name"
case "$name" in "$node"-*-usb2-1) ;; *) vm_die "unexpected USBDevice name '$name' for port 1-1" ;; esac
out=$(vm_host "{\"op\":\"unplug\",\"device\":\"kbd0\",\"name\":\"$name\",\"timeout\":60}" 90)
secs=$(echo "$out" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
vm_check "QMP unplug: the USBDevice deleted ($out)" test -n "$secs"
vm_log "unplug -> USBDevice deleted in $secs s (host time from QMP device_del to the DELETED event; issue #17's target: 5 s)"
vm_check "the keyboard left the guest's sysfs" vm_wait_for 10 test ! -e /sys/bus/usb/devices/1-1
vm_check_eq "the other USB devices stay" "$(guest_usb)" "$(summary usb)"

# Re-plug into the same port: the same object name comes back (a new device number).
vm_check "QMP re-plug into port 1" vm_qmp '{"execute":"device_add","arguments":{"driver":"usb-kbd","id":"kbd0","bus":"xhci.0","port":"1"}}'
vm_check "the keyboard is back in sysfs" vm_wait_for 10 test -e /sys/bus/usb/devices/1-1/devnum
out=$(vm_host "{\"op\":\"wait\",\"plural\":\"usbdevices\",\"name\":\"$name\",\"timeout\":60}" 90)
vm_check "re-plug: USBDevice $name is back" test -n "$(echo "$out" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')"
vm_log "re-plug -> USBDevice back after $(echo "$out" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p') s"
vm_check_eq "...with the new device node" "$(guest_usb)" "$(summary usb)"
vm_check_eq "...and no object under another name" "$(guest_usb | wc -w)" "$(summary usbnames | wc -w)"

out=$(vm_host '{"op":"writes"}')
vm_log "the agent's writes: $out"
case "$out" in *'"forbidden":0'*) vm_ok "no request refused by the agent's ClusterRole" ;;
*) vm_not_ok "no request refused by the agent's ClusterRole: $out" ;; esac

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
vm_check_eq "SIGTERM: the agent exits 0" 0 "$rc"
grep -q "stopping (SIGTERM)" agent.log || vm_not_ok "the agent logged its stop"
tail -n 5 agent.log
vm_finish
