/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small readers for sysfs attributes, relative to an open directory so that a device is opened once
 * and each attribute costs one openat + read + close.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

static ssize_t read_fd(int fd, char *buf, size_t size)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static void strip_newline(char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

int sysfs_read_attr(int dirfd, const char *name, char *buf, size_t size)
{
	int fd;
	ssize_t n;
	size_t len;

	if (size < 2)
		return -EINVAL;
	/* O_NONBLOCK: a FIFO in an attribute's place (a hostile fake root) must not block open(2).
	 */
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read_fd(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return (int)n;
	len = (size_t)n;
	buf[len] = '\0';
	strip_newline(buf, &len);
	return (int)len;
}

int sysfs_read_alloc(int dirfd, const char *name, char **out)
{
	/* sysfs attributes are at most one page; 64 KiB also covers fixture files written by hand.
	 */
	const size_t max = 65536;
	char *buf = malloc(max);
	int r;

	if (!buf)
		return -ENOMEM;
	r = sysfs_read_attr(dirfd, name, buf, max);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = realloc(buf, (size_t)r + 1) ?: buf;
	return r;
}

int sysfs_read_uint(int dirfd, const char *name, int base, unsigned long *out)
{
	char buf[64], *end;
	unsigned long v;
	int r = sysfs_read_attr(dirfd, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || end == buf || (*end && *end != ' ' && *end != '\n'))
		return -EIO;
	*out = v;
	return 0;
}

int sysfs_read_int(int dirfd, const char *name, long *out)
{
	char buf[64], *end;
	long v;
	int r = sysfs_read_attr(dirfd, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != ' '))
		return -EIO;
	*out = v;
	return 0;
}

int sysfs_read_link_basename(int dirfd, const char *name, char *buf, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	const char *base;
	size_t len;

	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	len = strlen(base);
	if (len == 0)
		return -EIO;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, len + 1);
	return (int)len;
}

int sysfs_list_dir(int dirfd, const char *name, bool (*keep)(const char *entry), struct strv *out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (keep && !keep(de->d_name))
			continue;
		r = strv_push(out, de->d_name);
		if (r < 0)
			break;
	}
	closedir(dir);
	if (r == 0)
		strv_sort(out);
	return r;
}

int sysfs_pci_device_path(const hostdev_ctx *ctx, char *buf, size_t size, const char *address,
			  const char *attr)
{
	int n = attr
		    ? snprintf(buf, size, "%s/bus/pci/devices/%s/%s", ctx_sysfs(ctx), address, attr)
		    : snprintf(buf, size, "%s/bus/pci/devices/%s", ctx_sysfs(ctx), address);

	return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

int path_join(char *buf, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + 1 + lb + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, a, la);
	buf[la] = '/';
	memcpy(buf + la + 1, b, lb + 1);
	return 0;
}

int open_dir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void poll_pause(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	nanosleep(&ts, NULL);
}
