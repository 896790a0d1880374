/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directories the vfio code keeps its files in (the state directory: journal and lock; the
 * configuration directory: the persistent device list), opened so that nobody else can steer them.
 *
 * The journal tells a root process which drivers to bind to which devices, so whoever can write it
 * can make restore act on the host's devices. A directory is therefore trusted only when it is
 * owned by the caller's effective uid (root's is accepted for reading) and is not writable by its
 * group or by others; the same holds for each file in it. The directory is opened once with
 * O_DIRECTORY|O_NOFOLLOW and every file below it is reached with openat()/renameat() on that
 * descriptor, so a directory swapped in after the check is never used. Files are opened with
 * O_NONBLOCK and must be regular files: a FIFO in their place would block open(2) forever.
 *
 * The lock (vfio.lock, an exclusive flock) serialises the read-modify-write of the journal between
 * processes and between contexts of one process. Its wait is bounded: LOCK_NB attempts with a
 * growing pause, a notice naming the holder's pid (which the holder writes into the file), then
 * -ETIMEDOUT. Readers take no lock: the journal is only ever replaced by rename(2), so a reader
 * sees the old or the new document whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "vfio.h"

/* Our files are small; a huge one is not ours. */
#define FILE_SIZE_MAX (64u << 20)
/* Fixed width of the holder's pid in the lock file, so that a rewrite never leaves old digits. */
#define LOCK_PID_WIDTH 12

/* "uid 65534 (nobody)" or "uid 1234" into @buf. */
static const char *describe_uid(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	char names[1024];

	if (getpwuid_r(uid, &pw, names, sizeof(names), &found) == 0 && found)
		snprintf(buf, size, "uid %u (%s)", (unsigned int)uid, found->pw_name);
	else
		snprintf(buf, size, "uid %u", (unsigned int)uid);
	return buf;
}

/*
 * Whether @st may be trusted: owned by the effective uid (or by root when @reading) and not
 * writable by group or others. On refusal, records the message naming @path, owner, mode and the
 * fix, and returns -EPERM.
 */
static int check_trusted(hostdev_ctx *ctx, const struct stat *st, const char *path,
			 const char *what, bool reading)
{
	uid_t euid = geteuid();
	bool owner_ok = st->st_uid == euid || (reading && st->st_uid == 0);
	char owner[160], self[160];

	if (owner_ok && !(st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	describe_uid(st->st_uid, owner, sizeof(owner));
	describe_uid(euid, self, sizeof(self));
	return hostdev_error(
	    ctx, -EPERM,
	    "refusing the %s %s: it is owned by %s with mode %04o, but only a %s owned by %s and "
	    "writable by nobody else can be trusted (another user could forge the vfio journal "
	    "and make restore act on this host's devices). Check who created it, then make it "
	    "yours and private (chown %u %s; chmod go-w %s), or remove it and let libhostdev "
	    "create it, or point the context's %s path elsewhere",
	    what, path, owner, (unsigned int)(st->st_mode & 07777),
	    S_ISDIR(st->st_mode) ? "directory" : "file", self, (unsigned int)euid, path, path,
	    strstr(what, "config") ? "HOSTDEV_PATH_CONFIG" : "HOSTDEV_PATH_STATE");
}

/* mkdir -p with @mode for the missing components. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int vfio_dir_open(hostdev_ctx *ctx, const char *path, const char *what, enum vfio_dir_mode mode,
		  struct vfio_dir *out)
{
	bool writing = mode == VFIO_DIR_WRITE;
	struct stat st;
	int fd, r;

	out->fd = -1;
	out->writable = writing;
	if (snprintf(out->path, sizeof(out->path), "%s", path) >= (int)sizeof(out->path))
		return hostdev_error(ctx, -ENAMETOOLONG, "the %s path %s is too long", what, path);
	if (writing) {
		r = mkdir_p(path, 0700);
		if (r < 0)
			return hostdev_error(
			    ctx, r, "cannot create the %s %s (%s): %s", what, path, strerror(-r),
			    r == -EACCES || r == -EROFS || r == -EPERM
				? "run as root or point the context at a writable directory"
				: "check the path");
	}
	/*
	 * Writers need a real descriptor (fsync of the directory after a rename); readers only
	 * need to look up names, which O_PATH allows with search permission alone.
	 */
	fd = open(path, (writing ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && !writing)
			return 0; /* no directory: nothing was ever written */
		if (r == -ELOOP || r == -ENOTDIR) {
			struct stat lst;

			if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
				return hostdev_error(
				    ctx, -EPERM,
				    "refusing the %s %s: it is a symbolic link, and a link can be "
				    "pointed anywhere by whoever owns the directory holding it. "
				    "Check who created it, then replace it with a real directory "
				    "(or remove it and let libhostdev create one)",
				    what, path);
			return hostdev_error(ctx, -ENOTDIR,
					     "the %s %s is not a directory: move it aside", what,
					     path);
		}
		if (r == -EACCES) {
			char self[160];

			return hostdev_error(
			    ctx, r,
			    "cannot open the %s %s: permission denied (a directory on the way "
			    "does not let %s search it): run as the user that owns it (root)",
			    what, path, describe_uid(geteuid(), self, sizeof(self)));
		}
		return hostdev_error(ctx, r, "cannot open the %s %s (%s)", what, path,
				     strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return hostdev_error(ctx, r, "cannot stat the %s %s (%s)", what, path,
				     strerror(-r));
	}
	r = check_trusted(ctx, &st, path, what, !writing);
	if (r < 0) {
		close(fd);
		return r;
	}
	out->fd = fd;
	out->uid = st.st_uid;
	out->mode = st.st_mode;
	return 0;
}

void vfio_dir_close(struct vfio_dir *dir)
{
	if (dir->fd >= 0)
		close(dir->fd);
	dir->fd = -1;
}

/* The message for EACCES on @name below @dir: which permission is missing, for whom. */
static int access_error(hostdev_ctx *ctx, const struct vfio_dir *dir, const char *name,
			const char *what)
{
	char self[160], owner[160];
	struct stat st;

	describe_uid(geteuid(), self, sizeof(self));
	describe_uid(dir->uid, owner, sizeof(owner));
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return hostdev_error(
		    ctx, -EACCES,
		    "cannot read the %s %s/%s: %s lacks search (x) permission on %s, which "
		    "is owned by %s with mode %04o; the vfio state is kept private to its owner: "
		    "run as that user (root)",
		    what, dir->path, name, self, dir->path, owner,
		    (unsigned int)(dir->mode & 07777));
	describe_uid(st.st_uid, owner, sizeof(owner));
	return hostdev_error(ctx, -EACCES,
			     "cannot read the %s %s/%s: %s lacks read (r) permission on it; it is "
			     "owned by %s with mode %04o (private to its owner): run as that user "
			     "(root)",
			     what, dir->path, name, self, owner,
			     (unsigned int)(st.st_mode & 07777));
}

int vfio_file_read(hostdev_ctx *ctx, const struct vfio_dir *dir, const char *name, const char *what,
		   char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t done = 0;
	int fd, r;

	if (dir->fd < 0)
		return -ENOENT;
	/* O_NONBLOCK: a FIFO in the file's place must not block open(2). */
	fd = openat(dir->fd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return r;
		if (r == -ELOOP)
			return hostdev_error(
			    ctx, -EBADMSG,
			    "the %s %s/%s is a symbolic link: refusing to follow it (move it "
			    "aside and check who created it)",
			    what, dir->path, name);
		if (r == -EACCES)
			return access_error(ctx, dir, name, what);
		return hostdev_error(ctx, r, "cannot open the %s %s/%s (%s)", what, dir->path, name,
				     strerror(-r));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > FILE_SIZE_MAX) {
		close(fd);
		return hostdev_error(ctx, -EBADMSG,
				     "the %s %s/%s is not a regular file of sane size (a FIFO, "
				     "device or directory in its place?): move it aside",
				     what, dir->path, name);
	}
	{
		char path[sizeof(dir->path) + NAME_MAX + 2];

		snprintf(path, sizeof(path), "%s/%s", dir->path, name);
		r = check_trusted(ctx, &st, path, what, !dir->writable);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return hostdev_error(ctx, r, "cannot read the %s %s/%s (%s)", what,
					     dir->path, name, strerror(-r));
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	buf[done] = '\0';
	*out = buf;
	*len = done;
	return 0;
}

int vfio_file_replace(hostdev_ctx *ctx, const struct vfio_dir *dir, const char *name,
		      const char *content, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	int fd, r;

	if (dir->fd < 0 || !dir->writable)
		return hostdev_error(ctx, -EBADF, "%s/%s: directory not open for writing",
				     dir->path, name);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return hostdev_error(ctx, -ENAMETOOLONG, "file name %s is too long", name);
	/* A temp file left by a writer that died: we hold the lock, so nobody else is using it. */
	if (unlinkat(dir->fd, tmp, 0) < 0 && errno != ENOENT)
		return hostdev_error(ctx, -errno, "cannot remove the stale %s/%s (%s)", dir->path,
				     tmp, strerror(errno));
	fd = openat(dir->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		    mode);
	if (fd < 0)
		return hostdev_error(ctx, -errno, "cannot create %s/%s (%s)", dir->path, tmp,
				     strerror(errno));
	/* The umask may have narrowed @mode; a wider one must not widen it. */
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, content, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dir->fd, tmp, dir->fd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dir->fd, tmp, 0);
		return hostdev_error(ctx, r, "cannot write %s/%s (%s): nothing was changed",
				     dir->path, name, strerror(-r));
	}
	/* The rename itself is durable only once the directory is. */
	if (fsync(dir->fd) < 0)
		return hostdev_error(ctx, -errno, "cannot sync directory %s (%s)", dir->path,
				     strerror(errno));
	return 0;
}

/* The pid the holder wrote into the lock file, 0 when unknown. */
static long lock_holder(int fd)
{
	char buf[LOCK_PID_WIDTH + 1];
	ssize_t n = pread(fd, buf, LOCK_PID_WIDTH, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == ' ' || *end == '\n' || *end == '\0') ? pid : 0;
}

/* Record our pid for the next waiter's message; best effort (the lock works without it). */
static void lock_record_holder(int fd)
{
	char buf[LOCK_PID_WIDTH + 1];

	snprintf(buf, sizeof(buf), "%-*ld\n", LOCK_PID_WIDTH - 1, (long)getpid());
	if (pwrite(fd, buf, LOCK_PID_WIDTH, 0) != LOCK_PID_WIDTH)
		return;
}

static void pause_ms(unsigned int ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Take the exclusive flock on @fd, waiting at most @timeout_ms. */
static int lock_wait(hostdev_ctx *ctx, int fd, const char *path, unsigned int timeout_ms)
{
	int64_t start = monotonic_ms(), deadline = start + timeout_ms;
	unsigned int pause = 5;
	bool told = false;
	long holder = 0;

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return hostdev_error(ctx, -errno, "cannot lock %s (%s)", path,
					     strerror(errno));
		holder = lock_holder(fd);
		if (!told) {
			char who[64] = "another process";

			if (holder)
				snprintf(who, sizeof(who), "pid %ld", holder);
			hostdev_log(ctx, HOSTDEV_LOG_NOTICE,
				    "waiting for the vfio lock %s held by %s (up to %u ms)", path,
				    who, timeout_ms);
			told = true;
		}
		if (monotonic_ms() >= deadline)
			break;
		pause_ms(pause);
		/* Quick to notice a short holder, cheap with a long one. */
		if (pause < 200)
			pause *= 2;
	}
	{
		char who[64] = "another process (its pid is not recorded)";

		if (holder)
			snprintf(who, sizeof(who), "pid %ld", holder);
		return hostdev_error(
		    ctx, -ETIMEDOUT,
		    "the vfio lock %s is still held by %s after %u ms: another libhostdev "
		    "operation (bind, restore, an SR-IOV change, a persistent-list edit) is "
		    "running or hung. Check that process, then retry, or allow a longer wait "
		    "(the lock_timeout_ms option)",
		    path, who, (unsigned int)(monotonic_ms() - start));
	}
}

int vfio_state_lock(hostdev_ctx *ctx, unsigned int lock_timeout_ms, struct vfio_state *state)
{
	char path[sizeof(state->dir.path) + sizeof(VFIO_LOCK_FILE) + 1];
	struct stat st;
	int fd, r;

	state->lock_fd = -1;
	r = vfio_dir_open(ctx, ctx->paths[HOSTDEV_PATH_STATE], "state directory", VFIO_DIR_WRITE,
			  &state->dir);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", state->dir.path, VFIO_LOCK_FILE);
	fd = openat(state->dir.fd, VFIO_LOCK_FILE,
		    O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		vfio_dir_close(&state->dir);
		if (r == -ELOOP)
			return hostdev_error(ctx, -EPERM,
					     "the lock file %s is a symbolic link: refusing to "
					     "follow it (move it aside and check who created it)",
					     path);
		return hostdev_error(ctx, r, "cannot open the lock file %s (%s)", path,
				     strerror(-r));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		vfio_dir_close(&state->dir);
		return hostdev_error(ctx, -EPERM,
				     "the lock file %s is not a regular file (a FIFO, device or "
				     "directory in its place?): move it aside",
				     path);
	}
	r = check_trusted(ctx, &st, path, "lock file", false);
	if (r == 0)
		r = lock_wait(ctx, fd, path, lock_timeout_ms);
	if (r < 0) {
		close(fd);
		vfio_dir_close(&state->dir);
		return r;
	}
	lock_record_holder(fd);
	state->lock_fd = fd;
	return 0;
}

void vfio_state_unlock(struct vfio_state *state)
{
	if (state->lock_fd >= 0)
		close(state->lock_fd); /* releases the flock */
	state->lock_fd = -1;
	vfio_dir_close(&state->dir);
}
