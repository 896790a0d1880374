// SPDX-License-Identifier: Apache-2.0

// Package capi is the SWIG-generated Go wrapper of libhostdev (bindings/hostdev.i): the C API as
// is, with C conventions (negative errno results, borrowed strings copied, objects deleted by
// hand). Only package hostdev uses it.
package capi

// libhostdev comes from pkg-config: an installed copy, or the build tree's
// <build>/bindings/pkgconfig (PKG_CONFIG_PATH). The -I makes bindings/hostdev.i visible to SWIG,
// which the go command runs with the package's -I flags.

// #cgo pkg-config: libhostdev
// #cgo CPPFLAGS: -I${SRCDIR}/../../..
import "C"
