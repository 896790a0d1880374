/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet's rule for extended resource names (dp_resource_name.c), shared by the public check
 * hostdev_naming_check_resource_name(), the config parser and the device-plugin server, so that a
 * name the kubelet would refuse at every Register is refused at once, saying which rule it breaks.
 * libc only (the tests compile it into the parser). Never installed.
 */
#ifndef HOSTDEV_DP_RESOURCE_NAME_H
#define HOSTDEV_DP_RESOURCE_NAME_H

/*
 * Why @resource_name is not an extended resource name the kubelet accepts: one sentence naming
 * the rule and what to write instead (a static string), or NULL when it is one.
 */
const char *dp_resource_name_problem(const char *resource_name);

#endif /* HOSTDEV_DP_RESOURCE_NAME_H */
