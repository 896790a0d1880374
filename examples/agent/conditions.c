/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one status condition each claim controller writes (PCIDeviceClaim's and USBDeviceClaim's
 * Bound, SRIOVNetworkDevice's NumVFs), with the API conventions' lastTransitionTime: the time the
 * condition's status last changed, not the time of the last write.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent.h"

int status_set_condition(cJSON *status, const cJSON *observed, const char *type, bool ok,
			 const char *reason, const char *message)
{
	const char *cond_status = ok ? "True" : "False";
	cJSON *conds = cJSON_AddArrayToObject(status, "conditions");
	cJSON *cond = cJSON_CreateObject();
	const cJSON *old;
	char now[32];
	time_t t = time(NULL);
	struct tm tm;

	if (!conds || !cond) {
		cJSON_Delete(cond);
		return -ENOMEM;
	}
	cJSON_AddItemToArray(conds, cond);
	cJSON_AddStringToObject(cond, "type", type);
	cJSON_AddStringToObject(cond, "status", cond_status);
	cJSON_AddStringToObject(cond, "reason", reason);
	cJSON_AddStringToObject(cond, "message", message);
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_ArrayForEach(old, cJSON_GetObjectItemCaseSensitive(observed, "conditions"))
	{
		const cJSON *old_type = cJSON_GetObjectItemCaseSensitive(old, "type");
		const cJSON *old_status = cJSON_GetObjectItemCaseSensitive(old, "status");
		const cJSON *ltt = cJSON_GetObjectItemCaseSensitive(old, "lastTransitionTime");

		if (cJSON_IsString(old_type) && strcmp(old_type->valuestring, type) == 0 &&
		    cJSON_IsString(old_status) &&
		    strcmp(old_status->valuestring, cond_status) == 0 && cJSON_IsString(ltt))
			snprintf(now, sizeof(now), "%s", ltt->valuestring);
	}
	cJSON_AddStringToObject(cond, "lastTransitionTime", now);
	return 0;
}
