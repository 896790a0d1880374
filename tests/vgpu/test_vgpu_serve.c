/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serving NVIDIA vGPU VFs without vfio-pci (docs/vgpu.md): the config's Harvester naming (the
 * type's name), the vfio PCI plugin's health and Allocate answer for VFs on the nvidia driver,
 * on the A2 host of vgpu_tree.h under the kernel model. The model makes /dev/vfio/<group> for a
 * VF on nvidia with vGPU attributes (NVIDIA's vendor-specific VFIO driver registers the VF with
 * VFIO): modelled from NVIDIA's documentation and the driver's design, not observed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin.h"
#include "resources/dp_config.h"
#include "vgpu_tree.h"

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	struct hostdev_dp_config *config;
	struct plugin *plugin;
};

static const char harvester_config[] =
    "{\"resources\": [{\"kind\": \"pci\", \"naming\": \"harvester\", \"selectors\": "
    "{\"pf\": [{\"address\": \"0000:08:00.0\"}]}}]}";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !kmodel_present() || !(f->root = vgpu_tree_new(true)) ||
	    !(f->ctx = vgpu_tree_ctx(f->root))) {
		if (f)
			fakeroot_free(f->root);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kmodel_disable();
	plugin_free(f->plugin);
	dp_config_unref(f->config);
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

/*
 * The resources the config resolves to now, "name=id,id" each: the vGPU resources
 * (nvidia.com/NVIDIA_*) into @vgpus; the number of other devices into *@plain_count (the pooled
 * name of the plain VFs comes from the host's pci.ids and is not pinned here).
 */
static void resources(struct fixture *f, char *vgpus, size_t size, size_t *plain_count)
{
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;

	vgpus[0] = '\0';
	*plain_count = 0;
	assert_int_equal(hostdev_dp_config_parse(f->ctx, harvester_config, &config), 0);
	assert_int_equal(hostdev_dp_resources_resolve(f->ctx, config, &res), 0);
	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		const char *name = hostdev_dp_resources_get_name(res, i);
		size_t n = hostdev_dp_resources_get_device_count(res, i);

		if (strncmp(name, "nvidia.com/NVIDIA_", 18) != 0) {
			*plain_count += n;
			continue;
		}
		snprintf(vgpus + strlen(vgpus), size - strlen(vgpus), "%s%s=", vgpus[0] ? ";" : "",
			 name);
		for (size_t k = 0; k < n; k++)
			snprintf(vgpus + strlen(vgpus), size - strlen(vgpus), "%s%s", k ? "," : "",
				 hostdev_dp_resources_get_device_id(res, i, k));
	}
	hostdev_dp_resources_unref(res);
	hostdev_dp_config_unref(config);
}

static struct plugin *make(struct fixture *f, const char *name)
{
	char err[1024];

	plugin_free(f->plugin);
	dp_config_unref(f->config);
	f->plugin = NULL;
	f->config = NULL;
	if (dp_config_parse_text(harvester_config, &f->config, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(plugin_new(f->ctx, f->config, 0, name, NULL, 0, &f->plugin), 0);
	return f->plugin;
}

static void expect_list(struct plugin *p, const char *want)
{
	struct plugin_list l = {0};
	char got[4096] = "";

	assert_int_equal(plugin_list_devices(p, &l), 0);
	for (size_t i = 0; i < l.count; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%c", i ? " " : "",
			 l.items[i].id, l.items[i].healthy ? 'H' : 'U');
	plugin_list_clear(&l);
	if (strcmp(got, want) != 0)
		fail_msg("list\n got: %s\nwant: %s", got, want);
}

static void test_naming_and_serving(void **state)
{
	struct fixture *f = *state;
	struct plugin_answer a = {0};
	struct plugin *p;
	char names[1024];
	size_t plain;
	int g0, g1;
	hostdev_vgpu_list *l = NULL;

	assert_int_equal(hostdev_vgpu_set_type(f->ctx, A2_VF0, A2_TYPE_8Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_set_type(f->ctx, A2_VF1, A2_TYPE_8Q, NULL, 0), 1);
	assert_int_equal(hostdev_vgpu_read(f->ctx, A2_VF0, &l), 0);
	g0 = hostdev_vgpu_list_get_iommu_group(l, 0);
	hostdev_vgpu_list_unref(l);
	assert_int_equal(hostdev_vgpu_read(f->ctx, A2_VF1, &l), 0);
	g1 = hostdev_vgpu_list_get_iommu_group(l, 0);
	hostdev_vgpu_list_unref(l);

	/* The two vGPUs under the type's name; the other 14 VFs keep the pooled PCI name. */
	resources(f, names, sizeof(names), &plain);
	assert_string_equal(names, "nvidia.com/NVIDIA_A2-8Q=0000:08:00.4,0000:08:00.5");
	assert_int_equal(plain, A2_VFS - 2);

	p = make(f, "nvidia.com/NVIDIA_A2-8Q");
	expect_list(p, "0000:08:00.4:H 0000:08:00.5:H");
	assert_int_equal(plugin_allocate(p, (const char *const[]){A2_VF1, A2_VF0}, 2, &a), 0);
	assert_null(a.error);
	assert_int_equal(a.n_envs, 1);
	assert_string_equal(a.envs[0].name, "PCI_RESOURCE_NVIDIA_COM_NVIDIA_A2-8Q");
	assert_string_equal(a.envs[0].value, "0000:08:00.5,0000:08:00.4");
	assert_int_equal(a.n_devices, 3);
	assert_string_equal(a.devices[0].host_path, "/dev/vfio/vfio");
	{
		char n0[32], n1[32];

		snprintf(n1, sizeof(n1), "/dev/vfio/%d", g1);
		snprintf(n0, sizeof(n0), "/dev/vfio/%d", g0);
		assert_string_equal(a.devices[1].host_path, n1);
		assert_string_equal(a.devices[2].host_path, n0);
	}
	answer_clear(&a);

	/* The type cleared behind the plugin's back: Unhealthy, and Allocate says why. */
	assert_int_equal(hostdev_vgpu_clear_type(f->ctx, A2_VF1, NULL, 0), 1);
	expect_list(p, "0000:08:00.4:H 0000:08:00.5:U");
	assert_int_equal(plugin_allocate(p, (const char *const[]){A2_VF1}, 1, &a), -EBUSY);
	assert_non_null(a.error);
	assert_non_null(strstr(a.error, "0000:08:00.5 of nvidia.com/NVIDIA_A2-8Q is on the nvidia "
					"driver without a vGPU type"));
	answer_clear(&a);
}

/* Names the config cannot make are left out, with a reason, not guessed. */
static void test_type_name_unknown(void **state)
{
	struct fixture *f = *state;
	char names[1024];
	size_t plain;

	/* Sixteen 1Q fill the A2: no creatable list shows the type any more. Set behind the
	 * library's back (no journal record), so its name is known nowhere. */
	for (unsigned int i = 0; i < A2_VFS; i++) {
		char rel[128], vf[16];
		unsigned int rid = (8u << 8) + 4 + i;
		int fd;

		snprintf(vf, sizeof(vf), "0000:08:%02x.%x", (rid >> 3) & 0x1f, rid & 7);
		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
		fd = open(fakeroot_abspath(f->root, rel), O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "1301", 4), 4);
		close(fd);
	}
	resources(f, names, sizeof(names), &plain);
	assert_string_equal(names, "");
	assert_int_equal(plain, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_naming_and_serving, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_type_name_unknown, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
