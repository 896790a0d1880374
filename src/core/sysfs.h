/* SPDX-License-Identifier: Apache-2.0 */
/* sysfs attribute readers (sysfs.c). All return a negative errno on failure and write nothing then.
 */
#ifndef HOSTDEV_SYSFS_H
#define HOSTDEV_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strv;

/* Read attribute @name below @dirfd into @buf, trailing newlines removed. Returns the length. */
int sysfs_read_attr(int dirfd, const char *name, char *buf, size_t size);
/* Same, into a malloc'ed string the caller frees. */
int sysfs_read_alloc(int dirfd, const char *name, char **out);
/* Parse an unsigned number ("0x8086" with base 16 or 0, "3" with base 10). -EIO if malformed. */
int sysfs_read_uint(int dirfd, const char *name, int base, unsigned long *out);
/* Parse a signed decimal number (numa_node's "-1"). -EIO if malformed. */
int sysfs_read_int(int dirfd, const char *name, long *out);
/* The last path component of symlink @name ("driver" -> "e1000e"). */
int sysfs_read_link_basename(int dirfd, const char *name, char *buf, size_t size);
/* Sorted entries of directory @name (without . and ..), optionally filtered by @keep. */
int sysfs_list_dir(int dirfd, const char *name, bool (*keep)(const char *entry), struct strv *out);
/* @a + "/" + @b into @buf. Returns 0, or -ENAMETOOLONG if it does not fit. */
int path_join(char *buf, size_t size, const char *a, const char *b);
/* Milliseconds of CLOCK_MONOTONIC, for deadlines of polling loops. */
int64_t monotonic_ms(void);
/* Sleep one polling interval (10 ms) while waiting for the kernel to show a change in sysfs. */
void poll_pause(void);
/* openat(O_DIRECTORY) returning a negative errno on failure. */
int open_dir_at(int dirfd, const char *path);

#endif /* HOSTDEV_SYSFS_H */
