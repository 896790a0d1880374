/* SPDX-License-Identifier: Apache-2.0 */
/* Output helpers of the `hostdev` tool: error lines, the lspci-style device line and JSON
 * documents. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	/* Keep the order of stdout and stderr lines when both go to one terminal or file. */
	fflush(stdout);
	fputs("hostdev: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The library's messages name what to do in its own words: API flags, functions and context
 * paths, which the Python and Go bindings spell their own way. The tool shows its own spelling
 * instead (an API flag keeps its name, with the option after it). Longer words come first where
 * one starts another.
 */
static const struct {
	const char *api, *cli;
} cli_words[] = {
    {"HOSTDEV_BIND_GROUP", "HOSTDEV_BIND_GROUP (hostdev bind --group)"},
    {"HOSTDEV_BIND_FORCE", "HOSTDEV_BIND_FORCE (hostdev bind --force)"},
    {"HOSTDEV_SRIOV_FORCE", "HOSTDEV_SRIOV_FORCE (hostdev sriov --force)"},
    {"HOSTDEV_RESTORE_FORGET_GONE", "HOSTDEV_RESTORE_FORGET_GONE (hostdev restore --forget-gone)"},
    {"HOSTDEV_RESTORE_UNJOURNALED", "HOSTDEV_RESTORE_UNJOURNALED (hostdev restore --reprobe)"},
    {"the context's root (hostdev_ctx_set_root())", "--root"},
    {"the context's HOSTDEV_PATH_MODULES path", "--modules-dir"},
    {"the context's HOSTDEV_PATH_STATE path", "--state-dir"},
    {"the context's HOSTDEV_PATH_CONFIG path", "--config-dir"},
    {"hostdev_mdev_types_read()", "`hostdev mdev types`"},
    {"hostdev_mdev_list_read()", "`hostdev mdev list`"},
    {"hostdev_mdev_remove()", "hostdev mdev remove UUID"},
    {"hostdev_pci_enum_new()", "`hostdev list`"},
    {"hostdev_sriov_set_num_vfs()", "hostdev sriov --vfs"},
    {"hostdev_sriov_pf_new()", "hostdev sriov ADDRESS"},
    {"hostdev_sriov_options.timeout_ms", "hostdev sriov --timeout"},
    {"hostdev_vfio_restore_all()", "hostdev restore --all"},
    {"hostdev_vfio_restore()", "hostdev restore ADDRESS"},
    {"hostdev_vfio_check()", "`hostdev check`"},
    {"hostdev_vfio_persist_remove() and hostdev_vfio_persist_add()", "hostdev persist add/remove"},
    {"hostdev_vfio_persist_add()", "hostdev persist add ADDRESS"},
    {"hostdev_vfio_persist_remove_vfs() and hostdev_vfio_persist_add_vfs()",
     "hostdev persist remove-vfs/add-vfs"},
    {"hostdev_vfio_persist_remove_vfs()", "hostdev persist remove-vfs PF"},
    {"hostdev_vfio_persist_remove_mdev()", "hostdev persist remove-mdev UUID"},
    {"hostdev_vfio_persist_add_vfs()", "hostdev persist add-vfs PF N"},
    {"hostdev_vfio_persist_remove_vgpu() and hostdev_vfio_persist_add_vgpu()",
     "hostdev persist remove-vgpu/add-vgpu"},
    {"hostdev_vfio_persist_remove_vgpu()", "hostdev persist remove-vgpu VF"},
    {"hostdev_vfio_persist_remove()", "hostdev persist remove ADDRESS"},
    {"hostdev_vgpu_read()", "`hostdev vgpu list`"},
    {"hostdev_vgpu_clear_type()", "hostdev vgpu clear VF"},
    {"hostdev_vgpu_set_type()", "hostdev vgpu set VF TYPE"},
};

char *cli_spelling(const char *message)
{
	size_t size = strlen(message) + 1, len = 0;
	char *out;

	/* Room for every replacement (an over-estimate: each adds its whole CLI text). */
	for (size_t k = 0; k < sizeof(cli_words) / sizeof(cli_words[0]); k++)
		for (const char *p = strstr(message, cli_words[k].api); p;
		     p = strstr(p + 1, cli_words[k].api))
			size += strlen(cli_words[k].cli);
	out = malloc(size);
	if (!out)
		return NULL;
	for (const char *p = message; *p;) {
		size_t k = 0;

		while (k < sizeof(cli_words) / sizeof(cli_words[0]) &&
		       strncmp(p, cli_words[k].api, strlen(cli_words[k].api)) != 0)
			k++;
		if (k < sizeof(cli_words) / sizeof(cli_words[0])) {
			memcpy(out + len, cli_words[k].cli, strlen(cli_words[k].cli));
			len += strlen(cli_words[k].cli);
			p += strlen(cli_words[k].api);
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	return out;
}

int cli_lib_error(struct cli *cli, int err, const char *what)
{
	const char *message = cli->ctx ? hostdev_ctx_get_error(cli->ctx) : "";

	/* The library's message already names the device or path and the remedy. */
	if (message[0]) {
		char *spelled = cli_spelling(message);

		cli_error("%s", spelled ? spelled : message);
		free(spelled);
	} else if (what && what[0])
		cli_error("%s: %s", what, strerror(err < 0 ? -err : err));
	else
		cli_error("%s", strerror(err < 0 ? -err : err));
	return CLI_EXIT_FAILURE;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("hostdev: ", stderr);
	if (cli->command)
		fprintf(stderr, "%s: ", cli->command->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cli->command)
		fprintf(stderr, " (see 'hostdev %s --help')\n", cli->command->name);
	else
		fputs(" (see 'hostdev --help')\n", stderr);
	return CLI_EXIT_USAGE;
}

cJSON *cli_device_json(struct cli *cli, hostdev_pci_device *dev)
{
	char *text = NULL;
	cJSON *json;
	int r;

	r = hostdev_pci_device_to_json(dev, 0, &text);
	if (r < 0) {
		cli_lib_error(cli, r, NULL);
		return NULL;
	}
	json = cJSON_Parse(text);
	hostdev_free(text);
	if (!json)
		cli_error("%s: the library produced JSON that does not parse",
			  hostdev_pci_device_get_address(dev));
	return json;
}

cJSON *cli_json_document(void)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc && !cJSON_AddNumberToObject(doc, "schema_version", CLI_JSON_SCHEMA_VERSION))
		doc = (cJSON_Delete(doc), NULL);
	return doc;
}

/*
 * A growing text buffer for the indented JSON. It replaces an open_memstream() written a character
 * at a time, whose stdio calls cost more than the library's serialisation itself (`hostdev list
 * --json`: 23% of the instructions at 1,000 functions).
 */
static bool text_reserve(struct cli_text *t, size_t more)
{
	size_t capacity;
	char *grown;

	if (t->oom)
		return false;
	if (t->length + more < t->capacity)
		return true;
	capacity = t->capacity ? t->capacity : 4096;
	while (capacity <= t->length + more)
		capacity *= 2;
	grown = realloc(t->data, capacity);
	if (!grown) {
		t->oom = true;
		return false;
	}
	t->data = grown;
	t->capacity = capacity;
	return true;
}

void cli_text_put(struct cli_text *t, const char *bytes, size_t n)
{
	if (!text_reserve(t, n))
		return;
	memcpy(t->data + t->length, bytes, n);
	t->length += n;
}

void cli_text_free(struct cli_text *t)
{
	free(t->data);
	memset(t, 0, sizeof(*t));
}

void cli_text_puts(struct cli_text *t, const char *s)
{
	cli_text_put(t, s, strlen(s));
}

void cli_text_hex(struct cli_text *t, unsigned int value, int digits)
{
	static const char hex[] = "0123456789abcdef";
	char text[8];

	if (digits > 8)
		digits = 8;
	for (int i = 0; i < digits; i++)
		text[digits - 1 - i] = hex[(value >> (4 * i)) & 0xf];
	cli_text_put(t, text, (size_t)digits);
}

void cli_text_int(struct cli_text *t, int value)
{
	char text[16], *p = text + sizeof(text);
	unsigned int magnitude = value < 0 ? 0u - (unsigned int)value : (unsigned int)value;

	do {
		*--p = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude);
	if (value < 0)
		*--p = '-';
	cli_text_put(t, p, (size_t)(text + sizeof(text) - p));
}

int cli_stdout_errno;

bool cli_text_write(struct cli_text *t, FILE *out)
{
	const char *p = t->data;
	size_t left = t->length;
	bool ok = left == 0 || fflush(out) == 0;

	/*
	 * Straight to the file descriptor, after what stdio holds: stdout is line-buffered (main.c),
	 * and stdio splits a block it cannot take whole into a write(2) per line.
	 */
	while (ok && left) {
		ssize_t n = write(fileno(out), p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			if (out == stdout)
				cli_stdout_errno = errno;
			ok = false;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	t->length = 0;
	return ok;
}

void cli_text_class(struct cli_text *t, hostdev_pci_device *dev)
{
	const char *name = hostdev_pci_device_get_subclass_name(dev);

	/* lspci names the subclass, falls back on the class, and prints "Class" when both are
	 * unknown. */
	if (!name)
		name = hostdev_pci_device_get_class_name(dev);
	cli_text_puts(t, name ? name : "Class");
	cli_text_put(t, " [", 2);
	cli_text_hex(t, (hostdev_pci_device_get_class(dev) >> 8) & 0xffff, 4);
	cli_text_put(t, "]", 1);
}

void cli_text_lspci_line(struct cli_text *t, hostdev_pci_device *dev)
{
	const char *vendor = hostdev_pci_device_get_vendor_name(dev);
	const char *device = hostdev_pci_device_get_device_name(dev);
	unsigned int revision = hostdev_pci_device_get_revision(dev);

	cli_text_puts(t, hostdev_pci_device_get_address(dev));
	cli_text_put(t, " ", 1);
	cli_text_class(t, dev);
	cli_text_put(t, ": ", 2);
	if (vendor) {
		cli_text_puts(t, vendor);
		cli_text_put(t, " ", 1);
		cli_text_puts(t, device ? device : "Device");
	} else {
		cli_text_put(t, "Device", 6);
	}
	cli_text_put(t, " [", 2);
	cli_text_hex(t, hostdev_pci_device_get_vendor_id(dev) & 0xffff, 4);
	cli_text_put(t, ":", 1);
	cli_text_hex(t, hostdev_pci_device_get_device_id(dev) & 0xffff, 4);
	cli_text_put(t, "]", 1);
	if (revision) {
		cli_text_put(t, " (rev ", 6);
		cli_text_hex(t, revision & 0xff, 2);
		cli_text_put(t, ")", 1);
	}
}

void cli_print_lspci_line(FILE *out, hostdev_pci_device *dev)
{
	struct cli_text t = {0};

	cli_text_lspci_line(&t, dev);
	if (!t.oom)
		cli_text_write(&t, out);
	cli_text_free(&t);
}

static void newline_indent(struct cli_text *t, int depth)
{
	size_t n = depth > 0 ? 2 * (size_t)depth : 0;

	if (!text_reserve(t, n + 1))
		return;
	t->data[t->length++] = '\n';
	memset(t->data + t->length, ' ', n);
	t->length += n;
}

/*
 * Print cJSON's compact text with two-space indentation, one member per line and "key": value, the
 * layout of `jq .` and Python's json.dumps(indent=2), which reads better than cJSON_Print's tabs.
 * Compact cJSON output has no whitespace outside strings, so only string state must be tracked.
 * @depth is the indentation level of the text's first line; no newline is added at the end.
 * Strings and scalars are copied as whole runs; only the structural characters are looked at.
 */
static void indent_json(struct cli_text *t, const char *text, int depth)
{
	const char *p = text;

	while (*p) {
		size_t run = strcspn(p, "\"{}[],:");

		cli_text_put(t, p, run);
		p += run;
		switch (*p) {
		case '\0':
			return;
		case '"': {
			/* The whole string: up to the closing quote, skipping escapes. */
			const char *q = p + 1;

			for (;;) {
				q += strcspn(q, "\"\\");
				if (*q != '\\' || !q[1])
					break;
				q += 2;
			}
			if (*q)
				q++;
			cli_text_put(t, p, (size_t)(q - p));
			p = q;
			continue;
		}
		case '{':
		case '[':
			if (p[1] == '}' || p[1] == ']') {
				cli_text_put(t, p, 2); /* keep {} and [] on one line */
				p += 2;
				continue;
			}
			cli_text_put(t, p, 1);
			newline_indent(t, ++depth);
			break;
		case '}':
		case ']':
			newline_indent(t, --depth);
			cli_text_put(t, p, 1);
			break;
		case ',':
			cli_text_put(t, ",", 1);
			newline_indent(t, depth);
			break;
		case ':':
			cli_text_put(t, ": ", 2);
			break;
		}
		p++;
	}
}

/*
 * Write what the list holds to stdout. After a failed write, nothing more is written: the error is
 * reported once here (and cleared, so that main() does not report it again).
 */
static bool json_list_flush(struct cli_json_list *list)
{
	if (list->write_failed)
		return false;
	if (!cli_text_write(&list->text, stdout)) {
		int err = errno;

		cli_error("error writing standard output: %s", strerror(err));
		clearerr(stdout);
		cli_stdout_errno = 0;
		list->write_failed = true;
		return false;
	}
	list->written = list->count;
	return true;
}

int cli_json_list_begin(struct cli_json_list *list, const char *key)
{
	memset(list, 0, sizeof(*list));
	list->key = key;
	return CLI_EXIT_OK;
}

/* The document's head, written with the first device or at the end. */
static void json_list_head(struct cli_json_list *list)
{
	char head[128];
	int n;

	n = snprintf(head, sizeof(head), "{\n  \"schema_version\": %d,\n  \"%s\": [",
		     CLI_JSON_SCHEMA_VERSION, list->key);
	if (n <= 0 || (size_t)n >= sizeof(head))
		list->text.oom = true; /* a key of ours is never that long */
	else
		cli_text_put(&list->text, head, (size_t)n);
}

int cli_json_list_add(struct cli_json_list *list, const char *nested)
{
	if (list->count++)
		cli_text_put(&list->text, ",\n    ", 6);
	else {
		json_list_head(list);
		cli_text_put(&list->text, "\n    ", 5);
	}
	cli_text_put(&list->text, nested, strlen(nested));
	if (list->text.oom) {
		cli_error("out of memory while printing JSON");
		return CLI_EXIT_FAILURE;
	}
	if (list->text.length >= CLI_JSON_LIST_FLUSH && !json_list_flush(list))
		return CLI_EXIT_FAILURE;
	return CLI_EXIT_OK;
}

int cli_json_list_finish(struct cli_json_list *list, bool complete)
{
	int code = CLI_EXIT_OK;

	if (complete) {
		if (list->count)
			cli_text_put(&list->text, "\n  ]\n}\n", 7);
		else {
			json_list_head(list);
			cli_text_put(&list->text, "]\n}\n", 4);
		}
		if (list->text.oom) {
			cli_error("out of memory while printing JSON");
			/* Whatever was written stays unterminated. */
			code = CLI_EXIT_FAILURE;
		} else if (!json_list_flush(list)) {
			code = CLI_EXIT_FAILURE;
		}
	} else if (list->count) {
		/* The entries written before the failure stay, without the closing brackets: no
		 * JSON parser accepts the text, and the exit status is not 0. */
		if (!list->text.oom)
			json_list_flush(list);
		if (list->written && !list->write_failed)
			cli_error("the JSON on standard output stops after %zu complete %s and is "
				  "left unterminated",
				  list->written, list->written == 1 ? "entry" : "entries");
		code = CLI_EXIT_FAILURE;
	}
	cli_text_free(&list->text);
	list->count = 0;
	return code;
}

int cli_json_print(cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	struct cli_text indented = {0};

	/*
	 * Indent into memory and write the document with one fwrite(): stdout is line-buffered, and
	 * character by character output would cost one write(2) per line (50 per device).
	 */
	if (text) {
		indent_json(&indented, text, 0);
		cli_text_put(&indented, "\n", 1);
	}
	cJSON_free(text);
	if (!text || indented.oom) {
		cli_text_free(&indented);
		cli_error("out of memory while printing JSON");
		return CLI_EXIT_FAILURE;
	}
	fwrite(indented.data, 1, indented.length, stdout);
	cli_text_free(&indented);
	return CLI_EXIT_OK;
}

bool cli_json_add_string(cJSON *object, const char *key, const char *value)
{
	cJSON *item = value ? cJSON_CreateString(value) : cJSON_CreateNull();

	if (!item)
		return false;
	if (!cJSON_AddItemToObject(object, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}
