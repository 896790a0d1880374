# SPDX-License-Identifier: Apache-2.0
"""Build the hostdev Python package: `pip install bindings/python` (offline, Debian's setuptools).

libhostdev is found with pkg-config (set PKG_CONFIG_PATH for an installation outside the default
paths, or to <build>/bindings/pkgconfig for a build tree); SWIG generates the wrapper at build time
from the interface hostdev.i, which the Go binding shares and which therefore lives one directory
up, in bindings/. This directory alone is not a complete source tree: build it inside the libhostdev
sources, or make an sdist there (`python3 setup.py sdist` in bindings/python), which carries a copy
of the interface in swig/ and builds anywhere libhostdev and SWIG are installed. There is
deliberately no pyproject.toml: with one, pip would build in an isolated environment and download
setuptools, which does not work offline.
"""

import os
import shutil
import subprocess
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
# The interface and the Python parts it %includes, as laid out in bindings/ of the sources.
INTERFACE_FILES = ["hostdev.i", "python/hostdev_python.i", "python/hostdev_python_dp.i",
                   "python/hostdev_python_dra.i"]
SOURCE_TREE_DIR = os.path.normpath(os.path.join(HERE, ".."))  # bindings/ in the sources
SDIST_DIR = os.path.join(HERE, "swig")  # the copy an sdist carries


def interface_dir():
    """The directory holding INTERFACE_FILES: the source tree's bindings/, or an sdist's swig/."""
    for d in (SOURCE_TREE_DIR, SDIST_DIR):
        if all(os.path.exists(os.path.join(d, f)) for f in INTERFACE_FILES):
            return d
    raise SystemExit(
        "hostdev: the SWIG interface hostdev.i is neither in %s (the libhostdev sources' bindings/) "
        "nor in %s (an sdist's copy). bindings/python is not a source tree on its own: the "
        "interface is shared with the Go binding. Build from the libhostdev sources, copy "
        "bindings/ whole, or make an sdist there (cd bindings/python && python3 setup.py sdist) "
        "and build that." % (SOURCE_TREE_DIR, SDIST_DIR))


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
        interface = os.path.join(interface_dir(), "hostdev.i")
        if self.inplace:
            pkg_dir = os.path.join(HERE, "_hostdev")
        else:
            pkg_dir = os.path.join(self.build_lib, "_hostdev")
        os.makedirs(pkg_dir, exist_ok=True)
        os.makedirs(self.build_temp, exist_ok=True)
        wrapper = os.path.join(self.build_temp, "capi_python_wrap.c")
        # SWIG searches only its -I directories, never the compiler's /usr/include, and pkg-config
        # prints no -I for headers there: add the library's includedir itself.
        includes = ["-I" + d for d in ext.include_dirs + pkgconfig("--variable=includedir")]
        subprocess.run([swig, "-python", "-threads", *includes, "-outdir", pkg_dir, "-o", wrapper,
                        interface], check=True)
        ext.sources = [wrapper]
        super().build_extension(ext)


class SDist(sdist):
    """An sdist that builds without the rest of the sources: it carries the interface in swig/."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        source = interface_dir()
        for name in INTERFACE_FILES:
            dest = os.path.join(base_dir, "swig", name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.join(source, name), dest)


interface_dir()  # fail early and clearly, before pkg-config, when the interface is missing
cflags = pkgconfig("--cflags")
libs = pkgconfig("--libs")
include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
library_dirs = [f[2:] for f in libs if f.startswith("-L")]
capi = Extension(
    "_hostdev._capi",
    sources=[],  # the wrapper SWIG generates in BuildExt
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
    # hostdev is the public package; its implementation and the SWIG module are in _hostdev, so
    # that pydoc of hostdev lists its API and not them.
    packages=["hostdev", "_hostdev"],
    # The type hints are for type checkers to use (PEP 561).
    package_data={"hostdev": ["py.typed"], "_hostdev": ["py.typed"]},
    ext_modules=[capi],
    cmdclass={"build_ext": BuildExt, "sdist": SDist},
    python_requires=">=3.7",
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3",
        "Topic :: System :: Hardware",
    ],
)
