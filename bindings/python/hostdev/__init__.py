# SPDX-License-Identifier: Apache-2.0
"""libhostdev for Python: host PCI and USB devices, hot-plug events, vfio binding with crash-safe restore, SR-IOV VFs, mediated devices, resource names, kubelet device plugins and DRA plugins.

    import hostdev

    with hostdev.Context() as ctx:                        # or Context(root="/path/to/fake/root")
        for dev in ctx.pci_devices(class_="0200"):        # Ethernet controllers
            print(dev.address, dev.driver, dev.iommu_group, dev.resource_name)
        try:
            ctx.bind("0000:3b:00.0", owner="vm-a")
        except hostdev.Busy as e:                         # IOMMU group shared with host devices
            print(e.errno, e.message)
        ctx.set_num_vfs("0000:3b:00.0", 4, autoprobe=False)   # 4 VFs, left driverless
        uuid = ctx.create_mdev("mtty", "mtty-1")           # a mediated device
        resources = ctx.resolve_resources(hostdev.DevicePluginConfig.load(ctx, "dp.json"))
        with hostdev.DevicePluginLoop(ctx) as loop:        # kubelet device plugins
            loop.serve_all(resources)
            loop.run()                                     # until loop.quit()

A thin layer over libhostdev's C API (through a private SWIG-generated module, not meant for
direct use). Every failure raises hostdev.Error (an OSError) carrying .errno and the library's
message. See docs/bindings.md.
"""

from _hostdev import capi as _c
from _hostdev._context import PATHS, Context
from _hostdev._deviceplugin import (DEFAULT_GRACE_MS, DEFAULT_REFRESH_MS, AdvertisedDevice,
                                    Allocation, DevicePluginConfig, DevicePluginLoop,
                                    DevicePluginManager, Resource, Resources, ServedResource,
                                    Server)
from _hostdev._dra import CdiSpec, DeviceMetadata, DraClaim, DraDevice, DraPlugin
from _hostdev._errors import (AlreadyExists, Busy, Corrupt, Error, InvalidArgument, NoSpace,
                              NotFound, NotSupported, OutOfRange, PermissionDenied, TimedOut,
                              error_for)
from _hostdev._mdev import MDEV_DEFAULT_TIMEOUT_MS, Mdev, MdevTypeInfo
from _hostdev._monitor import Event, Monitor
from _hostdev._pci import (ActiveMdev, BridgeBuses, MdevType, PciAddress, PciDevice, PciDevices,
                           VirtualFunction, parse_address)
from _hostdev._sriov import SRIOV_DEFAULT_TIMEOUT_MS, SriovPf, SriovVf
from _hostdev._usb import UsbDevice, UsbDevices, UsbInterface
from _hostdev._vfio import (BindOutcome, Check, DeviceVerdict, Journal, JournalRecord,
                            PersistEntry, Report, RestoreOutcome)
from _hostdev._vgpu import VGPU_DEFAULT_TIMEOUT_MS, Vgpu, VgpuType

from . import naming

#: The libhostdev version the module was built against and runs with.
version = _c.hostdev_version()
__version__ = version

#: The driver bind() hands devices to.
VFIO_DRIVER = _c.HOSTDEV_VFIO_DRIVER

# syslog priorities of log messages.
LOG_ERR = _c.HOSTDEV_LOG_ERR
LOG_WARNING = _c.HOSTDEV_LOG_WARNING
LOG_NOTICE = _c.HOSTDEV_LOG_NOTICE
LOG_INFO = _c.HOSTDEV_LOG_INFO
LOG_DEBUG = _c.HOSTDEV_LOG_DEBUG

# The C module is _hostdev.capi, private; the alias is not part of the package's surface.
del _c


def _adopt(names):
    """Gives the public classes and functions the module they are used from: pydoc, repr() and
    tracebacks then say hostdev.PciDevice, not the private module that defines it (pickle finds
    them there too). The private base classes of the public ones too, which pydoc names in the
    class lines and in "Methods inherited from"."""
    for name in names:
        obj = globals()[name]
        for o in obj.__mro__ if isinstance(obj, type) else (obj,):
            if callable(o) and getattr(o, "__module__", "").startswith("_hostdev"):
                o.__module__ = __name__


__all__ = [
    "ActiveMdev", "BindOutcome", "BridgeBuses", "RestoreOutcome",
    "AdvertisedDevice", "Allocation", "CdiSpec", "DeviceMetadata", "DraClaim", "DraDevice",
    "DraPlugin", "AlreadyExists", "Busy", "Check", "Context", "Corrupt", "DEFAULT_GRACE_MS",
    "DEFAULT_REFRESH_MS",
    "DevicePluginConfig", "DevicePluginLoop", "DevicePluginManager", "DeviceVerdict", "Error", "Event",
    "InvalidArgument", "Journal", "Monitor", "UsbDevice", "UsbDevices", "UsbInterface",
    "JournalRecord", "LOG_DEBUG", "LOG_ERR", "LOG_INFO", "LOG_NOTICE", "LOG_WARNING",
    "MDEV_DEFAULT_TIMEOUT_MS", "Mdev", "MdevType", "MdevTypeInfo", "NoSpace", "NotFound",
    "NotSupported", "OutOfRange", "PATHS", "PciAddress", "PciDevice", "PciDevices",
    "PermissionDenied", "PersistEntry", "Report", "Resource", "Resources",
    "SRIOV_DEFAULT_TIMEOUT_MS", "ServedResource", "Server", "SriovPf", "SriovVf",
    "TimedOut", "VFIO_DRIVER", "VGPU_DEFAULT_TIMEOUT_MS", "Vgpu", "VgpuType", "VirtualFunction",
    "error_for", "naming", "parse_address", "version",
]
_adopt(__all__)
del _adopt
