/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/wake_floor.c: what one wake costs a program that does nothing else, on this machine. An
 * idle hostdev-agent is woken about 7-10 times a minute (kube-apiserver's bookmarks, once a minute
 * per watch, and the watches' re-opens; docs/performance.md, "At idle"); this is the CPU any
 * program pays for that many wakes, the floor under the agent's idle figure. It sleeps in
 * epoll_wait(2) on a timerfd that fires every PERIOD seconds, for WINDOW seconds, and prints its
 * own CPU time (/proc/self/schedstat, in nanoseconds) per wake and per minute.
 *
 *   cc -O2 -o wake_floor bench/wake_floor.c && ./wake_floor [PERIOD_S [WINDOW_S]]
 *
 * PERIOD_S defaults to 6 (10 wakes a minute), WINDOW_S to 180. Measure on a quiet machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

static unsigned long long cpu_ns(void)
{
	unsigned long long ns = 0;
	FILE *f = fopen("/proc/self/schedstat", "r");

	if (!f || fscanf(f, "%llu", &ns) != 1) {
		perror("wake_floor: /proc/self/schedstat");
		exit(1);
	}
	fclose(f);
	return ns;
}

int main(int argc, char **argv)
{
	double period = argc > 1 ? atof(argv[1]) : 6.0;
	double window = argc > 2 ? atof(argv[2]) : 180.0;
	long long wakes = (long long)(window / period);
	struct itimerspec every = {0};
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned long long start;
	int tfd, ep;

	if (period <= 0 || wakes < 1) {
		fprintf(stderr,
			"usage: wake_floor [PERIOD_S [WINDOW_S]] (WINDOW_S >= PERIOD_S > 0)\n");
		return 2;
	}
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
		perror("wake_floor: timerfd/epoll");
		return 1;
	}
	every.it_interval.tv_sec = (time_t)period;
	every.it_interval.tv_nsec = (long)((period - (double)(time_t)period) * 1e9);
	every.it_value = every.it_interval;
	if (timerfd_settime(tfd, 0, &every, NULL) < 0) {
		perror("wake_floor: timerfd_settime");
		return 1;
	}
	start = cpu_ns();
	for (long long i = 0; i < wakes;) {
		uint64_t expirations;

		if (epoll_wait(ep, &ev, 1, -1) == 1 &&
		    read(tfd, &expirations, sizeof(expirations)) == sizeof(expirations))
			i += (long long)expirations;
	}
	{
		double ns = (double)(cpu_ns() - start);

		printf("wake_floor: %lld wakes every %.2f s: %.1f us of CPU per wake, %.3f ms per "
		       "minute\n",
		       wakes, period, ns / 1e3 / (double)wakes, ns / 1e6 / (window / 60.0));
	}
	return 0;
}
