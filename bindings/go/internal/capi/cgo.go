// SPDX-License-Identifier: Apache-2.0

// Package capi is the SWIG-generated Go wrapper of libhostdev (bindings/hostdev.i): the C API as
// is, with C conventions (negative errno results, borrowed strings copied, objects deleted by
// hand). Only package hostdev uses it.
package capi

// libhostdev comes from pkg-config: an installed copy, or the build tree's
// <build>/bindings/pkgconfig (PKG_CONFIG_PATH). For a copy outside the system directories the .pc
// adds -Wl,-rpath for its libdir, so programs run without LD_LIBRARY_PATH (docs/bindings.md).
//
// The go command runs SWIG with the package's -I flags, in this order: CPPFLAGS, pkg-config's
// cflags, CFLAGS. The CPPFLAGS -I makes bindings/hostdev.i visible. The CFLAGS -I/usr/include
// comes last, after pkg-config's: SWIG searches no directory it is not given, and pkg-config
// prints no -I for headers in /usr/include (a distribution's libhostdev-dev). The C compiler
// ignores -I for a system directory, so it changes nothing there.

// #cgo pkg-config: libhostdev
// #cgo CPPFLAGS: -I${SRCDIR}/../../..
// #cgo CFLAGS: -I/usr/include
import "C"
