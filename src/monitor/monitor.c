/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hot-plug monitor for USB and PCI devices on top of a libudev netlink monitor. The caller's event
 * loop polls hostdev_monitor_get_fd() and calls hostdev_monitor_process(); every uevent is turned
 * into an event with a device snapshot read from the context's sysfs, after the duplicate and
 * ordering rules of monitor.h. The monitor remembers the last snapshot of each device so that a
 * remove event can carry it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "pci/pci.h"
#include "usb/usb.h"

enum {
	SUBSYS_USB = 1u << 0,
	SUBSYS_PCI = 1u << 1,
};

/* At most this many uevents are read per process() call, so that a storm cannot starve the loop. */
#define MAX_EVENTS_PER_PROCESS 1024

struct id_match {
	int vendor, product;
};

struct class_match {
	unsigned int value;
	int digits; /* 2, 4 or 6 */
};

/* A device the monitor has seen. */
struct known_device {
	unsigned int subsystem;
	char *name;
	unsigned long long seqnum;
	bool reported; /* an add (or replay) for it went to the callback */
	bool partial;  /* the snapshot kept is not a complete read (the device was gone or going) */
	hostdev_usb_device *usb;
	hostdev_pci_device *pci;
};

struct hostdev_event {
	enum hostdev_event_action action;
	unsigned int subsystem;
	const char *name;
	const char *interface;
	const char *driver;
	unsigned long long seqnum;
	bool replay, partial;
	hostdev_usb_device *usb;
	hostdev_pci_device *pci;
};

struct hostdev_monitor {
	int refcount;
	hostdev_ctx *ctx;
	unsigned int subsystems;
	struct id_match *ids;
	size_t n_ids;
	struct class_match *classes;
	size_t n_classes;
	hostdev_monitor_fn fn;
	void *userdata;

	bool started, processing;
	struct udev *udev;
	struct udev_monitor *umon;
	struct known_device *known;
	size_t n_known;
	/* Receive queue overflows seen (ENOBUFS): events were lost in each. */
	unsigned long overflows;
};

static const char *const action_names[] = {
    [HOSTDEV_EVENT_ADD] = "add",       [HOSTDEV_EVENT_REMOVE] = "remove",
    [HOSTDEV_EVENT_CHANGE] = "change", [HOSTDEV_EVENT_BIND] = "bind",
    [HOSTDEV_EVENT_UNBIND] = "unbind",
};

HOSTDEV_EXPORT int hostdev_monitor_new(hostdev_ctx *ctx, hostdev_monitor **out)
{
	hostdev_monitor *m;

	if (!ctx || !out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->refcount = 1;
	m->ctx = hostdev_ctx_ref(ctx);
	*out = m;
	return 0;
}

static void known_clear(struct known_device *k)
{
	free(k->name);
	hostdev_usb_device_unref(k->usb);
	hostdev_pci_device_unref(k->pci);
	memset(k, 0, sizeof(*k));
}

/* What _unref() does when the last reference goes. */
static void monitor_destroy(hostdev_monitor *m)
{
	for (size_t i = 0; i < m->n_known; i++)
		known_clear(&m->known[i]);
	free(m->known);
	free(m->ids);
	free(m->classes);
	udev_monitor_unref(m->umon);
	udev_unref(m->udev);
	hostdev_ctx_unref(m->ctx);
	free(m);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_monitor, monitor_destroy)

static int check_not_started(hostdev_monitor *m)
{
	if (m->started)
		return hostdev_error(
		    m->ctx, -EBUSY, "monitor filters must be added before hostdev_monitor_start()");
	return 0;
}

HOSTDEV_EXPORT int hostdev_monitor_add_match_subsystem(hostdev_monitor *m, const char *subsystem)
{
	int r;

	if (!m)
		return -EINVAL;
	if ((r = check_not_started(m)) < 0)
		return r;
	if (subsystem && strcmp(subsystem, "usb") == 0)
		m->subsystems |= SUBSYS_USB;
	else if (subsystem && strcmp(subsystem, "pci") == 0)
		m->subsystems |= SUBSYS_PCI;
	else
		return hostdev_error(m->ctx, -EINVAL,
				     "unknown monitor subsystem '%s': expected usb or pci",
				     subsystem ? subsystem : "(null)");
	return 0;
}

HOSTDEV_EXPORT int hostdev_monitor_add_match_id(hostdev_monitor *m, const char *spec)
{
	struct id_match f, *grown;
	int r;

	if (!m)
		return -EINVAL;
	if ((r = check_not_started(m)) < 0)
		return r;
	if (usb_id_spec_parse(spec, &f.vendor, &f.product) < 0)
		return hostdev_error(m->ctx, -EINVAL,
				     "invalid id match '%s': expected VENDOR:PRODUCT in hex, e.g. "
				     "0951:1666, 8086: or :10d3",
				     spec ? spec : "(null)");
	grown = dp_array_grow(m->ids, m->n_ids, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	m->ids = grown;
	m->ids[m->n_ids++] = f;
	return 0;
}

HOSTDEV_EXPORT int hostdev_monitor_add_match_class(hostdev_monitor *m, const char *spec)
{
	struct class_match f, *grown;
	size_t len = spec ? strlen(spec) : 0;
	char *end;
	int r;

	if (!m)
		return -EINVAL;
	if ((r = check_not_started(m)) < 0)
		return r;
	if (len != 2 && len != 4 && len != 6)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)spec[i]))
			goto bad;
	f.value = (unsigned int)strtoul(spec, &end, 16);
	if (*end)
		goto bad;
	f.digits = (int)len;
	grown = dp_array_grow(m->classes, m->n_classes, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	m->classes = grown;
	m->classes[m->n_classes++] = f;
	return 0;
bad:
	return hostdev_error(m->ctx, -EINVAL,
			     "invalid class match '%s': expected 2 hex digits (USB class or PCI "
			     "base class), or 4/6 for a PCI class prefix (0200, 020000)",
			     spec ? spec : "(null)");
}

HOSTDEV_EXPORT void hostdev_monitor_set_callback(hostdev_monitor *m, hostdev_monitor_fn fn,
						 void *userdata)
{
	if (!m)
		return;
	m->fn = fn;
	m->userdata = userdata;
}

static bool subsystem_wanted(hostdev_monitor *m, unsigned int subsystem)
{
	return m->subsystems == 0 || (m->subsystems & subsystem);
}

static bool event_matches(hostdev_monitor *m, const struct hostdev_event *ev)
{
	unsigned int vendor, product, cls;
	bool ok;

	if (!subsystem_wanted(m, ev->subsystem))
		return false;
	if (ev->usb) {
		vendor = hostdev_usb_device_get_vendor_id(ev->usb);
		product = hostdev_usb_device_get_product_id(ev->usb);
		cls = hostdev_usb_device_get_class(ev->usb);
	} else {
		vendor = hostdev_pci_device_get_vendor_id(ev->pci);
		product = hostdev_pci_device_get_device_id(ev->pci);
		cls = hostdev_pci_device_get_class(ev->pci);
	}
	if (m->n_ids) {
		ok = false;
		for (size_t i = 0; i < m->n_ids && !ok; i++)
			ok = (m->ids[i].vendor < 0 || (unsigned int)m->ids[i].vendor == vendor) &&
			     (m->ids[i].product < 0 || (unsigned int)m->ids[i].product == product);
		if (!ok)
			return false;
	}
	if (m->n_classes) {
		ok = false;
		for (size_t i = 0; i < m->n_classes && !ok; i++) {
			const struct class_match *c = &m->classes[i];

			if (ev->usb)
				ok = c->digits == 2 && c->value == cls;
			else
				ok = (cls >> (4 * (6 - c->digits))) == c->value;
		}
		if (!ok)
			return false;
	}
	return true;
}

static struct known_device *known_find(hostdev_monitor *m, unsigned int subsystem, const char *name)
{
	for (size_t i = 0; i < m->n_known; i++)
		if (m->known[i].subsystem == subsystem && strcmp(m->known[i].name, name) == 0)
			return &m->known[i];
	return NULL;
}

static struct known_device *known_add(hostdev_monitor *m, unsigned int subsystem, const char *name)
{
	struct known_device *grown, *k;

	grown = dp_array_grow(m->known, m->n_known, sizeof(*grown));
	if (!grown)
		return NULL;
	m->known = grown;
	k = &m->known[m->n_known];
	memset(k, 0, sizeof(*k));
	k->subsystem = subsystem;
	k->name = strdup(name);
	if (!k->name)
		return NULL;
	m->n_known++;
	return k;
}

static void known_remove(hostdev_monitor *m, struct known_device *k)
{
	size_t i = (size_t)(k - m->known);

	known_clear(k);
	memmove(&m->known[i], &m->known[i + 1], (m->n_known - i - 1) * sizeof(*k));
	m->n_known--;
}

/* Replace the snapshot kept for @k by the event's (taking a reference). */
static void known_set(struct known_device *k, const struct hostdev_event *ev)
{
	hostdev_usb_device *usb = hostdev_usb_device_ref(ev->usb);
	hostdev_pci_device *pci = hostdev_pci_device_ref(ev->pci);

	hostdev_usb_device_unref(k->usb);
	hostdev_pci_device_unref(k->pci);
	k->usb = usb;
	k->pci = pci;
	k->partial = ev->partial;
	if (ev->seqnum > k->seqnum)
		k->seqnum = ev->seqnum;
}

static void deliver(hostdev_monitor *m, struct hostdev_event *ev, int *count)
{
	if (m->fn)
		m->fn(m, ev, m->userdata);
	(*count)++;
}

/* A PCI snapshot from uevent properties, for a device that is already gone. */
static int pci_partial(hostdev_ctx *ctx, struct udev_device *ud, const char *name,
		       hostdev_pci_device **out)
{
	const char *id = udev_device_get_property_value(ud, "PCI_ID");
	const char *cls = udev_device_get_property_value(ud, "PCI_CLASS");
	const char *subsys = udev_device_get_property_value(ud, "PCI_SUBSYS_ID");
	const char *driver = udev_device_get_property_value(ud, "DRIVER");
	char path[PATH_MAX];
	hostdev_pci_device *dev;
	unsigned int v = 0, d = 0;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->refcount = 1;
	dev->ctx = hostdev_ctx_ref(ctx);
	dev->iommu_group = -1;
	dev->numa_node = -1;
	dev->vf_index = -1;
	if (hostdev_pci_address_parse(name, &dev->addr) < 0) {
		hostdev_pci_device_unref(dev);
		return -EINVAL;
	}
	hostdev_pci_address_format(&dev->addr, dev->address, sizeof(dev->address));
	if (id && sscanf(id, "%x:%x", &v, &d) == 2) {
		dev->vendor_id = v & 0xffff;
		dev->device_id = d & 0xffff;
	}
	if (subsys && sscanf(subsys, "%x:%x", &v, &d) == 2) {
		dev->subsystem_vendor_id = v & 0xffff;
		dev->subsystem_device_id = d & 0xffff;
	}
	if (cls)
		dev->class_code = (unsigned int)strtoul(cls, NULL, 16) & 0xffffff;
	/* Lazy parts would read a directory that no longer exists: they stay empty. */
	if (sysfs_pci_device_path(ctx, path, sizeof(path), dev->address, NULL) == 0)
		dev->syspath = strdup(path);
	if (!dev->syspath || (driver && !(dev->driver = strdup(driver)))) {
		hostdev_pci_device_unref(dev);
		return -ENOMEM;
	}
	*out = dev;
	return 0;
}

static unsigned int property_uint(struct udev_device *ud, const char *key)
{
	const char *v = udev_device_get_property_value(ud, key);

	return v ? (unsigned int)strtoul(v, NULL, 10) : 0;
}

/* A partial USB snapshot of @ev's device from the uevent @ud: the device is gone. */
static int usb_partial(hostdev_monitor *m, struct udev_device *ud, struct hostdev_event *ev)
{
	ev->partial = true;
	return usb_device_new_partial(m->ctx, ev->name, udev_device_get_devpath(ud),
				      property_uint(ud, "BUSNUM"), property_uint(ud, "DEVNUM"),
				      udev_device_get_property_value(ud, "PRODUCT"),
				      udev_device_get_property_value(ud, "TYPE"), &ev->usb);
}

/* Read the current snapshot of the device of @ev; a partial one from @ud when it is gone. */
static int read_snapshot(hostdev_monitor *m, struct udev_device *ud, struct hostdev_event *ev)
{
	int r;

	if (ev->subsystem == SUBSYS_USB) {
		r = hostdev_usb_device_new(m->ctx, ev->name, &ev->usb);
		if (r != -ENODEV)
			return r;
		if (ev->interface) /* the interface's uevent does not describe the device */
			return -ENODEV;
		return usb_partial(m, ud, ev);
	}
	r = hostdev_pci_device_new(m->ctx, ev->name, &ev->pci);
	if (r != -ENODEV)
		return r;
	ev->partial = true;
	return pci_partial(m->ctx, ud, ev->name, &ev->pci);
}

/*
 * A device being unplugged loses its attribute files one by one while the kernel still sends
 * unbind events for it: such a read (or a partial one) must not replace a complete snapshot. A live
 * USB device always has `speed`.
 */
static bool snapshot_complete(const struct hostdev_event *ev)
{
	if (ev->partial)
		return false;
	return !ev->usb || hostdev_usb_device_get_speed(ev->usb) != NULL;
}

/* Make @ev carry the snapshot kept in @k instead of its own (incomplete) one. */
static void use_known_snapshot(struct hostdev_event *ev, const struct known_device *k)
{
	hostdev_usb_device_unref(ev->usb);
	hostdev_pci_device_unref(ev->pci);
	ev->usb = hostdev_usb_device_ref(k->usb);
	ev->pci = hostdev_pci_device_ref(k->pci);
	ev->partial = k->partial;
}

static enum hostdev_event_action parse_action(const char *action)
{
	for (size_t i = 1; i < ARRAY_SIZE(action_names); i++)
		if (action && strcmp(action, action_names[i]) == 0)
			return (enum hostdev_event_action)i;
	return 0;
}

static bool same_usb_instance(hostdev_usb_device *a, hostdev_usb_device *b)
{
	return a && b && hostdev_usb_device_get_devnum(a) == hostdev_usb_device_get_devnum(b) &&
	       hostdev_usb_device_get_vendor_id(a) == hostdev_usb_device_get_vendor_id(b) &&
	       hostdev_usb_device_get_product_id(a) == hostdev_usb_device_get_product_id(b);
}

/*
 * The kernel announces a removal before the device's sysfs directory goes, so a remove may find
 * its device still there: the same one (USB: the uevent's DEVNUM) unless another device was
 * plugged into the port in between. A PCI function has no such number: its address is all.
 */
static bool same_instance_as_uevent(const struct hostdev_event *ev, struct udev_device *ud)
{
	const char *devnum = udev_device_get_property_value(ud, "DEVNUM");

	if (!ev->usb || !devnum)
		return true;
	return hostdev_usb_device_get_devnum(ev->usb) == (unsigned int)strtoul(devnum, NULL, 10);
}

/* Report the removal of @k (with its last snapshot) and forget it. */
static void report_remove(hostdev_monitor *m, struct known_device *k, unsigned long long seqnum,
			  int *count)
{
	struct hostdev_event ev = {
	    .action = HOSTDEV_EVENT_REMOVE,
	    .subsystem = k->subsystem,
	    .name = k->name,
	    .seqnum = seqnum,
	    .partial = k->partial,
	    .usb = k->usb,
	    .pci = k->pci,
	};

	if (k->reported)
		deliver(m, &ev, count);
	known_remove(m, k);
}

/* Handle one uevent. Returns 0 or -ENOMEM; the events reported are added to *count. */
static int handle_uevent(hostdev_monitor *m, struct udev_device *ud, int *count)
{
	const char *subsystem = udev_device_get_subsystem(ud);
	const char *devtype = udev_device_get_devtype(ud);
	const char *sysname = udev_device_get_sysname(ud);
	struct hostdev_event ev = {0};
	struct known_device *k;
	char name[256];
	bool matches;
	int r;

	ev.action = parse_action(udev_device_get_action(ud));
	ev.seqnum = udev_device_get_seqnum(ud);
	if (!ev.action || !subsystem || !sysname)
		return 0;
	if (strcmp(subsystem, "usb") == 0 && devtype && strcmp(devtype, "usb_device") == 0) {
		ev.subsystem = SUBSYS_USB;
		snprintf(name, sizeof(name), "%s", sysname);
	} else if (strcmp(subsystem, "usb") == 0 && devtype &&
		   strcmp(devtype, "usb_interface") == 0) {
		/* Only driver changes of interfaces matter: they change the device's state. */
		if (ev.action != HOSTDEV_EVENT_BIND && ev.action != HOSTDEV_EVENT_UNBIND)
			return 0;
		ev.subsystem = SUBSYS_USB;
		ev.interface = sysname;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(sysname, ":"), sysname);
	} else if (strcmp(subsystem, "pci") == 0) {
		ev.subsystem = SUBSYS_PCI;
		snprintf(name, sizeof(name), "%s", sysname);
	} else {
		return 0;
	}
	if (!subsystem_wanted(m, ev.subsystem))
		return 0;
	if (ev.subsystem == SUBSYS_USB && !usb_is_device_name(name))
		return 0;
	ev.name = name;
	if (ev.action == HOSTDEV_EVENT_BIND || ev.action == HOSTDEV_EVENT_UNBIND)
		ev.driver = udev_device_get_property_value(ud, "DRIVER");

	k = known_find(m, ev.subsystem, name);
	if (k && ev.seqnum && k->seqnum && ev.seqnum <= k->seqnum) {
		log_debug(m->ctx, "%s: dropping %s event %llu older than %llu", name,
			  action_names[ev.action], ev.seqnum, k->seqnum);
		return 0;
	}
	if (ev.action == HOSTDEV_EVENT_REMOVE) {
		if (ev.interface)
			return 0;
		if (k) {
			report_remove(m, k, ev.seqnum, count);
			return 0;
		}
		/* Removal of a device never seen: its snapshot when it is still there (the
		 * kernel announces a removal before the directory goes), else what the uevent
		 * says. */
		r = read_snapshot(m, ud, &ev);
		if (r == 0 && !ev.partial && !same_instance_as_uevent(&ev, ud)) {
			/* Another device took the port meanwhile (its add follows): this remove
			 * is about the one the uevent describes. */
			hostdev_usb_device_unref(ev.usb);
			ev.usb = NULL;
			r = usb_partial(m, ud, &ev);
		}
		if (r == 0 && !snapshot_complete(&ev))
			ev.partial = true; /* read while its attributes vanish */
		if (r == 0 && event_matches(m, &ev))
			deliver(m, &ev, count);
		hostdev_usb_device_unref(ev.usb);
		hostdev_pci_device_unref(ev.pci);
		return r == -ENOMEM ? r : 0;
	}

	r = read_snapshot(m, ud, &ev);
	if (r < 0) {
		if (r == -ENOMEM)
			return r;
		log_debug(m->ctx, "%s: %s event skipped: %s", name, action_names[ev.action],
			  hostdev_ctx_get_error(m->ctx));
		return 0;
	}
	if (k && ev.action == HOSTDEV_EVENT_ADD) {
		if (ev.subsystem == SUBSYS_USB && !same_usb_instance(k->usb, ev.usb)) {
			/* A re-plug whose remove we did not see: close the old one first. */
			report_remove(m, k, ev.seqnum, count);
			k = NULL;
		} else {
			/* Duplicate (replay and live add of the same device): keep it quiet. Read
			 * once the device is on its way out, it must not replace a complete
			 * snapshot: the remove that follows carries it. */
			if (snapshot_complete(&ev) || !(k->usb || k->pci))
				known_set(k, &ev);
			else if (ev.seqnum > k->seqnum)
				k->seqnum = ev.seqnum;
			hostdev_usb_device_unref(ev.usb);
			hostdev_pci_device_unref(ev.pci);
			return 0;
		}
	}
	if (!k && !(k = known_add(m, ev.subsystem, name))) {
		hostdev_usb_device_unref(ev.usb);
		hostdev_pci_device_unref(ev.pci);
		return -ENOMEM;
	}
	if (!snapshot_complete(&ev) && (k->usb || k->pci)) {
		use_known_snapshot(&ev, k);
		if (ev.seqnum > k->seqnum)
			k->seqnum = ev.seqnum;
	} else {
		/* First heard of while it is torn down, nothing better kept: what could be read
		 * (identity, port) is right, the rest is missing, and the event says so. */
		if (!snapshot_complete(&ev))
			ev.partial = true;
		known_set(k, &ev);
	}
	matches = event_matches(m, &ev);
	if (matches && !k->reported && ev.action != HOSTDEV_EVENT_ADD) {
		/* First time it matches (a USB class known once its interfaces exist): add first.
		 */
		struct hostdev_event add = ev;

		add.action = HOSTDEV_EVENT_ADD;
		add.interface = add.driver = NULL;
		deliver(m, &add, count);
		k->reported = true;
	}
	if (matches) {
		k->reported = true;
		deliver(m, &ev, count);
	}
	hostdev_usb_device_unref(ev.usb);
	hostdev_pci_device_unref(ev.pci);
	return 0;
}

/* Remember a device found at start and report it if it matches; -ENOMEM if it cannot be kept. */
static int replay_one(hostdev_monitor *m, struct hostdev_event *ev, int *count)
{
	struct known_device *k = known_find(m, ev->subsystem, ev->name);

	if (!k && !(k = known_add(m, ev->subsystem, ev->name)))
		return -ENOMEM;
	known_set(k, ev);
	if (event_matches(m, ev)) {
		k->reported = true;
		deliver(m, ev, count);
	}
	return 1;
}

static int replay_usb(hostdev_monitor *m, int *count)
{
	hostdev_usb_enum *e;
	hostdev_usb_device *dev;
	int r;

	if ((r = hostdev_usb_enum_new(m->ctx, HOSTDEV_USB_ENUM_HUBS, &e)) < 0)
		return r;
	while ((r = hostdev_usb_enum_next(e, &dev)) > 0) {
		struct hostdev_event ev = {
		    .action = HOSTDEV_EVENT_ADD,
		    .subsystem = SUBSYS_USB,
		    .name = hostdev_usb_device_get_name(dev),
		    .replay = true,
		    .usb = dev,
		};

		r = replay_one(m, &ev, count);
		hostdev_usb_device_unref(dev);
		if (r < 0)
			break;
	}
	hostdev_usb_enum_unref(e);
	return r;
}

static int replay_pci(hostdev_monitor *m, int *count)
{
	hostdev_pci_enum *e;
	hostdev_pci_device *dev;
	int r;

	if ((r = hostdev_pci_enum_new(m->ctx, &e)) < 0)
		return r;
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		struct hostdev_event ev = {
		    .action = HOSTDEV_EVENT_ADD,
		    .subsystem = SUBSYS_PCI,
		    .name = hostdev_pci_device_get_address(dev),
		    .replay = true,
		    .pci = dev,
		};

		r = replay_one(m, &ev, count);
		hostdev_pci_device_unref(dev);
		if (r < 0)
			break;
	}
	hostdev_pci_enum_unref(e);
	/* A host without PCI sysfs (some containers) still gets its USB events. */
	if (r == -ENODEV || r == -ENOENT || r == -EBADF)
		r = 0;
	return r;
}

HOSTDEV_EXPORT int hostdev_monitor_start(hostdev_monitor *m, unsigned int flags)
{
	const unsigned int known_flags =
	    HOSTDEV_MONITOR_ENUMERATE | HOSTDEV_MONITOR_SOURCE_KERNEL | HOSTDEV_MONITOR_SOURCE_UDEV;
	const char *source;
	int r, count = 0;

	if (!m)
		return -EINVAL;
	CHECK_FLAGS(m->ctx, flags, known_flags, "unknown monitor");
	if ((flags & HOSTDEV_MONITOR_SOURCE_KERNEL) && (flags & HOSTDEV_MONITOR_SOURCE_UDEV))
		return hostdev_error(m->ctx, -EINVAL,
				     "choose one event source: kernel or udev, not both");
	if (m->started)
		return hostdev_error(m->ctx, -EBUSY, "the monitor is already started");
	m->udev = udev_new();
	if (!m->udev)
		return hostdev_error(m->ctx, -ENOMEM, "cannot create a libudev context");
	if (flags & HOSTDEV_MONITOR_SOURCE_KERNEL) {
		source = "kernel";
	} else if (flags & HOSTDEV_MONITOR_SOURCE_UDEV) {
		source = "udev";
	} else {
		/* udevd's events come after its rules ran (device node permissions set). */
		struct udev_queue *queue = udev_queue_new(m->udev);

		source = queue && udev_queue_get_udev_is_active(queue) ? "udev" : "kernel";
		udev_queue_unref(queue);
	}
	m->umon = udev_monitor_new_from_netlink(m->udev, source);
	if (!m->umon) {
		r = errno ? -errno : -ENOMEM;
		return hostdev_error(m->ctx, r,
				     "cannot open the %s uevent socket (%s): netlink uevents need "
				     "a network namespace that receives them (the host's)",
				     source, strerror(-r));
	}
	log_debug(m->ctx, "monitor listens to %s events", source);
	udev_monitor_set_receive_buffer_size(m->umon, 4 * 1024 * 1024);
	if ((subsystem_wanted(m, SUBSYS_USB) &&
	     udev_monitor_filter_add_match_subsystem_devtype(m->umon, "usb", NULL) < 0) ||
	    (subsystem_wanted(m, SUBSYS_PCI) &&
	     udev_monitor_filter_add_match_subsystem_devtype(m->umon, "pci", NULL) < 0))
		return hostdev_error(m->ctx, -ENOMEM, "cannot set the uevent filter");
	r = udev_monitor_enable_receiving(m->umon);
	if (r < 0)
		return hostdev_error(m->ctx, r, "cannot listen to %s uevents: %s", source,
				     strerror(-r));
	m->started = true;
	if (!(flags & HOSTDEV_MONITOR_ENUMERATE))
		return 0;
	/* The socket is open: anything that changes from here on is queued in it. */
	m->processing = true;
	r = subsystem_wanted(m, SUBSYS_USB) ? replay_usb(m, &count) : 0;
	if (r >= 0 && subsystem_wanted(m, SUBSYS_PCI))
		r = replay_pci(m, &count);
	m->processing = false;
	return r < 0 ? r : 0;
}

HOSTDEV_EXPORT int hostdev_monitor_get_fd(hostdev_monitor *m)
{
	if (!m)
		return -EINVAL;
	if (!m->umon)
		return -EBADF;
	return udev_monitor_get_fd(m->umon);
}

HOSTDEV_EXPORT int hostdev_monitor_process(hostdev_monitor *m)
{
	struct udev_device *ud;
	int count = 0, r = 0;

	if (!m)
		return -EINVAL;
	if (!m->started)
		return hostdev_error(m->ctx, -EBADF, "the monitor is not started");
	if (m->processing)
		return hostdev_error(m->ctx, -EBUSY,
				     "hostdev_monitor_process() called from its own callback");
	hostdev_monitor_ref(m);
	m->processing = true;
	for (int i = 0; i < MAX_EVENTS_PER_PROCESS; i++) {
		errno = 0;
		ud = udev_monitor_receive_device(m->umon);
		if (!ud) {
			/* EAGAIN: drained. Other errors (a malformed message, ENOBUFS after an
			 * overflow) are not fatal for the monitor: report what we have. */
			if (errno != EAGAIN && errno != 0)
				log_debug(m->ctx, "uevent receive: %s", strerror(errno));
			if (errno == ENOBUFS) {
				m->overflows++;
				log_warn(m->ctx, "uevents were lost (socket buffer overflow): "
						 "re-enumerate to catch up");
			}
			break;
		}
		r = handle_uevent(m, ud, &count);
		udev_device_unref(ud);
		if (r < 0)
			break;
	}
	m->processing = false;
	hostdev_monitor_unref(m);
	return r < 0 ? r : count;
}

HOSTDEV_EXPORT unsigned long hostdev_monitor_get_overflows(const hostdev_monitor *m)
{
	return m ? m->overflows : 0;
}

HOSTDEV_DEFINE_CONST_GETTER(enum hostdev_event_action, hostdev_event, get_action, action, 0)

HOSTDEV_EXPORT const char *hostdev_event_get_action_name(const hostdev_event *ev)
{
	return ev ? action_names[ev->action] : NULL;
}

HOSTDEV_EXPORT const char *hostdev_event_get_subsystem(const hostdev_event *ev)
{
	if (!ev)
		return NULL;
	return ev->subsystem == SUBSYS_USB ? "usb" : "pci";
}

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_event, get_name, name, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_event, get_interface, interface, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_event, get_driver, driver, NULL)
HOSTDEV_DEFINE_CONST_GETTER(unsigned long long, hostdev_event, get_seqnum, seqnum, 0)

HOSTDEV_EXPORT int hostdev_event_is_replay(const hostdev_event *ev)
{
	return ev && ev->replay;
}

HOSTDEV_EXPORT int hostdev_event_is_partial(const hostdev_event *ev)
{
	return ev && ev->partial;
}

HOSTDEV_DEFINE_CONST_GETTER(hostdev_usb_device *, hostdev_event, get_usb_device, usb, NULL)
HOSTDEV_DEFINE_CONST_GETTER(hostdev_pci_device *, hostdev_event, get_pci_device, pci, NULL)
