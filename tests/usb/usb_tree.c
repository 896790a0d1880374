/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The standard fake USB tree:
 *   0000:00:14.0 xHCI
 *     usb1 (480M root hub)  1-1 keyboard 0627:0001 (12M, HID/usbhid, serial "42")
 *                           1-2 hub 05e3:0608 (480M)
 *                               1-2.1, 1-2.2  Yubikeys 1050:0407, serials 11111111 / 22222222
 *                               1-2.3, 1-2.4  FTDI 0403:6001, no serial (identical twins)
 *                           1-3 1234:5678 with a non-UTF-8 manufacturer, a 5000-byte product and
 *                               a 300-byte serial full of characters Kubernetes does not allow
 *     usb2 (5000M root hub) 2-1 Kingston 0951:1666 (5000M, mass storage), serial HOSTDEV0001
 */
#include <stdlib.h>
#include <string.h>

#include "usb_tree.h"

const char tree_bad_manufacturer[] = "Bad \xff\xfe Vendor \xc3";
char tree_long_product[5001];
static char long_serial[301];

static struct {
	char *name, *syspath;
} made[16];
static int n_made;

static char *add(UMockdevTestbed *tb, const char *parent, const struct tb_usb *s)
{
	char *path = tb_add_usb(tb, parent, s);

	made[n_made].name = strdup(s->name);
	made[n_made].syspath = strdup(path);
	n_made++;
	return path;
}

int usb_tree_build(UMockdevTestbed *tb)
{
	char *ctrl, *usb1, *usb2, *hub;
	struct tb_usb kbd = {"1-1",  1,
			     2,	     0x0627,
			     0x0001, 0x0000,
			     0,	     "12",
			     "QEMU", "QEMU USB Keyboard",
			     "42",   0,
			     1,	     {{3, 1, 1, "usbhid"}}};
	struct tb_usb hubspec = {"1-2",	 1,
				 3,	 0x05e3,
				 0x0608, 0x6090,
				 9,	 "480",
				 NULL,	 "USB2.0 Hub",
				 NULL,	 4,
				 1,	 {{9, 0, 0, "hub"}}};
	struct tb_usb yubi = {"1-2.1",	  1,
			      4,	  0x1050,
			      0x0407,	  0x0543,
			      0,	  "12",
			      "Yubico",	  "YubiKey OTP+FIDO+CCID",
			      "11111111", 0,
			      2,	  {{3, 1, 1, "usbhid"}, {0x0b, 0, 0, NULL}}};
	struct tb_usb ftdi = {"1-2.3", 1,
			      6,       0x0403,
			      0x6001,  0x0600,
			      0,       "12",
			      "FTDI",  "FT232R USB UART",
			      NULL,    0,
			      1,       {{0xff, 0xff, 0xff, "ftdi_sio"}}};
	struct tb_usb odd = {"1-3",
			     1,
			     8,
			     0x1234,
			     0x5678,
			     0x0100,
			     0xff,
			     "480",
			     tree_bad_manufacturer,
			     tree_long_product,
			     long_serial,
			     0,
			     1,
			     {{0xff, 0, 0, NULL}}};
	struct tb_usb stick = {"2-1",
			       2,
			       2,
			       0x0951,
			       0x1666,
			       0x0110,
			       0,
			       "5000",
			       "Kingston",
			       "DataTraveler 3.0",
			       "HOSTDEV0001",
			       0,
			       1,
			       {{8, 6, 0x50, "usb-storage"}}};

	memset(tree_long_product, 'P', sizeof(tree_long_product) - 1);
	for (size_t i = 0; i < sizeof(long_serial) - 1; i++)
		long_serial[i] = "AZ/:. +\xe9"[i % 8];
	ctrl = tb_add_controller(tb, "0000:00:14.0");
	usb1 = tb_add_root_hub(tb, ctrl, 1, "480", 8);
	usb2 = tb_add_root_hub(tb, ctrl, 2, "5000", 4);
	made[n_made].name = strdup("usb1");
	made[n_made++].syspath = strdup(usb1);
	made[n_made].name = strdup("usb2");
	made[n_made++].syspath = strdup(usb2);
	g_free(add(tb, usb1, &kbd));
	hub = add(tb, usb1, &hubspec);
	g_free(add(tb, hub, &yubi));
	yubi.name = "1-2.2";
	yubi.devnum = 5;
	yubi.serial = "22222222";
	g_free(add(tb, hub, &yubi));
	g_free(add(tb, hub, &ftdi));
	ftdi.name = "1-2.4";
	ftdi.devnum = 7;
	g_free(add(tb, hub, &ftdi));
	g_free(add(tb, usb1, &odd));
	g_free(add(tb, usb2, &stick));
	g_free(hub);
	g_free(usb1);
	g_free(usb2);
	g_free(ctrl);
	return 0;
}

const char *tree_syspath(const char *name)
{
	for (int i = 0; i < n_made; i++)
		if (strcmp(made[i].name, name) == 0)
			return made[i].syspath;
	return NULL;
}

void usb_tree_free(void)
{
	for (int i = 0; i < n_made; i++) {
		free(made[i].name);
		free(made[i].syspath);
	}
	n_made = 0;
}
