/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SR-IOV PF/VF model and VF count changes, end to end on a fake host (sriov_tree.h).
 *
 * The kernel is played by the kernel model (tests/kmodel, LD_PRELOAD): this machine cannot create
 * VFs, its own disk and NIC are PCI devices. tests/vm/scenarios/8*-sriov-*.sh repeat the key cases
 * on a real kernel (QEMU's SR-IOV NVMe).
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sriov_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	char warnings[4096];
};

static void capture_log(int priority, const char *message, void *userdata)
{
	struct fixture *f = userdata;

	if (priority <= HOSTDEV_LOG_WARNING)
		snprintf(f->warnings + strlen(f->warnings),
			 sizeof(f->warnings) - strlen(f->warnings), "%s\n", message);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(kmodel_present());
	f->root = sriov_tree_new();
	assert_non_null(f->root);
	f->ctx = sriov_tree_ctx(f->root);
	assert_non_null(f->ctx);
	if (!getenv("SRIOV_TEST_LOG"))
		hostdev_ctx_set_log_fn(f->ctx, capture_log, f);
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

static hostdev_sriov_pf *pf_read(struct fixture *f, const char *address)
{
	hostdev_sriov_pf *pf = NULL;

	assert_int_equal(hostdev_sriov_pf_new(f->ctx, address, &pf), 0);
	return pf;
}

static const char *attr(struct fixture *f, const char *address, const char *name)
{
	static char buf[256];
	char rel[256];
	FILE *fp;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/%s", address, name);
	buf[0] = '\0';
	fp = fopen(fakeroot_abspath(f->root, rel), "re");
	if (fp) {
		if (fgets(buf, sizeof(buf), fp))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(fp);
	}
	return buf;
}

static bool present(struct fixture *f, const char *rel)
{
	return access(fakeroot_abspath(f->root, rel), F_OK) == 0;
}

/* Number of sriov_numvfs stores the model saw (any value, any result). */
static int numvfs_writes(struct fixture *f)
{
	return kmodel_log_count(f->root, " numvfs ");
}

/* --- reading ------------------------------------------------------------------------------- */

static void test_read_pf_without_vfs(void **state)
{
	struct fixture *f = *state;
	hostdev_sriov_pf *pf = pf_read(f, "3b:00.0");

	assert_string_equal(hostdev_sriov_pf_get_address(pf), NIC_PF);
	assert_string_equal(hostdev_sriov_pf_get_driver(pf), "i40e");
	assert_int_equal(hostdev_sriov_pf_get_total_vfs(pf), 8);
	assert_int_equal(hostdev_sriov_pf_get_num_vfs(pf), 0);
	assert_int_equal(hostdev_sriov_pf_get_vf_device_id(pf), 0x154c);
	assert_int_equal(hostdev_sriov_pf_get_offset(pf), 16);
	assert_int_equal(hostdev_sriov_pf_get_stride(pf), 1);
	assert_int_equal(hostdev_sriov_pf_get_autoprobe(pf), 1);
	assert_int_equal(hostdev_sriov_pf_get_vf_count(pf), 0);
	assert_null(hostdev_sriov_pf_get_vf_address(pf, 0));
	assert_int_equal(hostdev_sriov_pf_get_vf_index(pf, 0), -1);
	assert_int_equal(hostdev_sriov_pf_get_vf_iommu_group(pf, 0), -1);
	assert_ptr_equal(hostdev_sriov_pf_ref(pf), pf);
	assert_null(hostdev_sriov_pf_unref(pf));
	assert_null(hostdev_sriov_pf_unref(pf));
	assert_null(hostdev_sriov_pf_unref(NULL));
	assert_null(hostdev_sriov_pf_get_address(NULL));
	assert_int_equal(hostdev_sriov_pf_get_autoprobe(NULL), -1);
}

static void test_read_refusals(void **state)
{
	struct fixture *f = *state;
	hostdev_sriov_pf *pf = NULL;

	assert_int_equal(hostdev_sriov_pf_new(f->ctx, VIRTIO, &pf), -EOPNOTSUPP);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "not an SR-IOV physical function"));
	assert_int_equal(hostdev_sriov_pf_new(f->ctx, "0000:77:00.0", &pf), -ENODEV);
	assert_int_equal(hostdev_sriov_pf_new(f->ctx, "nonsense", &pf), -EINVAL);
	assert_int_equal(hostdev_sriov_pf_new(NULL, NIC_PF, &pf), -EINVAL);
	assert_int_equal(hostdev_sriov_pf_new(f->ctx, NIC_PF, NULL), -EINVAL);
	assert_null(pf);

	/* A VF is named as one, with its PF. */
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, NULL, 0), 2);
	assert_int_equal(hostdev_sriov_pf_new(f->ctx, "0000:3b:02.1", &pf), -EOPNOTSUPP);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "is virtual function 1 of PF " NIC_PF));
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, "0000:3b:02.1", 0, NULL, 0),
			 -EOPNOTSUPP);
}

/* --- enabling and the VF model ------------------------------------------------------------- */

static void test_enable_vfs(void **state)
{
	struct fixture *f = *state;
	hostdev_sriov_pf *pf;
	hostdev_pci_device *vf = NULL;
	int groups[4];

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 4, NULL, 0), 4);
	assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "4");
	pf = pf_read(f, NIC_PF);
	assert_int_equal(hostdev_sriov_pf_get_num_vfs(pf), 4);
	assert_int_equal(hostdev_sriov_pf_get_vf_count(pf), 4);
	for (size_t i = 0; i < 4; i++) {
		char want[32], netdev[32];

		snprintf(want, sizeof(want), "0000:3b:02.%zu", i);
		snprintf(netdev, sizeof(netdev), "ens4f0v%zu", i);
		assert_int_equal(hostdev_sriov_pf_get_vf_index(pf, i), (int)i);
		assert_string_equal(hostdev_sriov_pf_get_vf_address(pf, i), want);
		/* autoprobe is on: the VF driver took each VF, and its netdev appeared */
		assert_string_equal(hostdev_sriov_pf_get_vf_driver(pf, i), "iavf");
		assert_string_equal(hostdev_sriov_pf_get_vf_netdev(pf, i), netdev);
		assert_non_null(hostdev_sriov_pf_get_vf_mac(pf, i));
		assert_int_equal(strlen(hostdev_sriov_pf_get_vf_mac(pf, i)), 17);
		groups[i] = hostdev_sriov_pf_get_vf_iommu_group(pf, i);
		assert_true(groups[i] >= 0 && groups[i] != 12);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(groups[i], groups[j]);
	}
	assert_string_equal(hostdev_sriov_pf_get_vf_mac(pf, 1), "02:00:00:72:3b:01");
	hostdev_sriov_pf_unref(pf);

	/* The PCI view agrees: VF -> PF and index. */
	assert_int_equal(hostdev_pci_device_new(f->ctx, "3b:02.3", &vf), 0);
	assert_true(hostdev_pci_device_is_sriov_vf(vf));
	assert_string_equal(hostdev_pci_device_get_pf_address(vf), NIC_PF);
	assert_int_equal(hostdev_pci_device_get_vf_index(vf), 3);
	assert_int_equal(hostdev_pci_device_get_device_id(vf), 0x154c);
	assert_string_equal(hostdev_pci_device_get_driver(vf), "iavf");
	hostdev_pci_device_unref(vf);
	assert_string_equal(f->warnings, "");
}

static void test_same_count_is_noop(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 3, NULL, 0), 3);
	assert_int_equal(numvfs_writes(f), 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 3, NULL, 0), 3);
	assert_int_equal(numvfs_writes(f), 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF2, 0, NULL, 0), 0);
	assert_int_equal(numvfs_writes(f), 1);
}

static void test_n_to_m_through_zero(void **state)
{
	struct fixture *f = *state;
	hostdev_sriov_pf *pf;

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 4, NULL, 0), 4);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, NULL, 0), 2);
	/* 4, then 0, then 2; never an EBUSY from the kernel */
	assert_int_equal(kmodel_log_count(f->root, "numvfs " NIC_PF " 4 -> ok"), 1);
	assert_int_equal(kmodel_log_count(f->root, "numvfs " NIC_PF " 0 -> ok"), 1);
	assert_int_equal(kmodel_log_count(f->root, "numvfs " NIC_PF " 2 -> ok"), 1);
	assert_int_equal(kmodel_log_count(f->root, "Device or resource busy"), 0);
	assert_false(present(f, "sys/bus/pci/devices/0000:3b:02.3"));
	assert_false(present(f, "sys/bus/pci/devices/" NIC_PF "/virtfn2"));
	pf = pf_read(f, NIC_PF);
	assert_int_equal(hostdev_sriov_pf_get_vf_count(pf), 2);
	hostdev_sriov_pf_unref(pf);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 6, NULL, 0), 6);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 0, NULL, 0), 0);
	assert_false(present(f, "sys/bus/pci/devices/0000:3b:02.0"));
	assert_false(present(f, "sys/class/net/ens4f0v0"));
	assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "0");
}

static void test_ari_slot_crossing(void **state)
{
	struct fixture *f = *state;
	hostdev_sriov_pf *pf;

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, "01:00.0", 8, NULL, 0), 8);
	pf = pf_read(f, NVME_PF);
	assert_int_equal(hostdev_sriov_pf_get_vf_count(pf), 8);
	assert_string_equal(hostdev_sriov_pf_get_vf_address(pf, 0), "0000:01:00.1");
	assert_string_equal(hostdev_sriov_pf_get_vf_address(pf, 6), "0000:01:00.7");
	assert_string_equal(hostdev_sriov_pf_get_vf_address(pf, 7), "0000:01:01.0");
	/* no VF driver known for the NVMe: driverless, no netdev */
	assert_null(hostdev_sriov_pf_get_vf_driver(pf, 7));
	assert_null(hostdev_sriov_pf_get_vf_netdev(pf, 7));
	assert_null(hostdev_sriov_pf_get_vf_mac(pf, 7));
	hostdev_sriov_pf_unref(pf);
}

static void test_partial_enable(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_SRIOV_LIMIT, NIC_PF ":3", 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 8, NULL, 0), 3);
	assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "3");
	assert_true(contains(f->warnings, "8 VFs requested"));
	assert_true(contains(f->warnings, "enabled only 3"));
	assert_true(present(f, "sys/bus/pci/devices/0000:3b:02.2"));
	assert_false(present(f, "sys/bus/pci/devices/0000:3b:02.3"));
}

/* --- the kernel's rules, refused or mapped --------------------------------------------------- */

static void test_erange_before_any_write(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 9, NULL, 0), -ERANGE);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), NIC_PF ": cannot enable 9 VFs"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "at most 8 (sriov_totalvfs)"));
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 70000, NULL, 0), -ERANGE);
	assert_int_equal(numvfs_writes(f), 0);
}

static void test_unbound_pf(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NODRV_PF, 2, NULL, 0), -ENOENT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "writing 2 to sriov_numvfs failed"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "the PF has no driver"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "bind its driver first"));
	/* the kernel's answer, not a guess: the model saw the write */
	assert_int_equal(kmodel_log_count(f->root, "numvfs " NODRV_PF " 2 -> No such file"), 1);
}

/* Each driver errno gets its own advice. */
static void test_errno_messages(void **state)
{
	static const struct {
		const char *inject;
		int err;
		const char *advice;
	} cases[] = {
	    {"numvfs:" NIC_PF ":ENOENT", -ENOENT, "i40e cannot configure SR-IOV"},
	    {"numvfs:" NIC_PF ":ENOSPC", -ENOSPC, "ask for fewer VFs"},
	    {"numvfs:" NIC_PF ":EINVAL", -EINVAL, "rejected that count"},
	    {"numvfs:" NIC_PF ":EIO", -EIO, "firmware"},
	    {"numvfs:" NIC_PF ":EBUSY", -EBUSY, "only takes a new count after 0"},
	    {"numvfs:" NIC_PF ":EPERM", -EPERM, "run as root"},
	    {"numvfs:" NIC_PF ":ENOMEM", -ENOMEM, "out of memory"},
	    {"numvfs:" NIC_PF ":EAGAIN", -EAGAIN, "retry later"},
	    {"numvfs:" NIC_PF ":ENODEV", -ENODEV, "PF went away"},
	    {"numvfs:" NIC_PF ":ENXIO", -ENXIO, "dmesg says why"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv(KMODEL_ENV_FAIL, cases[i].inject, 1);
		assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, NULL, 0),
				 cases[i].err);
		assert_true(contains(hostdev_ctx_get_error(f->ctx),
				     NIC_PF ": writing 2 to sriov_numvfs failed"));
		assert_true(contains(hostdev_ctx_get_error(f->ctx), cases[i].advice));
		assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "0");
	}
	/* disabling can fail too */
	unsetenv(KMODEL_ENV_FAIL);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, NULL, 0), 2);
	setenv(KMODEL_ENV_FAIL, "numvfs0:" NIC_PF ":EIO", 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 3, NULL, 0), -EIO);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "writing 0 to sriov_numvfs failed"));
	assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "2");
}

/* --- autoprobe, vfio and the in-use refusal -------------------------------------------------- */

static void test_autoprobe_off_then_vfio(void **state)
{
	struct fixture *f = *state;
	struct hostdev_sriov_options opts = HOSTDEV_SRIOV_OPTIONS_INIT;
	struct hostdev_vfio_options vopts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_sriov_pf *pf;
	const char *vf0 = "0000:3b:02.0";

	opts.autoprobe = HOSTDEV_SRIOV_AUTOPROBE_OFF;
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, &opts, 0), 2);
	assert_string_equal(attr(f, NIC_PF, "sriov_drivers_autoprobe"), "0");
	pf = pf_read(f, NIC_PF);
	assert_int_equal(hostdev_sriov_pf_get_autoprobe(pf), 0);
	assert_null(hostdev_sriov_pf_get_vf_driver(pf, 0));
	assert_null(hostdev_sriov_pf_get_vf_driver(pf, 1));
	assert_null(hostdev_sriov_pf_get_vf_netdev(pf, 0));
	hostdev_sriov_pf_unref(pf);

	/* a driverless VF goes straight to vfio-pci with the library's bind; the owner is free
	 * text and comes back escaped in messages */
	vopts.owner = "vm-a\n\x1b[2J";
	assert_int_equal(hostdev_vfio_bind(f->ctx, vf0, &vopts, 0), 1);
	assert_string_equal(attr(f, vf0, "driver_override"), "vfio-pci");

	/* removing or changing the VFs is refused while one is handed to a VM */
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 0, NULL, 0), -EBUSY);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "refusing to change the VF count"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx),
			     "VF 0 0000:3b:02.0 (vfio-pci, bound by libhostdev for "
			     "'vm-a\\x0a\\x1b[2J')"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "hostdev_vfio_restore()"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "HOSTDEV_SRIOV_FORCE"));
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 4, NULL, 0), -EBUSY);
	assert_int_equal(kmodel_log_count(f->root, "numvfs " NIC_PF " 0"), 0);
	assert_true(present(f, "sys/bus/pci/devices/0000:3b:02.0"));
	/* growing the same count is no change: allowed */
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, NULL, 0), 2);

	/* forced: done, and the record of the destroyed VF is dropped */
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 0, NULL, HOSTDEV_SRIOV_FORCE),
			 0);
	assert_false(present(f, "sys/bus/pci/devices/0000:3b:02.0"));
	assert_true(contains(f->warnings, "dropping its vfio journal record"));
	{
		hostdev_vfio_journal *j = NULL;

		assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
		assert_int_equal(hostdev_vfio_journal_get_count(j), 0);
		hostdev_vfio_journal_unref(j);
	}
	/* autoprobe back on */
	opts.autoprobe = HOSTDEV_SRIOV_AUTOPROBE_ON;
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 1, &opts, 0), 1);
	assert_string_equal(attr(f, NIC_PF, "sriov_drivers_autoprobe"), "1");
	assert_string_equal(attr(f, "0000:3b:02.0", "uevent"), "DRIVER=iavf");
}

/* A journal record alone (the VF is off vfio-pci, e.g. an interrupted bind) also refuses. */
static void test_journal_record_refuses(void **state)
{
	struct fixture *f = *state;
	const char *vf1 = "0000:3b:03.1";
	int fd;

	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF2, 2, NULL, 0), 2);
	assert_int_equal(hostdev_vfio_bind(f->ctx, vf1, NULL, 0), 1);
	/* someone unbinds it behind libhostdev's back */
	fd = open(fakeroot_abspath(f->root, "sys/bus/pci/drivers/vfio-pci/unbind"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, vf1, strlen(vf1)), (ssize_t)strlen(vf1));
	close(fd);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF2, 1, NULL, 0), -EBUSY);
	assert_true(contains(hostdev_ctx_get_error(f->ctx),
			     "VF 1 0000:3b:03.1 (no driver, in the vfio journal)"));
	/* a VF on vfio-pci without a record refuses too */
	assert_int_equal(hostdev_vfio_restore(f->ctx, vf1, NULL, 0), 1);
	fd = open(fakeroot_abspath(f->root, "sys/bus/pci/devices/0000:3b:03.0/driver_override"),
		  O_WRONLY);
	assert_true(fd >= 0 && write(fd, "vfio-pci", 8) == 8);
	close(fd);
	fd = open(fakeroot_abspath(f->root, "sys/bus/pci/drivers_probe"), O_WRONLY);
	assert_true(fd >= 0 && write(fd, "0000:3b:03.0", 12) == 12);
	close(fd);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF2, 3, NULL, 0), -EBUSY);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "VF 0 0000:3b:03.0 (on vfio-pci)"));
	assert_false(strstr(hostdev_ctx_get_error(f->ctx), "0000:3b:03.1"));
}

/* --- the watchdog ---------------------------------------------------------------------------- */

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll @done (a state of the fake root), at most WAIT_MS: true once it holds. */
#define WAIT_MS 30000
static bool wait_for(struct fixture *f, bool (*done)(struct fixture *f))
{
	int64_t end = ms_now() + WAIT_MS;

	while (!done(f) && ms_now() < end)
		usleep(5000);
	return done(f);
}

static bool two_vfs(struct fixture *f)
{
	return strcmp(attr(f, NIC_PF, "sriov_numvfs"), "2") == 0;
}

static bool numvfs_logged(struct fixture *f)
{
	return kmodel_log_count(f->root, "numvfs " NIC_PF " 2 -> ok") > 0;
}

static void test_hung_write_times_out(void **state)
{
	struct fixture *f = *state;
	struct hostdev_sriov_options opts;

	assert_int_equal(hostdev_sriov_options_init(&opts, HOSTDEV_SRIOV_OPTIONS_VERSION), 0);
	opts.timeout_ms = 200;
	/* The driver hangs until the test lets it go: the watchdog must give up on its own. */
	setenv(KMODEL_ENV_HOLD, "numvfs:" NIC_PF, 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, &opts, 0), -ETIMEDOUT);
	assert_true(
	    contains(hostdev_ctx_get_error(f->ctx), "sriov_numvfs did not return within 200 ms"));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), fakeroot_sysfs(f->root)));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "may still complete the write"));
	/* the caller got control back while the driver still hangs */
	assert_true(kmodel_hold_wait(f->root));
	assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "0");
	/* ...and the write completes once the driver returns: visible, never pretended */
	kmodel_hold_release(f->root);
	assert_true(wait_for(f, two_vfs));
	/* the worker's log line is written before the root is removed */
	assert_true(wait_for(f, numvfs_logged));
	unsetenv(KMODEL_ENV_HOLD);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, &opts, 0), 2);
}

static void test_slow_write_within_timeout(void **state)
{
	struct fixture *f = *state;
	struct hostdev_sriov_options opts = HOSTDEV_SRIOV_OPTIONS_INIT;

	/* A driver that takes 300 ms, and a watchdog that waits (far) longer. */
	opts.timeout_ms = WAIT_MS;
	setenv(KMODEL_ENV_DELAY, "numvfs:*:300", 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 3, &opts, 0), 3);
}

/* The kernel said yes but the VF links do not show up in time: reported, not pretended. */
static void test_links_timeout(void **state)
{
	struct fixture *f = *state;
	struct hostdev_sriov_options opts = HOSTDEV_SRIOV_OPTIONS_INIT;

	/* The links never come, so the whole timeout passes; it is also each write's watchdog,
	 * which a loaded machine must not trip. */
	opts.timeout_ms = 5000;
	setenv(KMODEL_ENV_SRIOV_NO_PHYSFN, NIC_PF, 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 2, &opts, 0), -ETIMEDOUT);
	assert_true(
	    contains(hostdev_ctx_get_error(f->ctx),
		     "2 VFs enabled, but only 0 of them have their virtfn/physfn links after "
		     "5000 ms"));
	assert_string_equal(attr(f, NIC_PF, "sriov_numvfs"), "2");
}

/* --- API hygiene ----------------------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct hostdev_sriov_options opts = HOSTDEV_SRIOV_OPTIONS_INIT;

	assert_int_equal(hostdev_sriov_set_num_vfs(NULL, NIC_PF, 1, NULL, 0), -EINVAL);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NULL, 1, NULL, 0), -EINVAL);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, "3b:00", 1, NULL, 0), -EINVAL);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 1, NULL, 1u << 7), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "unknown SR-IOV flags 0x80"));
	opts.version = 99;
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 1, &opts, 0), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "hostdev_sriov_options_init"));
	opts.version = HOSTDEV_SRIOV_OPTIONS_VERSION;
	opts.autoprobe = 7;
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC_PF, 1, &opts, 0), -EINVAL);
	assert_int_equal(hostdev_sriov_options_init(NULL, 1), -EINVAL);
	assert_int_equal(hostdev_sriov_options_init(&opts, 0), -EINVAL);
	assert_int_equal(hostdev_sriov_options_init(&opts, HOSTDEV_SRIOV_OPTIONS_VERSION + 1),
			 -EINVAL);
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, "0000:77:00.0", 1, NULL, 0), -ENODEV);
	assert_int_equal(numvfs_writes(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_pf_without_vfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enable_vfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_count_is_noop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n_to_m_through_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ari_slot_crossing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_enable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_erange_before_any_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unbound_pf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errno_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_autoprobe_off_then_vfio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_record_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hung_write_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_write_within_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
