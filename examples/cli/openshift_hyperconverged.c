/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `hostdev openshift hyperconverged`: the HyperConverged CR's spec.permittedHostDevices
 * (hco.kubevirt.io/v1beta1) from the persistent list (KubeVirt's own device plugin serves those
 * devices) and from a device-plugin config (hostdev serve serves them: externalResourceProvider),
 * as a JSON merge patch or a whole object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openshift.h"

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
static int add_config(struct cli *cli, struct openshift_options *o, cJSON *pci, cJSON *mdev,
		      cJSON *usb)
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

int openshift_hyperconverged(struct cli *cli, struct openshift_options *o)
{
	const char *name = o->name ? o->name : "kubevirt-hyperconverged";
	const char *namespace = o->namespace ? o->namespace : "openshift-cnv";
	bool from_config = o->config_path || serve_resource_flags_given(&o->flags);
	cJSON *doc = cJSON_CreateObject(), *spec = NULL, *permitted = NULL, *metadata;
	cJSON *pci = cJSON_CreateArray(), *mdev = cJSON_CreateArray(), *usb = cJSON_CreateArray();
	char comment[1024];
	int code = CLI_EXIT_OK;

	if (!openshift_valid_dns_name(name, true)) {
		code = cli_usage_error(cli, "--name '%s' is not a valid object name", name);
		goto out;
	}
	if (!openshift_valid_dns_name(namespace, false)) {
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
	code = openshift_print(o, comment, doc);
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
