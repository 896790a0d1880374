/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Setting, clearing and restoring the vGPU type of a VF (vgpu.h).
 *
 * Sequence of a set, under the vfio lock (the lock of the vfio journal: a bind of the same VF,
 * which refuses a VF that holds a type, cannot slip in between): read the VF -> refuse what the
 * driver would refuse less clearly (no nvidia/ directory, another type held, a type not creatable
 * now) -> record {VF, previous type, new type and its name} in the vGPU journal, durably -> store
 * the id under the watchdog -> read it back. A failed store removes the record again; a crash
 * after the record leaves it, and restore then finds the VF with the type set (put back) or
 * without it (record dropped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostdev/vgpu.h"
#include "vfio/vfio.h"
#include "vgpu.h"

HOSTDEV_EXPORT int hostdev_vgpu_options_init(struct hostdev_vgpu_options *opts,
					     unsigned int version)
{
	if (!opts || !VERSION_KNOWN(version, HOSTDEV_VGPU_OPTIONS_VERSION))
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int options_get(hostdev_ctx *ctx, const struct hostdev_vgpu_options *opts,
		       struct hostdev_vgpu_options *out)
{
	hostdev_vgpu_options_init(out, HOSTDEV_VGPU_OPTIONS_VERSION);
	if (opts) {
		CHECK_VERSION(
		    ctx, opts->version, HOSTDEV_VGPU_OPTIONS_VERSION,
		    "initialise them with HOSTDEV_VGPU_OPTIONS_INIT or hostdev_vgpu_options_init()",
		    "vGPU options");
		*out = *opts;
	}
	if (!out->timeout_ms)
		out->timeout_ms = HOSTDEV_VGPU_DEFAULT_TIMEOUT_MS;
	if (!out->lock_timeout_ms)
		out->lock_timeout_ms = HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS;
	return 0;
}

static int canonical(hostdev_ctx *ctx, const char *address, char *buf, size_t size)
{
	struct hostdev_pci_address a;

	if (!address || hostdev_pci_address_parse(address, &a) < 0 ||
	    hostdev_pci_address_format(&a, buf, size) < 0)
		return hostdev_error(ctx, -EINVAL,
				     "\"%s\" is not a PCI address: write DDDD:BB:DD.F, e.g. "
				     "0000:08:00.4",
				     address ? address : "(null)");
	return 0;
}

/* "558 (NVIDIA A2-4Q)" or "558" into @buf. */
static const char *type_text(unsigned int id, const char *name, char *buf, size_t size)
{
	if (name)
		snprintf(buf, size, "%u (%s)", id, name);
	else
		snprintf(buf, size, "%u", id);
	return buf;
}

/* The creatable types of @vf as "558 (NVIDIA A2-4Q), 559 (...)", or "none". */
static void creatable_text(const struct vgpu_vf *vf, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < vf->creatable.count && len + 1 < size; k++) {
		int n = snprintf(buf + len, size - len, "%s%u (%s)", k ? ", " : "",
				 vf->creatable.items[k].id, vf->creatable.items[k].name);

		if (n < 0 || (size_t)n >= size - len) {
			snprintf(buf + len, size - len, ", ...");
			break;
		}
		len += (size_t)n;
	}
	if (!vf->creatable.count)
		snprintf(buf, size,
			 "none: the GPU has no room for another vGPU of any type now "
			 "(clear the type of another VF first)");
}

/* Store @type into the VF's current_vgpu_type and check that it reads back. */
static int store_type(hostdev_ctx *ctx, const char *address, unsigned int type,
		      unsigned int timeout_ms, const char *what)
{
	char value[16];
	unsigned int now = 0;
	int r;

	snprintf(value, sizeof(value), "%u", type);
	r = vfio_device_store(ctx, address, VGPU_CURRENT, value, what, timeout_ms);
	if (r == -EBUSY)
		return hostdev_error(ctx, r,
				     "%s: %s: NVIDIA's driver is busy with the VF (EBUSY): a "
				     "virtual machine probably holds it open; stop it and retry",
				     address, what);
	if (r < 0)
		return r;
	r = vgpu_read_current(ctx, address, &now);
	if (r < 0)
		return hostdev_error(ctx, r == -ENOENT ? -ENODEV : r,
				     "%s: %s: %s cannot be read back after the store (%s): the VF "
				     "may have gone",
				     address, what, VGPU_CURRENT, strerror(-r));
	if (now != type)
		return hostdev_error(ctx, -EIO,
				     "%s: %s: the driver accepted %u but %s reads %u: check dmesg",
				     address, what, type, VGPU_CURRENT, now);
	return 0;
}

static int set_locked(hostdev_ctx *ctx, const struct vfio_state *state, const char *address,
		      unsigned int type, const struct hostdev_vgpu_options *o)
{
	struct vgpu_journal_data journal = {0};
	struct vgpu_record rec = {0};
	struct vgpu_vf vf;
	char held[VGPU_NAME_MAX + 16], list[1024];
	const char *name;
	ptrdiff_t k;
	int r = vgpu_vf_read(ctx, address, &vf);

	if (r < 0)
		return r;
	if (vf.current == type) {
		log_info(ctx, "%s: holds vGPU type %s already", address,
			 type_text(type, vf.current_name, held, sizeof(held)));
		vgpu_vf_clear(&vf);
		return 0;
	}
	if (vf.current) {
		r = hostdev_error(ctx, -EBUSY,
				  "%s holds vGPU type %s; a VF holds one type at a time: clear it "
				  "first (hostdev_vgpu_clear_type()), then set %u",
				  address,
				  type_text(vf.current, vf.current_name, held, sizeof(held)), type);
		vgpu_vf_clear(&vf);
		return r;
	}
	name = vgpu_types_name(&vf.creatable, type);
	if (!name) {
		creatable_text(&vf, list, sizeof(list));
		r = hostdev_error(ctx, -ENOENT,
				  "%s cannot take vGPU type %u now: it is not in the VF's %s. "
				  "Creatable now: %s",
				  address, type, VGPU_CREATABLE, list);
		vgpu_vf_clear(&vf);
		return r;
	}
	snprintf(rec.address, sizeof(rec.address), "%s", address);
	rec.type = type;
	rec.name = (char *)name;
	rec.previous_type = 0;
	rec.time = (int64_t)time(NULL);
	r = vgpu_journal_load(ctx, state, &journal);
	if (r >= 0) {
		/* An old record of the VF (its type was cleared by someone else) is replaced. */
		if ((k = vgpu_journal_data_find(&journal, address)) >= 0)
			vgpu_journal_data_remove(&journal, (size_t)k);
		r = vgpu_journal_data_add(&journal, &rec);
	}
	if (r >= 0)
		r = vgpu_journal_store(ctx, state, &journal);
	if (r >= 0) {
		char what[64 + VGPU_NAME_MAX];

		snprintf(what, sizeof(what), "setting vGPU type %u (%s)", type, name);
		r = store_type(ctx, address, type, o->timeout_ms, what);
		if (r < 0 && r != -ETIMEDOUT) {
			/* Nothing changed on the VF: the record goes (a timed-out store may
			 * still complete, so its record stays for restore). */
			char saved[HOSTDEV_ERROR_MAX];

			snprintf(saved, sizeof(saved), "%s", hostdev_ctx_get_error(ctx));
			if ((k = vgpu_journal_data_find(&journal, address)) >= 0)
				vgpu_journal_data_remove(&journal, (size_t)k);
			if (vgpu_journal_store(ctx, state, &journal) < 0)
				log_warn(ctx,
					 "%s: the vGPU journal keeps a record of the failed "
					 "set: %s",
					 address, hostdev_ctx_get_error(ctx));
			hostdev_error(ctx, r, "%s", saved);
		}
	}
	if (r >= 0)
		log_info(ctx, "%s: vGPU type %u (%s) set", address, type, name);
	vgpu_journal_data_clear(&journal);
	vgpu_vf_clear(&vf);
	return r < 0 ? r : 1;
}

HOSTDEV_EXPORT int hostdev_vgpu_set_type(hostdev_ctx *ctx, const char *address,
					 unsigned int type_id,
					 const struct hostdev_vgpu_options *opts,
					 unsigned int flags)
{
	struct hostdev_vgpu_options o;
	struct vfio_state state;
	char canon[HOSTDEV_PCI_ADDRESS_MAX];
	int r;

	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, 0, "vGPU set");
	if ((r = options_get(ctx, opts, &o)) < 0 ||
	    (r = canonical(ctx, address, canon, sizeof(canon))) < 0)
		return r;
	if (type_id == 0)
		return hostdev_error(ctx, -EINVAL,
				     "%s: vGPU type 0 means no type: to take the VF's type away, "
				     "clear it (hostdev_vgpu_clear_type())",
				     canon);
	if ((r = vfio_state_lock(ctx, o.lock_timeout_ms, &state)) < 0)
		return r;
	r = set_locked(ctx, &state, canon, type_id, &o);
	vfio_state_unlock(&state);
	return r;
}

/* Clear the type of @address and drop its record (which may be absent). */
static int clear_locked(hostdev_ctx *ctx, const struct vfio_state *state, const char *address,
			unsigned int timeout_ms)
{
	struct vgpu_journal_data journal;
	char held[VGPU_NAME_MAX + 16], what[VGPU_NAME_MAX + 64];
	struct vgpu_vf vf;
	ptrdiff_t k;
	int r = vgpu_vf_read(ctx, address, &vf), cleared = 0;

	if (r < 0)
		return r;
	if (vf.current) {
		snprintf(what, sizeof(what), "clearing vGPU type %s",
			 type_text(vf.current, vf.current_name, held, sizeof(held)));
		r = store_type(ctx, address, 0, timeout_ms, what);
		cleared = 1;
	}
	vgpu_vf_clear(&vf);
	if (r < 0)
		return r;
	if ((r = vgpu_journal_load(ctx, state, &journal)) < 0)
		return r;
	if ((k = vgpu_journal_data_find(&journal, address)) >= 0) {
		vgpu_journal_data_remove(&journal, (size_t)k);
		r = vgpu_journal_store(ctx, state, &journal);
	}
	vgpu_journal_data_clear(&journal);
	if (r >= 0 && cleared)
		log_info(ctx, "%s: vGPU type cleared", address);
	return r < 0 ? r : cleared;
}

HOSTDEV_EXPORT int hostdev_vgpu_clear_type(hostdev_ctx *ctx, const char *address,
					   const struct hostdev_vgpu_options *opts,
					   unsigned int flags)
{
	struct hostdev_vgpu_options o;
	struct vfio_state state;
	char canon[HOSTDEV_PCI_ADDRESS_MAX];
	int r;

	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, 0, "vGPU clear");
	if ((r = options_get(ctx, opts, &o)) < 0 ||
	    (r = canonical(ctx, address, canon, sizeof(canon))) < 0)
		return r;
	if ((r = vfio_state_lock(ctx, o.lock_timeout_ms, &state)) < 0)
		return r;
	r = clear_locked(ctx, &state, canon, o.timeout_ms);
	vfio_state_unlock(&state);
	return r;
}

/*
 * Put record @rec back. Returns 1 (type put back), 0 (nothing to do: the record goes), -ENODEV
 * (the VF is gone: the record stays) or the store's errno (the record stays).
 */
static int restore_record(hostdev_ctx *ctx, const struct vgpu_record *rec, unsigned int timeout_ms)
{
	char what[VGPU_NAME_MAX + 64], held[VGPU_NAME_MAX + 16];
	unsigned int now = 0;
	int r = vgpu_read_current(ctx, rec->address, &now);

	if (r == -ENODEV || r == -ENOENT) {
		log_warn(ctx,
			 "%s: the VF is gone or no longer offers vGPU types; its vGPU journal "
			 "record (type %s) is kept for when it is back",
			 rec->address, type_text(rec->type, rec->name, held, sizeof(held)));
		return -ENODEV;
	}
	if (r < 0)
		return hostdev_error(ctx, r, "%s: %s cannot be read: %s", rec->address,
				     VGPU_CURRENT, strerror(-r));
	if (now != rec->type) {
		log_info(ctx, "%s: holds vGPU type %u, not the %u libhostdev set: left alone",
			 rec->address, now, rec->type);
		return 0;
	}
	snprintf(what, sizeof(what), "restoring: clearing vGPU type %s",
		 type_text(rec->type, rec->name, held, sizeof(held)));
	if (rec->previous_type)
		snprintf(what, sizeof(what), "restoring vGPU type %u", rec->previous_type);
	if (rec->previous_type && (r = store_type(ctx, rec->address, 0, timeout_ms, what)) < 0)
		return r;
	r = store_type(ctx, rec->address, rec->previous_type, timeout_ms, what);
	return r < 0 ? r : 1;
}

static int restore_locked(hostdev_ctx *ctx, const struct vfio_state *state, const char *address,
			  unsigned int timeout_ms)
{
	struct vgpu_journal_data journal;
	char first[HOSTDEV_ERROR_MAX] = "";
	int r, first_err = 0, restored = 0;
	size_t failed = 0, count;

	if ((r = vgpu_journal_load(ctx, state, &journal)) < 0)
		return r;
	if (address && vgpu_journal_data_find(&journal, address) < 0) {
		vgpu_journal_data_clear(&journal);
		return hostdev_error(ctx, -ENOENT,
				     "%s has no record in the vGPU journal: libhostdev did not set "
				     "its vGPU type (clear it with hostdev_vgpu_clear_type())",
				     address);
	}
	count = journal.count;
	/* Newest first, as the vfio journal. */
	for (size_t i = journal.count; i-- > 0;) {
		const struct vgpu_record *rec = &journal.records[i];

		if (address && strcmp(rec->address, address) != 0)
			continue;
		r = restore_record(ctx, rec, timeout_ms);
		if (r >= 0) {
			restored += r;
			vgpu_journal_data_remove(&journal, i);
		} else if (r != -ENODEV) {
			if (!failed++) {
				first_err = r;
				snprintf(first, sizeof(first), "%s", hostdev_ctx_get_error(ctx));
			}
		}
	}
	/* Rewritten once, and only when a record went. */
	r = journal.count != count ? vgpu_journal_store(ctx, state, &journal) : 0;
	vgpu_journal_data_clear(&journal);
	if (r < 0)
		return r;
	if (failed)
		return hostdev_error(ctx, first_err, "%s%s", first,
				     failed > 1 ? " (and more VFs failed; their records are kept)"
						: "; its record is kept: retry");
	return restored;
}

HOSTDEV_EXPORT int hostdev_vgpu_restore(hostdev_ctx *ctx, const char *address,
					const struct hostdev_vgpu_options *opts, unsigned int flags)
{
	struct hostdev_vgpu_options o;
	struct vfio_state state;
	char canon[HOSTDEV_PCI_ADDRESS_MAX];
	int r;

	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, 0, "vGPU restore");
	if ((r = options_get(ctx, opts, &o)) < 0 ||
	    (address && (r = canonical(ctx, address, canon, sizeof(canon))) < 0))
		return r;
	if ((r = vfio_state_lock(ctx, o.lock_timeout_ms, &state)) < 0)
		return r;
	r = restore_locked(ctx, &state, address ? canon : NULL, o.timeout_ms);
	vfio_state_unlock(&state);
	return r;
}
