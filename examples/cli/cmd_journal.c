/* SPDX-License-Identifier: Apache-2.0 */
/* `hostdev journal [--json]`: the devices libhostdev moved to vfio-pci and has
 * not restored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
};

static int print_json(struct cli *cli, hostdev_vfio_journal *j)
{
	cJSON *doc = cli_json_document(), *lib;
	char *text = NULL;
	int r, code;

	r = hostdev_vfio_journal_to_json(j, 0, &text);
	if (r < 0 || !doc) {
		cJSON_Delete(doc);
		return cli_lib_error(cli, r < 0 ? r : -ENOMEM, "journal");
	}
	lib = cJSON_Parse(text);
	hostdev_free(text);
	if (!lib) {
		cJSON_Delete(doc);
		return cli_lib_error(cli, -ENOMEM, "journal");
	}
	cJSON_AddItemToObject(doc, "journal", lib);
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

static void print_text(hostdev_vfio_journal *j)
{
	size_t n = hostdev_vfio_journal_get_count(j);

	if (n == 0) {
		printf("no devices bound by libhostdev (%s)\n", hostdev_vfio_journal_get_path(j));
		return;
	}
	printf("%-14s %-16s %-12s %5s  %-10s %-20s %s\n", "ADDRESS", "ORIGINAL DRIVER", "OVERRIDE",
	       "GROUP", "STATE", "BOUND AT (UTC)", "OWNER");
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)hostdev_vfio_journal_get_time(j, i);
		struct tm tm;
		char when[32] = "?";
		const char *drv = hostdev_vfio_journal_get_driver(j, i);
		const char *ovr = hostdev_vfio_journal_get_driver_override(j, i);
		const char *owner = hostdev_vfio_journal_get_owner(j, i);

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-14s %-16s %-12s %5d  %-10s %-20s ",
		       hostdev_vfio_journal_get_address(j, i), drv ? drv : "-", ovr ? ovr : "-",
		       hostdev_vfio_journal_get_iommu_group(j, i),
		       hostdev_vfio_journal_is_complete(j, i)
			   ? (hostdev_vfio_journal_is_group_bind(j, i) ? "bound+grp" : "bound")
			   : "incomplete",
		       when);
		/* Free text from the caller of bind: a newline or an escape sequence must not
		 * reach the terminal as such. */
		cli_print_escaped(stdout, owner ? owner : "-");
		putchar('\n');
	}
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	hostdev_vfio_journal *j = NULL;
	bool json = false;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		if (c == OPT_JSON)
			json = true;
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_journal_read(cli->ctx, &j);
	if (r < 0)
		return cli_lib_error(cli, r, "journal");
	if (json) {
		code = print_json(cli, j);
	} else {
		print_text(j);
		code = CLI_EXIT_OK;
	}
	hostdev_vfio_journal_unref(j);
	return code;
}

const struct cli_command cli_cmd_journal = {
    .name = "journal",
    .summary = "List the devices libhostdev bound to vfio-pci and their "
	       "original drivers.",
    .synopsis = "[--json]",
    .help = "Reads the journal (/var/lib/hostdev/vfio-journal.json) without "
	    "taking the\n"
	    "vfio lock, so it answers while a bind runs. STATE \"incomplete\" "
	    "marks a bind\n"
	    "that was interrupted; `hostdev restore --all` undoes it. OWNER is "
	    "printed with\n"
	    "control characters and backslashes escaped (\\xNN). The journal is "
	    "root's:\n"
	    "other users are told which permission they lack.\n"
	    "\n"
	    "Options:\n"
	    "      --json        print {\"schema_version\": 1, \"journal\": "
	    "{\"path\": ...,\n"
	    "                    \"records\": [...]}} (vfio.md)\n",
    .run = run,
};
