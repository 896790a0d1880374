/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the vGPU state of VFs (vgpu.h): which VFs offer vGPU types (those with
 * nvidia/current_vgpu_type, present while the VF is on NVIDIA's driver), the type each holds and
 * the types each can take now; the public snapshot and its JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hostdev/vgpu.h"
#include "vgpu.h"

void vgpu_vf_clear(struct vgpu_vf *vf)
{
	vgpu_types_clear(&vf->creatable);
	free(vf->current_name);
	vf->current_name = NULL;
}

static int open_device(hostdev_ctx *ctx, const char *address)
{
	char path[PATH_MAX];
	int fd;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, NULL) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int vgpu_read_current(hostdev_ctx *ctx, const char *address, unsigned int *type)
{
	char buf[64];
	int fd = open_device(ctx, address), r;

	if (fd < 0)
		return fd == -ENOENT ? -ENODEV : fd;
	r = sysfs_read_attr(fd, VGPU_CURRENT, buf, sizeof(buf));
	close(fd);
	if (r < 0)
		return r == -ENOENT || r == -ENOTDIR ? -ENOENT : r;
	return vgpu_parse_current(buf, type) < 0 ? -EBADMSG : 0;
}

/* creatable_vgpu_types of the device at @fd ("" when it has none). */
static int read_creatable(hostdev_ctx *ctx, int fd, const char *address, struct vgpu_types *out)
{
	char *text = NULL, err[160];
	int r = sysfs_read_alloc(fd, VGPU_CREATABLE, &text);

	memset(out, 0, sizeof(*out));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hostdev_error(ctx, r, "%s: cannot read %s: %s", address, VGPU_CREATABLE,
				     strerror(-r));
	r = vgpu_parse_creatable(text, out, err, sizeof(err));
	free(text);
	if (r == -EBADMSG)
		return hostdev_error(ctx, r,
				     "%s: %s is not what NVIDIA's driver writes (%s): the VF's "
				     "vGPU types cannot be used; check the driver version",
				     address, VGPU_CREATABLE, err);
	return r;
}

static bool is_virtfn(const char *name)
{
	if (strncmp(name, "virtfn", 6) != 0 || !name[6])
		return false;
	for (const char *p = name + 6; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* The VF addresses of the PF at @address, sorted (none: empty). */
static int pf_vfs(hostdev_ctx *ctx, const char *address, struct strv *out)
{
	struct strv links = {0};
	int fd = open_device(ctx, address), r;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return fd;
	r = sysfs_list_dir(fd, ".", is_virtfn, &links);
	for (size_t i = 0; r >= 0 && i < links.count; i++) {
		char vf[64];

		if (sysfs_read_link_basename(fd, links.items[i], vf, sizeof(vf)) > 0)
			r = strv_push(out, vf);
	}
	close(fd);
	strv_clear(&links);
	if (r < 0) {
		strv_clear(out);
		return r;
	}
	strv_sort(out);
	return 0;
}

/* The name of @type in the creatable lists of the VFs of @pf other than @self. */
static char *sibling_name(hostdev_ctx *ctx, const char *pf, const char *self, unsigned int type)
{
	struct strv vfs;
	char *name = NULL;

	if (!pf[0] || pf_vfs(ctx, pf, &vfs) < 0)
		return NULL;
	for (size_t i = 0; !name && i < vfs.count; i++) {
		struct vgpu_types types;
		const char *found;
		int fd;

		if (strcmp(vfs.items[i], self) == 0 || (fd = open_device(ctx, vfs.items[i])) < 0)
			continue;
		/* A sibling's list that cannot be read only costs the name: no error. */
		if (read_creatable(ctx, fd, vfs.items[i], &types) == 0) {
			found = vgpu_types_name(&types, type);
			name = found ? strdup(found) : NULL;
			vgpu_types_clear(&types);
		}
		close(fd);
	}
	hostdev_clear_error(ctx);
	strv_clear(&vfs);
	return name;
}

/* Why @address offers no vGPU types, as an -EOPNOTSUPP message. */
static int not_a_vgpu_vf(hostdev_ctx *ctx, int fd, const char *address)
{
	char driver[64] = "", pf[64] = "";
	unsigned long total = 0;

	sysfs_read_link_basename(fd, "driver", driver, sizeof(driver));
	if (sysfs_read_link_basename(fd, "physfn", pf, sizeof(pf)) > 0 &&
	    strcmp(driver, "vfio-pci") == 0)
		return hostdev_error(
		    ctx, -EOPNOTSUPP,
		    "%s (a VF of %s) has no %s: the VF is on vfio-pci, and only NVIDIA's driver "
		    "gives its VFs vGPU types. Give it back to the nvidia driver first "
		    "(hostdev_vfio_restore() when libhostdev bound it)",
		    address, pf, VGPU_CURRENT);
	if (pf[0])
		return hostdev_error(
		    ctx, -EOPNOTSUPP,
		    "%s (a VF of %s) has no %s, and the VF is on %s: only the VFs of an NVIDIA GPU "
		    "that the nvidia driver drives, with NVIDIA's vGPU manager installed, offer vGPU "
		    "types",
		    address, pf, VGPU_CURRENT, driver[0] ? driver : "no driver");
	if (sysfs_read_uint(fd, "sriov_totalvfs", 10, &total) == 0 && total > 0)
		return hostdev_error(ctx, -EOPNOTSUPP,
				     "%s is an SR-IOV PF without VFs that offer vGPU types: enable "
				     "its VFs with the nvidia driver bound to it "
				     "(hostdev_sriov_set_num_vfs(), what NVIDIA's sriov-manage -e "
				     "does), then list again",
				     address);
	return hostdev_error(ctx, -EOPNOTSUPP,
			     "%s offers no vGPU types: it is neither a VF with %s nor a GPU with "
			     "such VFs",
			     address, VGPU_CURRENT);
}

int vgpu_vf_read(hostdev_ctx *ctx, const char *address, struct vgpu_vf *out)
{
	char buf[64];
	long group;
	int fd, r;

	memset(out, 0, sizeof(*out));
	out->iommu_group = -1;
	snprintf(out->address, sizeof(out->address), "%s", address);
	fd = open_device(ctx, address);
	if (fd < 0)
		return fd == -ENOENT ? hostdev_error(ctx, -ENODEV, "no PCI device %s", address)
				     : hostdev_error(ctx, fd, "%s: %s", address, strerror(-fd));
	r = sysfs_read_attr(fd, VGPU_CURRENT, buf, sizeof(buf));
	if (r == -ENOENT || r == -ENOTDIR) {
		r = not_a_vgpu_vf(ctx, fd, address);
		close(fd);
		return r;
	}
	if (r >= 0 && vgpu_parse_current(buf, &out->current) < 0)
		r = hostdev_error(ctx, -EBADMSG,
				  "%s: %s reads \"%.40s\", not a type id: check the driver version",
				  address, VGPU_CURRENT, buf);
	else if (r < 0)
		r = hostdev_error(ctx, r, "%s: cannot read %s: %s", address, VGPU_CURRENT,
				  strerror(-r));
	if (r >= 0)
		r = read_creatable(ctx, fd, address, &out->creatable);
	if (r >= 0) {
		sysfs_read_link_basename(fd, "physfn", out->pf, sizeof(out->pf));
		sysfs_read_link_basename(fd, "driver", out->driver, sizeof(out->driver));
		if (sysfs_read_link_basename(fd, "iommu_group", buf, sizeof(buf)) > 0) {
			char *end;

			group = strtol(buf, &end, 10);
			out->iommu_group = *end || group < 0 || group > INT_MAX ? -1 : (int)group;
		}
	}
	close(fd);
	if (r >= 0 && out->current) {
		const char *name = vgpu_types_name(&out->creatable, out->current);

		out->current_name =
		    name ? strdup(name) : sibling_name(ctx, out->pf, address, out->current);
		if (name && !out->current_name)
			r = -ENOMEM;
	}
	if (r < 0)
		vgpu_vf_clear(out);
	return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The public snapshot */

struct hostdev_vgpu_list {
	int refcount;
	struct vgpu_vf *vfs;
	size_t count;
};

static void list_destroy(hostdev_vgpu_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		vgpu_vf_clear(&list->vfs[i]);
	free(list->vfs);
	free(list);
}

HOSTDEV_DEFINE_ATOMIC_REF_UNREF(hostdev_vgpu_list, list_destroy)

static int list_add(hostdev_ctx *ctx, hostdev_vgpu_list *list, const char *address)
{
	struct vgpu_vf *vfs = realloc(list->vfs, (list->count + 1) * sizeof(*vfs));
	int r;

	if (!vfs)
		return -ENOMEM;
	list->vfs = vfs;
	r = vgpu_vf_read(ctx, address, &vfs[list->count]);
	if (r == 0)
		list->count++;
	return r;
}

static bool has_current(hostdev_ctx *ctx, const char *address)
{
	unsigned int type;

	return vgpu_read_current(ctx, address, &type) != -ENOENT;
}

/* Every device of the host with nvidia/current_vgpu_type, in address order. */
static int read_all(hostdev_ctx *ctx, hostdev_vgpu_list *list)
{
	char path[PATH_MAX];
	struct strv all = {0};
	int fd, r;

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "bus/pci/devices") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
			   ? 0
			   : hostdev_error(ctx, -errno, "%s: %s", path, strerror(errno));
	r = sysfs_list_dir(fd, ".", NULL, &all);
	close(fd);
	for (size_t i = 0; r >= 0 && i < all.count; i++) {
		if (!has_current(ctx, all.items[i]))
			continue;
		r = list_add(ctx, list, all.items[i]);
		/* A VF that went between the listing and the read is not an error. */
		if (r == -ENODEV || r == -EOPNOTSUPP) {
			hostdev_clear_error(ctx);
			r = 0;
		}
	}
	strv_clear(&all);
	return r;
}

/* @address (canonical) and, for a PF, its vGPU-capable VFs. */
static int read_one(hostdev_ctx *ctx, hostdev_vgpu_list *list, const char *address)
{
	struct strv vfs;
	int r;

	if (has_current(ctx, address))
		return list_add(ctx, list, address);
	r = pf_vfs(ctx, address, &vfs);
	if (r == -ENOENT)
		return hostdev_error(ctx, -ENODEV, "no PCI device %s", address);
	for (size_t i = 0; r >= 0 && i < vfs.count; i++)
		if (has_current(ctx, vfs.items[i]))
			r = list_add(ctx, list, vfs.items[i]);
	if (r >= 0 && list->count == 0) {
		if (vfs.count)
			r = hostdev_error(ctx, -EOPNOTSUPP,
					  "%s has %zu VFs, but none offers vGPU types (none has "
					  "%s): are they on NVIDIA's driver, with its vGPU manager "
					  "installed?",
					  address, vfs.count, VGPU_CURRENT);
		else
			r = list_add(ctx, list, address); /* says why */
	}
	strv_clear(&vfs);
	return r;
}

/* Names of current types that no creatable list shows any more, from the journal. */
static void names_from_journal(hostdev_ctx *ctx, hostdev_vgpu_list *list)
{
	struct vgpu_journal_data journal;
	int r = vgpu_journal_peek(ctx, &journal);

	if (r < 0) {
		hostdev_log(ctx, HOSTDEV_LOG_WARNING,
			    "vGPU list: the vGPU journal cannot be read (%s); listing without it",
			    hostdev_ctx_get_error(ctx));
		hostdev_clear_error(ctx);
		return;
	}
	for (size_t i = 0; i < list->count; i++) {
		struct vgpu_vf *vf = &list->vfs[i];
		ptrdiff_t k = vgpu_journal_data_find(&journal, vf->address);

		vf->journaled = k >= 0;
		if (k >= 0 && !vf->current_name && vf->current &&
		    journal.records[k].type == vf->current && journal.records[k].name)
			vf->current_name = strdup(journal.records[k].name);
	}
	vgpu_journal_data_clear(&journal);
}

HOSTDEV_EXPORT int hostdev_vgpu_read(hostdev_ctx *ctx, const char *address, hostdev_vgpu_list **out)
{
	struct hostdev_pci_address a;
	char canon[HOSTDEV_PCI_ADDRESS_MAX];
	hostdev_vgpu_list *list;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	if (address && (hostdev_pci_address_parse(address, &a) < 0 ||
			hostdev_pci_address_format(&a, canon, sizeof(canon)) < 0))
		return hostdev_error(ctx, -EINVAL,
				     "\"%s\" is not a PCI address: write DDDD:BB:DD.F, e.g. "
				     "0000:08:00.4",
				     address);
	list = calloc(1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	list->refcount = 1;
	r = address ? read_one(ctx, list, canon) : read_all(ctx, list);
	if (r < 0) {
		hostdev_vgpu_list_unref(list);
		return r;
	}
	names_from_journal(ctx, list);
	*out = list;
	return 0;
}

static const struct vgpu_vf *vf_at(const hostdev_vgpu_list *list, size_t i)
{
	return list && i < list->count ? &list->vfs[i] : NULL;
}

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_vgpu_list, get_count, count, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vgpu_list, get_address, vf_at, address,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vgpu_list, get_iommu_group, vf_at, iommu_group, -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(unsigned int, hostdev_vgpu_list, get_current_type, vf_at,
				    current, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vgpu_list, get_current_name, vf_at,
				    current_name, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vgpu_list, is_journaled, vf_at, journaled, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(size_t, hostdev_vgpu_list, get_type_count, vf_at,
				    creatable.count, 0)

HOSTDEV_EXPORT const char *hostdev_vgpu_list_get_pf(const hostdev_vgpu_list *list, size_t i)
{
	const struct vgpu_vf *vf = vf_at(list, i);

	return vf && vf->pf[0] ? vf->pf : NULL;
}

HOSTDEV_EXPORT const char *hostdev_vgpu_list_get_driver(const hostdev_vgpu_list *list, size_t i)
{
	const struct vgpu_vf *vf = vf_at(list, i);

	return vf && vf->driver[0] ? vf->driver : NULL;
}

static const struct vgpu_type *type_at(const hostdev_vgpu_list *list, size_t i, size_t k)
{
	const struct vgpu_vf *vf = vf_at(list, i);

	return vf && k < vf->creatable.count ? &vf->creatable.items[k] : NULL;
}

HOSTDEV_EXPORT unsigned int hostdev_vgpu_list_get_type_id(const hostdev_vgpu_list *list, size_t i,
							  size_t k)
{
	const struct vgpu_type *t = type_at(list, i, k);

	return t ? t->id : 0;
}

HOSTDEV_EXPORT const char *hostdev_vgpu_list_get_type_name(const hostdev_vgpu_list *list, size_t i,
							   size_t k)
{
	const struct vgpu_type *t = type_at(list, i, k);

	return t ? t->name : NULL;
}

/* "resource_name": Harvester's name of type @name, or null. */
static bool add_resource_name(cJSON *o, const char *name)
{
	char buf[HOSTDEV_NAME_MAX];

	if (name && hostdev_naming_vgpu_resource(name, buf, sizeof(buf)) >= 0)
		return cJSON_AddStringToObject(o, "resource_name", buf) != NULL;
	return cJSON_AddNullToObject(o, "resource_name") != NULL;
}

static bool add_string_or_null(cJSON *o, const char *key, const char *value)
{
	return value ? cJSON_AddStringToObject(o, key, value) != NULL
		     : cJSON_AddNullToObject(o, key) != NULL;
}

HOSTDEV_EXPORT int hostdev_vgpu_list_to_json(const hostdev_vgpu_list *list, unsigned int flags,
					     char **out)
{
	cJSON *doc, *o, *types, *t;
	bool ok = true;

	if (!list || !out || (flags & ~(unsigned int)HOSTDEV_JSON_PRETTY))
		return -EINVAL;
	doc = cJSON_CreateArray();
	for (size_t i = 0; doc && ok && i < list->count; i++) {
		const struct vgpu_vf *vf = &list->vfs[i];

		ok = (o = cJSON_CreateObject()) && cJSON_AddItemToArray(doc, o) &&
		     cJSON_AddStringToObject(o, "address", vf->address) &&
		     add_string_or_null(o, "pf", vf->pf[0] ? vf->pf : NULL) &&
		     add_string_or_null(o, "driver", vf->driver[0] ? vf->driver : NULL) &&
		     (vf->iommu_group >= 0
			  ? cJSON_AddNumberToObject(o, "iommu_group", vf->iommu_group)
			  : cJSON_AddNullToObject(o, "iommu_group")) &&
		     cJSON_AddNumberToObject(o, "current_type", vf->current) &&
		     add_string_or_null(o, "current_name", vf->current_name) &&
		     add_resource_name(o, vf->current_name) &&
		     cJSON_AddBoolToObject(o, "journaled", vf->journaled) &&
		     (types = cJSON_AddArrayToObject(o, "creatable"));
		for (size_t k = 0; ok && k < vf->creatable.count; k++)
			ok = (t = cJSON_CreateObject()) && cJSON_AddItemToArray(types, t) &&
			     cJSON_AddNumberToObject(t, "id", vf->creatable.items[k].id) &&
			     cJSON_AddStringToObject(t, "name", vf->creatable.items[k].name) &&
			     add_resource_name(t, vf->creatable.items[k].name);
	}
	if (!ok) {
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	return json_print_and_delete(doc, flags & HOSTDEV_JSON_PRETTY, out);
}
