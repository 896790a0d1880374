/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev mdev types [PARENT] [--json]`, `hostdev mdev list [--json]`,
 * `hostdev mdev create PARENT TYPE [--uuid UUID] [--timeout S]`,
 * `hostdev mdev remove UUID [--timeout S]`: mediated devices (docs/sriov-mdev.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
	OPT_UUID,
	OPT_TIMEOUT,
	OPT_PERSIST,
};

static const char *or_none(const char *s)
{
	return s ? s : "none";
}

static int out_of_memory(cJSON *doc)
{
	cJSON_Delete(doc);
	cli_error("out of memory");
	return CLI_EXIT_FAILURE;
}

static int types(struct cli *cli, const char *parent, bool json)
{
	hostdev_mdev_types *t = NULL;
	cJSON *doc = NULL, *arr = NULL;
	size_t n;
	int r, code = CLI_EXIT_OK;

	r = hostdev_mdev_types_read(cli->ctx, parent, &t);
	if (r < 0)
		return cli_lib_error(cli, r, "mdev types");
	n = hostdev_mdev_types_get_count(t);
	if (json) {
		doc = cli_json_document();
		arr = doc ? cJSON_AddArrayToObject(doc, "mdev_types") : NULL;
		for (size_t i = 0; arr && i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			int avail = hostdev_mdev_types_get_available(t, i);

			if (!o || !cJSON_AddItemToArray(arr, o) ||
			    !cli_json_add_string(o, "parent",
						 hostdev_mdev_types_get_parent(t, i)) ||
			    !cJSON_AddBoolToObject(o, "pci_parent",
						   hostdev_mdev_types_is_pci_parent(t, i)) ||
			    !cli_json_add_string(o, "type", hostdev_mdev_types_get_type(t, i)) ||
			    !cli_json_add_string(o, "name", hostdev_mdev_types_get_name(t, i)) ||
			    !cli_json_add_string(o, "selector",
						 hostdev_mdev_types_get_selector(t, i)) ||
			    !(avail >= 0 ? cJSON_AddNumberToObject(o, "available_instances", avail)
					 : cJSON_AddNullToObject(o, "available_instances")) ||
			    !cli_json_add_string(o, "device_api",
						 hostdev_mdev_types_get_device_api(t, i)) ||
			    !cli_json_add_string(o, "description",
						 hostdev_mdev_types_get_description(t, i)))
				arr = NULL;
		}
		hostdev_mdev_types_unref(t);
		if (!arr)
			return out_of_memory(doc);
		code = cli_json_print(doc);
		cJSON_Delete(doc);
		return code;
	}
	if (n == 0) {
		puts(parent ? "no mdev types"
			    : "no mdev parents (no device offers mediated devices)");
	} else {
		printf("%-14s %-14s %-9s %-10s %s\n", "PARENT", "TYPE", "AVAILABLE", "API",
		       "NAME (KUBEVIRT SELECTOR)");
		for (size_t i = 0; i < n; i++) {
			int avail = hostdev_mdev_types_get_available(t, i);
			char abuf[16];

			snprintf(abuf, sizeof(abuf), "%d", avail);
			printf("%-14s %-14s %-9s %-10s %s (%s)\n",
			       hostdev_mdev_types_get_parent(t, i),
			       hostdev_mdev_types_get_type(t, i), avail >= 0 ? abuf : "?",
			       or_none(hostdev_mdev_types_get_device_api(t, i)),
			       or_none(hostdev_mdev_types_get_name(t, i)),
			       hostdev_mdev_types_get_selector(t, i));
		}
	}
	hostdev_mdev_types_unref(t);
	return code;
}

static int list(struct cli *cli, bool json)
{
	hostdev_mdev_list *l = NULL;
	cJSON *doc = NULL, *arr = NULL;
	size_t n;
	int r, code;

	r = hostdev_mdev_list_read(cli->ctx, &l);
	if (r < 0)
		return cli_lib_error(cli, r, "mdev list");
	n = hostdev_mdev_list_get_count(l);
	if (!json) {
		if (n == 0)
			puts("no mediated devices");
		else
			printf("%-36s %-14s %-14s %-6s %-12s %s\n", "UUID", "PARENT", "TYPE",
			       "GROUP", "DRIVER", "NAME");
		for (size_t i = 0; i < n; i++) {
			int group = hostdev_mdev_list_get_iommu_group(l, i);
			char gbuf[16];

			snprintf(gbuf, sizeof(gbuf), "%d", group);
			printf(
			    "%-36s %-14s %-14s %-6s %-12s %s\n", hostdev_mdev_list_get_uuid(l, i),
			    or_none(hostdev_mdev_list_get_parent(l, i)),
			    or_none(hostdev_mdev_list_get_type(l, i)), group >= 0 ? gbuf : "none",
			    or_none(hostdev_mdev_list_get_driver(l, i)),
			    or_none(hostdev_mdev_list_get_type_name(l, i)));
		}
		hostdev_mdev_list_unref(l);
		return CLI_EXIT_OK;
	}
	doc = cli_json_document();
	arr = doc ? cJSON_AddArrayToObject(doc, "mdevs") : NULL;
	for (size_t i = 0; arr && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		int group = hostdev_mdev_list_get_iommu_group(l, i);

		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cli_json_add_string(o, "uuid", hostdev_mdev_list_get_uuid(l, i)) ||
		    !cli_json_add_string(o, "parent", hostdev_mdev_list_get_parent(l, i)) ||
		    !cli_json_add_string(o, "type", hostdev_mdev_list_get_type(l, i)) ||
		    !cli_json_add_string(o, "type_name", hostdev_mdev_list_get_type_name(l, i)) ||
		    !cli_json_add_string(o, "selector", hostdev_mdev_list_get_selector(l, i)) ||
		    !(group >= 0 ? cJSON_AddNumberToObject(o, "iommu_group", group)
				 : cJSON_AddNullToObject(o, "iommu_group")) ||
		    !cli_json_add_string(o, "driver", hostdev_mdev_list_get_driver(l, i)))
			arr = NULL;
	}
	hostdev_mdev_list_unref(l);
	if (!arr)
		return out_of_memory(doc);
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

/*
 * create --persist: record the new mdev for `hostdev apply`. On stderr, so that stdout stays the
 * UUID alone. The mdev is kept when recording fails (the error says so).
 */
static int persist_mdev(struct cli *cli, const char *parent, const char *type, const char *uuid)
{
	int r = hostdev_vfio_persist_add_mdev(cli->ctx, parent, type, uuid);

	if (r < 0) {
		cli_lib_error(cli, r, "mdev create --persist");
		cli_error(
		    "mdev %s was created but is not in the persistent list: retry with `hostdev "
		    "persist add-mdev %s %s %s`",
		    uuid, parent, type, uuid);
		return CLI_EXIT_FAILURE;
	}
	fprintf(stderr,
		"hostdev: mdev %s: %s the persistent list (hostdev apply recreates it at boot)\n",
		uuid, r == 1 ? "updated in" : "added to");
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"uuid", required_argument, NULL, OPT_UUID},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"persist", no_argument, NULL, OPT_PERSIST},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_mdev_options opts = HOSTDEV_MDEV_OPTIONS_INIT;
	const char *uuid = NULL, *action;
	char *created = NULL;
	bool json = false, persist = false;
	int c, code, r, nargs;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_UUID:
			uuid = optarg;
			break;
		case OPT_PERSIST:
			persist = true;
			break;
		case OPT_TIMEOUT:
			if (!cli_parse_seconds(optarg, 3600, &opts.timeout_ms))
				return cli_usage_error(cli,
						       "--timeout: '%s' is not a number of "
						       "seconds (1-3600)",
						       optarg);
			break;
		}
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing action: types, list, create or remove");
	action = argv[optind++];
	nargs = argc - optind;
	if (strcmp(action, "types") == 0) {
		if (nargs > 1)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	} else if (strcmp(action, "list") == 0) {
		if (nargs > 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	} else if (strcmp(action, "create") == 0) {
		if (nargs != 2)
			return cli_usage_error(cli, "create needs PARENT and TYPE");
	} else if (strcmp(action, "remove") == 0) {
		if (nargs != 1)
			return cli_usage_error(cli, "remove needs one UUID");
	} else {
		return cli_usage_error(cli,
				       "unknown action '%s': expected types, list, create or "
				       "remove",
				       action);
	}
	if (uuid && strcmp(action, "create") != 0)
		return cli_usage_error(cli, "--uuid is for create");
	if (json && (strcmp(action, "create") == 0 || strcmp(action, "remove") == 0))
		return cli_usage_error(cli, "--json is for types and list");
	if (persist && strcmp(action, "create") != 0 && strcmp(action, "remove") != 0)
		return cli_usage_error(cli, "--persist is for create and remove");
	if (persist && (code = cli_require_own_state(cli, "mdev --persist", true)) != CLI_EXIT_OK)
		return code;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	if (strcmp(action, "types") == 0)
		return types(cli, nargs ? argv[optind] : NULL, json);
	if (strcmp(action, "list") == 0)
		return list(cli, json);
	if (strcmp(action, "create") == 0) {
		r = hostdev_mdev_create(cli->ctx, argv[optind], argv[optind + 1], uuid, &opts, 0,
					&created);
		if (r < 0)
			return cli_lib_error(cli, r, "mdev create");
		/* The UUID alone, so that `uuid=$(hostdev mdev create ...)` works. */
		printf("%s\n", created);
		code = persist ? persist_mdev(cli, argv[optind], argv[optind + 1], created)
			       : CLI_EXIT_OK;
		hostdev_free(created);
		return code;
	}
	r = hostdev_mdev_remove(cli->ctx, argv[optind], &opts, 0);
	if (r < 0)
		return cli_lib_error(cli, r, "mdev remove");
	printf("%s: removed\n", argv[optind]);
	if (persist) {
		r = hostdev_vfio_persist_remove_mdev(cli->ctx, argv[optind]);
		if (r < 0 && r != -ENOENT)
			return cli_lib_error(cli, r, "mdev remove --persist");
		printf("%s: %s\n", argv[optind],
		       r == 0 ? "removed from the persistent list"
			      : "was not in the persistent list");
	}
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_mdev = {
    .name = "mdev",
    .summary = "List mediated device types and mdevs, create and remove mdevs.",
    .synopsis = "types [PARENT] [--json] | list [--json] | create PARENT TYPE [--uuid UUID] "
		"[--timeout S] [--persist] | remove UUID [--timeout S] [--persist]",
    .help = "PARENT is a PCI address (vGPU cards) or a device name of /sys/class/mdev_bus\n"
	    "(e.g. mtty); TYPE is a type id as `mdev types` lists it (nvidia-222, mtty-2).\n"
	    "\n"
	    "  types [PARENT]   the types every parent (or PARENT) offers: available\n"
	    "                   instances, device API, name and KubeVirt's mdevNameSelector\n"
	    "                   form of the name (spaces replaced by '_')\n"
	    "  list             the mdevs that exist: UUID, parent, type, IOMMU group, driver\n"
	    "  create PARENT TYPE\n"
	    "                   create an mdev (a random UUID unless --uuid); prints the UUID\n"
	    "  remove UUID      remove an mdev\n"
	    "\n"
	    "Options:\n"
	    "      --uuid UUID      the UUID of the new mdev\n"
	    "      --timeout S      how long the kernel may take to create or remove (default\n"
	    "                       30); a write still running then is reported, and the kernel\n"
	    "                       may still complete it\n"
	    "      --persist        create: also record the mdev (parent, type, UUID) in the\n"
	    "                       persistent list, so that hostdev apply recreates it at\n"
	    "                       boot; remove: also drop it from that list\n"
	    "      --json           types: {\"schema_version\": 1, \"mdev_types\": [...]},\n"
	    "                       list: {\"schema_version\": 1, \"mdevs\": [...]}\n",
    .run = run,
};
