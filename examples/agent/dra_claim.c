/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What NodePrepareResources must prepare for a ResourceClaim: the kubelet names the claim
 * (namespace, name, uid) and nothing else, so the driver reads the claim and takes the allocation
 * results of its own driver name (status.allocation.devices.results[]{request, driver, pool,
 * device}). Results of other drivers belong to them (a claim may mix drivers). Every check here
 * answers the kubelet with a sentence that names the claim and what is wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

void dra_claim_devices_free(struct dra_claim_device *devices, size_t count)
{
	for (size_t i = 0; devices && i < count; i++) {
		free(devices[i].request);
		free(devices[i].pool);
		free(devices[i].device);
	}
	free(devices);
}

int dra_device_address(const char *device_name, char *buf, size_t size)
{
	unsigned int domain, bus, slot, fn;
	char tail;

	/* The inverse of dra_device_name(): "pci-0000-08-00-0" -> "0000:08:00.0". */
	if (sscanf(device_name, "pci-%4x-%2x-%2x-%1x%c", &domain, &bus, &slot, &fn, &tail) != 4 ||
	    strlen(device_name) != strlen("pci-0000-00-00-0") || slot > 0x1f || fn > 7)
		return -EINVAL;
	if (snprintf(buf, size, "%04x:%02x:%02x.%x", domain, bus, slot, fn) >= (int)size)
		return -ENAMETOOLONG;
	{
		/* Only the exact form the agent publishes: lower case, no "0x", no spaces. */
		char again[64];

		if (dra_device_name(buf, again, sizeof(again)) < 0 || strcmp(again, device_name))
			return -EINVAL;
	}
	return 0;
}

static const char *string_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int dra_claim_devices(const cJSON *claim, const char *uid, const char *driver, const char *pool,
		      struct dra_claim_device **out, size_t *count, char *err, size_t errlen)
{
	const char *ns = kube_meta_string(claim, "namespace");
	const char *name = kube_meta_string(claim, "name");
	const char *have_uid = kube_meta_string(claim, "uid");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(claim, "status");
	const cJSON *alloc = cJSON_GetObjectItemCaseSensitive(status, "allocation");
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(alloc, "devices"), "results");
	const cJSON *r;
	struct dra_claim_device *devices = NULL;
	size_t n = 0;

	*out = NULL;
	*count = 0;
	if (!name || !have_uid) {
		snprintf(err, errlen, "the ResourceClaim read has no metadata.name or uid");
		return -EINVAL;
	}
	if (strcmp(have_uid, uid) != 0) {
		snprintf(err, errlen,
			 "ResourceClaim %s/%s has uid %s, not %s: the claim the kubelet means was "
			 "deleted and another one made under its name",
			 ns ? ns : "", name, have_uid, uid);
		return -ESTALE;
	}
	if (!cJSON_IsObject(alloc)) {
		snprintf(err, errlen,
			 "ResourceClaim %s/%s is not allocated (no status.allocation): the "
			 "scheduler allocates a claim before the kubelet prepares it",
			 ns ? ns : "", name);
		return -EAGAIN;
	}
	cJSON_ArrayForEach(r, results)
	{
		const char *req = string_at(r, "request"), *drv = string_at(r, "driver");
		const char *p = string_at(r, "pool"), *dev = string_at(r, "device");
		char address[32];
		struct dra_claim_device *grown;

		if (!drv || strcmp(drv, driver) != 0)
			continue; /* another driver's device */
		if (!req || !p || !dev) {
			snprintf(err, errlen,
				 "ResourceClaim %s/%s: an allocation result of driver %s lacks "
				 "request, pool or device",
				 ns ? ns : "", name, driver);
			dra_claim_devices_free(devices, n);
			return -EINVAL;
		}
		if (strcmp(p, pool) != 0) {
			snprintf(
			    err, errlen,
			    "ResourceClaim %s/%s: device %s is allocated from pool %s, but this "
			    "node's pool is %s: the claim was allocated for another node",
			    ns ? ns : "", name, dev, p, pool);
			dra_claim_devices_free(devices, n);
			return -EXDEV;
		}
		if (dra_device_address(dev, address, sizeof(address)) < 0) {
			snprintf(err, errlen,
				 "ResourceClaim %s/%s: device %s is not a device this driver "
				 "publishes (names are pci-<domain>-<bus>-<slot>-<function>)",
				 ns ? ns : "", name, dev);
			dra_claim_devices_free(devices, n);
			return -EINVAL;
		}
		grown = realloc(devices, (n + 1) * sizeof(*devices));
		if (!grown) {
			dra_claim_devices_free(devices, n);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		devices = grown;
		devices[n].request = strdup(req);
		devices[n].pool = strdup(p);
		devices[n].device = strdup(dev);
		snprintf(devices[n].address, sizeof(devices[n].address), "%s", address);
		n++;
		if (!devices[n - 1].request || !devices[n - 1].pool || !devices[n - 1].device) {
			dra_claim_devices_free(devices, n);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	*out = devices;
	*count = n;
	return 0;
}
