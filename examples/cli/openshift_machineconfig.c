/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev openshift iommu` and `vfiopci`: MachineConfigs (machineconfiguration.openshift.io/v1,
 * Ignition 3.2.0) for the IOMMU kernel arguments and for the vfio-pci boot configuration, the
 * latter as Ignition storage.files with data: URLs, so that no Butane step is needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openshift.h"

/* Ignition's mode is a decimal integer: 0644. */
#define FILE_MODE 0644

/* {"apiVersion", "kind", "metadata": {"name", labels: {role}}, "spec": {config: {ignition}}}. */
static cJSON *machine_config(const struct openshift_options *o, const char *name, cJSON **spec,
			     cJSON **config)
{
	cJSON *doc = cJSON_CreateObject(), *metadata, *labels, *ignition;

	if (!doc || !cJSON_AddStringToObject(doc, "apiVersion", MC_API_VERSION) ||
	    !cJSON_AddStringToObject(doc, "kind", "MachineConfig") ||
	    !(metadata = cJSON_AddObjectToObject(doc, "metadata")) ||
	    !(labels = cJSON_AddObjectToObject(metadata, "labels")) ||
	    !cJSON_AddStringToObject(labels, MC_ROLE_LABEL, o->role) ||
	    !cJSON_AddStringToObject(metadata, "name", name) ||
	    !(*spec = cJSON_AddObjectToObject(doc, "spec")) ||
	    !(*config = cJSON_AddObjectToObject(*spec, "config")) ||
	    !(ignition = cJSON_AddObjectToObject(*config, "ignition")) ||
	    !cJSON_AddStringToObject(ignition, "version", IGNITION_VERSION)) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/* The MachineConfig name: --name, or OpenShift's "100-<role>-<purpose>". */
static int machine_config_name(struct cli *cli, const struct openshift_options *o,
			       const char *purpose, char *buf, size_t size)
{
	if (o->name)
		snprintf(buf, size, "%s", o->name);
	else
		snprintf(buf, size, "100-%s-%s", o->role, purpose);
	if (!openshift_valid_dns_name(buf, true))
		return cli_usage_error(
		    cli,
		    "'%s' is not a valid MachineConfig name (lower-case letters, "
		    "digits, '-' and '.', at most 253, starting and ending "
		    "alphanumeric)%s",
		    buf, o->name ? "" : ": pass --name NAME");
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* iommu */

/* "intel" or "amd" from <proc>/cpuinfo's vendor_id, or an error. */
static int detect_cpu_vendor(struct cli *cli, const char **vendor)
{
	char path[4096], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cpuinfo",
		 hostdev_ctx_get_path(cli->ctx, HOSTDEV_PATH_PROC));
	f = fopen(path, "re");
	if (!f) {
		cli_error("cannot read %s to tell the CPU vendor (%s): pass --cpu-vendor intel or "
			  "--cpu-vendor amd",
			  path, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	*vendor = NULL;
	while (!*vendor && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "vendor_id", 9) != 0)
			continue;
		if (strstr(line, "GenuineIntel"))
			*vendor = "intel";
		else if (strstr(line, "AuthenticAMD") || strstr(line, "HygonGenuine"))
			*vendor = "amd";
		else {
			line[strcspn(line, "\n")] = '\0';
			fclose(f);
			cli_error("%s: unknown CPU vendor (\"%s\"): the IOMMU kernel arguments are "
				  "known for Intel and AMD; pass --cpu-vendor intel or amd if one "
				  "applies",
				  path, line);
			return CLI_EXIT_FAILURE;
		}
	}
	fclose(f);
	if (!*vendor) {
		cli_error("%s has no vendor_id line (not an x86 host?): pass --cpu-vendor intel or "
			  "--cpu-vendor amd",
			  path);
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

int openshift_iommu(struct cli *cli, const struct openshift_options *o)
{
	const char *vendor = o->cpu_vendor;
	char name[300], comment[1024];
	cJSON *doc, *spec, *config, *args;
	int code;

	code = machine_config_name(cli, o, "iommu", name, sizeof(name));
	if (code != CLI_EXIT_OK)
		return code;
	if (!vendor && (code = detect_cpu_vendor(cli, &vendor)) != CLI_EXIT_OK)
		return code;
	doc = machine_config(o, name, &spec, &config);
	args = doc ? cJSON_AddArrayToObject(spec, "kernelArguments") : NULL;
	/*
	 * Intel's VT-d is off unless intel_iommu=on. AMD-Vi is on whenever the firmware enables it:
	 * the kernel's amd_iommu= has no "on" value (Documentation/admin-guide/kernel-parameters).
	 * iommu=pt keeps host DMA unmapped (identity) for the devices the host keeps.
	 */
	if (args && strcmp(vendor, "intel") == 0)
		cJSON_AddItemToArray(args, cJSON_CreateString("intel_iommu=on"));
	if (args)
		cJSON_AddItemToArray(args, cJSON_CreateString("iommu=pt"));
	if (!args || cJSON_GetArraySize(args) != (strcmp(vendor, "intel") == 0 ? 2 : 1)) {
		cJSON_Delete(doc);
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	snprintf(comment, sizeof(comment),
		 "# IOMMU kernel arguments for %s CPUs (%s), role %s. Apply with:\n"
		 "#   oc apply -f FILE   (the Machine Config Operator reboots the nodes one by "
		 "one)\n",
		 strcmp(vendor, "intel") == 0 ? "Intel" : "AMD",
		 strcmp(vendor, "intel") == 0
		     ? "VT-d is off until intel_iommu=on"
		     : "AMD-Vi is on by default; amd_iommu has no 'on' value",
		 o->role);
	code = openshift_print(o, comment, doc);
	cJSON_Delete(doc);
	return code;
}

/* ---------------------------------------------------------------------------------------------- */
/* vfiopci */

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* "data:text/plain;charset=utf-8;base64,<@text>" (RFC 2397), malloc'ed; NULL out of memory. */
static char *data_url(const char *text)
{
	static const char prefix[] = "data:text/plain;charset=utf-8;base64,";
	size_t n = strlen(text), o = sizeof(prefix) - 1;
	char *url = malloc(o + (n + 2) / 3 * 4 + 1);
	const unsigned char *s = (const unsigned char *)text;

	if (!url)
		return NULL;
	memcpy(url, prefix, o);
	for (size_t i = 0; i < n; i += 3) {
		unsigned int v =
		    s[i] << 16 | (i + 1 < n ? s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

		url[o++] = base64_alphabet[v >> 18 & 63];
		url[o++] = base64_alphabet[v >> 12 & 63];
		url[o++] = i + 1 < n ? base64_alphabet[v >> 6 & 63] : '=';
		url[o++] = i + 2 < n ? base64_alphabet[v & 63] : '=';
	}
	url[o] = '\0';
	return url;
}

/* One storage.files entry: root-owned @path with @text, mode 0644, replacing any file there. */
static bool add_file(cJSON *files, const char *path, const char *text)
{
	cJSON *file = cJSON_CreateObject(), *contents;
	char *url = data_url(text);
	bool ok = file && url && cJSON_AddStringToObject(file, "path", path) &&
		  cJSON_AddNumberToObject(file, "mode", FILE_MODE) &&
		  cJSON_AddBoolToObject(file, "overwrite", true) &&
		  (contents = cJSON_AddObjectToObject(file, "contents")) &&
		  cJSON_AddStringToObject(contents, "source", url);

	free(url);
	if (ok)
		cJSON_AddItemToArray(files, file);
	else
		cJSON_Delete(file);
	return ok;
}

/* @text with every line as a YAML comment line "#   <line>". */
static void comment_lines(FILE *f, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(f, "#   %.*s\n", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

int openshift_vfiopci(struct cli *cli, const struct openshift_options *o)
{
	char name[300], *conf = NULL, *comment = NULL;
	size_t comment_size = 0;
	cJSON *doc = NULL, *spec, *config, *storage, *files;
	FILE *f;
	int code;

	code = machine_config_name(cli, o, "vfiopci", name, sizeof(name));
	if (code != CLI_EXIT_OK)
		return code;
	code = cli_modprobe_conf(cli, &conf);
	if (code != CLI_EXIT_OK)
		return code;
	f = open_memstream(&comment, &comment_size);
	if (f) {
		fprintf(f,
			"# vfio-pci claims the devices of the persistent list at boot, role %s.\n"
			"# Apply with `oc apply -f FILE` (the nodes reboot one by one). Files:\n"
			"# " MODPROBE_PATH ":\n",
			o->role);
		comment_lines(f, conf);
		fputs("# " MODULES_LOAD_PATH ":\n#   vfio-pci\n", f);
		if (fclose(f) != 0) {
			free(comment);
			comment = NULL;
		}
	}
	doc = comment ? machine_config(o, name, &spec, &config) : NULL;
	if (!doc || !(storage = cJSON_AddObjectToObject(config, "storage")) ||
	    !(files = cJSON_AddArrayToObject(storage, "files")) ||
	    !add_file(files, MODPROBE_PATH, conf) ||
	    !add_file(files, MODULES_LOAD_PATH, "vfio-pci\n")) {
		cli_error("out of memory");
		code = CLI_EXIT_FAILURE;
	} else {
		code = openshift_print(o, comment, doc);
	}
	cJSON_Delete(doc);
	free(comment);
	hostdev_free(conf);
	return code;
}
