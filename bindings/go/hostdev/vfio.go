// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// VFIODriver is the driver Bind hands devices to.
const VFIODriver = "vfio-pci"

// BindOptions are the options of Bind, Apply and PersistAdd. The zero value (or nil) means the
// defaults: refuse shared IOMMU groups and guarded devices, no owner, the library's timeout.
type BindOptions struct {
	// Group binds every endpoint of the devices' IOMMU groups with them (HOSTDEV_BIND_GROUP).
	Group bool
	// Force binds devices the guard protects (HOSTDEV_BIND_FORCE): default-route NIC,
	// controller of a mounted filesystem, Protected addresses.
	Force bool
	// Owner is recorded in the journal with each device; RestoreAll can select by it.
	Owner string
	// Timeout of the wait for the kernel to show the binding; 0 = the library's default (5 s).
	Timeout time.Duration
	// Protected lists more addresses the guard refuses.
	Protected []string
}

func (o *BindOptions) flags() uint {
	var f uint
	if o != nil && o.Group {
		f |= uint(capi.HOSTDEV_BIND_GROUP)
	}
	if o != nil && o.Force {
		f |= uint(capi.HOSTDEV_BIND_FORCE)
	}
	return f
}

func timeoutMS(d time.Duration) uint {
	if d <= 0 {
		return 0
	}
	if ms := d.Milliseconds(); ms > 0 {
		return uint(ms)
	}
	return 1
}

// Bind hands the devices to vfio-pci as one operation: all of them, or none after a rollback.
// It returns how many devices it moved (0 when all were there already). Errors wrap
// syscall.EBUSY (IOMMU group shared with host devices), EPERM (guarded device), EINVAL (no
// IOMMU group, bridge, bad address), ENODEV (no such device), ETIMEDOUT, EBADMSG (corrupt
// journal). See docs/vfio.md.
func (h *Host) Bind(addresses []string, opts *BindOptions) (int, error) {
	if opts == nil {
		opts = &BindOptions{}
	}
	var n int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		addrs, prot := strv(addresses), strv(opts.Protected)
		defer capi.DeleteHdb_strv(addrs)
		defer capi.DeleteHdb_strv(prot)
		n = capi.Hdb_vfio_bind_set(ctx, addrs, opts.Owner, timeoutMS(opts.Timeout), prot,
			opts.flags())
		return h.check("Bind", n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// RestoreOptions are the options of Restore and RestoreAll.
type RestoreOptions struct {
	// Owner restricts RestoreAll to the records of this owner.
	Owner string
	// Unjournaled also releases devices on vfio-pci that libhostdev did not bind
	// (HOSTDEV_RESTORE_UNJOURNALED).
	Unjournaled bool
	// Timeout of the wait for each driver; 0 = the library's default.
	Timeout time.Duration
	// ForgetGone drops the records of devices that no longer exist (kept otherwise;
	// HOSTDEV_RESTORE_FORGET_GONE).
	ForgetGone bool
	// LockTimeout bounds the wait for the vfio lock another operation holds (RestoreReport);
	// 0 = the library's default.
	LockTimeout time.Duration
}

func (o *RestoreOptions) flags() uint {
	var f uint
	if o != nil && o.Unjournaled {
		f |= uint(capi.HOSTDEV_RESTORE_UNJOURNALED)
	}
	if o != nil && o.ForgetGone {
		f |= uint(capi.HOSTDEV_RESTORE_FORGET_GONE)
	}
	return f
}

// RestoreOutcome says what a restore did with one device.
type RestoreOutcome struct {
	Address string
	// Outcome is "restored", "already", "gone", "other-driver", "refused", "failed" or
	// "not-bound" (docs/vfio.md).
	Outcome    string
	Driver     string // the driver it is on afterwards, "" for none (or gone)
	RecordKept bool   // the journal still holds its record
	Message    string
}

// RestoreReport restores like Restore (with all, like RestoreAll) and says per device what was
// done, newest record first. The outcomes are returned with the error too when a device was
// refused or failed (nil only when the call failed before reading the journal).
func (h *Host) RestoreReport(addresses []string, all bool, opts *RestoreOptions) (
	[]RestoreOutcome, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	flags := opts.flags()
	if all {
		flags |= uint(capi.HOSTDEV_RESTORE_ALL)
	}
	var out []RestoreOutcome
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		addrs := strv(addresses)
		defer capi.DeleteHdb_strv(addrs)
		rc := []int{0}
		res := capi.Hdb_vfio_restore_with_result(ctx, addrs, opts.Owner, timeoutMS(opts.Timeout),
			timeoutMS(opts.LockTimeout), flags, rc)
		if res.Swigcptr() != 0 {
			defer capi.DeleteHostdev_vfio_result(res)
			for i := int64(0); i < capi.Hostdev_vfio_result_get_count(res); i++ {
				out = append(out, RestoreOutcome{
					Address: capi.Hostdev_vfio_result_get_address(res, i),
					Outcome: capi.Hostdev_vfio_outcome_name(
						capi.Hostdev_vfio_result_get_outcome(res, i)),
					Driver:     capi.Hostdev_vfio_result_get_driver(res, i),
					RecordKept: capi.Hostdev_vfio_result_has_record(res, i) != 0,
					Message:    capi.Hostdev_vfio_result_get_message(res, i),
				})
			}
		}
		return h.check("RestoreReport", rc[0])
	})
	return out, err
}

// Restore gives the devices back to the drivers the journal recorded and returns how many it
// restored (a group-bound device brings its group).
func (h *Host) Restore(addresses []string, opts *RestoreOptions) (int, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	var n int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		addrs := strv(addresses)
		defer capi.DeleteHdb_strv(addrs)
		n = capi.Hdb_vfio_restore_set(ctx, addrs, timeoutMS(opts.Timeout), opts.flags())
		return h.check("Restore", n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// RestoreAll restores every journaled device (only opts.Owner's when set), newest first.
func (h *Host) RestoreAll(opts *RestoreOptions) (int, error) {
	if opts == nil {
		opts = &RestoreOptions{}
	}
	var n int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		n = capi.Hdb_vfio_restore_all(ctx, opts.Owner, timeoutMS(opts.Timeout), opts.flags())
		return h.check("RestoreAll", n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// LoadVFIOModules makes sure vfio-pci is available; loaded reports whether a module was loaded.
func (h *Host) LoadVFIOModules() (loaded bool, err error) {
	err = h.do(func(ctx capi.Hostdev_ctx) error {
		r := capi.Hostdev_vfio_load_modules(ctx)
		loaded = r == 1
		return h.check("LoadVFIOModules", r)
	})
	return loaded, err
}

// JournalRecord is one device libhostdev bound and has not restored yet.
type JournalRecord struct {
	Address        string
	Driver         string // driver before the bind, "" for none
	DriverOverride string // driver_override before the bind, "" for unset
	IOMMUGroup     int
	Time           time.Time
	Owner          string
	GroupBind      bool // bound with its IOMMU group; restored with it
	Complete       bool // false: the bind was interrupted (restore finishes it)
}

// Journal is a snapshot of the vfio journal.
type Journal struct {
	Path    string
	Records []JournalRecord // in bind order
	JSON    string          // {"path": ..., "records": [...]} (docs/vfio.md)
}

// Journal reads the vfio journal. A corrupt journal is an error wrapping syscall.EBADMSG.
func (h *Host) Journal() (*Journal, error) {
	var out *Journal
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		j := capi.Hdb_vfio_journal_read(ctx, rc)
		if err := h.check("Journal", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_vfio_journal(j)
		out = &Journal{Path: capi.Hostdev_vfio_journal_get_path(j),
			JSON: capi.Hdb_vfio_journal_to_json(j, 0, rc)}
		for i := int64(0); i < capi.Hostdev_vfio_journal_get_count(j); i++ {
			out.Records = append(out.Records, JournalRecord{
				Address:        capi.Hostdev_vfio_journal_get_address(j, i),
				Driver:         capi.Hostdev_vfio_journal_get_driver(j, i),
				DriverOverride: capi.Hostdev_vfio_journal_get_driver_override(j, i),
				IOMMUGroup:     capi.Hostdev_vfio_journal_get_iommu_group(j, i),
				Time:           time.Unix(capi.Hostdev_vfio_journal_get_time(j, i), 0),
				Owner:          capi.Hostdev_vfio_journal_get_owner(j, i),
				GroupBind:      capi.Hostdev_vfio_journal_is_group_bind(j, i) != 0,
				Complete:       capi.Hostdev_vfio_journal_is_complete(j, i) != 0,
			})
		}
		return nil
	})
	return out, err
}

// CheckStatus is the outcome of a preflight check.
type CheckStatus int

// Preflight outcomes.
const (
	CheckPass CheckStatus = 0 // fine
	CheckWarn CheckStatus = 1 // works, with a caveat the message explains
	CheckFail CheckStatus = 2 // passthrough will not work (safely) until fixed
)

func (s CheckStatus) String() string {
	switch s {
	case CheckPass:
		return "pass"
	case CheckWarn:
		return "warn"
	case CheckFail:
		return "fail"
	}
	return "unknown"
}

// Check is one host check of the preflight report.
type Check struct {
	ID, Title       string
	Status          CheckStatus
	Message, Remedy string
}

// DeviceVerdict says whether a device can be assigned: CheckPass as is, CheckWarn with its
// group, CheckFail not at all.
type DeviceVerdict struct {
	Address         string
	Status          CheckStatus
	Message, Remedy string
}

// Report is the preflight report (hostdev check).
type Report struct {
	Status  CheckStatus // the worst host check
	Checks  []Check
	Devices []DeviceVerdict
	JSON    string
}

// CheckOptions are the options of Check.
type CheckOptions struct {
	// HostOnly leaves out the per-device verdicts.
	HostOnly bool
}

// Check reports whether this host can pass devices through, and whether each of the addresses
// (every non-bridge device when empty) can be assigned. It only reads.
func (h *Host) Check(addresses []string, opts *CheckOptions) (*Report, error) {
	var flags uint
	if opts != nil && opts.HostOnly {
		flags = uint(capi.HOSTDEV_CHECK_HOST_ONLY)
	}
	var out *Report
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		addrs := strv(addresses)
		defer capi.DeleteHdb_strv(addrs)
		r := capi.Hdb_vfio_check(ctx, addrs, flags, rc)
		if err := h.check("Check", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_vfio_report(r)
		out = &Report{Status: CheckStatus(capi.Hostdev_vfio_report_get_status(r)),
			JSON: capi.Hdb_vfio_report_to_json(r, 0, rc)}
		for i := int64(0); i < capi.Hostdev_vfio_report_get_check_count(r); i++ {
			out.Checks = append(out.Checks, Check{
				ID:      capi.Hostdev_vfio_report_get_check_id(r, i),
				Title:   capi.Hostdev_vfio_report_get_check_title(r, i),
				Status:  CheckStatus(capi.Hostdev_vfio_report_get_check_status(r, i)),
				Message: capi.Hostdev_vfio_report_get_check_message(r, i),
				Remedy:  capi.Hostdev_vfio_report_get_check_remedy(r, i),
			})
		}
		for i := int64(0); i < capi.Hostdev_vfio_report_get_device_count(r); i++ {
			out.Devices = append(out.Devices, DeviceVerdict{
				Address: capi.Hostdev_vfio_report_get_device_address(r, i),
				Status:  CheckStatus(capi.Hostdev_vfio_report_get_device_status(r, i)),
				Message: capi.Hostdev_vfio_report_get_device_message(r, i),
				Remedy:  capi.Hostdev_vfio_report_get_device_remedy(r, i),
			})
		}
		return nil
	})
	return out, err
}

// PersistEntry is a device kept on vfio-pci across reboots.
type PersistEntry struct {
	Address  string
	Group    bool
	Force    bool
	VendorID uint16
	DeviceID uint16
}

// PersistAdd adds address to the devices kept on vfio-pci across reboots, with opts.Group and
// opts.Force. added is false when it was listed already (its flags are updated).
func (h *Host) PersistAdd(address string, opts *BindOptions) (added bool, err error) {
	err = h.do(func(ctx capi.Hostdev_ctx) error {
		r := capi.Hostdev_vfio_persist_add(ctx, address, opts.flags())
		added = r == 0
		return h.check("PersistAdd", r)
	})
	return added, err
}

// PersistRemove removes address from the list; an error wrapping syscall.ENOENT when unlisted.
func (h *Host) PersistRemove(address string) error {
	return h.do(func(ctx capi.Hostdev_ctx) error {
		return h.check("PersistRemove", capi.Hostdev_vfio_persist_remove(ctx, address))
	})
}

// Persisted returns the list of devices kept on vfio-pci across reboots, in address order.
func (h *Host) Persisted() ([]PersistEntry, error) {
	var out []PersistEntry
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		l := capi.Hdb_vfio_persist_read(ctx, rc)
		if err := h.check("Persisted", rc[0]); err != nil {
			return err
		}
		defer capi.DeleteHostdev_vfio_persist(l)
		for i := int64(0); i < capi.Hostdev_vfio_persist_get_count(l); i++ {
			f := capi.Hostdev_vfio_persist_get_flags(l, i)
			out = append(out, PersistEntry{
				Address:  capi.Hostdev_vfio_persist_get_address(l, i),
				Group:    f&uint(capi.HOSTDEV_BIND_GROUP) != 0,
				Force:    f&uint(capi.HOSTDEV_BIND_FORCE) != 0,
				VendorID: uint16(capi.Hostdev_vfio_persist_get_vendor_id(l, i)),
				DeviceID: uint16(capi.Hostdev_vfio_persist_get_device_id(l, i)),
			})
		}
		return nil
	})
	return out, err
}

// Apply binds every listed device (what a boot-time unit runs) and returns how many it newly
// bound. Only opts.Owner, opts.Timeout and opts.Protected are used; each entry has its flags.
func (h *Host) Apply(opts *BindOptions) (int, error) {
	if opts == nil {
		opts = &BindOptions{}
	}
	var n int
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		prot := strv(opts.Protected)
		defer capi.DeleteHdb_strv(prot)
		n = capi.Hdb_vfio_apply(ctx, opts.Owner, timeoutMS(opts.Timeout), prot, 0)
		return h.check("Apply", n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ModprobeConf returns the /etc/modprobe.d/vfio.conf text for the listed devices.
func (h *Host) ModprobeConf() (string, error) {
	var out string
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		rc := []int{0}
		out = capi.Hdb_vfio_modprobe_conf(ctx, 0, rc)
		return h.check("ModprobeConf", rc[0])
	})
	return out, err
}
