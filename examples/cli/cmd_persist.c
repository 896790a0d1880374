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

#define ACTIONS                                                                                    \
	"add, remove, list, modprobe, add-vfs, remove-vfs, add-mdev, remove-mdev, add-vgpu or "    \
	"remove-vgpu"

enum {
	OPT_GROUP = 0x200,
	OPT_FORCE,
	OPT_JSON,
	OPT_NO_AUTOPROBE,
	OPT_AUTOPROBE,
};

/* The actions that take operands, with how many. */
static const struct {
	const char *name;
	int nargs; /* -1: one or more */
	const char *operands;
} edits[] = {
    {"add", -1, "ADDRESS"},
    {"remove", -1, "ADDRESS"},
    {"add-vfs", 2, "PF N"},
    {"remove-vfs", 1, "PF"},
    {"add-mdev", 3, "PARENT TYPE UUID"},
    {"remove-mdev", 1, "UUID"},
    {"add-vgpu", 2, "VF TYPE"},
    {"remove-vgpu", 1, "VF"},
};

static const char *const autoprobe_words[] = {
    [HOSTDEV_SRIOV_AUTOPROBE_KEEP] = "keep",
    [HOSTDEV_SRIOV_AUTOPROBE_OFF] = "off",
    [HOSTDEV_SRIOV_AUTOPROBE_ON] = "on",
};

static const char *autoprobe_word(unsigned int autoprobe)
{
	return autoprobe < sizeof(autoprobe_words) / sizeof(*autoprobe_words)
		   ? autoprobe_words[autoprobe]
		   : "keep";
}

/* "vfs", "vgpus" and "mdevs" of `persist list --json`. False when out of memory. */
static bool add_extras_json(cJSON *doc, const hostdev_vfio_persist *p)
{
	cJSON *vfs = cJSON_AddArrayToObject(doc, "vfs"),
	      *vgpus = cJSON_AddArrayToObject(doc, "vgpus"),
	      *mdevs = cJSON_AddArrayToObject(doc, "mdevs");

	if (!vfs || !vgpus || !mdevs)
		return false;
	for (size_t i = 0; i < hostdev_vfio_persist_get_vfs_count(p); i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(vfs, o) ||
		    !cJSON_AddStringToObject(o, "pf", hostdev_vfio_persist_get_vfs_pf(p, i)) ||
		    !cJSON_AddNumberToObject(o, "num_vfs",
					     hostdev_vfio_persist_get_vfs_num(p, i)) ||
		    !cJSON_AddStringToObject(
			o, "autoprobe",
			autoprobe_word(hostdev_vfio_persist_get_vfs_autoprobe(p, i))))
			return false;
	}
	for (size_t i = 0; i < hostdev_vfio_persist_get_vgpu_count(p); i++) {
		cJSON *o = cJSON_CreateObject();
		const char *name = hostdev_vfio_persist_get_vgpu_name(p, i);

		if (!o || !cJSON_AddItemToArray(vgpus, o) ||
		    !cJSON_AddStringToObject(o, "vf", hostdev_vfio_persist_get_vgpu_vf(p, i)) ||
		    !cJSON_AddNumberToObject(o, "type", hostdev_vfio_persist_get_vgpu_type(p, i)) ||
		    !(name ? cJSON_AddStringToObject(o, "name", name)
			   : cJSON_AddNullToObject(o, "name")))
			return false;
	}
	for (size_t i = 0; i < hostdev_vfio_persist_get_mdev_count(p); i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(mdevs, o) ||
		    !cJSON_AddStringToObject(o, "uuid", hostdev_vfio_persist_get_mdev_uuid(p, i)) ||
		    !cJSON_AddStringToObject(o, "parent",
					     hostdev_vfio_persist_get_mdev_parent(p, i)) ||
		    !cJSON_AddStringToObject(o, "type", hostdev_vfio_persist_get_mdev_type(p, i)))
			return false;
	}
	return true;
}

/*
 * The VF counts, vGPU types and mdevs before the device lines. Their lines
 * start with a word, not an address, so `persist list | grep ^0000:` still picks the devices.
 */
static void print_extras(const hostdev_vfio_persist *p)
{
	for (size_t i = 0; i < hostdev_vfio_persist_get_vfs_count(p); i++)
		printf("vfs %s  %u VFs  autoprobe=%s\n", hostdev_vfio_persist_get_vfs_pf(p, i),
		       hostdev_vfio_persist_get_vfs_num(p, i),
		       autoprobe_word(hostdev_vfio_persist_get_vfs_autoprobe(p, i)));
	for (size_t i = 0; i < hostdev_vfio_persist_get_vgpu_count(p); i++) {
		const char *name = hostdev_vfio_persist_get_vgpu_name(p, i);

		printf("vgpu %s  %u%s%s%s\n", hostdev_vfio_persist_get_vgpu_vf(p, i),
		       hostdev_vfio_persist_get_vgpu_type(p, i), name ? " (" : "", name ? name : "",
		       name ? ")" : "");
	}
	for (size_t i = 0; i < hostdev_vfio_persist_get_mdev_count(p); i++)
		printf("mdev %s  %s  %s\n", hostdev_vfio_persist_get_mdev_uuid(p, i),
		       hostdev_vfio_persist_get_mdev_parent(p, i),
		       hostdev_vfio_persist_get_mdev_type(p, i));
}

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
		if (!add_extras_json(doc, p)) {
			cJSON_Delete(doc);
			hostdev_vfio_persist_unref(p);
			return cli_lib_error(cli, -ENOMEM, "persist list");
		}
		code = cli_json_print(doc);
		cJSON_Delete(doc);
	} else if (n == 0 && !hostdev_vfio_persist_get_vfs_count(p) &&
		   !hostdev_vfio_persist_get_mdev_count(p) &&
		   !hostdev_vfio_persist_get_vgpu_count(p)) {
		printf("no devices listed (%s)\n", hostdev_vfio_persist_get_path(p));
	} else {
		print_extras(p);
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

/*
 * add-vfs PF N, remove-vfs PF, add-mdev PARENT TYPE UUID, remove-mdev UUID, add-vgpu VF TYPE,
 * remove-vgpu VF.
 */
static int edit_extras(struct cli *cli, const char *action, char **args, int nargs,
		       unsigned int autoprobe)
{
	unsigned long n = 0;
	char *end = NULL;
	int r;

	if (strcmp(action, "add-vfs") == 0) {
		if (args[1][0] >= '0' && args[1][0] <= '9')
			n = strtoul(args[1], &end, 10);
		if (!end || *end || n > 0xffff)
			return cli_usage_error(
			    cli, "add-vfs: '%s' is not a number of VFs (1-65535)", args[1]);
		r = hostdev_vfio_persist_add_vfs(cli->ctx, args[0], (unsigned int)n, autoprobe);
	} else if (strcmp(action, "remove-vfs") == 0) {
		r = hostdev_vfio_persist_remove_vfs(cli->ctx, args[0]);
	} else if (strcmp(action, "add-mdev") == 0) {
		r = hostdev_vfio_persist_add_mdev(cli->ctx, args[0], args[1], args[2]);
	} else if (strcmp(action, "add-vgpu") == 0) {
		if (args[1][0] >= '1' && args[1][0] <= '9')
			n = strtoul(args[1], &end, 10);
		if (!end || *end || n > 0xffffffffUL)
			return cli_usage_error(
			    cli,
			    "add-vgpu: TYPE '%s' is not a vGPU type id: write the "
			    "number `hostdev vgpu list` shows, e.g. 1303",
			    args[1]);
		r = hostdev_vfio_persist_add_vgpu(cli->ctx, args[0], (unsigned int)n);
	} else if (strcmp(action, "remove-vgpu") == 0) {
		r = hostdev_vfio_persist_remove_vgpu(cli->ctx, args[0]);
	} else {
		r = hostdev_vfio_persist_remove_mdev(cli->ctx, args[0]);
	}
	if (r < 0)
		return cli_lib_error(cli, r, action);
	printf("%s: %s\n", args[nargs == 3 ? 2 : 0],
	       strncmp(action, "remove", 6) == 0 ? "removed"
	       : r == 1				 ? "already listed (updated)"
						 : "added");
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"group", no_argument, NULL, OPT_GROUP},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"no-autoprobe", no_argument, NULL, OPT_NO_AUTOPROBE},
	    {"autoprobe", no_argument, NULL, OPT_AUTOPROBE},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	unsigned int flags = 0, autoprobe = HOSTDEV_SRIOV_AUTOPROBE_KEEP;
	bool json = false;
	const char *action;
	int c, code, r, edit = -1;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		if (c == OPT_GROUP)
			flags |= HOSTDEV_BIND_GROUP;
		else if (c == OPT_FORCE)
			flags |= HOSTDEV_BIND_FORCE;
		else if (c == OPT_JSON)
			json = true;
		else if (c == OPT_NO_AUTOPROBE)
			autoprobe = HOSTDEV_SRIOV_AUTOPROBE_OFF;
		else if (c == OPT_AUTOPROBE)
			autoprobe = HOSTDEV_SRIOV_AUTOPROBE_ON;
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing action: " ACTIONS);
	action = argv[optind++];
	for (size_t i = 0; i < sizeof(edits) / sizeof(*edits); i++)
		if (strcmp(action, edits[i].name) == 0)
			edit = (int)i;
	if (edit < 0 && strcmp(action, "list") != 0 && strcmp(action, "modprobe") != 0)
		return cli_usage_error(cli, "unknown action '%s': " ACTIONS, action);
	if (edit >= 0 &&
	    (edits[edit].nargs < 0 ? optind >= argc : argc - optind != edits[edit].nargs))
		return cli_usage_error(cli, "%s needs %s%s", action, edits[edit].operands,
				       edits[edit].nargs < 0 ? "..." : "");
	if (edit < 0 && optind < argc)
		return cli_usage_error(cli, "%s: unexpected argument '%s'", action, argv[optind]);
	if (autoprobe != HOSTDEV_SRIOV_AUTOPROBE_KEEP && strcmp(action, "add-vfs") != 0)
		return cli_usage_error(cli, "--no-autoprobe and --autoprobe only apply to add-vfs");
	if (flags && strcmp(action, "add") != 0)
		return cli_usage_error(cli, "--group and --force only apply to add");
	if (json && strcmp(action, "list") != 0)
		return cli_usage_error(cli, "--json only applies to list");
	if (edit >= 0) {
		char what[32];

		snprintf(what, sizeof(what), "persist %s", action);
		code = cli_require_own_state(cli, what, true);
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
	if (edits[edit].nargs > 0)
		return edit_extras(cli, action, argv + optind, edits[edit].nargs, autoprobe);
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
    .summary = "Edit what `hostdev apply` restores at boot: devices, VF counts, mdevs.",
    .synopsis = "add [--group] [--force] ADDRESS... | remove ADDRESS... | list "
		"[--json] | modprobe\n"
		"       hostdev persist add-vfs [--no-autoprobe|--autoprobe] PF N | remove-vfs PF\n"
		"       hostdev persist add-mdev PARENT TYPE UUID | remove-mdev UUID\n"
		"       hostdev persist add-vgpu VF TYPE | remove-vgpu VF",
    .help = "The list lives in /etc/hostdev/vfio-devices.json and records each "
	    "device's\n"
	    "vendor:device ids: apply refuses a different card found at a "
	    "listed address.\n"
	    "It also keeps what else a reboot loses: VF counts, vGPU types and mdevs. apply\n"
	    "restores them in order: VFs, vGPU types, the listed bindings, then the mdevs.\n"
	    "\n"
	    "Actions:\n"
	    "  add ADDRESS...      add (or update) devices; --group and "
	    "--force are stored\n"
	    "                      and used by apply\n"
	    "  remove ADDRESS...   remove devices from the list\n"
	    "  add-vfs PF N        keep N VFs on PF (`hostdev sriov PF --vfs N --persist`\n"
	    "                      sets and records them); --no-autoprobe/--autoprobe as sriov\n"
	    "  remove-vfs PF       forget the VF count of PF\n"
	    "  add-mdev PARENT TYPE UUID\n"
	    "                      keep this mdev (`hostdev mdev create --persist` creates\n"
	    "                      and records one)\n"
	    "  remove-mdev UUID    forget an mdev\n"
	    "  add-vgpu VF TYPE    keep NVIDIA vGPU type TYPE on VF (`hostdev vgpu set VF\n"
	    "                      TYPE --persist` sets and records it); the VF must hold\n"
	    "                      TYPE or be able to take it now\n"
	    "  remove-vgpu VF      forget the vGPU type of VF\n"
	    "  list [--json]       show the list: `vfs`, `vgpu` and `mdev` lines, then the\n"
	    "                      devices\n"
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
