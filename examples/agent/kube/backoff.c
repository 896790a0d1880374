/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exponential backoff with jitter: delays double up to a cap and each is drawn from [d/2, d], so
 * that many agents restarted together (a DaemonSet rollout, an API server restart) do not come
 * back in lockstep.
 */
#include <time.h>
#include <unistd.h>

#include "kube.h"

/* xorshift64*: jitter needs no cryptographic quality, only a different sequence per process. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void kube_backoff_init(struct kube_backoff *b, unsigned int base_ms, unsigned int max_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	b->base_ms = base_ms ? base_ms : 1;
	b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
	b->attempt = 0;
	b->seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
	if (b->seed == 0)
		b->seed = 0x9E3779B97F4A7C15ULL;
}

unsigned int kube_backoff_next(struct kube_backoff *b)
{
	uint64_t d = b->base_ms;
	unsigned int half;

	for (unsigned int i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	half = (unsigned int)(d / 2);
	return half + (unsigned int)(next_random(&b->seed) % (d - half + 1));
}

void kube_backoff_reset(struct kube_backoff *b)
{
	b->attempt = 0;
}
