/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A cJSON tree as a YAML block document (`hostdev openshift`): the objects are built as cJSON so
 * that --json and YAML print the same values, and YAML is what `oc apply -f` users read.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "openshift.h"

/* Length of the valid UTF-8 sequence at @p, 0 when it is not one. */
static size_t utf8_length(const unsigned char *p)
{
	size_t len;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * @s double-quoted. YAML forbids C0/C1 controls and DEL unescaped in a double-quoted scalar;
 * bytes that are not UTF-8 become U+FFFD (YAML streams are Unicode).
 */
static void put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t len = utf8_length(p);

		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (len == 0)
			fputs("\\ufffd", f);
		else if (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
			fprintf(f, "\\u%04x", p[1]);
		else
			fwrite(p, 1, len, f);
		p += len ? len : 1;
	}
	fputc('"', f);
}

/*
 * Words a YAML 1.1 reader (PyYAML, kubectl's go-yaml v2) takes for a boolean or null, not a string.
 */
static bool is_yaml11_word(const char *s)
{
	static const char *const words[] = {"y",  "yes", "n",	 "no", "true", "false",
					    "on", "off", "null", "~",  NULL};

	for (size_t i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

/*
 * Keys made of letters, digits and "._/-" (Kubernetes field and label names) need no quotes,
 * unless YAML would read them as another type (a number, a boolean, null).
 */
static void put_key(FILE *f, const char *key)
{
	bool plain = key[0] && strchr("-.0123456789", key[0]) == NULL && !is_yaml11_word(key);

	for (const char *p = key; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || strchr("._/-", *p);
	if (plain)
		fputs(key, f);
	else
		put_string(f, key);
	fputc(':', f);
}

static void put_scalar(FILE *f, const cJSON *item)
{
	if (cJSON_IsString(item))
		put_string(f, item->valuestring);
	else if (cJSON_IsBool(item))
		fputs(cJSON_IsTrue(item) ? "true" : "false", f);
	else if (cJSON_IsNumber(item))
		fprintf(f, "%.17g", item->valuedouble);
	else if (cJSON_IsObject(item))
		fputs("{}", f);
	else if (cJSON_IsArray(item))
		fputs("[]", f);
	else
		fputs("null", f);
}

static bool is_collection(const cJSON *item)
{
	return (cJSON_IsObject(item) || cJSON_IsArray(item)) && item->child;
}

static void put_node(FILE *f, const cJSON *node, int indent);

/* The members of @object at @indent; @first_inline: the first key follows a "- " already. */
static void put_members(FILE *f, const cJSON *object, int indent, bool first_inline)
{
	for (const cJSON *m = object->child; m; m = m->next) {
		if (!(first_inline && m == object->child))
			fprintf(f, "%*s", indent, "");
		put_key(f, m->string);
		if (is_collection(m)) {
			fputc('\n', f);
			/* Sequences under a key at the key's indentation, as kubectl prints them.
			 */
			put_node(f, m, cJSON_IsArray(m) ? indent : indent + 2);
		} else {
			fputc(' ', f);
			put_scalar(f, m);
			fputc('\n', f);
		}
	}
}

static void put_node(FILE *f, const cJSON *node, int indent)
{
	if (cJSON_IsObject(node)) {
		put_members(f, node, indent, false);
		return;
	}
	for (const cJSON *e = node->child; e; e = e->next) {
		fprintf(f, "%*s- ", indent, "");
		if (cJSON_IsObject(e) && e->child) {
			put_members(f, e, indent + 2, true);
		} else if (cJSON_IsArray(e) && e->child) {
			fputc('\n', f);
			put_node(f, e, indent + 2);
		} else {
			put_scalar(f, e);
			fputc('\n', f);
		}
	}
}

int cli_yaml_print(FILE *out, const cJSON *doc)
{
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);

	if (!mem) {
		cli_error("out of memory while printing YAML");
		return CLI_EXIT_FAILURE;
	}
	/* Whole or nothing: one write of the finished document. */
	put_node(mem, doc, 0);
	if (fclose(mem) != 0 || !text) {
		free(text);
		cli_error("out of memory while printing YAML");
		return CLI_EXIT_FAILURE;
	}
	fwrite(text, 1, size, out);
	free(text);
	return CLI_EXIT_OK;
}
