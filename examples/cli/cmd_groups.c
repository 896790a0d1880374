/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev groups [--json]`: the IOMMU groups and their devices, the view of the common ls-iommu
 * script: which devices go to a VM together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_JSON = 0x200,
};

struct grouped {
	hostdev_pci_device **devs;
	size_t count;
};

/* By group number, devices without a group last; then by address (the enumeration's order). */
static int compare_group(const void *a, const void *b)
{
	hostdev_pci_device *x = *(hostdev_pci_device *const *)a;
	hostdev_pci_device *y = *(hostdev_pci_device *const *)b;
	unsigned int gx = (unsigned int)hostdev_pci_device_get_iommu_group(x);
	unsigned int gy = (unsigned int)hostdev_pci_device_get_iommu_group(y);

	if (gx != gy)
		return gx < gy ? -1 : 1; /* -1 becomes UINT_MAX: no group sorts last */
	return strcmp(hostdev_pci_device_get_address(x), hostdev_pci_device_get_address(y));
}

static int collect(struct cli *cli, struct grouped *g)
{
	hostdev_pci_enum *e;
	hostdev_pci_device *dev;
	int r = hostdev_pci_enum_new(cli->ctx, &e);

	if (r < 0)
		return cli_lib_error(cli, r, "cannot list PCI devices");
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		hostdev_pci_device **grown = realloc(g->devs, (g->count + 1) * sizeof(*grown));

		if (!grown) {
			hostdev_pci_device_unref(dev);
			r = -ENOMEM;
			break;
		}
		g->devs = grown;
		g->devs[g->count++] = dev;
	}
	hostdev_pci_enum_unref(e);
	if (r < 0)
		return cli_lib_error(cli, r, "cannot list PCI devices");
	qsort(g->devs, g->count, sizeof(*g->devs), compare_group);
	return CLI_EXIT_OK;
}

static void print_text(const struct grouped *g)
{
	int current = -2;

	for (size_t i = 0; i < g->count; i++) {
		hostdev_pci_device *dev = g->devs[i];
		int group = hostdev_pci_device_get_iommu_group(dev);
		const char *driver = hostdev_pci_device_get_driver(dev);

		if (group != current) {
			if (group >= 0)
				printf("IOMMU group %d:\n", group);
			else
				puts("No IOMMU group:");
			current = group;
		}
		putchar('\t');
		cli_print_lspci_line(stdout, dev);
		printf(" driver=%s\n", driver ? driver : "none");
	}
}

/* {"schema_version": 1, "iommu_groups": [{"group": N, "devices": [address...]}],
 *  "ungrouped": [address...]} */
static int print_json(struct cli *cli, const struct grouped *g)
{
	cJSON *doc = cli_json_document(), *groups = NULL, *ungrouped = NULL, *members = NULL;
	int current = -2, code;

	if (doc) {
		groups = cJSON_AddArrayToObject(doc, "iommu_groups");
		ungrouped = cJSON_AddArrayToObject(doc, "ungrouped");
	}
	for (size_t i = 0; groups && ungrouped && i < g->count; i++) {
		int group = hostdev_pci_device_get_iommu_group(g->devs[i]);
		cJSON *address = cJSON_CreateString(hostdev_pci_device_get_address(g->devs[i]));

		if (!address)
			goto oom;
		if (group < 0) {
			cJSON_AddItemToArray(ungrouped, address);
			continue;
		}
		if (group != current) {
			cJSON *o = cJSON_CreateObject();

			if (!o) {
				cJSON_Delete(address);
				goto oom;
			}
			cJSON_AddItemToArray(groups, o);
			if (!cJSON_AddNumberToObject(o, "group", group) ||
			    !(members = cJSON_AddArrayToObject(o, "devices"))) {
				cJSON_Delete(address);
				goto oom;
			}
			current = group;
		}
		cJSON_AddItemToArray(members, address);
	}
	if (!groups || !ungrouped)
		goto oom;
	code = cli_json_print(doc);
	cJSON_Delete(doc);
	return code;
oom:
	cJSON_Delete(doc);
	return cli_lib_error(cli, -ENOMEM, "groups");
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct grouped g = {0};
	bool json = false;
	int c, code;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0)
		if (c == OPT_JSON)
			json = true;
	if (c != CLI_GETOPT_END)
		return cli_getopt_exit_code(c);
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	code = cli_open_ctx(cli);
	if (code == CLI_EXIT_OK)
		code = collect(cli, &g);
	if (code == CLI_EXIT_OK) {
		if (json)
			code = print_json(cli, &g);
		else
			print_text(&g);
	}
	for (size_t i = 0; i < g.count; i++)
		hostdev_pci_device_unref(g.devs[i]);
	free(g.devs);
	return code;
}

const struct cli_command cli_cmd_groups = {
    .name = "groups",
    .summary = "List the IOMMU groups and their devices (like the ls-iommu script).",
    .synopsis = "[--json]",
    .help = "One \"IOMMU group N:\" line per group in number order, then its devices, one\n"
	    "tab-indented lspci -nn line each with its driver; devices without a group\n"
	    "last, under \"No IOMMU group:\". A group goes to a VM whole (bind --group).\n"
	    "\n"
	    "Options:\n"
	    "      --json        print {\"schema_version\": 1, \"iommu_groups\": [{\"group\": N,\n"
	    "                    \"devices\": [ADDRESS...]}], \"ungrouped\": [ADDRESS...]}\n",
    .run = run,
};
