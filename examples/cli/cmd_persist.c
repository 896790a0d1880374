/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev persist add|remove|list|modprobe`: the declarative list of devices
 * that `hostdev apply` binds at boot (/etc/hostdev/vfio-devices.json), and its
 * modprobe.d alternative. docs/vfio.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openshift.h"

enum {
	OPT_GROUP = 0x200,
	OPT_FORCE,
	OPT_JSON,
};

static int list(struct cli *cli, bool json)
{
	hostdev_vfio_persist *p = NULL;
	int r = hostdev_vfio_persist_read(cli->ctx, &p), code = CLI_EXIT_OK;
	size_t n;

	if (r < 0)
		return cli_lib_error(cli, r, "persist list");
	n = hostdev_vfio_persist_get_count(p);
	if (json) {
		cJSON *doc = cli_json_document(), *devices;

		if (!doc ||
		    !cJSON_AddStringToObject(doc, "path", hostdev_vfio_persist_get_path(p)) ||
		    !(devices = cJSON_AddArrayToObject(doc, "devices"))) {
			cJSON_Delete(doc);
			hostdev_vfio_persist_unref(p);
			return cli_lib_error(cli, -ENOMEM, "persist list");
		}
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			unsigned int flags = hostdev_vfio_persist_get_flags(p, i);
			char id[16];

			snprintf(id, sizeof(id), "%04x:%04x",
				 hostdev_vfio_persist_get_vendor_id(p, i),
				 hostdev_vfio_persist_get_device_id(p, i));
			cJSON_AddItemToArray(devices, o);
			cJSON_AddStringToObject(o, "address",
						hostdev_vfio_persist_get_address(p, i));
			cJSON_AddStringToObject(o, "id", id);
			cJSON_AddBoolToObject(o, "group", (flags & HOSTDEV_BIND_GROUP) != 0);
			cJSON_AddBoolToObject(o, "force", (flags & HOSTDEV_BIND_FORCE) != 0);
		}
		code = cli_json_print(doc);
		cJSON_Delete(doc);
	} else if (n == 0) {
		printf("no devices listed (%s)\n", hostdev_vfio_persist_get_path(p));
	} else {
		for (size_t i = 0; i < n; i++) {
			unsigned int flags = hostdev_vfio_persist_get_flags(p, i);

			printf("%s  %04x:%04x%s%s\n", hostdev_vfio_persist_get_address(p, i),
			       hostdev_vfio_persist_get_vendor_id(p, i),
			       hostdev_vfio_persist_get_device_id(p, i),
			       flags & HOSTDEV_BIND_GROUP ? "  --group" : "",
			       flags & HOSTDEV_BIND_FORCE ? "  --force" : "");
		}
	}
	hostdev_vfio_persist_unref(p);
	return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"group", no_argument, NULL, OPT_GROUP},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	unsigned int flags = 0;
	bool json = false;
	const char *action;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		if (c == OPT_GROUP)
			flags |= HOSTDEV_BIND_GROUP;
		else if (c == OPT_FORCE)
			flags |= HOSTDEV_BIND_FORCE;
		else if (c == OPT_JSON)
			json = true;
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing action: add, remove, list or modprobe");
	action = argv[optind++];
	if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0 &&
	    strcmp(action, "list") != 0 && strcmp(action, "modprobe") != 0)
		return cli_usage_error(cli, "unknown action '%s': add, remove, list or modprobe",
				       action);
	if ((strcmp(action, "add") == 0 || strcmp(action, "remove") == 0) && optind >= argc)
		return cli_usage_error(cli, "%s: missing ADDRESS", action);
	if ((strcmp(action, "list") == 0 || strcmp(action, "modprobe") == 0) && optind < argc)
		return cli_usage_error(cli, "%s: unexpected argument '%s'", action, argv[optind]);
	if (flags && strcmp(action, "add") != 0)
		return cli_usage_error(cli, "--group and --force only apply to add");
	if (json && strcmp(action, "list") != 0)
		return cli_usage_error(cli, "--json only applies to list");
	if (strcmp(action, "add") == 0 || strcmp(action, "remove") == 0) {
		code = cli_require_own_state(
		    cli, strcmp(action, "add") == 0 ? "persist add" : "persist remove", true);
		if (code != CLI_EXIT_OK)
			return code;
	}
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	if (strcmp(action, "list") == 0)
		return list(cli, json);
	if (strcmp(action, "modprobe") == 0) {
		char *conf = NULL;

		code = cli_modprobe_conf(cli, &conf);
		if (code == CLI_EXIT_OK)
			fputs(conf, stdout);
		hostdev_free(conf);
		return code;
	}
	for (int i = optind; i < argc; i++) {
		if (strcmp(action, "add") == 0)
			r = hostdev_vfio_persist_add(cli->ctx, argv[i], flags);
		else
			r = hostdev_vfio_persist_remove(cli->ctx, argv[i]);
		if (r < 0)
			return cli_lib_error(cli, r, action);
		printf("%s: %s\n", argv[i],
		       strcmp(action, "remove") == 0 ? "removed"
		       : r == 1			     ? "already listed (updated)"
						     : "added");
	}
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_persist = {
    .name = "persist",
    .summary = "Edit the list of devices `hostdev apply` binds at boot.",
    .synopsis = "add [--group] [--force] ADDRESS... | remove ADDRESS... | list "
		"[--json] | modprobe",
    .help = "The list lives in /etc/hostdev/vfio-devices.json and records each "
	    "device's\n"
	    "vendor:device ids: apply refuses a different card found at a "
	    "listed address.\n"
	    "\n"
	    "Actions:\n"
	    "  add ADDRESS...      add (or update) devices; --group and "
	    "--force are stored\n"
	    "                      and used by apply\n"
	    "  remove ADDRESS...   remove devices from the list\n"
	    "  list [--json]       show the list\n"
	    "  modprobe            print an /etc/modprobe.d/vfio.conf for the "
	    "listed ids and\n"
	    "                      those of their IOMMU group members, with "
	    "softdeps that load\n"
	    "                      vfio-pci before the host drivers (boot-time "
	    "alternative;\n"
	    "                      vfio-pci then claims EVERY device with those "
	    "ids, and the\n"
	    "                      output names the others)\n",
    .run = run,
};
