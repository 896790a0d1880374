/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-test of the kernel model (kmodel.c). The model stands in for the kernel in the vfio tests
 * because this machine cannot bind devices (its own disk and NIC are PCI devices); these tests pin
 * the kernel behaviour it claims to reproduce, so that a wrong model cannot make a wrong library
 * pass. The same behaviour is checked against the real kernel in
 * tests/vm/scenarios/30-vfio-smoke.sh and 40-noiommu.sh.
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
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "kmodel_ctl.h"

#define NIC "0000:01:00.0"
#define AUDIO "0000:02:00.1"
#define GPU "0000:02:00.0"
#define NOGROUP "0000:03:00.0"

static const char *const nic_if[] = {"enp1s0", NULL};

/* Write @value to @rel below the root like `echo -n value > file`. Returns 0 or -errno. */
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

static int setup(void **state)
{
	struct fakeroot *root = fakeroot_new();

	assert_non_null(root);
	assert_int_equal(fakeroot_pci_add(root, NIC,
					  &(struct fake_pci){.vendor = 0x8086,
							     .device = 0x10d3,
							     .class_code = 0x020000,
							     .driver = "e1000e",
							     .iommu_group = "5",
							     .netdevs = nic_if}),
			 0);
	assert_int_equal(fakeroot_pci_add(root, GPU,
					  &(struct fake_pci){.vendor = 0x10de,
							     .device = 0x1eb8,
							     .class_code = 0x030000,
							     .driver = "nouveau",
							     .iommu_group = "7",
							     .multifunction = true}),
			 0);
	assert_int_equal(fakeroot_pci_add(root, AUDIO,
					  &(struct fake_pci){.vendor = 0x10de,
							     .device = 0x10fa,
							     .class_code = 0x040300,
							     .driver = "snd_hda_intel",
							     .iommu_group = "7"}),
			 0);
	assert_int_equal(fakeroot_pci_add(root, NOGROUP,
					  &(struct fake_pci){.vendor = 0x8086,
							     .device = 0x10d3,
							     .class_code = 0x020000,
							     .driver = "e1000e"}),
			 0);
	assert_int_equal(kmodel_vfio_loaded(root), 0);
	assert_int_equal(kmodel_enable(root), 0);
	*state = root;
	return 0;
}

static int teardown(void **state)
{
	kmodel_disable();
	fakeroot_free(*state);
	return 0;
}

static void test_preloaded(void **state)
{
	(void)state;
	assert_true(kmodel_present());
}

static void test_override_store_and_clear(void **state)
{
	struct fakeroot *root = *state;
	char buf[64];

	kmodel_override(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC "/driver_override", "vfio-pci"), 0);
	kmodel_override(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "vfio-pci");
	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC "/driver_override", "\n"), 0);
	kmodel_override(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
}

static void test_bind_cycle(void **state)
{
	struct fakeroot *root = *state;
	char buf[64];

	/* unbind from the wrong driver: ENODEV, like unbind_store() */
	assert_int_equal(store(root, "sys/bus/pci/drivers/vfio-pci/unbind", NIC), -ENODEV);
	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC "/driver_override", "vfio-pci"), 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/unbind", NIC), 0);
	kmodel_driver(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_not_equal(access(fakeroot_abspath(root, "sys/class/net/enp1s0"), F_OK), 0);
	assert_false(kmodel_devnode(root, "5"));
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", NIC), 0);
	kmodel_driver(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "vfio-pci");
	assert_true(kmodel_devnode(root, "5"));
	/* probing a bound device changes nothing */
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", NIC), 0);
	kmodel_driver(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "vfio-pci");

	/* restore: clear, unbind, reprobe -> the native driver and its netdev come back */
	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC "/driver_override", "\n"), 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/vfio-pci/unbind", NIC), 0);
	assert_false(kmodel_devnode(root, "5"));
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", NIC), 0);
	kmodel_driver(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "e1000e");
	assert_int_equal(access(fakeroot_abspath(root, "sys/class/net/enp1s0"), F_OK), 0);
}

static void test_bind_rules(void **state)
{
	struct fakeroot *root = *state;

	/* bound device: EBUSY */
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/bind", NIC), -EBUSY);
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/unbind", NIC), 0);
	/* vfio-pci has no id table: ENODEV without driver_override */
	assert_int_equal(store(root, "sys/bus/pci/drivers/vfio-pci/bind", NIC), -ENODEV);
	/* an override naming another driver: ENODEV */
	assert_int_equal(store(root, "sys/bus/pci/devices/" NIC "/driver_override", "vfio-pci"), 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/bind", NIC), -ENODEV);
	assert_int_equal(store(root, "sys/bus/pci/drivers/vfio-pci/bind", NIC), 0);
	/* no such device */
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", "0000:09:00.0"), -ENODEV);
}

static void test_no_iommu_group_einval(void **state)
{
	struct fakeroot *root = *state;
	char buf[64];

	assert_int_equal(store(root, "sys/bus/pci/devices/" NOGROUP "/driver_override", "vfio-pci"),
			 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/unbind", NOGROUP), 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/vfio-pci/bind", NOGROUP), -EINVAL);
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", NOGROUP), -EINVAL);
	kmodel_driver(root, NOGROUP, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_group_viability(void **state)
{
	struct fakeroot *root = *state;

	assert_int_equal(store(root, "sys/bus/pci/devices/" GPU "/driver_override", "vfio-pci"), 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/nouveau/unbind", GPU), 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", GPU), 0);
	/* the audio function is still on snd_hda_intel: group 7 not viable, no node */
	assert_false(kmodel_devnode(root, "7"));
	assert_int_equal(store(root, "sys/bus/pci/devices/" AUDIO "/driver_override", "vfio-pci"),
			 0);
	assert_int_equal(store(root, "sys/bus/pci/drivers/snd_hda_intel/unbind", AUDIO), 0);
	/* driverless counts as viable */
	assert_true(kmodel_devnode(root, "7"));
	assert_int_equal(store(root, "sys/bus/pci/drivers_probe", AUDIO), 0);
	assert_true(kmodel_devnode(root, "7"));
}

static void test_injection_and_writev(void **state)
{
	struct fakeroot *root = *state;
	struct iovec iov[2] = {{(void *)"0000:01:", 8}, {(void *)"00.0", 4}};
	int fd;

	setenv(KMODEL_ENV_FAIL, "unbind:" NIC ":EBUSY,probe:*:EIO", 1);
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/unbind", NIC), -EBUSY);
	fd = open(fakeroot_abspath(root, "sys/bus/pci/drivers_probe"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(writev(fd, iov, 2), -1);
	assert_int_equal(errno, EIO);
	close(fd);
	unsetenv(KMODEL_ENV_FAIL);
	fd = open(fakeroot_abspath(root, "sys/bus/pci/drivers/e1000e/unbind"), O_WRONLY);
	assert_int_equal(writev(fd, iov, 2), 12);
	close(fd);
	assert_int_equal(kmodel_log_count(root, "unbind " NIC " e1000e -> ok"), 1);
}

static void test_new_id_logged(void **state)
{
	struct fakeroot *root = *state;

	assert_int_equal(store(root, "sys/bus/pci/drivers/vfio-pci/new_id", "8086 10d3"), 0);
	assert_int_equal(kmodel_log_count(root, "NEW_ID"), 1);
}

static void test_disabled_is_plain_file(void **state)
{
	struct fakeroot *root = *state;
	char buf[64];

	kmodel_disable();
	assert_int_equal(store(root, "sys/bus/pci/drivers/e1000e/unbind", NIC), 0);
	kmodel_driver(root, NIC, buf, sizeof(buf));
	assert_string_equal(buf, "e1000e");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_preloaded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_override_store_and_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_cycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_iommu_group_einval, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_viability, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_injection_and_writev, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_id_logged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_is_plain_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
