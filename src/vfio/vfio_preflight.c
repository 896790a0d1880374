/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preflight checks for passthrough, the idea of libvirt's virt-host-validate: can this host hand
 * devices to guests, and which devices? Reads only.
 *
 * Host checks (ids are stable, documented in docs/vfio.md):
 *   iommu-groups         <sysfs>/kernel/iommu_groups has groups
 *   iommu-hardware       <sysfs>/class/iommu lists DMAR (Intel VT-d) or AMD-Vi (ivhd) units
 *   kernel-cmdline       <proc>/cmdline: intel_iommu= / amd_iommu= / iommu=
 *   interrupt-remapping  <proc>/interrupts shows IR- interrupt domains (best effort: WARN when
 * unknown) vfio-modules         vfio-pci and vfio_iommu_type1 loaded, built in, or loadable
 * (libkmod) vfio-container       <dev>/vfio/vfio exists
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "pci/pci.h"
#include "vfio.h"

struct check {
	char *id, *title, *message, *remedy;
	int status;
};

struct device_line {
	char address[HOSTDEV_PCI_ADDRESS_MAX];
	int status;
	char *message, *remedy;
};

struct hostdev_vfio_report {
	int refcount;
	struct check *checks;
	size_t ncheck;
	struct device_line *devices;
	size_t ndevice, device_capacity;
};

/*
 * What the host is, for advice that fits it: a virtual machine gets its IOMMU from the hypervisor
 * (a vIOMMU), not from firmware settings; AMD-Vi needs no kernel option (amd_iommu=on is not one of
 * the kernel's documented parameters), Intel's IOMMU needs intel_iommu=on unless the kernel turns
 * it on by default.
 */
enum cpu_vendor { CPU_UNKNOWN, CPU_INTEL, CPU_AMD };

struct host_facts {
	bool vm; /* cpuinfo has the hypervisor flag */
	enum cpu_vendor cpu;
	size_t ngroups;
};

static const char cmdline_remedy[] =
    "boot with intel_iommu=on: add it to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub "
    "and reboot (iommu=pt keeps host DMA fast)";

/* Where the IOMMU is switched on: the hypervisor for a VM, the firmware setup otherwise. */
static const char *firmware_remedy(const struct host_facts *h)
{
	if (h->vm)
		return "this host is a virtual machine (the CPU has the hypervisor flag): its "
		       "IOMMU "
		       "is the hypervisor's virtual IOMMU. Give the VM one (QEMU: a q35 machine "
		       "with -device intel-iommu,intremap=on and kernel-irqchip=split, or -device "
		       "virtio-iommu-pci; libvirt: <iommu model='intel'> with <driver "
		       "intremap='on'/>), then boot it with intel_iommu=on for intel-iommu";
	if (h->cpu == CPU_AMD)
		return "enable the IOMMU (\"IOMMU\" or \"AMD-Vi\") in the firmware setup; the "
		       "kernel turns AMD-Vi on without any option";
	if (h->cpu == CPU_INTEL)
		return "enable VT-d (Intel Virtualization Technology for Directed I/O) in the "
		       "firmware setup";
	return "enable VT-d (Intel) or the IOMMU/AMD-Vi (AMD) in the firmware setup";
}

static int add_check(hostdev_vfio_report *r, const char *id, const char *title, int status,
		     const char *message, const char *remedy)
{
	struct check *c, *checks = dp_array_grow(r->checks, r->ncheck, sizeof(*checks));

	if (!checks)
		return -ENOMEM;
	r->checks = checks;
	c = &r->checks[r->ncheck];
	c->id = strdup(id);
	c->title = strdup(title);
	c->message = strdup(message);
	c->remedy = status == HOSTDEV_CHECK_PASS ? NULL : strdup_or_null(remedy);
	c->status = status;
	r->ncheck++;
	if (!c->id || !c->title || !c->message ||
	    (status != HOSTDEV_CHECK_PASS && remedy && !c->remedy))
		return -ENOMEM;
	return 0;
}

static int add_device(hostdev_vfio_report *r, const char *address, int status, const char *message,
		      const char *remedy)
{
	struct device_line *d;

	if (r->ndevice == r->device_capacity) {
		size_t cap = r->device_capacity ? r->device_capacity * 2 : 16;
		struct device_line *devices = realloc(r->devices, cap * sizeof(*devices));

		if (!devices)
			return -ENOMEM;
		r->devices = devices;
		r->device_capacity = cap;
	}
	d = &r->devices[r->ndevice++];
	snprintf(d->address, sizeof(d->address), "%s", address);
	d->status = status;
	d->message = strdup(message);
	d->remedy = status == HOSTDEV_CHECK_PASS ? NULL : strdup_or_null(remedy);
	if (!d->message || (status != HOSTDEV_CHECK_PASS && remedy && !d->remedy))
		return -ENOMEM;
	return 0;
}

/* Entries of <root>/@rel ("" root = sysfs). -errno when unreadable. */
static int list(const char *root, const char *rel, struct strv *out)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), root, rel) < 0)
		return -ENAMETOOLONG;
	return sysfs_list_dir(AT_FDCWD, path, NULL, out);
}

/* Read a small proc/sys file; "" when unreadable (returns -errno). */
static int read_text(const char *root, const char *rel, char **out)
{
	char path[PATH_MAX];

	*out = NULL;
	if (path_join(path, sizeof(path), root, rel) < 0)
		return -ENAMETOOLONG;
	return sysfs_read_alloc(AT_FDCWD, path, out);
}

static const char groups_remedy[] =
    "turn the IOMMU on: the IOMMU hardware and kernel command line checks say what to change";

static int check_groups(hostdev_ctx *ctx, hostdev_vfio_report *r, size_t *ngroups)
{
	struct strv groups = {0};
	char msg[512];
	int err = list(ctx_sysfs(ctx), "kernel/iommu_groups", &groups), ret;

	*ngroups = groups.count;
	if (err < 0) {
		snprintf(msg, sizeof(msg),
			 "cannot read %s/kernel/iommu_groups (%s): the IOMMU is off "
			 "or the kernel has no IOMMU support",
			 ctx_sysfs(ctx), strerror(-err));
		ret = add_check(r, "iommu-groups", "IOMMU groups present", HOSTDEV_CHECK_FAIL, msg,
				groups_remedy);
	} else if (groups.count == 0) {
		snprintf(
		    msg, sizeof(msg),
		    "%s/kernel/iommu_groups is empty: the IOMMU is off, so vfio-pci cannot take "
		    "any device",
		    ctx_sysfs(ctx));
		ret = add_check(r, "iommu-groups", "IOMMU groups present", HOSTDEV_CHECK_FAIL, msg,
				groups_remedy);
	} else {
		snprintf(msg, sizeof(msg), "%zu IOMMU groups", groups.count);
		ret = add_check(r, "iommu-groups", "IOMMU groups present", HOSTDEV_CHECK_PASS, msg,
				NULL);
	}
	strv_clear(&groups);
	return ret;
}

static int check_hardware(hostdev_ctx *ctx, hostdev_vfio_report *r, const struct host_facts *h)
{
	struct strv units = {0};
	char msg[768] = "", names[512] = "";
	const char *kind = NULL;
	int ret;

	list(ctx_sysfs(ctx), "class/iommu", &units);
	for (size_t i = 0; i < units.count; i++) {
		const char *u = units.items[i];

		if (strncmp(u, "dmar", 4) == 0)
			kind = "Intel VT-d (DMAR)";
		else if (strncmp(u, "ivhd", 4) == 0)
			kind = kind ? kind : "AMD-Vi";
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 i ? ", " : "", u);
	}
	if (units.count) {
		snprintf(msg, sizeof(msg), "%s: %s", kind ? kind : "IOMMU units", names);
		ret = add_check(r, "iommu-hardware", "IOMMU hardware (DMAR / AMD-Vi)",
				HOSTDEV_CHECK_PASS, msg, NULL);
	} else if (h->ngroups) {
		snprintf(msg, sizeof(msg),
			 "no unit in %s/class/iommu, yet IOMMU groups exist (a virtual or "
			 "platform IOMMU the kernel does not list there)",
			 ctx_sysfs(ctx));
		ret = add_check(r, "iommu-hardware", "IOMMU hardware (DMAR / AMD-Vi)",
				HOSTDEV_CHECK_WARN, msg,
				"nothing to do if devices have IOMMU groups; otherwise check the "
				"firmware's VT-d/AMD-Vi setting");
	} else {
		snprintf(msg, sizeof(msg),
			 "no DMAR (Intel VT-d) or AMD-Vi unit in %s/class/iommu: %s",
			 ctx_sysfs(ctx),
			 h->vm ? "this virtual machine has no virtual IOMMU, or the kernel "
				 "disabled it"
			       : "the firmware does not announce an IOMMU, or the kernel disabled "
				 "it");
		ret = add_check(r, "iommu-hardware", "IOMMU hardware (DMAR / AMD-Vi)",
				HOSTDEV_CHECK_FAIL, msg, firmware_remedy(h));
	}
	strv_clear(&units);
	return ret;
}

/* True when the NUL-separated or space-separated @cmdline has the word @word. */
static bool has_word(const char *cmdline, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = cmdline; (p = strstr(p, word)); p += len) {
		if ((p == cmdline || p[-1] == ' ') &&
		    (p[len] == '\0' || p[len] == ' ' || p[len] == '\n'))
			return true;
	}
	return false;
}

/* <proc>/cpuinfo: the hypervisor flag and the vendor; unknown when unreadable. */
static void read_host_facts(hostdev_ctx *ctx, struct host_facts *h)
{
	char *cpuinfo = NULL;

	memset(h, 0, sizeof(*h));
	if (read_text(ctx->paths[HOSTDEV_PATH_PROC], "cpuinfo", &cpuinfo) < 0 || !cpuinfo) {
		free(cpuinfo);
		return;
	}
	for (char *p = cpuinfo; *p; p++)
		if (*p == '\t')
			*p = ' ';
	h->vm = has_word(cpuinfo, "hypervisor");
	if (strstr(cpuinfo, "GenuineIntel"))
		h->cpu = CPU_INTEL;
	else if (strstr(cpuinfo, "AuthenticAMD") || strstr(cpuinfo, "HygonGenuine"))
		h->cpu = CPU_AMD;
	free(cpuinfo);
}

static int check_cmdline(hostdev_ctx *ctx, hostdev_vfio_report *r, const struct host_facts *h)
{
	static const char *const off[] = {"intel_iommu=off", "amd_iommu=off", "iommu=off"};
	/* amd_iommu=on is no kernel parameter: AMD-Vi is on unless amd_iommu=off. */
	static const char *const on[] = {"intel_iommu=on", "amd_iommu=force_enable"};
	const char *title = "Kernel command line";
	char *cmdline = NULL;
	char msg[512], remedy[512];
	int err = read_text(ctx->paths[HOSTDEV_PATH_PROC], "cmdline", &cmdline), ret;
	const char *found = NULL;

	if (err < 0) {
		snprintf(msg, sizeof(msg), "cannot read %s/cmdline (%s)",
			 ctx->paths[HOSTDEV_PATH_PROC], strerror(-err));
		return add_check(r, "kernel-cmdline", title, HOSTDEV_CHECK_WARN, msg,
				 "mount procfs to let the check see the kernel command line");
	}
	/* /proc/cmdline is one line; some fixtures use NUL separators. */
	for (char *p = cmdline; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	for (size_t i = 0; i < ARRAY_SIZE(off); i++) {
		if (has_word(cmdline, off[i])) {
			snprintf(msg, sizeof(msg), "the kernel was booted with %s", off[i]);
			snprintf(remedy, sizeof(remedy),
				 "%s %s in the kernel command line (GRUB_CMDLINE_LINUX in "
				 "/etc/default/grub), run update-grub and reboot",
				 i == 0 ? "replace" : "remove", off[i]);
			if (i == 0)
				snprintf(remedy + strlen(remedy), sizeof(remedy) - strlen(remedy),
					 "%s", "; replace it by intel_iommu=on");
			free(cmdline);
			return add_check(r, "kernel-cmdline", title, HOSTDEV_CHECK_FAIL, msg,
					 remedy);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(on) && !found; i++)
		if (has_word(cmdline, on[i]))
			found = on[i];
	if (found) {
		snprintf(msg, sizeof(msg), "%s%s", found,
			 has_word(cmdline, "iommu=pt") ? " iommu=pt" : "");
		ret = add_check(r, "kernel-cmdline", title, HOSTDEV_CHECK_PASS, msg, NULL);
	} else if (h->ngroups) {
		ret = add_check(r, "kernel-cmdline", title, HOSTDEV_CHECK_PASS,
				"no intel_iommu=on: the IOMMU is on by the kernel's default", NULL);
	} else if (h->cpu == CPU_AMD && !h->vm) {
		ret = add_check(r, "kernel-cmdline", title, HOSTDEV_CHECK_PASS,
				"AMD-Vi needs no kernel option (the kernel turns it on when the "
				"firmware announces it)",
				NULL);
	} else {
		ret = add_check(r, "kernel-cmdline", title, HOSTDEV_CHECK_FAIL,
				h->cpu == CPU_UNKNOWN
				    ? "intel_iommu=on is not set and the IOMMU is off (Intel's "
				      "IOMMU needs it unless the kernel turns it on by default; "
				      "AMD-Vi needs no option)"
				    : "intel_iommu=on is not set and the IOMMU is off",
				cmdline_remedy);
	}
	free(cmdline);
	return ret;
}

static int check_interrupt_remapping(hostdev_ctx *ctx, hostdev_vfio_report *r)
{
	const char *title = "Interrupt remapping";
	char *interrupts = NULL, *unsafe = NULL;
	int err = read_text(ctx->paths[HOSTDEV_PATH_PROC], "interrupts", &interrupts), ret;
	bool unsafe_allowed;

	read_text(ctx_sysfs(ctx), "module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
		  &unsafe);
	unsafe_allowed = unsafe && (unsafe[0] == 'Y' || unsafe[0] == '1');
	free(unsafe);
	if (err < 0) {
		ret =
		    add_check(r, "interrupt-remapping", title, HOSTDEV_CHECK_WARN,
			      "unknown: cannot read /proc/interrupts to see whether interrupts are "
			      "remapped",
			      "check the kernel log for \"DMAR-IR: Enabled IRQ remapping\" or "
			      "\"AMD-Vi: Interrupt remapping enabled\"");
	} else if (strstr(interrupts, "IR-")) {
		ret = add_check(r, "interrupt-remapping", title, HOSTDEV_CHECK_PASS,
				"active (IR- interrupt domains in /proc/interrupts)", NULL);
	} else if (unsafe_allowed) {
		ret = add_check(r, "interrupt-remapping", title, HOSTDEV_CHECK_WARN,
				"not active, and vfio_iommu_type1.allow_unsafe_interrupts=Y lets "
				"assigned devices inject interrupts into the host",
				"enable interrupt remapping (x2APIC / VT-d IR or AMD-Vi IR) in the "
				"firmware and drop allow_unsafe_interrupts");
	} else if (strstr(interrupts, "MSI")) {
		ret = add_check(
		    r, "interrupt-remapping", title, HOSTDEV_CHECK_WARN,
		    "not active: no IR- interrupt domain in /proc/interrupts; vfio refuses "
		    "to attach devices to a container unless "
		    "vfio_iommu_type1.allow_unsafe_interrupts=1",
		    "enable interrupt remapping in the firmware (VT-d with x2APIC, or "
		    "AMD-Vi); it follows the IOMMU (intel_iommu=on on Intel)");
	} else {
		ret = add_check(r, "interrupt-remapping", title, HOSTDEV_CHECK_WARN,
				"unknown: /proc/interrupts shows no MSI interrupts to judge by",
				"check the kernel log for \"Enabled IRQ remapping\"");
	}
	free(interrupts);
	return ret;
}

static int check_modules(hostdev_ctx *ctx, hostdev_vfio_report *r, bool *vfio_present)
{
	const char *title = "vfio modules";
	char pci[512], type1[512], msg[1100], pci_fix[512], type1_fix[512], fix[640];
	int spci =
	    vfio_module_state(ctx, HOSTDEV_VFIO_DRIVER, pci, sizeof(pci), pci_fix, sizeof(pci_fix));
	int stype1 = vfio_module_state(ctx, "vfio_iommu_type1", type1, sizeof(type1), type1_fix,
				       sizeof(type1_fix));

	*vfio_present = vfio_driver_present(ctx);
	if (spci < 0) {
		snprintf(msg, sizeof(msg), "%s", pci);
		return add_check(r, "vfio-modules", title, HOSTDEV_CHECK_FAIL, msg,
				 pci_fix[0] ? pci_fix
					    : "install the kernel modules that contain vfio "
					      "(vfio-pci, vfio_iommu_type1)");
	}
	snprintf(msg, sizeof(msg), "%s; %s", pci, type1);
	if (stype1 < 0) {
		snprintf(fix, sizeof(fix),
			 "%s (without vfio_iommu_type1, or iommufd, users cannot open "
			 "/dev/vfio/vfio)",
			 type1_fix[0] ? type1_fix : "install or unblacklist vfio_iommu_type1");
		return add_check(r, "vfio-modules", title, HOSTDEV_CHECK_WARN, msg, fix);
	}
	if (spci == 0 || stype1 == 0)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			 " (loaded on the first bind)");
	return add_check(r, "vfio-modules", title, HOSTDEV_CHECK_PASS, msg, NULL);
}

static int check_container(hostdev_ctx *ctx, hostdev_vfio_report *r, bool vfio_present)
{
	const char *title = "vfio container device";
	const char *dev = ctx->paths[HOSTDEV_PATH_DEV];
	char path[PATH_MAX], msg[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/vfio/vfio", dev);
	if (access(path, F_OK) == 0) {
		snprintf(msg, sizeof(msg), "%s exists", path);
		return add_check(r, "vfio-container", title, HOSTDEV_CHECK_PASS, msg, NULL);
	}
	if (!vfio_present) {
		snprintf(msg, sizeof(msg), "%s does not exist yet: it appears when vfio is loaded",
			 path);
		return add_check(r, "vfio-container", title, HOSTDEV_CHECK_WARN, msg,
				 "nothing to do: the first bind loads vfio (or load the vfio-pci "
				 "module)");
	}
	snprintf(msg, sizeof(msg), "vfio-pci is loaded but %s does not exist", path);
	return add_check(r, "vfio-container", title, HOSTDEV_CHECK_FAIL, msg,
			 "mount devtmpfs on /dev (mount -t devtmpfs devtmpfs /dev) or check "
			 "udev rules that remove vfio nodes");
}

/* Judge one device. */
#define PCI_CLASS_BRIDGE_ISA 0x0601

/* A device without an IOMMU group: the IOMMU is off, or on but not covering it. */
static int judge_no_group(hostdev_vfio_report *r, const char *addr, const struct host_facts *h)
{
	char msg[512];

	if (h->ngroups == 0)
		return add_device(r, addr, HOSTDEV_CHECK_FAIL, "no IOMMU group: the IOMMU is off",
				  "turn the IOMMU on as the host checks above say");
	snprintf(msg, sizeof(msg),
		 "no IOMMU group, although the host has %zu: no IOMMU unit covers this device "
		 "(%s)",
		 h->ngroups,
		 h->vm ? "the virtual IOMMU does not translate its bus"
		       : "the firmware's DMAR/IVRS table leaves it out");
	return add_device(r, addr, HOSTDEV_CHECK_FAIL, msg,
			  h->vm ? "attach the device behind the VM's virtual IOMMU"
				: "move the card to a slot an IOMMU unit covers (another root "
				  "port), or update the firmware");
}

static int judge(hostdev_ctx *ctx, hostdev_vfio_report *r, hostdev_pci_device *dev,
		 const struct vfio_guard *guard, const struct host_facts *h)
{
	const char *addr = hostdev_pci_device_get_address(dev);
	const char *drv = hostdev_pci_device_get_driver(dev);
	int group = hostdev_pci_device_get_iommu_group(dev);
	char msg[HOSTDEV_ERROR_MAX], conflicts[HOSTDEV_ERROR_MAX / 2] = "", remedy[512];
	const char *why, *blocked_by = NULL, *chipset = NULL;
	char blocked_why[HOSTDEV_ERROR_MAX / 2] = "", chipset_addr[HOSTDEV_PCI_ADDRESS_MAX] = "";
	size_t n, nconf = 0;

	if (hostdev_pci_device_is_bridge(dev))
		return add_device(r, addr, HOSTDEV_CHECK_FAIL,
				  "PCI bridge: bridges stay with the host",
				  "pass through the devices behind it instead");
	if (drv && strcmp(drv, HOSTDEV_VFIO_DRIVER) == 0) {
		snprintf(msg, sizeof(msg), "on vfio-pci (IOMMU group %d)", group);
		return add_device(r, addr, HOSTDEV_CHECK_PASS, msg, NULL);
	}
	if (group < 0)
		return judge_no_group(r, addr, h);
	why = vfio_guard_lookup(guard, addr);
	if (why) {
		snprintf(msg, sizeof(msg), "host-critical: %s", why);
		return add_device(r, addr, HOSTDEV_CHECK_FAIL, msg,
				  "keep it with the host (HOSTDEV_BIND_FORCE overrides the guard)");
	}
	if (vfio_mdev_conflicts(ctx, dev, blocked_why, sizeof(blocked_why))) {
		snprintf(msg, sizeof(msg), "not assignable while %s (binding it destroys them)",
			 blocked_why);
		return add_device(
		    r, addr, HOSTDEV_CHECK_FAIL, msg,
		    "pass through the mediated devices instead, or remove them first "
		    "(hostdev_mdev_remove()) when no VM uses them; HOSTDEV_BIND_FORCE "
		    "overrides this");
	}
	if (vfio_vgpu_conflicts(ctx, dev, blocked_why, sizeof(blocked_why))) {
		snprintf(msg, sizeof(msg), "not assignable to vfio-pci: %s", blocked_why);
		return add_device(
		    r, addr, HOSTDEV_CHECK_FAIL, msg,
		    "pass the vGPU VF through on the nvidia driver (docs/vgpu.md), or "
		    "clear its vGPU type first (hostdev_vgpu_clear_type())");
	}
	n = hostdev_pci_device_get_iommu_group_member_count(dev);
	for (size_t i = 0; i < n; i++) {
		const char *member = hostdev_pci_device_get_iommu_group_member(dev, i);
		hostdev_pci_device *m;
		const char *mdrv, *mwhy;

		if (strcmp(member, addr) == 0 || hostdev_pci_device_new(ctx, member, &m) < 0) {
			hostdev_clear_error(ctx);
			continue;
		}
		mdrv = hostdev_pci_device_get_driver(m);
		mwhy = vfio_guard_lookup(guard, member);
		if ((hostdev_pci_device_get_class(m) >> 8) == PCI_CLASS_BRIDGE_ISA && !chipset) {
			snprintf(chipset_addr, sizeof(chipset_addr), "%s", member);
			chipset = chipset_addr;
		}
		if (!hostdev_pci_device_is_bridge(m) && mwhy && !blocked_by) {
			blocked_by = member;
			snprintf(blocked_why, sizeof(blocked_why), "%s", mwhy);
		}
		if (!hostdev_pci_device_is_bridge(m) && !vfio_driver_group_safe(mdrv)) {
			nconf++;
			snprintf(conflicts + strlen(conflicts),
				 sizeof(conflicts) - strlen(conflicts), "%s%s (%s)",
				 nconf > 1 ? ", " : "", member, mdrv);
		}
		hostdev_pci_device_unref(m);
	}
	if (blocked_by) {
		snprintf(msg, sizeof(msg),
			 "IOMMU group %d also holds %s, which is host-critical: %s", group,
			 blocked_by, blocked_why);
		return add_device(r, addr, HOSTDEV_CHECK_FAIL, msg,
				  "the group can only be passed through whole; move the device to "
				  "another slot or keep it with the host");
	}
	/*
	 * The platform's own functions (the LPC/ISA bridge with the SMBus, SATA, ... beside it):
	 * passing the group through takes the chipset from the host, so HOSTDEV_BIND_GROUP is no
	 * advice here.
	 */
	if ((hostdev_pci_device_get_class(dev) >> 8) == PCI_CLASS_BRIDGE_ISA)
		chipset = addr;
	if (chipset && (nconf || chipset == addr)) {
		snprintf(msg, sizeof(msg),
			 "IOMMU group %d is the chipset's (ISA/LPC bridge %s)%s%s; passing it "
			 "through would take the platform's functions from the host",
			 group, chipset, nconf ? ": it also holds " : "", conflicts);
		return add_device(
		    r, addr, HOSTDEV_CHECK_FAIL, msg,
		    "keep it with the host; a device meant for a VM needs a slot with "
		    "its own IOMMU group");
	}
	if (nconf) {
		snprintf(msg, sizeof(msg), "IOMMU group %d also holds %s", group, conflicts);
		snprintf(remedy, sizeof(remedy),
			 "bind %s with HOSTDEV_BIND_GROUP, which binds the whole group", addr);
		return add_device(r, addr, HOSTDEV_CHECK_WARN, msg, remedy);
	}
	snprintf(msg, sizeof(msg), "assignable (IOMMU group %d, driver %s)", group,
		 drv ? drv : "none");
	return add_device(r, addr, HOSTDEV_CHECK_PASS, msg, NULL);
}

static int judge_devices(hostdev_ctx *ctx, hostdev_vfio_report *r, const char *const *addresses,
			 size_t count, const struct host_facts *h)
{
	struct vfio_guard guard;
	int ret = vfio_guard_collect(ctx, NULL, 0, &guard);

	if (ret < 0)
		return ret;
	if (count) {
		for (size_t i = 0; i < count && ret == 0; i++) {
			hostdev_pci_device *dev;

			ret = hostdev_pci_device_new(ctx, addresses[i], &dev);
			if (ret < 0)
				break;
			ret = judge(ctx, r, dev, &guard, h);
			hostdev_pci_device_unref(dev);
		}
	} else {
		hostdev_pci_enum *e;
		hostdev_pci_device *dev;

		ret = hostdev_pci_enum_new(ctx, &e);
		while (ret == 0 && (ret = hostdev_pci_enum_next(e, &dev)) > 0) {
			ret = hostdev_pci_device_is_bridge(dev) ? 0 : judge(ctx, r, dev, &guard, h);
			hostdev_pci_device_unref(dev);
		}
		hostdev_pci_enum_unref(e);
	}
	vfio_guard_clear(&guard);
	return ret;
}

HOSTDEV_EXPORT int hostdev_vfio_check(hostdev_ctx *ctx, const char *const *addresses, size_t count,
				      unsigned int flags, hostdev_vfio_report **out)
{
	hostdev_vfio_report *r;
	struct host_facts facts;
	bool vfio_present = false;
	int ret;

	if (!ctx || !out)
		return -EINVAL;
	CHECK_FLAGS(ctx, flags, HOSTDEV_CHECK_HOST_ONLY, "unknown check");
	if (count && !addresses)
		return hostdev_error(ctx, -EINVAL, "no addresses given");
	for (size_t i = 0; i < count; i++) {
		struct hostdev_pci_address a;

		int err = pci_address_parse_or_explain(ctx, NULL, addresses[i], &a, NULL);

		if (err < 0)
			return err;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->refcount = 1;
	read_host_facts(ctx, &facts);
	ret = check_groups(ctx, r, &facts.ngroups);
	if (ret == 0)
		ret = check_hardware(ctx, r, &facts);
	if (ret == 0)
		ret = check_cmdline(ctx, r, &facts);
	if (ret == 0)
		ret = check_interrupt_remapping(ctx, r);
	if (ret == 0)
		ret = check_modules(ctx, r, &vfio_present);
	if (ret == 0)
		ret = check_container(ctx, r, vfio_present);
	if (ret == 0 && !(flags & HOSTDEV_CHECK_HOST_ONLY))
		ret = judge_devices(ctx, r, addresses, count, &facts);
	if (ret < 0) {
		hostdev_vfio_report_unref(r);
		return ret;
	}
	*out = r;
	return 0;
}

/* What _unref() does when the last reference goes. */
static void vfio_report_destroy(hostdev_vfio_report *report)
{
	for (size_t i = 0; i < report->ncheck; i++) {
		free(report->checks[i].id);
		free(report->checks[i].title);
		free(report->checks[i].message);
		free(report->checks[i].remedy);
	}
	for (size_t i = 0; i < report->ndevice; i++) {
		free(report->devices[i].message);
		free(report->devices[i].remedy);
	}
	free(report->checks);
	free(report->devices);
	free(report);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_vfio_report, vfio_report_destroy)

HOSTDEV_EXPORT int hostdev_vfio_report_get_status(const hostdev_vfio_report *report)
{
	int worst = HOSTDEV_CHECK_PASS;

	if (!report)
		return -EINVAL;
	for (size_t i = 0; i < report->ncheck; i++)
		if (report->checks[i].status > worst)
			worst = report->checks[i].status;
	return worst;
}

HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_vfio_report, get_check_count, ncheck, 0)

static const struct check *check_at(const hostdev_vfio_report *report, size_t index)
{
	return report && index < report->ncheck ? &report->checks[index] : NULL;
}

static const struct device_line *device_at(const hostdev_vfio_report *report, size_t index)
{
	return report && index < report->ndevice ? &report->devices[index] : NULL;
}

HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_check_id, check_at, id,
				    NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_check_title, check_at,
				    title, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_report, get_check_status, check_at, status,
				    -EINVAL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_check_message, check_at,
				    message, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_check_remedy, check_at,
				    remedy, NULL)
HOSTDEV_DEFINE_CONST_GETTER(size_t, hostdev_vfio_report, get_device_count, ndevice, 0)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_device_address,
				    device_at, address, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(int, hostdev_vfio_report, get_device_status, device_at, status,
				    -EINVAL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_device_message,
				    device_at, message, NULL)
HOSTDEV_DEFINE_CONST_INDEXED_GETTER(const char *, hostdev_vfio_report, get_device_remedy, device_at,
				    remedy, NULL)

static const char *status_name(int status)
{
	return status == HOSTDEV_CHECK_PASS   ? "pass"
	       : status == HOSTDEV_CHECK_WARN ? "warn"
					      : "fail";
}

static bool add_nullable(cJSON *obj, const char *key, const char *value)
{
	return value ? cJSON_AddStringToObject(obj, key, value) != NULL
		     : cJSON_AddNullToObject(obj, key) != NULL;
}

HOSTDEV_EXPORT int hostdev_vfio_report_to_json(const hostdev_vfio_report *report,
					       unsigned int flags, char **out)
{
	cJSON *doc, *checks, *devices;
	char *text = NULL;

	if (!report || !out || (flags & ~(unsigned int)HOSTDEV_JSON_PRETTY))
		return -EINVAL;
	doc = cJSON_CreateObject();
	if (!doc ||
	    !cJSON_AddStringToObject(doc, "status",
				     status_name(hostdev_vfio_report_get_status(report))) ||
	    !(checks = cJSON_AddArrayToObject(doc, "checks")) ||
	    !(devices = cJSON_AddArrayToObject(doc, "devices")))
		goto out;
	for (size_t i = 0; i < report->ncheck; i++) {
		const struct check *c = &report->checks[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			goto out;
		cJSON_AddItemToArray(checks, o);
		if (!cJSON_AddStringToObject(o, "id", c->id) ||
		    !cJSON_AddStringToObject(o, "title", c->title) ||
		    !cJSON_AddStringToObject(o, "status", status_name(c->status)) ||
		    !cJSON_AddStringToObject(o, "message", c->message) ||
		    !add_nullable(o, "remedy", c->remedy))
			goto out;
	}
	for (size_t i = 0; i < report->ndevice; i++) {
		const struct device_line *d = &report->devices[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			goto out;
		cJSON_AddItemToArray(devices, o);
		if (!cJSON_AddStringToObject(o, "address", d->address) ||
		    !cJSON_AddStringToObject(o, "status", status_name(d->status)) ||
		    !cJSON_AddBoolToObject(o, "assignable", d->status != HOSTDEV_CHECK_FAIL) ||
		    !cJSON_AddStringToObject(o, "message", d->message) ||
		    !add_nullable(o, "remedy", d->remedy))
			goto out;
	}
	text = (flags & HOSTDEV_JSON_PRETTY) ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(doc);
	if (!text)
		return -ENOMEM;
	*out = text;
	return 0;
}
