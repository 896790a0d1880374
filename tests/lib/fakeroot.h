/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fake root builder for libhostdev tests.
 *
 * A fake root is a fresh mkdtemp(3) directory that holds the parts of a Linux system the library
 * reads: <root>/sys (sysfs), <root>/dev, <root>/proc, <root>/var/lib/hostdev and, when asked for, a
 * kernel module directory and a pci.ids file. Point a context at it with hostdev_ctx_set_root(ctx,
 * fakeroot_path(root)).
 *
 * The sysfs part follows the real kernel layout, not a simplified one:
 *  - every PCI function is a real directory under
 * /sys/devices/pci<domain>:<bus>/[<bridge>/...]<addr>/, and /sys/bus/pci/devices/<addr> is a
 * relative symlink to it, as the kernel makes it;
 *  - attributes are written byte for byte as the kernel formats them (vendor "0x8086\n", class
 *    "0x020000\n", numa_node "-1\n", driver_override "(null)\n", modalias, uevent, a binary config
 *    header that lspci/libpci can read);
 *  - links (driver, iommu_group, physfn, virtfnN, subsystem) are relative symlinks like the
 * kernel's.
 *
 * Conventions: functions return 0 or a negative errno; on failure they print one line on stderr
 * (this is test code, the message is what a failing test needs). Addresses are full "dddd:bb:ss.f"
 * strings. Nothing here touches anything outside the fake root. Later tests grow this library
 * (kernel model of bind/unbind, SR-IOV writes, mdev create/remove): add functions, keep the
 * existing ones stable.
 */
#ifndef HOSTDEV_TESTS_FAKEROOT_H
#define HOSTDEV_TESTS_FAKEROOT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A fake root; opaque, made with fakeroot_new(), destroyed (and removed from disk) with
 * fakeroot_free(). */
struct fakeroot;

/** numa_node value the kernel reports for "no NUMA affinity". */
#define FAKE_NUMA_NONE (-1)

/**
 * Description of one PCI function. Zero-initialise it (designated initialisers) and set what
 * matters; unset strings are absent attributes/links, numeric ids default to 0.
 */
struct fake_pci {
	unsigned int vendor;	       /**< vendor id, e.g. 0x8086 */
	unsigned int device;	       /**< device id */
	unsigned int subsystem_vendor; /**< subsystem vendor id */
	unsigned int subsystem_device; /**< subsystem device id */
	unsigned int class_code;       /**< 24-bit 0xCCSSPP, e.g. 0x020000 */
	unsigned int revision;	       /**< revision id */
	int numa_node; /**< written as is ("0\n" by default); FAKE_NUMA_NONE for "-1\n" */
	/**
	 * Upstream bridge address ("0000:00:1c.0"), which must have been added before; its
	 * directory becomes the parent directory. NULL: the device sits on the root bus,
	 * /sys/devices/pci<dddd>:<bb>/.
	 */
	const char *parent;
	/** Bound driver; NULL = unbound (no driver link, no DRIVER= in uevent). */
	const char *driver;
	/** driver_override content; NULL = unset ("(null)\n"). */
	const char *driver_override;
	/** IOMMU group number as text ("12"); NULL = no iommu_group link (IOMMU off / not
	 * translated). */
	const char *iommu_group;
	/** Physical slot name; creates /sys/bus/pci/slots/<name>/address ("dddd:bb:ss\n"). */
	const char *slot;
	/** NULL-terminated list of network interface names; creates net/<ifname>/ directories. */
	const char *const *netdevs;
	/** VGA class devices get a boot_vga file; this is its value. Ignored for other classes. */
	bool boot_vga;
	/** Sets the multi-function bit of the header type in config space. */
	bool multifunction;
	/**
	 * SR-IOV PF: sriov_totalvfs > 0 creates sriov_totalvfs, sriov_numvfs, sriov_vf_device,
	 * sriov_offset, sriov_stride and sriov_drivers_autoprobe. The virtfnN links appear when VFs
	 * are added.
	 */
	unsigned int sriov_totalvfs;
	unsigned int sriov_numvfs;
	unsigned int sriov_vf_device; /**< VF device id (sriov_vf_device) */
	unsigned int sriov_offset;
	unsigned int sriov_stride;
	bool sriov_autoprobe_off; /**< sriov_drivers_autoprobe "0" instead of "1" */
	/**
	 * SR-IOV VF: address of its PF (which must exist). Creates physfn on the VF and
	 * virtfn<vf_index> on the PF.
	 */
	const char *physfn;
	unsigned int vf_index;
};

/** One mediated device type offered by an mdev parent. */
struct fake_mdev_type {
	const char *id;		 /**< directory name, e.g. "nvidia-222" */
	const char *name;	 /**< `name` attribute; NULL = no file */
	int available_instances; /**< `available_instances` */
	const char *device_api;	 /**< `device_api`, e.g. "vfio-pci"; NULL = no file */
	const char *description; /**< `description`; NULL = no file */
};

/** One fake kernel module for fakeroot_modules_build(). */
struct fake_module {
	const char *name;	    /**< module name, e.g. "igb" (file kernel/<name>.ko) */
	const char *const *aliases; /**< NULL-terminated modalias patterns, e.g.
				       "pci:v00008086d00001521sv*sd*bc*sc*i*" */
};

/**
 * Create a fresh fake root under $TMPDIR (or /tmp) with the skeleton of sysfs:
 * /sys/bus/pci/{devices, drivers,slots}, drivers_probe, rescan, /sys/devices,
 * /sys/kernel/iommu_groups, /sys/module, /sys/class/net, /dev, /dev/vfio, /proc, /var/lib/hostdev.
 * Returns NULL on failure.
 */
struct fakeroot *fakeroot_new(void);

/** Remove the whole tree from disk and free @root. NULL-safe. */
void fakeroot_free(struct fakeroot *root);

/** Absolute path of the root directory (what hostdev_ctx_set_root() takes). */
const char *fakeroot_path(const struct fakeroot *root);

/** Absolute path of <root>/sys. */
const char *fakeroot_sysfs(const struct fakeroot *root);

/**
 * Absolute path of a file inside the root: @rel is relative to the root ("sys/bus/pci/devices").
 * Returns a pointer to a buffer inside @root that the next call overwrites.
 */
const char *fakeroot_abspath(struct fakeroot *root, const char *rel);

/*
 * Generic file helpers; @rel is relative to the root. Parent directories are created as needed.
 */
int fakeroot_mkdir(struct fakeroot *root, const char *rel);
/** Write @content (a string) to @rel, creating or truncating it. */
int fakeroot_write(struct fakeroot *root, const char *rel, const char *content);
/** Write @len bytes of @data to @rel. */
int fakeroot_write_bytes(struct fakeroot *root, const char *rel, const void *data, size_t len);
/**
 * Create the symlink @link_rel pointing at @target_rel (both relative to the root). The link text
 * is made relative to the link's directory, like the kernel's sysfs links
 * ("../../../bus/pci/drivers/igb").
 */
int fakeroot_symlink(struct fakeroot *root, const char *target_rel, const char *link_rel);
/** Remove @rel recursively (file, link or directory). Missing is not an error. */
int fakeroot_remove(struct fakeroot *root, const char *rel);

/**
 * Add a PCI function at @address ("dddd:bb:ss.f") described by @desc. Creates the device directory,
 * every attribute, the bus link, and the driver/iommu_group/slot/SR-IOV/net pieces described above.
 */
int fakeroot_pci_add(struct fakeroot *root, const char *address, const struct fake_pci *desc);

/**
 * The device directory of @address relative to the root ("sys/devices/pci0000:00/0000:00:1c.0/
 * 0000:01:00.0"), or NULL when the device was not added. Points into @root; valid until the device
 * is removed.
 */
const char *fakeroot_pci_dir(struct fakeroot *root, const char *address);

/** Overwrite (or create) attribute @attr of the device with @content (given exactly, newline
 * included). Identity attributes (vendor, device, subsystem_*, class) keep uevent in step as the
 * kernel does; an unparsable identity value removes uevent (a damaged tree). */
int fakeroot_pci_set_attr(struct fakeroot *root, const char *address, const char *attr,
			  const char *content);

/** Bind the device to @driver (NULL: unbind): driver link, drivers/<drv>/<addr> link, uevent
 * DRIVER=. */
int fakeroot_pci_set_driver(struct fakeroot *root, const char *address, const char *driver);

/** Add a mediated device type to the mdev parent @address (mdev_supported_types/<id>/...). */
int fakeroot_pci_add_mdev_type(struct fakeroot *root, const char *address,
			       const struct fake_mdev_type *type);

/** Flags for fakeroot_pci_remove(). */
enum fakeroot_remove_flags {
	/** Keep the (now dangling) /sys/bus/pci/devices/<addr> link: a device vanishing mid-scan.
	 */
	FAKEROOT_KEEP_BUS_LINK = 1u << 0,
};

/**
 * Remove a device: its directory (with everything below it), its bus link (unless
 * FAKEROOT_KEEP_BUS_LINK), its driver and iommu-group back-links and the PF's virtfn link.
 */
int fakeroot_pci_remove(struct fakeroot *root, const char *address, unsigned int flags);

/**
 * Build a kernel module directory <root>/lib/modules/@version with one tiny ELF object per module
 * (a .modinfo section carrying its aliases) and run the real `depmod -b <root> @version` over it,
 * so that libkmod finds the aliases exactly as on a real system. Returns 0, -ENOENT when depmod is
 * not installed, -EIO when depmod failed. fakeroot_abspath(root, "lib/modules/<version>") is the
 * directory to hand to HOSTDEV_PATH_MODULES.
 */
int fakeroot_modules_build(struct fakeroot *root, const char *version,
			   const struct fake_module *mods, size_t count);

/** The kernel's modalias for the given ids ("pci:v00008086d00001521sv...bc02sc00i00"). */
void fakeroot_pci_modalias(unsigned int vendor, unsigned int device, unsigned int subsystem_vendor,
			   unsigned int subsystem_device, unsigned int class_code, char *buf,
			   size_t size);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_TESTS_FAKEROOT_H */
