/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vfio journal on disk: <state>/vfio-journal.json, written before the first sysfs write of a
 * bind so that restore knows each device's original driver even after a crash.
 *
 * Durability: every update writes a temp file (O_EXCL, O_NOFOLLOW, 0600), fsyncs it, renames it
 * over the journal and fsyncs the directory, so the journal is always either the old or the new
 * document, never a mix. Concurrency: every operation that reads and then writes the journal holds
 * an exclusive flock on <state>/vfio.lock for its whole duration, so no record is lost or
 * duplicated between two processes. The lock file is never deleted (deleting a lock file races with
 * its next user).
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

#include "sysfs.h"
#include "vfio.h"

static const char *state_dir(hostdev_ctx *ctx)
{
	return ctx->paths[HOSTDEV_PATH_STATE];
}

/* mkdir -p with @mode for the missing components. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int vfio_lock(hostdev_ctx *ctx)
{
	char path[PATH_MAX];
	int fd, r;

	r = mkdir_p(state_dir(ctx), 0700);
	if (r < 0)
		return hostdev_error(ctx, r, "cannot create the state directory %s (%s): %s",
				     state_dir(ctx), strerror(-r),
				     r == -EACCES || r == -EROFS
					 ? "run as root or point HOSTDEV_PATH_STATE at a writable "
					   "directory"
					 : "check the path");
	if (path_join(path, sizeof(path), state_dir(ctx), VFIO_LOCK_FILE) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "state path %s is too long",
				     state_dir(ctx));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return hostdev_error(ctx, -errno, "cannot open the lock file %s (%s)", path,
				     strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		close(fd);
		return hostdev_error(ctx, r, "cannot lock %s (%s)", path, strerror(-r));
	}
	return fd;
}

void vfio_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

int vfio_read_file(hostdev_ctx *ctx, const char *path, char **out, size_t *len)
{
	/* Our files are small; a huge one is not ours. */
	const size_t max = 16u << 20;
	struct stat st;
	char *buf;
	size_t done = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return r;
		if (r == -ELOOP)
			return hostdev_error(
			    ctx, -EBADMSG,
			    "%s is a symbolic link: refusing to follow it (move it "
			    "aside and check who created it)",
			    path);
		return hostdev_error(ctx, r, "cannot open %s (%s)", path, strerror(-r));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		return hostdev_error(ctx, -EBADMSG,
				     "%s is not a regular file of sane size: move it aside", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return hostdev_error(ctx, r, "cannot read %s (%s)", path, strerror(-r));
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	buf[done] = '\0';
	*out = buf;
	*len = done;
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int vfio_write_file_atomic(hostdev_ctx *ctx, const char *dir, const char *name, const char *content,
			   mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, dirfd, r;

	r = mkdir_p(dir, 0700);
	if (r < 0)
		return hostdev_error(ctx, r, "cannot create directory %s (%s)", dir, strerror(-r));
	if (path_join(path, sizeof(path), dir, name) < 0 ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return hostdev_error(ctx, -ENAMETOOLONG, "path %s/%s is too long", dir, name);
	/* A temp file left by a writer that died: we hold the lock, so nobody else is using it. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return hostdev_error(ctx, -errno, "cannot remove the stale %s (%s)", tmp,
				     strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
	if (fd < 0)
		return hostdev_error(ctx, -errno, "cannot create %s (%s)", tmp, strerror(errno));
	/* The umask may have narrowed @mode; a wider one must not widen it. */
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, content, strlen(content));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return hostdev_error(ctx, r, "cannot write %s (%s): nothing was changed", path,
				     strerror(-r));
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || fsync(dirfd) < 0) {
		r = -errno;
		if (dirfd >= 0)
			close(dirfd);
		return hostdev_error(ctx, r, "cannot sync directory %s (%s)", dir, strerror(-r));
	}
	close(dirfd);
	return 0;
}

static int journal_path(hostdev_ctx *ctx, char *buf, size_t size)
{
	if (path_join(buf, size, state_dir(ctx), VFIO_JOURNAL_FILE) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "state path %s is too long",
				     state_dir(ctx));
	return 0;
}

int vfio_journal_load(hostdev_ctx *ctx, struct vfio_journal_data *out)
{
	char path[PATH_MAX], err[256];
	char *text;
	size_t len;
	int r;

	r = journal_path(ctx, path, sizeof(path));
	if (r < 0)
		return r;
	r = vfio_read_file(ctx, path, &text, &len);
	if (r == -ENOENT) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (r < 0)
		return r;
	r = vfio_journal_parse(text, len, out, err, sizeof(err));
	free(text);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return hostdev_error(
		    ctx, r,
		    "the vfio journal %s is corrupt (%s): nothing was changed and the file was "
		    "kept. Devices it lists may still be on vfio-pci; inspect it, repair or move "
		    "it "
		    "aside, then restore those devices (hostdev restore --all, or by hand)",
		    path, err);
	return 0;
}

int vfio_journal_store(hostdev_ctx *ctx, const struct vfio_journal_data *data)
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
	r = vfio_write_file_atomic(ctx, state_dir(ctx), VFIO_JOURNAL_FILE, text, 0600);
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
	hostdev_vfio_journal *j;
	char path[PATH_MAX];
	int fd, r;

	if (!ctx || !out)
		return -EINVAL;
	r = journal_path(ctx, path, sizeof(path));
	if (r < 0)
		return r;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return -ENOMEM;
	}
	j->refcount = 1;
	/* Without a state directory there is no journal: do not create one just to read it. */
	if (access(state_dir(ctx), F_OK) < 0 && errno == ENOENT) {
		*out = j;
		return 0;
	}
	fd = vfio_lock(ctx);
	if (fd < 0) {
		/* A read-only state dir (an unprivileged `hostdev journal`): read without the lock.
		 */
		if (fd != -EACCES && fd != -EROFS && fd != -EPERM) {
			hostdev_vfio_journal_unref(j);
			return fd;
		}
		hostdev_clear_error(ctx);
	}
	r = vfio_journal_load(ctx, &j->data);
	vfio_unlock(fd);
	if (r < 0) {
		hostdev_vfio_journal_unref(j);
		return r;
	}
	*out = j;
	return 0;
}

HOSTDEV_EXPORT hostdev_vfio_journal *hostdev_vfio_journal_ref(hostdev_vfio_journal *journal)
{
	if (journal)
		journal->refcount++;
	return journal;
}

HOSTDEV_EXPORT hostdev_vfio_journal *hostdev_vfio_journal_unref(hostdev_vfio_journal *journal)
{
	if (!journal || --journal->refcount > 0)
		return NULL;
	vfio_journal_data_clear(&journal->data);
	free(journal->path);
	free(journal);
	return NULL;
}

HOSTDEV_EXPORT const char *hostdev_vfio_journal_get_path(const hostdev_vfio_journal *journal)
{
	return journal ? journal->path : NULL;
}

HOSTDEV_EXPORT size_t hostdev_vfio_journal_get_count(const hostdev_vfio_journal *journal)
{
	return journal ? journal->data.count : 0;
}

static const struct vfio_record *record_at(const hostdev_vfio_journal *journal, size_t index)
{
	return journal && index < journal->data.count ? &journal->data.records[index] : NULL;
}

HOSTDEV_EXPORT const char *hostdev_vfio_journal_get_address(const hostdev_vfio_journal *journal,
							    size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->address : NULL;
}

HOSTDEV_EXPORT const char *hostdev_vfio_journal_get_driver(const hostdev_vfio_journal *journal,
							   size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->driver : NULL;
}

HOSTDEV_EXPORT const char *
hostdev_vfio_journal_get_driver_override(const hostdev_vfio_journal *journal, size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->driver_override : NULL;
}

HOSTDEV_EXPORT int hostdev_vfio_journal_get_iommu_group(const hostdev_vfio_journal *journal,
							size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->iommu_group : -1;
}

HOSTDEV_EXPORT int64_t hostdev_vfio_journal_get_time(const hostdev_vfio_journal *journal,
						     size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->time : 0;
}

HOSTDEV_EXPORT const char *hostdev_vfio_journal_get_owner(const hostdev_vfio_journal *journal,
							  size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->owner : NULL;
}

HOSTDEV_EXPORT int hostdev_vfio_journal_is_group_bind(const hostdev_vfio_journal *journal,
						      size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->group_bind : 0;
}

HOSTDEV_EXPORT int hostdev_vfio_journal_is_complete(const hostdev_vfio_journal *journal,
						    size_t index)
{
	const struct vfio_record *rec = record_at(journal, index);

	return rec ? rec->complete : 0;
}

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
