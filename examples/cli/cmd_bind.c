/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev bind ADDRESS... [--group] [--force] [--dry-run] [--persist] ...`: hand
 * devices to vfio-pci the safe way (driver_override, journal first, IOMMU-group
 * and host-device checks, verified, rolled back on failure), and report each
 * device from the library's result. docs/vfio.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_GROUP = 0x200,
	OPT_FORCE,
	OPT_OWNER,
	OPT_PROTECT,
	OPT_TIMEOUT,
	OPT_LOCK_TIMEOUT,
	OPT_DRY_RUN,
	OPT_PERSIST,
	OPT_JSON,
};

/* --timeout MS: a positive number of milliseconds. */
static bool parse_timeout(const char *text, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!text[0] || text[0] == '-')
		return false;
	v = strtoul(text, &end, 10);
	if (*end || v == 0 || v > 3600000)
		return false;
	*out = (unsigned int)v;
	return true;
}

/* The library's message of entry @i, in the tool's spelling and escaped. */
static void print_message(const hostdev_vfio_result *res, size_t i)
{
	char *spelled = cli_spelling(hostdev_vfio_result_get_message(res, i));

	cli_print_escaped(stdout, spelled ? spelled : hostdev_vfio_result_get_message(res, i));
	free(spelled);
}

/*
 * One line per device of the bind (the named ones, then the group members --group brought
 * along), then the count. From the library's result, not rebuilt from the journal.
 */
static void print_result(struct cli *cli, const hostdev_vfio_result *res, int moved, bool dry_run)
{
	const char *dev = hostdev_ctx_get_path(cli->ctx, HOSTDEV_PATH_DEV);

	for (size_t i = 0; i < hostdev_vfio_result_get_count(res); i++) {
		const char *address = hostdev_vfio_result_get_address(res, i);
		const char *was = hostdev_vfio_result_get_previous_driver(res, i);
		const char *original = hostdev_vfio_result_get_original_driver(res, i);
		int outcome = hostdev_vfio_result_get_outcome(res, i);
		int group = hostdev_vfio_result_get_iommu_group(res, i);

		if (dry_run && outcome == HOSTDEV_VFIO_OUTCOME_WOULD_BIND) {
			printf("%s: IOMMU group %d: ", address, group);
			print_message(res, i);
		} else if (!hostdev_vfio_result_is_requested(res, i)) {
			printf("%s: on vfio-pci with its IOMMU group %d", address, group);
			if (outcome == HOSTDEV_VFIO_OUTCOME_BOUND)
				printf(" (was %s)", was ? was : "unbound");
			else
				printf(", already there");
		} else {
			printf("%s: on vfio-pci, IOMMU group %d (%s/vfio/%d)", address, group, dev,
			       group);
			if (outcome == HOSTDEV_VFIO_OUTCOME_BOUND)
				printf(", was %s", was ? was : "unbound");
			else if (hostdev_vfio_result_has_record(res, i))
				printf(", already there (restore gives it back to %s)",
				       original ? original : "the kernel");
			else
				printf(
				    ", already there (bound outside hostdev: no journal record)");
		}
		putchar('\n');
	}
	if (dry_run)
		printf("dry run: %d device%s would move to vfio-pci; nothing was written\n", moved,
		       moved == 1 ? "" : "s");
	else
		printf("%d device%s moved to vfio-pci%s\n", moved, moved == 1 ? "" : "s",
		       moved == 0 ? " (already there)" : "");
}

static int print_json(struct cli *cli, const hostdev_vfio_result *res, bool dry_run)
{
	cJSON *doc = cli_json_document(), *list;
	char *text = NULL;
	int r, code;

	r = hostdev_vfio_result_to_json(res, 0, &text);
	if (r < 0 || !doc) {
		cJSON_Delete(doc);
		hostdev_free(text);
		return cli_lib_error(cli, r < 0 ? r : -ENOMEM, "bind");
	}
	list = cJSON_Parse(text);
	hostdev_free(text);
	if (!list || !cJSON_AddBoolToObject(doc, "dry_run", dry_run)) {
		cJSON_Delete(list);
		cJSON_Delete(doc);
		return cli_lib_error(cli, -ENOMEM, "bind");
	}
	cJSON_AddItemToObject(doc, "bind", list);
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

/* --persist: the named devices go into the persistent list with the bind's --group/--force. */
static int persist(struct cli *cli, char **addresses, int count, unsigned int flags, bool json)
{
	for (int i = 0; i < count; i++) {
		int r = hostdev_vfio_persist_add(cli->ctx, addresses[i],
						 flags & (HOSTDEV_BIND_GROUP | HOSTDEV_BIND_FORCE));

		if (r < 0)
			return cli_lib_error(cli, r, "bind --persist");
		if (!json)
			printf("%s: %s the persistent list (hostdev apply binds it at boot)\n",
			       addresses[i], r == 1 ? "updated in" : "added to");
	}
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"group", no_argument, NULL, OPT_GROUP},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"owner", required_argument, NULL, OPT_OWNER},
	    {"protect", required_argument, NULL, OPT_PROTECT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"persist", no_argument, NULL, OPT_PERSIST},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_result *res = NULL;
	const char *protect[32];
	unsigned int flags = 0;
	bool persist_too = false, json = false;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_GROUP:
			flags |= HOSTDEV_BIND_GROUP;
			break;
		case OPT_FORCE:
			flags |= HOSTDEV_BIND_FORCE;
			break;
		case OPT_OWNER:
			if (cli_check_owner(cli, optarg) != CLI_EXIT_OK)
				return CLI_EXIT_USAGE;
			opts.owner = optarg;
			break;
		case OPT_PROTECT:
			if (opts.protected_count == sizeof(protect) / sizeof(protect[0]))
				return cli_usage_error(cli, "too many --protect options");
			protect[opts.protected_count++] = optarg;
			opts.protected_addresses = protect;
			break;
		case OPT_TIMEOUT:
			if (!parse_timeout(optarg, &opts.timeout_ms))
				return cli_usage_error(cli,
						       "--timeout: '%s' is not a number of "
						       "milliseconds (1-3600000)",
						       optarg);
			break;
		case OPT_LOCK_TIMEOUT:
			if (!cli_parse_lock_timeout(optarg, &opts.lock_timeout_ms))
				return cli_usage_error(cli,
						       "--lock-timeout: '%s' is not a number of "
						       "seconds (1-86400)",
						       optarg);
			break;
		case OPT_DRY_RUN:
			flags |= HOSTDEV_BIND_DRY_RUN;
			break;
		case OPT_PERSIST:
			persist_too = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		}
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing ADDRESS");
	for (int i = optind; i < argc; i++)
		if (cli_check_address(cli, NULL, argv[i]) != CLI_EXIT_OK)
			return CLI_EXIT_USAGE;
	for (size_t i = 0; i < opts.protected_count; i++)
		if (cli_check_address(cli, "--protect", protect[i]) != CLI_EXIT_OK)
			return CLI_EXIT_USAGE;
	if (persist_too && (flags & HOSTDEV_BIND_DRY_RUN))
		return cli_usage_error(cli, "--persist and --dry-run exclude each other: a dry run "
					    "writes nothing, the persistent list included");
	/* A dry run writes no state, so it may look at a --sysfs tree with this host's journal. */
	if (!(flags & HOSTDEV_BIND_DRY_RUN)) {
		code = cli_require_own_state(cli, persist_too ? "bind --persist" : "bind",
					     persist_too);
		if (code != CLI_EXIT_OK)
			return code;
	}
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_bind_with_result(cli->ctx, (const char *const *)argv + optind,
					  (size_t)(argc - optind), &opts, flags, &res);
	if (r < 0)
		return cli_lib_error(cli, r, "bind");
	if (json)
		code = print_json(cli, res, (flags & HOSTDEV_BIND_DRY_RUN) != 0);
	else
		print_result(cli, res, r, (flags & HOSTDEV_BIND_DRY_RUN) != 0);
	hostdev_vfio_result_unref(res);
	if (code == CLI_EXIT_OK && persist_too)
		code = persist(cli, argv + optind, argc - optind, flags, json);
	return code;
}

const struct cli_command cli_cmd_bind = {
    .name = "bind",
    .summary = "Hand PCI devices to vfio-pci, journaled and verified (undo "
	       "with restore).",
    .synopsis = "[--group] [--force] [--dry-run] [--persist] [--json] [--owner TEXT] "
		"[--protect ADDRESS]... [--timeout MS] [--lock-timeout SECONDS] ADDRESS...",
    .help = "Binds each ADDRESS to vfio-pci: records its driver in the journal\n"
	    "(/var/lib/hostdev/vfio-journal.json) first, then driver_override, "
	    "unbind,\n"
	    "drivers_probe, and waits for the driver link and /dev/vfio/<group>. A "
	    "failure\n"
	    "puts every device back. Devices already on vfio-pci are left alone.\n"
	    "Refused: devices without an IOMMU group (the IOMMU is off), bridges, "
	    "groups\n"
	    "shared with devices on host drivers (without --group), and "
	    "host-critical\n"
	    "devices (default-route NIC, controller of a mounted filesystem; "
	    "without --force),\n"
	    "and mdev parents with active mediated devices (without --force).\n"
	    "\n"
	    "Options:\n"
	    "      --group          also bind the other endpoints of each IOMMU "
	    "group; they\n"
	    "                       are restored together\n"
	    "      --force          bind host-critical devices and mdev parents "
	    "anyway\n"
	    "      --dry-run        run every check and say what would be bound "
	    "and\n"
	    "                       unbound; write nothing (no journal, no sysfs)\n"
	    "      --persist        also add the devices to the persistent list "
	    "(with\n"
	    "                       --group/--force), like driverctl set-override\n"
	    "      --json           print the result per device as JSON\n"
	    "      --owner TEXT     recorded in the journal (restore --all --owner "
	    "TEXT);\n"
	    "                       at most 1023 bytes\n"
	    "      --protect ADDR   refuse ADDR like a host-critical device "
	    "(repeatable)\n"
	    "      --timeout MS     how long to wait for the kernel, per store "
	    "and\n"
	    "                       for the result (default 5000)\n"
	    "      --lock-timeout SECONDS  how long to wait for another hostdev "
	    "operation\n"
	    "                       holding the vfio lock (default 60)\n",
    .run = run,
};
