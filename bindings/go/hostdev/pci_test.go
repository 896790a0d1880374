// SPDX-License-Identifier: Apache-2.0

package hostdev_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func addressKey(a string) []uint64 {
	var key []uint64
	for _, part := range strings.FieldsFunc(a, func(r rune) bool { return r == ':' || r == '.' }) {
		var v uint64
		for _, c := range part {
			v = v*16 + uint64(strings.IndexRune("0123456789abcdef", c))
		}
		key = append(key, v)
	}
	return key
}

func TestPCIDevicesMatchTheTree(t *testing.T) {
	host := cliHost(t)
	_, want := cliRoot(t)
	byAddr := map[string]fakeDevice{}
	groups := map[int][]string{}
	var order []string
	for _, d := range want {
		byAddr[d.Addr] = d
		order = append(order, d.Addr)
		if d.Group != nil {
			groups[*d.Group] = append(groups[*d.Group], d.Addr)
		}
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := addressKey(order[i]), addressKey(order[j])
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})

	devices, err := host.PCIDevices()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, dev := range devices {
		got = append(got, dev.Address)
		d := byAddr[dev.Address]
		check := func(what string, have, expect interface{}) {
			t.Helper()
			if !reflect.DeepEqual(have, expect) {
				t.Errorf("%s %s = %#v, want %#v", dev.Address, what, have, expect)
			}
		}
		opt16 := func(p *uint16) uint16 {
			if p == nil {
				return 0
			}
			return *p
		}
		check("VendorID", dev.VendorID, d.Vendor)
		check("DeviceID", dev.DeviceID, d.Device)
		check("SubsystemVendorID", dev.SubsystemVendorID, opt16(d.SV))
		check("SubsystemDeviceID", dev.SubsystemDeviceID, opt16(d.SD))
		check("Class", dev.Class, d.Cls)
		check("Revision", dev.Revision, d.Rev)
		check("Driver", dev.Driver, d.Driver)
		check("DriverOverride", dev.DriverOverride, d.Override)
		group := -1
		if d.Group != nil {
			group = *d.Group
		}
		check("IOMMUGroup", dev.IOMMUGroup, group)
		members := append([]string{}, groups[group]...)
		sort.Strings(members)
		if group < 0 {
			members = []string{}
		}
		check("IOMMUGroupMembers", dev.IOMMUGroupMembers, members)
		numa := -1
		if d.Numa != nil {
			numa = *d.Numa
		}
		check("NUMANode", dev.NUMANode, numa)
		netdevs := d.Net
		if netdevs == nil {
			netdevs = []string{}
		}
		check("Netdevs", dev.Netdevs, netdevs)
		check("PhysicalSlot", dev.PhysicalSlot, d.Slot)
		check("Bridge", dev.Bridge, d.Cls>>8 == 0x0604)
		check("ParentAddress", dev.ParentAddress, d.Parent)
		// The tree's bridges have a type 1 header whose bus numbers firmware left at 0.
		var buses *hostdev.BridgeBuses
		if dev.Bridge {
			buses = &hostdev.BridgeBuses{}
		}
		check("BridgeBuses", dev.BridgeBuses, buses)
		check("BootVGA", dev.BootVGA, d.BootVGA == 1)
		check("SRIOVPF", dev.SRIOVPF, d.SRIOV != nil)
		if d.SRIOV != nil {
			check("SRIOVTotalVFs", dev.SRIOVTotalVFs, d.SRIOV.Total)
			check("SRIOVNumVFs", dev.SRIOVNumVFs, d.SRIOV.Num)
			check("SRIOVVFDeviceID", dev.SRIOVVFDeviceID, d.SRIOV.VFDevice)
			var vfs []hostdev.VF
			for i, a := range d.SRIOV.VFs {
				vfs = append(vfs, hostdev.VF{Number: i, Address: a})
			}
			check("VFs", dev.VFs, vfs)
		}
		check("SRIOVVF", dev.SRIOVVF, d.Physfn != "")
		check("PFAddress", dev.PFAddress, d.Physfn)
		if d.Physfn != "" {
			idx := -1
			for i, a := range byAddr[d.Physfn].SRIOV.VFs {
				if a == dev.Address {
					idx = i
				}
			}
			check("VFIndex", dev.VFIndex, idx)
		} else {
			check("VFIndex", dev.VFIndex, -1)
		}
		check("mdev type count", len(dev.MdevTypes), len(d.MdevTypes))
		for _, mt := range dev.MdevTypes {
			for _, src := range d.MdevTypes {
				if src.ID != mt.ID {
					continue
				}
				name, avail := "", -1
				if src.Name != nil {
					name = *src.Name
				}
				if src.Available != nil {
					avail = *src.Available
				}
				check("mdev name", mt.Name, name)
				check("mdev available", mt.Available, avail)
				check("mdev api", mt.DeviceAPI, src.API)
				// Bytes that are not UTF-8 survive: Go strings hold bytes.
				check("mdev description", []byte(mt.Description), src.Description)
			}
		}
	}
	if !reflect.DeepEqual(got, order) {
		t.Errorf("addresses %v, want %v", got, order)
	}
}

func TestNamesAndNaming(t *testing.T) {
	host := cliHost(t)
	gpu, err := host.PCIDevice("0000:01:00.0")
	if err != nil {
		t.Fatal(err)
	}
	if gpu.VendorName != "NVIDIA Corporation" || gpu.ClassName != "Display controller" {
		t.Errorf("names: %q %q", gpu.VendorName, gpu.ClassName)
	}
	if gpu.ObjectName != "node1-000001000" || gpu.DeviceResourceName != "nvidia.com/node1-000001000" {
		t.Errorf("object name %q, device resource name %q", gpu.ObjectName, gpu.DeviceResourceName)
	}
	if !strings.HasPrefix(gpu.ResourceName, "nvidia.com/") || !hostdev.ValidResourceName(gpu.ResourceName) {
		t.Errorf("resource name %q", gpu.ResourceName)
	}
	if !strings.HasPrefix(gpu.Description, "3D controller: NVIDIA Corporation") {
		t.Errorf("description %q", gpu.Description)
	}
	pf, _ := host.PCIDevice("3b:00.0")
	if len(pf.Modules) == 0 || pf.Modules[0] != "i40e" {
		t.Errorf("modules %v", pf.Modules)
	}
	unknown, _ := host.PCIDevice("00:1f.0")
	if unknown.VendorName != "" || unknown.Modalias != "" || unknown.IOMMUGroup != -1 || len(unknown.Modules) != 0 {
		t.Errorf("unknown device %+v", unknown)
	}
	nvme, _ := host.PCIDevice("10000:01:00.0")
	if nvme.PCIAddress != (hostdev.PCIAddress{Domain: 0x10000, Bus: 1}) || nvme.PCIAddress.String() != "10000:01:00.0" {
		t.Errorf("PCIAddress %+v", nvme.PCIAddress)
	}
}

func TestPCIDeviceJSON(t *testing.T) {
	host := cliHost(t)
	text, err := host.PCIDeviceJSON("3b:00.0", true)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]interface{}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["address"] != "0000:3b:00.0" || doc["driver"] != "i40e" {
		t.Errorf("JSON %v", doc)
	}
}

// json.Marshal of a PCIDevice gives the documented schema, not Go's field names.
func TestPCIDeviceMarshalsToTheSchema(t *testing.T) {
	host := cliHost(t)
	dev, err := host.PCIDevice("3b:00.0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal([]hostdev.PCIDevice{dev})
	if err != nil {
		t.Fatal(err)
	}
	text, err := host.PCIDeviceJSON("3b:00.0", false)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "["+text+"]" {
		t.Errorf("json.Marshal = %s, want [%s]", got, text)
	}
	var doc map[string]interface{}
	if err := json.Unmarshal(got[1:len(got)-1], &doc); err != nil {
		t.Fatal(err)
	}
	if doc["vendor_id"] != "8086" || doc["VendorID"] != nil {
		t.Errorf("vendor_id %v, VendorID %v", doc["vendor_id"], doc["VendorID"])
	}
	if _, err := json.Marshal(hostdev.PCIDevice{Address: "0000:00:00.0"}); err == nil {
		t.Error("a PCIDevice made by hand marshalled")
	}
}

func TestParseAddress(t *testing.T) {
	a, err := hostdev.ParseAddress("3B:02.1")
	if err != nil || a != (hostdev.PCIAddress{Bus: 0x3b, Slot: 2, Function: 1}) || a.String() != "0000:3b:02.1" {
		t.Errorf("ParseAddress = %+v, %v", a, err)
	}
	_, err = hostdev.ParseAddress("3b:02")
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ParseAddress(3b:02) error %v", err)
	}
}

func TestFilters(t *testing.T) {
	host := cliHost(t)
	cases := []struct {
		filters []hostdev.Filter
		want    []string
	}{
		{[]hostdev.Filter{hostdev.Slot("3b:")}, []string{"0000:3b:00.0", "0000:3b:00.1", "0000:3b:02.0", "0000:3b:02.1"}},
		{[]hostdev.Filter{hostdev.Slot(".1")}, []string{"0000:01:00.1", "0000:3b:00.1", "0000:3b:02.1"}},
		{[]hostdev.Filter{hostdev.IDs("10de:")}, []string{"0000:01:00.0", "0000:01:00.1"}},
		{[]hostdev.Filter{hostdev.IDs("::0403")}, []string{"0000:01:00.1"}},
		{[]hostdev.Filter{hostdev.Driver("none")}, []string{"0000:00:00.0", "0000:00:1f.0"}},
		{[]hostdev.Filter{hostdev.Driver("iavf"), hostdev.Driver("vfio-pci")}, []string{"0000:3b:02.0", "0000:3b:02.1"}},
		{[]hostdev.Filter{hostdev.Class("0200"), hostdev.Slot("3b:00")}, []string{"0000:3b:00.0", "0000:3b:00.1"}},
		{[]hostdev.Filter{hostdev.Class("03"), hostdev.Class("0108")}, []string{"0000:00:02.0", "0000:01:00.0", "10000:01:00.0"}},
		{[]hostdev.Filter{hostdev.Class("0c")}, nil},
	}
	for _, c := range cases {
		devices, err := host.PCIDevices(c.filters...)
		if err != nil {
			t.Fatalf("%v: %v", c.filters, err)
		}
		var got []string
		for _, d := range devices {
			got = append(got, d.Address)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.filters, got, c.want)
		}
	}
}

func TestBadFilters(t *testing.T) {
	host := cliHost(t)
	for _, f := range []hostdev.Filter{hostdev.Slot("zz:"), hostdev.IDs("xyz"), hostdev.Class("2"), {}} {
		devices, err := host.PCIDevices(f)
		var herr *hostdev.Error
		if !errors.As(err, &herr) || !errors.Is(err, syscall.EINVAL) || devices != nil {
			t.Errorf("%v: %v, %v", f, devices, err)
			continue
		}
		if herr.Errno != syscall.EINVAL || herr.Message == "" || herr.Op != "PCIDevices" {
			t.Errorf("%v: %+v", f, herr)
		}
	}
}
