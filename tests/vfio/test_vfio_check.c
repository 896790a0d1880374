/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preflight report and persistence (declarative list, apply, modprobe.d line) on fake hosts with
 * and without an IOMMU. Binding goes through the kernel model (tests/kmodel), which stands in for
 * the kernel because this machine cannot bind devices: its own disk and NIC are PCI devices.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfio_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static int setup_flags(void **state, unsigned int flags)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->root = vfio_tree_new(flags);
	assert_non_null(f->root);
	f->ctx = vfio_tree_ctx(f->root);
	assert_non_null(f->ctx);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_flags(state, 0);
}

static int setup_no_iommu(void **state)
{
	return setup_flags(state, VFIO_TREE_NO_IOMMU | VFIO_TREE_NO_VFIO);
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

static ssize_t find_check(hostdev_vfio_report *r, const char *id)
{
	for (size_t i = 0; i < hostdev_vfio_report_get_check_count(r); i++)
		if (strcmp(hostdev_vfio_report_get_check_id(r, i), id) == 0)
			return (ssize_t)i;
	fail_msg("no check %s", id);
	return -1;
}

static ssize_t find_device(hostdev_vfio_report *r, const char *address)
{
	for (size_t i = 0; i < hostdev_vfio_report_get_device_count(r); i++)
		if (strcmp(hostdev_vfio_report_get_device_address(r, i), address) == 0)
			return (ssize_t)i;
	return -1;
}

static void assert_check(hostdev_vfio_report *r, const char *id, int status, const char *text)
{
	ssize_t i = find_check(r, id);

	if (hostdev_vfio_report_get_check_status(r, (size_t)i) != status)
		fprintf(stderr, "%s: %s\n", id,
			hostdev_vfio_report_get_check_message(r, (size_t)i));
	assert_int_equal(hostdev_vfio_report_get_check_status(r, (size_t)i), status);
	if (text)
		assert_true(contains(hostdev_vfio_report_get_check_message(r, (size_t)i), text));
	if (status == HOSTDEV_CHECK_PASS)
		assert_null(hostdev_vfio_report_get_check_remedy(r, (size_t)i));
	else
		assert_non_null(hostdev_vfio_report_get_check_remedy(r, (size_t)i));
}

static void assert_device(hostdev_vfio_report *r, const char *address, int status, const char *text)
{
	ssize_t i = find_device(r, address);

	assert_true(i >= 0);
	if (hostdev_vfio_report_get_device_status(r, (size_t)i) != status)
		fprintf(stderr, "%s: %s\n", address,
			hostdev_vfio_report_get_device_message(r, (size_t)i));
	assert_int_equal(hostdev_vfio_report_get_device_status(r, (size_t)i), status);
	assert_true(contains(hostdev_vfio_report_get_device_message(r, (size_t)i), text));
	if (status != HOSTDEV_CHECK_PASS)
		assert_non_null(hostdev_vfio_report_get_device_remedy(r, (size_t)i));
}

/* --- preflight ---------------------------------------------------------------------------------
 */

static void test_check_good_host(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;

	assert_int_equal(fakeroot_write(f->root, "proc/interrupts",
					"           CPU0\n"
					" 24:   1  IR-PCI-MSI 512000-edge  ahci[0000:00:1f.2]\n"),
			 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, 0, &r), 0);
	assert_check(r, "iommu-groups", HOSTDEV_CHECK_PASS, "IOMMU groups");
	assert_check(r, "iommu-hardware", HOSTDEV_CHECK_PASS, "Intel VT-d (DMAR): dmar0");
	assert_check(r, "kernel-cmdline", HOSTDEV_CHECK_PASS, "intel_iommu=on");
	assert_check(r, "interrupt-remapping", HOSTDEV_CHECK_PASS, "active");
	assert_check(r, "vfio-modules", HOSTDEV_CHECK_PASS, "vfio-pci is loaded");
	assert_check(r, "vfio-container", HOSTDEV_CHECK_PASS, "/dev/vfio/vfio exists");
	assert_int_equal(hostdev_vfio_report_get_status(r), HOSTDEV_CHECK_PASS);

	/* every non-bridge device, judged */
	assert_true(find_device(r, RP1) < 0);
	assert_device(r, NIC, HOSTDEV_CHECK_PASS, "assignable (IOMMU group 2, driver e1000e)");
	assert_device(r, GPU, HOSTDEV_CHECK_WARN, "also holds " AUDIO " (snd_hda_intel)");
	assert_true(contains(hostdev_vfio_report_get_device_remedy(r, (size_t)find_device(r, GPU)),
			     "HOSTDEV_BIND_GROUP"));
	assert_device(r, NVME, HOSTDEV_CHECK_FAIL, "mounted filesystem /");
	assert_device(r, MGMT, HOSTDEV_CHECK_FAIL, "default route (br0)");
	/* groups exist: the IOMMU is on but does not cover this device */
	assert_device(r, NOGROUP, HOSTDEV_CHECK_FAIL,
		      "no IOMMU group, although the host has 8: no IOMMU unit covers this device");
	assert_true(contains(
	    hostdev_vfio_report_get_device_remedy(r, (size_t)find_device(r, NOGROUP)), "slot"));
	assert_device(r, SPARE, HOSTDEV_CHECK_PASS, "driver none");
	/* the chipset's group is not advised HOSTDEV_BIND_GROUP */
	assert_device(r, SMBUS, HOSTDEV_CHECK_FAIL,
		      "IOMMU group 4 is the chipset's (ISA/LPC bridge " LPC "): it also holds ");
	assert_device(r, LPC, HOSTDEV_CHECK_FAIL, "IOMMU group 4 is the chipset's");
	assert_null(strstr(hostdev_vfio_report_get_device_remedy(r, (size_t)find_device(r, SATA)),
			   "HOSTDEV_BIND_GROUP"));
	hostdev_vfio_report_unref(r);
}

static void test_check_after_bind(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;
	const char *one[] = {NIC};
	const char *bridge[] = {RP1};

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_check(f->ctx, one, 1, 0, &r), 0);
	assert_int_equal(hostdev_vfio_report_get_device_count(r), 1);
	assert_device(r, NIC, HOSTDEV_CHECK_PASS, "on vfio-pci (IOMMU group 2)");
	hostdev_vfio_report_unref(r);
	assert_int_equal(hostdev_vfio_check(f->ctx, bridge, 1, 0, &r), 0);
	assert_device(r, RP1, HOSTDEV_CHECK_FAIL, "bridge");
	hostdev_vfio_report_unref(r);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, HOSTDEV_CHECK_HOST_ONLY, &r), 0);
	assert_int_equal(hostdev_vfio_report_get_device_count(r), 0);
	assert_int_equal(hostdev_vfio_report_get_check_count(r), 6);
	hostdev_vfio_report_unref(r);
}

static void test_check_group_blocked_by_guard(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;
	const char *one[] = {SMBUS};

	/* / on the SATA disk: the whole ICH9 group is out */
	assert_int_equal(fakeroot_mkdir(f->root, "sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/"
						 "target0:0:0/0:0:0:0/block/sda/sda1"),
			 0);
	assert_int_equal(fakeroot_symlink(f->root,
					  "sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/"
					  "target0:0:0/0:0:0:0/block/sda/sda1",
					  "sys/dev/block/8:1"),
			 0);
	assert_int_equal(vfio_tree_mountinfo(f->root, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, one, 1, 0, &r), 0);
	assert_device(r, SMBUS, HOSTDEV_CHECK_FAIL, "also holds " SATA ", which is host-critical");
	hostdev_vfio_report_unref(r);
}

static void test_check_no_iommu_host(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;
	char *json = NULL;
	ssize_t i;

	assert_int_equal(fakeroot_write(f->root, "proc/interrupts",
					"           CPU0\n"
					" 24:   1  PCI-MSI 512000-edge  ahci[0000:00:1f.2]\n"),
			 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, 0, &r), 0);
	assert_int_equal(hostdev_vfio_report_get_status(r), HOSTDEV_CHECK_FAIL);
	assert_check(r, "iommu-groups", HOSTDEV_CHECK_FAIL, "empty");
	/* One finding, one fix: each check its own, the devices point at them. */
	i = find_check(r, "iommu-groups");
	assert_true(contains(hostdev_vfio_report_get_check_remedy(r, (size_t)i),
			     "the IOMMU hardware and kernel command line checks say"));
	assert_check(r, "iommu-hardware", HOSTDEV_CHECK_FAIL, "no DMAR");
	assert_true(contains(
	    hostdev_vfio_report_get_check_remedy(r, (size_t)find_check(r, "iommu-hardware")),
	    "in the firmware setup"));
	assert_check(r, "kernel-cmdline", HOSTDEV_CHECK_FAIL, "intel_iommu=on is not set");
	assert_true(contains(
	    hostdev_vfio_report_get_check_remedy(r, (size_t)find_check(r, "kernel-cmdline")),
	    "boot with intel_iommu=on"));
	for (size_t k = 0; k < hostdev_vfio_report_get_check_count(r); k++) {
		const char *fix = hostdev_vfio_report_get_check_remedy(r, k);

		assert_null(fix ? strstr(fix, "amd_iommu=on") : NULL);
	}
	for (size_t k = 0; k < hostdev_vfio_report_get_device_count(r); k++)
		if (strstr(hostdev_vfio_report_get_device_message(r, k), "no IOMMU group"))
			assert_string_equal(hostdev_vfio_report_get_device_remedy(r, k),
					    "turn the IOMMU on as the host checks above say");
	assert_check(r, "interrupt-remapping", HOSTDEV_CHECK_WARN, "not active");
	/* no module directory in the fake root: vfio cannot be found */
	assert_check(r, "vfio-modules", HOSTDEV_CHECK_FAIL, "not installed");
	assert_check(r, "vfio-container", HOSTDEV_CHECK_WARN, "appears when vfio is loaded");
	assert_device(r, NIC, HOSTDEV_CHECK_FAIL, "no IOMMU group");
	assert_int_equal(hostdev_vfio_report_to_json(r, HOSTDEV_JSON_PRETTY, &json), 0);
	assert_true(contains(json, "\"status\":\t\"fail\""));
	assert_true(contains(json, "\"id\":\t\"iommu-groups\""));
	assert_true(contains(json, "\"assignable\":\tfalse"));
	hostdev_free(json);
	assert_int_equal(hostdev_vfio_report_to_json(r, 0, &json), 0);
	assert_true(contains(json, "{\"status\":\"fail\",\"checks\":["));
	hostdev_free(json);
	hostdev_vfio_report_unref(r);
}

/* A virtual machine gets its IOMMU from the hypervisor: no firmware advice there. */
static void test_check_vm_without_viommu(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;
	const char *fix;

	assert_int_equal(fakeroot_write(f->root, "proc/cpuinfo",
					"processor\t: 0\nvendor_id\t: GenuineIntel\n"
					"flags\t\t: fpu vme de pse msr hypervisor lahf_lm\n\n"),
			 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, HOSTDEV_CHECK_HOST_ONLY, &r), 0);
	assert_check(r, "iommu-hardware", HOSTDEV_CHECK_FAIL,
		     "this virtual machine has no virtual");
	fix = hostdev_vfio_report_get_check_remedy(r, (size_t)find_check(r, "iommu-hardware"));
	assert_true(contains(fix, "the hypervisor's virtual IOMMU"));
	assert_true(contains(fix, "intel-iommu"));
	assert_null(strstr(fix, "firmware"));
	assert_check(r, "kernel-cmdline", HOSTDEV_CHECK_FAIL, "intel_iommu=on is not set");
	hostdev_vfio_report_unref(r);
}

/* AMD: the firmware switch only; the kernel needs no option (amd_iommu=on is none). */
static void test_check_amd_without_iommu(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;

	assert_int_equal(fakeroot_write(f->root, "proc/cpuinfo",
					"processor\t: 0\nvendor_id\t: AuthenticAMD\n"
					"flags\t\t: fpu vme svm\n\n"),
			 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, HOSTDEV_CHECK_HOST_ONLY, &r), 0);
	assert_check(r, "kernel-cmdline", HOSTDEV_CHECK_PASS, "AMD-Vi needs no kernel option");
	assert_true(contains(
	    hostdev_vfio_report_get_check_remedy(r, (size_t)find_check(r, "iommu-hardware")),
	    "\"AMD-Vi\") in the firmware setup"));
	for (size_t k = 0; k < hostdev_vfio_report_get_check_count(r); k++) {
		const char *fix = hostdev_vfio_report_get_check_remedy(r, k);

		assert_null(fix ? strstr(fix, "amd_iommu") : NULL);
		assert_null(fix ? strstr(fix, "intel_iommu") : NULL);
	}
	hostdev_vfio_report_unref(r);
}

static void test_check_cmdline_off_and_unsafe(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;

	assert_int_equal(fakeroot_write(f->root, "proc/cmdline", "root=/dev/sda intel_iommu=off\n"),
			 0);
	assert_int_equal(fakeroot_write(f->root, "proc/interrupts", " 24: 1 PCI-MSI x\n"), 0);
	assert_int_equal(fakeroot_write(f->root,
					"sys/module/vfio_iommu_type1/parameters/"
					"allow_unsafe_interrupts",
					"Y\n"),
			 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, HOSTDEV_CHECK_HOST_ONLY, &r), 0);
	assert_check(r, "kernel-cmdline", HOSTDEV_CHECK_FAIL, "intel_iommu=off");
	assert_true(contains(
	    hostdev_vfio_report_get_check_remedy(r, (size_t)find_check(r, "kernel-cmdline")),
	    "replace intel_iommu=off"));
	assert_check(r, "interrupt-remapping", HOSTDEV_CHECK_WARN, "allow_unsafe_interrupts");
	hostdev_vfio_report_unref(r);
}

static void test_check_unknowns(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;

	/* no /proc/interrupts, no cmdline, groups without class/iommu units (a virtual IOMMU) */
	assert_int_equal(fakeroot_remove(f->root, "proc/cmdline"), 0);
	assert_int_equal(fakeroot_remove(f->root, "sys/class/iommu/dmar0"), 0);
	assert_int_equal(fakeroot_remove(f->root, "dev/vfio/vfio"), 0);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, HOSTDEV_CHECK_HOST_ONLY, &r), 0);
	assert_check(r, "interrupt-remapping", HOSTDEV_CHECK_WARN, "unknown");
	assert_check(r, "kernel-cmdline", HOSTDEV_CHECK_WARN, "cannot read");
	assert_check(r, "iommu-hardware", HOSTDEV_CHECK_WARN, "yet IOMMU groups exist");
	assert_check(r, "vfio-container", HOSTDEV_CHECK_FAIL, "does not exist");
	assert_int_equal(hostdev_vfio_report_get_status(r), HOSTDEV_CHECK_FAIL);
	hostdev_vfio_report_unref(r);
}

static void test_check_arguments(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_report *r = NULL;
	const char *bad[] = {"nope"}, *missing[] = {"0000:77:00.0"};

	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, 1u << 4, &r), -EINVAL);
	assert_int_equal(hostdev_vfio_check(f->ctx, bad, 1, 0, &r), -EINVAL);
	assert_int_equal(hostdev_vfio_check(f->ctx, missing, 1, 0, &r), -ENODEV);
	assert_int_equal(hostdev_vfio_check(f->ctx, NULL, 0, 0, NULL), -EINVAL);
	assert_null(r);
	assert_int_equal(hostdev_vfio_report_get_status(NULL), -EINVAL);
	assert_int_equal(hostdev_vfio_report_get_check_status(NULL, 0), -EINVAL);
	assert_null(hostdev_vfio_report_get_check_id(NULL, 0));
	assert_null(hostdev_vfio_report_unref(NULL));
}

/* --- persistence -------------------------------------------------------------------------------
 */

static void test_persist_add_list_remove(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_persist *list = NULL;
	struct stat st;

	assert_int_equal(hostdev_vfio_persist_add(f->ctx, VIRTIO, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, "02:00.0", HOSTDEV_BIND_GROUP), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, HOSTDEV_BIND_FORCE), 1);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, RP1, 0), -EINVAL);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, "0000:77:00.0", 0), -ENODEV);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, 1u << 6), -EINVAL);

	assert_int_equal(hostdev_vfio_persist_read(f->ctx, &list), 0);
	assert_true(
	    contains(hostdev_vfio_persist_get_path(list), "/etc/hostdev/vfio-devices.json"));
	assert_int_equal(stat(hostdev_vfio_persist_get_path(list), &st), 0);
	assert_int_equal(hostdev_vfio_persist_get_count(list), 3);
	assert_string_equal(hostdev_vfio_persist_get_address(list, 0), VIRTIO);
	assert_string_equal(hostdev_vfio_persist_get_address(list, 1), NIC);
	assert_int_equal(hostdev_vfio_persist_get_flags(list, 1), HOSTDEV_BIND_FORCE);
	assert_int_equal(hostdev_vfio_persist_get_vendor_id(list, 1), 0x8086);
	assert_int_equal(hostdev_vfio_persist_get_device_id(list, 1), 0x10d3);
	assert_string_equal(hostdev_vfio_persist_get_address(list, 2), GPU);
	assert_int_equal(hostdev_vfio_persist_get_flags(list, 2), HOSTDEV_BIND_GROUP);
	assert_null(hostdev_vfio_persist_get_address(list, 3));
	assert_ptr_equal(hostdev_vfio_persist_ref(list), list);
	hostdev_vfio_persist_unref(list);
	hostdev_vfio_persist_unref(list);

	assert_int_equal(hostdev_vfio_persist_remove(f->ctx, "1:00.0"), 0);
	assert_int_equal(hostdev_vfio_persist_remove(f->ctx, NIC), -ENOENT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "not in the persistent list"));
	assert_int_equal(hostdev_vfio_persist_read(f->ctx, &list), 0);
	assert_int_equal(hostdev_vfio_persist_get_count(list), 2);
	hostdev_vfio_persist_unref(list);
}

static void test_apply(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;

	/* empty list: nothing to do */
	assert_int_equal(hostdev_vfio_apply(f->ctx, NULL, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, GPU, HOSTDEV_BIND_GROUP), 0);
	assert_int_equal(hostdev_vfio_apply(f->ctx, NULL, 0), 3);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	assert_string_equal(vfio_tree_driver(f->root, AUDIO), "vfio-pci");
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_string_equal(hostdev_vfio_journal_get_owner(j, 0), "hostdev apply");
	hostdev_vfio_journal_unref(j);
	/* idempotent */
	assert_int_equal(hostdev_vfio_apply(f->ctx, NULL, 0), 0);
	assert_int_equal(hostdev_vfio_apply(f->ctx, NULL, 1), -EINVAL);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 3);
}

static void test_apply_partial_failure(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, VIRTIO, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, MGMT, 0), 0);
	/* the card in the virtio slot changed: its ids no longer match */
	kmodel_disable();
	assert_int_equal(fakeroot_pci_set_attr(f->root, VIRTIO, "device", "0x1000\n"), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	assert_int_equal(hostdev_vfio_apply(f->ctx, NULL, 0), -ENODEV);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "2 of the listed entries failed"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "now holds 1af4:1000"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "default route"));
	/* the good entry was still applied */
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "virtio-pci");
	assert_string_equal(vfio_tree_driver(f->root, MGMT), "igb");
}

static void test_persist_corrupt(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_persist *list = NULL;

	assert_int_equal(fakeroot_write(f->root, "etc/hostdev/vfio-devices.json", "{\"devices\":"),
			 0);
	assert_int_equal(hostdev_vfio_persist_read(f->ctx, &list), -EBADMSG);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "vfio-devices.json"));
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, 0), -EBADMSG);
	assert_int_equal(hostdev_vfio_apply(f->ctx, NULL, 0), -EBADMSG);
	assert_int_equal(
	    fakeroot_write(
		f->root, "etc/hostdev/vfio-devices.json",
		"{\"format\":\"libhostdev-vfio-devices\",\"version\":1,\"devices\":[{"
		"\"address\":\"bogus\",\"vendor_id\":\"8086\",\"device_id\":\"10d3\"}]}"),
	    0);
	assert_int_equal(hostdev_vfio_persist_read(f->ctx, &list), -EBADMSG);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "entry 0 is invalid"));
	/* cJSON would cut the address at the escaped NUL and read a valid one: refused instead */
	assert_int_equal(
	    fakeroot_write(f->root, "etc/hostdev/vfio-devices.json",
			   "{\"format\":\"libhostdev-vfio-devices\",\"version\":1,\"devices\":[{"
			   "\"address\":\"" NIC
			   "\\u0000 junk\",\"vendor_id\":\"8086\",\"device_id\":\"10d3\"}]}"),
	    0);
	assert_int_equal(hostdev_vfio_persist_read(f->ctx, &list), -EBADMSG);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "\\u0000"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "devices[0].address"));
}

static void test_modprobe_conf(void **state)
{
	struct fixture *f = *state;
	char *conf = NULL;

	assert_int_equal(hostdev_vfio_modprobe_conf(f->ctx, 0, &conf), -ENOENT);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, NIC, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, VIRTIO, 0), 0);
	assert_int_equal(hostdev_vfio_modprobe_conf(f->ctx, 0, &conf), 0);
	assert_true(contains(conf, "options vfio-pci ids=1af4:1041,8086:10d3\n"));
	/* 0000:05:00.0 has the NIC's ids: vfio-pci would take it too at boot */
	assert_true(contains(conf, "# WARNING: also claimed: " NOGROUP " [8086:10d3]"));
	assert_true(contains(conf, "EVERY device"));
	assert_int_equal(conf[strlen(conf) - 1], '\n');
	hostdev_free(conf);
	/* The GPU's audio function shares its group: claimed too, and vfio-pci loads first. */
	assert_int_equal(hostdev_vfio_persist_add(f->ctx, GPU, 0), 0);
	assert_int_equal(hostdev_vfio_modprobe_conf(f->ctx, 0, &conf), 0);
	assert_true(contains(conf, "# " AUDIO " [10de:10fa] shares IOMMU group 5 with " GPU
				   ": vfio-pci must claim it too.\n"));
	assert_true(contains(conf, "(" GPU " is listed without its IOMMU group"));
	assert_true(contains(conf, "softdep nouveau pre: vfio-pci\nsoftdep snd_hda_intel pre: "
				   "vfio-pci\n"));
	assert_true(
	    contains(conf, "options vfio-pci ids=10de:10fa,10de:1eb8,1af4:1041,8086:10d3\n"));
	/* the bridge of the group stays out */
	assert_false(strstr(conf, RP2));
	hostdev_free(conf);
	assert_int_equal(hostdev_vfio_modprobe_conf(f->ctx, 1, &conf), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_check_good_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_after_bind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_group_blocked_by_guard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_no_iommu_host, setup_no_iommu, teardown),
	    cmocka_unit_test_setup_teardown(test_check_vm_without_viommu, setup_no_iommu, teardown),
	    cmocka_unit_test_setup_teardown(test_check_amd_without_iommu, setup_no_iommu, teardown),
	    cmocka_unit_test_setup_teardown(test_check_cmdline_off_and_unsafe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_unknowns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persist_add_list_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apply_partial_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persist_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modprobe_conf, setup, teardown),
	};

	if (!kmodel_present()) {
		fprintf(stderr,
			"the kernel model is not preloaded (LD_PRELOAD=libhostdev-kmodel.so)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
