/* SPDX-License-Identifier: Apache-2.0 */
/* Declarations shared by the vgpu files (vgpu_*.c). Never installed. */
#ifndef HOSTDEV_VGPU_INTERNAL_H
#define HOSTDEV_VGPU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define VGPU_JOURNAL_FILE "vgpu-journal.json"
/* The attributes of NVIDIA's driver below a VF. */
#define VGPU_DIR "nvidia"
#define VGPU_CREATABLE "nvidia/creatable_vgpu_types"
#define VGPU_CURRENT "nvidia/current_vgpu_type"
/* Longest type name kept (NVIDIA's are like "NVIDIA A100-80C", far shorter). */
#define VGPU_NAME_MAX 128

/* One creatable type. */
struct vgpu_type {
	unsigned int id;
	char *name;
};

struct vgpu_types {
	struct vgpu_type *items;
	size_t count;
};

void vgpu_types_clear(struct vgpu_types *types);
/* The name of @id in @types, NULL when it is not there. */
const char *vgpu_types_name(const struct vgpu_types *types, unsigned int id);

/* vgpu_parse.c: the driver's files, no I/O (tests/vgpu drives it directly). */

/*
 * Parse creatable_vgpu_types: an optional header line "ID : vGPU Name", then lines "ID : Name"
 * (blank lines ignored). Returns 0, -ENOMEM, or -EBADMSG with the offending line in @err.
 */
int vgpu_parse_creatable(const char *text, struct vgpu_types *out, char *err, size_t errsize);
/* Parse current_vgpu_type (a decimal id, 0 for none). Returns 0 or -EBADMSG. */
int vgpu_parse_current(const char *text, unsigned int *out);

/* One record of the vGPU journal: a VF whose type libhostdev set. */
struct vgpu_record {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	unsigned int type;	    /* the type set */
	char *name;		    /* its name at the time, NULL when unknown */
	unsigned int previous_type; /* what restore writes back (0: none) */
	int64_t time;
};

struct vgpu_journal_data {
	struct vgpu_record *records;
	size_t count;
};

void vgpu_journal_data_clear(struct vgpu_journal_data *data);
/* Append a deep copy of @rec. 0 or -ENOMEM. */
int vgpu_journal_data_add(struct vgpu_journal_data *data, const struct vgpu_record *rec);
/* Index of @address, -1 for none. */
ptrdiff_t vgpu_journal_data_find(const struct vgpu_journal_data *data, const char *address);
void vgpu_journal_data_remove(struct vgpu_journal_data *data, size_t index);
/* Strict parse of the document; -EBADMSG with @err, -ENOMEM. */
int vgpu_journal_parse(const char *text, size_t len, struct vgpu_journal_data *out, char *err,
		       size_t errsize);
/* The document, malloc'ed with a trailing newline; NULL when out of memory. */
char *vgpu_journal_serialize(const struct vgpu_journal_data *data);

/* vgpu_journal.c: the journal on disk, in the state directory of the vfio journal. */
struct vfio_state;
/* Caller holds the vfio lock. Missing = empty; corrupt = -EBADMSG with the message. */
int vgpu_journal_load(hostdev_ctx *ctx, const struct vfio_state *state,
		      struct vgpu_journal_data *out);
int vgpu_journal_store(hostdev_ctx *ctx, const struct vfio_state *state,
		       const struct vgpu_journal_data *data);
/* Without the lock, for readers (the file is only ever replaced whole). Missing = empty. */
int vgpu_journal_peek(hostdev_ctx *ctx, struct vgpu_journal_data *out);

/* vgpu_read.c: the sysfs side of one VF. */

/* The VF's state now. */
struct vgpu_vf {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	char pf[HOSTDEV_PCI_ADDRESS_MAX]; /* "" without physfn */
	char driver[64];		  /* "" without driver */
	int iommu_group;
	unsigned int current;
	char *current_name; /* NULL when unknown */
	bool journaled;
	struct vgpu_types creatable;
};

void vgpu_vf_clear(struct vgpu_vf *vf);
/*
 * Read the VF at canonical @address. Returns 0, -ENODEV (no device), -EOPNOTSUPP (no
 * nvidia/current_vgpu_type; the message says why), -EBADMSG, -ENOMEM. The current type's name is
 * looked up in the VF's and its siblings' creatable lists (not in the journal).
 */
int vgpu_vf_read(hostdev_ctx *ctx, const char *address, struct vgpu_vf *out);
/* The current_vgpu_type of @address into *@type: 0, -ENOENT (no attribute), -EBADMSG. */
int vgpu_read_current(hostdev_ctx *ctx, const char *address, unsigned int *type);

#endif /* HOSTDEV_VGPU_INTERNAL_H */
