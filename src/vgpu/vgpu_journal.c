/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vGPU journal on disk: <state>/vgpu-journal.json, next to the vfio journal and written the
 * same way (vfio_state.c: trusted directory, temp file, fsync, rename, fsync of the directory)
 * under the same lock, before the store to current_vgpu_type, so that a type libhostdev set can be
 * taken away after a crash (hostdev_vgpu_restore()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/vfio.h"
#include "vgpu.h"

static int load_from(hostdev_ctx *ctx, const struct vfio_dir *dir, struct vgpu_journal_data *out)
{
	char err[256];
	char *text;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	r = vfio_file_read(ctx, dir, VGPU_JOURNAL_FILE, "vGPU journal", &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = vgpu_journal_parse(text, len, out, err, sizeof(err));
	free(text);
	if (r == -EBADMSG)
		return hostdev_error(
		    ctx, r,
		    "the vGPU journal %s/%s is corrupt (%s): nothing was changed and the file was "
		    "kept. VFs it lists may still hold the vGPU types libhostdev set; inspect it, "
		    "repair or move it aside, then clear those types (hostdev_vgpu_clear_type())",
		    dir->path, VGPU_JOURNAL_FILE, err);
	return r;
}

int vgpu_journal_load(hostdev_ctx *ctx, const struct vfio_state *state,
		      struct vgpu_journal_data *out)
{
	return load_from(ctx, &state->dir, out);
}

int vgpu_journal_store(hostdev_ctx *ctx, const struct vfio_state *state,
		       const struct vgpu_journal_data *data)
{
	char *text = vgpu_journal_serialize(data);
	int r;

	if (!text)
		return -ENOMEM;
	r = vfio_file_replace(ctx, &state->dir, VGPU_JOURNAL_FILE, text, strlen(text), 0600);
	free(text);
	return r;
}

int vgpu_journal_peek(hostdev_ctx *ctx, struct vgpu_journal_data *out)
{
	struct vfio_dir dir;
	int r;

	memset(out, 0, sizeof(*out));
	r = vfio_dir_open(ctx, ctx->paths[HOSTDEV_PATH_STATE], "state directory", VFIO_DIR_READ,
			  &dir);
	if (r < 0)
		return r;
	r = dir.fd >= 0 ? load_from(ctx, &dir, out) : 0;
	vfio_dir_close(&dir);
	return r;
}
