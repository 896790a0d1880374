# SPDX-License-Identifier: Apache-2.0
"""USB devices and their enumeration (include/hostdev/usb.h)."""

import collections

from . import capi as _c
from ._base import _Enumerator, _Snapshot, _as_list, _getter, _list

UsbInterface = collections.namedtuple("UsbInterface",
                                      "name number class_code subclass protocol driver")
UsbInterface.__doc__ = "An interface of the active configuration ('1-1.4:1.0', 0, 3, 1, 1, 'usbhid')."


class UsbDevice(_Snapshot):
    """A snapshot of one USB device (hostdev_usb_device), root hubs included.

    String descriptors (manufacturer, product, serial) are raw bytes from the device: bytes that
    are not UTF-8 come through with surrogateescape (``s.encode("utf-8", "surrogateescape")`` gives
    them back).
    """

    __slots__ = ()
    _TO_JSON = staticmethod(_c.hdb_usb_device_to_json)

    def __repr__(self):
        return "<hostdev.UsbDevice %s [%04x:%04x] port=%s>" % (
            self.name, self.vendor_id, self.product_id, self.port_path)

    def __eq__(self, other):
        return isinstance(other, UsbDevice) and (other.name, other.devnum) == (self.name, self.devnum)

    def __hash__(self):
        return hash((self.name, self.devnum))

    name = _getter(_c.hostdev_usb_device_get_name, "kernel name, '1-1.4' or 'usbN' for a root hub")
    port_path = _getter(_c.hostdev_usb_device_get_port_path, "port path '2-1.4' ('N-0' for a root hub)")
    vendor_id = _getter(_c.hostdev_usb_device_get_vendor_id, "idVendor")
    product_id = _getter(_c.hostdev_usb_device_get_product_id, "idProduct")
    bcd_device = _getter(_c.hostdev_usb_device_get_bcd_device, "bcdDevice (0x0100 = 1.00)")
    device_class = _getter(_c.hostdev_usb_device_get_device_class, "bDeviceClass as the descriptor says")
    class_code = _getter(_c.hostdev_usb_device_get_class,
                         "the class describing the device (bDeviceClass or the first interface's)")
    class_name = _getter(_c.hostdev_usb_device_get_class_name, "name of class_code, or None")
    vendor_name = _getter(_c.hostdev_usb_device_get_vendor_name, "usb.ids vendor name or None")
    product_name = _getter(_c.hostdev_usb_device_get_product_name, "usb.ids product name or None")
    manufacturer = _getter(_c.hostdev_usb_device_get_manufacturer, "manufacturer string or None")
    product = _getter(_c.hostdev_usb_device_get_product, "product string or None")
    serial = _getter(_c.hostdev_usb_device_get_serial, "serial string or None")
    speed = _getter(_c.hostdev_usb_device_get_speed, "speed in Mbit/s as text ('480'), or None")
    busnum = _getter(_c.hostdev_usb_device_get_busnum, "bus number")
    devnum = _getter(_c.hostdev_usb_device_get_devnum, "device address (changes on re-plug)")
    devnode = _getter(_c.hostdev_usb_device_get_devnode, "<dev>/bus/usb/BBB/DDD")
    controller_address = _getter(_c.hostdev_usb_device_get_controller_address,
                                 "PCI address of the host controller, or None")
    driver = _getter(_c.hostdev_usb_device_get_driver, "driver of the device itself, or None")
    is_hub = _getter(_c.hostdev_usb_device_is_hub, "a hub (root hubs included)", bool)
    is_root_hub = _getter(_c.hostdev_usb_device_is_root_hub, "the root hub of a bus", bool)
    interfaces = _getter(
        _list(_c.hostdev_usb_device_get_interface_count,
              lambda d, i: UsbInterface(_c.hostdev_usb_device_get_interface_name(d, i),
                                        _c.hostdev_usb_device_get_interface_number(d, i),
                                        _c.hostdev_usb_device_get_interface_class(d, i),
                                        _c.hostdev_usb_device_get_interface_subclass(d, i),
                                        _c.hostdev_usb_device_get_interface_protocol(d, i),
                                        _c.hostdev_usb_device_get_interface_driver(d, i))),
        "interfaces of the active configuration (tuple of UsbInterface)")
    object_name = _getter(_c.hostdev_usb_device_get_object_name, "Harvester USBDevice object name")
    resource_name = _getter(_c.hostdev_usb_device_get_resource_name, "kubevirt.io/<object name>")
    port_id = _getter(_c.hostdev_usb_device_get_port_id, "identity of the physical port")
    port_resource_name = _getter(_c.hostdev_usb_device_get_port_resource_name, "kubevirt.io/<port id>")
    serial_id = _getter(_c.hostdev_usb_device_get_serial_id, "identity by serial number, or None")
    serial_resource_name = _getter(_c.hostdev_usb_device_get_serial_resource_name,
                                   "kubevirt.io/<serial id>, or None")



class UsbDevices(_Enumerator):
    """The matching USB devices, by bus then port path (hostdev_usb_enum), iterable more than
    once (each pass reads the host again)."""

    _NEXT = staticmethod(_c.hdb_usb_enum_next)
    _ITEM = UsbDevice

    def __init__(self, ctx, ids=None, serial=None, port=None, hubs=False):
        self._ctx = ctx
        self._args = dict(ids=ids, serial=serial, port=port, hubs=hubs)
        with ctx._lock:
            e, err = _c.hdb_usb_enum_new(ctx._raw(), _c.HOSTDEV_USB_ENUM_HUBS if hubs else 0)
            ctx._check(err)
            for fn, specs in ((_c.hostdev_usb_enum_add_id_filter, ids),
                              (_c.hostdev_usb_enum_add_serial_filter, serial),
                              (_c.hostdev_usb_enum_add_port_filter, port)):
                for spec in _as_list(specs):
                    ctx._check(fn(e, spec))
        self._enum = e

