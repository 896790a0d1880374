#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The hostdev-agent image, built and used: examples/agent/deploy/build-image.sh builds it offline
(debootstrapped bookworm base, buildah: rootful, vfs storage, chroot isolation), then its runtime
stage is checked from inside a working container (buildah from/run, chroot isolation, the host's
loopback network): only the runtime packages, the two programs and the library; every library
resolves; `hostdev-agent --help`; `hostdev --root <recorded QEMU machine> list`; and
`hostdev-agent --once` publishing that machine's devices to the stand-in API server of
tests/agent/apiserver (a stand-in: a real kube-apiserver cannot run here) on a host loopback port.

Slow (the image build: 10-25 minutes the first time on 2 cores, a few minutes when only the sources
changed), so it runs only when asked: HOSTDEV_AGENT_IMAGE=1 (tests/ci.sh), otherwise it exits 77
(skipped), saying so. Prints one "ok - " / "not ok - " line per check and "N passed, N failed".
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "agent", "e2e"))
DEPLOY = os.path.join(REPO, "examples", "agent", "deploy")
FIXTURE = os.path.join(REPO, "tests", "fixtures", "vm", "q35-iommu")
SKIP = 77


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, desc, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - {desc}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {desc}\n" + "\n".join("  | " + line for line in str(detail).splitlines()[-40:]),
                  flush=True)
        return ok


def main():
    if os.environ.get("HOSTDEV_AGENT_IMAGE") != "1":
        print("image_check: SKIPPED: building the image takes 10-25 minutes; "
              "run with HOSTDEV_AGENT_IMAGE=1 (tests/ci.sh passes it on)")
        return SKIP
    if os.geteuid() != 0:
        print("image_check: SKIPPED: needs root (debootstrap, buildah)")
        return SKIP
    from agent_harness import StandIn  # noqa: E402  (after the skip: pytest-free import)

    cache = os.environ.get("HOSTDEV_IMAGE_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "libhostdev", "agent-image"))
    version = subprocess.run(["sed", "-n", r"s/^project(libhostdev VERSION \([0-9.]*\).*/\1/p",
                              os.path.join(REPO, "CMakeLists.txt")], check=True, capture_output=True,
                             text=True).stdout.strip()
    image = os.environ.get("HOSTDEV_IMAGE", f"localhost/hostdev-agent:{version}")
    bh = ["buildah", "--root", os.path.join(cache, "storage"), "--runroot", os.path.join(cache, "runroot"),
          "--storage-driver", "vfs"]
    c = Checks()

    r = subprocess.run([os.path.join(DEPLOY, "build-image.sh")], env=dict(os.environ, HOSTDEV_IMAGE=image,
                       HOSTDEV_IMAGE_CACHE=cache), capture_output=True, text=True)
    if not c.check(f"build-image.sh builds {image}", r.returncode == 0, r.stdout + r.stderr):
        return 1
    print("\n".join("# " + line for line in r.stdout.splitlines() if line.startswith("build-image:")))
    cfg = json.loads(subprocess.run(bh + ["inspect", "--type", "image", image], check=True,
                                    capture_output=True, text=True).stdout)
    oci = cfg["OCIv1"]["config"]
    c.check("the entrypoint is hostdev-agent", oci.get("Entrypoint") == ["/usr/bin/hostdev-agent"], oci)

    ctr = subprocess.run(bh + ["from", "--pull-never", image], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        def run(*cmd, **kw):
            return subprocess.run(bh + ["run", "--isolation", "chroot", "--", ctr, *cmd],
                                  capture_output=True, text=True, **kw)

        # Only the runtime stage: no compiler, no -dev package, no sources or build tree.
        pkgs = run("dpkg-query", "-W", "-f", "${Package}\n").stdout.split()
        with open(os.path.join(DEPLOY, "runtime-packages.txt"), encoding="utf-8") as f:
            runtime = [p.split("#")[0].strip() for p in f if p.split("#")[0].strip()]
        c.check("every package of runtime-packages.txt is installed", set(runtime) <= set(pkgs),
                set(runtime) - set(pkgs))
        dev = [p for p in pkgs if p.endswith("-dev") or p in ("gcc", "cmake", "make", "binutils")]
        c.check("no build tool or -dev package", not dev, dev)
        r = run("sh", "-c", "ls -d /src /build /runtime 2>/dev/null; ls /usr/bin/hostdev* /usr/lib/libhostdev*")
        files = set(r.stdout.split())
        lib_file = [f for f in files if f.startswith("/usr/lib/libhostdev.so.") and f != "/usr/lib/libhostdev.so.1"]
        c.check("the programs and the library (SONAME link and file), no sources or build tree",
                files == {"/usr/bin/hostdev", "/usr/bin/hostdev-agent", "/usr/lib/libhostdev.so.1", *lib_file}
                and len(lib_file) == 1, r.stdout + r.stderr)
        r = run("sh", "-c", "ldd /usr/bin/hostdev-agent /usr/bin/hostdev /usr/lib/libhostdev.so.1")
        c.check("every library resolves (ldd)", r.returncode == 0 and "not found" not in r.stdout, r.stdout)
        r = run("hostdev-agent", "--help")
        c.check("hostdev-agent --help", r.returncode == 0 and "--node-name" in r.stdout, r.stdout + r.stderr)
        r = run("hostdev-agent", "--version")
        c.check("hostdev-agent --version", r.returncode == 0 and version in r.stdout, r.stdout + r.stderr)

        # The recorded QEMU machine as a device root inside the container.
        subprocess.run(bh + ["copy", ctr, FIXTURE, "/fixture"], check=True, capture_output=True)
        host = subprocess.run([os.environ.get("HOSTDEV_CLI", os.path.join(REPO, "build", "examples", "cli",
                                                                          "hostdev")),
                               "--root", FIXTURE, "--node-name", "node1", "list", "--json"],
                              capture_output=True, text=True)
        r = run("hostdev", "--root", "/fixture", "--node-name", "node1", "list", "--json")
        ok = r.returncode == 0 and host.returncode == 0 and json.loads(r.stdout) == json.loads(host.stdout)
        c.check("hostdev --root <QEMU machine> list --json: as the build tree's hostdev prints it", ok,
                r.stdout[-2000:] + r.stderr)
        r = run("hostdev", "--root", "/fixture", "list")
        c.check("hostdev list names the e1000e from pci.ids", "82574L" in r.stdout, r.stdout + r.stderr)

        with tempfile.TemporaryDirectory() as tmp, StandIn(os.path.join(tmp, "api"),
                                                           crds=[os.path.join(DEPLOY, "crds")]) as api:
            api.create_node("node1")
            api.add_token("image-token", "system:serviceaccount:hostdev-system:hostdev-agent")
            kubeconfig = api.kubeconfig(os.path.join(tmp, "kubeconfig"), token="image-token", embed=True)
            subprocess.run(bh + ["copy", ctr, kubeconfig, "/kubeconfig"], check=True, capture_output=True)
            r = run("hostdev-agent", "--kubeconfig", "/kubeconfig", "--node-name", "node1", "--root", "/fixture",
                    "--once", timeout=600)
            c.check("hostdev-agent --once publishes to the stand-in on the host's loopback", r.returncode == 0,
                    r.stderr)
            pci = api.get(api.devices_path("pcidevices"), params={"labelSelector": "nodename=node1"})["items"]
            usb = api.get(api.devices_path("usbdevices"), params={"labelSelector": "nodename=node1"})["items"]
            descriptions = {o["status"]["address"]: o["status"]["description"] for o in pci}
            c.check("a PCIDevice per function, described from pci.ids",
                    pci and "82574L" in descriptions.get("0000:00:01.0", ""), descriptions)
            c.check("the USB devices (keyboard, tablet, storage)", len(usb) == 3,
                    [o["metadata"]["name"] for o in usb])
    finally:
        subprocess.run(bh + ["rm", ctr], capture_output=True)
    print(f"image: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
