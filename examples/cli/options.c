/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Option parsing shared by main and the subcommands: the global options (--root, --sysfs,
 * --pci-ids,
 * --node-name, -v, --help, --version) are accepted before and after the subcommand name, and the
 * library context is made from them once every option is known, so their order does not matter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char global_help[] =
    "Global options (before or after COMMAND):\n"
    "  --root DIR        read a fake root: DIR/sys, DIR/dev, DIR/proc, ... (default /)\n"
    "  --sysfs DIR       sysfs mount to read, overrides --root for sysfs (default /sys)\n"
    "  --pci-ids FILE    pci.ids database for names (default /usr/share/misc/pci.ids)\n"
    "  --node-name NAME  node name used in object names (default: $NODE_NAME when set,\n"
    "                    as a DaemonSet gives it from spec.nodeName, else the host name)\n"
    "  --modules-dir DIR kernel module directory for the modalias lookup\n"
    "                    (default /lib/modules/$(uname -r))\n"
    "  --state-dir DIR   vfio journal and lock, overrides --root (default\n"
    "                    /var/lib/hostdev)\n"
    "  --config-dir DIR  persistent device list, overrides --root (default\n"
    "                    /etc/hostdev)\n"
    "      --log-level LEVEL  log library messages of LEVEL and above to stderr:\n"
    "                    err, warning, notice (the default: warnings and notices\n"
    "                    are always shown), info or debug\n"
    "      --debug       the same as --log-level debug\n"
    "  -v, --verbose     --log-level info (-vv: debug); `list` takes -v as lspci's\n"
    "  -h, --help        show help and exit\n"
    "      --version     show the version and exit\n";

/* The documents the help texts name (vfio.md, json-schema.md, ...) are the .md files of docs/,
 * installed into the docdir the build was configured with (docs/CMakeLists.txt). */
#ifndef HOSTDEV_DOCDIR
#error "HOSTDEV_DOCDIR (the installed documentation directory) must be defined by the build"
#endif
static const char docs_help[] =
    "Documentation: the *.md files in " HOSTDEV_DOCDIR " and man hostdev.\n";

void cli_print_help(FILE *out, const struct cli_command *cmd)
{
	if (cmd) {
		fprintf(out, "Usage: hostdev %s %s\n\n%s\n%s\n%s\n%s", cmd->name, cmd->synopsis,
			cmd->summary, cmd->help, global_help, docs_help);
		return;
	}
	fputs("Usage: hostdev [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
	      "Inspect host PCI devices for passthrough to virtual machines.\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < cli_command_count; i++)
		fprintf(out, "  %-8s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
	fprintf(out,
		"\n%s\nRun 'hostdev COMMAND --help' for the options of a command.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n%s",
		global_help, docs_help);
}

/* @path made absolute against the working directory (the library takes absolute paths only). */
static char *absolute_path(const char *path)
{
	char *cwd, *out;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

/* Store the absolute form of the path argument of @option in *@slot after checking it exists. */
static int set_path_option(struct cli *cli, char **slot, const char *option, const char *value,
			   bool want_dir)
{
	struct stat st;
	char *path;

	if (!value[0])
		return cli_usage_error(cli, "%s: empty path", option);
	if (stat(value, &st) < 0)
		return cli_usage_error(cli, "%s '%s': %s", option, value, strerror(errno));
	if (want_dir && !S_ISDIR(st.st_mode))
		return cli_usage_error(cli, "%s '%s': not a directory", option, value);
	if (!want_dir && S_ISDIR(st.st_mode))
		return cli_usage_error(cli, "%s '%s': is a directory, expected a file", option,
				       value);
	path = absolute_path(value);
	if (!path) {
		cli_error("%s '%s': %s", option, value, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	free(*slot);
	*slot = path;
	return CLI_EXIT_OK;
}

/* A directory option that may not exist yet (it must not be something else). */
static int set_dir_option(struct cli *cli, char **slot, const char *option, const char *value)
{
	struct stat st;
	char *path;

	if (!value[0])
		return cli_usage_error(cli, "%s: empty path", option);
	if (stat(value, &st) == 0 && !S_ISDIR(st.st_mode))
		return cli_usage_error(cli, "%s '%s': not a directory", option, value);
	path = absolute_path(value);
	if (!path) {
		cli_error("%s '%s': %s", option, value, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	free(*slot);
	*slot = path;
	return CLI_EXIT_OK;
}

/* --log-level LEVEL: the syslog names the library's priorities use; -1 when unknown. */
static int parse_log_level(const char *text)
{
	static const struct {
		const char *name;
		int priority;
	} levels[] = {
	    {"err", HOSTDEV_LOG_ERR},	      {"error", HOSTDEV_LOG_ERR},
	    {"warning", HOSTDEV_LOG_WARNING}, {"notice", HOSTDEV_LOG_NOTICE},
	    {"info", HOSTDEV_LOG_INFO},	      {"debug", HOSTDEV_LOG_DEBUG},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(text, levels[i].name) == 0)
			return levels[i].priority;
	return -1;
}

/* The text of the option getopt just rejected, for the error line. */
static void format_bad_option(char *buf, size_t size, char **argv)
{
	const char *last = optind > 0 ? argv[optind - 1] : NULL;

	/*
	 * getopt sets optopt to 0 for an unknown long option and to the option's value for a known
	 * one; our long-only options have values >= 0x100. A short option is named by optopt alone,
	 * since argv[optind - 1] need not be the word that holds it.
	 */
	if (last && strncmp(last, "--", 2) == 0 &&
	    (optopt == 0 || optopt >= 0x100 || strchr(last, '=')))
		snprintf(buf, size, "%s", last);
	else
		snprintf(buf, size, "-%c", optopt);
}

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char bad[256];
	int c, r;

	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		switch (c) {
		case -1:
			if (!cli->command)
				return CLI_GETOPT_END;
			if (cli->help) {
				cli_print_help(stdout, cli->command);
				return CLI_GETOPT_DONE;
			}
			if (cli->version) {
				printf("hostdev %s\n", hostdev_version());
				return CLI_GETOPT_DONE;
			}
			return CLI_GETOPT_END;
		case '?':
			format_bad_option(bad, sizeof(bad), argv);
			/* A known long option given "=value" although it takes none. */
			if (optopt != 0 && strncmp(bad, "--", 2) == 0 && strchr(bad, '='))
				cli_usage_error(cli, "option '%.*s' takes no argument",
						(int)(strchr(bad, '=') - bad), bad);
			else
				cli_usage_error(cli, "unknown option '%s'", bad);
			return CLI_GETOPT_ERROR;
		case ':':
			format_bad_option(bad, sizeof(bad), argv);
			cli_usage_error(cli, "option '%s' needs an argument", bad);
			return CLI_GETOPT_ERROR;
		case 'v':
			if (cli->local_v)
				return c;
			cli->verbose++;
			break;
		case CLI_OPT_DEBUG:
			cli->log_level = HOSTDEV_LOG_DEBUG;
			break;
		case CLI_OPT_LOG_LEVEL:
			cli->log_level = parse_log_level(optarg);
			if (cli->log_level < 0) {
				cli_usage_error(cli,
						"--log-level: '%s' is not one of err, warning, "
						"notice, info, debug",
						optarg);
				return CLI_GETOPT_ERROR;
			}
			break;
		case 'h':
			cli->help = true;
			break;
		case CLI_OPT_VERSION:
			cli->version = true;
			break;
		case CLI_OPT_ROOT:
			r = set_path_option(cli, &cli->root, "--root", optarg, true);
			if (r != CLI_EXIT_OK)
				return CLI_GETOPT_ERROR;
			break;
		case CLI_OPT_SYSFS:
			r = set_path_option(cli, &cli->sysfs, "--sysfs", optarg, true);
			if (r != CLI_EXIT_OK)
				return CLI_GETOPT_ERROR;
			break;
		case CLI_OPT_PCI_IDS:
			r = set_path_option(cli, &cli->pci_ids, "--pci-ids", optarg, false);
			if (r != CLI_EXIT_OK)
				return CLI_GETOPT_ERROR;
			break;
		case CLI_OPT_MODULES_DIR:
			r = set_path_option(cli, &cli->modules_dir, "--modules-dir", optarg, true);
			if (r != CLI_EXIT_OK)
				return CLI_GETOPT_ERROR;
			break;
		case CLI_OPT_STATE_DIR:
			/* Need not exist yet: the library creates it (0700) on first use. */
			r = set_dir_option(cli, &cli->state_dir, "--state-dir", optarg);
			if (r != CLI_EXIT_OK)
				return CLI_GETOPT_ERROR;
			break;
		case CLI_OPT_CONFIG_DIR:
			r = set_dir_option(cli, &cli->config_dir, "--config-dir", optarg);
			if (r != CLI_EXIT_OK)
				return CLI_GETOPT_ERROR;
			break;
		case CLI_OPT_NODE_NAME:
			if (!optarg[0]) {
				cli_usage_error(cli, "--node-name: empty name");
				return CLI_GETOPT_ERROR;
			}
			cli->node_name = optarg;
			break;
		default:
			return c;
		}
	}
}

static const char *priority_name(int priority)
{
	switch (priority) {
	case HOSTDEV_LOG_ERR:
		return "error";
	case HOSTDEV_LOG_WARNING:
		return "warning";
	case HOSTDEV_LOG_NOTICE:
		return "notice";
	case HOSTDEV_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void log_to_stderr(int priority, const char *message, void *userdata)
{
	(void)userdata;
	/* Escaped: messages can quote text from files (an owner, a driver name) verbatim. */
	char *spelled = cli_spelling(message), *line = NULL;
	const char *text = spelled ? spelled : message;
	size_t length = 0;
	/*
	 * The line is composed first and written whole: stderr is unbuffered, so escaping straight
	 * into it cost a write(2) per character, and another process's output could land inside.
	 */
	FILE *out = open_memstream(&line, &length);
	bool composed = false;

	if (out) {
		fprintf(out, "hostdev: %s: ", priority_name(priority));
		cli_print_escaped(out, text);
		fputc('\n', out);
		composed = fclose(out) == 0;
	}
	if (composed) {
		fwrite(line, 1, length, stderr);
	} else {
		/* Out of memory: straight into stderr, a character at a time. */
		fprintf(stderr, "hostdev: %s: ", priority_name(priority));
		cli_print_escaped(stderr, text);
		fputc('\n', stderr);
	}
	free(line);
	free(spelled);
}

int cli_open_ctx(struct cli *cli)
{
	const char *env_node;
	int r;

	r = hostdev_ctx_new(&cli->ctx);
	if (r < 0) {
		cli_error("cannot create the library context: %s", strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	/*
	 * Warnings and notices (a wait for the vfio lock, naming its holder) are always shown:
	 * a command that waits silently looks hung.
	 */
	hostdev_ctx_set_log_fn(cli->ctx, log_to_stderr, NULL);
	hostdev_ctx_set_log_priority(cli->ctx, cli->log_level > 0 ? cli->log_level
					       : cli->verbose > 1 ? HOSTDEV_LOG_DEBUG
					       : cli->verbose > 0 ? HOSTDEV_LOG_INFO
								  : HOSTDEV_LOG_NOTICE);
	/* --root first so that --sysfs overrides it whatever the order on the command line. */
	if (cli->root && (r = hostdev_ctx_set_root(cli->ctx, cli->root)) < 0)
		return cli_lib_error(cli, r, "--root");
	if (cli->sysfs && (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_SYSFS, cli->sysfs)) < 0)
		return cli_lib_error(cli, r, "--sysfs");
	if (cli->pci_ids &&
	    (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_PCI_IDS, cli->pci_ids)) < 0)
		return cli_lib_error(cli, r, "--pci-ids");
	if (cli->modules_dir &&
	    (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_MODULES, cli->modules_dir)) < 0)
		return cli_lib_error(cli, r, "--modules-dir");
	if (cli->state_dir &&
	    (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_STATE, cli->state_dir)) < 0)
		return cli_lib_error(cli, r, "--state-dir");
	if (cli->config_dir &&
	    (r = hostdev_ctx_set_path(cli->ctx, HOSTDEV_PATH_CONFIG, cli->config_dir)) < 0)
		return cli_lib_error(cli, r, "--config-dir");
	if (cli->node_name && (r = hostdev_ctx_set_node_name(cli->ctx, cli->node_name)) < 0)
		return cli_lib_error(cli, r, "--node-name");
	/*
	 * In a pod, the host name is the pod's, which changes on every rollout, and names made
	 * from it (per-device resources, USB port ids, object names) with it: Kubernetes gives the
	 * node's name through the downward API (env NODE_NAME from spec.nodeName). The library's
	 * context never reads the environment; this program does, when --node-name is not given.
	 */
	env_node = getenv("NODE_NAME");
	if (!cli->node_name && env_node && *env_node &&
	    (r = hostdev_ctx_set_node_name(cli->ctx, env_node)) < 0)
		return cli_lib_error(cli, r, "NODE_NAME");
	return CLI_EXIT_OK;
}

int cli_require_own_state(struct cli *cli, const char *command, bool uses_config)
{
	if (!cli->sysfs || cli->root)
		return CLI_EXIT_OK;
	if (!cli->state_dir)
		return cli_usage_error(cli,
				       "%s with --sysfs alone would use this host's real vfio "
				       "journal (/var/lib/hostdev) for the devices of %s: --sysfs "
				       "moves only sysfs. Pass --root DIR (sysfs, state and config "
				       "under DIR) or --state-dir DIR as well",
				       command, cli->sysfs);
	if (uses_config && !cli->config_dir)
		return cli_usage_error(cli,
				       "%s with --sysfs and --state-dir would still edit this "
				       "host's real device list (/etc/hostdev): pass --config-dir "
				       "DIR as well, or --root DIR",
				       command);
	return CLI_EXIT_OK;
}

bool cli_parse_seconds(const char *text, unsigned int max, unsigned int *ms)
{
	char *end;
	unsigned long v;

	if (!text[0] || text[0] < '0' || text[0] > '9')
		return false;
	v = strtoul(text, &end, 10);
	if (*end || v == 0 || v > max)
		return false;
	*ms = (unsigned int)v * 1000;
	return true;
}

bool cli_parse_lock_timeout(const char *text, unsigned int *ms)
{
	char *end;
	unsigned long v;

	if (!text[0] || text[0] == '-')
		return false;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (*end || errno || v == 0 || v > 86400)
		return false;
	*ms = (unsigned int)v * 1000;
	return true;
}

int cli_check_owner(struct cli *cli, const char *text)
{
	size_t len = strlen(text);

	if (len > HOSTDEV_VFIO_OWNER_MAX)
		return cli_usage_error(cli,
				       "--owner: the text is %zu bytes long; at most %d are "
				       "recorded",
				       len, HOSTDEV_VFIO_OWNER_MAX);
	return CLI_EXIT_OK;
}

int cli_check_address(struct cli *cli, const char *option, const char *text)
{
	struct hostdev_pci_address a;

	if (hostdev_pci_address_parse(text, &a) == 0)
		return CLI_EXIT_OK;
	return cli_usage_error(cli,
			       "%s%s'%s' is not a PCI address: expected DDDD:BB:DD.F in hex "
			       "(domain, bus, device 00-1f, function 0-7), such as 0000:3b:00.0; "
			       "the domain may be left out (3b:00.0 is 0000:3b:00.0)",
			       option ? option : "", option ? ": " : "", text);
}

void cli_release(struct cli *cli)
{
	cli->ctx = hostdev_ctx_unref(cli->ctx);
	free(cli->root);
	free(cli->sysfs);
	free(cli->pci_ids);
	free(cli->modules_dir);
	free(cli->state_dir);
	free(cli->config_dir);
	cli->root = cli->sysfs = cli->pci_ids = cli->modules_dir = NULL;
	cli->state_dir = cli->config_dir = NULL;
}
