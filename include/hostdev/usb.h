/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USB devices: one snapshot object per device (root hubs included), read from the context's sysfs,
 * and an enumerator with filters. Interfaces are not devices here: they are listed on their
 * device. docs/usb.md has the details, the identities and when each of them is stable.
 *
 * A hostdev_usb_device is a snapshot: every attribute is read when the object is made, except the
 * names from usb.ids (read on first use) and the Kubernetes names (computed on first use). Make a
 * new object to see the current state.
 */
#ifndef HOSTDEV_USB_H
#define HOSTDEV_USB_H

#include <stddef.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque USB device snapshot. */
typedef struct hostdev_usb_device hostdev_usb_device;

/**
 * Read the USB device with the kernel name @name ("1-1.4", or "usb1" for the root hub of bus 1)
 * from <sysfs>/bus/usb/devices. On success *@out holds a new reference. Returns 0, -EINVAL (NULL
 * argument, or @name is an interface such as "1-1:1.0" or not a USB device name), -ENODEV (no such
 * device, or it disappeared while being read), -ENOMEM, -EIO (malformed identity attributes).
 */
int hostdev_usb_device_new(hostdev_ctx *ctx, const char *name, hostdev_usb_device **out);

hostdev_usb_device *hostdev_usb_device_ref(hostdev_usb_device *dev);
/** NULL-safe; always returns NULL. */
hostdev_usb_device *hostdev_usb_device_unref(hostdev_usb_device *dev);

/** The context the device was read from (borrowed). */
hostdev_ctx *hostdev_usb_device_get_ctx(hostdev_usb_device *dev);

/** Kernel name: "1-1.4", or "usbN" for a root hub. */
const char *hostdev_usb_device_get_name(hostdev_usb_device *dev);
/**
 * Port path "<bus>-<port>[.<port>...]" ("2-1.4"); "<bus>-0" for a root hub. Stable for a physical
 * port while the bus number is (see docs/usb.md).
 */
const char *hostdev_usb_device_get_port_path(hostdev_usb_device *dev);

/* Identity from the device descriptor. */
unsigned int hostdev_usb_device_get_vendor_id(hostdev_usb_device *dev);
unsigned int hostdev_usb_device_get_product_id(hostdev_usb_device *dev);
/** bcdDevice, the device release number in BCD (0x0100 = 1.00). */
unsigned int hostdev_usb_device_get_bcd_device(hostdev_usb_device *dev);
/** bDeviceClass as the descriptor says (0 = defined per interface). */
unsigned int hostdev_usb_device_get_device_class(hostdev_usb_device *dev);
/** The class that describes the device: bDeviceClass, or when it is 0 the class of the first
 * interface (lowest bInterfaceNumber); 0 when that is unknown too. */
unsigned int hostdev_usb_device_get_class(hostdev_usb_device *dev);
/** Readable name of hostdev_usb_device_get_class() ("Human Interface Device", "Hub"); from usb.ids,
 * else a built-in table of the USB-IF base classes; NULL for an unknown code. */
const char *hostdev_usb_device_get_class_name(hostdev_usb_device *dev);

/* Names from usb.ids (the context's HOSTDEV_PATH_USB_IDS), or, when that file cannot be read,
 * from the udev hwdb. NULL when the id is not known. */
const char *hostdev_usb_device_get_vendor_name(hostdev_usb_device *dev);
const char *hostdev_usb_device_get_product_name(hostdev_usb_device *dev);

/*
 * String descriptors as the kernel caches them (sysfs manufacturer, product, serial): raw bytes,
 * not necessarily UTF-8 nor printable; NULL when the device has none.
 */
const char *hostdev_usb_device_get_manufacturer(hostdev_usb_device *dev);
const char *hostdev_usb_device_get_product(hostdev_usb_device *dev);
const char *hostdev_usb_device_get_serial(hostdev_usb_device *dev);

/** Speed in Mbit/s as the kernel writes it ("1.5", "12", "480", "5000", "10000", "20000"); NULL
 * when unknown. */
const char *hostdev_usb_device_get_speed(hostdev_usb_device *dev);
/** Bus number (decimal, >= 1). */
unsigned int hostdev_usb_device_get_busnum(hostdev_usb_device *dev);
/** Device address on its bus; changes on every re-plug. */
unsigned int hostdev_usb_device_get_devnum(hostdev_usb_device *dev);
/** Device node "<dev>/bus/usb/BBB/DDD" under the context's HOSTDEV_PATH_DEV. */
const char *hostdev_usb_device_get_devnode(hostdev_usb_device *dev);
/** PCI address of the host controller ("0000:00:14.0"); NULL for a non-PCI controller. */
const char *hostdev_usb_device_get_controller_address(hostdev_usb_device *dev);
/** Driver bound to the device itself (normally "usb"), NULL when none. */
const char *hostdev_usb_device_get_driver(hostdev_usb_device *dev);
/** 1 for hubs (bDeviceClass 9, root hubs included), else 0. */
int hostdev_usb_device_is_hub(hostdev_usb_device *dev);
/** 1 for the root hub of a bus ("usbN"), else 0. */
int hostdev_usb_device_is_root_hub(hostdev_usb_device *dev);

/* Interfaces of the active configuration, sorted by interface number. */
size_t hostdev_usb_device_get_interface_count(hostdev_usb_device *dev);
/** Kernel name of interface @index ("1-1.4:1.0"), NULL when out of range. */
const char *hostdev_usb_device_get_interface_name(hostdev_usb_device *dev, size_t index);
/** bInterfaceNumber, -1 when out of range. */
int hostdev_usb_device_get_interface_number(hostdev_usb_device *dev, size_t index);
/** bInterfaceClass, -1 when out of range. */
int hostdev_usb_device_get_interface_class(hostdev_usb_device *dev, size_t index);
/** bInterfaceSubClass, -1 when out of range. */
int hostdev_usb_device_get_interface_subclass(hostdev_usb_device *dev, size_t index);
/** bInterfaceProtocol, -1 when out of range. */
int hostdev_usb_device_get_interface_protocol(hostdev_usb_device *dev, size_t index);
/** Driver bound to interface @index ("usbhid"), NULL when none or out of range. */
const char *hostdev_usb_device_get_interface_driver(hostdev_usb_device *dev, size_t index);

/*
 * Names for Harvester and Kubernetes (docs/usb.md). Device ids are at most 63 characters of
 * [A-Za-z0-9._-], starting and ending with an alphanumeric; too long or unusual inputs are
 * shortened deterministically with a hash (hostdev_naming_device_id()). NULL only where noted or on
 * allocation failure.
 */
/** Harvester USBDevice object name "<node>-<vvvv>-<pppp>-<BBBDDD>": changes on re-plug. */
const char *hostdev_usb_device_get_object_name(hostdev_usb_device *dev);
/** Harvester resource "kubevirt.io/<object name>". */
const char *hostdev_usb_device_get_resource_name(hostdev_usb_device *dev);
/** Identity of the physical port: "<node>-<controller>-usb<generation>-<port chain>", as a device
 * id. The same for any device plugged into that port. */
const char *hostdev_usb_device_get_port_id(hostdev_usb_device *dev);
/** "kubevirt.io/" + the port id. */
const char *hostdev_usb_device_get_port_resource_name(hostdev_usb_device *dev);
/** Identity of the device by its serial number: "usb-<vvvv>-<pppp>-<serial>", as a device id.
 * NULL when the device reports no (or an empty) serial. */
const char *hostdev_usb_device_get_serial_id(hostdev_usb_device *dev);
/** "kubevirt.io/" + the serial id; NULL when there is no serial id. */
const char *hostdev_usb_device_get_serial_resource_name(hostdev_usb_device *dev);

/**
 * Serialise every field of the device in the stable schema of docs/json-schema.md ("USB device
 * object"). Byte strings that are not valid UTF-8 get U+FFFD for each bad byte. @flags: 0 or
 * HOSTDEV_JSON_PRETTY (hostdev/pci.h). *@out is released with hostdev_free(). Returns 0, -EINVAL,
 * -ENOMEM.
 */
int hostdev_usb_device_to_json(hostdev_usb_device *dev, unsigned int flags, char **out);

/** Opaque enumerator. */
typedef struct hostdev_usb_enum hostdev_usb_enum;

/** Flags for hostdev_usb_enum_new(). */
enum hostdev_usb_enum_flags {
	HOSTDEV_USB_ENUM_HUBS = 1u << 0, /**< also list hubs and root hubs (left out by default) */
};

/** Create an enumerator over the USB devices of the context. Returns 0, -EINVAL (NULL argument or
 * unknown flag), -ENOMEM. */
int hostdev_usb_enum_new(hostdev_ctx *ctx, unsigned int flags, hostdev_usb_enum **out);
hostdev_usb_enum *hostdev_usb_enum_ref(hostdev_usb_enum *e);
/** NULL-safe; always returns NULL. */
hostdev_usb_enum *hostdev_usb_enum_unref(hostdev_usb_enum *e);

/*
 * Filters. Filters of different kinds must all match; several filters of the same kind match when
 * any of them does. Adding a filter after the first hostdev_usb_enum_next() returns -EBUSY; a
 * malformed one returns -EINVAL with the context error naming the bad part.
 */
/** lsusb -d syntax "[vendor]:[product]", hex, empty or "*" for any. */
int hostdev_usb_enum_add_id_filter(hostdev_usb_enum *e, const char *spec);
/** Exact serial string. */
int hostdev_usb_enum_add_serial_filter(hostdev_usb_enum *e, const char *serial);
/** Port path "2-1.4": the device at that port (and, with a trailing ".*" "2-1.*", every device
 * below port 2-1). */
int hostdev_usb_enum_add_port_filter(hostdev_usb_enum *e, const char *port_path);

/**
 * Next matching device, ordered by bus number then port path. Returns 1 and a new reference in
 * *@out, 0 at the end, or a negative errno. Devices that vanish during the scan are skipped
 * silently; devices with unreadable attributes are logged and skipped.
 */
int hostdev_usb_enum_next(hostdev_usb_enum *e, hostdev_usb_device **out);

#ifdef __cplusplus
}
#endif

#endif /* HOSTDEV_USB_H */
