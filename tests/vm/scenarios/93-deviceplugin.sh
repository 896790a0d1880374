# SPDX-License-Identifier: Apache-2.0
# vm-machine: iommu
# vm-timeout: 180
# vm-description: `hostdev serve` of a vfio-PCI resource (e1000e bound by hostdev bind) and a USB resource against a grpc-go kubelet (vm-kubelet): registration, ListAndWatch, Allocate with real /dev nodes; a QMP unplug turns the USB id Unhealthy through the hot-plug monitor, re-plug Healthy; SIGTERM; restore
. /hostdev/lib/vm.sh

command -v vm-kubelet >/dev/null ||
	vm_skip "vm-kubelet not in the guest: it is built only when go and golang-google-grpc-dev are installed (tests/deps/deviceplugin.txt); re-run cmake after installing them"

kd=/tmp/kubelet
dp=$kd/device-plugins
ev=$PWD/kubelet.jsonl
pci_res=example.com/nic
usb_res=example.com/hid

# field NAME FILE: the value of "NAME": "..." in hostdev's indented JSON
field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }
# lists RESOURCE: the ListAndWatch lists of RESOURCE the kubelet received so far, one a line
lists() { grep "\"event\":\"list\",\"resource\":\"$1\"" "$ev" || true; }
last_list() { lists "$1" | tail -n 1; }
# health RESOURCE ID: the health of ID in the latest list of RESOURCE ("" when not listed)
health() { last_list "$1" | grep -o "{\"id\":\"$2\",\"health\":\"[A-Za-z]*\"" | sed 's/.*"health":"//;s/"$//'; }
is_health() { [ "$(health "$1" "$2")" = "$3" ]; }
# list_has RESOURCE TEXT: the latest list of RESOURCE contains TEXT
list_has() { last_list "$1" | grep -qF -- "$2"; }
# got_list RESOURCE: the kubelet received a list of RESOURCE
got_list() { [ -n "$(lists "$1")" ]; }
no_topology() { ! last_list "$1" | grep -q '"numa"'; }
uptime_cs() { sed 's/^\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/' /proc/uptime; }
# allocate SOCKET IDS: the AllocateResponse (or error) as vm-kubelet prints it, status kept
allocate() { vm-kubelet allocate -socket "$dp/$1" "$2"; }
has() { echo "$out" | grep -qF -- "$1"; }
usb_node() { printf '/dev/bus/usb/%03d/%03d' "$(cat "/sys/bus/usb/devices/$1/busnum")" "$(cat "/sys/bus/usb/devices/$1/devnum")"; }
usb_env() { echo "$(cat "/sys/bus/usb/devices/$1/busnum"):$(cat "/sys/bus/usb/devices/$1/devnum")"; }
plug() {
	vm_qmp '{"execute":"device_add","arguments":{"driver":"usb-kbd","id":"dpk","bus":"xhci.0","port":"6"}}' >/dev/null &&
		vm_wait_for 60 test -e /sys/bus/usb/devices/1-6/devnum
}

# --- the devices: e1000e on vfio-pci through the library, a keyboard hot-plugged into port 6 ---------------
nic=$(vm_pci_find 8086 10d3)
[ -n "$nic" ] || vm_die "e1000e missing"
group=$(basename "$(readlink "/sys/bus/pci/devices/$nic/iommu_group")")
numa=$(cat "/sys/bus/pci/devices/$nic/numa_node")
vm_log "e1000e $nic, IOMMU group $group, numa_node $numa"
vm_check "hostdev bind $nic" hostdev bind --owner dp-test "$nic"
vm_check_eq "e1000e on vfio-pci" vfio-pci "$(vm_pci_driver "$nic")"
vm_check "/dev/vfio/$group is a char device" test -c "/dev/vfio/$group"
vm_check "plug a keyboard into port 6" plug
usb_ids=""
for port in 1-1 1-2 1-6; do
	hostdev list --usb --port "$port" --json >"usb-$port.json"
	usb_ids="$usb_ids $(field port_id "usb-$port.json")"
done
usb_ids=${usb_ids# }
kbd=$(field port_id usb-1-6.json)
vm_log "USB 0627:0001 port ids: $usb_ids (hot-plugged: $kbd)"
case "$kbd" in *-usb2-6) ;; *) vm_die "unexpected port id '$kbd' for 1-6" ;; esac

cat >config.json <<EOF
{
  "version": 1,
  "resources": [
    {"kind": "pci", "resourceName": "$pci_res", "selectors": {"address": ["$nic"]}},
    {"kind": "usb", "resourceName": "$usb_res", "usbIdentity": "port",
     "selectors": {"vendorProduct": ["0627:0001"]}}
  ]
}
EOF
out=$(hostdev serve --dry-run --config config.json 2>&1) || true
echo "$out"
vm_check "dry run: the USB resource with the three port ids" has "$usb_res (usb): $usb_ids"
vm_check "dry run: the PCI resource with $nic" has "$pci_res (pci): $nic"

# --- the kubelet (grpc-go) and the plugins ------------------------------------------------------------------
vm-kubelet serve -dir "$kd" >"$ev" 2>kubelet.err </dev/null &
kubelet_pid=$!
vm_check "vm-kubelet serves kubelet.sock" vm_wait_for 60 grep -q '"event":"serving"' "$ev"
checkpoint_before=$(stat -c '%i %Y %s' "$dp/kubelet_internal_checkpoint")
hostdev serve --config config.json --kubelet-dir "$kd" --refresh -1 2>serve.log </dev/null &
serve_pid=$!
# No periodic refresh: only the hot-plug monitor can notice the unplug and the re-plug.

reg="\"event\":\"register\",\"resource\":\"$pci_res\",\"version\":\"v1beta1\",\"endpoint\":\"example.com_nic.sock\""
opts='"options":{"pre_start_required":false,"get_preferred_allocation_available":true},"dialback_options":{"pre_start_required":false,"get_preferred_allocation_available":true}'
vm_check "$pci_res registered (dial-back inside Register), preferred allocation offered" \
	vm_wait_for 60 grep -q "$reg,$opts" "$ev"
reg="\"event\":\"register\",\"resource\":\"$usb_res\",\"version\":\"v1beta1\",\"endpoint\":\"example.com_hid.sock\""
opts='"options":{"pre_start_required":false,"get_preferred_allocation_available":false},"dialback_options":{"pre_start_required":false,"get_preferred_allocation_available":false}'
vm_check "$usb_res registered, no preferred allocation" vm_wait_for 60 grep -q "$reg,$opts" "$ev"
vm_check "a ListAndWatch list for $pci_res" vm_wait_for 60 got_list $pci_res
vm_check "a ListAndWatch list for $usb_res" vm_wait_for 60 got_list $usb_res

# PCI: the one function, healthy, with the guest's NUMA node (none: no topology)
if [ "$numa" -ge 0 ] 2>/dev/null; then want="{\"id\":\"$nic\",\"health\":\"Healthy\",\"numa\":[$numa]}"; else
	want="{\"id\":\"$nic\",\"health\":\"Healthy\"}"; fi
vm_check "$pci_res lists exactly $nic, Healthy" list_has $pci_res "\"devices\":[$want]"
# USB: the three keyboards/tablets by port identity, healthy, no topology
for id in $usb_ids; do
	vm_check_eq "$usb_res lists $id Healthy" Healthy "$(health $usb_res "$id")"
done
vm_check_eq "$usb_res lists 3 devices" 3 "$(last_list $usb_res | grep -o '"id":' | wc -l)"
vm_check "$usb_res devices have no topology" no_topology $usb_res

# Allocate, vfio PCI: PCI_RESOURCE_<NAME>=address, /dev/vfio/vfio then /dev/vfio/<group>, all real nodes
st=0
out=$(allocate example.com_nic.sock "$nic") || st=$?
echo "$out"
vm_check_eq "Allocate $nic succeeds" 0 "$st"
vm_check "env PCI_RESOURCE_EXAMPLE_COM_NIC=$nic" has "\"envs\":{\"PCI_RESOURCE_EXAMPLE_COM_NIC\":\"$nic\"}"
vm_check "DeviceSpecs /dev/vfio/vfio then /dev/vfio/$group (group of $nic), mrw" \
	has "\"devices\":[{\"container_path\":\"/dev/vfio/vfio\",\"host_path\":\"/dev/vfio/vfio\",\"permissions\":\"mrw\"},{\"container_path\":\"/dev/vfio/$group\",\"host_path\":\"/dev/vfio/$group\",\"permissions\":\"mrw\"}"
for node in $(echo "$out" | grep -o '"host_path":"[^"]*"' | sed 's/"host_path":"//;s/"$//'); do
	vm_check "PCI DeviceSpec $node is a char device in the guest" test -c "$node"
done

# Allocate, USB: USB_RESOURCE_<NAME>=bus:devnum and the device node of the device as it is now
node6=$(usb_node 1-6)
env6=$(usb_env 1-6)
st=0
out=$(allocate example.com_hid.sock "$kbd") || st=$?
echo "$out"
vm_check_eq "Allocate $kbd succeeds" 0 "$st"
vm_check "env USB_RESOURCE_EXAMPLE_COM_HID=$env6" has "\"envs\":{\"USB_RESOURCE_EXAMPLE_COM_HID\":\"$env6\"}"
vm_check "DeviceSpec $node6 only, mrw" has "\"devices\":[{\"container_path\":\"$node6\",\"host_path\":\"$node6\",\"permissions\":\"mrw\"}]"
vm_check "$node6 is a char device in the guest" test -c "$node6"

# --- unplug (QMP): the id turns Unhealthy in ListAndWatch, the others stay Healthy --------------------------
pci_lists=$(lists $pci_res | wc -l)
t0=$(uptime_cs)
vm_check "QMP device_del of the keyboard at 1-6" vm_qmp '{"execute":"device_del","arguments":{"id":"dpk"}}'
if vm_wait_for 60 is_health $usb_res "$kbd" Unhealthy; then
	t1=$(uptime_cs)
	vm_log "Unhealthy seen $(((t1 - t0) / 100)).$(printf %02d $(((t1 - t0) % 100))) s after device_del"
	vm_ok "$kbd turned Unhealthy in ListAndWatch (the hot-plug monitor: there is no refresh)"
else
	vm_not_ok "$kbd turned Unhealthy in ListAndWatch (last: $(last_list $usb_res))"
fi
vm_check "keyboard gone from sysfs" vm_wait_for 60 test ! -e /sys/bus/usb/devices/1-6
vm_check "$node6 gone" test ! -e "$node6"
for id in $usb_ids; do
	[ "$id" = "$kbd" ] || vm_check_eq "$id still Healthy" Healthy "$(health $usb_res "$id")"
done
vm_check_eq "$usb_res still lists 3 devices" 3 "$(last_list $usb_res | grep -o '"id":' | wc -l)"
vm_check_eq "$pci_res got no new list (an identical list is not resent)" "$pci_lists" "$(lists $pci_res | wc -l)"
st=0
out=$(allocate example.com_hid.sock "$kbd") || st=$?
echo "$out"
vm_check_eq "Allocate of the unplugged $kbd fails" 1 "$st"
vm_check "as NOT_FOUND" has '"code":"NotFound"'

# --- plugged back into the same port: same id, Healthy again, with the new devnum ---------------------------
vm_check "plug the keyboard back into port 6" plug
vm_check "$kbd Healthy again" vm_wait_for 60 is_health $usb_res "$kbd" Healthy
node6b=$(usb_node 1-6)
st=0
out=$(allocate example.com_hid.sock "$kbd") || st=$?
echo "$out"
vm_check_eq "Allocate of the re-plugged $kbd succeeds" 0 "$st"
vm_check "env USB_RESOURCE_EXAMPLE_COM_HID=$(usb_env 1-6) (new devnum)" has "\"USB_RESOURCE_EXAMPLE_COM_HID\":\"$(usb_env 1-6)\""
vm_check "DeviceSpec $node6b (was $node6)" has "\"host_path\":\"$node6b\""
vm_check "$node6b is a char device in the guest" test -c "$node6b"

# --- SIGTERM: an empty list on every stream, streams end OK, sockets removed ---------------------------------
kill -TERM "$serve_pid"
st=0
wait "$serve_pid" || st=$?
vm_check_eq "hostdev serve exits 0 on SIGTERM" 0 "$st"
for res in $pci_res $usb_res; do
	vm_check "$res: last list is empty" vm_wait_for 60 list_has "$res" '"devices":[]'
	vm_check "$res: ListAndWatch ended with OK" vm_wait_for 60 grep -q "\"event\":\"end\",\"resource\":\"$res\",\"status\":\"OK\"" "$ev"
done
vm_check "plugin sockets removed" sh -c "test ! -e $dp/example.com_nic.sock && test ! -e $dp/example.com_hid.sock"
vm_check "kubelet.sock left alone" test -S "$dp/kubelet.sock"
vm_check_eq "kubelet_internal_checkpoint untouched" "$checkpoint_before" "$(stat -c '%i %Y %s' "$dp/kubelet_internal_checkpoint")"
vm_check "no registration failed" sh -c "! grep -q register-failed '$ev'"
kill -TERM "$kubelet_pid"
st=0
wait "$kubelet_pid" || st=$?
vm_check_eq "vm-kubelet exits 0 on SIGTERM" 0 "$st"

# --- give the NIC back -----------------------------------------------------------------------------------------
vm_check "hostdev restore $nic" sh -c "hostdev restore '$nic' | grep -q '1 device restored'"
vm_check_eq "e1000e back on e1000e" e1000e "$(vm_pci_driver "$nic")"
vm_check_eq "driver_override cleared" "(null)" "$(cat "/sys/bus/pci/devices/$nic/driver_override")"
vm_check "/dev/vfio/$group gone" vm_wait_for 60 test ! -e "/dev/vfio/$group"
vm_check "journal empty" sh -c "hostdev journal | grep -q 'no devices bound'"

echo "# --- kubelet events ---"
sed 's/^/#   /' "$ev"
echo "# --- hostdev serve log ---"
sed 's/^/#   /' serve.log
[ ! -s kubelet.err ] || sed 's/^/#   vm-kubelet: /' kubelet.err
vm_finish
