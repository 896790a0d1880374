/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vfio journal on disk: <state>/vfio-journal.json, written before the first sysfs write of a
 * bind so that restore knows each device's original driver even after a crash.
 *
 * Durability: every update writes a temp file (O_EXCL, O_NOFOLLOW, 0600), fsyncs it, renames it
 * over the journal and fsyncs the directory, so the journal is always either the old or the new
 * document, never a mix. Concurrency: every operation that reads and then writes the journal holds
 * the vfio lock (vfio_state.c) for its whole duration, so no record is lost or duplicated between
 * two processes; readers take no lock. The directory and the file are trust-checked and reached
 * through a directory descriptor (vfio_state.c): whoever can write the journal steers restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "vfio.h"

/* The journal below the open (trusted) state directory @dir; missing = empty. */
static int journal_load_from(hostdev_ctx *ctx, const struct vfio_dir *dir,
			     struct vfio_journal_data *out)
{
	char err[256];
	char *text;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	r = vfio_file_read(ctx, dir, VFIO_JOURNAL_FILE, "vfio journal", &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = vfio_journal_parse(text, len, out, err, sizeof(err));
	free(text);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return hostdev_error(
		    ctx, r,
		    "the vfio journal %s/%s is corrupt (%s): nothing was changed and the file was "
		    "kept. Devices it lists may still be on vfio-pci; inspect it, repair or move "
		    "it aside, then restore those devices (hostdev_vfio_restore_all(), or by hand)",
		    dir->path, VFIO_JOURNAL_FILE, err);
	return 0;
}

int vfio_journal_load(hostdev_ctx *ctx, const struct vfio_state *state,
		      struct vfio_journal_data *out)
{
	return journal_load_from(ctx, &state->dir, out);
}

int vfio_journal_store(hostdev_ctx *ctx, const struct vfio_state *state,
		       const struct vfio_journal_data *data)
{
	char *text = vfio_journal_serialize(data, true);
	size_t len;
	int r;

	if (!text)
		return -ENOMEM;
	/* One trailing newline, like every text file. */
	len = strlen(text);
	{
		char *with_nl = realloc(text, len + 2);

		if (!with_nl) {
			free(text);
			return -ENOMEM;
		}
		text = with_nl;
		text[len] = '\n';
		text[len + 1] = '\0';
	}
	r = vfio_file_replace(ctx, &state->dir, VFIO_JOURNAL_FILE, text, len + 1, 0600);
	free(text);
	return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* Public snapshot */

struct hostdev_vfio_journal {
	int refcount;
	char *path;
	struct vfio_journal_data data;
};

HOSTDEV_EXPORT int hostdev_vfio_journal_read(hostdev_ctx *ctx, hostdev_vfio_journal **out)
{
	const char *state = ctx ? ctx->paths[HOSTDEV_PATH_STATE] : NULL;
	struct vfio_dir dir;
	hostdev_vfio_journal *j;
	char path[PATH_MAX];
	int r;

	if (!ctx || !out)
		return -EINVAL;
	if (path_join(path, sizeof(path), state, VFIO_JOURNAL_FILE) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "state path %s is too long", state);
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	j->refcount = 1;
	/*
	 * No lock: the journal is only ever replaced by rename(2), so this sees one whole
	 * document, and a reader never waits behind a long bind (or for a lock it cannot take,
	 * without write access to the directory). A missing directory is an empty journal: it is
	 * not created just to be read.
	 */
	r = vfio_dir_open(ctx, state, "state directory", VFIO_DIR_READ, &dir);
	if (r == 0) {
		r = journal_load_from(ctx, &dir, &j->data);
		vfio_dir_close(&dir);
	}
	if (r < 0) {
		hostdev_vfio_journal_unref(j);
		return r;
	}
	*out = j;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void vfio_journal_destroy(hostdev_vfio_journal *journal)
{
	vfio_journal_data_clear(&journal->data);
	free(journal->path);
	free(journal);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_vfio_journal, vfio_journal_destroy)

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_vfio_journal, get_path, path, NULL)
HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_vfio_journal, get_count, data.count, 0)

static const struct vfio_record *record_at(const hostdev_vfio_journal *journal, size_t index)
{
	return journal && index < journal->data.count ? &journal->data.records[index] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_journal, get_address, record_at,
				    address, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_journal, get_driver, record_at,
				    driver, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_journal, get_driver_override,
				    record_at, driver_override, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_journal, get_iommu_group, record_at,
				    iommu_group, -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int64_t, hostdev_vfio_journal, get_time, record_at, time, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_journal, get_owner, record_at, owner,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_journal, is_group_bind, record_at, group_bind,
				    0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_journal, is_complete, record_at, complete, 0)

HOSTDEV_EXPORT int hostdev_vfio_journal_to_json(const hostdev_vfio_journal *journal,
						unsigned int flags, char **out)
{
	cJSON *doc, *records;
	char *text, *records_text;

	if (!journal || !out || (flags & ~(unsigned int)HOSTDEV_JSON_PRETTY))
		return -EINVAL;
	records_text = vfio_journal_serialize(&journal->data, false);
	if (!records_text)
		return -ENOMEM;
	/* Reuse the on-disk record format: one schema to document. */
	doc = cJSON_Parse(records_text);
	free(records_text);
	if (!doc)
		return -ENOMEM;
	records = cJSON_DetachItemFromObjectCaseSensitive(doc, "records");
	cJSON_Delete(doc);
	doc = cJSON_CreateObject();
	if (!doc || !records || !cJSON_AddStringToObject(doc, "path", journal->path)) {
		cJSON_Delete(records);
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(doc, "records", records);
	text = (flags & HOSTDEV_JSON_PRETTY) ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!text)
		return -ENOMEM;
	*out = text;
	return 0;
}
