/* SPDX-License-Identifier: Apache-2.0 */
/* The resources of `serve` and `permitted` (serve.h): from a config file, or one resource from
 * flags, each flag adding to a JSON config entry. */
#include <errno.h>
#include <string.h>

#include "serve.h"

/* Kind and selector key of each selector flag. */
static const struct {
	int option;
	const char *flag, *kind, *key;
} selector_flags[] = {
    {SERVE_OPT_PCI_DEVICE, "--pci-device", "pci", "vendorDevice"},
    {SERVE_OPT_ADDRESS, "--address", "pci", "address"},
    {SERVE_OPT_CLASS, "--class", "pci", "class"},
    {SERVE_OPT_DRIVER, "--driver", "pci", "driver"},
    {SERVE_OPT_PF, "--pf", "pci", "pf"},
    {SERVE_OPT_USB_DEVICE, "--usb-device", "usb", "vendorProduct"},
    {SERVE_OPT_SERIAL, "--serial", "usb", "serial"},
    {SERVE_OPT_PORT, "--port", "usb", "port"},
    {SERVE_OPT_MDEV_TYPE, "--mdev-type", "mdev", "type"},
};

/* "--pf ens1f0#0-3" / "--pf 0000:3b:00.0": {"name" | "address": ..., "vfs": "#0-3"}. */
static cJSON *pf_selector(const char *arg)
{
	const char *hash = strchr(arg, '#');
	size_t len = hash ? (size_t)(hash - arg) : strlen(arg);
	cJSON *pf = cJSON_CreateObject();
	char who[256];

	if (!pf || len == 0 || len >= sizeof(who)) {
		cJSON_Delete(pf);
		return NULL;
	}
	memcpy(who, arg, len);
	who[len] = '\0';
	/* A PCI address has a ':'; an interface name never does. */
	if (!cJSON_AddStringToObject(pf, strchr(who, ':') ? "address" : "name", who) ||
	    (hash && !cJSON_AddStringToObject(pf, "vfs", hash))) {
		cJSON_Delete(pf);
		return NULL;
	}
	return pf;
}

static cJSON *resource_entry(struct serve_resource_flags *flags)
{
	if (!flags->resource) {
		flags->resource = cJSON_CreateObject();
		if (!flags->resource || !cJSON_AddObjectToObject(flags->resource, "selectors"))
			return NULL;
	}
	return flags->resource;
}

static int add_selector(struct cli *cli, struct serve_resource_flags *flags, size_t i,
			const char *arg)
{
	cJSON *entry = resource_entry(flags), *selectors, *list, *item;

	if (!entry)
		goto oom;
	if (flags->kind && strcmp(flags->kind, selector_flags[i].kind))
		return cli_usage_error(cli,
				       "%s selects %s devices but an earlier flag selects %s "
				       "devices: one resource has one kind",
				       selector_flags[i].flag, selector_flags[i].kind, flags->kind);
	flags->kind = selector_flags[i].kind;
	selectors = cJSON_GetObjectItemCaseSensitive(entry, "selectors");
	list = cJSON_GetObjectItemCaseSensitive(selectors, selector_flags[i].key);
	if (!list && !(list = cJSON_AddArrayToObject(selectors, selector_flags[i].key)))
		goto oom;
	if (selector_flags[i].option == SERVE_OPT_PF) {
		item = pf_selector(arg);
		if (!item)
			return cli_usage_error(cli,
					       "--pf '%s': expected IFNAME or PCI address, "
					       "optionally with #VF-indexes (ens1f0#0,2-7)",
					       arg);
	} else {
		item = cJSON_CreateString(arg);
	}
	if (!item)
		goto oom;
	cJSON_AddItemToArray(list, item);
	return CLI_EXIT_OK;
oom:
	cli_error("out of memory");
	return CLI_EXIT_FAILURE;
}

static int set_once(struct cli *cli, struct serve_resource_flags *flags, const char *flag,
		    const char *key, const char *arg)
{
	cJSON *entry = resource_entry(flags);

	if (!entry) {
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	if (cJSON_GetObjectItemCaseSensitive(entry, key))
		return cli_usage_error(cli, "%s given twice", flag);
	if (!cJSON_AddStringToObject(entry, key, arg)) {
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

int serve_resource_flag(struct cli *cli, struct serve_resource_flags *flags, int c, const char *arg)
{
	switch (c) {
	case SERVE_OPT_RESOURCE:
		return set_once(cli, flags, "--resource", "resourceName", arg);
	case SERVE_OPT_NAMING:
		return set_once(cli, flags, "--naming", "naming", arg);
	case SERVE_OPT_SRIOV_ENV:
		return set_once(cli, flags, "--sriov-env", "sriovEnv", arg);
	}
	for (size_t i = 0; i < sizeof(selector_flags) / sizeof(selector_flags[0]); i++)
		if (selector_flags[i].option == c)
			return add_selector(cli, flags, i, arg);
	return cli_usage_error(cli, "unexpected option");
}

bool serve_resource_flags_given(const struct serve_resource_flags *flags)
{
	return flags->resource != NULL;
}

int serve_resource_config(struct cli *cli, struct serve_resource_flags *flags,
			  hostdev_dp_config **out)
{
	cJSON *doc, *resources;
	char *text;
	int r;

	if (!flags->kind) {
		cli_error("the resource needs at least one selector (--pci-device, --address, "
			  "--usb-device, --mdev-type, ...)");
		return -EINVAL;
	}
	if (!cJSON_AddStringToObject(flags->resource, "kind", flags->kind))
		return -ENOMEM;
	doc = cJSON_CreateObject();
	resources = doc ? cJSON_AddArrayToObject(doc, "resources") : NULL;
	if (!resources) {
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	cJSON_AddItemToArray(resources, flags->resource);
	text = cJSON_PrintUnformatted(doc);
	/* The document owned the entry; forget it before deleting. */
	cJSON_DetachItemFromArray(resources, 0);
	cJSON_Delete(doc);
	if (!text)
		return -ENOMEM;
	r = hostdev_dp_config_parse(cli->ctx, text, out);
	cJSON_free(text);
	return r;
}

void serve_resource_flags_release(struct serve_resource_flags *flags)
{
	cJSON_Delete(flags->resource);
	flags->resource = NULL;
}

int serve_check_source(struct cli *cli, const char *config_path,
		       const struct serve_resource_flags *flags)
{
	if (!config_path == !serve_resource_flags_given(flags))
		return cli_usage_error(cli, "give either --config FILE or one resource (--resource "
					    "NAME with its selectors)");
	return CLI_EXIT_OK;
}

int serve_load(struct cli *cli, const char *config_path, struct serve_resource_flags *flags,
	       hostdev_dp_config **config)
{
	int r;

	r = config_path ? hostdev_dp_config_load(cli->ctx, config_path, config)
			: serve_resource_config(cli, flags, config);
	if (r < 0) {
		cli_lib_error(cli, r, config_path ? config_path : "resource flags");
		return r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

int serve_resolve(struct cli *cli, const char *config_path, struct serve_resource_flags *flags,
		  hostdev_dp_config **config, hostdev_dp_resources **res)
{
	int r, code = serve_load(cli, config_path, flags, config);

	if (code != CLI_EXIT_OK)
		return code;
	r = hostdev_dp_resources_resolve(cli->ctx, *config, res);
	if (r < 0) {
		cli_lib_error(cli, r, "cannot apply the config to this host");
		return r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}
