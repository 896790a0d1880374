/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev restore ADDRESS...|--all`: give devices back to the drivers the
 * journal recorded, also after a crash of whoever bound them, and say per
 * device what was done and whether its record is kept. docs/vfio.md.
 * Without --owner it also takes away the NVIDIA vGPU types libhostdev set on
 * those devices, or on all of them with --all (the vGPU journal, docs/vgpu.md):
 * all that hostdev did to them is undone.
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
	OPT_LOCK_TIMEOUT,
	OPT_FORGET_GONE,
	OPT_JSON,
};

/* One line per device, then the counts; the first line of a failure names it too. */
static void print_result(const hostdev_vfio_result *res)
{
	size_t n = hostdev_vfio_result_get_count(res);
	size_t restored = hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_RESTORED);
	size_t already = hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_ALREADY);
	size_t gone = hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_GONE);
	size_t other = hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_OTHER_DRIVER);
	size_t kept = 0, bad = 0;

	for (size_t i = 0; i < n; i++) {
		int outcome = hostdev_vfio_result_get_outcome(res, i);
		const char *name = hostdev_vfio_outcome_name(outcome);
		char *spelled;

		kept += hostdev_vfio_result_has_record(res, i);
		bad += outcome == HOSTDEV_VFIO_OUTCOME_FAILED ||
		       outcome == HOSTDEV_VFIO_OUTCOME_REFUSED;
		if (outcome == HOSTDEV_VFIO_OUTCOME_NOT_BOUND && n == 1)
			continue; /* the summary says it */
		printf("%s: %s: ", hostdev_vfio_result_get_address(res, i), name ? name : "?");
		spelled = cli_spelling(hostdev_vfio_result_get_message(res, i));
		cli_print_escaped(stdout,
				  spelled ? spelled : hostdev_vfio_result_get_message(res, i));
		free(spelled);
		putchar('\n');
	}
	printf("%zu device%s restored", restored, restored == 1 ? "" : "s");
	if (restored + already + gone + other + bad == 0)
		printf(" (nothing to restore)");
	if (already)
		printf(", %zu already on %s original driver%s", already,
		       already == 1 ? "its" : "their", already == 1 ? "" : "s");
	if (other)
		printf(", %zu on another driver (not restored)", other);
	if (gone)
		printf(", %zu gone", gone);
	if (bad)
		printf(", %zu failed or refused", bad);
	if (kept)
		printf("; %zu journal record%s kept", kept, kept == 1 ? "" : "s");
	putchar('\n');
}

/*
 * The vGPU types of the vGPU journal (all of them, or those of @addresses), after the bindings (a
 * VF restored from vfio-pci to nvidia shows its vGPU attributes again, so its record can be
 * judged). An address without a vGPU record is not an error: most devices have none. Every
 * address is tried; returns the number of VFs put back, or the first failure's negative errno
 * with the library's message.
 */
static int restore_vgpus(struct cli *cli, const struct hostdev_vfio_options *vfio,
			 char *const *addresses, size_t count)
{
	struct hostdev_vgpu_options opts = HOSTDEV_VGPU_OPTIONS_INIT;
	char *first_error = NULL;
	int restored = 0, failure = 0;

	opts.lock_timeout_ms = vfio->lock_timeout_ms;
	if (count == 0)
		return hostdev_vgpu_restore(cli->ctx, NULL, &opts, 0);
	for (size_t i = 0; i < count; i++) {
		int r = hostdev_vgpu_restore(cli->ctx, addresses[i], &opts, 0);

		if (r >= 0)
			restored += r;
		else if (r != -ENOENT && !failure) {
			failure = r;
			first_error = strdup(hostdev_ctx_get_error(cli->ctx));
		}
	}
	if (failure)
		hostdev_ctx_set_error(cli->ctx, failure, first_error ? first_error : "");
	free(first_error);
	return failure ? failure : restored;
}

static int print_json(struct cli *cli, const hostdev_vfio_result *res, int vgpus)
{
	cJSON *doc = cli_json_document(), *list;
	char *text = NULL;
	int r, code;

	r = hostdev_vfio_result_to_json(res, 0, &text);
	if (r < 0 || !doc) {
		cJSON_Delete(doc);
		hostdev_free(text);
		return cli_lib_error(cli, r < 0 ? r : -ENOMEM, "restore");
	}
	list = cJSON_Parse(text);
	hostdev_free(text);
	if (!list) {
		cJSON_Delete(doc);
		return cli_lib_error(cli, -ENOMEM, "restore");
	}
	cJSON_AddItemToObject(doc, "restore", list);
	if (vgpus >= 0 && !cJSON_AddNumberToObject(doc, "vgpus_restored", vgpus)) {
		cJSON_Delete(doc);
		return cli_lib_error(cli, -ENOMEM, "restore");
	}
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"all", no_argument, NULL, OPT_ALL},
	    {"owner", required_argument, NULL, OPT_OWNER},
	    {"reprobe", no_argument, NULL, OPT_REPROBE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	    {"forget-gone", no_argument, NULL, OPT_FORGET_GONE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_result *res = NULL;
	unsigned int flags = 0;
	bool all = false, json = false;
	char *end;
	int c, code, r, vgpus = -1, vgpu_error = 0;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_ALL:
			all = true;
			break;
		case OPT_OWNER:
			if (cli_check_owner(cli, optarg) != CLI_EXIT_OK)
				return CLI_EXIT_USAGE;
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
		case OPT_LOCK_TIMEOUT:
			if (!cli_parse_lock_timeout(optarg, &opts.lock_timeout_ms))
				return cli_usage_error(cli,
						       "--lock-timeout: '%s' is not a number of "
						       "seconds (1-86400)",
						       optarg);
			break;
		case OPT_FORGET_GONE:
			flags |= HOSTDEV_RESTORE_FORGET_GONE;
			break;
		case OPT_JSON:
			json = true;
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
	for (int i = optind; i < argc; i++)
		if (cli_check_address(cli, NULL, argv[i]) != CLI_EXIT_OK)
			return CLI_EXIT_USAGE;
	code = cli_require_own_state(cli, "restore", false);
	if (code != CLI_EXIT_OK)
		return code;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_restore_with_result(cli->ctx, (const char *const *)argv + optind,
					     (size_t)(argc - optind), &opts,
					     flags | (all ? HOSTDEV_RESTORE_ALL : 0), &res);
	/* The vGPU journal has no owners: --owner leaves the types alone. A failure of the
	 * bindings does not stop this, nor does this hide that failure. */
	if (!opts.owner) {
		char *vfio_error = r < 0 ? strdup(hostdev_ctx_get_error(cli->ctx)) : NULL;

		vgpus = restore_vgpus(cli, &opts, argv + optind, (size_t)(argc - optind));
		if (vgpus < 0) {
			vgpu_error = vgpus;
			cli_lib_error(cli, vgpus,
				      all ? "restore --all (vGPU types)" : "restore (vGPU types)");
			vgpus = -1;
		}
		if (r < 0)
			hostdev_ctx_set_error(cli->ctx, r, vfio_error ? vfio_error : "");
		free(vfio_error);
	}
	/* What was done is printed even when something failed: the records kept say what is left.
	 */
	if (res) {
		if (json)
			code = print_json(cli, res, vgpus);
		else
			print_result(res);
		hostdev_vfio_result_unref(res);
	}
	if (vgpus > 0 && !json)
		printf("%d vGPU type%s taken away (vGPU journal)\n", vgpus, vgpus == 1 ? "" : "s");
	if (r < 0)
		return cli_lib_error(cli, r, "restore");
	return vgpu_error ? CLI_EXIT_FAILURE : code;
}

const struct cli_command cli_cmd_restore = {
    .name = "restore",
    .summary = "Give devices back to their original drivers (from the journal).",
    .synopsis = "[--owner TEXT] [--reprobe] [--forget-gone] [--timeout MS] "
		"[--lock-timeout SECONDS] [--json] ADDRESS...|--all",
    .help = "For each device (newest first), by what it is on now:\n"
	    "  vfio-pci or no driver: driver_override back to its recorded value, "
	    "unbind\n"
	    "    from vfio-pci, bind the recorded driver (drivers_probe when there "
	    "was\n"
	    "    none), verify: \"restored\", record dropped;\n"
	    "  its recorded driver: \"already\", record dropped;\n"
	    "  another driver: \"other-driver\", left alone and not counted as "
	    "restored,\n"
	    "    record dropped;\n"
	    "  no such device: \"gone\", record kept (--forget-gone drops it).\n"
	    "A record naming vfio-pci is \"refused\" (restore never binds vfio-pci), "
	    "a\n"
	    "failing device \"failed\"; both keep their records and make the exit "
	    "status 1.\n"
	    "Devices bound with --group come back with their whole group. Works "
	    "after a\n"
	    "crash of the process that bound them. One line per device, then the "
	    "counts.\n"
	    "Without --owner, everything hostdev did to the devices is undone: after the\n"
	    "bindings it also takes away the NVIDIA vGPU types libhostdev set on them (all\n"
	    "of them with --all; `hostdev vgpu restore`) and prints \"N vGPU types taken\n"
	    "away\" when there were any.\n"
	    "\n"
	    "Options:\n"
	    "      --all            every device in the journal\n"
	    "      --owner TEXT     with --all: only the records of this owner\n"
	    "      --reprobe        a device on vfio-pci without a journal record: "
	    "clear its\n"
	    "                       driver_override and let the kernel pick a "
	    "driver\n"
	    "      --forget-gone    drop the records of devices that no longer "
	    "exist\n"
	    "      --timeout MS     how long to wait for the kernel (default "
	    "5000)\n"
	    "      --lock-timeout SECONDS  how long to wait for another hostdev "
	    "operation\n"
	    "                       holding the vfio lock (default 60)\n"
	    "      --json           print {\"schema_version\": 1, \"restore\": "
	    "[{\"address\",\n"
	    "                       \"outcome\", \"driver\", \"record_kept\", "
	    "\"message\"}],\n"
	    "                       \"vgpus_restored\": N (without --owner)}\n",
    .run = run,
};
