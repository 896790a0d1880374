/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by `hostdev persist modprobe` and `hostdev openshift`: the boot-time vfio-pci
 * configuration built from the persistent list (modprobe_conf.c), the YAML printer of the
 * Kubernetes objects (yaml_out.c), and the parts of `hostdev openshift` (cmd_openshift.c: options
 * and dispatch; openshift_machineconfig.c; openshift_hyperconverged.c).
 */
#ifndef HOSTDEV_CLI_OPENSHIFT_H
#define HOSTDEV_CLI_OPENSHIFT_H

#include "cli.h"
#include "serve.h"

/*
 * The text of /etc/modprobe.d/vfio.conf for the devices of the persistent list, as
 * hostdev_vfio_modprobe_conf() builds it (group members, softdeps, the other devices the ids
 * catch). On success *@out is released with hostdev_free() and CLI_EXIT_OK is returned; otherwise
 * the error (an empty list names the file and `hostdev persist add`) is printed and
 * CLI_EXIT_FAILURE returned. cli->ctx must be open.
 */
int cli_modprobe_conf(struct cli *cli, char **out);

/*
 * Print @doc (an object) as a YAML block document: keys plain when they are safe, every string
 * double-quoted with JSON escapes (which YAML's double-quoted style reads the same way), numbers
 * and booleans plain, empty objects and arrays as {} and []. Returns CLI_EXIT_OK or prints an
 * error and returns CLI_EXIT_FAILURE (out of memory).
 */
int cli_yaml_print(FILE *out, const cJSON *doc);

#define MC_API_VERSION "machineconfiguration.openshift.io/v1"
#define MC_ROLE_LABEL "machineconfiguration.openshift.io/role"
#define IGNITION_VERSION "3.2.0"
#define HCO_API_VERSION "hco.kubevirt.io/v1beta1"
#define MODPROBE_PATH "/etc/modprobe.d/vfio.conf"
#define MODULES_LOAD_PATH "/etc/modules-load.d/vfio-pci.conf"

/* The options of `hostdev openshift`, parsed and checked by cmd_openshift.c. */
struct openshift_options {
	const char *role;
	const char *name;
	const char *namespace;
	const char *cpu_vendor;
	const char *config_path;
	bool object;
	bool persisted;
	bool json;
	struct serve_resource_flags flags;
};

/*
 * An RFC 1123 subdomain (object names, at most 253) or, without @dots, an RFC 1123 label
 * (namespaces, at most 63).
 */
bool openshift_valid_dns_name(const char *s, bool dots);

/* Print @doc as YAML after @comment (lines "# ..."), or as JSON with --json. A CLI_EXIT_* code. */
int openshift_print(const struct openshift_options *o, const char *comment, cJSON *doc);

/* openshift_machineconfig.c: the `iommu` and `vfiopci` MachineConfigs. CLI_EXIT_* codes. */
int openshift_iommu(struct cli *cli, const struct openshift_options *o);
int openshift_vfiopci(struct cli *cli, const struct openshift_options *o);

/* openshift_hyperconverged.c: HyperConverged's spec.permittedHostDevices. A CLI_EXIT_* code. */
int openshift_hyperconverged(struct cli *cli, struct openshift_options *o);

#endif /* HOSTDEV_CLI_OPENSHIFT_H */
