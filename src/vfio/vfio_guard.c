/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guard: devices the host needs and that must not be handed to vfio-pci without
 * HOSTDEV_BIND_FORCE. Unbinding the NIC of the management network or the controller of the root
 * filesystem has cut nodes off in the field; this file finds them.
 *
 *  - default route: <proc>/net/route and <proc>/net/ipv6_route give the interfaces carrying a
 *    default route; <sysfs>/class/net/<if> resolves to the device path, whose deepest PCI
 *    component is the function. Bridges, bonds and VLANs have no device: their lower_* links (and
 *    brif/ ports) are followed down to the physical NICs.
 *  - mounted filesystems: <proc>/self/mountinfo gives each mount's major:minor;
 *    <sysfs>/dev/block/M:m resolves to the block device, whose deepest PCI component is its
 *    controller (AHCI, NVMe, xHCI for a USB disk, virtio). Device-mapper and md devices are
 *    followed through their slaves/. Filesystems with anonymous device numbers (btrfs) are found
 *    through their source device name.
 *  - the caller's protected addresses.
 * Everything is read below the context's roots; a source that cannot be read is logged and skipped
 * (the guard is a safety net, not a precondition).
 *
 * vfio_mdev_conflicts() at the end answers the other question of this kind, per device: would its
 * unbind destroy mediated devices (it is an mdev parent with active mdevs, or the PF of VFs that
 * are)? The bind calls refuse such a device without HOSTDEV_BIND_FORCE, and the check fails it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vfio.h"

#define MAX_DEPTH 8

static int guard_add(struct vfio_guard *guard, const char *address, const char *reason)
{
	for (size_t i = 0; i < guard->addresses.count; i++) {
		if (strcmp(guard->addresses.items[i], address) == 0) {
			char *old = guard->reasons.items[i], *joined;

			if (strstr(old, reason))
				return 0;
			if (asprintf(&joined, "%s; %s", old, reason) < 0)
				return -ENOMEM;
			free(old);
			guard->reasons.items[i] = joined;
			return 0;
		}
	}
	if (strv_push(&guard->addresses, address) < 0)
		return -ENOMEM;
	if (strv_push(&guard->reasons, reason) < 0) {
		free(guard->addresses.items[--guard->addresses.count]);
		guard->addresses.items[guard->addresses.count] = NULL;
		return -ENOMEM;
	}
	return 0;
}

void vfio_guard_clear(struct vfio_guard *guard)
{
	strv_clear(&guard->addresses);
	strv_clear(&guard->reasons);
}

const char *vfio_guard_lookup(const struct vfio_guard *guard, const char *address)
{
	for (size_t i = 0; i < guard->addresses.count; i++)
		if (strcmp(guard->addresses.items[i], address) == 0)
			return guard->reasons.items[i];
	return NULL;
}

/* The deepest component of @path that is a PCI address
 * ("/sys/devices/pci0000:00/0000:00:1f.2/ata1"). */
static bool pci_component(const char *path, char *out, size_t size)
{
	const char *end = path + strlen(path);

	while (end > path) {
		const char *start = end;
		char comp[NAME_MAX + 1];
		struct hostdev_pci_address addr;
		size_t len;

		while (start > path && start[-1] != '/')
			start--;
		len = (size_t)(end - start);
		if (len > 0 && len < sizeof(comp)) {
			memcpy(comp, start, len);
			comp[len] = '\0';
			if (hostdev_pci_address_parse(comp, &addr) == 0 && strchr(comp, ':') &&
			    hostdev_pci_address_format(&addr, out, size) > 0)
				return true;
		}
		end = start > path ? start - 1 : path;
	}
	return false;
}

/* realpath of <sysfs>/@rel, NULL when it does not resolve. malloc'ed. */
static char *sysfs_resolve(hostdev_ctx *ctx, const char *rel)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), rel) < 0)
		return NULL;
	return realpath(path, NULL);
}

/* Entries of directory @dir whose name starts with @prefix (all with ""). */
static void list_prefixed(const char *dir, const char *prefix, struct strv *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t plen = strlen(prefix);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strncmp(de->d_name, prefix, plen) == 0)
			strv_push(out, de->d_name + plen);
	closedir(d);
}

/* PCI functions under network interface @ifname, following virtual interfaces down. */
static void net_controllers(hostdev_ctx *ctx, const char *ifname, struct strv *out, int depth)
{
	char rel[PATH_MAX], pci[HOSTDEV_PCI_ADDRESS_MAX], sub[PATH_MAX];
	struct strv lower = {0};
	char *resolved;

	if (depth > MAX_DEPTH || strchr(ifname, '/') ||
	    snprintf(rel, sizeof(rel), "class/net/%s", ifname) >= (int)sizeof(rel))
		return;
	resolved = sysfs_resolve(ctx, rel);
	if (!resolved) {
		log_debug(ctx, "guard: interface %s not found under %s/class/net", ifname,
			  ctx_sysfs(ctx));
		return;
	}
	if (pci_component(resolved, pci, sizeof(pci))) {
		if (!strv_contains(out, pci))
			strv_push(out, pci);
		free(resolved);
		return;
	}
	/* Bridge, bond, VLAN, macvlan...: the lower devices carry the traffic. */
	list_prefixed(resolved, "lower_", &lower);
	if (snprintf(sub, sizeof(sub), "%s/brif", resolved) < (int)sizeof(sub))
		list_prefixed(sub, "", &lower);
	free(resolved);
	for (size_t i = 0; i < lower.count; i++)
		net_controllers(ctx, lower.items[i], out, depth + 1);
	strv_clear(&lower);
}

/* Interfaces with a default route. */
static void default_route_ifaces(hostdev_ctx *ctx, struct strv *out)
{
	char path[PATH_MAX], line[512];
	FILE *f;

	/* IPv4: Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex, host order) */
	if (path_join(path, sizeof(path), ctx->paths[HOSTDEV_PATH_PROC], "net/route") == 0 &&
	    (f = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), f)) {
			char ifname[64], dest[16], gw[16], mask[16];
			unsigned int flags;

			if (sscanf(line, "%63s %15s %15s %x %*s %*s %*s %15s", ifname, dest, gw,
				   &flags, mask) == 5 &&
			    strcmp(dest, "00000000") == 0 && strcmp(mask, "00000000") == 0 &&
			    (flags & 0x1) && !strv_contains(out, ifname))
				strv_push(out, ifname);
		}
		fclose(f);
	} else {
		log_debug(ctx, "guard: cannot read %s", path);
	}
	/* IPv6: dest plen src plen nexthop metric refcnt use flags iface */
	if (path_join(path, sizeof(path), ctx->paths[HOSTDEV_PATH_PROC], "net/ipv6_route") == 0 &&
	    (f = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), f)) {
			char dest[40], plen[4], ifname[64];
			unsigned int flags;

			if (sscanf(line, "%39s %3s %*s %*s %*s %*s %*s %*s %x %63s", dest, plen,
				   &flags, ifname) == 4 &&
			    strspn(dest, "0") == 32 && strcmp(plen, "00") == 0 && (flags & 0x1) &&
			    !(flags & 0x200) && strcmp(ifname, "lo") != 0 &&
			    !strv_contains(out, ifname))
				strv_push(out, ifname);
		}
		fclose(f);
	}
}

/* Controllers behind the block device at resolved sysfs path @blockdir. */
static void block_controllers(hostdev_ctx *ctx, const char *blockdir, struct strv *out, int depth)
{
	char pci[HOSTDEV_PCI_ADDRESS_MAX], sub[PATH_MAX];
	struct strv slaves = {0};

	if (depth > MAX_DEPTH)
		return;
	if (pci_component(blockdir, pci, sizeof(pci))) {
		if (!strv_contains(out, pci))
			strv_push(out, pci);
		return;
	}
	/* dm / md: slaves/ names the underlying block devices (of the disk for a partition). */
	if (snprintf(sub, sizeof(sub), "%s/slaves", blockdir) < (int)sizeof(sub))
		list_prefixed(sub, "", &slaves);
	for (size_t i = 0; i < slaves.count; i++) {
		char rel[PATH_MAX], *resolved;

		if (snprintf(rel, sizeof(rel), "class/block/%s", slaves.items[i]) >=
		    (int)sizeof(rel))
			continue;
		resolved = sysfs_resolve(ctx, rel);
		if (resolved) {
			block_controllers(ctx, resolved, out, depth + 1);
			free(resolved);
		}
	}
	strv_clear(&slaves);
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

static int mounted_filesystems(hostdev_ctx *ctx, struct vfio_guard *guard)
{
	char path[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r = 0;

	if (path_join(path, sizeof(path), ctx->paths[HOSTDEV_PATH_PROC], "self/mountinfo") < 0 ||
	    !(f = fopen(path, "re"))) {
		log_warn(ctx,
			 "guard: cannot read %s: controllers of mounted filesystems are not "
			 "protected",
			 path);
		return 0;
	}
	while (r == 0 && getline(&line, &cap, f) > 0) {
		unsigned int major, minor;
		char mountpoint[1024], source[1024], rel[64], *sep, *resolved = NULL;
		struct strv ctrls = {0};

		if (sscanf(line, "%*u %*u %u:%u %*s %1023s", &major, &minor, mountpoint) != 3)
			continue;
		unescape(mountpoint);
		source[0] = '\0';
		sep = strstr(line, " - ");
		if (sep)
			sscanf(sep + 3, "%*s %1023s", source);
		if (major != 0) {
			snprintf(rel, sizeof(rel), "dev/block/%u:%u", major, minor);
			resolved = sysfs_resolve(ctx, rel);
		} else if (strncmp(source, "/dev/", 5) == 0 && !strchr(source + 5, '/')) {
			char crel[PATH_MAX];

			/* Anonymous device number (btrfs, overlay): try the source device. */
			if (snprintf(crel, sizeof(crel), "class/block/%s", source + 5) <
			    (int)sizeof(crel))
				resolved = sysfs_resolve(ctx, crel);
		}
		if (!resolved)
			continue;
		block_controllers(ctx, resolved, &ctrls, 0);
		free(resolved);
		for (size_t i = 0; i < ctrls.count && r == 0; i++) {
			char reason[1200];

			snprintf(reason, sizeof(reason),
				 "it is the storage controller of the mounted filesystem %s",
				 mountpoint);
			r = guard_add(guard, ctrls.items[i], reason);
		}
		strv_clear(&ctrls);
	}
	free(line);
	fclose(f);
	return r;
}

int vfio_guard_collect(hostdev_ctx *ctx, const char *const *protected, size_t protected_count,
		       struct vfio_guard *guard)
{
	struct strv ifaces = {0};
	int r = 0;

	memset(guard, 0, sizeof(*guard));
	for (size_t i = 0; i < protected_count && r == 0; i++) {
		struct hostdev_pci_address addr;
		char canonical[HOSTDEV_PCI_ADDRESS_MAX];

		if (hostdev_pci_address_parse(protected[i], &addr) < 0)
			continue; /* validated by the caller */
		hostdev_pci_address_format(&addr, canonical, sizeof(canonical));
		r = guard_add(guard, canonical, "the caller listed it as protected");
	}
	default_route_ifaces(ctx, &ifaces);
	for (size_t i = 0; i < ifaces.count && r == 0; i++) {
		struct strv nics = {0};

		net_controllers(ctx, ifaces.items[i], &nics, 0);
		for (size_t k = 0; k < nics.count && r == 0; k++) {
			char reason[128];

			snprintf(reason, sizeof(reason), "it carries the default route (%s)",
				 ifaces.items[i]);
			r = guard_add(guard, nics.items[k], reason);
		}
		strv_clear(&nics);
	}
	strv_clear(&ifaces);
	if (r == 0)
		r = mounted_filesystems(ctx, guard);
	if (r < 0)
		vfio_guard_clear(guard);
	return r;
}

/* "uuid (type "name", in use)" of every active mdev of @dev, appended to @buf. */
static size_t describe_mdevs(hostdev_pci_device *dev, char *buf, size_t size, size_t *shown)
{
	size_t n = hostdev_pci_device_get_active_mdev_count(dev);

	for (size_t i = 0; i < n; i++) {
		const char *type = hostdev_pci_device_get_active_mdev_type(dev, i);
		const char *name = hostdev_pci_device_get_active_mdev_type_name(dev, i);
		int use = hostdev_pci_device_is_active_mdev_in_use(dev, i);
		size_t len = strlen(buf);

		if (*shown >= 4) {
			(*shown)++;
			continue;
		}
		snprintf(buf + len, size - len, "%s%s (%s%s%s%s, %s)", *shown ? ", " : "",
			 hostdev_pci_device_get_active_mdev_uuid(dev, i),
			 type ? type : "type unknown", name ? " \"" : "", name ? name : "",
			 name ? "\"" : "",
			 use > 0    ? "in use"
			 : use == 0 ? "not in use"
				    : "use unknown");
		(*shown)++;
	}
	return n;
}

size_t vfio_mdev_conflicts(hostdev_ctx *ctx, hostdev_pci_device *dev, char *buf, size_t size)
{
	char list[HOSTDEV_ERROR_MAX / 2] = "";
	size_t shown = 0, own, total, nvfs;
	char holders[256] = "";

	buf[0] = '\0';
	own = describe_mdevs(dev, list, sizeof(list), &shown);
	total = own;
	/* A PF's driver takes its VFs with it, and every mdev on them. */
	nvfs = hostdev_pci_device_get_vf_count(dev);
	for (size_t i = 0; i < nvfs; i++) {
		const char *vf_address = hostdev_pci_device_get_vf_address(dev, i);
		hostdev_pci_device *vf;
		size_t n;

		if (!vf_address || hostdev_pci_device_new(ctx, vf_address, &vf) < 0) {
			hostdev_clear_error(ctx);
			continue;
		}
		n = describe_mdevs(vf, list, sizeof(list), &shown);
		if (n)
			snprintf(holders + strlen(holders), sizeof(holders) - strlen(holders),
				 "%s%s", strlen(holders) ? ", " : "", vf_address);
		total += n;
		hostdev_pci_device_unref(vf);
	}
	if (!total)
		return 0;
	if (shown > 4)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), " and %zu more",
			 shown - 4);
	if (own == total)
		snprintf(buf, size, "it hosts %zu active mediated device%s: %s", total,
			 total == 1 ? "" : "s", list);
	else
		snprintf(buf, size,
			 "it is the SR-IOV PF of %s, which host%s %zu active mediated device%s: %s",
			 holders, strchr(holders, ',') ? "" : "s", total, total == 1 ? "" : "s",
			 list);
	return total;
}

unsigned long vfio_vgpu_held_type(hostdev_ctx *ctx, const char *address)
{
	char path[PATH_MAX];
	unsigned long type = 0;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, "nvidia/current_vgpu_type") <
		0 ||
	    sysfs_read_uint(AT_FDCWD, path, 10, &type) < 0)
		return 0;
	return type;
}

size_t vfio_vgpu_conflicts(hostdev_ctx *ctx, hostdev_pci_device *dev, char *buf, size_t size)
{
	const char *address = hostdev_pci_device_get_address(dev);
	unsigned long own = vfio_vgpu_held_type(ctx, address);
	size_t nvfs = hostdev_pci_device_get_vf_count(dev), total = 0, len;

	buf[0] = '\0';
	if (own) {
		snprintf(buf, size,
			 "it is an NVIDIA vGPU: it holds vGPU type %lu (nvidia/current_vgpu_type); "
			 "a vGPU VF stays on the nvidia driver and is passed through as it is",
			 own);
		return 1;
	}
	/* Unbinding a PF's driver takes its VFs away, and the vGPUs with them. */
	snprintf(buf, size, "it is the GPU (SR-IOV PF) of VFs that hold vGPU types: ");
	for (size_t i = 0; i < nvfs; i++) {
		const char *vf = hostdev_pci_device_get_vf_address(dev, i);
		unsigned long type = vf ? vfio_vgpu_held_type(ctx, vf) : 0;

		if (!type)
			continue;
		len = strlen(buf);
		if (total < 4)
			snprintf(buf + len, size - len, "%s%s (type %lu)", total ? ", " : "", vf,
				 type);
		total++;
	}
	if (total > 4) {
		len = strlen(buf);
		snprintf(buf + len, size - len, " and %zu more", total - 4);
	}
	if (!total)
		buf[0] = '\0';
	return total;
}
