# SPDX-License-Identifier: Apache-2.0
"""Exceptions: every failing libhostdev call raises hostdev.Error (an OSError) or a subclass."""

import errno as _errno
import os as _os


class Error(OSError):
    """A libhostdev call failed.

    ``.errno`` is the positive errno of the failure (the C function returned ``-errno``) and
    ``.strerror`` / ``.message`` the library's sentence naming the device, the problem and the
    remedy (hostdev_ctx_get_error()). ``str(e)`` is ``"[Errno N] message"`` like every OSError.
    """

    @property
    def message(self):
        """The library's message (same as ``.strerror``)."""
        return self.strerror


class NotFound(Error):
    """ENODEV / ENOENT: no such device, record, module or list entry."""


class PermissionDenied(Error, PermissionError):
    """EPERM / EACCES: a guarded device, a blacklisted module, no permission."""


class Busy(Error):
    """EBUSY: the IOMMU group is shared with devices on host drivers, or an enumerator already ran."""


class InvalidArgument(Error):
    """EINVAL: malformed address or filter, unknown flag, no IOMMU group, a bridge."""


class TimedOut(Error, TimeoutError):
    """ETIMEDOUT: the kernel did not show the change in time."""


class Corrupt(Error):
    """EBADMSG: the journal or the persistent device list is damaged; nothing was changed."""


class NotSupported(Error):
    """EOPNOTSUPP: the device cannot do this (not an SR-IOV PF, not an mdev parent)."""


class OutOfRange(Error):
    """ERANGE: more VFs than the PF offers (sriov_totalvfs)."""


class NoSpace(Error):
    """ENOSPC: no capacity left (no available instances of an mdev type, a PF driver that cannot
    enable that many VFs)."""


class AlreadyExists(Error, FileExistsError):
    """EEXIST: an mdev with this UUID exists already."""


_CLASSES = {
    _errno.ENODEV: NotFound,
    _errno.ENOENT: NotFound,
    _errno.EPERM: PermissionDenied,
    _errno.EACCES: PermissionDenied,
    _errno.EBUSY: Busy,
    _errno.EINVAL: InvalidArgument,
    _errno.ETIMEDOUT: TimedOut,
    _errno.EBADMSG: Corrupt,
    _errno.EOPNOTSUPP: NotSupported,
    _errno.ERANGE: OutOfRange,
    _errno.ENOSPC: NoSpace,
    _errno.EEXIST: AlreadyExists,
}


def error_for(code, message=None):
    """The exception for the negative (or positive) errno @code with the library's @message."""
    code = abs(int(code))
    return _CLASSES.get(code, Error)(code, message or _os.strerror(code))
