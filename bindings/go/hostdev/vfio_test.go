// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// vfio binding through the Go layer, on the vfio test host with the kernel model. The host
// (tests/vfio/vfio_tree.h): NIC 01:00.0 (e1000e, group 2), GPU 02:00.0 + audio 02:00.1 (group
// 5), MGMT 04:00.0 (igb under br0 with the default route), NOGROUP 05:00.0 (no IOMMU group).

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

const (
	nic     = "0000:01:00.0"
	gpu     = "0000:02:00.0"
	audio   = "0000:02:00.1"
	mgmt    = "0000:04:00.0"
	nogroup = "0000:05:00.0"
)

func mustN(t *testing.T, what string, n int, err error, want int) {
	t.Helper()
	if err != nil || n != want {
		t.Fatalf("%s = %d, %v; want %d", what, n, err, want)
	}
}

func TestBindRestore(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	n, err := host.Bind([]string{"1:00.0"}, &hostdev.BindOptions{Owner: "vm-a"})
	mustN(t, "Bind", n, err, 1)
	if h.driver(nic) != hostdev.VFIODriver || !h.has("dev/vfio/2") {
		t.Fatalf("driver %q, /dev/vfio/2 %v", h.driver(nic), h.has("dev/vfio/2"))
	}
	n, err = host.Bind([]string{nic}, nil)
	mustN(t, "second Bind", n, err, 0)
	j, err := host.Journal()
	if err != nil || len(j.Records) != 1 || j.Path != h.path("var/lib/hostdev/vfio-journal.json") {
		t.Fatalf("journal %+v, %v", j, err)
	}
	r := j.Records[0]
	if r.Address != nic || r.Driver != "e1000e" || r.DriverOverride != "" || r.IOMMUGroup != 2 ||
		r.Owner != "vm-a" || !r.Complete || r.GroupBind || time.Since(r.Time) > 10*time.Minute {
		t.Errorf("record %+v", r)
	}
	if !strings.Contains(j.JSON, `"e1000e"`) {
		t.Errorf("journal JSON %s", j.JSON)
	}
	n, err = host.Restore([]string{nic}, nil)
	mustN(t, "Restore", n, err, 1)
	if h.driver(nic) != "e1000e" || !h.has("sys/class/net/enp1s0") {
		t.Errorf("after restore: driver %q", h.driver(nic))
	}
	n, err = host.RestoreAll(nil)
	mustN(t, "RestoreAll", n, err, 0)
}

func TestRefusals(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	cases := []struct {
		addr   string
		opts   *hostdev.BindOptions
		errno  syscall.Errno
		needle string
	}{
		{gpu, nil, syscall.EBUSY, audio + " (snd_hda_intel)"},
		{mgmt, nil, syscall.EPERM, "default route (br0)"},
		{nogroup, nil, syscall.EINVAL, "intel_iommu=on"},
		{nic, &hostdev.BindOptions{Protected: []string{nic}}, syscall.EPERM, "protected"},
		{"0000:0f:00.0", nil, syscall.ENODEV, "0000:0f:00.0"},
		{"garbage", nil, syscall.EINVAL, "garbage"},
	}
	for _, c := range cases {
		n, err := host.Bind([]string{c.addr}, c.opts)
		var herr *hostdev.Error
		if n != 0 || !errors.Is(err, c.errno) || !errors.As(err, &herr) || !strings.Contains(herr.Message, c.needle) {
			t.Errorf("Bind(%s) = %d, %v; want %v mentioning %q", c.addr, n, err, c.errno, c.needle)
		}
	}
	for _, a := range []string{gpu, audio, mgmt, nogroup, nic} {
		if h.driver(a) == hostdev.VFIODriver {
			t.Errorf("%s was bound", a)
		}
	}
	n, err := host.Bind([]string{mgmt}, &hostdev.BindOptions{Force: true})
	mustN(t, "forced Bind", n, err, 1)
}

func TestGroupBind(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	n, err := host.Bind([]string{gpu}, &hostdev.BindOptions{Group: true, Owner: "vm-gpu"})
	mustN(t, "group Bind", n, err, 2)
	n, err = host.RestoreAll(&hostdev.RestoreOptions{Owner: "other"})
	mustN(t, "RestoreAll(other)", n, err, 0)
	n, err = host.Restore([]string{audio}, nil)
	mustN(t, "Restore(audio)", n, err, 2)
	if h.driver(gpu) != "nouveau" || h.driver(audio) != "snd_hda_intel" {
		t.Errorf("drivers %q %q", h.driver(gpu), h.driver(audio))
	}
}

func TestFailedWriteRollsBack(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	t.Setenv("HOSTDEV_KMODEL_FAIL", "unbind:"+nic+":EIO")
	_, err := host.Bind([]string{nic}, nil)
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "Rolled back") {
		t.Errorf("Bind with a failing unbind: %v", err)
	}
	if h.driver(nic) != "e1000e" {
		t.Errorf("driver %q", h.driver(nic))
	}
}

func TestTimeoutDoesNotBlockOtherGoroutines(t *testing.T) {
	// The kernel hangs in the vfio-pci probe until the test lets it go (HOSTDEV_KMODEL_HOLD):
	// this goroutine runs and sees the probe called while Bind, in C, still waits for it.
	h := newFakeHost(t)
	host := h.open(t)
	t.Setenv("HOSTDEV_KMODEL_HOLD", "probe:"+nic)
	done := make(chan error, 1)
	go func() {
		_, err := host.Bind([]string{nic}, &hostdev.BindOptions{Timeout: waitLimit})
		done <- err
	}()
	if !waitFor(h.held) {
		t.Fatal("the probe was never written")
	}
	select {
	case err := <-done:
		t.Fatalf("Bind returned (%v) while the probe hangs", err)
	default:
	}
	h.release(t)
	if err := <-done; err != nil || h.driver(nic) != hostdev.VFIODriver {
		t.Fatalf("Bind after the release: %v, driver %q", err, h.driver(nic))
	}
	if _, err := host.Restore([]string{nic}, nil); err != nil {
		t.Fatal(err)
	}

	// A probe that never finishes (STALL): Bind waits its timeout, not less, and fails.
	os.Unsetenv("HOSTDEV_KMODEL_HOLD")
	t.Setenv("HOSTDEV_KMODEL_STALL", nic)
	start := time.Now()
	_, err := host.Bind([]string{nic}, &hostdev.BindOptions{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, syscall.ETIMEDOUT) || time.Since(start) < 300*time.Millisecond {
		t.Errorf("Bind = %v after %v", err, time.Since(start))
	}
	if h.driver(nic) != "e1000e" {
		t.Errorf("driver %q after the timeout", h.driver(nic))
	}
}

func TestCorruptJournal(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	if err := os.MkdirAll(h.path("var/lib/hostdev"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.path("var/lib/hostdev/vfio-journal.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Journal(); !errors.Is(err, syscall.EBADMSG) || !strings.Contains(err.Error(), "vfio-journal.json") {
		t.Errorf("Journal: %v", err)
	}
	if _, err := host.Bind([]string{nic}, nil); !errors.Is(err, syscall.EBADMSG) {
		t.Errorf("Bind: %v", err)
	}
}

func TestCheck(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	r, err := host.Check(nil, nil)
	if err != nil || r.Status == hostdev.CheckFail {
		t.Fatalf("Check: %+v, %v", r, err)
	}
	verdict := map[string]hostdev.CheckStatus{}
	for _, d := range r.Devices {
		verdict[d.Address] = d.Status
	}
	if verdict[nic] != hostdev.CheckPass || verdict[gpu] != hostdev.CheckWarn || verdict[mgmt] != hostdev.CheckFail {
		t.Errorf("verdicts %v", verdict)
	}
	if len(r.Checks) == 0 || r.Checks[0].ID != "iommu-groups" || r.Checks[0].Status.String() != "pass" {
		t.Errorf("checks %+v", r.Checks)
	}
	one, err := host.Check([]string{nic}, nil)
	if err != nil || len(one.Devices) != 1 {
		t.Errorf("Check(nic): %+v %v", one, err)
	}
	hostOnly, err := host.Check(nil, &hostdev.CheckOptions{HostOnly: true})
	if err != nil || len(hostOnly.Devices) != 0 || !strings.Contains(hostOnly.JSON, `"checks"`) {
		t.Errorf("host only: %+v %v", hostOnly, err)
	}
	if _, err := host.Check([]string{"0000:0f:00.0"}, nil); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Check(missing): %v", err)
	}
}

func TestNoIOMMUHost(t *testing.T) {
	h := newFakeHost(t, "--no-iommu")
	host := h.open(t)
	r, err := host.Check(nil, &hostdev.CheckOptions{HostOnly: true})
	if err != nil || r.Status != hostdev.CheckFail {
		t.Fatalf("Check: %+v, %v", r, err)
	}
	if _, err := host.Bind([]string{nic}, nil); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "IOMMU") {
		t.Errorf("Bind: %v", err)
	}
}

func TestPersistApply(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	if l, err := host.Persisted(); err != nil || len(l) != 0 {
		t.Fatalf("Persisted: %v %v", l, err)
	}
	if _, err := host.ModprobeConf(); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("ModprobeConf on an empty list: %v", err)
	}
	if added, err := host.PersistAdd(nic, nil); !added || err != nil {
		t.Fatalf("PersistAdd: %v %v", added, err)
	}
	if added, err := host.PersistAdd(nic, nil); added || err != nil {
		t.Fatalf("second PersistAdd: %v %v", added, err)
	}
	if _, err := host.PersistAdd(gpu, &hostdev.BindOptions{Group: true}); err != nil {
		t.Fatal(err)
	}
	l, err := host.Persisted()
	want := []hostdev.PersistEntry{{Address: nic, VendorID: 0x8086, DeviceID: 0x10d3},
		{Address: gpu, Group: true, VendorID: 0x10de, DeviceID: 0x1eb8}}
	if err != nil || len(l) != 2 || l[0] != want[0] || l[1] != want[1] {
		t.Errorf("Persisted = %+v, %v", l, err)
	}
	conf, err := host.ModprobeConf()
	if err != nil || !strings.Contains(conf, "8086:10d3") {
		t.Errorf("ModprobeConf = %q, %v", conf, err)
	}
	n, err := host.Apply(nil)
	mustN(t, "Apply", n, err, 3)
	n, err = host.Apply(nil)
	mustN(t, "second Apply", n, err, 0)
	if err := host.PersistRemove(nic); err != nil {
		t.Fatal(err)
	}
	if err := host.PersistRemove(nic); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("PersistRemove of an unlisted address: %v", err)
	}
	n, err = host.RestoreAll(nil)
	mustN(t, "RestoreAll", n, err, 3)
}

func TestLoadVFIOModules(t *testing.T) {
	h := newFakeHost(t)
	host := h.open(t)
	if loaded, err := host.LoadVFIOModules(); loaded || err != nil {
		t.Errorf("LoadVFIOModules = %v, %v", loaded, err)
	}
}

func TestRestoreReport(t *testing.T) {
	const spare = "0000:06:00.0"
	h := newFakeHost(t)
	host := h.open(t)
	n, err := host.Bind([]string{nic, spare}, nil)
	mustN(t, "Bind", n, err, 2)
	dir, err := filepath.EvalSymlinks(h.path("sys/bus/pci/devices/" + spare))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(h.path("sys/bus/pci/devices/" + spare)); err != nil {
		t.Fatal(err)
	}
	out, err := host.RestoreReport(nil, true, nil)
	if err != nil || len(out) != 2 {
		t.Fatalf("RestoreReport = %+v, %v", out, err)
	}
	if out[0].Address != spare || out[0].Outcome != "gone" || !out[0].RecordKept ||
		out[0].Driver != "" || !strings.Contains(out[0].Message, "record kept") {
		t.Errorf("gone: %+v", out[0])
	}
	if out[1].Address != nic || out[1].Outcome != "restored" || out[1].RecordKept ||
		out[1].Driver != "e1000e" {
		t.Errorf("restored: %+v", out[1])
	}
	out, err = host.RestoreReport([]string{spare}, false, &hostdev.RestoreOptions{ForgetGone: true,
		LockTimeout: 5 * time.Second})
	if err != nil || len(out) != 1 || out[0].RecordKept {
		t.Fatalf("forget gone: %+v, %v", out, err)
	}
	if j, err := host.Journal(); err != nil || len(j.Records) != 0 {
		t.Errorf("journal after forget: %+v, %v", j, err)
	}
}

func TestActiveMdevs(t *testing.T) {
	h := newFakeHost(t, "--vgpu")
	host := h.open(t)
	vf, err := host.PCIDevice("0000:c1:00.4")
	if err != nil {
		t.Fatal(err)
	}
	want := []hostdev.ActiveMdev{{UUID: "8b0c8e8a-4f1e-4a55-9b7e-2f0e4b8a3c01", Type: "nvidia-744",
		TypeName: "NVIDIA A2-4Q", IOMMUGroup: 100, InUse: 1}}
	if len(vf.ActiveMdevs) != 1 || vf.ActiveMdevs[0] != want[0] {
		t.Errorf("ActiveMdevs = %+v, want %+v", vf.ActiveMdevs, want)
	}
	_, err = host.Bind([]string{"0000:c1:00.4"}, nil)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "active mediated device") {
		t.Errorf("Bind of a vGPU parent: %v", err)
	}
}
