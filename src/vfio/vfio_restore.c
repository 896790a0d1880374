/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restore: give devices back to the drivers the journal recorded, and say what happened to each
 * (hostdev_vfio_result). The sequence and its rules are in vfio.h and docs/vfio.md; the points that
 * are easy to get wrong:
 *
 *  - What a device is on decides, not what the record says: a device off vfio-pci gets no store,
 *    except that an override still reading "vfio-pci" (a bind interrupted before its unbind) is put
 *    back. Restore never writes "vfio-pci": the journal is input, and a record asking for it is
 *    refused. So a record for a device the host is using (the management NIC) changes nothing.
 *  - Records are never dropped in silence: each entry of the result says whether its record is
 *    kept. A device that is gone keeps its record unless HOSTDEV_RESTORE_FORGET_GONE.
 *  - The journal is rewritten once per call, after every device was handled, not once per record
 *    (a 300-record restore did 300 rewrites and fsyncs). Crash safety of that order: until the
 *    rewrite, the old journal still lists every device being restored, so a crash anywhere leaves
 *    records only for devices that are back on their driver (the next restore finds them there:
 *    ALREADY, record dropped, no store) or part-way back (driverless or still on vfio-pci with the
 *    override restored: the next restore finishes the sequence). No device can lose its record
 *    before it is back; a stale record costs one look at sysfs.
 *  - Everything is linear in the journal size: selection by sorted index, group expansion by a
 *    sorted group list, one compaction of the record array at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci.h"
#include "vfio.h"

struct restore_run {
	hostdev_ctx *ctx;
	const struct hostdev_vfio_options *opts;
	unsigned int flags;
	hostdev_vfio_result *result;
	struct vfio_guard guard;
	bool guard_loaded;
	int restored;
	size_t failed;	 /* FAILED or REFUSED entries */
	int first_error; /* errno of the first of them */
	char *first_error_text;
};

/* ---------------------------------------------------------------------------------------------- */
/* Selection */

static int compare_ints(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* An address and the index of its record. */
struct keyed {
	const char *address;
	size_t index;
};

static int compare_keyed(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->address, ((const struct keyed *)b)->address);
}

/* The records' addresses sorted, for lookups in O(log n). NULL on allocation failure. */
static struct keyed *address_index(const struct vfio_journal_data *journal)
{
	struct keyed *keys = malloc((journal->count + 1) * sizeof(*keys));

	if (!keys)
		return NULL;
	for (size_t i = 0; i < journal->count; i++)
		keys[i] = (struct keyed){journal->records[i].address, i};
	qsort(keys, journal->count, sizeof(*keys), compare_keyed);
	return keys;
}

static ssize_t index_find(const struct keyed *keys, size_t count, const char *address)
{
	struct keyed key = {address, 0};
	const struct keyed *found = bsearch(&key, keys, count, sizeof(*keys), compare_keyed);

	return found ? (ssize_t)found->index : -1;
}

/* A selected group-bound record brings every group-bound record of its IOMMU group. */
static int expand_groups(const struct vfio_journal_data *journal, bool *selected)
{
	int *groups = malloc((journal->count + 1) * sizeof(*groups));
	size_t n = 0;

	if (!groups)
		return -ENOMEM;
	for (size_t i = 0; i < journal->count; i++)
		if (selected[i] && journal->records[i].group_bind)
			groups[n++] = journal->records[i].iommu_group;
	qsort(groups, n, sizeof(*groups), compare_ints);
	for (size_t i = 0; n && i < journal->count; i++)
		if (journal->records[i].group_bind &&
		    bsearch(&journal->records[i].iommu_group, groups, n, sizeof(*groups),
			    compare_ints))
			selected[i] = true;
	free(groups);
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* One device */

static void note_failure(struct restore_run *run, int err)
{
	run->failed++;
	if (!run->first_error) {
		run->first_error = err;
		run->first_error_text = strdup(hostdev_ctx_get_error(run->ctx));
	}
}

static const char *guard_reason(struct restore_run *run, const char *address)
{
	if (!run->guard_loaded) {
		if (vfio_guard_collect(run->ctx, run->opts->protected_addresses,
				       run->opts->protected_count, &run->guard) < 0) {
			memset(&run->guard, 0, sizeof(run->guard));
			hostdev_clear_error(run->ctx);
		}
		run->guard_loaded = true;
	}
	return vfio_guard_lookup(&run->guard, address);
}

/*
 * A device off vfio-pci whose override still reads "vfio-pci" (a bind stopped before its unbind):
 * put the recorded override back, or only clear it on a host-critical device. 0 or -errno.
 */
static int clear_our_override(struct restore_run *run, const struct vfio_record *rec, char *done,
			      size_t size)
{
	const char *why = guard_reason(run, rec->address);
	const char *value = !why && rec->driver_override ? rec->driver_override : "\n";
	int r;

	r = vfio_device_store(run->ctx, rec->address, "driver_override", value,
			      "restoring driver_override", run->opts->timeout_ms);
	if (r == 0)
		snprintf(done, size,
			 "; its driver_override (still vfio-pci from an interrupted "
			 "bind) was %s%s%s",
			 strcmp(value, "\n") ? "set back to " : "cleared",
			 strcmp(value, "\n") ? value : "", why ? " (host-critical: " : "");
	if (r == 0 && why)
		snprintf(done + strlen(done), size - strlen(done), "%s)", why);
	return r;
}

static int add(struct restore_run *run, const char *address, int outcome, const char *driver,
	       bool kept, const char *message)
{
	int r = vfio_result_add(run->result, address, outcome, driver, kept, "%s", message);

	log_info(run->ctx, "%s: %s", address, message);
	return r;
}

/* Handle one record; sets *@drop when its record is done with. 0 or -ENOMEM. */
static int restore_record(struct restore_run *run, const struct vfio_record *rec, bool *drop)
{
	hostdev_ctx *ctx = run->ctx;
	const char *recorded = rec->driver ? rec->driver : "no driver";
	char cur[VFIO_DRIVER_NAME_MAX], ovr[VFIO_DRIVER_NAME_MAX], msg[HOSTDEV_ERROR_MAX],
	    done[HOSTDEV_ERROR_MAX / 2] = "";
	int r;

	*drop = false;
	if (vfio_is_vfio_driver(rec->driver) || vfio_is_vfio_driver(rec->driver_override)) {
		r = hostdev_error(
		    ctx, -EPERM,
		    "%s: its record names vfio-pci as the original %s, which no bind "
		    "records and restore never writes (a damaged or forged journal?): "
		    "nothing was written and the record is kept; inspect the journal",
		    rec->address,
		    rec->driver && vfio_is_vfio_driver(rec->driver) ? "driver" : "driver_override");
		note_failure(run, r);
		return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_REFUSED, NULL, true,
			   hostdev_ctx_get_error(ctx));
	}
	r = vfio_current_driver(ctx, rec->address, cur, sizeof(cur));
	if (r == -ENODEV) {
		bool forget = run->flags & HOSTDEV_RESTORE_FORGET_GONE;

		*drop = forget;
		snprintf(msg, sizeof(msg),
			 "no such device under %s/bus/pci/devices; %s (the kernel forgets a "
			 "driver_override with its device)%s",
			 ctx_sysfs(ctx), forget ? "record dropped" : "record kept",
			 forget ? ""
				: ": restore it when it is back, or drop the records of "
				  "gone devices with HOSTDEV_RESTORE_FORGET_GONE");
		return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_GONE, NULL, !forget, msg);
	}
	if (r == 0)
		r = vfio_current_override(ctx, rec->address, ovr, sizeof(ovr));
	if (r < 0) {
		r = hostdev_error(ctx, r, "%s: cannot read its driver or driver_override (%s)",
				  rec->address, strerror(-r));
		note_failure(run, r);
		return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_FAILED, NULL, true,
			   hostdev_ctx_get_error(ctx));
	}
	if (vfio_is_vfio_driver(cur) || (!cur[0] && (rec->driver || vfio_is_vfio_driver(ovr)))) {
		struct vfio_put_back t = {rec->address, rec->driver, rec->driver_override, true};

		r = vfio_put_back(ctx, &t, run->opts->timeout_ms);
		if (r == -ENODEV) {
			snprintf(msg, sizeof(msg), "disappeared while being restored; record kept");
			return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_GONE, NULL, true, msg);
		}
		if (r < 0) {
			char why[HOSTDEV_ERROR_MAX];

			snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(ctx));
			hostdev_error(ctx, r,
				      "%s. Its journal record is kept: fix the cause and "
				      "retry (hostdev_vfio_restore())",
				      why);
			note_failure(run, r);
			return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_FAILED, NULL, true,
				   hostdev_ctx_get_error(ctx));
		}
		*drop = true;
		run->restored++;
		if (vfio_current_driver(ctx, rec->address, cur, sizeof(cur)) < 0)
			cur[0] = '\0';
		if (rec->driver)
			snprintf(msg, sizeof(msg), "restored to %s", rec->driver);
		else
			snprintf(msg, sizeof(msg),
				 "restored (it had no driver; after the kernel's probe it is on "
				 "%s)",
				 cur[0] ? cur : "no driver");
		return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_RESTORED, cur, false, msg);
	}
	/* Off vfio-pci: the host has it. Only a trace of our own bind is taken back. */
	if (vfio_is_vfio_driver(ovr)) {
		r = clear_our_override(run, rec, done, sizeof(done));
		if (r < 0) {
			note_failure(run, r);
			return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_FAILED, cur, true,
				   hostdev_ctx_get_error(ctx));
		}
	}
	*drop = true;
	if ((!cur[0] && !rec->driver) || (rec->driver && strcmp(cur, rec->driver) == 0)) {
		snprintf(msg, sizeof(msg), "already on its original driver (%s); record dropped%s",
			 recorded, done);
		return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_ALREADY, cur, false, msg);
	}
	snprintf(msg, sizeof(msg),
		 "on %s, neither vfio-pci nor its recorded driver %s: left alone, not counted as "
		 "restored; record dropped (the host has the device)%s",
		 cur[0] ? cur : "no driver", recorded, done);
	return add(run, rec->address, HOSTDEV_VFIO_OUTCOME_OTHER_DRIVER, cur, false, msg);
}

/* Devices without a record: off vfio-pci nothing to do; on it, refuse or reprobe. */
static int check_unjournaled(hostdev_ctx *ctx, const char *address, unsigned int flags,
			     bool *on_vfio)
{
	char cur[VFIO_DRIVER_NAME_MAX];
	int r;

	r = vfio_current_driver(ctx, address, cur, sizeof(cur));
	if (r < 0)
		return hostdev_error(ctx, r == -ENODEV ? -ENODEV : r,
				     "%s: no such device under %s/bus/pci/devices and no journal "
				     "record",
				     address, ctx_sysfs(ctx));
	*on_vfio = vfio_is_vfio_driver(cur);
	if (*on_vfio && !(flags & HOSTDEV_RESTORE_UNJOURNALED))
		return hostdev_error(
		    ctx, -ENOENT,
		    "%s: is on vfio-pci but the journal has no record of it (it was "
		    "not bound by libhostdev), so its original driver is unknown; "
		    "pass HOSTDEV_RESTORE_UNJOURNALED to let the kernel choose a driver",
		    address);
	return 0;
}

static int restore_unjournaled(struct restore_run *run, const char *address, bool on_vfio)
{
	struct vfio_put_back t = {address, NULL, NULL, true};
	char cur[VFIO_DRIVER_NAME_MAX], msg[256];
	int r;

	if (!on_vfio)
		return add(run, address, HOSTDEV_VFIO_OUTCOME_NOT_BOUND, NULL, false,
			   "not on vfio-pci and no journal record: nothing to give back");
	r = vfio_put_back(run->ctx, &t, run->opts->timeout_ms);
	if (r < 0) {
		note_failure(run, r);
		return add(run, address, HOSTDEV_VFIO_OUTCOME_FAILED, NULL, false,
			   hostdev_ctx_get_error(run->ctx));
	}
	run->restored++;
	if (vfio_current_driver(run->ctx, address, cur, sizeof(cur)) < 0)
		cur[0] = '\0';
	snprintf(msg, sizeof(msg),
		 "no journal record: driver_override cleared and reprobed (now on %s)",
		 cur[0] ? cur : "no driver");
	return add(run, address, HOSTDEV_VFIO_OUTCOME_RESTORED, cur, false, msg);
}

/* ---------------------------------------------------------------------------------------------- */
/* The call */

static int restore_locked(struct restore_run *run, const struct vfio_state *state,
			  const char *const *addresses, size_t count)
{
	hostdev_ctx *ctx = run->ctx;
	struct vfio_journal_data journal = {0};
	struct strv unrecorded = {0};
	bool *selected = NULL, *drop = NULL, *on_vfio = NULL;
	struct keyed *order = NULL;
	size_t *entry_of = NULL, dropped = 0;
	int r;

	r = vfio_journal_load(ctx, state, &journal);
	if (r < 0)
		return r;
	selected = calloc(journal.count + 1, sizeof(*selected));
	drop = calloc(journal.count + 1, sizeof(*drop));
	entry_of = calloc(journal.count + 1, sizeof(*entry_of));
	on_vfio = calloc(count + 1, sizeof(*on_vfio));
	order = address_index(&journal);
	if (!selected || !drop || !entry_of || !on_vfio || !order) {
		r = -ENOMEM;
		goto out;
	}
	if (run->flags & HOSTDEV_RESTORE_ALL) {
		for (size_t i = 0; i < journal.count; i++)
			selected[i] = !run->opts->owner ||
				      (journal.records[i].owner &&
				       strcmp(journal.records[i].owner, run->opts->owner) == 0);
	}
	for (size_t i = 0; i < count; i++) {
		struct hostdev_pci_address addr;
		char canonical[HOSTDEV_PCI_ADDRESS_MAX];
		ssize_t idx;

		r = pci_address_parse_or_explain(ctx, NULL, addresses[i], &addr, canonical);
		if (r < 0)
			goto out;
		idx = index_find(order, journal.count, canonical);
		if (idx >= 0)
			selected[idx] = true;
		else if (!strv_contains(&unrecorded, canonical) &&
			 strv_push(&unrecorded, canonical) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = expand_groups(&journal, selected);
	if (r < 0)
		goto out;
	/* Unrecorded devices are checked first: refusing one must happen before anything changes.
	 */
	for (size_t i = 0; i < unrecorded.count; i++) {
		r = check_unjournaled(ctx, unrecorded.items[i], run->flags, &on_vfio[i]);
		if (r < 0)
			goto out;
	}
	/* From here on every device gets an entry: the caller learns what was done. */
	run->result = vfio_result_new();
	if (!run->result) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < unrecorded.count; i++) {
		r = restore_unjournaled(run, unrecorded.items[i], on_vfio[i]);
		if (r < 0)
			goto out;
	}
	for (size_t i = journal.count; i-- > 0;) {
		if (!selected[i])
			continue;
		entry_of[i] = hostdev_vfio_result_get_count(run->result);
		r = restore_record(run, &journal.records[i], &drop[i]);
		if (r < 0)
			goto out;
		dropped += drop[i];
	}
	if (dropped) {
		/* One compaction, one rewrite, for the whole call (see the top of this file). */
		size_t n = 0;

		for (size_t i = 0; i < journal.count; i++) {
			struct vfio_record *rec = &journal.records[i];

			if (!drop[i]) {
				journal.records[n++] = *rec;
				continue;
			}
			free(rec->driver);
			free(rec->driver_override);
			free(rec->owner);
		}
		journal.count = n;
		r = vfio_journal_store(ctx, state, &journal);
		if (r < 0) {
			char why[HOSTDEV_ERROR_MAX];

			/* The records stay on disk: every entry that meant to drop one keeps it. */
			for (size_t i = 0; i < n + dropped; i++)
				if (drop[i])
					vfio_result_set_has_record(run->result, entry_of[i], true);
			snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(ctx));
			r = hostdev_error(ctx, r,
					  "%s. %d device%s restored, but the journal still lists "
					  "them; the next restore finds them on their drivers and "
					  "drops those records",
					  why, run->restored,
					  run->restored == 1 ? " was" : "s were");
			note_failure(run, r);
			goto out;
		}
	}
	r = 0;
out:
	strv_clear(&unrecorded);
	free(order);
	free(on_vfio);
	free(entry_of);
	free(drop);
	free(selected);
	vfio_journal_data_clear(&journal);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_restore_with_result(hostdev_ctx *ctx, const char *const *addresses,
						    size_t count,
						    const struct hostdev_vfio_options *opts,
						    unsigned int flags, hostdev_vfio_result **out)
{
	const unsigned int known =
	    HOSTDEV_RESTORE_UNJOURNALED | HOSTDEV_RESTORE_FORGET_GONE | HOSTDEV_RESTORE_ALL;
	struct hostdev_vfio_options o;
	struct restore_run run = {0};
	struct vfio_state state;
	int r;

	if (out)
		*out = NULL;
	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, known, "unknown restore");
	if (count && !addresses)
		return hostdev_error(ctx, -EINVAL, "no addresses given");
	if (count && (flags & HOSTDEV_RESTORE_ALL))
		return hostdev_error(ctx, -EINVAL,
				     "give addresses or HOSTDEV_RESTORE_ALL, not both");
	r = vfio_options_get(ctx, opts, &o);
	if (r < 0)
		return r;
	run.ctx = ctx;
	run.opts = &o;
	run.flags = flags;
	if (count == 0 && !(flags & HOSTDEV_RESTORE_ALL)) {
		run.result = vfio_result_new();
		if (!run.result)
			return -ENOMEM;
		if (out)
			*out = run.result;
		else
			hostdev_vfio_result_unref(run.result);
		return 0;
	}
	r = vfio_state_lock(ctx, o.lock_timeout_ms, &state);
	if (r < 0)
		return r;
	r = restore_locked(&run, &state, addresses, count);
	vfio_state_unlock(&state);
	if (run.guard_loaded)
		vfio_guard_clear(&run.guard);
	if (r == 0 && run.failed) {
		size_t refused =
		    hostdev_vfio_result_count_outcome(run.result, HOSTDEV_VFIO_OUTCOME_REFUSED);

		r = hostdev_error(
		    ctx, run.first_error, "%s%s(%d device%s restored, %zu failed, %zu refused; %s)",
		    run.first_error_text ? run.first_error_text : "",
		    run.first_error_text ? " " : "", run.restored, run.restored == 1 ? "" : "s",
		    run.failed - refused, refused,
		    run.failed == 1 ? "its record is kept" : "their records are kept");
	} else if (r == 0) {
		r = run.restored;
	}
	free(run.first_error_text);
	if (out)
		*out = run.result;
	else
		hostdev_vfio_result_unref(run.result);
	return r;
}

HOSTDEV_EXPORT int hostdev_vfio_restore_set(hostdev_ctx *ctx, const char *const *addresses,
					    size_t count, const struct hostdev_vfio_options *opts,
					    unsigned int flags)
{
	return hostdev_vfio_restore_with_result(ctx, addresses, count, opts, flags, NULL);
}

HOSTDEV_EXPORT int hostdev_vfio_restore(hostdev_ctx *ctx, const char *address,
					const struct hostdev_vfio_options *opts, unsigned int flags)
{
	return hostdev_vfio_restore_with_result(ctx, &address, 1, opts, flags, NULL);
}

HOSTDEV_EXPORT int hostdev_vfio_restore_all(hostdev_ctx *ctx,
					    const struct hostdev_vfio_options *opts,
					    unsigned int flags)
{
	return hostdev_vfio_restore_with_result(ctx, NULL, 0, opts, flags | HOSTDEV_RESTORE_ALL,
						NULL);
}
