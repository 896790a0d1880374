// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// Mediated devices through the Go layer, on the SR-IOV/mdev test host with the kernel model
// (preloaded into the test binary): it plays the mdev core's create and remove stores below the
// fake root. Nothing is written to this machine's /sys.
//
// Parents (tests/sriov/sriov_tree.h): the T4 GPU 0000:af:00.0 with nvidia-222 "GRID T4-1Q" (2
// left, with a description) and nvidia-223 "GRID T4-2Q" (0 left); the non-PCI parent mtty with
// mtty-1 "Single port serial" (24 left) and mtty-2 "Dual port serial" (12 left).

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

const (
	mdevGPU   = "0000:af:00.0"
	mdevUUID1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
	mttyTypes = "sys/devices/virtual/mtty/mtty/mdev_supported_types/"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func mdevAvailable(t *testing.T, host *hostdev.Host, parent, id string) int {
	t.Helper()
	types, err := host.MdevTypes(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range types {
		if mt.ID == id {
			return mt.Available
		}
	}
	t.Fatalf("no type %s on %s", id, parent)
	return 0
}

func TestMdevTypes(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	types, err := host.MdevTypes("")
	if err != nil {
		t.Fatal(err)
	}
	want := []hostdev.MdevType{
		{ID: "nvidia-222", Name: "GRID T4-1Q", Available: 2, DeviceAPI: "vfio-pci",
			Description: "num_heads=4, frl_config=60, framebuffer=1024M", Parent: mdevGPU, PCIParent: true,
			Selector: "GRID_T4-1Q"},
		{ID: "nvidia-223", Name: "GRID T4-2Q", Available: 0, DeviceAPI: "vfio-pci", Parent: mdevGPU,
			PCIParent: true, Selector: "GRID_T4-2Q"},
		{ID: "mtty-1", Name: "Single port serial", Available: 24, DeviceAPI: "vfio-pci", Parent: "mtty",
			Selector: "Single_port_serial"},
		{ID: "mtty-2", Name: "Dual port serial", Available: 12, DeviceAPI: "vfio-pci", Parent: "mtty",
			Selector: "Dual_port_serial"},
	}
	if fmt.Sprintf("%+v", types) != fmt.Sprintf("%+v", want) {
		t.Errorf("types\n%+v\nwant\n%+v", types, want)
	}
	// The values are the tree's attributes.
	for _, mt := range types[2:] {
		avail, _ := strconv.Atoi(h.read(t, mttyTypes+mt.ID+"/available_instances"))
		if mt.Name != h.read(t, mttyTypes+mt.ID+"/name") || mt.Available != avail {
			t.Errorf("%s: %+v", mt.ID, mt)
		}
	}
	// One parent, by address, short address or name.
	for parent, want := range map[string][]hostdev.MdevType{"af:00.0": want[:2], mdevGPU: want[:2], "mtty": want[2:]} {
		got, err := host.MdevTypes(parent)
		if err != nil || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("MdevTypes(%q) = %+v, %v", parent, got, err)
		}
	}
	// PCIDevice.MdevTypes: the same types, Parent and PCIParent set, no Selector.
	dev, err := host.PCIDevice(mdevGPU)
	if err != nil || len(dev.MdevTypes) != 2 {
		t.Fatalf("GPU %+v, %v", dev.MdevTypes, err)
	}
	for i, mt := range dev.MdevTypes {
		w := want[i]
		w.Selector = ""
		if mt != w {
			t.Errorf("PCIDevice.MdevTypes[%d] = %+v, want %+v", i, mt, w)
		}
	}

	_, err = host.MdevTypes(nicPF)
	wantErr(t, "MdevTypes(NIC)", err, syscall.EOPNOTSUPP, "offers no mediated device types")
	_, err = host.MdevTypes("nosuchparent")
	wantErr(t, "MdevTypes(nosuchparent)", err, syscall.ENODEV)
}

func TestMdevCreateListRemove(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	if l, err := host.Mdevs(); err != nil || len(l) != 0 {
		t.Fatalf("Mdevs() = %+v, %v", l, err)
	}
	uuid, err := host.CreateMdev("mtty", "mtty-2", "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", nil)
	if err != nil || uuid != mdevUUID1 {
		t.Fatalf("CreateMdev = %q, %v", uuid, err)
	}
	if !h.has("sys/bus/mdev/devices/"+mdevUUID1) || mdevAvailable(t, host, "mtty", "mtty-2") != 11 {
		t.Error("mdev not created")
	}
	gen, err := host.CreateMdev("af:00.0", "nvidia-222", "", &hostdev.MdevOptions{Timeout: 5 * time.Second})
	if err != nil || !uuidV4.MatchString(gen) {
		t.Fatalf("CreateMdev(generated) = %q, %v", gen, err)
	}
	mdevs, err := host.Mdevs()
	if err != nil || len(mdevs) != 2 {
		t.Fatalf("Mdevs() = %+v, %v", mdevs, err)
	}
	uuids := []string{mdevUUID1, gen}
	sort.Strings(uuids)
	if mdevs[0].UUID != uuids[0] || mdevs[1].UUID != uuids[1] {
		t.Errorf("not sorted by UUID: %+v", mdevs)
	}
	var m, g hostdev.Mdev
	for _, x := range mdevs {
		if x.UUID == mdevUUID1 {
			m = x
		} else {
			g = x
		}
	}
	if m.Parent != "mtty" || m.Type != "mtty-2" || m.TypeName != "Dual port serial" || m.Selector != "Dual_port_serial" ||
		m.Driver != "vfio_mdev" || m.IOMMUGroup < 0 || !h.has(fmt.Sprintf("dev/vfio/%d", m.IOMMUGroup)) {
		t.Errorf("mdev %+v", m)
	}
	if g.Parent != mdevGPU || g.Type != "nvidia-222" || g.Selector != "GRID_T4-1Q" || g.IOMMUGroup == m.IOMMUGroup {
		t.Errorf("mdev %+v", g)
	}
	if n := mdevAvailable(t, host, mdevGPU, "nvidia-222"); n != 1 {
		t.Errorf("nvidia-222 available %d", n)
	}

	if err := host.RemoveMdev(mdevUUID1, nil); err != nil {
		t.Fatal(err)
	}
	if h.has("sys/bus/mdev/devices/"+mdevUUID1) || h.has(fmt.Sprintf("dev/vfio/%d", m.IOMMUGroup)) ||
		mdevAvailable(t, host, "mtty", "mtty-2") != 12 {
		t.Error("mdev not removed")
	}
	if err := host.RemoveMdev(gen, nil); err != nil {
		t.Fatal(err)
	}
	if l, err := host.Mdevs(); err != nil || len(l) != 0 {
		t.Errorf("Mdevs() = %+v, %v", l, err)
	}
}

func TestMdevErrors(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	_, err := host.CreateMdev("mtty", "mtty-9", "", nil)
	wantErr(t, "CreateMdev(mtty-9)", err, syscall.ENOENT, "has no mdev type 'mtty-9'; its types are: mtty-1, mtty-2")
	_, err = host.CreateMdev(mdevGPU, "nvidia-223", "", nil)
	wantErr(t, "CreateMdev(nvidia-223)", err, syscall.ENOSPC, "no instances of mdev type nvidia-223 are left")
	_, err = host.CreateMdev("nosuchparent", "mtty-1", "", nil)
	wantErr(t, "CreateMdev(nosuchparent)", err, syscall.ENODEV)
	_, err = host.CreateMdev("mtty", "mtty-1", "not-a-uuid", nil)
	wantErr(t, "CreateMdev(not-a-uuid)", err, syscall.EINVAL)
	if _, err := host.CreateMdev("mtty", "mtty-1", mdevUUID1, nil); err != nil {
		t.Fatal(err)
	}
	_, err = host.CreateMdev("mtty", "mtty-2", mdevUUID1, nil)
	wantErr(t, "CreateMdev(same UUID)", err, syscall.EEXIST, mdevUUID1)
	if err := host.RemoveMdev(mdevUUID1, nil); err != nil {
		t.Fatal(err)
	}
	err = host.RemoveMdev(mdevUUID1, nil)
	wantErr(t, "RemoveMdev(gone)", err, syscall.ENODEV, "no such mediated device")
	err = host.RemoveMdev("garbage", nil)
	wantErr(t, "RemoveMdev(garbage)", err, syscall.EINVAL)

	t.Setenv("HOSTDEV_KMODEL_FAIL", "mdev_create:mtty-1:EIO")
	_, err = host.CreateMdev("mtty", "mtty-1", "", nil)
	wantErr(t, "CreateMdev(EIO)", err, syscall.EIO)
	if l, _ := host.Mdevs(); len(l) != 0 {
		t.Errorf("Mdevs() = %+v", l)
	}
}

func TestMdevRemoveWatchdog(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	if _, err := host.CreateMdev("mtty", "mtty-1", mdevUUID1, nil); err != nil {
		t.Fatal(err)
	}
	// The kernel holds the remove (a VM has the device open) until the test lets it go: only the
	// watchdog can end the call.
	t.Setenv("HOSTDEV_KMODEL_HOLD", "mdev_remove:"+mdevUUID1)
	err := host.RemoveMdev(mdevUUID1, &hostdev.MdevOptions{Timeout: 300 * time.Millisecond})
	wantErr(t, "RemoveMdev(held open)", err, syscall.ETIMEDOUT, "still holds it open")
	if l, _ := host.Mdevs(); !waitFor(h.held) || len(l) != 1 {
		t.Errorf("the remove is not held: mdevs %+v", l)
	}
	h.release(t)
	if !waitFor(func() bool { l, err := host.Mdevs(); return err == nil && len(l) == 0 }) {
		t.Error("the removal never completed")
	}
}

func TestNewMdevUUID(t *testing.T) {
	host := newSRIOVHost(t).open(t)
	a, err1 := host.NewMdevUUID()
	b, err2 := host.NewMdevUUID()
	if err1 != nil || err2 != nil || !uuidV4.MatchString(a) || !uuidV4.MatchString(b) || a == b {
		t.Errorf("NewMdevUUID: %q %v, %q %v", a, err1, b, err2)
	}
}
