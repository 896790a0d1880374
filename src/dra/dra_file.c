/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files a DRA driver hands to other programs (CDI specs for the container runtime, metadata for
 * KubeVirt): written whole or not at all, since their readers may look at any moment, and never
 * through a symbolic link, since the directories are shared with other programs. Every path
 * below the caller's directory is walked with openat(O_NOFOLLOW).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dra.h"

/* Mode of the files: the runtime and KubeVirt's launcher read them. */
#define DRA_FILE_MODE 0644
#define DRA_DIR_MODE 0755

bool dra_plain_name(const char *name)
{
	return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strlen(name) <= NAME_MAX;
}

/* Open directory @name of @dirfd (AT_FDCWD: a path) without following a symbolic link. With
 * O_DIRECTORY the kernel says ENOTDIR for a link: say ELOOP, which names the problem. */
static int open_dir_nofollow(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return -errno;
}

int dra_open_dir(const char *path)
{
	return open_dir_nofollow(AT_FDCWD, path);
}

int dra_open_subdir(int dirfd, const char *name, bool create)
{
	if (create && mkdirat(dirfd, name, DRA_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	return open_dir_nofollow(dirfd, name);
}

int dra_file_replace(int dirfd, const char *name, const char *content, size_t length)
{
	char tmp[NAME_MAX + 1];
	unsigned long long nonce;
	int fd = -1, r;

	if (!dra_plain_name(name))
		return -EINVAL;
	/* Hidden and not ending in .json: CDI loaders and globs skip it. Unique per writer, so
	 * two threads writing the same name never share a temporary file. */
	for (int attempt = 0; fd < 0 && attempt < 16; attempt++) {
		if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
			return -EIO;
		if (snprintf(tmp, sizeof(tmp), ".%.200s.%016llx.tmp", name, nonce) >=
		    (int)sizeof(tmp))
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
			    DRA_FILE_MODE);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	/* The umask may have narrowed the mode; the readers need it as it is. */
	r = fchmod(fd, DRA_FILE_MODE) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, content, length);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	/* rename(2) replaces a symbolic link at @name itself, never its target. */
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	/* The rename is durable once the directory is. */
	return fsync(dirfd) < 0 ? -errno : 0;
}
