/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DRA driver's checkpoint: which claims it prepared, or is preparing or unpreparing, with their
 * devices. NodeUnprepareResources gets only the claim's identity (the claim may be gone from the
 * API server), and a restart in the middle of either call must converge: so every step is
 * recorded before it is taken and the file is replaced whole (a temporary file, fsync, rename,
 * fsync of the directory), never edited in place. A reader sees the old or the new state.
 *
 * The vfio journal stays the record of what is bound (with the claim's uid in its owner text);
 * the checkpoint says what the kubelet was told and what still has to be undone.
 *
 * {"version": 1, "claims": {"<uid>": {"namespace", "name", "state": "preparing" | "prepared" |
 *  "unpreparing", "devices": [{"request", "pool", "device", "address"}]}}}
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#define CHECKPOINT_VERSION 1

struct dra_checkpoint {
	char *path;
	cJSON *root; /* {"version", "claims"} */
};

static cJSON *claims_of(const struct dra_checkpoint *cp)
{
	return cJSON_GetObjectItemCaseSensitive(cp->root, "claims");
}

static char *read_file(const char *path, int *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		*err = -errno;
		return NULL;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *grown = realloc(buf, cap + 65536);

			if (!grown) {
				free(buf);
				fclose(f);
				*err = -ENOMEM;
				return NULL;
			}
			buf = grown;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		*err = -EIO;
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Every entry must have the fields the agent relies on; anything else is not ours to guess. */
static bool valid_entry(const cJSON *e)
{
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(e, "state");
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(e, "devices");
	const cJSON *d;

	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "namespace")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "name")) ||
	    !cJSON_IsString(state) ||
	    (strcmp(state->valuestring, DRA_CLAIM_PREPARING) &&
	     strcmp(state->valuestring, DRA_CLAIM_PREPARED) &&
	     strcmp(state->valuestring, DRA_CLAIM_UNPREPARING)) ||
	    !cJSON_IsArray(devices))
		return false;
	cJSON_ArrayForEach(d, devices)
	{
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "request")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "pool")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "device")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "address")))
			return false;
	}
	return true;
}

int dra_checkpoint_load(const char *path, struct dra_checkpoint **out, char *err, size_t errlen)
{
	struct dra_checkpoint *cp = calloc(1, sizeof(*cp));
	int r = 0;
	char *text;

	if (!cp || !(cp->path = strdup(path))) {
		free(cp);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	text = read_file(path, &r);
	if (!text && r != -ENOENT) {
		snprintf(err, errlen, "cannot read the DRA checkpoint %s: %s", path, strerror(-r));
		dra_checkpoint_free(cp);
		return r;
	}
	if (text) {
		const cJSON *version, *claims, *e;

		cp->root = cJSON_Parse(text);
		free(text);
		version = cJSON_GetObjectItemCaseSensitive(cp->root, "version");
		claims = cJSON_GetObjectItemCaseSensitive(cp->root, "claims");
		if (!cJSON_IsNumber(version) || version->valueint != CHECKPOINT_VERSION ||
		    !cJSON_IsObject(claims)) {
			snprintf(err, errlen,
				 "the DRA checkpoint %s is not a version %d checkpoint of "
				 "hostdev-agent: it is left as it is; move it away once the claims "
				 "it names are unprepared (hostdev restore --all --owner "
				 "'" DRA_OWNER_PREFIX "<claim uid>')",
				 path, CHECKPOINT_VERSION);
			dra_checkpoint_free(cp);
			return -EBADMSG;
		}
		cJSON_ArrayForEach(e, claims)
		{
			if (!valid_entry(e)) {
				snprintf(
				    err, errlen,
				    "the DRA checkpoint %s: the entry of claim %s lacks "
				    "namespace, name, state or a device's request, pool, device "
				    "or address; it is left as it is",
				    path, e->string);
				dra_checkpoint_free(cp);
				return -EBADMSG;
			}
		}
	} else {
		cp->root = cJSON_CreateObject();
		cJSON_AddNumberToObject(cp->root, "version", CHECKPOINT_VERSION);
		cJSON_AddObjectToObject(cp->root, "claims");
	}
	if (!claims_of(cp)) {
		dra_checkpoint_free(cp);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = cp;
	return 0;
}

void dra_checkpoint_free(struct dra_checkpoint *cp)
{
	if (!cp)
		return;
	cJSON_Delete(cp->root);
	free(cp->path);
	free(cp);
}

static int write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace the file whole: the old state or the new one survives a crash, never a mix. */
static int save(struct dra_checkpoint *cp, char *err, size_t errlen)
{
	char *text = cJSON_Print(cp->root), *tmp = NULL, *dir_copy = NULL;
	int fd = -1, dfd = -1, r = 0;

	if (!text || asprintf(&tmp, "%s.tmp", cp->path) < 0 || !(dir_copy = strdup(cp->path))) {
		r = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (r = write_all(fd, text, strlen(text))) < 0 || fsync(fd) < 0) {
		r = r < 0 ? r : -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, cp->path) < 0) {
		r = -errno;
		goto out;
	}
	dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && fsync(dfd) < 0)
		r = -errno;
out:
	if (r < 0) {
		snprintf(err, errlen, "cannot write the DRA checkpoint %s: %s", cp->path,
			 strerror(-r));
		if (tmp)
			unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(text);
	free(tmp);
	free(dir_copy);
	return r;
}

const cJSON *dra_checkpoint_get(const struct dra_checkpoint *cp, const char *uid)
{
	return cJSON_GetObjectItemCaseSensitive(claims_of(cp), uid);
}

int dra_checkpoint_set(struct dra_checkpoint *cp, const char *uid, const char *ns, const char *name,
		       const char *state, const struct dra_claim_device *devices, size_t count,
		       char *err, size_t errlen)
{
	cJSON *entry = cJSON_CreateObject(), *list, *old;
	int r;

	if (!entry) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cJSON_AddStringToObject(entry, "namespace", ns);
	cJSON_AddStringToObject(entry, "name", name);
	cJSON_AddStringToObject(entry, "state", state);
	list = cJSON_AddArrayToObject(entry, "devices");
	for (size_t i = 0; list && i < count; i++) {
		cJSON *d = cJSON_CreateObject();

		cJSON_AddStringToObject(d, "request", devices[i].request);
		cJSON_AddStringToObject(d, "pool", devices[i].pool);
		cJSON_AddStringToObject(d, "device", devices[i].device);
		cJSON_AddStringToObject(d, "address", devices[i].address);
		cJSON_AddItemToArray(list, d);
	}
	old = cJSON_DetachItemFromObjectCaseSensitive(claims_of(cp), uid);
	cJSON_AddItemToObject(claims_of(cp), uid, entry);
	r = save(cp, err, errlen);
	if (r < 0) {
		/* Memory keeps what the disk says. */
		cJSON_DeleteItemFromObjectCaseSensitive(claims_of(cp), uid);
		if (old)
			cJSON_AddItemToObject(claims_of(cp), uid, old);
		return r;
	}
	cJSON_Delete(old);
	return 0;
}

int dra_checkpoint_set_state(struct dra_checkpoint *cp, const char *uid, const char *state,
			     char *err, size_t errlen)
{
	cJSON *entry = cJSON_GetObjectItemCaseSensitive(claims_of(cp), uid);
	cJSON *old_state;
	char *was;
	int r;

	if (!entry) {
		snprintf(err, errlen, "claim %s is not in the DRA checkpoint", uid);
		return -ENOENT;
	}
	old_state = cJSON_GetObjectItemCaseSensitive(entry, "state");
	was = strdup(old_state->valuestring);
	if (!was) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(entry, "state", cJSON_CreateString(state));
	r = save(cp, err, errlen);
	if (r < 0)
		cJSON_ReplaceItemInObjectCaseSensitive(entry, "state", cJSON_CreateString(was));
	free(was);
	return r;
}

int dra_checkpoint_remove(struct dra_checkpoint *cp, const char *uid, char *err, size_t errlen)
{
	cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(claims_of(cp), uid);
	int r;

	if (!old)
		return 0;
	r = save(cp, err, errlen);
	if (r < 0) {
		cJSON_AddItemToObject(claims_of(cp), uid, old);
		return r;
	}
	cJSON_Delete(old);
	return 0;
}

void dra_checkpoint_foreach(const struct dra_checkpoint *cp,
			    void (*fn)(const char *uid, const cJSON *entry, void *userdata),
			    void *userdata)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, claims_of(cp)) fn(e->string, e, userdata);
}

size_t dra_checkpoint_count(const struct dra_checkpoint *cp)
{
	return (size_t)cJSON_GetArraySize(claims_of(cp));
}
