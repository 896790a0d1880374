/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev permitted`: KubeVirt's spec.configuration.permittedHostDevices for the resources that
 * `hostdev serve` would serve with the same config, as YAML (default) or JSON, ready to merge
 * into the KubeVirt CR.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

enum {
	OPT_CONFIG = 0x200,
	OPT_JSON,
};

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"json", no_argument, NULL, OPT_JSON},
	    SERVE_RESOURCE_LONG_OPTIONS,
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct serve_resource_flags flags = {0};
	const char *config_path = NULL;
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;
	int format = HOSTDEV_DP_FORMAT_YAML;
	char *text = NULL;
	int c, r, code;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_CONFIG:
			config_path = optarg;
			break;
		case OPT_JSON:
			format = HOSTDEV_DP_FORMAT_JSON;
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
	code = serve_resolve(cli, config_path, &flags, &config, &res);
	if (code != CLI_EXIT_OK)
		goto out;
	r = hostdev_dp_resources_permitted_host_devices(res, format, &text);
	if (r < 0) {
		code = cli_lib_error(cli, r, "cannot build permittedHostDevices");
		goto out;
	}
	fputs(text, stdout);
	if (text[0] && text[strlen(text) - 1] != '\n')
		putchar('\n');
	code = CLI_EXIT_OK;
out:
	hostdev_free(text);
	hostdev_dp_resources_unref(res);
	hostdev_dp_config_unref(config);
	serve_resource_flags_release(&flags);
	return code;
}

const struct cli_command cli_cmd_permitted = {
    .name = "permitted",
    .summary = "Print KubeVirt permittedHostDevices for the resources a config serves.",
    .synopsis = "(--config FILE | --resource NAME SELECTORS...) [--json]",
    .help = "Resolves the config on this host like `hostdev serve --dry-run` and prints the\n"
	    "spec.configuration.permittedHostDevices entries (externalResourceProvider: true)\n"
	    "for every resource found: YAML by default, JSON with --json.\n"
	    "\n"
	    "Options:\n"
	    "      --config FILE  resource selection config (JSON, device-plugin.md)\n"
	    "      --json         print JSON instead of YAML\n"
	    "\n" SERVE_RESOURCE_HELP,
    .run = run,
};
