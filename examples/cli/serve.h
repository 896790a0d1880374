/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One device-plugin resource given by flags instead of a config file (`hostdev serve` and
 * `hostdev permitted`): the flags are turned into the same JSON config the library parses, so
 * both paths share one set of rules and error messages (serve_resource.c).
 */
#ifndef HOSTDEV_CLI_SERVE_H
#define HOSTDEV_CLI_SERVE_H

#include "cli.h"

enum {
	SERVE_OPT_RESOURCE = 0x300,
	SERVE_OPT_NAMING,
	SERVE_OPT_PCI_DEVICE,
	SERVE_OPT_ADDRESS,
	SERVE_OPT_CLASS,
	SERVE_OPT_DRIVER,
	SERVE_OPT_PF,
	SERVE_OPT_SRIOV_ENV,
	SERVE_OPT_USB_DEVICE,
	SERVE_OPT_SERIAL,
	SERVE_OPT_PORT,
	SERVE_OPT_MDEV_TYPE,
};

/* clang-format off */
#define SERVE_RESOURCE_LONG_OPTIONS \
	{"resource", required_argument, NULL, SERVE_OPT_RESOURCE}, \
	{"naming", required_argument, NULL, SERVE_OPT_NAMING}, \
	{"pci-device", required_argument, NULL, SERVE_OPT_PCI_DEVICE}, \
	{"address", required_argument, NULL, SERVE_OPT_ADDRESS}, \
	{"class", required_argument, NULL, SERVE_OPT_CLASS}, \
	{"driver", required_argument, NULL, SERVE_OPT_DRIVER}, \
	{"pf", required_argument, NULL, SERVE_OPT_PF}, \
	{"sriov-env", required_argument, NULL, SERVE_OPT_SRIOV_ENV}, \
	{"usb-device", required_argument, NULL, SERVE_OPT_USB_DEVICE}, \
	{"serial", required_argument, NULL, SERVE_OPT_SERIAL}, \
	{"port", required_argument, NULL, SERVE_OPT_PORT}, \
	{"mdev-type", required_argument, NULL, SERVE_OPT_MDEV_TYPE}
/* clang-format on */

#define SERVE_RESOURCE_HELP                                                                        \
	"One resource without a config file:\n"                                                    \
	"      --resource NAME        its name (\"example.com/nic\"), or\n"                        \
	"      --naming MODE          harvester (pooled under Harvester names) or per-device\n"    \
	"  PCI (vfio):  --pci-device VVVV:DDDD  --address ADDR  --class HEX  --driver NAME\n"      \
	"               --pf IFNAME|ADDR[#VFS] (VFs of a PF, e.g. ens1f0#0,2-7)\n"                 \
	"               --sriov-env PREFIX (also set PCIDEVICE_<PREFIX>_<NAME>)\n"                 \
	"  USB:         --usb-device VVVV:PPPP  --serial SERIAL  --port PORT\n"                    \
	"  mdev:        --mdev-type TYPE\n"                                                        \
	"Selector flags may repeat (any of the values); different flags must all match.\n"

/* The resource flags seen so far: a config document being built. */
struct serve_resource_flags {
	cJSON *resource; /* {"kind":..., "selectors": {...}, ...}, NULL until a flag is seen */
	const char *kind;
};

/* Handle option @c (a SERVE_OPT_*); anything else is a usage error. Returns a CLI_EXIT_* code. */
int serve_resource_flag(struct cli *cli, struct serve_resource_flags *flags, int c,
			const char *arg);
/* Whether any resource flag was given. */
bool serve_resource_flags_given(const struct serve_resource_flags *flags);
/* Parse the resource into a config. Returns what hostdev_dp_config_parse() returns. */
int serve_resource_config(struct cli *cli, struct serve_resource_flags *flags,
			  hostdev_dp_config **out);
void serve_resource_flags_release(struct serve_resource_flags *flags);

/* Exactly one of --config and the resource flags must be given. Returns a CLI_EXIT_* code. */
int serve_check_source(struct cli *cli, const char *config_path,
		       const struct serve_resource_flags *flags);
/* Load the config (@config_path, or the resource flags). Returns CLI_EXIT_OK, or prints the error
 * and returns CLI_EXIT_USAGE for a config error, CLI_EXIT_FAILURE otherwise. */
int serve_load(struct cli *cli, const char *config_path, struct serve_resource_flags *flags,
	       hostdev_dp_config **config);
/*
 * Load the config (@config_path, or the resource flags) and resolve it on the host of cli->ctx.
 * Returns CLI_EXIT_OK, or prints the error and returns CLI_EXIT_USAGE for a config error,
 * CLI_EXIT_FAILURE otherwise.
 */
int serve_resolve(struct cli *cli, const char *config_path, struct serve_resource_flags *flags,
		  hostdev_dp_config **config, hostdev_dp_resources **res);

#endif
