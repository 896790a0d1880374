// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// Mdev is an existing mediated device (/sys/bus/mdev/devices/<uuid>).
type Mdev struct {
	UUID       string // lower case; also the device name
	Parent     string // PCI address or device name such as "mtty"
	Type       string // type id, e.g. "nvidia-222"
	TypeName   string // the type's human name, "" when it has none
	Selector   string // KubeVirt mdevNameSelector form of the type
	IOMMUGroup int    // what a VMM opens as /dev/vfio/<group>; -1 when none
	Driver     string // bound mdev driver ("vfio_mdev", "nvidia-vgpu-vfio"), "" when none
}

// MdevDefaultTimeout is the watchdog CreateMdev and RemoveMdev use when MdevOptions.Timeout is 0.
const MdevDefaultTimeout = time.Duration(capi.HOSTDEV_MDEV_DEFAULT_TIMEOUT_MS) * time.Millisecond

// MdevOptions are the options of CreateMdev and RemoveMdev; nil means the defaults.
type MdevOptions struct {
	// Timeout bounds the create/remove write (the watchdog) and then the wait for the device to
	// appear or go; 0 = MdevDefaultTimeout.
	Timeout time.Duration
}

func (o *MdevOptions) timeoutMS() uint {
	if o == nil {
		return 0
	}
	return timeoutMS(o.Timeout)
}

// MdevTypes returns the mdev types of every parent (parent "") or of one parent: a PCI address
// ("DDDD:BB:SS.F" or "BB:SS.F") or a device name of /sys/class/mdev_bus ("mtty"); sorted by parent
// then type id, with Parent, PCIParent and Selector set. A host without parents gives an empty
// list. Errors wrap syscall.ENODEV (no such parent) and EOPNOTSUPP (parent offers no mdev types).
func (h *Host) MdevTypes(parent string) ([]MdevType, error) {
	var out []MdevType
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		t := capi.Hdb_mdev_types_read(ctx, parent, rc)
		if err := h.check("MdevTypes", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_mdev_types(t)
		n := capi.Hostdev_mdev_types_get_count(t)
		out = make([]MdevType, 0, n)
		for i := int64(0); i < n; i++ {
			out = append(out, MdevType{
				ID:          capi.Hostdev_mdev_types_get_type(t, i),
				Name:        capi.Hostdev_mdev_types_get_name(t, i),
				Available:   capi.Hostdev_mdev_types_get_available(t, i),
				DeviceAPI:   capi.Hostdev_mdev_types_get_device_api(t, i),
				Description: capi.Hostdev_mdev_types_get_description(t, i),
				Parent:      capi.Hostdev_mdev_types_get_parent(t, i),
				PCIParent:   capi.Hostdev_mdev_types_is_pci_parent(t, i) != 0,
				Selector:    capi.Hostdev_mdev_types_get_selector(t, i),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Mdevs returns the mediated devices that exist, sorted by UUID; none without the mdev bus.
func (h *Host) Mdevs() ([]Mdev, error) {
	var out []Mdev
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		l := capi.Hdb_mdev_list_read(ctx, rc)
		if err := h.check("Mdevs", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_mdev_list(l)
		n := capi.Hostdev_mdev_list_get_count(l)
		out = make([]Mdev, 0, n)
		for i := int64(0); i < n; i++ {
			out = append(out, Mdev{
				UUID:       capi.Hostdev_mdev_list_get_uuid(l, i),
				Parent:     capi.Hostdev_mdev_list_get_parent(l, i),
				Type:       capi.Hostdev_mdev_list_get_type(l, i),
				TypeName:   capi.Hostdev_mdev_list_get_type_name(l, i),
				Selector:   capi.Hostdev_mdev_list_get_selector(l, i),
				IOMMUGroup: capi.Hostdev_mdev_list_get_iommu_group(l, i),
				Driver:     capi.Hostdev_mdev_list_get_driver(l, i),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateMdev creates an mdev of type mdevType (an MdevType.ID) on parent (as in MdevTypes) with
// uuid, or a generated UUID when uuid is "", waits for it to appear, and returns its UUID (lower
// case). It refuses before writing: errors wrap syscall.ENOENT (no such type; the message lists
// the parent's types), ENOSPC (no available instances), EEXIST (UUID in use); also ENODEV (no such
// parent), EINVAL (malformed UUID), ETIMEDOUT (the kernel may still complete it), or the
// driver's errno.
func (h *Host) CreateMdev(parent, mdevType, uuid string, opts *MdevOptions) (string, error) {
	var out string
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		out = capi.Hdb_mdev_create(ctx, parent, mdevType, uuid, opts.timeoutMS(), 0, rc)
		return h.check("CreateMdev", rc[0])
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// RemoveMdev removes the mdev uuid and waits until it is gone. Errors wrap syscall.ENODEV (no such
// mdev), EINVAL (malformed UUID), ETIMEDOUT (a VM probably still holds it open; the kernel removes
// it once it lets go), or the driver's errno.
func (h *Host) RemoveMdev(uuid string, opts *MdevOptions) error {
	return h.do(func(ctx capi.Hostdev_ctx) error {
		return h.check("RemoveMdev", capi.Hdb_mdev_remove(ctx, uuid, opts.timeoutMS(), 0))
	})
}

// NewMdevUUID returns a new random (version 4) UUID in lower case, as CreateMdev generates them.
func (h *Host) NewMdevUUID() (string, error) {
	var out string
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		out = capi.Hdb_mdev_uuid_generate(ctx, rc)
		return h.check("NewMdevUUID", rc[0])
	})
	return out, err
}
