/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mediated devices served as they are (--serve-mdevs): every mdev of the node, one resource per
 * mdev type named as NVIDIA's KubeVirt plugin names vGPU types (the library's "harvester" naming
 * of kind mdev: <vendor of the parent>.com/<type selector>), served to the kubelet with the
 * library's built-in mdev plugin (KubeVirt's contract: MDEV_PCI_RESOURCE_<NAME>=<uuids>, the
 * group nodes) and permitted in the KubeVirt CR's mediatedDevices list. The agent creates no
 * mdevs and has no claim kind for them: an administrator creates them (`hostdev mdev create`,
 * kept across reboots by `hostdev persist`), and whatever exists is served.
 *
 * The library's server of a resource follows its type's mdevs as they come and go (its periodic
 * list, and a refresh here on every sync); a type whose first mdev appears or whose last goes
 * changes the set of resources, which a sync sees: at start, on every PCI hot-plug event (a
 * parent's driver loaded or gone) and at every resync.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct mdevs {
	hostdev_ctx *ctx;
	struct serving *serving;
	struct kubevirt *kubevirt;
	struct strmap *served; /* resource -> hostdev_dp_server */
	struct strmap *seen;   /* during a sync: the resources resolved now */
};

static void server_free(void *p)
{
	hostdev_dp_server *server = p;

	if (server) {
		hostdev_dp_server_stop(server);
		hostdev_dp_server_unref(server);
	}
}

int mdevs_new(hostdev_ctx *ctx, struct serving *serving, struct kubevirt *kubevirt,
	      struct mdevs **out)
{
	struct mdevs *m = calloc(1, sizeof(*m));

	if (!m || !(m->served = strmap_new(server_free))) {
		free(m);
		return -ENOMEM;
	}
	m->ctx = ctx;
	m->serving = serving;
	m->kubevirt = kubevirt;
	*out = m;
	return 0;
}

void mdevs_free(struct mdevs *m)
{
	if (!m)
		return;
	strmap_free(m->served);
	free(m);
}

static void collect_gone(const char *resource, void *value, void *userdata)
{
	struct mdevs *m = userdata;

	if (!strmap_get(m->seen, resource) && strmap_set(m->seen, resource, (void *)2) < 0)
		log_warning("resource %s: cannot stop it now: out of memory", resource);
}

static void stop_gone(const char *resource, void *value, void *userdata)
{
	struct mdevs *m = userdata;

	if (value != (void *)2)
		return;
	log_info("resource %s: no mediated device of its type is left; stopped serving it",
		 resource);
	strmap_remove(m->served, resource);
}

/* {"<resource>": ["<type selector>", ...]} of KubeVirt's mediatedDevices entries for
 * @resources, as the library writes them; NULL on failure (the message logged). */
static cJSON *permitted(struct mdevs *m, const hostdev_dp_resources *resources)
{
	cJSON *doc = NULL, *want = cJSON_CreateObject(), *entry;
	char *text = NULL;

	if (!want)
		return NULL;
	if (hostdev_dp_resources_permitted_host_devices(resources, HOSTDEV_DP_FORMAT_JSON, &text) <
		0 ||
	    !(doc = cJSON_Parse(text))) {
		log_warning("mediated devices: cannot write KubeVirt's entries: %s",
			    text ? "unreadable JSON from the library"
				 : hostdev_ctx_get_error(m->ctx));
		cJSON_Delete(want);
		want = NULL;
		goto out;
	}
	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(
				      cJSON_GetObjectItemCaseSensitive(doc, "permittedHostDevices"),
				      KUBEVIRT_LIST_MDEV))
	{
		const char *res =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "resourceName"));
		const char *sel = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(entry, "mdevNameSelector"));
		cJSON *sels;

		if (!res || !sel)
			continue;
		sels = cJSON_GetObjectItemCaseSensitive(want, res);
		if (!sels)
			sels = cJSON_AddArrayToObject(want, res);
		if (sels)
			cJSON_AddItemToArray(sels, cJSON_CreateString(sel));
	}
out:
	cJSON_Delete(doc);
	hostdev_free(text);
	return want;
}

/* The resource selection config (docs/device-plugin.md) of every mdev there is now, a resource
 * per type: {"kind": "mdev", "naming": "harvester", "selectors": {"type": [<each type id>]}}.
 * malloc'd; NULL with *@none set when there is no mdev (a selector list cannot be empty), NULL
 * on failure. */
static char *config_now(struct mdevs *m, bool *none)
{
	hostdev_mdev_list *list = NULL;
	cJSON *cfg = cJSON_CreateObject(), *entry = cJSON_CreateObject(), *types = NULL;
	char *text = NULL;
	size_t n;

	if (!cfg || !entry || hostdev_mdev_list_read(m->ctx, &list) < 0)
		goto out;
	cJSON_AddNumberToObject(cfg, "version", 1);
	cJSON_AddStringToObject(entry, "kind", "mdev");
	cJSON_AddStringToObject(entry, "naming", "harvester");
	types = cJSON_AddArrayToObject(cJSON_AddObjectToObject(entry, "selectors"), "type");
	if (!types || !cJSON_AddItemToArray(cJSON_AddArrayToObject(cfg, "resources"), entry))
		goto out;
	entry = NULL;
	n = hostdev_mdev_list_get_count(list);
	for (size_t i = 0; i < n; i++) {
		const char *type = hostdev_mdev_list_get_type(list, i);
		bool have = false;
		const cJSON *t;

		if (!type)
			continue;
		cJSON_ArrayForEach(t, types) have = have || strcmp(t->valuestring, type) == 0;
		if (!have)
			cJSON_AddItemToArray(types, cJSON_CreateString(type));
	}
	*none = cJSON_GetArraySize(types) == 0;
	if (!*none)
		text = cJSON_PrintUnformatted(cfg);
out:
	hostdev_mdev_list_unref(list);
	cJSON_Delete(entry);
	cJSON_Delete(cfg);
	return text;
}

void mdevs_sync(struct mdevs *m)
{
	hostdev_dp_config *config = NULL;
	hostdev_dp_resources *resources = NULL;
	bool none = false;
	char *text;
	size_t n = 0;

	if (!m)
		return;
	text = config_now(m, &none);
	if (!none && (!text || hostdev_dp_config_parse(m->ctx, text, &config) < 0 ||
		      hostdev_dp_resources_resolve(m->ctx, config, &resources) < 0)) {
		log_warning("mediated devices: cannot list them: %s; trying again at the next "
			    "event or resync",
			    hostdev_ctx_get_error(m->ctx));
		goto out;
	}
	if (!(m->seen = strmap_new(NULL)))
		goto out;
	if (resources)
		n = hostdev_dp_resources_get_count(resources);
	for (size_t i = 0; i < n; i++) {
		const char *name = hostdev_dp_resources_get_name(resources, i);
		hostdev_dp_server *server = strmap_get(m->served, name);

		strmap_set(m->seen, name, (void *)1);
		if (server) {
			hostdev_dp_server_refresh(server);
			continue;
		}
		if (serving_start_builtin(m->serving, resources, i, &server) < 0) {
			log_warning(
			    "resource %s: cannot serve its mediated devices: %s; trying again "
			    "at the next event or resync",
			    name, hostdev_ctx_get_error(m->ctx));
			continue;
		}
		if (strmap_set(m->served, name, server) < 0) {
			server_free(server);
			continue;
		}
		log_info("resource %s: serving the mediated devices of its type (socket %s)", name,
			 hostdev_dp_server_get_socket_path(server));
	}
	strmap_foreach(m->served, collect_gone, m);
	strmap_foreach(m->seen, stop_gone, m);
	kubevirt_set(m->kubevirt, KUBEVIRT_LIST_MDEV,
		     resources ? permitted(m, resources) : cJSON_CreateObject());
out:
	strmap_free(m->seen);
	m->seen = NULL;
	hostdev_dp_resources_unref(resources);
	hostdev_dp_config_unref(config);
	cJSON_free(text);
}
