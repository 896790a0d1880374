/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DRA objects through the public API, without a kubelet (cmocka): argument checks of the
 * plugin, CDI specs and metadata files, atomic writes and the refusal of symbolic links, in a
 * temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
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

#include <hostdev.h>
#include <hostdev/dra.h>

struct env {
	hostdev_ctx *ctx;
	char dir[512]; /* short: the paths made from it fit PATH_MAX */
};

static int setup(void **state)
{
	struct env *env = calloc(1, sizeof(*env));

	assert_non_null(env);
	assert_int_equal(hostdev_ctx_new(&env->ctx), 0);
	snprintf(env->dir, sizeof(env->dir), "%s/dra-objects-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(env->dir));
	*state = env;
	return 0;
}

static int teardown(void **state)
{
	struct env *env = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
	assert_int_equal(system(cmd), 0);
	hostdev_ctx_unref(env->ctx);
	free(env);
	return 0;
}

static char *read_text(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int destroyed;

static void count_destroy(void *userdata)
{
	(void)userdata;
	destroyed++;
}

static void test_plugin_arguments(void **state)
{
	struct env *env = *state;
	struct hostdev_dra_plugin_ops ops = {.version = HOSTDEV_DRA_PLUGIN_OPS_VERSION,
					     .destroy = count_destroy};
	struct hostdev_dra_plugin_options opts;
	hostdev_dra_plugin *plugin = NULL;
	hostdev_loop *loop = NULL;
	char plugins[PATH_MAX], long_dir[200];
	static const char *const bad_names[] = {"",	"Vfio.example.com", "-a.b", "a..b",
						"a.b-", "a_b.io",	    "a/b"};

	assert_int_equal(hostdev_loop_new(env->ctx, &loop), 0);
	destroyed = 0;
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(
		    hostdev_dra_plugin_new(loop, bad_names[i], &ops, NULL, NULL, &plugin), -EINVAL);
		assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "not one the kubelet"));
	}
	/* The plugin takes the userdata even when it is not made. */
	assert_int_equal(destroyed, (int)(sizeof(bad_names) / sizeof(bad_names[0])));

	/* Versions this library does not know: never initialised (0) or newer than it. */
	hostdev_dra_plugin_options_init(&opts);
	opts.version = HOSTDEV_DRA_PLUGIN_OPTIONS_VERSION + 1;
	assert_int_equal(
	    hostdev_dra_plugin_new(loop, "vfio.hostdev.test", NULL, NULL, &opts, &plugin), -EINVAL);
	snprintf(long_dir, sizeof(long_dir),
		 "DRA driver vfio.hostdev.test: options version %d is not supported",
		 HOSTDEV_DRA_PLUGIN_OPTIONS_VERSION + 1);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), long_dir));
	assert_non_null(
	    strstr(hostdev_ctx_get_error(env->ctx), "hostdev_dra_plugin_options_init()"));
	ops.version = 0;
	destroyed = 0;
	assert_int_equal(
	    hostdev_dra_plugin_new(loop, "vfio.hostdev.test", &ops, NULL, NULL, &plugin), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "callbacks version 0"));
	assert_int_equal(destroyed, 1);
	ops.version = HOSTDEV_DRA_PLUGIN_OPS_VERSION;

	hostdev_dra_plugin_options_init(&opts);
	opts.api_versions = 1u << 7;
	assert_int_equal(
	    hostdev_dra_plugin_new(loop, "vfio.hostdev.test", NULL, NULL, &opts, &plugin), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "unknown API version bits"));

	hostdev_dra_plugin_options_init(&opts);
	memset(long_dir, 'd', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
	opts.plugin_dir = long_dir;
	assert_int_equal(
	    hostdev_dra_plugin_new(loop, "vfio.hostdev.test", NULL, NULL, &opts, &plugin), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "longer than a Unix socket"));

	/* A missing plugin directory is named at start. */
	hostdev_dra_plugin_options_init(&opts);
	snprintf(plugins, sizeof(plugins), "%s/no-such-dir", env->dir);
	opts.plugin_dir = plugins;
	opts.registry_dir = env->dir;
	destroyed = 0;
	assert_int_equal(
	    hostdev_dra_plugin_new(loop, "vfio.hostdev.test", &ops, NULL, &opts, &plugin), 0);
	assert_int_equal(hostdev_dra_plugin_get_state(plugin), HOSTDEV_DRA_STOPPED);
	assert_int_equal(hostdev_dra_plugin_start(plugin), -ENOENT);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "does not exist"));
	hostdev_dra_plugin_unref(plugin);
	assert_int_equal(destroyed, 1);
	hostdev_loop_unref(loop);
}

static void test_cdi_spec(void **state)
{
	struct env *env = *state;
	hostdev_dra_cdi_spec *spec = NULL;
	char path[PATH_MAX], *id = NULL, *text;
	struct stat st;
	mode_t old_umask;

	assert_int_equal(hostdev_dra_cdi_spec_new(env->ctx, "no-slash", &spec), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_new(env->ctx, "a.io/b/c", &spec), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_new(env->ctx, "-a.io/pci", &spec), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_new(env->ctx, "a.io/pci-", &spec), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_new(env->ctx, "vfio.hostdev.test/pci", &spec), 0);
	/* No devices: no file. */
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, env->dir, "x.json"), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_add_vfio_device(spec, "dev-1", "12", 3), 0);
	assert_int_equal(hostdev_dra_cdi_spec_add_vfio_device(spec, "dev-1", "13", -1), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_add_vfio_device(spec, "dev-2", "1x", -1), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_add_vfio_device(spec, "dev:2", "13", -1), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_add_device(spec, "plain"), 0);
	assert_int_equal(hostdev_dra_cdi_spec_add_device_node(spec, "plain", "/dev/../etc/x"),
			 -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_add_device_node(spec, "plain", "/etc/passwd"),
			 -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_add_device_node(spec, "nope", "/dev/null"), -ENOENT);
	assert_int_equal(hostdev_dra_cdi_spec_add_device_node(spec, "plain", "/dev/kvm"), 0);
	assert_int_equal(hostdev_dra_cdi_spec_get_device_id(spec, "dev-1", &id), 0);
	assert_string_equal(id, "vfio.hostdev.test/pci=dev-1");
	hostdev_free(id);
	/* File names: plain, .json. */
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, env->dir, "a/b.json"), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, env->dir, "spec.yaml.tmp"), -EINVAL);
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, "relative", "s.json"), -EINVAL);
	/* 0644 whatever the umask, and nothing else left in the directory. */
	old_umask = umask(077);
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, env->dir, "s.json"), 0);
	umask(old_umask);
	snprintf(path, sizeof(path), "%s/s.json", env->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"cdiVersion\":\t\"0.3.0\""));
	assert_non_null(strstr(text, "\"/dev/vfio/devices/vfio3\""));
	assert_non_null(strstr(text, "\"/dev/iommu\""));
	assert_non_null(strstr(text, "\"/dev/kvm\""));
	/* A symbolic link as the file is replaced, not followed. */
	snprintf(path, sizeof(path), "%s/target", env->dir);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(path, sizeof(path), "%s/link.json", env->dir);
	assert_int_equal(symlink("target", path), 0);
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, env->dir, "link.json"), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	snprintf(path, sizeof(path), "%s/target", env->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* A symbolic link as the directory is refused. */
	snprintf(path, sizeof(path), "%s/dirlink", env->dir);
	assert_int_equal(symlink(env->dir, path), 0);
	assert_int_equal(hostdev_dra_cdi_spec_write(spec, path, "s.json"), -ELOOP);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "symbolic link"));
	/* Remove: twice is fine. */
	assert_int_equal(hostdev_dra_cdi_spec_remove(env->ctx, env->dir, "s.json"), 0);
	assert_int_equal(hostdev_dra_cdi_spec_remove(env->ctx, env->dir, "s.json"), 0);
	snprintf(path, sizeof(path), "%s/s.json", env->dir);
	assert_int_equal(access(path, F_OK), -1);
	hostdev_dra_cdi_spec_free(spec);
}

static void test_metadata(void **state)
{
	struct env *env = *state;
	hostdev_dra_metadata *md = NULL;
	char data[1024], cdi[1024], path[PATH_MAX], *id = NULL, *text;

	snprintf(data, sizeof(data), "%s/data", env->dir);
	snprintf(cdi, sizeof(cdi), "%s/cdi", env->dir);
	assert_int_equal(mkdir(data, 0755), 0);
	assert_int_equal(mkdir(cdi, 0755), 0);
	assert_int_equal(hostdev_dra_metadata_new(env->ctx, "d.io", "ns", "../x", "u1", "r", &md),
			 -EINVAL);
	assert_int_equal(hostdev_dra_metadata_new(env->ctx, "d.io", "ns", "a_b", "u1", "r", &md),
			 -EINVAL);
	assert_int_equal(hostdev_dra_metadata_new(env->ctx, "vfio.hostdev.test", "ns", "claim",
						  "u-1", "nic", &md),
			 0);
	assert_int_equal(hostdev_dra_metadata_write(md, data, cdi), -EINVAL); /* no devices */
	assert_int_equal(hostdev_dra_metadata_add_device(md, "p", "d", NULL, NULL), -EINVAL);
	assert_int_equal(
	    hostdev_dra_metadata_add_device(md, "p", "d", "0000:00:02.0", "not-a-uuid"), -EINVAL);
	assert_int_equal(hostdev_dra_metadata_add_device(md, "p", "d", "00:02.0x", NULL), -EINVAL);
	assert_int_equal(hostdev_dra_metadata_add_device(md, "p", "d", NULL, "nope"), -EINVAL);
	assert_int_equal(hostdev_dra_metadata_add_device(md, "p", "dev-a", "0000:3B:00.1", NULL),
			 0);
	assert_int_equal(hostdev_dra_metadata_add_device(md, "p", "dev-b", NULL,
							 "8f4c2a5e-1d2b-4b6a-9a59-2f1f5e9e7c10"),
			 0);
	assert_int_equal(hostdev_dra_metadata_get_cdi_id(md, &id), 0);
	assert_string_equal(id, "vfio.hostdev.test/metadata=u-1_nic");
	hostdev_free(id);
	assert_int_equal(hostdev_dra_metadata_write(md, data, cdi), 0);
	snprintf(path, sizeof(path), "%s/dra-device-metadata/ns_claim/nic/metadata.json", data);
	text = read_text(path);
	assert_non_null(text);
	/* The address in its canonical form. */
	assert_non_null(strstr(text, "\"0000:3b:00.1\""));
	assert_non_null(strstr(text, "\"mdevUUID\""));
	snprintf(path, sizeof(path), "%s/vfio.hostdev.test_metadata_u-1_nic.json", cdi);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "/var/run/kubernetes.io/dra-device-attributes/resourceclaims/"
				     "claim/nic/vfio.hostdev.test-metadata.json"));
	/* Remove: files and the directories made for them; twice is fine. */
	assert_int_equal(hostdev_dra_metadata_remove(md, data, cdi), 0);
	assert_int_equal(hostdev_dra_metadata_remove(md, data, cdi), 0);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/dra-device-metadata/ns_claim", data);
	assert_int_equal(access(path, F_OK), -1);
	/* A symbolic link below the data directory is refused, never followed. */
	snprintf(path, sizeof(path), "%s/dra-device-metadata/ns_claim", data);
	assert_int_equal(symlink(env->dir, path), 0);
	assert_int_equal(hostdev_dra_metadata_write(md, data, cdi), -ELOOP);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "symbolic link"));
	snprintf(path, sizeof(path), "%s/nic", env->dir);
	assert_int_equal(access(path, F_OK), -1);
	hostdev_dra_metadata_free(md);
}

/* A claim made from a ResourceClaimTemplate: the pod names it by its own claim name (KEP-5304's
 * resourceclaimtemplates/<pod claim name>/ layout), the host file stays where it was. */
static void test_metadata_template_claim(void **state)
{
	struct env *env = *state;
	hostdev_dra_metadata *md = NULL;
	char data[1024], cdi[1024], path[PATH_MAX], *text;

	snprintf(data, sizeof(data), "%s/data", env->dir);
	snprintf(cdi, sizeof(cdi), "%s/cdi", env->dir);
	assert_int_equal(mkdir(data, 0755), 0);
	assert_int_equal(mkdir(cdi, 0755), 0);
	assert_int_equal(hostdev_dra_metadata_new(env->ctx, "vfio.hostdev.test", "ns",
						  "vm-nic-x7k2q", "u-2", "nic", &md),
			 0);
	assert_int_equal(hostdev_dra_metadata_set_pod_claim_name(md, "../x"), -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(env->ctx), "pod claim name '../x'"));
	assert_int_equal(hostdev_dra_metadata_set_pod_claim_name(md, "a.b"), -EINVAL);
	assert_int_equal(hostdev_dra_metadata_set_pod_claim_name(md, "nic"), 0);
	assert_int_equal(hostdev_dra_metadata_add_device(md, "p", "dev-a", "0000:3b:00.1", NULL),
			 0);
	assert_int_equal(hostdev_dra_metadata_write(md, data, cdi), 0);
	snprintf(path, sizeof(path), "%s/dra-device-metadata/ns_vm-nic-x7k2q/nic/metadata.json",
		 data);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"podClaimName\":\t\"nic\""));
	assert_non_null(strstr(text, "\"name\":\t\"vm-nic-x7k2q\""));
	snprintf(path, sizeof(path), "%s/vfio.hostdev.test_metadata_u-2_nic.json", cdi);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text,
			       "/var/run/kubernetes.io/dra-device-attributes/"
			       "resourceclaimtemplates/nic/nic/vfio.hostdev.test-metadata.json"));
	assert_null(strstr(text, "/resourceclaims/"));
	/* NULL: a claim the pod names directly again. */
	assert_int_equal(hostdev_dra_metadata_set_pod_claim_name(md, NULL), 0);
	assert_int_equal(hostdev_dra_metadata_write(md, data, cdi), 0);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "/dra-device-attributes/resourceclaims/vm-nic-x7k2q/nic/"));
	assert_int_equal(hostdev_dra_metadata_remove(md, data, cdi), 0);
	assert_int_equal(access(path, F_OK), -1);
	hostdev_dra_metadata_free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_plugin_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cdi_spec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metadata_template_claim, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
