/* SPDX-License-Identifier: Apache-2.0 */
/* The USB device object, shared by the files that fill and name it (usb_*.c, monitor.c). */
#ifndef HOSTDEV_USB_DEVICE_H
#define HOSTDEV_USB_DEVICE_H

#include <stdbool.h>

#include "core/core.h"

/* Parts of a device made on first use (see usb.h). */
enum usb_part {
	USB_PART_NAMES = 1u << 0,
	USB_PART_NAMING = 1u << 1,
};

struct usb_interface {
	char *name; /* "1-1.4:1.0" */
	int number, class_code, subclass, protocol;
	char *driver;
};

struct hostdev_usb_device {
	int refcount;
	hostdev_ctx *ctx;
	unsigned int loaded; /* enum usb_part bits already made */
	bool partial;	     /* made from uevent properties, not from sysfs */

	/* Read at creation. */
	char *name;	 /* "1-1.4", "usb1" */
	char *port_path; /* "1-1.4", "1-0" */
	unsigned int vendor_id, product_id, bcd_device, device_class;
	unsigned int busnum, devnum;
	char *manufacturer, *product, *serial;
	char *speed;
	char *devnode;
	char *controller;	  /* sysfs name of the host controller ("0000:00:14.0") */
	char *controller_address; /* the same when it is a PCI address, else NULL */
	char *driver;
	unsigned int root_speed_class; /* USB generation of the root hub: 1, 2, 3 (0 unknown) */
	struct usb_interface *interfaces;
	size_t interface_count;

	/* USB_PART_NAMES */
	char *vendor_name, *product_name;
	/* USB_PART_NAMING */
	char *object_name, *resource_name, *port_id, *port_resource_name, *serial_id,
	    *serial_resource_name;
};

/* usb_device.c */
/* Read device @name below @devices_dirfd (the open <sysfs>/bus/usb/devices); -ENODEV when absent.
 */
int usb_device_new_at(hostdev_ctx *ctx, int devices_dirfd, const char *name,
		      hostdev_usb_device **out);
/*
 * A partial snapshot from the properties of a uevent (BUSNUM, DEVNUM, PRODUCT=v/p/bcd, TYPE), for
 * a device already gone. The controller comes from @devpath (DEVPATH, may be NULL) and the root
 * hub's generation from sysfs, so that the port identity is the one the device had.
 */
int usb_device_new_partial(hostdev_ctx *ctx, const char *name, const char *devpath,
			   unsigned int busnum, unsigned int devnum, const char *product,
			   const char *type, hostdev_usb_device **out);
/* True for kernel names of USB devices ("usb1", "1-1.4"), false for interfaces and others. */
bool usb_is_device_name(const char *name);
/* The speed class (1: low/full, 2: high, 3: super or faster) of a sysfs speed string; 0 unknown. */
unsigned int usb_speed_class(const char *speed);

/* usb_enum.c: "[vendor]:[product]" in hex, -1 for any part left empty or "*". -EINVAL if bad. */
int usb_id_spec_parse(const char *spec, int *vendor, int *product);

/* usb_names.c: usb.ids, a cache of the context (core.h, ctx_cache_get()). */
const char *usb_ids_vendor(hostdev_ctx *ctx, unsigned int vendor_id);
const char *usb_ids_product(hostdev_ctx *ctx, unsigned int vendor_id, unsigned int product_id);
const char *usb_ids_class(hostdev_ctx *ctx, unsigned int class_code);
/* Fill USB_PART_NAMES. */
void usb_device_load_names(hostdev_usb_device *dev);

/* usb_naming.c: fill USB_PART_NAMING. */
void usb_device_load_naming(hostdev_usb_device *dev);

#endif /* HOSTDEV_USB_DEVICE_H */
