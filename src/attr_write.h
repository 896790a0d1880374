/* SPDX-License-Identifier: Apache-2.0 */
/* sysfs stores that may block in a driver: one write(2) in a worker thread under a watchdog. */
#ifndef HOSTDEV_ATTR_WRITE_H
#define HOSTDEV_ATTR_WRITE_H

/*
 * Write @value to the attribute @path with one write(2), as the kernel wants stores, in a detached
 * worker thread, and wait at most @timeout_ms for it. Returns 0, the negative errno of the open or
 * the write, -ETIMEDOUT when the write has not returned in time (the worker stays blocked in the
 * kernel and finishes on its own; the write may still take effect), or -EAGAIN/-ENOMEM when no
 * worker could be started (nothing was written then).
 */
int attr_write_watchdog(const char *path, const char *value, unsigned int timeout_ms);

#endif /* HOSTDEV_ATTR_WRITE_H */
