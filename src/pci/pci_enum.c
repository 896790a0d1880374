/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enumeration of PCI devices in address order. The directory is listed once, on the first next();
 * slot filters are applied to the names so that filtered-out devices are never opened; the other
 * filters need the device's attributes and are applied as each device is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"
#include "pci_filter.h"
#include "core/core.h"

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

static int start_scan(hostdev_pci_enum *e)
{
	struct strv names = {0};
	char path[PATH_MAX];
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
	r = sysfs_list_dir(e->devices_fd, ".", NULL, &names);
	if (r < 0) {
		strv_clear(&names);
		return hostdev_error(e->ctx, r, "cannot read %s: %s", path, strerror(-r));
	}
	e->addrs = calloc(names.count ? names.count : 1, sizeof(*e->addrs));
	if (!e->addrs) {
		strv_clear(&names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < names.count; i++) {
		struct hostdev_pci_address a;

		if (hostdev_pci_address_parse(names.items[i], &a) < 0) {
			log_debug(e->ctx, "ignoring '%s' in %s: not a PCI address", names.items[i],
				  path);
			continue;
		}
		if (slot_filters_match(e, &a))
			e->addrs[e->n_addrs++] = a;
	}
	strv_clear(&names);
	qsort(e->addrs, e->n_addrs, sizeof(*e->addrs), compare_addresses);
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
		hostdev_pci_device *dev;

		hostdev_pci_address_format(&e->addrs[e->pos++], name, sizeof(name));
		r = pci_device_new_at(e->ctx, e->devices_fd, name, &dev);
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
