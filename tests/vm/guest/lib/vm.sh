# SPDX-License-Identifier: Apache-2.0
# Helpers for VM scenarios (busybox sh). A scenario does `. /hostdev/lib/vm.sh`, runs checks, and ends with
# `vm_finish`. Output lines "ok - ..." / "not ok - ..." go to the console log; the scenario's exit status is the
# verdict (0 pass, 77 skip, other fail).

VM_FAILS=0
VM_OKS=0

vm_log() {
	echo "# $*"
}

vm_ok() {
	VM_OKS=$((VM_OKS + 1))
	echo "ok - $*"
}

vm_not_ok() {
	VM_FAILS=$((VM_FAILS + 1))
	echo "not ok - $*"
}

# vm_check DESCRIPTION COMMAND [ARGS...]: ok when COMMAND succeeds; its output is shown on failure.
# It returns 0 either way, so that a scenario (run with sh -e) reports every check: to stop on a
# failure, test COMMAND itself and call vm_ok / vm_die.
vm_check() {
	_d=$1
	shift
	if _out=$("$@" 2>&1); then
		vm_ok "$_d"
	else
		vm_not_ok "$_d"
		[ -z "$_out" ] || echo "$_out" | sed 's/^/#   /'
	fi
}

# vm_check_eq DESCRIPTION EXPECTED ACTUAL
vm_check_eq() {
	if [ "$2" = "$3" ]; then
		vm_ok "$1"
	else
		vm_not_ok "$1 (expected '$2', got '$3')"
	fi
}

# vm_skip REASON: the whole scenario is skipped (exit 77); the reason is reported by the runner.
vm_skip() {
	echo "$*" >.skip-reason
	echo "# SKIP: $*"
	exit 77
}

# vm_die REASON: stop the scenario now as failed.
vm_die() {
	vm_not_ok "$*"
	exit 1
}

vm_finish() {
	echo "# $VM_OKS ok, $VM_FAILS not ok"
	[ "$VM_OKS" -gt 0 ] || [ "$VM_FAILS" -gt 0 ] || vm_die "scenario made no check"
	[ "$VM_FAILS" -eq 0 ] || exit 1
	exit 0
}

# vm_wait_for SECONDS COMMAND [ARGS...]: poll (every 0.1 s) until COMMAND succeeds; 1 on timeout.
vm_wait_for() {
	_n=$(($1 * 10))
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# vm_listens_uevents PID: the process has a NETLINK_KOBJECT_UEVENT socket bound to a multicast group, so it
# hears every uevent from now on (a watch started without --enumerate prints nothing to say it is ready).
vm_listens_uevents() {
	for _fd in /proc/"$1"/fd/*; do
		_l=$(readlink "$_fd" 2>/dev/null) || continue
		case "$_l" in socket:\[*\]) ;; *) continue ;; esac
		_ino=${_l#socket:[}
		_ino=${_ino%]}
		# /proc/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode; protocol 15 is
		# NETLINK_KOBJECT_UEVENT, Groups is 0 until the socket is bound to a group.
		awk -v ino="$_ino" '$2 == 15 && $4 != "00000000" && $NF == ino { found = 1 } END { exit !found }' \
			/proc/net/netlink && return 0
	done
	return 1
}

# vm_qmp JSON: ask the host runner to send one QMP command, e.g.
#   vm_qmp '{"execute":"device_add","arguments":{"driver":"usb-kbd","id":"k2","bus":"xhci.0"}}'
# Prints the QMP answer ({"return":...} or {"error":...}); status 0 only for a "return".
# device_add/device_del are asynchronous for the guest: poll sysfs afterwards (vm_wait_for).
vm_qmp() {
	# unique even when called from subshells (vm_check, $(...)), where a counter would not advance
	_id=$(cat /proc/sys/kernel/random/uuid)
	echo "@@VM-QMP $_id $1" >/dev/console
	while IFS= read -t 60 -r _line </dev/console; do
		case "$_line" in
		"@@VM-QMP-REPLY $_id ok "*)
			echo "${_line#"@@VM-QMP-REPLY $_id ok "}"
			return 0
			;;
		"@@VM-QMP-REPLY $_id error "*)
			echo "${_line#"@@VM-QMP-REPLY $_id error "}"
			return 1
			;;
		esac
	done
	echo '{"error":{"desc":"no QMP reply from the host runner within 60 s"}}'
	return 1
}

# vm_host JSON [SECONDS]: a request to the scenario's host hook (its `vm-host-hook:` line; tests/vm/hosthooks.py),
# e.g. vm_host '{"op":"objects"}'. Prints the hook's JSON answer; status 0 unless the hook raised (then the
# answer is {"error":...}). SECONDS (default 90) bounds the wait for the answer.
vm_host() {
	_id=$(cat /proc/sys/kernel/random/uuid)
	echo "@@VM-HOST $_id $1" >/dev/console
	while IFS= read -t "${2:-90}" -r _line </dev/console; do
		case "$_line" in
		"@@VM-HOST-REPLY $_id ok "*)
			echo "${_line#"@@VM-HOST-REPLY $_id ok "}"
			return 0
			;;
		"@@VM-HOST-REPLY $_id error "*)
			echo "${_line#"@@VM-HOST-REPLY $_id error "}"
			return 1
			;;
		esac
	done
	echo "{\"error\":\"no answer from the host hook within ${2:-90} s\"}"
	return 1
}

# vm_kube_standin OP [DESCRIPTION]: connect the guest to the API server of the `kube-standin` host hook
# (tests/vm/hosthooks.py, KubeStandin: a stand-in, since a real kube-apiserver cannot run there). Asks the hook
# for {"op":"OP"} (kubeconfig, dra_kubeconfig), writes ./kubeconfig from its answer (the server, the stand-in's
# CA, a token) and checks it (DESCRIPTION names the check), then gives nic1 (virtio-net, 0000:00:02.0, on
# QEMU's restricted user network) its address: the guest reaches the stand-in only at 10.0.2.100:6443 through
# QEMU's guestfwd, as kubernetes.default.svc, over TLS. The hook's answer is left in VM_HOST_ANSWER.
vm_kube_standin() {
	VM_HOST_ANSWER=$(vm_host "{\"op\":\"$1\"}") || true
	echo "$VM_HOST_ANSWER" | sed -n 's/.*"base64":"\([^"]*\)".*/\1/p' | base64 -d >kubeconfig || true
	vm_check "${2:-the kubeconfig came from the host}" grep -q "https://kubernetes.default.svc:6443" kubeconfig
	_ifc=$(ls /sys/bus/pci/devices/0000:00:02.0/virtio*/net/)
	ip link set "$_ifc" up
	ip addr add 10.0.2.15/24 dev "$_ifc"
	echo "10.0.2.100 kubernetes.default.svc" >>/etc/hosts
	echo "hosts: files" >/etc/nsswitch.conf
}

# vm_field NAME: the value of "NAME":"..." (or a number or boolean) in $out, a host hook's or vm-kubelet's
# JSON answer (the first one when NAME occurs more than once).
vm_field() {
	echo "$out" | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# vm_export NAME DIR: send DIR (tar.gz, base64) to the host over the second serial port; the runner unpacks it
# into <out>/exports/NAME/.
vm_export() {
	stty -F /dev/ttyS1 raw -echo 2>/dev/null || true
	{
		echo "@@VM-EXPORT-BEGIN $1"
		tar -C "$2" -cf - . | gzip -1 | base64
		echo "@@VM-EXPORT-END $1"
	} >/dev/ttyS1
}

# vm_pci_driver ADDR: the driver bound to a PCI device ("" when none).
vm_pci_driver() {
	if [ -L "/sys/bus/pci/devices/$1/driver" ]; then
		basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
	fi
}

# vm_pci_find VENDOR DEVICE: addresses of PCI devices with these ids (hex without 0x), one a line.
vm_pci_find() {
	for _d in /sys/bus/pci/devices/*; do
		[ "$(cat "$_d/vendor")" = "0x$1" ] && [ "$(cat "$_d/device")" = "0x$2" ] && basename "$_d"
	done
	return 0
}
