/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mdev plugin: ids are mdev UUIDs. A device is healthy while its IOMMU group node
 * /dev/vfio/<group> exists. Allocate answers its vfio nodes and MDEV_PCI_RESOURCE_<NAME> = the
 * UUIDs, comma-separated, in order, from what the last list saw of each mdev (lists follow the
 * device-node watch and the refresh interval), after one check that the mdev is still there in
 * the same IOMMU group (still_in_group()); an mdev that fails it, or that the list did not see,
 * is looked up again among the mdevs as they are now, which gives the answer or its refusal.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

/* Healthy = this, and its group node exists (plugin.c checks the node). */
static bool mdev_ready(const struct plugin *p, hostdev_ctx *ctx, const hostdev_dp_matches *m,
		       size_t i)
{
	(void)p;
	(void)ctx;
	return hostdev_dp_matches_get_iommu_group(m, i) >= 0;
}

/*
 * Is mdev @uuid still there in IOMMU group @group, as the last list saw it? One readlink(2) of
 * <sysfs>/bus/mdev/devices/<uuid>/iommu_group: it resolves only while the mdev exists, and names
 * its group now. The group node alone would not do: the kernel gives a freed group number to the
 * next group, so an mdev removed and another created (their events still queued) leave a node of
 * the same number that belongs to the other mdev.
 */
static bool still_in_group(const struct plugin *p, const char *uuid, int group)
{
	char path[PATH_MAX];

	if (plugin_join(path, sizeof(path), hostdev_ctx_get_path(p->ctx, HOSTDEV_PATH_SYSFS),
			"/bus/mdev/devices/", uuid, "/iommu_group", NULL) >= sizeof(path))
		return false;
	return plugin_group_link_is(path, group);
}

/*
 * *@group: the IOMMU group of mdev @uuid (-1 none), from @seen (the last list's view, NULL before
 * the first) when it saw the mdev and still_in_group() agrees, else from the mdevs as they are
 * now (*@list, read on the first need and kept for the rest of the call). Returns 0, or -ENODEV
 * (with the message in @out) when the mdev is not there, or the error of the read.
 */
static int group_of(struct plugin *p, const hostdev_dp_matches *seen, const char *uuid,
		    hostdev_mdev_list **list, int *group, struct plugin_answer *out)
{
	long k = seen ? hostdev_dp_matches_find(seen, uuid) : -1;
	size_t i, n;
	int r;

	*group = k >= 0 ? hostdev_dp_matches_get_iommu_group(seen, (size_t)k) : -1;
	if (*group >= 0 && still_in_group(p, uuid, *group))
		return 0;
	if (!*list && (r = hostdev_mdev_list_read(p->ctx, list)) < 0)
		return answer_fail(out, r, "%s: cannot read the mediated devices: %s",
				   p->resource_name, hostdev_ctx_get_error(p->ctx));
	n = hostdev_mdev_list_get_count(*list);
	for (i = 0; i < n; i++)
		if (strcmp(hostdev_mdev_list_get_uuid(*list, i), uuid) == 0)
			break;
	if (i == n)
		return answer_fail(out, -ENODEV,
				   "mdev %s of %s no longer exists (it was removed, or its parent "
				   "went away): create it again or delete "
				   "the pod so that it gets another device",
				   uuid, p->resource_name);
	*group = hostdev_mdev_list_get_iommu_group(*list, i);
	return 0;
}

static int mdev_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
			 struct plugin_answer *out)
{
	char *value = calloc(n_ids ? n_ids : 1, HOSTDEV_MDEV_UUID_MAX + 1);
	const char **done = calloc(n_ids ? n_ids : 1, sizeof(*done));
	hostdev_mdev_list *list = NULL;
	hostdev_dp_matches *seen;
	bool iommufd = vfio_iommufd(p);
	size_t n_done = 0;
	int r = 0;

	/* The snapshot is immutable: a reference keeps it while a list replaces it. */
	pthread_mutex_lock(&p->lock);
	seen = hostdev_dp_matches_ref(p->seen);
	pthread_mutex_unlock(&p->lock);
	if (!value || !done) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		char what[160], sysfs_dir[64];
		bool dup = false;
		int group;

		for (size_t j = 0; j < n_done && !dup; j++)
			dup = strcmp(done[j], ids[i]) == 0;
		if (dup)
			continue;
		/* Longer than a UUID: no mdev of this host, and no room in @value. */
		if (strlen(ids[i]) >= HOSTDEV_MDEV_UUID_MAX) {
			r = answer_fail(out, -ENODEV,
					"mdev %s of %s no longer exists (it was removed, or its "
					"parent went away): create it again or delete "
					"the pod so that it gets another device",
					ids[i], p->resource_name);
			break;
		}
		if ((r = group_of(p, seen, ids[i], &list, &group, out)) < 0)
			break;
		plugin_join(what, sizeof(what), "mdev ", ids[i], " of ", p->resource_name, NULL);
		plugin_join(sysfs_dir, sizeof(sysfs_dir), "bus/mdev/devices/", ids[i], NULL);
		if ((r = vfio_add_nodes(p, what, sysfs_dir, group, iommufd, out)) < 0)
			break;
		if (n_done)
			strcat(value, ",");
		strcat(value, ids[i]);
		done[n_done++] = ids[i];
	}
	if (r == 0 && n_done)
		r = answer_set_env(out, p->env_name, value);
out:
	hostdev_dp_matches_unref(seen);
	hostdev_mdev_list_unref(list);
	free(value);
	free(done);
	return r;
}

const struct plugin_kind plugin_kind_mdev = {
    .env_prefix = "MDEV_PCI_RESOURCE",
    .ready = mdev_ready,
    .allocate = mdev_allocate,
    .observe = vfio_observe,
};
