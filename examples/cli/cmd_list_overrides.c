/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev list-overrides`: the devices kept on vfio-pci across reboots (the persistent list), in
 * the shape of `driverctl list-overrides`: "ADDRESS vfio-pci" per line.
 */
#include "cli.h"

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	hostdev_vfio_persist *p = NULL;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0)
		;
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_persist_read(cli->ctx, &p);
	if (r < 0)
		return cli_lib_error(cli, r, "list-overrides");
	for (size_t i = 0; i < hostdev_vfio_persist_get_count(p); i++)
		printf("%s %s\n", hostdev_vfio_persist_get_address(p, i), HOSTDEV_VFIO_DRIVER);
	hostdev_vfio_persist_unref(p);
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_list_overrides = {
    .name = "list-overrides",
    .summary = "List the devices kept on vfio-pci at boot (like driverctl list-overrides).",
    .synopsis = "",
    .help = "Prints \"ADDRESS vfio-pci\" for each device of the persistent list\n"
	    "(/etc/hostdev/vfio-devices.json), which `hostdev apply` binds at boot; nothing\n"
	    "when it is empty. Add devices with `hostdev bind --persist` or `hostdev persist\n"
	    "add`; `hostdev persist list` shows their ids and flags.\n",
    .run = run,
};
