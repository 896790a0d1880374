/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's one event loop: epoll over file descriptors (the hot-plug monitor, libcurl's sockets,
 * the signal pipe) and timers (timerfd each: libcurl's timeout, the resync, retries). Part 2 and 3
 * add their sources (the device-plugin loop's fd, a gRPC server) with loop_add_fd() and nothing
 * else. Single-threaded: every callback runs on the thread that called loop_run().
 */
#ifndef HOSTDEV_AGENT_LOOP_H
#define HOSTDEV_AGENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_source;

/* @events are EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits as epoll reported them. */
typedef void (*loop_fd_fn)(struct loop_source *src, int fd, uint32_t events, void *userdata);
typedef void (*loop_timer_fn)(struct loop_source *src, void *userdata);

/* Returns 0 or a negative errno. */
int loop_new(struct loop **out);
/* Frees the loop and every source still registered (their fds are not closed, timerfds are). */
void loop_free(struct loop *loop);

/* Watch @fd (owned by the caller) for @events. Returns the source or NULL (errno set). */
struct loop_source *loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn fn,
				void *userdata);
/* Change the events of an fd source. Returns 0 or a negative errno. */
int loop_source_set_events(struct loop_source *src, uint32_t events);

/* A disarmed timer. Returns the source or NULL (errno set). */
struct loop_source *loop_add_timer(struct loop *loop, loop_timer_fn fn, void *userdata);
/* Fire once after @ms milliseconds (0: on the next iteration); replaces an earlier arming. */
int loop_timer_arm(struct loop_source *timer, uint64_t ms);
void loop_timer_disarm(struct loop_source *timer);
bool loop_timer_armed(const struct loop_source *timer);

/* Stop watching and free the source (safe inside any callback, its own included). NULL-safe. */
void loop_source_remove(struct loop_source *src);

/* Dispatch until loop_quit(). Returns 0, or a negative errno if epoll_wait failed. */
int loop_run(struct loop *loop);
/* Make loop_run() return after the current callback. */
void loop_quit(struct loop *loop);

/* CLOCK_MONOTONIC in milliseconds / seconds (double). */
uint64_t loop_now_ms(void);
double loop_now_s(void);

#endif
