/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USB device snapshot: creation from the context's sysfs (<sysfs>/bus/usb/devices/<name>), or from
 * the properties of a uevent when the device is already gone, and the getters.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "usb.h"

bool usb_is_device_name(const char *name)
{
	const char *p = name;

	if (!name || !*name)
		return false;
	if (strncmp(name, "usb", 3) == 0) {
		p = name + 3;
		if (!*p)
			return false;
		for (; *p; p++)
			if (!isdigit((unsigned char)*p))
				return false;
		return true;
	}
	/* <bus>-<port>[.<port>...]: digits, one '-', then digits separated by single dots. */
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != '-')
		return false;
	for (;;) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == '\0')
			return true;
		if (*p++ != '.')
			return false;
	}
}

unsigned int usb_speed_class(const char *speed)
{
	double mbps;
	char *end;

	if (!speed)
		return 0;
	mbps = strtod(speed, &end);
	if (end == speed)
		return 0;
	if (mbps <= 12)
		return 1;
	if (mbps <= 480)
		return 2;
	return 3;
}

static int read_hex_id(hostdev_usb_device *dev, int dirfd, const char *attr, unsigned long max,
		       unsigned int *out)
{
	unsigned long v;
	int r = sysfs_read_uint(dirfd, attr, 16, &v);

	if (r == -ENOENT || r == -ENODEV)
		return r;
	if (r < 0 || v > max)
		return hostdev_error(dev->ctx, r < 0 ? r : -EIO,
				     "USB device %s: cannot read '%s' (%s): the sysfs tree looks "
				     "damaged",
				     dev->name, attr, strerror(r < 0 ? -r : EIO));
	*out = (unsigned int)v;
	return 0;
}

static int read_dec(hostdev_usb_device *dev, int dirfd, const char *attr, unsigned int *out)
{
	unsigned long v;
	int r = sysfs_read_uint(dirfd, attr, 10, &v);

	if (r == -ENOENT || r == -ENODEV)
		return r;
	if (r < 0 || v > 0xffff)
		return hostdev_error(dev->ctx, r < 0 ? r : -EIO,
				     "USB device %s: cannot read '%s' (%s): the sysfs tree looks "
				     "damaged",
				     dev->name, attr, strerror(r < 0 ? -r : EIO));
	*out = (unsigned int)v;
	return 0;
}

/* An optional string attribute: NULL when absent; the bytes as they are otherwise. */
static int read_string(int dirfd, const char *attr, char **out)
{
	int r = sysfs_read_alloc(dirfd, attr, out);

	if (r == -ENOMEM)
		return r;
	if (r < 0)
		*out = NULL;
	return 0;
}

static int read_identity(hostdev_usb_device *dev, int dirfd)
{
	int r;

	if ((r = read_hex_id(dev, dirfd, "idVendor", 0xffff, &dev->vendor_id)) < 0 ||
	    (r = read_hex_id(dev, dirfd, "idProduct", 0xffff, &dev->product_id)) < 0 ||
	    (r = read_dec(dev, dirfd, "devnum", &dev->devnum)) < 0)
		return r;
	if (read_dec(dev, dirfd, "busnum", &dev->busnum) < 0) {
		/* Old fixtures: the bus number is also the first part of the name. */
		dev->busnum =
		    (unsigned int)strtoul(dev->name + (dev->name[0] == 'u' ? 3 : 0), NULL, 10);
	}
	if (read_hex_id(dev, dirfd, "bcdDevice", 0xffff, &dev->bcd_device) < 0)
		dev->bcd_device = 0;
	if (read_hex_id(dev, dirfd, "bDeviceClass", 0xff, &dev->device_class) < 0)
		dev->device_class = 0;
	hostdev_clear_error(dev->ctx);
	return 0;
}

static int compare_interfaces(const void *a, const void *b)
{
	const struct usb_interface *x = a, *y = b;

	if (x->number != y->number)
		return x->number < y->number ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int read_interface(int devfd, const char *name, struct usb_interface *intf)
{
	unsigned long v;
	char buf[256];
	int fd = openat(devfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	intf->number = intf->class_code = intf->subclass = intf->protocol = -1;
	if (fd < 0)
		return -errno;
	if (sysfs_read_uint(fd, "bInterfaceNumber", 16, &v) == 0 && v <= 0xff)
		intf->number = (int)v;
	if (sysfs_read_uint(fd, "bInterfaceClass", 16, &v) == 0 && v <= 0xff)
		intf->class_code = (int)v;
	if (sysfs_read_uint(fd, "bInterfaceSubClass", 16, &v) == 0 && v <= 0xff)
		intf->subclass = (int)v;
	if (sysfs_read_uint(fd, "bInterfaceProtocol", 16, &v) == 0 && v <= 0xff)
		intf->protocol = (int)v;
	if (sysfs_read_link_basename(fd, "driver", buf, sizeof(buf)) > 0 &&
	    !(intf->driver = strdup(buf))) {
		close(fd);
		return -ENOMEM;
	}
	close(fd);
	intf->name = strdup(name);
	return intf->name ? 0 : -ENOMEM;
}

static void free_interfaces(hostdev_usb_device *dev)
{
	for (size_t i = 0; i < dev->interface_count; i++) {
		free(dev->interfaces[i].name);
		free(dev->interfaces[i].driver);
	}
	free(dev->interfaces);
	dev->interfaces = NULL;
	dev->interface_count = 0;
}

/* Interfaces are the subdirectories "<name>:<config>.<number>". */
static int read_interfaces(hostdev_usb_device *dev, int devfd)
{
	struct strv names = {0};
	/* Interfaces of root hub usbN are "N-0:C.I": the port path, not the name, prefixes them. */
	size_t len = strlen(dev->port_path);
	int r;

	r = sysfs_list_dir(devfd, ".", NULL, &names);
	if (r < 0) {
		strv_clear(&names);
		return r == -ENOMEM ? r : 0;
	}
	dev->interfaces = calloc(names.count ? names.count : 1, sizeof(*dev->interfaces));
	if (!dev->interfaces) {
		strv_clear(&names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < names.count; i++) {
		const char *n = names.items[i];

		if (strncmp(n, dev->port_path, len) != 0 || n[len] != ':')
			continue;
		r = read_interface(devfd, n, &dev->interfaces[dev->interface_count]);
		if (r == -ENOMEM) {
			free(dev->interfaces[dev->interface_count].driver);
			strv_clear(&names);
			return r;
		}
		if (r < 0)
			continue; /* an interface that went away with a configuration change */
		dev->interface_count++;
	}
	strv_clear(&names);
	qsort(dev->interfaces, dev->interface_count, sizeof(*dev->interfaces), compare_interfaces);
	return 0;
}

/*
 * The host controller is the path element before "usbN" in a device path: the sysfs path of
 * the device (the bus/usb/devices entry is a relative link into devices/) or the DEVPATH of its
 * uevent ("/devices/pci0000:00/0000:00:14.0/usb1/1-2"), which is all that is left once the
 * device is gone.
 */
static int set_controller_from_path(hostdev_usb_device *dev, const char *path)
{
	char copy[PATH_MAX], *prev = NULL, *save = NULL, *tok;
	struct hostdev_pci_address addr;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return 0;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (usb_is_device_name(tok) && strncmp(tok, "usb", 3) == 0)
			break;
		prev = tok;
	}
	if (!tok || !prev || strcmp(prev, "..") == 0 || strcmp(prev, "devices") == 0)
		return 0;
	if (!(dev->controller = strdup(prev)))
		return -ENOMEM;
	if (hostdev_pci_address_parse(prev, &addr) == 0 && strchr(prev, ':') &&
	    !(dev->controller_address = strdup(prev)))
		return -ENOMEM;
	return 0;
}

static int read_controller(hostdev_usb_device *dev, int devices_dirfd)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(devices_dirfd, dev->name, target, sizeof(target) - 1);

	/* EINVAL: a plain directory (hand-made fixture), no controller known. Otherwise the entry
	 * went away while the device was read (an unplug): a snapshot without its controller would
	 * carry another port identity. */
	if (n < 0)
		return errno == EINVAL ? 0 : -ENODEV;
	target[n] = '\0';
	return set_controller_from_path(dev, target);
}

static int read_root_speed(hostdev_usb_device *dev, int devices_dirfd)
{
	char path[64], speed[32];

	snprintf(path, sizeof(path), "usb%u/speed", dev->busnum);
	if (sysfs_read_attr(devices_dirfd, path, speed, sizeof(speed)) > 0)
		dev->root_speed_class = usb_speed_class(speed);
	return 0;
}

static int set_devnode(hostdev_usb_device *dev)
{
	const char *root = hostdev_ctx_get_path(dev->ctx, HOSTDEV_PATH_DEV);

	if (asprintf(&dev->devnode, "%s%sbus/usb/%03u/%03u", root,
		     root[strlen(root) - 1] == '/' ? "" : "/", dev->busnum, dev->devnum) < 0) {
		dev->devnode = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int set_port_path(hostdev_usb_device *dev)
{
	if (strncmp(dev->name, "usb", 3) != 0)
		dev->port_path = strdup(dev->name);
	else if (asprintf(&dev->port_path, "%u-0", dev->busnum) < 0)
		dev->port_path = NULL;
	return dev->port_path ? 0 : -ENOMEM;
}

static hostdev_usb_device *device_alloc(hostdev_ctx *ctx, const char *name)
{
	hostdev_usb_device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->refcount = 1;
	dev->ctx = hostdev_ctx_ref(ctx);
	dev->name = strdup(name);
	if (!dev->name)
		dev = hostdev_usb_device_unref(dev);
	return dev;
}

static int read_device(hostdev_usb_device *dev, int devices_dirfd, int dirfd)
{
	char buf[256];
	int r;

	if ((r = read_identity(dev, dirfd)) < 0)
		return r;
	if ((r = read_string(dirfd, "manufacturer", &dev->manufacturer)) < 0 ||
	    (r = read_string(dirfd, "product", &dev->product)) < 0 ||
	    (r = read_string(dirfd, "serial", &dev->serial)) < 0 ||
	    (r = read_string(dirfd, "speed", &dev->speed)) < 0)
		return r;
	if (sysfs_read_link_basename(dirfd, "driver", buf, sizeof(buf)) > 0 &&
	    !(dev->driver = strdup(buf)))
		return -ENOMEM;
	if ((r = set_port_path(dev)) < 0 || (r = read_interfaces(dev, dirfd)) < 0 ||
	    (r = read_controller(dev, devices_dirfd)) < 0 ||
	    (r = read_root_speed(dev, devices_dirfd)) < 0)
		return r;
	return set_devnode(dev);
}

int usb_device_new_at(hostdev_ctx *ctx, int devices_dirfd, const char *name,
		      hostdev_usb_device **out)
{
	hostdev_usb_device *dev;
	int dirfd, r;

	if (!usb_is_device_name(name))
		return hostdev_error(ctx, -EINVAL,
				     "'%s' is not a USB device name: expected BUS-PORT[.PORT...] "
				     "such as 1-1.4, or usbN for a root hub",
				     name ? name : "(null)");
	dev = device_alloc(ctx, name);
	if (!dev)
		return -ENOMEM;
	dirfd = openat(devices_dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = errno == ENOENT || errno == ENOTDIR
			? hostdev_error(ctx, -ENODEV, "USB device %s: not present", name)
			: hostdev_error(ctx, -errno, "USB device %s: cannot open it: %s", name,
					strerror(errno));
		goto fail;
	}
	r = read_device(dev, devices_dirfd, dirfd);
	close(dirfd);
	if (r == -ENOENT || r == -ENODEV)
		r = hostdev_error(ctx, -ENODEV, "USB device %s: disappeared while being read",
				  name);
	if (r < 0)
		goto fail;
	*out = dev;
	return 0;
fail:
	hostdev_usb_device_unref(dev);
	return r;
}

/* <sysfs>/bus/usb/devices, opened; a negative errno when there is none. */
static int open_devices_dir(hostdev_ctx *ctx)
{
	char path[PATH_MAX];
	int fd;

	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "bus/usb/devices") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int usb_device_new_partial(hostdev_ctx *ctx, const char *name, const char *devpath,
			   unsigned int busnum, unsigned int devnum, const char *product,
			   const char *type, hostdev_usb_device **out)
{
	hostdev_usb_device *dev;
	unsigned int v = 0, p = 0, bcd = 0, cls = 0, sub = 0, proto = 0;
	int devices_fd;

	if (!usb_is_device_name(name))
		return -EINVAL;
	dev = device_alloc(ctx, name);
	if (!dev)
		return -ENOMEM;
	dev->partial = true;
	/* PRODUCT=%x/%x/%x (vendor/product/bcdDevice), TYPE=%d/%d/%d (class/subclass/protocol). */
	if (product && sscanf(product, "%x/%x/%x", &v, &p, &bcd) >= 2) {
		dev->vendor_id = v & 0xffff;
		dev->product_id = p & 0xffff;
		dev->bcd_device = bcd & 0xffff;
	}
	if (type && sscanf(type, "%u/%u/%u", &cls, &sub, &proto) >= 1)
		dev->device_class = cls & 0xff;
	dev->busnum = busnum;
	dev->devnum = devnum;
	if (set_devnode(dev) < 0 || set_port_path(dev) < 0 ||
	    (devpath && set_controller_from_path(dev, devpath) < 0)) {
		hostdev_usb_device_unref(dev);
		return -ENOMEM;
	}
	/* The port identity needs the root hub's generation: the root hub outlives its devices. */
	devices_fd = open_devices_dir(ctx);
	if (devices_fd >= 0) {
		read_root_speed(dev, devices_fd);
		close(devices_fd);
	}
	*out = dev;
	return 0;
}

HOSTDEV_EXPORT int hostdev_usb_device_new(hostdev_ctx *ctx, const char *name,
					  hostdev_usb_device **out)
{
	char path[PATH_MAX];
	int devices_fd, r;

	if (!ctx || !out)
		return -EINVAL;
	if (!usb_is_device_name(name))
		return hostdev_error(ctx, -EINVAL,
				     "'%s' is not a USB device name: expected BUS-PORT[.PORT...] "
				     "such as 1-1.4, or usbN for a root hub",
				     name ? name : "(null)");
	if (path_join(path, sizeof(path), ctx_sysfs(ctx), "bus/usb/devices") < 0)
		return hostdev_error(ctx, -ENAMETOOLONG, "sysfs path '%s' is too long",
				     ctx_sysfs(ctx));
	devices_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devices_fd < 0)
		return hostdev_error(ctx, -ENODEV,
				     "USB device %s: cannot open %s (%s): no USB bus, or sysfs is "
				     "not mounted there",
				     name, path, strerror(errno));
	r = usb_device_new_at(ctx, devices_fd, name, out);
	close(devices_fd);
	return r;
}

/* What _unref() does when the last reference goes. */
static void usb_device_destroy(hostdev_usb_device *dev)
{
	free(dev->name);
	free(dev->port_path);
	free(dev->manufacturer);
	free(dev->product);
	free(dev->serial);
	free(dev->speed);
	free(dev->devnode);
	free(dev->controller);
	free(dev->controller_address);
	free(dev->driver);
	free_interfaces(dev);
	free(dev->vendor_name);
	free(dev->product_name);
	free(dev->object_name);
	free(dev->resource_name);
	free(dev->port_id);
	free(dev->port_resource_name);
	free(dev->serial_id);
	free(dev->serial_resource_name);
	hostdev_ctx_unref(dev->ctx);
	free(dev);
}

HOSTDEV_DEFINE_REF_UNREF(hostdev_usb_device, usb_device_destroy)

HOSTDEV_DEFINE_GETTER(hostdev_ctx *, hostdev_usb_device, get_ctx, ctx, NULL)

HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_name, name, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_port_path, port_path, NULL)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_usb_device, get_vendor_id, vendor_id, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_usb_device, get_product_id, product_id, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_usb_device, get_bcd_device, bcd_device, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_usb_device, get_device_class, device_class, 0)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_manufacturer, manufacturer, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_product, product, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_serial, serial, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_speed, speed, NULL)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_usb_device, get_busnum, busnum, 0)
HOSTDEV_DEFINE_GETTER(unsigned int, hostdev_usb_device, get_devnum, devnum, 0)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_devnode, devnode, NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_controller_address, controller_address,
		      NULL)
HOSTDEV_DEFINE_GETTER(const char *, hostdev_usb_device, get_driver, driver, NULL)

HOSTDEV_EXPORT unsigned int hostdev_usb_device_get_class(hostdev_usb_device *dev)
{
	if (!dev)
		return 0;
	if (dev->device_class != 0)
		return dev->device_class;
	/* Class 0: "defined at the interface level"; the first interface describes the device. */
	if (dev->interface_count > 0 && dev->interfaces[0].class_code >= 0)
		return (unsigned int)dev->interfaces[0].class_code;
	return 0;
}

HOSTDEV_EXPORT int hostdev_usb_device_is_hub(hostdev_usb_device *dev)
{
	return dev && dev->device_class == 0x09;
}

HOSTDEV_EXPORT int hostdev_usb_device_is_root_hub(hostdev_usb_device *dev)
{
	return dev && strncmp(dev->name, "usb", 3) == 0;
}

HOSTDEV_DEFINE_GETTER(size_t, hostdev_usb_device, get_interface_count, interface_count, 0)

static const struct usb_interface *interface_at(hostdev_usb_device *dev, size_t index)
{
	return dev && index < dev->interface_count ? &dev->interfaces[index] : NULL;
}

HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_usb_device, get_interface_name, interface_at,
			      name, NULL)
HOSTDEV_DEFINE_INDEXED_GETTER(int, hostdev_usb_device, get_interface_number, interface_at, number,
			      -1)
HOSTDEV_DEFINE_INDEXED_GETTER(int, hostdev_usb_device, get_interface_class, interface_at,
			      class_code, -1)
HOSTDEV_DEFINE_INDEXED_GETTER(int, hostdev_usb_device, get_interface_subclass, interface_at,
			      subclass, -1)
HOSTDEV_DEFINE_INDEXED_GETTER(int, hostdev_usb_device, get_interface_protocol, interface_at,
			      protocol, -1)
HOSTDEV_DEFINE_INDEXED_GETTER(const char *, hostdev_usb_device, get_interface_driver, interface_at,
			      driver, NULL)
