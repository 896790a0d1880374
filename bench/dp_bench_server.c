/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dp_bench_server: one vfio PCI resource served with libhostdev's public device-plugin API
 * (hostdev/deviceplugin.h), for bench/run-dp.sh. It is what a program embedding the library
 * does when it learns of a change itself: the built-in vfio PCI plugin of a resource selected by
 * vendor:device on a fake root, the loop on its own thread, inotify on ROOT/dev/vfio, and
 * hostdev_dp_server_refresh() on every event there (the same trigger the grpc-go baseline uses).
 * `hostdev serve` instead re-reads the devices every --refresh interval and on hot-plug uevents.
 *
 *   dp_bench_server ROOT DEVICE_PLUGIN_DIR RESOURCE VENDOR:DEVICE [REFRESH_MS]
 *
 * REFRESH_MS is the library's own refresh interval (default -1: none, inotify only). No
 * registration. Logs to stderr; SIGTERM/SIGINT stop the server (empty list to every stream, socket
 * removed) and exit 0.
 *
 *   dp_bench_server --fixed ROOT DEVICE_PLUGIN_DIR RESOURCE VENDOR:DEVICE
 *
 * The floor: the same devices listed once, always Healthy (no inotify), and every Allocate answered
 * with one fixed reply, the one the built-in plugin gives for the first device, whatever the ids.
 * What the client measures against it is the client's own cost and the library's gRPC layer, which
 * no plugin logic can go below (bench/run-dp.sh reports it next to the others).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <hostdev.h>

/* The --fixed server's state: its devices and its one reply. */
struct fixed {
	const hostdev_dp_resources *resources;
	char env_name[256], env_value[64], group_node[64];
};

static int fixed_list(void *userdata, hostdev_dp_devices *out)
{
	struct fixed *f = userdata;
	int r = 0;

	for (size_t i = 0; i < hostdev_dp_resources_get_device_count(f->resources, 0) && r == 0;
	     i++)
		r = hostdev_dp_devices_add(
		    out, hostdev_dp_resources_get_device_id(f->resources, 0, i), 1, -1);
	return r;
}

static int fixed_allocate(void *userdata, const char *const *ids, size_t n_ids,
			  hostdev_dp_response *out)
{
	struct fixed *f = userdata;
	int r;

	(void)ids;
	(void)n_ids;
	if ((r = hostdev_dp_response_set_env(out, f->env_name, f->env_value)) < 0 ||
	    (r = hostdev_dp_response_add_device(out, "/dev/vfio/vfio", "/dev/vfio/vfio", "mrw")) <
		0)
		return r;
	return hostdev_dp_response_add_device(out, f->group_node, f->group_node, "mrw");
}

/* The reply of the built-in plugin for the first device of @resources: PCI_RESOURCE_<NAME> (the
 * resource name upper-cased, '.' and '/' as '_') = its address, and its vfio nodes. */
static int fixed_init(hostdev_ctx *ctx, const hostdev_dp_resources *resources, struct fixed *f)
{
	const char *name = hostdev_dp_resources_get_name(resources, 0);
	const char *id = hostdev_dp_resources_get_device_id(resources, 0, 0);
	hostdev_pci_device *dev = NULL;
	size_t k;
	int r;

	if (!name || !id)
		return -ENODEV;
	f->resources = resources;
	k = (size_t)snprintf(f->env_name, sizeof(f->env_name), "PCI_RESOURCE_");
	for (; *name && k + 1 < sizeof(f->env_name); name++)
		f->env_name[k++] = *name == '.' || *name == '/'
				       ? '_'
				       : (char)(*name >= 'a' && *name <= 'z' ? *name - 32 : *name);
	f->env_name[k] = '\0';
	snprintf(f->env_value, sizeof(f->env_value), "%s", id);
	if ((r = hostdev_pci_device_new(ctx, id, &dev)) < 0)
		return r;
	snprintf(f->group_node, sizeof(f->group_node), "/dev/vfio/%d",
		 hostdev_pci_device_get_iommu_group(dev));
	hostdev_pci_device_unref(dev);
	return 0;
}

static void log_line(int priority, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "dp_bench_server: <%d> %s\n", priority, message);
}

static int fail(hostdev_ctx *ctx, const char *what, int r)
{
	fprintf(stderr, "dp_bench_server: %s: %s (%s)\n", what,
		ctx ? hostdev_ctx_get_error(ctx) : "", strerror(-r));
	return 1;
}

int main(int argc, char **argv)
{
	struct hostdev_dp_server_options opts;
	hostdev_dp_resources *resources = NULL;
	hostdev_dp_config *config = NULL;
	hostdev_dp_server *server = NULL;
	hostdev_loop *loop = NULL;
	hostdev_ctx *ctx = NULL;
	char json[512], vfio_dir[PATH_MAX];
	int r, code = 1, ifd = -1, sfd = -1;
	struct fixed fixed = {0};
	bool is_fixed = argc > 1 && strcmp(argv[1], "--fixed") == 0;
	sigset_t mask;

	if (is_fixed) {
		argv++;
		argc--;
	}
	if (argc < 5 || argc > 6 || (is_fixed && argc != 5)) {
		fprintf(stderr, "usage: dp_bench_server ROOT DEVICE_PLUGIN_DIR RESOURCE "
				"VENDOR:DEVICE [REFRESH_MS]\n"
				"       dp_bench_server --fixed ROOT DEVICE_PLUGIN_DIR RESOURCE "
				"VENDOR:DEVICE\n");
		return 2;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	/* Blocked before the loop's thread starts, so that it inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = hostdev_ctx_new(&ctx)) < 0)
		return fail(NULL, "hostdev_ctx_new", r);
	hostdev_ctx_set_log_fn(ctx, log_line, NULL);
	if ((r = hostdev_ctx_set_root(ctx, argv[1])) < 0) {
		fail(ctx, argv[1], r);
		goto out;
	}
	snprintf(json, sizeof(json),
		 "{\"version\": 1, \"resources\": [{\"kind\": \"pci\", \"resourceName\": \"%s\", "
		 "\"selectors\": {\"vendorDevice\": [\"%s\"]}}]}",
		 argv[3], argv[4]);
	if ((r = hostdev_dp_config_parse(ctx, json, &config)) < 0) {
		fail(ctx, "config", r);
		goto out;
	}
	if ((r = hostdev_dp_resources_resolve(ctx, config, &resources)) < 0) {
		fail(ctx, "resolve", r);
		goto out;
	}
	if (hostdev_dp_resources_get_count(resources) != 1) {
		fprintf(stderr, "dp_bench_server: %zu resources, expected 1\n",
			hostdev_dp_resources_get_count(resources));
		goto out;
	}
	hostdev_dp_server_options_init(&opts);
	opts.registration = HOSTDEV_DP_REGISTER_NONE;
	opts.device_plugin_dir = argv[2];
	opts.refresh_interval_ms = argc > 5 ? atoi(argv[5]) : -1;
	if ((r = hostdev_loop_new(ctx, &loop)) < 0) {
		fail(ctx, "loop", r);
		goto out;
	}
	if (is_fixed) {
		struct hostdev_dp_plugin_ops ops = {.version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
						    .list_devices = fixed_list,
						    .allocate = fixed_allocate};

		if ((r = fixed_init(ctx, resources, &fixed)) < 0) {
			fail(ctx, "the fixed reply", r);
			goto out;
		}
		r = hostdev_dp_server_new(loop, hostdev_dp_resources_get_name(resources, 0), &ops,
					  &fixed, &opts, &server);
	} else {
		r = hostdev_dp_server_new_builtin(loop, resources, 0, &opts, &server);
	}
	if (r < 0) {
		fail(ctx, "server", r);
		goto out;
	}

	snprintf(vfio_dir, sizeof(vfio_dir), "%s/dev/vfio", argv[1]);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, vfio_dir,
					 IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
					     IN_ATTRIB) < 0) {
		fprintf(stderr, "dp_bench_server: inotify on %s: %m\n", vfio_dir);
		goto out;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "dp_bench_server: signalfd: %m\n");
		goto out;
	}
	if ((r = hostdev_dp_server_start(server)) < 0) {
		fail(ctx, "start", r);
		goto out;
	}
	if ((r = hostdev_loop_start_thread(loop)) < 0) {
		fail(ctx, "loop thread", r);
		goto out;
	}
	fprintf(stderr, "dp_bench_server: serving %s on %s\n", argv[3],
		hostdev_dp_server_get_socket_path(server));

	for (;;) {
		/* The fixed server follows nothing (poll(2) skips a negative fd). */
		struct pollfd fds[2] = {{.fd = is_fixed ? -1 : ifd, .events = POLLIN},
					{.fd = sfd, .events = POLLIN}};
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dp_bench_server: poll: %m\n");
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents) {
			while (read(ifd, buf, sizeof(buf)) > 0) {
				/* drain: one refresh for the whole batch */
			}
			if ((r = hostdev_dp_server_refresh(server)) < 0)
				fail(ctx, "refresh", r);
		}
	}
	code = 0;
	hostdev_dp_server_stop(server);
	hostdev_loop_stop_thread(loop);
out:
	if (sfd >= 0)
		close(sfd);
	if (ifd >= 0)
		close(ifd);
	hostdev_dp_server_unref(server);
	hostdev_loop_unref(loop);
	hostdev_dp_resources_unref(resources);
	hostdev_dp_config_unref(config);
	hostdev_ctx_unref(ctx);
	return code;
}
