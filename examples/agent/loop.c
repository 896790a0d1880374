/* SPDX-License-Identifier: Apache-2.0 */
/*
 * epoll loop with fd and timer sources. A removed source is only unlinked at once and freed after
 * the current batch of epoll events, because a later event of the same batch may still point at
 * it (it is then skipped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define MAX_EVENTS 64

enum source_kind { SOURCE_FD, SOURCE_TIMER };

struct loop_source {
	struct loop *loop;
	enum source_kind kind;
	int fd;
	bool dead, armed;
	loop_fd_fn fd_fn;
	loop_timer_fn timer_fn;
	void *userdata;
	struct loop_source *next; /* all sources, or the dead list */
};

struct loop {
	int epfd;
	bool quit;
	struct loop_source *sources;
	struct loop_source *dead;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double loop_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int loop_new(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int r = -errno;

		free(loop);
		return r;
	}
	*out = loop;
	return 0;
}

static void free_dead(struct loop *loop)
{
	while (loop->dead) {
		struct loop_source *s = loop->dead;

		loop->dead = s->next;
		free(s);
	}
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	while (loop->sources)
		loop_source_remove(loop->sources);
	free_dead(loop);
	close(loop->epfd);
	free(loop);
}

static struct loop_source *add_source(struct loop *loop, enum source_kind kind, int fd,
				      uint32_t events, void *userdata)
{
	struct loop_source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = events, .data.ptr = s};

	if (!s)
		return NULL;
	s->loop = loop;
	s->kind = kind;
	s->fd = fd;
	s->userdata = userdata;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int saved = errno;

		free(s);
		errno = saved;
		return NULL;
	}
	s->next = loop->sources;
	loop->sources = s;
	return s;
}

struct loop_source *loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn fn,
				void *userdata)
{
	struct loop_source *s = add_source(loop, SOURCE_FD, fd, events, userdata);

	if (s)
		s->fd_fn = fn;
	return s;
}

int loop_source_set_events(struct loop_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	if (epoll_ctl(src->loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0)
		return -errno;
	return 0;
}

struct loop_source *loop_add_timer(struct loop *loop, loop_timer_fn fn, void *userdata)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct loop_source *s;

	if (fd < 0)
		return NULL;
	s = add_source(loop, SOURCE_TIMER, fd, EPOLLIN, userdata);
	if (!s) {
		int saved = errno;

		close(fd);
		errno = saved;
		return NULL;
	}
	s->timer_fn = fn;
	return s;
}

int loop_timer_arm(struct loop_source *timer, uint64_t ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	/* it_value 0 would disarm: "now" is the smallest non-zero value. */
	its.it_value.tv_sec = (time_t)(ms / 1000u);
	its.it_value.tv_nsec = (long)(ms % 1000u) * 1000000L;
	if (ms == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(timer->fd, 0, &its, NULL) < 0)
		return -errno;
	timer->armed = true;
	return 0;
}

void loop_timer_disarm(struct loop_source *timer)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	timerfd_settime(timer->fd, 0, &its, NULL);
	timer->armed = false;
}

bool loop_timer_armed(const struct loop_source *timer)
{
	return timer->armed;
}

void loop_source_remove(struct loop_source *src)
{
	struct loop *loop;
	struct loop_source **pp;

	if (!src || src->dead)
		return;
	loop = src->loop;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	if (src->kind == SOURCE_TIMER)
		close(src->fd);
	for (pp = &loop->sources; *pp; pp = &(*pp)->next)
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	src->dead = true;
	src->next = loop->dead;
	loop->dead = src;
}

static void dispatch(struct loop_source *s, uint32_t events)
{
	if (s->kind == SOURCE_TIMER) {
		uint64_t expirations;

		if (read(s->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
			return; /* re-armed or disarmed since it fired */
		s->armed = false;
		s->timer_fn(s, s->userdata);
		return;
	}
	s->fd_fn(s, s->fd, events, s->userdata);
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[MAX_EVENTS];

	loop->quit = false;
	while (!loop->quit) {
		int n = epoll_wait(loop->epfd, events, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->quit; i++) {
			struct loop_source *s = events[i].data.ptr;

			if (!s->dead)
				dispatch(s, events[i].events);
		}
		free_dead(loop);
	}
	return 0;
}

void loop_quit(struct loop *loop)
{
	loop->quit = true;
}
