/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mediated devices and passthrough: on a vGPU node (vfio_tree.h, VFIO_TREE_VGPU: an A2 with 16
 * VFs, three of them hosting a vGPU, one held open by a QEMU), the active mdevs of a parent are
 * shown by the API and the JSON, binding a parent that has some is refused unless forced (its
 * driver's unbind would destroy them, and blocks while a VM holds one), and the preflight check
 * says why such a device is not assignable.
 *
 * The kernel is played by the kernel model (tests/kmodel, LD_PRELOAD): this machine cannot bind
 * devices or create mdevs, its own disk and NIC are PCI devices.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vfio_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(kmodel_present());
	f->root = vfio_tree_new(VFIO_TREE_VGPU);
	assert_non_null(f->root);
	f->ctx = vfio_tree_ctx(f->root);
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
	if (!haystack || !strstr(haystack, needle)) {
		fprintf(stderr, "'%s' does not contain '%s'\n", haystack ? haystack : "(null)",
			needle);
		return false;
	}
	return true;
}

static int sysfs_writes(struct fixture *f)
{
	return kmodel_log_count(f->root, " override ") + kmodel_log_count(f->root, " unbind ") +
	       kmodel_log_count(f->root, " bind ") + kmodel_log_count(f->root, " probe ");
}

static hostdev_pci_device *device(struct fixture *f, const char *address)
{
	hostdev_pci_device *dev = NULL;

	assert_int_equal(hostdev_pci_device_new(f->ctx, address, &dev), 0);
	return dev;
}

static void test_active_mdevs(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *vf0 = device(f, VGPU_VF0), *vf2 = device(f, VGPU_VF2);
	hostdev_pci_device *vf3 = device(f, VGPU_VF3), *pf = device(f, VGPU_PF);

	assert_int_equal(hostdev_pci_device_get_active_mdev_count(vf0), 1);
	assert_string_equal(hostdev_pci_device_get_active_mdev_uuid(vf0, 0), VGPU_MDEV0);
	assert_string_equal(hostdev_pci_device_get_active_mdev_type(vf0, 0), "nvidia-744");
	assert_string_equal(hostdev_pci_device_get_active_mdev_type_name(vf0, 0), "NVIDIA A2-4Q");
	assert_int_equal(hostdev_pci_device_get_active_mdev_iommu_group(vf0, 0), 100);
	assert_int_equal(hostdev_pci_device_is_active_mdev_in_use(vf0, 0), 1);
	/* the types are still listed, with nothing left to create */
	assert_int_equal(hostdev_pci_device_get_mdev_type_count(vf0), 5);
	assert_int_equal(hostdev_pci_device_get_mdev_type_available(vf0, 2), 0);

	assert_int_equal(hostdev_pci_device_get_active_mdev_count(vf2), 1);
	assert_string_equal(hostdev_pci_device_get_active_mdev_type_name(vf2, 0), "NVIDIA A2-8Q");
	assert_int_equal(hostdev_pci_device_is_active_mdev_in_use(vf2, 0), 0);

	assert_int_equal(hostdev_pci_device_get_active_mdev_count(vf3), 0);
	assert_int_equal(hostdev_pci_device_get_active_mdev_count(pf), 0);
	/* out of range and NULL */
	assert_null(hostdev_pci_device_get_active_mdev_uuid(vf0, 1));
	assert_null(hostdev_pci_device_get_active_mdev_type(vf0, 1));
	assert_int_equal(hostdev_pci_device_get_active_mdev_iommu_group(vf0, 1), -1);
	assert_int_equal(hostdev_pci_device_is_active_mdev_in_use(vf0, 1), -1);
	assert_int_equal(hostdev_pci_device_get_active_mdev_count(NULL), 0);
	hostdev_pci_device_unref(vf0);
	hostdev_pci_device_unref(vf2);
	hostdev_pci_device_unref(vf3);
	hostdev_pci_device_unref(pf);
}

/* A QEMU that holds the vfio cdev (iommufd) instead of the group node counts as well. */
static void test_in_use_through_cdev(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *vf1;
	char rel[512];

	snprintf(rel, sizeof(rel), "%s/%s/vfio-dev/vfio7", fakeroot_pci_dir(f->root, VGPU_VF1),
		 VGPU_MDEV1);
	assert_int_equal(fakeroot_mkdir(f->root, rel), 0);
	assert_int_equal(fakeroot_write(f->root, "dev/vfio/devices/vfio7", ""), 0);
	assert_int_equal(fakeroot_symlink(f->root, "dev/vfio/devices/vfio7", "proc/4343/fd/20"), 0);
	vf1 = device(f, VGPU_VF1);
	assert_int_equal(hostdev_pci_device_is_active_mdev_in_use(vf1, 0), 1);
	hostdev_pci_device_unref(vf1);
}

static void test_json(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *vf0 = device(f, VGPU_VF0), *vf3 = device(f, VGPU_VF3);
	char *json = NULL;

	assert_int_equal(hostdev_pci_device_to_json(vf0, 0, &json), 0);
	assert_true(contains(json,
			     "\"mdevs\":[{\"uuid\":\"" VGPU_MDEV0 "\",\"type\":\"nvidia-744\","
			     "\"type_name\":\"NVIDIA A2-4Q\",\"iommu_group\":100,"
			     "\"in_use\":true}]"));
	hostdev_free(json);
	assert_int_equal(hostdev_pci_device_to_json(vf3, 0, &json), 0);
	assert_true(contains(json, "\"mdevs\":[]"));
	hostdev_free(json);
	hostdev_pci_device_unref(vf0);
	hostdev_pci_device_unref(vf3);
}

static void test_bind_refuses_mdev_parent(void **state)
{
	struct fixture *f = *state;
	const char *err;

	assert_int_equal(hostdev_vfio_bind(f->ctx, VGPU_VF0, NULL, 0), -EBUSY);
	err = hostdev_ctx_get_error(f->ctx);
	assert_true(contains(err, VGPU_VF0));
	assert_true(contains(err, VGPU_MDEV0));
	assert_true(contains(err, "NVIDIA A2-4Q"));
	assert_true(contains(err, "in use"));
	assert_true(contains(err, "HOSTDEV_BIND_FORCE"));
	/* The PF's driver would take every VF with it. */
	assert_int_equal(hostdev_vfio_bind(f->ctx, VGPU_PF, NULL, 0), -EBUSY);
	err = hostdev_ctx_get_error(f->ctx);
	assert_true(contains(err, "SR-IOV PF of " VGPU_VF0 ", " VGPU_VF1 ", " VGPU_VF2));
	assert_true(contains(err, "3 active mediated devices"));
	assert_int_equal(sysfs_writes(f), 0);
	assert_string_equal(vfio_tree_driver(f->root, VGPU_VF0), "nvidia");

	/* A VF without a vGPU binds; a forced bind goes through. */
	assert_int_equal(hostdev_vfio_bind(f->ctx, VGPU_VF3, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, VGPU_VF3), "vfio-pci");
	assert_int_equal(hostdev_vfio_bind(f->ctx, VGPU_VF2, NULL, HOSTDEV_BIND_FORCE), 1);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 2);
	assert_string_equal(vfio_tree_driver(f->root, VGPU_VF3), "nvidia");
}

static void test_check_says_why(void **state)
{
	struct fixture *f = *state;
	const char *addresses[] = {VGPU_VF0, VGPU_VF3, VGPU_PF};
	hostdev_vfio_report *report = NULL;

	assert_int_equal(hostdev_vfio_check(f->ctx, addresses, 3, 0, &report), 0);
	assert_int_equal(hostdev_vfio_report_get_device_count(report), 3);
	assert_string_equal(hostdev_vfio_report_get_device_address(report, 0), VGPU_VF0);
	assert_int_equal(hostdev_vfio_report_get_device_status(report, 0), HOSTDEV_CHECK_FAIL);
	assert_true(contains(hostdev_vfio_report_get_device_message(report, 0),
			     "hosts 1 active mediated device: " VGPU_MDEV0));
	assert_true(
	    contains(hostdev_vfio_report_get_device_remedy(report, 0), "hostdev_mdev_remove()"));
	assert_int_equal(hostdev_vfio_report_get_device_status(report, 1), HOSTDEV_CHECK_PASS);
	assert_int_equal(hostdev_vfio_report_get_device_status(report, 2), HOSTDEV_CHECK_FAIL);
	assert_true(contains(hostdev_vfio_report_get_device_message(report, 2), "SR-IOV PF"));
	hostdev_vfio_report_unref(report);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_active_mdevs),   T(test_in_use_through_cdev),
	    T(test_json),	    T(test_bind_refuses_mdev_parent),
	    T(test_check_says_why),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
