/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev sriov ADDRESS [--json]`: an SR-IOV PF and its VFs.
 * `hostdev sriov ADDRESS --vfs N [--no-autoprobe|--autoprobe] [--timeout S] [--force]`: set the
 * number of VFs with the kernel's rules, then show the result (docs/sriov-mdev.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
	OPT_VFS,
	OPT_NO_AUTOPROBE,
	OPT_AUTOPROBE,
	OPT_TIMEOUT,
	OPT_FORCE,
	OPT_LOCK_TIMEOUT,
	OPT_PERSIST,
};

/* A non-negative decimal number up to @max. */
static bool parse_number(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!text[0] || text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

static const char *or_none(const char *s)
{
	return s ? s : "none";
}

static void print_pf(struct cli *cli, hostdev_sriov_pf *pf)
{
	hostdev_pci_device *dev = NULL;
	size_t count = hostdev_sriov_pf_get_vf_count(pf);
	int autoprobe = hostdev_sriov_pf_get_autoprobe(pf);

	if (hostdev_pci_device_new(cli->ctx, hostdev_sriov_pf_get_address(pf), &dev) == 0) {
		cli_print_lspci_line(stdout, dev);
		putchar('\n');
		hostdev_pci_device_unref(dev);
	} else {
		printf("%s\n", hostdev_sriov_pf_get_address(pf));
	}
	printf("  %-22s%s\n", "Driver:", or_none(hostdev_sriov_pf_get_driver(pf)));
	printf("  %-22s%u of %u enabled\n", "VFs:", hostdev_sriov_pf_get_num_vfs(pf),
	       hostdev_sriov_pf_get_total_vfs(pf));
	if (hostdev_sriov_pf_get_vf_device_id(pf))
		printf("  %-22s%04x\n", "VF device id:", hostdev_sriov_pf_get_vf_device_id(pf));
	else
		printf("  %-22s%s\n", "VF device id:", "unknown");
	printf("  %-22soffset %u, stride %u\n", "VF routing ID:", hostdev_sriov_pf_get_offset(pf),
	       hostdev_sriov_pf_get_stride(pf));
	printf("  %-22s%s\n", "Driver autoprobe:",
	       autoprobe < 0 ? "unknown"
	       : autoprobe   ? "on (new VFs get their driver)"
			     : "off (new VFs stay driverless)");
	if (!count)
		return;
	printf("  %-4s %-13s %-12s %-6s %-16s %s\n", "VF", "ADDRESS", "DRIVER", "GROUP", "NETDEV",
	       "MAC");
	for (size_t i = 0; i < count; i++) {
		int group = hostdev_sriov_pf_get_vf_iommu_group(pf, i);
		char gbuf[16];

		snprintf(gbuf, sizeof(gbuf), "%d", group);
		printf("  %-4d %-13s %-12s %-6s %-16s %s\n", hostdev_sriov_pf_get_vf_index(pf, i),
		       hostdev_sriov_pf_get_vf_address(pf, i),
		       or_none(hostdev_sriov_pf_get_vf_driver(pf, i)), group >= 0 ? gbuf : "none",
		       or_none(hostdev_sriov_pf_get_vf_netdev(pf, i)),
		       or_none(hostdev_sriov_pf_get_vf_mac(pf, i)));
	}
}

static cJSON *pf_json(hostdev_sriov_pf *pf)
{
	cJSON *o = cJSON_CreateObject(), *vfs;
	char hex[8];
	int autoprobe = hostdev_sriov_pf_get_autoprobe(pf);
	bool ok;

	if (!o)
		return NULL;
	snprintf(hex, sizeof(hex), "%04x", hostdev_sriov_pf_get_vf_device_id(pf));
	ok = cli_json_add_string(o, "address", hostdev_sriov_pf_get_address(pf)) &&
	     cli_json_add_string(o, "driver", hostdev_sriov_pf_get_driver(pf)) &&
	     cJSON_AddNumberToObject(o, "total_vfs", hostdev_sriov_pf_get_total_vfs(pf)) &&
	     cJSON_AddNumberToObject(o, "num_vfs", hostdev_sriov_pf_get_num_vfs(pf)) &&
	     cli_json_add_string(o, "vf_device_id",
				 hostdev_sriov_pf_get_vf_device_id(pf) ? hex : NULL) &&
	     cJSON_AddNumberToObject(o, "offset", hostdev_sriov_pf_get_offset(pf)) &&
	     cJSON_AddNumberToObject(o, "stride", hostdev_sriov_pf_get_stride(pf)) &&
	     (autoprobe < 0 ? cJSON_AddNullToObject(o, "autoprobe")
			    : cJSON_AddBoolToObject(o, "autoprobe", autoprobe)) != NULL;
	vfs = ok ? cJSON_AddArrayToObject(o, "vfs") : NULL;
	for (size_t i = 0; vfs && i < hostdev_sriov_pf_get_vf_count(pf); i++) {
		cJSON *vf = cJSON_CreateObject();
		int group = hostdev_sriov_pf_get_vf_iommu_group(pf, i);

		if (!vf || !cJSON_AddItemToArray(vfs, vf) ||
		    !cJSON_AddNumberToObject(vf, "index", hostdev_sriov_pf_get_vf_index(pf, i)) ||
		    !cli_json_add_string(vf, "address", hostdev_sriov_pf_get_vf_address(pf, i)) ||
		    !cli_json_add_string(vf, "driver", hostdev_sriov_pf_get_vf_driver(pf, i)) ||
		    !(group >= 0 ? cJSON_AddNumberToObject(vf, "iommu_group", group)
				 : cJSON_AddNullToObject(vf, "iommu_group")) ||
		    !cli_json_add_string(vf, "netdev", hostdev_sriov_pf_get_vf_netdev(pf, i)) ||
		    !cli_json_add_string(vf, "mac", hostdev_sriov_pf_get_vf_mac(pf, i))) {
			vfs = NULL;
			break;
		}
	}
	if (!vfs) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int show(struct cli *cli, const char *address, bool json)
{
	hostdev_sriov_pf *pf = NULL;
	cJSON *doc, *item;
	int r, code;

	r = hostdev_sriov_pf_new(cli->ctx, address, &pf);
	if (r < 0)
		return cli_lib_error(cli, r, address);
	if (!json) {
		print_pf(cli, pf);
		hostdev_sriov_pf_unref(pf);
		return CLI_EXIT_OK;
	}
	doc = cli_json_document();
	item = doc ? pf_json(pf) : NULL;
	hostdev_sriov_pf_unref(pf);
	if (!item || !cJSON_AddItemToObject(doc, "sriov", item)) {
		cJSON_Delete(item);
		cJSON_Delete(doc);
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
}

/*
 * --persist after the count was set: record it for `hostdev apply` (0 forgets the entry: every boot
 * starts without VFs). The confirmation goes to stderr with --json, which keeps stdout one document.
 */
static int persist_count(struct cli *cli, const char *address, unsigned int vfs,
			 unsigned int autoprobe, bool json, int code)
{
	FILE *out = json ? stderr : stdout;
	int r;

	if (vfs == 0) {
		r = hostdev_vfio_persist_remove_vfs(cli->ctx, address);
		if (r == -ENOENT) {
			fprintf(out, "%s: no VF count was in the persistent list\n", address);
			return code;
		}
	} else {
		r = hostdev_vfio_persist_add_vfs(cli->ctx, address, vfs, autoprobe);
	}
	if (r < 0)
		return cli_lib_error(cli, r, "sriov --persist");
	if (vfs == 0)
		fprintf(out, "%s: VF count removed from the persistent list\n", address);
	else
		fprintf(out,
			"%s: %u VFs %s the persistent list (hostdev apply creates them at boot)\n",
			address, vfs, r == 1 ? "updated in" : "added to");
	return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"vfs", required_argument, NULL, OPT_VFS},
	    {"no-autoprobe", no_argument, NULL, OPT_NO_AUTOPROBE},
	    {"autoprobe", no_argument, NULL, OPT_AUTOPROBE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	    {"persist", no_argument, NULL, OPT_PERSIST},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_sriov_options opts = HOSTDEV_SRIOV_OPTIONS_INIT;
	unsigned long vfs = 0, seconds;
	unsigned int flags = 0;
	bool json = false, set = false, persist = false;
	const char *address;
	int c, code, r;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_VFS:
			if (!parse_number(optarg, 0xffff, &vfs))
				return cli_usage_error(cli,
						       "--vfs: '%s' is not a number of VFs "
						       "(0-65535)",
						       optarg);
			set = true;
			break;
		case OPT_NO_AUTOPROBE:
			opts.autoprobe = HOSTDEV_SRIOV_AUTOPROBE_OFF;
			break;
		case OPT_AUTOPROBE:
			opts.autoprobe = HOSTDEV_SRIOV_AUTOPROBE_ON;
			break;
		case OPT_TIMEOUT:
			if (!parse_number(optarg, 3600, &seconds) || seconds == 0)
				return cli_usage_error(cli,
						       "--timeout: '%s' is not a number of "
						       "seconds (1-3600)",
						       optarg);
			opts.timeout_ms = (unsigned int)seconds * 1000;
			break;
		case OPT_FORCE:
			flags |= HOSTDEV_SRIOV_FORCE;
			break;
		case OPT_PERSIST:
			persist = true;
			break;
		case OPT_LOCK_TIMEOUT:
			if (!cli_parse_lock_timeout(optarg, &opts.lock_timeout_ms))
				return cli_usage_error(cli,
						       "--lock-timeout: '%s' is not a number of "
						       "seconds (1-86400)",
						       optarg);
			break;
		}
	}
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing ADDRESS");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
	address = argv[optind];
	if (cli_check_address(cli, NULL, address) != CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	if (!set && (flags || opts.autoprobe || opts.timeout_ms || opts.lock_timeout_ms || persist))
		return cli_usage_error(cli,
				       "--no-autoprobe, --autoprobe, --timeout, --lock-timeout, "
				       "--force and --persist need --vfs N");
	if (set) {
		/* A count change reads (and with --force edits) the vfio journal. */
		code = cli_require_own_state(cli, "sriov --vfs", persist);
		if (code != CLI_EXIT_OK)
			return code;
	}
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	if (!set)
		return show(cli, address, json);
	r = hostdev_sriov_set_num_vfs(cli->ctx, address, (unsigned int)vfs, &opts, flags);
	if (r < 0)
		return cli_lib_error(cli, r, "sriov");
	if (!json) {
		printf("%d VF%s enabled\n", r, r == 1 ? "" : "s");
		code = show(cli, address, false);
	} else {
		code = show(cli, address, true);
	}
	if ((unsigned long)r < vfs) {
		cli_error("%s: %lu VFs requested, the PF driver enabled only %d (dmesg says why)%s",
			  address, vfs, r, persist ? "; the persistent list was not changed" : "");
		code = CLI_EXIT_FAILURE;
	} else if (persist) {
		code = persist_count(cli, address, (unsigned int)vfs, opts.autoprobe, json, code);
	}
	return code;
}

const struct cli_command cli_cmd_sriov = {
    .name = "sriov",
    .summary = "Show an SR-IOV PF and its VFs, or set the number of VFs.",
    .synopsis = "ADDRESS [--json]\n"
		"       hostdev sriov ADDRESS --vfs N [--no-autoprobe|--autoprobe] [--timeout S] "
		"[--lock-timeout S] [--force] [--persist] [--json]",
    .help = "Without --vfs: the PF's driver, VF count and total, VF device id, routing\n"
	    "offset and stride, driver autoprobe, and per VF its index, address, driver,\n"
	    "IOMMU group, network interface and MAC.\n"
	    "With --vfs N: set the number of VFs the kernel's way (0 first when VFs exist,\n"
	    "then N; checked against sriov_totalvfs; waits for the VF links), then show the\n"
	    "PF. Refused while a VF that would go away is on vfio-pci or in the vfio\n"
	    "journal (handed to a VM), unless --force. Exit 1 when the driver enabled\n"
	    "fewer VFs than asked.\n"
	    "\n"
	    "Options:\n"
	    "      --vfs N          the number of VFs wanted (0 removes them all)\n"
	    "      --no-autoprobe   new VFs stay driverless (sriov_drivers_autoprobe=0), ready\n"
	    "                       for hostdev bind\n"
	    "      --autoprobe      new VFs get their driver (sriov_drivers_autoprobe=1)\n"
	    "      --timeout S      how long one sysfs write and the VF links may take\n"
	    "                       (default 120); a write still running then is reported,\n"
	    "                       and the kernel may still complete it\n"
	    "      --lock-timeout S how long to wait for another hostdev operation holding\n"
	    "                       the vfio lock (default 60)\n"
	    "      --force          change the count even though VFs are handed to VMs\n"
	    "      --persist        also record the count (and the autoprobe choice) in the\n"
	    "                       persistent list: hostdev apply recreates the VFs at boot,\n"
	    "                       before it binds listed devices; --vfs 0 --persist forgets\n"
	    "                       the entry\n"
	    "      --json           print {\"schema_version\": 1, \"sriov\": {...}}\n",
    .run = run,
};
