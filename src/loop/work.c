/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loop's worker thread (loop.h, "Work off the loop"): a FIFO of work items run one at a
 * time without the loop's lock, and an eventfd in the loop's epoll set through which finished
 * items come back to run their done functions on the loop.
 *
 * Locks: the loop's lock, then the worker's; the worker thread only ever takes its own, so that
 * the loop (or a thread holding the loop's lock) may wait for a work function to finish.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

enum work_state {
	WORK_QUEUED,
	WORK_RUNNING,
	WORK_DONE, /* on the done list, waiting for the loop */
};

struct worker;

struct loop_work {
	struct worker *worker;
	loop_work_fn work;
	loop_work_done_fn done;
	loop_work_done_fn drop; /* instead of @done when the loop goes first; NULL */
	void *userdata;
	enum work_state state;
	/* Cancelled or waited for: whoever did that frees the item once it is not running. */
	bool claimed;
	struct loop_work *next;
};

struct worker {
	hostdev_loop *loop; /* not a reference: the loop owns the worker */
	hostdev_ctx *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* work queued, stop, or an item stopped running */
	struct loop_work *queue, *queue_tail;
	struct loop_work *done, *done_tail;
	bool running, stop;
	pthread_t thread;
	int event_fd;
	struct loop_source *source;
};

static void push(struct loop_work **head, struct loop_work **tail, struct loop_work *w)
{
	w->next = NULL;
	if (*tail)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
}

/* Remove @w from the list; false when it is not there. */
static bool unlink_item(struct loop_work **head, struct loop_work **tail, struct loop_work *w)
{
	struct loop_work *prev = NULL;

	for (struct loop_work *it = *head; it; prev = it, it = it->next) {
		if (it != w)
			continue;
		if (prev)
			prev->next = it->next;
		else
			*head = it->next;
		if (*tail == it)
			*tail = prev;
		return true;
	}
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	sigset_t all;

	/* Signals belong to the program's other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&wk->lock);
	for (;;) {
		struct loop_work *w = wk->queue;
		uint64_t one = 1;

		if (!w && wk->stop)
			break;
		if (!w) {
			pthread_cond_wait(&wk->cond, &wk->lock);
			continue;
		}
		wk->queue = w->next;
		if (!wk->queue)
			wk->queue_tail = NULL;
		w->state = WORK_RUNNING;
		pthread_mutex_unlock(&wk->lock);
		w->work(w->userdata);
		pthread_mutex_lock(&wk->lock);
		w->state = WORK_DONE;
		if (w->claimed) {
			pthread_cond_broadcast(&wk->cond);
			continue;
		}
		push(&wk->done, &wk->done_tail, w);
		if (write(wk->event_fd, &one, sizeof(one)) < 0) {
			/* A full eventfd counter still wakes the loop. */
		}
	}
	pthread_mutex_unlock(&wk->lock);
	return NULL;
}

/* Finished items come back: their done functions run on the loop, one at a time (a done
 * function may cancel another finished item). */
static void on_done(struct loop_source *source, int fd, uint32_t revents, void *userdata)
{
	struct worker *wk = userdata;
	uint64_t count;

	while (read(fd, &count, sizeof(count)) > 0)
		;
	for (;;) {
		struct loop_work *w;

		pthread_mutex_lock(&wk->lock);
		w = wk->done;
		if (w) {
			wk->done = w->next;
			if (!wk->done)
				wk->done_tail = NULL;
		}
		pthread_mutex_unlock(&wk->lock);
		if (!w)
			break;
		if (w->done)
			w->done(w->userdata);
		free(w);
	}
}

static void worker_free(void *state)
{
	struct worker *wk = state;

	if (wk->running) {
		pthread_mutex_lock(&wk->lock);
		wk->stop = true;
		pthread_cond_broadcast(&wk->cond);
		pthread_mutex_unlock(&wk->lock);
		pthread_join(wk->thread, NULL);
	}
	/* Items left belong to objects that outlived the loop's last reference (the worker ran
	 * every queued item before it stopped: they are all on the done list). */
	while (wk->done) {
		struct loop_work *w = wk->done;

		wk->done = w->next;
		if (w->drop)
			w->drop(w->userdata);
		free(w);
	}
	if (wk->event_fd >= 0)
		close(wk->event_fd);
	hostdev_ctx_unref(wk->ctx);
	pthread_cond_destroy(&wk->cond);
	pthread_mutex_destroy(&wk->lock);
	free(wk);
}

/* A context like @src (paths, node name, logging), for another thread. */
static int ctx_copy(const hostdev_ctx *src, hostdev_ctx **out)
{
	hostdev_ctx *ctx;
	int r = hostdev_ctx_new(&ctx);

	for (int i = 0; i < HOSTDEV_PATH_COUNT && r == 0; i++)
		r = hostdev_ctx_set_path(ctx, (enum hostdev_path)i,
					 hostdev_ctx_get_path(src, (enum hostdev_path)i));
	if (r == 0)
		r = hostdev_ctx_set_node_name(ctx, hostdev_ctx_get_node_name(src));
	if (r < 0) {
		hostdev_ctx_unref(ctx);
		return r;
	}
	hostdev_ctx_set_log_fn(ctx, src->log_fn, src->log_userdata);
	hostdev_ctx_set_log_priority(ctx, src->log_priority);
	*out = ctx;
	return 0;
}

static struct worker *worker_of(hostdev_loop *loop)
{
	struct worker *wk = loop_slot(loop, LOOP_SLOT_WORKER);

	if (wk)
		return wk;
	wk = calloc(1, sizeof(*wk));
	if (!wk)
		return NULL;
	wk->loop = loop;
	wk->event_fd = -1;
	pthread_mutex_init(&wk->lock, NULL);
	pthread_cond_init(&wk->cond, NULL);
	if (ctx_copy(loop_ctx(loop), &wk->ctx) < 0) {
		worker_free(wk);
		return NULL;
	}
	loop_set_slot(loop, LOOP_SLOT_WORKER, wk, worker_free);
	return wk;
}

hostdev_ctx *loop_worker_ctx(hostdev_loop *loop)
{
	struct worker *wk = worker_of(loop);

	return wk ? wk->ctx : NULL;
}

static int worker_start(struct worker *wk)
{
	int r;

	if (wk->running)
		return 0;
	if (wk->event_fd < 0) {
		wk->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (wk->event_fd < 0)
			return hostdev_error(loop_ctx(wk->loop), -errno,
					     "event loop: no eventfd for the worker thread: %s",
					     strerror(errno));
		r = loop_add_fd(wk->loop, wk->event_fd, EPOLLIN, on_done, wk, &wk->source);
		if (r < 0) {
			close(wk->event_fd);
			wk->event_fd = -1;
			return r;
		}
	}
	r = pthread_create(&wk->thread, NULL, worker_main, wk);
	if (r != 0)
		return hostdev_error(loop_ctx(wk->loop), -r,
				     "event loop: cannot start the worker thread: %s", strerror(r));
	wk->running = true;
	return 0;
}

int loop_queue_work(hostdev_loop *loop, loop_work_fn work, loop_work_done_fn done, void *userdata,
		    struct loop_work **out)
{
	struct worker *wk = worker_of(loop);
	struct loop_work *w;
	int r;

	if (!wk)
		return -ENOMEM;
	r = worker_start(wk);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->worker = wk;
	w->work = work;
	w->done = done;
	w->userdata = userdata;
	/* Without a done function the caller waits for the item (loop_wait_work()), maybe
	 * without the loop's lock: it must never reach the loop, which would free it. */
	w->claimed = !done;
	pthread_mutex_lock(&wk->lock);
	push(&wk->queue, &wk->queue_tail, w);
	pthread_cond_broadcast(&wk->cond);
	pthread_mutex_unlock(&wk->lock);
	*out = w;
	return 0;
}

/*
 * Take @w back from the worker and free it: a queued item is dropped (@run_it false) or waited for
 * like a running one; an item on the done list is taken off it.
 */
static void claim(struct loop_work *w, bool run_it)
{
	struct worker *wk = w->worker;

	pthread_mutex_lock(&wk->lock);
	w->claimed = true;
	if (w->state == WORK_QUEUED && !run_it) {
		unlink_item(&wk->queue, &wk->queue_tail, w);
		w->state = WORK_DONE;
	}
	while (w->state != WORK_DONE)
		pthread_cond_wait(&wk->cond, &wk->lock);
	unlink_item(&wk->done, &wk->done_tail, w);
	pthread_mutex_unlock(&wk->lock);
	free(w);
}

void loop_work_set_drop(struct loop_work *w, loop_work_done_fn drop)
{
	w->drop = drop;
}

void loop_cancel_work(struct loop_work *w)
{
	if (w)
		claim(w, false);
}

void loop_wait_work(struct loop_work *w)
{
	if (w)
		claim(w, true);
}
