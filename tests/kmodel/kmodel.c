/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kmodel: a model of the Linux kernel's reaction to sysfs writes, for fake roots (LD_PRELOAD).
 *
 * WHY THIS EXISTS: the development machine cannot bind devices. Its own disk and NIC are PCI
 * devices, it has no IOMMU and no vfio, and unbinding anything there would kill it. So the vfio
 * tests run the real library against fake sysfs trees (tests/lib/fakeroot.h) and this library
 * stands in for the kernel: it intercepts write(2)/pwrite(2)/writev(2) on files below the fake root
 * and changes the tree the way drivers/base and drivers/pci would. The same library code is then
 * proven against the real kernel in the QEMU guest (tests/vm/scenarios/5*-vfio-*.sh).
 *
 * Environment (read at every write, so a test may change it between calls):
 *   HOSTDEV_KMODEL_ROOT=<abs dir>   the fake root; nothing is modelled without it, and kernel
 *                                   module loading is refused (never load a real module from tests)
 *   HOSTDEV_KMODEL_FAIL=op:target:ERRNO[,...]   fail matching writes with ERRNO (name or number);
 *                                   op = override | unbind | bind | probe | load, target = a PCI
 *                                   address, a module name for load, or "*"
 *   HOSTDEV_KMODEL_KILL_AT=N        SIGKILL the process instead of performing its Nth write below
 *                                   the root (counted per process, every file: sysfs and journal)
 *   HOSTDEV_KMODEL_STALL=addr[,...] probing vfio-pci for these devices silently does nothing
 *                                   (a probe that never finishes: timeouts)
 *   HOSTDEV_KMODEL_NO_DEVNODE=1     never create /dev/vfio/<group>
 *   HOSTDEV_KMODEL_DELAY=op:target:MS[,...]  the store sleeps MS ms in the writing thread before
 *                                   it takes effect (a slow or hung driver: watchdog tests);
 *                                   op = numvfs | numvfs0 | mdev_create | mdev_remove, target =
 *                                   the PF address, the mdev type id, the mdev UUID or "*";
 *                                   op = override | unbind | bind | probe, target = the device
 *                                   address (watchdog tests of bind and restore)
 *                                   HOSTDEV_KMODEL_FAIL also knows these ops and "autoprobe"
 *   HOSTDEV_KMODEL_HOLD=op:target[,...]  a matching store (any op of HOSTDEV_KMODEL_FAIL) blocks
 *                                   (a hung driver) until the test lets it go: while one waits,
 *                                   <root>/.kmodel/held exists; it goes on once
 *                                   <root>/.kmodel/release exists (kmodel_hold_*() in
 *                                   kmodel_ctl.h). For watchdog and GIL tests that must not guess
 *                                   how long the library or a thread takes.
 *   HOSTDEV_KMODEL_SRIOV_LIMIT=pf:N[,...]  the PF driver enables at most N VFs (partial enable)
 *   HOSTDEV_KMODEL_SRIOV_NO_PHYSFN=pf[,...]  new VFs of these PFs get no physfn link (a kernel
 *                                   that is slow to link them: link-wait timeouts)
 *
 * What is modelled (paths resolved through /proc/self/fd, so bus/ and devices/ paths both work):
 *   <dev>/driver_override           store; "" or "\n" clears to "(null)"
 *   bus/pci/drivers/<d>/unbind      ENODEV unless the device is on <d>; removes the driver links,
 *                                   hides net/ (the netdev goes away) and class/net links
 *   bus/pci/drivers/<d>/bind        ENODEV for a missing device or an override naming another
 *                                   driver, EBUSY when bound; binds
 *   bus/pci/drivers_probe           no-op when bound; binds the override driver, else the device's
 *                                   native driver (the last host driver it was unbound from, or
 *                                   <root>/.kmodel/native/<addr>), when that driver is registered
 *   binding vfio-pci                EINVAL without an iommu_group link (IOMMU off), ENODEV without
 *                                   driver_override (vfio-pci has no id table); creates
 *                                   <root>/dev/vfio/<group> once every non-bridge member of the
 *                                   group is on vfio-pci or driverless, removes it when none is
 *   bus/pci/drivers/<d>/new_id      passed through and logged as NEW_ID (tests assert it never is)
 *   <pf>/sriov_numvfs, <pf>/sriov_drivers_autoprobe, mdev create/remove: see "SR-IOV and
 *                                   mediated devices" below
 *   finit_module/init_module        "loads" the module: <root>/sys/module/<name>, and for vfio_pci
 *                                   the driver directory and <root>/dev/vfio/vfio
 * Every modelled write is logged to <root>/.kmodel/log ("op address value -> result"), and so are
 * renames and fsyncs of files below the root ("RENAME <path>", "FSYNC <path>": counted, not
 * modelled), for tests that count journal rewrites.
 */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define VFIO "vfio-pci"
/* NVIDIA's driver, whose VFs carry vGPU types (see "NVIDIA vGPU without mdev"). */
#define NVIDIA_DRIVER "nvidia"

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static long (*real_syscall)(long, ...);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_init_module)(void *, unsigned long, const char *);

static pid_t counter_pid;
static unsigned long write_counter;
static __thread int in_model;

static void resolve_real(void)
{
	if (!real_write) {
		real_write = dlsym(RTLD_NEXT, "write");
		real_pwrite = dlsym(RTLD_NEXT, "pwrite");
		real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
		real_writev = dlsym(RTLD_NEXT, "writev");
		real_syscall = dlsym(RTLD_NEXT, "syscall");
		real_init_module = dlsym(RTLD_NEXT, "init_module");
		real_rename = dlsym(RTLD_NEXT, "rename");
		real_renameat = dlsym(RTLD_NEXT, "renameat");
		real_renameat2 = dlsym(RTLD_NEXT, "renameat2");
		real_fsync = dlsym(RTLD_NEXT, "fsync");
		real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	}
}

/* --- small file helpers (never go through the interposed functions) ------------------------- */

struct model {
	char root[PATH_MAX]; /* realpath of HOSTDEV_KMODEL_ROOT */
	char sys[PATH_MAX];
};

static int put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(content);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = real_write(fd, content, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int get_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

static void mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0755);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Split absolute @path into its components (modifies @buf). Returns the count. */
static int split(char *buf, char **comps, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *c = strtok_r(buf, "/", &save); c && n < max; c = strtok_r(NULL, "/", &save))
		comps[n++] = c;
	return n;
}

/* Symlink @link -> @target (both absolute, canonical) with relative text, like sysfs links. */
static void make_link(const char *target, const char *link)
{
	char tbuf[PATH_MAX], lbuf[PATH_MAX], rel[PATH_MAX] = "";
	char *tc[128], *lc[128];
	int nt, nl, common = 0;

	snprintf(tbuf, sizeof(tbuf), "%s", target);
	snprintf(lbuf, sizeof(lbuf), "%s", link);
	nt = split(tbuf, tc, 128);
	nl = split(lbuf, lc, 128) - 1; /* the directory holding the link */
	while (common < nt && common < nl && strcmp(tc[common], lc[common]) == 0)
		common++;
	for (int i = common; i < nl; i++)
		strncat(rel, "../", sizeof(rel) - strlen(rel) - 1);
	for (int i = common; i < nt; i++) {
		strncat(rel, tc[i], sizeof(rel) - strlen(rel) - 1);
		if (i + 1 < nt)
			strncat(rel, "/", sizeof(rel) - strlen(rel) - 1);
	}
	unlink(link);
	if (symlink(rel, link) < 0)
		fprintf(stderr, "kmodel: symlink %s -> %s: %s\n", link, rel, strerror(errno));
}

static void link_basename(const char *link, char *buf, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	const char *base;

	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(buf, size, "%s", base ? base + 1 : target);
}

static void model_log(const struct model *m, const char *op, const char *what, const char *value,
		      int err)
{
	char path[PATH_MAX], line[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/.kmodel", m->root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/.kmodel/log", m->root);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "%d %s %s %s -> %s\n", (int)getpid(), op, what, value,
		 err ? strerror(err) : "ok");
	real_write(fd, line, strlen(line));
	close(fd);
}

/* --- environment ---------------------------------------------------------------------------- */

static bool model_get(struct model *m)
{
	const char *root = getenv("HOSTDEV_KMODEL_ROOT");

	if (!root || root[0] != '/' || !realpath(root, m->root))
		return false;
	snprintf(m->sys, sizeof(m->sys), "%s/sys", m->root);
	return true;
}

static int errno_from_name(const char *s)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {{"EBUSY", EBUSY},	 {"EINVAL", EINVAL}, {"ENODEV", ENODEV}, {"EIO", EIO},
		     {"ENOENT", ENOENT}, {"EPERM", EPERM},   {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN},
		     {"ENOSPC", ENOSPC}, {"EEXIST", EEXIST}, {"ENXIO", ENXIO}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].value;
	return atoi(s) > 0 ? atoi(s) : EIO;
}

/* HOSTDEV_KMODEL_HOLD=op:target[,...] names @op on @target. */
static bool held_for(const char *op, const char *target)
{
	const char *spec = getenv("HOSTDEV_KMODEL_HOLD");
	char buf[1024], *save = NULL;

	if (!spec || !*spec)
		return false;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');

		if (!colon)
			continue;
		*colon = '\0';
		if (strcmp(item, op) == 0 &&
		    (strcmp(colon + 1, "*") == 0 || strcmp(colon + 1, target) == 0))
			return true;
	}
	return false;
}

/* Block until the test creates <root>/.kmodel/release; <root>/.kmodel/held says we wait. A hold
 * nobody releases ends after 10 minutes (the test has failed by then), not never. */
static void hold(const char *op, const char *target)
{
	char dir[PATH_MAX], held[PATH_MAX], release[PATH_MAX];
	struct timespec ts = {0, 10 * 1000000L};
	struct model model, *m = &model;

	if (!model_get(m))
		return;
	snprintf(dir, sizeof(dir), "%s/.kmodel", m->root);
	snprintf(held, sizeof(held), "%s/held", dir);
	snprintf(release, sizeof(release), "%s/release", dir);
	mkdir(dir, 0755);
	model_log(m, "HOLD", target, op, 0);
	put_file(held, op);
	for (int i = 0; i < 60000 && access(release, F_OK) != 0; i++)
		nanosleep(&ts, NULL);
	unlink(held);
	model_log(m, "RELEASED", target, op, 0);
}

/* The errno HOSTDEV_KMODEL_FAIL asks for @op on @target, or 0; first, a hold of
 * HOSTDEV_KMODEL_HOLD (every modelled store asks here before it acts). */
static int injected(const char *op, const char *target)
{
	const char *spec = getenv("HOSTDEV_KMODEL_FAIL");
	char buf[1024], *save = NULL;

	if (held_for(op, target))
		hold(op, target);
	if (!spec || !*spec)
		return 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *first = strchr(item, ':'), *last = strrchr(item, ':');

		if (!first || first == last)
			continue;
		*first = '\0';
		*last = '\0';
		if (strcmp(item, op) == 0 &&
		    (strcmp(first + 1, "*") == 0 || strcmp(first + 1, target) == 0))
			return errno_from_name(last + 1);
	}
	return 0;
}

static bool listed(const char *env, const char *address)
{
	const char *spec = getenv(env);
	char buf[1024], *save = NULL;

	if (!spec)
		return false;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if (strcmp(item, address) == 0 || strcmp(item, "*") == 0)
			return true;
	return false;
}

/* --- the device model ----------------------------------------------------------------------- */

static bool is_pci_address(const char *s)
{
	unsigned int d, b, sl, f;
	char tail;

	return sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &sl, &f, &tail) == 4 && strlen(s) == 12;
}

/* The resolved device directory of @address; false when the device does not exist. */
static bool dev_dir(const struct model *m, const char *address, char *buf)
{
	char link[PATH_MAX];

	if (!is_pci_address(address))
		return false;
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s", m->sys, address);
	return realpath(link, buf) != NULL;
}

static void dev_driver(const char *dir, char *buf, size_t size)
{
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/driver", dir);
	link_basename(link, buf, size);
}

static void dev_override(const char *dir, char *buf, size_t size)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/driver_override", dir);
	if (get_file(path, buf, size) < 0 || strcmp(buf, "(null)") == 0)
		buf[0] = '\0';
}

static void dev_group(const char *dir, char *buf, size_t size)
{
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/iommu_group", dir);
	link_basename(link, buf, size);
}

static bool dev_is_bridge(const char *dir)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), "%s/class", dir);
	return get_file(path, buf, sizeof(buf)) > 0 && (strtoul(buf, NULL, 16) >> 8) == 0x0604;
}

static bool driver_registered(const struct model *m, const char *driver)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s", m->sys, driver);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Rewrite the DRIVER= line of uevent. */
static void update_uevent(const char *dir, const char *driver)
{
	char path[PATH_MAX], old[4096], out[4096] = "", *save = NULL;

	snprintf(path, sizeof(path), "%s/uevent", dir);
	if (get_file(path, old, sizeof(old)) < 0)
		return;
	if (driver)
		snprintf(out, sizeof(out), "DRIVER=%s\n", driver);
	for (char *line = strtok_r(old, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "DRIVER=", 7) == 0)
			continue;
		strncat(out, line, sizeof(out) - strlen(out) - 2);
		strcat(out, "\n");
	}
	put_file(path, out);
}

/* A VF on nvidia with vGPU attributes: NVIDIA's VFIO driver has registered it with VFIO. */
static bool is_vgpu_vf(const char *dir, const char *driver)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nvidia/current_vgpu_type", dir);
	return strcmp(driver, NVIDIA_DRIVER) == 0 && exists(path);
}

/* /dev/vfio/<group>: present while a member is on vfio-pci (or is a vGPU VF on nvidia) and the
 * group is viable. */
static void update_devnode(const struct model *m, const char *group)
{
	char path[PATH_MAX], node[PATH_MAX];
	bool any_vfio = false, viable = true;
	struct dirent *de;
	DIR *d;

	if (!group[0])
		return;
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%s/devices", m->sys, group);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char member[PATH_MAX], link[PATH_MAX], drv[128];

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		if (!realpath(link, member))
			continue;
		dev_driver(member, drv, sizeof(drv));
		if (strcmp(drv, VFIO) == 0 || is_vgpu_vf(member, drv))
			any_vfio = true;
		else if (drv[0] && !dev_is_bridge(member))
			viable = false;
	}
	closedir(d);
	snprintf(node, sizeof(node), "%s/dev/vfio/%s", m->root, group);
	if (any_vfio && viable && !getenv("HOSTDEV_KMODEL_NO_DEVNODE")) {
		snprintf(path, sizeof(path), "%s/dev/vfio", m->root);
		mkdir_p(path);
		if (!exists(node))
			put_file(node, "");
	} else {
		unlink(node);
	}
}

/* Move the device's netdevs away (unbind) or back (bind), with their class/net links. */
static void netdevs(const struct model *m, const char *dir, bool present)
{
	char net[PATH_MAX], hidden[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(net, sizeof(net), "%s/net", dir);
	snprintf(hidden, sizeof(hidden), "%s/.kmodel-net", dir);
	if (present) {
		if (rename(hidden, net) < 0)
			return;
	}
	d = opendir(net);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char cls[PATH_MAX], target[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(cls, sizeof(cls), "%s/class/net/%s", m->sys, de->d_name);
		snprintf(target, sizeof(target), "%s/%s", net, de->d_name);
		if (present)
			make_link(target, cls);
		else
			unlink(cls);
	}
	closedir(d);
	if (!present)
		rename(net, hidden);
}

static void set_native(const struct model *m, const char *address, const char *driver)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.kmodel/native", m->root);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/.kmodel/native/%s", m->root, address);
	put_file(path, driver);
}

static void get_native(const struct model *m, const char *address, char *buf, size_t size)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.kmodel/native/%s", m->root, address);
	if (get_file(path, buf, size) < 0)
		buf[0] = '\0';
}

static void vgpu_attach(const struct model *m, const char *vfdir);
static void vgpu_detach(const struct model *m, const char *vfdir);

static void do_unbind(const struct model *m, const char *address, const char *dir,
		      const char *driver)
{
	char path[PATH_MAX], group[32];

	snprintf(path, sizeof(path), "%s/driver", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/%s", m->sys, driver, address);
	unlink(path);
	update_uevent(dir, NULL);
	if (strcmp(driver, VFIO) != 0) {
		set_native(m, address, driver);
		netdevs(m, dir, false);
	}
	if (strcmp(driver, NVIDIA_DRIVER) == 0)
		vgpu_detach(m, dir);
	dev_group(dir, group, sizeof(group));
	update_devnode(m, group);
}

/* Probe @driver on the device (driver core + the driver's probe). Returns 0 or an errno. */
static int do_bind(const struct model *m, const char *address, const char *dir, const char *driver)
{
	char path[PATH_MAX], drvdir[PATH_MAX], group[32];

	dev_group(dir, group, sizeof(group));
	if (strcmp(driver, VFIO) == 0) {
		/* vfio_pci_probe -> vfio_iommu_group_get fails without a group */
		if (!group[0])
			return EINVAL;
		if (listed("HOSTDEV_KMODEL_STALL", address))
			return 0;
	}
	snprintf(drvdir, sizeof(drvdir), "%s/bus/pci/drivers/%s", m->sys, driver);
	snprintf(path, sizeof(path), "%s/driver", dir);
	make_link(drvdir, path);
	snprintf(path, sizeof(path), "%s/%s", drvdir, address);
	make_link(dir, path);
	update_uevent(dir, driver);
	if (strcmp(driver, VFIO) != 0)
		netdevs(m, dir, true);
	if (strcmp(driver, NVIDIA_DRIVER) == 0)
		vgpu_attach(m, dir);
	update_devnode(m, group);
	return 0;
}

/* --- SR-IOV and mediated devices ------------------------------------------------------------ */
/*
 * sriov_numvfs follows sriov_numvfs_store() of drivers/pci/iov.c: EINVAL for a value that is not a
 * u16, ERANGE above sriov_totalvfs, no-op for the current count, ENOENT for an unbound PF, 0
 * removes every VF, EBUSY for a new non-zero count while VFs exist. Enabling creates each VF as
 * the kernel does: address from the PF's routing ID + sriov_offset + i * sriov_stride, directory
 * beside the PF, physfn / virtfn<i> / bus links, a new IOMMU group each (when the PF has one), ids
 * from the PF and sriov_vf_device; with sriov_drivers_autoprobe 1 the VF driver named by
 * <root>/.kmodel/vf_driver/<pf> is bound (and the VF netdev <prefix><i> from
 * <root>/.kmodel/vf_netdev/<pf> appears). Removing a VF unbinds it and removes all of that.
 * mdev: <parent>/mdev_supported_types/<type>/create takes a UUID (EINVAL malformed, EEXIST taken,
 * ENOSPC no available instance, as mtty does) and makes <parent>/<uuid> with mdev_type, remove,
 * iommu_group (a new group and /dev/vfio/<group>), driver (vfio_mdev) and the bus/type links;
 * <mdev>/remove takes a number (EINVAL otherwise), non-zero removes it.
 */

static int model_nonzero(const char *text)
{
	return text[0] != '\0';
}

/* Milliseconds HOSTDEV_KMODEL_DELAY=op:target:MS[,...] asks to stall @op on @target. */
static unsigned long delay_for(const char *op, const char *target)
{
	const char *spec = getenv("HOSTDEV_KMODEL_DELAY");
	char buf[1024], *save = NULL;

	if (!spec || !*spec)
		return 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *first = strchr(item, ':'), *last = strrchr(item, ':');

		if (!first || first == last)
			continue;
		*first = '\0';
		*last = '\0';
		if (strcmp(item, op) == 0 &&
		    (strcmp(first + 1, "*") == 0 || strcmp(first + 1, target) == 0))
			return strtoul(last + 1, NULL, 10);
	}
	return 0;
}

/* A driver that blocks: sleep (in the writing thread) before the write takes effect. */
static void stall(const struct model *m, const char *op, const char *target)
{
	unsigned long ms = delay_for(op, target);
	struct timespec ts;

	if (!ms)
		return;
	model_log(m, "DELAY", target, op, 0);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* HOSTDEV_KMODEL_SRIOV_LIMIT=pf:N[,...]: the PF driver enables at most N VFs (partial enable). */
static long sriov_limit(const char *pf)
{
	const char *spec = getenv("HOSTDEV_KMODEL_SRIOV_LIMIT");
	char buf[1024], *save = NULL;

	if (!spec)
		return -1;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(item, ':');

		if (!colon)
			continue;
		*colon = '\0';
		if (strcmp(item, pf) == 0 || strcmp(item, "*") == 0)
			return strtol(colon + 1, NULL, 10);
	}
	return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static unsigned long read_ulong(const char *dir, const char *name, int base, unsigned long dflt)
{
	char path[PATH_MAX], buf[64], *end;
	unsigned long v;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (get_file(path, buf, sizeof(buf)) <= 0)
		return dflt;
	v = strtoul(buf, &end, base);
	return end == buf ? dflt : v;
}

/* The lowest IOMMU group number not in use. */
static int new_group(const struct model *m)
{
	char path[PATH_MAX];
	struct dirent *de;
	long max = -1;
	DIR *d;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups", m->sys);
	mkdir_p(path);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long n = strtol(de->d_name, &end, 10);

		if (*end == '\0' && de->d_name[0] != '\0' && n > max)
			max = n;
	}
	closedir(d);
	return (int)(max + 1);
}

/* Put the device at @dir (called @name) into a new IOMMU group; returns its number. */
static int join_new_group(const struct model *m, const char *dir, const char *name)
{
	char path[PATH_MAX], group[PATH_MAX];
	int g = new_group(m);

	snprintf(group, sizeof(group), "%s/kernel/iommu_groups/%d", m->sys, g);
	snprintf(path, sizeof(path), "%s/devices", group);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/type", group);
	put_file(path, "DMA\n");
	snprintf(path, sizeof(path), "%s/devices/%s", group, name);
	make_link(dir, path);
	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	make_link(group, path);
	return g;
}

/* Remove the IOMMU group of the device at @dir when the device was its only member. */
static void leave_group(const struct model *m, const char *dir, const char *name)
{
	char group[32], path[PATH_MAX];

	dev_group(dir, group, sizeof(group));
	if (!group[0])
		return;
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%s/devices/%s", m->sys, group, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%s/devices", m->sys, group);
	if (rmdir(path) == 0) {
		snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%s", m->sys, group);
		rm_rf(path);
		snprintf(path, sizeof(path), "%s/dev/vfio/%s", m->root, group);
		unlink(path);
	} else {
		update_devnode(m, group);
	}
}

static void vf_address(const char *pf, unsigned long offset, unsigned long stride, unsigned int i,
		       char *buf, size_t size)
{
	unsigned int d, b, s, f, rid;

	sscanf(pf, "%4x:%2x:%2x.%1x", &d, &b, &s, &f);
	rid = (b << 8 | s << 3 | f) + (unsigned int)offset + (unsigned int)stride * i;
	snprintf(buf, size, "%04x:%02x:%02x.%x", d, (rid >> 8) & 0xff, (rid >> 3) & 0x1f, rid & 7);
}

static void copy_attr(const char *from, const char *to, const char *name)
{
	char path[PATH_MAX], buf[256];

	snprintf(path, sizeof(path), "%s/%s", from, name);
	if (get_file(path, buf, sizeof(buf)) < 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", to, name);
	strncat(buf, "\n", sizeof(buf) - strlen(buf) - 1);
	put_file(path, buf);
}

static void create_vf(const struct model *m, const char *pfdir, const char *pf, unsigned int i,
		      bool autoprobe)
{
	char vf[32], vfdir[PATH_MAX], path[PATH_MAX], buf[512], drv[128], prefix[64];
	char modalias[128];
	unsigned long vendor, device, sv, sd, cls;
	const char *slash = strrchr(pfdir, '/');

	vf_address(pf, read_ulong(pfdir, "sriov_offset", 10, 1),
		   read_ulong(pfdir, "sriov_stride", 10, 1), i, vf, sizeof(vf));
	snprintf(vfdir, sizeof(vfdir), "%.*s/%s", (int)(slash - pfdir), pfdir, vf);
	mkdir_p(vfdir);
	vendor = read_ulong(pfdir, "vendor", 16, 0);
	device = read_ulong(pfdir, "sriov_vf_device", 16, 0);
	sv = read_ulong(pfdir, "subsystem_vendor", 16, 0);
	sd = read_ulong(pfdir, "subsystem_device", 16, 0);
	cls = read_ulong(pfdir, "class", 16, 0);
	copy_attr(pfdir, vfdir, "vendor");
	copy_attr(pfdir, vfdir, "subsystem_vendor");
	copy_attr(pfdir, vfdir, "subsystem_device");
	copy_attr(pfdir, vfdir, "class");
	copy_attr(pfdir, vfdir, "revision");
	copy_attr(pfdir, vfdir, "numa_node");
	snprintf(path, sizeof(path), "%s/device", vfdir);
	snprintf(buf, sizeof(buf), "0x%04lx\n", device);
	put_file(path, buf);
	snprintf(path, sizeof(path), "%s/driver_override", vfdir);
	put_file(path, "(null)\n");
	snprintf(path, sizeof(path), "%s/modalias", vfdir);
	snprintf(modalias, sizeof(modalias), "pci:v%08lXd%08lXsv%08lXsd%08lXbc%02lXsc%02lXi%02lX",
		 vendor, device, sv, sd, (cls >> 16) & 0xff, (cls >> 8) & 0xff, cls & 0xff);
	snprintf(buf, sizeof(buf), "%s\n", modalias);
	put_file(path, buf);
	snprintf(path, sizeof(path), "%s/uevent", vfdir);
	snprintf(buf, sizeof(buf),
		 "PCI_CLASS=%lX\nPCI_ID=%04lX:%04lX\nPCI_SUBSYS_ID=%04lX:%04lX\n"
		 "PCI_SLOT_NAME=%s\nMODALIAS=%s\n",
		 cls, vendor, device, sv, sd, vf, modalias);
	put_file(path, buf);
	snprintf(path, sizeof(path), "%s/subsystem", vfdir);
	snprintf(buf, sizeof(buf), "%s/bus/pci", m->sys);
	make_link(buf, path);
	/* HOSTDEV_KMODEL_SRIOV_NO_PHYSFN=pf[,...]: links that never appear (link-wait timeouts). */
	snprintf(path, sizeof(path), "%s/physfn", vfdir);
	if (!listed("HOSTDEV_KMODEL_SRIOV_NO_PHYSFN", pf))
		make_link(pfdir, path);
	snprintf(path, sizeof(path), "%s/virtfn%u", pfdir, i);
	make_link(vfdir, path);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", m->sys, vf);
	make_link(vfdir, path);
	dev_group(pfdir, buf, sizeof(buf));
	if (buf[0])
		join_new_group(m, vfdir, vf);
	/* The VF's netdev exists while a network driver is bound (netdevs() moves it). */
	snprintf(path, sizeof(path), "%s/.kmodel/vf_netdev/%s", m->root, pf);
	if (get_file(path, prefix, sizeof(prefix)) > 0) {
		snprintf(path, sizeof(path), "%s/.kmodel-net/%s%u", vfdir, prefix, i);
		mkdir_p(path);
		snprintf(path, sizeof(path), "%s/.kmodel-net/%s%u/address", vfdir, prefix, i);
		snprintf(buf, sizeof(buf), "02:00:00:%02x:%02x:%02x\n",
			 (unsigned int)(read_ulong(pfdir, "device", 16, 0) & 0xff),
			 (unsigned int)strtoul(pf + 5, NULL, 16) & 0xff, i & 0xff);
		put_file(path, buf);
	}
	snprintf(path, sizeof(path), "%s/.kmodel/vf_driver/%s", m->root, pf);
	if (get_file(path, drv, sizeof(drv)) > 0) {
		set_native(m, vf, drv);
		if (autoprobe && driver_registered(m, drv))
			do_bind(m, vf, vfdir, drv);
	}
}

static void remove_vf(const struct model *m, const char *pfdir, const char *link)
{
	char path[PATH_MAX], vfdir[PATH_MAX], drv[128];
	const char *vf;

	snprintf(path, sizeof(path), "%s/%s", pfdir, link);
	if (!realpath(path, vfdir)) {
		unlink(path);
		return;
	}
	vf = strrchr(vfdir, '/') + 1;
	dev_driver(vfdir, drv, sizeof(drv));
	if (drv[0]) {
		/* pci_stop_and_remove_bus_device() unbinds the driver first. */
		snprintf(path, sizeof(path), "%s/driver", vfdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/%s", m->sys, drv, vf);
		unlink(path);
		netdevs(m, vfdir, false);
	}
	leave_group(m, vfdir, vf);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", m->sys, vf);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.kmodel/native/%s", m->root, vf);
	unlink(path);
	rm_rf(vfdir);
	snprintf(path, sizeof(path), "%s/%s", pfdir, link);
	unlink(path);
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

static void remove_vfs(const struct model *m, const char *pfdir)
{
	struct dirent *de;
	char links[256][32];
	size_t n = 0;
	DIR *d = opendir(pfdir);

	if (!d)
		return;
	while ((de = readdir(d)) && n < 256)
		if (is_virtfn(de->d_name))
			snprintf(links[n++], sizeof(links[0]), "%s", de->d_name);
	closedir(d);
	for (size_t i = 0; i < n; i++)
		remove_vf(m, pfdir, links[i]);
}

/* --- NVIDIA vGPU without mdev --------------------------------------------------------------- */
/*
 * On kernels >= 6.8 with NVIDIA's vendor-specific VFIO driver, each VF of a GPU that the nvidia
 * driver drives has nvidia/creatable_vgpu_types and nvidia/current_vgpu_type (docs/vgpu.md).
 *
 * MODELLED FROM NVIDIA'S DOCUMENTATION (the vGPU user guide, "vendor-specific VFIO framework") AND
 * HARVESTER'S CODE, NOT OBSERVED ON HARDWARE (this project has no such GPU):
 *  - the nvidia/ directory exists while the VF is bound to the driver "nvidia";
 *  - creatable_vgpu_types is the header "ID    : vGPU Name" and one "ID    : Name" line per type
 *    the VF can take now (the layout of NVIDIA's guide and of Harvester's test data);
 *  - current_vgpu_type reads the id the VF holds, 0 for none; storing a creatable id sets it,
 *    storing 0 clears it; an id that is not creatable on the VF is EINVAL; another id while one
 *    is held is EBUSY (the guide says to clear the type before choosing another); not a decimal
 *    number is EINVAL;
 *  - what a GPU can create shrinks as types are set: in its default (homogeneous) mode a GPU
 *    runs vGPUs of one type only, each type has a most-instances count (framebuffer / the type's
 *    framebuffer), and a VF that holds a type lists nothing;
 *  - the VF's /dev/vfio/<group> exists while it is bound to nvidia with the nvidia/ directory
 *    (NVIDIA's driver registers the VF with VFIO as vfio-pci-core variant drivers do).
 * The types of a PF come from <root>/.kmodel/vgpu_types/<pf>: lines "<id> <max instances> <name>"
 * (kmodel_set_vgpu_types()); a PF without that file has no vGPU support. A store can be failed,
 * delayed or held with op "vgpu" and the VF address as target.
 */
#define VGPU_TYPES_MAX 64

struct vgpu_spec {
	unsigned long id, max;
	char name[128];
};

static size_t vgpu_spec_read(const struct model *m, const char *pf, struct vgpu_spec *out)
{
	char path[PATH_MAX], line[256];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/.kmodel/vgpu_types/%s", m->root, pf);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < VGPU_TYPES_MAX && fgets(line, sizeof(line), f)) {
		int used = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%lu %lu %n", &out[n].id, &out[n].max, &used) >= 2 && used > 0) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", line + used);
			n++;
		}
	}
	fclose(f);
	return n;
}

/* The PF of the VF at @vfdir: its directory and address; false for a device without physfn. */
static bool vf_parent(const char *vfdir, char *pfdir, char *pf, size_t pfsize)
{
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/physfn", vfdir);
	if (!realpath(link, pfdir))
		return false;
	snprintf(pf, pfsize, "%s", strrchr(pfdir, '/') + 1);
	return true;
}

static unsigned long vgpu_current(const char *vfdir)
{
	return read_ulong(vfdir, "nvidia/current_vgpu_type", 10, 0);
}

/* Rewrite creatable_vgpu_types of every VF of @pf that has the nvidia/ directory. */
static void vgpu_refresh(const struct model *m, const char *pfdir, const char *pf)
{
	struct vgpu_spec spec[VGPU_TYPES_MAX];
	size_t n = vgpu_spec_read(m, pf, spec), held_count = 0, nvfs = 0;
	unsigned long held = 0;
	char *vfdirs[256];
	struct dirent *de;
	DIR *d;

	if (!n || !(d = opendir(pfdir)))
		return;
	/* Heap, not stack: the store may run in the library's small watchdog thread. */
	while ((de = readdir(d)) && nvfs < 256) {
		char link[PATH_MAX], vfdir[PATH_MAX], attr[PATH_MAX];

		if (!is_virtfn(de->d_name))
			continue;
		snprintf(link, sizeof(link), "%s/%s", pfdir, de->d_name);
		snprintf(attr, sizeof(attr), "%s/nvidia/current_vgpu_type", link);
		if (realpath(link, vfdir) && exists(attr) && (vfdirs[nvfs] = strdup(vfdir)))
			nvfs++;
	}
	closedir(d);
	for (size_t i = 0; i < nvfs; i++) {
		unsigned long cur = vgpu_current(vfdirs[i]);

		if (cur) {
			held = cur;
			held_count++;
		}
	}
	for (size_t i = 0; i < nvfs; i++) {
		char *text = malloc(8192), path[PATH_MAX];
		size_t len;

		if (!text)
			break;
		len = (size_t)snprintf(text, 8192, "ID    : vGPU Name\n");
		for (size_t k = 0; k < n && !vgpu_current(vfdirs[i]); k++) {
			if (held && (spec[k].id != held || held_count >= spec[k].max))
				continue;
			if (len < 8192)
				len += (size_t)snprintf(text + len, 8192 - len, "%-6lu: %s\n",
							spec[k].id, spec[k].name);
		}
		snprintf(path, sizeof(path), "%s/nvidia/creatable_vgpu_types", vfdirs[i]);
		put_file(path, text);
		free(text);
	}
	for (size_t i = 0; i < nvfs; i++)
		free(vfdirs[i]);
}

/* The VF at @vfdir was bound to nvidia: its nvidia/ directory appears (when the GPU has types). */
static void vgpu_attach(const struct model *m, const char *vfdir)
{
	char pfdir[PATH_MAX], pf[64], path[PATH_MAX];
	struct vgpu_spec spec[VGPU_TYPES_MAX];

	if (!vf_parent(vfdir, pfdir, pf, sizeof(pf)) || !vgpu_spec_read(m, pf, spec))
		return;
	snprintf(path, sizeof(path), "%s/nvidia", vfdir);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/nvidia/current_vgpu_type", vfdir);
	put_file(path, "0\n");
	vgpu_refresh(m, pfdir, pf);
}

/* The VF at @vfdir left nvidia: the directory goes, and with it the VF's type. */
static void vgpu_detach(const struct model *m, const char *vfdir)
{
	char pfdir[PATH_MAX], pf[64], path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nvidia", vfdir);
	if (!exists(path))
		return;
	rm_rf(path);
	if (vf_parent(vfdir, pfdir, pf, sizeof(pf)))
		vgpu_refresh(m, pfdir, pf);
}

/* A store to <vf>/nvidia/current_vgpu_type (@vfdir the VF's directory). */
static int model_vgpu_type(const struct model *m, const char *vfdir, const char *vf,
			   const char *value)
{
	char pfdir[PATH_MAX], pf[64], path[PATH_MAX], buf[32], *end, creatable[4096];
	unsigned long want, cur = vgpu_current(vfdir);
	bool listed_now = false;
	int err;

	errno = 0;
	want = strtoul(value, &end, 10);
	if (!model_nonzero(value) || *end || errno || value[0] == '-' || value[0] == '+')
		return EINVAL;
	if (want && cur && want != cur)
		return EBUSY;
	if (want == cur)
		return 0;
	if (want) {
		snprintf(path, sizeof(path), "%s/nvidia/creatable_vgpu_types", vfdir);
		if (get_file(path, creatable, sizeof(creatable)) > 0)
			for (char *save = NULL, *line = strtok_r(creatable, "\n", &save);
			     line && !listed_now; line = strtok_r(NULL, "\n", &save))
				listed_now = strtoul(line, &end, 10) == want && end != line;
		if (!listed_now)
			return EINVAL;
	}
	err = injected("vgpu", vf);
	stall(m, "vgpu", vf);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/nvidia/current_vgpu_type", vfdir);
	snprintf(buf, sizeof(buf), "%lu\n", want);
	put_file(path, buf);
	if (vf_parent(vfdir, pfdir, pf, sizeof(pf)))
		vgpu_refresh(m, pfdir, pf);
	return 0;
}

/* A store to <pf>/sriov_numvfs. Returns 0 or an errno. */
static int model_numvfs(const struct model *m, const char *pfdir, const char *pf, const char *value)
{
	char path[PATH_MAX], drv[128], buf[32], *end;
	unsigned long num, total, cur;
	long limit;
	int err;

	errno = 0;
	num = strtoul(value, &end, 0);
	if (!model_nonzero(value) || *end || errno || num > 0xffff || value[0] == '-')
		return EINVAL;
	total = read_ulong(pfdir, "sriov_totalvfs", 10, 0);
	cur = read_ulong(pfdir, "sriov_numvfs", 10, 0);
	if (num > total)
		return ERANGE;
	if (num == cur)
		return 0;
	dev_driver(pfdir, drv, sizeof(drv));
	if (!drv[0])
		return ENOENT;
	if (num == 0) {
		err = injected("numvfs0", pf);
		stall(m, "numvfs0", pf);
		if (err)
			return err;
		remove_vfs(m, pfdir);
		snprintf(path, sizeof(path), "%s/sriov_numvfs", pfdir);
		put_file(path, "0\n");
		return 0;
	}
	if (cur)
		return EBUSY;
	err = injected("numvfs", pf);
	stall(m, "numvfs", pf);
	if (err)
		return err;
	limit = sriov_limit(pf);
	if (limit >= 0 && (unsigned long)limit < num)
		num = (unsigned long)limit;
	for (unsigned int i = 0; i < num; i++)
		create_vf(m, pfdir, pf, i,
			  read_ulong(pfdir, "sriov_drivers_autoprobe", 10, 1) != 0);
	snprintf(path, sizeof(path), "%s/sriov_numvfs", pfdir);
	snprintf(buf, sizeof(buf), "%lu\n", num);
	put_file(path, buf);
	return 0;
}

/* kstrtobool(): 1/0, y/n, on/off (first characters), anything else EINVAL. */
static int parse_bool(const char *s, bool *out)
{
	if (s[0] == '1' || s[0] == 'y' || s[0] == 'Y' ||
	    ((s[0] == 'o' || s[0] == 'O') && (s[1] == 'n' || s[1] == 'N')))
		*out = true;
	else if (s[0] == '0' || s[0] == 'n' || s[0] == 'N' ||
		 ((s[0] == 'o' || s[0] == 'O') && (s[1] == 'f' || s[1] == 'F')))
		*out = false;
	else
		return EINVAL;
	return 0;
}

static bool valid_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* A store of @value to <parent>/mdev_supported_types/<type>/create (@typedir). */
static int model_mdev_create(const struct model *m, const char *typedir, const char *value)
{
	char uuid[40], parent[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], buf[64];
	const char *type = strrchr(typedir, '/') + 1;
	unsigned long avail;
	int err, group;

	if (!valid_uuid(value))
		return EINVAL;
	snprintf(uuid, sizeof(uuid), "%s", value);
	for (char *p = uuid; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s", m->sys, uuid);
	if (exists(path))
		return EEXIST;
	avail = read_ulong(typedir, "available_instances", 10, 1);
	if (avail == 0)
		return ENOSPC;
	err = injected("mdev_create", type);
	stall(m, "mdev_create", type);
	if (err)
		return err;
	/* typedir = <parent>/mdev_supported_types/<type> */
	snprintf(parent, sizeof(parent), "%s", typedir);
	*strrchr(parent, '/') = '\0';
	*strrchr(parent, '/') = '\0';
	snprintf(dir, sizeof(dir), "%s/%s", parent, uuid);
	mkdir_p(dir);
	snprintf(path, sizeof(path), "%s/mdev_type", dir);
	make_link(typedir, path);
	snprintf(path, sizeof(path), "%s/remove", dir);
	put_file(path, "");
	snprintf(path, sizeof(path), "%s/uevent", dir);
	snprintf(buf, sizeof(buf), "MDEV_TYPE=%s\n", type);
	put_file(path, buf);
	snprintf(path, sizeof(path), "%s/bus/mdev/drivers/vfio_mdev", m->sys);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/driver", dir);
	{
		char target[PATH_MAX];

		snprintf(target, sizeof(target), "%s/bus/mdev/drivers/vfio_mdev", m->sys);
		make_link(target, path);
	}
	snprintf(path, sizeof(path), "%s/bus/mdev/devices", m->sys);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s", m->sys, uuid);
	make_link(dir, path);
	snprintf(path, sizeof(path), "%s/devices", typedir);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/devices/%s", typedir, uuid);
	make_link(dir, path);
	group = join_new_group(m, dir, uuid);
	snprintf(path, sizeof(path), "%s/dev/vfio", m->root);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/dev/vfio/%d", m->root, group);
	put_file(path, "");
	snprintf(path, sizeof(path), "%s/available_instances", typedir);
	snprintf(buf, sizeof(buf), "%lu\n", avail - 1);
	put_file(path, buf);
	return 0;
}

/* A store to <mdev dir>/remove. */
static int model_mdev_remove(const struct model *m, const char *dir, const char *value)
{
	char typedir[PATH_MAX], path[PATH_MAX], buf[32], *end;
	const char *uuid = strrchr(dir, '/') + 1;
	unsigned long v;
	int err;

	errno = 0;
	v = strtoul(value, &end, 0);
	if (!model_nonzero(value) || *end || errno)
		return EINVAL;
	if (!v)
		return 0;
	err = injected("mdev_remove", uuid);
	stall(m, "mdev_remove", uuid);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/mdev_type", dir);
	if (!realpath(path, typedir))
		typedir[0] = '\0';
	leave_group(m, dir, uuid);
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s", m->sys, uuid);
	unlink(path);
	if (typedir[0]) {
		snprintf(path, sizeof(path), "%s/devices/%s", typedir, uuid);
		unlink(path);
		snprintf(path, sizeof(path), "%s/available_instances", typedir);
		if (get_file(path, buf, sizeof(buf)) > 0) {
			snprintf(buf, sizeof(buf), "%lu\n", strtoul(buf, NULL, 10) + 1);
			put_file(path, buf);
		}
	}
	rm_rf(dir);
	return 0;
}

/* SR-IOV and mdev stores; -1 when @path is none of them. */
static int model_write_sriov_mdev(const struct model *m, const char *path, const char *value)
{
	char dir[PATH_MAX], link[PATH_MAX];
	const char *base = strrchr(path, '/') + 1, *name;
	int err;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - path), path);
	name = strrchr(dir, '/') + 1;
	if (strcmp(base, "sriov_numvfs") == 0 && is_pci_address(name)) {
		err = model_numvfs(m, dir, name, value);
		model_log(m, "numvfs", name, value, err);
		return err;
	}
	if (strcmp(base, "current_vgpu_type") == 0 && strcmp(name, "nvidia") == 0) {
		char vfdir[PATH_MAX];
		const char *vf;

		snprintf(vfdir, sizeof(vfdir), "%s", dir);
		*strrchr(vfdir, '/') = '\0';
		vf = strrchr(vfdir, '/') + 1;
		if (!is_pci_address(vf))
			return -1;
		err = model_vgpu_type(m, vfdir, vf, value);
		model_log(m, "vgpu", vf, value, err);
		return err;
	}
	if (strcmp(base, "sriov_drivers_autoprobe") == 0 && is_pci_address(name)) {
		bool on = false;

		err = parse_bool(value, &on);
		if (!err)
			err = injected("autoprobe", name);
		if (!err)
			put_file(path, on ? "1\n" : "0\n");
		model_log(m, "autoprobe", name, value, err);
		return err;
	}
	if (strcmp(base, "create") == 0) {
		char parent[PATH_MAX];

		snprintf(parent, sizeof(parent), "%s", dir);
		*strrchr(parent, '/') = '\0';
		if (strcmp(strrchr(parent, '/') + 1, "mdev_supported_types") != 0)
			return -1;
		err = model_mdev_create(m, dir, value);
		model_log(m, "mdev_create", name, value, err);
		return err;
	}
	snprintf(link, sizeof(link), "%s/mdev_type", dir);
	if (strcmp(base, "remove") == 0 && valid_uuid(name) && exists(link)) {
		err = model_mdev_remove(m, dir, value);
		model_log(m, "mdev_remove", name, value, err);
		return err;
	}
	return -1;
}

/* The address written to a bus/driver file: the value without trailing newline. */
static void value_text(const char *data, size_t len, char *buf, size_t size)
{
	size_t n = len < size - 1 ? len : size - 1;

	memcpy(buf, data, n);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n'))
		buf[--n] = '\0';
}

/*
 * Model a write of @data to @path (canonical, below the root). Returns -1 when not modelled
 * (pass it through), else 0 / an errno.
 */
static int model_write(const struct model *m, const char *path, const char *data, size_t len)
{
	char value[512], dir[PATH_MAX], cur[128], ovr[128];
	const char *rel, *base;
	size_t slen = strlen(m->sys);
	int err;

	if (strncmp(path, m->sys, slen) != 0 || path[slen] != '/')
		return -1;
	rel = path + slen + 1;
	base = strrchr(path, '/') + 1;
	value_text(data, len, value, sizeof(value));

	err = model_write_sriov_mdev(m, path, value);
	if (err >= 0)
		return err;

	if (strcmp(base, "driver_override") == 0) {
		char parent[PATH_MAX], *slash;

		snprintf(parent, sizeof(parent), "%s", path);
		slash = strrchr(parent, '/');
		*slash = '\0';
		slash = strrchr(parent, '/');
		if (!slash || !is_pci_address(slash + 1))
			return -1;
		err = injected("override", slash + 1);
		stall(m, "override", slash + 1);
		if (!err && len >= 4096)
			err = EINVAL;
		if (!err) {
			char content[600];

			snprintf(content, sizeof(content), "%s\n", value[0] ? value : "(null)");
			put_file(path, content);
		}
		model_log(m, "override", slash + 1, value[0] ? value : "\\n", err);
		return err;
	}
	if (strcmp(rel, "bus/pci/drivers_probe") == 0) {
		if (!dev_dir(m, value, dir))
			err = ENODEV;
		else
			err = injected("probe", value);
		stall(m, "probe", value);
		if (!err) {
			dev_driver(dir, cur, sizeof(cur));
			if (!cur[0]) {
				dev_override(dir, ovr, sizeof(ovr));
				if (!ovr[0])
					get_native(m, value, ovr, sizeof(ovr));
				if (ovr[0] && driver_registered(m, ovr))
					err = do_bind(m, value, dir, ovr);
			}
		}
		model_log(m, "probe", value, "", err);
		return err;
	}
	if (strncmp(rel, "bus/pci/drivers/", 16) == 0) {
		char driver[128];
		const char *file;
		const char *d = rel + 16, *slash = strchr(d, '/');

		if (!slash || strchr(slash + 1, '/'))
			return -1;
		snprintf(driver, sizeof(driver), "%.*s", (int)(slash - d), d);
		file = slash + 1;
		if (strcmp(file, "unbind") == 0) {
			err = 0;
			if (!dev_dir(m, value, dir))
				err = ENODEV;
			if (!err) {
				dev_driver(dir, cur, sizeof(cur));
				if (strcmp(cur, driver) != 0)
					err = ENODEV;
			}
			if (!err)
				err = injected("unbind", value);
			stall(m, "unbind", value);
			if (!err)
				do_unbind(m, value, dir, driver);
			model_log(m, "unbind", value, driver, err);
			return err;
		}
		if (strcmp(file, "bind") == 0) {
			err = 0;
			if (!dev_dir(m, value, dir))
				err = ENODEV;
			if (!err) {
				dev_driver(dir, cur, sizeof(cur));
				dev_override(dir, ovr, sizeof(ovr));
				if (cur[0])
					err = EBUSY;
				else if (ovr[0] && strcmp(ovr, driver) != 0)
					err = ENODEV;
				else if (!ovr[0] && strcmp(driver, VFIO) == 0)
					err = ENODEV;
			}
			if (!err)
				err = injected("bind", value);
			stall(m, "bind", value);
			if (!err)
				err = do_bind(m, value, dir, driver);
			model_log(m, "bind", value, driver, err);
			return err;
		}
		if (strcmp(file, "new_id") == 0 || strcmp(file, "remove_id") == 0) {
			model_log(m, strcmp(file, "new_id") == 0 ? "NEW_ID" : "REMOVE_ID", driver,
				  value, 0);
			return -1;
		}
	}
	return -1;
}

/* --- interposed entry points ---------------------------------------------------------------- */

/* 1 handled (*@ret set), 0 pass through. */
static int intercept(int fd, const void *buf, size_t count, ssize_t *ret)
{
	struct model m;
	char link[64], path[PATH_MAX];
	const char *kill_at;
	ssize_t n;
	int err;

	resolve_real();
	if (in_model || !model_get(&m))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (strncmp(path, m.root, strlen(m.root)) != 0 || path[strlen(m.root)] != '/')
		return 0;
	if (counter_pid != getpid()) {
		counter_pid = getpid();
		write_counter = 0;
	}
	write_counter++;
	kill_at = getenv("HOSTDEV_KMODEL_KILL_AT");
	if (kill_at && strtoul(kill_at, NULL, 10) == write_counter) {
		model_log(&m, "KILL", path + strlen(m.root), "", 0);
		kill(getpid(), SIGKILL);
	}
	in_model = 1;
	err = model_write(&m, path, buf, count);
	in_model = 0;
	if (err < 0)
		return 0;
	if (err > 0) {
		errno = err;
		*ret = -1;
	} else {
		*ret = (ssize_t)count;
	}
	return 1;
}

ssize_t write(int fd, const void *buf, size_t count)
{
	ssize_t ret;

	resolve_real();
	if (intercept(fd, buf, count, &ret))
		return ret;
	return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	ssize_t ret;

	resolve_real();
	if (intercept(fd, buf, count, &ret))
		return ret;
	return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
	ssize_t ret;

	resolve_real();
	if (intercept(fd, buf, count, &ret))
		return ret;
	return real_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	char buf[8192];
	size_t len = 0;
	ssize_t ret;

	resolve_real();
	for (int i = 0; i < iovcnt; i++) {
		if (len + iov[i].iov_len > sizeof(buf))
			return real_writev(fd, iov, iovcnt); /* too big for a sysfs store anyway */
		memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (intercept(fd, buf, len, &ret))
		return ret;
	return real_writev(fd, iov, iovcnt);
}

/*
 * Durability operations below the root are only counted: "RENAME <path>" (the target) and
 * "FSYNC <path>" lines in the log, so that tests can assert how often a file is rewritten (the
 * journal: one rewrite per batch, not per record) without timing anything.
 */
static void count_durable(const char *op, int dirfd, const char *name)
{
	struct model m;
	char link[64], path[PATH_MAX], full[PATH_MAX];
	ssize_t n;

	if (in_model || !model_get(&m))
		return;
	if (name && name[0] == '/') {
		snprintf(full, sizeof(full), "%s", name);
	} else {
		if (dirfd == AT_FDCWD)
			snprintf(link, sizeof(link), "/proc/self/cwd");
		else
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n <= 0)
			return;
		path[n] = '\0';
		if (name)
			snprintf(full, sizeof(full), "%s/%s", path, name);
		else
			snprintf(full, sizeof(full), "%s", path);
	}
	if (strncmp(full, m.root, strlen(m.root)) != 0 || full[strlen(m.root)] != '/' ||
	    strncmp(full + strlen(m.root), "/.kmodel", 8) == 0)
		return;
	in_model = 1;
	model_log(&m, op, full + strlen(m.root) + 1, "", 0);
	in_model = 0;
}

int rename(const char *from, const char *to)
{
	resolve_real();
	count_durable("RENAME", AT_FDCWD, to);
	return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	resolve_real();
	count_durable("RENAME", tofd, to);
	return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
	resolve_real();
	count_durable("RENAME", tofd, to);
	return real_renameat2(fromfd, from, tofd, to, flags);
}

int fsync(int fd)
{
	resolve_real();
	count_durable("FSYNC", fd, NULL);
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	resolve_real();
	count_durable("FSYNC", fd, NULL);
	return real_fdatasync(fd);
}

/* Module "loading": returns 0 or an errno. */
static int model_load(const char *file)
{
	struct model m;
	char name[128], path[PATH_MAX];
	const char *base = strrchr(file, '/');
	int err;

	if (!model_get(&m))
		return EPERM; /* never load a real module from the tests */
	snprintf(name, sizeof(name), "%s", base ? base + 1 : file);
	if (strchr(name, '.'))
		*strchr(name, '.') = '\0';
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	err = injected("load", name);
	if (!err) {
		snprintf(path, sizeof(path), "%s/module/%s", m.sys, name);
		mkdir_p(path);
		snprintf(path, sizeof(path), "%s/module/%s/initstate", m.sys, name);
		put_file(path, "live\n");
		if (strcmp(name, "vfio_pci") == 0) {
			static const char *const files[] = {"bind", "unbind", "new_id", "remove_id",
							    "uevent"};

			snprintf(path, sizeof(path), "%s/bus/pci/drivers/" VFIO, m.sys);
			mkdir_p(path);
			for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
				snprintf(path, sizeof(path), "%s/bus/pci/drivers/" VFIO "/%s",
					 m.sys, files[i]);
				put_file(path, "");
			}
			snprintf(path, sizeof(path), "%s/dev/vfio", m.root);
			mkdir_p(path);
			snprintf(path, sizeof(path), "%s/dev/vfio/vfio", m.root);
			put_file(path, "");
		}
	}
	model_log(&m, "load", name, "", err);
	return err;
}

long syscall(long number, ...)
{
	long a[6];
	va_list ap;

	resolve_real();
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == SYS_finit_module) {
		char link[64], path[PATH_MAX];
		ssize_t n;
		int err;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", (int)a[0]);
		n = readlink(link, path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = '\0';
		err = model_load(path);
		if (err) {
			errno = err;
			return -1;
		}
		return 0;
	}
	if (number == SYS_init_module) {
		errno = EPERM; /* libkmod uses finit_module for plain files; refuse the rest */
		return -1;
	}
	return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int init_module(void *image, unsigned long len, const char *params);
int init_module(void *image, unsigned long len, const char *params)
{
	(void)image;
	(void)len;
	(void)params;
	errno = EPERM; /* never load a real module from the tests */
	return -1;
}

/* Marker the tests look up (kmodel_present()) to make sure the model is preloaded. */
int hostdev_kmodel_present(void);
int hostdev_kmodel_present(void)
{
	return 1;
}
