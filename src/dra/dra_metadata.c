/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device-metadata files (KEP-5304) as KubeVirt reads them (hostdev_dra_metadata_*): for one
 * request of a claim, a DeviceMetadata object (apiVersion metadata.resource.k8s.io/v1alpha1)
 * naming the request's devices with their attributes, in
 *   <data_dir>/dra-device-metadata/<namespace>_<claim>/<request>/metadata.json
 * and a CDI spec <cdi_dir>/<driver>_metadata_<claim uid>_<request>.json (kind
 * "<driver>/metadata", device "<claim uid>_<request>") that bind-mounts it read-only at
 *   /var/run/kubernetes.io/dra-device-attributes/resourceclaims/<claim>/<request>/<driver>-metadata.json
 * in the container; for a claim made from a ResourceClaimTemplate (the pod names it by its own
 * claim name, the claim's name is generated) at
 *   .../dra-device-attributes/resourceclaimtemplates/<pod claim name>/<request>/<driver>-metadata.json
 * and the object says podClaimName. KubeVirt's launcher finds a PCI device there by the attribute
 * resource.kubernetes.io/pciBusID and a mediated device by mdevUUID, and builds a
 * <hostdev managed='no'> from it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dra.h"
#include "hostdev/pci.h"

#define METADATA_API_VERSION "metadata.resource.k8s.io/v1alpha1"
#define METADATA_KIND "DeviceMetadata"
#define METADATA_DIR "dra-device-metadata"
#define METADATA_FILE "metadata.json"
#define METADATA_CONTAINER_DIR "/var/run/kubernetes.io/dra-device-attributes"
#define METADATA_CLAIMS_SUBDIR "resourceclaims"
#define METADATA_TEMPLATES_SUBDIR "resourceclaimtemplates"
#define ATTR_PCI_BUS_ID "resource.kubernetes.io/pciBusID"
#define ATTR_MDEV_UUID "mdevUUID"

struct metadata_device {
	char *pool_name;
	char *device_name;
	char *pci_bus_id; /* canonical "dddd:bb:dd.f", or NULL */
	char *mdev_uuid;  /* or NULL */
};

struct hostdev_dra_metadata {
	hostdev_ctx *ctx;
	char *driver;
	char *namespace_name;
	char *claim_name;
	char *claim_uid;
	char *request;
	char *pod_claim_name; /* a claim made from a template: the pod's name of it, else NULL */
	struct metadata_device *devices;
	size_t n_devices;
};

static bool is_uuid(const char *s)
{
	static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; form[i]; i++) {
		if (form[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	}
	return true;
}

HOSTDEV_EXPORT int hostdev_dra_metadata_new(hostdev_ctx *ctx, const char *driver,
					    const char *namespace_name, const char *claim_name,
					    const char *claim_uid, const char *request,
					    hostdev_dra_metadata **out)
{
	const char *names[] = {driver, namespace_name, claim_name, claim_uid, request};
	static const char *const what[] = {"driver", "namespace", "claim name", "claim uid",
					   "request"};
	hostdev_dra_metadata *md;

	if (!ctx || !out)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		/* Each is a path component of a file name or directory. */
		if (!dra_plain_name(names[i]) || strchr(names[i], '_') != NULL ||
		    dra_cdi_check_device_name(names[i]) < 0)
			return hostdev_error(ctx, -EINVAL,
					     "device metadata: %s '%s' is not valid (Kubernetes "
					     "names: letters, digits, '.' and '-')",
					     what[i], names[i] ? names[i] : "(null)");
	}
	md = calloc(1, sizeof(*md));
	if (!md)
		return hostdev_error(ctx, -ENOMEM, "device metadata: out of memory");
	md->driver = strdup(driver);
	md->namespace_name = strdup(namespace_name);
	md->claim_name = strdup(claim_name);
	md->claim_uid = strdup(claim_uid);
	md->request = strdup(request);
	md->ctx = hostdev_ctx_ref(ctx);
	if (!md->driver || !md->namespace_name || !md->claim_name || !md->claim_uid ||
	    !md->request) {
		hostdev_dra_metadata_free(md);
		return hostdev_error(ctx, -ENOMEM, "device metadata: out of memory");
	}
	*out = md;
	return 0;
}

HOSTDEV_EXPORT hostdev_dra_metadata *hostdev_dra_metadata_free(hostdev_dra_metadata *md)
{
	if (!md)
		return NULL;
	for (size_t i = 0; i < md->n_devices; i++) {
		free(md->devices[i].pool_name);
		free(md->devices[i].device_name);
		free(md->devices[i].pci_bus_id);
		free(md->devices[i].mdev_uuid);
	}
	free(md->devices);
	free(md->driver);
	free(md->namespace_name);
	free(md->claim_name);
	free(md->claim_uid);
	free(md->request);
	free(md->pod_claim_name);
	hostdev_ctx_unref(md->ctx);
	free(md);
	return NULL;
}

HOSTDEV_EXPORT int hostdev_dra_metadata_set_pod_claim_name(hostdev_dra_metadata *md,
							   const char *pod_claim_name)
{
	char *copy;

	if (!md)
		return -EINVAL;
	/* pod.spec.resourceClaims[].name, a DNS label: a path component in the container. */
	if (pod_claim_name &&
	    (!dra_plain_name(pod_claim_name) || strchr(pod_claim_name, '_') != NULL ||
	     strchr(pod_claim_name, '.') != NULL || dra_cdi_check_device_name(pod_claim_name) < 0))
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: pod claim name '%s' is not "
				     "valid (a DNS label: letters, digits and '-')",
				     md->namespace_name, md->claim_name, pod_claim_name);
	copy = pod_claim_name ? strdup(pod_claim_name) : NULL;
	if (pod_claim_name && !copy)
		return hostdev_error(md->ctx, -ENOMEM, "device metadata: out of memory");
	free(md->pod_claim_name);
	md->pod_claim_name = copy;
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_metadata_add_device(hostdev_dra_metadata *md, const char *pool_name,
						   const char *device_name, const char *pci_bus_id,
						   const char *mdev_uuid)
{
	struct hostdev_pci_address addr;
	struct metadata_device *devices, *d;
	char canonical[32];

	if (!md)
		return -EINVAL;
	if (!pool_name || !*pool_name || !device_name || !*device_name)
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: a device needs a pool and a "
				     "name",
				     md->namespace_name, md->claim_name);
	if (!pci_bus_id == !mdev_uuid)
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: device %s needs either a PCI "
				     "address or an mdev UUID, not %s",
				     md->namespace_name, md->claim_name, device_name,
				     pci_bus_id ? "both" : "neither");
	if (pci_bus_id && (hostdev_pci_address_parse(pci_bus_id, &addr) < 0 ||
			   hostdev_pci_address_format(&addr, canonical, sizeof(canonical)) < 0))
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: device %s: '%s' is not a PCI "
				     "address (dddd:bb:dd.f)",
				     md->namespace_name, md->claim_name, device_name, pci_bus_id);
	if (mdev_uuid && !is_uuid(mdev_uuid))
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: device %s: '%s' is not a "
				     "UUID",
				     md->namespace_name, md->claim_name, device_name, mdev_uuid);
	devices = realloc(md->devices, (md->n_devices + 1) * sizeof(*devices));
	if (!devices)
		return hostdev_error(md->ctx, -ENOMEM, "device metadata: out of memory");
	md->devices = devices;
	d = &devices[md->n_devices];
	memset(d, 0, sizeof(*d));
	d->pool_name = strdup(pool_name);
	d->device_name = strdup(device_name);
	d->pci_bus_id = pci_bus_id ? strdup(canonical) : NULL;
	d->mdev_uuid = mdev_uuid ? strdup(mdev_uuid) : NULL;
	if (!d->pool_name || !d->device_name || (pci_bus_id && !d->pci_bus_id) ||
	    (mdev_uuid && !d->mdev_uuid)) {
		free(d->pool_name);
		free(d->device_name);
		free(d->pci_bus_id);
		free(d->mdev_uuid);
		return hostdev_error(md->ctx, -ENOMEM, "device metadata: out of memory");
	}
	md->n_devices++;
	return 0;
}

/* The CDI device name and kind of the bind mount: "<uid>_<request>", "<driver>/metadata". */
static int cdi_names(const hostdev_dra_metadata *md, char **device, char **kind)
{
	*device = *kind = NULL;
	if (asprintf(device, "%s_%s", md->claim_uid, md->request) < 0 ||
	    asprintf(kind, "%s/metadata", md->driver) < 0) {
		free(*device);
		*device = NULL;
		return -ENOMEM;
	}
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_metadata_get_cdi_id(const hostdev_dra_metadata *md, char **out)
{
	if (!md || !out)
		return -EINVAL;
	if (asprintf(out, "%s/metadata=%s_%s", md->driver, md->claim_uid, md->request) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_metadata_to_json(const hostdev_dra_metadata *md, char **out)
{
	struct json_builder b = {0};
	cJSON *root, *meta, *requests, *request, *devices;

	if (!md || !out)
		return -EINVAL;
	root = cJSON_CreateObject();
	if (!root)
		return -ENOMEM;
	json_add_string(&b, root, "apiVersion", METADATA_API_VERSION);
	json_add_string(&b, root, "kind", METADATA_KIND);
	meta = json_add_container(&b, root, "metadata", false);
	if (meta) {
		json_add_string(&b, meta, "name", md->claim_name);
		json_add_string(&b, meta, "namespace", md->namespace_name);
		json_add_string(&b, meta, "uid", md->claim_uid);
		/* Written once per prepare; a rewrite would count up. */
		json_add_int(&b, meta, "generation", 1);
	}
	if (md->pod_claim_name)
		json_add_string(&b, root, "podClaimName", md->pod_claim_name);
	requests = json_add_container(&b, root, "requests", true);
	request = requests ? cJSON_CreateObject() : NULL;
	if (requests)
		json_append(&b, requests, request);
	if (request) {
		json_add_string(&b, request, "name", md->request);
		devices = json_add_container(&b, request, "devices", true);
		for (size_t i = 0; devices && i < md->n_devices; i++) {
			const struct metadata_device *d = &md->devices[i];
			cJSON *dev = cJSON_CreateObject(), *attrs, *value;

			json_append(&b, devices, dev);
			if (!dev)
				continue;
			json_add_string(&b, dev, "driver", md->driver);
			json_add_string(&b, dev, "pool", d->pool_name);
			json_add_string(&b, dev, "name", d->device_name);
			attrs = json_add_container(&b, dev, "attributes", false);
			if (!attrs)
				continue;
			/* A DeviceAttribute: exactly one of int, bool, string, version. */
			value = json_add_container(
			    &b, attrs, d->pci_bus_id ? ATTR_PCI_BUS_ID : ATTR_MDEV_UUID, false);
			if (value)
				json_add_string(&b, value, "string",
						d->pci_bus_id ? d->pci_bus_id : d->mdev_uuid);
		}
	}
	if (b.oom) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	return json_print_and_delete(root, true, out);
}

/* "<namespace>_<claim>": names have no '_', so the pair is unambiguous. */
static int claim_dir_name(const hostdev_dra_metadata *md, char **out)
{
	if (asprintf(out, "%s_%s", md->namespace_name, md->claim_name) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int cdi_file_name(const hostdev_dra_metadata *md, char **out)
{
	if (asprintf(out, "%s_metadata_%s_%s.json", md->driver, md->claim_uid, md->request) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Write the metadata file; *@host_path gets its absolute path. */
static int write_metadata_file(const hostdev_dra_metadata *md, const char *data_dir,
			       char **host_path)
{
	int dirs[3] = {-1, -1, -1};
	char *claim_dir = NULL, *json = NULL;
	const char *failed = data_dir;
	int r;

	*host_path = NULL;
	r = claim_dir_name(md, &claim_dir);
	if (r == 0)
		r = hostdev_dra_metadata_to_json(md, &json);
	if (r < 0)
		goto out;
	dirs[0] = dra_open_dir(data_dir);
	if (dirs[0] < 0) {
		r = dirs[0];
		goto out;
	}
	failed = METADATA_DIR;
	dirs[1] = dra_open_subdir(dirs[0], METADATA_DIR, true);
	if (dirs[1] < 0) {
		r = dirs[1];
		goto out;
	}
	failed = claim_dir;
	r = dra_open_subdir(dirs[1], claim_dir, true);
	if (r < 0)
		goto out;
	dirs[2] = r;
	failed = md->request;
	r = dra_open_subdir(dirs[2], md->request, true);
	if (r < 0)
		goto out;
	close(dirs[0]);
	dirs[0] = r;
	failed = METADATA_FILE;
	r = dra_file_replace(dirs[0], METADATA_FILE, json, strlen(json));
	if (r == 0 && asprintf(host_path, "%s/%s/%s/%s/%s", data_dir, METADATA_DIR, claim_dir,
			       md->request, METADATA_FILE) < 0) {
		*host_path = NULL;
		r = -ENOMEM;
	}
out:
	if (r < 0 && r != -ENOMEM)
		hostdev_error(md->ctx, r,
			      "device metadata of claim %s/%s request %s: cannot write below %s "
			      "(at %s): %s",
			      md->namespace_name, md->claim_name, md->request, data_dir, failed,
			      r == -ELOOP ? "a symbolic link is in the way" : strerror(-r));
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (dirs[i] >= 0)
			close(dirs[i]);
	free(claim_dir);
	free(json);
	return r;
}

HOSTDEV_EXPORT int hostdev_dra_metadata_write(const hostdev_dra_metadata *md, const char *data_dir,
					      const char *cdi_dir)
{
	hostdev_dra_cdi_spec *spec = NULL;
	char *host_path = NULL, *container_path = NULL, *device = NULL, *kind = NULL, *file = NULL;
	int r;

	if (!md)
		return -EINVAL;
	if (!data_dir || data_dir[0] != '/' || !cdi_dir || cdi_dir[0] != '/')
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: the data and CDI directories "
				     "must be absolute paths",
				     md->namespace_name, md->claim_name);
	if (md->n_devices == 0)
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s request %s: no devices",
				     md->namespace_name, md->claim_name, md->request);
	r = write_metadata_file(md, data_dir, &host_path);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	/* A pod names a template's claim by its own name: the claim's is generated. */
	if (asprintf(&container_path, "%s/%s/%s/%s/%s-metadata.json", METADATA_CONTAINER_DIR,
		     md->pod_claim_name ? METADATA_TEMPLATES_SUBDIR : METADATA_CLAIMS_SUBDIR,
		     md->pod_claim_name ? md->pod_claim_name : md->claim_name, md->request,
		     md->driver) < 0) {
		container_path = NULL;
		goto out;
	}
	if (cdi_names(md, &device, &kind) < 0 || cdi_file_name(md, &file) < 0)
		goto out;
	r = hostdev_dra_cdi_spec_new(md->ctx, kind, &spec);
	if (r == 0)
		r = hostdev_dra_cdi_spec_add_device(spec, device);
	if (r == 0)
		r = dra_cdi_spec_add_mount(spec, device, host_path, container_path);
	if (r == 0)
		r = hostdev_dra_cdi_spec_write(spec, cdi_dir, file);
out:
	if (r == -ENOMEM)
		hostdev_error(md->ctx, r, "device metadata of claim %s/%s: out of memory",
			      md->namespace_name, md->claim_name);
	hostdev_dra_cdi_spec_free(spec);
	free(host_path);
	free(container_path);
	free(device);
	free(kind);
	free(file);
	return r;
}

/* Remove @name from @dirfd when it is an empty directory (a non-empty one stays). */
static void remove_empty_dir(int dirfd, const char *name)
{
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

HOSTDEV_EXPORT int hostdev_dra_metadata_remove(const hostdev_dra_metadata *md, const char *data_dir,
					       const char *cdi_dir)
{
	char *claim_dir = NULL, *file = NULL;
	int base = -1, meta = -1, claim = -1, req = -1, r;

	if (!md)
		return -EINVAL;
	if (!data_dir || data_dir[0] != '/' || !cdi_dir || cdi_dir[0] != '/')
		return hostdev_error(md->ctx, -EINVAL,
				     "device metadata of claim %s/%s: the data and CDI directories "
				     "must be absolute paths",
				     md->namespace_name, md->claim_name);
	if (claim_dir_name(md, &claim_dir) < 0 || cdi_file_name(md, &file) < 0) {
		r = hostdev_error(md->ctx, -ENOMEM, "device metadata: out of memory");
		goto out;
	}
	/* The bind mount first: a container never gets a mount of a missing file. */
	r = dra_remove_file(md->ctx, cdi_dir, file, "device metadata CDI spec");
	if (r < 0)
		goto out;
	base = dra_open_dir(data_dir);
	if (base >= 0)
		meta = dra_open_subdir(base, METADATA_DIR, false);
	if (meta >= 0)
		claim = dra_open_subdir(meta, claim_dir, false);
	if (claim >= 0)
		req = dra_open_subdir(claim, md->request, false);
	if (req >= 0 && unlinkat(req, METADATA_FILE, 0) < 0 && errno != ENOENT) {
		r = hostdev_error(md->ctx, -errno,
				  "device metadata of claim %s/%s request %s: cannot remove %s: %s",
				  md->namespace_name, md->claim_name, md->request, METADATA_FILE,
				  strerror(errno));
		goto out;
	}
	/* What is missing on the way was removed before: nothing to do there. */
	if (claim >= 0)
		remove_empty_dir(claim, md->request);
	if (meta >= 0)
		remove_empty_dir(meta, claim_dir);
out:
	if (req >= 0)
		close(req);
	if (claim >= 0)
		close(claim);
	if (meta >= 0)
		close(meta);
	if (base >= 0)
		close(base);
	free(claim_dir);
	free(file);
	return r;
}
