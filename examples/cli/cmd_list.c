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

/*
 * "<lspci line> driver=D iommu_group=G numa_node=N resource=R"; "none" for absent values. Lines are
 * gathered in @out and written in blocks (stdout is line-buffered: a printf() per field and a
 * write(2) per line were most of the listing's own cost).
 */
static void put_device_line(struct cli_text *out, hostdev_pci_device *dev)
{
	const char *driver = hostdev_pci_device_get_driver(dev);
	const char *resource = hostdev_pci_device_get_resource_name(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	int numa = hostdev_pci_device_get_numa_node(dev);

	cli_text_lspci_line(out, dev);
	cli_text_put(out, " driver=", 8);
	cli_text_puts(out, driver ? driver : "none");
	cli_text_put(out, " iommu_group=", 13);
	if (group >= 0)
		cli_text_int(out, group);
	else
		cli_text_put(out, "none", 4);
	cli_text_put(out, " numa_node=", 11);
	if (numa >= 0)
		cli_text_int(out, numa);
	else
		cli_text_put(out, "none", 4);
	cli_text_put(out, " resource=", 10);
	cli_text_puts(out, resource ? resource : "none");
	cli_text_put(out, "\n", 1);
}

/* Lines gathered before a write: whole lines, few system calls, memory that does not grow. */
#define LINES_FLUSH 65536

/* The devices of a text listing, kept until the end so that VFs can follow their PF. */
struct device_list {
	hostdev_pci_device **devs;
	size_t count, capacity;
	size_t *by_address; /* indexes of devs sorted by address text, for the PF -> VF lookups */
	bool *grouped;	    /* devs[i] is printed under its PF */
};

static int device_list_add(struct device_list *l, hostdev_pci_device *dev)
{
	if (l->count == l->capacity) {
		size_t cap = l->capacity ? l->capacity * 2 : 64;
		hostdev_pci_device **n = realloc(l->devs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->devs = n;
		l->capacity = cap;
	}
	l->devs[l->count++] = dev;
	return 0;
}

static void device_list_clear(struct device_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		hostdev_pci_device_unref(l->devs[i]);
	free(l->devs);
	free(l->by_address);
	free(l->grouped);
}

/* qsort_r/bsearch without context: the list being sorted or searched. */
static struct device_list *sorting;

static int compare_index(const void *a, const void *b)
{
	return strcmp(hostdev_pci_device_get_address(sorting->devs[*(const size_t *)a]),
		      hostdev_pci_device_get_address(sorting->devs[*(const size_t *)b]));
}

static int compare_key(const void *key, const void *item)
{
	return strcmp(key, hostdev_pci_device_get_address(sorting->devs[*(const size_t *)item]));
}

/* Index in devs of the device at @address, -1 when it is not listed. */
static ssize_t device_list_find(struct device_list *l, const char *address)
{
	size_t *found;

	if (!address)
		return -1;
	sorting = l;
	found = bsearch(address, l->by_address, l->count, sizeof(*l->by_address), compare_key);
	return found ? (ssize_t)*found : -1;
}

/* Whether by_address is already in address order (the enumerator's order): no sort needed. */
static bool sorted_by_address(struct device_list *l)
{
	for (size_t i = 1; i < l->count; i++)
		if (strcmp(hostdev_pci_device_get_address(l->devs[l->by_address[i - 1]]),
			   hostdev_pci_device_get_address(l->devs[l->by_address[i]])) > 0)
			return false;
	return true;
}

/*
 * Print in address order, except that the VFs of a listed PF follow it in VF order (a VF whose PF
 * is not listed keeps its place). Without memory for the index: plain address order. Returns
 * CLI_EXIT_OK or CLI_EXIT_FAILURE after printing the error (out of memory; a write error is left
 * to main()'s check of stdout).
 */
static int print_grouped(struct device_list *l)
{
	size_t n = l->count ? l->count : 1;
	struct cli_text out = {0};
	int code = CLI_EXIT_OK;

	l->by_address = malloc(n * sizeof(*l->by_address));
	l->grouped = calloc(n, sizeof(*l->grouped));
	if (l->by_address && l->grouped) {
		for (size_t i = 0; i < l->count; i++)
			l->by_address[i] = i;
		sorting = l;
		if (!sorted_by_address(l))
			qsort(l->by_address, l->count, sizeof(*l->by_address), compare_index);
		for (size_t i = 0; i < l->count; i++) {
			size_t nvfs = hostdev_pci_device_get_vf_count(l->devs[i]);

			for (size_t v = 0; v < nvfs; v++) {
				ssize_t j = device_list_find(
				    l, hostdev_pci_device_get_vf_address(l->devs[i], v));

				if (j >= 0 && (size_t)j != i)
					l->grouped[j] = true;
			}
		}
	} else {
		free(l->by_address);
		free(l->grouped);
		l->by_address = NULL;
		l->grouped = NULL;
	}
	for (size_t i = 0; i < l->count && !out.oom; i++) {
		hostdev_pci_device *dev = l->devs[i];
		size_t nvfs = l->grouped ? hostdev_pci_device_get_vf_count(dev) : 0;

		if (l->grouped && l->grouped[i])
			continue;
		put_device_line(&out, dev);
		for (size_t v = 0; v < nvfs; v++) {
			ssize_t j = device_list_find(l, hostdev_pci_device_get_vf_address(dev, v));

			/* Not indented: every line starts with its address (grep, cut). */
			if (j >= 0 && l->grouped[j])
				put_device_line(&out, l->devs[j]);
		}
		if (out.length >= LINES_FLUSH && !cli_text_write(&out, stdout))
			break; /* main() reports the write error */
	}
	if (out.oom) {
		cli_error("out of memory");
		code = CLI_EXIT_FAILURE;
	} else {
		cli_text_write(&out, stdout);
	}
	cli_text_free(&out);
	return code;
}

static int list_devices(struct cli *cli, hostdev_pci_enum *e, bool json,
			const struct cli_lspci *lspci)
{
	hostdev_pci_device *dev;
	struct cli_json_list list;
	struct device_list lines = {0};
	int code = CLI_EXIT_OK, r;

	if (json && (code = cli_json_list_begin(&list, "devices")) != CLI_EXIT_OK)
		return code;
	while ((r = hostdev_pci_enum_next(e, &dev)) > 0) {
		char *text = NULL;

		if (!json) {
			if (device_list_add(&lines, dev) < 0) {
				hostdev_pci_device_unref(dev);
				cli_error("out of memory");
				code = CLI_EXIT_FAILURE;
				break;
			}
			continue;
		}
		/* Indented for its place in the document: "devices" is at depth 1. */
		r = hostdev_pci_device_to_json_nested(dev, HOSTDEV_JSON_INDENT, 2, &text);
		hostdev_pci_device_unref(dev);
		if (r < 0) {
			code = cli_lib_error(cli, r, NULL);
			break;
		}
		code = cli_json_list_add(&list, text);
		hostdev_free(text);
		if (code != CLI_EXIT_OK)
			break;
	}
	if (!json) {
		if (lspci && code == CLI_EXIT_OK)
			cli_lspci_print(lspci, lines.devs, lines.count);
		else if (code == CLI_EXIT_OK)
			code = print_grouped(&lines);
		device_list_clear(&lines);
	}
	if (r < 0 && code == CLI_EXIT_OK)
		code = cli_lib_error(cli, r, "cannot list PCI devices");
	/* Streamed: after a failure the document stays unterminated (cli.h, docs/cli.md). */
	if (json) {
		int printed = cli_json_list_finish(&list, code == CLI_EXIT_OK);

		if (code == CLI_EXIT_OK)
			code = printed;
	}
	return code;
}

/* -t: the tree of every device of the host. */
static int list_tree(struct cli *cli, const struct cli_lspci *lspci)
{
	hostdev_pci_enum *all = NULL;
	hostdev_pci_device *dev;
	struct device_list devs = {0};
	int code, r;

	r = hostdev_pci_enum_new(cli->ctx, &all);
	while (r >= 0 && (r = hostdev_pci_enum_next(all, &dev)) > 0)
		if (device_list_add(&devs, dev) < 0) {
			hostdev_pci_device_unref(dev);
			r = -ENOMEM;
		}
	if (r < 0)
		code = cli_lib_error(cli, r, "cannot list PCI devices");
	else
		code = cli_lspci_print_tree(lspci, devs.devs, devs.count);
	device_list_clear(&devs);
	hostdev_pci_enum_unref(all);
	return code;
}

/* Whether any PCI device of the host is outside domain 0 (lspci's rule for showing domains). */
static bool any_other_domain(struct cli *cli)
{
	hostdev_pci_enum *all;
	hostdev_pci_device *dev;
	bool found = false;

	if (hostdev_pci_enum_new(cli->ctx, &all) < 0)
		return false; /* the listing reports the error */
	while (!found && hostdev_pci_enum_next(all, &dev) > 0) {
		found = strncmp(hostdev_pci_device_get_address(dev), "0000:", 5) != 0;
		hostdev_pci_device_unref(dev);
	}
	hostdev_pci_enum_unref(all);
	return found;
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
	struct cli_lspci lspci = {0};
	size_t count = 0;
	bool json = false, lspci_mode = false;
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
	/* -v is lspci's verbosity here; logging is --debug / --log-level. */
	cli->local_v = true;
	while ((c = cli_getopt(cli, argc, argv, ":s:d:nkDmvt" CLI_GLOBAL_SHORT_OPTIONS, options)) >=
	       0) {
		lspci_mode |= c == 'n' || c == 'k' || c == 'D' || c == 'm' || c == 'v' || c == 't';
		switch (c) {
		case 't':
			lspci.tree = true;
			break;
		case 'n':
			lspci.numeric = lspci.numeric < 2 ? lspci.numeric + 1 : 2;
			break;
		case 'k':
			lspci.kernel = true;
			break;
		case 'D':
			lspci.domains = true;
			break;
		case 'm':
			lspci.machine++;
			break;
		case 'v':
			lspci.verbose++;
			break;
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
	if (lspci_mode && json) {
		code = cli_usage_error(cli, "--json prints every field already: it takes none of "
					    "-n, -k, -D, -v, -m, -t");
		goto out;
	}
	/* The filtered trees of lspci differ between pciutils releases: no filter with -t. */
	if (lspci.tree && count) {
		code = cli_usage_error(cli, "-t draws the whole tree: it takes no filter (-s, -d, "
					    "--driver, --class); use them without -t");
		goto out;
	}
	/* lspci -t draws the tree whatever else is asked (-k, -m and -D change nothing there). */
	if (!lspci.tree && lspci.machine && (lspci.machine < 2 || !lspci.verbose)) {
		code = cli_usage_error(cli, "-m: only lspci's -vmm form is supported (tag: value "
					    "records); use --json for a machine-readable list");
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
	if (lspci_mode && !lspci.domains)
		lspci.other_domains = any_other_domain(cli);
	code = add_filters(cli, e, filters, count);
	if (code == CLI_EXIT_OK && lspci.tree)
		code = list_tree(cli, &lspci);
	else if (code == CLI_EXIT_OK)
		code = list_devices(cli, e, json, lspci_mode ? &lspci : NULL);
out:
	hostdev_pci_enum_unref(e);
	free(filters);
	return code;
}

const struct cli_command cli_cmd_list = {
    .name = "list",
    .summary = "List PCI (or with --usb USB) devices, one line each or as JSON.",
    .synopsis = "[--json | -n | -nn | -k | -D | -v | -vv | -vmm] [-s SLOT] "
		"[-d VENDOR:DEVICE[:CLASS]] [--driver NAME] [--class HEX]\n"
		"       hostdev list -t [-v] [-n | -nn]\n"
		"       hostdev list --usb [--json] [-d VENDOR:PRODUCT] [--serial S] [--port PATH] "
		"[--hubs] [--usb-ids FILE]",
    .help = "Each line shows the lspci -nn -D description of a device followed by its\n"
	    "driver, IOMMU group, NUMA node and pooled resource name (\"none\" when absent).\n"
	    "The VFs of an SR-IOV PF follow it in VF order; every line starts with its address.\n"
	    "lspci's output options print lspci's shapes instead (address order):\n"
	    "  -n / -nn          numbers / names and numbers (default: names)\n"
	    "  -k                the kernel driver in use and the modules able to drive it\n"
	    "  -D                always show the PCI domain\n"
	    "  -v, -vv           subsystem, physical slot, NUMA node, IOMMU group, driver,\n"
	    "                    modules (no configuration space: no flags or capabilities)\n"
	    "  -vmm              lspci's machine-readable Tag:<TAB>value records\n"
	    "  -t                lspci's bus tree (-tv with names); no filters with -t\n"
	    "Library logging is --debug / --log-level (see below), not -v.\n"
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
	    "(json-schema.md)\n"
	    "\n"
	    "USB (--usb): one line per device, like lsusb, plus class, speed, interface\n"
	    "drivers, serial and the stable port identity (usb.md). Hubs are left out\n"
	    "unless --hubs is given.\n"
	    "  -d, --device [VENDOR]:[PRODUCT]  only these ids (lsusb -d syntax, hex)\n"
	    "      --serial S    only the device(s) with serial number S\n"
	    "      --port PATH   only the device at port PATH (2-1.4; 2-1.* = below 2-1)\n"
	    "      --hubs        include hubs and root hubs\n"
	    "      --usb-ids FILE  usb.ids database (default /usr/share/misc/usb.ids)\n"
	    "      --json        print {\"schema_version\": 1, \"usb_devices\": [...]}\n",
    .run = run,
};
