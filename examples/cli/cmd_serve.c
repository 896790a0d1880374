/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev serve`: run the kubelet device plugins of a resource selection config (or of one
 * resource given by flags) in the foreground until SIGINT/SIGTERM, then stop cleanly: every
 * ListAndWatch stream gets an empty list and the sockets are removed.
 *
 * The library's device-plugin loop is embedded in this command's own poll(2), next to the signal
 * pipe; the loop carries the hot-plug monitor (a uevent re-reads the devices it names at once)
 * and the device-node watches. That is the pattern a program with its own event loop
 * follows; the library also offers a thread of its own (hostdev_loop_start_thread()). The servers
 * follow hot-plug: the library's hostdev_dp_manager resolves the config when it starts (the only
 * time this command's thread does it) and again, on the loop's worker thread, on the events that can
 * change which resources exist.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

/* Library messages as "2026-11-21T10:00:00.123Z hostdev[pid]: <level>: <message>" lines. */
static void log_line(int priority, const char *message, void *userdata)
{
	static const char *const levels[] = {[HOSTDEV_LOG_ERR] = "error",
					     [HOSTDEV_LOG_WARNING] = "warning",
					     [HOSTDEV_LOG_NOTICE] = "notice",
					     [HOSTDEV_LOG_INFO] = "info",
					     [HOSTDEV_LOG_DEBUG] = "debug"};
	const char *level =
	    priority >= HOSTDEV_LOG_ERR && priority <= HOSTDEV_LOG_DEBUG ? levels[priority] : "log";
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	(void)userdata;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ hostdev[%ld]: %s: %s\n", stamp, ts.tv_nsec / 1000000L,
		(long)getpid(), level, message);
}

/* Dispatch the loop until SIGINT or SIGTERM. */
static int run_loop(struct cli *cli, hostdev_loop *loop, int sigfd)
{
	struct pollfd fds[2] = {{.fd = hostdev_loop_get_fd(loop), .events = POLLIN},
				{.fd = sigfd, .events = POLLIN}};
	int r;

	for (;;) {
		r = poll(fds, 2, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			cli_error("poll: %s", strerror(errno));
			return CLI_EXIT_FAILURE;
		}
		if (fds[1].revents)
			return CLI_EXIT_OK; /* SIGINT or SIGTERM */
		if (fds[0].revents) {
			r = hostdev_loop_dispatch(loop, 0);
			if (r < 0 && r != -EINTR)
				return cli_lib_error(cli, r, "device-plugin loop failed");
		}
	}
}

/* Print the resources and their devices (--dry-run). */
static void print_resources(const hostdev_dp_resources *res)
{
	static const char *const kinds[] = {"pci", "usb", "mdev"};

	for (size_t i = 0; i < hostdev_dp_resources_get_count(res); i++) {
		int kind = hostdev_dp_resources_get_kind(res, i);

		printf("%s (%s):", hostdev_dp_resources_get_name(res, i),
		       kind >= 0 && kind <= 2 ? kinds[kind] : "?");
		for (size_t j = 0; j < hostdev_dp_resources_get_device_count(res, i); j++)
			printf(" %s", hostdev_dp_resources_get_device_id(res, i, j));
		putchar('\n');
	}
}

/*
 * @resolve_ms: how often to resolve the config again without a hot-plug event, -1 never; 0 for
 * the default: only on events while the monitor delivers them, else every refresh interval.
 * Resolving reads every selected device (on the loop's worker thread, the loop serving on
 * meanwhile): not more often than needed.
 */
static int serve(struct cli *cli, hostdev_dp_config *config,
		 const struct hostdev_dp_server_options *opts, int grace_ms, int resolve_ms)
{
	struct hostdev_dp_manager_options mopts;
	hostdev_dp_manager *manager = NULL;
	hostdev_loop *loop = NULL;
	struct cli_signals signals;
	int r, code;

	code = cli_signals_open(&signals);
	if (code != CLI_EXIT_OK)
		return code;
	/* A kubelet that goes away mid-write must not kill the plugin. */
	signal(SIGPIPE, SIG_IGN);

	hostdev_dp_manager_options_init(&mopts);
	mopts.server = opts;
	mopts.grace_ms = grace_ms;
	mopts.resolve_interval_ms = resolve_ms;
	if ((r = hostdev_loop_new(cli->ctx, &loop)) < 0) {
		code = cli_lib_error(cli, r, "cannot create the device-plugin loop");
		goto out;
	}
	if ((r = hostdev_dp_manager_new(loop, config, &mopts, &manager)) < 0 ||
	    (r = hostdev_dp_manager_start(manager)) < 0) {
		code = cli_lib_error(cli, r, "cannot serve the config");
		/* A config that cannot apply to this host (two entries giving one name) is the
		 * user's to fix, as with --dry-run. */
		if (r == -EINVAL)
			code = CLI_EXIT_USAGE;
		goto out;
	}
	code = run_loop(cli, loop, signals.fds[0]);
	log_line(HOSTDEV_LOG_INFO, "stopping: advertising no devices, removing sockets", NULL);
	/* Let the empty lists and trailers reach the kubelet before the connections close. */
	hostdev_dp_manager_stop(manager);
	while (hostdev_loop_dispatch(loop, 50) > 0)
		;
out:
	hostdev_dp_manager_unref(manager);
	hostdev_loop_unref(loop);
	cli_signals_close(&signals);
	return code;
}

enum {
	OPT_CONFIG = 0x200,
	OPT_REGISTRATION,
	OPT_KUBELET_DIR,
	OPT_REFRESH,
	OPT_DRY_RUN,
	OPT_KUBELET_UID,
	OPT_IDLE_TIMEOUT,
	OPT_GRACE,
	OPT_RESOLVE_INTERVAL,
};

static int parse_registration(const char *text)
{
	if (!strcmp(text, "classic"))
		return HOSTDEV_DP_REGISTER_CLASSIC;
	if (!strcmp(text, "watcher"))
		return HOSTDEV_DP_REGISTER_WATCHER;
	if (!strcmp(text, "none"))
		return HOSTDEV_DP_REGISTER_NONE;
	return -1;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"registration", required_argument, NULL, OPT_REGISTRATION},
	    {"kubelet-dir", required_argument, NULL, OPT_KUBELET_DIR},
	    {"refresh", required_argument, NULL, OPT_REFRESH},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"kubelet-uid", required_argument, NULL, OPT_KUBELET_UID},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	    {"grace", required_argument, NULL, OPT_GRACE},
	    {"resolve-interval", required_argument, NULL, OPT_RESOLVE_INTERVAL},
	    SERVE_RESOURCE_LONG_OPTIONS,
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_dp_server_options opts;
	struct serve_resource_flags flags = {0};
	const char *config_path = NULL, *kubelet_dir = NULL;
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;
	bool dry_run = false;
	int c, r, code, grace_ms = 300000, resolve_ms = 0;
	char *end;
	long value;

	hostdev_dp_server_options_init(&opts);
	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_CONFIG:
			config_path = optarg;
			break;
		case OPT_REGISTRATION:
			opts.registration = parse_registration(optarg);
			if (opts.registration < 0) {
				code = cli_usage_error(cli,
						       "--registration '%s': expected classic, "
						       "watcher or none",
						       optarg);
				goto out;
			}
			break;
		case OPT_KUBELET_DIR:
			kubelet_dir = optarg;
			break;
		case OPT_REFRESH:
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || value < -1 || value == 0 ||
			    value > 86400000) {
				code = cli_usage_error(cli,
						       "--refresh '%s': expected milliseconds "
						       "(1-86400000), or -1 for never",
						       optarg);
				goto out;
			}
			opts.refresh_interval_ms = (int)value;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_KUBELET_UID:
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || value < 0 || value > 0x7fffffff) {
				code =
				    cli_usage_error(cli,
						    "--kubelet-uid '%s': expected a numeric user "
						    "id",
						    optarg);
				goto out;
			}
			opts.kubelet_uid = (int)value;
			break;
		case OPT_IDLE_TIMEOUT:
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || value < -1 || value == 0 ||
			    value > 86400000) {
				code = cli_usage_error(cli,
						       "--idle-timeout '%s': expected milliseconds "
						       "(1-86400000), or -1 for never",
						       optarg);
				goto out;
			}
			opts.idle_timeout_ms = (int)value;
			break;
		case OPT_GRACE:
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || value < -1 || value > 86400000) {
				code = cli_usage_error(cli,
						       "--grace '%s': expected milliseconds "
						       "(0-86400000), or -1 for never",
						       optarg);
				goto out;
			}
			grace_ms = (int)value;
			break;
		case OPT_RESOLVE_INTERVAL:
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || value < -1 || value == 0 ||
			    value > 3600000) {
				code = cli_usage_error(cli,
						       "--resolve-interval '%s': expected "
						       "milliseconds (1-3600000), or -1 for never",
						       optarg);
				goto out;
			}
			resolve_ms = (int)value;
			break;
		default:
			code = serve_resource_flag(cli, &flags, c, optarg);
			if (code != CLI_EXIT_OK)
				goto out;
			break;
		}
	}
	if (c != CLI_GETOPT_END) {
		code = cli_getopt_exit_code(c);
		goto out;
	}
	if (optind < argc) {
		code = cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	code = serve_check_source(cli, config_path, &flags);
	if (code != CLI_EXIT_OK)
		goto out;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		goto out;
	if (kubelet_dir &&
	    (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_KUBELET, kubelet_dir)) < 0) {
		code = cli_lib_error(cli, r, "--kubelet-dir");
		goto out;
	}
	/* A long-running service reports what it does: info by default, debug with -v. */
	hostdev_ctx_set_log_fn(cli->ctx, log_line, NULL);
	hostdev_ctx_set_log_priority(cli->ctx,
				     cli->verbose > 0 ? HOSTDEV_LOG_DEBUG : HOSTDEV_LOG_INFO);
	if (dry_run) {
		code = serve_resolve(cli, config_path, &flags, &config, &res);
		if (code == CLI_EXIT_OK)
			print_resources(res);
		goto out;
	}
	/* The manager resolves the config when it starts (reading every selected device once);
	 * its errors are those resolving it here would give. */
	code = serve_load(cli, config_path, &flags, &config);
	if (code == CLI_EXIT_OK)
		code = serve(cli, config, &opts, grace_ms, resolve_ms);
out:
	hostdev_dp_resources_unref(res);
	hostdev_dp_config_unref(config);
	serve_resource_flags_release(&flags);
	return code;
}

const struct cli_command cli_cmd_serve = {
    .name = "serve",
    .summary = "Serve kubelet device plugins for the devices a config selects.",
    .synopsis = "(--config FILE | --resource NAME SELECTORS...) [--registration MODE] "
		"[--kubelet-dir DIR] [--kubelet-uid UID] [--refresh MS] [--idle-timeout MS] "
		"[--grace MS] [--resolve-interval MS] [--dry-run]",
    .help = "Runs in the foreground until SIGINT or SIGTERM, logging to stderr. On stop every\n"
	    "resource advertises no devices and its socket is removed. The config format is in\n"
	    "device-plugin.md; `hostdev permitted` prints the matching KubeVirt\n"
	    "permittedHostDevices.\n"
	    "\n"
	    "Options:\n"
	    "      --config FILE        resource selection config (JSON)\n"
	    "      --registration MODE  classic (Register on kubelet.sock, default), watcher\n"
	    "                           (socket in plugins_registry) or none\n"
	    "      --kubelet-dir DIR    kubelet root (default /var/lib/kubelet, or ROOT/var/lib/\n"
	    "                           kubelet with --root)\n"
	    "      --kubelet-uid UID    the kubelet runs as user UID, not root: the sockets\n"
	    "                           (mode 0600) belong to it and its connections are served\n"
	    "                           (others are refused, by SO_PEERCRED)\n"
	    "      --refresh MS         re-read every device every MS milliseconds: the\n"
	    "                           safety net (default 43200000, or 5000 when the host\n"
	    "                           delivers no hot-plug events; -1 never). Health follows\n"
	    "                           events: a /dev/vfio node or a uevent re-reads only\n"
	    "                           its devices, lost events re-read all at once. Hot-plug\n"
	    "                           events that can change the resources of a config with\n"
	    "                           \"naming\" entries (add, remove; PCI bind, unbind) also\n"
	    "                           resolve it again, off the loop: a new resource name (a\n"
	    "                           device plugged later) is served at once\n"
	    "      --resolve-interval MS  also resolve the config again every MS milliseconds\n"
	    "                           (default: only on hot-plug events, or every refresh\n"
	    "                           interval when the host delivers none; -1 never)\n"
	    "      --grace MS           a resource whose last device left lists it Unhealthy for\n"
	    "                           MS milliseconds, then ends (default 300000; -1 never)\n"
	    "      --idle-timeout MS    close a connection without a call (an open ListAndWatch\n"
	    "                           counts) that sent nothing for MS milliseconds\n"
	    "                           (default 60000; -1 never)\n"
	    "      --dry-run            print the resources and their devices, then exit\n"
	    "\n" SERVE_RESOURCE_HELP,
    .run = run,
};
