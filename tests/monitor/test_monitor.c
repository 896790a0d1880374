/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hot-plug monitor on umockdev (run under umockdev-wrapper): uevents for add/remove/bind reach
 * the callback through the kernel and the udev sources, ENUMERATE replays present devices, remove
 * carries the last known snapshot, duplicates are dropped, removal without arrival and a missed
 * remove are reported as documented in monitor.h, filters apply.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostdev.h"
#include "usb_tree.h"

#define MAX_SEEN 64

struct seen {
	char line[160];
	bool replay, partial;
	char manufacturer[64];
	char port_id[96];
};

struct fixture {
	UMockdevTestbed *tb;
	hostdev_ctx *ctx;
	hostdev_monitor *mon;
	struct seen seen[MAX_SEEN];
	int n_seen;
	int nested_result;
	bool try_nested;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->tb = umockdev_testbed_new();
	usb_tree_build(f->tb);
	if (!umockdev_in_mock_environment() || hostdev_ctx_new(&f->ctx) < 0 ||
	    hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_USB_IDS, HOSTDEV_TEST_USB_IDS) < 0 ||
	    hostdev_monitor_new(f->ctx, &f->mon) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hostdev_monitor_unref(f->mon);
	hostdev_ctx_unref(f->ctx);
	g_object_unref(f->tb);
	usb_tree_free();
	free(f);
	return 0;
}

/* "<action> <subsystem> <name>[ if=<interface> drv=<driver>] <vvvv:pppp>" per event. */
static void on_event(hostdev_monitor *mon, const hostdev_event *ev, void *userdata)
{
	struct fixture *f = userdata;
	struct seen *s;
	hostdev_usb_device *usb = hostdev_event_get_usb_device(ev);
	hostdev_pci_device *pci = hostdev_event_get_pci_device(ev);
	int n;

	assert_true(f->n_seen < MAX_SEEN);
	assert_ptr_equal(mon, f->mon);
	s = &f->seen[f->n_seen++];
	n = snprintf(s->line, sizeof(s->line), "%s %s %s", hostdev_event_get_action_name(ev),
		     hostdev_event_get_subsystem(ev), hostdev_event_get_name(ev));
	if (hostdev_event_get_interface(ev))
		n += snprintf(s->line + n, sizeof(s->line) - (size_t)n, " if=%s drv=%s",
			      hostdev_event_get_interface(ev),
			      hostdev_event_get_driver(ev) ? hostdev_event_get_driver(ev) : "-");
	if (usb)
		snprintf(s->line + n, sizeof(s->line) - (size_t)n, " %04x:%04x",
			 hostdev_usb_device_get_vendor_id(usb),
			 hostdev_usb_device_get_product_id(usb));
	else
		snprintf(s->line + n, sizeof(s->line) - (size_t)n, " %04x:%04x",
			 hostdev_pci_device_get_vendor_id(pci),
			 hostdev_pci_device_get_device_id(pci));
	s->replay = hostdev_event_is_replay(ev);
	s->partial = hostdev_event_is_partial(ev);
	snprintf(s->manufacturer, sizeof(s->manufacturer), "%s",
		 usb && hostdev_usb_device_get_manufacturer(usb)
		     ? hostdev_usb_device_get_manufacturer(usb)
		     : "");
	snprintf(s->port_id, sizeof(s->port_id), "%s",
		 usb && hostdev_usb_device_get_port_id(usb) ? hostdev_usb_device_get_port_id(usb)
							    : "");
	if (f->try_nested)
		f->nested_result = hostdev_monitor_process(mon);
}

/* Wait for the fd like an event loop would, then dispatch. Returns the events reported. */
static int pump(struct fixture *f)
{
	struct pollfd p = {.fd = hostdev_monitor_get_fd(f->mon), .events = POLLIN};
	int total = 0, r;

	assert_true(p.fd >= 0);
	while (poll(&p, 1, 300) > 0) {
		r = hostdev_monitor_process(f->mon);
		assert_true(r >= 0);
		total += r;
	}
	return total;
}

static void start(struct fixture *f, unsigned int flags)
{
	int r;

	hostdev_monitor_set_callback(f->mon, on_event, f);
	r = hostdev_monitor_start(f->mon, flags);
	if (r < 0)
		print_error("hostdev_monitor_start: %s\n", hostdev_ctx_get_error(f->ctx));
	assert_int_equal(r, 0);
}

static void test_add_remove_kernel(void **state)
{
	struct fixture *f = *state;
	struct tb_usb kbd = {"1-5",  1,
			     9,	     0x0627,
			     0x0001, 0,
			     0,	     "12",
			     "QEMU", "QEMU USB Keyboard",
			     "77",   0,
			     1,	     {{3, 1, 1, "usbhid"}}};
	char *path, *speed, *manufacturer, *root;

	assert_int_equal(hostdev_monitor_add_match_subsystem(f->mon, "usb"), 0);
	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	assert_int_equal(hostdev_monitor_process(f->mon), 0); /* nothing pending */
	path = tb_add_usb(f->tb, tree_syspath("usb1"), &kbd);
	umockdev_testbed_uevent(f->tb, path, "add");
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[0].line, "add usb 1-5 0627:0001");
	assert_false(f->seen[0].replay);
	assert_false(f->seen[0].partial);
	/* Unplug as the kernel does it: attributes vanish while unbind events still come... */
	/* unlink() is not redirected by umockdev: remove the files in the testbed's own tree. */
	root = umockdev_testbed_get_root_dir(f->tb);
	speed = g_strdup_printf("%s%s/speed", root, path);
	manufacturer = g_strdup_printf("%s%s/manufacturer", root, path);
	g_free(root);
	assert_int_equal(unlink(speed), 0);
	assert_int_equal(unlink(manufacturer), 0);
	umockdev_testbed_uevent(f->tb, path, "unbind");
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[1].line, "unbind usb 1-5 0627:0001");
	assert_string_equal(f->seen[1].manufacturer, "QEMU"); /* the last complete snapshot */
	/* ...then remove, and the directory goes: remove carries the last complete snapshot. */
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_remove_device(f->tb, path);
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[2].line, "remove usb 1-5 0627:0001");
	assert_string_equal(f->seen[2].manufacturer, "QEMU");
	assert_false(f->seen[2].partial);
	g_free(speed);
	g_free(manufacturer);
	g_free(path);
}

/* A duplicate add read only once the device is gone (a quick unplug) keeps the complete
 * snapshot, and the remove carries it. */
static void test_duplicate_add_after_unplug(void **state)
{
	struct fixture *f = *state;
	struct tb_usb kbd = {"1-5",  1,
			     9,	     0x0627,
			     0x0001, 0,
			     0,	     "12",
			     "QEMU", "QEMU USB Keyboard",
			     "77",   0,
			     1,	     {{3, 1, 1, "usbhid"}}};
	char *path;

	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	path = tb_add_usb(f->tb, tree_syspath("usb1"), &kbd);
	umockdev_testbed_uevent(f->tb, path, "add");
	assert_int_equal(pump(f), 1);
	umockdev_testbed_uevent(f->tb, path, "add");
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_remove_device(f->tb, path);
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[1].line, "remove usb 1-5 0627:0001");
	assert_false(f->seen[1].partial);
	assert_string_equal(f->seen[1].manufacturer, "QEMU");
	g_free(path);
}

static void test_udev_source_and_bind(void **state)
{
	struct fixture *f = *state;
	const char *stick = tree_syspath("2-1");
	char *intf = g_strdup_printf("%s/2-1:1.0", stick);

	start(f, HOSTDEV_MONITOR_SOURCE_UDEV);
	umockdev_testbed_set_property(f->tb, intf, "DRIVER", "usb-storage");
	umockdev_testbed_uevent(f->tb, intf, "unbind");
	umockdev_testbed_uevent(f->tb, intf, "bind");
	umockdev_testbed_uevent(f->tb, intf, "add"); /* interface add: not a device event */
	assert_int_equal(pump(f), 3);
	/* Never reported before (no ENUMERATE): an add first, then the driver changes. */
	assert_string_equal(f->seen[0].line, "add usb 2-1 0951:1666");
	assert_string_equal(f->seen[1].line, "unbind usb 2-1 if=2-1:1.0 drv=usb-storage 0951:1666");
	assert_string_equal(f->seen[2].line, "bind usb 2-1 if=2-1:1.0 drv=usb-storage 0951:1666");
	g_free(intf);
}

static void test_enumerate_and_duplicates(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_monitor_add_match_subsystem(f->mon, "usb"), 0);
	start(f, HOSTDEV_MONITOR_ENUMERATE | HOSTDEV_MONITOR_SOURCE_KERNEL);
	/* Every device, hubs included, before start() returned. */
	assert_int_equal(f->n_seen, 10);
	assert_string_equal(f->seen[0].line, "add usb usb1 1d6b:0002");
	assert_string_equal(f->seen[3].line, "add usb 1-2.1 1050:0407");
	assert_true(f->seen[3].replay);
	/* A live add of a device the replay reported: dropped. */
	umockdev_testbed_uevent(f->tb, tree_syspath("1-1"), "add");
	assert_int_equal(pump(f), 0);
	/* A re-plug at the same port whose remove was missed: remove (old) then add (new). */
	umockdev_testbed_set_attribute(f->tb, tree_syspath("1-1"), "devnum", "12\n");
	umockdev_testbed_uevent(f->tb, tree_syspath("1-1"), "add");
	assert_int_equal(pump(f), 2);
	assert_string_equal(f->seen[10].line, "remove usb 1-1 0627:0001");
	assert_string_equal(f->seen[11].line, "add usb 1-1 0627:0001");
	/* change of a known device. */
	umockdev_testbed_uevent(f->tb, tree_syspath("1-2.1"), "change");
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[12].line, "change usb 1-2.1 1050:0407");
	assert_int_equal(hostdev_monitor_add_match_id(f->mon, "1050:"), -EBUSY);
	assert_int_equal(hostdev_monitor_start(f->mon, 0), -EBUSY);
}

/* The port identity @name has while it is present. */
static char *port_id_of(struct fixture *f, const char *name)
{
	hostdev_usb_device *dev;
	char *id;

	assert_int_equal(hostdev_usb_device_new(f->ctx, name, &dev), 0);
	id = strdup(hostdev_usb_device_get_port_id(dev));
	hostdev_usb_device_unref(dev);
	assert_non_null(id);
	return id;
}

static void test_removal_without_arrival(void **state)
{
	struct fixture *f = *state;
	const char *path = tree_syspath("1-2.3");
	char *port_id = port_id_of(f, "1-2.3");

	start(f, 0);
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_remove_device(f->tb, path);
	assert_int_equal(pump(f), 1);
	/* Only what the uevent carried (PRODUCT=403/6001/600, BUSNUM, DEVNUM)... */
	assert_string_equal(f->seen[0].line, "remove usb 1-2.3 0403:6001");
	assert_true(f->seen[0].partial);
	assert_string_equal(f->seen[0].manufacturer, "");
	/* ...and DEVPATH, which names the controller: the port identity is the device's own, so
	 * that a consumer keyed by it recognises the device. */
	assert_string_equal(f->seen[0].port_id, port_id);
	free(port_id);
}

/*
 * A watch that first hears of a device while it is torn down (as in a real unplug: the device's
 * unbind, then remove, its directory already gone): every event says it is partial, and all
 * carry the port identity the device had.
 */
static void test_first_heard_during_unplug(void **state)
{
	struct fixture *f = *state;
	const char *path = tree_syspath("1-1");
	char *port_id = port_id_of(f, "1-1");

	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	umockdev_testbed_uevent(f->tb, path, "unbind");
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_remove_device(f->tb, path);
	assert_int_equal(pump(f), 3);
	assert_string_equal(f->seen[0].line, "add usb 1-1 0627:0001");
	assert_string_equal(f->seen[1].line, "unbind usb 1-1 0627:0001");
	assert_string_equal(f->seen[2].line, "remove usb 1-1 0627:0001");
	for (int i = 0; i < 3; i++) {
		assert_true(f->seen[i].partial);
		assert_string_equal(f->seen[i].port_id, port_id);
	}
	free(port_id);
}

/*
 * The same when the watch reads the device while its attributes vanish (its directory still
 * there, as seen in a QEMU guest): the events say they are partial, with the port identity.
 */
static void test_first_heard_while_attributes_vanish(void **state)
{
	struct fixture *f = *state;
	const char *path = tree_syspath("1-1");
	char *port_id = port_id_of(f, "1-1"), *root, *file;

	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	/* unlink() is not redirected by umockdev: remove the files in the testbed's own tree. */
	root = umockdev_testbed_get_root_dir(f->tb);
	for (const char *const *a = (const char *const[]){"speed", "manufacturer", NULL}; *a; a++) {
		file = g_strdup_printf("%s%s/%s", root, path, *a);
		assert_int_equal(unlink(file), 0);
		g_free(file);
	}
	g_free(root);
	umockdev_testbed_uevent(f->tb, path, "unbind");
	assert_int_equal(pump(f), 2);
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_remove_device(f->tb, path);
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[0].line, "add usb 1-1 0627:0001");
	assert_string_equal(f->seen[1].line, "unbind usb 1-1 0627:0001");
	assert_string_equal(f->seen[2].line, "remove usb 1-1 0627:0001");
	for (int i = 0; i < 3; i++) {
		assert_true(f->seen[i].partial);
		assert_string_equal(f->seen[i].port_id, port_id);
	}
	free(port_id);
}

/* The kernel sends remove before the directory goes: a remove processed meanwhile is reported
 * with the device as it still is (the same devnum), not dropped. */
static void test_removal_seen_before_the_directory_goes(void **state)
{
	struct fixture *f = *state;
	const char *path = tree_syspath("1-2.1");

	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	umockdev_testbed_uevent(f->tb, path, "remove");
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[0].line, "remove usb 1-2.1 1050:0407");
	assert_false(f->seen[0].partial);
	assert_string_equal(f->seen[0].manufacturer, "Yubico");
}

/* Unplugged and another device plugged into the port before the monitor read the remove: the
 * remove is about the old device (partial, from its uevent), the add about the new one. */
static void test_removal_then_replug_before_processing(void **state)
{
	struct fixture *f = *state;
	const char *path = tree_syspath("1-2.4");
	char *port_id = port_id_of(f, "1-2.4");

	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_set_attribute(f->tb, path, "devnum", "20\n");
	umockdev_testbed_set_property(f->tb, path, "DEVNUM", "020");
	umockdev_testbed_uevent(f->tb, path, "add");
	assert_int_equal(pump(f), 2);
	assert_string_equal(f->seen[0].line, "remove usb 1-2.4 0403:6001");
	assert_true(f->seen[0].partial);
	assert_string_equal(f->seen[0].port_id, port_id);
	assert_string_equal(f->seen[1].line, "add usb 1-2.4 0403:6001");
	assert_false(f->seen[1].partial);
	assert_string_equal(f->seen[1].manufacturer, "FTDI");
	free(port_id);
}

static void test_filters(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_monitor_add_match_id(f->mon, "zz"), -EINVAL);
	assert_int_equal(hostdev_monitor_add_match_class(f->mon, "3"), -EINVAL);
	assert_int_equal(hostdev_monitor_add_match_class(f->mon, "0x03"), -EINVAL);
	assert_int_equal(hostdev_monitor_add_match_subsystem(f->mon, "block"), -EINVAL);
	/* USB class 03 (from the interfaces of class-0 devices) or a PCI USB controller (0c03). */
	assert_int_equal(hostdev_monitor_add_match_class(f->mon, "03"), 0);
	assert_int_equal(hostdev_monitor_add_match_class(f->mon, "0c03"), 0);
	start(f, HOSTDEV_MONITOR_ENUMERATE | HOSTDEV_MONITOR_SOURCE_KERNEL);
	assert_int_equal(f->n_seen, 4);
	assert_string_equal(f->seen[0].line, "add usb 1-1 0627:0001");
	assert_string_equal(f->seen[1].line, "add usb 1-2.1 1050:0407");
	assert_string_equal(f->seen[2].line, "add usb 1-2.2 1050:0407");
	assert_string_equal(f->seen[3].line, "add pci 0000:00:14.0 1b36:000d");
	/* Events of filtered-out devices do not reach the callback. */
	umockdev_testbed_uevent(f->tb, tree_syspath("2-1"), "change");
	assert_int_equal(pump(f), 0);
	umockdev_testbed_uevent(f->tb, tree_syspath("1-1"), "change");
	assert_int_equal(pump(f), 1);
}

static void test_pci_events(void **state)
{
	struct fixture *f = *state;
	char *path;

	assert_int_equal(hostdev_monitor_add_match_subsystem(f->mon, "pci"), 0);
	assert_int_equal(hostdev_monitor_add_match_id(f->mon, "8086:"), 0);
	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	path = umockdev_testbed_add_device(f->tb, "pci", "0000:02:00.0", NULL, "vendor", "0x8086\n",
					   "device", "0x10d3\n", "class", "0x020000\n", NULL,
					   "PCI_SLOT_NAME", "0000:02:00.0", "PCI_ID", "8086:10D3",
					   "PCI_CLASS", "20000", NULL);
	umockdev_testbed_uevent(f->tb, path, "add");
	umockdev_testbed_uevent(f->tb, tree_syspath("1-1"), "add"); /* USB: not wanted */
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[0].line, "add pci 0000:02:00.0 8086:10d3");
	umockdev_testbed_uevent(f->tb, path, "remove");
	umockdev_testbed_remove_device(f->tb, path);
	assert_int_equal(pump(f), 1);
	assert_string_equal(f->seen[1].line, "remove pci 0000:02:00.0 8086:10d3");
	g_free(path);
}

static void test_api_errors(void **state)
{
	struct fixture *f = *state;
	hostdev_monitor *m = NULL;

	assert_int_equal(hostdev_monitor_new(NULL, &m), -EINVAL);
	assert_int_equal(hostdev_monitor_get_fd(f->mon), -EBADF);
	assert_int_equal(hostdev_monitor_process(f->mon), -EBADF);
	assert_int_equal(hostdev_monitor_start(f->mon, 0x100), -EINVAL);
	assert_int_equal(hostdev_monitor_start(f->mon, HOSTDEV_MONITOR_SOURCE_KERNEL |
							   HOSTDEV_MONITOR_SOURCE_UDEV),
			 -EINVAL);
	assert_null(hostdev_monitor_unref(NULL));
	assert_null(hostdev_event_get_name(NULL));
	/* process() from the callback is refused, not recursed into. */
	f->try_nested = true;
	start(f, HOSTDEV_MONITOR_SOURCE_KERNEL);
	umockdev_testbed_uevent(f->tb, tree_syspath("1-1"), "change");
	assert_int_equal(pump(f), 2); /* add (first sight) + change */
	assert_int_equal(f->nested_result, -EBUSY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_remove_kernel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_add_after_unplug, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_udev_source_and_bind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enumerate_and_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removal_without_arrival, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_heard_during_unplug, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_heard_while_attributes_vanish, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_removal_seen_before_the_directory_goes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_removal_then_replug_before_processing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
	};

	return cmocka_run_group_tests_name("usb-monitor", tests, NULL, NULL);
}
