/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CDI spec files (hostdev_dra_cdi_spec_*): the Container Device Interface's JSON form, which the
 * container runtime reads from /var/run/cdi when the kubelet passes it a CDI device id. Loaders
 * refuse unknown fields, so only the spec's own fields are written: cdiVersion, kind,
 * devices[].name and devices[].containerEdits with deviceNodes (path, type, permissions) and
 * mounts (hostPath, containerPath, options). Version 0.3.0 covers all of them and is the oldest
 * version current runtimes take, so the most runtimes take the files.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dra.h"

#define CDI_VERSION "0.3.0"
/* Longest class name and vendor name of a kind. */
#define CDI_CLASS_MAX 63
#define CDI_VENDOR_MAX 253

struct cdi_mount {
	char *host_path;
	char *container_path;
};

struct cdi_device {
	char *name;
	struct strv nodes;
	struct cdi_mount *mounts;
	size_t n_mounts;
};

struct hostdev_dra_cdi_spec {
	hostdev_ctx *ctx;
	char *kind;
	struct cdi_device *devices;
	size_t n_devices;
};

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* @s[0..@len) starts with a letter, ends with a letter or digit, and has only letters, digits
 * and characters of @extra between. */
static bool check_part(const char *s, size_t len, const char *extra)
{
	if (len == 0 || !is_letter(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

int dra_cdi_check_kind(const char *kind, const char **why)
{
	const char *slash = strchr(kind, '/');
	size_t vendor_len, class_len;

	if (!slash || strchr(slash + 1, '/')) {
		*why = "a kind is <vendor>/<class>, with exactly one '/'";
		return -EINVAL;
	}
	vendor_len = (size_t)(slash - kind);
	class_len = strlen(slash + 1);
	if (vendor_len > CDI_VENDOR_MAX || !check_part(kind, vendor_len, ".-")) {
		*why = "the vendor must start with a letter, end with a letter or digit and have "
		       "only letters, digits, '.' and '-' between (a domain such as "
		       "vfio.hostdev.io)";
		return -EINVAL;
	}
	if (class_len > CDI_CLASS_MAX || !check_part(slash + 1, class_len, "_.-")) {
		*why = "the class must start with a letter, end with a letter or digit, have only "
		       "letters, digits, '_', '.' and '-' between, at most 63 characters";
		return -EINVAL;
	}
	return 0;
}

int dra_cdi_check_device_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255 || !is_alnum(name[0]) || !is_alnum(name[len - 1]))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(name[i]) && !strchr("_.-", name[i]))
			return -EINVAL;
	return 0;
}

int dra_cdi_check_id(const char *id)
{
	const char *eq = strchr(id, '=');
	const char *why;
	char *kind;
	int r;

	if (!eq || dra_cdi_check_device_name(eq + 1) < 0)
		return -EINVAL;
	kind = strndup(id, (size_t)(eq - id));
	if (!kind)
		return -ENOMEM;
	r = dra_cdi_check_kind(kind, &why);
	free(kind);
	return r;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_new(hostdev_ctx *ctx, const char *kind,
					    hostdev_dra_cdi_spec **out)
{
	hostdev_dra_cdi_spec *spec;
	const char *why;

	if (!ctx || !out)
		return -EINVAL;
	if (!kind || dra_cdi_check_kind(kind, &why) < 0)
		return hostdev_error(ctx, -EINVAL, "CDI kind '%s' is not valid: %s",
				     kind ? kind : "(null)", kind ? why : "none given");
	spec = calloc(1, sizeof(*spec));
	if (!spec || !(spec->kind = strdup(kind))) {
		free(spec);
		return hostdev_error(ctx, -ENOMEM, "CDI spec %s: out of memory", kind);
	}
	spec->ctx = hostdev_ctx_ref(ctx);
	*out = spec;
	return 0;
}

HOSTDEV_EXPORT hostdev_dra_cdi_spec *hostdev_dra_cdi_spec_free(hostdev_dra_cdi_spec *spec)
{
	if (!spec)
		return NULL;
	for (size_t i = 0; i < spec->n_devices; i++) {
		struct cdi_device *d = &spec->devices[i];

		free(d->name);
		strv_clear(&d->nodes);
		for (size_t j = 0; j < d->n_mounts; j++) {
			free(d->mounts[j].host_path);
			free(d->mounts[j].container_path);
		}
		free(d->mounts);
	}
	free(spec->devices);
	free(spec->kind);
	hostdev_ctx_unref(spec->ctx);
	free(spec);
	return NULL;
}

static struct cdi_device *find_device(const hostdev_dra_cdi_spec *spec, const char *name)
{
	for (size_t i = 0; i < spec->n_devices; i++)
		if (strcmp(spec->devices[i].name, name) == 0)
			return &spec->devices[i];
	return NULL;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_add_device(hostdev_dra_cdi_spec *spec, const char *name)
{
	struct cdi_device *devices;

	if (!spec)
		return -EINVAL;
	if (!name || dra_cdi_check_device_name(name) < 0)
		return hostdev_error(spec->ctx, -EINVAL,
				     "CDI spec %s: device name '%s' is not valid: letters, digits, "
				     "'_', '.' and '-', a letter or digit at both ends",
				     spec->kind, name ? name : "(null)");
	if (find_device(spec, name))
		return hostdev_error(spec->ctx, -EINVAL, "CDI spec %s: device %s is there already",
				     spec->kind, name);
	devices = realloc(spec->devices, (spec->n_devices + 1) * sizeof(*devices));
	if (!devices)
		return hostdev_error(spec->ctx, -ENOMEM, "CDI spec %s: out of memory", spec->kind);
	spec->devices = devices;
	memset(&devices[spec->n_devices], 0, sizeof(*devices));
	devices[spec->n_devices].name = strdup(name);
	if (!devices[spec->n_devices].name)
		return hostdev_error(spec->ctx, -ENOMEM, "CDI spec %s: out of memory", spec->kind);
	spec->n_devices++;
	return 0;
}

/* An absolute path without empty, "." or ".." components. */
static bool clean_absolute_path(const char *path)
{
	const char *p = path;

	if (path[0] != '/')
		return false;
	while (*p == '/') {
		const char *start = ++p;
		size_t len;

		while (*p && *p != '/')
			p++;
		len = (size_t)(p - start);
		if (len == 0 || (len == 1 && start[0] == '.') ||
		    (len == 2 && start[0] == '.' && start[1] == '.'))
			return false;
	}
	return true;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_add_device_node(hostdev_dra_cdi_spec *spec,
							const char *name, const char *path)
{
	struct cdi_device *d;

	if (!spec || !name)
		return -EINVAL;
	d = find_device(spec, name);
	if (!d)
		return hostdev_error(spec->ctx, -ENOENT, "CDI spec %s: no device %s (add it first)",
				     spec->kind, name);
	if (!path || strncmp(path, "/dev/", 5) != 0 || !clean_absolute_path(path))
		return hostdev_error(spec->ctx, -EINVAL,
				     "CDI spec %s: device %s: '%s' is not a device node path (an "
				     "absolute path under /dev)",
				     spec->kind, name, path ? path : "(null)");
	if (strv_contains(&d->nodes, path))
		return 0;
	if (strv_push(&d->nodes, path) < 0)
		return hostdev_error(spec->ctx, -ENOMEM, "CDI spec %s: out of memory", spec->kind);
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_add_vfio_device(hostdev_dra_cdi_spec *spec,
							const char *name, const char *iommu_group,
							int vfio_cdev)
{
	char path[64];
	int r;

	if (!spec)
		return -EINVAL;
	if (!iommu_group || !*iommu_group || strlen(iommu_group) > 10 ||
	    strspn(iommu_group, "0123456789") != strlen(iommu_group))
		return hostdev_error(spec->ctx, -EINVAL,
				     "CDI spec %s: device %s: IOMMU group '%s' is not a group "
				     "number",
				     spec->kind, name ? name : "(null)",
				     iommu_group ? iommu_group : "(null)");
	r = hostdev_dra_cdi_spec_add_device(spec, name);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/dev/vfio/%s", iommu_group);
	r = hostdev_dra_cdi_spec_add_device_node(spec, name, "/dev/vfio/vfio");
	if (r == 0)
		r = hostdev_dra_cdi_spec_add_device_node(spec, name, path);
	if (r == 0 && vfio_cdev >= 0) {
		snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", vfio_cdev);
		r = hostdev_dra_cdi_spec_add_device_node(spec, name, "/dev/iommu");
		if (r == 0)
			r = hostdev_dra_cdi_spec_add_device_node(spec, name, path);
	}
	return r;
}

int dra_cdi_spec_add_mount(hostdev_dra_cdi_spec *spec, const char *name, const char *host_path,
			   const char *container_path)
{
	struct cdi_device *d = find_device(spec, name);
	struct cdi_mount *mounts;

	if (!d)
		return -ENOENT;
	mounts = realloc(d->mounts, (d->n_mounts + 1) * sizeof(*mounts));
	if (!mounts)
		return -ENOMEM;
	d->mounts = mounts;
	mounts[d->n_mounts].host_path = strdup(host_path);
	mounts[d->n_mounts].container_path = strdup(container_path);
	if (!mounts[d->n_mounts].host_path || !mounts[d->n_mounts].container_path) {
		free(mounts[d->n_mounts].host_path);
		free(mounts[d->n_mounts].container_path);
		return -ENOMEM;
	}
	d->n_mounts++;
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_get_device_id(const hostdev_dra_cdi_spec *spec,
						      const char *name, char **out)
{
	if (!spec || !name || !out)
		return -EINVAL;
	if (!find_device(spec, name))
		return hostdev_error(spec->ctx, -ENOENT, "CDI spec %s: no device %s", spec->kind,
				     name);
	if (asprintf(out, "%s=%s", spec->kind, name) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static cJSON *device_json(struct json_builder *b, const struct cdi_device *d)
{
	cJSON *dev = cJSON_CreateObject(), *edits, *nodes, *mounts;

	if (!dev) {
		b->oom = true;
		return NULL;
	}
	json_add_string(b, dev, "name", d->name);
	edits = json_add_container(b, dev, "containerEdits", false);
	if (!edits)
		return dev;
	if (d->nodes.count > 0 && (nodes = json_add_container(b, edits, "deviceNodes", true))) {
		for (size_t i = 0; i < d->nodes.count; i++) {
			cJSON *node = cJSON_CreateObject();

			json_append(b, nodes, node);
			if (!node)
				continue;
			json_add_string(b, node, "path", d->nodes.items[i]);
			json_add_string(b, node, "type", "c");
			json_add_string(b, node, "permissions", "rw");
		}
	}
	if (d->n_mounts > 0 && (mounts = json_add_container(b, edits, "mounts", true))) {
		for (size_t i = 0; i < d->n_mounts; i++) {
			cJSON *mount = cJSON_CreateObject(), *options;

			json_append(b, mounts, mount);
			if (!mount)
				continue;
			json_add_string(b, mount, "hostPath", d->mounts[i].host_path);
			json_add_string(b, mount, "containerPath", d->mounts[i].container_path);
			options = json_add_container(b, mount, "options", true);
			if (options) {
				json_append(b, options, json_new_string(b, "ro"));
				json_append(b, options, json_new_string(b, "bind"));
			}
		}
	}
	return dev;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_to_json(const hostdev_dra_cdi_spec *spec, char **out)
{
	struct json_builder b = {0};
	cJSON *root, *devices;

	if (!spec || !out)
		return -EINVAL;
	root = cJSON_CreateObject();
	if (!root)
		return -ENOMEM;
	json_add_string(&b, root, "cdiVersion", CDI_VERSION);
	json_add_string(&b, root, "kind", spec->kind);
	devices = json_add_container(&b, root, "devices", true);
	for (size_t i = 0; devices && i < spec->n_devices; i++)
		json_append(&b, devices, device_json(&b, &spec->devices[i]));
	if (b.oom) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	return json_print_and_delete(root, true, out);
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_write(const hostdev_dra_cdi_spec *spec, const char *dir,
					      const char *file_name)
{
	size_t len;
	char *json;
	int dirfd, r;

	if (!spec)
		return -EINVAL;
	if (!dir || dir[0] != '/')
		return hostdev_error(spec->ctx, -EINVAL,
				     "CDI spec %s: directory '%s' must be an absolute path",
				     spec->kind, dir ? dir : "(null)");
	if (!dra_plain_name(file_name) || (len = strlen(file_name)) <= 5 ||
	    strcmp(file_name + len - 5, ".json") != 0)
		return hostdev_error(spec->ctx, -EINVAL,
				     "CDI spec %s: file name '%s' must be a plain name ending in "
				     ".json (CDI loaders read only .json and .yaml files)",
				     spec->kind, file_name ? file_name : "(null)");
	if (spec->n_devices == 0)
		return hostdev_error(spec->ctx, -EINVAL,
				     "CDI spec %s: no devices (a CDI file needs at least one)",
				     spec->kind);
	r = hostdev_dra_cdi_spec_to_json(spec, &json);
	if (r < 0)
		return hostdev_error(spec->ctx, r, "CDI spec %s: out of memory", spec->kind);
	dirfd = dra_open_dir(dir);
	if (dirfd < 0) {
		free(json);
		return hostdev_error(spec->ctx, dirfd, "CDI spec %s: cannot open directory %s: %s",
				     spec->kind, dir,
				     dirfd == -ELOOP ? "it is a symbolic link" : strerror(-dirfd));
	}
	r = dra_file_replace(dirfd, file_name, json, strlen(json));
	close(dirfd);
	free(json);
	if (r < 0)
		return hostdev_error(spec->ctx, r,
				     "CDI spec %s: cannot write %s/%s: %s; the previous file, if "
				     "any, is unchanged",
				     spec->kind, dir, file_name, strerror(-r));
	return 0;
}

int dra_remove_file(hostdev_ctx *ctx, const char *dir, const char *file_name, const char *what)
{
	int dirfd;

	if (!dir || dir[0] != '/' || !dra_plain_name(file_name))
		return hostdev_error(ctx, -EINVAL,
				     "%s: '%s' in '%s': an absolute directory and a plain file "
				     "name are needed",
				     what, file_name ? file_name : "(null)", dir ? dir : "(null)");
	dirfd = dra_open_dir(dir);
	if (dirfd == -ENOENT)
		return 0;
	if (dirfd < 0)
		return hostdev_error(ctx, dirfd, "%s: cannot open directory %s: %s", what, dir,
				     dirfd == -ELOOP ? "it is a symbolic link" : strerror(-dirfd));
	if (unlinkat(dirfd, file_name, 0) < 0 && errno != ENOENT) {
		int err = -errno;

		close(dirfd);
		return hostdev_error(ctx, err, "%s: cannot remove %s/%s: %s", what, dir, file_name,
				     strerror(-err));
	}
	close(dirfd);
	return 0;
}

HOSTDEV_EXPORT int hostdev_dra_cdi_spec_remove(hostdev_ctx *ctx, const char *dir,
					       const char *file_name)
{
	if (!ctx)
		return -EINVAL;
	return dra_remove_file(ctx, dir, file_name, "CDI spec");
}
