// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// VGPUType is a vGPU type a VF can take now (a line of nvidia/creatable_vgpu_types).
type VGPUType struct {
	ID   uint   // what the library's hostdev_vgpu_set_type() takes
	Name string // "NVIDIA A2-4Q"
}

// VGPU is a VF with NVIDIA's vGPU attributes (docs/vgpu.md): on kernels >= 6.8 with NVIDIA's
// vendor-specific VFIO driver, a vGPU is a VF of the GPU that holds a vGPU type.
type VGPU struct {
	Address     string     // the VF
	PF          string     // its GPU, "" without physfn
	Driver      string     // "nvidia"; "" when none
	IOMMUGroup  int        // -1 when none
	CurrentType uint       // the type it holds, 0 for none
	CurrentName string     // its name, "" for none or unknown
	Journaled   bool       // the vGPU journal records it (libhostdev set the type)
	Creatable   []VGPUType // the types it can take now, in the driver's order
}

// VGPUs returns the VFs with NVIDIA's vGPU attributes: every one (address ""), those of the GPU
// address, or the VF address; in address order. Errors wrap syscall.ENODEV (no such device),
// EOPNOTSUPP (address offers no vGPU types; the message says why) and EBADMSG (a driver text the
// library does not understand).
func (h *Host) VGPUs(address string) ([]VGPU, error) {
	var out []VGPU
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		l := capi.Hdb_vgpu_read(ctx, address, rc)
		if err := h.check("VGPUs", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_vgpu_list(l)
		n := capi.Hostdev_vgpu_list_get_count(l)
		out = make([]VGPU, 0, n)
		for i := int64(0); i < n; i++ {
			v := VGPU{
				Address:     capi.Hostdev_vgpu_list_get_address(l, i),
				PF:          capi.Hostdev_vgpu_list_get_pf(l, i),
				Driver:      capi.Hostdev_vgpu_list_get_driver(l, i),
				IOMMUGroup:  capi.Hostdev_vgpu_list_get_iommu_group(l, i),
				CurrentType: capi.Hostdev_vgpu_list_get_current_type(l, i),
				CurrentName: capi.Hostdev_vgpu_list_get_current_name(l, i),
				Journaled:   capi.Hostdev_vgpu_list_is_journaled(l, i) != 0,
			}
			types := capi.Hostdev_vgpu_list_get_type_count(l, i)
			v.Creatable = make([]VGPUType, 0, types)
			for k := int64(0); k < types; k++ {
				v.Creatable = append(v.Creatable, VGPUType{
					ID:   capi.Hostdev_vgpu_list_get_type_id(l, i, k),
					Name: capi.Hostdev_vgpu_list_get_type_name(l, i, k),
				})
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// VGPUDefaultTimeout is the watchdog of each sysfs write when VGPUOptions.Timeout is 0.
const VGPUDefaultTimeout = time.Duration(capi.HOSTDEV_VGPU_DEFAULT_TIMEOUT_MS) * time.Millisecond

// VGPUOptions are the options of SetVGPUType, ClearVGPUType and RestoreVGPUs; nil means the
// defaults.
type VGPUOptions struct {
	// Timeout bounds each write of nvidia/current_vgpu_type (the watchdog); 0 =
	// VGPUDefaultTimeout.
	Timeout time.Duration
	// LockTimeout bounds the wait for the vfio lock another process holds; 0 = the library's
	// default.
	LockTimeout time.Duration
}

func (o *VGPUOptions) ms() (timeout, lock uint) {
	if o == nil {
		return 0, 0
	}
	return timeoutMS(o.Timeout), timeoutMS(o.LockTimeout)
}

// SetVGPUType gives the VF vGPU type typeID (one of its Creatable types), recorded in the vGPU
// journal first so that RestoreVGPUs undoes it (hostdev_vgpu_set_type). It returns true when the
// type was set, false when the VF held it already. Errors wrap syscall.EINVAL (type 0: use
// ClearVGPUType), EOPNOTSUPP (no vGPU attributes, e.g. on vfio-pci), EBUSY (it holds another
// type), ENOENT (the type is not creatable now; the message lists what is) and ETIMEDOUT (the
// driver did not answer; the record stays); the message names the VF and says what to do.
func (h *Host) SetVGPUType(vf string, typeID uint, opts *VGPUOptions) (bool, error) {
	timeout, lock := opts.ms()
	var r int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		r = capi.Hdb_vgpu_set_type(ctx, vf, typeID, timeout, lock)
		return h.check("SetVGPUType", r)
	})
	return r > 0, err
}

// ClearVGPUType takes the VF's vGPU type away and drops its journal record
// (hostdev_vgpu_clear_type). It returns true when a type was cleared, false when it held none.
func (h *Host) ClearVGPUType(vf string, opts *VGPUOptions) (bool, error) {
	timeout, lock := opts.ms()
	var r int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		r = capi.Hdb_vgpu_clear_type(ctx, vf, timeout, lock)
		return h.check("ClearVGPUType", r)
	})
	return r > 0, err
}

// RestoreVGPUs undoes what the vGPU journal records: of one VF, or of every VF when vf is ""
// (hostdev_vgpu_restore). It returns how many types it took away; a record of a VF found
// without its type is dropped. Errors wrap syscall.ENOENT (the VF has no record).
func (h *Host) RestoreVGPUs(vf string, opts *VGPUOptions) (int, error) {
	timeout, lock := opts.ms()
	var n int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		n = capi.Hdb_vgpu_restore(ctx, vf, timeout, lock)
		return h.check("RestoreVGPUs", n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
