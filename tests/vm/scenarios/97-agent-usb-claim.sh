# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-host-hook: kube-standin
# vm-timeout: 300
# vm-description: hostdev-agent in the guest serves a USBDeviceClaim (made on the host's stand-in API server) of the guest's emulated keyboard to vm-kubelet: Allocate gives KubeVirt's USB_RESOURCE_<NAME>=bus:devnum and the real /dev/bus/usb node; a QMP unplug lists it Unhealthy and the claim stays (DeviceUnplugged); a QMP re-plug into the same port serves the new devnum; deleting the claim stops the resource
. /hostdev/lib/vm.sh

# The stand-in API server on the host, reached only through QEMU's guestfwd (as 94-agent-publish);
# the claim is made there as a user would, the grpc-go vm-kubelet is the kubelet in the guest.
command -v hostdev-agent >/dev/null ||
	vm_die "hostdev-agent not in the guest: build it (cmake --build build --target hostdev-agent) and re-run cmake"
command -v vm-kubelet >/dev/null ||
	vm_skip "vm-kubelet not in the guest: it is built only when go and golang-google-grpc-dev are installed (tests/deps/deviceplugin.txt); re-run cmake after installing them"
node=hostdev-vm
vm_kube_standin kubeconfig

has() { echo "$out" | grep -qF -- "$1"; }
summary() { vm_host '{"op":"summary"}' | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
ready() { grep -q "published the inventory of node $node: ready" agent.log; }
# The keyboard (kbd0, port 1-1) as the guest's kernel has it now.
port=1-1
usb_node() { printf '/dev/bus/usb/%03d/%03d' "$(cat /sys/bus/usb/devices/$port/busnum)" "$(cat /sys/bus/usb/devices/$port/devnum)"; }
usb_env() { echo "$(cat /sys/bus/usb/devices/$port/busnum):$(cat /sys/bus/usb/devices/$port/devnum)"; }

# The kubelet's view: vm-kubelet's JSON lines.
kd=/var/lib/kubelet
dp=$kd/device-plugins
ev=$PWD/kubelet.jsonl
lists() { grep "\"event\":\"list\",\"resource\":\"$resource\"" "$ev" || true; }
last_list() { lists | tail -n 1; }
# listed_as HEALTH: the latest list holds exactly the claimed device, with HEALTH
listed_as() { last_list | grep -qF "\"devices\":[{\"id\":\"$name\",\"health\":\"$1\"}]"; }
registrations() { grep -c "\"event\":\"register\",\"resource\":\"$resource\"" "$ev" || true; }
allocate() { vm-kubelet allocate -socket "$dp/$endpoint" "$name"; }

mkdir -p "$dp"
vm-kubelet serve -dir "$kd" >"$ev" 2>kubelet.err </dev/null &
kubelet_pid=$!
vm_check "vm-kubelet serves kubelet.sock" vm_wait_for 60 grep -q '"event":"serving"' "$ev"

# KubeVirt's CR with an administrator's usb entry, before the agent starts.
out=$(vm_host '{"op":"usb_kubevirt"}') || vm_die "creating the KubeVirt CR: $out"
by_hand=$(vm_field byHand)

# No periodic resync: only the hot-plug monitor and the watches can move anything below.
hostdev-agent --kubeconfig "$PWD/kubeconfig" --node-name "$node" --metrics-address 127.0.0.1:0 \
	--resync-interval 0 --log-level debug 2>agent.log </dev/null &
agent=$!
if ! vm_check "the agent published the inventory" vm_wait_for 150 ready; then
	tail -n 30 agent.log
	vm_die "the agent did not get ready"
fi
name=$(summary usbnames | tr ' ' '\n' | sed -n "s/^$port=//p")
case "$name" in "$node"-*-usb2-1) ;; *) vm_die "unexpected USBDevice name '$name' for port $port" ;; esac
resource=kubevirt.io/$name
env=USB_RESOURCE_$(echo "$resource" | tr './a-z' '__A-Z')
vm_log "keyboard at $port: USBDevice $name, resource $resource, env $env"

# --- the claim: served ---------------------------------------------------------------------------------------
node1=$(usb_node)
env1=$(usb_env)
out=$(vm_host "{\"op\":\"usb_claim\",\"name\":\"$name\"}") || vm_die "creating the claim: $out"
out=$(vm_host "{\"op\":\"usb_claim_wait\",\"name\":\"$name\",\"reason\":\"Served\",\"timeout\":120}" 150) || true
echo "$out"
vm_check_eq "USBDeviceClaim $name: Bound True, Served" True "$(vm_field status)"
vm_log "claim served $(vm_field seconds) s after it was created (host time)"
vm_check_eq "...with the agent's finalizer" true "$(vm_field finalizer)"
vm_check_eq "...its identity record: port" "$port" "$(vm_field port)"
vm_check_eq "...its identity record: vendor:product" 0627:0001 "$(vm_field vendorProduct)"
vm_check "...the message names the device node $node1" has "(device node $node1)"
out=$(vm_host "{\"op\":\"usb_device_wait\",\"name\":\"$name\",\"enabled\":true,\"timeout\":60}" 90) || true
vm_check_eq "the USBDevice is enabled, at $node1" "$node1" "$(vm_field devicePath)"

vm_check "$resource registered with vm-kubelet" vm_wait_for 60 sh -c "[ \"\$(grep -c '\"event\":\"register\",\"resource\":\"$resource\"' '$ev')\" -gt 0 ]"
endpoint=$(grep "\"event\":\"register\",\"resource\":\"$resource\"" "$ev" | tail -n 1 | sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p')
vm_check "ListAndWatch lists exactly $name, Healthy" vm_wait_for 60 listed_as Healthy
st=0
out=$(allocate) || st=$?
echo "$out"
vm_check_eq "Allocate $name succeeds" 0 "$st"
vm_check "env $env=$env1 (KubeVirt's bus:devnum)" has "\"envs\":{\"$env\":\"$env1\"}"
vm_check "DeviceSpec $node1 only, mrw" has "\"devices\":[{\"container_path\":\"$node1\",\"host_path\":\"$node1\",\"permissions\":\"mrw\"}]"
vm_check "$node1 is a char device in the guest" test -c "$node1"
out=$(vm_host "{\"op\":\"usb_kubevirt_wait\",\"resource\":\"$resource\",\"present\":true,\"timeout\":60}" 90) || true
echo "$out"
vm_check_eq "KubeVirt's usb list: the claim's entry next to the hand-written one" \
	"$by_hand=1050:0407 $resource=0627:0001" "$(vm_field entries)"
vm_check_eq "...the hand-written entry as it was" true "$(vm_field byHandKept)"

# --- QMP unplug: listed Unhealthy, Allocate refused, the claim stays and says why ----------------------------
out=$(vm_host "{\"op\":\"unplug\",\"device\":\"kbd0\",\"name\":\"$name\",\"timeout\":60}" 90) || true
vm_check "QMP device_del kbd0: its USBDevice deleted ($out)" test -n "$(vm_field seconds)"
vm_check "the keyboard left the guest's sysfs" vm_wait_for 60 test ! -e /sys/bus/usb/devices/$port
vm_check "$node1 gone" vm_wait_for 60 test ! -e "$node1"
vm_check "ListAndWatch lists $name Unhealthy (still listed)" vm_wait_for 60 listed_as Unhealthy
st=0
out=$(allocate) || st=$?
echo "$out"
vm_check_eq "Allocate of the unplugged $name fails" 1 "$st"
vm_check "...as NOT_FOUND" has '"code":"NotFound"'
out=$(vm_host "{\"op\":\"usb_claim_wait\",\"name\":\"$name\",\"reason\":\"DeviceUnplugged\",\"timeout\":60}" 90) || true
echo "$out"
vm_check_eq "the claim stays: Bound False, DeviceUnplugged" False "$(vm_field status)"
vm_check_eq "...its finalizer kept" true "$(vm_field finalizer)"
vm_check "...the message names the port it waits at" has "is not plugged in at port $port"

# --- QMP re-plug into the same port: a new devnum, the same port identity, served again -----------------------
out=$(vm_host '{"op":"usb_replug","device":"kbd0","port":"1"}') || true
echo "$out"
vm_check "QMP device_add kbd0 as the machine defines it, port 1" has '"driver":"usb-kbd"'
vm_check "the keyboard is back at $port" vm_wait_for 60 test -e /sys/bus/usb/devices/$port/devnum
node2=$(usb_node)
env2=$(usb_env)
vm_log "re-plugged: $node2 (was $node1)"
vm_check "a new device number" test "$node2" != "$node1"
out=$(vm_host "{\"op\":\"usb_claim_wait\",\"name\":\"$name\",\"reason\":\"Served\",\"timeout\":60}" 90) || true
echo "$out"
vm_check_eq "the claim is served again" True "$(vm_field status)"
vm_check "...its message names the new node $node2" has "(device node $node2)"
vm_check "ListAndWatch lists $name Healthy again" vm_wait_for 60 listed_as Healthy
vm_check_eq "the resource was not registered anew (the same server)" 1 "$(registrations)"
st=0
out=$(allocate) || st=$?
echo "$out"
vm_check_eq "Allocate of the re-plugged $name succeeds" 0 "$st"
vm_check "env $env=$env2 (the new devnum)" has "\"envs\":{\"$env\":\"$env2\"}"
vm_check "DeviceSpec $node2" has "\"devices\":[{\"container_path\":\"$node2\",\"host_path\":\"$node2\",\"permissions\":\"mrw\"}]"
vm_check "$node2 is a char device in the guest" test -c "$node2"
out=$(vm_host "{\"op\":\"usb_device_wait\",\"name\":\"$name\",\"enabled\":true,\"timeout\":60}" 90) || true
vm_check_eq "the USBDevice is back, enabled, at $node2" "$node2" "$(vm_field devicePath)"

# --- deleting the claim: the resource stops, the entry goes ---------------------------------------------------
out=$(vm_host "{\"op\":\"usb_unclaim\",\"name\":\"$name\",\"timeout\":120}" 150) || true
echo "$out"
vm_check "the claim is gone (its finalizer dropped)" test -n "$(vm_field seconds)"
vm_check "$resource: the last list is empty" vm_wait_for 60 sh -c "grep '\"event\":\"list\",\"resource\":\"$resource\"' '$ev' | tail -n 1 | grep -qF '\"devices\":[]'"
vm_check "$resource: ListAndWatch ended with OK" vm_wait_for 60 grep -q "\"event\":\"end\",\"resource\":\"$resource\",\"status\":\"OK\"" "$ev"
vm_check "the plugin socket $endpoint removed" vm_wait_for 60 test ! -e "$dp/$endpoint"
out=$(vm_host "{\"op\":\"usb_kubevirt_wait\",\"resource\":\"$resource\",\"present\":false,\"timeout\":60}" 90) || true
echo "$out"
vm_check_eq "KubeVirt's usb list: the hand-written entry only" "$by_hand=1050:0407" "$(vm_field entries)"
out=$(vm_host "{\"op\":\"usb_device_wait\",\"name\":\"$name\",\"enabled\":false,\"timeout\":60}" 90) || true
vm_check_eq "the USBDevice is not enabled any more" "$node2" "$(vm_field devicePath)"

out=$(vm_host '{"op":"writes"}')
vm_log "the agent's writes: $out"
case "$out" in *'"forbidden":0'*) vm_ok "no request refused by the agent's ClusterRole" ;;
*) vm_not_ok "no request refused by the agent's ClusterRole: $out" ;; esac
vm_check "no registration failed" sh -c "! grep -q register-failed '$ev'"

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
vm_check_eq "SIGTERM: the agent exits 0" 0 "$rc"
kill -TERM "$kubelet_pid"
wait "$kubelet_pid" || true
echo "# --- kubelet events ---"
sed 's/^/#   /' "$ev"
echo "# --- agent log (USB claim lines) ---"
grep -i "usb\|resource" agent.log | grep -v "debug" | sed 's/^/#   /' | tail -n 40
vm_finish
