/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Naming (src/naming/): Harvester- and KubeVirt-compatible names (naming.c, public in
 * hostdev/naming.h) and the kubelet's rule for extended resource names (resource_name.c), shared by
 * the public check hostdev_naming_check_resource_name(), the config parser and the device-plugin
 * server, so that a name the kubelet would refuse at every Register is refused at once, saying
 * which rule it breaks. libc only (the tests compile it into the parser). Never installed.
 */
#ifndef HOSTDEV_NAMING_INTERNAL_H
#define HOSTDEV_NAMING_INTERNAL_H

/*
 * Why @resource_name is not an extended resource name the kubelet accepts: one sentence naming
 * the rule and what to write instead (a static string), or NULL when it is one.
 */
const char *dp_resource_name_problem(const char *resource_name);

#endif /* HOSTDEV_NAMING_INTERNAL_H */
