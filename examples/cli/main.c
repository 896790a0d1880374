/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev`: command-line front end of libhostdev. main parses the global options, picks the
 * subcommand from the table in cli.h and hands it the rest of the command line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_TABLE_ENTRY(name) &cli_cmd_##name,
const struct cli_command *const cli_commands[] = {CLI_COMMANDS(CLI_TABLE_ENTRY)};
#undef CLI_TABLE_ENTRY
const size_t cli_command_count = sizeof(cli_commands) / sizeof(cli_commands[0]);

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < cli_command_count; i++)
		if (strcmp(cli_commands[i]->name, name) == 0)
			return cli_commands[i];
	return NULL;
}

/* Report a failed write to stdout (full disk, closed pipe) instead of exiting 0 with lost output.
 */
static int finish_stdout(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout) || cli_stdout_errno) {
		cli_error("error writing standard output: %s",
			  strerror(cli_stdout_errno ? cli_stdout_errno : errno));
		return code == CLI_EXIT_OK ? CLI_EXIT_FAILURE : code;
	}
	return code;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {CLI_GLOBAL_LONG_OPTIONS, {NULL, 0, NULL, 0}};
	struct cli cli = {0};
	const struct cli_command *cmd;
	int c, code;

	/* Line-buffered even into a pipe, so that `hostdev list | head` and watchers see whole
	 * lines. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* "+": stop at the subcommand name; its own options are parsed by the subcommand. */
	c = cli_getopt(&cli, argc, argv, "+:" CLI_GLOBAL_SHORT_OPTIONS, options);
	if (c != CLI_GETOPT_END) {
		/* Only global options are known here, so anything else is an error already printed.
		 */
		code = c == CLI_GETOPT_ERROR ? CLI_EXIT_USAGE
					     : cli_usage_error(&cli, "unexpected option");
		goto out;
	}
	if (optind >= argc) {
		if (cli.version) {
			printf("hostdev %s\n", hostdev_version());
			code = CLI_EXIT_OK;
		} else if (cli.help) {
			cli_print_help(stdout, NULL);
			code = CLI_EXIT_OK;
		} else {
			code = cli_usage_error(&cli, "missing command");
		}
		goto out;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		code = cli_usage_error(&cli, "unknown command '%s'", argv[optind]);
		goto out;
	}
	cli.command = cmd;
	argc -= optind;
	argv += optind;
	/* Restart getopt (glibc: optind 0 re-initialises) for the subcommand's argv. */
	optind = 0;
	code = cmd->run(&cli, argc, argv);
out:
	cli_release(&cli);
	return finish_stdout(code);
}
