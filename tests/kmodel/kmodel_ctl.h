/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-side control of the kernel model (kmodel.c, preloaded with LD_PRELOAD).
 *
 * The model stands in for the kernel because this machine cannot bind devices: its own disk and NIC
 * are PCI devices, it has no IOMMU and no vfio. Build a fake root (tests/lib/fakeroot.h) first,
 * then kmodel_enable() it: from then on writes below the root behave like sysfs stores.
 */
#ifndef HOSTDEV_TESTS_KMODEL_CTL_H
#define HOSTDEV_TESTS_KMODEL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "fakeroot.h"

#define KMODEL_ENV_ROOT "HOSTDEV_KMODEL_ROOT"
#define KMODEL_ENV_FAIL "HOSTDEV_KMODEL_FAIL"
#define KMODEL_ENV_KILL_AT "HOSTDEV_KMODEL_KILL_AT"
#define KMODEL_ENV_STALL "HOSTDEV_KMODEL_STALL"
#define KMODEL_ENV_NO_DEVNODE "HOSTDEV_KMODEL_NO_DEVNODE"
#define KMODEL_ENV_DELAY "HOSTDEV_KMODEL_DELAY"
#define KMODEL_ENV_HOLD "HOSTDEV_KMODEL_HOLD"
#define KMODEL_ENV_SRIOV_LIMIT "HOSTDEV_KMODEL_SRIOV_LIMIT"
#define KMODEL_ENV_SRIOV_NO_PHYSFN "HOSTDEV_KMODEL_SRIOV_NO_PHYSFN"

/** True when kmodel.so is preloaded into this process. */
bool kmodel_present(void);

/** Model the kernel for @root (sets HOSTDEV_KMODEL_ROOT) and clear every injection variable. */
int kmodel_enable(struct fakeroot *root);

/** Stop modelling (writes become plain file writes again) and clear the injection variables. */
void kmodel_disable(void);

/**
 * Make vfio-pci and vfio_iommu_type1 look loaded: the vfio-pci driver directory, /sys/module
 * entries and /dev/vfio/vfio.
 */
int kmodel_vfio_loaded(struct fakeroot *root);

/** The driver drivers_probe picks for @address when no override is set. */
int kmodel_set_native(struct fakeroot *root, const char *address, const char *driver);

/** Number of lines of <root>/.kmodel/log containing @needle. */
int kmodel_log_count(struct fakeroot *root, const char *needle);

/**
 * Hung drivers (HOSTDEV_KMODEL_HOLD=op:target): true while a store is held in the model, waiting
 * for kmodel_hold_release(). kmodel_hold_wait() waits (at most 30 s) until one is; true if so.
 */
bool kmodel_hold_waiting(struct fakeroot *root);
bool kmodel_hold_wait(struct fakeroot *root);
/** Let held stores (and those held later) go on. kmodel_enable() takes the release back. */
void kmodel_hold_release(struct fakeroot *root);

/** The bound driver of @address into @buf ("" when none). */
void kmodel_driver(struct fakeroot *root, const char *address, char *buf, size_t size);

/** driver_override of @address ("(null)" when unset). */
void kmodel_override(struct fakeroot *root, const char *address, char *buf, size_t size);

/** True when <root>/dev/vfio/@group exists. */
bool kmodel_devnode(struct fakeroot *root, const char *group);

/**
 * SR-IOV: the driver new VFs of PF @pf get (bound at creation when sriov_drivers_autoprobe is 1,
 * and by drivers_probe later), and with @netdev_prefix non-NULL the network interface
 * <prefix><index> each VF shows while that driver is bound. The driver must be registered
 * (<root>/sys/bus/pci/drivers/<driver>/) for the bind to happen.
 */
int kmodel_set_vf_driver(struct fakeroot *root, const char *pf, const char *driver,
			 const char *netdev_prefix);

/** One vGPU type a GPU offers (kmodel.c, "NVIDIA vGPU without mdev"). */
struct kmodel_vgpu_type {
	unsigned int id;	    /**< the id in creatable_vgpu_types */
	unsigned int max_instances; /**< how many VFs may hold it at once */
	const char *name;	    /**< "NVIDIA A2-4Q" */
};

/**
 * NVIDIA vGPU: the types the GPU (PF @pf) offers. Its VFs get nvidia/creatable_vgpu_types and
 * nvidia/current_vgpu_type while they are bound to the driver "nvidia" (register it, and make it
 * the VFs' driver with kmodel_set_vf_driver()). Returns 0 or -1.
 */
int kmodel_set_vgpu_types(struct fakeroot *root, const char *pf,
			  const struct kmodel_vgpu_type *types, size_t count);

#endif /* HOSTDEV_TESTS_KMODEL_CTL_H */
