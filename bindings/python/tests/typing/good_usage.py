# SPDX-License-Identifier: Apache-2.0
"""A program using the public API correctly: mypy finds nothing (test_typing.py)."""
from typing import List, Optional

import hostdev


def nics(ctx: hostdev.Context) -> List[str]:
    out = []
    for dev in ctx.pci_devices(class_="0200", driver=["i40e", "ice"]):
        group: Optional[int] = dev.iommu_group
        out.append("%s %s %s" % (dev.address, dev.driver or "-", group))
    return out


def bind_one(ctx: hostdev.Context, address: str) -> int:
    n: int = ctx.bind(address, owner="vm-a", timeout=2.5)
    outcomes = ctx.bind_report(address, dry_run=True)
    return n + len(outcomes)


def serve(ctx: hostdev.Context) -> None:
    def prepare(claim: hostdev.DraClaim) -> List[hostdev.DraDevice]:
        return [hostdev.DraDevice("pool", "dev-" + claim.uid, ["req"], [])]

    with hostdev.DevicePluginLoop(ctx) as loop:
        plugin: hostdev.DraPlugin = loop.serve_dra("vfio.hostdev.io", prepare=prepare)
        state: str = plugin.state
        print(state)


def main() -> None:
    with hostdev.Context(root="/nonexistent") as ctx:
        print(nics(ctx), bind_one(ctx, "0000:3b:00.0"))
        serve(ctx)
        spec = hostdev.CdiSpec(ctx, "vfio.hostdev.io/pci").add_vfio_device("a", 12)
        cdi_id: str = spec.device_id("a")
        print(cdi_id)
