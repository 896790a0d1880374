/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by `hostdev persist modprobe` and `hostdev openshift`: the boot-time vfio-pci
 * configuration built from the persistent list (modprobe_conf.c) and the YAML printer of the
 * Kubernetes objects (yaml_out.c).
 */
#ifndef HOSTDEV_CLI_OPENSHIFT_H
#define HOSTDEV_CLI_OPENSHIFT_H

#include "cli.h"

/*
 * The text of /etc/modprobe.d/vfio.conf for the devices of the persistent list: comment lines
 * naming every device vfio-pci will claim besides the listed ones and why, "softdep MODULE pre:
 * vfio-pci" for every host driver module of those devices (so that vfio-pci claims them before
 * the host driver can), and "options vfio-pci ids=VVVV:DDDD,..." with the listed devices' ids
 * plus those of the other endpoints of their IOMMU groups (a group is only usable when vfio-pci
 * holds all of them). On success *@out is malloc'ed (free()) and CLI_EXIT_OK is returned;
 * otherwise the error (an empty list names the file and `hostdev persist add`) is printed and
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

#endif /* HOSTDEV_CLI_OPENSHIFT_H */
