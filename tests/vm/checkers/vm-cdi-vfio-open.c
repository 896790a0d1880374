// SPDX-License-Identifier: Apache-2.0
/*
 * vm-cdi-vfio-open CDI_SPEC DEVICE_NAME ADDRESS: what a container runtime and then a VMM do with a
 * CDI device a DRA driver prepared (scenario 96-agent-dra). Reads the CDI spec file, takes the
 * device nodes of its device DEVICE_NAME, checks that they are exactly /dev/vfio/vfio and the
 * group node of ADDRESS's IOMMU group (read from the kernel's iommu_group link, not from the
 * library), and makes a VFIO open of ADDRESS through exactly those paths (support/vfio_open.c).
 * One "ok - " / "not ok - " line per check; exit 1 when one failed.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"
#include "vfio_open.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The iommu_group number of @addr from sysfs ("" when it has none). */
static void group_of(const char *addr, char *out, size_t size)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", addr);
	n = readlink(link, target, sizeof(target) - 1);
	out[0] = '\0';
	if (n > 0) {
		const char *base;

		target[n] = '\0';
		base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
		if (strlen(base) < size) /* a group number: always */
			memcpy(out, base, strlen(base) + 1);
	}
}

int main(int argc, char **argv)
{
	const char *spec_path, *name, *addr;
	const cJSON *dev, *found = NULL, *node;
	char group[32], group_path[64], detail[PATH_MAX + 64], *text;
	const char *container = NULL, *group_node = NULL;
	int nodes = 0;
	cJSON *spec;

	if (argc != 4) {
		fprintf(stderr, "usage: vm-cdi-vfio-open CDI_SPEC DEVICE_NAME ADDRESS\n");
		return 2;
	}
	spec_path = argv[1], name = argv[2], addr = argv[3];
	text = read_file(spec_path);
	check(text != NULL, "the CDI spec file is readable", spec_path);
	spec = text ? cJSON_Parse(text) : NULL;
	free(text);
	check(spec != NULL, "the CDI spec is JSON", spec_path);
	cJSON_ArrayForEach(dev, cJSON_GetObjectItemCaseSensitive(spec, "devices"))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(dev, "name");

		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			found = dev;
	}
	check(found != NULL, "the CDI spec has the device", name);
	cJSON_ArrayForEach(
	    node, cJSON_GetObjectItemCaseSensitive(
		      cJSON_GetObjectItemCaseSensitive(found, "containerEdits"), "deviceNodes"))
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(node, "path");

		nodes++;
		if (!cJSON_IsString(p))
			continue;
		printf("# CDI device node %s\n", p->valuestring);
		if (strcmp(p->valuestring, "/dev/vfio/vfio") == 0)
			container = p->valuestring;
		else if (strncmp(p->valuestring, "/dev/vfio/", 10) == 0)
			group_node = p->valuestring;
	}
	group_of(addr, group, sizeof(group));
	snprintf(group_path, sizeof(group_path), "/dev/vfio/%s", group);
	check(group[0] != '\0', "the device has an IOMMU group in sysfs", addr);
	check(nodes == 2, "the CDI device names two device nodes", NULL);
	check(container != NULL, "the CDI device names /dev/vfio/vfio", NULL);
	snprintf(detail, sizeof(detail), "names %s, the kernel says %s",
		 group_node ? group_node : "none", group_path);
	check(group_node && strcmp(group_node, group_path) == 0,
	      "the CDI device names the real group node", detail);
	if (container && group_node)
		vfio_open_check(container, group_node, addr);
	cJSON_Delete(spec);
	return scenario_finish();
}
