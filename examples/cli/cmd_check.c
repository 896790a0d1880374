/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev check [--json] [--host-only] [ADDRESS...]`: can this host pass
 * devices through, and which devices? Exit status 1 when a host check fails.
 * docs/vfio.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
	OPT_HOST_ONLY,
};

static const char *status_word(int status)
{
	return status == HOSTDEV_CHECK_PASS   ? "PASS"
	       : status == HOSTDEV_CHECK_WARN ? "WARN"
					      : "FAIL";
}

/* The fixes printed so far: one fix is printed once, however many lines it applies to. */
struct shown_fixes {
	const char **items;
	size_t count;
};

/* The library's advice, in the tool's spelling (cli_spelling()), unless already printed. */
static void print_remedy(struct shown_fixes *shown, const char *remedy)
{
	const char **grown;
	char *spelled;

	for (size_t i = 0; i < shown->count; i++)
		if (strcmp(shown->items[i], remedy) == 0)
			return;
	grown = realloc(shown->items, (shown->count + 1) * sizeof(*grown));
	if (grown) {
		shown->items = grown;
		shown->items[shown->count++] = remedy;
	}
	spelled = cli_spelling(remedy);
	printf("      fix: %s\n", spelled ? spelled : remedy);
	free(spelled);
}

/* A finding, in the tool's spelling too (a path option named by the library's enum). */
static void print_message(const char *message)
{
	char *spelled = cli_spelling(message);

	printf("%s\n", spelled ? spelled : message);
	free(spelled);
}

static void print_text(hostdev_vfio_report *r)
{
	struct shown_fixes shown = {0};

	for (size_t i = 0; i < hostdev_vfio_report_get_check_count(r); i++) {
		const char *remedy = hostdev_vfio_report_get_check_remedy(r, i);

		printf("%s  %-32s ", status_word(hostdev_vfio_report_get_check_status(r, i)),
		       hostdev_vfio_report_get_check_title(r, i));
		print_message(hostdev_vfio_report_get_check_message(r, i));
		if (remedy)
			print_remedy(&shown, remedy);
	}
	if (hostdev_vfio_report_get_device_count(r))
		putchar('\n');
	for (size_t i = 0; i < hostdev_vfio_report_get_device_count(r); i++) {
		const char *remedy = hostdev_vfio_report_get_device_remedy(r, i);

		printf("%s  %-14s ", status_word(hostdev_vfio_report_get_device_status(r, i)),
		       hostdev_vfio_report_get_device_address(r, i));
		print_message(hostdev_vfio_report_get_device_message(r, i));
		if (remedy)
			print_remedy(&shown, remedy);
	}
	printf("\nhost: %s\n",
	       hostdev_vfio_report_get_status(r) == HOSTDEV_CHECK_FAIL ? "NOT ready for passthrough"
	       : hostdev_vfio_report_get_status(r) == HOSTDEV_CHECK_WARN ? "ready, with warnings"
									 : "ready for passthrough");
	free(shown.items);
}

static int print_json(struct cli *cli, hostdev_vfio_report *r)
{
	cJSON *doc = cli_json_document(), *lib;
	char *text = NULL;
	int e, code;

	e = hostdev_vfio_report_to_json(r, 0, &text);
	if (e < 0 || !doc) {
		cJSON_Delete(doc);
		return cli_lib_error(cli, e < 0 ? e : -ENOMEM, "check");
	}
	lib = cJSON_Parse(text);
	hostdev_free(text);
	if (!lib) {
		cJSON_Delete(doc);
		return cli_lib_error(cli, -ENOMEM, "check");
	}
	cJSON_AddItemToObject(doc, "report", lib);
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"host-only", no_argument, NULL, OPT_HOST_ONLY},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	hostdev_vfio_report *report = NULL;
	unsigned int flags = 0;
	bool json = false;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		if (c == OPT_JSON)
			json = true;
		else if (c == OPT_HOST_ONLY)
			flags |= HOSTDEV_CHECK_HOST_ONLY;
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if ((flags & HOSTDEV_CHECK_HOST_ONLY) && optind < argc)
		return cli_usage_error(cli, "--host-only takes no ADDRESS");
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_check(cli->ctx, (const char *const *)argv + optind,
			       (size_t)(argc - optind), flags, &report);
	if (r == -EINVAL)
		return cli_usage_error(cli, "%s", hostdev_ctx_get_error(cli->ctx));
	if (r < 0)
		return cli_lib_error(cli, r, "check");
	if (json) {
		code = print_json(cli, report);
	} else {
		print_text(report);
		code = CLI_EXIT_OK;
	}
	if (code == CLI_EXIT_OK && hostdev_vfio_report_get_status(report) == HOSTDEV_CHECK_FAIL)
		code = CLI_EXIT_FAILURE;
	hostdev_vfio_report_unref(report);
	return code;
}

const struct cli_command cli_cmd_check = {
    .name = "check",
    .summary = "Check whether this host can pass devices through "
	       "(virt-host-validate style).",
    .synopsis = "[--json] [--host-only] [ADDRESS...]",
    .help = "Host checks: IOMMU groups, DMAR/AMD-Vi units, kernel command line, "
	    "interrupt\n"
	    "remapping, vfio modules, /dev/vfio/vfio; each PASS, WARN or FAIL with "
	    "a fix.\n"
	    "Then each device (every non-bridge device, or the ADDRESSes given): "
	    "assignable\n"
	    "or not, and why. Exit status 1 when a host check fails. Reads only.\n"
	    "\n"
	    "Options:\n"
	    "      --json        print {\"schema_version\": 1, \"report\": {...}} "
	    "(vfio.md)\n"
	    "      --host-only   skip the per-device lines\n",
    .run = run,
};
