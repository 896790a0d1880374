/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio bind / restore / journal / guard, end to end on a fake host.
 *
 * The kernel is played by the kernel model (tests/kmodel, LD_PRELOAD): this machine cannot bind
 * devices, its own disk and NIC are PCI devices. Every test builds a fresh tree (vfio_tree.h) and
 * runs the real library against it; tests/vm/scenarios/5*-vfio-*.sh repeat the key cases on a real
 * kernel.
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
	assert_true(kmodel_present());
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
	return setup_flags(state, VFIO_TREE_NO_IOMMU);
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

static bool devnode(struct fixture *f, const char *group)
{
	return kmodel_devnode(f->root, group);
}

static bool netdev_present(struct fixture *f, const char *ifname)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "sys/class/net/%s", ifname);
	return access(fakeroot_abspath(f->root, rel), F_OK) == 0;
}

/* Number of sysfs stores the model saw (every op line of its log). */
static int sysfs_writes(struct fixture *f)
{
	return kmodel_log_count(f->root, " override ") + kmodel_log_count(f->root, " unbind ") +
	       kmodel_log_count(f->root, " bind ") + kmodel_log_count(f->root, " probe ");
}

static void assert_original(struct fixture *f)
{
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	assert_string_equal(vfio_tree_override(f->root, NIC), "(null)");
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "virtio-pci");
	assert_string_equal(vfio_tree_override(f->root, VIRTIO), "(null)");
	assert_string_equal(vfio_tree_driver(f->root, LPC), "lpc_ich");
	assert_string_equal(vfio_tree_driver(f->root, SATA), "ahci");
	assert_string_equal(vfio_tree_driver(f->root, SMBUS), "i801_smbus");
	assert_string_equal(vfio_tree_driver(f->root, GPU), "nouveau");
	assert_string_equal(vfio_tree_driver(f->root, AUDIO), "snd_hda_intel");
	assert_false(devnode(f, "2"));
	assert_false(devnode(f, "3"));
	assert_false(devnode(f, "4"));
	assert_false(devnode(f, "5"));
	assert_true(netdev_present(f, "enp1s0"));
	assert_true(netdev_present(f, "ens3"));
	assert_int_equal(kmodel_log_count(f->root, "NEW_ID"), 0);
}

/* --- the happy path ----------------------------------------------------------------------------
 */

static void test_bind_restore_one(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_journal *j = NULL;
	struct stat st;

	opts.owner = "vm-a";
	assert_int_equal(hostdev_vfio_bind(f->ctx, "01:00.0", &opts, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	assert_string_equal(vfio_tree_override(f->root, NIC), "vfio-pci");
	assert_true(devnode(f, "2"));
	assert_false(netdev_present(f, "enp1s0"));
	assert_int_equal(kmodel_log_count(f->root, "NEW_ID"), 0);

	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_int_equal(hostdev_vfio_journal_get_count(j), 1);
	assert_string_equal(hostdev_vfio_journal_get_address(j, 0), NIC);
	assert_string_equal(hostdev_vfio_journal_get_driver(j, 0), "e1000e");
	assert_null(hostdev_vfio_journal_get_driver_override(j, 0));
	assert_int_equal(hostdev_vfio_journal_get_iommu_group(j, 0), 2);
	assert_string_equal(hostdev_vfio_journal_get_owner(j, 0), "vm-a");
	assert_true(hostdev_vfio_journal_get_time(j, 0) > 1600000000);
	assert_int_equal(hostdev_vfio_journal_is_complete(j, 0), 1);
	assert_int_equal(hostdev_vfio_journal_is_group_bind(j, 0), 0);
	assert_null(hostdev_vfio_journal_get_address(j, 1));
	assert_int_equal(hostdev_vfio_journal_get_iommu_group(j, 1), -1);
	assert_true(
	    contains(hostdev_vfio_journal_get_path(j), "/var/lib/hostdev/vfio-journal.json"));
	assert_int_equal(stat(hostdev_vfio_journal_get_path(j), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_not_equal(
	    access(fakeroot_abspath(f->root, "var/lib/hostdev/vfio-journal.json.tmp"), F_OK), 0);
	hostdev_vfio_journal_unref(j);

	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), 1);
	assert_original(f);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

static void test_bind_idempotent(void **state)
{
	struct fixture *f = *state;
	int writes;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	writes = sysfs_writes(f);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 0);
	assert_int_equal(sysfs_writes(f), writes);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 1);
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), 1);
	/* restoring again: nothing to do */
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), 0);
	assert_original(f);
}

static void test_bind_set_restore_all(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {NIC, VIRTIO, NIC};

	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 3, NULL, 0), 2);
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "vfio-pci");
	assert_true(devnode(f, "3"));
	assert_int_equal(vfio_tree_journal_count(f->ctx), 2);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 2);
	assert_original(f);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 0);
}

static void test_restore_all_by_owner(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options a = HOSTDEV_VFIO_OPTIONS_INIT, b = HOSTDEV_VFIO_OPTIONS_INIT;

	a.owner = "a";
	b.owner = "b";
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &a, 0), 1);
	assert_int_equal(hostdev_vfio_bind(f->ctx, VIRTIO, &b, 0), 1);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, &b, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "virtio-pci");
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 1);
	assert_original(f);
}

static void test_original_override_restored(void **state)
{
	struct fixture *f = *state;

	kmodel_disable();
	assert_int_equal(fakeroot_pci_set_attr(f->root, NIC, "driver_override", "e1000e\n"), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	assert_string_equal(vfio_tree_override(f->root, NIC), "e1000e");
}

static void test_driverless_device(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;

	assert_int_equal(hostdev_vfio_bind(f->ctx, SPARE, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, SPARE), "vfio-pci");
	assert_int_equal(kmodel_log_count(f->root, "unbind " SPARE), 0);
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_null(hostdev_vfio_journal_get_driver(j, 0));
	hostdev_vfio_journal_unref(j);
	/* No driver recorded: the kernel gets to probe (which finds nothing here). */
	assert_int_equal(hostdev_vfio_restore(f->ctx, SPARE, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, SPARE), "");
	assert_int_equal(kmodel_log_count(f->root, "probe " SPARE), 2);
}

static void test_unjournaled(void **state)
{
	struct fixture *f = *state;

	/* Someone else bound the NIC by hand. */
	kmodel_disable();
	assert_int_equal(fakeroot_pci_set_attr(f->root, NIC, "driver_override", "vfio-pci\n"), 0);
	assert_int_equal(fakeroot_pci_set_driver(f->root, NIC, "vfio-pci"), 0);
	assert_int_equal(kmodel_set_native(f->root, NIC, "e1000e"), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	/* binding it: already there, not recorded */
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 0);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), -ENOENT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "no record"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "HOSTDEV_RESTORE_UNJOURNALED"));
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, HOSTDEV_RESTORE_UNJOURNALED), 1);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	assert_string_equal(vfio_tree_override(f->root, NIC), "(null)");
}

/* --- refusals ----------------------------------------------------------------------------------
 */

static void test_no_iommu_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NOGROUP, NULL, 0), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), NOGROUP));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "no IOMMU group"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "intel_iommu=on"));
	/* not a kernel parameter: AMD-Vi is on unless amd_iommu=off */
	assert_null(strstr(hostdev_ctx_get_error(f->ctx), "amd_iommu=on"));
	assert_int_equal(sysfs_writes(f), 0);
	assert_string_equal(vfio_tree_driver(f->root, NOGROUP), "e1000e");
	/* Refused before the journal is written. */
	assert_int_not_equal(
	    access(fakeroot_abspath(f->root, "var/lib/hostdev/vfio-journal.json"), F_OK), 0);
}

static void test_no_iommu_machine(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {VIRTIO, NIC};

	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 2, NULL, HOSTDEV_BIND_FORCE), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "hostdev_vfio_check() tells which"));
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_bridge_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, RP1, NULL, HOSTDEV_BIND_FORCE), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "bridge"));
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	const char *bad_protected[] = {"nonsense"};

	assert_int_equal(hostdev_vfio_bind(f->ctx, "zz:00.0", NULL, 0), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "'zz:00.0' is not a PCI address"));
	assert_int_equal(hostdev_vfio_bind(f->ctx, NULL, NULL, 0), -EINVAL);
	assert_int_equal(hostdev_vfio_bind(f->ctx, "0000:09:00.0", NULL, 0), -ENODEV);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 1u << 7), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "unknown bind flags 0x80"));
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 1u << 5), -EINVAL);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 1u << 5), -EINVAL);
	opts.version = 99;
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "version 99"));
	assert_int_equal(hostdev_vfio_options_init(&opts, HOSTDEV_VFIO_OPTIONS_VERSION), 0);
	assert_int_equal(opts.version, HOSTDEV_VFIO_OPTIONS_VERSION);
	assert_null(opts.owner);
	assert_int_equal(hostdev_vfio_options_init(&opts, 0), -EINVAL);
	assert_int_equal(hostdev_vfio_options_init(NULL, 1), -EINVAL);
	opts.protected_addresses = bad_protected;
	opts.protected_count = 1;
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "nonsense"));
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, NULL, 0, NULL, 0), 0);
	assert_int_equal(hostdev_vfio_bind_set(NULL, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_group_refused_then_group_flag(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;

	assert_int_equal(hostdev_vfio_bind(f->ctx, GPU, NULL, 0), -EBUSY);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "IOMMU group 5 also holds"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), AUDIO " (snd_hda_intel)"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "HOSTDEV_BIND_GROUP"));
	/* the bridge of the group is not a conflict */
	assert_false(strstr(hostdev_ctx_get_error(f->ctx), RP2));
	assert_int_equal(sysfs_writes(f), 0);

	assert_int_equal(hostdev_vfio_bind(f->ctx, GPU, NULL, HOSTDEV_BIND_GROUP), 2);
	assert_string_equal(vfio_tree_driver(f->root, GPU), "vfio-pci");
	assert_string_equal(vfio_tree_driver(f->root, AUDIO), "vfio-pci");
	assert_string_equal(vfio_tree_driver(f->root, RP2), "pcieport");
	assert_true(devnode(f, "5"));
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_int_equal(hostdev_vfio_journal_get_count(j), 2);
	assert_int_equal(hostdev_vfio_journal_is_group_bind(j, 0), 1);
	assert_int_equal(hostdev_vfio_journal_is_group_bind(j, 1), 1);
	hostdev_vfio_journal_unref(j);

	/* restoring one member brings the group back together */
	assert_int_equal(hostdev_vfio_restore(f->ctx, AUDIO, NULL, 0), 2);
	assert_original(f);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

static void test_group_named_explicitly(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {GPU, AUDIO};

	/* naming every member is as good as the flag, and they restore one by one */
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 2, NULL, 0), 2);
	assert_true(devnode(f, "5"));
	assert_int_equal(hostdev_vfio_restore(f->ctx, GPU, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, AUDIO), "vfio-pci");
	assert_int_equal(hostdev_vfio_restore(f->ctx, AUDIO, NULL, 0), 1);
	assert_original(f);
}

static void test_ich9_group(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, SMBUS, NULL, 0), -EBUSY);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), LPC " (lpc_ich)"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), SATA " (ahci)"));
	assert_int_equal(hostdev_vfio_bind(f->ctx, SMBUS, NULL, HOSTDEV_BIND_GROUP), 3);
	assert_true(devnode(f, "4"));
	assert_int_equal(hostdev_vfio_bind(f->ctx, SATA, NULL, HOSTDEV_BIND_GROUP), 0);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 3);
	assert_original(f);
}

/* --- guard -------------------------------------------------------------------------------------
 */

static void test_guard_default_route(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, MGMT, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), MGMT));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "default route (br0)"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "HOSTDEV_BIND_FORCE"));
	assert_int_equal(sysfs_writes(f), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, MGMT, NULL, HOSTDEV_BIND_FORCE), 1);
	assert_string_equal(vfio_tree_driver(f->root, MGMT), "vfio-pci");
	assert_int_equal(hostdev_vfio_restore(f->ctx, MGMT, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, MGMT), "igb");
}

static void test_guard_ipv6_default_route(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    fakeroot_write(
		f->root, "proc/net/ipv6_route",
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		"fe800000000000000000000000000001 00000400 00000001 00000000 00000003 "
		"enp1s0\n"
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		"00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 "
		"lo\n"),
	    0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "default route (enp1s0)"));
}

static void test_guard_root_filesystem(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NVME, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "mounted filesystem /"));
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_guard_dm_and_group_member(void **state)
{
	struct fixture *f = *state;
	char rel[512];

	/* /var on dm-0, whose slave is sda1 behind the ICH9 SATA controller */
	snprintf(rel, sizeof(rel), "%s/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1",
		 fakeroot_pci_dir(f->root, SATA));
	assert_int_equal(fakeroot_mkdir(f->root, rel), 0);
	assert_int_equal(fakeroot_symlink(f->root, rel, "sys/class/block/sda1"), 0);
	assert_int_equal(fakeroot_mkdir(f->root, "sys/devices/virtual/block/dm-0/slaves"), 0);
	assert_int_equal(
	    fakeroot_symlink(f->root, rel, "sys/devices/virtual/block/dm-0/slaves/sda1"), 0);
	assert_int_equal(
	    fakeroot_symlink(f->root, "sys/devices/virtual/block/dm-0", "sys/dev/block/253:0"), 0);
	assert_int_equal(vfio_tree_mountinfo(f->root, "22 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n"
						      "30 22 253:0 / /var\\040data rw - xfs "
						      "/dev/mapper/vg-var rw\n"),
			 0);
	/* asking for the SMBus with --group pulls in the SATA controller: refused, saying why */
	assert_int_equal(hostdev_vfio_bind(f->ctx, SMBUS, NULL, HOSTDEV_BIND_GROUP), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), SATA " (in IOMMU group 4"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "mounted filesystem /var data"));
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_guard_btrfs_source(void **state)
{
	struct fixture *f = *state;

	/* btrfs reports an anonymous 0:N; the source device names the partition */
	assert_int_equal(
	    vfio_tree_mountinfo(f->root, "22 1 0:31 / / rw - btrfs /dev/nvme0n1p2 rw\n"), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NVME, NULL, 0), -EPERM);
}

static void test_guard_protected(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	const char *protected[] = {"1:00.0"};

	opts.protected_addresses = protected;
	opts.protected_count = 1;
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "listed it as protected"));
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, HOSTDEV_BIND_FORCE), 1);
}

/* --- failures and rollback ---------------------------------------------------------------------
 */

static void bind_pair_fails(struct fixture *f, int expect, const char *message)
{
	const char *set[] = {NIC, VIRTIO};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;

	/* The stalled cases wait all of it; for the others it bounds what must not hang, and it
	 * must not trip on a loaded machine. */
	opts.timeout_ms = 2000;
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 2, &opts, 0), expect);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), message));
	unsetenv(KMODEL_ENV_FAIL);
	unsetenv(KMODEL_ENV_STALL);
	unsetenv(KMODEL_ENV_NO_DEVNODE);
	assert_original(f);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

static void test_fail_first_override(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_FAIL, "override:" NIC ":EIO", 1);
	bind_pair_fails(f, -EIO, "setting driver_override failed");
}

static void test_fail_second_override(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_FAIL, "override:" VIRTIO ":ENOMEM", 1);
	bind_pair_fails(f, -ENOMEM, "Rolled back");
}

static void test_fail_unbind(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_FAIL, "unbind:" VIRTIO ":EBUSY", 1);
	bind_pair_fails(f, -EBUSY, "unbinding from its driver failed");
}

static void test_fail_probe(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_FAIL, "probe:" VIRTIO ":ENODEV", 1);
	bind_pair_fails(f, -ENODEV, "probing vfio-pci failed");
}

static void test_fail_probe_timeout(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_STALL, VIRTIO, 1);
	bind_pair_fails(f, -ETIMEDOUT, "not bound to vfio-pci after 2000 ms");
}

static void test_fail_devnode_timeout(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_NO_DEVNODE, "1", 1);
	bind_pair_fails(f, -ETIMEDOUT, "did not appear");
}

static void test_fail_rollback_fails_too(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {NIC, VIRTIO};
	hostdev_vfio_journal *j = NULL;

	/* the probe fails, and so does giving the virtio device back to virtio-pci */
	setenv(KMODEL_ENV_FAIL, "probe:" VIRTIO ":EIO,bind:" VIRTIO ":EIO", 1);
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 2, NULL, 0), -EIO);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "Rolling back failed for " VIRTIO));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "hostdev_vfio_restore_all()"));
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "");
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_int_equal(hostdev_vfio_journal_get_count(j), 1);
	assert_string_equal(hostdev_vfio_journal_get_address(j, 0), VIRTIO);
	assert_string_equal(hostdev_vfio_journal_get_driver(j, 0), "virtio-pci");
	assert_int_equal(hostdev_vfio_journal_is_complete(j, 0), 0);
	hostdev_vfio_journal_unref(j);
	unsetenv(KMODEL_ENV_FAIL);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 1);
	assert_original(f);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

static void test_restore_failure_keeps_record(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {NIC, VIRTIO};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;

	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 2, NULL, 0), 2);
	/* restore goes newest first: virtio succeeds, then the NIC fails to bind e1000e */
	setenv(KMODEL_ENV_FAIL, "bind:" NIC ":EIO", 1);
	opts.timeout_ms = 2000;
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, &opts, 0), -EIO);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), NIC));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "1 device restored, 1 failed"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "its record is kept"));
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "virtio-pci");
	assert_int_equal(vfio_tree_journal_count(f->ctx), 1);
	unsetenv(KMODEL_ENV_FAIL);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 1);
	assert_original(f);
}

/* A device that is gone keeps its record (it may be gone from this view only) unless told. */
static void test_restore_vanished_device(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, SPARE, NULL, 0), 1);
	kmodel_disable();
	assert_int_equal(fakeroot_pci_remove(f->root, SPARE, 0), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 0);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 1);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, HOSTDEV_RESTORE_FORGET_GONE), 0);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

/* --- journal damage ----------------------------------------------------------------------------
 */

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "re");
	char *buf = calloc(1, 65536);

	assert_non_null(fp);
	assert_non_null(buf);
	fread(buf, 1, 65535, fp);
	fclose(fp);
	return buf;
}

static void check_corrupt(struct fixture *f, const char *content, const char *why)
{
	const char *path = "var/lib/hostdev/vfio-journal.json";
	hostdev_vfio_journal *j = NULL;
	char *before, *after;
	char abs[4096];

	assert_int_equal(fakeroot_write(f->root, path, content), 0);
	snprintf(abs, sizeof(abs), "%s", fakeroot_abspath(f->root, path));
	before = read_all(abs);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EBADMSG);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), abs));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "corrupt"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), why));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "nothing was changed"));
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), -EBADMSG);
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), -EBADMSG);
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), -EBADMSG);
	assert_null(j);
	assert_int_equal(sysfs_writes(f), 0);
	after = read_all(abs);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_journal_garbage(void **state)
{
	check_corrupt(*state, "this is not json", "not valid JSON");
}

static void test_journal_truncated(void **state)
{
	struct fixture *f = *state;
	const char *path = "var/lib/hostdev/vfio-journal.json";
	char *text;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	text = read_all(fakeroot_abspath(f->root, path));
	text[strlen(text) / 2] = '\0';
	kmodel_disable();
	kmodel_enable(f->root);
	/* reset the model's log so that only writes after the damage count */
	fakeroot_remove(f->root, ".kmodel/log");
	check_corrupt(f, text, "truncated");
	free(text);
}

static void test_journal_empty_file(void **state)
{
	check_corrupt(*state, "", "empty");
}

static void test_journal_bad_driver_name(void **state)
{
	check_corrupt(*state,
		      "{\"format\":\"libhostdev-vfio-journal\",\"version\":1,\"records\":[{"
		      "\"address\":\"0000:01:00.0\",\"driver\":\"../../../../etc\","
		      "\"driver_override\":null,\"iommu_group\":2,\"time\":1,\"owner\":null,"
		      "\"group_bind\":false,\"complete\":true}]}",
		      "invalid \"driver\"");
}

/* cJSON reads "a\u0000b" as "a": refused, not cut short. */
static void test_journal_nul_in_string(void **state)
{
	check_corrupt(
	    *state,
	    "{\"format\":\"libhostdev-vfio-journal\",\"version\":1,\"records\":[{"
	    "\"address\":\"0000:01:00.0\",\"driver\":\"e1000e\","
	    "\"driver_override\":null,\"iommu_group\":2,\"time\":1,\"owner\":\"pod-a\\u0000"
	    "pod-b\",\"group_bind\":false,\"complete\":true}]}",
	    "\\u0000 (a NUL character) in records[0].owner");
}

static void test_journal_future_version(void **state)
{
	check_corrupt(*state,
		      "{\"format\":\"libhostdev-vfio-journal\",\"version\":2,\"records\":[]}",
		      "version");
}

static void test_journal_symlink_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fakeroot_write(f->root, "var/lib/hostdev/elsewhere.json",
					"{\"format\":\"libhostdev-vfio-journal\",\"version\":1,"
					"\"records\":[]}"),
			 0);
	assert_int_equal(fakeroot_symlink(f->root, "var/lib/hostdev/elsewhere.json",
					  "var/lib/hostdev/vfio-journal.json"),
			 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EBADMSG);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "symbolic link"));
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_journal_json(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_journal *j = NULL;
	char *json = NULL;

	opts.owner = "pod \"x\"";
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), 1);
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_ptr_equal(hostdev_vfio_journal_ref(j), j);
	hostdev_vfio_journal_unref(j);
	assert_int_equal(hostdev_vfio_journal_to_json(j, 0, &json), 0);
	assert_true(contains(json, "\"address\":\"0000:01:00.0\""));
	assert_true(contains(json, "\"driver\":\"e1000e\""));
	assert_true(contains(json, "\"owner\":\"pod \\\"x\\\"\""));
	assert_true(contains(json, "\"path\":"));
	hostdev_free(json);
	assert_int_equal(hostdev_vfio_journal_to_json(j, 1u << 9, &json), -EINVAL);
	assert_null(hostdev_vfio_journal_unref(j));
	assert_null(hostdev_vfio_journal_unref(NULL));
	assert_int_equal(hostdev_vfio_journal_get_count(NULL), 0);
}

static void test_journal_read_without_state_dir(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;

	assert_int_equal(fakeroot_remove(f->root, "var/lib/hostdev"), 0);
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_int_equal(hostdev_vfio_journal_get_count(j), 0);
	hostdev_vfio_journal_unref(j);
	/* reading does not create it */
	assert_int_not_equal(access(fakeroot_abspath(f->root, "var/lib/hostdev"), F_OK), 0);
	/* binding does, mode 0700 */
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	{
		struct stat st;

		assert_int_equal(stat(fakeroot_abspath(f->root, "var/lib/hostdev"), &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
	}
}

/* --- interrupted bind: a record left behind keeps the original driver --------------------------
 */

static void test_interrupted_record_reused(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;

	/* A bind that died after the unbind: the device is driverless, the record incomplete. */
	assert_int_equal(
	    fakeroot_write(
		f->root, "var/lib/hostdev/vfio-journal.json",
		"{\"format\":\"libhostdev-vfio-journal\",\"version\":1,\"records\":[{"
		"\"address\":\"0000:01:00.0\",\"driver\":\"e1000e\","
		"\"driver_override\":null,\"iommu_group\":2,\"time\":1,\"owner\":\"old\","
		"\"group_bind\":false,\"complete\":false}]}\n"),
	    0);
	kmodel_disable();
	assert_int_equal(fakeroot_pci_set_attr(f->root, NIC, "driver_override", "vfio-pci\n"), 0);
	assert_int_equal(fakeroot_pci_set_driver(f->root, NIC, NULL), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	/* binding again finishes the job and keeps "e1000e" as the original */
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_string_equal(hostdev_vfio_journal_get_driver(j, 0), "e1000e");
	assert_string_equal(hostdev_vfio_journal_get_owner(j, 0), "old");
	assert_int_equal(hostdev_vfio_journal_is_complete(j, 0), 1);
	hostdev_vfio_journal_unref(j);
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), 1);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
}

/*
 * A group bind that died after the GPU was on vfio-pci and its audio function unbound: binding the
 * group again must finish the job (the audio function was left without a driver), not return 0
 * because the named device is already there.
 */
static void test_interrupted_group_bind_finished(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;

	assert_int_equal(
	    fakeroot_write(f->root, "var/lib/hostdev/vfio-journal.json",
			   "{\"format\":\"libhostdev-vfio-journal\",\"version\":1,\"records\":["
			   "{\"address\":\"0000:02:00.0\",\"driver\":\"nouveau\","
			   "\"driver_override\":null,\"iommu_group\":5,\"time\":1,\"owner\":null,"
			   "\"group_bind\":true,\"complete\":false},"
			   "{\"address\":\"0000:02:00.1\",\"driver\":\"snd_hda_intel\","
			   "\"driver_override\":null,\"iommu_group\":5,\"time\":1,\"owner\":null,"
			   "\"group_bind\":true,\"complete\":false}]}\n"),
	    0);
	kmodel_disable();
	assert_int_equal(fakeroot_pci_set_attr(f->root, GPU, "driver_override", "vfio-pci\n"), 0);
	assert_int_equal(fakeroot_pci_set_driver(f->root, GPU, "vfio-pci"), 0);
	assert_int_equal(fakeroot_pci_set_attr(f->root, AUDIO, "driver_override", "vfio-pci\n"), 0);
	assert_int_equal(fakeroot_pci_set_driver(f->root, AUDIO, NULL), 0);
	assert_int_equal(kmodel_enable(f->root), 0);

	assert_int_equal(hostdev_vfio_bind(f->ctx, GPU, NULL, HOSTDEV_BIND_GROUP), 1);
	assert_string_equal(vfio_tree_driver(f->root, GPU), "vfio-pci");
	assert_string_equal(vfio_tree_driver(f->root, AUDIO), "vfio-pci");
	assert_true(devnode(f, "5"));
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_int_equal(hostdev_vfio_journal_get_count(j), 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(hostdev_vfio_journal_is_complete(j, i), 1);
	assert_string_equal(hostdev_vfio_journal_get_driver(j, 1), "snd_hda_intel");
	hostdev_vfio_journal_unref(j);
	assert_int_equal(hostdev_vfio_restore(f->ctx, GPU, NULL, 0), 2);
	assert_original(f);
}

/* The per-device result of a bind: named device first, then the group members it brought. */
static void test_bind_with_result(void **state)
{
	struct fixture *f = *state;
	const char *gpu = GPU;
	hostdev_vfio_result *res = NULL;
	char *json = NULL;

	assert_int_equal(
	    hostdev_vfio_bind_with_result(f->ctx, &gpu, 1, NULL, HOSTDEV_BIND_GROUP, &res), 2);
	assert_int_equal(hostdev_vfio_result_get_count(res), 2);
	assert_string_equal(hostdev_vfio_result_get_address(res, 0), GPU);
	assert_int_equal(hostdev_vfio_result_get_outcome(res, 0), HOSTDEV_VFIO_OUTCOME_BOUND);
	assert_string_equal(hostdev_vfio_result_get_driver(res, 0), "vfio-pci");
	assert_string_equal(hostdev_vfio_result_get_previous_driver(res, 0), "nouveau");
	assert_string_equal(hostdev_vfio_result_get_original_driver(res, 0), "nouveau");
	assert_int_equal(hostdev_vfio_result_get_iommu_group(res, 0), 5);
	assert_int_equal(hostdev_vfio_result_is_requested(res, 0), 1);
	assert_int_equal(hostdev_vfio_result_has_record(res, 0), 1);
	assert_string_equal(hostdev_vfio_result_get_address(res, 1), AUDIO);
	assert_int_equal(hostdev_vfio_result_is_requested(res, 1), 0);
	assert_string_equal(hostdev_vfio_result_get_previous_driver(res, 1), "snd_hda_intel");
	assert_true(contains(hostdev_vfio_result_get_message(res, 1), "shares IOMMU group 5"));
	assert_int_equal(hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_BOUND), 2);
	assert_string_equal(hostdev_vfio_outcome_name(HOSTDEV_VFIO_OUTCOME_BOUND), "bound");
	assert_int_equal(hostdev_vfio_result_to_json(res, 0, &json), 0);
	assert_true(contains(json, "\"iommu_group\":5,\"previous_driver\":\"nouveau\","
				   "\"original_driver\":\"nouveau\",\"requested\":true"));
	hostdev_free(json);
	assert_int_equal(hostdev_vfio_result_get_iommu_group(res, 2), -EINVAL);
	assert_null(hostdev_vfio_result_get_previous_driver(res, 2));
	hostdev_vfio_result_unref(res);

	/* Again: both already there, with the driver restore gives back. */
	assert_int_equal(
	    hostdev_vfio_bind_with_result(f->ctx, &gpu, 1, NULL, HOSTDEV_BIND_GROUP, &res), 0);
	assert_int_equal(hostdev_vfio_result_get_count(res), 2);
	assert_int_equal(hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_ALREADY), 2);
	assert_string_equal(hostdev_vfio_result_get_previous_driver(res, 1), "vfio-pci");
	assert_string_equal(hostdev_vfio_result_get_original_driver(res, 1), "snd_hda_intel");
	hostdev_vfio_result_unref(res);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 2);
	assert_original(f);

	/* A refused bind leaves no result. */
	res = (hostdev_vfio_result *)1;
	assert_int_equal(hostdev_vfio_bind_with_result(f->ctx, &gpu, 1, NULL, 0, &res), -EBUSY);
	assert_null(res);
	assert_int_equal(hostdev_vfio_bind_with_result(f->ctx, &gpu, 1, NULL, 1u << 7, &res),
			 -EINVAL);
}

/* A dry run plans like a bind (and refuses what it refuses) but writes nothing. */
static void test_bind_dry_run(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {NIC, GPU};
	hostdev_vfio_result *res = NULL;
	struct stat st;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_bind_with_result(
			     f->ctx, set, 2, NULL, HOSTDEV_BIND_DRY_RUN | HOSTDEV_BIND_GROUP, &res),
			 2);
	assert_int_equal(hostdev_vfio_result_get_count(res), 3);
	assert_int_equal(hostdev_vfio_result_get_outcome(res, 0), HOSTDEV_VFIO_OUTCOME_ALREADY);
	assert_int_equal(hostdev_vfio_result_get_outcome(res, 1), HOSTDEV_VFIO_OUTCOME_WOULD_BIND);
	assert_string_equal(hostdev_vfio_result_get_driver(res, 1), "nouveau");
	assert_true(contains(hostdev_vfio_result_get_message(res, 1), "unbound from nouveau"));
	assert_int_equal(hostdev_vfio_result_get_outcome(res, 2), HOSTDEV_VFIO_OUTCOME_WOULD_BIND);
	assert_string_equal(hostdev_vfio_outcome_name(HOSTDEV_VFIO_OUTCOME_WOULD_BIND),
			    "would-bind");
	hostdev_vfio_result_unref(res);
	assert_string_equal(vfio_tree_driver(f->root, GPU), "nouveau");
	assert_string_equal(vfio_tree_driver(f->root, AUDIO), "snd_hda_intel");
	assert_int_equal(vfio_tree_journal_count(f->ctx), 1);
	/* without the flag a dry run refuses the group like a bind */
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 2, NULL, HOSTDEV_BIND_DRY_RUN), -EBUSY);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 1);

	/* No state directory: a dry run does not create one (nor the lock file). */
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_STATE,
					      fakeroot_abspath(f->root, "var/lib/none")),
			 0);
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 1, NULL, HOSTDEV_BIND_DRY_RUN), 1);
	assert_int_equal(stat(fakeroot_abspath(f->root, "var/lib/none"), &st), -1);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bind_restore_one),
	    T(test_bind_idempotent),
	    T(test_bind_set_restore_all),
	    T(test_restore_all_by_owner),
	    T(test_original_override_restored),
	    T(test_driverless_device),
	    T(test_unjournaled),
	    T(test_no_iommu_refused),
	    cmocka_unit_test_setup_teardown(test_no_iommu_machine, setup_no_iommu, teardown),
	    T(test_bridge_refused),
	    T(test_bad_arguments),
	    T(test_group_refused_then_group_flag),
	    T(test_group_named_explicitly),
	    T(test_ich9_group),
	    T(test_guard_default_route),
	    T(test_guard_ipv6_default_route),
	    T(test_guard_root_filesystem),
	    T(test_guard_dm_and_group_member),
	    T(test_guard_btrfs_source),
	    T(test_guard_protected),
	    T(test_fail_first_override),
	    T(test_fail_second_override),
	    T(test_fail_unbind),
	    T(test_fail_probe),
	    T(test_fail_probe_timeout),
	    T(test_fail_devnode_timeout),
	    T(test_fail_rollback_fails_too),
	    T(test_restore_failure_keeps_record),
	    T(test_restore_vanished_device),
	    T(test_journal_garbage),
	    T(test_journal_truncated),
	    T(test_journal_empty_file),
	    T(test_journal_bad_driver_name),
	    T(test_journal_future_version),
	    T(test_journal_symlink_refused),
	    T(test_journal_nul_in_string),
	    T(test_journal_json),
	    T(test_journal_read_without_state_dir),
	    T(test_interrupted_record_reused),
	    T(test_interrupted_group_bind_finished),
	    T(test_bind_with_result),
	    T(test_bind_dry_run),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
