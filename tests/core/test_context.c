/* SPDX-License-Identifier: Apache-2.0 */
/* The context object: defaults, paths, roots, node name, errors, logging, reference counting. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>

#include "hostdev.h"

static int setup(void **state)
{
	hostdev_ctx *ctx = NULL;

	if (hostdev_ctx_new(&ctx) != 0 || !ctx)
		return -1;
	*state = ctx;
	return 0;
}

static int teardown(void **state)
{
	assert_null(hostdev_ctx_unref(*state));
	return 0;
}

static void test_new_invalid(void **state)
{
	(void)state;
	assert_int_equal(hostdev_ctx_new(NULL), -EINVAL);
}

static void test_defaults(void **state)
{
	hostdev_ctx *ctx = *state;
	struct utsname u;

	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/sys");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_DEV), "/dev");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PROC), "/proc");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_STATE), "/var/lib/hostdev");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_CONFIG), "/etc/hostdev");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_KUBELET), "/var/lib/kubelet");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PCI_IDS),
			    "/usr/share/misc/pci.ids");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_USB_IDS),
			    "/usr/share/misc/usb.ids");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_MODULES), "");
	assert_null(hostdev_ctx_get_path(ctx, (enum hostdev_path)9));
	assert_null(hostdev_ctx_get_path(ctx, (enum hostdev_path) - 1));

	assert_int_equal(uname(&u), 0);
	assert_string_equal(hostdev_ctx_get_node_name(ctx), u.nodename);
	assert_int_equal(hostdev_ctx_get_log_priority(ctx), HOSTDEV_LOG_WARNING);
	assert_string_equal(hostdev_ctx_get_error(ctx), "");
	assert_non_null(hostdev_version());
	assert_true(strlen(hostdev_version()) > 0);
}

static void test_set_path(void **state)
{
	hostdev_ctx *ctx = *state;
	char path[64];

	/* The value is copied: changing the caller's buffer afterwards changes nothing. */
	strcpy(path, "/tmp/x/sys");
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, path), 0);
	strcpy(path, "/garbage");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/tmp/x/sys");

	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_PCI_IDS, "/tmp/my.ids"), 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PCI_IDS), "/tmp/my.ids");
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES, "/tmp/mods/6.1.0"), 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_MODULES), "/tmp/mods/6.1.0");
	/* Empty is allowed only for the module directory (libkmod default). */
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES, ""), 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_MODULES), "");
	/* Other paths are left untouched. */
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_DEV), "/dev");
}

static void expect_einval_path(hostdev_ctx *ctx, enum hostdev_path which, const char *path)
{
	const char *before = hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS);
	char saved[256];

	snprintf(saved, sizeof(saved), "%s", before ? before : "");
	assert_int_equal(hostdev_ctx_set_path(ctx, which, path), -EINVAL);
	/* A message that says something. */
	assert_non_null(hostdev_ctx_get_error(ctx));
	assert_true(strlen(hostdev_ctx_get_error(ctx)) > 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), saved);
}

static void test_set_path_invalid(void **state)
{
	hostdev_ctx *ctx = *state;

	expect_einval_path(ctx, HOSTDEV_PATH_SYSFS, NULL);
	expect_einval_path(ctx, HOSTDEV_PATH_SYSFS, "");
	expect_einval_path(ctx, HOSTDEV_PATH_SYSFS, "relative/sys");
	expect_einval_path(ctx, HOSTDEV_PATH_PCI_IDS, "pci.ids");
	expect_einval_path(ctx, (enum hostdev_path)9, "/tmp");
	expect_einval_path(ctx, (enum hostdev_path) - 1, "/tmp");
	expect_einval_path(ctx, HOSTDEV_PATH_MODULES, "relative");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/sys");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PCI_IDS),
			    "/usr/share/misc/pci.ids");
}

static void test_error_message_names_bad_argument(void **state)
{
	hostdev_ctx *ctx = *state;

	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "not/absolute"), -EINVAL);
	/* The human message names what was wrong. */
	assert_non_null(strstr(hostdev_ctx_get_error(ctx), "not/absolute"));
}

static void test_set_root(void **state)
{
	hostdev_ctx *ctx = *state;

	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_MODULES, "/opt/mods"), 0);
	assert_int_equal(hostdev_ctx_set_root(ctx, "/tmp/fake"), 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/tmp/fake/sys");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_DEV), "/tmp/fake/dev");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PROC), "/tmp/fake/proc");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_STATE),
			    "/tmp/fake/var/lib/hostdev");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_CONFIG),
			    "/tmp/fake/etc/hostdev");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_KUBELET),
			    "/tmp/fake/var/lib/kubelet");
	/* ids databases and the module dir keep their values. */
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_PCI_IDS),
			    "/usr/share/misc/pci.ids");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_USB_IDS),
			    "/usr/share/misc/usb.ids");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_MODULES), "/opt/mods");

	/* A second root replaces the first; it is not appended to it. */
	assert_int_equal(hostdev_ctx_set_root(ctx, "/srv/other"), 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/srv/other/sys");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_KUBELET),
			    "/srv/other/var/lib/kubelet");
}

static void test_set_root_invalid(void **state)
{
	hostdev_ctx *ctx = *state;

	assert_int_equal(hostdev_ctx_set_root(ctx, NULL), -EINVAL);
	assert_true(strlen(hostdev_ctx_get_error(ctx)) > 0);
	assert_int_equal(hostdev_ctx_set_root(ctx, "relative/root"), -EINVAL);
	assert_true(strlen(hostdev_ctx_get_error(ctx)) > 0);
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_SYSFS), "/sys");
	assert_string_equal(hostdev_ctx_get_path(ctx, HOSTDEV_PATH_DEV), "/dev");
}

static void test_node_name(void **state)
{
	hostdev_ctx *ctx = *state;
	char name[32];

	strcpy(name, "node1");
	assert_int_equal(hostdev_ctx_set_node_name(ctx, name), 0);
	strcpy(name, "changed");
	assert_string_equal(hostdev_ctx_get_node_name(ctx), "node1");
	assert_int_equal(hostdev_ctx_set_node_name(ctx, NULL), -EINVAL);
	assert_true(strlen(hostdev_ctx_get_error(ctx)) > 0);
	assert_int_equal(hostdev_ctx_set_node_name(ctx, ""), -EINVAL);
	assert_string_equal(hostdev_ctx_get_node_name(ctx), "node1");
}

/* --- logging ------------------------------------------------------------------------------------
 */

struct log_record {
	int calls;
	int priority[16];
	char message[16][512];
};

static void record_log(int priority, const char *message, void *userdata)
{
	struct log_record *rec = userdata;

	if (rec->calls < 16) {
		rec->priority[rec->calls] = priority;
		snprintf(rec->message[rec->calls], sizeof(rec->message[0]), "%s", message);
	}
	rec->calls++;
}

static void test_log_callback(void **state)
{
	hostdev_ctx *ctx = *state;
	struct log_record rec;
	int before;

	memset(&rec, 0, sizeof(rec));
	hostdev_ctx_set_log_fn(ctx, record_log, &rec);
	hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	/*
	 * A failing call reports its message through the callback (at a priority of the library's
	 * choosing), preformatted, with our userdata.
	 */
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "rel/path"), -EINVAL);
	assert_true(rec.calls >= 1);
	assert_in_range(rec.priority[0], HOSTDEV_LOG_ERR, HOSTDEV_LOG_DEBUG);
	assert_non_null(strstr(rec.message[0], "rel/path"));
	assert_null(strchr(rec.message[0], '\n'));
	assert_null(strstr(rec.message[0], "%s"));
	assert_string_equal(rec.message[0], hostdev_ctx_get_error(ctx));

	/* Removing the callback stops the delivery; the error message is still recorded. */
	hostdev_ctx_set_log_fn(ctx, NULL, NULL);
	before = rec.calls;
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "rel/again"), -EINVAL);
	assert_int_equal(rec.calls, before);
	assert_non_null(strstr(hostdev_ctx_get_error(ctx), "rel/again"));
}

static void test_log_priority(void **state)
{
	hostdev_ctx *ctx = *state;
	struct log_record rec;
	int prio;

	memset(&rec, 0, sizeof(rec));
	hostdev_ctx_set_log_fn(ctx, record_log, &rec);
	hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	assert_int_equal(hostdev_ctx_get_log_priority(ctx), HOSTDEV_LOG_DEBUG);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "rel/x"), -EINVAL);
	assert_int_equal(rec.calls, 1);
	prio = rec.priority[0];

	/* Threshold just below the message's priority: dropped, but the error is still recorded. */
	hostdev_ctx_set_log_priority(ctx, prio - 1);
	assert_int_equal(hostdev_ctx_get_log_priority(ctx), prio - 1);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "rel/y"), -EINVAL);
	assert_int_equal(rec.calls, 1);
	assert_non_null(strstr(hostdev_ctx_get_error(ctx), "rel/y"));

	/* Threshold equal to it: delivered ("numerically above" is dropped, equal is kept). */
	hostdev_ctx_set_log_priority(ctx, prio);
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "rel/z"), -EINVAL);
	assert_int_equal(rec.calls, 2);
	assert_int_equal(rec.priority[1], prio);
	assert_non_null(strstr(rec.message[1], "rel/z"));
}

/* Debug messages only reach the callback when the threshold lets them through. */
static void test_log_debug_filtered(void **state)
{
	hostdev_ctx *ctx = *state;
	struct log_record rec;
	hostdev_pci_enum *e = NULL;
	hostdev_pci_device *dev = NULL;

	memset(&rec, 0, sizeof(rec));
	hostdev_ctx_set_log_fn(ctx, record_log, &rec);
	/* An empty fake sysfs: the library may log at debug/info level while looking at it. */
	assert_int_equal(hostdev_ctx_set_root(ctx, "/nonexistent-hostdev-root"), 0);
	assert_int_equal(hostdev_ctx_get_log_priority(ctx), HOSTDEV_LOG_WARNING);
	(void)hostdev_pci_device_new(ctx, "0000:00:00.0", &dev);
	assert_null(dev);
	if (hostdev_pci_enum_new(ctx, &e) == 0) {
		(void)hostdev_pci_enum_next(e, &dev);
		hostdev_pci_enum_unref(e);
	}
	for (int i = 0; i < rec.calls && i < 16; i++)
		assert_true(rec.priority[i] <= HOSTDEV_LOG_WARNING);
}

/* --- reference counting -------------------------------------------------------------------------
 */

static void test_ref_unref(void **state)
{
	hostdev_ctx *ctx = *state;

	assert_ptr_equal(hostdev_ctx_ref(ctx), ctx);
	/* The extra reference keeps the context alive. */
	assert_null(hostdev_ctx_unref(ctx));
	assert_int_equal(hostdev_ctx_set_node_name(ctx, "still-alive"), 0);
	assert_string_equal(hostdev_ctx_get_node_name(ctx), "still-alive");
	assert_null(hostdev_ctx_unref(NULL));
	hostdev_free(NULL);
}

/* Objects are released on a garbage collector's thread while the context is in use: every object
 * holds a context reference, so references are taken and dropped on several threads at once. The
 * verdict of a lost update is a use after free or a leak of the context, which the AddressSanitizer
 * and valgrind runs of the unit tests report (tests/ci.sh); the plain run checks the context is
 * alive and usable afterwards. */
#define REF_THREADS 4
#define REF_ROUNDS 200000

static void *ref_and_unref(void *ctx)
{
	for (int i = 0; i < REF_ROUNDS; i++) {
		hostdev_ctx_ref(ctx);
		hostdev_ctx_unref(ctx);
	}
	return NULL;
}

static void test_ref_unref_threads(void **state)
{
	hostdev_ctx *ctx = NULL;
	pthread_t threads[REF_THREADS];

	assert_int_equal(hostdev_ctx_new(&ctx), 0);
	for (int i = 0; i < REF_THREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, ref_and_unref, ctx), 0);
	for (int i = 0; i < REF_THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(hostdev_ctx_set_node_name(ctx, "still-alive"), 0);
	assert_string_equal(hostdev_ctx_get_node_name(ctx), "still-alive");
	hostdev_ctx_unref(ctx);
}

/* After a failure and a success the message is still a valid string (no dangling pointer). */
static void test_error_cleared_state(void **state)
{
	hostdev_ctx *ctx = *state;

	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "rel"), -EINVAL);
	assert_true(strlen(hostdev_ctx_get_error(ctx)) > 0);
	/* A successful call does not need to clear it, but the message stays a valid string. */
	assert_int_equal(hostdev_ctx_set_path(ctx, HOSTDEV_PATH_SYSFS, "/sys"), 0);
	assert_non_null(hostdev_ctx_get_error(ctx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_invalid),
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_path_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_message_names_bad_argument, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_root_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_node_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_priority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_debug_filtered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ref_unref, setup, teardown),
	    cmocka_unit_test(test_ref_unref_threads),
	    cmocka_unit_test_setup_teardown(test_error_cleared_state, setup, teardown),
	};

	return cmocka_run_group_tests_name("context", tests, NULL, NULL);
}
