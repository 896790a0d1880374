# SPDX-License-Identifier: Apache-2.0
"""Mistakes the type hints catch: test_typing.py expects mypy to report each marked line."""
import hostdev


def main() -> None:
    with hostdev.Context() as ctx:
        count: str = ctx.bind("0000:3b:00.0")  # error: bind returns int
        ctx.pci_device(3)  # error: an address is a str
        ctx.set_num_vfs("0000:3b:00.0", "four")  # error: a count is an int
        for dev in ctx.pci_devices():
            dev.iommu_group + 1  # error: the group may be None
        hostdev.CdiSpec(ctx, "vfio.hostdev.io/pci").write(42, "a.json")  # error: a path
        print(count)
