/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA vGPU without mdev (docs/vgpu.md): the real library against the A2 host of vgpu_tree.h,
 * with the kernel model (tests/kmodel) standing in for the kernel and NVIDIA's driver. This machine
 * has no such GPU (and must never have its own devices rebound), so the driver's reactions are
 * the model's: its vGPU rules are MODELLED FROM NVIDIA'S DOCUMENTATION, NOT OBSERVED (kmodel.c,
 * "NVIDIA vGPU without mdev"): a type can only be set while it is creatable on the VF, another
 * type while one is held is refused, and creatable shrinks as types are set (one type per GPU,
 * at most the type's instance count). The first test pins those model rules with plain writes, so
 * that a wrong model cannot make a wrong library pass.
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

#include "vgpu_tree.h"

struct t {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t || !kmodel_present())
		return -1;
	t->root = vgpu_tree_new(true);
	t->ctx = t->root ? vgpu_tree_ctx(t->root) : NULL;
	if (!t->ctx)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	kmodel_disable();
	hostdev_ctx_unref(t->ctx);
	fakeroot_free(t->root);
	free(t);
	return 0;
}

/* `echo -n value > <vf>/nvidia/current_vgpu_type` through the model. 0 or -errno. */
static int store_type(struct t *t, const char *vf, const char *value)
{
	char rel[128];
	int fd;
	ssize_t n;
	int err;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
	fd = open(fakeroot_abspath(t->root, rel), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* The text of <root>/@rel@suffix, NULL when it does not exist. */
static const char *file_text2(struct t *t, const char *rel_prefix, const char *middle,
			      const char *suffix)
{
	static char buf[8192];
	char rel[256];
	int fd;
	ssize_t n;

	snprintf(rel, sizeof(rel), "%s%s%s", rel_prefix, middle, suffix);
	buf[0] = '\0';
	fd = open(fakeroot_abspath(t->root, rel), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static const char *creatable_text(struct t *t, const char *vf)
{
	return file_text2(t, "sys/bus/pci/devices/", vf, "/nvidia/creatable_vgpu_types");
}

static unsigned int current_of(struct t *t, const char *vf)
{
	hostdev_vgpu_list *l = NULL;
	unsigned int type;

	assert_int_equal(hostdev_vgpu_read(t->ctx, vf, &l), 0);
	assert_int_equal(hostdev_vgpu_list_get_count(l), 1);
	type = hostdev_vgpu_list_get_current_type(l, 0);
	hostdev_vgpu_list_unref(l);
	return type;
}

static size_t creatable_count(struct t *t, const char *vf)
{
	hostdev_vgpu_list *l = NULL;
	size_t n;

	assert_int_equal(hostdev_vgpu_read(t->ctx, vf, &l), 0);
	n = hostdev_vgpu_list_get_type_count(l, 0);
	hostdev_vgpu_list_unref(l);
	return n;
}

static bool journal_has(struct t *t, const char *vf)
{
	const char *text = file_text2(t, "var/lib/hostdev/vgpu-journal.json", "", "");

	return text && strstr(text, vf);
}

static void error_has(struct t *t, const char *needle)
{
	const char *msg = hostdev_ctx_get_error(t->ctx);

	if (!strstr(msg, needle))
		fail_msg("error \"%s\" does not say \"%s\"", msg, needle);
}

/* The model's own rules, plain writes (modelled from NVIDIA's documentation, not observed). */
static void test_model_rules(void **state)
{
	struct t *t = *state;
	const char *text;

	text = creatable_text(t, A2_VF0);
	assert_non_null(text);
	assert_non_null(strstr(text, "ID    : vGPU Name\n1301  : NVIDIA A2-1Q\n"));
	assert_string_equal(
	    file_text2(t, "sys/bus/pci/devices/", A2_VF0, "/nvidia/current_vgpu_type"), "0\n");
	assert_int_equal(store_type(t, A2_VF0, "x"), -EINVAL);
	assert_int_equal(store_type(t, A2_VF0, "4242"), -EINVAL); /* not creatable */
	assert_int_equal(store_type(t, A2_VF0, "1304"), 0);	  /* A2-8Q: 2 instances */
	assert_int_equal(store_type(t, A2_VF0, "1303"), -EBUSY);  /* another type held */
	/* One type per GPU: the others offer only 8Q; the VF holding it lists nothing. */
	text = creatable_text(t, A2_VF1);
	assert_string_equal(text, "ID    : vGPU Name\n1304  : NVIDIA A2-8Q\n");
	text = creatable_text(t, A2_VF0);
	assert_string_equal(text, "ID    : vGPU Name\n");
	assert_int_equal(store_type(t, A2_VF1, "1304"), 0);
	/* Two 8Q fill the A2: nothing is creatable any more. */
	text = creatable_text(t, A2_VF2);
	assert_string_equal(text, "ID    : vGPU Name\n");
	assert_int_equal(store_type(t, A2_VF2, "1304"), -EINVAL);
	assert_int_equal(store_type(t, A2_VF0, "0"), 0);
	assert_int_equal(store_type(t, A2_VF1, "0"), 0);
	text = creatable_text(t, A2_VF2);
	assert_non_null(strstr(text, "1312  : NVIDIA A2-16A\n"));
}

/* Enabling the VFs worked with the PF on nvidia (setup); they are on nvidia, in new groups. */
static void test_list(void **state)
{
	struct t *t = *state;
	hostdev_vgpu_list *l = NULL;
	char *json = NULL;

	assert_int_equal(hostdev_vgpu_read(t->ctx, NULL, &l), 0);
	assert_int_equal(hostdev_vgpu_list_get_count(l), A2_VFS);
	assert_string_equal(hostdev_vgpu_list_get_address(l, 0), A2_VF0);
	assert_string_equal(hostdev_vgpu_list_get_address(l, A2_VFS - 1), A2_VF15);
	for (size_t i = 0; i < A2_VFS; i++) {
		assert_string_equal(hostdev_vgpu_list_get_pf(l, i), A2_PF);
		assert_string_equal(hostdev_vgpu_list_get_driver(l, i), "nvidia");
		assert_true(hostdev_vgpu_list_get_iommu_group(l, i) >= 0);
		assert_int_equal(hostdev_vgpu_list_get_current_type(l, i), 0);
		assert_null(hostdev_vgpu_list_get_current_name(l, i));
		assert_int_equal(hostdev_vgpu_list_get_type_count(l, i), A2_TYPE_COUNT);
	}
	assert_int_equal(hostdev_vgpu_list_get_type_id(l, 0, 2), A2_TYPE_4Q);
	assert_string_equal(hostdev_vgpu_list_get_type_name(l, 0, 2), "NVIDIA A2-4Q");
	/* Out of range: the documented fallbacks. */
	assert_null(hostdev_vgpu_list_get_address(l, A2_VFS));
	assert_int_equal(hostdev_vgpu_list_get_type_id(l, 0, A2_TYPE_COUNT), 0);
	assert_null(hostdev_vgpu_list_get_type_name(l, A2_VFS, 0));
	assert_int_equal(hostdev_vgpu_list_to_json(l, 0, &json), 0);
	assert_non_null(strstr(json, "\"address\":\"0000:08:00.4\",\"pf\":\"0000:08:00.0\","
				     "\"driver\":\"nvidia\""));
	assert_non_null(strstr(json, "{\"id\":1303,\"name\":\"NVIDIA A2-4Q\","
				     "\"resource_name\":\"nvidia.com/NVIDIA_A2-4Q\"}"));
	hostdev_free(json);
	hostdev_vgpu_list_unref(l);

	/* The PF: its VFs; one VF: itself. */
	assert_int_equal(hostdev_vgpu_read(t->ctx, "08:00.0", &l), 0);
	assert_int_equal(hostdev_vgpu_list_get_count(l), A2_VFS);
	hostdev_vgpu_list_unref(l);
	assert_int_equal(hostdev_vgpu_read(t->ctx, A2_VF4, &l), 0);
	assert_int_equal(hostdev_vgpu_list_get_count(l), 1);
	assert_string_equal(hostdev_vgpu_list_get_address(l, 0), A2_VF4);
	hostdev_vgpu_list_unref(l);
}

static void test_read_errors(void **state)
{
	struct t *t = *state;
	hostdev_vgpu_list *l = NULL;

	assert_int_equal(hostdev_vgpu_read(t->ctx, "08:00", &l), -EINVAL);
	error_has(t, "\"08:00\" is not a PCI address");
	assert_int_equal(hostdev_vgpu_read(t->ctx, "0000:09:00.0", &l), -ENODEV);
	error_has(t, "no PCI device 0000:09:00.0");
	/* A VF without the nvidia directory (a NIC VF on iavf). */
	assert_int_equal(hostdev_vgpu_read(t->ctx, NIC_VF, &l), -EOPNOTSUPP);
	error_has(t, "0000:3b:02.0 (a VF of 0000:3b:00.0) has no nvidia/current_vgpu_type");
	error_has(t, "and the VF is on iavf");
	/* A PF whose VFs are not vGPUs. */
	assert_int_equal(hostdev_vgpu_read(t->ctx, NIC_PF, &l), -EOPNOTSUPP);
	error_has(t, "0000:3b:00.0 has 1 VFs, but none offers vGPU types");
	assert_null(l);
	/* A driver text the library does not understand is refused whole. */
	assert_int_equal(
	    fakeroot_write(t->root, "sys/bus/pci/devices/" A2_VF3 "/nvidia/creatable_vgpu_types",
			   "ID    : vGPU Name\n1301  : NVIDIA A2-1Q\nbogus line\n"),
	    0);
	assert_int_equal(hostdev_vgpu_read(t->ctx, A2_VF3, &l), -EBADMSG);
	error_has(t, "line 3 \"bogus line\" has no ':'");
	assert_int_equal(hostdev_vgpu_read(t->ctx, NULL, &l), -EBADMSG);
	assert_int_equal(
	    fakeroot_write(t->root, "sys/bus/pci/devices/" A2_VF3 "/nvidia/creatable_vgpu_types",
			   "ID    : vGPU Name\n1301  : NVIDIA A2-1Q\n1301 : again\n"),
	    0);
	assert_int_equal(hostdev_vgpu_read(t->ctx, A2_VF3, &l), -EBADMSG);
	error_has(t, "repeats a type id");
	/* The model refuses such a store: write the file as a driver bug would leave it. */
	kmodel_disable();
	assert_int_equal(fakeroot_write(t->root,
					"sys/bus/pci/devices/" A2_VF3 "/nvidia/current_vgpu_type",
					"abc\n"),
			 0);
	assert_int_equal(kmodel_enable(t->root), 0);
	assert_int_equal(hostdev_vgpu_read(t->ctx, A2_VF3, &l), -EBADMSG);
	error_has(t, "reads \"abc\", not a type id");
}

static void test_set_and_clear(void **state)
{
	struct t *t = *state;
	hostdev_vgpu_list *l = NULL;
	struct hostdev_vgpu_options opts = HOSTDEV_VGPU_OPTIONS_INIT;

	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_4Q, &opts, 0), 1);
	assert_int_equal(current_of(t, A2_VF0), A2_TYPE_4Q);
	assert_true(journal_has(t, A2_VF0));
	/* Creatable shrinks: the siblings offer 4Q only; the name is found among them. */
	assert_int_equal(creatable_count(t, A2_VF1), 1);
	assert_int_equal(hostdev_vgpu_read(t->ctx, A2_VF0, &l), 0);
	assert_string_equal(hostdev_vgpu_list_get_current_name(l, 0), "NVIDIA A2-4Q");
	assert_int_equal(hostdev_vgpu_list_is_journaled(l, 0), 1);
	assert_int_equal(hostdev_vgpu_list_get_type_count(l, 0), 0);
	hostdev_vgpu_list_unref(l);
	/* Again: nothing to do. */
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_4Q, NULL, 0), 0);
	/* Another type while one is held. */
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_2Q, NULL, 0), -EBUSY);
	error_has(t, "0000:08:00.4 holds vGPU type 1303 (NVIDIA A2-4Q)");
	error_has(t, "clear it first");
	/* A type the GPU cannot run next to 4Q. */
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF1, A2_TYPE_2Q, NULL, 0), -ENOENT);
	error_has(t, "0000:08:00.5 cannot take vGPU type 1302 now");
	error_has(t, "Creatable now: 1303 (NVIDIA A2-4Q)");
	/* Four 4Q fill the A2. */
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF1, A2_TYPE_4Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF2, A2_TYPE_4Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF3, A2_TYPE_4Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF4, A2_TYPE_4Q, NULL, 0), -ENOENT);
	error_has(t, "Creatable now: none");
	assert_false(journal_has(t, A2_VF4));
	/* Clear: the type goes, the record goes, the GPU has room again. */
	assert_int_equal(hostdev_vgpu_clear_type(t->ctx, A2_VF3, NULL, 0), 1);
	assert_int_equal(current_of(t, A2_VF3), 0);
	assert_false(journal_has(t, A2_VF3));
	assert_int_equal(creatable_count(t, A2_VF4), 1);
	assert_int_equal(hostdev_vgpu_clear_type(t->ctx, A2_VF3, NULL, 0), 0);
	for (const char *const *vf = (const char *const[]){A2_VF0, A2_VF1, A2_VF2, NULL}; *vf; vf++)
		assert_int_equal(hostdev_vgpu_clear_type(t->ctx, *vf, NULL, 0), 1);
	assert_int_equal(creatable_count(t, A2_VF4), A2_TYPE_COUNT);
	assert_false(journal_has(t, A2_VF0));
}

static void test_set_errors(void **state)
{
	struct t *t = *state;
	struct hostdev_vgpu_options bad = {.version = 9};

	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, 9999, NULL, 0), -ENOENT);
	error_has(t, "cannot take vGPU type 9999 now");
	error_has(t, "1301 (NVIDIA A2-1Q), 1302 (NVIDIA A2-2Q)");
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, 0, NULL, 0), -EINVAL);
	error_has(t, "vGPU type 0 means no type");
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, "nonsense", A2_TYPE_1Q, NULL, 0), -EINVAL);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_1Q, NULL, 4), -EINVAL);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_1Q, &bad, 0), -EINVAL);
	error_has(t, "vGPU options version 9");
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, NIC_VF, A2_TYPE_1Q, NULL, 0), -EOPNOTSUPP);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, "0000:09:00.0", A2_TYPE_1Q, NULL, 0),
			 -ENODEV);
	assert_int_equal(hostdev_vgpu_clear_type(t->ctx, NIC_VF, NULL, 0), -EOPNOTSUPP);
	assert_int_equal(current_of(t, A2_VF0), 0);
	assert_false(journal_has(t, A2_VF0));

	/* The driver fails the store: nothing changed, no record left. */
	setenv(KMODEL_ENV_FAIL, "vgpu:" A2_VF0 ":EIO", 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_1Q, NULL, 0), -EIO);
	error_has(t, "setting vGPU type 1301 (NVIDIA A2-1Q) failed");
	unsetenv(KMODEL_ENV_FAIL);
	assert_int_equal(current_of(t, A2_VF0), 0);
	assert_false(journal_has(t, A2_VF0));

	/* A VM holds the VF: clearing is refused with the reason. */
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_1Q, NULL, 0), 1);
	setenv(KMODEL_ENV_FAIL, "vgpu:" A2_VF0 ":EBUSY", 1);
	assert_int_equal(hostdev_vgpu_clear_type(t->ctx, A2_VF0, NULL, 0), -EBUSY);
	error_has(t, "a virtual machine probably holds it open");
	unsetenv(KMODEL_ENV_FAIL);
	assert_true(journal_has(t, A2_VF0));
	assert_int_equal(current_of(t, A2_VF0), A2_TYPE_1Q);

	/* A corrupt journal: refused, nothing changed. */
	assert_int_equal(fakeroot_write(t->root, "var/lib/hostdev/vgpu-journal.json", "{oops"), 0);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF1, A2_TYPE_1Q, NULL, 0), -EBADMSG);
	error_has(t, "the vGPU journal");
	error_has(t, "is corrupt (not valid JSON)");
	assert_int_equal(current_of(t, A2_VF1), 0);
	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), -EBADMSG);
}

/* A VF that holds a type, or the GPU of such VFs, is never bound to vfio-pci. */
static void test_bind_refused(void **state)
{
	struct t *t = *state;
	hostdev_vgpu_list *l = NULL;
	hostdev_vfio_report *report = NULL;
	const char *vf1 = A2_VF1;
	char drv[64];

	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_8Q, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_bind(t->ctx, A2_VF0, NULL, 0), -EBUSY);
	error_has(t, "0000:08:00.4: it is an NVIDIA vGPU: it holds vGPU type 1304");
	error_has(t, "clear the vGPU type first");
	assert_int_equal(hostdev_vfio_bind(t->ctx, A2_VF0, NULL, HOSTDEV_BIND_FORCE), -EBUSY);
	assert_int_equal(hostdev_vfio_bind(t->ctx, A2_PF, NULL, HOSTDEV_BIND_FORCE), -EBUSY);
	error_has(t, "VFs that hold vGPU types: 0000:08:00.4 (type 1304)");
	kmodel_driver(t->root, A2_VF0, drv, sizeof(drv));
	assert_string_equal(drv, "nvidia");
	assert_int_equal(current_of(t, A2_VF0), A2_TYPE_8Q);
	/* The preflight report says the same. */
	assert_int_equal(hostdev_vfio_check(t->ctx, (const char *const[]){A2_VF0}, 1, 0, &report),
			 0);
	assert_int_equal(hostdev_vfio_report_get_device_status(report, 0), HOSTDEV_CHECK_FAIL);
	assert_non_null(
	    strstr(hostdev_vfio_report_get_device_message(report, 0), "vGPU type 1304"));
	hostdev_vfio_report_unref(report);

	/* A VF without a type may go to vfio-pci; there it has no nvidia/ and offers no types. */
	assert_int_equal(hostdev_vfio_bind(t->ctx, vf1, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, vf1, A2_TYPE_8Q, NULL, 0), -EOPNOTSUPP);
	error_has(t, "the VF is on vfio-pci");
	assert_int_equal(hostdev_vgpu_read(t->ctx, NULL, &l), 0);
	assert_int_equal(hostdev_vgpu_list_get_count(l), A2_VFS - 1);
	hostdev_vgpu_list_unref(l);
	/* Back on nvidia it does again. */
	assert_int_equal(hostdev_vfio_restore(t->ctx, vf1, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, vf1, A2_TYPE_8Q, NULL, 0), 1);
}

/* The journal undoes what libhostdev set. */
static void test_restore(void **state)
{
	struct t *t = *state;

	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), 0);
	assert_int_equal(hostdev_vgpu_restore(t->ctx, A2_VF0, NULL, 0), -ENOENT);
	error_has(t, "0000:08:00.4 has no record in the vGPU journal");
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_2Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF1, A2_TYPE_2Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF2, A2_TYPE_2Q, NULL, 0), 1);
	/* Someone else cleared VF2 behind libhostdev's back: its record is dropped, not "fixed". */
	assert_int_equal(store_type(t, A2_VF2, "0"), 0);
	assert_int_equal(hostdev_vgpu_restore(t->ctx, A2_VF1, NULL, 0), 1);
	assert_int_equal(current_of(t, A2_VF1), 0);
	assert_true(journal_has(t, A2_VF0));
	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), 1);
	assert_int_equal(current_of(t, A2_VF0), 0);
	assert_false(journal_has(t, A2_VF0));
	assert_false(journal_has(t, A2_VF2));
	assert_int_equal(creatable_count(t, A2_VF4), A2_TYPE_COUNT);
}

/*
 * A driver that hangs in the store: the watchdog gives up (-ETIMEDOUT) and the record stays,
 * because the kernel may still complete the store; once it did, restore takes the type away.
 */
static void test_watchdog_then_restore(void **state)
{
	struct t *t = *state;
	struct hostdev_vgpu_options opts = HOSTDEV_VGPU_OPTIONS_INIT;
	int64_t deadline;

	opts.timeout_ms = 200; /* bounds the wait for a store the test holds until it gave up */
	setenv(KMODEL_ENV_HOLD, "vgpu:" A2_VF0, 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_16Q, &opts, 0), -ETIMEDOUT);
	error_has(t, "did not return within 200 ms");
	assert_true(journal_has(t, A2_VF0));
	assert_true(kmodel_hold_wait(t->root));
	kmodel_hold_release(t->root);
	unsetenv(KMODEL_ENV_HOLD);
	/* Wait for the released store to land (the model logs it), at most 30 s. */
	deadline = (int64_t)time(NULL) + 30;
	while (kmodel_log_count(t->root, "vgpu " A2_VF0 " 1305 -> ok") == 0 &&
	       (int64_t)time(NULL) < deadline)
		usleep(10000);
	assert_int_equal(current_of(t, A2_VF0), A2_TYPE_16Q);
	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), 1);
	assert_int_equal(current_of(t, A2_VF0), 0);
	assert_false(journal_has(t, A2_VF0));
}

/*
 * A VF that holds a type may be in a VM: the VF count is not changed under it unless forced.
 * Removing the GPU's VFs takes their vGPUs away; the journal keeps the records of VFs gone.
 */
static void test_vfs_gone(void **state)
{
	struct t *t = *state;
	hostdev_vgpu_list *l = NULL;

	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_1Q, NULL, 0), 1);
	assert_int_equal(hostdev_sriov_set_num_vfs(t->ctx, A2_PF, 0, NULL, 0), -EBUSY);
	error_has(t, "VF 0 0000:08:00.4 (holds NVIDIA vGPU type");
	error_has(t, "hostdev_vgpu_clear_type()");
	assert_int_equal(current_of(t, A2_VF0), A2_TYPE_1Q);
	assert_int_equal(hostdev_sriov_set_num_vfs(t->ctx, A2_PF, 0, NULL, HOSTDEV_SRIOV_FORCE), 0);
	assert_int_equal(hostdev_vgpu_read(t->ctx, A2_PF, &l), -EOPNOTSUPP);
	error_has(t, "enable its VFs with the nvidia driver bound to it");
	assert_int_equal(hostdev_vgpu_read(t->ctx, NULL, &l), 0);
	assert_int_equal(hostdev_vgpu_list_get_count(l), 0);
	hostdev_vgpu_list_unref(l);
	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), 0);
	assert_true(journal_has(t, A2_VF0));
	/* Enabled again, the VF holds no type: the record is dropped. */
	assert_int_equal(hostdev_sriov_set_num_vfs(t->ctx, A2_PF, A2_VFS, NULL, 0), A2_VFS);
	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), 0);
	assert_false(journal_has(t, A2_VF0));
}

/* Where @needle last occurs in @hay, -1 when it does not. */
static ptrdiff_t last_at(const char *hay, const char *needle)
{
	ptrdiff_t at = -1;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		at = p - hay;
	return at;
}

static ptrdiff_t first_at(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	return p ? p - hay : -1;
}

/* The model's log of writes from byte @from on (malloc'ed; the log outgrows file_text2()). */
static char *model_log_from(struct t *t, size_t from)
{
	FILE *f = fopen(fakeroot_abspath(t->root, ".kmodel/log"), "re");
	char *text = calloc(1, 1 << 20);
	size_t n = 0;

	assert_non_null(f);
	assert_non_null(text);
	if (fseek(f, (long)from, SEEK_SET) == 0)
		n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static size_t model_log_size(struct t *t)
{
	char *text = model_log_from(t, 0);
	size_t n = strlen(text);

	free(text);
	return n;
}

static const char *persist_text(struct t *t)
{
	return file_text2(t, "etc/hostdev/vfio-devices.json", "", "");
}

static const char *driver_of(struct t *t, const char *address)
{
	static char link[256];
	char rel[128];
	ssize_t n;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", address);
	n = readlink(fakeroot_abspath(t->root, rel), link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	return strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
}

/* Recording vGPU types in the persistent list: what is refused, and nothing recorded then. */
static void test_persist_add(void **state)
{
	struct t *t = *state;
	hostdev_vfio_persist *p = NULL;

	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF0, 0), -EINVAL);
	error_has(t, "remove the entry (hostdev_vfio_persist_remove_vgpu())");
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_PF, A2_TYPE_4Q), -EINVAL);
	error_has(t, "0000:08:00.0: is a GPU (an SR-IOV PF); vGPU types belong to its VFs");
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, NIC_VF, A2_TYPE_4Q), -EOPNOTSUPP);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, "0000:09:00.0", A2_TYPE_4Q),
			 -ENODEV);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF0, 9999), -ENOENT);
	error_has(t, "0000:08:00.4 neither holds vGPU type 9999 nor can take it now");
	assert_null(persist_text(t));

	/* A type the VF holds, and one it can take now. */
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_4Q, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, "08:00.4", A2_TYPE_4Q), 0);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF1, A2_TYPE_4Q), 0);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF1, A2_TYPE_4Q), 1);
	/* One type per GPU (modelled): 1Q is not creatable on VF1 any more. */
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF1, A2_TYPE_1Q), -ENOENT);
	assert_non_null(strstr(persist_text(t), "\"version\":\t3"));

	/* A VF with a listed type and a listed binding exclude each other. */
	assert_int_equal(hostdev_vfio_persist_add(t->ctx, A2_VF1, 0), -EBUSY);
	error_has(t, "0000:08:00.5: the persistent list");
	error_has(t, "gives it vGPU type 1303");
	assert_int_equal(hostdev_vfio_persist_add(t->ctx, A2_VF2, 0), 0);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF2, A2_TYPE_4Q), -EBUSY);
	error_has(t, "binds it to vfio-pci");
	assert_int_equal(hostdev_vfio_persist_remove(t->ctx, A2_VF2), 0);

	assert_int_equal(hostdev_vfio_persist_read(t->ctx, &p), 0);
	assert_int_equal(hostdev_vfio_persist_get_vgpu_count(p), 2);
	assert_string_equal(hostdev_vfio_persist_get_vgpu_vf(p, 0), A2_VF0);
	assert_string_equal(hostdev_vfio_persist_get_vgpu_vf(p, 1), A2_VF1);
	assert_int_equal(hostdev_vfio_persist_get_vgpu_type(p, 1), A2_TYPE_4Q);
	assert_string_equal(hostdev_vfio_persist_get_vgpu_name(p, 0), "NVIDIA A2-4Q");
	assert_null(hostdev_vfio_persist_get_vgpu_vf(p, 2));
	assert_int_equal(hostdev_vfio_persist_get_vgpu_type(p, 2), 0);
	assert_null(hostdev_vfio_persist_get_vgpu_name(NULL, 0));
	hostdev_vfio_persist_unref(p);

	/* Forgotten one by one; without them the file is version 1 again. */
	assert_int_equal(hostdev_vfio_persist_remove_vgpu(t->ctx, A2_VF0), 0);
	assert_int_equal(hostdev_vfio_persist_remove_vgpu(t->ctx, A2_VF0), -ENOENT);
	error_has(t, "0000:08:00.4: no vGPU type for it in the persistent list");
	assert_int_equal(hostdev_vfio_persist_remove_vgpu(t->ctx, "nonsense"), -EINVAL);
	assert_int_equal(hostdev_vfio_persist_remove_vgpu(t->ctx, A2_VF1), 0);
	assert_non_null(strstr(persist_text(t), "\"version\":\t1"));
}

/*
 * After a "reboot" (the VFs and their types gone, as sriov_numvfs 0 takes them), apply enables the
 * VFs, then sets the listed types (journaled, so restore takes them away), then binds; a type the
 * VF can no longer take, or a VF that is not there, is an error naming the VF and the entry, and
 * the other entries are still applied.
 */
static void test_persist_apply(void **state)
{
	struct t *t = *state;
	char *log;
	size_t start;
	ptrdiff_t last_numvfs, first_vgpu, last_vgpu, first_override;

	assert_int_equal(
	    hostdev_vfio_persist_add_vfs(t->ctx, A2_PF, A2_VFS, HOSTDEV_SRIOV_AUTOPROBE_KEEP), 0);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF0, A2_TYPE_4Q), 0);
	assert_int_equal(hostdev_vfio_persist_add_vgpu(t->ctx, A2_VF1, A2_TYPE_4Q), 0);
	assert_int_equal(hostdev_vfio_persist_add(t->ctx, NIC_VF, 0), 0);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF0, A2_TYPE_4Q, NULL, 0), 1);

	/* "Reboot": the A2's VFs go with their types; the vGPU journal's record stays. */
	assert_int_equal(hostdev_sriov_set_num_vfs(t->ctx, A2_PF, 0, NULL, HOSTDEV_SRIOV_FORCE), 0);
	start = model_log_size(t);

	assert_int_equal(hostdev_vfio_apply(t->ctx, NULL, 0), 1);
	assert_int_equal(current_of(t, A2_VF0), A2_TYPE_4Q);
	assert_int_equal(current_of(t, A2_VF1), A2_TYPE_4Q);
	assert_true(journal_has(t, A2_VF0) && journal_has(t, A2_VF1));
	assert_string_equal(driver_of(t, NIC_VF), "vfio-pci");
	/* In order: the VF count, the types, then the binding. */
	log = model_log_from(t, start);
	last_numvfs = last_at(log, " numvfs ");
	first_vgpu = first_at(log, " vgpu ");
	last_vgpu = last_at(log, " vgpu ");
	first_override = first_at(log, " override ");
	if (!(last_numvfs >= 0 && first_vgpu > last_numvfs && first_override > last_vgpu))
		fail_msg("apply out of order:\n%s", log);
	free(log);

	/* Idempotent: a VF that holds its type is left alone. */
	assert_int_equal(hostdev_vfio_apply(t->ctx, NULL, 0), 0);

	/* Everything hostdev set undone; then a type that is no longer creatable (the GPU runs
	 * vGPUs of one type, and another VF took 8Q by hand). */
	assert_int_equal(hostdev_vgpu_restore(t->ctx, NULL, NULL, 0), 2);
	assert_int_equal(hostdev_vfio_restore(t->ctx, NIC_VF, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(t->ctx, A2_VF2, A2_TYPE_8Q, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_apply(t->ctx, NULL, 0), -ENOENT);
	error_has(t, "2 of the listed entries failed: 0000:08:00.4: the listed vGPU type 1303 "
		     "(NVIDIA A2-4Q) was not set: 0000:08:00.4 cannot take vGPU type 1303 now");
	error_has(t, "Creatable now: 1304 (NVIDIA A2-8Q). The entry is kept");
	error_has(t, "| 0000:08:00.5: the listed vGPU type 1303");
	assert_string_equal(driver_of(t, NIC_VF), "vfio-pci");
	assert_int_equal(current_of(t, A2_VF0), 0);
	assert_non_null(strstr(persist_text(t), A2_VF1));

	/* Without the VF count in the list, the VFs are not there after a reboot. */
	assert_int_equal(hostdev_vgpu_clear_type(t->ctx, A2_VF2, NULL, 0), 1);
	assert_int_equal(hostdev_vfio_persist_remove_vfs(t->ctx, A2_PF), 0);
	assert_int_equal(hostdev_sriov_set_num_vfs(t->ctx, A2_PF, 0, NULL, 0), 0);
	assert_int_equal(hostdev_vfio_apply(t->ctx, NULL, 0), -ENODEV);
	error_has(t,
		  "0000:08:00.4: no such VF, so its listed vGPU type 1303 (NVIDIA A2-4Q) was not "
		  "set: its GPU's VFs are not enabled (keep the GPU's VF count in the persistent "
		  "list: hostdev_vfio_persist_add_vfs())");
}

static void test_naming(void **state)
{
	char buf[HOSTDEV_NAME_MAX];

	(void)state;
	assert_int_equal(hostdev_naming_vgpu_resource("NVIDIA A2-4Q", buf, sizeof(buf)), 23);
	assert_string_equal(buf, "nvidia.com/NVIDIA_A2-4Q");
	assert_true(hostdev_naming_vgpu_resource("  GRID T4-1Q \n", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "nvidia.com/GRID_T4-1Q");
	assert_true(hostdev_naming_vgpu_resource("NVIDIA L40S-1.5Q/x \t y", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "nvidia.com/NVIDIA_L40S-1_5Q_x_y");
	assert_int_equal(hostdev_naming_vgpu_resource("   ", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hostdev_naming_vgpu_resource("A2 (4Q)", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hostdev_naming_vgpu_resource("NVIDIA A2-4Q", buf, 12), -ENOSPC);
	assert_int_equal(hostdev_naming_vgpu_resource(NULL, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_model_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_and_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_then_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vfs_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persist_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persist_apply, setup, teardown),
	    cmocka_unit_test(test_naming),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
