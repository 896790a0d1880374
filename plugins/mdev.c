/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mdev plugin: ids are mdev UUIDs. A device is healthy while its IOMMU group node
 * /dev/vfio/<group> exists. Allocate finds each mdev now and answers its vfio nodes and
 * MDEV_PCI_RESOURCE_<NAME> = the UUIDs, comma-separated, in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* Healthy = this, and its group node exists (plugin.c checks the node). */
static bool mdev_ready(const struct plugin *p, hostdev_ctx *ctx, const hostdev_dp_matches *m,
		       size_t i)
{
	(void)p;
	(void)ctx;
	return hostdev_dp_matches_get_iommu_group(m, i) >= 0;
}

static int mdev_allocate(struct plugin *p, const char *const *ids, size_t n_ids,
			 struct plugin_answer *out)
{
	char *value = calloc(n_ids ? n_ids : 1, HOSTDEV_MDEV_UUID_MAX + 1);
	const char **done = calloc(n_ids ? n_ids : 1, sizeof(*done));
	hostdev_mdev_list *list = NULL;
	bool iommufd = vfio_iommufd(p);
	size_t n_done = 0;
	int r;

	if (!value || !done) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = hostdev_mdev_list_read(p->ctx, &list)) < 0) {
		r = answer_fail(out, r, "%s: cannot read the mediated devices: %s",
				p->resource_name, hostdev_ctx_get_error(p->ctx));
		goto out;
	}
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		char what[160], sysfs_dir[64];
		bool dup = false;
		size_t k;

		for (size_t j = 0; j < n_done && !dup; j++)
			dup = strcmp(done[j], ids[i]) == 0;
		if (dup)
			continue;
		for (k = 0; k < hostdev_mdev_list_get_count(list); k++)
			if (strcmp(hostdev_mdev_list_get_uuid(list, k), ids[i]) == 0)
				break;
		if (k == hostdev_mdev_list_get_count(list) || strlen(ids[i]) > 36) {
			r = answer_fail(
			    out, -ENODEV,
			    "mdev %s of %s no longer exists (it was removed, or its parent "
			    "went away): create it again or delete "
			    "the pod so that it gets another device",
			    ids[i], p->resource_name);
			break;
		}
		snprintf(what, sizeof(what), "mdev %s of %s", ids[i], p->resource_name);
		snprintf(sysfs_dir, sizeof(sysfs_dir), "bus/mdev/devices/%s", ids[i]);
		r = vfio_add_nodes(p, what, sysfs_dir, hostdev_mdev_list_get_iommu_group(list, k),
				   iommufd, out);
		if (r < 0)
			break;
		if (n_done)
			strcat(value, ",");
		strcat(value, ids[i]);
		done[n_done++] = ids[i];
	}
	if (r == 0 && n_done)
		r = answer_set_env(out, p->env_name, value);
out:
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
