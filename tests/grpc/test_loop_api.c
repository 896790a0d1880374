/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loop's API for code built on it (loop.h, HOSTDEV_1.4), through the shared library as a
 * program's own plugin would use it (the built-in plugins do): fd sources and their removal from
 * a callback and from another thread, the recursive lock, the loop's contexts, the errors; and
 * work on the loop's worker thread (HOSTDEV_1.8), queued, cancelled and finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <hostdev.h>

/* Bound of every wait for an event: generous, a loaded machine is not a failure. */
#define WAIT_MS 30000

struct fixture {
	hostdev_ctx *ctx;
	hostdev_loop *loop;
	int pipe[2];
};

/* What a callback saw. Written on the dispatching thread, read after a join or under the lock. */
struct seen {
	int calls;
	int fd;
	uint32_t revents;
	hostdev_loop_source *source;
	bool remove_self;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(hostdev_ctx_new(&f->ctx), 0);
	assert_int_equal(hostdev_loop_new(f->ctx, &f->loop), 0);
	assert_int_equal(pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hostdev_loop_unref(f->loop);
	hostdev_ctx_unref(f->ctx);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_readable(hostdev_loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct seen *seen = userdata;
	char buf[64];

	seen->calls++;
	seen->fd = fd;
	seen->revents = revents;
	seen->source = source;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (seen->remove_self)
		hostdev_loop_source_remove(source);
}

/* Dispatch on this thread until @seen has @calls calls. */
static void dispatch_until_calls(hostdev_loop *loop, const struct seen *seen, int calls)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (seen->calls < calls && now_ms() < end)
		assert_true(hostdev_loop_dispatch(loop, 50) >= 0);
	assert_int_equal(seen->calls, calls);
}

static void test_fd_source(void **state)
{
	struct fixture *f = *state;
	struct seen seen = {0};
	hostdev_loop_source *source = NULL;

	assert_int_equal(
	    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, &source), 0);
	assert_non_null(source);
	/* Nothing to read: nothing happens. */
	assert_int_equal(hostdev_loop_dispatch(f->loop, 0), 0);
	assert_int_equal(seen.calls, 0);

	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	dispatch_until_calls(f->loop, &seen, 1);
	assert_int_equal(seen.fd, f->pipe[0]);
	assert_true(seen.revents & EPOLLIN);
	assert_ptr_equal(seen.source, source);

	assert_int_equal(write(f->pipe[1], "y", 1), 1);
	dispatch_until_calls(f->loop, &seen, 2);

	/* Removed: the fd stays open and no callback runs for it any more. */
	hostdev_loop_source_remove(source);
	assert_int_equal(write(f->pipe[1], "z", 1), 1);
	assert_int_equal(hostdev_loop_dispatch(f->loop, 0), 0);
	assert_int_equal(seen.calls, 2);
	assert_true(fcntl(f->pipe[0], F_GETFD) >= 0);
	/* The fd can be watched again. */
	assert_int_equal(
	    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, &source), 0);
	dispatch_until_calls(f->loop, &seen, 3);
	hostdev_loop_source_remove(source);
	hostdev_loop_source_remove(NULL);
}

/* A callback that removes its own source (ASan sees any use of the freed source after). */
static void test_remove_from_callback(void **state)
{
	struct fixture *f = *state;
	struct seen seen = {.remove_self = true};
	hostdev_loop_source *source;

	assert_int_equal(
	    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, &source), 0);
	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	dispatch_until_calls(f->loop, &seen, 1);
	assert_int_equal(write(f->pipe[1], "y", 1), 1);
	assert_int_equal(hostdev_loop_dispatch(f->loop, 0), 0);
	assert_int_equal(seen.calls, 1);
}

static int calls_locked(hostdev_loop *loop, const struct seen *seen)
{
	int calls;

	hostdev_loop_lock(loop);
	calls = seen->calls;
	hostdev_loop_unlock(loop);
	return calls;
}

static void wait_calls_locked(hostdev_loop *loop, const struct seen *seen, int calls)
{
	uint64_t end = now_ms() + WAIT_MS;
	struct timespec pause = {.tv_nsec = 1000000};

	while (calls_locked(loop, seen) < calls && now_ms() < end)
		nanosleep(&pause, NULL);
	assert_int_equal(calls_locked(loop, seen), calls);
}

/* The loop on its own thread; sources added and removed from this one. */
static void test_other_thread(void **state)
{
	struct fixture *f = *state;
	struct seen seen = {0}, marker_seen = {0};
	hostdev_loop_source *source, *marker;
	int marker_pipe[2];

	assert_int_equal(pipe2(marker_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(hostdev_loop_start_thread(f->loop), 0);
	assert_int_equal(
	    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, &source), 0);
	assert_int_equal(hostdev_loop_add_fd(f->loop, marker_pipe[0], EPOLLIN, on_readable,
					     &marker_seen, &marker),
			 0);
	assert_int_equal(write(f->pipe[1], "x", 1), 1);
	wait_calls_locked(f->loop, &seen, 1);

	/*
	 * Held (twice: the lock is recursive), the lock keeps callbacks from running: an event
	 * that arrives meanwhile is handled after the last unlock. The source is removed under
	 * the lock before that, so its callback never runs again; the marker's event, written
	 * after, proves that the loop went on.
	 */
	hostdev_loop_lock(f->loop);
	hostdev_loop_lock(f->loop);
	assert_int_equal(write(f->pipe[1], "y", 1), 1);
	hostdev_loop_source_remove(source);
	hostdev_loop_unlock(f->loop);
	assert_int_equal(seen.calls, 1);
	hostdev_loop_unlock(f->loop);
	assert_int_equal(write(marker_pipe[1], "m", 1), 1);
	wait_calls_locked(f->loop, &marker_seen, 1);
	assert_int_equal(calls_locked(f->loop, &seen), 1);

	assert_int_equal(hostdev_loop_stop_thread(f->loop), 0);
	hostdev_loop_source_remove(marker);
	close(marker_pipe[0]);
	close(marker_pipe[1]);
}

static void test_contexts(void **state)
{
	struct fixture *f = *state;
	hostdev_ctx *worker;

	assert_ptr_equal(hostdev_loop_get_ctx(f->loop), f->ctx);
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_SYSFS, "/tmp"), 0);
	/* The worker's context: a copy of the loop's, made on first use, the same one after. */
	worker = hostdev_loop_get_worker_ctx(f->loop);
	assert_non_null(worker);
	assert_ptr_not_equal(worker, f->ctx);
	assert_string_equal(hostdev_ctx_get_path(worker, HOSTDEV_PATH_SYSFS), "/tmp");
	assert_ptr_equal(hostdev_loop_get_worker_ctx(f->loop), worker);

	assert_null(hostdev_loop_get_ctx(NULL));
	assert_null(hostdev_loop_get_worker_ctx(NULL));
	hostdev_loop_lock(NULL);
	hostdev_loop_unlock(NULL);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	hostdev_loop_source *source = NULL;
	char path[] = "/tmp/hostdev-loop-api-XXXXXX";
	struct seen seen = {0};
	int file;

	assert_int_equal(
	    hostdev_loop_add_fd(NULL, f->pipe[0], EPOLLIN, on_readable, &seen, &source), -EINVAL);
	assert_int_equal(
	    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, NULL), -EINVAL);
	assert_int_equal(hostdev_loop_add_fd(f->loop, -1, EPOLLIN, on_readable, &seen, &source),
			 -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "cannot watch fd -1"));
	assert_int_equal(hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, NULL, &seen, &source),
			 -EINVAL);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "no callback"));
	assert_null(source);

	/* epoll refuses a regular file; its error comes back with a message. */
	file = mkstemp(path);
	assert_true(file >= 0);
	unlink(path);
	assert_int_equal(hostdev_loop_add_fd(f->loop, file, EPOLLIN, on_readable, &seen, &source),
			 -EPERM);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), "cannot watch fd"));
	assert_null(source);
	close(file);

	/* Twice the same fd: EEXIST. */
	assert_int_equal(
	    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, &source), 0);
	{
		hostdev_loop_source *again = NULL;

		assert_int_equal(
		    hostdev_loop_add_fd(f->loop, f->pipe[0], EPOLLIN, on_readable, &seen, &again),
		    -EEXIST);
		assert_null(again);
	}
	hostdev_loop_source_remove(source);
}

/* A piece of work and what it saw. The gate holds the work function until opened. */
struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_open, ran;
	pthread_t thread; /* the work function's */
	hostdev_ctx *ctx; /* given to it */
	int done_calls;	  /* on the loop */
	pthread_t done_thread;
};

static void job_init(struct job *j, bool gate_open)
{
	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->gate_open = gate_open;
}

static void job_destroy(struct job *j)
{
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
}

static void job_work(hostdev_ctx *ctx, void *userdata)
{
	struct job *j = userdata;

	pthread_mutex_lock(&j->lock);
	while (!j->gate_open)
		pthread_cond_wait(&j->cond, &j->lock);
	j->ran = true;
	j->thread = pthread_self();
	j->ctx = ctx;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void job_done(void *userdata)
{
	struct job *j = userdata;

	j->done_calls++;
	j->done_thread = pthread_self();
}

static void job_open(struct job *j)
{
	pthread_mutex_lock(&j->lock);
	j->gate_open = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void job_wait_ran(struct job *j)
{
	pthread_mutex_lock(&j->lock);
	while (!j->ran)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

static void test_work(void **state)
{
	struct fixture *f = *state;
	hostdev_loop_work *a = NULL, *b = NULL, *c = NULL;
	struct job ja, jb, jc;
	uint64_t end;

	job_init(&ja, false);
	job_init(&jb, true);
	job_init(&jc, true);
	/* @a holds the worker; @b, queued behind it, is cancelled: it never runs. */
	assert_int_equal(hostdev_loop_queue_work(f->loop, job_work, job_done, &ja, &a), 0);
	assert_non_null(a);
	assert_int_equal(hostdev_loop_queue_work(f->loop, job_work, job_done, &jb, &b), 0);
	hostdev_loop_work_cancel(b);
	job_open(&ja);
	end = now_ms() + WAIT_MS;
	while (ja.done_calls == 0 && now_ms() < end)
		assert_true(hostdev_loop_dispatch(f->loop, 50) >= 0);
	/* On the worker thread with its context; the done function on the dispatching thread. */
	assert_int_equal(ja.done_calls, 1);
	assert_true(ja.ran);
	assert_false(pthread_equal(ja.thread, pthread_self()));
	assert_true(pthread_equal(ja.done_thread, pthread_self()));
	assert_ptr_equal(ja.ctx, hostdev_loop_get_worker_ctx(f->loop));
	assert_ptr_not_equal(ja.ctx, f->ctx);
	assert_false(jb.ran);
	assert_int_equal(jb.done_calls, 0);

	/* Cancelled after its work function returned, before the loop ran its done function: the
	 * done function never runs. */
	assert_int_equal(hostdev_loop_queue_work(f->loop, job_work, job_done, &jc, &c), 0);
	job_wait_ran(&jc);
	hostdev_loop_work_cancel(c);
	while (hostdev_loop_dispatch(f->loop, 100) > 0)
		;
	assert_int_equal(jc.done_calls, 0);
	assert_int_equal(ja.done_calls, 1);

	/* Left to the loop's last reference (teardown): it has run, its done function never
	 * will, and nothing leaks (ASan). Static: the worker may still be returning from it. */
	{
		static struct job jd;
		hostdev_loop_work *d = NULL;

		job_init(&jd, true);
		assert_int_equal(hostdev_loop_queue_work(f->loop, job_work, job_done, &jd, &d), 0);
		job_wait_ran(&jd);
	}

	hostdev_loop_work_cancel(NULL);
	assert_int_equal(hostdev_loop_queue_work(NULL, job_work, job_done, &ja, &a), -EINVAL);
	assert_int_equal(hostdev_loop_queue_work(f->loop, NULL, job_done, &ja, &a), -EINVAL);
	assert_int_equal(hostdev_loop_queue_work(f->loop, job_work, NULL, &ja, &a), -EINVAL);
	assert_int_equal(hostdev_loop_queue_work(f->loop, job_work, job_done, &ja, NULL), -EINVAL);
	job_destroy(&ja);
	job_destroy(&jb);
	job_destroy(&jc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fd_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_from_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_thread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_contexts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_work, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
