/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's event loop (hostdev_loop, loop.h): one epoll fd watching the registered fds, one
 * timerfd armed for the earliest one-shot timer and one eventfd that quit() writes to. The epoll fd
 * is the fd an embedding program polls, so timers and quit must reach it through fds of their own.
 *
 * epoll entries carry a source id, not a pointer: another thread may remove (and free) a source
 * while epoll_wait() runs without the lock, so an event is only delivered when its id still names
 * a live source. Sources removed during a dispatch round are freed at its end, so that a
 * callback may remove any source, itself included.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

/* Events taken from epoll per round. */
#define MAX_EVENTS 64

/* Ids of the loop's own fds in epoll; sources count up from FIRST_SOURCE_ID. */
enum {
	ID_WAKE = 1,
	ID_TIMER = 2,
	FIRST_SOURCE_ID = 16,
};

enum source_type {
	SOURCE_FD,
	SOURCE_TIMER,
};

struct loop_source {
	hostdev_loop *loop;
	enum source_type type;
	uint64_t id;
	bool removed;
	void *userdata;
	/* SOURCE_FD */
	int fd;
	uint32_t events;
	loop_fd_fn fd_fn;
	/* SOURCE_TIMER: CLOCK_MONOTONIC deadline in ns, and the round it was added in */
	uint64_t deadline_ns;
	uint64_t round;
	loop_timer_fn timer_fn;
	struct loop_source *prev, *next;
};

struct hostdev_dp_loop {
	atomic_int refcount;
	hostdev_ctx *ctx;
	int epoll_fd;
	int wake_fd;
	int timer_fd;
	/* Deadline the timerfd is armed for, 0 when disarmed. */
	uint64_t armed_ns;
	atomic_bool quit_requested;

	pthread_mutex_t lock;
	struct loop_source *sources;
	uint64_t next_id;
	/* Incremented at the start of every dispatch round. */
	uint64_t round;
	/* A dispatch is running (waiting or running callbacks); sources are freed at its end. */
	bool dispatching;
	bool garbage;

	/* loop_slot() */
	void *slots[LOOP_SLOTS];
	void (*slot_free[LOOP_SLOTS])(void *state);

	pthread_t thread;
	bool thread_running;
	/* The last reference was dropped on the loop's own thread: it frees the loop on exit. */
	bool free_on_exit;

	/* How long the loop's thread was held: the rounds that handled something and the longest
	 * of them (from epoll_wait()'s return to the end of the round), logged at debug level when
	 * the loop is freed. Work that holds the loop delays every socket of it; the benchmark
	 * (bench/dp_idle.py) reads the figure. */
	uint64_t busy_rounds;
	uint64_t longest_round_ns;
	/* With debug logging only (it costs a system call per round): the most CPU time one round
	 * took on the loop's thread, which a busy machine's preemptions do not inflate. */
	uint64_t longest_round_cpu_ns;
};

/* A round this long is logged (with debug logging): 1 ms, a fifth of issue #15's bound. */
#define LONG_ROUND_NS 1000000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void loop_lock(hostdev_loop *loop)
{
	pthread_mutex_lock(&loop->lock);
}

void loop_unlock(hostdev_loop *loop)
{
	pthread_mutex_unlock(&loop->lock);
}

hostdev_ctx *loop_ctx(hostdev_loop *loop)
{
	return loop->ctx;
}

void *loop_slot(hostdev_loop *loop, enum loop_slot slot)
{
	return loop->slots[slot];
}

void loop_set_slot(hostdev_loop *loop, enum loop_slot slot, void *state,
		   void (*free_fn)(void *state))
{
	loop->slots[slot] = state;
	loop->slot_free[slot] = free_fn;
}

static void source_link(hostdev_loop *loop, struct loop_source *s)
{
	s->loop = loop;
	s->id = loop->next_id++;
	s->next = loop->sources;
	if (loop->sources)
		loop->sources->prev = s;
	loop->sources = s;
}

static void source_unlink_free(struct loop_source *s)
{
	hostdev_loop *loop = s->loop;

	if (s->prev)
		s->prev->next = s->next;
	else
		loop->sources = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static void collect_garbage(hostdev_loop *loop)
{
	struct loop_source *s, *next;

	if (!loop->garbage)
		return;
	for (s = loop->sources; s; s = next) {
		next = s->next;
		if (s->removed)
			source_unlink_free(s);
	}
	loop->garbage = false;
}

/* Arm the timerfd for the earliest live timer (or disarm it). */
static void rearm_timer(hostdev_loop *loop)
{
	struct itimerspec its = {0};
	uint64_t earliest = 0;

	for (struct loop_source *s = loop->sources; s; s = s->next) {
		if (s->type != SOURCE_TIMER || s->removed)
			continue;
		if (!earliest || s->deadline_ns < earliest)
			earliest = s->deadline_ns;
	}
	if (earliest == loop->armed_ns)
		return;
	its.it_value.tv_sec = (time_t)(earliest / 1000000000u);
	its.it_value.tv_nsec = (long)(earliest % 1000000000u);
	/* An absolute time in the past fires at once; all zeroes disarms. */
	if (timerfd_settime(loop->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn(loop->ctx, "event loop: cannot arm the timerfd: %s", strerror(errno));
	else
		loop->armed_ns = earliest;
}

int loop_add_fd(hostdev_loop *loop, int fd, uint32_t events, loop_fd_fn fn, void *userdata,
		struct loop_source **out)
{
	struct epoll_event ev = {.events = events};
	struct loop_source *s;

	if (!loop || fd < 0 || !fn)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->type = SOURCE_FD;
	s->fd = fd;
	s->events = events;
	s->fd_fn = fn;
	s->userdata = userdata;
	loop_lock(loop);
	source_link(loop, s);
	ev.data.u64 = s->id;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		source_unlink_free(s);
		loop_unlock(loop);
		return hostdev_error(loop->ctx, err, "event loop: cannot watch fd %d: %s", fd,
				     strerror(-err));
	}
	loop_unlock(loop);
	if (out)
		*out = s;
	return 0;
}

int loop_modify_fd(struct loop_source *source, uint32_t events)
{
	struct epoll_event ev = {.events = events};
	hostdev_loop *loop;
	int r = 0;

	if (!source || source->type != SOURCE_FD || source->removed)
		return -EINVAL;
	loop = source->loop;
	loop_lock(loop);
	if (source->events != events) {
		ev.data.u64 = source->id;
		if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, source->fd, &ev) < 0)
			r = hostdev_error(loop->ctx, -errno,
					  "event loop: cannot change events of fd %d: %s",
					  source->fd, strerror(errno));
		else
			source->events = events;
	}
	loop_unlock(loop);
	return r;
}

int loop_add_timer(hostdev_loop *loop, uint64_t delay_ms, loop_timer_fn fn, void *userdata,
		   struct loop_source **out)
{
	struct loop_source *s;

	if (!loop || !fn)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->type = SOURCE_TIMER;
	s->fd = -1;
	s->timer_fn = fn;
	s->userdata = userdata;
	if (delay_ms > UINT64_MAX / 2000000u)
		delay_ms = UINT64_MAX / 2000000u;
	s->deadline_ns = now_ns() + delay_ms * 1000000u;
	loop_lock(loop);
	s->round = loop->round;
	source_link(loop, s);
	rearm_timer(loop);
	loop_unlock(loop);
	if (out)
		*out = s;
	return 0;
}

void loop_remove(struct loop_source *source)
{
	hostdev_loop *loop;

	if (!source || source->removed)
		return;
	loop = source->loop;
	loop_lock(loop);
	source->removed = true;
	if (source->type == SOURCE_FD)
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, source->fd, NULL);
	if (loop->dispatching) {
		/* The round's events may still name it; the timerfd is re-armed at its end. */
		loop->garbage = true;
	} else {
		bool timer = source->type == SOURCE_TIMER;

		source_unlink_free(source);
		if (timer)
			rearm_timer(loop);
	}
	loop_unlock(loop);
}

static struct loop_source *find_source(hostdev_loop *loop, uint64_t id)
{
	for (struct loop_source *s = loop->sources; s; s = s->next)
		if (s->id == id)
			return s->removed ? NULL : s;
	return NULL;
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

/* Run the timers that are due and were added before this round. Returns how many ran. */
static int run_timers(hostdev_loop *loop)
{
	uint64_t now = now_ns();
	int n = 0;
	bool again = true;

	while (again) {
		again = false;
		for (struct loop_source *s = loop->sources; s; s = s->next) {
			if (s->type != SOURCE_TIMER || s->removed || s->round >= loop->round ||
			    s->deadline_ns > now)
				continue;
			/* One-shot: gone before its callback runs, freed at the end of the round.
			 */
			s->removed = true;
			loop->garbage = true;
			s->timer_fn(s, s->userdata);
			n++;
			/* The callback may have changed the list: start over. */
			again = true;
			break;
		}
	}
	return n;
}

HOSTDEV_EXPORT int hostdev_loop_new(hostdev_ctx *ctx, hostdev_loop **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	pthread_mutexattr_t attr;
	hostdev_loop *loop;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return hostdev_error(ctx, -ENOMEM, "event loop: out of memory");
	atomic_init(&loop->refcount, 1);
	atomic_init(&loop->quit_requested, false);
	loop->epoll_fd = loop->wake_fd = loop->timer_fd = -1;
	loop->next_id = FIRST_SOURCE_ID;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&loop->lock, &attr);
	pthread_mutexattr_destroy(&attr);

	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		r = hostdev_error(ctx, -errno, "event loop: epoll_create1: %s", strerror(errno));
		goto fail;
	}
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		r = hostdev_error(ctx, -errno, "event loop: eventfd: %s", strerror(errno));
		goto fail;
	}
	loop->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (loop->timer_fd < 0) {
		r = hostdev_error(ctx, -errno, "event loop: timerfd_create: %s", strerror(errno));
		goto fail;
	}
	ev.data.u64 = ID_WAKE;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
		r = hostdev_error(ctx, -errno, "event loop: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	ev.data.u64 = ID_TIMER;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->timer_fd, &ev) < 0) {
		r = hostdev_error(ctx, -errno, "event loop: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	loop->ctx = hostdev_ctx_ref(ctx);
	*out = loop;
	return 0;

fail:
	if (loop->timer_fd >= 0)
		close(loop->timer_fd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
	return r;
}

HOSTDEV_EXPORT hostdev_loop *hostdev_loop_ref(hostdev_loop *loop)
{
	if (loop)
		atomic_fetch_add(&loop->refcount, 1);
	return loop;
}

static void loop_free(hostdev_loop *loop)
{
	struct loop_source *s, *next;

	log_debug(loop->ctx,
		  "event loop: %" PRIu64 " rounds handled events, the longest took %" PRIu64
		  " us (the most CPU time in one: %" PRIu64 " us)",
		  loop->busy_rounds, loop->longest_round_ns / 1000,
		  loop->longest_round_cpu_ns / 1000);

	/* Sources still registered belong to objects that outlived the loop's last reference;
	 * free the bookkeeping, the fds are theirs. */
	for (s = loop->sources; s; s = next) {
		next = s->next;
		free(s);
	}
	for (int i = 0; i < LOOP_SLOTS; i++)
		if (loop->slot_free[i])
			loop->slot_free[i](loop->slots[i]);
	close(loop->timer_fd);
	close(loop->wake_fd);
	close(loop->epoll_fd);
	pthread_mutex_destroy(&loop->lock);
	hostdev_ctx_unref(loop->ctx);
	free(loop);
}

HOSTDEV_EXPORT hostdev_loop *hostdev_loop_unref(hostdev_loop *loop)
{
	if (!loop || atomic_fetch_sub(&loop->refcount, 1) > 1)
		return NULL;
	loop_lock(loop);
	if (loop->thread_running && pthread_equal(loop->thread, pthread_self())) {
		/* Dropped from a callback on the loop's own thread: it cannot join itself. */
		loop->free_on_exit = true;
		loop_unlock(loop);
		hostdev_loop_quit(loop);
		return NULL;
	}
	loop_unlock(loop);
	hostdev_loop_stop_thread(loop);
	loop_free(loop);
	return NULL;
}

HOSTDEV_DEFINE_GETTER(int, hostdev_loop, get_fd, epoll_fd, -EINVAL)

HOSTDEV_EXPORT int hostdev_loop_dispatch(hostdev_loop *loop, int timeout_ms)
{
	struct epoll_event events[MAX_EVENTS];
	struct ctx_error_redirect saved_redirect;
	char handler_error[HOSTDEV_ERROR_MAX];
	uint64_t started_ns, started_cpu_ns = 0;
	bool timed_cpu;
	int n, handled = 0;

	if (!loop)
		return -EINVAL;
	loop_lock(loop);
	if (loop->dispatching) {
		loop_unlock(loop);
		return hostdev_error(loop->ctx, -EBUSY,
				     "event loop: dispatch called while the loop is dispatching");
	}
	loop->dispatching = true;
	/* Timers added with delay 0 before this call must not wait for the timerfd's edge. */
	for (struct loop_source *s = loop->sources; s; s = s->next)
		if (s->type == SOURCE_TIMER && !s->removed && s->deadline_ns <= now_ns()) {
			timeout_ms = 0;
			break;
		}
	loop_unlock(loop);

	n = epoll_wait(loop->epoll_fd, events, MAX_EVENTS, timeout_ms);
	if (n < 0) {
		int err = -errno;

		loop_lock(loop);
		loop->dispatching = false;
		loop_unlock(loop);
		if (err == -EINTR)
			return err;
		return hostdev_error(loop->ctx, err, "event loop: epoll_wait: %s", strerror(-err));
	}

	loop_lock(loop);
	started_ns = now_ns();
	timed_cpu = loop->ctx->log_priority >= HOSTDEV_LOG_DEBUG;
	if (timed_cpu)
		started_cpu_ns = thread_cpu_ns();
	/* Handlers' errors stay on this thread (core/core.h): other threads read the context's. */
	ctx_error_redirect_begin(loop->ctx, handler_error, &saved_redirect);
	loop->round++;
	for (int i = 0; i < n; i++) {
		struct loop_source *s;

		switch (events[i].data.u64) {
		case ID_WAKE:
			drain(loop->wake_fd);
			handled++;
			continue;
		case ID_TIMER:
			drain(loop->timer_fd);
			loop->armed_ns = 0;
			continue;
		default:
			s = find_source(loop, events[i].data.u64);
			if (!s)
				continue;
			s->fd_fn(s, s->fd, events[i].events, s->userdata);
			handled++;
		}
	}
	/* Due timers run whatever woke the loop. */
	handled += run_timers(loop);
	collect_garbage(loop);
	loop->dispatching = false;
	rearm_timer(loop);
	ctx_error_redirect_end(&saved_redirect);
	if (handled) {
		uint64_t took = now_ns() - started_ns, cpu = 0;

		loop->busy_rounds++;
		if (took > loop->longest_round_ns)
			loop->longest_round_ns = took;
		if (timed_cpu &&
		    (cpu = thread_cpu_ns() - started_cpu_ns) > loop->longest_round_cpu_ns)
			loop->longest_round_cpu_ns = cpu;
		/* Each long round at the moment it happens, so that the benchmark (bench/
		 * dp_events.py) can tell what held the loop: start-up, or an event. */
		if (timed_cpu && took >= LONG_ROUND_NS)
			log_debug(loop->ctx,
				  "event loop: a round took %" PRIu64 " us (%" PRIu64 " us of CPU)",
				  took / 1000, cpu / 1000);
	}
	loop_unlock(loop);
	return handled;
}

HOSTDEV_EXPORT int hostdev_loop_run(hostdev_loop *loop)
{
	int r;

	if (!loop)
		return -EINVAL;
	while (!atomic_exchange(&loop->quit_requested, false)) {
		r = hostdev_loop_dispatch(loop, -1);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return 0;
}

HOSTDEV_EXPORT int hostdev_loop_quit(hostdev_loop *loop)
{
	uint64_t one = 1;
	int saved = errno;

	if (!loop)
		return -EINVAL;
	/* Async-signal-safe: a lock-free atomic store and a write(). */
	atomic_store(&loop->quit_requested, true);
	if (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		int err = -errno;

		errno = saved;
		return err;
	}
	errno = saved;
	return 0;
}

static void *loop_thread(void *arg)
{
	hostdev_loop *loop = arg;
	sigset_t all;
	bool free_it;

	/* Signals belong to the program's other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	hostdev_loop_run(loop);
	loop_lock(loop);
	free_it = loop->free_on_exit;
	if (free_it) {
		loop->thread_running = false;
		pthread_detach(pthread_self());
	}
	loop_unlock(loop);
	if (free_it)
		loop_free(loop);
	return NULL;
}

HOSTDEV_EXPORT int hostdev_loop_start_thread(hostdev_loop *loop)
{
	int r;

	if (!loop)
		return -EINVAL;
	loop_lock(loop);
	if (loop->thread_running) {
		loop_unlock(loop);
		return hostdev_error(loop->ctx, -EALREADY,
				     "event loop: the loop's thread already runs");
	}
	r = pthread_create(&loop->thread, NULL, loop_thread, loop);
	if (r != 0) {
		loop_unlock(loop);
		return hostdev_error(loop->ctx, -r,
				     "event loop: cannot start the loop's thread: %s", strerror(r));
	}
	loop->thread_running = true;
	loop_unlock(loop);
	return 0;
}

HOSTDEV_EXPORT int hostdev_loop_stop_thread(hostdev_loop *loop)
{
	pthread_t thread;

	if (!loop)
		return -EINVAL;
	loop_lock(loop);
	if (!loop->thread_running) {
		loop_unlock(loop);
		return 0;
	}
	if (pthread_equal(loop->thread, pthread_self())) {
		loop_unlock(loop);
		return hostdev_error(loop->ctx, -EDEADLK,
				     "event loop: stop_thread called on the loop's own thread");
	}
	thread = loop->thread;
	loop->thread_running = false;
	loop_unlock(loop);
	hostdev_loop_quit(loop);
	pthread_join(thread, NULL);
	return 0;
}
