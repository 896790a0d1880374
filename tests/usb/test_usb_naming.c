/* SPDX-License-Identifier: Apache-2.0 */
/* hostdev_naming_device_id() and Harvester's USB object name, as pure functions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hostdev.h"

static void check_valid(const char *id)
{
	size_t len = strlen(id);

	assert_true(len >= 1 && len <= 63);
	for (size_t i = 0; i < len; i++)
		assert_non_null(strchr(
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", id[i]));
	assert_null(strchr("-_.", id[0]));
	assert_null(strchr("-_.", id[len - 1]));
}

static void test_valid_ids_unchanged(void **state)
{
	const char *same[] = {"node1-000000140-usb2-1.4", "usb-1050-0407-11111111", "a", "A_b.c-9",
			      "012345678901234567890123456789012345678901234567890123456789012"};
	char buf[HOSTDEV_NAME_MAX];

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(hostdev_naming_device_id(same[i], buf, sizeof(buf)),
				 (int)strlen(same[i]));
		assert_string_equal(buf, same[i]);
	}
}

static void test_shortened_and_sanitised(void **state)
{
	char a[HOSTDEV_NAME_MAX], b[HOSTDEV_NAME_MAX], c[HOSTDEV_NAME_MAX], d[HOSTDEV_NAME_MAX];
	char long64[65];
	int r;

	memset(long64, 'x', 64);
	long64[64] = '\0';
	r = hostdev_naming_device_id(long64, a, sizeof(a));
	assert_int_equal(r, 63);
	check_valid(a);
	assert_int_equal(strncmp(a, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-", 53),
			 0);
	/* Deterministic. */
	hostdev_naming_device_id(long64, b, sizeof(b));
	assert_string_equal(a, b);
	/* One character more: another hash. */
	long64[63] = 'y';
	hostdev_naming_device_id(long64, b, sizeof(b));
	assert_string_not_equal(a, b);
	/* Disallowed characters: runs become one '-', a hash keeps "a/b" and "a:b" apart. */
	hostdev_naming_device_id("usb-0951-1666-AB/CD", c, sizeof(c));
	hostdev_naming_device_id("usb-0951-1666-AB:CD", d, sizeof(d));
	check_valid(c);
	check_valid(d);
	assert_int_equal(strncmp(c, "usb-0951-1666-AB-CD-", 20), 0);
	assert_string_not_equal(c, d);
	/* Leading/trailing junk and non-ASCII bytes. */
	hostdev_naming_device_id("--.\xff\xfe serial __", c, sizeof(c));
	check_valid(c);
	assert_int_equal(strncmp(c, "serial-", 7), 0);
	/* Nothing usable at all: the hash alone. */
	assert_int_equal(hostdev_naming_device_id("\xff/\xfe", c, sizeof(c)), 10);
	check_valid(c);
	/* Errors. */
	assert_int_equal(hostdev_naming_device_id("", c, sizeof(c)), -EINVAL);
	assert_int_equal(hostdev_naming_device_id(NULL, c, sizeof(c)), -EINVAL);
	assert_int_equal(hostdev_naming_device_id("abc", c, 3), -ENOSPC);
	assert_int_equal(hostdev_naming_device_id(long64, c, 20), -ENOSPC);
}

static void test_harvester_usb_object_name(void **state)
{
	char buf[HOSTDEV_NAME_MAX];

	/* REFERENCE.md section 3 example. */
	assert_int_equal(
	    hostdev_naming_usb_object_name("jacknode", 0x0951, 0x1666, 2, 4, buf, sizeof(buf)),
	    (int)strlen("jacknode-0951-1666-002004"));
	assert_string_equal(buf, "jacknode-0951-1666-002004");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_ids_unchanged),
	    cmocka_unit_test(test_shortened_and_sanitised),
	    cmocka_unit_test(test_harvester_usb_object_name),
	};

	return cmocka_run_group_tests_name("usb-naming", tests, NULL, NULL);
}
