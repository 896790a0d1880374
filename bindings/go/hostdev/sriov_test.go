// SPDX-License-Identifier: Apache-2.0

package hostdev_test

// SR-IOV through the Go layer, on the SR-IOV test host with the kernel model (preloaded into the
// test binary by run-tests.sh): it plays the kernel's sriov_numvfs and sriov_drivers_autoprobe
// stores below the fake root. Nothing is written to this machine's /sys.
//
// The host (tests/sriov/sriov_tree.h): NVMe PF 01:00.0 (nvme, total 8, offset 1, stride 1), X710
// PF 3b:00.0 (i40e, total 8, offset 16, stride 1, VFs 8086:154c on iavf with netdevs ens4f0vN),
// X710 PF 3b:00.1 (total 4), PF 5e:00.0 without a driver (total 4), virtio-net 00:03.0 (not a PF).

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

const (
	nvmePF  = "0000:01:00.0"
	nicPF   = "0000:3b:00.0"
	nicPF2  = "0000:3b:00.1"
	nodrvPF = "0000:5e:00.0"
	virtio  = "0000:00:03.0"
)

// wantErr checks that err is a *hostdev.Error wrapping errno whose message contains each needle.
func wantErr(t *testing.T, what string, err error, errno syscall.Errno, needles ...string) {
	t.Helper()
	var herr *hostdev.Error
	if !errors.Is(err, errno) || !errors.As(err, &herr) {
		t.Fatalf("%s: error %v, want errno %d (%v)", what, err, int(errno), errno)
	}
	if herr.Errno != errno {
		t.Errorf("%s: Errno %d, want %d", what, herr.Errno, errno)
	}
	for _, n := range needles {
		if !strings.Contains(herr.Message, n) {
			t.Errorf("%s: %q not in message %q", what, n, herr.Message)
		}
	}
}

func TestSRIOVPF(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	pf, err := host.SRIOVPF("3b:00.0")
	if err != nil {
		t.Fatal(err)
	}
	want := hostdev.SRIOVPF{Address: nicPF, Driver: "i40e", TotalVFs: 8, NumVFs: 0, VFDeviceID: 0x154c,
		Offset: 16, Stride: 1, Autoprobe: 1}
	if fmt.Sprint(pf) != fmt.Sprint(want) {
		t.Errorf("PF %+v\nwant %+v", pf, want)
	}
	// The values are the tree's attributes.
	if total, _ := strconv.Atoi(h.attr(t, nicPF, "sriov_totalvfs")); pf.TotalVFs != total {
		t.Errorf("TotalVFs %d, sriov_totalvfs %d", pf.TotalVFs, total)
	}
	if id, _ := strconv.ParseUint(h.attr(t, nicPF, "sriov_vf_device"), 16, 16); uint64(pf.VFDeviceID) != id {
		t.Errorf("VFDeviceID %04x, sriov_vf_device %04x", pf.VFDeviceID, id)
	}
	if _, ok := pf.VF(0); ok {
		t.Error("VF 0 without VFs")
	}
	nvme, err := host.SRIOVPF(nvmePF)
	if err != nil || nvme.Driver != "nvme" || nvme.VFDeviceID != 0x0010 || nvme.Offset != 1 {
		t.Errorf("NVMe PF %+v, %v", nvme, err)
	}
	if nodrv, err := host.SRIOVPF(nodrvPF); err != nil || nodrv.Driver != "" || nodrv.TotalVFs != 4 {
		t.Errorf("driverless PF %+v, %v", nodrv, err)
	}

	_, err = host.SRIOVPF(virtio)
	wantErr(t, "SRIOVPF(virtio)", err, syscall.EOPNOTSUPP, "not an SR-IOV physical function")
	_, err = host.SRIOVPF("77:00.0")
	wantErr(t, "SRIOVPF(77:00.0)", err, syscall.ENODEV, "no such PCI device")
	_, err = host.SRIOVPF("nonsense")
	wantErr(t, "SRIOVPF(nonsense)", err, syscall.EINVAL)
}

func TestSRIOVPFs(t *testing.T) {
	host := newSRIOVHost(t).open(t)
	pfs, err := host.SRIOVPFs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pf := range pfs {
		got = append(got, fmt.Sprintf("%s/%d", pf.Address, pf.TotalVFs))
	}
	if want := []string{nvmePF + "/8", nicPF + "/8", nicPF2 + "/4", nodrvPF + "/4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PFs %v, want %v", got, want)
	}
}

func TestSetNumVFs(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	n, err := host.SetNumVFs(nicPF, 4, nil)
	mustN(t, "SetNumVFs(4)", n, err, 4)
	if h.attr(t, nicPF, "sriov_numvfs") != "4" {
		t.Errorf("sriov_numvfs %s", h.attr(t, nicPF, "sriov_numvfs"))
	}
	pf, err := host.SRIOVPF(nicPF)
	if err != nil || pf.NumVFs != 4 || len(pf.VFs) != 4 {
		t.Fatalf("PF %+v, %v", pf, err)
	}
	mac := regexp.MustCompile(`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`)
	groups := map[int]bool{}
	for i, vf := range pf.VFs {
		if vf.Index != i || vf.Address != fmt.Sprintf("0000:3b:02.%d", i) || vf.Driver != "iavf" ||
			vf.Netdev != fmt.Sprintf("ens4f0v%d", i) || !mac.MatchString(vf.MAC) {
			t.Errorf("VF %d: %+v", i, vf)
		}
		if vf.IOMMUGroup < 0 || vf.IOMMUGroup == 12 || !h.has(fmt.Sprintf("sys/kernel/iommu_groups/%d", vf.IOMMUGroup)) {
			t.Errorf("VF %d: IOMMU group %d", i, vf.IOMMUGroup)
		}
		groups[vf.IOMMUGroup] = true
	}
	if len(groups) != 4 {
		t.Errorf("VF groups %v", groups)
	}
	if vf, ok := pf.VF(1); !ok || vf.MAC != "02:00:00:72:3b:01" {
		t.Errorf("VF 1: %+v %v", vf, ok)
	}
	dev, err := host.PCIDevice("3b:02.3")
	if err != nil || !dev.SRIOVVF || dev.PFAddress != nicPF || dev.VFIndex != 3 || dev.DeviceID != 0x154c {
		t.Errorf("VF device %+v, %v", dev, err)
	}
	_, err = host.SetNumVFs("3b:02.1", 0, nil)
	wantErr(t, "SetNumVFs(VF)", err, syscall.EOPNOTSUPP, "is virtual function 1 of PF "+nicPF)

	// N to M goes through 0; the kernel never sees a busy write.
	n, err = host.SetNumVFs(nicPF, 2, nil)
	mustN(t, "SetNumVFs(2)", n, err, 2)
	log := h.kmodelLog()
	if !regexp.MustCompile(`(?s)numvfs `+nicPF+` 0 -> ok\n.*numvfs `+nicPF+` 2 -> ok`).MatchString(log) ||
		strings.Contains(log, "Device or resource busy") {
		t.Errorf("kernel model log:\n%s", log)
	}
	if h.has("sys/bus/pci/devices/0000:3b:02.3") {
		t.Error("VF 3 left behind")
	}
	// The same count again: no write.
	writes := strings.Count(log, " numvfs ")
	n, err = host.SetNumVFs(nicPF, 2, nil)
	mustN(t, "SetNumVFs(2) again", n, err, 2)
	if strings.Count(h.kmodelLog(), " numvfs ") != writes {
		t.Error("a no-op wrote sriov_numvfs")
	}
	n, err = host.SetNumVFs(nicPF, 0, nil)
	mustN(t, "SetNumVFs(0)", n, err, 0)
	if h.has("sys/bus/pci/devices/0000:3b:02.0") || h.has("sys/class/net/ens4f0v0") {
		t.Error("VF 0 left behind")
	}

	// 8 VFs of the NVMe PF: VF 7 crosses into the next slot.
	n, err = host.SetNumVFs("01:00.0", 8, nil)
	mustN(t, "SetNumVFs(nvme, 8)", n, err, 8)
	nvme, _ := host.SRIOVPF(nvmePF)
	if len(nvme.VFs) != 8 || nvme.VFs[7].Address != "0000:01:01.0" || nvme.VFs[7].Driver != "" ||
		nvme.VFs[7].MAC != "" {
		t.Errorf("NVMe VFs %+v", nvme.VFs)
	}
}

func TestSetNumVFsRefusals(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	_, err := host.SetNumVFs(nicPF, 9, nil)
	wantErr(t, "SetNumVFs(9)", err, syscall.ERANGE, nicPF+": cannot enable 9 VFs: the PF offers at most 8")
	_, err = host.SetNumVFs(nicPF, 70000, nil)
	wantErr(t, "SetNumVFs(70000)", err, syscall.ERANGE)
	if strings.Contains(h.kmodelLog(), " numvfs ") {
		t.Error("ERANGE after a write")
	}
	_, err = host.SetNumVFs(nodrvPF, 2, nil)
	wantErr(t, "SetNumVFs(driverless)", err, syscall.ENOENT, "the PF has no driver", "bind its driver first")
	_, err = host.SetNumVFs(nicPF, -1, nil)
	wantErr(t, "SetNumVFs(-1)", err, syscall.EINVAL, "negative")
	_, err = host.SetNumVFs(nicPF, 1, &hostdev.SRIOVOptions{Autoprobe: 7})
	wantErr(t, "SetNumVFs(Autoprobe 7)", err, syscall.EINVAL, "Autoprobe")

	t.Setenv("HOSTDEV_KMODEL_FAIL", "numvfs:"+nicPF+":ENOSPC")
	_, err = host.SetNumVFs(nicPF, 2, nil)
	wantErr(t, "SetNumVFs(ENOSPC)", err, syscall.ENOSPC,
		"writing 2 to sriov_numvfs failed (No space left on device)", "ask for fewer VFs")
	if h.attr(t, nicPF, "sriov_numvfs") != "0" {
		t.Error("count changed")
	}
}

func TestSetNumVFsPartialEnableIsLogged(t *testing.T) {
	h := newSRIOVHost(t)
	t.Setenv("HOSTDEV_KMODEL_SRIOV_LIMIT", nicPF+":3")
	var logged []string
	host, err := hostdev.Open(hostdev.WithRoot(h.root), hostdev.WithPath(hostdev.PathModules, h.path("lib/modules/none")),
		hostdev.WithLogger(func(p int, m string) { logged = append(logged, fmt.Sprintf("%d %s", p, m)) }, hostdev.LogWarning))
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	n, err := host.SetNumVFs(nicPF, 6, nil)
	mustN(t, "SetNumVFs(6) limited to 3", n, err, 3)
	want := fmt.Sprintf("%d %s: 6 VFs requested, the PF driver i40e enabled only 3", hostdev.LogWarning, nicPF)
	if !strings.Contains(strings.Join(logged, "\n"), want) {
		t.Errorf("%q not logged: %q", want, logged)
	}
}

func TestSetNumVFsAutoprobeOffVFIORefusalAndForce(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	const vf1 = "0000:3b:02.1"
	n, err := host.SetNumVFs(nicPF, 2, &hostdev.SRIOVOptions{Autoprobe: hostdev.AutoprobeOff})
	mustN(t, "SetNumVFs(2, off)", n, err, 2)
	if h.attr(t, nicPF, "sriov_drivers_autoprobe") != "0" {
		t.Error("autoprobe not off")
	}
	pf, _ := host.SRIOVPF(nicPF)
	if pf.Autoprobe != 0 || pf.VFs[0].Driver != "" || pf.VFs[1].Netdev != "" {
		t.Errorf("PF %+v", pf)
	}
	n, err = host.Bind([]string{vf1}, &hostdev.BindOptions{Owner: "vm-a"})
	mustN(t, "Bind(VF 1)", n, err, 1)
	_, err = host.SetNumVFs(nicPF, 0, nil)
	wantErr(t, "SetNumVFs(0) while bound", err, syscall.EBUSY, "refusing to change the VF count from 2 to 0",
		"VF 1 "+vf1+" (vfio-pci, bound by libhostdev for 'vm-a')")
	if !h.has("sys/bus/pci/devices/" + vf1) {
		t.Fatal("VF removed despite the refusal")
	}
	n, err = host.SetNumVFs(nicPF, 0, &hostdev.SRIOVOptions{Force: true})
	mustN(t, "SetNumVFs(0, force)", n, err, 0)
	if h.has("sys/bus/pci/devices/" + vf1) {
		t.Error("VF still there")
	}
	if j, err := host.Journal(); err != nil || len(j.Records) != 0 {
		t.Errorf("journal %+v, %v", j, err)
	}
	n, err = host.SetNumVFs(nicPF, 1, &hostdev.SRIOVOptions{Autoprobe: hostdev.AutoprobeOn})
	mustN(t, "SetNumVFs(1, on)", n, err, 1)
	if pf, _ := host.SRIOVPF(nicPF); pf.Autoprobe != 1 || pf.VFs[0].Driver != "iavf" {
		t.Errorf("PF %+v", pf)
	}
}

func TestSetNumVFsWatchdog(t *testing.T) {
	h := newSRIOVHost(t)
	host := h.open(t)
	// The PF driver hangs until the test lets it go: only the watchdog can end the call.
	t.Setenv("HOSTDEV_KMODEL_HOLD", "numvfs:"+nicPF)
	_, err := host.SetNumVFs(nicPF, 2, &hostdev.SRIOVOptions{Timeout: 300 * time.Millisecond})
	wantErr(t, "SetNumVFs(hung driver)", err, syscall.ETIMEDOUT, "did not return within 300 ms",
		"may still complete the write")
	if !waitFor(h.held) || h.attr(t, nicPF, "sriov_numvfs") != "0" {
		t.Errorf("the driver is not hanging in the write: numvfs %s", h.attr(t, nicPF, "sriov_numvfs"))
	}
	// The kernel completes the write once the driver returns.
	h.release(t)
	if !waitFor(func() bool { pf, err := host.SRIOVPF(nicPF); return err == nil && len(pf.VFs) == 2 }) {
		t.Error("the held write never completed")
	}
}
