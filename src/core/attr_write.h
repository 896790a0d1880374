/* SPDX-License-Identifier: Apache-2.0 */
/* sysfs stores that may block in a driver: one write(2) in a worker thread under a watchdog. */
#ifndef HOSTDEV_ATTR_WRITE_H
#define HOSTDEV_ATTR_WRITE_H

/*
 * Write @value to the attribute @path with one write(2), as the kernel wants stores, in a detached
 * worker thread, and wait at most @timeout_ms for it. The attribute is opened with O_NONBLOCK and
 * must be a regular file (sysfs attributes are): a FIFO in its place would block open(2), and a
 * device node or directory is not an attribute either. Returns 0, the negative errno of the open
 * or the write, -ENOTTY when @path is not a regular file (nothing was written; say
 * ATTR_NOT_REGULAR), -ETIMEDOUT when the write has not returned in time (the worker stays blocked
 * in the kernel and finishes on its own; the write may still take effect), or -EAGAIN/-ENOMEM when
 * no worker could be started (nothing was written then).
 */
int attr_write_watchdog(const char *path, const char *value, unsigned int timeout_ms);

/* What -ENOTTY of attr_write_watchdog() means, for messages. */
#define ATTR_NOT_REGULAR                                                                           \
	"is not a regular file (sysfs attributes are; a FIFO, device node or directory stands in " \
	"its place): nothing was written"

#endif /* HOSTDEV_ATTR_WRITE_H */
