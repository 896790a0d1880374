/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev apply`: restore the persistent list (VF counts, vGPU types, bindings, mdevs; what
 * the boot-time unit runs before the kubelet, examples/systemd/hostdev-apply.service).
 * Idempotent. docs/vfio.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_OWNER = 0x200,
	OPT_TIMEOUT,
	OPT_LOCK_TIMEOUT,
};

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"owner", required_argument, NULL, OPT_OWNER},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	char *end;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		if (c == OPT_OWNER) {
			if (cli_check_owner(cli, optarg) != CLI_EXIT_OK)
				return CLI_EXIT_USAGE;
			opts.owner = optarg;
		} else if (c == OPT_LOCK_TIMEOUT) {
			if (!cli_parse_lock_timeout(optarg, &opts.lock_timeout_ms))
				return cli_usage_error(cli,
						       "--lock-timeout: '%s' is not a number of "
						       "seconds (1-86400)",
						       optarg);
		} else if (c == OPT_TIMEOUT) {
			opts.timeout_ms = (unsigned int)strtoul(optarg, &end, 10);
			if (!optarg[0] || *end || optarg[0] == '-' || opts.timeout_ms == 0)
				return cli_usage_error(cli,
						       "--timeout: '%s' is not a number of "
						       "milliseconds",
						       optarg);
		}
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	code = cli_require_own_state(cli, "apply", true);
	if (code != CLI_EXIT_OK)
		return code;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_apply(cli->ctx, &opts, 0);
	if (r < 0)
		return cli_lib_error(cli, r, "apply");
	printf("%d device%s moved to vfio-pci%s\n", r, r == 1 ? "" : "s",
	       r == 0 ? " (all listed devices already there)" : "");
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_apply = {
    .name = "apply",
    .summary = "Restore the persistent list: VFs, vGPU types, bindings, mdevs (run at boot "
	       "before the kubelet).",
    .synopsis = "[--owner TEXT] [--timeout MS] [--lock-timeout SECONDS]",
    .help = "Restores what `hostdev persist` keeps, in order: the VF counts (`sriov --vfs\n"
	    "--persist`), then the vGPU types of VFs (`vgpu set --persist`), skipping VFs\n"
	    "that hold theirs, then the devices (`persist add`, `bind --persist`) with their\n"
	    "stored --group/--force, skipping those already on vfio-pci, then the mdevs\n"
	    "(`mdev create --persist`) under their UUIDs, skipping those that exist.\n"
	    "VFs enabled, vGPU types set and mdevs created are printed as notices on\n"
	    "stderr. A failing entry does not stop the others; all failures are\n"
	    "reported and the exit status is 1.\n"
	    "\n"
	    "Options:\n"
	    "      --owner TEXT     journal owner (default \"hostdev apply\")\n"
	    "      --timeout MS     how long to wait for the kernel (default "
	    "5000)\n"
	    "      --lock-timeout SECONDS  how long to wait for another hostdev "
	    "operation\n"
	    "                       holding the vfio lock (default 60)\n",
    .run = run,
};
