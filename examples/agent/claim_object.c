/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a PCIDeviceClaim object: its spec fields, finalizer, deletion and node, and the
 * order of two claims for one device.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "claims_internal.h"

double generation_of(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(meta, "generation");

	return cJSON_IsNumber(g) ? g->valuedouble : -1;
}

const char *spec_string(const cJSON *obj, const char *field)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, field);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool has_finalizer(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *f;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(meta, "finalizers"))
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, AGENT_CLAIM_FINALIZER) == 0)
			return true;
	}
	return false;
}

bool annotation_true(const cJSON *obj, const char *key)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"), key);

	return cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0;
}

bool is_deleting(const cJSON *obj)
{
	return kube_meta_string(obj, "deletionTimestamp") != NULL;
}

/* The canonical "dddd:bb:ss.f" of @text, or -EINVAL. */
int canonical_address(const char *text, char *out, size_t size)
{
	struct hostdev_pci_address a;

	if (!text || hostdev_pci_address_parse(text, &a) < 0)
		return -EINVAL;
	return hostdev_pci_address_format(&a, out, size) < 0 ? -EINVAL : 0;
}

bool on_this_node(const struct claims *c, const cJSON *obj)
{
	const char *node = spec_string(obj, "nodeName");

	return node && strcmp(node, c->o.ids->node) == 0;
}

bool claim_precedes(const cJSON *a, const cJSON *b)
{
	const char *ta = kube_meta_string(a, "creationTimestamp");
	const char *tb = kube_meta_string(b, "creationTimestamp");
	int r = strcmp(ta ? ta : "", tb ? tb : "");

	if (r != 0)
		return r < 0;
	return strcmp(kube_meta_string(a, "name"), kube_meta_string(b, "name")) < 0;
}
