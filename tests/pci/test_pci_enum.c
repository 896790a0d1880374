/* SPDX-License-Identifier: Apache-2.0 */
/* The PCI enumerator on the server-like fake tree: order, every filter kind, errors, vanishing
 * devices. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakeroot.h"
#include "hostdev.h"
#include "server_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	hostdev_pci_enum *e;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->root = fakeroot_new();
	if (!f->root || server_tree_build(f->root) < 0 || hostdev_ctx_new(&f->ctx) < 0 ||
	    hostdev_ctx_set_root(f->ctx, fakeroot_path(f->root)) < 0 ||
	    hostdev_pci_enum_new(f->ctx, &f->e) < 0) {
		hostdev_pci_enum_unref(f->e);
		hostdev_ctx_unref(f->ctx);
		fakeroot_free(f->root);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hostdev_pci_enum_unref(f->e);
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

#define MAX_DEVS 64

/* Drain the enumerator into a comma-separated address list; asserts the 1/0 protocol. */
static void collect(struct fixture *f, char *buf, size_t size)
{
	hostdev_pci_device *dev;
	int r, n = 0;

	buf[0] = '\0';
	for (;;) {
		dev = NULL;
		r = hostdev_pci_enum_next(f->e, &dev);
		if (r == 0)
			break;
		if (r != 1)
			print_error("hostdev_pci_enum_next = %d: %s\n", r,
				    hostdev_ctx_get_error(f->ctx));
		assert_int_equal(r, 1);
		assert_non_null(dev);
		assert_true(n++ < MAX_DEVS);
		if (buf[0])
			strncat(buf, ",", size - strlen(buf) - 1);
		strncat(buf, hostdev_pci_device_get_address(dev), size - strlen(buf) - 1);
		hostdev_pci_device_unref(dev);
	}
	/* The end is sticky. */
	assert_int_equal(hostdev_pci_enum_next(f->e, &dev), 0);
}

static void expect_list(struct fixture *f, const char *expected)
{
	char buf[4096];

	collect(f, buf, sizeof(buf));
	if (strcmp(buf, expected) != 0)
		print_error("expected [%s]\n     got [%s]\n", expected, buf);
	assert_string_equal(buf, expected);
}

/* A fresh enumerator for each table row. */
static void renew(struct fixture *f)
{
	hostdev_pci_enum_unref(f->e);
	f->e = NULL;
	assert_int_equal(hostdev_pci_enum_new(f->ctx, &f->e), 0);
}

static const char *all_devices(void)
{
	static char buf[4096];

	buf[0] = '\0';
	for (size_t i = 0; i < server_tree_count; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, server_tree_addresses[i]);
	}
	return buf;
}

static void test_all_in_address_order(void **state)
{
	expect_list(*state, all_devices());
}

static void test_new_invalid(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_enum *e = NULL;

	assert_int_equal(hostdev_pci_enum_new(NULL, &e), -EINVAL);
	assert_null(e);
	assert_int_equal(hostdev_pci_enum_new(f->ctx, NULL), -EINVAL);
	assert_int_equal(hostdev_pci_enum_next(f->e, NULL), -EINVAL);
	assert_int_equal(hostdev_pci_enum_next(NULL, &(hostdev_pci_device *){NULL}), -EINVAL);
	assert_null(hostdev_pci_enum_unref(NULL));
}

static void test_ref_unref(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(hostdev_pci_enum_ref(f->e), f->e);
	assert_null(hostdev_pci_enum_unref(f->e));
	/* still usable through the fixture's reference, and it keeps the context alive */
	hostdev_ctx_unref(f->ctx);
	f->ctx = NULL;
	hostdev_pci_device *dev = NULL;
	assert_int_equal(hostdev_pci_enum_next(f->e, &dev), 1);
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:00:00.0");
	hostdev_pci_device_unref(dev);
}

/* --- filters ------------------------------------------------------------------------------------
 */

enum kind { SLOT, ID, DRIVER, CLASS };

static int add_filter(hostdev_pci_enum *e, enum kind k, const char *spec)
{
	switch (k) {
	case SLOT:
		return hostdev_pci_enum_add_slot_filter(e, spec);
	case ID:
		return hostdev_pci_enum_add_id_filter(e, spec);
	case DRIVER:
		return hostdev_pci_enum_add_driver_filter(e, spec);
	case CLASS:
		return hostdev_pci_enum_add_class_filter(e, spec);
	}
	return -EINVAL;
}

static const char *kind_name(enum kind k)
{
	static const char *const names[] = {"slot", "id", "driver", "class"};

	return names[k];
}

struct filter_case {
	enum kind kind;
	const char *spec;
	const char *expected;
};

static void run_filter_cases(struct fixture *f, const struct filter_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r;

		renew(f);
		r = add_filter(f->e, c[i].kind, c[i].spec);
		if (r != 0)
			print_error("%s filter \"%s\" = %d: %s\n", kind_name(c[i].kind), c[i].spec,
				    r, hostdev_ctx_get_error(f->ctx));
		assert_int_equal(r, 0);
		print_message("%s filter \"%s\"\n", kind_name(c[i].kind), c[i].spec);
		expect_list(f, c[i].expected);
	}
}

static void test_slot_filters(void **state)
{
	static const struct filter_case cases[] = {
	    {SLOT, "00:1f.2", "0000:00:1f.2"},
	    {SLOT, "0000:00:1f.2", "0000:00:1f.2"},
	    {SLOT, "1f.", "0000:00:1f.0,0000:00:1f.2,0000:00:1f.3"},
	    {SLOT, "1f", "0000:00:1f.0,0000:00:1f.2,0000:00:1f.3"},
	    {SLOT, ":1f", "0000:00:1f.0,0000:00:1f.2,0000:00:1f.3"},
	    {SLOT, "0000:00:",
	     "0000:00:00.0,0000:00:05.0,0000:00:1c.0,0000:00:1c.4,0000:00:1c.5,0000:00:1f.0,"
	     "0000:00:1f.2,0000:00:1f.3"},
	    {SLOT, "01:", "0000:01:00.0,0000:01:10.0,0000:01:10.4"},
	    {SLOT, ".3", "0000:00:1f.3"},
	    {SLOT, ".4", "0000:00:1c.4,0000:01:10.4"},
	    {SLOT, "10.", "0000:01:10.0,0000:01:10.4"},
	    {SLOT, "3B:00.0", "0000:3b:00.0"},
	    {SLOT, "1:00:00.0", "0001:00:00.0"},
	    {SLOT, "0001:", "0000:01:00.0,0000:01:10.0,0000:01:10.4"}, /* a bus, as in lspci */
	    {SLOT, "*:*.*", NULL},
	    {SLOT, "*:*:*.*", NULL},
	    {SLOT, "*:01:*.*", "0000:01:00.0,0000:01:10.0,0000:01:10.4"},
	    {SLOT, "0000:05:00.0", ""},
	};
	struct filter_case c[sizeof(cases) / sizeof(cases[0])];
	struct fixture *f = *state;

	memcpy(c, cases, sizeof(c));
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (!c[i].expected)
			c[i].expected = all_devices();
	}
	run_filter_cases(f, c, sizeof(c) / sizeof(c[0]));
}

static void test_id_filters(void **state)
{
	static const struct filter_case cases[] = {
	    {ID, "8086:",
	     "0000:00:00.0,0000:00:05.0,0000:00:1c.0,0000:00:1c.4,0000:00:1c.5,0000:00:1f.0,"
	     "0000:00:1f.2,0000:00:1f.3,0000:01:00.0,0000:01:10.0,0000:01:10.4,0000:3a:00.0"},
	    {ID, ":1521", "0000:01:00.0"},
	    {ID, "8086:1521", "0000:01:00.0"},
	    {ID, "8086:1521:0200", "0000:01:00.0"},
	    {ID, "8086:1521:0300", ""},
	    {ID, ":1520", "0000:01:10.0,0000:01:10.4"},
	    {ID, "8086::0604", "0000:00:1c.0,0000:00:1c.4,0000:00:1c.5,0000:3a:00.0"},
	    {ID, "::0300", "0000:02:00.0"},
	    {ID, "::0106:01", "0000:00:1f.2"},
	    {ID, "::0106:00", ""},
	    {ID, "10DE:1EB8", "0000:3b:00.0"},
	    {ID, "1dea:0001", "0001:00:00.0"},
	    {ID, "*:1eb8", "0000:3b:00.0"},
	    {ID, "ffff:", ""},
	};
	run_filter_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_driver_filters(void **state)
{
	static const struct filter_case cases[] = {
	    {DRIVER, "igb", "0000:01:00.0"},
	    {DRIVER, "vfio-pci", "0000:01:10.4"},
	    {DRIVER, "pcieport", "0000:00:1c.0,0000:00:1c.4,0000:00:1c.5,0000:3a:00.0"},
	    {DRIVER, "none", "0000:00:00.0,0000:00:05.0,0000:00:1f.0,0001:00:00.0"},
	    {DRIVER, "nvidia", "0000:3b:00.0"},
	    {DRIVER, "ig", ""}, /* whole names only */
	    {DRIVER, "no-such-driver", ""},
	};
	run_filter_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_class_filters(void **state)
{
	static const struct filter_case cases[] = {
	    {CLASS, "02", "0000:01:00.0,0000:01:10.0,0000:01:10.4,0000:04:00.0"},
	    {CLASS, "0200", "0000:01:00.0,0000:01:10.0,0000:01:10.4,0000:04:00.0"},
	    {CLASS, "020000", "0000:01:00.0,0000:01:10.0,0000:01:10.4,0000:04:00.0"},
	    {CLASS, "06",
	     "0000:00:00.0,0000:00:1c.0,0000:00:1c.4,0000:00:1c.5,0000:00:1f.0,0000:3a:00.0"},
	    {CLASS, "0604", "0000:00:1c.0,0000:00:1c.4,0000:00:1c.5,0000:3a:00.0"},
	    {CLASS, "03", "0000:02:00.0,0000:3b:00.0"},
	    {CLASS, "0302", "0000:3b:00.0"},
	    {CLASS, "010601", "0000:00:1f.2"},
	    {CLASS, "010600", ""},
	    {CLASS, "0C05", "0000:00:1f.3"},
	    {CLASS, "12", "0001:00:00.0"},
	    {CLASS, "ff", ""},
	};
	run_filter_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void add_ok(struct fixture *f, enum kind k, const char *spec)
{
	int r = add_filter(f->e, k, spec);

	if (r != 0)
		print_error("%s filter \"%s\" = %d: %s\n", kind_name(k), spec, r,
			    hostdev_ctx_get_error(f->ctx));
	assert_int_equal(r, 0);
}

/* AND across kinds, OR within a kind. */
static void test_filter_combinations(void **state)
{
	struct fixture *f = *state;

	add_ok(f, DRIVER, "igb");
	add_ok(f, DRIVER, "igbvf");
	add_ok(f, DRIVER, "r8169");
	add_ok(f, CLASS, "02");
	add_ok(f, ID, "8086:");
	expect_list(f, "0000:01:00.0,0000:01:10.0");

	renew(f);
	add_ok(f, SLOT, "1f.2");
	add_ok(f, SLOT, "3b:");
	expect_list(f, "0000:00:1f.2,0000:3b:00.0");

	renew(f);
	add_ok(f, ID, "8086:");
	add_ok(f, ID, "10de:");
	add_ok(f, CLASS, "03");
	expect_list(f, "0000:3b:00.0");

	renew(f);
	add_ok(f, SLOT, "01:");
	add_ok(f, DRIVER, "none");
	expect_list(f, "");

	renew(f);
	add_ok(f, SLOT, "00:");
	add_ok(f, DRIVER, "none");
	add_ok(f, CLASS, "06");
	expect_list(f, "0000:00:00.0,0000:00:1f.0");

	renew(f);
	add_ok(f, CLASS, "0604");
	add_ok(f, CLASS, "0300");
	add_ok(f, SLOT, "00:");
	expect_list(f, "0000:00:1c.0,0000:00:1c.4,0000:00:1c.5");
}

static void test_malformed_filters(void **state)
{
	static const struct {
		enum kind kind;
		const char *spec;
		const char *bad_part; /* must appear in the error message */
	} cases[] = {
	    {SLOT, "zz:00.0", "zz"},
	    {SLOT, "00:1f.9", "9"},
	    {SLOT, "00:20.0", "20"},
	    {SLOT, "00:1f.2x", "2x"},
	    {SLOT, "1:2:3:4.0", "1:2:3:4.0"},
	    {SLOT, "00:100.0", "100"},
	    {SLOT, "100:00.0", "100"},
	    {ID, "8086", "8086"},
	    {ID, "zzzz:", "zzzz"},
	    {ID, "12345:", "12345"},
	    {ID, "8086:1521:0200:00:00", "8086:1521:0200:00:00"},
	    {ID, "8086:gggg", "gggg"},
	    {ID, "8086:1521:12345", "12345"},
	    {CLASS, "", ""},
	    {CLASS, "0", "0"},
	    {CLASS, "020", "020"},
	    {CLASS, "0200000", "0200000"},
	    {CLASS, "zz", "zz"},
	    {CLASS, "02 ", "02 "},
	    {DRIVER, "", ""},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *msg;
		int r;

		renew(f);
		r = add_filter(f->e, cases[i].kind, cases[i].spec);
		msg = hostdev_ctx_get_error(f->ctx);
		if (r != -EINVAL || !strstr(msg, cases[i].bad_part) || !msg[0])
			print_error("%s filter \"%s\": got %d, message \"%s\"\n",
				    kind_name(cases[i].kind), cases[i].spec, r, msg);
		assert_int_equal(r, -EINVAL);
		assert_true(msg[0] != '\0');
		assert_non_null(strstr(msg, cases[i].bad_part));
		/* A rejected filter is not half-applied: the enumerator still lists everything. */
		expect_list(f, all_devices());
	}
	renew(f);
	assert_int_equal(hostdev_pci_enum_add_slot_filter(f->e, NULL), -EINVAL);
	assert_int_equal(hostdev_pci_enum_add_id_filter(f->e, NULL), -EINVAL);
	assert_int_equal(hostdev_pci_enum_add_driver_filter(f->e, NULL), -EINVAL);
	assert_int_equal(hostdev_pci_enum_add_class_filter(f->e, NULL), -EINVAL);
	assert_int_equal(hostdev_pci_enum_add_slot_filter(NULL, "00:1f.2"), -EINVAL);
}

static void test_filter_after_next_is_busy(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = NULL;

	assert_int_equal(hostdev_pci_enum_add_class_filter(f->e, "02"), 0);
	assert_int_equal(hostdev_pci_enum_next(f->e, &dev), 1);
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:01:00.0");
	hostdev_pci_device_unref(dev);
	assert_int_equal(hostdev_pci_enum_add_slot_filter(f->e, "00:1f.2"), -EBUSY);
	assert_int_equal(hostdev_pci_enum_add_id_filter(f->e, "8086:"), -EBUSY);
	assert_int_equal(hostdev_pci_enum_add_driver_filter(f->e, "igb"), -EBUSY);
	assert_int_equal(hostdev_pci_enum_add_class_filter(f->e, "03"), -EBUSY);
	assert_true(strlen(hostdev_ctx_get_error(f->ctx)) > 0);
	/* The enumeration goes on with the original filter. */
	expect_list(f, "0000:01:10.0,0000:01:10.4,0000:04:00.0");
}

/* --- devices that vanish or break during the scan -----------------------------------------------
 */

static const char *all_but(const char *const *skip, size_t nskip)
{
	static char buf[4096];

	buf[0] = '\0';
	for (size_t i = 0; i < server_tree_count; i++) {
		bool skipped = false;

		for (size_t j = 0; j < nskip; j++)
			skipped |= strcmp(server_tree_addresses[i], skip[j]) == 0;
		if (skipped)
			continue;
		if (buf[0])
			strcat(buf, ",");
		strcat(buf, server_tree_addresses[i]);
	}
	return buf;
}

/* Removed after the enumerator was made: the bus link dangles (the readdir/read race). */
static void test_vanished_dir_dangling_link(void **state)
{
	struct fixture *f = *state;
	static const char *const gone[] = {"0000:01:10.0"};

	assert_int_equal(fakeroot_pci_remove(f->root, "0000:01:10.0", FAKEROOT_KEEP_BUS_LINK), 0);
	expect_list(f, all_but(gone, 1));
}

/* Removed in the middle of the iteration, link and all. */
static void test_vanished_mid_iteration(void **state)
{
	struct fixture *f = *state;
	static const char *const gone[] = {"0000:00:00.0", "0000:3b:00.0", "0000:04:00.0"};
	hostdev_pci_device *dev = NULL;

	assert_int_equal(hostdev_pci_enum_next(f->e, &dev), 1);
	assert_string_equal(hostdev_pci_device_get_address(dev), "0000:00:00.0");
	hostdev_pci_device_unref(dev);
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:3b:00.0", 0), 0);
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:04:00.0", FAKEROOT_KEEP_BUS_LINK), 0);
	expect_list(f, all_but(gone, 3));
}

/* A bridge removed with everything below it. */
static void test_vanished_subtree(void **state)
{
	struct fixture *f = *state;
	static const char *const gone[] = {"0000:00:1c.0", "0000:01:00.0", "0000:01:10.0",
					   "0000:01:10.4"};

	assert_int_equal(fakeroot_pci_remove(f->root, "0000:00:1c.0", FAKEROOT_KEEP_BUS_LINK), 0);
	expect_list(f, all_but(gone, 4));
}

struct log_capture {
	int calls;
	int mentions;
};

static void capture_log(int priority, const char *message, void *userdata)
{
	struct log_capture *c = userdata;

	(void)priority;
	c->calls++;
	if (strstr(message, "0000:04:00.0"))
		c->mentions++;
}

/* Unreadable identity attributes: logged (naming the device) and skipped, not fatal. */
static void test_unreadable_device_skipped(void **state)
{
	struct fixture *f = *state;
	static const char *const gone[] = {"0000:04:00.0"};
	struct log_capture cap = {0, 0};

	assert_int_equal(fakeroot_pci_set_attr(f->root, "0000:04:00.0", "vendor", "garbage\n"), 0);
	hostdev_ctx_set_log_fn(f->ctx, capture_log, &cap);
	hostdev_ctx_set_log_priority(f->ctx, HOSTDEV_LOG_DEBUG);
	expect_list(f, all_but(gone, 1));
	assert_true(cap.mentions >= 1);
}

/* Entries that are not PCI addresses are ignored; a VMD domain sorts after the 16-bit domains. */
static void test_odd_entries_and_large_domain(void **state)
{
	struct fixture *f = *state;
	char expected[4096];

	assert_int_equal(fakeroot_write(f->root, "sys/bus/pci/devices/not-a-device", "x"), 0);
	assert_int_equal(fakeroot_mkdir(f->root, "sys/bus/pci/devices/0000:zz:00.0"), 0);
	assert_int_equal(fakeroot_pci_add(f->root, "10000:00:02.0",
					  &(const struct fake_pci){.vendor = 0x144d,
								   .device = 0xa808,
								   .class_code = 0x010802,
								   .driver = "nvme"}),
			 0);
	snprintf(expected, sizeof(expected), "%s,10000:00:02.0", all_devices());
	expect_list(f, expected);

	renew(f);
	assert_int_equal(hostdev_pci_enum_add_slot_filter(f->e, "10000:00:"), 0);
	expect_list(f, "10000:00:02.0");
}

/* No PCI bus in sysfs at all (some embedded machines): an empty enumeration or an error, no crash.
 */
static void test_no_pci_bus(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = NULL;
	int r;

	assert_int_equal(fakeroot_remove(f->root, "sys/bus/pci"), 0);
	renew(f);
	r = hostdev_pci_enum_next(f->e, &dev);
	assert_true(r <= 0);
	assert_null(dev);
}

/*
 * An enumeration reads every device's IOMMU group link once and the virtfn links of each PF for
 * all devices (pci_enum.c); a device read alone looks at its own group directory and physfn. Both
 * must tell the same: every field of the JSON, group members, PF and VF index included.
 */
static void test_same_as_device_alone(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev;
	size_t n = 0;
	int r;

	while ((r = hostdev_pci_enum_next(f->e, &dev)) == 1) {
		hostdev_pci_device *alone = NULL;
		char *from_enum = NULL, *from_alone = NULL;

		assert_int_equal(
		    hostdev_pci_device_new(f->ctx, hostdev_pci_device_get_address(dev), &alone), 0);
		assert_int_equal(hostdev_pci_device_to_json(dev, HOSTDEV_JSON_INDENT, &from_enum),
				 0);
		assert_int_equal(
		    hostdev_pci_device_to_json(alone, HOSTDEV_JSON_INDENT, &from_alone), 0);
		assert_string_equal(from_enum, from_alone);
		free(from_enum);
		free(from_alone);
		hostdev_pci_device_unref(alone);
		hostdev_pci_device_unref(dev);
		n++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, server_tree_count);
}

/* The members of @dev's group, comma-separated. */
static const char *members(hostdev_pci_device *dev)
{
	static char buf[256];
	size_t n = hostdev_pci_device_get_iommu_group_member_count(dev);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, hostdev_pci_device_get_iommu_group_member(dev, i));
	}
	assert_null(hostdev_pci_device_get_iommu_group_member(dev, n));
	return buf;
}

/* The next device of the enumeration, which must be @address. */
static hostdev_pci_device *next_is(struct fixture *f, const char *address)
{
	hostdev_pci_device *dev = NULL;

	do {
		hostdev_pci_device_unref(dev);
		dev = NULL;
		assert_int_equal(hostdev_pci_enum_next(f->e, &dev), 1);
	} while (strcmp(hostdev_pci_device_get_address(dev), address) < 0);
	assert_string_equal(hostdev_pci_device_get_address(dev), address);
	return dev;
}

/*
 * Group members of an enumeration's devices are those its scan found, before the first device:
 * still there when a member is unplugged during the enumeration and when the enumeration is gone
 * long before they are asked for. A device read alone, or a new enumeration, sees the group as it
 * is now.
 */
static void test_group_members_after_unplug(void **state)
{
	struct fixture *f = *state;
	static const char *const all = "0000:00:1f.0,0000:00:1f.2,0000:00:1f.3";
	hostdev_pci_device *first, *second, *alone;

	first = next_is(f, "0000:00:1f.0");
	assert_int_equal(fakeroot_pci_remove(f->root, "0000:00:1f.3", 0), 0);
	second = next_is(f, "0000:00:1f.2");
	assert_string_equal(members(second), all);
	/* The unplugged member itself is skipped. */
	hostdev_pci_device_unref(second);
	second = NULL;
	assert_int_equal(hostdev_pci_enum_next(f->e, &second), 1);
	assert_string_not_equal(hostdev_pci_device_get_address(second), "0000:00:1f.3");
	hostdev_pci_device_unref(second);
	/* Asked for only now, with the enumeration and its context reference released. */
	f->e = hostdev_pci_enum_unref(f->e);
	assert_int_equal(hostdev_pci_device_get_iommu_group(first), 9);
	assert_string_equal(members(first), all);
	hostdev_pci_device_unref(first);

	assert_int_equal(hostdev_pci_device_new(f->ctx, "0000:00:1f.0", &alone), 0);
	assert_string_equal(members(alone), "0000:00:1f.0,0000:00:1f.2");
	hostdev_pci_device_unref(alone);
	renew(f);
	first = next_is(f, "0000:00:1f.0");
	assert_string_equal(members(first), "0000:00:1f.0,0000:00:1f.2");
	hostdev_pci_device_unref(first);

	/* A slot filter reads few devices: they list their group's directory. */
	renew(f);
	assert_int_equal(hostdev_pci_enum_add_slot_filter(f->e, "00:1f.2"), 0);
	second = next_is(f, "0000:00:1f.2");
	assert_string_equal(members(second), "0000:00:1f.0,0000:00:1f.2");
	hostdev_pci_device_unref(second);
	/* No group link: no members, from the map as from the directory. */
	renew(f);
	first = next_is(f, "0000:00:05.0");
	assert_int_equal(hostdev_pci_device_get_iommu_group(first), -1);
	assert_string_equal(members(first), "");
	hostdev_pci_device_unref(first);
}

/*
 * A VF takes its PF and number from the PF's virtfn links, which the enumeration read with the
 * PF; alone (or when a slot filter leaves the PF out) from its physfn link.
 */
static void test_vf_from_pf_links(void **state)
{
	struct fixture *f = *state;
	static const char *const filters[] = {NULL, "01:10.4"};

	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		hostdev_pci_device *vf;

		renew(f);
		if (filters[i])
			assert_int_equal(hostdev_pci_enum_add_slot_filter(f->e, filters[i]), 0);
		vf = next_is(f, "0000:01:10.4");
		assert_true(hostdev_pci_device_is_sriov_vf(vf));
		assert_string_equal(hostdev_pci_device_get_pf_address(vf), "0000:01:00.0");
		assert_int_equal(hostdev_pci_device_get_vf_index(vf), 1);
		hostdev_pci_device_unref(vf);
	}
	/* The PF's VF list, read with the PF for its VFs, in number order. */
	renew(f);
	{
		hostdev_pci_device *pf = next_is(f, "0000:01:00.0");

		assert_int_equal(hostdev_pci_device_get_vf_count(pf), 2);
		assert_string_equal(hostdev_pci_device_get_vf_address(pf, 0), "0000:01:10.0");
		assert_int_equal(hostdev_pci_device_get_vf_number(pf, 1), 1);
		assert_string_equal(hostdev_pci_device_get_vf_address(pf, 1), "0000:01:10.4");
		hostdev_pci_device_unref(pf);
	}
	/* A VF whose PF did not match the filters still has its PF. */
	renew(f);
	assert_int_equal(hostdev_pci_enum_add_driver_filter(f->e, "vfio-pci"), 0);
	{
		hostdev_pci_device *vf = next_is(f, "0000:01:10.4");

		assert_string_equal(hostdev_pci_device_get_pf_address(vf), "0000:01:00.0");
		assert_int_equal(hostdev_pci_device_get_vf_index(vf), 1);
		hostdev_pci_device_unref(vf);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_all_in_address_order),
	    T(test_new_invalid),
	    T(test_ref_unref),
	    T(test_slot_filters),
	    T(test_id_filters),
	    T(test_driver_filters),
	    T(test_class_filters),
	    T(test_filter_combinations),
	    T(test_malformed_filters),
	    T(test_filter_after_next_is_busy),
	    T(test_vanished_dir_dangling_link),
	    T(test_vanished_mid_iteration),
	    T(test_vanished_subtree),
	    T(test_unreadable_device_skipped),
	    T(test_odd_entries_and_large_domain),
	    T(test_no_pci_bus),
	    T(test_same_as_device_alone),
	    T(test_group_members_after_unplug),
	    T(test_vf_from_pf_links),
	};

	return cmocka_run_group_tests_name("pci_enum", tests, NULL, NULL);
}
