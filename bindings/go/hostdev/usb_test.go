// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// USB devices and the monitor, on the fake USB tree of tests/usb. libudev reads the real /sys,
// so the checks run inside umockdev: TestUSB re-runs this test binary under umockdev-wrapper and
// usb-fake-run (the standard tree of tests/usb/usb_tree.c), where TestUSBInTestbed does the work.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

// inTestbed runs command in the fake tree. With hotplug set, usb-fake-run plugs a keyboard at 1-5
// once the command printed a line containing hotplug, and unplugs it once the command printed it:
// nothing is timed.
func inTestbed(t *testing.T, hotplug string, command ...string) string {
	t.Helper()
	fakeRun := needEnv(t, "HOSTDEV_TEST_USB_FAKE_RUN")
	wrapper, err := exec.LookPath("umockdev-wrapper")
	if err != nil {
		t.Skip("umockdev-wrapper is not installed (Debian umockdev)")
	}
	args := []string{fakeRun}
	if hotplug != "" {
		args = append(args, "--hotplug", "--ready", hotplug)
	}
	cmd := exec.Command(wrapper, append(append(args, "--"), command...)...)
	cmd.Env = append(envWithout("HOSTDEV_KMODEL_ROOT"), "HOSTDEV_TEST_IN_TESTBED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", command, err, out)
	}
	return string(out)
}

func TestUSB(t *testing.T) {
	out := inTestbed(t, "", os.Args[0], "-test.run", "^TestUSBInTestbed$", "-test.v")
	if !strings.Contains(out, "--- PASS: TestUSBInTestbed") {
		t.Fatalf("inner test did not pass:\n%s", out)
	}
}

func TestUSBInTestbed(t *testing.T) {
	if os.Getenv("HOSTDEV_TEST_IN_TESTBED") == "" {
		t.Skip("runs inside umockdev, started by TestUSB")
	}
	host, err := hostdev.Open(hostdev.WithPath(hostdev.PathUSBIDs, needEnv(t, "HOSTDEV_TEST_USB_IDS")),
		hostdev.WithNodeName("node1"))
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	devices, err := host.USBDevices()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devices {
		names = append(names, d.Name)
	}
	if strings.Join(names, " ") != "1-1 1-2.1 1-2.2 1-2.3 1-2.4 1-3 2-1" {
		t.Errorf("devices %v", names)
	}
	kbd := devices[0]
	if kbd.VendorID != 0x0627 || kbd.ProductID != 0x0001 || kbd.Serial != "42" || kbd.Speed != "12" ||
		kbd.Class != 3 || kbd.ClassName != "Human Interface Device" || kbd.ControllerAddress != "0000:00:14.0" ||
		kbd.PortID != "node1-000000140-usb2-1" || len(kbd.Interfaces) != 1 || kbd.Interfaces[0].Driver != "usbhid" ||
		kbd.ResourceName != "kubevirt.io/"+kbd.ObjectName {
		t.Errorf("keyboard %+v", kbd)
	}
	if devices[5].Manufacturer != "Bad \xff\xfe Vendor \xc3" || len(devices[5].SerialID) > 63 {
		t.Errorf("hostile strings: %q %q", devices[5].Manufacturer, devices[5].SerialID)
	}
	if devices[3].Serial != "" || devices[3].SerialID != "" {
		t.Errorf("no serial: %+v", devices[3])
	}
	for _, c := range []struct {
		filters []hostdev.USBFilter
		want    string
	}{
		{[]hostdev.USBFilter{hostdev.USBIDs("1050:")}, "1-2.1 1-2.2"},
		{[]hostdev.USBFilter{hostdev.USBSerial("22222222")}, "1-2.2"},
		{[]hostdev.USBFilter{hostdev.USBPort("1-2.*")}, "1-2.1 1-2.2 1-2.3 1-2.4"},
		{[]hostdev.USBFilter{hostdev.USBHubs(), hostdev.USBPort("1-2")}, "1-2"},
	} {
		got, err := host.USBDevices(c.filters...)
		var n []string
		for _, d := range got {
			n = append(n, d.Name)
		}
		if err != nil || strings.Join(n, " ") != c.want {
			t.Errorf("%v: %v %v, want %s", c.filters, n, err, c.want)
		}
	}
	if _, err := host.USBDevices(hostdev.USBIDs("zz")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad filter: %v", err)
	}
	if _, err := host.USBDevice("9-9"); !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "9-9") {
		t.Errorf("USBDevice(9-9): %v", err)
	}
	if d, err := host.USBDevice("2-1"); err != nil || d.Serial != "HOSTDEV0001" {
		t.Errorf("USBDevice(2-1): %+v %v", d, err)
	}

	if _, err := host.NewMonitor(&hostdev.MonitorOptions{Subsystems: []string{"floppy"}}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad subsystem: %v", err)
	}
	mon, err := host.NewMonitor(&hostdev.MonitorOptions{Subsystems: []string{"usb"}, IDs: []string{"0627:"}})
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Fd(); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Fd before Start: %v", err)
	}
	events, err := mon.Start(&hostdev.StartOptions{Enumerate: true, Kernel: true})
	if err != nil || len(events) != 1 || events[0].Action != "add" || !events[0].Replay || events[0].USB == nil ||
		events[0].USB.Serial != "42" {
		t.Fatalf("Start: %+v %v", events, err)
	}
	if events, err := mon.Process(); err != nil || len(events) != 0 {
		t.Errorf("Process: %+v %v", events, err)
	}
	mon.Close()
	if _, err := mon.Process(); !errors.Is(err, hostdev.ErrClosed) {
		t.Errorf("Process after Close: %v", err)
	}
}

func TestExampleWatchUSB(t *testing.T) {
	bin := filepath.Join(needEnv(t, "HOSTDEV_TEST_GO_EXAMPLES"), "watchusb")
	// Plugged once the example printed "watching": after its enumeration, so a live add (one
	// plugged during the enumeration may be a replay, docs/usb.md). -timeout only bounds a hang.
	out := inTestbed(t, "watching (fd ", bin, "-kernel", "-ids", "0627:", "-enumerate", "-count", "3", "-timeout", "100s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"add 1-1 0627:0001 port=1-1 (present)", "add 1-5 0627:0001 port=1-5",
		"remove 1-5 0627:0001 port=1-5"}
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "watching (fd ") || strings.Join(lines[1:], "|") != strings.Join(want, "|") {
		t.Errorf("output:\n%s", out)
	}
}
