/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Concrete resources: a config applied to the host (dp_resources.c), read by the
 * permittedHostDevices generator and the built-in plugins. Never installed.
 */
#ifndef HOSTDEV_DP_RESOURCES_H
#define HOSTDEV_DP_RESOURCES_H

#include "dp_match.h"
#include "dp_prefer.h"

struct dp_resource {
	char *name;
	size_t spec_index; /* the config entry it comes from */
	struct dp_matches devices;
};

struct hostdev_dp_resources {
	int refcount;			  /* atomic, as the config's */
	struct hostdev_dp_config *config; /* a reference */
	struct dp_resource *items;	  /* sorted by name */
	size_t count;
};

#endif /* HOSTDEV_DP_RESOURCES_H */
