# SPDX-License-Identifier: Apache-2.0
"""Internals of the hostdev package; not an API: import hostdev.

The idiomatic layer (_context, _pci, ... ) and the SWIG-generated module capi (the C API as is) live
here, outside the hostdev package, so that help(hostdev) and pydoc show hostdev's public API and not
these modules (pydoc lists every module in a package's directory, private ones too).
"""
