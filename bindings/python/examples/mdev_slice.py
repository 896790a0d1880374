#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""List mediated device types, or create one mdev, show how a VM would use it, and remove it.

    mdev_slice.py [--root DIR]                              # the types of every parent
    mdev_slice.py [--root DIR] [--keep] [--uuid U] PARENT TYPE

On a real host creating an mdev needs root and a vGPU (or mtty) driver: try it on a fake root
under the kernel model first (docs/bindings.md).
"""
import argparse
import sys

import hostdev


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", help="fake root instead of the real system")
    p.add_argument("--uuid", help="UUID of the new mdev (default: a generated one)")
    p.add_argument("--keep", action="store_true", help="do not remove the mdev")
    p.add_argument("parent", nargs="?")
    p.add_argument("type", nargs="?")
    args = p.parse_args()
    if (args.parent is None) != (args.type is None):
        p.error("give PARENT and TYPE, or neither")
    with hostdev.Context(args.root) as ctx:
        try:
            if args.parent is None:
                for t in ctx.mdev_types():
                    print("%s %s available=%d selector=%s" % (t.parent, t.id, t.available,
                                                              t.selector))
                return 0
            uuid = ctx.create_mdev(args.parent, args.type, args.uuid)
            m = next(m for m in ctx.mdevs() if m.uuid == uuid)
            print("created %s on %s (%s, KubeVirt selector %s), driver %s, IOMMU group %s "
                  "(/dev/vfio/%s)" % (m.uuid, m.parent, m.type, m.selector, m.driver,
                                      m.iommu_group, m.iommu_group))
            if not args.keep:
                ctx.remove_mdev(uuid)
                print("removed %s" % uuid)
        except hostdev.Error as e:
            print("mdev_slice: %s (errno %d)" % (e.message, e.errno), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
