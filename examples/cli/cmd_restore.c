/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev restore ADDRESS...|--all`: give devices back to the drivers the
 * journal recorded, also after a crash of whoever bound them. docs/vfio.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_ALL = 0x200,
	OPT_OWNER,
	OPT_REPROBE,
	OPT_TIMEOUT,
};

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"all", no_argument, NULL, OPT_ALL},
	    {"owner", required_argument, NULL, OPT_OWNER},
	    {"reprobe", no_argument, NULL, OPT_REPROBE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	unsigned int flags = 0;
	bool all = false;
	char *end;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_ALL:
			all = true;
			break;
		case OPT_OWNER:
			opts.owner = optarg;
			break;
		case OPT_REPROBE:
			flags |= HOSTDEV_RESTORE_UNJOURNALED;
			break;
		case OPT_TIMEOUT:
			opts.timeout_ms = (unsigned int)strtoul(optarg, &end, 10);
			if (!optarg[0] || *end || optarg[0] == '-' || opts.timeout_ms == 0)
				return cli_usage_error(cli,
						       "--timeout: '%s' is not a number of "
						       "milliseconds",
						       optarg);
			break;
		}
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (all && optind < argc)
		return cli_usage_error(cli, "give ADDRESS... or --all, not both");
	if (!all && optind >= argc)
		return cli_usage_error(cli, "missing ADDRESS (or --all)");
	if (opts.owner && !all)
		return cli_usage_error(cli, "--owner only applies to --all");
	for (int i = optind; i < argc; i++) {
		struct hostdev_pci_address a;

		if (hostdev_pci_address_parse(argv[i], &a) < 0)
			return cli_usage_error(cli,
					       "'%s' is not a PCI address: expected "
					       "DDDD:BB:SS.F or BB:SS.F",
					       argv[i]);
	}
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	if (all)
		r = hostdev_vfio_restore_all(cli->ctx, &opts, flags);
	else
		r = hostdev_vfio_restore_set(cli->ctx, (const char *const *)argv + optind,
					     (size_t)(argc - optind), &opts, flags);
	if (r < 0)
		return cli_lib_error(cli, r, "restore");
	printf("%d device%s restored%s\n", r, r == 1 ? "" : "s",
	       r == 0 ? " (nothing to restore)" : "");
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_restore = {
    .name = "restore",
    .summary = "Give devices back to their original drivers (from the journal).",
    .synopsis = "[--owner TEXT] [--reprobe] [--timeout MS] ADDRESS...|--all",
    .help = "For each device (newest first): driver_override back to its recorded "
	    "value,\n"
	    "unbind from vfio-pci, bind the recorded driver (drivers_probe when "
	    "there was\n"
	    "none), verify, drop the journal record. Devices bound with --group "
	    "come back\n"
	    "with their whole group. Works after a crash of the process that bound "
	    "them.\n"
	    "\n"
	    "Options:\n"
	    "      --all            every device in the journal\n"
	    "      --owner TEXT     with --all: only the records of this owner\n"
	    "      --reprobe        a device on vfio-pci without a journal record: "
	    "clear its\n"
	    "                       driver_override and let the kernel pick a "
	    "driver\n"
	    "      --timeout MS     how long to wait for the kernel (default "
	    "5000)\n",
    .run = run,
};
