# SPDX-License-Identifier: Apache-2.0
"""The examples in bindings/python/examples keep working."""

import os
import subprocess
import sys

from conftest import need_env


def run_example(name, *args, expect=0):
    path = os.path.join(need_env("HOSTDEV_TEST_PYTHON_EXAMPLES"), name)
    p = subprocess.run([sys.executable, path, *args], capture_output=True, text=True)
    assert p.returncode == expect, (p.returncode, p.stdout, p.stderr)
    return p


def test_list_devices(cli_root):
    out = run_example("list_devices.py", "--root", cli_root, "--pci-ids",
                      need_env("HOSTDEV_TEST_PCI_IDS"), "--class", "0200").stdout.splitlines()
    assert len(out) == 4
    assert out[0].startswith("0000:3b:00.0 [8086:1572] class=020000 driver=i40e iommu_group=12 "
                             "numa=0 resource=intel.com/")
    err = run_example("list_devices.py", "--root", cli_root, "-s", "zz:", expect=1).stderr
    assert "invalid bus 'zz'" in err and "errno 22" in err


def test_bind_restore(fake_host):
    modules = fake_host.path("lib/modules/none")
    out = run_example("bind_restore.py", "--root", fake_host.root, "--modules", modules,
                      "--owner", "example", "01:00.0").stdout
    assert "0000:01:00.0: on e1000e" in out
    assert "0000:01:00.0: on vfio-pci, IOMMU group 2" in out
    assert "journal: 0000:01:00.0 was on e1000e, owner example" in out
    assert "0000:01:00.0: back on e1000e" in out
    assert fake_host.driver("0000:01:00.0") == "e1000e"
    err = run_example("bind_restore.py", "--root", fake_host.root, "--modules", modules,
                      "02:00.0", expect=1).stderr
    assert "--group" in err
    out = run_example("bind_restore.py", "--root", fake_host.root, "--modules", modules,
                      "--group", "02:00.0").stdout
    assert "back on nouveau" in out
