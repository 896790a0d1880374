/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The environment the SR-IOV network device plugin gives a container, for CNI plugins and DPDK
 * applications written against it: PCIDEVICE_<PREFIX>_<NAME> = the allocated addresses, and
 * PCIDEVICE_<PREFIX>_<NAME>_INFO = a JSON object keyed by address, each with
 * {"generic":{"deviceID":ADDR},"vfio":{"dev-mount":"/dev/vfio/<group>","mount":"/dev/vfio/vfio"}},
 * keys in the order Go's encoding/json writes a map (sorted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

static int compare_indexes(const void *a, const void *b, void *arg)
{
	char *const *addresses = arg;

	return strcmp(addresses[*(const size_t *)a], addresses[*(const size_t *)b]);
}

int sriov_env_set(const struct plugin *p, char *const *addresses, const int *groups, size_t n,
		  struct plugin_answer *out)
{
	size_t *order = calloc(n ? n : 1, sizeof(*order));
	char *list = NULL, *info = NULL, name[HOSTDEV_NAME_MAX + 8];
	size_t list_size = 0, info_size = 0;
	FILE *fl = NULL, *fi = NULL;
	int r = -ENOMEM;

	if (!order)
		return -ENOMEM;
	fl = open_memstream(&list, &list_size);
	fi = open_memstream(&info, &info_size);
	if (!fl || !fi)
		goto out;
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		fprintf(fl, "%s%s", i ? "," : "", addresses[i]);
	}
	qsort_r(order, n, sizeof(*order), compare_indexes, (void *)addresses);
	fputc('{', fi);
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];

		fprintf(fi,
			"%s\"%s\":{\"generic\":{\"deviceID\":\"%s\"},\"vfio\":{\"dev-mount\":"
			"\"/dev/vfio/%d\",\"mount\":\"/dev/vfio/vfio\"}}",
			k ? "," : "", addresses[i], addresses[i], groups[i]);
	}
	fputc('}', fi);
	if (fclose(fl) != 0 || fclose(fi) != 0) {
		fl = fi = NULL;
		goto out;
	}
	fl = fi = NULL;
	snprintf(name, sizeof(name), "%s_INFO", p->sriov_env_name);
	if ((r = answer_set_env(out, p->sriov_env_name, list)) == 0)
		r = answer_set_env(out, name, info);
out:
	if (fl)
		fclose(fl);
	if (fi)
		fclose(fi);
	free(list);
	free(info);
	free(order);
	return r;
}
