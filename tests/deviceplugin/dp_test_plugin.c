/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device plugin for the interop tests: serves one resource with the public API
 * (deviceplugin.h) and a scripted plugin whose devices and answers the test changes through
 * commands, one per line, read from a FIFO (--control):
 *
 *   health ID 0|1          set a device's health, then hostdev_dp_server_refresh()
 *   health-quiet ID 0|1    set a device's health only (the periodic refresh must find it)
 *   add ID NUMA            add a device (NUMA -1: none), then refresh
 *   remove ID              remove a device, then refresh
 *   set ID:H:N,...         replace the list with hostdev_dp_server_set_devices()
 *   fail-allocate ERRNO [MESSAGE...]   the next Allocate fails with -ERRNO (and the message)
 *   fail-prestart ERRNO    the next PreStartContainer fails with -ERRNO
 *   preferred ID,...       the ids the plugin adds in GetPreferredAllocation ("-": none)
 *   block-list             the next list_devices blocks (printing "LIST-BLOCKED") until...
 *   unblock-list           ...this lets it go on
 *   stop | start           hostdev_dp_server_stop() / _start()
 *   status                 print "STATUS <state> <registrations> <socket path>"
 *   quit                   stop and exit 0
 *
 * Every command is answered with "OK <command>" or "ERR <command>: <message>" on stdout.
 * Allocate answers: env TEST_IDS=<ids in order, comma-separated>, one device node
 * /dev/test/<id> (mrw) per id, a mount /var/test -> /tmp (read-only), annotation
 * test/count=<n>, CDI device test.example.com/dev=<first id>. PreStartContainer calls are
 * printed as "PRESTART <ids>", GetPreferredAllocation calls as "PREFERRED <size>".
 *
 * --generate N makes N healthy devices dev-0 ... dev-<N-1> without topology (large lists);
 * --kubelet-uid UID and --idle-timeout-ms MS set the server options of those names;
 * --list-off-loop sets HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP (list_devices on the loop's worker).
 *
 * The loop runs on its own thread (default) or is embedded in this program's poll() (--embed).
 * SIGTERM and SIGINT: stop and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hostdev.h>

#define MAX_DEVICES 65536

struct test_device {
	char id[64];
	int healthy;
	int numa;
};

struct plugin {
	struct test_device devices[MAX_DEVICES];
	size_t n_devices;
	int fail_allocate;
	char fail_message[256];
	int fail_prestart;
	char preferred[4096];
	bool preferred_set;
	/* The table is shared by the callbacks (loop thread, loop lock held) and the commands
	 * (main thread): commands change it under @lock and call the library after releasing
	 * it, so that the lock order is always loop lock -> @lock. */
	pthread_mutex_t lock;
	pthread_mutex_t out_lock;
	/* block-list: the next list_devices waits for a byte on block_pipe[0]. */
	bool block_next;
	int block_pipe[2];
};

static struct plugin plugin = {.lock = PTHREAD_MUTEX_INITIALIZER,
			       .out_lock = PTHREAD_MUTEX_INITIALIZER};
static volatile sig_atomic_t terminate;
static int signal_pipe[2] = {-1, -1};

/* One line on stdout, whole, whatever thread prints it. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&plugin.out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&plugin.out_lock);
}

static void log_fn(int priority, const char *message, void *userdata)
{
	fprintf(stderr, "dp_test_plugin: <%d> %s\n", priority, message);
}

/* ---------------------------------------------------------------------------------------------- */
/* The plugin */

static int list_devices_locked(void *userdata, hostdev_dp_devices *out)
{
	struct plugin *p = userdata;

	for (size_t i = 0; i < p->n_devices; i++) {
		int r = hostdev_dp_devices_add(out, p->devices[i].id, p->devices[i].healthy,
					       p->devices[i].numa);
		if (r < 0)
			return r;
	}
	return 0;
}

static int allocate_locked(void *userdata, const char *const *ids, size_t n_ids,
			   hostdev_dp_response *out)
{
	struct plugin *p = userdata;
	char joined[8192] = "", path[128], count[16];
	int r;

	if (p->fail_allocate) {
		r = -p->fail_allocate;
		p->fail_allocate = 0;
		if (p->fail_message[0])
			hostdev_dp_response_set_error(out, p->fail_message);
		return r;
	}
	for (size_t i = 0; i < n_ids; i++) {
		if (i)
			strncat(joined, ",", sizeof(joined) - strlen(joined) - 1);
		strncat(joined, ids[i], sizeof(joined) - strlen(joined) - 1);
		snprintf(path, sizeof(path), "/dev/test/%s", ids[i]);
		r = hostdev_dp_response_add_device(out, path, path, "mrw");
		if (r < 0)
			return r;
	}
	snprintf(count, sizeof(count), "%zu", n_ids);
	if ((r = hostdev_dp_response_set_env(out, "TEST_IDS", joined)) < 0 ||
	    (r = hostdev_dp_response_add_mount(out, "/var/test", "/tmp", 1)) < 0 ||
	    (r = hostdev_dp_response_set_annotation(out, "test/count", count)) < 0)
		return r;
	if (n_ids) {
		snprintf(path, sizeof(path), "test.example.com/dev=%s", ids[0]);
		r = hostdev_dp_response_add_cdi_device(out, path);
	}
	return r;
}

static int get_preferred_locked(void *userdata, const char *const *available, size_t n_available,
				size_t size, hostdev_dp_response *out)
{
	struct plugin *p = userdata;
	char copy[sizeof(p->preferred)], *save = NULL;
	int r;

	say("PREFERRED %zu", size);
	if (!p->preferred_set) {
		/* Default: the available ids from the end, to tell them from the server's order. */
		for (size_t i = n_available; i > 0; i--)
			if ((r = hostdev_dp_response_add_id(out, available[i - 1])) < 0)
				return r;
		return 0;
	}
	snprintf(copy, sizeof(copy), "%s", p->preferred);
	for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save))
		if (strcmp(id, "-") != 0 && (r = hostdev_dp_response_add_id(out, id)) < 0)
			return r;
	return 0;
}

static int pre_start_locked(void *userdata, const char *const *ids, size_t n_ids)
{
	struct plugin *p = userdata;
	char joined[4096] = "";
	int r;

	for (size_t i = 0; i < n_ids; i++) {
		if (i)
			strncat(joined, ",", sizeof(joined) - strlen(joined) - 1);
		strncat(joined, ids[i], sizeof(joined) - strlen(joined) - 1);
	}
	say("PRESTART %s", joined);
	if (p->fail_prestart) {
		r = -p->fail_prestart;
		p->fail_prestart = 0;
		return r;
	}
	return 0;
}

static int list_devices(void *userdata, hostdev_dp_devices *out)
{
	bool block;
	char byte;
	int r;

	pthread_mutex_lock(&plugin.lock);
	block = plugin.block_next;
	plugin.block_next = false;
	pthread_mutex_unlock(&plugin.lock);
	if (block) {
		say("LIST-BLOCKED");
		while (read(plugin.block_pipe[0], &byte, 1) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_lock(&plugin.lock);
	r = list_devices_locked(userdata, out);
	pthread_mutex_unlock(&plugin.lock);
	return r;
}

static int allocate(void *userdata, const char *const *ids, size_t n_ids, hostdev_dp_response *out)
{
	int r;

	pthread_mutex_lock(&plugin.lock);
	r = allocate_locked(userdata, ids, n_ids, out);
	pthread_mutex_unlock(&plugin.lock);
	return r;
}

static int get_preferred_allocation(void *userdata, const char *const *available,
				    size_t n_available, const char *const *must_include,
				    size_t n_must_include, size_t size, hostdev_dp_response *out)
{
	int r;

	pthread_mutex_lock(&plugin.lock);
	r = get_preferred_locked(userdata, available, n_available, size, out);
	pthread_mutex_unlock(&plugin.lock);
	return r;
}

static int pre_start_container(void *userdata, const char *const *ids, size_t n_ids)
{
	int r;

	pthread_mutex_lock(&plugin.lock);
	r = pre_start_locked(userdata, ids, n_ids);
	pthread_mutex_unlock(&plugin.lock);
	return r;
}

static bool destroyed;

static void destroy(void *userdata)
{
	destroyed = true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Commands */

static struct test_device *find(const char *id)
{
	for (size_t i = 0; i < plugin.n_devices; i++)
		if (strcmp(plugin.devices[i].id, id) == 0)
			return &plugin.devices[i];
	return NULL;
}

static int add_device(const char *id, int healthy, int numa)
{
	struct test_device *d;

	if (plugin.n_devices == MAX_DEVICES || strlen(id) >= sizeof(d->id))
		return -ENOSPC;
	d = &plugin.devices[plugin.n_devices++];
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->healthy = healthy;
	d->numa = numa;
	return 0;
}

/* "ID:H:N,..." into the table. */
static int parse_devices(const char *spec)
{
	char copy[8192], *save = NULL;

	plugin.n_devices = 0;
	snprintf(copy, sizeof(copy), "%s", spec);
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *h = strchr(item, ':') ? strrchr(item, ':') : NULL, *n;

		/* ids may contain ':' (PCI addresses): health and NUMA are the last two fields */
		if (!h)
			return -EINVAL;
		*h = '\0';
		n = h + 1;
		h = strrchr(item, ':');
		if (!h)
			return -EINVAL;
		*h++ = '\0';
		if (add_device(item, atoi(h), atoi(n)) < 0)
			return -ENOSPC;
	}
	return 0;
}

static hostdev_dp_server *server;

enum action {
	ACTION_NONE,
	ACTION_REFRESH,
	ACTION_SET,
	ACTION_UNKNOWN,
};

/* The part of a command that changes the table (under plugin.lock). */
static int edit(const char *cmd, const char *a, const char *b, enum action *action)
{
	struct test_device *d;
	int r;

	*action = ACTION_NONE;
	if (strcmp(cmd, "health") == 0 && a && b) {
		if (!(d = find(a)))
			return -ENOENT;
		d->healthy = atoi(b);
		*action = ACTION_REFRESH;
	} else if (strcmp(cmd, "health-quiet") == 0 && a && b) {
		if (!(d = find(a)))
			return -ENOENT;
		d->healthy = atoi(b);
	} else if (strcmp(cmd, "add") == 0 && a && b) {
		r = add_device(a, 1, atoi(b));
		if (r < 0)
			return r;
		*action = ACTION_REFRESH;
	} else if (strcmp(cmd, "remove") == 0 && a) {
		if (!(d = find(a)))
			return -ENOENT;
		*d = plugin.devices[--plugin.n_devices];
		*action = ACTION_REFRESH;
	} else if (strcmp(cmd, "set") == 0 && a) {
		r = parse_devices(a);
		if (r < 0)
			return r;
		*action = ACTION_SET;
	} else if (strcmp(cmd, "fail-allocate") == 0 && a) {
		plugin.fail_allocate = atoi(a);
		snprintf(plugin.fail_message, sizeof(plugin.fail_message), "%s", b ? b : "");
	} else if (strcmp(cmd, "fail-prestart") == 0 && a) {
		plugin.fail_prestart = atoi(a);
	} else if (strcmp(cmd, "block-list") == 0) {
		plugin.block_next = true;
	} else if (strcmp(cmd, "unblock-list") == 0) {
		if (write(plugin.block_pipe[1], "x", 1) != 1)
			return -errno;
	} else if (strcmp(cmd, "preferred") == 0 && a) {
		snprintf(plugin.preferred, sizeof(plugin.preferred), "%s", a);
		plugin.preferred_set = true;
	} else {
		*action = ACTION_UNKNOWN;
	}
	return 0;
}

static int command(char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " ", &save), *a = strtok_r(NULL, " ", &save);
	char *b = strtok_r(NULL, "", &save);
	hostdev_dp_devices *devices;
	enum action action;
	int r;

	if (!cmd)
		return 0;
	pthread_mutex_lock(&plugin.lock);
	r = edit(cmd, a, b, &action);
	pthread_mutex_unlock(&plugin.lock);
	if (r < 0)
		return r;
	switch (action) {
	case ACTION_REFRESH:
		return hostdev_dp_server_refresh(server);
	case ACTION_SET:
		r = hostdev_dp_devices_new(&devices);
		if (r < 0)
			return r;
		r = list_devices(&plugin, devices);
		if (r == 0)
			r = hostdev_dp_server_set_devices(server, devices);
		hostdev_dp_devices_free(devices);
		return r;
	case ACTION_NONE:
		return 0;
	case ACTION_UNKNOWN:
		break;
	}
	if (strcmp(cmd, "stop") == 0)
		return hostdev_dp_server_stop(server);
	if (strcmp(cmd, "start") == 0)
		return hostdev_dp_server_start(server);
	if (strcmp(cmd, "status") == 0) {
		say("STATUS %d %u %s", hostdev_dp_server_get_state(server),
		    hostdev_dp_server_get_registrations(server),
		    hostdev_dp_server_get_socket_path(server));
		return 0;
	}
	if (strcmp(cmd, "quit") == 0) {
		terminate = 1;
		return 0;
	}
	return -EINVAL;
}

/* Run the complete lines of @buf; keep an incomplete one. */
static void run_commands(hostdev_ctx *ctx, char *buf, size_t *used)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', *used - (size_t)(start - buf)))) {
		char echo[512];
		int r;

		*nl = '\0';
		snprintf(echo, sizeof(echo), "%.*s", (int)sizeof(echo) - 1, start);
		r = command(start);
		if (r < 0)
			say("ERR %s: %s (%s)", echo, strerror(-r), hostdev_ctx_get_error(ctx));
		else
			say("OK %s", echo);
		start = nl + 1;
	}
	*used -= (size_t)(start - buf);
	memmove(buf, start, *used);
}

static void on_signal(int sig)
{
	terminate = 1;
	if (signal_pipe[1] >= 0)
		(void)!write(signal_pipe[1], "x", 1);
}

static void usage(void)
{
	fprintf(stderr, "usage: dp_test_plugin --kubelet-dir DIR --resource NAME --control FIFO "
			"[--mode classic|watcher|none] [--socket-name NAME] [--refresh-ms N] "
			"[--devices ID:H:N,...] [--generate N] [--no-preferred] [--no-prestart] "
			"[--kubelet-uid UID] [--idle-timeout-ms MS] [--list-off-loop] [--embed]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubelet-dir", required_argument, NULL, 'k'},
	    {"resource", required_argument, NULL, 'r'},
	    {"control", required_argument, NULL, 'c'},
	    {"mode", required_argument, NULL, 'm'},
	    {"socket-name", required_argument, NULL, 's'},
	    {"refresh-ms", required_argument, NULL, 'f'},
	    {"devices", required_argument, NULL, 'd'},
	    {"no-preferred", no_argument, NULL, 'P'},
	    {"no-prestart", no_argument, NULL, 'S'},
	    {"embed", no_argument, NULL, 'e'},
	    {"generate", required_argument, NULL, 'g'},
	    {"kubelet-uid", required_argument, NULL, 'u'},
	    {"idle-timeout-ms", required_argument, NULL, 'i'},
	    {"list-off-loop", no_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_dp_plugin_ops ops = {
	    .version = HOSTDEV_DP_PLUGIN_OPS_VERSION,
	    .list_devices = list_devices,
	    .allocate = allocate,
	    .get_preferred_allocation = get_preferred_allocation,
	    .pre_start_container = pre_start_container,
	    .destroy = destroy,
	};
	const char *kubelet_dir = NULL, *resource = NULL, *control = NULL;
	struct hostdev_dp_server_options opts;
	bool embed = false;
	hostdev_loop *loop = NULL;
	hostdev_ctx *ctx = NULL;
	char buf[16384];
	size_t used = 0;
	int c, fd, r;

	hostdev_dp_server_options_init(&opts);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubelet_dir = optarg;
			break;
		case 'r':
			resource = optarg;
			break;
		case 'c':
			control = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "classic") == 0)
				opts.registration = HOSTDEV_DP_REGISTER_CLASSIC;
			else if (strcmp(optarg, "watcher") == 0)
				opts.registration = HOSTDEV_DP_REGISTER_WATCHER;
			else if (strcmp(optarg, "none") == 0)
				opts.registration = HOSTDEV_DP_REGISTER_NONE;
			else
				usage();
			break;
		case 's':
			opts.socket_name = optarg;
			break;
		case 'f':
			opts.refresh_interval_ms = atoi(optarg);
			break;
		case 'd':
			if (parse_devices(optarg) < 0)
				usage();
			break;
		case 'P':
			ops.get_preferred_allocation = NULL;
			break;
		case 'S':
			ops.pre_start_container = NULL;
			break;
		case 'e':
			embed = true;
			break;
		case 'g':
			plugin.n_devices = 0;
			for (int i = 0; i < atoi(optarg); i++) {
				char id[32];

				snprintf(id, sizeof(id), "dev-%d", i);
				if (add_device(id, 1, -1) < 0)
					usage();
			}
			break;
		case 'u':
			opts.kubelet_uid = atoi(optarg);
			break;
		case 'i':
			opts.idle_timeout_ms = atoi(optarg);
			break;
		case 'o':
			ops.flags |= HOSTDEV_DP_PLUGIN_LIST_OFF_LOOP;
			break;
		default:
			usage();
		}
	}
	if (!kubelet_dir || !resource || !control)
		usage();

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(plugin.block_pipe, O_CLOEXEC) < 0)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* O_RDWR: the FIFO never reports EOF when a writer goes away. */
	fd = open(control, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		perror(control);
		return 1;
	}
	if ((r = hostdev_ctx_new(&ctx)) < 0 ||
	    (r = hostdev_ctx_set_path(ctx, HOSTDEV_PATH_KUBELET, kubelet_dir)) < 0)
		goto fail;
	hostdev_ctx_set_log_fn(ctx, log_fn, NULL);
	hostdev_ctx_set_log_priority(ctx, HOSTDEV_LOG_DEBUG);
	if ((r = hostdev_loop_new(ctx, &loop)) < 0 ||
	    (r = hostdev_dp_server_new(loop, resource, &ops, &plugin, &opts, &server)) < 0 ||
	    (r = hostdev_dp_server_start(server)) < 0)
		goto fail;
	if (!embed && (r = hostdev_loop_start_thread(loop)) < 0)
		goto fail;
	say("READY %s", hostdev_dp_server_get_socket_path(server));

	while (!terminate) {
		struct pollfd pfd[3] = {
		    {.fd = fd, .events = POLLIN},
		    {.fd = signal_pipe[0], .events = POLLIN},
		    {.fd = embed ? hostdev_loop_get_fd(loop) : -1, .events = POLLIN},
		};
		ssize_t n;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (pfd[2].revents & POLLIN) {
			r = hostdev_loop_dispatch(loop, 0);
			if (r < 0 && r != -EINTR)
				goto fail;
		}
		if (pfd[0].revents & POLLIN) {
			n = read(fd, buf + used, sizeof(buf) - 1 - used);
			if (n > 0) {
				used += (size_t)n;
				run_commands(ctx, buf, &used);
				if (used == sizeof(buf) - 1)
					used = 0;
			}
		}
	}
	r = 0;
	hostdev_dp_server_stop(server);
	if (!embed)
		hostdev_loop_stop_thread(loop);
fail:
	if (r < 0)
		fprintf(stderr, "dp_test_plugin: %s (%s)\n", strerror(-r),
			ctx ? hostdev_ctx_get_error(ctx) : "");
	hostdev_dp_server_unref(server);
	if (server && !destroyed) {
		fprintf(stderr, "dp_test_plugin: the plugin's destroy callback did not run\n");
		r = -EPROTO;
	}
	if (loop && !embed)
		hostdev_loop_stop_thread(loop);
	hostdev_loop_unref(loop);
	hostdev_ctx_unref(ctx);
	close(fd);
	say("EXIT %d", r < 0 ? 1 : 0);
	return r < 0 ? 1 : 0;
}
