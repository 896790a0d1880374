/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent loop's worker thread (worker.h): a FIFO of items run one at a time, and an eventfd
 * in the loop's epoll set through which finished items come back for their done functions.
 * The worker thread takes only the worker's lock and blocks every signal (the agent handles
 * them on the loop's thread through its signal pipe).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

struct item {
	worker_fn fn;
	worker_done_fn done;
	void *userdata;
	struct item *next;
};

struct worker {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* an item queued, or stop */
	struct item *queue, *queue_tail;
	struct item *finished, *finished_tail;
	size_t pending; /* submitted, done function not run yet (loop thread only) */
	bool started, stop;
	pthread_t thread;
	int event_fd;
	struct loop_source *source;
};

static void push(struct item **head, struct item **tail, struct item *it)
{
	it->next = NULL;
	if (*tail)
		(*tail)->next = it;
	else
		*head = it;
	*tail = it;
}

static struct item *pop(struct item **head, struct item **tail)
{
	struct item *it = *head;

	if (it) {
		*head = it->next;
		if (!*head)
			*tail = NULL;
	}
	return it;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct item *it;

		while (!w->queue && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		it = pop(&w->queue, &w->queue_tail);
		pthread_mutex_unlock(&w->lock);
		it->fn(it->userdata);
		pthread_mutex_lock(&w->lock);
		push(&w->finished, &w->finished_tail, it);
		/* A full eventfd counter (never with a counter of items) would only delay the wake.
		 */
		if (write(w->event_fd, &one, sizeof(one)) < 0) {
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void on_event_fd(struct loop_source *src, int fd, uint32_t events, void *userdata)
{
	struct worker *w = userdata;
	uint64_t count;
	struct item *list;

	if (read(fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: another wake already drained it; the list below is what counts. */
	}
	pthread_mutex_lock(&w->lock);
	list = w->finished;
	w->finished = w->finished_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct item *it = list;

		list = it->next;
		w->pending--;
		it->done(it->userdata, false);
		free(it);
	}
}

int worker_new(struct loop *loop, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->event_fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	w->source = loop_add_fd(loop, w->event_fd, EPOLLIN, on_event_fd, w);
	if (!w->source) {
		r = -errno;
		close(w->event_fd);
		free(w);
		return r;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	*out = w;
	return 0;
}

static int start_thread(struct worker *w)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -r;
	w->started = true;
	return 0;
}

int worker_submit(struct worker *w, worker_fn fn, worker_done_fn done, void *userdata)
{
	struct item *it = calloc(1, sizeof(*it));
	int r;

	if (!it)
		return -ENOMEM;
	if (!w->started && (r = start_thread(w)) < 0) {
		free(it);
		return r;
	}
	it->fn = fn;
	it->done = done;
	it->userdata = userdata;
	pthread_mutex_lock(&w->lock);
	push(&w->queue, &w->queue_tail, it);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->pending++;
	return 0;
}

size_t worker_pending(const struct worker *w)
{
	return w ? w->pending : 0;
}

static void cancel_all(struct item *list)
{
	while (list) {
		struct item *it = list;

		list = it->next;
		it->done(it->userdata, true);
		free(it);
	}
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	cancel_all(w->finished);
	cancel_all(w->queue);
	loop_source_remove(w->source);
	close(w->event_fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
