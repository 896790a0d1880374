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

/*
 * Read what @fd holds into @buf. With @whole_first, a read that leaves room in @buf ends it: sysfs
 * makes an attribute's whole value on the first read (one show() into a page), and a regular file
 * of a fake root returns less than asked only at its end, so the read that would only return 0 is
 * not made. Not for /proc files such as cpuinfo, which come a page of records per read.
 */
static ssize_t read_fd(int fd, char *buf, size_t size, bool whole_first)
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
		if (whole_first)
			break;
	}
	return (ssize_t)done;
}

static void strip_newline(char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

static int read_file(int dirfd, const char *name, char *buf, size_t size, bool whole_first)
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
	n = read_fd(fd, buf, size - 1, whole_first);
	close(fd);
	if (n < 0)
		return (int)n;
	len = (size_t)n;
	buf[len] = '\0';
	strip_newline(buf, &len);
	return (int)len;
}

int sysfs_read_attr(int dirfd, const char *name, char *buf, size_t size)
{
	return read_file(dirfd, name, buf, size, true);
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
	/* Also used for /proc files (cpuinfo, interrupts): read to the end. */
	r = read_file(dirfd, name, buf, max, false);
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

int sysfs_dir_for_each(int fd, int (*fn)(void *data, const char *name), void *data)
{
	/* Aligned for struct dirent64; a device directory (about 40 entries) fits in one call. */
	union {
		struct dirent64 align;
		char bytes[8192];
	} buf;

	for (;;) {
		ssize_t n = getdents64(fd, &buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf.bytes + off);
			const char *name = de->d_name;
			int r;

			off += de->d_reclen;
			if (name[0] == '.' &&
			    (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
				continue;
			if ((r = fn(data, name)) < 0)
				return r;
		}
	}
}

struct list_dir_state {
	bool (*keep)(const char *entry);
	struct strv *out;
};

static int list_dir_add(void *data, const char *name)
{
	struct list_dir_state *state = data;

	if (state->keep && !state->keep(name))
		return 0;
	return strv_push(state->out, name);
}

int sysfs_list_dir(int dirfd, const char *name, bool (*keep)(const char *entry), struct strv *out)
{
	/* getdents64() on the descriptor: opendir() would add an fstat and two fcntl calls. */
	struct list_dir_state state = {keep, out};
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = sysfs_dir_for_each(fd, list_dir_add, &state);
	close(fd);
	if (r == 0)
		strv_sort(out);
	return r;
}

int sysfs_pci_device_path(const hostdev_ctx *ctx, char *buf, size_t size, const char *address,
			  const char *attr)
{
	/* By hand: snprintf() was a tenth of reading a device in an enumeration. */
	static const char middle[] = "/bus/pci/devices/";
	const char *parts[] = {ctx_sysfs(ctx), middle, address, attr ? "/" : "", attr ? attr : ""};
	size_t used = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t len = strlen(parts[i]);

		if (used + len >= size)
			return -ENAMETOOLONG;
		memcpy(buf + used, parts[i], len);
		used += len;
	}
	buf[used] = '\0';
	return 0;
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
