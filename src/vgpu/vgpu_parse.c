/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The texts of NVIDIA's driver and of the vGPU journal: parsing and serialisation, no I/O.
 *
 * creatable_vgpu_types (NVIDIA's documentation and Harvester's pcidevices, which parse it):
 *
 *     ID    : vGPU Name
 *     1145  : NVIDIA L40S-1B
 *     1146  : NVIDIA L40S-2B
 *
 * A type id is a decimal number, the name follows the first ':'. The header is recognised by its
 * first field not being a number. Anything else is refused as a whole: the ids are written back
 * to the driver, so a half-understood list must not be used.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vgpu.h"

#define JOURNAL_FORMAT "libhostdev-vgpu-journal"
#define JOURNAL_VERSION 1

void vgpu_types_clear(struct vgpu_types *types)
{
	for (size_t i = 0; i < types->count; i++)
		free(types->items[i].name);
	free(types->items);
	types->items = NULL;
	types->count = 0;
}

const char *vgpu_types_name(const struct vgpu_types *types, unsigned int id)
{
	for (size_t i = 0; i < types->count; i++)
		if (types->items[i].id == id)
			return types->items[i].name;
	return NULL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* @s..@e without surrounding blanks, as [*start, *end). */
static void trim(const char **start, const char **end)
{
	while (*start < *end && is_blank(**start))
		(*start)++;
	while (*end > *start && is_blank((*end)[-1]))
		(*end)--;
}

/* A decimal id of [s, e): 1, or 0 when it is not one (the header's "ID"). */
static int parse_id(const char *s, const char *e, unsigned int *out)
{
	unsigned long v = 0;

	if (s == e)
		return 0;
	for (const char *p = s; p < e; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > UINT_MAX)
			return 0;
	}
	*out = (unsigned int)v;
	return 1;
}

static int bad_line(char *err, size_t errsize, int lineno, const char *s, const char *e,
		    const char *why)
{
	snprintf(err, errsize, "line %d \"%.*s\" %s", lineno, (int)(e - s > 80 ? 80 : e - s), s,
		 why);
	return -EBADMSG;
}

int vgpu_parse_creatable(const char *text, struct vgpu_types *out, char *err, size_t errsize)
{
	const char *line = text;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
		const char *colon = memchr(line, ':', (size_t)(end - line));
		const char *id_s = line, *id_e = colon, *name_s = colon ? colon + 1 : NULL,
			   *name_e = end;
		struct vgpu_type *items;
		unsigned int id;

		lineno++;
		trim(&id_s, &id_e);
		if (!colon) {
			trim(&id_s, &name_e);
			if (id_s != name_e) {
				vgpu_types_clear(out);
				return bad_line(err, errsize, lineno, line, end,
						"has no ':' between type id and name");
			}
		} else if (!parse_id(id_s, id_e, &id)) {
			/* Only the first line may be the header ("ID : vGPU Name"). */
			if (lineno != 1) {
				vgpu_types_clear(out);
				return bad_line(err, errsize, lineno, line, end,
						"does not start with a decimal type id");
			}
		} else {
			trim(&name_s, &name_e);
			if (name_s == name_e || name_e - name_s >= VGPU_NAME_MAX) {
				vgpu_types_clear(out);
				return bad_line(err, errsize, lineno, line, end,
						name_s == name_e
						    ? "has no type name"
						    : "has a type name that is too long");
			}
			if (id == 0 || vgpu_types_name(out, id)) {
				vgpu_types_clear(out);
				return bad_line(err, errsize, lineno, line, end,
						id == 0 ? "has type id 0, which means no type"
							: "repeats a type id");
			}
			items = realloc(out->items, (out->count + 1) * sizeof(*items));
			if (!items) {
				vgpu_types_clear(out);
				return -ENOMEM;
			}
			out->items = items;
			items[out->count].id = id;
			items[out->count].name = strndup(name_s, (size_t)(name_e - name_s));
			if (!items[out->count].name) {
				vgpu_types_clear(out);
				return -ENOMEM;
			}
			out->count++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int vgpu_parse_current(const char *text, unsigned int *out)
{
	const char *s = text, *e = text + strlen(text);

	while (e > s && (is_blank(e[-1]) || e[-1] == '\n'))
		e--;
	trim(&s, &e);
	return parse_id(s, e, out) ? 0 : -EBADMSG;
}

/* ---------------------------------------------------------------------------------------------- */
/* The journal document */

void vgpu_journal_data_clear(struct vgpu_journal_data *data)
{
	for (size_t i = 0; i < data->count; i++)
		free(data->records[i].name);
	free(data->records);
	data->records = NULL;
	data->count = 0;
}

int vgpu_journal_data_add(struct vgpu_journal_data *data, const struct vgpu_record *rec)
{
	struct vgpu_record *records = realloc(data->records, (data->count + 1) * sizeof(*records));

	if (!records)
		return -ENOMEM;
	data->records = records;
	records[data->count] = *rec;
	records[data->count].name = NULL;
	if (rec->name && !(records[data->count].name = strdup(rec->name)))
		return -ENOMEM;
	data->count++;
	return 0;
}

ptrdiff_t vgpu_journal_data_find(const struct vgpu_journal_data *data, const char *address)
{
	for (size_t i = 0; i < data->count; i++)
		if (strcmp(data->records[i].address, address) == 0)
			return (ptrdiff_t)i;
	return -1;
}

void vgpu_journal_data_remove(struct vgpu_journal_data *data, size_t index)
{
	if (index >= data->count)
		return;
	free(data->records[index].name);
	memmove(&data->records[index], &data->records[index + 1],
		(data->count - index - 1) * sizeof(*data->records));
	data->count--;
}

static bool get_uint(const cJSON *o, const char *key, unsigned int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > UINT_MAX ||
	    v->valuedouble != (double)(unsigned int)v->valuedouble)
		return false;
	*out = (unsigned int)v->valuedouble;
	return true;
}

static int parse_record(const cJSON *o, size_t i, struct vgpu_record *rec, char *err,
			size_t errsize)
{
	const cJSON *addr = cJSON_GetObjectItemCaseSensitive(o, "address");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *time = cJSON_GetObjectItemCaseSensitive(o, "time");
	struct hostdev_pci_address a;

	memset(rec, 0, sizeof(*rec));
	if (!cJSON_IsObject(o) || !cJSON_IsString(addr) ||
	    hostdev_pci_address_parse(addr->valuestring, &a) < 0 ||
	    hostdev_pci_address_format(&a, rec->address, sizeof(rec->address)) < 0) {
		snprintf(err, errsize, "records[%zu] has no valid \"address\"", i);
		return -EBADMSG;
	}
	if (!get_uint(o, "type", &rec->type) || rec->type == 0 ||
	    !get_uint(o, "previous_type", &rec->previous_type)) {
		snprintf(err, errsize,
			 "records[%zu] (%s) needs a non-zero \"type\" and a \"previous_type\"", i,
			 rec->address);
		return -EBADMSG;
	}
	if (!(cJSON_IsNull(name) || (cJSON_IsString(name) && *name->valuestring &&
				     strlen(name->valuestring) < VGPU_NAME_MAX))) {
		snprintf(err, errsize, "records[%zu] (%s) has a bad \"name\"", i, rec->address);
		return -EBADMSG;
	}
	if (!cJSON_IsNumber(time)) {
		snprintf(err, errsize, "records[%zu] (%s) has no \"time\"", i, rec->address);
		return -EBADMSG;
	}
	rec->time = (int64_t)time->valuedouble;
	rec->name = cJSON_IsString(name) ? name->valuestring : NULL;
	return 0;
}

int vgpu_journal_parse(const char *text, size_t len, struct vgpu_journal_data *out, char *err,
		       size_t errsize)
{
	cJSON *doc = cJSON_ParseWithLength(text, len), *format, *version, *records, *o;
	size_t i = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!doc) {
		snprintf(err, errsize, "not valid JSON");
		return -EBADMSG;
	}
	format = cJSON_GetObjectItemCaseSensitive(doc, "format");
	version = cJSON_GetObjectItemCaseSensitive(doc, "version");
	records = cJSON_GetObjectItemCaseSensitive(doc, "records");
	if (!cJSON_IsString(format) || strcmp(format->valuestring, JOURNAL_FORMAT) != 0) {
		snprintf(err, errsize, "\"format\" is not \"%s\"", JOURNAL_FORMAT);
		r = -EBADMSG;
	} else if (!cJSON_IsNumber(version) || version->valuedouble != JOURNAL_VERSION) {
		snprintf(err, errsize, "\"version\" is not %d", JOURNAL_VERSION);
		r = -EBADMSG;
	} else if (!cJSON_IsArray(records)) {
		snprintf(err, errsize, "\"records\" is not a list");
		r = -EBADMSG;
	}
	if (r == 0) {
		cJSON_ArrayForEach(o, records)
		{
			struct vgpu_record rec;

			if ((r = parse_record(o, i, &rec, err, errsize)) < 0)
				break;
			if (vgpu_journal_data_find(out, rec.address) >= 0) {
				snprintf(err, errsize, "records[%zu] repeats %s", i, rec.address);
				r = -EBADMSG;
				break;
			}
			if ((r = vgpu_journal_data_add(out, &rec)) < 0)
				break;
			i++;
		}
	}
	cJSON_Delete(doc);
	if (r < 0)
		vgpu_journal_data_clear(out);
	return r;
}

char *vgpu_journal_serialize(const struct vgpu_journal_data *data)
{
	cJSON *doc = cJSON_CreateObject(), *records;
	char *text, *with_nl;
	bool ok;

	ok = doc && cJSON_AddStringToObject(doc, "format", JOURNAL_FORMAT) &&
	     cJSON_AddNumberToObject(doc, "version", JOURNAL_VERSION);
	records = ok ? cJSON_AddArrayToObject(doc, "records") : NULL;
	for (size_t i = 0; records && i < data->count; i++) {
		const struct vgpu_record *rec = &data->records[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(records, o) ||
		    !cJSON_AddStringToObject(o, "address", rec->address) ||
		    !cJSON_AddNumberToObject(o, "type", rec->type) ||
		    !(rec->name ? cJSON_AddStringToObject(o, "name", rec->name)
				: cJSON_AddNullToObject(o, "name")) ||
		    !cJSON_AddNumberToObject(o, "previous_type", rec->previous_type) ||
		    !cJSON_AddNumberToObject(o, "time", (double)rec->time))
			records = NULL;
	}
	text = records ? cJSON_Print(doc) : NULL;
	cJSON_Delete(doc);
	if (!text)
		return NULL;
	with_nl = realloc(text, strlen(text) + 2);
	if (!with_nl) {
		free(text);
		return NULL;
	}
	strcat(with_nl, "\n");
	return with_nl;
}
