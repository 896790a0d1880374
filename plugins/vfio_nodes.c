/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device nodes of a vfio device (PCI function or mdev) for a container, per KubeVirt's
 * contract: the container /dev/vfio/vfio, the group /dev/vfio/<group>, and when the kernel offers
 * iommufd for the device (a vfio-dev/vfioN directory in sysfs, and /dev/iommu) also /dev/iommu
 * and its cdev /dev/vfio/devices/vfioN. Existence is checked under the context's /dev root; the
 * answer names the host's /dev paths, which is what the container runtime opens.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

static bool is_vfio_cdev(const char *entry)
{
	return strncmp(entry, "vfio", 4) == 0 && entry[4] >= '0' && entry[4] <= '9';
}

/*
 * The "vfioN" entry of <sysfs>/@sysfs_dir/vfio-dev into @buf (the first by name should there be
 * several): 1, or 0 when there is none (no iommufd for the device), or the negative errno of a
 * directory that cannot be read (EMFILE...): an answer without the iommufd nodes would be wrong,
 * not smaller.
 */
static int vfio_cdev(const struct plugin *p, const char *sysfs_dir, char *buf, size_t size)
{
	char path[PATH_MAX], first[NAME_MAX + 1] = "";
	struct dirent *de;
	DIR *dir;

	if (snprintf(path, sizeof(path), "%s/%s/vfio-dev",
		     hostdev_ctx_get_path(p->ctx, HOSTDEV_PATH_SYSFS),
		     sysfs_dir) >= (int)sizeof(path))
		return 0;
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while ((de = readdir(dir)))
		if (is_vfio_cdev(de->d_name) && (!*first || strcmp(de->d_name, first) < 0))
			snprintf(first, sizeof(first), "%s", de->d_name);
	closedir(dir);
	if (!*first || strlen(first) >= size)
		return 0;
	snprintf(buf, size, "%s", first);
	return 1;
}

/*
 * <dev>/iommu appears and goes with the iommufd module, which the device-node watch sees (it
 * watches <dev> itself) and a list follows: kept from the lists, so that Allocate does not look it
 * up per device. The vfioN entries themselves are read at Allocate (vfio_cdev()): a device
 * re-bound to vfio-pci between two lists may have another number, and nothing tells the list.
 */
int vfio_observe(struct plugin *p, const hostdev_dp_matches *now)
{
	int iommufd = plugin_dev_exists(p, "iommu");

	(void)now;
	pthread_mutex_lock(&p->lock);
	p->iommufd = iommufd;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

bool vfio_iommufd(struct plugin *p)
{
	int iommufd;

	pthread_mutex_lock(&p->lock);
	iommufd = p->iommufd;
	pthread_mutex_unlock(&p->lock);
	return iommufd < 0 ? plugin_dev_exists(p, "iommu") : iommufd;
}

int vfio_add_nodes(const struct plugin *p, const char *what, const char *sysfs_dir, int group,
		   bool iommufd, struct plugin_answer *out)
{
	char rel[64], path[96], cdev[64], number[12];
	int r;

	if (group < 0)
		return answer_fail(
		    out, -ENODEV,
		    "%s has no IOMMU group, so vfio cannot hand it to a virtual "
		    "machine: enable the IOMMU (intel_iommu=on or amd_iommu=on on the "
		    "kernel command line) and reboot",
		    what);
	plugin_join(rel, sizeof(rel), "vfio/", plugin_itoa(group, number), NULL);
	if (!plugin_dev_exists(p, rel))
		return answer_fail(
		    out, -ENODEV,
		    "/dev/vfio/%d of %s does not exist: IOMMU group %d is not "
		    "usable yet (every device of the group must be on vfio-pci: bind "
		    "the whole group) or the vfio modules are not loaded",
		    group, what, group);
	plugin_join(path, sizeof(path), "/dev/vfio/", number, NULL);
	if ((r = answer_add_device(out, "/dev/vfio/vfio")) < 0 ||
	    (r = answer_add_device(out, path)) < 0)
		return r;
	/* Without /dev/iommu a cdev is of no use: its directory is not read. */
	if (!iommufd)
		return 0;
	r = vfio_cdev(p, sysfs_dir, cdev, sizeof(cdev));
	if (r < 0)
		return plugin_read_failure(out, r, what, strerror(-r));
	if (r == 0)
		return 0;
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	if ((r = answer_add_device(out, "/dev/iommu")) < 0 ||
	    (r = answer_add_device(out, path)) < 0)
		return r;
	return 0;
}
