/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mediated devices: parents and types (PCI and non-PCI), the mdev list, create and remove, on a
 * fake host (sriov_tree.h) with the kernel model (tests/kmodel) playing the mdev core. The same
 * flow runs on a real kernel with the mtty sample in tests/vm/scenarios/8*-mdev-*.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "sriov_tree.h"

#define UUID1 "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(kmodel_present());
	f->root = sriov_tree_new();
	assert_non_null(f->root);
	f->ctx = sriov_tree_ctx(f->root);
	assert_non_null(f->ctx);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kmodel_disable();
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

static bool contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		fprintf(stderr, "'%s' does not contain '%s'\n", haystack, needle);
		return false;
	}
	return true;
}

static hostdev_mdev_types *types_of(struct fixture *f, const char *parent)
{
	hostdev_mdev_types *t = NULL;

	assert_int_equal(hostdev_mdev_types_read(f->ctx, parent, &t), 0);
	return t;
}

/* available_instances of @type of @parent, -2 when not listed. */
static int available(struct fixture *f, const char *parent, const char *type)
{
	hostdev_mdev_types *t = types_of(f, parent);
	int n = -2;

	for (size_t i = 0; i < hostdev_mdev_types_get_count(t); i++)
		if (strcmp(hostdev_mdev_types_get_type(t, i), type) == 0)
			n = hostdev_mdev_types_get_available(t, i);
	hostdev_mdev_types_unref(t);
	return n;
}

static size_t mdev_count(struct fixture *f)
{
	hostdev_mdev_list *l = NULL;
	size_t n;

	assert_int_equal(hostdev_mdev_list_read(f->ctx, &l), 0);
	n = hostdev_mdev_list_get_count(l);
	hostdev_mdev_list_unref(l);
	return n;
}

static void test_types_all_parents(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_types *t = types_of(f, NULL);

	assert_int_equal(hostdev_mdev_types_get_count(t), 4);
	/* sorted by parent, then type; PCI and non-PCI parents alike */
	assert_string_equal(hostdev_mdev_types_get_parent(t, 0), GPU);
	assert_int_equal(hostdev_mdev_types_is_pci_parent(t, 0), 1);
	assert_string_equal(hostdev_mdev_types_get_type(t, 0), "nvidia-222");
	assert_string_equal(hostdev_mdev_types_get_name(t, 0), "GRID T4-1Q");
	assert_string_equal(hostdev_mdev_types_get_selector(t, 0), "GRID_T4-1Q");
	assert_int_equal(hostdev_mdev_types_get_available(t, 0), 2);
	assert_string_equal(hostdev_mdev_types_get_device_api(t, 0), "vfio-pci");
	assert_string_equal(hostdev_mdev_types_get_description(t, 0),
			    "num_heads=4, frl_config=60, framebuffer=1024M");
	assert_string_equal(hostdev_mdev_types_get_type(t, 1), "nvidia-223");
	assert_int_equal(hostdev_mdev_types_get_available(t, 1), 0);
	assert_null(hostdev_mdev_types_get_description(t, 1));
	assert_string_equal(hostdev_mdev_types_get_parent(t, 2), "mtty");
	assert_int_equal(hostdev_mdev_types_is_pci_parent(t, 2), 0);
	assert_string_equal(hostdev_mdev_types_get_type(t, 2), "mtty-1");
	assert_string_equal(hostdev_mdev_types_get_selector(t, 2), "Single_port_serial");
	assert_string_equal(hostdev_mdev_types_get_type(t, 3), "mtty-2");
	assert_string_equal(hostdev_mdev_types_get_name(t, 3), "Dual port serial");
	assert_int_equal(hostdev_mdev_types_get_available(t, 3), 12);
	/* out of range */
	assert_null(hostdev_mdev_types_get_parent(t, 4));
	assert_int_equal(hostdev_mdev_types_get_available(t, 4), -1);
	assert_int_equal(hostdev_mdev_types_is_pci_parent(t, 4), 0);
	assert_ptr_equal(hostdev_mdev_types_ref(t), t);
	hostdev_mdev_types_unref(t);
	assert_null(hostdev_mdev_types_unref(t));
	assert_null(hostdev_mdev_types_unref(NULL));
	assert_int_equal(hostdev_mdev_types_get_count(NULL), 0);
}

static void test_types_of_one_parent(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_types *t = NULL;

	t = types_of(f, "af:00.0");
	assert_int_equal(hostdev_mdev_types_get_count(t), 2);
	assert_string_equal(hostdev_mdev_types_get_parent(t, 1), GPU);
	hostdev_mdev_types_unref(t);
	t = types_of(f, "mtty");
	assert_int_equal(hostdev_mdev_types_get_count(t), 2);
	hostdev_mdev_types_unref(t);
	t = NULL;
	assert_int_equal(hostdev_mdev_types_read(f->ctx, NIC_PF, &t), -EOPNOTSUPP);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "offers no mediated device types"));
	assert_int_equal(hostdev_mdev_types_read(f->ctx, "0000:99:00.0", &t), -ENODEV);
	assert_int_equal(hostdev_mdev_types_read(f->ctx, "nosuch", &t), -ENODEV);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "hostdev_mdev_types_read()"));
	assert_int_equal(hostdev_mdev_types_read(f->ctx, "../mtty", &t), -EINVAL);
	assert_int_equal(hostdev_mdev_types_read(f->ctx, "..", &t), -EINVAL);
	assert_null(t);
}

/* PCI parents without /sys/class/mdev_bus (older trees, captures) are found on the PCI bus. */
static void test_pci_parent_without_class_link(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_types *t;

	assert_int_equal(fakeroot_remove(f->root, "sys/class/mdev_bus/" GPU), 0);
	t = types_of(f, NULL);
	assert_int_equal(hostdev_mdev_types_get_count(t), 4);
	assert_string_equal(hostdev_mdev_types_get_parent(t, 0), GPU);
	assert_int_equal(hostdev_mdev_types_is_pci_parent(t, 0), 1);
	hostdev_mdev_types_unref(t);
}

static void test_no_parents(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_types *t;
	hostdev_mdev_list *l = NULL;

	fakeroot_remove(f->root, "sys/class/mdev_bus");
	fakeroot_remove(f->root, "sys/bus/mdev");
	fakeroot_remove(f->root, "sys/bus/pci/devices/" GPU);
	t = types_of(f, NULL);
	assert_int_equal(hostdev_mdev_types_get_count(t), 0);
	hostdev_mdev_types_unref(t);
	assert_int_equal(hostdev_mdev_list_read(f->ctx, &l), 0);
	assert_int_equal(hostdev_mdev_list_get_count(l), 0);
	hostdev_mdev_list_unref(l);
}

static void test_create_list_remove(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_list *l = NULL;
	char *uuid = NULL;

	assert_int_equal(mdev_count(f), 0);
	/* upper case in, lower case out (the kernel names the device %pUl) */
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-2",
					     "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", NULL, 0,
					     &uuid),
			 0);
	assert_string_equal(uuid, UUID1);
	hostdev_free(uuid);
	assert_int_equal(available(f, "mtty", "mtty-2"), 11);

	assert_int_equal(hostdev_mdev_list_read(f->ctx, &l), 0);
	assert_int_equal(hostdev_mdev_list_get_count(l), 1);
	assert_string_equal(hostdev_mdev_list_get_uuid(l, 0), UUID1);
	assert_string_equal(hostdev_mdev_list_get_parent(l, 0), "mtty");
	assert_string_equal(hostdev_mdev_list_get_type(l, 0), "mtty-2");
	assert_string_equal(hostdev_mdev_list_get_type_name(l, 0), "Dual port serial");
	assert_string_equal(hostdev_mdev_list_get_selector(l, 0), "Dual_port_serial");
	assert_string_equal(hostdev_mdev_list_get_driver(l, 0), "vfio_mdev");
	assert_true(hostdev_mdev_list_get_iommu_group(l, 0) >= 0);
	assert_null(hostdev_mdev_list_get_uuid(l, 1));
	assert_int_equal(hostdev_mdev_list_get_iommu_group(l, 1), -1);
	hostdev_mdev_list_unref(l);

	assert_int_equal(hostdev_mdev_remove(f->ctx, UUID1, NULL, 0), 0);
	assert_int_equal(mdev_count(f), 0);
	assert_int_equal(available(f, "mtty", "mtty-2"), 12);
	assert_int_equal(hostdev_mdev_remove(f->ctx, UUID1, NULL, 0), -ENODEV);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "no such mediated device"));
}

/* Out of file descriptors is not "no mdevs": a device plugin told so would report every mdev gone. */
static void test_list_out_of_fds(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_list *l = NULL;
	struct rlimit old, low;
	int free_fd, r;

	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-2", UUID1, NULL, 0, NULL), 0);
	assert_int_equal(mdev_count(f), 1);
	free_fd = dup(0); /* the lowest free descriptor: with the limit there, every open fails */
	assert_true(free_fd >= 0);
	close(free_fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)free_fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	r = hostdev_mdev_list_read(f->ctx, &l);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	assert_null(l);
	assert_true(
	    contains(hostdev_ctx_get_error(f->ctx), "cannot list the mediated devices in "));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "Too many open files"));
	assert_int_equal(mdev_count(f), 1);
	assert_int_equal(hostdev_mdev_remove(f->ctx, UUID1, NULL, 0), 0);
}

static void test_create_generated_uuid_on_pci_parent(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_list *l = NULL;
	char *uuid = NULL;

	assert_int_equal(hostdev_mdev_create(f->ctx, "af:00.0", "nvidia-222", NULL, NULL, 0, &uuid),
			 0);
	assert_non_null(uuid);
	assert_int_equal(strlen(uuid), 36);
	assert_int_equal(uuid[14], '4'); /* version 4 */
	assert_true(strchr("89ab", uuid[19]) != NULL);
	assert_int_equal(hostdev_mdev_list_read(f->ctx, &l), 0);
	assert_int_equal(hostdev_mdev_list_get_count(l), 1);
	assert_string_equal(hostdev_mdev_list_get_uuid(l, 0), uuid);
	assert_string_equal(hostdev_mdev_list_get_parent(l, 0), GPU);
	assert_string_equal(hostdev_mdev_list_get_selector(l, 0), "GRID_T4-1Q");
	hostdev_mdev_list_unref(l);
	hostdev_free(uuid);
	/* without an output pointer */
	assert_int_equal(hostdev_mdev_create(f->ctx, GPU, "nvidia-222", NULL, NULL, 0, NULL), 0);
	assert_int_equal(mdev_count(f), 2);
	/* now exhausted: refused before any write */
	assert_int_equal(hostdev_mdev_create(f->ctx, GPU, "nvidia-222", NULL, NULL, 0, NULL),
			 -ENOSPC);
	assert_true(
	    contains(hostdev_ctx_get_error(f->ctx), "no instances of mdev type nvidia-222"));
	assert_int_equal(kmodel_log_count(f->root, "mdev_create"), 2);
}

static void test_create_refusals(void **state)
{
	struct fixture *f = *state;
	char *uuid = (char *)"untouched";

	assert_int_equal(hostdev_mdev_create(f->ctx, GPU, "nvidia-223", NULL, NULL, 0, &uuid),
			 -ENOSPC);
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-9", NULL, NULL, 0, &uuid),
			 -ENOENT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "its types are: mtty-1, mtty-2"));
	assert_int_equal(
	    hostdev_mdev_create(f->ctx, "mtty", "mtty-1", "not-a-uuid", NULL, 0, &uuid), -EINVAL);
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "../x", NULL, NULL, 0, &uuid),
			 -EINVAL);
	assert_int_equal(hostdev_mdev_create(f->ctx, "nosuch", "mtty-1", NULL, NULL, 0, &uuid),
			 -ENODEV);
	assert_int_equal(hostdev_mdev_create(f->ctx, NIC_PF, "x", NULL, NULL, 0, &uuid),
			 -EOPNOTSUPP);
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-1", NULL, NULL, 1, &uuid),
			 -EINVAL);
	assert_string_equal(uuid, "untouched");
	assert_int_equal(kmodel_log_count(f->root, "mdev_create"), 0);

	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-1", UUID1, NULL, 0, NULL), 0);
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-2", UUID1, NULL, 0, &uuid),
			 -EEXIST);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "exists already"));
	assert_string_equal(uuid, "untouched");
}

static void test_driver_errors(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_FAIL, "mdev_create:mtty-1:EIO,mdev_remove:*:EBUSY", 1);
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-1", UUID1, NULL, 0, NULL), -EIO);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "creating mdev " UUID1));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "dmesg"));
	setenv(KMODEL_ENV_FAIL, "mdev_create:mtty-1:ENOSPC,mdev_remove:*:EBUSY", 1);
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-1", UUID1, NULL, 0, NULL),
			 -ENOSPC);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "no capacity left"));
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-2", UUID1, NULL, 0, NULL), 0);
	assert_int_equal(hostdev_mdev_remove(f->ctx, UUID1, NULL, 0), -EBUSY);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "stop the VM first"));
	assert_int_equal(mdev_count(f), 1);
}

/* Poll until @count mdevs exist and @needle is in the kmodel log (at most 30 s). */
static bool wait_mdevs(struct fixture *f, size_t count, const char *needle)
{
	for (int i = 0; i < 6000; i++) {
		if (mdev_count(f) == count && kmodel_log_count(f->root, needle) > 0)
			return true;
		usleep(5000);
	}
	return false;
}

static void test_watchdog(void **state)
{
	struct fixture *f = *state;
	struct hostdev_mdev_options opts;

	assert_int_equal(hostdev_mdev_options_init(&opts, HOSTDEV_MDEV_OPTIONS_VERSION), 0);
	opts.timeout_ms = 30000;
	assert_int_equal(hostdev_mdev_create(f->ctx, "mtty", "mtty-1", UUID1, &opts, 0, NULL), 0);
	/* The driver hangs until the test lets it go: the watchdog must give up on its own. */
	opts.timeout_ms = 150;
	setenv(KMODEL_ENV_HOLD, "mdev_remove:" UUID1, 1);
	assert_int_equal(hostdev_mdev_remove(f->ctx, UUID1, &opts, 0), -ETIMEDOUT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "probably still holds it open"));
	assert_true(kmodel_hold_wait(f->root));
	assert_int_equal(mdev_count(f), 1);
	/* the kernel finishes on its own once the driver returns */
	kmodel_hold_release(f->root);
	assert_true(wait_mdevs(f, 0, "mdev_remove " UUID1));
}

static void test_uuid_generate(void **state)
{
	struct fixture *f = *state;
	char a[HOSTDEV_MDEV_UUID_MAX], b[HOSTDEV_MDEV_UUID_MAX], small[36];

	assert_int_equal(hostdev_mdev_uuid_generate(f->ctx, a, sizeof(a)), 36);
	assert_int_equal(hostdev_mdev_uuid_generate(f->ctx, b, sizeof(b)), 36);
	assert_string_not_equal(a, b);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(a[i], '-');
		else
			assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	}
	assert_int_equal(hostdev_mdev_uuid_generate(f->ctx, small, sizeof(small)), -ENOSPC);
	assert_int_equal(hostdev_mdev_uuid_generate(NULL, a, sizeof(a)), -EINVAL);
	assert_int_equal(hostdev_mdev_options_init(NULL, 1), -EINVAL);
}

/* KubeVirt replaces spaces first and trims afterwards; a type without a name uses its id. */
static void test_selector_edges(void **state)
{
	struct fixture *f = *state;
	hostdev_mdev_types *t;

	assert_int_equal(fakeroot_write(f->root,
					"sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-1/"
					"name",
					" GRID  A100-4C\t\n"),
			 0);
	assert_int_equal(
	    fakeroot_remove(f->root,
			    "sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-2/name"),
	    0);
	t = types_of(f, "mtty");
	assert_string_equal(hostdev_mdev_types_get_selector(t, 0), "_GRID__A100-4C");
	assert_null(hostdev_mdev_types_get_name(t, 1));
	assert_string_equal(hostdev_mdev_types_get_selector(t, 1), "mtty-2");
	hostdev_mdev_types_unref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_types_all_parents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_types_of_one_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_parent_without_class_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_parents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_list_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_out_of_fds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_generated_uuid_on_pci_parent, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_driver_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uuid_generate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selector_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
