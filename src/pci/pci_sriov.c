/* SPDX-License-Identifier: Apache-2.0 */
/* SR-IOV relationships as sysfs shows them: virtfn<N> links on a PF, physfn on a VF. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "core/core.h"

/* "virtfn<N>": the links a PF has to each of its VFs. */
bool is_virtfn_link(const char *name)
{
	const char *p = name + 6;

	if (strncmp(name, "virtfn", 6) != 0 || !*p)
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static int compare_vfs(const void *a, const void *b)
{
	const struct pci_vf *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

/* Read the virtfn<N> links of the PF open at @fd into a freshly allocated, number-ordered array. */
static int read_vf_links(int fd, struct pci_vf **out, size_t *count)
{
	struct strv links = {0};
	struct pci_vf *vfs;
	size_t n = 0;
	int r;

	r = sysfs_list_dir(fd, ".", is_virtfn_link, &links);
	if (r < 0)
		return r;
	vfs = calloc(links.count ? links.count : 1, sizeof(*vfs));
	if (!vfs) {
		strv_clear(&links);
		return -ENOMEM;
	}
	for (size_t i = 0; i < links.count; i++) {
		char target[64];
		long number = strtol(links.items[i] + 6, NULL, 10);

		/* A link whose target vanished is a VF being removed right now: skip it. */
		if (number < 0 || number > INT_MAX ||
		    sysfs_read_link_basename(fd, links.items[i], target, sizeof(target)) < 0)
			continue;
		vfs[n].number = (int)number;
		vfs[n].address = strdup(target);
		if (!vfs[n].address)
			break;
		n++;
	}
	strv_clear(&links);
	qsort(vfs, n, sizeof(*vfs), compare_vfs);
	*out = vfs;
	*count = n;
	return 0;
}

/*
 * The PF's VFs: a readlink of each virtfn<N> link its listing found (the whole directory is listed
 * only when that listing failed).
 */
void pci_device_load_vfs(hostdev_pci_device *dev)
{
	int fd;

	if (dev->loaded & PCI_PART_VFS)
		return;
	dev->loaded |= PCI_PART_VFS;
	if (!dev->is_pf)
		return;
	if (dev->listed) {
		char path[PATH_MAX];
		size_t prefix;

		/* <syspath>/virtfn, to which each number is appended (snprintf() per link cost
		 * more than the rest of the VF). */
		if (pci_device_path(dev, "virtfn", path, sizeof(path)) < 0 ||
		    (prefix = strlen(path)) + 12 > sizeof(path))
			return;
		dev->vfs = calloc(dev->virtfn_count ? dev->virtfn_count : 1, sizeof(*dev->vfs));
		if (!dev->vfs)
			return;
		for (size_t i = 0; i < dev->virtfn_count; i++) {
			char digits[12], *p = digits + sizeof(digits), target[64];
			unsigned int n = (unsigned int)dev->virtfns[i];

			*--p = '\0';
			do
				*--p = (char)('0' + n % 10);
			while ((n /= 10) > 0);
			memcpy(path + prefix, p, (size_t)(digits + sizeof(digits) - p));
			/* A link whose target vanished is a VF being removed right now: skip it. */
			if (sysfs_read_link_basename(AT_FDCWD, path, target, sizeof(target)) < 0)
				continue;
			dev->vfs[dev->vf_count].number = dev->virtfns[i];
			if (!(dev->vfs[dev->vf_count].address = strdup(target)))
				break;
			dev->vf_count++;
		}
		return;
	}
	fd = open_dir_at(AT_FDCWD, dev->syspath);
	if (fd < 0)
		return;
	if (read_vf_links(fd, &dev->vfs, &dev->vf_count) < 0)
		log_warn(dev->ctx, "%s: cannot read the VF links of this PF", dev->address);
	close(fd);
}

/*
 * Guess a VF's number from the PF's First VF Offset and VF Stride (SR-IOV capability): VF n has
 * routing ID pf_rid + offset + n * stride. Returns -1 when the PF does not expose them.
 */
static int guess_vf_number(hostdev_pci_device *dev, int pf_fd)
{
	struct hostdev_pci_address pf;
	unsigned long offset, stride;
	long pf_rid, vf_rid, delta;

	if (hostdev_pci_address_parse(dev->pf_address, &pf) < 0 ||
	    sysfs_read_uint(pf_fd, "sriov_offset", 10, &offset) < 0 ||
	    sysfs_read_uint(pf_fd, "sriov_stride", 10, &stride) < 0 || stride == 0)
		return -1;
	pf_rid = (long)pf.bus << 8 | (long)pf.slot << 3 | pf.function;
	vf_rid = (long)dev->addr.bus << 8 | (long)dev->addr.slot << 3 | dev->addr.function;
	delta = vf_rid - pf_rid - (long)offset;
	if (delta < 0 || delta % (long)stride != 0 || delta / (long)stride > INT_MAX)
		return -1;
	return (int)(delta / (long)stride);
}

/* A VF's own index is the N of the PF's virtfn<N> link that points back at it. */
void pci_device_load_vf_index(hostdev_pci_device *dev)
{
	struct pci_vf *vfs = NULL;
	size_t count = 0;
	char link[32], target[HOSTDEV_PCI_ADDRESS_MAX], path[PATH_MAX];
	int pf_fd, guess;

	if (dev->loaded & PCI_PART_VF_INDEX)
		return;
	dev->loaded |= PCI_PART_VF_INDEX;
	if (!dev->pf_address || pci_device_path(dev, "physfn", path, sizeof(path)) < 0)
		return;
	pf_fd = open_dir_at(AT_FDCWD, path);
	if (pf_fd < 0)
		return;
	/* One readlink confirms the computed number; scanning every virtfn link is the fallback. */
	guess = guess_vf_number(dev, pf_fd);
	if (guess >= 0 && snprintf(link, sizeof(link), "virtfn%d", guess) < (int)sizeof(link) &&
	    sysfs_read_link_basename(pf_fd, link, target, sizeof(target)) > 0 &&
	    strcmp(target, dev->address) == 0) {
		dev->vf_index = guess;
	} else if (read_vf_links(pf_fd, &vfs, &count) == 0) {
		for (size_t i = 0; i < count; i++)
			if (strcmp(vfs[i].address, dev->address) == 0)
				dev->vf_index = vfs[i].number;
		pci_vf_array_free(vfs, count);
	}
	close(pf_fd);
}

HOSTDEV_DEFINE_LOADING_GETTER(size_t, hostdev_pci_device, get_vf_count, pci_device_load_vfs,
			      vf_count, 0)

HOSTDEV_EXPORT const char *hostdev_pci_device_get_vf_address(hostdev_pci_device *dev, size_t index)
{
	if (!dev)
		return NULL;
	pci_device_load_vfs(dev);
	return index < dev->vf_count ? dev->vfs[index].address : NULL;
}

HOSTDEV_EXPORT int hostdev_pci_device_get_vf_number(hostdev_pci_device *dev, size_t index)
{
	if (!dev)
		return -1;
	pci_device_load_vfs(dev);
	return index < dev->vf_count ? dev->vfs[index].number : -1;
}

HOSTDEV_DEFINE_LOADING_GETTER(int, hostdev_pci_device, get_vf_index, pci_device_load_vf_index,
			      vf_index, -1)
