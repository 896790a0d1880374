# SPDX-License-Identifier: Apache-2.0
# Install-layout decisions shared by the library, the CLI, the Python binding and libhostdev.pc
# (docs/packaging.md):
#
#   HOSTDEV_LIBDIR_IS_SYSTEM  ON when CMAKE_INSTALL_FULL_LIBDIR is one of the directories the
#       compiler links from by default (/usr/lib/<multiarch>, /usr/lib, ...). The dynamic loader
#       finds the library there without help, so nothing installed carries an rpath (a distribution
#       package must not: lintian's custom-library-search-path). Anywhere else (/usr/local, /opt,
#       a home directory) the CLI, the Python module and pkg-config consumers get one, so that no
#       program needs LD_LIBRARY_PATH.
#   HOSTDEV_PKGCONFIG_RELOCATABLE  the .pc file computes its prefix from its own location
#       (${pcfiledir}), so a prefix can be copied or installed with `cmake --install --prefix`
#       anywhere. Off by default for the prefix /usr, which is never relocated: there the file
#       says prefix=/usr and pkg-config prints no -I/-L for the system directories.
include_guard(GLOBAL)
include(GNUInstallDirs)

list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES "${CMAKE_INSTALL_FULL_LIBDIR}" _hostdev_libdir_index)
if(_hostdev_libdir_index GREATER -1)
  set(HOSTDEV_LIBDIR_IS_SYSTEM ON)
else()
  set(HOSTDEV_LIBDIR_IS_SYSTEM OFF)
endif()

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_hostdev_relocatable_default OFF)
else()
  set(_hostdev_relocatable_default ON)
endif()
option(HOSTDEV_PKGCONFIG_RELOCATABLE "libhostdev.pc finds its prefix from its own location"
       ${_hostdev_relocatable_default})

# Sets @out to an $ORIGIN-relative rpath from the installed directory @from_dir (relative to the
# prefix) to the library directory, or to "" when the library directory is a system one.
function(hostdev_install_rpath out from_dir)
  if(HOSTDEV_LIBDIR_IS_SYSTEM)
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  file(RELATIVE_PATH rel ${CMAKE_INSTALL_PREFIX}/${from_dir} ${CMAKE_INSTALL_FULL_LIBDIR})
  set(${out} "$ORIGIN/${rel}" PARENT_SCOPE)
endfunction()
