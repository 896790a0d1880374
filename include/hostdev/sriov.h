/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SR-IOV: the physical function (PF) / virtual function (VF) model and changing the number of VFs
 * with the kernel's rules (docs/sriov-mdev.md).
 *
 * The kernel's sriov_numvfs store is strict and its errors are cryptic: a new count while VFs exist
 * gives EBUSY, more than sriov_totalvfs gives ERANGE, a PF without a driver (or whose driver cannot
 * configure SR-IOV) gives ENOENT, drivers may enable fewer VFs than asked, the virtfn<N>/physfn
 * links can appear after the write returned, and a hung PF driver can block the write for minutes.
 * hostdev_sriov_set_num_vfs() follows those rules (0 before a different non-zero count), maps every
 * errno to a sentence that says what to do, runs the write under a watchdog, and refuses to destroy
 * VFs that are bound to vfio-pci or recorded in the vfio journal (handed to virtual machines)
 * unless forced.
 *
 * All functions follow the conventions of context.h: >= 0 on success, a negative errno on failure
 * with hostdev_ctx_get_error() naming the device, the problem and the remedy.
 */
#ifndef HOSTDEV_SRIOV_H
#define HOSTDEV_SRIOV_H

#include <stddef.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque snapshot of an SR-IOV physical function and its VFs. */
typedef struct hostdev_sriov_pf hostdev_sriov_pf;

/**
 * Read the PF at @address ("DDDD:BB:SS.F" or "BB:SS.F") and its VFs: counts, VF device id, offset,
 * stride and the autoprobe setting from the PF's sriov_* attributes; for each VF (virtfn<N> link)
 * its index, address, driver, IOMMU group, first network interface and that interface's MAC.
 * On success *@out holds a new reference. Returns 0, -EINVAL (malformed address), -ENODEV (no such
 * device), -EOPNOTSUPP (the device is not an SR-IOV PF; for a VF the message names its PF),
 * -ENOMEM.
 */
int hostdev_sriov_pf_new(hostdev_ctx *ctx, const char *address, hostdev_sriov_pf **out);

hostdev_sriov_pf *hostdev_sriov_pf_ref(hostdev_sriov_pf *pf);
/** NULL-safe; always returns NULL. */
hostdev_sriov_pf *hostdev_sriov_pf_unref(hostdev_sriov_pf *pf);

/** "dddd:bb:ss.f" of the PF. */
const char *hostdev_sriov_pf_get_address(const hostdev_sriov_pf *pf);
/** Driver bound to the PF, NULL when none (then no VF count can be set). */
const char *hostdev_sriov_pf_get_driver(const hostdev_sriov_pf *pf);
/** sriov_totalvfs: the most VFs the PF offers. */
unsigned int hostdev_sriov_pf_get_total_vfs(const hostdev_sriov_pf *pf);
/** sriov_numvfs: VFs enabled now. */
unsigned int hostdev_sriov_pf_get_num_vfs(const hostdev_sriov_pf *pf);
/** sriov_vf_device: the PCI device id of the VFs, 0 when unknown. */
unsigned int hostdev_sriov_pf_get_vf_device_id(const hostdev_sriov_pf *pf);
/** sriov_offset: routing-ID offset of VF 0 from the PF, 0 when unknown. */
unsigned int hostdev_sriov_pf_get_offset(const hostdev_sriov_pf *pf);
/** sriov_stride: routing-ID distance between consecutive VFs, 0 when unknown. */
unsigned int hostdev_sriov_pf_get_stride(const hostdev_sriov_pf *pf);
/**
 * sriov_drivers_autoprobe: 1 when the kernel probes drivers for new VFs, 0 when new VFs stay
 * driverless (ready for vfio-pci), -1 when the kernel does not say.
 */
int hostdev_sriov_pf_get_autoprobe(const hostdev_sriov_pf *pf);

/** Number of VFs present (virtfn<N> links), in VF index order. */
size_t hostdev_sriov_pf_get_vf_count(const hostdev_sriov_pf *pf);
/* Fields of VF entry @i; NULL / -1 when @i is out of range. */
/** The VF index N (of virtfn<N>). */
int hostdev_sriov_pf_get_vf_index(const hostdev_sriov_pf *pf, size_t i);
/** The VF's address. */
const char *hostdev_sriov_pf_get_vf_address(const hostdev_sriov_pf *pf, size_t i);
/** The VF's driver, NULL when none. */
const char *hostdev_sriov_pf_get_vf_driver(const hostdev_sriov_pf *pf, size_t i);
/** The VF's IOMMU group, -1 when it has none. */
int hostdev_sriov_pf_get_vf_iommu_group(const hostdev_sriov_pf *pf, size_t i);
/** The VF's network interface (the first, sorted), NULL when it has none (e.g. on vfio-pci). */
const char *hostdev_sriov_pf_get_vf_netdev(const hostdev_sriov_pf *pf, size_t i);
/**
 * MAC address of the VF's network interface ("aa:bb:cc:dd:ee:ff"), NULL without an interface. The
 * administrative MAC the PF driver keeps for a VF without a host interface (`ip link show <pf>`,
 * netlink) is not read.
 */
const char *hostdev_sriov_pf_get_vf_mac(const hostdev_sriov_pf *pf, size_t i);

/** What hostdev_sriov_options.autoprobe does with sriov_drivers_autoprobe before VFs are made. */
enum hostdev_sriov_autoprobe {
	HOSTDEV_SRIOV_AUTOPROBE_KEEP = 0, /**< leave it as it is */
	HOSTDEV_SRIOV_AUTOPROBE_OFF =
	    1,				/**< write 0: new VFs stay driverless, ready for vfio-pci */
	HOSTDEV_SRIOV_AUTOPROBE_ON = 2, /**< write 1: the kernel probes VF drivers as usual */
};

/** Flags of hostdev_sriov_set_num_vfs(). Unknown bits give -EINVAL. */
enum hostdev_sriov_flags {
	/**
	 * Change the count even though a VF that goes away is bound to vfio-pci or recorded in the
	 * vfio journal (a VM may be using it). The journal records of the destroyed VFs are
	 * dropped.
	 */
	HOSTDEV_SRIOV_FORCE = 1u << 0,
};

/** Current version of struct hostdev_sriov_options. */
#define HOSTDEV_SRIOV_OPTIONS_VERSION 2

/** Default of hostdev_sriov_options.timeout_ms (field tools wait up to two minutes). */
#define HOSTDEV_SRIOV_DEFAULT_TIMEOUT_MS 120000

/**
 * Options of hostdev_sriov_set_num_vfs(). Initialise with HOSTDEV_SRIOV_OPTIONS_INIT or
 * hostdev_sriov_options_init(); members are only ever added at the end. NULL means all defaults.
 */
struct hostdev_sriov_options {
	/** HOSTDEV_SRIOV_OPTIONS_VERSION of the caller's header. */
	unsigned int version;
	/**
	 * Milliseconds each sysfs write may take (the watchdog) and, separately, how long to wait
	 * for the VF links after the last write. 0 means HOSTDEV_SRIOV_DEFAULT_TIMEOUT_MS.
	 */
	unsigned int timeout_ms;
	/** enum hostdev_sriov_autoprobe. */
	unsigned int autoprobe;
	/**
	 * Since version 2. How long to wait for the vfio lock (a count change reads the vfio
	 * journal under it) when another operation holds it, in milliseconds; then -ETIMEDOUT.
	 * 0 means HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS (vfio.h).
	 */
	unsigned int lock_timeout_ms;
};

/** Static initialiser with the defaults. */
#define HOSTDEV_SRIOV_OPTIONS_INIT                                                                 \
	{                                                                                          \
		HOSTDEV_SRIOV_OPTIONS_VERSION, 0, HOSTDEV_SRIOV_AUTOPROBE_KEEP, 0                  \
	}

/**
 * Fill @opts with the defaults for struct version @version (pass HOSTDEV_SRIOV_OPTIONS_VERSION).
 * Returns 0, -EINVAL for a NULL @opts or an unknown @version.
 */
int hostdev_sriov_options_init(struct hostdev_sriov_options *opts, unsigned int version);

/**
 * Set the number of VFs of the PF at @address to @num_vfs.
 *
 * Steps: read the PF; refuse @num_vfs > sriov_totalvfs (-ERANGE) before any write; when the count
 * changes and VFs exist, refuse (-EBUSY) if one of them is bound to vfio-pci or recorded in the
 * vfio journal, unless HOSTDEV_SRIOV_FORCE; apply opts->autoprobe; write 0 when VFs exist and wait
 * for their links to go; write @num_vfs; re-read sriov_numvfs; wait for virtfn<i> on the PF and
 * physfn on each VF. The check and the writes run under the vfio lock, so a concurrent
 * hostdev_vfio_bind() cannot slip a VF to vfio-pci in between.
 *
 * Each write runs in a worker thread; the caller waits at most opts->timeout_ms for it. A write
 * that does not return in time gives -ETIMEDOUT and the worker is left blocked in the kernel: the
 * kernel may still complete the write later (re-read the PF to see the outcome; do not write again
 * before it finished, the next write would wait for the same device lock).
 *
 * Returns the number of VFs enabled afterwards. That is less than @num_vfs when the PF driver
 * enabled fewer than asked (a partial enable the kernel reports as success; it is logged as a
 * warning). Equal counts are a no-op that only applies opts->autoprobe. Errors: -EINVAL (bad
 * address, flag or options), -ENODEV (no such device), -EOPNOTSUPP (not a PF), -ERANGE (over the
 * total), -EBUSY (VFs in use, or changed by someone else), -ENOENT (the PF has no driver or its
 * driver cannot configure SR-IOV), -ETIMEDOUT (a write or the links took too long), or the errno
 * of the PF driver (ENOSPC, EIO, ...), each with a message that says what to do.
 */
int hostdev_sriov_set_num_vfs(hostdev_ctx *ctx, const char *address, unsigned int num_vfs,
			      const struct hostdev_sriov_options *opts, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_SRIOV_H */
