/* SPDX-License-Identifier: Apache-2.0 */
/* `hostdev list`: one line (or one JSON object) per PCI device, with pciutils-style filters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum filter_kind {
	FILTER_SLOT,
	FILTER_ID,
	FILTER_DRIVER,
	FILTER_CLASS,
};

struct filter {
	enum filter_kind kind;
	const char *spec;
};

/* How a filter is named in error messages and added to the enumerator. */
static const struct {
	const char *option;
	int (*add)(hostdev_pci_enum *e, const char *spec);
} filter_kinds[] = {
    [FILTER_SLOT] = {"-s", hostdev_pci_enum_add_slot_filter},
    [FILTER_ID] = {"-d", hostdev_pci_enum_add_id_filter},
    [FILTER_DRIVER] = {"--driver", hostdev_pci_enum_add_driver_filter},
    [FILTER_CLASS] = {"--class", hostdev_pci_enum_add_class_filter},
};

enum {
	OPT_JSON = 0x200,
	OPT_DRIVER,
	OPT_CLASS,
};

static int add_filters(struct cli *cli, hostdev_pci_enum *e, const struct filter *filters,
		       size_t count)
{
	int r;

	for (size_t i = 0; i < count; i++) {
		r = filter_kinds[filters[i].kind].add(e, filters[i].spec);
		if (r == -EINVAL)
			/* The library's message quotes the filter and names the bad part. */
			return cli_usage_error(cli, "%s: %s", filter_kinds[filters[i].kind].option,
					       hostdev_ctx_get_error(cli->ctx));
		if (r < 0)
			return cli_lib_error(cli, r, filter_kinds[filters[i].kind].option);
	}
	return CLI_EXIT_OK;
}

/* "<lspci line> driver=D iommu_group=G numa_node=N resource=R"; "none" for absent values. */
static void print_device_line(hostdev_pci_device *dev)
{
	const char *driver = hostdev_pci_device_get_driver(dev);
	const char *resource = hostdev_pci_device_get_resource_name(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	int numa = hostdev_pci_device_get_numa_node(dev);

	cli_print_lspci_line(stdout, dev);
	printf(" driver=%s", driver ? driver : "none");
	if (group >= 0)
		printf(" iommu_group=%d", group);
	else
		fputs(" iommu_group=none", stdout);
	if (numa >= 0)
		printf(" numa_node=%d", numa);
	else
		fputs(" numa_node=none", stdout);
	printf(" resource=%s\n", resource ? resource : "none");
}

static int list_devices(struct cli *cli, hostdev_pci_enum *e, bool json)
{
	hostdev_pci_device *dev;
	struct cli_json_list list;
	int code = CLI_EXIT_OK, r;

	if (json && (code = cli_json_list_begin(&list, "devices")) != CLI_EXIT_OK)
		return code;
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		char *text = NULL;

		if (!json) {
			print_device_line(dev);
			hostdev_pci_device_unref(dev);
			continue;
		}
		r = hostdev_pci_device_to_json(dev, 0, &text);
		hostdev_pci_device_unref(dev);
		if (r < 0) {
			code = cli_lib_error(cli, r, NULL);
			break;
		}
		cli_json_list_add(&list, text);
		hostdev_free(text);
	}
	if (r < 0 && code == CLI_EXIT_OK)
		code = cli_lib_error(cli, r, "cannot list PCI devices");
	/* JSON is printed whole or not at all, so that a failure never leaves half a document. */
	if (json) {
		int printed = cli_json_list_finish(&list, code == CLI_EXIT_OK);

		if (code == CLI_EXIT_OK)
			code = printed;
	}
	return code;
}

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"slot", required_argument, NULL, 's'},
	    {"device", required_argument, NULL, 'd'},
	    {"driver", required_argument, NULL, OPT_DRIVER},
	    {"class", required_argument, NULL, OPT_CLASS},
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	hostdev_pci_enum *e = NULL;
	struct filter *filters;
	size_t count = 0;
	bool json = false;
	int c, code, r;

	/* USB devices are listed by cmd_list_usb.c, with their own filters. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--usb") == 0)
			return cli_list_usb(cli, argc, argv);
	/* At most one filter per argument. */
	filters = calloc((size_t)argc, sizeof(*filters));
	if (!filters) {
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	while ((c = cli_getopt(cli, argc, argv, ":s:d:" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case 's':
			filters[count++] = (struct filter){FILTER_SLOT, optarg};
			break;
		case 'd':
			filters[count++] = (struct filter){FILTER_ID, optarg};
			break;
		case OPT_DRIVER:
			filters[count++] = (struct filter){FILTER_DRIVER, optarg};
			break;
		case OPT_CLASS:
			filters[count++] = (struct filter){FILTER_CLASS, optarg};
			break;
		}
	}
	if (c != CLI_GETOPT_END) {
		code = cli_getopt_exit_code(c);
		goto out;
	}
	if (optind < argc) {
		code = cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		goto out;
	r = hostdev_pci_enum_new(cli->ctx, &e);
	if (r < 0) {
		code = cli_lib_error(cli, r, "cannot list PCI devices");
		goto out;
	}
	code = add_filters(cli, e, filters, count);
	if (code == CLI_EXIT_OK)
		code = list_devices(cli, e, json);
out:
	hostdev_pci_enum_unref(e);
	free(filters);
	return code;
}

const struct cli_command cli_cmd_list = {
    .name = "list",
    .summary = "List PCI (or with --usb USB) devices, one line each or as JSON.",
    .synopsis = "[--json] [-s SLOT] [-d VENDOR:DEVICE[:CLASS]] [--driver NAME] [--class HEX]\n"
		"       hostdev list --usb [--json] [-d VENDOR:PRODUCT] [--serial S] [--port PATH] "
		"[--hubs] [--usb-ids FILE]",
    .help = "Each line shows the lspci -nn description of a device followed by its driver,\n"
	    "IOMMU group, NUMA node and pooled resource name (\"none\" when absent).\n"
	    "Filters of different kinds must all match; a filter given several times\n"
	    "matches when any of its values does.\n"
	    "\n"
	    "Options:\n"
	    "  -s, --slot [[DOMAIN:]BUS:][SLOT][.[FUNC]]\n"
	    "                    only devices at this address (lspci -s syntax, hex, * = any)\n"
	    "  -d, --device [VENDOR]:[DEVICE][:CLASS[:PROGIF]]\n"
	    "                    only devices with these ids (lspci -d syntax, hex)\n"
	    "      --driver NAME only devices bound to driver NAME (\"none\": no driver)\n"
	    "      --class HEX   only devices of this class: CC, CCSS or CCSSPP\n"
	    "      --json        print {\"schema_version\": 1, \"devices\": [...]} "
	    "(docs/json-schema.md)\n"
	    "\n"
	    "USB (--usb): one line per device, like lsusb, plus class, speed, interface\n"
	    "drivers, serial and the stable port identity (docs/usb.md). Hubs are left out\n"
	    "unless --hubs is given.\n"
	    "  -d, --device [VENDOR]:[PRODUCT]  only these ids (lsusb -d syntax, hex)\n"
	    "      --serial S    only the device(s) with serial number S\n"
	    "      --port PATH   only the device at port PATH (2-1.4; 2-1.* = below 2-1)\n"
	    "      --hubs        include hubs and root hubs\n"
	    "      --usb-ids FILE  usb.ids database (default /usr/share/misc/usb.ids)\n"
	    "      --json        print {\"schema_version\": 1, \"usb_devices\": [...]}\n",
    .run = run,
};
