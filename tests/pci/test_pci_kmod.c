/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkmod is loaded on first use (src/pci/pci_kmod.c), not linked: a process that reads devices
 * without their modules never maps it (nor the decompressors and libcrypto it pulls), a module
 * lookup loads it and works as before, and a libkmod that cannot be loaded gives callers a specific
 * error instead of a crash.
 *
 * Two runs of this program (tests/pci/CMakeLists.txt): unit-pci_kmod with the system's libkmod, and
 * unit-pci_kmod_unusable with HOSTDEV_TEST_KMOD_STUB=1 and LD_LIBRARY_PATH on a library of
 * libkmod's soname that has none of its functions (kmod_stub.c), which dlopen finds first.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakeroot.h"
#include "hostdev.h"

#define ADDRESS "0000:01:00.0"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	char warnings[4096]; /* the context's warnings, one a line */
};

static void collect(int priority, const char *message, void *userdata)
{
	struct fixture *f = userdata;
	size_t n = strlen(f->warnings);

	if (priority <= HOSTDEV_LOG_WARNING)
		snprintf(f->warnings + n, sizeof(f->warnings) - n, "%s\n", message);
}

static int setup(void **state)
{
	static const struct fake_pci igb = {.vendor = 0x8086,
					    .device = 0x1521,
					    .subsystem_vendor = 0x8086,
					    .subsystem_device = 0x0001,
					    .class_code = 0x020000,
					    .driver = "igb",
					    .iommu_group = "10"};
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	f->root = fakeroot_new();
	if (!f->root || fakeroot_pci_add(f->root, ADDRESS, &igb) < 0 ||
	    hostdev_ctx_new(&f->ctx) < 0 ||
	    hostdev_ctx_set_root(f->ctx, fakeroot_path(f->root)) < 0)
		return -1;
	hostdev_ctx_set_log_fn(f->ctx, collect, f);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

/* Is a library named libkmod.so* mapped into this process? */
static bool kmod_mapped(void)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;

	assert_non_null(maps);
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, "/libkmod.so") != NULL;
	fclose(maps);
	return found;
}

static hostdev_pci_device *open_dev(struct fixture *f)
{
	hostdev_pci_device *dev = NULL;

	assert_int_equal(hostdev_pci_device_new(f->ctx, ADDRESS, &dev), 0);
	return dev;
}

/* Listing devices with everything but their modules maps no libkmod; the first lookup does, and
 * finds the modules of a depmod-indexed module directory. */
static void test_loaded_on_first_lookup(void **state)
{
	struct fixture *f = *state;
	static const char *const igb[] = {"pci:v00008086d00001521sv*sd*bc*sc*i*", NULL};
	static const char *const net[] = {"pci:v00008086d*sv*sd*bc02sc00i*", NULL};
	const struct fake_module mods[] = {{"igb", igb}, {"fake_intel_net", net}};
	hostdev_pci_device *dev;
	char *json = NULL;
	int r;

	assert_false(kmod_mapped());
	dev = open_dev(f);
	assert_string_equal(hostdev_pci_device_get_driver(dev), "igb");
	assert_int_equal(hostdev_pci_device_get_iommu_group(dev), 10);
	hostdev_pci_device_unref(dev);
	assert_false(kmod_mapped());

	r = fakeroot_modules_build(f->root, "6.1.0-fake", mods, 2);
	if (r == -ENOENT) {
		print_message("SKIP: depmod (package kmod) is not installed\n");
		skip();
	}
	assert_int_equal(r, 0);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_MODULES,
					      fakeroot_abspath(f->root, "lib/modules/6.1.0-fake")),
			 0);
	dev = open_dev(f);
	assert_int_equal(hostdev_pci_device_get_module_count(dev), 2);
	assert_true(kmod_mapped());
	assert_string_equal(hostdev_pci_device_get_module(dev, 0), "igb");
	assert_string_equal(hostdev_pci_device_get_module(dev, 1), "fake_intel_net");
	/* The JSON form lists them too. */
	assert_int_equal(hostdev_pci_device_to_json(dev, 0, &json), 0);
	assert_non_null(strstr(json, "\"fake_intel_net\""));
	hostdev_free(json);
	hostdev_pci_device_unref(dev);
	assert_string_equal(f->warnings, "");
}

/*
 * A libkmod that cannot be used: devices list no modules and a warning names the library; loading
 * vfio's modules fails with ELIBACC and a message naming it, every time.
 */
static void test_unusable_libkmod(void **state)
{
	struct fixture *f = *state;
	hostdev_pci_device *dev = open_dev(f);

	assert_int_equal(hostdev_pci_device_get_module_count(dev), 0);
	assert_null(hostdev_pci_device_get_module(dev, 0));
	hostdev_pci_device_unref(dev);
	print_message("warnings: %s", f->warnings);
	assert_non_null(strstr(f->warnings, HOSTDEV_LIBKMOD_SONAME " has no function kmod_new"));
	assert_non_null(strstr(f->warnings, "kernel modules will not be listed"));

	/* The fake root has no vfio-pci driver: the module must be looked up. */
	for (int i = 0; i < 2; i++) {
		const char *error;

		assert_int_equal(hostdev_vfio_load_modules(f->ctx), -ELIBACC);
		error = hostdev_ctx_get_error(f->ctx);
		print_message("error: %s\n", error);
		assert_non_null(strstr(error, "cannot load module vfio-pci: "));
		assert_non_null(strstr(error, HOSTDEV_LIBKMOD_SONAME " has no function kmod_new"));
	}
}

int main(void)
{
	const struct CMUnitTest with_libkmod[] = {
	    cmocka_unit_test_setup_teardown(test_loaded_on_first_lookup, setup, teardown),
	};
	const struct CMUnitTest with_stub[] = {
	    cmocka_unit_test_setup_teardown(test_unusable_libkmod, setup, teardown),
	};
	const char *stub = getenv("HOSTDEV_TEST_KMOD_STUB");

	if (stub && strcmp(stub, "1") == 0)
		return cmocka_run_group_tests(with_stub, NULL, NULL);
	return cmocka_run_group_tests(with_libkmod, NULL, NULL);
}
