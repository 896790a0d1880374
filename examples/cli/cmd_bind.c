/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev bind ADDRESS... [--group] [--force] [--owner TEXT]`: hand devices to
 * vfio-pci the safe way (driver_override, journal first, IOMMU-group and
 * host-device checks, verified, rolled back on failure). docs/vfio.md.
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

/* One line per journal record in the IOMMU groups of the named devices. */
static void print_result(struct cli *cli, char **addresses, int count, int bound)
{
	hostdev_vfio_journal *j = NULL;
	int groups[64];
	size_t ngroups = 0;

	for (int i = 0; i < count && ngroups < 64; i++) {
		hostdev_pci_device *dev;

		if (hostdev_pci_device_new(cli->ctx, addresses[i], &dev) < 0)
			continue;
		groups[ngroups++] = hostdev_pci_device_get_iommu_group(dev);
		printf("%s: on %s, IOMMU group %d (%s/vfio/%d)\n",
		       hostdev_pci_device_get_address(dev),
		       hostdev_pci_device_get_driver(dev) ? hostdev_pci_device_get_driver(dev)
							  : "no driver",
		       hostdev_pci_device_get_iommu_group(dev),
		       hostdev_ctx_get_path(cli->ctx, HOSTDEV_PATH_DEV),
		       hostdev_pci_device_get_iommu_group(dev));
		hostdev_pci_device_unref(dev);
	}
	if (hostdev_vfio_journal_read(cli->ctx, &j) < 0)
		return;
	/* Group members that came along with --group. */
	for (size_t k = 0; k < hostdev_vfio_journal_get_count(j); k++) {
		const char *addr = hostdev_vfio_journal_get_address(j, k);
		bool named = false, in_group = false;

		for (int i = 0; i < count; i++) {
			struct hostdev_pci_address a;
			char canonical[HOSTDEV_PCI_ADDRESS_MAX];

			if (hostdev_pci_address_parse(addresses[i], &a) == 0 &&
			    hostdev_pci_address_format(&a, canonical, sizeof(canonical)) > 0 &&
			    strcmp(canonical, addr) == 0)
				named = true;
		}
		for (size_t g = 0; g < ngroups; g++)
			in_group |= groups[g] == hostdev_vfio_journal_get_iommu_group(j, k);
		if (!named && in_group && hostdev_vfio_journal_is_group_bind(j, k))
			printf("%s: on vfio-pci with its IOMMU group %d (was %s)\n", addr,
			       hostdev_vfio_journal_get_iommu_group(j, k),
			       hostdev_vfio_journal_get_driver(j, k)
				   ? hostdev_vfio_journal_get_driver(j, k)
				   : "unbound");
	}
	hostdev_vfio_journal_unref(j);
	printf("%d device%s moved to vfio-pci%s\n", bound, bound == 1 ? "" : "s",
	       bound == 0 ? " (already there)" : "");
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
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	const char *protect[32];
	unsigned int flags = 0;
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
	code = cli_require_own_state(cli, "bind", false);
	if (code != CLI_EXIT_OK)
		return code;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_vfio_bind_set(cli->ctx, (const char *const *)argv + optind,
				  (size_t)(argc - optind), &opts, flags);
	if (r < 0)
		return cli_lib_error(cli, r, "bind");
	print_result(cli, argv + optind, argc - optind, r);
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_bind = {
    .name = "bind",
    .summary = "Hand PCI devices to vfio-pci, journaled and verified (undo "
	       "with restore).",
    .synopsis = "[--group] [--force] [--owner TEXT] [--protect ADDRESS]... "
		"[--timeout MS] [--lock-timeout SECONDS] ADDRESS...",
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
