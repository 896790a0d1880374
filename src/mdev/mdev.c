/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mediated devices: parents and their types, existing mdevs, create and remove (mdev.h).
 *
 * Parents are the entries of <sysfs>/class/mdev_bus (every parent the mdev core registered, PCI or
 * not: vGPU cards, the mtty sample) plus PCI devices that carry mdev_supported_types (older trees
 * and captures without the class directory). Create writes a UUID to
 * <parent>/mdev_supported_types/<type>/create; remove writes 1 to
 * <sysfs>/bus/mdev/devices/<uuid>/remove. Both run under the watchdog of attr_write.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

static const char class_mdev_bus[] = "class/mdev_bus";
static const char bus_mdev_devices[] = "bus/mdev/devices";
static const char pci_devices[] = "bus/pci/devices";

/* ---------------------------------------------------------------------------------------------- */
/* Helpers */

static bool is_uuid(const char *s)
{
	static const int dashes[] = {8, 13, 18, 23};

	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == dashes[0] || i == dashes[1] || i == dashes[2] || i == dashes[3];

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* A name usable as one path component. */
static bool name_ok(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strlen(s) < NAME_MAX;
}

/*
 * KubeVirt's mdevNameSelector form: spaces -> '_' first, then surrounding whitespace trimmed
 * (strings.Replace then strings.TrimSpace in KubeVirt's device manager); the type id when the type
 * has no name.
 */
static char *make_selector(const char *name, const char *type_id)
{
	const char *src = name ? name : type_id;
	char *s = strdup(src), *start, *end;

	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if (*p == ' ')
			*p = '_';
	for (start = s; *start && isspace((unsigned char)*start); start++)
		;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	memmove(s, start, strlen(start) + 1);
	return s;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* <sysfs>/@a/@b into @buf; false when it does not fit. */
static bool sys_path(hostdev_ctx *ctx, char *buf, size_t size, const char *a, const char *b)
{
	int n = b ? snprintf(buf, size, "%s/%s/%s", ctx_sysfs(ctx), a, b)
		  : snprintf(buf, size, "%s/%s", ctx_sysfs(ctx), a);

	return n >= 0 && (size_t)n < size;
}

static int link_group(int dirfd, const char *name)
{
	char buf[64], *end;
	long n;

	if (sysfs_read_link_basename(dirfd, name, buf, sizeof(buf)) <= 0)
		return -1;
	n = strtol(buf, &end, 10);
	return *end == '\0' && n >= 0 && n <= INT_MAX ? (int)n : -1;
}

/* ---------------------------------------------------------------------------------------------- */
/* Parents */

struct parent {
	char *name;
	char *dir; /* sysfs path of the parent device (through the class or bus link) */
	bool pci;
};

struct parents {
	struct parent *items;
	size_t count, capacity;
};

static void parents_clear(struct parents *ps)
{
	for (size_t i = 0; i < ps->count; i++) {
		free(ps->items[i].name);
		free(ps->items[i].dir);
	}
	free(ps->items);
	memset(ps, 0, sizeof(*ps));
}

static bool parents_has(const struct parents *ps, const char *name)
{
	for (size_t i = 0; i < ps->count; i++)
		if (strcmp(ps->items[i].name, name) == 0)
			return true;
	return false;
}

static bool is_pci_name(hostdev_ctx *ctx, const char *name)
{
	struct hostdev_pci_address a;
	char path[PATH_MAX];

	return hostdev_pci_address_parse(name, &a) == 0 &&
	       sysfs_pci_device_path(ctx, path, sizeof(path), name, NULL) == 0 && path_exists(path);
}

static int parents_add(hostdev_ctx *ctx, struct parents *ps, const char *name, const char *dir)
{
	struct parent *p;

	if (parents_has(ps, name))
		return 0;
	if (ps->count == ps->capacity) {
		size_t cap = ps->capacity ? ps->capacity * 2 : 8;
		struct parent *n = realloc(ps->items, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ps->items = n;
		ps->capacity = cap;
	}
	p = &ps->items[ps->count];
	p->name = strdup(name);
	p->dir = strdup(dir);
	p->pci = is_pci_name(ctx, name);
	if (!p->name || !p->dir) {
		free(p->name);
		free(p->dir);
		return -ENOMEM;
	}
	ps->count++;
	return 0;
}

static int compare_parents(const void *a, const void *b)
{
	const struct parent *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static bool has_types_dir(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	return snprintf(path, sizeof(path), "%s/mdev_supported_types", dir) < (int)sizeof(path) &&
	       stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every parent: class/mdev_bus entries, then PCI devices with mdev_supported_types. */
static int collect_parents(hostdev_ctx *ctx, struct parents *ps)
{
	struct strv names = {0};
	char base[PATH_MAX], dir[PATH_MAX];
	int r = 0;

	if (sys_path(ctx, base, sizeof(base), class_mdev_bus, NULL) &&
	    sysfs_list_dir(AT_FDCWD, base, NULL, &names) == 0) {
		for (size_t i = 0; i < names.count && r == 0; i++)
			if (path_join(dir, sizeof(dir), base, names.items[i]) == 0 &&
			    has_types_dir(dir))
				r = parents_add(ctx, ps, names.items[i], dir);
	}
	strv_clear(&names);
	if (r == 0 && sys_path(ctx, base, sizeof(base), pci_devices, NULL) &&
	    sysfs_list_dir(AT_FDCWD, base, NULL, &names) == 0) {
		for (size_t i = 0; i < names.count && r == 0; i++)
			if (!parents_has(ps, names.items[i]) &&
			    path_join(dir, sizeof(dir), base, names.items[i]) == 0 &&
			    has_types_dir(dir))
				r = parents_add(ctx, ps, names.items[i], dir);
	}
	strv_clear(&names);
	if (r == 0 && ps->count > 1)
		qsort(ps->items, ps->count, sizeof(*ps->items), compare_parents);
	return r;
}

/*
 * Resolve the parent @name (PCI address in any accepted form, or a class/mdev_bus name) into
 * @ps as its only entry. -ENODEV with the message when there is no such device, -EOPNOTSUPP when
 * it offers no mdev types.
 */
static int resolve_parent(hostdev_ctx *ctx, const char *name, struct parents *ps)
{
	struct hostdev_pci_address a;
	char canonical[HOSTDEV_PCI_ADDRESS_MAX], dir[PATH_MAX];
	const char *key = name;
	bool found = false;

	if (name && hostdev_pci_address_parse(name, &a) == 0) {
		hostdev_pci_address_format(&a, canonical, sizeof(canonical));
		key = canonical;
	}
	if (!name_ok(key))
		return hostdev_error(ctx, -EINVAL,
				     "'%s' is not an mdev parent name: give a PCI address such as "
				     "0000:3b:00.0 or a name of %s/%s such as mtty",
				     name ? name : "(null)", ctx_sysfs(ctx), class_mdev_bus);
	if (sys_path(ctx, dir, sizeof(dir), class_mdev_bus, key) && path_exists(dir))
		found = true;
	else if (sysfs_pci_device_path(ctx, dir, sizeof(dir), key, NULL) == 0 && path_exists(dir))
		found = true;
	if (!found)
		return hostdev_error(ctx, -ENODEV,
				     "%s: no such mdev parent (neither %s/%s/%s nor a PCI device); "
				     "hostdev_mdev_types_read() lists the parents",
				     key, ctx_sysfs(ctx), class_mdev_bus, key);
	if (!has_types_dir(dir))
		return hostdev_error(ctx, -EOPNOTSUPP,
				     "%s: offers no mediated device types (no "
				     "mdev_supported_types): its driver is not an mdev parent "
				     "driver (vGPU drivers need their host driver and licence "
				     "setup)",
				     key);
	return parents_add(ctx, ps, key, dir);
}

/* ---------------------------------------------------------------------------------------------- */
/* Types */

struct mdev_type_entry {
	char *parent;
	bool pci;
	char *type;
	char *name;
	char *selector;
	int available;
	char *device_api;
	char *description;
};

struct hostdev_mdev_types {
	int refcount;
	struct mdev_type_entry *items;
	size_t count, capacity;
};

static void type_entry_clear(struct mdev_type_entry *t)
{
	free(t->parent);
	free(t->type);
	free(t->name);
	free(t->selector);
	free(t->device_api);
	free(t->description);
}

static int read_type(int types_fd, const struct parent *p, const char *id,
		     struct mdev_type_entry *t)
{
	unsigned long v;
	char *s;
	int fd;

	memset(t, 0, sizeof(*t));
	t->available = -1;
	t->pci = p->pci;
	if (!(t->parent = strdup(p->name)) || !(t->type = strdup(id)))
		return -ENOMEM;
	fd = open_dir_at(types_fd, id);
	if (fd >= 0) {
		if (sysfs_read_alloc(fd, "name", &s) >= 0)
			t->name = s;
		if (sysfs_read_uint(fd, "available_instances", 10, &v) == 0 && v <= INT_MAX)
			t->available = (int)v;
		if (sysfs_read_alloc(fd, "device_api", &s) >= 0)
			t->device_api = s;
		if (sysfs_read_alloc(fd, "description", &s) >= 0)
			t->description = s;
		close(fd);
	}
	t->selector = make_selector(t->name, id);
	return t->selector ? 0 : -ENOMEM;
}

static int types_add_parent(hostdev_mdev_types *types, const struct parent *p)
{
	struct strv ids = {0};
	char path[PATH_MAX];
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/mdev_supported_types", p->dir) >= (int)sizeof(path))
		return 0;
	fd = open_dir_at(AT_FDCWD, path);
	if (fd < 0)
		return 0; /* vanished meanwhile */
	r = sysfs_list_dir(fd, ".", NULL, &ids);
	for (size_t i = 0; r == 0 && i < ids.count; i++) {
		if (types->count == types->capacity) {
			size_t cap = types->capacity ? types->capacity * 2 : 8;
			struct mdev_type_entry *n = realloc(types->items, cap * sizeof(*n));

			if (!n) {
				r = -ENOMEM;
				break;
			}
			types->items = n;
			types->capacity = cap;
		}
		r = read_type(fd, p, ids.items[i], &types->items[types->count]);
		if (r < 0)
			type_entry_clear(&types->items[types->count]);
		else
			types->count++;
	}
	strv_clear(&ids);
	close(fd);
	return r == -ENOENT ? 0 : r;
}

HOSTDEV_EXPORT int hostdev_mdev_types_read(hostdev_ctx *ctx, const char *parent,
					   hostdev_mdev_types **out)
{
	struct parents ps = {0};
	hostdev_mdev_types *types;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	r = parent ? resolve_parent(ctx, parent, &ps) : collect_parents(ctx, &ps);
	if (r < 0) {
		parents_clear(&ps);
		return r;
	}
	types = calloc(1, sizeof(*types));
	if (!types) {
		parents_clear(&ps);
		return -ENOMEM;
	}
	types->refcount = 1;
	for (size_t i = 0; i < ps.count && r == 0; i++)
		r = types_add_parent(types, &ps.items[i]);
	parents_clear(&ps);
	if (r < 0) {
		hostdev_mdev_types_unref(types);
		return r;
	}
	*out = types;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void mdev_types_destroy(hostdev_mdev_types *types)
{
	for (size_t i = 0; i < types->count; i++)
		type_entry_clear(&types->items[i]);
	free(types->items);
	free(types);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_mdev_types, mdev_types_destroy)

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_mdev_types, get_count, count, 0)

static const struct mdev_type_entry *type_at(const hostdev_mdev_types *types, size_t i)
{
	return types && i < types->count ? &types->items[i] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_types, get_parent, type_at, parent,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_mdev_types, is_pci_parent, type_at, pci, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_types, get_type, type_at, type, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_types, get_name, type_at, name, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_types, get_selector, type_at,
				    selector, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_mdev_types, get_available, type_at, available, -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_types, get_device_api, type_at,
				    device_api, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_types, get_description, type_at,
				    description, NULL)

/* ---------------------------------------------------------------------------------------------- */
/* Existing mdevs */

struct mdev_entry {
	char uuid[HOSTDEV_MDEV_UUID_MAX];
	char *parent;
	char *type;
	char *type_name;
	char *selector;
	char *driver;
	int iommu_group;
};

struct hostdev_mdev_list {
	int refcount;
	struct mdev_entry *items;
	size_t count;
};

static void mdev_entry_clear(struct mdev_entry *m)
{
	free(m->parent);
	free(m->type);
	free(m->type_name);
	free(m->selector);
	free(m->driver);
}

static int read_mdev(const char *devices, const char *uuid, struct mdev_entry *m)
{
	char path[PATH_MAX], real[PATH_MAX], buf[NAME_MAX + 1];
	char *slash;
	int fd;

	memset(m, 0, sizeof(*m));
	m->iommu_group = -1;
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	if (path_join(path, sizeof(path), devices, uuid) < 0 || !realpath(path, real))
		return -ENOENT; /* removed meanwhile */
	slash = strrchr(real, '/');
	if (slash && slash != real) {
		*slash = '\0';
		if (!(m->parent = strdup(strrchr(real, '/') + 1)))
			return -ENOMEM;
		*slash = '/';
	}
	fd = open_dir_at(AT_FDCWD, real);
	if (fd < 0)
		return fd; /* -ENOENT: removed meanwhile; anything else is this process's trouble */
	if (sysfs_read_link_basename(fd, "mdev_type", buf, sizeof(buf)) > 0 &&
	    !(m->type = strdup(buf))) {
		close(fd);
		return -ENOMEM;
	}
	if (m->type) {
		char *s;

		if (sysfs_read_alloc(fd, "mdev_type/name", &s) >= 0)
			m->type_name = s;
		if (!(m->selector = make_selector(m->type_name, m->type))) {
			close(fd);
			return -ENOMEM;
		}
	}
	if (sysfs_read_link_basename(fd, "driver", buf, sizeof(buf)) > 0 &&
	    !(m->driver = strdup(buf))) {
		close(fd);
		return -ENOMEM;
	}
	m->iommu_group = link_group(fd, "iommu_group");
	close(fd);
	return 0;
}

static bool keep_uuid(const char *name)
{
	return is_uuid(name);
}

HOSTDEV_EXPORT int hostdev_mdev_list_read(hostdev_ctx *ctx, hostdev_mdev_list **out)
{
	struct strv uuids = {0};
	hostdev_mdev_list *list;
	char devices[PATH_MAX];
	int r = 0;

	if (!ctx || !out)
		return -EINVAL;
	list = calloc(1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	list->refcount = 1;
	if (!sys_path(ctx, devices, sizeof(devices), bus_mdev_devices, NULL)) {
		hostdev_mdev_list_unref(list);
		return hostdev_error(ctx, -ENAMETOOLONG, "sysfs path '%s' is too long",
				     ctx_sysfs(ctx));
	}
	/*
	 * No bus/mdev: the mdev module is not loaded, so there are no mdevs. Any other failure
	 * (out of file descriptors or memory, no permission) says nothing about the mdevs: an
	 * empty list would tell a caller (a device plugin) that every mdev is gone.
	 */
	r = sysfs_list_dir(AT_FDCWD, devices, keep_uuid, &uuids);
	if (r == -ENOENT) {
		r = 0;
	} else if (r < 0) {
		hostdev_error(ctx, r, "cannot list the mediated devices in %s: %s", devices,
			      strerror(-r));
	} else if (uuids.count > 0) {
		list->items = calloc(uuids.count, sizeof(*list->items));
		if (!list->items)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < uuids.count; i++) {
			struct mdev_entry *m = &list->items[list->count];
			int e = read_mdev(devices, uuids.items[i], m);

			if (e == 0) {
				list->count++;
				continue;
			}
			mdev_entry_clear(m);
			if (e == -ENOMEM)
				r = e;
			else if (e != -ENOENT) /* an mdev removed meanwhile is simply not listed */
				r = hostdev_error(ctx, e, "cannot read mediated device %s: %s",
						  uuids.items[i], strerror(-e));
		}
	}
	strv_clear(&uuids);
	if (r < 0) {
		hostdev_mdev_list_unref(list);
		return r;
	}
	*out = list;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void mdev_list_destroy(hostdev_mdev_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		mdev_entry_clear(&list->items[i]);
	free(list->items);
	free(list);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_mdev_list, mdev_list_destroy)

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_mdev_list, get_count, count, 0)

static const struct mdev_entry *mdev_at(const hostdev_mdev_list *list, size_t i)
{
	return list && i < list->count ? &list->items[i] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_list, get_uuid, mdev_at, uuid, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_list, get_parent, mdev_at, parent,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_list, get_type, mdev_at, type, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_list, get_type_name, mdev_at,
				    type_name, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_list, get_selector, mdev_at,
				    selector, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_mdev_list, get_iommu_group, mdev_at, iommu_group,
				    -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_mdev_list, get_driver, mdev_at, driver,
				    NULL)

/* ---------------------------------------------------------------------------------------------- */
/* Create and remove */

HOSTDEV_EXPORT int hostdev_mdev_options_init(struct hostdev_mdev_options *opts,
					     unsigned int version)
{
	if (!opts || !VERSION_KNOWN(version, HOSTDEV_MDEV_OPTIONS_VERSION))
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int options_get(hostdev_ctx *ctx, const struct hostdev_mdev_options *opts,
		       unsigned int *timeout_ms)
{
	*timeout_ms = HOSTDEV_MDEV_DEFAULT_TIMEOUT_MS;
	if (!opts)
		return 0;
	CHECK_VERSION(
	    ctx, opts->version, HOSTDEV_MDEV_OPTIONS_VERSION,
	    "initialise them with HOSTDEV_MDEV_OPTIONS_INIT or hostdev_mdev_options_init()",
	    "mdev options");
	if (opts->timeout_ms)
		*timeout_ms = opts->timeout_ms;
	return 0;
}

static int read_urandom(hostdev_ctx *ctx, unsigned char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t done = 0;
	int fd;

	if (path_join(path, sizeof(path), ctx->paths[HOSTDEV_PATH_DEV], "urandom") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

HOSTDEV_EXPORT int hostdev_mdev_uuid_generate(hostdev_ctx *ctx, char *buf, size_t size)
{
	unsigned char b[16];
	ssize_t n;
	int r;

	if (!ctx || !buf)
		return -EINVAL;
	if (size < HOSTDEV_MDEV_UUID_MAX)
		return -ENOSPC;
	do {
		n = getrandom(b, sizeof(b), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b)) {
		r = read_urandom(ctx, b, sizeof(b));
		if (r < 0)
			return hostdev_error(ctx, -EIO,
					     "cannot generate a UUID: getrandom(2) failed and "
					     "%s/urandom is unreadable (%s)",
					     ctx->paths[HOSTDEV_PATH_DEV], strerror(-r));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4: random */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(buf, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 36;
}

/* "mtty-1, mtty-2" for the message of an unknown type. */
static void type_names(const char *parent_dir, char *buf, size_t size)
{
	char path[PATH_MAX];
	struct strv ids = {0};

	buf[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/mdev_supported_types", parent_dir) >=
		(int)sizeof(path) ||
	    sysfs_list_dir(AT_FDCWD, path, NULL, &ids) < 0)
		return;
	for (size_t i = 0; i < ids.count; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "",
			 ids.items[i]);
	strv_clear(&ids);
}

static const char *create_advice(int err)
{
	switch (err) {
	case EEXIST:
		return "an mdev with this UUID exists already: pick another UUID (or let "
		       "libhostdev generate one)";
	case EINVAL:
		return "the kernel or the vendor driver rejected the request: check the UUID and "
		       "dmesg";
	case ENOSPC:
	case EUSERS:
	case EDQUOT:
		return "the parent has no capacity left for this type (all instances or the "
		       "device's memory are taken, or other types already use it): remove an mdev "
		       "of this parent or choose a smaller type";
	case EBUSY:
		return "the parent is busy (a different type is in use on it, or it is being "
		       "reset): check the parent's mdevs (hostdev_mdev_list_read()) and dmesg";
	case ENODEV:
		return "the parent went away or its driver was unbound";
	case EPERM:
	case EACCES:
		return "permission denied: run as root";
	default:
		return "the vendor driver failed: dmesg says why";
	}
}

static int wait_presence(hostdev_ctx *ctx, const char *path, bool want, unsigned int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		if (path_exists(path) == want)
			return 0;
		if (monotonic_ms() >= deadline)
			return -ETIMEDOUT;
		poll_pause();
	}
}

HOSTDEV_EXPORT int hostdev_mdev_create(hostdev_ctx *ctx, const char *parent, const char *type,
				       const char *uuid, const struct hostdev_mdev_options *opts,
				       unsigned int flags, char **uuid_out)
{
	struct parents ps = {0};
	char id[HOSTDEV_MDEV_UUID_MAX], type_dir[PATH_MAX], path[PATH_MAX], create[PATH_MAX];
	char list[512];
	const struct parent *p;
	unsigned int timeout_ms;
	unsigned long available;
	char *copy = NULL;
	int r;

	if (!ctx)
		return -EINVAL;
	if (flags)
		return hostdev_error(ctx, -EINVAL, "unknown mdev create flags 0x%x", flags);
	r = options_get(ctx, opts, &timeout_ms);
	if (r < 0)
		return r;
	if (uuid) {
		if (!is_uuid(uuid))
			return hostdev_error(ctx, -EINVAL,
					     "'%s' is not a UUID: expected "
					     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in hex",
					     uuid);
		snprintf(id, sizeof(id), "%s", uuid);
		lower(id);
	}
	if (!name_ok(type))
		return hostdev_error(ctx, -EINVAL,
				     "'%s' is not an mdev type id: give a directory name of "
				     "mdev_supported_types such as nvidia-222 or mtty-2",
				     type ? type : "(null)");
	r = resolve_parent(ctx, parent, &ps);
	if (r < 0)
		goto out;
	p = &ps.items[0];
	if (snprintf(type_dir, sizeof(type_dir), "%s/mdev_supported_types/%s", p->dir, type) >=
	    (int)sizeof(type_dir)) {
		r = hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", p->name);
		goto out;
	}
	if (!path_exists(type_dir)) {
		type_names(p->dir, list, sizeof(list));
		r = hostdev_error(ctx, -ENOENT, "%s: has no mdev type '%s'; its types are: %s",
				  p->name, type, list[0] ? list : "none");
		goto out;
	}
	if (path_join(path, sizeof(path), type_dir, "available_instances") == 0 &&
	    sysfs_read_uint(AT_FDCWD, path, 10, &available) == 0 && available == 0) {
		r = hostdev_error(ctx, -ENOSPC,
				  "%s: no instances of mdev type %s are left "
				  "(available_instances is 0): remove an mdev of this parent "
				  "(hostdev_mdev_list_read() lists them) or choose another type",
				  p->name, type);
		goto out;
	}
	if (!uuid && (r = hostdev_mdev_uuid_generate(ctx, id, sizeof(id))) < 0)
		goto out;
	if (!sys_path(ctx, path, sizeof(path), bus_mdev_devices, id)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (path_exists(path)) {
		r = hostdev_error(ctx, -EEXIST, "mdev %s exists already: %s", id,
				  create_advice(EEXIST));
		goto out;
	}
	if (uuid_out && !(copy = strdup(id))) {
		r = -ENOMEM;
		goto out;
	}
	if (path_join(create, sizeof(create), type_dir, "create") < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	log_debug(ctx, "%s: write '%s' to %s", p->name, id, create);
	r = attr_write_watchdog(create, id, timeout_ms);
	if (r == -ENOTTY) {
		r = hostdev_error(ctx, -EINVAL, "%s: %s " ATTR_NOT_REGULAR, p->name, create);
		goto out;
	}
	if (r == -ETIMEDOUT) {
		r = hostdev_error(
		    ctx, r,
		    "%s: creating mdev %s of type %s (writing to %s) did not return within %u "
		    "ms: the vendor driver is still working or hung; the kernel may still "
		    "create it (check hostdev_mdev_list_read() and dmesg before retrying)",
		    p->name, id, type, create, timeout_ms);
		goto out;
	}
	if (r < 0) {
		r = hostdev_error(ctx, r, "%s: creating mdev %s of type %s failed (%s): %s",
				  p->name, id, type, strerror(-r), create_advice(-r));
		goto out;
	}
	if (wait_presence(ctx, path, true, timeout_ms) < 0) {
		r = hostdev_error(ctx, -ETIMEDOUT,
				  "%s: the kernel accepted mdev %s but %s did not appear within "
				  "%u ms; check hostdev_mdev_list_read() later",
				  p->name, id, path, timeout_ms);
		goto out;
	}
	log_info(ctx, "%s: mdev %s of type %s created", p->name, id, type);
	if (uuid_out) {
		*uuid_out = copy;
		copy = NULL;
	}
	r = 0;
out:
	free(copy);
	parents_clear(&ps);
	return r;
}

HOSTDEV_EXPORT int hostdev_mdev_remove(hostdev_ctx *ctx, const char *uuid,
				       const struct hostdev_mdev_options *opts, unsigned int flags)
{
	char id[HOSTDEV_MDEV_UUID_MAX], dir[PATH_MAX], path[PATH_MAX];
	unsigned int timeout_ms;
	int r;

	if (!ctx)
		return -EINVAL;
	if (flags)
		return hostdev_error(ctx, -EINVAL, "unknown mdev remove flags 0x%x", flags);
	r = options_get(ctx, opts, &timeout_ms);
	if (r < 0)
		return r;
	if (!is_uuid(uuid))
		return hostdev_error(ctx, -EINVAL,
				     "'%s' is not a UUID: expected "
				     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in hex",
				     uuid ? uuid : "(null)");
	snprintf(id, sizeof(id), "%s", uuid);
	lower(id);
	if (!sys_path(ctx, dir, sizeof(dir), bus_mdev_devices, id) ||
	    path_join(path, sizeof(path), dir, "remove") < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "sysfs path '%s' is too long",
				     ctx_sysfs(ctx));
	if (!path_exists(dir))
		return hostdev_error(ctx, -ENODEV,
				     "mdev %s: no such mediated device under %s/%s "
				     "(hostdev_mdev_list_read() lists them)",
				     id, ctx_sysfs(ctx), bus_mdev_devices);
	log_debug(ctx, "mdev %s: write '1' to %s", id, path);
	r = attr_write_watchdog(path, "1", timeout_ms);
	if (r == -ENOTTY)
		return hostdev_error(ctx, -EINVAL, "mdev %s: %s " ATTR_NOT_REGULAR, id, path);
	if (r == -ETIMEDOUT)
		return hostdev_error(ctx, r,
				     "mdev %s: removal (writing 1 to %s) did not return within %u "
				     "ms: a virtual machine (or another VFIO user) probably still "
				     "holds it open; the kernel removes it once they let go",
				     id, path, timeout_ms);
	if (r == -ENOENT || r == -ENODEV)
		return hostdev_error(ctx, -ENODEV, "mdev %s: disappeared before it was removed",
				     id);
	if (r < 0)
		return hostdev_error(ctx, r, "mdev %s: removal failed (%s): %s", id, strerror(-r),
				     r == -EBUSY ? "it is in use (a VM holds it): stop the VM first"
						 : "the vendor driver refused: dmesg says why");
	if (wait_presence(ctx, dir, false, timeout_ms) < 0)
		return hostdev_error(
		    ctx, -ETIMEDOUT,
		    "mdev %s: the kernel accepted the removal but the device is "
		    "still there after %u ms; check hostdev_mdev_list_read() later",
		    id, timeout_ms);
	log_info(ctx, "mdev %s removed", id);
	return 0;
}
