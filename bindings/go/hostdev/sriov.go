// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// SRIOVPF is a snapshot of an SR-IOV physical function and its VFs (hostdev_sriov_pf).
type SRIOVPF struct {
	Address    string // "dddd:bb:ss.f"
	Driver     string // "" when the PF has no driver (then no VF count can be set)
	TotalVFs   int    // sriov_totalvfs: the most VFs the PF offers
	NumVFs     int    // sriov_numvfs: VFs enabled now
	VFDeviceID uint16 // sriov_vf_device, 0 when unknown
	Offset     int    // sriov_offset: routing-ID offset of VF 0, 0 when unknown
	Stride     int    // sriov_stride: routing-ID distance between VFs, 0 when unknown
	// Autoprobe is sriov_drivers_autoprobe: 1 when the kernel probes drivers for new VFs, 0
	// when new VFs stay driverless (ready for vfio-pci), -1 when the kernel does not say.
	Autoprobe int
	VFs       []SRIOVVF // the VFs present (virtfn<N> links), in VF index order
}

// SRIOVVF is one VF of an SRIOVPF.
type SRIOVVF struct {
	Index      int    // N of virtfn<N>
	Address    string // "dddd:bb:ss.f"
	Driver     string // "" when none
	IOMMUGroup int    // -1 when none
	Netdev     string // first network interface, "" when none (e.g. on vfio-pci)
	MAC        string // MAC of Netdev ("aa:bb:cc:dd:ee:ff"), "" without an interface
}

// VF returns the VF with index n, and whether there is one.
func (pf *SRIOVPF) VF(n int) (SRIOVVF, bool) {
	for _, vf := range pf.VFs {
		if vf.Index == n {
			return vf, true
		}
	}
	return SRIOVVF{}, false
}

// Autoprobe says what SetNumVFs does with the PF's sriov_drivers_autoprobe before it makes VFs.
type Autoprobe int

// Values of SRIOVOptions.Autoprobe.
const (
	AutoprobeKeep Autoprobe = iota // leave it as it is
	AutoprobeOff                   // write 0: new VFs stay driverless, ready for vfio-pci
	AutoprobeOn                    // write 1: the kernel probes VF drivers as usual
)

func (a Autoprobe) c() (uint, bool) {
	switch a {
	case AutoprobeKeep:
		return uint(capi.HOSTDEV_SRIOV_AUTOPROBE_KEEP), true
	case AutoprobeOff:
		return uint(capi.HOSTDEV_SRIOV_AUTOPROBE_OFF), true
	case AutoprobeOn:
		return uint(capi.HOSTDEV_SRIOV_AUTOPROBE_ON), true
	}
	return 0, false
}

// SRIOVDefaultTimeout is the watchdog SetNumVFs uses when SRIOVOptions.Timeout is 0.
const SRIOVDefaultTimeout = time.Duration(capi.HOSTDEV_SRIOV_DEFAULT_TIMEOUT_MS) * time.Millisecond

// SRIOVOptions are the options of SetNumVFs. The zero value (or nil) keeps autoprobe, refuses to
// destroy VFs in use, and uses SRIOVDefaultTimeout.
type SRIOVOptions struct {
	// Autoprobe is applied to sriov_drivers_autoprobe before the VFs are made.
	Autoprobe Autoprobe
	// Force changes the count even though a VF that goes away is bound to vfio-pci or recorded
	// in the vfio journal (HOSTDEV_SRIOV_FORCE); the journal records of those VFs are dropped.
	Force bool
	// Timeout bounds each sysfs write (the watchdog) and, separately, the wait for the VF
	// links; 0 = SRIOVDefaultTimeout.
	Timeout time.Duration
}

func readSRIOVPF(pf capi.Hostdev_sriov_pf) SRIOVPF {
	out := SRIOVPF{
		Address:    capi.Hostdev_sriov_pf_get_address(pf),
		Driver:     capi.Hostdev_sriov_pf_get_driver(pf),
		TotalVFs:   int(capi.Hostdev_sriov_pf_get_total_vfs(pf)),
		NumVFs:     int(capi.Hostdev_sriov_pf_get_num_vfs(pf)),
		VFDeviceID: uint16(capi.Hostdev_sriov_pf_get_vf_device_id(pf)),
		Offset:     int(capi.Hostdev_sriov_pf_get_offset(pf)),
		Stride:     int(capi.Hostdev_sriov_pf_get_stride(pf)),
		Autoprobe:  capi.Hostdev_sriov_pf_get_autoprobe(pf),
	}
	for i := int64(0); i < capi.Hostdev_sriov_pf_get_vf_count(pf); i++ {
		out.VFs = append(out.VFs, SRIOVVF{
			Index:      capi.Hostdev_sriov_pf_get_vf_index(pf, i),
			Address:    capi.Hostdev_sriov_pf_get_vf_address(pf, i),
			Driver:     capi.Hostdev_sriov_pf_get_vf_driver(pf, i),
			IOMMUGroup: capi.Hostdev_sriov_pf_get_vf_iommu_group(pf, i),
			Netdev:     capi.Hostdev_sriov_pf_get_vf_netdev(pf, i),
			MAC:        capi.Hostdev_sriov_pf_get_vf_mac(pf, i),
		})
	}
	return out
}

// SRIOVPF reads the SR-IOV PF at address ("DDDD:BB:SS.F" or "BB:SS.F") and its VFs. Errors wrap
// syscall.ENODEV (no such device), EOPNOTSUPP (not a PF; for a VF the message names its PF),
// EINVAL (malformed address).
func (h *Host) SRIOVPF(address string) (SRIOVPF, error) {
	var out SRIOVPF
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		pf := capi.Hdb_sriov_pf_new(ctx, address, rc)
		if err := h.check("SRIOVPF", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_sriov_pf(pf)
		out = readSRIOVPF(pf)
		return nil
	})
	return out, err
}

// SRIOVPFs returns every SR-IOV PF of the host in address order. PFs that vanish or stop being
// PFs during the scan are skipped.
func (h *Host) SRIOVPFs() ([]SRIOVPF, error) {
	var pfs []SRIOVPF
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		e := capi.Hdb_pci_enum_new(ctx, rc)
		if err := h.check("SRIOVPFs", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_pci_enum(e)
		for {
			dev := capi.Hdb_pci_enum_next(e, rc)
			if rc[0] == 0 {
				return nil
			}
			if err := h.check("SRIOVPFs", rc[0]); err != nil {
				return err
			}
			isPF := capi.Hostdev_pci_device_is_sriov_pf(dev) != 0
			address := capi.Hostdev_pci_device_get_address(dev)
			capi.DeleteHostdev_pci_device(dev)
			if !isPF {
				continue
			}
			pf := capi.Hdb_sriov_pf_new(ctx, address, rc)
			if rc[0] == -int(syscall.ENODEV) || rc[0] == -int(syscall.EOPNOTSUPP) {
				continue
			}
			if err := h.check("SRIOVPFs", rc[0]); err != nil {
				return err
			}
			pfs = append(pfs, readSRIOVPF(pf))
			capi.DeleteHostdev_sriov_pf(pf)
		}
	})
	if err != nil {
		return nil, err
	}
	return pfs, nil
}

// SetNumVFs sets the number of VFs of the PF at address to numVFs with the kernel's rules
// (docs/sriov-mdev.md): 0 is written before a different non-zero count, each write runs under a
// watchdog, VFs bound to vfio-pci or in the vfio journal are not destroyed unless opts.Force.
//
// It returns the number of VFs enabled afterwards, which is less than numVFs when the PF driver
// enabled fewer (a partial enable, logged as a warning). Errors wrap syscall.EINVAL (bad address,
// negative count), ENODEV (no such device), EOPNOTSUPP (not a PF), ERANGE (more than TotalVFs),
// EBUSY (VFs in use, or changed by someone else), ENOENT (the PF has no driver or its driver
// cannot configure SR-IOV), ETIMEDOUT (the kernel may still complete the write: read the PF again
// before writing again), or the PF driver's errno (ENOSPC, EIO, ...).
func (h *Host) SetNumVFs(address string, numVFs int, opts *SRIOVOptions) (int, error) {
	if opts == nil {
		opts = &SRIOVOptions{}
	}
	autoprobe, ok := opts.Autoprobe.c()
	if !ok {
		return 0, newError("SetNumVFs", -int(syscall.EINVAL),
			fmt.Sprintf("unknown SRIOVOptions.Autoprobe %d: use AutoprobeKeep, AutoprobeOff or AutoprobeOn",
				int(opts.Autoprobe)))
	}
	if numVFs < 0 {
		return 0, newError("SetNumVFs", -int(syscall.EINVAL),
			fmt.Sprintf("%s: cannot enable %d VFs: the count must not be negative", address, numVFs))
	}
	// Counts beyond 65535 are refused by the library (ERANGE); keep them an unsigned int.
	n := uint(numVFs)
	if n > math.MaxUint32 {
		n = math.MaxUint32
	}
	var flags uint
	if opts.Force {
		flags |= uint(capi.HOSTDEV_SRIOV_FORCE)
	}
	var enabled int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		enabled = capi.Hdb_sriov_set_num_vfs(ctx, address, n, timeoutMS(opts.Timeout), autoprobe,
			flags)
		return h.check("SetNumVFs", enabled)
	})
	if err != nil {
		return 0, err
	}
	return enabled, nil
}
