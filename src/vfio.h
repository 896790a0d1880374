/* SPDX-License-Identifier: Apache-2.0 */
/* Declarations shared by the vfio files (vfio_*.c). Never installed. */
#ifndef HOSTDEV_VFIO_INTERNAL_H
#define HOSTDEV_VFIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

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
/* True for a name usable as drivers/<name>: printable, no '/', not "." or "..", short. */
bool vfio_driver_name_valid(const char *name);

/* vfio_journal.c: files, lock, journal load/store. */

/* Take the vfio lock (<state>/vfio.lock, flock exclusive), creating the state dir. Returns the fd.
 */
int vfio_lock(hostdev_ctx *ctx);
void vfio_unlock(int fd);
/* Read a whole regular file (O_NOFOLLOW). -ENOENT when missing. */
int vfio_read_file(hostdev_ctx *ctx, const char *path, char **out, size_t *len);
/*
 * Replace @dir/@name durably: temp file (O_EXCL, O_NOFOLLOW, @mode), write, fsync, rename, fsync
 * the directory. Creates @dir (0700) when missing.
 */
int vfio_write_file_atomic(hostdev_ctx *ctx, const char *dir, const char *name, const char *content,
			   mode_t mode);
/* Caller holds the lock. A missing journal is empty; a corrupt one is -EBADMSG with the message. */
int vfio_journal_load(hostdev_ctx *ctx, struct vfio_journal_data *out);
int vfio_journal_store(hostdev_ctx *ctx, const struct vfio_journal_data *data);

/* vfio_module.c */
/* vfio-pci driver registered (module loaded or built in)? */
bool vfio_driver_present(hostdev_ctx *ctx);
/* Modules state for preflight: 1 loaded/built in, 0 loadable, -ENOENT missing, -EPERM blacklisted.
 */
int vfio_module_state(hostdev_ctx *ctx, const char *name, char *detail, size_t size);

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

/* vfio_bind.c: the operations with the lock already held (used by apply). */
int vfio_bind_locked(hostdev_ctx *ctx, const char *const *addresses, size_t count,
		     const struct hostdev_vfio_options *opts, unsigned int flags);
/* Validate options; fills @out with the effective values. */
int vfio_options_get(hostdev_ctx *ctx, const struct hostdev_vfio_options *opts,
		     struct hostdev_vfio_options *out);
/* 1 when the class is a PCI-to-PCI bridge (never bound, ignored in group viability). */
bool vfio_class_is_bridge(unsigned int class_code);
/* Drivers that do not make a group unviable: vfio-pci itself, pci-stub, pcieport. */
bool vfio_driver_group_safe(const char *driver);

#endif /* HOSTDEV_VFIO_INTERNAL_H */
