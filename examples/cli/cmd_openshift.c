/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev openshift iommu|vfiopci|hyperconverged`: the objects OpenShift Virtualization's host
 * preparation asks for (docs/openshift.md), from what this host's `hostdev persist` list and
 * device-plugin config hold:
 *   - iommu: a MachineConfig with the IOMMU kernel arguments (OpenShift's "100-worker-iommu");
 *   - vfiopci: a MachineConfig that lays down /etc/modprobe.d/vfio.conf and
 *     /etc/modules-load.d/vfio-pci.conf as Ignition 3.2.0 files with data: URLs, what the
 *     OpenShift docs build with Butane ("100-worker-vfiopci"), so no Butane is needed;
 *   - hyperconverged: the HyperConverged CR's spec.permittedHostDevices, as a merge patch for
 *     `oc patch --type merge` or (--object) a whole object for `oc apply`.
 * The action names are those of the OpenShift documentation's object names, which is what an
 * admin following it looks for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openshift.h"
#include "serve.h"

enum {
	OPT_ROLE = 0x200,
	OPT_NAME,
	OPT_NAMESPACE,
	OPT_CPU_VENDOR,
	OPT_OBJECT,
	OPT_PERSISTED,
	OPT_CONFIG,
	OPT_JSON,
};

#define MC_API_VERSION "machineconfiguration.openshift.io/v1"
#define MC_ROLE_LABEL "machineconfiguration.openshift.io/role"
#define IGNITION_VERSION "3.2.0"
#define HCO_API_VERSION "hco.kubevirt.io/v1beta1"
#define MODPROBE_PATH "/etc/modprobe.d/vfio.conf"
#define MODULES_LOAD_PATH "/etc/modules-load.d/vfio-pci.conf"
/* Ignition's mode is a decimal integer: 0644. */
#define FILE_MODE 0644

struct options {
	const char *role;
	const char *name;
	const char *namespace;
	const char *cpu_vendor;
	const char *config_path;
	bool object;
	bool persisted;
	bool json;
	struct serve_resource_flags flags;
};

/* ---------------------------------------------------------------------------------------------- */
/* Names */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A label value: at most 63 characters, alphanumerics and "-_." inside, alphanumeric ends. */
static bool valid_label_value(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/*
 * An RFC 1123 subdomain (object names, at most 253) or, without @dots, an RFC 1123 label
 * (namespaces, at most 63): lower-case alphanumerics and '-', each dot-separated part starting
 * and ending alphanumeric.
 */
static bool valid_dns_name(const char *s, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > (dots ? 253 : 63) || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && dots && is_lower_alnum(s[i - 1]) && is_lower_alnum(s[i + 1]))
			continue;
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Output */

/* Print @doc as YAML after the comment lines @comment (each line "# ..."), or as JSON. */
static int print_object(const struct options *o, const char *comment, cJSON *doc)
{
	if (o->json)
		return cli_json_print(doc);
	if (comment)
		fputs(comment, stdout);
	return cli_yaml_print(stdout, doc);
}

/* {"apiVersion", "kind", "metadata": {"name", labels: {role}}, "spec": {config: {ignition}}}. */
static cJSON *machine_config(const struct options *o, const char *name, cJSON **spec,
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
static int machine_config_name(struct cli *cli, const struct options *o, const char *purpose,
			       char *buf, size_t size)
{
	if (o->name)
		snprintf(buf, size, "%s", o->name);
	else
		snprintf(buf, size, "100-%s-%s", o->role, purpose);
	if (!valid_dns_name(buf, true))
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

static int run_iommu(struct cli *cli, const struct options *o)
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
	code = print_object(o, comment, doc);
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

static int run_vfiopci(struct cli *cli, const struct options *o)
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
		code = print_object(o, comment, doc);
	}
	cJSON_Delete(doc);
	free(comment);
	free(conf);
	return code;
}

/* ---------------------------------------------------------------------------------------------- */
/* hyperconverged */

/* The entry of @list whose @key is @value, or NULL. */
static cJSON *find_entry(cJSON *list, const char *key, const char *value)
{
	cJSON *e;

	cJSON_ArrayForEach(e, list)
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);

		if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
			return e;
	}
	return NULL;
}

/*
 * Append @entry (owned) to @list unless an equal one is there. Two entries with the same
 * selector and different resources are refused: KubeVirt would serve one device under two names.
 */
static int add_entry(cJSON *list, const char *selector_key, cJSON *entry)
{
	const cJSON *selector = cJSON_GetObjectItemCaseSensitive(entry, selector_key);
	cJSON *old =
	    cJSON_IsString(selector) ? find_entry(list, selector_key, selector->valuestring) : NULL;

	if (old && cJSON_Compare(old, entry, true)) {
		cJSON_Delete(entry);
		return CLI_EXIT_OK;
	}
	if (old) {
		cli_error(
		    "%s %s is permitted twice, as \"%s\" and as \"%s\": a device can only be "
		    "served under one name; remove it from the persistent list (`hostdev "
		    "persist remove`) or from the device-plugin config",
		    selector_key, selector->valuestring,
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(old, "resourceName")),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "resourceName")));
		cJSON_Delete(entry);
		return CLI_EXIT_USAGE;
	}
	cJSON_AddItemToArray(list, entry);
	return CLI_EXIT_OK;
}

/*
 * The persistent list: one pciHostDevices entry per vendor:device, served by KubeVirt's own
 * device plugin (the devices are on vfio-pci from boot), named by the pooled resource rule.
 */
static int add_persisted(struct cli *cli, cJSON *pci)
{
	hostdev_vfio_persist *p = NULL;
	int r = hostdev_vfio_persist_read(cli->ctx, &p), code = CLI_EXIT_OK;
	size_t n;

	if (r < 0)
		return cli_lib_error(cli, r, "cannot read the persistent list");
	n = hostdev_vfio_persist_get_count(p);
	if (n == 0) {
		cli_error("the persistent list %s is empty: add devices with `hostdev persist add "
			  "ADDRESS`, or permit the resources of a device-plugin config with "
			  "--config FILE",
			  hostdev_vfio_persist_get_path(p));
		hostdev_vfio_persist_unref(p);
		return CLI_EXIT_FAILURE;
	}
	for (size_t i = 0; i < n && code == CLI_EXIT_OK; i++) {
		const char *address = hostdev_vfio_persist_get_address(p, i);
		hostdev_pci_device *dev;
		const char *resource;
		cJSON *entry;
		char id[16];

		snprintf(id, sizeof(id), "%04x:%04x", hostdev_vfio_persist_get_vendor_id(p, i),
			 hostdev_vfio_persist_get_device_id(p, i));
		r = hostdev_pci_device_new(cli->ctx, address, &dev);
		if (r < 0) {
			cli_error(
			    "%s (listed in %s as %s) is not on this host, so its resource "
			    "cannot be named: run this where the device is, or remove it with "
			    "`hostdev persist remove %s`",
			    address, hostdev_vfio_persist_get_path(p), id, address);
			code = CLI_EXIT_FAILURE;
			break;
		}
		resource = hostdev_pci_device_get_resource_name(dev);
		if (!resource) {
			cli_error("%s: cannot build its resource name (out of memory)", address);
			hostdev_pci_device_unref(dev);
			code = CLI_EXIT_FAILURE;
			break;
		}
		entry = cJSON_CreateObject();
		if (!entry || !cJSON_AddStringToObject(entry, "pciDeviceSelector", id) ||
		    !cJSON_AddStringToObject(entry, "resourceName", resource)) {
			cJSON_Delete(entry);
			cli_error("out of memory");
			code = CLI_EXIT_FAILURE;
		} else {
			code = add_entry(pci, "pciDeviceSelector", entry);
		}
		hostdev_pci_device_unref(dev);
	}
	hostdev_vfio_persist_unref(p);
	return code;
}

/* Move the entries of the library's KubeVirt section @from into HyperConverged's @to. */
static int move_entries(cJSON *from, cJSON *to, const char *selector_key, const char *kubevirt_key)
{
	cJSON *e;

	while (from && (e = cJSON_DetachItemFromArray(from, 0))) {
		int code;

		/*
		 * KubeVirt's CR says pciVendorSelector where HyperConverged says pciDeviceSelector:
		 * rebuild the entry with the selector renamed and kept first.
		 */
		if (kubevirt_key) {
			cJSON *renamed = cJSON_CreateObject(), *m;
			cJSON *selector = cJSON_DetachItemFromObjectCaseSensitive(e, kubevirt_key);

			if (!renamed || !selector) {
				cJSON_Delete(renamed);
				cJSON_Delete(selector);
				cJSON_Delete(e);
				cli_error(
				    "out of memory, or the library's permittedHostDevices entry "
				    "lacks %s",
				    kubevirt_key);
				return CLI_EXIT_FAILURE;
			}
			cJSON_AddItemToObject(renamed, selector_key, selector);
			/* cJSON copies the new key before it frees the item's old one. */
			while ((m = e->child) && cJSON_DetachItemViaPointer(e, m))
				cJSON_AddItemToObject(renamed, m->string, m);
			cJSON_Delete(e);
			e = renamed;
		}
		code = add_entry(to, selector_key, e);
		if (code != CLI_EXIT_OK)
			return code;
	}
	return CLI_EXIT_OK;
}

/* The resources of the config (--config or resource flags), served by hostdev's plugins. */
static int add_config(struct cli *cli, struct options *o, cJSON *pci, cJSON *mdev, cJSON *usb)
{
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *res = NULL;
	cJSON *parsed = NULL, *permitted;
	char *text = NULL;
	int code, r;

	code = serve_resolve(cli, o->config_path, &o->flags, &config, &res);
	if (code != CLI_EXIT_OK)
		goto out;
	r = hostdev_dp_resources_permitted_host_devices(res, HOSTDEV_DP_FORMAT_JSON, &text);
	if (r < 0) {
		code = cli_lib_error(cli, r, "cannot build permittedHostDevices");
		goto out;
	}
	parsed = cJSON_Parse(text);
	permitted = cJSON_GetObjectItemCaseSensitive(parsed, "permittedHostDevices");
	if (!cJSON_IsObject(permitted)) {
		cli_error("the library's permittedHostDevices does not parse");
		code = CLI_EXIT_FAILURE;
		goto out;
	}
	code = move_entries(cJSON_GetObjectItemCaseSensitive(permitted, "pciHostDevices"), pci,
			    "pciDeviceSelector", "pciVendorSelector");
	if (code == CLI_EXIT_OK)
		code = move_entries(cJSON_GetObjectItemCaseSensitive(permitted, "mediatedDevices"),
				    mdev, "mdevNameSelector", NULL);
	if (code == CLI_EXIT_OK)
		code = move_entries(cJSON_GetObjectItemCaseSensitive(permitted, "usb"), usb,
				    "resourceName", NULL);
out:
	cJSON_Delete(parsed);
	hostdev_free(text);
	hostdev_dp_resources_free(res);
	hostdev_dp_config_free(config);
	return code;
}

static int run_hyperconverged(struct cli *cli, struct options *o)
{
	const char *name = o->name ? o->name : "kubevirt-hyperconverged";
	const char *namespace = o->namespace ? o->namespace : "openshift-cnv";
	bool from_config = o->config_path || serve_resource_flags_given(&o->flags);
	cJSON *doc = cJSON_CreateObject(), *spec = NULL, *permitted = NULL, *metadata;
	cJSON *pci = cJSON_CreateArray(), *mdev = cJSON_CreateArray(), *usb = cJSON_CreateArray();
	char comment[1024];
	int code = CLI_EXIT_OK;

	if (!valid_dns_name(name, true)) {
		code = cli_usage_error(cli, "--name '%s' is not a valid object name", name);
		goto out;
	}
	if (!valid_dns_name(namespace, false)) {
		code = cli_usage_error(cli,
				       "--namespace '%s' is not a valid namespace (lower-case "
				       "letters, digits and '-', at most 63)",
				       namespace);
		goto out;
	}
	if (!doc || !pci || !mdev || !usb) {
		cli_error("out of memory");
		code = CLI_EXIT_FAILURE;
		goto out;
	}
	if (from_config)
		code = add_config(cli, o, pci, mdev, usb);
	if (code == CLI_EXIT_OK && (o->persisted || !from_config))
		code = add_persisted(cli, pci);
	if (code != CLI_EXIT_OK)
		goto out;
	if (!cJSON_GetArraySize(pci) && !cJSON_GetArraySize(mdev) && !cJSON_GetArraySize(usb)) {
		cli_error("nothing to permit: the config's resources match no device on this host "
			  "(check it with `hostdev serve --dry-run`)");
		code = CLI_EXIT_FAILURE;
		goto out;
	}
	if (o->object && (!cJSON_AddStringToObject(doc, "apiVersion", HCO_API_VERSION) ||
			  !cJSON_AddStringToObject(doc, "kind", "HyperConverged") ||
			  !(metadata = cJSON_AddObjectToObject(doc, "metadata")) ||
			  !cJSON_AddStringToObject(metadata, "name", name) ||
			  !cJSON_AddStringToObject(metadata, "namespace", namespace)))
		goto oom;
	if (!(spec = cJSON_AddObjectToObject(doc, "spec")) ||
	    !(permitted = cJSON_AddObjectToObject(spec, "permittedHostDevices")))
		goto oom;
	/* The sections in the order HyperConverged's API documents them. */
	if (cJSON_GetArraySize(pci))
		cJSON_AddItemToObject(permitted, "pciHostDevices", pci), pci = NULL;
	if (cJSON_GetArraySize(usb))
		cJSON_AddItemToObject(permitted, "usbHostDevices", usb), usb = NULL;
	if (cJSON_GetArraySize(mdev))
		cJSON_AddItemToObject(permitted, "mediatedDevices", mdev), mdev = NULL;
	if (o->object)
		snprintf(comment, sizeof(comment),
			 "# HyperConverged %s/%s: the host devices VMs may use. Apply with:\n"
			 "#   oc apply -f FILE\n"
			 "# (these lists replace the CR's permittedHostDevices lists whole)\n",
			 namespace, name);
	else
		snprintf(comment, sizeof(comment),
			 "# Merge patch of HyperConverged %s/%s: the host devices VMs may use.\n"
			 "#   oc patch hyperconverged %s -n %s --type merge --patch-file FILE\n"
			 "# (a merge patch replaces the CR's permittedHostDevices lists whole)\n",
			 namespace, name, name, namespace);
	code = print_object(o, comment, doc);
	goto out;
oom:
	cli_error("out of memory");
	code = CLI_EXIT_FAILURE;
out:
	cJSON_Delete(doc);
	cJSON_Delete(pci);
	cJSON_Delete(mdev);
	cJSON_Delete(usb);
	return code;
}

/* ---------------------------------------------------------------------------------------------- */

static int parse(struct cli *cli, int argc, char **argv, struct options *o)
{
	static const struct option options[] = {
	    {"role", required_argument, NULL, OPT_ROLE},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"namespace", required_argument, NULL, OPT_NAMESPACE},
	    {"cpu-vendor", required_argument, NULL, OPT_CPU_VENDOR},
	    {"object", no_argument, NULL, OPT_OBJECT},
	    {"persisted", no_argument, NULL, OPT_PERSISTED},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"json", no_argument, NULL, OPT_JSON},
	    SERVE_RESOURCE_LONG_OPTIONS,
	    CLI_GLOBAL_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, code;

	while ((c = cli_getopt(cli, argc, argv, ":" CLI_GLOBAL_SHORT_OPTIONS, options)) >= 0) {
		switch (c) {
		case OPT_ROLE:
			o->role = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_NAMESPACE:
			o->namespace = optarg;
			break;
		case OPT_CPU_VENDOR:
			o->cpu_vendor = optarg;
			break;
		case OPT_OBJECT:
			o->object = true;
			break;
		case OPT_PERSISTED:
			o->persisted = true;
			break;
		case OPT_CONFIG:
			o->config_path = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		default:
			code = serve_resource_flag(cli, &o->flags, c, optarg);
			if (code != CLI_EXIT_OK)
				return code;
			break;
		}
	}
	return c == CLI_GETOPT_END ? CLI_EXIT_OK : cli_getopt_exit_code(c);
}

/* Options that do not belong to @action are refused rather than silently ignored. */
static int check_options(struct cli *cli, const char *action, struct options *o)
{
	bool mc = strcmp(action, "iommu") == 0 || strcmp(action, "vfiopci") == 0;
	bool hco = strcmp(action, "hyperconverged") == 0;

	if (!mc && o->role)
		return cli_usage_error(cli, "--role only applies to iommu and vfiopci");
	if (o->cpu_vendor && strcmp(action, "iommu") != 0)
		return cli_usage_error(cli, "--cpu-vendor only applies to iommu");
	if (o->cpu_vendor && strcmp(o->cpu_vendor, "intel") != 0 &&
	    strcmp(o->cpu_vendor, "amd") != 0)
		return cli_usage_error(cli, "unknown --cpu-vendor '%s': intel or amd",
				       o->cpu_vendor);
	if (!hco && (o->namespace || o->object || o->persisted || o->config_path ||
		     serve_resource_flags_given(&o->flags)))
		return cli_usage_error(cli, "--namespace, --object, --persisted, --config and the "
					    "resource flags only apply to hyperconverged");
	if (hco && o->config_path && serve_resource_flags_given(&o->flags))
		return serve_check_source(cli, o->config_path, &o->flags);
	if (mc && !o->role)
		o->role = "worker";
	if (mc && !valid_label_value(o->role))
		return cli_usage_error(cli,
				       "--role '%s' is not a valid label value (letters, digits, "
				       "'-', '_' and '.', at most 63, alphanumeric at both ends)",
				       o->role);
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv)
{
	struct options o = {0};
	const char *action;
	int code;

	code = parse(cli, argc, argv, &o);
	if (code != CLI_EXIT_OK || cli->help || cli->version)
		goto out;
	if (optind >= argc) {
		code = cli_usage_error(cli, "missing action: iommu, vfiopci or hyperconverged");
		goto out;
	}
	action = argv[optind++];
	if (strcmp(action, "iommu") != 0 && strcmp(action, "vfiopci") != 0 &&
	    strcmp(action, "hyperconverged") != 0) {
		code = cli_usage_error(cli, "unknown action '%s': iommu, vfiopci or hyperconverged",
				       action);
		goto out;
	}
	if (optind < argc) {
		code = cli_usage_error(cli, "%s: unexpected argument '%s'", action, argv[optind]);
		goto out;
	}
	code = check_options(cli, action, &o);
	if (code != CLI_EXIT_OK)
		goto out;
	code = cli_open_ctx(cli);
	if (code != CLI_EXIT_OK)
		goto out;
	if (strcmp(action, "iommu") == 0)
		code = run_iommu(cli, &o);
	else if (strcmp(action, "vfiopci") == 0)
		code = run_vfiopci(cli, &o);
	else
		code = run_hyperconverged(cli, &o);
out:
	serve_resource_flags_release(&o.flags);
	return code;
}

const struct cli_command cli_cmd_openshift = {
    .name = "openshift",
    .summary = "Print OpenShift MachineConfigs and the HyperConverged patch for host devices.",
    .synopsis = "iommu [--role ROLE] [--name NAME] [--cpu-vendor intel|amd] [--json]\n"
		"       hostdev openshift vfiopci [--role ROLE] [--name NAME] [--json]\n"
		"       hostdev openshift hyperconverged [--persisted] [--config FILE | --resource "
		"NAME SELECTORS...]\n"
		"               [--object] [--name NAME] [--namespace NS] [--json]",
    .help =
	"Prints ready-to-apply YAML (JSON with --json) for OpenShift Virtualization\n"
	"(docs/openshift.md):\n"
	"\n"
	"Actions:\n"
	"  iommu           MachineConfig \"100-ROLE-iommu\" with the IOMMU kernel arguments:\n"
	"                  intel_iommu=on iommu=pt (Intel), iommu=pt (AMD: AMD-Vi is on by\n"
	"                  default). The vendor comes from /proc/cpuinfo unless --cpu-vendor.\n"
	"  vfiopci         MachineConfig \"100-ROLE-vfiopci\" writing " MODPROBE_PATH "\n"
	"                  (as `hostdev persist modprobe` prints it: the listed ids, their\n"
	"                  IOMMU group members' ids, softdeps) and " MODULES_LOAD_PATH ",\n"
	"                  Ignition " IGNITION_VERSION
	" files with data: URLs (no Butane needed).\n"
	"  hyperconverged  spec.permittedHostDevices of the HyperConverged CR: the persistent\n"
	"                  list's ids (KubeVirt's device plugin serves them) and/or the\n"
	"                  resources of a device-plugin config (externalResourceProvider:\n"
	"                  hostdev serve serves them). A merge patch for `oc patch --type\n"
	"                  merge`, or with --object a whole object for `oc apply`.\n"
	"\n"
	"Options:\n"
	"      --role ROLE        machineconfiguration.openshift.io/role label (default worker)\n"
	"      --name NAME        MachineConfig name, or the HyperConverged name (default\n"
	"                         kubevirt-hyperconverged)\n"
	"      --cpu-vendor V     intel or amd, instead of reading /proc/cpuinfo\n"
	"      --namespace NS     HyperConverged namespace (default openshift-cnv)\n"
	"      --object           the whole HyperConverged object instead of a merge patch\n"
	"      --persisted        with --config or a resource: add the persistent list too\n"
	"                         (it is the only source when neither is given)\n"
	"      --config FILE      device-plugin resource config (JSON, device-plugin.md)\n"
	"      --json             print JSON instead of YAML\n"
	"\n" SERVE_RESOURCE_HELP,
    .run = run,
};
