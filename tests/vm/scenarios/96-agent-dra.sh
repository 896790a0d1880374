# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-host-hook: kube-standin
# vm-timeout: 600
# vm-description: hostdev-agent --dra in the guest as the kubelet's DRA driver: its ResourceSlice lists the e1000e, a ResourceClaim allocated to it (on the host's stand-in API server) is prepared over grpc-go (vm-kubelet): the e1000e on vfio-pci for real, CDI ids answered, a VFIO open through the nodes the CDI spec names, the KubeVirt metadata file; repeated Prepare idempotent; Unprepare gives the e1000e back; a SIGKILL inside a Prepare, a restart and the kubelet's retried Prepare converge
. /hostdev/lib/vm.sh

# The stand-in API server on the host, reached only through QEMU's guestfwd (as 94-agent-publish).
command -v hostdev-agent >/dev/null ||
	vm_die "hostdev-agent not in the guest: build it (cmake --build build --target hostdev-agent) and re-run cmake"
command -v vm-kubelet >/dev/null ||
	vm_skip "vm-kubelet not in the guest (needs golang-go and golang-google-grpc-dev when cmake ran): no DRA kubelet"
command -v vm-cdi-vfio-open >/dev/null || vm_die "vm-cdi-vfio-open not in the guest"
node=hostdev-vm
driver=vfio.hostdev.io
ns=vms
vm_kube_standin dra_kubeconfig "the DRA agent's kubeconfig came from the host"

netdevs() { ls "/sys/bus/pci/devices/$nic/net/" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
records() { hostdev journal --json | grep -o '"address"' | wc -l; }

nic=$(vm_pci_find 8086 10d3)
[ -n "$nic" ] || vm_die "e1000e missing"
group=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
vm_log "e1000e $nic, IOMMU group $group, netdev '$(netdevs)'"
vm_check_eq "e1000e on e1000e at the start" e1000e "$(vm_pci_driver "$nic")"

# The kubelet's directories, as the kubelet makes them; the CDI directory of the container runtime.
kd=/var/lib/kubelet
mkdir -p "$kd/plugins" "$kd/plugins_registry" /var/run/cdi
data=$kd/plugins/$driver
cdi_spec() { echo "/var/run/cdi/${driver}_$1.json"; }
md_spec() { echo "/var/run/cdi/${driver}_metadata_$1_dev.json"; }
md_file() { echo "$data/dra-device-metadata/${ns}_$1/dev/metadata.json"; }

# awaited DESC SECONDS CMD...: vm_check of a vm_wait_for that also returns its verdict (vm_check does not)
awaited() {
	_desc=$1
	shift
	if vm_wait_for "$@"; then
		vm_ok "$_desc"
		return 0
	fi
	vm_not_ok "$_desc"
	return 1
}

# export_logs: the agents' logs and the kubelet's answers to the host (out/96-agent-dra/exports/logs/)
export_logs() {
	mkdir -p logs
	cp ./*.log ./*.json logs/ 2>/dev/null || true
	vm_export logs logs
}

# start_agent LOG [VAR=VALUE]: hostdev-agent as this node's DRA driver (only the DRA ClusterRole)
start_agent() {
	log=$1
	shift
	env "$@" hostdev-agent --kubeconfig "$PWD/kubeconfig" --node-name "$node" --dra-only \
		--metrics-address 127.0.0.1:0 --log-level debug 2>"$log" </dev/null &
	agent=$!
	if ! awaited "the agent serves the DRA driver ($log)" 150 grep -q "DRA: serving driver $driver" "$log"; then
		tail -n 30 "$log"
		export_logs
		vm_die "the agent did not start its DRA driver"
	fi
}

# register: the plugin watcher's registration; sets $endpoint
register() {
	out=$(vm-kubelet dra-register -registry "$kd/plugins_registry" -driver "$driver" -timeout 120s) || true
	echo "$out"
	vm_check_eq "registration: type DRAPlugin" DRAPlugin "$(vm_field type)"
	vm_check_eq "registration: v1 negotiated" v1 "$(vm_field api)"
	vm_check_eq "registration: not refused" "" "$(vm_field refused)"
	endpoint=$(vm_field endpoint)
	vm_check_eq "endpoint plugins/<driver>/dra.sock" "$data/dra.sock" "$endpoint"
	vm_check "the agent saw the registration" vm_wait_for 60 grep -q "DRA: the kubelet registered driver $driver" "$log"
}

start_agent agent1.log
register

# --- this node's ResourceSlice lists the e1000e ---------------------------------------------------------
out=$(vm_host "{\"op\":\"dra_device\",\"address\":\"$nic\",\"timeout\":120}" 150) || vm_die "no slice lists $nic: $out"
echo "$out"
device=$(vm_field name)
vm_check_eq "the slice names the device by its address" "pci-$(echo "$nic" | tr ':.' '--')" "$device"
vm_check_eq "the slice's pool is the node" "$node" "$(vm_field pool)"
vm_check_eq "the slice says vendor 8086" 8086 "$(vm_field vendor)"
vm_check_eq "the slice says device 10d3" 10d3 "$(vm_field device)"
vm_check_eq "the slice says driver e1000e" e1000e "$(vm_field driver)"
vm_check_eq "the slice's IOMMU group is the kernel's" "$group" "$(vm_field iommuGroup)"

# --- Prepare binds the e1000e for real -----------------------------------------------------------------------
out=$(vm_host "{\"op\":\"dra_claim\",\"name\":\"nic\",\"device\":\"$device\"}") || vm_die "creating the claim: $out"
uid=$(vm_field uid)
claim=$ns/nic/$uid
vm_log "ResourceClaim $claim allocated to $device"
st=0
out=$(vm-kubelet dra-prepare -socket "$endpoint" "$claim") || st=$?
echo "$out"
vm_check_eq "NodePrepareResources: claim prepared" 0 "$st"
first=$out
vm_check_eq "the answer: pool" "$node" "$(vm_field pool_name)"
vm_check_eq "the answer: device" "$device" "$(vm_field device_name)"
vm_check "the answer: request dev" sh -c "echo '$out' | grep -qF '\"request_names\":[\"dev\"]'"
cdi_name=$uid-$device
vm_check "the answer carries the CDI ids" sh -c "echo '$out' | grep -qF '\"cdi_device_ids\":[\"$driver/pci=$cdi_name\",\"$driver/metadata=${uid}_dev\"]'"
vm_check_eq "e1000e is on vfio-pci (the real kernel)" vfio-pci "$(vm_pci_driver "$nic")"
vm_check_eq "its netdev is gone" "" "$(netdevs)"
vm_check "/dev/vfio/$group is a char device" test -c "/dev/vfio/$group"
hostdev journal
vm_check_eq "one journal record" 1 "$(records)"
vm_check "the record's owner is the claim" sh -c "hostdev journal | grep '$nic' | grep -q 'hostdev-agent dra $uid'"

# The CDI spec names the real nodes, and a VMM's VFIO open through exactly those succeeds.
spec=$(cdi_spec "$uid")
cat "$spec"
vm_check "the CDI spec $spec names /dev/vfio/$group" grep -q "\"/dev/vfio/$group\"" "$spec"
vm_check "a VFIO open through the CDI spec's nodes" vm-cdi-vfio-open "$spec" "$cdi_name" "$nic"
# KubeVirt's device metadata (KEP-5304): the PCI address under resource.kubernetes.io/pciBusID.
md=$(md_file nic)
cat "$md"
vm_check "the metadata file has pciBusID $nic" sh -c "tr -d ' \n\t' <'$md' | grep -qF '\"resource.kubernetes.io/pciBusID\":{\"string\":\"$nic\"}'"
vm_check "the metadata CDI spec mounts it" grep -qF "$md" "$(md_spec "$uid")"

# The kubelet repeats Prepare: the same answer, nothing bound again.
out=$(vm-kubelet dra-prepare -socket "$endpoint" "$claim") || true
vm_check_eq "a repeated Prepare answers the same" "$first" "$out"
vm_check_eq "still one journal record" 1 "$(records)"
vm_check_eq "still on vfio-pci" vfio-pci "$(vm_pci_driver "$nic")"

# --- Unprepare gives the e1000e back ------------------------------------------------------------------------
st=0
out=$(vm-kubelet dra-unprepare -socket "$endpoint" "$claim") || st=$?
echo "$out"
vm_check_eq "NodeUnprepareResources: claim unprepared" 0 "$st"
vm_check_eq "e1000e back on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check "its netdev is back" vm_wait_for 30 sh -c "[ -n \"\$(ls /sys/bus/pci/devices/$nic/net/ 2>/dev/null)\" ]"
vm_check_eq "driver_override cleared" "(null)" "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
vm_check "/dev/vfio/$group gone" vm_wait_for 60 test ! -e "/dev/vfio/$group"
vm_check_eq "journal empty" 0 "$(records)"
vm_check "the CDI spec removed" test ! -e "$spec"
vm_check "the metadata spec removed" test ! -e "$(md_spec "$uid")"
vm_check "the metadata file removed" test ! -e "$md"
vm_check "the checkpoint forgot the claim" sh -c "! grep -q '$uid' '$data/checkpoint.json'"
out=$(vm_host '{"op":"dra_unclaim","name":"nic"}') || vm_not_ok "deleting the claim: $out"
# The kubelet retries Unprepare of claims it does not know prepared: they succeed.
st=0
out=$(vm-kubelet dra-unprepare -socket "$endpoint" "$claim" "$ns/never/4a1a7b0e-0000-4000-8000-000000000001") || st=$?
echo "$out"
vm_check_eq "Unprepare of unknown claims succeeds" 0 "$st"

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
vm_check_eq "SIGTERM: the agent exits 0" 0 "$rc"

# --- SIGKILL inside a Prepare -------------------------------------------------------------------------------
# The agent stops itself (SIGSTOP, its test hook) once the claim's device is bound and before the
# CDI files and the "prepared" checkpoint are written: the SIGKILL lands there, every time.
start_agent agent2.log HOSTDEV_AGENT_TEST_STOP=dra-bound
register
out=$(vm_host "{\"op\":\"dra_claim\",\"name\":\"nic2\",\"device\":\"$device\"}") || vm_die "creating the claim: $out"
uid2=$(vm_field uid)
claim2=$ns/nic2/$uid2
vm-kubelet dra-prepare -socket "$endpoint" "$claim2" >killed-prepare.json 2>&1 &
prepare=$!
stopped() { grep -q '^State:[[:space:]]*T' "/proc/$agent/status"; }
if ! awaited "the agent stopped inside the Prepare (devices bound)" 120 stopped; then
	tail -n 30 agent2.log
	export_logs
	vm_die "the agent did not reach its stop point"
fi
vm_check "it logged where it stopped" grep -q "DRA: claim $uid2: devices bound; stopping" agent2.log
vm_check_eq "at the kill: e1000e on vfio-pci" vfio-pci "$(vm_pci_driver "$nic")"
vm_check "at the kill: the journal record of the claim" sh -c "hostdev journal | grep -q 'hostdev-agent dra $uid2'"
# (the checkpoint holds this claim alone: the first one was forgotten at its Unprepare)
vm_check "at the kill: the checkpoint has the claim" grep -q "$uid2" "$data/checkpoint.json"
vm_check "at the kill: the checkpoint says preparing" sh -c "tr -d ' \n\t' <'$data/checkpoint.json' | grep -q '\"state\":\"preparing\"'"
vm_check "at the kill: no CDI spec yet" test ! -e "$(cdi_spec "$uid2")"
kill -KILL "$agent"
rc=0
wait "$agent" || rc=$?
vm_check_eq "the agent died of SIGKILL" 137 "$rc"
rc=0
wait "$prepare" || rc=$?
cat killed-prepare.json
vm_check "the kubelet's Prepare failed (no answer)" test "$rc" -ne 0

# A new agent undoes the unfinished Prepare; the kubelet registers it again and retries the Prepare.
start_agent agent3.log
if ! awaited "the unfinished Prepare was undone" 120 grep -q "DRA: claim $uid2 was left unfinished; undone" agent3.log; then
	tail -n 40 agent3.log
fi
vm_check_eq "undone: e1000e back on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check_eq "undone: journal empty" 0 "$(records)"
vm_check "undone: the checkpoint forgot the claim" sh -c "! grep -q '$uid2' '$data/checkpoint.json'"
register
retried() { vm-kubelet dra-prepare -socket "$endpoint" "$claim2" >retried.json 2>&1; }
vm_check "the kubelet's retried Prepare succeeds" vm_wait_for 120 retried
cat retried.json
out=$(cat retried.json)
vm_check "the answer carries the CDI ids" sh -c "echo '$out' | grep -qF '\"cdi_device_ids\":[\"$driver/pci=$uid2-$device\",\"$driver/metadata=${uid2}_dev\"]'"
vm_check_eq "converged: e1000e on vfio-pci" vfio-pci "$(vm_pci_driver "$nic")"
vm_check_eq "converged: one journal record" 1 "$(records)"
vm_check "converged: the record's owner is the claim" sh -c "hostdev journal | grep -q 'hostdev-agent dra $uid2'"
vm_check "converged: the CDI spec" test -f "$(cdi_spec "$uid2")"
vm_check "converged: the metadata spec" test -f "$(md_spec "$uid2")"
vm_check "converged: the checkpoint has the claim" grep -q "$uid2" "$data/checkpoint.json"
vm_check "converged: the checkpoint says prepared" sh -c "tr -d ' \n\t' <'$data/checkpoint.json' | grep -q '\"state\":\"prepared\"'"
vm_check "a VFIO open through the CDI spec's nodes" vm-cdi-vfio-open "$(cdi_spec "$uid2")" "$uid2-$device" "$nic"
st=0
out=$(vm-kubelet dra-unprepare -socket "$endpoint" "$claim2") || st=$?
vm_check_eq "Unprepare after the restart" 0 "$st"
vm_check_eq "e1000e back on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check "its netdev is back" vm_wait_for 30 sh -c "[ -n \"\$(ls /sys/bus/pci/devices/$nic/net/ 2>/dev/null)\" ]"
vm_check_eq "journal empty" 0 "$(records)"
vm_check "the CDI spec removed" test ! -e "$(cdi_spec "$uid2")"

out=$(vm_host '{"op":"dra_writes"}')
vm_log "the DRA agent's writes: $out"
case "$out" in *'"forbidden":0'*) vm_ok "no request refused by the DRA ClusterRole" ;;
*) vm_not_ok "no request refused by the DRA ClusterRole: $out" ;; esac

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
vm_check_eq "SIGTERM: the agent exits 0" 0 "$rc"
tail -n 5 agent3.log
export_logs
vm_finish
