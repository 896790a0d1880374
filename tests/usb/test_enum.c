/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USB enumeration on umockdev trees (run under umockdev-wrapper): order, every field, hubs, twins
 * with and without serials, hostile strings, filters, a device removed during the scan, and a
 * recorded sysfs fixture read through a fake root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <libusb.h>

#include "hostdev.h"
#include "usb_tree.h"

struct fixture {
	UMockdevTestbed *tb;
	hostdev_ctx *ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->tb = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		print_error("not under umockdev-wrapper: run the test through it\n");
		return -1;
	}
	usb_tree_build(f->tb);
	if (hostdev_ctx_new(&f->ctx) < 0 ||
	    hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_USB_IDS, HOSTDEV_TEST_USB_IDS) < 0 ||
	    hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_DEV, "/fake/dev") < 0 ||
	    hostdev_ctx_set_node_name(f->ctx, "node1") < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hostdev_ctx_unref(f->ctx);
	g_object_unref(f->tb);
	usb_tree_free();
	free(f);
	return 0;
}

/* Names of every device the enumerator returns, comma-separated; checks the 1/0 protocol. */
static void collect(hostdev_usb_enum *e, char *buf, size_t size)
{
	hostdev_usb_device *dev;
	int r, n = 0;

	buf[0] = '\0';
	while ((r = hostdev_usb_enum_next(e, &dev)) == 1) {
		assert_true(n++ < 32);
		if (buf[0])
			strncat(buf, ",", size - strlen(buf) - 1);
		strncat(buf, hostdev_usb_device_get_name(dev), size - strlen(buf) - 1);
		hostdev_usb_device_unref(dev);
	}
	assert_int_equal(r, 0);
	assert_int_equal(hostdev_usb_enum_next(e, &dev), 0); /* the end is sticky */
}

static void list(struct fixture *f, unsigned int flags, const char *id, const char *serial,
		 const char *port, char *buf, size_t size)
{
	hostdev_usb_enum *e;

	assert_int_equal(hostdev_usb_enum_new(f->ctx, flags, &e), 0);
	if (id)
		assert_int_equal(hostdev_usb_enum_add_id_filter(e, id), 0);
	if (serial)
		assert_int_equal(hostdev_usb_enum_add_serial_filter(e, serial), 0);
	if (port)
		assert_int_equal(hostdev_usb_enum_add_port_filter(e, port), 0);
	collect(e, buf, size);
	hostdev_usb_enum_unref(e);
}

static hostdev_usb_device *get(struct fixture *f, const char *name)
{
	hostdev_usb_device *dev = NULL;

	assert_int_equal(hostdev_usb_device_new(f->ctx, name, &dev), 0);
	return dev;
}

static void test_order_and_hubs(void **state)
{
	struct fixture *f = *state;
	char buf[512];

	list(f, 0, NULL, NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "1-1,1-2.1,1-2.2,1-2.3,1-2.4,1-3,2-1");
	list(f, HOSTDEV_USB_ENUM_HUBS, NULL, NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "usb1,1-1,1-2,1-2.1,1-2.2,1-2.3,1-2.4,1-3,usb2,2-1");
}

static void test_fields(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev = get(f, "1-1");

	assert_string_equal(hostdev_usb_device_get_port_path(dev), "1-1");
	assert_int_equal(hostdev_usb_device_get_vendor_id(dev), 0x0627);
	assert_int_equal(hostdev_usb_device_get_product_id(dev), 0x0001);
	assert_int_equal(hostdev_usb_device_get_bcd_device(dev), 0);
	assert_int_equal(hostdev_usb_device_get_device_class(dev), 0);
	/* Class 0: the first interface's class describes the device. */
	assert_int_equal(hostdev_usb_device_get_class(dev), 3);
	assert_string_equal(hostdev_usb_device_get_class_name(dev), "Human Interface Device");
	assert_string_equal(hostdev_usb_device_get_vendor_name(dev), "Adomax Technology Co., Ltd");
	assert_string_equal(hostdev_usb_device_get_product_name(dev), "QEMU Tablet");
	assert_string_equal(hostdev_usb_device_get_manufacturer(dev), "QEMU");
	assert_string_equal(hostdev_usb_device_get_product(dev), "QEMU USB Keyboard");
	assert_string_equal(hostdev_usb_device_get_serial(dev), "42");
	assert_string_equal(hostdev_usb_device_get_speed(dev), "12");
	assert_int_equal(hostdev_usb_device_get_busnum(dev), 1);
	assert_int_equal(hostdev_usb_device_get_devnum(dev), 2);
	assert_string_equal(hostdev_usb_device_get_devnode(dev), "/fake/dev/bus/usb/001/002");
	assert_string_equal(hostdev_usb_device_get_controller_address(dev), "0000:00:14.0");
	assert_string_equal(hostdev_usb_device_get_driver(dev), "usb");
	assert_false(hostdev_usb_device_is_hub(dev));
	assert_false(hostdev_usb_device_is_root_hub(dev));
	assert_int_equal(hostdev_usb_device_get_interface_count(dev), 1);
	assert_string_equal(hostdev_usb_device_get_interface_name(dev, 0), "1-1:1.0");
	assert_int_equal(hostdev_usb_device_get_interface_number(dev, 0), 0);
	assert_int_equal(hostdev_usb_device_get_interface_class(dev, 0), 3);
	assert_int_equal(hostdev_usb_device_get_interface_subclass(dev, 0), 1);
	assert_int_equal(hostdev_usb_device_get_interface_protocol(dev, 0), 1);
	assert_string_equal(hostdev_usb_device_get_interface_driver(dev, 0), "usbhid");
	assert_null(hostdev_usb_device_get_interface_name(dev, 1));
	assert_int_equal(hostdev_usb_device_get_interface_class(dev, 1), -1);
	/* Harvester's name embeds bus and devnum; the port identity does not. */
	assert_string_equal(hostdev_usb_device_get_object_name(dev), "node1-0627-0001-001002");
	assert_string_equal(hostdev_usb_device_get_resource_name(dev),
			    "kubevirt.io/node1-0627-0001-001002");
	assert_string_equal(hostdev_usb_device_get_port_id(dev), "node1-000000140-usb2-1");
	assert_string_equal(hostdev_usb_device_get_port_resource_name(dev),
			    "kubevirt.io/node1-000000140-usb2-1");
	assert_string_equal(hostdev_usb_device_get_serial_id(dev), "usb-0627-0001-42");
	assert_string_equal(hostdev_usb_device_get_serial_resource_name(dev),
			    "kubevirt.io/usb-0627-0001-42");
	assert_int_equal(
	    hostdev_naming_check_resource_name(hostdev_usb_device_get_port_resource_name(dev)), 0);
	hostdev_usb_device_unref(dev);

	dev = get(f, "2-1");
	assert_string_equal(hostdev_usb_device_get_speed(dev), "5000");
	assert_int_equal(hostdev_usb_device_get_class(dev), 8);
	assert_string_equal(hostdev_usb_device_get_class_name(dev), "Mass Storage");
	assert_string_equal(hostdev_usb_device_get_devnode(dev), "/fake/dev/bus/usb/002/002");
	/* Port 1 of the SuperSpeed root hub is another port than port 1 of the USB 2 one. */
	assert_string_equal(hostdev_usb_device_get_port_id(dev), "node1-000000140-usb3-1");
	assert_string_equal(hostdev_usb_device_get_interface_driver(dev, 0), "usb-storage");
	hostdev_usb_device_unref(dev);
}

static void test_root_hub(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev = get(f, "usb1");

	assert_true(hostdev_usb_device_is_root_hub(dev));
	assert_true(hostdev_usb_device_is_hub(dev));
	assert_string_equal(hostdev_usb_device_get_port_path(dev), "1-0");
	assert_string_equal(hostdev_usb_device_get_class_name(dev), "Hub");
	assert_string_equal(hostdev_usb_device_get_product_name(dev), "2.0 root hub");
	assert_string_equal(hostdev_usb_device_get_interface_name(dev, 0), "1-0:1.0");
	assert_string_equal(hostdev_usb_device_get_interface_driver(dev, 0), "hub");
	assert_string_equal(hostdev_usb_device_get_controller_address(dev), "0000:00:14.0");
	assert_string_equal(hostdev_usb_device_get_port_id(dev), "node1-000000140-usb2-0");
	hostdev_usb_device_unref(dev);
	dev = get(f, "1-2");
	assert_true(hostdev_usb_device_is_hub(dev));
	assert_false(hostdev_usb_device_is_root_hub(dev));
	assert_null(hostdev_usb_device_get_manufacturer(dev));
	assert_null(hostdev_usb_device_get_serial(dev));
	assert_null(hostdev_usb_device_get_serial_id(dev));
	hostdev_usb_device_unref(dev);
}

static void test_twins(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *a = get(f, "1-2.1"), *b = get(f, "1-2.2");
	hostdev_usb_device *c = get(f, "1-2.3"), *d = get(f, "1-2.4");
	char buf[256];

	/* Same ids, told apart by serial and by port. */
	assert_string_equal(hostdev_usb_device_get_serial_id(a), "usb-1050-0407-11111111");
	assert_string_equal(hostdev_usb_device_get_serial_id(b), "usb-1050-0407-22222222");
	assert_string_equal(hostdev_usb_device_get_port_id(a), "node1-000000140-usb2-2.1");
	assert_string_equal(hostdev_usb_device_get_port_id(b), "node1-000000140-usb2-2.2");
	/* Without a serial, only the port (or Harvester's bus/devnum name) tells them apart. */
	assert_null(hostdev_usb_device_get_serial(c));
	assert_null(hostdev_usb_device_get_serial_id(c));
	assert_null(hostdev_usb_device_get_serial_resource_name(d));
	assert_string_not_equal(hostdev_usb_device_get_port_id(c),
				hostdev_usb_device_get_port_id(d));
	assert_string_not_equal(hostdev_usb_device_get_object_name(c),
				hostdev_usb_device_get_object_name(d));
	/* Interfaces: one with a driver, one without. */
	assert_int_equal(hostdev_usb_device_get_interface_count(a), 2);
	assert_null(hostdev_usb_device_get_interface_driver(a, 1));
	assert_int_equal(hostdev_usb_device_get_interface_class(a, 1), 0x0b);

	list(f, 0, "1050:0407", NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "1-2.1,1-2.2");
	list(f, 0, NULL, "22222222", NULL, buf, sizeof(buf));
	assert_string_equal(buf, "1-2.2");
	list(f, 0, "0403:", NULL, "1-2.4", buf, sizeof(buf));
	assert_string_equal(buf, "1-2.4");
	list(f, 0, NULL, NULL, "1-2.*", buf, sizeof(buf));
	assert_string_equal(buf, "1-2.1,1-2.2,1-2.3,1-2.4");
	list(f, HOSTDEV_USB_ENUM_HUBS, NULL, NULL, "1-0", buf, sizeof(buf));
	assert_string_equal(buf, "usb1");
	list(f, 0, ":6001", NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "1-2.3,1-2.4");
	list(f, 0, "*:*", "nope", NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	hostdev_usb_device_unref(a);
	hostdev_usb_device_unref(b);
	hostdev_usb_device_unref(c);
	hostdev_usb_device_unref(d);
}

static bool valid_device_id(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
			    id[i]))
			return false;
	return strchr("-_.", id[0]) == NULL && strchr("-_.", id[len - 1]) == NULL;
}

static void test_hostile_strings(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev = get(f, "1-3");
	const char *serial_id, *serial_resource;
	char saved[64];
	char *json = NULL, *again = NULL;
	cJSON *doc, *item;

	/* The bytes are kept as they are in the object... */
	assert_string_equal(hostdev_usb_device_get_manufacturer(dev), tree_bad_manufacturer);
	assert_int_equal(strlen(hostdev_usb_device_get_product(dev)), 5000);
	assert_int_equal(strlen(hostdev_usb_device_get_serial(dev)), 300);
	/* ...turned into valid, bounded Kubernetes names... */
	serial_id = hostdev_usb_device_get_serial_id(dev);
	assert_non_null(serial_id);
	assert_true(valid_device_id(serial_id));
	assert_true(strncmp(serial_id, "usb-1234-5678-AZ", 16) == 0);
	serial_resource = hostdev_usb_device_get_serial_resource_name(dev);
	assert_int_equal(hostdev_naming_check_resource_name(serial_resource), 0);
	/* ...and escaped in JSON, which stays parseable UTF-8. */
	assert_int_equal(hostdev_usb_device_to_json(dev, 0, &json), 0);
	doc = cJSON_Parse(json);
	assert_non_null(doc);
	item = cJSON_GetObjectItem(doc, "manufacturer");
	assert_string_equal(cJSON_GetStringValue(item),
			    "Bad \xef\xbf\xbd\xef\xbf\xbd Vendor \xef\xbf\xbd");
	assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "product"))), 5000);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				cJSON_GetObjectItem(doc, "names"), "serial_id")),
			    serial_id);
	cJSON_Delete(doc);
	/* Deterministic: a new snapshot names the device the same way. */
	snprintf(saved, sizeof(saved), "%s", serial_id);
	hostdev_usb_device_unref(dev);
	dev = get(f, "1-3");
	assert_string_equal(hostdev_usb_device_get_serial_id(dev), saved);
	assert_int_equal(hostdev_usb_device_to_json(dev, HOSTDEV_JSON_PRETTY, &again), 0);
	assert_non_null(strstr(again, "\n"));
	assert_int_equal(hostdev_usb_device_to_json(dev, 0x80, &again), -EINVAL);
	hostdev_free(json);
	hostdev_free(again);
	hostdev_usb_device_unref(dev);
}

static void test_json_fields(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev = get(f, "1-2.1");
	char *json = NULL;
	cJSON *doc, *names, *intf;

	assert_int_equal(hostdev_usb_device_to_json(dev, 0, &json), 0);
	doc = cJSON_Parse(json);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "name")), "1-2.1");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "vendor_id")), "1050");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "bcd_device")), "0543");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "class")), "03");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "device_class")), "00");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "busnum")), 1);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "devnum")), 4);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "speed_mbps")), 12);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "is_hub")));
	intf = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "interfaces"), 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(intf, "class")), "0b");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(intf, "driver")));
	names = cJSON_GetObjectItem(doc, "names");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(names, "kubevirt_env")),
			    "USB_RESOURCE_KUBEVIRT_IO_NODE1-1050-0407-001004");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(names, "serial_id")),
			    "usb-1050-0407-11111111");
	cJSON_Delete(doc);
	hostdev_free(json);
	hostdev_usb_device_unref(dev);
}

static void test_removed_during_enumeration(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_enum *e;
	hostdev_usb_device *dev;
	char buf[256] = "";

	assert_int_equal(hostdev_usb_enum_new(f->ctx, 0, &e), 0);
	assert_int_equal(hostdev_usb_enum_next(e, &dev), 1);
	assert_string_equal(hostdev_usb_device_get_name(dev), "1-1");
	hostdev_usb_device_unref(dev);
	/* Unplugged after the list was read: skipped, not an error. */
	umockdev_testbed_remove_device(f->tb, tree_syspath("1-2.2"));
	assert_int_equal(hostdev_usb_enum_add_id_filter(e, "1050:"), -EBUSY);
	collect(e, buf, sizeof(buf));
	assert_string_equal(buf, "1-2.1,1-2.3,1-2.4,1-3,2-1");
	hostdev_usb_enum_unref(e);
	assert_int_equal(hostdev_usb_device_new(f->ctx, "1-2.2", &dev), -ENODEV);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev = NULL;
	hostdev_usb_enum *e;

	assert_int_equal(hostdev_usb_device_new(f->ctx, "1-1:1.0", &dev), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "1-1:1.0"));
	assert_int_equal(hostdev_usb_device_new(f->ctx, "9-9", &dev), -ENODEV);
	assert_int_equal(hostdev_usb_device_new(f->ctx, "", &dev), -EINVAL);
	assert_int_equal(hostdev_usb_device_new(f->ctx, "1-", &dev), -EINVAL);
	assert_int_equal(hostdev_usb_device_new(f->ctx, "1-1..2", &dev), -EINVAL);
	assert_int_equal(hostdev_usb_device_new(NULL, "1-1", &dev), -EINVAL);
	assert_null(dev);
	assert_int_equal(hostdev_usb_enum_new(f->ctx, 0x10, &e), -EINVAL);
	assert_int_equal(hostdev_usb_enum_new(f->ctx, 0, &e), 0);
	assert_int_equal(hostdev_usb_enum_add_id_filter(e, "12345:1"), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_id_filter(e, "zz:1"), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_id_filter(e, "0951"), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_id_filter(e, "1:2:3"), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_serial_filter(e, ""), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_port_filter(e, "usb1"), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_port_filter(e, "1-1:1.0"), -EINVAL);
	assert_int_equal(hostdev_usb_enum_add_port_filter(e, NULL), -EINVAL);
	assert_int_equal(hostdev_usb_enum_next(e, NULL), -EINVAL);
	hostdev_usb_enum_unref(e);
	assert_null(hostdev_usb_enum_unref(NULL));
	assert_null(hostdev_usb_device_unref(NULL));
	assert_null(hostdev_usb_device_get_name(NULL));
	assert_int_equal(hostdev_usb_device_get_interface_count(NULL), 0);
}

/* Without usb.ids the built-in class table still names classes; vendor names come from hwdb. */
static void test_no_usb_ids(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev;

	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_USB_IDS, "/nonexistent/usb.ids"),
			 0);
	dev = get(f, "2-1");
	assert_string_equal(hostdev_usb_device_get_class_name(dev), "Mass Storage");
	hostdev_usb_device_unref(dev);
}

/* A sysfs tree recorded from the QEMU guest, read through a fake root (not through libudev). */
static void test_recorded_fixture(void **state)
{
	struct fixture *f = *state;
	hostdev_usb_device *dev;
	char buf[256];

	assert_int_equal(hostdev_ctx_set_root(f->ctx, HOSTDEV_TEST_FIXTURE_ROOT), 0);
	list(f, HOSTDEV_USB_ENUM_HUBS, NULL, NULL, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "usb1,1-1,1-2"));
	dev = get(f, "1-1");
	assert_int_equal(hostdev_usb_device_get_vendor_id(dev), 0x0627);
	assert_non_null(hostdev_usb_device_get_controller_address(dev));
	assert_string_equal(hostdev_usb_device_get_interface_driver(dev, 0), "usbhid");
	hostdev_usb_device_unref(dev);
}

/* libusb (an independent reader of the same sysfs) sees the same devices with the same values. */
static void test_same_as_libusb(void **state)
{
	static const char *const speeds[] = {[LIBUSB_SPEED_LOW] = "1.5",
					     [LIBUSB_SPEED_FULL] = "12",
					     [LIBUSB_SPEED_HIGH] = "480",
					     [LIBUSB_SPEED_SUPER] = "5000",
					     [LIBUSB_SPEED_SUPER_PLUS] = "10000"};
	struct fixture *f = *state;
	libusb_context *lu;
	libusb_device **list;
	ssize_t n;
	int compared = 0;

	assert_int_equal(libusb_init(&lu), 0);
	n = libusb_get_device_list(lu, &list);
	assert_int_equal(n, 10);
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;
		uint8_t ports[8];
		int np = libusb_get_port_numbers(list[i], ports, sizeof(ports));
		char name[64];
		size_t len;
		hostdev_usb_device *dev;
		int speed = libusb_get_device_speed(list[i]);

		assert_int_equal(libusb_get_device_descriptor(list[i], &d), 0);
		/* The kernel name from libusb's bus number and port chain. */
		if (np == 0) {
			snprintf(name, sizeof(name), "usb%u", libusb_get_bus_number(list[i]));
		} else {
			len = (size_t)snprintf(name, sizeof(name), "%u-",
					       libusb_get_bus_number(list[i]));
			for (int p = 0; p < np; p++)
				len += (size_t)snprintf(name + len, sizeof(name) - len, "%s%u",
							p ? "." : "", ports[p]);
		}
		dev = get(f, name);
		assert_int_equal(hostdev_usb_device_get_busnum(dev),
				 libusb_get_bus_number(list[i]));
		assert_int_equal(hostdev_usb_device_get_devnum(dev),
				 libusb_get_device_address(list[i]));
		assert_int_equal(hostdev_usb_device_get_vendor_id(dev), d.idVendor);
		assert_int_equal(hostdev_usb_device_get_product_id(dev), d.idProduct);
		assert_int_equal(hostdev_usb_device_get_bcd_device(dev), d.bcdDevice);
		assert_int_equal(hostdev_usb_device_get_device_class(dev), d.bDeviceClass);
		if (speed > 0 && speed < (int)(sizeof(speeds) / sizeof(speeds[0])))
			assert_string_equal(hostdev_usb_device_get_speed(dev), speeds[speed]);
		hostdev_usb_device_unref(dev);
		compared++;
	}
	assert_int_equal(compared, 10);
	libusb_free_device_list(list, 1);
	libusb_exit(lu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_and_hubs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_hub, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_twins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removed_during_enumeration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_usb_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recorded_fixture, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_as_libusb, setup, teardown),
	};

	return cmocka_run_group_tests_name("usb-enum", tests, NULL, NULL);
}
