/* SPDX-License-Identifier: Apache-2.0 */
/* The standard fake USB tree of the tests (usb_tree.c): see the table in usb_tree.c. */
#ifndef HOSTDEV_TEST_USB_TREE_H
#define HOSTDEV_TEST_USB_TREE_H

#include "usb_testbed.h"

/* A string descriptor that is not UTF-8 and one that is very long (usb_tree.c). */
extern const char tree_bad_manufacturer[];
extern char tree_long_product[];

/* Build the tree; returns 0. Syspaths of the devices can be found with tree_syspath(). */
int usb_tree_build(UMockdevTestbed *tb);
/* Syspath of device @name ("1-2.2") built by usb_tree_build(); NULL if unknown. */
const char *tree_syspath(const char *name);
void usb_tree_free(void);

#endif
