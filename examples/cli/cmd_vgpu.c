/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev vgpu list [ADDRESS] [--json]`, `hostdev vgpu set VF TYPE`, `hostdev vgpu clear VF`,
 * `hostdev vgpu restore [VF]`: NVIDIA vGPU types of a GPU's VFs on kernels without mdev
 * (docs/vgpu.md). set/clear --persist also edit the persistent list that `hostdev apply` restores.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
	OPT_TIMEOUT,
	OPT_LOCK_TIMEOUT,
	OPT_PERSIST,
};

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static void print_list(const hostdev_vgpu_list *l)
{
	size_t n = hostdev_vgpu_list_get_count(l);

	if (n == 0) {
		puts("no vGPU-capable VFs (no VF has nvidia/current_vgpu_type)");
		return;
	}
	printf("%-14s %-14s %-8s %-6s %-24s %s\n", "VF", "GPU", "DRIVER", "GROUP", "TYPE",
	       "CREATABLE");
	for (size_t i = 0; i < n; i++) {
		unsigned int cur = hostdev_vgpu_list_get_current_type(l, i);
		const char *name = hostdev_vgpu_list_get_current_name(l, i);
		int group = hostdev_vgpu_list_get_iommu_group(l, i);
		size_t types = hostdev_vgpu_list_get_type_count(l, i);
		char tbuf[160], gbuf[16];

		if (!cur)
			snprintf(tbuf, sizeof(tbuf), "none");
		else
			snprintf(tbuf, sizeof(tbuf), "%u %s%s%s", cur, name ? "(" : "",
				 name ? name : "", name ? ")" : "");
		snprintf(gbuf, sizeof(gbuf), "%d", group);
		printf("%-14s %-14s %-8s %-6s %-24s ", hostdev_vgpu_list_get_address(l, i),
		       or_dash(hostdev_vgpu_list_get_pf(l, i)),
		       or_dash(hostdev_vgpu_list_get_driver(l, i)), group >= 0 ? gbuf : "none",
		       tbuf);
		for (size_t k = 0; k < types; k++)
			printf("%s%u (%s)", k ? ", " : "", hostdev_vgpu_list_get_type_id(l, i, k),
			       hostdev_vgpu_list_get_type_name(l, i, k));
		puts(types ? (hostdev_vgpu_list_is_journaled(l, i) ? " [journaled]" : "")
			   : (hostdev_vgpu_list_is_journaled(l, i) ? "none [journaled]" : "none"));
	}
}

static int list(struct cli *cli, const char *address, bool json)
{
	hostdev_vgpu_list *l = NULL;
	cJSON *doc, *vfs;
	char *text = NULL;
	int r, code;

	r = hostdev_vgpu_read(cli->ctx, address, &l);
	if (r < 0)
		return cli_lib_error(cli, r, "vgpu list");
	if (!json) {
		print_list(l);
		hostdev_vgpu_list_unref(l);
		return CLI_EXIT_OK;
	}
	r = hostdev_vgpu_list_to_json(l, 0, &text);
	hostdev_vgpu_list_unref(l);
	doc = cli_json_document();
	vfs = r == 0 ? cJSON_Parse(text) : NULL;
	hostdev_free(text);
	if (!doc || !vfs) {
		cJSON_Delete(doc);
		cJSON_Delete(vfs);
		return cli_lib_error(cli, r < 0 ? r : -ENOMEM, "vgpu list");
	}
	cJSON_AddItemToObject(doc, "vgpus", vfs);
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

/* The PF of @vf when the persistent list does not keep its VF count, else NULL (malloc'ed). */
static char *pf_without_count(struct cli *cli, const char *vf)
{
	hostdev_vfio_persist *p = NULL;
	hostdev_vgpu_list *l = NULL;
	char *pf = NULL;

	if (hostdev_vfio_persist_read(cli->ctx, &p) == 0 &&
	    hostdev_vgpu_read(cli->ctx, vf, &l) == 0 && hostdev_vgpu_list_get_count(l) == 1 &&
	    hostdev_vgpu_list_get_pf(l, 0)) {
		bool kept = false;

		for (size_t i = 0; i < hostdev_vfio_persist_get_vfs_count(p); i++)
			kept |= strcmp(hostdev_vfio_persist_get_vfs_pf(p, i),
				       hostdev_vgpu_list_get_pf(l, 0)) == 0;
		if (!kept)
			pf = strdup(hostdev_vgpu_list_get_pf(l, 0));
	}
	hostdev_vgpu_list_unref(l);
	hostdev_vfio_persist_unref(p);
	return pf;
}

/*
 * set --persist after the type was set: record it for `hostdev apply`. On stderr, so that stdout
 * stays what set prints without it. The type stays set when recording fails (the error says so).
 */
static int persist_type(struct cli *cli, const char *vf, unsigned int type)
{
	int r = hostdev_vfio_persist_add_vgpu(cli->ctx, vf, type);
	char *pf;

	if (r < 0) {
		cli_lib_error(cli, r, "vgpu set --persist");
		cli_error("%s holds vGPU type %u but it is not in the persistent list: retry with "
			  "`hostdev persist add-vgpu %s %u`",
			  vf, type, vf, type);
		return CLI_EXIT_FAILURE;
	}
	fprintf(
	    stderr,
	    "hostdev: %s: vGPU type %u %s the persistent list (hostdev apply sets it at boot)\n",
	    vf, type, r == 1 ? "updated in" : "added to");
	/* Without the VF count the VF does not exist at boot, and apply could only report it. */
	pf = pf_without_count(cli, vf);
	if (pf)
		fprintf(stderr,
			"hostdev: note: the persistent list does not keep the VF count of its GPU "
			"%s, so the VF will not exist at boot: keep it with `hostdev sriov %s "
			"--vfs N --persist`\n",
			pf, pf);
	free(pf);
	return CLI_EXIT_OK;
}

/* A type id operand: a decimal number > 0. */
static bool parse_type(const char *text, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!text[0] || text[0] < '0' || text[0] > '9')
		return false;
	v = strtoul(text, &end, 10);
	if (*end || v == 0 || v > 0xffffffffUL)
		return false;
	*out = (unsigned int)v;
	return true;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	    {"persist", no_argument, NULL, OPT_PERSIST},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_vgpu_options opts = HOSTDEV_VGPU_OPTIONS_INIT;
	const char *action, *vf = NULL;
	unsigned int type = 0;
	bool json = false, timeouts = false, persist = false;
	int c, code, r, nargs;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_TIMEOUT:
			timeouts = true;
			if (!cli_parse_seconds(optarg, 3600, &opts.timeout_ms))
				return cli_usage_error(cli,
						       "--timeout: '%s' is not a number of "
						       "seconds (1-3600)",
						       optarg);
			break;
		case OPT_LOCK_TIMEOUT:
			timeouts = true;
			if (!cli_parse_lock_timeout(optarg, &opts.lock_timeout_ms))
				return cli_usage_error(cli,
						       "--lock-timeout: '%s' is not a number of "
						       "seconds (1-86400)",
						       optarg);
			break;
		case OPT_PERSIST:
			persist = true;
			break;
		}
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing action: list, set, clear or restore");
	action = argv[optind++];
	nargs = argc - optind;
	if (strcmp(action, "list") == 0) {
		if (nargs > 1)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	} else if (strcmp(action, "set") == 0) {
		if (nargs != 2)
			return cli_usage_error(cli, "set needs VF and TYPE");
		if (!parse_type(argv[optind + 1], &type))
			return cli_usage_error(cli,
					       "TYPE '%s' is not a vGPU type id: write the number "
					       "`hostdev vgpu list` shows, e.g. 1303",
					       argv[optind + 1]);
	} else if (strcmp(action, "clear") == 0) {
		if (nargs != 1)
			return cli_usage_error(cli, "clear needs one VF");
	} else if (strcmp(action, "restore") == 0) {
		if (nargs > 1)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	} else {
		return cli_usage_error(
		    cli, "unknown action '%s': expected list, set, clear or restore", action);
	}
	vf = nargs ? argv[optind] : NULL;
	if (vf && cli_check_address(cli, NULL, vf) != CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	if (json && strcmp(action, "list") != 0)
		return cli_usage_error(cli, "--json is for list");
	if (timeouts && strcmp(action, "list") == 0)
		return cli_usage_error(cli, "--timeout and --lock-timeout are for set, clear and "
					    "restore");
	if (persist && strcmp(action, "set") != 0 && strcmp(action, "clear") != 0)
		return cli_usage_error(cli, "--persist is for set and clear");
	if (strcmp(action, "list") != 0 &&
	    (code = cli_require_own_state(cli, persist ? "vgpu --persist" : "vgpu", persist)) !=
		CLI_EXIT_OK)
		return code;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	if (strcmp(action, "list") == 0)
		return list(cli, vf, json);
	if (strcmp(action, "set") == 0) {
		r = hostdev_vgpu_set_type(cli->ctx, vf, type, &opts, 0);
		if (r < 0)
			return cli_lib_error(cli, r, "vgpu set");
		printf("%s: %s vGPU type %u\n", vf, r ? "now holds" : "already holds", type);
		return persist ? persist_type(cli, vf, type) : CLI_EXIT_OK;
	}
	if (strcmp(action, "clear") == 0) {
		r = hostdev_vgpu_clear_type(cli->ctx, vf, &opts, 0);
		if (r < 0)
			return cli_lib_error(cli, r, "vgpu clear");
		printf("%s: %s\n", vf, r ? "vGPU type cleared" : "held no vGPU type");
		if (persist) {
			r = hostdev_vfio_persist_remove_vgpu(cli->ctx, vf);
			if (r < 0 && r != -ENOENT)
				return cli_lib_error(cli, r, "vgpu clear --persist");
			printf("%s: %s\n", vf,
			       r == 0 ? "removed from the persistent list"
				      : "had no vGPU type in the persistent list");
		}
		return CLI_EXIT_OK;
	}
	r = hostdev_vgpu_restore(cli->ctx, vf, &opts, 0);
	if (r < 0)
		return cli_lib_error(cli, r, "vgpu restore");
	printf("%d VF%s put back\n", r, r == 1 ? "" : "s");
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_vgpu = {
    .name = "vgpu",
    .summary = "List, set and clear NVIDIA vGPU types of a GPU's VFs (no mdev).",
    .synopsis = "list [ADDRESS] [--json] | set VF TYPE [--persist] [--timeout S] "
		"[--lock-timeout S] | clear VF [--persist] [--timeout S] [--lock-timeout S] | "
		"restore [VF] [--timeout S] [--lock-timeout S]",
    .help = "On kernels >= 6.8 with NVIDIA's vendor-specific VFIO driver a vGPU is an SR-IOV\n"
	    "VF of the GPU that holds a vGPU type (nvidia/current_vgpu_type); the VF stays on\n"
	    "the nvidia driver and is passed through as it is. TYPE is a type id as `vgpu\n"
	    "list` shows it; what a GPU can create shrinks as types are set.\n"
	    "\n"
	    "  list [ADDRESS]   every vGPU-capable VF (or those of the GPU ADDRESS, or the VF\n"
	    "                   ADDRESS): GPU, driver, IOMMU group, the type it holds and the\n"
	    "                   types it can take now\n"
	    "  set VF TYPE      give the VF the type (journaled first, so that `vgpu restore`\n"
	    "                   takes it away again, also after a crash)\n"
	    "  clear VF         take the VF's type away (refused while a VM holds the VF)\n"
	    "  restore [VF]     take away the types libhostdev set (the vGPU journal), newest\n"
	    "                   first; a VF whose type someone else changed is left alone\n"
	    "                   (`hostdev restore --all` does this too)\n"
	    "\n"
	    "A VF that holds a type is never bound to vfio-pci (`hostdev bind` refuses it);\n"
	    "`hostdev serve` serves it on the nvidia driver (docs/vgpu.md).\n"
	    "\n"
	    "Options:\n"
	    "      --timeout S      how long the driver may take to store the type (default 30);\n"
	    "                       a store still running then is reported, and the driver may\n"
	    "                       still complete it (its journal record is kept)\n"
	    "      --lock-timeout S how long to wait for another hostdev operation holding the\n"
	    "                       vfio lock (default 60)\n"
	    "      --persist        set: also record the type in the persistent list, so that\n"
	    "                       `hostdev apply` sets it again at boot (after the GPU's VF\n"
	    "                       count: `hostdev sriov PF --vfs N --persist`); clear: also\n"
	    "                       forget it there\n"
	    "      --json           list: {\"schema_version\": 1, \"vgpus\": [...]}\n",
    .run = run,
};
