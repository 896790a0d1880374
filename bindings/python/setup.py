# SPDX-License-Identifier: Apache-2.0
"""Build the hostdev Python package: `pip install bindings/python` (offline, Debian's setuptools).

libhostdev is found with pkg-config (set PKG_CONFIG_PATH for an installation outside the default
paths, or to <build>/bindings/pkgconfig for a build tree); SWIG generates the wrapper from
../hostdev.i at build time. There is deliberately no pyproject.toml: with one, pip would build in
an isolated environment and download setuptools, which does not work offline.
"""

import os
import shutil
import subprocess
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
INTERFACE = os.path.normpath(os.path.join(HERE, "..", "hostdev.i"))


def pkgconfig(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "libhostdev"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit("hostdev: pkg-config cannot find libhostdev (%s); install libhostdev or "
                         "set PKG_CONFIG_PATH" % getattr(e, "stderr", e))
    return out.split()


def system_libdirs():
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = {"/lib", "/lib64", "/usr/lib", "/usr/lib64"}
    if multiarch:
        dirs |= {"/lib/" + multiarch, "/usr/lib/" + multiarch}
    return dirs


class BuildExt(build_ext):
    """Run SWIG into the build directories, then compile its wrapper."""

    def build_extension(self, ext):
        swig = shutil.which("swig") or shutil.which("swig4.0")
        if not swig:
            raise SystemExit("hostdev: swig is not installed (Debian: apt-get install swig)")
        if not os.path.exists(INTERFACE):
            raise SystemExit("hostdev: %s not found: build from the libhostdev source tree "
                             "(bindings/python next to bindings/hostdev.i)" % INTERFACE)
        if self.inplace:
            pkg_dir = os.path.join(HERE, "hostdev")
        else:
            pkg_dir = os.path.join(self.build_lib, "hostdev")
        os.makedirs(pkg_dir, exist_ok=True)
        os.makedirs(self.build_temp, exist_ok=True)
        wrapper = os.path.join(self.build_temp, "capi_python_wrap.c")
        includes = ["-I" + d for d in ext.include_dirs]
        subprocess.run([swig, "-python", "-threads", *includes, "-outdir", pkg_dir, "-o", wrapper,
                        INTERFACE], check=True)
        ext.sources = [wrapper]
        super().build_extension(ext)


cflags = pkgconfig("--cflags")
libs = pkgconfig("--libs")
include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
library_dirs = [f[2:] for f in libs if f.startswith("-L")]
capi = Extension(
    "hostdev._capi",
    sources=["hostdev.i"],  # replaced by the generated wrapper in BuildExt
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    libraries=[f[2:] for f in libs if f.startswith("-l")],
    # A libhostdev outside the linker's default paths is found again at run time.
    runtime_library_dirs=[d for d in library_dirs if d not in system_libdirs()],
    extra_compile_args=[f for f in cflags if not f.startswith("-I")],
    extra_link_args=[f for f in libs if not f.startswith(("-L", "-l"))],
)

setup(
    name="hostdev",
    version=pkgconfig("--modversion")[0],
    description="libhostdev bindings: host PCI devices, vfio binding with restore, resource names",
    license="Apache-2.0",
    url="https://github.com/libhostdev/libhostdev",
    packages=["hostdev"],
    ext_modules=[capi],
    cmdclass={"build_ext": BuildExt},
    python_requires=">=3.7",
)
