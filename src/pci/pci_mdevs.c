/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mediated devices that exist on an mdev parent, and whether a process holds them open.
 *
 * The kernel puts each mdev as a <uuid> child directory of its parent device, with an mdev_type
 * link to <parent>/mdev_supported_types/<type> and an iommu_group link; /sys/bus/mdev/devices
 * links to it. A VM (QEMU) uses it through <dev>/vfio/<group> or, with iommufd, its cdev
 * <dev>/vfio/devices/vfioN (the vfio-dev/vfioN child). Whether one is open is told the way fuser
 * does: every process's fd links under the context's proc root are read, those naming a vfio node
 * are stat'ed and compared with the mdev's nodes (same character device, or the same file in a
 * fake root). readlink() first: stat() on an arbitrary fd (a FUSE file) could block.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci.h"
#include "core/core.h"

/* The most vfio nodes one parent's mdevs can have that are compared (group + cdevs per mdev). */
#define NODES_PER_MDEV 4

bool pci_is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static int compare_mdevs(const void *a, const void *b)
{
	return strcmp(((const struct pci_mdev *)a)->uuid, ((const struct pci_mdev *)b)->uuid);
}

static void read_mdev(hostdev_pci_device *dev, struct pci_mdev *m)
{
	char type[NAME_MAX + 1], path[PATH_MAX];
	int fd;

	m->iommu_group = -1;
	m->in_use = -1;
	if (pci_device_path(dev, m->uuid, path, sizeof(path)) < 0 ||
	    (fd = open_dir_at(AT_FDCWD, path)) < 0)
		return;
	if (sysfs_read_link_basename(fd, "mdev_type", type, sizeof(type)) > 0) {
		int type_fd = open_dir_at(fd, "mdev_type");
		char *name;

		m->type = strdup(type);
		if (type_fd >= 0) {
			if (sysfs_read_alloc(type_fd, "name", &name) >= 0)
				m->type_name = name;
			close(type_fd);
		}
	}
	m->iommu_group = pci_read_group_link(fd, "iommu_group");
	close(fd);
}

/*
 * An mdev is a UUID-named child with an mdev_type link. The device's listing named the UUID
 * children when it was read; without one, the directory is listed now.
 */
void pci_device_load_mdevs(hostdev_pci_device *dev)
{
	struct strv names = {0};
	size_t n = 0;

	if (dev->loaded & PCI_PART_MDEVS)
		return;
	dev->loaded |= PCI_PART_MDEVS;
	if (dev->listed) {
		for (size_t i = 0; i < dev->children.count; i++)
			if (pci_is_uuid(dev->children.items[i]) &&
			    strv_push(&names, dev->children.items[i]) < 0)
				goto out;
	} else if (sysfs_list_dir(AT_FDCWD, dev->syspath, pci_is_uuid, &names) < 0) {
		goto out;
	}
	/* Keep the names of real mdevs in front. */
	for (size_t i = 0; i < names.count; i++) {
		char rel[PATH_MAX], link[PATH_MAX];
		char *name = names.items[i];

		names.items[i] = NULL;
		if (path_join(rel, sizeof(rel), name, "mdev_type") == 0 &&
		    pci_device_path(dev, rel, link, sizeof(link)) == 0 &&
		    faccessat(AT_FDCWD, link, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			names.items[n++] = name;
		else
			free(name);
	}
	if (n == 0)
		goto out;
	dev->mdevs = calloc(n, sizeof(*dev->mdevs));
	if (!dev->mdevs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct pci_mdev *m = &dev->mdevs[i];

		m->uuid = names.items[i];
		names.items[i] = NULL; /* ownership moves to the mdev */
		for (char *p = m->uuid; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		read_mdev(dev, m);
	}
	dev->mdev_count = n;
	qsort(dev->mdevs, n, sizeof(*dev->mdevs), compare_mdevs);
out:
	strv_clear(&names);
}

/* The identity of one vfio node of an mdev. */
struct node {
	size_t mdev;
	dev_t dev, rdev;
	ino_t ino;
	bool chr;
};

static size_t add_node(struct node *nodes, size_t count, size_t max, size_t mdev, const char *path)
{
	struct stat st;

	if (count >= max || stat(path, &st) < 0)
		return count;
	nodes[count] = (struct node){mdev, st.st_dev, st.st_rdev, st.st_ino, S_ISCHR(st.st_mode)};
	return count + 1;
}

static bool same_node(const struct node *n, const struct stat *st)
{
	if (n->chr && S_ISCHR(st->st_mode))
		return n->rdev == st->st_rdev; /* the same device, through any /dev (containers) */
	return n->dev == st->st_dev && n->ino == st->st_ino;
}

/* The nodes of every mdev of @dev: <dev>/vfio/<group> and <dev>/vfio/devices/vfioN. */
static size_t collect_nodes(hostdev_pci_device *dev, struct node *nodes, size_t max)
{
	const char *devroot = dev->ctx->paths[HOSTDEV_PATH_DEV];
	char path[PATH_MAX];
	size_t count = 0;

	for (size_t i = 0; i < dev->mdev_count; i++) {
		struct strv cdevs = {0};

		if (dev->mdevs[i].iommu_group >= 0 &&
		    snprintf(path, sizeof(path), "%s/vfio/%d", devroot, dev->mdevs[i].iommu_group) <
			(int)sizeof(path))
			count = add_node(nodes, count, max, i, path);
		if (snprintf(path, sizeof(path), "%s/%s/vfio-dev", dev->syspath,
			     dev->mdevs[i].uuid) < (int)sizeof(path) &&
		    sysfs_list_dir(AT_FDCWD, path, NULL, &cdevs) == 0) {
			for (size_t k = 0; k < cdevs.count; k++)
				if (snprintf(path, sizeof(path), "%s/vfio/devices/%s", devroot,
					     cdevs.items[k]) < (int)sizeof(path))
					count = add_node(nodes, count, max, i, path);
		}
		strv_clear(&cdevs);
	}
	return count;
}

/*
 * Look through the fds of one process (@pid_fd: its /proc/<pid> directory). Returns false when
 * they cannot be read (another user's process without privileges), true otherwise.
 */
static bool scan_process(int pid_fd, const struct node *nodes, size_t count, int *in_use)
{
	DIR *fds;
	struct dirent *de;
	int fd_dir = openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd_dir < 0)
		return errno == ENOENT; /* exited meanwhile: nothing held */
	fds = fdopendir(fd_dir);
	if (!fds) {
		close(fd_dir);
		return false;
	}
	while ((de = readdir(fds))) {
		char target[PATH_MAX];
		struct stat st;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(fd_dir, de->d_name, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (!strstr(target, "vfio") || fstatat(fd_dir, de->d_name, &st, 0) < 0)
			continue;
		for (size_t i = 0; i < count; i++)
			if (same_node(&nodes[i], &st))
				in_use[nodes[i].mdev] = 1;
	}
	closedir(fds);
	return true;
}

static void load_use(hostdev_pci_device *dev)
{
	struct node *nodes;
	int *in_use;
	size_t count;
	bool complete = true;
	DIR *proc;
	struct dirent *de;

	if (dev->loaded & PCI_PART_MDEV_USE)
		return;
	dev->loaded |= PCI_PART_MDEV_USE;
	pci_device_load_mdevs(dev);
	if (dev->mdev_count == 0)
		return;
	nodes = calloc(dev->mdev_count * NODES_PER_MDEV, sizeof(*nodes));
	in_use = calloc(dev->mdev_count, sizeof(*in_use));
	proc = opendir(dev->ctx->paths[HOSTDEV_PATH_PROC]);
	if (!nodes || !in_use || !proc) {
		if (!proc)
			log_debug(dev->ctx, "%s: cannot read %s: mdev use unknown", dev->address,
				  dev->ctx->paths[HOSTDEV_PATH_PROC]);
		goto out;
	}
	count = collect_nodes(dev, nodes, dev->mdev_count * NODES_PER_MDEV);
	while ((de = readdir(proc))) {
		int pid_fd;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_fd = openat(dirfd(proc), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pid_fd < 0)
			continue;
		if (!scan_process(pid_fd, nodes, count, in_use))
			complete = false;
		close(pid_fd);
	}
	/* Seen open: in use. Not seen: free only if every process could be looked at. */
	for (size_t i = 0; i < dev->mdev_count; i++)
		dev->mdevs[i].in_use = in_use[i] ? 1 : complete ? 0 : -1;
out:
	if (proc)
		closedir(proc);
	free(nodes);
	free(in_use);
}

static struct pci_mdev *mdev_at(hostdev_pci_device *dev, size_t index)
{
	if (!dev)
		return NULL;
	pci_device_load_mdevs(dev);
	return index < dev->mdev_count ? &dev->mdevs[index] : NULL;
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_active_mdev_count,
			      pci_device_load_mdevs, mdev_count, 0)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_active_mdev_uuid, mdev_at, uuid,
			      NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_active_mdev_type, mdev_at, type,
			      NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_pci_device, get_active_mdev_type_name, mdev_at,
			      type_name, NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(int, hostdev_pci_device, get_active_mdev_iommu_group, mdev_at,
			      iommu_group, -1)

HOSTDEV_EXPORT int hostdev_pci_device_is_active_mdev_in_use(hostdev_pci_device *dev, size_t index)
{
	struct pci_mdev *m = mdev_at(dev, index);

	if (!m)
		return -1;
	load_use(dev);
	return m->in_use;
}
