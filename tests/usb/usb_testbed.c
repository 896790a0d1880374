/* SPDX-License-Identifier: Apache-2.0 */
/* Fake USB devices on a umockdev testbed (usb_testbed.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usb_testbed.h"

char *tb_add_controller(UMockdevTestbed *tb, const char *address)
{
	return umockdev_testbed_add_device(tb, "pci", address, NULL, "vendor", "0x1b36\n", "device",
					   "0x000d\n", "class", "0x0c0330\n", NULL, "PCI_SLOT_NAME",
					   address, "PCI_ID", "1B36:000D", "PCI_CLASS", "C0330",
					   "DRIVER", "xhci_hcd", NULL);
}

/* Device + configuration + interface descriptors, as the kernel's `descriptors` attribute has them.
 */
static size_t build_descriptors(const struct tb_usb *s, unsigned char *d)
{
	size_t n = 0, total = 9 + 9 * (size_t)s->n_interfaces;
	unsigned int bcd_usb =
	    strcmp(s->speed, "480") > 0 && strlen(s->speed) >= 4 ? 0x0300 : 0x0200;

	if (strcmp(s->speed, "12") == 0 || strcmp(s->speed, "1.5") == 0)
		bcd_usb = 0x0110;
	d[n++] = 18;
	d[n++] = 1;
	d[n++] = bcd_usb & 0xff;
	d[n++] = bcd_usb >> 8;
	d[n++] = (unsigned char)s->device_class;
	d[n++] = 0;
	d[n++] = s->device_class == 9 ? 1 : 0;
	d[n++] = 64;
	d[n++] = s->vendor_id & 0xff;
	d[n++] = s->vendor_id >> 8;
	d[n++] = s->product_id & 0xff;
	d[n++] = s->product_id >> 8;
	d[n++] = s->bcd_device & 0xff;
	d[n++] = s->bcd_device >> 8;
	d[n++] = s->manufacturer ? 1 : 0;
	d[n++] = s->product ? 2 : 0;
	d[n++] = s->serial ? 3 : 0;
	d[n++] = 1;
	d[n++] = 9;
	d[n++] = 2;
	d[n++] = total & 0xff;
	d[n++] = total >> 8;
	d[n++] = (unsigned char)s->n_interfaces;
	d[n++] = 1;
	d[n++] = 0;
	d[n++] = 0xa0;
	d[n++] = 50;
	for (int i = 0; i < s->n_interfaces; i++) {
		d[n++] = 9;
		d[n++] = 4;
		d[n++] = (unsigned char)i;
		d[n++] = 0;
		d[n++] = 0;
		d[n++] = (unsigned char)s->interfaces[i].class_code;
		d[n++] = (unsigned char)s->interfaces[i].subclass;
		d[n++] = (unsigned char)s->interfaces[i].protocol;
		d[n++] = 0;
	}
	return n;
}

static char *with_newline(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len + 2);

	memcpy(out, s, len);
	out[len] = '\n';
	out[len + 1] = '\0';
	return out;
}

char *tb_add_usb(UMockdevTestbed *tb, const char *parent, const struct tb_usb *s)
{
	char vid[8], pid[8], bcd[8], cls[8], bus[8], dev[8], product_prop[32], devname[32],
	    maxchild[8], nintf[8], devpath_attr[64], busprop[8], devprop[8], type[16];
	char *manufacturer = s->manufacturer ? with_newline(s->manufacturer) : NULL;
	char *product = s->product ? with_newline(s->product) : NULL;
	char *serial = s->serial ? with_newline(s->serial) : NULL;
	const char *devpath = strchr(s->name, '-') ? strchr(s->name, '-') + 1 : "0";
	const char *attrs[64], *props[32];
	unsigned char desc[18 + 9 + 9 * TB_MAX_INTERFACES];
	char *syspath, version[16], intf_prefix[64];
	int a = 0, p = 0;

	snprintf(vid, sizeof(vid), "%04x", s->vendor_id);
	snprintf(pid, sizeof(pid), "%04x", s->product_id);
	snprintf(bcd, sizeof(bcd), "%04x", s->bcd_device);
	snprintf(cls, sizeof(cls), "%02x", s->device_class);
	snprintf(bus, sizeof(bus), "%u", s->busnum);
	snprintf(dev, sizeof(dev), "%u", s->devnum);
	snprintf(busprop, sizeof(busprop), "%03u", s->busnum);
	snprintf(devprop, sizeof(devprop), "%03u", s->devnum);
	snprintf(maxchild, sizeof(maxchild), "%u", s->maxchild);
	snprintf(nintf, sizeof(nintf), "%2d", s->n_interfaces);
	snprintf(devpath_attr, sizeof(devpath_attr), "%s", devpath);
	snprintf(product_prop, sizeof(product_prop), "%x/%x/%x", s->vendor_id, s->product_id,
		 s->bcd_device);
	snprintf(devname, sizeof(devname), "bus/usb/%03u/%03u", s->busnum, s->devnum);
	snprintf(type, sizeof(type), "%u/0/%u", s->device_class, s->device_class == 9 ? 1 : 0);
	snprintf(version, sizeof(version), " %s",
		 strcmp(s->speed, "12") == 0 || strcmp(s->speed, "1.5") == 0 ? "1.10"
		 : strlen(s->speed) >= 4				     ? "3.00"
									     : "2.00");
#define ATTR(k, v) (attrs[a++] = (k), attrs[a++] = (v))
	ATTR("idVendor", vid);
	ATTR("idProduct", pid);
	ATTR("bcdDevice", bcd);
	ATTR("bDeviceClass", cls);
	ATTR("bDeviceSubClass", "00");
	ATTR("bDeviceProtocol", s->device_class == 9 ? "01" : "00");
	ATTR("bMaxPacketSize0", "64");
	ATTR("bNumConfigurations", "1");
	ATTR("bConfigurationValue", "1");
	ATTR("bNumInterfaces", nintf);
	ATTR("bmAttributes", "a0");
	ATTR("busnum", bus);
	ATTR("devnum", dev);
	ATTR("devpath", devpath_attr);
	ATTR("speed", s->speed);
	ATTR("version", version);
	ATTR("maxchild", maxchild);
	ATTR("rx_lanes", "1");
	ATTR("tx_lanes", "1");
	ATTR("configuration", "");
	if (manufacturer)
		ATTR("manufacturer", manufacturer);
	if (product)
		ATTR("product", product);
	if (serial)
		ATTR("serial", serial);
	attrs[a] = NULL;
#define PROP(k, v) (props[p++] = (k), props[p++] = (v))
	PROP("DEVTYPE", "usb_device");
	PROP("BUSNUM", busprop);
	PROP("DEVNUM", devprop);
	PROP("DEVNAME", devname);
	PROP("PRODUCT", product_prop);
	PROP("TYPE", type);
	PROP("DRIVER", "usb");
	props[p] = NULL;
	syspath = umockdev_testbed_add_devicev(tb, "usb", s->name, parent, (char **)attrs,
					       (char **)props);
	umockdev_testbed_set_attribute_binary(tb, syspath, "descriptors", desc,
					      (int)build_descriptors(s, desc));
	umockdev_testbed_set_attribute_link(tb, syspath, "driver",
					    "../../../../bus/usb/drivers/usb");
	/* Interfaces of root hub usbN are named "N-0:1.0". */
	if (strncmp(s->name, "usb", 3) == 0)
		snprintf(intf_prefix, sizeof(intf_prefix), "%u-0", s->busnum);
	else
		snprintf(intf_prefix, sizeof(intf_prefix), "%s", s->name);
	for (int i = 0; i < s->n_interfaces; i++) {
		char iname[128], icls[16], isub[16], iproto[16], inum[16], *ipath;
		const struct tb_interface *it = &s->interfaces[i];

		snprintf(iname, sizeof(iname), "%s:1.%d", intf_prefix, i);
		snprintf(icls, sizeof(icls), "%02x", it->class_code);
		snprintf(isub, sizeof(isub), "%02x", it->subclass);
		snprintf(iproto, sizeof(iproto), "%02x", it->protocol);
		snprintf(inum, sizeof(inum), "%02x", i);
		ipath = umockdev_testbed_add_device(
		    tb, "usb", iname, syspath, "bInterfaceNumber", inum, "bInterfaceClass", icls,
		    "bInterfaceSubClass", isub, "bInterfaceProtocol", iproto, "bAlternateSetting",
		    " 0", "bNumEndpoints", "01", NULL, "DEVTYPE", "usb_interface", NULL);
		if (it->driver) {
			char target[256];

			snprintf(target, sizeof(target), "../../../../../bus/usb/drivers/%s",
				 it->driver);
			umockdev_testbed_set_attribute_link(tb, ipath, "driver", target);
		}
		g_free(ipath);
	}
	free(manufacturer);
	free(product);
	free(serial);
	return syspath;
}

char *tb_add_root_hub(UMockdevTestbed *tb, const char *controller, unsigned int bus,
		      const char *speed, unsigned int ports)
{
	char name[16];
	struct tb_usb hub = {
	    .name = name,
	    .busnum = bus,
	    .devnum = 1,
	    .vendor_id = 0x1d6b,
	    .product_id = strlen(speed) >= 4 ? 0x0003 : 0x0002,
	    .bcd_device = 0x0601,
	    .device_class = 9,
	    .speed = speed,
	    .manufacturer = "Linux 6.1.0 xhci-hcd",
	    .product = "xHCI Host Controller",
	    .serial = "0000:00:14.0",
	    .maxchild = ports,
	    .n_interfaces = 1,
	    .interfaces = {{9, 0, 0, "hub"}},
	};

	snprintf(name, sizeof(name), "usb%u", bus);
	return tb_add_usb(tb, controller, &hub);
}
