/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device-plugin objects through the public API, without a kubelet: device lists, options,
 * argument checks of hostdev_dp_server_new() (and the destroy callback on every failure), socket
 * naming (default, watcher mode, the sockaddr_un limit), start/stop in HOSTDEV_DP_REGISTER_NONE
 * mode on a temporary kubelet directory. The gRPC behaviour is tested with real peers
 * (test_deviceplugin.py, go/).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hostdev.h>

struct fixture {
	char root[64];
	hostdev_ctx *ctx;
	hostdev_loop *loop;
};

static int destroyed;

static void destroy(void *userdata)
{
	(void)userdata;
	destroyed++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/hostdev-dp-unit-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(path, sizeof(path), "%s/device-plugins", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/plugins_registry", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(hostdev_ctx_new(&f->ctx), 0);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_KUBELET, f->root), 0);
	assert_int_equal(hostdev_loop_new(f->ctx, &f->loop), 0);
	destroyed = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	hostdev_loop_unref(f->loop);
	hostdev_ctx_unref(f->ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const struct hostdev_dp_plugin_ops ops = {
    .version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
    .destroy = destroy,
};

static void test_devices(void **state)
{
	static const char *const good[] = {"0000:3b:02.1", "6c3b4a8e-1c8e-4c1b-9a8e-0b1c2d3e4f50",
					   "2-1.4", "a", "usb-0951-1666-serial_X"};
	static const char *const bad[] = {
	    "",
	    "-a",
	    "a-",
	    "a/b",
	    "a b",
	    "é",
	    "0123456789012345678901234567890123456789012345678901234567890123"};
	hostdev_dp_devices *d;

	(void)state;
	assert_int_equal(hostdev_dp_devices_new(&d), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(hostdev_dp_devices_add(d, good[i], 1, (int)i), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hostdev_dp_devices_add(d, bad[i], 1, 0), -EINVAL);
	assert_int_equal(hostdev_dp_devices_add(d, NULL, 1, 0), -EINVAL);
	assert_int_equal(hostdev_dp_devices_add(d, "a", 0, 0), -EEXIST);
	assert_int_equal(hostdev_dp_devices_add(d, "numa-none", 0, -7), 0);
	assert_int_equal(hostdev_dp_devices_get_count(d), 6);
	assert_string_equal(hostdev_dp_devices_get_id(d, 0), "0000:3b:02.1");
	assert_int_equal(hostdev_dp_devices_is_healthy(d, 0), 1);
	assert_int_equal(hostdev_dp_devices_is_healthy(d, 5), 0);
	assert_int_equal(hostdev_dp_devices_get_numa_node(d, 2), 2);
	assert_int_equal(hostdev_dp_devices_get_numa_node(d, 5), -1);
	assert_null(hostdev_dp_devices_get_id(d, 6));
	assert_int_equal(hostdev_dp_devices_is_healthy(d, 6), -1);
	assert_int_equal(hostdev_dp_devices_get_numa_node(d, 6), -1);
	/* _ref/_unref (HOSTDEV_1.2); the HOSTDEV_1 name _free drops one reference, no more. */
	assert_ptr_equal(hostdev_dp_devices_ref(d), d);
	assert_null(hostdev_dp_devices_free(d));
	assert_int_equal(hostdev_dp_devices_get_count(d), 6);
	assert_ptr_equal(hostdev_dp_devices_ref(d), d);
	assert_null(hostdev_dp_devices_unref(d));
	assert_string_equal(hostdev_dp_devices_get_id(d, 0), "0000:3b:02.1");
	assert_null(hostdev_dp_devices_unref(d));
	assert_null(hostdev_dp_devices_free(NULL));
	assert_null(hostdev_dp_devices_unref(NULL));
	assert_null(hostdev_dp_devices_ref(NULL));
	assert_int_equal(hostdev_dp_devices_get_count(NULL), 0);
}

/*
 * An id hostdev_dp_devices_get_id() returned stays valid while the list lives, whatever is added
 * after it (the list keeps its ids in blocks that never move): the ASan build finds a read of
 * freed memory if an add moved them.
 */
static void test_device_ids_stay_put(void **state)
{
	hostdev_dp_devices *d;
	const char *first, *last = NULL;
	char id[32];

	(void)state;
	assert_int_equal(hostdev_dp_devices_new(&d), 0);
	assert_int_equal(hostdev_dp_devices_add(d, "0000:00:00.0", 1, -1), 0);
	first = hostdev_dp_devices_get_id(d, 0);
	/* Ids of 12 bytes and more: many times the first block's room. */
	for (int i = 1; i < 2000; i++) {
		snprintf(id, sizeof(id), "0000:%02x:%02x.%x", i >> 8, (i >> 3) & 0x1f, i & 7);
		assert_int_equal(hostdev_dp_devices_add(d, id, 1, -1), 0);
		if (i == 1000)
			last = hostdev_dp_devices_get_id(d, 1000);
	}
	assert_string_equal(first, "0000:00:00.0");
	assert_string_equal(last, "0000:03:1d.0");
	assert_ptr_equal(hostdev_dp_devices_get_id(d, 0), first);
	assert_int_equal(hostdev_dp_devices_get_count(d), 2000);
	assert_null(hostdev_dp_devices_unref(d));
}

static void test_response_arguments(void **state)
{
	(void)state;
	assert_int_equal(hostdev_dp_response_set_env(NULL, "A", "b"), -EINVAL);
	assert_int_equal(hostdev_dp_response_add_device(NULL, "/a", "/a", "mrw"), -EINVAL);
	assert_int_equal(hostdev_dp_response_add_mount(NULL, "/a", "/a", 1), -EINVAL);
	assert_int_equal(hostdev_dp_response_set_annotation(NULL, "a", "b"), -EINVAL);
	assert_int_equal(hostdev_dp_response_add_cdi_device(NULL, "a"), -EINVAL);
	assert_int_equal(hostdev_dp_response_add_id(NULL, "a"), -EINVAL);
	assert_int_equal(hostdev_dp_response_set_error(NULL, "a"), -EINVAL);
}

static void test_options_init(void **state)
{
	struct hostdev_dp_server_options opts;

	(void)state;
	memset(&opts, 0xff, sizeof(opts));
	hostdev_dp_server_options_init(&opts);
	assert_int_equal(opts.version, HOSTDEV_DP_SERVER_OPTIONS_VERSION);
	assert_int_equal(opts.registration, HOSTDEV_DP_REGISTER_CLASSIC);
	assert_null(opts.socket_name);
	assert_null(opts.device_plugin_dir);
	assert_null(opts.plugins_registry_dir);
	assert_int_equal(opts.refresh_interval_ms, 0);
	assert_int_equal(opts.kubelet_uid, -1);
	assert_int_equal(opts.idle_timeout_ms, 0);
	hostdev_dp_server_options_init(NULL);
}

/* hostdev_dp_server_new() must fail with -EINVAL, run destroy once and name the problem. */
static void expect_invalid(struct fixture *f, const char *resource,
			   const struct hostdev_dp_plugin_ops *o,
			   const struct hostdev_dp_server_options *opts, const char *what)
{
	hostdev_dp_server *server = NULL;

	destroyed = 0;
	assert_int_equal(hostdev_dp_server_new(f->loop, resource, o, NULL, opts, &server), -EINVAL);
	assert_null(server);
	assert_int_equal(destroyed, o && o->destroy ? 1 : 0);
	if (what && !strstr(hostdev_ctx_get_error(f->ctx), what))
		fail_msg("'%s' not in '%s'", what, hostdev_ctx_get_error(f->ctx));
}

static void test_server_new_checks(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_plugin_ops noversion = ops, flagged = ops;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server;
	char longname[300];

	noversion.version = 0;
	expect_invalid(f, "nodomain", &ops, NULL,
		       "'nodomain' is not a resource name the kubelet accepts: it has no domain");
	expect_invalid(
	    f, "Example.com/x", &ops, NULL,
	    "is not a resource name the kubelet accepts: the domain is not a DNS subdomain");
	/* Names the kubelet refuses at every Register, which the server used to retry forever. */
	expect_invalid(
	    f, "kubernetes.io/nic", &ops, NULL,
	    "'kubernetes.io/nic' is not a resource name the kubelet accepts: the kubelet "
	    "treats every name with \"kubernetes.io/\" as one of Kubernetes' own resources");
	expect_invalid(f, "requests.example.com/nic", &ops, NULL,
		       "a name starting with \"requests.\" is how resource quotas name requests");
	memset(longname, 'a', 247);
	strcpy(longname + 247, "/nic");
	expect_invalid(f, longname, &ops, NULL, "the domain is longer than 244 characters");
	expect_invalid(f, NULL, &ops, NULL, "(null)");
	expect_invalid(f, "example.com/x", &noversion, NULL, "HOSTDEV_DP_PLUGIN_OPS_VERSION");
	flagged.flags = 0x6;
	expect_invalid(f, "example.com/x", &flagged, NULL, "unknown plugin flags 0x6");
	/* A version-1 caller's ops end before flags: never read. */
	flagged.version = 1;
	destroyed = 0;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/x", &flagged, NULL, NULL, &server), 0);
	hostdev_dp_server_unref(server);
	assert_int_equal(destroyed, 1);

	hostdev_dp_server_options_init(&opts);
	opts.version = 0;
	expect_invalid(f, "example.com/x", &ops, &opts, "hostdev_dp_server_options_init");
	hostdev_dp_server_options_init(&opts);
	opts.registration = 3;
	expect_invalid(f, "example.com/x", &ops, &opts, "registration mode 3");
	hostdev_dp_server_options_init(&opts);
	opts.refresh_interval_ms = -2;
	expect_invalid(f, "example.com/x", &ops, &opts, "refresh interval");
	hostdev_dp_server_options_init(&opts);
	opts.kubelet_uid = -7;
	expect_invalid(f, "example.com/x", &ops, &opts, "kubelet uid -7");
	hostdev_dp_server_options_init(&opts);
	opts.idle_timeout_ms = -2;
	expect_invalid(f, "example.com/x", &ops, &opts, "idle timeout -2 ms");
	/* A version-1 caller's struct ends before kubelet_uid: never read. */
	hostdev_dp_server_options_init(&opts);
	opts.version = 1;
	opts.kubelet_uid = -7;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/x", NULL, NULL, &opts, &server), 0);
	hostdev_dp_server_unref(server);
	hostdev_dp_server_options_init(&opts);
	opts.socket_name = "a/b.sock";
	expect_invalid(f, "example.com/x", &ops, &opts, "plain file name");
	opts.socket_name = "kubelet.sock";
	expect_invalid(f, "example.com/x", &ops, &opts, "plain file name");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	opts.socket_name = longname;
	expect_invalid(f, "example.com/x", &ops, &opts, "longer than a Unix socket address");
	hostdev_dp_server_options_init(&opts);
	opts.device_plugin_dir = "relative/dir";
	expect_invalid(f, "example.com/x", &ops, &opts, "absolute path");

	destroyed = 0;
	assert_int_equal(hostdev_dp_server_new(NULL, "example.com/x", &ops, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(destroyed, 1);
}

static void test_socket_paths(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *a, *b;
	char expect[256], dir[256];
	const char *path;

	assert_int_equal(hostdev_dp_server_new(f->loop, "example.com/dev", NULL, NULL, NULL, &a),
			 0);
	snprintf(expect, sizeof(expect), "%s/device-plugins/example.com_dev.sock", f->root);
	assert_string_equal(hostdev_dp_server_get_socket_path(a), expect);
	assert_string_equal(hostdev_dp_server_get_resource_name(a), "example.com/dev");
	assert_int_equal(hostdev_dp_server_get_state(a), HOSTDEV_DP_STOPPED);
	assert_int_equal(hostdev_dp_server_get_registrations(a), 0);
	hostdev_dp_server_unref(a);

	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_WATCHER;
	assert_int_equal(hostdev_dp_server_new(f->loop, "example.com/dev", NULL, NULL, &opts, &a),
			 0);
	snprintf(expect, sizeof(expect), "%s/plugins_registry/example.com_dev.sock", f->root);
	assert_string_equal(hostdev_dp_server_get_socket_path(a), expect);
	hostdev_dp_server_unref(a);

	/* A directory that leaves little room: the name is cut and tagged with a hash, the same
	 * every time, different per resource. */
	hostdev_dp_server_options_init(&opts);
	snprintf(dir, sizeof(dir), "/%070d", 0);
	opts.device_plugin_dir = dir;
	assert_int_equal(hostdev_dp_server_new(f->loop,
					       "example.com/"
					       "a-resource-name-that-is-long-enough-to-overflow",
					       NULL, NULL, &opts, &a),
			 0);
	assert_int_equal(hostdev_dp_server_new(f->loop,
					       "example.com/"
					       "a-resource-name-that-is-long-enough-to-overflow",
					       NULL, NULL, &opts, &b),
			 0);
	path = hostdev_dp_server_get_socket_path(a);
	assert_true(strlen(path) <= 107);
	assert_string_equal(path, hostdev_dp_server_get_socket_path(b));
	assert_non_null(strstr(path, "/example.com_a-res"));
	assert_string_equal(path + strlen(path) - 5, ".sock");
	hostdev_dp_server_unref(b);
	assert_int_equal(hostdev_dp_server_new(f->loop,
					       "example.com/"
					       "a-resource-name-that-is-long-enough-to-overflow2",
					       NULL, NULL, &opts, &b),
			 0);
	assert_string_not_equal(path, hostdev_dp_server_get_socket_path(b));
	hostdev_dp_server_unref(b);
	hostdev_dp_server_unref(a);

	/* No room at all. */
	snprintf(dir, sizeof(dir), "/%095d", 0);
	expect_invalid(f, "example.com/dev", &ops, &opts, "too long for a Unix socket path");
}

static int fail_list(void *userdata, hostdev_dp_devices *out)
{
	(void)userdata;
	(void)out;
	return -ENODEV;
}

static int two_devices(void *userdata, hostdev_dp_devices *out)
{
	(void)userdata;
	hostdev_dp_devices_add(out, "a", 1, 0);
	return hostdev_dp_devices_add(out, "b", 0, -1);
}

static void test_start_stop(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_plugin_ops o = ops;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server;
	struct stat st;
	char path[256];

	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;

	o.list_devices = fail_list;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/dev", &o, NULL, &opts, &server), 0);
	assert_int_equal(hostdev_dp_server_start(server), -ENODEV);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "example.com/dev"));
	assert_int_equal(hostdev_dp_server_get_state(server), HOSTDEV_DP_STOPPED);
	destroyed = 0;
	hostdev_dp_server_unref(server);
	assert_int_equal(destroyed, 1);

	o.list_devices = two_devices;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/dev", &o, NULL, &opts, &server), 0);
	snprintf(path, sizeof(path), "%s", hostdev_dp_server_get_socket_path(server));
	assert_int_equal(hostdev_dp_server_start(server), 0);
	assert_int_equal(hostdev_dp_server_get_state(server), HOSTDEV_DP_SERVING);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(hostdev_dp_server_start(server), -EALREADY);
	assert_int_equal(hostdev_dp_server_refresh(server), 0);
	assert_int_equal(hostdev_dp_server_stop(server), 0);
	assert_int_equal(hostdev_dp_server_get_state(server), HOSTDEV_DP_STOPPED);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(hostdev_dp_server_stop(server), 0);
	/* Again, and the last reference stops it. */
	assert_int_equal(hostdev_dp_server_start(server), 0);
	assert_ptr_equal(hostdev_dp_server_ref(server), server);
	hostdev_dp_server_unref(server);
	assert_int_equal(stat(path, &st), 0);
	destroyed = 0;
	assert_null(hostdev_dp_server_unref(server));
	assert_int_equal(destroyed, 1);
	assert_int_equal(stat(path, &st), -1);
	assert_null(hostdev_dp_server_unref(NULL));
}

/* Whatever is in the way of the socket is left alone, and the message says what it is. */
static void test_socket_path_in_the_way(void **state)
{
	static const struct {
		const char *kind;
		mode_t type;
	} kinds[] = {
	    {"a regular file", S_IFREG},      {"a directory", S_IFDIR},
	    {"a symbolic link", S_IFLNK},     {"a FIFO", S_IFIFO},
	    {"a symbolic link", S_IFLNK | 1},
	};
	struct fixture *f = *state;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server;
	char path[256], want[512], other[300];
	struct stat st;

	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/dev", &ops, NULL, &opts, &server), 0);
	snprintf(path, sizeof(path), "%s", hostdev_dp_server_get_socket_path(server));
	snprintf(other, sizeof(other), "%s/elsewhere", f->root);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		mode_t type = kinds[i].type & S_IFMT;

		if (type == S_IFREG)
			assert_int_equal(close(creat(path, 0644)), 0);
		else if (type == S_IFDIR)
			assert_int_equal(mkdir(path, 0755), 0);
		else if (type == S_IFIFO)
			assert_int_equal(mkfifo(path, 0644), 0);
		else if (kinds[i].type & 1) /* a link to a regular file */
			assert_int_equal(close(creat(other, 0644)) | symlink(other, path), 0);
		else /* a dangling link */
			assert_int_equal(symlink("/nonexistent/x.sock", path), 0);
		assert_int_equal(hostdev_dp_server_start(server), -EEXIST);
		snprintf(want, sizeof(want),
			 "resource example.com/dev: %s is not a socket but %s; it is left alone: "
			 "remove it or choose another socket name",
			 path, kinds[i].kind);
		assert_string_equal(hostdev_ctx_get_error(f->ctx), want);
		assert_int_equal(lstat(path, &st), 0);
		assert_int_equal(st.st_mode & S_IFMT, type);
		assert_int_equal(hostdev_dp_server_get_state(server), HOSTDEV_DP_STOPPED);
		assert_int_equal(type == S_IFDIR ? rmdir(path) : unlink(path), 0);
	}
	assert_int_equal(hostdev_dp_server_start(server), 0);
	hostdev_dp_server_unref(server);
}

/* The socket is private whatever the umask; with a kubelet uid it belongs to that user. */
static void test_socket_is_private(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server;
	mode_t old = umask(0);
	struct stat st;

	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/dev", &ops, NULL, &opts, &server), 0);
	assert_int_equal(hostdev_dp_server_start(server), 0);
	assert_int_equal(stat(hostdev_dp_server_get_socket_path(server), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	hostdev_dp_server_unref(server);
	if (geteuid() == 0) {
		/* Only root can give a file away. */
		opts.kubelet_uid = 65534;
		assert_int_equal(
		    hostdev_dp_server_new(f->loop, "example.com/dev", &ops, NULL, &opts, &server),
		    0);
		assert_int_equal(hostdev_dp_server_start(server), 0);
		assert_int_equal(stat(hostdev_dp_server_get_socket_path(server), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(st.st_uid, 65534);
		hostdev_dp_server_unref(server);
	}
	umask(old);
}

static void test_set_devices_before_start(void **state)
{
	struct fixture *f = *state;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server;
	hostdev_dp_devices *d;

	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	opts.refresh_interval_ms = -1;
	assert_int_equal(
	    hostdev_dp_server_new(f->loop, "example.com/dev", NULL, NULL, &opts, &server), 0);
	assert_int_equal(hostdev_dp_devices_new(&d), 0);
	assert_int_equal(hostdev_dp_devices_add(d, "x", 1, 0), 0);
	assert_int_equal(hostdev_dp_server_set_devices(server, d), 0);
	assert_int_equal(hostdev_dp_server_set_devices(server, NULL), 0);
	assert_int_equal(hostdev_dp_server_set_devices(server, d), 0);
	hostdev_dp_devices_free(d);
	/* No list_devices: start keeps the list that was set. */
	assert_int_equal(hostdev_dp_server_start(server), 0);
	assert_int_equal(hostdev_dp_server_refresh(server), 0);
	hostdev_dp_server_unref(server);
}

/* HOSTDEV_1's hostdev_dp_loop_* names are the loop of loop.h: one object, either name. */
static void test_loop_first_names(void **state)
{
	struct fixture *f = *state;
	hostdev_dp_loop *old = NULL;
	struct hostdev_dp_server_options opts;
	hostdev_dp_server *server;

	assert_int_equal(hostdev_dp_loop_new(f->ctx, &old), 0);
	assert_ptr_equal(hostdev_loop_ref(old), old);
	assert_null(hostdev_dp_loop_unref(old));
	assert_int_equal(hostdev_dp_loop_get_fd(old), hostdev_loop_get_fd(old));
	assert_true(hostdev_dp_loop_get_fd(old) >= 0);
	/* A device-plugin server lives on a loop made under either name. */
	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	opts.refresh_interval_ms = -1;
	assert_int_equal(hostdev_dp_server_new(old, "example.com/old", NULL, NULL, &opts, &server),
			 0);
	assert_true(hostdev_dp_loop_dispatch(old, 0) >= 0);
	assert_int_equal(hostdev_dp_loop_start_thread(old), 0);
	assert_int_equal(hostdev_loop_start_thread(old), -EALREADY);
	assert_int_equal(hostdev_dp_loop_stop_thread(old), 0);
	assert_int_equal(hostdev_dp_loop_quit(old), 0);
	assert_int_equal(hostdev_dp_loop_run(old), 0);
	hostdev_dp_server_unref(server);
	assert_null(hostdev_dp_loop_unref(old));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_devices),
	    cmocka_unit_test(test_device_ids_stay_put),
	    cmocka_unit_test(test_response_arguments),
	    cmocka_unit_test(test_options_init),
	    cmocka_unit_test_setup_teardown(test_server_new_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_path_in_the_way, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_is_private, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_devices_before_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loop_first_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
