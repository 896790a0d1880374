/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the API server keeps of an object: a CRD's structural schema prunes every field it does
 * not declare (unless x-kubernetes-preserve-unknown-fields). Harvester's own CRDs do not declare
 * the agent's extras, so those vanish on write there; comparing the desired object as the server
 * would store it keeps the agent from rewriting every object forever. Only the status and spec
 * subtrees are pruned here: the server never prunes metadata by the CRD's schema.
 */
#include <string.h>

#include "agent.h"

const cJSON *schema_of_crd(const cJSON *crd, const char *version)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(crd, "spec");
	const cJSON *versions = cJSON_GetObjectItemCaseSensitive(spec, "versions"), *v;

	cJSON_ArrayForEach(v, versions)
	{
		const char *name =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));

		if (name && strcmp(name, version) == 0) {
			const cJSON *schema = cJSON_GetObjectItemCaseSensitive(v, "schema");

			return cJSON_GetObjectItemCaseSensitive(schema, "openAPIV3Schema");
		}
	}
	return NULL;
}

const cJSON *schema_property(const cJSON *schema, const char *name)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");

	return cJSON_GetObjectItemCaseSensitive(props, name);
}

static bool preserves_unknown(const cJSON *schema)
{
	return cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(schema, "x-kubernetes-preserve-unknown-fields"));
}

void schema_prune(cJSON *value, const cJSON *schema)
{
	const cJSON *props, *additional, *items;

	if (!schema || !value || preserves_unknown(schema))
		return;
	if (cJSON_IsObject(value)) {
		cJSON *child = value->child;

		props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		additional = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
		while (child) {
			cJSON *next = child->next;
			const cJSON *sub = cJSON_GetObjectItemCaseSensitive(props, child->string);

			if (sub)
				schema_prune(child, sub);
			else if (cJSON_IsObject(additional))
				schema_prune(child, additional);
			else if (!cJSON_IsTrue(additional))
				cJSON_Delete(cJSON_DetachItemViaPointer(value, child));
			child = next;
		}
	} else if (cJSON_IsArray(value)) {
		cJSON *child;

		items = cJSON_GetObjectItemCaseSensitive(schema, "items");
		cJSON_ArrayForEach(child, value) schema_prune(child, items);
	}
}
