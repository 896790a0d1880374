/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device-plugin loop and the gRPC transport in one process: timers, deferred source removal,
 * quit from a thread and from a signal handler, embedding through the epoll fd, the loop's own
 * thread; our client against our server (round trip, errors, deadline, cancel, shutdown with open
 * streams, the stale-socket rule). Interoperability with grpcio is in test_grpcio_*.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "grpc/grpc.h"

struct fixture {
	hostdev_ctx *ctx;
	hostdev_loop *loop;
	char dir[64];
	char sock[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(hostdev_ctx_new(&f->ctx), 0);
	assert_int_equal(hostdev_loop_new(f->ctx, &f->loop), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hostdev-grpc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/test.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->sock);
	rmdir(f->dir);
	hostdev_loop_unref(f->loop);
	hostdev_ctx_unref(f->ctx);
	free(f);
	return 0;
}

/* Bound of every wait for an event: generous, a loaded machine (sanitizers, valgrind, CPU hogs)
 * is not a failure. */
#define WAIT_MS 30000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Dispatch until *@flag or @ms pass. */
static void dispatch_until(hostdev_loop *loop, const volatile int *flag, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (!*flag && now_ms() < end)
		assert_true(hostdev_loop_dispatch(loop, 50) >= 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* The loop's worker thread */

struct job {
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	int *order; /* where this job writes its number when it runs */
	int *ran;   /* jobs run so far */
	int number;
	int block_fd; /* >= 0: the work waits for a byte here */
	volatile int running, worked, done;
	pthread_t work_thread, done_thread;
};

static void job_work(void *userdata)
{
	struct job *j = userdata;
	char byte;

	j->work_thread = pthread_self();
	pthread_mutex_lock(j->lock);
	j->running = 1;
	j->order[(*j->ran)++] = j->number;
	pthread_cond_broadcast(j->cond);
	pthread_mutex_unlock(j->lock);
	if (j->block_fd >= 0)
		assert_int_equal(read(j->block_fd, &byte, 1), 1);
	j->worked = 1;
}

static void job_done(void *userdata)
{
	struct job *j = userdata;

	j->done_thread = pthread_self();
	j->done = 1;
}

/* Write a byte to @fd once @j runs (a thread, so that the test may block in a cancel). */
struct release {
	struct job *job;
	int fd;
};

static void *release_when_running(void *arg)
{
	struct release *r = arg;

	pthread_mutex_lock(r->job->lock);
	while (!r->job->running)
		pthread_cond_wait(r->job->cond, r->job->lock);
	pthread_mutex_unlock(r->job->lock);
	assert_int_equal(write(r->fd, "x", 1), 1);
	return NULL;
}

static void test_worker(void **state)
{
	struct fixture *f = *state;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	int order[8] = {0}, ran = 0, pipe_fd[2];
	struct job jobs[4];
	struct loop_work *w[4];
	struct release rel;
	hostdev_ctx *wctx;
	pthread_t thread;

	assert_int_equal(pipe(pipe_fd), 0);
	for (int i = 0; i < 4; i++)
		jobs[i] = (struct job){.lock = &lock,
				       .cond = &cond,
				       .order = order,
				       .ran = &ran,
				       .number = i + 1,
				       .block_fd = -1};
	/* The worker's context copies the loop's. */
	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_SYSFS, "/tmp/fake-sys"), 0);
	loop_lock(f->loop);
	wctx = loop_worker_ctx(f->loop);
	assert_non_null(wctx);
	assert_ptr_not_equal(wctx, f->ctx);
	assert_string_equal(hostdev_ctx_get_path(wctx, HOSTDEV_PATH_SYSFS), "/tmp/fake-sys");
	/* In order, off the loop's thread; done on the dispatching thread. Job 1 blocks until
	 * job 2 is cancelled, which must then never run. */
	jobs[0].block_fd = pipe_fd[0];
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_queue_work(f->loop, job_work, job_done, &jobs[i], &w[i]), 0);
	loop_unlock(f->loop);
	pthread_mutex_lock(&lock);
	while (!jobs[0].running)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	loop_lock(f->loop);
	loop_cancel_work(w[1]);
	loop_unlock(f->loop);
	assert_int_equal(write(pipe_fd[1], "x", 1), 1);
	dispatch_until(f->loop, &jobs[2].done, 30000);
	assert_true(jobs[0].done && jobs[2].done && !jobs[1].done && !jobs[1].running);
	assert_int_equal(ran, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_false(pthread_equal(jobs[0].work_thread, pthread_self()));
	assert_true(pthread_equal(jobs[0].done_thread, pthread_self()));
	/* Cancelling a running job waits for its work (released by another thread meanwhile), and
	 * its done never runs. */
	jobs[3].block_fd = pipe_fd[0];
	rel = (struct release){&jobs[3], pipe_fd[1]};
	loop_lock(f->loop);
	assert_int_equal(loop_queue_work(f->loop, job_work, job_done, &jobs[3], &w[3]), 0);
	loop_unlock(f->loop);
	pthread_mutex_lock(&lock);
	while (!jobs[3].running)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	assert_int_equal(pthread_create(&thread, NULL, release_when_running, &rel), 0);
	loop_lock(f->loop);
	loop_cancel_work(w[3]);
	loop_unlock(f->loop);
	assert_true(jobs[3].worked);
	assert_int_equal(pthread_join(thread, NULL), 0);
	/* Waiting for a job without a done function, without the loop's lock. */
	jobs[1] = (struct job){
	    .lock = &lock, .cond = &cond, .order = order, .ran = &ran, .number = 5, .block_fd = -1};
	loop_lock(f->loop);
	assert_int_equal(loop_queue_work(f->loop, job_work, NULL, &jobs[1], &w[1]), 0);
	loop_unlock(f->loop);
	loop_wait_work(w[1]);
	assert_true(jobs[1].worked);
	while (hostdev_loop_dispatch(f->loop, 100) > 0)
		;
	assert_false(jobs[3].done || jobs[1].done);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
}

/* ---------------------------------------------------------------------------------------------- */
/* Loop */

struct order {
	char seen[16];
	int n;
	hostdev_loop *loop;
	struct loop_source *other;
};

static void record(struct loop_source *source, void *userdata)
{
	struct order *o = userdata;

	o->seen[o->n] = 'a';
	o->n++;
}

static void add_zero_timer(struct loop_source *source, void *userdata)
{
	struct order *o = userdata;

	o->seen[o->n++] = 'Z';
	/* Added in this round: must not fire before the next one. */
	assert_int_equal(loop_add_timer(o->loop, 0, record, o, NULL), 0);
	loop_remove(source); /* harmless on a timer that fired */
}

static void test_timers(void **state)
{
	struct fixture *f = *state;
	struct order o = {.loop = f->loop};
	struct loop_source *removed;
	uint64_t start = now_ms();
	int r;

	assert_int_equal(loop_add_timer(f->loop, 30, record, &o, NULL), 0);
	assert_int_equal(loop_add_timer(f->loop, 60, record, &o, NULL), 0);
	assert_int_equal(loop_add_timer(f->loop, 10, record, &o, &removed), 0);
	loop_remove(removed);
	while (o.n < 2)
		assert_true(hostdev_loop_dispatch(f->loop, 1000) >= 0);
	assert_true(now_ms() - start >= 60);
	assert_int_equal(o.n, 2);

	/* A zero delay fires on the next round; one added by a callback waits a round. */
	o.n = 0;
	assert_int_equal(loop_add_timer(f->loop, 0, add_zero_timer, &o, NULL), 0);
	r = hostdev_loop_dispatch(f->loop, 1000);
	assert_int_equal(r, 1);
	assert_int_equal(o.n, 1);
	r = hostdev_loop_dispatch(f->loop, 1000);
	assert_int_equal(r, 1);
	assert_int_equal(o.n, 2);
	/* Nothing left: a dispatch times out with 0. */
	assert_int_equal(hostdev_loop_dispatch(f->loop, 20), 0);
}

struct pipes {
	int a[2], b[2];
	struct loop_source *sa, *sb;
	int ran_a, ran_b;
};

static void on_a(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct pipes *p = userdata;

	p->ran_a++;
	/* Remove both: b's event of this round must not be delivered. */
	loop_remove(p->sb);
	loop_remove(source);
}

static void on_b(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct pipes *p = userdata;

	p->ran_b++;
	loop_remove(p->sa);
	loop_remove(source);
}

static void test_remove_in_callback(void **state)
{
	struct fixture *f = *state;
	struct pipes p = {0};

	assert_int_equal(pipe(p.a), 0);
	assert_int_equal(pipe(p.b), 0);
	assert_int_equal(loop_add_fd(f->loop, p.a[0], POLLIN, on_a, &p, &p.sa), 0);
	assert_int_equal(loop_add_fd(f->loop, p.b[0], POLLIN, on_b, &p, &p.sb), 0);
	assert_int_equal(write(p.a[1], "x", 1), 1);
	assert_int_equal(write(p.b[1], "x", 1), 1);
	assert_int_equal(hostdev_loop_dispatch(f->loop, 1000), 1);
	assert_int_equal(p.ran_a + p.ran_b, 1);
	assert_int_equal(hostdev_loop_dispatch(f->loop, 20), 0);
	for (int i = 0; i < 2; i++) {
		close(p.a[i]);
		close(p.b[i]);
	}
}

static void *quit_later(void *arg)
{
	usleep(50 * 1000);
	hostdev_loop_quit(arg);
	return NULL;
}

static hostdev_loop *signal_loop;

static void on_alarm(int sig)
{
	hostdev_loop_quit(signal_loop);
}

static void test_quit(void **state)
{
	struct fixture *f = *state;
	struct sigaction sa = {.sa_handler = on_alarm};
	pthread_t t;

	/* From another thread. */
	assert_int_equal(pthread_create(&t, NULL, quit_later, f->loop), 0);
	assert_int_equal(hostdev_loop_run(f->loop), 0);
	pthread_join(t, NULL);

	/* From a signal handler (async-signal-safe). */
	signal_loop = f->loop;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	ualarm(50 * 1000, 0);
	assert_int_equal(hostdev_loop_run(f->loop), 0);
	signal(SIGALRM, SIG_DFL);
}

static void test_embed(void **state)
{
	struct fixture *f = *state;
	struct pollfd pfd = {.fd = hostdev_loop_get_fd(f->loop), .events = POLLIN};
	struct order o = {.loop = f->loop};

	assert_true(pfd.fd >= 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(loop_add_timer(f->loop, 20, record, &o, NULL), 0);
	/* The epoll fd turns readable when the timer is due. */
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(hostdev_loop_dispatch(f->loop, 0), 1);
	assert_int_equal(o.n, 1);
	assert_int_equal(poll(&pfd, 1, 0), 0);
}

struct flag_timer {
	volatile int fired;
};

static void set_flag(struct loop_source *source, void *userdata)
{
	((struct flag_timer *)userdata)->fired = 1;
}

/* A handler that fails: its error is readable inside the handler. */
struct failing_handler {
	hostdev_ctx *ctx;
	char seen[128];
	int fired;
};

static void fail_in_handler(struct loop_source *source, void *userdata)
{
	struct failing_handler *h = userdata;

	(void)source;
	hostdev_error(h->ctx, -EIO, "handler failure");
	snprintf(h->seen, sizeof(h->seen), "%s", hostdev_ctx_get_error(h->ctx));
	h->fired = 1;
}

/*
 * Errors of the loop's handlers stay on the dispatching thread: the message a caller got from
 * its own failing call survives a dispatch round (on this thread or the loop's own) that fails
 * in a handler, and the handler reads its own error.
 */
static void test_handler_errors_stay_on_their_thread(void **state)
{
	struct fixture *f = *state;
	struct failing_handler h = {.ctx = f->ctx};
	uint64_t end;

	assert_int_equal(hostdev_ctx_set_path(f->ctx, HOSTDEV_PATH_SYSFS, ""), -EINVAL);
	assert_string_equal(hostdev_ctx_get_error(f->ctx), "path kind 0: empty path");

	loop_lock(f->loop);
	assert_int_equal(loop_add_timer(f->loop, 0, fail_in_handler, &h, NULL), 0);
	loop_unlock(f->loop);
	assert_true(hostdev_loop_dispatch(f->loop, 1000) >= 1);
	assert_true(h.fired);
	assert_string_equal(h.seen, "handler failure");
	assert_string_equal(hostdev_ctx_get_error(f->ctx), "path kind 0: empty path");

	h.fired = 0;
	h.seen[0] = '\0';
	assert_int_equal(hostdev_loop_start_thread(f->loop), 0);
	loop_lock(f->loop);
	assert_int_equal(loop_add_timer(f->loop, 5, fail_in_handler, &h, NULL), 0);
	loop_unlock(f->loop);
	end = now_ms() + WAIT_MS;
	while (!__atomic_load_n(&h.fired, __ATOMIC_ACQUIRE) && now_ms() < end)
		usleep(1000);
	assert_int_equal(hostdev_loop_stop_thread(f->loop), 0);
	assert_string_equal(h.seen, "handler failure");
	assert_string_equal(hostdev_ctx_get_error(f->ctx), "path kind 0: empty path");
}

static void test_thread(void **state)
{
	struct fixture *f = *state;
	struct flag_timer ft = {0};
	hostdev_loop *loop2;
	uint64_t end;

	assert_int_equal(hostdev_loop_start_thread(f->loop), 0);
	assert_int_equal(hostdev_loop_start_thread(f->loop), -EALREADY);
	/* A timer added from this thread while the loop waits on its own. */
	loop_lock(f->loop);
	assert_int_equal(loop_add_timer(f->loop, 10, set_flag, &ft, NULL), 0);
	loop_unlock(f->loop);
	end = now_ms() + WAIT_MS;
	while (!ft.fired && now_ms() < end)
		usleep(1000);
	assert_true(ft.fired);
	assert_int_equal(hostdev_loop_stop_thread(f->loop), 0);
	assert_int_equal(hostdev_loop_stop_thread(f->loop), 0);

	/* The last reference stops a running thread. */
	assert_int_equal(hostdev_loop_new(f->ctx, &loop2), 0);
	assert_int_equal(hostdev_loop_start_thread(loop2), 0);
	assert_null(hostdev_loop_unref(loop2));
}

/* ---------------------------------------------------------------------------------------------- */
/* Server and client */

struct server_state {
	hostdev_loop *loop;
	int closed;
	struct grpc_call *stream;
};

static void h_echo(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	assert_int_equal(grpc_call_send(call, msg, len), 0);
	assert_int_equal(grpc_call_finish(call, GRPC_STATUS_OK, NULL), 0);
	assert_int_equal(grpc_call_finish(call, GRPC_STATUS_OK, NULL), -EINVAL);
}

static void h_fail(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	assert_int_equal(grpc_call_finish(call, GRPC_STATUS_FAILED_PRECONDITION, "busy: 100%\n"),
			 0);
}

static void h_silent(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	/* Never answers: the client's deadline or a shutdown ends it. */
	struct server_state *s = userdata;

	s->stream = call;
}

static void stream_closed(struct grpc_call *call, void *userdata)
{
	struct server_state *s = userdata;

	s->closed++;
	s->stream = NULL;
}

static void h_stream(struct grpc_call *call, const uint8_t *msg, size_t len, void *userdata)
{
	struct server_state *s = userdata;

	s->stream = call;
	grpc_call_on_close(call, stream_closed, s);
	assert_int_equal(grpc_call_send(call, (const uint8_t *)"", 0), 0);
}

/* Dispatch until a handler took a call (slow under valgrind on a loaded machine). */
static void wait_for_stream(hostdev_loop *loop, struct server_state *s)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (!s->stream && now_ms() < end)
		assert_true(hostdev_loop_dispatch(loop, 50) >= 0);
}

static const struct grpc_method methods[] = {
    {"/t.S/Echo", h_echo},
    {"/t.S/Fail", h_fail},
    {"/t.S/Silent", h_silent},
    {"/t.S/Stream", h_stream},
};

struct result {
	volatile int done;
	int status;
	char message[256];
	char response[256];
	size_t length;
};

static void on_done(int status, const char *message, const uint8_t *response, size_t length,
		    void *userdata)
{
	struct result *r = userdata;

	assert_int_equal(r->done, 0);
	r->status = status;
	snprintf(r->message, sizeof(r->message), "%s", message);
	r->length = length;
	if (response && length < sizeof(r->response))
		memcpy(r->response, response, length);
	r->done = 1;
}

static struct result *call(struct fixture *f, const char *method, const char *request,
			   int timeout_ms)
{
	struct result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(grpc_client_unary(f->loop, f->sock, method, (const uint8_t *)request,
					   strlen(request), timeout_ms, on_done, r, NULL),
			 0);
	/* done never runs inside grpc_client_unary(). */
	assert_int_equal(r->done, 0);
	dispatch_until(f->loop, &r->done, WAIT_MS);
	assert_true(r->done);
	return r;
}

static void test_unary(void **state)
{
	struct fixture *f = *state;
	struct server_state s = {.loop = f->loop};
	struct grpc_server *server;
	struct result *r;

	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &server), 0);
	assert_int_equal(grpc_server_socket_inode(server), 0);
	assert_int_equal(grpc_server_listen(server, f->sock), 0);
	assert_int_not_equal(grpc_server_socket_inode(server), 0);
	assert_int_equal(grpc_server_listen(server, f->sock), -EALREADY);

	r = call(f, "/t.S/Echo", "hello", WAIT_MS);
	assert_int_equal(r->status, GRPC_STATUS_OK);
	assert_int_equal(r->length, 5);
	assert_memory_equal(r->response, "hello", 5);
	free(r);

	r = call(f, "/t.S/Echo", "", WAIT_MS);
	assert_int_equal(r->status, GRPC_STATUS_OK);
	assert_int_equal(r->length, 0);
	free(r);

	r = call(f, "/t.S/Fail", "x", WAIT_MS);
	assert_int_equal(r->status, GRPC_STATUS_FAILED_PRECONDITION);
	assert_string_equal(r->message, "busy: 100%\n");
	free(r);

	r = call(f, "/t.S/Nope", "x", WAIT_MS);
	assert_int_equal(r->status, GRPC_STATUS_UNIMPLEMENTED);
	assert_non_null(strstr(r->message, "/t.S/Nope"));
	free(r);

	r = call(f, "/t.S/Silent", "x", 100);
	assert_int_equal(r->status, GRPC_STATUS_DEADLINE_EXCEEDED);
	free(r);

	grpc_server_shutdown(server, true);
	assert_int_equal(access(f->sock, F_OK), -1);
	r = call(f, "/t.S/Echo", "x", WAIT_MS);
	assert_int_equal(r->status, GRPC_STATUS_UNAVAILABLE);
	assert_non_null(strstr(r->message, f->sock));
	free(r);
	grpc_server_free(server);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct server_state s = {.loop = f->loop};
	struct grpc_server *server;
	struct grpc_client_call *c;
	struct result r = {0};

	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &server), 0);
	assert_int_equal(grpc_server_listen(server, f->sock), 0);
	/* A deadline the cancel comes long before (a loaded machine must not let it expire). */
	assert_int_equal(grpc_client_unary(f->loop, f->sock, "/t.S/Silent", (const uint8_t *)"x", 1,
					   WAIT_MS, on_done, &r, &c),
			 0);
	/* Let the request reach the server, then cancel: done never runs. */
	wait_for_stream(f->loop, &s);
	assert_non_null(s.stream);
	grpc_client_cancel(c);
	for (int i = 0; i < 30; i++)
		hostdev_loop_dispatch(f->loop, 10);
	assert_int_equal(r.done, 0);

	/* A connection failure is reported from the loop, and cancel works before it too. */
	assert_int_equal(grpc_client_unary(f->loop, "/nonexistent/x.sock", "/t.S/Echo", NULL, 0,
					   WAIT_MS, on_done, &r, &c),
			 0);
	grpc_client_cancel(c);
	for (int i = 0; i < 5; i++)
		hostdev_loop_dispatch(f->loop, 10);
	assert_int_equal(r.done, 0);
	grpc_server_free(server);
}

static void test_shutdown_closes_streams(void **state)
{
	struct fixture *f = *state;
	struct server_state s = {.loop = f->loop};
	struct grpc_server *server;
	struct grpc_client_call *c;
	struct result r = {0};

	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &server), 0);
	assert_int_equal(grpc_server_listen(server, f->sock), 0);
	/* A unary client on a streaming method: the first message arrives, the call stays open. */
	assert_int_equal(grpc_client_unary(f->loop, f->sock, "/t.S/Stream", (const uint8_t *)"x", 1,
					   WAIT_MS, on_done, &r, &c),
			 0);
	wait_for_stream(f->loop, &s);
	assert_non_null(s.stream);
	grpc_server_free(server);
	assert_int_equal(s.closed, 1);
	dispatch_until(f->loop, &r.done, WAIT_MS);
	assert_true(r.done);
	assert_int_not_equal(r.status, GRPC_STATUS_OK);
}

/* A raw HTTP/2 client connected to @f's server, past the preface and the SETTINGS exchange. */
static int raw_client(struct fixture *f)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				      "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* SETTINGS */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t end = now_ms() + WAIT_MS;
	struct pollfd pfd;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, preface, sizeof(preface) - 1), (ssize_t)sizeof(preface) - 1);
	/* The server's SETTINGS say it accepted and read us. */
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	while (poll(&pfd, 1, 0) == 0 && now_ms() < end)
		assert_true(hostdev_loop_dispatch(f->loop, 50) >= 0);
	assert_true(pfd.revents & POLLIN);
	return fd;
}

/* Reads a raw client's socket to its end, then closes it. */
struct raw_reader {
	int fd;
	bool goaway; /* a GOAWAY frame came */
	ssize_t end; /* the last recv(): 0 end of stream, -1 error (errno in err) */
	int err;
};

static void *read_to_end(void *arg)
{
	struct raw_reader *r = arg;
	uint8_t buf[65536];
	size_t used = 0;

	for (;;) {
		ssize_t n = recv(r->fd, buf + used, sizeof(buf) - used, 0);

		if (n <= 0) {
			r->end = n;
			r->err = n < 0 ? errno : 0;
			break;
		}
		used += (size_t)n;
		/* Whole frames: 3 bytes length, type, flags, stream id, payload. */
		while (used >= 9) {
			size_t len = (size_t)buf[0] << 16 | (size_t)buf[1] << 8 | buf[2];

			if (used < 9 + len)
				break;
			if (buf[3] == 0x7)
				r->goaway = true;
			memmove(buf, buf + 9 + len, used - 9 - len);
			used -= 9 + len;
		}
		assert_true(used < sizeof(buf));
	}
	close(r->fd);
	return NULL;
}

/*
 * A graceful shutdown while the peer still writes: the peer reads everything (the GOAWAY last)
 * and then the end of the stream. A plain close with the peer's frames unread resets the
 * connection instead (ECONNRESET), and gRPC clients then drop what they had not parsed yet.
 */
static void test_graceful_shutdown(void **state)
{
	static const char ping[] = "\x00\x00\x08\x06\x00\x00\x00\x00\x00"
				   "12345678";
	struct fixture *f = *state;
	struct server_state s = {.loop = f->loop};
	struct grpc_server *server;
	struct raw_reader reader = {0};
	pthread_t t;

	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &server), 0);
	assert_int_equal(grpc_server_listen(server, f->sock), 0);
	reader.fd = raw_client(f);
	/* Frames the server has not read when it shuts down. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(write(reader.fd, ping, sizeof(ping) - 1),
				 (ssize_t)sizeof(ping) - 1);
	assert_int_equal(pthread_create(&t, NULL, read_to_end, &reader), 0);
	grpc_server_shutdown_gracefully(server, true, WAIT_MS);
	pthread_join(t, NULL);
	assert_true(reader.goaway);
	assert_int_equal(reader.end, 0);
	assert_int_equal(reader.err, 0);
	assert_int_equal(access(f->sock, F_OK), -1);

	/* A peer that never reads nor closes holds the shutdown only for the time given. */
	assert_int_equal(grpc_server_listen(server, f->sock), 0);
	reader.fd = raw_client(f);
	assert_int_equal(write(reader.fd, ping, sizeof(ping) - 1), (ssize_t)sizeof(ping) - 1);
	grpc_server_shutdown_gracefully(server, true, 100);
	reader.goaway = false;
	read_to_end(&reader);
	assert_true(reader.goaway);
	grpc_server_free(server);
}

static void test_stale_socket(void **state)
{
	struct fixture *f = *state;
	struct server_state s = {.loop = f->loop};
	struct grpc_server *a, *b;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	/* A socket file nobody accepts on (a crashed plugin's) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(strlen(f->sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &a), 0);
	assert_int_equal(grpc_server_listen(a, f->sock), 0);

	/* A live one is not. */
	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &b), 0);
	assert_int_equal(grpc_server_listen(b, f->sock), -EADDRINUSE);
	assert_non_null(strstr(hostdev_ctx_get_error(f->ctx), f->sock));

	/* Someone replaced our file: shutdown leaves theirs alone. */
	assert_int_equal(unlink(f->sock), 0);
	fd = open(f->sock, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	grpc_server_shutdown(a, true);
	assert_int_equal(stat(f->sock, &st), 0);
	/* A file that is not a socket is never replaced. */
	assert_int_equal(grpc_server_listen(b, f->sock), -EEXIST);
	unlink(f->sock);
	grpc_server_free(a);
	grpc_server_free(b);
}

static void test_client_from_other_thread(void **state)
{
	struct fixture *f = *state;
	struct server_state s = {.loop = f->loop};
	struct grpc_server *server;
	struct result r = {0};
	uint64_t end;

	assert_int_equal(grpc_server_new(f->loop, methods, ARRAY_SIZE(methods), &s, &server), 0);
	assert_int_equal(grpc_server_listen(server, f->sock), 0);
	assert_int_equal(hostdev_loop_start_thread(f->loop), 0);
	loop_lock(f->loop);
	assert_int_equal(grpc_client_unary(f->loop, f->sock, "/t.S/Echo", (const uint8_t *)"thr", 3,
					   WAIT_MS, on_done, &r, NULL),
			 0);
	loop_unlock(f->loop);
	end = now_ms() + WAIT_MS;
	while (!r.done && now_ms() < end)
		usleep(1000);
	assert_true(r.done);
	assert_int_equal(r.status, GRPC_STATUS_OK);
	assert_memory_equal(r.response, "thr", 3);

	/* The answer comes from this thread while the loop waits on its own: the queued output
	 * must wake it (ListAndWatch updates pushed by hostdev_dp_server_set_devices()). */
	memset(&r, 0, sizeof(r));
	loop_lock(f->loop);
	assert_int_equal(grpc_client_unary(f->loop, f->sock, "/t.S/Silent", (const uint8_t *)"q", 1,
					   WAIT_MS, on_done, &r, NULL),
			 0);
	loop_unlock(f->loop);
	end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		bool taken;

		loop_lock(f->loop);
		taken = s.stream != NULL;
		if (taken) {
			assert_int_equal(grpc_call_send(s.stream, (const uint8_t *)"late", 4), 0);
			assert_int_equal(grpc_call_finish(s.stream, GRPC_STATUS_OK, NULL), 0);
		}
		loop_unlock(f->loop);
		if (taken)
			break;
		usleep(1000);
	}
	while (!r.done && now_ms() < end)
		usleep(1000);
	assert_true(r.done);
	assert_int_equal(r.status, GRPC_STATUS_OK);
	assert_memory_equal(r.response, "late", 4);
	assert_int_equal(hostdev_loop_stop_thread(f->loop), 0);
	grpc_server_free(server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_worker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_in_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_embed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_errors_stay_on_their_thread, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shutdown_closes_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_graceful_shutdown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_from_other_thread, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
