#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""List PCI devices like `hostdev list`, with optional lspci-style filters.

    list_devices.py [--root DIR] [-s SLOT] [-d VENDOR:DEVICE] [--class 0200] [--driver NAME]
"""
import argparse
import sys

import hostdev


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", help="fake root instead of the real /sys")
    p.add_argument("--pci-ids", help="pci.ids file")
    p.add_argument("-s", dest="slot", action="append")
    p.add_argument("-d", dest="ids", action="append")
    p.add_argument("--class", dest="class_", action="append")
    p.add_argument("--driver", action="append")
    args = p.parse_args()
    paths = {"pci_ids": args.pci_ids} if args.pci_ids else {}
    try:
        with hostdev.Context(args.root, **paths) as ctx:
            for dev in ctx.pci_devices(slot=args.slot, ids=args.ids, class_=args.class_,
                                       driver=args.driver):
                print("%s [%04x:%04x] class=%06x driver=%s iommu_group=%s numa=%s resource=%s" % (
                    dev.address, dev.vendor_id, dev.device_id, dev.class_code, dev.driver or "-",
                    "none" if dev.iommu_group is None else dev.iommu_group,
                    "none" if dev.numa_node is None else dev.numa_node, dev.resource_name))
    except hostdev.Error as e:
        print("list_devices: %s (errno %d)" % (e.message, e.errno), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
