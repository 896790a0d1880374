#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hand a device to vfio-pci for the duration of some work, then give it back.

    bind_restore.py [--root DIR] [--group] [--owner TEXT] ADDRESS

On a real host this needs root, an IOMMU and vfio-pci, and it rebinds real hardware: try it on a
fake root under the kernel model first (docs/bindings.md). The journal makes the restore survive a
crash of this script: `hostdev restore --all` finishes the job.
"""
import argparse
import sys

import hostdev


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", help="fake root instead of the real system")
    p.add_argument("--modules", help="kernel module directory")
    p.add_argument("--group", action="store_true", help="bind the whole IOMMU group")
    p.add_argument("--owner", default="bind_restore.py")
    p.add_argument("address")
    args = p.parse_args()
    paths = {"modules": args.modules} if args.modules else {}
    with hostdev.Context(args.root, **paths) as ctx:
        try:
            dev = ctx.pci_device(args.address)
            print("%s: on %s" % (dev.address, dev.driver or "no driver"))
            with ctx.bound(dev, group=args.group, owner=args.owner):
                print("%s: on %s, IOMMU group %s (/dev/vfio/%s)" % (
                    dev.address, ctx.pci_device(dev.address).driver, dev.iommu_group,
                    dev.iommu_group))
                for rec in ctx.journal():
                    print("journal: %s was on %s, owner %s" % (rec.address, rec.driver, rec.owner))
            print("%s: back on %s" % (dev.address, ctx.pci_device(dev.address).driver))
        except hostdev.Busy as e:
            print("bind_restore: %s\n(pass --group to bind the whole group)" % e.message,
                  file=sys.stderr)
            return 1
        except hostdev.Error as e:
            print("bind_restore: %s (errno %d)" % (e.message, e.errno), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
