# SPDX-License-Identifier: Apache-2.0
"""The hostdev-agent image's recipe, checked without building it (cheap: the default suite): the
Containerfile's stages, the package lists against what the built binaries link and what CMake looks
for, the scripts' syntax, the image name the kustomization deploys. Building the image and running
it is tests/agent/deploy/image_check.py (HOSTDEV_AGENT_IMAGE=1)."""
import os
import re
import shutil
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEPLOY = os.path.join(REPO, "examples", "agent", "deploy")
BUILD = os.environ.get("HOSTDEV_BUILD_DIR", os.path.join(REPO, "build"))
AGENT = os.environ.get("HOSTDEV_AGENT", os.path.join(BUILD, "examples", "agent", "hostdev-agent"))
CLI = os.environ.get("HOSTDEV_CLI", os.path.join(BUILD, "examples", "cli", "hostdev"))
LIB = os.environ.get("HOSTDEV_LIB", os.path.join(BUILD, "src", "libhostdev.so.1"))
# Packages a runtime stage needs that no NEEDED entry names, and why.
DATA_PACKAGES = {"pci.ids": "PCI descriptions", "usb.ids": "USB descriptions",
                 "ca-certificates": "CAs of a kubeconfig's public server"}
# Libraries libhostdev loads with dlopen on first use (no NEEDED entry), and why.
DLOPENED = {"libkmod.so.2": "kernel modules (src/pci/pci_kmod.c)"}


def package_list(name):
    with open(os.path.join(DEPLOY, name), encoding="utf-8") as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


def containerfile():
    with open(os.path.join(DEPLOY, "Containerfile"), encoding="utf-8") as f:
        text = f.read()
    # Continuation lines joined: one instruction per entry.
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def stages():
    out, cur = [], None
    for ins in containerfile():
        if ins.startswith("FROM "):
            cur = {"from": ins, "ins": []}
            out.append(cur)
        elif cur is not None:
            cur["ins"].append(ins)
    return out


def test_two_stages_and_the_runtime_stage_takes_only_the_programs():
    build, runtime = stages()
    assert build["from"] == "FROM ${BASE} AS build"
    assert runtime["from"] == "FROM ${BASE}"
    copies = [i for i in runtime["ins"] if i.startswith("COPY")]
    assert copies == ["COPY examples/agent/deploy/runtime-packages.txt /tmp/runtime-packages.txt",
                      "COPY --from=build /runtime/ /"], copies
    # What /runtime holds: the two programs and the library, nothing else.
    run = " ".join(i for i in build["ins"] if i.startswith("RUN"))
    assert "cp -a /stage/usr/lib/libhostdev.so.* /runtime/usr/lib/" in run
    assert "cp /stage/usr/bin/hostdev /stage/usr/bin/hostdev-agent /runtime/usr/bin/" in run
    assert len(re.findall(r"/runtime/", run)) == 7, run  # mkdir x2, the two copies, strip x3
    assert 'ENTRYPOINT ["/usr/bin/hostdev-agent"]' in runtime["ins"]
    # Each stage installs its list, and only that.
    for stage, name in ((build, "build-packages.txt"), (runtime, "runtime-packages.txt")):
        installs = [i for i in stage["ins"] if "apt-get install" in i]
        assert len(installs) == 1 and f"sed 's/#.*//' /tmp/{name} | xargs apt-get install -y " \
            "--no-install-recommends" in installs[0], installs
    assert "rm -rf /var/lib/apt/lists/*" in " ".join(runtime["ins"])


def needed(elf):
    out = subprocess.run(["readelf", "-d", elf], check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)


def owner(path):
    out = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
    if out.returncode != 0:
        # usrmerge: dpkg knows /lib/... for files now reached through /usr/lib/...
        alt = re.sub(r"^/usr/lib/", "/lib/", os.path.realpath(path))
        out = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
    assert out.returncode == 0, f"no package owns {path}: {out.stderr}"
    return out.stdout.split(":")[0]


def dlopened_path(soname):
    out = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"^\s*%s \(.*\) => (\S+)$" % re.escape(soname), out, re.M)
    assert m, f"{soname} (loaded with dlopen) is not installed: ldconfig -p does not list it"
    return m.group(1)


def test_runtime_packages_are_exactly_the_libraries_the_programs_need():
    for f in (AGENT, CLI, LIB):
        assert os.path.exists(f), f"{f}: build first"
    libs = {}
    for elf in (AGENT, CLI, LIB):
        ldd = subprocess.run(["ldd", elf], check=True, capture_output=True, text=True,
                             env=dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(LIB))).stdout
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
        for soname in needed(elf):
            # Our own library; the sanitizer runtimes of an ASan build are no part of the product.
            if soname.startswith(("libhostdev.so", "libasan.so", "libubsan.so")):
                continue
            assert soname in paths or soname.startswith("ld-linux"), (elf, soname, ldd)
            if soname in paths:
                libs[soname] = owner(paths[soname])
    for soname in DLOPENED:
        libs[soname] = owner(dlopened_path(soname))
    wanted = package_list("runtime-packages.txt")
    base = {"libc6"}  # in every Debian root (Priority: required)
    missing = {so: pkg for so, pkg in libs.items() if pkg not in wanted and pkg not in base}
    assert not missing, f"runtime-packages.txt lacks what these libraries come from: {missing}"
    unneeded = set(wanted) - set(libs.values()) - set(DATA_PACKAGES)
    assert not unneeded, f"runtime-packages.txt lists packages nothing needs: {unneeded}"
    assert set(DATA_PACKAGES) <= set(wanted)


def test_build_packages_provide_every_module_cmake_looks_for():
    modules = set()
    for cm in ("CMakeLists.txt", "examples/agent/CMakeLists.txt"):
        with open(os.path.join(REPO, cm), encoding="utf-8") as f:
            for m in re.finditer(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([\w.+-]+)\)", f.read()):
                modules.add(m.group(1))
    assert {"libpci", "libcurl", "libmicrohttpd", "yaml-0.1"} <= modules, modules
    wanted = set(package_list("build-packages.txt"))
    for mod in sorted(modules):
        pc = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], check=True, capture_output=True,
                            text=True).stdout.strip()
        pkg = owner(os.path.join(pc, mod + ".pc"))
        assert pkg in wanted, f"build-packages.txt lacks {pkg} (pkg-config module {mod})"
    assert {"build-essential", "cmake", "pkg-config", "protobuf-c-compiler"} <= wanted


def test_scripts_parse_and_the_kustomization_deploys_the_image_the_script_builds():
    for script in ("build-image.sh", "bookworm-base.sh"):
        path = os.path.join(DEPLOY, script)
        assert os.access(path, os.X_OK), f"{script} is not executable"
        subprocess.run(["sh", "-n", path], check=True)
        if shutil.which("shellcheck"):
            subprocess.run(["shellcheck", path], check=True)
    with open(os.path.join(REPO, "CMakeLists.txt"), encoding="utf-8") as f:
        version = re.search(r"project\(libhostdev VERSION ([0-9.]+)", f.read()).group(1)
    with open(os.path.join(DEPLOY, "kustomization.yaml"), encoding="utf-8") as f:
        images = yaml.safe_load(f)["images"]
    assert images == [{"name": "hostdev-agent", "newName": "localhost/hostdev-agent", "newTag": version}]
    with open(os.path.join(DEPLOY, "build-image.sh"), encoding="utf-8") as f:
        assert "image=${HOSTDEV_IMAGE:-localhost/hostdev-agent:$version}" in f.read()


@pytest.mark.parametrize("name", ["runtime-packages.txt", "build-packages.txt"])
def test_package_lists_name_debian_packages(name):
    pkgs = package_list(name)
    assert pkgs and len(pkgs) == len(set(pkgs))
    for p in pkgs:
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", p), p
