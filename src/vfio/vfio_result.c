/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-device result of a vfio operation (vfio.h, hostdev_vfio_result): what restore or bind did
 * with each device and whether its journal record is still there. One shape for both (address,
 * outcome, driver after the call, record, message); bind adds what only it knows (IOMMU group,
 * driver before the call, recorded original driver, named or brought along by its group).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vfio.h"

struct result_entry {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	int outcome;
	char *driver;
	bool has_record;
	char *message;
	/* Set by bind (vfio_result_set_bind_details()); restore leaves the defaults. */
	int iommu_group; /* -1 unknown */
	char *previous_driver;
	char *original_driver;
	bool requested;
};

struct hostdev_vfio_result {
	int refcount;
	struct result_entry *entries;
	size_t count, capacity;
};

static const char *const outcome_names[] = {
    [HOSTDEV_VFIO_OUTCOME_RESTORED] = "restored",
    [HOSTDEV_VFIO_OUTCOME_ALREADY] = "already",
    [HOSTDEV_VFIO_OUTCOME_GONE] = "gone",
    [HOSTDEV_VFIO_OUTCOME_OTHER_DRIVER] = "other-driver",
    [HOSTDEV_VFIO_OUTCOME_REFUSED] = "refused",
    [HOSTDEV_VFIO_OUTCOME_FAILED] = "failed",
    [HOSTDEV_VFIO_OUTCOME_NOT_BOUND] = "not-bound",
    [HOSTDEV_VFIO_OUTCOME_BOUND] = "bound",
    [HOSTDEV_VFIO_OUTCOME_WOULD_BIND] = "would-bind",
};

HOSTDEV_EXPORT const char *hostdev_vfio_outcome_name(int outcome)
{
	if (outcome < 0 || (size_t)outcome >= ARRAY_SIZE(outcome_names))
		return NULL;
	return outcome_names[outcome];
}

hostdev_vfio_result *vfio_result_new(void)
{
	hostdev_vfio_result *result = calloc(1, sizeof(*result));

	if (result)
		result->refcount = 1;
	return result;
}

int vfio_result_add(hostdev_vfio_result *result, const char *address, int outcome,
		    const char *driver, bool has_record, const char *fmt, ...)
{
	struct result_entry *e;
	va_list ap;
	int n;

	if (result->count == result->capacity) {
		size_t cap = result->capacity ? result->capacity * 2 : 8;
		struct result_entry *entries = realloc(result->entries, cap * sizeof(*entries));

		if (!entries)
			return -ENOMEM;
		result->entries = entries;
		result->capacity = cap;
	}
	e = &result->entries[result->count];
	memset(e, 0, sizeof(*e));
	snprintf(e->address, sizeof(e->address), "%s", address);
	e->outcome = outcome;
	e->has_record = has_record;
	e->iommu_group = -1;
	e->requested = true;
	e->driver = driver && driver[0] ? strdup(driver) : NULL;
	va_start(ap, fmt);
	n = vasprintf(&e->message, fmt, ap);
	va_end(ap);
	if (n < 0 || (driver && driver[0] && !e->driver)) {
		if (n >= 0)
			free(e->message);
		free(e->driver);
		return -ENOMEM;
	}
	result->count++;
	return 0;
}

void vfio_result_set_has_record(hostdev_vfio_result *result, size_t index, bool has_record)
{
	if (result && index < result->count)
		result->entries[index].has_record = has_record;
}

int vfio_result_set_bind_details(hostdev_vfio_result *result, size_t index, int iommu_group,
				 const char *previous_driver, const char *original_driver,
				 bool requested)
{
	struct result_entry *e;

	if (!result || index >= result->count)
		return -EINVAL;
	e = &result->entries[index];
	e->iommu_group = iommu_group;
	e->requested = requested;
	free(e->previous_driver);
	free(e->original_driver);
	e->previous_driver = strdup_or_null(previous_driver);
	e->original_driver = strdup_or_null(original_driver);
	if ((previous_driver && !e->previous_driver) || (original_driver && !e->original_driver))
		return -ENOMEM;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void vfio_result_destroy(hostdev_vfio_result *result)
{
	for (size_t i = 0; i < result->count; i++) {
		free(result->entries[i].driver);
		free(result->entries[i].message);
		free(result->entries[i].previous_driver);
		free(result->entries[i].original_driver);
	}
	free(result->entries);
	free(result);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_vfio_result, vfio_result_destroy)

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_vfio_result, get_count, count, 0)

HOSTDEV_EXPORT size_t hostdev_vfio_result_count_outcome(const hostdev_vfio_result *result,
							int outcome)
{
	size_t n = 0;

	for (size_t i = 0; result && i < result->count; i++)
		n += result->entries[i].outcome == outcome;
	return n;
}

static const struct result_entry *entry_at(const hostdev_vfio_result *result, size_t index)
{
	return result && index < result->count ? &result->entries[index] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_result, get_address, entry_at,
				    address, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_result, get_outcome, entry_at, outcome,
				    -EINVAL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_result, get_driver, entry_at, driver,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_result, has_record, entry_at, has_record, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_result, get_message, entry_at,
				    message, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_result, get_iommu_group, entry_at,
				    iommu_group, -EINVAL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_result, get_previous_driver,
				    entry_at, previous_driver, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_result, get_original_driver,
				    entry_at, original_driver, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_result, is_requested, entry_at, requested, 0)

/* A string member, or null. Returns false on allocation failure. */
static bool add_string_or_null(cJSON *o, const char *name, const char *value)
{
	return value ? cJSON_AddStringToObject(o, name, value) != NULL
		     : cJSON_AddNullToObject(o, name) != NULL;
}

HOSTDEV_EXPORT int hostdev_vfio_result_to_json(const hostdev_vfio_result *result,
					       unsigned int flags, char **out)
{
	cJSON *doc;
	char *text;

	if (!result || !out || (flags & ~(unsigned int)HOSTDEV_JSON_PRETTY))
		return -EINVAL;
	doc = cJSON_CreateArray();
	if (!doc)
		return -ENOMEM;
	for (size_t i = 0; i < result->count; i++) {
		const struct result_entry *e = &result->entries[i];
		cJSON *o = cJSON_CreateObject();

		if (!o) {
			cJSON_Delete(doc);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(doc, o);
		if (!cJSON_AddStringToObject(o, "address", e->address) ||
		    !cJSON_AddStringToObject(o, "outcome", hostdev_vfio_outcome_name(e->outcome)) ||
		    !add_string_or_null(o, "driver", e->driver) ||
		    !cJSON_AddBoolToObject(o, "record_kept", e->has_record) ||
		    !cJSON_AddStringToObject(o, "message", e->message) ||
		    !(e->iommu_group >= 0
			  ? cJSON_AddNumberToObject(o, "iommu_group", e->iommu_group)
			  : cJSON_AddNullToObject(o, "iommu_group")) ||
		    !add_string_or_null(o, "previous_driver", e->previous_driver) ||
		    !add_string_or_null(o, "original_driver", e->original_driver) ||
		    !cJSON_AddBoolToObject(o, "requested", e->requested)) {
			cJSON_Delete(doc);
			return -ENOMEM;
		}
	}
	text = (flags & HOSTDEV_JSON_PRETTY) ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!text)
		return -ENOMEM;
	*out = text;
	return 0;
}
