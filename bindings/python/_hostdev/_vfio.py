# SPDX-License-Identifier: Apache-2.0
"""Snapshots of the vfio journal, the preflight report and the persistent list (hostdev/vfio.h).

They are plain Python values: the C objects are read once and released.
"""

import collections

from . import capi as _c

JournalRecord = collections.namedtuple(
    "JournalRecord", "address driver driver_override iommu_group time owner group_bind complete")
JournalRecord.__doc__ = ("One device libhostdev bound and has not restored yet: its original "
                         "driver/driver_override (None = none), IOMMU group, bind time (epoch "
                         "seconds), owner text, whether it was bound with its group, whether the "
                         "bind finished.")


class Journal(tuple):
    """The journal: a tuple of JournalRecord in bind order, with .path and .json."""

    def __new__(cls, journal):
        j = journal
        records = [JournalRecord(_c.hostdev_vfio_journal_get_address(j, i),
                                 _c.hostdev_vfio_journal_get_driver(j, i),
                                 _c.hostdev_vfio_journal_get_driver_override(j, i),
                                 _c.hostdev_vfio_journal_get_iommu_group(j, i),
                                 _c.hostdev_vfio_journal_get_time(j, i),
                                 _c.hostdev_vfio_journal_get_owner(j, i),
                                 bool(_c.hostdev_vfio_journal_is_group_bind(j, i)),
                                 bool(_c.hostdev_vfio_journal_is_complete(j, i)))
                   for i in range(_c.hostdev_vfio_journal_get_count(j))]
        self = super().__new__(cls, records)
        self.path = _c.hostdev_vfio_journal_get_path(j)
        self.json, _ = _c.hdb_vfio_journal_to_json(j, 0)
        return self

    def addresses(self):
        """The recorded addresses, in bind order."""
        return [r.address for r in self]


RestoreOutcome = collections.namedtuple("RestoreOutcome",
                                        "address outcome driver record_kept message")
RestoreOutcome.__doc__ = ("What restore did with one device: outcome is 'restored', 'already', "
                          "'gone', 'other-driver', 'refused', 'failed' or 'not-bound'; driver is "
                          "what it is on afterwards (None: none or gone); record_kept says whether "
                          "the journal still holds its record.")


def restore_outcomes(result):
    """The entries of a hostdev_vfio_result as a tuple of RestoreOutcome."""
    return tuple(RestoreOutcome(_c.hostdev_vfio_result_get_address(result, i),
                                _c.hostdev_vfio_outcome_name(
                                    _c.hostdev_vfio_result_get_outcome(result, i)),
                                _c.hostdev_vfio_result_get_driver(result, i),
                                bool(_c.hostdev_vfio_result_has_record(result, i)),
                                _c.hostdev_vfio_result_get_message(result, i))
                 for i in range(_c.hostdev_vfio_result_get_count(result)))


BindOutcome = collections.namedtuple(
    "BindOutcome",
    "address outcome driver record_kept message iommu_group previous_driver original_driver "
    "requested")
BindOutcome.__doc__ = ("What bind did with one device: outcome is 'bound' (moved by this call), "
                       "'already' (on vfio-pci before) or, in a dry run, 'would-bind'; driver is "
                       "what it is on afterwards, previous_driver what it was on before, "
                       "original_driver what restore gives it back to (None without a journal "
                       "record); requested is False for a member its IOMMU group brought along.")


def bind_outcomes(result):
    """The entries of a bind's hostdev_vfio_result as a tuple of BindOutcome."""
    return tuple(BindOutcome(_c.hostdev_vfio_result_get_address(result, i),
                             _c.hostdev_vfio_outcome_name(
                                 _c.hostdev_vfio_result_get_outcome(result, i)),
                             _c.hostdev_vfio_result_get_driver(result, i),
                             bool(_c.hostdev_vfio_result_has_record(result, i)),
                             _c.hostdev_vfio_result_get_message(result, i),
                             _c.hostdev_vfio_result_get_iommu_group(result, i),
                             _c.hostdev_vfio_result_get_previous_driver(result, i),
                             _c.hostdev_vfio_result_get_original_driver(result, i),
                             bool(_c.hostdev_vfio_result_is_requested(result, i)))
                 for i in range(_c.hostdev_vfio_result_get_count(result)))


CHECK_PASS = _c.HOSTDEV_CHECK_PASS
CHECK_WARN = _c.HOSTDEV_CHECK_WARN
CHECK_FAIL = _c.HOSTDEV_CHECK_FAIL
_STATUS = {CHECK_PASS: "pass", CHECK_WARN: "warn", CHECK_FAIL: "fail"}

Check = collections.namedtuple("Check", "id title status message remedy")
Check.__doc__ = "A host check of the preflight report; status is 'pass', 'warn' or 'fail'."
DeviceVerdict = collections.namedtuple("DeviceVerdict", "address status message remedy")
DeviceVerdict.__doc__ = ("Whether a device can be assigned: 'pass' as is, 'warn' with its group "
                         "(group=True), 'fail' not at all; message says why, remedy what to do.")


class Report:
    """The preflight report (hostdev check): .status, .checks, .devices, .json."""

    def __init__(self, report):
        r = report
        self.status = _STATUS[_c.hostdev_vfio_report_get_status(r)]
        self.checks = tuple(Check(_c.hostdev_vfio_report_get_check_id(r, i),
                                  _c.hostdev_vfio_report_get_check_title(r, i),
                                  _STATUS[_c.hostdev_vfio_report_get_check_status(r, i)],
                                  _c.hostdev_vfio_report_get_check_message(r, i),
                                  _c.hostdev_vfio_report_get_check_remedy(r, i))
                            for i in range(_c.hostdev_vfio_report_get_check_count(r)))
        self.devices = tuple(DeviceVerdict(_c.hostdev_vfio_report_get_device_address(r, i),
                                           _STATUS[_c.hostdev_vfio_report_get_device_status(r, i)],
                                           _c.hostdev_vfio_report_get_device_message(r, i),
                                           _c.hostdev_vfio_report_get_device_remedy(r, i))
                             for i in range(_c.hostdev_vfio_report_get_device_count(r)))
        self.json, _ = _c.hdb_vfio_report_to_json(r, 0)

    @property
    def ok(self):
        """True unless a host check failed."""
        return self.status != "fail"

    def check(self, check_id):
        """The Check with this id, or None."""
        return next((c for c in self.checks if c.id == check_id), None)

    def device(self, address):
        """The DeviceVerdict of @address, or None."""
        return next((d for d in self.devices if d.address == address), None)

    def __repr__(self):
        return "<hostdev.Report status=%s checks=%d devices=%d>" % (
            self.status, len(self.checks), len(self.devices))


PersistEntry = collections.namedtuple("PersistEntry", "address group force vendor_id device_id")
PersistEntry.__doc__ = "A device kept on vfio-pci across reboots, with its stored flags and ids."


def persist_entries(lst):
    entries = []
    for i in range(_c.hostdev_vfio_persist_get_count(lst)):
        flags = _c.hostdev_vfio_persist_get_flags(lst, i)
        entries.append(PersistEntry(_c.hostdev_vfio_persist_get_address(lst, i),
                                    bool(flags & _c.HOSTDEV_BIND_GROUP),
                                    bool(flags & _c.HOSTDEV_BIND_FORCE),
                                    _c.hostdev_vfio_persist_get_vendor_id(lst, i),
                                    _c.hostdev_vfio_persist_get_device_id(lst, i)))
    return entries
