/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vfio journal document: parsing with strict validation and serialisation. No I/O here, so the
 * fuzzer (tests/vfio/fuzz_journal.c) can drive it directly.
 *
 * The journal steers sysfs writes during restore (it names the drivers to bind), so everything read
 * from it is checked: addresses must parse, driver names must be plain directory names, and a
 * document that is not exactly what we write is refused as a whole rather than half used.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vfio.h"

#define JOURNAL_FORMAT "libhostdev-vfio-journal"
#define JOURNAL_VERSION 1

bool vfio_driver_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len >= VFIO_DRIVER_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f || c == '/')
			return false;
	}
	return true;
}

void vfio_journal_data_clear(struct vfio_journal_data *data)
{
	for (size_t i = 0; i < data->count; i++) {
		free(data->records[i].driver);
		free(data->records[i].driver_override);
		free(data->records[i].owner);
	}
	free(data->records);
	data->records = NULL;
	data->count = data->capacity = 0;
}

int vfio_journal_data_add(struct vfio_journal_data *data, const struct vfio_record *rec)
{
	struct vfio_record copy = *rec;

	if (data->count == data->capacity) {
		size_t cap = data->capacity ? data->capacity * 2 : 8;
		struct vfio_record *records = realloc(data->records, cap * sizeof(*records));

		if (!records)
			return -ENOMEM;
		data->records = records;
		data->capacity = cap;
	}
	copy.driver = strdup_or_null(rec->driver);
	copy.driver_override = strdup_or_null(rec->driver_override);
	copy.owner = strdup_or_null(rec->owner);
	if ((rec->driver && !copy.driver) || (rec->driver_override && !copy.driver_override) ||
	    (rec->owner && !copy.owner)) {
		free(copy.driver);
		free(copy.driver_override);
		free(copy.owner);
		return -ENOMEM;
	}
	data->records[data->count++] = copy;
	return 0;
}

ssize_t vfio_journal_data_find(const struct vfio_journal_data *data, const char *address)
{
	for (size_t i = 0; i < data->count; i++)
		if (strcmp(data->records[i].address, address) == 0)
			return (ssize_t)i;
	return -1;
}

void vfio_journal_data_remove(struct vfio_journal_data *data, size_t index)
{
	if (index >= data->count)
		return;
	free(data->records[index].driver);
	free(data->records[index].driver_override);
	free(data->records[index].owner);
	memmove(&data->records[index], &data->records[index + 1],
		(data->count - index - 1) * sizeof(*data->records));
	data->count--;
}

const struct vfio_record *vfio_journal_data_lookup(const struct vfio_journal_data *data,
						   const char *address)
{
	ssize_t i = vfio_journal_data_find(data, address);

	return i < 0 ? NULL : &data->records[i];
}

bool vfio_journal_data_drop(struct vfio_journal_data *data, const char *address)
{
	ssize_t i = vfio_journal_data_find(data, address);

	if (i < 0)
		return false;
	vfio_journal_data_remove(data, (size_t)i);
	return true;
}

static int bad(char *err, size_t errsize, size_t index, const char *what)
{
	if (index == (size_t)-1)
		snprintf(err, errsize, "%s", what);
	else
		snprintf(err, errsize, "record %zu: %s", index, what);
	return -EBADMSG;
}

/* A string member that may be null or absent (-> NULL); anything else is an error. */
static int optional_string(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item) || !item->valuestring)
		return -EBADMSG;
	*out = item->valuestring;
	return 0;
}

static int parse_record(const cJSON *obj, size_t index, struct vfio_record *rec, char *err,
			size_t errsize)
{
	const cJSON *item;
	struct hostdev_pci_address addr;
	const char *s;
	double d;

	memset(rec, 0, sizeof(*rec));
	if (!cJSON_IsObject(obj))
		return bad(err, errsize, index, "not an object");
	item = cJSON_GetObjectItemCaseSensitive(obj, "address");
	if (!cJSON_IsString(item) || hostdev_pci_address_parse(item->valuestring, &addr) < 0)
		return bad(err, errsize, index, "missing or invalid \"address\"");
	hostdev_pci_address_format(&addr, rec->address, sizeof(rec->address));

	if (optional_string(obj, "driver", &s) < 0 || (s && !vfio_driver_name_valid(s)))
		return bad(err, errsize, index, "invalid \"driver\"");
	rec->driver = (char *)s;
	if (optional_string(obj, "driver_override", &s) < 0 || (s && !vfio_driver_name_valid(s)))
		return bad(err, errsize, index, "invalid \"driver_override\"");
	rec->driver_override = (char *)s;
	if (optional_string(obj, "owner", &s) < 0 || (s && strlen(s) >= VFIO_OWNER_MAX))
		return bad(err, errsize, index, "invalid \"owner\"");
	rec->owner = (char *)s;

	item = cJSON_GetObjectItemCaseSensitive(obj, "iommu_group");
	if (!cJSON_IsNumber(item))
		return bad(err, errsize, index, "missing or invalid \"iommu_group\"");
	d = item->valuedouble;
	if (!(d >= 0 && d <= 2147483647.0) || d != floor(d))
		return bad(err, errsize, index, "invalid \"iommu_group\"");
	rec->iommu_group = (int)d;

	item = cJSON_GetObjectItemCaseSensitive(obj, "time");
	if (!cJSON_IsNumber(item))
		return bad(err, errsize, index, "missing or invalid \"time\"");
	d = item->valuedouble;
	if (!(d >= 0 && d < 9.0e15) || d != floor(d))
		return bad(err, errsize, index, "invalid \"time\"");
	rec->time = (int64_t)d;

	item = cJSON_GetObjectItemCaseSensitive(obj, "group_bind");
	if (!cJSON_IsBool(item))
		return bad(err, errsize, index, "missing or invalid \"group_bind\"");
	rec->group_bind = cJSON_IsTrue(item);
	item = cJSON_GetObjectItemCaseSensitive(obj, "complete");
	if (!cJSON_IsBool(item))
		return bad(err, errsize, index, "missing or invalid \"complete\"");
	rec->complete = cJSON_IsTrue(item);
	return 0;
}

/* An address and the index of its record, sorted by address then index. */
struct keyed {
	const char *address;
	size_t index;
};

static int compare_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->address, y->address);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/*
 * One record per device: refuse the first record (in document order) whose address an earlier
 * one has. Sorting keeps this O(n log n): a per-record search made a 100k-record journal take
 * 26 s to list.
 */
static int check_duplicates(const struct vfio_journal_data *data, char *err, size_t errsize)
{
	struct keyed *keys;
	size_t first = (size_t)-1;

	if (data->count < 2)
		return 0;
	keys = malloc(data->count * sizeof(*keys));
	if (!keys) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < data->count; i++)
		keys[i] = (struct keyed){data->records[i].address, i};
	qsort(keys, data->count, sizeof(*keys), compare_keyed);
	for (size_t i = 1; i < data->count; i++)
		if (strcmp(keys[i - 1].address, keys[i].address) == 0 && keys[i].index < first)
			first = keys[i].index; /* the later of the pair */
	free(keys);
	return first == (size_t)-1 ? 0 : bad(err, errsize, first, "duplicate address");
}

int vfio_journal_parse(const char *text, size_t len, struct vfio_journal_data *out, char *err,
		       size_t errsize)
{
	struct vfio_journal_data data = {0};
	const char *end = NULL;
	const cJSON *item, *records, *rec;
	char where[96], what[160];
	cJSON *doc;
	size_t index = 0;
	int r = 0;

	if (len == 0)
		return bad(err, errsize, (size_t)-1, "the file is empty (truncated)");
	doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!doc) {
		size_t last = len;

		/* We always end the document with "}\n": anything else was cut short. */
		while (last > 0 && (text[last - 1] == '\n' || text[last - 1] == ' ' ||
				    text[last - 1] == '\t' || text[last - 1] == '\r'))
			last--;
		if (end && end >= text && end <= text + len)
			snprintf(err, errsize, "not valid JSON, error at byte %zu of %zu%s",
				 (size_t)(end - text), len,
				 last > 0 && text[last - 1] != '}' ? "; the file looks truncated"
								   : "");
		else
			snprintf(err, errsize, "not valid JSON");
		return -EBADMSG;
	}
	/* Only whitespace may follow the document. */
	for (const char *p = end; p && p < text + len; p++) {
		if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
			r = bad(err, errsize, (size_t)-1, "trailing bytes after the JSON document");
			goto out;
		}
	}
	/* cJSON would cut a string at an escaped NUL (an owner "a\u0000b" read back as "a"). */
	if (json_find_nul_escape(text, len, where, sizeof(where))) {
		snprintf(what, sizeof(what), "\\u0000 (a NUL character) in %s", where);
		r = bad(err, errsize, (size_t)-1, what);
		goto out;
	}
	item = cJSON_GetObjectItemCaseSensitive(doc, "format");
	if (!cJSON_IsObject(doc) || !cJSON_IsString(item) ||
	    strcmp(item->valuestring, JOURNAL_FORMAT) != 0) {
		r = bad(err, errsize, (size_t)-1, "not a libhostdev vfio journal (\"format\")");
		goto out;
	}
	item = cJSON_GetObjectItemCaseSensitive(doc, "version");
	if (!cJSON_IsNumber(item) || item->valuedouble != JOURNAL_VERSION) {
		r = bad(err, errsize, (size_t)-1,
			"unsupported \"version\" (written by a newer libhostdev?)");
		goto out;
	}
	records = cJSON_GetObjectItemCaseSensitive(doc, "records");
	if (!cJSON_IsArray(records)) {
		r = bad(err, errsize, (size_t)-1, "missing \"records\" array");
		goto out;
	}
	cJSON_ArrayForEach(rec, records)
	{
		struct vfio_record parsed;

		r = parse_record(rec, index, &parsed, err, errsize);
		if (r < 0)
			goto out;
		r = vfio_journal_data_add(&data, &parsed);
		if (r < 0) {
			snprintf(err, errsize, "out of memory");
			goto out;
		}
		index++;
	}
	r = check_duplicates(&data, err, errsize);
out:
	cJSON_Delete(doc);
	if (r < 0) {
		vfio_journal_data_clear(&data);
		return r;
	}
	*out = data;
	return 0;
}

static cJSON *add_string_or_null(cJSON *obj, const char *key, const char *value)
{
	return value ? cJSON_AddStringToObject(obj, key, value) : cJSON_AddNullToObject(obj, key);
}

char *vfio_journal_serialize(const struct vfio_journal_data *data, bool pretty)
{
	cJSON *doc = cJSON_CreateObject(), *records;
	char *text = NULL;

	if (!doc || !cJSON_AddStringToObject(doc, "format", JOURNAL_FORMAT) ||
	    !cJSON_AddNumberToObject(doc, "version", JOURNAL_VERSION) ||
	    !(records = cJSON_AddArrayToObject(doc, "records")))
		goto out;
	for (size_t i = 0; i < data->count; i++) {
		const struct vfio_record *rec = &data->records[i];
		cJSON *obj = cJSON_CreateObject();

		if (!obj)
			goto out;
		cJSON_AddItemToArray(records, obj);
		if (!cJSON_AddStringToObject(obj, "address", rec->address) ||
		    !add_string_or_null(obj, "driver", rec->driver) ||
		    !add_string_or_null(obj, "driver_override", rec->driver_override) ||
		    !cJSON_AddNumberToObject(obj, "iommu_group", rec->iommu_group) ||
		    !cJSON_AddNumberToObject(obj, "time", (double)rec->time) ||
		    !add_string_or_null(obj, "owner", rec->owner) ||
		    !cJSON_AddBoolToObject(obj, "group_bind", rec->group_bind) ||
		    !cJSON_AddBoolToObject(obj, "complete", rec->complete))
			goto out;
	}
	text = pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(doc);
	return text;
}
