/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fake USB devices for the tests, made with umockdev (libudev, libusb, lsusb and libhostdev all see
 * them when the test runs under umockdev-wrapper). Attributes follow the kernel's formats (hex ids
 * without 0x, decimal busnum/devnum, strings with a trailing newline, binary `descriptors`).
 */
#ifndef HOSTDEV_TEST_USB_TESTBED_H
#define HOSTDEV_TEST_USB_TESTBED_H

#include <umockdev.h>

#define TB_MAX_INTERFACES 4

struct tb_interface {
	unsigned int class_code, subclass, protocol;
	const char *driver; /* NULL: no driver bound */
};

struct tb_usb {
	const char *name; /* "1-1.4" or "usb1" */
	unsigned int busnum, devnum;
	unsigned int vendor_id, product_id, bcd_device, device_class;
	const char *speed;			     /* "480" */
	const char *manufacturer, *product, *serial; /* NULL: attribute absent */
	unsigned int maxchild;
	int n_interfaces;
	struct tb_interface interfaces[TB_MAX_INTERFACES];
};

/* A PCI xHCI controller at @address ("0000:00:14.0"). Returns its syspath (g_free). */
char *tb_add_controller(UMockdevTestbed *tb, const char *address);
/* A USB device (or root hub) below @parent (a syspath), with its interfaces. Returns its syspath.
 */
char *tb_add_usb(UMockdevTestbed *tb, const char *parent, const struct tb_usb *spec);
/* A root hub "usb<bus>" of @speed ("480", "5000") with @ports ports below @controller. */
char *tb_add_root_hub(UMockdevTestbed *tb, const char *controller, unsigned int bus,
		      const char *speed, unsigned int ports);

#endif
