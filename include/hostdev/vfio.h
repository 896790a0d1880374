/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio-pci binding with crash-safe restore (docs/vfio.md).
 *
 * Binding hands a PCI function to vfio-pci so that a virtual machine can own it; restoring gives it
 * back to the driver it had. libhostdev does it the safe way:
 *  - driver_override + unbind + drivers_probe, never `new_id` (which would make vfio-pci claim
 * every device with the same ids, host devices included);
 *  - a durable journal in the context's state directory (HOSTDEV_PATH_STATE) records each device's
 *    original driver and driver_override before the first sysfs write, so that a restore works
 * after the calling process crashed or the agent restarted;
 *  - IOMMU groups are honoured: a device whose group holds other endpoints on host drivers is
 * refused unless HOSTDEV_BIND_GROUP asks for the whole group;
 *  - a guard refuses host-critical devices (default-route NIC, controller of a mounted filesystem,
 *    caller-protected addresses) unless HOSTDEV_BIND_FORCE is given;
 *  - the result is verified (the `driver` link and /dev/vfio/<group>) and a failure part-way rolls
 * back what was done, in reverse order. Concurrent callers, in one process or several, are
 * serialised by a lock file next to the journal.
 *
 * All functions follow the conventions of context.h: >= 0 on success, a negative errno on failure
 * with hostdev_ctx_get_error() naming the device, the problem and the remedy.
 */
#ifndef HOSTDEV_VFIO_H
#define HOSTDEV_VFIO_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The driver devices are bound to. */
#define HOSTDEV_VFIO_DRIVER "vfio-pci"

/** Flags of the bind calls (and of hostdev_vfio_persist_add()). Unknown bits give -EINVAL. */
enum hostdev_bind_flags {
	/**
	 * Bind every non-bridge endpoint of the device's IOMMU group with it, and record them as
	 * one unit: restoring any of them restores the whole group. Without it, a group that holds
	 * other endpoints on host drivers is refused.
	 */
	HOSTDEV_BIND_GROUP = 1u << 0,
	/**
	 * Bind even devices the guard protects: the NIC carrying the default route, the controller
	 * of a mounted filesystem, addresses listed in hostdev_vfio_options.protected_addresses.
	 * IOMMU group rules and the IOMMU requirement still apply.
	 */
	HOSTDEV_BIND_FORCE = 1u << 1,
	/**
	 * Since libhostdev 1.3 (older versions refuse it with -EINVAL). Plan only: every check of
	 * a real bind runs (addresses, IOMMU groups, guard, mediated devices, journal), and the
	 * call returns what it would move, but nothing is written: no module load, no lock file,
	 * no journal, no sysfs store. hostdev_vfio_bind_with_result() reports each device as
	 * HOSTDEV_VFIO_OUTCOME_WOULD_BIND or HOSTDEV_VFIO_OUTCOME_ALREADY. Another process may
	 * change the host between a dry run and a real bind.
	 */
	HOSTDEV_BIND_DRY_RUN = 1u << 2,
};

/** Flags of the restore calls. Unknown bits give -EINVAL. */
enum hostdev_restore_flags {
	/**
	 * A device on vfio-pci without a journal record (bound by someone else) is normally refused
	 * with -ENOENT because its original driver is unknown. With this flag its driver_override
	 * is cleared and the kernel picks a driver (drivers_probe).
	 */
	HOSTDEV_RESTORE_UNJOURNALED = 1u << 0,
	/**
	 * Drop the records of devices that no longer exist. Without it such records are kept (and
	 * reported as HOSTDEV_VFIO_OUTCOME_GONE): a device missing from this sysfs view may be
	 * missing only from the view (a wrong sysfs root, a container), and a record is the only
	 * way back to its driver.
	 */
	HOSTDEV_RESTORE_FORGET_GONE = 1u << 1,
	/**
	 * hostdev_vfio_restore_with_result() only: every record of the journal (only those of
	 * opts->owner when it is set), like hostdev_vfio_restore_all(); no addresses may be given.
	 */
	HOSTDEV_RESTORE_ALL = 1u << 2,
};

/** Current version of struct hostdev_vfio_options. */
#define HOSTDEV_VFIO_OPTIONS_VERSION 2

/** Default verification timeout of hostdev_vfio_options.timeout_ms. */
#define HOSTDEV_VFIO_DEFAULT_TIMEOUT_MS 5000

/** Default of hostdev_vfio_options.lock_timeout_ms (and of calls without options). */
#define HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS 60000

/** Longest owner text (hostdev_vfio_options.owner) in bytes; longer is -EINVAL. */
#define HOSTDEV_VFIO_OWNER_MAX 1023

/**
 * Options of bind, restore and apply. Initialise with HOSTDEV_VFIO_OPTIONS_INIT or
 * hostdev_vfio_options_init(); members are only ever added at the end, and the library reads only
 * the members that existed in @version. Passing NULL instead of options means all defaults.
 * The strings are borrowed for the duration of the call.
 */
struct hostdev_vfio_options {
	/** HOSTDEV_VFIO_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * Free text recorded in the journal with each device bound (e.g. "kubevirt/vm-a", a pod
	 * UID), NULL for none, at most HOSTDEV_VFIO_OWNER_MAX bytes. hostdev_vfio_restore_all()
	 * with an owner restores only that owner's records.
	 */
	const char *owner;
	/**
	 * How long each sysfs store may block (the watchdog: -ETIMEDOUT naming the attribute) and
	 * how long to wait for the kernel to show the new driver link and /dev/vfio/<group> after
	 * the writes, in milliseconds. 0 means HOSTDEV_VFIO_DEFAULT_TIMEOUT_MS.
	 */
	unsigned int timeout_ms;
	/** Addresses the guard refuses like host-critical devices; @protected_count entries. */
	const char *const *protected_addresses;
	/** Number of entries of @protected_addresses. */
	size_t protected_count;
	/**
	 * Since version 2. How long to wait for the vfio lock another operation holds (a notice
	 * naming the holder's pid goes to the log callback first), in milliseconds; then the call
	 * fails with -ETIMEDOUT. 0 means HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS.
	 */
	unsigned int lock_timeout_ms;
};

/** Static initialiser with the defaults. */
#define HOSTDEV_VFIO_OPTIONS_INIT                                                                  \
	{                                                                                          \
		HOSTDEV_VFIO_OPTIONS_VERSION, NULL, 0, NULL, 0, 0                                  \
	}

/**
 * Fill @opts with the defaults for struct version @version (pass HOSTDEV_VFIO_OPTIONS_VERSION).
 * For bindings that cannot use the static initialiser. Returns 0, -EINVAL for a NULL @opts or an
 * unknown @version.
 */
int hostdev_vfio_options_init(struct hostdev_vfio_options *opts, unsigned int version);

/**
 * Make sure vfio-pci and vfio_iommu_type1 are available: nothing to do when they are loaded or
 * built in, otherwise they are loaded through libkmod (the context's HOSTDEV_PATH_MODULES).
 * The bind calls do this themselves; agents may call it early to fail fast.
 * Returns 0 when already present, 1 when a module was loaded, -ENOENT (module not installed),
 * -EPERM (blacklisted, or loading not permitted), -ELIBACC (libkmod, loaded on first use, cannot
 * be loaded: the message names it), another negative errno from the kernel.
 */
int hostdev_vfio_load_modules(hostdev_ctx *ctx);

/**
 * Bind the device at @address ("DDDD:BB:SS.F" or "BB:SS.F") to vfio-pci. Equivalent to
 * hostdev_vfio_bind_set() with one address.
 */
int hostdev_vfio_bind(hostdev_ctx *ctx, const char *address,
		      const struct hostdev_vfio_options *opts, unsigned int flags);

/**
 * Bind @count devices to vfio-pci as one operation: either all end up on vfio-pci, or, after a
 * failure, every device this call touched is put back (in reverse order) and the journal no longer
 * holds their records.
 *
 * Steps, for the whole set and under the vfio lock (waited for at most opts->lock_timeout_ms, with
 * a notice naming its holder): validate every address; refuse devices without an IOMMU group
 * (-EINVAL, "enable VT-d/AMD-Vi ..."), bridges (-EINVAL), guarded devices without
 * HOSTDEV_BIND_FORCE (-EPERM), mdev parents with active mediated devices (or PFs whose VFs have
 * some) without HOSTDEV_BIND_FORCE (-EBUSY: unbinding the parent's driver destroys them, and
 * blocks while a VM holds one), groups with other endpoints on host drivers without
 * HOSTDEV_BIND_GROUP (-EBUSY, naming each member and its driver); load the modules; write the
 * journal; then per device: driver_override = "vfio-pci", unbind from the current driver,
 * drivers_probe, wait for the driver link; finally wait for /dev/vfio/<group> of each group and
 * mark the records complete. Every sysfs store runs under a watchdog of opts->timeout_ms.
 *
 * Idempotent: a device already on vfio-pci is left alone (and not recorded when it was not bound by
 * libhostdev). A record left by an interrupted bind is reused, so the original driver survives
 * any number of crashes. A driver_override that already reads "vfio-pci" is recorded as unset.
 *
 * @flags: enum hostdev_bind_flags. Returns the number of devices this call moved to vfio-pci
 * (0 when all were there already) or a negative errno: -EINVAL (bad address, no IOMMU group,
 * bridge, unknown flag, bad options, a sysfs attribute that is not a regular file), -ENODEV (no
 * such device), -EPERM (guarded; a state directory, journal or lock file another user owns or can
 * write), -EBUSY (group, active mdevs), -ENOENT (vfio-pci not installed), -ETIMEDOUT (the kernel
 * did not show the binding in time, a sysfs store blocked, or the lock stayed held), -EBADMSG
 * (unreadable journal: nothing was changed), or the errno of a failed sysfs write.
 */
int hostdev_vfio_bind_set(hostdev_ctx *ctx, const char *const *addresses, size_t count,
			  const struct hostdev_vfio_options *opts, unsigned int flags);

/** Restore one device; equivalent to hostdev_vfio_restore_set() with one address. */
int hostdev_vfio_restore(hostdev_ctx *ctx, const char *address,
			 const struct hostdev_vfio_options *opts, unsigned int flags);

/**
 * Give devices back to the drivers the journal recorded; hostdev_vfio_restore_with_result()
 * without the result. Returns the number of devices restored or a negative errno.
 */
int hostdev_vfio_restore_set(hostdev_ctx *ctx, const char *const *addresses, size_t count,
			     const struct hostdev_vfio_options *opts, unsigned int flags);

/**
 * Restore every device of the journal (only those of opts->owner when it is set), newest first;
 * hostdev_vfio_restore_with_result() with HOSTDEV_RESTORE_ALL, without the result. Returns the
 * number restored (0 for an empty journal) or a negative errno.
 */
int hostdev_vfio_restore_all(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
			     unsigned int flags);

/** What a call did with one device (hostdev_vfio_result_get_outcome()). */
enum hostdev_vfio_outcome {
	/** Restore: given back to its recorded driver (or, when it had none, left to the kernel).
	 */
	HOSTDEV_VFIO_OUTCOME_RESTORED = 0,
	/**
	 * Restore: already on its recorded driver, nothing to give back. Bind: already on
	 * vfio-pci, left alone.
	 */
	HOSTDEV_VFIO_OUTCOME_ALREADY = 1,
	/** The device does not exist; see hostdev_vfio_result_has_record() for its record. */
	HOSTDEV_VFIO_OUTCOME_GONE = 2,
	/** On a third driver (neither vfio-pci nor the recorded one): left alone, not restored. */
	HOSTDEV_VFIO_OUTCOME_OTHER_DRIVER = 3,
	/**
	 * The record asks for what restore never does (vfio-pci as the original driver or
	 * override): nothing was written, the record is kept for a human to inspect.
	 */
	HOSTDEV_VFIO_OUTCOME_REFUSED = 4,
	/** A sysfs store or wait failed (the message says which); the record is kept. */
	HOSTDEV_VFIO_OUTCOME_FAILED = 5,
	/** No record and not on vfio-pci: nothing to do. */
	HOSTDEV_VFIO_OUTCOME_NOT_BOUND = 6,
	/** Bind (since 1.3): moved to vfio-pci by this call. */
	HOSTDEV_VFIO_OUTCOME_BOUND = 7,
	/** Bind with HOSTDEV_BIND_DRY_RUN (since 1.3): a real bind would move it to vfio-pci. */
	HOSTDEV_VFIO_OUTCOME_WOULD_BIND = 8,
};

/**
 * Per-device result of a restore or a bind: one entry per device looked at, in the order handled.
 * New outcomes may be added: treat an unknown one like HOSTDEV_VFIO_OUTCOME_FAILED.
 */
typedef struct hostdev_vfio_result hostdev_vfio_result;

/**
 * Since libhostdev 1.3. hostdev_vfio_bind_set(), and say what happened to each device: one entry
 * per device of the bind, first the named ones in the order given (duplicates once), then the
 * members of their IOMMU groups that HOSTDEV_BIND_GROUP brought along. Each entry holds the outcome
 * (HOSTDEV_VFIO_OUTCOME_BOUND, HOSTDEV_VFIO_OUTCOME_ALREADY, or with HOSTDEV_BIND_DRY_RUN
 * HOSTDEV_VFIO_OUTCOME_WOULD_BIND), the driver after the call, the IOMMU group, the driver before
 * the call, the original driver the journal records (what restore gives back), whether the caller
 * named it (hostdev_vfio_result_is_requested()) and whether the journal holds its record.
 *
 * With HOSTDEV_BIND_GROUP every member of the named devices' groups is brought to vfio-pci even
 * when the named device is on vfio-pci already (a group bind interrupted part-way is finished).
 *
 * @flags: enum hostdev_bind_flags. @out may be NULL. Returns what hostdev_vfio_bind_set() returns
 * (with HOSTDEV_BIND_DRY_RUN: the number of devices that would be moved). *@out (a new reference)
 * is set on success only: a failed bind was rolled back, and the error message says what happened.
 */
int hostdev_vfio_bind_with_result(hostdev_ctx *ctx, const char *const *addresses, size_t count,
				  const struct hostdev_vfio_options *opts, unsigned int flags,
				  hostdev_vfio_result **out);

/**
 * Give devices back to the drivers the journal recorded, and say what happened to each.
 *
 * Which devices: @addresses (@count entries), or with HOSTDEV_RESTORE_ALL (@count 0) every
 * record (only opts->owner's when set). A device recorded as part of a group bind brings the
 * rest of its group with it. Devices without a record: off vfio-pci -> NOT_BOUND; on vfio-pci ->
 * the call fails with -ENOENT before anything is written, unless HOSTDEV_RESTORE_UNJOURNALED
 * (driver_override cleared, drivers_probe).
 *
 * Per record, newest first, what the device is on decides:
 *  - vfio-pci, or no driver: driver_override back to its recorded value ("\n" clears it), unbind
 *    from vfio-pci, bind the recorded driver (drivers_probe when there was none or its driver is
 *    not registered), wait for the driver link -> RESTORED, record dropped;
 *  - its recorded driver -> ALREADY, record dropped;
 *  - another driver -> OTHER_DRIVER (not counted as restored), record dropped: the host has it;
 *  - nothing (no such device) -> GONE, record kept unless HOSTDEV_RESTORE_FORGET_GONE.
 * A device off vfio-pci gets no store except, when its driver_override still reads "vfio-pci"
 * (a bind interrupted before its unbind), that override put back; a host-critical device (the
 * guard of the bind calls) only has it cleared. Restore never writes "vfio-pci" anywhere: a
 * record naming vfio-pci as the original driver or override is REFUSED. A store or wait that
 * fails -> FAILED, record kept (retry later); the other records are still handled.
 *
 * The journal is rewritten once, after all devices (not once per record): a crash in between
 * leaves records of devices already given back, which the next restore finds on their recorded
 * driver and drops (docs/vfio.md, "Restore").
 *
 * @flags: enum hostdev_restore_flags. Uses opts->owner (with HOSTDEV_RESTORE_ALL),
 * opts->timeout_ms and opts->lock_timeout_ms. @out may be NULL. Returns the number of devices
 * RESTORED, or, when a record was REFUSED or FAILED, the negative errno of the first of them
 * (-EPERM for a refusal) with a message naming it and counting the rest. *@out (a new
 * reference) is set whenever the journal was read, on failure too; it stays NULL when the call
 * failed before (-EINVAL, -ENOENT, -EBADMSG, -EPERM for an untrusted state directory,
 * -ETIMEDOUT waiting for the lock).
 */
int hostdev_vfio_restore_with_result(hostdev_ctx *ctx, const char *const *addresses, size_t count,
				     const struct hostdev_vfio_options *opts, unsigned int flags,
				     hostdev_vfio_result **out);

hostdev_vfio_result *hostdev_vfio_result_ref(hostdev_vfio_result *result);
/** NULL-safe; always returns NULL. */
hostdev_vfio_result *hostdev_vfio_result_unref(hostdev_vfio_result *result);
/** Number of entries. */
size_t hostdev_vfio_result_get_count(const hostdev_vfio_result *result);
/** Number of entries with outcome @outcome (enum hostdev_vfio_outcome). */
size_t hostdev_vfio_result_count_outcome(const hostdev_vfio_result *result, int outcome);
/* Fields of entry @index; NULL / -EINVAL / 0 out of range. */
/** Device address "dddd:bb:ss.f". */
const char *hostdev_vfio_result_get_address(const hostdev_vfio_result *result, size_t index);
/** enum hostdev_vfio_outcome of the entry. */
int hostdev_vfio_result_get_outcome(const hostdev_vfio_result *result, size_t index);
/** Driver the device is on after the call, NULL for none (or gone). */
const char *hostdev_vfio_result_get_driver(const hostdev_vfio_result *result, size_t index);
/** 1 when the journal still holds the device's record after the call, else 0. */
int hostdev_vfio_result_has_record(const hostdev_vfio_result *result, size_t index);
/** One sentence: what was done and why ("restored to e1000e", "no such device; record kept"). */
const char *hostdev_vfio_result_get_message(const hostdev_vfio_result *result, size_t index);
/**
 * Since 1.3. IOMMU group of entry @index; -1 when unknown (restore does not set it), -EINVAL out of
 * range.
 */
int hostdev_vfio_result_get_iommu_group(const hostdev_vfio_result *result, size_t index);
/**
 * Since 1.3. Bind: the driver the device was on before the call, NULL for none (and in restore
 * results).
 */
const char *hostdev_vfio_result_get_previous_driver(const hostdev_vfio_result *result,
						    size_t index);
/**
 * Since 1.3. Bind: the original driver the journal records for the device (restore gives it
 * back), NULL when it had none, when libhostdev did not bind it (no record) and in restore
 * results.
 */
const char *hostdev_vfio_result_get_original_driver(const hostdev_vfio_result *result,
						    size_t index);
/**
 * Since 1.3. 1 when the caller named the device, 0 when HOSTDEV_BIND_GROUP brought it along as a
 * member of a named device's IOMMU group (or @index is out of range). Restore entries are 1.
 */
int hostdev_vfio_result_is_requested(const hostdev_vfio_result *result, size_t index);
/**
 * Stable name of an outcome: "restored", "already", "gone", "other-driver", "refused", "failed",
 * "not-bound", "bound", "would-bind"; NULL for an unknown value.
 */
const char *hostdev_vfio_outcome_name(int outcome);
/**
 * The result as JSON: [{"address", "outcome" (the name), "driver", "record_kept", "message",
 * "iommu_group" (null when unknown), "previous_driver", "original_driver", "requested"}].
 * *@out is released with hostdev_free(). @flags: HOSTDEV_JSON_PRETTY or 0. Returns 0, -EINVAL,
 * -ENOMEM.
 */
int hostdev_vfio_result_to_json(const hostdev_vfio_result *result, unsigned int flags, char **out);

/* ---------------------------------------------------------------------------------------------- */
/* Journal */

/** Snapshot of the journal: one record per device libhostdev bound and has not restored yet. */
typedef struct hostdev_vfio_journal hostdev_vfio_journal;

/**
 * Read the journal. No lock is taken: the file is only ever replaced whole (rename), so the
 * snapshot is consistent, and a reader never waits behind a bind. A missing journal (or state
 * directory) is an empty one. On success *@out holds a new reference. Returns 0, -EBADMSG when the
 * file is corrupt, truncated or not a regular file (the error names the file; nothing is deleted),
 * -EPERM when the directory or file is owned by another user than the caller or root, or is
 * writable by others, -EACCES saying which permission the caller lacks, -ENOMEM, another negative
 * errno.
 */
int hostdev_vfio_journal_read(hostdev_ctx *ctx, hostdev_vfio_journal **out);

hostdev_vfio_journal *hostdev_vfio_journal_ref(hostdev_vfio_journal *journal);
/** NULL-safe; always returns NULL. */
hostdev_vfio_journal *hostdev_vfio_journal_unref(hostdev_vfio_journal *journal);

/** Path of the journal file (<state>/vfio-journal.json). */
const char *hostdev_vfio_journal_get_path(const hostdev_vfio_journal *journal);
/** Number of records, in bind order. */
size_t hostdev_vfio_journal_get_count(const hostdev_vfio_journal *journal);
/* Fields of record @index; NULL / -1 / 0 when @index is out of range. */
/** Device address "dddd:bb:ss.f". */
const char *hostdev_vfio_journal_get_address(const hostdev_vfio_journal *journal, size_t index);
/** Driver the device had before the bind, NULL when it had none. */
const char *hostdev_vfio_journal_get_driver(const hostdev_vfio_journal *journal, size_t index);
/** driver_override the device had before the bind, NULL when unset. */
const char *hostdev_vfio_journal_get_driver_override(const hostdev_vfio_journal *journal,
						     size_t index);
/** IOMMU group number at bind time. */
int hostdev_vfio_journal_get_iommu_group(const hostdev_vfio_journal *journal, size_t index);
/** Time of the bind, seconds since the epoch. */
int64_t hostdev_vfio_journal_get_time(const hostdev_vfio_journal *journal, size_t index);
/**
 * Owner text given by the caller, NULL when none. Free text: it may hold control characters;
 * escape it before printing it to a terminal.
 */
const char *hostdev_vfio_journal_get_owner(const hostdev_vfio_journal *journal, size_t index);
/** 1 when the device was bound as part of a HOSTDEV_BIND_GROUP bind of its group, else 0. */
int hostdev_vfio_journal_is_group_bind(const hostdev_vfio_journal *journal, size_t index);
/**
 * 1 when the bind finished and was verified, 0 when it was interrupted (crash, kill) or is in
 * progress: restore brings such a device back from whatever step it stopped at.
 */
int hostdev_vfio_journal_is_complete(const hostdev_vfio_journal *journal, size_t index);

/**
 * The journal as a JSON document {"path": ..., "records": [...]} (docs/vfio.md). *@out is released
 * with hostdev_free(). @flags: HOSTDEV_JSON_PRETTY (pci.h) or 0. Returns 0, -EINVAL, -ENOMEM.
 */
int hostdev_vfio_journal_to_json(const hostdev_vfio_journal *journal, unsigned int flags,
				 char **out);

/* ---------------------------------------------------------------------------------------------- */
/* Preflight checks */

/** Outcome of one check. */
enum hostdev_check_status {
	HOSTDEV_CHECK_PASS = 0, /**< fine */
	HOSTDEV_CHECK_WARN = 1, /**< works, with a caveat or an unknown the message explains */
	HOSTDEV_CHECK_FAIL = 2, /**< passthrough will not work (or not safely) until fixed */
};

/** Flags of hostdev_vfio_check(). */
enum hostdev_check_flags {
	/** Host checks only, no per-device lines. */
	HOSTDEV_CHECK_HOST_ONLY = 1u << 0,
};

/** A preflight report (the `virt-host-validate` idea, for passthrough). */
typedef struct hostdev_vfio_report hostdev_vfio_report;

/**
 * Check whether this host can pass devices through: IOMMU groups exist, IOMMU hardware (DMAR /
 * AMD-Vi units in <sysfs>/class/iommu), kernel command line, interrupt remapping (best effort: WARN
 * when it cannot be told), vfio modules available and not blacklisted, /dev/vfio/vfio; then, per
 * device, whether it can be assigned and why not. @addresses (@count entries) names the devices to
 * judge; NULL/0 means every PCI device that is not a bridge. Reads only, never writes.
 * On success *@out holds a new reference. Returns 0 (even when checks fail: read the report),
 * -EINVAL (bad address or flag), -ENODEV (an address names no device), -ENOMEM.
 */
int hostdev_vfio_check(hostdev_ctx *ctx, const char *const *addresses, size_t count,
		       unsigned int flags, hostdev_vfio_report **out);

hostdev_vfio_report *hostdev_vfio_report_ref(hostdev_vfio_report *report);
/** NULL-safe; always returns NULL. */
hostdev_vfio_report *hostdev_vfio_report_unref(hostdev_vfio_report *report);

/** The worst status of the host checks (devices do not count: a bridge is never assignable). */
int hostdev_vfio_report_get_status(const hostdev_vfio_report *report);
/** Number of host checks. */
size_t hostdev_vfio_report_get_check_count(const hostdev_vfio_report *report);
/** Stable identifier of check @index ("iommu-groups", "iommu-hardware", ...); NULL out of range. */
const char *hostdev_vfio_report_get_check_id(const hostdev_vfio_report *report, size_t index);
/** One-line title of the check ("IOMMU groups present"). */
const char *hostdev_vfio_report_get_check_title(const hostdev_vfio_report *report, size_t index);
/** enum hostdev_check_status of the check, -EINVAL out of range. */
int hostdev_vfio_report_get_check_status(const hostdev_vfio_report *report, size_t index);
/** What was found. */
const char *hostdev_vfio_report_get_check_message(const hostdev_vfio_report *report, size_t index);
/** What to do about a WARN or FAIL; NULL for PASS. */
const char *hostdev_vfio_report_get_check_remedy(const hostdev_vfio_report *report, size_t index);

/** Number of devices judged, in address order. */
size_t hostdev_vfio_report_get_device_count(const hostdev_vfio_report *report);
/** Address of device @index. */
const char *hostdev_vfio_report_get_device_address(const hostdev_vfio_report *report, size_t index);
/**
 * PASS: assignable as is (or already on vfio-pci); WARN: assignable with HOSTDEV_BIND_GROUP;
 * FAIL: not assignable (no IOMMU group, bridge, guarded, group holds a guarded device, hosts
 * active mediated devices or is the PF of VFs that do: binding it would destroy them).
 * -EINVAL out of range.
 */
int hostdev_vfio_report_get_device_status(const hostdev_vfio_report *report, size_t index);
/** Why. */
const char *hostdev_vfio_report_get_device_message(const hostdev_vfio_report *report, size_t index);
/** What to do for WARN/FAIL, NULL for PASS. */
const char *hostdev_vfio_report_get_device_remedy(const hostdev_vfio_report *report, size_t index);

/**
 * The report as JSON {"status": "pass"|"warn"|"fail", "checks": [...], "devices": [...]}
 * (docs/vfio.md). Released with hostdev_free(). @flags: HOSTDEV_JSON_PRETTY or 0.
 */
int hostdev_vfio_report_to_json(const hostdev_vfio_report *report, unsigned int flags, char **out);

/* ---------------------------------------------------------------------------------------------- */
/* Persistence across host reboots */

/**
 * Add @address to the declarative list of devices that must be on vfio-pci
 * (<config>/vfio-devices.json). The device must exist: its vendor:device ids are recorded so that
 * apply refuses a different card found at the same address after a hardware change. @flags
 * (HOSTDEV_BIND_GROUP, HOSTDEV_BIND_FORCE) are stored and used by apply. Returns 0 when added, 1
 * when the address was listed already (its flags and ids are updated), or a negative errno.
 */
int hostdev_vfio_persist_add(hostdev_ctx *ctx, const char *address, unsigned int flags);

/** Remove @address from the list. Returns 0, -ENOENT when it is not listed, another errno. */
int hostdev_vfio_persist_remove(hostdev_ctx *ctx, const char *address);

/** Snapshot of the persistent list. */
typedef struct hostdev_vfio_persist hostdev_vfio_persist;

/** Read the list (a missing file is an empty list). Returns 0, -EBADMSG (corrupt file), ... */
int hostdev_vfio_persist_read(hostdev_ctx *ctx, hostdev_vfio_persist **out);
hostdev_vfio_persist *hostdev_vfio_persist_ref(hostdev_vfio_persist *list);
/** NULL-safe; always returns NULL. */
hostdev_vfio_persist *hostdev_vfio_persist_unref(hostdev_vfio_persist *list);
/** Path of the list file. */
const char *hostdev_vfio_persist_get_path(const hostdev_vfio_persist *list);
/** Number of entries, in address order. */
size_t hostdev_vfio_persist_get_count(const hostdev_vfio_persist *list);
/** Address of entry @index, NULL out of range. */
const char *hostdev_vfio_persist_get_address(const hostdev_vfio_persist *list, size_t index);
/** enum hostdev_bind_flags stored with entry @index. */
unsigned int hostdev_vfio_persist_get_flags(const hostdev_vfio_persist *list, size_t index);
/** Vendor id recorded with entry @index (0 unknown). */
unsigned int hostdev_vfio_persist_get_vendor_id(const hostdev_vfio_persist *list, size_t index);
/** Device id recorded with entry @index (0 unknown). */
unsigned int hostdev_vfio_persist_get_device_id(const hostdev_vfio_persist *list, size_t index);

/*
 * Since HOSTDEV_1.4: what else a reboot loses. The list file then has version 2 (docs/vfio.md,
 * "Persistence"); a list without VF counts or mdevs is still written as version 1, and both
 * versions are read.
 */

/**
 * Record that the SR-IOV PF at @pf must have @num_vfs VFs after boot, created with @autoprobe
 * (enum hostdev_sriov_autoprobe, as in struct hostdev_sriov_options). The PF must exist: its
 * vendor:device ids are recorded, and apply refuses a different card found at the address. Changes
 * nothing on the device. Returns 0 when added, 1 when the PF was listed (its entry is replaced),
 * or -EINVAL (malformed address, @num_vfs 0: remove the entry instead, unknown @autoprobe),
 * -ENODEV (no such device), -EOPNOTSUPP (not a PF), -ERANGE (over its sriov_totalvfs), the
 * errors of the list file and lock, each with a message.
 */
int hostdev_vfio_persist_add_vfs(hostdev_ctx *ctx, const char *pf, unsigned int num_vfs,
				 unsigned int autoprobe);
/** Forget the VF count of @pf. Returns 0, -EINVAL (malformed address), -ENOENT (not listed), ... */
int hostdev_vfio_persist_remove_vfs(hostdev_ctx *ctx, const char *pf);
/**
 * Record that the mdev @uuid of type @type on @parent (a PCI address or a non-PCI parent's name, as
 * in hostdev_mdev_create()) must exist after boot. @parent must offer @type now. The mdev itself
 * is neither created nor checked. Returns 0 when added, 1 when @uuid was listed (its parent and
 * type are replaced), or -EINVAL (NULL argument, malformed UUID), -ENODEV/-EOPNOTSUPP (as
 * hostdev_mdev_types_read()), -ENOENT (@parent does not offer @type), the errors of the list file.
 */
int hostdev_vfio_persist_add_mdev(hostdev_ctx *ctx, const char *parent, const char *type,
				  const char *uuid);
/** Forget the mdev @uuid. Returns 0, -EINVAL (malformed UUID), -ENOENT (not listed), ... */
int hostdev_vfio_persist_remove_mdev(hostdev_ctx *ctx, const char *uuid);
/** Number of VF counts in the list, in PF address order. */
size_t hostdev_vfio_persist_get_vfs_count(const hostdev_vfio_persist *list);
/** The PF of VF-count entry @index (borrowed), NULL out of range. */
const char *hostdev_vfio_persist_get_vfs_pf(const hostdev_vfio_persist *list, size_t index);
/** The VF count of entry @index, 0 out of range. */
unsigned int hostdev_vfio_persist_get_vfs_num(const hostdev_vfio_persist *list, size_t index);
/** enum hostdev_sriov_autoprobe of entry @index (KEEP out of range). */
unsigned int hostdev_vfio_persist_get_vfs_autoprobe(const hostdev_vfio_persist *list, size_t index);
/** Number of mdevs in the list, in the order they were added (the order apply creates them). */
size_t hostdev_vfio_persist_get_mdev_count(const hostdev_vfio_persist *list);
/** Parent of mdev entry @index (borrowed; a canonical PCI address or a name), NULL out of range. */
const char *hostdev_vfio_persist_get_mdev_parent(const hostdev_vfio_persist *list, size_t index);
/** Type id of mdev entry @index (borrowed), NULL out of range. */
const char *hostdev_vfio_persist_get_mdev_type(const hostdev_vfio_persist *list, size_t index);
/** UUID of mdev entry @index (borrowed, lower case), NULL out of range. */
const char *hostdev_vfio_persist_get_mdev_uuid(const hostdev_vfio_persist *list, size_t index);

/*
 * Since HOSTDEV_1.6: the NVIDIA vGPU types of VFs (vgpu.h), which a reboot loses with the VFs. The
 * list file then has version 3; a list without them is written as before (version 1 or 2).
 */

/**
 * Record that the VF at @vf must hold vGPU type @type_id after boot. The VF must exist, offer vGPU
 * types, and hold @type_id or be able to take it now (as hostdev_vgpu_read() lists them); its
 * vendor:device ids and the type's name are recorded, and apply refuses a different device found
 * at the address. Changes nothing on the VF. A VF the list binds to vfio-pci is refused (it could
 * not hold a type), and hostdev_vfio_persist_add() refuses a VF listed here. Returns 0 when added,
 * 1 when the VF was listed (its type is replaced), or -EINVAL (NULL argument, malformed address,
 * @type_id 0: remove the entry instead, @vf is a GPU rather than one of its VFs), -ENODEV (no such
 * device), -EOPNOTSUPP (no vGPU types on the device, as hostdev_vgpu_read()), -ENOENT (the VF
 * neither holds nor can take @type_id), -EBUSY (the list binds the VF), the errors of the list file
 * and lock, each with a message.
 */
int hostdev_vfio_persist_add_vgpu(hostdev_ctx *ctx, const char *vf, unsigned int type_id);
/** Forget the vGPU type of @vf. Returns 0, -EINVAL (malformed address), -ENOENT (not listed), ... */
int hostdev_vfio_persist_remove_vgpu(hostdev_ctx *ctx, const char *vf);
/** Number of vGPU types in the list, in VF address order (the order apply sets them). */
size_t hostdev_vfio_persist_get_vgpu_count(const hostdev_vfio_persist *list);
/** The VF of vGPU entry @index (borrowed, canonical address), NULL out of range. */
const char *hostdev_vfio_persist_get_vgpu_vf(const hostdev_vfio_persist *list, size_t index);
/** The vGPU type id of entry @index, 0 out of range. */
unsigned int hostdev_vfio_persist_get_vgpu_type(const hostdev_vfio_persist *list, size_t index);
/** The type's name when it was recorded (borrowed), NULL when unknown or out of range. */
const char *hostdev_vfio_persist_get_vgpu_name(const hostdev_vfio_persist *list, size_t index);

/**
 * Restore the persistent list (what a boot-time unit runs before the kubelet), idempotently and in
 * dependency order: (1) each listed VF count with hostdev_sriov_set_num_vfs() (its autoprobe; the
 * lock timeout of @opts), (2) since HOSTDEV_1.6, each listed vGPU type set on its VF with
 * hostdev_vgpu_set_type() (journaled like any set, so hostdev_vgpu_restore() takes it away; a VF
 * that holds it is left alone; a type the VF cannot take now, a missing VF or one that holds
 * another type is an error naming the VF and the entry, and the entry is kept), (3) each listed
 * device bound with its stored flags, (4) each listed mdev created with its UUID unless it exists
 * (one that exists with another parent or type is an error). An entry whose device (or PF) now has
 * other ids is refused. VFs enabled, vGPU types set and mdevs created are logged as notices.
 * Goes on after a failing entry and reports all failures in one message.
 * @flags must be 0. Returns the number of devices newly bound, or the first failure's negative
 * errno.
 */
int hostdev_vfio_apply(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
		       unsigned int flags);

/**
 * The OpenShift-style boot-time alternative, for /etc/modprobe.d/vfio.conf: comment lines, then
 * "softdep MODULE pre: vfio-pci" for every host driver module of the devices with the claimed ids
 * (bound driver and modalias matches, so that vfio-pci takes them first), then
 * "options vfio-pci ids=VVVV:DDDD,...\n" with the listed devices' ids plus those of the other
 * non-bridge endpoints of their IOMMU groups (a group is only usable when vfio-pci holds all of
 * them). The comments name each group member added and every other device with the same ids,
 * which vfio-pci would claim too at boot; a listed device missing from this host is named with a
 * NOTE (its ids are still listed). *@out is released with hostdev_free(). @flags must be 0.
 * Returns 0, -ENOENT (empty list), -EINVAL, -ENOMEM, or the errno of reading the list or
 * enumerating the PCI devices.
 */
int hostdev_vfio_modprobe_conf(hostdev_ctx *ctx, unsigned int flags, char **out);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_VFIO_H */
