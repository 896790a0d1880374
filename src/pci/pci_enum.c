/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enumeration of PCI devices in address order. The directory is listed once, on the first next();
 * slot filters are applied to the names so that filtered-out devices are never opened; the other
 * filters need the device's attributes and are applied as each device is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "pci_filter.h"
#include "core/core.h"

/*
 * A VF seen in the virtfn<N> links of its PF, which address order reads first (a VF's routing ID is
 * its PF's plus First VF Offset plus N times VF Stride): the VF then needs no readlink of physfn
 * and no look at the PF for its number. Open addressing on the address.
 */
struct vf_slot {
	uint64_t key; /* address_key() + 1; 0: free */
	struct hostdev_pci_address pf;
	int number;
};

struct vf_table {
	struct vf_slot *slots;
	size_t mask; /* capacity - 1, 0 while empty */
	size_t count;
};

static uint64_t address_key(const struct hostdev_pci_address *a)
{
	return (uint64_t)a->domain << 16 | (uint64_t)(a->bus & 0xff) << 8 |
	       (uint64_t)(a->slot & 0x1f) << 3 | (a->function & 7);
}

static size_t vf_hash(uint64_t key, size_t mask)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 29) & mask;
}

static struct vf_slot *vf_table_find(const struct vf_table *t, uint64_t key)
{
	if (!t->slots)
		return NULL;
	for (size_t i = vf_hash(key, t->mask);; i = (i + 1) & t->mask) {
		if (t->slots[i].key == key)
			return &t->slots[i];
		if (t->slots[i].key == 0)
			return NULL;
	}
}

static int vf_table_add(struct vf_table *t, const struct hostdev_pci_address *vf,
			const struct hostdev_pci_address *pf, int number)
{
	uint64_t key = address_key(vf) + 1;
	size_t i;

	if ((t->count + 1) * 2 > (t->slots ? t->mask + 1 : 0)) {
		size_t capacity = t->slots ? (t->mask + 1) * 2 : 64;
		struct vf_table grown = {calloc(capacity, sizeof(struct vf_slot)), capacity - 1, 0};

		if (!grown.slots)
			return -ENOMEM;
		for (size_t k = 0; t->slots && k <= t->mask; k++)
			if (t->slots[k].key) {
				for (i = vf_hash(t->slots[k].key, grown.mask); grown.slots[i].key;
				     i = (i + 1) & grown.mask)
					;
				grown.slots[i] = t->slots[k];
				grown.count++;
			}
		free(t->slots);
		*t = grown;
	}
	for (i = vf_hash(key, t->mask); t->slots[i].key && t->slots[i].key != key;
	     i = (i + 1) & t->mask)
		;
	if (!t->slots[i].key)
		t->count++;
	t->slots[i] = (struct vf_slot){key, *pf, number};
	return 0;
}

struct hostdev_pci_enum {
	int refcount;
	hostdev_ctx *ctx;
	struct pci_slot_filter *slots;
	size_t n_slots;
	struct pci_id_filter *ids;
	size_t n_ids;
	struct pci_class_filter *classes;
	size_t n_classes;
	struct strv drivers;

	bool started;
	int devices_fd;
	struct hostdev_pci_address *addrs; /* matching slot filters, sorted */
	size_t n_addrs, pos;
	/* Without slot filters: the IOMMU group of each of addrs (-1: none) and their map. */
	int *groups;
	struct pci_group_map *group_map;
	/* The VFs named by the virtfn links of the PFs read so far. */
	struct vf_table vfs;
};

HOSTDEV_EXPORT int hostdev_pci_enum_new(hostdev_ctx *ctx, hostdev_pci_enum **out)
{
	hostdev_pci_enum *e;

	if (!ctx || !out)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->refcount = 1;
	e->ctx = hostdev_ctx_ref(ctx);
	e->devices_fd = -1;
	*out = e;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void pci_enum_destroy(hostdev_pci_enum *e)
{
	free(e->slots);
	free(e->ids);
	free(e->classes);
	strv_clear(&e->drivers);
	free(e->addrs);
	free(e->groups);
	pci_group_map_unref(e->group_map);
	free(e->vfs.slots);
	if (e->devices_fd >= 0)
		close(e->devices_fd);
	hostdev_ctx_unref(e->ctx);
	free(e);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_pci_enum, pci_enum_destroy)

/* Append one element of @size bytes to a plain array. */
static int array_append(void **array, size_t *count, const void *item, size_t size)
{
	void *grown = realloc(*array, (*count + 1) * size);

	if (!grown)
		return -ENOMEM;
	memcpy((char *)grown + *count * size, item, size);
	*array = grown;
	(*count)++;
	return 0;
}

static int check_not_started(hostdev_pci_enum *e)
{
	if (e->started)
		return hostdev_error(
		    e->ctx, -EBUSY,
		    "filters must be added before the first hostdev_pci_enum_next()");
	return 0;
}

HOSTDEV_EXPORT int hostdev_pci_enum_add_slot_filter(hostdev_pci_enum *e, const char *spec)
{
	struct pci_slot_filter f;
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0 || (r = pci_slot_filter_parse(e->ctx, spec, &f)) < 0)
		return r;
	return array_append((void **)&e->slots, &e->n_slots, &f, sizeof(f));
}

HOSTDEV_EXPORT int hostdev_pci_enum_add_id_filter(hostdev_pci_enum *e, const char *spec)
{
	struct pci_id_filter f;
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0 || (r = pci_id_filter_parse(e->ctx, spec, &f)) < 0)
		return r;
	return array_append((void **)&e->ids, &e->n_ids, &f, sizeof(f));
}

HOSTDEV_EXPORT int hostdev_pci_enum_add_class_filter(hostdev_pci_enum *e, const char *spec)
{
	struct pci_class_filter f;
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0 || (r = pci_class_filter_parse(e->ctx, spec, &f)) < 0)
		return r;
	return array_append((void **)&e->classes, &e->n_classes, &f, sizeof(f));
}

HOSTDEV_EXPORT int hostdev_pci_enum_add_driver_filter(hostdev_pci_enum *e, const char *driver)
{
	int r;

	if (!e)
		return -EINVAL;
	if ((r = check_not_started(e)) < 0)
		return r;
	if (!driver || !*driver || strchr(driver, '/'))
		return hostdev_error(e->ctx, -EINVAL,
				     "invalid driver filter '%s': give a driver name such as "
				     "vfio-pci, or 'none' for devices without a driver",
				     driver ? driver : "(null)");
	return strv_push(&e->drivers, driver);
}

static int compare_addresses(const void *a, const void *b)
{
	const struct hostdev_pci_address *x = a, *y = b;

	if (x->domain != y->domain)
		return x->domain < y->domain ? -1 : 1;
	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return (x->function > y->function) - (x->function < y->function);
}

static bool slot_filters_match(hostdev_pci_enum *e, const struct hostdev_pci_address *a)
{
	if (e->n_slots == 0)
		return true;
	for (size_t i = 0; i < e->n_slots; i++)
		if (pci_slot_filter_match(&e->slots[i], a))
			return true;
	return false;
}

static bool device_filters_match(hostdev_pci_enum *e, hostdev_pci_device *dev)
{
	bool ok;

	if (e->n_ids) {
		ok = false;
		for (size_t i = 0; i < e->n_ids && !ok; i++)
			ok = pci_id_filter_match(&e->ids[i], dev->vendor_id, dev->device_id,
						 dev->class_code);
		if (!ok)
			return false;
	}
	if (e->n_classes) {
		ok = false;
		for (size_t i = 0; i < e->n_classes && !ok; i++)
			ok = pci_class_filter_match(&e->classes[i], dev->class_code);
		if (!ok)
			return false;
	}
	if (e->drivers.count)
		return strv_contains(&e->drivers, dev->driver ? dev->driver : "none");
	return true;
}

static void read_groups(hostdev_pci_enum *e);

/* The names of <sysfs>/bus/pci/devices, parsed as they are listed (not copied, sorted twice). */
struct scan_names {
	hostdev_pci_enum *e;
	const char *path;
	size_t capacity;
};

static int add_name(void *data, const char *name)
{
	struct scan_names *scan = data;
	hostdev_pci_enum *e = scan->e;
	struct hostdev_pci_address a;

	if (hostdev_pci_address_parse(name, &a) < 0) {
		log_debug(e->ctx, "ignoring '%s' in %s: not a PCI address", name, scan->path);
		return 0;
	}
	if (!slot_filters_match(e, &a))
		return 0;
	if (e->n_addrs == scan->capacity) {
		size_t capacity = scan->capacity ? scan->capacity * 2 : 256;
		struct hostdev_pci_address *grown = realloc(e->addrs, capacity * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		e->addrs = grown;
		scan->capacity = capacity;
	}
	e->addrs[e->n_addrs++] = a;
	return 0;
}

static int start_scan(hostdev_pci_enum *e)
{
	char path[PATH_MAX];
	struct scan_names scan = {e, path, 0};
	int r;

	e->started = true;
	/* A new scan sees slots that appeared since the last one (pciehp loaded late). */
	pci_slots_refresh(e->ctx);
	if (path_join(path, sizeof(path), ctx_sysfs(e->ctx), "bus/pci/devices") < 0)
		return hostdev_error(e->ctx, -ENAMETOOLONG, "sysfs path '%s' is too long",
				     ctx_sysfs(e->ctx));
	e->devices_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->devices_fd < 0)
		return hostdev_error(e->ctx, -errno,
				     "cannot list PCI devices in %s (%s): is sysfs mounted there, "
				     "or is the context's root (hostdev_ctx_set_root()) wrong?",
				     path, strerror(errno));
	r = sysfs_dir_for_each(e->devices_fd, add_name, &scan);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return hostdev_error(e->ctx, r, "cannot read %s: %s", path, strerror(-r));
	if (e->n_addrs > 1)
		qsort(e->addrs, e->n_addrs, sizeof(*e->addrs), compare_addresses);
	if (e->n_slots == 0)
		read_groups(e);
	return 0;
}

/* sysfs_dir_for_each() callback that stops at the first entry. */
static int stop_at_entry(void *data, const char *name)
{
	(void)data;
	(void)name;
	return -EEXIST;
}

/* Whether <sysfs>/kernel/iommu_groups has a group: without one (IOMMU off) no device has a link. */
static bool have_iommu_groups(hostdev_ctx *ctx)
{
	char path[PATH_MAX];
	int fd, r;

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "kernel/iommu_groups") < 0 ||
	    (fd = open_dir_at(AT_FDCWD, path)) < 0)
		return false;
	r = sysfs_dir_for_each(fd, stop_at_entry, NULL);
	close(fd);
	return r == -EEXIST;
}

/*
 * Every device's iommu_group link, once, before the first device: each device then takes its
 * group and its members from the map instead of listing its group's directory. Only without slot
 * filters, which read every device anyway; a filtered enumeration reads few and lists their
 * groups. Without memory, devices list their groups too.
 */
static void read_groups(hostdev_pci_enum *e)
{
	if (e->n_addrs == 0 || !have_iommu_groups(e->ctx))
		return;
	e->groups = malloc(e->n_addrs * sizeof(*e->groups));
	if (!e->groups)
		return;
	for (size_t i = 0; i < e->n_addrs; i++) {
		char name[HOSTDEV_PCI_ADDRESS_MAX], link[HOSTDEV_PCI_ADDRESS_MAX + 16];

		e->groups[i] = -1;
		if (hostdev_pci_address_format(&e->addrs[i], name, sizeof(name)) >= 0 &&
		    path_join(link, sizeof(link), name, "iommu_group") == 0)
			e->groups[i] = pci_read_group_link(e->devices_fd, link);
	}
	e->group_map = pci_group_map_new(e->addrs, e->groups, e->n_addrs);
	if (!e->group_map) {
		free(e->groups);
		e->groups = NULL;
	}
}

/* Note the VFs of the PF @dev, whose links it reads now, for their own reading later. */
static int note_vfs(hostdev_pci_enum *e, hostdev_pci_device *dev)
{
	if (!dev->is_pf || !dev->listed || dev->virtfn_count == 0)
		return 0;
	pci_device_load_vfs(dev);
	for (size_t i = 0; i < dev->vf_count; i++) {
		struct hostdev_pci_address vf;

		if (hostdev_pci_address_parse(dev->vfs[i].address, &vf) == 0 &&
		    vf_table_add(&e->vfs, &vf, &dev->addr, dev->vfs[i].number) < 0)
			return -ENOMEM;
	}
	return 0;
}

HOSTDEV_EXPORT int hostdev_pci_enum_next(hostdev_pci_enum *e, hostdev_pci_device **out)
{
	int r;

	if (!e || !out)
		return -EINVAL;
	if (!e->started && (r = start_scan(e)) < 0)
		return r;
	if (e->devices_fd < 0)
		return -EBADF; /* the first scan failed; its error was reported then */
	while (e->pos < e->n_addrs) {
		char name[HOSTDEV_PCI_ADDRESS_MAX];
		struct pci_device_hint hint = {.iommu_group = -1, .vf_index = -1};
		const struct hostdev_pci_address *addr = &e->addrs[e->pos];
		const struct vf_slot *vf = vf_table_find(&e->vfs, address_key(addr) + 1);
		hostdev_pci_device *dev;

		if (e->group_map) {
			hint.groups = e->group_map;
			hint.iommu_group = e->groups[e->pos];
		}
		if (vf) {
			hint.vf_known = true;
			hint.pf = vf->pf;
			hint.vf_index = vf->number;
		}
		e->pos++;
		hint.addr = addr;
		hostdev_pci_address_format(addr, name, sizeof(name));
		r = pci_device_new_at(e->ctx, e->devices_fd, name, &hint, &dev);
		if (r == -ENODEV) {
			/* Removed since the directory was listed (hot-unplug, VF removal). */
			log_debug(e->ctx, "%s: vanished during enumeration, skipped", name);
			continue;
		}
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			log_warn(e->ctx, "%s: skipped: %s", name, hostdev_ctx_get_error(e->ctx));
			continue;
		}
		/* Its VFs come later, and may match when it does not. */
		if (note_vfs(e, dev) < 0) {
			hostdev_pci_device_unref(dev);
			return -ENOMEM;
		}
		if (!device_filters_match(e, dev)) {
			hostdev_pci_device_unref(dev);
			continue;
		}
		hostdev_clear_error(e->ctx);
		*out = dev;
		return 1;
	}
	return 0;
}
