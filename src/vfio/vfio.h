/* SPDX-License-Identifier: Apache-2.0 */
/* Declarations shared by the vfio files (vfio_*.c). Never installed. */
#ifndef HOSTDEV_VFIO_INTERNAL_H
#define HOSTDEV_VFIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"

#define VFIO_JOURNAL_FILE "vfio-journal.json"
#define VFIO_LOCK_FILE "vfio.lock"
#define VFIO_PERSIST_FILE "vfio-devices.json"
/* Longest driver name accepted from files (the kernel's are far shorter). */
#define VFIO_DRIVER_NAME_MAX 64
/* Longest owner text kept in the journal. */
#define VFIO_OWNER_MAX 1024

/* One journal record: a device libhostdev moved to vfio-pci and has not given back yet. */
struct vfio_record {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	char *driver;	       /* original driver, NULL for none */
	char *driver_override; /* original driver_override, NULL for unset */
	int iommu_group;
	int64_t time;
	char *owner; /* NULL for none */
	bool group_bind;
	bool complete;
};

struct vfio_journal_data {
	struct vfio_record *records;
	size_t count;
	size_t capacity;
};

/* vfio_journal_parse.c: pure parsing and serialisation, no I/O (also built into the fuzzer). */

/*
 * Parse the journal text. On failure returns -EBADMSG (or -ENOMEM) and puts a short description of
 * the first problem in @err; @out is left empty.
 */
int vfio_journal_parse(const char *text, size_t len, struct vfio_journal_data *out, char *err,
		       size_t errsize);
/* The journal document; malloc'ed, NULL on allocation failure. */
char *vfio_journal_serialize(const struct vfio_journal_data *data, bool pretty);
void vfio_journal_data_clear(struct vfio_journal_data *data);
/* Append a deep copy of @rec. */
int vfio_journal_data_add(struct vfio_journal_data *data, const struct vfio_record *rec);
/* Index of @address, or -1. */
ssize_t vfio_journal_data_find(const struct vfio_journal_data *data, const char *address);
void vfio_journal_data_remove(struct vfio_journal_data *data, size_t index);
/* By address, for the other folders (sriov): the record of @address, NULL for none (borrowed
 * until @data changes); drop it, true when there was one. */
const struct vfio_record *vfio_journal_data_lookup(const struct vfio_journal_data *data,
						   const char *address);
bool vfio_journal_data_drop(struct vfio_journal_data *data, const char *address);
/* True for a name usable as drivers/<name>: printable, no '/', not "." or "..", short. */
bool vfio_driver_name_valid(const char *name);

/* vfio_state.c: the trusted directories (state, config), their files and the lock. */

/* An open directory that passed the trust check (owner, mode); fd -1 when it does not exist. */
struct vfio_dir {
	int fd;
	bool writable; /* opened for writing (files may be replaced) */
	uid_t uid;     /* owner and mode, for messages */
	mode_t mode;
	char path[4096];
};

enum vfio_dir_mode {
	VFIO_DIR_READ,	/* look up files only; a missing directory is fd -1, not an error */
	VFIO_DIR_WRITE, /* created (0700) when missing; files may be replaced */
};

/*
 * Open @path (O_DIRECTORY|O_NOFOLLOW) and check it: owned by the effective uid (root's accepted
 * for reading), not writable by group or others. @what names it in messages ("state directory").
 * Returns 0 or a negative errno with the message (-EPERM: untrusted, naming owner, mode and fix).
 */
int vfio_dir_open(hostdev_ctx *ctx, const char *path, const char *what, enum vfio_dir_mode mode,
		  struct vfio_dir *out);
void vfio_dir_close(struct vfio_dir *dir);
/*
 * Read the whole regular file @name below @dir (O_NOFOLLOW, O_NONBLOCK, trust-checked like the
 * directory). -ENOENT when it (or the directory) is missing, -EBADMSG for a symlink or a file that
 * is not regular, -EACCES saying which permission is missing, -EPERM when untrusted.
 */
int vfio_file_read(hostdev_ctx *ctx, const struct vfio_dir *dir, const char *name, const char *what,
		   char **out, size_t *len);
/*
 * Replace @name below @dir durably: temp file (O_EXCL, O_NOFOLLOW, @mode), write, fsync,
 * renameat, fsync the directory. @dir must be open with VFIO_DIR_WRITE.
 */
int vfio_file_replace(hostdev_ctx *ctx, const struct vfio_dir *dir, const char *name,
		      const char *content, size_t len, mode_t mode);

/* The state directory with the vfio lock held. */
struct vfio_state {
	struct vfio_dir dir;
	int lock_fd;
};
/*
 * Open the state directory for writing and take the vfio lock (<state>/vfio.lock, exclusive
 * flock), waiting at most @lock_timeout_ms with a notice naming the holder; -ETIMEDOUT after.
 */
int vfio_state_lock(hostdev_ctx *ctx, unsigned int lock_timeout_ms, struct vfio_state *state);
void vfio_state_unlock(struct vfio_state *state);

/* vfio_journal.c: the journal document on disk. */

/* Caller holds the lock. A missing journal is empty; a corrupt one is -EBADMSG with the message. */
int vfio_journal_load(hostdev_ctx *ctx, const struct vfio_state *state,
		      struct vfio_journal_data *out);
int vfio_journal_store(hostdev_ctx *ctx, const struct vfio_state *state,
		       const struct vfio_journal_data *data);

/* vfio_module.c */
/* vfio-pci driver registered (module loaded or built in)? */
bool vfio_driver_present(hostdev_ctx *ctx);
/*
 * Modules state for preflight: 1 loaded/built in, 0 loadable, -ENOENT missing, -EPERM blacklisted,
 * -ELIBACC libkmod cannot be loaded (pci_kmod()), -ENOMEM no libkmod context.
 * @detail says what was found, @remedy (empty unless negative) what to do about it.
 */
int vfio_module_state(hostdev_ctx *ctx, const char *name, char *detail, size_t size, char *remedy,
		      size_t rsize);

/* vfio_guard.c: the host-critical devices, collected once per operation. */
struct vfio_guard {
	struct strv addresses; /* canonical PCI addresses */
	struct strv reasons;   /* reasons[i] explains addresses[i] */
};
/*
 * Collect the devices carrying a default route, the controllers of mounted filesystems and the
 * caller's @protected addresses (already validated). Unreadable sources are logged and skipped.
 */
int vfio_guard_collect(hostdev_ctx *ctx, const char *const *protected, size_t protected_count,
		       struct vfio_guard *guard);
/* Why @address is guarded ("it carries the default route (eth0)"), NULL when it is not. */
const char *vfio_guard_lookup(const struct vfio_guard *guard, const char *address);
void vfio_guard_clear(struct vfio_guard *guard);

/* vfio_device.c: the sysfs side of one device. Stores run under the watchdog (attr_write.c). */

/* True for "vfio-pci". */
bool vfio_is_vfio_driver(const char *driver);
/*
 * Store @value into <sysfs>/@rel within @timeout_ms; on failure the message names the device,
 * @what was being done and the attribute's path (-ETIMEDOUT when the store blocked, -EINVAL when
 * the attribute is not a regular file).
 */
int vfio_sysfs_store(hostdev_ctx *ctx, const char *address, const char *rel, const char *value,
		     const char *what, unsigned int timeout_ms);
/* <sysfs>/bus/pci/devices/@address/@attr = @value. */
int vfio_device_store(hostdev_ctx *ctx, const char *address, const char *attr, const char *value,
		      const char *what, unsigned int timeout_ms);
/* <sysfs>/bus/pci/drivers/@driver/@file = @address. */
int vfio_driver_store(hostdev_ctx *ctx, const char *address, const char *driver, const char *file,
		      const char *what, unsigned int timeout_ms);
/* Current driver of @address into @buf ("" for none). -ENODEV when the device is gone. */
int vfio_current_driver(hostdev_ctx *ctx, const char *address, char *buf, size_t size);
/* Current driver_override of @address into @buf ("" when unset). */
int vfio_current_override(hostdev_ctx *ctx, const char *address, char *buf, size_t size);
/* Wait until the driver of @address is @want. 0, -ETIMEDOUT naming what was seen, -ENODEV. */
int vfio_wait_driver(hostdev_ctx *ctx, const char *address, const char *want,
		     unsigned int timeout_ms);

/* What to put a device back to (restore, and the rollback of a failed bind). */
struct vfio_put_back {
	const char *address;
	const char *driver;	     /* original driver, NULL none */
	const char *driver_override; /* original override, NULL unset */
	bool probe_if_none;	     /* drivers_probe when there was no driver */
};
/*
 * driver_override back, unbind from vfio-pci, bind the original driver, verify. Refuses (-EPERM)
 * a target naming vfio-pci. Returns 0, -ENODEV when the device does not exist, another negative
 * errno with the message.
 */
int vfio_put_back(hostdev_ctx *ctx, const struct vfio_put_back *t, unsigned int timeout_ms);

/* vfio_bind.c: the operations with the lock already held (used by apply). */
int vfio_bind_locked(hostdev_ctx *ctx, const struct vfio_state *state, const char *const *addresses,
		     size_t count, const struct hostdev_vfio_options *opts, unsigned int flags);
/*
 * vfio_bind_locked() that appends an entry per device to @result (may be NULL). With
 * HOSTDEV_BIND_DRY_RUN it writes nothing and @state need not hold the lock (only its directory is
 * read).
 */
int vfio_bind_locked_result(hostdev_ctx *ctx, const struct vfio_state *state,
			    const char *const *addresses, size_t count,
			    const struct hostdev_vfio_options *opts, unsigned int flags,
			    hostdev_vfio_result *result);
/* Validate options; fills @out with the effective values (all of the current version). */
int vfio_options_get(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
		     struct hostdev_vfio_options *out);
/* 1 when the class is a PCI-to-PCI bridge (never bound, ignored in group viability). */
bool vfio_class_is_bridge(unsigned int class_code);
/* Drivers that do not make a group unviable: vfio-pci itself, pci-stub, pcieport. */
bool vfio_driver_group_safe(const char *driver);
/*
 * Why binding @dev would destroy mediated devices: it hosts active mdevs, or it is a PF whose
 * VFs do. Writes one sentence into @buf and returns the number of mdevs (0: none, @buf "").
 */
size_t vfio_mdev_conflicts(hostdev_ctx *ctx, hostdev_pci_device *dev, char *buf, size_t size);
/* The vGPU type id @address holds (<dev>/nvidia/current_vgpu_type), 0 for none or unreadable. */
unsigned long vfio_vgpu_held_type(hostdev_ctx *ctx, const char *address);
/*
 * Why binding @dev would take NVIDIA vGPUs away: it is a VF that holds a vGPU type
 * (nvidia/current_vgpu_type, docs/vgpu.md), or a PF whose VFs do. One sentence into @buf; returns
 * the number of VFs holding a type (0: none, @buf "").
 */
size_t vfio_vgpu_conflicts(hostdev_ctx *ctx, hostdev_pci_device *dev, char *buf, size_t size);

/* vfio_result.c: the per-device result object (vfio.h). */
hostdev_vfio_result *vfio_result_new(void);
/* Append an entry; @driver may be NULL. Returns 0 or -ENOMEM. */
int vfio_result_add(hostdev_vfio_result *result, const char *address, int outcome,
		    const char *driver, bool has_record, const char *fmt, ...) HOSTDEV_PRINTF(6, 7);
/*
 * What bind knows of entry @index: IOMMU group, driver before the call and original driver
 * recorded in the journal (NULL for none), named by the caller or brought along by its group.
 * Returns 0, -EINVAL (no such entry), -ENOMEM.
 */
int vfio_result_set_bind_details(hostdev_vfio_result *result, size_t index, int iommu_group,
				 const char *previous_driver, const char *original_driver,
				 bool requested);
/* Mark the record of entry @index as dropped (the journal was rewritten without it). */
void vfio_result_set_has_record(hostdev_vfio_result *result, size_t index, bool has_record);

#endif /* HOSTDEV_VFIO_INTERNAL_H */
