/* SPDX-License-Identifier: Apache-2.0 */
/* Fake root builder for libhostdev tests; see fakeroot.h for the layout it produces. */
#include "fakeroot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct fake_dev {
	char address[32];
	char dir[PATH_MAX]; /* relative to the root */
	char driver[64];
	char group[32];
	char physfn[32];
	unsigned int vf_index;
	unsigned int class_code;
	unsigned int vendor, device, subsystem_vendor, subsystem_device;
	bool removed;
};

struct fakeroot {
	char root[PATH_MAX];
	char sys[PATH_MAX];
	char scratch[PATH_MAX];
	struct fake_dev *devs;
	size_t ndevs;
	size_t capacity;
};

/*
 * snprintf() that reports truncation as -ENAMETOOLONG (and returns the length otherwise), so that
 * path building never silently cuts a name.
 */
__attribute__((format(printf, 3, 4))) static int pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

static int fail(int err, const char *what, const char *path)
{
	fprintf(stderr, "fakeroot: %s %s: %s\n", what, path ? path : "", strerror(-err));
	return err;
}

static int join(char *buf, size_t size, const char *a, const char *b)
{
	int n = pathf(buf, size, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

const char *fakeroot_path(const struct fakeroot *root)
{
	return root->root;
}

const char *fakeroot_sysfs(const struct fakeroot *root)
{
	return root->sys;
}

const char *fakeroot_abspath(struct fakeroot *root, const char *rel)
{
	if (join(root->scratch, sizeof(root->scratch), root->root, rel) < 0)
		return NULL;
	return root->scratch;
}

static int mkdir_p_abs(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fakeroot_mkdir(struct fakeroot *root, const char *rel)
{
	char path[PATH_MAX];
	int r = join(path, sizeof(path), root->root, rel);

	if (r == 0)
		r = mkdir_p_abs(path);
	if (r < 0)
		return fail(r, "mkdir", rel);
	return 0;
}

static int mkdir_parent(const char *abs)
{
	char tmp[PATH_MAX];
	char *slash;

	if (strlen(abs) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, abs);
	slash = strrchr(tmp, '/');
	if (!slash || slash == tmp)
		return 0;
	*slash = '\0';
	return mkdir_p_abs(tmp);
}

int fakeroot_write_bytes(struct fakeroot *root, const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX];
	const char *p = data;
	int fd, r;

	r = join(path, sizeof(path), root->root, rel);
	if (r == 0)
		r = mkdir_parent(path);
	if (r < 0)
		return fail(r, "write", rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return fail(-errno, "open", path);
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			return fail(r, "write", path);
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		return fail(-errno, "close", path);
	return 0;
}

int fakeroot_write(struct fakeroot *root, const char *rel, const char *content)
{
	return fakeroot_write_bytes(root, rel, content, strlen(content));
}

/* printf-style convenience for attribute files (internal; the public API has no varargs). */
__attribute__((format(printf, 3, 4))) static int writef(struct fakeroot *root, const char *rel,
							const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return fail(-ENAMETOOLONG, "format", rel);
	return fakeroot_write(root, rel, buf);
}

/*
 * Link text from the directory of @link_rel to @target_rel, both relative to the root and without
 * "." or ".." components: one "../" for each directory of the link not shared with the target, then
 * the rest of the target ("sys/bus/pci/devices/X" -> "sys/devices/pci0000:00/X" gives
 * "../../../devices/pci0000:00/X").
 */
static int relative_link(const char *target_rel, const char *link_rel, char *buf, size_t size)
{
	const char *slash = strrchr(link_rel, '/');
	size_t dir_len = slash ? (size_t)(slash - link_rel) : 0;
	size_t common = 0, len = 0;

	/* Longest common prefix of whole components between the link's directory and the target. */
	for (size_t i = 0;; i++) {
		bool dir_end = i == dir_len;
		bool target_end = target_rel[i] == '\0' || target_rel[i] == '/';

		if (dir_end || link_rel[i] == '/') {
			if (target_end)
				common = i;
			if (dir_end)
				break;
		}
		if (target_rel[i] == '\0' || target_rel[i] != link_rel[i])
			break;
	}
	/* One "../" per component of the link directory after the common prefix. */
	for (size_t i = common; i < dir_len; i++) {
		if ((i == common && link_rel[i] != '/') ||
		    (link_rel[i] == '/' && i + 1 < dir_len)) {
			if (len + 4 > size)
				return -ENAMETOOLONG;
			memcpy(buf + len, "../", 4);
			len += 3;
		}
	}
	const char *rest = target_rel + common;
	if (*rest == '/')
		rest++;
	if (len + strlen(rest) + 1 > size)
		return -ENAMETOOLONG;
	strcpy(buf + len, rest);
	return 0;
}

int fakeroot_symlink(struct fakeroot *root, const char *target_rel, const char *link_rel)
{
	char link_abs[PATH_MAX], text[PATH_MAX];
	int r;

	r = relative_link(target_rel, link_rel, text, sizeof(text));
	if (r == 0)
		r = join(link_abs, sizeof(link_abs), root->root, link_rel);
	if (r == 0)
		r = mkdir_parent(link_abs);
	if (r < 0)
		return fail(r, "symlink", link_rel);
	(void)unlink(link_abs);
	if (symlink(text, link_abs) < 0)
		return fail(-errno, "symlink", link_abs);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static int rm_rf(const char *abs)
{
	struct stat st;

	if (lstat(abs, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(abs) < 0 ? -errno : 0;
	if (nftw(abs, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return -errno;
	return 0;
}

int fakeroot_remove(struct fakeroot *root, const char *rel)
{
	char path[PATH_MAX];
	int r = join(path, sizeof(path), root->root, rel);

	if (r == 0)
		r = rm_rf(path);
	if (r < 0)
		return fail(r, "remove", rel);
	return 0;
}

struct fakeroot *fakeroot_new(void)
{
	static const char *const dirs[] = {
	    "sys/bus/pci/devices",
	    "sys/bus/pci/drivers",
	    "sys/bus/pci/slots",
	    "sys/bus/mdev/devices",
	    "sys/devices",
	    "sys/kernel/iommu_groups",
	    "sys/module",
	    "sys/class/net",
	    "sys/class/iommu",
	    "dev/vfio",
	    "proc",
	    "var/lib/hostdev",
	    "etc/hostdev",
	    "var/lib/kubelet/device-plugins",
	};
	const char *tmp = getenv("TMPDIR");
	struct fakeroot *root = calloc(1, sizeof(*root));

	if (!root)
		return NULL;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (pathf(root->root, sizeof(root->root), "%s/hostdev-fakeroot-XXXXXX", tmp) < 0) {
		free(root);
		return NULL;
	}
	if (!mkdtemp(root->root)) {
		fail(-errno, "mkdtemp", root->root);
		free(root);
		return NULL;
	}
	pathf(root->sys, sizeof(root->sys), "%s/sys", root->root);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (fakeroot_mkdir(root, dirs[i]) < 0)
			goto fail;
	}
	/* Global PCI bus attributes (write-only in the kernel; plain files here). */
	if (fakeroot_write(root, "sys/bus/pci/drivers_probe", "") < 0 ||
	    fakeroot_write(root, "sys/bus/pci/drivers_autoprobe", "1\n") < 0 ||
	    fakeroot_write(root, "sys/bus/pci/rescan", "") < 0 ||
	    fakeroot_write(root, "sys/bus/pci/resource_alignment", "\n") < 0)
		goto fail;
	return root;
fail:
	fakeroot_free(root);
	return NULL;
}

void fakeroot_free(struct fakeroot *root)
{
	if (!root)
		return;
	if (root->root[0])
		(void)rm_rf(root->root);
	free(root->devs);
	free(root);
}

/* --- PCI
 * ------------------------------------------------------------------------------------------ */

struct addr {
	unsigned int domain, bus, slot, function;
};

static int parse_address(const char *text, struct addr *a)
{
	int n = 0;

	if (sscanf(text, "%x:%x:%x.%x%n", &a->domain, &a->bus, &a->slot, &a->function, &n) != 4 ||
	    text[n] != '\0' || a->bus > 0xff || a->slot > 0x1f || a->function > 7)
		return -EINVAL;
	return 0;
}

static struct fake_dev *find_dev(struct fakeroot *root, const char *address)
{
	for (size_t i = 0; i < root->ndevs; i++) {
		if (!root->devs[i].removed && strcmp(root->devs[i].address, address) == 0)
			return &root->devs[i];
	}
	return NULL;
}

const char *fakeroot_pci_dir(struct fakeroot *root, const char *address)
{
	struct fake_dev *d = find_dev(root, address);

	return d ? d->dir : NULL;
}

static int dev_path(char *buf, size_t size, const struct fake_dev *d, const char *attr)
{
	return join(buf, size, d->dir, attr);
}

void fakeroot_pci_modalias(unsigned int vendor, unsigned int device, unsigned int subsystem_vendor,
			   unsigned int subsystem_device, unsigned int class_code, char *buf,
			   size_t size)
{
	/* drivers/pci/pci-sysfs.c modalias_show() */
	snprintf(buf, size, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", vendor, device,
		 subsystem_vendor, subsystem_device, (class_code >> 16) & 0xff,
		 (class_code >> 8) & 0xff, class_code & 0xff);
}

/* drivers/pci/pci-driver.c pci_uevent(), preceded by the DRIVER= line the driver core adds. */
static int write_uevent(struct fakeroot *root, const struct fake_dev *d)
{
	char path[PATH_MAX], modalias[128], drv[96] = "";
	int r = dev_path(path, sizeof(path), d, "uevent");

	if (r < 0)
		return r;
	fakeroot_pci_modalias(d->vendor, d->device, d->subsystem_vendor, d->subsystem_device,
			      d->class_code, modalias, sizeof(modalias));
	if (d->driver[0])
		pathf(drv, sizeof(drv), "DRIVER=%s\n", d->driver);
	return writef(root, path,
		      "%sPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n"
		      "PCI_SLOT_NAME=%s\nMODALIAS=%s\n",
		      drv, d->class_code, d->vendor, d->device, d->subsystem_vendor,
		      d->subsystem_device, d->address, modalias);
}

static bool is_bridge_class(unsigned int class_code)
{
	return (class_code >> 8) == 0x0604 || (class_code >> 8) == 0x0609;
}

static bool is_vga_class(unsigned int class_code)
{
	return (class_code >> 8) == 0x0300 || (class_code >> 8) == 0x0001;
}

/* The standard 256-byte configuration space a non-root reader gets, with the identity filled in. */
static int write_config(struct fakeroot *root, const struct fake_dev *d,
			const struct fake_pci *desc)
{
	unsigned char cfg[256] = {0};
	char path[PATH_MAX];
	int r = dev_path(path, sizeof(path), d, "config");

	if (r < 0)
		return r;
	cfg[0x00] = desc->vendor & 0xff;
	cfg[0x01] = (desc->vendor >> 8) & 0xff;
	cfg[0x02] = desc->device & 0xff;
	cfg[0x03] = (desc->device >> 8) & 0xff;
	cfg[0x04] = d->driver[0] ? 0x06 : 0x00; /* memory + bus master when a driver runs it */
	cfg[0x08] = desc->revision & 0xff;
	cfg[0x09] = desc->class_code & 0xff;
	cfg[0x0a] = (desc->class_code >> 8) & 0xff;
	cfg[0x0b] = (desc->class_code >> 16) & 0xff;
	cfg[0x0e] =
	    (is_bridge_class(desc->class_code) ? 0x01 : 0x00) | (desc->multifunction ? 0x80 : 0x00);
	if (!is_bridge_class(desc->class_code)) {
		cfg[0x2c] = desc->subsystem_vendor & 0xff;
		cfg[0x2d] = (desc->subsystem_vendor >> 8) & 0xff;
		cfg[0x2e] = desc->subsystem_device & 0xff;
		cfg[0x2f] = (desc->subsystem_device >> 8) & 0xff;
	} else {
		struct addr a;

		parse_address(d->address, &a);
		cfg[0x18] =
		    a.bus & 0xff; /* primary; secondary/subordinate set when children appear */
	}
	return fakeroot_write_bytes(root, path, cfg, sizeof(cfg));
}

/* A child appeared on @bus below bridge @b: record the bus numbers in its config and a pci_bus dir.
 */
static int bridge_add_bus(struct fakeroot *root, const struct fake_dev *b, unsigned int domain,
			  unsigned int bus)
{
	char path[PATH_MAX], rel[PATH_MAX];
	unsigned char bytes[3];
	int fd;

	if (dev_path(rel, sizeof(rel), b, "config") < 0 ||
	    join(path, sizeof(path), root->root, rel) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, "open", path);
	if (pread(fd, bytes, 3, 0x18) == 3) {
		if (bytes[1] == 0 || bus < bytes[1])
			bytes[1] = bus & 0xff;
		if (bus > bytes[2])
			bytes[2] = bus & 0xff;
		(void)pwrite(fd, bytes, 3, 0x18);
	}
	close(fd);
	pathf(path, sizeof(path), "pci_bus/%04x:%02x", domain, bus);
	if (dev_path(rel, sizeof(rel), b, path) < 0)
		return -ENAMETOOLONG;
	return fakeroot_mkdir(root, rel);
}

static int ensure_driver_dir(struct fakeroot *root, const char *driver)
{
	static const char *const files[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};
	char rel[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		pathf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", driver, files[i]);
		if (access(fakeroot_abspath(root, rel), F_OK) == 0)
			continue;
		if (fakeroot_write(root, rel, "") < 0)
			return -EIO;
	}
	return 0;
}

static int link_driver(struct fakeroot *root, struct fake_dev *d, const char *driver)
{
	char rel[PATH_MAX], target[PATH_MAX];
	int r;

	if (dev_path(rel, sizeof(rel), d, "driver") < 0)
		return -ENAMETOOLONG;
	if (d->driver[0]) {
		char back[PATH_MAX];

		pathf(back, sizeof(back), "sys/bus/pci/drivers/%s/%s", d->driver, d->address);
		fakeroot_remove(root, back);
		fakeroot_remove(root, rel);
		d->driver[0] = '\0';
	}
	if (driver) {
		if (strlen(driver) >= sizeof(d->driver))
			return fail(-ENAMETOOLONG, "driver", driver);
		r = ensure_driver_dir(root, driver);
		if (r < 0)
			return r;
		pathf(target, sizeof(target), "sys/bus/pci/drivers/%s", driver);
		r = fakeroot_symlink(root, target, rel);
		if (r < 0)
			return r;
		pathf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", driver, d->address);
		r = fakeroot_symlink(root, d->dir, rel);
		if (r < 0)
			return r;
		strcpy(d->driver, driver);
	}
	return write_uevent(root, d);
}

int fakeroot_pci_set_driver(struct fakeroot *root, const char *address, const char *driver)
{
	struct fake_dev *d = find_dev(root, address);

	if (!d)
		return fail(-ENODEV, "set_driver", address);
	return link_driver(root, d, driver);
}

int fakeroot_pci_set_attr(struct fakeroot *root, const char *address, const char *attr,
			  const char *content)
{
	struct fake_dev *d = find_dev(root, address);
	char rel[PATH_MAX];

	static const char *const identity[] = {"vendor", "device", "subsystem_vendor",
					       "subsystem_device", "class"};
	unsigned int *fields[] = {&d->vendor, &d->device, &d->subsystem_vendor,
				  &d->subsystem_device, &d->class_code};
	int r;

	if (!d)
		return fail(-ENODEV, "set_attr", address);
	if (dev_path(rel, sizeof(rel), d, attr) < 0)
		return -ENAMETOOLONG;
	r = fakeroot_write(root, rel, content);
	if (r < 0)
		return r;
	/*
	 * The kernel's uevent shows the same struct pci_dev as the identity attributes, so keep it
	 * in step. An unparsable value can only be a damaged tree: drop uevent so that readers see
	 * the damaged attribute.
	 */
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
		char *end;
		unsigned long v;

		if (strcmp(attr, identity[i]) != 0)
			continue;
		v = strtoul(content, &end, 16);
		if (end != content && (*end == '\n' || *end == '\0')) {
			*fields[i] = (unsigned int)v;
			return write_uevent(root, d);
		}
		if (dev_path(rel, sizeof(rel), d, "uevent") < 0)
			return -ENAMETOOLONG;
		return fakeroot_remove(root, rel);
	}
	return 0;
}

static int add_iommu_group(struct fakeroot *root, struct fake_dev *d, const char *group)
{
	char rel[PATH_MAX], target[PATH_MAX];
	int r;

	pathf(target, sizeof(target), "sys/kernel/iommu_groups/%s", group);
	pathf(rel, sizeof(rel), "%s/type", target);
	if (access(fakeroot_abspath(root, rel), F_OK) != 0) {
		if (fakeroot_write(root, rel, "DMA\n") < 0)
			return -EIO;
		pathf(rel, sizeof(rel), "%s/reserved_regions", target);
		if (fakeroot_write(root, rel, "0x00000000fee00000 0x00000000feefffff msi\n") < 0)
			return -EIO;
	}
	pathf(rel, sizeof(rel), "%s/devices/%s", target, d->address);
	r = fakeroot_symlink(root, d->dir, rel);
	if (r < 0)
		return r;
	if (dev_path(rel, sizeof(rel), d, "iommu_group") < 0)
		return -ENAMETOOLONG;
	r = fakeroot_symlink(root, target, rel);
	if (r < 0)
		return r;
	pathf(d->group, sizeof(d->group), "%s", group);
	return 0;
}

static int add_netdev(struct fakeroot *root, struct fake_dev *d, const char *ifname,
		      unsigned int index)
{
	char rel[PATH_MAX], net[PATH_MAX], target[PATH_MAX];
	int r;

	pathf(net, sizeof(net), "%s/net/%s", d->dir, ifname);
	pathf(rel, sizeof(rel), "%s/address", net);
	r = writef(root, rel, "52:54:00:%02x:%02x:%02x\n", (index >> 16) & 0xff,
		   (index >> 8) & 0xff, index & 0xff);
	pathf(rel, sizeof(rel), "%s/ifindex", net);
	if (r == 0)
		r = writef(root, rel, "%u\n", index + 2);
	pathf(rel, sizeof(rel), "%s/operstate", net);
	if (r == 0)
		r = fakeroot_write(root, rel, "up\n");
	pathf(rel, sizeof(rel), "%s/device", net);
	if (r == 0)
		r = fakeroot_symlink(root, d->dir, rel);
	pathf(rel, sizeof(rel), "sys/class/net/%s", ifname);
	pathf(target, sizeof(target), "%s", net);
	if (r == 0)
		r = fakeroot_symlink(root, target, rel);
	return r;
}

static int add_sriov_pf(struct fakeroot *root, struct fake_dev *d, const struct fake_pci *desc)
{
	char rel[PATH_MAX];
	int r = 0;

#define SRIOV_ATTR(name, fmt, value)                                                               \
	do {                                                                                       \
		if (r == 0) {                                                                      \
			pathf(rel, sizeof(rel), "%s/%s", d->dir, name);                            \
			r = writef(root, rel, fmt, value);                                         \
		}                                                                                  \
	} while (0)
	SRIOV_ATTR("sriov_totalvfs", "%u\n", desc->sriov_totalvfs);
	SRIOV_ATTR("sriov_numvfs", "%u\n", desc->sriov_numvfs);
	SRIOV_ATTR("sriov_vf_device", "%x\n", desc->sriov_vf_device);
	SRIOV_ATTR("sriov_offset", "%u\n", desc->sriov_offset);
	SRIOV_ATTR("sriov_stride", "%u\n", desc->sriov_stride);
	SRIOV_ATTR("sriov_vf_total_msix", "%u\n", 0u);
	SRIOV_ATTR("sriov_drivers_autoprobe", "%u\n", desc->sriov_autoprobe_off ? 0u : 1u);
#undef SRIOV_ATTR
	return r;
}

static int add_sriov_vf(struct fakeroot *root, struct fake_dev *d, const struct fake_pci *desc)
{
	struct fake_dev *pf = find_dev(root, desc->physfn);
	char rel[PATH_MAX];
	int r;

	if (!pf)
		return fail(-ENODEV, "physfn (add the PF first)", desc->physfn);
	pathf(rel, sizeof(rel), "%s/physfn", d->dir);
	r = fakeroot_symlink(root, pf->dir, rel);
	if (r < 0)
		return r;
	pathf(rel, sizeof(rel), "%s/virtfn%u", pf->dir, desc->vf_index);
	r = fakeroot_symlink(root, d->dir, rel);
	if (r < 0)
		return r;
	pathf(d->physfn, sizeof(d->physfn), "%s", desc->physfn);
	d->vf_index = desc->vf_index;
	return 0;
}

static struct fake_dev *new_record(struct fakeroot *root)
{
	if (root->ndevs == root->capacity) {
		size_t cap = root->capacity ? root->capacity * 2 : 32;
		struct fake_dev *n = realloc(root->devs, cap * sizeof(*n));

		if (!n)
			return NULL;
		root->devs = n;
		root->capacity = cap;
	}
	memset(&root->devs[root->ndevs], 0, sizeof(root->devs[0]));
	return &root->devs[root->ndevs++];
}

int fakeroot_pci_add(struct fakeroot *root, const char *address, const struct fake_pci *desc)
{
	char rel[PATH_MAX], modalias[128], link[PATH_MAX];
	struct fake_dev *d, *parent = NULL;
	struct addr a;
	size_t index;
	int r;

	if (parse_address(address, &a) < 0)
		return fail(-EINVAL, "bad address (want dddd:bb:ss.f)", address);
	if (find_dev(root, address))
		return fail(-EEXIST, "device exists", address);
	if (desc->parent) {
		parent = find_dev(root, desc->parent);
		if (!parent)
			return fail(-ENODEV, "parent (add the bridge first)", desc->parent);
	}
	/* new_record may move the array: keep indexes, not pointers, across it. */
	size_t parent_index = parent ? (size_t)(parent - root->devs) : 0;
	d = new_record(root);
	if (!d)
		return -ENOMEM;
	index = root->ndevs - 1;
	parent = desc->parent ? &root->devs[parent_index] : NULL;
	pathf(d->address, sizeof(d->address), "%s", address);
	d->class_code = desc->class_code;
	d->vendor = desc->vendor;
	d->device = desc->device;
	d->subsystem_vendor = desc->subsystem_vendor;
	d->subsystem_device = desc->subsystem_device;
	if (parent)
		r = pathf(d->dir, sizeof(d->dir), "%s/%s", parent->dir, address);
	else
		r = pathf(d->dir, sizeof(d->dir), "sys/devices/pci%04x:%02x/%s", a.domain, a.bus,
			  address);
	if (r < 0 || (size_t)r >= sizeof(d->dir))
		return fail(-ENAMETOOLONG, "device dir", address);
	if (!parent) {
		pathf(rel, sizeof(rel), "sys/devices/pci%04x:%02x/pci_bus/%04x:%02x", a.domain,
		      a.bus, a.domain, a.bus);
		if ((r = fakeroot_mkdir(root, rel)) < 0)
			return r;
		pathf(rel, sizeof(rel), "sys/devices/pci%04x:%02x/uevent", a.domain, a.bus);
		if ((r = fakeroot_write(root, rel, "")) < 0)
			return r;
	} else if ((r = bridge_add_bus(root, parent, a.domain, a.bus)) < 0) {
		return r;
	}
	if ((r = fakeroot_mkdir(root, d->dir)) < 0)
		return r;

#define ATTR(name, ...)                                                                            \
	do {                                                                                       \
		pathf(rel, sizeof(rel), "%s/%s", d->dir, name);                                    \
		if ((r = writef(root, rel, __VA_ARGS__)) < 0)                                      \
			return r;                                                                  \
	} while (0)
	/* drivers/pci/pci-sysfs.c formats. */
	ATTR("vendor", "0x%04x\n", desc->vendor);
	ATTR("device", "0x%04x\n", desc->device);
	ATTR("subsystem_vendor", "0x%04x\n", desc->subsystem_vendor);
	ATTR("subsystem_device", "0x%04x\n", desc->subsystem_device);
	ATTR("class", "0x%06x\n", desc->class_code);
	ATTR("revision", "0x%02x\n", desc->revision);
	ATTR("numa_node", "%d\n", desc->numa_node);
	ATTR("irq", "%d\n", 0);
	ATTR("enable", "%d\n", desc->driver ? 1 : 0);
	ATTR("local_cpus", "%s\n", "ff");
	ATTR("local_cpulist", "%s\n", "0-7");
	ATTR("msi_bus", "%d\n", 1);
	ATTR("broken_parity_status", "%d\n", 0);
	ATTR("d3cold_allowed", "%d\n", 1);
	ATTR("power_state", "%s\n", desc->driver ? "D0" : "D3hot");
	ATTR("driver_override", "%s\n", desc->driver_override ? desc->driver_override : "(null)");
	fakeroot_pci_modalias(desc->vendor, desc->device, desc->subsystem_vendor,
			      desc->subsystem_device, desc->class_code, modalias, sizeof(modalias));
	ATTR("modalias", "%s\n", modalias);
	{
		/* resource: start end flags per BAR, ROM and bridge windows; all unassigned. */
		char res[17 * 58 + 1] = "";
		size_t lines = is_bridge_class(desc->class_code) ? 17 : 13;

		for (size_t i = 0; i < lines; i++)
			strcat(res, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
		ATTR("resource", "%s", res);
	}
	if (is_vga_class(desc->class_code))
		ATTR("boot_vga", "%d\n", desc->boot_vga ? 1 : 0);
	if (is_bridge_class(desc->class_code)) {
		ATTR("secondary_bus_number", "%u\n", 0u);
		ATTR("subordinate_bus_number", "%u\n", 0u);
	}
#undef ATTR
	if ((r = write_config(root, d, desc)) < 0)
		return r;
	pathf(rel, sizeof(rel), "%s/subsystem", d->dir);
	if ((r = fakeroot_symlink(root, "sys/bus/pci", rel)) < 0)
		return r;
	pathf(rel, sizeof(rel), "%s/power", d->dir);
	if ((r = fakeroot_mkdir(root, rel)) < 0)
		return r;
	pathf(link, sizeof(link), "sys/bus/pci/devices/%s", address);
	if ((r = fakeroot_symlink(root, d->dir, link)) < 0)
		return r;
	/* link_driver() writes the uevent too. */
	if ((r = link_driver(root, &root->devs[index], desc->driver)) < 0)
		return r;
	d = &root->devs[index];
	if (desc->iommu_group && (r = add_iommu_group(root, d, desc->iommu_group)) < 0)
		return r;
	if (desc->slot) {
		pathf(rel, sizeof(rel), "sys/bus/pci/slots/%s/address", desc->slot);
		if ((r = writef(root, rel, "%04x:%02x:%02x\n", a.domain, a.bus, a.slot)) < 0)
			return r;
	}
	if (desc->netdevs) {
		for (size_t i = 0; desc->netdevs[i]; i++) {
			if ((r = add_netdev(root, d, desc->netdevs[i],
					    (unsigned int)(index * 8 + i))) < 0)
				return r;
		}
	}
	if (desc->sriov_totalvfs > 0 && (r = add_sriov_pf(root, d, desc)) < 0)
		return r;
	if (desc->physfn && (r = add_sriov_vf(root, d, desc)) < 0)
		return r;
	return 0;
}

int fakeroot_pci_add_mdev_type(struct fakeroot *root, const char *address,
			       const struct fake_mdev_type *type)
{
	struct fake_dev *d = find_dev(root, address);
	char base[PATH_MAX], rel[PATH_MAX];
	int r;

	if (!d)
		return fail(-ENODEV, "mdev parent", address);
	if (!type->id || strchr(type->id, '/'))
		return fail(-EINVAL, "mdev type id", type->id);
	pathf(base, sizeof(base), "%s/mdev_supported_types/%s", d->dir, type->id);
	pathf(rel, sizeof(rel), "%s/devices", base);
	if ((r = fakeroot_mkdir(root, rel)) < 0)
		return r;
	pathf(rel, sizeof(rel), "%s/create", base);
	if ((r = fakeroot_write(root, rel, "")) < 0)
		return r;
	pathf(rel, sizeof(rel), "%s/available_instances", base);
	if ((r = writef(root, rel, "%d\n", type->available_instances)) < 0)
		return r;
	if (type->name) {
		pathf(rel, sizeof(rel), "%s/name", base);
		if ((r = writef(root, rel, "%s\n", type->name)) < 0)
			return r;
	}
	if (type->device_api) {
		pathf(rel, sizeof(rel), "%s/device_api", base);
		if ((r = writef(root, rel, "%s\n", type->device_api)) < 0)
			return r;
	}
	if (type->description) {
		pathf(rel, sizeof(rel), "%s/description", base);
		if ((r = writef(root, rel, "%s\n", type->description)) < 0)
			return r;
	}
	return 0;
}

int fakeroot_pci_remove(struct fakeroot *root, const char *address, unsigned int flags)
{
	struct fake_dev *d = find_dev(root, address);
	char rel[PATH_MAX];

	if (!d)
		return fail(-ENODEV, "remove", address);
	if (d->driver[0]) {
		pathf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", d->driver, address);
		fakeroot_remove(root, rel);
	}
	if (d->group[0]) {
		pathf(rel, sizeof(rel), "sys/kernel/iommu_groups/%s/devices/%s", d->group, address);
		fakeroot_remove(root, rel);
	}
	if (d->physfn[0]) {
		struct fake_dev *pf = find_dev(root, d->physfn);

		if (pf) {
			pathf(rel, sizeof(rel), "%s/virtfn%u", pf->dir, d->vf_index);
			fakeroot_remove(root, rel);
		}
	}
	if (!(flags & FAKEROOT_KEEP_BUS_LINK)) {
		pathf(rel, sizeof(rel), "sys/bus/pci/devices/%s", address);
		fakeroot_remove(root, rel);
	}
	/* Children below a removed bridge vanish with it, as in the kernel. */
	size_t dirlen = strlen(d->dir);
	for (size_t i = 0; i < root->ndevs; i++) {
		struct fake_dev *c = &root->devs[i];

		if (c != d && !c->removed && strncmp(c->dir, d->dir, dirlen) == 0 &&
		    c->dir[dirlen] == '/')
			fakeroot_pci_remove(root, c->address, flags);
	}
	d->removed = true;
	return fakeroot_remove(root, d->dir);
}

/* --- kernel modules
 * ------------------------------------------------------------------------------- */

/*
 * A minimal ELF64 relocatable object: just a .modinfo section ("alias=...\0name=...\0") and the
 * section name table. That is all depmod needs to index a module's aliases.
 */
static int write_ko(struct fakeroot *root, const char *rel, const struct fake_module *m)
{
	static const char shstrtab[] = "\0.modinfo\0.shstrtab\0";
	char modinfo[4096];
	size_t mlen = 0;
	unsigned char *buf;
	size_t off_modinfo, off_shstr, off_sh, total;
	Elf64_Ehdr eh;
	Elf64_Shdr sh[3];
	int r;

#define MODINFO(...)                                                                               \
	do {                                                                                       \
		int n_ = snprintf(modinfo + mlen, sizeof(modinfo) - mlen, __VA_ARGS__);            \
		if (n_ < 0 || (size_t)n_ + 1 >= sizeof(modinfo) - mlen)                            \
			return -ENAMETOOLONG;                                                      \
		mlen += (size_t)n_ + 1;                                                            \
	} while (0)
	for (size_t i = 0; m->aliases && m->aliases[i]; i++)
		MODINFO("alias=%s", m->aliases[i]);
	MODINFO("license=%s", "GPL");
	MODINFO("depends=%s", "");
	MODINFO("name=%s", m->name);
	MODINFO("vermagic=%s", "fake SMP mod_unload");
#undef MODINFO
	off_modinfo = sizeof(eh);
	off_shstr = off_modinfo + mlen;
	off_sh = (off_shstr + sizeof(shstrtab) + 7) & ~(size_t)7;
	total = off_sh + sizeof(sh);
	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_REL;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_shoff = off_sh;
	eh.e_ehsize = sizeof(eh);
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = 3;
	eh.e_shstrndx = 2;
	memset(sh, 0, sizeof(sh));
	sh[1].sh_name = 1; /* ".modinfo" */
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_flags = SHF_ALLOC;
	sh[1].sh_offset = off_modinfo;
	sh[1].sh_size = mlen;
	sh[1].sh_addralign = 1;
	sh[2].sh_name = 10; /* ".shstrtab" */
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = off_shstr;
	sh[2].sh_size = sizeof(shstrtab);
	sh[2].sh_addralign = 1;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + off_modinfo, modinfo, mlen);
	memcpy(buf + off_shstr, shstrtab, sizeof(shstrtab));
	memcpy(buf + off_sh, sh, sizeof(sh));
	r = fakeroot_write_bytes(root, rel, buf, total);
	free(buf);
	return r;
}

static const char *find_depmod(void)
{
	static const char *const candidates[] = {"/usr/sbin/depmod", "/sbin/depmod",
						 "/usr/bin/depmod", "/bin/depmod"};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	}
	return NULL;
}

int fakeroot_modules_build(struct fakeroot *root, const char *version,
			   const struct fake_module *mods, size_t count)
{
	const char *depmod = find_depmod();
	char rel[PATH_MAX], order[8192] = "";
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;

	if (!depmod)
		return fail(-ENOENT, "depmod not installed", NULL);
	for (size_t i = 0; i < count; i++) {
		pathf(rel, sizeof(rel), "lib/modules/%s/kernel/%s.ko", version, mods[i].name);
		if ((r = write_ko(root, rel, &mods[i])) < 0)
			return fail(r, "write module", rel);
		size_t len = strlen(order);
		pathf(order + len, sizeof(order) - len, "kernel/%s.ko\n", mods[i].name);
	}
	/* The files depmod expects next to the modules; empty is fine. */
	pathf(rel, sizeof(rel), "lib/modules/%s/modules.order", version);
	if ((r = fakeroot_write(root, rel, order)) < 0)
		return r;
	pathf(rel, sizeof(rel), "lib/modules/%s/modules.builtin", version);
	if ((r = fakeroot_write(root, rel, "")) < 0)
		return r;
	pathf(rel, sizeof(rel), "lib/modules/%s/modules.builtin.modinfo", version);
	if ((r = fakeroot_write(root, rel, "")) < 0)
		return r;

	char *const argv[] = {(char *)depmod, (char *)"-b", root->root, (char *)version, NULL};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, depmod, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return fail(-r, "spawn", depmod);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return fail(-errno, "waitpid", depmod);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(-EIO, "depmod failed for", fakeroot_abspath(root, rel));
	pathf(rel, sizeof(rel), "lib/modules/%s/modules.alias.bin", version);
	if (access(fakeroot_abspath(root, rel), F_OK) != 0)
		return fail(-EIO, "depmod wrote no", rel);
	return 0;
}
