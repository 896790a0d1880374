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
 * admin following it looks for. This file parses and checks the options and dispatches; the
 * objects are built in openshift_machineconfig.c and openshift_hyperconverged.c.
 */
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

/* Also each dot-separated part starts and ends alphanumeric. */
bool openshift_valid_dns_name(const char *s, bool dots)
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
int openshift_print(const struct openshift_options *o, const char *comment, cJSON *doc)
{
	if (o->json)
		return cli_json_print(doc);
	if (comment)
		fputs(comment, stdout);
	return cli_yaml_print(stdout, doc);
}

/* ---------------------------------------------------------------------------------------------- */

static int parse(struct cli *cli, int argc, char **argv, struct openshift_options *o)
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
static int check_options(struct cli *cli, const char *action, struct openshift_options *o)
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
	struct openshift_options o = {0};
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
		code = openshift_iommu(cli, &o);
	else if (strcmp(action, "vfiopci") == 0)
		code = openshift_vfiopci(cli, &o);
	else
		code = openshift_hyperconverged(cli, &o);
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
