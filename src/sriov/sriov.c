/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SR-IOV PF/VF model and VF count changes with the kernel's rules (sriov_numvfs_store in
 * drivers/pci/iov.c):
 *
 *   value > sriov_totalvfs                    ERANGE (checked here first, before any write)
 *   value == current                          no-op
 *   PF unbound / driver without sriov_configure  ENOENT
 *   value != 0 while VFs exist                EBUSY: write 0 first
 *   driver enabled fewer                      success: re-read sriov_numvfs
 *   driver failure                            the driver's errno (ENOSPC, EIO, ...)
 *
 * Sequence: [lock] read -> in-use check (vfio-pci driver, vfio journal) -> autoprobe -> 0 -> wait
 * for the old links to go -> N -> re-read -> wait for virtfn<i> and physfn -> [unlock]. Every store
 * runs under the watchdog of attr_write.c.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "pci/pci.h"
#include "vfio/vfio.h"

/* Longest list of VFs named in one message before "and N more". */
#define MAX_NAMED 8

struct sriov_vf {
	int index;
	char *address;
	char *driver;
	int iommu_group;
	char *netdev;
	char *mac;
};

struct hostdev_sriov_pf {
	int refcount;
	hostdev_ctx *ctx;
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	char *driver;
	unsigned int total_vfs, num_vfs, vf_device_id, offset, stride;
	int autoprobe;
	struct sriov_vf *vfs;
	size_t vf_count;
};

/* ---------------------------------------------------------------------------------------------- */
/* Reading */

static int compare_vfs(const void *a, const void *b)
{
	const struct sriov_vf *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static void free_vfs(struct sriov_vf *vfs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(vfs[i].address);
		free(vfs[i].driver);
		free(vfs[i].netdev);
		free(vfs[i].mac);
	}
	free(vfs);
}

/* Driver, IOMMU group, first netdev and its MAC of the VF behind link @link of the PF at @pf_fd. */
static int read_vf_details(int pf_fd, const char *link, struct sriov_vf *vf)
{
	char buf[256];
	struct strv nets = {0};
	int fd, r = 0;

	vf->iommu_group = -1;
	fd = open_dir_at(pf_fd, link);
	if (fd < 0)
		return 0; /* vanishing right now: keep what the link said */
	if (sysfs_read_link_basename(fd, "driver", buf, sizeof(buf)) > 0 &&
	    !(vf->driver = strdup(buf)))
		r = -ENOMEM;
	if (sysfs_read_link_basename(fd, "iommu_group", buf, sizeof(buf)) > 0) {
		char *end;
		long n = strtol(buf, &end, 10);

		if (*end == '\0' && n >= 0 && n <= INT_MAX)
			vf->iommu_group = (int)n;
	}
	if (r == 0 && sysfs_list_dir(fd, "net", NULL, &nets) == 0 && nets.count > 0) {
		char rel[PATH_MAX];

		if (!(vf->netdev = strdup(nets.items[0])))
			r = -ENOMEM;
		if (r == 0 &&
		    snprintf(rel, sizeof(rel), "net/%s/address", vf->netdev) < (int)sizeof(rel) &&
		    sysfs_read_attr(fd, rel, buf, sizeof(buf)) > 0 && !(vf->mac = strdup(buf)))
			r = -ENOMEM;
	}
	strv_clear(&nets);
	close(fd);
	return r;
}

static int read_vfs(int pf_fd, struct sriov_vf **out, size_t *count)
{
	struct strv links = {0};
	struct sriov_vf *vfs;
	size_t n = 0;
	int r;

	r = sysfs_list_dir(pf_fd, ".", is_virtfn_link, &links);
	if (r < 0)
		return r;
	vfs = calloc(links.count ? links.count : 1, sizeof(*vfs));
	if (!vfs) {
		strv_clear(&links);
		return -ENOMEM;
	}
	for (size_t i = 0; i < links.count && r == 0; i++) {
		char target[64];
		long index = strtol(links.items[i] + 6, NULL, 10);

		/* A link whose target vanished is a VF being removed right now: skip it. */
		if (index < 0 || index > INT_MAX ||
		    sysfs_read_link_basename(pf_fd, links.items[i], target, sizeof(target)) < 0)
			continue;
		vfs[n].index = (int)index;
		vfs[n].address = strdup(target);
		if (!vfs[n].address) {
			r = -ENOMEM;
			break;
		}
		r = read_vf_details(pf_fd, links.items[i], &vfs[n]);
		n++;
	}
	strv_clear(&links);
	if (r < 0) {
		free_vfs(vfs, n);
		return r;
	}
	qsort(vfs, n, sizeof(*vfs), compare_vfs);
	*out = vfs;
	*count = n;
	return 0;
}

/* Read the PF at the canonical @address (the device must exist and be a PF). */
static int read_pf(hostdev_ctx *ctx, const char *address, hostdev_sriov_pf **out)
{
	hostdev_sriov_pf *pf;
	hostdev_pci_device *dev = NULL;
	char path[PATH_MAX];
	unsigned long v;
	int fd, r;

	r = hostdev_pci_device_new(ctx, address, &dev);
	if (r < 0)
		return r;
	if (!hostdev_pci_device_is_sriov_pf(dev)) {
		if (hostdev_pci_device_is_sriov_vf(dev))
			r = hostdev_error(ctx, -EOPNOTSUPP,
					  "%s: is virtual function %d of PF %s; VFs are managed "
					  "through their PF (hostdev_sriov_set_num_vfs() on %s)",
					  hostdev_pci_device_get_address(dev),
					  hostdev_pci_device_get_vf_index(dev),
					  hostdev_pci_device_get_pf_address(dev),
					  hostdev_pci_device_get_pf_address(dev));
		else
			r = hostdev_error(
			    ctx, -EOPNOTSUPP,
			    "%s: is not an SR-IOV physical function (no sriov_totalvfs "
			    "attribute): the device, its firmware or its kernel driver "
			    "offers no VFs",
			    hostdev_pci_device_get_address(dev));
		hostdev_pci_device_unref(dev);
		return r;
	}
	pf = calloc(1, sizeof(*pf));
	if (!pf) {
		hostdev_pci_device_unref(dev);
		return -ENOMEM;
	}
	pf->refcount = 1;
	pf->ctx = hostdev_ctx_ref(ctx);
	snprintf(pf->address, sizeof(pf->address), "%s", hostdev_pci_device_get_address(dev));
	pf->total_vfs = hostdev_pci_device_get_sriov_total_vfs(dev);
	pf->num_vfs = hostdev_pci_device_get_sriov_num_vfs(dev);
	pf->vf_device_id = hostdev_pci_device_get_sriov_vf_device_id(dev);
	pf->driver = strdup_or_null(hostdev_pci_device_get_driver(dev));
	pf->autoprobe = -1;
	r = pf->driver || !hostdev_pci_device_get_driver(dev) ? 0 : -ENOMEM;
	hostdev_pci_device_unref(dev);
	if (r < 0)
		goto fail;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), pf->address, NULL) < 0) {
		r = hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", pf->address);
		goto fail;
	}
	fd = open_dir_at(AT_FDCWD, path);
	if (fd < 0) {
		r = hostdev_error(ctx, -ENODEV, "%s: device disappeared while being read",
				  pf->address);
		goto fail;
	}
	if (sysfs_read_uint(fd, "sriov_offset", 10, &v) == 0 && v <= 0xffff)
		pf->offset = (unsigned int)v;
	if (sysfs_read_uint(fd, "sriov_stride", 10, &v) == 0 && v <= 0xffff)
		pf->stride = (unsigned int)v;
	if (sysfs_read_uint(fd, "sriov_drivers_autoprobe", 10, &v) == 0 && v <= 1)
		pf->autoprobe = (int)v;
	r = read_vfs(fd, &pf->vfs, &pf->vf_count);
	close(fd);
	if (r < 0) {
		r = hostdev_error(ctx, r, "%s: cannot read the VF links of this PF (%s)",
				  pf->address, strerror(-r));
		goto fail;
	}
	*out = pf;
	return 0;
fail:
	hostdev_sriov_pf_unref(pf);
	return r;
}

HOSTDEV_EXPORT int hostdev_sriov_pf_new(hostdev_ctx *ctx, const char *address,
					hostdev_sriov_pf **out)
{
	if (!ctx || !out)
		return -EINVAL;
	/* hostdev_pci_device_new() validates and canonicalises the address. */
	return read_pf(ctx, address, out);
}

/* What _unref() does when the last reference goes. */
static void sriov_pf_destroy(hostdev_sriov_pf *pf)
{
	free_vfs(pf->vfs, pf->vf_count);
	free(pf->driver);
	hostdev_ctx_unref(pf->ctx);
	free(pf);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_sriov_pf, sriov_pf_destroy)

HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_sriov_pf, get_address, address, NULL)
HOSTDEV_DEFINE_CONST_GETTER(const char *, hostdev_sriov_pf, get_driver, driver, NULL)
HOSTDEV_DEFINE_CONST_GETTER(unsigned int, hostdev_sriov_pf, get_total_vfs, total_vfs, 0)
HOSTDEV_DEFINE_CONST_GETTER(unsigned int, hostdev_sriov_pf, get_num_vfs, num_vfs, 0)
HOSTDEV_DEFINE_CONST_GETTER(unsigned int, hostdev_sriov_pf, get_vf_device_id, vf_device_id, 0)
HOSTDEV_DEFINE_CONST_GETTER(unsigned int, hostdev_sriov_pf, get_offset, offset, 0)
HOSTDEV_DEFINE_CONST_GETTER(unsigned int, hostdev_sriov_pf, get_stride, stride, 0)
HOSTDEV_DEFINE_CONST_GETTER(int, hostdev_sriov_pf, get_autoprobe, autoprobe, -1)
HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_sriov_pf, get_vf_count, vf_count, 0)

static const struct sriov_vf *vf_at(const hostdev_sriov_pf *pf, size_t i)
{
	return pf && i < pf->vf_count ? &pf->vfs[i] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_sriov_pf, get_vf_index, vf_at, index, -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_sriov_pf, get_vf_address, vf_at, address,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_sriov_pf, get_vf_driver, vf_at, driver,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_sriov_pf, get_vf_iommu_group, vf_at, iommu_group,
				    -1)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_sriov_pf, get_vf_netdev, vf_at, netdev,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_sriov_pf, get_vf_mac, vf_at, mac, NULL)

/* ---------------------------------------------------------------------------------------------- */
/* Options */

HOSTDEV_EXPORT int hostdev_sriov_options_init(struct hostdev_sriov_options *opts,
					      unsigned int version)
{
	if (!opts || !VERSION_KNOWN(version, HOSTDEV_SRIOV_OPTIONS_VERSION))
		return -EINVAL;
	/* A caller built against version 1 has a shorter struct: clear only what it has. */
	memset(opts, 0,
	       version == 1 ? offsetof(struct hostdev_sriov_options, lock_timeout_ms)
			    : sizeof(*opts));
	opts->version = version;
	opts->autoprobe = HOSTDEV_SRIOV_AUTOPROBE_KEEP;
	return 0;
}

static int options_get(hostdev_ctx *ctx, const struct hostdev_sriov_options *opts,
		       struct hostdev_sriov_options *out)
{
	hostdev_sriov_options_init(out, HOSTDEV_SRIOV_OPTIONS_VERSION);
	out->timeout_ms = HOSTDEV_SRIOV_DEFAULT_TIMEOUT_MS;
	out->lock_timeout_ms = HOSTDEV_VFIO_DEFAULT_LOCK_TIMEOUT_MS;
	if (!opts)
		return 0;
	CHECK_VERSION(
	    ctx, opts->version, HOSTDEV_SRIOV_OPTIONS_VERSION,
	    "initialise them with HOSTDEV_SRIOV_OPTIONS_INIT or hostdev_sriov_options_init()",
	    "SR-IOV options");
	if (opts->autoprobe > HOSTDEV_SRIOV_AUTOPROBE_ON)
		return hostdev_error(ctx, -EINVAL,
				     "SR-IOV options: autoprobe %u is not one of "
				     "HOSTDEV_SRIOV_AUTOPROBE_KEEP, _OFF, _ON",
				     opts->autoprobe);
	if (opts->timeout_ms)
		out->timeout_ms = opts->timeout_ms;
	out->autoprobe = opts->autoprobe;
	/* Members of later versions are read only from callers that have them. */
	if (opts->version >= 2 && opts->lock_timeout_ms)
		out->lock_timeout_ms = opts->lock_timeout_ms;
	return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Writing */

/* What the kernel's errno means for a sriov_numvfs store, as advice. */
static const char *numvfs_advice(int err, const hostdev_sriov_pf *pf, char *buf, size_t size)
{
	switch (err) {
	case ERANGE:
		snprintf(buf, size,
			 "the PF offers at most %u VFs (sriov_totalvfs); ask for %u or fewer",
			 pf->total_vfs, pf->total_vfs);
		break;
	case EBUSY:
		snprintf(buf, size,
			 "VFs are enabled and the kernel only takes a new count after 0, or the "
			 "PF driver%s%s refuses while VFs are assigned; someone else may have "
			 "changed the count meanwhile: read the PF again (hostdev_sriov_pf_new()) "
			 "and retry",
			 pf->driver ? " " : "", pf->driver ? pf->driver : "");
		break;
	case ENOENT:
		if (pf->driver)
			snprintf(buf, size,
				 "the PF's driver %s cannot configure SR-IOV (it has no "
				 "sriov_configure callback); use the vendor's driver, or a driver "
				 "option that enables SR-IOV",
				 pf->driver);
		else
			snprintf(
			    buf, size,
			    "the PF has no driver, and only the PF driver can create VFs: "
			    "bind its driver first (hostdev_vfio_restore() when libhostdev bound "
			    "it to vfio-pci, or write %s to the kernel's bus/pci/drivers_probe)",
			    pf->address);
		break;
	case ENOSPC:
		snprintf(buf, size,
			 "the PF driver ran out of resources for that many VFs (MSI-X vectors, "
			 "queues, bus numbers): ask for fewer VFs, or enable SR-IOV/ARI in the "
			 "firmware; dmesg names the resource");
		break;
	case EINVAL:
		snprintf(buf, size,
			 "the PF driver%s%s rejected that count in its current configuration "
			 "(some drivers need the PF link up, firmware SR-IOV enabled or a count "
			 "that fits their queue layout): dmesg says why",
			 pf->driver ? " " : "", pf->driver ? pf->driver : "");
		break;
	case EIO:
		snprintf(buf, size,
			 "the device or its firmware failed while enabling VFs: dmesg shows the "
			 "driver's error; a firmware update or a device reset may be needed");
		break;
	case ENOMEM:
		snprintf(buf, size, "the kernel is out of memory; free memory and retry");
		break;
	case EPERM:
	case EACCES:
		snprintf(buf, size,
			 "permission denied: run as root (CAP_SYS_ADMIN); with a locked-down "
			 "kernel or a driver that refuses while VFs are assigned to guests, "
			 "release the VFs first");
		break;
	case ENODEV:
		snprintf(buf, size,
			 "the PF went away (hot-unplug or reset): check that it is still there "
			 "(hostdev_pci_enum_new())");
		break;
	case EOPNOTSUPP:
		snprintf(buf, size, "the PF driver does not support changing the VF count");
		break;
	case EAGAIN:
		snprintf(buf, size,
			 "the PF driver is busy (reset or firmware update): retry later");
		break;
	default:
		snprintf(buf, size, "the PF driver failed: dmesg says why");
		break;
	}
	return buf;
}

/*
 * Store @value ("0", "8") into sriov_numvfs. Returns 0 or the negative errno with the message.
 */
static int write_numvfs(hostdev_ctx *ctx, const hostdev_sriov_pf *pf, unsigned int value,
			unsigned int timeout_ms)
{
	char path[PATH_MAX], text[16], advice[512];
	int r;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), pf->address, "sriov_numvfs") < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", pf->address);
	snprintf(text, sizeof(text), "%u", value);
	log_debug(ctx, "%s: write '%s' to %s", pf->address, text, path);
	r = attr_write_watchdog(path, text, timeout_ms);
	if (r == 0)
		return 0;
	if (r == -ENOTTY)
		return hostdev_error(ctx, -EINVAL, "%s: %s " ATTR_NOT_REGULAR, pf->address, path);
	if (r == -ETIMEDOUT)
		return hostdev_error(
		    ctx, -ETIMEDOUT,
		    "%s: writing %u to %s did not return within %u ms: the PF "
		    "driver (%s) is still working or hung. The kernel may still "
		    "complete the write: read the PF again (hostdev_sriov_pf_new()) and "
		    "check dmesg before trying again (a new write waits for the same device "
		    "lock)",
		    pf->address, value, path, timeout_ms, pf->driver ? pf->driver : "none");
	return hostdev_error(ctx, r, "%s: writing %u to sriov_numvfs failed (%s): %s", pf->address,
			     value, strerror(-r), numvfs_advice(-r, pf, advice, sizeof(advice)));
}

static int write_autoprobe(hostdev_ctx *ctx, const hostdev_sriov_pf *pf, bool on,
			   unsigned int timeout_ms)
{
	char path[PATH_MAX];
	int r;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), pf->address, "sriov_drivers_autoprobe") <
	    0)
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", pf->address);
	log_debug(ctx, "%s: write '%d' to %s", pf->address, on, path);
	r = attr_write_watchdog(path, on ? "1" : "0", timeout_ms);
	if (r == -ENOTTY)
		return hostdev_error(ctx, -EINVAL, "%s: %s " ATTR_NOT_REGULAR, pf->address, path);
	if (r == -ETIMEDOUT)
		return hostdev_error(ctx, r,
				     "%s: writing %d to %s did not return within %u ms: the PF "
				     "driver is busy or hung; check dmesg",
				     pf->address, on, path, timeout_ms);
	if (r == -ENOENT)
		return hostdev_error(ctx, r,
				     "%s: the kernel has no sriov_drivers_autoprobe (it appeared "
				     "in Linux 4.12): new VFs will be probed by their drivers; "
				     "leave autoprobe as it is",
				     pf->address);
	if (r < 0)
		return hostdev_error(ctx, r, "%s: writing %d to sriov_drivers_autoprobe failed: %s",
				     pf->address, on, strerror(-r));
	return 0;
}

/* Current sriov_numvfs of @address; negative errno when unreadable. */
static int read_numvfs(hostdev_ctx *ctx, const char *address, unsigned int *out)
{
	char path[PATH_MAX];
	unsigned long v;
	int r;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, "sriov_numvfs") < 0)
		return -ENAMETOOLONG;
	r = sysfs_read_uint(AT_FDCWD, path, 10, &v);
	if (r < 0)
		return r;
	*out = (unsigned int)v;
	return 0;
}

/* True when VF @index exists with both links: virtfn<index> on the PF and physfn back to it. */
static bool vf_linked(hostdev_ctx *ctx, const char *pf_address, unsigned int index)
{
	char path[PATH_MAX], link[32], target[64];

	snprintf(link, sizeof(link), "virtfn%u/physfn", index);
	if (sysfs_pci_device_path(ctx, path, sizeof(path), pf_address, link) < 0)
		return false;
	return sysfs_read_link_basename(AT_FDCWD, path, target, sizeof(target)) > 0 &&
	       strcmp(target, pf_address) == 0;
}

/* Number of virtfn<N> links of the PF (VFs still present). */
static size_t count_vf_links(hostdev_ctx *ctx, const char *pf_address)
{
	char path[PATH_MAX];
	struct strv links = {0};
	size_t n;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), pf_address, NULL) < 0)
		return 0;
	if (sysfs_list_dir(AT_FDCWD, path, is_virtfn_link, &links) < 0)
		return 0;
	n = links.count;
	strv_clear(&links);
	return n;
}

/* Wait until VFs 0..@count-1 are linked both ways and no other virtfn link is left. */
static int wait_links(hostdev_ctx *ctx, const hostdev_sriov_pf *pf, unsigned int count,
		      unsigned int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	unsigned int linked;
	size_t present;

	for (;;) {
		for (linked = 0; linked < count && vf_linked(ctx, pf->address, linked); linked++)
			;
		present = count_vf_links(ctx, pf->address);
		if (linked == count && present == count)
			return 0;
		if (monotonic_ms() >= deadline)
			break;
		poll_pause();
	}
	if (count == 0)
		return hostdev_error(ctx, -ETIMEDOUT,
				     "%s: sriov_numvfs is 0 but %zu virtfn link%s still present "
				     "after %u ms: the kernel is still removing the VFs; check "
				     "again later",
				     pf->address, present, present == 1 ? " is" : "s are",
				     timeout_ms);
	return hostdev_error(
	    ctx, -ETIMEDOUT,
	    "%s: %u VFs enabled, but only %u of them have their virtfn/physfn "
	    "links after %u ms: the kernel is still adding them; read the PF again "
	    "later (hostdev_sriov_pf_new()), or raise the timeout "
	    "(hostdev_sriov_options.timeout_ms)",
	    pf->address, count, linked, timeout_ms);
}

/*
 * The first @max bytes of @text with control characters and backslashes as \xNN: the owner is the
 * caller's free text, and this message may well be printed to a terminal.
 */
static void printable(const char *text, size_t max, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; text[i] && i < max && n + 5 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
}

/*
 * The VFs that would be destroyed and are in use: bound to vfio-pci, recorded in the vfio journal
 * (libhostdev handed them to a VM), or holding an NVIDIA vGPU type (passed through on the nvidia
 * driver, docs/vgpu.md). Returns 0 or -EBUSY with the message naming them.
 */
static int check_in_use(hostdev_ctx *ctx, const hostdev_sriov_pf *pf,
			const struct vfio_journal_data *journal, unsigned int num_vfs)
{
	char names[HOSTDEV_ERROR_MAX / 2] = "";
	size_t busy = 0;

	for (size_t i = 0; i < pf->vf_count; i++) {
		const struct sriov_vf *vf = &pf->vfs[i];
		const struct vfio_record *rec = vfio_journal_data_lookup(journal, vf->address);
		bool vfio = vf->driver && strcmp(vf->driver, HOSTDEV_VFIO_DRIVER) == 0;
		unsigned long vgpu = vfio || rec ? 0 : vfio_vgpu_held_type(ctx, vf->address);
		char owner[64 * 4 + 1], why[sizeof(owner) + 128];

		if (!vfio && !rec && !vgpu)
			continue;
		if (vgpu) {
			snprintf(why, sizeof(why), "holds NVIDIA vGPU type %lu", vgpu);
		} else if (rec && rec->owner) {
			printable(rec->owner, 64, owner, sizeof(owner));
			snprintf(why, sizeof(why), "%s, bound by libhostdev for '%s'",
				 vf->driver ? vf->driver : "no driver", owner);
		} else if (rec)
			snprintf(why, sizeof(why), "%s, in the vfio journal",
				 vf->driver ? vf->driver : "no driver");
		else
			snprintf(why, sizeof(why), "on vfio-pci");
		if (++busy <= MAX_NAMED)
			snprintf(names + strlen(names), sizeof(names) - strlen(names),
				 "%sVF %d %s (%s)", busy > 1 ? ", " : "", vf->index, vf->address,
				 why);
	}
	if (!busy)
		return 0;
	if (busy > MAX_NAMED)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), " and %zu more",
			 busy - MAX_NAMED);
	return hostdev_error(
	    ctx, -EBUSY,
	    "%s: refusing to change the VF count from %u to %u: it destroys every "
	    "VF, and %s %s handed to virtual machines. Give %s back first "
	    "(hostdev_vfio_restore(); a vGPU type: hostdev_vgpu_clear_type()), or pass "
	    "HOSTDEV_SRIOV_FORCE if no VM uses %s",
	    pf->address, pf->num_vfs, num_vfs, names, busy == 1 ? "is" : "are",
	    busy == 1 ? "it" : "them", busy == 1 ? "it" : "them");
}

/* With HOSTDEV_SRIOV_FORCE: the destroyed VFs' records describe devices that no longer exist. */
static void drop_records(hostdev_ctx *ctx, const struct vfio_state *state,
			 const hostdev_sriov_pf *pf, struct vfio_journal_data *journal)
{
	bool changed = false;

	for (size_t i = 0; i < pf->vf_count; i++) {
		if (!vfio_journal_data_drop(journal, pf->vfs[i].address))
			continue;
		log_warn(ctx,
			 "%s: VF destroyed by a forced VF count change; dropping its vfio "
			 "journal record",
			 pf->vfs[i].address);
		changed = true;
	}
	if (changed && vfio_journal_store(ctx, state, journal) < 0) {
		log_warn(ctx, "%s: %s", pf->address, hostdev_ctx_get_error(ctx));
		hostdev_clear_error(ctx);
	}
}

static int set_locked(hostdev_ctx *ctx, const struct vfio_state *state, const char *address,
		      unsigned int num_vfs, const struct hostdev_sriov_options *opts,
		      unsigned int flags)
{
	struct vfio_journal_data journal = {0};
	hostdev_sriov_pf *pf = NULL;
	unsigned int actual = 0;
	int r;

	r = read_pf(ctx, address, &pf);
	if (r < 0)
		return r;
	if (num_vfs > pf->total_vfs) {
		r = hostdev_error(ctx, -ERANGE,
				  "%s: cannot enable %u VFs: the PF offers at most %u "
				  "(sriov_totalvfs); ask for %u or fewer",
				  pf->address, num_vfs, pf->total_vfs, pf->total_vfs);
		goto out;
	}
	if (num_vfs != pf->num_vfs && (pf->num_vfs > 0 || pf->vf_count > 0)) {
		r = vfio_journal_load(ctx, state, &journal);
		if (r < 0 && !(flags & HOSTDEV_SRIOV_FORCE)) {
			char why[HOSTDEV_ERROR_MAX];

			snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(ctx));
			r = hostdev_error(ctx, r,
					  "%s: cannot tell whether its VFs are in use: %s. Pass "
					  "HOSTDEV_SRIOV_FORCE to change the count anyway",
					  pf->address, why);
			goto out;
		}
		if (r < 0) {
			log_warn(ctx, "%s: ignoring an unreadable vfio journal (forced)",
				 pf->address);
			hostdev_clear_error(ctx);
			vfio_journal_data_clear(&journal);
		}
		if (!(flags & HOSTDEV_SRIOV_FORCE)) {
			r = check_in_use(ctx, pf, &journal, num_vfs);
			if (r < 0)
				goto out;
		}
	}
	if (opts->autoprobe != HOSTDEV_SRIOV_AUTOPROBE_KEEP) {
		bool on = opts->autoprobe == HOSTDEV_SRIOV_AUTOPROBE_ON;

		if (pf->autoprobe != (int)on) {
			r = write_autoprobe(ctx, pf, on, opts->timeout_ms);
			if (r < 0)
				goto out;
			pf->autoprobe = on;
		}
	}
	if (num_vfs == pf->num_vfs) {
		log_debug(ctx, "%s: %u VFs enabled already", pf->address, num_vfs);
		r = (int)num_vfs;
		goto out;
	}
	if (pf->num_vfs > 0) {
		r = write_numvfs(ctx, pf, 0, opts->timeout_ms);
		if (r < 0)
			goto out;
		log_info(ctx, "%s: %u VFs disabled", pf->address, pf->num_vfs);
		if (flags & HOSTDEV_SRIOV_FORCE)
			drop_records(ctx, state, pf, &journal);
		r = wait_links(ctx, pf, 0, opts->timeout_ms);
		if (r < 0)
			goto out;
	}
	if (num_vfs > 0) {
		r = write_numvfs(ctx, pf, num_vfs, opts->timeout_ms);
		if (r < 0)
			goto out;
	}
	r = read_numvfs(ctx, pf->address, &actual);
	if (r < 0) {
		r = hostdev_error(ctx, r, "%s: cannot re-read sriov_numvfs after the write (%s)",
				  pf->address, strerror(-r));
		goto out;
	}
	if (actual < num_vfs)
		log_warn(ctx,
			 "%s: %u VFs requested, the PF driver %s enabled only %u (partial enable; "
			 "dmesg says why)",
			 pf->address, num_vfs, pf->driver ? pf->driver : "", actual);
	else if (actual != num_vfs)
		log_warn(ctx, "%s: %u VFs requested, sriov_numvfs now says %u", pf->address,
			 num_vfs, actual);
	r = wait_links(ctx, pf, actual, opts->timeout_ms);
	if (r < 0)
		goto out;
	log_info(ctx, "%s: %u VFs enabled", pf->address, actual);
	r = (int)actual;
out:
	vfio_journal_data_clear(&journal);
	hostdev_sriov_pf_unref(pf);
	return r;
}

HOSTDEV_EXPORT int hostdev_sriov_set_num_vfs(hostdev_ctx *ctx, const char *address,
					     unsigned int num_vfs,
					     const struct hostdev_sriov_options *opts,
					     unsigned int flags)
{
	struct hostdev_sriov_options o;
	struct hostdev_pci_address addr;
	char canonical[HOSTDEV_PCI_ADDRESS_MAX];
	struct vfio_state state;
	int r;

	if (!ctx)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, HOSTDEV_SRIOV_FORCE, "unknown SR-IOV");
	r = pci_address_parse_or_explain(ctx, NULL, address, &addr, NULL);
	if (r < 0)
		return r;
	/* sriov_numvfs is a u16 in the kernel; anything larger is over every total anyway. */
	if (num_vfs > 0xffff)
		return hostdev_error(ctx, -ERANGE, "%s: %u VFs is more than any PF offers", address,
				     num_vfs);
	r = options_get(ctx, opts, &o);
	if (r < 0)
		return r;
	hostdev_pci_address_format(&addr, canonical, sizeof(canonical));
	r = vfio_state_lock(ctx, o.lock_timeout_ms, &state);
	if (r < 0)
		return r;
	r = set_locked(ctx, &state, canonical, num_vfs, &o, flags);
	vfio_state_unlock(&state);
	return r;
}
