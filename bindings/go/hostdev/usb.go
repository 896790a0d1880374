// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"sync"
	"syscall"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// USBInterface is an interface of a USB device's active configuration.
type USBInterface struct {
	Name     string // "1-1.4:1.0"
	Number   int
	Class    int
	Subclass int
	Protocol int
	Driver   string // "" when none
}

// USBDevice is a snapshot of one USB device (root hubs included). String descriptors are the
// device's raw bytes; "" where the C API returns NULL.
type USBDevice struct {
	Name              string // "1-1.4", "usbN" for a root hub
	PortPath          string // "2-1.4"
	VendorID          uint16
	ProductID         uint16
	BCDDevice         uint16
	DeviceClass       uint8 // bDeviceClass
	Class             uint8 // bDeviceClass, or the first interface's class when that is 0
	ClassName         string
	VendorName        string // usb.ids
	ProductName       string // usb.ids
	Manufacturer      string
	Product           string
	Serial            string
	Speed             string // Mbit/s as text, "480"
	Busnum            int
	Devnum            int
	Devnode           string
	ControllerAddress string // PCI address of the host controller
	Driver            string
	Hub               bool
	RootHub           bool
	Interfaces        []USBInterface

	ObjectName         string // Harvester USBDevice name
	ResourceName       string
	PortID             string // identity of the physical port
	PortResourceName   string
	SerialID           string // identity by serial number, "" without serial
	SerialResourceName string
}

// USBFilter selects USB devices: USBIDs, USBSerial, USBPort, or USBHubs.
type USBFilter struct {
	kind string
	spec string
}

// USBIDs is lsusb -d: "[vendor]:[product]".
func USBIDs(spec string) USBFilter { return USBFilter{"ids", spec} }

// USBSerial matches the exact serial string.
func USBSerial(serial string) USBFilter { return USBFilter{"serial", serial} }

// USBPort matches the device at port path "2-1.4", or every device below "2-1.*".
func USBPort(path string) USBFilter { return USBFilter{"port", path} }

// USBHubs also lists hubs and root hubs (left out by default).
func USBHubs() USBFilter { return USBFilter{"hubs", ""} }

// USBDevices returns the matching USB devices, by bus number then port path.
func (h *Host) USBDevices(filters ...USBFilter) ([]USBDevice, error) {
	var flags uint
	for _, f := range filters {
		if f.kind == "hubs" {
			flags |= uint(capi.HOSTDEV_USB_ENUM_HUBS)
		}
	}
	var devices []USBDevice
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		e := capi.Hdb_usb_enum_new(ctx, flags, rc)
		if err := h.check("USBDevices", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_usb_enum(e)
		for _, f := range filters {
			r := 0
			switch f.kind {
			case "ids":
				r = capi.Hostdev_usb_enum_add_id_filter(e, f.spec)
			case "serial":
				r = capi.Hostdev_usb_enum_add_serial_filter(e, f.spec)
			case "port":
				r = capi.Hostdev_usb_enum_add_port_filter(e, f.spec)
			case "hubs":
			default:
				return newError("USBDevices", -int(syscall.EINVAL), "empty filter: use USBIDs, USBSerial, USBPort or USBHubs")
			}
			if err := h.check("USBDevices", r); err != nil {
				return err
			}
		}
		for {
			dev := capi.Hdb_usb_enum_next(e, rc)
			if rc[0] == 0 {
				return nil
			}
			if err := h.check("USBDevices", rc[0]); err != nil {
				return err
			}
			devices = append(devices, readUSBDevice(dev))
			capi.DeleteHostdev_usb_device(dev)
		}
	})
	if err != nil {
		return nil, err
	}
	return devices, nil
}

// USBDevice reads the device with kernel name name ("1-1.4", "usb1").
func (h *Host) USBDevice(name string) (USBDevice, error) {
	var out USBDevice
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		dev := capi.Hdb_usb_device_new(ctx, name, rc)
		if err := h.check("USBDevice", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_usb_device(dev)
		out = readUSBDevice(dev)
		return nil
	})
	return out, err
}

func readUSBDevice(d capi.Hostdev_usb_device) USBDevice {
	u := USBDevice{
		Name:               capi.Hostdev_usb_device_get_name(d),
		PortPath:           capi.Hostdev_usb_device_get_port_path(d),
		VendorID:           uint16(capi.Hostdev_usb_device_get_vendor_id(d)),
		ProductID:          uint16(capi.Hostdev_usb_device_get_product_id(d)),
		BCDDevice:          uint16(capi.Hostdev_usb_device_get_bcd_device(d)),
		DeviceClass:        uint8(capi.Hostdev_usb_device_get_device_class(d)),
		Class:              uint8(capi.Hostdev_usb_device_get_class(d)),
		ClassName:          capi.Hostdev_usb_device_get_class_name(d),
		VendorName:         capi.Hostdev_usb_device_get_vendor_name(d),
		ProductName:        capi.Hostdev_usb_device_get_product_name(d),
		Manufacturer:       capi.Hostdev_usb_device_get_manufacturer(d),
		Product:            capi.Hostdev_usb_device_get_product(d),
		Serial:             capi.Hostdev_usb_device_get_serial(d),
		Speed:              capi.Hostdev_usb_device_get_speed(d),
		Busnum:             int(capi.Hostdev_usb_device_get_busnum(d)),
		Devnum:             int(capi.Hostdev_usb_device_get_devnum(d)),
		Devnode:            capi.Hostdev_usb_device_get_devnode(d),
		ControllerAddress:  capi.Hostdev_usb_device_get_controller_address(d),
		Driver:             capi.Hostdev_usb_device_get_driver(d),
		Hub:                capi.Hostdev_usb_device_is_hub(d) != 0,
		RootHub:            capi.Hostdev_usb_device_is_root_hub(d) != 0,
		ObjectName:         capi.Hostdev_usb_device_get_object_name(d),
		ResourceName:       capi.Hostdev_usb_device_get_resource_name(d),
		PortID:             capi.Hostdev_usb_device_get_port_id(d),
		PortResourceName:   capi.Hostdev_usb_device_get_port_resource_name(d),
		SerialID:           capi.Hostdev_usb_device_get_serial_id(d),
		SerialResourceName: capi.Hostdev_usb_device_get_serial_resource_name(d),
	}
	for i := int64(0); i < capi.Hostdev_usb_device_get_interface_count(d); i++ {
		u.Interfaces = append(u.Interfaces, USBInterface{
			Name:     capi.Hostdev_usb_device_get_interface_name(d, i),
			Number:   capi.Hostdev_usb_device_get_interface_number(d, i),
			Class:    capi.Hostdev_usb_device_get_interface_class(d, i),
			Subclass: capi.Hostdev_usb_device_get_interface_subclass(d, i),
			Protocol: capi.Hostdev_usb_device_get_interface_protocol(d, i),
			Driver:   capi.Hostdev_usb_device_get_interface_driver(d, i),
		})
	}
	return u
}

// Event is one hot-plug event.
type Event struct {
	Action    string // "add", "remove", "change", "bind", "unbind"
	Subsystem string // "usb" or "pci"
	Name      string // kernel name
	Interface string // USB interface of a bind/unbind, else ""
	Driver    string // driver of a bind/unbind, else ""
	Seqnum    uint64
	Replay    bool // reported by StartOptions.Enumerate
	Partial   bool // the device was gone before it could be read
	USB       *USBDevice
	PCI       *PCIDevice
}

// MonitorOptions are the filters of a Monitor: several of one kind match when any does.
type MonitorOptions struct {
	Subsystems []string // "usb", "pci"
	IDs        []string // "vvvv:pppp"
	Classes    []string // "03" (USB class or PCI base class), "0200"
}

// StartOptions are the options of Monitor.Start.
type StartOptions struct {
	Enumerate bool // report the devices already present first (Replay events)
	Kernel    bool // listen to the kernel's uevents (no udevd: containers, tests)
	Udev      bool // listen to udevd's events
}

// Monitor reports hot-plug events of USB and PCI devices. Use Fd and Process in an event loop,
// or Wait.
type Monitor struct {
	host *Host
	mon  capi.Hdb_monitor

	errMu sync.Mutex
	err   error // why the last Events channel was closed
}

// NewMonitor creates a monitor (not started yet).
func (h *Host) NewMonitor(opts *MonitorOptions) (*Monitor, error) {
	if opts == nil {
		opts = &MonitorOptions{}
	}
	m := &Monitor{host: h}
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		mon := capi.Hdb_monitor_new(ctx, rc)
		if err := h.check("NewMonitor", rc[0]); err != nil {
			return err
		}
		m.mon = mon
		for _, s := range opts.Subsystems {
			if err := h.check("NewMonitor", mon.Add_match_subsystem(s)); err != nil {
				return err
			}
		}
		for _, s := range opts.IDs {
			if err := h.check("NewMonitor", mon.Add_match_id(s)); err != nil {
				return err
			}
		}
		for _, s := range opts.Classes {
			if err := h.check("NewMonitor", mon.Add_match_class(s)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if m.mon != nil {
			capi.DeleteHdb_monitor(m.mon)
		}
		return nil, err
	}
	return m, nil
}

func (m *Monitor) do(op string, fn func() int) error {
	return m.host.do(func(ctx capi.Hostdev_ctx) error {
		if m.mon == nil {
			return ErrClosed
		}
		return m.host.check(op, fn())
	})
}

// drain converts the queued events; called under the context lock.
func (m *Monitor) drain() []Event {
	var out []Event
	for {
		ev := m.mon.Next_event()
		if ev == nil || ev.Swigcptr() == 0 {
			return out
		}
		e := Event{Action: ev.Action_name(), Subsystem: ev.Subsystem(), Name: ev.Name(),
			Interface: ev.Interface_name(), Driver: ev.Driver(), Seqnum: ev.Seqnum(),
			Replay: ev.Is_replay() != 0, Partial: ev.Is_partial() != 0}
		if u := ev.Usb_device(); u != nil && u.Swigcptr() != 0 {
			d := readUSBDevice(u)
			e.USB = &d
			capi.DeleteHostdev_usb_device(u)
		}
		if p := ev.Pci_device(); p != nil && p.Swigcptr() != 0 {
			d := readPCIDevice(p)
			e.PCI = &d
			capi.DeleteHostdev_pci_device(p)
		}
		capi.DeleteHdb_event(ev)
		out = append(out, e)
	}
}

// Start listens for events; with Enumerate the devices present are returned as Replay events.
func (m *Monitor) Start(opts *StartOptions) ([]Event, error) {
	var flags uint
	if opts != nil && opts.Enumerate {
		flags |= uint(capi.HOSTDEV_MONITOR_ENUMERATE)
	}
	if opts != nil && opts.Kernel {
		flags |= uint(capi.HOSTDEV_MONITOR_SOURCE_KERNEL)
	}
	if opts != nil && opts.Udev {
		flags |= uint(capi.HOSTDEV_MONITOR_SOURCE_UDEV)
	}
	var events []Event
	err := m.do("Start", func() int {
		r := m.mon.Start(flags)
		if r >= 0 {
			events = m.drain()
		}
		return r
	})
	return events, err
}

// Fd is the file descriptor to poll for input after Start.
func (m *Monitor) Fd() (int, error) {
	var fd int
	err := m.do("Fd", func() int {
		fd = m.mon.Fd()
		return fd
	})
	return fd, err
}

// Process reads what is pending without blocking and returns the events (maybe none).
func (m *Monitor) Process() ([]Event, error) {
	var events []Event
	err := m.do("Process", func() int {
		r := m.mon.Process()
		if r >= 0 {
			events = m.drain()
		}
		return r
	})
	return events, err
}

// Wait blocks until events arrive or timeout passes (a negative timeout waits forever) and
// returns them; none after a timeout. The Host stays usable by other goroutines meanwhile.
func (m *Monitor) Wait(timeout time.Duration) ([]Event, error) {
	fd, err := m.Fd()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		var set syscall.FdSet
		set.Bits[fd/64] |= 1 << (uint(fd) % 64)
		var tv *syscall.Timeval
		if timeout >= 0 {
			left := time.Until(deadline)
			if left < 0 {
				left = 0
			}
			t := syscall.NsecToTimeval(left.Nanoseconds())
			tv = &t
		}
		n, err := syscall.Select(fd+1, &set, nil, nil, tv)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &Error{Op: "Wait", Errno: err.(syscall.Errno), Message: err.Error()}
		}
		if n == 0 {
			return nil, nil
		}
		events, err := m.Process()
		if err != nil || len(events) > 0 || (timeout >= 0 && time.Now().After(deadline)) {
			return events, err
		}
	}
}

// Close releases the monitor (and its fd).
func (m *Monitor) Close() error {
	m.host.mu.Lock()
	defer m.host.mu.Unlock()
	if m.mon != nil {
		capi.DeleteHdb_monitor(m.mon)
		m.mon = nil
	}
	return nil
}
