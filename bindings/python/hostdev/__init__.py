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

A thin layer over the SWIG-generated module hostdev.capi (the C API as is; not meant for direct
use). Every failure raises hostdev.Error (an OSError) carrying .errno and the library's message.
See docs/bindings.md.
"""

from . import capi as _c
from . import naming
from ._context import PATHS, Context
from ._deviceplugin import (DEFAULT_GRACE_MS, DEFAULT_REFRESH_MS, AdvertisedDevice, Allocation,
                            DevicePluginConfig, DevicePluginLoop, DevicePluginManager,
                            Resource, Resources, ServedResource, Server)
from ._dra import CdiSpec, DeviceMetadata, DraClaim, DraDevice, DraPlugin
from ._errors import (AlreadyExists, Busy, Corrupt, Error, InvalidArgument, NoSpace, NotFound,
                      NotSupported, OutOfRange, PermissionDenied, TimedOut, error_for)
from ._mdev import MDEV_DEFAULT_TIMEOUT_MS, Mdev, MdevTypeInfo
from ._monitor import Event, Monitor
from ._pci import (ActiveMdev, BridgeBuses, MdevType, PciAddress, PciDevice, PciDevices,
                   VirtualFunction, parse_address)
from ._sriov import SRIOV_DEFAULT_TIMEOUT_MS, SriovPf, SriovVf
from ._usb import UsbDevice, UsbDevices, UsbInterface
from ._vfio import (BindOutcome, Check, DeviceVerdict, Journal, JournalRecord, PersistEntry,
                    Report, RestoreOutcome)
from ._vgpu import VGPU_DEFAULT_TIMEOUT_MS, Vgpu, VgpuType

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

# The C module stays reachable as hostdev.capi; the alias is not part of the package's surface
# (help(hostdev) listed it as a submodule).
del _c

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
