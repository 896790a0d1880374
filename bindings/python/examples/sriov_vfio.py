#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Create SR-IOV VFs for virtual machines: N VFs left driverless, then handed to vfio-pci.

    sriov_vfio.py [--root DIR] [--modules DIR] [--owner TEXT] PF N
    sriov_vfio.py [--root DIR] [--modules DIR] [--owner TEXT] --release PF

--release gives the owner's VFs back and sets the VF count to 0. On a real host this needs root
and changes real hardware: try it on a fake root under the kernel model first (docs/bindings.md).
"""
import argparse
import sys

import hostdev


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", help="fake root instead of the real system")
    p.add_argument("--modules", help="kernel module directory")
    p.add_argument("--owner", default="sriov_vfio.py")
    p.add_argument("--release", action="store_true", help="restore the VFs and remove them")
    p.add_argument("pf")
    p.add_argument("num_vfs", type=int, nargs="?")
    args = p.parse_args()
    if (args.num_vfs is None) != args.release:
        p.error("give N, or --release without N")
    paths = {"modules": args.modules} if args.modules else {}
    with hostdev.Context(args.root, **paths) as ctx:
        try:
            if args.release:
                restored = ctx.restore_all(owner=args.owner)
                ctx.set_num_vfs(args.pf, 0)
                print("%s: %d VFs given back, 0 VFs enabled" % (args.pf, restored))
                return 0
            # autoprobe=False: the VFs get no host driver, so nothing needs unbinding.
            enabled = ctx.set_num_vfs(args.pf, args.num_vfs, autoprobe=False)
            pf = ctx.sriov_pf(args.pf)
            print("%s: %d of %d VFs enabled (driver %s), autoprobe %s" % (
                pf.address, enabled, pf.total_vfs, pf.driver, "on" if pf.autoprobe else "off"))
            if pf.vfs:
                ctx.bind(*[vf.address for vf in pf.vfs], owner=args.owner)
            for vf in ctx.sriov_pf(pf).vfs:
                print("VF %d %s on %s, IOMMU group %s (/dev/vfio/%s)" % (
                    vf.index, vf.address, vf.driver, vf.iommu_group, vf.iommu_group))
        except hostdev.Error as e:
            print("sriov_vfio: %s (errno %d)" % (e.message, e.errno), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
