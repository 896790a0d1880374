/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake root builder itself (tests/lib): the other tests trust it to look like a kernel's sysfs,
 * so its formats and links are checked byte for byte here, and lspci (an independent reader) must
 * read it.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakeroot.h"
#include "server_tree.h"

static int setup(void **state)
{
	struct fakeroot *root = fakeroot_new();

	if (!root || server_tree_build(root) < 0) {
		fakeroot_free(root);
		return -1;
	}
	*state = root;
	return 0;
}

static int teardown(void **state)
{
	fakeroot_free(*state);
	return 0;
}

static char *slurp(struct fakeroot *root, const char *rel, size_t *len)
{
	static char buf[8192];
	FILE *fp = fopen(fakeroot_abspath(root, rel), "re");
	size_t n;

	if (!fp) {
		print_error("cannot open %s\n", rel);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void assert_file(struct fakeroot *root, const char *rel, const char *expected)
{
	char *content = slurp(root, rel, NULL);

	assert_non_null(content);
	if (strcmp(content, expected) != 0)
		print_error("%s: expected [%s] got [%s]\n", rel, expected, content);
	assert_string_equal(content, expected);
}

static void assert_link(struct fakeroot *root, const char *rel, const char *expected)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(fakeroot_abspath(root, rel), buf, sizeof(buf) - 1);

	if (n < 0)
		print_error("%s is not a link\n", rel);
	assert_true(n > 0);
	buf[n] = '\0';
	if (strcmp(buf, expected) != 0)
		print_error("%s -> expected [%s] got [%s]\n", rel, expected, buf);
	assert_string_equal(buf, expected);
}

/* The link resolves to the directory @target_rel. */
static void assert_resolves(struct fakeroot *root, const char *rel, const char *target_rel)
{
	char a[PATH_MAX], b[PATH_MAX];

	assert_non_null(realpath(fakeroot_abspath(root, rel), a));
	assert_non_null(realpath(fakeroot_abspath(root, target_rel), b));
	assert_string_equal(a, b);
}

#define I350 "sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0"
#define VF1 "sys/devices/pci0000:00/0000:00:1c.0/0000:01:10.4"

static void test_layout_and_links(void **state)
{
	struct fakeroot *root = *state;
	struct stat st;

	assert_string_equal(fakeroot_pci_dir(root, "0000:01:00.0"), I350);
	assert_null(fakeroot_pci_dir(root, "0000:09:00.0"));
	/* real directories, bus links like the kernel's */
	assert_int_equal(lstat(fakeroot_abspath(root, I350), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_link(root, "sys/bus/pci/devices/0000:01:00.0",
		    "../../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
	assert_link(root, "sys/bus/pci/devices/0000:00:1c.0",
		    "../../../devices/pci0000:00/0000:00:1c.0");
	assert_link(root, I350 "/driver", "../../../../bus/pci/drivers/igb");
	assert_link(root, I350 "/subsystem", "../../../../bus/pci");
	assert_link(root, I350 "/iommu_group", "../../../../kernel/iommu_groups/10");
	assert_link(root, "sys/kernel/iommu_groups/10/devices/0000:01:00.0",
		    "../../../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
	assert_link(root, "sys/bus/pci/drivers/igb/0000:01:00.0",
		    "../../../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
	assert_link(root, I350 "/virtfn0", "../0000:01:10.0");
	assert_link(root, I350 "/virtfn1", "../0000:01:10.4");
	assert_link(root, VF1 "/physfn", "../0000:01:00.0");
	assert_resolves(root, "sys/bus/pci/devices/0000:01:10.4/physfn",
			"sys/bus/pci/devices/0000:01:00.0");
	assert_resolves(root, "sys/class/net/eth0", I350 "/net/eth0");
	assert_resolves(root, I350 "/net/eth0/device", I350);
	/* no driver, no group */
	assert_int_equal(
	    lstat(fakeroot_abspath(root, "sys/bus/pci/devices/0000:00:05.0/driver"), &st), -1);
	assert_int_equal(
	    lstat(fakeroot_abspath(root, "sys/bus/pci/devices/0000:00:05.0/iommu_group"), &st), -1);
	/* driver directories carry the control files */
	assert_int_equal(access(fakeroot_abspath(root, "sys/bus/pci/drivers/igb/unbind"), F_OK), 0);
	assert_int_equal(access(fakeroot_abspath(root, "sys/bus/pci/drivers_probe"), F_OK), 0);
	/* domain 1 root bus */
	assert_link(root, "sys/bus/pci/devices/0001:00:00.0",
		    "../../../devices/pci0001:00/0001:00:00.0");
}

static void test_attribute_formats(void **state)
{
	struct fakeroot *root = *state;

	assert_file(root, I350 "/vendor", "0x8086\n");
	assert_file(root, I350 "/device", "0x1521\n");
	assert_file(root, I350 "/subsystem_vendor", "0x8086\n");
	assert_file(root, I350 "/subsystem_device", "0x0001\n");
	assert_file(root, I350 "/class", "0x020000\n");
	assert_file(root, I350 "/revision", "0x01\n");
	assert_file(root, I350 "/numa_node", "0\n");
	assert_file(root, I350 "/driver_override", "(null)\n");
	assert_file(root, I350 "/modalias",
		    "pci:v00008086d00001521sv00008086sd00000001bc02sc00i00\n");
	assert_file(root, I350 "/uevent",
		    "DRIVER=igb\nPCI_CLASS=20000\nPCI_ID=8086:1521\nPCI_SUBSYS_ID=8086:0001\n"
		    "PCI_SLOT_NAME=0000:01:00.0\n"
		    "MODALIAS=pci:v00008086d00001521sv00008086sd00000001bc02sc00i00\n");
	assert_file(root, I350 "/sriov_totalvfs", "8\n");
	assert_file(root, I350 "/sriov_numvfs", "2\n");
	assert_file(root, I350 "/sriov_vf_device", "1520\n");
	assert_file(root, I350 "/sriov_offset", "128\n");
	assert_file(root, I350 "/sriov_stride", "4\n");
	assert_file(root, I350 "/sriov_drivers_autoprobe", "1\n");
	assert_file(root, VF1 "/driver_override", "vfio-pci\n");
	assert_file(root, "sys/bus/pci/devices/0000:04:00.0/numa_node", "-1\n");
	assert_file(root, "sys/bus/pci/devices/0000:3b:00.0/modalias",
		    "pci:v000010DEd00001EB8sv000010DEsd000012A2bc03sc02i00\n");
	assert_file(root, "sys/bus/pci/devices/0000:00:05.0/uevent",
		    "PCI_CLASS=88000\nPCI_ID=8086:2034\nPCI_SUBSYS_ID=0000:0000\n"
		    "PCI_SLOT_NAME=0000:00:05.0\n"
		    "MODALIAS=pci:v00008086d00002034sv00000000sd00000000bc08sc80i00\n");
	assert_file(root, "sys/bus/pci/devices/0000:02:00.0/boot_vga", "1\n");
	assert_int_equal(
	    access(fakeroot_abspath(root, "sys/bus/pci/devices/0000:3b:00.0/boot_vga"), F_OK), -1);
	assert_file(root, "sys/bus/pci/slots/1/address", "0000:01:00\n");
	assert_file(root, "sys/bus/pci/slots/3/address", "0000:3b:00\n");
	assert_file(root, "sys/kernel/iommu_groups/9/type", "DMA\n");
	assert_file(root,
		    "sys/bus/pci/devices/0000:3b:00.0/mdev_supported_types/nvidia-222/"
		    "available_instances",
		    "16\n");
	assert_file(root, "sys/bus/pci/devices/0000:3b:00.0/mdev_supported_types/nvidia-222/name",
		    "GRID T4-1B\n");
	assert_file(root,
		    "sys/bus/pci/devices/0000:3b:00.0/mdev_supported_types/nvidia-222/device_api",
		    "vfio-pci\n");
}

static void test_config_space(void **state)
{
	struct fakeroot *root = *state;
	unsigned char *c;
	size_t len;

	c = (unsigned char *)slurp(root, I350 "/config", &len);
	assert_int_equal(len, 256);
	assert_int_equal(c[0] | c[1] << 8, 0x8086);
	assert_int_equal(c[2] | c[3] << 8, 0x1521);
	assert_int_equal(c[8], 0x01);				     /* revision */
	assert_int_equal(c[9] | c[10] << 8 | c[11] << 16, 0x020000); /* class */
	assert_int_equal(c[0x0e], 0x00);			     /* header type 0 */
	assert_int_equal(c[0x2c] | c[0x2d] << 8, 0x8086);
	assert_int_equal(c[0x2e] | c[0x2f] << 8, 0x0001);

	c = (unsigned char *)slurp(root, "sys/bus/pci/devices/0000:00:1f.2/config", &len);
	assert_int_equal(c[0x0e], 0x80); /* multi-function */
	c = (unsigned char *)slurp(root, "sys/bus/pci/devices/0000:00:1c.0/config", &len);
	assert_int_equal(c[0x0e], 0x01); /* bridge header */
	assert_int_equal(c[0x18], 0x00); /* primary bus */
	assert_int_equal(c[0x19], 0x01); /* secondary bus */
	assert_int_equal(c[0x1a], 0x01); /* subordinate bus */
}

static void test_set_driver_and_attr(void **state)
{
	struct fakeroot *root = *state;
	struct stat st;

	assert_int_equal(fakeroot_pci_set_driver(root, "0000:01:00.0", "vfio-pci"), 0);
	assert_link(root, I350 "/driver", "../../../../bus/pci/drivers/vfio-pci");
	assert_int_equal(lstat(fakeroot_abspath(root, "sys/bus/pci/drivers/igb/0000:01:00.0"), &st),
			 -1);
	assert_resolves(root, "sys/bus/pci/drivers/vfio-pci/0000:01:00.0", I350);
	assert_int_equal(strncmp(slurp(root, I350 "/uevent", NULL), "DRIVER=vfio-pci\n", 16), 0);
	assert_int_equal(fakeroot_pci_set_driver(root, "0000:01:00.0", NULL), 0);
	assert_int_equal(lstat(fakeroot_abspath(root, I350 "/driver"), &st), -1);
	assert_int_equal(strncmp(slurp(root, I350 "/uevent", NULL), "PCI_CLASS=", 10), 0);
	assert_int_equal(fakeroot_pci_set_attr(root, "0000:01:00.0", "driver_override", "igb\n"),
			 0);
	assert_file(root, I350 "/driver_override", "igb\n");
	assert_int_equal(fakeroot_pci_set_driver(root, "0000:77:00.0", "igb"), -ENODEV);
}

static void test_remove(void **state)
{
	struct fakeroot *root = *state;
	struct stat st;

	/* Keep the bus link: it dangles. */
	assert_int_equal(fakeroot_pci_remove(root, "0000:01:10.4", FAKEROOT_KEEP_BUS_LINK), 0);
	assert_int_equal(lstat(fakeroot_abspath(root, "sys/bus/pci/devices/0000:01:10.4"), &st), 0);
	assert_int_equal(stat(fakeroot_abspath(root, "sys/bus/pci/devices/0000:01:10.4"), &st), -1);
	assert_int_equal(lstat(fakeroot_abspath(root, I350 "/virtfn1"), &st), -1);
	assert_int_equal(
	    lstat(fakeroot_abspath(root, "sys/kernel/iommu_groups/21/devices/0000:01:10.4"), &st),
	    -1);
	assert_null(fakeroot_pci_dir(root, "0000:01:10.4"));
	/* A bridge takes its subtree with it. */
	assert_int_equal(fakeroot_pci_remove(root, "0000:3a:00.0", 0), 0);
	assert_int_equal(lstat(fakeroot_abspath(root, "sys/bus/pci/devices/0000:3a:00.0"), &st),
			 -1);
	assert_int_equal(lstat(fakeroot_abspath(root, "sys/bus/pci/devices/0000:3b:00.0"), &st),
			 -1);
	assert_null(fakeroot_pci_dir(root, "0000:3b:00.0"));
	assert_int_equal(fakeroot_pci_remove(root, "0000:3b:00.0", 0), -ENODEV);
	/* and the address can be reused */
	assert_int_equal(fakeroot_pci_add(root, "0000:3a:00.0",
					  &(const struct fake_pci){.vendor = 0x8086,
								   .device = 0x2030,
								   .class_code = 0x060400}),
			 0);
}

static void test_add_errors(void **state)
{
	struct fakeroot *root = *state;
	const struct fake_pci d = {.vendor = 0x8086, .device = 0x1521, .class_code = 0x020000};
	struct fake_pci orphan = d, vf = d;

	assert_int_equal(fakeroot_pci_add(root, "0000:01:00.0", &d), -EEXIST);
	assert_int_equal(fakeroot_pci_add(root, "01:00.0", &d), -EINVAL);
	assert_int_equal(fakeroot_pci_add(root, "0000:00:20.0", &d), -EINVAL);
	orphan.parent = "0000:77:00.0";
	assert_int_equal(fakeroot_pci_add(root, "0000:78:00.0", &orphan), -ENODEV);
	vf.physfn = "0000:77:00.0";
	assert_int_equal(fakeroot_pci_add(root, "0000:79:00.0", &vf), -ENODEV);
}

static void test_free_removes_everything(void **state)
{
	struct fakeroot *root = fakeroot_new();
	char path[PATH_MAX];
	struct stat st;

	(void)state;
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s", fakeroot_path(root));
	assert_int_equal(server_tree_build(root), 0);
	assert_int_equal(fakeroot_write(root, "some/deep/dir/file", "x"), 0);
	fakeroot_free(root);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	fakeroot_free(NULL);
}

/* The module tree indexes the aliases: modules.alias lists them as depmod writes them. */
static void test_modules_build(void **state)
{
	struct fakeroot *root = *state;
	static const char *const igb[] = {"pci:v00008086d00001521sv*sd*bc*sc*i*", NULL};
	const struct fake_module m[] = {{"igb", igb}};
	int r = fakeroot_modules_build(root, "6.1.0-fake", m, 1);

	if (r == -ENOENT) {
		print_message("SKIP: depmod (package kmod) is not installed\n");
		skip();
	}
	assert_int_equal(r, 0);
	assert_non_null(strstr(slurp(root, "lib/modules/6.1.0-fake/modules.alias", NULL),
			       "alias pci:v00008086d00001521sv*sd*bc*sc*i* igb\n"));
	assert_int_equal(
	    access(fakeroot_abspath(root, "lib/modules/6.1.0-fake/modules.alias.bin"), R_OK), 0);
}

/* lspci (pciutils, an independent sysfs reader) reads the tree: ids, driver, group, slot. */
static void test_lspci_reads_tree(void **state)
{
	struct fakeroot *root = *state;
	char cmd[PATH_MAX + 256], line[512];
	int seen_i350 = 0, seen_driver = 0, seen_slot = 0, seen_group = 0, records = 0;
	FILE *p;

	if (access("/usr/bin/lspci", X_OK) != 0) {
		print_message("SKIP: lspci (package pciutils) is not installed\n");
		skip();
	}
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/lspci -A linux-sysfs -O sysfs.path=%s/bus/pci -nvmmkD 2>/dev/null",
		 fakeroot_sysfs(root));
	p = popen(cmd, "r");
	assert_non_null(p);
	bool in_i350 = false;
	while (fgets(line, sizeof(line), p)) {
		if (strncmp(line, "Slot:", 5) == 0) {
			records++;
			in_i350 = strstr(line, "0000:01:00.0") != NULL;
			seen_i350 |= in_i350;
		}
		if (!in_i350)
			continue;
		seen_driver |= strcmp(line, "Driver:\tigb\n") == 0;
		seen_slot |= strcmp(line, "PhySlot:\t1\n") == 0;
		seen_group |= strcmp(line, "IOMMUGroup:\t10\n") == 0;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(records, (int)server_tree_count);
	assert_true(seen_i350);
	assert_true(seen_driver);
	assert_true(seen_slot);
	assert_true(seen_group);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_layout_and_links),
	    T(test_attribute_formats),
	    T(test_config_space),
	    T(test_set_driver_and_attr),
	    T(test_remove),
	    T(test_add_errors),
	    cmocka_unit_test(test_free_removes_everything),
	    T(test_modules_build),
	    T(test_lspci_reads_tree),
	};

	return cmocka_run_group_tests_name("fakeroot", tests, NULL, NULL);
}
