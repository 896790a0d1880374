/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-test of the SR-IOV and mdev part of the kernel model (tests/kmodel/kmodel.c): plain writes,
 * no libhostdev, pinned to what drivers/pci/iov.c and the mdev core do, so that a wrong model
 * cannot make a wrong library pass. tests/vm/scenarios/8* check the same rules on a real kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sriov_tree.h"

#define UUID1 "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
#define MTTY2 "sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-2"

/* `echo -n value > file` below the root. Returns 0 or -errno. */
static int store(struct fakeroot *root, const char *rel, const char *value)
{
	int fd = open(fakeroot_abspath(root, rel), O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

static bool present(struct fakeroot *root, const char *rel)
{
	return access(fakeroot_abspath(root, rel), F_OK) == 0;
}

static const char *link_base(struct fakeroot *root, const char *rel)
{
	static char buf[256];
	char target[512];
	ssize_t n = readlink(fakeroot_abspath(root, rel), target, sizeof(target) - 1);

	buf[0] = '\0';
	if (n > 0) {
		target[n] = '\0';
		snprintf(buf, sizeof(buf), "%s", strrchr(target, '/') + 1);
	}
	return buf;
}

static int setup(void **state)
{
	assert_true(kmodel_present());
	*state = sriov_tree_new();
	assert_non_null(*state);
	return 0;
}

static int teardown(void **state)
{
	kmodel_disable();
	fakeroot_free(*state);
	return 0;
}

#define NUMVFS(pf) "sys/bus/pci/devices/" pf "/sriov_numvfs"

static void test_numvfs_rules(void **state)
{
	struct fakeroot *root = *state;

	assert_int_equal(store(root, NUMVFS(NIC_PF), "abc"), -EINVAL);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "-1"), -EINVAL);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "9"), -ERANGE);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "0"), 0); /* equal: no-op */
	assert_int_equal(store(root, NUMVFS(NODRV_PF), "2"), -ENOENT);
	assert_int_equal(store(root, NUMVFS(NODRV_PF), "9"), -ERANGE); /* range checked first */
	assert_int_equal(store(root, NUMVFS(NIC_PF), "4\n"), 0);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "2"), -EBUSY);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "4"), 0);
	/* the VFs, their links, groups and drivers */
	assert_string_equal(link_base(root, "sys/bus/pci/devices/" NIC_PF "/virtfn3"),
			    "0000:3b:02.3");
	assert_string_equal(link_base(root, "sys/bus/pci/devices/0000:3b:02.3/physfn"), NIC_PF);
	assert_string_equal(link_base(root, "sys/bus/pci/devices/0000:3b:02.3/driver"), "iavf");
	assert_true(present(root, "sys/bus/pci/drivers/iavf/0000:3b:02.3"));
	assert_true(present(root, "sys/class/net/ens4f0v3"));
	assert_true(link_base(root, "sys/bus/pci/devices/0000:3b:02.3/iommu_group")[0]);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "0"), 0);
	assert_false(present(root, "sys/bus/pci/devices/0000:3b:02.0"));
	assert_false(present(root, "sys/bus/pci/devices/" NIC_PF "/virtfn0"));
	assert_false(present(root, "sys/bus/pci/drivers/iavf/0000:3b:02.3"));
	assert_false(present(root, "sys/class/net/ens4f0v3"));
}

static void test_autoprobe(void **state)
{
	struct fakeroot *root = *state;

	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC_PF "/sriov_drivers_autoprobe", "x"),
			 -EINVAL);
	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC_PF "/sriov_drivers_autoprobe", "0"),
			 0);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "1"), 0);
	assert_string_equal(link_base(root, "sys/bus/pci/devices/0000:3b:02.0/driver"), "");
	/* the native driver binds on a later probe */
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", "0000:3b:02.0"), 0);
	assert_string_equal(link_base(root, "sys/bus/pci/devices/0000:3b:02.0/driver"), "iavf");
}

static void test_injections(void **state)
{
	struct fakeroot *root = *state;

	setenv(KMODEL_ENV_FAIL, "numvfs:" NIC_PF ":ENOSPC", 1);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "2"), -ENOSPC);
	unsetenv(KMODEL_ENV_FAIL);
	setenv(KMODEL_ENV_SRIOV_LIMIT, NIC_PF ":1", 1);
	assert_int_equal(store(root, NUMVFS(NIC_PF), "3"), 0);
	assert_true(present(root, "sys/bus/pci/devices/" NIC_PF "/virtfn0"));
	assert_false(present(root, "sys/bus/pci/devices/" NIC_PF "/virtfn1"));
}

static void test_mdev_rules(void **state)
{
	struct fakeroot *root = *state;

	assert_int_equal(store(root, MTTY2 "/create", "nope"), -EINVAL);
	assert_int_equal(store(root, MTTY2 "/create", UUID1 "\n"), 0);
	assert_int_equal(store(root, MTTY2 "/create", UUID1), -EEXIST);
	assert_string_equal(link_base(root, "sys/bus/mdev/devices/" UUID1 "/mdev_type"), "mtty-2");
	assert_true(present(root, MTTY2 "/devices/" UUID1));
	assert_int_equal(store(root, "sys/bus/mdev/devices/" UUID1 "/remove", "x"), -EINVAL);
	assert_int_equal(store(root, "sys/bus/mdev/devices/" UUID1 "/remove", "0"), 0);
	assert_true(present(root, "sys/bus/mdev/devices/" UUID1));
	assert_int_equal(store(root, "sys/bus/mdev/devices/" UUID1 "/remove", "1"), 0);
	assert_false(present(root, "sys/bus/mdev/devices/" UUID1));
	assert_false(present(root, MTTY2 "/devices/" UUID1));
	/* no instance left: what mtty answers */
	assert_int_equal(fakeroot_write(root, MTTY2 "/available_instances", "0\n"), 0);
	assert_int_equal(store(root, MTTY2 "/create", UUID1), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_numvfs_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_autoprobe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_injections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mdev_rules, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
