/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's hot-plug monitor in the agent's loop: every add, remove, change, bind or unbind
 * becomes the re-computation of the objects of that one device and of the devices whose objects
 * name it (its SR-IOV PF, the members of its IOMMU group), then single-object updates. A
 * PCIDevice is named after its address; for the other kinds an index from device (PCI address, USB
 * port path) to object names finds the objects of a removed device even when the remove event's
 * snapshot is partial, and the old name when a name changes (a network PF whose interface
 * appeared).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "agent.h"

struct names {
	char *name[KIND_COUNT];
};

struct hotplug {
	hostdev_ctx *ctx;
	hostdev_monitor *mon;
	struct loop_source *src;
	struct reconciler *r;
	struct agent_ids ids;
	/* "pci:<PF address>" / "usb:<port path>" -> struct names (no PCIDevice names) */
	struct strmap *index;
	hotplug_pci_fn pci_listener;
	void *pci_listener_data;
	hotplug_usb_fn usb_listener;
	void *usb_listener_data;
	hotplug_lost_fn lost_listener;
	void *lost_listener_data;
};

static void names_free(void *p)
{
	struct names *n = p;

	if (!n)
		return;
	for (int k = 0; k < KIND_COUNT; k++)
		free(n->name[k]);
	free(n);
}

/* The PCIDevice of @address: its name is Harvester's function of the node and the address alone,
 * so it needs no index (which at 10,000 functions would cost more than a megabyte). */
static void set_pci_object(struct hotplug *h, const char *address, cJSON *obj)
{
	char name[HOSTDEV_NAME_MAX];

	if (obj) {
		const char *own = kube_meta_string(obj, "name");

		if (own && strlen(own) < sizeof(name)) {
			strcpy(name, own);
			reconciler_put(h->r, KIND_PCI, name, obj);
		} else {
			cJSON_Delete(obj);
		}
	} else if (hostdev_naming_pci_object_name(h->ids.node, address, name, sizeof(name)) > 0) {
		reconciler_put(h->r, KIND_PCI, name, NULL);
	}
}

/* Publish @obj (or nothing, NULL) as the @kind object of device @key. */
static void set_object(struct hotplug *h, const char *key, enum agent_kind kind, cJSON *obj)
{
	struct names *n;
	const char *name;
	char *copy;

	if (!h->r) { /* --dra-only: no devices.harvesterhci.io objects */
		cJSON_Delete(obj);
		return;
	}
	if (kind == KIND_PCI) {
		set_pci_object(h, key + strlen("pci:"), obj);
		return;
	}
	n = strmap_get(h->index, key);
	name = obj ? kube_meta_string(obj, "name") : NULL;
	copy = name ? strdup(name) : NULL;

	if (n && n->name[kind] && (!copy || strcmp(n->name[kind], copy) != 0)) {
		reconciler_put(h->r, kind, n->name[kind], NULL);
		free(n->name[kind]);
		n->name[kind] = NULL;
	}
	if (!obj) {
		free(copy);
		return;
	}
	if (!copy) {
		cJSON_Delete(obj);
		return;
	}
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n || strmap_set(h->index, key, n) < 0) {
			free(n);
			free(copy);
			cJSON_Delete(obj);
			return;
		}
	}
	free(n->name[kind]);
	n->name[kind] = strdup(copy);
	reconciler_put(h->r, kind, copy, obj);
	free(copy);
}

static void forget_device(struct hotplug *h, const char *key)
{
	for (int k = 0; k < KIND_COUNT; k++)
		set_object(h, key, (enum agent_kind)k, NULL);
	strmap_remove(h->index, key);
}

/* Read the PCI device @address again and publish what it is now. */
static void refresh_pci(struct hotplug *h, const char *address)
{
	hostdev_pci_device *dev = NULL;
	char key[64];
	int r;

	snprintf(key, sizeof(key), "pci:%s", address);
	r = hostdev_pci_device_new(h->ctx, address, &dev);
	metrics_device_reads("event", 1);
	if (r == -ENODEV) {
		forget_device(h, key);
		return;
	}
	if (r < 0) {
		log_warning("hot-plug: cannot read %s: %s", address, hostdev_ctx_get_error(h->ctx));
		return;
	}
	set_object(h, key, KIND_PCI,
		   inventory_wants_pci(dev) ? inventory_pci_object(&h->ids, dev) : NULL);
	set_object(h, key, KIND_SRIOV,
		   inventory_wants_sriov(dev) ? inventory_sriov_object(&h->ids, dev) : NULL);
	hostdev_pci_device_unref(dev);
}

/* The devices whose objects name @dev: its PF and its IOMMU group peers. */
static void refresh_related(struct hotplug *h, hostdev_pci_device *dev)
{
	const char *self = hostdev_pci_device_get_address(dev);
	const char *pf = hostdev_pci_device_get_pf_address(dev);
	size_t n = hostdev_pci_device_get_iommu_group_member_count(dev);
	char **peers = calloc(n + 1, sizeof(*peers));

	if (pf)
		refresh_pci(h, pf);
	/* Copy first: refreshing reads new snapshots, @dev's strings stay valid but keep it
	 * simple and independent of that. */
	for (size_t i = 0; peers && i < n; i++)
		peers[i] = strdup(hostdev_pci_device_get_iommu_group_member(dev, i));
	for (size_t i = 0; peers && i < n; i++)
		if (peers[i] && strcmp(peers[i], self) != 0)
			refresh_pci(h, peers[i]);
	for (size_t i = 0; peers && i < n; i++)
		free(peers[i]);
	free(peers);
}

static void on_pci_event(struct hotplug *h, const hostdev_event *ev)
{
	hostdev_pci_device *dev = hostdev_event_get_pci_device(ev);
	const char *address = hostdev_event_get_name(ev);
	char key[64];

	snprintf(key, sizeof(key), "pci:%s", address);
	if (hostdev_event_get_action(ev) == HOSTDEV_EVENT_REMOVE)
		forget_device(h, key);
	else
		refresh_pci(h, address);
	if (dev && !hostdev_event_is_partial(ev))
		refresh_related(h, dev);
	if (h->pci_listener)
		h->pci_listener(h->pci_listener_data, address,
				hostdev_event_get_action(ev) == HOSTDEV_EVENT_REMOVE);
}

static void on_usb_event(struct hotplug *h, const hostdev_event *ev)
{
	hostdev_usb_device *dev = hostdev_event_get_usb_device(ev);
	char key[128];

	snprintf(key, sizeof(key), "usb:%s", hostdev_event_get_name(ev));
	if (hostdev_event_get_action(ev) == HOSTDEV_EVENT_REMOVE) {
		forget_device(h, key);
	} else {
		if (!dev || hostdev_usb_device_is_hub(dev) || hostdev_event_is_partial(ev))
			return;
		set_object(h, key, KIND_USB, inventory_usb_object(&h->ids, dev));
	}
	/* Interfaces ("1-5:1.0") come with their own events: only devices are passed on. */
	if (h->usb_listener && !strchr(hostdev_event_get_name(ev), ':'))
		h->usb_listener(h->usb_listener_data, hostdev_event_get_name(ev),
				hostdev_event_get_action(ev) == HOSTDEV_EVENT_REMOVE);
}

static void on_event(hostdev_monitor *mon, const hostdev_event *ev, void *userdata)
{
	struct hotplug *h = userdata;
	const char *subsystem = hostdev_event_get_subsystem(ev);

	metrics_hotplug(subsystem, hostdev_event_get_action_name(ev));
	log_info("hot-plug: %s %s %s", hostdev_event_get_action_name(ev), subsystem,
		 hostdev_event_get_name(ev));
	if (strcmp(subsystem, "pci") == 0)
		on_pci_event(h, ev);
	else
		on_usb_event(h, ev);
}

int hotplug_events_lost(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	/* A netlink socket whose receive buffer overflowed keeps ENOBUFS as its pending error until
	 * it is read: by SO_ERROR here, before the library's receive would take it. */
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ENOBUFS;
}

static void on_readable(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct hotplug *h = userdata;

	if (hotplug_events_lost(fd)) {
		metrics_error("uevents_lost");
		if (h->lost_listener)
			h->lost_listener(h->lost_listener_data);
	}
	if (hostdev_monitor_process(h->mon) < 0)
		log_warning("hot-plug monitor: %s", hostdev_ctx_get_error(h->ctx));
}

struct hotplug *hotplug_new(hostdev_ctx *ctx, struct loop *loop, struct reconciler *r,
			    const struct agent_ids *ids, enum uevent_source source, char *err,
			    size_t errlen)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	unsigned int flags = source == UEVENT_KERNEL ? HOSTDEV_MONITOR_SOURCE_KERNEL
			     : source == UEVENT_UDEV ? HOSTDEV_MONITOR_SOURCE_UDEV
						     : 0;
	int ret;

	if (!h || !(h->index = strmap_new(names_free))) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->ctx = ctx;
	h->r = r;
	h->ids = *ids;
	ret = hostdev_monitor_new(ctx, &h->mon);
	if (ret == 0) {
		hostdev_monitor_set_callback(h->mon, on_event, h);
		ret = hostdev_monitor_start(h->mon, flags);
	}
	if (ret < 0) {
		snprintf(err, errlen, "cannot watch hot-plug events: %s",
			 hostdev_ctx_get_error(ctx));
		hotplug_free(h);
		return NULL;
	}
	h->src = loop_add_fd(loop, hostdev_monitor_get_fd(h->mon), EPOLLIN, on_readable, h);
	if (!h->src) {
		snprintf(err, errlen, "cannot watch hot-plug events: %s", strerror(errno));
		hotplug_free(h);
		return NULL;
	}
	return h;
}

void hotplug_on_pci(struct hotplug *h, hotplug_pci_fn fn, void *userdata)
{
	if (!h)
		return;
	h->pci_listener = fn;
	h->pci_listener_data = userdata;
}

void hotplug_on_usb(struct hotplug *h, hotplug_usb_fn fn, void *userdata)
{
	h->usb_listener = fn;
	h->usb_listener_data = userdata;
}

void hotplug_on_lost(struct hotplug *h, hotplug_lost_fn fn, void *userdata)
{
	h->lost_listener = fn;
	h->lost_listener_data = userdata;
}

void hotplug_free(struct hotplug *h)
{
	if (!h)
		return;
	loop_source_remove(h->src);
	hostdev_monitor_unref(h->mon);
	strmap_free(h->index);
	free(h);
}

struct index_ctx {
	struct hotplug *h;
	enum agent_kind kind;
};

static void index_one(const char *name, const char *source, void *userdata)
{
	struct index_ctx *c = userdata;
	struct names *n;
	char key[128];

	if (c->kind == KIND_PCI)
		return; /* named after the address: set_pci_object() */
	snprintf(key, sizeof(key), "%s:%s", c->kind == KIND_USB ? "usb" : "pci", source);
	n = strmap_get(c->h->index, key);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n || strmap_set(c->h->index, key, n) < 0) {
			free(n);
			return;
		}
	}
	free(n->name[c->kind]);
	n->name[c->kind] = strdup(name);
}

void hotplug_index(struct hotplug *h)
{
	strmap_free(h->index);
	h->index = strmap_new(names_free);
	if (!h->index || !h->r)
		return;
	for (int k = 0; k < KIND_COUNT; k++) {
		struct index_ctx c = {h, (enum agent_kind)k};

		reconciler_foreach_desired(h->r, (enum agent_kind)k, index_one, &c);
	}
}
