// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"runtime"
	"strconv"
	"sync"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// The files a DRA driver hands to the container runtime and to KubeVirt (hostdev/dra.h,
// docs/dra.md): CDI spec files and KEP-5304 device-metadata files. Their calls go through the
// Host they were made with (its lock, its messages).

// CDISpec is a CDI spec file (the Container Device Interface's JSON form) of one kind
// ("<vendor>/<class>", e.g. "vfio.hostdev.io/pci") and its devices, each with the device nodes
// the runtime creates in the container. Close it when done (a finalizer frees a forgotten one).
type CDISpec struct {
	host *Host
	mu   sync.Mutex
	spec capi.Hostdev_dra_cdi_spec
	// Kind is "<vendor>/<class>".
	Kind string
}

// NewCDISpec makes an empty spec of kind. Errors wrap syscall.EINVAL with a message saying which
// part of the kind is wrong.
func (h *Host) NewCDISpec(kind string) (*CDISpec, error) {
	var raw capi.Hostdev_dra_cdi_spec
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus("NewCDISpec", func(st capi.Hdb_status) { raw = capi.Hdb_dra_cdi_spec_new(ctx, kind, st) })
	})
	if err != nil {
		return nil, err
	}
	s := &CDISpec{host: h, spec: raw, Kind: kind}
	runtime.SetFinalizer(s, (*CDISpec).Close)
	return s, nil
}

func (s *CDISpec) do(op string, fn func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spec == nil {
		return ErrClosed
	}
	return s.host.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus(op, func(st capi.Hdb_status) { fn(ctx, s.spec, st) })
	})
}

// AddDevice adds device name ([A-Za-z0-9] at both ends, [A-Za-z0-9_.-] between, unique) without
// edits; AddDeviceNode gives it nodes.
func (s *CDISpec) AddDevice(name string) error {
	return s.do("AddDevice", func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status) {
		capi.Hdb_dra_cdi_spec_add_device(ctx, spec, name, st)
	})
}

// AddVFIODevice adds device name with the nodes of a vfio-pci device: /dev/vfio/vfio and
// /dev/vfio/<iommuGroup>, and when vfioCdev >= 0 the iommufd nodes /dev/iommu and
// /dev/vfio/devices/vfio<vfioCdev> (pass -1 without a vfio cdev).
func (s *CDISpec) AddVFIODevice(name string, iommuGroup int, vfioCdev int) error {
	return s.do("AddVFIODevice", func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status) {
		capi.Hdb_dra_cdi_spec_add_vfio_device(ctx, spec, name, strconv.Itoa(iommuGroup), vfioCdev, st)
	})
}

// AddDeviceNode adds device node path (absolute, under /dev) to device name. Errors wrap
// syscall.ENOENT when the spec has no device name.
func (s *CDISpec) AddDeviceNode(name, path string) error {
	return s.do("AddDeviceNode", func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status) {
		capi.Hdb_dra_cdi_spec_add_device_node(ctx, spec, name, path, st)
	})
}

// DeviceID returns the qualified CDI id of device name, "<kind>=<name>": what PrepareClaim
// answers in DRADevice.CDIDeviceIDs.
func (s *CDISpec) DeviceID(name string) (string, error) {
	var id string
	err := s.do("DeviceID", func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status) {
		id = capi.Hdb_dra_cdi_spec_get_device_id(ctx, spec, name, st)
	})
	return id, err
}

// JSON returns the spec as JSON text.
func (s *CDISpec) JSON() (string, error) {
	var text string
	err := s.do("JSON", func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status) {
		text = capi.Hdb_dra_cdi_spec_to_json(ctx, spec, st)
	})
	return text, err
}

// Write writes the spec to dir/fileName atomically, mode 0644. dir must exist and is not followed
// when it is a symbolic link (syscall.ELOOP); fileName is a plain name ending in ".json".
func (s *CDISpec) Write(dir, fileName string) error {
	return s.do("Write", func(ctx capi.Hostdev_ctx, spec capi.Hostdev_dra_cdi_spec, st capi.Hdb_status) {
		capi.Hdb_dra_cdi_spec_write(ctx, spec, dir, fileName, st)
	})
}

// Close frees the spec. Safe to call twice.
func (s *CDISpec) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spec != nil {
		capi.DeleteHostdev_dra_cdi_spec(s.spec)
		s.spec = nil
	}
	runtime.SetFinalizer(s, nil)
	return nil
}

// RemoveCDISpec removes dir/fileName written by CDISpec.Write; a missing file is not an error.
func (h *Host) RemoveCDISpec(dir, fileName string) error {
	return h.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus("RemoveCDISpec", func(st capi.Hdb_status) { capi.Hdb_dra_cdi_spec_remove(ctx, dir, fileName, st) })
	})
}

// DeviceMetadata is the device metadata of one request of a claim, as KubeVirt reads it
// (KEP-5304): a DeviceMetadata file under the driver's plugin data directory and the CDI spec that
// mounts it into the container. Close it when done (a finalizer frees a forgotten one).
type DeviceMetadata struct {
	host *Host
	mu   sync.Mutex
	md   capi.Hostdev_dra_metadata
}

// NewDeviceMetadata makes the metadata of request of claim (as given to PrepareClaim or
// UnprepareClaim) of driver. Errors wrap syscall.EINVAL (an empty name, or one that cannot be a
// path component).
func (h *Host) NewDeviceMetadata(driver string, claim DRAClaim, request string) (*DeviceMetadata, error) {
	var raw capi.Hostdev_dra_metadata
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus("NewDeviceMetadata", func(st capi.Hdb_status) {
			raw = capi.Hdb_dra_metadata_new(ctx, driver, claim.Namespace, claim.Name, claim.UID, request, st)
		})
	})
	if err != nil {
		return nil, err
	}
	m := &DeviceMetadata{host: h, md: raw}
	runtime.SetFinalizer(m, (*DeviceMetadata).Close)
	return m, nil
}

func (m *DeviceMetadata) do(op string, fn func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.md == nil {
		return ErrClosed
	}
	return m.host.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus(op, func(st capi.Hdb_status) { fn(ctx, m.md, st) })
	})
}

// AddPCIDevice adds device of pool, the PCI function pciBusID ("dddd:bb:dd.f", attribute
// resource.kubernetes.io/pciBusID).
func (m *DeviceMetadata) AddPCIDevice(pool, device, pciBusID string) error {
	return m.do("AddPCIDevice", func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status) {
		capi.Hdb_dra_metadata_add_device(ctx, md, pool, device, pciBusID, "", st)
	})
}

// AddMdevDevice adds device of pool, the mediated device mdevUUID (attribute mdevUUID).
func (m *DeviceMetadata) AddMdevDevice(pool, device, mdevUUID string) error {
	return m.do("AddMdevDevice", func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status) {
		capi.Hdb_dra_metadata_add_device(ctx, md, pool, device, "", mdevUUID, st)
	})
}

// CDIID returns the qualified CDI id of the metadata's bind mount,
// "<driver>/metadata=<claim uid>_<request>": add it to the CDI ids of the request's devices.
func (m *DeviceMetadata) CDIID() (string, error) {
	var id string
	err := m.do("CDIID", func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status) {
		id = capi.Hdb_dra_metadata_get_cdi_id(ctx, md, st)
	})
	return id, err
}

// JSON returns the DeviceMetadata file's JSON text.
func (m *DeviceMetadata) JSON() (string, error) {
	var text string
	err := m.do("JSON", func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status) {
		text = capi.Hdb_dra_metadata_to_json(ctx, md, st)
	})
	return text, err
}

// Write writes the metadata file below dataDir (the driver's plugin data directory,
// <plugin dir>/<driver>) and its CDI spec into cdiDir, both atomically (docs/dra.md has the
// paths). Errors wrap syscall.EINVAL without devices, or the errno of the file system.
func (m *DeviceMetadata) Write(dataDir, cdiDir string) error {
	return m.do("Write", func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status) {
		capi.Hdb_dra_metadata_write(ctx, md, dataDir, cdiDir, st)
	})
}

// Remove removes both files and the directories left empty; files that are not there are not an
// error. On unprepare, make the metadata from the claim alone (no devices needed).
func (m *DeviceMetadata) Remove(dataDir, cdiDir string) error {
	return m.do("Remove", func(ctx capi.Hostdev_ctx, md capi.Hostdev_dra_metadata, st capi.Hdb_status) {
		capi.Hdb_dra_metadata_remove(ctx, md, dataDir, cdiDir, st)
	})
}

// Close frees the metadata. Safe to call twice.
func (m *DeviceMetadata) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.md != nil {
		capi.DeleteHostdev_dra_metadata(m.md)
		m.md = nil
	}
	runtime.SetFinalizer(m, nil)
	return nil
}
