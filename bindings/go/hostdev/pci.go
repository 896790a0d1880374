// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"encoding/json"
	"fmt"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// PCIAddress is a parsed domain-qualified PCI address.
type PCIAddress struct {
	Domain   uint32
	Bus      uint8
	Slot     uint8
	Function uint8
}

// String formats the address as "dddd:bb:ss.f" (more domain digits when needed).
func (a PCIAddress) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.Domain, a.Bus, a.Slot, a.Function)
}

// ParseAddress parses "DDDD:BB:SS.F" or "BB:SS.F".
func ParseAddress(text string) (PCIAddress, error) {
	rc := []int{0}
	a := capi.Hdb_pci_address_parse(text, rc)
	if rc[0] < 0 {
		return PCIAddress{}, newError("ParseAddress", rc[0],
			fmt.Sprintf("%q is not a PCI address: expected DDDD:BB:DD.F in hex (domain, bus, "+
				"device 00-1f, function 0-7), such as 0000:3b:00.0; the domain may be left "+
				"out (3b:00.0 is 0000:3b:00.0)", text))
	}
	defer capi.DeleteHostdev_pci_address(a)
	return PCIAddress{Domain: uint32(a.GetDomain()), Bus: a.GetBus(), Slot: a.GetSlot(),
		Function: a.GetFunction()}, nil
}

// VF is a virtual function of an SR-IOV physical function.
type VF struct {
	Number  int    // the N of virtfnN
	Address string // its PCI address
}

// MdevType is a mediated device type offered by an mdev parent.
type MdevType struct {
	ID          string // directory name, e.g. "nvidia-63"
	Name        string // "" when the driver gives none
	Available   int    // available_instances, -1 unknown
	DeviceAPI   string
	Description string
	Parent      string // parent device: PCI address, or a name such as "mtty"
	PCIParent   bool   // the parent is a PCI device
	// Selector is KubeVirt's mdevNameSelector form of the type (Name with spaces as '_',
	// trimmed; ID without a Name). Set by Host.MdevTypes; "" in PCIDevice.MdevTypes.
	Selector string
}

// ActiveMdev is a mediated device that exists on a parent. Binding the parent to vfio-pci would
// destroy it, which is why Bind refuses such a parent unless forced.
type ActiveMdev struct {
	UUID       string
	Type       string // type id, "" when unknown
	TypeName   string // the type's name, "" when the driver gives none
	IOMMUGroup int    // -1 without one
	// InUse is 1 when a process holds it open, 0 when none does, -1 when that cannot be told
	// (the caller may not read other processes' file descriptors).
	InUse int
}

// BridgeBuses are the bus numbers a bridge forwards, from its configuration header: the bus it
// sits on, the bus behind it (0 when firmware left it unprogrammed) and the highest bus behind it.
type BridgeBuses struct {
	Primary, Secondary, Subordinate uint8
}

// PCIDevice is a snapshot of one PCI function with every attribute the library reads. Strings
// are "" and numbers -1 where the C API returns NULL or -1 (unknown / none).
type PCIDevice struct {
	Address    string // "dddd:bb:ss.f"
	PCIAddress PCIAddress

	VendorID          uint16
	DeviceID          uint16
	SubsystemVendorID uint16
	SubsystemDeviceID uint16
	Class             uint32 // 0xCCSSPP
	Revision          uint8

	// Names from pci.ids, as lspci prints them.
	VendorName          string
	DeviceName          string
	SubsystemVendorName string
	SubsystemName       string
	ClassName           string
	SubclassName        string
	ProgIfName          string

	Driver         string   // bound driver, "" when none
	DriverOverride string   // "" when unset
	Modalias       string   // "" when none
	Modules        []string // kernel modules able to drive it

	IOMMUGroup        int      // -1 without IOMMU group
	IOMMUGroupMembers []string // the group's devices, this one included, sorted
	NUMANode          int      // -1 for none
	PhysicalSlot      string
	BootVGA           bool
	Bridge            bool
	// ParentAddress is the device upstream in the kernel's tree (the bridge or root port it
	// sits behind; a VMD endpoint in a VMD domain); "" on a root bus.
	ParentAddress string
	// BridgeBuses are the bus numbers a PCI-to-PCI or CardBus bridge forwards; nil for others.
	BridgeBuses *BridgeBuses

	SRIOVPF         bool // is an SR-IOV physical function
	SRIOVTotalVFs   int
	SRIOVNumVFs     int
	SRIOVVFDeviceID uint16
	VFs             []VF
	SRIOVVF         bool   // is a virtual function
	PFAddress       string // the PF of a VF
	VFIndex         int    // VF number on its PF, -1 for non-VFs

	Netdevs     []string
	MdevTypes   []MdevType
	ActiveMdevs []ActiveMdev

	// Harvester / KubeVirt names (docs/naming.md).
	Description        string
	ObjectName         string
	ResourceName       string
	DeviceResourceName string

	// The library's JSON of the device when it was read (hostdev_pci_device_to_json()).
	schemaJSON []byte
}

// MarshalJSON gives the device in the stable schema of docs/json-schema.md (what `hostdev list
// --json` and the other bindings print: "vendor_id": "8086", "iommu_group": 12, ...), as read
// from the host with the rest of the snapshot. A PCIDevice not read from a Host has no such
// document and is an error.
func (p PCIDevice) MarshalJSON() ([]byte, error) {
	if len(p.schemaJSON) == 0 {
		return nil, fmt.Errorf("hostdev: PCIDevice %q was not read from a Host: no JSON "+
			"document of docs/json-schema.md to give", p.Address)
	}
	if !json.Valid(p.schemaJSON) {
		return nil, fmt.Errorf("hostdev: PCIDevice %s: the library's JSON does not parse", p.Address)
	}
	return p.schemaJSON, nil
}

// Filter selects PCI devices; make one with Slot, IDs, Driver or Class. Filters of different
// kinds must all match; several filters of one kind match when any does.
type Filter struct {
	kind string
	spec string
}

// Slot is lspci -s: "[[domain:]bus:][slot][.[func]]", e.g. "3b:", "00:1f.2", ".3".
func Slot(spec string) Filter { return Filter{"slot", spec} }

// IDs is lspci -d: "[vendor]:[device][:class[:prog_if]]", e.g. "8086:", "::0300".
func IDs(spec string) Filter { return Filter{"ids", spec} }

// Driver matches the bound driver; "none" matches devices without one.
func Driver(name string) Filter { return Filter{"driver", name} }

// Class is a class prefix in hex: "02", "0200" or "020000".
func Class(spec string) Filter { return Filter{"class", spec} }

func (f Filter) add(e capi.Hostdev_pci_enum) int {
	switch f.kind {
	case "slot":
		return capi.Hostdev_pci_enum_add_slot_filter(e, f.spec)
	case "ids":
		return capi.Hostdev_pci_enum_add_id_filter(e, f.spec)
	case "driver":
		return capi.Hostdev_pci_enum_add_driver_filter(e, f.spec)
	case "class":
		return capi.Hostdev_pci_enum_add_class_filter(e, f.spec)
	}
	return -22 // EINVAL: the zero Filter
}

// PCIDevices returns the matching PCI devices in address order. Devices that vanish during the
// scan are skipped.
func (h *Host) PCIDevices(filters ...Filter) ([]PCIDevice, error) {
	var devices []PCIDevice
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		e := capi.Hdb_pci_enum_new(ctx, rc)
		if err := h.check("PCIDevices", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_pci_enum(e)
		for _, f := range filters {
			if r := f.add(e); r < 0 {
				if f.kind == "" {
					return newError("PCIDevices", r, "empty filter: use Slot, IDs, Driver or Class")
				}
				return h.check("PCIDevices", r)
			}
		}
		for {
			dev := capi.Hdb_pci_enum_next(e, rc)
			if rc[0] == 0 {
				return nil
			}
			if err := h.check("PCIDevices", rc[0]); err != nil {
				return err
			}
			devices = append(devices, readPCIDevice(dev))
			capi.DeleteHostdev_pci_device(dev)
		}
	})
	if err != nil {
		return nil, err
	}
	return devices, nil
}

// PCIDevice reads the device at address ("DDDD:BB:SS.F" or "BB:SS.F"). A missing device is an
// error wrapping syscall.ENODEV.
func (h *Host) PCIDevice(address string) (PCIDevice, error) {
	var out PCIDevice
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		dev := capi.Hdb_pci_device_new(ctx, address, rc)
		if err := h.check("PCIDevice", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_pci_device(dev)
		out = readPCIDevice(dev)
		return nil
	})
	return out, err
}

// PCIDeviceJSON returns the device at address in the stable JSON schema of docs/json-schema.md.
func (h *Host) PCIDeviceJSON(address string, pretty bool) (string, error) {
	var out string
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		dev := capi.Hdb_pci_device_new(ctx, address, rc)
		if err := h.check("PCIDeviceJSON", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_pci_device(dev)
		flags := uint(0)
		if pretty {
			flags = uint(capi.HOSTDEV_JSON_PRETTY)
		}
		out = capi.Hdb_pci_device_to_json(dev, flags, rc)
		return h.check("PCIDeviceJSON", rc[0])
	})
	return out, err
}

func list(n int64, item func(i int64) string) []string {
	out := make([]string, 0, n)
	for i := int64(0); i < n; i++ {
		out = append(out, item(i))
	}
	return out
}

func readPCIDevice(d capi.Hostdev_pci_device) PCIDevice {
	a := capi.Hostdev_pci_device_get_pci_address(d)
	addr := PCIAddress{Domain: uint32(a.GetDomain()), Bus: a.GetBus(), Slot: a.GetSlot(),
		Function: a.GetFunction()}
	capi.DeleteHostdev_pci_address(a)
	p := PCIDevice{
		Address:             capi.Hostdev_pci_device_get_address(d),
		PCIAddress:          addr,
		VendorID:            uint16(capi.Hostdev_pci_device_get_vendor_id(d)),
		DeviceID:            uint16(capi.Hostdev_pci_device_get_device_id(d)),
		SubsystemVendorID:   uint16(capi.Hostdev_pci_device_get_subsystem_vendor_id(d)),
		SubsystemDeviceID:   uint16(capi.Hostdev_pci_device_get_subsystem_device_id(d)),
		Class:               uint32(capi.Hostdev_pci_device_get_class(d)),
		Revision:            uint8(capi.Hostdev_pci_device_get_revision(d)),
		VendorName:          capi.Hostdev_pci_device_get_vendor_name(d),
		DeviceName:          capi.Hostdev_pci_device_get_device_name(d),
		SubsystemVendorName: capi.Hostdev_pci_device_get_subsystem_vendor_name(d),
		SubsystemName:       capi.Hostdev_pci_device_get_subsystem_name(d),
		ClassName:           capi.Hostdev_pci_device_get_class_name(d),
		SubclassName:        capi.Hostdev_pci_device_get_subclass_name(d),
		ProgIfName:          capi.Hostdev_pci_device_get_prog_if_name(d),
		Driver:              capi.Hostdev_pci_device_get_driver(d),
		DriverOverride:      capi.Hostdev_pci_device_get_driver_override(d),
		Modalias:            capi.Hostdev_pci_device_get_modalias(d),
		Modules: list(capi.Hostdev_pci_device_get_module_count(d), func(i int64) string {
			return capi.Hostdev_pci_device_get_module(d, i)
		}),
		IOMMUGroup: capi.Hostdev_pci_device_get_iommu_group(d),
		IOMMUGroupMembers: list(capi.Hostdev_pci_device_get_iommu_group_member_count(d),
			func(i int64) string { return capi.Hostdev_pci_device_get_iommu_group_member(d, i) }),
		NUMANode:        capi.Hostdev_pci_device_get_numa_node(d),
		PhysicalSlot:    capi.Hostdev_pci_device_get_physical_slot(d),
		BootVGA:         capi.Hostdev_pci_device_is_boot_vga(d) != 0,
		Bridge:          capi.Hostdev_pci_device_is_bridge(d) != 0,
		SRIOVPF:         capi.Hostdev_pci_device_is_sriov_pf(d) != 0,
		SRIOVTotalVFs:   int(capi.Hostdev_pci_device_get_sriov_total_vfs(d)),
		SRIOVNumVFs:     int(capi.Hostdev_pci_device_get_sriov_num_vfs(d)),
		SRIOVVFDeviceID: uint16(capi.Hostdev_pci_device_get_sriov_vf_device_id(d)),
		SRIOVVF:         capi.Hostdev_pci_device_is_sriov_vf(d) != 0,
		PFAddress:       capi.Hostdev_pci_device_get_pf_address(d),
		VFIndex:         capi.Hostdev_pci_device_get_vf_index(d),
		Netdevs: list(capi.Hostdev_pci_device_get_netdev_count(d), func(i int64) string {
			return capi.Hostdev_pci_device_get_netdev(d, i)
		}),
		Description:        capi.Hostdev_pci_device_get_description(d),
		ObjectName:         capi.Hostdev_pci_device_get_object_name(d),
		ResourceName:       capi.Hostdev_pci_device_get_resource_name(d),
		DeviceResourceName: capi.Hostdev_pci_device_get_device_resource_name(d),
	}
	rc := []int{0}
	if text := capi.Hdb_pci_device_to_json(d, 0, rc); rc[0] >= 0 {
		p.schemaJSON = []byte(text)
	}
	if parent := capi.Hdb_pci_device_get_parent_address(d, rc); rc[0] > 0 {
		p.ParentAddress = parent
	}
	if packed := capi.Hdb_pci_device_get_bridge_buses(d, rc); rc[0] > 0 {
		p.BridgeBuses = &BridgeBuses{Primary: uint8(packed), Secondary: uint8(packed >> 8),
			Subordinate: uint8(packed >> 16)}
	}
	for i := int64(0); i < capi.Hostdev_pci_device_get_vf_count(d); i++ {
		p.VFs = append(p.VFs, VF{Number: capi.Hostdev_pci_device_get_vf_number(d, i),
			Address: capi.Hostdev_pci_device_get_vf_address(d, i)})
	}
	for i := int64(0); i < capi.Hostdev_pci_device_get_mdev_type_count(d); i++ {
		p.MdevTypes = append(p.MdevTypes, MdevType{
			ID:          capi.Hostdev_pci_device_get_mdev_type_id(d, i),
			Name:        capi.Hostdev_pci_device_get_mdev_type_name(d, i),
			Available:   capi.Hostdev_pci_device_get_mdev_type_available(d, i),
			DeviceAPI:   capi.Hostdev_pci_device_get_mdev_type_device_api(d, i),
			Description: capi.Hostdev_pci_device_get_mdev_type_description(d, i),
			Parent:      p.Address,
			PCIParent:   true,
		})
	}
	for i := int64(0); i < capi.Hostdev_pci_device_get_active_mdev_count(d); i++ {
		p.ActiveMdevs = append(p.ActiveMdevs, ActiveMdev{
			UUID:       capi.Hostdev_pci_device_get_active_mdev_uuid(d, i),
			Type:       capi.Hostdev_pci_device_get_active_mdev_type(d, i),
			TypeName:   capi.Hostdev_pci_device_get_active_mdev_type_name(d, i),
			IOMMUGroup: capi.Hostdev_pci_device_get_active_mdev_iommu_group(d, i),
			InUse:      capi.Hostdev_pci_device_is_active_mdev_in_use(d, i),
		})
	}
	return p
}
