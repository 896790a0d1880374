/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio-pci / vfio_iommu_type1 loading through libkmod, against a fake module directory built with
 * the real depmod. Module insertion is intercepted by the kernel model (tests/kmodel), which stands
 * in for the kernel because this machine cannot bind devices or load modules; the model refuses any
 * real module load.
 */
#include <errno.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfio_tree.h"

#define KVER "6.1.0-kmodel"

extern char **environ;

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
};

static const char *const vfio_pci_aliases[] = {"vfio_pci:v*d*sv*sd*bc*sc*i*", NULL};
static const char *const none[] = {NULL};

static int build(void **state, bool with_pci, bool with_type1)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fake_module mods[3];
	size_t n = 0;
	int r;

	assert_non_null(f);
	f->root = vfio_tree_new(VFIO_TREE_NO_VFIO);
	assert_non_null(f->root);
	mods[n++] = (struct fake_module){"e1000e", none};
	if (with_pci)
		mods[n++] = (struct fake_module){"vfio-pci", vfio_pci_aliases};
	if (with_type1)
		mods[n++] = (struct fake_module){"vfio_iommu_type1", none};
	kmodel_disable();
	r = fakeroot_modules_build(f->root, KVER, mods, n);
	assert_int_equal(kmodel_enable(f->root), 0);
	if (r == -ENOENT) {
		fakeroot_free(f->root);
		free(f);
		return -1; /* no depmod: skipped below */
	}
	assert_int_equal(r, 0);
	f->ctx = vfio_tree_ctx(f->root);
	assert_non_null(f->ctx);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_MODULES,
					      fakeroot_abspath(f->root, "lib/modules/" KVER)),
			 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return build(state, true, true);
}

static int setup_no_type1(void **state)
{
	return build(state, true, false);
}

static int setup_no_vfio(void **state)
{
	return build(state, false, false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kmodel_disable();
	if (f) {
		hostdev_ctx_unref(f->ctx);
		fakeroot_free(f->root);
		free(f);
	}
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

static void test_bind_loads_modules(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(kmodel_log_count(f->root, "load vfio_pci  -> ok"), 1);
	assert_int_equal(kmodel_log_count(f->root, "load vfio_iommu_type1  -> ok"), 1);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	/* loaded now: nothing more to load */
	assert_int_equal(hostdev_vfio_load_modules(f->ctx), 0);
	assert_int_equal(kmodel_log_count(f->root, "load "), 2);
}

static void test_load_modules_api(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_load_modules(f->ctx), 1);
	assert_int_equal(hostdev_vfio_load_modules(f->ctx), 0);
	assert_int_equal(hostdev_vfio_load_modules(NULL), -EINVAL);
}

static void test_blacklisted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    fakeroot_write(f->root, "etc/modprobe.d/vfio.conf", "blacklist vfio_pci\n"), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "blacklisted"));
	assert_int_equal(kmodel_log_count(f->root, "load "), 0);
	assert_int_equal(kmodel_log_count(f->root, "override"), 0);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

static void test_load_fails(void **state)
{
	struct fixture *f = *state;

	setenv(KMODEL_ENV_FAIL, "load:vfio_pci:ENOMEM", 1);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -ENOMEM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "cannot load module vfio-pci"));
	assert_int_equal(kmodel_log_count(f->root, "override"), 0);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

static void test_type1_missing_is_not_fatal(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(kmodel_log_count(f->root, "load vfio_pci  -> ok"), 1);
}

static void test_not_installed(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -ENOENT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "not installed"));
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
}

/* Re-run depmod after listing vfio-pci as built in. */
static int depmod_builtin(struct fakeroot *root)
{
	const char *depmod =
	    access("/sbin/depmod", X_OK) == 0 ? "/sbin/depmod" : "/usr/sbin/depmod";
	char *const argv[] = {(char *)depmod, (char *)"-b", (char *)fakeroot_path(root),
			      (char *)KVER, NULL};
	pid_t pid;
	int status;

	if (fakeroot_write(root, "lib/modules/" KVER "/modules.builtin",
			   "kernel/drivers/vfio/pci/vfio-pci.ko\n") < 0)
		return -1;
	if (posix_spawn(&pid, depmod, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

static void test_builtin(void **state)
{
	struct fixture *f = *state;

	kmodel_disable();
	assert_int_equal(depmod_builtin(f->root), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	/* built in but no driver registered: said so, nothing loaded */
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -ENODEV);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "built into the kernel"));
	assert_int_equal(kmodel_log_count(f->root, "load "), 0);
	/* built in and registered: used as is */
	assert_int_equal(kmodel_vfio_loaded(f->root), 0);
	assert_int_equal(fakeroot_remove(f->root, "sys/module/vfio_iommu_type1"), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_int_equal(kmodel_log_count(f->root, "load vfio_pci"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bind_loads_modules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_modules_api, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blacklisted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_type1_missing_is_not_fatal, setup_no_type1,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_not_installed, setup_no_vfio, teardown),
	    cmocka_unit_test_setup_teardown(test_builtin, setup_no_vfio, teardown),
	};

	if (!kmodel_present()) {
		fprintf(stderr,
			"the kernel model is not preloaded (LD_PRELOAD=libhostdev-kmodel.so)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
