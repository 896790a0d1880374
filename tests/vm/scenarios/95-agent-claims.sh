# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-host-hook: kube-standin
# vm-timeout: 300
# vm-description: hostdev-agent in the guest acts on a PCIDeviceClaim made on the host's stand-in API server: the guest's e1000e goes to vfio-pci for real (journal, /dev/vfio/<group>, the netdev gone), the resource reaches vm-kubelet and Allocate's device nodes exist; deleting the claim gives the e1000e its driver and netdev back and drops the resource
. /hostdev/lib/vm.sh

# The stand-in API server on the host, reached only through QEMU's guestfwd (as 94-agent-publish).
command -v hostdev-agent >/dev/null ||
	vm_die "hostdev-agent not in the guest: build it (cmake --build build --target hostdev-agent) and re-run cmake"
node=hostdev-vm
vm_kube_standin kubeconfig

ready() { grep -q "published the inventory of node $node: ready" agent.log; }
netdevs() { ls "/sys/bus/pci/devices/$nic/net/" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

nic=$(vm_pci_find 8086 10d3)
[ -n "$nic" ] || vm_die "e1000e missing"
group=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
netdev=$(netdevs)
vm_log "e1000e $nic, IOMMU group $group, netdev '$netdev'"
vm_check_eq "e1000e on e1000e at the start" e1000e "$(vm_pci_driver "$nic")"
vm_check "it has a netdev" test -n "$netdev"

# The kubelet (grpc-go) when it was built; without it the serving part is not checked (said below).
kd=/var/lib/kubelet
dp=$kd/device-plugins
ev=$PWD/kubelet.jsonl
kubelet_pid=""
if command -v vm-kubelet >/dev/null; then
	mkdir -p "$dp"
	vm-kubelet serve -dir "$kd" >"$ev" 2>kubelet.err </dev/null &
	kubelet_pid=$!
	vm_check "vm-kubelet serves kubelet.sock" vm_wait_for 60 grep -q '"event":"serving"' "$ev"
else
	vm_log "vm-kubelet not in the guest (needs golang-go and golang-google-grpc-dev): the serving part is not checked"
fi

hostdev-agent --kubeconfig "$PWD/kubeconfig" --node-name "$node" --metrics-address 127.0.0.1:0 \
	--kubevirt none --log-level debug 2>agent.log </dev/null &
agent=$!
# vm_check reports and goes on (it returns 0 either way): the wait itself decides whether to stop.
if vm_wait_for 150 ready; then
	vm_ok "the agent published the inventory"
else
	tail -n 30 agent.log
	vm_die "the agent did not get ready"
fi

# --- the claim: e1000e to vfio-pci through the agent --------------------------------------------------------
out=$(vm_host "{\"op\":\"claim\",\"address\":\"$nic\"}") || vm_die "creating the claim: $out"
claim=$(vm_field name)
out=$(vm_host "{\"op\":\"wait_claim\",\"name\":\"$claim\",\"timeout\":120}" 150) || true
echo "$out"
vm_check_eq "PCIDeviceClaim $claim enabled (Bound)" Bound "$(vm_field reason)"
vm_log "claim enabled $(vm_field seconds) s after it was created (host time)"
vm_check_eq "kernelDriverToUnbind names the original driver" e1000e "$(vm_field driver)"
resource=$(vm_field resource)
vm_log "resource $resource"
vm_check_eq "e1000e is on vfio-pci (the real kernel)" vfio-pci "$(vm_pci_driver "$nic")"
vm_check "/dev/vfio/$group is a char device" test -c "/dev/vfio/$group"
vm_check_eq "the netdev is gone" "" "$(netdevs)"
vm_check "the journal records $nic for the claim" sh -c "hostdev journal | grep -q '$nic'"
vm_check "the bind ran off the agent's loop and was logged" grep -q "PCIDeviceClaim $claim: bound $nic to vfio-pci" agent.log

if [ -n "$kubelet_pid" ]; then
	registered() { grep "\"event\":\"register\",\"resource\":\"$resource\"" "$ev" | tail -n 1; }
	vm_check "$resource registered with vm-kubelet" vm_wait_for 60 sh -c "grep -q '\"event\":\"register\",\"resource\":\"$resource\"' '$ev'"
	endpoint=$(registered | sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p')
	listed() { grep "\"event\":\"list\",\"resource\":\"$resource\"" "$ev" | tail -n 1 | grep -qF "{\"id\":\"$nic\",\"health\":\"Healthy\""; }
	vm_check "ListAndWatch lists $nic Healthy" vm_wait_for 60 listed
	st=0
	out=$(vm-kubelet allocate -socket "$dp/$endpoint" "$nic") || st=$?
	echo "$out"
	vm_check_eq "Allocate $nic succeeds" 0 "$st"
	env=PCI_RESOURCE_$(echo "$resource" | tr './a-z' '__A-Z')
	vm_check "env $env=$nic (KubeVirt's contract)" sh -c "echo '$out' | grep -qF '\"$env\":\"$nic\"'"
	nodes=$(echo "$out" | grep -o '"host_path":"[^"]*"' | sed 's/"host_path":"//;s/"$//' | tr '\n' ' ')
	vm_check_eq "DeviceSpecs /dev/vfio/vfio and /dev/vfio/$group" "/dev/vfio/vfio /dev/vfio/$group " "$nodes"
	for n in $nodes; do
		vm_check "$n exists in the guest" test -c "$n"
	done
fi

# --- deleting the claim gives the e1000e back ----------------------------------------------------------------
out=$(vm_host "{\"op\":\"unclaim\",\"name\":\"$claim\",\"timeout\":120}" 150) || true
echo "$out"
vm_check "the claim is gone (the finalizer removed after the restore)" test -n "$(vm_field seconds)"
vm_check_eq "e1000e back on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check "its netdev is back" vm_wait_for 30 sh -c "[ -n \"\$(ls /sys/bus/pci/devices/$nic/net/ 2>/dev/null)\" ]"
vm_check_eq "driver_override cleared" "(null)" "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
vm_check "/dev/vfio/$group gone" vm_wait_for 60 test ! -e "/dev/vfio/$group"
vm_check "journal empty" sh -c "hostdev journal | grep -q 'no devices bound'"
vm_check "the restore was logged" grep -q "PCIDeviceClaim $claim deleted: $nic restored" agent.log
if [ -n "$kubelet_pid" ]; then
	vm_check "$resource: the last list is empty" vm_wait_for 60 sh -c "grep '\"event\":\"list\",\"resource\":\"$resource\"' '$ev' | tail -n 1 | grep -qF '\"devices\":[]'"
fi

out=$(vm_host '{"op":"writes"}')
vm_log "the agent's writes: $out"
case "$out" in *'"forbidden":0'*) vm_ok "no request refused by the agent's ClusterRole" ;;
*) vm_not_ok "no request refused by the agent's ClusterRole: $out" ;; esac

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
vm_check_eq "SIGTERM: the agent exits 0" 0 "$rc"
if [ -n "$kubelet_pid" ]; then
	kill -TERM "$kubelet_pid"
	wait "$kubelet_pid" || true
fi
tail -n 5 agent.log
vm_finish
