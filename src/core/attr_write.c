/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watchdog around every sysfs store: they can block in a driver. sriov_numvfs (a PF driver
 * enabling VFs can take minutes, or hang), mdev create and remove (removing an mdev a VM holds open
 * waits for the VM), unbind (a driver waiting for its hardware), bind and drivers_probe (a probe
 * that hangs), even driver_override (it takes the device lock). A blocked write(2) cannot be
 * interrupted from user space, so it runs in a detached worker thread and the caller waits on a
 * condition variable with a deadline. On timeout the caller leaves; the worker finishes when the
 * kernel lets it, records a result nobody reads and frees the job. The job is shared by the two
 * threads and freed by whichever of them lets go last.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

struct write_job {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int refs; /* 2 while both threads hold it */
	bool done;
	int result;
	char *path;
	char *value;
};

static void job_put(struct write_job *job)
{
	bool last;

	pthread_mutex_lock(&job->lock);
	last = --job->refs == 0;
	pthread_mutex_unlock(&job->lock);
	if (!last)
		return;
	pthread_cond_destroy(&job->done_cond);
	pthread_mutex_destroy(&job->lock);
	free(job->path);
	free(job->value);
	free(job);
}

/*
 * One store: open without blocking (a FIFO would block open(2) itself, where no watchdog can
 * help), refuse what is not a regular file, then one write(2) in blocking mode.
 */
static int store(const char *path, const char *value)
{
	size_t len = strlen(value);
	struct stat st;
	ssize_t n;
	int fd, flags, r = 0;

	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENXIO ? -ENOTTY : -errno; /* ENXIO: a FIFO nobody reads */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTTY;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	do {
		n = write(fd, value, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

static void *worker(void *arg)
{
	struct write_job *job = arg;
	int r = store(job->path, job->value);

	pthread_mutex_lock(&job->lock);
	job->result = r;
	job->done = true;
	pthread_cond_signal(&job->done_cond);
	pthread_mutex_unlock(&job->lock);
	job_put(job);
	return NULL;
}

static struct write_job *job_new(const char *path, const char *value)
{
	struct write_job *job = calloc(1, sizeof(*job));
	pthread_condattr_t attr;
	bool cond_ok;

	if (!job)
		return NULL;
	job->path = strdup(path);
	job->value = strdup(value);
	if (!job->path || !job->value || pthread_mutex_init(&job->lock, NULL) != 0) {
		free(job->path);
		free(job->value);
		free(job);
		return NULL;
	}
	/* The deadline is on the monotonic clock: a wall-clock jump must not end the wait early. */
	cond_ok = pthread_condattr_init(&attr) == 0;
	if (cond_ok) {
		cond_ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
			  pthread_cond_init(&job->done_cond, &attr) == 0;
		pthread_condattr_destroy(&attr);
	}
	if (!cond_ok) {
		pthread_mutex_destroy(&job->lock);
		free(job->path);
		free(job->value);
		free(job);
		return NULL;
	}
	job->refs = 2;
	return job;
}

int attr_write_watchdog(const char *path, const char *value, unsigned int timeout_ms)
{
	struct write_job *job = job_new(path, value);
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t thread;
	struct timespec deadline;
	int r, result;

	if (!job)
		return -ENOMEM;
	if (pthread_attr_init(&attr) != 0) {
		job->refs = 1;
		job_put(job);
		return -ENOMEM;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The worker takes none of the process's signals: they belong to the caller's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&thread, &attr, worker, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		job->refs = 1;
		job_put(job);
		return -r;
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&job->lock);
	while (!job->done) {
		r = pthread_cond_timedwait(&job->done_cond, &job->lock, &deadline);
		if (r != 0 && r != EINTR)
			break; /* ETIMEDOUT (or a broken deadline): stop waiting */
	}
	result = job->done ? job->result : -ETIMEDOUT;
	pthread_mutex_unlock(&job->lock);
	job_put(job);
	return result;
}
