/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sysfs side of binding and restoring one device: stores (each under the watchdog of
 * attr_write.c, so a driver that blocks in unbind or probe costs a timeout, not a hung process),
 * reading its driver and driver_override, waiting for the driver link, and the put-back sequence
 * that restore and the rollback of a failed bind share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "vfio.h"

bool vfio_is_vfio_driver(const char *driver)
{
	return driver && strcmp(driver, HOSTDEV_VFIO_DRIVER) == 0;
}

/* "\n" (the clearing store) shown as "\n" in messages. */
static const char *shown(const char *value)
{
	return strcmp(value, "\n") ? value : "\\n";
}

/* Store @value into @path (the whole path of a sysfs attribute); see vfio_sysfs_store(). */
static int store(hostdev_ctx *ctx, const char *address, const char *path, const char *value,
		 const char *what, unsigned int timeout_ms)
{
	int r;

	log_debug(ctx, "%s: write '%s' to %s", address, shown(value), path);
	r = attr_write_watchdog(path, value, timeout_ms);
	if (r == -ENOTTY)
		return hostdev_error(ctx, -EINVAL, "%s: %s failed: %s " ATTR_NOT_REGULAR, address,
				     what, path);
	if (r == -ETIMEDOUT)
		return hostdev_error(
		    ctx, r,
		    "%s: %s failed: writing '%s' to %s did not return within %u "
		    "ms: the driver is blocked (dmesg says why); the kernel may "
		    "still complete the store, so check the device before retrying",
		    address, what, shown(value), path, timeout_ms);
	if (r < 0)
		return hostdev_error(ctx, r, "%s: %s failed: writing '%s' to %s: %s", address, what,
				     shown(value), path, strerror(-r));
	return 0;
}

int vfio_sysfs_store(hostdev_ctx *ctx, const char *address, const char *rel, const char *value,
		     const char *what, unsigned int timeout_ms)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), rel) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", address);
	return store(ctx, address, path, value, what, timeout_ms);
}

int vfio_device_store(hostdev_ctx *ctx, const char *address, const char *attr, const char *value,
		      const char *what, unsigned int timeout_ms)
{
	char path[PATH_MAX];

	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, attr) < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: sysfs path too long", address);
	return store(ctx, address, path, value, what, timeout_ms);
}

int vfio_driver_store(hostdev_ctx *ctx, const char *address, const char *driver, const char *file,
		      const char *what, unsigned int timeout_ms)
{
	char rel[PATH_MAX];

	if (snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/%s", driver, file) >= (int)sizeof(rel))
		return hostdev_error(ctx, -ENAMETOOLONG, "%s: driver name too long", address);
	return vfio_sysfs_store(ctx, address, rel, address, what, timeout_ms);
}

static bool driver_registered(hostdev_ctx *ctx, const char *driver)
{
	char path[PATH_MAX];
	struct stat st;

	return snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s", ctx_sysfs(ctx), driver) <
		   (int)sizeof(path) &&
	       stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int vfio_current_driver(hostdev_ctx *ctx, const char *address, char *buf, size_t size)
{
	char path[PATH_MAX];
	int r;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, NULL) < 0)
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return -ENODEV;
	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, "driver") < 0)
		return -ENAMETOOLONG;
	r = sysfs_read_link_basename(AT_FDCWD, path, buf, size);
	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

int vfio_current_override(hostdev_ctx *ctx, const char *address, char *buf, size_t size)
{
	char path[PATH_MAX];
	int r;

	if (sysfs_pci_device_path(ctx, path, sizeof(path), address, "driver_override") < 0)
		return -ENAMETOOLONG;
	r = sysfs_read_attr(AT_FDCWD, path, buf, size);
	if (r == -ENOENT) {
		buf[0] = '\0'; /* kernels before 3.16 have no driver_override */
		return 0;
	}
	if (r < 0)
		return r;
	if (strcmp(buf, "(null)") == 0)
		buf[0] = '\0';
	return 0;
}

int vfio_wait_driver(hostdev_ctx *ctx, const char *address, const char *want,
		     unsigned int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	char cur[VFIO_DRIVER_NAME_MAX];
	int r;

	for (;;) {
		r = vfio_current_driver(ctx, address, cur, sizeof(cur));
		if (r < 0)
			return hostdev_error(ctx, r, "%s: device disappeared while waiting for %s",
					     address, want ? want : "its driver");
		if (!want || strcmp(cur, want) == 0)
			return 0;
		if (monotonic_ms() >= deadline)
			break;
		poll_pause();
	}
	return hostdev_error(ctx, -ETIMEDOUT,
			     "%s: not bound to %s after %u ms (driver: %s); the kernel log (dmesg) "
			     "says why the probe failed",
			     address, want, timeout_ms, cur[0] ? cur : "none");
}

int vfio_put_back(hostdev_ctx *ctx, const struct vfio_put_back *t, unsigned int timeout_ms)
{
	char cur[VFIO_DRIVER_NAME_MAX];
	int r;

	/* Never onto vfio-pci: the journal is input, and this sequence only ever gives back. */
	if (vfio_is_vfio_driver(t->driver) || vfio_is_vfio_driver(t->driver_override))
		return hostdev_error(ctx, -EPERM,
				     "%s: refusing to put it back to vfio-pci: giving a device "
				     "back never binds vfio-pci",
				     t->address);
	r = vfio_current_driver(ctx, t->address, cur, sizeof(cur));
	if (r < 0)
		return hostdev_error(ctx, r == -ENODEV ? -ENODEV : r,
				     "%s: no such device under %s/bus/pci/devices", t->address,
				     ctx_sysfs(ctx));
	r = vfio_device_store(ctx, t->address, "driver_override",
			      t->driver_override ? t->driver_override : "\n",
			      "restoring driver_override", timeout_ms);
	if (r < 0)
		return r;
	if (vfio_is_vfio_driver(cur)) {
		r = vfio_driver_store(ctx, t->address, HOSTDEV_VFIO_DRIVER, "unbind",
				      "unbinding from vfio-pci", timeout_ms);
		if (r < 0)
			return r;
		cur[0] = '\0';
	}
	if (cur[0]) {
		if (!t->driver || strcmp(cur, t->driver) != 0)
			log_warn(ctx,
				 "%s: is on %s, not on vfio-pci or its recorded driver %s; left "
				 "as it is",
				 t->address, cur, t->driver ? t->driver : "(none)");
		return 0;
	}
	if (t->driver && driver_registered(ctx, t->driver)) {
		r = vfio_driver_store(ctx, t->address, t->driver, "bind",
				      "binding the original driver", timeout_ms);
		if (r < 0) {
			/* It may have been bound meanwhile (a uevent-triggered probe). */
			if (vfio_current_driver(ctx, t->address, cur, sizeof(cur)) == 0 &&
			    strcmp(cur, t->driver) == 0)
				return 0;
			return r;
		}
	} else if (t->driver || t->probe_if_none) {
		if (t->driver)
			log_warn(ctx,
				 "%s: driver %s is not registered (module unloaded?): letting "
				 "the kernel probe",
				 t->address, t->driver);
		r = vfio_sysfs_store(ctx, t->address, "bus/pci/drivers_probe", t->address,
				     "reprobing", timeout_ms);
		if (r < 0)
			return r;
	}
	if (!t->driver)
		return 0;
	r = vfio_wait_driver(ctx, t->address, t->driver, timeout_ms);
	if (r < 0) {
		char why[HOSTDEV_ERROR_MAX];

		snprintf(why, sizeof(why), "%s", hostdev_ctx_get_error(ctx));
		return hostdev_error(ctx, r, "%s; could not give it back to %s", why, t->driver);
	}
	return 0;
}
